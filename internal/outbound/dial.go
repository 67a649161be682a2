package outbound

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"code.dny.dev/ssrf"
)

// AllowList is the operator's list of vendor hosts beyond the vendors' own
// (emulators, sandboxes, a proxy), from serve --allow-vendor-hosts. An entry
// is a host ("localhost", "10.0.0.7", "[::1]": any port) or a host and port
// ("127.0.0.1:9090"). A nil AllowList allows nothing.
type AllowList struct {
	hosts     map[string]bool // lower-cased host, any port
	hostPorts map[string]bool // lower-cased host + ":" + port
	entries   []string
}

// ParseAllowList reads allow-list entries; empty entries are skipped.
func ParseAllowList(entries []string) (*AllowList, error) {
	a := &AllowList{hosts: map[string]bool{}, hostPorts: map[string]bool{}}
	for _, e := range entries {
		e = strings.ToLower(strings.TrimSpace(e))
		if e == "" {
			continue
		}
		if strings.Contains(e, "/") || strings.Contains(e, "@") {
			return nil, fmt.Errorf("allowed vendor host %q: give a host or host:port, not a URL", e)
		}
		if host, port, err := net.SplitHostPort(e); err == nil {
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				return nil, fmt.Errorf("allowed vendor host %q: invalid port", e)
			}
			if host == "" {
				return nil, fmt.Errorf("allowed vendor host %q: no host", e)
			}
			a.hostPorts[net.JoinHostPort(host, port)] = true
		} else {
			host := strings.TrimSuffix(strings.TrimPrefix(e, "["), "]")
			if strings.ContainsAny(host, "[]") || host == "" || strings.HasPrefix(e, "[") != strings.HasSuffix(e, "]") {
				return nil, fmt.Errorf("allowed vendor host %q is not a host or host:port", e)
			}
			if strings.Contains(host, ":") {
				if _, err := netip.ParseAddr(host); err != nil {
					return nil, fmt.Errorf("allowed vendor host %q is not a host or host:port", e)
				}
			}
			a.hosts[host] = true
		}
		a.entries = append(a.entries, e)
	}
	return a, nil
}

// Allows reports whether host (brackets optional) and port are allowed.
func (a *AllowList) Allows(host, port string) bool {
	if a == nil {
		return false
	}
	host = strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	return a.hosts[host] || a.hostPorts[net.JoinHostPort(host, port)]
}

// AllowsURL reports whether u's host and port (the scheme's default when
// absent) are allowed. It implements domain.HostAllower.
func (a *AllowList) AllowsURL(u *url.URL) bool {
	port := u.Port()
	if port == "" {
		port = "443"
		if u.Scheme == "http" {
			port = "80"
		}
	}
	return a.Allows(u.Hostname(), port)
}

// String lists the entries, comma-separated.
func (a *AllowList) String() string {
	if a == nil {
		return ""
	}
	return strings.Join(a.entries, ",")
}

// Resolver maps a host and port to the socket addresses to dial. The
// default, DNSResolver, asks DNS and keeps the port; tests inject their own
// (a name that resolves to 127.0.0.1).
type Resolver interface {
	Resolve(ctx context.Context, host, port string) ([]netip.AddrPort, error)
}

// ResolverFunc adapts a function to a Resolver.
type ResolverFunc func(ctx context.Context, host, port string) ([]netip.AddrPort, error)

// Resolve implements Resolver.
func (f ResolverFunc) Resolve(ctx context.Context, host, port string) ([]netip.AddrPort, error) {
	return f(ctx, host, port)
}

// DNSResolver resolves with a *net.Resolver (nil: net.DefaultResolver).
type DNSResolver struct{ R *net.Resolver }

// Resolve implements Resolver.
func (d DNSResolver) Resolve(ctx context.Context, host, port string) ([]netip.AddrPort, error) {
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("invalid port %q: %w", port, err)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.AddrPort{netip.AddrPortFrom(ip, uint16(p))}, nil
	}
	r := d.R
	if r == nil {
		r = net.DefaultResolver
	}
	ips, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	out := make([]netip.AddrPort, 0, len(ips))
	for _, ip := range ips {
		out = append(out, netip.AddrPortFrom(ip, uint16(p)))
	}
	return out, nil
}

// ErrDialRefused marks a dial the guard refused: the address is not public
// and the host is not on the operator's allow-list.
var ErrDialRefused = errors.New("refused to connect to a non-public address")

// DialGuard dials vendor hosts. Every connection to a host that is not on
// the operator's allow-list is checked on the address actually dialled,
// after DNS resolution (so a name that resolves, or rebinds, to an internal
// address does not help): loopback, private, link-local, CGNAT, multicast,
// unspecified, documentation, IPv4-mapped and every other special-purpose
// range of the IANA registries is refused (code.dny.dev/ssrf).
type DialGuard struct {
	// Allow lists the hosts (as named in the URL) that may resolve anywhere.
	Allow *AllowList
	// Resolver defaults to DNSResolver.
	Resolver Resolver
	// Timeout bounds one dial (default 10 s).
	Timeout time.Duration

	guardian *ssrf.Guardian
}

// NewDialGuard returns a guard for allow (may be nil) and resolver (nil:
// DNS).
func NewDialGuard(allow *AllowList, resolver Resolver) *DialGuard {
	if resolver == nil {
		resolver = DNSResolver{}
	}
	// Any port: ports are the URL check's business (vendor hosts are https
	// on 443); the guard judges the address.
	return &DialGuard{Allow: allow, Resolver: resolver, guardian: ssrf.New(ssrf.WithAnyPort())}
}

// Check is the net.Dialer Control hook: it refuses network/address (an
// "ip:port" the dialer is about to connect to) unless it is a public TCP
// address.
func (g *DialGuard) Check(network, address string, _ syscall.RawConn) error {
	if err := g.guardian.Safe(network, address, nil); err != nil {
		return fmt.Errorf("%w %s: %w", ErrDialRefused, address, err)
	}
	return nil
}

// DialContext dials addr ("host:port" from the request URL). A host on the
// allow-list is dialled as resolved; any other host only at public
// addresses.
func (g *DialGuard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("error dialing %s: %w", addr, err)
	}
	timeout := g.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	if !g.Allow.Allows(host, port) {
		d.Control = g.Check
	}
	addrs, err := g.Resolver.Resolve(ctx, strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), port)
	if err != nil {
		return nil, fmt.Errorf("error resolving %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("error resolving %s: no addresses", host)
	}
	var errs []error
	for _, ap := range addrs {
		// Unmap so an IPv4-mapped answer is dialled (and checked) as what
		// it is; the Control hook sees the final socket address either way.
		ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		conn, err := d.DialContext(ctx, network, ap.String())
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// NoRedirect is a CheckRedirect that never follows a redirect: the 3xx
// answer is returned as is, so credentials never go to another host.
func NoRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// NewHTTPClient returns the HTTP client for vendor calls: dials through g,
// no proxy from the environment (a proxy is a base URL the operator
// allow-lists), no redirects, and timeout per attempt (0: DefaultTimeout).
func NewHTTPClient(g *DialGuard, timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	t := &http.Transport{
		DialContext:           g.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          200,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{Transport: t, Timeout: timeout, CheckRedirect: NoRedirect}
}
