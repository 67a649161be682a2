package outbound

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"switchyard/internal/domain"
)

type memRecorder struct {
	mu sync.Mutex
	ds []*domain.Delivery
}

func (m *memRecorder) Record(d *domain.Delivery) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ds = append(m.ds, d)
}

func (m *memRecorder) all() []*domain.Delivery {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*domain.Delivery(nil), m.ds...)
}

func TestClassification(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.Write([]byte(`{"ok":true}`))
		case "/429":
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(429)
		case "/429date":
			w.Header().Set("Retry-After", time.Now().Add(90*time.Second).UTC().Format(http.TimeFormat))
			w.WriteHeader(429)
		case "/500":
			w.WriteHeader(500)
		case "/503":
			w.WriteHeader(503)
		case "/400":
			w.WriteHeader(400)
			w.Write([]byte(`{"error":{"msg":"bad"}}`))
		case "/404":
			w.WriteHeader(404)
		case "/422":
			w.WriteHeader(422)
		case "/408":
			w.WriteHeader(408)
		case "/slow":
			<-r.Context().Done()
		}
	}))
	defer srv.Close()
	rec := &memRecorder{}
	c, err := NewClient(Config{Vendor: "test", Account: "acct", BaseURL: srv.URL, Recorder: rec, HTTPClient: &http.Client{Timeout: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path       string
		class      domain.ErrorClass
		status     int
		retryAfter time.Duration
	}{
		{"/ok", domain.ClassOK, 200, 0},
		{"/429", domain.ClassRateLimited, 429, 7 * time.Second},
		{"/500", domain.ClassTransient, 500, 0},
		{"/503", domain.ClassTransient, 503, 0},
		{"/408", domain.ClassTransient, 408, 0},
		{"/400", domain.ClassTerminal, 400, 0},
		{"/404", domain.ClassTerminal, 404, 0},
		{"/422", domain.ClassTerminal, 422, 0},
		{"/slow", domain.ClassTransient, 0, 0},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp, err := c.Do(context.Background(), &Request{Method: "GET", Path: tc.path})
			if got := ClassOf(err); got != tc.class {
				t.Fatalf("class = %s (%v), want %s", got, err, tc.class)
			}
			if tc.class == domain.ClassOK {
				if resp.Status != 200 || string(resp.Body) != `{"ok":true}` {
					t.Fatalf("resp = %+v", resp)
				}
				return
			}
			var oe *Error
			if !errors.As(err, &oe) || oe.Status != tc.status || oe.RetryAfter != tc.retryAfter {
				t.Fatalf("error = %#v", err)
			}
		})
	}
	// HTTP-date Retry-After.
	_, err = c.Do(context.Background(), &Request{Method: "GET", Path: "/429date"})
	if ra := err.(*Error).RetryAfter; ra < 80*time.Second || ra > 91*time.Second {
		t.Fatalf("HTTP-date Retry-After = %v", ra)
	}
	if n := len(rec.all()); n != 10 {
		t.Fatalf("deliveries recorded = %d, want one per attempt (10)", n)
	}
	// Network failure: a closed server.
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	c2, _ := NewClient(Config{Vendor: "test", BaseURL: dead.URL})
	if _, err := c2.Do(context.Background(), &Request{Method: "GET", Path: "/x"}); ClassOf(err) != domain.ClassTransient {
		t.Fatalf("connection refused class = %s", ClassOf(err))
	}
}

type refreshingAuth struct {
	token     atomic.Value
	refreshes atomic.Int32
	next      string
}

func (a *refreshingAuth) Apply(_ context.Context, r *http.Request) error {
	r.Header.Set("Authorization", "Bearer "+a.token.Load().(string))
	return nil
}

func (a *refreshingAuth) Refresh(context.Context) error {
	a.refreshes.Add(1)
	a.token.Store(a.next)
	return nil
}

func TestRefreshOnceOn401(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer fresh" {
			w.WriteHeader(401)
			return
		}
		w.WriteHeader(204)
	}))
	defer srv.Close()
	auth := &refreshingAuth{next: "fresh"}
	auth.token.Store("stale")
	c, _ := NewClient(Config{Vendor: "t", BaseURL: srv.URL, Auth: auth})
	if _, err := c.Do(context.Background(), &Request{Method: "GET", Path: "/"}); err != nil {
		t.Fatalf("after refresh: %v", err)
	}
	if auth.refreshes.Load() != 1 {
		t.Fatalf("refreshes = %d", auth.refreshes.Load())
	}
	// A refresh that does not help: one refresh, then ClassAuth.
	auth2 := &refreshingAuth{next: "still-bad"}
	auth2.token.Store("stale")
	c2, _ := NewClient(Config{Vendor: "t", BaseURL: srv.URL, Auth: auth2})
	_, err := c2.Do(context.Background(), &Request{Method: "GET", Path: "/"})
	if ClassOf(err) != domain.ClassAuth || auth2.refreshes.Load() != 1 {
		t.Fatalf("class = %s, refreshes = %d", ClassOf(err), auth2.refreshes.Load())
	}
	// API keys cannot refresh: straight to ClassAuth.
	c3, _ := NewClient(Config{Vendor: "t", BaseURL: srv.URL, Auth: AuthFunc(func(context.Context, *http.Request) error { return nil })})
	if _, err := c3.Do(context.Background(), &Request{Method: "GET", Path: "/"}); ClassOf(err) != domain.ClassAuth {
		t.Fatalf("api key 401 class = %s", ClassOf(err))
	}
}

func TestRequestsStayOnBaseURLAndEndpointHasNoQuery(t *testing.T) {
	t.Parallel()
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.URL.String() }))
	defer srv.Close()
	rec := &memRecorder{}
	c, _ := NewClient(Config{Vendor: "k", BaseURL: srv.URL + "/api", Recorder: rec})
	if _, err := c.Do(context.Background(), &Request{Method: "POST", Path: "/order/query/?loginId=demo&password=secret"}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got, "/api/order/query/") {
		t.Fatalf("server saw %q", got)
	}
	if e := rec.all()[0].Endpoint; strings.Contains(e, "secret") || e != "POST /order/query/" {
		t.Fatalf("endpoint label = %q", e)
	}
	for _, p := range []string{"//evil.example/x", "http://evil.example/x", "relative"} {
		if _, err := c.Do(context.Background(), &Request{Method: "GET", Path: p}); ClassOf(err) != domain.ClassTerminal {
			t.Fatalf("path %q: class %s, want terminal", p, ClassOf(err))
		}
	}
}

func TestLimiterQuotaAndPause(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	l := NewLocalLimiter(func() time.Time { return now })
	b := Budget{Key: "gorgias:acme", Rate: 2, Burst: 40}
	l.get(b)
	if tok := l.get(b).lim.TokensAt(now); tok != 40 {
		t.Fatalf("fresh bucket tokens = %v", tok)
	}
	// The vendor says only 10 of 40 remain: our bucket drops to 10.
	l.Observe(b, Quota{Limit: 40, Remaining: 10})
	if tok := l.get(b).lim.TokensAt(now); tok < 9.5 || tok > 10.5 {
		t.Fatalf("after Observe tokens = %v, want 10", tok)
	}
	l.Pause(b, now.Add(5*time.Second))
	st := l.Status()
	if len(st) != 1 || !st[0].PausedUntil.Equal(now.Add(5*time.Second)) || st[0].LastQuota.Remaining != 10 {
		t.Fatalf("status = %+v", st)
	}
}

// Reservations made at once and spent at once are paced: the sends keep
// room for JitterRoom of arrival jitter in the burst, and a pause holds
// them too.
func TestPaceSpacesReservedCalls(t *testing.T) {
	t.Parallel()
	lim := NewLocalLimiter(nil)
	lim.JitterRoom = 3 * time.Second
	b := Budget{Key: "v:p", Rate: 1, Burst: 10} // sends: a burst of 10 - 3
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range 10 {
		if err := lim.Wait(ctx, b); err != nil {
			t.Fatalf("reservation %d: %v", i, err)
		}
	}
	short, cancel2 := context.WithTimeout(ctx, 100*time.Millisecond) // rate.Limiter fails at once what it cannot grant by then
	defer cancel2()
	sent := 0
	for range 10 {
		if lim.Pace(short, b) == nil {
			sent++
		}
	}
	if sent != 7 {
		t.Fatalf("%d of 10 reserved calls left at once, want 7", sent)
	}
	other := Budget{Key: "v:q", Rate: 1, Burst: 10}
	lim.Pause(other, time.Now().Add(time.Hour))
	if lim.Pace(short, other) == nil {
		t.Fatal("a paused budget let a paid call leave")
	}
}

func TestBatchRecorderFlushesOnClose(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got int
	var seen int
	r := NewBatchRecorder(func(_ context.Context, ds []*domain.Delivery) error {
		mu.Lock()
		got += len(ds)
		mu.Unlock()
		return nil
	}, func(*domain.Delivery) { seen++ }, nil, 3, time.Hour)
	for i := 0; i < 7; i++ {
		r.Record(&domain.Delivery{Vendor: "x"})
	}
	r.Close()
	if got != 7 || seen != 7 {
		t.Fatalf("flushed %d, observed %d; want 7", got, seen)
	}
}

// Reserve waits once; the next call spends the reservation instead of
// waiting again, and only that one call does.
func TestReserveSpendsOnce(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	lim := NewLocalLimiter(nil)
	b := Budget{Key: "v:a", Rate: 0.001, Burst: 1} // one call, then ~17 min
	c, _ := NewClient(Config{Vendor: "v", BaseURL: srv.URL, Limiter: lim, DefaultBudget: b})
	ctx := context.Background()
	res, err := c.Reserve(ctx, &Request{Endpoint: "x"})
	if err != nil || res == nil {
		t.Fatalf("Reserve = %v, %v", res, err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := c.Do(short, &Request{Method: "GET", Path: "/"}); err == nil {
		t.Fatal("a call without the reservation did not wait")
	}
	if _, err := c.Do(ctx, &Request{Method: "GET", Path: "/", Prepaid: res}); err != nil {
		t.Fatalf("prepaid call: %v", err)
	}
	again, cancel2 := context.WithTimeout(ctx, 50*time.Millisecond) // a fresh deadline: only waiting can fail it
	defer cancel2()
	if _, err := c.Do(again, &Request{Method: "GET", Path: "/", Prepaid: res}); err == nil {
		t.Fatal("a second call rode on the same reservation")
	}
}

// Check turns a 2xx answer into the failure the body reports: the caller
// gets the check's error unchanged and the delivery its class.
func TestCheckClassifiesBodyFailures(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"result":"` + r.URL.Path[1:] + `"}`))
	}))
	defer srv.Close()
	rec := &memRecorder{}
	c, _ := NewClient(Config{Vendor: "k", BaseURL: srv.URL, Recorder: rec})
	rejected := errors.New("vendor said ERROR")
	check := func(resp *Response) error {
		switch string(resp.Body) {
		case `{"result":"ERROR"}`:
			return rejected
		case `{"result":"DOWN"}`:
			return &Error{Vendor: "k", Class: domain.ClassTransient}
		}
		return nil
	}
	for path, want := range map[string]domain.ErrorClass{"/SUCCESS": domain.ClassOK, "/ERROR": domain.ClassTerminal, "/DOWN": domain.ClassTransient} {
		_, err := c.Do(context.Background(), &Request{Method: "GET", Path: path, Check: check})
		if path == "/ERROR" && err != rejected {
			t.Errorf("%s: error %v, want the check's own", path, err)
		}
		ds := rec.all()
		if got := ds[len(ds)-1]; got.Class != want || got.Status != 200 {
			t.Errorf("%s: delivery %s/%d, want %s/200", path, got.Class, got.Status, want)
		}
	}
}
