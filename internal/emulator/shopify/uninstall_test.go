package shopify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func deletePermissions(t *testing.T, s *httptest.Server, path, tok string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, s.URL+path, nil)
	req.Header.Set("X-Shopify-Access-Token", tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAppUninstallRevokesEverything(t *testing.T) {
	t.Parallel()
	type hit struct {
		topic, shop, hmac string
		body              []byte
	}
	hits := make(chan hit, 4)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hits <- hit{r.Header.Get(HeaderTopic), r.Header.Get(HeaderShopDomain), r.Header.Get(HeaderHmac), b}
	}))
	defer recv.Close()
	e, s := newServer(t, Config{Seed: 1})
	for _, topic := range []string{TopicAppUninstalled, TopicOrdersCreate} {
		if err := e.Subscribe("", topic, recv.URL); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.Post(s.URL+"/_emulator/accounts", "application/json", strings.NewReader(`{"shop":"other.myshopify.com"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	other := e.IssueToken("other.myshopify.com", "read_orders")
	legacy := e.IssueToken("", "read_orders")
	access, refresh := e.IssueExpiringToken("", "read_orders")
	if a, r := e.TokenCount("", ""); a != 2 || r != 1 {
		t.Fatalf("tokens before: %d access, %d refresh", a, r)
	}

	st, body := deletePermissions(t, s, "/admin/api/2026-07/api_permissions/current.json", access)
	if st != 200 || strings.TrimSpace(body) != "{}" {
		t.Fatalf("revoke: %d %s", st, body)
	}
	for name, tok := range map[string]string{"expiring": access, "non-expiring": legacy} {
		if st, _ := shopName(t, s, tok); st != 401 {
			t.Errorf("%s token after uninstall: %d", name, st)
		}
	}
	if got := postToken(t, s, formType, refreshForm(DefaultClientSecret, refresh)); got.Error != "invalid_grant" {
		t.Errorf("refresh after uninstall: %+v", got)
	}
	if a, r := e.TokenCount("", ""); a != 0 || r != 0 {
		t.Errorf("tokens after: %d access, %d refresh", a, r)
	}
	if st, _ := shopName(t, s, other); st != 200 {
		t.Errorf("another shop's token: %d", st)
	}
	// A second uninstall with the revoked token is refused.
	if st, _ := deletePermissions(t, s, "/admin/api_permissions/current.json", access); st != 401 {
		t.Errorf("second revoke: %d", st)
	}

	if err := e.WaitIdle(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := <-hits
	var shop map[string]any
	if h.topic != TopicAppUninstalled || h.shop != DefaultShop || h.hmac != SignWebhook(DefaultClientSecret, h.body) ||
		json.Unmarshal(h.body, &shop) != nil || shop["myshopify_domain"] != DefaultShop {
		t.Errorf("app/uninstalled webhook: %+v %s", h, h.body)
	}
	// The app's subscriptions went with it: a new order sends nothing.
	n := NewOrder{Email: "after@example.com"}
	n.LineItems = append(n.LineItems, struct {
		Title     string `json:"title"`
		SKU       string `json:"sku"`
		Quantity  int    `json:"quantity"`
		Price     string `json:"price"`
		FinalSale bool   `json:"final_sale"`
	}{Title: "Cap", Quantity: 1, Price: "10.00"})
	if _, err := e.CreateOrder(n); err != nil {
		t.Fatal(err)
	}
	if err := e.WaitIdle(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case h := <-hits:
		t.Errorf("webhook after uninstall: %s", h.topic)
	default:
	}
}

func TestMerchantUninstall(t *testing.T) {
	t.Parallel()
	e, s := newServer(t, Config{Seed: 1})
	tok, _ := e.IssueExpiringToken("", "read_orders")
	resp, err := http.Post(s.URL+"/_emulator/uninstall", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("uninstall: %d", resp.StatusCode)
	}
	if st, _ := shopName(t, s, tok); st != 401 {
		t.Errorf("token after merchant uninstall: %d", st)
	}
	resp, err = http.Post(s.URL+"/_emulator/uninstall", "application/json", strings.NewReader(`{"shop":"nope.myshopify.com"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("unknown shop: %d", resp.StatusCode)
	}
}
