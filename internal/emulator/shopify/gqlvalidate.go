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

// validate checks doc against the schema with Shopify-worded rules.
func validate(schema *ast.Schema, doc *ast.QueryDocument) []*gqlError {
	list := validator.ValidateWithRules(schema, doc, shopifyRules())
	out := make([]*gqlError, 0, len(list))
	for _, e := range list {
		out = append(out, fromGQLError(e))
	}
	return out
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
		add(report(f.Position, map[string]any{"code": "undefinedField", "typeName": f.ObjectDefinition.Name, "fieldName": f.Name},
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
				add(report(a.Position, map[string]any{"code": "argumentNotAccepted", "name": f.Name, "typeName": "Field", "argumentName": a.Name},
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
			add(report(f.Position, map[string]any{"code": "missingRequiredArguments", "className": "Field", "name": f.Name, "arguments": strings.Join(m, ", ")},
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
		ext := map[string]any{"code": "selectionMismatch", "nodeName": "field '" + f.Name + "'", "typeName": f.Definition.Type.String()}
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
