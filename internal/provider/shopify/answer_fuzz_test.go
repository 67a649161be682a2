package shopify_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"switchyard/internal/domain"
	"switchyard/internal/outbound"
	"switchyard/internal/provider/shopify"
)

// FuzzGraphQLAnswer: whatever the Admin GraphQL endpoint answers (status
// 200 or 429, any body), Query returns without panicking, and a throttled
// answer asks for a positive wait.
func FuzzGraphQLAnswer(f *testing.F) {
	for _, s := range []string{
		`{"data":{"orders":{"nodes":[]}},"extensions":{"cost":{"requestedQueryCost":12,"actualQueryCost":2,"throttleStatus":{"maximumAvailable":1000,"currentlyAvailable":998,"restoreRate":50}}}}`,
		`{"errors":[{"message":"Throttled","extensions":{"code":"THROTTLED"}}],"extensions":{"cost":{"requestedQueryCost":500,"throttleStatus":{"maximumAvailable":1000,"currentlyAvailable":1,"restoreRate":50}}}}`,
		`{"errors":[{"message":"Throttled","extensions":{"code":"THROTTLED"}}],"extensions":{"cost":{"requestedQueryCost":1000,"throttleStatus":{"maximumAvailable":1,"currentlyAvailable":0,"restoreRate":1e-300}}}}`,
		`{"errors":[{"message":"boom","extensions":{"code":"INTERNAL_SERVER_ERROR"}}],"data":null}`,
		`{"errors":"[API] Invalid API key or access token"}`, `{"data":{"orders":1}}`, `{"errors":[1,{}]}`, `null`, ``, `<html>`,
	} {
		f.Add(200, []byte(s))
		f.Add(429, []byte(s))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status != 429 {
			status = 200
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write(body)
		}))
		defer srv.Close()
		c, err := shopify.New(shopify.Config{Shop: "fuzz.myshopify.com", AccessToken: "t", BaseURL: srv.URL, HTTPClient: srv.Client()})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var out struct {
			Orders struct {
				Nodes []shopify.Order `json:"nodes"`
			} `json:"orders"`
		}
		_, err = c.Query(ctx, "orders", `{ orders(first: 1) { nodes { id } } }`, nil, &out)
		var oe *outbound.Error
		if errors.As(err, &oe) && oe.Class == domain.ClassRateLimited && oe.RetryAfter <= 0 {
			t.Fatalf("throttled answer with wait %v: %s", oe.RetryAfter, body)
		}
	})
}
