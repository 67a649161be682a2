package klaviyo

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"switchyard/internal/emulator/klaviyo/contract"
)

// TestLimitsMatchContract checks the client's built-in limits against
// x-klaviyo-ratelimit in the contract files.
func TestLimitsMatchContract(t *testing.T) {
	t.Parallel()
	spec, err := contract.Load()
	if err != nil {
		t.Fatal(err)
	}
	if spec.Revision != DefaultRevision {
		t.Errorf("contract revision %s, client sends %s", spec.Revision, DefaultRevision)
	}
	for label, l := range DefaultLimits() {
		op := spec.FindLabel(label)
		if op == nil {
			t.Errorf("%s is not in the contract", label)
			continue
		}
		want := RateLimit{Burst: op.Limit.Burst, Steady: op.Limit.Steady, Daily: op.Limit.Daily}
		if l != want {
			t.Errorf("%s: client limit %+v, contract %+v", label, l, want)
		}
	}
}

// TestEveryEndpointIsContractValidated drives every client method against
// the emulator and checks that the validating transport saw (and accepted)
// every endpoint the client uses.
func TestEveryEndpointIsContractValidated(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	ctx := context.Background()
	c := b.client
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	p, _, err := c.UpsertProfile(ctx, ProfileAttributes{Email: String("a@example.com"), Location: &Location{City: String("Austin")}})
	must(err)
	_, err = c.CreateProfile(ctx, ProfileAttributes{Email: String("b@example.com"), PhoneNumber: String("+15005550007")})
	must(err)
	_, err = c.UpdateProfile(ctx, p.ID, ProfileAttributes{Title: String("Buyer"), Clear: []string{"location"}})
	must(err)
	_, err = c.GetProfileByEmail(ctx, "a@example.com")
	must(err)
	must(c.CreateEvent(ctx, Event{Metric: "Processing order", Email: "a@example.com", Time: b.clock.Now(), UniqueID: "u"}))
	_, err = c.BulkCreateEvents(ctx, []Event{{Metric: "Order shipped", Email: "a@example.com", Value: Float(1)}}, true)
	must(err)
	l, err := c.CreateList(ctx, "Whiplash", "single_opt_in")
	must(err)
	_, err = c.FindListByName(ctx, "Whiplash")
	must(err)
	_, err = c.GetList(ctx, l.ID)
	must(err)
	must(c.AddProfilesToList(ctx, l.ID, []string{p.ID}))
	j, err := c.BulkImportProfiles(ctx, []ProfileAttributes{{Email: String("c@example.com")}}, l.ID)
	must(err)
	b.clock.Advance(3 * time.Second)
	_, err = c.GetBulkImportJob(ctx, j.ID)
	must(err)
	_, err = c.GetBulkImportErrors(ctx, j.ID)
	must(err)
	// Error answers are validated too.
	_, _ = c.CreateProfile(ctx, ProfileAttributes{Email: String("a@example.com")})
	_, _ = c.GetList(ctx, "nope00")

	problems, counts := b.vt.report()
	if len(problems) > 0 {
		t.Fatalf("contract violations: %v", problems)
	}
	var missing []string
	for label := range DefaultLimits() {
		if counts[label] == 0 {
			missing = append(missing, label)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("endpoints never validated: %v (validated: %v)", missing, counts)
	}
}

// TestTransportCatchesViolations makes sure the validating transport is not
// vacuous: a bad request and a bad response are both reported.
func TestTransportCatchesViolations(t *testing.T) {
	t.Parallel()
	spec, err := contract.Load()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.api+json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"data":{"type":"list","id":"X","attributes":{"name":"n","opt_in_process":"triple"},"links":{"self":"relative"}}}`))
	}))
	defer srv.Close()
	vt := &validatingTransport{spec: spec, next: srv.Client().Transport, validated: map[string]int{}}
	vt.validators = []exchangeValidator{vt.ownValidator}
	req, _ := http.NewRequest("POST", srv.URL+"/api/lists", strings.NewReader(`{"data":{"type":"lists","attributes":{}}}`))
	req.Header.Set("Content-Type", "application/vnd.api+json")
	resp, err := (&http.Client{Transport: vt}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	problems, _ := vt.report()
	joined := strings.Join(problems, "\n")
	for _, want := range []string{"revision", "/data/type", "/data/attributes/name", "opt_in_process", "absolute URI"} {
		if !strings.Contains(joined, want) {
			t.Errorf("violations do not mention %q:\n%s", want, joined)
		}
	}
}
