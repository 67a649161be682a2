// Package demo runs switchyard offline: every vendor emulator and the hub on
// 127.0.0.1, one demo merchant whose five connectors are installed through
// their real install flows (followed programmatically, as a merchant's
// browser would, with the emulators approving consent at once), and a stream
// of simulated orders, tickets, customer messages and Yotpo escalations. It
// prints where to look: the admin UI (logged in by a one-time link) and a
// Gorgias ticket whose sidebar shows the Whiplash, Konnektive, Yotpo and
// Together widgets of one demo customer.
package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"switchyard/internal/app"
	"switchyard/internal/domain"
	gorgiasemu "switchyard/internal/emulator/gorgias"
	klaviyoemu "switchyard/internal/emulator/klaviyo"
	konnektiveemu "switchyard/internal/emulator/konnektive"
	shopifyemu "switchyard/internal/emulator/shopify"
	whiplashemu "switchyard/internal/emulator/whiplash"
	yotpoemu "switchyard/internal/emulator/yotpo"
	"switchyard/internal/outbound"
	"switchyard/internal/provider/gorgias"
	"switchyard/internal/provider/konnektive"
	"switchyard/internal/provider/whiplash"
	"switchyard/internal/secret"
)

// AdminToken is the demo hub's admin (operator) token.
const AdminToken = "demo-admin-token"

// DemoEmail is the demo customer: seeded in the Whiplash (an order),
// Konnektive, Yotpo and Shopify (an order upgraded to final sale in the
// last 60 days) emulators, so its Gorgias ticket shows all four widgets.
const DemoEmail = "jamie.demo@example.com"

// Connector names, as the admin API knows them.
const (
	C1Name = "whiplash-gorgias"
	C2Name = "whiplash-klaviyo"
	C3Name = "konnektive-gorgias"
	C4Name = "yotpo-gorgias"
	C5Name = "together-gorgias"
)

// Config configures a demo.
type Config struct {
	// Addr is the hub's address (default 127.0.0.1:8080; port 0 picks a
	// free port).
	Addr string
	// DB is the hub's database (default: a fresh SQLite file in a temporary
	// directory, since the demo's secret key is new every run).
	DB string
	// OrdersPerWave is how many orders each simulated wave places (default 40).
	OrdersPerWave int
	// TicketsPerWave is how many customers of a wave write in to Gorgias
	// (default 3).
	TicketsPerWave int
	// Waves bounds the stream (0: until ctx ends).
	Waves int
	// Pause is the time between waves (default 20 s).
	Pause time.Duration
	// GorgiasWindow is the emulated Gorgias rate window (default 2 s, so the
	// demo moves fast; production accounts have 20 s).
	GorgiasWindow time.Duration
	// YotpoSyncDelay is yotpo-gorgias's sync delay after a message event
	// (default 3 s in the demo; production default 2 min).
	YotpoSyncDelay time.Duration
	// ReadyTimeout bounds the wait for the demo ticket's four widgets
	// (default 50 s).
	ReadyTimeout time.Duration
	Seed         uint64
	Logger       *slog.Logger
}

// Demo is a running demo.
type Demo struct {
	cfg      Config
	out      io.Writer
	started  time.Time
	app      *app.App
	servers  []*http.Server
	closers  []func()
	Gorgias  *gorgiasemu.Emulator
	Klaviyo  *klaviyoemu.Emulator
	Whiplash *whiplashemu.Emulator
	Yotpo    *yotpoemu.Emulator
	Shopify  *shopifyemu.Emulator
	URLs     map[string]string
	Merchant string
	// Installations by connector name.
	Installations map[string]string
	// C1 and C2 are the whiplash-gorgias and whiplash-klaviyo installations.
	C1, C2 string
	// TicketURL is the demo customer's ticket (all four widgets).
	TicketURL string
	// LoginURL is the admin UI's one-time login link.
	LoginURL string
	// Ready is how long Start + Run took to reach "ready" (the ticket's
	// four widgets populated); 0 when it was not reached.
	Ready time.Duration
	// Missing names the widgets the demo ticket still lacked when the
	// wait for ready ended (empty once ready).
	Missing   []string
	gc        *gorgias.Client
	readyc    chan struct{}
	wavesDone atomic.Int64
	tmp       string // the default database's directory, removed by Close
	// lastTicket is a ticket of the previous wave (a follow-up message
	// goes there); escalation is the demo review's id in Yotpo.
	lastTicket gorgias.ID
	escalation int64
	replied    bool
}

// ReadyC is closed once the URLs are printed: the demo ticket shows its
// four widgets, or the wait for them ended (Missing says which lack).
func (d *Demo) ReadyC() <-chan struct{} { return d.readyc }

// WavesDone is the number of waves streamed so far.
func (d *Demo) WavesDone() int { return int(d.wavesDone.Load()) }

func (d *Demo) serve(name string, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("error listening for the %s emulator: %w", name, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	d.servers = append(d.servers, srv)
	u := "http://" + ln.Addr().String()
	d.URLs[name] = u
	return u, nil
}

// freeAddr resolves a port-0 address to a free port now, so the hub's
// public URL is known before it is built (the connectors tell Gorgias,
// Yotpo and the OAuth providers where to call back).
func freeAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("error reading the hub address %q: %w", addr, err)
	}
	if port != "0" {
		return addr, nil
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", fmt.Errorf("error finding a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Start brings the emulators and the hub up (the hub bound but not yet
// serving; Run serves it and installs the connectors).
func Start(ctx context.Context, cfg Config, out io.Writer) (*Demo, error) {
	started := time.Now()
	tmp := ""
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:8080"
	}
	if cfg.DB == "" {
		dir, err := os.MkdirTemp("", "switchyard-demo-")
		if err != nil {
			return nil, fmt.Errorf("error creating the demo database directory: %w", err)
		}
		cfg.DB = "sqlite://" + filepath.Join(dir, "demo.db")
		tmp = dir
	}
	if cfg.OrdersPerWave <= 0 {
		cfg.OrdersPerWave = 40
	}
	if cfg.TicketsPerWave <= 0 {
		cfg.TicketsPerWave = 3
	}
	if cfg.Pause <= 0 {
		cfg.Pause = 20 * time.Second
	}
	if cfg.GorgiasWindow <= 0 {
		cfg.GorgiasWindow = 2 * time.Second
	}
	if cfg.YotpoSyncDelay <= 0 {
		cfg.YotpoSyncDelay = 3 * time.Second
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 50 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Demo{cfg: cfg, out: out, started: started, URLs: map[string]string{}, Installations: map[string]string{}, readyc: make(chan struct{}), tmp: tmp}
	emails := []string{DemoEmail}
	d.Gorgias = gorgiasemu.New(gorgiasemu.Config{Window: cfg.GorgiasWindow, AutoApprove: true, Logger: cfg.Logger})
	d.Klaviyo = klaviyoemu.New(klaviyoemu.Config{OAuthAutoApprove: true, Logger: cfg.Logger})
	d.Whiplash = whiplashemu.New(whiplashemu.Config{Seed: cfg.Seed, AllowClientCredentials: true, AutoApprove: true, Logger: cfg.Logger})
	kon := konnektiveemu.New(konnektiveemu.Config{Seed: cfg.Seed, Emails: emails, Logger: cfg.Logger})
	// Yotpo shows its Connect page (the merchant picks the store and
	// presses Connect, which the demo does).
	d.Yotpo = yotpoemu.New(yotpoemu.Config{Seed: cfg.Seed, Emails: emails, Logger: cfg.Logger})
	d.Shopify = shopifyemu.New(shopifyemu.Config{Seed: cfg.Seed, AutoApprove: true, Emails: emails, Logger: cfg.Logger})
	d.closers = append(d.closers, d.Gorgias.Close, d.Klaviyo.Close, d.Whiplash.Close, kon.Close, d.Yotpo.Close, d.Shopify.Close)
	for _, e := range []struct {
		name string
		h    http.Handler
	}{{"gorgias", d.Gorgias}, {"klaviyo", d.Klaviyo}, {"whiplash", d.Whiplash}, {"konnektive", kon}, {"yotpo", d.Yotpo}, {"shopify", d.Shopify}} {
		if _, err := d.serve(e.name, e.h); err != nil {
			d.Close()
			return nil, err
		}
	}
	key, err := secret.GenerateKey()
	if err != nil {
		d.Close()
		return nil, err
	}
	raw, _ := secret.ParseKey(key)
	// The emulators are the only non-vendor hosts the hub may call.
	var emulators []string
	for _, u := range d.URLs {
		emulators = append(emulators, strings.TrimPrefix(u, "http://"))
	}
	slices.Sort(emulators)
	a, err := d.newHub(ctx, raw, emulators)
	if err != nil {
		d.Close()
		return nil, err
	}
	d.app = a
	d.URLs["hub"] = a.URL()
	d.gc, err = gorgias.New(gorgias.Config{Account: "acme", BaseURL: d.URLs["gorgias"], Email: gorgiasemu.DefaultUserEmail, APIKey: gorgiasemu.DefaultAPIKey, Window: cfg.GorgiasWindow})
	if err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// newHub builds the hub and binds its address. With port 0 the port is
// chosen first (the public URL must be known when the hub is built), so a
// port taken in between is retried with another.
func (d *Demo) newHub(ctx context.Context, key []byte, emulators []string) (*app.App, error) {
	cfg := d.cfg
	for attempt := 1; ; attempt++ {
		addr, err := freeAddr(cfg.Addr)
		if err != nil {
			return nil, err
		}
		hub := "http://" + addr
		a, err := app.New(ctx, app.Config{Addr: addr, DB: cfg.DB, SecretKey: key, AdminToken: AdminToken, Version: "demo", AllowVendorHosts: emulators,
			PublicURL: hub,
			// The hub's Gorgias app for the app-store install of
			// yotpo-gorgias (operator configuration, as serve
			// --connector-config sets it).
			ConnectorConfig: map[string]string{
				C4Name + ".gorgias_client_id":     gorgiasemu.DefaultClientID,
				C4Name + ".gorgias_client_secret": gorgiasemu.DefaultClientSecret,
				C4Name + ".gorgias_base_url":      d.URLs["gorgias"] + "/a/{account}",
				C4Name + ".yotpo_base_url":        d.URLs["yotpo"],
				C4Name + ".yotpo_client_id":       "switchyard",
				C4Name + ".sync_delay":            cfg.YotpoSyncDelay.String(),
			}}, cfg.Logger)
		if err != nil {
			return nil, fmt.Errorf("error starting the hub: %w", err)
		}
		err = a.Listen()
		if err == nil {
			return a, nil
		}
		a.Close()
		if addr == cfg.Addr || attempt == 5 {
			return nil, err
		}
	}
}

// Run serves the hub, installs the five connectors, makes the demo
// customer's ticket, then streams orders, tickets and escalations and
// prints where to look, until ctx ends or the waves are done.
func (d *Demo) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- d.app.Run(ctx) }()
	fail := func(err error) error {
		cancel()
		<-errc
		return err
	}
	if err := d.setup(ctx); err != nil {
		if ctx.Err() != nil {
			return fail(nil)
		}
		return fail(err)
	}
	if err := d.demoCustomer(ctx); err != nil {
		if ctx.Err() != nil {
			return fail(nil)
		}
		return fail(err)
	}
	for wave := 1; d.cfg.Waves == 0 || wave <= d.cfg.Waves; wave++ {
		if err := d.wave(ctx, wave); err != nil {
			if ctx.Err() != nil {
				break
			}
			return fail(err)
		}
		if d.cfg.Waves != 0 && wave == d.cfg.Waves {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(d.cfg.Pause):
		}
		if ctx.Err() != nil {
			break
		}
	}
	if d.cfg.Waves != 0 {
		cancel()
	}
	return <-errc
}

// Close stops the emulators and releases the hub's database.
func (d *Demo) Close() {
	for _, s := range d.servers {
		_ = s.Close()
	}
	for _, c := range d.closers {
		c()
	}
	if d.app != nil {
		_ = d.app.Close()
	}
	if d.tmp != "" {
		_ = os.RemoveAll(d.tmp)
	}
}

// apiAs calls the admin API with a bearer token.
func (d *Demo) apiAs(ctx context.Context, token, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, d.URLs["hub"]+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// api calls the admin API as the operator.
func (d *Demo) api(ctx context.Context, method, path string, body any, out any) error {
	return d.apiAs(ctx, AdminToken, method, path, body, out)
}

// browser is a merchant's browser: cookies kept, redirects followed.
func newBrowser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second}
}

func readPage(resp *http.Response, err error) (string, *http.Response, error) {
	if err != nil {
		return "", nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), resp, err
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// installYotpo runs yotpo-gorgias's app-store install as the merchant's
// browser: /install/yotpo?account=acme → Gorgias OAuth consent (the
// emulator approves) → Yotpo's Connect page, where the demo picks the
// default store and presses Connect → the confirmation page.
func (d *Demo) installYotpo(ctx context.Context) error {
	b := newBrowser()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, d.URLs["hub"]+"/install/yotpo?account=acme", nil)
	page, resp, err := readPage(b.Do(req))
	if err != nil {
		return fmt.Errorf("error starting the Yotpo install: %w", err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Request.URL.String(), d.URLs["yotpo"]+"/oauth/authorize") {
		return fmt.Errorf("the Yotpo install did not reach Yotpo's Connect page: %d at %s: %.300s", resp.StatusCode, resp.Request.URL, page)
	}
	form := url.Values{"account": {yotpoemu.DefaultAppKey}, "action": {"connect"}}
	for _, m := range hiddenRE.FindAllStringSubmatch(page, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, d.URLs["yotpo"]+"/oauth/authorize", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	page, resp, err = readPage(b.Do(req))
	if err != nil {
		return fmt.Errorf("error connecting Yotpo: %w", err)
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Yotpo is connected") {
		return fmt.Errorf("no Yotpo confirmation page: %d %.300s", resp.StatusCode, page)
	}
	return nil
}

// authorize opens an OAuth link in a browser (the emulator approves at
// once) and checks it lands on the hub's "connected" page.
func (d *Demo) authorize(ctx context.Context, link string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
	if err != nil {
		return err
	}
	page, resp, err := readPage(newBrowser().Do(req))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Request.URL.String(), d.URLs["hub"]+"/oauth/callback/") {
		return fmt.Errorf("authorizing %s ended at %s with %d: %.300s", link, resp.Request.URL, resp.StatusCode, page)
	}
	return nil
}

// setup installs the five connectors for one demo merchant. yotpo-gorgias
// comes first: its app-store install creates the merchant of the Gorgias
// account; the operator then adds the other connectors to that merchant.
func (d *Demo) setup(ctx context.Context) error {
	if err := d.installYotpo(ctx); err != nil {
		return err
	}
	var ml struct{ Merchants []domain.Merchant }
	if err := d.api(ctx, "GET", "/api/v1/merchants", nil, &ml); err != nil {
		return err
	}
	ms := ml.Merchants
	if len(ms) != 1 {
		return fmt.Errorf("%d merchants after the Yotpo install, want 1 (the demo needs a fresh database)", len(ms))
	}
	m := ms[0].ID
	d.Merchant = m
	var il struct{ Installations []domain.Installation }
	if err := d.api(ctx, "GET", "/api/v1/merchants/"+m+"/installations", nil, &il); err != nil {
		return err
	}
	for _, in := range il.Installations {
		d.Installations[in.Connector] = in.ID
	}
	mp := "/api/v1/merchants/" + m
	conn := func(body map[string]any) (string, error) {
		var c struct{ ID string }
		err := d.api(ctx, "POST", mp+"/connections", body, &c)
		return c.ID, err
	}
	hub := d.URLs["hub"]
	var err error
	ids := map[string]string{}
	for _, c := range []struct {
		key  string
		body map[string]any
	}{
		{"whiplash", map[string]any{"vendor": "whiplash", "account": "1", "config": map[string]string{"base_url": d.URLs["whiplash"], "client_id": "switchyard", "grant": "client_credentials"}, "secrets": map[string]string{"client_secret": "whiplash-app-secret"}}},
		{"gorgias", map[string]any{"vendor": "gorgias", "account": "acme", "config": map[string]string{"base_url": d.URLs["gorgias"], "email": gorgiasemu.DefaultUserEmail, "rate_window": d.cfg.GorgiasWindow.String()}, "secrets": map[string]string{"api_key": gorgiasemu.DefaultAPIKey}}},
		{"klaviyo", map[string]any{"vendor": "klaviyo", "account": "demo", "config": map[string]string{"base_url": d.URLs["klaviyo"]}, "secrets": map[string]string{"private_key": "pk_demo"}}},
		{"konnektive", map[string]any{"vendor": "konnektive", "account": konnektiveemu.DefaultLoginID, "config": map[string]string{"base_url": d.URLs["konnektive"]}, "secrets": map[string]string{"password": konnektiveemu.DefaultPassword}}},
		{"gorgias-oauth", map[string]any{"vendor": "gorgias", "account": "acme", "config": map[string]string{"base_url": d.URLs["gorgias"], "client_id": gorgiasemu.DefaultClientID,
			"redirect_url": hub + "/oauth/callback/" + C5Name + "/gorgias", "rate_window": d.cfg.GorgiasWindow.String()}, "secrets": map[string]string{"client_secret": gorgiasemu.DefaultClientSecret}}},
		{"shopify", map[string]any{"vendor": "shopify", "account": shopifyemu.DefaultShop, "config": map[string]string{"base_url": d.URLs["shopify"], "client_id": shopifyemu.DefaultClientID,
			"redirect_url": hub + "/oauth/callback/" + C5Name + "/shopify"}, "secrets": map[string]string{"client_secret": shopifyemu.DefaultClientSecret}}},
	} {
		if ids[c.key], err = conn(c.body); err != nil {
			return fmt.Errorf("error creating the %s connection: %w", c.key, err)
		}
	}
	create := func(name string, conns map[string]string, settings map[string]string) (string, error) {
		var in domain.Installation
		body := map[string]any{"connector": name, "connections": conns}
		if settings != nil {
			body["settings"] = settings
		}
		if err := d.api(ctx, "POST", mp+"/installations", body, &in); err != nil {
			return "", fmt.Errorf("error creating the %s installation: %w", name, err)
		}
		d.Installations[name] = in.ID
		return in.ID, nil
	}
	install := func(token, name string) error {
		var in domain.Installation
		if err := d.apiAs(ctx, token, "POST", mp+"/installations/"+d.Installations[name]+"/install", nil, &in); err != nil {
			return fmt.Errorf("error installing %s: %w", name, err)
		}
		if in.State != domain.InstallationActive {
			return fmt.Errorf("%s is %s after install: %s", name, in.State, in.StateReason)
		}
		return nil
	}
	// C1 and C2: the Whiplash store feeds Gorgias and Klaviyo.
	if d.C1, err = create(C1Name, map[string]string{"whiplash": ids["whiplash"], "gorgias": ids["gorgias"]}, nil); err != nil {
		return err
	}
	if d.C2, err = create(C2Name, map[string]string{"whiplash": ids["whiplash"], "klaviyo": ids["klaviyo"]}, nil); err != nil {
		return err
	}
	for _, n := range []string{C1Name, C2Name} {
		if err := install(AdminToken, n); err != nil {
			return err
		}
	}
	// C3: the plugin settings are checked against both sides when saved.
	c3, err := create(C3Name, map[string]string{"konnektive": ids["konnektive"], "gorgias": ids["gorgias"]}, nil)
	if err != nil {
		return err
	}
	if err := d.api(ctx, "PATCH", mp+"/installations/"+c3, map[string]any{"settings": map[string]string{"pullTimeout": "3s", "cacheTtl": "30s"}}, nil); err != nil {
		return fmt.Errorf("error saving the Konnektive plugin settings: %w", err)
	}
	if err := install(AdminToken, C3Name); err != nil {
		return err
	}
	// C5: the merchant requests the link, the operator approves it, the
	// merchant authorizes both apps and installs.
	c5, err := create(C5Name, map[string]string{"gorgias": ids["gorgias-oauth"], "shopify": ids["shopify"]}, nil) // hub_url: the hub's PublicURL
	if err != nil {
		return err
	}
	var tok struct{ Token string }
	if err := d.api(ctx, "POST", mp+"/tokens", map[string]string{"name": "demo merchant"}, &tok); err != nil {
		return fmt.Errorf("error creating the merchant token: %w", err)
	}
	ip := mp + "/installations/" + c5
	if err := d.apiAs(ctx, tok.Token, "POST", ip+"/link", map[string]string{"shopify_store": shopifyemu.DefaultShop, "gorgias_account": "acme.gorgias.com"}, nil); err != nil {
		return fmt.Errorf("error requesting the Together link: %w", err)
	}
	if err := d.api(ctx, "POST", ip+"/link/approve", nil, nil); err != nil {
		return fmt.Errorf("error approving the Together link: %w", err)
	}
	var links struct {
		GorgiasURL string `json:"gorgias_url"`
		ShopifyURL string `json:"shopify_url"`
	}
	if err := d.apiAs(ctx, tok.Token, "POST", ip+"/authorize", nil, &links); err != nil {
		return fmt.Errorf("error getting the Together OAuth links: %w", err)
	}
	for _, l := range []string{links.GorgiasURL, links.ShopifyURL} {
		if err := d.authorize(ctx, l); err != nil {
			return fmt.Errorf("error authorizing Together: %w", err)
		}
	}
	if err := install(tok.Token, C5Name); err != nil {
		return err
	}
	// The merchant points its Whiplash webhooks at C1 and C2 (Whiplash's
	// notification subscriptions, signed with the app's secret).
	wc, err := whiplash.NewClient(whiplash.Config{BaseURL: d.URLs["whiplash"], ClientID: "switchyard", ClientSecret: "whiplash-app-secret", ClientCredentials: true, Scopes: []string{"user_manage"}})
	if err != nil {
		return err
	}
	events, err := wc.ListNotificationEvents(ctx)
	if err != nil {
		return fmt.Errorf("error listing Whiplash notification events: %w", err)
	}
	var names []string
	for _, e := range events {
		if strings.HasPrefix(e.Name, "order.") {
			names = append(names, e.Name)
		}
	}
	for _, id := range []string{d.C1, d.C2} {
		if _, err := wc.EnsureSubscriptions(ctx, hub+"/hooks/whiplash/"+id, names); err != nil {
			return fmt.Errorf("error subscribing to Whiplash webhooks: %w", err)
		}
	}
	fmt.Fprintf(d.out, `switchyard demo is starting (database %s)
  hub:             %s   (admin token %q; API %s/api/v1/merchants/%s/installations)
  metrics:         %s/metrics
  gorgias (acme):  %s/app
  emulators:       whiplash %s, klaviyo %s, konnektive %s, yotpo %s, shopify %s (each: /_emulator/state)
installed for merchant %s:
`, d.cfg.DB, hub, AdminToken, hub, m, hub, d.URLs["gorgias"], d.URLs["whiplash"], d.URLs["klaviyo"], d.URLs["konnektive"], d.URLs["yotpo"], d.URLs["shopify"], m)
	for _, n := range []string{C1Name, C2Name, C3Name, C4Name, C5Name} {
		fmt.Fprintf(d.out, "  %-19s %s\n", n, d.Installations[n])
	}
	return nil
}

// demoCustomer makes the demo customer's Whiplash order and opens its
// Gorgias ticket, then waits until the ticket's sidebar shows all four
// widgets with data, and prints the URLs ("ready").
func (d *Demo) demoCustomer(ctx context.Context) error {
	o, err := d.Whiplash.CreateOrder(1, DemoEmail)
	if err != nil {
		return fmt.Errorf("error creating the demo customer's Whiplash order: %w", err)
	}
	if _, err := d.Whiplash.Transition(int64(o.ID), 300, whiplashemu.TransitionOptions{}); err != nil {
		d.cfg.Logger.Warn("demo order transition", slog.String("error", err.Error()))
	}
	// The CRM knows the customer by the same name and address (through
	// Konnektive's own customer/update), so every widget tells one story.
	if err := d.matchCRM(ctx, o); err != nil {
		d.cfg.Logger.Warn("demo customer in the CRM", slog.String("error", err.Error()))
	}
	deadline := time.Now().Add(d.cfg.ReadyTimeout)
	// C1 creates the Gorgias customer; the ticket then opens on it.
	for {
		c, err := d.gc.FindCustomerByEmail(ctx, DemoEmail)
		if err == nil && c != nil && len(c.Data) > 0 {
			break
		}
		if err := pause(ctx, deadline, 300*time.Millisecond); err != nil {
			return fmt.Errorf("the demo customer's Whiplash data did not reach Gorgias: %w", err)
		}
	}
	tk, err := d.ticket(ctx, DemoEmail, "Where is my order?", "Hi! My order has not arrived and I would like to change my subscription. Can you help?")
	if err != nil {
		return err
	}
	d.TicketURL = fmt.Sprintf("%s/app/ticket/%d", d.URLs["gorgias"], int64(tk))
	var missing []string
	for {
		page, err := get(ctx, d.TicketURL)
		if err == nil {
			if missing = MissingWidgets(page); len(missing) == 0 {
				break
			}
		}
		if err := pause(ctx, deadline, 500*time.Millisecond); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			break
		}
	}
	d.Missing = missing
	d.LoginURL = d.URLs["hub"] + d.app.UI().LoginLink(AdminToken)
	status := ""
	if len(missing) == 0 {
		d.Ready = time.Since(d.started)
		d.cfg.Logger.Info("demo ready", slog.Duration("time_to_ready", d.Ready))
		status = fmt.Sprintf("ready in %.1fs", d.Ready.Seconds())
	} else {
		// Keep running so the operator can look at what is there.
		d.cfg.Logger.Error("demo not ready", slog.Any("missing_widgets", missing), slog.Duration("waited", d.cfg.ReadyTimeout))
		status = fmt.Sprintf("NOT ready after %s: the demo ticket still lacks the %s widget(s); check the admin UI's dead letters", d.cfg.ReadyTimeout, strings.Join(missing, ", "))
	}
	fmt.Fprintf(d.out, `%s
  admin UI:        %s
                   (one-time login link, valid 10 minutes; later: %s/ui/ with the admin token)
  Gorgias ticket with the Whiplash, Konnektive, Yotpo and Together widgets (customer %s):
                   %s
streaming simulated orders, tickets and Yotpo escalations; Ctrl-C stops
`, status, d.LoginURL, d.URLs["hub"], DemoEmail, d.TicketURL)
	close(d.readyc)
	// A review of the demo customer escalated in Yotpo becomes a ticket.
	for _, r := range d.Yotpo.Reviews() {
		if strings.EqualFold(r.Email, DemoEmail) {
			if _, err := d.Yotpo.Escalate(yotpoemu.EscalateRequest{ID: r.ID}); err != nil {
				d.cfg.Logger.Warn("yotpo escalation", slog.String("error", err.Error()))
			} else {
				d.escalation = r.ID
			}
			break
		}
	}
	return nil
}

// matchCRM gives the demo customer's CRM record the name and address of
// its Whiplash order.
func (d *Demo) matchCRM(ctx context.Context, o whiplashemu.Order) error {
	crm, err := konnektive.New(konnektive.Config{BaseURL: d.URLs["konnektive"], LoginID: konnektiveemu.DefaultLoginID, Password: konnektiveemu.DefaultPassword})
	if err != nil {
		return err
	}
	cs, err := crm.QueryCustomers(ctx, konnektive.CustomerQuery{Email: DemoEmail})
	if err != nil {
		return err
	}
	if len(cs) == 0 {
		return errors.New("the CRM has no customer " + DemoEmail)
	}
	a := konnektive.Address{FirstName: o.FirstName, LastName: o.LastName, Address1: o.ShippingAddress1, City: o.ShippingCity,
		State: o.ShippingState, PostalCode: o.ShippingZip, Country: o.ShippingCountryISO2}
	_, err = crm.UpdateCustomer(ctx, konnektive.CustomerUpdate{CustomerID: string(cs[0].CustomerID), Billing: a, Shipping: a})
	return err
}

// wave streams one wave: Whiplash order lifecycles (duplicates and
// out-of-order deliveries included), a few of the wave's customers writing
// in to Gorgias (Konnektive and Together are pulled, Yotpo syncs), and a
// Yotpo escalation.
func (d *Demo) wave(ctx context.Context, n int) error {
	rep, err := d.Whiplash.Simulate(ctx, whiplashemu.SimOptions{
		Stores: []int64{1, 2, 3}, Orders: d.cfg.OrdersPerWave, Duration: 24 * time.Hour, FullLifecycle: true,
		DuplicateRate: 0.1, ReorderRate: 0.1, RepeatRate: 0.3, Seed: d.cfg.Seed + uint64(n),
	})
	if err != nil {
		return fmt.Errorf("error simulating orders: %w", err)
	}
	var emails []string
	for _, ev := range rep.Events {
		if len(emails) == d.cfg.TicketsPerWave {
			break
		}
		if o, ok := d.Whiplash.Order(ev.OrderID); ok && o.Email != "" && !slices.Contains(emails, domain.NormalizeEmail(o.Email)) {
			emails = append(emails, domain.NormalizeEmail(o.Email))
		}
	}
	tickets, messages := 0, 0
	var first gorgias.ID
	for _, e := range emails {
		// The wave's customers also shop on Shopify and have Yotpo
		// reviews and loyalty, so their tickets fill those widgets too.
		d.Yotpo.SeedEmail("", e, true, true)
		if err := d.Shopify.SeedEmail("", e); err != nil {
			d.cfg.Logger.Warn("demo shopify seed", slog.String("error", err.Error()))
		}
		tk, err := d.ticket(ctx, e, "Question about my order", "Hello, when will my order ship?")
		if err != nil {
			d.cfg.Logger.Warn("demo ticket", slog.String("error", err.Error()))
			continue
		}
		tickets++
		if first == 0 {
			first = tk
		}
	}
	// A customer of the previous wave writes again (a message event: the
	// Yotpo data syncs again, Konnektive and Together are pulled again).
	if d.lastTicket != 0 {
		if err := d.throttled(ctx, func() error {
			_, err := d.gc.CreateMessage(ctx, d.lastTicket, &gorgias.Message{Channel: "email", Via: "email", BodyText: "Any news? Thanks!"})
			return err
		}); err != nil {
			d.cfg.Logger.Warn("demo message", slog.String("error", err.Error()))
		} else {
			messages++
		}
	}
	d.lastTicket = first
	escalated := 0
	if len(emails) > 0 {
		if _, err := d.Yotpo.Escalate(yotpoemu.EscalateRequest{Email: emails[0]}); err == nil {
			escalated++
		}
	}
	replies := d.replyToEscalation(ctx)
	fmt.Fprintf(d.out, "wave %d: %d orders, %d webhooks (%d duplicates, %d out of order), %d tickets, %d follow-up messages, %d Yotpo escalations, %d agent replies to Yotpo\n",
		n, rep.Orders, rep.Sent, rep.Duplicates, rep.Reordered, tickets, messages, escalated, replies)
	d.wavesDone.Add(1)
	return nil
}

// replyToEscalation answers the demo customer's escalated review once its
// Gorgias ticket is there: the agent's public reply goes back to Yotpo as
// the store's comment. It returns the number of replies sent (0 or 1).
func (d *Demo) replyToEscalation(ctx context.Context) int {
	if d.replied || d.escalation == 0 {
		return 0
	}
	ext := fmt.Sprintf("yotpo-review-%d", d.escalation)
	for _, tk := range d.Gorgias.Snapshot().Accounts["acme"].Tickets {
		if tk.ExternalID == nil || *tk.ExternalID != ext {
			continue
		}
		err := d.throttled(ctx, func() error {
			_, err := d.gc.CreateMessage(ctx, gorgias.ID(tk.ID), &gorgias.Message{Channel: "email", Via: "helpdesk", FromAgent: true,
				Sender: &gorgias.Person{Email: gorgiasemu.DefaultUserEmail}, BodyText: "Thank you for telling us. We are sending a replacement today."})
			return err
		})
		if err != nil {
			d.cfg.Logger.Warn("demo agent reply", slog.String("error", err.Error()))
			return 0
		}
		d.replied = true
		return 1
	}
	return 0
}

// ticket opens a Gorgias ticket with a customer message.
func (d *Demo) ticket(ctx context.Context, email, subject, text string) (gorgias.ID, error) {
	var tk *gorgias.Ticket
	err := d.throttled(ctx, func() (err error) {
		tk, err = d.gc.CreateTicket(ctx, gorgias.TicketCreate{Subject: subject, Channel: "email", Via: "email",
			Customer: &gorgias.Person{Email: email},
			Messages: []gorgias.Message{{Channel: "email", Via: "email", BodyText: text, Sender: &gorgias.Person{Email: email}}}})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("error opening a Gorgias ticket for %s: %w", email, err)
	}
	return tk.ID, nil
}

// throttled runs a Gorgias call of the demo's own (as the agent or the
// customer's email channel), again after a 429: the demo shares the API
// key's budget with the hub's connectors, and a refused call changed
// nothing.
func (d *Demo) throttled(ctx context.Context, call func() error) error {
	for attempt := 1; ; attempt++ {
		err := call()
		if err == nil || outbound.StatusOf(err) != http.StatusTooManyRequests || attempt == 10 {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d.cfg.GorgiasWindow / 2):
		}
	}
}

func pause(ctx context.Context, deadline time.Time, d time.Duration) error {
	if time.Now().After(deadline) {
		return errors.New("timed out")
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func get(ctx context.Context, u string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	page, resp, err := readPage(http.DefaultClient.Do(req))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %d", u, resp.StatusCode)
	}
	return page, nil
}

// The four sidebar widgets of the demo ticket: each is there with data when
// a widget section of the agent page has its title and a non-empty field
// under its data path.
var widgetChecks = []struct{ name, title, field string }{
	{"Whiplash", ">Whiplash<", "whiplash.customer.email"},
	{"Konnektive", ">Konnektive CRM<", "customer.email"},
	{"Yotpo", ">Yotpo<", "yotpo.overview."},
	{"Together", ">Together<", "together.orders[0].order_name"},
}

var fieldRE = regexp.MustCompile(`data-field="([^"]+)"[^>]*data-value="([^"]+)"`)

// MissingWidgets names the widgets (Whiplash, Konnektive, Yotpo, Together)
// that a Gorgias agent ticket page lacks or shows without data.
func MissingWidgets(page string) []string {
	sections := strings.Split(page, `<section class="widget"`)[1:]
	var missing []string
	for _, w := range widgetChecks {
		found := false
		for _, sec := range sections {
			if !strings.Contains(sec, w.title) {
				continue
			}
			for _, m := range fieldRE.FindAllStringSubmatch(sec, -1) {
				if strings.HasPrefix(m[1], w.field) && strings.TrimSpace(m[2]) != "" {
					found = true
				}
			}
		}
		if !found {
			missing = append(missing, w.name)
		}
	}
	return missing
}
