package adminui

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"switchyard/internal/domain"
)

// The connector panels of konnektive-gorgias (C3), yotpo-gorgias (C4) and
// together-gorgias (C5). Each reads and writes only through the
// connector's admin routes and the admin API (docs/konnektive-gorgias.md,
// docs/yotpo-gorgias.md, docs/together-gorgias.md).

// ---- konnektive-gorgias ------------------------------------------------------

// konnektiveSettings is the answer of GET …/plugin-settings: the plugin
// guide's fields by their names (secrets only as set or not).
type konnektiveSettings struct {
	BaseURL        string `json:"baseUrl"`
	UserName       string `json:"userName"`
	APIKeySet      bool   `json:"apiKeySet"`
	IntegrationID  string `json:"IntegrationId"`
	CRMBaseURL     string `json:"crmBaseUrl"`
	CRMLoginID     string `json:"crmLoginId"`
	CRMPasswordSet bool   `json:"crmPasswordSet"`
	HubURL         string `json:"hubUrl"`
	PullTimeout    string `json:"pullTimeout"`
	CacheTTL       string `json:"cacheTtl"`
	ActionWindow   string `json:"actionWindow"`
}

// auditRow is one row of GET …/audit (an agent's macro run).
type auditRow struct {
	TicketID   string            `json:"ticket_id"`
	Agent      string            `json:"agent"`
	Action     string            `json:"action"`
	Arguments  map[string]string `json:"arguments"`
	Status     string            `json:"status"`
	Message    string            `json:"message"`
	HTTPStatus int               `json:"http_status"`
	CreatedAt  time.Time         `json:"created_at"`
}

// konnektiveView is what the konnektive-gorgias panel and timeline show.
type konnektiveView struct {
	Settings konnektiveSettings
	Audit    []auditRow
	// TicketBase is the Gorgias app's ticket address without the id ("":
	// no link).
	TicketBase string
	// Customer is the email the audit rows are limited to (the timeline);
	// "" on the installation page.
	Customer string
}

// konnektiveAuditLimit is how many audit rows the panel and the timeline
// show (newest first).
const konnektiveAuditLimit = 25

func konnektivePanel() Panel {
	return Panel{
		Load: func(_ context.Context, call PanelCall, _ *domain.Installation) (any, error) {
			return loadKonnektive(call, "")
		},
		// The timeline shows the agent actions on this customer's tickets.
		Timeline: func(_ context.Context, call PanelCall, _ *domain.Installation, email string) (any, error) {
			return loadKonnektive(call, email)
		},
		Forms: map[string]PanelForm{"plugin-settings": saveKonnektiveSettings},
	}
}

// loadKonnektive reads the plugin settings and the latest audit rows (of
// one customer's tickets when email is set).
func loadKonnektive(call PanelCall, email string) (*konnektiveView, error) {
	var v konnektiveView
	if err := call(http.MethodGet, "plugin-settings", nil, &v.Settings); err != nil {
		return nil, err
	}
	v.TicketBase = ticketBase(v.Settings.BaseURL)
	var a struct {
		Audit []auditRow `json:"audit"`
	}
	q := url.Values{"limit": {strconv.Itoa(konnektiveAuditLimit)}}
	if email != "" {
		q.Set("email", email)
	}
	v.Customer = email
	err := call(http.MethodGet, "audit?"+q.Encode(), nil, &a)
	v.Audit = a.Audit
	return &v, err
}

// ticketBase turns the plugin's baseUrl (the Gorgias API, …/api) into the
// app's ticket address.
func ticketBase(apiBase string) string {
	b := strings.TrimSuffix(strings.TrimSuffix(apiBase, "/"), "/api")
	if u, err := url.Parse(b); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	return b + "/app/ticket/"
}

// saveKonnektiveSettings saves the plugin settings form where the guide
// maps each field: the Gorgias connection (baseUrl → config.base_url,
// userName → config.email, apiKey → secret api_key), the Konnektive
// connection (CRM base URL → config.base_url, loginId → config.login_id,
// password → secret password) and the installation's own settings. Only
// changed fields are sent; an empty secret keeps the stored one;
// IntegrationId is never sent (read-only). The installation PATCH, sent
// last and always, is where the API checks both sides' credentials, so a
// wrong key or password comes back with the side named.
func saveKonnektiveSettings(_ context.Context, api PanelAPI, in *domain.Installation, f url.Values) (string, error) {
	var cur konnektiveSettings
	if err := api.Route(http.MethodGet, "plugin-settings", nil, &cur); err != nil {
		return "", err
	}
	val := func(k string) string { return strings.TrimSpace(f.Get(k)) }
	type patch struct {
		Config  map[string]string `json:"config,omitempty"`
		Secrets map[string]string `json:"secrets,omitempty"`
	}
	set := func(m *map[string]string, k, v string) {
		if *m == nil {
			*m = map[string]string{}
		}
		(*m)[k] = v
	}
	var g, k patch
	if v := strings.TrimSuffix(strings.TrimSuffix(val("baseUrl"), "/"), "/api"); v != "" && v != strings.TrimSuffix(cur.BaseURL, "/api") {
		set(&g.Config, "base_url", v)
	}
	if v := val("userName"); v != "" && v != cur.UserName {
		set(&g.Config, "email", v)
	}
	if v := val("apiKey"); v != "" {
		set(&g.Secrets, "api_key", v)
	}
	if v := strings.TrimSuffix(val("crmBaseUrl"), "/"); v != "" && v != strings.TrimSuffix(cur.CRMBaseURL, "/") {
		set(&k.Config, "base_url", v)
	}
	if v := val("crmLoginId"); v != "" && v != cur.CRMLoginID {
		set(&k.Config, "login_id", v)
	}
	if v := val("crmPassword"); v != "" {
		set(&k.Secrets, "password", v)
	}
	settings := map[string]string{}
	for key, old := range map[string]string{"hubUrl": cur.HubURL, "pullTimeout": cur.PullTimeout, "cacheTtl": cur.CacheTTL, "actionWindow": cur.ActionWindow} {
		if v := val(key); f.Has(key) && v != old {
			settings[key] = v
		}
	}
	var stored []string
	// withStored adds to an API error what was stored before it.
	withStored := func(err error, note string) error {
		var ae *apiError
		if len(stored) == 0 || !errors.As(err, &ae) {
			return err
		}
		return &apiError{Status: ae.Status, Code: ae.Code, Message: strings.TrimSuffix(ae.Message, ".") +
			". The new " + strings.Join(stored, " and ") + " values were stored " + note}
	}
	for _, c := range []struct {
		vendor, label string
		p             patch
	}{{domain.VendorGorgias, "Gorgias", g}, {domain.VendorKonnektive, "Konnektive CRM", k}} {
		if c.p.Config == nil && c.p.Secrets == nil {
			continue
		}
		id := in.Connections[c.vendor]
		if id == "" {
			return "", domain.Errorf(domain.EINVALID, "the installation has no %s connection", c.label)
		}
		if err := api.Merchant(http.MethodPatch, c.p, nil, "connections", id); err != nil {
			return "", withStored(err, "but not checked yet: correct this field and save again.")
		}
		stored = append(stored, c.label)
	}
	if err := api.Merchant(http.MethodPatch, map[string]any{"settings": settings}, nil, "installations", in.ID); err != nil {
		return "", withStored(err, "but do not pass this check: correct them and save again.")
	}
	if len(stored) == 0 && len(settings) == 0 {
		return "Plugin settings checked: both sides answer; nothing changed.", nil
	}
	return "Plugin settings saved: Gorgias and the Konnektive CRM both answer.", nil
}

// ---- yotpo-gorgias -------------------------------------------------------------

// yotpoView is the answer of GET …/integration-name.
type yotpoView struct {
	Name          string `json:"name"`
	IntegrationID string `json:"integration_id"`
}

func yotpoPanel() Panel {
	return Panel{Load: func(_ context.Context, call PanelCall, _ *domain.Installation) (any, error) {
		var v yotpoView
		err := call(http.MethodGet, "integration-name", nil, &v)
		return &v, err
	}}
}

// ---- together-gorgias ----------------------------------------------------------

// togetherLink is the answer of GET …/link.
type togetherLink struct {
	Status         string `json:"status"`
	ShopifyStore   string `json:"shopify_store"`
	GorgiasAccount string `json:"gorgias_account"`
	Reason         string `json:"reason"`
	RequestedAt    string `json:"requested_at"`
	DecidedAt      string `json:"decided_at"`
	Message        string `json:"message"`
}

func togetherPanel() Panel {
	return Panel{
		Load: func(_ context.Context, call PanelCall, _ *domain.Installation) (any, error) {
			var v togetherLink
			err := call(http.MethodGet, "link", nil, &v)
			return &v, err
		},
		// The link's status is kept in the installation's remote_ids
		// (docs/together-gorgias.md, "Where things live").
		Badge: func(in *domain.Installation) (string, bool) {
			if in.State == domain.InstallationUninstalled {
				return "", false
			}
			switch in.RemoteIDs["link_status"] {
			case "pending":
				return "link request pending: approve or reject", true
			case "rejected":
				return "link rejected", false
			case "":
				return "link not requested", false
			}
			return "", false
		},
	}
}
