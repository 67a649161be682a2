package whiplash

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// dedupReceiver verifies, decodes and stores each distinct event once, as
// switchyard's ingest does. Every fail-th request is answered 500.
type dedupReceiver struct {
	srv  *httptest.Server
	fail int

	mu       sync.Mutex
	requests int
	stored   map[string][]byte
	order    []*webhook // accepted deliveries in arrival order
	bad      []string
}

func newDedupReceiver(t *testing.T, fail int) *dedupReceiver {
	rc := &dedupReceiver{fail: fail, stored: map[string][]byte{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		rc.requests++
		if rc.fail > 0 && rc.requests%rc.fail == 0 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		hook, err := verifyAndDecode(r.Header, b, DefaultClientSecret)
		if err != nil {
			rc.bad = append(rc.bad, err.Error())
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		k := eventIDOf(hook)
		if prev, dup := rc.stored[k]; dup {
			if !bytes.Equal(prev, b) {
				rc.bad = append(rc.bad, "duplicate with different bytes: "+k)
			}
		} else {
			rc.stored[k] = b
		}
		rc.order = append(rc.order, hook)
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func TestSimulatedDayThreeStores(t *testing.T) {
	t.Parallel()
	rc := newDedupReceiver(t, 7)
	e, _ := newTestEmulator(t, Config{})
	rep, err := e.Simulate(context.Background(), SimOptions{
		Stores: []int64{1, 2, 3}, Orders: 120, Duration: 24 * time.Hour,
		DuplicateRate: 0.1, ReorderRate: 0.1, Concurrency: 4, Seed: 42, TargetURL: rc.srv.URL,
	})
	if err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.bad) > 0 {
		t.Fatalf("receiver rejected deliveries: %v", rc.bad[:min(3, len(rc.bad))])
	}
	if len(rep.Events) == 0 || len(rc.stored) != len(rep.Events) {
		t.Fatalf("receiver stored %d distinct events, report lists %d", len(rc.stored), len(rep.Events))
	}
	stores := map[int64]bool{}
	for _, ev := range rep.Events {
		if _, ok := rc.stored[ev.ID]; !ok {
			t.Fatalf("event %+v never stored", ev)
		}
		stores[ev.StoreID] = true
	}
	if len(stores) != 3 {
		t.Fatalf("events from stores %v, want 1, 2, 3", stores)
	}
	if rep.Duplicates == 0 || rep.Reordered == 0 || rep.Retried == 0 {
		t.Fatalf("expected duplicates, reorders and retries: %+v", rep)
	}
	if rep.Deliveries != int64(len(rep.Events)+rep.Duplicates) || rep.Acknowledged != rep.Deliveries || rep.Failed != 0 {
		t.Fatalf("deliveries %d acknowledged %d failed %d events %d duplicates %d", rep.Deliveries, rep.Acknowledged, rep.Failed, len(rep.Events), rep.Duplicates)
	}
	if rep.Sent != rep.Deliveries+rep.Retried || int64(rc.requests) != rep.Sent {
		t.Fatalf("sent %d = deliveries %d + retried %d; receiver saw %d", rep.Sent, rep.Deliveries, rep.Retried, rc.requests)
	}
	if rep.ByEvent["order.created"] != 120 || rep.Orders != 120 {
		t.Fatalf("by event %v", rep.ByEvent)
	}
	for _, ev := range rep.Events {
		if ev.UpdatedAt.Before(rep.From) || ev.UpdatedAt.After(rep.To) {
			t.Fatalf("event outside the simulated day: %+v", ev)
		}
	}
	// The API shows the simulated orders in their final state.
	var n int
	for _, ev := range rep.Events {
		o, ok := e.Order(ev.OrderID)
		if !ok {
			t.Fatalf("order %d missing", ev.OrderID)
		}
		if !o.UpdatedAt.Before(ev.UpdatedAt) {
			n++
		}
	}
	if n != len(rep.Events) {
		t.Fatal("an order's current updated_at is older than one of its events")
	}
}

func TestSimulateOutOfOrderObserved(t *testing.T) {
	t.Parallel()
	rc := newDedupReceiver(t, 0)
	e, _ := newTestEmulator(t, Config{SpecificEventsOnly: true})
	rep, err := e.Simulate(context.Background(), SimOptions{Orders: 20, FullLifecycle: true, ReorderRate: 1, Seed: 9, TargetURL: rc.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	last := map[int64]time.Time{}
	inversions := 0
	for _, h := range rc.order {
		id := int64(h.Order.ID)
		if t0, ok := last[id]; ok && h.Order.UpdatedAt.Before(t0) {
			inversions++
		}
		last[id] = h.Order.UpdatedAt.Time
	}
	if inversions == 0 || inversions != rep.Reordered {
		t.Fatalf("receiver saw %d out-of-order deliveries, report says %d", inversions, rep.Reordered)
	}
	if rep.ByEvent["order.delivered"]+rep.ByEvent["order.cancelled"] != 20 {
		t.Fatalf("full lifecycle should end every order: %v", rep.ByEvent)
	}
}

func TestSimulateDeterministic(t *testing.T) {
	t.Parallel()
	run := func() SimReport {
		e, _ := newTestEmulator(t, Config{Seed: 5})
		rep, err := e.Simulate(context.Background(), SimOptions{Orders: 30, Seed: 77, DuplicateRate: 0.2, ReorderRate: 0.2})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	a, b := run(), run()
	if len(a.Events) == 0 || !slices.Equal(a.Events, b.Events) || a.Duplicates != b.Duplicates || a.Reordered != b.Reordered {
		t.Fatalf("same seed, different simulations: %d vs %d events", len(a.Events), len(b.Events))
	}
}

func TestSimulateControlRoute(t *testing.T) {
	t.Parallel()
	rc := newDedupReceiver(t, 0)
	_, srv := newTestEmulator(t, Config{})
	body := `{"stores":[1,3],"orders":10,"duration":"12h","target_url":"` + rc.srv.URL + `","wait":true,"seed":3}`
	resp, err := http.Post(srv.URL+"/_emulator/simulate", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rep SimReport
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil || resp.StatusCode != 200 {
		t.Fatalf("simulate: %d %v", resp.StatusCode, err)
	}
	rc.mu.Lock()
	stored := len(rc.stored)
	rc.mu.Unlock()
	if rep.Orders != 10 || len(rep.Events) != stored || rep.To.Sub(rep.From) != 12*time.Hour {
		t.Fatalf("report %+v, receiver stored %d", rep, stored)
	}
	var st struct {
		State stateDump `json:"state"`
	}
	if code := call(t, "GET", srv.URL+"/_emulator/state", "", "", &st); code != 200 {
		t.Fatal(code)
	}
	if st.State.Orders != 10 || st.State.ByStore["2"] != 0 || st.State.ByStore["1"]+st.State.ByStore["3"] != 10 || st.State.Sender.Acknowledged != rep.Acknowledged {
		t.Fatalf("state %+v", st.State)
	}
	// Asynchronous start.
	resp2, err := http.Post(srv.URL+"/_emulator/simulate", "application/json", strings.NewReader(`{"orders":3}`))
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusAccepted {
		t.Fatalf("async simulate: %d", resp2.StatusCode)
	}
}

func TestSimulateStopsOnCancel(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	t.Cleanup(func() { close(block); srv.Close() })
	e, _ := newTestEmulator(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := e.Simulate(ctx, SimOptions{Orders: 5, TargetURL: srv.URL})
		done <- err
	}()
	cancel()
	if err := <-done; err == nil {
		t.Fatal("a cancelled simulation should report the cancellation")
	}
}
