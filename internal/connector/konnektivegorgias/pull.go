package konnektivegorgias

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"switchyard/internal/domain"
	"switchyard/internal/outbound"
	"switchyard/internal/provider/konnektive"
)

// servePull answers Gorgias' HTTP-integration call for one ticket's
// customer email: always HTTP 200 with an Answer, within the time box.
func (c *Connector) servePull(w http.ResponseWriter, r *http.Request, in *domain.Installation) {
	s, err := parseSettings(in)
	if err != nil { // saved settings are validated; keep serving with defaults
		s = settings{pullTimeout: DefaultPullTimeout, cacheTTL: DefaultCacheTTL}
	}
	email := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("email")))
	if email == "" || !strings.Contains(email, "@") || len(email) > 254 {
		writeJSON(w, http.StatusOK, buildAnswer(nil, nil, nil, nil, c.d.Now()))
		return
	}
	key := in.ID + "\x00" + email
	if s.cacheTTL > 0 {
		if body, ok := c.cache.get(key); ok {
			writeRaw(w, http.StatusOK, body)
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.pullTimeout)
	defer cancel()
	body, cacheable := c.cache.do(ctx, key, func(ctx context.Context) ([]byte, bool) {
		return c.pull(ctx, in, email, s.pullTimeout)
	})
	if body == nil { // the shared fetch outlived our time box
		body, cacheable = c.errorAnswer(ctx, in, context.DeadlineExceeded, s.pullTimeout), false
	}
	if cacheable && s.cacheTTL > 0 {
		c.cache.put(key, body, s.cacheTTL)
	}
	writeRaw(w, http.StatusOK, body)
}

// pull reads the customer's CRM records and encodes the answer; ok is
// false for an error answer (not cached). It returns by the deadline even
// if a CRM call does not.
func (c *Connector) pull(ctx context.Context, in *domain.Installation, email string, box time.Duration) ([]byte, bool) {
	type result struct {
		a   Answer
		err error
	}
	done := make(chan result, 1)
	go func() {
		a, err := c.fetch(ctx, in, email)
		done <- result{a, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-ctx.Done():
		res.err = ctx.Err()
	}
	if res.err != nil {
		return c.errorAnswer(ctx, in, res.err, box), false
	}
	body, err := json.Marshal(res.a)
	if err != nil {
		return c.errorAnswer(ctx, in, err, box), false
	}
	return body, true
}

// fetch queries customers, orders and purchases by email side by side
// (wide date range), then the customer's transactions.
func (c *Connector) fetch(ctx context.Context, in *domain.Installation, email string) (Answer, error) {
	k, err := c.hotCRM(ctx, in)
	if err != nil {
		return Answer{}, err
	}
	var (
		wg        sync.WaitGroup
		custs     []konnektive.Customer
		orders    []konnektive.Order
		purchases []konnektive.Purchase
		errs      [3]error
	)
	wg.Add(3)
	go func() {
		defer wg.Done()
		custs, errs[0] = k.QueryCustomers(ctx, konnektive.CustomerQuery{Email: email})
	}()
	go func() {
		defer wg.Done()
		orders, errs[1] = k.QueryOrders(ctx, konnektive.OrderQuery{Email: email, NewestFirst: true})
	}()
	go func() {
		defer wg.Done()
		purchases, errs[2] = k.QueryPurchases(ctx, konnektive.PurchaseQuery{Email: email})
	}()
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		return Answer{}, err
	}
	var txns []konnektive.Transaction
	if len(custs) > 0 {
		// Every customer record of the email (the CRM may hold several).
		for _, cu := range custs {
			t, err := k.QueryTransactions(ctx, konnektive.TransactionQuery{CustomerID: string(cu.CustomerID)})
			if err != nil {
				return Answer{}, err
			}
			txns = append(txns, t...)
		}
	}
	return buildAnswer(custs, orders, purchases, txns, c.d.Now()), nil
}

// errorAnswer is the answer the widget shows when the CRM could not answer.
func (c *Connector) errorAnswer(ctx context.Context, in *domain.Installation, err error, box time.Duration) []byte {
	ae := &AnswerError{Code: "crm_unavailable", Message: "The Konnektive CRM could not be reached; try again in a moment."}
	var apiErr *konnektive.APIError
	switch {
	case errors.Is(err, context.DeadlineExceeded) || outbound.IsTimeout(err):
		ae.Code, ae.Message = "timeout", fmt.Sprintf("The Konnektive CRM did not answer within %s; try again in a moment.", box)
	case errors.Is(err, outbound.ErrCircuitOpen):
		ae.Code, ae.Message = "crm_down", "The Konnektive CRM has been failing or too slow on the last calls; switchyard is probing it and will show the data as soon as it answers."
	case domain.ErrorCode(err) == domain.EUNAUTHORIZED:
		ae.Code, ae.Message = "crm_auth", "The Konnektive CRM refused switchyard's API user: check its loginId and password, and that its IP whitelist has switchyard's egress IPs."
	case errors.As(err, &apiErr):
		ae.Code, ae.Message = "crm_error", "The Konnektive CRM answered: "+apiErr.Message
	case domain.ErrorCode(err) == domain.EINVALID || domain.ErrorCode(err) == domain.ENOTFOUND:
		ae.Code, ae.Message = "configuration", "The Konnektive connection is misconfigured: "+domain.ErrorMessage(err)
	default:
		if msg, ok := outbound.PublicMessage(err); ok {
			ae.Message = "The Konnektive CRM could not be reached (" + msg + "); try again in a moment."
		}
	}
	c.d.Logger.WarnContext(ctx, "konnektive pull failed", slog.String("installation_id", in.ID), slog.String("code", ae.Code), slog.String("error", err.Error()))
	a := buildAnswer(nil, nil, nil, nil, c.d.Now())
	a.Error = ae
	body, _ := json.Marshal(a)
	return body
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"encoding failed"}}`)
	}
	writeRaw(w, status, body)
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// ---- the per-customer cache ---------------------------------------------------

// maxCacheEntries bounds the cache's memory.
const maxCacheEntries = 20000

type cacheEntry struct {
	body []byte
	exp  time.Time
}

type flight struct {
	waiters int
	done    chan struct{}
	body    []byte
	ok      bool
}

// pullCache keeps answers per installation and email for a short time,
// and shares one CRM fetch between concurrent pulls of the same customer
// (Gorgias fires ticket-created and message-created together).
type pullCache struct {
	now func() time.Time

	mu      sync.Mutex
	entries map[string]cacheEntry
	flights map[string]*flight
}

func newPullCache(now func() time.Time) *pullCache {
	return &pullCache{now: now, entries: map[string]cacheEntry{}, flights: map[string]*flight{}}
}

func (p *pullCache) get(key string) ([]byte, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.entries[key]
	if !ok || !p.now().Before(e.exp) {
		return nil, false
	}
	return e.body, true
}

func (p *pullCache) put(key string, body []byte, ttl time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if len(p.entries) >= maxCacheEntries {
		for k, e := range p.entries {
			if !now.Before(e.exp) {
				delete(p.entries, k)
			}
		}
		for k := range p.entries { // still full: drop arbitrary entries
			if len(p.entries) < maxCacheEntries {
				break
			}
			delete(p.entries, k)
		}
	}
	p.entries[key] = cacheEntry{body: body, exp: now.Add(ttl)}
}

// drop forgets one customer's answer (after an action changed it).
func (p *pullCache) drop(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.entries, key)
}

// dropInstallation forgets every answer of an installation.
func (p *pullCache) dropInstallation(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := range p.entries {
		if strings.HasPrefix(k, id+"\x00") {
			delete(p.entries, k)
		}
	}
}

// inFlight is how many callers share the running fetch of key (tests).
func (p *pullCache) inFlight(key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if f, ok := p.flights[key]; ok {
		return 1 + f.waiters
	}
	return 0
}

// do runs fn once for concurrent callers of the same key. A caller whose
// ctx ends first gets nil. The leader's ctx bounds fn.
func (p *pullCache) do(ctx context.Context, key string, fn func(context.Context) ([]byte, bool)) ([]byte, bool) {
	p.mu.Lock()
	if f, ok := p.flights[key]; ok {
		f.waiters++
		p.mu.Unlock()
		select {
		case <-f.done:
			return f.body, false // the leader caches it
		case <-ctx.Done():
			return nil, false
		}
	}
	f := &flight{done: make(chan struct{})}
	p.flights[key] = f
	p.mu.Unlock()
	f.body, f.ok = fn(ctx)
	p.mu.Lock()
	delete(p.flights, key)
	p.mu.Unlock()
	close(f.done)
	return f.body, f.ok
}
