package server

import (
	"net/http"

	"switchyard/internal/connector/whiplashklaviyo"
	"switchyard/internal/domain"
)

// installInstallation runs the connector's install (or repair): it creates
// or finds the remote objects and activates the installation.
func (s *Server) installInstallation(w http.ResponseWriter, r *http.Request) {
	in, err := s.installation(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	c, ok := s.cfg.Connectors[in.Connector]
	if !ok {
		s.Error(w, r, domain.Errorf(domain.EINVALID, "connector %s cannot be installed by this build", in.Connector))
		return
	}
	if err := c.Install(r.Context(), in); err != nil {
		if domain.ErrorCode(err) == domain.EINTERNAL {
			err = domain.WrapError(domain.EUNAVAILABLE, "install failed: "+err.Error(), err)
		}
		s.Error(w, r, err)
		return
	}
	s.cfg.Ingest.Invalidate(in.ID)
	WriteJSON(w, http.StatusOK, in)
}

func (s *Server) getBackfill(w http.ResponseWriter, r *http.Request) {
	in, err := s.installation(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	st, err := whiplashklaviyo.BackfillStatus(r.Context(), s.cfg.Store, in.ID)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"installation_id": in.ID, "backfill": st})
}

func (s *Server) startBackfill(w http.ResponseWriter, r *http.Request) {
	in, err := s.installation(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	c, ok := s.cfg.Connectors[in.Connector].(*whiplashklaviyo.Connector)
	if !ok {
		s.Error(w, r, domain.Errorf(domain.EINVALID, "connector %s has no backfill", in.Connector))
		return
	}
	if err := c.StartBackfill(r.Context(), in); err != nil {
		s.Error(w, r, err)
		return
	}
	WriteJSON(w, http.StatusAccepted, map[string]string{"status": "started"})
}
