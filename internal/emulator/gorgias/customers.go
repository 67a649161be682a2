package gorgias

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"switchyard/internal/emulator/emukit"
)

// customerInput is the body of POST/PUT /api/customers; nil = not sent.
type customerInput struct {
	Email      *string         `json:"email"`
	Name       *string         `json:"name"`
	Firstname  *string         `json:"firstname"`
	Lastname   *string         `json:"lastname"`
	ExternalID *flexString     `json:"external_id"`
	Language   *string         `json:"language"`
	Timezone   *string         `json:"timezone"`
	Note       *string         `json:"note"`
	Channels   *[]channel      `json:"channels"`
	Data       json.RawMessage `json:"data"`
	Meta       json.RawMessage `json:"meta"`
	Active     *bool           `json:"active"`
}

// createErrors checks what POST /api/customers requires: channels, each
// with a type and an address.
func (in *customerInput) createErrors() map[string][]string {
	errs := map[string][]string{}
	if in.Channels == nil {
		errs["channels"] = missingField
		return errs
	}
	for i, ch := range *in.Channels {
		if strings.TrimSpace(ch.Type) == "" {
			errs["channels."+strconv.Itoa(i)+".type"] = missingField
		}
		if strings.TrimSpace(ch.Address) == "" {
			errs["channels."+strconv.Itoa(i)+".address"] = missingField
		}
	}
	return errs
}

func normEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// primaryEmail is the email field, else the first email channel.
func (in *customerInput) primaryEmail() string {
	if in.Email != nil && strings.TrimSpace(*in.Email) != "" {
		return strings.TrimSpace(*in.Email)
	}
	if in.Channels != nil {
		for _, ch := range *in.Channels {
			if ch.Type == "email" && ch.Address != "" {
				return ch.Address
			}
		}
	}
	return ""
}

// applyCustomerInput copies the sent fields onto c (emails handled by the
// caller). On create, "data" is not a field of the contract and is dropped:
// custom data is written only by PUT /api/customers/{id}/data.
func (e *Emulator) applyCustomerInput(c *customer, in *customerInput, create bool) {
	if in.Name != nil {
		c.Name = *in.Name
	}
	if in.Firstname != nil {
		c.Firstname = *in.Firstname
	}
	if in.Lastname != nil {
		c.Lastname = *in.Lastname
	}
	if c.Name == "" && (c.Firstname != "" || c.Lastname != "") {
		c.Name = strings.TrimSpace(c.Firstname + " " + c.Lastname)
	}
	if c.Firstname == "" && c.Lastname == "" && c.Name != "" {
		f, l, _ := strings.Cut(c.Name, " ")
		c.Firstname, c.Lastname = f, l
	}
	if in.ExternalID != nil {
		c.ExternalID = strPtr(string(*in.ExternalID))
	}
	if in.Language != nil {
		c.Language = in.Language
	}
	if in.Timezone != nil {
		c.Timezone = *in.Timezone
	}
	if in.Note != nil {
		c.Note = in.Note
	}
	if in.Channels != nil {
		c.Channels = nil
		for _, ch := range *in.Channels {
			if ch.ID == 0 {
				ch.ID = e.nextID()
			}
			c.Channels = append(c.Channels, ch)
		}
	}
	if in.Data != nil && !create {
		c.Data = in.Data
	}
	if in.Meta != nil {
		c.Meta = in.Meta
	}
	if in.Active != nil {
		c.Active = *in.Active
	}
}

// setEmailLocked changes c's primary email, keeping the index and an email
// channel in step.
func (a *account) setEmail(c *customer, email string) {
	if c.Email != "" {
		delete(a.byEmail, normEmail(c.Email))
	}
	c.Email = email
	if email == "" {
		return
	}
	a.byEmail[normEmail(email)] = c.ID
	for _, ch := range c.Channels {
		if ch.Type == "email" && strings.EqualFold(ch.Address, email) {
			return
		}
	}
	c.Channels = append(c.Channels, channel{Type: "email", Address: email, Preferred: len(c.Channels) == 0})
}

// newCustomerLocked creates a customer (email uniqueness checked by the caller).
func (e *Emulator) newCustomerLocked(a *account, in *customerInput) *customer {
	now := e.now()
	c := &customer{ID: e.nextID(), Created: now, Updated: now, Timezone: "UTC", Active: true, Integrations: map[string]json.RawMessage{}}
	e.applyCustomerInput(c, in, true)
	for i := range c.Channels {
		if c.Channels[i].ID == 0 {
			c.Channels[i].ID = e.nextID()
		}
	}
	a.customers[c.ID] = c
	a.setEmail(c, in.primaryEmail())
	for i := range c.Channels {
		if c.Channels[i].ID == 0 {
			c.Channels[i].ID = e.nextID()
		}
	}
	a.events = append(a.events, e.newEvent(a, "customer-created", "Customer", c.ID, nil))
	return c
}

// findOrCreateCustomerLocked resolves a {id}/{email,name} reference.
func (e *Emulator) findOrCreateCustomerLocked(a *account, ref *personInput) *customer {
	if ref == nil {
		return nil
	}
	if ref.ID != 0 {
		return a.customers[int64(ref.ID)]
	}
	if ref.Email == "" {
		return nil
	}
	if id, ok := a.byEmail[normEmail(ref.Email)]; ok {
		return a.customers[id]
	}
	email, name := ref.Email, ref.Name
	in := &customerInput{Email: &email}
	if name != "" {
		in.Name = &name
	}
	if ref.Firstname != "" {
		in.Firstname = &ref.Firstname
	}
	if ref.Lastname != "" {
		in.Lastname = &ref.Lastname
	}
	return e.newCustomerLocked(a, in)
}

// customerByPath resolves {id}; merged ids answer 301 to the target.
func (e *Emulator) customerByPath(w http.ResponseWriter, r *http.Request, a *account, suffix string) *customer {
	id, ok := pathID(r, "id")
	if !ok {
		writeNotFound(w)
		return nil
	}
	if c := a.customers[id]; c != nil {
		return c
	}
	if target, ok := a.merged[id]; ok {
		// The documented answer: "301 Moved Permanently – Customer was
		// merged with another one", empty body, no Location (Config.MergeLocation
		// adds one to exercise clients that follow it).
		if e.cfg.MergeLocation {
			w.Header().Set("Location", prefixOf(r)+"/api/customers/"+strconv.FormatInt(target, 10)+suffix)
		}
		w.WriteHeader(http.StatusMovedPermanently)
		return nil
	}
	writeNotFound(w)
	return nil
}

func (e *Emulator) listCustomers(w http.ResponseWriter, r *http.Request, _ principal) {
	pq, ok := parsePage(w, r, true)
	if !ok {
		return
	}
	q := r.URL.Query()
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.accountOf(r)
	var ids []int64
	email := normEmail(q.Get("email"))
	for _, id := range sortedIDs(a.customers) {
		c := a.customers[id]
		if email != "" && !customerHasEmail(c, email) {
			continue
		}
		if v := q.Get("external_id"); v != "" && (c.ExternalID == nil || *c.ExternalID != v) {
			continue
		}
		if v := q.Get("name"); v != "" && !strings.EqualFold(c.Name, v) {
			continue
		}
		if v := q.Get("channel_address"); v != "" && !customerHasChannel(c, q.Get("channel_type"), v) {
			continue
		}
		ids = append(ids, id)
	}
	writeListPage(w, r, pq, ids, func(id int64) customerOut { return a.customers[id].out() })
}

func customerHasEmail(c *customer, email string) bool {
	if normEmail(c.Email) == email {
		return true
	}
	return customerHasChannel(c, "email", email)
}

func customerHasChannel(c *customer, typ, addr string) bool {
	for _, ch := range c.Channels {
		if (typ == "" || ch.Type == typ) && strings.EqualFold(ch.Address, addr) {
			return true
		}
	}
	return false
}

func (e *Emulator) createCustomer(w http.ResponseWriter, r *http.Request, _ principal) {
	var in customerInput
	if !readJSON(w, r, &in) {
		return
	}
	if errs := in.createErrors(); len(errs) > 0 {
		writeErrorData(w, http.StatusBadRequest, "Failed to create customer.", errs)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.accountOf(r)
	if in.Data != nil {
		a.createDataIgnored++
	}
	if email := in.primaryEmail(); email != "" {
		if _, dup := a.byEmail[normEmail(email)]; dup {
			writeErrorData(w, http.StatusConflict, "The resource already exists.", map[string][]string{"email": {"A customer with this email already exists."}})
			return
		}
	}
	c := e.newCustomerLocked(a, &in)
	emukit.WriteJSON(w, http.StatusCreated, c.out())
}

func (e *Emulator) getCustomer(w http.ResponseWriter, r *http.Request, _ principal) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c := e.customerByPath(w, r, e.accountOf(r), ""); c != nil {
		emukit.WriteJSON(w, http.StatusOK, c.out())
	}
}

func (e *Emulator) updateCustomer(w http.ResponseWriter, r *http.Request, _ principal) {
	var in customerInput
	if !readJSON(w, r, &in) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.accountOf(r)
	c := e.customerByPath(w, r, a, "")
	if c == nil {
		return
	}
	newEmail := c.Email
	if in.Email != nil || in.Channels != nil {
		newEmail = in.primaryEmail()
		if in.Email == nil && newEmail == "" {
			newEmail = c.Email
		}
	}
	if newEmail != "" {
		if id, dup := a.byEmail[normEmail(newEmail)]; dup && id != c.ID {
			writeErrorData(w, http.StatusConflict, "The resource already exists.", map[string][]string{"email": {"A customer with this email already exists."}})
			return
		}
	}
	e.applyCustomerInput(c, &in, false)
	a.setEmail(c, newEmail)
	c.Updated = e.now()
	a.events = append(a.events, e.newEvent(a, "customer-updated", "Customer", c.ID, nil))
	emukit.WriteJSON(w, http.StatusOK, c.out())
}

func (e *Emulator) deleteCustomer(w http.ResponseWriter, r *http.Request, _ principal) {
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.accountOf(r)
	c := e.customerByPath(w, r, a, "")
	if c == nil {
		return
	}
	a.setEmail(c, "")
	delete(a.customers, c.ID)
	w.WriteHeader(http.StatusNoContent)
}

// setCustomerData implements PUT /api/customers/{id}/data: 202, data
// replaced unless the stored version is newer than the given one.
func (e *Emulator) setCustomerData(w http.ResponseWriter, r *http.Request, _ principal) {
	var in struct {
		Data    json.RawMessage `json:"data"`
		Version *string         `json:"version"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	if len(bytes.TrimSpace(in.Data)) == 0 {
		writeErrorData(w, http.StatusBadRequest, "Invalid request.", map[string][]string{"data": missingField})
		return
	}
	var ver time.Time
	if in.Version != nil && strings.TrimSpace(*in.Version) != "" {
		t, ok := parseStamp(*in.Version)
		if !ok {
			writeErrorData(w, http.StatusBadRequest, "Invalid request.", map[string][]string{"version": {"Not a valid datetime."}})
			return
		}
		ver = t
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.accountOf(r)
	c := e.customerByPath(w, r, a, "/data")
	if c == nil {
		return
	}
	if !ver.IsZero() && !c.dataVersion.IsZero() && c.dataVersion.After(ver) {
		e.log.Debug("gorgias emulator: ignored older customer data", "customer_id", c.ID)
		w.WriteHeader(http.StatusAccepted)
		return
	}
	c.Data = append(json.RawMessage(nil), in.Data...)
	if !ver.IsZero() {
		c.dataVersion = ver
	}
	c.Updated = e.now()
	w.WriteHeader(http.StatusAccepted)
}

// mergeCustomers implements PUT /api/customers/merge?source_id&target_id.
func (e *Emulator) mergeCustomers(w http.ResponseWriter, r *http.Request, _ principal) {
	var in customerInput
	if !readJSON(w, r, &in) {
		return
	}
	q := r.URL.Query()
	src, err1 := strconv.ParseInt(q.Get("source_id"), 10, 64)
	tgt, err2 := strconv.ParseInt(q.Get("target_id"), 10, 64)
	if err1 != nil || err2 != nil || src < 1 || tgt < 1 || src == tgt {
		writeErrorData(w, http.StatusBadRequest, "Invalid request.", map[string][]string{"source_id": {"source_id and target_id must be two different ids ≥ 1."}})
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.accountOf(r)
	s, t := a.customers[src], a.customers[tgt]
	if s == nil || t == nil {
		writeNotFound(w)
		return
	}
	for k := range s.Integrations {
		if _, both := t.Integrations[k]; both {
			writeErrorData(w, http.StatusConflict, "Both customers have data for the same integration.", map[string][]string{"integrations": {k}})
			return
		}
	}
	newEmail := t.Email
	if in.Email != nil {
		newEmail = strings.TrimSpace(*in.Email)
	}
	if newEmail != "" {
		if id, dup := a.byEmail[normEmail(newEmail)]; dup && id != t.ID && id != s.ID {
			writeErrorData(w, http.StatusConflict, "The resource already exists.", map[string][]string{"email": {"A customer with this email already exists."}})
			return
		}
	}
	for k, v := range s.Integrations {
		t.Integrations[k] = v
	}
	t.Data = mergeObjects(s.Data, t.Data)
	for _, ch := range s.Channels {
		if !customerHasChannel(t, ch.Type, ch.Address) {
			ch.Preferred = false
			t.Channels = append(t.Channels, ch)
		}
	}
	for _, tk := range a.tickets {
		if tk.CustomerID == s.ID {
			tk.CustomerID = t.ID
		}
	}
	a.setEmail(s, "")
	delete(a.customers, s.ID)
	a.merged[s.ID] = t.ID
	for k, v := range a.merged {
		if v == s.ID {
			a.merged[k] = t.ID
		}
	}
	e.applyCustomerInput(t, &in, false)
	a.setEmail(t, newEmail)
	t.Updated = e.now()
	emukit.WriteJSON(w, http.StatusOK, t.out())
}

// mergeObjects shallow-merges two JSON objects, over winning.
func mergeObjects(under, over json.RawMessage) json.RawMessage {
	var u, o map[string]json.RawMessage
	if json.Unmarshal(under, &u) != nil || u == nil {
		return over
	}
	if json.Unmarshal(over, &o) != nil || o == nil {
		if len(bytes.TrimSpace(over)) == 0 || string(bytes.TrimSpace(over)) == "null" {
			return under
		}
		return over
	}
	for k, v := range o {
		u[k] = v
	}
	b, err := json.Marshal(u)
	if err != nil {
		return over
	}
	return b
}
