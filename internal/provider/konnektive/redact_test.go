package konnektive_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"switchyard/internal/domain"
	"switchyard/internal/emulator/emukit"
	"switchyard/internal/outbound"
	"switchyard/internal/provider/konnektive"
)

// secret has characters that change under URL encoding.
const secret = "p@ss w/rd&x=1;Zq"

func errorTexts(err error) []string {
	var out []string
	var walk func(e error)
	walk = func(e error) {
		if e == nil {
			return
		}
		out = append(out, e.Error(), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e))
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x)
			}
		}
	}
	walk(err)
	return out
}

func assertClean(t *testing.T, where string, texts ...string) {
	t.Helper()
	for _, s := range texts {
		for _, bad := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret), "p@ss", "password=p", "password%3Dp"} {
			if strings.Contains(s, bad) {
				t.Fatalf("%s leaks the password (%q) in %q", where, bad, s)
			}
		}
	}
}

func TestCredentialRedaction(t *testing.T) {
	t.Parallel()
	for _, enc := range []konnektive.Encoding{konnektive.EncodingForm, konnektive.EncodingMultipart, konnektive.EncodingQuery} {
		t.Run(string(enc), func(t *testing.T) {
			t.Parallel()
			b := setup(t, opts{client: konnektive.Config{Encoding: enc}, password: secret})
			b.emu.AddAccount("demo", secret)
			var errs []error

			// Success, then an ERROR envelope.
			if _, err := b.client.QueryOrders(ctx(t), konnektive.OrderQuery{Email: "nobody@example.invalid"}); err != nil {
				t.Fatal(err)
			}
			_, err := b.client.RefundOrder(ctx(t), konnektive.RefundOrderParams{OrderID: "NOPE", Full: true})
			if domain.ErrorCode(err) != domain.EINVALID {
				t.Fatalf("refund of unknown order: %v", err)
			}
			errs = append(errs, err)

			// Wrong password: an auth failure, never retried.
			b.emu.AddAccount("demo", "something-else")
			_, err = b.client.QueryCustomers(ctx(t), konnektive.CustomerQuery{Email: "a@b.c"})
			if domain.ErrorCode(err) != domain.EUNAUTHORIZED || outbound.ClassOf(err) != domain.ClassAuth {
				t.Fatalf("wrong password: code %s class %s (%v)", domain.ErrorCode(err), outbound.ClassOf(err), err)
			}
			errs = append(errs, err)
			b.emu.AddAccount("demo", secret)

			// Injected 500 in the Konnektive envelope.
			b.emu.Kit().SetFaults(emukit.Faults{ErrorRate: 1})
			_, err = b.client.CancelOrder(ctx(t), konnektive.CancelOrderParams{OrderID: "X", Reason: "r"})
			if outbound.ClassOf(err) != domain.ClassTransient || outbound.StatusOf(err) != 500 {
				t.Fatalf("fault: %v", err)
			}
			errs = append(errs, err)
			b.emu.Kit().SetFaults(emukit.Faults{})

			// Transport failure: the URL (with the password in query mode) is in the error.
			b.srv.Close()
			_, err = b.client.QueryOrders(ctx(t), konnektive.OrderQuery{Email: "a@b.c"})
			if outbound.ClassOf(err) != domain.ClassTransient {
				t.Fatalf("closed server: %v", err)
			}
			var ue *url.Error
			if !errors.As(err, &ue) {
				t.Fatalf("transport error lost its *url.Error: %T", err)
			}
			errs = append(errs, err)

			for _, e := range errs {
				assertClean(t, "error", errorTexts(e)...)
			}
			ds := b.rec.all()
			if len(ds) != 5 {
				t.Fatalf("%d deliveries, want 5", len(ds))
			}
			for _, d := range ds {
				assertClean(t, "delivery", d.Endpoint, d.Error, fmt.Sprintf("%+v", d))
				if strings.ContainsAny(d.Endpoint, "?=&") {
					t.Fatalf("endpoint label %q", d.Endpoint)
				}
			}
			if !strings.Contains(ds[4].Error, "[REDACTED]") && enc == konnektive.EncodingQuery {
				t.Fatalf("query-mode transport error was not redacted: %q", ds[4].Error)
			}
			assertClean(t, "logs", b.logs.String())
			if b.logs.Len() == 0 {
				t.Fatal("expected outbound failure logs")
			}
		})
	}
}

// TestRedactsEchoedSecrets: a CRM or proxy that echoes the request back
// (HTML error page, ERROR message) never leaks the password either.
func TestRedactsEchoedSecrets(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		switch r.URL.Path {
		case "/order/query/":
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprintf(w, "<html>bad gateway for %s?%s</html>", r.URL.Path, r.Form.Encode())
		case "/order/refund/":
			fmt.Fprintf(w, `{"result":"ERROR","message":"Invalid password %s for loginId %s"}`, r.Form.Get("password"), r.Form.Get("loginId"))
		default:
			fmt.Fprintf(w, "<html>%s</html>", r.Form.Get("password"))
		}
	}))
	t.Cleanup(srv.Close)
	rec := &recorder{}
	for _, enc := range []konnektive.Encoding{konnektive.EncodingForm, konnektive.EncodingQuery} {
		c, err := konnektive.New(konnektive.Config{BaseURL: srv.URL, LoginID: "demo", Password: secret, Recorder: rec, Encoding: enc})
		if err != nil {
			t.Fatal(err)
		}
		_, err1 := c.QueryOrders(ctx(t), konnektive.OrderQuery{OrderID: "A"})
		_, err2 := c.RefundOrder(ctx(t), konnektive.RefundOrderParams{OrderID: "A", Full: true})
		_, err3 := c.AddCustomerNote(ctx(t), "1", "x") // 200 with a non-JSON body
		if outbound.ClassOf(err1) != domain.ClassTransient || outbound.StatusOf(err1) != http.StatusBadGateway {
			t.Fatalf("502: %v", err1)
		}
		if domain.ErrorCode(err2) != domain.EUNAUTHORIZED || !strings.Contains(domain.ErrorMessage(err2), "[REDACTED]") {
			t.Fatalf("echoed ERROR: %v", err2)
		}
		if outbound.ClassOf(err3) != domain.ClassTransient || !errors.Is(err3, konnektive.ErrNotEnvelope) {
			t.Fatalf("non-JSON 200: %v", err3)
		}
		for _, e := range []error{err1, err2, err3} {
			assertClean(t, "error", errorTexts(e)...)
		}
	}
	for _, d := range rec.all() {
		assertClean(t, "delivery", d.Endpoint, d.Error)
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	for _, cfg := range []konnektive.Config{
		{LoginID: "demo"},
		{Password: "x"},
		{LoginID: strings.Repeat("l", 33), Password: "x"},
		{LoginID: "demo", Password: "x", BaseURL: "not a url"},
		{LoginID: "demo", Password: "x", Encoding: "xml"},
		{LoginID: "demo", Password: "x", PauseMode: "sleep"},
	} {
		if _, err := konnektive.New(cfg); domain.ErrorCode(err) != domain.EINVALID {
			t.Errorf("New(%+v) = %v, want EINVALID", cfg, err)
		}
	}
	c, err := konnektive.New(konnektive.Config{LoginID: "demo", Password: "x"})
	if err != nil || c == nil {
		t.Fatalf("defaults: %v", err)
	}
}
