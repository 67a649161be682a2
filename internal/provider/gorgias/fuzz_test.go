package gorgias_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"switchyard/internal/provider/gorgias"
)

// FuzzDecodeResponses: the tolerant readings of Gorgias answers never
// panic and never fail on a field's shape: customers, tickets, widgets and
// integrations decode from any JSON object, decoded values encode again,
// and the X-Gorgias-Account-Api-Call-Limit header yields a sane quota or
// none.
func FuzzDecodeResponses(f *testing.F) {
	for _, s := range []string{
		`{"id":"42","email":"a@example.com","name":null,"firstname":"A","channels":[{"type":"email","address":"a@example.com","preferred":"true"}],"data":{"whiplash":{"orders":[]}},"created_datetime":"2026-05-01T10:00:00.123456","updated_datetime":"2026-05-01 10:00:00"}`,
		`{"id":1.0,"subject":"Where?","status":"open","customer":{"id":2},"messages":[{"id":3,"body_text":"hi","from_agent":1,"sender":{"email":"x"}}],"tags":[{"name":"vip"}],"created_datetime":"2026-05-01"}`,
		`{"id":7,"type":"http","http":{"url":"https://hub/x?email={{ticket.customer.email}}","method":"GET","headers":{"a":1}},"deactivated_datetime":null}`,
		`{"id":"x","template":{"type":"wrapper","widgets":[{"type":"card","path":"","widgets":null}]},"context":"ticket"}`,
		`{"id":true,"channels":{},"data":[],"meta":"s"}`, `[]`, `null`, ``, `{`,
	} {
		f.Add([]byte(s), "12/40")
	}
	f.Add([]byte(`{}`), " 40 / 40 ")
	f.Add([]byte(`{}`), "-1/0")
	f.Add([]byte(`{}`), "99999999999999999999/1")
	quota := gorgias.QuotaFunc(20 * time.Second)
	f.Fuzz(func(t *testing.T, body []byte, callLimit string) {
		var c gorgias.Customer
		if json.Unmarshal(body, &c) == nil {
			if _, err := json.Marshal(c); err != nil {
				t.Fatalf("decoded customer does not encode: %v", err)
			}
		}
		var tk gorgias.Ticket
		_ = json.Unmarshal(body, &tk)
		var w gorgias.Widget
		_ = json.Unmarshal(body, &w)
		var in gorgias.Integration
		_ = json.Unmarshal(body, &in)
		var page struct {
			Data []gorgias.Customer `json:"data"`
		}
		_ = json.Unmarshal(body, &page)
		_, _ = gorgias.ParseTime(string(body))
		used, limit, ok := gorgias.ParseCallLimit(callLimit)
		if ok && (limit <= 0 || used < 0) {
			t.Fatalf("call limit %q read as %d/%d", callLimit, used, limit)
		}
		h := http.Header{}
		h.Set(gorgias.CallLimitHeader, callLimit)
		if q, ok := quota(h); ok && (q.Limit <= 0 || q.Remaining < 0 || q.Reset < 0) {
			t.Fatalf("quota %+v from %q", q, callLimit)
		}
	})
}
