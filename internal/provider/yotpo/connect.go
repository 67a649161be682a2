package yotpo

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"switchyard/internal/domain"
	"switchyard/internal/outbound"
)

// ConnectConfig configures the Connect (install) helpers. The authorize
// page and code exchange are assumptions (docs/assumptions/yotpo.md).
type ConnectConfig struct {
	// BaseURL is the Reviews host (default DefaultReviewsBaseURL).
	BaseURL string
	// ClientID identifies switchyard to Yotpo.
	ClientID   string
	HTTPClient *http.Client
	Recorder   outbound.Recorder
	Now        func() time.Time
	Logger     *slog.Logger
}

// Connect builds the Connect URL and exchanges the returned code.
type Connect struct {
	cfg ConnectConfig
	c   *outbound.Client
}

// NewConnect returns the Connect helpers.
func NewConnect(cfg ConnectConfig) (*Connect, error) {
	if cfg.ClientID == "" {
		return nil, domain.Errorf(domain.EINVALID, "yotpo connect: client id is required")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultReviewsBaseURL
	}
	c, err := outbound.NewClient(outbound.Config{Vendor: domain.VendorYotpo, Account: "connect", BaseURL: cfg.BaseURL,
		HTTPClient: cfg.HTTPClient, Recorder: cfg.Recorder, Now: cfg.Now, Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("error creating yotpo connect client: %w", err)
	}
	cfg.BaseURL = c.BaseURL()
	return &Connect{cfg: cfg, c: c}, nil
}

// AuthorizeURL is where the merchant is sent to log in and press Connect.
func (c *Connect) AuthorizeURL(redirectURI, state string) string {
	v := url.Values{"client_id": {c.cfg.ClientID}, "redirect_uri": {redirectURI}, "state": {state}, "response_type": {"code"}}
	return strings.TrimRight(c.cfg.BaseURL, "/") + "/oauth/authorize?" + v.Encode()
}

// Grant is what the code exchange returns: the credentials of the Yotpo
// products the merchant has. A product not enabled has empty fields.
type Grant struct {
	StoreName     string `json:"store_name"`
	AppKey        string `json:"app_key"`
	Secret        string `json:"secret"`
	LoyaltyGUID   string `json:"loyalty_guid"`
	LoyaltyAPIKey string `json:"loyalty_api_key"`
	// RefreshToken renews the grant (Refresh): a product the merchant adds
	// later appears in the renewed grant, with no new Connect.
	RefreshToken   string `json:"refresh_token"`
	AccessToken    string `json:"access_token"`
	ReviewsEnabled bool   `json:"reviews_enabled"`
	LoyaltyEnabled bool   `json:"loyalty_enabled"`
}

// Exchange trades the callback code for a Grant.
func (c *Connect) Exchange(ctx context.Context, code, redirectURI string) (Grant, error) {
	if code == "" {
		return Grant{}, domain.Errorf(domain.EINVALID, "yotpo connect: code is required")
	}
	return c.grant(ctx, map[string]string{"grant_type": "authorization_code", "code": code, "redirect_uri": redirectURI, "client_id": c.cfg.ClientID}, "connect code")
}

// Refresh renews a grant with its refresh token: the answer lists the
// products the merchant has now.
func (c *Connect) Refresh(ctx context.Context, refreshToken string) (Grant, error) {
	if refreshToken == "" {
		return Grant{}, domain.Errorf(domain.EINVALID, "yotpo connect: refresh token is required")
	}
	return c.grant(ctx, map[string]string{"grant_type": "refresh_token", "refresh_token": refreshToken, "client_id": c.cfg.ClientID}, "connect refresh token")
}

func (c *Connect) grant(ctx context.Context, body map[string]string, what string) (Grant, error) {
	resp, err := c.c.Do(ctx, &outbound.Request{Method: http.MethodPost, Path: "/oauth/token", Endpoint: "POST /oauth/token", JSON: body})
	if err != nil {
		if outbound.StatusOf(err) == http.StatusBadRequest {
			return Grant{}, domain.WrapError(domain.EINVALID, "yotpo rejected the "+what, err)
		}
		return Grant{}, fmt.Errorf("error exchanging yotpo %s: %w", what, err)
	}
	var g Grant
	if err := resp.DecodeJSON(&g); err != nil {
		return Grant{}, fmt.Errorf("error exchanging yotpo %s: %w", what, err)
	}
	if g.AppKey != "" && g.Secret != "" {
		g.ReviewsEnabled = true
	}
	if g.LoyaltyGUID != "" && g.LoyaltyAPIKey != "" {
		g.LoyaltyEnabled = true
	}
	return g, nil
}
