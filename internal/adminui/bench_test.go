package adminui_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"switchyard/internal/app"
	"switchyard/internal/domain"
	"switchyard/internal/store/sqlstore"
)

// BenchmarkPages100k measures the UI's pages over a database holding 100k
// inbound events and 100k deliveries, all inside the overview's hour (its
// worst case), 1,000 events for the customer whose timeline is read, and
// 1,000 dead letters:
//
//	go test -run '^$' -bench BenchmarkPages100k -benchtime 20x ./internal/adminui/
func BenchmarkPages100k(b *testing.B) {
	ctx := context.Background()
	a, err := app.New(ctx, app.Config{Addr: "127.0.0.1:0", DB: "sqlite://" + filepath.Join(b.TempDir(), "hub.db"), SecretKey: bytes.Repeat([]byte{9}, 32), AdminToken: adminToken}, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := a.Listen(); err != nil {
		b.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(rctx) }()
	defer func() { cancel(); <-done; a.Close() }()
	st := a.Store()
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	must(st.CreateMerchant(ctx, &domain.Merchant{ID: "acme", Name: "Acme"}))
	wl := &domain.Connection{MerchantID: "acme", Vendor: domain.VendorWhiplash, Account: "1", Secrets: domain.Secrets{"client_secret": "s"}}
	must(st.CreateConnection(ctx, wl))
	gg := &domain.Connection{MerchantID: "acme", Vendor: domain.VendorGorgias, Account: "acme", Secrets: domain.Secrets{"api_key": "k"}}
	must(st.CreateConnection(ctx, gg))
	in := &domain.Installation{ID: "acme-c1", MerchantID: "acme", Connector: "whiplash-gorgias", State: domain.InstallationActive, Connections: map[string]string{"whiplash": wl.ID, "gorgias": gg.ID}}
	must(st.CreateInstallation(ctx, in))
	const total, batch = 100_000, 1000
	for i := 0; i < total; i += batch {
		evs := make([]*domain.InboundEvent, 0, batch)
		ds := make([]*domain.Delivery, 0, batch)
		for j := i; j < i+batch; j++ {
			email := fmt.Sprintf("c%d@example.com", j%5000)
			if j%100 == 0 {
				email = "hot@example.com"
			}
			payload, _ := json.Marshal(map[string]any{"id": j, "email": email})
			evs = append(evs, &domain.InboundEvent{MerchantID: "acme", InstallationID: in.ID, Vendor: "whiplash", EventType: "order.updated", DedupKey: fmt.Sprint(j), CustomerEmail: email, Payload: payload})
			class := domain.ClassOK
			if j%50 == 0 {
				class = domain.ClassTransient
			}
			ds = append(ds, &domain.Delivery{MerchantID: "acme", InstallationID: in.ID, Vendor: "gorgias", Account: "acme", Method: "PUT", Endpoint: "PUT /api/customers/{id}/data", Status: 200, Latency: time.Millisecond, Class: class, EventID: int64(j + 1)})
		}
		_, _, err := st.IngestEvents(ctx, evs, nil)
		must(err)
		must(st.RecordDeliveries(ctx, ds))
	}
	for i := range 1000 {
		must(st.CreateDeadLetter(ctx, &domain.DeadLetter{MerchantID: "acme", InstallationID: in.ID, EventID: int64(i + 1), JobKind: "process_event", Class: domain.ClassTerminal, Error: "x"}))
	}
	e := &env{t: &testing.T{}, app: a, url: a.URL()}
	c := e.client()
	c.login(adminToken)
	run := func(name string) {
		now := time.Now()
		for _, f := range []domain.ActivityFilter{{AllMerchants: true}, {MerchantID: "acme"}} {
			f.Since, f.Until = now.Add(-time.Hour), now.Add(time.Minute)
			b.Run(fmt.Sprintf("%s/Store.Activity/all=%v", name, f.AllMerchants), func(b *testing.B) {
				for b.Loop() {
					if _, err := st.Activity(ctx, f); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		for _, p := range []string{"/ui/", "/ui/m/acme", "/ui/m/acme/timeline?email=hot@example.com", "/ui/m/acme/events", "/ui/m/acme/events?before=50000", "/ui/m/acme/deliveries", "/ui/m/acme/dead-letters", "/ui/m/acme/installations/acme-c1"} {
			b.Run(name+p, func(b *testing.B) {
				for b.Loop() {
					resp, err := c.http.Get(e.url + p)
					if err != nil {
						b.Fatal(err)
					}
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Fatalf("GET %s = %d", p, resp.StatusCode)
					}
				}
			})
		}
	}
	// spread moves the rows back in time, one minute per id modulo n.
	spread := func(n int) {
		must(st.Backend().Write(ctx, func(tx sqlstore.Tx) error {
			if _, err := tx.Exec(ctx, fmt.Sprintf(`UPDATE inbound_events SET received_at = received_at - (id %% %d) * 60000000`, n)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, fmt.Sprintf(`UPDATE deliveries SET created_at = created_at - (id %% %d) * 60000000`, n))
			return err
		}))
	}
	spread(59)
	run("hour") // all 100k events and deliveries within the overview's hour (the store's figure is a cold read)
	spread(1440 - 59)
	run("day") // spread over about a day: the overview's hour holds 1/24 of them
}
