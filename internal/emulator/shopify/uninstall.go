package shopify

import (
	"encoding/json"
	"net/http"
	"strings"

	"switchyard/internal/emulator/emukit"
)

// App uninstall: the app uninstalls itself with DELETE
// /admin/api_permissions/current.json (its access token in
// X-Shopify-Access-Token), or the merchant uninstalls it
// (POST /_emulator/uninstall). Either way every access and refresh token
// of the app for the shop stops working at once, app/uninstalled is sent
// to the app's subscriptions, and those subscriptions are removed.

// revokePermissions is DELETE /admin/api_permissions/current.json.
func (e *Emulator) revokePermissions(w http.ResponseWriter, r *http.Request) {
	if e.kit.Inject(w, r, writeRESTErr) {
		return
	}
	if v := r.PathValue("version"); v != "" && !versionRE.MatchString(v) {
		writeRESTErr(w, http.StatusNotFound, "Not Found")
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	tok, status, msg := e.checkTokenLocked(r.Header.Get("X-Shopify-Access-Token"))
	if status != 0 {
		writeRESTErr(w, status, msg)
		return
	}
	e.uninstallLocked(e.shop(tok.shop), tok.clientID)
	emukit.WriteJSON(w, http.StatusOK, map[string]any{})
}

// Uninstall uninstalls the app clientID ("" = default app) from shop ("" =
// default shop), as the merchant does from the admin. It reports whether
// the shop exists.
func (e *Emulator) Uninstall(shop, clientID string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.shop(shop)
	if s == nil {
		return false
	}
	if clientID == "" {
		clientID = e.cfg.ClientID
	}
	e.uninstallLocked(s, clientID)
	return true
}

func (e *Emulator) uninstallLocked(s *shopState, clientID string) {
	for tok, ti := range e.tokens {
		if ti.shop == s.domain && ti.clientID == clientID {
			delete(e.tokens, tok)
		}
	}
	for rt, ri := range e.refresh {
		if ri.shop == s.domain && ri.clientID == clientID {
			delete(e.refresh, rt)
		}
	}
	for code, c := range e.codes {
		if c.shop == s.domain && c.clientID == clientID {
			delete(e.codes, code)
		}
	}
	body, _ := json.Marshal(map[string]any{"id": s.id, "name": s.name, "email": "owner@" + s.domain,
		"domain": s.domain, "myshopify_domain": s.domain, "currency": "USD"})
	e.enqueueBodyLocked(s, TopicAppUninstalled, clientID, body)
	kept := s.webhooks[:0]
	for _, h := range s.webhooks {
		if h.ClientID != clientID {
			kept = append(kept, h)
		}
	}
	s.webhooks = kept
}

// TokenCount reports how many access tokens and refresh tokens the app
// clientID ("" = default app) holds for shop ("" = default shop),
// expired ones included until they are replaced or revoked.
func (e *Emulator) TokenCount(shop, clientID string) (access, refresh int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.shop(shop)
	if s == nil {
		return 0, 0
	}
	if clientID == "" {
		clientID = e.cfg.ClientID
	}
	for _, ti := range e.tokens {
		if ti.shop == s.domain && ti.clientID == clientID {
			access++
		}
	}
	for _, ri := range e.refresh {
		if ri.shop == s.domain && ri.clientID == clientID {
			refresh++
		}
	}
	return access, refresh
}

func (e *Emulator) ctlUninstall(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Shop     string `json:"shop"`
		ClientID string `json:"client_id"`
	}
	if !decode(w, r, &req) {
		return
	}
	if !e.Uninstall(strings.TrimSpace(req.Shop), req.ClientID) {
		ctlErr(w, http.StatusNotFound, "unknown shop")
		return
	}
	emukit.WriteJSON(w, http.StatusOK, map[string]string{"status": "uninstalled"})
}
