package yotpo

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"switchyard/internal/provider/webhooksig"
)

// Escalation webhook headers and events (assumptions, docs/assumptions/yotpo.md).
const (
	SignatureHeader        = "X-Yotpo-Signature"
	EventHeader            = "X-Yotpo-Event"
	DeliveryHeader         = "X-Yotpo-Delivery-Id"
	EventReviewCreate      = "review_create"
	EventReviewEscalated   = "review_escalated"
	EventQuestionEscalated = "question_escalated"
)

// Verification errors.
var (
	ErrMissingSignature = errors.New("missing " + SignatureHeader + " header")
	ErrBadSignature     = webhooksig.ErrBadSignature
	ErrNoSecret         = webhooksig.ErrNoSecret
)

// Sign returns the lowercase-hex HMAC-SHA256 of body under secret.
func Sign(secret string, body []byte) string {
	return hex.EncodeToString(webhooksig.Sum(secret, body))
}

// Verifier checks X-Yotpo-Signature (hex HMAC-SHA256 of the raw body)
// against several secrets in constant time. Yotpo's own signing is
// unconfirmed: receivers also rely on an unguessable URL token and re-read
// the review by id before acting.
type Verifier struct{}

// Verify returns nil when the signature matches one of secrets.
func (Verifier) Verify(h http.Header, body []byte, secrets []string) error {
	got := strings.TrimSpace(h.Get(SignatureHeader))
	got = strings.TrimPrefix(got, "sha256=")
	if got == "" {
		return ErrMissingSignature
	}
	raw, err := hex.DecodeString(strings.ToLower(got))
	if err != nil {
		return ErrBadSignature
	}
	return webhooksig.Check(raw, body, secrets)
}

// WebhookPayload is an escalation (or review_create) delivery.
type WebhookPayload struct {
	Event  string          `json:"event_name"`
	AppKey string          `json:"app_key"`
	Type   string          `json:"type"`
	Data   json.RawMessage `json:"data"`
}

// DecodeWebhook parses a delivery and returns the escalation it carries.
func DecodeWebhook(body []byte) (*WebhookPayload, Escalation, error) {
	var p WebhookPayload
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&p); err != nil {
		return nil, Escalation{}, fmt.Errorf("yotpo webhook body is not valid JSON: %w", err)
	}
	if p.Event == "" {
		return nil, Escalation{}, errors.New("yotpo webhook has no event_name")
	}
	if len(p.Data) == 0 || string(p.Data) == "null" {
		return nil, Escalation{}, errors.New("yotpo webhook has no data")
	}
	switch {
	case p.Type == KindQuestion || strings.HasPrefix(p.Event, "question"):
		var q Question
		if err := json.Unmarshal(p.Data, &q); err != nil {
			return nil, Escalation{}, fmt.Errorf("yotpo webhook question: %w", err)
		}
		if q.ID == 0 {
			return nil, Escalation{}, errors.New("yotpo webhook question has no id")
		}
		return &p, questionEscalation(q), nil
	default:
		var rv Review
		if err := json.Unmarshal(p.Data, &rv); err != nil {
			return nil, Escalation{}, fmt.Errorf("yotpo webhook review: %w", err)
		}
		if rv.ID == 0 {
			return nil, Escalation{}, errors.New("yotpo webhook review has no id")
		}
		return &p, reviewEscalation(rv), nil
	}
}

// DedupKey identifies one escalation, however often it is delivered.
func (p *WebhookPayload) DedupKey(e Escalation) string {
	return fmt.Sprintf("%s:%s:%d:%s", p.Event, e.Kind, e.ID, e.EscalatedAt.UTC().Format("20060102T150405"))
}
