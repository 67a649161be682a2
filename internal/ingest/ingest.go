// Package ingest receives vendor webhooks: POST /hooks/{vendor}/{installation}
// → per-vendor signature check → the raw event and its job are stored in one
// transaction → 202. Writes go through a group-commit writer: requests that
// arrive while a transaction commits share the next one (no linger), which is
// what lets SQLite's single connection accept thousands of events a second
// (see shared/reference/ingest-design.md).
package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"switchyard/internal/baseservice"
	"switchyard/internal/domain"
)

// Source is one vendor's webhook contract.
type Source interface {
	// SecretNames lists the connection secrets that may sign webhooks.
	SecretNames() []string
	// Verify checks the request's signature against the accepted secrets.
	Verify(h http.Header, body []byte, secrets []string) error
	// Parse reads the event type, dedup key and customer email; an error
	// means malformed input (400).
	Parse(body []byte) (Parsed, error)
}

// Parsed is what ingest needs from a webhook body.
type Parsed struct {
	EventType     string
	DedupKey      string
	CustomerEmail string
}

// Defaults.
const (
	DefaultMaxBody  = 1 << 20 // 1 MiB
	DefaultBatchMax = 128
	DefaultCacheTTL = 5 * time.Second
)

// Config configures the handler.
type Config struct {
	Store   domain.Store
	Sources map[string]Source
	// Receives reports whether a connector takes a vendor's webhooks; an
	// installation of a connector that does not is refused (404) before
	// anything is stored. Nil accepts every source for every installation.
	Receives func(connector, vendor string) bool
	// Job builds the job enqueued with each new event.
	Job domain.JobBuilder
	// Apply, when it returns non-nil for a verified event, makes the event
	// apply its work in the transaction that stores it instead of
	// enqueuing Job (domain.EventApply). May be nil.
	Apply func(in *domain.Installation, ev *domain.InboundEvent) *domain.EventApply
	// MaxBody bounds a body (default 1 MiB; larger → 413).
	MaxBody int64
	// BatchMax bounds a group commit (default 128).
	BatchMax int
	// Writers is the number of group-commit writers: 1 for SQLite, more for
	// Postgres.
	Writers int
	// CacheTTL is how long an installation and its secrets are cached.
	CacheTTL time.Duration
	// Observe is told the outcome of every request (metrics); may be nil.
	Observe func(vendor, result string, d time.Duration)
	Now     func() time.Time
	Logger  *slog.Logger
}

// Handler serves the webhook routes.
type Handler struct {
	baseservice.Archetype
	cfg   Config
	queue chan *pending
	wg    sync.WaitGroup

	// qmu guards sends on queue against Close: a submit sends under the
	// read lock after checking closed; Close takes the write lock, so every
	// send that got in finishes before the queue is closed.
	qmu    sync.RWMutex
	closed bool

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	in      *domain.Installation
	secrets map[string][]string // by vendor
	err     error
	exp     time.Time
}

type pending struct {
	ev   *domain.InboundEvent
	done chan outcome
}

type outcome struct {
	res domain.IngestResult
	err error
}

// New starts the group-commit writers. Close stops them.
func New(cfg Config) *Handler {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.BatchMax <= 0 {
		cfg.BatchMax = DefaultBatchMax
	}
	if cfg.Writers <= 0 {
		cfg.Writers = 1
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = DefaultCacheTTL
	}
	h := &Handler{Archetype: baseservice.New(cfg.Logger, cfg.Now), cfg: cfg, queue: make(chan *pending, cfg.BatchMax*cfg.Writers*8), cache: map[string]cached{}}
	for i := 0; i < cfg.Writers; i++ {
		h.wg.Add(1)
		go h.writer()
	}
	return h
}

// Close stops taking events (later requests get 503), lets the writers
// commit everything already queued, and waits for them. Call it after the
// HTTP server has stopped accepting requests; calling it again is a no-op.
func (h *Handler) Close() {
	h.qmu.Lock()
	if !h.closed {
		h.closed = true
		close(h.queue)
	}
	h.qmu.Unlock()
	h.wg.Wait()
}

func (h *Handler) writer() {
	defer h.wg.Done()
	batch := make([]*pending, 0, h.cfg.BatchMax)
	events := make([]*domain.InboundEvent, 0, h.cfg.BatchMax)
	for p := range h.queue {
		batch = append(batch[:0], p)
	drain:
		for len(batch) < h.cfg.BatchMax {
			select {
			case q, ok := <-h.queue:
				if !ok {
					break drain
				}
				batch = append(batch, q)
			default:
				break drain
			}
		}
		events = events[:0]
		for _, q := range batch {
			events = append(events, q.ev)
		}
		// The request may be gone, but an event we start to store is stored.
		res, errs, err := h.cfg.Store.IngestEvents(context.Background(), events, h.cfg.Job)
		for i, q := range batch {
			switch {
			case err != nil:
				q.done <- outcome{err: err}
			case errs[i] != nil:
				q.done <- outcome{err: errs[i]}
			default:
				q.done <- outcome{res: res[i]}
			}
		}
	}
}

type reply struct {
	Status  string `json:"status"`
	EventID int64  `json:"event_id,omitempty"`
	Error   string `json:"error,omitempty"`
}

func writeReply(w http.ResponseWriter, status int, r reply) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(r)
}

// ServeHTTP handles POST /hooks/{vendor}/{installation}.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.Now()
	vendor := r.PathValue("vendor")
	result := "error"
	defer func() {
		if h.cfg.Observe != nil {
			h.cfg.Observe(vendor, result, h.Now().Sub(start))
		}
	}()
	fail := func(err error) {
		result = domain.ErrorCode(err)
		status := domain.HTTPStatus(err)
		if status >= 500 {
			h.Logger.ErrorContext(r.Context(), "ingest failed", slog.String("vendor", vendor), slog.String("error", err.Error()))
		}
		writeReply(w, status, reply{Status: "rejected", Error: domain.ErrorMessage(err)})
	}
	src, ok := h.cfg.Sources[vendor]
	if !ok {
		fail(domain.Errorf(domain.ENOTFOUND, "no webhook endpoint for vendor %q", vendor))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			fail(domain.Errorf(domain.ETOOLARGE, "body larger than %d bytes", h.cfg.MaxBody))
			return
		}
		fail(domain.Errorf(domain.EINVALID, "error reading body"))
		return
	}
	in, secrets, err := h.installation(r.Context(), r.PathValue("installation"), vendor)
	if err != nil {
		fail(err)
		return
	}
	if err := src.Verify(r.Header, body, secrets); err != nil {
		fail(domain.WrapError(domain.EUNAUTHORIZED, "invalid signature", err))
		return
	}
	if !in.State.Processes() {
		// Told only to a verified sender: nothing is stored before install.
		fail(domain.Errorf(domain.ECONFLICT, "installation %s is %s: it takes webhooks once installed (POST …/install); nothing stored", in.ID, in.State))
		return
	}
	p, err := src.Parse(body)
	if err != nil {
		fail(domain.WrapError(domain.EINVALID, "malformed webhook: "+err.Error(), err))
		return
	}
	ev := &domain.InboundEvent{MerchantID: in.MerchantID, InstallationID: in.ID, Vendor: vendor, EventType: p.EventType,
		DedupKey: p.DedupKey, CustomerEmail: domain.NormalizeEmail(p.CustomerEmail), Payload: body}
	if h.cfg.Apply != nil {
		ev.Apply = h.cfg.Apply(in, ev) // decoded here, on the request, not on the writer
	}
	out, err := h.submit(r.Context(), ev)
	if err != nil {
		fail(err)
		return
	}
	if out.Duplicate {
		result = "duplicate"
		writeReply(w, http.StatusOK, reply{Status: "duplicate", EventID: out.EventID})
		return
	}
	result = "accepted"
	writeReply(w, http.StatusAccepted, reply{Status: "accepted", EventID: out.EventID})
}

func (h *Handler) submit(ctx context.Context, ev *domain.InboundEvent) (domain.IngestResult, error) {
	p := &pending{ev: ev, done: make(chan outcome, 1)}
	if err := h.enqueue(ctx, p); err != nil {
		return domain.IngestResult{}, err
	}
	o := <-p.done // once queued, wait for the commit: the answer must be true
	if o.err != nil {
		if domain.ErrorCode(o.err) != domain.EINTERNAL {
			return domain.IngestResult{}, o.err
		}
		return domain.IngestResult{}, domain.WrapError(domain.EUNAVAILABLE, "could not store the event, retry later", o.err)
	}
	return o.res, nil
}

// enqueue hands p to the writers, unless the handler is closing or the
// request goes away first.
func (h *Handler) enqueue(ctx context.Context, p *pending) error {
	h.qmu.RLock()
	defer h.qmu.RUnlock()
	if h.closed {
		return domain.Errorf(domain.EUNAVAILABLE, "shutting down, retry later")
	}
	select {
	case h.queue <- p:
		return nil
	case <-ctx.Done():
		return domain.Errorf(domain.EUNAVAILABLE, "request cancelled before the event was queued")
	}
}

// installation returns the installation and the accepted secrets for vendor,
// from a short-lived cache.
func (h *Handler) installation(ctx context.Context, id, vendor string) (*domain.Installation, []string, error) {
	now := h.Now()
	h.mu.Lock()
	c, ok := h.cache[id]
	h.mu.Unlock()
	if !ok || now.After(c.exp) {
		c = h.load(ctx, id)
		if domain.ErrorCode(c.err) == domain.EINTERNAL {
			return nil, nil, domain.WrapError(domain.EUNAVAILABLE, "cannot read installation, retry later", c.err)
		}
		ttl := h.cfg.CacheTTL
		if c.err != nil {
			ttl = min(ttl, time.Second)
		}
		c.exp = now.Add(ttl)
		h.mu.Lock()
		h.cache[id] = c
		h.mu.Unlock()
	}
	if c.err != nil {
		return nil, nil, c.err
	}
	secrets, ok := c.secrets[vendor]
	if !ok {
		return nil, nil, domain.Errorf(domain.ENOTFOUND, "installation %s takes no %s webhooks", id, vendor)
	}
	return c.in, secrets, nil
}

// Invalidate drops an installation from the cache (after secret rotation).
func (h *Handler) Invalidate(id string) {
	h.mu.Lock()
	delete(h.cache, id)
	h.mu.Unlock()
}

func (h *Handler) load(ctx context.Context, id string) cached {
	in, err := h.cfg.Store.LookupInstallation(ctx, id)
	if err != nil {
		if domain.IsNotFound(err) {
			return cached{err: domain.Errorf(domain.ENOTFOUND, "unknown installation")}
		}
		return cached{err: err}
	}
	if in.State == domain.InstallationUninstalled {
		return cached{err: domain.Errorf(domain.ENOTFOUND, "unknown installation")}
	}
	c := cached{in: in, secrets: map[string][]string{}}
	for vendor, src := range h.cfg.Sources {
		connID, ok := in.Connections[vendor]
		if !ok || (h.cfg.Receives != nil && !h.cfg.Receives(in.Connector, vendor)) {
			continue
		}
		conn, err := h.cfg.Store.GetConnection(ctx, in.MerchantID, connID)
		if err != nil {
			return cached{err: fmt.Errorf("error reading %s connection: %w", vendor, err)}
		}
		var secrets []string
		for _, name := range src.SecretNames() {
			if v := conn.Secrets[name]; v != "" {
				secrets = append(secrets, v)
			}
		}
		c.secrets[vendor] = secrets
	}
	return c
}
