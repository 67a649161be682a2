package whiplashgorgias

import (
	"strconv"
	"time"

	"switchyard/internal/domain"
	"switchyard/internal/provider/gorgias"
	"switchyard/internal/provider/whiplash"
)

// DataKey is the key of the customer data document that switchyard owns.
// Everything else in the document belongs to others and is kept.
const DataKey = "whiplash"

// Data is what switchyard writes under customer.data.whiplash: the
// customer's latest name, contact and address (the newest order wins) and
// every order of every store of the merchant, newest first.
type Data struct {
	Customer  CustomerData `json:"customer"`
	Address   AddressData  `json:"address"`
	Orders    []OrderData  `json:"orders"`
	UpdatedAt string       `json:"updated_at"`
}

// CustomerData is the widget's Customer section.
type CustomerData struct {
	FullName string `json:"full_name"`
	Email    string `json:"email"`
	Phone    string `json:"phone"`
}

// AddressData is the widget's Address section.
type AddressData struct {
	Address1 string `json:"address_1"`
	Address2 string `json:"address_2"`
	City     string `json:"city"`
	State    string `json:"state"`
	Zip      string `json:"zip"`
	Country  string `json:"country"`
}

// OrderData is one order: the widget's Order section with its Product lines.
type OrderData struct {
	OrderNumber       string        `json:"order_number"`
	Store             string        `json:"store"`
	DateCreated       string        `json:"date_created"`
	Status            string        `json:"status"`
	StatusCode        int           `json:"status_code"`
	RequiresSignature bool          `json:"requires_signature"`
	ShippingMethod    string        `json:"shipping_method"`
	Tracking          []string      `json:"tracking,omitempty"`
	Products          []ProductData `json:"products"`
	UpdatedAt         string        `json:"updated_at"`
}

// ProductData is one order line.
type ProductData struct {
	SKU      string `json:"sku"`
	Quantity int64  `json:"quantity"`
}

// statusNames names V2 status codes when an order lacks status_name.
var statusNames = map[int]string{30: "Shipped Externally", 35: "Quote", 40: "Cancelled", 45: "Closed by Originator", 50: "Unpaid",
	75: "Pending Return", 77: "Return Verified", 80: "Pre-Order", 90: "Paused", 95: "Insufficient Inventory", 100: "Processing",
	120: "Printed", 140: "Pending Pick Confirmation", 150: "Picked", 155: "Prepacking in Progress", 160: "Packed",
	200: "Label Scheduled for Purchase", 250: "Label Purchased", 300: "Shipped", 325: "Picked Up", 350: "Delivered",
	375: "Return Expired", 380: "Replacement Cancelled", 400: "Returned Undeliverable", 410: "Replacement Requested",
	430: "Exchanged", 450: "Refund Requested"}

// StatusName is the display name of an order's status.
func StatusName(o *whiplash.Order) string {
	if o.StatusName != "" {
		return o.StatusName
	}
	if n, ok := statusNames[int(o.Status)]; ok {
		return n
	}
	return strconv.Itoa(int(o.Status))
}

func orderNumber(o *whiplash.Order) string {
	if o.HumanizeID != "" {
		return o.HumanizeID
	}
	return strconv.FormatInt(int64(o.ID), 10)
}

// BuildData builds the document from the customer's orders, newest first.
func BuildData(orders []*whiplash.Order, snaps []*domain.OrderSnapshot) Data {
	d := Data{Orders: make([]OrderData, 0, len(orders))}
	for i, o := range orders {
		od := OrderData{OrderNumber: orderNumber(o), Store: snaps[i].StoreID, DateCreated: o.CreatedAt.Format(time.RFC3339),
			Status: StatusName(o), StatusCode: int(o.Status), RequiresSignature: o.RequireSignature || o.RequireAdultSig,
			ShippingMethod: o.ShippingMethodName(), Tracking: o.Tracking, Products: []ProductData{}, UpdatedAt: o.UpdatedAt.Format(time.RFC3339)}
		for _, it := range o.OrderItems {
			od.Products = append(od.Products, ProductData{SKU: it.SKU, Quantity: int64(it.Quantity)})
		}
		d.Orders = append(d.Orders, od)
	}
	if len(orders) > 0 {
		latest := orders[0]
		d.Customer = CustomerData{FullName: latest.DisplayName(), Email: domain.NormalizeEmail(latest.Email), Phone: latest.ShippingPhone}
		d.Address = AddressData{Address1: latest.ShippingAddress1, Address2: latest.ShippingAddress2, City: latest.ShippingCity,
			State: latest.ShippingState, Zip: latest.ShippingZip, Country: latest.ShippingCountry}
		d.UpdatedAt = latest.UpdatedAt.Format(time.RFC3339)
	}
	return d
}

func leaf(typ, title, path string) gorgias.WidgetNode {
	return gorgias.WidgetNode{Type: typ, Title: title, Path: path}
}

// WidgetTemplate is the Whiplash widget: Customer, Address, then every order
// with its Order fields and Product lines. It reads customer.data (a
// "custom" widget).
func WidgetTemplate() *gorgias.WidgetNode {
	return &gorgias.WidgetNode{Type: "wrapper", Widgets: []gorgias.WidgetNode{{
		Type: "card", Title: "Whiplash", Path: DataKey, Widgets: []gorgias.WidgetNode{
			{Type: "card", Title: "Customer", Path: "customer", Widgets: []gorgias.WidgetNode{
				leaf("text", "Full name", "full_name"), leaf("email", "Email", "email"), leaf("text", "Phone", "phone"),
			}},
			{Type: "card", Title: "Address", Path: "address", Widgets: []gorgias.WidgetNode{
				leaf("text", "Address 1", "address_1"), leaf("text", "Address 2", "address_2"), leaf("text", "City", "city"),
				leaf("text", "State", "state"), leaf("text", "Zip", "zip"), leaf("text", "Country", "country"),
			}},
			{Type: "list", Path: "orders", Widgets: []gorgias.WidgetNode{{
				Type: "card", Title: "Order", Widgets: []gorgias.WidgetNode{
					leaf("text", "Order number", "order_number"), leaf("date", "Date created", "date_created"), leaf("text", "Status", "status"),
					leaf("boolean", "Requires signature", "requires_signature"), leaf("text", "Shipping method", "shipping_method"),
					leaf("text", "Store", "store"),
					{Type: "list", Path: "products", Widgets: []gorgias.WidgetNode{{
						Type: "card", Title: "Product", Widgets: []gorgias.WidgetNode{leaf("text", "SKU", "sku"), leaf("text", "Quantity", "quantity")},
					}}},
				},
			}}},
		},
	}}}
}
