package bench

import (
	"encoding/json"
	"fmt"
	"time"

	"switchyard/internal/emulator/emukit"
	"switchyard/internal/provider/whiplash"
)

// webhookSecret signs the webhooks (the Whiplash emulator's default OAuth
// client secret, which the bench connections carry).
const webhookSecret = "whiplash-app-secret"

// status is a Whiplash order status.
type status struct {
	code int
	name string
}

// lifecycle is the status sequence an order walks through.
func lifecycle() []status {
	return []status{
		{100, "Processing"}, {120, "Printed"}, {140, "Pending Pick Confirmation"}, {150, "Picked"}, {155, "Prepacking in Progress"},
		{160, "Packed"}, {200, "Label Scheduled for Purchase"}, {250, "Label Purchased"}, {300, "Shipped"}, {350, "Delivered"},
	}
}

// orderGen renders realistic (~2 KB) signed Whiplash order webhooks: one
// fake person per customer index, one order per (customer, order) pair.
type orderGen struct {
	people []emukit.Person
	items  [][2]string
	steps  []status
	base   time.Time
}

func newOrderGen(customers int, seed uint64) *orderGen {
	f := emukit.NewFake(seed)
	g := &orderGen{steps: lifecycle(), base: time.Date(2026, 11, 20, 9, 0, 0, 0, time.FixedZone("EST", -5*3600))}
	for i := range customers {
		g.people = append(g.people, f.Person(i))
	}
	for range 16 {
		sku, name := f.Product()
		g.items = append(g.items, [2]string{sku, name})
	}
	return g
}

// email of customer c.
func (g *orderGen) email(c int) string { return g.people[c%len(g.people)].Email }

// webhook renders order orderID of customer c at lifecycle step (0-based,
// clamped), updated step minutes after the base time.
func (g *orderGen) webhook(c int, orderID int64, step int) []byte {
	p := g.people[c%len(g.people)]
	st := g.steps[min(step, len(g.steps)-1)]
	created := g.base.Add(time.Duration(orderID%86400) * time.Second)
	updated := created.Add(time.Duration(step+1) * time.Minute)
	store := 1 + orderID%3
	items := make([]map[string]any, 0, 3)
	var itemIDs []int64
	for k := range 1 + int(orderID%3) {
		it := g.items[(int(orderID)+k)%len(g.items)]
		id := orderID*10 + int64(k)
		itemIDs = append(itemIDs, id)
		items = append(items, map[string]any{"id": id, "sku": it[0], "description": it[1], "quantity": 1 + k, "price": fmt.Sprintf("%d.99", 12+k*7),
			"originator_id": fmt.Sprintf("%d", 9_100_000_000+id), "packaging": false, "returnable": true})
	}
	order := map[string]any{
		"id": orderID, "humanize_id": fmt.Sprintf("#%d", 100000+orderID), "customer_id": 1, "shop_id": store, "status": st.code, "status_name": st.name,
		"order_orig": fmt.Sprintf("#%d", 5000+orderID%90000), "proto_originator_id": fmt.Sprintf("%d", 5_100_000_000+orderID),
		"originator": map[string]any{"id": 700 + orderID, "provider": "shopify", "original_id": fmt.Sprintf("%d", 5_100_000_000+orderID), "shop_id": store, "shop_domain": fmt.Sprintf("store-%d.myshopify.com", store)},
		"email":      p.Email, "first_name": p.FirstName, "last_name": p.LastName, "full_name": p.FullName(),
		"shipping_name": p.FullName(), "shipping_company": p.Company, "shipping_address_1": p.Address1, "shipping_address_2": p.Address2,
		"shipping_city": p.City, "shipping_state": p.State, "shipping_zip": p.Zip, "shipping_country": p.Country, "shipping_country_iso2": p.Country,
		"shipping_phone": p.Phone, "billing_name": p.FullName(), "billing_company": p.Company, "billing_address_1": p.Address1,
		"billing_address_2": p.Address2, "billing_city": p.City, "billing_state": p.State, "billing_zip": p.Zip, "billing_country": p.Country,
		"billing_phone": p.Phone, "shop_shipping_method_text": "Standard Shipping", "shop_shipping_method_price": "5.99", "shop_shipping_method_currency": "USD",
		"ship_method": "UPS Ground", "shipping_method": map[string]any{"id": 41, "carrier": "UPS", "service": "Ground", "name": "UPS Ground"},
		"require_signature": orderID%10 == 0, "require_adult_signature": false, "residential": p.Company == "",
		"created_at": created.Format(time.RFC3339), "updated_at": updated.Format(time.RFC3339),
		"shop_created_at": created.Add(-time.Minute).Format(time.RFC3339), "shop_updated_at": created.Add(-time.Minute).Format(time.RFC3339),
		"order_type": "direct_to_consumer", "gift": false, "expedited": false, "meta_data": "{}",
		"tracking": []string{}, "tracking_links": []string{}, "packages": []any{}, "order_items": items,
	}
	if st.code >= 300 {
		tn := fmt.Sprintf("1Z999AA1%010d", orderID)
		link := "https://www.ups.com/track?tracknum=" + tn
		order["tracking"], order["tracking_links"] = []string{tn}, []string{link}
		order["shipped_on"] = updated.Format(time.RFC3339)
		order["packages"] = []any{map[string]any{"id": 9000 + orderID, "tracking": tn, "tracking_link": link, "shipped_on": updated.Format(time.RFC3339), "order_item_ids": itemIDs}}
	}
	body, _ := json.Marshal(map[string]any{"event_name": "order.status_changed", "order": order})
	return body
}

// signed is a webhook body with its signature.
type signed struct {
	body []byte
	sig  string
	inst int // index of the installation it goes to
}

func sign(body []byte) string { return whiplash.Sign(webhookSecret, body) }
