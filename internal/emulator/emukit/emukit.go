// Package emukit holds what every vendor emulator shares: fault injection
// (latency, error rate, 429 rate, outage), the control routes
// (/_emulator/state, /_emulator/faults, /_emulator/reset), JSON helpers and
// an injectable clock. Each emulator lives in its own package and is one
// http.Handler.
package emukit

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Faults describes injected misbehaviour. Rates are probabilities in [0,1].
type Faults struct {
	// Latency is added before every API answer.
	Latency time.Duration `json:"latency_ms"`
	// ErrorRate is the share of API calls answered 500.
	ErrorRate float64 `json:"error_rate"`
	// RateLimitRate is the share of API calls answered 429.
	RateLimitRate float64 `json:"rate_limit_rate"`
	// RetryAfter is the Retry-After (seconds) sent with injected 429s (default 1).
	RetryAfter int `json:"retry_after"`
	// Outage answers every API call 503 while true.
	Outage bool `json:"outage"`
}

// MarshalJSON writes Latency in milliseconds.
func (f Faults) MarshalJSON() ([]byte, error) {
	type alias Faults
	return json.Marshal(struct {
		alias
		Latency int64 `json:"latency_ms"`
	}{alias(f), f.Latency.Milliseconds()})
}

// UnmarshalJSON reads Latency in milliseconds.
func (f *Faults) UnmarshalJSON(b []byte) error {
	type alias Faults
	var v struct {
		alias
		Latency int64 `json:"latency_ms"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = Faults(v.alias)
	f.Latency = time.Duration(v.Latency) * time.Millisecond
	return nil
}

// Kit is embedded (by pointer) in each emulator.
type Kit struct {
	// Now is the emulator's clock.
	Now func() time.Time

	mu     sync.Mutex
	faults Faults
	rng    *rand.Rand
}

// New returns a kit. now may be nil (time.Now). seed makes injected faults
// reproducible.
func New(now func() time.Time, seed uint64) *Kit {
	if now == nil {
		now = time.Now
	}
	return &Kit{Now: now, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Faults returns the current faults.
func (k *Kit) Faults() Faults {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.faults
}

// SetFaults replaces the faults.
func (k *Kit) SetFaults(f Faults) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.faults = f
}

// ErrorWriter writes an error in the vendor's envelope.
type ErrorWriter func(w http.ResponseWriter, status int, msg string)

// Inject applies the faults to one API call. It returns true when it has
// answered the call (outage, injected error or 429); the caller then stops.
func (k *Kit) Inject(w http.ResponseWriter, r *http.Request, writeErr ErrorWriter) bool {
	k.mu.Lock()
	f := k.faults
	roll1, roll2 := k.rng.Float64(), k.rng.Float64()
	k.mu.Unlock()
	if f.Latency > 0 {
		t := time.NewTimer(f.Latency)
		select {
		case <-r.Context().Done():
			t.Stop()
			return true
		case <-t.C:
		}
	}
	switch {
	case f.Outage:
		writeErr(w, http.StatusServiceUnavailable, "service unavailable (emulated outage)")
		return true
	case f.RateLimitRate > 0 && roll1 < f.RateLimitRate:
		ra := f.RetryAfter
		if ra <= 0 {
			ra = 1
		}
		w.Header().Set("Retry-After", strconv.Itoa(ra))
		writeErr(w, http.StatusTooManyRequests, "too many requests (emulated)")
		return true
	case f.ErrorRate > 0 && roll2 < f.ErrorRate:
		writeErr(w, http.StatusInternalServerError, "internal server error (emulated)")
		return true
	}
	return false
}

// Control registers the three control routes on mux:
// GET /_emulator/state (state() as JSON, faults added under "faults"),
// POST /_emulator/faults (JSON Faults; answers the new faults) and
// POST /_emulator/reset (reset(), faults cleared).
func (k *Kit) Control(mux *http.ServeMux, state func() any, reset func()) {
	mux.HandleFunc("GET /_emulator/state", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]any{"state": state(), "faults": k.Faults()})
	})
	mux.HandleFunc("POST /_emulator/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Faults
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&f); err != nil {
			WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "faults must be JSON: " + err.Error()})
			return
		}
		if f.ErrorRate < 0 || f.ErrorRate > 1 || f.RateLimitRate < 0 || f.RateLimitRate > 1 || f.Latency < 0 {
			WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "rates must be in [0,1] and latency ≥ 0"})
			return
		}
		k.SetFaults(f)
		WriteJSON(w, http.StatusOK, f)
	})
	mux.HandleFunc("POST /_emulator/reset", func(w http.ResponseWriter, r *http.Request) {
		k.SetFaults(Faults{})
		reset()
		WriteJSON(w, http.StatusOK, map[string]string{"status": "reset"})
	})
}

// WriteJSON writes v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// PostWithRetries POSTs body to url with header, up to attempts times,
// waiting n×backoff after the n-th failure. It stops at the first answer
// below 300 or when ctx ends, and returns the last status (0 when no answer
// came), the attempts made and the last error text ("" after an answer).
// Vendor emulators use it to send their webhooks.
func PostWithRetries(ctx context.Context, client *http.Client, url string, header http.Header, body []byte, attempts int, backoff time.Duration) (status, made int, errMsg string) {
	for made < attempts {
		made++
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return 0, made, err.Error()
		}
		for k, vs := range header {
			req.Header[k] = vs
		}
		resp, err := client.Do(req)
		if err != nil {
			status, errMsg = 0, err.Error()
		} else {
			status, errMsg = resp.StatusCode, ""
			resp.Body.Close()
			if status < 300 {
				return status, made, ""
			}
		}
		if ctx.Err() != nil || made == attempts {
			break
		}
		t := time.NewTimer(time.Duration(made) * backoff)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
	return status, made, errMsg
}

// Pending counts work in flight (queued webhook deliveries) and lets a
// caller wait until none is left. The zero value is ready to use.
type Pending struct {
	mu   sync.Mutex
	n    int
	idle chan struct{}
}

// Add counts one more piece of work.
func (p *Pending) Add() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
}

// Done counts one piece of work finished.
func (p *Pending) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n--
	if p.n == 0 && p.idle != nil {
		close(p.idle)
		p.idle = nil
	}
}

// Wait blocks until nothing is pending, or ctx ends.
func (p *Pending) Wait(ctx context.Context) error {
	p.mu.Lock()
	if p.n == 0 {
		p.mu.Unlock()
		return nil
	}
	if p.idle == nil {
		p.idle = make(chan struct{})
	}
	ch := p.idle
	p.mu.Unlock()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-ch:
		return nil
	}
}
