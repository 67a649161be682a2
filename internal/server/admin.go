package server

import (
	"net/http"
	"strings"

	"switchyard/internal/domain"
	"switchyard/internal/jobs"
	"switchyard/internal/outbound"
)

func (s *Server) listMerchants(w http.ResponseWriter, r *http.Request) {
	ms, err := s.cfg.Store.ListMerchants(r.Context())
	if err != nil {
		s.Error(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"merchants": nonNil(ms)})
}

func (s *Server) createMerchant(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	if err := decode(r, &in); err != nil {
		s.Error(w, r, err)
		return
	}
	m := &domain.Merchant{ID: in.ID, Name: in.Name}
	if err := s.cfg.Store.CreateMerchant(r.Context(), m); err != nil {
		s.Error(w, r, err)
		return
	}
	WriteJSON(w, http.StatusCreated, m)
}

func (s *Server) getMerchant(w http.ResponseWriter, r *http.Request) {
	m, err := s.merchant(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, m)
}

// connectionView is a connection as the API shows it: secret names, never values.
type connectionView struct {
	*domain.Connection
	SecretNames []string `json:"secret_names"`
}

func viewConnection(c *domain.Connection) connectionView {
	names := c.Secrets.Names()
	if names == nil {
		names = []string{}
	}
	return connectionView{Connection: c, SecretNames: names}
}

type connectionInput struct {
	ID      string            `json:"id"`
	Vendor  string            `json:"vendor"`
	Account string            `json:"account"`
	Config  map[string]string `json:"config"`
	Secrets map[string]string `json:"secrets"`
}

func (s *Server) listConnections(w http.ResponseWriter, r *http.Request) {
	if _, err := s.merchant(r); err != nil {
		s.Error(w, r, err)
		return
	}
	cs, err := s.cfg.Store.ListConnections(r.Context(), r.PathValue("merchant"))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	out := make([]connectionView, 0, len(cs))
	for _, c := range cs {
		out = append(out, viewConnection(c))
	}
	WriteJSON(w, http.StatusOK, map[string]any{"connections": out})
}

func (s *Server) createConnection(w http.ResponseWriter, r *http.Request) {
	var in connectionInput
	if err := decode(r, &in); err != nil {
		s.Error(w, r, err)
		return
	}
	c := &domain.Connection{ID: in.ID, MerchantID: r.PathValue("merchant"), Vendor: in.Vendor, Account: in.Account, Config: in.Config, Secrets: in.Secrets}
	if err := s.checkConnection(r, c); err != nil {
		s.Error(w, r, err)
		return
	}
	if err := s.cfg.Store.CreateConnection(r.Context(), c); err != nil {
		s.Error(w, r, err)
		return
	}
	WriteJSON(w, http.StatusCreated, viewConnection(c))
}

// updateConnection merges config and secrets (a secret set to "" is removed)
// and can change the account.
func (s *Server) updateConnection(w http.ResponseWriter, r *http.Request) {
	var in connectionInput
	if err := decode(r, &in); err != nil {
		s.Error(w, r, err)
		return
	}
	c, err := s.cfg.Store.GetConnection(r.Context(), r.PathValue("merchant"), r.PathValue("connection"))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if in.Vendor != "" && in.Vendor != c.Vendor {
		s.Error(w, r, domain.Errorf(domain.EINVALID, "a connection's vendor cannot change"))
		return
	}
	if in.Account != "" {
		c.Account = in.Account
	}
	merge := func(dst map[string]string, src map[string]string) map[string]string {
		if dst == nil {
			dst = map[string]string{}
		}
		for k, v := range src {
			if v == "" {
				delete(dst, k)
			} else {
				dst[k] = v
			}
		}
		return dst
	}
	c.Config = merge(c.Config, in.Config)
	c.Secrets = merge(c.Secrets, in.Secrets)
	if err := s.checkConnection(r, c); err != nil {
		s.Error(w, r, err)
		return
	}
	if err := s.cfg.Store.UpdateConnection(r.Context(), c); err != nil {
		s.Error(w, r, err)
		return
	}
	s.invalidateInstallationsOf(r, c.MerchantID)
	WriteJSON(w, http.StatusOK, viewConnection(c))
}

// checkConnection validates a connection before it is stored: its fields,
// its base_url against the vendor's own hosts and the operator's
// allow-list, and a client-chosen id (checkChosenID).
func (s *Server) checkConnection(r *http.Request, c *domain.Connection) error {
	if r.Method == http.MethodPost {
		if err := checkChosenID(r, c.ID); err != nil {
			return err
		}
	}
	if err := c.Validate(); err != nil {
		return err
	}
	_, _, err := c.ValidateBaseURL(s.cfg.AllowVendorHosts)
	return err
}

// checkChosenID keeps the ids a merchant token chooses in that merchant's
// own namespace ("<merchant>-…"), so creating an object never tells whether
// an id is taken by another merchant. The operator chooses freely.
func checkChosenID(r *http.Request, id string) error {
	if id == "" || isOperator(r.Context()) {
		return nil
	}
	prefix := r.PathValue("merchant") + "-"
	if !strings.HasPrefix(id, prefix) || len(id) == len(prefix) {
		return domain.Errorf(domain.EINVALID, "an id chosen with a merchant token must start with %q (or leave id out and the hub picks one)", prefix)
	}
	return nil
}

func (s *Server) invalidateInstallationsOf(r *http.Request, merchantID string) {
	ins, err := s.cfg.Store.ListInstallations(r.Context(), merchantID)
	if err != nil {
		return
	}
	for _, in := range ins {
		s.cfg.Ingest.Invalidate(in.ID)
	}
}

func (s *Server) listInstallations(w http.ResponseWriter, r *http.Request) {
	if _, err := s.merchant(r); err != nil {
		s.Error(w, r, err)
		return
	}
	ins, err := s.cfg.Store.ListInstallations(r.Context(), r.PathValue("merchant"))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"installations": nonNil(ins)})
}

func (s *Server) createInstallation(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ID          string            `json:"id"`
		Connector   string            `json:"connector"`
		Connections map[string]string `json:"connections"`
		Settings    map[string]string `json:"settings"`
	}
	if err := decode(r, &in); err != nil {
		s.Error(w, r, err)
		return
	}
	inst := &domain.Installation{ID: in.ID, MerchantID: r.PathValue("merchant"), Connector: in.Connector, Connections: in.Connections, Settings: in.Settings, State: domain.InstallationPending}
	if err := checkChosenID(r, inst.ID); err != nil {
		s.Error(w, r, err)
		return
	}
	if err := s.cfg.Connectors.CheckInstallation(inst); err != nil {
		s.Error(w, r, err)
		return
	}
	if err := s.validateSettings(r, inst); err != nil {
		s.Error(w, r, err)
		return
	}
	if err := s.cfg.Store.CreateInstallation(r.Context(), inst); err != nil {
		s.Error(w, r, err)
		return
	}
	WriteJSON(w, http.StatusCreated, inst)
}

// installation loads the path's installation, 404 unless it belongs to the
// path's merchant.
func (s *Server) installation(r *http.Request) (*domain.Installation, error) {
	return s.cfg.Store.GetInstallation(r.Context(), r.PathValue("merchant"), r.PathValue("installation"))
}

func (s *Server) getInstallation(w http.ResponseWriter, r *http.Request) {
	in, err := s.installation(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, in)
}

// updateInstallation merges settings (a value "" removes a setting).
func (s *Server) updateInstallation(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Settings map[string]string `json:"settings"`
	}
	if err := decode(r, &body); err != nil {
		s.Error(w, r, err)
		return
	}
	in, err := s.installation(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if in.Settings == nil {
		in.Settings = map[string]string{}
	}
	for k, v := range body.Settings {
		if v == "" {
			delete(in.Settings, k)
		} else {
			in.Settings[k] = v
		}
	}
	if err := s.validateSettings(r, in); err != nil {
		s.Error(w, r, err)
		return
	}
	if err := s.cfg.Store.UpdateInstallation(r.Context(), in); err != nil {
		s.Error(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, in)
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) {
	if _, err := s.merchant(r); err != nil {
		s.Error(w, r, err)
		return
	}
	evs, err := s.cfg.Store.ListEvents(r.Context(), domain.EventFilter{MerchantID: r.PathValue("merchant"), InstallationID: r.URL.Query().Get("installation"), CustomerEmail: r.URL.Query().Get("email"), BeforeID: queryInt64(r, "before"), Limit: queryInt(r, "limit")})
	if err != nil {
		s.Error(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"events": nonNil(evs)})
}

func (s *Server) replayEvent(w http.ResponseWriter, r *http.Request) {
	id, err := pathInt(r, "event")
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if err := s.cfg.Store.ReplayEvent(r.Context(), r.PathValue("merchant"), id, jobs.EventJob); err != nil {
		s.Error(w, r, err)
		return
	}
	WriteJSON(w, http.StatusAccepted, map[string]any{"status": "replaying", "event_id": id})
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) {
	if _, err := s.merchant(r); err != nil {
		s.Error(w, r, err)
		return
	}
	ds, err := s.cfg.Store.ListDeliveries(r.Context(), domain.DeliveryFilter{MerchantID: r.PathValue("merchant"), InstallationID: r.URL.Query().Get("installation"), Vendor: r.URL.Query().Get("vendor"), EventID: queryInt64(r, "event"), BeforeID: queryInt64(r, "before"), Limit: queryInt(r, "limit")})
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if !isOperator(r.Context()) {
		for _, d := range ds {
			d.Error = outbound.PublicSummary(d.Class, d.Status) // never a host's answer or a transport error
		}
	}
	WriteJSON(w, http.StatusOK, map[string]any{"deliveries": nonNil(ds)})
}

func (s *Server) listDeadLetters(w http.ResponseWriter, r *http.Request) {
	if _, err := s.merchant(r); err != nil {
		s.Error(w, r, err)
		return
	}
	dls, err := s.cfg.Store.ListDeadLetters(r.Context(), domain.DeadLetterFilter{MerchantID: r.PathValue("merchant"), InstallationID: r.URL.Query().Get("installation"), Pending: r.URL.Query().Get("pending") == "true", BeforeID: queryInt64(r, "before"), Limit: queryInt(r, "limit")})
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if !isOperator(r.Context()) {
		for _, dl := range dls {
			dl.Error = outbound.PublicText(dl.Error) // up to the vendor's class and status
		}
	}
	WriteJSON(w, http.StatusOK, map[string]any{"dead_letters": nonNil(dls)})
}

func (s *Server) replayDeadLetter(w http.ResponseWriter, r *http.Request) {
	id, err := pathInt(r, "id")
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if err := s.cfg.Store.ReplayDeadLetter(r.Context(), r.PathValue("merchant"), id, jobs.ReplayJob); err != nil {
		s.Error(w, r, err)
		return
	}
	WriteJSON(w, http.StatusAccepted, map[string]any{"status": "replaying", "dead_letter_id": id})
}

func (s *Server) jobCounts(w http.ResponseWriter, r *http.Request) {
	counts, err := s.cfg.Store.JobCounts(r.Context())
	if err != nil {
		s.Error(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"jobs": nonNil(counts)})
}

func (s *Server) rateLimits(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Limiter == nil {
		WriteJSON(w, http.StatusOK, map[string]any{"budgets": []any{}})
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"budgets": s.cfg.Limiter.Status()})
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
