package yotpogorgias

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"switchyard/internal/connector"
	"switchyard/internal/domain"
	"switchyard/internal/provider/gorgias"
	"switchyard/internal/provider/yotpo"
)

// Remote ids recorded on the installation.
const (
	RemoteIntegration = "gorgias_integration_id"
	RemoteWidget      = "gorgias_widget_id"
	RemoteWebhooks    = "yotpo_webhook_ids"
)

// HookTokenHeader carries the per-installation token on the Gorgias HTTP
// integration's calls.
const HookTokenHeader = "X-Switchyard-Token"

// Install creates, or repairs, what the connector needs: the Gorgias HTTP
// integration on ticket and message creation (found by stored id, then by
// name; renamed, re-pointed and reactivated as needed), the Yotpo widget,
// and the Yotpo escalation webhooks when the merchant has Reviews. It
// makes the installation active.
func (c *Connector) Install(ctx context.Context, in *domain.Installation) error {
	g, err := c.gorgiasClient(ctx, in)
	if err != nil {
		return err
	}
	hub, err := c.publicURL(in)
	if err != nil {
		return err
	}
	if in.RemoteIDs == nil {
		in.RemoteIDs = map[string]string{}
	}
	gconn, err := c.d.Store.GetConnection(ctx, in.MerchantID, in.Connections[domain.VendorGorgias])
	if err != nil {
		return err
	}
	if gconn.Secrets["hook_token"] == "" {
		gconn.Secrets["hook_token"] = newToken()
		if err := c.d.Store.UpdateConnection(ctx, gconn); err != nil {
			return err
		}
	}
	if err := c.ensureIntegration(ctx, g, in, hub, gconn.Secrets["hook_token"]); err != nil {
		return err
	}
	if err := c.ensureWidget(ctx, g, in); err != nil {
		return err
	}
	if err := c.ensureWebhooks(ctx, in, hub); err != nil {
		return err
	}
	in.State, in.StateReason = domain.InstallationActive, ""
	return c.d.Store.UpdateInstallation(ctx, in)
}

// integrationSpec is the HTTP integration Gorgias calls on ticket and
// message creation (customer message, agent reply, internal note).
func integrationSpec(in *domain.Installation, hub, token string) gorgias.Integration {
	return gorgias.Integration{Type: "http", Name: integrationName(in),
		Description: "Yotpo customer widget data (synced on message events) and Yotpo review escalations, by switchyard.",
		HTTP: &gorgias.HTTPConfig{
			URL: hookURL(hub, "hooks", "gorgias", Name, in.ID, "messages"), Method: http.MethodPost,
			Headers:            gorgias.StringMap{HookTokenHeader: token},
			RequestContentType: "application/json", ResponseContentType: "application/json",
			Form: gorgias.StringMap{"ticket_id": "{{ticket.id}}", "ticket_external_id": "{{ticket.external_id}}",
				"customer_id": "{{ticket.customer.id}}", "customer_email": "{{ticket.customer.email}}", "event": "{{event.type}}",
				"event_at": "{{event.created_datetime}}"},
			Triggers: map[string]bool{gorgias.TriggerTicketCreated: true, gorgias.TriggerTicketMessageCreated: true},
		}}
}

func (c *Connector) ensureIntegration(ctx context.Context, g *gorgias.Client, in *domain.Installation, hub, token string) error {
	spec := integrationSpec(in, hub, token)
	var got *gorgias.Integration
	if id, err := strconv.ParseInt(in.RemoteIDs[RemoteIntegration], 10, 64); err == nil && id > 0 {
		got, err = g.UpdateIntegration(ctx, gorgias.ID(id), spec)
		if err != nil && !errors.Is(err, gorgias.ErrNotFound) {
			return fmt.Errorf("error repairing the yotpo integration: %w", err)
		}
	}
	if got == nil {
		// Not stored (or deleted): adopt one of ours by URL, else create.
		for it, err := range g.ListIntegrations(ctx, "http", gorgias.ListOptions{}) {
			if err != nil {
				return fmt.Errorf("error listing gorgias integrations: %w", err)
			}
			if it.HTTP != nil && it.HTTP.URL == spec.HTTP.URL {
				if got, err = g.UpdateIntegration(ctx, it.ID, spec); err != nil {
					return fmt.Errorf("error repairing the yotpo integration: %w", err)
				}
				break
			}
		}
	}
	if got == nil {
		var err error
		if got, err = g.CreateIntegration(ctx, spec); err != nil {
			return fmt.Errorf("error creating the yotpo integration: %w", err)
		}
	}
	if !got.Active() {
		if _, err := g.ReactivateIntegration(ctx, got.ID, spec.Name); err != nil {
			return fmt.Errorf("error reactivating the yotpo integration: %w", err)
		}
	}
	in.RemoteIDs[RemoteIntegration] = got.ID.String()
	return nil
}

func (c *Connector) ensureWidget(ctx context.Context, g *gorgias.Client, in *domain.Installation) error {
	w := gorgias.Widget{Context: "ticket", Type: "custom", Order: 20, Template: WidgetTemplate()}
	if id, err := strconv.ParseInt(in.RemoteIDs[RemoteWidget], 10, 64); err == nil && id > 0 {
		if _, err := g.UpdateWidget(ctx, gorgias.ID(id), w); err == nil {
			return nil
		} else if !errors.Is(err, gorgias.ErrNotFound) {
			return fmt.Errorf("error repairing the yotpo widget: %w", err)
		}
	}
	created, err := g.CreateWidget(ctx, w)
	if err != nil {
		return fmt.Errorf("error creating the yotpo widget: %w", err)
	}
	in.RemoteIDs[RemoteWidget] = created.ID.String()
	return nil
}

// escalationEvents are the Yotpo webhook events the connector subscribes to.
var escalationEvents = []string{yotpo.EventReviewEscalated, yotpo.EventQuestionEscalated}

// ensureWebhooks subscribes the escalation URL (with the installation's
// token) to Yotpo's escalation events, once each, when the merchant has
// Reviews.
func (c *Connector) ensureWebhooks(ctx context.Context, in *domain.Installation, hub string) error {
	yc, err := c.yotpo(ctx, in)
	if err != nil {
		return err
	}
	if yc.reviews == nil {
		return nil
	}
	yconn, err := c.d.Store.GetConnection(ctx, in.MerchantID, in.Connections[domain.VendorYotpo])
	if err != nil {
		return err
	}
	token := yconn.Secrets["escalation_token"]
	if token == "" {
		// A connection made through the admin API: give it its token.
		token = newToken()
		if yconn.Secrets == nil {
			yconn.Secrets = domain.Secrets{}
		}
		yconn.Secrets["escalation_token"] = token
		if err := c.d.Store.UpdateConnection(ctx, yconn); err != nil {
			return err
		}
	}
	target := hookURL(hub, "hooks", "yotpo", Name, in.ID, token)
	have := map[string]bool{}
	subs, err := yc.reviews.ListWebhooks(ctx)
	if err != nil {
		return err
	}
	var ids []string
	for _, s := range subs {
		if s.URL == target {
			have[s.EventName] = true
			ids = append(ids, strconv.FormatInt(int64(s.ID), 10))
		}
	}
	for _, ev := range escalationEvents {
		if have[ev] {
			continue
		}
		s, err := yc.reviews.CreateWebhook(ctx, target, ev, "")
		if err != nil {
			return err
		}
		ids = append(ids, strconv.FormatInt(int64(s.ID), 10))
	}
	in.RemoteIDs[RemoteWebhooks] = strings.Join(ids, ",")
	return nil
}

// AdminRoutes implements connector.AdminRouteProvider: "Update
// integration" (PUT …/integration-name {"name": …}) renames the Gorgias
// integration.
func (c *Connector) AdminRoutes() []connector.AdminRoute {
	return []connector.AdminRoute{
		{Method: http.MethodGet, Path: "integration-name", Handle: c.getIntegrationName},
		{Method: http.MethodPut, Path: "integration-name", Handle: c.renameIntegration},
	}
}

// IntegrationName is the body of the integration-name admin route.
type IntegrationName struct {
	Name          string `json:"name"`
	IntegrationID string `json:"integration_id,omitempty"`
}

func (c *Connector) getIntegrationName(_ *http.Request, in *domain.Installation) (int, any, error) {
	return http.StatusOK, IntegrationName{Name: integrationName(in), IntegrationID: in.RemoteIDs[RemoteIntegration]}, nil
}

func (c *Connector) renameIntegration(r *http.Request, in *domain.Installation) (int, any, error) {
	var body IntegrationName
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<16)).Decode(&body); err != nil {
		return 0, nil, domain.Errorf(domain.EINVALID, "body must be JSON {\"name\": \"…\"}")
	}
	name := strings.TrimSpace(body.Name)
	if name == "" || len(name) > 255 || strings.ContainsAny(name, "\r\n") {
		return 0, nil, domain.Errorf(domain.EINVALID, "name must be 1 to 255 characters on one line")
	}
	ctx := r.Context()
	id, err := strconv.ParseInt(in.RemoteIDs[RemoteIntegration], 10, 64)
	if err != nil || id <= 0 {
		return 0, nil, domain.Errorf(domain.ECONFLICT, "the installation has no Gorgias integration yet: install it first")
	}
	if in.Settings == nil {
		in.Settings = map[string]string{}
	}
	in.Settings[SettingIntegrationName] = name
	g, err := c.gorgiasClient(ctx, in)
	if err != nil {
		return 0, nil, err
	}
	hub, err := c.publicURL(in)
	if err != nil {
		return 0, nil, err
	}
	gconn, err := c.d.Store.GetConnection(ctx, in.MerchantID, in.Connections[domain.VendorGorgias])
	if err != nil {
		return 0, nil, err
	}
	if _, err := g.UpdateIntegration(ctx, gorgias.ID(id), integrationSpec(in, hub, gconn.Secrets["hook_token"])); err != nil {
		return 0, nil, fmt.Errorf("error renaming the gorgias integration: %w", err)
	}
	if err := c.d.Store.UpdateInstallation(ctx, in); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, IntegrationName{Name: name, IntegrationID: in.RemoteIDs[RemoteIntegration]}, nil
}

// Uninstall implements connector.Uninstaller: it deletes the Gorgias
// integration and widget and the Yotpo escalation subscriptions, and
// revokes the Gorgias refresh token. Objects already gone are not an
// error, so it can run again.
func (c *Connector) Uninstall(ctx context.Context, in *domain.Installation) error {
	g, err := c.gorgiasClient(ctx, in)
	if err != nil {
		return err
	}
	if id, err := strconv.ParseInt(in.RemoteIDs[RemoteIntegration], 10, 64); err == nil && id > 0 {
		if err := g.DeleteIntegration(ctx, gorgias.ID(id)); err != nil && !errors.Is(err, gorgias.ErrNotFound) {
			return fmt.Errorf("error deleting the yotpo integration: %w", err)
		}
	}
	if id, err := strconv.ParseInt(in.RemoteIDs[RemoteWidget], 10, 64); err == nil && id > 0 {
		if err := g.DeleteWidget(ctx, gorgias.ID(id)); err != nil && !errors.Is(err, gorgias.ErrNotFound) {
			return fmt.Errorf("error deleting the yotpo widget: %w", err)
		}
	}
	if ids := in.RemoteIDs[RemoteWebhooks]; ids != "" {
		yc, err := c.yotpo(ctx, in)
		if err != nil {
			return err
		}
		if yc.reviews != nil {
			for _, s := range strings.Split(ids, ",") {
				if id, err := strconv.ParseInt(s, 10, 64); err == nil {
					if err := yc.reviews.DeleteWebhook(ctx, id); err != nil {
						return err
					}
				}
			}
		}
	}
	conn, err := c.d.Store.GetConnection(ctx, in.MerchantID, in.Connections[domain.VendorGorgias])
	if err != nil {
		return err
	}
	if rt := conn.Secrets["refresh_token"]; rt != "" && conn.Config["client_id"] != "" {
		base := conn.BaseURL()
		if _, _, err := conn.ValidateBaseURL(c.allow()); err != nil {
			return err
		}
		o := gorgias.NewOAuth(base, gorgias.OAuthConfig{ClientID: conn.Config["client_id"], ClientSecret: conn.Secrets["client_secret"]}, c.d.Clients.HTTP)
		if err := o.Revoke(ctx, rt); err != nil {
			return err
		}
		delete(conn.Secrets, "refresh_token")
		delete(conn.Secrets, "access_token")
		if err := c.d.Store.UpdateConnection(ctx, conn); err != nil {
			return err
		}
	}
	for _, k := range []string{RemoteIntegration, RemoteWidget, RemoteWebhooks} {
		delete(in.RemoteIDs, k)
	}
	return c.d.Store.UpdateInstallation(ctx, in)
}
