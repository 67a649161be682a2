package togethergorgias

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"switchyard/internal/domain"
	"switchyard/internal/outbound"
	"switchyard/internal/provider/gorgias"
	"switchyard/internal/provider/shopify"
)

// DataKey is the key of the widget's data in the answer.
const DataKey = "together"

// Answer is the widget JSON: the requester's orders upgraded to final sale.
// With none, Together is null and the widget stays hidden (an empty body
// would leave the previous answer in place).
type Answer struct {
	Together *WidgetData `json:"together"`
}

// WidgetData is what the widget shows.
type WidgetData struct {
	Orders []OrderData `json:"orders"`
}

// OrderData is one upgraded order.
type OrderData struct {
	Name       string     `json:"order_name"`
	Date       string     `json:"order_date"`
	UpgradedAt string     `json:"upgraded_at,omitempty"`
	Items      []ItemData `json:"items"`
}

// ItemData is one line upgraded to final sale.
type ItemData struct {
	Title    string `json:"title"`
	Variant  string `json:"variant,omitempty"`
	SKU      string `json:"sku,omitempty"`
	Quantity int    `json:"quantity"`
	Price    string `json:"price"`
}

// BuildAnswer turns the final-sale orders into the widget JSON.
func BuildAnswer(orders []shopify.FinalSaleOrder) Answer {
	if len(orders) == 0 {
		return Answer{}
	}
	d := &WidgetData{Orders: make([]OrderData, 0, len(orders))}
	for _, o := range orders {
		od := OrderData{Name: o.Name, Date: o.CreatedAt.UTC().Format(time.RFC3339), Items: make([]ItemData, 0, len(o.Items))}
		if !o.UpgradedAt.IsZero() {
			od.UpgradedAt = o.UpgradedAt.UTC().Format(time.RFC3339)
		}
		for _, li := range o.Items {
			title := li.Title
			if title == "" {
				title = li.Name
			}
			od.Items = append(od.Items, ItemData{Title: title, Variant: li.VariantTitle, SKU: li.SKU, Quantity: li.Quantity,
				Price: strings.TrimSpace(li.UnitPrice.Amount + " " + li.UnitPrice.CurrencyCode)})
		}
		d.Orders = append(d.Orders, od)
	}
	return Answer{Together: d}
}

func leaf(typ, title, path string) gorgias.WidgetNode {
	return gorgias.WidgetNode{Type: typ, Title: title, Path: path}
}

// WidgetTemplate is the ticket widget: one card per upgraded order with
// its date, upgrade date and items (title, variant, quantity, price).
func WidgetTemplate() *gorgias.WidgetNode {
	return &gorgias.WidgetNode{Type: "wrapper", Widgets: []gorgias.WidgetNode{{
		Type: "card", Title: "Together", Path: DataKey, Widgets: []gorgias.WidgetNode{
			{Type: "list", Path: "orders", Widgets: []gorgias.WidgetNode{{
				Type: "card", Title: "Order {{order_name}}", Widgets: []gorgias.WidgetNode{
					leaf("text", "Order", "order_name"), leaf("date", "Order date", "order_date"), leaf("date", "Upgraded to final sale", "upgraded_at"),
					{Type: "list", Path: "items", Widgets: []gorgias.WidgetNode{{
						Type: "card", Title: "Final-sale item", Widgets: []gorgias.WidgetNode{
							leaf("text", "Item", "title"), leaf("text", "Variant", "variant"), leaf("text", "SKU", "sku"),
							leaf("text", "Quantity", "quantity"), leaf("text", "Price", "price"),
						},
					}}},
				},
			}}},
		},
	}}}
}

// maxEventBody bounds an event body (three short fields).
const maxEventBody = 64 << 10

// event is what the integration sends. Nothing of it is stored or logged.
type event struct {
	TicketID      json.RawMessage `json:"ticket_id"`
	AccountDomain string          `json:"account_domain"`
	Email         string          `json:"email"`
}

func writeAnswer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func unauthorized(w http.ResponseWriter) {
	writeAnswer(w, http.StatusUnauthorized, errBody("missing or invalid %s", TokenHeader))
}

// serveEvent answers one HTTP-integration call: token (constant time),
// link, then the requester's final-sale orders from the linked store.
// Neither the body nor the orders are stored or logged; log lines carry
// the installation id and error classes only.
func (c *Connector) serveEvent(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	token := r.Header.Get(TokenHeader)
	if token == "" {
		unauthorized(w)
		return
	}
	in, err := c.d.Store.LookupInstallation(ctx, r.PathValue("installation"))
	if err != nil {
		if domain.ErrorCode(err) == domain.ENOTFOUND {
			unauthorized(w)
			return
		}
		writeAnswer(w, http.StatusServiceUnavailable, errBody("try again later"))
		return
	}
	// An uninstalled (or not yet installed) installation has no valid token.
	if in.Connector != Name || !in.State.Processes() {
		unauthorized(w)
		return
	}
	gconn, err := c.d.Store.GetConnection(ctx, in.MerchantID, in.Connections[domain.VendorGorgias])
	if err != nil {
		writeAnswer(w, http.StatusServiceUnavailable, errBody("try again later"))
		return
	}
	want := gconn.Secrets[eventTokenKey(in.ID)]
	if want == "" || subtle.ConstantTimeCompare([]byte(token), []byte(want)) != 1 {
		unauthorized(w)
		return
	}
	var ev event
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxEventBody)).Decode(&ev); err != nil && !errors.Is(err, io.EOF) {
		writeAnswer(w, http.StatusBadRequest, errBody("the body must be JSON with ticket_id, account_domain and email"))
		return
	}
	l := linkOf(in)
	if l.Status != LinkLinked {
		// Unlinked by an operator: nothing to show, and what an earlier
		// answer left in Gorgias is replaced, so the widget hides at once.
		writeAnswer(w, http.StatusOK, Answer{})
		return
	}
	// The connections must still be the linked store and account (a
	// connection's account can be edited after the approval).
	if !strings.EqualFold(gconn.Account+".gorgias.com", l.GorgiasAccount) {
		writeAnswer(w, http.StatusForbidden, errBody("the Gorgias connection is no longer the linked account"))
		return
	}
	acct := strings.ToLower(strings.TrimSpace(ev.AccountDomain))
	if !strings.HasSuffix(acct, ".gorgias.com") {
		acct += ".gorgias.com"
	}
	if acct != l.GorgiasAccount {
		writeAnswer(w, http.StatusForbidden, errBody("the event's account is not the linked Gorgias account"))
		return
	}
	email := strings.TrimSpace(ev.Email)
	if email == "" || !strings.Contains(email, "@") {
		writeAnswer(w, http.StatusOK, Answer{}) // no requester email: nothing to show
		return
	}
	sk, err := c.shopify(ctx, in.MerchantID, in.Connections[domain.VendorShopify])
	if err != nil {
		c.eventFailed(w, r, in, err)
		return
	}
	if sk.shop != l.ShopifyStore {
		writeAnswer(w, http.StatusForbidden, errBody("the Shopify connection is no longer the linked store"))
		return
	}
	ctx = outbound.WithMeta(ctx, outbound.Meta{MerchantID: in.MerchantID, InstallationID: in.ID})
	orders, err := sk.client.FinalSaleOrders(ctx, email, c.d.Now())
	if err != nil {
		c.eventFailed(w, r, in, err)
		return
	}
	writeAnswer(w, http.StatusOK, BuildAnswer(orders))
}

// eventFailed answers a Shopify failure without its detail (the vendor's
// message could quote the query) and logs only its class and status.
func (c *Connector) eventFailed(w http.ResponseWriter, r *http.Request, in *domain.Installation, err error) {
	ctx := r.Context()
	_ = c.noteAuth(ctx, in, err)
	class := outbound.ClassOf(err)
	status := outbound.StatusOf(err)
	c.d.Logger.WarnContext(ctx, "together-gorgias: final-sale lookup failed", slog.String("installation_id", in.ID),
		slog.String("class", string(class)), slog.Int("status", status), slog.String("code", domain.ErrorCode(err)))
	switch {
	case class == domain.ClassRateLimited:
		var oe *outbound.Error
		if errors.As(err, &oe) && oe.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(oe.RetryAfter.Seconds()+0.999)))
		}
		writeAnswer(w, http.StatusServiceUnavailable, errBody("Shopify is throttling; try again later"))
	case class == domain.ClassAuth:
		writeAnswer(w, http.StatusBadGateway, errBody("Shopify did not accept the store's credentials; reconnect the store"))
	default:
		writeAnswer(w, http.StatusBadGateway, errBody("the orders could not be read from Shopify; try again later"))
	}
}
