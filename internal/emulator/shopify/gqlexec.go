package shopify

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
)

// Execution of a validated query (gqlparser AST) against the resolvers,
// with Shopify's cost model (docs/assumptions/shopify.md, "Cost model"):
// scalars and enums cost 0; an object, or a list of objects, costs 1 plus
// its children; a connection costs 2 + first/last × (1 + the node's
// children); pageInfo and edges are free. requested computes the cost
// before execution from the arguments, exec the actual cost of what came
// back.

// maxPageSize is the largest first/last Shopify accepts on a connection.
const maxPageSize = 250

type execCtx struct {
	schema    *ast.Schema
	doc       *ast.QueryDocument
	resolvers resolverMap
	vars      map[string]any
	shop      *shopState
	scopes    map[string]bool
	now       time.Time
	errs      []*gqlError
	search    []string
	collected int // fields visited by requested
}

// fieldGroup is the fields of one response key, merged as the spec's
// CollectFields does (validation made them mergeable).
type fieldGroup struct {
	key    string
	fields []*ast.Field
}

// sel is the merged sub-selection of the group.
func (g fieldGroup) sel() ast.SelectionSet {
	if len(g.fields) == 1 {
		return g.fields[0].SelectionSet
	}
	var out ast.SelectionSet
	for _, f := range g.fields {
		out = append(out, f.SelectionSet...)
	}
	return out
}

func responseKey(f *ast.Field) string {
	if f.Alias != "" {
		return f.Alias
	}
	return f.Name
}

// collect groups the fields of set that apply to the object type typ,
// following fragments and honouring @skip and @include.
func (x *execCtx) collect(typ string, set ast.SelectionSet) []fieldGroup {
	var groups []fieldGroup
	index := map[string]int{}
	visited := map[string]bool{}
	var walk func(ast.SelectionSet)
	walk = func(set ast.SelectionSet) {
		for _, s := range set {
			switch s := s.(type) {
			case *ast.Field:
				if !x.included(s.Directives) {
					continue
				}
				k := responseKey(s)
				if i, ok := index[k]; ok {
					groups[i].fields = append(groups[i].fields, s)
					continue
				}
				index[k] = len(groups)
				groups = append(groups, fieldGroup{key: k, fields: []*ast.Field{s}})
			case *ast.InlineFragment:
				if x.included(s.Directives) && x.applies(s.TypeCondition, typ) {
					walk(s.SelectionSet)
				}
			case *ast.FragmentSpread:
				if visited[s.Name] || !x.included(s.Directives) {
					continue
				}
				visited[s.Name] = true
				if fr := x.doc.Fragments.ForName(s.Name); fr != nil && x.applies(fr.TypeCondition, typ) {
					walk(fr.SelectionSet)
				}
			}
		}
	}
	walk(set)
	return groups
}

// applies reports whether a fragment on cond applies to the object type typ.
func (x *execCtx) applies(cond, typ string) bool {
	if cond == "" || cond == typ {
		return true
	}
	def := x.schema.Types[cond]
	if def == nil || (def.Kind != ast.Interface && def.Kind != ast.Union) {
		return false
	}
	for _, p := range x.schema.GetPossibleTypes(def) {
		if p.Name == typ {
			return true
		}
	}
	return false
}

func (x *execCtx) included(dirs ast.DirectiveList) bool {
	cond := func(name string) (bool, bool) {
		d := dirs.ForName(name)
		if d == nil {
			return false, false
		}
		a := d.Arguments.ForName("if")
		if a == nil {
			return false, false
		}
		v, _ := x.value(a.Value).(bool)
		return v, true
	}
	if skip, ok := cond("skip"); ok && skip {
		return false
	}
	if include, ok := cond("include"); ok && !include {
		return false
	}
	return true
}

// value evaluates a validated literal or variable.
func (x *execCtx) value(v *ast.Value) any {
	if v == nil {
		return nil
	}
	switch v.Kind {
	case ast.Variable:
		return x.vars[v.Raw]
	case ast.IntValue:
		n, _ := strconv.ParseInt(v.Raw, 10, 64)
		return n
	case ast.FloatValue:
		f, _ := strconv.ParseFloat(v.Raw, 64)
		return f
	case ast.StringValue, ast.BlockValue, ast.EnumValue:
		return v.Raw
	case ast.BooleanValue:
		return v.Raw == "true"
	case ast.ListValue:
		out := make([]any, 0, len(v.Children))
		for _, c := range v.Children {
			out = append(out, x.value(c.Value))
		}
		return out
	case ast.ObjectValue:
		out := map[string]any{}
		for _, c := range v.Children {
			out[c.Name] = x.value(c.Value)
		}
		return out
	}
	return nil
}

// args are the field's arguments with the schema's defaults applied.
func (x *execCtx) args(f *ast.Field) map[string]any {
	out := map[string]any{}
	for _, d := range f.Definition.Arguments {
		if a := f.Arguments.ForName(d.Name); a != nil {
			if a.Value.Kind != ast.Variable {
				out[d.Name] = x.value(a.Value)
				continue
			}
			if v, ok := x.vars[a.Value.Raw]; ok {
				out[d.Name] = v
				continue
			}
		}
		if d.DefaultValue != nil {
			out[d.Name] = x.value(d.DefaultValue)
		}
	}
	return out
}

func isConnection(typ string) bool { return strings.HasSuffix(typ, "Connection") }

func extend(path []any, k any) []any { return append(append(make([]any, 0, len(path)+1), path...), k) }

// pageSize checks a connection's first/last and returns the page size.
func (x *execCtx) pageSize(f *ast.Field, a map[string]any) (int, *gqlError) {
	if a["first"] == nil && a["last"] == nil {
		return 0, errAt(f.Position, "", "you must provide one of first or last")
	}
	n := -1
	for _, k := range []string{"first", "last"} {
		if a[k] == nil {
			continue
		}
		v, ok := intArg(a, k)
		if !ok || v < 0 || v > maxPageSize {
			return 0, errAt(f.Position, "", "%s must be an integer between 0 and %d", k, maxPageSize)
		}
		if n < 0 {
			n = v
		}
	}
	return n, nil
}

// Guards against documents that expand into too much work: fragments can
// multiply a short document's fields (N aliases of a fragment that holds N
// aliases of the next one, …) while its cost stays low (first: 0, scalars).
const (
	// maxCollectedFields bounds the fields visited while the requested cost
	// is computed.
	maxCollectedFields = 100_000
	// maxResolvedFields bounds the field resolutions execution would make if
	// every connection returned full pages.
	maxResolvedFields = 250_000
)

// sat adds and multiplies without passing maxResolvedFields much.
func sat(v int) int { return min(v, maxResolvedFields+1) }

// requested returns the requested cost of set on the object type typ, and
// how many fields execution resolves at most; n is the page size when typ
// is a connection. It also rejects what the emulator does not serve
// (introspection), bad page sizes and documents too large to run.
func (x *execCtx) requested(typ string, set ast.SelectionSet, n int) (cost, fields int, err *gqlError) {
	for _, g := range x.collect(typ, set) {
		x.collected += len(g.fields)
		if x.collected > maxCollectedFields {
			return 0, 0, tooManyFields(g.fields[0])
		}
		f := g.fields[0]
		fields = sat(fields + 1)
		if f.Name == "__typename" {
			continue
		}
		if strings.HasPrefix(f.Name, "__") {
			return 0, 0, errAt(f.Position, "NOT_SUPPORTED", "Introspection is not emulated")
		}
		named := f.Definition.Type.Name()
		if t := x.schema.Types[named]; t == nil || t.IsLeafType() {
			continue
		}
		size, each := 0, 1
		switch {
		case isConnection(typ) && f.Name == "pageInfo":
			each = 0
		case isConnection(typ) && (f.Name == "nodes" || f.Name == "edges"):
			if f.Name == "edges" {
				each = 0
			}
		case isConnection(named):
			if size, err = x.pageSize(f, x.args(f)); err != nil {
				return 0, 0, err
			}
			each = 2
		}
		c, fs, err := x.requested(named, g.sel(), size)
		if err != nil {
			return 0, 0, err
		}
		switch {
		case isConnection(typ) && f.Name == "pageInfo":
		case isConnection(typ) && (f.Name == "nodes" || f.Name == "edges"):
			cost = sat(cost + sat(n*(each+c)))
			fields = sat(fields + sat(n*fs))
		default:
			cost = sat(cost + each + c)
			fields = sat(fields + fs)
		}
		if fields > maxResolvedFields {
			return 0, 0, tooManyFields(f)
		}
	}
	return cost, fields, nil
}

func tooManyFields(f *ast.Field) *gqlError {
	return errAt(f.Position, "MAX_COST_EXCEEDED", "Query is too large: it would resolve more than %d fields once fragments are expanded", maxResolvedFields)
}

// exec executes set on obj of the object type typ. It returns the ordered
// result, its actual cost, and false when a non-null field came back null,
// which makes the object itself null (the spec's null propagation).
func (x *execCtx) exec(typ string, obj any, set ast.SelectionSet, path []any) (omap, int, bool) {
	out := omap{}
	cost := 0
	for _, g := range x.collect(typ, set) {
		f := g.fields[0]
		if f.Name == "__typename" {
			out = append(out, kv{g.key, typ})
			continue
		}
		p := extend(path, g.key)
		v, c := x.field(typ, obj, g, p)
		cost += c
		if v == nil && f.Definition.Type.NonNull {
			return nil, cost, false
		}
		out = append(out, kv{g.key, v})
	}
	return out, cost, true
}

// field resolves and completes one field; it returns the value (nil for
// null) and its actual cost.
func (x *execCtx) field(typ string, obj any, g fieldGroup, path []any) (any, int) {
	f := g.fields[0]
	if scope := fieldScopes[typ+"."+f.Name]; scope != "" && !x.scopes[scope] {
		x.errs = append(x.errs, &gqlError{Message: fmt.Sprintf("Access denied for %s field. Required access: `%s` access scope.", f.Name, scope),
			Locations: []location{{f.Position.Line, f.Position.Column}}, Path: path,
			Ext: map[string]any{"code": "ACCESS_DENIED", "documentation": "https://shopify.dev/api/usage/access-scopes", "requiredAccess": "`" + scope + "` access scope."}})
		return nil, 0
	}
	v, err := x.resolvers[typ][f.Name](x, obj, x.args(f))
	if err != nil {
		ge := &gqlError{Message: err.Error(), Locations: []location{{f.Position.Line, f.Position.Column}}, Path: path}
		if src, ok := err.(*gqlError); ok {
			ge.Ext = src.Ext
		}
		x.errs = append(x.errs, ge)
		return nil, 0
	}
	named := f.Definition.Type.Name()
	if t := x.schema.Types[named]; t == nil || t.IsLeafType() {
		return v, 0
	}
	sel := g.sel()
	switch {
	case isConnection(typ) && f.Name == "pageInfo":
		m, _, _ := x.exec(named, v, sel, path)
		return m, 0
	case isConnection(typ) && f.Name == "nodes":
		return x.list(f.Definition.Type, v, sel, path, 1)
	case isConnection(typ) && f.Name == "edges":
		return x.list(f.Definition.Type, v, sel, path, 0)
	case isConnection(named):
		m, c, ok := x.exec(named, v, sel, path)
		if !ok {
			return nil, 2 + c
		}
		return m, 2 + c
	case f.Definition.Type.Elem != nil:
		l, c := x.list(f.Definition.Type, v, sel, path, 0)
		return l, 1 + c
	default:
		if v == nil {
			return nil, 0
		}
		m, c, ok := x.exec(named, v, sel, path)
		if !ok {
			return nil, 1 + c
		}
		return m, 1 + c
	}
}

// list completes a list of objects; each item costs each plus its children.
func (x *execCtx) list(t *ast.Type, v any, sel ast.SelectionSet, path []any, each int) (any, int) {
	items, _ := v.([]any)
	if v == nil {
		return nil, 0
	}
	out := make([]any, 0, len(items))
	cost := 0
	for i, it := range items {
		if it == nil {
			if t.Elem.NonNull {
				return nil, cost
			}
			out = append(out, nil)
			continue
		}
		m, c, ok := x.exec(t.Elem.Name(), it, sel, extend(path, i))
		cost += each + c
		if !ok && t.Elem.NonNull {
			return nil, cost
		}
		if !ok {
			out = append(out, nil)
			continue
		}
		out = append(out, m)
	}
	return out, cost
}
