package adminui

import (
	"context"
	"fmt"
	"testing"
	"time"

	"switchyard/internal/domain"
	"switchyard/internal/domain/mock"
)

// TestActivityReadsOnlyUnsettledMinutesAgain: the overview's counts of
// minutes that ended over two minutes ago come from the cache; the store
// is asked only for the rest, per scope.
func TestActivityReadsOnlyUnsettledMinutesAgain(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 30, 30, 0, time.UTC)
	at := func(h, m int) time.Time { return time.Date(2026, 11, 29, h, m, 0, 0, time.UTC) }
	var asked []domain.ActivityFilter
	answer := map[time.Time]int{}
	st := &mock.Store{ActivityFn: func(_ context.Context, f domain.ActivityFilter) ([]domain.ActivityMinute, error) {
		asked = append(asked, f)
		var out []domain.ActivityMinute
		for m, n := range answer {
			if !m.Before(f.Since) && m.Before(f.Until) {
				out = append(out, domain.ActivityMinute{Minute: m, Events: n})
			}
		}
		return out, nil
	}}
	u := &UI{cfg: Config{Store: st, Now: func() time.Time { return now }}}
	window := func() domain.ActivityFilter {
		end := now.Truncate(time.Minute).Add(time.Minute)
		return domain.ActivityFilter{AllMerchants: true, Since: end.Add(-time.Hour), Until: end}
	}
	get := func(f domain.ActivityFilter) string {
		t.Helper()
		got, err := u.activity(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		s := ""
		for _, a := range got {
			s += fmt.Sprintf("%s=%d ", a.Minute.Format("15:04"), a.Events)
		}
		return s
	}

	answer[at(11, 40)], answer[at(12, 27)], answer[at(12, 30)] = 5, 3, 1
	if got := get(window()); got != "11:40=5 12:27=3 12:30=1 " || asked[0].Since != at(11, 31) {
		t.Fatalf("first read: %s (asked from %s)", got, asked[0].Since)
	}
	answer[at(12, 30)] = 2
	answer[at(12, 27)] = 99 // a settled minute is not read again
	if got := get(window()); got != "11:40=5 12:27=3 12:30=2 " || asked[1].Since != at(12, 28) {
		t.Fatalf("second read: %s (asked from %s)", got, asked[1].Since)
	}
	now = time.Date(2026, 11, 29, 12, 45, 10, 0, time.UTC)
	answer[at(12, 44)] = 1
	if got := get(window()); got != "12:27=3 12:30=2 12:44=1 " || asked[2].Since != at(12, 28) {
		t.Fatalf("read a quarter later: %s (asked from %s)", got, asked[2].Since)
	}
	if got := get(window()); got != "12:27=3 12:30=2 12:44=1 " || asked[3].Since != at(12, 43) {
		t.Fatalf("read again: %s (asked from %s)", got, asked[3].Since)
	}
	// Another scope has its own cache.
	f := window()
	f.AllMerchants, f.MerchantID = false, "m1"
	get(f)
	if last := asked[len(asked)-1]; last.Since != f.Since || last.MerchantID != "m1" || last.AllMerchants {
		t.Fatalf("merchant scope asked %+v", last)
	}
}
