package whiplashgorgias

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"switchyard/internal/domain"
	"switchyard/internal/provider/whiplash"
)

func TestBuildDataSections(t *testing.T) {
	t.Parallel()
	edt := time.FixedZone("EDT", -4*3600)
	newer := &whiplash.Order{ID: 2, HumanizeID: "#1002", Email: "Pat@Example.com", FullName: "Pat Moved", ShippingPhone: "+1 555", Status: 350,
		ShippingAddress1: "9 New Rd", ShippingCity: "Boston", ShippingState: "MA", ShippingZip: "02108", ShippingCountry: "US",
		RequireAdultSig: true, ShipMethod: "UPS Ground", CreatedAt: whiplash.Time{Time: time.Date(2026, 11, 2, 9, 0, 0, 0, edt)},
		UpdatedAt:  whiplash.Time{Time: time.Date(2026, 11, 5, 9, 0, 0, 0, edt)},
		OrderItems: []whiplash.OrderItem{{SKU: "MUG-12OZ", Quantity: 2}, {SKU: "CAP-NVY", Quantity: 1}}}
	older := &whiplash.Order{ID: 1, Email: "pat@example.com", FullName: "Pat Old", Status: 100, ShippingAddress1: "1 Old St",
		UpdatedAt: whiplash.Time{Time: time.Date(2026, 11, 1, 9, 0, 0, 0, edt)}}
	d := BuildData([]*whiplash.Order{newer, older}, []*domain.OrderSnapshot{{StoreID: "3"}, {StoreID: "1"}})
	if d.Customer != (CustomerData{FullName: "Pat Moved", Email: "pat@example.com", Phone: "+1 555"}) {
		t.Errorf("Customer = %+v (the newest order wins)", d.Customer)
	}
	if d.Address != (AddressData{Address1: "9 New Rd", City: "Boston", State: "MA", Zip: "02108", Country: "US"}) {
		t.Errorf("Address = %+v", d.Address)
	}
	if len(d.Orders) != 2 || d.Orders[0].OrderNumber != "#1002" || d.Orders[1].OrderNumber != "1" || d.Orders[0].Store != "3" || d.Orders[1].Store != "1" {
		t.Fatalf("Orders = %+v", d.Orders)
	}
	o := d.Orders[0]
	if o.Status != "Delivered" || !o.RequiresSignature || o.ShippingMethod != "UPS Ground" || o.DateCreated != "2026-11-02T09:00:00-04:00" ||
		len(o.Products) != 2 || o.Products[0] != (ProductData{SKU: "MUG-12OZ", Quantity: 2}) {
		t.Errorf("Order section = %+v", o)
	}
	if d.Orders[1].Status != "Processing" {
		t.Errorf("status name from code = %q", d.Orders[1].Status)
	}
}

// Every leaf path of the widget exists in the document the sync writes.
func TestWidgetTemplateMatchesData(t *testing.T) {
	t.Parallel()
	o := &whiplash.Order{ID: 1, Email: "a@example.com", OrderItems: []whiplash.OrderItem{{SKU: "X", Quantity: 1}}}
	raw, _ := json.Marshal(map[string]any{DataKey: BuildData([]*whiplash.Order{o}, []*domain.OrderSnapshot{{StoreID: "1"}})})
	var doc any
	_ = json.Unmarshal(raw, &doc)
	var walk func(node any, data any, path string)
	tmpl, _ := json.Marshal(WidgetTemplate())
	var root map[string]any
	_ = json.Unmarshal(tmpl, &root)
	sections := map[string]bool{}
	walk = func(node any, data any, path string) {
		n := node.(map[string]any)
		if p, ok := n["path"].(string); ok && p != "" {
			m, ok := data.(map[string]any)
			if !ok {
				t.Fatalf("%s: data is not an object at %q", path, p)
			}
			v, ok := m[p]
			if !ok {
				t.Errorf("widget path %s.%s has no data", path, p)
				return
			}
			data, path = v, path+"."+p
		}
		if title, _ := n["title"].(string); n["type"] == "card" {
			sections[title] = true
		}
		kids, _ := n["widgets"].([]any)
		if n["type"] == "list" {
			items, _ := data.([]any)
			if len(items) == 0 {
				t.Errorf("list %s is empty in the sample", path)
				return
			}
			data = items[0]
		}
		for _, k := range kids {
			walk(k, data, path)
		}
	}
	walk(root, doc, "data")
	for _, s := range []string{"Whiplash", "Customer", "Address", "Order", "Product"} {
		if !sections[s] {
			t.Errorf("widget lacks the %s section", s)
		}
	}
	if !strings.Contains(string(tmpl), `"requires_signature"`) {
		t.Error("widget lacks requires signature")
	}
}
