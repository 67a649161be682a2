package yotpo

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"
)

var connectPage = template.Must(template.New("connect").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Connect to Yotpo</title>
<style>body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0}
main{max-width:420px;margin:60px auto;background:#fff;border-radius:8px;padding:32px;box-shadow:0 1px 4px #0002}
h1{font-size:20px}.muted{color:#666;font-size:14px}button{font-size:16px;padding:10px 20px;border-radius:6px;border:0;cursor:pointer}
.connect{background:#1d4ed8;color:#fff}.cancel{background:#e5e7eb;margin-left:8px}select{font-size:15px;padding:6px;width:100%;margin:8px 0 20px}</style></head>
<body><main>
<h1>Connect {{.ClientID}} to Yotpo</h1>
<p class="muted">{{.ClientID}} is asking to read your Yotpo Reviews and Loyalty &amp; Referrals data and to reply to reviews and questions.</p>
<form method="post" action="/oauth/authorize">
<label for="account">Yotpo store</label>
<select id="account" name="account">{{range .Accounts}}<option value="{{.Key}}"{{if .Selected}} selected{{end}}>{{.Name}} ({{.Products}})</option>{{end}}</select>
<input type="hidden" name="client_id" value="{{.ClientID}}">
<input type="hidden" name="redirect_uri" value="{{.RedirectURI}}">
<input type="hidden" name="state" value="{{.State}}">
<button class="connect" type="submit" name="action" value="connect">Connect</button>
<button class="cancel" type="submit" name="action" value="deny">Cancel</button>
</form>
</main></body></html>`))

type pageAccount struct {
	Key, Name, Products string
	Selected            bool
}

func validRedirect(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func acctKey(a Account) string {
	if a.AppKey != "" {
		return a.AppKey
	}
	return a.GUID
}

func (e *Emulator) authorizePage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	clientID, redirect := q.Get("client_id"), q.Get("redirect_uri")
	if clientID == "" || !validRedirect(redirect) {
		http.Error(w, "client_id and an absolute http(s) redirect_uri are required", http.StatusBadRequest)
		return
	}
	if rt := q.Get("response_type"); rt != "" && rt != "code" {
		http.Error(w, "response_type must be code", http.StatusBadRequest)
		return
	}
	if e.cfg.AutoApprove || q.Get("auto_approve") == "1" || q.Get("auto_approve") == "true" {
		e.approve(w, r, clientID, redirect, q.Get("state"), q.Get("account"))
		return
	}
	e.mu.Lock()
	var accts []pageAccount
	for i, s := range e.stores {
		var prods []string
		if s.acct.AppKey != "" {
			prods = append(prods, "Reviews")
		}
		if s.acct.GUID != "" {
			prods = append(prods, "Loyalty")
		}
		k := acctKey(s.acct)
		accts = append(accts, pageAccount{Key: k, Name: s.acct.Name, Products: strings.Join(prods, " + "),
			Selected: q.Get("account") == k || (q.Get("account") == "" && i == 0)})
	}
	e.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = connectPage.Execute(w, map[string]any{"ClientID": clientID, "RedirectURI": redirect, "State": q.Get("state"), "Accounts": accts})
}

func (e *Emulator) authorizeSubmit(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	clientID, redirect, state := r.PostForm.Get("client_id"), r.PostForm.Get("redirect_uri"), r.PostForm.Get("state")
	if clientID == "" || !validRedirect(redirect) {
		http.Error(w, "client_id and an absolute http(s) redirect_uri are required", http.StatusBadRequest)
		return
	}
	if r.PostForm.Get("action") == "deny" {
		u, _ := url.Parse(redirect)
		v := u.Query()
		v.Set("error", "access_denied")
		if state != "" {
			v.Set("state", state)
		}
		u.RawQuery = v.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
		return
	}
	e.approve(w, r, clientID, redirect, state, r.PostForm.Get("account"))
}

func (e *Emulator) approve(w http.ResponseWriter, r *http.Request, clientID, redirect, state, account string) {
	e.mu.Lock()
	idx := -1
	for i, s := range e.stores {
		if account == "" || acctKey(s.acct) == account || s.acct.GUID == account {
			idx = i
			break
		}
	}
	if idx < 0 {
		e.mu.Unlock()
		http.Error(w, "unknown Yotpo account", http.StatusBadRequest)
		return
	}
	code := randToken("yc_")
	e.codes[code] = codeInfo{acct: idx, redirect: redirect, clientID: clientID, expires: e.cfg.Now().Add(10 * time.Minute)}
	e.mu.Unlock()
	u, _ := url.Parse(redirect)
	v := u.Query()
	v.Set("code", code)
	if state != "" {
		v.Set("state", state)
	}
	u.RawQuery = v.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}
