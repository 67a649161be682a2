package storetest

import (
	"fmt"
	"testing"
	"time"

	"switchyard/internal/domain"
)

// exerciseActivity checks Store.Activity (per-minute counts for the admin
// UI's overview) and the keyset paging (BeforeID) of the lists.
func exerciseActivity(t *testing.T, open Opener) {
	t.Run("ActivityPerMinute", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		var evs []*domain.InboundEvent
		for i := range 3 {
			evs = append(evs, b.event(fmt.Sprintf("act-%d", i)))
		}
		_, _, err := b.store.IngestEvents(b.ctx, evs, jobFor)
		must(t, err)
		received := evs[0].ReceivedAt
		minute := received.Truncate(time.Minute)
		earlier := minute.Add(-5 * time.Minute).Add(10 * time.Second)
		d := func(merchant string, class domain.ErrorClass, at time.Time) *domain.Delivery {
			return &domain.Delivery{MerchantID: merchant, Vendor: "gorgias", Method: "PUT", Endpoint: "PUT /x", Status: 200, Class: class, CreatedAt: at}
		}
		must(t, b.store.RecordDeliveries(b.ctx, []*domain.Delivery{
			d(b.mer.ID, domain.ClassOK, earlier), d(b.mer.ID, domain.ClassRateLimited, earlier), d(b.mer.ID, domain.ClassTerminal, earlier),
			d(b.mer.ID, domain.ClassTransient, earlier.Add(time.Second)), d(b.mer.ID, domain.ClassOK, minute.Add(2*time.Second)),
			d(b.mer.ID, domain.ClassOK, minute.Add(-2*time.Hour)), // outside the window
			d("mer_other", domain.ClassOK, earlier),               // another merchant
		}))
		window := domain.ActivityFilter{MerchantID: b.mer.ID, Since: minute.Add(-time.Hour), Until: minute.Add(time.Minute)}
		got, err := b.store.Activity(b.ctx, window)
		must(t, err)
		want := []domain.ActivityMinute{
			{Minute: earlier.Truncate(time.Minute), Deliveries: 4, Errors: 2, RateLimited: 1},
			{Minute: minute, Events: 3, Deliveries: 1},
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("Activity = %+v, want %+v", got, want)
		}
		window.MerchantID, window.AllMerchants = "", true
		all, err := b.store.Activity(b.ctx, window)
		must(t, err)
		if len(all) != 2 || all[0].Deliveries != 5 {
			t.Fatalf("Activity of all merchants = %+v, want 5 deliveries in the earlier minute", all)
		}
		_, err = b.store.Activity(b.ctx, domain.ActivityFilter{Since: window.Since, Until: window.Until})
		wantCode(t, err, domain.EINVALID)
		other, err := b.store.Activity(b.ctx, domain.ActivityFilter{MerchantID: "mer_nobody", Since: window.Since, Until: window.Until})
		must(t, err)
		if len(other) != 0 {
			t.Fatalf("Activity of an unknown merchant = %+v", other)
		}
	})

	t.Run("ListsPageBackwards", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		var evs []*domain.InboundEvent
		for i := range 5 {
			evs = append(evs, b.event(fmt.Sprintf("page-%d", i)))
		}
		_, _, err := b.store.IngestEvents(b.ctx, evs, jobFor)
		must(t, err)
		first, err := b.store.ListEvents(b.ctx, domain.EventFilter{MerchantID: b.mer.ID, Limit: 2})
		must(t, err)
		second, err := b.store.ListEvents(b.ctx, domain.EventFilter{MerchantID: b.mer.ID, Limit: 2, BeforeID: first[1].ID})
		must(t, err)
		last, err := b.store.ListEvents(b.ctx, domain.EventFilter{MerchantID: b.mer.ID, Limit: 2, BeforeID: second[1].ID})
		must(t, err)
		if len(first) != 2 || len(second) != 2 || len(last) != 1 || first[0].ID != evs[4].ID || second[0].ID != evs[2].ID || last[0].ID != evs[0].ID {
			t.Fatalf("pages: %d, %d, %d events", len(first), len(second), len(last))
		}
		var ds []*domain.Delivery
		for range 3 {
			ds = append(ds, &domain.Delivery{MerchantID: b.mer.ID, Vendor: "gorgias", Method: "PUT", Endpoint: "PUT /x", Status: 200, Class: domain.ClassOK})
		}
		must(t, b.store.RecordDeliveries(b.ctx, ds))
		all, err := b.store.ListDeliveries(b.ctx, domain.DeliveryFilter{MerchantID: b.mer.ID})
		must(t, err)
		older, err := b.store.ListDeliveries(b.ctx, domain.DeliveryFilter{MerchantID: b.mer.ID, BeforeID: all[0].ID})
		must(t, err)
		if len(all) != 3 || len(older) != 2 || older[0].ID != all[1].ID {
			t.Fatalf("deliveries: %d, then %d before %d", len(all), len(older), all[0].ID)
		}
		for range 2 {
			must(t, b.store.CreateDeadLetter(b.ctx, &domain.DeadLetter{MerchantID: b.mer.ID, JobKind: "process_event", Class: domain.ClassTerminal, Error: "x"}))
		}
		dls, err := b.store.ListDeadLetters(b.ctx, domain.DeadLetterFilter{MerchantID: b.mer.ID})
		must(t, err)
		olderDLs, err := b.store.ListDeadLetters(b.ctx, domain.DeadLetterFilter{MerchantID: b.mer.ID, BeforeID: dls[0].ID})
		must(t, err)
		if len(dls) != 2 || len(olderDLs) != 1 || olderDLs[0].ID != dls[1].ID {
			t.Fatalf("dead letters: %d, then %d", len(dls), len(olderDLs))
		}
	})
}
