package whiplash

import (
	"math"
	"time"
)

// LeakyBucket is a V1-style rate limit per customer: each API call adds one
// drop; the bucket leaks LeakPerSecond drops a second; a call that would
// overflow Capacity is answered 429 with Retry-After. Whiplash V1 used
// capacity 200 leaking 2 per 10 s (LeakPerSecond 0.2); V2's limits are
// UNCONFIRMED. Capacity 0 turns the limit off.
type LeakyBucket struct {
	Capacity      int     `json:"capacity"`
	LeakPerSecond float64 `json:"leak_per_second"`
}

type bucketState struct {
	level float64
	last  time.Time
}

// takeRate charges one call to the customer's bucket. It returns false and
// the wait until a drop has leaked when the bucket is full.
func (e *Emulator) takeRate(customerID int64) (time.Duration, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	rl := e.rl
	if rl.Capacity <= 0 {
		return 0, true
	}
	now := e.cfg.Now()
	b := e.buckets[customerID]
	if b == nil {
		b = &bucketState{last: now}
		e.buckets[customerID] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.level = math.Max(0, b.level-el*rl.LeakPerSecond)
	}
	b.last = now
	if b.level+1 > float64(rl.Capacity) {
		if rl.LeakPerSecond <= 0 {
			return time.Hour, false
		}
		wait := (b.level + 1 - float64(rl.Capacity)) / rl.LeakPerSecond
		return time.Duration(math.Max(wait, 1) * float64(time.Second)), false
	}
	b.level++
	return 0, true
}

// SetRateLimit replaces the leaky-bucket settings and empties the buckets.
func (e *Emulator) SetRateLimit(rl LeakyBucket) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rl = rl
	e.buckets = map[int64]*bucketState{}
}
