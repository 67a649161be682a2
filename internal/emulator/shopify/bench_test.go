package shopify

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkGraphQLOrdersByEmail: one page of the client's orders query
// (parse, validate, cost, execute, encode) through the route.
func BenchmarkGraphQLOrdersByEmail(b *testing.B) {
	e := New(Config{Now: fixed, Seed: 7, Customers: 3, Emails: []string{"g@example.com"}, BucketSize: 1e12, RestoreRate: 1e12})
	defer e.Close()
	tok := e.IssueToken("", "read_orders", "read_all_orders")
	body, _ := json.Marshal(map[string]any{"query": goldenQueries[0].query, "variables": map[string]any{"first": 10, "query": "email:g@example.com", "lines": 10}})
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/admin/api/2026-07/graphql.json", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Shopify-Access-Token", tok)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != 200 || strings.Contains(rec.Body.String(), `"errors"`) {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}
