package yotpo_test

import (
	"errors"
	"net/http"
	"testing"

	"switchyard/internal/provider/yotpo"
)

// FuzzEscalationWebhook: the escalation webhook's verifier and decoder never
// panic on any body or signature header; a body signed with the secret
// verifies, a decoded delivery names its event and a non-zero escalation
// id, and its dedup key is stable.
func FuzzEscalationWebhook(f *testing.F) {
	for _, s := range []string{
		`{"event_name":"review_escalated","app_key":"app","type":"review","data":{"id":101,"title":"Broken","content":"Arrived broken","score":1,"sku":"SKU-1","name":"Ann Lee","email":"ann@example.com","created_at":"2026-05-01T10:00:00Z","updated_at":"2026-05-01T11:00:00Z","escalated":true,"escalated_at":"2026-05-01T11:00:00Z","sentiment":"0.12","comments":[{"id":1,"content":"sorry"}]}}`,
		`{"event_name":"question_escalated","app_key":"app","type":"question","data":{"id":"77","content":"Does it fit?","email":"q@example.com","created_at":"2026-05-01 10:00:00","escalated_at":null}}`,
		`{"event_name":"review_create","data":{"id":"1e3","score":"5","published":false}}`,
		`{"event_name":"review_escalated","data":null}`,
		`{"event_name":"","data":{"id":1}}`,
		`{"event_name":"question_x","data":{"id":0}}`,
		`{"event_name":"review_escalated","data":[]}`,
		`{"event_name":"review_escalated","data":{"id":1,"created_at":"not a time","sentiment":{}}}`,
		`[]`, `null`, ``, `{`,
	} {
		f.Add([]byte(s), "")
		f.Add([]byte(s), "sha256=zz")
	}
	f.Fuzz(func(t *testing.T, body []byte, sig string) {
		h := http.Header{}
		h.Set(yotpo.SignatureHeader, sig)
		_ = (yotpo.Verifier{}).Verify(h, body, []string{"secret"}) // any header: an answer, never a panic
		h.Set(yotpo.SignatureHeader, yotpo.Sign("secret", body))
		if err := (yotpo.Verifier{}).Verify(h, body, []string{"old", "secret"}); err != nil {
			t.Fatalf("own signature rejected: %v", err)
		}
		if err := (yotpo.Verifier{}).Verify(h, body, []string{"old"}); !errors.Is(err, yotpo.ErrBadSignature) {
			t.Fatalf("wrong secret accepted: %v", err)
		}
		p, esc, err := yotpo.DecodeWebhook(body)
		if err != nil {
			return
		}
		if p.Event == "" || esc.ID == 0 || (esc.Kind != yotpo.KindReview && esc.Kind != yotpo.KindQuestion) {
			t.Fatalf("decoded %+v %+v", p, esc)
		}
		if k1, k2 := p.DedupKey(esc), p.DedupKey(esc); k1 == "" || k1 != k2 {
			t.Fatalf("dedup key %q / %q", k1, k2)
		}
	})
}
