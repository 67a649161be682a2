// This file adds kin-openapi validation (openapi3filter over the contract
// files) to the contract tests, next to the contract package's own validator.

package klaviyo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"switchyard/internal/emulator/klaviyo/contract"
)

func init() { extraValidators = append(extraValidators, newKinValidator) }

// kinRouters caches the parsed documents: each parse of the 700 KB contract
// takes about a second on the shared machine.
var kinRouters = sync.OnceValues(func() ([]routers.Router, []string) { return parseKin() })

// loadKin returns routers for the three contract documents (kin-openapi).
// Servers are dropped so routes match whatever host the emulator uses.
func loadKin(t *testing.T) []routers.Router {
	t.Helper()
	rs, notes := kinRouters()
	for _, n := range notes {
		t.Log(n)
	}
	if len(rs) != len(contract.DocumentNames()) {
		t.Fatalf("kin-openapi loaded %d of %d documents: %v", len(rs), len(contract.DocumentNames()), notes)
	}
	return rs
}

func parseKin() ([]routers.Router, []string) {
	var (
		out   []routers.Router
		notes []string
	)
	for _, name := range contract.DocumentNames() {
		b, err := fs.ReadFile(contract.Files(), name)
		if err != nil {
			notes = append(notes, err.Error())
			continue
		}
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(b)
		if err != nil {
			notes = append(notes, fmt.Sprintf("kin-openapi cannot load %s: %v", name, err))
			continue
		}
		if err := doc.Validate(context.Background()); err != nil {
			notes = append(notes, fmt.Sprintf("kin-openapi: %s does not validate as OpenAPI %s: %v", name, doc.OpenAPI, err))
		}
		doc.Servers = nil
		r, err := legacy.NewRouter(doc)
		if err != nil {
			notes = append(notes, fmt.Sprintf("kin-openapi router for %s: %v", name, err))
			continue
		}
		out = append(out, r)
	}
	return out, notes
}

func newKinValidator(t *testing.T) exchangeValidator {
	rs := loadKin(t)
	return func(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) error {
		r2 := req.Clone(context.Background())
		r2.URL.Path = strings.TrimSuffix(r2.URL.Path, "/")
		r2.Body = io.NopCloser(bytes.NewReader(reqBody))
		var (
			route  *routers.Route
			params map[string]string
		)
		for _, rt := range rs {
			if ro, p, err := rt.FindRoute(r2); err == nil {
				route, params = ro, p
				break
			}
		}
		if route == nil {
			return fmt.Errorf("kin-openapi: no route for %s %s", req.Method, r2.URL.Path)
		}
		in := &openapi3filter.RequestValidationInput{Request: r2, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
		var errs []error
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			errs = append(errs, fmt.Errorf("kin request: %w", err))
		}
		if resp != nil {
			out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
				Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
			out.SetBodyBytes(respBody)
			if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
				errs = append(errs, fmt.Errorf("kin response: %w", err))
			}
		}
		return errors.Join(errs...)
	}
}

// TestKinLoadsContract reports what kin-openapi makes of the documents.
func TestKinLoadsContract(t *testing.T) {
	if n := len(loadKin(t)); n != 3 {
		t.Fatalf("loaded %d routers", n)
	}
}
