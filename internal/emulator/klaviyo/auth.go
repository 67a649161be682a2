package klaviyo

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"switchyard/internal/emulator/klaviyo/contract"
)

// authCode is an issued, not yet exchanged authorization code.
type authCode struct {
	code, client, redirect, account string
	scopes                          []string
	challenge, method               string
	expires                         time.Time
}

// oauthToken is an access or refresh token of one app install.
type oauthToken struct {
	value   string
	account string
	client  string
	scopes  []string
	expires time.Time // zero for refresh tokens
	pair    string    // for access tokens: the refresh token they came with
}

const authCodeTTL = 10 * time.Minute

// authenticate resolves the caller's account and quota key. Private keys
// share the account's quota; OAuth installs get their own (reference A5).
func (e *Emulator) authenticate(r *http.Request, op *contract.Operation, now time.Time) (*account, string, error) {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if h == "" {
		return nil, "", &apiErr{status: http.StatusUnauthorized, code: "not_authenticated", detail: "Missing `Authorization` header: send `Klaviyo-API-Key <private key>` or `Bearer <access token>`."}
	}
	scheme, cred, _ := strings.Cut(h, " ")
	cred = strings.TrimSpace(cred)
	e.mu.Lock()
	defer e.mu.Unlock()
	switch strings.ToLower(scheme) {
	case "klaviyo-api-key":
		id, ok := e.keys[cred]
		if !ok {
			return nil, "", &apiErr{status: http.StatusUnauthorized, code: "not_authenticated", title: "Incorrect authentication credentials.", detail: "Missing or invalid private key."}
		}
		return e.accounts[id], "acct:" + id, nil
	case "bearer":
		t, ok := e.access[cred]
		if !ok {
			return nil, "", &apiErr{status: http.StatusUnauthorized, code: "not_authenticated", title: "Incorrect authentication credentials.", detail: "Invalid access token."}
		}
		if !now.Before(t.expires) {
			return nil, "", &apiErr{status: http.StatusUnauthorized, code: "not_authenticated", title: "Incorrect authentication credentials.", detail: "Access token expired."}
		}
		if op != nil {
			for _, need := range op.Scopes {
				if !hasScope(t.scopes, need) {
					return nil, "", &apiErr{status: http.StatusForbidden, code: "permission_denied", detail: "The access token is missing the scope " + need + "."}
				}
			}
		}
		acct := e.accounts[t.account]
		if acct == nil {
			return nil, "", &apiErr{status: http.StatusUnauthorized, code: "not_authenticated", detail: "The account of this token no longer exists."}
		}
		return acct, "oauth:" + t.client + ":" + t.account, nil
	}
	return nil, "", &apiErr{status: http.StatusUnauthorized, code: "not_authenticated", title: "Incorrect authentication credentials.", detail: "Unsupported authorization scheme " + scheme + "."}
}

// hasScope treats "<x>:write" as including "<x>:read".
func hasScope(have []string, need string) bool {
	alt := ""
	if strings.HasSuffix(need, ":read") {
		alt = strings.TrimSuffix(need, ":read") + ":write"
	}
	for _, s := range have {
		if s == need || (alt != "" && s == alt) {
			return true
		}
	}
	return false
}

var consentPage = template.Must(template.New("consent").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Klaviyo (emulated) — authorize {{.Client}}</title></head>
<body>
<h1>Authorize {{.Client}}</h1>
<p>The app <b>{{.Client}}</b> asks for access to account <b>{{.Account}}</b> with the scopes:</p>
<ul>{{range .Scopes}}<li>{{.}}</li>{{end}}</ul>
<form method="post" action="/oauth/authorize">
{{range $k, $v := .Params}}<input type="hidden" name="{{$k}}" value="{{$v}}">
{{end}}<button type="submit" name="decision" value="allow" id="allow">Allow</button>
<button type="submit" name="decision" value="deny" id="deny">Deny</button>
</form></body></html>`))

// authorize handles GET (consent page or auto-approve) and POST (consent
// decision) /oauth/authorize. The emulator-only parameter account selects
// the account to install into (default: the default account).
func (e *Emulator) authorize(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "invalid form: "+err.Error(), http.StatusBadRequest)
		return
	}
	p := r.Form
	clientID, redirect := p.Get("client_id"), p.Get("redirect_uri")
	if clientID != e.cfg.OAuthClientID {
		http.Error(w, "invalid_client: unknown client_id", http.StatusBadRequest)
		return
	}
	ru, err := url.Parse(redirect)
	if err != nil || ru.Scheme == "" || ru.Host == "" || !e.redirectAllowed(redirect) {
		http.Error(w, "invalid_request: redirect_uri is missing, not absolute or not registered", http.StatusBadRequest)
		return
	}
	fail := func(code, desc string) {
		q := ru.Query()
		q.Set("error", code)
		q.Set("error_description", desc)
		if s := p.Get("state"); s != "" {
			q.Set("state", s)
		}
		ru.RawQuery = q.Encode()
		http.Redirect(w, r, ru.String(), http.StatusFound)
	}
	if p.Get("response_type") != "code" {
		fail("unsupported_response_type", "response_type must be code")
		return
	}
	challenge, method := p.Get("code_challenge"), p.Get("code_challenge_method")
	if method == "" && challenge != "" {
		method = "plain"
	}
	switch {
	case challenge == "" && !e.cfg.AllowNoPKCE:
		fail("invalid_request", "code_challenge is required (PKCE S256)")
		return
	case challenge != "" && method != "S256" && method != "plain":
		fail("invalid_request", "code_challenge_method must be S256")
		return
	}
	acctID := p.Get("account")
	e.mu.Lock()
	if acctID == "" {
		acctID = e.cfg.AccountID
	}
	_, known := e.accounts[acctID]
	e.mu.Unlock()
	if !known {
		fail("invalid_request", "unknown account "+acctID)
		return
	}
	scopes := strings.Fields(p.Get("scope"))
	if r.Method == http.MethodGet && !e.cfg.OAuthAutoApprove {
		params := map[string]string{}
		for _, k := range []string{"response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method", "account"} {
			if v := p.Get(k); v != "" {
				params[k] = v
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = consentPage.Execute(w, map[string]any{"Client": clientID, "Account": acctID, "Scopes": scopes, "Params": params})
		return
	}
	if r.Method == http.MethodPost && p.Get("decision") != "allow" {
		fail("access_denied", "the user denied the request")
		return
	}
	e.mu.Lock()
	code := e.secretLocked("kcode_")
	e.codes[code] = &authCode{code: code, client: clientID, redirect: redirect, account: acctID, scopes: scopes,
		challenge: challenge, method: method, expires: e.cfg.Now().Add(authCodeTTL)}
	e.mu.Unlock()
	q := ru.Query()
	q.Set("code", code)
	if s := p.Get("state"); s != "" {
		q.Set("state", s)
	}
	ru.RawQuery = q.Encode()
	http.Redirect(w, r, ru.String(), http.StatusFound)
}

func (e *Emulator) redirectAllowed(u string) bool {
	if len(e.cfg.OAuthRedirectURIs) == 0 {
		return true
	}
	for _, a := range e.cfg.OAuthRedirectURIs {
		if a == u {
			return true
		}
	}
	return false
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="klaviyo"`)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// clientAuth reads client credentials from Basic auth or the form.
func (e *Emulator) clientAuth(r *http.Request) bool {
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	return subtle.ConstantTimeCompare([]byte(id), []byte(e.cfg.OAuthClientID)) == 1 &&
		subtle.ConstantTimeCompare([]byte(secret), []byte(e.cfg.OAuthClientSecret)) == 1
}

// token handles POST /oauth/token (authorization_code with PKCE,
// refresh_token).
func (e *Emulator) token(w http.ResponseWriter, r *http.Request) {
	if e.kit.Inject(w, r, func(w http.ResponseWriter, status int, msg string) {
		oauthError(w, status, "temporarily_unavailable", msg)
	}) {
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "body must be application/x-www-form-urlencoded")
		return
	}
	if !e.clientAuth(r) {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	now := e.cfg.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	var acct string
	var scopes []string
	var keepRefresh string
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		c, ok := e.codes[r.PostForm.Get("code")]
		if !ok || !now.Before(c.expires) {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "authorization code is invalid or expired")
			return
		}
		delete(e.codes, c.code) // single use, even when the exchange fails
		if c.redirect != r.PostForm.Get("redirect_uri") {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri does not match the authorization request")
			return
		}
		if c.challenge != "" && !verifyPKCE(c.challenge, c.method, r.PostForm.Get("code_verifier")) {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "code_verifier does not match code_challenge")
			return
		}
		acct, scopes = c.account, c.scopes
	case "refresh_token":
		rt, ok := e.refresh[r.PostForm.Get("refresh_token")]
		if !ok || rt.client != e.cfg.OAuthClientID {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "refresh token is invalid or revoked")
			return
		}
		acct, scopes = rt.account, rt.scopes
		// Earlier access tokens stay valid until they expire.
		if e.cfg.RotateRefreshTokens {
			delete(e.refresh, rt.value)
		} else {
			keepRefresh = rt.value
		}
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token")
		return
	}
	at := &oauthToken{value: e.secretLocked("kat_"), account: acct, client: e.cfg.OAuthClientID, scopes: scopes, expires: now.Add(e.cfg.AccessTokenTTL)}
	var rt *oauthToken
	if keepRefresh != "" {
		rt = e.refresh[keepRefresh]
	} else {
		rt = &oauthToken{value: e.secretLocked("krt_"), account: acct, client: e.cfg.OAuthClientID, scopes: scopes}
		e.refresh[rt.value] = rt
	}
	at.pair = rt.value
	e.access[at.value] = at
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": at.value, "token_type": "Bearer", "expires_in": int(e.cfg.AccessTokenTTL / time.Second),
		"refresh_token": rt.value, "scope": strings.Join(scopes, " "),
	})
}

// revoke handles POST /oauth/revoke (token, token_type_hint): revoking either
// token of a pair revokes both.
func (e *Emulator) revoke(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "body must be application/x-www-form-urlencoded")
		return
	}
	if !e.clientAuth(r) {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	tok := r.PostForm.Get("token")
	e.mu.Lock()
	if t, ok := e.access[tok]; ok {
		tok = t.pair
	}
	delete(e.refresh, tok)
	for k, t := range e.access {
		if t.pair == tok || k == r.PostForm.Get("token") {
			delete(e.access, k)
		}
	}
	e.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func verifyPKCE(challenge, method, verifier string) bool {
	if verifier == "" {
		return false
	}
	if method == "plain" {
		return subtle.ConstantTimeCompare([]byte(challenge), []byte(verifier)) == 1
	}
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(challenge), []byte(base64.RawURLEncoding.EncodeToString(sum[:]))) == 1
}

// secretLocked returns a random token with a prefix (seeded rng; e.mu held).
func (e *Emulator) secretLocked(prefix string) string {
	var b [24]byte
	for i := range b {
		b[i] = byte(e.rng.UintN(256))
	}
	return prefix + hex.EncodeToString(b[:])
}
