package whiplash

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"switchyard/internal/emulator/emukit"
)

type authCode struct {
	clientID, redirectURI, scope, challenge string
	customerID                              int64
	expires                                 time.Time
}

type accessToken struct {
	clientID, scope string
	customerID      int64
	expires         time.Time
}

type refreshToken struct {
	clientID, scope string
	customerID      int64
}

var validScopes = map[string]bool{"user_read": true, "user_manage": true, "app_read": true, "app_manage": true}

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (e *Emulator) handleMetadata(w http.ResponseWriter, r *http.Request) {
	base := "http://" + r.Host
	grants := []string{"authorization_code", "refresh_token"}
	if e.cfg.AllowClientCredentials {
		grants = append(grants, "client_credentials")
	}
	emukit.WriteJSON(w, http.StatusOK, map[string]any{
		"issuer":                                base,
		"authorization_endpoint":                base + "/oauth/authorize",
		"token_endpoint":                        base + "/oauth/token",
		"grant_types_supported":                 grants,
		"response_types_supported":              []string{"code"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"none", "client_secret_post", "client_secret_basic"},
		"scopes_supported":                      []string{"user_read", "user_manage", "app_read", "app_manage"},
	})
}

var consentPage = template.Must(template.New("consent").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Whiplash – Authorize {{.ClientID}}</title>
<style>body{font-family:sans-serif;max-width:32rem;margin:3rem auto}button{padding:.5rem 1rem;margin-right:.5rem}</style></head>
<body><h1>Authorize {{.ClientID}}</h1>
<p>{{.ClientID}} asks for <b>{{.Scope}}</b> access to your Whiplash account (emulator).</p>
<form method="post" action="/oauth/authorize">
{{range $k, $v := .Hidden}}<input type="hidden" name="{{$k}}" value="{{$v}}">{{end}}
<label>Customer <select name="customer_id">{{range .Customers}}<option value="{{.ID}}"{{if eq .ID $.Selected}} selected{{end}}>{{.ID}} – {{.Name}}</option>{{end}}</select></label>
<p><button name="decision" value="approve" type="submit">Authorize</button><button name="decision" value="deny" type="submit">Deny</button></p>
</form></body></html>`))

// authorizeParams validates an authorization request; it answers the
// error itself and returns ok=false when the request cannot proceed.
func (e *Emulator) authorizeParams(w http.ResponseWriter, v url.Values) (cl *oauthClient, redirect *url.URL, scope string, ok bool) {
	e.mu.Lock()
	cl = e.clients[v.Get("client_id")]
	e.mu.Unlock()
	if cl == nil {
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return nil, nil, "", false
	}
	redirect, err := url.Parse(v.Get("redirect_uri"))
	if err != nil || (redirect.Scheme != "http" && redirect.Scheme != "https") || redirect.Host == "" {
		http.Error(w, "redirect_uri must be an absolute http(s) URL", http.StatusBadRequest)
		return nil, nil, "", false
	}
	scope = v.Get("scope")
	if scope == "" {
		scope = "user_manage"
	}
	for s := range strings.FieldsSeq(scope) {
		if !validScopes[s] {
			redirectWith(w, redirect, url.Values{"error": {"invalid_scope"}, "state": {v.Get("state")}})
			return nil, nil, "", false
		}
	}
	if v.Get("response_type") != "code" {
		redirectWith(w, redirect, url.Values{"error": {"unsupported_response_type"}, "state": {v.Get("state")}})
		return nil, nil, "", false
	}
	if m := v.Get("code_challenge_method"); v.Get("code_challenge") != "" && m != "" && m != "S256" {
		redirectWith(w, redirect, url.Values{"error": {"invalid_request"}, "error_description": {"only S256 is supported"}, "state": {v.Get("state")}})
		return nil, nil, "", false
	}
	return cl, redirect, scope, true
}

func redirectWith(w http.ResponseWriter, u *url.URL, add url.Values) {
	c := *u
	q := c.Query()
	for k, vs := range add {
		if len(vs) > 0 && vs[0] != "" {
			q.Set(k, vs[0])
		}
	}
	c.RawQuery = q.Encode()
	w.Header().Set("Location", c.String())
	w.WriteHeader(http.StatusFound)
}

// handleAuthorize shows the consent page, or approves at once with
// auto-approve. customer_id (an emulator extension) picks the customer.
func (e *Emulator) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	cl, redirect, scope, ok := e.authorizeParams(w, v)
	if !ok {
		return
	}
	if auto, _ := strconv.ParseBool(v.Get("auto_approve")); auto || e.cfg.AutoApprove {
		e.approve(w, v, cl, redirect, scope)
		return
	}
	e.mu.Lock()
	var cs []*customer
	for _, c := range e.customers {
		cs = append(cs, c)
	}
	e.mu.Unlock()
	sortCustomers(cs)
	hidden := map[string]string{}
	for _, k := range []string{"client_id", "redirect_uri", "response_type", "scope", "state", "code_challenge", "code_challenge_method"} {
		if x := v.Get(k); x != "" {
			hidden[k] = x
		}
	}
	hidden["scope"] = scope
	selected := cl.CustomerID
	if id, err := strconv.ParseInt(v.Get("customer_id"), 10, 64); err == nil {
		selected = id
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = consentPage.Execute(w, map[string]any{"ClientID": cl.ID, "Scope": scope, "Hidden": hidden, "Customers": cs, "Selected": selected})
}

func (e *Emulator) handleAuthorizeDecision(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	v := r.PostForm
	cl, redirect, scope, ok := e.authorizeParams(w, v)
	if !ok {
		return
	}
	if v.Get("decision") != "approve" {
		redirectWith(w, redirect, url.Values{"error": {"access_denied"}, "state": {v.Get("state")}})
		return
	}
	e.approve(w, v, cl, redirect, scope)
}

func (e *Emulator) approve(w http.ResponseWriter, v url.Values, cl *oauthClient, redirect *url.URL, scope string) {
	cust := cl.CustomerID
	if id, err := strconv.ParseInt(v.Get("customer_id"), 10, 64); err == nil {
		cust = id
	}
	code := randomToken()
	e.mu.Lock()
	if _, ok := e.customers[cust]; !ok {
		e.mu.Unlock()
		redirectWith(w, redirect, url.Values{"error": {"access_denied"}, "error_description": {"unknown customer"}, "state": {v.Get("state")}})
		return
	}
	e.codes[code] = &authCode{
		clientID: cl.ID, redirectURI: v.Get("redirect_uri"), scope: scope, challenge: v.Get("code_challenge"),
		customerID: cust, expires: e.cfg.Now().Add(10 * time.Minute),
	}
	e.mu.Unlock()
	redirectWith(w, redirect, url.Values{"code": {code}, "state": {v.Get("state")}})
}

// oauthErr writes an RFC 6749 error (what Doorkeeper answers).
func oauthErr(w http.ResponseWriter, status int, code, desc string) {
	emukit.WriteJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// handleToken implements the authorization_code, refresh_token and
// (optionally) client_credentials grants. Client credentials come from the
// form (client_secret_post) or HTTP Basic.
func (e *Emulator) handleToken(w http.ResponseWriter, r *http.Request) {
	if e.kit.Inject(w, r, func(w http.ResponseWriter, status int, msg string) { oauthErr(w, status, "server_error", msg) }) {
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthErr(w, http.StatusBadRequest, "invalid_request", "unreadable form body")
		return
	}
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	cl := e.clients[id]
	if cl == nil || subtle.ConstantTimeCompare([]byte(cl.Secret), []byte(secret)) != 1 {
		oauthErr(w, http.StatusUnauthorized, "invalid_client", "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.")
		return
	}
	now := e.cfg.Now()
	switch gt := r.PostForm.Get("grant_type"); gt {
	case "authorization_code":
		code := r.PostForm.Get("code")
		c := e.codes[code]
		if c == nil || c.clientID != cl.ID || now.After(c.expires) {
			oauthErr(w, http.StatusBadRequest, "invalid_grant", "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.")
			return
		}
		if c.redirectURI != r.PostForm.Get("redirect_uri") {
			oauthErr(w, http.StatusBadRequest, "invalid_grant", "redirect_uri does not match the authorization request")
			return
		}
		if c.challenge != "" {
			sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
			if base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge {
				oauthErr(w, http.StatusBadRequest, "invalid_grant", "code_verifier does not match the code challenge")
				return
			}
		}
		delete(e.codes, code)
		e.issueLocked(w, cl.ID, c.scope, c.customerID, true)
	case "refresh_token":
		rt := r.PostForm.Get("refresh_token")
		old := e.refresh[rt]
		if old == nil || old.clientID != cl.ID {
			oauthErr(w, http.StatusBadRequest, "invalid_grant", "The refresh token is invalid, expired or revoked.")
			return
		}
		if !e.cfg.KeepRefreshToken {
			delete(e.refresh, rt)
			e.issueLocked(w, cl.ID, old.scope, old.customerID, true)
			return
		}
		e.issueWithRefreshLocked(w, cl.ID, old.scope, old.customerID, rt)
	case "client_credentials":
		if !e.cfg.AllowClientCredentials {
			oauthErr(w, http.StatusBadRequest, "unsupported_grant_type", "The authorization grant type is not supported by the authorization server.")
			return
		}
		scope := r.PostForm.Get("scope")
		if scope == "" {
			scope = "app_read"
		}
		for s := range strings.FieldsSeq(scope) {
			if !validScopes[s] {
				oauthErr(w, http.StatusBadRequest, "invalid_scope", "The requested scope is invalid, unknown, or malformed.")
				return
			}
		}
		e.issueLocked(w, cl.ID, scope, cl.CustomerID, false)
	default:
		oauthErr(w, http.StatusBadRequest, "unsupported_grant_type", "The authorization grant type is not supported by the authorization server: "+gt)
	}
}

func (e *Emulator) issueLocked(w http.ResponseWriter, clientID, scope string, customerID int64, withRefresh bool) {
	rt := ""
	if withRefresh {
		rt = randomToken()
		e.refresh[rt] = &refreshToken{clientID: clientID, scope: scope, customerID: customerID}
	}
	e.issueWithRefreshLocked(w, clientID, scope, customerID, rt)
}

func (e *Emulator) issueWithRefreshLocked(w http.ResponseWriter, clientID, scope string, customerID int64, rt string) {
	now := e.cfg.Now()
	at := randomToken()
	e.tokens[at] = &accessToken{clientID: clientID, scope: scope, customerID: customerID, expires: now.Add(e.cfg.TokenTTL)}
	body := map[string]any{
		"access_token": at, "token_type": "bearer", "expires_in": int(e.cfg.TokenTTL.Seconds()),
		"scope": scope, "created_at": now.Unix(),
	}
	if rt != "" {
		body["refresh_token"] = rt
	}
	w.Header().Set("Cache-Control", "no-store")
	emukit.WriteJSON(w, http.StatusOK, body)
}

// authenticate checks the bearer token and the X-CUSTOMER-ID / X-SHOP-ID
// scoping headers. A non-zero status is the error to answer.
func (e *Emulator) authenticate(r *http.Request) (*principal, int, string) {
	h := r.Header.Get("Authorization")
	scheme, tok, _ := strings.Cut(h, " ")
	if h == "" || !strings.EqualFold(scheme, "bearer") || strings.TrimSpace(tok) == "" {
		return nil, http.StatusUnauthorized, "Unauthorized: missing bearer token"
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.tokens[strings.TrimSpace(tok)]
	if t == nil {
		return nil, http.StatusUnauthorized, "The access token is invalid"
	}
	if !e.cfg.Now().Before(t.expires) {
		return nil, http.StatusUnauthorized, "The access token expired"
	}
	cu := e.customers[t.customerID]
	if cu == nil {
		return nil, http.StatusUnauthorized, "The access token is invalid"
	}
	p := &principal{customer: cu, clientID: t.clientID, scope: t.scope}
	if v := r.Header.Get("X-CUSTOMER-ID"); v != "" {
		if id, err := strconv.ParseInt(v, 10, 64); err != nil || id != cu.ID {
			return nil, http.StatusForbidden, "You are not authorized to access customer " + v
		}
	}
	if v := r.Header.Get("X-SHOP-ID"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if _, perr := cu.pick([]int64{id}); err != nil || perr != nil {
			return nil, http.StatusForbidden, "You are not authorized to access shop " + v
		}
		p.shopID = id
	}
	return p, 0, ""
}

// ExpireTokens makes every issued access token expired (refresh tokens stay
// valid), so tests can exercise a client's refresh path.
func (e *Emulator) ExpireTokens() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.cfg.Now()
	for _, t := range e.tokens {
		t.expires = now
	}
	return len(e.tokens)
}
