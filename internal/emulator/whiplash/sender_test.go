package whiplash

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"
)

func decodeAll(t *testing.T, bodies [][]byte, headers []http.Header, secret string) []*webhook {
	t.Helper()
	var out []*webhook
	for i, b := range bodies {
		w, err := verifyAndDecode(headers[i], b, secret)
		if err != nil {
			t.Fatalf("webhook %d: %v\n%s", i, err, b)
		}
		out = append(out, w)
	}
	return out
}

func TestWebhooksAreSignedAndDecode(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	e, _ := newTestEmulator(t, Config{TargetURL: rc.srv.URL})
	o, err := e.CreateOrder(2, "Shopper@Example.com")
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []int{StatusPrinted, StatusPacked, StatusShipped, StatusDelivered} {
		if _, err := e.Transition(int64(o.ID), st, TransitionOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	bodies, headers := rc.got()
	hooks := decodeAll(t, bodies, headers, DefaultClientSecret)
	var names []string
	for _, w := range hooks {
		names = append(names, fmt.Sprintf("%s/%d", w.EventName, w.Order.Status))
		if int64(w.Order.ID) != int64(o.ID) || storeOf(w.Order) != 2 || w.Order.Email != "Shopper@Example.com" {
			t.Errorf("unexpected order in %s: id %d store %d email %q", w.EventName, w.Order.ID, storeOf(w.Order), w.Order.Email)
		}
		if w.Order.StatusName != StatusName(int(w.Order.Status)) {
			t.Errorf("status_name %q for %d", w.Order.StatusName, w.Order.Status)
		}
		if _, off := w.Order.UpdatedAt.Zone(); off != -4*3600 && off != -5*3600 {
			t.Errorf("updated_at offset %d", off)
		}
	}
	want := []string{"order.created/100", "order.status_changed/120", "order.status_changed/160", "order.packed/160",
		"order.status_changed/300", "order.shipped/300", "order.status_changed/350", "order.delivered/350"}
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Fatalf("events\n got %v\nwant %v", names, want)
	}
	shipped := hooks[5].Order
	if len(shipped.Tracking) == 0 || len(shipped.Packages) == 0 || shipped.Packages[0].Tracking == nil || shipped.ShippedOn.IsZero() {
		t.Fatalf("shipped order lacks tracking/packages: %+v", shipped)
	}
	if shipped.PreviousStatus != StatusPacked {
		t.Fatalf("previous_status %d", shipped.PreviousStatus)
	}
	if hooks[6].Order.PreviousStatus != StatusShipped || !hooks[6].Order.UpdatedAt.After(shipped.UpdatedAt.Time) {
		t.Fatalf("delivered: previous %d updated %v after %v", hooks[6].Order.PreviousStatus, hooks[6].Order.UpdatedAt, shipped.UpdatedAt)
	}
	if st := e.Stats(); st.Deliveries != 8 || st.Acknowledged != 8 || st.Attempts != 8 || st.Failed != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestWebhookDuplicatesAreByteIdentical(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	e, _ := newTestEmulator(t, Config{TargetURL: rc.srv.URL, SpecificEventsOnly: true})
	o, _ := e.CreateOrder(1, "")
	if _, err := e.Transition(int64(o.ID), StatusShipped, TransitionOptions{Duplicate: true}); err != nil {
		t.Fatal(err)
	}
	_ = e.Flush(context.Background())
	bodies, headers := rc.got()
	if len(bodies) != 3 {
		t.Fatalf("got %d webhooks, want created + shipped twice", len(bodies))
	}
	if !bytes.Equal(bodies[1], bodies[2]) || headers[1].Get(SignatureHeader) != headers[2].Get(SignatureHeader) {
		t.Fatalf("duplicates differ:\n%s\n%s", bodies[1], bodies[2])
	}
	hooks := decodeAll(t, bodies, headers, DefaultClientSecret)
	if eventIDOf(hooks[1]) != eventIDOf(hooks[2]) || eventIDOf(hooks[0]) == eventIDOf(hooks[1]) {
		t.Fatal("event ids do not separate events and join duplicates")
	}
}

func TestWebhookRetriesTenTimesThenGivesUp(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(int, []byte) int { return http.StatusInternalServerError })
	e, _ := newTestEmulator(t, Config{TargetURL: rc.srv.URL})
	if _, err := e.CreateOrder(1, ""); err != nil {
		t.Fatal(err)
	}
	_ = e.Flush(context.Background())
	bodies, _ := rc.got()
	if len(bodies) != 10 {
		t.Fatalf("receiver saw %d attempts, want 10", len(bodies))
	}
	for _, b := range bodies[1:] {
		if !bytes.Equal(b, bodies[0]) {
			t.Fatal("a retry changed the body")
		}
	}
	if st := e.Stats(); st.Deliveries != 1 || st.Attempts != 10 || st.Retried != 9 || st.Failed != 1 || st.Acknowledged != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestWebhookRetrySucceedsAfterFailures(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(n int, _ []byte) int {
		if n < 3 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	e, _ := newTestEmulator(t, Config{TargetURL: rc.srv.URL})
	_, _ = e.CreateOrder(1, "")
	_ = e.Flush(context.Background())
	if st := e.Stats(); st.Attempts != 4 || st.Acknowledged != 1 || st.Retried != 3 || st.Failed != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestSubscriptionDeactivatedAfterConsecutiveFailures(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(int, []byte) int { return http.StatusInternalServerError })
	// One worker: with more, attempts already in flight when the counter
	// reaches 100 would still land (as they may at Whiplash).
	e, srv := newTestEmulator(t, Config{SenderConcurrency: 1})
	tok, _ := token(t, srv, "user_manage")
	var sub map[string]any
	if st := call(t, "POST", srv.URL+"/api/v2/notification_subscriptions", tok,
		fmt.Sprintf(`{"notification_event_id":1,"notification_type":"webhook","endpoint":%q,"version":2}`, rc.srv.URL), &sub); st != http.StatusCreated {
		t.Fatalf("create subscription: %d %v", st, sub)
	}
	for range 11 {
		if _, err := e.CreateOrder(3, ""); err != nil {
			t.Fatal(err)
		}
	}
	_ = e.Flush(context.Background())
	bodies, _ := rc.got()
	if len(bodies) != 100 {
		t.Fatalf("receiver saw %d attempts, want 100 (10 events × 10, then deactivated)", len(bodies))
	}
	subs := e.Subscriptions()
	if len(subs) != 1 || subs[0].Active || subs[0].ConsecutiveFailures != 100 {
		t.Fatalf("subscription %+v", subs)
	}
	// Re-enabling resets the counter.
	var upd map[string]any
	if st := call(t, "PUT", fmt.Sprintf("%s/api/v2/notification_subscriptions/%d", srv.URL, subs[0].ID), tok, `{"active":true}`, &upd); st != 200 || upd["active"] != true || upd["consecutive_failures"] != float64(0) {
		t.Fatalf("reactivate: %d %v", st, upd)
	}
}

func TestSubscriptionRoutingAndSigningSecret(t *testing.T) {
	t.Parallel()
	shippedOnly := newReceiver(t, nil)
	e, srv := newTestEmulator(t, Config{})
	tok, _ := token(t, srv, "user_manage")
	if st := call(t, "POST", srv.URL+"/api/v2/notification_subscriptions", tok,
		fmt.Sprintf(`{"notification_subscription":{"notification_event_id":"3","endpoint":%q}}`, shippedOnly.srv.URL), nil); st != http.StatusCreated {
		t.Fatalf("create: %d", st)
	}
	o, _ := e.CreateOrder(1, "")
	_, _ = e.Transition(int64(o.ID), StatusPrinted, TransitionOptions{})
	_, _ = e.Transition(int64(o.ID), StatusShipped, TransitionOptions{NoTracking: true})
	_ = e.Flush(context.Background())
	bodies, headers := shippedOnly.got()
	hooks := decodeAll(t, bodies, headers, DefaultClientSecret)
	if len(hooks) != 1 || hooks[0].EventName != "order.shipped" {
		t.Fatalf("subscription to order.shipped got %d hooks", len(hooks))
	}
	if o := hooks[0].Order; len(o.Tracking) != 0 || len(o.Packages) == 0 || o.Packages[0].Tracking != nil {
		t.Fatalf("shipped without tracking should have packages but no tracking: %+v", o)
	}
}

func TestOutOfOrderDeliveryOnHold(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	e, _ := newTestEmulator(t, Config{TargetURL: rc.srv.URL, SpecificEventsOnly: true})
	o, _ := e.CreateOrder(1, "")
	_, _ = e.Transition(int64(o.ID), StatusPrinted, TransitionOptions{Hold: true})
	_, _ = e.Transition(int64(o.ID), StatusPicked, TransitionOptions{})
	_ = e.Flush(context.Background())
	bodies, headers := rc.got()
	hooks := decodeAll(t, bodies, headers, DefaultClientSecret)
	var got []int
	for _, h := range hooks {
		got = append(got, int(h.Order.Status))
	}
	if fmt.Sprint(got) != fmt.Sprint([]int{100, 150, 120}) {
		t.Fatalf("delivery order %v, want the held 120 after 150", got)
	}
	if !hooks[1].Order.UpdatedAt.After(hooks[2].Order.UpdatedAt.Time) {
		t.Fatal("the later status should carry the later updated_at")
	}
}

func TestSubscriptionTestEndpoint(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	e, srv := newTestEmulator(t, Config{Fixtures: &SeedOptions{Orders: 3}})
	tok, _ := token(t, srv, "user_manage")
	var sub struct{ ID int64 }
	call(t, "POST", srv.URL+"/api/v2/notification_subscriptions", tok, fmt.Sprintf(`{"notification_event_id":2,"endpoint":%q}`, rc.srv.URL), &sub)
	if st := call(t, "GET", fmt.Sprintf("%s/api/v2/notification_subscriptions/%d/test", srv.URL, sub.ID), tok, "", nil); st != 200 {
		t.Fatalf("test: %d", st)
	}
	_ = e.Flush(context.Background())
	bodies, headers := rc.got()
	hooks := decodeAll(t, bodies, headers, DefaultClientSecret)
	if len(hooks) != 1 || hooks[0].EventName != "order.status_changed" {
		t.Fatalf("test webhook: %d", len(hooks))
	}
}
