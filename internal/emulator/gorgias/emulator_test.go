package gorgias

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestBurstOf41RefusesExactlyOne(t *testing.T) {
	t.Parallel()
	clk := newFakeClock() // frozen: the bucket does not drain during the burst
	b := setup(t, Config{Now: clk.Now})

	var wg sync.WaitGroup
	type res struct {
		status     int
		retryAfter string
		limit      string
		body       []byte
	}
	results := make([]res, 41)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, h, body := b.do(t, "GET", "/api/account", nil)
			results[i] = res{st, h.Get("Retry-After"), h.Get("X-Gorgias-Account-Api-Call-Limit"), body}
		}()
	}
	wg.Wait()
	var refused []res
	for _, r := range results {
		switch r.status {
		case http.StatusOK:
		case http.StatusTooManyRequests:
			refused = append(refused, r)
		default:
			t.Fatalf("unexpected status %d: %s", r.status, r.body)
		}
		if r.limit == "" || !strings.HasSuffix(r.limit, "/40") {
			t.Errorf("call-limit header = %q, want used/40", r.limit)
		}
	}
	if len(refused) != 1 {
		t.Fatalf("refused %d calls, want exactly 1", len(refused))
	}
	ra, err := strconv.Atoi(refused[0].retryAfter)
	if err != nil || ra < 1 || ra > 20 {
		t.Fatalf("Retry-after = %q, want 1..20 s", refused[0].retryAfter)
	}
	if refused[0].limit != "40/40" {
		t.Errorf("429 call-limit = %q, want 40/40", refused[0].limit)
	}
	env := mustJSON(t, refused[0].body)
	if e, _ := env["error"].(map[string]any); e == nil || e["msg"] == "" {
		t.Errorf("429 body is not the error envelope: %s", refused[0].body)
	}
	st := b.emu.Snapshot().Accounts["acme"]
	if st.Calls != 41 || st.Throttled != 1 {
		t.Errorf("state calls=%d throttled=%d, want 41/1", st.Calls, st.Throttled)
	}
}

func TestLeakyBucket(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		capacity  float64
		window    time.Duration
		calls     int           // at t0
		after     time.Duration // then one more call at t0+after
		wantOK    bool
		wantUsed  int
		wantRetry int
	}{
		{"full bucket refuses", 40, 20 * time.Second, 40, 0, false, 40, 1},
		{"half a second drains one call", 40, 20 * time.Second, 40, 500 * time.Millisecond, true, 40, 0},
		{"drained after the window", 40, 20 * time.Second, 40, 20 * time.Second, true, 1, 0},
		{"oauth bucket is 80", 80, 20 * time.Second, 79, 0, true, 80, 0},
		{"scaled window", 40, 2 * time.Second, 40, 25 * time.Millisecond, false, 40, 1},
		{"scaled window drains", 40, 2 * time.Second, 40, time.Second, true, 21, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := &leakyBucket{capacity: tt.capacity, window: tt.window}
			for i := 0; i < tt.calls; i++ {
				if ok, _, _ := b.take(t0); !ok {
					t.Fatalf("call %d refused", i)
				}
			}
			ok, used, retry := b.take(t0.Add(tt.after))
			if ok != tt.wantOK || used != tt.wantUsed || retry != tt.wantRetry {
				t.Fatalf("take = (%v, %d, %d), want (%v, %d, %d)", ok, used, retry, tt.wantOK, tt.wantUsed, tt.wantRetry)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	tests := []struct {
		name string
		hdr  []string
		want int
	}{
		{"basic ok", nil, 200},
		{"wrong key", []string{"Authorization", "Basic " + basic(DefaultUserEmail, "nope")}, 401},
		{"wrong email", []string{"Authorization", "Basic " + basic("x@acme.test", DefaultAPIKey)}, 401},
		{"garbage bearer", []string{"Authorization", "Bearer abc.def.ghi"}, 401},
		{"no credentials", []string{"Authorization", "Token x"}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, _, body := b.do(t, "GET", "/api/account/", nil, tt.hdr...)
			if st != tt.want {
				t.Fatalf("status %d, want %d: %s", st, tt.want, body)
			}
			if st == 401 {
				if e, _ := mustJSON(t, body)["error"].(map[string]any); e == nil {
					t.Fatalf("401 without envelope: %s", body)
				}
			}
		})
	}
}

func basic(u, p string) string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(u, p)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

func TestAccountsByHostAndPrefix(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	st, _, body := b.do(t, "POST", "/_emulator/accounts", map[string]any{"domain": "beta"})
	if st != 201 {
		t.Fatalf("add account: %d %s", st, body)
	}
	if st, _, _ := b.do(t, "POST", "/_emulator/accounts", map[string]any{"domain": "beta"}); st != 409 {
		t.Fatalf("duplicate account: %d, want 409", st)
	}
	betaAuth := []string{"Authorization", "Basic " + basic("admin@beta.test", "beta-key")}
	// By Host.
	st, _, body = b.do(t, "GET", "/api/account", nil, append([]string{"Host", "beta.gorgias.com"}, betaAuth...)...)
	if st != 200 || mustJSON(t, body)["domain"] != "beta" {
		t.Fatalf("host routing: %d %s", st, body)
	}
	// By path prefix.
	st, _, body = b.do(t, "GET", "/a/beta/api/account/", nil, betaAuth...)
	if st != 200 || mustJSON(t, body)["domain"] != "beta" {
		t.Fatalf("prefix routing: %d %s", st, body)
	}
	// acme's key is not valid on beta, and beta's not on acme.
	if st, _, _ := b.do(t, "GET", "/a/beta/api/account", nil); st != 401 {
		t.Fatalf("acme key on beta: %d, want 401", st)
	}
	if st, _, _ := b.do(t, "GET", "/api/account", nil, betaAuth...); st != 401 {
		t.Fatalf("beta key on acme: %d, want 401", st)
	}
	if st, _, _ := b.do(t, "GET", "/a/nope/api/account", nil); st != 404 {
		t.Fatalf("unknown account: %d, want 404", st)
	}
	// Objects do not cross accounts.
	st, _, body = b.do(t, "POST", "/api/customers", customerBody("x@example.com", ""))
	if st != 201 {
		t.Fatalf("create: %d %s", st, body)
	}
	id := num(mustJSON(t, body)["id"])
	if st, _, _ := b.do(t, "GET", fmt.Sprintf("/a/beta/api/customers/%d", id), nil, betaAuth...); st != 404 {
		t.Fatalf("cross-account read: %d, want 404", st)
	}
}

func TestCustomers(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	st, _, body := b.do(t, "POST", "/api/customers", customerBody("Jane@Example.com", "Jane Doe"))
	if st != 201 {
		t.Fatalf("create: %d %s", st, body)
	}
	c := mustJSON(t, body)
	id := num(c["id"])
	if c["firstname"] != "Jane" || c["lastname"] != "Doe" || !strings.HasSuffix(c["uri"].(string), "/") {
		t.Errorf("customer = %s", body)
	}
	chs, _ := c["channels"].([]any)
	if len(chs) != 1 {
		t.Errorf("channels = %v, want the email channel", c["channels"])
	}

	t.Run("duplicate email is 409", func(t *testing.T) {
		st, _, body := b.do(t, "POST", "/api/customers", customerBody("jane@example.com", ""))
		if st != 409 {
			t.Fatalf("status %d: %s", st, body)
		}
		e, _ := mustJSON(t, body)["error"].(map[string]any)
		if e == nil || e["data"] == nil {
			t.Fatalf("no envelope with data: %s", body)
		}
	})
	t.Run("email filter", func(t *testing.T) {
		st, _, body := b.do(t, "GET", "/api/customers?email=JANE@example.com", nil)
		data, _ := mustJSON(t, body)["data"].([]any)
		if st != 200 || len(data) != 1 || num(data[0].(map[string]any)["id"]) != id {
			t.Fatalf("filter: %d %s", st, body)
		}
		_, _, body = b.do(t, "GET", "/api/customers?email=nobody@example.com", nil)
		if data, _ := mustJSON(t, body)["data"].([]any); len(data) != 0 {
			t.Fatalf("filter matched %d", len(data))
		}
	})
	t.Run("partial update", func(t *testing.T) {
		st, _, body := b.do(t, "PUT", fmt.Sprintf("/api/customers/%d", id), map[string]any{"note": "vip"})
		m := mustJSON(t, body)
		if st != 200 || m["note"] != "vip" || m["name"] != "Jane Doe" || m["email"] != "Jane@Example.com" {
			t.Fatalf("update: %d %s", st, body)
		}
	})
	t.Run("data versions", func(t *testing.T) {
		put := func(data any, version string) {
			t.Helper()
			body := map[string]any{"data": data}
			if version != "" {
				body["version"] = version
			}
			st, _, rb := b.do(t, "PUT", fmt.Sprintf("/api/customers/%d/data", id), body)
			if st != 202 || len(rb) != 0 {
				t.Fatalf("PUT data: %d %q", st, rb)
			}
		}
		get := func() any {
			_, _, body := b.do(t, "GET", fmt.Sprintf("/api/customers/%d", id), nil)
			return mustJSON(t, body)["data"]
		}
		put(map[string]any{"n": 2}, "2025-05-13T12:00:00.000000")
		put(map[string]any{"n": 1}, "2025-05-13T11:00:00+00:00") // older: ignored
		if d := get().(map[string]any); d["n"] != float64(2) {
			t.Fatalf("older version overwrote: %v", d)
		}
		put(map[string]any{"n": 3}, "2025-05-13T12:00:00.000001")
		if d := get().(map[string]any); d["n"] != float64(3) {
			t.Fatalf("newer version ignored: %v", d)
		}
		put(map[string]any{"n": 4}, "") // no version: applied
		if d := get().(map[string]any); d["n"] != float64(4) {
			t.Fatalf("unversioned write ignored: %v", d)
		}
		if st, _, _ := b.do(t, "PUT", fmt.Sprintf("/api/customers/%d/data", id), map[string]any{"version": "x"}); st != 400 {
			t.Fatalf("missing data: %d, want 400", st)
		}
	})
	t.Run("merge redirects data writes", func(t *testing.T) {
		_, _, body := b.do(t, "POST", "/api/customers", customerBody("dup@example.com", ""))
		src := num(mustJSON(t, body)["id"])
		st, _, body := b.do(t, "PUT", fmt.Sprintf("/api/customers/merge?source_id=%d&target_id=%d", src, id), map[string]any{})
		if st != 200 {
			t.Fatalf("merge: %d %s", st, body)
		}
		req, _ := http.NewRequest("PUT", b.srv.URL+fmt.Sprintf("/api/customers/%d/data", src), strings.NewReader(`{"data":{}}`))
		req.SetBasicAuth(DefaultUserEmail, DefaultAPIKey)
		cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		rb, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 301 || resp.Header.Get("Location") != "" || len(rb) != 0 {
			t.Fatalf("after merge: %d Location %q body %q, want a bare 301", resp.StatusCode, resp.Header.Get("Location"), rb)
		}
	})
}

// The documented create body has no "data" and requires channels: data
// sent anyway is not stored (and counted), a body without channels is 400.
func TestCustomerCreateContract(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	for name, body := range map[string]map[string]any{
		"no channels":     {"email": "a@example.com", "name": "A"},
		"channel no type": {"email": "a@example.com", "channels": []any{map[string]any{"address": "a@example.com"}}},
		"channel no addr": {"email": "a@example.com", "channels": []any{map[string]any{"type": "email"}}},
	} {
		if st, _, rb := b.do(t, "POST", "/api/customers", body); st != 400 {
			t.Errorf("%s: %d %s, want 400", name, st, rb)
		}
	}
	body := customerBody("d@example.com", "D")
	body["data"] = map[string]any{"whiplash": map[string]any{"x": 1}}
	st, _, rb := b.do(t, "POST", "/api/customers", body)
	if st != 201 {
		t.Fatalf("create: %d %s", st, rb)
	}
	c := mustJSON(t, rb)
	if d := c["data"]; d != nil {
		t.Errorf("data sent on create was stored: %v", d)
	}
	acme := b.emu.Snapshot().Accounts["acme"]
	if acme.CreateDataIgnored != 1 || acme.CallsByEndpoint["POST /api/customers"] != 4 {
		t.Errorf("create_data_ignored = %d, POST calls = %d; want 1 and 4", acme.CreateDataIgnored, acme.CallsByEndpoint["POST /api/customers"])
	}
}

// Config.MergeLocation keeps a Location header on the merged customer's 301.
func TestMergeLocationOption(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{MergeLocation: true})
	_, _, body := b.do(t, "POST", "/api/customers", customerBody("src@example.com", ""))
	src := num(mustJSON(t, body)["id"])
	_, _, body = b.do(t, "POST", "/api/customers", customerBody("tgt@example.com", ""))
	tgt := num(mustJSON(t, body)["id"])
	if st, _, body := b.do(t, "PUT", fmt.Sprintf("/api/customers/merge?source_id=%d&target_id=%d", src, tgt), map[string]any{}); st != 200 {
		t.Fatalf("merge: %d %s", st, body)
	}
	req, _ := http.NewRequest("PUT", b.srv.URL+fmt.Sprintf("/api/customers/%d/data", src), strings.NewReader(`{"data":{}}`))
	req.SetBasicAuth(DefaultUserEmail, DefaultAPIKey)
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 301 || resp.Header.Get("Location") != fmt.Sprintf("/api/customers/%d/data", tgt) {
		t.Fatalf("after merge: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// customerBody is a valid create-customer body: email, name, email channel.
func customerBody(email, name string) map[string]any {
	b := map[string]any{"email": email, "channels": []any{map[string]any{"type": "email", "address": email, "preferred": true}}}
	if name != "" {
		b["name"] = name
	}
	return b
}

func TestCursorPaging(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{Window: time.Millisecond})
	if _, _, err := b.emu.Seed(SeedSpec{Customers: 75}); err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	cursor := ""
	var pages int
	var firstPage []any
	var lastNext map[string]any
	for {
		path := "/api/customers?limit=30"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		st, _, body := b.do(t, "GET", path, nil)
		if st != 200 {
			t.Fatalf("page %d: %d %s", pages, st, body)
		}
		m := mustJSON(t, body)
		if m["object"] != "list" || !strings.HasPrefix(m["uri"].(string), "/api/customers?") {
			t.Fatalf("envelope: %s", body)
		}
		data := m["data"].([]any)
		meta := m["meta"].(map[string]any)
		if pages == 0 {
			firstPage = data
			if meta["prev_cursor"] != nil {
				t.Errorf("first page has a prev cursor")
			}
		}
		for _, d := range data {
			id := num(d.(map[string]any)["id"])
			if seen[id] {
				t.Fatalf("id %d twice", id)
			}
			seen[id] = true
		}
		pages++
		lastNext = meta
		next, _ := meta["next_cursor"].(string)
		if next == "" {
			break
		}
		if pages == 1 {
			// The second page's prev cursor leads back to the first page.
			defer func(next string) {
				_, _, body := b.do(t, "GET", "/api/customers?limit=30&cursor="+url.QueryEscape(next), nil)
				prev, _ := mustJSON(t, body)["meta"].(map[string]any)["prev_cursor"].(string)
				_, _, body = b.do(t, "GET", "/api/customers?limit=30&cursor="+url.QueryEscape(prev), nil)
				back := mustJSON(t, body)["data"].([]any)
				if len(back) != 30 || num(back[0].(map[string]any)["id"]) != num(firstPage[0].(map[string]any)["id"]) {
					t.Errorf("prev cursor did not lead back to the first page")
				}
			}(next)
		}
		cursor = next
	}
	if pages != 3 || len(seen) != 75 || lastNext["next_cursor"] != nil {
		t.Fatalf("pages=%d seen=%d", pages, len(seen))
	}
	// Default order is newest first.
	if num(firstPage[0].(map[string]any)["id"]) < num(firstPage[1].(map[string]any)["id"]) {
		t.Errorf("default order is not created_datetime:desc")
	}
	for _, bad := range []string{"limit=0", "limit=101", "cursor=%25%25", "cursor=bm9wZQ"} {
		if st, _, body := b.do(t, "GET", "/api/customers?"+bad, nil); st != 400 {
			t.Errorf("%s: %d %.200s, want 400", bad, st, body)
		}
	}
}

// integrationTarget is an httptest server standing in for an app that a
// Gorgias HTTP integration calls.
type integrationTarget struct {
	*httptest.Server
	mu    sync.Mutex
	reqs  []*http.Request
	body  [][]byte
	calls atomic.Int64
}

func newTarget(t *testing.T, h func(w http.ResponseWriter, r *http.Request)) *integrationTarget {
	it := &integrationTarget{}
	it.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		it.mu.Lock()
		it.reqs = append(it.reqs, r)
		it.body = append(it.body, b)
		it.mu.Unlock()
		it.calls.Add(1)
		h(w, r)
	}))
	t.Cleanup(it.Close)
	return it
}

func TestHTTPIntegrationFillsCustomerAndSidebar(t *testing.T) {
	t.Parallel()
	target := newTarget(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"order":{"id":4759226956,"name":"#1002","status":"shipped","created":"2025-03-01T10:00:00Z","requires_signature":true,"track":"https://track.example.com/1Z"},
			"lines":[{"sku":"TEE-BLK-M","qty":2},{"sku":"MUG-12OZ","qty":1}],"empty":""}`)
	})
	b := setup(t, Config{})
	st, _, body := b.do(t, "POST", "/api/integrations", map[string]any{
		"type": "http", "name": "Orders",
		"http": map[string]any{
			"url":                  target.URL + "/lookup/{{ticket.account.domain}}?email={{ticket.customer.email}}&ticket={{ticket.id}}",
			"method":               "POST",
			"request_content_type": "application/json", "response_content_type": "application/json",
			"headers":  map[string]any{"X-Api-Key": "k-123", "X-Ticket": "{{ticket.id}}"},
			"form":     map[string]any{"email": "{{ticket.customer.email}}", "subject": "{{ ticket.subject | upper }}", "last": "{{ticket.messages[-1].body_text}}"},
			"triggers": map[string]any{"ticket-created": true},
		},
	})
	if st != 201 {
		t.Fatalf("create integration: %d %s", st, body)
	}
	intID := num(mustJSON(t, body)["id"])
	st, _, body = b.do(t, "POST", "/api/widgets", map[string]any{
		"type": "http", "context": "ticket", "integration_id": intID,
		"template": map[string]any{"type": "wrapper", "title": "Orders", "widgets": []any{
			map[string]any{"type": "card", "path": "order", "title": "Order {{name}}", "widgets": []any{
				map[string]any{"type": "text", "path": "id", "title": "Order ID"},
				map[string]any{"type": "text", "path": "status", "title": "Status"},
				map[string]any{"type": "date", "path": "created", "title": "Created"},
				map[string]any{"type": "boolean", "path": "requires_signature", "title": "Signature"},
				map[string]any{"type": "url", "path": "track", "title": "Tracking"},
				map[string]any{"type": "text", "path": "missing", "title": "Missing"},
			}},
			map[string]any{"type": "list", "path": "lines", "widgets": []any{
				map[string]any{"type": "card", "title": "Line", "widgets": []any{
					map[string]any{"type": "text", "path": "sku", "title": "SKU"},
				}},
			}},
			map[string]any{"type": "text", "path": "empty", "title": "Empty"},
		}},
	})
	if st != 201 {
		t.Fatalf("create widget: %d %s", st, body)
	}
	// A second widget whose integration never answered must be hidden.
	_, _, _ = b.do(t, "POST", "/api/widgets", map[string]any{"type": "http", "integration_id": intID + 999,
		"template": map[string]any{"type": "wrapper", "widgets": []any{map[string]any{"type": "text", "path": "x"}}}})

	st, _, body = b.do(t, "POST", "/api/tickets", map[string]any{
		"channel": "api", "via": "api", "from_agent": false, "subject": "Order #1002 question",
		"customer": map[string]any{"email": "jane+vip@example.com", "name": "Jane Doe"},
		"messages": []any{map[string]any{"channel": "api", "via": "api", "from_agent": false,
			"sender": map[string]any{"email": "jane+vip@example.com"}, "body_text": "Where is my order?"}},
	})
	if st != 201 {
		t.Fatalf("create ticket: %d %s", st, body)
	}
	tk := mustJSON(t, body)
	tid := num(tk["id"])
	cid := num(tk["customer"].(map[string]any)["id"])
	b.emu.Flush()

	if n := target.calls.Load(); n != 1 {
		t.Fatalf("integration called %d times, want 1", n)
	}
	req, reqBody := target.reqs[0], target.body[0]
	if req.Method != "POST" || req.URL.Path != "/lookup/acme" || req.URL.Query().Get("email") != "jane+vip@example.com" ||
		req.URL.Query().Get("ticket") != strconv.FormatInt(tid, 10) {
		t.Errorf("request = %s %s", req.Method, req.URL)
	}
	if req.Header.Get("X-Api-Key") != "k-123" || req.Header.Get("X-Ticket") != strconv.FormatInt(tid, 10) || req.Header.Get("Content-Type") != "application/json" {
		t.Errorf("headers = %v", req.Header)
	}
	var form map[string]string
	if err := json.Unmarshal(reqBody, &form); err != nil || form["email"] != "jane+vip@example.com" || form["subject"] != "ORDER #1002 QUESTION" || form["last"] != "Where is my order?" {
		t.Errorf("body = %s", reqBody)
	}

	_, _, body = b.do(t, "GET", fmt.Sprintf("/api/customers/%d", cid), nil)
	stored, _ := mustJSON(t, body)["integrations"].(map[string]any)[strconv.FormatInt(intID, 10)].(map[string]any)
	if stored == nil || stored["__integration_type__"] != "http" || stored["order"].(map[string]any)["name"] != "#1002" {
		t.Fatalf("customer.integrations = %s", body)
	}

	st, h, page := b.do(t, "GET", fmt.Sprintf("/app/ticket/%d", tid), nil)
	if st != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Fatalf("agent page: %d %s", st, h.Get("Content-Type"))
	}
	els := parseHTML(t, page, "data-field", "data-widget")
	fields := map[string]htmlElem{}
	widgets := 0
	for _, e := range els {
		if _, ok := e.Attrs["data-widget"]; ok {
			widgets++
		}
		if f, ok := e.Attrs["data-field"]; ok {
			fields[f] = e
		}
	}
	if widgets != 1 {
		t.Errorf("%d widgets rendered, want 1 (the one without data is hidden)", widgets)
	}
	checks := []struct{ field, value, text string }{
		{"order.id", "4759226956", "Order ID 4759226956"},
		{"order.status", "shipped", "Status shipped"},
		{"order.requires_signature", "true", "Signature Yes"},
		{"order.created", "2025-03-01T10:00:00Z", "Created Mar 1, 2025 10:00"},
		{"order.track", "https://track.example.com/1Z", "Tracking https://track.example.com/1Z"},
		{"lines[1].sku", "MUG-12OZ", "SKU MUG-12OZ"},
		{"ticket.subject", "", "Order #1002 question"},
		{"ticket.status", "", "open"},
	}
	for _, c := range checks {
		e, ok := fields[c.field]
		if !ok {
			t.Errorf("field %q not on the page", c.field)
			continue
		}
		if e.Attrs["data-value"] != c.value || e.Text != c.text {
			t.Errorf("field %q = (%q, %q), want (%q, %q)", c.field, e.Attrs["data-value"], e.Text, c.value, c.text)
		}
	}
	for _, hidden := range []string{"order.missing", "empty"} {
		if _, ok := fields[hidden]; ok {
			t.Errorf("empty field %q rendered", hidden)
		}
	}
	if !strings.Contains(string(page), "Order #1002") {
		t.Errorf("card title not rendered with {{name}}")
	}
}

func TestIntegrationTriggersAndFailures(t *testing.T) {
	t.Parallel()
	var fail atomic.Bool
	fail.Store(true)
	target := newTarget(t, func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, `{"ok":true}`)
	})
	b := setup(t, Config{Window: time.Millisecond}) // no throttling in this test
	_, _, body := b.do(t, "POST", "/api/integrations", map[string]any{"type": "http", "name": "hook",
		"http": map[string]any{"url": target.URL + "/?t={{ticket.id}}", "method": "GET",
			"request_content_type": "application/json", "response_content_type": "application/json",
			"triggers": map[string]any{"ticket_message_created": true, "ticket_created": false}}})
	intID := num(mustJSON(t, body)["id"])
	_, _, body = b.do(t, "POST", "/api/tickets", map[string]any{"customer": map[string]any{"email": "f@example.com"},
		"messages": []any{map[string]any{"channel": "email", "via": "email", "from_agent": false, "body_text": "hi"}}})
	tid := num(mustJSON(t, body)["id"])
	b.emu.Flush()
	if n := target.calls.Load(); n != 0 {
		t.Fatalf("disabled trigger ticket-created fired %d calls", n)
	}
	state := func() IntegrationState {
		for _, in := range b.emu.Snapshot().Accounts["acme"].Integrations {
			if in.ID == intID {
				return in
			}
		}
		t.Fatal("integration missing from state")
		return IntegrationState{}
	}
	note := map[string]any{"channel": "internal-note", "via": "api", "from_agent": true, "body_text": "note"}
	msg := func() {
		t.Helper()
		if st, _, body := b.do(t, "POST", fmt.Sprintf("/api/tickets/%d/messages", tid), note); st != 201 {
			t.Fatalf("message: %d %s", st, body)
		}
	}

	// 5 failures, then a success resets the count.
	for range 5 {
		msg()
	}
	b.emu.Flush()
	if s := state(); s.ConsecutiveFailures != 5 || !s.Active {
		t.Fatalf("after 5 failures: %+v", s)
	}
	fail.Store(false)
	msg()
	b.emu.Flush()
	if s := state(); s.ConsecutiveFailures != 0 || s.Successes != 1 {
		t.Fatalf("success did not reset: %+v", s)
	}

	// 100 consecutive failures deactivate.
	fail.Store(true)
	for range 100 {
		msg()
	}
	b.emu.Flush()
	s := state()
	if s.Active || s.ConsecutiveFailures != 100 || s.DeactivatedDatetime == nil {
		t.Fatalf("after 100 failures: active=%v failures=%d", s.Active, s.ConsecutiveFailures)
	}
	calls := target.calls.Load()
	if calls != 106 {
		t.Fatalf("target saw %d calls, want 106", calls)
	}
	msg()
	b.emu.Flush()
	if target.calls.Load() != calls {
		t.Fatalf("deactivated integration was still called")
	}
	// Reactivation with deactivated_datetime: null.
	st, _, body := b.do(t, "PUT", fmt.Sprintf("/api/integrations/%d", intID), map[string]any{"name": "hook", "deactivated_datetime": nil})
	if st != 200 || mustJSON(t, body)["deactivated_datetime"] != nil {
		t.Fatalf("reactivate: %d %s", st, body)
	}
	if s := state(); !s.Active || s.ConsecutiveFailures != 0 {
		t.Fatalf("after reactivation: %+v", s)
	}
}

func TestIntegrationValidation(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	tests := []struct {
		name string
		body map[string]any
		want int
	}{
		{"ok", httpIntegration(nil), 201},
		{"no name", httpIntegration(func(m, h map[string]any) { delete(m, "name") }), 400},
		{"no method", httpIntegration(func(m, h map[string]any) { delete(h, "method") }), 400},
		{"no request_content_type", httpIntegration(func(m, h map[string]any) { delete(h, "request_content_type") }), 400},
		{"no response_content_type", httpIntegration(func(m, h map[string]any) { delete(h, "response_content_type") }), 400},
		{"underscore trigger", httpIntegration(func(m, h map[string]any) { h["triggers"] = map[string]any{"ticket_created": true} }), 201},
		{"hyphen trigger", httpIntegration(func(m, h map[string]any) { h["triggers"] = map[string]any{"ticket-created": true} }), 201},
		{"unknown trigger", httpIntegration(func(m, h map[string]any) { h["triggers"] = map[string]any{"ticket_exploded": true} }), 400},
		{"bad method", httpIntegration(func(m, h map[string]any) { h["method"] = "TRACE" }), 400},
		{"not a url", httpIntegration(func(m, h map[string]any) { h["url"] = "ftp://x" }), 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if st, _, body := b.do(t, "POST", "/api/integrations", tt.body); st != tt.want {
				t.Fatalf("status %d, want %d: %s", st, tt.want, body)
			}
		})
	}
}

// httpIntegration is a valid create-integration body, changed by edit
// (the body and its http block).
func httpIntegration(edit func(m, h map[string]any)) map[string]any {
	h := map[string]any{"url": "https://x.example.com", "method": "GET",
		"request_content_type": "application/json", "response_content_type": "application/json"}
	m := map[string]any{"type": "http", "name": "n", "http": h}
	if edit != nil {
		edit(m, h)
	}
	return m
}

// Triggers sent with underscores come back with underscores and fire on the
// (hyphenated) ticket events.
func TestIntegrationUnderscoreTriggers(t *testing.T) {
	t.Parallel()
	target := newTarget(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"ok":true}`) })
	b := setup(t, Config{Window: time.Millisecond})
	st, _, body := b.do(t, "POST", "/api/integrations", httpIntegration(func(m, h map[string]any) {
		h["url"] = target.URL + "/?t={{ticket.id}}"
		h["triggers"] = map[string]any{"ticket_created": true, "ticket_updated": false}
	}))
	if st != 201 {
		t.Fatalf("create: %d %s", st, body)
	}
	trig := mustJSON(t, body)["http"].(map[string]any)["triggers"].(map[string]any)
	if trig["ticket_created"] != true || trig["ticket_updated"] != false || trig["ticket-created"] != nil {
		t.Fatalf("triggers answered as %v", trig)
	}
	b.do(t, "POST", "/api/tickets", map[string]any{"customer": map[string]any{"email": "u@example.com"},
		"messages": []any{map[string]any{"channel": "email", "via": "email", "from_agent": false, "body_text": "hi"}}})
	b.emu.Flush()
	if n := target.calls.Load(); n != 1 {
		t.Fatalf("ticket_created fired %d calls, want 1", n)
	}
}

func TestMacroApply(t *testing.T) {
	t.Parallel()
	target := newTarget(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"result":"refunded"}`)
	})
	b := setup(t, Config{})
	args := map[string]any{
		"method": "POST", "url": target.URL + "/refund?cid={{ticket.customer.id}}",
		"headers":      []any{map[string]any{"key": "X-Token", "value": "secret", "editable": false}},
		"params":       []any{map[string]any{"key": "ticket", "value": "{{ticket.id}}", "editable": false}},
		"form":         []any{map[string]any{"key": "amount", "value": "0", "editable": true}, map[string]any{"key": "agent", "value": "{{current_user.email}}", "editable": false}},
		"content_type": "application/json",
	}
	st, _, body := b.do(t, "POST", "/api/macros", map[string]any{"name": "Full refund", "actions": []any{
		map[string]any{"name": "http", "title": "HTTP hook", "type": "user", "arguments": args},
		map[string]any{"name": "addTags", "arguments": map[string]any{"tags": "refund, vip"}},
		map[string]any{"name": "addInternalNote", "arguments": map[string]any{"body_text": "Refund asked for {{ticket.customer.email}}"}},
		map[string]any{"name": "setStatus", "arguments": map[string]any{"status": "closed"}},
	}})
	if st != 201 {
		t.Fatalf("create macro: %d %s", st, body)
	}
	mid := num(mustJSON(t, body)["id"])
	_, _, body = b.do(t, "POST", "/api/tickets", map[string]any{"customer": map[string]any{"email": "m@example.com"},
		"messages": []any{map[string]any{"channel": "email", "via": "email", "from_agent": false, "body_text": "refund pls"}}})
	tk := mustJSON(t, body)
	tid, cid := num(tk["id"]), num(tk["customer"].(map[string]any)["id"])

	if st, _, body := b.do(t, "POST", fmt.Sprintf("/api/tickets/%d/macros/%d/apply", tid, mid), map[string]any{"values": map[string]any{"agent": "x"}}); st != 400 {
		t.Fatalf("non-editable override: %d %s", st, body)
	}
	st, _, body = b.do(t, "POST", fmt.Sprintf("/api/tickets/%d/macros/%d/apply", tid, mid), map[string]any{"values": map[string]any{"amount": 12.5}})
	if st != 200 {
		t.Fatalf("apply: %d %s", st, body)
	}
	res := mustJSON(t, body)
	acts := res["actions"].([]any)
	if a0 := acts[0].(map[string]any); a0["status"] != "applied" || num(a0["http_status"]) != 200 {
		t.Errorf("http action result = %v", a0)
	}
	if target.calls.Load() != 1 {
		t.Fatalf("http action calls = %d", target.calls.Load())
	}
	r := target.reqs[0]
	if r.URL.Query().Get("cid") != strconv.FormatInt(cid, 10) || r.URL.Query().Get("ticket") != strconv.FormatInt(tid, 10) || r.Header.Get("X-Token") != "secret" {
		t.Errorf("request = %s %v", r.URL, r.Header)
	}
	var sent map[string]string
	if err := json.Unmarshal(target.body[0], &sent); err != nil || sent["amount"] != "12.5" || sent["agent"] != DefaultUserEmail {
		t.Errorf("body = %s", target.body[0])
	}
	ticket := res["ticket"].(map[string]any)
	if ticket["status"] != "closed" || len(ticket["tags"].([]any)) != 2 {
		t.Errorf("ticket = status %v tags %v", ticket["status"], ticket["tags"])
	}
	msgs := ticket["messages"].([]any)
	last := msgs[len(msgs)-1].(map[string]any)
	if last["channel"] != "internal-note" || last["public"] != false || last["body_text"] != "Refund asked for m@example.com" {
		t.Errorf("note = %v", last)
	}

	// The agent page shows the note marked internal and the macro form.
	_, _, page := b.do(t, "GET", fmt.Sprintf("/app/ticket/%d", tid), nil)
	var internal, macros, args2 int
	for _, e := range parseHTML(t, page, "data-internal", "data-macro-id", "data-arg") {
		if e.Attrs["data-internal"] == "true" && strings.Contains(e.Text, "Refund asked for") {
			internal++
		}
		if e.Attrs["data-macro-id"] == strconv.FormatInt(mid, 10) {
			macros++
		}
		if e.Attrs["data-arg"] == "amount" {
			args2++
		}
	}
	if internal != 1 || macros != 1 || args2 != 1 {
		t.Errorf("page: internal notes %d, macro forms %d, editable args %d", internal, macros, args2)
	}

	// The agent page button applies the macro too.
	form := url.Values{"v:amount": {"7"}}
	req, _ := http.NewRequest("POST", b.srv.URL+fmt.Sprintf("/app/ticket/%d/macros/%d/apply", tid, mid), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 303 || !strings.Contains(resp.Header.Get("Location"), "notice=") {
		t.Fatalf("agent apply: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if target.calls.Load() != 2 || !strings.Contains(string(target.body[1]), `"amount":"7"`) {
		t.Fatalf("agent apply body = %s", target.body[len(target.body)-1])
	}
}

func TestTicketsMessagesTagsEvents(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	if st, _, body := b.do(t, "POST", "/api/tickets", map[string]any{"customer": map[string]any{"email": "a@example.com"},
		"messages": []any{map[string]any{"body_text": "x"}}}); st != 400 || !strings.Contains(string(body), "from_agent") {
		t.Fatalf("missing message fields: %d %s", st, body)
	}
	_, _, body := b.do(t, "POST", "/api/tickets", map[string]any{"subject": "S", "tags": []any{map[string]any{"name": "a"}},
		"messages": []any{map[string]any{"channel": "api", "via": "api", "from_agent": false, "sender": map[string]any{"email": "new@example.com", "name": "New Person"}, "body_text": "x"}}})
	tk := mustJSON(t, body)
	tid := num(tk["id"])
	if tk["customer"].(map[string]any)["email"] != "new@example.com" {
		t.Fatalf("customer not derived from sender: %s", body)
	}
	if st, _, _ := b.do(t, "POST", fmt.Sprintf("/api/tickets/%d/tags", tid), map[string]any{"names": []string{"b"}}); st != 201 {
		t.Fatalf("add tags: %d", st)
	}
	if st, _, _ := b.do(t, "DELETE", fmt.Sprintf("/api/tickets/%d/tags", tid), map[string]any{"names": []string{"a"}}); st != 204 {
		t.Fatalf("remove tags: %d", st)
	}
	_, _, body = b.do(t, "GET", fmt.Sprintf("/api/tickets/%d", tid), nil)
	tags := mustJSON(t, body)["tags"].([]any)
	if len(tags) != 1 || tags[0].(map[string]any)["name"] != "b" {
		t.Fatalf("tags = %v", tags)
	}
	st, _, body := b.do(t, "PUT", fmt.Sprintf("/api/tickets/%d", tid), map[string]any{"status": "closed"})
	if st != 200 || mustJSON(t, body)["closed_datetime"] == nil {
		t.Fatalf("close: %d %s", st, body)
	}
	b.do(t, "POST", fmt.Sprintf("/api/tickets/%d/messages", tid), map[string]any{"channel": "internal-note", "via": "api", "from_agent": true, "body_text": "n"})
	_, _, body = b.do(t, "GET", fmt.Sprintf("/api/tickets/%d/messages", tid), nil)
	msgs := mustJSON(t, body)["data"].([]any)
	if len(msgs) != 2 || msgs[1].(map[string]any)["channel"] != "internal-note" || msgs[1].(map[string]any)["sender"].(map[string]any)["email"] != DefaultUserEmail {
		t.Fatalf("messages = %s", body)
	}
	_, _, body = b.do(t, "GET", fmt.Sprintf("/api/events?object_id=%d&types=ticket-created,ticket-status-updated", tid), nil)
	evs := mustJSON(t, body)["data"].([]any)
	if len(evs) != 2 {
		t.Fatalf("events = %s", body)
	}
	_, _, body = b.do(t, "GET", "/api/tags", nil)
	if n := len(mustJSON(t, body)["data"].([]any)); n != 2 {
		t.Fatalf("account tags = %d, want 2", n)
	}
}

func TestOAuthConsentPage(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	q := url.Values{"response_type": {"code"}, "client_id": {DefaultClientID}, "redirect_uri": {"https://app.example.com/cb?account=acme"},
		"scope": {"openid offline write:all"}, "state": {"st-1"}, "nonce": {"n-1"}}
	resp, err := cl.Get(b.srv.URL + "/oauth/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("consent: %d", resp.StatusCode)
	}
	hidden := url.Values{}
	var approve bool
	for _, e := range parseHTML(t, page, "name") {
		if e.Name == "input" {
			hidden.Set(e.Attrs["name"], e.Attrs["value"])
		}
		if e.Attrs["value"] == "approve" {
			approve = true
		}
	}
	if !approve || hidden.Get("state") != "st-1" {
		t.Fatalf("consent form: approve=%v hidden=%v", approve, hidden)
	}
	hidden.Set("decision", "approve")
	resp, err = cl.PostForm(b.srv.URL+"/oauth/authorize", hidden)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != 302 || loc.Query().Get("code") == "" || loc.Query().Get("state") != "st-1" || loc.Query().Get("account") != "acme" {
		t.Fatalf("approve redirect: %d %s", resp.StatusCode, loc)
	}
	hidden.Set("decision", "deny")
	resp, _ = cl.PostForm(b.srv.URL+"/oauth/authorize", hidden)
	resp.Body.Close()
	if loc, _ := url.Parse(resp.Header.Get("Location")); loc.Query().Get("error") != "access_denied" {
		t.Fatalf("deny redirect: %s", loc)
	}
	q.Set("client_id", "nope")
	resp, _ = cl.Get(b.srv.URL + "/oauth/authorize?" + q.Encode())
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("unknown client: %d", resp.StatusCode)
	}
}

func TestControlRoutes(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	b.do(t, "POST", "/api/customers", customerBody("s@example.com", ""))
	st, _, body := b.do(t, "GET", "/_emulator/state", nil)
	m := mustJSON(t, body)
	acme := m["state"].(map[string]any)["accounts"].(map[string]any)["acme"].(map[string]any)
	if st != 200 || len(acme["customers"].([]any)) != 1 || num(acme["calls"]) != 1 {
		t.Fatalf("state: %d %s", st, body)
	}
	if st, _, _ := b.do(t, "POST", "/_emulator/faults", map[string]any{"outage": true}); st != 200 {
		t.Fatal("faults")
	}
	st, _, body = b.do(t, "GET", "/api/customers", nil)
	if st != 503 || mustJSON(t, body)["error"] == nil {
		t.Fatalf("outage: %d %s", st, body)
	}
	b.do(t, "POST", "/_emulator/reset", nil)
	_, _, body = b.do(t, "GET", "/api/customers", nil)
	if n := len(mustJSON(t, body)["data"].([]any)); n != 0 {
		t.Fatalf("after reset %d customers", n)
	}
	st, _, body = b.do(t, "POST", "/_emulator/seed", map[string]any{"customers": 3, "tickets": 2})
	if st != 201 || len(mustJSON(t, body)["ticket_ids"].([]any)) != 2 {
		t.Fatalf("seed: %d %s", st, body)
	}
	if st, _, _ := b.do(t, "GET", "/app", nil); st != 200 {
		t.Fatalf("app index: %d", st)
	}
}

func TestCloseIsIdempotent(t *testing.T) {
	t.Parallel()
	e := New(Config{})
	e.Close()
	e.Close()
	e.Flush() // returns at once after Close
}
