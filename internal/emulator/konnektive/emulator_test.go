package konnektive

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2025, 6, 1, 16, 0, 0, 0, time.UTC)

type testBundle struct {
	emu *Emulator
	srv *httptest.Server
}

func setup(t *testing.T, cfg Config) *testBundle {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return testNow }
	}
	if cfg.Seed == 0 {
		cfg.Seed = 42
	}
	e := New(cfg)
	srv := httptest.NewServer(e)
	t.Cleanup(func() { srv.Close(); e.Close(); e.Close() })
	return &testBundle{emu: e, srv: srv}
}

type envelope struct {
	Result  string          `json:"result"`
	Message json.RawMessage `json:"message"`
}

func (e envelope) text() string {
	var s string
	_ = json.Unmarshal(e.Message, &s)
	return s
}

func creds(extra map[string]string) url.Values {
	v := url.Values{"loginId": {DefaultLoginID}, "password": {DefaultPassword}}
	for k, x := range extra {
		v.Set(k, x)
	}
	return v
}

func decode(t *testing.T, resp *http.Response) (int, envelope) {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatalf("body is not an envelope: %v: %s", err, b)
	}
	return resp.StatusCode, env
}

func (b *testBundle) form(t *testing.T, path string, v url.Values) envelope {
	t.Helper()
	resp, err := b.srv.Client().PostForm(b.srv.URL+path, v)
	if err != nil {
		t.Fatal(err)
	}
	status, env := decode(t, resp)
	if status != http.StatusOK {
		t.Fatalf("%s: HTTP %d", path, status)
	}
	return env
}

type page struct {
	TotalResults   string            `json:"totalResults"`
	ResultsPerPage int               `json:"resultsPerPage"`
	Page           string            `json:"page"`
	Data           []json.RawMessage `json:"data"`
}

func mustPage(t *testing.T, env envelope) page {
	t.Helper()
	if env.Result != "SUCCESS" {
		t.Fatalf("want SUCCESS, got %s: %s", env.Result, env.Message)
	}
	var p page
	if err := json.Unmarshal(env.Message, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func wide(extra map[string]string) url.Values {
	v := creds(extra)
	v.Set("startDate", "01/01/2000")
	v.Set("endDate", "12/31/2030")
	return v
}

func (b *testBundle) state(t *testing.T) map[string]any {
	t.Helper()
	resp, err := b.srv.Client().Get(b.srv.URL + "/_emulator/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s struct {
		State map[string]any `json:"state"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	delete(s.State, "calls")
	return s.State
}

func TestFixturesDeterministic(t *testing.T) {
	t.Parallel()
	a, b, c := setup(t, Config{Seed: 7}), setup(t, Config{Seed: 7}), setup(t, Config{Seed: 8})
	sa, sb, sc := a.state(t), b.state(t), c.state(t)
	if !reflect.DeepEqual(sa, sb) {
		t.Fatal("same seed and clock gave different fixtures")
	}
	if reflect.DeepEqual(sa["orders"], sc["orders"]) {
		t.Fatal("different seeds gave identical orders")
	}
	counts := sa["counts"].(map[string]any)
	for _, k := range []string{"customers", "orders", "purchases", "transactions", "fulfillments"} {
		if counts[k].(float64) == 0 {
			t.Errorf("fixtures have no %s", k)
		}
	}
	if counts["customers"].(float64) != DefaultCustomers {
		t.Errorf("customers = %v, want %d", counts["customers"], DefaultCustomers)
	}
	// Shipped fulfilments carry tracking.
	var shipped int
	for _, o := range sa["orders"].([]any) {
		for _, f := range o.(map[string]any)["fulfillments"].([]any) {
			fm := f.(map[string]any)
			if fm["status"] == "SHIPPED" {
				shipped++
				if fm["trackingNumber"] == "" || fm["shipCarrier"] == "" {
					t.Fatalf("shipped fulfilment without tracking: %v", fm)
				}
			}
		}
	}
	if shipped == 0 {
		t.Fatal("no shipped fulfilments")
	}
}

func TestSeedEmails(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{Emails: []string{"Jane.Doe@Example.com", "sam@example.org"}, Customers: 3})
	p := mustPage(t, b.form(t, "/customer/query/", wide(map[string]string{"emailAddress": "jane.doe@example.com"})))
	if p.TotalResults != "1" {
		t.Fatalf("totalResults = %s", p.TotalResults)
	}
	var c map[string]any
	_ = json.Unmarshal(p.Data[0], &c)
	if c["emailAddress"] != "jane.doe@example.com" {
		t.Fatalf("email = %v", c["emailAddress"])
	}
	// Reseed through the control route with other emails.
	resp, err := b.srv.Client().Post(b.srv.URL+"/_emulator/seed", "application/json", strings.NewReader(`{"seed":9,"customers":5,"emails":["new@example.com"]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("seed: HTTP %d", resp.StatusCode)
	}
	env := b.form(t, "/customer/query/", wide(map[string]string{"emailAddress": "jane.doe@example.com"}))
	if env.Result != "ERROR" || env.text() != "No customers matching those parameters could be found" {
		t.Fatalf("after reseed: %s %s", env.Result, env.Message)
	}
	p = mustPage(t, b.form(t, "/customer/query/", wide(nil)))
	if p.TotalResults != "5" {
		t.Fatalf("after reseed totalResults = %s", p.TotalResults)
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	strict := setup(t, Config{AuthErrorStatus: http.StatusUnauthorized})
	tests := []struct {
		name   string
		b      *testBundle
		v      url.Values
		status int
		result string
	}{
		{"ok", b, wide(nil), 200, "SUCCESS"},
		{"missing", b, url.Values{"startDate": {"01/01/2000"}, "endDate": {"12/31/2030"}}, 200, "ERROR"},
		{"wrong password", b, wide(map[string]string{"password": "nope"}), 200, "ERROR"},
		{"unknown login", b, wide(map[string]string{"loginId": "ghost"}), 200, "ERROR"},
		{"configured status", strict, wide(map[string]string{"password": "nope"}), 401, "ERROR"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := tc.b.srv.Client().PostForm(tc.b.srv.URL+"/order/query/", tc.v)
			if err != nil {
				t.Fatal(err)
			}
			status, env := decode(t, resp)
			if status != tc.status || env.Result != tc.result {
				t.Fatalf("got %d %s (%s), want %d %s", status, env.Result, env.Message, tc.status, tc.result)
			}
			if tc.result == "ERROR" && env.text() != "Invalid login credentials" {
				t.Fatalf("message = %s", env.Message)
			}
		})
	}
	// A new account through the control route.
	resp, err := b.srv.Client().Post(b.srv.URL+"/_emulator/accounts", "application/json", strings.NewReader(`{"loginId":"ops","password":"s3cret"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("accounts: HTTP %d", resp.StatusCode)
	}
	v := wide(map[string]string{"loginId": "ops", "password": "s3cret"})
	if env := b.form(t, "/order/query", v); env.Result != "SUCCESS" {
		t.Fatalf("new account: %s", env.Message)
	}
}

func TestEncodingsAndPaths(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	v := wide(map[string]string{"resultsPerPage": "3", "page": "2"})
	multipartReq := func() *http.Request {
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		for k := range v {
			_ = w.WriteField(k, v.Get(k))
		}
		_ = w.Close()
		r, _ := http.NewRequest(http.MethodPost, b.srv.URL+"/order/query/", &buf)
		r.Header.Set("Content-Type", w.FormDataContentType())
		return r
	}
	jsonReq := func() *http.Request {
		m := map[string]any{}
		for k := range v {
			m[k] = v.Get(k)
		}
		m["resultsPerPage"] = 3 // a JSON number
		body, _ := json.Marshal(m)
		r, _ := http.NewRequest(http.MethodPost, b.srv.URL+"/order/query", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		return r
	}
	tests := []struct {
		name string
		req  func() *http.Request
	}{
		{"GET query", func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, b.srv.URL+"/order/query/?"+v.Encode(), nil)
			return r
		}},
		{"GET no slash", func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, b.srv.URL+"/order/query?"+v.Encode(), nil)
			return r
		}},
		{"POST query only", func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, b.srv.URL+"/order/query/?"+v.Encode(), nil)
			return r
		}},
		{"POST urlencoded", func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, b.srv.URL+"/order/query/", strings.NewReader(v.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}},
		{"POST multipart", multipartReq},
		{"POST json", jsonReq},
		{"POST split query and body", func() *http.Request {
			q := url.Values{"loginId": {DefaultLoginID}, "password": {DefaultPassword}}
			body := url.Values{"startDate": {"01/01/2000"}, "endDate": {"12/31/2030"}, "resultsPerPage": {"3"}, "page": {"2"}}
			r, _ := http.NewRequest(http.MethodPost, b.srv.URL+"/order/query/?"+q.Encode(), strings.NewReader(body.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}},
	}
	var first []json.RawMessage
	for _, tc := range tests {
		resp, err := b.srv.Client().Do(tc.req())
		if err != nil {
			t.Fatal(err)
		}
		_, env := decode(t, resp)
		p := mustPage(t, env)
		if p.Page != "2" || p.ResultsPerPage != 3 || len(p.Data) != 3 {
			t.Fatalf("%s: page=%s per=%d rows=%d", tc.name, p.Page, p.ResultsPerPage, len(p.Data))
		}
		if first == nil {
			first = p.Data
		} else if !reflect.DeepEqual(first, p.Data) {
			t.Fatalf("%s: different rows than the first encoding", tc.name)
		}
	}
}

func TestProtocolErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	do := func(method, path string, body io.Reader) (int, envelope) {
		r, _ := http.NewRequest(method, b.srv.URL+path, body)
		resp, err := b.srv.Client().Do(r)
		if err != nil {
			t.Fatal(err)
		}
		return decode(t, resp)
	}
	if st, env := do(http.MethodGet, "/order/nothing/?"+creds(nil).Encode(), nil); st != 404 || env.Result != "ERROR" {
		t.Fatalf("unknown path: %d %s", st, env.Result)
	}
	if st, env := do(http.MethodPut, "/order/query/", nil); st != 405 || env.Result != "ERROR" {
		t.Fatalf("PUT: %d %s", st, env.Result)
	}
	tests := []struct {
		name string
		v    url.Values
		want string
	}{
		{"no date range", creds(nil), "startDate and endDate are required when no orderId is given"},
		{"half range", creds(map[string]string{"startDate": "01/01/2024"}), "startDate and endDate must be given together"},
		{"bad date", creds(map[string]string{"startDate": "2024-01-01", "endDate": "01/31/2024"}), `Invalid startDate "2024-01-01": dates must be m/d/Y, e.g. 01/31/2024`},
		{"reversed", creds(map[string]string{"startDate": "02/01/2024", "endDate": "01/01/2024"}), "endDate 01/01/2024 is before startDate 02/01/2024"},
		{"too many per page", wide(map[string]string{"resultsPerPage": "201"}), `Invalid resultsPerPage "201": must be a whole number from 1 to 200`},
		{"bad status", wide(map[string]string{"orderStatus": "SHIPPED"}), `Invalid orderStatus "SHIPPED": must be one of COMPLETE, PARTIAL, DECLINED, REFUNDED, CANCELLED`},
		{"past the end", wide(map[string]string{"page": "999"}), "No orders matching those parameters could be found"},
		{"unknown order", creds(map[string]string{"orderId": "NOPE"}), "No orders matching those parameters could be found"},
	}
	for _, tc := range tests {
		env := b.form(t, "/order/query/", tc.v)
		if env.Result != "ERROR" || env.text() != tc.want {
			t.Errorf("%s: got %s %s, want ERROR %q", tc.name, env.Result, env.Message, tc.want)
		}
	}
	lenient := setup(t, Config{LenientDateRange: true})
	if env := lenient.form(t, "/order/query/", creds(nil)); env.Result != "SUCCESS" {
		t.Fatalf("lenient date range: %s", env.Message)
	}
	for path, noun := range map[string]string{"/customer/query/": "customers", "/purchase/query/": "purchases", "/transactions/query/": "transactions"} {
		env := b.form(t, path, wide(map[string]string{"emailAddress": "nobody@nowhere.test", "customerId": "1"}))
		if want := "No " + noun + " matching those parameters could be found"; env.Result != "ERROR" || env.text() != want {
			t.Errorf("%s empty: %s %s", path, env.Result, env.Message)
		}
	}
}

func TestFaultsUseEnvelope(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	resp, err := b.srv.Client().Post(b.srv.URL+"/_emulator/faults", "application/json", strings.NewReader(`{"outage":true}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = b.srv.Client().PostForm(b.srv.URL+"/order/query/", wide(nil))
	if err != nil {
		t.Fatal(err)
	}
	st, env := decode(t, resp)
	if st != http.StatusServiceUnavailable || env.Result != "ERROR" || !strings.Contains(env.text(), "outage") {
		t.Fatalf("outage: %d %s %s", st, env.Result, env.Message)
	}
	resp, err = b.srv.Client().Post(b.srv.URL+"/_emulator/reset", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if env := b.form(t, "/order/query/", wide(nil)); env.Result != "SUCCESS" {
		t.Fatalf("after reset: %s", env.Message)
	}
}

func TestCallLogHasNoPassword(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	b.form(t, "/order/query/", wide(nil))
	b.form(t, "/order/query/", wide(map[string]string{"password": "wrong-one"}))
	resp, err := b.srv.Client().Get(b.srv.URL + "/_emulator/state")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if bytes.Contains(body, []byte(DefaultPassword)) || bytes.Contains(body, []byte("wrong-one")) {
		t.Fatal("state dump contains a password")
	}
	calls := b.emu.Calls()
	if len(calls) != 2 || calls[0].Result != "SUCCESS" || calls[1].Result != "ERROR" || calls[0].Params["loginId"] != DefaultLoginID {
		t.Fatalf("calls = %+v", calls)
	}
}

// TestActionErrorsChangeNothing sends invalid actions and checks that the
// CRM state is byte-for-byte unchanged.
func TestActionErrorsChangeNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	st := b.state(t)
	orders := st["orders"].([]any)
	var orderID, custID string
	for _, o := range orders {
		om := o.(map[string]any)
		if om["orderStatus"] == "COMPLETE" && om["refundRemaining"] != "0.00" {
			orderID, custID = om["orderId"].(string), om["customerId"].(string)
			break
		}
	}
	purchaseID := st["purchases"].([]any)[0].(map[string]any)["purchaseId"].(string)
	long := strings.Repeat("x", 101)
	tests := []struct {
		path string
		v    map[string]string
		want string
	}{
		{"/order/refund/", map[string]string{"orderId": "NOPE", "fullRefund": "1"}, "Invalid orderId: order NOPE could not be found"},
		{"/order/refund/", map[string]string{"orderId": orderID, "refundAmount": "999999.00"}, "exceeds the refundable amount"},
		{"/order/refund/", map[string]string{"orderId": orderID, "refundAmount": "-1"}, "Invalid refundAmount"},
		{"/order/refund/", map[string]string{"orderId": orderID, "refundAmount": "1.234"}, "Invalid refundAmount"},
		{"/order/refund/", map[string]string{"orderId": orderID}, "refundAmount is required when fullRefund is 0"},
		{"/order/refund/", map[string]string{"orderId": orderID, "fullRefund": "maybe"}, "Invalid fullRefund"},
		{"/order/cancel/", map[string]string{"orderId": orderID}, "cancelReason is required"},
		{"/order/cancel/", map[string]string{"orderId": orderID, "cancelReason": long}, "longer than 100"},
		{"/customer/addnote/", map[string]string{"customerId": custID}, "message is required"},
		{"/customer/addnote/", map[string]string{"customerId": "999999", "message": "hi"}, "could not be found"},
		{"/customer/update/", map[string]string{"customerId": custID}, "No customer fields to update"},
		{"/customer/update/", map[string]string{"customerId": custID, "shipCity": "Austin", "shipCountry": "USA"}, "Invalid shipCountry"},
		{"/customer/update/", map[string]string{"customerId": custID, "firstName": "NULL"}, "firstName cannot be cleared"},
		{"/customer/update/", map[string]string{"customerId": custID, "state": "TOOLONG"}, "state is longer than 6"},
		{"/purchase/update/", map[string]string{"purchaseId": purchaseID, "nextBillDate": "13/45/2025"}, "Invalid nextBillDate"},
		{"/purchase/update/", map[string]string{"purchaseId": purchaseID, "nextBillDate": "01/01/2020"}, "must be after today"},
		{"/purchase/update/", map[string]string{"purchaseId": purchaseID, "price": "5.00", "billingIntervalDays": "0"}, "Invalid billingIntervalDays"},
		{"/purchase/update/", map[string]string{"purchaseId": purchaseID, "productId": "999"}, "Invalid productId"},
		{"/purchase/update/", map[string]string{"purchaseId": purchaseID}, "No purchase fields to update"},
		{"/purchase/cancel/", map[string]string{"purchaseId": purchaseID}, "cancelReason is required"},
		{"/purchase/refund/", map[string]string{"purchaseId": "1", "fullRefund": "1"}, "could not be found"},
		{"/transactions/refund/", map[string]string{"transactionId": "1", "fullRefund": "1"}, "could not be found"},
		{"/fulfillment/update/", map[string]string{"orderId": orderID, "fulfillmentStatus": "SHIPPED"}, "trackingNumber and dateShipped are required"},
		{"/fulfillment/update/", map[string]string{"orderId": orderID, "fulfillmentStatus": "LOST"}, "Invalid fulfillmentStatus"},
		{"/fulfillment/update/", map[string]string{"fulfillmentStatus": "SHIPPED"}, "orderId or fulfillmentId is required"},
	}
	for _, tc := range tests {
		env := b.form(t, tc.path, creds(tc.v))
		if env.Result != "ERROR" || !strings.Contains(env.text(), tc.want) {
			t.Errorf("%s %v: got %s %s, want ERROR containing %q", tc.path, tc.v, env.Result, env.Message, tc.want)
		}
	}
	if after := b.state(t); !reflect.DeepEqual(st, after) {
		t.Fatal("a failed action changed the CRM state")
	}
}

func TestHoldEndpointFlag(t *testing.T) {
	t.Parallel()
	off := setup(t, Config{})
	resp, err := off.srv.Client().PostForm(off.srv.URL+"/purchase/hold/", creds(map[string]string{"purchaseId": "3001"}))
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := decode(t, resp); st != http.StatusNotFound {
		t.Fatalf("hold without flag: HTTP %d", st)
	}
	on := setup(t, Config{HoldEndpoint: true})
	var active string
	for _, p := range on.state(t)["purchases"].([]any) {
		if pm := p.(map[string]any); pm["status"] == "ACTIVE" {
			active = pm["purchaseId"].(string)
			break
		}
	}
	env := on.form(t, "/purchase/hold/", creds(map[string]string{"purchaseId": active, "resumeDate": "09/01/2025"}))
	if env.Result != "SUCCESS" {
		t.Fatalf("hold: %s", env.Message)
	}
	var p map[string]any
	_ = json.Unmarshal(env.Message, &p)
	if p["status"] != "HOLD" || p["nextBillDate"] != "2025-09-01" {
		t.Fatalf("after hold: status=%v next=%v", p["status"], p["nextBillDate"])
	}
}
