package yotpogorgias

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"switchyard/internal/connector"
	"switchyard/internal/domain"
	"switchyard/internal/provider/gorgias"
	"switchyard/internal/provider/yotpo"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestConnector(key byte) (*Connector, *testClock) {
	clk := &testClock{t: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	k := make([]byte, 32)
	for i := range k {
		k[i] = key
	}
	return New(connector.Deps{Clients: &connector.Clients{FingerprintKey: k}, Now: clk.Now}), clk
}

func requestWithCookie(nonce string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/oauth/callback/yotpo/gorgias", nil)
	if nonce != "" {
		r.AddCookie(&http.Cookie{Name: flowCookie, Value: nonce})
	}
	return r
}

// A state is accepted only with its signature, for its hop, before it
// expires, in the browser that started the flow, and by a hub with the same
// key.
func TestStateIsCheckedOnEveryHop(t *testing.T) {
	c, clk := newTestConnector(1)
	other, _ := newTestConnector(2)
	st := flowState{Account: "acme", Stage: stageGorgias, Expires: clk.Now().Add(15 * time.Minute).Unix(), Nonce: "n1", Hub: "http://hub"}
	good := c.signState(st)
	if got, err := c.checkState(requestWithCookie("n1"), good, stageGorgias); err != nil || got.Account != "acme" {
		t.Fatalf("valid state: %+v, %v", got, err)
	}
	payload, sig, _ := strings.Cut(good, ".")
	tampered := c.signState(flowState{Account: "evil", Stage: stageGorgias, Expires: st.Expires, Nonce: "n1"})
	tp, _, _ := strings.Cut(tampered, ".")
	for name, tc := range map[string]struct {
		state, stage, cookie string
	}{
		"other hop":             {good, stageYotpo, "n1"},
		"no cookie":             {good, stageGorgias, ""},
		"other browser":         {good, stageGorgias, "n2"},
		"account swapped":       {tp + "." + sig, stageGorgias, "n1"},
		"no signature":          {payload, stageGorgias, "n1"},
		"garbage":               {"x.y", stageGorgias, "n1"},
		"signed by another hub": {other.signState(st), stageGorgias, "n1"},
	} {
		if _, err := c.checkState(requestWithCookie(tc.cookie), tc.state, tc.stage); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	clk.Add(16 * time.Minute)
	if _, err := c.checkState(requestWithCookie("n1"), good, stageGorgias); err == nil {
		t.Fatal("expired state accepted")
	}
}

// The install start refuses a bad account and an unconfigured app, and
// sends a good one to Gorgias consent with a state bound to it.
func TestStartInstall(t *testing.T) {
	c, _ := newTestConnector(1)
	w := httptest.NewRecorder()
	c.startInstall(w, httptest.NewRequest(http.MethodGet, "/install/yotpo?account=acme", nil))
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("unconfigured: %d", w.Code)
	}
	c.Configure(Config{GorgiasClientID: "switchyard", GorgiasClientSecret: "s", PublicURL: "https://hub.example.com"})
	for _, bad := range []string{"", "a.b", "-x", "Acme/../x", "a%20b"} {
		w := httptest.NewRecorder()
		c.startInstall(w, httptest.NewRequest(http.MethodGet, "/install/yotpo?account="+bad, nil))
		if w.Code != http.StatusBadRequest {
			t.Errorf("account %q: %d", bad, w.Code)
		}
	}
	w = httptest.NewRecorder()
	c.startInstall(w, httptest.NewRequest(http.MethodGet, "/install/yotpo?account=acme.gorgias.com", nil))
	loc := w.Header().Get("Location")
	if w.Code != http.StatusFound || !strings.HasPrefix(loc, "https://acme.gorgias.com/oauth/authorize?") ||
		!strings.Contains(loc, "redirect_uri=https%3A%2F%2Fhub.example.com%2Foauth%2Fcallback%2Fyotpo%2Fgorgias") {
		t.Fatalf("start: %d %s", w.Code, loc)
	}
	cookies := w.Result().Cookies()
	if len(cookies) != 1 || cookies[0].Name != flowCookie || !cookies[0].HttpOnly {
		t.Fatalf("flow cookie %+v", cookies)
	}
}

func TestEscalationTicketIDs(t *testing.T) {
	for ext, want := range map[string]struct {
		kind string
		id   int64
		ok   bool
	}{
		"yotpo-review-12":   {yotpo.KindReview, 12, true},
		"yotpo-question-7":  {yotpo.KindQuestion, 7, true},
		"yotpo-review-0":    {"", 0, false},
		"yotpo-other-3":     {"", 0, false},
		"myapp-ticket-77":   {"", 0, false},
		"yotpo-review-12x":  {"", 0, false},
		"":                  {"", 0, false},
		"yotpo-review--100": {"", 0, false},
		"yotpo-review-05":   {"", 0, false},
		"yotpo-review-+5":   {"", 0, false},
	} {
		k, id, ok := escalationTicket(ext)
		if ok != want.ok || (ok && (k != want.kind || id != want.id)) {
			t.Errorf("%q: %s %d %v", ext, k, id, ok)
		}
		if ok && escalationExternalID(k, id) != ext {
			t.Errorf("%q does not round-trip", ext)
		}
	}
}

// A ticket message is relayed only when it is an agent's public reply.
func TestPublicAgentReply(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		name string
		m    gmsg
		want bool
	}{
		{"agent reply", gmsg{FromAgent: true, Channel: "email"}, true},
		{"agent reply marked public", gmsg{FromAgent: true, Channel: "email", Public: &yes}, true},
		{"internal note", gmsg{FromAgent: true, Channel: "internal-note"}, false},
		{"private agent message", gmsg{FromAgent: true, Channel: "email", Public: &no}, false},
		{"customer message", gmsg{FromAgent: false, Channel: "email"}, false},
	} {
		if got := publicAgentReply(tc.m.msg()); got != tc.want {
			t.Errorf("%s: %v", tc.name, got)
		}
	}
}

// The widget template has every field of the spec (SPEC §3 C4).
func TestWidgetHasEverySpecField(t *testing.T) {
	want := map[string][]string{
		"Overview":       {"VIP tier name", "Average rating", "Number of reviews"},
		"Loyalty":        {"Loyalty points", "Total points earned", "Total redemptions", "Successful referrals", "Referrals made & clicked", "Referred by another customer"},
		"Reviews":        {"Average rating", "Average site rating", "Average product rating", "Average sentiment", "Average site sentiment", "Average product sentiment", "Top topics"},
		"Latest reviews": {"Date created", "Rating", "Published status", "Title", "Text", "Rating upvotes and downvotes", "Product name", "Product page", "Category", "Product reviews", "Product rating"},
		"Synced at":      {"Synced at"},
	}
	got := WidgetFields()
	for sec, fields := range want {
		have := strings.Join(got[sec], "|")
		for _, f := range fields {
			if !strings.Contains("|"+have+"|", "|"+f+"|") {
				t.Errorf("%s lacks %q (has %s)", sec, f, have)
			}
		}
	}
	if tpl := WidgetTemplate(); tpl.Widgets[0].Path != DataKey {
		t.Fatalf("widget reads %q", tpl.Widgets[0].Path)
	}
}

func TestDefaultIntegrationName(t *testing.T) {
	in := &domain.Installation{Settings: map[string]string{SettingStoreName: "Demo Store"}}
	if n := integrationName(in); n != DefaultIntegrationName("Demo Store") || len(n) < 60 {
		t.Fatalf("default name %q", n)
	}
	in.Settings[SettingIntegrationName] = " Yotpo "
	if n := integrationName(in); n != "Yotpo" {
		t.Fatalf("renamed %q", n)
	}
}

type gmsg struct {
	FromAgent bool
	Channel   string
	Public    *bool
}

func (g gmsg) msg() gorgias.Message {
	return gorgias.Message{FromAgent: g.FromAgent, Channel: g.Channel, Public: g.Public}
}

func TestConfigureFrom(t *testing.T) {
	c, _ := newTestConnector(1)
	set := map[string]string{"gorgias_client_id": "app", "gorgias_client_secret": "s", "sync_delay": "90s", "gorgias_base_url": "http://127.0.0.1:9/a/{account}"}
	if err := c.ConfigureFrom(func(k string) string { return set[k] }); err != nil {
		t.Fatal(err)
	}
	cfg := c.config()
	if cfg.SyncDelay != 90*time.Second || cfg.YotpoClientID != "app" || cfg.YotpoBaseURL != yotpo.DefaultReviewsBaseURL || cfg.StateTTL != DefaultStateTTL {
		t.Fatalf("config %+v", cfg)
	}
	for _, bad := range []map[string]string{{"sync_delay": "10m"}, {"sync_delay": "soon"}, {"gorgias_base_url": "https://gorgias.example.com"}} {
		if err := c.ConfigureFrom(func(k string) string { return bad[k] }); domain.ErrorCode(err) != domain.EINVALID {
			t.Errorf("%v: err %v", bad, err)
		}
	}
	if c.config().SyncDelay != 90*time.Second {
		t.Fatal("a refused configuration changed the connector")
	}
	// A Gorgias host that is not the vendor's own nor allow-listed is refused.
	if _, err := c.gorgiasBase("acme"); err == nil {
		t.Fatal("non-allow-listed gorgias base accepted")
	}
}
