package connector_test

import (
	"context"
	"reflect"
	"testing"

	"switchyard/internal/connector"
	"switchyard/internal/domain"
	"switchyard/internal/domain/mock"
	"switchyard/internal/provider/whiplash"
)

// WhiplashApply (the ingest-transaction path) must hand the store what
// ApplyWhiplashEvent (the job path, replays) does.
func TestWhiplashApplyMatchesTheJobPath(t *testing.T) {
	in := &domain.Installation{ID: "ins_1", MerchantID: "mer_1", Connector: "whiplash-gorgias"}
	plan := func(o *whiplash.Order, snap, prev *domain.OrderSnapshot) ([]domain.SyncKey, []domain.JobArgs) {
		ks := []domain.SyncKey{{InstallationID: in.ID, Kind: "k", Key: snap.CustomerEmail}}
		if prev != nil {
			ks = append(ks, domain.SyncKey{InstallationID: in.ID, Kind: "k", Key: prev.CustomerEmail})
		}
		return ks, nil
	}
	order := `{"event":"order.status_changed","order":{"id":77,"shop_id":3,"status":300,"email":" A@Example.com ","updated_at":"2026-11-20T08:00:00-05:00"}}`
	ev := &domain.InboundEvent{ID: 9, MerchantID: in.MerchantID, InstallationID: in.ID, Vendor: domain.VendorWhiplash, Payload: []byte(order)}

	var jobSnap *domain.OrderSnapshot
	var jobKeys []domain.SyncKey
	st := &mock.Store{ApplyOrderFn: func(_ context.Context, o *domain.OrderSnapshot, p func(*domain.OrderSnapshot) ([]domain.SyncKey, []domain.JobArgs)) (domain.OrderApply, error) {
		jobSnap = o
		jobKeys, _ = p(&domain.OrderSnapshot{CustomerEmail: "old@example.com"})
		return domain.OrderApply{Applied: true}, nil
	}}
	if _, _, err := connector.ApplyWhiplashEvent(context.Background(), st, in, ev, plan); err != nil {
		t.Fatal(err)
	}
	a := connector.WhiplashApply(in, ev, plan)
	if a == nil || a.Order == nil || a.Plan == nil {
		t.Fatalf("WhiplashApply = %+v, want a snapshot and a plan", a)
	}
	want := *jobSnap
	want.EventID = 0 // set by the store from the stored event
	if !reflect.DeepEqual(*a.Order, want) {
		t.Fatalf("ingest snapshot %+v\njob snapshot %+v", *a.Order, want)
	}
	if a.Order.CustomerEmail != "a@example.com" || a.Order.StoreID != "3" || a.Order.OrderID != "77" || a.Order.Status != 300 {
		t.Fatalf("snapshot = %+v", a.Order)
	}
	keys, _ := a.Plan(&domain.OrderSnapshot{CustomerEmail: "old@example.com"})
	if !reflect.DeepEqual(keys, jobKeys) {
		t.Fatalf("ingest plan %v, job plan %v", keys, jobKeys)
	}
}

func TestWhiplashApplyWithoutAnOrder(t *testing.T) {
	in := &domain.Installation{ID: "ins_1", MerchantID: "mer_1"}
	plan := func(*whiplash.Order, *domain.OrderSnapshot, *domain.OrderSnapshot) ([]domain.SyncKey, []domain.JobArgs) {
		t.Fatal("plan called for an event with nothing to apply")
		return nil, nil
	}
	for payload, wantNil := range map[string]bool{
		`not json`:                      true, // unreadable: the job dead-letters it
		`{"order":{"id":"x"}}`:          true,
		`{"event":"ping"}`:              false, // nothing to apply: stored processed
		`{"order":null}`:                false,
		`{"order":{"id":1,"email":""}}`: false,
	} {
		a := connector.WhiplashApply(in, &domain.InboundEvent{Payload: []byte(payload)}, plan)
		if (a == nil) != wantNil || (a != nil && a.Order != nil) {
			t.Errorf("WhiplashApply(%s) = %+v, want nil %v and no order", payload, a, wantNil)
		}
	}
}
