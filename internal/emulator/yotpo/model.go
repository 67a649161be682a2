package yotpo

import (
	"sort"
	"strings"
	"time"
)

// SiteReviewSKU is the product id Yotpo uses for site (store) reviews.
const SiteReviewSKU = "yotpo_site_reviews"

// Account is one Yotpo merchant. Either half may be empty: a merchant with
// only Loyalty has no AppKey, one with only Reviews has no GUID.
type Account struct {
	// Name is a display name (the store name on the Connect page).
	Name string `json:"name"`
	// GUID and APIKey authenticate the Loyalty API (x-guid / x-api-key).
	GUID   string `json:"guid,omitempty"`
	APIKey string `json:"api_key,omitempty"`
	// AppKey (store id) and Secret authenticate the Reviews/UGC API.
	AppKey string `json:"app_key,omitempty"`
	Secret string `json:"secret,omitempty"`
	// Customers is the number of random customers generated for the account.
	Customers int `json:"customers,omitempty"`
}

// VIPActions is vip_tier_actions_completed.
type VIPActions struct {
	PointsEarned       int `json:"points_earned"`
	AmountSpentCents   int `json:"amount_spent_cents"`
	PurchasesMade      int `json:"purchases_made"`
	ReferralsCompleted int `json:"referrals_completed"`
	CampaignsCompleted int `json:"campaigns_completed"`
}

// VIPRequirements is vip_tier_upgrade_requirements.
type VIPRequirements struct {
	PointsNeeded      int `json:"points_needed"`
	AmountCentsNeeded int `json:"amount_cents_needed"`
	PurchasesNeeded   int `json:"purchases_needed"`
	ReferralsNeeded   int `json:"referrals_needed"`
	CampaignsNeeded   int `json:"campaigns_needed"`
}

// HistoryItem is one loyalty history entry (with_history=true).
type HistoryItem struct {
	Date       time.Time `json:"date"`
	Action     string    `json:"action"`
	ActionName string    `json:"action_name"`
	OrderIDs   []string  `json:"order_ids"`
	Status     string    `json:"status"`
	Points     int       `json:"points"`
}

// LoyaltyCustomer is the Loyalty API customer object. Field names follow
// the reference §2.1; the referral fields (referral_code, referral_link,
// referrals_made, referral_link_clicks, referrals_completed, referred_by)
// and points_redeemed are documented assumptions.
type LoyaltyCustomer struct {
	Email                      string          `json:"email"`
	FirstName                  string          `json:"first_name"`
	LastName                   string          `json:"last_name"`
	PhoneNumber                string          `json:"phone_number,omitempty"`
	PointsBalance              int             `json:"points_balance"`
	PointsEarned               int             `json:"points_earned"`
	PointsRedeemed             int             `json:"points_redeemed"`
	PerksRedeemed              int             `json:"perks_redeemed"`
	TotalSpendCents            int             `json:"total_spend_cents"`
	TotalPurchases             int             `json:"total_purchases"`
	LastPurchaseAt             *time.Time      `json:"last_purchase_at"`
	LastSeenAt                 *time.Time      `json:"last_seen_at"`
	CreditBalance              int             `json:"credit_balance"`
	OptIn                      bool            `json:"opt_in"`
	PointsExpireAt             *time.Time      `json:"points_expire_at"`
	HasStoreAccount            bool            `json:"has_store_account"`
	ThirdPartyID               string          `json:"third_party_id,omitempty"`
	VIPTierName                string          `json:"vip_tier_name"`
	VIPTierActionsCompleted    VIPActions      `json:"vip_tier_actions_completed"`
	VIPTierUpgradeRequirements VIPRequirements `json:"vip_tier_upgrade_requirements"`
	ReferralCode               string          `json:"referral_code,omitempty"`
	ReferralLink               string          `json:"referral_link,omitempty"`
	ReferralsCompleted         int             `json:"referrals_completed"`
	ReferralsMade              int             `json:"referrals_made"`
	ReferralLinkClicks         int             `json:"referral_link_clicks"`
	ReferredBy                 *string         `json:"referred_by"`
	HistoryItems               []HistoryItem   `json:"history_items,omitempty"`
}

// Comment is a store-owner comment on a review or an answer to a question.
type Comment struct {
	ID        int64     `json:"id"`
	Content   string    `json:"content"`
	Public    bool      `json:"public"`
	CreatedAt time.Time `json:"created_at"`
}

// Review is a v1 store review. Unpublished reviews are archived (see
// docs/assumptions/yotpo.md).
type Review struct {
	ID            int64      `json:"id"`
	Title         string     `json:"title"`
	Content       string     `json:"content"`
	Score         int        `json:"score"`
	VotesUp       int        `json:"votes_up"`
	VotesDown     int        `json:"votes_down"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	Sentiment     float64    `json:"sentiment"`
	SKU           string     `json:"sku"`
	Name          string     `json:"name"`
	Email         string     `json:"email"`
	ReviewerType  string     `json:"reviewer_type"`
	Deleted       bool       `json:"deleted"`
	Archived      bool       `json:"archived"`
	Escalated     bool       `json:"escalated"`
	EscalatedAt   *time.Time `json:"escalated_at,omitempty"`
	UserReference string     `json:"user_reference,omitempty"`
	Topics        []string   `json:"topics,omitempty"`
	Comments      []Comment  `json:"comments"`
}

// Question is a product question (Q&A).
type Question struct {
	ID          int64      `json:"id"`
	Content     string     `json:"content"`
	SKU         string     `json:"sku"`
	Name        string     `json:"name"`
	Email       string     `json:"email"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	Published   bool       `json:"published"`
	Escalated   bool       `json:"escalated"`
	EscalatedAt *time.Time `json:"escalated_at,omitempty"`
	Answers     []Comment  `json:"answers"`
}

// Product is a core v3 catalogue product. The category lives in
// custom_properties.category and group_name (assumption).
type Product struct {
	YotpoID          int64             `json:"yotpo_id"`
	ExternalID       string            `json:"external_id"`
	Name             string            `json:"name"`
	Description      string            `json:"description"`
	URL              string            `json:"url"`
	ImageURL         string            `json:"image_url"`
	Price            float64           `json:"price"`
	Currency         string            `json:"currency"`
	GroupName        string            `json:"group_name"`
	SKU              string            `json:"sku"`
	CustomProperties map[string]string `json:"custom_properties"`
	CreatedAt        time.Time         `json:"created_at"`
	UpdatedAt        time.Time         `json:"updated_at"`
}

// Webhook is a legacy reviews webhook subscription.
type Webhook struct {
	ID        int64  `json:"id"`
	URL       string `json:"url"`
	EventName string `json:"event_name"`
	// Secret, when set, makes deliveries carry X-Yotpo-Signature (assumption).
	Secret string `json:"-"`
}

// UGCSummary is core v3 customers[].yotpo_ugc.
type UGCSummary struct {
	TotalReviews        int        `json:"total_reviews"`
	AvgProductRating    *float64   `json:"avg_product_rating"`
	AvgSiteRating       *float64   `json:"avg_site_rating"`
	TotalAvgRating      *float64   `json:"total_avg_rating"`
	SentimentAvgProduct *float64   `json:"sentiment_avg_product"`
	SentimentAvgSite    *float64   `json:"sentiment_avg_site"`
	TotalAvgSentiment   *float64   `json:"total_avg_sentiment"`
	TopTopics           []string   `json:"top_topics"`
	LastStarRating      *int       `json:"last_star_rating"`
	LastReviewDate      *time.Time `json:"last_review_date"`
	LastSentiment       *float64   `json:"last_sentiment"`
}

// store is one account's data.
type store struct {
	acct      Account
	loyalty   map[string]*LoyaltyCustomer // by lower-cased email
	reviews   []*Review                   // by id
	questions []*Question
	products  map[string]*Product // by external id
	prodOrder []string
	webhooks  []*Webhook
	nextID    int64
}

func newStore(a Account) *store {
	return &store{acct: a, loyalty: map[string]*LoyaltyCustomer{}, products: map[string]*Product{}, nextID: 1000}
}

func (s *store) id() int64 { s.nextID++; return s.nextID }

func normEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

func (s *store) review(id int64) *Review {
	for _, r := range s.reviews {
		if r.ID == id {
			return r
		}
	}
	return nil
}

func (s *store) question(id int64) *Question {
	for _, q := range s.questions {
		if q.ID == id {
			return q
		}
	}
	return nil
}

// bottomline returns the published review count and average score of a product.
func (s *store) bottomline(sku string) (total int, avg float64) {
	sum := 0
	for _, r := range s.reviews {
		if r.SKU == sku && !r.Deleted && !r.Archived {
			total++
			sum += r.Score
		}
	}
	if total > 0 {
		avg = round1(float64(sum) / float64(total))
	}
	return total, avg
}

// summary computes the UGC summary of one reviewer; ok is false when the
// email has no reviews.
func (s *store) summary(email string) (UGCSummary, bool) {
	email = normEmail(email)
	var mine []*Review
	for _, r := range s.reviews {
		if normEmail(r.Email) == email && !r.Deleted {
			mine = append(mine, r)
		}
	}
	if len(mine) == 0 {
		return UGCSummary{}, false
	}
	sort.Slice(mine, func(i, j int) bool { return mine[i].CreatedAt.Before(mine[j].CreatedAt) })
	var ps, ss, pSent, sSent, all, allSent []float64
	topics := map[string]int{}
	for _, r := range mine {
		all = append(all, float64(r.Score))
		allSent = append(allSent, r.Sentiment)
		if r.SKU == SiteReviewSKU {
			ss = append(ss, float64(r.Score))
			sSent = append(sSent, r.Sentiment)
		} else {
			ps = append(ps, float64(r.Score))
			pSent = append(pSent, r.Sentiment)
		}
		for _, t := range r.Topics {
			topics[t]++
		}
	}
	last := mine[len(mine)-1]
	lastScore, lastDate, lastSent := last.Score, last.CreatedAt, last.Sentiment
	sum := UGCSummary{
		TotalReviews:        len(mine),
		AvgProductRating:    avgPtr(ps, round1),
		AvgSiteRating:       avgPtr(ss, round1),
		TotalAvgRating:      avgPtr(all, round1),
		SentimentAvgProduct: avgPtr(pSent, round3),
		SentimentAvgSite:    avgPtr(sSent, round3),
		TotalAvgSentiment:   avgPtr(allSent, round3),
		LastStarRating:      &lastScore,
		LastReviewDate:      &lastDate,
		LastSentiment:       &lastSent,
	}
	type tc struct {
		t string
		n int
	}
	var tcs []tc
	for t, n := range topics {
		tcs = append(tcs, tc{t, n})
	}
	sort.Slice(tcs, func(i, j int) bool {
		if tcs[i].n != tcs[j].n {
			return tcs[i].n > tcs[j].n
		}
		return tcs[i].t < tcs[j].t
	})
	sum.TopTopics = []string{}
	for i := 0; i < len(tcs) && i < 3; i++ {
		sum.TopTopics = append(sum.TopTopics, tcs[i].t)
	}
	return sum, true
}

func avgPtr(xs []float64, round func(float64) float64) *float64 {
	if len(xs) == 0 {
		return nil
	}
	t := 0.0
	for _, x := range xs {
		t += x
	}
	v := round(t / float64(len(xs)))
	return &v
}

func round1(x float64) float64 { return float64(int64(x*10+0.5)) / 10 }
func round3(x float64) float64 { return float64(int64(x*1000+0.5)) / 1000 }
