// Package whiplashklaviyo is connector C2: Whiplash orders become Klaviyo
// profiles (upserted by email, named full name → company → email, added to
// the "Whiplash" list) and order status events (Processing order, Order
// shipped, Order delivered, Order cancelled) with deterministic unique ids,
// never a lower bucket after a higher one. A launch date triggers a 14-day
// backfill through bulk jobs (backfill.go).
package whiplashklaviyo

import (
	"context"
	"encoding/json"
	"fmt"
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

// Sync kinds.
const (
	ProfileSync = "klaviyo_profile" // key: email
	OrderSync   = "klaviyo_order"   // key: store/order
	ListSync    = "klaviyo_list"    // key: list id; state: "p:<profile id>": true, pending adds
)

// ListBatchDelay lets profile additions to the list accumulate: list
// membership calls are limited to a few a second, and one call takes up to
// 1,000 profiles.
const ListBatchDelay = 2 * time.Second

// Remote ids and settings.
const (
	RemoteList           = "klaviyo_list_id"
	RemoteDefaultProfile = "klaviyo_default_profile_id"
	SettingListName      = "list_name"
	SettingDefaultEmail  = "default_profile_email"
	SettingLaunchDate    = "launch_date"
	DefaultListName      = "Whiplash"
	DefaultProfileEmail  = "whiplash-default-profile@example.com"
)

// Connector is C2.
type Connector struct {
	d connector.Deps
	// Slice bounds one backfill attempt (default 30 s).
	Slice time.Duration
	// Progress is told about backfill progress (metrics); may be nil.
	Progress func(installationID, phase string, done, total int)
}

// New returns the connector.
func New(d connector.Deps) *Connector {
	d = d.WithDefaults()
	return &Connector{d: d, Slice: d.SyncSlice, Progress: d.Progress}
}

// Name implements connector.Connector.
func (c *Connector) Name() string { return Name }

// Syncers implements connector.Connector.
func (c *Connector) Syncers() map[string]jobs.Syncer {
	return map[string]jobs.Syncer{ProfileSync: syncFunc(c.syncProfile), OrderSync: syncFunc(c.syncOrder), ListSync: syncFunc(c.syncList), BackfillSync: syncFunc(c.syncBackfill)}
}

type syncFunc func(ctx context.Context, in *domain.Installation, st *domain.SyncState) (domain.StateDelta, error)

func (f syncFunc) Sync(ctx context.Context, in *domain.Installation, st *domain.SyncState) (domain.StateDelta, error) {
	return f(ctx, in, st)
}

func (c *Connector) client(ctx context.Context, in *domain.Installation) (*klaviyo.Client, error) {
	return c.d.Clients.Klaviyo(ctx, in.MerchantID, in.Connections[domain.VendorKlaviyo])
}

func setting(in *domain.Installation, name, def string) string {
	if v := strings.TrimSpace(in.Settings[name]); v != "" {
		return v
	}
	return def
}

// Install finds or creates the Whiplash list and the default profile on it
// (Klaviyo allows only 150 list creations a day, so re-installing finds
// them), then starts the backfill when a launch date is set.
func (c *Connector) Install(ctx context.Context, in *domain.Installation) error {
	if ld := in.Settings[SettingLaunchDate]; ld != "" {
		if _, err := time.Parse(time.DateOnly, ld); err != nil {
			return domain.Errorf(domain.EINVALID, "launch_date %q must be YYYY-MM-DD", ld)
		}
	}
	k, err := c.client(ctx, in)
	if err != nil {
		return err
	}
	if in.RemoteIDs == nil {
		in.RemoteIDs = map[string]string{}
	}
	name := setting(in, SettingListName, DefaultListName)
	list, err := k.FindListByName(ctx, name)
	if err != nil && !domain.IsNotFound(err) {
		return fmt.Errorf("error looking for the %q list: %w", name, err)
	}
	if err != nil {
		if list, err = k.CreateList(ctx, name, ""); err != nil {
			return fmt.Errorf("error creating the %q list: %w", name, err)
		}
	}
	in.RemoteIDs[RemoteList] = list.ID
	email := setting(in, SettingDefaultEmail, DefaultProfileEmail)
	first, last := "Whiplash", "Default Profile"
	p, _, err := k.UpsertProfile(ctx, klaviyo.ProfileAttributes{Email: &email, FirstName: &first, LastName: &last})
	if err != nil {
		return fmt.Errorf("error creating the default profile: %w", err)
	}
	if err := k.AddProfilesToList(ctx, list.ID, []string{p.ID}); err != nil {
		return fmt.Errorf("error adding the default profile to the list: %w", err)
	}
	in.RemoteIDs[RemoteDefaultProfile] = p.ID
	in.State = domain.InstallationActive
	if err := c.d.Store.UpdateInstallation(ctx, in); err != nil {
		return err
	}
	if in.Settings[SettingLaunchDate] != "" {
		return c.StartBackfill(ctx, in)
	}
	return nil
}

// HandleEvent stores the snapshot and marks the profile and the order's
// events for a sync.
func (c *Connector) HandleEvent(ctx context.Context, in *domain.Installation, ev *domain.InboundEvent) (jobs.Outcome, error) {
	_, outcome, err := connector.ApplyWhiplashEvent(ctx, c.d.Store, in, ev, c.plan(in))
	return outcome, err
}

// ApplyOnIngest implements connector.IngestApplier: what HandleEvent does,
// in the transaction that stores the event.
func (c *Connector) ApplyOnIngest(in *domain.Installation, ev *domain.InboundEvent) *domain.EventApply {
	return connector.WhiplashApply(in, ev, c.plan(in))
}

func (c *Connector) plan(in *domain.Installation) connector.WhiplashPlan {
	now := c.d.Now()
	return func(_ *whiplash.Order, snap, _ *domain.OrderSnapshot) ([]domain.SyncKey, []domain.JobArgs) {
		keys := []domain.SyncKey{
			{InstallationID: in.ID, Kind: ProfileSync, Key: snap.CustomerEmail},
			{InstallationID: in.ID, Kind: OrderSync, Key: snap.StoreID + "/" + snap.OrderID},
		}
		js := make([]domain.JobArgs, len(keys))
		for i, k := range keys {
			js[i] = jobs.NewSync(k, now, c.d.Coalesce)
		}
		return keys, js
	}
}

// ProfileName is the profile's name: full name, else company, else email.
func ProfileName(o *whiplash.Order) string {
	if n := o.DisplayName(); n != "" {
		return n
	}
	if co := o.Company(); co != "" {
		return co
	}
	return domain.NormalizeEmail(o.Email)
}

// ProfileAttrs builds the profile of an order's recipient.
func ProfileAttrs(o *whiplash.Order) klaviyo.ProfileAttributes {
	email := domain.NormalizeEmail(o.Email)
	a := klaviyo.ProfileAttributes{Email: &email}
	name := ProfileName(o)
	first, last, _ := strings.Cut(name, " ")
	if o.DisplayName() == "" {
		first, last = name, "" // company or email: one piece
	}
	a.FirstName = &first
	if last != "" {
		a.LastName = &last
	} else {
		a.Clear = append(a.Clear, "last_name")
	}
	if co := o.Company(); co != "" {
		a.Organization = &co
	}
	if o.ShippingPhone != "" {
		a.Properties = map[string]any{"whiplash_phone": o.ShippingPhone}
	}
	return a
}

// profileState is the bookkeeping of one email's profile.
type profileState struct {
	ProfileID string `json:"profile_id,omitempty"`
	// Listed is the list the profile was handed to (once per list).
	Listed string `json:"listed,omitempty"`
}

// syncProfile upserts the profile from the customer's newest order and
// adds it to the list once.
func (c *Connector) syncProfile(ctx context.Context, in *domain.Installation, st *domain.SyncState) (domain.StateDelta, error) {
	var ps profileState
	if err := st.Decode(&ps); err != nil {
		return nil, err
	}
	snaps, err := c.d.Store.ListCustomerOrders(ctx, in.ID, st.Key)
	if err != nil || len(snaps) == 0 {
		return nil, err
	}
	o, err := connector.DecodeWhiplashOrder(snaps[0])
	if err != nil {
		return nil, domain.WrapError(domain.EINVALID, "stored order is unreadable", err)
	}
	k, err := c.client(ctx, in)
	if err != nil {
		return nil, err
	}
	p, _, err := k.UpsertProfile(ctx, ProfileAttrs(o))
	if err != nil {
		return nil, err
	}
	out := profileState{ProfileID: p.ID}
	if list := in.RemoteIDs[RemoteList]; list != "" && ps.Listed != list {
		lk := domain.SyncKey{InstallationID: in.ID, Kind: ListSync, Key: list}
		pending := domain.StateDelta{"p:" + p.ID: json.RawMessage("true")}
		if err := c.d.Store.QueueSync(ctx, lk, pending, jobs.NewSync(lk, c.d.Now(), ListBatchDelay)); err != nil {
			return stateOf(out, err)
		}
		out.Listed = list
	}
	return stateOf(out, nil)
}

// stateOf encodes a sync's bookkeeping next to the sync's own error.
func stateOf(v any, err error) (domain.StateDelta, error) {
	d, serr := domain.StateOf(v)
	if err != nil {
		return d, err
	}
	return d, serr
}

// pendingMembers reads the list sync's pending set: fields "p:<profile
// id>" set to true (or "1", as string states stored it). Many profile syncs
// add to it at once; each field is its own, so none overwrites another.
func pendingMembers(st *domain.SyncState) ([]string, error) {
	var ids []string
	for name, raw := range st.State {
		id, ok := strings.CutPrefix(name, "p:")
		if !ok {
			continue
		}
		switch string(raw) {
		case "true", `"1"`:
			ids = append(ids, id)
		default:
			return nil, domain.Errorf(domain.EINTERNAL, "list sync %s has a malformed pending member %s: %s", st.Key, name, raw)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// syncList adds the pending profiles to the list, 1,000 per call.
func (c *Connector) syncList(ctx context.Context, in *domain.Installation, st *domain.SyncState) (domain.StateDelta, error) {
	ids, err := pendingMembers(st)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	k, err := c.client(ctx, in)
	if err != nil {
		return nil, err
	}
	done := domain.StateDelta{}
	for len(ids) > 0 {
		n := min(len(ids), 1000)
		if err := k.AddProfilesToList(ctx, st.Key, ids[:n]); err != nil {
			return done, err
		}
		for _, id := range ids[:n] {
			done["p:"+id] = domain.Deleted // done: out of the pending set
		}
		ids = ids[n:]
	}
	return done, nil
}

// UniqueID is the deterministic id of an order's bucket event.
func UniqueID(storeID, orderID string, b Bucket) string {
	return "whiplash:" + storeID + ":" + orderID + ":" + b.Slug()
}

// EventFor builds the Klaviyo event of one bucket of an order.
func EventFor(storeID string, o *whiplash.Order, b Bucket, backfill bool) klaviyo.Event {
	props := map[string]any{
		"order_number": orderNumber(o), "order_id": int64(o.ID), "store_id": storeID,
		"status": statusText(o), "status_code": int(o.Status), "shipping_method": o.ShippingMethodName(),
	}
	if len(o.Tracking) > 0 {
		props["tracking_numbers"] = o.Tracking
	}
	if len(o.TrackingLinks) > 0 {
		props["tracking_links"] = o.TrackingLinks
	}
	return klaviyo.Event{Metric: b.Metric(), Email: domain.NormalizeEmail(o.Email), Properties: props, Time: o.UpdatedAt.Time,
		UniqueID: UniqueID(storeID, strconv.FormatInt(int64(o.ID), 10), b), Backfill: backfill}
}

func orderNumber(o *whiplash.Order) string {
	if o.HumanizeID != "" {
		return o.HumanizeID
	}
	return strconv.FormatInt(int64(o.ID), 10)
}

func statusText(o *whiplash.Order) string {
	if o.StatusName != "" {
		return o.StatusName
	}
	return strconv.Itoa(int(o.Status))
}

// syncOrder emits the buckets the order reached beyond the highest emitted
// (live or by a backfill), lowest first, recording progress after each. It
// first marks what it is about to send and waits while a backfill is
// planning a batch with this order (see emit.go).
func (c *Connector) syncOrder(ctx context.Context, in *domain.Installation, st *domain.SyncState) (domain.StateDelta, error) {
	storeID, orderID, ok := strings.Cut(st.Key, "/")
	if !ok {
		return nil, domain.Errorf(domain.EINVALID, "bad order sync key %q", st.Key)
	}
	var s orderState
	if err := st.Decode(&s); err != nil {
		return nil, err
	}
	snap, err := c.d.Store.GetOrder(ctx, in.ID, storeID, orderID)
	if err != nil {
		return nil, err
	}
	o, err := connector.DecodeWhiplashOrder(snap)
	if err != nil {
		return nil, domain.WrapError(domain.EINVALID, "stored order is unreadable", err)
	}
	reached := Reached(o)
	if len(reached) == 0 || reached[len(reached)-1] <= s.emitted() {
		return nil, nil
	}
	if err := c.mark(ctx, st.SyncKey, liveMark{Sending: reached[len(reached)-1]}); err != nil {
		return nil, err
	}
	if claimed, err := c.backfillClaims(ctx, in.ID, st.Key); err != nil || claimed {
		if err == nil {
			err = jobs.ErrContinue // a backfill is planning this order: run again shortly
		}
		return nil, err
	}
	if s, err = c.orderState(ctx, st.SyncKey); err != nil { // a backfill may have sent some
		return nil, err
	}
	k, err := c.client(ctx, in)
	if err != nil {
		return nil, err
	}
	for _, b := range reached {
		if b <= s.emitted() {
			continue
		}
		if err := k.CreateEvent(ctx, EventFor(storeID, o, b, false)); err != nil {
			return nil, err
		}
		s.Bucket = b
		if err := c.mark(ctx, st.SyncKey, liveMark{Bucket: b}); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func jsonOf(o *whiplash.Order) ([]byte, error) {
	b, err := json.Marshal(o)
	if err != nil {
		return nil, fmt.Errorf("error encoding order %d: %w", int64(o.ID), err)
	}
	return b, nil
}
