// Package whiplashgorgias is connector C1: Whiplash order webhooks become
// Gorgias customers (found or created by email) with a Whiplash widget fed
// from customer.data.whiplash. Writes are snapshots: one coalesced sync per
// (installation, customer) reads every stored order of that email across the
// merchant's stores and writes the document with version = newest update.
// Nothing is ever read from Gorgias into Whiplash.
package whiplashgorgias

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"switchyard/internal/connector"
	"switchyard/internal/domain"
	"switchyard/internal/jobs"
	"switchyard/internal/provider/gorgias"
	"switchyard/internal/provider/whiplash"
)

// SyncKind is the sync that writes one Gorgias customer.
const SyncKind = "gorgias_customer"

// Remote ids recorded on the installation.
const RemoteWidget = "gorgias_widget_id"

// DefaultForeignTTL is how long the copy of the customer data keys owned by
// others is trusted before it is read again from Gorgias.
const DefaultForeignTTL = 15 * time.Minute

// Connector is C1.
type Connector struct {
	d connector.Deps
	// ForeignTTL bounds the age of the cached keys owned by others.
	ForeignTTL time.Duration
}

// New returns the connector.
func New(d connector.Deps) *Connector {
	return &Connector{d: d.WithDefaults(), ForeignTTL: DefaultForeignTTL}
}

// Name implements connector.Connector.
func (c *Connector) Name() string { return Name }

// Syncers implements connector.Connector.
func (c *Connector) Syncers() map[string]jobs.Syncer { return map[string]jobs.Syncer{SyncKind: c} }

func (c *Connector) client(ctx context.Context, in *domain.Installation) (*gorgias.Client, error) {
	return c.d.Clients.Gorgias(ctx, in.MerchantID, in.Connections[domain.VendorGorgias])
}

// Install creates the Whiplash widget, or repairs it when it was deleted
// or edited.
func (c *Connector) Install(ctx context.Context, in *domain.Installation) error {
	g, err := c.client(ctx, in)
	if err != nil {
		return err
	}
	w := gorgias.Widget{Context: "ticket", Type: "custom", Order: 10, Template: WidgetTemplate()}
	if in.RemoteIDs == nil {
		in.RemoteIDs = map[string]string{}
	}
	if id, err := strconv.ParseInt(in.RemoteIDs[RemoteWidget], 10, 64); err == nil && id > 0 {
		if _, err := g.UpdateWidget(ctx, gorgias.ID(id), w); err == nil {
			return c.activate(ctx, in)
		} else if !errors.Is(err, gorgias.ErrNotFound) {
			return fmt.Errorf("error repairing the whiplash widget: %w", err)
		}
	}
	created, err := g.CreateWidget(ctx, w)
	if err != nil {
		return fmt.Errorf("error creating the whiplash widget: %w", err)
	}
	in.RemoteIDs[RemoteWidget] = strconv.FormatInt(int64(created.ID), 10)
	return c.activate(ctx, in)
}

func (c *Connector) activate(ctx context.Context, in *domain.Installation) error {
	in.State = domain.InstallationActive
	return c.d.Store.UpdateInstallation(ctx, in)
}

// HandleEvent stores the order snapshot and marks the customer (and, when
// the order moved to another email, the previous customer) for a sync.
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
	return func(_ *whiplash.Order, snap, prev *domain.OrderSnapshot) ([]domain.SyncKey, []domain.JobArgs) {
		keys := []domain.SyncKey{{InstallationID: in.ID, Kind: SyncKind, Key: snap.CustomerEmail}}
		if prev != nil && prev.CustomerEmail != "" && prev.CustomerEmail != snap.CustomerEmail {
			keys = append(keys, domain.SyncKey{InstallationID: in.ID, Kind: SyncKind, Key: prev.CustomerEmail})
		}
		js := make([]domain.JobArgs, len(keys))
		for i, k := range keys {
			js[i] = jobs.NewSync(k, now, c.d.Coalesce)
		}
		return keys, js
	}
}

// customerState is the sync's bookkeeping for one customer (one email),
// stored as the fields of the sync state. Legacy string-bridge fields
// (customer_id and foreign held as strings) have other names, so an old
// state reads as "no cached customer" and is found again by email.
type customerState struct {
	// CustomerID is the cached Gorgias customer (0: find or create it).
	CustomerID int64 `json:"gorgias_customer_id"`
	// Name is the full name last seen on or confirmed written to the
	// customer ("" when unknown: the next sync writes the name).
	Name string `json:"name"`
	// NamePending is a name being written: saved, with Name cleared, before
	// the PUT, and cleared when the PUT is confirmed. A crash between the
	// PUT and the save of the state leaves Name empty, so the next sync
	// writes the name again instead of trusting a write it never saw.
	NamePending string `json:"name_pending"`
	// Version is the version of the last document written.
	Version time.Time `json:"version"`
	// Foreign is the copy of the customer data keys other apps own, written
	// back with ours (PUT …/data replaces the whole document).
	Foreign map[string]json.RawMessage `json:"foreign_data"`
	// ForeignAt is when Foreign was read from Gorgias (ForeignTTL bounds it).
	ForeignAt time.Time `json:"foreign_at"`
}

// legacyFields are the string-bridge names this sync no longer uses.
var legacyFields = []string{"customer_id", "foreign"}

// forget drops the cached customer: it was deleted or merged in Gorgias.
// The copy of others' keys goes with it: they belonged to that customer,
// and writing them onto another (or a re-created) one would resurrect data
// their owners may have erased.
func (cs *customerState) forget() {
	cs.CustomerID, cs.Name, cs.NamePending, cs.Foreign, cs.ForeignAt = 0, "", "", nil, time.Time{}
}

// delta is the state to store: every field (the sync is its key's only
// writer) and a deletion of the legacy fields still present in st. err is
// the sync's outcome, joined with an encoding failure if any.
func (cs *customerState) delta(st *domain.SyncState, err error) (domain.StateDelta, error) {
	d, derr := domain.StateOf(cs)
	if derr != nil {
		return nil, errors.Join(err, derr)
	}
	for _, f := range legacyFields {
		if _, ok := st.State[f]; ok {
			d[f] = domain.Deleted
		}
	}
	return d, err
}

// document is what one sync writes: the Whiplash section built from every
// stored order of the email, and the version it carries.
type document struct {
	key     domain.SyncKey
	data    Data
	orders  int
	version time.Time
}

// Sync writes one customer's document (implements jobs.Syncer). Steady
// state is one call: PUT data with the cached customer id. A state that
// cannot be read is an error (nothing is written): with a lost copy of
// others' keys the next PUT would erase them.
func (c *Connector) Sync(ctx context.Context, in *domain.Installation, st *domain.SyncState) (domain.StateDelta, error) {
	var cs customerState
	if err := st.Decode(&cs); err != nil {
		return nil, err
	}
	g, err := c.client(ctx, in)
	if err != nil {
		return nil, err
	}
	// Wait for the account's budget before reading: changes that land while
	// we wait are in the snapshot we write, not in a second write. The first
	// call made through gr spends the reservation.
	r, err := g.Reserve(ctx)
	if err != nil {
		return nil, err
	}
	gr := g.WithReservation(r)
	doc, err := c.loadDocument(ctx, in, st, cs.Version)
	if err != nil {
		return nil, err
	}
	if doc.orders == 0 && cs.CustomerID == 0 {
		return cs.delta(st, nil) // never written, nothing to write
	}
	err = c.syncCustomer(ctx, gr, st.Key, &cs, doc)
	if err == nil {
		c.d.Logger.DebugContext(ctx, "gorgias customer synced", slog.String("installation_id", in.ID), slog.Int64("customer_id", cs.CustomerID), slog.Int("orders", doc.orders))
	}
	return cs.delta(st, err)
}

// syncCustomer writes the document to the customer. When the cached
// customer turns out to be merged (the documented bare 301) or deleted, it
// is forgotten, found again by email (or created) and written once.
func (c *Connector) syncCustomer(ctx context.Context, g *gorgias.Client, email string, cs *customerState, doc document) error {
	err := c.writeCustomer(ctx, g, email, cs, doc)
	if !customerLost(err) {
		return err
	}
	c.d.Logger.InfoContext(ctx, "gorgias customer merged or deleted; finding it again by email", slog.Int64("customer_id", cs.CustomerID), slog.String("error", err.Error()))
	cs.forget()
	if err := c.writeCustomer(ctx, g, email, cs, doc); err != nil {
		if customerLost(err) {
			cs.forget()
			return errCustomerGone(err)
		}
		return err
	}
	return nil
}

// writeCustomer resolves the customer, refreshes the copy of others' keys
// when it is old, keeps the name current and writes the document.
func (c *Connector) writeCustomer(ctx context.Context, g *gorgias.Client, email string, cs *customerState, doc document) error {
	name := doc.data.Customer.FullName
	if err := c.resolveCustomer(ctx, g, email, name, cs); err != nil {
		return err
	}
	if err := c.refreshForeign(ctx, g, cs); err != nil {
		return err
	}
	if err := c.updateName(ctx, g, doc.key, name, cs); err != nil {
		return err
	}
	return c.write(ctx, g, cs, doc)
}

// loadDocument reads every stored order of the sync's email and builds the
// document. Its version is the newest order update, and always later than
// the last version written (prev): the document may change without a newer
// order (an order moved to another email).
func (c *Connector) loadDocument(ctx context.Context, in *domain.Installation, st *domain.SyncState, prev time.Time) (document, error) {
	if cur, err := c.d.Store.GetSync(ctx, st.SyncKey); err == nil && cur.DirtySeq > st.DirtySeq {
		st.DirtySeq = cur.DirtySeq // what we are about to read includes these changes
	}
	snaps, err := c.d.Store.ListCustomerOrders(ctx, in.ID, st.Key)
	if err != nil {
		return document{}, err
	}
	orders := make([]*whiplash.Order, len(snaps))
	var newest time.Time
	for i, s := range snaps {
		if orders[i], err = connector.DecodeWhiplashOrder(s); err != nil {
			return document{}, domain.WrapError(domain.EINVALID, "stored order is unreadable", err)
		}
		if s.SourceUpdatedAt.After(newest) {
			newest = s.SourceUpdatedAt
		}
	}
	if !prev.IsZero() && !newest.After(prev) {
		newest = prev.Add(time.Millisecond)
	}
	return document{key: st.SyncKey, data: BuildData(orders, snaps), orders: len(snaps), version: newest}, nil
}

// resolveCustomer finds the customer by email, or creates it (email, name
// and email channel: the create body has no custom data), unless one is
// cached. A found customer brings its data: the copy of others' keys.
func (c *Connector) resolveCustomer(ctx context.Context, g *gorgias.Client, email, name string, cs *customerState) error {
	if cs.CustomerID != 0 {
		return nil
	}
	cust, err := g.FindCustomerByEmail(ctx, email)
	if errors.Is(err, gorgias.ErrNotFound) {
		cust, err = g.CreateCustomer(ctx, gorgias.CustomerFields{Email: email, Name: name,
			Channels: []gorgias.Channel{{Type: "email", Address: email, Preferred: true}}})
		if errors.Is(err, gorgias.ErrDuplicateEmail) {
			// Created meanwhile by someone else: use that one.
			cust, err = g.FindCustomerByEmail(ctx, email)
		}
	}
	if err != nil {
		return err
	}
	foreign, err := foreignKeys(cust)
	if err != nil {
		return err
	}
	cs.CustomerID, cs.Name, cs.Foreign, cs.ForeignAt = int64(cust.ID), cust.Name, foreign, c.d.Now()
	return nil
}

// refreshForeign reads the customer's data again when the copy of others'
// keys is older than ForeignTTL.
func (c *Connector) refreshForeign(ctx context.Context, g *gorgias.Client, cs *customerState) error {
	if c.d.Now().Sub(cs.ForeignAt) <= c.ForeignTTL {
		return nil
	}
	cust, err := g.GetCustomer(ctx, gorgias.ID(cs.CustomerID))
	if err != nil {
		return err
	}
	foreign, err := foreignKeys(cust)
	if err != nil {
		return err
	}
	cs.Foreign, cs.ForeignAt = foreign, c.d.Now()
	return nil
}

// updateName overwrites the customer's name with the latest order's. The
// intent is stored first (Name cleared, NamePending set), so the state
// never claims a name Gorgias may not have: if the process dies after the
// PUT and before the sync's state is saved, the next sync writes it again.
func (c *Connector) updateName(ctx context.Context, g *gorgias.Client, key domain.SyncKey, name string, cs *customerState) error {
	if name == "" || (name == cs.Name && cs.NamePending == "") {
		return nil
	}
	cs.Name, cs.NamePending = "", name
	if err := c.d.Store.SaveSyncState(ctx, key, domain.StateDelta{"name": json.RawMessage(`""`), "name_pending": mustJSON(name)}); err != nil {
		return fmt.Errorf("error recording the name about to be written: %w", err)
	}
	if _, err := g.UpdateCustomer(ctx, gorgias.ID(cs.CustomerID), gorgias.CustomerFields{Name: name}); err != nil {
		return err
	}
	cs.Name, cs.NamePending = name, ""
	return nil
}

// mustJSON encodes a string (which cannot fail).
func mustJSON(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// write puts the document: others' keys as last read, and ours (none when
// the customer has no order left). A 301 with a Location lands on the
// merge target, which is cached from then on.
func (c *Connector) write(ctx context.Context, g *gorgias.Client, cs *customerState, doc document) error {
	body := make(map[string]any, len(cs.Foreign)+1)
	for k, v := range cs.Foreign {
		body[k] = v
	}
	if doc.orders > 0 {
		body[DataKey] = doc.data
	}
	landed, err := g.SetCustomerDataTo(ctx, gorgias.ID(cs.CustomerID), body, doc.version)
	if landed != 0 && int64(landed) != cs.CustomerID {
		cs.CustomerID = int64(landed) // merged in Gorgias: cache the survivor
	}
	if err != nil {
		return err
	}
	cs.Version = doc.version
	return nil
}

// customerLost reports whether the cached customer is gone: merged into
// another one, or deleted.
func customerLost(err error) bool {
	return errors.Is(err, gorgias.ErrMerged) || errors.Is(err, gorgias.ErrNotFound)
}

// errCustomerGone is transient: the customer was lost again right after it
// was found; the retry finds or creates it.
func errCustomerGone(err error) error {
	return domain.WrapError(domain.EUNAVAILABLE, "gorgias customer was merged or deleted while it was written; it will be found or created again", err)
}

// foreignKeys returns the customer data keys switchyard does not own.
func foreignKeys(cust *gorgias.Customer) (map[string]json.RawMessage, error) {
	return cust.DataExcept(DataKey)
}
