package yotpo

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"switchyard/internal/emulator/emukit"
)

func (e *Emulator) routes() {
	m := e.mux
	// Loyalty & Referrals.
	m.HandleFunc("GET /api/v2/customers", e.loyaltyCustomer)
	m.HandleFunc("GET /api/v2/campaigns", e.loyaltyCampaigns)
	// Reviews / UGC.
	m.HandleFunc("POST /oauth/token", e.token)
	m.HandleFunc("GET /oauth/authorize", e.authorizePage)
	m.HandleFunc("POST /oauth/authorize", e.authorizeSubmit)
	m.HandleFunc("GET /v1/apps/{app_key}/reviews", e.listReviews)
	m.HandleFunc("GET /v1/apps/{app_key}/questions", e.listQuestions)
	m.HandleFunc("GET /reviews/{id}", e.getReview)
	m.HandleFunc("GET /questions/{id}", e.getQuestion)
	m.HandleFunc("POST /reviews/{id}/comments", e.postComment)
	m.HandleFunc("POST /questions/{id}/answers", e.postAnswer)
	m.HandleFunc("GET /core/v3/stores/{store_id}/customers", e.coreCustomers)
	m.HandleFunc("GET /core/v3/stores/{store_id}/products", e.coreProducts)
	m.HandleFunc("GET /products/{app_key}/{sku}/bottomline", e.bottomline)
	m.HandleFunc("GET /v1/widget/{app_key}/products/{sku}/reviews.json", e.widgetReviews)
	m.HandleFunc("POST /apps/{app_key}/webhooks", e.createWebhook)
	m.HandleFunc("GET /apps/{app_key}/webhooks", e.listWebhooks)
	m.HandleFunc("DELETE /apps/{app_key}/webhooks/{id}", e.deleteWebhook)
	// Control.
	e.kit.Control(m, e.state, e.reset)
	m.HandleFunc("POST /_emulator/accounts", e.ctlAccounts)
	m.HandleFunc("POST /_emulator/seed", e.ctlSeed)
	m.HandleFunc("POST /_emulator/escalate", e.ctlEscalate)
}

// writeLoyaltyErr is the Loyalty API error envelope (assumption: {"error": msg}).
func writeLoyaltyErr(w http.ResponseWriter, status int, msg string) {
	emukit.WriteJSON(w, status, map[string]any{"error": msg, "status": status})
}

// writeReviewsErr is the v1 envelope {"status":{"code","message","error_type"}}.
func writeReviewsErr(w http.ResponseWriter, status int, msg string) {
	emukit.WriteJSON(w, status, map[string]any{"status": map[string]any{
		"code": status, "message": msg, "error_type": http.StatusText(status)}})
}

func okStatus() map[string]any { return map[string]any{"code": 200, "message": "OK"} }

// ---- Loyalty ----

func (e *Emulator) loyaltyAuth(w http.ResponseWriter, r *http.Request) *store {
	guid, key := r.Header.Get("x-guid"), r.Header.Get("x-api-key")
	if guid == "" || key == "" {
		writeLoyaltyErr(w, http.StatusUnauthorized, "missing x-guid or x-api-key header")
		return nil
	}
	for _, s := range e.stores {
		if s.acct.GUID != "" && s.acct.GUID == guid {
			if s.acct.APIKey != key {
				writeLoyaltyErr(w, http.StatusUnauthorized, "invalid API key")
				return nil
			}
			if d, ok := e.allow("loyalty:"+guid, e.cfg.LoyaltyPerMinute); !ok {
				w.Header().Set("Retry-After", retryAfter(d))
				writeLoyaltyErr(w, http.StatusTooManyRequests, "rate limit exceeded")
				return nil
			}
			return s
		}
	}
	writeLoyaltyErr(w, http.StatusUnauthorized, "unknown merchant guid")
	return nil
}

func (e *Emulator) loyaltyCustomer(w http.ResponseWriter, r *http.Request) {
	if e.kit.Inject(w, r, writeLoyaltyErr) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.loyaltyAuth(w, r)
	if s == nil {
		return
	}
	q := r.URL.Query()
	email := q.Get("customer_email")
	if email == "" {
		writeLoyaltyErr(w, http.StatusBadRequest, "customer_email is required")
		return
	}
	c, ok := s.loyalty[normEmail(email)]
	if !ok {
		writeLoyaltyErr(w, http.StatusNotFound, "customer not found")
		return
	}
	out := *c
	if q.Get("with_history") != "true" {
		out.HistoryItems = nil
	}
	if q.Get("with_referral_code") != "true" {
		out.ReferralCode, out.ReferralLink = "", ""
	}
	emukit.WriteJSON(w, http.StatusOK, out)
}

func (e *Emulator) loyaltyCampaigns(w http.ResponseWriter, r *http.Request) {
	if e.kit.Inject(w, r, writeLoyaltyErr) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.loyaltyAuth(w, r) == nil {
		return
	}
	emukit.WriteJSON(w, http.StatusOK, []map[string]any{
		{"id": 1, "title": "Make a purchase", "type": "PointsForPurchasesCampaign", "reward_points": 1, "active": true},
		{"id": 2, "title": "Refer a friend", "type": "ReferralCampaign", "reward_points": 500, "active": true},
	})
}

// ---- Reviews auth ----

func (e *Emulator) token(w http.ResponseWriter, r *http.Request) {
	if e.kit.Inject(w, r, writeReviewsErr) {
		return
	}
	p, err := params(r)
	if err != nil {
		writeReviewsErr(w, http.StatusBadRequest, err.Error())
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	switch p.Get("grant_type") {
	case "client_credentials":
		s := e.storeByAppKey(p.Get("client_id"))
		if s == nil || s.acct.Secret != p.Get("client_secret") {
			writeReviewsErr(w, http.StatusUnauthorized, "invalid client_id or client_secret")
			return
		}
		tok := randToken("yt_")
		e.tokens[tok] = tokenInfo{appKey: s.acct.AppKey, expires: e.cfg.Now().Add(e.cfg.TokenTTL)}
		emukit.WriteJSON(w, http.StatusOK, map[string]any{"access_token": tok, "token_type": "bearer",
			"expires_in": int(e.cfg.TokenTTL.Seconds())})
	case "authorization_code":
		c, ok := e.codes[p.Get("code")]
		if !ok || e.cfg.Now().After(c.expires) || c.redirect != p.Get("redirect_uri") || c.clientID != p.Get("client_id") {
			writeReviewsErr(w, http.StatusBadRequest, "invalid_grant: unknown, expired or mismatched code")
			return
		}
		delete(e.codes, p.Get("code"))
		rt := randToken("yr_")
		e.refresh[rt] = c.acct
		emukit.WriteJSON(w, http.StatusOK, e.grantLocked(c.acct, rt))
	case "refresh_token":
		idx, ok := e.refresh[p.Get("refresh_token")]
		if !ok || idx >= len(e.stores) {
			writeReviewsErr(w, http.StatusBadRequest, "invalid_grant: unknown or revoked refresh token")
			return
		}
		emukit.WriteJSON(w, http.StatusOK, e.grantLocked(idx, p.Get("refresh_token")))
	default:
		writeReviewsErr(w, http.StatusBadRequest, "unsupported grant_type")
	}
}

// grantLocked is the Connect grant of account idx: the credentials of the
// products it has now. Called with e.mu held.
func (e *Emulator) grantLocked(idx int, refresh string) map[string]any {
	a := e.stores[idx].acct
	out := map[string]any{"token_type": "bearer", "store_name": a.Name, "refresh_token": refresh,
		"reviews_enabled": a.AppKey != "", "loyalty_enabled": a.GUID != ""}
	if a.AppKey != "" {
		tok := randToken("yt_")
		e.tokens[tok] = tokenInfo{appKey: a.AppKey, expires: e.cfg.Now().Add(e.cfg.TokenTTL)}
		out["access_token"], out["expires_in"] = tok, int(e.cfg.TokenTTL.Seconds())
		out["app_key"], out["store_id"], out["secret"] = a.AppKey, a.AppKey, a.Secret
	}
	if a.GUID != "" {
		out["loyalty_guid"], out["loyalty_api_key"] = a.GUID, a.APIKey
	}
	return out
}

// params merges the query, a form body and a flat JSON body.
func params(r *http.Request) (url.Values, error) {
	v := r.URL.Query()
	ct := r.Header.Get("Content-Type")
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(ct, "application/json") && len(body) > 0 {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, err
		}
		for k, x := range m {
			if s, ok := x.(string); ok {
				v.Set(k, s)
			}
		}
		return v, nil
	}
	f, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, err
	}
	for k, xs := range f {
		for _, x := range xs {
			v.Add(k, x)
		}
	}
	return v, nil
}

// reviewsAuth checks the utoken (query or X-Yotpo-Token) and the per-app-key
// limit. appKey, when not empty, must be the token's app key. Called with
// e.mu held.
func (e *Emulator) reviewsAuth(w http.ResponseWriter, r *http.Request, appKey, bodyToken string) *store {
	tok := r.URL.Query().Get("utoken")
	if tok == "" {
		tok = r.Header.Get("X-Yotpo-Token")
	}
	if tok == "" {
		tok = bodyToken
	}
	ti, ok := e.tokens[tok]
	if tok == "" || !ok || e.cfg.Now().After(ti.expires) {
		writeReviewsErr(w, http.StatusUnauthorized, "Invalid or expired token")
		return nil
	}
	if appKey != "" && appKey != ti.appKey {
		writeReviewsErr(w, http.StatusForbidden, "token does not belong to this app key")
		return nil
	}
	if d, ok := e.allow("reviews:"+ti.appKey, e.cfg.ReviewsPerMinute); !ok {
		w.Header().Set("Retry-After", retryAfter(d))
		writeReviewsErr(w, http.StatusTooManyRequests, "Too Many Requests")
		return nil
	}
	return e.storeByAppKey(ti.appKey)
}

func pageParams(q url.Values, defCount, maxCount int) (page, count int, ok bool) {
	page, count = 1, defCount
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, 0, false
		}
		page = n
	}
	for _, k := range []string{"count", "per_page"} {
		if v := q.Get(k); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return 0, 0, false
			}
			count = min(n, maxCount)
		}
	}
	return page, count, true
}

func parseTime(s string) (time.Time, bool) {
	for _, l := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// listParams reads page, count and since_updated_at of a list call,
// answering 400 when one is malformed.
func listParams(w http.ResponseWriter, q url.Values) (page, count int, since time.Time, ok bool) {
	if page, count, ok = pageParams(q, 10, 100); !ok {
		writeReviewsErr(w, http.StatusBadRequest, "page and count must be positive integers")
		return 0, 0, since, false
	}
	if v := q.Get("since_updated_at"); v != "" {
		if since, ok = parseTime(v); !ok {
			writeReviewsErr(w, http.StatusBadRequest, "since_updated_at must be ISO-8601")
			return 0, 0, since, false
		}
	}
	return page, count, since, true
}

func (e *Emulator) listReviews(w http.ResponseWriter, r *http.Request) {
	if e.kit.Inject(w, r, writeReviewsErr) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.reviewsAuth(w, r, r.PathValue("app_key"), "")
	if s == nil {
		return
	}
	q := r.URL.Query()
	page, count, since, ok := listParams(w, q)
	if !ok {
		return
	}
	email := normEmail(q.Get("user_email"))
	var sel []*Review
	for _, rv := range s.reviews {
		if rv.Deleted && q.Get("deleted") != "true" {
			continue
		}
		if !since.IsZero() && rv.UpdatedAt.Before(since) {
			continue
		}
		if email != "" && normEmail(rv.Email) != email {
			continue
		}
		if ref := q.Get("user_reference"); ref != "" && rv.UserReference != ref {
			continue
		}
		sel = append(sel, rv)
	}
	emukit.WriteJSON(w, http.StatusOK, map[string]any{"status": okStatus(), "reviews": pageOf(sel, page, count)})
}

func pageOf[T any](xs []T, page, count int) []T {
	from := (page - 1) * count
	if from >= len(xs) {
		return []T{}
	}
	return xs[from:min(from+count, len(xs))]
}

func (e *Emulator) listQuestions(w http.ResponseWriter, r *http.Request) {
	if e.kit.Inject(w, r, writeReviewsErr) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.reviewsAuth(w, r, r.PathValue("app_key"), "")
	if s == nil {
		return
	}
	q := r.URL.Query()
	page, count, since, ok := listParams(w, q)
	if !ok {
		return
	}
	var sel []*Question
	for _, qq := range s.questions {
		if !since.IsZero() && qq.UpdatedAt.Before(since) {
			continue
		}
		if q.Get("escalated") == "true" && !qq.Escalated {
			continue
		}
		sel = append(sel, qq)
	}
	emukit.WriteJSON(w, http.StatusOK, map[string]any{"status": okStatus(), "questions": pageOf(sel, page, count)})
}

func (e *Emulator) getReview(w http.ResponseWriter, r *http.Request) {
	getByID(e, w, r, "review", (*store).review)
}

func (e *Emulator) getQuestion(w http.ResponseWriter, r *http.Request) {
	getByID(e, w, r, "question", (*store).question)
}

// getByID answers GET /{kind}s/{id}: {"status", "response": {kind: item}},
// or the Reviews error envelope with 404 when find has no such item.
func getByID[T any](e *Emulator, w http.ResponseWriter, r *http.Request, kind string, find func(*store, int64) *T) {
	if e.kit.Inject(w, r, writeReviewsErr) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.reviewsAuth(w, r, "", "")
	if s == nil {
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	item := find(s, id)
	if item == nil {
		writeReviewsErr(w, http.StatusNotFound, kind+" not found")
		return
	}
	emukit.WriteJSON(w, http.StatusOK, map[string]any{"status": okStatus(), "response": map[string]any{kind: item}})
}

type commentBody struct {
	UToken  string `json:"utoken"`
	AppKey  string `json:"app_key"`
	Comment struct {
		Content string `json:"content"`
		Public  *bool  `json:"public"`
	} `json:"comment"`
}

func (e *Emulator) readComment(w http.ResponseWriter, r *http.Request) (commentBody, bool) {
	var b commentBody
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&b); err != nil {
		writeReviewsErr(w, http.StatusBadRequest, "body must be JSON: "+err.Error())
		return b, false
	}
	return b, true
}

func (e *Emulator) postComment(w http.ResponseWriter, r *http.Request) { e.postReply(w, r, "comment") }

func (e *Emulator) postAnswer(w http.ResponseWriter, r *http.Request) { e.postReply(w, r, "answer") }

// postReply adds a comment to a review or an answer to a question.
func (e *Emulator) postReply(w http.ResponseWriter, r *http.Request, kind string) {
	if e.kit.Inject(w, r, writeReviewsErr) {
		return
	}
	b, ok := e.readComment(w, r)
	if !ok {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.reviewsAuth(w, r, b.AppKey, b.UToken)
	if s == nil {
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	var add func(c Comment)
	if kind == "comment" {
		rv := s.review(id)
		if rv == nil {
			writeReviewsErr(w, http.StatusNotFound, "review not found")
			return
		}
		add = func(c Comment) { rv.Comments, rv.UpdatedAt = append(rv.Comments, c), c.CreatedAt }
	} else {
		q := s.question(id)
		if q == nil {
			writeReviewsErr(w, http.StatusNotFound, "question not found")
			return
		}
		add = func(c Comment) { q.Answers, q.UpdatedAt = append(q.Answers, c), c.CreatedAt }
	}
	if strings.TrimSpace(b.Comment.Content) == "" {
		writeReviewsErr(w, http.StatusBadRequest, "comment.content is required")
		return
	}
	c := Comment{ID: s.id(), Content: b.Comment.Content, Public: b.Comment.Public == nil || *b.Comment.Public, CreatedAt: e.cfg.Now().UTC()}
	add(c)
	emukit.WriteJSON(w, http.StatusOK, map[string]any{"status": okStatus(), "response": map[string]any{kind: c}})
}

// ---- core v3 ----

func (e *Emulator) coreAuth(w http.ResponseWriter, r *http.Request) *store {
	if r.URL.Query().Get("utoken") == "" && r.Header.Get("X-Yotpo-Token") == "" {
		writeReviewsErr(w, http.StatusUnauthorized, "missing X-Yotpo-Token")
		return nil
	}
	return e.reviewsAuth(w, r, r.PathValue("store_id"), "")
}

type cursor struct {
	Offset int `json:"o"`
}

func encodeCursor(off int) string {
	b, _ := json.Marshal(cursor{off})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (int, bool) {
	if s == "" {
		return 0, true
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, false
	}
	var c cursor
	if json.Unmarshal(b, &c) != nil || c.Offset < 0 {
		return 0, false
	}
	return c.Offset, true
}

func limitCursor(w http.ResponseWriter, q url.Values, def int) (limit, off int, ok bool) {
	limit = def
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeReviewsErr(w, http.StatusBadRequest, "limit must be a positive integer")
			return 0, 0, false
		}
		limit = min(n, 100)
	}
	off, ok = decodeCursor(q.Get("page_info"))
	if !ok {
		writeReviewsErr(w, http.StatusBadRequest, "invalid page_info")
	}
	return limit, off, ok
}

func pagination[T any](xs []T, off, limit int) ([]T, map[string]any) {
	if off > len(xs) {
		off = len(xs)
	}
	end := min(off+limit, len(xs))
	p := map[string]any{"limit": limit, "total": len(xs)}
	if end < len(xs) {
		p["next_page_info"] = encodeCursor(end)
	}
	if off > 0 {
		p["previous_page_info"] = encodeCursor(max(0, off-limit))
	}
	return xs[off:end], p
}

type coreCustomer struct {
	ExternalID string     `json:"external_id"`
	Email      string     `json:"email"`
	FirstName  string     `json:"first_name"`
	LastName   string     `json:"last_name"`
	YotpoUGC   UGCSummary `json:"yotpo_ugc"`
}

func (e *Emulator) coreCustomers(w http.ResponseWriter, r *http.Request) {
	if e.kit.Inject(w, r, writeReviewsErr) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.coreAuth(w, r)
	if s == nil {
		return
	}
	q := r.URL.Query()
	limit, off, ok := limitCursor(w, q, 50)
	if !ok {
		return
	}
	want := map[string]bool{}
	for _, k := range []string{"email", "external_ids"} {
		for _, v := range strings.Split(q.Get(k), ",") {
			if v = normEmail(v); v != "" {
				want[v] = true
			}
		}
	}
	// Reviewers, in order of their first review; external id = email.
	seen := map[string]bool{}
	var list []coreCustomer
	for _, rv := range s.reviews {
		em := normEmail(rv.Email)
		if seen[em] || (len(want) > 0 && !want[em]) {
			continue
		}
		seen[em] = true
		sum, ok := s.summary(em)
		if !ok {
			continue
		}
		first, last, _ := strings.Cut(rv.Name, " ")
		list = append(list, coreCustomer{ExternalID: em, Email: rv.Email, FirstName: first, LastName: last, YotpoUGC: sum})
	}
	page, p := pagination(list, off, limit)
	emukit.WriteJSON(w, http.StatusOK, map[string]any{"customers": page, "pagination": p})
}

func (e *Emulator) coreProducts(w http.ResponseWriter, r *http.Request) {
	if e.kit.Inject(w, r, writeReviewsErr) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.coreAuth(w, r)
	if s == nil {
		return
	}
	q := r.URL.Query()
	limit, off, ok := limitCursor(w, q, 100)
	if !ok {
		return
	}
	want := map[string]bool{}
	for _, v := range strings.Split(q.Get("external_ids"), ",") {
		if v = strings.TrimSpace(v); v != "" {
			want[v] = true
		}
	}
	var list []*Product
	for _, k := range s.prodOrder {
		if len(want) == 0 || want[k] {
			list = append(list, s.products[k])
		}
	}
	page, p := pagination(list, off, limit)
	emukit.WriteJSON(w, http.StatusOK, map[string]any{"products": page, "pagination": p})
}

// ---- public (app key only) ----

func (e *Emulator) publicStore(w http.ResponseWriter, r *http.Request) *store {
	s := e.storeByAppKey(r.PathValue("app_key"))
	if s == nil {
		writeReviewsErr(w, http.StatusNotFound, "app key not found")
		return nil
	}
	if d, ok := e.allow("reviews:"+s.acct.AppKey, e.cfg.ReviewsPerMinute); !ok {
		w.Header().Set("Retry-After", retryAfter(d))
		writeReviewsErr(w, http.StatusTooManyRequests, "Too Many Requests")
		return nil
	}
	return s
}

func (e *Emulator) bottomline(w http.ResponseWriter, r *http.Request) {
	if e.kit.Inject(w, r, writeReviewsErr) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.publicStore(w, r)
	if s == nil {
		return
	}
	sku := r.PathValue("sku")
	if _, ok := s.products[sku]; !ok && sku != SiteReviewSKU {
		writeReviewsErr(w, http.StatusNotFound, "product not found")
		return
	}
	total, avg := s.bottomline(sku)
	emukit.WriteJSON(w, http.StatusOK, map[string]any{"status": okStatus(), "response": map[string]any{
		"bottomline": map[string]any{"average_score": avg, "total_reviews": total}}})
}

func (e *Emulator) widgetReviews(w http.ResponseWriter, r *http.Request) {
	if e.kit.Inject(w, r, writeReviewsErr) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.publicStore(w, r)
	if s == nil {
		return
	}
	sku := r.PathValue("sku")
	p, ok := s.products[sku]
	if !ok {
		writeReviewsErr(w, http.StatusNotFound, "product not found")
		return
	}
	q := r.URL.Query()
	page, per, ok := pageParams(q, 5, 150)
	if !ok {
		writeReviewsErr(w, http.StatusBadRequest, "page and per_page must be positive integers")
		return
	}
	var pub []*Review
	dist := map[string]int{"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}
	for _, rv := range s.reviews {
		if rv.SKU == sku && !rv.Deleted && !rv.Archived {
			pub = append(pub, rv)
			dist[strconv.Itoa(rv.Score)]++
		}
	}
	sort.SliceStable(pub, func(i, j int) bool { return pub[i].CreatedAt.After(pub[j].CreatedAt) })
	total, avg := s.bottomline(sku)
	var items []map[string]any
	for _, rv := range pageOf(pub, page, per) {
		it := map[string]any{"id": rv.ID, "score": rv.Score, "votes_up": rv.VotesUp, "votes_down": rv.VotesDown,
			"content": rv.Content, "title": rv.Title, "created_at": rv.CreatedAt, "verified_buyer": rv.ReviewerType == "verified_buyer",
			"sentiment": rv.Sentiment, "product_id": p.YotpoID, "user": map[string]any{"display_name": rv.Name, "user_type": "User"},
			"comment": nil}
		for _, c := range rv.Comments {
			if c.Public {
				it["comment"] = c
			}
		}
		items = append(items, it)
	}
	if items == nil {
		items = []map[string]any{}
	}
	emukit.WriteJSON(w, http.StatusOK, map[string]any{"status": okStatus(), "response": map[string]any{
		"pagination": map[string]any{"page": page, "per_page": per, "total": total},
		"bottomline": map[string]any{"total_review": total, "average_score": avg, "star_distribution": dist},
		"products": []map[string]any{{"id": p.YotpoID, "domain_key": p.ExternalID, "name": p.Name, "product_link": p.URL,
			"image_url": p.ImageURL, "category": p.CustomProperties["category"]}},
		"reviews": items,
	}})
}
