package adminui

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"switchyard/internal/domain"
)

// Panel is a connector's own part of the installation page, keyed by
// connector name in defaultPanels. Its template is
// templates/panels/<connector>.html defining "panel:<connector>"; it gets a
// PanelView. A panel's forms post to the installation's action route
// (PanelView.ActionURL) with the hidden fields _method and _path naming one
// of the connector's admin routes (connector.AdminRouteProvider, relative
// to the installation); the other fields are sent as its JSON body (string
// values). So a panel needs no Go handler of its own.
type Panel struct {
	// Load reads what the template shows, typically through the
	// connector's GET admin routes (call). nil: the template gets only the
	// installation.
	Load func(ctx context.Context, call PanelCall, in *domain.Installation) (any, error)
	// Timeline, when set, adds a section to a customer's timeline (e.g. the
	// agents' actions on that customer, from an audit admin route): it
	// reads what template "timeline:<connector>" shows for one
	// installation and email.
	Timeline func(ctx context.Context, call PanelCall, in *domain.Installation, email string) (any, error)
	// Badge, when set, is a short status shown next to the installation in
	// its merchant's list (from the installation alone: no call), e.g. a
	// link request waiting for the operator. operator marks one that waits
	// for the operator: it is also counted in the merchants list.
	Badge func(in *domain.Installation) (text string, operator bool)
	// Forms, when set, handle the panel's forms that need more than one
	// admin call (e.g. a settings form saved across connections and the
	// installation): a form posting _form=<key> to the action route runs
	// Forms[key] instead of the single-route action.
	Forms map[string]PanelForm
}

// PanelForm handles one posted panel form with the session's token (api)
// and returns the notice to show; an error is shown as the API wrote it.
type PanelForm func(ctx context.Context, api PanelAPI, in *domain.Installation, form url.Values) (string, error)

// PanelAPI is what a PanelForm may call, always with the session's token:
// the installation's connector admin routes (Route) and the merchant's
// admin API (Merchant: path segments under /api/v1/merchants/{merchant}/,
// each escaped, so a form value cannot leave the merchant).
type PanelAPI struct {
	Route    PanelCall
	Merchant func(method string, body, out any, segments ...string) error
}

// PanelCall calls the admin API with the session's token: method, a path
// relative to the installation (e.g. "link-requests" or "audit?email=…"),
// a JSON body or nil, and where to decode the answer.
type PanelCall func(method, path string, body, out any) error

// PanelView is what a panel template gets.
type PanelView struct {
	Installation *domain.Installation
	Data         any
	Error        string
	CSRF         string
	// ActionURL is where the panel's forms post.
	ActionURL string
	// Back is the installation page (the action returns there).
	Back string
	// Operator reports an operator session (operator-only routes' forms
	// are shown to it only; the API refuses them to merchants anyway).
	Operator bool
	// Result is the JSON answer of this session's last single-route
	// action on the installation, shown once (e.g. links to open).
	Result map[string]any
}

// defaultPanels are the connector panels. A connector that needs one adds
// a line here and a template in templates/panels/.
func defaultPanels() map[string]Panel {
	return map[string]Panel{
		"konnektive-gorgias": konnektivePanel(),
		"yotpo-gorgias":      yotpoPanel(),
		"together-gorgias":   togetherPanel(),
	}
}

// panel renders the installation's connector panel, if it has one.
func (u *UI) panel(r *http.Request, s *session, merchant string, in *domain.Installation) template.HTML {
	p, ok := u.panels[in.Connector]
	if !ok {
		return ""
	}
	base := "/ui/m/" + pathEscape(merchant) + "/installations/" + pathEscape(in.ID)
	v := PanelView{Installation: in, CSRF: s.csrf, ActionURL: base + "/action", Back: base, Operator: s.operator, Result: u.takeResult(s, in.ID)}
	if p.Load != nil {
		data, err := p.Load(r.Context(), u.panelCall(r, s, merchant, in), in)
		if err != nil {
			v.Error = u.readableFor(s, err)
		}
		v.Data = data
	}
	return u.renderPanel("installation", "panel:"+in.Connector, v)
}

// timelinePanels renders the connector sections of a customer's timeline,
// one per installation whose connector has one.
func (u *UI) timelinePanels(r *http.Request, s *session, merchant, email string, ins []domain.Installation) []template.HTML {
	var out []template.HTML
	for i := range ins {
		in := &ins[i]
		p, ok := u.panels[in.Connector]
		if !ok || p.Timeline == nil || in.State == domain.InstallationUninstalled {
			continue
		}
		base := "/ui/m/" + pathEscape(merchant) + "/installations/" + pathEscape(in.ID)
		v := PanelView{Installation: in, CSRF: s.csrf, ActionURL: base + "/action", Operator: s.operator, Back: "/ui/m/" + pathEscape(merchant) + "/timeline?email=" + url.QueryEscape(email)}
		data, err := p.Timeline(r.Context(), u.panelCall(r, s, merchant, in), in, email)
		if err != nil {
			v.Error = u.readableFor(s, err)
		}
		v.Data = data
		out = append(out, u.renderPanel("timeline", "timeline:"+in.Connector, v))
	}
	return out
}

// panelCall calls the installation's connector admin routes with the
// session's token.
func (u *UI) panelCall(r *http.Request, s *session, merchant string, in *domain.Installation) PanelCall {
	return func(method, path string, body, out any) error {
		p, query, _ := strings.Cut(path, "?")
		if !adminRoutePath.MatchString(p) {
			return domain.Errorf(domain.EINVALID, "bad admin route path %q", path)
		}
		q, err := url.ParseQuery(query)
		if err != nil {
			return domain.Errorf(domain.EINVALID, "bad admin route query %q", query)
		}
		return u.call(r.Context(), s.token, method, apiPath(merchant, "installations", pathEscape(in.ID), p), q, body, out)
	}
}

func (u *UI) renderPanel(page, name string, v PanelView) template.HTML {
	t := u.pages[page].Lookup(name)
	if t == nil {
		return template.HTML(fmt.Sprintf(`<p class="error">No template %s.</p>`, template.HTMLEscapeString(name))) //nolint:gosec // escaped
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		u.cfg.Logger.Error("admin ui: a connector panel could not be rendered", "template", name, "error", err.Error())
		return template.HTML(`<p class="error">The connector panel could not be rendered.</p>`)
	}
	return template.HTML(buf.String()) //nolint:gosec // output of an html/template
}

// adminRoutePath is the form of a connector admin route's path (as
// connector.Set checks it): lower-case segments of letters, digits, dashes.
var adminRoutePath = regexp.MustCompile(`^[a-z0-9-]+(/[a-z0-9-]+)*$`)

var actionMethods = map[string]bool{http.MethodPost: true, http.MethodPut: true, http.MethodPatch: true, http.MethodDelete: true}

// connectorAction posts a panel form to one of the connector's admin
// routes of this installation.
func (u *UI) connectorAction(w http.ResponseWriter, r *http.Request, s *session, merchant string) {
	inst := r.PathValue("installation")
	if key := r.PostFormValue("_form"); key != "" {
		u.panelForm(w, r, s, merchant, key)
		return
	}
	method, path := strings.ToUpper(r.PostFormValue("_method")), r.PostFormValue("_path")
	if method == "" {
		method = http.MethodPost
	}
	if !actionMethods[method] || !adminRoutePath.MatchString(path) {
		u.fail(w, r, s, http.StatusBadRequest, "This action is not one of the connector's admin routes.")
		return
	}
	body := map[string]string{}
	for k, vs := range r.PostForm {
		if k == "csrf" || k == "back" || strings.HasPrefix(k, "_") || len(vs) == 0 {
			continue
		}
		body[k] = vs[0]
	}
	var out map[string]any
	err := u.call(r.Context(), s.token, method, apiPath(merchant, "installations", pathEscape(inst), path), nil, body, &out)
	if err != nil {
		u.flashErr(w, r, s, err)
	} else {
		u.setFlash(s, "Done: "+r.PostFormValue("_label")+" ("+method+" "+path+").")
		u.setResult(s, inst, out)
	}
	back(w, r, "/ui/m/"+pathEscape(merchant)+"/installations/"+pathEscape(inst))
}

// panelForm runs one of a panel's Forms: the installation is read through
// the API first (so the session may see it), then its connector's form.
func (u *UI) panelForm(w http.ResponseWriter, r *http.Request, s *session, merchant, key string) {
	inst := r.PathValue("installation")
	var in domain.Installation
	if err := u.call(r.Context(), s.token, http.MethodGet, apiPath(merchant, "installations", pathEscape(inst)), nil, nil, &in); err != nil {
		u.failErr(w, r, s, err)
		return
	}
	form, ok := u.panels[in.Connector].Forms[key]
	if !ok {
		u.fail(w, r, s, http.StatusBadRequest, "This form is not one of the connector panel's.")
		return
	}
	api := PanelAPI{Route: u.panelCall(r, s, merchant, &in), Merchant: func(method string, body, out any, segments ...string) error {
		parts := make([]string, len(segments))
		for i, p := range segments {
			if p == "" || p == "." || p == ".." {
				return domain.Errorf(domain.EINVALID, "bad admin API path segment %q", p)
			}
			parts[i] = pathEscape(p)
		}
		return u.call(r.Context(), s.token, method, apiPath(merchant, parts...), nil, body, out)
	}}
	msg, err := form(r.Context(), api, &in, r.PostForm)
	if err != nil {
		u.flashErr(w, r, s, err)
	} else {
		u.setFlash(s, msg)
	}
	back(w, r, "/ui/m/"+pathEscape(merchant)+"/installations/"+pathEscape(inst))
}
