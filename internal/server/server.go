// Package server is switchyard's HTTP surface: the route table, health and
// readiness, metrics, inbound webhooks and the admin JSON API. Handlers are
// methods on Server, which holds its dependencies.
package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"switchyard/internal/baseservice"
	"switchyard/internal/connector"
	"switchyard/internal/domain"
	"switchyard/internal/outbound"
)

// Ingest receives webhooks (POST /hooks/{vendor}/{installation}) and caches
// installations, which admin changes invalidate.
type Ingest interface {
	http.Handler
	Invalidate(installationID string)
}

// RateLimits reports the rate budgets (GET /api/v1/rate-limits).
type RateLimits interface {
	Status() []outbound.BudgetStatus
}

// Config holds the server's dependencies: interfaces only, so the server can
// be tested without a database or a vendor.
type Config struct {
	Store  domain.Store
	Ingest Ingest
	// Metrics serves GET /metrics; nil leaves the route out.
	Metrics http.Handler
	Limiter RateLimits
	// Connectors are the registered connectors: they install and repair
	// installations, declare capabilities (backfill) and bring their own
	// routes.
	Connectors *connector.Set
	// AdminToken guards /api/v1; empty disables the admin API.
	AdminToken string
	Version    string
	Logger     *slog.Logger

	// AllowVendorHosts is the operator's allow-list of extra vendor hosts
	// a connection's base_url may name (nil: only the vendors' own).
	AllowVendorHosts *outbound.AllowList
}

// Server routes requests.
type Server struct {
	baseservice.Archetype
	cfg Config
	mux *http.ServeMux
}

// New builds the route table.
func New(cfg Config) *Server {
	s := &Server{Archetype: baseservice.New(cfg.Logger, nil), cfg: cfg, mux: http.NewServeMux()}
	m := s.mux
	m.HandleFunc("GET /healthz", s.healthz)
	m.HandleFunc("GET /readyz", s.readyz)
	if cfg.Metrics != nil {
		m.Handle("GET /metrics", cfg.Metrics)
	}
	m.Handle("POST /hooks/{vendor}/{installation}", cfg.Ingest)
	for _, rt := range cfg.Connectors.Routes() {
		m.Handle(rt.Pattern, rt.Handler)
	}

	// operator routes need the operator token; admin routes under
	// /merchants/{merchant} also take that merchant's own tokens.
	operator := func(pattern string, h http.HandlerFunc) { m.Handle(pattern, s.authorize(true, h)) }
	admin := func(pattern string, h http.HandlerFunc) { m.Handle(pattern, s.authorize(false, h)) }
	operator("GET /api/v1/merchants", s.listMerchants)
	operator("POST /api/v1/merchants", s.createMerchant)
	admin("GET /api/v1/merchants/{merchant}", s.getMerchant)
	admin("GET /api/v1/merchants/{merchant}/connections", s.listConnections)
	admin("POST /api/v1/merchants/{merchant}/connections", s.createConnection)
	admin("PATCH /api/v1/merchants/{merchant}/connections/{connection}", s.updateConnection)
	admin("GET /api/v1/merchants/{merchant}/installations", s.listInstallations)
	admin("POST /api/v1/merchants/{merchant}/installations", s.createInstallation)
	admin("GET /api/v1/merchants/{merchant}/installations/{installation}", s.getInstallation)
	admin("PATCH /api/v1/merchants/{merchant}/installations/{installation}", s.updateInstallation)
	admin("POST /api/v1/merchants/{merchant}/installations/{installation}/install", s.installInstallation)
	admin("POST /api/v1/merchants/{merchant}/installations/{installation}/uninstall", s.uninstallInstallation)
	admin("GET /api/v1/merchants/{merchant}/installations/{installation}/backfill", s.getBackfill)
	admin("POST /api/v1/merchants/{merchant}/installations/{installation}/backfill", s.startBackfill)
	admin("GET /api/v1/merchants/{merchant}/events", s.listEvents)
	admin("POST /api/v1/merchants/{merchant}/events/{event}/replay", s.replayEvent)
	admin("GET /api/v1/merchants/{merchant}/deliveries", s.listDeliveries)
	admin("GET /api/v1/merchants/{merchant}/dead-letters", s.listDeadLetters)
	admin("POST /api/v1/merchants/{merchant}/dead-letters/{id}/replay", s.replayDeadLetter)
	admin("GET /api/v1/merchants/{merchant}/tokens", s.listTokens)
	admin("POST /api/v1/merchants/{merchant}/tokens", s.createToken)
	admin("DELETE /api/v1/merchants/{merchant}/tokens/{token}", s.deleteToken)
	for key, byConnector := range cfg.Connectors.AdminRoutes() {
		method, path, _ := strings.Cut(key, " ")
		pattern := method + " /api/v1/merchants/{merchant}/installations/{installation}/" + path
		m.Handle(pattern, s.connectorAdmin(byConnector))
	}
	operator("GET /api/v1/jobs", s.jobCounts)
	operator("GET /api/v1/rate-limits", s.rateLimits)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// WriteJSON writes v with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Error writes err as {"error":{"code","message"}} with the status its code
// maps to. Internal errors are logged, and their detail is not returned.
func (s *Server) Error(w http.ResponseWriter, r *http.Request, err error) {
	code := domain.ErrorCode(err)
	if code == domain.EINTERNAL {
		s.Logger.ErrorContext(r.Context(), "request failed", slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("error", err.Error()))
	}
	msg := domain.ErrorMessage(err)
	if pub, ok := outbound.PublicMessage(err); ok && !isOperator(r.Context()) {
		msg = pub // a merchant sees our classification, not what a host answered
	}
	WriteJSON(w, domain.HTTPStatus(err), map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

type operatorKey struct{}

// isOperator reports whether the request was authorized with the operator
// token (which sees vendors' raw answers; merchant tokens do not).
func isOperator(ctx context.Context) bool {
	op, _ := ctx.Value(operatorKey{}).(bool)
	return op
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": s.cfg.Version})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := s.cfg.Store.Ready(ctx); err != nil {
		WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": domain.ErrorMessage(err)})
		return
	}
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// authorize authenticates the bearer token. The operator token (serve
// --admin-token) may do everything; a merchant token only what is under its
// own /api/v1/merchants/{merchant}. Another merchant's resources answer 404,
// as if they did not exist.
func (s *Server) authorize(operatorOnly bool, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || got == "" {
			s.Error(w, r, domain.Errorf(domain.EUNAUTHORIZED, "missing bearer token (the operator's --admin-token or a merchant token)"))
			return
		}
		if s.cfg.AdminToken != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.AdminToken)) == 1 {
			next(w, r.WithContext(context.WithValue(r.Context(), operatorKey{}, true)))
			return
		}
		if !strings.HasPrefix(got, domain.TokenPrefix) {
			s.Error(w, r, domain.Errorf(domain.EUNAUTHORIZED, "wrong token"))
			return
		}
		tok, err := s.cfg.Store.LookupAPIToken(r.Context(), got)
		if err != nil {
			if domain.IsNotFound(err) {
				err = domain.Errorf(domain.EUNAUTHORIZED, "wrong token")
			}
			s.Error(w, r, err)
			return
		}
		if operatorOnly {
			s.Error(w, r, domain.Errorf(domain.EFORBIDDEN, "this route needs the operator token"))
			return
		}
		if tok.MerchantID != r.PathValue("merchant") {
			s.Error(w, r, domain.Errorf(domain.ENOTFOUND, "merchant %s not found", r.PathValue("merchant")))
			return
		}
		next(w, r)
	})
}

func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return domain.Errorf(domain.EINVALID, "invalid JSON body: %v", err)
	}
	return nil
}

func queryInt(r *http.Request, name string) int {
	n, _ := strconv.Atoi(r.URL.Query().Get(name))
	return n
}

func queryInt64(r *http.Request, name string) int64 {
	n, _ := strconv.ParseInt(r.URL.Query().Get(name), 10, 64)
	return n
}

func pathInt(r *http.Request, name string) (int64, error) {
	n, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil {
		return 0, domain.Errorf(domain.EINVALID, "%s must be a number", name)
	}
	return n, nil
}

// merchant loads the path's merchant (404 when unknown).
func (s *Server) merchant(r *http.Request) (*domain.Merchant, error) {
	return s.cfg.Store.GetMerchant(r.Context(), r.PathValue("merchant"))
}
