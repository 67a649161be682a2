package whiplashklaviyo

import (
	"encoding/json"
	"reflect"
	"testing"

	"switchyard/internal/domain"
	"switchyard/internal/provider/whiplash"
)

func TestReached(t *testing.T) {
	t.Parallel()
	P, S, D, C := BucketProcessing, BucketShipped, BucketDelivered, BucketCancelled
	for _, tc := range []struct {
		status, prev int
		want         []Bucket
	}{
		{50, 0, nil},                  // unpaid: nothing yet
		{90, 100, nil},                // paused
		{100, 50, []Bucket{P}},        // processing
		{250, 160, []Bucket{P}},       // label purchased is still processing
		{300, 250, []Bucket{P, S}},    // shipped implies processed
		{325, 300, []Bucket{P, S}},    // picked up
		{30, 0, []Bucket{S}},          // shipped externally: never processed here
		{350, 300, []Bucket{P, S, D}}, // delivered
		{350, 30, []Bucket{S, D}},     // delivered after external shipping
		{40, 50, []Bucket{C}},         // cancelled before processing
		{40, 160, []Bucket{P, C}},     // cancelled while processing
		{45, 100, []Bucket{P, C}},     // closed by originator
		{400, 300, nil},               // returned undeliverable: no bucket
	} {
		o := &whiplash.Order{Status: whiplash.FlexInt(tc.status), PreviousStatus: whiplash.FlexInt(tc.prev)}
		if got := Reached(o); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Reached(status %d, previous %d) = %v, want %v", tc.status, tc.prev, got, tc.want)
		}
	}
	for b, want := range map[Bucket]string{P: "Processing order", S: "Order shipped", D: "Order delivered", C: "Order cancelled"} {
		if b.Metric() != want {
			t.Errorf("metric of %d = %q, want %q", b, b.Metric(), want)
		}
	}
}

func TestProfileNameFallbacks(t *testing.T) {
	t.Parallel()
	full := &whiplash.Order{Email: "Ann@Example.com", FirstName: "Ann", LastName: "Lee", ShippingCompany: "Acme"}
	company := &whiplash.Order{Email: "ops@example.com", BillingCompany: "Blue Heron LLC"}
	bare := &whiplash.Order{Email: " Solo@Example.com "}
	for _, tc := range []struct {
		o           *whiplash.Order
		name        string
		first, last string
		cleared     bool
	}{
		{full, "Ann Lee", "Ann", "Lee", false},
		{company, "Blue Heron LLC", "Blue Heron LLC", "", true},
		{bare, "solo@example.com", "solo@example.com", "", true},
	} {
		if got := ProfileName(tc.o); got != tc.name {
			t.Errorf("ProfileName = %q, want %q", got, tc.name)
		}
		a := ProfileAttrs(tc.o)
		last := ""
		if a.LastName != nil {
			last = *a.LastName
		}
		if *a.FirstName != tc.first || last != tc.last || (len(a.Clear) > 0) != tc.cleared {
			t.Errorf("%s: first %q last %q clear %v", tc.name, *a.FirstName, last, a.Clear)
		}
	}
	if e := ProfileAttrs(bare).Email; *e != "solo@example.com" {
		t.Errorf("email not normalised: %q", *e)
	}
}

func TestEventForIsDeterministic(t *testing.T) {
	t.Parallel()
	o := &whiplash.Order{ID: 1015, HumanizeID: "#2015", Email: "a@example.com", Status: 300, StatusName: "Shipped", ShipMethod: "USPS Priority Mail",
		Tracking: []string{"9400"}, TrackingLinks: []string{"https://t.example/9400"}}
	ev := EventFor("2", o, BucketShipped, false)
	if ev.UniqueID != "whiplash:2:1015:shipped" || ev.Metric != "Order shipped" || ev.Backfill {
		t.Fatalf("event = %+v", ev)
	}
	for k, want := range map[string]any{"order_number": "#2015", "status": "Shipped", "shipping_method": "USPS Priority Mail"} {
		if ev.Properties[k] != want {
			t.Errorf("property %s = %v, want %v", k, ev.Properties[k], want)
		}
	}
	if !reflect.DeepEqual(ev.Properties["tracking_numbers"], []string{"9400"}) || ev.Properties["tracking_links"] == nil {
		t.Errorf("tracking missing: %v", ev.Properties)
	}
	o.Tracking, o.TrackingLinks = nil, nil
	if _, ok := EventFor("2", o, BucketShipped, true).Properties["tracking_numbers"]; ok {
		t.Error("empty tracking should be left out")
	}
}

func TestSyncStateIsTypedAndStrict(t *testing.T) {
	t.Parallel()
	state := func(fields map[string]string) *domain.SyncState {
		st := &domain.SyncState{SyncKey: domain.SyncKey{InstallationID: "in", Kind: OrderSync, Key: "1/2"}, State: domain.StateDelta{}}
		for k, v := range fields {
			st.State[k] = json.RawMessage(v)
		}
		return st
	}
	var s orderState
	if err := state(map[string]string{"bucket": `"2"`, "bulk": "3"}).Decode(&s); err != nil || s.Bucket != BucketShipped || s.emitted() != BucketDelivered {
		t.Errorf("legacy string bucket: %+v, %v", s, err)
	}
	for _, bad := range []string{`"two"`, `{}`, `true`} {
		if err := state(map[string]string{"bucket": bad}).Decode(&orderState{}); domain.ErrorCode(err) != domain.EINTERNAL {
			t.Errorf("bucket %s decoded without error: %v", bad, err)
		}
	}
	var b backfillState
	if err := state(map[string]string{"page": `"x"`}).Decode(&b); err == nil {
		t.Error("malformed backfill page decoded without error")
	}
	ids, err := pendingMembers(state(map[string]string{"p:b": "true", "p:a": `"1"`, "listed": `"L"`}))
	if err != nil || !reflect.DeepEqual(ids, []string{"a", "b"}) {
		t.Errorf("pending = %v, %v", ids, err)
	}
	if _, err := pendingMembers(state(map[string]string{"p:a": "false"})); err == nil {
		t.Error("malformed pending member accepted")
	}
	d, err := domain.StateOf(liveMark{Sending: BucketShipped})
	if _, ok := d["bucket"]; err != nil || ok || string(d["sending"]) != "2" {
		t.Errorf("live mark writes %v (%v): it must leave bucket and bulk alone", d, err)
	}
}
