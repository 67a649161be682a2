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
	StoreName      string `json:"store_name"`
	AppKey         string `json:"app_key"`
	Secret         string `json:"secret"`
	LoyaltyGUID    string `json:"loyalty_guid"`
	LoyaltyAPIKey  string `json:"loyalty_api_key"`
	AccessToken    string `json:"access_token"`
	ReviewsEnabled bool   `json:"reviews_enabled"`
	LoyaltyEnabled bool   `json:"loyalty_enabled"`
}

// Exchange trades the callback code for a Grant.
func (c *Connect) Exchange(ctx context.Context, code, redirectURI string) (Grant, error) {
	if code == "" {
		return Grant{}, domain.Errorf(domain.EINVALID, "yotpo connect: code is required")
	}
	body := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}, "client_id": {c.cfg.ClientID}}
	resp, err := c.c.Do(ctx, &outbound.Request{Method: http.MethodPost, Path: "/oauth/token", Endpoint: "POST /oauth/token",
		ContentType: "application/x-www-form-urlencoded", Body: []byte(body.Encode())})
	if err != nil {
		if outbound.StatusOf(err) == http.StatusBadRequest {
			return Grant{}, domain.WrapError(domain.EINVALID, "yotpo rejected the connect code", err)
		}
		return Grant{}, fmt.Errorf("error exchanging yotpo connect code: %w", err)
	}
	var g Grant
	if err := resp.DecodeJSON(&g); err != nil {
		return Grant{}, fmt.Errorf("error exchanging yotpo connect code: %w", err)
	}
	if g.AppKey != "" && g.Secret != "" {
		g.ReviewsEnabled = true
	}
	if g.LoyaltyGUID != "" && g.LoyaltyAPIKey != "" {
		g.LoyaltyEnabled = true
	}
	return g, nil
}
