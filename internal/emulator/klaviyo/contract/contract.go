// Package contract holds copies of Klaviyo's published OpenAPI operations
// (profiles, events, lists; revision 2026-07-15, klaviyo/openapi commit
// f0a30ba4, MIT licence in spec/LICENSE) and reads what switchyard needs from
// them: the per-operation rate limits (x-klaviyo-ratelimit), scopes
// (x-klaviyo-scopes), filter grammar (x-klaviyo-filters), and a small
// OpenAPI 3.0 validator for requests and responses.
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
	"net/http"
	"sort"
	"strconv"
	"strings"
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
	doc      *document
	segments []string
}

// Label is "METHOD /path/template", the form used for endpoint labels.
func (o *Operation) Label() string { return o.Method + " " + o.Path }

type document struct {
	name    string
	root    map[string]any
	schemas map[string]any
}

// Spec is the parsed set of contract documents.
type Spec struct {
	// Revision is info.version of the documents (they must agree).
	Revision string
	ops      []*Operation
	byID     map[string]*Operation
}

// Load parses the embedded contract.
func Load() (*Spec, error) {
	docs := map[string][]byte{}
	for _, n := range DocumentNames() {
		b, err := fs.ReadFile(Files(), n)
		if err != nil {
			return nil, fmt.Errorf("error reading embedded contract %s: %w", n, err)
		}
		docs[n] = b
	}
	return Parse(docs)
}

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
		d := &document{name: name, root: root}
		if comps, ok := root["components"].(map[string]any); ok {
			d.schemas, _ = comps["schemas"].(map[string]any)
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
				o, err := newOperation(d, strings.ToUpper(m), path, op)
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

func isMethod(m string) bool {
	switch strings.ToLower(m) {
	case "get", "post", "put", "patch", "delete", "head", "options":
		return true
	}
	return false
}

func newOperation(d *document, method, path string, op map[string]any) (*Operation, error) {
	o := &Operation{Method: method, Path: path, Document: d.name, raw: op, doc: d, segments: splitPath(path)}
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

// mediaType returns the bare, lower-cased media type of a Content-Type value.
func mediaType(ct string) string {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.ToLower(strings.TrimSpace(mt))
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

// responseFor finds the response object documented for status: the exact
// code, then the "NXX" range, then "default".
func (o *Operation) responseFor(status int) (map[string]any, bool) {
	rs, _ := o.raw["responses"].(map[string]any)
	for _, k := range []string{strconv.Itoa(status), strconv.Itoa(status/100) + "XX", "default"} {
		if r, ok := rs[k].(map[string]any); ok {
			return o.doc.deref(r), true
		}
	}
	return nil, false
}

// deref follows a local "#/components/..." $ref (one level of chaining is
// enough for Klaviyo's documents, but it loops to be safe).
func (d *document) deref(m map[string]any) map[string]any {
	for i := 0; i < 16; i++ {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		next := d.resolve(ref)
		if next == nil {
			return m
		}
		m = next
	}
	return m
}

func (d *document) resolve(ref string) map[string]any {
	if !strings.HasPrefix(ref, "#/") {
		return nil
	}
	var cur any = d.root
	for _, part := range strings.Split(ref[2:], "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	out, _ := cur.(map[string]any)
	return out
}

// StatusText is a helper for error messages.
func statusText(code int) string { return strconv.Itoa(code) + " " + http.StatusText(code) }
