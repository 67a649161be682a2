package konnektive_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"switchyard/internal/domain"
	emu "switchyard/internal/emulator/konnektive"
	"switchyard/internal/outbound"
	"switchyard/internal/provider/konnektive"
)

var testNow = time.Date(2025, 6, 1, 16, 0, 0, 0, time.UTC)

func clock() time.Time { return testNow }

type recorder struct {
	mu sync.Mutex
	ds []domain.Delivery
}

func (r *recorder) Record(d *domain.Delivery) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ds = append(r.ds, *d)
}

func (r *recorder) all() []domain.Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]domain.Delivery(nil), r.ds...)
}

type testBundle struct {
	emu    *emu.Emulator
	srv    *httptest.Server
	client *konnektive.Client
	rec    *recorder
	logs   *bytes.Buffer
}

type opts struct {
	emu      emu.Config
	client   konnektive.Config
	password string
}

func setup(t *testing.T, o opts) *testBundle {
	t.Helper()
	o.emu.Now = clock
	if o.emu.Seed == 0 {
		o.emu.Seed = 42
	}
	e := emu.New(o.emu)
	srv := httptest.NewServer(e)
	t.Cleanup(func() { srv.Close(); e.Close() })
	b := &testBundle{emu: e, srv: srv, rec: &recorder{}, logs: &bytes.Buffer{}}
	cfg := o.client
	cfg.BaseURL = srv.URL
	cfg.LoginID = emu.DefaultLoginID
	cfg.Password = emu.DefaultPassword
	if o.password != "" {
		cfg.Password = o.password
	}
	cfg.Recorder = b.rec
	cfg.Now = clock
	cfg.Limiter = outbound.NewLocalLimiter(clock)
	cfg.Logger = slog.New(slog.NewTextHandler(&lockedWriter{w: b.logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := konnektive.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b.client = c
	return b
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func (b *testBundle) allOrders(t *testing.T) []konnektive.Order {
	t.Helper()
	os, err := b.client.QueryOrders(ctx(t), konnektive.OrderQuery{})
	if err != nil {
		t.Fatal(err)
	}
	return os
}

func (b *testBundle) order(t *testing.T, id string) konnektive.Order {
	t.Helper()
	os, err := b.client.QueryOrders(ctx(t), konnektive.OrderQuery{OrderID: id})
	if err != nil || len(os) != 1 {
		t.Fatalf("order %s: %d rows, %v", id, len(os), err)
	}
	return os[0]
}

func (b *testBundle) purchase(t *testing.T, id string) konnektive.Purchase {
	t.Helper()
	ps, err := b.client.QueryPurchases(ctx(t), konnektive.PurchaseQuery{PurchaseID: id})
	if err != nil || len(ps) != 1 {
		t.Fatalf("purchase %s: %d rows, %v", id, len(ps), err)
	}
	return ps[0]
}

func (b *testBundle) customer(t *testing.T, id string) konnektive.Customer {
	t.Helper()
	cs, err := b.client.QueryCustomers(ctx(t), konnektive.CustomerQuery{CustomerID: id})
	if err != nil || len(cs) != 1 {
		t.Fatalf("customer %s: %d rows, %v", id, len(cs), err)
	}
	return cs[0]
}

// refundable returns a completed order with at least min left to refund.
func (b *testBundle) refundable(t *testing.T, min konnektive.Money) konnektive.Order {
	t.Helper()
	for _, o := range b.allOrders(t) {
		if o.OrderStatus == "COMPLETE" && o.RefundRemaining >= min && o.AmountRefunded == 0 {
			return o
		}
	}
	t.Fatal("no refundable order in fixtures")
	return konnektive.Order{}
}

func (b *testBundle) activePurchase(t *testing.T) konnektive.Purchase {
	t.Helper()
	ps, err := b.client.QueryPurchases(ctx(t), konnektive.PurchaseQuery{Status: "ACTIVE"})
	if err != nil || len(ps) == 0 {
		t.Fatalf("no active purchase: %v", err)
	}
	for _, p := range ps {
		if p.TotalBilled > 0 && len(p.Transactions) > 0 {
			return p
		}
	}
	return ps[0]
}

func isCRMError(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want CRM error containing %q, got nil", want)
	}
	if domain.ErrorCode(err) != domain.EINVALID {
		t.Fatalf("code = %s (%v)", domain.ErrorCode(err), err)
	}
	if outbound.ClassOf(err) != domain.ClassTerminal {
		t.Fatalf("class = %s", outbound.ClassOf(err))
	}
	if msg := domain.ErrorMessage(err); !strings.Contains(msg, want) {
		t.Fatalf("message %q does not contain %q", msg, want)
	}
	var ae *konnektive.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("no *APIError in %v", err)
	}
}

func TestQueries(t *testing.T) {
	t.Parallel()
	b := setup(t, opts{emu: emu.Config{Emails: []string{"vip@example.com"}}})
	all := b.allOrders(t)
	if len(all) < 50 {
		t.Fatalf("only %d orders", len(all))
	}
	vip, err := b.client.QueryCustomers(ctx(t), konnektive.CustomerQuery{Email: "VIP@example.com"})
	if err != nil || len(vip) != 1 {
		t.Fatalf("customer by email: %d, %v", len(vip), err)
	}
	custID := string(vip[0].CustomerID)
	var vipOrders int
	for _, o := range all {
		if string(o.CustomerID) == custID {
			vipOrders++
		}
	}
	sample := all[len(all)/2]

	tests := []struct {
		name string
		run  func() (int, error)
		want int
	}{
		{"orders by email", func() (int, error) {
			os, err := b.client.QueryOrders(ctx(t), konnektive.OrderQuery{Email: "vip@example.com"})
			for _, o := range os {
				if o.EmailAddress != "vip@example.com" || len(o.Items) == 0 || o.TotalAmount <= 0 || o.DateCreated.IsZero() {
					t.Errorf("bad order row %+v", o)
				}
			}
			return len(os), err
		}, vipOrders},
		{"orders by customer", func() (int, error) {
			os, err := b.client.QueryOrders(ctx(t), konnektive.OrderQuery{CustomerID: custID})
			return len(os), err
		}, vipOrders},
		{"order by id", func() (int, error) {
			os, err := b.client.QueryOrders(ctx(t), konnektive.OrderQuery{OrderID: string(sample.OrderID)})
			if len(os) == 1 && (os[0].OrderID != sample.OrderID || os[0].TotalAmount != sample.TotalAmount) {
				t.Errorf("order by id differs: %+v", os[0])
			}
			return len(os), err
		}, 1},
		{"orders none", func() (int, error) {
			os, err := b.client.QueryOrders(ctx(t), konnektive.OrderQuery{Email: "nobody@example.invalid"})
			return len(os), err
		}, 0},
		{"orders by unknown id", func() (int, error) {
			os, err := b.client.QueryOrders(ctx(t), konnektive.OrderQuery{OrderID: "FFFFFFFFFF"})
			return len(os), err
		}, 0},
		{"customer by id", func() (int, error) {
			cs, err := b.client.QueryCustomers(ctx(t), konnektive.CustomerQuery{CustomerID: custID})
			if len(cs) == 1 && (cs[0].EmailAddress != "vip@example.com" || cs[0].Billing().Address1 == "" || cs[0].Shipping().City == "") {
				t.Errorf("customer row %+v", cs[0])
			}
			return len(cs), err
		}, 1},
		{"customers none", func() (int, error) {
			cs, err := b.client.QueryCustomers(ctx(t), konnektive.CustomerQuery{Email: "nobody@example.invalid"})
			return len(cs), err
		}, 0},
		{"customers in a date range", func() (int, error) {
			cs, err := b.client.QueryCustomers(ctx(t), konnektive.CustomerQuery{Range: konnektive.DateRange{Start: testNow.AddDate(-2, 0, 0), End: testNow}})
			return len(cs), err
		}, emu.DefaultCustomers},
		{"purchases none", func() (int, error) {
			ps, err := b.client.QueryPurchases(ctx(t), konnektive.PurchaseQuery{Email: "nobody@example.invalid"})
			return len(ps), err
		}, 0},
		{"transactions of an order", func() (int, error) {
			ts, err := b.client.QueryTransactions(ctx(t), konnektive.TransactionQuery{OrderID: string(sample.OrderID)})
			for _, x := range ts {
				if x.OrderID != sample.OrderID || x.TransactionID == "" || x.TotalAmount <= 0 {
					t.Errorf("bad transaction %+v", x)
				}
			}
			return len(ts), err
		}, len(mustTxns(t, b, sample.OrderID))},
		{"transactions none", func() (int, error) {
			ts, err := b.client.QueryTransactions(ctx(t), konnektive.TransactionQuery{CustomerID: "1"})
			return len(ts), err
		}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := tc.run()
			if err != nil {
				t.Fatal(err)
			}
			if n != tc.want {
				t.Fatalf("rows = %d, want %d", n, tc.want)
			}
		})
	}

	// Purchases: every one of the customer's is found by customer, email and id.
	ps, err := b.client.QueryPurchases(ctx(t), konnektive.PurchaseQuery{})
	if err != nil || len(ps) == 0 {
		t.Fatalf("all purchases: %d %v", len(ps), err)
	}
	p := ps[0]
	byCust, err := b.client.QueryPurchases(ctx(t), konnektive.PurchaseQuery{CustomerID: string(p.CustomerID)})
	if err != nil || !containsPurchase(byCust, p.PurchaseID) {
		t.Fatalf("purchase by customer: %v", err)
	}
	byOrder, err := b.client.QueryPurchases(ctx(t), konnektive.PurchaseQuery{OrderID: string(p.OrderID)})
	if err != nil || !containsPurchase(byOrder, p.PurchaseID) {
		t.Fatalf("purchase by order: %v", err)
	}
	if p.BillingIntervalDays == 0 || p.BillingCycleNumber == 0 || p.ProductName == "" || len(p.Transactions) == 0 {
		t.Fatalf("purchase fields missing: %+v", p)
	}
}

func mustTxns(t *testing.T, b *testBundle, orderID konnektive.String) []konnektive.Transaction {
	t.Helper()
	ts, err := b.client.QueryTransactions(ctx(t), konnektive.TransactionQuery{OrderID: string(orderID)})
	if err != nil || len(ts) == 0 {
		t.Fatalf("transactions of %s: %d %v", orderID, len(ts), err)
	}
	return ts
}

func containsPurchase(ps []konnektive.Purchase, id konnektive.String) bool {
	for _, p := range ps {
		if p.PurchaseID == id {
			return true
		}
	}
	return false
}

func TestQueryPagesToTheEnd(t *testing.T) {
	t.Parallel()
	b := setup(t, opts{emu: emu.Config{Customers: 100}})
	os := b.allOrders(t)
	if len(os) <= 200 {
		t.Fatalf("fixture too small for paging: %d orders", len(os))
	}
	seen := map[konnektive.String]bool{}
	for _, o := range os {
		if seen[o.OrderID] {
			t.Fatalf("duplicate order %s", o.OrderID)
		}
		seen[o.OrderID] = true
	}
	var pages int
	for _, c := range b.emu.Calls() {
		if c.Path == "/order/query/" {
			pages++
			if c.Params["resultsPerPage"] != "200" {
				t.Fatalf("resultsPerPage = %s", c.Params["resultsPerPage"])
			}
		}
	}
	if want := (len(os) + 199) / 200; pages != want {
		t.Fatalf("pages = %d, want %d for %d rows", pages, want, len(os))
	}
	// The emulator's own count agrees.
	resp, err := b.srv.Client().Get(b.srv.URL + "/_emulator/state")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		State struct {
			Counts map[string]int `json:"counts"`
		} `json:"state"`
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || st.State.Counts["orders"] != len(os) {
		t.Fatalf("emulator holds %d orders, client read %d (%v)", st.State.Counts["orders"], len(os), err)
	}
	ts, err := b.client.QueryTransactions(ctx(t), konnektive.TransactionQuery{})
	if err != nil || len(ts) <= 200 {
		t.Fatalf("transactions: %d %v", len(ts), err)
	}
}

func TestEncodings(t *testing.T) {
	t.Parallel()
	for _, enc := range []konnektive.Encoding{konnektive.EncodingForm, konnektive.EncodingMultipart, konnektive.EncodingQuery} {
		t.Run(string(enc), func(t *testing.T) {
			t.Parallel()
			b := setup(t, opts{client: konnektive.Config{Encoding: enc}})
			o := b.refundable(t, 200)
			if _, err := b.client.AddCustomerNote(ctx(t), string(o.CustomerID), "Called about "+string(o.OrderID)); err != nil {
				t.Fatal(err)
			}
			cu := b.customer(t, string(o.CustomerID))
			if last := cu.Notes[len(cu.Notes)-1]; last.Message != konnektive.String("Called about "+string(o.OrderID)) {
				t.Fatalf("note = %q", last.Message)
			}
			calls := b.emu.Calls()
			wantRead, wantWrite := "POST", "POST"
			if enc == konnektive.EncodingQuery {
				wantRead = "GET"
			}
			for _, c := range calls {
				want := wantRead
				if c.Path == "/customer/addnote/" {
					want = wantWrite
				}
				if c.Method != want || c.Result != "SUCCESS" {
					t.Fatalf("%s %s: %s", c.Method, c.Path, c.Result)
				}
			}
			for _, d := range b.rec.all() {
				if !strings.HasPrefix(d.Endpoint, wantRead+" /") && !strings.HasPrefix(d.Endpoint, wantWrite+" /") || strings.Contains(d.Endpoint, "?") {
					t.Fatalf("endpoint label %q", d.Endpoint)
				}
			}
		})
	}
}

// An ERROR envelope arrives with HTTP 200; its delivery is still recorded
// as the terminal failure it is, and a SUCCESS as ok.
func TestErrorEnvelopeDeliveryClass(t *testing.T) {
	t.Parallel()
	b := setup(t, opts{})
	ctx := context.Background()
	_, err := b.client.AddCustomerNote(ctx, "999999999", "hello")
	if domain.ErrorCode(err) != domain.EINVALID {
		t.Fatalf("note on an unknown customer: %v", err)
	}
	if _, err := b.client.QueryCustomers(ctx, konnektive.CustomerQuery{CustomerID: "999999999"}); err != nil {
		t.Fatalf("empty query: %v", err)
	}
	ds := b.rec.all()
	if len(ds) != 2 {
		t.Fatalf("deliveries = %d, want 2", len(ds))
	}
	if ds[0].Class != domain.ClassTerminal || ds[0].Status != 200 || ds[0].Error == "" {
		t.Errorf("ERROR envelope delivery = %+v, want terminal with the CRM message", ds[0])
	}
	if strings.Contains(ds[0].Error, emu.DefaultPassword) {
		t.Error("password in a delivery error")
	}
	// "No … could be found" on a query is an empty result, not a failure.
	if ds[1].Class != domain.ClassOK {
		t.Errorf("empty query delivery class = %s, want ok", ds[1].Class)
	}
}
