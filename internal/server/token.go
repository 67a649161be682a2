package server

import (
	"net/http"
)

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	if _, err := s.merchant(r); err != nil {
		s.Error(w, r, err)
		return
	}
	ts, err := s.cfg.Store.ListAPITokens(r.Context(), r.PathValue("merchant"))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"tokens": nonNil(ts)})
}

// createToken answers the plaintext once; only its hash is stored.
func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name string `json:"name"`
	}
	if err := decode(r, &in); err != nil {
		s.Error(w, r, err)
		return
	}
	plain, t, err := s.cfg.Store.CreateAPIToken(r.Context(), r.PathValue("merchant"), in.Name)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	WriteJSON(w, http.StatusCreated, map[string]any{"id": t.ID, "merchant_id": t.MerchantID, "name": t.Name, "created_at": t.CreatedAt, "token": plain})
}

func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request) {
	if err := s.cfg.Store.DeleteAPIToken(r.Context(), r.PathValue("merchant"), r.PathValue("token")); err != nil {
		s.Error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
