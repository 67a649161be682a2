package klaviyo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"switchyard/internal/emulator/emukit"
	"switchyard/internal/emulator/klaviyo/contract"
)

// Defaults (SPEC §4).
const (
	DefaultAccountID         = "Demo01"
	DefaultPrivateKey        = "pk_demo"
	DefaultOAuthClientID     = "switchyard"
	DefaultOAuthClientSecret = "klaviyo-app-secret"
	DefaultAccessTokenTTL    = time.Hour
	DefaultBulkJobStep       = time.Second
	DefaultOptInProcess      = "single_opt_in"
)

// Size and count limits from the contract descriptions (reference A7 item 4).
const (
	MaxPayloadBytes        = 5 << 20   // events, bulk jobs
	MaxProfilePayloadBytes = 100 << 10 // single-profile writes; also per profile in bulk import
	MaxStringBytes         = 100 << 10
	MaxEventProperties     = 400
	MaxBulkEvents          = 1000
	MaxBulkProfiles        = 10000
	MaxListMembersPerCall  = 1000
	MaxMetricNameLen       = 127 // "under 128 characters"
)

// Config configures the emulator. The zero value is a useful standalone
// emulator with the SPEC §4 default credentials.
type Config struct {
	// Now is the emulator's clock (default time.Now). Rate windows, token
	// expiry and bulk-job progress all read it.
	Now func() time.Time
	// Seed makes generated ids and injected faults reproducible.
	Seed uint64
	// Logger defaults to a discarding logger.
	Logger *slog.Logger

	// AccountID and PrivateKey describe the default account
	// (default "Demo01" / "pk_demo").
	AccountID  string
	PrivateKey string

	// OAuthClientID / OAuthClientSecret identify the one registered OAuth app
	// (default "switchyard" / "klaviyo-app-secret").
	OAuthClientID     string
	OAuthClientSecret string
	// OAuthAutoApprove makes GET /oauth/authorize redirect with a code at once
	// instead of showing the consent page.
	OAuthAutoApprove bool
	// OAuthRedirectURIs, when non-empty, is the allow-list for redirect_uri.
	OAuthRedirectURIs []string
	// AllowNoPKCE accepts authorization requests without code_challenge
	// (Klaviyo requires PKCE; the default refuses).
	AllowNoPKCE bool
	// AccessTokenTTL is the OAuth access-token lifetime (default 1 h;
	// UNCONFIRMED at Klaviyo).
	AccessTokenTTL time.Duration
	// RotateRefreshTokens issues a new refresh token on every refresh and
	// invalidates the old one (default: the refresh token is kept).
	RotateRefreshTokens bool

	// Contract replaces the embedded contract (tests load modified limits).
	Contract *contract.Spec
	// RateLimitScale multiplies the window lengths (1 s, 60 s, 24 h); 0 means 1.
	// Tests use small values so windows pass quickly in real time.
	RateLimitScale float64
	// DisableRateLimits turns the fixed windows off.
	DisableRateLimits bool

	// BulkJobStep is the emulator time each bulk-import job state lasts:
	// queued for one step, processing for one more, then complete
	// (default 1 s).
	BulkJobStep time.Duration
	// BulkJobManual stops time-based progress: jobs only move through
	// POST /_emulator/jobs/advance (or Emulator.AdvanceJobs).
	BulkJobManual bool

	// DefaultOptInProcess is the account default for lists created without
	// opt_in_process (default "single_opt_in"; UNCONFIRMED).
	DefaultOptInProcess string
	// SkipSchemaValidation turns off validation of request bodies and query
	// parameters against the contract.
	SkipSchemaValidation bool
	// PublicURL is the base of links in responses (default: scheme and Host
	// of each request).
	PublicURL string
}

// Emulator is an in-memory Klaviyo. It is an http.Handler.
type Emulator struct {
	cfg  Config
	kit  *emukit.Kit
	spec *contract.Spec
	log  *slog.Logger
	mux  *http.ServeMux

	idMu  sync.Mutex
	idRng *rand.Rand

	mu        sync.Mutex
	rng       *rand.Rand
	accounts  map[string]*account
	acctOrder []string
	keys      map[string]string // private key → account id
	codes     map[string]*authCode
	access    map[string]*oauthToken
	refresh   map[string]*oauthToken
	windows   map[string]*window
	calls     map[string]int
	throttled int
	closed    bool
}

// New returns an emulator with the default account.
func New(cfg Config) *Emulator {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.AccountID == "" {
		cfg.AccountID = DefaultAccountID
	}
	if cfg.PrivateKey == "" {
		cfg.PrivateKey = DefaultPrivateKey
	}
	if cfg.OAuthClientID == "" {
		cfg.OAuthClientID = DefaultOAuthClientID
	}
	if cfg.OAuthClientSecret == "" {
		cfg.OAuthClientSecret = DefaultOAuthClientSecret
	}
	if cfg.AccessTokenTTL <= 0 {
		cfg.AccessTokenTTL = DefaultAccessTokenTTL
	}
	if cfg.RateLimitScale <= 0 {
		cfg.RateLimitScale = 1
	}
	if cfg.BulkJobStep <= 0 {
		cfg.BulkJobStep = DefaultBulkJobStep
	}
	if cfg.DefaultOptInProcess == "" {
		cfg.DefaultOptInProcess = DefaultOptInProcess
	}
	spec := cfg.Contract
	if spec == nil {
		var err error
		if spec, err = contract.Load(); err != nil {
			// The contract is embedded and covered by tests; failing here
			// means the binary was built from a broken tree.
			panic(fmt.Sprintf("klaviyo emulator: %v", err))
		}
	}
	e := &Emulator{
		cfg:   cfg,
		kit:   emukit.New(cfg.Now, cfg.Seed),
		spec:  spec,
		log:   cfg.Logger,
		idRng: rand.New(rand.NewPCG(cfg.Seed, 0xe7707)),
	}
	e.resetLocked()
	e.mux = http.NewServeMux()
	e.routes()
	return e
}

// Close stops background work. The emulator runs none (bulk jobs advance
// lazily), so Close only marks it closed; it is safe to call twice.
func (e *Emulator) Close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
}

// Kit exposes the fault-injection kit.
func (e *Emulator) Kit() *emukit.Kit { return e.kit }

// Spec returns the contract the emulator enforces.
func (e *Emulator) Spec() *contract.Spec { return e.spec }

// Reset drops all data and tokens and restores the default account.
func (e *Emulator) Reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.resetLocked()
}

func (e *Emulator) resetLocked() {
	e.rng = rand.New(rand.NewPCG(e.cfg.Seed, 0x6b6c6176))
	e.accounts = map[string]*account{}
	e.acctOrder = nil
	e.keys = map[string]string{}
	e.codes = map[string]*authCode{}
	e.access = map[string]*oauthToken{}
	e.refresh = map[string]*oauthToken{}
	e.windows = map[string]*window{}
	e.calls = map[string]int{}
	e.throttled = 0
	e.addAccountLocked(e.cfg.AccountID, "Demo account", e.cfg.PrivateKey)
}

// ServeHTTP implements http.Handler. Paths under /api/ are matched with or
// without a trailing slash, as Klaviyo does.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/") && len(r.URL.Path) > len("/api/") && strings.HasSuffix(r.URL.Path, "/") {
		r2 := r.Clone(r.Context())
		r2.URL.Path = strings.TrimSuffix(r.URL.Path, "/")
		r2.URL.RawPath = ""
		r = r2
	}
	e.mux.ServeHTTP(w, r)
}

// handler is one API operation. It runs with e.mu held and returns the
// status and JSON:API document to send (nil for no body).
type handler func(c *call) (int, any, error)

// call is everything a handler needs about one request.
type call struct {
	r    *http.Request
	acct *account
	op   *contract.Operation
	body map[string]any // decoded JSON (numbers as json.Number); nil without body
	raw  []byte
	base string // scheme://host for links
	now  time.Time
	hdr  http.Header // extra response headers
}

// header returns the response headers the handler adds.
func (c *call) header() http.Header {
	if c.hdr == nil {
		c.hdr = http.Header{}
	}
	return c.hdr
}

type route struct {
	pattern string
	opID    string
	maxBody int
	h       handler
}

func (e *Emulator) routes() {
	rs := []route{
		{"POST /api/profile-import", "create_or_update_profile", MaxProfilePayloadBytes, e.importProfile},
		{"POST /api/profiles", "create_profile", MaxProfilePayloadBytes, e.createProfile},
		{"GET /api/profiles", "get_profiles", 0, e.getProfiles},
		{"GET /api/profiles/{id}", "get_profile", 0, e.getProfile},
		{"PATCH /api/profiles/{id}", "update_profile", MaxProfilePayloadBytes, e.updateProfile},
		{"POST /api/events", "create_event", MaxPayloadBytes, e.createEvent},
		{"POST /api/event-bulk-create-jobs", "bulk_create_events", MaxPayloadBytes, e.bulkCreateEvents},
		{"GET /api/event-bulk-create-jobs/{job_id}", "", 0, e.getEventBulkJob}, // emulator extension: no such operation in the contract
		{"POST /api/lists", "create_list", MaxPayloadBytes, e.createList},
		{"GET /api/lists", "get_lists", 0, e.getLists},
		{"GET /api/lists/{id}", "get_list", 0, e.getList},
		{"POST /api/lists/{id}/relationships/profiles", "add_profiles_to_list", MaxPayloadBytes, e.addListMembers},
		{"DELETE /api/lists/{id}/relationships/profiles", "remove_profiles_from_list", MaxPayloadBytes, e.removeListMembers},
		{"POST /api/profile-bulk-import-jobs", "bulk_import_profiles", MaxPayloadBytes, e.createImportJob},
		{"GET /api/profile-bulk-import-jobs/{job_id}", "get_bulk_import_profiles_job", 0, e.getImportJob},
		{"GET /api/profile-bulk-import-jobs/{id}/import-errors", "get_errors_for_bulk_import_profiles_job", 0, e.getImportErrors},
	}
	for _, rt := range rs {
		op := e.spec.Operation(rt.opID)
		if op == nil && rt.opID != "" {
			e.log.Warn("klaviyo emulator: operation missing from contract; served without limits or validation", slog.String("operation", rt.opID))
		}
		e.mux.HandleFunc(rt.pattern, e.api(rt, op))
	}
	e.mux.HandleFunc("/api/", e.notFound)
	e.mux.HandleFunc("GET /oauth/authorize", e.authorize)
	e.mux.HandleFunc("POST /oauth/authorize", e.authorize)
	e.mux.HandleFunc("POST /oauth/token", e.token)
	e.mux.HandleFunc("POST /oauth/revoke", e.revoke)
	e.kit.Control(e.mux, func() any { return e.State() }, e.Reset)
	e.mux.HandleFunc("POST /_emulator/accounts", e.controlAddAccount)
	e.mux.HandleFunc("POST /_emulator/seed", e.controlSeed)
	e.mux.HandleFunc("POST /_emulator/jobs/advance", e.controlAdvanceJobs)
	e.mux.HandleFunc("POST /_emulator/tokens/expire", e.controlExpireTokens)
}

var revisionRE = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2})(\.[A-Za-z0-9_-]+)?$`)

// api wraps an operation: fault injection, revision, auth, rate limit,
// media type, size limit, contract validation, then the handler under the
// state lock.
func (e *Emulator) api(rt route, op *contract.Operation) http.HandlerFunc {
	label := rt.pattern
	return func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.calls[label]++
		e.mu.Unlock()
		if e.kit.Inject(w, r, e.writeKitError) {
			return
		}
		if err := e.checkRevision(r); err != nil {
			e.writeErr(w, err)
			return
		}
		now := e.cfg.Now()
		acct, quotaKey, aerr := e.authenticate(r, op, now)
		if aerr != nil {
			e.writeErr(w, aerr)
			return
		}
		if op != nil && !e.cfg.DisableRateLimits {
			if lerr := e.rateLimit(w, quotaKey, op, now); lerr != nil {
				e.writeErr(w, lerr)
				return
			}
		}
		c := &call{r: r, acct: acct, op: op, base: e.baseURL(r), now: now}
		if err := e.readBody(r, rt.maxBody, c); err != nil {
			e.writeErr(w, err)
			return
		}
		if op != nil && !e.cfg.SkipSchemaValidation {
			if err := e.validate(r, op, c.raw); err != nil {
				e.writeErr(w, err)
				return
			}
		}
		e.mu.Lock()
		e.advanceJobsLocked(now)
		status, doc, herr := rt.h(c)
		e.mu.Unlock()
		if herr != nil {
			e.writeErr(w, herr)
			return
		}
		for k, v := range c.hdr {
			w.Header()[k] = v
		}
		writeDoc(w, status, doc)
	}
}

func (e *Emulator) notFound(w http.ResponseWriter, r *http.Request) {
	if e.kit.Inject(w, r, e.writeKitError) {
		return
	}
	for _, m := range []string{"GET", "POST", "PATCH", "DELETE", "PUT"} {
		if m == r.Method {
			continue
		}
		if op, _ := e.spec.Find(m, r.URL.Path); op != nil {
			e.writeErr(w, &apiErr{status: http.StatusMethodNotAllowed, code: "method_not_allowed", detail: fmt.Sprintf("Method %q not allowed.", r.Method)})
			return
		}
	}
	e.writeErr(w, &apiErr{status: http.StatusNotFound, code: "not_found", detail: "The requested URL was not found (not emulated: " + r.Method + " " + r.URL.Path + ")."})
}

func (e *Emulator) checkRevision(r *http.Request) error {
	rev := strings.TrimSpace(r.Header.Get("revision"))
	if rev == "" {
		return &apiErr{status: http.StatusBadRequest, code: "invalid", detail: "The `revision` header is required (format YYYY-MM-DD[.suffix]).", parameter: "revision"}
	}
	m := revisionRE.FindStringSubmatch(rev)
	if m == nil {
		return &apiErr{status: http.StatusBadRequest, code: "invalid", detail: fmt.Sprintf("Invalid revision %q: expected format YYYY-MM-DD[.suffix].", rev), parameter: "revision"}
	}
	if _, err := time.Parse(time.DateOnly, m[1]); err != nil {
		return &apiErr{status: http.StatusBadRequest, code: "invalid", detail: fmt.Sprintf("Invalid revision %q: not a date.", rev), parameter: "revision"}
	}
	if e.spec.Revision != "" && m[1] > e.spec.Revision {
		return &apiErr{status: http.StatusBadRequest, code: "invalid", detail: fmt.Sprintf("Revision %s is not available; the latest is %s.", m[1], e.spec.Revision), parameter: "revision"}
	}
	return nil
}

func (e *Emulator) baseURL(r *http.Request) string {
	if e.cfg.PublicURL != "" {
		return strings.TrimRight(e.cfg.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if host == "" {
		host = "a.klaviyo.test"
	}
	return scheme + "://" + host
}

func (e *Emulator) readBody(r *http.Request, limit int, c *call) error {
	if r.Body == nil || r.Method == http.MethodGet {
		return nil
	}
	if limit <= 0 {
		limit = MaxPayloadBytes
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	if err != nil {
		return &apiErr{status: http.StatusBadRequest, code: "parse_error", detail: "Could not read the request body."}
	}
	if len(b) > limit {
		return &apiErr{status: http.StatusRequestEntityTooLarge, code: "request_too_large", detail: fmt.Sprintf("The payload exceeds the maximum allowed size of %d bytes.", limit)}
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	switch mt := mediaType(r.Header.Get("Content-Type")); mt {
	case "application/vnd.api+json", "application/json":
	default:
		return &apiErr{status: http.StatusUnsupportedMediaType, code: "unsupported_media_type", detail: fmt.Sprintf("Unsupported media type %q in request.", mt)}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return &apiErr{status: http.StatusBadRequest, code: "parse_error", detail: "Malformed JSON: " + err.Error()}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return &apiErr{status: http.StatusBadRequest, code: "invalid", detail: "The request body must be a JSON object.", pointer: "/"}
	}
	c.raw, c.body = b, m
	return nil
}

func mediaType(ct string) string {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

// validate checks query parameters and body against the contract. The
// revision header and media type were already checked.
func (e *Emulator) validate(r *http.Request, op *contract.Operation, body []byte) error {
	h := http.Header{"Revision": {"x"}, "Content-Type": {"application/vnd.api+json"}}
	err := op.ValidateRequest(nil, r.URL.Query(), h, body)
	var ves contract.ValidationErrors
	if !errors.As(err, &ves) || len(ves) == 0 {
		return nil
	}
	out := &multiErr{}
	for i, ve := range ves {
		if i == 10 {
			break
		}
		ae := &apiErr{status: http.StatusBadRequest, code: "invalid", detail: ve.Message}
		switch ve.Where {
		case "query", "header", "path":
			ae.parameter = ve.Pointer
		default:
			ae.pointer = ve.Pointer
			if ae.pointer == "" {
				ae.pointer = "/"
			}
		}
		out.errs = append(out.errs, ae)
	}
	return out
}

// writeDoc writes a JSON:API document (or nothing for nil).
func writeDoc(w http.ResponseWriter, status int, doc any) {
	if doc == nil {
		w.WriteHeader(status)
		return
	}
	b, err := json.Marshal(doc)
	if err != nil {
		http.Error(w, "encoding response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/vnd.api+json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// controlAddAccount handles POST /_emulator/accounts
// {"id":"…","name":"…","private_key":"pk_…"}; id and key are generated when
// absent.
func (e *Emulator) controlAddAccount(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID         string `json:"id"`
		Name       string `json:"name"`
		PrivateKey string `json:"private_key"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		emukit.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be JSON: " + err.Error()})
		return
	}
	id, key, err := e.AddAccount(req.ID, req.Name, req.PrivateKey)
	if err != nil {
		emukit.WriteJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
		return
	}
	emukit.WriteJSON(w, http.StatusCreated, map[string]string{"id": id, "private_key": key})
}

// AddAccount adds an account with its own data and private key. Empty id or
// key are generated ("pk_<id>" for the key).
func (e *Emulator) AddAccount(id, name, privateKey string) (string, string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if id == "" {
		id = e.shortIDLocked(6)
	}
	if privateKey == "" {
		privateKey = "pk_" + strings.ToLower(id)
	}
	if _, ok := e.accounts[id]; ok {
		return "", "", fmt.Errorf("account %q already exists", id)
	}
	if _, ok := e.keys[privateKey]; ok {
		return "", "", errors.New("private key already in use")
	}
	if name == "" {
		name = "Account " + id
	}
	e.addAccountLocked(id, name, privateKey)
	return id, privateKey, nil
}

// controlExpireTokens handles POST /_emulator/tokens/expire: every OAuth
// access token expires now (refresh tokens stay valid).
func (e *Emulator) controlExpireTokens(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	now := e.cfg.Now()
	n := 0
	for _, t := range e.access {
		t.expires = now
		n++
	}
	e.mu.Unlock()
	emukit.WriteJSON(w, http.StatusOK, map[string]int{"expired": n})
}

// linkTo returns an absolute link to path (trailing slash, as Klaviyo).
func (c *call) linkTo(path string) string { return c.base + path + "/" }

// selfLink returns the request's own absolute URL.
func (c *call) selfLink() string {
	u := c.base + c.r.URL.Path + "/"
	if q := c.r.URL.RawQuery; q != "" {
		u += "?" + q
	}
	return u
}

// pageLink returns the request URL with page[cursor] replaced.
func (c *call) pageLink(cursor string) string {
	q := c.r.URL.Query()
	q.Set("page[cursor]", cursor)
	return c.base + c.r.URL.Path + "/?" + encodeQuery(q)
}

// encodeQuery encodes like url.Values.Encode but keeps brackets readable,
// as Klaviyo's links do.
func encodeQuery(q url.Values) string {
	return strings.NewReplacer("%5B", "[", "%5D", "]").Replace(q.Encode())
}

func formatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05-07:00")
}

func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return formatTime(t)
}
