package yotpogorgias

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"switchyard/internal/domain"
	"switchyard/internal/jobs"
	"switchyard/internal/provider/gorgias"
	"switchyard/internal/provider/yotpo"
)

// customerState is the customer sync's bookkeeping (one email).
type customerState struct {
	// CustomerID is the Gorgias customer the message event named.
	CustomerID int64 `json:"gorgias_customer_id"`
	// PendingSince is the first message event not yet synced (zero: none).
	PendingSince time.Time `json:"pending_since"`
	// Version is the version of the last document written.
	Version time.Time `json:"version"`
	// SyncedAt is when the data was last written.
	SyncedAt time.Time `json:"synced_at"`
}

// syncCustomer writes one customer's Yotpo data to customer.data.yotpo,
// once the window opened by its first message event has passed (the job is
// scheduled for then; the check also holds under a simulated clock).
// Keys others own are kept, and the write carries a version.
func (c *Connector) syncCustomer(ctx context.Context, in *domain.Installation, st *domain.SyncState) (domain.StateDelta, error) {
	var cs customerState
	if err := st.Decode(&cs); err != nil {
		return nil, err
	}
	now := c.d.Now()
	if !cs.PendingSince.IsZero() && now.Before(cs.PendingSince.Add(c.config().SyncDelay)) {
		return nil, jobs.ErrContinue // not due yet
	}
	if cur, err := c.d.Store.GetSync(ctx, st.SyncKey); err == nil && cur.DirtySeq > st.DirtySeq {
		st.DirtySeq = cur.DirtySeq // what we read below includes those events
	}
	data, err := c.buildData(ctx, in, st.Key)
	if err != nil {
		return nil, err
	}
	g, err := c.gorgiasClient(ctx, in)
	if err != nil {
		return nil, err
	}
	cust, err := c.findCustomer(ctx, g, st.Key, cs.CustomerID)
	if err != nil {
		return nil, err
	}
	if cust == nil {
		c.d.Logger.InfoContext(ctx, "yotpo sync: gorgias customer not found; nothing written", slog.String("installation_id", in.ID))
		return domain.StateDelta{"pending_since": domain.Deleted}, nil
	}
	foreign, err := cust.DataExcept(DataKey)
	if err != nil {
		return nil, err
	}
	version := now.UTC()
	if !version.After(cs.Version) {
		version = cs.Version.Add(time.Millisecond)
	}
	data.SyncedAt = version.Format(time.RFC3339)
	body := make(map[string]any, len(foreign)+1)
	for k, v := range foreign {
		body[k] = v
	}
	body[DataKey] = data
	landed, err := g.SetCustomerDataTo(ctx, cust.ID, body, version)
	if err != nil {
		return nil, err
	}
	cs.CustomerID, cs.Version, cs.SyncedAt, cs.PendingSince = int64(landed), version, now.UTC(), time.Time{}
	if landed == 0 {
		cs.CustomerID = int64(cust.ID)
	}
	d, err := domain.StateOf(cs)
	if err != nil {
		return nil, err
	}
	d["pending_since"] = domain.Deleted
	return d, nil
}

// findCustomer reads the customer the event named (its data: others'
// keys), or finds it by email when that one is gone or belongs to another
// email. nil when none exists: nothing is created.
func (c *Connector) findCustomer(ctx context.Context, g *gorgias.Client, email string, id int64) (*gorgias.Customer, error) {
	if id > 0 {
		cust, err := g.GetCustomer(ctx, gorgias.ID(id))
		switch {
		case err == nil && strings.EqualFold(strings.TrimSpace(cust.Email), email):
			return cust, nil
		case err == nil, errors.Is(err, gorgias.ErrNotFound), errors.Is(err, gorgias.ErrMerged):
		default:
			return nil, err
		}
	}
	cust, err := g.FindCustomerByEmail(ctx, email)
	if errors.Is(err, gorgias.ErrNotFound) {
		return nil, nil
	}
	return cust, err
}

// buildData reads the customer's Yotpo records: Loyalty and Reviews when
// the merchant has them. A product the merchant does not have is looked
// for again (the Connect grant renewed), so adding it later starts syncing
// without a reinstall.
func (c *Connector) buildData(ctx context.Context, in *domain.Installation, email string) (Data, error) {
	yc, err := c.yotpo(ctx, in)
	if err != nil {
		return Data{}, err
	}
	if yc.reviews == nil || yc.loyalty == nil {
		next, err := c.discoverProducts(ctx, in, yc)
		if err != nil {
			// Best effort: the products the merchant has still sync; the
			// next sync looks again.
			c.d.Logger.WarnContext(ctx, "yotpo: could not renew the connect grant to look for added products", slog.String("installation_id", in.ID), slog.String("error", err.Error()))
		} else {
			yc = next
		}
	}
	var d Data
	ov := &Overview{}
	if yc.loyalty != nil {
		l, err := yc.loyalty.GetCustomer(ctx, email)
		if err != nil {
			return Data{}, err
		}
		if l.Found {
			d.Loyalty = buildLoyalty(l.Customer)
			ov.VIPTierName = l.Customer.VIPTierName
		}
	}
	if yc.reviews != nil {
		s, err := yc.reviews.CustomerSummary(ctx, email)
		if err != nil {
			return Data{}, err
		}
		if s.Found {
			d.Reviews = buildReviews(s.Summary)
			ov.AverageRating = ptrF(s.Summary.TotalAvgRating)
			n := int64(s.Summary.TotalReviews)
			ov.NumberOfReviews = &n
		}
		latest, err := yc.reviews.LatestReviews(ctx, email, LatestReviews)
		if err != nil {
			return Data{}, err
		}
		d.LatestReviews = buildReviewItems(latest)
	}
	if ov.VIPTierName != "" || ov.AverageRating != nil || ov.NumberOfReviews != nil {
		d.Overview = ov
	}
	return d, nil
}

// discoverProducts renews the Connect grant; when it now holds a product
// the connection lacks, the connection is updated (and, for Reviews, the
// escalation webhooks subscribed). It returns the clients to use.
func (c *Connector) discoverProducts(ctx context.Context, in *domain.Installation, yc *yotpoClients) (*yotpoClients, error) {
	conn, err := c.d.Store.GetConnection(ctx, in.MerchantID, in.Connections[domain.VendorYotpo])
	if err != nil {
		return nil, err
	}
	rt := conn.Secrets["refresh_token"]
	if rt == "" || yc.connect == nil {
		return yc, nil
	}
	g, err := yc.connect.Refresh(ctx, rt)
	if err != nil {
		return nil, err
	}
	gained := (yc.reviews == nil && g.ReviewsEnabled) || (yc.loyalty == nil && g.LoyaltyEnabled)
	if !gained {
		return yc, nil
	}
	applyGrant(conn, g)
	if err := c.d.Store.UpdateConnection(ctx, conn); err != nil {
		return nil, err
	}
	c.d.Logger.InfoContext(ctx, "yotpo product added; syncing it from now on", slog.String("installation_id", in.ID),
		slog.Bool("reviews", g.ReviewsEnabled), slog.Bool("loyalty", g.LoyaltyEnabled))
	next, err := c.yotpo(ctx, in)
	if err != nil {
		return nil, err
	}
	if yc.reviews == nil && next.reviews != nil {
		// Reviews added: subscribe to its escalations (a repair, POST
		// …/install, does it too if this fails).
		err := func() error {
			hub, err := c.publicURL(in)
			if err != nil {
				return err
			}
			if err := c.ensureWebhooks(ctx, in, hub); err != nil {
				return err
			}
			return c.d.Store.UpdateInstallation(ctx, in)
		}()
		if err != nil {
			c.d.Logger.WarnContext(ctx, "yotpo: could not subscribe to escalations of the added Reviews product; repair the installation", slog.String("installation_id", in.ID), slog.String("error", err.Error()))
		}
	}
	return next, nil
}

// escalationState is the ticket of one escalated item.
type escalationState struct {
	TicketID int64 `json:"ticket_id"`
}

// syncEscalation turns an escalated review or question into one Gorgias
// ticket: the item is re-read from Yotpo first (the delivery is not
// trusted), and a ticket already made for it is never made again.
func (c *Connector) syncEscalation(ctx context.Context, in *domain.Installation, st *domain.SyncState) (domain.StateDelta, error) {
	var es escalationState
	if err := st.Decode(&es); err != nil {
		return nil, err
	}
	if es.TicketID != 0 {
		return nil, nil // one ticket per item
	}
	kind, idStr, _ := strings.Cut(st.Key, ":")
	id, err := strconv.ParseInt(idStr, 10, 64)
	if err != nil || (kind != yotpo.KindReview && kind != yotpo.KindQuestion) {
		return nil, domain.Errorf(domain.EINVALID, "bad escalation key %q", st.Key)
	}
	yc, err := c.yotpo(ctx, in)
	if err != nil {
		return nil, err
	}
	if yc.reviews == nil {
		return nil, domain.Errorf(domain.EINVALID, "the merchant has no Yotpo Reviews: escalations cannot be read")
	}
	var e yotpo.Escalation
	var product string
	if kind == yotpo.KindReview {
		rv, err := yc.reviews.GetReview(ctx, id)
		if err != nil {
			return nil, err
		}
		if !rv.Escalated || rv.Deleted {
			return nil, nil // not (or no longer) escalated: nothing to do
		}
		e = yotpo.ReviewEscalation(rv)
	} else {
		q, err := yc.reviews.GetQuestion(ctx, id)
		if err != nil {
			return nil, err
		}
		if !q.Escalated {
			return nil, nil
		}
		e = yotpo.QuestionEscalation(q)
	}
	if e.SKU != "" && e.SKU != yotpo.SiteReviewSKU {
		if ps, err := yc.reviews.Products(ctx, []string{e.SKU}); err == nil {
			for _, p := range ps {
				if p.ExternalID == e.SKU {
					product = p.Name + " — " + p.URL
				}
			}
		}
	}
	if product == "" {
		product = e.SKU
	}
	g, err := c.gorgiasClient(ctx, in)
	if err != nil {
		return nil, err
	}
	t, err := g.CreateTicket(ctx, escalationTicketBody(e, product))
	if err != nil {
		return nil, err
	}
	es.TicketID = int64(t.ID)
	return domain.StateOf(es)
}

// escalationTicketBody is the ticket of an escalated item: channel and via
// Yotpo, the review's content, rating, product and a link.
func escalationTicketBody(e yotpo.Escalation, product string) gorgias.TicketCreate {
	var subject, body string
	link := fmt.Sprintf("https://reviews.yotpo.com/#/moderation/%ss/%d", e.Kind, e.ID)
	if e.Kind == yotpo.KindReview {
		subject = fmt.Sprintf("Yotpo review (%d★): %s", e.Score, e.Title)
		body = fmt.Sprintf("%s\n\n%s\n\nRating: %d/5\nProduct: %s\nReview: %s", e.Title, e.Content, e.Score, product, link)
	} else {
		subject = "Yotpo question: " + truncate(e.Content, 80)
		body = fmt.Sprintf("%s\n\nProduct: %s\nQuestion: %s", e.Content, product, link)
	}
	sender := &gorgias.Person{Email: e.Email, Name: e.Name}
	return gorgias.TicketCreate{Channel: "yotpo-review", Via: "yotpo", Subject: truncate(subject, 998), Status: "open",
		Customer: &gorgias.Person{Email: e.Email, Name: e.Name}, Tags: []gorgias.Tag{{Name: "yotpo"}, {Name: "yotpo-" + e.Kind}},
		ExternalID: escalationExternalID(e.Kind, e.ID),
		Messages: []gorgias.Message{{Channel: "yotpo-review", Via: "yotpo", FromAgent: false, Sender: sender, Subject: truncate(subject, 998),
			BodyText: body}}}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// replyState is the reply relay's bookkeeping for one escalation ticket.
type replyState struct {
	Kind    string  `json:"kind"`
	ItemID  int64   `json:"item_id"`
	Relayed []int64 `json:"relayed"`
}

// syncReply posts the ticket's public agent replies not yet relayed to
// Yotpo as comments (reviews) or answers (questions). Internal notes and
// customer messages are never posted. Each relayed message is recorded as
// it is posted.
func (c *Connector) syncReply(ctx context.Context, in *domain.Installation, st *domain.SyncState) (domain.StateDelta, error) {
	var rs replyState
	if err := st.Decode(&rs); err != nil {
		return nil, err
	}
	tid, err := strconv.ParseInt(st.Key, 10, 64)
	if err != nil || rs.ItemID == 0 {
		return nil, domain.Errorf(domain.EINVALID, "bad reply sync %q", st.Key)
	}
	if cur, err := c.d.Store.GetSync(ctx, st.SyncKey); err == nil && cur.DirtySeq > st.DirtySeq {
		st.DirtySeq = cur.DirtySeq
	}
	g, err := c.gorgiasClient(ctx, in)
	if err != nil {
		return nil, err
	}
	msgs, err := g.ListTicketMessages(ctx, gorgias.ID(tid))
	if err != nil {
		return nil, err
	}
	yc, err := c.yotpo(ctx, in)
	if err != nil {
		return nil, err
	}
	if yc.reviews == nil {
		return nil, domain.Errorf(domain.EINVALID, "the merchant has no Yotpo Reviews: replies cannot be posted")
	}
	for _, m := range msgs {
		if !publicAgentReply(m) || slices.Contains(rs.Relayed, int64(m.ID)) {
			continue
		}
		text := strings.TrimSpace(m.BodyText)
		if text == "" {
			continue
		}
		if _, err := yc.reviews.PostComment(ctx, rs.Kind, rs.ItemID, text, true); err != nil {
			return nil, err
		}
		rs.Relayed = append(rs.Relayed, int64(m.ID))
		b, _ := json.Marshal(rs.Relayed)
		if err := c.d.Store.SaveSyncState(ctx, st.SyncKey, domain.StateDelta{"relayed": b}); err != nil {
			return nil, err
		}
	}
	return domain.StateOf(rs)
}

// publicAgentReply reports whether m is an agent's reply the customer sees.
func publicAgentReply(m gorgias.Message) bool {
	return m.FromAgent && !m.IsInternalNote() && (m.Public == nil || *m.Public)
}
