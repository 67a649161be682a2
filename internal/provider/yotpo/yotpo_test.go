package yotpo_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"switchyard/internal/domain"
	"switchyard/internal/emulator/emukit"
	yotpoemu "switchyard/internal/emulator/yotpo"
	"switchyard/internal/outbound"
	"switchyard/internal/provider/yotpo"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const (
	both        = "both.customer@example.com"
	loyaltyOnly = "loyalty.only@example.com"
	reviewsOnly = "reviews.only@example.com"
	unknown     = "nobody@example.com"
)

type bundle struct {
	emu   *yotpoemu.Emulator
	srv   *httptest.Server
	clock *clock
}

func setup(t *testing.T, mod func(*yotpoemu.Config)) *bundle {
	t.Helper()
	clk := &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	cfg := yotpoemu.Config{Now: clk.Now, Seed: 42, Customers: 12, Emails: []string{both},
		LoyaltyOnly: []string{loyaltyOnly}, ReviewsOnly: []string{reviewsOnly}}
	if mod != nil {
		mod(&cfg)
	}
	emu := yotpoemu.New(cfg)
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { srv.Close(); emu.Close() })
	return &bundle{emu: emu, srv: srv, clock: clk}
}

func (b *bundle) loyalty(t *testing.T, guid, key string) *yotpo.Loyalty {
	t.Helper()
	l, err := yotpo.NewLoyalty(yotpo.LoyaltyConfig{BaseURL: b.srv.URL, GUID: guid, APIKey: key, Now: b.clock.Now,
		Limiter: outbound.NewLocalLimiter(nil)})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func (b *bundle) reviews(t *testing.T, appKey, secret string, pageSize int) *yotpo.Reviews {
	t.Helper()
	r, err := yotpo.NewReviews(yotpo.ReviewsConfig{BaseURL: b.srv.URL, AppKey: appKey, Secret: secret, PageSize: pageSize,
		Now: b.clock.Now, Limiter: outbound.NewLocalLimiter(nil)})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func classOf(err error) domain.ErrorClass { return outbound.ClassOf(err) }

func TestLoyaltyGetCustomer(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	want, ok := b.emu.LoyaltyOf(both)
	if !ok {
		t.Fatal("fixture has no loyalty record for", both)
	}
	tests := []struct {
		name      string
		guid, key string
		email     string
		found     bool
		class     domain.ErrorClass
	}{
		{"both products", yotpoemu.DefaultGUID, yotpoemu.DefaultAPIKey, both, true, domain.ClassOK},
		{"loyalty only", yotpoemu.DefaultGUID, yotpoemu.DefaultAPIKey, loyaltyOnly, true, domain.ClassOK},
		{"email case-insensitive", yotpoemu.DefaultGUID, yotpoemu.DefaultAPIKey, "  BOTH.Customer@Example.com ", true, domain.ClassOK},
		{"reviews only is not found", yotpoemu.DefaultGUID, yotpoemu.DefaultAPIKey, reviewsOnly, false, domain.ClassOK},
		{"unknown is not found", yotpoemu.DefaultGUID, yotpoemu.DefaultAPIKey, unknown, false, domain.ClassOK},
		{"wrong api key", yotpoemu.DefaultGUID, "wrong", both, false, domain.ClassAuth},
		{"unknown guid", "other-guid", yotpoemu.DefaultAPIKey, both, false, domain.ClassAuth},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := b.loyalty(t, tc.guid, tc.key).GetCustomer(context.Background(), tc.email)
			if classOf(err) != tc.class {
				t.Fatalf("class = %s (%v), want %s", classOf(err), err, tc.class)
			}
			if got.Found != tc.found {
				t.Fatalf("found = %v, want %v", got.Found, tc.found)
			}
		})
	}
	got, err := b.loyalty(t, yotpoemu.DefaultGUID, yotpoemu.DefaultAPIKey).GetCustomer(context.Background(), both)
	if err != nil {
		t.Fatal(err)
	}
	c := got.Customer
	if c.Email != want.Email || c.VIPTierName != want.VIPTierName || c.PointsBalance != int64(want.PointsBalance) ||
		c.PointsEarned != int64(want.PointsEarned) || c.PointsRedeemed != int64(want.PointsRedeemed) ||
		c.PerksRedeemed != int64(want.PerksRedeemed) || c.SuccessfulReferrals != int64(want.ReferralsCompleted) ||
		c.ReferralsMade != int64(want.ReferralsMade) || c.ReferralsClicked != int64(want.ReferralLinkClicks) {
		t.Errorf("customer = %+v\nwant %+v", c, want)
	}
	if c.Referred != (want.ReferredBy != nil) {
		t.Errorf("referred = %v, want %v", c.Referred, want.ReferredBy != nil)
	}
	if len(c.History) != len(want.HistoryItems) || c.ReferralCode == "" {
		t.Errorf("history %d (want %d), referral code %q", len(c.History), len(want.HistoryItems), c.ReferralCode)
	}
	if err := b.loyalty(t, yotpoemu.DefaultGUID, yotpoemu.DefaultAPIKey).Ping(context.Background()); err != nil {
		t.Errorf("ping: %v", err)
	}
}

func TestLoyaltyLenientDecoding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		want       yotpo.LoyaltyCustomer
	}{
		{"strings for numbers and referrer object",
			`{"email":"a@b.c","points_balance":"9130","points_earned":"12000","perks_redeemed":"2","vip_tier_name":"Gold",
			  "vip_tier_actions_completed":{"referrals_completed":"3"},"referrer":{"email":"f@b.c"}}`,
			yotpo.LoyaltyCustomer{Email: "a@b.c", PointsBalance: 9130, PointsEarned: 12000, PointsRedeemed: 2870, PerksRedeemed: 2,
				VIPTierName: "Gold", SuccessfulReferrals: 3, ReferredBy: "f@b.c", Referred: true}},
		{"null referrer and tier object",
			`{"email":"x@y.z","points_balance":5,"points_earned":5,"vip_tier":{"name":"Silver"},"referred_by":null}`,
			yotpo.LoyaltyCustomer{Email: "x@y.z", PointsBalance: 5, PointsEarned: 5, VIPTierName: "Silver"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c yotpo.LoyaltyCustomer
			if err := c.UnmarshalJSON([]byte(tc.body)); err != nil {
				t.Fatal(err)
			}
			c.Raw = nil
			if c.Email != tc.want.Email || c.PointsBalance != tc.want.PointsBalance || c.PointsEarned != tc.want.PointsEarned ||
				c.PointsRedeemed != tc.want.PointsRedeemed || c.PerksRedeemed != tc.want.PerksRedeemed || c.VIPTierName != tc.want.VIPTierName ||
				c.SuccessfulReferrals != tc.want.SuccessfulReferrals || c.ReferredBy != tc.want.ReferredBy || c.Referred != tc.want.Referred {
				t.Errorf("got %+v\nwant %+v", c, tc.want)
			}
		})
	}
}

func TestRateLimited(t *testing.T) {
	t.Parallel()
	t.Run("injected 429 carries Retry-After", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.emu.Kit().SetFaults(emukitFaults(1, 7))
		_, err := b.loyalty(t, yotpoemu.DefaultGUID, yotpoemu.DefaultAPIKey).GetCustomer(context.Background(), both)
		var oe *outbound.Error
		if !errors.As(err, &oe) || oe.Class != domain.ClassRateLimited || oe.RetryAfter != 7*time.Second {
			t.Fatalf("err = %v, want rate limited with 7 s", err)
		}
		_, err = b.reviews(t, yotpoemu.DefaultAppKey, yotpoemu.DefaultSecret, 0).CustomerSummary(context.Background(), both)
		if classOf(err) != domain.ClassRateLimited {
			t.Fatalf("reviews err = %v, want rate limited", err)
		}
	})
	t.Run("loyalty window", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *yotpoemu.Config) { c.LoyaltyPerMinute = 2 })
		l := b.loyalty(t, yotpoemu.DefaultGUID, yotpoemu.DefaultAPIKey)
		for i := 0; i < 2; i++ {
			if _, err := l.GetCustomer(context.Background(), both); err != nil {
				t.Fatal(err)
			}
		}
		b.clock.Add(15 * time.Second)
		_, err := l.GetCustomer(context.Background(), both)
		var oe *outbound.Error
		if !errors.As(err, &oe) || oe.Class != domain.ClassRateLimited || oe.RetryAfter != 45*time.Second {
			t.Fatalf("err = %v, want rate limited with 45 s", err)
		}
		b.clock.Add(46 * time.Second)
		if got, err := l.GetCustomer(context.Background(), both); err != nil || !got.Found {
			t.Fatalf("after window: %v %v", got.Found, err)
		}
	})
	t.Run("reviews window", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *yotpoemu.Config) { c.ReviewsPerMinute = 1 })
		r := b.reviews(t, yotpoemu.DefaultAppKey, yotpoemu.DefaultSecret, 0)
		if _, err := r.CustomerSummary(context.Background(), both); err != nil {
			t.Fatal(err)
		}
		_, err := r.CustomerSummary(context.Background(), both)
		var oe *outbound.Error
		if !errors.As(err, &oe) || oe.Class != domain.ClassRateLimited || oe.RetryAfter != 60*time.Second {
			t.Fatalf("err = %v, want rate limited with 60 s", err)
		}
	})
}

func TestReviewsAuth(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	t.Run("bad secret", func(t *testing.T) {
		t.Parallel()
		_, err := b.reviews(t, yotpoemu.DefaultAppKey, "wrong", 0).CustomerSummary(ctx, both)
		if classOf(err) != domain.ClassAuth {
			t.Fatalf("class = %s (%v), want auth", classOf(err), err)
		}
	})
	t.Run("unknown app key", func(t *testing.T) {
		t.Parallel()
		_, err := b.reviews(t, "nope", "nope", 0).BottomLine(ctx, "TEE-BLK-M")
		if !domain.IsNotFound(err) {
			t.Fatalf("err = %v, want not found", err)
		}
	})
	t.Run("token cached, renewed after 401 and expiry", func(t *testing.T) {
		b := setup(t, func(c *yotpoemu.Config) { c.TokenTTL = time.Hour })
		r := b.reviews(t, yotpoemu.DefaultAppKey, yotpoemu.DefaultSecret, 0)
		for i := 0; i < 3; i++ {
			if _, err := r.CustomerSummary(ctx, both); err != nil {
				t.Fatal(err)
			}
		}
		if n := r.TokenFetches(); n != 1 {
			t.Fatalf("token fetches = %d, want 1 (cached)", n)
		}
		// Reset forgets every token: the next call gets 401, refreshes once and succeeds.
		resp, err := http.Post(b.srv.URL+"/_emulator/reset", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if _, err := r.CustomerSummary(ctx, both); err != nil {
			t.Fatalf("after reset: %v", err)
		}
		if n := r.TokenFetches(); n != 2 {
			t.Fatalf("token fetches = %d, want 2", n)
		}
		b.clock.Add(time.Hour)
		if _, err := r.CustomerSummary(ctx, both); err != nil {
			t.Fatalf("after expiry: %v", err)
		}
		if n := r.TokenFetches(); n != 3 {
			t.Fatalf("token fetches = %d, want 3", n)
		}
	})
}

func TestReviewsPaging(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	all := b.emu.Reviews()
	since := b.clock.Now().AddDate(0, -4, 0)
	count := func(pred func(yotpoemu.Review) bool) int {
		n := 0
		for _, r := range all {
			if pred(r) {
				n++
			}
		}
		return n
	}
	tests := []struct {
		name     string
		pageSize int
		q        yotpo.ReviewsQuery
		want     int
	}{
		{"all, pages of 3", 3, yotpo.ReviewsQuery{}, count(func(r yotpoemu.Review) bool { return !r.Deleted })},
		{"all, pages of 100", 100, yotpo.ReviewsQuery{}, count(func(r yotpoemu.Review) bool { return !r.Deleted })},
		{"with deleted", 7, yotpo.ReviewsQuery{IncludeDeleted: true}, len(all)},
		{"since_updated_at", 4, yotpo.ReviewsQuery{Since: since},
			count(func(r yotpoemu.Review) bool { return !r.Deleted && !r.UpdatedAt.Before(since) })},
		{"one email", 2, yotpo.ReviewsQuery{Email: reviewsOnly},
			count(func(r yotpoemu.Review) bool { return !r.Deleted && r.Email == reviewsOnly })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := b.reviews(t, yotpoemu.DefaultAppKey, yotpoemu.DefaultSecret, tc.pageSize).AllReviews(context.Background(), tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.want || tc.want == 0 {
				t.Fatalf("got %d reviews, want %d (>0)", len(got), tc.want)
			}
			ids := map[int64]bool{}
			for _, r := range got {
				if ids[int64(r.ID)] {
					t.Fatalf("review %d seen twice", r.ID)
				}
				ids[int64(r.ID)] = true
			}
		})
	}
}

func TestCustomerSummary(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	r := b.reviews(t, yotpoemu.DefaultAppKey, yotpoemu.DefaultSecret, 0)
	var mine []yotpoemu.Review
	for _, rv := range b.emu.Reviews() {
		if rv.Email == both && !rv.Deleted {
			mine = append(mine, rv)
		}
	}
	tests := []struct {
		email string
		found bool
	}{{both, true}, {reviewsOnly, true}, {loyaltyOnly, false}, {unknown, false}}
	for _, tc := range tests {
		t.Run(tc.email, func(t *testing.T) {
			t.Parallel()
			got, err := r.CustomerSummary(context.Background(), tc.email)
			if err != nil {
				t.Fatal(err)
			}
			if got.Found != tc.found {
				t.Fatalf("found = %v, want %v", got.Found, tc.found)
			}
			if tc.email != both {
				return
			}
			s := got.Summary
			sum := 0
			for _, rv := range mine {
				sum += rv.Score
			}
			avg := float64(int64(float64(sum)/float64(len(mine))*10+0.5)) / 10
			if int(s.TotalReviews) != len(mine) || !s.TotalAvgRating.Valid || s.TotalAvgRating.V != avg || len(s.TopTopics) == 0 {
				t.Errorf("summary = %+v, want %d reviews averaging %.1f with topics", s, len(mine), avg)
			}
			if yotpo.SentimentLabel(s.TotalAvgSentiment) == "" {
				t.Errorf("no sentiment label for %+v", s.TotalAvgSentiment)
			}
		})
	}
}

func TestLatestReviews(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	all := b.emu.Reviews()
	// The reviewer with the most reviews (more than five with seed 42).
	counts := map[string]int{}
	email := ""
	for _, rv := range all {
		if !rv.Deleted {
			counts[rv.Email]++
			if counts[rv.Email] > counts[email] {
				email = rv.Email
			}
		}
	}
	var mine []yotpoemu.Review
	for _, rv := range all {
		if rv.Email == email && !rv.Deleted {
			mine = append(mine, rv)
		}
	}
	sort.Slice(mine, func(i, j int) bool { return mine[i].CreatedAt.After(mine[j].CreatedAt) })
	prods := map[string]yotpoemu.Product{}
	for _, p := range b.emu.Products() {
		prods[p.ExternalID] = p
	}
	got, err := b.reviews(t, yotpoemu.DefaultAppKey, yotpoemu.DefaultSecret, 5).LatestReviews(context.Background(), email, 5)
	if err != nil {
		t.Fatal(err)
	}
	want := min(5, len(mine))
	if len(got) != want || len(mine) <= 5 {
		t.Fatalf("got %d reviews, want %d", len(got), want)
	}
	for i, g := range got {
		w := mine[i]
		if int64(g.ID) != w.ID || g.Title != w.Title || int(g.Score) != w.Score || int(g.VotesUp) != w.VotesUp ||
			int(g.VotesDown) != w.VotesDown || g.Published() != (!w.Deleted && !w.Archived) {
			t.Errorf("review %d = %+v, want %+v", i, g.Review, w)
		}
		if w.SKU == yotpoemu.SiteReviewSKU {
			if g.Product != nil {
				t.Errorf("site review %d has product %+v", g.ID, g.Product)
			}
			continue
		}
		p := prods[w.SKU]
		pub, sum := 0, 0
		for _, rv := range all {
			if rv.SKU == w.SKU && !rv.Deleted && !rv.Archived {
				pub++
				sum += rv.Score
			}
		}
		if g.Product == nil || g.Product.Name != p.Name || g.Product.URL != p.URL || g.Product.Category != p.CustomProperties["category"] ||
			g.Product.ReviewCount != int64(pub) {
			t.Errorf("review %d product = %+v, want %s %s %s count %d", g.ID, g.Product, p.Name, p.URL, p.CustomProperties["category"], pub)
		}
		if pub > 0 && (!g.Product.Rating.Valid || g.Product.Rating.V < 1 || g.Product.Rating.V > 5) {
			t.Errorf("rating = %+v", g.Product.Rating)
		}
	}
	// A loyalty-only customer has no reviews.
	none, err := b.reviews(t, yotpoemu.DefaultAppKey, yotpoemu.DefaultSecret, 5).LatestReviews(context.Background(), loyaltyOnly, 5)
	if err != nil || len(none) != 0 {
		t.Fatalf("loyalty-only latest reviews = %d, %v", len(none), err)
	}
}

func TestProductsAndBottomLine(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	r := b.reviews(t, yotpoemu.DefaultAppKey, yotpoemu.DefaultSecret, 0)
	ps, err := r.Products(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(b.emu.Products()); len(ps) != want || want == 0 {
		t.Fatalf("products = %d, want %d", len(ps), want)
	}
	_, err = r.BottomLine(context.Background(), "NO-SUCH-SKU")
	if !domain.IsNotFound(err) {
		t.Fatalf("unknown product err = %v, want not found", err)
	}
}

func TestEscalationsCommentsAndWebhook(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	r := b.reviews(t, yotpoemu.DefaultAppKey, yotpoemu.DefaultSecret, 10)

	type hit struct {
		h    http.Header
		body []byte
	}
	hits := make(chan hit, 4)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		hits <- hit{req.Header.Clone(), body}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(recv.Close)
	const secret = "hook-secret"
	sub, err := r.CreateWebhook(ctx, recv.URL+"/hooks/yotpo/inst/tok", yotpo.EventReviewEscalated, secret)
	if err != nil || sub.ID == 0 {
		t.Fatalf("create webhook: %+v %v", sub, err)
	}
	since := b.clock.Now()
	b.clock.Add(time.Minute)
	// Escalate an existing, not yet escalated review.
	var target yotpoemu.Review
	for _, rv := range b.emu.Reviews() {
		if !rv.Escalated && !rv.Deleted {
			target = rv
			break
		}
	}
	if _, err := b.emu.Escalate(yotpoemu.EscalateRequest{ID: target.ID}); err != nil {
		t.Fatal(err)
	}
	got := <-hits
	if err := (yotpo.Verifier{}).Verify(got.h, got.body, []string{"old", secret}); err != nil {
		t.Fatalf("verify: %v", err)
	}
	tampered := append([]byte(nil), got.body...)
	tampered[len(tampered)-2] ^= 1
	if err := (yotpo.Verifier{}).Verify(got.h, tampered, []string{secret}); !errors.Is(err, yotpo.ErrBadSignature) {
		t.Fatalf("tampered verify = %v", err)
	}
	p, esc, err := yotpo.DecodeWebhook(got.body)
	if err != nil || p.Event != yotpo.EventReviewEscalated || esc.ID != target.ID || esc.Kind != yotpo.KindReview || esc.Email != target.Email {
		t.Fatalf("decoded %+v %+v %v", p, esc, err)
	}

	// Polling finds it too, plus an escalated question.
	q, err := b.emu.Escalate(yotpoemu.EscalateRequest{Type: "question", Email: both})
	if err != nil {
		t.Fatal(err)
	}
	qid := q.(*yotpoemu.Question).ID
	escs, err := r.Escalations(ctx, since)
	if err != nil {
		t.Fatal(err)
	}
	var sawReview, sawQuestion bool
	for _, e := range escs {
		sawReview = sawReview || (e.Kind == yotpo.KindReview && e.ID == target.ID)
		sawQuestion = sawQuestion || (e.Kind == yotpo.KindQuestion && e.ID == qid)
		if e.EscalatedAt.Before(since) {
			t.Errorf("escalation %+v older than since", e)
		}
	}
	if !sawReview || !sawQuestion {
		t.Fatalf("escalations = %+v, want review %d and question %d", escs, target.ID, qid)
	}

	// Replies are visible in the emulator's state.
	tests := []struct {
		kind string
		id   int64
		err  string
	}{
		{yotpo.KindReview, target.ID, ""},
		{yotpo.KindQuestion, qid, ""},
		{yotpo.KindReview, 999999, domain.ENOTFOUND},
		{"ticket", 1, domain.EINVALID},
	}
	for _, tc := range tests {
		c, err := r.PostComment(ctx, tc.kind, tc.id, "Sorry about that, a replacement is on its way.", true)
		if tc.err != "" {
			if domain.ErrorCode(err) != tc.err {
				t.Errorf("%s %d: err = %v, want %s", tc.kind, tc.id, err, tc.err)
			}
			continue
		}
		if err != nil || c.ID == 0 || !c.Public {
			t.Fatalf("%s comment = %+v, %v", tc.kind, c, err)
		}
	}
	rv, err := r.GetReview(ctx, target.ID)
	if err != nil || len(rv.Comments) != 1 || !strings.Contains(rv.Comments[0].Content, "replacement") || !rv.Escalated {
		t.Fatalf("review after comment = %+v, %v", rv, err)
	}
	for _, qq := range b.emu.Questions() {
		if qq.ID == qid && len(qq.Answers) != 1 {
			t.Fatalf("question answers = %+v", qq.Answers)
		}
	}
	if err := r.DeleteWebhook(ctx, int64(sub.ID)); err != nil {
		t.Fatal(err)
	}
}

func TestConnect(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	c, err := yotpo.NewConnect(yotpo.ConnectConfig{BaseURL: b.srv.URL, ClientID: "switchyard"})
	if err != nil {
		t.Fatal(err)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	redirect := "http://127.0.0.1:9/oauth/callback/yotpo"

	// The page shows a Connect button that posts back.
	resp, err := noFollow.Get(c.AuthorizeURL(redirect, "st8"))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), `value="connect"`) || !strings.Contains(string(page), "Demo Store") {
		t.Fatalf("page %d: %s", resp.StatusCode, page)
	}
	form := url.Values{"client_id": {"switchyard"}, "redirect_uri": {redirect}, "state": {"st8"}, "account": {yotpoemu.DefaultAppKey}, "action": {"connect"}}
	resp, err = noFollow.PostForm(b.srv.URL+"/oauth/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc.Query().Get("state") != "st8" || loc.Query().Get("code") == "" {
		t.Fatalf("redirect %d %s", resp.StatusCode, loc)
	}
	g, err := c.Exchange(ctx, loc.Query().Get("code"), redirect)
	if err != nil {
		t.Fatal(err)
	}
	if g.AppKey != yotpoemu.DefaultAppKey || g.Secret != yotpoemu.DefaultSecret || g.LoyaltyGUID != yotpoemu.DefaultGUID ||
		g.LoyaltyAPIKey != yotpoemu.DefaultAPIKey || !g.ReviewsEnabled || !g.LoyaltyEnabled {
		t.Fatalf("grant = %+v", g)
	}
	if _, err := c.Exchange(ctx, loc.Query().Get("code"), redirect); domain.ErrorCode(err) != domain.EINVALID {
		t.Fatalf("code reuse err = %v, want invalid", err)
	}

	// Deny, and auto-approve for a loyalty-only account.
	form.Set("action", "deny")
	resp, err = noFollow.PostForm(b.srv.URL+"/oauth/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc, _ := url.Parse(resp.Header.Get("Location")); loc.Query().Get("error") != "access_denied" {
		t.Fatalf("deny redirect = %s", loc)
	}
	b.emu.AddAccount(yotpoemu.Account{Name: "Loyalty Shop", GUID: "g2", APIKey: "k2", Customers: 3})
	resp, err = noFollow.Get(c.AuthorizeURL(redirect, "s2") + "&auto_approve=1&account=g2")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ = url.Parse(resp.Header.Get("Location"))
	g, err = c.Exchange(ctx, loc.Query().Get("code"), redirect)
	if err != nil || g.ReviewsEnabled || !g.LoyaltyEnabled || g.LoyaltyGUID != "g2" || g.RefreshToken == "" {
		t.Fatalf("loyalty-only grant = %+v, %v", g, err)
	}

	// The merchant adds Reviews later: the renewed grant has it, with no
	// new Connect.
	if !b.emu.EnableProduct("g2", yotpoemu.Account{AppKey: "a2", Secret: "s2"}) {
		t.Fatal("EnableProduct: account not found")
	}
	g2, err := c.Refresh(ctx, g.RefreshToken)
	if err != nil || !g2.ReviewsEnabled || !g2.LoyaltyEnabled || g2.AppKey != "a2" || g2.Secret != "s2" || g2.LoyaltyGUID != "g2" {
		t.Fatalf("refreshed grant = %+v, %v", g2, err)
	}
	if _, err := c.Refresh(ctx, "yr_unknown"); domain.ErrorCode(err) != domain.EINVALID {
		t.Fatalf("unknown refresh token err = %v, want invalid", err)
	}
}

// The token request is JSON (issue 13), a reviewer's summary is looked up
// with the documented external_ids filter, and a question is re-read by id.
func TestTokenRequestIsJSONAndQuestionByID(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var tokenCT, lookups []string
	b := setup(t, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth/token" {
			mu.Lock()
			tokenCT = append(tokenCT, r.Header.Get("Content-Type"))
			mu.Unlock()
		}
		if strings.HasSuffix(r.URL.Path, "/customers") {
			mu.Lock()
			q := r.URL.Query()
			q.Del("utoken")
			lookups = append(lookups, q.Encode())
			mu.Unlock()
		}
		b.emu.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	r, err := yotpo.NewReviews(yotpo.ReviewsConfig{BaseURL: srv.URL, AppKey: yotpoemu.DefaultAppKey, Secret: yotpoemu.DefaultSecret})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	qs := b.emu.Questions()
	if len(qs) == 0 {
		t.Fatal("no fixture questions")
	}
	q, err := r.GetQuestion(ctx, qs[0].ID)
	if err != nil || int64(q.ID) != qs[0].ID || q.Content != qs[0].Content {
		t.Fatalf("GetQuestion = %+v, %v", q, err)
	}
	if _, err := r.GetQuestion(ctx, 1); !domain.IsNotFound(err) {
		t.Fatalf("missing question err = %v", err)
	}
	if _, err := r.CustomerSummary(ctx, "Who@Example.com"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(lookups) != 1 || lookups[0] != "external_ids=who%40example.com" {
		t.Fatalf("customer lookups %v, want external_ids only", lookups)
	}
	defer mu.Unlock()
	if len(tokenCT) != 1 || !strings.HasPrefix(tokenCT[0], "application/json") {
		t.Fatalf("token requests sent as %v, want one JSON", tokenCT)
	}
}

func TestSeparateAccounts(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.emu.AddAccount(yotpoemu.Account{Name: "Reviews Shop", AppKey: "app2", Secret: "sec2", Customers: 4})
	r := b.reviews(t, "app2", "sec2", 50)
	got, err := r.AllReviews(context.Background(), yotpo.ReviewsQuery{})
	if err != nil || len(got) == 0 {
		t.Fatalf("reviews of second account: %d %v", len(got), err)
	}
	for _, rv := range got {
		if rv.Email == both {
			t.Fatalf("second account sees default account's review %+v", rv)
		}
	}
	// The app2 token cannot read the default app key's reviews.
	_, err = r.Products(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
}

func emukitFaults(rate float64, retryAfter int) emukit.Faults {
	return emukit.Faults{RateLimitRate: rate, RetryAfter: retryAfter}
}
