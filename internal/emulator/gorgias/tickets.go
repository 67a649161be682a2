package gorgias

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"switchyard/internal/emulator/emukit"
)

// personInput references a customer or user by id and/or email.
type personInput struct {
	ID        flexID `json:"id"`
	Email     string `json:"email"`
	Name      string `json:"name"`
	Firstname string `json:"firstname"`
	Lastname  string `json:"lastname"`
}

type tagInput struct {
	ID   flexID `json:"id"`
	Name string `json:"name"`
}

type messageInput struct {
	Channel    *string         `json:"channel"`
	Via        *string         `json:"via"`
	FromAgent  *bool           `json:"from_agent"`
	Public     *bool           `json:"public"`
	Sender     *personInput    `json:"sender"`
	Receiver   *personInput    `json:"receiver"`
	Subject    string          `json:"subject"`
	BodyText   string          `json:"body_text"`
	BodyHTML   string          `json:"body_html"`
	ExternalID *flexString     `json:"external_id"`
	Source     json.RawMessage `json:"source"`
	Meta       json.RawMessage `json:"meta"`
	Sent       *string         `json:"sent_datetime"`
	Created    *string         `json:"created_datetime"`
}

type ticketInput struct {
	Channel      *string          `json:"channel"`
	Via          *string          `json:"via"`
	FromAgent    *bool            `json:"from_agent"`
	Subject      *string          `json:"subject"`
	Status       *string          `json:"status"`
	Priority     *string          `json:"priority"`
	Customer     *personInput     `json:"customer"`
	AssigneeUser *json.RawMessage `json:"assignee_user"`
	Tags         *[]tagInput      `json:"tags"`
	ExternalID   *flexString      `json:"external_id"`
	Language     *string          `json:"language"`
	Spam         *bool            `json:"spam"`
	Meta         json.RawMessage  `json:"meta"`
	Messages     []messageInput   `json:"messages"`
}

var priorities = []string{"critical", "high", "normal", "low"}

// validateMessage returns the per-field errors of one message.
func validateMessage(m *messageInput) map[string][]string {
	errs := map[string][]string{}
	if m.Channel == nil || *m.Channel == "" {
		errs["channel"] = missingField
	}
	if m.Via == nil || *m.Via == "" {
		errs["via"] = missingField
	}
	if m.FromAgent == nil {
		errs["from_agent"] = missingField
	}
	if m.BodyText == "" && m.BodyHTML == "" {
		errs["body_text"] = []string{"body_text or body_html is required."}
	}
	return errs
}

// newMessageLocked builds a message from a validated input.
func (e *Emulator) newMessageLocked(a *account, t *ticket, in *messageInput, caller *user) *message {
	now := e.now()
	m := &message{ID: e.nextID(), TicketID: t.ID, Channel: *in.Channel, Via: *in.Via, FromAgent: *in.FromAgent,
		Subject: in.Subject, BodyText: in.BodyText, BodyHTML: in.BodyHTML, Source: in.Source, Meta: in.Meta, Created: now}
	if in.Created != nil {
		if ts, ok := parseStamp(*in.Created); ok {
			m.Created = ts
		}
	}
	m.Public = !m.internal()
	if in.Public != nil {
		m.Public = *in.Public && !m.internal()
	}
	if in.ExternalID != nil {
		m.ExternalID = strPtr(string(*in.ExternalID))
	}
	cust := a.customers[t.CustomerID]
	if m.FromAgent {
		u := caller
		if in.Sender != nil {
			if x := a.userByID(int64(in.Sender.ID)); x != nil {
				u = x
			} else if x := a.userByEmail(in.Sender.Email); x != nil {
				u = x
			} else if in.Sender.Email != "" {
				m.Sender = &person{Email: in.Sender.Email, Name: in.Sender.Name}
			}
		}
		if m.Sender == nil && u != nil {
			m.Sender = &person{ID: u.ID, Email: u.Email, Name: u.Name}
		}
		if !m.internal() && cust != nil {
			m.Receiver = &person{ID: cust.ID, Email: cust.Email, Name: cust.Name}
		}
	} else {
		c := e.findOrCreateCustomerLocked(a, in.Sender)
		if c == nil {
			c = cust
		}
		if c != nil {
			m.Sender = &person{ID: c.ID, Email: c.Email, Name: c.Name}
		}
	}
	// Emulated delivery is instant; an explicit sent_datetime imports.
	m.Sent = now
	if in.Sent != nil {
		if ts, ok := parseStamp(*in.Sent); ok {
			m.Sent = ts
		}
	}
	t.Messages = append(t.Messages, m)
	a.messages[m.ID] = m
	return m
}

func setTicketStatus(t *ticket, st string, now time.Time) {
	t.Status = st
	if st == "closed" {
		t.Closed = now
	} else {
		t.Closed = time.Time{}
		t.Opened = now
	}
}

// addTagsLocked adds names to have (creating account tags as needed).
func (e *Emulator) addTagsLocked(a *account, have, names []string) []string {
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		tg := a.tags[strings.ToLower(n)]
		if tg == nil {
			tg = &tag{ID: e.nextID(), Name: n, Decoration: json.RawMessage("null"), Created: stamp(e.now())}
			tg.URI = "/api/tags/" + itoa(tg.ID) + "/"
			a.tags[strings.ToLower(n)] = tg
		}
		if !slices.ContainsFunc(have, func(x string) bool { return strings.EqualFold(x, tg.Name) }) {
			have = append(have, tg.Name)
		}
	}
	return have
}

// tagNames resolves tag inputs ({id} or {name}) to names.
func (a *account) tagNames(in []tagInput) []string {
	var out []string
	for _, t := range in {
		if t.Name != "" {
			out = append(out, t.Name)
			continue
		}
		for _, tg := range a.tags {
			if tg.ID == int64(t.ID) {
				out = append(out, tg.Name)
			}
		}
	}
	return out
}

func (e *Emulator) newEvent(a *account, typ, objType string, objID int64, u *user) *event {
	ev := &event{ID: e.nextID(), Context: e.randToken(32), CreatedDatetime: stamp(e.now()), Data: json.RawMessage("null"),
		ObjectID: objID, ObjectType: objType, Type: typ}
	ev.URI = "/api/events/" + itoa(ev.ID) + "/"
	if u != nil {
		id := u.ID
		ev.UserID = &id
	}
	return ev
}

// emitLocked records an event on ticket t and queues the HTTP
// integrations whose trigger typ is on.
func (e *Emulator) emitLocked(a *account, t *ticket, typ, objType string, objID int64, u *user) {
	ev := e.newEvent(a, typ, objType, objID, u)
	a.events = append(a.events, ev)
	var vars map[string]any
	for _, id := range sortedIDs(a.integrations) {
		in := a.integrations[id]
		if in.Type != "http" || in.HTTP == nil || !in.active() || !in.HTTP.Triggers[typ] {
			continue
		}
		if vars == nil {
			vars = e.ticketVarsLocked(a, t, typ, nil)
		}
		call, err := buildIntegrationCall(in.HTTP, vars)
		if err != nil {
			in.calls++
			e.recordFailureLocked(a, in, 0, err.Error())
			continue
		}
		e.disp.push(dispatchJob{domain: a.Domain, integrationID: in.ID, customerID: t.CustomerID, call: call})
	}
}

// ticketVarsLocked is the template context of a ticket event.
func (e *Emulator) ticketVarsLocked(a *account, t *ticket, evType string, u *user) map[string]any {
	tv, _ := toAny(a.ticketOut(t)).(map[string]any)
	if tv == nil {
		tv = map[string]any{}
	}
	tv["account"] = map[string]any{"domain": a.Domain}
	ev := map[string]any{"type": evType, "object_id": json.Number(itoa(t.ID)), "created_datetime": fmtStamp(e.now())}
	vars := map[string]any{"ticket": tv, "event": ev, "context": map[string]any{"ticket": tv, "event": ev}}
	if u != nil {
		vars["current_user"] = toAny(u.ref())
	}
	return vars
}

func (e *Emulator) listTickets(w http.ResponseWriter, r *http.Request, _ principal) {
	pq, ok := parsePage(w, r, true)
	if !ok {
		return
	}
	q := r.URL.Query()
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.accountOf(r)
	var ids []int64
	for _, id := range sortedIDs(a.tickets) {
		t := a.tickets[id]
		if v := q.Get("customer_id"); v != "" && itoa(t.CustomerID) != v {
			continue
		}
		if v := q.Get("external_id"); v != "" && (t.ExternalID == nil || *t.ExternalID != v) {
			continue
		}
		ids = append(ids, id)
	}
	writeListPage(w, r, pq, ids, func(id int64) ticketOut {
		o := a.ticketOut(a.tickets[id])
		o.Messages = []messageOut{} // lists omit messages
		return o
	})
}

func (e *Emulator) createTicket(w http.ResponseWriter, r *http.Request, p principal) {
	var in ticketInput
	if !readJSON(w, r, &in) {
		return
	}
	errs := map[string]any{}
	if len(in.Messages) == 0 || len(in.Messages) > 500 {
		errs["messages"] = []string{"Between 1 and 500 messages are required."}
	}
	msgErrs := map[string]any{}
	for i := range in.Messages {
		if me := validateMessage(&in.Messages[i]); len(me) > 0 {
			msgErrs[strconv.Itoa(i)] = me
		}
	}
	if len(msgErrs) > 0 {
		errs["messages"] = msgErrs
	}
	if in.Status != nil && *in.Status != "open" && *in.Status != "closed" {
		errs["status"] = []string{"Must be one of: open, closed."}
	}
	if in.Priority != nil && !slices.Contains(priorities, *in.Priority) {
		errs["priority"] = []string{"Must be one of: critical, high, normal, low."}
	}
	if in.Subject != nil && len(*in.Subject) > 998 {
		errs["subject"] = []string{"Longer than maximum length 998."}
	}
	if len(errs) > 0 {
		writeErrorData(w, http.StatusBadRequest, "Failed to create ticket.", errs)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.accountOf(r)
	cust := e.findOrCreateCustomerLocked(a, in.Customer)
	if cust == nil {
		for i := range in.Messages {
			if m := &in.Messages[i]; !*m.FromAgent {
				if cust = e.findOrCreateCustomerLocked(a, m.Sender); cust != nil {
					break
				}
			}
		}
	}
	if cust == nil {
		for i := range in.Messages {
			if cust = e.findOrCreateCustomerLocked(a, in.Messages[i].Receiver); cust != nil {
				break
			}
		}
	}
	if cust == nil {
		writeErrorData(w, http.StatusBadRequest, "Failed to create ticket.", map[string][]string{"customer": {"A customer (id or email) or a customer sender is required."}})
		return
	}
	now := e.now()
	t := &ticket{ID: e.nextID(), Status: "open", Priority: "normal", Channel: "api", Via: "api", CustomerID: cust.ID, Created: now, Updated: now, Opened: now, Meta: in.Meta}
	if in.Channel != nil {
		t.Channel = *in.Channel
	} else if in.Messages[0].Channel != nil {
		t.Channel = *in.Messages[0].Channel
	}
	if in.Via != nil {
		t.Via = *in.Via
	}
	if in.FromAgent != nil {
		t.FromAgent = *in.FromAgent
	}
	if in.Subject != nil {
		t.Subject = *in.Subject
	} else {
		t.Subject = in.Messages[0].Subject
	}
	if in.Status != nil {
		setTicketStatus(t, *in.Status, now)
	}
	if in.Priority != nil {
		t.Priority = *in.Priority
	}
	if in.ExternalID != nil {
		t.ExternalID = strPtr(string(*in.ExternalID))
	}
	t.Language = in.Language
	if in.Spam != nil {
		t.Spam = *in.Spam
	}
	if in.Tags != nil {
		t.Tags = e.addTagsLocked(a, nil, a.tagNames(*in.Tags))
	}
	if in.AssigneeUser != nil {
		t.AssigneeUser = assigneeID(a, *in.AssigneeUser)
	}
	a.tickets[t.ID] = t
	for i := range in.Messages {
		e.newMessageLocked(a, t, &in.Messages[i], p.user)
	}
	e.emitLocked(a, t, "ticket-created", "Ticket", t.ID, p.user)
	emukit.WriteJSON(w, http.StatusCreated, a.ticketOut(t))
}

// assigneeID reads {"id": n} / null.
func assigneeID(a *account, raw json.RawMessage) *int64 {
	var ref personInput
	if json.Unmarshal(raw, &ref) != nil {
		return nil
	}
	u := a.userByID(int64(ref.ID))
	if u == nil && ref.Email != "" {
		u = a.userByEmail(ref.Email)
	}
	if u == nil {
		return nil
	}
	id := u.ID
	return &id
}

func (e *Emulator) ticketByPath(w http.ResponseWriter, r *http.Request, a *account) *ticket {
	return byPath(w, r, a.tickets)
}

func (e *Emulator) getTicket(w http.ResponseWriter, r *http.Request, _ principal) {
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.accountOf(r)
	if t := e.ticketByPath(w, r, a); t != nil {
		emukit.WriteJSON(w, http.StatusOK, a.ticketOut(t))
	}
}

func (e *Emulator) updateTicket(w http.ResponseWriter, r *http.Request, p principal) {
	var in ticketInput
	if !readJSON(w, r, &in) {
		return
	}
	if in.Status != nil && *in.Status != "open" && *in.Status != "closed" {
		writeErrorData(w, http.StatusBadRequest, "Failed to update ticket.", map[string][]string{"status": {"Must be one of: open, closed."}})
		return
	}
	if in.Priority != nil && !slices.Contains(priorities, *in.Priority) {
		writeErrorData(w, http.StatusBadRequest, "Failed to update ticket.", map[string][]string{"priority": {"Must be one of: critical, high, normal, low."}})
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.accountOf(r)
	t := e.ticketByPath(w, r, a)
	if t == nil {
		return
	}
	now := e.now()
	statusChanged, assignChanged := false, false
	if in.Subject != nil {
		t.Subject = *in.Subject
	}
	if in.Status != nil && *in.Status != t.Status {
		setTicketStatus(t, *in.Status, now)
		statusChanged = true
	}
	if in.Priority != nil {
		t.Priority = *in.Priority
	}
	if in.Tags != nil {
		t.Tags = e.addTagsLocked(a, nil, a.tagNames(*in.Tags))
	}
	if in.ExternalID != nil {
		t.ExternalID = strPtr(string(*in.ExternalID))
	}
	if in.Language != nil {
		t.Language = in.Language
	}
	if in.Spam != nil {
		t.Spam = *in.Spam
	}
	if in.Meta != nil {
		t.Meta = in.Meta
	}
	if in.Customer != nil {
		if c := e.findOrCreateCustomerLocked(a, in.Customer); c != nil {
			t.CustomerID = c.ID
		}
	}
	if in.AssigneeUser != nil {
		old := t.AssigneeUser
		t.AssigneeUser = assigneeID(a, *in.AssigneeUser)
		assignChanged = (old == nil) != (t.AssigneeUser == nil) || (old != nil && *old != *t.AssigneeUser)
	}
	t.Updated = now
	e.emitLocked(a, t, "ticket-updated", "Ticket", t.ID, p.user)
	if statusChanged {
		e.emitLocked(a, t, "ticket-status-updated", "Ticket", t.ID, p.user)
	}
	if assignChanged {
		e.emitLocked(a, t, "ticket-assignment-updated", "Ticket", t.ID, p.user)
	}
	emukit.WriteJSON(w, http.StatusOK, a.ticketOut(t))
}

// ticketTags implements POST (add, 201), PUT (replace, 202) and DELETE
// (remove, 204) /api/tickets/{id}/tags with {"ids":[…],"names":[…]}.
func (e *Emulator) ticketTags(w http.ResponseWriter, r *http.Request, p principal) {
	var in struct {
		IDs   []flexID `json:"ids"`
		Names []string `json:"names"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.accountOf(r)
	t := e.ticketByPath(w, r, a)
	if t == nil {
		return
	}
	refs := make([]tagInput, 0, len(in.IDs)+len(in.Names))
	for _, id := range in.IDs {
		refs = append(refs, tagInput{ID: id})
	}
	for _, n := range in.Names {
		refs = append(refs, tagInput{Name: n})
	}
	names := a.tagNames(refs)
	status := http.StatusCreated
	switch r.Method {
	case http.MethodPost:
		t.Tags = e.addTagsLocked(a, t.Tags, names)
	case http.MethodPut:
		t.Tags = e.addTagsLocked(a, nil, names)
		status = http.StatusAccepted
	case http.MethodDelete:
		t.Tags = slices.DeleteFunc(t.Tags, func(n string) bool {
			return slices.ContainsFunc(names, func(x string) bool { return strings.EqualFold(x, n) })
		})
		status = http.StatusNoContent
	}
	t.Updated = e.now()
	e.emitLocked(a, t, "ticket-updated", "Ticket", t.ID, p.user)
	w.WriteHeader(status)
}

func (e *Emulator) createMessage(w http.ResponseWriter, r *http.Request, p principal) {
	var in messageInput
	if !readJSON(w, r, &in) {
		return
	}
	if errs := validateMessage(&in); len(errs) > 0 {
		writeErrorData(w, http.StatusBadRequest, "Failed to create message.", errs)
		return
	}
	switch act := r.URL.Query().Get("action"); act {
	case "", "force", "retry", "cancel":
	default:
		writeErrorData(w, http.StatusBadRequest, "Invalid request.", map[string][]string{"action": {fmt.Sprintf("Unknown action %q.", act)}})
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.accountOf(r)
	t := e.ticketByPath(w, r, a)
	if t == nil {
		return
	}
	m := e.newMessageLocked(a, t, &in, p.user)
	t.Updated = e.now()
	if !m.FromAgent && t.Status == "closed" {
		setTicketStatus(t, "open", t.Updated)
	}
	e.emitLocked(a, t, "ticket-message-created", "TicketMessage", m.ID, p.user)
	emukit.WriteJSON(w, http.StatusCreated, m.out())
}

func (e *Emulator) listTicketMessages(w http.ResponseWriter, r *http.Request, _ principal) {
	pq, ok := parsePage(w, r, false)
	if !ok {
		return
	}
	if r.URL.Query().Get("limit") == "" {
		pq.limit = maxLimit
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.accountOf(r)
	t := e.ticketByPath(w, r, a)
	if t == nil {
		return
	}
	ids := make([]int64, 0, len(t.Messages))
	for _, m := range t.Messages {
		ids = append(ids, m.ID)
	}
	slices.Sort(ids)
	writeListPage(w, r, pq, ids, func(id int64) messageOut { return a.messages[id].out() })
}

func (e *Emulator) getMessage(w http.ResponseWriter, r *http.Request, _ principal) {
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.accountOf(r)
	t := e.ticketByPath(w, r, a)
	if t == nil {
		return
	}
	mid, _ := pathID(r, "mid")
	if m := a.messages[mid]; m != nil && m.TicketID == t.ID {
		emukit.WriteJSON(w, http.StatusOK, m.out())
		return
	}
	writeNotFound(w)
}

func (e *Emulator) listMessages(w http.ResponseWriter, r *http.Request, _ principal) {
	pq, ok := parsePage(w, r, true)
	if !ok {
		return
	}
	tid := r.URL.Query().Get("ticket_id")
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.accountOf(r)
	var ids []int64
	for _, id := range sortedIDs(a.messages) {
		if tid == "" || itoa(a.messages[id].TicketID) == tid {
			ids = append(ids, id)
		}
	}
	writeListPage(w, r, pq, ids, func(id int64) messageOut { return a.messages[id].out() })
}

func (e *Emulator) listTags(w http.ResponseWriter, r *http.Request, _ principal) {
	pq, ok := parsePage(w, r, true)
	if !ok {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.accountOf(r)
	byID := map[int64]*tag{}
	for _, tg := range a.tags {
		byID[tg.ID] = tg
	}
	writeListPage(w, r, pq, sortedIDs(byID), func(id int64) *tag { return byID[id] })
}

func (e *Emulator) listEvents(w http.ResponseWriter, r *http.Request, _ principal) {
	pq, ok := parsePage(w, r, true)
	if !ok {
		return
	}
	q := r.URL.Query()
	var types []string
	for _, v := range q["types"] {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				types = append(types, t)
			}
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.accountOf(r)
	byID := map[int64]*event{}
	for _, ev := range a.events {
		if v := q.Get("object_type"); v != "" && !strings.EqualFold(ev.ObjectType, v) {
			continue
		}
		if v := q.Get("object_id"); v != "" && itoa(ev.ObjectID) != v {
			continue
		}
		if len(types) > 0 && !slices.Contains(types, ev.Type) {
			continue
		}
		byID[ev.ID] = ev
	}
	writeListPage(w, r, pq, sortedIDs(byID), func(id int64) *event { return byID[id] })
}

func (e *Emulator) getAccount(w http.ResponseWriter, r *http.Request, _ principal) {
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.accountOf(r)
	emukit.WriteJSON(w, http.StatusOK, map[string]any{
		"domain": a.Domain, "created_datetime": stamp(a.Created), "status": map[string]any{"status": "active"},
		"settings": []any{}, "meta": map[string]any{}, "user_id": a.admin().ID,
	})
}

// getUser implements GET /api/users/{id}; id 0 is the caller.
func (e *Emulator) getUser(w http.ResponseWriter, r *http.Request, p principal) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeNotFound(w)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	u := p.user
	if id != 0 {
		u = e.accountOf(r).userByID(id)
	}
	if u == nil {
		writeNotFound(w)
		return
	}
	out := u.ref()
	out["role"] = map[string]any{"name": u.Role}
	out["uri"] = "/api/users/" + itoa(u.ID) + "/"
	emukit.WriteJSON(w, http.StatusOK, out)
}
