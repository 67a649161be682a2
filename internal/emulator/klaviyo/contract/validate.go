package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ValidationError is one place where a document breaks the contract.
type ValidationError struct {
	// Where is "body", "query", "header" or "response".
	Where string
	// Pointer is a JSON pointer into the body ("/data/attributes/email") or
	// the parameter name.
	Pointer string
	Message string
}

func (e *ValidationError) Error() string {
	if e.Pointer == "" {
		return e.Where + ": " + e.Message
	}
	return fmt.Sprintf("%s %s: %s", e.Where, e.Pointer, e.Message)
}

// ValidationErrors collects every violation found in one document.
type ValidationErrors []*ValidationError

func (es ValidationErrors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

func (es ValidationErrors) orNil() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// ValidateRequest checks the parameters (path, query, header) and the body of
// a request against the operation. pathParams may be nil.
func (o *Operation) ValidateRequest(pathParams map[string]string, query url.Values, header http.Header, body []byte) error {
	var errs ValidationErrors
	params, _ := o.raw["parameters"].([]any)
	for _, p := range params {
		pm, ok := p.(map[string]any)
		if !ok {
			continue
		}
		pm = o.doc.deref(pm)
		name, _ := pm["name"].(string)
		in, _ := pm["in"].(string)
		required, _ := pm["required"].(bool)
		schema, _ := pm["schema"].(map[string]any)
		var (
			val     string
			present bool
		)
		switch in {
		case "header":
			if vs := header.Values(name); len(vs) > 0 {
				val, present = vs[0], true
			}
		case "query":
			if query.Has(name) {
				val, present = query.Get(name), true
			}
		case "path":
			val, present = pathParams[name]
			if pathParams == nil {
				present = true // caller did not resolve the path
			}
		}
		if !present {
			if required {
				errs = append(errs, &ValidationError{Where: in, Pointer: name, Message: "required parameter is missing"})
			}
			continue
		}
		if in == "path" && pathParams == nil {
			continue
		}
		errs = append(errs, o.validateParam(in, name, val, schema, pm)...)
	}
	if rb, ok := o.raw["requestBody"].(map[string]any); ok {
		rb = o.doc.deref(rb)
		required, _ := rb["required"].(bool)
		if len(bytes.TrimSpace(body)) == 0 {
			if required {
				errs = append(errs, &ValidationError{Where: "body", Message: "request body is required"})
			}
		} else {
			content, _ := rb["content"].(map[string]any)
			ct := mediaType(header.Get("Content-Type"))
			media, ok := content[ct].(map[string]any)
			if !ok {
				errs = append(errs, &ValidationError{Where: "header", Pointer: "Content-Type", Message: fmt.Sprintf("media type %q is not one of %v", ct, keys(content))})
			} else {
				schema, _ := media["schema"].(map[string]any)
				errs = append(errs, o.doc.validateJSON("body", schema, body)...)
			}
		}
	} else if len(bytes.TrimSpace(body)) > 0 {
		errs = append(errs, &ValidationError{Where: "body", Message: "operation takes no request body"})
	}
	return errs.orNil()
}

// ValidateBody checks only a request body (JSON) against the operation's
// request schema for the JSON:API media type.
func (o *Operation) ValidateBody(body []byte) error {
	rb, ok := o.raw["requestBody"].(map[string]any)
	if !ok {
		return nil
	}
	rb = o.doc.deref(rb)
	content, _ := rb["content"].(map[string]any)
	for _, media := range content {
		m, _ := media.(map[string]any)
		schema, _ := m["schema"].(map[string]any)
		return ValidationErrors(o.doc.validateJSON("body", schema, body)).orNil()
	}
	return nil
}

// ValidateResponse checks a response's status, media type and body.
func (o *Operation) ValidateResponse(status int, header http.Header, body []byte) error {
	resp, ok := o.responseFor(status)
	if !ok {
		return ValidationErrors{{Where: "response", Message: fmt.Sprintf("status %s is not documented (have %v)", statusText(status), o.ResponseStatuses())}}
	}
	content, _ := resp["content"].(map[string]any)
	if len(content) == 0 {
		if len(bytes.TrimSpace(body)) > 0 {
			return ValidationErrors{{Where: "response", Message: fmt.Sprintf("status %d documents no body but got %d bytes", status, len(body))}}
		}
		return nil
	}
	ct := mediaType(header.Get("Content-Type"))
	media, ok := content[ct].(map[string]any)
	if !ok {
		return ValidationErrors{{Where: "response", Pointer: "Content-Type", Message: fmt.Sprintf("media type %q is not one of %v", ct, keys(content))}}
	}
	schema, _ := media["schema"].(map[string]any)
	return ValidationErrors(o.doc.validateJSON("response", schema, body)).orNil()
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func (o *Operation) validateParam(in, name, val string, schema, param map[string]any) ValidationErrors {
	if schema == nil {
		return nil
	}
	schema = o.doc.deref(schema)
	typ, _ := schema["type"].(string)
	var v any
	switch typ {
	case "integer":
		i, err := strconv.ParseInt(val, 10, 64)
		if err != nil {
			return ValidationErrors{{Where: in, Pointer: name, Message: fmt.Sprintf("%q is not an integer", val)}}
		}
		v = json.Number(strconv.FormatInt(i, 10))
	case "number":
		if _, err := strconv.ParseFloat(val, 64); err != nil {
			return ValidationErrors{{Where: in, Pointer: name, Message: fmt.Sprintf("%q is not a number", val)}}
		}
		v = json.Number(val)
	case "boolean":
		b, err := strconv.ParseBool(val)
		if err != nil {
			return ValidationErrors{{Where: in, Pointer: name, Message: fmt.Sprintf("%q is not a boolean", val)}}
		}
		v = b
	case "array":
		// Klaviyo's array parameters are form style with explode=false:
		// comma-separated values.
		parts := []any{}
		if val != "" {
			for _, p := range strings.Split(val, ",") {
				parts = append(parts, p)
			}
		}
		v = parts
	default:
		v = val
	}
	var errs ValidationErrors
	o.doc.validate(in, schema, v, name, &errs, 0)
	return errs
}

func (d *document) validateJSON(where string, schema map[string]any, body []byte) ValidationErrors {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return ValidationErrors{{Where: where, Message: "body is not JSON: " + err.Error()}}
	}
	if dec.More() {
		return ValidationErrors{{Where: where, Message: "body has trailing data after the JSON value"}}
	}
	if schema == nil {
		return nil
	}
	var errs ValidationErrors
	d.validate(where, schema, v, "", &errs, 0)
	return errs
}

const maxDepth = 64

// validate checks v against an OpenAPI 3.0 schema object. It understands the
// keywords Klaviyo's documents use: $ref (with a "nullable" sibling, which
// Klaviyo uses to mark referenced objects nullable), type, nullable,
// properties, required, additionalProperties, items, enum, format
// (date-time, date, uri), allOf, oneOf, anyOf, minimum/maximum,
// minLength/maxLength, minItems/maxItems and pattern.
func (d *document) validate(where string, schema map[string]any, v any, ptr string, errs *ValidationErrors, depth int) {
	if depth > maxDepth {
		*errs = append(*errs, &ValidationError{Where: where, Pointer: ptr, Message: "schema nesting too deep"})
		return
	}
	fail := func(format string, args ...any) {
		*errs = append(*errs, &ValidationError{Where: where, Pointer: ptr, Message: fmt.Sprintf(format, args...)})
	}
	nullable, _ := schema["nullable"].(bool)
	if ref, ok := schema["$ref"].(string); ok {
		target := d.resolve(ref)
		if target == nil {
			fail("unresolvable $ref %s", ref)
			return
		}
		if v == nil && nullable {
			return
		}
		d.validate(where, target, v, ptr, errs, depth+1)
		return
	}
	if v == nil {
		if nullable {
			return
		}
		if _, typed := schema["type"]; typed {
			fail("null is not allowed")
			return
		}
	}
	if typ, ok := schema["type"].(string); ok && v != nil {
		if !hasType(v, typ) {
			fail("%s is not of type %s", describe(v), typ)
			return
		}
	}
	if enum, ok := schema["enum"].([]any); ok && v != nil {
		found := false
		for _, e := range enum {
			if equalScalar(e, v) {
				found = true
				break
			}
		}
		if !found {
			fail("%s is not one of %v", describe(v), enum)
		}
	}
	switch x := v.(type) {
	case string:
		d.checkString(schema, x, fail)
	case json.Number:
		f, _ := x.Float64()
		if mn, ok := schema["minimum"].(float64); ok && f < mn {
			fail("%v is below the minimum %v", x, mn)
		}
		if mx, ok := schema["maximum"].(float64); ok && f > mx {
			fail("%v is above the maximum %v", x, mx)
		}
	case []any:
		if mn, ok := schema["minItems"].(float64); ok && float64(len(x)) < mn {
			fail("%d items, fewer than minItems %v", len(x), mn)
		}
		if mx, ok := schema["maxItems"].(float64); ok && float64(len(x)) > mx {
			fail("%d items, more than maxItems %v", len(x), mx)
		}
		if items, ok := schema["items"].(map[string]any); ok {
			for i, e := range x {
				d.validate(where, items, e, ptr+"/"+strconv.Itoa(i), errs, depth+1)
			}
		}
	case map[string]any:
		props, _ := schema["properties"].(map[string]any)
		if req, ok := schema["required"].([]any); ok {
			for _, r := range req {
				name, _ := r.(string)
				if _, present := x[name]; !present {
					*errs = append(*errs, &ValidationError{Where: where, Pointer: ptr + "/" + escape(name), Message: "required property is missing"})
				}
			}
		}
		for k, val := range x {
			if ps, ok := props[k].(map[string]any); ok {
				d.validate(where, ps, val, ptr+"/"+escape(k), errs, depth+1)
				continue
			}
			switch ap := schema["additionalProperties"].(type) {
			case bool:
				if !ap {
					*errs = append(*errs, &ValidationError{Where: where, Pointer: ptr + "/" + escape(k), Message: "property is not allowed"})
				}
			case map[string]any:
				d.validate(where, ap, val, ptr+"/"+escape(k), errs, depth+1)
			}
		}
	}
	if all, ok := schema["allOf"].([]any); ok {
		for _, s := range all {
			if sm, ok := s.(map[string]any); ok {
				d.validate(where, sm, v, ptr, errs, depth+1)
			}
		}
	}
	if v == nil && nullable {
		return
	}
	if one, ok := schema["oneOf"].([]any); ok {
		n := 0
		var firstErrs ValidationErrors
		for _, s := range one {
			sm, _ := s.(map[string]any)
			var sub ValidationErrors
			d.validate(where, sm, v, ptr, &sub, depth+1)
			if len(sub) == 0 {
				n++
			} else if firstErrs == nil {
				firstErrs = sub
			}
		}
		if n != 1 {
			fail("%s matches %d of the %d oneOf schemas (want exactly 1)%s", describe(v), n, len(one), firstHint(firstErrs))
		}
	}
	if anyOf, ok := schema["anyOf"].([]any); ok {
		n := 0
		for _, s := range anyOf {
			sm, _ := s.(map[string]any)
			var sub ValidationErrors
			d.validate(where, sm, v, ptr, &sub, depth+1)
			if len(sub) == 0 {
				n++
			}
		}
		if n == 0 {
			fail("%s matches none of the anyOf schemas", describe(v))
		}
	}
}

func firstHint(es ValidationErrors) string {
	if len(es) == 0 {
		return ""
	}
	return " (first: " + es[0].Error() + ")"
}

func (d *document) checkString(schema map[string]any, s string, fail func(string, ...any)) {
	if mn, ok := schema["minLength"].(float64); ok && float64(len([]rune(s))) < mn {
		fail("string shorter than minLength %v", mn)
	}
	if mx, ok := schema["maxLength"].(float64); ok && float64(len([]rune(s))) > mx {
		fail("string longer than maxLength %v", mx)
	}
	if p, ok := schema["pattern"].(string); ok {
		if re, err := regexp.Compile(p); err == nil && !re.MatchString(s) {
			fail("%q does not match pattern %s", s, p)
		}
	}
	switch schema["format"] {
	case "date-time":
		if _, err := ParseTime(s); err != nil {
			fail("%q is not a date-time", s)
		}
	case "date":
		if _, err := time.Parse(time.DateOnly, s); err != nil {
			fail("%q is not a date", s)
		}
	case "uri":
		u, err := url.Parse(s)
		if err != nil || u.Scheme == "" || u.Host == "" {
			fail("%q is not an absolute URI", s)
		}
	}
}

// ParseTime reads an RFC 3339 date-time (fractional seconds optional).
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errors.New("not an RFC 3339 date-time")
	}
	return t, nil
}

func escape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func hasType(v any, typ string) bool {
	switch typ {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "number":
		_, ok := v.(json.Number)
		return ok
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		if _, err := n.Int64(); err == nil {
			return true
		}
		f, err := n.Float64()
		return err == nil && f == float64(int64(f))
	}
	return true
}

func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		if len(x) > 40 {
			x = x[:40] + "…"
		}
		return strconv.Quote(x)
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case []any:
		return fmt.Sprintf("array(%d)", len(x))
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func equalScalar(a, b any) bool {
	switch y := b.(type) {
	case json.Number:
		f, err := y.Float64()
		if err != nil {
			return false
		}
		switch x := a.(type) {
		case float64:
			return x == f
		case json.Number:
			g, _ := x.Float64()
			return g == f
		}
		return false
	case string:
		x, ok := a.(string)
		return ok && x == y
	case bool:
		x, ok := a.(bool)
		return ok && x == y
	}
	return false
}
