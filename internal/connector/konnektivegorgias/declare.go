package konnektivegorgias

import (
	"switchyard/internal/connector"
	"switchyard/internal/domain"
)

// Name is the connector's name.
const Name = "konnektive-gorgias"

// Roles implements connector.Connector.
func (c *Connector) Roles() []string { return []string{domain.VendorKonnektive, domain.VendorGorgias} }

// BuildsClients implements connector.ClientBuilder: the Konnektive client
// is built in this package (no other connector uses the CRM).
func (c *Connector) BuildsClients() []string { return []string{domain.VendorKonnektive} }

// Routes implements connector.RouteProvider: the HTTP integration's pull
// and the macros' action endpoint.
func (c *Connector) Routes() []connector.Route {
	return []connector.Route{
		{Pattern: "GET " + hookPrefix + "{installation}/customer", Handler: c.auth(c.servePull)},
		{Pattern: "POST " + hookPrefix + "{installation}/actions/{action}", Handler: c.auth(c.serveAction)},
	}
}

// AdminRoutes implements connector.AdminRouteProvider.
func (c *Connector) AdminRoutes() []connector.AdminRoute {
	return []connector.AdminRoute{
		{Method: "GET", Path: "audit", Handle: c.listAudit},
		{Method: "GET", Path: "plugin-settings", Handle: c.pluginSettings},
	}
}
