package gorgias

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"switchyard/internal/domain"
	"switchyard/internal/jsonx"
)

// ID is a Gorgias object id. It decodes from a JSON number or string and
// encodes as a number.
type ID int64

// UnmarshalJSON accepts 123, "123", 123.0 and null (0).
func (id *ID) UnmarshalJSON(b []byte) error {
	n, err := jsonx.Int(b)
	if err != nil {
		return fmt.Errorf("gorgias: id: %w", err)
	}
	*id = ID(n)
	return nil
}

// String returns the decimal id.
func (id ID) String() string { return strconv.FormatInt(int64(id), 10) }

// Time is a Gorgias datetime. It decodes ISO 8601 with or without offset
// (naive values are UTC) and never fails: unreadable values decode as the
// zero time. It encodes as RFC 3339 (null when zero).
type Time struct{ time.Time }

var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999Z0700", "2006-01-02"}

// ParseTime reads the datetime shapes Gorgias uses.
func ParseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// UnmarshalJSON implements tolerant decoding.
func (t *Time) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) != nil {
		t.Time = time.Time{}
		return nil
	}
	t.Time, _ = ParseTime(s)
	return nil
}

// MarshalJSON writes RFC 3339 or null.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(t.UTC().Format(time.RFC3339Nano))
}

// StringMap is a string → string object that tolerates non-string values
// (kept as their JSON text) and non-object JSON (decoded as empty).
type StringMap map[string]string

// UnmarshalJSON implements tolerant decoding.
func (m *StringMap) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if json.Unmarshal(b, &raw) != nil {
		*m = nil
		return nil
	}
	out := make(StringMap, len(raw))
	for k, v := range raw {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[k] = s
		} else {
			out[k] = string(bytes.TrimSpace(v))
		}
	}
	*m = out
	return nil
}

// FlexBool decodes true/false, 0/1 and their string forms.
type FlexBool bool

// UnmarshalJSON implements tolerant decoding.
func (f *FlexBool) UnmarshalJSON(b []byte) error {
	switch strings.ToLower(strings.Trim(strings.TrimSpace(string(b)), `"`)) {
	case "true", "1", "yes":
		*f = true
	default:
		*f = false
	}
	return nil
}

// FlexString decodes strings, numbers and booleans as text.
type FlexString string

// UnmarshalJSON implements tolerant decoding.
func (f *FlexString) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*f = FlexString(s)
		return nil
	}
	t := strings.TrimSpace(string(b))
	if t == "null" {
		t = ""
	}
	*f = FlexString(t)
	return nil
}

// Page is one page of a cursor-paginated list.
type Page[T any] struct {
	Data []T `json:"data"`
	Meta struct {
		PrevCursor *string `json:"prev_cursor"`
		NextCursor *string `json:"next_cursor"`
	} `json:"meta"`
	Object string `json:"object"`
	URI    string `json:"uri"`
}

// Next returns the next cursor, "" on the last page.
func (p *Page[T]) Next() string {
	if p.Meta.NextCursor == nil {
		return ""
	}
	return *p.Meta.NextCursor
}

// ListOptions are the common list parameters.
type ListOptions struct {
	// Limit is the page size (1–100; 0 = the server default of 30).
	Limit int
	// OrderBy is e.g. "created_datetime:asc".
	OrderBy string
}

// ---- customers -----------------------------------------------------------

// Channel is a customer contact channel.
type Channel struct {
	ID        ID     `json:"id,omitempty"`
	Type      string `json:"type"`
	Address   string `json:"address"`
	Preferred bool   `json:"preferred"`
}

// Customer is a Gorgias customer.
type Customer struct {
	ID              ID                         `json:"id"`
	Email           string                     `json:"email"`
	Name            string                     `json:"name"`
	Firstname       string                     `json:"firstname"`
	Lastname        string                     `json:"lastname"`
	ExternalID      FlexString                 `json:"external_id"`
	Language        string                     `json:"language"`
	Timezone        string                     `json:"timezone"`
	Note            string                     `json:"note"`
	Channels        []Channel                  `json:"channels"`
	Data            json.RawMessage            `json:"data"`
	Integrations    map[string]json.RawMessage `json:"integrations"`
	Active          bool                       `json:"active"`
	CreatedDatetime Time                       `json:"created_datetime"`
	UpdatedDatetime Time                       `json:"updated_datetime"`
}

// DataObject decodes Data as an object (empty when null or not an object).
func (c *Customer) DataObject() map[string]json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(c.Data, &m) != nil || m == nil {
		return map[string]json.RawMessage{}
	}
	return m
}

// DataExcept returns the keys of the customer's data document that the
// caller does not own (every key but own), to be written back with the
// caller's own key: PUT …/data replaces the whole document, and customer
// data is shared by every app of the account. Data that is not a JSON
// object (nor empty) is an error (EINVALID): writing over it would erase it.
func (c *Customer) DataExcept(own string) (map[string]json.RawMessage, error) {
	m := map[string]json.RawMessage{}
	raw := bytes.TrimSpace(c.Data)
	if len(raw) == 0 || string(raw) == "null" {
		return m, nil
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, domain.WrapError(domain.EINVALID, fmt.Sprintf("gorgias customer %d has data that is not a JSON object; not overwriting it", c.ID), err)
	}
	if m == nil {
		m = map[string]json.RawMessage{}
	}
	delete(m, own)
	return m, nil
}

// CustomerFields is the body of CreateCustomer and UpdateCustomer. Empty
// fields are not sent (updates are partial).
type CustomerFields struct {
	Email      string    `json:"email,omitempty"`
	Name       string    `json:"name,omitempty"`
	Firstname  string    `json:"firstname,omitempty"`
	Lastname   string    `json:"lastname,omitempty"`
	ExternalID string    `json:"external_id,omitempty"`
	Language   string    `json:"language,omitempty"`
	Timezone   string    `json:"timezone,omitempty"`
	Note       string    `json:"note,omitempty"`
	Channels   []Channel `json:"channels,omitempty"`
}

// ListCustomersOptions filters ListCustomers.
type ListCustomersOptions struct {
	ListOptions
	Email      string
	ExternalID string
}

// ---- integrations ----------------------------------------------------------

// Trigger names of HTTP integrations, spelt as the current API reference's
// example spells them. Older sources (the helpdesk front-end, the events
// feed) hyphenate them: the client sends underscores (keys given with
// hyphens are rewritten) and reads both (HTTPConfig.Triggered).
const (
	TriggerTicketCreated        = "ticket_created"
	TriggerTicketUpdated        = "ticket_updated"
	TriggerTicketMessageCreated = "ticket_message_created"
)

// Defaults of the HTTP block's required fields.
const (
	DefaultHTTPMethod  = "GET"
	DefaultContentType = "application/json"
)

// HTTPConfig is the "http" block of an HTTP integration. URL, Headers and
// Form values are templates ({{ticket.customer.email}}, …).
type HTTPConfig struct {
	ID                  ID              `json:"id,omitempty"`
	URL                 string          `json:"url"`
	Method              string          `json:"method"`
	Headers             StringMap       `json:"headers,omitempty"`
	Form                StringMap       `json:"form,omitempty"`
	RequestContentType  string          `json:"request_content_type"`
	ResponseContentType string          `json:"response_content_type"`
	Triggers            map[string]bool `json:"triggers,omitempty"`
	// HMACSecret is write-only (never returned).
	HMACSecret string `json:"hmac_secret,omitempty"`
}

// Triggered reports whether trigger name (either spelling) is on.
func (h *HTTPConfig) Triggered(name string) bool {
	if h == nil {
		return false
	}
	return h.Triggers[strings.ReplaceAll(name, "-", "_")] || h.Triggers[strings.ReplaceAll(name, "_", "-")]
}

// withDefaults returns a copy of h with the required method and content
// types filled in and trigger keys spelt with underscores (nil stays nil).
func (h *HTTPConfig) withDefaults() *HTTPConfig {
	if h == nil {
		return nil
	}
	out := *h
	if out.Method == "" {
		out.Method = DefaultHTTPMethod
	}
	if out.RequestContentType == "" {
		out.RequestContentType = DefaultContentType
	}
	if out.ResponseContentType == "" {
		out.ResponseContentType = DefaultContentType
	}
	if h.Triggers != nil {
		out.Triggers = make(map[string]bool, len(h.Triggers))
		for k, v := range h.Triggers {
			out.Triggers[strings.ReplaceAll(k, "-", "_")] = v
		}
	}
	return &out
}

// Integration is a Gorgias integration (switchyard creates type "http").
type Integration struct {
	ID                  ID          `json:"id,omitempty"`
	Type                string      `json:"type"`
	Name                string      `json:"name"`
	Description         string      `json:"description,omitempty"`
	HTTP                *HTTPConfig `json:"http,omitempty"`
	DeactivatedDatetime *Time       `json:"deactivated_datetime,omitempty"`
	ApplicationID       FlexString  `json:"application_id,omitempty"`
	CreatedDatetime     *Time       `json:"created_datetime,omitempty"`
	UpdatedDatetime     *Time       `json:"updated_datetime,omitempty"`
}

// Active reports whether the integration is not deactivated.
func (in *Integration) Active() bool {
	return in.DeactivatedDatetime == nil || in.DeactivatedDatetime.IsZero()
}

// ---- widgets -------------------------------------------------------------

// WidgetNode is a node of a widget template: wrapper, card, list or a leaf
// (text, date, url, email, boolean, array, age).
type WidgetNode struct {
	Type    string         `json:"type"`
	Title   string         `json:"title,omitempty"`
	Path    string         `json:"path,omitempty"`
	Widgets []WidgetNode   `json:"widgets,omitempty"`
	Meta    map[string]any `json:"meta,omitempty"`
}

// Widget is a sidebar widget bound to a data source.
type Widget struct {
	ID            ID          `json:"id,omitempty"`
	Context       string      `json:"context,omitempty"`
	Type          string      `json:"type"`
	IntegrationID *ID         `json:"integration_id,omitempty"`
	AppID         string      `json:"app_id,omitempty"`
	Order         int         `json:"order"`
	Template      *WidgetNode `json:"template,omitempty"`
}

// ---- macros --------------------------------------------------------------

// MacroAction is one action of a macro; Arguments depend on Name.
type MacroAction struct {
	Name      string          `json:"name"`
	Title     string          `json:"title,omitempty"`
	Type      string          `json:"type,omitempty"`
	Arguments json.RawMessage `json:"arguments,omitempty"`
}

// KeyValue is a header/param/form row of a macro HTTP action.
type KeyValue struct {
	Key      string     `json:"key"`
	Value    FlexString `json:"value"`
	Editable FlexBool   `json:"editable"`
}

// HTTPActionArgs are the arguments of a macro action named "http".
type HTTPActionArgs struct {
	Method      string          `json:"method"`
	URL         string          `json:"url"`
	Headers     []KeyValue      `json:"headers"`
	Params      []KeyValue      `json:"params"`
	Form        []KeyValue      `json:"form"`
	JSON        json.RawMessage `json:"json,omitempty"`
	ContentType string          `json:"content_type"`
}

// NewHTTPAction returns an "http" macro action.
func NewHTTPAction(title string, args HTTPActionArgs) (MacroAction, error) {
	if args.Headers == nil {
		args.Headers = []KeyValue{}
	}
	if args.Params == nil {
		args.Params = []KeyValue{}
	}
	if args.Form == nil {
		args.Form = []KeyValue{}
	}
	b, err := json.Marshal(args)
	if err != nil {
		return MacroAction{}, fmt.Errorf("error encoding http action: %w", err)
	}
	return MacroAction{Name: "http", Title: title, Type: "user", Arguments: b}, nil
}

// HTTPArgs decodes the arguments of an "http" action.
func (a MacroAction) HTTPArgs() (HTTPActionArgs, error) {
	var h HTTPActionArgs
	if a.Name != "http" {
		return h, fmt.Errorf("gorgias: macro action %q is not an http action", a.Name)
	}
	if err := json.Unmarshal(a.Arguments, &h); err != nil {
		return h, fmt.Errorf("error decoding http action arguments: %w", err)
	}
	return h, nil
}

// Macro is a Gorgias macro.
type Macro struct {
	ID               ID            `json:"id,omitempty"`
	ExternalID       FlexString    `json:"external_id,omitempty"`
	Name             string        `json:"name"`
	Intent           string        `json:"intent,omitempty"`
	Language         string        `json:"language,omitempty"`
	Usage            int           `json:"usage,omitempty"`
	Actions          []MacroAction `json:"actions"`
	ArchivedDatetime *Time         `json:"archived_datetime,omitempty"`
}

// ---- tickets and messages --------------------------------------------------

// Person references a customer or user by id and/or email.
type Person struct {
	ID    ID     `json:"id,omitempty"`
	Email string `json:"email,omitempty"`
	Name  string `json:"name,omitempty"`
}

// Tag is a ticket tag.
type Tag struct {
	ID   ID     `json:"id,omitempty"`
	Name string `json:"name"`
}

// Message is a ticket message (internal notes have channel "internal-note").
type Message struct {
	ID              ID         `json:"id,omitempty"`
	TicketID        ID         `json:"ticket_id,omitempty"`
	Channel         string     `json:"channel"`
	Via             string     `json:"via"`
	FromAgent       bool       `json:"from_agent"`
	Public          *bool      `json:"public,omitempty"`
	Sender          *Person    `json:"sender,omitempty"`
	Receiver        *Person    `json:"receiver,omitempty"`
	Subject         string     `json:"subject,omitempty"`
	BodyText        string     `json:"body_text,omitempty"`
	BodyHTML        string     `json:"body_html,omitempty"`
	ExternalID      FlexString `json:"external_id,omitempty"`
	CreatedDatetime *Time      `json:"created_datetime,omitempty"`
	SentDatetime    *Time      `json:"sent_datetime,omitempty"`
}

// IsInternalNote reports whether m is an internal note.
func (m *Message) IsInternalNote() bool { return m.Channel == ChannelInternalNote }

// ChannelInternalNote is the channel of internal notes.
const ChannelInternalNote = "internal-note"

// InternalNote returns an internal-note message (never sent to the
// customer). sender may be empty (the API user).
func InternalNote(senderEmail, text, html string) *Message {
	f := false
	m := &Message{Channel: ChannelInternalNote, Via: "api", FromAgent: true, Public: &f, BodyText: text, BodyHTML: html}
	if senderEmail != "" {
		m.Sender = &Person{Email: senderEmail}
	}
	return m
}

// Ticket is a Gorgias ticket.
type Ticket struct {
	ID              ID         `json:"id,omitempty"`
	ExternalID      FlexString `json:"external_id,omitempty"`
	Subject         string     `json:"subject,omitempty"`
	Status          string     `json:"status,omitempty"`
	Priority        string     `json:"priority,omitempty"`
	Channel         string     `json:"channel,omitempty"`
	Via             string     `json:"via,omitempty"`
	FromAgent       bool       `json:"from_agent"`
	Customer        *Customer  `json:"customer,omitempty"`
	Tags            []Tag      `json:"tags,omitempty"`
	Messages        []Message  `json:"messages,omitempty"`
	CreatedDatetime *Time      `json:"created_datetime,omitempty"`
	UpdatedDatetime *Time      `json:"updated_datetime,omitempty"`
}

// TicketCreate is the body of CreateTicket.
type TicketCreate struct {
	Channel    string    `json:"channel"`
	Via        string    `json:"via"`
	FromAgent  bool      `json:"from_agent"`
	Subject    string    `json:"subject,omitempty"`
	Status     string    `json:"status,omitempty"`
	Customer   *Person   `json:"customer,omitempty"`
	Tags       []Tag     `json:"tags,omitempty"`
	ExternalID string    `json:"external_id,omitempty"`
	Messages   []Message `json:"messages"`
}

// TicketUpdate is the body of UpdateTicket (partial; Tags replaces all).
type TicketUpdate struct {
	Subject  string `json:"subject,omitempty"`
	Status   string `json:"status,omitempty"`
	Priority string `json:"priority,omitempty"`
	Tags     []Tag  `json:"tags,omitempty"`
}

// MacroResult is the emulator's answer to ApplyMacro.
type MacroResult struct {
	Ticket  Ticket `json:"ticket"`
	Actions []struct {
		Name       string `json:"name"`
		Status     string `json:"status"`
		HTTPStatus int    `json:"http_status"`
		Error      string `json:"error"`
	} `json:"actions"`
}

// Account is GET /api/account.
type Account struct {
	Domain string `json:"domain"`
}
