package whiplash

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"switchyard/internal/emulator/emukit"
)

// SimOptions describes a simulated stretch of order activity.
type SimOptions struct {
	// CustomerID owning the orders (default 1).
	CustomerID int64
	// Stores to create orders in (default: all of the customer's stores).
	Stores []int64
	// Orders created in total, spread over the stores (default 50 a store).
	Orders int
	// From is the simulated start (default Now − Duration).
	From time.Time
	// Duration of the simulated window (default 24 h). Orders are created
	// inside it; their later transitions are cut at its end unless
	// FullLifecycle is set.
	Duration time.Duration
	// FullLifecycle runs every order to its final status (delivered or
	// cancelled), past the window's end.
	FullLifecycle bool
	// DuplicateRate is the share of events delivered twice (same bytes).
	DuplicateRate float64
	// ReorderRate is the share of transitions whose webhooks are held back
	// and delivered after the order's next transition.
	ReorderRate float64
	// Concurrency is the number of delivery workers (default 4).
	Concurrency int
	// Seed of the simulation (default: derived from Config.Seed).
	Seed uint64
	// TargetURL, when set, receives every event of this simulation (signed
	// with TargetSecret, default Config.WebhookSecret), besides the
	// subscriptions and the emulator's catch-all target.
	TargetURL, TargetSecret string
	// MaxPending bounds queued deliveries; the simulation waits for the
	// receiver beyond it (default 10,000).
	MaxPending int
	// RepeatRate is the share of orders placed by a customer (email) who
	// already ordered in this simulation, in any store; half of those come
	// with a new name and address (the customer moved or married).
	RepeatRate float64
}

// SimEvent is one distinct event a simulation produced. Its ids are the
// simulation's own, built from what it sent; they are not switchyard's
// dedup keys.
type SimEvent struct {
	EventName      string    `json:"event_name"`
	OrderID        int64     `json:"order_id"`
	StoreID        int64     `json:"store_id"`
	Status         int       `json:"status"`
	PreviousStatus int       `json:"previous_status"`
	UpdatedAt      time.Time `json:"updated_at"`
	// Transition identifies the order transition the event announces
	// (TransitionID); the events of one transition share it.
	Transition string `json:"transition"`
	// ID identifies the event: its name and its transition (EventID).
	ID string `json:"id"`
}

// TransitionID names one order transition: store/order/status/updated_at,
// the time in UTC RFC 3339 with nanoseconds.
func TransitionID(store, order int64, status int, updatedAt time.Time) string {
	return fmt.Sprintf("%d/%d/%d/%s", store, order, status, updatedAt.UTC().Format(time.RFC3339Nano))
}

// EventID names one event of a transition: event_name@transition.
func EventID(eventName, transition string) string { return eventName + "@" + transition }

// SimReport is what a simulation did.
type SimReport struct {
	Orders      int            `json:"orders"`
	Transitions int            `json:"transitions"`
	Events      []SimEvent     `json:"events"`
	ByEvent     map[string]int `json:"by_event"`
	// Deliveries enqueued (one per event and endpoint, duplicates included).
	Deliveries int64 `json:"deliveries"`
	// Sent is the number of HTTP POSTs (first attempts and retries).
	Sent         int64 `json:"sent"`
	Acknowledged int64 `json:"acknowledged"`
	Retried      int64 `json:"retried"`
	Failed       int64 `json:"failed"`
	// Duplicates counts deliveries sent a second time on purpose.
	Duplicates int `json:"duplicates"`
	// Reordered counts transitions delivered after the order's next one.
	Reordered int           `json:"reordered"`
	From      time.Time     `json:"from"`
	To        time.Time     `json:"to"`
	Elapsed   time.Duration `json:"elapsed_ns"`
}

type simEntry struct {
	order, step int
	at          time.Time
}

// Simulate runs order lifecycles on a simulated clock: every transition
// updates the order (status, previous_status, status_name, updated_at) and
// sends its webhooks as fast as the receivers answer. It returns when every
// delivery is acknowledged or given up, or ctx ends (with a partial report).
func (e *Emulator) Simulate(ctx context.Context, opt SimOptions) (SimReport, error) {
	start := time.Now()
	if opt.CustomerID == 0 {
		opt.CustomerID = DefaultCustomerID
	}
	if opt.Duration <= 0 {
		opt.Duration = 24 * time.Hour
	}
	if opt.Concurrency <= 0 {
		opt.Concurrency = 4
	}
	if opt.MaxPending <= 0 {
		opt.MaxPending = 10_000
	}
	if opt.DuplicateRate < 0 || opt.DuplicateRate > 1 || opt.ReorderRate < 0 || opt.ReorderRate > 1 {
		return SimReport{}, errors.New("rates must be in [0,1]")
	}
	if opt.TargetURL != "" && !validEndpoint(opt.TargetURL) {
		return SimReport{}, errors.New("target URL must be an absolute http(s) URL")
	}
	if opt.TargetSecret == "" {
		opt.TargetSecret = e.cfg.WebhookSecret
	}
	e.mu.Lock()
	cu := e.customers[opt.CustomerID]
	var stores []store
	var err error
	if cu == nil {
		err = fmt.Errorf("unknown customer %d", opt.CustomerID)
	} else {
		stores, err = cu.pick(opt.Stores)
	}
	if opt.Seed == 0 {
		opt.Seed = e.rng.Uint64()
	}
	if opt.From.IsZero() {
		opt.From = e.cfg.Now().Add(-opt.Duration)
	}
	e.mu.Unlock()
	if err != nil {
		return SimReport{}, err
	}
	if opt.Orders <= 0 {
		opt.Orders = 50 * len(stores)
	}
	end := opt.From.Add(opt.Duration)
	rep := SimReport{Orders: opt.Orders, From: opt.From, To: end, ByEvent: map[string]int{}}

	r := rand.New(rand.NewPCG(opt.Seed, 0x51a1))
	f := emukit.NewFake(opt.Seed)
	plans := make([]plan, opt.Orders)
	last := make([]int, opt.Orders)
	var entries []simEntry
	for i := range plans {
		created := opt.From.Add(time.Duration(r.Int64N(int64(opt.Duration))))
		plans[i] = planLifecycle(r, created)
		for j, s := range plans[i].steps {
			if j > 0 && !opt.FullLifecycle && s.at.After(end) {
				break
			}
			entries = append(entries, simEntry{i, j, s.at})
			last[i] = j
		}
	}
	slices.SortFunc(entries, func(a, b simEntry) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		if c := cmp.Compare(a.order, b.order); c != 0 {
			return c
		}
		return cmp.Compare(a.step, b.step)
	})

	var batch senderStats
	snd := newSender(e, opt.Concurrency, &batch)
	defer snd.close()
	stop := context.AfterFunc(ctx, snd.cancel)
	defer stop()
	extra := target{URL: opt.TargetURL, Secret: opt.TargetSecret}
	ids := make([]int64, opt.Orders)
	var placed []int64
	held := map[int][]*delivery{}

	for _, en := range entries {
		if err := ctx.Err(); err != nil {
			break
		}
		if err := snd.throttle(opt.MaxPending); err != nil {
			break
		}
		p := plans[en.order]
		s := p.steps[en.step]
		e.mu.Lock()
		var o *Order
		if en.step == 0 {
			st := stores[en.order%len(stores)]
			o = newOrder(f, &e.ids, int64(e.cfg.StringIDsEvery), cu.ID, st.ID, st.Domain, s.at)
			if opt.RepeatRate > 0 && len(placed) > 0 && r.Float64() < opt.RepeatRate {
				if prev := e.orders.get(placed[r.IntN(len(placed))]); prev != nil {
					repeatCustomer(o, prev, r.IntN(2) == 0)
				}
			}
			ids[en.order] = int64(o.ID)
			placed = append(placed, int64(o.ID))
			setStatus(o, s.status, s.at, r, &e.ids, p.tracked, p.split)
		} else if o = e.orders.get(ids[en.order]); o == nil {
			e.mu.Unlock() // the emulator was reset under us
			continue
		} else {
			o = applyStatus(o, s.status, s.at, r, &e.ids, p.tracked, p.split)
		}
		e.orders.put(o)
		var group []*delivery
		names := e.eventNames(en.step == 0, s.status)
		for _, name := range names {
			body, err := webhookBody(name, o)
			if err != nil {
				e.mu.Unlock()
				return rep, fmt.Errorf("error rendering webhook: %w", err)
			}
			ds := e.routeLocked(name, o, body, extra)
			group = append(group, ds...)
			if opt.DuplicateRate > 0 && r.Float64() < opt.DuplicateRate {
				for _, d := range ds {
					c := *d
					group = append(group, &c)
					rep.Duplicates++
				}
			}
		}
		e.mu.Unlock()
		rep.Transitions++
		tr := TransitionID(int64(o.ShopID), int64(o.ID), int(o.Status), o.UpdatedAt.Time)
		for _, name := range names {
			rep.Events = append(rep.Events, SimEvent{
				EventName: name, OrderID: int64(o.ID), StoreID: int64(o.ShopID), Status: int(o.Status),
				PreviousStatus: int(o.PreviousStatus), UpdatedAt: o.UpdatedAt.Time,
				Transition: tr, ID: EventID(name, tr),
			})
			rep.ByEvent[name]++
		}
		if h, ok := held[en.order]; ok {
			snd.enqueue(group...)
			snd.enqueue(h...)
			delete(held, en.order)
			rep.Reordered++
		} else if en.step != last[en.order] && opt.ReorderRate > 0 && r.Float64() < opt.ReorderRate {
			held[en.order] = group
		} else {
			snd.enqueue(group...)
		}
	}
	for _, h := range held { // only left when the loop was cut short
		snd.enqueue(h...)
	}
	werr := snd.wait(ctx)
	st := batch.snapshot()
	rep.Deliveries, rep.Sent, rep.Acknowledged, rep.Retried, rep.Failed = st.Deliveries, st.Attempts, st.Acknowledged, st.Retried, st.Failed
	rep.Elapsed = time.Since(start)
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("simulation stopped: %w", err)
	}
	if werr != nil {
		return rep, fmt.Errorf("simulation stopped: %w", werr)
	}
	return rep, nil
}

// throttle waits while more than limit deliveries are queued.
func (s *sender) throttle(limit int) error {
	for {
		s.mu.Lock()
		n, idle := s.pending, s.idle
		s.mu.Unlock()
		if n <= limit {
			return nil
		}
		select {
		case <-s.ctx.Done():
			return s.ctx.Err()
		case <-idle:
		}
	}
}

// simRun is a simulation started through the control route.
type simRun struct {
	id      int
	cancel  context.CancelFunc
	mu      sync.Mutex
	running bool
	err     string
	report  *SimReport
}

// SimStatus is a control-route view of a simulation.
type SimStatus struct {
	ID      int        `json:"id"`
	Running bool       `json:"running"`
	Error   string     `json:"error,omitempty"`
	Report  *SimReport `json:"report,omitempty"`
}

func (s *simRun) status() SimStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := SimStatus{ID: s.id, Running: s.running, Error: s.err}
	if s.report != nil {
		c := *s.report
		c.Events = nil // the full list is served by GET /_emulator/simulations/{id}
		st.Report = &c
	}
	return st
}

type simRequest struct {
	CustomerID    int64   `json:"customer_id"`
	Stores        []int64 `json:"stores"`
	Orders        int     `json:"orders"`
	From          string  `json:"from"`
	Duration      string  `json:"duration"`
	FullLifecycle bool    `json:"full_lifecycle"`
	DuplicateRate float64 `json:"duplicate_rate"`
	ReorderRate   float64 `json:"reorder_rate"`
	Concurrency   int     `json:"concurrency"`
	Seed          uint64  `json:"seed"`
	TargetURL     string  `json:"target_url"`
	TargetSecret  string  `json:"target_secret"`
	Wait          bool    `json:"wait"`
}

// handleSimulate starts a simulation: {"orders":…, "duration":"24h",
// "duplicate_rate":…, "reorder_rate":…, "target_url":…, "wait":true|false}.
// With wait it answers the report; otherwise 202 with the simulation id.
func (e *Emulator) handleSimulate(w http.ResponseWriter, r *http.Request) {
	var in simRequest
	if err := decodeBody(r, &in); err != nil {
		emukit.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	opt := SimOptions{
		CustomerID: in.CustomerID, Stores: in.Stores, Orders: in.Orders, FullLifecycle: in.FullLifecycle,
		DuplicateRate: in.DuplicateRate, ReorderRate: in.ReorderRate, Concurrency: in.Concurrency, Seed: in.Seed,
		TargetURL: in.TargetURL, TargetSecret: in.TargetSecret,
	}
	var err error
	if in.Duration != "" {
		opt.Duration, err = time.ParseDuration(in.Duration)
	}
	if err == nil {
		opt.From, err = timeOrZero(in.From)
	}
	if err != nil {
		emukit.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	if in.Wait {
		rep, err := e.Simulate(r.Context(), opt)
		if err != nil {
			emukit.WriteJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error(), "report": rep})
			return
		}
		emukit.WriteJSON(w, http.StatusOK, rep)
		return
	}
	ctx, cancel := context.WithCancel(e.ctx)
	e.mu.Lock()
	run := &simRun{id: len(e.sims) + 1, cancel: cancel, running: true}
	e.sims = append(e.sims, run)
	e.mu.Unlock()
	go func() {
		defer cancel()
		rep, err := e.Simulate(ctx, opt)
		run.mu.Lock()
		defer run.mu.Unlock()
		run.running = false
		run.report = &rep
		if err != nil {
			run.err = err.Error()
		}
	}()
	emukit.WriteJSON(w, http.StatusAccepted, map[string]any{"id": run.id, "status": "running"})
}

func (e *Emulator) handleGetSimulation(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.Atoi(r.PathValue("id"))
	e.mu.Lock()
	var run *simRun
	for _, s := range e.sims {
		if s.id == id {
			run = s
		}
	}
	e.mu.Unlock()
	if run == nil {
		emukit.WriteJSON(w, http.StatusNotFound, map[string]string{"error": "no such simulation"})
		return
	}
	run.mu.Lock()
	st := SimStatus{ID: run.id, Running: run.running, Error: run.err, Report: run.report}
	run.mu.Unlock()
	emukit.WriteJSON(w, http.StatusOK, st)
}

// repeatCustomer makes o an order of prev's customer: same email and, unless
// moved, the same name, phone and address.
func repeatCustomer(o, prev *Order, moved bool) {
	o.Email = prev.Email
	if moved {
		return
	}
	o.FirstName, o.LastName, o.FullName, o.ShippingName = prev.FirstName, prev.LastName, prev.FullName, prev.ShippingName
	o.ShippingCompany, o.ShippingPhone = prev.ShippingCompany, prev.ShippingPhone
	o.ShippingAddress1, o.ShippingAddress2 = prev.ShippingAddress1, prev.ShippingAddress2
	o.ShippingCity, o.ShippingState, o.ShippingZip = prev.ShippingCity, prev.ShippingState, prev.ShippingZip
	o.ShippingCountry, o.ShippingCountryISO2 = prev.ShippingCountry, prev.ShippingCountryISO2
}
