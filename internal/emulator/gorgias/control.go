package gorgias

import (
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"switchyard/internal/emulator/emukit"
)

// IntegrationState is an HTTP integration in the state dump, with the
// emulator's call bookkeeping.
type IntegrationState struct {
	integrationOut
	Calls               int    `json:"calls"`
	Successes           int    `json:"successes"`
	ConsecutiveFailures int    `json:"consecutive_failures"`
	LastStatus          int    `json:"last_status"`
	LastError           string `json:"last_error,omitempty"`
	Active              bool   `json:"active"`
}

// AccountState is one account in the state dump.
type AccountState struct {
	Domain            string             `json:"domain"`
	Users             []map[string]any   `json:"users"`
	Customers         []customerOut      `json:"customers"`
	Integrations      []IntegrationState `json:"integrations"`
	Widgets           []widgetOut        `json:"widgets"`
	Macros            []macroOut         `json:"macros"`
	Tickets           []ticketOut        `json:"tickets"`
	Calls             int64              `json:"calls"`
	Throttled         int64              `json:"throttled"`
	CallsByCredential map[string]int64   `json:"calls_by_credential"`
	// CallsByEndpoint counts API calls by route ("PUT /api/customers/{id}/data").
	CallsByEndpoint map[string]int64 `json:"calls_by_endpoint"`
	// CreateDataIgnored counts customer creations whose body carried a
	// "data" field (not part of the contract; never stored).
	CreateDataIgnored int64   `json:"create_data_ignored"`
	WindowSeconds     float64 `json:"window_seconds"`
}

// State is the emulator's JSON state dump (GET /_emulator/state).
type State struct {
	Accounts map[string]AccountState `json:"accounts"`
	OAuth    struct {
		Clients             []string `json:"clients"`
		ActiveRefreshTokens int      `json:"active_refresh_tokens"`
		RevokedRefresh      int      `json:"revoked_refresh_tokens"`
		RevokedAccessTokens int      `json:"revoked_access_tokens"`
	} `json:"oauth"`
	Dispatch struct {
		Pending int `json:"pending"`
		Dropped int `json:"dropped"`
	} `json:"dispatch"`
}

// Snapshot returns the current state (what GET /_emulator/state shows).
func (e *Emulator) Snapshot() State {
	var s State
	s.Dispatch.Pending, s.Dispatch.Dropped = e.disp.stats()
	e.mu.Lock()
	defer e.mu.Unlock()
	s.Accounts = map[string]AccountState{}
	for d, a := range e.accounts {
		as := AccountState{Domain: d, Calls: a.calls, Throttled: a.throttled, CallsByCredential: map[string]int64{},
			CallsByEndpoint: maps.Clone(a.callsByEndpoint), CreateDataIgnored: a.createDataIgnored,
			Customers: []customerOut{}, Integrations: []IntegrationState{}, Widgets: []widgetOut{}, Macros: []macroOut{}, Tickets: []ticketOut{}}
		as.WindowSeconds = e.cfg.Window.Seconds()
		if a.Window > 0 {
			as.WindowSeconds = a.Window.Seconds()
		}
		for k, v := range a.callsByCredential {
			as.CallsByCredential[k] = v
		}
		for _, u := range a.users {
			as.Users = append(as.Users, u.ref())
		}
		for _, id := range sortedIDs(a.customers) {
			as.Customers = append(as.Customers, a.customers[id].out())
		}
		for _, id := range sortedIDs(a.integrations) {
			in := a.integrations[id]
			as.Integrations = append(as.Integrations, IntegrationState{integrationOut: in.out(), Calls: in.calls, Successes: in.successes,
				ConsecutiveFailures: in.failures, LastStatus: in.lastStatus, LastError: in.lastError, Active: in.active()})
		}
		for _, id := range sortedIDs(a.widgets) {
			as.Widgets = append(as.Widgets, a.widgets[id].out())
		}
		for _, id := range sortedIDs(a.macros) {
			as.Macros = append(as.Macros, a.macros[id].out())
		}
		for _, id := range sortedIDs(a.tickets) {
			as.Tickets = append(as.Tickets, a.ticketOut(a.tickets[id]))
		}
		s.Accounts[d] = as
	}
	for id := range e.clients {
		s.OAuth.Clients = append(s.OAuth.Clients, id)
	}
	sort.Strings(s.OAuth.Clients)
	for _, g := range e.refresh {
		if g.revoked {
			s.OAuth.RevokedRefresh++
		} else {
			s.OAuth.ActiveRefreshTokens++
		}
	}
	s.OAuth.RevokedAccessTokens = len(e.revoked)
	return s
}

func (e *Emulator) state() any { return e.Snapshot() }

// reset restores the start state; ids keep increasing.
func (e *Emulator) reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.resetLocked()
}

var domainRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// AccountSpec describes an account to add.
type AccountSpec struct {
	// Domain is the subdomain ("beta" for beta.gorgias.com).
	Domain string `json:"domain"`
	// Email and APIKey are the admin's REST credentials (defaults
	// admin@<domain>.test / <domain>-key).
	Email  string `json:"email"`
	APIKey string `json:"api_key"`
	// WindowSeconds overrides the rate-limit window (10 for Enterprise).
	WindowSeconds float64 `json:"window_seconds"`
}

// AddAccount creates an account (409-style error when it exists).
func (e *Emulator) AddAccount(spec AccountSpec) error {
	spec.Domain = strings.ToLower(strings.TrimSpace(spec.Domain))
	if !domainRE.MatchString(spec.Domain) {
		return fmt.Errorf("invalid domain %q", spec.Domain)
	}
	if spec.Email == "" {
		spec.Email = "admin@" + spec.Domain + ".test"
	}
	if spec.APIKey == "" {
		spec.APIKey = spec.Domain + "-key"
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.accounts[spec.Domain]; ok {
		return errAccountExists
	}
	e.addAccountLocked(spec.Domain, spec.Email, spec.APIKey, time.Duration(spec.WindowSeconds*float64(time.Second)))
	return nil
}

var errAccountExists = fmt.Errorf("account already exists")

func (e *Emulator) handleAddAccount(w http.ResponseWriter, r *http.Request) {
	var spec AccountSpec
	if !readJSON(w, r, &spec) {
		return
	}
	if err := e.AddAccount(spec); err != nil {
		status := http.StatusBadRequest
		if err == errAccountExists {
			status = http.StatusConflict
		}
		writeError(w, status, err.Error())
		return
	}
	e.mu.Lock()
	a := e.accounts[strings.ToLower(strings.TrimSpace(spec.Domain))]
	u := a.admin()
	out := map[string]any{"domain": a.Domain, "email": u.Email, "api_key": u.apiKey, "base_url_host": a.Domain + ".gorgias.com", "path_prefix": "/a/" + a.Domain}
	e.mu.Unlock()
	emukit.WriteJSON(w, http.StatusCreated, out)
}

func (e *Emulator) handleAddClient(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ClientID     string   `json:"client_id"`
		ClientSecret string   `json:"client_secret"`
		RedirectURIs []string `json:"redirect_uris"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	if in.ClientID == "" || in.ClientSecret == "" {
		writeError(w, http.StatusBadRequest, "client_id and client_secret are required")
		return
	}
	e.mu.Lock()
	e.clients[in.ClientID] = &oauthClient{ID: in.ClientID, Secret: in.ClientSecret, RedirectURIs: slices.Clone(in.RedirectURIs)}
	e.mu.Unlock()
	emukit.WriteJSON(w, http.StatusCreated, map[string]any{"client_id": in.ClientID, "redirect_uris": in.RedirectURIs})
}

// SeedSpec asks for generated customers and tickets.
type SeedSpec struct {
	Account   string `json:"account"`
	Customers int    `json:"customers"`
	Tickets   int    `json:"tickets"`
}

// Seed generates customers and tickets (one customer message each) with
// emukit.Fake; tickets fire ticket-created like API-created ones.
func (e *Emulator) Seed(spec SeedSpec) (customerIDs, ticketIDs []int64, err error) {
	if spec.Customers < 0 || spec.Tickets < 0 || spec.Customers > 100000 || spec.Tickets > 100000 {
		return nil, nil, fmt.Errorf("counts must be in [0, 100000]")
	}
	if spec.Account == "" {
		spec.Account = e.cfg.DefaultAccount
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.accounts[spec.Account]
	if a == nil {
		return nil, nil, fmt.Errorf("unknown account %q", spec.Account)
	}
	fake := emukit.NewFake(e.cfg.Seed + uint64(e.seq))
	for i := 0; i < spec.Customers; i++ {
		p := fake.Person(int(e.seq) + i)
		email, name := p.Email, p.FullName()
		c := e.newCustomerLocked(a, &customerInput{Email: &email, Name: &name, Firstname: &p.FirstName, Lastname: &p.LastName})
		customerIDs = append(customerIDs, c.ID)
	}
	custs := sortedIDs(a.customers)
	if len(custs) == 0 && spec.Tickets > 0 {
		return customerIDs, nil, fmt.Errorf("no customers to attach tickets to")
	}
	subjects := []string{"Where is my order?", "Wrong size received", "Refund request", "Change shipping address", "Cancel my subscription"}
	for i := 0; i < spec.Tickets; i++ {
		c := a.customers[custs[fake.R.IntN(len(custs))]]
		subj := subjects[fake.R.IntN(len(subjects))]
		now := e.now()
		t := &ticket{ID: e.nextID(), Subject: subj, Status: "open", Priority: "normal", Channel: "email", Via: "email", CustomerID: c.ID, Created: now, Updated: now, Opened: now}
		a.tickets[t.ID] = t
		ch, via, fa := "email", "email", false
		e.newMessageLocked(a, t, &messageInput{Channel: &ch, Via: &via, FromAgent: &fa, Sender: &personInput{Email: c.Email},
			Subject: subj, BodyText: "Hi, " + strings.ToLower(subj) + " Thanks, " + c.Firstname}, nil)
		e.emitLocked(a, t, "ticket-created", "Ticket", t.ID, nil)
		ticketIDs = append(ticketIDs, t.ID)
	}
	return customerIDs, ticketIDs, nil
}

func (e *Emulator) handleSeed(w http.ResponseWriter, r *http.Request) {
	var spec SeedSpec
	if !readJSON(w, r, &spec) {
		return
	}
	cids, tids, err := e.Seed(spec)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	emukit.WriteJSON(w, http.StatusCreated, map[string]any{"customer_ids": orEmpty(cids), "ticket_ids": orEmpty(tids)})
}

func orEmpty(ids []int64) []int64 {
	if ids == nil {
		return []int64{}
	}
	return ids
}
