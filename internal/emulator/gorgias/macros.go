package gorgias

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"switchyard/internal/emulator/emukit"
)

type macroInput struct {
	ExternalID *flexString     `json:"external_id"`
	Name       *string         `json:"name"`
	Intent     *string         `json:"intent"`
	Language   *string         `json:"language"`
	Actions    *[]macroAction  `json:"actions"`
	Archived   json.RawMessage `json:"archived_datetime"`
}

// validateActions checks the shape of every action, in particular the
// arguments of "http" actions.
func validateActions(acts []macroAction) map[string][]string {
	errs := map[string][]string{}
	for i, a := range acts {
		key := fmt.Sprintf("actions.%d", i)
		if strings.TrimSpace(a.Name) == "" {
			errs[key+".name"] = missingField
			continue
		}
		if a.Name != "http" {
			continue
		}
		var args httpActionArgs
		if err := json.Unmarshal(rawOrEmpty(a.Arguments), &args); err != nil {
			errs[key+".arguments"] = []string{"Invalid http action arguments: " + err.Error()}
			continue
		}
		if strings.TrimSpace(args.URL) == "" {
			errs[key+".arguments.url"] = missingField
		} else if !strings.HasPrefix(args.URL, "http://") && !strings.HasPrefix(args.URL, "https://") {
			errs[key+".arguments.url"] = []string{"Not a valid URL (http or https)."}
		}
		if m := strings.ToUpper(args.Method); m != "" && !slices.Contains(httpMethods, m) {
			errs[key+".arguments.method"] = []string{"Must be one of: " + strings.Join(httpMethods, ", ") + "."}
		}
		if ct := args.ContentType; ct != "" && ct != "application/json" && ct != "application/x-www-form-urlencoded" {
			errs[key+".arguments.content_type"] = []string{"Must be application/json or application/x-www-form-urlencoded."}
		}
	}
	return errs
}

func rawOrEmpty(b json.RawMessage) []byte {
	if len(bytes.TrimSpace(b)) == 0 || string(bytes.TrimSpace(b)) == "null" {
		return []byte("{}")
	}
	return b
}

func (e *Emulator) applyMacroInput(m *macro, in *macroInput) {
	if in.ExternalID != nil {
		m.ExternalID = strPtr(string(*in.ExternalID))
	}
	if in.Name != nil {
		m.Name = strings.TrimSpace(*in.Name)
	}
	if in.Intent != nil {
		m.Intent = in.Intent
	}
	if in.Language != nil {
		m.Language = in.Language
	}
	if in.Actions != nil {
		m.Actions = nil
		for _, a := range *in.Actions {
			if a.Type == "" {
				a.Type = "user"
			}
			if a.Arguments == nil {
				a.Arguments = json.RawMessage("{}")
			}
			m.Actions = append(m.Actions, a)
		}
	}
	if in.Archived != nil {
		if string(bytes.TrimSpace(in.Archived)) == "null" {
			m.Archived = time.Time{}
		} else if m.Archived.IsZero() {
			m.Archived = e.now()
		}
	}
}

func (e *Emulator) listMacros(w http.ResponseWriter, r *http.Request, _ principal) {
	pq, ok := parsePage(w, r, true)
	if !ok {
		return
	}
	q := r.URL.Query()
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.accountOf(r)
	search := strings.ToLower(q.Get("search"))
	var ids []int64
	for _, id := range sortedIDs(a.macros) {
		m := a.macros[id]
		if search != "" && !strings.Contains(strings.ToLower(m.Name), search) {
			continue
		}
		if v := q.Get("archived"); v != "" && (v == "true") != !m.Archived.IsZero() {
			continue
		}
		ids = append(ids, id)
	}
	writeListPage(w, r, pq, ids, func(id int64) macroOut { return a.macros[id].out() })
}

func (e *Emulator) createMacro(w http.ResponseWriter, r *http.Request, _ principal) {
	var in macroInput
	if !readJSON(w, r, &in) {
		return
	}
	errs := map[string][]string{}
	if in.Name == nil || strings.TrimSpace(*in.Name) == "" {
		errs["name"] = missingField
	}
	if in.Actions != nil {
		for k, v := range validateActions(*in.Actions) {
			errs[k] = v
		}
	}
	if len(errs) > 0 {
		writeErrorData(w, http.StatusBadRequest, "Failed to create macro.", errs)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	m := &macro{ID: e.nextID(), Created: now, Updated: now}
	e.applyMacroInput(m, &in)
	e.accountOf(r).macros[m.ID] = m
	emukit.WriteJSON(w, http.StatusCreated, m.out())
}

func (e *Emulator) macroByID(w http.ResponseWriter, r *http.Request, a *account, name string) *macro {
	id, ok := pathID(r, name)
	if m := a.macros[id]; ok && m != nil {
		return m
	}
	writeNotFound(w)
	return nil
}

func (e *Emulator) getMacro(w http.ResponseWriter, r *http.Request, _ principal) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if m := e.macroByID(w, r, e.accountOf(r), "id"); m != nil {
		emukit.WriteJSON(w, http.StatusOK, m.out())
	}
}

func (e *Emulator) updateMacro(w http.ResponseWriter, r *http.Request, _ principal) {
	var in macroInput
	if !readJSON(w, r, &in) {
		return
	}
	errs := map[string][]string{}
	if in.Name != nil && strings.TrimSpace(*in.Name) == "" {
		errs["name"] = []string{"Must not be empty."}
	}
	if in.Actions != nil {
		for k, v := range validateActions(*in.Actions) {
			errs[k] = v
		}
	}
	if len(errs) > 0 {
		writeErrorData(w, http.StatusBadRequest, "Failed to update macro.", errs)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	m := e.macroByID(w, r, e.accountOf(r), "id")
	if m == nil {
		return
	}
	e.applyMacroInput(m, &in)
	m.Updated = e.now()
	emukit.WriteJSON(w, http.StatusOK, m.out())
}

func (e *Emulator) deleteMacro(w http.ResponseWriter, r *http.Request, _ principal) {
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.accountOf(r)
	if m := e.macroByID(w, r, a, "id"); m != nil {
		delete(a.macros, m.ID)
		w.WriteHeader(http.StatusNoContent)
	}
}

// ---- applying macros -------------------------------------------------------

// ActionResult reports one macro action of an apply.
type ActionResult struct {
	Name       string          `json:"name"`
	Status     string          `json:"status"` // applied | skipped | failed
	HTTPStatus int             `json:"http_status,omitempty"`
	Error      string          `json:"error,omitempty"`
	Response   json.RawMessage `json:"response,omitempty"`
	Request    *CallRecord     `json:"request,omitempty"`
}

// CallRecord describes an outbound call the emulator made (no secrets are
// hidden: it is an emulator).
type CallRecord struct {
	Method string `json:"method"`
	URL    string `json:"url"`
}

type applyInput struct {
	Values    map[string]flexString `json:"values"`
	UserID    flexID                `json:"user_id"`
	UserEmail string                `json:"user_email"`
}

// applyError is a refused apply (status + message + field data).
type applyError struct {
	status int
	msg    string
	data   any
}

// applyMacro runs macro mID on ticket tID of account domain: ticket
// actions under the lock, then the HTTP actions (synchronously, in order)
// without it.
func (e *Emulator) applyMacro(ctx context.Context, domain string, tID, mID int64, in applyInput, caller *user) (*ticketOut, []ActionResult, *applyError) {
	e.mu.Lock()
	a := e.accounts[domain]
	if a == nil {
		e.mu.Unlock()
		return nil, nil, &applyError{status: http.StatusNotFound, msg: "Account not found."}
	}
	t, m := a.tickets[tID], a.macros[mID]
	if t == nil || m == nil {
		e.mu.Unlock()
		return nil, nil, &applyError{status: http.StatusNotFound, msg: "Resource not found."}
	}
	agent := caller
	if in.UserID != 0 {
		agent = a.userByID(int64(in.UserID))
	} else if in.UserEmail != "" {
		agent = a.userByEmail(in.UserEmail)
	}
	if agent == nil {
		if in.UserID != 0 || in.UserEmail != "" {
			e.mu.Unlock()
			return nil, nil, &applyError{status: http.StatusBadRequest, msg: "Unknown user.", data: map[string][]string{"user_id": {"No such user in this account."}}}
		}
		agent = a.admin()
	}
	values := map[string]string{}
	for k, v := range in.Values {
		values[k] = string(v)
	}
	if bad := nonEditable(m.Actions, values); len(bad) > 0 {
		e.mu.Unlock()
		return nil, nil, &applyError{status: http.StatusBadRequest, msg: "Some values cannot be edited.", data: map[string][]string{"values": bad}}
	}
	vars := e.ticketVarsLocked(a, t, "macro-applied", agent)
	results := make([]ActionResult, len(m.Actions))
	calls := map[int]outCall{}
	changed, statusChanged := false, false
	var newMsgs []*message
	now := e.now()
	for i, act := range m.Actions {
		results[i] = ActionResult{Name: act.Name, Status: "applied"}
		var args map[string]any
		_ = json.Unmarshal(rawOrEmpty(act.Arguments), &args)
		str := func(k string) string { return renderTemplate(stringify(args[k]), vars, nil) }
		switch act.Name {
		case "http":
			var ha httpActionArgs
			if err := json.Unmarshal(rawOrEmpty(act.Arguments), &ha); err != nil {
				results[i].Status, results[i].Error = "failed", err.Error()
				continue
			}
			call, err := buildActionCall(ha, values, vars)
			if err != nil {
				results[i].Status, results[i].Error = "failed", err.Error()
				continue
			}
			calls[i] = call
			results[i].Request = &CallRecord{Method: call.Method, URL: call.URL}
		case "addTags", "removeTags":
			names := tagList(args["tags"])
			if act.Name == "addTags" {
				before := len(t.Tags)
				t.Tags = e.addTagsLocked(a, t.Tags, names)
				changed = changed || len(t.Tags) != before
			} else {
				before := len(t.Tags)
				t.Tags = slices.DeleteFunc(t.Tags, func(n string) bool {
					return slices.ContainsFunc(names, func(x string) bool { return strings.EqualFold(x, n) })
				})
				changed = changed || len(t.Tags) != before
			}
		case "setStatus":
			st := str("status")
			if st != "open" && st != "closed" {
				results[i].Status, results[i].Error = "failed", "status must be open or closed"
				continue
			}
			if st != t.Status {
				setTicketStatus(t, st, now)
				changed, statusChanged = true, true
			}
		case "setSubject":
			t.Subject, changed = str("subject"), true
		case "setPriority":
			t.Priority, changed = str("priority"), true
		case "addInternalNote", "setResponseText":
			msg := &message{ID: e.nextID(), TicketID: t.ID, FromAgent: true, BodyText: str("body_text"), BodyHTML: str("body_html"),
				Sender: &person{ID: agent.ID, Email: agent.Email, Name: agent.Name}, Created: now, Sent: now, Via: "helpdesk"}
			if act.Name == "addInternalNote" {
				msg.Channel, msg.Public = "internal-note", false
			} else {
				msg.Channel, msg.Public = t.Channel, true
				if c := a.customers[t.CustomerID]; c != nil {
					msg.Receiver = &person{ID: c.ID, Email: c.Email, Name: c.Name}
				}
			}
			if msg.BodyText == "" && msg.BodyHTML == "" {
				results[i].Status, results[i].Error = "failed", "body_text or body_html is required"
				continue
			}
			t.Messages = append(t.Messages, msg)
			a.messages[msg.ID] = msg
			newMsgs = append(newMsgs, msg)
		default:
			results[i].Status = "skipped"
		}
	}
	m.Usage++
	if changed {
		t.Updated = now
		e.emitLocked(a, t, "ticket-updated", "Ticket", t.ID, agent)
		if statusChanged {
			e.emitLocked(a, t, "ticket-status-updated", "Ticket", t.ID, agent)
		}
	}
	for _, msg := range newMsgs {
		t.Updated = now
		e.emitLocked(a, t, "ticket-message-created", "TicketMessage", msg.ID, agent)
	}
	e.mu.Unlock()

	for i := range m.Actions {
		call, ok := calls[i]
		if !ok {
			continue
		}
		status, body, err := e.doCall(ctx, call)
		results[i].HTTPStatus = status
		switch {
		case err != nil:
			results[i].Status, results[i].Error = "failed", err.Error()
		case status < 200 || status > 299:
			results[i].Status, results[i].Error = "failed", fmt.Sprintf("HTTP %d", status)
		}
		if json.Valid(body) && len(bytes.TrimSpace(body)) > 0 {
			results[i].Response = body
		}
	}
	e.mu.Lock()
	out := a.ticketOut(t)
	e.mu.Unlock()
	return &out, results, nil
}

// nonEditable lists supplied keys that match no editable HTTP-action row.
func nonEditable(acts []macroAction, values map[string]string) []string {
	editable := map[string]bool{}
	for _, act := range acts {
		if act.Name != "http" {
			continue
		}
		var ha httpActionArgs
		if json.Unmarshal(rawOrEmpty(act.Arguments), &ha) != nil {
			continue
		}
		for _, rows := range [][]kv{ha.Headers, ha.Params, ha.Form} {
			for _, row := range rows {
				if row.Editable {
					editable[row.Key] = true
				}
			}
		}
	}
	var bad []string
	for k := range values {
		if !editable[k] {
			bad = append(bad, fmt.Sprintf("%q is not an editable argument of this macro.", k))
		}
	}
	slices.Sort(bad)
	return bad
}

// tagList reads "a, b" or ["a","b"].
func tagList(v any) []string {
	var out []string
	switch x := v.(type) {
	case string:
		for _, s := range strings.Split(x, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	case []any:
		for _, e := range x {
			switch y := e.(type) {
			case string:
				out = append(out, strings.TrimSpace(y))
			case map[string]any:
				if n, _ := y["name"].(string); n != "" {
					out = append(out, n)
				}
			}
		}
	}
	return out
}

// rowValue is the row's value, replaced by the supplied one when editable.
func rowValue(row kv, values map[string]string, vars any) string {
	if v, ok := values[row.Key]; ok && bool(row.Editable) {
		return v
	}
	return renderTemplate(string(row.Value), vars, nil)
}

// buildActionCall renders a macro HTTP action into a request.
func buildActionCall(ha httpActionArgs, values map[string]string, vars any) (outCall, error) {
	method := strings.ToUpper(strings.TrimSpace(ha.Method))
	if method == "" {
		method = "GET"
	}
	u, err := url.Parse(renderURL(ha.URL, vars))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return outCall{}, fmt.Errorf("invalid rendered url %q", ha.URL)
	}
	if len(ha.Params) > 0 {
		q := u.Query()
		for _, row := range ha.Params {
			q.Add(row.Key, rowValue(row, values, vars))
		}
		u.RawQuery = q.Encode()
	}
	call := outCall{Method: method, URL: u.String(), Header: http.Header{}}
	for _, row := range ha.Headers {
		call.Header.Set(row.Key, rowValue(row, values, vars))
	}
	if method == "GET" || method == "HEAD" {
		return call, nil
	}
	ct := ha.ContentType
	if ct == "" {
		ct = "application/json"
	}
	call.Header.Set("Content-Type", ct)
	if ct == "application/x-www-form-urlencoded" {
		f := url.Values{}
		for _, row := range ha.Form {
			f.Add(row.Key, rowValue(row, values, vars))
		}
		call.Body = []byte(f.Encode())
		return call, nil
	}
	var body any
	if js := bytes.TrimSpace(ha.JSON); len(js) > 0 && string(js) != "null" && string(js) != "{}" {
		tpl, err := decodeAny(js)
		if err != nil {
			return outCall{}, fmt.Errorf("invalid json argument: %w", err)
		}
		body = renderJSONTemplate(tpl, vars)
	} else {
		obj := map[string]any{}
		for _, row := range ha.Form {
			if v, ok := values[row.Key]; ok && bool(row.Editable) {
				obj[row.Key] = v
			} else {
				obj[row.Key] = renderValue(string(row.Value), vars)
			}
		}
		body = obj
	}
	b, err := json.Marshal(body)
	if err != nil {
		return outCall{}, fmt.Errorf("error encoding body: %w", err)
	}
	call.Body = b
	return call, nil
}

// renderJSONTemplate renders every string inside a JSON template.
func renderJSONTemplate(v any, vars any) any {
	switch x := v.(type) {
	case string:
		return renderValue(x, vars)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = renderJSONTemplate(e, vars)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = renderJSONTemplate(e, vars)
		}
		return out
	}
	return v
}

// renderURL renders a URL template: values substituted before the first
// "?" are path-escaped, after it query-escaped.
func renderURL(tpl string, vars any) string {
	base, query, hasQuery := strings.Cut(tpl, "?")
	out := renderTemplate(base, vars, url.PathEscape)
	if hasQuery {
		out += "?" + renderTemplate(query, vars, url.QueryEscape)
	}
	return out
}

func (e *Emulator) applyMacroAPI(w http.ResponseWriter, r *http.Request, p principal) {
	var in applyInput
	if !readJSON(w, r, &in) {
		return
	}
	tID, ok1 := pathID(r, "id")
	mID, ok2 := pathID(r, "macro")
	if !ok1 || !ok2 {
		writeNotFound(w)
		return
	}
	domain, _ := r.Context().Value(ctxAccount).(string)
	t, results, aerr := e.applyMacro(r.Context(), domain, tID, mID, in, p.user)
	if aerr != nil {
		writeErrorData(w, aerr.status, aerr.msg, aerr.data)
		return
	}
	emukit.WriteJSON(w, http.StatusOK, map[string]any{"ticket": t, "actions": results})
}
