package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"switchyard/internal/connector/whiplashklaviyo"
	"switchyard/internal/domain"
	klaviyoemu "switchyard/internal/emulator/klaviyo"
	whiplashemu "switchyard/internal/emulator/whiplash"
	"switchyard/internal/provider/whiplash"
)

// TestBackfillKilledAndResumed: a backfill of 20,000 orders is killed (-9)
// mid-way and resumed by a restarted serve; Klaviyo ends with exactly one
// profile per email and one event per (order, bucket), all marked backfill,
// with one bulk profile import per 10,000 profiles, and orders older than
// the window left out.
func TestBackfillKilledAndResumed(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	const inWindow, tooOld = 20000, 300
	launch := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	wl := whiplashemu.New(whiplashemu.Config{Seed: 5, AllowClientCredentials: true})
	defer wl.Close()
	if _, err := wl.Seed(whiplashemu.SeedOptions{Seed: 5, Orders: inWindow, From: launch.Add(-14*24*time.Hour + time.Hour), Days: 14}); err != nil {
		t.Fatal(err)
	}
	if _, err := wl.Seed(whiplashemu.SeedOptions{Seed: 6, Orders: tooOld, From: launch.Add(-40 * 24 * time.Hour), Days: 5, Append: true}); err != nil {
		t.Fatal(err)
	}
	var listCalls atomic.Int64
	wsrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v2/orders" {
			listCalls.Add(1)
		}
		wl.ServeHTTP(w, r)
	}))
	defer wsrv.Close()
	kl := klaviyoemu.New(klaviyoemu.Config{})
	defer kl.Close()
	ksrv := httptest.NewServer(kl)
	defer ksrv.Close()

	// What Klaviyo should end with, from Whiplash's own data.
	emails := map[string]bool{}
	wantEvents := 0
	for id := int64(1); id < 100000 && len(emails) < inWindow+1; id++ {
		var o whiplash.Order
		if ok, err := wl.DecodeOrder(id, &o); err != nil {
			t.Fatal(err)
		} else if !ok {
			continue
		}
		if o.UpdatedAt.Before(launch.Add(-whiplashklaviyo.BackfillWindow)) {
			continue
		}
		emails[domain.NormalizeEmail(o.Email)] = true
		wantEvents += len(whiplashklaviyo.Reached(&o))
	}

	dir := t.TempDir()
	bin := filepath.Join(dir, "switchyard")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	keyFile := filepath.Join(dir, "key")
	os.WriteFile(keyFile, []byte("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"), 0o600)
	db := "sqlite://" + filepath.Join(dir, "hub.db")
	addr := freeAddr(t)
	base := "http://" + addr
	cmd := startServe(t, bin, db, keyFile, addr)

	var m, wc, kc, in struct{ ID string }
	call(t, "POST", base+"/api/v1/merchants", `{"name":"Backfill"}`, &m)
	call(t, "POST", base+"/api/v1/merchants/"+m.ID+"/connections", fmt.Sprintf(`{"vendor":"whiplash","account":"1","config":{"base_url":%q,"client_id":"switchyard","grant":"client_credentials"},"secrets":{"client_secret":"whiplash-app-secret"}}`, wsrv.URL), &wc)
	call(t, "POST", base+"/api/v1/merchants/"+m.ID+"/connections", fmt.Sprintf(`{"vendor":"klaviyo","account":"demo","config":{"base_url":%q},"secrets":{"private_key":"pk_demo"}}`, ksrv.URL), &kc)
	call(t, "POST", base+"/api/v1/merchants/"+m.ID+"/installations", fmt.Sprintf(`{"connector":"whiplash-klaviyo","connections":{"whiplash":%q,"klaviyo":%q},"settings":{"launch_date":%q}}`, wc.ID, kc.ID, launch.Format(time.DateOnly)), &in)
	if code := call(t, "POST", base+"/api/v1/merchants/"+m.ID+"/installations/"+in.ID+"/install", "", nil); code != 200 {
		t.Fatalf("install = %d", code)
	}
	progress := func() whiplashklaviyo.BackfillProgress {
		var out struct {
			Backfill whiplashklaviyo.BackfillProgress `json:"backfill"`
		}
		call(t, "GET", base+"/api/v1/merchants/"+m.ID+"/installations/"+in.ID+"/backfill", "", &out)
		return out.Backfill
	}
	deadline := time.Now().Add(2 * time.Minute)
	var seen whiplashklaviyo.BackfillProgress
	for {
		seen = progress()
		if seen.Fetched >= 6000 && seen.Phase == whiplashklaviyo.PhaseFetch {
			break
		}
		if seen.Phase != whiplashklaviyo.PhaseFetch || time.Now().After(deadline) {
			t.Fatalf("never caught the backfill mid-fetch: %+v", seen)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if seen.Total == nil || *seen.Total != inWindow {
		t.Fatalf("progress total = %v, want %d", seen.Total, inWindow)
	}
	t.Logf("killed at %d/%d orders fetched (page %d)", seen.Fetched, *seen.Total, seen.Page)

	cmd = startServe(t, bin, db, keyFile, addr)
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	for {
		seen = progress()
		if seen.Phase == whiplashklaviyo.PhaseDone {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("backfill not done after restart: %+v", seen)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("done: %+v", seen)
	kl.AdvanceJobs("", true)

	st := kl.State()
	acct := st.Accounts[0]
	profiles := map[string]int{}
	for _, p := range acct.Profiles {
		profiles[p.Email]++
	}
	for e := range emails {
		if profiles[e] != 1 {
			t.Fatalf("%s: %d profiles, want 1", e, profiles[e])
		}
	}
	if len(profiles) != len(emails)+1 { // + the default profile
		t.Errorf("Klaviyo has %d profiles, want %d emails + the default profile", len(profiles), len(emails))
	}
	uniq := map[string]int{}
	for _, ev := range acct.Events {
		uniq[ev.UniqueID]++
		if !ev.Backfill {
			t.Fatalf("backfilled event %s not marked backfill", ev.UniqueID)
		}
	}
	if len(acct.Events) != wantEvents || len(uniq) != wantEvents {
		t.Errorf("Klaviyo has %d events (%d distinct), want %d", len(acct.Events), len(uniq), wantEvents)
	}
	for _, j := range acct.EventBulkJobs {
		if j.Status != klaviyoemu.EventJobComplete {
			t.Errorf("bulk event job %s %s: %+v", j.ID, j.Status, j.Errors)
		}
	}
	if seen.EventsSent != wantEvents {
		t.Errorf("progress says %d events sent, want %d", seen.EventsSent, wantEvents)
	}
	if imports := len(acct.ProfileImportJobs); imports > inWindow/10000+1 {
		t.Errorf("%d bulk profile imports for %d orders, want ≤ %d", imports, inWindow, inWindow/10000+1)
	}
	pages := int64(inWindow/whiplashklaviyo.BackfillPerPage + 1)
	if got := listCalls.Load(); got > pages+2 {
		t.Errorf("%d order pages read for %d pages: the resume did not start from the checkpoint", got, pages)
	}
	resp, err := http.Get(base + "/metrics")
	if err == nil {
		var sb strings.Builder
		buf := make([]byte, 1<<20)
		n, _ := resp.Body.Read(buf)
		sb.Write(buf[:n])
		resp.Body.Close()
		if !strings.Contains(sb.String(), "switchyard_backfill_progress") {
			t.Errorf("/metrics has no backfill progress")
		}
	}
	t.Logf("%d orders in window (%d emails), %d too old; %d events, %d profile imports, %d order pages read, %d duplicate events refused by Klaviyo",
		inWindow, len(emails), tooOld, len(acct.Events), len(acct.ProfileImportJobs), listCalls.Load(), acct.DuplicateEvents)
}
