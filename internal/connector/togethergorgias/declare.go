package togethergorgias

import (
	"net/http"

	"switchyard/internal/connector"
	"switchyard/internal/domain"
)

// Name is the connector's name.
const Name = "together-gorgias"

// Roles implements connector.Connector: the merchant's Shopify store and
// Gorgias account.
func (c *Connector) Roles() []string { return []string{domain.VendorShopify, domain.VendorGorgias} }

// BuildsClients implements connector.ClientBuilder: no other connector
// uses Shopify, so its client is built here.
func (c *Connector) BuildsClients() []string { return []string{domain.VendorShopify} }

// Route paths.
const (
	// HookPrefix is the HTTP integration's URL prefix; the installation id
	// follows.
	HookPrefix = "/hooks/gorgias/" + Name + "/"
	// CallbackGorgias and CallbackShopify are the OAuth redirect URLs'
	// paths (a connection's redirect_url must end with its vendor's).
	CallbackGorgias = "/oauth/callback/" + Name + "/gorgias"
	CallbackShopify = "/oauth/callback/" + Name + "/shopify"
)

// Routes implements connector.RouteProvider.
func (c *Connector) Routes() []connector.Route {
	return []connector.Route{
		{Pattern: "POST " + HookPrefix + "{installation}", Handler: http.HandlerFunc(c.serveEvent)},
		{Pattern: "GET " + CallbackGorgias, Handler: http.HandlerFunc(c.gorgiasCallback)},
		{Pattern: "GET " + CallbackShopify, Handler: http.HandlerFunc(c.shopifyCallback)},
	}
}

// AdminRoutes implements connector.AdminRouteProvider: the merchant's link
// request and its status, the operator's decision, and the OAuth links.
func (c *Connector) AdminRoutes() []connector.AdminRoute {
	return []connector.AdminRoute{
		{Method: http.MethodGet, Path: "link", Handle: c.getLink},
		{Method: http.MethodPost, Path: "link", Handle: c.requestLink},
		{Method: http.MethodPost, Path: "link/approve", Operator: true, Handle: c.approveLink},
		{Method: http.MethodPost, Path: "link/reject", Operator: true, Handle: c.rejectLink},
		{Method: http.MethodPost, Path: "authorize", Handle: c.authorizeLinks},
	}
}
