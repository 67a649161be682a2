package connector_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"switchyard/internal/connector"
	"switchyard/internal/domain"
	"switchyard/internal/ingest"
	"switchyard/internal/jobs"
)

// fake is the smallest connector: a name and roles.
type fake struct {
	name  string
	roles []string
}

func (f *fake) Name() string                                        { return f.name }
func (f *fake) Roles() []string                                     { return f.roles }
func (f *fake) Install(context.Context, *domain.Installation) error { return nil }

// receiver adds webhooks.
type receiver struct {
	fake
	sources map[string]ingest.Source
}

func (r *receiver) Sources() map[string]ingest.Source { return r.sources }
func (r *receiver) HandleEvent(context.Context, *domain.Installation, *domain.InboundEvent) (jobs.Outcome, error) {
	return jobs.Handled, nil
}

// syncer adds syncs.
type syncer struct {
	fake
	kinds []string
}

func (s *syncer) Syncers() map[string]jobs.Syncer {
	out := map[string]jobs.Syncer{}
	for _, k := range s.kinds {
		out[k] = s
	}
	return out
}
func (s *syncer) Sync(context.Context, *domain.Installation, *domain.SyncState) (domain.StateDelta, error) {
	return nil, nil
}

// router adds routes.
type router struct {
	fake
	patterns []string
}

func (r *router) Routes() []connector.Route {
	var out []connector.Route
	for _, p := range r.patterns {
		out = append(out, connector.Route{Pattern: p, Handler: http.NotFoundHandler()})
	}
	return out
}

// adminer adds admin routes.
type adminer struct {
	fake
	paths []string
}

func (a *adminer) AdminRoutes() []connector.AdminRoute {
	var out []connector.AdminRoute
	for _, p := range a.paths {
		out = append(out, connector.AdminRoute{Method: "GET", Path: p, Handle: func(*http.Request, *domain.Installation) (int, any, error) { return 200, nil, nil }})
	}
	return out
}

type nilRoute struct{ fake }

func (*nilRoute) Routes() []connector.Route {
	return []connector.Route{{Pattern: "GET /install/a"}}
}

type nilSyncer struct{ fake }

func (*nilSyncer) Syncers() map[string]jobs.Syncer { return map[string]jobs.Syncer{"a-customer": nil} }

// Two webhook contracts for one vendor: different types.
type srcA struct{}
type srcB struct{}

func (srcA) SecretNames() []string                      { return nil }
func (srcA) Verify(http.Header, []byte, []string) error { return nil }
func (srcA) Parse([]byte) (ingest.Parsed, error)        { return ingest.Parsed{}, nil }
func (srcB) SecretNames() []string                      { return nil }
func (srcB) Verify(http.Header, []byte, []string) error { return nil }
func (srcB) Parse([]byte) (ingest.Parsed, error)        { return ingest.Parsed{}, nil }

var wg = []string{domain.VendorWhiplash, domain.VendorGorgias}

func TestBuildDerivesTheTables(t *testing.T) {
	t.Parallel()
	a := &receiver{fake: fake{"a", wg}, sources: map[string]ingest.Source{domain.VendorWhiplash: srcA{}}}
	b := &receiver{fake: fake{"b", []string{domain.VendorWhiplash, domain.VendorKlaviyo}}, sources: map[string]ingest.Source{domain.VendorWhiplash: srcA{}}}
	s := &syncer{fake: fake{"c", wg}, kinds: []string{"c-customer", "c-order"}}
	r := &router{fake: fake{"d", wg}, patterns: []string{"GET /hooks/gorgias/d/widget", "POST /install/d", "GET /oauth/callback/d"}}
	// A connector may also use the first part of its name: /install/e.
	e := &router{fake: fake{"e-gorgias", wg}, patterns: []string{"GET /install/e", "GET /oauth/callback/e-gorgias"}}
	ad := &adminer{fake: fake{"f", wg}, paths: []string{"audit", "link/approve"}}
	ad2 := &adminer{fake: fake{"g", wg}, paths: []string{"audit"}}
	set, err := connector.Build(a, b, s, r, e, ad, ad2)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(set.All()); got != 7 {
		t.Errorf("%d connectors, want 7", got)
	}
	if _, ok := set.Handlers()["a"]; !ok || len(set.Handlers()) != 2 {
		t.Errorf("handlers %v, want a and b", set.Handlers())
	}
	if _, ok := set.Sources()[domain.VendorWhiplash]; !ok || len(set.Sources()) != 1 {
		t.Errorf("sources %v, want whiplash only", set.Sources())
	}
	if len(set.Syncers()) != 2 || set.Syncers()["c-order"] == nil {
		t.Errorf("syncers %v, want c-customer and c-order", set.Syncers())
	}
	if len(set.Routes()) != 5 {
		t.Errorf("routes %v, want 5", set.Routes())
	}
	if ar := set.AdminRoutes(); len(ar) != 2 || len(ar["GET audit"]) != 2 || len(ar["GET link/approve"]) != 1 {
		t.Errorf("admin routes %v, want audit of f and g, link/approve of f", ar)
	}
	if c, ok := set.Get("d"); !ok || c != r {
		t.Errorf("Get(d) = %v, %v", c, ok)
	}
}

// Each check of Build refuses a connector that breaks it, with a message
// naming the problem.
func TestBuildRefuses(t *testing.T) {
	t.Parallel()
	whiplashA := map[string]ingest.Source{domain.VendorWhiplash: srcA{}}
	for _, tc := range []struct {
		name string
		cs   []connector.Connector
		want string
	}{
		{"duplicate name", []connector.Connector{&fake{"a", wg}, &fake{"a", wg}}, "registered twice"},
		{"upper-case name", []connector.Connector{&fake{"Whiplash-Gorgias", wg}}, "lower-case"},
		{"empty name", []connector.Connector{&fake{"", wg}}, "lower-case"},
		{"name ending in a dash", []connector.Connector{&fake{"a-", wg}}, "lower-case"},
		{"name with a slash", []connector.Connector{&fake{"a/b", wg}}, "lower-case"},
		{"no roles", []connector.Connector{&fake{"a", nil}}, "declares no roles"},
		{"unknown role vendor", []connector.Connector{&fake{"a", []string{domain.VendorWhiplash, "zendesk"}}}, `role "zendesk" is not a vendor`},
		{"receiver without sources", []connector.Connector{&receiver{fake: fake{"a", wg}}}, "declares no webhook source"},
		{"webhook source not a role", []connector.Connector{&receiver{fake: fake{"a", wg}, sources: map[string]ingest.Source{domain.VendorShopify: srcA{}}}}, "webhook source shopify is not one of its roles"},
		{"two contracts for one vendor", []connector.Connector{
			&receiver{fake: fake{"a", wg}, sources: whiplashA},
			&receiver{fake: fake{"b", wg}, sources: map[string]ingest.Source{domain.VendorWhiplash: srcB{}}},
		}, "a different whiplash webhook contract"},
		{"duplicate sync kind", []connector.Connector{&syncer{fake: fake{"a", wg}, kinds: []string{"customer"}}, &syncer{fake: fake{"b", wg}, kinds: []string{"customer"}}}, "sync kind customer already belongs to a"},
		{"route outside the namespace", []connector.Connector{&router{fake: fake{"a", wg}, patterns: []string{"GET /api/v1/merchants"}}}, "outside"},
		{"route under another connector's name", []connector.Connector{&router{fake: fake{"a", wg}, patterns: []string{"GET /hooks/gorgias/ab/widget"}}}, "outside"},
		{"route under an unknown vendor", []connector.Connector{&router{fake: fake{"a", wg}, patterns: []string{"GET /hooks/zendesk/a"}}}, "outside"},
		{"route prefix of a longer name", []connector.Connector{&router{fake: fake{"a", wg}, patterns: []string{"POST /install/ab"}}}, "outside"},
		{"route without a method", []connector.Connector{&router{fake: fake{"a", wg}, patterns: []string{"/install/a"}}}, "METHOD /path"},
		{"route without a handler", []connector.Connector{&nilRoute{fake{"a", wg}}}, "has no handler"},
		{"sync kind without a syncer", []connector.Connector{&nilSyncer{fake{"a", wg}}}, "sync kind a-customer has no syncer"},
		{"admin route shadowing install", []connector.Connector{&adminer{fake: fake{"a", wg}, paths: []string{"install"}}}, "shadows the server's own install route"},
		{"admin route with a bad path", []connector.Connector{&adminer{fake: fake{"a", wg}, paths: []string{"../merchants"}}}, "lower-case segments"},
		{"admin route with an empty segment", []connector.Connector{&adminer{fake: fake{"a", wg}, paths: []string{"audit/"}}}, "lower-case segments"},
		{"admin route declared twice", []connector.Connector{&adminer{fake: fake{"a", wg}, paths: []string{"audit", "audit"}}}, "declared twice"},
		{"route in a short namespace of another name", []connector.Connector{&router{fake: fake{"ab-c", wg}, patterns: []string{"GET /install/a"}}}, "outside"},
		{"duplicate route", []connector.Connector{&router{fake: fake{"a", wg}, patterns: []string{"GET /install/a", "GET /install/a"}}}, "already belongs to a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			set, err := connector.Build(tc.cs...)
			if err == nil {
				t.Fatalf("Build accepted it: %d connectors", len(set.All()))
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

// Build reports every problem at once, not only the first.
func TestBuildReportsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := connector.Build(&fake{"a", nil}, &fake{"B", wg}, &router{fake: fake{"c", wg}, patterns: []string{"GET /x"}})
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"declares no roles", "lower-case", "outside"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q misses %q", err, want)
		}
	}
}

func TestCheckInstallation(t *testing.T) {
	t.Parallel()
	set, err := connector.Build(&fake{"a", wg})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		in   domain.Installation
		want string // "" = accepted
	}{
		{"complete", domain.Installation{Connector: "a", Connections: map[string]string{"whiplash": "c1", "gorgias": "c2"}}, ""},
		{"unknown connector", domain.Installation{Connector: "zz", Connections: map[string]string{"whiplash": "c1", "gorgias": "c2"}}, `unknown connector "zz" (this hub runs a)`},
		{"missing role", domain.Installation{Connector: "a", Connections: map[string]string{"whiplash": "c1"}}, "needs a gorgias connection"},
		{"extra role", domain.Installation{Connector: "a", Connections: map[string]string{"whiplash": "c1", "gorgias": "c2", "klaviyo": "c3"}}, "takes no klaviyo connection"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := set.CheckInstallation(&tc.in)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && err == nil:
				t.Fatal("accepted")
			case tc.want != "" && (domain.ErrorCode(err) != domain.EINVALID || !strings.Contains(domain.ErrorMessage(err), tc.want)):
				t.Fatalf("error %v, want EINVALID saying %q", err, tc.want)
			}
		})
	}
}

// configured takes operator configuration.
type configured struct {
	fake
	got map[string]string
}

func (c *configured) ConfigKeys() []string { return []string{"client_id", "public_url"} }
func (c *configured) ConfigureFrom(get func(string) string) error {
	c.got = map[string]string{"client_id": get("client_id"), "public_url": get("public_url")}
	if u := c.got["public_url"]; u != "" && !strings.HasPrefix(u, "https://") {
		return domain.Errorf(domain.EINVALID, "public_url must be https")
	}
	return nil
}

func TestConfigure(t *testing.T) {
	t.Parallel()
	build := func() (*connector.Set, *configured) {
		c := &configured{fake: fake{"a-b", wg}}
		set, err := connector.Build(c, &fake{"plain", wg})
		if err != nil {
			t.Fatal(err)
		}
		return set, c
	}
	set, c := build()
	if err := set.Configure(map[string]string{"a-b.client_id": "app1"}); err != nil {
		t.Fatal(err)
	}
	if c.got["client_id"] != "app1" || c.got["public_url"] != "" {
		t.Errorf("configured with %v", c.got)
	}
	set, c = build()
	if err := set.Configure(nil); err != nil || c.got == nil {
		t.Errorf("no values: %v, configured %v (want called with empty values)", err, c.got)
	}
	for _, tc := range []struct{ key, value, want string }{
		{"client_id", "x", "must be NAME.KEY"},
		{"zz.client_id", "x", "no connector zz"},
		{"plain.client_id", "x", "plain takes no configuration"},
		{"a-b.secret", "x", "a-b takes client_id, public_url"},
		{"a-b.public_url", "http://hub", "public_url must be https"},
	} {
		set, _ := build()
		err := set.Configure(map[string]string{tc.key: tc.value})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%s: %v, want %q", tc.key, tc.value, err, tc.want)
		}
	}
}

// applier applies its events in the ingest transaction.
type applier struct {
	receiver
	apply *domain.EventApply
}

func (a *applier) ApplyOnIngest(*domain.Installation, *domain.InboundEvent) *domain.EventApply {
	return a.apply
}

func TestSetApplyOnIngest(t *testing.T) {
	want := &domain.EventApply{}
	wl := map[string]ingest.Source{domain.VendorWhiplash: connector.WhiplashSource{}}
	s, err := connector.Build(
		&applier{receiver: receiver{fake: fake{name: "a", roles: []string{domain.VendorWhiplash, domain.VendorGorgias}}, sources: wl}, apply: want},
		&receiver{fake: fake{name: "r", roles: []string{domain.VendorWhiplash}}, sources: wl},
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		conn, vendor string
		want         *domain.EventApply
	}{
		{"a", domain.VendorWhiplash, want},
		{"a", domain.VendorGorgias, nil},  // not a webhook source of a
		{"r", domain.VendorWhiplash, nil}, // no IngestApplier: its job handles it
		{"unknown", domain.VendorWhiplash, nil},
	} {
		got := s.ApplyOnIngest(&domain.Installation{Connector: c.conn}, &domain.InboundEvent{Vendor: c.vendor})
		if got != c.want {
			t.Errorf("ApplyOnIngest(%s, %s) = %p, want %p", c.conn, c.vendor, got, c.want)
		}
	}
}
