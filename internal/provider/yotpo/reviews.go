package yotpo

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"switchyard/internal/baseservice"
	"switchyard/internal/domain"
	"switchyard/internal/outbound"
)

// DefaultReviewsBaseURL is the production Reviews/UGC API host.
const DefaultReviewsBaseURL = "https://api.yotpo.com"

// ReviewsBudget is the default Reviews budget: 5,000 requests/min per app
// key are published; 75 req/s (4,500/min) with a burst of 50 stays below.
func ReviewsBudget(appKey string) outbound.Budget {
	return outbound.Budget{Key: "yotpo:" + appKey + ":reviews", Rate: 75, Burst: 50}
}

// ReviewsConfig configures a Reviews client. AppKey and Secret are required.
type ReviewsConfig struct {
	// BaseURL defaults to DefaultReviewsBaseURL.
	BaseURL string
	// AppKey is the store id ("app key"); Secret the API secret.
	AppKey string
	Secret string
	// PageSize is the page size for reviews (max and default 100).
	PageSize int
	// Budget defaults to ReviewsBudget(AppKey).
	Budget     outbound.Budget
	HTTPClient *http.Client
	Limiter    outbound.Limiter
	Recorder   outbound.Recorder
	Now        func() time.Time
	Logger     *slog.Logger
}

// Reviews is a Yotpo Reviews/UGC client. The access token is cached and
// renewed on a 401 or shortly before it expires.
type Reviews struct {
	baseservice.Archetype
	c        *outbound.Client
	appKey   string
	pageSize int
	tok      *tokenSource
}

type tokenSource struct {
	c              *outbound.Client
	appKey, secret string
	now            func() time.Time

	mu      sync.Mutex
	token   string
	expires time.Time
	fetches int
}

// NewReviews returns a Reviews client.
func NewReviews(cfg ReviewsConfig) (*Reviews, error) {
	arch := baseservice.New(cfg.Logger, cfg.Now)
	if cfg.AppKey == "" || cfg.Secret == "" {
		return nil, domain.Errorf(domain.EINVALID, "yotpo reviews: app key and secret are required")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultReviewsBaseURL
	}
	if cfg.Budget.Key == "" {
		cfg.Budget = ReviewsBudget(cfg.AppKey)
	}
	if cfg.PageSize <= 0 || cfg.PageSize > 100 {
		cfg.PageSize = 100
	}
	ts := &tokenSource{appKey: cfg.AppKey, secret: cfg.Secret, now: arch.Now}
	c, err := outbound.NewClient(outbound.Config{
		Vendor: domain.VendorYotpo, Account: cfg.AppKey, BaseURL: cfg.BaseURL, HTTPClient: cfg.HTTPClient,
		Auth: ts, Limiter: cfg.Limiter, DefaultBudget: cfg.Budget, Recorder: cfg.Recorder, Now: arch.Now, Logger: arch.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("error creating yotpo reviews client: %w", err)
	}
	ts.c = c
	return &Reviews{Archetype: arch, c: c, appKey: cfg.AppKey, pageSize: cfg.PageSize, tok: ts}, nil
}

// Apply implements outbound.Authenticator: the token goes in the utoken
// query parameter (v1) and the X-Yotpo-Token header (core v3).
func (t *tokenSource) Apply(ctx context.Context, r *http.Request) error {
	tok, err := t.get(ctx, false)
	if err != nil {
		return err
	}
	r.Header.Set("X-Yotpo-Token", tok)
	q := r.URL.Query()
	q.Set("utoken", tok)
	r.URL.RawQuery = q.Encode()
	return nil
}

// Refresh implements outbound.Authenticator.
func (t *tokenSource) Refresh(ctx context.Context) error {
	_, err := t.get(ctx, true)
	return err
}

func (t *tokenSource) get(ctx context.Context, force bool) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !force && t.token != "" && (t.expires.IsZero() || t.now().Before(t.expires)) {
		return t.token, nil
	}
	// JSON body (docs/assumptions/yotpo.md): Yotpo's API reference shows
	// the token request as JSON; the emulator accepts form bodies too.
	resp, err := t.c.Do(ctx, &outbound.Request{Method: http.MethodPost, Path: "/oauth/token", Endpoint: "POST /oauth/token",
		NoAuth: true, JSON: map[string]string{"client_id": t.appKey, "client_secret": t.secret, "grant_type": "client_credentials"}})
	if err != nil {
		return "", fmt.Errorf("error exchanging yotpo token: %w", err)
	}
	var out struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   Int    `json:"expires_in"`
	}
	if err := resp.DecodeJSON(&out); err != nil || out.AccessToken == "" {
		return "", &outbound.Error{Vendor: domain.VendorYotpo, Endpoint: "POST /oauth/token", Status: resp.Status,
			Class: domain.ClassTransient, Err: fmt.Errorf("token response has no access_token: %w", err)}
	}
	t.token, t.fetches = out.AccessToken, t.fetches+1
	t.expires = time.Time{}
	if out.ExpiresIn > 60 {
		t.expires = t.now().Add(time.Duration(out.ExpiresIn-60) * time.Second)
	}
	return t.token, nil
}

// TokenFetches returns how many tokens were fetched (for tests and metrics).
func (r *Reviews) TokenFetches() int {
	r.tok.mu.Lock()
	defer r.tok.mu.Unlock()
	return r.tok.fetches
}

// Comment is a store-owner comment or answer.
type Comment struct {
	ID        Int    `json:"id"`
	Content   string `json:"content"`
	Public    bool   `json:"public"`
	CreatedAt Time   `json:"created_at"`
}

// Review is a v1 store review.
type Review struct {
	ID            Int       `json:"id"`
	Title         string    `json:"title"`
	Content       string    `json:"content"`
	Score         Int       `json:"score"`
	VotesUp       Int       `json:"votes_up"`
	VotesDown     Int       `json:"votes_down"`
	CreatedAt     Time      `json:"created_at"`
	UpdatedAt     Time      `json:"updated_at"`
	Sentiment     Float     `json:"sentiment"`
	SKU           string    `json:"sku"`
	Name          string    `json:"name"`
	Email         string    `json:"email"`
	ReviewerType  string    `json:"reviewer_type"`
	Deleted       bool      `json:"deleted"`
	Archived      bool      `json:"archived"`
	Escalated     bool      `json:"escalated"`
	EscalatedAt   Time      `json:"escalated_at"`
	UserReference string    `json:"user_reference"`
	Comments      []Comment `json:"comments"`
	// PublishedFlag is an explicit published field when Yotpo sends one.
	PublishedFlag *bool `json:"published"`
}

// SiteReviewSKU marks site (store) reviews.
const SiteReviewSKU = "yotpo_site_reviews"

// IsSiteReview reports whether the review is about the store.
func (r Review) IsSiteReview() bool { return r.SKU == SiteReviewSKU }

// Published is the explicit flag when present, else not deleted and not
// archived (assumption: unpublished reviews are archived).
func (r Review) Published() bool {
	if r.PublishedFlag != nil {
		return *r.PublishedFlag
	}
	return !r.Deleted && !r.Archived
}

// ReviewsQuery filters Reviews.
type ReviewsQuery struct {
	// Since is since_updated_at (zero: everything).
	Since time.Time
	// Email asks for one reviewer's reviews (user_email, an assumption);
	// the client filters locally too, so a server that ignores it still
	// gives the right answer.
	Email string
	// IncludeDeleted sends deleted=true.
	IncludeDeleted bool
}

// EachReviews pages through /v1/apps/{app_key}/reviews until an empty or
// short page, calling fn with each page (already filtered by Email).
func (r *Reviews) EachReviews(ctx context.Context, q ReviewsQuery, fn func([]Review) error) error {
	email := strings.ToLower(strings.TrimSpace(q.Email))
	for page := 1; ; page++ {
		v := url.Values{"page": {strconv.Itoa(page)}, "count": {strconv.Itoa(r.pageSize)}}
		if !q.Since.IsZero() {
			v.Set("since_updated_at", q.Since.UTC().Format(time.RFC3339))
		}
		if email != "" {
			v.Set("user_email", email)
		}
		if q.IncludeDeleted {
			v.Set("deleted", "true")
		}
		var out struct {
			Reviews  []Review `json:"reviews"`
			Response struct {
				Reviews []Review `json:"reviews"`
			} `json:"response"`
		}
		if err := r.get(ctx, "/v1/apps/"+url.PathEscape(r.appKey)+"/reviews", "GET /v1/apps/{app_key}/reviews", v, &out); err != nil {
			return fmt.Errorf("error listing yotpo reviews (page %d): %w", page, err)
		}
		got := out.Reviews
		if got == nil {
			got = out.Response.Reviews
		}
		n := len(got)
		if email != "" {
			kept := got[:0]
			for _, rv := range got {
				if strings.EqualFold(strings.TrimSpace(rv.Email), email) {
					kept = append(kept, rv)
				}
			}
			got = kept
		}
		if len(got) > 0 {
			if err := fn(got); err != nil {
				return err
			}
		}
		if n < r.pageSize {
			return nil
		}
	}
}

// AllReviews collects EachReviews.
func (r *Reviews) AllReviews(ctx context.Context, q ReviewsQuery) ([]Review, error) {
	var all []Review
	err := r.EachReviews(ctx, q, func(p []Review) error { all = append(all, p...); return nil })
	return all, err
}

// GetReview re-reads one review by id (GET /reviews/{id}).
func (r *Reviews) GetReview(ctx context.Context, id int64) (Review, error) {
	var out struct {
		Response struct {
			Review Review `json:"review"`
		} `json:"response"`
	}
	if err := r.get(ctx, "/reviews/"+strconv.FormatInt(id, 10), "GET /reviews/{id}", nil, &out); err != nil {
		if errNotFound(err) {
			return Review{}, domain.WrapError(domain.ENOTFOUND, "yotpo review not found", err)
		}
		return Review{}, fmt.Errorf("error getting yotpo review: %w", err)
	}
	return out.Response.Review, nil
}

// GetQuestion re-reads one question by id (GET /questions/{id}, an
// assumption: docs/assumptions/yotpo.md).
func (r *Reviews) GetQuestion(ctx context.Context, id int64) (Question, error) {
	var out struct {
		Response struct {
			Question Question `json:"question"`
		} `json:"response"`
	}
	if err := r.get(ctx, "/questions/"+strconv.FormatInt(id, 10), "GET /questions/{id}", nil, &out); err != nil {
		if errNotFound(err) {
			return Question{}, domain.WrapError(domain.ENOTFOUND, "yotpo question not found", err)
		}
		return Question{}, fmt.Errorf("error getting yotpo question: %w", err)
	}
	return out.Response.Question, nil
}

// ReviewEscalation is the escalation view of a review (after a re-read).
func ReviewEscalation(rv Review) Escalation { return reviewEscalation(rv) }

// QuestionEscalation is the escalation view of a question.
func QuestionEscalation(q Question) Escalation { return questionEscalation(q) }

func (r *Reviews) get(ctx context.Context, path, endpoint string, q url.Values, out any) error {
	resp, err := r.c.Do(ctx, &outbound.Request{Method: http.MethodGet, Path: path, Endpoint: endpoint, Query: q})
	if err != nil {
		return err
	}
	return resp.DecodeJSON(out)
}

// UGCSummary is the per-customer review summary (core v3 yotpo_ugc).
type UGCSummary struct {
	TotalReviews        Int      `json:"total_reviews"`
	AvgProductRating    Float    `json:"avg_product_rating"`
	AvgSiteRating       Float    `json:"avg_site_rating"`
	TotalAvgRating      Float    `json:"total_avg_rating"`
	SentimentAvgProduct Float    `json:"sentiment_avg_product"`
	SentimentAvgSite    Float    `json:"sentiment_avg_site"`
	TotalAvgSentiment   Float    `json:"total_avg_sentiment"`
	TopTopics           []string `json:"top_topics"`
	LastStarRating      Float    `json:"last_star_rating"`
	LastReviewDate      Time     `json:"last_review_date"`
	LastSentiment       Float    `json:"last_sentiment"`
}

// SummaryLookup is the result of CustomerSummary; Found is false when the
// email has no UGC.
type SummaryLookup struct {
	Found   bool
	Summary UGCSummary
}

// CustomerSummary reads the UGC summary of a reviewer from core v3
// customers, looked up as the public reference documents it
// (external_ids=<id>, with the email as the external id) and matched
// locally on email or external_id.
func (r *Reviews) CustomerSummary(ctx context.Context, email string) (SummaryLookup, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if email == "" {
		return SummaryLookup{}, domain.Errorf(domain.EINVALID, "yotpo reviews: email is required")
	}
	var out struct {
		Customers []struct {
			ExternalID string     `json:"external_id"`
			Email      string     `json:"email"`
			UGC        UGCSummary `json:"yotpo_ugc"`
		} `json:"customers"`
	}
	err := r.get(ctx, "/core/v3/stores/"+url.PathEscape(r.appKey)+"/customers", "GET /core/v3/stores/{store_id}/customers",
		url.Values{"external_ids": {email}}, &out)
	if err != nil {
		if errNotFound(err) {
			return SummaryLookup{}, nil
		}
		return SummaryLookup{}, fmt.Errorf("error getting yotpo customer summary: %w", err)
	}
	for _, c := range out.Customers {
		if strings.EqualFold(c.Email, email) || strings.EqualFold(c.ExternalID, email) {
			return SummaryLookup{Found: true, Summary: c.UGC}, nil
		}
	}
	return SummaryLookup{}, nil
}

// Product is a catalogue product.
type Product struct {
	YotpoID          Int            `json:"yotpo_id"`
	ExternalID       string         `json:"external_id"`
	Name             string         `json:"name"`
	URL              string         `json:"url"`
	ImageURL         string         `json:"image_url"`
	GroupName        string         `json:"group_name"`
	CustomProperties map[string]any `json:"custom_properties"`
}

// Category is custom_properties.category, else group_name (assumption).
func (p Product) Category() string {
	if v, ok := p.CustomProperties["category"].(string); ok && v != "" {
		return v
	}
	return p.GroupName
}

// Products pages through the core v3 catalogue (page_info cursor); with
// externalIDs only those products are asked for.
func (r *Reviews) Products(ctx context.Context, externalIDs []string) ([]Product, error) {
	var all []Product
	v := url.Values{"limit": {"100"}}
	if len(externalIDs) > 0 {
		v.Set("external_ids", strings.Join(externalIDs, ","))
	}
	for i := 0; ; i++ {
		var out struct {
			Products   []Product `json:"products"`
			Pagination struct {
				NextPageInfo string `json:"next_page_info"`
			} `json:"pagination"`
		}
		if err := r.get(ctx, "/core/v3/stores/"+url.PathEscape(r.appKey)+"/products", "GET /core/v3/stores/{store_id}/products", v, &out); err != nil {
			return nil, fmt.Errorf("error listing yotpo products (page %d): %w", i+1, err)
		}
		all = append(all, out.Products...)
		if len(out.Products) == 0 || out.Pagination.NextPageInfo == "" {
			return all, nil
		}
		v.Set("page_info", out.Pagination.NextPageInfo)
	}
}

// BottomLine is a product's published review count and average score.
type BottomLine struct {
	TotalReviews Int   `json:"total_reviews"`
	AverageScore Float `json:"average_score"`
}

// BottomLine reads GET /products/{app_key}/{sku}/bottomline.
func (r *Reviews) BottomLine(ctx context.Context, sku string) (BottomLine, error) {
	var out struct {
		Response struct {
			BottomLine struct {
				BottomLine
				TotalReview Int `json:"total_review"`
			} `json:"bottomline"`
		} `json:"response"`
	}
	// The bottom line is public (app key only): no token needed.
	resp, err := r.c.Do(ctx, &outbound.Request{Method: http.MethodGet, NoAuth: true,
		Path:     "/products/" + url.PathEscape(r.appKey) + "/" + url.PathEscape(sku) + "/bottomline",
		Endpoint: "GET /products/{app_key}/{product_id}/bottomline"})
	if err == nil {
		err = resp.DecodeJSON(&out)
	}
	if err != nil {
		if errNotFound(err) {
			return BottomLine{}, domain.WrapError(domain.ENOTFOUND, "yotpo product not found", err)
		}
		return BottomLine{}, fmt.Errorf("error getting yotpo bottom line: %w", err)
	}
	b := out.Response.BottomLine.BottomLine
	if b.TotalReviews == 0 {
		b.TotalReviews = out.Response.BottomLine.TotalReview
	}
	return b, nil
}

// ProductDetails is what the widget shows about a reviewed product.
type ProductDetails struct {
	Name        string `json:"name"`
	URL         string `json:"url"`
	Category    string `json:"category"`
	ReviewCount int64  `json:"review_count"`
	Rating      Float  `json:"rating"`
}

// CustomerReview is a review with its product's details (nil for site
// reviews or products missing from the catalogue).
type CustomerReview struct {
	Review
	Product *ProductDetails
}

// LatestReviews returns the n most recent reviews (deleted ones excluded)
// of email, newest first, each with its product's name, URL, category,
// review count and rating.
func (r *Reviews) LatestReviews(ctx context.Context, email string, n int) ([]CustomerReview, error) {
	if strings.TrimSpace(email) == "" {
		return nil, domain.Errorf(domain.EINVALID, "yotpo reviews: email is required")
	}
	all, err := r.AllReviews(ctx, ReviewsQuery{Email: email})
	if err != nil {
		return nil, err
	}
	kept := all[:0]
	for _, rv := range all {
		if !rv.Deleted {
			kept = append(kept, rv)
		}
	}
	sort.SliceStable(kept, func(i, j int) bool {
		if !kept[i].CreatedAt.Equal(kept[j].CreatedAt.Time) {
			return kept[i].CreatedAt.After(kept[j].CreatedAt.Time)
		}
		return kept[i].ID > kept[j].ID
	})
	if n > 0 && len(kept) > n {
		kept = kept[:n]
	}
	var skus []string
	seen := map[string]bool{}
	for _, rv := range kept {
		if !rv.IsSiteReview() && rv.SKU != "" && !seen[rv.SKU] {
			seen[rv.SKU] = true
			skus = append(skus, rv.SKU)
		}
	}
	details := map[string]*ProductDetails{}
	if len(skus) > 0 {
		prods, err := r.Products(ctx, skus)
		if err != nil {
			return nil, err
		}
		for _, p := range prods {
			if !seen[p.ExternalID] {
				continue
			}
			d := &ProductDetails{Name: p.Name, URL: p.URL, Category: p.Category()}
			bl, err := r.BottomLine(ctx, p.ExternalID)
			if err != nil && !domain.IsNotFound(err) {
				return nil, err
			}
			d.ReviewCount, d.Rating = int64(bl.TotalReviews), bl.AverageScore
			details[p.ExternalID] = d
		}
	}
	out := make([]CustomerReview, 0, len(kept))
	for _, rv := range kept {
		out = append(out, CustomerReview{Review: rv, Product: details[rv.SKU]})
	}
	return out, nil
}

// Question is a product question.
type Question struct {
	ID          Int       `json:"id"`
	Content     string    `json:"content"`
	SKU         string    `json:"sku"`
	Name        string    `json:"name"`
	Email       string    `json:"email"`
	CreatedAt   Time      `json:"created_at"`
	UpdatedAt   Time      `json:"updated_at"`
	Escalated   bool      `json:"escalated"`
	EscalatedAt Time      `json:"escalated_at"`
	Answers     []Comment `json:"answers"`
}

// Kind of an escalated item.
const (
	KindReview   = "review"
	KindQuestion = "question"
)

// Escalation is a review or question escalated for support.
type Escalation struct {
	Kind        string
	ID          int64
	Email       string
	Name        string
	Title       string
	Content     string
	Score       int64
	SKU         string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	EscalatedAt time.Time
}

// Escalations returns reviews and questions updated since `since` that are
// escalated (polling fallback for the escalation webhook).
func (r *Reviews) Escalations(ctx context.Context, since time.Time) ([]Escalation, error) {
	var out []Escalation
	err := r.EachReviews(ctx, ReviewsQuery{Since: since}, func(p []Review) error {
		for _, rv := range p {
			if rv.Escalated && !rv.Deleted {
				out = append(out, reviewEscalation(rv))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for page := 1; ; page++ {
		v := url.Values{"page": {strconv.Itoa(page)}, "count": {strconv.Itoa(r.pageSize)}, "escalated": {"true"}}
		if !since.IsZero() {
			v.Set("since_updated_at", since.UTC().Format(time.RFC3339))
		}
		var qs struct {
			Questions []Question `json:"questions"`
		}
		if err := r.get(ctx, "/v1/apps/"+url.PathEscape(r.appKey)+"/questions", "GET /v1/apps/{app_key}/questions", v, &qs); err != nil {
			return nil, fmt.Errorf("error listing yotpo questions (page %d): %w", page, err)
		}
		for _, q := range qs.Questions {
			if q.Escalated {
				out = append(out, questionEscalation(q))
			}
		}
		if len(qs.Questions) < r.pageSize {
			break
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].EscalatedAt.Before(out[j].EscalatedAt) })
	return out, nil
}

func reviewEscalation(rv Review) Escalation {
	at := rv.EscalatedAt.Time
	if at.IsZero() {
		at = rv.UpdatedAt.Time
	}
	return Escalation{Kind: KindReview, ID: int64(rv.ID), Email: rv.Email, Name: rv.Name, Title: rv.Title, Content: rv.Content,
		Score: int64(rv.Score), SKU: rv.SKU, CreatedAt: rv.CreatedAt.Time, UpdatedAt: rv.UpdatedAt.Time, EscalatedAt: at}
}

func questionEscalation(q Question) Escalation {
	at := q.EscalatedAt.Time
	if at.IsZero() {
		at = q.UpdatedAt.Time
	}
	return Escalation{Kind: KindQuestion, ID: int64(q.ID), Email: q.Email, Name: q.Name, Content: q.Content, SKU: q.SKU,
		CreatedAt: q.CreatedAt.Time, UpdatedAt: q.UpdatedAt.Time, EscalatedAt: at}
}

// PostComment posts a store-owner reply: a comment on a review
// (POST /reviews/{id}/comments) or an answer to a question
// (POST /questions/{id}/answers).
func (r *Reviews) PostComment(ctx context.Context, kind string, id int64, content string, public bool) (Comment, error) {
	if strings.TrimSpace(content) == "" {
		return Comment{}, domain.Errorf(domain.EINVALID, "yotpo comment: content is required")
	}
	var path, endpoint string
	switch kind {
	case KindReview:
		path, endpoint = "/reviews/"+strconv.FormatInt(id, 10)+"/comments", "POST /reviews/{id}/comments"
	case KindQuestion:
		path, endpoint = "/questions/"+strconv.FormatInt(id, 10)+"/answers", "POST /questions/{id}/answers"
	default:
		return Comment{}, domain.Errorf(domain.EINVALID, "yotpo comment: kind must be review or question, not %q", kind)
	}
	body := map[string]any{"app_key": r.appKey, "comment": map[string]any{"content": content, "public": public}}
	resp, err := r.c.Do(ctx, &outbound.Request{Method: http.MethodPost, Path: path, Endpoint: endpoint, JSON: body})
	if err != nil {
		if errNotFound(err) {
			return Comment{}, domain.WrapError(domain.ENOTFOUND, "yotpo "+kind+" not found", err)
		}
		return Comment{}, fmt.Errorf("error posting yotpo comment: %w", err)
	}
	var out struct {
		Response struct {
			Comment *Comment `json:"comment"`
			Answer  *Comment `json:"answer"`
		} `json:"response"`
	}
	if err := resp.DecodeJSON(&out); err != nil {
		return Comment{}, fmt.Errorf("error posting yotpo comment: %w", err)
	}
	switch {
	case out.Response.Comment != nil:
		return *out.Response.Comment, nil
	case out.Response.Answer != nil:
		return *out.Response.Answer, nil
	}
	return Comment{Content: content, Public: public}, nil
}

// WebhookSubscription is a legacy reviews webhook.
type WebhookSubscription struct {
	ID        Int    `json:"id"`
	URL       string `json:"url"`
	EventName string `json:"event_name"`
}

// CreateWebhook subscribes url to event (POST /apps/{app_key}/webhooks).
// secret, when not empty, asks for signed deliveries (assumption).
func (r *Reviews) CreateWebhook(ctx context.Context, target, event, secret string) (WebhookSubscription, error) {
	body := map[string]any{"url": target, "event_name": event}
	if secret != "" {
		body["secret"] = secret
	}
	resp, err := r.c.Do(ctx, &outbound.Request{Method: http.MethodPost, Path: "/apps/" + url.PathEscape(r.appKey) + "/webhooks",
		Endpoint: "POST /apps/{app_key}/webhooks", JSON: body})
	if err != nil {
		return WebhookSubscription{}, fmt.Errorf("error creating yotpo webhook: %w", err)
	}
	var out struct {
		Response struct {
			Webhook WebhookSubscription `json:"webhook"`
		} `json:"response"`
	}
	if err := resp.DecodeJSON(&out); err != nil {
		return WebhookSubscription{}, fmt.Errorf("error creating yotpo webhook: %w", err)
	}
	return out.Response.Webhook, nil
}

// ListWebhooks lists the app's subscriptions (GET /apps/{app_key}/webhooks).
func (r *Reviews) ListWebhooks(ctx context.Context) ([]WebhookSubscription, error) {
	var out struct {
		Response struct {
			Webhooks []WebhookSubscription `json:"webhooks"`
		} `json:"response"`
		Webhooks []WebhookSubscription `json:"webhooks"`
	}
	if err := r.get(ctx, "/apps/"+url.PathEscape(r.appKey)+"/webhooks", "GET /apps/{app_key}/webhooks", nil, &out); err != nil {
		return nil, fmt.Errorf("error listing yotpo webhooks: %w", err)
	}
	if out.Response.Webhooks != nil {
		return out.Response.Webhooks, nil
	}
	return out.Webhooks, nil
}

// DeleteWebhook removes a subscription; an unknown id is not an error.
func (r *Reviews) DeleteWebhook(ctx context.Context, id int64) error {
	_, err := r.c.Do(ctx, &outbound.Request{Method: http.MethodDelete, Path: "/apps/" + url.PathEscape(r.appKey) + "/webhooks/" + strconv.FormatInt(id, 10),
		Endpoint: "DELETE /apps/{app_key}/webhooks/{id}"})
	if err != nil && !errNotFound(err) {
		return fmt.Errorf("error deleting yotpo webhook: %w", err)
	}
	return nil
}
