package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"

	"switchyard/internal/domain"
	gorgiasemu "switchyard/internal/emulator/gorgias"
	shopifyemu "switchyard/internal/emulator/shopify"
	yotpoemu "switchyard/internal/emulator/yotpo"
)

// linkTogether runs C5's steps before its install, as the merchant and the
// operator do: the merchant's link request, the operator's approval, and
// the OAuth authorizations (the emulators approve at once; a Gorgias
// connection with an API key needs none).
func (e *env) linkTogether(ctx context.Context, t *tenant, inst string) error {
	p := "/api/v1/merchants/" + t.merchant + "/installations/" + inst
	if err := e.api(ctx, "POST", p+"/link", map[string]string{"shopify_store": shopifyemu.DefaultShop, "gorgias_account": gorgiasemu.DefaultAccount + ".gorgias.com"}, nil); err != nil {
		return err
	}
	if err := e.api(ctx, "POST", p+"/link/approve", nil, nil); err != nil {
		return err
	}
	var links struct {
		GorgiasURL string `json:"gorgias_url"`
		ShopifyURL string `json:"shopify_url"`
	}
	if err := e.api(ctx, "POST", p+"/authorize", nil, &links); err != nil {
		return err
	}
	for _, u := range []string{links.GorgiasURL, links.ShopifyURL} {
		if u == "" {
			continue
		}
		if err := e.followOAuth(ctx, u); err != nil {
			return err
		}
	}
	return nil
}

// followOAuth opens an authorize URL as the merchant's browser would and
// lands on the hub's callback.
func (e *env) followOAuth(ctx context.Context, authURL string) error {
	browser := &http.Client{Timeout: 30 * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authURL, nil)
	if err != nil {
		return err
	}
	resp, err := browser.Do(req)
	if err != nil {
		return fmt.Errorf("error following the authorize link: %w", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Request.URL.String(), e.hubURL+"/oauth/callback/") {
		return fmt.Errorf("authorize link ended at %s with %d: %s", resp.Request.URL, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}

// yotpoConfig is the operator configuration of C4 (the hub's apps at
// Gorgias and Yotpo, both emulators).
func (e *env) yotpoConfig() map[string]string {
	return map[string]string{
		"yotpo-gorgias.gorgias_base_url":      e.urls["gorgias"] + "/a/{account}",
		"yotpo-gorgias.gorgias_client_id":     gorgiasemu.DefaultClientID,
		"yotpo-gorgias.gorgias_client_secret": gorgiasemu.DefaultClientSecret,
		"yotpo-gorgias.yotpo_base_url":        e.urls["yotpo"],
		"yotpo-gorgias.yotpo_client_id":       "switchyard",
	}
}

var hiddenInputRE = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// installYotpo runs C4's app-store install in a fresh browser, as the
// merchant does: /install/yotpo?account=… → Gorgias consent (approved at
// once) → Yotpo's Connect page, where the default store is picked → the
// confirmation page.
func (e *env) installYotpo(ctx context.Context, account string) error {
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.hubURL+"/install/yotpo?account="+url.QueryEscape(account), nil)
	if err != nil {
		return err
	}
	resp, err := browser.Do(req)
	if err != nil {
		return fmt.Errorf("error starting the yotpo install: %w", err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Request.URL.String(), e.urls["yotpo"]+"/oauth/authorize") {
		return fmt.Errorf("yotpo install: after the Gorgias consent, %d at %s: %.300s", resp.StatusCode, resp.Request.URL, page)
	}
	form := url.Values{"account": {yotpoemu.DefaultAppKey}, "action": {"connect"}}
	for _, m := range hiddenInputRE.FindAllStringSubmatch(string(page), -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, e.urls["yotpo"]+"/oauth/authorize", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = browser.Do(req)
	if err != nil {
		return fmt.Errorf("error connecting yotpo: %w", err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "Yotpo is connected") {
		return fmt.Errorf("yotpo install: confirmation %d: %.300s", resp.StatusCode, page)
	}
	return nil
}

// integration is a Gorgias HTTP integration as the emulator holds it.
type integration struct {
	Name string `json:"name"`
	HTTP struct {
		URL                string            `json:"url"`
		Method             string            `json:"method"`
		Headers            map[string]string `json:"headers"`
		Form               map[string]string `json:"form"`
		RequestContentType string            `json:"request_content_type"`
	} `json:"http"`
}

// integrationOf returns the HTTP integration in the Gorgias emulator's
// account whose URL names the installation.
func integrationOf(g *gorgiasemu.Emulator, account, inst string) (integration, error) {
	raw, err := json.Marshal(g.Snapshot().Accounts[account])
	if err != nil {
		return integration{}, err
	}
	var a struct {
		Integrations []integration `json:"integrations"`
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return integration{}, err
	}
	for _, it := range a.Integrations {
		if strings.Contains(it.HTTP.URL, "/"+inst) {
			return it, nil
		}
	}
	return integration{}, fmt.Errorf("no HTTP integration of installation %s in the Gorgias emulator", inst)
}

// request builds the call Gorgias makes for a ticket of email: the
// integration's URL, method, headers and form with the ticket variables
// filled in.
func (it integration) request(ctx context.Context, email, ticketID, accountDomain string) (*http.Request, error) {
	vars := map[string]string{"ticket.customer.email": email, "ticket.id": ticketID, "ticket.account.domain": accountDomain}
	fill := func(s string, esc func(string) string) string {
		for k, v := range vars {
			s = strings.ReplaceAll(s, "{{"+k+"}}", esc(v))
		}
		return s
	}
	u := fill(it.HTTP.URL, url.QueryEscape)
	var body io.Reader
	method := strings.ToUpper(it.HTTP.Method)
	if method == "" {
		method = http.MethodGet
	}
	if method != http.MethodGet && len(it.HTTP.Form) > 0 {
		form := make(map[string]string, len(it.HTTP.Form))
		for k, v := range it.HTTP.Form {
			form[k] = fill(v, func(s string) string { return s })
		}
		b, err := json.Marshal(form)
		if err != nil {
			return nil, err
		}
		body = strings.NewReader(string(b))
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	for k, v := range it.HTTP.Headers {
		req.Header.Set(k, v)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// activeInstallations counts the hub's active installations by connector,
// over every merchant (admin API).
func (e *env) activeInstallations(ctx context.Context) (map[string]int, error) {
	var ms struct {
		Merchants []struct {
			ID string `json:"id"`
		} `json:"merchants"`
	}
	if err := e.api(ctx, "GET", "/api/v1/merchants", nil, &ms); err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, m := range ms.Merchants {
		var ins struct {
			Installations []struct {
				Connector string `json:"connector"`
				State     string `json:"state"`
			} `json:"installations"`
		}
		if err := e.api(ctx, "GET", "/api/v1/merchants/"+m.ID+"/installations", nil, &ins); err != nil {
			return nil, err
		}
		for _, in := range ins.Installations {
			if in.State == string(domain.InstallationActive) {
				out[in.Connector]++
			}
		}
	}
	return out, nil
}
