package connector

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"switchyard/internal/domain"
	"switchyard/internal/ingest"
	"switchyard/internal/jobs"
)

// Set is the hub's connectors, checked for consistency when it is built, and
// the tables the rest of the hub derives from them.
type Set struct {
	all      []Connector
	byName   map[string]Connector
	handlers map[string]jobs.EventHandler
	syncers  map[string]jobs.Syncer
	sources  map[string]ingest.Source
	receives map[string]map[string]bool // connector → vendors it takes webhooks from
	routes   []Route
	admin    map[string]map[string]AdminRoute // "METHOD path" → connector → route
}

// NewSet builds every factory with d and checks the result: names unique and
// well-formed, roles known vendors, webhook sources only for the
// connector's own roles (one contract per vendor across connectors), sync
// kinds unique, routes under the connector's own prefixes and unique.
func NewSet(d Deps, factories ...Factory) (*Set, error) {
	cs := make([]Connector, 0, len(factories))
	for _, f := range factories {
		cs = append(cs, f(d))
	}
	return Build(cs...)
}

// Build checks already built connectors (see NewSet).
func Build(cs ...Connector) (*Set, error) {
	s := &Set{byName: map[string]Connector{}, handlers: map[string]jobs.EventHandler{}, syncers: map[string]jobs.Syncer{}, sources: map[string]ingest.Source{}, receives: map[string]map[string]bool{}, admin: map[string]map[string]AdminRoute{}}
	var errs []error
	syncOwner := map[string]string{}
	patterns := map[string]string{}
	for _, c := range cs {
		name := c.Name()
		if !validName(name) {
			errs = append(errs, fmt.Errorf("connector name %q must be lower-case letters, digits and dashes", name))
			continue
		}
		if _, dup := s.byName[name]; dup {
			errs = append(errs, fmt.Errorf("connector %s is registered twice", name))
			continue
		}
		s.byName[name] = c
		s.all = append(s.all, c)
		roles := c.Roles()
		if len(roles) == 0 {
			errs = append(errs, fmt.Errorf("connector %s declares no roles", name))
		}
		for _, r := range roles {
			if !domain.IsVendor(r) {
				errs = append(errs, fmt.Errorf("connector %s: role %q is not a vendor", name, r))
			}
		}
		if wr, ok := c.(WebhookReceiver); ok {
			srcs := wr.Sources()
			if len(srcs) == 0 {
				errs = append(errs, fmt.Errorf("connector %s handles events but declares no webhook source", name))
			}
			for vendor, src := range srcs {
				if !slices.Contains(roles, vendor) {
					errs = append(errs, fmt.Errorf("connector %s: webhook source %s is not one of its roles %v", name, vendor, roles))
				}
				if prev, ok := s.sources[vendor]; ok && reflect.TypeOf(prev) != reflect.TypeOf(src) {
					errs = append(errs, fmt.Errorf("connector %s: a different %s webhook contract is already registered (%T)", name, vendor, prev))
				}
				s.sources[vendor] = src
				if s.receives[name] == nil {
					s.receives[name] = map[string]bool{}
				}
				s.receives[name][vendor] = true
			}
			s.handlers[name] = wr
		}
		if sr, ok := c.(SyncRunner); ok {
			for kind, sy := range sr.Syncers() {
				if owner, dup := syncOwner[kind]; dup {
					errs = append(errs, fmt.Errorf("connector %s: sync kind %s already belongs to %s", name, kind, owner))
					continue
				}
				if sy == nil {
					errs = append(errs, fmt.Errorf("connector %s: sync kind %s has no syncer", name, kind))
					continue
				}
				syncOwner[kind] = name
				s.syncers[kind] = sy
			}
		}
		if rp, ok := c.(RouteProvider); ok {
			for _, rt := range rp.Routes() {
				if err := checkRoute(name, rt); err != nil {
					errs = append(errs, err)
					continue
				}
				if owner, dup := patterns[rt.Pattern]; dup {
					errs = append(errs, fmt.Errorf("connector %s: route %q already belongs to %s", name, rt.Pattern, owner))
					continue
				}
				patterns[rt.Pattern] = name
				s.routes = append(s.routes, rt)
			}
		}
		if ap, ok := c.(AdminRouteProvider); ok {
			for _, rt := range ap.AdminRoutes() {
				if err := checkAdminRoute(name, rt); err != nil {
					errs = append(errs, err)
					continue
				}
				key := rt.Method + " " + rt.Path
				if _, dup := s.admin[key][name]; dup {
					errs = append(errs, fmt.Errorf("connector %s: admin route %q is declared twice", name, key))
					continue
				}
				if s.admin[key] == nil {
					s.admin[key] = map[string]AdminRoute{}
				}
				s.admin[key][name] = rt
			}
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("connector registry: %w", errors.Join(errs...))
	}
	return s, nil
}

func validName(n string) bool {
	if n == "" || n[0] == '-' || n[len(n)-1] == '-' {
		return false
	}
	for _, r := range n {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}

// reservedAdmin are the installation sub-routes the server itself serves.
var reservedAdmin = []string{"install", "uninstall", "backfill"}

// checkAdminRoute checks an admin route's method and relative path.
func checkAdminRoute(name string, rt AdminRoute) error {
	key := rt.Method + " " + rt.Path
	if rt.Handle == nil {
		return fmt.Errorf("connector %s: admin route %q has no handler", name, key)
	}
	switch rt.Method {
	case "GET", "POST", "PUT", "PATCH", "DELETE":
	default:
		return fmt.Errorf("connector %s: admin route %q: method must be GET, POST, PUT, PATCH or DELETE", name, key)
	}
	segs := strings.Split(rt.Path, "/")
	for _, seg := range segs {
		if !validName(seg) {
			return fmt.Errorf("connector %s: admin route %q: path must be lower-case segments of letters, digits and dashes", name, key)
		}
	}
	if slices.Contains(reservedAdmin, segs[0]) {
		return fmt.Errorf("connector %s: admin route %q shadows the server's own %s route", name, key, segs[0])
	}
	return nil
}

// AdminRoutes are the connectors' admin routes: "METHOD path" → connector
// name → route.
func (s *Set) AdminRoutes() map[string]map[string]AdminRoute { return s.admin }

// namespaces are the path prefixes a connector's install and OAuth routes
// may use: its name, and the name's first part when that is unique
// ("yotpo-gorgias" also serves /install/yotpo; route uniqueness across
// connectors is checked separately).
func namespaces(name string) []string {
	ns := []string{name}
	if short, _, ok := strings.Cut(name, "-"); ok {
		ns = append(ns, short)
	}
	return ns
}

// checkRoute keeps a connector's routes in its own namespace, so no
// connector can shadow the admin API, ingest or another connector.
func checkRoute(name string, rt Route) error {
	if rt.Handler == nil {
		return fmt.Errorf("connector %s: route %q has no handler", name, rt.Pattern)
	}
	method, path, ok := strings.Cut(rt.Pattern, " ")
	if !ok || method == "" || !strings.HasPrefix(path, "/") {
		return fmt.Errorf("connector %s: route %q must be \"METHOD /path\"", name, rt.Pattern)
	}
	for _, ns := range namespaces(name) {
		for _, prefix := range []string{"/install/" + ns, "/oauth/callback/" + ns} {
			if path == prefix || strings.HasPrefix(path, prefix+"/") {
				return nil
			}
		}
	}
	if rest, ok := strings.CutPrefix(path, "/hooks/"); ok {
		if vendor, tail, ok := strings.Cut(rest, "/"); ok && domain.IsVendor(vendor) && (tail == name || strings.HasPrefix(tail, name+"/")) {
			return nil
		}
	}
	return fmt.Errorf("connector %s: route %q is outside /hooks/{vendor}/%s/, /install/%s and /oauth/callback/%s (or /install/%s…)", name, rt.Pattern, name, name, name, namespaces(name)[len(namespaces(name))-1])
}

// Configure applies operator configuration ("NAME.KEY" → value) to the
// set's connectors: a key of an unknown connector, of one that takes no
// configuration or not among its ConfigKeys is an error, and so is what a
// connector's ConfigureFrom refuses. Every Configurable connector is
// configured, with "" for keys not given.
func (s *Set) Configure(values map[string]string) error {
	byConnector := map[string]map[string]string{}
	for k, v := range values {
		name, key, ok := strings.Cut(k, ".")
		if !ok || name == "" || key == "" {
			return domain.Errorf(domain.EINVALID, "connector config key %q must be NAME.KEY (e.g. yotpo-gorgias.gorgias_client_id)", k)
		}
		c, ok := s.byName[name]
		if !ok {
			return domain.Errorf(domain.EINVALID, "connector config %q: no connector %s", k, name)
		}
		cf, ok := c.(Configurable)
		if !ok {
			return domain.Errorf(domain.EINVALID, "connector config %q: %s takes no configuration", k, name)
		}
		if !slices.Contains(cf.ConfigKeys(), key) {
			return domain.Errorf(domain.EINVALID, "connector config %q: %s takes %s", k, name, strings.Join(cf.ConfigKeys(), ", "))
		}
		if byConnector[name] == nil {
			byConnector[name] = map[string]string{}
		}
		byConnector[name][key] = v
	}
	for _, c := range s.all {
		cf, ok := c.(Configurable)
		if !ok {
			continue
		}
		vals := byConnector[c.Name()]
		if err := cf.ConfigureFrom(func(key string) string { return vals[key] }); err != nil {
			return fmt.Errorf("connector %s: %w", c.Name(), err)
		}
	}
	return nil
}

// Get returns the connector named name.
func (s *Set) Get(name string) (Connector, bool) {
	c, ok := s.byName[name]
	return c, ok
}

// All returns the connectors in registry order.
func (s *Set) All() []Connector { return slices.Clone(s.all) }

// Handlers are the event handlers by connector name.
func (s *Set) Handlers() map[string]jobs.EventHandler { return s.handlers }

// ApplyOnIngest returns what an event of in applies in its ingest
// transaction (IngestApplier), or nil when its connector processes it with
// a job.
func (s *Set) ApplyOnIngest(in *domain.Installation, ev *domain.InboundEvent) *domain.EventApply {
	ia, ok := s.byName[in.Connector].(IngestApplier)
	if !ok || !s.receives[in.Connector][ev.Vendor] {
		return nil
	}
	return ia.ApplyOnIngest(in, ev)
}

// Syncers are the syncers by sync kind.
func (s *Set) Syncers() map[string]jobs.Syncer { return s.syncers }

// Sources are the webhook contracts by vendor.
func (s *Set) Sources() map[string]ingest.Source { return s.sources }

// Receives reports whether the connector takes the vendor's webhooks (for
// ingest: an installation gets only its own connector's webhooks).
func (s *Set) Receives(connector, vendor string) bool { return s.receives[connector][vendor] }

// Routes are the connectors' own HTTP routes.
func (s *Set) Routes() []Route { return slices.Clone(s.routes) }

// CheckInstallation checks that in names a registered connector and links a
// connection for each of its roles.
func (s *Set) CheckInstallation(in *domain.Installation) error {
	c, ok := s.byName[in.Connector]
	if !ok {
		names := make([]string, 0, len(s.all))
		for _, c := range s.all {
			names = append(names, c.Name())
		}
		return domain.Errorf(domain.EINVALID, "unknown connector %q (this hub runs %s)", in.Connector, strings.Join(names, ", "))
	}
	for _, r := range c.Roles() {
		if in.Connections[r] == "" {
			return domain.Errorf(domain.EINVALID, "connector %s needs a %s connection", in.Connector, r)
		}
	}
	for r := range in.Connections {
		if !slices.Contains(c.Roles(), r) {
			return domain.Errorf(domain.EINVALID, "connector %s takes no %s connection (roles: %s)", in.Connector, r, strings.Join(c.Roles(), ", "))
		}
	}
	return nil
}
