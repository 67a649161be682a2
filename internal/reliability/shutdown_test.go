package reliability

import (
	"context"
	"net"
	"testing"
	"time"

	whiplashemu "switchyard/internal/emulator/whiplash"
)

// TestGracefulShutdown: SIGTERM while Whiplash is sending and jobs are
// running. serve stops accepting (its port is closed when it exits), exits
// with status 0 within the grace time (30 s, app.Config.ShutdownTimeout),
// and finishes or releases its in-flight jobs: restarted on the same
// database with the default --rescue-stuck-after (10 min), the hub drains
// within two minutes, which it could not if a job had been left running.
// Nothing is lost; every vendor ends at the newest state.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOptions{})
	orders := pick(150, 500)
	ctx, cancel := context.WithTimeout(context.Background(), pick(3*time.Minute, 10*time.Minute))
	defer cancel()
	type result struct {
		rep whiplashemu.SimReport
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := r.whiplash.Simulate(ctx, whiplashemu.SimOptions{Stores: []int64{1, 2, 3}, Orders: orders, Duration: 24 * time.Hour, FullLifecycle: true,
			DuplicateRate: 0.05, ReorderRate: 0.05, RepeatRate: 0.3, Concurrency: 8, Seed: 5, TargetURL: r.hookURL(r.c1), TargetSecret: whiplashKey})
		done <- result{rep, err}
	}()
	// Under load: a third of the deliveries acknowledged and jobs running.
	waitFor(t, "a third of the load acknowledged", time.Minute, func() bool { return r.acks.acknowledged() >= orders*19/3 })
	busy, what := r.busyJobs()
	took, exitErr := r.serve.terminate(grace + 10*time.Second)
	if exitErr != nil {
		t.Errorf("serve after SIGTERM: %v (want exit status 0)", exitErr)
	}
	if took > grace {
		t.Errorf("serve took %v to exit, the grace time is %v", took, grace)
	}
	if c, err := net.DialTimeout("tcp", r.serve.addr, time.Second); err == nil {
		c.Close()
		t.Error("serve's port still accepts connections after it exited")
	} else if !errRefused(err) {
		t.Logf("dial after exit: %v", err)
	}
	ackedAtExit := r.acks.acknowledged()
	down := time.Now()
	time.Sleep(500 * time.Millisecond) // Whiplash retries meanwhile
	r.serve.start()
	restarted := time.Now()
	res := <-done
	if res.err != nil || res.rep.Failed != 0 {
		t.Fatalf("simulation: %v (%d given up)", res.err, res.rep.Failed)
	}
	idleAt := r.idle(2 * time.Minute)
	f := r.verify(res.rep)
	t.Logf("SIGTERM with %d jobs busy (%s), %d deliveries acknowledged: exit status 0 in %v; down %v; after the restart the hub drained in %v; %s",
		busy, what, ackedAtExit, took.Round(time.Millisecond), restarted.Sub(down).Round(time.Millisecond), idleAt.Sub(restarted).Round(time.Millisecond), f)
	if busy == 0 {
		t.Log("no job was busy at SIGTERM: the shutdown did not meet in-flight work this run")
	}
	f.check(t)
}
