package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"switchyard/internal/app"
	"switchyard/internal/connector/whiplashgorgias"
	"switchyard/internal/domain"
	"switchyard/internal/jobs"
	"switchyard/internal/provider/whiplash"
	"switchyard/internal/testutil/apitest"
	"switchyard/internal/testutil/pgtest"
)

const adminToken = "test-admin-token"

type bundle struct {
	ctx     context.Context
	app     *app.App
	url     string
	merch   string
	inst    string
	mu      sync.Mutex
	handled map[int64]int
}

func startApp(t *testing.T, db string) *bundle {
	t.Helper()
	b := &bundle{ctx: context.Background(), handled: map[int64]int{}}
	handler := jobs.EventHandlerFunc(func(ctx context.Context, in *domain.Installation, ev *domain.InboundEvent) error {
		b.mu.Lock()
		b.handled[ev.ID]++
		b.mu.Unlock()
		return nil
	})
	a, err := app.New(b.ctx, app.Config{Addr: "127.0.0.1:0", DB: db, SecretKey: bytes.Repeat([]byte{3}, 32), AdminToken: adminToken,
		Handlers: map[string]jobs.EventHandler{whiplashgorgias.Name: handler}, AllowVendorHosts: []string{"127.0.0.1:1"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(b.ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		a.Close()
	})
	b.app, b.url = a, a.URL()

	var m domain.Merchant
	b.api(t, "POST", "/api/v1/merchants", `{"name":"Acme"}`, 201, &m)
	var wl, gg struct{ ID string }
	b.api(t, "POST", "/api/v1/merchants/"+m.ID+"/connections", `{"vendor":"whiplash","account":"1","secrets":{"client_secret":"whiplash-app-secret"}}`, 201, &wl)
	b.api(t, "POST", "/api/v1/merchants/"+m.ID+"/connections", `{"vendor":"gorgias","account":"acme","config":{"base_url":"http://127.0.0.1:1"},"secrets":{"api_key":"gorgias-key"}}`, 201, &gg)
	var in domain.Installation
	b.api(t, "POST", "/api/v1/merchants/"+m.ID+"/installations", fmt.Sprintf(`{"connector":"whiplash-gorgias","connections":{"whiplash":%q,"gorgias":%q}}`, wl.ID, gg.ID), 201, &in)
	activate(t, a, m.ID, in.ID)
	b.merch, b.inst = m.ID, in.ID
	return b
}

// activate marks an installation active past the admin API, as if it had
// been installed, for tests whose vendors cannot (or must not) be reached
// by an install. Call it before the installation's first webhook (ingest
// caches installations).
func activate(t *testing.T, a *app.App, merchantID, id string) {
	t.Helper()
	ctx := context.Background()
	in, err := a.Store().GetInstallation(ctx, merchantID, id)
	if err != nil {
		t.Fatal(err)
	}
	in.State = domain.InstallationActive
	if err := a.Store().UpdateInstallation(ctx, in); err != nil {
		t.Fatal(err)
	}
}

func (b *bundle) api(t *testing.T, method, path, body string, want int, out any) {
	t.Helper()
	apitest.Do(t, b.url, adminToken, method, path, body, want, out)
}

func (b *bundle) hook(t *testing.T, inst string, body []byte, sig string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", b.url+"/hooks/whiplash/"+inst, bytes.NewReader(body))
	if sig != "" {
		req.Header.Set(whiplash.SignatureHeader, sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func (b *bundle) eventCount(t *testing.T) int {
	t.Helper()
	evs, err := b.app.Store().ListEvents(b.ctx, domain.EventFilter{MerchantID: b.merch, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(evs)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

func golden(t *testing.T) []byte {
	t.Helper()
	body, err := os.ReadFile("../testdata/golden/whiplash/order_shipped.json")
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func exerciseIngest(t *testing.T, db string) {
	b := startApp(t, db)
	body := golden(t)
	sig := whiplash.Sign("whiplash-app-secret", body)

	if code, _ := get(t, b.url+"/healthz"); code != 200 {
		t.Fatalf("/healthz = %d", code)
	}
	if code, out := get(t, b.url+"/readyz"); code != 200 {
		t.Fatalf("/readyz = %d %s", code, out)
	}

	// Accepted, stored, processed once.
	code, out := b.hook(t, b.inst, body, sig)
	if code != 202 || out["status"] != "accepted" {
		t.Fatalf("signed webhook = %d %v", code, out)
	}
	id := int64(out["event_id"].(float64))
	ev, err := b.app.Store().GetEvent(b.ctx, b.merch, id)
	if err != nil || ev.EventType != "order.shipped" || ev.CustomerEmail != "abram.jast@example.com" || !bytes.Equal(ev.Payload, body) {
		t.Fatalf("stored event = %+v, %v", ev, err)
	}
	// Duplicate: acknowledged, not stored or processed again.
	code, out = b.hook(t, b.inst, body, sig)
	if code != 200 || out["status"] != "duplicate" || int64(out["event_id"].(float64)) != id {
		t.Fatalf("duplicate = %d %v", code, out)
	}
	waitFor(t, "event processed", func() bool {
		ev, _ := b.app.Store().GetEvent(b.ctx, b.merch, id)
		return ev.ProcessedAt != nil
	})

	// Error cases: nothing stored.
	before := b.eventCount(t)
	for name, tc := range map[string]struct {
		inst string
		body []byte
		sig  string
		want int
	}{
		"wrong signature":      {b.inst, body, whiplash.Sign("other-secret", body), 401},
		"missing signature":    {b.inst, body, "", 401},
		"tampered body":        {b.inst, append(append([]byte{}, body...), ' '), sig, 401},
		"unknown installation": {"ins_doesnotexist", body, sig, 404},
		"malformed JSON":       {b.inst, []byte(`{"event_name":`), whiplash.Sign("whiplash-app-secret", []byte(`{"event_name":`)), 400},
		"no order id":          {b.inst, []byte(`{"event_name":"order.created","order":{}}`), whiplash.Sign("whiplash-app-secret", []byte(`{"event_name":"order.created","order":{}}`)), 400},
		"body over 1 MiB":      {b.inst, bytes.Repeat([]byte("x"), 1<<20+1), "00", 413},
	} {
		if code, out := b.hook(t, tc.inst, tc.body, tc.sig); code != tc.want {
			t.Errorf("%s: status %d %v, want %d", name, code, out, tc.want)
		}
	}
	if after := b.eventCount(t); after != before {
		t.Fatalf("rejected requests stored %d events", after-before)
	}
	// Unknown vendor route.
	req, _ := http.NewRequest("POST", b.url+"/hooks/nope/"+b.inst, strings.NewReader("{}"))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 404 {
		t.Fatalf("unknown vendor: %v %v", resp.StatusCode, err)
	}

	b.mu.Lock()
	handled := b.handled[id]
	b.mu.Unlock()
	if handled != 1 {
		t.Fatalf("event handled %d times, want 1", handled)
	}

	// Metrics and the admin API see it.
	var metrics string
	waitFor(t, "job completed in /metrics", func() bool {
		_, metrics = get(t, b.url+"/metrics")
		return strings.Contains(metrics, `switchyard_jobs{kind="process_event",state="completed"} 1`)
	})
	for _, want := range []string{`switchyard_ingest_requests_total{result="accepted",vendor="whiplash"} 1`, `switchyard_ingest_requests_total{result="duplicate",vendor="whiplash"} 1`, `switchyard_ingest_requests_total{result="unauthorized",vendor="whiplash"} 3`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	var evs struct{ Events []domain.InboundEvent }
	b.api(t, "GET", "/api/v1/merchants/"+b.merch+"/events?email=Abram.Jast@example.com", "", 200, &evs)
	if len(evs.Events) != 1 || evs.Events[0].ID != id {
		t.Fatalf("admin events = %+v", evs)
	}
	// Secrets are never returned.
	_, conns := get(t, b.url+"/api/v1/merchants/"+b.merch+"/connections")
	if strings.Contains(conns, "whiplash-app-secret") {
		t.Fatal("secret leaked")
	}
	req, _ = http.NewRequest("GET", b.url+"/api/v1/merchants/"+b.merch+"/connections", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, _ := http.DefaultClient.Do(req)
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(raw), "whiplash-app-secret") || !strings.Contains(string(raw), `"client_secret"`) {
		t.Fatalf("connections view = %s", raw)
	}
	// Admin API refuses without the token.
	if code, _ := get(t, b.url+"/api/v1/merchants"); code != 401 {
		t.Fatalf("admin without token = %d", code)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestIngestSQLite(t *testing.T) {
	t.Parallel()
	exerciseIngest(t, "sqlite://"+filepath.Join(t.TempDir(), "hub.db"))
}

func TestIngestPostgres(t *testing.T) {
	t.Parallel()
	exerciseIngest(t, pgtest.NewDatabase(t))
}

func TestServeRefusesWithoutKey(t *testing.T) {
	t.Parallel()
	_, err := app.New(context.Background(), app.Config{DB: "sqlite://" + filepath.Join(t.TempDir(), "x.db")}, nil)
	if err == nil || !strings.Contains(err.Error(), "keygen") {
		t.Fatalf("New without key: %v", err)
	}
}
