package klaviyo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"

	"switchyard/internal/domain"
	emu "switchyard/internal/emulator/klaviyo"
	"switchyard/internal/outbound"
)

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

func TestUpsertProfile(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	ctx := context.Background()

	p1, created, err := b.client.UpsertProfile(ctx, ProfileAttributes{
		Email: String("sam@example.com"), FirstName: String("Sam"), LastName: String("Lee"), Organization: String("Acme"),
		Location:   &Location{Address1: String("1 Main St"), Address2: String("Apt 4"), City: String("Ann Arbor"), Latitude: Float(42.28)},
		Properties: map[string]any{"whiplash_last_order_id": 1030},
	})
	if err != nil || !created || p1.ID == "" {
		t.Fatalf("first upsert = %+v, %v, %v", p1, created, err)
	}
	if str(p1.Attributes.Email) != "sam@example.com" || p1.Created.IsZero() || p1.Attributes.Location == nil || *p1.Attributes.Location.Latitude != 42.28 {
		t.Errorf("decoded profile = %+v", p1)
	}

	b.clock.Advance(time.Second)
	p2, created, err := b.client.UpsertProfile(ctx, ProfileAttributes{
		Email: String("sam@example.com"), LastName: String("Lee-Park"),
		Clear: []string{"organization", "location.address2"},
	})
	if err != nil || created || p2.ID != p1.ID {
		t.Fatalf("second upsert = %s, created %v, %v; want update of %s", p2.ID, created, err, p1.ID)
	}
	tests := []struct{ name, got, want string }{
		{"first_name kept (absent)", str(p2.Attributes.FirstName), "Sam"},
		{"last_name overwritten", str(p2.Attributes.LastName), "Lee-Park"},
		{"organization cleared (null)", str(p2.Attributes.Organization), "<nil>"},
		{"address2 cleared", str(p2.Attributes.Location.Address2), "<nil>"},
		{"address1 kept", str(p2.Attributes.Location.Address1), "1 Main St"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	if !p2.Updated.After(p1.Updated) {
		t.Errorf("updated %v not after %v", p2.Updated, p1.Updated)
	}
	st := b.account().Profiles
	if len(st) != 1 || st[0].Organization != "" || st[0].FirstName != "Sam" {
		t.Errorf("emulator state = %+v", st)
	}

	// Identifiers on two profiles: 409 → *DuplicateProfileError.
	other, _, err := b.client.UpsertProfile(ctx, ProfileAttributes{PhoneNumber: String("+15005550006")})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = b.client.UpsertProfile(ctx, ProfileAttributes{Email: String("sam@example.com"), PhoneNumber: String("+15005550006")})
	var dup *DuplicateProfileError
	if !errors.As(err, &dup) || dup.ProfileID != other.ID || outbound.ClassOf(err) != domain.ClassTerminal {
		t.Errorf("conflicting upsert error = %v (dup %+v, class %s)", err, dup, outbound.ClassOf(err))
	}
	if _, _, err := b.client.UpsertProfile(ctx, ProfileAttributes{FirstName: String("No id")}); domain.ErrorCode(err) != domain.EINVALID || outbound.ClassOf(err) != domain.ClassTerminal {
		t.Errorf("no identifier: %v (code %s)", err, domain.ErrorCode(err))
	}
	var ae *APIError
	_, _, err = b.client.UpsertProfile(ctx, ProfileAttributes{Email: String("not an email")})
	if !errors.As(err, &ae) || ae.Status != 400 || ae.Code() != "invalid" || ae.Errors[0].Source.Pointer != "/data/attributes/email" {
		t.Errorf("bad email: %v", err)
	}
}

func TestCreateProfileDuplicateAndUpdate(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	ctx := context.Background()
	p, err := b.client.CreateProfile(ctx, ProfileAttributes{Email: String("a@example.com"), FirstName: String("A")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.client.CreateProfile(ctx, ProfileAttributes{Email: String("a@example.com")})
	var dup *DuplicateProfileError
	if !errors.As(err, &dup) || dup.ProfileID != p.ID {
		t.Fatalf("409 = %v, want DuplicateProfileError for %s", err, p.ID)
	}
	if outbound.StatusOf(err) != http.StatusConflict {
		t.Errorf("status of duplicate error = %d", outbound.StatusOf(err))
	}
	// The usual fallback: PATCH the existing profile.
	u, err := b.client.UpdateProfile(ctx, dup.ProfileID, ProfileAttributes{LastName: String("B"), Clear: []string{"first_name"}})
	if err != nil || u.ID != p.ID || str(u.Attributes.LastName) != "B" || u.Attributes.FirstName != nil {
		t.Errorf("UpdateProfile = %+v, %v", u, err)
	}
	if _, err := b.client.UpdateProfile(ctx, "01NOTTHERE", ProfileAttributes{}); !domain.IsNotFound(err) || outbound.ClassOf(err) != domain.ClassTerminal {
		t.Errorf("update unknown: %v", err)
	}
}

func TestGetProfileByEmail(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	ctx := context.Background()
	want, _, err := b.client.UpsertProfile(ctx, ProfileAttributes{Email: String(`o"neil@example.com`), FirstName: String("Q")})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.client.UpsertProfile(ctx, ProfileAttributes{Email: String("other@example.com")}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		email    string
		wantID   string
		notFound bool
	}{
		{`o"neil@example.com`, want.ID, false},
		{`O"Neil@Example.com`, want.ID, false},
		{"missing@example.com", "", true},
	}
	for _, tt := range tests {
		got, err := b.client.GetProfileByEmail(ctx, tt.email)
		switch {
		case tt.notFound && (!domain.IsNotFound(err) || outbound.ClassOf(err) != domain.ClassTerminal):
			t.Errorf("%s: err = %v, want terminal ENOTFOUND", tt.email, err)
		case !tt.notFound && (err != nil || got.ID != tt.wantID):
			t.Errorf("%s: %+v, %v", tt.email, got, err)
		}
	}
}

func TestCreateEventDedupAndProfile(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	ctx := context.Background()
	ev := Event{
		Metric: "Order shipped", Email: "sam@example.com",
		Profile:    &ProfileAttributes{FirstName: String("Sam")},
		Properties: map[string]any{"OrderId": "1030", "Tracking": []string{"1Z999"}},
		Time:       b.clock.Now().Add(-time.Hour), Value: Float(49.95), ValueCurrency: "USD",
		UniqueID: "whiplash:1:1030:shipped",
	}
	for range 2 {
		if err := b.client.CreateEvent(ctx, ev); err != nil {
			t.Fatalf("CreateEvent: %v", err)
		}
	}
	ev2 := ev
	ev2.Metric, ev2.UniqueID, ev2.Time = "Order delivered", "whiplash:1:1030:delivered", time.Time{}
	if err := b.client.CreateEvent(ctx, ev2); err != nil {
		t.Fatal(err)
	}
	a := b.account()
	if len(a.Events) != 2 || a.DuplicateEvents != 1 {
		t.Fatalf("events = %d, duplicates = %d; want 2 and 1", len(a.Events), a.DuplicateEvents)
	}
	got := a.Events[0]
	if got.Metric != "Order shipped" || got.UniqueID != ev.UniqueID || !got.Time.Equal(ev.Time) || *got.Value != 49.95 || got.Backfill {
		t.Errorf("stored event = %+v", got)
	}
	if len(a.Profiles) != 1 || a.Profiles[0].FirstName != "Sam" || got.ProfileID != a.Profiles[0].ID {
		t.Errorf("event profile = %+v", a.Profiles)
	}
	if !a.Events[1].Time.Equal(b.clock.Now()) {
		t.Errorf("default time = %v, want the emulator's now", a.Events[1].Time)
	}
	for _, bad := range []Event{{Metric: "", Email: "a@example.com"}, {Metric: "M"}, {Metric: strings.Repeat("m", 128), Email: "a@example.com"}} {
		if err := b.client.CreateEvent(ctx, bad); domain.ErrorCode(err) != domain.EINVALID {
			t.Errorf("CreateEvent(%+v) = %v, want EINVALID", bad, err)
		}
	}
}

func TestBulkCreateEventsBackfill(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	ctx := context.Background()
	var events []Event
	for i := range 2300 {
		events = append(events, Event{
			Metric: "Order shipped", Email: fmt.Sprintf("c%d@example.com", i%40),
			Properties: map[string]any{"OrderId": i}, Time: b.clock.Now().Add(-time.Duration(i) * time.Minute),
			UniqueID: fmt.Sprintf("whiplash:1:%d:shipped", i),
		})
	}
	jobs, err := b.client.BulkCreateEvents(ctx, events, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		got, err := b.client.GetEventBulkJob(ctx, j.ID)
		if err != nil || !got.Done() || got.Failed() || got.CompletedCount != j.Events {
			t.Errorf("job %s = %+v, %v; want complete with %d events", j.ID, got, err, j.Events)
		}
	}
	a := b.account()
	backfilled := 0
	for _, e := range a.Events {
		if e.Backfill && e.Source == "bulk" {
			backfilled++
		}
	}
	if len(a.Events) != 2300 || backfilled != 2300 || len(a.Profiles) != 40 {
		t.Errorf("events %d, backfilled %d, profiles %d; want 2300, 2300, 40", len(a.Events), backfilled, len(a.Profiles))
	}
	if n := len(a.EventBulkJobs); n != 3 {
		t.Errorf("%d bulk requests, want 3 (≤ 1,000 events each)", n)
	}
	if len(jobs) != 3 {
		t.Errorf("%d jobs returned, want 3", len(jobs))
	}
	// Replaying fails the whole request (a repeated unique_id): the 202
	// hides it, the job says so, and the new event is not recorded.
	jobs, err = b.client.BulkCreateEvents(ctx, append(events[:10:10], Event{Metric: "Order delivered", Email: "c1@example.com", UniqueID: "new"}), false)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("replay: %v, %d jobs", err, len(jobs))
	}
	j, err := b.client.GetEventBulkJob(ctx, jobs[0].ID)
	if err != nil || !j.Failed() || len(j.Errors) != 10 || j.Errors[0].Pointer == "" {
		t.Errorf("replayed job = %+v, %v; want failed with 10 errors", j, err)
	}
	if a = b.account(); len(a.Events) != 2300 {
		t.Errorf("after replay: %d events, want 2300 (nothing processed)", len(a.Events))
	}
}

func TestListsPagingAndMembership(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	ctx := context.Background()
	var names []string
	for i := range 23 {
		names = append(names, fmt.Sprintf("%q", fmt.Sprint("Seeded ", i)))
	}
	b.control("/_emulator/seed", `{"profiles":2500,"lists":[`+strings.Join(names, ",")+`]}`)

	w, err := b.client.CreateList(ctx, "Whiplash", "")
	if err != nil || w.ID == "" || w.OptInProcess != emu.DefaultOptInProcess {
		t.Fatalf("CreateList = %+v, %v", w, err)
	}
	b.clock.Advance(time.Second)
	if _, err := b.client.CreateList(ctx, "Whiplash", "double_opt_in"); err != nil { // same name, newer
		t.Fatal(err)
	}
	all, err := b.client.Lists(ctx, "")
	if err != nil || len(all) != 25 {
		t.Fatalf("Lists = %d lists, %v; want 25 over 3 pages", len(all), err)
	}
	if _, counts := b.vt.report(); counts["GET /api/lists"] != 3 {
		t.Errorf("GET /api/lists calls = %d, want 3 pages", counts["GET /api/lists"])
	}
	found, err := b.client.FindListByName(ctx, "Whiplash")
	if err != nil || found.ID != w.ID {
		t.Errorf("FindListByName = %+v, %v; want the oldest (%s)", found, err, w.ID)
	}
	if _, err := b.client.FindListByName(ctx, "Nope"); !domain.IsNotFound(err) {
		t.Errorf("FindListByName(Nope) = %v", err)
	}

	var ids []string
	for _, p := range b.account().Profiles {
		ids = append(ids, p.ID)
	}
	ids = append(ids, ids[0], "") // duplicates and blanks are dropped
	if err := b.client.AddProfilesToList(ctx, w.ID, ids); err != nil {
		t.Fatal(err)
	}
	if _, counts := b.vt.report(); counts["POST /api/lists/{id}/relationships/profiles"] != 3 {
		t.Errorf("membership calls = %d, want 3 chunks of ≤ 1,000", counts["POST /api/lists/{id}/relationships/profiles"])
	}
	got, err := b.client.GetList(ctx, w.ID)
	if err != nil || got.ProfileCount == nil || *got.ProfileCount != 2500 || got.Name != "Whiplash" {
		t.Errorf("GetList = %+v, %v", got, err)
	}
	if _, err := b.client.GetList(ctx, "nope00"); !domain.IsNotFound(err) || outbound.ClassOf(err) != domain.ClassTerminal {
		t.Errorf("GetList(unknown) = %v", err)
	}
	if err := b.client.AddProfilesToList(ctx, w.ID, []string{"01UNKNOWNPROFILE"}); outbound.StatusOf(err) != 400 {
		t.Errorf("unknown profile id: %v", err)
	}
}

func TestBulkImportLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	ctx := context.Background()
	l, err := b.client.CreateList(ctx, "Whiplash", "")
	if err != nil {
		t.Fatal(err)
	}
	profiles := []ProfileAttributes{
		{Email: String("a@example.com"), FirstName: String("A")},
		{Email: String("not-an-email")},
		{Email: String("b@example.com"), Organization: String("B Corp")},
	}
	job, err := b.client.BulkImportProfiles(ctx, profiles, l.ID)
	if err != nil || job.ID == "" || job.Status != JobQueued || job.TotalCount != 3 || len(job.ListIDs) != 1 {
		t.Fatalf("BulkImportProfiles = %+v, %v", job, err)
	}
	var statuses []string
	for range 4 {
		j, err := b.client.GetBulkImportJob(ctx, job.ID)
		if err != nil {
			t.Fatal(err)
		}
		statuses = append(statuses, j.Status)
		if j.Done() {
			job = j
			break
		}
		b.clock.Advance(emu.DefaultBulkJobStep)
	}
	if diff := cmp.Diff([]string{JobQueued, JobProcessing, JobComplete}, statuses); diff != "" {
		t.Errorf("status sequence (-want +got):\n%s", diff)
	}
	if job.CompletedCount != 2 || job.FailedCount != 1 || job.CompletedAt.IsZero() || job.StartedAt.IsZero() {
		t.Errorf("final job = %+v", job)
	}
	errs, err := b.client.GetBulkImportErrors(ctx, job.ID)
	if err != nil || len(errs) != 1 || errs[0].Code != "invalid" || errs[0].OriginalPayload == nil {
		t.Errorf("import errors = %+v, %v", errs, err)
	}
	a := b.account()
	if len(a.Profiles) != 2 || len(a.Lists[0].ProfileIDs) != 2 || a.Profiles[1].Organization != "B Corp" {
		t.Errorf("after import: %+v", a)
	}

	big := make([]ProfileAttributes, MaxBulkProfiles+1)
	if _, err := b.client.BulkImportProfiles(ctx, big); domain.ErrorCode(err) != domain.EINVALID {
		t.Errorf("10,001 profiles: %v", err)
	}
	if _, err := b.client.GetBulkImportJob(ctx, "01NOJOB"); !domain.IsNotFound(err) {
		t.Errorf("unknown job: %v", err)
	}
}

func TestRateLimited429(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("window", func(t *testing.T) {
		t.Parallel()
		b := setup(t, options{noLimiter: true})
		burst := DefaultLimits()["POST /api/lists"].Burst
		for i := range burst {
			if _, err := b.client.CreateList(ctx, fmt.Sprint("L", i), ""); err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
		}
		_, err := b.client.CreateList(ctx, "one too many", "")
		var oe *outbound.Error
		var ae *APIError
		if !errors.As(err, &oe) || oe.Class != domain.ClassRateLimited || oe.RetryAfter != time.Second || !errors.As(err, &ae) || ae.Code() != "throttled" {
			t.Errorf("burst+1 call: %v (outbound %+v)", err, oe)
		}
	})
	t.Run("injected, pauses the budget", func(t *testing.T) {
		t.Parallel()
		b := setup(t, options{})
		b.control("/_emulator/faults", `{"rate_limit_rate":1,"retry_after":7}`)
		err := b.client.CreateEvent(ctx, Event{Metric: "M", Email: "a@example.com"})
		var oe *outbound.Error
		if !errors.As(err, &oe) || oe.Class != domain.ClassRateLimited || oe.RetryAfter != 7*time.Second {
			t.Fatalf("injected 429: %v", err)
		}
		key := b.client.Budgets()["POST /api/events"].Key
		paused := false
		for _, s := range b.limiter.Status() {
			if s.Key == key && s.PausedUntil.Equal(b.clock.Now().Add(7*time.Second)) {
				paused = true
			}
		}
		if !paused {
			t.Errorf("budget %s not paused for Retry-After: %+v", key, b.limiter.Status())
		}
	})
}

func TestPrivateKeyRejected(t *testing.T) {
	t.Parallel()
	b := setup(t, options{client: func(c *Config) { c.PrivateKey = "pk_wrong" }})
	_, _, err := b.client.UpsertProfile(context.Background(), ProfileAttributes{Email: String("a@example.com")})
	if outbound.ClassOf(err) != domain.ClassAuth || outbound.StatusOf(err) != 401 {
		t.Errorf("wrong key: %v (class %s)", err, outbound.ClassOf(err))
	}
}

func TestOAuthInstallAndRefresh(t *testing.T) {
	t.Parallel()
	b := setup(t, options{emu: func(c *emu.Config) { c.OAuthAutoApprove = true }})
	ctx := context.Background()
	store := &memStore{}
	oa := OAuth{ClientID: emu.DefaultOAuthClientID, ClientSecret: emu.DefaultOAuthClientSecret, RedirectURL: "https://hub.example/oauth/callback/klaviyo",
		Scopes: []string{"profiles:write", "lists:write", "events:write"}, Store: store, Now: b.clock.Now}
	app := NewOAuthApp(oa, b.srv.URL, b.http)
	verifier := oauth2.GenerateVerifier()
	consent := app.AuthCodeURL("state-1", verifier)
	if !strings.HasPrefix(consent, b.srv.URL+"/oauth/authorize?") || !strings.Contains(consent, "code_challenge_method=S256") {
		t.Fatalf("consent URL = %s", consent)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(consent)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc.Query().Get("state") != "state-1" {
		t.Fatalf("redirect = %s", loc)
	}
	tok, err := app.Exchange(ctx, loc.Query().Get("code"), verifier)
	if err != nil || tok.RefreshToken == "" || store.Saves() != 1 || !tok.Expiry.Equal(b.clock.Now().Add(time.Hour)) {
		t.Fatalf("Exchange = %+v, %v (saves %d)", tok, err, store.Saves())
	}

	c, err := New(Config{BaseURL: b.srv.URL, Account: "oauth-install", OAuth: &oa, HTTPClient: b.http, Now: b.clock.Now, Limiter: b.limiter})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.UpsertProfile(ctx, ProfileAttributes{Email: String("a@example.com")}); err != nil {
		t.Fatalf("call with Bearer: %v", err)
	}
	// Expired on the client's clock: refreshed before the call.
	b.clock.Advance(time.Hour)
	if err := c.CreateEvent(ctx, Event{Metric: "M", Email: "a@example.com"}); err != nil {
		t.Fatalf("call after expiry: %v", err)
	}
	if store.Saves() != 2 {
		t.Errorf("saves after proactive refresh = %d, want 2", store.Saves())
	}
	// Revoked at the vendor while the client thinks the token is good:
	// 401 → one refresh → retried.
	b.clock.Advance(10 * time.Second)
	b.control("/_emulator/tokens/expire", "")
	if _, err := c.GetProfileByEmail(ctx, "a@example.com"); err != nil {
		t.Fatalf("call after server-side expiry: %v", err)
	}
	if store.Saves() != 3 {
		t.Errorf("saves after 401 refresh = %d, want 3", store.Saves())
	}
	// The refresh token is revoked: auth failure, terminal for the install.
	cur, _ := store.Load(ctx)
	if err := app.Revoke(ctx, cur.RefreshToken); err != nil {
		t.Fatal(err)
	}
	b.clock.Advance(2 * time.Hour)
	if _, err := c.GetProfileByEmail(ctx, "a@example.com"); outbound.ClassOf(err) != domain.ClassAuth {
		t.Errorf("after revoke: %v (class %s), want auth", err, outbound.ClassOf(err))
	}
	if st := b.emu.State(); st.Accounts[0].Profiles[0].Email != "a@example.com" {
		t.Errorf("OAuth writes landed in %+v", st.Accounts[0].Profiles)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no credentials", Config{}},
		{"both", Config{PrivateKey: "pk", OAuth: &OAuth{ClientID: "a", ClientSecret: "b", Store: &memStore{}}}},
		{"oauth without store", Config{OAuth: &OAuth{ClientID: "a", ClientSecret: "b"}}},
		{"bad base URL", Config{PrivateKey: "pk", BaseURL: "not a url"}},
	}
	for _, tt := range tests {
		if _, err := New(tt.cfg); err == nil {
			t.Errorf("%s: New succeeded", tt.name)
		}
	}
}

func TestParseQuota(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		h    http.Header
		want outbound.Quota
		ok   bool
	}{
		{"plain", http.Header{"Ratelimit-Limit": {"150"}, "Ratelimit-Remaining": {"149"}, "Ratelimit-Reset": {"42"}}, outbound.Quota{Limit: 150, Remaining: 149, Reset: 42 * time.Second}, true},
		{"structured", http.Header{"Ratelimit-Limit": {"750, 750;w=60"}, "Ratelimit-Remaining": {"3"}, "Ratelimit-Reset": {"0.5"}}, outbound.Quota{Limit: 750, Remaining: 3, Reset: 500 * time.Millisecond}, true},
		{"missing", http.Header{"Retry-After": {"1"}}, outbound.Quota{}, false},
		{"garbage", http.Header{"Ratelimit-Limit": {"lots"}, "Ratelimit-Remaining": {"1"}}, outbound.Quota{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseQuota(tt.h)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: %+v %v, want %+v %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestBudgetsSizedBelowLimits(t *testing.T) {
	t.Parallel()
	c, err := New(Config{PrivateKey: "pk", Account: "acct"})
	if err != nil {
		t.Fatal(err)
	}
	for label, l := range DefaultLimits() {
		bud := c.Budgets()[label]
		// A full bucket plus a minute of refill must fit in the steady window.
		if float64(bud.Burst)+bud.Rate*60 > float64(l.Steady) || bud.Burst > l.Burst || bud.Burst < 1 {
			t.Errorf("%s: budget %+v exceeds %+v", label, bud, l)
		}
		if !strings.HasPrefix(bud.Key, "klaviyo:acct:") {
			t.Errorf("%s: key %q", label, bud.Key)
		}
	}
	b := c.Budgets()
	if b["POST /api/profile-import"].Key != b["GET /api/lists"].Key || b["POST /api/lists"].Key == b["POST /api/event-bulk-create-jobs"].Key {
		t.Errorf("tier grouping: %+v", b)
	}
}
