package storetest

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"switchyard/internal/domain"
)

func (b *bundle) action(ticket, key string) *domain.ActionAudit {
	return &domain.ActionAudit{MerchantID: b.mer.ID, InstallationID: b.inst.ID, TicketID: ticket, CustomerEmail: "ticket" + ticket + "@example.com", Agent: "agent@acme.test",
		Action: "full-refund", Arguments: map[string]string{"orderId": "A1"}, IdemKey: key}
}

// exerciseActionAudit checks the agent-action audit rows and their
// idempotency claims.
func exerciseActionAudit(t *testing.T, open Opener) {
	t.Run("ActionClaimFinishList", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		a := b.action("11", "k1")
		prev, claimed, err := b.store.ClaimAction(b.ctx, a, time.Hour)
		must(t, err)
		if !claimed || prev != nil || a.ID == "" || a.Status != domain.ActionPending {
			t.Fatalf("first claim = %v %v %+v", claimed, prev, a)
		}
		// A retried delivery inside the window gets the first row back.
		again := b.action("11", "k1")
		prev, claimed, err = b.store.ClaimAction(b.ctx, again, time.Hour)
		must(t, err)
		if claimed || prev == nil || prev.ID != a.ID || prev.Status != domain.ActionPending {
			t.Fatalf("second claim = %v %+v", claimed, prev)
		}
		a.Status, a.Request, a.Result, a.Message, a.HTTPStatus = domain.ActionSucceeded, json.RawMessage(`{"path":"/order/refund/"}`), json.RawMessage(`{"ok":true}`), "refunded", 200
		must(t, b.store.FinishAction(b.ctx, a))
		prev, claimed, err = b.store.ClaimAction(b.ctx, b.action("11", "k1"), time.Hour)
		must(t, err)
		if claimed || prev.Status != domain.ActionSucceeded || prev.Message != "refunded" || prev.HTTPStatus != 200 || prev.FinishedAt == nil ||
			!jsonEqual(prev.Request, `{"path":"/order/refund/"}`) || !jsonEqual(prev.Result, `{"ok":true}`) || prev.Arguments["orderId"] != "A1" {
			t.Fatalf("finished row = %+v", prev)
		}
		// Another key, another ticket.
		_, claimed, err = b.store.ClaimAction(b.ctx, b.action("12", "k2"), time.Hour)
		must(t, err)
		if !claimed {
			t.Fatal("another key was not claimed")
		}
		rows, err := b.store.ListActionAudits(b.ctx, domain.ActionAuditFilter{MerchantID: b.mer.ID, InstallationID: b.inst.ID})
		must(t, err)
		if len(rows) != 2 {
			t.Fatalf("rows = %d, want 2", len(rows))
		}
		rows, err = b.store.ListActionAudits(b.ctx, domain.ActionAuditFilter{MerchantID: b.mer.ID, TicketID: "11"})
		must(t, err)
		if len(rows) != 1 || rows[0].ID != a.ID || rows[0].Agent != "agent@acme.test" || rows[0].CustomerEmail != "ticket11@example.com" {
			t.Fatalf("ticket rows = %+v", rows)
		}
		rows, err = b.store.ListActionAudits(b.ctx, domain.ActionAuditFilter{MerchantID: b.mer.ID, CustomerEmail: "ticket12@example.com"})
		must(t, err)
		if len(rows) != 1 || rows[0].TicketID != "12" {
			t.Fatalf("customer rows = %+v", rows)
		}
		// Tenancy: another merchant sees nothing; no merchant is refused.
		other := &domain.Merchant{Name: "Other"}
		must(t, b.store.CreateMerchant(b.ctx, other))
		rows, err = b.store.ListActionAudits(b.ctx, domain.ActionAuditFilter{MerchantID: other.ID, InstallationID: b.inst.ID})
		must(t, err)
		if len(rows) != 0 {
			t.Fatalf("other merchant sees %d rows", len(rows))
		}
		_, err = b.store.ListActionAudits(b.ctx, domain.ActionAuditFilter{InstallationID: b.inst.ID})
		wantCode(t, err, domain.EINVALID)
		a.MerchantID = other.ID
		wantCode(t, b.store.FinishAction(b.ctx, a), domain.ENOTFOUND)
	})

	t.Run("ActionReleaseKey", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		first := b.action("11", "k")
		_, _, err := b.store.ClaimAction(b.ctx, first, time.Hour)
		must(t, err)
		first.Status, first.HTTPStatus, first.Message, first.ReleaseKey = domain.ActionFailed, 502, "unreachable", true
		must(t, b.store.FinishAction(b.ctx, first))
		second := b.action("11", "k")
		prev, claimed, err := b.store.ClaimAction(b.ctx, second, time.Hour)
		must(t, err)
		if !claimed || prev != nil || second.ID == first.ID {
			t.Fatalf("after a release: claimed %v, prev %+v", claimed, prev)
		}
		// Finishing the first again never drops the second's claim.
		must(t, b.store.FinishAction(b.ctx, first))
		prev, claimed, err = b.store.ClaimAction(b.ctx, b.action("11", "k"), time.Hour)
		must(t, err)
		if claimed || prev.ID != second.ID {
			t.Fatalf("the second claim was dropped: %v %+v", claimed, prev)
		}
		rows, err := b.store.ListActionAudits(b.ctx, domain.ActionAuditFilter{MerchantID: b.mer.ID, TicketID: "11"})
		must(t, err)
		if len(rows) != 2 {
			t.Fatalf("rows = %d, want 2 (both runs audited)", len(rows))
		}
	})

	t.Run("ActionClaimExpires", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		first := b.action("11", "k")
		_, claimed, err := b.store.ClaimAction(b.ctx, first, time.Millisecond)
		must(t, err)
		if !claimed {
			t.Fatal("not claimed")
		}
		// Past the window the same key runs again (a new row). The store's
		// clock is real here: wait out a 1 ms window without asserting time.
		deadline := time.Now().Add(5 * time.Second)
		for {
			second := b.action("11", "k")
			prev, claimed, err := b.store.ClaimAction(b.ctx, second, time.Millisecond)
			must(t, err)
			if claimed {
				if second.ID == first.ID {
					t.Fatal("same row claimed twice")
				}
				break
			}
			if prev.ID != first.ID {
				t.Fatalf("held by %s, want %s", prev.ID, first.ID)
			}
			if time.Now().After(deadline) {
				t.Fatal("the claim never expired")
			}
			time.Sleep(2 * time.Millisecond)
		}
	})

	t.Run("ActionClaimConcurrent", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		const n = 8
		var wg sync.WaitGroup
		claims := make(chan bool, n)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, claimed, err := b.store.ClaimAction(b.ctx, b.action("11", "same"), time.Hour)
				if err != nil {
					t.Error(err)
				}
				claims <- claimed
			}()
		}
		wg.Wait()
		close(claims)
		won := 0
		for c := range claims {
			if c {
				won++
			}
		}
		if won != 1 {
			t.Fatalf("%d deliveries claimed the same action, want 1", won)
		}
		rows, err := b.store.ListActionAudits(b.ctx, domain.ActionAuditFilter{MerchantID: b.mer.ID})
		must(t, err)
		if len(rows) != 1 {
			t.Fatalf("rows = %d, want 1", len(rows))
		}
	})
}
