// Package togethergorgias is connector C5: a Gorgias ticket widget showing
// the requester's Shopify orders upgraded to final sale (the Together app)
// in the last 60 days.
//
// The merchant asks for the link of <store>.myshopify.com and
// <account>.gorgias.com and an operator approves it (admin routes); the
// merchant authorizes both apps (OAuth; tokens encrypted in the
// connections, refreshed through the same token store); the install
// creates an HTTP integration named "Together" and a ticket widget bound to
// it, and stores their ids and a generated event token the integration
// sends as a header. Each ticket event is answered inline from Shopify and
// nothing from it is stored or logged.
package togethergorgias

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"switchyard/internal/connector"
	"switchyard/internal/domain"
	"switchyard/internal/provider/gorgias"
	"switchyard/internal/provider/shopify"
)

// Remote ids recorded on the installation.
const (
	RemoteIntegration = "gorgias_integration_id"
	RemoteWidget      = "gorgias_widget_id"
)

// IntegrationName is the HTTP integration's name, as the merchant guide
// promises.
const IntegrationName = "Together"

// TokenHeader carries the event token on every integration call.
const TokenHeader = "X-Together-Token"

// SettingHubURL is the hub's public base URL, which Gorgias calls.
const SettingHubURL = "hub_url"

// eventTokenKey names the event token in the Gorgias connection's
// secrets (encrypted at rest, never returned), one per installation.
func eventTokenKey(installationID string) string { return "together_event_token." + installationID }

// Connector is C5.
type Connector struct {
	d     connector.Deps
	locks sync.Map // connection id → *sync.Mutex (token refreshes)
}

// New returns the connector.
func New(d connector.Deps) *Connector {
	return &Connector{d: d.WithDefaults()}
}

// Name implements connector.Connector.
func (c *Connector) Name() string { return Name }

// ValidateSettings implements connector.SettingsValidator: hub_url, when
// set, is the hub's absolute http(s) base URL.
func (c *Connector) ValidateSettings(_ context.Context, in *domain.Installation) error {
	if v, ok := in.Settings[SettingHubURL]; ok {
		if _, err := hubURL(v); err != nil {
			return err
		}
	}
	return nil
}

func hubURL(v string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(v))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", domain.Errorf(domain.EINVALID, "%s %q must be the hub's public base URL, e.g. https://hub.example.com", SettingHubURL, v)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// Install creates, or repairs, the "Together" HTTP integration and its
// ticket widget. It needs the approved link and both connections
// authorized.
func (c *Connector) Install(ctx context.Context, in *domain.Installation) error {
	l, err := linked(in)
	if err != nil {
		return err
	}
	// The installation's hub_url, else the hub's --public-url.
	raw := cmp.Or(in.Settings[SettingHubURL], c.d.PublicURL)
	if raw == "" {
		return domain.Errorf(domain.EINVALID, "the hub's public URL is unknown: set the installation's %s, or run the hub with --public-url", SettingHubURL)
	}
	base, err := hubURL(raw)
	if err != nil {
		return err
	}
	sconn, err := c.d.Store.GetConnection(ctx, in.MerchantID, in.Connections[domain.VendorShopify])
	if err != nil {
		return err
	}
	gconn, err := c.d.Store.GetConnection(ctx, in.MerchantID, in.Connections[domain.VendorGorgias])
	if err != nil {
		return err
	}
	if !strings.EqualFold(sconn.Account, l.ShopifyStore) || !strings.EqualFold(gconn.Account+".gorgias.com", l.GorgiasAccount) {
		return domain.Errorf(domain.EINVALID, "the connections no longer match the approved link (%s, %s): request the link again", l.ShopifyStore, l.GorgiasAccount)
	}
	if sconn.Secrets["access_token"] == "" && sconn.Secrets["refresh_token"] == "" {
		return domain.Errorf(domain.EINVALID, "the Shopify store is not connected yet: open the shopify_url of POST …/authorize")
	}
	if gconn.Secrets["api_key"] == "" && gconn.Secrets["access_token"] == "" && gconn.Secrets["refresh_token"] == "" {
		return domain.Errorf(domain.EINVALID, "the Gorgias account is not connected yet: open the gorgias_url of POST …/authorize")
	}
	token, err := c.eventToken(ctx, gconn, in.ID)
	if err != nil {
		return err
	}
	g, err := c.gorgias(ctx, in)
	if err != nil {
		return err
	}
	if in.RemoteIDs == nil {
		in.RemoteIDs = map[string]string{}
	}
	integ, err := c.ensureIntegration(ctx, g, in, Integration(base+HookPrefix+in.ID, token))
	if err != nil {
		return c.noteAuth(ctx, in, err)
	}
	in.RemoteIDs[RemoteIntegration] = integ.String()
	wid, err := c.ensureWidget(ctx, g, in, integ)
	if err != nil {
		return c.noteAuth(ctx, in, err)
	}
	in.RemoteIDs[RemoteWidget] = wid.String()
	in.State = domain.InstallationActive
	return c.d.Store.UpdateInstallation(ctx, in)
}

// eventToken returns the installation's event token, generating and
// storing it (in the Gorgias connection's secrets) the first time.
func (c *Connector) eventToken(ctx context.Context, gconn *domain.Connection, installationID string) (string, error) {
	if t := gconn.Secrets[eventTokenKey(installationID)]; t != "" {
		return t, nil
	}
	t := "tg_" + randomHex(32)
	if gconn.Secrets == nil {
		gconn.Secrets = domain.Secrets{}
	}
	gconn.Secrets[eventTokenKey(installationID)] = t
	if err := c.d.Store.UpdateConnection(ctx, gconn); err != nil {
		return "", fmt.Errorf("error storing the event token: %w", err)
	}
	return t, nil
}

// Integration is the HTTP integration: a POST of the ticket id, account
// domain and customer email to the installation's hook, with the event
// token as a header, on every ticket event that can change the requester.
func Integration(hookURL, token string) gorgias.Integration {
	return gorgias.Integration{Type: "http", Name: IntegrationName,
		Description: "Orders upgraded to final sale with Together (last 60 days).",
		HTTP: &gorgias.HTTPConfig{URL: hookURL, Method: "POST", Headers: gorgias.StringMap{TokenHeader: token},
			Form:               gorgias.StringMap{"ticket_id": "{{ticket.id}}", "account_domain": "{{ticket.account.domain}}", "email": "{{ticket.customer.email}}"},
			RequestContentType: "application/json", ResponseContentType: "application/json",
			Triggers: map[string]bool{"ticket-created": true, "ticket-updated": true, "ticket-message-created": true}}}
}

// ensureIntegration updates the integration by its stored id, else by
// name, else creates it; a deactivated one is reactivated.
func (c *Connector) ensureIntegration(ctx context.Context, g *gorgias.Client, in *domain.Installation, want gorgias.Integration) (gorgias.ID, error) {
	id := storedID(in, RemoteIntegration)
	if id == 0 {
		for it, err := range g.ListIntegrations(ctx, "http", gorgias.ListOptions{}) {
			if err != nil {
				return 0, err
			}
			if it.Name == IntegrationName && it.HTTP != nil && strings.HasSuffix(it.HTTP.URL, HookPrefix+in.ID) {
				id = it.ID
				break
			}
		}
	}
	if id != 0 {
		got, err := g.UpdateIntegration(ctx, id, want)
		if err == nil {
			if !got.Active() {
				if _, err := g.ReactivateIntegration(ctx, id, IntegrationName); err != nil {
					return 0, err
				}
			}
			return id, nil
		}
		if !errors.Is(err, gorgias.ErrNotFound) {
			return 0, fmt.Errorf("error repairing the Together integration: %w", err)
		}
	}
	created, err := g.CreateIntegration(ctx, want)
	if err != nil {
		return 0, fmt.Errorf("error creating the Together integration: %w", err)
	}
	return created.ID, nil
}

// ensureWidget updates the widget by its stored id, else the one bound to
// the integration, else creates it.
func (c *Connector) ensureWidget(ctx context.Context, g *gorgias.Client, in *domain.Installation, integ gorgias.ID) (gorgias.ID, error) {
	w := gorgias.Widget{Context: "ticket", Type: "http", IntegrationID: &integ, Order: 40, Template: WidgetTemplate()}
	id := storedID(in, RemoteWidget)
	if id == 0 {
		for wd, err := range g.ListWidgets(ctx, integ, gorgias.ListOptions{}) {
			if err != nil {
				return 0, err
			}
			if wd.IntegrationID != nil && *wd.IntegrationID == integ {
				id = wd.ID
				break
			}
		}
	}
	if id != 0 {
		if _, err := g.UpdateWidget(ctx, id, w); err == nil {
			return id, nil
		} else if !errors.Is(err, gorgias.ErrNotFound) {
			return 0, fmt.Errorf("error repairing the Together widget: %w", err)
		}
	}
	created, err := g.CreateWidget(ctx, w)
	if err != nil {
		return 0, fmt.Errorf("error creating the Together widget: %w", err)
	}
	return created.ID, nil
}

func storedID(in *domain.Installation, key string) gorgias.ID {
	id, err := strconv.ParseInt(in.RemoteIDs[key], 10, 64)
	if err != nil || id <= 0 {
		return 0
	}
	return gorgias.ID(id)
}

// Uninstall deletes the integration and the widget (ids from the store;
// already gone is fine), forgets the event token (its calls are refused
// at once: the server marked the installation uninstalled first) and
// revokes both apps' tokens.
func (c *Connector) Uninstall(ctx context.Context, in *domain.Installation) error {
	gconn, err := c.d.Store.GetConnection(ctx, in.MerchantID, in.Connections[domain.VendorGorgias])
	if err != nil {
		return err
	}
	// Without a usable token (Gorgias refused it, or a previous uninstall
	// forgot it) nothing can be deleted there: the merchant is told to.
	revoked := gconn.Secrets["api_key"] == "" && gconn.Secrets["access_token"] == "" && gconn.Secrets["refresh_token"] == ""
	if !revoked {
		g, err := c.gorgias(ctx, in)
		if err != nil {
			return err
		}
		var errs []error
		for _, o := range []struct {
			key string
			del func(context.Context, gorgias.ID) error
		}{{RemoteWidget, g.DeleteWidget}, {RemoteIntegration, g.DeleteIntegration}} {
			id := storedID(in, o.key)
			if id == 0 || revoked {
				continue
			}
			switch err := o.del(ctx, id); {
			case err == nil, errors.Is(err, gorgias.ErrNotFound):
				delete(in.RemoteIDs, o.key)
			case errors.Is(err, gorgias.ErrTokenRevoked):
				revoked = true
			default:
				errs = append(errs, err)
			}
		}
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
	}
	in.StateReason = ""
	if in.RemoteIDs[RemoteWidget] != "" || in.RemoteIDs[RemoteIntegration] != "" {
		in.StateReason = "Gorgias no longer accepts the Together app's token, so the HTTP integration and widget were not deleted: " +
			"delete them in Gorgias (Settings → Integrations → HTTP integration → Together, and the ticket widget's edit mode)"
	}
	if err := c.d.Store.UpdateInstallation(ctx, in); err != nil {
		return err
	}
	if err := c.revokeGorgias(ctx, in, revoked); err != nil {
		return err
	}
	return c.revokeShopify(ctx, in)
}

// revokeGorgias revokes the refresh token (then the access token), unless
// Gorgias already refused it, and removes them and the event token from
// the connection.
func (c *Connector) revokeGorgias(ctx context.Context, in *domain.Installation, alreadyRevoked bool) error {
	conn, err := c.d.Store.GetConnection(ctx, in.MerchantID, in.Connections[domain.VendorGorgias])
	if err != nil {
		return err
	}
	if !alreadyRevoked && (conn.Secrets["refresh_token"] != "" || conn.Secrets["access_token"] != "") {
		gk, err := c.gorgiasOAuth(ctx, in.MerchantID, conn.ID)
		if err != nil {
			return err
		}
		for _, k := range []string{"refresh_token", "access_token"} {
			if t := conn.Secrets[k]; t != "" {
				if err := gk.oauth.Revoke(ctx, t); err != nil {
					return fmt.Errorf("error revoking the gorgias %s: %w", strings.ReplaceAll(k, "_", " "), err)
				}
			}
		}
	}
	// Read again: the revoke may have raced a refresh that saved new tokens.
	if conn, err = c.d.Store.GetConnection(ctx, in.MerchantID, conn.ID); err != nil {
		return err
	}
	delete(conn.Secrets, "refresh_token")
	delete(conn.Secrets, "access_token")
	delete(conn.Secrets, eventTokenKey(in.ID))
	delete(conn.Config, "token_expiry")
	return c.d.Store.UpdateConnection(ctx, conn)
}

// revokeShopify uninstalls the app from the shop, which revokes every token
// of it (already gone is fine), then forgets the tokens.
func (c *Connector) revokeShopify(ctx context.Context, in *domain.Installation) error {
	conn, err := c.d.Store.GetConnection(ctx, in.MerchantID, in.Connections[domain.VendorShopify])
	if err != nil {
		return err
	}
	if conn.Secrets["access_token"] != "" || conn.Secrets["refresh_token"] != "" {
		sk, err := c.shopify(ctx, in.MerchantID, conn.ID)
		if err != nil {
			return err
		}
		if err := sk.client.Uninstall(ctx); err != nil {
			return err
		}
		// Read again: the call may have refreshed (and saved) the token.
		if conn, err = c.d.Store.GetConnection(ctx, in.MerchantID, conn.ID); err != nil {
			return err
		}
	}
	delete(conn.Secrets, "refresh_token")
	delete(conn.Secrets, "access_token")
	delete(conn.Config, "token_expiry")
	delete(conn.Config, "refresh_token_expiry")
	return c.d.Store.UpdateConnection(ctx, conn)
}

// noteAuth marks the installation as needing a reconnect when a vendor
// refused its refresh token (invalid_grant), and returns err.
func (c *Connector) noteAuth(ctx context.Context, in *domain.Installation, err error) error {
	var vendor string
	switch {
	case errors.Is(err, gorgias.ErrTokenRevoked):
		vendor = "Gorgias"
	case errors.Is(err, shopify.ErrTokenRevoked):
		vendor = "Shopify"
	default:
		return err
	}
	reason := vendor + " refused the refresh token (invalid_grant): reconnect " + vendor + " (POST …/authorize, then install again)"
	if _, derr := c.d.Store.DegradeInstallation(ctx, in.MerchantID, in.ID, reason); derr != nil {
		c.d.Logger.WarnContext(ctx, "together-gorgias: could not mark the installation degraded", slog.String("installation_id", in.ID), slog.String("error", derr.Error()))
	}
	return err
}
