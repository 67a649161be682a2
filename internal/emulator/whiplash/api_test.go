package whiplash

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFixturesDeterministicAndRealistic(t *testing.T) {
	t.Parallel()
	seed := &SeedOptions{Orders: 300, Seed: 11}
	a, srvA := newTestEmulator(t, Config{Fixtures: seed})
	_, srvB := newTestEmulator(t, Config{Fixtures: seed})
	tokA, _ := token(t, srvA, "user_read")
	tokB, _ := token(t, srvB, "user_read")
	// 250 orders in pages: per_page=250 is capped at 50 rows, no error.
	list := func(srv string, tok string) []byte {
		var all []json.RawMessage
		for page := 1; page <= 5; page++ {
			req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/v2/orders?per_page=250&page=%d", srv, page), nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var rows []json.RawMessage
			if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &rows) != nil || len(rows) != 50 {
				t.Fatalf("page %d: status %d, %d rows, want 50 (the cap)", page, resp.StatusCode, len(rows))
			}
			all = append(all, rows...)
		}
		b, _ := json.Marshal(all)
		return b
	}
	ja, jb := list(srvA.URL, tokA), list(srvB.URL, tokB)
	if string(ja) != string(jb) {
		t.Fatal("the same seed produced different fixtures")
	}
	var orders []Order
	if err := json.Unmarshal(ja, &orders); err != nil || len(orders) != 250 {
		t.Fatalf("decode: %v (%d orders)", err, len(orders))
	}
	// Every third order (by id) carries id, customer_id and item ids as
	// strings; the others as numbers.
	var raw []struct {
		ID         json.RawMessage   `json:"id"`
		CustomerID json.RawMessage   `json:"customer_id"`
		Items      []json.RawMessage `json:"order_items"`
	}
	if err := json.Unmarshal(ja, &raw); err != nil {
		t.Fatal(err)
	}
	quoted := 0
	for i, r := range raw {
		wantQuoted := orders[i].ID%3 == 0
		var item struct {
			ID json.RawMessage `json:"id"`
		}
		_ = json.Unmarshal(r.Items[0], &item)
		for _, v := range []json.RawMessage{r.ID, r.CustomerID, item.ID} {
			if isQuoted := strings.HasPrefix(string(v), `"`); isQuoted != wantQuoted {
				t.Fatalf("order %d: id %s customer_id %s item id %s, want quoted=%v", orders[i].ID, r.ID, r.CustomerID, item.ID, wantQuoted)
			}
		}
		if wantQuoted {
			quoted++
		}
	}
	if quoted < 80 || quoted > 90 {
		t.Fatalf("%d of 250 orders with string ids, want every third", quoted)
	}
	if n := a.orderCount(); n != 300 {
		t.Fatalf("%d orders seeded", n)
	}
	var trackedShipped, untrackedShipped, cancelled int
	offsets := map[int]bool{}
	for _, o := range orders {
		_, off := o.CreatedAt.Zone()
		offsets[off] = true
		if o.StatusName != StatusName(int(o.Status)) || o.Email == "" || o.ShippingAddress1 == "" || len(o.OrderItems) == 0 || o.OrderItems[0].SKU == "" {
			t.Fatalf("incomplete order %+v", o)
		}
		if storeOf(&o) < 1 || storeOf(&o) > 3 || o.CustomerID != 1 || o.Originator == nil || o.Originator.OriginalID != o.ProtoOriginatorID {
			t.Fatalf("bad ownership %+v", o)
		}
		if o.UpdatedAt.Before(o.CreatedAt.Time) {
			t.Fatalf("updated before created: %+v", o)
		}
		if o.Status != StatusProcessing && o.Status != StatusPaused && o.Status != StatusInsufficientInv && o.PreviousStatus == 0 {
			t.Fatalf("status %d without previous_status", o.Status)
		}
		switch {
		case o.Status == StatusShipped && len(o.Tracking) > 0 && len(o.Packages) > 0:
			trackedShipped++
		case o.Status == StatusShipped && len(o.Tracking) == 0:
			untrackedShipped++
		case o.Status == StatusCancelled:
			cancelled++
		}
	}
	if trackedShipped == 0 || untrackedShipped == 0 || cancelled == 0 {
		t.Fatalf("fixtures lack variety: tracked %d untracked %d cancelled %d", trackedShipped, untrackedShipped, cancelled)
	}
	if !offsets[-4*3600] && !offsets[-5*3600] {
		t.Fatalf("offsets %v", offsets)
	}
}

func TestEasternOffsets(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		utc  string
		want int
	}{
		{"2026-01-15T12:00:00Z", -5}, {"2026-07-01T12:00:00Z", -4},
		{"2026-03-08T06:59:00Z", -5}, {"2026-03-08T07:00:00Z", -4},
		{"2026-11-01T05:59:00Z", -4}, {"2026-11-01T06:00:00Z", -5},
	} {
		ts, _ := time.Parse(time.RFC3339, tc.utc)
		if _, off := inEastern(ts).Zone(); off != tc.want*3600 {
			t.Errorf("%s: offset %d, want %d h", tc.utc, off/3600, tc.want)
		}
	}
}

// TestSearchMatchesBruteForce checks index-assisted search and sorting
// against a plain filter + sort of all orders.
func TestSearchMatchesBruteForce(t *testing.T) {
	t.Parallel()
	e, _ := newTestEmulator(t, Config{Fixtures: &SeedOptions{Orders: 1500, Seed: 3}})
	e.mu.Lock()
	all := slices.Clone(e.orders.all)
	e.mu.Unlock()
	r := rand.New(rand.NewPCG(1, 2))
	p := &principal{customer: e.customers[1]}
	sorts := []string{"", "updated_at asc", "updated_at desc", "updated_at asc,id asc", "id desc", "created_at desc", "status asc,updated_at desc", "email asc"}
	for i := range 150 {
		pick := all[r.IntN(len(all))].UpdatedAt.Time
		pick2 := all[r.IntN(len(all))].UpdatedAt.Time
		lo, hi := pick, pick2
		if hi.Before(lo) {
			lo, hi = hi, lo
		}
		preds := map[string]any{}
		switch r.IntN(4) {
		case 0:
			preds["updated_at_gteq"] = lo.Format(time.RFC3339)
			preds["updated_at_lt"] = hi.Format("2006-01-02T15:04:05.000-07:00")
		case 1:
			preds["updated_at_gt"] = lo.UTC().Format(time.RFC3339)
			preds["updated_at_lteq"] = hi.Format(time.RFC3339)
		case 2:
			preds["updated_at_eq"] = lo.Format(time.RFC3339)
		}
		if r.IntN(3) == 0 {
			preds["status_in"] = []int{100, 300, 350}
		}
		if r.IntN(4) == 0 {
			preds["shop_id_eq"] = 1 + r.IntN(3)
		}
		if r.IntN(5) == 0 {
			preds["created_at_lt"] = hi.Format(time.RFC3339)
		}
		if r.IntN(6) == 0 {
			preds["status_not_eq"] = "300"
		}
		raw, _ := json.Marshal(preds)
		sortSpec := sorts[r.IntN(len(sorts))]
		q, err := e.parseListQuery(url.Values{"search": {string(raw)}, "sort": {sortSpec}})
		if err != nil {
			t.Fatal(err)
		}
		perPage := 1 + r.IntN(60)
		page := r.IntN(5)
		e.mu.Lock()
		got, total := e.selectLocked(q, p, page*perPage, perPage, true)
		e.mu.Unlock()

		var want []*Order
		for _, o := range all {
			if q.match(p, o) {
				want = append(want, o)
			}
		}
		slices.SortStableFunc(want, q.less)
		if total != len(want) {
			t.Fatalf("query %d %s sort %q: total %d, want %d", i, raw, sortSpec, total, len(want))
		}
		end := min(len(want), page*perPage+perPage)
		var wantPage []*Order
		if page*perPage < len(want) {
			wantPage = want[page*perPage : end]
		}
		if !slices.Equal(got, wantPage) {
			t.Fatalf("query %d %s sort %q page %d/%d: got %d rows, want %d", i, raw, sortSpec, page, perPage, len(got), len(wantPage))
		}
	}
}

func TestParseSearchErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		search string
		ok     bool
		n      int
	}{
		{`{"status_eq":100}`, true, 1},
		{`{"status_eq":"100","email_eq":""}`, true, 1}, // blank values are ignored
		{`{"email_cont":"x"}`, false, 0},
		{`{"colour_eq":"red"}`, false, 0},
		{`{"status_eq":"abc"}`, false, 0},
		{`{"updated_at_gteq":"yesterday"}`, false, 0},
		{`{"updated_at_gteq":"2017-11-25 00:00:00"}`, true, 1},
		{`{"status_in":300}`, true, 1},
		{`{"status_eq":[1,2]}`, false, 0},
		{`not json`, false, 0},
	} {
		conds, err := parseSearch(tc.search, nil, true)
		if (err == nil) != tc.ok || len(conds) != tc.n {
			t.Errorf("%s: %d conds, err %v", tc.search, len(conds), err)
		}
	}
	// A time without offset is read in Eastern time (EST in November).
	conds, _ := parseSearch(`{"updated_at_gteq":"2017-11-25 00:00:00"}`, nil, true)
	if got := conds[0].vals[0].(time.Time).UTC().Format(time.RFC3339); got != "2017-11-25T05:00:00Z" {
		t.Fatalf("local time read as %s", got)
	}
	if _, err := parseSearch(`{"email_cont":"x"}`, nil, false); err != nil {
		t.Fatalf("lenient search should ignore unknown predicates: %v", err)
	}
}

func TestOrdersAPIStatusCodes(t *testing.T) {
	t.Parallel()
	e, srv := newTestEmulator(t, Config{Fixtures: &SeedOptions{Orders: 40}})
	if err := e.AddAccount(Account{CustomerID: 2, Stores: []int64{7}, ClientID: "other", ClientSecret: "other-secret"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Seed(SeedOptions{Orders: 5, CustomerID: 2, Append: true}); err != nil {
		t.Fatal(err)
	}
	tok, _ := token(t, srv, "user_read")
	get := func(path, tok string, hdr map[string]string) (int, http.Header, []byte) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, b
	}
	var foreign int64
	e.mu.Lock()
	for _, o := range e.orders.all {
		if o.CustomerID == 2 {
			foreign = int64(o.ID)
		}
	}
	e.mu.Unlock()
	search := url.QueryEscape(`{"status_eq":100}`)
	for _, tc := range []struct {
		name, path, tok string
		hdr             map[string]string
		status          int
		msg             string
	}{
		{"no token", "/api/v2/orders", "", nil, 401, "missing bearer token"},
		{"bad token", "/api/v2/orders", "nope", nil, 401, "invalid"},
		{"list", "/api/v2/orders", tok, nil, 200, ""},
		{"search", "/api/v2/orders?search=" + search, tok, nil, 200, ""},
		{"bad search", "/api/v2/orders?search=%7Bx", tok, nil, 422, "JSON"},
		{"bad predicate", "/api/v2/orders?search=" + url.QueryEscape(`{"status_matches":1}`), tok, nil, 422, "status_matches"},
		{"bad sort", "/api/v2/orders?sort=colour+asc", tok, nil, 422, "colour"},
		{"bad page", "/api/v2/orders?page=x", tok, nil, 422, "page"},
		{"foreign customer header", "/api/v2/orders", tok, map[string]string{"X-CUSTOMER-ID": "2"}, 403, "customer 2"},
		{"foreign shop header", "/api/v2/orders", tok, map[string]string{"X-SHOP-ID": "7"}, 403, "shop 7"},
		{"unknown order", "/api/v2/orders/999999", tok, nil, 404, "Couldn't find Order"},
		{"other customer's order", fmt.Sprintf("/api/v2/orders/%d", foreign), tok, nil, 404, "Couldn't find Order"},
		{"unknown route", "/api/v2/widgets", tok, nil, 404, "Not Found"},
		{"count", "/api/v2/orders/count", tok, nil, 200, ""},
	} {
		st, _, body := get(tc.path, tc.tok, tc.hdr)
		if st != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.name, st, tc.status, body)
			continue
		}
		if tc.msg != "" {
			var m map[string]string
			if json.Unmarshal(body, &m) != nil || !strings.Contains(m["message"], tc.msg) {
				t.Errorf("%s: body %s, want message containing %q", tc.name, body, tc.msg)
			}
		}
	}
	// Counts exclude the other customer; X-SHOP-ID narrows to a store.
	_, _, body := get("/api/v2/orders/count", tok, nil)
	if string(body) != "{\"count\":40}\n" {
		t.Fatalf("count %s", body)
	}
	_, _, body = get("/api/v2/orders?per_page=100", tok, map[string]string{"X-SHOP-ID": "2"})
	var orders []Order
	_ = json.Unmarshal(body, &orders)
	if len(orders) == 0 || len(orders) >= 40 {
		t.Fatalf("shop scoping returned %d orders", len(orders))
	}
	for _, o := range orders {
		if storeOf(&o) != 2 {
			t.Fatalf("order of store %d under X-SHOP-ID 2", storeOf(&o))
		}
	}
	// per_page is clamped, page_total and page_links are headers, fields trims.
	_, h, body := get("/api/v2/orders?per_page=1000&page_total=true&page_links=true&fields=status,email", tok, nil)
	orders = nil
	_ = json.Unmarshal(body, &orders)
	if len(orders) != 40 || h.Get("Total") != "40" || !strings.Contains(h.Get("Link"), `rel="last"`) {
		t.Fatalf("got %d orders, Total %q, Link %q", len(orders), h.Get("Total"), h.Get("Link"))
	}
	var sparse []map[string]any
	_ = json.Unmarshal(body, &sparse)
	if len(sparse[0]) != 3 {
		t.Fatalf("fields=status,email returned keys %v", sparse[0])
	}
}

func TestOAuthFlows(t *testing.T) {
	t.Parallel()
	_, srv := newTestEmulator(t, Config{})
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	authz := url.Values{"client_id": {DefaultClientID}, "redirect_uri": {"http://127.0.0.1/cb"}, "response_type": {"code"}, "state": {"xyz"}}

	// Consent page, then approval through the form.
	resp, err := http.Get(srv.URL + "/oauth/authorize?" + authz.Encode())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "Authorize switchyard") || !strings.Contains(string(page), "Demo Merch Co") {
		t.Fatalf("consent page: %d %s", resp.StatusCode, page)
	}
	deny := url.Values{}
	for k, v := range authz {
		deny[k] = v
	}
	deny.Set("decision", "deny")
	resp, _ = noRedirect.PostForm(srv.URL+"/oauth/authorize", deny)
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); !strings.Contains(loc, "error=access_denied") || !strings.Contains(loc, "state=xyz") {
		t.Fatalf("deny redirect %q", loc)
	}

	// PKCE: a wrong verifier is refused, the right one works.
	verifier := "a-very-long-verifier-string-for-pkce-tests-0123456789"
	sum := sha256.Sum256([]byte(verifier))
	pk := url.Values{}
	for k, v := range authz {
		pk[k] = v
	}
	pk.Set("code_challenge", base64.RawURLEncoding.EncodeToString(sum[:]))
	pk.Set("code_challenge_method", "S256")
	pk.Set("decision", "approve")
	resp, _ = noRedirect.PostForm(srv.URL+"/oauth/authorize", pk)
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	code := loc.Query().Get("code")
	exchange := func(extra url.Values) (int, map[string]any) {
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"http://127.0.0.1/cb"}}
		for k, v := range extra {
			form[k] = v
		}
		req, _ := http.NewRequest("POST", srv.URL+"/oauth/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(DefaultClientID, DefaultClientSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	if st, m := exchange(url.Values{"code_verifier": {"wrong"}}); st != 400 || m["error"] != "invalid_grant" {
		t.Fatalf("wrong verifier: %d %v", st, m)
	}
	st, m := exchange(url.Values{"code_verifier": {verifier}})
	if st != 200 || m["refresh_token"] == nil || m["scope"] != "user_manage" {
		t.Fatalf("exchange: %d %v", st, m)
	}
	if st, m := exchange(url.Values{"code_verifier": {verifier}}); st != 400 || m["error"] != "invalid_grant" {
		t.Fatalf("code reuse: %d %v", st, m)
	}

	// Refresh rotates; the old refresh token is then refused.
	refresh := func(rt string) (int, map[string]any) {
		resp, err := http.PostForm(srv.URL+"/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt},
			"client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	rt := m["refresh_token"].(string)
	st, m2 := refresh(rt)
	if st != 200 || m2["refresh_token"] == rt || m2["access_token"] == m["access_token"] {
		t.Fatalf("refresh: %d %v", st, m2)
	}
	if st, _ := refresh(rt); st != 400 {
		t.Fatalf("a used refresh token should be refused, got %d", st)
	}

	// Wrong secret and disabled client_credentials.
	resp, _ = http.PostForm(srv.URL+"/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {DefaultClientID}, "client_secret": {"bad"}})
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("bad secret: %d", resp.StatusCode)
	}
	resp, _ = http.PostForm(srv.URL+"/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}})
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("client_credentials should be off by default: %d", resp.StatusCode)
	}
}

func TestTokensExpireOnTheClock(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := fixedNow()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	_, srv := newTestEmulator(t, Config{Now: clock})
	tok, _ := token(t, srv, "user_read")
	if st := call(t, "GET", srv.URL+"/api/v2/orders", tok, "", nil); st != 200 {
		t.Fatal(st)
	}
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	var m map[string]string
	if st := call(t, "GET", srv.URL+"/api/v2/orders", tok, "", &m); st != 401 || m["message"] != "The access token expired" {
		t.Fatalf("expired token: %d %v", st, m)
	}
}

func TestLeakyBucketRateLimit(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := fixedNow()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	_, srv := newTestEmulator(t, Config{Now: clock, RateLimit: LeakyBucket{Capacity: 3, LeakPerSecond: 0.5}})
	tok, _ := token(t, srv, "user_read")
	for i := range 3 {
		if st := call(t, "GET", srv.URL+"/api/v2/orders/count", tok, "", nil); st != 200 {
			t.Fatalf("call %d: %d", i, st)
		}
	}
	req, _ := http.NewRequest("GET", srv.URL+"/api/v2/orders/count", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2" {
		t.Fatalf("4th call: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	mu.Lock()
	now = now.Add(2 * time.Second) // one drop leaked
	mu.Unlock()
	if st := call(t, "GET", srv.URL+"/api/v2/orders/count", tok, "", nil); st != 200 {
		t.Fatalf("after the leak: %d", st)
	}
}

func TestSubscriptionsCRUDErrors(t *testing.T) {
	t.Parallel()
	_, srv := newTestEmulator(t, Config{})
	ro, _ := token(t, srv, "user_read")
	rw, _ := token(t, srv, "user_manage")
	base := srv.URL + "/api/v2/notification_subscriptions"
	ok := `{"notification_event_id":3,"endpoint":"https://hooks.example.com/w"}`
	for _, tc := range []struct {
		name, method, url, tok, body string
		status                       int
	}{
		{"read-only scope cannot create", "POST", base, ro, ok, 403},
		{"create", "POST", base, rw, ok, 201},
		{"duplicate", "POST", base, rw, ok, 409},
		{"unknown event", "POST", base, rw, `{"notification_event_id":999,"endpoint":"https://x.example.com"}`, 422},
		{"bad endpoint", "POST", base, rw, `{"notification_event_id":3,"endpoint":"ftp://x"}`, 422},
		{"missing endpoint", "POST", base, rw, `{"notification_event_id":3}`, 422},
		{"bad version", "POST", base, rw, `{"notification_event_id":2,"endpoint":"https://x.example.com","version":3}`, 422},
		{"other customer", "POST", base, rw, `{"notification_event_id":2,"endpoint":"https://x.example.com","customer_id":9}`, 403},
		{"not json", "POST", base, rw, `{`, 422},
		{"get", "GET", base + "/1", ro, "", 200},
		{"get unknown", "GET", base + "/77", ro, "", 404},
		{"update", "PUT", base + "/1", rw, `{"active":false}`, 200},
		{"delete", "DELETE", base + "/1", rw, "", 204},
		{"delete again", "DELETE", base + "/1", rw, "", 404},
	} {
		if st := call(t, tc.method, tc.url, tc.tok, tc.body, nil); st != tc.status {
			t.Errorf("%s: %d, want %d", tc.name, st, tc.status)
		}
	}
	var events []NotificationEvent
	if st := call(t, "GET", srv.URL+"/api/v2/notification_events", ro, "", &events); st != 200 || len(events) < 5 || events[0].Name != "order.created" {
		t.Fatalf("catalogue: %d %v", st, events)
	}
}

func TestResetAndAccounts(t *testing.T) {
	t.Parallel()
	e, srv := newTestEmulator(t, Config{Fixtures: &SeedOptions{Orders: 10}})
	resp, err := http.Post(srv.URL+"/_emulator/accounts", "application/json", strings.NewReader(`{"customer_id":5,"stores":[50,51],"client_id":"c5","client_secret":"s5"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("accounts: %d", resp.StatusCode)
	}
	resp, _ = http.Post(srv.URL+"/_emulator/accounts", "application/json", strings.NewReader(`{"customer_id":6,"stores":[51]}`))
	resp.Body.Close()
	if resp.StatusCode != 409 {
		t.Fatalf("reused store: %d", resp.StatusCode)
	}
	resp, _ = http.Post(srv.URL+"/_emulator/seed", "application/json", strings.NewReader(`{"orders":25,"customer_id":5,"seed":4,"from":"2026-01-01T00:00:00-05:00","days":3}`))
	resp.Body.Close()
	if resp.StatusCode != 200 || e.orderCount() != 25 {
		t.Fatalf("seed: %d, %d orders", resp.StatusCode, e.orderCount())
	}
	resp, _ = http.Post(srv.URL+"/_emulator/reset", "application/json", nil)
	resp.Body.Close()
	if e.orderCount() != 10 {
		t.Fatalf("reset should restore the configured fixtures, have %d orders", e.orderCount())
	}
	e.mu.Lock()
	_, kept := e.customers[5]
	e.mu.Unlock()
	if kept {
		t.Fatal("reset should drop added accounts")
	}
}

func BenchmarkListOrders100k(b *testing.B) {
	e := New(Config{Now: fixedNow, Fixtures: &SeedOptions{Orders: 100_000, Seed: 1}})
	defer e.Close()
	p := &principal{customer: e.customers[1]}
	from := fixedNow().AddDate(0, 0, -7)
	q, err := e.parseListQuery(url.Values{
		"search": {fmt.Sprintf(`{"updated_at_gteq":%q}`, from.Format(time.RFC3339))},
		"sort":   {"updated_at asc,id asc"},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		e.mu.Lock()
		rows, _ := e.selectLocked(q, p, (i%100)*50, 50, false)
		e.mu.Unlock()
		if _, err := renderOrders(rows, ""); err != nil {
			b.Fatal(err)
		}
	}
}

// TestListsArePagedAndCapped: the catalogue and the subscriptions are served
// in pages like orders, and per_page above the cap (50 by default) gets 50
// rows with no error.
func TestListsArePagedAndCapped(t *testing.T) {
	t.Parallel()
	_, srv := newTestEmulator(t, Config{Fixtures: &SeedOptions{Orders: 120, Seed: 3}})
	tok, _ := token(t, srv, "user_manage")
	var orders []json.RawMessage
	if st := call(t, "GET", srv.URL+"/api/v2/orders?per_page=100", tok, "", &orders); st != 200 || len(orders) != 50 {
		t.Fatalf("per_page=100: status %d, %d rows; want 200 and 50", st, len(orders))
	}
	var all []NotificationEvent
	for page := 1; ; page++ {
		var rows []NotificationEvent
		if st := call(t, "GET", fmt.Sprintf("%s/api/v2/notification_events?per_page=5&page=%d", srv.URL, page), tok, "", &rows); st != 200 {
			t.Fatalf("catalogue page %d: status %d", page, st)
		}
		if len(rows) > 5 {
			t.Fatalf("catalogue page %d has %d rows, per_page 5", page, len(rows))
		}
		all = append(all, rows...)
		if len(rows) < 5 {
			break
		}
	}
	if len(all) != len(catalogue) || all[len(all)-1].ID != catalogue[len(catalogue)-1].ID {
		t.Fatalf("paged catalogue has %d entries, want %d", len(all), len(catalogue))
	}
	for i := 1; i <= 4; i++ {
		body := fmt.Sprintf(`{"notification_event_id":%d,"endpoint":"https://hub.example.com/h","notification_type":"webhook"}`, i)
		if st := call(t, "POST", srv.URL+"/api/v2/notification_subscriptions", tok, body, nil); st != 201 {
			t.Fatalf("create subscription %d: status %d", i, st)
		}
	}
	var p1, p2 []subscription
	call(t, "GET", srv.URL+"/api/v2/notification_subscriptions?per_page=3&page=1", tok, "", &p1)
	call(t, "GET", srv.URL+"/api/v2/notification_subscriptions?per_page=3&page=2", tok, "", &p2)
	if len(p1) != 3 || len(p2) != 1 || p2[0].ID <= p1[2].ID {
		t.Fatalf("subscription pages: %d then %d rows", len(p1), len(p2))
	}
}
