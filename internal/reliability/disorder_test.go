package reliability

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	gorgiasemu "switchyard/internal/emulator/gorgias"
	whiplashemu "switchyard/internal/emulator/whiplash"
)

// TestDisorder: the Whiplash sender delivers a simulated day with
// duplicate and out-of-order webhooks (and customers who order again,
// half of them with a new name and address) into serve; the hub stores
// each distinct event once, and every vendor ends at the newest state:
// Gorgias data, name and address of the newest order, Klaviyo one event per
// bucket reached, never a lower one after a higher one.
func TestDisorder(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), pick(2*time.Minute, 10*time.Minute))
	defer cancel()
	rep := r.simulate(ctx, whiplashemu.SimOptions{Orders: pick(120, 1000), DuplicateRate: 0.25, ReorderRate: 0.25, RepeatRate: 0.3, Concurrency: 8, Seed: 11})
	if rep.Duplicates == 0 || rep.Reordered == 0 {
		t.Fatalf("the simulation sent %d duplicates and %d reordered transitions: it proves nothing", rep.Duplicates, rep.Reordered)
	}
	sent := time.Now()
	idleAt := r.idle(pick(2*time.Minute, 10*time.Minute))
	f := r.verify(rep)
	t.Logf("%d orders, %d deliveries (%d duplicates, %d reordered transitions) in %v; idle %v later; %s",
		rep.Orders, rep.Deliveries, rep.Duplicates, rep.Reordered, rep.Elapsed.Round(time.Millisecond), idleAt.Sub(sent).Round(time.Millisecond), f)
	f.check(t)

	// The check can fail: a customer renamed behind the hub's back is one
	// wrong name.
	if t.Failed() {
		return
	}
	var id int64
	for _, c := range r.gorgias.Snapshot().Accounts["acme"].Customers {
		id = c.ID
	}
	req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("%s/api/customers/%d", r.gURL, id), strings.NewReader(`{"name":"Somebody Else"}`))
	req.SetBasicAuth(gorgiasemu.DefaultUserEmail, gorgiasemu.DefaultAPIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("renaming Gorgias customer %d: %v %v", id, resp, err)
	}
	resp.Body.Close()
	if g := r.verify(rep); g.WrongName != 1 || len(g.failures()) != 1 {
		t.Fatalf("after renaming one customer: %s", g)
	}
}
