package konnektive_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"switchyard/internal/emulator/emukit"
	emu "switchyard/internal/emulator/konnektive"
	"switchyard/internal/provider/konnektive"
)

func TestLenientScalars(t *testing.T) {
	t.Parallel()
	var rec struct {
		M []konnektive.Money  `json:"m"`
		I []konnektive.Int    `json:"i"`
		B []konnektive.Bool   `json:"b"`
		S []konnektive.String `json:"s"`
		T []konnektive.Time   `json:"t"`
	}
	in := `{
	 "m":["49.95",49.95,"","$1,049.5",null,"-5.00","abc",7,"0.005",{"x":1}],
	 "i":["3",3,"3.0","",null,"x",4.7,[1]],
	 "b":["1","0","true","false",1,0,true,"",null,"yes","2"],
	 "s":["a",12,true,null,{"x":1},"  b "],
	 "t":["2024-01-31 10:22:03","01/31/2024","2024-01-31","2024-01-31T10:22:03Z","0000-00-00 00:00:00","",null,"soon",1706696523]
	}`
	if err := json.Unmarshal([]byte(in), &rec); err != nil {
		t.Fatal(err)
	}
	wantM := []konnektive.Money{4995, 4995, 0, 104950, 0, -500, 0, 700, 1, 0}
	wantI := []konnektive.Int{3, 3, 3, 0, 0, 0, 4, 0}
	wantB := []konnektive.Bool{true, false, true, false, true, false, true, false, false, true, true}
	wantS := []konnektive.String{"a", "12", "true", "", "", "  b "}
	for i := range wantM {
		if rec.M[i] != wantM[i] {
			t.Errorf("money[%d] = %d, want %d", i, rec.M[i], wantM[i])
		}
	}
	for i := range wantI {
		if rec.I[i] != wantI[i] {
			t.Errorf("int[%d] = %d, want %d", i, rec.I[i], wantI[i])
		}
	}
	for i := range wantB {
		if rec.B[i] != wantB[i] {
			t.Errorf("bool[%d] = %v, want %v", i, rec.B[i], wantB[i])
		}
	}
	for i := range wantS {
		if rec.S[i] != wantS[i] {
			t.Errorf("string[%d] = %q, want %q", i, rec.S[i], wantS[i])
		}
	}
	day := time.Date(2024, 1, 31, 0, 0, 0, 0, time.UTC)
	wantT := []time.Time{day.Add(10*time.Hour + 22*time.Minute + 3*time.Second), day, day, day.Add(10*time.Hour + 22*time.Minute + 3*time.Second), {}, {}, {}, {}, time.Unix(1706696523, 0)}
	for i, w := range wantT {
		if !rec.T[i].Equal(w) {
			t.Errorf("time[%d] = %v, want %v", i, rec.T[i].Time, w)
		}
	}
	if rec.T[7].Raw != "soon" {
		t.Errorf("raw = %q", rec.T[7].Raw)
	}
	if s := konnektive.Money(-1234).String(); s != "-12.34" {
		t.Errorf("format = %s", s)
	}
	if _, err := konnektive.ParseMoney("12.x"); err == nil {
		t.Error("ParseMoney accepted 12.x")
	}
	for in, want := range map[string]bool{"1": true, "0": false, "": false, "true": true, "No": false} {
		if got, err := konnektive.ParseBool(in); err != nil || got != want {
			t.Errorf("ParseBool(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := konnektive.ParseBool("2"); err == nil {
		t.Error("ParseBool accepted 2")
	}
}

func TestDecodeEnvelope(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body   string
		result string
		text   string
		err    bool
	}{
		{`{"result":"SUCCESS","message":"Note added"}`, "SUCCESS", "Note added", false},
		{`{"result":"error","message":"No orders matching those parameters could be found"}`, "ERROR", "No orders matching those parameters could be found", false},
		{`{"result":"ERROR","message":["orderId is required","cancelReason is required"]}`, "ERROR", "orderId is required; cancelReason is required", false},
		{`{"result":"ERROR","message":{"message":"Declined"}}`, "ERROR", "Declined", false},
		{`{"result":"SUCCESS","message":{"orderId":"X1"}}`, "SUCCESS", `{"orderId":"X1"}`, false},
		{`{"result":"SUCCESS"}`, "SUCCESS", "", false},
		{"\ufeff {\"result\":\"SUCCESS\",\"message\":12}", "SUCCESS", "12", false},
		{`<html>502</html>`, "", "", true},
		{``, "", "", true},
		{`{"message":"x"}`, "", "", true},
		{`{"result":5}`, "", "", true},
		{`[1,2]`, "", "", true},
		{`{"result":"SUCCESS",`, "", "", true},
	}
	for _, tc := range tests {
		env, err := konnektive.DecodeEnvelope([]byte(tc.body))
		if (err != nil) != tc.err {
			t.Errorf("%q: err = %v", tc.body, err)
			continue
		}
		if err != nil {
			if !errors.Is(err, konnektive.ErrNotEnvelope) {
				t.Errorf("%q: err %v is not ErrNotEnvelope", tc.body, err)
			}
			continue
		}
		if env.Result != tc.result || env.Text() != tc.text {
			t.Errorf("%q: got %q %q", tc.body, env.Result, env.Text())
		}
	}
	if !konnektive.IsNoResults("No purchases matching those parameters could be found") || konnektive.IsNoResults("Invalid orderId: order X could not be found") {
		t.Error("IsNoResults")
	}
}

func TestDecodeShapes(t *testing.T) {
	t.Parallel()
	// items as an array, fulfilments keyed by id, notes as a string, ints as numbers.
	msg := `{"totalResults":2,"resultsPerPage":"200","page":1,"data":{"2":{"orderId":"B","items":[{"orderItemId":1,"qty":2,"price":5}],
	 "fulfillments":{"9":{"fulfillmentId":"9","status":"SHIPPED"}}},"1":{"orderId":"A","items":"","fulfillments":null}}}`
	p, err := konnektive.DecodePage[konnektive.Order](json.RawMessage(msg))
	if err != nil {
		t.Fatal(err)
	}
	if p.TotalResults != 2 || p.ResultsPerPage != 200 || len(p.Data) != 2 || p.Data[0].OrderID != "A" {
		t.Fatalf("page %+v", p)
	}
	b := p.Data[1]
	if len(b.Items) != 1 || b.Items[0].Qty != 2 || b.Items[0].Price != 500 || b.Items[0].OrderItemID != "1" {
		t.Fatalf("items %+v", b.Items)
	}
	if len(b.Fulfillments) != 1 || b.Fulfillments[0].Status != "SHIPPED" || len(b.Raw) == 0 {
		t.Fatalf("fulfillments %+v", b.Fulfillments)
	}
	for in, want := range map[string][]string{
		`"call back"`: {"call back"},
		`["a","b"]`:   {"a", "b"},
		`[{"note":"x","date":"2024-01-01"},{"text":"y"}]`:    {"x", "y"},
		`{"2":{"message":"second"},"1":{"message":"first"}}`: {"first", "second"},
		`""`: nil, `null`: nil, `7`: {"7"},
	} {
		var c konnektive.Customer
		if err := json.Unmarshal([]byte(`{"customerId":1,"notes":`+in+`}`), &c); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		var got []string
		for _, n := range c.Notes {
			got = append(got, string(n.Message))
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("notes %s = %v, want %v", in, got, want)
		}
	}
}

// emulatorBodies returns real emulator responses: pages of every query,
// action results (object and string messages), ERROR envelopes, the
// auth failure and an injected fault.
func emulatorBodies(tb testing.TB) [][]byte {
	tb.Helper()
	e := emu.New(emu.Config{Now: clock, Seed: 3, Customers: 8})
	srv := httptest.NewServer(e)
	defer srv.Close()
	var out [][]byte
	call := func(path string, kv ...string) {
		v := url.Values{"loginId": {"demo"}, "password": {"konnektive-pass"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		resp, err := srv.Client().PostForm(srv.URL+path, v)
		if err != nil {
			tb.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		out = append(out, b)
	}
	wide := []string{"startDate", "01/01/2000", "endDate", "12/31/2030", "resultsPerPage", "2"}
	call("/order/query/", wide...)
	call("/customer/query/", wide...)
	call("/purchase/query/", wide...)
	call("/transactions/query/", wide...)
	call("/order/query/", "orderId", "NOPE")
	call("/order/query/", "resultsPerPage", "500")
	call("/customer/addnote/", "customerId", "1001", "message", "hello")
	call("/order/refund/", "orderId", "NOPE", "fullRefund", "1")
	call("/purchase/update/", "purchaseId", "3001", "billingIntervalDays", "45")
	call("/order/query/", "loginId", "ghost")
	e.Kit().SetFaults(emukit.Faults{Outage: true})
	call("/order/query/")
	return out
}

func FuzzDecodeEnvelope(f *testing.F) {
	for _, b := range emulatorBodies(f) {
		f.Add(b)
	}
	for _, s := range []string{
		`{"result":"SUCCESS","message":{"totalResults":"1","resultsPerPage":200,"page":"1","data":[{"orderId":"7711A350CC","items":{"9001":{"qty":"1"}}}]}}`,
		`{"result":"ERROR","message":["a",{"message":"b"},[["c"]]]}`,
		`{"result":"SUCCESS","message":{"data":{"1":{"notes":[{"note":1}]}}}}`,
		`<html>`, `{"result":null}`, "\ufeff{}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		env, err := konnektive.DecodeEnvelope(body)
		if err != nil {
			if !errors.Is(err, konnektive.ErrNotEnvelope) {
				t.Fatalf("error %v is not ErrNotEnvelope", err)
			}
			return
		}
		if env.Result == "" || env.Result != strings.ToUpper(env.Result) {
			t.Fatalf("result %q", env.Result)
		}
		_ = env.Text()
		_ = konnektive.IsNoResults(env.Text())
		_ = konnektive.IsAuthMessage(env.Text())
		_, _ = konnektive.DecodePage[konnektive.Order](env.Message)
		_, _ = konnektive.DecodePage[konnektive.Customer](env.Message)
		_, _ = konnektive.DecodePage[konnektive.Purchase](env.Message)
		_, _ = konnektive.DecodePage[konnektive.Transaction](env.Message)
	})
}

func TestEmulatorBodiesDecode(t *testing.T) {
	t.Parallel()
	bodies := emulatorBodies(t)
	for i, b := range bodies[:4] {
		env, err := konnektive.DecodeEnvelope(b)
		if err != nil || !env.OK() {
			t.Fatalf("body %d: %v %s", i, err, b)
		}
	}
	p, err := konnektive.DecodePage[konnektive.Order](mustEnv(t, bodies[0]).Message)
	if err != nil || p.TotalResults == 0 || p.ResultsPerPage != 2 || p.Page != 1 || len(p.Data) != 2 {
		t.Fatalf("order page %+v %v", p, err)
	}
	if env := mustEnv(t, bodies[4]); env.OK() || !konnektive.IsNoResults(env.Text()) {
		t.Fatalf("empty query: %s", bodies[4])
	}
	if env := mustEnv(t, bodies[9]); env.OK() || !konnektive.IsAuthMessage(env.Text()) {
		t.Fatalf("auth failure: %s", bodies[9])
	}
	if env := mustEnv(t, bodies[10]); env.OK() || !strings.Contains(env.Text(), "outage") {
		t.Fatalf("fault: %s", bodies[10])
	}
}

func mustEnv(t *testing.T, b []byte) konnektive.Envelope {
	t.Helper()
	env, err := konnektive.DecodeEnvelope(b)
	if err != nil {
		t.Fatal(err)
	}
	return env
}
