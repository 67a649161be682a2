package whiplashklaviyo

import (
	"context"
	"errors"
	"sort"
	"time"

	"switchyard/internal/connector"
	"switchyard/internal/domain"
	"switchyard/internal/jobs"
	"switchyard/internal/outbound"
	"switchyard/internal/provider/klaviyo"
	"switchyard/internal/provider/whiplash"
)

// The backfill: with a launch date, every order updated from 14 days before
// it is fetched from Whiplash (search + pagination) into switchyard's order
// snapshots, then sent to Klaviyo as bulk profile imports (≤ 10,000 a job,
// onto the list) and bulk events with backfill=true (so old changes trigger
// no flows). Progress is checkpointed after every page and every batch in
// the sync state (installation, "backfill", "whiplash"), so a crash resumes
// where it stopped.
//
// Klaviyo fails a whole bulk event request when one unique_id repeats an
// event already recorded for the same profile and metric, so the backfill
// sends only buckets no one emitted yet and never resends an accepted
// batch; see sendEvents for how it shares each order's bookkeeping with the
// live path.

// BackfillWindow is how far before the launch date the backfill reaches.
const BackfillWindow = 14 * 24 * time.Hour

// Backfill tuning.
const (
	// BackfillPerPage is the Whiplash page size asked for: Whiplash's own
	// gem never asks for more than 50, and no maximum is documented.
	BackfillPerPage      = 50
	BackfillProfileChunk = 10000
	// BackfillEventChunk is how many stored orders are read to plan one
	// batch; a batch holds at most klaviyo.MaxBulkEvents events (one
	// request, one job).
	BackfillEventChunk = 1000
	// ImportPoll is how often an import job's status is read.
	ImportPoll = 500 * time.Millisecond
)

// Phases.
const (
	PhaseFetch    = "fetch"
	PhaseProfiles = "profiles"
	PhaseImport   = "import" // waiting for Klaviyo's import jobs
	PhaseEvents   = "events"
	PhaseDone     = "done"
)

// BackfillSync is the sync kind that runs an installation's backfill, in
// slices: one attempt works at most Connector.Slice, checkpoints and asks
// to continue (jobs.ErrContinue; no attempt spent), so an attempt ends well
// inside River's stuck-job rescue window and a crash loses at most one page
// or batch. Running it as a sync makes a restart requested while a run is
// finishing impossible to lose.
const BackfillSync = "backfill"

// BackfillKey is the sync key holding an installation's backfill progress.
func BackfillKey(installationID string) domain.SyncKey {
	return domain.SyncKey{InstallationID: installationID, Kind: BackfillSync, Key: "whiplash"}
}

// BackfillProgress is what an operator sees of a backfill (GET
// …/backfill).
type BackfillProgress struct {
	Run   string    `json:"run"`
	Phase string    `json:"phase"`
	From  time.Time `json:"from"`
	// Fetch: the next Whiplash page, orders read, and /orders/count (nil
	// until read).
	Page    int  `json:"page"`
	Fetched int  `json:"fetched"`
	Total   *int `json:"total"`
	// Profiles: emails imported so far, of ProfilesTotal; rows Klaviyo
	// refused; the import jobs.
	ProfilesDone   int      `json:"profiles_done"`
	ProfilesTotal  int      `json:"profiles_total"`
	ProfilesFailed int      `json:"profiles_failed"`
	ProfileJobs    []string `json:"profile_jobs"`
	// Events: the (store/order) cursor, orders passed, events sent,
	// buckets skipped because they were already emitted (live, or by an
	// earlier run), and accepted jobs whose outcome Klaviyo does not show.
	EventsAfter          string `json:"events_after"`
	OrdersDone           int    `json:"orders_done"`
	EventsSent           int    `json:"events_sent"`
	EventsSkipped        int    `json:"events_skipped"`
	EventJobs            int    `json:"event_jobs"`
	EventJobsUnconfirmed int    `json:"event_jobs_unconfirmed"`

	StartedAt  *time.Time `json:"started_at"`
	FetchedAt  *time.Time `json:"fetched_at"`
	ProfilesAt *time.Time `json:"profiles_at"`
	FinishedAt *time.Time `json:"finished_at"`
	// Error is the last attempt's failure ("" after progress).
	Error string `json:"error"`
}

// backfillState is the backfill's bookkeeping: the progress plus the batch
// in flight.
type backfillState struct {
	BackfillProgress
	// Claim lists the orders (store/order) whose bookkeeping the backfill is
	// reading to plan a batch; the live path waits while its order is
	// claimed.
	Claim []string `json:"claim"`
	// Batch is the planned batch until it is confirmed.
	Batch *eventBatch `json:"batch"`
}

// eventBatch is one bulk event request: the buckets planned per order, and
// where the cursor goes once it is confirmed.
type eventBatch struct {
	// Run is the run that planned it: a batch left by an earlier run is
	// finished (its orders are marked) but moves no cursor of this one.
	Run    string         `json:"run"`
	Orders []plannedOrder `json:"orders"`
	After  string         `json:"after"`  // cursor after the batch
	Passed int            `json:"passed"` // orders the cursor passes
	// Skipped counts buckets left out: already emitted.
	Skipped int `json:"skipped"`
	// Attempted is set before the request is sent, Sent once Klaviyo
	// accepted it (Jobs: the jobs to confirm).
	Attempted bool     `json:"attempted"`
	Sent      bool     `json:"sent"`
	Jobs      []string `json:"jobs"`
}

// plannedOrder is one order's buckets in a batch. Prev is its bulk mark
// before the batch (restored when Klaviyo refuses the batch).
type plannedOrder struct {
	Key     string   `json:"key"`
	Buckets []Bucket `json:"buckets"`
	Prev    Bucket   `json:"prev"`
}

func (p plannedOrder) top() Bucket { return p.Buckets[len(p.Buckets)-1] }

// events counts the batch's events.
func (b *eventBatch) events() int {
	n := 0
	for _, o := range b.Orders {
		n += len(o.Buckets)
	}
	return n
}

// StartBackfill (re)starts the backfill from the first page. A batch in
// flight is kept: its orders are already marked as emitted, so the new run
// sends it before anything else.
func (c *Connector) StartBackfill(ctx context.Context, in *domain.Installation) error {
	ld, err := time.Parse(time.DateOnly, in.Settings[SettingLaunchDate])
	if err != nil {
		return domain.Errorf(domain.EINVALID, "backfill needs settings.launch_date as YYYY-MM-DD")
	}
	now := c.d.Now().UTC()
	fresh := struct {
		BackfillProgress
		Claim []string `json:"claim"`
	}{BackfillProgress: BackfillProgress{Run: domain.NewID("run"), Phase: PhaseFetch, From: ld.Add(-BackfillWindow), Page: 1, StartedAt: &now}}
	delta, err := domain.StateOf(fresh)
	if err != nil {
		return err
	}
	key := BackfillKey(in.ID)
	return c.d.Store.QueueSync(ctx, key, delta, jobs.NewSync(key, c.d.Now(), 0))
}

func (c *Connector) slice() time.Duration {
	if c.Slice > 0 {
		return c.Slice
	}
	return 30 * time.Second
}

// syncBackfill implements the backfill sync.
func (c *Connector) syncBackfill(ctx context.Context, in *domain.Installation, st *domain.SyncState) (domain.StateDelta, error) {
	done, err := c.runBackfill(ctx, in, c.d.Now().Add(c.slice()))
	if errors.Is(err, errRestarted) {
		return nil, jobs.ErrContinue
	}
	if err != nil {
		delta, serr := domain.StateOf(struct {
			Error string `json:"error"`
		}{err.Error()})
		return delta, errors.Join(err, serr)
	}
	if !done {
		return nil, jobs.ErrContinue
	}
	return nil, nil
}

var errRestarted = errors.New("backfill restarted")

// backfillRun is one slice of a backfill: the state as read, and the
// deadline after which it checkpoints and stops.
type backfillRun struct {
	c        *Connector
	in       *domain.Installation
	key      domain.SyncKey
	s        backfillState
	deadline time.Time
	k        *klaviyo.Client
}

// runBackfill works until the backfill is done (true) or the deadline
// passes (false, progress saved).
func (c *Connector) runBackfill(ctx context.Context, in *domain.Installation, deadline time.Time) (bool, error) {
	r := &backfillRun{c: c, in: in, key: BackfillKey(in.ID), deadline: deadline}
	st, err := c.d.Store.GetSync(ctx, r.key)
	if err != nil {
		return false, err
	}
	if err := st.Decode(&r.s); err != nil {
		return false, err
	}
	if r.s.Run == "" || r.s.From.IsZero() {
		return false, domain.Errorf(domain.EINVALID, "backfill was not started (no window)")
	}
	if r.s.Batch != nil && r.s.Batch.Run != r.s.Run { // left by the run this one replaced
		if err := r.finishBatch(ctx); err != nil {
			return false, err
		}
	}
	phases := map[string]func(context.Context) (bool, error){
		PhaseFetch: r.fetch, PhaseProfiles: r.importProfiles, PhaseImport: r.awaitImports, PhaseEvents: r.sendEvents,
	}
	for r.s.Phase != PhaseDone {
		phase, ok := phases[r.s.Phase]
		if !ok {
			return false, domain.Errorf(domain.EINTERNAL, "backfill is in an unknown phase %q", r.s.Phase)
		}
		finished, err := phase(ctx)
		if err != nil || !finished {
			return false, err
		}
	}
	return true, nil
}

func (r *backfillRun) late() bool { return r.c.d.Now().After(r.deadline) }

func (r *backfillRun) now() *time.Time {
	t := r.c.d.Now().UTC()
	return &t
}

func (r *backfillRun) report(phase string, done, total int) {
	if r.c.Progress != nil {
		r.c.Progress(r.in.ID, phase, done, total)
	}
}

// save checkpoints the whole state. A restart requested meanwhile wins:
// this run stops writing (errRestarted).
func (r *backfillRun) save(ctx context.Context) error {
	cur, err := r.c.d.Store.GetSync(ctx, r.key)
	if err != nil {
		return err
	}
	var now struct {
		Run string `json:"run"`
	}
	if err := cur.Decode(&now); err != nil {
		return err
	}
	if now.Run != r.s.Run {
		return errRestarted
	}
	r.s.Error = ""
	delta, err := domain.StateOf(r.s)
	if err != nil {
		return err
	}
	return r.c.d.Store.SaveSyncState(ctx, r.key, delta)
}

func (r *backfillRun) klaviyo(ctx context.Context) (*klaviyo.Client, error) {
	if r.k != nil {
		return r.k, nil
	}
	k, err := r.c.client(ctx, r.in)
	r.k = k
	return k, err
}

// fetch copies the window's orders from Whiplash, page by page. A short
// page is the end only once the count is reached (a server may cap
// per_page below what was asked); an empty page always is.
func (r *backfillRun) fetch(ctx context.Context) (bool, error) {
	wl, err := r.c.d.Clients.Whiplash(ctx, r.in.MerchantID, r.in.Connections[domain.VendorWhiplash])
	if err != nil {
		return false, err
	}
	search := whiplash.SearchParams{UpdatedAtGTE: r.s.From, Sort: "id asc", PerPage: BackfillPerPage}
	if r.s.Total == nil {
		n, err := wl.CountOrders(ctx, search)
		if err != nil {
			return false, err
		}
		r.s.Total = &n
		if err := r.save(ctx); err != nil {
			return false, err
		}
	}
	for {
		search.Page = r.s.Page
		orders, err := wl.ListOrders(ctx, search)
		if err != nil {
			return false, err
		}
		if err := r.storeOrders(ctx, orders); err != nil {
			return false, err
		}
		r.s.Page++
		r.s.Fetched += len(orders)
		last := len(orders) == 0 || (len(orders) < BackfillPerPage && r.s.Fetched >= *r.s.Total)
		if last {
			r.s.Phase, r.s.FetchedAt = PhaseProfiles, r.now()
		}
		if err := r.save(ctx); err != nil {
			return false, err
		}
		r.report(PhaseFetch, r.s.Fetched, *r.s.Total)
		if last {
			return true, nil
		}
		if r.late() {
			return false, nil
		}
	}
}

// storeOrders keeps the page's orders (those with an email) as snapshots.
func (r *backfillRun) storeOrders(ctx context.Context, orders []whiplash.Order) error {
	snaps := make([]*domain.OrderSnapshot, 0, len(orders))
	for i := range orders {
		o := &orders[i]
		if domain.NormalizeEmail(o.Email) == "" {
			continue
		}
		raw, err := jsonOf(o)
		if err != nil {
			return err
		}
		snaps = append(snaps, connector.WhiplashSnapshot(r.in, o, raw))
	}
	_, err := r.c.d.Store.ApplyOrders(ctx, snaps)
	return err
}

// importProfiles starts one bulk import per 10,000 emails, each profile
// from the email's newest order in the window, onto the list.
func (r *backfillRun) importProfiles(ctx context.Context) (bool, error) {
	k, err := r.klaviyo(ctx)
	if err != nil {
		return false, err
	}
	latest, err := r.c.latestByEmail(ctx, r.in.ID, r.s.From)
	if err != nil {
		return false, err
	}
	emails := make([]string, 0, len(latest))
	for e := range latest {
		emails = append(emails, e)
	}
	sort.Strings(emails)
	var lists []string
	if l := r.in.RemoteIDs[RemoteList]; l != "" {
		lists = append(lists, l)
	}
	r.s.ProfilesTotal = len(emails)
	for r.s.ProfilesDone < len(emails) {
		end := min(r.s.ProfilesDone+BackfillProfileChunk, len(emails))
		attrs := make([]klaviyo.ProfileAttributes, 0, end-r.s.ProfilesDone)
		for _, e := range emails[r.s.ProfilesDone:end] {
			attrs = append(attrs, ProfileAttrs(latest[e]))
		}
		j, err := k.BulkImportProfiles(ctx, attrs, lists...)
		if err != nil {
			return false, err
		}
		r.s.ProfilesDone = end
		r.s.ProfileJobs = append(r.s.ProfileJobs, j.ID)
		if err := r.save(ctx); err != nil {
			return false, err
		}
		r.report(PhaseProfiles, end, len(emails))
		if end < len(emails) && r.late() {
			return false, nil
		}
	}
	r.s.Phase = PhaseImport
	return true, r.save(ctx)
}

// awaitImports waits for Klaviyo to finish the imports, so "done" means the
// profiles exist (and their failures are counted).
func (r *backfillRun) awaitImports(ctx context.Context) (bool, error) {
	k, err := r.klaviyo(ctx)
	if err != nil {
		return false, err
	}
	failed := 0
	for _, id := range r.s.ProfileJobs {
		for {
			j, err := k.GetBulkImportJob(ctx, id)
			if err != nil {
				return false, err
			}
			if j.Done() {
				failed += j.FailedCount
				break
			}
			if r.late() {
				return false, nil
			}
			if err := outbound.Sleep(ctx, ImportPoll); err != nil {
				return false, err
			}
		}
	}
	r.s.Phase, r.s.ProfilesFailed, r.s.ProfilesAt = PhaseEvents, failed, r.now()
	return true, r.save(ctx)
}

// latestByEmail returns each email's newest order in the window.
func (c *Connector) latestByEmail(ctx context.Context, installationID string, from time.Time) (map[string]*whiplash.Order, error) {
	type best struct {
		at time.Time
		o  *whiplash.Order
	}
	m := map[string]best{}
	afterStore, afterOrder := "", ""
	for {
		page, err := c.d.Store.ListOrders(ctx, installationID, afterStore, afterOrder, 5000)
		if err != nil {
			return nil, err
		}
		for _, snap := range page {
			if snap.SourceUpdatedAt.Before(from) {
				continue
			}
			if b, ok := m[snap.CustomerEmail]; ok && !snap.SourceUpdatedAt.After(b.at) {
				continue
			}
			o, err := connector.DecodeWhiplashOrder(snap)
			if err != nil {
				return nil, domain.WrapError(domain.EINVALID, "stored order is unreadable", err)
			}
			m[snap.CustomerEmail] = best{snap.SourceUpdatedAt, o}
		}
		if len(page) < 5000 {
			break
		}
		afterStore, afterOrder = page[len(page)-1].StoreID, page[len(page)-1].OrderID
	}
	out := make(map[string]*whiplash.Order, len(m))
	for e, b := range m {
		out[e] = b.o
	}
	return out, nil
}

// BackfillStatus is the progress an operator sees.
func BackfillStatus(ctx context.Context, store domain.Store, installationID string) (*BackfillProgress, error) {
	st, err := store.GetSync(ctx, BackfillKey(installationID))
	if err != nil {
		return nil, err
	}
	if len(st.State) == 0 {
		return nil, domain.Errorf(domain.ENOTFOUND, "no backfill for installation %s", installationID)
	}
	var s backfillState
	if err := st.Decode(&s); err != nil {
		return nil, err
	}
	return &s.BackfillProgress, nil
}
