// Package demo runs switchyard offline: every vendor emulator and the hub on
// 127.0.0.1, a demo merchant whose connectors are installed through their
// real install calls, and a stream of simulated Whiplash orders. It prints
// where to look: the admin API and a Gorgias ticket whose sidebar shows the
// widgets.
//
// Connectors in the demo: whiplash-gorgias and whiplash-klaviyo (the others
// are not built yet).
package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"switchyard/internal/app"
	"switchyard/internal/domain"
	gorgiasemu "switchyard/internal/emulator/gorgias"
	klaviyoemu "switchyard/internal/emulator/klaviyo"
	konnektiveemu "switchyard/internal/emulator/konnektive"
	shopifyemu "switchyard/internal/emulator/shopify"
	whiplashemu "switchyard/internal/emulator/whiplash"
	yotpoemu "switchyard/internal/emulator/yotpo"
	"switchyard/internal/provider/gorgias"
	"switchyard/internal/secret"
)

// AdminToken is the demo hub's admin token.
const AdminToken = "demo-admin-token"

// Config configures a demo.
type Config struct {
	// Addr is the hub's address (default 127.0.0.1:8080).
	Addr string
	// DB is the hub's database (default: a fresh SQLite file in a temporary
	// directory, since the demo's secret key is new every run).
	DB string
	// OrdersPerWave is how many orders each simulated wave places (default 40).
	OrdersPerWave int
	// Waves bounds the stream (0: until ctx ends).
	Waves int
	// Pause is the time between waves (default 20 s).
	Pause time.Duration
	// GorgiasWindow is the emulated Gorgias rate window (default 2 s, so the
	// demo moves fast; production accounts have 20 s).
	GorgiasWindow time.Duration
	Seed          uint64
	Logger        *slog.Logger
}

// Demo is a running demo.
type Demo struct {
	cfg       Config
	out       io.Writer
	app       *app.App
	servers   []*http.Server
	closers   []func()
	Gorgias   *gorgiasemu.Emulator
	Klaviyo   *klaviyoemu.Emulator
	Whiplash  *whiplashemu.Emulator
	URLs      map[string]string
	Merchant  string
	C1, C2    string
	TicketURL string
}

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

// Start brings everything up and installs the connectors.
func Start(ctx context.Context, cfg Config, out io.Writer) (*Demo, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:8080"
	}
	if cfg.DB == "" {
		dir, err := os.MkdirTemp("", "switchyard-demo-")
		if err != nil {
			return nil, fmt.Errorf("error creating the demo database directory: %w", err)
		}
		cfg.DB = "sqlite://" + filepath.Join(dir, "demo.db")
	}
	if cfg.OrdersPerWave <= 0 {
		cfg.OrdersPerWave = 40
	}
	if cfg.Pause <= 0 {
		cfg.Pause = 20 * time.Second
	}
	if cfg.GorgiasWindow <= 0 {
		cfg.GorgiasWindow = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Demo{cfg: cfg, out: out, URLs: map[string]string{}}
	d.Gorgias = gorgiasemu.New(gorgiasemu.Config{Window: cfg.GorgiasWindow, AutoApprove: true, Logger: cfg.Logger})
	d.Klaviyo = klaviyoemu.New(klaviyoemu.Config{OAuthAutoApprove: true, Logger: cfg.Logger})
	d.Whiplash = whiplashemu.New(whiplashemu.Config{Seed: cfg.Seed, AllowClientCredentials: true, AutoApprove: true, Logger: cfg.Logger})
	kon := konnektiveemu.New(konnektiveemu.Config{Logger: cfg.Logger})
	yot := yotpoemu.New(yotpoemu.Config{AutoApprove: true, Logger: cfg.Logger})
	shop := shopifyemu.New(shopifyemu.Config{AutoApprove: true, Logger: cfg.Logger})
	d.closers = append(d.closers, d.Gorgias.Close, d.Klaviyo.Close, d.Whiplash.Close, kon.Close, yot.Close, shop.Close)
	for name, h := range map[string]http.Handler{"gorgias": d.Gorgias, "klaviyo": d.Klaviyo, "whiplash": d.Whiplash, "konnektive": kon, "yotpo": yot, "shopify": shop} {
		if _, err := d.serve(name, h); err != nil {
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
	a, err := app.New(ctx, app.Config{Addr: cfg.Addr, DB: cfg.DB, SecretKey: raw, AdminToken: AdminToken, Version: "demo", AllowVendorHosts: emulators}, cfg.Logger)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("error starting the hub: %w", err)
	}
	if err := a.Listen(); err != nil {
		a.Close()
		d.Close()
		return nil, err
	}
	d.app = a
	d.URLs["hub"] = a.URL()
	return d, nil
}

// Run serves the hub, installs the connectors, streams orders and prints
// where to look, until ctx ends or the waves are done.
func (d *Demo) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- d.app.Run(ctx) }()
	if err := d.setup(ctx); err != nil {
		cancel()
		<-errc
		return err
	}
	for wave := 1; d.cfg.Waves == 0 || wave <= d.cfg.Waves; wave++ {
		rep, err := d.Whiplash.Simulate(ctx, whiplashemu.SimOptions{
			Stores: []int64{1, 2, 3}, Orders: d.cfg.OrdersPerWave, Duration: 24 * time.Hour, FullLifecycle: true,
			DuplicateRate: 0.1, ReorderRate: 0.1, RepeatRate: 0.3, Seed: d.cfg.Seed + uint64(wave),
			TargetURL: d.URLs["hub"] + "/hooks/whiplash/" + d.C1, TargetSecret: "whiplash-app-secret",
		})
		if err != nil && !errors.Is(err, context.Canceled) {
			cancel()
			<-errc
			return fmt.Errorf("error simulating orders: %w", err)
		}
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(d.out, "wave %d: %d orders, %d webhooks (%d duplicates, %d out of order)\n", wave, rep.Orders, rep.Sent, rep.Duplicates, rep.Reordered)
		if d.TicketURL == "" {
			if err := d.openTicket(ctx, rep); err != nil {
				fmt.Fprintf(d.out, "could not open the demo ticket yet: %v\n", err)
			}
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
}

func (d *Demo) api(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(ctx, method, d.URLs["hub"]+path, rd)
	req.Header.Set("Authorization", "Bearer "+AdminToken)
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

// setup creates the demo merchant, its connections and installations, and
// installs both connectors through the admin API.
func (d *Demo) setup(ctx context.Context) error {
	var m domain.Merchant
	if err := d.api(ctx, "POST", "/api/v1/merchants", map[string]string{"name": "Demo Merch Co"}, &m); err != nil {
		return fmt.Errorf("error creating the demo merchant: %w", err)
	}
	d.Merchant = m.ID
	conn := func(body map[string]any) (string, error) {
		var c struct{ ID string }
		err := d.api(ctx, "POST", "/api/v1/merchants/"+m.ID+"/connections", body, &c)
		return c.ID, err
	}
	wl, err := conn(map[string]any{"vendor": "whiplash", "account": "1", "config": map[string]string{"base_url": d.URLs["whiplash"], "client_id": "switchyard", "grant": "client_credentials"}, "secrets": map[string]string{"client_secret": "whiplash-app-secret"}})
	if err != nil {
		return err
	}
	gg, err := conn(map[string]any{"vendor": "gorgias", "account": "acme", "config": map[string]string{"base_url": d.URLs["gorgias"], "email": gorgiasemu.DefaultUserEmail, "rate_window": d.cfg.GorgiasWindow.String()}, "secrets": map[string]string{"api_key": gorgiasemu.DefaultAPIKey}})
	if err != nil {
		return err
	}
	kl, err := conn(map[string]any{"vendor": "klaviyo", "account": "demo", "config": map[string]string{"base_url": d.URLs["klaviyo"]}, "secrets": map[string]string{"private_key": "pk_demo"}})
	if err != nil {
		return err
	}
	var c1, c2 domain.Installation
	if err := d.api(ctx, "POST", "/api/v1/merchants/"+m.ID+"/installations", map[string]any{"connector": "whiplash-gorgias", "connections": map[string]string{"whiplash": wl, "gorgias": gg}}, &c1); err != nil {
		return err
	}
	if err := d.api(ctx, "POST", "/api/v1/merchants/"+m.ID+"/installations", map[string]any{"connector": "whiplash-klaviyo", "connections": map[string]string{"whiplash": wl, "klaviyo": kl}}, &c2); err != nil {
		return err
	}
	d.C1, d.C2 = c1.ID, c2.ID
	for _, id := range []string{c1.ID, c2.ID} {
		if err := d.api(ctx, "POST", "/api/v1/merchants/"+m.ID+"/installations/"+id+"/install", nil, nil); err != nil {
			return fmt.Errorf("error installing %s: %w", id, err)
		}
	}
	d.Whiplash.SetWebhookTarget(d.URLs["hub"]+"/hooks/whiplash/"+c2.ID, "whiplash-app-secret")
	fmt.Fprintf(d.out, `switchyard demo is running (database %s)
  hub:             %s   (admin token %q; try %s/api/v1/merchants/%s/installations)
  metrics:         %s/metrics
  gorgias (acme):  %s/app
  klaviyo state:   %s/_emulator/state
  whiplash state:  %s/_emulator/state
  konnektive, yotpo, shopify emulators: %s, %s, %s
installed: whiplash-gorgias (%s), whiplash-klaviyo (%s)
streaming simulated Whiplash orders (3 stores); Ctrl-C stops
`, d.cfg.DB, d.URLs["hub"], AdminToken, d.URLs["hub"], m.ID, d.URLs["hub"], d.URLs["gorgias"], d.URLs["klaviyo"], d.URLs["whiplash"],
		d.URLs["konnektive"], d.URLs["yotpo"], d.URLs["shopify"], c1.ID, c2.ID)
	return nil
}

// openTicket opens a Gorgias ticket for a customer of the first wave, once
// the hub has written the customer's Whiplash data, and prints its page.
func (d *Demo) openTicket(ctx context.Context, rep whiplashemu.SimReport) error {
	if len(rep.Events) == 0 {
		return errors.New("no orders yet")
	}
	o, ok := d.Whiplash.Order(rep.Events[0].OrderID)
	if !ok {
		return errors.New("order vanished")
	}
	email := domain.NormalizeEmail(o.Email)
	g, err := gorgias.New(gorgias.Config{Account: "acme", BaseURL: d.URLs["gorgias"], Email: gorgiasemu.DefaultUserEmail, APIKey: gorgiasemu.DefaultAPIKey, Window: d.cfg.GorgiasWindow})
	if err != nil {
		return err
	}
	deadline := time.Now().Add(time.Minute)
	for {
		c, err := g.FindCustomerByEmail(ctx, email)
		if err == nil && len(c.Data) > 2 {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("customer %s not synced yet", email)
		}
		time.Sleep(500 * time.Millisecond)
	}
	tk, err := g.CreateTicket(ctx, gorgias.TicketCreate{Subject: "Where is my order?", Channel: "email", Via: "api",
		Customer: &gorgias.Person{Email: email},
		Messages: []gorgias.Message{{Channel: "email", Via: "api", BodyText: "Hi! Could you check on my order?", Sender: &gorgias.Person{Email: email}}}})
	if err != nil {
		return err
	}
	d.TicketURL = fmt.Sprintf("%s/app/ticket/%d", d.URLs["gorgias"], int64(tk.ID))
	fmt.Fprintf(d.out, "Gorgias ticket with the Whiplash widget in its sidebar: %s\n", d.TicketURL)
	return nil
}
