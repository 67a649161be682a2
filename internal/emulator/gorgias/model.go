package gorgias

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"
)

// user is a helpdesk user; apiKey authenticates it over HTTP Basic.
type user struct {
	ID        int64  `json:"id"`
	Email     string `json:"email"`
	Name      string `json:"name"`
	Firstname string `json:"firstname"`
	Lastname  string `json:"lastname"`
	Role      string `json:"role"`
	apiKey    string
}

func (u *user) ref() map[string]any {
	return map[string]any{"id": u.ID, "email": u.Email, "name": u.Name, "firstname": u.Firstname, "lastname": u.Lastname}
}

// account is one Gorgias account (subdomain) and everything in it.
type account struct {
	Domain  string
	Window  time.Duration
	Created time.Time

	users   []*user
	apiKeys map[string]*user

	customers    map[int64]*customer
	byEmail      map[string]int64
	merged       map[int64]int64
	integrations map[int64]*integration
	widgets      map[int64]*widget
	macros       map[int64]*macro
	tickets      map[int64]*ticket
	messages     map[int64]*message
	tags         map[string]*tag
	events       []*event

	buckets           map[string]*leakyBucket
	calls             int64
	throttled         int64
	callsByCredential map[string]int64
	callsByEndpoint   map[string]int64
	// createDataIgnored counts POST /api/customers bodies that carried a
	// "data" field, which the contract does not have and is not stored.
	createDataIgnored int64
}

func newAccount(domain string, window time.Duration, now time.Time) *account {
	return &account{
		Domain: domain, Window: window, Created: now,
		apiKeys:      map[string]*user{},
		customers:    map[int64]*customer{},
		byEmail:      map[string]int64{},
		merged:       map[int64]int64{},
		integrations: map[int64]*integration{},
		widgets:      map[int64]*widget{},
		macros:       map[int64]*macro{},
		tickets:      map[int64]*ticket{},
		messages:     map[int64]*message{},
		tags:         map[string]*tag{},
		buckets:      map[string]*leakyBucket{},

		callsByCredential: map[string]int64{},
		callsByEndpoint:   map[string]int64{},
	}
}

func (a *account) userByID(id int64) *user {
	for _, u := range a.users {
		if u.ID == id {
			return u
		}
	}
	return nil
}

func (a *account) userByEmail(email string) *user {
	for _, u := range a.users {
		if strings.EqualFold(u.Email, email) {
			return u
		}
	}
	return nil
}

func (a *account) admin() *user {
	if len(a.users) == 0 {
		return &user{Email: "admin@" + a.Domain + ".test", Name: "Admin"}
	}
	return a.users[0]
}

// sortedIDs returns the keys of m in ascending order.
func sortedIDs[T any](m map[int64]T) []int64 {
	ids := make([]int64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// ---- customers -----------------------------------------------------------

type channel struct {
	ID        int64  `json:"id,omitempty"`
	Type      string `json:"type"`
	Address   string `json:"address"`
	Preferred bool   `json:"preferred"`
}

type customer struct {
	ID           int64
	Created      time.Time
	Updated      time.Time
	Email        string
	Name         string
	Firstname    string
	Lastname     string
	ExternalID   *string
	Language     *string
	Timezone     string
	Note         *string
	Channels     []channel
	Data         json.RawMessage
	Integrations map[string]json.RawMessage
	Meta         json.RawMessage
	Active       bool

	dataVersion time.Time
}

type customerOut struct {
	ID              int64                      `json:"id"`
	CreatedDatetime stamp                      `json:"created_datetime"`
	UpdatedDatetime stamp                      `json:"updated_datetime"`
	Email           *string                    `json:"email"`
	Name            *string                    `json:"name"`
	Firstname       string                     `json:"firstname"`
	Lastname        string                     `json:"lastname"`
	ExternalID      *string                    `json:"external_id"`
	Language        *string                    `json:"language"`
	Timezone        string                     `json:"timezone"`
	Note            *string                    `json:"note"`
	Channels        []channel                  `json:"channels"`
	Data            json.RawMessage            `json:"data"`
	Integrations    map[string]json.RawMessage `json:"integrations"`
	Meta            json.RawMessage            `json:"meta"`
	Active          bool                       `json:"active"`
	URI             string                     `json:"uri"`
}

func (c *customer) out() customerOut {
	o := customerOut{
		ID: c.ID, CreatedDatetime: stamp(c.Created), UpdatedDatetime: stamp(c.Updated),
		Firstname: c.Firstname, Lastname: c.Lastname, ExternalID: c.ExternalID, Language: c.Language,
		Timezone: c.Timezone, Note: c.Note, Channels: c.Channels, Data: rawOrNull(c.Data),
		Integrations: c.Integrations, Meta: rawOrNull(c.Meta), Active: c.Active,
		URI: "/api/customers/" + strconv.FormatInt(c.ID, 10) + "/",
	}
	if c.Email != "" {
		o.Email = strPtr(c.Email)
	}
	if c.Name != "" {
		o.Name = strPtr(c.Name)
	}
	if o.Channels == nil {
		o.Channels = []channel{}
	}
	if o.Integrations == nil {
		o.Integrations = map[string]json.RawMessage{}
	}
	return o
}

// ---- integrations ----------------------------------------------------------

type httpConfig struct {
	ID                  int64             `json:"id"`
	URL                 string            `json:"url"`
	Method              string            `json:"method"`
	Headers             map[string]string `json:"headers"`
	Form                json.RawMessage   `json:"form"`
	RequestContentType  string            `json:"request_content_type"`
	ResponseContentType string            `json:"response_content_type"`
	Triggers            map[string]bool   `json:"triggers"`
	hmacSecret          string
	// underscoreTriggers: the triggers were sent as ticket_created…; they
	// are kept hyphenated and answered in the spelling they came in.
	underscoreTriggers bool
}

// MarshalJSON writes the triggers in the spelling the client used.
func (c httpConfig) MarshalJSON() ([]byte, error) {
	type plain httpConfig
	p := plain(c)
	if c.underscoreTriggers {
		p.Triggers = make(map[string]bool, len(c.Triggers))
		for k, v := range c.Triggers {
			p.Triggers[strings.ReplaceAll(k, "-", "_")] = v
		}
	}
	return json.Marshal(p)
}

type integration struct {
	ID            int64
	Type          string
	Name          string
	Description   *string
	HTTP          *httpConfig
	Created       time.Time
	Updated       time.Time
	Deactivated   time.Time
	UserID        int64
	ApplicationID *string
	Managed       bool

	// Emulator bookkeeping (state dump only).
	failures   int
	calls      int
	successes  int
	lastStatus int
	lastError  string
}

func (in *integration) active() bool { return in.Deactivated.IsZero() }

type integrationOut struct {
	ID                  int64          `json:"id"`
	Type                string         `json:"type"`
	Name                string         `json:"name"`
	Description         *string        `json:"description"`
	HTTP                *httpConfig    `json:"http"`
	CreatedDatetime     stamp          `json:"created_datetime"`
	UpdatedDatetime     stamp          `json:"updated_datetime"`
	DeactivatedDatetime *stamp         `json:"deactivated_datetime"`
	User                map[string]any `json:"user"`
	URI                 string         `json:"uri"`
	ApplicationID       *string        `json:"application_id"`
	Managed             bool           `json:"managed"`
}

func (in *integration) out() integrationOut {
	return integrationOut{
		ID: in.ID, Type: in.Type, Name: in.Name, Description: in.Description, HTTP: in.HTTP,
		CreatedDatetime: stamp(in.Created), UpdatedDatetime: stamp(in.Updated),
		DeactivatedDatetime: stampPtr(in.Deactivated), User: map[string]any{"id": in.UserID},
		URI: "/api/integrations/" + strconv.FormatInt(in.ID, 10) + "/", ApplicationID: in.ApplicationID, Managed: in.Managed,
	}
}

// ---- widgets -------------------------------------------------------------

type widget struct {
	ID            int64
	Context       string
	Type          string
	IntegrationID *int64
	AppID         *string
	Order         int
	Template      json.RawMessage
	Deactivated   time.Time
	Created       time.Time
	Updated       time.Time
}

type widgetOut struct {
	ID                  int64           `json:"id"`
	Context             string          `json:"context"`
	Type                string          `json:"type"`
	IntegrationID       *int64          `json:"integration_id"`
	AppID               *string         `json:"app_id"`
	Order               int             `json:"order"`
	Template            json.RawMessage `json:"template"`
	DeactivatedDatetime *stamp          `json:"deactivated_datetime"`
	CreatedDatetime     stamp           `json:"created_datetime"`
	UpdatedDatetime     stamp           `json:"updated_datetime"`
	URI                 string          `json:"uri"`
}

func (wd *widget) out() widgetOut {
	return widgetOut{
		ID: wd.ID, Context: wd.Context, Type: wd.Type, IntegrationID: wd.IntegrationID, AppID: wd.AppID,
		Order: wd.Order, Template: rawOrNull(wd.Template), DeactivatedDatetime: stampPtr(wd.Deactivated),
		CreatedDatetime: stamp(wd.Created), UpdatedDatetime: stamp(wd.Updated),
		URI: "/api/widgets/" + strconv.FormatInt(wd.ID, 10) + "/",
	}
}

// ---- macros --------------------------------------------------------------

type macroAction struct {
	Name      string          `json:"name"`
	Title     string          `json:"title"`
	Type      string          `json:"type"`
	Arguments json.RawMessage `json:"arguments"`
}

type macro struct {
	ID         int64
	ExternalID *string
	Name       string
	Intent     *string
	Language   *string
	Usage      int
	Actions    []macroAction
	Created    time.Time
	Updated    time.Time
	Archived   time.Time
}

type macroOut struct {
	ID               int64         `json:"id"`
	ExternalID       *string       `json:"external_id"`
	Name             string        `json:"name"`
	Intent           *string       `json:"intent"`
	Language         *string       `json:"language"`
	Usage            int           `json:"usage"`
	Actions          []macroAction `json:"actions"`
	CreatedDatetime  stamp         `json:"created_datetime"`
	UpdatedDatetime  stamp         `json:"updated_datetime"`
	ArchivedDatetime *stamp        `json:"archived_datetime"`
	URI              string        `json:"uri"`
}

func (m *macro) out() macroOut {
	acts := m.Actions
	if acts == nil {
		acts = []macroAction{}
	}
	return macroOut{
		ID: m.ID, ExternalID: m.ExternalID, Name: m.Name, Intent: m.Intent, Language: m.Language, Usage: m.Usage,
		Actions: acts, CreatedDatetime: stamp(m.Created), UpdatedDatetime: stamp(m.Updated),
		ArchivedDatetime: stampPtr(m.Archived), URI: "/api/macros/" + strconv.FormatInt(m.ID, 10) + "/",
	}
}

// kv is one key/value row of a macro HTTP action.
type kv struct {
	Key      string     `json:"key"`
	Value    flexString `json:"value"`
	Editable flexBool   `json:"editable"`
}

// httpActionArgs are the arguments of a macro action named "http".
type httpActionArgs struct {
	Method      string          `json:"method"`
	URL         string          `json:"url"`
	Headers     []kv            `json:"headers"`
	Params      []kv            `json:"params"`
	Form        []kv            `json:"form"`
	JSON        json.RawMessage `json:"json"`
	ContentType string          `json:"content_type"`
}

// ---- tickets, messages, tags, events ---------------------------------------

type tag struct {
	ID         int64           `json:"id"`
	Name       string          `json:"name"`
	Decoration json.RawMessage `json:"decoration"`
	Created    stamp           `json:"created_datetime"`
	URI        string          `json:"uri"`
}

type person struct {
	ID    int64  `json:"id,omitempty"`
	Email string `json:"email,omitempty"`
	Name  string `json:"name,omitempty"`
}

type message struct {
	ID         int64
	TicketID   int64
	Channel    string
	Via        string
	FromAgent  bool
	Public     bool
	Sender     *person
	Receiver   *person
	Subject    string
	BodyText   string
	BodyHTML   string
	ExternalID *string
	Source     json.RawMessage
	Meta       json.RawMessage
	Created    time.Time
	Sent       time.Time
}

func (m *message) internal() bool { return m.Channel == "internal-note" }

type messageOut struct {
	ID              int64           `json:"id"`
	TicketID        int64           `json:"ticket_id"`
	Channel         string          `json:"channel"`
	Via             string          `json:"via"`
	FromAgent       bool            `json:"from_agent"`
	Public          bool            `json:"public"`
	Sender          *person         `json:"sender"`
	Receiver        *person         `json:"receiver"`
	Subject         string          `json:"subject"`
	BodyText        string          `json:"body_text"`
	BodyHTML        string          `json:"body_html"`
	ExternalID      *string         `json:"external_id"`
	Source          json.RawMessage `json:"source"`
	Meta            json.RawMessage `json:"meta"`
	CreatedDatetime stamp           `json:"created_datetime"`
	SentDatetime    *stamp          `json:"sent_datetime"`
	FailedDatetime  *stamp          `json:"failed_datetime"`
	URI             string          `json:"uri"`
}

func (m *message) out() messageOut {
	return messageOut{
		ID: m.ID, TicketID: m.TicketID, Channel: m.Channel, Via: m.Via, FromAgent: m.FromAgent, Public: m.Public,
		Sender: m.Sender, Receiver: m.Receiver, Subject: m.Subject, BodyText: m.BodyText, BodyHTML: m.BodyHTML,
		ExternalID: m.ExternalID, Source: rawOrNull(m.Source), Meta: rawOrNull(m.Meta),
		CreatedDatetime: stamp(m.Created), SentDatetime: stampPtr(m.Sent),
		URI: "/api/tickets/" + strconv.FormatInt(m.TicketID, 10) + "/messages/" + strconv.FormatInt(m.ID, 10) + "/",
	}
}

type ticket struct {
	ID           int64
	ExternalID   *string
	Subject      string
	Status       string
	Priority     string
	Channel      string
	Via          string
	FromAgent    bool
	Language     *string
	Spam         bool
	CustomerID   int64
	AssigneeUser *int64
	Tags         []string
	Messages     []*message
	Meta         json.RawMessage
	Created      time.Time
	Updated      time.Time
	Opened       time.Time
	Closed       time.Time
}

type ticketOut struct {
	ID                 int64           `json:"id"`
	ExternalID         *string         `json:"external_id"`
	Subject            string          `json:"subject"`
	Status             string          `json:"status"`
	Priority           string          `json:"priority"`
	Channel            string          `json:"channel"`
	Via                string          `json:"via"`
	FromAgent          bool            `json:"from_agent"`
	Language           *string         `json:"language"`
	Spam               bool            `json:"spam"`
	Customer           *customerOut    `json:"customer"`
	AssigneeUser       map[string]any  `json:"assignee_user"`
	Tags               []*tag          `json:"tags"`
	Messages           []messageOut    `json:"messages"`
	MessagesCount      int             `json:"messages_count"`
	Meta               json.RawMessage `json:"meta"`
	CreatedDatetime    stamp           `json:"created_datetime"`
	UpdatedDatetime    stamp           `json:"updated_datetime"`
	OpenedDatetime     *stamp          `json:"opened_datetime"`
	ClosedDatetime     *stamp          `json:"closed_datetime"`
	LastMessageDatetme *stamp          `json:"last_message_datetime"`
	URI                string          `json:"uri"`
}

func (a *account) ticketOut(t *ticket) ticketOut {
	o := ticketOut{
		ID: t.ID, ExternalID: t.ExternalID, Subject: t.Subject, Status: t.Status, Priority: t.Priority,
		Channel: t.Channel, Via: t.Via, FromAgent: t.FromAgent, Language: t.Language, Spam: t.Spam,
		Meta: rawOrNull(t.Meta), CreatedDatetime: stamp(t.Created), UpdatedDatetime: stamp(t.Updated),
		OpenedDatetime: stampPtr(t.Opened), ClosedDatetime: stampPtr(t.Closed),
		URI: "/api/tickets/" + strconv.FormatInt(t.ID, 10) + "/", Tags: []*tag{}, Messages: []messageOut{},
		MessagesCount: len(t.Messages),
	}
	if c := a.customers[t.CustomerID]; c != nil {
		co := c.out()
		o.Customer = &co
	}
	if t.AssigneeUser != nil {
		if u := a.userByID(*t.AssigneeUser); u != nil {
			o.AssigneeUser = u.ref()
		}
	}
	for _, name := range t.Tags {
		if tg := a.tags[strings.ToLower(name)]; tg != nil {
			o.Tags = append(o.Tags, tg)
		}
	}
	for _, m := range t.Messages {
		o.Messages = append(o.Messages, m.out())
	}
	if n := len(t.Messages); n > 0 {
		o.LastMessageDatetme = stampPtr(t.Messages[n-1].Created)
	}
	return o
}

type event struct {
	ID              int64           `json:"id"`
	Context         string          `json:"context"`
	CreatedDatetime stamp           `json:"created_datetime"`
	Data            json.RawMessage `json:"data"`
	ObjectID        int64           `json:"object_id"`
	ObjectType      string          `json:"object_type"`
	Type            string          `json:"type"`
	UserID          *int64          `json:"user_id"`
	URI             string          `json:"uri"`
}
