package whiplash

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"switchyard/internal/emulator/emukit"
)

// NotificationEvent is one entry of GET /api/v2/notification_events.
type NotificationEvent struct {
	ID                   int64  `json:"id"`
	Name                 string `json:"name"`
	HumanizedName        string `json:"humanized_name"`
	ResourceType         string `json:"resource_type"`
	ResourceMessage      string `json:"resource_message"`
	RequiresSubscription bool   `json:"requires_subscription"`
	Description          string `json:"description"`
}

// Catalogue is the emulator's notification event list. Only order.* events
// are ever sent; the others exist so clients map by name, not position.
var catalogue = func() []NotificationEvent {
	type ev struct{ name, human, desc string }
	list := []ev{
		{"order.created", "Created", "An order was created"},
		{"order.status_changed", "Status Changed", "An order's status changed"},
		{"order.shipped", "Shipped", "An order shipped"},
		{"order.delivered", "Delivered", "An order was delivered"},
		{"order.cancelled", "Cancelled", "An order was cancelled"},
		{"order.packed", "Packed", "An order was packed"},
		{"order.paused", "Paused", "An order was paused"},
		{"order.insufficient_inventory", "Insufficient Inventory", "An order cannot be fulfilled from stock"},
		{"order.attention", "Attention", "An order needs attention"},
		{"order.batched", "Batched", "An order was batched"},
		{"order.dropship.packed", "Dropship Packed", "A dropship order was packed"},
		{"item.created", "Item Created", "An item was created"},
		{"item.low_inventory", "Low Inventory", "An item is low on inventory"},
		{"item.out_of_stock", "Out Of Stock", "An item is out of stock"},
		{"consumer_return.created", "Return Created", "A consumer return was created"},
		{"consumer_return.completed", "Return Completed", "A consumer return was completed"},
	}
	out := make([]NotificationEvent, len(list))
	for i, e := range list {
		res, msg, _ := strings.Cut(e.name, ".")
		out[i] = NotificationEvent{
			ID: int64(i + 1), Name: e.name, HumanizedName: e.human, ResourceType: snakeToCamel(res),
			ResourceMessage: msg, RequiresSubscription: true, Description: e.desc,
		}
	}
	return out
}()

func snakeToCamel(s string) string {
	var b strings.Builder
	for p := range strings.SplitSeq(s, "_") {
		if p != "" {
			b.WriteString(strings.ToUpper(p[:1]) + p[1:])
		}
	}
	return b.String()
}

func eventByID(id int64) (NotificationEvent, bool) {
	i := slices.IndexFunc(catalogue, func(e NotificationEvent) bool { return e.ID == id })
	if i < 0 {
		return NotificationEvent{}, false
	}
	return catalogue[i], true
}

// subscription is a notification subscription. Published values are
// replaced, not mutated, except under e.mu.
type subscription struct {
	ID                  int64  `json:"id"`
	NotificationEventID int64  `json:"notification_event_id"`
	EventName           string `json:"notification_event_name"`
	NotificationType    string `json:"notification_type"`
	Endpoint            string `json:"endpoint"`
	CustomerID          int64  `json:"customer_id"`
	UserID              int64  `json:"user_id"`
	Active              bool   `json:"active"`
	Version             int    `json:"version"`
	CreatedAt           Time   `json:"created_at"`
	UpdatedAt           Time   `json:"updated_at"`
	// ConsecutiveFailures counts failed attempts since the last success
	// (emulator detail; at DeactivateAfter the subscription is deactivated).
	ConsecutiveFailures int    `json:"consecutive_failures"`
	secret              string // the creating app's client secret signs its webhooks
}

// subscriptionInput is the create/update body. Pointers tell absent from zero.
type subscriptionInput struct {
	NotificationEventID *flexID `json:"notification_event_id"`
	NotificationType    *string `json:"notification_type"`
	Endpoint            *string `json:"endpoint"`
	CustomerID          *flexID `json:"customer_id"`
	UserID              *flexID `json:"user_id"`
	Active              *bool   `json:"active"`
	Version             *flexID `json:"version"`
}

// flexID reads a number or numeric string.
type flexID int64

func (f *flexID) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	i, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("%s is not an integer", b)
	}
	*f = flexID(i)
	return nil
}

func readSubscriptionInput(r *http.Request) (subscriptionInput, error) {
	var raw map[string]json.RawMessage
	if err := decodeBody(r, &raw); err != nil {
		return subscriptionInput{}, err
	}
	if inner, ok := raw["notification_subscription"]; ok { // tolerate the Rails-style wrapper
		raw = nil
		if err := json.Unmarshal(inner, &raw); err != nil {
			return subscriptionInput{}, fmt.Errorf("notification_subscription must be an object: %w", err)
		}
	}
	b, _ := json.Marshal(raw)
	var in subscriptionInput
	if err := json.Unmarshal(b, &in); err != nil {
		return subscriptionInput{}, err
	}
	return in, nil
}

func validEndpoint(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// handleListEvents serves the catalogue in pages (page, per_page), as the
// V2 spec documents for the list.
func (e *Emulator) handleListEvents(w http.ResponseWriter, r *http.Request, p *principal) {
	page, perPage, err := e.pageParams(r.URL.Query())
	if err != nil {
		e.writeErr(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	emukit.WriteJSON(w, http.StatusOK, pageOf(catalogue, page, perPage))
}

// handleListSubs serves the customer's subscriptions by id, in pages.
func (e *Emulator) handleListSubs(w http.ResponseWriter, r *http.Request, p *principal) {
	page, perPage, err := e.pageParams(r.URL.Query())
	if err != nil {
		e.writeErr(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	e.mu.Lock()
	out := []subscription{}
	for _, s := range e.subs {
		if s.CustomerID == p.customer.ID {
			out = append(out, *s)
		}
	}
	e.mu.Unlock()
	slices.SortFunc(out, func(a, b subscription) int { return int(a.ID - b.ID) })
	emukit.WriteJSON(w, http.StatusOK, pageOf(out, page, perPage))
}

func (e *Emulator) subFor(w http.ResponseWriter, r *http.Request, p *principal) *subscription {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s := e.subs[id]
	if err != nil || s == nil || s.CustomerID != p.customer.ID {
		e.writeErr(w, http.StatusNotFound, fmt.Sprintf("Couldn't find NotificationSubscription with 'id'=%s", r.PathValue("id")))
		return nil
	}
	return s
}

func (e *Emulator) handleGetSub(w http.ResponseWriter, r *http.Request, p *principal) {
	e.mu.Lock()
	s := e.subFor(w, r, p)
	var c subscription
	if s != nil {
		c = *s
	}
	e.mu.Unlock()
	if s != nil {
		emukit.WriteJSON(w, http.StatusOK, c)
	}
}

func (e *Emulator) handleCreateSub(w http.ResponseWriter, r *http.Request, p *principal) {
	in, err := readSubscriptionInput(r)
	if err != nil {
		e.writeErr(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	s := &subscription{NotificationType: "webhook", Active: true, Version: 2, CustomerID: p.customer.ID}
	if msg := applySubInput(s, in, p, true); msg != "" {
		status := http.StatusUnprocessableEntity
		if strings.HasPrefix(msg, "forbidden: ") {
			status, msg = http.StatusForbidden, strings.TrimPrefix(msg, "forbidden: ")
		}
		e.writeErr(w, status, msg)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, o := range e.subs {
		if o.CustomerID == s.CustomerID && o.NotificationEventID == s.NotificationEventID && o.Endpoint == s.Endpoint && o.NotificationType == s.NotificationType {
			e.writeErr(w, http.StatusConflict, fmt.Sprintf("A subscription to %s for %s already exists (id %d)", s.EventName, s.Endpoint, o.ID))
			return
		}
	}
	e.nextSub++
	s.ID = e.nextSub
	now := stamp(e.cfg.Now())
	s.CreatedAt, s.UpdatedAt = now, now
	if cl := e.clients[p.clientID]; cl != nil {
		s.secret = cl.Secret
	}
	e.subs[s.ID] = s
	emukit.WriteJSON(w, http.StatusCreated, *s)
}

// applySubInput validates and applies in; it returns an error message
// ("forbidden: …" for a 403) or "".
func applySubInput(s *subscription, in subscriptionInput, p *principal, create bool) string {
	if in.NotificationEventID != nil {
		ev, ok := eventByID(int64(*in.NotificationEventID))
		if !ok {
			return fmt.Sprintf("notification_event_id %d does not exist", *in.NotificationEventID)
		}
		s.NotificationEventID, s.EventName = ev.ID, ev.Name
	} else if create {
		return "notification_event_id is missing"
	}
	if in.Endpoint != nil {
		if !validEndpoint(*in.Endpoint) {
			return "endpoint must be an absolute http(s) URL"
		}
		s.Endpoint = *in.Endpoint
	} else if create {
		return "endpoint is missing"
	}
	if in.NotificationType != nil && *in.NotificationType != "" {
		t := strings.ToLower(*in.NotificationType)
		if t != "webhook" && t != "slack" && t != "email" {
			return fmt.Sprintf("notification_type %q is not one of webhook, slack, email", *in.NotificationType)
		}
		s.NotificationType = t
	}
	if in.CustomerID != nil && int64(*in.CustomerID) != p.customer.ID {
		return fmt.Sprintf("forbidden: You are not authorized to access customer %d", *in.CustomerID)
	}
	if in.UserID != nil {
		s.UserID = int64(*in.UserID)
	}
	if in.Active != nil {
		if *in.Active && !s.Active {
			s.ConsecutiveFailures = 0
		}
		s.Active = *in.Active
	}
	if in.Version != nil {
		if *in.Version != 1 && *in.Version != 2 {
			return "version must be 1 or 2"
		}
		s.Version = int(*in.Version)
	}
	return ""
}

func (e *Emulator) handleUpdateSub(w http.ResponseWriter, r *http.Request, p *principal) {
	in, err := readSubscriptionInput(r)
	if err != nil {
		e.writeErr(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.subFor(w, r, p)
	if s == nil {
		return
	}
	c := *s
	if msg := applySubInput(&c, in, p, false); msg != "" {
		status := http.StatusUnprocessableEntity
		if strings.HasPrefix(msg, "forbidden: ") {
			status, msg = http.StatusForbidden, strings.TrimPrefix(msg, "forbidden: ")
		}
		e.writeErr(w, status, msg)
		return
	}
	c.UpdatedAt = stamp(e.cfg.Now())
	*s = c
	emukit.WriteJSON(w, http.StatusOK, c)
}

func (e *Emulator) handleDeleteSub(w http.ResponseWriter, r *http.Request, p *principal) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.subFor(w, r, p)
	if s == nil {
		return
	}
	delete(e.subs, s.ID)
	w.WriteHeader(http.StatusNoContent)
}

// handleTestSub sends the subscription's event for the customer's most
// recently updated order (or a sample order) to the subscription.
func (e *Emulator) handleTestSub(w http.ResponseWriter, r *http.Request, p *principal) {
	e.mu.Lock()
	s := e.subFor(w, r, p)
	if s == nil {
		e.mu.Unlock()
		return
	}
	var o *Order
	for i := len(e.orders.byUpdated) - 1; i >= 0; i-- {
		if int64(e.orders.byUpdated[i].CustomerID) == p.customer.ID {
			o = e.orders.byUpdated[i]
			break
		}
	}
	if o == nil {
		o = &Order{ID: 1, CustomerID: Int(p.customer.ID), Status: StatusProcessing, StatusName: StatusName(StatusProcessing), Email: "test@example.com", Tracking: []string{}, TrackingLinks: []string{}}
	}
	body, err := webhookBody(s.EventName, o)
	if err != nil {
		e.mu.Unlock()
		e.writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	d := &delivery{url: s.Endpoint, secret: s.secret, subID: s.ID, body: body, event: s.EventName, orderID: int64(o.ID)}
	e.mu.Unlock()
	e.sender.enqueue(d)
	emukit.WriteJSON(w, http.StatusOK, map[string]string{"message": "Test notification queued"})
}
