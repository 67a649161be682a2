package adminui

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"switchyard/internal/domain"
)

const (
	sessionCookie = "sy_session"
	loginCookie   = "sy_login"
	// DefaultSessionTTL is how long a session lasts without use.
	DefaultSessionTTL = 12 * time.Hour
	// loginLinkTTL bounds a one-time login link.
	loginLinkTTL = 10 * time.Minute
)

// session is one logged-in browser. The bearer token stays on the server;
// the browser holds only the random session id.
type session struct {
	id       string
	token    string
	operator bool
	merchant string // the token's merchant ("" for the operator)
	csrf     string
	expires  time.Time
	flash    string
	flashErr bool
	// results are the answers of connector panel actions by installation,
	// shown once on its next page.
	results map[string]map[string]any
}

// sessions is the in-memory session table (a restart logs everyone out).
type sessions struct {
	mu    sync.Mutex
	byID  map[string]*session
	links map[string]loginLink
}

type loginLink struct {
	token   string
	expires time.Time
}

func randomID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (u *UI) newSession(token string, operator bool, merchant string) *session {
	s := &session{id: randomID(), token: token, operator: operator, merchant: merchant, csrf: randomID(), expires: u.cfg.Now().Add(u.cfg.SessionTTL)}
	u.sess.mu.Lock()
	defer u.sess.mu.Unlock()
	now := u.cfg.Now()
	for id, old := range u.sess.byID {
		if now.After(old.expires) {
			delete(u.sess.byID, id)
		}
	}
	u.sess.byID[s.id] = s
	return s
}

// session returns the request's live session (nil when none), sliding its
// expiry.
func (u *UI) session(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	u.sess.mu.Lock()
	defer u.sess.mu.Unlock()
	s, ok := u.sess.byID[c.Value]
	if !ok {
		return nil
	}
	now := u.cfg.Now()
	if now.After(s.expires) {
		delete(u.sess.byID, s.id)
		return nil
	}
	s.expires = now.Add(u.cfg.SessionTTL)
	return s
}

func (u *UI) endSession(s *session) {
	u.sess.mu.Lock()
	defer u.sess.mu.Unlock()
	delete(u.sess.byID, s.id)
}

// takeFlash returns and clears the session's one-time notice.
func (u *UI) takeFlash(s *session) (string, bool) {
	u.sess.mu.Lock()
	defer u.sess.mu.Unlock()
	f, e := s.flash, s.flashErr
	s.flash, s.flashErr = "", false
	return f, e
}

// setResult keeps a panel action's answer for the installation's next page.
func (u *UI) setResult(s *session, installation string, out map[string]any) {
	u.sess.mu.Lock()
	defer u.sess.mu.Unlock()
	if s.results == nil {
		s.results = map[string]map[string]any{}
	}
	s.results[installation] = out
}

// takeResult returns and forgets the installation's last action answer.
func (u *UI) takeResult(s *session, installation string) map[string]any {
	u.sess.mu.Lock()
	defer u.sess.mu.Unlock()
	out := s.results[installation]
	delete(s.results, installation)
	return out
}

// setFlash leaves a notice for the next page the session sees.
func (u *UI) setFlash(s *session, msg string) {
	u.sess.mu.Lock()
	defer u.sess.mu.Unlock()
	s.flash, s.flashErr = msg, false
}

// flashErr leaves an error for the next page (a revoked token ends the
// session instead).
func (u *UI) flashErr(w http.ResponseWriter, r *http.Request, s *session, err error) {
	if isStatus(err, http.StatusUnauthorized) {
		u.endSession(s)
		return
	}
	u.sess.mu.Lock()
	defer u.sess.mu.Unlock()
	s.flash, s.flashErr = u.readableFor(s, err), true
}

func (u *UI) setCookie(w http.ResponseWriter, r *http.Request, name, value, path string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: path, MaxAge: maxAge, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
}

// identify tells who a token is: the operator (it may list merchants), a
// merchant token (its merchant), or nobody.
func (u *UI) identify(ctx context.Context, token string) (operator bool, merchant string, err error) {
	err = u.call(ctx, token, http.MethodGet, "/api/v1/merchants", nil, nil, nil)
	if err == nil {
		return true, "", nil
	}
	var ae *apiError
	if !errors.As(err, &ae) || ae.Status != http.StatusForbidden {
		return false, "", err
	}
	// A valid merchant token (operator-only route refused with 403).
	tok, err := u.cfg.Store.LookupAPIToken(ctx, token)
	if err != nil {
		return false, "", err
	}
	return false, tok.MerchantID, nil
}

func (u *UI) loginPage(w http.ResponseWriter, r *http.Request) {
	if s := u.session(r); s != nil {
		http.Redirect(w, r, u.home(s), http.StatusSeeOther)
		return
	}
	u.renderLogin(w, r, http.StatusOK, "")
}

func (u *UI) renderLogin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	csrf := randomID()
	u.setCookie(w, r, loginCookie, csrf, "/ui/login", 600)
	u.render(w, r, nil, status, "login", map[string]any{"Error": msg, "CSRF": csrf, "Next": safeNext(r.FormValue("next"))})
}

// login checks the token and starts a session. The form carries a token
// that must match the login cookie (login CSRF).
func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		u.renderLogin(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	c, err := r.Cookie(loginCookie)
	if err != nil || !equal(c.Value, r.PostFormValue("csrf")) {
		u.renderLogin(w, r, http.StatusForbidden, "This login form expired or did not come from this page. Try again.")
		return
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	if token == "" {
		u.renderLogin(w, r, http.StatusBadRequest, "Enter the operator's admin token or a merchant token (sy_…).")
		return
	}
	operator, merchant, err := u.identify(r.Context(), token)
	if err != nil {
		if domain.IsNotFound(err) || isStatus(err, http.StatusUnauthorized) {
			u.renderLogin(w, r, http.StatusUnauthorized, "That token is not valid.")
			return
		}
		u.renderLogin(w, r, http.StatusServiceUnavailable, "Login failed: "+u.readable(err))
		return
	}
	s := u.newSession(token, operator, merchant)
	u.setCookie(w, r, loginCookie, "", "/ui/login", -1)
	u.setCookie(w, r, sessionCookie, s.id, "/ui/", 0) // a browser-session cookie; the server expires it after SessionTTL unused
	next := safeNext(r.PostFormValue("next"))
	if next == "" {
		next = u.home(s)
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// LoginLink returns a one-time path (under /ui/login/link) that logs a
// browser in with token, valid for 10 minutes (switchyard demo prints one).
func (u *UI) LoginLink(token string) string {
	code := randomID()
	u.sess.mu.Lock()
	defer u.sess.mu.Unlock()
	u.sess.links[code] = loginLink{token: token, expires: u.cfg.Now().Add(loginLinkTTL)}
	return "/ui/login/link?code=" + code
}

func (u *UI) loginByLink(w http.ResponseWriter, r *http.Request) {
	code := r.URL.Query().Get("code")
	u.sess.mu.Lock()
	l, ok := u.sess.links[code]
	delete(u.sess.links, code)
	u.sess.mu.Unlock()
	if !ok || u.cfg.Now().After(l.expires) {
		u.renderLogin(w, r, http.StatusUnauthorized, "That login link was used already or has expired. Log in with a token.")
		return
	}
	operator, merchant, err := u.identify(r.Context(), l.token)
	if err != nil {
		u.renderLogin(w, r, http.StatusUnauthorized, "That login link no longer works. Log in with a token.")
		return
	}
	s := u.newSession(l.token, operator, merchant)
	u.setCookie(w, r, sessionCookie, s.id, "/ui/", 0)
	http.Redirect(w, r, u.home(s), http.StatusSeeOther)
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request, s *session) {
	u.endSession(s)
	u.setCookie(w, r, sessionCookie, "", "/ui/", -1)
	http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
}

// home is where a session lands after login.
func (u *UI) home(s *session) string {
	return "/ui/"
}

// safeNext keeps a post-login redirect inside the UI.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/ui/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return ""
	}
	return next
}

func equal(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func isStatus(err error, status int) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.Status == status
}
