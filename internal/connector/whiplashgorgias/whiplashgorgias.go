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
	now := c.d.Now()
	_, outcome, err := connector.ApplyWhiplashEvent(ctx, c.d.Store, in, ev, func(_ *whiplash.Order, snap, prev *domain.OrderSnapshot) ([]domain.SyncKey, []domain.JobArgs) {
		keys := []domain.SyncKey{{InstallationID: in.ID, Kind: SyncKind, Key: snap.CustomerEmail}}
		if prev != nil && prev.CustomerEmail != "" && prev.CustomerEmail != snap.CustomerEmail {
			keys = append(keys, domain.SyncKey{InstallationID: in.ID, Kind: SyncKind, Key: prev.CustomerEmail})
		}
		js := make([]domain.JobArgs, len(keys))
		for i, k := range keys {
			js[i] = jobs.NewSync(k, now, c.d.Coalesce)
		}
		return keys, js
	})
	return outcome, err
}

// Sync state names.
const (
	stateCustomerID = "customer_id"
	stateName       = "name"
	stateForeign    = "foreign"
	stateForeignAt  = "foreign_at"
	stateVersion    = "version"
)

// Sync writes one customer's document (implements jobs.Syncer). Steady
// state is one call: PUT data with the cached customer id.
func (c *Connector) Sync(ctx context.Context, in *domain.Installation, st *domain.SyncState) (domain.StateDelta, error) {
	out, err := c.sync(ctx, in, st)
	return domain.Strings(out), err
}

func (c *Connector) sync(ctx context.Context, in *domain.Installation, st *domain.SyncState) (map[string]string, error) {
	email := st.Key
	g, err := c.client(ctx, in)
	if err != nil {
		return nil, err
	}
	// Wait for the account's budget before reading: changes that land while
	// we wait are in the snapshot we write, not in a second write.
	if ctx, err = g.Reserve(ctx); err != nil {
		return nil, err
	}
	if cur, err := c.d.Store.GetSync(ctx, st.SyncKey); err == nil && cur.DirtySeq > st.DirtySeq {
		st.DirtySeq = cur.DirtySeq // what we are about to read includes these changes
	}
	snaps, err := c.d.Store.ListCustomerOrders(ctx, in.ID, email)
	if err != nil {
		return nil, err
	}
	orders := make([]*whiplash.Order, len(snaps))
	var newest time.Time
	for i, s := range snaps {
		if orders[i], err = connector.DecodeWhiplashOrder(s); err != nil {
			return nil, domain.WrapError(domain.EINVALID, "stored order is unreadable", err)
		}
		if s.SourceUpdatedAt.After(newest) {
			newest = s.SourceUpdatedAt
		}
	}
	data := BuildData(orders, snaps)
	out := map[string]string{}
	id, _ := strconv.ParseInt(st.Str(stateCustomerID), 10, 64)
	foreign := map[string]json.RawMessage{}
	_ = json.Unmarshal([]byte(st.Str(stateForeign)), &foreign)
	foreignAt, _ := time.Parse(time.RFC3339Nano, st.Str(stateForeignAt))

	version := newest
	if prev, err := time.Parse(time.RFC3339Nano, st.Str(stateVersion)); err == nil && !version.After(prev) {
		// The document changed without a newer order (an order moved to
		// another email): still newer than what we wrote before.
		version = prev.Add(time.Millisecond)
	}

	if id == 0 {
		if len(snaps) == 0 {
			return out, nil // never written, nothing to write
		}
		cust, err := g.FindCustomerByEmail(ctx, email)
		if errors.Is(err, gorgias.ErrNotFound) {
			cust, err = g.CreateCustomer(ctx, gorgias.CustomerFields{Email: email, Name: data.Customer.FullName,
				Channels: []gorgias.Channel{{Type: "email", Address: email, Preferred: true}},
				Data:     map[string]any{DataKey: data}})
			if err == nil {
				out[stateCustomerID] = strconv.FormatInt(int64(cust.ID), 10)
				out[stateName] = data.Customer.FullName
				out[stateForeign] = "{}"
				out[stateForeignAt] = c.d.Now().UTC().Format(time.RFC3339Nano)
				out[stateVersion] = version.UTC().Format(time.RFC3339Nano)
				return out, nil // created with the document
			}
			if errors.Is(err, gorgias.ErrDuplicateEmail) {
				// Created meanwhile by someone else: use that one.
				cust, err = g.FindCustomerByEmail(ctx, email)
			}
		}
		if err != nil {
			return out, err
		}
		id = int64(cust.ID)
		out[stateCustomerID] = strconv.FormatInt(id, 10)
		foreign = foreignKeys(cust.Data)
		foreignAt = c.d.Now()
		out[stateForeign] = marshalForeign(foreign)
		out[stateForeignAt] = foreignAt.UTC().Format(time.RFC3339Nano)
		st.State[stateName] = domain.Strings(map[string]string{stateName: cust.Name})[stateName]
	} else if c.d.Now().Sub(foreignAt) > c.ForeignTTL {
		cust, err := g.GetCustomer(ctx, gorgias.ID(id))
		if errors.Is(err, gorgias.ErrNotFound) {
			out[stateCustomerID] = ""
			return out, errCustomerGone(id)
		}
		if err != nil {
			return out, err
		}
		foreign = foreignKeys(cust.Data)
		out[stateForeign] = marshalForeign(foreign)
		out[stateForeignAt] = c.d.Now().UTC().Format(time.RFC3339Nano)
	}

	if name := data.Customer.FullName; name != "" && name != st.Str(stateName) {
		if _, err := g.UpdateCustomer(ctx, gorgias.ID(id), gorgias.CustomerFields{Name: name}); err != nil {
			return out, err
		}
		out[stateName] = name
	}
	doc := map[string]any{}
	for k, v := range foreign {
		doc[k] = v
	}
	if len(snaps) > 0 {
		doc[DataKey] = data
	}
	landed, err := g.SetCustomerDataTo(ctx, gorgias.ID(id), doc, version)
	if landed != 0 && int64(landed) != id {
		out[stateCustomerID] = strconv.FormatInt(int64(landed), 10) // merged in Gorgias: cache the survivor
	}
	if err != nil {
		if errors.Is(err, gorgias.ErrNotFound) {
			out[stateCustomerID] = ""
			return out, errCustomerGone(id)
		}
		return out, err
	}
	out[stateVersion] = version.UTC().Format(time.RFC3339Nano)
	c.d.Logger.DebugContext(ctx, "gorgias customer synced", slog.String("installation_id", in.ID), slog.Int64("customer_id", id), slog.Int("orders", len(snaps)))
	return out, nil
}

// errCustomerGone is transient: the cached customer was deleted in Gorgias,
// and the retry finds or creates the customer again.
func errCustomerGone(id int64) error {
	return domain.Errorf(domain.EUNAVAILABLE, "gorgias customer %d no longer exists; it will be found or created again", id)
}

// foreignKeys returns the customer data keys switchyard does not own.
func foreignKeys(raw json.RawMessage) map[string]json.RawMessage {
	m := map[string]json.RawMessage{}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &m)
	}
	delete(m, DataKey)
	return m
}

func marshalForeign(m map[string]json.RawMessage) string {
	b, _ := json.Marshal(m)
	return string(b)
}
