package yotpo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"switchyard/internal/domain"
	"switchyard/internal/outbound"
)

// DefaultLoyaltyBaseURL is the production Loyalty API host (paths carry /api/v2).
const DefaultLoyaltyBaseURL = "https://loyalty.yotpo.com"

// LoyaltyBudget is the default Loyalty budget: Yotpo publishes no number,
// so 8 req/s with a burst of 10 per GUID is an assumption that stays under
// the emulator's 600/min.
func LoyaltyBudget(guid string) outbound.Budget {
	return outbound.Budget{Key: "yotpo:" + guid + ":loyalty", Rate: 8, Burst: 10}
}

// LoyaltyConfig configures a Loyalty client. GUID and APIKey are required.
type LoyaltyConfig struct {
	// BaseURL defaults to DefaultLoyaltyBaseURL.
	BaseURL string
	GUID    string
	APIKey  string
	// Budget defaults to LoyaltyBudget(GUID).
	Budget     outbound.Budget
	HTTPClient *http.Client
	Limiter    outbound.Limiter
	Recorder   outbound.Recorder
	Now        func() time.Time
	Logger     *slog.Logger
}

// Loyalty is a Yotpo Loyalty & Referrals client.
type Loyalty struct {
	c *outbound.Client
}

// NewLoyalty returns a Loyalty client.
func NewLoyalty(cfg LoyaltyConfig) (*Loyalty, error) {
	if cfg.GUID == "" || cfg.APIKey == "" {
		return nil, domain.Errorf(domain.EINVALID, "yotpo loyalty: GUID and API key are required")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultLoyaltyBaseURL
	}
	if cfg.Budget.Key == "" {
		cfg.Budget = LoyaltyBudget(cfg.GUID)
	}
	guid, key := cfg.GUID, cfg.APIKey
	c, err := outbound.NewClient(outbound.Config{
		Vendor: domain.VendorYotpo, Account: guid, BaseURL: cfg.BaseURL, HTTPClient: cfg.HTTPClient,
		Auth: outbound.AuthFunc(func(_ context.Context, r *http.Request) error {
			r.Header.Set("x-guid", guid)
			r.Header.Set("x-api-key", key)
			return nil
		}),
		Limiter: cfg.Limiter, DefaultBudget: cfg.Budget, Recorder: cfg.Recorder, Now: cfg.Now, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("error creating yotpo loyalty client: %w", err)
	}
	return &Loyalty{c: c}, nil
}

// HistoryItem is one loyalty history entry.
type HistoryItem struct {
	Date       Time     `json:"date"`
	Action     string   `json:"action"`
	ActionName string   `json:"action_name"`
	OrderIDs   []string `json:"order_ids"`
	Status     string   `json:"status"`
	Points     Int      `json:"points"`
}

// LoyaltyCustomer is the part of the Loyalty customer the widget shows.
// Unknown fields stay in Raw.
type LoyaltyCustomer struct {
	Email         string
	FirstName     string
	LastName      string
	VIPTierName   string
	PointsBalance int64
	PointsEarned  int64
	// PointsRedeemed is lifetime points redeemed (points_redeemed, else
	// points_earned − points_balance).
	PointsRedeemed int64
	// PerksRedeemed is the number of redemptions (perks_redeemed).
	PerksRedeemed int64
	// SuccessfulReferrals is referrals_completed, else
	// vip_tier_actions_completed.referrals_completed.
	SuccessfulReferrals int64
	ReferralsMade       int64
	ReferralsClicked    int64
	// ReferredBy is the referrer's email or name; Referred reports whether
	// the customer was referred at all.
	ReferredBy   string
	Referred     bool
	ReferralCode string
	ReferralLink string
	History      []HistoryItem
	Raw          json.RawMessage
}

// UnmarshalJSON decodes leniently (numbers as strings, alternative field
// names for the unconfirmed referral fields).
func (c *LoyaltyCustomer) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("error decoding loyalty customer: %w", err)
	}
	str := func(keys ...string) string {
		for _, k := range keys {
			var s string
			if v, ok := m[k]; ok && json.Unmarshal(v, &s) == nil && s != "" {
				return s
			}
		}
		return ""
	}
	num := func(keys ...string) (int64, bool) {
		for _, k := range keys {
			var n Int
			if v, ok := m[k]; ok && string(v) != "null" && json.Unmarshal(v, &n) == nil {
				return int64(n), true
			}
		}
		return 0, false
	}
	*c = LoyaltyCustomer{Raw: append(json.RawMessage(nil), b...)}
	c.Email, c.FirstName, c.LastName = str("email"), str("first_name"), str("last_name")
	c.VIPTierName = str("vip_tier_name", "vip_tier")
	if c.VIPTierName == "" {
		var t struct {
			Name string `json:"name"`
		}
		if v, ok := m["vip_tier"]; ok && json.Unmarshal(v, &t) == nil {
			c.VIPTierName = t.Name
		}
	}
	c.PointsBalance, _ = num("points_balance")
	c.PointsEarned, _ = num("points_earned")
	if v, ok := num("points_redeemed"); ok {
		c.PointsRedeemed = v
	} else if c.PointsEarned >= c.PointsBalance {
		c.PointsRedeemed = c.PointsEarned - c.PointsBalance
	}
	c.PerksRedeemed, _ = num("perks_redeemed")
	if v, ok := num("referrals_completed", "successful_referrals"); ok {
		c.SuccessfulReferrals = v
	} else {
		var a struct {
			ReferralsCompleted Int `json:"referrals_completed"`
		}
		if v, ok := m["vip_tier_actions_completed"]; ok && json.Unmarshal(v, &a) == nil {
			c.SuccessfulReferrals = int64(a.ReferralsCompleted)
		}
	}
	c.ReferralsMade, _ = num("referrals_made", "referrals_sent", "total_referrals")
	c.ReferralsClicked, _ = num("referral_link_clicks", "referrals_clicked", "referral_clicks")
	c.ReferralCode, c.ReferralLink = str("referral_code"), str("referral_link")
	for _, k := range []string{"referred_by", "referrer", "referrer_email"} {
		v, ok := m[k]
		if !ok || string(v) == "null" || string(v) == "false" || string(v) == `""` {
			continue
		}
		c.Referred = true
		var s string
		if json.Unmarshal(v, &s) == nil {
			c.ReferredBy = s
		} else {
			var o struct {
				Email string `json:"email"`
				Name  string `json:"name"`
			}
			if json.Unmarshal(v, &o) == nil {
				c.ReferredBy = o.Email
				if c.ReferredBy == "" {
					c.ReferredBy = o.Name
				}
			}
			if string(v) == "true" {
				c.ReferredBy = ""
			}
		}
		break
	}
	if v, ok := m["history_items"]; ok && string(v) != "null" {
		if err := json.Unmarshal(v, &c.History); err != nil {
			return fmt.Errorf("error decoding loyalty history_items: %w", err)
		}
	}
	return nil
}

// LoyaltyLookup is the result of GetCustomer: Found is false (and no error
// is returned) when Yotpo answers 404 for the email.
type LoyaltyLookup struct {
	Found    bool
	Customer LoyaltyCustomer
}

// GetCustomer reads the loyalty customer by email (with history and
// referral code). An unknown email is a LoyaltyLookup with Found false.
func (l *Loyalty) GetCustomer(ctx context.Context, email string) (LoyaltyLookup, error) {
	email = strings.TrimSpace(email)
	if email == "" {
		return LoyaltyLookup{}, domain.Errorf(domain.EINVALID, "yotpo loyalty: email is required")
	}
	resp, err := l.c.Do(ctx, &outbound.Request{Method: http.MethodGet, Path: "/api/v2/customers",
		Endpoint: "GET /api/v2/customers",
		Query:    url.Values{"customer_email": {email}, "with_history": {"true"}, "with_referral_code": {"true"}}})
	if err != nil {
		if outbound.StatusOf(err) == http.StatusNotFound {
			return LoyaltyLookup{}, nil
		}
		return LoyaltyLookup{}, fmt.Errorf("error getting yotpo loyalty customer: %w", err)
	}
	var out LoyaltyLookup
	if err := resp.DecodeJSON(&out.Customer); err != nil {
		return LoyaltyLookup{}, fmt.Errorf("error getting yotpo loyalty customer: %w", err)
	}
	out.Found = true
	return out, nil
}

// Ping checks the credentials (GET /api/v2/campaigns, the documented
// connection test).
func (l *Loyalty) Ping(ctx context.Context) error {
	if _, err := l.c.Do(ctx, &outbound.Request{Method: http.MethodGet, Path: "/api/v2/campaigns"}); err != nil {
		return fmt.Errorf("error checking yotpo loyalty credentials: %w", err)
	}
	return nil
}

// errNotFound reports a 404 from an outbound call.
func errNotFound(err error) bool {
	var oe *outbound.Error
	return errors.As(err, &oe) && oe.Status == http.StatusNotFound
}
