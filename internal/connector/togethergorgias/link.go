package togethergorgias

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"switchyard/internal/domain"
)

// Link states, as the merchant sees them.
const (
	LinkNotRequested = "not_requested"
	LinkPending      = "pending"
	LinkLinked       = "linked"
	LinkRejected     = "rejected"
)

// Keys of the link in the installation's RemoteIDs: the merchant cannot
// write them (settings can be edited through the API; these are only
// written by this connector, so a merchant cannot approve its own link).
const (
	keyLinkStatus      = "link_status"
	keyLinkShop        = "link_shopify_store"
	keyLinkAccount     = "link_gorgias_account"
	keyLinkReason      = "link_reason"
	keyLinkRequestedAt = "link_requested_at"
	keyLinkDecidedAt   = "link_decided_at"
)

// Link is the link request and its status.
type Link struct {
	Status string `json:"status"`
	// ShopifyStore is <store>.myshopify.com, GorgiasAccount
	// <account>.gorgias.com, as submitted.
	ShopifyStore   string `json:"shopify_store,omitempty"`
	GorgiasAccount string `json:"gorgias_account,omitempty"`
	// Reason is the operator's reason for a rejection.
	Reason      string `json:"reason,omitempty"`
	RequestedAt string `json:"requested_at,omitempty"`
	DecidedAt   string `json:"decided_at,omitempty"`
	// Message tells the merchant where the request stands.
	Message string `json:"message"`
}

func linkOf(in *domain.Installation) Link {
	r := in.RemoteIDs
	l := Link{Status: r[keyLinkStatus], ShopifyStore: r[keyLinkShop], GorgiasAccount: r[keyLinkAccount], Reason: r[keyLinkReason],
		RequestedAt: r[keyLinkRequestedAt], DecidedAt: r[keyLinkDecidedAt]}
	switch l.Status {
	case LinkPending:
		l.Message = "Our support team will link your Shopify store to your Gorgias account and notify you once this is completed."
	case LinkLinked:
		l.Message = "Your Shopify store is linked to your Gorgias account."
		if in.State != domain.InstallationActive {
			l.Message += " Finish the installation to create the Together HTTP integration and ticket widget."
		}
	case LinkRejected:
		l.Message = "The link request was rejected"
		if l.Reason != "" {
			l.Message += ": " + l.Reason
		}
		l.Message += ". Correct it and submit the request again."
	default:
		l.Status = LinkNotRequested
		l.Message = "Submit your Shopify store domain (<store>.myshopify.com) and Gorgias account domain (<account>.gorgias.com) to request the link."
	}
	return l
}

var labelRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ParseShopifyStore checks a Shopify store domain, <store>.myshopify.com,
// and returns it in lower case.
func ParseShopifyStore(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", domain.Errorf(domain.EINVALID, "shopify_store is required: your store's domain, <store>.myshopify.com")
	}
	store, ok := strings.CutSuffix(s, ".myshopify.com")
	if !ok || !labelRE.MatchString(store) {
		return "", domain.Errorf(domain.EINVALID, "shopify_store %q is not a Shopify store domain: write it as <store>.myshopify.com (e.g. acme.myshopify.com), without https:// or a path; your store's own domain will not do", s)
	}
	return s, nil
}

// ParseGorgiasAccount checks a Gorgias account domain,
// <account>.gorgias.com, and returns it in lower case.
func ParseGorgiasAccount(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", domain.Errorf(domain.EINVALID, "gorgias_account is required: your helpdesk's domain, <account>.gorgias.com")
	}
	acct, ok := strings.CutSuffix(s, ".gorgias.com")
	if !ok || !labelRE.MatchString(acct) {
		return "", domain.Errorf(domain.EINVALID, "gorgias_account %q is not a Gorgias account domain: write it as <account>.gorgias.com (e.g. acme.gorgias.com), without https:// or a path", s)
	}
	return s, nil
}

// checkConnections verifies that the installation's connections are the
// store and account of the link.
func (c *Connector) checkConnections(r *http.Request, in *domain.Installation, shop, account string) error {
	sc, err := c.d.Store.GetConnection(r.Context(), in.MerchantID, in.Connections[domain.VendorShopify])
	if err != nil {
		return err
	}
	gc, err := c.d.Store.GetConnection(r.Context(), in.MerchantID, in.Connections[domain.VendorGorgias])
	if err != nil {
		return err
	}
	if !strings.EqualFold(sc.Account, shop) {
		return domain.Errorf(domain.EINVALID, "the installation's Shopify connection is for %s, not %s: submit that store or change the connection", sc.Account, shop)
	}
	if !strings.EqualFold(gc.Account+".gorgias.com", account) {
		return domain.Errorf(domain.EINVALID, "the installation's Gorgias connection is for %s.gorgias.com, not %s: submit that account or change the connection", gc.Account, account)
	}
	return nil
}

func (c *Connector) getLink(_ *http.Request, in *domain.Installation) (int, any, error) {
	return http.StatusOK, linkOf(in), nil
}

// requestLink records the merchant's link request (pending until an
// operator decides). A new request of a linked installation for other
// domains needs a new approval; the same domains again change nothing.
func (c *Connector) requestLink(r *http.Request, in *domain.Installation) (int, any, error) {
	var body struct {
		ShopifyStore   string `json:"shopify_store"`
		GorgiasAccount string `json:"gorgias_account"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&body); err != nil {
		return 0, nil, domain.Errorf(domain.EINVALID, "body must be JSON: {\"shopify_store\": \"<store>.myshopify.com\", \"gorgias_account\": \"<account>.gorgias.com\"}")
	}
	shop, err := ParseShopifyStore(body.ShopifyStore)
	if err != nil {
		return 0, nil, err
	}
	account, err := ParseGorgiasAccount(body.GorgiasAccount)
	if err != nil {
		return 0, nil, err
	}
	if err := c.checkConnections(r, in, shop, account); err != nil {
		return 0, nil, err
	}
	cur := linkOf(in)
	if cur.Status != LinkNotRequested && cur.Status != LinkRejected && cur.ShopifyStore == shop && cur.GorgiasAccount == account {
		return http.StatusOK, cur, nil
	}
	if in.RemoteIDs == nil {
		in.RemoteIDs = map[string]string{}
	}
	in.RemoteIDs[keyLinkStatus], in.RemoteIDs[keyLinkShop], in.RemoteIDs[keyLinkAccount] = LinkPending, shop, account
	in.RemoteIDs[keyLinkRequestedAt] = c.d.Now().UTC().Format(time.RFC3339)
	delete(in.RemoteIDs, keyLinkReason)
	delete(in.RemoteIDs, keyLinkDecidedAt)
	if err := c.d.Store.UpdateInstallation(r.Context(), in); err != nil {
		return 0, nil, err
	}
	return http.StatusAccepted, linkOf(in), nil
}

// approveLink is the operator linking the store to the account.
func (c *Connector) approveLink(r *http.Request, in *domain.Installation) (int, any, error) {
	cur := linkOf(in)
	switch cur.Status {
	case LinkLinked:
		return http.StatusOK, cur, nil
	case LinkPending:
	default:
		return 0, nil, domain.Errorf(domain.ECONFLICT, "the link is %s: only a pending request can be approved", cur.Status)
	}
	if err := c.checkConnections(r, in, cur.ShopifyStore, cur.GorgiasAccount); err != nil {
		return 0, nil, err
	}
	in.RemoteIDs[keyLinkStatus] = LinkLinked
	in.RemoteIDs[keyLinkDecidedAt] = c.d.Now().UTC().Format(time.RFC3339)
	if err := c.d.Store.UpdateInstallation(r.Context(), in); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, linkOf(in), nil
}

// rejectLink is the operator refusing the request, with a reason the
// merchant sees. A linked installation can be unlinked this way too: its
// events are answered with nothing from then on (the widget hides).
func (c *Connector) rejectLink(r *http.Request, in *domain.Installation) (int, any, error) {
	var body struct {
		Reason string `json:"reason"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&body); err != nil && err != io.EOF {
		return 0, nil, domain.Errorf(domain.EINVALID, "body must be JSON: {\"reason\": \"…\"}")
	}
	cur := linkOf(in)
	if cur.Status == LinkNotRequested {
		return 0, nil, domain.Errorf(domain.ECONFLICT, "no link was requested")
	}
	reason := strings.TrimSpace(body.Reason)
	if len(reason) > 500 {
		return 0, nil, domain.Errorf(domain.EINVALID, "reason is longer than 500 characters")
	}
	in.RemoteIDs[keyLinkStatus] = LinkRejected
	in.RemoteIDs[keyLinkReason] = reason
	in.RemoteIDs[keyLinkDecidedAt] = c.d.Now().UTC().Format(time.RFC3339)
	if err := c.d.Store.UpdateInstallation(r.Context(), in); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, linkOf(in), nil
}

// linked returns the approved link, or an error saying what is missing.
func linked(in *domain.Installation) (Link, error) {
	l := linkOf(in)
	if l.Status != LinkLinked {
		return l, domain.Errorf(domain.EINVALID, "the Shopify store and Gorgias account are not linked yet (link status: %s): %s", l.Status, l.Message)
	}
	return l, nil
}

func errBody(format string, args ...any) map[string]string {
	return map[string]string{"error": fmt.Sprintf(format, args...)}
}
