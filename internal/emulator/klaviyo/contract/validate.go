package contract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// Validation is kin-openapi's (openapi3filter) over the operation's route in
// its document; this file only builds its input and turns its errors into
// ValidationErrors (where, JSON pointer or parameter, message).

// ValidationError is one place where a document breaks the contract.
type ValidationError struct {
	// Where is "body", "query", "header", "path" or "response".
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

// schemaOptions: formats are checked (kin-openapi leaves them off by
// default), date-time as RFC 3339 and uri as an absolute URI.
var schemaOptions = []openapi3.SchemaValidationOption{
	openapi3.EnableFormatValidation(),
	openapi3.WithStringFormatValidator("date-time", openapi3.NewCallbackValidator(func(s string) error {
		_, err := ParseTime(s)
		return err
	})),
	openapi3.WithStringFormatValidator("uri", openapi3.NewCallbackValidator(func(s string) error {
		if u, err := url.Parse(s); err != nil || u.Scheme == "" || u.Host == "" {
			return errors.New("not an absolute URI")
		}
		return nil
	})),
}

func (o *Operation) options() *openapi3filter.Options {
	return &openapi3filter.Options{
		MultiError: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, SkipSettingDefaults: true,
		RejectWhenRequestBodyNotSpecified: true, IncludeResponseStatus: true, SchemaValidationOptions: schemaOptions,
	}
}

// input builds kin-openapi's request input. pathParams may be nil (the
// caller did not resolve the path): the path's parameters are then not
// checked.
func (o *Operation) input(pathParams map[string]string, query url.Values, header http.Header, body []byte) *openapi3filter.RequestValidationInput {
	if header == nil {
		header = http.Header{}
	}
	req := &http.Request{Method: o.Method, URL: &url.URL{Path: o.Path, RawQuery: query.Encode()}, Header: header.Clone(),
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body))}
	if pathParams == nil {
		pathParams = map[string]string{}
		for _, s := range o.segments {
			if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
				pathParams[s[1:len(s)-1]] = "x"
			}
		}
	}
	return &openapi3filter.RequestValidationInput{Request: req, PathParams: pathParams, QueryParams: query, Route: o.route, Options: o.options()}
}

// ValidateRequest checks the parameters (path, query, header) and the body of
// a request against the operation. pathParams may be nil.
func (o *Operation) ValidateRequest(pathParams map[string]string, query url.Values, header http.Header, body []byte) error {
	if query == nil {
		query = url.Values{}
	}
	err := openapi3filter.ValidateRequest(context.Background(), o.input(pathParams, query, header, body))
	return convert(err, "body").orNil()
}

// ValidateBody checks only a request body (JSON) against the operation's
// request schema for the JSON:API media type.
func (o *Operation) ValidateBody(body []byte) error {
	rb := o.route.Operation.RequestBody
	if rb == nil || rb.Value == nil {
		return nil
	}
	for ct := range rb.Value.Content {
		in := o.input(nil, url.Values{}, http.Header{"Content-Type": {ct}}, body)
		return convert(openapi3filter.ValidateRequestBody(context.Background(), in, rb.Value), "body").orNil()
	}
	return nil
}

// ValidateResponse checks a response's status, media type and body.
func (o *Operation) ValidateResponse(status int, header http.Header, body []byte) error {
	if header == nil {
		header = http.Header{}
	}
	resp := o.route.Operation.Responses.Status(status)
	if resp == nil {
		resp = o.route.Operation.Responses.Default()
	}
	switch {
	case resp == nil:
		return ValidationErrors{{Where: "response", Message: fmt.Sprintf("status %d is not documented (have %v)", status, o.ResponseStatuses())}}
	case resp.Value != nil && len(resp.Value.Content) == 0 && len(bytes.TrimSpace(body)) > 0:
		return ValidationErrors{{Where: "response", Message: fmt.Sprintf("status %d documents no body but got %d bytes", status, len(body))}}
	}
	in := &openapi3filter.ResponseValidationInput{RequestValidationInput: o.input(nil, url.Values{}, nil, nil),
		Status: status, Header: header, Options: o.options()}
	in.SetBodyBytes(body)
	return convert(openapi3filter.ValidateResponse(context.Background(), in), "response").orNil()
}

// convert flattens kin-openapi's errors (multi-errors of request, response
// and schema errors) into ValidationErrors.
func convert(err error, where string) ValidationErrors {
	if err == nil {
		return nil
	}
	if me, ok := err.(openapi3.MultiError); ok {
		var out ValidationErrors
		for _, e := range me {
			out = append(out, convert(e, where)...)
		}
		return out
	}
	var re *openapi3filter.RequestError
	if errors.As(err, &re) {
		if p := re.Parameter; p != nil {
			return located(re.Err, p.In, p.Name, re.Reason)
		}
		if re.Err == nil {
			return ValidationErrors{{Where: where, Message: re.Error()}}
		}
		return located(re.Err, where, "", re.Reason)
	}
	var rse *openapi3filter.ResponseError
	if errors.As(err, &rse) {
		if rse.Err == nil {
			return ValidationErrors{{Where: "response", Message: rse.Reason}}
		}
		return located(rse.Err, "response", "", rse.Reason)
	}
	var se *openapi3.SchemaError
	if errors.As(err, &se) {
		return schemaErrors(se, where, "", "")
	}
	return ValidationErrors{{Where: where, Message: err.Error()}}
}

// located converts the cause of a request or response error found at where
// (a parameter name when name is set).
func located(cause error, where, name, reason string) ValidationErrors {
	if me, ok := cause.(openapi3.MultiError); ok {
		var out ValidationErrors
		for _, e := range me {
			out = append(out, located(e, where, name, reason)...)
		}
		return out
	}
	var se *openapi3.SchemaError
	if errors.As(cause, &se) {
		return schemaErrors(se, where, name, "")
	}
	msg := cause.Error()
	if reason != "" && !strings.Contains(msg, reason) {
		msg = reason + ": " + msg
	}
	return ValidationErrors{{Where: where, Pointer: name, Message: msg}}
}

// schemaErrors names each failing value by its JSON pointer (body) or
// parameter, with kin-openapi's reason and the offending value. An allOf
// failure (Klaviyo's nullable $refs are wrapped in one, see loadKin) is
// reported by its cause.
func schemaErrors(se *openapi3.SchemaError, where, name, prefix string) ValidationErrors {
	ptr := prefix
	for _, p := range se.JSONPointer() {
		ptr += "/" + escape(p)
	}
	if se.SchemaField == "allOf" && se.Origin != nil {
		var inner ValidationErrors
		causes := []error{se.Origin}
		if me, ok := se.Origin.(openapi3.MultiError); ok {
			causes = me
		}
		for _, c := range causes {
			var ie *openapi3.SchemaError
			if errors.As(c, &ie) {
				inner = append(inner, schemaErrors(ie, where, name, ptr)...)
			}
		}
		if len(inner) > 0 {
			return inner
		}
	}
	if name != "" {
		ptr = name
	}
	msg := se.Reason
	switch se.SchemaField {
	case "required":
		msg = "required property is missing (" + msg + ")"
	case "oneOf", "anyOf":
		msg += " (" + se.SchemaField + ")"
	}
	if v := describe(se.Value); v != "" && se.SchemaField != "required" {
		msg += ": got " + v
	}
	return ValidationErrors{{Where: where, Pointer: ptr, Message: msg}}
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

// describe shows a scalar or short array value ("" for objects).
func describe(v any) string {
	switch v.(type) {
	case nil, map[string]any:
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil || len(b) > 120 {
		return ""
	}
	return string(b)
}

// route builds the operation's kin-openapi route in its document.
func kinRoute(doc *openapi3.T, method, path string) (*routers.Route, error) {
	pi := doc.Paths.Value(path)
	if pi == nil {
		return nil, fmt.Errorf("kin-openapi has no path %s", path)
	}
	op := pi.GetOperation(method)
	if op == nil {
		return nil, fmt.Errorf("kin-openapi has no %s %s", method, path)
	}
	return &routers.Route{Spec: doc, Path: path, PathItem: pi, Method: method, Operation: op}, nil
}
