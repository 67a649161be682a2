// Package adminui is switchyard's admin web UI under /ui/: server-rendered
// html/template pages (embedded with the static assets), a session cookie
// after a token login, a CSRF token on every form, and small vanilla JS
// where it helps (the backfill bar, the dead letters' replay outcome).
//
// The UI reads and changes everything through the admin JSON API, called in
// process with the session's bearer token (UI.call), so tenancy,
// authorization and validation are the API's own: a merchant token sees
// only its merchant. The store is used directly only for what the API has
// no route for: per-minute activity, a token's merchant at login, and the
// outcome of a replayed dead letter; each such read takes the merchant the
// session was authorized for.
package adminui

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"switchyard/internal/connector"
	"switchyard/internal/domain"
	"switchyard/internal/outbound"
)

//go:embed templates static
var assets embed.FS

// Config holds the UI's dependencies.
type Config struct {
	// API is the hub's HTTP handler (server.Server): the UI's calls to
	// /api/v1 are served by it in process.
	API http.Handler
	// Store answers what the API has no route for (see the package doc).
	Store domain.Store
	// Connectors tells which capabilities an installation's connector has.
	Connectors *connector.Set
	// Clients reads the current widget data of a customer from Gorgias
	// (nil: the timeline shows no widget data).
	Clients *connector.Clients
	// SessionTTL is how long an idle session lasts (default 12 h).
	SessionTTL time.Duration
	Now        func() time.Time
	Logger     *slog.Logger
}

// UI serves /ui/.
type UI struct {
	cfg    Config
	mux    *http.ServeMux
	pages  map[string]*template.Template
	sess   sessions
	act    activityCache
	panels map[string]Panel
}

// New builds the UI.
func New(cfg Config) (*UI, error) {
	if cfg.API == nil || cfg.Store == nil || cfg.Connectors == nil {
		return nil, errors.New("adminui: API, Store and Connectors are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	u := &UI{cfg: cfg, mux: http.NewServeMux(), sess: sessions{byID: map[string]*session{}, links: map[string]loginLink{}}, panels: defaultPanels()}
	if err := u.parseTemplates(); err != nil {
		return nil, err
	}
	static, err := fs.Sub(assets, "static")
	if err != nil {
		return nil, fmt.Errorf("adminui: %w", err)
	}
	m := u.mux
	m.Handle("GET /ui/static/", http.StripPrefix("/ui/static/", http.FileServerFS(static)))
	m.HandleFunc("GET /ui/login", u.loginPage)
	m.HandleFunc("POST /ui/login", u.login)
	m.HandleFunc("GET /ui/login/link", u.loginByLink)
	m.Handle("POST /ui/logout", u.form(u.logout))
	m.Handle("GET /ui/{$}", u.page(u.overview))
	m.Handle("GET /ui/merchants", u.page(u.merchants))
	m.Handle("GET /ui/m/{merchant}", u.scoped(u.merchantPage))
	m.Handle("GET /ui/m/{merchant}/installations/{installation}", u.scoped(u.installationPage))
	m.Handle("POST /ui/m/{merchant}/installations/{installation}/settings", u.scopedForm(u.saveSettings))
	m.Handle("POST /ui/m/{merchant}/installations/{installation}/install", u.scopedForm(u.repair))
	m.Handle("POST /ui/m/{merchant}/installations/{installation}/uninstall", u.scopedForm(u.uninstall))
	m.Handle("POST /ui/m/{merchant}/installations/{installation}/action", u.scopedForm(u.connectorAction))
	m.Handle("GET /ui/m/{merchant}/installations/{installation}/backfill", u.scoped(u.backfillPage))
	m.Handle("GET /ui/m/{merchant}/installations/{installation}/backfill.json", u.scoped(u.backfillJSON))
	m.Handle("POST /ui/m/{merchant}/installations/{installation}/backfill", u.scopedForm(u.startBackfill))
	m.Handle("GET /ui/m/{merchant}/timeline", u.scoped(u.timeline))
	m.Handle("GET /ui/m/{merchant}/events", u.scoped(u.events))
	m.Handle("POST /ui/m/{merchant}/events/{event}/replay", u.scopedForm(u.replayEvent))
	m.Handle("GET /ui/m/{merchant}/deliveries", u.scoped(u.deliveries))
	m.Handle("GET /ui/m/{merchant}/dead-letters", u.scoped(u.deadLetters))
	m.Handle("POST /ui/m/{merchant}/dead-letters/replay", u.scopedForm(u.replayDeadLetters))
	m.HandleFunc("/ui/", func(w http.ResponseWriter, r *http.Request) {
		u.fail(w, r, u.session(r), http.StatusNotFound, "There is no such page.")
	})
	return u, nil
}

// ServeHTTP implements http.Handler.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	if !strings.HasPrefix(r.URL.Path, "/ui/static/") {
		h.Set("Cache-Control", "no-store")
	}
	u.mux.ServeHTTP(w, r)
}

type pageFunc func(w http.ResponseWriter, r *http.Request, s *session)
type scopedFunc func(w http.ResponseWriter, r *http.Request, s *session, merchant string)

// page requires a session; without one it sends the browser to the login
// page (and back here after).
func (u *UI) page(h pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := u.session(r)
		if s == nil {
			http.Redirect(w, r, "/ui/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		h(w, r, s)
	})
}

// form requires a session and the session's CSRF token in the posted form;
// a form without it is refused with 403 and changes nothing.
func (u *UI) form(h pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := u.session(r)
		if s == nil {
			u.fail(w, r, nil, http.StatusForbidden, "Your session has ended. Log in again, then repeat the action.")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		if err := r.ParseForm(); err != nil {
			u.fail(w, r, s, http.StatusBadRequest, "The form could not be read.")
			return
		}
		if !equal(s.csrf, r.PostFormValue("csrf")) {
			u.fail(w, r, s, http.StatusForbidden, "This form was refused: its CSRF token is missing or wrong. Reload the page and try again.")
			return
		}
		h(w, r, s)
	})
}

// scope checks that the session may see the path's merchant (a merchant
// session only its own; any other answers 404, as the API does).
func (u *UI) scope(w http.ResponseWriter, r *http.Request, s *session) (string, bool) {
	m := r.PathValue("merchant")
	if !s.operator && m != s.merchant {
		u.fail(w, r, s, http.StatusNotFound, "There is no such merchant.")
		return "", false
	}
	return m, true
}

func (u *UI) scoped(h scopedFunc) http.Handler {
	return u.page(func(w http.ResponseWriter, r *http.Request, s *session) {
		if m, ok := u.scope(w, r, s); ok {
			h(w, r, s, m)
		}
	})
}

func (u *UI) scopedForm(h scopedFunc) http.Handler {
	return u.form(func(w http.ResponseWriter, r *http.Request, s *session) {
		if m, ok := u.scope(w, r, s); ok {
			h(w, r, s, m)
		}
	})
}

// view is what every page template gets.
type view struct {
	Title    string
	Session  *session
	Merchant string // the merchant the page is about ("" for overview pages)
	Nav      string
	Flash    string
	FlashErr bool
	Error    string
	Data     any
}

// CSRF is the session's form token (templates put it in every form).
func (v *view) CSRF() string {
	if v.Session == nil {
		return ""
	}
	return v.Session.csrf
}

// Me is the merchant of a merchant session ("" for the operator).
func (v *view) Me() string {
	if v.Session == nil {
		return ""
	}
	return v.Session.merchant
}

// Operator reports whether the session is the operator's.
func (v *view) Operator() bool { return v.Session != nil && v.Session.operator }

func (u *UI) parseTemplates() error {
	base, err := template.New("").Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/panels/*.html")
	if err != nil {
		return fmt.Errorf("adminui: parsing templates: %w", err)
	}
	files, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		return fmt.Errorf("adminui: %w", err)
	}
	u.pages = map[string]*template.Template{}
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(f, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := base.Clone()
		if err != nil {
			return fmt.Errorf("adminui: %w", err)
		}
		if _, err := t.ParseFS(assets, f); err != nil {
			return fmt.Errorf("adminui: parsing %s: %w", f, err)
		}
		u.pages[name] = t
	}
	return nil
}

// render writes page with the layout. data is the page's own.
func (u *UI) render(w http.ResponseWriter, r *http.Request, s *session, status int, page string, data any) {
	u.renderView(w, r, status, page, &view{Session: s, Merchant: r.PathValue("merchant"), Data: data})
}

func (u *UI) renderView(w http.ResponseWriter, r *http.Request, status int, page string, v *view) {
	t, ok := u.pages[page]
	if !ok {
		http.Error(w, "no such page template", http.StatusInternalServerError)
		return
	}
	if v.Session != nil && v.Flash == "" {
		v.Flash, v.FlashErr = u.takeFlash(v.Session)
	}
	if v.Nav == "" {
		v.Nav = page
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		u.cfg.Logger.ErrorContext(r.Context(), "admin ui: rendering failed", slog.String("page", page), slog.String("error", err.Error()))
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// fail renders a readable error page.
func (u *UI) fail(w http.ResponseWriter, r *http.Request, s *session, status int, msg string) {
	u.renderView(w, r, status, "error", &view{Session: s, Merchant: r.PathValue("merchant"), Error: msg, Data: status})
}

// failErr renders an API or store error: the API's own message (already
// cut for a merchant token), the status it mapped to; a revoked token ends
// the session.
func (u *UI) failErr(w http.ResponseWriter, r *http.Request, s *session, err error) {
	var ae *apiError
	if errors.As(err, &ae) {
		if ae.Status == http.StatusUnauthorized && s != nil {
			u.endSession(s)
			http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
			return
		}
		u.fail(w, r, s, ae.Status, ae.Message)
		return
	}
	u.fail(w, r, s, domain.HTTPStatus(err), u.readableFor(s, err))
}

// readable is an error as a person can read it: the domain message, never
// an internal cause.
func (u *UI) readable(err error) string {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Message
	}
	if domain.ErrorCode(err) == domain.EINTERNAL {
		u.cfg.Logger.Error("admin ui: request failed", slog.String("error", err.Error()))
		return "an internal error occurred (see the server log)"
	}
	return domain.ErrorMessage(err)
}

// readableFor is readable, cut for a merchant session the way the API cuts
// vendor errors (never a remote body or transport error).
func (u *UI) readableFor(s *session, err error) string {
	if s == nil || !s.operator {
		if pub, ok := outbound.PublicMessage(err); ok {
			return pub
		}
	}
	return u.readable(err)
}

// back redirects to the page a form came from (kept inside the UI).
func back(w http.ResponseWriter, r *http.Request, fallback string) {
	if b := safeNext(r.PostFormValue("back")); b != "" {
		fallback = b
	}
	http.Redirect(w, r, fallback, http.StatusSeeOther)
}

// apiPath builds /api/v1/merchants/{m}/… with escaped segments.
func apiPath(merchant string, parts ...string) string {
	var b strings.Builder
	b.WriteString("/api/v1/merchants/")
	b.WriteString(pathEscape(merchant))
	for _, p := range parts {
		b.WriteByte('/')
		b.WriteString(p)
	}
	return b.String()
}
