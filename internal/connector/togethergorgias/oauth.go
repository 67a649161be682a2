package togethergorgias

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"switchyard/internal/domain"
	"switchyard/internal/provider/shopify"
)

// stateTTL bounds the time between the authorize link and the callback.
const stateTTL = 30 * time.Minute

// oauthState is what the OAuth state parameter carries: which installation
// the callback is for. It is signed with the hub's key and the
// connection's client secret (stateKey), so nothing is stored between the
// link and the callback and only the hub can mint one.
type oauthState struct {
	Vendor, Installation, Merchant string
	Expires                        time.Time
	Nonce                          string
}

// stateKey keys a state's MAC with the hub's own key (derived from its
// secret key, which no merchant knows) and the connection's client secret
// (merchants of one hub may share an app, and so its secret).
func (c *Connector) stateKey(clientSecret string) string {
	var hub []byte
	if c.d.Clients != nil {
		hub = c.d.Clients.FingerprintKey
	}
	return hex.EncodeToString(hub) + "|" + clientSecret
}

func stateMAC(secret, payload string) []byte {
	m := hmac.New(sha256.New, []byte("together-gorgias oauth state v1:"+secret))
	m.Write([]byte(payload))
	return m.Sum(nil)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s oauthState) sign(secret string) string {
	payload := strings.Join([]string{"v1", s.Vendor, s.Installation, s.Merchant, strconv.FormatInt(s.Expires.Unix(), 10), s.Nonce}, "|")
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + base64.RawURLEncoding.EncodeToString(stateMAC(secret, payload))
}

// parseState reads a state without trusting it (verify checks the MAC).
func parseState(state string) (oauthState, string, []byte, bool) {
	p, m, ok := strings.Cut(state, ".")
	if !ok || len(state) > 1024 {
		return oauthState{}, "", nil, false
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p)
	mac, err2 := base64.RawURLEncoding.DecodeString(m)
	if err1 != nil || err2 != nil {
		return oauthState{}, "", nil, false
	}
	f := strings.Split(string(payload), "|")
	if len(f) != 6 || f[0] != "v1" {
		return oauthState{}, "", nil, false
	}
	exp, err := strconv.ParseInt(f[4], 10, 64)
	if err != nil {
		return oauthState{}, "", nil, false
	}
	return oauthState{Vendor: f[1], Installation: f[2], Merchant: f[3], Expires: time.Unix(exp, 0), Nonce: f[5]}, string(payload), mac, true
}

// Links are where the merchant authorizes the app in each vendor.
type Links struct {
	GorgiasURL string `json:"gorgias_url,omitempty"`
	ShopifyURL string `json:"shopify_url,omitempty"`
	// ExpiresAt bounds the links' use.
	ExpiresAt string `json:"expires_at"`
}

// authorizeLinks answers the OAuth authorize URLs of both connections.
func (c *Connector) authorizeLinks(r *http.Request, in *domain.Installation) (int, any, error) {
	ctx := r.Context()
	exp := c.d.Now().Add(stateTTL)
	out := Links{ExpiresAt: exp.UTC().Format(time.RFC3339)}

	gconn, err := c.d.Store.GetConnection(ctx, in.MerchantID, in.Connections[domain.VendorGorgias])
	if err != nil {
		return 0, nil, err
	}
	if gconn.Secrets["api_key"] == "" {
		if !strings.HasSuffix(gconn.Config["redirect_url"], CallbackGorgias) {
			return 0, nil, domain.Errorf(domain.EINVALID, "the Gorgias connection's redirect_url must be this hub's %s", CallbackGorgias)
		}
		gk, err := c.gorgiasOAuth(ctx, in.MerchantID, gconn.ID)
		if err != nil {
			return 0, nil, err
		}
		st := oauthState{Vendor: domain.VendorGorgias, Installation: in.ID, Merchant: in.MerchantID, Expires: exp, Nonce: randomHex(12)}
		out.GorgiasURL = gk.oauth.AuthCodeURL(st.sign(c.stateKey(gconn.Secrets["client_secret"])), st.Nonce)
	}

	sconn, err := c.d.Store.GetConnection(ctx, in.MerchantID, in.Connections[domain.VendorShopify])
	if err != nil {
		return 0, nil, err
	}
	if !strings.HasSuffix(sconn.Config["redirect_url"], CallbackShopify) {
		return 0, nil, domain.Errorf(domain.EINVALID, "the Shopify connection's redirect_url must be this hub's %s", CallbackShopify)
	}
	sk, err := c.shopify(ctx, in.MerchantID, sconn.ID)
	if err != nil {
		return 0, nil, err
	}
	st := oauthState{Vendor: domain.VendorShopify, Installation: in.ID, Merchant: in.MerchantID, Expires: exp, Nonce: randomHex(12)}
	if out.ShopifyURL, err = sk.oauth.AuthorizeURL(strings.ToLower(sconn.Account), st.sign(c.stateKey(sconn.Secrets["client_secret"])), false); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, out, nil
}

// errBadState is every reason a callback's state is refused.
var errBadState = domain.Errorf(domain.EUNAUTHORIZED, "the authorization link is invalid or expired; start again from the installation")

// verifyState checks a callback's state against the connection's client
// secret and returns its installation and that connection.
func (c *Connector) verifyState(ctx context.Context, vendor, state string) (*domain.Installation, *domain.Connection, error) {
	st, payload, mac, ok := parseState(state)
	if !ok || st.Vendor != vendor || !c.d.Now().Before(st.Expires) {
		return nil, nil, errBadState
	}
	// The state is not trusted yet: the id only names whose secret checks it.
	in, err := c.d.Store.LookupInstallation(ctx, st.Installation)
	if err != nil || in.MerchantID != st.Merchant || in.Connector != Name || in.State == domain.InstallationUninstalled {
		return nil, nil, errBadState
	}
	conn, err := c.d.Store.GetConnection(ctx, in.MerchantID, in.Connections[vendor])
	if err != nil || conn.Secrets["client_secret"] == "" {
		return nil, nil, errBadState
	}
	if !hmac.Equal(mac, stateMAC(c.stateKey(conn.Secrets["client_secret"]), payload)) {
		return nil, nil, errBadState
	}
	return in, conn, nil
}

func (c *Connector) callbackDone(w http.ResponseWriter, vendor string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "Together is connected to your %s account. You can close this window.\n", vendor)
}

func (c *Connector) callbackFailed(w http.ResponseWriter, r *http.Request, vendor string, err error) {
	status := http.StatusBadRequest
	msg := domain.ErrorMessage(err)
	switch domain.ErrorCode(err) {
	case domain.EUNAUTHORIZED:
		status = http.StatusUnauthorized
	case domain.EINVALID, domain.ENOTFOUND:
	default:
		status, msg = http.StatusBadGateway, "the "+vendor+" authorization could not be completed; try again later"
		c.d.Logger.WarnContext(r.Context(), "together-gorgias: oauth callback failed", slog.String("vendor", vendor), slog.String("error", err.Error()))
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintln(w, msg)
}

// gorgiasCallback ends the Gorgias authorization: code → access and
// refresh tokens, stored (encrypted) in the Gorgias connection.
func (c *Connector) gorgiasCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	in, conn, err := c.verifyState(ctx, domain.VendorGorgias, q.Get("state"))
	if err != nil {
		c.callbackFailed(w, r, "Gorgias", err)
		return
	}
	if e := q.Get("error"); e != "" {
		c.callbackFailed(w, r, "Gorgias", domain.Errorf(domain.EINVALID, "Gorgias did not authorize the app (%s)", url.QueryEscape(e)))
		return
	}
	if q.Get("code") == "" {
		c.callbackFailed(w, r, "Gorgias", domain.Errorf(domain.EINVALID, "the callback has no code"))
		return
	}
	gk, err := c.gorgiasOAuth(ctx, in.MerchantID, conn.ID)
	if err != nil {
		c.callbackFailed(w, r, "Gorgias", err)
		return
	}
	tok, err := gk.oauth.Exchange(ctx, q.Get("code"))
	if err != nil {
		c.callbackFailed(w, r, "Gorgias", domain.WrapError(domain.EINVALID, "Gorgias refused the authorization code; start again", err))
		return
	}
	if err := gk.tokens.Save(ctx, tok); err != nil {
		c.callbackFailed(w, r, "Gorgias", err)
		return
	}
	c.d.Logger.InfoContext(ctx, "together-gorgias: gorgias connected", slog.String("installation_id", in.ID))
	c.callbackDone(w, "Gorgias")
}

// shopifyCallback ends the Shopify install: the query's HMAC (app secret),
// shop and timestamp are verified, then the code is traded for an
// expiring offline token whose refresh token and expiries are stored.
func (c *Connector) shopifyCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	in, conn, err := c.verifyState(ctx, domain.VendorShopify, q.Get("state"))
	if err != nil {
		c.callbackFailed(w, r, "Shopify", err)
		return
	}
	if !strings.EqualFold(q.Get("shop"), conn.Account) {
		c.callbackFailed(w, r, "Shopify", domain.Errorf(domain.EUNAUTHORIZED, "the callback is for another shop than the installation's"))
		return
	}
	sk, err := c.shopify(ctx, in.MerchantID, conn.ID)
	if err != nil {
		c.callbackFailed(w, r, "Shopify", err)
		return
	}
	now := c.d.Now()
	_, tok, err := sk.oauth.Callback(ctx, q, q.Get("state"))
	if err != nil {
		if errors.Is(err, shopify.ErrBadHMAC) || errors.Is(err, shopify.ErrMissingHMAC) || errors.Is(err, shopify.ErrStaleQuery) {
			err = domain.WrapError(domain.EUNAUTHORIZED, "the Shopify callback is not signed by Shopify", err)
		}
		c.callbackFailed(w, r, "Shopify", err)
		return
	}
	if tok.RefreshToken == "" {
		c.d.Logger.WarnContext(ctx, "together-gorgias: shopify answered a non-expiring token; it will stop working for public apps on 2027-01-01",
			slog.String("installation_id", in.ID))
	}
	if err := sk.tokens.Save(ctx, tok.OAuth2(now)); err != nil {
		c.callbackFailed(w, r, "Shopify", err)
		return
	}
	c.d.Logger.InfoContext(ctx, "together-gorgias: shopify connected", slog.String("installation_id", in.ID))
	c.callbackDone(w, "Shopify")
}
