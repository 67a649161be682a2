package gorgias

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"switchyard/internal/emulator/emukit"
)

type oauthClient struct {
	ID           string   `json:"client_id"`
	Secret       string   `json:"-"`
	RedirectURIs []string `json:"redirect_uris,omitempty"`
}

type authCode struct {
	domain      string
	clientID    string
	redirectURI string
	scope       string
	nonce       string
	userID      int64
	expires     time.Time
}

type refreshGrant struct {
	domain   string
	clientID string
	scope    string
	userID   int64
	revoked  bool
}

// jwtClaims are the access-token claims (reference §1.2).
type jwtClaims struct {
	Iss   string `json:"iss"`
	Sub   int64  `json:"sub"`
	Aud   string `json:"aud"`
	Iat   int64  `json:"iat"`
	Exp   int64  `json:"exp"`
	Azp   string `json:"azp"`
	JTI   string `json:"jti"`
	Scope string `json:"scope,omitempty"`
	Nonce string `json:"nonce,omitempty"`
}

func issuer(domain string) string { return "https://" + domain + ".gorgias.com" }

// signJWT returns an HS256 JWT (the real service uses RS256; clients must
// not verify it, only read exp).
func (e *Emulator) signJWT(c jwtClaims) string {
	head := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	body, _ := json.Marshal(c)
	msg := head + "." + base64.RawURLEncoding.EncodeToString(body)
	mac := hmac.New(sha256.New, e.secret)
	mac.Write([]byte(msg))
	return msg + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func (e *Emulator) verifyJWT(tok string) (jwtClaims, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return jwtClaims{}, false
	}
	mac := hmac.New(sha256.New, e.secret)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		return jwtClaims{}, false
	}
	body, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return jwtClaims{}, false
	}
	var c jwtClaims
	if json.Unmarshal(body, &c) != nil {
		return jwtClaims{}, false
	}
	return c, true
}

// oauthError writes an RFC 6749 error.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	emukit.WriteJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

var consentPage = template.Must(template.New("consent").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Authorize {{.ClientID}} — Gorgias (emulator)</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;color:#161616}
.scopes li{font-family:monospace}button{font-size:1rem;padding:.5rem 1.25rem;margin-right:.5rem}</style></head>
<body class="oauth-consent">
<h1>Connect <strong class="client-id">{{.ClientID}}</strong> to {{.Domain}}.gorgias.com</h1>
<p>Signed in as <span class="user-email">{{.UserEmail}}</span>. The app asks for:</p>
<ul class="scopes">{{range .Scopes}}<li>{{.}}</li>{{end}}</ul>
<form method="post" action="{{.Action}}">
{{range $k, $v := .Hidden}}<input type="hidden" name="{{$k}}" value="{{$v}}">{{end}}
<button type="submit" name="decision" value="approve" id="approve">Approve</button>
<button type="submit" name="decision" value="deny" id="deny">Deny</button>
</form></body></html>`))

// authorizeRequest is the validated query of /oauth/authorize.
type authorizeRequest struct {
	domain, clientID, redirectURI, scope, state, nonce string
}

func (e *Emulator) parseAuthorize(w http.ResponseWriter, r *http.Request, v url.Values) (authorizeRequest, bool) {
	ar := authorizeRequest{clientID: v.Get("client_id"), redirectURI: v.Get("redirect_uri"), scope: v.Get("scope"), state: v.Get("state"), nonce: v.Get("nonce")}
	ar.domain, _ = r.Context().Value(ctxAccount).(string)
	e.mu.Lock()
	cl := e.clients[ar.clientID]
	_, hasAccount := e.accounts[ar.domain]
	e.mu.Unlock()
	if !hasAccount {
		http.Error(w, "unknown account", http.StatusNotFound)
		return ar, false
	}
	if cl == nil {
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return ar, false
	}
	ru, err := url.Parse(ar.redirectURI)
	if err != nil || (ru.Scheme != "http" && ru.Scheme != "https") || ru.Host == "" {
		http.Error(w, "redirect_uri must be an absolute http(s) URL", http.StatusBadRequest)
		return ar, false
	}
	if len(cl.RedirectURIs) > 0 {
		ok := false
		for _, allowed := range cl.RedirectURIs {
			au, err := url.Parse(allowed)
			if err == nil && au.Scheme == ru.Scheme && au.Host == ru.Host && au.Path == ru.Path {
				ok = true
			}
		}
		if !ok {
			http.Error(w, "redirect_uri is not registered for this client", http.StatusBadRequest)
			return ar, false
		}
	}
	if rt := v.Get("response_type"); rt != "code" {
		redirectWith(w, r, ar.redirectURI, url.Values{"error": {"unsupported_response_type"}, "state": {ar.state}})
		return ar, false
	}
	return ar, true
}

func redirectWith(w http.ResponseWriter, r *http.Request, target string, params url.Values) {
	u, _ := url.Parse(target)
	q := u.Query()
	for k, vs := range params {
		for _, v := range vs {
			if v != "" {
				q.Set(k, v)
			}
		}
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// handleAuthorize shows the consent page, or with auto-approval redirects
// with code and state at once. The agent is the account's admin (no login
// step is emulated).
func (e *Emulator) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ar, ok := e.parseAuthorize(w, r, q)
	if !ok {
		return
	}
	auto := e.cfg.AutoApprove
	switch strings.ToLower(q.Get("auto_approve")) {
	case "1", "true", "yes":
		auto = true
	}
	if auto {
		e.approve(w, r, ar)
		return
	}
	e.mu.Lock()
	admin := e.accounts[ar.domain].admin()
	e.mu.Unlock()
	hidden := map[string]string{"response_type": "code", "client_id": ar.clientID, "redirect_uri": ar.redirectURI,
		"scope": ar.scope, "state": ar.state, "nonce": ar.nonce}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = consentPage.Execute(w, map[string]any{
		"ClientID": ar.clientID, "Domain": ar.domain, "UserEmail": admin.Email, "Scopes": strings.Fields(ar.scope),
		"Hidden": hidden, "Action": prefixOf(r) + "/oauth/authorize",
	})
}

// handleAuthorizeDecision is the consent form's POST.
func (e *Emulator) handleAuthorizeDecision(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	ar, ok := e.parseAuthorize(w, r, r.PostForm)
	if !ok {
		return
	}
	if r.PostForm.Get("decision") != "approve" {
		redirectWith(w, r, ar.redirectURI, url.Values{"error": {"access_denied"}, "state": {ar.state}})
		return
	}
	e.approve(w, r, ar)
}

func (e *Emulator) approve(w http.ResponseWriter, r *http.Request, ar authorizeRequest) {
	e.mu.Lock()
	code := e.randToken(40)
	e.codes[code] = &authCode{domain: ar.domain, clientID: ar.clientID, redirectURI: ar.redirectURI, scope: ar.scope,
		nonce: ar.nonce, userID: e.accounts[ar.domain].admin().ID, expires: e.now().Add(10 * time.Minute)}
	e.mu.Unlock()
	redirectWith(w, r, ar.redirectURI, url.Values{"code": {code}, "state": {ar.state}})
}

// clientAuth reads client credentials from HTTP Basic or the body.
func (e *Emulator) clientAuth(r *http.Request, form url.Values) *oauthClient {
	id, secret, ok := r.BasicAuth()
	if ok {
		// RFC 6749 §2.3.1: Basic credentials are form-encoded first.
		if u, err := url.QueryUnescape(id); err == nil {
			id = u
		}
		if u, err := url.QueryUnescape(secret); err == nil {
			secret = u
		}
	} else {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	cl := e.clients[id]
	if cl == nil || !hmac.Equal([]byte(cl.Secret), []byte(secret)) {
		return nil
	}
	return cl
}

// tokenForm reads a form-encoded (or, tolerated, JSON) token request.
func tokenForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var m map[string]flexString
		if json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&m) != nil {
			return nil, false
		}
		v := url.Values{}
		for k, s := range m {
			v.Set(k, string(s))
		}
		return v, true
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
	if err := r.ParseForm(); err != nil {
		return nil, false
	}
	return r.PostForm, true
}

// handleToken implements the authorization_code and refresh_token grants.
func (e *Emulator) handleToken(w http.ResponseWriter, r *http.Request) {
	if e.kit.Inject(w, r, writeError) {
		return
	}
	form, ok := tokenForm(w, r)
	if !ok {
		oauthError(w, http.StatusBadRequest, "invalid_request", "malformed body")
		return
	}
	cl := e.clientAuth(r, form)
	if cl == nil {
		w.Header().Set("WWW-Authenticate", `Basic realm="oauth"`)
		oauthError(w, http.StatusUnauthorized, "invalid_client", "unknown client or bad secret")
		return
	}
	domain, _ := r.Context().Value(ctxAccount).(string)
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	switch form.Get("grant_type") {
	case "authorization_code":
		code := e.codes[form.Get("code")]
		delete(e.codes, form.Get("code")) // one use
		if code == nil || code.clientID != cl.ID || now.After(code.expires) || code.domain != domain {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "invalid, used or expired code")
			return
		}
		if code.redirectURI != "" && form.Get("redirect_uri") != code.redirectURI {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri does not match the authorization request")
			return
		}
		rt := e.randToken(48)
		e.refresh[rt] = &refreshGrant{domain: code.domain, clientID: cl.ID, scope: code.scope, userID: code.userID}
		resp := e.tokenResponseLocked(code.domain, cl.ID, code.scope, code.userID, now)
		resp["refresh_token"] = rt
		resp["id_token"] = e.signJWT(jwtClaims{Iss: issuer(code.domain), Sub: code.userID, Aud: cl.ID, Iat: now.Unix(),
			Exp: now.Add(e.cfg.AccessTokenTTL).Unix(), Azp: cl.ID, JTI: e.randToken(16), Nonce: code.nonce})
		w.Header().Set("Cache-Control", "no-store")
		emukit.WriteJSON(w, http.StatusOK, resp)
	case "refresh_token":
		g := e.refresh[form.Get("refresh_token")]
		if g == nil || g.revoked || g.clientID != cl.ID || g.domain != domain {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "invalid or revoked refresh token")
			return
		}
		// No new refresh token: the old one stays valid (reference §1.2).
		w.Header().Set("Cache-Control", "no-store")
		emukit.WriteJSON(w, http.StatusOK, e.tokenResponseLocked(g.domain, g.clientID, g.scope, g.userID, now))
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "use authorization_code or refresh_token")
	}
}

func (e *Emulator) tokenResponseLocked(domain, clientID, scope string, userID int64, now time.Time) map[string]any {
	tok := e.signJWT(jwtClaims{Iss: issuer(domain), Sub: userID, Aud: issuer(domain) + "/api", Iat: now.Unix(),
		Exp: now.Add(e.cfg.AccessTokenTTL).Unix(), Azp: clientID, JTI: e.randToken(16), Scope: scope})
	expiresIn := int(e.cfg.AccessTokenTTL.Seconds())
	if e.cfg.ZeroExpiresIn {
		expiresIn = 0
	}
	return map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": expiresIn, "scope": scope}
}

// handleRevoke revokes a refresh token (or, beyond the reference, an access
// token by its jti). Unknown tokens still answer 200 {} (RFC 7009).
func (e *Emulator) handleRevoke(w http.ResponseWriter, r *http.Request) {
	if e.kit.Inject(w, r, writeError) {
		return
	}
	form, ok := tokenForm(w, r)
	if !ok {
		oauthError(w, http.StatusBadRequest, "invalid_request", "malformed body")
		return
	}
	cl := e.clientAuth(r, form)
	if cl == nil {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "unknown client or bad secret")
		return
	}
	tok := form.Get("token")
	e.mu.Lock()
	if g := e.refresh[tok]; g != nil && g.clientID == cl.ID {
		g.revoked = true
	} else if c, ok := e.verifyJWT(tok); ok && c.Azp == cl.ID {
		e.revoked[c.JTI] = true
	}
	e.mu.Unlock()
	emukit.WriteJSON(w, http.StatusOK, map[string]any{})
}
