package app_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"bytes"

	"switchyard/internal/app"
	"switchyard/internal/connector/whiplashgorgias"
	"switchyard/internal/domain"
	"switchyard/internal/jobs"
	"switchyard/internal/provider/whiplash"
)

// Rotating the webhook secret through the admin API takes effect at once:
// the new secret verifies, and the old one keeps working only while it is
// kept as webhook_secret_previous.
func TestWebhookSecretRotation(t *testing.T) {
	t.Parallel()
	b := startApp(t, "sqlite://"+filepath.Join(t.TempDir(), "hub.db"))
	var in domain.Installation
	b.api(t, "GET", "/api/v1/merchants/"+b.merch+"/installations/"+b.inst, "", 200, &in)
	conn := in.Connections["whiplash"]
	body := func(id int) []byte {
		return []byte(fmt.Sprintf(`{"event_name":"order.created","order":{"id":%d,"status":100,"email":"r@example.com","updated_at":"2026-11-20T08:00:00-05:00"}}`, id))
	}
	if code, _ := b.hook(t, b.inst, body(1), whiplash.Sign("whiplash-app-secret", body(1))); code != 202 {
		t.Fatalf("before rotation: %d", code)
	}
	b.api(t, "PATCH", "/api/v1/merchants/"+b.merch+"/connections/"+conn, `{"secrets":{"webhook_secret":"new-secret","webhook_secret_previous":"whiplash-app-secret","client_secret":""}}`, 200, nil)
	if code, _ := b.hook(t, b.inst, body(2), whiplash.Sign("new-secret", body(2))); code != 202 {
		t.Fatalf("new secret after rotation: %d", code)
	}
	if code, _ := b.hook(t, b.inst, body(3), whiplash.Sign("whiplash-app-secret", body(3))); code != 202 {
		t.Fatalf("previous secret during rotation: %d", code)
	}
	b.api(t, "PATCH", "/api/v1/merchants/"+b.merch+"/connections/"+conn, `{"secrets":{"webhook_secret_previous":""}}`, 200, nil)
	if code, _ := b.hook(t, b.inst, body(4), whiplash.Sign("whiplash-app-secret", body(4))); code != 401 {
		t.Fatalf("retired secret: %d, want 401", code)
	}
	// Another merchant cannot touch this connection.
	var other domain.Merchant
	b.api(t, "POST", "/api/v1/merchants", `{"name":"Other"}`, 201, &other)
	b.api(t, "PATCH", "/api/v1/merchants/"+other.ID+"/connections/"+conn, `{"secrets":{"webhook_secret":"x"}}`, 404, nil)
	b.api(t, "GET", "/api/v1/merchants/"+other.ID+"/installations/"+b.inst, "", 404, nil)
}

// A vendor rejection dead-letters the event; replaying it through the admin
// API runs it again from the stored event, once.
func TestDeadLetterReplayThroughAPI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var fail atomic.Bool
	fail.Store(true)
	var runs atomic.Int32
	handler := jobs.EventHandlerFunc(func(ctx context.Context, in *domain.Installation, ev *domain.InboundEvent) error {
		runs.Add(1)
		if fail.Load() {
			return domain.Errorf(domain.EINVALID, "vendor refused the payload")
		}
		return nil
	})
	a, err := app.New(ctx, app.Config{Addr: "127.0.0.1:0", DB: "sqlite://" + filepath.Join(t.TempDir(), "hub.db"), SecretKey: bytes.Repeat([]byte{3}, 32), AdminToken: adminToken,
		Handlers: map[string]jobs.EventHandler{whiplashgorgias.Name: handler}, AllowVendorHosts: []string{"127.0.0.1:1"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Listen(); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(rctx) }()
	defer func() { cancel(); <-done; a.Close() }()
	b := &bundle{ctx: ctx, app: a, url: a.URL(), handled: map[int64]int{}}
	var m domain.Merchant
	b.api(t, "POST", "/api/v1/merchants", `{"name":"R"}`, 201, &m)
	var wl, gg struct{ ID string }
	b.api(t, "POST", "/api/v1/merchants/"+m.ID+"/connections", `{"vendor":"whiplash","account":"1","secrets":{"client_secret":"whiplash-app-secret"}}`, 201, &wl)
	b.api(t, "POST", "/api/v1/merchants/"+m.ID+"/connections", `{"vendor":"gorgias","account":"acme","config":{"base_url":"http://127.0.0.1:1"},"secrets":{"api_key":"k"}}`, 201, &gg)
	var in domain.Installation
	b.api(t, "POST", "/api/v1/merchants/"+m.ID+"/installations", fmt.Sprintf(`{"connector":"whiplash-gorgias","connections":{"whiplash":%q,"gorgias":%q}}`, wl.ID, gg.ID), 201, &in)
	activate(t, a, m.ID, in.ID)
	body := golden(t)
	code, out := b.hook(t, in.ID, body, whiplash.Sign("whiplash-app-secret", body))
	if code != 202 {
		t.Fatalf("hook = %d", code)
	}
	id := int64(out["event_id"].(float64))
	var dls struct {
		DeadLetters []domain.DeadLetter `json:"dead_letters"`
	}
	waitFor(t, "dead letter", func() bool {
		b.api(t, "GET", "/api/v1/merchants/"+m.ID+"/dead-letters?pending=true", "", 200, &dls)
		return len(dls.DeadLetters) == 1
	})
	dl := dls.DeadLetters[0]
	if dl.EventID != id || dl.Class != domain.ClassTerminal || runs.Load() != 1 {
		t.Fatalf("dead letter = %+v after %d runs", dl, runs.Load())
	}
	fail.Store(false)
	b.api(t, "POST", fmt.Sprintf("/api/v1/merchants/%s/dead-letters/%d/replay", m.ID, dl.ID), "", 202, nil)
	b.api(t, "POST", fmt.Sprintf("/api/v1/merchants/%s/dead-letters/%d/replay", m.ID, dl.ID), "", 409, nil)
	waitFor(t, "replayed event processed", func() bool {
		ev, err := a.Store().GetEvent(ctx, m.ID, id)
		return err == nil && ev.ProcessedAt != nil
	})
	if runs.Load() != 2 {
		t.Fatalf("handler ran %d times, want 2", runs.Load())
	}
	// Replaying the stored event directly also works, and only for its merchant.
	var other domain.Merchant
	b.api(t, "POST", "/api/v1/merchants", `{"name":"Other"}`, 201, &other)
	b.api(t, "POST", fmt.Sprintf("/api/v1/merchants/%s/events/%d/replay", other.ID, id), "", 404, nil)
	b.api(t, "POST", fmt.Sprintf("/api/v1/merchants/%s/events/%d/replay", m.ID, id), "", 202, nil)
	waitFor(t, "third run", func() bool { return runs.Load() == 3 })
	if _, err := a.Store().GetEvent(ctx, m.ID, 999999); !errors.As(err, new(*domain.Error)) {
		t.Fatalf("unknown event: %v", err)
	}
}
