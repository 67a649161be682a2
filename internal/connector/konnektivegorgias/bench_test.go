package konnektivegorgias_test

import (
	"context"
	"io"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"switchyard/internal/connector/konnektivegorgias"
	"switchyard/internal/provider/konnektive"
)

// crmOnly makes the CRM calls one pull makes (customers, orders and
// purchases by email side by side, then the customer's transactions)
// straight to the emulator: the CRM's own latency, the baseline.
func crmOnly(ctx context.Context, k *konnektive.Client, email string) error {
	var wg sync.WaitGroup
	var custs []konnektive.Customer
	errs := make([]error, 3)
	wg.Add(3)
	go func() {
		defer wg.Done()
		custs, errs[0] = k.QueryCustomers(ctx, konnektive.CustomerQuery{Email: email})
	}()
	go func() {
		defer wg.Done()
		_, errs[1] = k.QueryOrders(ctx, konnektive.OrderQuery{Email: email, NewestFirst: true})
	}()
	go func() { defer wg.Done(); _, errs[2] = k.QueryPurchases(ctx, konnektive.PurchaseQuery{Email: email}) }()
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	for _, c := range custs {
		if _, err := k.QueryTransactions(ctx, konnektive.TransactionQuery{CustomerID: string(c.CustomerID)}); err != nil {
			return err
		}
	}
	return nil
}

// paced runs n calls of fn at rate per second (open loop: a slow call does
// not delay the next start) and returns their latencies, sorted.
func paced(b *testing.B, n int, rate float64, fn func(i int) error) []time.Duration {
	b.Helper()
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	for i := 0; i < n; i++ {
		<-tick.C
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			start := time.Now()
			err := fn(i)
			lat[i] = time.Since(start)
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat
}

func pct(sorted []time.Duration, p float64) time.Duration {
	i := int(p*float64(len(sorted))+0.5) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkPullOverhead measures the pull endpoint (GET …/customer through
// the hub's real HTTP routes, cache off) at 200 requests/s against the same
// CRM calls made straight to the Konnektive emulator at 200/s: switchyard's
// added latency is the difference of the percentiles (SPEC §6 P3: p99 ≤
// 5 ms). The 2 × 1,000 requests run in alternating blocks of 100 (half a
// second each), so both paths see the same load on a shared machine.
func BenchmarkPullOverhead(b *testing.B) {
	const rate, n = 200.0, 1000
	h := startHub(b, map[string]string{"cacheTtl": "0s", "pullTimeout": "5s"})
	h.install()
	token := h.token()
	var emails []string
	custs, err := h.crm.QueryCustomers(h.ctx, konnektive.CustomerQuery{})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range custs {
		emails = append(emails, string(c.EmailAddress))
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 10 * time.Second}
	pull := func(i int) error {
		req, _ := http.NewRequest("GET", h.url+"/hooks/gorgias/konnektive-gorgias/"+h.inst+"/customer?email="+emails[i%len(emails)], nil)
		req.Header.Set(konnektivegorgias.TokenHeader, token)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	direct := func(i int) error { return crmOnly(h.ctx, h.crm, emails[i%len(emails)]) }
	for i := 0; i < 50; i++ { // warm both paths
		_ = pull(i)
		_ = direct(i)
	}
	b.ResetTimer()
	var crm, hub []time.Duration
	for range b.N {
		crm, hub = nil, nil
		for blk := 0; blk < n/100; blk++ {
			crm = append(crm, paced(b, 100, rate, func(i int) error { return direct(blk*100 + i) })...)
			hub = append(hub, paced(b, 100, rate, func(i int) error { return pull(blk*100 + i) })...)
		}
	}
	b.StopTimer()
	sort.Slice(crm, func(i, j int) bool { return crm[i] < crm[j] })
	sort.Slice(hub, func(i, j int) bool { return hub[i] < hub[j] })
	b.ReportMetric(ms(pct(crm, .50)), "crm-p50-ms")
	b.ReportMetric(ms(pct(crm, .99)), "crm-p99-ms")
	b.ReportMetric(ms(pct(hub, .50)), "hub-p50-ms")
	b.ReportMetric(ms(pct(hub, .99)), "hub-p99-ms")
	b.ReportMetric(ms(pct(hub, .50)-pct(crm, .50)), "added-p50-ms")
	b.ReportMetric(ms(pct(hub, .99)-pct(crm, .99)), "added-p99-ms")
}
