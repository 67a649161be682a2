package konnektivegorgias

import (
	"context"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"switchyard/internal/connector"
	"switchyard/internal/domain"
	"switchyard/internal/domain/mock"
	"switchyard/internal/provider/konnektive"
)

func TestNormalizeFlagsAndRequired(t *testing.T) {
	def, ok := macroByKey("cancel-order")
	if !ok {
		t.Fatal("no cancel-order")
	}
	for _, c := range []struct {
		raw  map[string]string
		want string // error substring, "" = ok
	}{
		{map[string]string{"orderId": "A", "cancelReason": "r"}, ""},
		{map[string]string{"orderId": "A", "cancelReason": "r", "fullRefund": "1", "afterNextBill": " 0 "}, ""},
		{map[string]string{"orderId": "A", "cancelReason": "r", "fullRefund": "2"}, "fullRefund must be 0 (false) or 1 (true)"},
		{map[string]string{"orderId": "A", "cancelReason": "r", "fullRefund": "true"}, "fullRefund must be 0"},
		{map[string]string{"cancelReason": "r"}, "orderId is required"},
		{map[string]string{"orderId": " ", "cancelReason": ""}, "orderId and cancelReason is required"},
	} {
		args, err := def.normalize(c.raw)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%v: %v", c.raw, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%v: error %v, want %q", c.raw, err, c.want)
		case c.want == "" && (args["fullRefund"] != "0" && args["fullRefund"] != "1"):
			t.Errorf("%v: fullRefund %q not defaulted", c.raw, args["fullRefund"])
		}
	}
}

func TestMacrosAreTheGuides(t *testing.T) {
	ms := Macros()
	if len(ms) != 11 {
		t.Fatalf("%d macros", len(ms))
	}
	keys := map[string]bool{}
	for _, m := range ms {
		if !strings.HasPrefix(m.Name, "Konnektive ") || keys[m.Key] {
			t.Fatalf("macro %+v", m)
		}
		keys[m.Key] = true
		mac, err := m.macro("https://hub.example.com/hooks/gorgias/konnektive-gorgias/ins_1", "tok")
		if err != nil {
			t.Fatal(err)
		}
		args, err := mac.Actions[0].HTTPArgs()
		if err != nil {
			t.Fatal(err)
		}
		if args.Method != "POST" || !strings.HasSuffix(args.URL, "/actions/"+m.Key) || len(args.Form) != len(m.Args) {
			t.Fatalf("%s: %+v", m.Name, args)
		}
		for i, a := range m.Args {
			row := args.Form[i]
			if !bool(row.Editable) || (a.Flag && row.Value != "0") || (!a.Flag && row.Value != "") {
				t.Fatalf("%s: row %+v for %+v", m.Name, row, a)
			}
		}
		if len(args.Headers) != 1 || bool(args.Headers[0].Editable) || args.Headers[0].Value != "tok" {
			t.Fatalf("%s: headers %+v", m.Name, args.Headers)
		}
	}
}

func TestIdemKey(t *testing.T) {
	a := idemKey("ins", "1", "full-refund", map[string]string{"orderId": "A"})
	if a != idemKey("ins", "1", "full-refund", map[string]string{"orderId": "A"}) {
		t.Fatal("not deterministic")
	}
	for _, b := range []string{
		idemKey("ins", "2", "full-refund", map[string]string{"orderId": "A"}),
		idemKey("ins", "1", "cancel-order", map[string]string{"orderId": "A"}),
		idemKey("ins", "1", "full-refund", map[string]string{"orderId": "B"}),
		idemKey("ins2", "1", "full-refund", map[string]string{"orderId": "A"}),
		idemKey("ins", "1", "full-refund", map[string]string{"orderId": "A", "x": ""}),
	} {
		if a == b {
			t.Fatal("different actions share a key")
		}
	}
	def, _ := macroByKey("cancel-order")
	if idemKey("i", "1", def.Key, def.canonical(map[string]string{"orderId": "A ", "cancelReason": "r"})) !=
		idemKey("i", "1", def.Key, def.canonical(map[string]string{"orderId": "A", "cancelReason": "r", "fullRefund": "0", "junk": "x"})) {
		t.Fatal("the same arguments (trimmed, flags defaulted, undeclared ignored) give different keys")
	}
}

func TestRedactArgs(t *testing.T) {
	got := redactArgs(map[string]string{"orderId": "A", "password": "p", "apiKey": "k", "X-Switchyard-Token": "t", "loginId": "l"})
	if len(got) != 1 || got["orderId"] != "A" {
		t.Fatalf("redacted = %v", got)
	}
}

func TestClassify(t *testing.T) {
	st, code, _ := classify(reject("bad"), false)
	if st != domain.ActionRejected || code != 422 {
		t.Fatalf("rejection = %s %d", st, code)
	}
	st, code, _ = classify(domain.Errorf(domain.EINVALID, "country must be 2 letters"), true)
	if st != domain.ActionRejected || code != 422 {
		t.Fatalf("client check = %s %d", st, code)
	}
	st, code, msg := classify(context.DeadlineExceeded, true)
	if st != domain.ActionFailed || code != 502 || !strings.Contains(msg, "may or may not") {
		t.Fatalf("timeout = %s %d %s", st, code, msg)
	}
	st, code, msg = classify(&domain.Error{Code: domain.EINVALID, Message: "Purchase is already cancelled", Err: &konnektive.APIError{Message: "Purchase is already cancelled"}}, true)
	if st != domain.ActionFailed || code != 422 || !strings.Contains(msg, "refused it: Purchase is already cancelled") {
		t.Fatalf("CRM refusal = %s %d %s", st, code, msg)
	}
}

func TestPullCacheUnit(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	c := newPullCache(clock)
	c.put("i\x00a", []byte("A"), time.Minute)
	c.put("j\x00a", []byte("J"), time.Minute)
	if b, ok := c.get("i\x00a"); !ok || string(b) != "A" {
		t.Fatal("miss")
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	if _, ok := c.get("i\x00a"); ok {
		t.Fatal("expired entry served")
	}
	c.put("i\x00a", []byte("A"), time.Minute)
	c.dropInstallation("i")
	if _, ok := c.get("i\x00a"); ok {
		t.Fatal("dropped installation served")
	}
	if _, ok := c.get("j\x00a"); ok {
		t.Fatal("expired")
	}

	// Concurrent pulls of one key share one fetch.
	var calls atomic.Int32
	release := make(chan struct{})
	var wg sync.WaitGroup
	results := make([]string, 5)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, _ := c.do(context.Background(), "k", func(context.Context) ([]byte, bool) {
				calls.Add(1)
				<-release
				return []byte("body"), true
			})
			results[i] = string(b)
		}()
	}
	for c.inFlight("k") < len(results) { // all five joined the one fetch
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d fetches", n)
	}
	for _, r := range results {
		if r != "body" {
			t.Fatalf("results %q", results)
		}
	}
	// A waiter whose context ends first gets nothing, and the leader is
	// not disturbed.
	block := make(chan struct{})
	go c.do(context.Background(), "slow", func(context.Context) ([]byte, bool) { <-block; return []byte("x"), true })
	for c.inFlight("slow") == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if b, _ := c.do(ctx, "slow", func(context.Context) ([]byte, bool) { return nil, false }); b != nil {
		t.Fatal("a cancelled waiter got a body")
	}
	close(block)
}

// FuzzReadArgs: the macro body parser never panics and returns either
// arguments or an error.
func FuzzReadArgs(f *testing.F) {
	f.Add("application/json", `{"orderId":"A","fullRefund":"1"}`)
	f.Add("application/json", `{"orderId":12.5,"x":null,"b":true}`)
	f.Add("application/x-www-form-urlencoded", "orderId=A&fullRefund=2")
	f.Add("application/json", `[1,2]`)
	f.Add("text/plain", "")
	f.Fuzz(func(t *testing.T, ct, body string) {
		r := httptest.NewRequest("POST", "/x", strings.NewReader(body))
		r.Header.Set("Content-Type", ct)
		args, err := readArgs(r)
		if err == nil && args == nil {
			t.Fatal("nil arguments without an error")
		}
	})
}

// TestHotCache: a fresh entry is served without the database; a stale one
// is served while one background read replaces it; an installation gone
// from the database is dropped; forget drops at once.
func TestHotCache(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	var reads atomic.Int32
	var gone atomic.Bool
	st := &mock.Store{LookupInstallationFn: func(_ context.Context, id string) (*domain.Installation, error) {
		n := reads.Add(1)
		if gone.Load() {
			return nil, domain.Errorf(domain.ENOTFOUND, "installation %s not found", id)
		}
		return &domain.Installation{ID: id, Connector: "other", Settings: map[string]string{"read": strconv.Itoa(int(n))}}, nil
	}}
	c := New(connector.Deps{Store: st, Now: clock})
	ctx := context.Background()
	waitReads := func(n int32) {
		for reads.Load() < n {
			time.Sleep(time.Millisecond)
		}
	}
	in, err := c.lookup(ctx, "ins_1")
	if err != nil || in.Settings["read"] != "1" {
		t.Fatalf("first = %+v %v", in, err)
	}
	in, _ = c.lookup(ctx, "ins_1")
	if reads.Load() != 1 || in.Settings["read"] != "1" {
		t.Fatalf("fresh entry read again (%d reads)", reads.Load())
	}
	advance(hotTTL)
	in, _ = c.lookup(ctx, "ins_1") // stale: served, refreshed behind
	if in.Settings["read"] != "1" {
		t.Fatalf("stale = %+v", in)
	}
	waitReads(2)
	for {
		if in, _ = c.lookup(ctx, "ins_1"); in.Settings["read"] == "2" {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if reads.Load() != 2 {
		t.Fatalf("%d reads, want 2 (one refresh)", reads.Load())
	}
	gone.Store(true)
	advance(hotTTL)
	c.lookup(ctx, "ins_1") // stale, refresh finds it gone
	waitReads(3)
	for {
		c.hotMu.Lock()
		_, ok := c.hot["ins_1"]
		c.hotMu.Unlock()
		if !ok {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := c.lookup(ctx, "ins_1"); domain.ErrorCode(err) != domain.ENOTFOUND {
		t.Fatalf("gone installation = %v", err)
	}
	gone.Store(false)
	c.lookup(ctx, "ins_2")
	c.forget("ins_2")
	before := reads.Load()
	c.lookup(ctx, "ins_2")
	if reads.Load() != before+1 {
		t.Fatal("forget did not drop the entry")
	}
}
