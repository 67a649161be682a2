package yotpogorgias

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"switchyard/internal/connector"
	"switchyard/internal/domain"
	"switchyard/internal/provider/gorgias"
	"switchyard/internal/provider/yotpo"
)

// Install-flow routes (the connector's name's first part: /install/yotpo).
const (
	pathInstall         = "/install/yotpo"
	pathGorgiasCallback = "/oauth/callback/yotpo/gorgias"
	pathYotpoCallback   = "/oauth/callback/yotpo/connect"
	flowCookie          = "switchyard_yotpo_flow"
)

// Stages of the flow a state is valid for.
const (
	stageGorgias = "gorgias"
	stageYotpo   = "yotpo"
)

// flowState is what a signed state carries: the Gorgias account the flow
// is bound to, the hop it is valid for, when it expires, and a nonce that
// must match the browser's flow cookie (so a state cannot be replayed in
// another browser).
type flowState struct {
	Account string `json:"a"`
	Stage   string `json:"s"`
	Expires int64  `json:"e"`
	Nonce   string `json:"n"`
	Hub     string `json:"h"`
}

func (c *Connector) signState(st flowState) string {
	b, _ := json.Marshal(st)
	p := base64.RawURLEncoding.EncodeToString(b)
	m := hmac.New(sha256.New, c.stateKey)
	m.Write([]byte(p))
	return p + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

var errBadState = domain.Errorf(domain.EUNAUTHORIZED, "the install link is invalid or has expired: start again from Gorgias (Settings > App store > Yotpo)")

// checkState verifies a state's signature, stage, expiry and browser.
func (c *Connector) checkState(r *http.Request, raw, stage string) (flowState, error) {
	p, sig, ok := strings.Cut(raw, ".")
	if !ok {
		return flowState{}, errBadState
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return flowState{}, errBadState
	}
	m := hmac.New(sha256.New, c.stateKey)
	m.Write([]byte(p))
	if !hmac.Equal(got, m.Sum(nil)) {
		return flowState{}, errBadState
	}
	b, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return flowState{}, errBadState
	}
	var st flowState
	if json.Unmarshal(b, &st) != nil || st.Stage != stage || !validAccount(st.Account) || c.d.Now().Unix() > st.Expires {
		return flowState{}, errBadState
	}
	ck, err := r.Cookie(flowCookie)
	if err != nil || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(st.Nonce)) != 1 {
		return flowState{}, errBadState
	}
	return st, nil
}

var accountRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

func validAccount(a string) bool { return accountRE.MatchString(a) }

// Deterministic ids: one merchant, two connections and one installation
// per Gorgias account, so a repeated or concurrent flow finds them (the
// store's primary keys make "create" fail with ECONFLICT) and never creates
// a second. Another merchant's connection claiming the same account is
// never reused: only the Gorgias consent proves ownership.
func merchantID(account string) string     { return "mer_yg_" + account }
func installationID(account string) string { return "ins_yg_" + account }
func connID(account, vendor string) string { return "con_yg_" + account + "_" + vendor }

// Routes implements connector.RouteProvider.
func (c *Connector) Routes() []connector.Route {
	return []connector.Route{
		{Pattern: "GET " + pathInstall, Handler: http.HandlerFunc(c.startInstall)},
		{Pattern: "GET " + pathGorgiasCallback, Handler: http.HandlerFunc(c.gorgiasCallback)},
		{Pattern: "GET " + pathYotpoCallback, Handler: http.HandlerFunc(c.yotpoCallback)},
		{Pattern: "POST /hooks/gorgias/" + Name + "/{installation}/messages", Handler: http.HandlerFunc(c.messageHook)},
		{Pattern: "POST /hooks/yotpo/" + Name + "/{installation}/{token}", Handler: http.HandlerFunc(c.escalationHook)},
	}
}

// hubURL is the configured public URL, else the request's own origin.
func (c *Connector) hubURL(r *http.Request) string {
	if u := c.config().PublicURL; u != "" {
		return u
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (c *Connector) gorgiasOAuth(base, hub string) *gorgias.OAuth {
	cfg := c.config()
	return gorgias.NewOAuth(base, gorgias.OAuthConfig{ClientID: cfg.GorgiasClientID, ClientSecret: cfg.GorgiasClientSecret,
		RedirectURL: hub + pathGorgiasCallback}, c.d.Clients.HTTP)
}

// startInstall is step 1: /install/yotpo?account=<subdomain> → Gorgias
// consent.
func (c *Connector) startInstall(w http.ResponseWriter, r *http.Request) {
	cfg := c.config()
	if cfg.GorgiasClientID == "" || cfg.GorgiasClientSecret == "" {
		c.page(w, http.StatusServiceUnavailable, "Not available", "The Yotpo app is not configured on this hub yet. Ask the operator to set its Gorgias app credentials.", "")
		return
	}
	account := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("account")))
	account = strings.TrimSuffix(account, ".gorgias.com")
	if !validAccount(account) {
		c.page(w, http.StatusBadRequest, "Unknown account", "Start the install from Gorgias: Settings > App store > Yotpo (account=<your subdomain>).", "")
		return
	}
	base, err := c.gorgiasBase(account)
	if err != nil {
		c.page(w, http.StatusBadRequest, "Unknown account", "This Gorgias account cannot be reached from this hub.", "")
		return
	}
	hub := c.hubURL(r)
	nonce := newToken()[:32]
	http.SetCookie(w, &http.Cookie{Name: flowCookie, Value: nonce, Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteLaxMode, MaxAge: int(cfg.StateTTL.Seconds())})
	st := c.signState(flowState{Account: account, Stage: stageGorgias, Expires: c.d.Now().Add(cfg.StateTTL).Unix(), Nonce: nonce, Hub: hub})
	http.Redirect(w, r, c.gorgiasOAuth(base, hub).AuthCodeURL(st, ""), http.StatusFound)
}

// gorgiasCallback is step 2: the Gorgias code is exchanged, the tokens
// stored encrypted in the account's Gorgias connection, then → Yotpo.
func (c *Connector) gorgiasCallback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	st, err := c.checkState(r, q.Get("state"), stageGorgias)
	if err != nil {
		c.page(w, http.StatusUnauthorized, "Install link expired", domain.ErrorMessage(err), "")
		return
	}
	if e := q.Get("error"); e != "" || q.Get("code") == "" {
		c.page(w, http.StatusBadRequest, "Gorgias access was not granted", "The install was cancelled in Gorgias. Repeat steps 1 through 4 to install.", "")
		return
	}
	ctx := r.Context()
	base, err := c.gorgiasBase(st.Account)
	if err != nil {
		c.fail(w, r, "gorgias base", err)
		return
	}
	tok, err := c.gorgiasOAuth(base, st.Hub).Exchange(ctx, q.Get("code"))
	if err != nil {
		c.fail(w, r, "gorgias code exchange", err)
		return
	}
	if err := c.saveGorgias(ctx, st.Account, base, st.Hub, tok); err != nil {
		c.fail(w, r, "saving the gorgias connection", err)
		return
	}
	ybase, err := c.yotpoBase()
	if err != nil {
		c.fail(w, r, "yotpo base", err)
		return
	}
	cn, err := yotpo.NewConnect(yotpo.ConnectConfig{BaseURL: ybase, ClientID: c.config().YotpoClientID, HTTPClient: c.d.Clients.HTTP, Now: c.d.Now, Logger: c.d.Logger})
	if err != nil {
		c.fail(w, r, "yotpo connect", err)
		return
	}
	next := st
	next.Stage, next.Expires = stageYotpo, c.d.Now().Add(c.config().StateTTL).Unix()
	http.Redirect(w, r, cn.AuthorizeURL(st.Hub+pathYotpoCallback, c.signState(next)), http.StatusFound)
}

// yotpoCallback is step 3: the Yotpo code is exchanged for the products'
// credentials, the installation is created (or found) and installed, and
// the confirmation page is shown.
func (c *Connector) yotpoCallback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	st, err := c.checkState(r, q.Get("state"), stageYotpo)
	if err != nil {
		c.page(w, http.StatusUnauthorized, "Install link expired", domain.ErrorMessage(err), "")
		return
	}
	if e := q.Get("error"); e != "" || q.Get("code") == "" {
		c.page(w, http.StatusBadRequest, "Yotpo was not connected", "Connect was cancelled in Yotpo. Repeat steps 1 through 4 to install.", "")
		return
	}
	ctx := r.Context()
	ybase, err := c.yotpoBase()
	if err != nil {
		c.fail(w, r, "yotpo base", err)
		return
	}
	cfg := c.config()
	cn, err := yotpo.NewConnect(yotpo.ConnectConfig{BaseURL: ybase, ClientID: cfg.YotpoClientID, HTTPClient: c.d.Clients.HTTP, Now: c.d.Now, Logger: c.d.Logger})
	if err != nil {
		c.fail(w, r, "yotpo connect", err)
		return
	}
	grant, err := cn.Exchange(ctx, q.Get("code"), st.Hub+pathYotpoCallback)
	if err != nil {
		c.fail(w, r, "yotpo code exchange", err)
		return
	}
	if !grant.ReviewsEnabled && !grant.LoyaltyEnabled {
		c.page(w, http.StatusBadRequest, "No Yotpo product", "This Yotpo account has neither Reviews nor Loyalty & Referrals.", "")
		return
	}
	in, err := c.saveYotpo(ctx, st.Account, ybase, st.Hub, grant)
	if err != nil {
		c.fail(w, r, "saving the yotpo connection", err)
		return
	}
	if err := c.Install(ctx, in); err != nil {
		in.StateReason = "install failed: " + domain.ErrorMessage(connector.CallerError(err))
		_ = c.d.Store.UpdateInstallation(context.WithoutCancel(ctx), in)
		c.fail(w, r, "install", err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: flowCookie, Value: "", Path: "/", MaxAge: -1})
	gbase, _ := c.gorgiasBase(st.Account)
	c.page(w, http.StatusOK, "Yotpo is connected", fmt.Sprintf("The integration %q is installed in %s.gorgias.com. Yotpo data appears in the customer sidebar after the next message of each customer.", integrationName(in), st.Account), gbase+"/app")
}

// saveGorgias creates the account's merchant and Gorgias connection, or
// stores the new tokens in the existing one (the hook token is kept).
func (c *Connector) saveGorgias(ctx context.Context, account, base, hub string, tok *oauth2.Token) error {
	if err := c.d.Store.CreateMerchant(ctx, &domain.Merchant{ID: merchantID(account), Name: account + ".gorgias.com (Gorgias app store)"}); err != nil && !domain.IsConflict(err) {
		return err
	}
	cfg := c.config()
	conn := &domain.Connection{ID: connID(account, domain.VendorGorgias), MerchantID: merchantID(account), Vendor: domain.VendorGorgias, Account: account,
		Config:  map[string]string{"client_id": cfg.GorgiasClientID, "redirect_url": hub + pathGorgiasCallback},
		Secrets: domain.Secrets{"client_secret": cfg.GorgiasClientSecret, "hook_token": newToken()}}
	if base != gorgias.BaseURLFor(account) {
		conn.Config["base_url"] = base
	}
	setTokens(conn, tok)
	err := c.d.Store.CreateConnection(ctx, conn)
	if !domain.IsConflict(err) {
		return err
	}
	cur, err := c.d.Store.GetConnection(ctx, conn.MerchantID, conn.ID)
	if err != nil {
		return err
	}
	if t := cur.Secrets["hook_token"]; t != "" {
		conn.Secrets["hook_token"] = t
	}
	return c.d.Store.UpdateConnection(ctx, conn)
}

func setTokens(conn *domain.Connection, tok *oauth2.Token) {
	conn.Secrets["access_token"] = tok.AccessToken
	if tok.RefreshToken != "" {
		conn.Secrets["refresh_token"] = tok.RefreshToken
	}
	if !tok.Expiry.IsZero() {
		conn.Config["token_expiry"] = tok.Expiry.UTC().Format(time.RFC3339)
	}
}

// saveYotpo creates or updates the Yotpo connection from the grant and
// finds or creates the account's one installation (pending until Install).
func (c *Connector) saveYotpo(ctx context.Context, account, base, hub string, g yotpo.Grant) (*domain.Installation, error) {
	mid := merchantID(account)
	conn := &domain.Connection{ID: connID(account, domain.VendorYotpo), MerchantID: mid, Vendor: domain.VendorYotpo,
		Config: map[string]string{"client_id": c.config().YotpoClientID}, Secrets: domain.Secrets{"escalation_token": newToken()}}
	if base != yotpo.DefaultReviewsBaseURL {
		conn.Config["base_url"] = base
	}
	applyGrant(conn, g)
	cur, err := c.d.Store.GetConnection(ctx, mid, conn.ID)
	switch {
	case err == nil:
		for _, k := range []string{"escalation_token", "webhook_secret"} {
			if v := cur.Secrets[k]; v != "" {
				conn.Secrets[k] = v
			}
		}
		err = c.d.Store.UpdateConnection(ctx, conn)
	case domain.IsNotFound(err):
		err = c.d.Store.CreateConnection(ctx, conn)
	}
	if err != nil {
		return nil, err
	}
	in, err := c.d.Store.GetInstallation(ctx, mid, installationID(account))
	if domain.IsNotFound(err) {
		in = &domain.Installation{ID: installationID(account), MerchantID: mid, Connector: Name, State: domain.InstallationPending,
			Connections: map[string]string{domain.VendorGorgias: connID(account, domain.VendorGorgias), domain.VendorYotpo: conn.ID},
			Settings:    map[string]string{SettingHubURL: hub, SettingStoreName: g.StoreName}}
		if err = c.d.Store.CreateInstallation(ctx, in); domain.IsConflict(err) {
			in, err = c.d.Store.GetInstallation(ctx, mid, installationID(account))
		}
	}
	if err != nil {
		return nil, err
	}
	if in.Settings == nil {
		in.Settings = map[string]string{}
	}
	in.Settings[SettingHubURL] = hub
	if g.StoreName != "" {
		in.Settings[SettingStoreName] = g.StoreName
	}
	return in, nil
}

// applyGrant writes the grant's product credentials into the connection.
// A product the grant lacks is removed, so its section stops syncing.
func applyGrant(conn *domain.Connection, g yotpo.Grant) {
	for _, k := range []string{"app_key", "loyalty_guid"} {
		delete(conn.Config, k)
	}
	for _, k := range []string{"secret", "loyalty_api_key"} {
		delete(conn.Secrets, k)
	}
	if g.ReviewsEnabled {
		conn.Config["app_key"], conn.Secrets["secret"] = g.AppKey, g.Secret
	}
	if g.LoyaltyEnabled {
		conn.Config["loyalty_guid"], conn.Secrets["loyalty_api_key"] = g.LoyaltyGUID, g.LoyaltyAPIKey
	}
	if g.RefreshToken != "" {
		conn.Secrets["refresh_token"] = g.RefreshToken
	}
	conn.Account = g.AppKey
	if conn.Account == "" {
		conn.Account = g.LoyaltyGUID
	}
}

// fail logs the cause and shows a page that says what to do.
func (c *Connector) fail(w http.ResponseWriter, r *http.Request, step string, err error) {
	c.d.Logger.WarnContext(r.Context(), "yotpo-gorgias install failed", slog.String("step", step), slog.String("error", err.Error()))
	status := http.StatusBadGateway
	if errors.Is(err, errBadState) {
		status = http.StatusUnauthorized
	}
	c.page(w, status, "The install did not finish", "If the confirmation screen does not appear, repeat steps 1 through 4: starting again is safe.", "")
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}} — Yotpo for Gorgias</title>
<style>body{font-family:system-ui,sans-serif;background:#f4f5f7}main{max-width:520px;margin:60px auto;background:#fff;border-radius:8px;padding:32px}</style></head>
<body><main><h1 data-field="title">{{.Title}}</h1><p data-field="message">{{.Message}}</p>{{if .Link}}<p><a href="{{.Link}}">Back to Gorgias</a></p>{{end}}</main></body></html>`))

func (c *Connector) page(w http.ResponseWriter, status int, title, msg, link string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = pageTmpl.Execute(w, map[string]string{"Title": title, "Message": msg, "Link": link})
}
