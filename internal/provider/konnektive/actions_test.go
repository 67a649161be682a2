package konnektive_test

import (
	"strings"
	"testing"
	"time"

	"switchyard/internal/domain"
	emu "switchyard/internal/emulator/konnektive"
	"switchyard/internal/outbound"
	"switchyard/internal/provider/konnektive"
)

func money(t *testing.T, s string) konnektive.Money {
	t.Helper()
	m, err := konnektive.ParseMoney(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func refunds(t *testing.T, b *testBundle, orderID konnektive.String) (n int, sum konnektive.Money) {
	t.Helper()
	for _, x := range mustTxns(t, b, orderID) {
		if x.TxnType == "REFUND" {
			n++
			sum += x.TotalAmount
		}
	}
	return n, sum
}

// TestActions runs each macro's CRM call against a fresh emulator and checks
// the change through the query endpoints.
func TestActions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		emu  emu.Config
		cfg  konnektive.Config
		run  func(t *testing.T, b *testBundle)
	}{
		{name: "partial refund", run: func(t *testing.T, b *testBundle) {
			o := b.refundable(t, 1000)
			res, err := b.client.RefundOrder(ctx(t), konnektive.RefundOrderParams{OrderID: string(o.OrderID), Amount: money(t, "7.5")})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(res.Data), `"refundAmount":"7.50"`) {
				t.Fatalf("result %s", res.Data)
			}
			after := b.order(t, string(o.OrderID))
			if after.AmountRefunded != 750 || after.RefundRemaining != o.RefundRemaining-750 || after.OrderStatus != "COMPLETE" {
				t.Fatalf("after: refunded %s remaining %s status %s", after.AmountRefunded, after.RefundRemaining, after.OrderStatus)
			}
			if n, sum := refunds(t, b, o.OrderID); n != 1 || sum != 750 {
				t.Fatalf("refund transactions: %d totalling %s", n, sum)
			}
		}},
		{name: "full refund", run: func(t *testing.T, b *testBundle) {
			o := b.refundable(t, 100)
			if _, err := b.client.RefundOrder(ctx(t), konnektive.RefundOrderParams{OrderID: string(o.OrderID), Full: true}); err != nil {
				t.Fatal(err)
			}
			after := b.order(t, string(o.OrderID))
			if after.OrderStatus != "REFUNDED" || after.RefundRemaining != 0 || after.AmountRefunded != o.RefundRemaining {
				t.Fatalf("after: %s refunded %s remaining %s", after.OrderStatus, after.AmountRefunded, after.RefundRemaining)
			}
			// A second full refund is refused and changes nothing.
			_, err := b.client.RefundOrder(ctx(t), konnektive.RefundOrderParams{OrderID: string(o.OrderID), Full: true})
			isCRMError(t, err, "no refundable amount left")
		}},
		{name: "refund above refundable", run: func(t *testing.T, b *testBundle) {
			o := b.refundable(t, 100)
			_, err := b.client.RefundOrder(ctx(t), konnektive.RefundOrderParams{OrderID: string(o.OrderID), Amount: o.RefundRemaining + 1})
			isCRMError(t, err, "exceeds the refundable amount of "+o.RefundRemaining.String())
			if after := b.order(t, string(o.OrderID)); after.AmountRefunded != 0 || after.RefundRemaining != o.RefundRemaining {
				t.Fatal("a refused refund changed the order")
			}
		}},
		{name: "refund unknown order", run: func(t *testing.T, b *testBundle) {
			_, err := b.client.RefundOrder(ctx(t), konnektive.RefundOrderParams{OrderID: "0000000000", Full: true})
			isCRMError(t, err, "order 0000000000 could not be found")
		}},
		{name: "refund transaction", run: func(t *testing.T, b *testBundle) {
			o := b.refundable(t, 500)
			var sale konnektive.Transaction
			for _, x := range mustTxns(t, b, o.OrderID) {
				if x.TxnType == "SALE" && x.ResponseType == "SUCCESS" {
					sale = x
				}
			}
			if _, err := b.client.RefundTransaction(ctx(t), konnektive.RefundTransactionParams{TransactionID: string(sale.TransactionID), Amount: 300}); err != nil {
				t.Fatal(err)
			}
			after := b.order(t, string(o.OrderID))
			if after.AmountRefunded != 300 {
				t.Fatalf("order refunded %s", after.AmountRefunded)
			}
			for _, x := range mustTxns(t, b, o.OrderID) {
				if x.TransactionID == sale.TransactionID && x.AmountRefunded != 300 {
					t.Fatalf("sale refunded %s", x.AmountRefunded)
				}
				if x.TxnType == "REFUND" && x.ParentTransactionID != sale.TransactionID {
					t.Fatalf("refund parent %s", x.ParentTransactionID)
				}
			}
			_, err := b.client.RefundTransaction(ctx(t), konnektive.RefundTransactionParams{TransactionID: "1", Full: true})
			isCRMError(t, err, "transaction 1 could not be found")
		}},
		{name: "refund purchase", run: func(t *testing.T, b *testBundle) {
			p := b.activePurchase(t)
			if _, err := b.client.RefundPurchase(ctx(t), konnektive.RefundPurchaseParams{PurchaseID: string(p.PurchaseID), Full: true}); err != nil {
				t.Fatal(err)
			}
			after := b.purchase(t, string(p.PurchaseID))
			var refunds int
			for _, x := range after.Transactions {
				if x.TxnType == "REFUND" {
					refunds++
				}
			}
			if refunds != 1+countRefunds(p.Transactions) {
				t.Fatalf("refund transactions on the purchase: %d", refunds)
			}
		}},
		{name: "cancel order with full refund", run: func(t *testing.T, b *testBundle) {
			var o konnektive.Order
			var purchaseID string
			for _, x := range b.allOrders(t) {
				if x.OrderStatus != "COMPLETE" || x.RefundRemaining == 0 {
					continue
				}
				for _, it := range x.Items {
					if it.PurchaseID != "" && b.purchase(t, string(it.PurchaseID)).Status == "ACTIVE" {
						o, purchaseID = x, string(it.PurchaseID)
					}
				}
				if purchaseID != "" {
					break
				}
			}
			if purchaseID == "" {
				t.Fatal("no order with an active subscription")
			}
			if _, err := b.client.CancelOrder(ctx(t), konnektive.CancelOrderParams{OrderID: string(o.OrderID), Reason: "Customer asked", FullRefund: true}); err != nil {
				t.Fatal(err)
			}
			after := b.order(t, string(o.OrderID))
			if after.OrderStatus != "CANCELLED" || after.CancelReason != "Customer asked" || after.RefundRemaining != 0 || after.DateCancelled.IsZero() {
				t.Fatalf("after cancel: %s %q remaining %s", after.OrderStatus, after.CancelReason, after.RefundRemaining)
			}
			if p := b.purchase(t, purchaseID); p.Status != "CANCELLED" {
				t.Fatalf("subscription %s still %s", purchaseID, p.Status)
			}
			_, err := b.client.CancelOrder(ctx(t), konnektive.CancelOrderParams{OrderID: string(o.OrderID), Reason: "again"})
			isCRMError(t, err, "already cancelled")
		}},
		{name: "customer note", run: func(t *testing.T, b *testBundle) {
			o := b.refundable(t, 0)
			before := b.customer(t, string(o.CustomerID))
			if _, err := b.client.AddCustomerNote(ctx(t), string(o.CustomerID), "Agent: wants a call back"); err != nil {
				t.Fatal(err)
			}
			after := b.customer(t, string(o.CustomerID))
			if len(after.Notes) != len(before.Notes)+1 || after.Notes[len(after.Notes)-1].Message != "Agent: wants a call back" {
				t.Fatalf("notes %+v", after.Notes)
			}
			if !after.Notes[len(after.Notes)-1].DateCreated.Equal(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)) {
				t.Fatalf("note date %v", after.Notes[len(after.Notes)-1].DateCreated)
			}
		}},
		{name: "shipping address change reaches open orders", run: func(t *testing.T, b *testBundle) {
			var open konnektive.Order
			for _, o := range b.allOrders(t) {
				if o.OrderStatus == "COMPLETE" && len(o.Fulfillments) > 0 && o.Fulfillments[0].Status == "PENDING" {
					open = o
					break
				}
			}
			if open.OrderID == "" {
				t.Fatal("no open order in fixtures")
			}
			addr := konnektive.Address{Address1: "1 Infinite Loop", Address2: "Suite 5", City: "Cupertino", State: "CA", PostalCode: "95014", Country: "us"}
			if _, err := b.client.UpdateCustomer(ctx(t), konnektive.CustomerUpdate{CustomerID: string(open.CustomerID), Shipping: addr}); err != nil {
				t.Fatal(err)
			}
			addr.Country = "US"
			cu := b.customer(t, string(open.CustomerID))
			got := cu.Shipping()
			got.FirstName, got.LastName, got.CompanyName = "", "", ""
			if got != addr {
				t.Fatalf("customer shipping %+v", got)
			}
			if o := b.order(t, string(open.OrderID)); o.ShipAddress1 != "1 Infinite Loop" || o.ShipCity != "Cupertino" {
				t.Fatalf("open order shipping %+v", o.Shipping())
			}
		}},
		{name: "billing address change and clear", run: func(t *testing.T, b *testBundle) {
			o := b.refundable(t, 0)
			_, err := b.client.UpdateCustomer(ctx(t), konnektive.CustomerUpdate{
				CustomerID: string(o.CustomerID),
				Billing:    konnektive.Address{FirstName: "Ada", LastName: "Lovelace", Address1: "12 Main St", City: "Boston", State: "MA", PostalCode: "02108"},
				Clear:      []string{"address2", "companyName"},
			})
			if err != nil {
				t.Fatal(err)
			}
			cu := b.customer(t, string(o.CustomerID))
			if cu.FirstName != "Ada" || cu.Address1 != "12 Main St" || cu.Address2 != "" || cu.CompanyName != "" || cu.City != "Boston" {
				t.Fatalf("billing %+v", cu.Billing())
			}
		}},
		{name: "customer update contact", run: func(t *testing.T, b *testBundle) {
			o := b.refundable(t, 0)
			_, err := b.client.UpdateCustomer(ctx(t), konnektive.CustomerUpdate{CustomerID: string(o.CustomerID), Email: "new.address@example.com", Phone: "+1 555-0100", Custom: [5]string{"gold"}})
			if err != nil {
				t.Fatal(err)
			}
			cs, err := b.client.QueryCustomers(ctx(t), konnektive.CustomerQuery{Email: "new.address@example.com"})
			if err != nil || len(cs) != 1 || cs[0].CustomerID != o.CustomerID || cs[0].PhoneNumber != "+1 555-0100" || cs[0].Custom1 != "gold" {
				t.Fatalf("by new email: %+v %v", cs, err)
			}
			os, err := b.client.QueryOrders(ctx(t), konnektive.OrderQuery{Email: "new.address@example.com"})
			if err != nil || len(os) == 0 {
				t.Fatalf("orders by new email: %d %v", len(os), err)
			}
		}},
		{name: "customer update refused", run: func(t *testing.T, b *testBundle) {
			_, err := b.client.UpdateCustomer(ctx(t), konnektive.CustomerUpdate{CustomerID: "999999", Phone: "1"})
			isCRMError(t, err, "customer 999999 could not be found")
		}},
		{name: "cancel subscription", run: func(t *testing.T, b *testBundle) {
			p := b.activePurchase(t)
			if _, err := b.client.CancelPurchase(ctx(t), konnektive.CancelPurchaseParams{PurchaseID: string(p.PurchaseID), Reason: "Too much product"}); err != nil {
				t.Fatal(err)
			}
			after := b.purchase(t, string(p.PurchaseID))
			if after.Status != "CANCELLED" || after.CancelReason != "Too much product" || !after.NextBillDate.IsZero() {
				t.Fatalf("after: %s %q next %v", after.Status, after.CancelReason, after.NextBillDate)
			}
			_, err := b.client.CancelPurchase(ctx(t), konnektive.CancelPurchaseParams{PurchaseID: string(p.PurchaseID), Reason: "again"})
			isCRMError(t, err, "already cancelled")
		}},
		{name: "cancel subscription after next bill", run: func(t *testing.T, b *testBundle) {
			p := b.activePurchase(t)
			if _, err := b.client.CancelPurchase(ctx(t), konnektive.CancelPurchaseParams{PurchaseID: string(p.PurchaseID), Reason: "Moving", AfterNextBill: true}); err != nil {
				t.Fatal(err)
			}
			after := b.purchase(t, string(p.PurchaseID))
			if after.Status != "ACTIVE" || !bool(after.CancelAfterNextBill) || after.FinalBillingCycle != p.BillingCycleNumber+1 {
				t.Fatalf("after: %s %v final %d", after.Status, after.CancelAfterNextBill, after.FinalBillingCycle)
			}
		}},
		{name: "update bill cycle", run: func(t *testing.T, b *testBundle) {
			p := b.activePurchase(t)
			next := time.Date(2025, 7, 15, 0, 0, 0, 0, time.UTC)
			price := money(t, "29.99")
			if _, err := b.client.UpdatePurchase(ctx(t), konnektive.PurchaseUpdate{PurchaseID: string(p.PurchaseID), NextBillDate: next, BillingIntervalDays: 45, Price: &price}); err != nil {
				t.Fatal(err)
			}
			after := b.purchase(t, string(p.PurchaseID))
			if after.NextBillDate.Format("2006-01-02") != "2025-07-15" || after.BillingIntervalDays != 45 || after.Price != price {
				t.Fatalf("after: next %s interval %d price %s", after.NextBillDate.Raw, after.BillingIntervalDays, after.Price)
			}
		}},
		{name: "update subscription products", run: func(t *testing.T, b *testBundle) {
			p := b.activePurchase(t)
			target := "104"
			if p.ProductID == "104" {
				target = "102"
			}
			if _, err := b.client.UpdatePurchase(ctx(t), konnektive.PurchaseUpdate{PurchaseID: string(p.PurchaseID), ProductID: target, ProductQty: 2, VariantID: "V-1"}); err != nil {
				t.Fatal(err)
			}
			after := b.purchase(t, string(p.PurchaseID))
			if string(after.ProductID) != target || after.ProductQty != 2 || after.VariantID != "V-1" || after.ProductName == p.ProductName {
				t.Fatalf("after swap: %s %q qty %d", after.ProductID, after.ProductName, after.ProductQty)
			}
			_, err := b.client.UpdatePurchase(ctx(t), konnektive.PurchaseUpdate{PurchaseID: string(p.PurchaseID), ProductID: "106"})
			isCRMError(t, err, "is not a subscription product")
		}},
		{name: "bill now", run: func(t *testing.T, b *testBundle) {
			p := b.activePurchase(t)
			if _, err := b.client.UpdatePurchase(ctx(t), konnektive.PurchaseUpdate{PurchaseID: string(p.PurchaseID), BillNow: true}); err != nil {
				t.Fatal(err)
			}
			after := b.purchase(t, string(p.PurchaseID))
			if after.BillingCycleNumber != p.BillingCycleNumber+1 || after.TotalBilled <= p.TotalBilled {
				t.Fatalf("after bill now: cycle %d billed %s", after.BillingCycleNumber, after.TotalBilled)
			}
		}},
		{name: "pause by next bill date", run: func(t *testing.T, b *testBundle) {
			p := b.activePurchase(t)
			until := time.Date(2025, 9, 1, 0, 0, 0, 0, time.UTC)
			if _, err := b.client.PausePurchase(ctx(t), konnektive.PauseParams{PurchaseID: string(p.PurchaseID), Until: until}); err != nil {
				t.Fatal(err)
			}
			after := b.purchase(t, string(p.PurchaseID))
			if after.NextBillDate.Raw != "2025-09-01" || after.Status != "ACTIVE" {
				t.Fatalf("after pause: %s %s", after.Status, after.NextBillDate.Raw)
			}
			if c := b.emu.Calls(); c[len(c)-2].Path != "/purchase/update/" || c[len(c)-2].Params["nextBillDate"] != "09/01/2025" {
				t.Fatalf("pause call %+v", c[len(c)-2])
			}
		}},
		{name: "pause by endpoint", emu: emu.Config{HoldEndpoint: true}, cfg: konnektive.Config{PauseMode: konnektive.PauseByEndpoint}, run: func(t *testing.T, b *testBundle) {
			p := b.activePurchase(t)
			if _, err := b.client.PausePurchase(ctx(t), konnektive.PauseParams{PurchaseID: string(p.PurchaseID), Until: time.Date(2025, 8, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
				t.Fatal(err)
			}
			if after := b.purchase(t, string(p.PurchaseID)); after.Status != "HOLD" || after.NextBillDate.Raw != "2025-08-01" {
				t.Fatalf("after hold: %s %s", after.Status, after.NextBillDate.Raw)
			}
		}},
		{name: "pause endpoint missing", cfg: konnektive.Config{PauseMode: konnektive.PauseByEndpoint}, run: func(t *testing.T, b *testBundle) {
			p := b.activePurchase(t)
			_, err := b.client.PausePurchase(ctx(t), konnektive.PauseParams{PurchaseID: string(p.PurchaseID), Until: time.Date(2025, 8, 1, 0, 0, 0, 0, time.UTC)})
			if outbound.StatusOf(err) != 404 || outbound.ClassOf(err) != domain.ClassTerminal {
				t.Fatalf("want terminal 404, got %v", err)
			}
		}},
		{name: "reject past next bill date at the CRM", run: func(t *testing.T, b *testBundle) {
			p := b.activePurchase(t)
			// Today passes the client's check (the CRM's "today" decides).
			_, err := b.client.UpdatePurchase(ctx(t), konnektive.PurchaseUpdate{PurchaseID: string(p.PurchaseID), NextBillDate: testNow})
			isCRMError(t, err, "must be after today")
		}},
		{name: "fulfillment shipped", run: func(t *testing.T, b *testBundle) {
			var open konnektive.Order
			for _, o := range b.allOrders(t) {
				if len(o.Fulfillments) == 1 && o.Fulfillments[0].Status == "PENDING" {
					open = o
					break
				}
			}
			if _, err := b.client.UpdateFulfillment(ctx(t), konnektive.FulfillmentUpdate{OrderID: string(open.OrderID), Status: "shipped", TrackingNumber: "1ZTEST123", DateShipped: testNow, ShipCarrier: "UPS"}); err != nil {
				t.Fatal(err)
			}
			f := b.order(t, string(open.OrderID)).Fulfillments[0]
			if f.Status != "SHIPPED" || f.TrackingNumber != "1ZTEST123" || f.ShipCarrier != "UPS" || f.DateShipped.Raw != "2025-06-01 00:00:00" {
				t.Fatalf("fulfillment %+v", f)
			}
		}},
		{name: "fulfillment rma by id", run: func(t *testing.T, b *testBundle) {
			var f konnektive.Fulfillment
			var orderID string
			for _, o := range b.allOrders(t) {
				if len(o.Fulfillments) == 1 && o.Fulfillments[0].Status == "SHIPPED" {
					f, orderID = o.Fulfillments[0], string(o.OrderID)
					break
				}
			}
			if _, err := b.client.UpdateFulfillment(ctx(t), konnektive.FulfillmentUpdate{FulfillmentID: string(f.FulfillmentID), Status: "RMA_PENDING", RMANumber: "RMA-9", RefundAmount: 500}); err != nil {
				t.Fatal(err)
			}
			if got := b.order(t, orderID).Fulfillments[0]; got.Status != "RMA_PENDING" || got.RMANumber != "RMA-9" {
				t.Fatalf("fulfillment %+v", got)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, setup(t, opts{emu: tc.emu, client: tc.cfg}))
		})
	}
}

func countRefunds(ts []konnektive.Transaction) int {
	n := 0
	for _, x := range ts {
		if x.TxnType == "REFUND" {
			n++
		}
	}
	return n
}

// TestClientValidation: bad input is EINVALID and nothing is sent.
func TestClientValidation(t *testing.T) {
	t.Parallel()
	b := setup(t, opts{})
	past := testNow.AddDate(0, 0, -2)
	long := strings.Repeat("y", 101)
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"refund no order", func() error {
			_, err := b.client.RefundOrder(ctx(t), konnektive.RefundOrderParams{Full: true})
			return err
		}, "orderId is required"},
		{"refund zero", func() error {
			_, err := b.client.RefundOrder(ctx(t), konnektive.RefundOrderParams{OrderID: "X"})
			return err
		}, "greater than 0"},
		{"refund negative", func() error {
			_, err := b.client.RefundOrder(ctx(t), konnektive.RefundOrderParams{OrderID: "X", Amount: -5})
			return err
		}, "greater than 0"},
		{"external without id", func() error {
			_, err := b.client.RefundTransaction(ctx(t), konnektive.RefundTransactionParams{TransactionID: "1", Full: true, External: true})
			return err
		}, "refundMerchantTxnId is required"},
		{"cancel no reason", func() error {
			_, err := b.client.CancelOrder(ctx(t), konnektive.CancelOrderParams{OrderID: "X"})
			return err
		}, "cancel reason is required"},
		{"cancel long reason", func() error {
			_, err := b.client.CancelPurchase(ctx(t), konnektive.CancelPurchaseParams{PurchaseID: "1", Reason: long})
			return err
		}, "longer than 100"},
		{"note empty", func() error { _, err := b.client.AddCustomerNote(ctx(t), "1001", "  "); return err }, "note message is required"},
		{"note long", func() error { _, err := b.client.AddCustomerNote(ctx(t), "1001", strings.Repeat("z", 501)); return err }, "longer than 500"},
		{"update nothing", func() error {
			_, err := b.client.UpdateCustomer(ctx(t), konnektive.CustomerUpdate{CustomerID: "1001"})
			return err
		}, "no customer fields"},
		{"bad country", func() error {
			_, err := b.client.UpdateCustomer(ctx(t), konnektive.CustomerUpdate{CustomerID: "1001", Shipping: konnektive.Address{Country: "USA"}})
			return err
		}, "shipCountry must be a 2-letter"},
		{"long state", func() error {
			_, err := b.client.UpdateCustomer(ctx(t), konnektive.CustomerUpdate{CustomerID: "1001", Billing: konnektive.Address{State: "Massachusetts"}})
			return err
		}, "state is longer than 6"},
		{"bad email", func() error {
			_, err := b.client.UpdateCustomer(ctx(t), konnektive.CustomerUpdate{CustomerID: "1001", Email: "not-an-email"})
			return err
		}, "not a valid email"},
		{"clear required", func() error {
			_, err := b.client.UpdateCustomer(ctx(t), konnektive.CustomerUpdate{CustomerID: "1001", Clear: []string{"address1"}})
			return err
		}, "address1 cannot be cleared"},
		{"past next bill", func() error {
			_, err := b.client.UpdatePurchase(ctx(t), konnektive.PurchaseUpdate{PurchaseID: "1", NextBillDate: past})
			return err
		}, "is in the past"},
		{"interval", func() error {
			_, err := b.client.UpdatePurchase(ctx(t), konnektive.PurchaseUpdate{PurchaseID: "1", BillingIntervalDays: 400})
			return err
		}, "1 to 365"},
		{"no purchase fields", func() error {
			_, err := b.client.UpdatePurchase(ctx(t), konnektive.PurchaseUpdate{PurchaseID: "1"})
			return err
		}, "no subscription fields"},
		{"bad purchase status", func() error {
			_, err := b.client.UpdatePurchase(ctx(t), konnektive.PurchaseUpdate{PurchaseID: "1", Status: "PAUSED"})
			return err
		}, "RECYCLE_BILLING or RECYCLE_FAILED"},
		{"pause without date", func() error {
			_, err := b.client.PausePurchase(ctx(t), konnektive.PauseParams{PurchaseID: "1"})
			return err
		}, "resume date is required"},
		{"pause in the past", func() error {
			_, err := b.client.PausePurchase(ctx(t), konnektive.PauseParams{PurchaseID: "1", Until: past})
			return err
		}, "in the past"},
		{"fulfillment no id", func() error {
			_, err := b.client.UpdateFulfillment(ctx(t), konnektive.FulfillmentUpdate{Status: "SHIPPED"})
			return err
		}, "orderId or fulfillmentId"},
		{"fulfillment shipped without tracking", func() error {
			_, err := b.client.UpdateFulfillment(ctx(t), konnektive.FulfillmentUpdate{OrderID: "X", Status: "SHIPPED"})
			return err
		}, "tracking number and ship date"},
		{"fulfillment bad status", func() error {
			_, err := b.client.UpdateFulfillment(ctx(t), konnektive.FulfillmentUpdate{OrderID: "X", Status: "LOST"})
			return err
		}, "must be SHIPPED"},
	}
	for _, tc := range tests {
		err := tc.call()
		if domain.ErrorCode(err) != domain.EINVALID || !strings.Contains(domain.ErrorMessage(err), tc.want) {
			t.Errorf("%s: got %v, want EINVALID containing %q", tc.name, err, tc.want)
		}
	}
	if n := len(b.emu.Calls()); n != 0 {
		t.Fatalf("%d calls reached the CRM", n)
	}
}
