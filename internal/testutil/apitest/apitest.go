// Package apitest calls the hub's admin JSON API from tests: one request
// with a bearer token, the status checked, the answer decoded.
package apitest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Call sends method base+path with body (JSON, may be "") and the bearer
// token ("" sends none), and returns the status and the answer.
func Call(tb testing.TB, base, token, method, path, body string) (int, []byte) {
	tb.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: reading the answer: %v", method, path, err)
	}
	return resp.StatusCode, raw
}

// Expect fails the test unless status is want, then decodes raw into out
// (when out is not nil).
func Expect(tb testing.TB, method, path string, status int, raw []byte, want int, out any) {
	tb.Helper()
	if status != want {
		tb.Fatalf("%s %s = %d %s, want %d", method, path, status, raw, want)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			tb.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

// Do is Call then Expect.
func Do(tb testing.TB, base, token, method, path, body string, want int, out any) {
	tb.Helper()
	status, raw := Call(tb, base, token, method, path, body)
	Expect(tb, method, path, status, raw, want, out)
}
