package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// fireResult is what a closed-loop burst of webhooks measured.
type fireResult struct {
	sent, accepted, duplicate, failed int
	start, lastAck                    time.Time
	latencies                         []time.Duration
	firstErr                          string
}

// fire posts every webhook once over `clients` keep-alive connections
// (closed loop: each client sends its next webhook when the previous one is
// answered). urls[i] is the target of installation index i. It stops when
// every webhook is sent or ctx ends.
func fire(ctx context.Context, client *http.Client, urls []string, hooks []signed, clients int) fireResult {
	res := fireResult{latencies: make([]time.Duration, len(hooks))}
	var next atomic.Int64
	var accepted, duplicate, failed atomic.Int64
	var lastAck atomic.Int64
	var errOnce sync.Once
	var wg sync.WaitGroup
	res.start = time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(hooks) {
					return
				}
				h := hooks[i]
				t0 := time.Now()
				status, err := post(ctx, client, urls[h.inst], h)
				t1 := time.Now()
				res.latencies[i] = t1.Sub(t0)
				switch {
				case err == nil && status == http.StatusAccepted:
					accepted.Add(1)
				case err == nil && status == http.StatusOK:
					duplicate.Add(1)
				default:
					failed.Add(1)
					errOnce.Do(func() { res.firstErr = fmt.Sprintf("status %d: %v", status, err) })
				}
				for {
					prev := lastAck.Load()
					if t1.UnixNano() <= prev || lastAck.CompareAndSwap(prev, t1.UnixNano()) {
						break
					}
				}
			}
		}()
	}
	wg.Wait()
	res.sent = int(min(next.Load(), int64(len(hooks))))
	res.accepted, res.duplicate, res.failed = int(accepted.Load()), int(duplicate.Load()), int(failed.Load())
	res.lastAck = time.Unix(0, lastAck.Load())
	res.latencies = res.latencies[:res.sent]
	return res
}

func post(ctx context.Context, client *http.Client, url string, h signed) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(h.body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-WHIPLASH-SIGNATURE", h.sig)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// percentile returns the p-th percentile (0–100) of ds, in milliseconds.
func percentile(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p / 100)
	return float64(s[i].Microseconds()) / 1000
}

// procStat is a process's CPU time and memory from /proc.
type procStat struct {
	cpu    time.Duration // user + system
	rss    int64         // bytes
	hwm    int64         // peak RSS, bytes
	wall   time.Time
	exists bool
}

// clockTick is USER_HZ, 100 on every Linux this runs on.
const clockTick = 100

// readProc reads /proc/<pid>/stat and /proc/<pid>/status ("self" for this
// process).
func readProc(pid string) (procStat, error) {
	st := procStat{wall: time.Now()}
	raw, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return st, fmt.Errorf("error reading /proc/%s/stat: %w", pid, err)
	}
	// Fields after the ")" closing the command name: state is field 3,
	// utime 14 and stime 15 (1-based).
	s := string(raw)
	rest := s[strings.LastIndexByte(s, ')')+2:]
	f := strings.Fields(rest)
	if len(f) < 13 {
		return st, fmt.Errorf("short /proc/%s/stat", pid)
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	stt, _ := strconv.ParseInt(f[12], 10, 64)
	st.cpu = time.Duration(ut+stt) * time.Second / clockTick
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return st, fmt.Errorf("error reading /proc/%s/status: %w", pid, err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			st.rss = kb << 10
		case "VmHWM":
			st.hwm = kb << 10
		}
	}
	st.exists = true
	return st, nil
}

func mb(b int64) float64 { return round(float64(b)/(1<<20), 1) }
