package reliability

import (
	"context"
	"testing"
	"time"

	whiplashemu "switchyard/internal/emulator/whiplash"
)

// TestRestartKeepsRateBudget: serve on SQLite (its default database) runs a
// burst that Gorgias's budget bounds, and is killed with SIGKILL and
// restarted at once, twice, mid-burst. The rate budget lives in the
// database (outbound.SharedLimiter), so each restart continues the budget
// the dead process spent instead of starting with a full bucket: the
// Gorgias emulator answers no 429, and nothing is lost.
func TestRestartKeepsRateBudget(t *testing.T) {
	t.Parallel()
	const window = 2 * time.Second
	calls := &vendorCalls{}
	r := newRig(t, rigOptions{gorgiasWindow: window, wrapGorgias: calls.wrap})
	orders := pick(150, 600)
	ctx, cancel := context.WithTimeout(context.Background(), pick(4*time.Minute, 20*time.Minute))
	defer cancel()
	type result struct {
		rep whiplashemu.SimReport
		err error
	}
	done := make(chan result, 1)
	calls.start()
	go func() {
		rep, err := r.whiplash.Simulate(ctx, whiplashemu.SimOptions{Stores: []int64{1, 2, 3}, Orders: orders, Duration: 24 * time.Hour, FullLifecycle: true,
			RepeatRate: 0.2, Concurrency: 8, Seed: 23, TargetURL: r.hookURL(r.c1), TargetSecret: whiplashKey})
		done <- result{rep, err}
	}()
	var restarts []time.Duration
	for _, acked := range []int{orders * 19 / 3, orders * 19 * 2 / 3} { // a third, then two thirds acknowledged
		waitFor(t, "the burst under way", 2*time.Minute, func() bool { return r.acks.acknowledged() >= acked })
		before, _, _, _ := calls.burst(time.Hour)
		r.serve.kill()
		down := time.Now()
		r.serve.start()
		restarts = append(restarts, time.Since(down).Round(time.Millisecond))
		// Let the restarted process spend: a start with a full bucket
		// would show in these calls as 429s.
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if n, _, _, _ := calls.burst(time.Hour); n >= before+40 {
				break
			}
		}
	}
	res := <-done
	if res.err != nil || res.rep.Failed != 0 {
		t.Fatalf("simulation: %v (%d given up)", res.err, res.rep.Failed)
	}
	r.idle(2 * time.Minute)
	f := r.verify(res.rep)
	total, throttled, _, _ := calls.burst(time.Hour)
	t.Logf("SQLite, 2 kill -9 and restarts mid-burst (down %v); Gorgias: %d calls, %d answered 429; %s", restarts, total, throttled, f)
	f.check(t)
	if throttled != 0 {
		t.Errorf("the Gorgias emulator answered 429 %d times across the restarts", throttled)
	}
}
