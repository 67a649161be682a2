package konnektivegorgias

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"switchyard/internal/domain"
	"switchyard/internal/provider/gorgias"
)

// Install creates, or repairs, everything in Gorgias: the HTTP integration
// "Konnektive Integration", its widget and the 11 macros. Each object is
// found by its stored id, then by its exact name (macros, integration) or
// its integration (widget); found ones are updated to what they should be,
// missing ones created, and extra copies deleted, so running it again
// never duplicates. IntegrationId follows the integration's id.
func (c *Connector) Install(ctx context.Context, in *domain.Installation) error {
	s, err := parseSettings(in)
	if err != nil {
		return err
	}
	if s.hubURL == "" {
		s.hubURL = strings.TrimRight(c.d.PublicURL, "/")
	}
	if s.hubURL == "" {
		return errNoHubURL
	}
	g, err := c.gorgias(ctx, in)
	if err != nil {
		return err
	}
	if in.RemoteIDs == nil {
		in.RemoteIDs = map[string]string{}
	}
	if in.Settings == nil {
		in.Settings = map[string]string{}
	}
	if in.RemoteIDs[RemoteHookNonce] == "" {
		in.RemoteIDs[RemoteHookNonce] = newNonce()
	}
	token := c.hookToken(in)
	base := s.hubURL + hookPrefix + in.ID

	integ, err := c.ensureIntegration(ctx, g, in, integrationSpec(base, token))
	if err != nil {
		return fmt.Errorf("error installing the %q integration: %w", IntegrationName, err)
	}
	in.RemoteIDs[RemoteIntegration] = integ.ID.String()
	in.Settings[SettingIntegrationID] = integ.ID.String()
	// Record progress now: a failure below leaves ids a repair finds.
	if err := c.d.Store.UpdateInstallation(ctx, in); err != nil {
		return err
	}
	if err := c.ensureWidget(ctx, g, in, integ.ID); err != nil {
		return fmt.Errorf("error installing the Konnektive widget: %w", err)
	}
	if err := c.ensureMacros(ctx, g, in, base, token); err != nil {
		return err
	}
	in.State = domain.InstallationActive
	defer c.forget(in.ID)
	return c.d.Store.UpdateInstallation(ctx, in)
}

func storedID(in *domain.Installation, key string) gorgias.ID {
	id, err := strconv.ParseInt(in.RemoteIDs[key], 10, 64)
	if err != nil || id <= 0 {
		return 0
	}
	return gorgias.ID(id)
}

// integrationSpec is the HTTP integration Gorgias calls with the ticket's
// customer email on ticket and message events.
func integrationSpec(base, token string) gorgias.Integration {
	return gorgias.Integration{Type: "http", Name: IntegrationName,
		Description: "Konnektive CRM customer, orders and subscriptions (switchyard)",
		HTTP: &gorgias.HTTPConfig{
			URL:                 base + "/customer?email={{ticket.customer.email}}",
			Method:              "GET",
			Headers:             gorgias.StringMap{TokenHeader: token},
			RequestContentType:  "application/json",
			ResponseContentType: "application/json",
			Triggers: map[string]bool{gorgias.TriggerTicketCreated: true, gorgias.TriggerTicketUpdated: true,
				gorgias.TriggerTicketMessageCreated: true},
		}}
}

// ensureIntegration finds the integration (stored id, else exact name),
// updates it (reactivating it when Gorgias disabled it) or creates it, and
// deletes other integrations of the same name.
func (c *Connector) ensureIntegration(ctx context.Context, g *gorgias.Client, in *domain.Installation, spec gorgias.Integration) (*gorgias.Integration, error) {
	var found *gorgias.Integration
	if id := storedID(in, RemoteIntegration); id != 0 {
		got, err := g.GetIntegration(ctx, id)
		switch {
		case err == nil && got.Name == IntegrationName:
			found = got
		case err != nil && !isNotFound(err):
			return nil, err
		}
	}
	var extra []gorgias.ID
	for it, err := range g.ListIntegrations(ctx, "http", gorgias.ListOptions{Limit: 100}) {
		if err != nil {
			return nil, err
		}
		if it.Name != IntegrationName {
			continue
		}
		switch {
		case found == nil:
			cp := it
			found = &cp
		case it.ID != found.ID:
			extra = append(extra, it.ID)
		}
	}
	var out *gorgias.Integration
	var err error
	if found == nil {
		out, err = g.CreateIntegration(ctx, spec)
	} else {
		if !found.Active() {
			if _, err := g.ReactivateIntegration(ctx, found.ID, IntegrationName); err != nil {
				return nil, err
			}
		}
		out, err = g.UpdateIntegration(ctx, found.ID, spec)
	}
	if err != nil {
		return nil, err
	}
	for _, id := range extra {
		if err := g.DeleteIntegration(ctx, id); err != nil && !isNotFound(err) {
			return nil, err
		}
	}
	return out, nil
}

// ensureWidget keeps exactly one widget bound to the integration.
func (c *Connector) ensureWidget(ctx context.Context, g *gorgias.Client, in *domain.Installation, integID gorgias.ID) error {
	spec := gorgias.Widget{Context: "ticket", Type: "http", IntegrationID: &integID, Order: 20, Template: WidgetTemplate()}
	var found gorgias.ID
	if id := storedID(in, RemoteWidget); id != 0 {
		got, err := g.GetWidget(ctx, id)
		switch {
		case err == nil && got.IntegrationID != nil && *got.IntegrationID == integID:
			found = got.ID
		case err != nil && !isNotFound(err):
			return err
		}
	}
	var extra []gorgias.ID
	for w, err := range g.ListWidgets(ctx, integID, gorgias.ListOptions{Limit: 100}) {
		if err != nil {
			return err
		}
		if w.IntegrationID == nil || *w.IntegrationID != integID {
			continue // a server that ignores the filter
		}
		switch {
		case found == 0:
			found = w.ID
		case w.ID != found:
			extra = append(extra, w.ID)
		}
	}
	if found == 0 {
		w, err := g.CreateWidget(ctx, spec)
		if err != nil {
			return err
		}
		found = w.ID
	} else if _, err := g.UpdateWidget(ctx, found, spec); err != nil {
		return err
	}
	in.RemoteIDs[RemoteWidget] = found.String()
	for _, id := range extra {
		if err := g.DeleteWidget(ctx, id); err != nil && !isNotFound(err) {
			return err
		}
	}
	return nil
}

// ensureMacros keeps exactly one macro of each of the 11 names. One
// listing (search "Konnektive") finds them; a stored id missing from it
// (renamed by hand) is read once and, if it exists, renamed back.
func (c *Connector) ensureMacros(ctx context.Context, g *gorgias.Client, in *domain.Installation, base, token string) error {
	byName := map[string][]gorgias.ID{}
	listed := map[gorgias.ID]bool{}
	for m, err := range g.ListMacros(ctx, "Konnektive", gorgias.ListOptions{Limit: 100}) {
		if err != nil {
			return fmt.Errorf("error listing macros: %w", err)
		}
		byName[m.Name] = append(byName[m.Name], m.ID)
		listed[m.ID] = true
	}
	for _, def := range Macros() {
		spec, err := def.macro(base, token)
		if err != nil {
			return err
		}
		key := remoteMacroPref + def.Key
		var found gorgias.ID
		if id := storedID(in, key); id != 0 {
			if listed[id] {
				found = id
			} else if _, err := g.GetMacro(ctx, id); err == nil {
				found = id
			} else if !isNotFound(err) {
				return fmt.Errorf("error reading macro %q: %w", def.Name, err)
			}
		}
		var extra []gorgias.ID
		for _, id := range byName[def.Name] {
			switch {
			case found == 0:
				found = id
			case id != found:
				extra = append(extra, id)
			}
		}
		if found == 0 {
			m, err := g.CreateMacro(ctx, spec)
			if err != nil {
				return fmt.Errorf("error creating macro %q: %w", def.Name, err)
			}
			found = m.ID
		} else if _, err := g.UpdateMacro(ctx, found, spec); err != nil {
			return fmt.Errorf("error updating macro %q: %w", def.Name, err)
		}
		in.RemoteIDs[key] = found.String()
		for _, id := range extra {
			if err := g.DeleteMacro(ctx, id); err != nil && !isNotFound(err) {
				return fmt.Errorf("error deleting a duplicate of macro %q: %w", def.Name, err)
			}
		}
	}
	return nil
}

// Uninstall deletes the macros, the widget and the integration (by stored
// id, then by name; objects already gone are fine), clears their ids and
// the token nonce (the old token stops working).
func (c *Connector) Uninstall(ctx context.Context, in *domain.Installation) error {
	c.forget(in.ID) // the server marked it uninstalled: hooks stop now
	g, err := c.gorgias(ctx, in)
	if err != nil {
		return err
	}
	del := func(what string, err error) error {
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("error deleting %s: %w", what, err)
		}
		return nil
	}
	names := map[string]bool{}
	for _, def := range Macros() {
		names[def.Name] = true
		if id := storedID(in, remoteMacroPref+def.Key); id != 0 {
			if err := del("macro "+def.Name, g.DeleteMacro(ctx, id)); err != nil {
				return err
			}
		}
		delete(in.RemoteIDs, remoteMacroPref+def.Key)
	}
	for m, err := range g.ListMacros(ctx, "Konnektive", gorgias.ListOptions{Limit: 100}) {
		if err != nil {
			return fmt.Errorf("error listing macros: %w", err)
		}
		if names[m.Name] {
			if err := del("macro "+m.Name, g.DeleteMacro(ctx, m.ID)); err != nil {
				return err
			}
		}
	}
	integ := storedID(in, RemoteIntegration)
	if id := storedID(in, RemoteWidget); id != 0 {
		if err := del("the widget", g.DeleteWidget(ctx, id)); err != nil {
			return err
		}
	}
	if integ != 0 {
		for w, err := range g.ListWidgets(ctx, integ, gorgias.ListOptions{Limit: 100}) {
			if err != nil {
				return err
			}
			if w.IntegrationID != nil && *w.IntegrationID == integ {
				if err := del("the widget", g.DeleteWidget(ctx, w.ID)); err != nil {
					return err
				}
			}
		}
		if err := del("the integration", g.DeleteIntegration(ctx, integ)); err != nil {
			return err
		}
	}
	for it, err := range g.ListIntegrations(ctx, "http", gorgias.ListOptions{Limit: 100}) {
		if err != nil {
			return err
		}
		if it.Name == IntegrationName {
			if err := del("the integration", g.DeleteIntegration(ctx, it.ID)); err != nil {
				return err
			}
		}
	}
	delete(in.RemoteIDs, RemoteWidget)
	delete(in.RemoteIDs, RemoteIntegration)
	delete(in.RemoteIDs, RemoteHookNonce)
	delete(in.Settings, SettingIntegrationID)
	c.cache.dropInstallation(in.ID)
	defer c.forget(in.ID)
	return c.d.Store.UpdateInstallation(ctx, in)
}
