// Package browser hands tests a headless Chromium (chromedp v0.23).
//
// The binary comes from SWITCHYARD_CHROMIUM or /usr/bin/chromium (Debian's
// package, installed by .ci/run). Without it the test is skipped, or fails
// when SWITCHYARD_REQUIRE_ALL=1 (CI).
package browser

import (
	"context"
	"os"
	"path/filepath"
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

// Shot saves a full-page PNG of the page in bctx as DIR/name.png when
// SWITCHYARD_SCREENSHOTS names a directory (docs/screenshots is made so:
// SWITCHYARD_SCREENSHOTS=$PWD/docs/screenshots go test -count=1 -run TestBrowser ./internal/adminui/ ./internal/demo/),
// and does nothing otherwise.
func Shot(tb testing.TB, bctx context.Context, name string) {
	tb.Helper()
	dir := os.Getenv("SWITCHYARD_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		tb.Fatal(err)
	}
}
