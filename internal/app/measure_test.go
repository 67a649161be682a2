package app_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"switchyard/internal/app"
	"switchyard/internal/jobs"
	"switchyard/internal/provider/whiplash"
	"switchyard/internal/testutil/pgtest"
)

// TestMeasureThroughput is a measurement, not a check: the issue-18 workload
// (signed Whiplash order webhooks over loopback HTTP from 64 keep-alive
// clients, 10 updates per customer, whiplash-gorgias installed, Gorgias
// emulator and connection both on a 10 ms window so the vendor is not the
// limit) against the hub on SQLite and on Postgres, one after the other in
// the same process, with serve's defaults (100 workers, 500 ms coalescing,
// 2 s backoff). It runs only when asked:
//
//	SWITCHYARD_MEASURE=20000 SWITCHYARD_TEST_POSTGRES_URL=… \
//	  go test -count=1 -run TestMeasureThroughput -v -timeout 30m ./internal/app/
//
// SWITCHYARD_MEASURE is the number of events (a multiple of 10);
// SWITCHYARD_MEASURE_DB picks one backend; SWITCHYARD_MEASURE_PG_PARAMS adds
// URL parameters to the Postgres database's URL (pool_max_conns=…). The report
// is one line per backend: accepted/s while processing and its p99, end to
// end events/s (first request to no job left), sync jobs, Gorgias calls per
// customer and 429s.
func TestMeasureThroughput(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SWITCHYARD_MEASURE"))
	if n <= 0 {
		t.Skip("SWITCHYARD_MEASURE not set: measurement skipped")
	}
	n -= n % 10
	only := os.Getenv("SWITCHYARD_MEASURE_DB") // "sqlite" or "postgres": that one only
	for _, backend := range []string{"sqlite", "postgres"} {
		if only != "" && only != backend {
			continue
		}
		t.Run(backend, func(t *testing.T) {
			db := ""
			if backend == "postgres" {
				db = pgtest.NewDatabase(t)
				if q := os.Getenv("SWITCHYARD_MEASURE_PG_PARAMS"); q != "" { // e.g. pool_max_conns=20
					sep := "?"
					if strings.Contains(db, "?") {
						sep = "&"
					}
					db += sep + q
				}
			}
			r := measureIngest(t, n, func(c *app.Config) {
				if db != "" {
					c.DB = db
				}
				c.Workers, c.Coalesce, c.BackoffBase, c.BackoffCap = 100, 500*time.Millisecond, jobs.DefaultBackoffBase, jobs.DefaultBackoffCap
			})
			t.Logf("%-8s | %d events | accepted %6.0f/s p99 %4d ms | end to end %5.0f events/s (%v) | sync jobs %d | Gorgias calls/customer %.2f | 429s %d",
				backend, n, r.acceptRate, r.p99.Milliseconds(), r.e2eRate, r.e2e.Round(100*time.Millisecond), r.syncJobs, r.callsPerCustomer, r.throttled)
		})
	}
}

type measurement struct {
	acceptRate, e2eRate, callsPerCustomer float64
	p99, e2e                              time.Duration
	syncJobs                              int
	throttled                             int64
}

func measureIngest(t *testing.T, n int, opts ...func(*app.Config)) measurement {
	const clients, perCustomer = 64, 10
	customers := n / perCustomer
	h := startHub(t, 10*time.Millisecond, opts...)
	h.api("POST", "/api/v1/merchants/"+h.merchant+"/installations/"+h.c1+"/install", "", 200, nil)
	base := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	statuses := []int{100, 120, 140, 150, 155, 160, 200, 250, 300, 350}
	bodies := make([][]byte, 0, n)
	for c := range customers {
		for u := range perCustomer {
			bodies = append(bodies, orderBody(t, int64(100000+c), int64(1+c%3), fmt.Sprintf("m%d@example.com", c), fmt.Sprintf("Customer %d", c),
				statuses[u], base.Add(time.Duration(u+1)*time.Minute)))
		}
	}
	rand.Shuffle(len(bodies), func(i, j int) { bodies[i], bodies[j] = bodies[j], bodies[i] })
	sigs := make([]string, len(bodies))
	for i, b := range bodies {
		sigs[i] = whiplash.Sign("whiplash-app-secret", b)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: clients, MaxIdleConnsPerHost: clients}}
	defer client.CloseIdleConnections()
	url := h.url + "/hooks/whiplash/" + h.c1
	lat := make([]time.Duration, len(bodies))
	work := make(chan int)
	var wg sync.WaitGroup
	var failed sync.Once
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				req, _ := http.NewRequest("POST", url, bytes.NewReader(bodies[i]))
				req.Header.Set(whiplash.SignatureHeader, sigs[i])
				t0 := time.Now()
				resp, err := client.Do(req)
				lat[i] = time.Since(t0)
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("hook answered %d", resp.StatusCode)
					}
				}
				if err != nil {
					failed.Do(func() { t.Error(err) })
				}
			}
		}()
	}
	for i := range bodies {
		work <- i
	}
	close(work)
	wg.Wait()
	accepted := time.Since(start)
	// Until no job is left: the first of three quiet polls 50 ms apart.
	deadline := time.Now().Add(20 * time.Minute)
	var quietAt time.Time
	for quiet := 0; quiet < 3; {
		busy := 0
		counts, err := h.app.Store().JobCounts(h.ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range counts {
			switch c.State {
			case "available", "scheduled", "running", "retryable", "pending":
				busy += c.Count
			}
		}
		if busy == 0 {
			if quiet == 0 {
				quietAt = time.Now()
			}
			quiet++
		} else {
			quiet = 0
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs still busy: %+v", counts)
		}
		time.Sleep(50 * time.Millisecond)
	}
	e2e := quietAt.Sub(start)
	slices.Sort(lat)
	calls, throttled := h.gorgiasCalls()
	return measurement{
		acceptRate:       float64(n) / accepted.Seconds(),
		p99:              lat[len(lat)*99/100],
		e2e:              e2e,
		e2eRate:          float64(n) / e2e.Seconds(),
		syncJobs:         h.jobs("sync"),
		callsPerCustomer: float64(calls) / float64(customers),
		throttled:        throttled,
	}
}
