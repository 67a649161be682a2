// Package contract holds copies of Klaviyo's published OpenAPI operations
// (profiles, events, lists; revision 2026-07-15, klaviyo/openapi commit
// f0a30ba4, MIT licence in spec/LICENSE) and reads what switchyard needs from
// them: the per-operation rate limits (x-klaviyo-ratelimit), scopes
// (x-klaviyo-scopes), filter grammar (x-klaviyo-filters), and validation of
// requests and responses (kin-openapi's openapi3filter).
//
// The emulator loads its fixed-window limits from here at startup; tests of
// the emulator and of the production client validate every exchange against
// the same documents.
package contract

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
)

//go:embed spec/profiles.json spec/events.json spec/lists.json spec/LICENSE spec/SOURCE
var embedded embed.FS

// Files returns the embedded contract files (profiles.json, events.json,
// lists.json, LICENSE, SOURCE) at the root of the returned file system.
func Files() fs.FS {
	sub, err := fs.Sub(embedded, "spec")
	if err != nil { // cannot happen: the directory is embedded
		panic(err)
	}
	return sub
}

// DocumentNames lists the contract documents in load order.
func DocumentNames() []string { return []string{"profiles.json", "events.json", "lists.json"} }

// RateLimit is one operation's published limit: Burst calls per second,
// Steady calls per minute and, when non-zero, Daily calls per day.
type RateLimit struct {
	Burst  int `json:"burst"`
	Steady int `json:"steady"`
	Daily  int `json:"daily,omitempty"`
}

// Tier names the published tier a limit belongs to (XS, S, M, L, XL), or
// "b<burst>s<steady>" for a combination outside the published table.
func (l RateLimit) Tier() string {
	switch [2]int{l.Burst, l.Steady} {
	case [2]int{1, 15}:
		return "XS"
	case [2]int{3, 60}:
		return "S"
	case [2]int{10, 150}:
		return "M"
	case [2]int{75, 700}, [2]int{75, 750}:
		return "L"
	case [2]int{350, 3500}:
		return "XL"
	}
	return fmt.Sprintf("b%ds%d", l.Burst, l.Steady)
}

// FilterField describes one field allowed in an operation's filter
// parameter: the operators that take a single value and those that take a
// list, and the value's type and format.
type FilterField struct {
	Single []string
	List   []string
	Type   string
	Format string
}

// Allows reports whether op may be used on the field, with a list value
// (list) or a single value.
func (f FilterField) Allows(op string, list bool) bool {
	ops := f.Single
	if list {
		ops = f.List
	}
	for _, o := range ops {
		if o == op {
			return true
		}
	}
	return false
}

// Operation is one documented method on one path.
type Operation struct {
	ID     string
	Method string
	// Path is the template, e.g. "/api/lists/{id}/relationships/profiles".
	Path    string
	Scopes  []string
	Limit   RateLimit
	Filters map[string]FilterField
	// Document is the file the operation comes from (e.g. "profiles.json").
	Document string

	raw      map[string]any
	route    *routers.Route
	segments []string
}

// Label is "METHOD /path/template", the form used for endpoint labels.
func (o *Operation) Label() string { return o.Method + " " + o.Path }

// Spec is the parsed set of contract documents.
type Spec struct {
	// Revision is info.version of the documents (they must agree).
	Revision string
	ops      []*Operation
	byID     map[string]*Operation
}

// Load returns the embedded contract, parsed once per process (kin-openapi
// takes about a second per parse; the result is never modified).
func Load() (*Spec, error) { return loadEmbedded() }

var loadEmbedded = sync.OnceValues(func() (*Spec, error) {
	docs := map[string][]byte{}
	for _, n := range DocumentNames() {
		b, err := fs.ReadFile(Files(), n)
		if err != nil {
			return nil, fmt.Errorf("error reading embedded contract %s: %w", n, err)
		}
		docs[n] = b
	}
	return Parse(docs)
})

// Parse parses contract documents given by name. Tests use it to load a
// modified contract.
func Parse(docs map[string][]byte) (*Spec, error) {
	s := &Spec{byID: map[string]*Operation{}}
	names := make([]string, 0, len(docs))
	for n := range docs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		var root map[string]any
		if err := json.Unmarshal(docs[name], &root); err != nil {
			return nil, fmt.Errorf("error parsing contract %s: %w", name, err)
		}
		kin, err := loadKin(docs[name])
		if err != nil {
			return nil, fmt.Errorf("error loading contract %s with kin-openapi: %w", name, err)
		}
		if info, ok := root["info"].(map[string]any); ok {
			if v, _ := info["version"].(string); v != "" {
				if s.Revision != "" && s.Revision != v {
					return nil, fmt.Errorf("contract %s has revision %s, others %s", name, v, s.Revision)
				}
				s.Revision = v
			}
		}
		paths, _ := root["paths"].(map[string]any)
		for path, item := range paths {
			methods, _ := item.(map[string]any)
			for m, rawOp := range methods {
				op, ok := rawOp.(map[string]any)
				if !ok || !isMethod(m) {
					continue
				}
				o, err := newOperation(name, strings.ToUpper(m), path, op)
				if err == nil {
					o.route, err = kinRoute(kin, o.Method, path)
				}
				if err != nil {
					return nil, fmt.Errorf("contract %s %s %s: %w", name, m, path, err)
				}
				s.ops = append(s.ops, o)
				if o.ID != "" {
					s.byID[o.ID] = o
				}
			}
		}
	}
	sort.Slice(s.ops, func(i, j int) bool { return s.ops[i].Label() < s.ops[j].Label() })
	return s, nil
}

// loadKin loads a document with kin-openapi. Klaviyo marks referenced
// schemas nullable with a sibling of $ref ({"$ref": …, "nullable": true});
// OpenAPI 3.0 says siblings of $ref are ignored, and kin-openapi does so, so
// a documented null (say a profile's "location": null) would be refused.
// Each such $ref is first wrapped as {"allOf": [{"$ref": …}], "nullable":
// true}, which says the same in 3.0 terms.
func loadKin(doc []byte) (*openapi3.T, error) {
	var root any
	if err := json.Unmarshal(doc, &root); err != nil {
		return nil, err
	}
	b, err := json.Marshal(wrapNullableRefs(root))
	if err != nil {
		return nil, err
	}
	return openapi3.NewLoader().LoadFromData(b)
}

func wrapNullableRefs(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = wrapNullableRefs(e)
		}
		if ref, ok := x["$ref"]; ok && x["nullable"] == true {
			out := map[string]any{"allOf": []any{map[string]any{"$ref": ref}}, "nullable": true}
			if d, ok := x["description"]; ok {
				out["description"] = d
			}
			return out
		}
	case []any:
		for i, e := range x {
			x[i] = wrapNullableRefs(e)
		}
	}
	return v
}

func isMethod(m string) bool {
	switch strings.ToLower(m) {
	case "get", "post", "put", "patch", "delete", "head", "options":
		return true
	}
	return false
}

func newOperation(docName, method, path string, op map[string]any) (*Operation, error) {
	o := &Operation{Method: method, Path: path, Document: docName, raw: op, segments: splitPath(path)}
	o.ID, _ = op["operationId"].(string)
	if sc, ok := op["x-klaviyo-scopes"].([]any); ok {
		for _, v := range sc {
			if s, ok := v.(string); ok {
				o.Scopes = append(o.Scopes, s)
			}
		}
	}
	if rl, ok := op["x-klaviyo-ratelimit"].(map[string]any); ok {
		var err error
		if o.Limit.Burst, err = parseRate(rl["burst"], "s"); err != nil {
			return nil, fmt.Errorf("burst: %w", err)
		}
		if o.Limit.Steady, err = parseRate(rl["steady"], "m"); err != nil {
			return nil, fmt.Errorf("steady: %w", err)
		}
		if o.Limit.Daily, err = parseRate(rl["daily"], "d"); err != nil {
			return nil, fmt.Errorf("daily: %w", err)
		}
	}
	if fl, ok := op["x-klaviyo-filters"].(map[string]any); ok {
		o.Filters = map[string]FilterField{}
		for field, v := range fl {
			m, _ := v.(map[string]any)
			var ff FilterField
			if ops, ok := m["operators"].(map[string]any); ok {
				ff.Single = strList(ops["single"])
				ff.List = strList(ops["list"])
			}
			if val, ok := m["value"].(map[string]any); ok {
				ff.Type, _ = val["type"].(string)
				ff.Format, _ = val["format"].(string)
			}
			o.Filters[field] = ff
		}
	}
	return o, nil
}

func strList(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// parseRate reads "75/s"-style values; absent values are 0.
func parseRate(v any, unit string) (int, error) {
	if v == nil {
		return 0, nil
	}
	s, ok := v.(string)
	if !ok {
		return 0, fmt.Errorf("rate %v is not a string", v)
	}
	n, u, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok || u != unit {
		return 0, fmt.Errorf("rate %q is not N/%s", s, unit)
	}
	i, err := strconv.Atoi(n)
	if err != nil || i <= 0 {
		return 0, fmt.Errorf("rate %q has no positive count", s)
	}
	return i, nil
}

func splitPath(p string) []string { return strings.Split(strings.Trim(p, "/"), "/") }

// Operations returns every operation, sorted by label.
func (s *Spec) Operations() []*Operation { return append([]*Operation(nil), s.ops...) }

// Operation returns the operation with the given operationId, or nil.
func (s *Spec) Operation(id string) *Operation { return s.byID[id] }

// Find returns the operation serving method on a concrete path, and the path
// parameters. Templates with more literal segments win.
func (s *Spec) Find(method, path string) (*Operation, map[string]string) {
	segs := splitPath(path)
	var (
		best       *Operation
		bestParams map[string]string
		bestLit    = -1
	)
	for _, o := range s.ops {
		if o.Method != method || len(o.segments) != len(segs) {
			continue
		}
		params, lit, ok := match(o.segments, segs)
		if ok && lit > bestLit {
			best, bestParams, bestLit = o, params, lit
		}
	}
	return best, bestParams
}

// FindLabel returns the operation for a "METHOD /template" label, or nil.
func (s *Spec) FindLabel(label string) *Operation {
	m, p, _ := strings.Cut(label, " ")
	for _, o := range s.ops {
		if o.Method == m && o.Path == p {
			return o
		}
	}
	return nil
}

func match(tpl, segs []string) (map[string]string, int, bool) {
	params := map[string]string{}
	lit := 0
	for i, t := range tpl {
		if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") {
			if segs[i] == "" {
				return nil, 0, false
			}
			params[t[1:len(t)-1]] = segs[i]
			continue
		}
		if t != segs[i] {
			return nil, 0, false
		}
		lit++
	}
	return params, lit, true
}

// HasRequestBody reports whether the operation documents a request body.
func (o *Operation) HasRequestBody() bool {
	_, ok := o.raw["requestBody"].(map[string]any)
	return ok
}

// ResponseStatuses lists the documented response keys ("200", "4XX", …).
func (o *Operation) ResponseStatuses() []string {
	rs, _ := o.raw["responses"].(map[string]any)
	out := make([]string, 0, len(rs))
	for k := range rs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
