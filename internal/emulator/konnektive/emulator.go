package konnektive

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"switchyard/internal/emulator/emukit"
)

// Default credentials (SPEC §4).
const (
	DefaultLoginID  = "demo"
	DefaultPassword = "konnektive-pass"
)

// DefaultCustomers is the fixture size when Config.Customers is zero.
const DefaultCustomers = 40

// MaxResultsPerPage is the largest accepted resultsPerPage.
const MaxResultsPerPage = 200

// DefaultResultsPerPage is used when resultsPerPage is absent (UNCONFIRMED).
const DefaultResultsPerPage = 25

const maxBody = 1 << 20

// Config configures an emulator. The zero value is a useful standalone
// emulator with the default credentials and 40 fixture customers.
type Config struct {
	// Now is the clock (default time.Now). Fixture dates are relative to it.
	Now func() time.Time
	// Seed makes fixtures and injected faults reproducible.
	Seed uint64
	// Logger defaults to a discarding logger.
	Logger *slog.Logger
	// Customers is the number of fixture customers (default 40; raised to
	// len(Emails) when smaller).
	Customers int
	// Emails are given, in order, to the first fixture customers, so demo
	// data can share customers with other emulators' fixtures.
	Emails []string
	// LoginID and Password replace the default credentials.
	LoginID, Password string
	// LenientDateRange accepts queries with neither an id nor
	// startDate+endDate (as one public client relies on). By default the
	// validators' rule is enforced and such a query is an ERROR.
	LenientDateRange bool
	// AuthErrorStatus is the HTTP status of a bad-credentials answer
	// (default 200 with result=ERROR; UNCONFIRMED).
	AuthErrorStatus int
	// HoldEndpoint enables POST /purchase/hold/ (purchaseId, optional
	// resumeDate): an UNCONFIRMED real pause endpoint kept behind this flag.
	HoldEndpoint bool
	// KeepOrderAddresses stops customer/update from copying address, email
	// and phone changes to the customer's open orders and live purchases.
	KeepOrderAddresses bool
	// CallLog is how many recent API calls the state dump keeps (default
	// 200; negative keeps none).
	CallLog int
}

// SeedOptions regenerate the fixtures (POST /_emulator/seed, Emulator.Seed).
type SeedOptions struct {
	// Seed replaces the fixture seed when non-nil.
	Seed *uint64 `json:"seed,omitempty"`
	// Customers is the number of customers (0 keeps the configured count).
	Customers int `json:"customers,omitempty"`
	// Emails are given to the first customers (nil keeps the configured ones).
	Emails []string `json:"emails,omitempty"`
}

// Call is one logged API call (the password is never logged).
type Call struct {
	Time    time.Time         `json:"time"`
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Params  map[string]string `json:"params"`
	Result  string            `json:"result"`
	Message string            `json:"message,omitempty"`
}

// Emulator is an in-memory Konnektive CRM API. It is an http.Handler.
type Emulator struct {
	cfg    Config
	kit    *emukit.Kit
	log    *slog.Logger
	mux    *http.ServeMux
	routes map[string]handler

	mu        sync.Mutex
	accounts  map[string]string
	db        *dataset
	seed      uint64
	customers int
	emails    []string
	calls     []Call
}

type handler func(e *Emulator, p params) (any, error)

// New returns an emulator holding the default account and seeded fixtures.
func New(cfg Config) *Emulator {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Customers <= 0 {
		cfg.Customers = DefaultCustomers
	}
	if cfg.LoginID == "" {
		cfg.LoginID = DefaultLoginID
	}
	if cfg.Password == "" {
		cfg.Password = DefaultPassword
	}
	if cfg.AuthErrorStatus == 0 {
		cfg.AuthErrorStatus = http.StatusOK
	}
	if cfg.CallLog == 0 {
		cfg.CallLog = 200
	}
	e := &Emulator{cfg: cfg, kit: emukit.New(cfg.Now, cfg.Seed), log: cfg.Logger, mux: http.NewServeMux()}
	e.routes = map[string]handler{
		"order/query":         (*Emulator).queryOrders,
		"customer/query":      (*Emulator).queryCustomers,
		"purchase/query":      (*Emulator).queryPurchases,
		"transactions/query":  (*Emulator).queryTransactions,
		"order/refund":        (*Emulator).refundOrder,
		"order/cancel":        (*Emulator).cancelOrder,
		"transactions/refund": (*Emulator).refundTransaction,
		"customer/addnote":    (*Emulator).addNote,
		"customer/update":     (*Emulator).updateCustomer,
		"purchase/cancel":     (*Emulator).cancelPurchase,
		"purchase/update":     (*Emulator).updatePurchase,
		"purchase/refund":     (*Emulator).refundPurchase,
		"fulfillment/update":  (*Emulator).updateFulfillment,
	}
	if cfg.HoldEndpoint {
		e.routes["purchase/hold"] = (*Emulator).holdPurchase
	}
	e.reset()
	e.kit.Control(e.mux, e.state, e.reset)
	e.mux.HandleFunc("POST /_emulator/accounts", e.handleAccounts)
	e.mux.HandleFunc("POST /_emulator/seed", e.handleSeed)
	return e
}

// Close releases resources. The emulator runs no background goroutines;
// Close is safe to call more than once.
func (e *Emulator) Close() {}

// Kit exposes the fault-injection kit (tests set faults directly).
func (e *Emulator) Kit() *emukit.Kit { return e.kit }

// AddAccount adds (or replaces) an API user. All API users see the same CRM data.
func (e *Emulator) AddAccount(loginID, password string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.accounts[loginID] = password
}

// Seed regenerates the fixtures.
func (e *Emulator) Seed(o SeedOptions) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if o.Seed != nil {
		e.seed = *o.Seed
	}
	if o.Customers > 0 {
		e.customers = o.Customers
	}
	if o.Emails != nil {
		e.emails = append([]string(nil), o.Emails...)
	}
	e.db = generate(e.seed, e.customers, e.emails, e.cfg.Now())
}

// Calls returns the logged API calls, oldest first.
func (e *Emulator) Calls() []Call {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Call(nil), e.calls...)
}

func (e *Emulator) reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.accounts = map[string]string{e.cfg.LoginID: e.cfg.Password}
	e.seed, e.customers = e.cfg.Seed, e.cfg.Customers
	e.emails = append([]string(nil), e.cfg.Emails...)
	e.db = generate(e.seed, e.customers, e.emails, e.cfg.Now())
	e.calls = nil
}

func (e *Emulator) state() any {
	e.mu.Lock()
	defer e.mu.Unlock()
	db := e.db
	logins := make([]string, 0, len(e.accounts))
	for l := range e.accounts {
		logins = append(logins, l)
	}
	sort.Strings(logins)
	var cs, os, ps, ts []map[string]any
	for _, c := range sortedCustomers(db) {
		cs = append(cs, c.render())
	}
	for _, o := range db.sortedOrders() {
		os = append(os, db.renderOrder(o))
	}
	for _, p := range db.sortedPurchases() {
		ps = append(ps, db.renderPurchase(p))
	}
	for _, t := range db.sortedTxns() {
		ts = append(ts, t.render())
	}
	return map[string]any{
		"accounts": logins,
		"seed":     e.seed,
		"counts": map[string]int{
			"customers": len(db.customers), "orders": len(db.orders), "purchases": len(db.purchases),
			"transactions": len(db.txns), "fulfillments": len(db.fulfillments),
		},
		"customers": cs, "orders": os, "purchases": ps, "transactions": ts,
		"calls": append([]Call(nil), e.calls...),
	}
}

func (e *Emulator) handleAccounts(w http.ResponseWriter, r *http.Request) {
	var a struct {
		LoginID  string `json:"loginId"`
		Password string `json:"password"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&a); err != nil || a.LoginID == "" || a.Password == "" {
		emukit.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": `body must be {"loginId":"…","password":"…"}`})
		return
	}
	if len(a.LoginID) > 32 || len(a.Password) > 32 {
		emukit.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "loginId and password are at most 32 characters"})
		return
	}
	e.AddAccount(a.LoginID, a.Password)
	emukit.WriteJSON(w, http.StatusCreated, map[string]string{"loginId": a.LoginID})
}

func (e *Emulator) handleSeed(w http.ResponseWriter, r *http.Request) {
	var o SeedOptions
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&o); err != nil && err != io.EOF {
		emukit.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "seed options must be JSON: " + err.Error()})
		return
	}
	if o.Customers < 0 || o.Customers > 100000 {
		emukit.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "customers must be between 0 and 100000"})
		return
	}
	e.Seed(o)
	e.mu.Lock()
	defer e.mu.Unlock()
	emukit.WriteJSON(w, http.StatusOK, map[string]any{"seed": e.seed, "counts": map[string]int{
		"customers": len(e.db.customers), "orders": len(e.db.orders), "purchases": len(e.db.purchases), "transactions": len(e.db.txns),
	}})
}

// ---- API ----

// writeEnvelope writes {"result":…, "message":…}.
func writeEnvelope(w http.ResponseWriter, status int, result string, msg any) {
	emukit.WriteJSON(w, status, map[string]any{"result": result, "message": msg})
}

// writeError is the fault writer: the Konnektive ERROR envelope.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeEnvelope(w, status, "ERROR", msg)
}

// apiError is a validation failure answered as an ERROR envelope.
type apiError string

func (a apiError) Error() string { return string(a) }

func errf(format string, args ...any) error { return apiError(fmt.Sprintf(format, args...)) }

// ServeHTTP serves the API paths (with or without trailing slash, GET or
// POST) and the /_emulator control routes.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_emulator/") {
		e.mux.ServeHTTP(w, r)
		return
	}
	key := strings.Trim(r.URL.Path, "/")
	h, ok := e.routes[key]
	if !ok {
		writeError(w, http.StatusNotFound, "Invalid API endpoint: /"+key+"/")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		writeError(w, http.StatusMethodNotAllowed, "Method "+r.Method+" is not allowed")
		return
	}
	if e.kit.Inject(w, r, writeError) {
		return
	}
	p, err := readParams(w, r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	msg, status, result := any(nil), http.StatusOK, "SUCCESS"
	if pw, ok := e.accounts[p.get("loginId")]; !ok || p.get("loginId") == "" || pw != p.raw("password") {
		status, result, msg = e.cfg.AuthErrorStatus, "ERROR", "Invalid login credentials"
	} else if out, herr := h(e, p); herr != nil {
		result, msg = "ERROR", herr.Error()
	} else {
		msg = out
	}
	e.logCall(r.Method, "/"+key+"/", p, result, msg)
	writeEnvelope(w, status, result, msg)
}

func (e *Emulator) logCall(method, path string, p params, result string, msg any) {
	if e.cfg.CallLog < 0 {
		return
	}
	c := Call{Time: e.kit.Now(), Method: method, Path: path, Params: map[string]string{}, Result: result}
	for k, v := range p {
		if k == "password" {
			continue
		}
		c.Params[k] = v
	}
	if s, ok := msg.(string); ok {
		c.Message = s
	}
	e.calls = append(e.calls, c)
	if over := len(e.calls) - e.cfg.CallLog; over > 0 {
		e.calls = append([]Call(nil), e.calls[over:]...)
	}
	e.log.Debug("konnektive call", slog.String("path", path), slog.String("result", result))
}

// params is the merged parameter map (first value of each name; body values
// override query values).
type params map[string]string

func (p params) raw(k string) string { return p[k] }
func (p params) get(k string) string { return strings.TrimSpace(p[k]) }
func (p params) has(k string) bool   { return p.get(k) != "" }

// readParams merges the URL query with an urlencoded, multipart or (UNCONFIRMED) JSON body.
func readParams(w http.ResponseWriter, r *http.Request) (params, error) {
	p := params{}
	for k, vs := range r.URL.Query() {
		if len(vs) > 0 {
			p[k] = vs[0]
		}
	}
	if r.Body == nil || r.Method == http.MethodGet && r.ContentLength <= 0 {
		return p, nil
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "multipart/form-data":
		if err := r.ParseMultipartForm(maxBody); err != nil {
			return nil, errf("Invalid multipart body: %v", err)
		}
		for k, vs := range r.MultipartForm.Value {
			if len(vs) > 0 {
				p[k] = vs[0]
			}
		}
	case "application/json":
		var m map[string]any
		dec := json.NewDecoder(r.Body)
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil && err != io.EOF {
			return nil, errf("Invalid JSON body: %v", err)
		}
		for k, v := range m {
			switch x := v.(type) {
			case string:
				p[k] = x
			case json.Number:
				p[k] = x.String()
			case bool:
				p[k] = boolStr(x)
			case nil:
			default:
				b, _ := json.Marshal(x)
				p[k] = string(b)
			}
		}
	default:
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, errf("Request body too large or unreadable: %v", err)
		}
		vs, err := url.ParseQuery(string(b))
		if err != nil {
			return nil, errf("Invalid form body: %v", err)
		}
		for k, v := range vs {
			if len(v) > 0 {
				p[k] = v[0]
			}
		}
	}
	return p, nil
}

func (e *Emulator) now() time.Time { return e.kit.Now().In(emukit.Eastern).Truncate(time.Second) }

func (db *dataset) sortedOrders() []*order {
	out := make([]*order, 0, len(db.orders))
	for _, o := range db.orders {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

func (db *dataset) sortedPurchases() []*purchase {
	out := make([]*purchase, 0, len(db.purchases))
	for _, p := range db.purchases {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (db *dataset) sortedTxns() []*txn {
	out := make([]*txn, 0, len(db.txns))
	for _, t := range db.txns {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
