package gorgias

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"switchyard/internal/outbound"
)

// ---- customers -----------------------------------------------------------

// FindCustomerByEmail returns the customer whose primary email, else one of
// whose email channels, is email (case-insensitive, trimmed), or an error
// wrapping ErrNotFound. A result that matches neither is never taken: if
// the filter were ignored, one customer's orders would land on another.
func (c *Client) FindCustomerByEmail(ctx context.Context, email string) (*Customer, error) {
	email = strings.TrimSpace(email)
	p, err := c.ListCustomersPage(ctx, ListCustomersOptions{ListOptions: ListOptions{Limit: 10}, Email: email}, "")
	if err != nil {
		return nil, err
	}
	if cust := MatchEmail(p.Data, email); cust != nil {
		return cust, nil
	}
	return nil, fmt.Errorf("error finding gorgias customer by email: %w", ErrNotFound)
}

// MatchEmail returns the customer of cs whose primary email is email, else
// the first with an email channel of that address (both case-insensitive
// and trimmed), or nil.
func MatchEmail(cs []Customer, email string) *Customer {
	email = strings.TrimSpace(email)
	if email == "" {
		return nil
	}
	same := func(s string) bool { return strings.EqualFold(strings.TrimSpace(s), email) }
	for i := range cs {
		if same(cs[i].Email) {
			return &cs[i]
		}
	}
	for i := range cs {
		for _, ch := range cs[i].Channels {
			if ch.Type == "email" && same(ch.Address) {
				return &cs[i]
			}
		}
	}
	return nil
}

// CreateCustomer creates a customer. The API requires channels: when f has
// none, an email channel for f.Email is sent. The create body has no custom
// data; write it with SetCustomerData. A duplicate email returns an error
// wrapping ErrDuplicateEmail (and ErrConflict's code, ECONFLICT).
func (c *Client) CreateCustomer(ctx context.Context, f CustomerFields) (*Customer, error) {
	if len(f.Channels) == 0 && strings.TrimSpace(f.Email) != "" {
		f.Channels = []Channel{{Type: "email", Address: strings.TrimSpace(f.Email), Preferred: true}}
	}
	var out Customer
	if _, err := c.call(ctx, http.MethodPost, "/api/customers", "POST /api/customers", nil, f, &out); err != nil {
		if outbound.StatusOf(err) == http.StatusConflict {
			return nil, fmt.Errorf("error creating gorgias customer: %w: %w", ErrDuplicateEmail, err)
		}
		return nil, wrap(err, "creating gorgias customer")
	}
	return &out, nil
}

// GetCustomer returns one customer. A customer merged into another one
// returns an error wrapping ErrMerged.
func (c *Client) GetCustomer(ctx context.Context, id ID) (*Customer, error) {
	var out Customer
	resp, err := c.call(ctx, http.MethodGet, idPath("/api/customers", id, ""), "GET /api/customers/{id}", nil, nil, &out)
	if err != nil {
		return nil, wrap(err, "getting gorgias customer")
	}
	if resp.Status == http.StatusMovedPermanently {
		return nil, fmt.Errorf("error getting gorgias customer %d: %w", id, ErrMerged)
	}
	if out.ID == 0 {
		return nil, fmt.Errorf("error getting gorgias customer %d: %w", id, ErrNotFound)
	}
	return &out, nil
}

// UpdateCustomer sends the non-empty fields of f (partial update; Channels,
// when sent, replace all channels). A merged customer returns an error
// wrapping ErrMerged.
func (c *Client) UpdateCustomer(ctx context.Context, id ID, f CustomerFields) (*Customer, error) {
	var out Customer
	resp, err := c.call(ctx, http.MethodPut, idPath("/api/customers", id, ""), "PUT /api/customers/{id}", nil, f, &out)
	if err != nil {
		if outbound.StatusOf(err) == http.StatusConflict {
			return nil, fmt.Errorf("error updating gorgias customer: %w: %w", ErrDuplicateEmail, err)
		}
		return nil, wrap(err, "updating gorgias customer")
	}
	if resp.Status == http.StatusMovedPermanently {
		return nil, fmt.Errorf("error updating gorgias customer %d: %w", id, ErrMerged)
	}
	return &out, nil
}

// DeleteCustomer deletes a customer. A merged customer returns an error
// wrapping ErrMerged.
func (c *Client) DeleteCustomer(ctx context.Context, id ID) error {
	resp, err := c.call(ctx, http.MethodDelete, idPath("/api/customers", id, ""), "DELETE /api/customers/{id}", nil, nil, nil)
	if err != nil {
		return wrap(err, "deleting gorgias customer")
	}
	if resp.Status == http.StatusMovedPermanently {
		return fmt.Errorf("error deleting gorgias customer %d: %w", id, ErrMerged)
	}
	return nil
}

// VersionLayout is how SetCustomerData writes versions (the docs' shape).
const VersionLayout = "2006-01-02T15:04:05.000000"

var mergedRE = regexp.MustCompile(`/customers/(\d+)/data`)

// SetCustomerData replaces the customer's data. A non-zero version makes
// Gorgias ignore the write when it already holds a newer one (still 202).
// A 301 (customer merged) is followed once when it names the target in a
// Location header; the documented 301 names none, and then the error wraps
// ErrMerged: the caller finds the customer again (by email) and writes there.
func (c *Client) SetCustomerData(ctx context.Context, id ID, data any, version time.Time) error {
	_, err := c.SetCustomerDataTo(ctx, id, data, version)
	return err
}

// SetCustomerDataTo is SetCustomerData that also returns the customer the
// data landed on: the merge target when id was merged away, so callers can
// cache the surviving id.
func (c *Client) SetCustomerDataTo(ctx context.Context, id ID, data any, version time.Time) (ID, error) {
	body := map[string]any{"data": data}
	if !version.IsZero() {
		body["version"] = version.UTC().Format(VersionLayout)
	}
	for hop := 0; hop < 2; hop++ {
		resp, err := c.call(ctx, http.MethodPut, idPath("/api/customers", id, "/data"), "PUT /api/customers/{id}/data", nil, body, nil)
		if err != nil {
			return id, wrap(err, "setting gorgias customer data")
		}
		if resp.Status != http.StatusMovedPermanently {
			return id, nil
		}
		m := mergedRE.FindStringSubmatch(resp.Header.Get("Location"))
		n := int64(0)
		if m != nil {
			n, _ = strconv.ParseInt(m[1], 10, 64)
		}
		if n <= 0 || ID(n) == id {
			return id, fmt.Errorf("error setting gorgias customer data of %d (answered 301, Location %q): %w", id, resp.Header.Get("Location"), ErrMerged)
		}
		c.Logger.Info("gorgias customer was merged; writing data to the target", "customer_id", int64(id), "target_id", n)
		id = ID(n)
	}
	return id, fmt.Errorf("error setting gorgias customer data of %d: too many merge redirects: %w", id, ErrMerged)
}

// MergeCustomers merges source into target, applying f to the target.
func (c *Client) MergeCustomers(ctx context.Context, source, target ID, f CustomerFields) (*Customer, error) {
	q := url.Values{"source_id": {source.String()}, "target_id": {target.String()}}
	var out Customer
	if _, err := c.call(ctx, http.MethodPut, "/api/customers/merge", "PUT /api/customers/merge", q, f, &out); err != nil {
		return nil, wrap(err, "merging gorgias customers")
	}
	return &out, nil
}

func customersQuery(o ListCustomersOptions, cursor string) url.Values {
	q := listQuery(o.ListOptions, cursor)
	if o.Email != "" {
		q.Set("email", o.Email)
	}
	if o.ExternalID != "" {
		q.Set("external_id", o.ExternalID)
	}
	return q
}

// ListCustomersPage returns one page ("" cursor = first page).
func (c *Client) ListCustomersPage(ctx context.Context, o ListCustomersOptions, cursor string) (*Page[Customer], error) {
	p, err := listPage[Customer](ctx, c, "/api/customers", "GET /api/customers", customersQuery(o, cursor))
	if err != nil {
		return nil, wrap(err, "listing gorgias customers")
	}
	return p, nil
}

// ListCustomers iterates every customer matching o, following cursors to
// the last page.
func (c *Client) ListCustomers(ctx context.Context, o ListCustomersOptions) iter.Seq2[Customer, error] {
	return listAll[Customer](ctx, c, "/api/customers", "GET /api/customers", "listing gorgias customers",
		func(cur string) url.Values { return customersQuery(o, cur) })
}

// ---- integrations ----------------------------------------------------------

// CreateIntegration creates an integration (type "http" with HTTP set).
// The HTTP block's required fields default to GET, application/json and
// application/json, and trigger keys are sent with underscores.
func (c *Client) CreateIntegration(ctx context.Context, in Integration) (*Integration, error) {
	if in.Type == "" {
		in.Type = "http"
	}
	in.HTTP = in.HTTP.withDefaults()
	var out Integration
	if _, err := c.call(ctx, http.MethodPost, "/api/integrations", "POST /api/integrations", nil, in, &out); err != nil {
		return nil, wrap(err, "creating gorgias integration")
	}
	return &out, nil
}

// GetIntegration returns one integration (ErrNotFound when deleted).
func (c *Client) GetIntegration(ctx context.Context, id ID) (*Integration, error) {
	var out Integration
	if _, err := c.call(ctx, http.MethodGet, idPath("/api/integrations", id, ""), "GET /api/integrations/{id}", nil, nil, &out); err != nil {
		return nil, wrap(err, "getting gorgias integration")
	}
	return &out, nil
}

// UpdateIntegration updates an integration (Name is required by Gorgias).
func (c *Client) UpdateIntegration(ctx context.Context, id ID, in Integration) (*Integration, error) {
	in.ID, in.CreatedDatetime, in.UpdatedDatetime, in.DeactivatedDatetime = 0, nil, nil, nil
	in.HTTP = in.HTTP.withDefaults()
	var out Integration
	if _, err := c.call(ctx, http.MethodPut, idPath("/api/integrations", id, ""), "PUT /api/integrations/{id}", nil, in, &out); err != nil {
		return nil, wrap(err, "updating gorgias integration")
	}
	return &out, nil
}

// ReactivateIntegration clears deactivated_datetime (e.g. after Gorgias
// disabled it for 100 consecutive failures).
func (c *Client) ReactivateIntegration(ctx context.Context, id ID, name string) (*Integration, error) {
	body := map[string]any{"name": name, "deactivated_datetime": nil}
	var out Integration
	if _, err := c.call(ctx, http.MethodPut, idPath("/api/integrations", id, ""), "PUT /api/integrations/{id}", nil, body, &out); err != nil {
		return nil, wrap(err, "reactivating gorgias integration")
	}
	return &out, nil
}

// DeleteIntegration deletes an integration.
func (c *Client) DeleteIntegration(ctx context.Context, id ID) error {
	if _, err := c.call(ctx, http.MethodDelete, idPath("/api/integrations", id, ""), "DELETE /api/integrations/{id}", nil, nil, nil); err != nil {
		return wrap(err, "deleting gorgias integration")
	}
	return nil
}

// ListIntegrations iterates every integration (typ "" = all types).
func (c *Client) ListIntegrations(ctx context.Context, typ string, o ListOptions) iter.Seq2[Integration, error] {
	return listAll[Integration](ctx, c, "/api/integrations", "GET /api/integrations", "listing gorgias integrations",
		func(cur string) url.Values {
			q := listQuery(o, cur)
			if typ != "" {
				q.Set("type", typ)
			}
			return q
		})
}

// ---- widgets -------------------------------------------------------------

// CreateWidget creates a widget (Type and Template required).
func (c *Client) CreateWidget(ctx context.Context, w Widget) (*Widget, error) {
	if w.Context == "" {
		w.Context = "ticket"
	}
	var out Widget
	if _, err := c.call(ctx, http.MethodPost, "/api/widgets", "POST /api/widgets", nil, w, &out); err != nil {
		return nil, wrap(err, "creating gorgias widget")
	}
	return &out, nil
}

// GetWidget returns one widget.
func (c *Client) GetWidget(ctx context.Context, id ID) (*Widget, error) {
	var out Widget
	if _, err := c.call(ctx, http.MethodGet, idPath("/api/widgets", id, ""), "GET /api/widgets/{id}", nil, nil, &out); err != nil {
		return nil, wrap(err, "getting gorgias widget")
	}
	return &out, nil
}

// UpdateWidget replaces a widget's fields (the template as a whole).
func (c *Client) UpdateWidget(ctx context.Context, id ID, w Widget) (*Widget, error) {
	w.ID = 0
	var out Widget
	if _, err := c.call(ctx, http.MethodPut, idPath("/api/widgets", id, ""), "PUT /api/widgets/{id}", nil, w, &out); err != nil {
		return nil, wrap(err, "updating gorgias widget")
	}
	return &out, nil
}

// DeleteWidget deletes a widget.
func (c *Client) DeleteWidget(ctx context.Context, id ID) error {
	if _, err := c.call(ctx, http.MethodDelete, idPath("/api/widgets", id, ""), "DELETE /api/widgets/{id}", nil, nil, nil); err != nil {
		return wrap(err, "deleting gorgias widget")
	}
	return nil
}

// ListWidgets iterates every widget (integrationID 0 = all).
func (c *Client) ListWidgets(ctx context.Context, integrationID ID, o ListOptions) iter.Seq2[Widget, error] {
	return listAll[Widget](ctx, c, "/api/widgets", "GET /api/widgets", "listing gorgias widgets",
		func(cur string) url.Values {
			q := listQuery(o, cur)
			if integrationID != 0 {
				q.Set("integration_id", integrationID.String())
			}
			return q
		})
}

// ---- macros --------------------------------------------------------------

// CreateMacro creates a macro.
func (c *Client) CreateMacro(ctx context.Context, m Macro) (*Macro, error) {
	if m.Actions == nil {
		m.Actions = []MacroAction{}
	}
	var out Macro
	if _, err := c.call(ctx, http.MethodPost, "/api/macros", "POST /api/macros", nil, m, &out); err != nil {
		return nil, wrap(err, "creating gorgias macro")
	}
	return &out, nil
}

// GetMacro returns one macro.
func (c *Client) GetMacro(ctx context.Context, id ID) (*Macro, error) {
	var out Macro
	if _, err := c.call(ctx, http.MethodGet, idPath("/api/macros", id, ""), "GET /api/macros/{id}", nil, nil, &out); err != nil {
		return nil, wrap(err, "getting gorgias macro")
	}
	return &out, nil
}

// UpdateMacro updates a macro (Actions, when not nil, replace all actions).
func (c *Client) UpdateMacro(ctx context.Context, id ID, m Macro) (*Macro, error) {
	m.ID, m.Usage, m.ArchivedDatetime = 0, 0, nil
	var out Macro
	if _, err := c.call(ctx, http.MethodPut, idPath("/api/macros", id, ""), "PUT /api/macros/{id}", nil, m, &out); err != nil {
		return nil, wrap(err, "updating gorgias macro")
	}
	return &out, nil
}

// DeleteMacro deletes a macro.
func (c *Client) DeleteMacro(ctx context.Context, id ID) error {
	if _, err := c.call(ctx, http.MethodDelete, idPath("/api/macros", id, ""), "DELETE /api/macros/{id}", nil, nil, nil); err != nil {
		return wrap(err, "deleting gorgias macro")
	}
	return nil
}

// ListMacros iterates every macro (search "" = all).
func (c *Client) ListMacros(ctx context.Context, search string, o ListOptions) iter.Seq2[Macro, error] {
	return listAll[Macro](ctx, c, "/api/macros", "GET /api/macros", "listing gorgias macros",
		func(cur string) url.Values {
			q := listQuery(o, cur)
			if search != "" {
				q.Set("search", search)
			}
			return q
		})
}

// ApplyMacro applies a macro to a ticket with values for its editable
// HTTP-action arguments. This route exists in the emulator only (agents
// apply macros in the helpdesk UI); production code does not call it.
func (c *Client) ApplyMacro(ctx context.Context, ticketID, macroID ID, values map[string]string) (*MacroResult, error) {
	var out MacroResult
	path := idPath("/api/tickets", ticketID, "/macros/"+macroID.String()+"/apply")
	if _, err := c.call(ctx, http.MethodPost, path, "POST /api/tickets/{id}/macros/{macro_id}/apply", nil, map[string]any{"values": values}, &out); err != nil {
		return nil, wrap(err, "applying gorgias macro")
	}
	return &out, nil
}

// ---- tickets and messages --------------------------------------------------

// CreateTicket creates a ticket with its first message(s).
func (c *Client) CreateTicket(ctx context.Context, t TicketCreate) (*Ticket, error) {
	if len(t.Messages) == 0 {
		return nil, errors.New("error creating gorgias ticket: at least one message is required")
	}
	var out Ticket
	if _, err := c.call(ctx, http.MethodPost, "/api/tickets", "POST /api/tickets", nil, t, &out); err != nil {
		return nil, wrap(err, "creating gorgias ticket")
	}
	return &out, nil
}

// GetTicket returns one ticket (with its messages).
func (c *Client) GetTicket(ctx context.Context, id ID) (*Ticket, error) {
	var out Ticket
	if _, err := c.call(ctx, http.MethodGet, idPath("/api/tickets", id, ""), "GET /api/tickets/{id}", nil, nil, &out); err != nil {
		return nil, wrap(err, "getting gorgias ticket")
	}
	return &out, nil
}

// UpdateTicket updates a ticket (partial).
func (c *Client) UpdateTicket(ctx context.Context, id ID, u TicketUpdate) (*Ticket, error) {
	var out Ticket
	if _, err := c.call(ctx, http.MethodPut, idPath("/api/tickets", id, ""), "PUT /api/tickets/{id}", nil, u, &out); err != nil {
		return nil, wrap(err, "updating gorgias ticket")
	}
	return &out, nil
}

// CreateMessage adds a message to a ticket (see InternalNote).
func (c *Client) CreateMessage(ctx context.Context, ticketID ID, m *Message) (*Message, error) {
	var out Message
	if _, err := c.call(ctx, http.MethodPost, idPath("/api/tickets", ticketID, "/messages"), "POST /api/tickets/{id}/messages", nil, m, &out); err != nil {
		return nil, wrap(err, "creating gorgias message")
	}
	return &out, nil
}

// ListTicketMessages returns every message of a ticket, oldest first.
func (c *Client) ListTicketMessages(ctx context.Context, ticketID ID) ([]Message, error) {
	var out []Message
	for m, err := range listAll[Message](ctx, c, idPath("/api/tickets", ticketID, "/messages"), "GET /api/tickets/{id}/messages",
		"listing gorgias ticket messages", func(cur string) url.Values { return listQuery(ListOptions{}, cur) }) {
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}
