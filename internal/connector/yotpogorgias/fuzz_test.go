package yotpogorgias

import (
	"testing"
	"time"
)

// FuzzCheckState: any state string (and cookie) is refused or accepted
// without a panic, and only a state this hub signed is accepted.
func FuzzCheckState(f *testing.F) {
	c, clk := newTestConnector(3)
	good := c.signState(flowState{Account: "acme", Stage: stageYotpo, Expires: clk.Now().Add(time.Hour).Unix(), Nonce: "n"})
	f.Add(good, "n")
	f.Add("e30.AAAA", "n")
	f.Add("..", "")
	f.Fuzz(func(t *testing.T, state, nonce string) {
		st, err := c.checkState(requestWithCookie(nonce), state, stageYotpo)
		if err == nil && (state != good || st.Account != "acme") {
			t.Fatalf("accepted %q as %+v", state, st)
		}
	})
}

// FuzzParseDeliveries: escalation bodies and ticket external ids never
// panic the parsers.
func FuzzParseDeliveries(f *testing.F) {
	f.Add([]byte(`{"event_name":"review_escalated","type":"review","data":{"id":5}}`), "yotpo-review-5")
	f.Add([]byte(`{"event_name":"question_escalated","type":"question","data":{"id":"7"}}`), "yotpo-question-x")
	f.Fuzz(func(t *testing.T, body []byte, ext string) {
		if p, err := (yotpoSource{}).Parse(body); err == nil && p.DedupKey == "" {
			t.Fatal("parsed without a dedup key")
		}
		if kind, id, ok := escalationTicket(ext); ok && escalationExternalID(kind, id) != ext {
			t.Fatalf("%q does not round-trip", ext)
		}
	})
}
