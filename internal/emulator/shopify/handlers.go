package shopify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator"

	"switchyard/internal/emulator/emukit"
)

func (e *Emulator) routes() {
	m := e.mux
	m.HandleFunc("GET /admin/oauth/authorize", e.authorize)
	m.HandleFunc("POST /admin/oauth/authorize", e.authorizeSubmit)
	m.HandleFunc("POST /admin/oauth/access_token", e.accessToken)
	m.HandleFunc("POST /admin/api/{version}/graphql.json", e.graphql)
	m.HandleFunc("DELETE /admin/api_permissions/current.json", e.revokePermissions)
	m.HandleFunc("DELETE /admin/api/{version}/api_permissions/current.json", e.revokePermissions)
	m.HandleFunc("POST /_emulator/uninstall", e.ctlUninstall)
	e.kit.Control(m, e.state, e.reset)
	m.HandleFunc("POST /_emulator/accounts", e.ctlAccounts)
	m.HandleFunc("POST /_emulator/seed", e.ctlSeed)
	m.HandleFunc("POST /_emulator/orders", e.ctlCreateOrder)
	m.HandleFunc("POST /_emulator/orders/{id}/final-sale", e.ctlFinalSale)
	m.HandleFunc("POST /_emulator/tokens", e.ctlToken)
	m.HandleFunc("POST /_emulator/webhooks", e.ctlWebhook)
	m.HandleFunc("GET /_emulator/install", e.ctlInstall)
}

// writeRESTErr is Shopify's {"errors": "..."} envelope.
func writeRESTErr(w http.ResponseWriter, status int, msg string) {
	emukit.WriteJSON(w, status, map[string]any{"errors": msg})
}

func ctlErr(w http.ResponseWriter, status int, msg string) {
	emukit.WriteJSON(w, status, map[string]string{"error": msg})
}

// ---- OAuth ----

var consentPage = template.Must(template.New("consent").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Install {{.ClientID}}</title>
<style>body{font-family:system-ui,sans-serif;background:#f1f2f4;margin:0}main{max-width:460px;margin:60px auto;background:#fff;border-radius:12px;padding:28px;box-shadow:0 1px 4px #0002}
li{margin:4px 0}button{background:#008060;color:#fff;border:0;border-radius:8px;padding:10px 18px;font-size:15px;cursor:pointer}.cancel{background:#e3e3e3;color:#333;margin-left:8px}</style></head>
<body><main><h1>Install {{.ClientID}}</h1><p>on <strong>{{.Shop}}</strong></p>
<p>This app will be able to:</p><ul>{{range .Scopes}}<li>{{.}}</li>{{end}}</ul>
<form method="post" action="/admin/oauth/authorize">
{{range $k, $v := .Hidden}}<input type="hidden" name="{{$k}}" value="{{$v}}">{{end}}
<button type="submit" name="action" value="install">Install app</button>
<button class="cancel" type="submit" name="action" value="cancel">Cancel</button>
</form></main></body></html>`))

var scopeRE = regexp.MustCompile(`^(unauthenticated_)?(read|write)_[a-z_]+$`)

func (e *Emulator) shopFromRequest(r *http.Request, v url.Values) string {
	if s := v.Get("shop"); s != "" {
		return s
	}
	host, _, _ := strings.Cut(r.Host, ":")
	if strings.HasSuffix(host, ".myshopify.com") {
		return host
	}
	return e.cfg.Shop
}

func oauthErr(w http.ResponseWriter, msg string) {
	http.Error(w, "Oauth error invalid_request: "+msg, http.StatusBadRequest)
}

// checkAuthorize validates an authorize request; it returns the shop.
func (e *Emulator) checkAuthorize(w http.ResponseWriter, r *http.Request, v url.Values) (*shopState, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.shop(e.shopFromRequest(r, v))
	if s == nil {
		http.Error(w, "There is no store at this address.", http.StatusNotFound)
		return nil, false
	}
	a := e.app(v.Get("client_id"))
	if a == nil {
		oauthErr(w, "The client_id is invalid")
		return nil, false
	}
	ru, err := url.Parse(v.Get("redirect_uri"))
	if err != nil || (ru.Scheme != "http" && ru.Scheme != "https") || ru.Host == "" {
		oauthErr(w, "The redirect_uri is missing or not an absolute URL")
		return nil, false
	}
	if len(a.Redirects) > 0 {
		ok := false
		for _, p := range a.Redirects {
			ok = ok || strings.HasPrefix(v.Get("redirect_uri"), p)
		}
		if !ok {
			oauthErr(w, "The redirect_uri is not whitelisted")
			return nil, false
		}
	}
	for _, sc := range strings.Split(v.Get("scope"), ",") {
		if sc = strings.TrimSpace(sc); sc != "" && !scopeRE.MatchString(sc) {
			oauthErr(w, fmt.Sprintf("The scope %q is invalid", sc))
			return nil, false
		}
	}
	return s, true
}

func (e *Emulator) authorize(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	s, ok := e.checkAuthorize(w, r, v)
	if !ok {
		return
	}
	perUser := false
	for _, g := range append(v["grant_options[]"], v["grant_options"]...) {
		perUser = perUser || g == "per-user"
	}
	if e.cfg.AutoApprove || v.Get("auto_approve") == "1" || v.Get("auto_approve") == "true" {
		e.approve(w, r, s.domain, v.Get("client_id"), v.Get("scope"), v.Get("redirect_uri"), v.Get("state"), perUser)
		return
	}
	hidden := map[string]string{"client_id": v.Get("client_id"), "scope": v.Get("scope"), "redirect_uri": v.Get("redirect_uri"),
		"state": v.Get("state"), "shop": s.domain}
	if perUser {
		hidden["grant_options[]"] = "per-user"
	}
	var scopes []string
	for _, sc := range strings.Split(v.Get("scope"), ",") {
		if sc = strings.TrimSpace(sc); sc != "" {
			scopes = append(scopes, strings.ReplaceAll(sc, "_", " "))
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = consentPage.Execute(w, map[string]any{"ClientID": v.Get("client_id"), "Shop": s.domain, "Scopes": scopes, "Hidden": hidden})
}

func (e *Emulator) authorizeSubmit(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthErr(w, "bad form")
		return
	}
	v := r.PostForm
	s, ok := e.checkAuthorize(w, r, v)
	if !ok {
		return
	}
	if v.Get("action") == "cancel" {
		u, _ := url.Parse(v.Get("redirect_uri"))
		q := u.Query()
		q.Set("error", "access_denied")
		q.Set("state", v.Get("state"))
		u.RawQuery = q.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
		return
	}
	e.approve(w, r, s.domain, v.Get("client_id"), v.Get("scope"), v.Get("redirect_uri"), v.Get("state"), v.Get("grant_options[]") == "per-user")
}

func (e *Emulator) approve(w http.ResponseWriter, r *http.Request, shop, clientID, scope, redirect, state string, perUser bool) {
	e.mu.Lock()
	code := randHex(16)
	e.codes[code] = codeInfo{shop: shop, clientID: clientID, scope: scope, redirect: redirect, perUser: perUser,
		expires: e.cfg.Now().Add(10 * time.Minute)}
	secret := e.app(clientID).Secret
	now := e.cfg.Now()
	e.mu.Unlock()
	u, _ := url.Parse(redirect)
	q := u.Query()
	q.Set("code", code)
	q.Set("host", hostParam(shop))
	q.Set("shop", shop)
	q.Set("state", state)
	q.Set("timestamp", itoa64(now.Unix()))
	q.Set("hmac", SignQuery(secret, q))
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// accessToken is POST /admin/oauth/access_token: the authorization code
// grant (optionally expiring=1 for an expiring offline token with a refresh
// token) and the refresh_token grant.
func (e *Emulator) accessToken(w http.ResponseWriter, r *http.Request) {
	if e.kit.Inject(w, r, writeRESTErr) {
		return
	}
	v := url.Values{}
	body, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<16))
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			oauthJSONErr(w, "invalid_request", "body must be JSON")
			return
		}
		for k, x := range m {
			switch x := x.(type) {
			case string:
				v.Set(k, x)
			case json.Number:
				v.Set(k, x.String())
			case bool:
				v.Set(k, strconv.FormatBool(x))
			}
		}
	} else {
		v, _ = url.ParseQuery(string(body))
	}
	for k, xs := range r.URL.Query() {
		if v.Get(k) == "" {
			v[k] = xs
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.app(v.Get("client_id"))
	if a == nil || !hmacEqual(a.Secret, v.Get("client_secret")) {
		oauthJSONErr(w, "invalid_client", "Client authentication failed")
		return
	}
	switch v.Get("grant_type") {
	case "", "authorization_code":
	case "refresh_token":
		if v.Get("refresh_token") == "" {
			oauthJSONErr(w, "invalid_request", "The refresh_token parameter is required")
			return
		}
		p, scope, ok := e.refreshLocked(a.ClientID, v.Get("refresh_token"))
		if !ok {
			oauthJSONErr(w, "invalid_grant", "The refresh token is invalid, expired or revoked")
			return
		}
		emukit.WriteJSON(w, http.StatusOK, p.json(scope))
		return
	default:
		oauthJSONErr(w, "unsupported_grant_type", "Use authorization_code or refresh_token")
		return
	}
	c, ok := e.codes[v.Get("code")]
	if !ok || c.clientID != a.ClientID || e.cfg.Now().After(c.expires) {
		oauthJSONErr(w, "invalid_request", "The authorization code was not found or was already used")
		return
	}
	delete(e.codes, v.Get("code"))
	switch {
	case c.perUser:
		out := map[string]any{"scope": c.scope}
		out["access_token"] = e.issueLocked(c.shop, c.clientID, c.scope, tokenOnline, e.cfg.Now().Add(24*time.Hour))
		out["expires_in"] = 86400
		out["associated_user_scope"] = c.scope
		out["associated_user"] = map[string]any{"id": 902541635, "first_name": "Demo", "last_name": "Owner",
			"email": "owner@" + c.shop, "account_owner": true, "locale": "en"}
		emukit.WriteJSON(w, http.StatusOK, out)
	case truthy(v.Get("expiring")):
		emukit.WriteJSON(w, http.StatusOK, e.issueExpiringLocked(c.shop, c.clientID, c.scope, "").json(c.scope))
	default:
		emukit.WriteJSON(w, http.StatusOK, map[string]any{"scope": c.scope,
			"access_token": e.issueLocked(c.shop, c.clientID, c.scope, tokenNonExpiring, time.Time{})})
	}
}

// oauthJSONErr is the token endpoint's OAuth error answer (400).
func oauthJSONErr(w http.ResponseWriter, code, desc string) {
	emukit.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": code, "error_description": desc})
}

func truthy(s string) bool { return s == "1" || strings.EqualFold(s, "true") }

func hmacEqual(a, b string) bool {
	return len(a) == len(b) && SignWebhook("k", []byte(a)) == SignWebhook("k", []byte(b))
}

// ---- GraphQL ----

var versionRE = regexp.MustCompile(`^(\d{4}-\d{2}|unstable)$`)

type gqlRequest struct {
	Query         string          `json:"query"`
	Variables     json.RawMessage `json:"variables"`
	OperationName string          `json:"operationName"`
}

type costExt struct {
	RequestedQueryCost int            `json:"requestedQueryCost"`
	ActualQueryCost    *int           `json:"actualQueryCost"`
	ThrottleStatus     throttleStatus `json:"throttleStatus"`
}

type throttleStatus struct {
	MaximumAvailable   float64 `json:"maximumAvailable"`
	CurrentlyAvailable int     `json:"currentlyAvailable"`
	RestoreRate        float64 `json:"restoreRate"`
}

func (e *Emulator) graphql(w http.ResponseWriter, r *http.Request) {
	if e.kit.Inject(w, r, writeRESTErr) {
		return
	}
	version := r.PathValue("version")
	if !versionRE.MatchString(version) {
		writeRESTErr(w, http.StatusNotFound, "Not Found")
		return
	}
	w.Header().Set("X-Shopify-API-Version", version)
	w.Header().Set("X-Request-Id", randHex(8))
	var req gqlRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		writeRESTErr(w, http.StatusRequestEntityTooLarge, "request body too large")
		return
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/graphql") {
		req.Query = string(body)
	} else if err := json.Unmarshal(body, &req); err != nil || strings.TrimSpace(req.Query) == "" {
		emukit.WriteJSON(w, http.StatusBadRequest, map[string]any{"errors": map[string]string{"query": "Required parameter missing or invalid"}})
		return
	}

	// Parse, validate and coerce outside the lock; the token is still
	// checked first, as Shopify answers 401 before looking at the query.
	schema, op, vars, doc, qerrs := prepareQuery(req)
	fail := func(errs ...*gqlError) { emukit.WriteJSON(w, http.StatusOK, map[string]any{"errors": errs}) }

	e.mu.Lock()
	defer e.mu.Unlock()
	tok, status, msg := e.checkTokenLocked(r.Header.Get("X-Shopify-Access-Token"))
	if status != 0 {
		writeRESTErr(w, status, msg)
		return
	}
	if len(qerrs) > 0 {
		fail(qerrs...)
		return
	}
	s := e.shop(tok.shop)
	x := &execCtx{schema: schema, doc: doc, resolvers: e.resolvers, vars: vars, shop: s, scopes: tok.scopes, now: e.cfg.Now()}
	requested, _, rerr := x.requested("QueryRoot", op.SelectionSet, 0)
	if rerr != nil {
		fail(rerr)
		return
	}
	b := e.bucketLocked(s.domain + "|" + tok.clientID)
	ts := func() throttleStatus {
		return throttleStatus{MaximumAvailable: e.cfg.BucketSize, CurrentlyAvailable: int(math.Floor(b.available)), RestoreRate: e.cfg.RestoreRate}
	}
	if requested > e.cfg.MaxQueryCost {
		emukit.WriteJSON(w, http.StatusOK, map[string]any{"errors": []*gqlError{{
			Message: fmt.Sprintf("Query cost is %d, which exceeds the single query max cost limit (%d).", requested, e.cfg.MaxQueryCost),
			Ext:     map[string]any{"code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": e.cfg.MaxQueryCost}}},
			"extensions": map[string]any{"cost": costExt{RequestedQueryCost: requested, ThrottleStatus: ts()}}})
		return
	}
	if float64(requested) > b.available {
		if e.cfg.ThrottleStatus == http.StatusTooManyRequests {
			wait := (float64(requested) - b.available) / e.cfg.RestoreRate
			w.Header().Set("Retry-After", strconv.FormatFloat(math.Ceil(wait*10)/10, 'f', -1, 64))
		}
		emukit.WriteJSON(w, e.cfg.ThrottleStatus, map[string]any{"errors": []*gqlError{{Message: "Throttled",
			Ext: map[string]any{"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}},
			"extensions": map[string]any{"cost": costExt{RequestedQueryCost: requested, ThrottleStatus: ts()}}})
		return
	}
	b.available -= float64(requested)
	var data any
	result, actual, ok := x.exec("QueryRoot", nil, op.SelectionSet, nil)
	if ok {
		data = result
	}
	if actual > requested {
		actual = requested
	}
	b.available = min(e.cfg.BucketSize, b.available+float64(requested-actual))
	ext := map[string]any{"cost": costExt{RequestedQueryCost: requested, ActualQueryCost: &actual, ThrottleStatus: ts()}}
	if len(x.search) > 0 {
		var warns []map[string]string
		for _, m := range x.search {
			warns = append(warns, map[string]string{"message": m})
		}
		ext["search"] = []map[string]any{{"path": []string{"orders"}, "warnings": warns}}
	}
	resp := map[string]any{"data": data, "extensions": ext}
	if len(x.errs) > 0 {
		resp["errors"] = x.errs
	}
	emukit.WriteJSON(w, http.StatusOK, resp)
}

// prepareQuery parses the request's document, picks its operation,
// validates it against the schema and coerces the variables; it returns
// the errors to answer otherwise.
func prepareQuery(req gqlRequest) (*ast.Schema, *ast.OperationDefinition, map[string]any, *ast.QueryDocument, []*gqlError) {
	schema, err := adminSchema()
	if err != nil {
		return nil, nil, nil, nil, []*gqlError{{Message: "Internal error: schema unavailable", Ext: map[string]any{"code": "INTERNAL_SERVER_ERROR"}}}
	}
	doc, perr := parseQuery(req.Query)
	if perr != nil {
		return nil, nil, nil, nil, []*gqlError{perr}
	}
	var op *ast.OperationDefinition
	switch {
	case req.OperationName != "":
		if op = doc.Operations.ForName(req.OperationName); op == nil {
			return nil, nil, nil, nil, []*gqlError{{Message: fmt.Sprintf("No operation named %q", req.OperationName)}}
		}
	case len(doc.Operations) == 1:
		op = doc.Operations[0]
	case len(doc.Operations) == 0:
		return nil, nil, nil, nil, []*gqlError{{Message: "No operations in query document"}}
	default:
		return nil, nil, nil, nil, []*gqlError{{Message: "An operation name is required"}}
	}
	if op.Operation != ast.Query {
		return nil, nil, nil, nil, []*gqlError{{Message: "Mutations are not emulated", Ext: map[string]any{"code": "NOT_SUPPORTED"}}}
	}
	if errs := validate(schema, doc); len(errs) > 0 {
		return nil, nil, nil, nil, errs
	}
	vars, verr := coerceVars(schema, op, req.Variables)
	if verr != nil {
		return nil, nil, nil, nil, []*gqlError{verr}
	}
	return schema, op, vars, doc, nil
}

// coerceVars checks the request's variables against the operation's
// declarations (gqlparser's coercion) and answers a bad one as Shopify does.
func coerceVars(schema *ast.Schema, op *ast.OperationDefinition, raw json.RawMessage) (map[string]any, *gqlError) {
	in := map[string]any{}
	if len(raw) > 0 && string(raw) != "null" {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&in); err != nil {
			return nil, &gqlError{Message: "Variables must be a JSON object", Ext: map[string]any{"code": "INVALID_VARIABLE"}}
		}
	}
	out, err := validator.VariableValues(schema, op, in)
	if err == nil {
		return out, nil
	}
	ge := &gqlError{Message: "Variables are invalid", Ext: map[string]any{"code": "INVALID_VARIABLE"}}
	var src *gqlerror.Error
	if !errors.As(err, &src) {
		return nil, ge
	}
	// The path is ["variable", name, …].
	if len(src.Path) >= 2 {
		if name, ok := src.Path[1].(ast.PathName); ok {
			if d := op.VariableDefinitions.ForName(string(name)); d != nil {
				var sub []any
				for _, p := range src.Path[2:] {
					switch p := p.(type) {
					case ast.PathName:
						sub = append(sub, string(p))
					case ast.PathIndex:
						sub = append(sub, int(p))
					}
				}
				if sub == nil {
					sub = []any{}
				}
				ge.Message = fmt.Sprintf("Variable $%s of type %s was provided invalid value", d.Variable, d.Type.String())
				ge.Locations = []location{{d.Position.Line, d.Position.Column}}
				ge.Ext["value"] = in[d.Variable]
				ge.Ext["problems"] = []map[string]any{{"path": sub, "explanation": src.Message}}
			}
		}
	}
	return nil, ge
}
