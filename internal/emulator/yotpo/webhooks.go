package yotpo

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"switchyard/internal/emulator/emukit"
)

// Webhook event names. review_create is documented; the escalation events
// are assumptions (docs/assumptions/yotpo.md).
const (
	EventReviewCreate      = "review_create"
	EventReviewEscalated   = "review_escalated"
	EventQuestionEscalated = "question_escalated"
)

var webhookEvents = []string{EventReviewCreate, EventReviewEscalated, EventQuestionEscalated}

// Webhook delivery headers (assumptions).
const (
	HeaderEvent     = "X-Yotpo-Event"
	HeaderDelivery  = "X-Yotpo-Delivery-Id"
	HeaderSignature = "X-Yotpo-Signature"
)

// Sign returns the lowercase-hex HMAC-SHA256 of body under secret, as the
// emulator puts it in X-Yotpo-Signature when a subscription has a secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Delivery records one webhook delivery attempt series.
type Delivery struct {
	ID        string    `json:"id"`
	Event     string    `json:"event"`
	URL       string    `json:"url"`
	Status    int       `json:"status"`
	Attempts  int       `json:"attempts"`
	Error     string    `json:"error,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

type delivery struct {
	id     string
	event  string
	url    string
	secret string
	body   []byte
}

// WebhookPayload is the body of an escalation delivery.
type WebhookPayload struct {
	Event  string          `json:"event_name"`
	AppKey string          `json:"app_key"`
	Type   string          `json:"type"`
	Data   json.RawMessage `json:"data"`
}

// enqueue queues deliveries of event to s's subscriptions. Called with e.mu held.
func (e *Emulator) enqueue(s *store, event, kind string, data any) {
	raw, _ := json.Marshal(data)
	body, _ := json.Marshal(WebhookPayload{Event: event, AppKey: s.acct.AppKey, Type: kind, Data: raw})
	for _, h := range s.webhooks {
		if h.EventName != event {
			continue
		}
		d := delivery{id: randToken("whd_"), event: event, url: h.URL, secret: h.Secret, body: body}
		e.deliveries = append(e.deliveries, Delivery{ID: d.id, Event: event, URL: h.URL, CreatedAt: e.cfg.Now().UTC()})
		select {
		case e.queue <- d:
			e.pending.Add()
		default:
			e.log.Warn("yotpo emulator webhook queue full, dropping", slog.String("event", event))
		}
	}
}

func (e *Emulator) deliverLoop() {
	defer e.wg.Done()
	for {
		select {
		case <-e.ctx.Done():
			return
		case d := <-e.queue:
			e.deliver(d)
		}
	}
}

func (e *Emulator) deliver(d delivery) {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "Yotpo-Webhooks (switchyard emulator)")
	h.Set(HeaderEvent, d.event)
	h.Set(HeaderDelivery, d.id)
	if d.secret != "" {
		h.Set(HeaderSignature, Sign(d.secret, d.body))
	}
	status, attempts, errMsg := emukit.PostWithRetries(e.ctx, e.cfg.HTTPClient, d.url, h, d.body, 3, 200*time.Millisecond)
	e.mu.Lock()
	for i := range e.deliveries {
		if e.deliveries[i].ID == d.id {
			e.deliveries[i].Status, e.deliveries[i].Attempts, e.deliveries[i].Error = status, attempts, errMsg
		}
	}
	e.mu.Unlock()
	e.pending.Done()
}

// WaitIdle blocks until every queued webhook delivery has finished (or ctx
// ends).
func (e *Emulator) WaitIdle(ctx context.Context) error { return e.pending.Wait(ctx) }

type webhookBody struct {
	UToken    string `json:"utoken"`
	URL       string `json:"url"`
	EventName string `json:"event_name"`
	Secret    string `json:"secret"`
}

func (e *Emulator) createWebhook(w http.ResponseWriter, r *http.Request) {
	if e.kit.Inject(w, r, writeReviewsErr) {
		return
	}
	var b webhookBody
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&b); err != nil {
		writeReviewsErr(w, http.StatusBadRequest, "body must be JSON: "+err.Error())
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.reviewsAuth(w, r, r.PathValue("app_key"), b.UToken)
	if s == nil {
		return
	}
	if !strings.HasPrefix(b.URL, "http://") && !strings.HasPrefix(b.URL, "https://") {
		writeReviewsErr(w, http.StatusBadRequest, "url must be an http(s) URL")
		return
	}
	if !contains(webhookEvents, b.EventName) {
		writeReviewsErr(w, http.StatusBadRequest, "unknown event_name (want one of "+strings.Join(webhookEvents, ", ")+")")
		return
	}
	e.nextHook++
	h := &Webhook{ID: e.nextHook, URL: b.URL, EventName: b.EventName, Secret: b.Secret}
	s.webhooks = append(s.webhooks, h)
	emukit.WriteJSON(w, http.StatusCreated, map[string]any{"status": okStatus(), "response": map[string]any{"webhook": h}})
}

func (e *Emulator) listWebhooks(w http.ResponseWriter, r *http.Request) {
	if e.kit.Inject(w, r, writeReviewsErr) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.reviewsAuth(w, r, r.PathValue("app_key"), "")
	if s == nil {
		return
	}
	hooks := append([]*Webhook{}, s.webhooks...)
	emukit.WriteJSON(w, http.StatusOK, map[string]any{"status": okStatus(), "response": map[string]any{"webhooks": hooks}})
}

func (e *Emulator) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	if e.kit.Inject(w, r, writeReviewsErr) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.reviewsAuth(w, r, r.PathValue("app_key"), "")
	if s == nil {
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	for i, h := range s.webhooks {
		if h.ID == id {
			s.webhooks = append(s.webhooks[:i], s.webhooks[i+1:]...)
			emukit.WriteJSON(w, http.StatusOK, map[string]any{"status": okStatus()})
			return
		}
	}
	writeReviewsErr(w, http.StatusNotFound, "webhook not found")
}

// EscalateRequest is the body of POST /_emulator/escalate. With ID 0 and an
// Email, a new one-star review (or question) by that email is created and
// escalated.
type EscalateRequest struct {
	// Account is an app key ("" = default account).
	Account string `json:"account"`
	// Type is "review" (default) or "question".
	Type  string `json:"type"`
	ID    int64  `json:"id"`
	Email string `json:"email"`
}

// Escalate marks a review or question escalated and queues the webhook. It
// returns the escalated record.
func (e *Emulator) Escalate(req EscalateRequest) (any, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.storeByAny(req.Account)
	if s == nil || s.acct.AppKey == "" {
		return nil, errString("unknown reviews account")
	}
	now := e.cfg.Now().UTC().Truncate(time.Second)
	switch req.Type {
	case "", "review":
		var rv *Review
		if req.ID != 0 {
			if rv = s.review(req.ID); rv == nil {
				return nil, errString("review not found")
			}
		} else {
			if req.Email == "" {
				return nil, errString("id or email is required")
			}
			c := catalogue[int(hash64(req.Email)%uint64(len(catalogue)))]
			rv = &Review{ID: s.id(), Title: "Very unhappy", Content: "My " + c.Name + " arrived broken and nobody answers.",
				Score: 1, CreatedAt: now, UpdatedAt: now, Sentiment: 0.05, SKU: c.SKU, Name: req.Email, Email: req.Email,
				ReviewerType: "verified_buyer", Topics: []string{"quality", "customer service"}, Comments: []Comment{}}
			s.reviews = append(s.reviews, rv)
		}
		rv.Escalated, rv.EscalatedAt, rv.UpdatedAt = true, &now, now
		e.enqueue(s, EventReviewEscalated, "review", rv)
		cp := *rv
		return &cp, nil
	case "question":
		var q *Question
		if req.ID != 0 {
			if q = s.question(req.ID); q == nil {
				return nil, errString("question not found")
			}
		} else {
			if req.Email == "" {
				return nil, errString("id or email is required")
			}
			c := catalogue[int(hash64(req.Email)%uint64(len(catalogue)))]
			q = &Question{ID: s.id(), Content: "Is the " + c.Name + " machine washable?", SKU: c.SKU, Name: req.Email,
				Email: req.Email, CreatedAt: now, UpdatedAt: now, Published: true, Answers: []Comment{}}
			s.questions = append(s.questions, q)
		}
		q.Escalated, q.EscalatedAt, q.UpdatedAt = true, &now, now
		e.enqueue(s, EventQuestionEscalated, "question", q)
		cp := *q
		return &cp, nil
	default:
		return nil, errString("type must be review or question")
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func (e *Emulator) ctlEscalate(w http.ResponseWriter, r *http.Request) {
	var req EscalateRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil {
		emukit.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be JSON: " + err.Error()})
		return
	}
	out, err := e.Escalate(req)
	if err != nil {
		emukit.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	emukit.WriteJSON(w, http.StatusOK, out)
}

func (e *Emulator) ctlAccounts(w http.ResponseWriter, r *http.Request) {
	var a Account
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&a); err != nil {
		emukit.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be JSON: " + err.Error()})
		return
	}
	if (a.GUID == "") != (a.APIKey == "") || (a.AppKey == "") != (a.Secret == "") || (a.GUID == "" && a.AppKey == "") {
		emukit.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "need guid+api_key and/or app_key+secret"})
		return
	}
	e.mu.Lock()
	for _, s := range e.stores {
		if (a.GUID != "" && s.acct.GUID == a.GUID) || (a.AppKey != "" && s.acct.AppKey == a.AppKey) {
			e.mu.Unlock()
			emukit.WriteJSON(w, http.StatusConflict, map[string]string{"error": "guid or app_key already exists"})
			return
		}
	}
	e.mu.Unlock()
	if a.Name == "" {
		a.Name = a.AppKey + a.GUID
	}
	e.AddAccount(a)
	a.APIKey, a.Secret = redact(a.APIKey), redact(a.Secret)
	emukit.WriteJSON(w, http.StatusCreated, a)
}

// SeedRequest is the body of POST /_emulator/seed.
type SeedRequest struct {
	// Account is an app key or GUID ("" = default account).
	Account string   `json:"account"`
	Emails  []string `json:"emails"`
	// Loyalty and Reviews choose which products get data (both default true).
	Loyalty *bool `json:"loyalty"`
	Reviews *bool `json:"reviews"`
}

func (e *Emulator) ctlSeed(w http.ResponseWriter, r *http.Request) {
	var req SeedRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		emukit.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be JSON: " + err.Error()})
		return
	}
	e.mu.Lock()
	ok := e.storeByAny(req.Account) != nil
	e.mu.Unlock()
	if !ok {
		emukit.WriteJSON(w, http.StatusNotFound, map[string]string{"error": "unknown account"})
		return
	}
	loy, rev := req.Loyalty == nil || *req.Loyalty, req.Reviews == nil || *req.Reviews
	for _, em := range req.Emails {
		e.SeedEmail(req.Account, em, loy, rev)
	}
	emukit.WriteJSON(w, http.StatusOK, map[string]any{"seeded": len(req.Emails), "loyalty": loy, "reviews": rev})
}
