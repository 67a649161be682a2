package whiplash

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// delivery is one webhook to one endpoint (attempted up to MaxAttempts).
type delivery struct {
	url, secret string
	subID       int64 // 0 for a catch-all target
	body        []byte
	event       string
	orderID     int64
}

// SenderStats counts webhook deliveries.
type SenderStats struct {
	// Deliveries enqueued (duplicates included).
	Deliveries int64 `json:"deliveries"`
	// Attempts is the number of HTTP POSTs made.
	Attempts int64 `json:"attempts"`
	// Acknowledged deliveries got a 2xx.
	Acknowledged int64 `json:"acknowledged"`
	// Retried counts attempts after a delivery's first.
	Retried int64 `json:"retried"`
	// Failed deliveries gave up: MaxAttempts failures, an inactive
	// subscription, or the emulator closing.
	Failed int64 `json:"failed"`
}

type senderStats struct {
	deliveries, attempts, acknowledged, retried, failed atomic.Int64
}

func (s *senderStats) snapshot() SenderStats {
	return SenderStats{
		Deliveries: s.deliveries.Load(), Attempts: s.attempts.Load(), Acknowledged: s.acknowledged.Load(),
		Retried: s.retried.Load(), Failed: s.failed.Load(),
	}
}

// sender runs delivery workers. Deliveries are sharded by order id, so one
// order's webhooks leave in the order they were enqueued.
type sender struct {
	e      *Emulator
	batch  *senderStats // a simulation's own counters, or nil
	ctx    context.Context
	cancel context.CancelFunc
	shards []*shard
	wg     sync.WaitGroup
	once   sync.Once

	mu      sync.Mutex
	pending int
	idle    chan struct{} // closed while pending == 0
}

type shard struct {
	mu   sync.Mutex
	q    []*delivery
	wake chan struct{}
}

func newSender(e *Emulator, n int, batch *senderStats) *sender {
	ctx, cancel := context.WithCancel(e.ctx)
	s := &sender{e: e, batch: batch, ctx: ctx, cancel: cancel, idle: make(chan struct{})}
	close(s.idle)
	for range max(n, 1) {
		sh := &shard{wake: make(chan struct{}, 1)}
		s.shards = append(s.shards, sh)
		s.wg.Add(1)
		go s.run(sh)
	}
	return s
}

func (s *sender) enqueue(ds ...*delivery) {
	for _, d := range ds {
		s.mu.Lock()
		if s.pending == 0 {
			s.idle = make(chan struct{})
		}
		s.pending++
		s.mu.Unlock()
		s.e.stats.deliveries.Add(1)
		if s.batch != nil {
			s.batch.deliveries.Add(1)
		}
		sh := s.shards[uint64(d.orderID)%uint64(len(s.shards))]
		sh.mu.Lock()
		sh.q = append(sh.q, d)
		sh.mu.Unlock()
		select {
		case sh.wake <- struct{}{}:
		default:
		}
	}
}

func (s *sender) finish() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending--
	if s.pending == 0 {
		close(s.idle)
	}
}

// wait blocks until every enqueued delivery is finished, or ctx ends.
func (s *sender) wait(ctx context.Context) error {
	s.mu.Lock()
	ch := s.idle
	s.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}

func (s *sender) close() {
	s.once.Do(func() {
		s.cancel()
		s.wg.Wait()
	})
}

func (s *sender) run(sh *shard) {
	defer s.wg.Done()
	for {
		sh.mu.Lock()
		var d *delivery
		if len(sh.q) > 0 {
			d = sh.q[0]
			sh.q[0] = nil
			sh.q = sh.q[1:]
		}
		sh.mu.Unlock()
		if d == nil {
			select {
			case <-s.ctx.Done():
				return
			case <-sh.wake:
				continue
			}
		}
		s.deliver(d)
		s.finish()
	}
}

func (s *sender) count(f func(*senderStats) *atomic.Int64) {
	f(&s.e.stats).Add(1)
	if s.batch != nil {
		f(s.batch).Add(1)
	}
}

func (s *sender) deliver(d *delivery) {
	e := s.e
	for attempt := 1; ; attempt++ {
		if d.subID != 0 && !e.subActive(d.subID) {
			s.count(func(c *senderStats) *atomic.Int64 { return &c.failed })
			return
		}
		s.count(func(c *senderStats) *atomic.Int64 { return &c.attempts })
		if attempt > 1 {
			s.count(func(c *senderStats) *atomic.Int64 { return &c.retried })
		}
		status, err := s.post(d)
		ok := err == nil && status >= 200 && status < 300
		e.recordAttempt(d, attempt, status, ok)
		if ok {
			s.count(func(c *senderStats) *atomic.Int64 { return &c.acknowledged })
			return
		}
		if attempt >= e.cfg.MaxAttempts || s.ctx.Err() != nil {
			s.count(func(c *senderStats) *atomic.Int64 { return &c.failed })
			e.log.LogAttrs(s.ctx, slog.LevelDebug, "whiplash emulator: webhook given up",
				slog.String("event", d.event), slog.Int64("order_id", d.orderID), slog.Int("attempts", attempt))
			return
		}
		if wait := e.cfg.RetryBackoff(attempt); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-s.ctx.Done():
				t.Stop()
			case <-t.C:
			}
		}
	}
}

func (s *sender) post(d *delivery) (int, error) {
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, d.url, bytes.NewReader(d.body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SignatureHeader, Sign(d.secret, d.body))
	req.Header.Set("User-Agent", "Whiplash-Webhooks/2.0 (switchyard emulator)")
	resp, err := s.e.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp.StatusCode, nil
}

func (e *Emulator) subActive(id int64) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.subs[id]
	return s != nil && s.Active
}

// recordAttempt tracks a subscription's consecutive failures and
// deactivates it at DeactivateAfter.
func (e *Emulator) recordAttempt(d *delivery, attempt, status int, ok bool) {
	if d.subID == 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.subs[d.subID]
	if s == nil {
		return
	}
	if ok {
		s.ConsecutiveFailures = 0
		return
	}
	s.ConsecutiveFailures++
	if s.ConsecutiveFailures >= e.cfg.DeactivateAfter && s.Active {
		s.Active = false
		s.UpdatedAt = stamp(e.cfg.Now())
		e.log.Info("whiplash emulator: subscription deactivated after consecutive failures",
			slog.Int64("subscription_id", s.ID), slog.Int("failures", s.ConsecutiveFailures))
	}
}

// webhookBody renders {"event_name":…,"order":{…}}.
func webhookBody(name string, o *Order) ([]byte, error) {
	return json.Marshal(webhook{EventName: name, Order: o})
}

// specificEvents names the dedicated event of a status, if any.
var specificEvents = map[int]string{
	StatusShipped: "order.shipped", StatusDelivered: "order.delivered", StatusCancelled: "order.cancelled",
	StatusPacked: "order.packed", StatusPaused: "order.paused", StatusInsufficientInv: "order.insufficient_inventory",
}

// eventNames lists the events one transition fires: order.created for a
// new order; otherwise order.status_changed and the status's own event.
func (e *Emulator) eventNames(created bool, status int) []string {
	if created {
		return []string{"order.created"}
	}
	spec, ok := specificEvents[status]
	switch {
	case !ok:
		return []string{"order.status_changed"}
	case e.cfg.SpecificEventsOnly:
		return []string{spec}
	default:
		return []string{"order.status_changed", spec}
	}
}

// routeLocked builds one event's deliveries: each active webhook
// subscription of the order's customer to that event, the catch-all target
// and the extra targets.
func (e *Emulator) routeLocked(name string, o *Order, body []byte, extra ...target) []*delivery {
	var out []*delivery
	ids := make([]int64, 0, len(e.subs))
	for id := range e.subs {
		ids = append(ids, id)
	}
	sortInt64(ids)
	for _, id := range ids {
		s := e.subs[id]
		if s.Active && s.NotificationType == "webhook" && s.EventName == name && s.CustomerID == int64(o.CustomerID) {
			out = append(out, &delivery{url: s.Endpoint, secret: s.secret, subID: s.ID, body: body, event: name, orderID: int64(o.ID)})
		}
	}
	for _, t := range append([]target{e.target}, extra...) {
		if t.URL != "" {
			out = append(out, &delivery{url: t.URL, secret: t.Secret, body: body, event: name, orderID: int64(o.ID)})
		}
	}
	return out
}

// Flush waits until every webhook enqueued outside simulations has been
// delivered or given up, or ctx ends.
func (e *Emulator) Flush(ctx context.Context) error { return e.sender.wait(ctx) }

// Stats returns the sender's counters (simulations included).
func (e *Emulator) Stats() SenderStats { return e.stats.snapshot() }
