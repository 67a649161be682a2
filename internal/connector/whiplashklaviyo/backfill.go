package whiplashklaviyo

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"switchyard/internal/connector"
	"switchyard/internal/domain"
	"switchyard/internal/jobs"
	"switchyard/internal/provider/klaviyo"
	"switchyard/internal/provider/whiplash"
)

// The backfill: with a launch date, every order updated from 14 days before
// it is fetched from Whiplash (search + pagination) into switchyard's order
// snapshots, then sent to Klaviyo as bulk profile imports (≤ 10,000 a job,
// onto the list) and bulk events with backfill=true (so old changes trigger
// no flows). Progress is checkpointed after every page and every chunk in
// the sync state (installation, "backfill", "whiplash"), so a crash resumes
// where it stopped; re-running it is idempotent (profiles upsert, events
// carry the same unique ids as live ones).

// BackfillWindow is how far before the launch date the backfill reaches.
const BackfillWindow = 14 * 24 * time.Hour

// Backfill tuning.
const (
	BackfillPerPage      = 100
	BackfillProfileChunk = 10000
	BackfillEventChunk   = 1000
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

// BackfillKey is the sync key holding an installation's backfill progress.
func BackfillKey(installationID string) domain.SyncKey {
	return domain.SyncKey{InstallationID: installationID, Kind: BackfillSync, Key: "whiplash"}
}

// StartBackfill (re)starts the backfill from the first page.
func (c *Connector) StartBackfill(ctx context.Context, in *domain.Installation) error {
	ld, err := time.Parse(time.DateOnly, in.Settings[SettingLaunchDate])
	if err != nil {
		return domain.Errorf(domain.EINVALID, "backfill needs settings.launch_date as YYYY-MM-DD")
	}
	from := ld.Add(-BackfillWindow)
	key := BackfillKey(in.ID)
	return c.d.Store.QueueSync(ctx, key, domain.Strings(map[string]string{"run": domain.NewID("run"),
		"phase": PhaseFetch, "from": from.Format(time.RFC3339), "page": "1", "fetched": "0", "total": "",
		"profiles_done": "0", "profile_jobs": "", "events_after": "", "orders_done": "0", "events_sent": "0",
		"started_at": c.d.Now().UTC().Format(time.RFC3339), "fetched_at": "", "profiles_at": "", "finished_at": "", "error": "",
		"profiles_total": "", "profiles_failed": "",
	}), jobs.NewSync(key, c.d.Now(), 0))
}

// BackfillSync is the sync kind that runs an installation's backfill, in
// slices: one attempt works at most Connector.Slice, checkpoints and asks
// to continue (jobs.ErrContinue; no attempt spent), so an attempt ends well
// inside River's stuck-job rescue window and a crash loses at most one page
// or chunk. Running it as a sync makes a restart requested while a run is
// finishing impossible to lose.
const BackfillSync = "backfill"

func (c *Connector) slice() time.Duration {
	if c.Slice > 0 {
		return c.Slice
	}
	return 30 * time.Second
}

// syncBackfill implements the backfill sync.
func (c *Connector) syncBackfill(ctx context.Context, in *domain.Installation, st *domain.SyncState) (map[string]string, error) {
	done, err := c.runBackfill(ctx, in, c.Progress, c.d.Now().Add(c.slice()))
	if errors.Is(err, errRestarted) {
		return nil, jobs.ErrContinue
	}
	if err != nil {
		_ = c.d.Store.SaveSyncState(context.WithoutCancel(ctx), st.SyncKey, domain.Strings(map[string]string{"error": err.Error()}))
		return nil, err
	}
	if !done {
		return nil, jobs.ErrContinue
	}
	return nil, nil
}

// runBackfill works until the backfill is done (true) or the deadline
// passes (false, progress saved).
func (c *Connector) runBackfill(ctx context.Context, in *domain.Installation, progress func(string, string, int, int), deadline time.Time) (bool, error) {
	late := func() bool { return c.d.Now().After(deadline) }
	key := BackfillKey(in.ID)
	st, err := c.d.Store.GetSync(ctx, key)
	if err != nil {
		return false, err
	}
	s := st.StringMap()
	from, err := time.Parse(time.RFC3339, s["from"])
	if err != nil {
		return false, domain.Errorf(domain.EINVALID, "backfill was not started (no window)")
	}
	report := func(phase string, done, total int) {
		if progress != nil {
			progress(in.ID, phase, done, total)
		}
	}
	run := s["run"]
	save := func(m map[string]string) error {
		if m == nil {
			return nil
		}
		// A restart requested meanwhile wins: stop writing this run's progress.
		if cur, err := c.d.Store.GetSync(ctx, key); err == nil && cur.Str("run") != run {
			return errRestarted
		}
		m["error"] = ""
		for k, v := range m {
			s[k] = v
		}
		return c.d.Store.SaveSyncState(ctx, key, domain.Strings(m))
	}

	if s["phase"] == PhaseFetch {
		wl, err := c.d.Clients.Whiplash(ctx, in.MerchantID, in.Connections[domain.VendorWhiplash])
		if err != nil {
			return false, err
		}
		search := whiplash.SearchParams{UpdatedAtGTE: from, Sort: "id asc", PerPage: BackfillPerPage}
		if s["total"] == "" {
			n, err := wl.CountOrders(ctx, search)
			if err != nil {
				return false, err
			}
			if err := save(map[string]string{"total": strconv.Itoa(n)}); err != nil {
				return false, err
			}
		}
		total := atoi(s["total"])
		for page := atoi(s["page"]); ; page++ {
			search.Page = page
			orders, err := wl.ListOrders(ctx, search)
			if err != nil {
				return false, err
			}
			snaps := make([]*domain.OrderSnapshot, 0, len(orders))
			for i := range orders {
				o := &orders[i]
				if domain.NormalizeEmail(o.Email) == "" {
					continue
				}
				raw, err := jsonOf(o)
				if err != nil {
					return false, err
				}
				snaps = append(snaps, connector.WhiplashSnapshot(in, o, raw))
			}
			if _, err := c.d.Store.ApplyOrders(ctx, snaps); err != nil {
				return false, err
			}
			fetched := atoi(s["fetched"]) + len(orders)
			next := map[string]string{"page": strconv.Itoa(page + 1), "fetched": strconv.Itoa(fetched)}
			if len(orders) < BackfillPerPage {
				next["phase"] = PhaseProfiles
				next["fetched_at"] = c.d.Now().UTC().Format(time.RFC3339)
			}
			if err := save(next); err != nil {
				return false, err
			}
			report(PhaseFetch, fetched, total)
			if len(orders) < BackfillPerPage {
				break
			}
			if late() {
				return false, nil
			}
		}
	}

	if s["phase"] == PhaseProfiles || s["phase"] == PhaseImport || s["phase"] == PhaseEvents {
		k, err := c.client(ctx, in)
		if err != nil {
			return false, err
		}
		if s["phase"] == PhaseProfiles {
			latest, err := c.latestByEmail(ctx, in.ID, from)
			if err != nil {
				return false, err
			}
			emails := make([]string, 0, len(latest))
			for e := range latest {
				emails = append(emails, e)
			}
			sort.Strings(emails)
			for done := atoi(s["profiles_done"]); done < len(emails); {
				end := min(done+BackfillProfileChunk, len(emails))
				attrs := make([]klaviyo.ProfileAttributes, 0, end-done)
				for _, e := range emails[done:end] {
					attrs = append(attrs, ProfileAttrs(latest[e]))
				}
				var lists []string
				if l := in.RemoteIDs[RemoteList]; l != "" {
					lists = append(lists, l)
				}
				j, err := k.BulkImportProfiles(ctx, attrs, lists...)
				if err != nil {
					return false, err
				}
				done = end
				ids := s["profile_jobs"]
				if ids != "" {
					ids += ","
				}
				if err := save(map[string]string{"profiles_done": strconv.Itoa(done), "profile_jobs": ids + j.ID, "profiles_total": strconv.Itoa(len(emails))}); err != nil {
					return false, err
				}
				report(PhaseProfiles, done, len(emails))
				if done < len(emails) && late() {
					return false, nil
				}
			}
			if err := save(map[string]string{"phase": PhaseImport}); err != nil {
				return false, err
			}
		}
		if s["phase"] == PhaseImport {
			// Wait for Klaviyo to finish the imports, so "done" means the
			// profiles exist (and their failures are counted).
			failed := 0
			for _, id := range strings.Split(s["profile_jobs"], ",") {
				if id == "" {
					continue
				}
				for {
					j, err := k.GetBulkImportJob(ctx, id)
					if err != nil {
						return false, err
					}
					if j.Done() {
						failed += j.FailedCount
						break
					}
					if late() {
						return false, nil
					}
					select {
					case <-ctx.Done():
						return false, ctx.Err()
					case <-time.After(ImportPoll):
					}
				}
			}
			if err := save(map[string]string{"phase": PhaseEvents, "profiles_failed": strconv.Itoa(failed), "profiles_at": c.d.Now().UTC().Format(time.RFC3339)}); err != nil {
				return false, err
			}
		}
		if s["phase"] == PhaseEvents {
			total, err := c.d.Store.CountOrders(ctx, in.ID)
			if err != nil {
				return false, err
			}
			afterStore, afterOrder, _ := strings.Cut(s["events_after"], "/")
			for {
				page, err := c.d.Store.ListOrders(ctx, in.ID, afterStore, afterOrder, BackfillEventChunk)
				if err != nil {
					return false, err
				}
				var evs []klaviyo.Event
				for _, snap := range page {
					if snap.SourceUpdatedAt.Before(from) {
						continue
					}
					o, err := connector.DecodeWhiplashOrder(snap)
					if err != nil {
						return false, domain.WrapError(domain.EINVALID, "stored order is unreadable", err)
					}
					for _, b := range Reached(o) {
						evs = append(evs, EventFor(snap.StoreID, o, b, true))
					}
				}
				if len(evs) > 0 {
					if _, err := k.BulkCreateEvents(ctx, evs, true); err != nil {
						return false, err
					}
				}
				if len(page) == 0 {
					break
				}
				last := page[len(page)-1]
				afterStore, afterOrder = last.StoreID, last.OrderID
				done := atoi(s["orders_done"]) + len(page)
				if err := save(map[string]string{"events_after": afterStore + "/" + afterOrder, "orders_done": strconv.Itoa(done),
					"events_sent": strconv.Itoa(atoi(s["events_sent"]) + len(evs))}); err != nil {
					return false, err
				}
				report(PhaseEvents, done, total)
				if len(page) < BackfillEventChunk {
					break
				}
				if late() {
					return false, nil
				}
			}
		}
		if err := save(map[string]string{"phase": PhaseDone, "finished_at": c.d.Now().UTC().Format(time.RFC3339)}); err != nil {
			return false, err
		}
		c.d.Logger.InfoContext(ctx, "backfill finished", slog.String("installation_id", in.ID), slog.String("fetched", s["fetched"]), slog.String("events", s["events_sent"]))
	}
	return s["phase"] == PhaseDone, nil
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

var errRestarted = errors.New("backfill restarted")

// BackfillStatus is the progress an operator sees.
func BackfillStatus(ctx context.Context, store domain.Store, installationID string) (map[string]string, error) {
	st, err := store.GetSync(ctx, BackfillKey(installationID))
	if err != nil {
		return nil, err
	}
	if len(st.State) == 0 {
		return nil, domain.Errorf(domain.ENOTFOUND, "no backfill for installation %s", installationID)
	}
	return st.StringMap(), nil
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }
