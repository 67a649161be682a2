package demo

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"switchyard/internal/testutil/browser"
)

// One wave of the demo: connectors installed through the API, orders
// streamed, and a Gorgias ticket whose sidebar shows the Whiplash widget.
func TestDemoOneWave(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d, err := Start(ctx, Config{Addr: "127.0.0.1:0", DB: "sqlite://" + filepath.Join(t.TempDir(), "demo.db"), OrdersPerWave: 12, Waves: 1, GorgiasWindow: 500 * time.Millisecond, Seed: 3}, &out)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Run(ctx); err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	if d.TicketURL == "" {
		t.Fatalf("no ticket opened:\n%s", out.String())
	}
	resp, err := http.Get(d.TicketURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`data-widget-type="custom"`, `>Whiplash<`, `order_number`, `full_name`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("ticket page lacks %s", want)
		}
	}
	for _, want := range []string{"switchyard demo is running", "whiplash-gorgias", "wave 1: 12 orders", "/app/ticket/"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	if n := len(d.Klaviyo.State().Accounts[0].Profiles); n < 2 {
		t.Errorf("Klaviyo has %d profiles after a wave", n)
	}
}

// The agent's view in a real browser: the ticket page's sidebar shows the
// Whiplash widget with the customer's newest data.
func TestDemoTicketInChromium(t *testing.T) {
	t.Parallel()
	bctx := browser.Context(t)
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d, err := Start(ctx, Config{Addr: "127.0.0.1:0", DB: "sqlite://" + filepath.Join(t.TempDir(), "demo.db"), OrdersPerWave: 8, Waves: 1, GorgiasWindow: 500 * time.Millisecond, Seed: 4}, &out)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Run(ctx); err != nil || d.TicketURL == "" {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(d.TicketURL)); err != nil {
		t.Fatal(err)
	}
	title, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector('.widget .card-title').textContent`))
	if err != nil || title != "Whiplash" {
		t.Fatalf("first widget card = %q, %v", title, err)
	}
	shown, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector('[data-field$="full_name"] .field-value').textContent.trim()`))
	if err != nil {
		t.Fatal(err)
	}
	customer, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector('.customer-name').textContent.trim()`))
	if err != nil || shown == "" || shown != customer {
		t.Fatalf("widget full name %q, customer %q (%v)", shown, customer, err)
	}
	orders, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-field$="order_number"]').length`))
	if err != nil || orders < 1 {
		t.Fatalf("orders shown = %d, %v", orders, err)
	}
}
