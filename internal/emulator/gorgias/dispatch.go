package gorgias

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
)

// outCall is a rendered outbound request.
type outCall struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
}

// dispatchJob is one HTTP-integration call to make.
type dispatchJob struct {
	domain        string
	integrationID int64
	customerID    int64
	call          outCall
}

// dispatcher is an unbounded-ish queue with a worker pool and a pending
// count, so Flush can wait without sleeping.
type dispatcher struct {
	e      *Emulator
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	cond    *sync.Cond
	queue   []dispatchJob
	pending int
	closed  bool
	dropped int
	max     int
}

func newDispatcher(e *Emulator, workers, maxQueue int) *dispatcher {
	d := &dispatcher{e: e, max: maxQueue}
	d.cond = sync.NewCond(&d.mu)
	d.ctx, d.cancel = context.WithCancel(context.Background())
	for range workers {
		d.wg.Add(1)
		go d.work()
	}
	return d
}

// push queues j; it never blocks.
func (d *dispatcher) push(j dispatchJob) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	if len(d.queue) >= d.max {
		d.dropped++
		return
	}
	d.queue = append(d.queue, j)
	d.pending++
	d.cond.Broadcast()
}

func (d *dispatcher) work() {
	defer d.wg.Done()
	for {
		d.mu.Lock()
		for len(d.queue) == 0 && !d.closed {
			d.cond.Wait()
		}
		if d.closed {
			d.mu.Unlock()
			return
		}
		j := d.queue[0]
		d.queue[0] = dispatchJob{}
		d.queue = d.queue[1:]
		d.mu.Unlock()

		d.e.runJob(d.ctx, j)

		d.mu.Lock()
		d.pending--
		d.cond.Broadcast()
		d.mu.Unlock()
	}
}

// flush waits until nothing is queued or running.
func (d *dispatcher) flush() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for d.pending > 0 && !d.closed {
		d.cond.Wait()
	}
}

func (d *dispatcher) stats() (pending, dropped int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.pending, d.dropped
}

// close drops queued jobs, cancels running calls and waits for workers.
func (d *dispatcher) close() {
	d.mu.Lock()
	d.closed = true
	d.pending -= len(d.queue)
	d.queue = nil
	d.cond.Broadcast()
	d.mu.Unlock()
	d.cancel()
	d.wg.Wait()
}

// buildIntegrationCall renders an HTTP integration for one event: url
// (values escaped for their position), headers, and form — as the JSON or
// form-encoded body for methods with a body, as query parameters for
// GET/HEAD/DELETE.
func buildIntegrationCall(cfg *httpConfig, vars any) (outCall, error) {
	u, err := url.Parse(renderURL(cfg.URL, vars))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return outCall{}, fmt.Errorf("invalid rendered url for template %q", cfg.URL)
	}
	call := outCall{Method: cfg.Method, Header: http.Header{}}
	keys := make([]string, 0, len(cfg.Headers))
	for k := range cfg.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		call.Header.Set(k, renderTemplate(cfg.Headers[k], vars, nil))
	}
	call.Header.Set("Accept", cfg.ResponseContentType)
	call.Header.Set("User-Agent", "Gorgias-Emulator/1.0")

	// form: an object of templated values, or one template string.
	var body any
	form := bytes.TrimSpace(cfg.Form)
	if len(form) > 0 && form[0] == '"' {
		var s string
		if json.Unmarshal(form, &s) == nil {
			body = renderValue(s, vars)
		}
	} else {
		var obj map[string]any
		if json.Unmarshal(form, &obj) == nil && len(obj) > 0 {
			m := make(map[string]any, len(obj))
			for k, v := range obj {
				s, ok := v.(string)
				if !ok {
					s = stringify(v)
				}
				m[k] = renderValue(s, vars)
			}
			body = m
		}
	}
	switch cfg.Method {
	case "GET", "HEAD", "DELETE":
		if m, ok := body.(map[string]any); ok && len(m) > 0 {
			q := u.Query()
			for _, k := range sortedKeys(m) {
				q.Set(k, stringify(m[k]))
			}
			u.RawQuery = q.Encode()
		}
	default:
		if cfg.RequestContentType == "application/x-www-form-urlencoded" {
			f := url.Values{}
			if m, ok := body.(map[string]any); ok {
				for _, k := range sortedKeys(m) {
					f.Set(k, stringify(m[k]))
				}
			}
			call.Body = []byte(f.Encode())
		} else {
			if body == nil {
				body = map[string]any{}
			}
			if call.Body, err = json.Marshal(body); err != nil {
				return outCall{}, fmt.Errorf("error encoding body: %w", err)
			}
		}
		call.Header.Set("Content-Type", cfg.RequestContentType)
		if cfg.hmacSecret != "" {
			mac := hmac.New(sha256.New, []byte(cfg.hmacSecret))
			mac.Write(call.Body)
			call.Header.Set("X-Gorgias-Signature", hex.EncodeToString(mac.Sum(nil)))
		}
	}
	call.URL = u.String()
	return call, nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// errTooLarge is a response over MaxResponseBytes.
var errTooLarge = errors.New("response body too large")

// doCall makes one outbound call with the configured timeout and retries
// transport failures IntegrationRetries times.
func (e *Emulator) doCall(ctx context.Context, c outCall) (int, []byte, error) {
	var lastErr error
	for attempt := 0; attempt <= e.cfg.IntegrationRetries; attempt++ {
		status, body, err := e.doCallOnce(ctx, c)
		if err == nil || errors.Is(err, errTooLarge) || ctx.Err() != nil {
			return status, body, err
		}
		lastErr = err
	}
	return 0, nil, lastErr
}

func (e *Emulator) doCallOnce(ctx context.Context, c outCall) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.IntegrationTimeout)
	defer cancel()
	var rd io.Reader
	if c.Body != nil {
		rd = bytes.NewReader(c.Body)
	}
	req, err := http.NewRequestWithContext(ctx, c.Method, c.URL, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("error building request: %w", err)
	}
	for k, vs := range c.Header {
		req.Header[k] = vs
	}
	resp, err := e.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("error calling %s: %w", req.URL.Redacted(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, e.cfg.MaxResponseBytes+1))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("error reading response: %w", err)
	}
	if int64(len(body)) > e.cfg.MaxResponseBytes {
		return resp.StatusCode, nil, errTooLarge
	}
	return resp.StatusCode, body, nil
}

// runJob makes one integration call and records its outcome: a 2xx JSON
// answer is stored under customer.integrations["<id>"] (objects get
// "__integration_type__":"http"; other JSON values are wrapped as
// {"__integration_type__":"http","value":…}); an empty 2xx body changes
// nothing; anything else is a failure.
func (e *Emulator) runJob(ctx context.Context, j dispatchJob) {
	e.mu.Lock()
	a := e.accounts[j.domain]
	var in *integration
	if a != nil {
		in = a.integrations[j.integrationID]
	}
	if in == nil || !in.active() {
		e.mu.Unlock()
		return
	}
	e.mu.Unlock()

	status, body, err := e.doCall(ctx, j.call)
	if ctx.Err() != nil {
		return // emulator closing
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.accounts[j.domain] != a || a.integrations[j.integrationID] != in {
		return // reset or deleted meanwhile
	}
	in.calls++
	in.lastStatus = status
	switch {
	case err != nil:
		e.recordFailureLocked(a, in, status, err.Error())
		return
	case status < 200 || status > 299:
		e.recordFailureLocked(a, in, status, fmt.Sprintf("HTTP %d", status))
		return
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 {
		v, derr := decodeAny(trimmed)
		if derr != nil {
			e.recordFailureLocked(a, in, status, "response is not JSON: "+derr.Error())
			return
		}
		obj, ok := v.(map[string]any)
		if !ok {
			obj = map[string]any{"value": v}
		}
		obj["__integration_type__"] = "http"
		stored, merr := json.Marshal(obj)
		if merr != nil {
			e.recordFailureLocked(a, in, status, merr.Error())
			return
		}
		cid := j.customerID
		if t, ok := a.merged[cid]; ok {
			cid = t
		}
		if c := a.customers[cid]; c != nil {
			if c.Integrations == nil {
				c.Integrations = map[string]json.RawMessage{}
			}
			c.Integrations[itoa(in.ID)] = stored
			c.Updated = e.now()
		}
	}
	in.failures = 0
	in.successes++
	in.lastError = ""
}

// recordFailureLocked counts a failed call and deactivates the integration
// at MaxConsecutiveFailures.
func (e *Emulator) recordFailureLocked(a *account, in *integration, status int, msg string) {
	in.failures++
	in.lastStatus = status
	in.lastError = msg
	if in.failures >= e.cfg.MaxConsecutiveFailures && in.active() {
		in.Deactivated = e.now()
		e.log.LogAttrs(context.Background(), slog.LevelWarn, "gorgias emulator: HTTP integration deactivated after consecutive failures",
			slog.String("account", a.Domain), slog.Int64("integration_id", in.ID), slog.Int("failures", in.failures),
			slog.String("last_error", strings.TrimSpace(msg)))
	}
}
