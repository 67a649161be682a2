package outbound

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"switchyard/internal/domain"
)

// The guard's Control hook refuses every non-public address class. Called
// directly: nothing is dialled.
func TestDialGuardRefusesNonPublicAddresses(t *testing.T) {
	t.Parallel()
	g := NewDialGuard(nil, nil)
	for _, tc := range []struct{ network, addr string }{
		{"tcp4", "127.0.0.1:80"},                // loopback
		{"tcp4", "127.1.2.3:6379"},              // loopback /8
		{"tcp4", "10.0.0.1:443"},                // private
		{"tcp4", "172.16.5.4:443"},              // private
		{"tcp4", "192.168.1.1:443"},             // private
		{"tcp4", "169.254.169.254:80"},          // link-local (cloud metadata)
		{"tcp4", "100.64.0.1:443"},              // CGNAT
		{"tcp4", "0.0.0.0:80"},                  // unspecified
		{"tcp4", "224.0.0.1:80"},                // multicast
		{"tcp4", "255.255.255.255:80"},          // broadcast
		{"tcp4", "198.18.0.1:443"},              // benchmarking
		{"tcp6", "[::1]:22"},                    // loopback
		{"tcp6", "[::]:80"},                     // unspecified
		{"tcp6", "[fe80::1]:80"},                // link-local
		{"tcp6", "[fc00::1]:80"},                // unique local
		{"tcp6", "[ff02::1]:80"},                // multicast
		{"tcp6", "[::ffff:127.0.0.1]:80"},       // IPv4-mapped loopback
		{"tcp6", "[::ffff:169.254.169.254]:80"}, // IPv4-mapped link-local
		{"tcp6", "[64:ff9b::7f00:1]:80"},        // NAT64 of 127.0.0.1
		{"tcp6", "[2002:7f00:1::]:80"},          // 6to4 of 127.0.0.1
		{"udp4", "8.8.8.8:53"},                  // not TCP
	} {
		err := g.Check(tc.network, tc.addr, nil)
		if !errors.Is(err, ErrDialRefused) {
			t.Errorf("Check(%s, %s) = %v, want refused", tc.network, tc.addr, err)
		}
	}
	for _, tc := range []struct{ network, addr string }{
		{"tcp4", "8.8.8.8:443"},
		{"tcp6", "[2606:4700:4700::1111]:443"},
	} {
		if err := g.Check(tc.network, tc.addr, nil); err != nil {
			t.Errorf("Check(%s, %s) = %v, want allowed", tc.network, tc.addr, err)
		}
	}
}

// countingServer counts the TCP connections it accepts.
func countingServer(t *testing.T, h http.Handler) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			n.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &n
}

// The check runs on the address actually dialled: a vendor-looking name
// that resolves to 127.0.0.1 gets no connection, unless the operator
// allow-listed that name.
func TestDialGuardChecksAfterResolution(t *testing.T) {
	t.Parallel()
	srv, conns := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	target := netip.MustParseAddrPort(srv.Listener.Addr().String())
	var lookups atomic.Int32
	resolver := ResolverFunc(func(_ context.Context, host, port string) ([]netip.AddrPort, error) {
		lookups.Add(1)
		if host == "acme.gorgias.com" {
			return []netip.AddrPort{target}, nil
		}
		return DNSResolver{}.Resolve(context.Background(), host, port)
	})
	get := func(allow []string, url string) error {
		al, err := ParseAllowList(allow)
		if err != nil {
			t.Fatal(err)
		}
		hc := NewHTTPClient(NewDialGuard(al, resolver), 5*time.Second)
		resp, err := hc.Get(url)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	// Not allow-listed: refused before any connection, by name or by address.
	for _, url := range []string{"http://acme.gorgias.com/api/account", srv.URL + "/x", "http://localhost:" + strconv.Itoa(int(target.Port())) + "/"} {
		err := get([]string{"127.0.0.1:1"}, url)
		if !errors.Is(err, ErrDialRefused) || Classify(0, err) != domain.ClassTerminal {
			t.Errorf("GET %s: %v (class %s), want refused and terminal", url, err, Classify(0, err))
		}
	}
	if n := conns.Load(); n != 0 {
		t.Fatalf("the listener accepted %d connections from refused dials", n)
	}
	if lookups.Load() == 0 {
		t.Fatal("the injected resolver was not used")
	}
	// The same name allow-listed reaches the listener (the test can fail).
	if err := get([]string{"acme.gorgias.com"}, "http://acme.gorgias.com/api/account"); err != nil {
		t.Fatalf("allow-listed name: %v", err)
	}
	if err := get([]string{srv.Listener.Addr().String()}, srv.URL+"/x"); err != nil {
		t.Fatalf("allow-listed host:port: %v", err)
	}
	if n := conns.Load(); n != 2 {
		t.Fatalf("allow-listed dials made %d connections, want 2", n)
	}
}

// A redirect to another host is not followed: the credentials stay with
// the first host, even when the caller's client would follow redirects.
func TestRedirectsAreNotFollowed(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
	}))
	defer other.Close()
	first := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/steal", http.StatusTemporaryRedirect)
	}))
	defer first.Close()
	al, _ := ParseAllowList([]string{first.Listener.Addr().String(), other.Listener.Addr().String()})
	auth := AuthFunc(func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Klaviyo-API-Key pk_secret")
		return nil
	})
	for name, hc := range map[string]*http.Client{"guarded": NewHTTPClient(NewDialGuard(al, nil), 0), "following": {}} {
		c, err := NewClient(Config{Vendor: "klaviyo", BaseURL: first.URL, Auth: auth, HTTPClient: hc})
		if err != nil {
			t.Fatal(err)
		}
		// A redirect nobody handles is a terminal failure (no retry loop)…
		_, err = c.Do(context.Background(), &Request{Method: "POST", Path: "/api/events", JSON: map[string]string{}})
		if ClassOf(err) != domain.ClassTerminal || StatusOf(err) != http.StatusTemporaryRedirect {
			t.Fatalf("%s: %v, want a terminal 307", name, err)
		}
		// …and one the caller handles comes back as the answer.
		resp, err := c.Do(context.Background(), &Request{Method: "POST", Path: "/api/events", JSON: map[string]string{}, Handle3xx: []int{http.StatusTemporaryRedirect}})
		if err != nil || resp.Status != http.StatusTemporaryRedirect {
			t.Fatalf("%s: %v %v, want the 307 itself", name, resp, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the redirect target got %d requests", n)
	}
}

func TestAllowList(t *testing.T) {
	t.Parallel()
	al, err := ParseAllowList([]string{" 127.0.0.1:9090", "Emulator.Local", "[::1]:8080", "", "10.1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		host, port string
		want       bool
	}{
		{"127.0.0.1", "9090", true},
		{"127.0.0.1", "9091", false},
		{"emulator.local", "443", true},
		{"EMULATOR.local", "1", true},
		{"::1", "8080", true},
		{"[::1]", "8080", true},
		{"::1", "22", false},
		{"10.1.2.3", "6379", true},
		{"localhost", "9090", false},
	} {
		if got := al.Allows(tc.host, tc.port); got != tc.want {
			t.Errorf("Allows(%s, %s) = %v", tc.host, tc.port, got)
		}
	}
	for _, bad := range []string{"http://127.0.0.1:9090", "127.0.0.1:0", "127.0.0.1:x", "a/b", "user@host", ":80", "[::1"} {
		if _, err := ParseAllowList([]string{bad}); err == nil {
			t.Errorf("ParseAllowList(%q) accepted", bad)
		}
	}
	var none *AllowList
	if none.Allows("127.0.0.1", "80") || none.String() != "" {
		t.Fatal("a nil allow-list allows")
	}
	if !strings.Contains(al.String(), "127.0.0.1:9090") {
		t.Fatalf("String() = %q", al.String())
	}
}

// A Retry-After beyond the cap pauses the budget for the cap only.
func TestPauseIsCapped(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	l := NewLocalLimiter(func() time.Time { return now })
	b := Budget{Key: "k", Rate: 1, Burst: 1}
	l.Pause(b, now.Add(time.Hour))
	if st := l.Status(); !st[0].PausedUntil.Equal(now.Add(DefaultMaxRetryAfter)) {
		t.Fatalf("paused until %v, want now + %v", st[0].PausedUntil, DefaultMaxRetryAfter)
	}
	l2 := NewLocalLimiter(func() time.Time { return now })
	l2.MaxPause = time.Minute
	l2.Pause(b, now.Add(time.Hour))
	l2.Pause(b, now.Add(30*time.Second))
	if st := l2.Status(); !st[0].PausedUntil.Equal(now.Add(time.Minute)) {
		t.Fatalf("paused until %v, want now + 1m", st[0].PausedUntil)
	}
}

// What a merchant may see of a failed call: the class and status, never
// the body or the transport error.
func TestPublicMessage(t *testing.T) {
	t.Parallel()
	body := &Error{Vendor: "gorgias", Endpoint: "POST /api/widgets", Status: 400, Class: domain.ClassTerminal, Body: "secret internal page", Err: errors.New("x")}
	refused := &Error{Vendor: "klaviyo", Endpoint: "GET /api/lists", Class: domain.ClassTransient,
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused 127.0.0.1:6379")}}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("error creating the widget: %w", body), "gorgias POST /api/widgets failed: terminal (HTTP 400)"},
		{refused, "klaviyo GET /api/lists failed: transient (no response)"},
		{fmt.Errorf("token: %w", &net.OpError{Op: "dial", Err: ErrDialRefused}), "vendor call failed: terminal (no response)"},
	} {
		got, ok := PublicMessage(tc.err)
		if !ok || got != tc.want {
			t.Errorf("PublicMessage(%v) = %q, %v; want %q", tc.err, got, ok, tc.want)
		}
	}
	if _, ok := PublicMessage(errors.New("order has no email")); ok {
		t.Error("an error of ours was taken for a vendor call")
	}
	if _, ok := PublicMessage(context.DeadlineExceeded); ok {
		t.Error("a deadline of ours was taken for a vendor call")
	}
	// Stored texts (dead letters) are cut after the class and status.
	for in, want := range map[string]string{
		fmt.Errorf("error creating the widget: %w", body).Error(): "error creating the widget: gorgias POST /api/widgets: terminal (HTTP 400)",
		refused.Error():      "klaviyo GET /api/lists: transient",
		"order has no email": "order has no email",
		"error refreshing: oauth2: cannot fetch token: 400 Bad Request\nResponse: {\"secret\":1}": "error refreshing: oauth2: cannot fetch token: 400 Bad Request",
	} {
		if got := PublicText(in); got != want {
			t.Errorf("PublicText(%q) = %q, want %q", in, got, want)
		}
	}
}
