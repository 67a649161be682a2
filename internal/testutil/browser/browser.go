// Package browser hands tests a headless Chromium (chromedp v0.23).
//
// The binary comes from SWITCHYARD_CHROMIUM or /usr/bin/chromium (Debian's
// package, installed by .ci/run). Without it the test is skipped, or fails
// when SWITCHYARD_REQUIRE_ALL=1 (CI).
package browser

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Context returns a chromedp context bound to a fresh headless browser that
// is closed at cleanup.
func Context(tb testing.TB) context.Context {
	tb.Helper()
	path := os.Getenv("SWITCHYARD_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("SWITCHYARD_REQUIRE_ALL") == "1" {
			tb.Fatalf("chromium not found at %s and SWITCHYARD_REQUIRE_ALL=1: this test needs a browser", path)
		}
		tb.Skipf("chromium not found at %s: skipping browser test", path)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.Headless, chromedp.UserDataDir(tb.TempDir()),
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	tb.Cleanup(func() {
		cancelTimeout()
		cancel()
		cancelAlloc()
	})
	return ctx
}
