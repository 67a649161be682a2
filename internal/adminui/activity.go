package adminui

import (
	"context"
	"sync"
	"time"

	"switchyard/internal/domain"
)

// settleAfter is how long after a minute ends its counts are taken as final:
// events are stamped when stored and deliveries are flushed within a second,
// so a minute that ended this long ago no longer changes.
const settleAfter = 2 * time.Minute

// activityCache keeps the per-minute counts of minutes that have settled,
// per scope (the operator's or one merchant's), so a reload of the
// overview reads only the last few minutes from the store instead of the
// whole hour (which on a busy hub is hundreds of thousands of rows).
type activityCache struct {
	mu      sync.Mutex
	byScope map[string]*scopeActivity
}

type scopeActivity struct {
	until   time.Time // every minute before this is in minutes
	minutes map[time.Time]domain.ActivityMinute
	used    time.Time
}

// activity returns the counts of [f.Since, f.Until), from the cache for
// the settled minutes it holds and from the store for the rest.
func (u *UI) activity(ctx context.Context, f domain.ActivityFilter) ([]domain.ActivityMinute, error) {
	now := u.cfg.Now()
	settled := now.UTC().Truncate(time.Minute).Add(-settleAfter)
	key := "m:" + f.MerchantID
	if f.AllMerchants {
		key = "*"
	}
	c := &u.act
	c.mu.Lock()
	if c.byScope == nil {
		c.byScope = map[string]*scopeActivity{}
	}
	sc := c.byScope[key]
	from := f.Since
	var cached []domain.ActivityMinute
	if sc != nil && sc.until.After(f.Since) {
		from = sc.until
		for m, a := range sc.minutes {
			if !m.Before(f.Since) && m.Before(from) {
				cached = append(cached, a)
			}
		}
	}
	c.mu.Unlock()

	q := f
	q.Since = from
	var fresh []domain.ActivityMinute
	if q.Until.After(q.Since) {
		var err error
		fresh, err = u.cfg.Store.Activity(ctx, q)
		if err != nil {
			return nil, err
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	sc = c.byScope[key]
	if sc == nil || sc.until.Before(f.Since) {
		sc = &scopeActivity{until: from, minutes: map[time.Time]domain.ActivityMinute{}}
		c.byScope[key] = sc
	}
	if !from.After(sc.until) && settled.After(sc.until) && !q.Until.Before(settled) {
		for _, a := range fresh {
			if a.Minute.Before(settled) {
				sc.minutes[a.Minute] = a
			}
		}
		sc.until = settled
	}
	for m := range sc.minutes {
		if m.Before(f.Since) {
			delete(sc.minutes, m)
		}
	}
	sc.used = now
	for k, other := range c.byScope {
		if now.Sub(other.used) > time.Hour {
			delete(c.byScope, k)
		}
	}
	out := append(cached, fresh...)
	sortMinutes(out)
	return out, nil
}

func sortMinutes(ms []domain.ActivityMinute) {
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && ms[j].Minute.Before(ms[j-1].Minute); j-- {
			ms[j], ms[j-1] = ms[j-1], ms[j]
		}
	}
}
