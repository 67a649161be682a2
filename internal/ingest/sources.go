package ingest

import (
	"net/http"

	"switchyard/internal/provider/whiplash"
)

// WhiplashSource verifies X-WHIPLASH-SIGNATURE and reads order webhooks.
type WhiplashSource struct{}

// SecretNames implements Source: the webhook secret (defaults to the OAuth
// client secret, per the V2 docs), its previous value during rotation, and
// the API key (the help center's variant).
func (WhiplashSource) SecretNames() []string {
	return []string{"webhook_secret", "webhook_secret_previous", "client_secret", "api_key"}
}

// Verify implements Source.
func (WhiplashSource) Verify(h http.Header, body []byte, secrets []string) error {
	return whiplash.Verifier{}.Verify(h, body, secrets)
}

// Parse implements Source.
func (WhiplashSource) Parse(body []byte) (Parsed, error) {
	wh, err := whiplash.DecodeWebhook(body)
	if err != nil {
		return Parsed{}, err
	}
	p := Parsed{EventType: wh.EventName, DedupKey: wh.DedupKey(body)}
	if wh.Order != nil {
		p.CustomerEmail = wh.Order.Email
	}
	return p, nil
}
