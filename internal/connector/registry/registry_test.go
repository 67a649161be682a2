package registry_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"switchyard/internal/connector"
	"switchyard/internal/connector/registry"
	"switchyard/internal/domain"
	"switchyard/internal/jobs"
)

// The real registry passes every check of connector.Set.
func TestRegistryBuilds(t *testing.T) {
	t.Parallel()
	set, err := registry.Build(connector.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(set.All()), len(registry.Factories); got != want {
		t.Fatalf("%d connectors built from %d factories", got, want)
	}
}

// Every registered connector has what its roles need for the hub to run it.
func TestEveryConnectorHasThePiecesItsRolesNeed(t *testing.T) {
	t.Parallel()
	set, err := registry.Build(connector.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range set.All() {
		for _, p := range missingPieces(c) {
			t.Errorf("connector %s: %s", c.Name(), p)
		}
	}
}

// missingPieces lists what c lacks, beyond what Set checks:
//
//   - a client: each role is a vendor connector.Clients can build a client
//     for (a method named after the vendor: Gorgias, Klaviyo, Whiplash, …),
//     or one the connector says it builds itself (connector.ClientBuilder);
//   - whole capabilities: the server and app discover a capability by type
//     assertion, so one implemented in part (a method missing or with another
//     signature) would be ignored without a word.
func missingPieces(c connector.Connector) []string {
	var out []string
	var own []string
	if cb, ok := c.(connector.ClientBuilder); ok {
		own = cb.BuildsClients()
	}
	for _, role := range c.Roles() {
		if !clientBuilder(role) && !slices.Contains(own, role) {
			out = append(out, fmt.Sprintf("role %s: connector.Clients has no %s client builder (func (*Clients) %s(ctx, merchantID, connID string) (*client, error))", role, role, exported(role)))
		}
	}
	for _, capability := range capabilities {
		out = append(out, partly(c, capability)...)
	}
	return out
}

// capabilities are the optional interfaces a connector may implement.
var capabilities = []reflect.Type{
	reflect.TypeFor[connector.WebhookReceiver](),
	reflect.TypeFor[connector.IngestApplier](),
	reflect.TypeFor[connector.SyncRunner](),
	reflect.TypeFor[connector.RouteProvider](),
	reflect.TypeFor[connector.Backfiller](),
	reflect.TypeFor[connector.Uninstaller](),
	reflect.TypeFor[connector.SettingsValidator](),
	reflect.TypeFor[connector.ClientBuilder](),
}

// partly reports c having some of capability's methods by name without
// implementing it.
func partly(c connector.Connector, capability reflect.Type) []string {
	ct := reflect.TypeOf(c)
	if ct.Implements(capability) {
		return nil
	}
	var has, lacks []string
	for i := range capability.NumMethod() {
		m := capability.Method(i)
		if cm, ok := ct.MethodByName(m.Name); ok {
			has = append(has, fmt.Sprintf("%s%s", m.Name, strings.TrimPrefix(cm.Type.String(), "func")))
		} else {
			lacks = append(lacks, m.Name)
		}
	}
	if len(has) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("implements %s only in part: has %s, lacks or mistypes %v (want %s)", capability.Name(), strings.Join(has, ", "), lacks, capability)}
}

// clientBuilder reports whether connector.Clients has a builder for vendor.
func clientBuilder(vendor string) bool {
	m, ok := reflect.TypeFor[*connector.Clients]().MethodByName(exported(vendor))
	if !ok {
		return false
	}
	ft := m.Type // with the receiver
	return ft.NumIn() == 4 && ft.In(1) == reflect.TypeFor[context.Context]() && ft.In(2).Kind() == reflect.String && ft.In(3).Kind() == reflect.String &&
		ft.NumOut() == 2 && ft.Out(1) == reflect.TypeFor[error]()
}

func exported(vendor string) string {
	if vendor == "" {
		return ""
	}
	return strings.ToUpper(vendor[:1]) + vendor[1:]
}

// The check above fails on connectors that lack a piece; otherwise it
// could pass by never looking.
func TestMissingPiecesFindsWhatIsMissing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		c    connector.Connector
		want string
	}{
		{"a role no client serves", &bare{"shopify-gorgias", []string{domain.VendorShopify, domain.VendorGorgias}}, "no shopify client builder"},
		{"a connector that builds another vendor's client", &ownClients{bare{"shopify-gorgias", []string{domain.VendorShopify, domain.VendorGorgias}}, []string{domain.VendorYotpo}}, "no shopify client builder"},
		{"half a backfill", &halfBackfill{bare{"half", []string{domain.VendorGorgias}}}, "implements Backfiller only in part"},
		{"a handler without sources", &handlerOnly{bare{"deaf", []string{domain.VendorGorgias}}}, "implements WebhookReceiver only in part"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := missingPieces(tc.c)
			if !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, tc.want) }) {
				t.Fatalf("missing %q, want one saying %q", got, tc.want)
			}
		})
	}
	if got := missingPieces(&bare{"gorgias-klaviyo", []string{domain.VendorGorgias, domain.VendorKlaviyo}}); len(got) != 0 {
		t.Fatalf("a complete connector is missing %q", got)
	}
	if got := missingPieces(&ownClients{bare{"shopify-gorgias", []string{domain.VendorShopify, domain.VendorGorgias}}, []string{domain.VendorShopify}}); len(got) != 0 {
		t.Fatalf("a connector that builds its Shopify client itself is missing %q", got)
	}
}

type bare struct {
	name  string
	roles []string
}

func (b *bare) Name() string                                        { return b.name }
func (b *bare) Roles() []string                                     { return b.roles }
func (b *bare) Install(context.Context, *domain.Installation) error { return nil }

type halfBackfill struct{ bare }

func (*halfBackfill) StartBackfill(context.Context, *domain.Installation) error { return nil }

type handlerOnly struct{ bare }

func (*handlerOnly) HandleEvent(context.Context, *domain.Installation, *domain.InboundEvent) (jobs.Outcome, error) {
	return jobs.Handled, nil
}

// ownClients builds the clients of some vendors itself.
type ownClients struct {
	bare
	vendors []string
}

func (o *ownClients) BuildsClients() []string { return o.vendors }
