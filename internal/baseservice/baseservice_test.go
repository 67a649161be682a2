package baseservice_test

import (
	"bytes"
	"log/slog"
	"testing"
	"time"

	"switchyard/internal/baseservice"
)

func TestNewFillsDefaultsAndKeepsWhatIsGiven(t *testing.T) {
	t.Parallel()
	a := baseservice.New(nil, nil)
	if a.Logger == nil || a.Now == nil {
		t.Fatalf("defaults missing: %+v", a)
	}
	a.Logger.Info("discarded") // must not panic
	if d := time.Since(a.Now()); d < 0 || d > time.Minute {
		t.Fatalf("default clock is off by %v", d)
	}
	var buf bytes.Buffer
	fixed := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	b := baseservice.New(slog.New(slog.NewTextHandler(&buf, nil)), func() time.Time { return fixed })
	b.Logger.Info("kept")
	if !b.Now().Equal(fixed) || !bytes.Contains(buf.Bytes(), []byte("kept")) {
		t.Fatalf("given logger or clock not kept: %v %q", b.Now(), buf.String())
	}
}
