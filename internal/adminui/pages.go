package adminui

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"switchyard/internal/connector"
	"switchyard/internal/domain"
	"switchyard/internal/outbound"
)

// pageSize is the rows per page of every list.
const pageSize = 50

// connectionView is a connection as the API shows it.
type connectionView struct {
	domain.Connection
	SecretNames []string `json:"secret_names"`
}

// ---- overview

type overviewData struct {
	Minutes                                 []time.Time
	Events, Deliveries, Errors, RateLimited int
	EventsChart, DeliveriesChart            template.HTML
	Budgets                                 []budgetView
	BudgetsError                            string
	BudgetPager                             pager
	Queue                                   []queueView
	QueueTotal                              int
	QueueError                              string
	Merchants                               []domain.Merchant
}

type budgetView struct {
	outbound.BudgetStatus
	Used  float64
	Meter template.HTML
	State string
}

type queueView struct {
	Kind                                            string
	Available, Scheduled, Retryable, Running, Total int
}

func (u *UI) overview(w http.ResponseWriter, r *http.Request, s *session) {
	now := u.cfg.Now().UTC()
	end := now.Truncate(time.Minute).Add(time.Minute)
	f := domain.ActivityFilter{MerchantID: s.merchant, AllMerchants: s.operator, Since: end.Add(-time.Hour), Until: end}
	acts, err := u.activity(r.Context(), f)
	if err != nil {
		u.failErr(w, r, s, err)
		return
	}
	d := overviewData{}
	idx := map[time.Time]int{}
	for i := range 60 {
		m := f.Since.Add(time.Duration(i) * time.Minute)
		idx[m] = i
		d.Minutes = append(d.Minutes, m)
	}
	ev, ok, errs, rl := make([]int, 60), make([]int, 60), make([]int, 60), make([]int, 60)
	for _, a := range acts {
		i, found := idx[a.Minute]
		if !found {
			continue
		}
		ev[i] = a.Events
		errs[i], rl[i] = a.Errors, a.RateLimited
		ok[i] = a.Deliveries - a.Errors - a.RateLimited
		d.Events += a.Events
		d.Deliveries += a.Deliveries
		d.Errors += a.Errors
		d.RateLimited += a.RateLimited
	}
	d.EventsChart = barChart("inbound events per minute", d.Minutes, []series{{Name: "events", Class: "bar-events", Values: ev}})
	d.DeliveriesChart = barChart("deliveries per minute", d.Minutes, []series{
		{Name: "delivered or other", Class: "bar-ok", Values: ok}, {Name: "errors", Class: "bar-error", Values: errs}, {Name: "429", Class: "bar-429", Values: rl}})

	if s.operator {
		var rlOut struct {
			Budgets []outbound.BudgetStatus `json:"budgets"`
		}
		if err := u.call(r.Context(), s.token, http.MethodGet, "/api/v1/rate-limits", nil, nil, &rlOut); err != nil {
			d.BudgetsError = u.readable(err)
		}
		for _, b := range rlOut.Budgets {
			bv := budgetView{BudgetStatus: b, State: "ok"}
			if b.Burst > 0 {
				bv.Used = min(max(1-b.Tokens/float64(b.Burst), 0), 1)
			}
			if b.Tokens < -0.5 {
				bv.State = fmt.Sprintf("%.0f calls reserved ahead (waiting for budget)", -b.Tokens)
			}
			class := "bar-ok"
			switch {
			case !b.OpenSince.IsZero():
				bv.State, class = "vendor failing since "+b.OpenSince.UTC().Format("15:04:05")+" (work held, probing)", "bar-error"
			case b.PausedUntil.After(now):
				bv.State, class = "paused until "+b.PausedUntil.UTC().Format("15:04:05")+" (Retry-After)", "bar-429"
			case bv.Used > 0.8:
				class = "bar-429"
			}
			bv.Meter = meter(bv.Used, class)
			d.Budgets = append(d.Budgets, bv)
		}
		sort.Slice(d.Budgets, func(i, j int) bool { return d.Budgets[i].Key < d.Budgets[j].Key })
		d.Budgets, d.BudgetPager = pageOf(r, "bpage", d.Budgets)

		var jobs struct {
			Jobs []domain.JobCount `json:"jobs"`
		}
		if err := u.call(r.Context(), s.token, http.MethodGet, "/api/v1/jobs", nil, nil, &jobs); err != nil {
			d.QueueError = u.readable(err)
		}
		byKind := map[string]*queueView{}
		for _, c := range jobs.Jobs {
			q, found := byKind[c.Kind]
			if !found {
				q = &queueView{Kind: c.Kind}
				byKind[c.Kind] = q
			}
			switch c.State {
			case "available", "pending":
				q.Available += c.Count
			case "scheduled":
				q.Scheduled += c.Count
			case "retryable":
				q.Retryable += c.Count
			case "running":
				q.Running += c.Count
			default:
				continue // completed, cancelled, discarded: not waiting
			}
			q.Total += c.Count
			d.QueueTotal += c.Count
		}
		for _, q := range byKind {
			d.Queue = append(d.Queue, *q)
		}
		sort.Slice(d.Queue, func(i, j int) bool { return d.Queue[i].Kind < d.Queue[j].Kind })

		var ms struct {
			Merchants []domain.Merchant `json:"merchants"`
		}
		if err := u.call(r.Context(), s.token, http.MethodGet, "/api/v1/merchants", nil, nil, &ms); err == nil {
			d.Merchants = ms.Merchants
			if len(d.Merchants) > 10 {
				d.Merchants = d.Merchants[:10]
			}
		}
	}
	u.render(w, r, s, http.StatusOK, "overview", d)
}

// ---- merchants

// pager pages a list held in memory (?page=N, from 1).
type pager struct {
	Page, Pages, Total int
	Prev, Next         string
}

func pageOf[T any](r *http.Request, param string, all []T) ([]T, pager) {
	p := pager{Total: len(all), Pages: max(1, (len(all)+pageSize-1)/pageSize)}
	p.Page, _ = strconv.Atoi(r.URL.Query().Get(param))
	p.Page = min(max(p.Page, 1), p.Pages)
	link := func(n int) string {
		q := r.URL.Query()
		q.Set(param, strconv.Itoa(n))
		return r.URL.Path + "?" + q.Encode()
	}
	if p.Page > 1 {
		p.Prev = link(p.Page - 1)
	}
	if p.Page < p.Pages {
		p.Next = link(p.Page + 1)
	}
	from := (p.Page - 1) * pageSize
	return all[from:min(from+pageSize, len(all))], p
}

// keyset pages a list the API returns newest first (?before=ID).
type keyset struct {
	First  bool   // this is the newest page
	Newest string // link to the newest page
	Older  string // link to the next older page ("" at the end)
}

func keysetOf(r *http.Request, n int, lastID int64) keyset {
	q := r.URL.Query()
	k := keyset{First: q.Get("before") == ""}
	q.Del("before")
	k.Newest = r.URL.Path + "?" + q.Encode()
	if n == pageSize && lastID > 1 {
		q.Set("before", strconv.FormatInt(lastID, 10))
		k.Older = r.URL.Path + "?" + q.Encode()
	}
	return k
}

// keysetOfItems is keysetOf for a page of items, the oldest (last) one's id read
// with id.
func keysetOfItems[T any](r *http.Request, items []T, id func(T) int64) keyset {
	var last int64
	if n := len(items); n > 0 {
		last = id(items[n-1])
	}
	return keysetOf(r, len(items), last)
}

// listQuery is the API query of a keyset page with the given filters
// copied from the request.
func listQuery(r *http.Request, filters ...string) url.Values {
	q := url.Values{"limit": {strconv.Itoa(pageSize)}}
	for _, f := range append(filters, "before") {
		if v := strings.TrimSpace(r.URL.Query().Get(f)); v != "" {
			q.Set(f, v)
		}
	}
	return q
}

func (u *UI) merchants(w http.ResponseWriter, r *http.Request, s *session) {
	if !s.operator {
		http.Redirect(w, r, "/ui/m/"+pathEscape(s.merchant), http.StatusSeeOther)
		return
	}
	var out struct {
		Merchants []domain.Merchant `json:"merchants"`
	}
	if err := u.call(r.Context(), s.token, http.MethodGet, "/api/v1/merchants", nil, nil, &out); err != nil {
		u.failErr(w, r, s, err)
		return
	}
	page, p := pageOf(r, "page", out.Merchants)
	rows := make([]merchantRow, len(page))
	for i, m := range page {
		rows[i] = merchantRow{Merchant: m, Waiting: u.waitingForOperator(r, s, m.ID)}
	}
	u.render(w, r, s, http.StatusOK, "merchants", map[string]any{"Merchants": rows, "Pager": p})
}

// merchantRow is a merchant in the operator's list, with what its
// installations wait for from the operator (connector panels' badges).
type merchantRow struct {
	domain.Merchant
	Waiting []string
}

// waitingForOperator lists "installation: badge" for the merchant's
// installations whose panel badge waits for the operator (one in-process
// call per merchant of the page; an error shows nothing).
func (u *UI) waitingForOperator(r *http.Request, s *session, m string) []string {
	var ins struct {
		Installations []domain.Installation `json:"installations"`
	}
	if err := u.call(r.Context(), s.token, http.MethodGet, apiPath(m, "installations"), nil, nil, &ins); err != nil {
		return nil
	}
	var out []string
	for i := range ins.Installations {
		in := &ins.Installations[i]
		if b := u.panels[in.Connector].Badge; b != nil {
			if text, op := b(in); op {
				out = append(out, in.ID+": "+text)
			}
		}
	}
	return out
}

type installationRow struct {
	domain.Installation
	Backfill bool
	// Badge is the connector panel's short status (Panel.Badge), if any.
	Badge string
}

func (u *UI) merchantPage(w http.ResponseWriter, r *http.Request, s *session, m string) {
	var mer domain.Merchant
	if err := u.call(r.Context(), s.token, http.MethodGet, apiPath(m), nil, nil, &mer); err != nil {
		u.failErr(w, r, s, err)
		return
	}
	var ins struct {
		Installations []domain.Installation `json:"installations"`
	}
	if err := u.call(r.Context(), s.token, http.MethodGet, apiPath(m, "installations"), nil, nil, &ins); err != nil {
		u.failErr(w, r, s, err)
		return
	}
	var cs struct {
		Connections []connectionView `json:"connections"`
	}
	if err := u.call(r.Context(), s.token, http.MethodGet, apiPath(m, "connections"), nil, nil, &cs); err != nil {
		u.failErr(w, r, s, err)
		return
	}
	rows := make([]installationRow, 0, len(ins.Installations))
	for _, in := range ins.Installations {
		row := installationRow{Installation: in, Backfill: u.hasBackfill(in.Connector)}
		if b := u.panels[in.Connector].Badge; b != nil {
			row.Badge, _ = b(&row.Installation)
		}
		rows = append(rows, row)
	}
	page, p := pageOf(r, "page", rows)
	conns, cp := pageOf(r, "cpage", cs.Connections)
	u.render(w, r, s, http.StatusOK, "merchant", map[string]any{"M": mer, "Installations": page, "Pager": p, "Connections": conns, "ConnPager": cp})
}

func (u *UI) hasBackfill(name string) bool {
	c, ok := u.cfg.Connectors.Get(name)
	if !ok {
		return false
	}
	_, ok = c.(connector.Backfiller)
	return ok
}

// ---- installation

type remoteObject struct {
	Key, ID, Link string
}

type settingRow struct{ Key, Value string }

func (u *UI) installationPage(w http.ResponseWriter, r *http.Request, s *session, m string) {
	id := r.PathValue("installation")
	var in domain.Installation
	if err := u.call(r.Context(), s.token, http.MethodGet, apiPath(m, "installations", pathEscape(id)), nil, nil, &in); err != nil {
		u.failErr(w, r, s, err)
		return
	}
	var cs struct {
		Connections []connectionView `json:"connections"`
	}
	if err := u.call(r.Context(), s.token, http.MethodGet, apiPath(m, "connections"), nil, nil, &cs); err != nil {
		u.failErr(w, r, s, err)
		return
	}
	conns := map[string]connectionView{}
	for _, c := range cs.Connections {
		conns[c.ID] = c
	}
	gorgiasBase := ""
	if c, ok := conns[in.Connections[domain.VendorGorgias]]; ok {
		gorgiasBase = gorgiasAppBase(c)
	}
	var remote []remoteObject
	for _, k := range funcs["sortedKeys"].(func(map[string]string) []string)(in.RemoteIDs) {
		remote = append(remote, remoteObject{Key: k, ID: in.RemoteIDs[k], Link: gorgiasLink(gorgiasBase, k, in.RemoteIDs[k])})
	}
	var settings []settingRow
	for _, k := range funcs["sortedKeys"].(func(map[string]string) []string)(in.Settings) {
		settings = append(settings, settingRow{k, in.Settings[k]})
	}
	var linked []connectionView
	for _, role := range funcs["sortedKeys"].(func(map[string]string) []string)(in.Connections) {
		if c, ok := conns[in.Connections[role]]; ok {
			linked = append(linked, c)
		}
	}
	// Last error: the newest dead letter and the newest failed delivery.
	var dls struct {
		DeadLetters []domain.DeadLetter `json:"dead_letters"`
	}
	_ = u.call(r.Context(), s.token, http.MethodGet, apiPath(m, "dead-letters"), url.Values{"installation": {in.ID}, "limit": {"1"}}, nil, &dls)
	var ds struct {
		Deliveries []domain.Delivery `json:"deliveries"`
	}
	_ = u.call(r.Context(), s.token, http.MethodGet, apiPath(m, "deliveries"), url.Values{"installation": {in.ID}, "limit": {"100"}}, nil, &ds)
	var lastFailed *domain.Delivery
	for i := range ds.Deliveries {
		if c := ds.Deliveries[i].Class; c != domain.ClassOK && c != domain.ClassCanceled {
			lastFailed = &ds.Deliveries[i]
			break
		}
	}
	var lastDL *domain.DeadLetter
	if len(dls.DeadLetters) > 0 {
		lastDL = &dls.DeadLetters[0]
	}
	u.render(w, r, s, http.StatusOK, "installation", map[string]any{
		"In": in, "Remote": remote, "Settings": settings, "Connections": linked, "LastDeadLetter": lastDL, "LastFailed": lastFailed,
		"Backfill": u.hasBackfill(in.Connector), "Panel": u.panel(r, s, m, &in),
	})
}

// gorgiasAppBase is the web address of a Gorgias connection's account: its
// base_url (an emulator, a sandbox) or https://<account>.gorgias.com.
func gorgiasAppBase(c connectionView) string {
	if b := strings.TrimRight(c.Config["base_url"], "/"); b != "" {
		return b
	}
	if c.Account == "" {
		return ""
	}
	return "https://" + c.Account + ".gorgias.com"
}

// gorgiasLink links a remote id into the Gorgias app by its key.
func gorgiasLink(base, key, id string) string {
	if base == "" || !strings.HasPrefix(key, "gorgias_") {
		return ""
	}
	if _, err := strconv.ParseInt(id, 10, 64); err != nil {
		return ""
	}
	switch {
	case strings.Contains(key, "widget"):
		return base + "/app/settings/widgets"
	case strings.Contains(key, "integration"):
		return base + "/app/settings/integrations/http/" + id
	case strings.Contains(key, "macro"):
		return base + "/app/settings/macros/" + id
	}
	return ""
}

func (u *UI) installationURL(m, id string) string {
	return "/ui/m/" + pathEscape(m) + "/installations/" + pathEscape(id)
}

// saveSettings PATCHes the installation's settings from the key/value rows
// (an emptied value removes its key).
func (u *UI) saveSettings(w http.ResponseWriter, r *http.Request, s *session, m string) {
	id := r.PathValue("installation")
	keys, vals := r.PostForm["key"], r.PostForm["value"]
	settings := map[string]string{}
	for i, k := range keys {
		k = strings.TrimSpace(k)
		if k == "" || i >= len(vals) {
			continue
		}
		settings[k] = strings.TrimSpace(vals[i])
	}
	if len(settings) == 0 {
		u.setFlash(s, "Nothing to save.")
	} else if err := u.call(r.Context(), s.token, http.MethodPatch, apiPath(m, "installations", pathEscape(id)), nil, map[string]any{"settings": settings}, nil); err != nil {
		u.flashErr(w, r, s, err)
	} else {
		u.setFlash(s, "Settings saved.")
	}
	back(w, r, u.installationURL(m, id))
}

func (u *UI) repair(w http.ResponseWriter, r *http.Request, s *session, m string) {
	id := r.PathValue("installation")
	var in domain.Installation
	if err := u.call(r.Context(), s.token, http.MethodPost, apiPath(m, "installations", pathEscape(id), "install"), nil, nil, &in); err != nil {
		u.flashErr(w, r, s, err)
	} else {
		u.setFlash(s, "Installed: the installation is "+string(in.State)+".")
	}
	back(w, r, u.installationURL(m, id))
}

func (u *UI) uninstall(w http.ResponseWriter, r *http.Request, s *session, m string) {
	id := r.PathValue("installation")
	if err := u.call(r.Context(), s.token, http.MethodPost, apiPath(m, "installations", pathEscape(id), "uninstall"), nil, nil, nil); err != nil {
		u.flashErr(w, r, s, err)
	} else {
		u.setFlash(s, "Uninstalled: its webhooks stop and what it created remotely was removed.")
	}
	back(w, r, u.installationURL(m, id))
}

// ---- backfill

// backfillProgress is the API's Backfill schema.
type backfillProgress struct {
	Run           string     `json:"run"`
	Phase         string     `json:"phase"`
	From          time.Time  `json:"from"`
	Page          int        `json:"page"`
	Fetched       int        `json:"fetched"`
	Total         *int       `json:"total"`
	ProfilesDone  int        `json:"profiles_done"`
	ProfilesTotal int        `json:"profiles_total"`
	OrdersDone    int        `json:"orders_done"`
	EventsSent    int        `json:"events_sent"`
	EventsSkipped int        `json:"events_skipped"`
	StartedAt     *time.Time `json:"started_at"`
	FinishedAt    *time.Time `json:"finished_at"`
	Error         string     `json:"error"`
}

// backfillView is the progress as the page and its polling show it.
type backfillView struct {
	backfillProgress
	Started  bool    `json:"started"`
	Done     bool    `json:"done"`
	TotalN   int     `json:"total_n"`
	FetchPct float64 `json:"fetch_fraction"`
	// Fraction is the whole run's progress: the mean of the fetch, import
	// and events phases' fractions.
	Fraction float64 `json:"fraction"`
	ETA      string  `json:"eta"`
	Elapsed  string  `json:"elapsed"`
	Summary  string  `json:"summary"`
}

func (u *UI) backfillStatus(r *http.Request, s *session, m, id string) (backfillView, error) {
	var out struct {
		Backfill backfillProgress `json:"backfill"`
	}
	if err := u.call(r.Context(), s.token, http.MethodGet, apiPath(m, "installations", pathEscape(id), "backfill"), nil, nil, &out); err != nil {
		if isStatus(err, http.StatusNotFound) {
			return backfillView{}, nil // never started (the installation itself was found by the caller)
		}
		return backfillView{}, err
	}
	p := out.Backfill
	v := backfillView{backfillProgress: p, Started: p.Run != "" || p.StartedAt != nil}
	v.Done = p.Phase == "done" && p.FinishedAt != nil
	if p.Total != nil {
		v.TotalN = *p.Total
	}
	frac := func(n, of int) float64 {
		if of <= 0 {
			return 0
		}
		return min(float64(n)/float64(of), 1)
	}
	fetch := frac(p.Fetched, v.TotalN)
	profiles := frac(p.ProfilesDone, p.ProfilesTotal)
	events := frac(p.OrdersDone, max(p.Fetched, v.TotalN))
	switch p.Phase {
	case "profiles", "import":
		fetch = 1
	case "events":
		fetch, profiles = 1, 1
	case "done":
		fetch, profiles, events = 1, 1, 1
	}
	v.FetchPct = fetch
	v.Fraction = (fetch + profiles + events) / 3
	now := u.cfg.Now()
	if p.StartedAt != nil {
		end := now
		if p.FinishedAt != nil {
			end = *p.FinishedAt
		}
		el := end.Sub(*p.StartedAt)
		v.Elapsed = el.Round(time.Second).String()
		if !v.Done && v.Fraction > 0.01 {
			v.ETA = time.Duration(float64(el) * (1 - v.Fraction) / v.Fraction).Round(time.Second).String()
		}
	}
	total := "?"
	if p.Total != nil {
		total = strconv.Itoa(*p.Total)
	}
	v.Summary = fmt.Sprintf("fetched %d / %s, imported %d / %d profiles, %d orders done, %d events sent (%d skipped)", p.Fetched, total, p.ProfilesDone, p.ProfilesTotal, p.OrdersDone, p.EventsSent, p.EventsSkipped)
	return v, nil
}

func (u *UI) backfillPage(w http.ResponseWriter, r *http.Request, s *session, m string) {
	id := r.PathValue("installation")
	var in domain.Installation
	if err := u.call(r.Context(), s.token, http.MethodGet, apiPath(m, "installations", pathEscape(id)), nil, nil, &in); err != nil {
		u.failErr(w, r, s, err)
		return
	}
	v, err := u.backfillStatus(r, s, m, id)
	if err != nil {
		u.failErr(w, r, s, err)
		return
	}
	u.render(w, r, s, http.StatusOK, "backfill", map[string]any{"In": in, "B": v, "Poll": u.installationURL(m, id) + "/backfill.json"})
}

func (u *UI) backfillJSON(w http.ResponseWriter, r *http.Request, s *session, m string) {
	v, err := u.backfillStatus(r, s, m, r.PathValue("installation"))
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(http.StatusBadGateway)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": u.readableFor(s, err)})
		return
	}
	_ = json.NewEncoder(w).Encode(v)
}

func (u *UI) startBackfill(w http.ResponseWriter, r *http.Request, s *session, m string) {
	id := r.PathValue("installation")
	if err := u.call(r.Context(), s.token, http.MethodPost, apiPath(m, "installations", pathEscape(id), "backfill"), nil, nil, nil); err != nil {
		u.flashErr(w, r, s, err)
	} else {
		u.setFlash(s, "Backfill started (an unfinished run resumes from its checkpoint).")
	}
	back(w, r, u.installationURL(m, id)+"/backfill")
}

// ---- events and deliveries

func (u *UI) events(w http.ResponseWriter, r *http.Request, s *session, m string) {
	var out struct {
		Events []domain.InboundEvent `json:"events"`
	}
	if err := u.call(r.Context(), s.token, http.MethodGet, apiPath(m, "events"), listQuery(r, "installation", "email"), nil, &out); err != nil {
		u.failErr(w, r, s, err)
		return
	}
	u.render(w, r, s, http.StatusOK, "events", map[string]any{"Events": out.Events, "Page": keysetOfItems(r, out.Events, func(x domain.InboundEvent) int64 { return x.ID }),
		"Installation": r.URL.Query().Get("installation"), "Email": r.URL.Query().Get("email")})
}

func (u *UI) deliveries(w http.ResponseWriter, r *http.Request, s *session, m string) {
	var out struct {
		Deliveries []domain.Delivery `json:"deliveries"`
	}
	if err := u.call(r.Context(), s.token, http.MethodGet, apiPath(m, "deliveries"), listQuery(r, "installation", "vendor", "event"), nil, &out); err != nil {
		u.failErr(w, r, s, err)
		return
	}
	u.render(w, r, s, http.StatusOK, "deliveries", map[string]any{"Deliveries": out.Deliveries, "Page": keysetOfItems(r, out.Deliveries, func(x domain.Delivery) int64 { return x.ID }),
		"Installation": r.URL.Query().Get("installation"), "Vendor": r.URL.Query().Get("vendor")})
}

// replayEvent sends a stored event through its job again.
func (u *UI) replayEvent(w http.ResponseWriter, r *http.Request, s *session, m string) {
	id, err := strconv.ParseInt(r.PathValue("event"), 10, 64)
	if err != nil {
		u.fail(w, r, s, http.StatusBadRequest, "That is not an event id.")
		return
	}
	if err := u.call(r.Context(), s.token, http.MethodPost, apiPath(m, "events", strconv.FormatInt(id, 10), "replay"), nil, nil, nil); err != nil {
		u.flashErr(w, r, s, err)
	} else {
		u.setFlash(s, fmt.Sprintf("Event #%d is being processed again.", id))
	}
	back(w, r, "/ui/m/"+pathEscape(m)+"/events")
}

// ---- timeline

type timelineEvent struct {
	domain.InboundEvent
	Deliveries []domain.Delivery
	Error      string
}

type widgetData struct {
	Connection string
	Account    string
	Link       string
	Customer   string
	Data       []node
	Error      string
	Empty      bool
}

func (u *UI) timeline(w http.ResponseWriter, r *http.Request, s *session, m string) {
	email := domain.NormalizeEmail(r.URL.Query().Get("email"))
	data := map[string]any{"Email": email}
	if email == "" {
		u.render(w, r, s, http.StatusOK, "timeline", data)
		return
	}
	var out struct {
		Events []domain.InboundEvent `json:"events"`
	}
	if err := u.call(r.Context(), s.token, http.MethodGet, apiPath(m, "events"), listQuery(r, "email"), nil, &out); err != nil {
		u.failErr(w, r, s, err)
		return
	}
	rows := make([]timelineEvent, 0, len(out.Events))
	for _, ev := range out.Events {
		te := timelineEvent{InboundEvent: ev}
		var ds struct {
			Deliveries []domain.Delivery `json:"deliveries"`
		}
		if err := u.call(r.Context(), s.token, http.MethodGet, apiPath(m, "deliveries"), url.Values{"event": {strconv.FormatInt(ev.ID, 10)}, "limit": {"100"}}, nil, &ds); err != nil {
			te.Error = u.readable(err)
		}
		te.Deliveries = ds.Deliveries
		rows = append(rows, te)
	}
	data["Events"], data["Page"] = rows, keysetOfItems(r, out.Events, func(x domain.InboundEvent) int64 { return x.ID })
	data["Widgets"] = u.widgetData(r, s, m, email)
	data["Syncs"] = u.customerSyncs(r, s, m, email)
	var ins struct {
		Installations []domain.Installation `json:"installations"`
	}
	if err := u.call(r.Context(), s.token, http.MethodGet, apiPath(m, "installations"), nil, nil, &ins); err == nil {
		data["Panels"] = u.timelinePanels(r, s, m, email, ins.Installations)
	}
	u.render(w, r, s, http.StatusOK, "timeline", data)
}

// syncRow is one coalesced sync keyed by the customer's email: where the
// hub stands in writing that customer to a vendor.
type syncRow struct {
	Installation, Connector, Kind string
	SyncedAt                      *time.Time
	Pending                       int64
	UpdatedAt                     time.Time
}

// customerSyncs reads, for each of the merchant's installations, the syncs
// keyed by this email (the installations come from the API, so within the
// merchant).
func (u *UI) customerSyncs(r *http.Request, s *session, m, email string) []syncRow {
	var ins struct {
		Installations []domain.Installation `json:"installations"`
	}
	if err := u.call(r.Context(), s.token, http.MethodGet, apiPath(m, "installations"), nil, nil, &ins); err != nil {
		return nil
	}
	kinds := make([]string, 0, len(u.cfg.Connectors.Syncers()))
	for k := range u.cfg.Connectors.Syncers() {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var out []syncRow
	for _, in := range ins.Installations {
		for _, kind := range kinds {
			st, err := u.cfg.Store.GetSync(r.Context(), domain.SyncKey{InstallationID: in.ID, Kind: kind, Key: email})
			if err != nil || st.DirtySeq == 0 || (st.MerchantID != "" && st.MerchantID != m) {
				continue
			}
			out = append(out, syncRow{Installation: in.ID, Connector: in.Connector, Kind: kind, SyncedAt: st.SyncedAt, Pending: st.DirtySeq - st.SyncedSeq, UpdatedAt: st.UpdatedAt})
		}
	}
	return out
}

// widgetData reads the customer from each Gorgias account the merchant's
// installations write to, and returns its data (what the sidebar widgets
// render) as the agent sees it now.
func (u *UI) widgetData(r *http.Request, s *session, m, email string) []widgetData {
	if u.cfg.Clients == nil {
		return nil
	}
	var ins struct {
		Installations []domain.Installation `json:"installations"`
	}
	if err := u.call(r.Context(), s.token, http.MethodGet, apiPath(m, "installations"), nil, nil, &ins); err != nil {
		return []widgetData{{Error: u.readable(err)}}
	}
	var cs struct {
		Connections []connectionView `json:"connections"`
	}
	if err := u.call(r.Context(), s.token, http.MethodGet, apiPath(m, "connections"), nil, nil, &cs); err != nil {
		return []widgetData{{Error: u.readable(err)}}
	}
	seen := map[string]bool{}
	var out []widgetData
	for _, in := range ins.Installations {
		connID := in.Connections[domain.VendorGorgias]
		if connID == "" || seen[connID] || in.State == domain.InstallationUninstalled {
			continue
		}
		seen[connID] = true
		wd := widgetData{Connection: connID}
		var base string
		for _, c := range cs.Connections {
			if c.ID == connID {
				wd.Account, base = c.Account, gorgiasAppBase(c)
			}
		}
		g, err := u.cfg.Clients.Gorgias(r.Context(), m, connID)
		if err != nil {
			wd.Error = u.readableFor(s, err)
			out = append(out, wd)
			continue
		}
		c, err := g.FindCustomerByEmail(r.Context(), email)
		switch {
		case err != nil && domain.IsNotFound(err):
			wd.Empty = true
		case err != nil:
			wd.Error = u.readableFor(s, err)
		case c == nil:
			wd.Empty = true
		default:
			wd.Customer = c.Name
			if base != "" {
				wd.Link = fmt.Sprintf("%s/app/customer/%d", base, c.ID)
			}
			wd.Data = tree(c.Data, 0)
			wd.Empty = len(wd.Data) == 0
		}
		out = append(out, wd)
	}
	return out
}

// node is one field of a customer's data, rendered like the sidebar: a
// title with a value or with children.
type node struct {
	Key      string
	Value    string
	Children []node
}

// tree turns JSON into nodes (depth and breadth bounded: hostile data).
func tree(raw json.RawMessage, depth int) []node {
	var v any
	if len(raw) == 0 || json.Unmarshal(raw, &v) != nil {
		return nil
	}
	return treeOf(v, depth)
}

func treeOf(v any, depth int) []node {
	const maxDepth, maxItems = 6, 50
	var out []node
	add := func(k string, x any) {
		if len(out) >= maxItems {
			return
		}
		switch y := x.(type) {
		case map[string]any, []any:
			if depth >= maxDepth {
				out = append(out, node{Key: k, Value: "…"})
				return
			}
			out = append(out, node{Key: k, Children: treeOf(y, depth+1)})
		case nil:
			out = append(out, node{Key: k, Value: "—"})
		case string:
			out = append(out, node{Key: k, Value: y})
		default:
			b, _ := json.Marshal(y)
			out = append(out, node{Key: k, Value: string(b)})
		}
	}
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			add(k, x[k])
		}
	case []any:
		for i, y := range x {
			add("#"+strconv.Itoa(i+1), y)
		}
	}
	return out
}

// ---- dead letters

type deadLetterRow struct {
	domain.DeadLetter
	Outcome      string // "", "replaying", "delivered", "failed again (#id)", "replayed"
	OutcomeClass string // its first word, for the style
	Work         string // what the job was: its kind, and a sync's kind and key
}

func (u *UI) deadLetters(w http.ResponseWriter, r *http.Request, s *session, m string) {
	var out struct {
		DeadLetters []domain.DeadLetter `json:"dead_letters"`
	}
	if err := u.call(r.Context(), s.token, http.MethodGet, apiPath(m, "dead-letters"), listQuery(r, "installation", "pending"), nil, &out); err != nil {
		u.failErr(w, r, s, err)
		return
	}
	rows := make([]deadLetterRow, 0, len(out.DeadLetters))
	replaying := false
	for _, dl := range out.DeadLetters {
		row := deadLetterRow{DeadLetter: dl, Work: dl.JobKind}
		var k domain.SyncKey
		if dl.JobKind == "sync" && json.Unmarshal(dl.JobArgs, &k) == nil && k.Kind != "" {
			row.Work = "sync " + k.Kind + " " + k.Key
		}
		if dl.ReplayedAt != nil {
			row.Outcome = u.outcome(r, m, dl, out.DeadLetters)
			row.OutcomeClass, _, _ = strings.Cut(row.Outcome, " ")
			replaying = replaying || row.Outcome == "replaying"
		}
		rows = append(rows, row)
	}
	var ins struct {
		Installations []domain.Installation `json:"installations"`
	}
	_ = u.call(r.Context(), s.token, http.MethodGet, apiPath(m, "installations"), nil, nil, &ins)
	u.render(w, r, s, http.StatusOK, "deadletters", map[string]any{"Letters": rows, "Page": keysetOfItems(r, out.DeadLetters, func(x domain.DeadLetter) int64 { return x.ID }), "Replaying": replaying,
		"Installation": r.URL.Query().Get("installation"), "Pending": r.URL.Query().Get("pending") == "true", "Installations": ins.Installations,
		"Back": r.URL.RequestURI()})
}

// outcome tells what became of a replayed letter: delivered (its event was
// processed, or its sync finished, after the replay), failed again (a newer
// letter for the same work), or still replaying. The reads take the
// merchant the session was authorized for.
func (u *UI) outcome(r *http.Request, m string, dl domain.DeadLetter, page []domain.DeadLetter) string {
	for _, other := range page {
		if other.ID > dl.ID && other.CreatedAt.After(*dl.ReplayedAt) && sameWork(other, dl) {
			return fmt.Sprintf("failed again (#%d)", other.ID)
		}
	}
	if dl.EventID != 0 {
		ev, err := u.cfg.Store.GetEvent(r.Context(), m, dl.EventID)
		if err == nil && ev.ProcessedAt != nil && !ev.ProcessedAt.Before(*dl.ReplayedAt) {
			return "delivered"
		}
		return "replaying"
	}
	var k domain.SyncKey
	if dl.JobKind == "sync" && json.Unmarshal(dl.JobArgs, &k) == nil && k.InstallationID == dl.InstallationID && k.Key != "" {
		st, err := u.cfg.Store.GetSync(r.Context(), k)
		if err == nil && st.MerchantID == m && st.SyncedAt != nil && !st.SyncedAt.Before(*dl.ReplayedAt) && st.SyncedSeq >= st.DirtySeq {
			return "delivered"
		}
		return "replaying"
	}
	return "replayed"
}

func sameWork(a, b domain.DeadLetter) bool {
	if a.EventID != 0 || b.EventID != 0 {
		return a.EventID == b.EventID
	}
	return a.JobKind == b.JobKind && string(a.JobArgs) == string(b.JobArgs)
}

// replayDeadLetters replays the letters ticked (bulk) or the one button
// pressed (single), each through the API.
func (u *UI) replayDeadLetters(w http.ResponseWriter, r *http.Request, s *session, m string) {
	ids := r.PostForm["id"]
	if one := r.PostFormValue("one"); one != "" {
		ids = []string{one}
	}
	if len(ids) == 0 {
		u.setFlash(s, "Tick the dead letters to replay first.")
		back(w, r, "/ui/m/"+pathEscape(m)+"/dead-letters")
		return
	}
	var okN int
	var failed []string
	for _, id := range ids {
		n, err := strconv.ParseInt(id, 10, 64)
		if err == nil {
			err = u.call(r.Context(), s.token, http.MethodPost, apiPath(m, "dead-letters", strconv.FormatInt(n, 10), "replay"), nil, nil, nil)
		} else {
			err = domain.Errorf(domain.EINVALID, "%q is not a dead letter id", id)
		}
		if err != nil {
			if isStatus(err, http.StatusUnauthorized) {
				u.flashErr(w, r, s, err)
				back(w, r, "/ui/login")
				return
			}
			failed = append(failed, "#"+id+": "+u.readable(err))
			continue
		}
		okN++
	}
	msg := fmt.Sprintf("Replaying %d dead letter(s).", okN)
	if len(failed) > 0 {
		u.sess.mu.Lock()
		s.flash, s.flashErr = msg+" Not replayed: "+strings.Join(failed, "; "), true
		u.sess.mu.Unlock()
	} else {
		u.setFlash(s, msg)
	}
	back(w, r, "/ui/m/"+pathEscape(m)+"/dead-letters")
}
