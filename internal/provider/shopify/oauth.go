// Package shopify is switchyard's Shopify Admin adapter: the OAuth install
// helpers (authorize URL, query HMAC verification, code exchange), a
// GraphQL client that honours the cost-based throttle, the orders-by-email
// and final-sale helpers used by the Together connector, and the webhook
// verifier. Unconfirmed contract points are in docs/assumptions/shopify.md.
package shopify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"switchyard/internal/baseservice"
	"switchyard/internal/domain"
	"switchyard/internal/outbound"
)

// shopRE is the accepted shop hostname (assumption: Shopify's libraries use
// this pattern; the exact rule is unconfirmed).
var shopRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9\-]*\.myshopify\.com$`)

// ValidShop reports whether shop is a <name>.myshopify.com hostname.
func ValidShop(shop string) bool { return shopRE.MatchString(shop) }

// OAuth errors.
var (
	ErrMissingHMAC = errors.New("missing hmac parameter")
	ErrBadHMAC     = errors.New("hmac does not match")
	ErrStaleQuery  = errors.New("timestamp is too old or in the future")
	ErrBadState    = errors.New("state does not match")
	ErrBadShop     = errors.New("shop is not a myshopify.com domain")
)

// OAuthConfig configures the install helpers.
type OAuthConfig struct {
	// ClientID and ClientSecret are the app's credentials.
	ClientID     string
	ClientSecret string
	// PreviousSecrets are still accepted when verifying (rotation).
	PreviousSecrets []string
	// Scopes are requested at install (e.g. read_orders, read_customers).
	Scopes []string
	// RedirectURL is the OAuth callback.
	RedirectURL string
	// AdminURL maps a shop to its admin base URL (default "https://"+shop);
	// tests and the demo point it at the emulator.
	AdminURL func(shop string) string
	// MaxAge bounds the age of a signed query's timestamp (default 24 h;
	// negative disables the check).
	MaxAge     time.Duration
	HTTPClient *http.Client
	Recorder   outbound.Recorder
	Now        func() time.Time
	Logger     *slog.Logger
}

// OAuth implements the authorization-code grant.
type OAuth struct {
	baseservice.Archetype
	cfg OAuthConfig
}

// NewOAuth validates cfg.
func NewOAuth(cfg OAuthConfig) (*OAuth, error) {
	arch := baseservice.New(cfg.Logger, cfg.Now)
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, domain.Errorf(domain.EINVALID, "shopify oauth: client id and secret are required")
	}
	if cfg.AdminURL == nil {
		cfg.AdminURL = func(shop string) string { return "https://" + shop }
	}
	if cfg.MaxAge == 0 {
		cfg.MaxAge = 24 * time.Hour
	}
	return &OAuth{Archetype: arch, cfg: cfg}, nil
}

// AuthorizeURL is where the merchant approves the install. perUser asks
// for an online (per-user) token.
func (o *OAuth) AuthorizeURL(shop, state string, perUser bool) (string, error) {
	if !ValidShop(shop) {
		return "", domain.WrapError(domain.EINVALID, "invalid shop domain", ErrBadShop)
	}
	if state == "" {
		return "", domain.Errorf(domain.EINVALID, "shopify oauth: state is required")
	}
	v := url.Values{"client_id": {o.cfg.ClientID}, "scope": {strings.Join(o.cfg.Scopes, ",")},
		"redirect_uri": {o.cfg.RedirectURL}, "state": {state}}
	if perUser {
		v.Set("grant_options[]", "per-user")
	}
	return strings.TrimRight(o.cfg.AdminURL(shop), "/") + "/admin/oauth/authorize?" + v.Encode(), nil
}

// SignQuery returns the hex HMAC-SHA256 of a query as Shopify signs it:
// every parameter except hmac and signature, sorted by key, joined as
// k=v&k=v with "%" and "&" (and "=" in keys) percent-escaped (repeated keys
// as ["a", "b"]).
func SignQuery(secret string, q url.Values) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(queryMessage(q)))
	return hex.EncodeToString(m.Sum(nil))
}

func queryMessage(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		if k != "hmac" && k != "signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	// Shopify's verification rule writes "%" and "&" as %25 and %26 in keys
	// and values, and "=" as %3D in keys.
	queryKeyEscaper := strings.NewReplacer("%", "%25", "&", "%26", "=", "%3D")
	queryValueEscaper := strings.NewReplacer("%", "%25", "&", "%26")
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		vs := q[k]
		v := ""
		if len(vs) == 1 {
			v = vs[0]
		} else {
			qs := make([]string, len(vs))
			for i, x := range vs {
				qs[i] = `"` + x + `"`
			}
			v = "[" + strings.Join(qs, ", ") + "]"
		}
		parts = append(parts, queryKeyEscaper.Replace(strings.TrimSuffix(k, "[]"))+"="+queryValueEscaper.Replace(v))
	}
	return strings.Join(parts, "&")
}

// VerifyQueryHMAC checks the hmac parameter of an install request or OAuth
// callback against several secrets, in constant time.
func VerifyQueryHMAC(q url.Values, secrets []string) error {
	got := strings.ToLower(strings.TrimSpace(q.Get("hmac")))
	if got == "" {
		return ErrMissingHMAC
	}
	raw, err := hex.DecodeString(got)
	if err != nil || len(raw) != sha256.Size {
		return ErrBadHMAC
	}
	msg := []byte(queryMessage(q))
	ok, n := 0, 0
	for _, s := range secrets {
		if s == "" {
			continue
		}
		n++
		m := hmac.New(sha256.New, []byte(s))
		m.Write(msg)
		ok |= subtle.ConstantTimeCompare(m.Sum(nil), raw)
	}
	if n == 0 {
		return errors.New("no client secret configured")
	}
	if ok == 0 {
		return ErrBadHMAC
	}
	return nil
}

// VerifyQuery checks an install request or callback: the shop hostname,
// the hmac (current or previous secrets) and the timestamp's age.
func (o *OAuth) VerifyQuery(q url.Values) error {
	if !ValidShop(q.Get("shop")) {
		return domain.WrapError(domain.EUNAUTHORIZED, "invalid shop", ErrBadShop)
	}
	if err := VerifyQueryHMAC(q, append([]string{o.cfg.ClientSecret}, o.cfg.PreviousSecrets...)); err != nil {
		return domain.WrapError(domain.EUNAUTHORIZED, "invalid Shopify signature", err)
	}
	if o.cfg.MaxAge > 0 {
		ts, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
		if err != nil {
			return domain.WrapError(domain.EUNAUTHORIZED, "invalid Shopify timestamp", ErrStaleQuery)
		}
		age := o.Now().Sub(time.Unix(ts, 0))
		if age > o.cfg.MaxAge || age < -5*time.Minute {
			return domain.WrapError(domain.EUNAUTHORIZED, "stale Shopify request", ErrStaleQuery)
		}
	}
	return nil
}

// AssociatedUser is the staff member of an online token.
type AssociatedUser struct {
	ID           int64  `json:"id"`
	Email        string `json:"email"`
	FirstName    string `json:"first_name"`
	LastName     string `json:"last_name"`
	AccountOwner bool   `json:"account_owner"`
}

// Token is an access token and what it grants. An expiring offline token
// (requested with expiring=1) has ExpiresIn (3600 s) and a refresh token
// with its own lifetime; Shopify refuses non-expiring offline tokens of
// public apps from 2027-01-01.
type Token struct {
	AccessToken           string          `json:"access_token"`
	Scope                 string          `json:"scope"`
	ExpiresIn             int             `json:"expires_in,omitempty"`
	RefreshToken          string          `json:"refresh_token,omitempty"`
	RefreshTokenExpiresIn int             `json:"refresh_token_expires_in,omitempty"`
	AssociatedUser        *AssociatedUser `json:"associated_user,omitempty"`
}

// Scopes splits Scope.
func (t Token) Scopes() []string {
	var out []string
	for _, s := range strings.Split(t.Scope, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Exchange trades the callback code for a token: an expiring offline token
// with a refresh token (expiring=1), or an online token when the install
// asked for per-user access.
func (o *OAuth) Exchange(ctx context.Context, shop, code string) (Token, error) {
	if !ValidShop(shop) {
		return Token{}, domain.WrapError(domain.EINVALID, "invalid shop domain", ErrBadShop)
	}
	c, err := outbound.NewClient(outbound.Config{Vendor: domain.VendorShopify, Account: shop, BaseURL: o.cfg.AdminURL(shop),
		HTTPClient: o.cfg.HTTPClient, Recorder: o.cfg.Recorder, Now: o.Now, Logger: o.Logger})
	if err != nil {
		return Token{}, fmt.Errorf("error creating shopify oauth client: %w", err)
	}
	resp, err := c.Do(ctx, &outbound.Request{Method: http.MethodPost, Path: "/admin/oauth/access_token", NoAuth: true,
		Endpoint: "POST /admin/oauth/access_token",
		JSON:     map[string]string{"client_id": o.cfg.ClientID, "client_secret": o.cfg.ClientSecret, "code": code, "expiring": "1"}})
	if err != nil {
		if outbound.StatusOf(err) == http.StatusBadRequest {
			return Token{}, domain.WrapError(domain.EINVALID, "Shopify rejected the authorization code", err)
		}
		return Token{}, fmt.Errorf("error exchanging shopify code: %w", err)
	}
	var t Token
	if err := resp.DecodeJSON(&t); err != nil {
		return Token{}, fmt.Errorf("error exchanging shopify code: %w", err)
	}
	if t.AccessToken == "" {
		return Token{}, fmt.Errorf("error exchanging shopify code: no access_token in response")
	}
	return t, nil
}

// Callback handles the OAuth redirect: it verifies the query (hmac, shop,
// timestamp), compares state with the expected nonce in constant time and
// exchanges the code. It returns the shop and its token.
func (o *OAuth) Callback(ctx context.Context, q url.Values, wantState string) (string, Token, error) {
	if err := o.VerifyQuery(q); err != nil {
		return "", Token{}, err
	}
	if wantState == "" || subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(wantState)) != 1 {
		return "", Token{}, domain.WrapError(domain.EUNAUTHORIZED, "OAuth state mismatch", ErrBadState)
	}
	if q.Get("code") == "" {
		return "", Token{}, domain.Errorf(domain.EINVALID, "callback has no code")
	}
	shop := q.Get("shop")
	t, err := o.Exchange(ctx, shop, q.Get("code"))
	return shop, t, err
}
