package domain_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"switchyard/internal/domain"
)

func TestSecretsNeverPrintTheirValues(t *testing.T) {
	t.Parallel()
	sec := domain.Secrets{"api_key": "sk_live_TOPSECRET", "client_secret": "hunter2-TOPSECRET"}
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("conn", "secrets", sec)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("conn", "secrets", sec, "conn", domain.Connection{ID: "c1", Secrets: sec})
	doc, err := json.Marshal(struct {
		S domain.Secrets `json:"s"`
	}{sec})
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"text log": text.String(), "json log": js.String(), "json": string(doc), "%v": fmt.Sprintf("%v %+v", sec, sec), "Sprint": fmt.Sprint(sec)} {
		if strings.Contains(out, "TOPSECRET") {
			t.Errorf("%s reveals a secret: %s", name, out)
		}
	}
	// The names stay visible: an operator can see which secrets are set.
	if !strings.Contains(js.String(), "api_key") || !strings.Contains(string(doc), "client_secret") {
		t.Errorf("secret names missing: %s / %s", js.String(), doc)
	}
}
