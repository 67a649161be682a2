package server

import (
	"log/slog"
	"net/http"

	"switchyard/internal/connector"
	"switchyard/internal/domain"
)

// connectorOf returns the registered connector of an installation.
func (s *Server) connectorOf(in *domain.Installation) (connector.Connector, error) {
	c, ok := s.cfg.Connectors.Get(in.Connector)
	if !ok {
		return nil, domain.Errorf(domain.EINVALID, "connector %s is not run by this build", in.Connector)
	}
	return c, nil
}

// installInstallation runs the connector's install (or repair): it creates
// or finds the remote objects and activates the installation.
func (s *Server) installInstallation(w http.ResponseWriter, r *http.Request) {
	in, err := s.installation(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	c, err := s.connectorOf(in)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if err := c.Install(r.Context(), in); err != nil {
		err = s.remoteError(r, in, "install failed", "install failed, try again later", err)
		s.noteInstallFailed(r, in, err)
		s.Error(w, r, err)
		return
	}
	// Installed or repaired: active, whatever it was (pending, degraded).
	if in.State != domain.InstallationActive || in.StateReason != "" {
		in.State, in.StateReason = domain.InstallationActive, ""
		if err := s.cfg.Store.UpdateInstallation(r.Context(), in); err != nil {
			s.Error(w, r, err)
			return
		}
	}
	s.cfg.Ingest.Invalidate(in.ID)
	WriteJSON(w, http.StatusOK, in)
}

// backfiller returns the installation and its connector's backfill.
func (s *Server) backfiller(r *http.Request) (*domain.Installation, connector.Backfiller, error) {
	in, err := s.installation(r)
	if err != nil {
		return nil, nil, err
	}
	c, err := s.connectorOf(in)
	if err != nil {
		return nil, nil, err
	}
	b, ok := c.(connector.Backfiller)
	if !ok {
		return nil, nil, domain.Errorf(domain.EINVALID, "connector %s has no backfill", in.Connector)
	}
	return in, b, nil
}

func (s *Server) getBackfill(w http.ResponseWriter, r *http.Request) {
	in, b, err := s.backfiller(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	st, err := b.BackfillStatus(r.Context(), in)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"installation_id": in.ID, "backfill": st})
}

func (s *Server) startBackfill(w http.ResponseWriter, r *http.Request) {
	in, b, err := s.backfiller(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if err := b.StartBackfill(r.Context(), in); err != nil {
		s.Error(w, r, connector.CallerError(err))
		return
	}
	WriteJSON(w, http.StatusAccepted, map[string]string{"status": "started"})
}

// validateSettings checks the settings every connector shares, then the
// connector's own when it declares a check.
func (s *Server) validateSettings(r *http.Request, in *domain.Installation) error {
	if err := in.ValidateSettings(); err != nil {
		return err
	}
	c, err := s.connectorOf(in)
	if err != nil {
		return err
	}
	if v, ok := c.(connector.SettingsValidator); ok {
		return connector.CallerError(v.ValidateSettings(r.Context(), in))
	}
	return nil
}

// noteInstallFailed records why the install of a pending installation failed
// (its state stays pending; a degraded one keeps its own reason).
func (s *Server) noteInstallFailed(r *http.Request, in *domain.Installation, err error) {
	cur, gerr := s.installation(r)
	if gerr != nil || cur.State != domain.InstallationPending {
		return
	}
	cur.StateReason = "install failed: " + domain.ErrorMessage(err)
	if uerr := s.cfg.Store.UpdateInstallation(r.Context(), cur); uerr != nil {
		s.cfg.Logger.WarnContext(r.Context(), "could not record the install failure", slog.String("installation", in.ID), slog.String("error", uerr.Error()))
	}
}

// uninstallInstallation runs the connector's uninstall (when it has one)
// and marks the installation uninstalled: its webhooks and routes stop at
// once. Running it again is harmless.
func (s *Server) uninstallInstallation(w http.ResponseWriter, r *http.Request) {
	in, err := s.installation(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	c, err := s.connectorOf(in)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	// Stop taking work first, so nothing lands while the remote objects go.
	if in.State != domain.InstallationUninstalled {
		in.State, in.StateReason = domain.InstallationUninstalled, ""
		if err := s.cfg.Store.UpdateInstallation(r.Context(), in); err != nil {
			s.Error(w, r, err)
			return
		}
	}
	s.cfg.Ingest.Invalidate(in.ID)
	if u, ok := c.(connector.Uninstaller); ok {
		if err := u.Uninstall(r.Context(), in); err != nil {
			s.Error(w, r, s.remoteError(r, in, "uninstall failed", "uninstall did not finish removing the remote objects; run it again", err))
			return
		}
	}
	WriteJSON(w, http.StatusOK, in)
}

// connectorAdmin serves one connector admin route pattern: the
// installation's own connector answers (404 when its connector declares no
// such route).
//
// The merchant scope is checked first, as on every route under a merchant:
// another merchant's token reads 404 even on an operator-only route, and
// the merchant's own token reads 403 there.
func (s *Server) connectorAdmin(byConnector map[string]connector.AdminRoute) http.Handler {
	return s.authorize(false, func(w http.ResponseWriter, r *http.Request) {
		in, err := s.installation(r)
		if err != nil {
			s.Error(w, r, err)
			return
		}
		rt, ok := byConnector[in.Connector]
		if !ok {
			s.Error(w, r, domain.Errorf(domain.ENOTFOUND, "connector %s has no route %s %s", in.Connector, r.Method, r.URL.Path))
			return
		}
		if rt.Operator && !isOperator(r.Context()) {
			s.Error(w, r, domain.Errorf(domain.EFORBIDDEN, "this route needs the operator token"))
			return
		}
		status, body, err := rt.Handle(r, in)
		if err != nil {
			s.Error(w, r, connector.CallerError(err))
			return
		}
		// A route that writes may have changed the installation (a link
		// approved, a rename): webhooks must see it at once. A GET reads.
		if r.Method != http.MethodGet {
			s.cfg.Ingest.Invalidate(in.ID)
		}
		WriteJSON(w, status, body)
	})
}

// remoteError maps an error of a connector's work in the vendor accounts
// for the admin caller: a vendor's answer or the caller's mistake as
// connector.CallerError says; anything else is logged with its cause and
// answered as try-again (tryAgain) without its detail.
func (s *Server) remoteError(r *http.Request, in *domain.Installation, logMsg, tryAgain string, err error) error {
	err = connector.CallerError(err)
	if domain.ErrorCode(err) != domain.EINTERNAL {
		return err
	}
	s.cfg.Logger.ErrorContext(r.Context(), logMsg, slog.String("installation", in.ID), slog.String("error", err.Error()))
	return domain.WrapError(domain.EUNAVAILABLE, tryAgain, err)
}
