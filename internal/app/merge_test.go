package app_test

import (
	"testing"
	"time"

	"switchyard/internal/connector/whiplashgorgias"
	"switchyard/internal/domain"
	gorgiasemu "switchyard/internal/emulator/gorgias"
	"switchyard/internal/provider/gorgias"
)

// A customer merged away in Gorgias: the next write gets the documented
// bare 301, finds the customer again by email and writes to the survivor
// once; later writes go straight there.
func TestGorgiasMergedCustomerIsFollowed(t *testing.T) {
	t.Parallel()
	h := startHub(t, time.Second)
	h.api("POST", "/api/v1/merchants/"+h.merchant+"/installations/"+h.c1+"/install", "", 200, nil)
	base := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	const email = "merge@example.com"
	send := func(status int, at time.Time) {
		t.Helper()
		if err := h.post(h.c1, orderBody(t, 77, 1, email, "Mia Merge", status, at)); err != nil {
			t.Fatal(err)
		}
		h.idle(time.Minute)
	}
	send(100, base)
	source := h.gorgiasCustomers()[email].ID
	g, err := gorgias.New(gorgias.Config{Account: "acme", BaseURL: h.gURL, Email: gorgiasemu.DefaultUserEmail, APIKey: gorgiasemu.DefaultAPIKey, Window: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	target, err := g.CreateCustomer(h.ctx, gorgias.CustomerFields{Email: "mia.other@example.com", Name: "Mia (phone)"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.MergeCustomers(h.ctx, gorgias.ID(source), target.ID, gorgias.CustomerFields{Email: email}); err != nil {
		t.Fatal(err)
	}
	before, _ := h.gorgiasCalls()
	send(300, base.Add(time.Hour))
	mid, _ := h.gorgiasCalls()
	send(350, base.Add(2*time.Hour))
	after, _ := h.gorgiasCalls()
	// 301, find by email, the survivor's name ("Mia (phone)") set to the
	// latest order's, one write; then one write.
	if mid-before != 4 || after-mid != 1 {
		t.Errorf("calls after the merge: %d then %d, want 4 (301, find by email, name, write) then 1", mid-before, after-mid)
	}
	c := h.gorgiasCustomers()[email]
	if int64(c.ID) != int64(target.ID) || c.Name != "Mia Merge" || c.Data.Whiplash == nil || c.Data.Whiplash.Orders[0].StatusCode != 350 {
		t.Fatalf("surviving customer = %d with %+v, want %d with status 350", c.ID, c.Data.Whiplash, target.ID)
	}
	st, err := h.app.Store().GetSync(h.ctx, domain.SyncKey{InstallationID: h.c1, Kind: whiplashgorgias.SyncKind, Key: email})
	if err != nil {
		t.Fatal(err)
	}
	var cached struct {
		CustomerID int64 `json:"gorgias_customer_id"`
	}
	if err := st.Decode(&cached); err != nil {
		t.Fatal(err)
	}
	if cached.CustomerID != int64(target.ID) {
		t.Errorf("cached customer id = %d, want %d", cached.CustomerID, target.ID)
	}
}

// Through the whole hub (store, jobs, typed sync state in SQLite): the keys
// other apps keep in a customer's data survive switchyard's first write and
// its updates; when the customer is deleted in Gorgias, switchyard creates
// it again with its own document only (the deleted customer's keys are not
// resurrected). The TTL re-read is covered in the connector's own tests.
func TestGorgiasKeepsKeysOwnedByOthers(t *testing.T) {
	t.Parallel()
	h := startHub(t, time.Second)
	h.api("POST", "/api/v1/merchants/"+h.merchant+"/installations/"+h.c1+"/install", "", 200, nil)
	g, err := gorgias.New(gorgias.Config{Account: "acme", BaseURL: h.gURL, Email: gorgiasemu.DefaultUserEmail, APIKey: gorgiasemu.DefaultAPIKey, Window: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	const email = "shared@example.com"
	pre, err := g.CreateCustomer(h.ctx, gorgias.CustomerFields{Email: email, Name: "Sam Shared"})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.SetCustomerData(h.ctx, pre.ID, map[string]any{"other_app": "gold"}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	send := func(status int, at time.Time, wantOther string) gorgiasCustomer {
		t.Helper()
		if err := h.post(h.c1, orderBody(t, 88, 1, email, "Sam Shared", status, at)); err != nil {
			t.Fatal(err)
		}
		h.idle(time.Minute)
		c := h.gorgiasCustomers()[email]
		if c.Data.Whiplash == nil || c.Data.Whiplash.Orders[0].StatusCode != status || c.Data.Other != wantOther {
			t.Fatalf("after status %d: customer %d other_app %q whiplash %+v; want status %d, other_app %q", status, c.ID, c.Data.Other, c.Data.Whiplash, status, wantOther)
		}
		return c
	}
	send(100, base, "gold")
	send(300, base.Add(time.Hour), "gold")
	if err := g.DeleteCustomer(h.ctx, pre.ID); err != nil {
		t.Fatal(err)
	}
	if c := send(350, base.Add(2*time.Hour), ""); c.ID == int64(pre.ID) {
		t.Fatalf("customer %d was not re-created", c.ID)
	}
	if dls, _ := h.app.Store().ListDeadLetters(h.ctx, domain.DeadLetterFilter{}); len(dls) != 0 {
		t.Fatalf("%d dead letters, first: %+v", len(dls), dls[0])
	}
}
