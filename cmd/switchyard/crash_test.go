package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	gorgiasemu "switchyard/internal/emulator/gorgias"
	"switchyard/internal/provider/whiplash"
)

const token = "crash-admin"

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startServe runs serve with the default settings (the 10 min stuck-job
// rescue included): what the operator runs.
func startServe(t *testing.T, bin, db, keyFile, addr string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--db", db, "--secret-key-file", keyFile, "--addr", addr, "--admin-token", token, "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	// The emulators listen on 127.0.0.1: the operator allow-lists them
	// (through the env twin of --allow-vendor-hosts).
	cmd.Env = append(os.Environ(), "SWITCHYARD_ALLOW_VENDOR_HOSTS=127.0.0.1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return cmd
			}
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("serve did not become ready")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func call(t *testing.T, method, url, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %s: %v", method, url, raw, err)
		}
	}
	return resp.StatusCode
}

// TestKill9AfterAccept: every webhook answered 202 survives kill -9 of serve,
// and after a restart, with the default 10 min stuck-job rescue, the work the
// dead process held (event jobs, and syncs caught mid-call to Gorgias) runs
// again at once: every customer reaches Gorgias long before the rescue.
func TestKill9AfterAccept(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	// Gorgias answers until hang is set; then it holds every call open, so
	// the syncs running at the kill are the ones a dead process held.
	emu := gorgiasemu.New(gorgiasemu.Config{Window: time.Second})
	defer emu.Close()
	var hang atomic.Bool
	var held atomic.Int64
	gsrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hang.Load() {
			held.Add(1)
			<-r.Context().Done()
			return
		}
		emu.ServeHTTP(w, r)
	}))
	defer gsrv.Close()

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

	var m, wl, gg, in struct{ ID string }
	call(t, "POST", base+"/api/v1/merchants", `{"name":"Crash"}`, &m)
	call(t, "POST", base+"/api/v1/merchants/"+m.ID+"/connections", `{"vendor":"whiplash","account":"1","secrets":{"client_secret":"whiplash-app-secret"}}`, &wl)
	call(t, "POST", base+"/api/v1/merchants/"+m.ID+"/connections", fmt.Sprintf(`{"vendor":"gorgias","account":"acme","config":{"base_url":%q,"email":%q,"rate_window":"1s"},"secrets":{"api_key":%q}}`,
		gsrv.URL, gorgiasemu.DefaultUserEmail, gorgiasemu.DefaultAPIKey), &gg)
	call(t, "POST", base+"/api/v1/merchants/"+m.ID+"/installations", fmt.Sprintf(`{"connector":"whiplash-gorgias","connections":{"whiplash":%q,"gorgias":%q}}`, wl.ID, gg.ID), &in)
	if code := call(t, "POST", base+"/api/v1/merchants/"+m.ID+"/installations/"+in.ID+"/install", "", nil); code != 200 {
		t.Fatalf("install = %d", code)
	}
	hang.Store(true)

	const n = 300
	var mu sync.Mutex
	accepted := map[int64]bool{}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			body := []byte(fmt.Sprintf(`{"event_name":"order.created","order":{"id":%d,"status":100,"email":"c%d@example.com","updated_at":"2026-11-20T08:00:00-05:00","order_items":[]}}`, 5000+i, i))
			req, _ := http.NewRequest("POST", base+"/hooks/whiplash/"+in.ID, bytes.NewReader(body))
			req.Header.Set(whiplash.SignatureHeader, whiplash.Sign("whiplash-app-secret", body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			var out struct {
				EventID int64 `json:"event_id"`
			}
			json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			if resp.StatusCode == 202 {
				mu.Lock()
				accepted[out.EventID] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// Kill while syncs are held mid-call (running in River).
	for deadline := time.Now().Add(60 * time.Second); held.Load() < 10; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d Gorgias calls in flight", held.Load())
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if len(accepted) != n {
		t.Fatalf("accepted %d of %d", len(accepted), n)
	}
	t.Logf("killed with %d Gorgias calls in flight", held.Load())
	hang.Store(false)

	restarted := time.Now()
	cmd = startServe(t, bin, db, keyFile, addr)
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	// Every accepted event is still there.
	var evs struct {
		Events []struct {
			ID int64 `json:"id"`
		}
	}
	call(t, "GET", base+"/api/v1/merchants/"+m.ID+"/events?limit=1000", "", &evs)
	got := map[int64]bool{}
	for _, e := range evs.Events {
		got[e.ID] = true
	}
	for id := range accepted {
		if !got[id] {
			t.Fatalf("event %d answered 202 before the crash is gone", id)
		}
	}
	// Every job runs after the restart: each event is processed and each
	// customer reaches Gorgias. The bound is a liveness bound, far below the
	// 10 min rescue that would otherwise free the held syncs.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for {
		var evs struct {
			Events []struct {
				ID          int64      `json:"id"`
				ProcessedAt *time.Time `json:"processed_at"`
			}
		}
		call(t, "GET", base+"/api/v1/merchants/"+m.ID+"/events?limit=1000", "", &evs)
		processed := 0
		for _, e := range evs.Events {
			if accepted[e.ID] && e.ProcessedAt != nil {
				processed++
			}
		}
		synced := syncedCustomers(t, emu)
		if processed == n && synced == n {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("after restart %d of %d events processed, %d of %d customers in Gorgias", processed, n, synced, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("drained %d events and %d customer syncs %v after the restart", n, n, time.Since(restarted).Round(100*time.Millisecond))
}

// syncedCustomers counts the emulator's customers carrying Whiplash data.
func syncedCustomers(t *testing.T, emu *gorgiasemu.Emulator) int {
	t.Helper()
	raw, _ := json.Marshal(emu.Snapshot())
	var st struct {
		Accounts map[string]struct {
			Customers []struct {
				Data map[string]json.RawMessage `json:"data"`
			} `json:"customers"`
		} `json:"accounts"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range st.Accounts[gorgiasemu.DefaultAccount].Customers {
		if c.Data["whiplash"] != nil {
			n++
		}
	}
	return n
}

// TestServeRefusesRescueBelowJobTimeout: a stuck-job rescue that does not
// exceed the job timeout is refused with a clear error, never adjusted.
func TestServeRefusesRescueBelowJobTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "switchyard")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "serve", "--db", "sqlite://"+filepath.Join(dir, "hub.db"), "--secret-key", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"--addr", "127.0.0.1:0", "--rescue-stuck-after", "1m").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "must exceed the job timeout") {
		t.Fatalf("serve with --rescue-stuck-after 1m < --job-timeout 2m: %v\n%s", err, out)
	}
}
