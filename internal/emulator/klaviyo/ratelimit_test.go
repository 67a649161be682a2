package klaviyo

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"strconv"
	"testing"
	"time"

	"switchyard/internal/emulator/klaviyo/contract"
)

// TestBurstLimitComesFromContract sends burst+1 calls within one second to
// endpoints whose burst the test reads from the contract.
func TestBurstLimitComesFromContract(t *testing.T) {
	t.Parallel()
	spec, err := contract.Load()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		opID string
		send func(h *harness, i int) *resp
		ok   int
	}{
		{"bulk_create_events", func(h *harness, i int) *resp {
			return h.do("POST", "/api/event-bulk-create-jobs", bulkEventsBody(false, map[string]int{"a@example.com": 1}))
		}, http.StatusAccepted},
		{"create_list", func(h *harness, i int) *resp { return h.do("POST", "/api/lists", listBody("L"+strconv.Itoa(i))) }, http.StatusCreated},
		{"get_lists", func(h *harness, i int) *resp { return h.do("GET", "/api/lists", nil) }, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.opID, func(t *testing.T) {
			t.Parallel()
			h := setup(t, nil)
			op := spec.Operation(tt.opID)
			burst, steady := op.Limit.Burst, op.Limit.Steady
			if burst < 1 || steady < burst {
				t.Fatalf("contract limit for %s = %+v", tt.opID, op.Limit)
			}
			h.clock.Advance(250 * time.Millisecond) // mid-window: Retry-After rounds up to 1
			for i := range burst {
				r := tt.send(h, i).want(t, tt.ok)
				if got := r.header.Get("RateLimit-Limit"); got != strconv.Itoa(steady) {
					t.Fatalf("call %d RateLimit-Limit = %q, want %d", i, got, steady)
				}
				if got := r.header.Get("RateLimit-Remaining"); got != strconv.Itoa(steady-i-1) {
					t.Fatalf("call %d RateLimit-Remaining = %q, want %d", i, got, steady-i-1)
				}
				if r.header.Get("RateLimit-Reset") == "" {
					t.Fatalf("call %d has no RateLimit-Reset", i)
				}
			}
			r := tt.send(h, burst).want(t, http.StatusTooManyRequests)
			if r.errCode() != "throttled" || r.header.Get("Retry-After") != "1" {
				t.Errorf("429: code %q Retry-After %q, want throttled and 1", r.errCode(), r.header.Get("Retry-After"))
			}
			for _, hd := range []string{"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} {
				if r.header.Get(hd) != "" {
					t.Errorf("429 carries %s", hd)
				}
			}
			if st := h.e.State(); st.RateLimited != 1 {
				t.Errorf("state rate_limited = %d, want 1", st.RateLimited)
			}
			h.clock.Advance(time.Second)
			tt.send(h, burst+1).want(t, tt.ok)
		})
	}
}

// TestLimitsFollowAModifiedContract proves the numbers are read, not built
// in: a contract with create_list at 2/s refuses the third call.
func TestLimitsFollowAModifiedContract(t *testing.T) {
	t.Parallel()
	docs := map[string][]byte{}
	for _, n := range contract.DocumentNames() {
		b, err := fs.ReadFile(contract.Files(), n)
		if err != nil {
			t.Fatal(err)
		}
		if n == "lists.json" {
			var doc map[string]any
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatal(err)
			}
			post := doc["paths"].(map[string]any)["/api/lists"].(map[string]any)["post"].(map[string]any)
			post["x-klaviyo-ratelimit"] = map[string]any{"burst": "2/s", "steady": "3/m", "daily": "150/d"}
			if b, err = json.Marshal(doc); err != nil {
				t.Fatal(err)
			}
		}
		docs[n] = b
	}
	spec, err := contract.Parse(docs)
	if err != nil {
		t.Fatal(err)
	}
	h := setup(t, func(c *Config) { c.Contract = spec })
	h.do("POST", "/api/lists", listBody("a")).want(t, 201)
	h.do("POST", "/api/lists", listBody("b")).want(t, 201)
	h.do("POST", "/api/lists", listBody("c")).want(t, 429)
	h.clock.Advance(time.Second)
	r := h.do("POST", "/api/lists", listBody("d")).want(t, 201)
	if r.header.Get("RateLimit-Limit") != "3" || r.header.Get("RateLimit-Remaining") != "0" {
		t.Errorf("headers = %v", r.header)
	}
	r = h.do("POST", "/api/lists", listBody("e")).want(t, 429)
	if ra, _ := strconv.Atoi(r.header.Get("Retry-After")); ra < 2 || ra > 60 {
		t.Errorf("steady-window Retry-After = %q, want the rest of the minute", r.header.Get("Retry-After"))
	}
}

func TestDailyListCap(t *testing.T) {
	t.Parallel()
	h := setup(t, nil)
	daily := h.spec.Operation("create_list").Limit.Daily
	if daily != 150 {
		t.Fatalf("contract daily cap = %d, want 150", daily)
	}
	for i := range daily {
		if i > 0 && i%10 == 0 {
			h.clock.Advance(time.Second) // burst window
		}
		if i > 0 && i%100 == 0 {
			h.clock.Advance(time.Minute) // steady window
		}
		h.do("POST", "/api/lists", listBody("L"+strconv.Itoa(i))).want(t, 201)
	}
	h.clock.Advance(2 * time.Minute)
	r := h.do("POST", "/api/lists", listBody("one too many")).want(t, 429)
	if ra, _ := strconv.Atoi(r.header.Get("Retry-After")); ra < 3600 {
		t.Errorf("daily Retry-After = %q, want hours", r.header.Get("Retry-After"))
	}
	h.clock.Advance(24 * time.Hour)
	h.do("POST", "/api/lists", listBody("next day")).want(t, 201)
}

func TestRateLimitScaleAndQuotaKeys(t *testing.T) {
	t.Parallel()
	h := setup(t, func(c *Config) { c.RateLimitScale = 0.01 })
	burst := h.spec.Operation("create_list").Limit.Burst
	for i := range burst {
		h.do("POST", "/api/lists", listBody(strconv.Itoa(i))).want(t, 201)
	}
	r := h.do("POST", "/api/lists", listBody("x")).want(t, 429)
	if ra, err := strconv.ParseFloat(r.header.Get("Retry-After"), 64); err != nil || ra <= 0 || ra > 0.01 {
		t.Errorf("scaled Retry-After = %q, want at most 0.01 s", r.header.Get("Retry-After"))
	}
	// Another account has its own quota.
	_, key, err := h.e.AddAccount("", "", "")
	if err != nil {
		t.Fatal(err)
	}
	h.request("POST", "/api/lists", listBody("y"), map[string]string{"Authorization": "Klaviyo-API-Key " + key}).want(t, 201)
	// 10 ms later the scaled burst window has passed.
	h.clock.Advance(10 * time.Millisecond)
	h.do("POST", "/api/lists", listBody("z")).want(t, 201)

	off := setup(t, func(c *Config) { c.DisableRateLimits = true })
	for i := range burst + 1 {
		off.do("POST", "/api/lists", listBody(strconv.Itoa(i))).want(t, 201)
	}
}

func TestInjectedFaultsUseTheErrorEnvelope(t *testing.T) {
	t.Parallel()
	h := setup(t, nil)
	req := `{"rate_limit_rate":1,"retry_after":7}`
	r := h.request("POST", "/_emulator/faults", req, map[string]string{"Content-Type": "application/json"})
	if r.status != 200 {
		t.Fatalf("set faults: %d %s", r.status, r.body)
	}
	r = h.do("POST", "/api/events", eventBody("M", "a@example.com", map[string]any{}, nil)).want(t, 429)
	if r.header.Get("Retry-After") != "7" || r.errCode() != "throttled" {
		t.Errorf("injected 429: Retry-After %q code %q", r.header.Get("Retry-After"), r.errCode())
	}
	h.e.Kit().SetFaults(emukitFaults(true))
	r = h.do("GET", "/api/lists", nil).want(t, 503)
	if r.errCode() != "service_unavailable" {
		t.Errorf("outage code = %q", r.errCode())
	}
	st := h.e.State()
	if st.RateLimited != 1 || st.Calls["POST /api/events"] != 1 || st.Calls["GET /api/lists"] != 1 {
		t.Errorf("state counters = %d, %v", st.RateLimited, st.Calls)
	}
	h.request("POST", "/_emulator/reset", nil, nil).want(t, 200)
	h.do("GET", "/api/lists", nil).want(t, 200)
	if st := h.e.State(); st.RateLimited != 0 || st.Calls["POST /api/events"] != 0 {
		t.Errorf("after reset: %+v", st)
	}
}
