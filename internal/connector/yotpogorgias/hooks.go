package yotpogorgias

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"switchyard/internal/domain"
	"switchyard/internal/ingest"
	"switchyard/internal/jobs"
	"switchyard/internal/provider/yotpo"
)

// maxBody bounds a hook body (as ingest does).
const maxBody = 1 << 20

// MessagePayload is what the Gorgias HTTP integration posts on ticket and
// message creation (the integration's form, rendered by Gorgias).
type MessagePayload struct {
	TicketID         string `json:"ticket_id"`
	TicketExternalID string `json:"ticket_external_id"`
	CustomerID       string `json:"customer_id"`
	CustomerEmail    string `json:"customer_email"`
	Event            string `json:"event"`
	EventAt          string `json:"event_at"`
}

// hookInstallation loads the installation a hook names and checks that it
// is one of ours and takes events. Unknown → 404.
func (c *Connector) hookInstallation(ctx context.Context, id string) (*domain.Installation, error) {
	in, err := c.d.Store.LookupInstallation(ctx, id)
	if err != nil {
		if domain.IsNotFound(err) {
			return nil, domain.Errorf(domain.ENOTFOUND, "unknown installation")
		}
		return nil, err
	}
	if in.Connector != Name || in.State == domain.InstallationUninstalled {
		return nil, domain.Errorf(domain.ENOTFOUND, "unknown installation")
	}
	return in, nil
}

// tokenOK compares a presented token with the connection's secret in
// constant time (an empty secret never matches).
func (c *Connector) tokenOK(ctx context.Context, in *domain.Installation, vendor, secret, got string) (bool, error) {
	conn, err := c.d.Store.GetConnection(ctx, in.MerchantID, in.Connections[vendor])
	if err != nil {
		return false, err
	}
	want := conn.Secrets[secret]
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1, nil
}

// hookReply answers a hook like ingest does.
func hookReply(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if msg != "" {
		_ = json.NewEncoder(w).Encode(map[string]string{"status": msg})
	}
}

func (c *Connector) hookError(w http.ResponseWriter, r *http.Request, err error) {
	status := domain.HTTPStatus(err)
	if status >= 500 {
		c.d.Logger.ErrorContext(r.Context(), "yotpo-gorgias hook failed", slog.String("path", r.URL.Path), slog.String("error", err.Error()))
	}
	hookReply(w, status, domain.ErrorMessage(err))
}

// readBody reads a bounded body (413 beyond maxBody).
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, domain.Errorf(domain.ETOOLARGE, "body larger than %d bytes", maxBody)
		}
		return nil, domain.Errorf(domain.EINVALID, "error reading body")
	}
	return b, nil
}

// store stores the verified event and its job in one transaction, then
// answers (202, or 200 for a duplicate).
func (c *Connector) store(w http.ResponseWriter, r *http.Request, ev *domain.InboundEvent) {
	res, errs, err := c.d.Store.IngestEvents(r.Context(), []*domain.InboundEvent{ev}, jobs.EventJob)
	if err == nil && len(errs) > 0 && errs[0] != nil {
		err = errs[0]
	}
	if err != nil {
		if domain.ErrorCode(err) == domain.EINTERNAL {
			err = domain.WrapError(domain.EUNAVAILABLE, "could not store the event, retry later", err)
		}
		c.hookError(w, r, err)
		return
	}
	if len(res) > 0 && res[0].Duplicate {
		hookReply(w, http.StatusOK, "")
		return
	}
	hookReply(w, http.StatusAccepted, "")
}

// authenticHook reads a hook's body and its installation and checks the
// installation's token (secret name of the vendor's connection) and that
// it takes events; on any failure it has answered and reports false.
func (c *Connector) authenticHook(w http.ResponseWriter, r *http.Request, vendor, secretName, got string) (*domain.Installation, []byte, bool) {
	body, err := readBody(w, r)
	if err != nil {
		c.hookError(w, r, err)
		return nil, nil, false
	}
	in, err := c.hookInstallation(r.Context(), r.PathValue("installation"))
	if err != nil {
		c.hookError(w, r, err)
		return nil, nil, false
	}
	ok, err := c.tokenOK(r.Context(), in, vendor, secretName, got)
	if err != nil {
		c.hookError(w, r, err)
		return nil, nil, false
	}
	if !ok {
		c.hookError(w, r, domain.Errorf(domain.EUNAUTHORIZED, "wrong token"))
		return nil, nil, false
	}
	if !in.State.Processes() {
		c.hookError(w, r, domain.Errorf(domain.ECONFLICT, "installation %s is %s; nothing stored", in.ID, in.State))
		return nil, nil, false
	}
	return in, body, true
}

// messageHook takes the Gorgias HTTP integration's call (ticket or message
// created), authenticated by the installation's token header. The event
// is stored; the customer's sync follows (HandleEvent).
func (c *Connector) messageHook(w http.ResponseWriter, r *http.Request) {
	in, body, ok := c.authenticHook(w, r, domain.VendorGorgias, "hook_token", r.Header.Get(HookTokenHeader))
	if !ok {
		return
	}
	var p MessagePayload
	if err := json.Unmarshal(body, &p); err != nil {
		c.hookError(w, r, domain.Errorf(domain.EINVALID, "malformed body: %v", err))
		return
	}
	// Every call is its own event: the payload names no message id, and a
	// repeated call only joins the customer's pending sync.
	c.store(w, r, &domain.InboundEvent{MerchantID: in.MerchantID, InstallationID: in.ID, Vendor: domain.VendorGorgias, EventType: EventMessage,
		DedupKey: domain.NewID("msg"), CustomerEmail: domain.NormalizeEmail(p.CustomerEmail), Payload: body})
}

// escalationHook takes a Yotpo escalation at the installation's token URL
// (Yotpo documents no signature). A wrong token is 401 and nothing is
// stored. One escalated item is one event, however often it is delivered.
func (c *Connector) escalationHook(w http.ResponseWriter, r *http.Request) {
	in, body, ok := c.authenticHook(w, r, domain.VendorYotpo, "escalation_token", r.PathValue("token"))
	if !ok {
		return
	}
	parsed, err := yotpoSource{}.Parse(body)
	if err != nil {
		c.hookError(w, r, domain.Errorf(domain.EINVALID, "malformed webhook: %v", err))
		return
	}
	c.store(w, r, &domain.InboundEvent{MerchantID: in.MerchantID, InstallationID: in.ID, Vendor: domain.VendorYotpo, EventType: parsed.EventType,
		DedupKey: parsed.DedupKey, CustomerEmail: domain.NormalizeEmail(parsed.CustomerEmail), Payload: body})
}

// yotpoSource is the optional signed route (POST /hooks/yotpo/{installation})
// through ingest: X-Yotpo-Signature against the connection's
// webhook_secret.
type yotpoSource struct{ yotpo.Verifier }

func (yotpoSource) SecretNames() []string { return []string{"webhook_secret"} }

// Parse reads an escalation delivery; the dedup key is the escalated item.
func (yotpoSource) Parse(body []byte) (ingest.Parsed, error) {
	p, e, err := yotpo.DecodeWebhook(body)
	if err != nil {
		return ingest.Parsed{}, err
	}
	if p.Event != yotpo.EventReviewEscalated && p.Event != yotpo.EventQuestionEscalated {
		return ingest.Parsed{}, fmt.Errorf("event %q is not an escalation", p.Event)
	}
	return ingest.Parsed{EventType: EventEscalation, DedupKey: "escalation:" + e.Kind + ":" + strconv.FormatInt(e.ID, 10), CustomerEmail: e.Email}, nil
}

// HandleEvent turns a stored event into the syncs it starts: a message
// event marks its customer's Yotpo sync (and, on an escalation ticket, the
// reply relay); an escalation marks the item's ticket sync.
func (c *Connector) HandleEvent(ctx context.Context, in *domain.Installation, ev *domain.InboundEvent) (jobs.Outcome, error) {
	now := c.d.Now()
	switch ev.EventType {
	case EventMessage:
		var p MessagePayload
		if err := json.Unmarshal(ev.Payload, &p); err != nil {
			return jobs.Handled, domain.Errorf(domain.EINVALID, "stored message event is unreadable: %v", err)
		}
		if email := domain.NormalizeEmail(p.CustomerEmail); email != "" {
			if err := c.markCustomer(ctx, in, email, p.CustomerID); err != nil {
				return jobs.Handled, err
			}
		}
		if kind, id, ok := escalationTicket(p.TicketExternalID); ok {
			tid, err := strconv.ParseInt(strings.TrimSpace(p.TicketID), 10, 64)
			if err != nil || tid <= 0 {
				return jobs.Handled, domain.Errorf(domain.EINVALID, "message event has no ticket id")
			}
			k := domain.SyncKey{InstallationID: in.ID, Kind: KindReply, Key: strconv.FormatInt(tid, 10)}
			state, err := domain.StateOf(map[string]any{"kind": kind, "item_id": id})
			if err != nil {
				return jobs.Handled, err
			}
			if err := c.d.Store.QueueSync(ctx, k, state, jobs.NewSync(k, now, c.d.Coalesce)); err != nil {
				return jobs.Handled, err
			}
		}
		return jobs.Handled, nil
	case EventEscalation:
		_, e, err := yotpo.DecodeWebhook(ev.Payload)
		if err != nil {
			return jobs.Handled, domain.Errorf(domain.EINVALID, "stored escalation is unreadable: %v", err)
		}
		k := domain.SyncKey{InstallationID: in.ID, Kind: KindEscalation, Key: e.Kind + ":" + strconv.FormatInt(e.ID, 10)}
		return jobs.Handled, c.d.Store.QueueSync(ctx, k, nil, jobs.NewSync(k, now, 0))
	}
	return jobs.Handled, domain.Errorf(domain.EINVALID, "unknown event type %q", ev.EventType)
}

// markCustomer marks the customer's sync dirty: the first message event
// since the last sync starts the window (pending_since); later ones join
// it, so ten messages in a minute are one sync.
func (c *Connector) markCustomer(ctx context.Context, in *domain.Installation, email, gorgiasID string) error {
	k := domain.SyncKey{InstallationID: in.ID, Kind: KindCustomer, Key: email}
	st, err := c.d.Store.GetSync(ctx, k)
	if err != nil {
		return err
	}
	var cs customerState
	if err := st.Decode(&cs); err != nil {
		return err
	}
	delta := domain.StateDelta{}
	if cs.PendingSince.IsZero() {
		b, _ := json.Marshal(c.d.Now().UTC())
		delta["pending_since"] = b
	}
	if id, err := strconv.ParseInt(strings.TrimSpace(gorgiasID), 10, 64); err == nil && id > 0 && id != cs.CustomerID {
		delta["gorgias_customer_id"] = json.RawMessage(strconv.FormatInt(id, 10))
	}
	return c.d.Store.QueueSync(ctx, k, delta, jobs.NewSync(k, c.d.Now(), c.config().SyncDelay))
}

// Ticket external ids of escalations: "yotpo-review-<id>", "yotpo-question-<id>".
func escalationExternalID(kind string, id int64) string {
	return "yotpo-" + kind + "-" + strconv.FormatInt(id, 10)
}

func escalationTicket(ext string) (kind string, id int64, ok bool) {
	rest, found := strings.CutPrefix(ext, "yotpo-")
	if !found {
		return "", 0, false
	}
	kind, num, found := strings.Cut(rest, "-")
	if !found || (kind != yotpo.KindReview && kind != yotpo.KindQuestion) {
		return "", 0, false
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || escalationExternalID(kind, n) != ext {
		return "", 0, false // only the exact form the hub writes
	}
	return kind, n, true
}
