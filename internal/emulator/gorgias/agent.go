package gorgias

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed agent.html
var agentHTML string

var agentTmpl = template.Must(template.New("agent").Parse(agentHTML))

// nodeView is one rendered widget-template node.
type nodeView struct {
	Kind     string // wrapper | card | list | item | text, date, url, email, boolean, array, age …
	Title    string
	Path     string
	Children []*nodeView
	Links    []linkView
	Index    int
	Value    string
	Raw      string
	Href     string
}

type linkView struct{ Label, URL string }

type widgetView struct {
	ID    int64
	Type  string
	Title string
	Root  *nodeView
}

type messageView struct {
	ID        int64
	Internal  bool
	FromAgent bool
	Sender    string
	Body      string
	Created   string
}

type macroField struct {
	Key, Value string
}

type macroView struct {
	ID     int64
	Name   string
	Fields []macroField
	Action string
}

type agentPage struct {
	Prefix    string
	Account   string
	Ticket    ticketOut
	Messages  []messageView
	Customer  *customerOut
	Widgets   []widgetView
	Macros    []macroView
	Notice    string
	Tickets   []ticketOut
	Customers bool
}

// maxNodes bounds the rendered nodes of one widget (hostile templates).
const maxNodes = 5000

type buildState struct {
	nodes int
	now   time.Time
}

// buildNode renders template node tpl over data. ok is false when the node
// has nothing to show.
func (bs *buildState) buildNode(tpl map[string]any, data any, base string, depth int) (*nodeView, bool) {
	bs.nodes++
	if bs.nodes > maxNodes || depth > 32 {
		return nil, false
	}
	typ, _ := tpl["type"].(string)
	if typ == "" {
		typ = "text"
	}
	path := stripBraces(stringify(tpl["path"]))
	title := renderTemplate(stringify(tpl["title"]), data, nil)
	cur := data
	full := base
	if path != "" {
		v, ok := lookupPath(data, path)
		if !ok {
			v = nil
		}
		cur = v
		full = joinPath(base, path)
	}
	children := func(d any, b string) []*nodeView {
		ws, _ := tpl["widgets"].([]any)
		var out []*nodeView
		for _, w := range ws {
			if m, ok := w.(map[string]any); ok {
				if n, ok := bs.buildNode(m, d, b, depth+1); ok {
					out = append(out, n)
				}
			}
		}
		return out
	}
	switch typ {
	case "wrapper", "card":
		if path != "" && cur == nil {
			return nil, false
		}
		n := &nodeView{Kind: typ, Title: title, Path: full}
		n.Children = children(cur, full)
		if meta, ok := tpl["meta"].(map[string]any); ok {
			if custom, ok := meta["custom"].(map[string]any); ok {
				for _, key := range []string{"links", "buttons"} {
					ls, _ := custom[key].([]any)
					for _, l := range ls {
						lm, _ := l.(map[string]any)
						if lm == nil {
							continue
						}
						u := renderURL(stringify(lm["url"]), cur)
						label := renderTemplate(stringify(lm["label"]), cur, nil)
						if label == "" {
							label = u
						}
						n.Links = append(n.Links, linkView{Label: label, URL: u})
					}
				}
			}
		}
		return n, len(n.Children) > 0 || len(n.Links) > 0
	case "list":
		arr, _ := cur.([]any)
		ws, _ := tpl["widgets"].([]any)
		if len(arr) == 0 || len(ws) == 0 {
			return nil, false
		}
		child, _ := ws[0].(map[string]any)
		if child == nil {
			return nil, false
		}
		limit := len(arr)
		if meta, ok := tpl["meta"].(map[string]any); ok {
			if l, err := strconv.Atoi(stringify(meta["limit"])); err == nil && l > 0 && l < limit {
				limit = l
			}
		}
		n := &nodeView{Kind: "list", Title: title, Path: full}
		for i := 0; i < limit; i++ {
			ip := full + "[" + strconv.Itoa(i) + "]"
			item := &nodeView{Kind: "item", Index: i, Path: ip}
			// The child applies to the element itself (it has no path).
			c := map[string]any{}
			for k, v := range child {
				c[k] = v
			}
			delete(c, "path")
			if cn, ok := bs.buildNode(c, arr[i], ip, depth+1); ok {
				item.Children = append(item.Children, cn)
				n.Children = append(n.Children, item)
			}
		}
		return n, len(n.Children) > 0
	}
	// Leaves.
	if isEmpty(cur) {
		return nil, false
	}
	n := &nodeView{Kind: typ, Title: title, Path: full, Raw: stringify(cur)}
	n.Value = n.Raw
	switch typ {
	case "boolean":
		if b, ok := truthy(cur); ok {
			n.Raw = strconv.FormatBool(b)
			n.Value = "No"
			if b {
				n.Value = "Yes"
			}
		}
	case "date":
		if t, ok := parseStamp(n.Raw); ok {
			n.Value = t.Format("Jan 2, 2006 15:04")
			if len(strings.TrimSpace(n.Raw)) == len("2006-01-02") {
				n.Value = t.Format("Jan 2, 2006")
			}
		}
	case "age":
		if t, ok := parseStamp(n.Raw); ok {
			n.Value = strconv.Itoa(int(bs.now.Sub(t).Hours()/24/365.25)) + " (" + t.Format("2006-01-02") + ")"
		}
	case "url":
		if u, err := url.Parse(n.Raw); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
			n.Href = n.Raw
		}
	case "email":
		n.Href = "mailto:" + n.Raw
	case "array":
		if a, ok := cur.([]any); ok {
			parts := make([]string, 0, len(a))
			for _, x := range a {
				parts = append(parts, stringify(x))
			}
			n.Value = strings.Join(parts, ", ")
		}
	}
	return n, true
}

func truthy(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case json.Number:
		return x != "0", true
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true", "1", "yes":
			return true, true
		case "false", "0", "no":
			return false, true
		}
	}
	return false, false
}

func joinPath(base, p string) string {
	if base == "" {
		return p
	}
	if strings.HasPrefix(p, "[") {
		return base + p
	}
	return base + "." + p
}

// widgetData resolves a widget's data source on a customer (reference §6).
func widgetData(wd *widget, c *customer, cmap map[string]any) any {
	switch {
	case wd.IntegrationID != nil:
		raw, ok := c.Integrations[itoa(*wd.IntegrationID)]
		if !ok {
			return nil
		}
		v, err := decodeAny(raw)
		if err != nil {
			return nil
		}
		return v
	case wd.Type == "custom":
		if len(bytes.TrimSpace(c.Data)) == 0 {
			return nil
		}
		v, err := decodeAny(c.Data)
		if err != nil {
			return nil
		}
		return v
	case wd.Type == "standalone":
		return cmap
	}
	return nil
}

// renderWidgetsLocked renders the visible widgets of context ctxName for c.
func (e *Emulator) renderWidgetsLocked(a *account, c *customer, contexts ...string) []widgetView {
	if c == nil {
		return nil
	}
	ws := make([]*widget, 0, len(a.widgets))
	for _, wd := range a.widgets {
		ok := false
		for _, cx := range contexts {
			ok = ok || wd.Context == cx
		}
		if ok && wd.Deactivated.IsZero() {
			ws = append(ws, wd)
		}
	}
	sort.Slice(ws, func(i, j int) bool {
		if ws[i].Order != ws[j].Order {
			return ws[i].Order < ws[j].Order
		}
		return ws[i].ID < ws[j].ID
	})
	cmap, _ := toAny(c.out()).(map[string]any)
	var out []widgetView
	for _, wd := range ws {
		data := widgetData(wd, c, cmap)
		if data == nil {
			continue
		}
		tpl, err := decodeAny(wd.Template)
		tm, _ := tpl.(map[string]any)
		if err != nil || tm == nil {
			continue
		}
		bs := &buildState{now: e.now()}
		root, ok := bs.buildNode(tm, data, "", 0)
		if !ok {
			continue
		}
		title := root.Title
		if title == "" && wd.IntegrationID != nil {
			if in := a.integrations[*wd.IntegrationID]; in != nil {
				title = in.Name
			}
		}
		out = append(out, widgetView{ID: wd.ID, Type: wd.Type, Title: title, Root: root})
	}
	return out
}

func (e *Emulator) handleAgentTicket(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	e.mu.Lock()
	a := e.accountOf(r)
	if a == nil || !ok || a.tickets[id] == nil {
		e.mu.Unlock()
		http.Error(w, "ticket not found", http.StatusNotFound)
		return
	}
	t := a.tickets[id]
	page := agentPage{Prefix: prefixOf(r), Account: a.Domain, Ticket: a.ticketOut(t), Notice: r.URL.Query().Get("notice")}
	page.Customer = page.Ticket.Customer
	for _, m := range t.Messages {
		mv := messageView{ID: m.ID, Internal: m.internal(), FromAgent: m.FromAgent, Body: m.BodyText, Created: fmtStamp(m.Created)}
		if mv.Body == "" {
			mv.Body = m.BodyHTML
		}
		if m.Sender != nil {
			mv.Sender = m.Sender.Name
			if mv.Sender == "" {
				mv.Sender = m.Sender.Email
			}
		}
		page.Messages = append(page.Messages, mv)
	}
	page.Widgets = e.renderWidgetsLocked(a, a.customers[t.CustomerID], "ticket")
	for _, mid := range sortedIDs(a.macros) {
		m := a.macros[mid]
		if !m.Archived.IsZero() {
			continue
		}
		mv := macroView{ID: m.ID, Name: m.Name, Action: page.Prefix + "/app/ticket/" + itoa(t.ID) + "/macros/" + itoa(m.ID) + "/apply"}
		for _, act := range m.Actions {
			var ha httpActionArgs
			if act.Name != "http" || json.Unmarshal(rawOrEmpty(act.Arguments), &ha) != nil {
				continue
			}
			for _, rows := range [][]kv{ha.Params, ha.Form, ha.Headers} {
				for _, row := range rows {
					if row.Editable {
						mv.Fields = append(mv.Fields, macroField{Key: row.Key, Value: string(row.Value)})
					}
				}
			}
		}
		page.Macros = append(page.Macros, mv)
	}
	e.mu.Unlock()
	writePage(w, page)
}

func (e *Emulator) handleAgentCustomer(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	e.mu.Lock()
	a := e.accountOf(r)
	if a == nil || !ok || a.customers[id] == nil {
		e.mu.Unlock()
		http.Error(w, "customer not found", http.StatusNotFound)
		return
	}
	c := a.customers[id]
	co := c.out()
	page := agentPage{Prefix: prefixOf(r), Account: a.Domain, Customer: &co, Customers: true}
	page.Widgets = e.renderWidgetsLocked(a, c, "customer", "user")
	e.mu.Unlock()
	writePage(w, page)
}

func (e *Emulator) handleAppIndex(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	a := e.accountOf(r)
	if a == nil {
		e.mu.Unlock()
		http.Error(w, "account not found", http.StatusNotFound)
		return
	}
	page := agentPage{Prefix: prefixOf(r), Account: a.Domain}
	ids := sortedIDs(a.tickets)
	for i := len(ids) - 1; i >= 0 && len(page.Tickets) < 200; i-- {
		page.Tickets = append(page.Tickets, a.ticketOut(a.tickets[ids[i]]))
	}
	e.mu.Unlock()
	writePage(w, page)
}

// handleAgentApply is the agent page's macro button: values come from the
// form fields "v:<key>".
func (e *Emulator) handleAgentApply(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	tID, ok1 := pathID(r, "id")
	mID, ok2 := pathID(r, "macro")
	if !ok1 || !ok2 {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	in := applyInput{Values: map[string]flexString{}}
	for k, vs := range r.PostForm {
		if key, ok := strings.CutPrefix(k, "v:"); ok && len(vs) > 0 {
			in.Values[key] = flexString(vs[0])
		}
	}
	domain, _ := r.Context().Value(ctxAccount).(string)
	_, results, aerr := e.applyMacro(r.Context(), domain, tID, mID, in, nil)
	notice := ""
	if aerr != nil {
		notice = "Macro not applied: " + aerr.msg
	} else {
		parts := make([]string, 0, len(results))
		for _, res := range results {
			s := res.Name + ": " + res.Status
			if res.Error != "" {
				s += " (" + res.Error + ")"
			}
			parts = append(parts, s)
		}
		notice = "Macro applied — " + strings.Join(parts, "; ")
	}
	http.Redirect(w, r, prefixOf(r)+"/app/ticket/"+itoa(tID)+"?notice="+url.QueryEscape(notice), http.StatusSeeOther)
}

func writePage(w http.ResponseWriter, page agentPage) {
	var buf bytes.Buffer
	if err := agentTmpl.Execute(&buf, page); err != nil {
		http.Error(w, "template error: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}
