package konnektivegorgias

import (
	"sort"
	"strings"
	"time"

	"switchyard/internal/provider/gorgias"
	"switchyard/internal/provider/konnektive"
)

// Answer is what the pull endpoint returns to Gorgias: stored by Gorgias
// under customer.integrations["<IntegrationId>"] and rendered by the
// widget. An unknown email is an answer with no customer and empty lists;
// a CRM failure is an answer with Error set (the widget shows it).
type Answer struct {
	Customer      *CustomerView      `json:"customer"`
	Orders        []OrderView        `json:"orders"`
	Subscriptions []SubscriptionView `json:"subscriptions"`
	Transactions  []TransactionView  `json:"transactions"`
	Error         *AnswerError       `json:"error,omitempty"`
	FetchedAt     string             `json:"fetched_at"`
}

// AnswerError is shown by the widget's error card.
type AnswerError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// CustomerView is the widget's Customer card.
type CustomerView struct {
	CustomerID      string   `json:"customer_id"`
	Name            string   `json:"name"`
	Email           string   `json:"email"`
	Phone           string   `json:"phone"`
	BillingAddress  string   `json:"billing_address"`
	ShippingAddress string   `json:"shipping_address"`
	Since           string   `json:"since"`
	Notes           []string `json:"notes"`
}

// OrderView is one order with its items and fulfilments.
type OrderView struct {
	OrderID         string            `json:"order_id"`
	Status          string            `json:"status"`
	Type            string            `json:"type"`
	DateCreated     string            `json:"date_created"`
	Total           string            `json:"total"`
	Paid            string            `json:"paid"`
	Refunded        string            `json:"refunded"`
	RefundRemaining string            `json:"refund_remaining"`
	Items           []ItemView        `json:"items"`
	Fulfillments    []FulfillmentView `json:"fulfillments"`
}

// ItemView is an order line.
type ItemView struct {
	Name      string `json:"name"`
	SKU       string `json:"sku"`
	ProductID string `json:"product_id"`
	Qty       int    `json:"qty"`
	Price     string `json:"price"`
}

// FulfillmentView is a shipment with its tracking.
type FulfillmentView struct {
	Status         string `json:"status"`
	Carrier        string `json:"carrier"`
	Method         string `json:"method"`
	TrackingNumber string `json:"tracking_number"`
	DateShipped    string `json:"date_shipped"`
}

// SubscriptionView is a purchase (subscription).
type SubscriptionView struct {
	PurchaseID   string `json:"purchase_id"`
	Status       string `json:"status"`
	Product      string `json:"product"`
	ProductID    string `json:"product_id"`
	Qty          int    `json:"qty"`
	Price        string `json:"price"`
	NextBillDate string `json:"next_bill_date"`
	IntervalDays int    `json:"interval_days"`
	Cycle        int    `json:"cycle"`
	OrderID      string `json:"order_id"`
}

// TransactionView is a payment.
type TransactionView struct {
	TransactionID string `json:"transaction_id"`
	OrderID       string `json:"order_id"`
	Type          string `json:"type"`
	Amount        string `json:"amount"`
	Refunded      string `json:"refunded"`
	Response      string `json:"response"`
	Date          string `json:"date"`
}

// maxRows bounds each list in an answer (newest first).
const maxRows = 25

func money(cur string, m konnektive.Money) string {
	if cur == "" {
		cur = "$"
	}
	return cur + m.String()
}

func dateText(t konnektive.Time) string {
	if t.Raw != "" {
		return t.Raw
	}
	if t.IsZero() {
		return ""
	}
	return t.Format(time.DateTime)
}

func joinAddr(a konnektive.Address) string {
	name := strings.TrimSpace(a.FirstName + " " + a.LastName)
	city := strings.TrimSpace(strings.Join(nonEmpty(a.City, a.State, a.PostalCode), " "))
	return strings.Join(nonEmpty(name, a.CompanyName, a.Address1, a.Address2, city, a.Country), ", ")
}

func nonEmpty(vs ...string) []string {
	var out []string
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// buildAnswer shapes CRM records for the widget, newest first.
func buildAnswer(custs []konnektive.Customer, orders []konnektive.Order, purchases []konnektive.Purchase, txns []konnektive.Transaction, now time.Time) Answer {
	a := Answer{Orders: []OrderView{}, Subscriptions: []SubscriptionView{}, Transactions: []TransactionView{}, FetchedAt: now.UTC().Format(time.RFC3339)}
	if len(custs) > 0 {
		cu := custs[0]
		for _, x := range custs[1:] { // the most recently updated record
			if x.DateUpdated.After(cu.DateUpdated.Time) {
				cu = x
			}
		}
		b := cu.Billing()
		cv := &CustomerView{CustomerID: string(cu.CustomerID), Name: strings.TrimSpace(b.FirstName + " " + b.LastName),
			Email: string(cu.EmailAddress), Phone: string(cu.PhoneNumber), BillingAddress: joinAddr(b),
			ShippingAddress: joinAddr(cu.Shipping()), Since: dateText(cu.DateCreated), Notes: []string{}}
		for i := len(cu.Notes) - 1; i >= 0 && len(cv.Notes) < 5; i-- {
			cv.Notes = append(cv.Notes, string(cu.Notes[i].Message))
		}
		a.Customer = cv
	}
	sort.SliceStable(orders, func(i, j int) bool { return orders[i].DateCreated.After(orders[j].DateCreated.Time) })
	for _, o := range orders {
		if len(a.Orders) == maxRows {
			break
		}
		cur := string(o.CurrencySymbol)
		ov := OrderView{OrderID: string(o.OrderID), Status: string(o.OrderStatus), Type: string(o.OrderType), DateCreated: dateText(o.DateCreated),
			Total: money(cur, o.TotalAmount), Paid: money(cur, o.AmountPaid), Refunded: money(cur, o.AmountRefunded),
			RefundRemaining: money(cur, o.RefundRemaining), Items: []ItemView{}, Fulfillments: []FulfillmentView{}}
		for _, it := range o.Items {
			ov.Items = append(ov.Items, ItemView{Name: string(it.Name), SKU: string(it.ProductSku), ProductID: string(it.ProductID), Qty: it.Qty.Int(), Price: money(cur, it.Price)})
		}
		for _, f := range o.Fulfillments {
			ov.Fulfillments = append(ov.Fulfillments, FulfillmentView{Status: string(f.Status), Carrier: string(f.ShipCarrier), Method: string(f.ShipMethod),
				TrackingNumber: string(f.TrackingNumber), DateShipped: dateText(f.DateShipped)})
		}
		a.Orders = append(a.Orders, ov)
	}
	sort.SliceStable(purchases, func(i, j int) bool { return purchases[i].DateCreated.After(purchases[j].DateCreated.Time) })
	for _, p := range purchases {
		if len(a.Subscriptions) == maxRows {
			break
		}
		a.Subscriptions = append(a.Subscriptions, SubscriptionView{PurchaseID: string(p.PurchaseID), Status: string(p.Status), Product: string(p.ProductName),
			ProductID: string(p.ProductID), Qty: p.ProductQty.Int(), Price: money("", p.Price), NextBillDate: dateText(p.NextBillDate),
			IntervalDays: p.BillingIntervalDays.Int(), Cycle: p.BillingCycleNumber.Int(), OrderID: string(p.OrderID)})
	}
	sort.SliceStable(txns, func(i, j int) bool { return txns[i].DateCreated.After(txns[j].DateCreated.Time) })
	for _, t := range txns {
		if len(a.Transactions) == maxRows {
			break
		}
		a.Transactions = append(a.Transactions, TransactionView{TransactionID: string(t.TransactionID), OrderID: string(t.OrderID), Type: string(t.TxnType),
			Amount: money(string(t.CurrencySymbol), t.TotalAmount), Refunded: money(string(t.CurrencySymbol), t.AmountRefunded),
			Response: string(t.ResponseType), Date: dateText(t.TxnDate)})
	}
	return a
}

func leaf(typ, title, path string) gorgias.WidgetNode {
	return gorgias.WidgetNode{Type: typ, Title: title, Path: path}
}

func card(title, path string, children ...gorgias.WidgetNode) gorgias.WidgetNode {
	return gorgias.WidgetNode{Type: "card", Title: title, Path: path, Widgets: children}
}

func list(title, path string, child gorgias.WidgetNode) gorgias.WidgetNode {
	return gorgias.WidgetNode{Type: "list", Title: title, Path: path, Widgets: []gorgias.WidgetNode{child}}
}

// WidgetTemplate is the Konnektive widget: an error card (shown only when
// the CRM could not answer), the CRM customer, orders (items, totals,
// status, fulfilments with tracking), subscriptions (status, next bill
// date, interval, product, price) and payments.
func WidgetTemplate() *gorgias.WidgetNode {
	item := gorgias.WidgetNode{Type: "card", Title: "Item", Widgets: []gorgias.WidgetNode{
		leaf("text", "Product", "name"), leaf("text", "SKU", "sku"), leaf("text", "Quantity", "qty"), leaf("text", "Price", "price")}}
	ful := gorgias.WidgetNode{Type: "card", Title: "Fulfillment", Widgets: []gorgias.WidgetNode{
		leaf("text", "Status", "status"), leaf("text", "Carrier", "carrier"), leaf("text", "Method", "method"),
		leaf("text", "Tracking", "tracking_number"), leaf("text", "Shipped", "date_shipped")}}
	order := gorgias.WidgetNode{Type: "card", Title: "Order", Widgets: []gorgias.WidgetNode{
		leaf("text", "Order ID", "order_id"), leaf("text", "Status", "status"), leaf("text", "Date", "date_created"),
		leaf("text", "Total", "total"), leaf("text", "Paid", "paid"), leaf("text", "Refunded", "refunded"),
		leaf("text", "Refundable", "refund_remaining"),
		list("Items", "items", item), list("Fulfillments", "fulfillments", ful)}}
	sub := gorgias.WidgetNode{Type: "card", Title: "Subscription", Widgets: []gorgias.WidgetNode{
		leaf("text", "Purchase ID", "purchase_id"), leaf("text", "Status", "status"), leaf("text", "Product", "product"),
		leaf("text", "Price", "price"), leaf("text", "Next bill date", "next_bill_date"), leaf("text", "Interval (days)", "interval_days"),
		leaf("text", "Cycle", "cycle")}}
	txn := gorgias.WidgetNode{Type: "card", Title: "Payment", Widgets: []gorgias.WidgetNode{
		leaf("text", "Transaction", "transaction_id"), leaf("text", "Type", "type"), leaf("text", "Amount", "amount"),
		leaf("text", "Refunded", "refunded"), leaf("text", "Result", "response"), leaf("text", "Date", "date")}}
	return &gorgias.WidgetNode{Type: "wrapper", Title: "Konnektive CRM", Widgets: []gorgias.WidgetNode{
		card("Konnektive error", "error", leaf("text", "Error", "message"), leaf("text", "Code", "code")),
		card("Customer", "customer", leaf("text", "Customer ID", "customer_id"), leaf("text", "Name", "name"), leaf("email", "Email", "email"),
			leaf("text", "Phone", "phone"), leaf("text", "Billing address", "billing_address"), leaf("text", "Shipping address", "shipping_address"),
			leaf("text", "Customer since", "since"), leaf("array", "Notes", "notes")),
		list("Orders", "orders", order),
		list("Subscriptions", "subscriptions", sub),
		list("Payments", "transactions", txn),
		leaf("text", "Fetched", "fetched_at"),
	}}
}
