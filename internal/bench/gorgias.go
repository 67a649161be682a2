package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	gorgiasemu "switchyard/internal/emulator/gorgias"
	whiplashemu "switchyard/internal/emulator/whiplash"
)

// GorgiasResult is P2's figures.
type GorgiasResult struct {
	Updates                int            `json:"updates"`
	Customers              int            `json:"customers"`
	WindowS                float64        `json:"window_s"`
	Acceleration           float64        `json:"acceleration"` // 20 s / window
	WarmupCalls            int64          `json:"warmup_calls"`
	WarmupCallsPerCustomer float64        `json:"warmup_calls_per_customer"`
	Accepted               int            `json:"accepted"`
	SendS                  float64        `json:"send_s"`
	Calls                  int64          `json:"calls"`
	CallsByRoute           map[string]int `json:"calls_by_route"`
	CallsPerCustomer       float64        `json:"calls_per_customer"`
	Throttled              int64          `json:"throttled_429"`
	ElapsedS               float64        `json:"elapsed_s"`     // first webhook sent → last Gorgias call
	Allowed                float64        `json:"allowed_calls"` // bucket + leak × elapsed
	BudgetUse              float64        `json:"budget_use"`
	NewestEverywhere       bool           `json:"newest_state_everywhere"`
	Stale                  int            `json:"stale_customers"`
}

func (r *GorgiasResult) lines() []string {
	return []string{
		fmt.Sprintf("%d updates over %d known customers (warm-up: %d calls, %.2f per new customer), window %.3g s (%.0f× the real 20 s)", r.Updates, r.Customers, r.WarmupCalls, r.WarmupCallsPerCustomer, r.WindowS, r.Acceleration),
		fmt.Sprintf("sent in %.1f s; %d Gorgias calls (%.3f per customer) %v, %d 429s", r.SendS, r.Calls, r.CallsPerCustomer, r.CallsByRoute, r.Throttled),
		fmt.Sprintf("budget: %d calls of %.0f allowed in %.1f s = %.1f%%; newest state everywhere: %v (%d stale)", r.Calls, r.Allowed, r.ElapsedS, 100*r.BudgetUse, r.NewestEverywhere, r.Stale),
	}
}

// warpClock runs at a settable speed; the Gorgias emulator's leaky bucket
// reads it, so the warm-up (which only makes the customers known) drains
// fast while the measured burst runs at the chosen window.
type warpClock struct {
	mu        sync.Mutex
	real, was time.Time
	speed     float64
}

func newWarpClock() *warpClock {
	now := time.Now()
	return &warpClock{real: now, was: now, speed: 1}
}

func (c *warpClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.was.Add(time.Duration(float64(time.Since(c.real)) * c.speed))
}

func (c *warpClock) setSpeed(s float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	c.was = c.was.Add(time.Duration(float64(now.Sub(c.real)) * c.speed))
	c.real, c.speed = now, s
}

// runGorgiasBurst is P2: updates spread over known customers into the
// Gorgias emulator's 40-call leaky bucket, through C1.
func runGorgiasBurst(ctx context.Context, opt *Options, rep *Report) error {
	window := opt.GorgiasWindow
	warmWindow := min(window, 100*time.Millisecond)
	rep.Params = map[string]any{"updates": opt.Updates, "customers": opt.GorgiasCustomers, "window": window.String(), "warmup_window": warmWindow.String(), "workers": opt.Workers, "db": rep.Machine.DB}
	e := newEnv(opt)
	defer e.close()
	clock := newWarpClock()
	g := gorgiasemu.New(gorgiasemu.Config{Window: window, Now: clock.Now, Logger: opt.Logger})
	if err := e.serve("gorgias", g, g.Close); err != nil {
		return err
	}
	// C1 calls no Whiplash API; its connection holds the webhook secret.
	w := whiplashemu.New(whiplashemu.Config{AllowClientCredentials: true, Fixtures: &whiplashemu.SeedOptions{}, Logger: opt.Logger})
	if err := e.serve("whiplash", w, w.Close); err != nil {
		return err
	}
	if err := e.launch(ctx, rep, false); err != nil {
		return err
	}
	t, err := e.newTenant(ctx, "Bench Gorgias", warmWindow)
	if err != nil {
		return err
	}
	c1, err := e.install(ctx, t, "whiplash-gorgias", nil)
	if err != nil {
		return err
	}
	url := []string{e.hubURL + "/hooks/whiplash/" + c1}
	customers, perCustomer := opt.GorgiasCustomers, max(1, opt.Updates/opt.GorgiasCustomers)
	gen := newOrderGen(customers, 32)
	client := httpClient(64)

	// Warm-up: every customer is created in Gorgias and its id cached by the
	// hub, at an accelerated window (the emulator's clock runs faster).
	clock.setSpeed(window.Seconds() / warmWindow.Seconds())
	e.count["gorgias"].reset()
	warm := make([]signed, customers)
	for c := range customers {
		b := gen.webhook(c, int64(10000+c), 0)
		warm[c] = signed{body: b, sig: sign(b)}
	}
	if fr := fire(ctx, client, url, warm, 32); fr.failed > 0 {
		return fmt.Errorf("warm-up: %d webhooks failed (%s)", fr.failed, fr.firstErr)
	}
	if _, err := e.drain(ctx); err != nil {
		return err
	}
	res := &GorgiasResult{Customers: customers, WindowS: window.Seconds(), Acceleration: round(20/window.Seconds(), 2)}
	rep.Gorgias = res
	res.WarmupCalls = e.count["gorgias"].calls.Load()
	res.WarmupCallsPerCustomer = round(float64(res.WarmupCalls)/float64(customers), 3)

	// Let the bucket drain, then slow the clock to real time and give the
	// hub the measured window.
	time.Sleep(2 * warmWindow)
	clock.setSpeed(1)
	if err := e.api(ctx, "PATCH", "/api/v1/merchants/"+t.merchant+"/connections/"+t.gorgias, map[string]any{"config": map[string]string{"rate_window": window.String()}}, nil); err != nil {
		return err
	}
	time.Sleep(window) // the emulator's bucket is empty at the new rate too

	// The burst: perCustomer status updates per customer, shuffled.
	var burst []signed
	for c := range customers {
		for u := 1; u <= perCustomer; u++ {
			b := gen.webhook(c, int64(10000+c), u)
			burst = append(burst, signed{body: b, sig: sign(b)})
		}
	}
	r := rand.New(rand.NewPCG(7, 11))
	r.Shuffle(len(burst), func(i, j int) { burst[i], burst[j] = burst[j], burst[i] })
	res.Updates = len(burst)
	e.count["gorgias"].reset()
	fr := fire(ctx, client, url, burst, 64)
	if fr.failed > 0 {
		return fmt.Errorf("burst: %d webhooks failed (%s)", fr.failed, fr.firstErr)
	}
	res.Accepted = fr.accepted
	res.SendS = round(fr.lastAck.Sub(fr.start).Seconds(), 2)
	if _, err := e.drain(ctx); err != nil {
		return err
	}
	gc := e.count["gorgias"]
	res.Calls, res.Throttled, res.CallsByRoute = gc.calls.Load(), gc.limited.Load(), gc.routes()
	res.CallsPerCustomer = round(float64(res.Calls)/float64(customers), 3)
	elapsed := gc.lastCall().Sub(fr.start)
	if elapsed < 0 {
		elapsed = 0
	}
	res.ElapsedS = round(elapsed.Seconds(), 2)
	const bucket = 40.0
	res.Allowed = round(bucket+elapsed.Seconds()*bucket/window.Seconds(), 1)
	res.BudgetUse = round(float64(res.Calls)/res.Allowed, 4)
	res.Stale = staleCustomers(g, gen, customers, gen.steps[min(perCustomer, len(gen.steps)-1)].code)
	res.NewestEverywhere = res.Stale == 0
	rep.Targets = []Target{
		target("P2", "Gorgias calls per customer", "≤ 1.1", res.CallsPerCustomer, "", res.CallsPerCustomer <= 1.1),
		target("P2", "429 answers", "0", float64(res.Throttled), "", res.Throttled == 0),
		target("P2", "budget use", "≥ 90 %", 100*res.BudgetUse, "%", res.BudgetUse >= 0.9),
		target("P2", "customers not at their newest state", "0", float64(res.Stale), "", res.Stale == 0),
	}
	if window != 20*time.Second {
		rep.Notes = append(rep.Notes, fmt.Sprintf("accelerated window: %s instead of Gorgias' 20 s (%.0f×); the bucket (40) and the hub's budget scale with it", window, 20/window.Seconds()))
	}
	return nil
}

// staleCustomers counts customers whose Whiplash data in Gorgias does not
// show the final status.
func staleCustomers(g *gorgiasemu.Emulator, gen *orderGen, customers, want int) int {
	raw, err := json.Marshal(g.Snapshot())
	if err != nil {
		return customers
	}
	var st struct {
		Accounts map[string]struct {
			Customers []struct {
				Email string `json:"email"`
				Data  struct {
					Whiplash *struct {
						Orders []struct {
							StatusCode int `json:"status_code"`
						} `json:"orders"`
					} `json:"whiplash"`
				} `json:"data"`
			} `json:"customers"`
		} `json:"accounts"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return customers
	}
	ok := map[string]bool{}
	for _, c := range st.Accounts["acme"].Customers {
		if w := c.Data.Whiplash; w != nil && len(w.Orders) > 0 && w.Orders[0].StatusCode == want {
			ok[c.Email] = true
		}
	}
	stale := 0
	for c := range customers {
		if !ok[gen.email(c)] {
			stale++
		}
	}
	return stale
}
