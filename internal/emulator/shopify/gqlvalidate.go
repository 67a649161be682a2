package shopify

import (
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// Queries are parsed and validated by gqlparser against adminSDL, the Admin
// API subset the emulator serves. Errors are rendered in Shopify's shape:
// {"message", "locations", "path", "extensions": {"code", …}}; the rules
// whose wording clients are known to match (undefined fields, arguments,
// selections on scalars, undeclared variables and fragments) are rewritten
// in Shopify's words, the others keep gqlparser's message with a code.

//go:embed admin_schema.graphql
var adminSDL string

// maxQueryTokens bounds the lexer's work on one document.
const maxQueryTokens = 20000

// adminSchema is the parsed, immutable schema.
var adminSchema = sync.OnceValues(func() (*ast.Schema, error) {
	s, err := gqlparser.LoadSchema(&ast.Source{Name: "admin_schema.graphql", Input: adminSDL, BuiltIn: false})
	if err != nil {
		return nil, fmt.Errorf("shopify emulator: admin schema: %w", err)
	}
	return s, nil
})

// gqlError is a GraphQL error in Shopify's shape.
type gqlError struct {
	Message   string         `json:"message"`
	Locations []location     `json:"locations,omitempty"`
	Path      []any          `json:"path,omitempty"`
	Ext       map[string]any `json:"extensions,omitempty"`
}

type location struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

func (e *gqlError) Error() string { return e.Message }

func errAt(pos *ast.Position, code, format string, args ...any) *gqlError {
	e := &gqlError{Message: fmt.Sprintf(format, args...)}
	if pos != nil {
		e.Locations = []location{{pos.Line, pos.Column}}
	}
	if code != "" {
		e.Ext = map[string]any{"code": code}
	}
	return e
}

// parseQuery parses src; a syntax error is answered as Shopify's parse
// error (message and location, no code).
func parseQuery(src string) (*ast.QueryDocument, *gqlError) {
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Name: "query", Input: src}, maxQueryTokens)
	if err == nil {
		return doc, nil
	}
	var ge *gqlerror.Error
	if !errors.As(err, &ge) {
		return nil, &gqlError{Message: "Parse error: " + err.Error()}
	}
	out := &gqlError{Message: "Parse error: " + ge.Message}
	for _, l := range ge.Locations {
		out.Locations = append(out.Locations, location{l.Line, l.Column})
		out.Message = fmt.Sprintf("Parse error at [%d, %d]: %s", l.Line, l.Column, ge.Message)
	}
	return nil, out
}

// Private extension keys by which the Shopify rules name the field (and
// argument) an error is about; validate turns them into the error's path.
const (
	extField    = "\x00field"
	extArgument = "\x00argument"
)

// validate checks doc against the schema with Shopify-worded rules.
func validate(schema *ast.Schema, doc *ast.QueryDocument) []*gqlError {
	list := validator.ValidateWithRules(schema, doc, shopifyRules())
	if len(list) == 0 {
		return nil
	}
	paths := fieldPaths(doc)
	out := make([]*gqlError, 0, len(list))
	for _, e := range list {
		ge := fromGQLError(e)
		if f, ok := ge.Ext[extField].(*ast.Field); ok {
			ge.Path = paths[f]
			if a, ok := ge.Ext[extArgument].(string); ok {
				ge.Path = extend(ge.Path, a)
			}
		}
		delete(ge.Ext, extField)
		delete(ge.Ext, extArgument)
		out = append(out, ge)
	}
	return out
}

// fieldPaths gives each field of doc the path graphql-ruby reports in a
// validation error: the operation ("query", "query Name") or fragment
// ("fragment Name"), then response keys, with "... on Type" for inline
// fragments.
func fieldPaths(doc *ast.QueryDocument) map[*ast.Field][]any {
	m := map[*ast.Field][]any{}
	var walk func(set ast.SelectionSet, path []any)
	walk = func(set ast.SelectionSet, path []any) {
		for _, s := range set {
			switch s := s.(type) {
			case *ast.Field:
				p := extend(path, responseKey(s))
				m[s] = p
				walk(s.SelectionSet, p)
			case *ast.InlineFragment:
				label := "..."
				if s.TypeCondition != "" {
					label = "... on " + s.TypeCondition
				}
				walk(s.SelectionSet, extend(path, label))
			}
		}
	}
	for _, op := range doc.Operations {
		root := string(op.Operation)
		if op.Name != "" {
			root += " " + op.Name
		}
		walk(op.SelectionSet, []any{root})
	}
	for _, f := range doc.Fragments {
		walk(f.SelectionSet, []any{"fragment " + f.Name})
	}
	return m
}

// ruleCodes gives gqlparser's rules, kept with their own messages, the
// extensions.code graphql-ruby (Shopify's server) uses for the same check.
var ruleCodes = map[string]string{
	"FragmentsOnCompositeTypes":    "fragmentOnNonCompositeType",
	"KnownDirectives":              "undefinedDirective",
	"KnownRootType":                "missingQueryConfiguration",
	"KnownTypeNames":               "undefinedType",
	"LoneAnonymousOperation":       "anonymousOperationNotAlone",
	"NoFragmentCycles":             "infiniteLoop",
	"NoUnusedFragments":            "useAndDefineFragment",
	"NoUnusedVariables":            "variableNotUsed",
	"OverlappingFieldsCanBeMerged": "fieldConflict",
	"PossibleFragmentSpreads":      "cannotSpreadFragment",
	"UniqueArgumentNames":          "argumentNotUnique",
	"UniqueDirectivesPerLocation":  "directiveNotUniqueForLocation",
	"UniqueFragmentNames":          "fragmentNotUnique",
	"UniqueInputFieldNames":        "inputFieldNotUnique",
	"UniqueOperationNames":         "operationNotUnique",
	"UniqueVariableNames":          "variableNotUnique",
	"ValuesOfCorrectType":          "argumentLiteralsIncompatible",
	"VariablesAreInputTypes":       "variableRequiresValidType",
	"VariablesInAllowedPosition":   "variableMismatch",
}

func fromGQLError(e *gqlerror.Error) *gqlError {
	out := &gqlError{Message: e.Message, Ext: map[string]any{}}
	for _, l := range e.Locations {
		out.Locations = append(out.Locations, location{l.Line, l.Column})
	}
	for _, p := range e.Path {
		switch p := p.(type) {
		case ast.PathName:
			out.Path = append(out.Path, string(p))
		case ast.PathIndex:
			out.Path = append(out.Path, int(p))
		}
	}
	for k, v := range e.Extensions {
		out.Ext[k] = v
	}
	if _, ok := out.Ext["code"]; !ok {
		if c := ruleCodes[e.Rule]; c != "" {
			out.Ext["code"] = c
		} else if e.Rule != "" {
			out.Ext["code"] = strings.ToLower(e.Rule[:1]) + e.Rule[1:]
		}
	}
	if len(out.Ext) == 0 {
		out.Ext = nil
	}
	return out
}

// shopifyRules is gqlparser's default rule set with the rules clients match
// on replaced by Shopify-worded ones. MaxIntrospectionDepth stays in.
var shopifyRules = sync.OnceValue(func() *rules.Rules {
	r := rules.NewDefaultRules()
	for _, name := range []string{"FieldsOnCorrectType", "KnownArgumentNames", "ProvidedRequiredArguments",
		"ScalarLeafs", "NoUndefinedVariables", "KnownFragmentNames"} {
		r.RemoveRule(name)
	}
	r.AddRule("ShopifyUndefinedField", ruleUndefinedField)
	r.AddRule("ShopifyArgumentNotAccepted", ruleArgumentNotAccepted)
	r.AddRule("ShopifyMissingRequiredArguments", ruleMissingRequiredArguments)
	r.AddRule("ShopifySelectionMismatch", ruleSelectionMismatch)
	r.AddRule("ShopifyVariableNotDefined", ruleVariableNotDefined)
	r.AddRule("ShopifyUndefinedFragment", ruleUndefinedFragment)
	return r
})

// report sets the whole error: Shopify's message, location and extensions.
func report(pos *ast.Position, ext map[string]any, format string, args ...any) core.ErrorOption {
	return func(err *gqlerror.Error) {
		err.Message = fmt.Sprintf(format, args...)
		if pos != nil {
			err.Locations = []gqlerror.Location{{Line: pos.Line, Column: pos.Column}}
		}
		err.Extensions = ext
	}
}

func ruleUndefinedField(ev *core.Events, add core.AddErrFunc) {
	ev.OnField(func(_ *core.Walker, f *ast.Field) {
		if f.ObjectDefinition == nil || f.Definition != nil || f.ObjectDefinition.IsLeafType() {
			return
		}
		add(report(f.Position, map[string]any{"code": "undefinedField", "typeName": f.ObjectDefinition.Name, "fieldName": f.Name, extField: f},
			"Field '%s' doesn't exist on type '%s'", f.Name, f.ObjectDefinition.Name))
	})
}

func ruleArgumentNotAccepted(ev *core.Events, add core.AddErrFunc) {
	ev.OnField(func(_ *core.Walker, f *ast.Field) {
		if f.Definition == nil || f.ObjectDefinition == nil {
			return
		}
		for _, a := range f.Arguments {
			if f.Definition.Arguments.ForName(a.Name) == nil {
				add(report(a.Position, map[string]any{"code": "argumentNotAccepted", "name": f.Name, "typeName": "Field", "argumentName": a.Name,
					extField: f, extArgument: a.Name},
					"Field '%s' doesn't accept argument '%s'", f.Name, a.Name))
			}
		}
	})
	ev.OnDirective(func(_ *core.Walker, d *ast.Directive) {
		if d.Definition == nil {
			return
		}
		for _, a := range d.Arguments {
			if d.Definition.Arguments.ForName(a.Name) == nil {
				add(report(a.Position, map[string]any{"code": "argumentNotAccepted", "name": d.Name, "typeName": "Directive", "argumentName": a.Name},
					"Directive '%s' doesn't accept argument '%s'", d.Name, a.Name))
			}
		}
	})
}

func missingArgs(defs ast.ArgumentDefinitionList, given ast.ArgumentList) []string {
	var missing []string
	for _, d := range defs {
		if d.Type.NonNull && d.DefaultValue == nil && given.ForName(d.Name) == nil {
			missing = append(missing, d.Name)
		}
	}
	return missing
}

func ruleMissingRequiredArguments(ev *core.Events, add core.AddErrFunc) {
	ev.OnField(func(_ *core.Walker, f *ast.Field) {
		if f.Definition == nil {
			return
		}
		if m := missingArgs(f.Definition.Arguments, f.Arguments); len(m) > 0 {
			add(report(f.Position, map[string]any{"code": "missingRequiredArguments", "className": "Field", "name": f.Name, "arguments": strings.Join(m, ", "),
				extField: f},
				"Field '%s' is missing required arguments: %s", f.Name, strings.Join(m, ", ")))
		}
	})
	ev.OnDirective(func(_ *core.Walker, d *ast.Directive) {
		if d.Definition == nil {
			return
		}
		if m := missingArgs(d.Definition.Arguments, d.Arguments); len(m) > 0 {
			add(report(d.Position, map[string]any{"code": "missingRequiredArguments", "className": "Directive", "name": d.Name, "arguments": strings.Join(m, ", ")},
				"Directive '%s' is missing required arguments: %s", d.Name, strings.Join(m, ", ")))
		}
	})
}

func ruleSelectionMismatch(ev *core.Events, add core.AddErrFunc) {
	ev.OnField(func(w *core.Walker, f *ast.Field) {
		if f.Definition == nil {
			return
		}
		t := w.Schema.Types[f.Definition.Type.Name()]
		if t == nil {
			return
		}
		ext := map[string]any{"code": "selectionMismatch", "nodeName": "field '" + f.Name + "'", "typeName": f.Definition.Type.String(), extField: f}
		switch {
		case t.IsLeafType() && len(f.SelectionSet) > 0:
			add(report(f.Position, ext, "Selections can't be made on scalars (field '%s' returns %s but has selections)", f.Name, f.Definition.Type.String()))
		case !t.IsLeafType() && len(f.SelectionSet) == 0:
			add(report(f.Position, ext, "Field must have selections (field '%s' returns %s but has no selections. Did you mean '%s { ... }'?)",
				f.Name, f.Definition.Type.String(), f.Name))
		}
	})
}

func ruleVariableNotDefined(ev *core.Events, add core.AddErrFunc) {
	ev.OnValue(func(w *core.Walker, v *ast.Value) {
		if w.CurrentOperation == nil || v.Kind != ast.Variable || v.VariableDefinition != nil {
			return
		}
		op := "anonymous query"
		if w.CurrentOperation.Name != "" {
			op = string(w.CurrentOperation.Operation) + " '" + w.CurrentOperation.Name + "'"
		}
		add(report(v.Position, map[string]any{"code": "variableNotDefined", "variableName": v.Raw},
			"Variable $%s is used by %s but not declared", v.Raw, op))
	})
}

func ruleUndefinedFragment(ev *core.Events, add core.AddErrFunc) {
	ev.OnFragmentSpread(func(_ *core.Walker, s *ast.FragmentSpread) {
		if s.Definition == nil {
			add(report(s.Position, map[string]any{"code": "useAndDefineFragment", "fragmentName": s.Name},
				"Fragment %s was used, but not defined", s.Name))
		}
	})
}

// CheckQuery parses and validates query against the emulator's Admin API
// schema (admin_schema.graphql), as POST /admin/api/{version}/graphql.json
// does, and lists the deprecated fields it selects, as "Type.field".
// Clients' tests use it to keep their queries valid and off deprecated
// fields (Customer.email: read defaultEmailAddress.emailAddress).
func CheckQuery(query string) (deprecated []string, err error) {
	schema, err := adminSchema()
	if err != nil {
		return nil, err
	}
	doc, perr := parseQuery(query)
	if perr != nil {
		return nil, perr
	}
	if errs := validate(schema, doc); len(errs) > 0 {
		joined := make([]error, len(errs))
		for i, e := range errs {
			joined[i] = e
		}
		return nil, errors.Join(joined...)
	}
	seen := map[string]bool{}
	var walk func(set ast.SelectionSet)
	walk = func(set ast.SelectionSet) {
		for _, s := range set {
			switch s := s.(type) {
			case *ast.Field:
				if s.Definition != nil && s.Definition.Directives.ForName("deprecated") != nil && s.ObjectDefinition != nil {
					if name := s.ObjectDefinition.Name + "." + s.Name; !seen[name] {
						seen[name] = true
						deprecated = append(deprecated, name)
					}
				}
				walk(s.SelectionSet)
			case *ast.InlineFragment:
				walk(s.SelectionSet)
			}
		}
	}
	for _, op := range doc.Operations {
		walk(op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		walk(f.SelectionSet)
	}
	return deprecated, nil
}
