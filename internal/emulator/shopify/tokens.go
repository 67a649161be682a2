package shopify

import (
	"strings"
	"time"
)

// Token lifetimes of expiring offline access tokens, as Shopify documents
// them (docs/assumptions/shopify.md, "Expiring offline tokens").
const (
	// DefaultOfflineTokenTTL is the lifetime of an expiring offline access
	// token (expires_in 3600).
	DefaultOfflineTokenTTL = time.Hour
	// DefaultRefreshTokenTTL is the lifetime of a refresh token (90 days).
	DefaultRefreshTokenTTL = 90 * 24 * time.Hour
	// DefaultRefreshRecovery is how long after its first use a refresh token
	// can be used again while its replacement has not been used (30 days).
	DefaultRefreshRecovery = 30 * 24 * time.Hour
)

// tokenKind tells the three kinds of Admin API access token apart.
type tokenKind int

const (
	tokenNonExpiring tokenKind = iota // legacy offline token, never expires
	tokenExpiring                     // expiring offline token, has a refresh token
	tokenOnline                       // per-user (online) token, 24 h, no refresh token
)

type tokenInfo struct {
	shop     string
	clientID string
	scope    string
	scopes   map[string]bool
	kind     tokenKind
	expires  time.Time // zero: never
}

// refreshInfo is one refresh token of an expiring offline token.
type refreshInfo struct {
	shop, clientID, scope string
	expires               time.Time // end of the refresh token's own lifetime
	usedAt                time.Time // zero until first used
	replacement           string    // the refresh token its last use returned
	parent                string    // the refresh token whose use returned this one
}

// tokenPair is what an expiring-token grant answers.
type tokenPair struct {
	access, refresh           string
	accessTTL, refreshExpires time.Duration
}

func (p tokenPair) json(scope string) map[string]any {
	return map[string]any{
		"access_token":             p.access,
		"expires_in":               int64(p.accessTTL / time.Second),
		"refresh_token":            p.refresh,
		"refresh_token_expires_in": int64(p.refreshExpires / time.Second),
		"scope":                    scope,
	}
}

// IssueToken mints a non-expiring offline access token for shop ("" =
// default) with the given scopes, as if the app had been installed (tests
// and demos).
func (e *Emulator) IssueToken(shop string, scopes ...string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.shop(shop)
	if s == nil {
		return ""
	}
	return e.issueLocked(s.domain, e.cfg.ClientID, strings.Join(scopes, ","), tokenNonExpiring, time.Time{})
}

// IssueExpiringToken mints an expiring offline access token and its refresh
// token for shop ("" = default) and the default app, as the authorization
// code grant with expiring=1 does. Like every new expiring token it revokes
// the app's previous expiring tokens for that shop. It returns empty strings
// for an unknown shop.
func (e *Emulator) IssueExpiringToken(shop string, scopes ...string) (access, refresh string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.shop(shop)
	if s == nil {
		return "", ""
	}
	p := e.issueExpiringLocked(s.domain, e.cfg.ClientID, strings.Join(scopes, ","), "")
	return p.access, p.refresh
}

func (e *Emulator) issueLocked(shop, clientID, scope string, kind tokenKind, expires time.Time) string {
	tok := "shpat_" + randHex(16)
	if kind == tokenOnline {
		tok = "shpua_" + randHex(16)
	}
	sc := map[string]bool{}
	for _, s := range strings.Split(scope, ",") {
		if s = strings.TrimSpace(s); s != "" {
			sc[s] = true
			// write_X implies read_X.
			if strings.HasPrefix(s, "write_") {
				sc["read_"+strings.TrimPrefix(s, "write_")] = true
			}
		}
	}
	e.tokens[tok] = tokenInfo{shop: shop, clientID: clientID, scope: scope, scopes: sc, kind: kind, expires: expires}
	return tok
}

// issueExpiringLocked issues a new expiring offline access token and
// refresh token for (shop, clientID). Only one expiring token is active per
// app and shop: every other expiring access token and refresh token of the
// pair is revoked, except keep (the refresh token being used, which stays
// usable for recovery until its replacement is used).
func (e *Emulator) issueExpiringLocked(shop, clientID, scope, keep string) tokenPair {
	now := e.cfg.Now()
	for tok, ti := range e.tokens {
		if ti.kind == tokenExpiring && ti.shop == shop && ti.clientID == clientID {
			delete(e.tokens, tok)
		}
	}
	for rt, ri := range e.refresh {
		if rt != keep && ri.shop == shop && ri.clientID == clientID {
			delete(e.refresh, rt)
		}
	}
	p := tokenPair{accessTTL: e.cfg.OfflineTokenTTL, refreshExpires: e.cfg.RefreshTokenTTL}
	p.access = e.issueLocked(shop, clientID, scope, tokenExpiring, now.Add(p.accessTTL))
	p.refresh = "shprt_" + randHex(16)
	e.refresh[p.refresh] = &refreshInfo{shop: shop, clientID: clientID, scope: scope,
		expires: now.Add(p.refreshExpires), parent: keep}
	return p
}

// refreshLocked is the refresh_token grant: it trades the refresh token rt of
// clientID for a new token pair. ok is false when Shopify would answer
// invalid_grant: an unknown, expired or revoked refresh token, one issued
// to another app, or a used one that can no longer be retried.
//
// A used refresh token can be retried (a lost or unsaved answer) until its
// replacement is used, for at most RefreshRecovery after its first use and
// never past its own lifetime. Using a replacement retires its parent.
func (e *Emulator) refreshLocked(clientID, rt string) (tokenPair, string, bool) {
	now := e.cfg.Now()
	ri, found := e.refresh[rt]
	if !found || ri.clientID != clientID || !now.Before(ri.expires) {
		return tokenPair{}, "", false
	}
	if !ri.usedAt.IsZero() {
		repl, live := e.refresh[ri.replacement]
		if e.cfg.RefreshRecovery < 0 || !now.Before(ri.usedAt.Add(e.cfg.RefreshRecovery)) || !live || !repl.usedAt.IsZero() {
			delete(e.refresh, rt)
			return tokenPair{}, "", false
		}
	} else {
		ri.usedAt = now
	}
	if ri.parent != "" {
		delete(e.refresh, ri.parent)
		ri.parent = ""
	}
	p := e.issueExpiringLocked(ri.shop, ri.clientID, ri.scope, rt)
	ri.replacement = p.refresh
	if e.cfg.RefreshRecovery < 0 {
		delete(e.refresh, rt)
	}
	return p, ri.scope, true
}

// checkTokenLocked returns the token's record, or the HTTP status and
// REST error message Shopify answers for it.
func (e *Emulator) checkTokenLocked(tok string) (tokenInfo, int, string) {
	ti, ok := e.tokens[tok]
	if !ok || (!ti.expires.IsZero() && !e.cfg.Now().Before(ti.expires)) {
		return ti, 401, "[API] Invalid API key or access token (unrecognized login or wrong password)"
	}
	if ti.kind == tokenNonExpiring && !e.cfg.RejectNonExpiringFrom.IsZero() && !e.cfg.Now().Before(e.cfg.RejectNonExpiringFrom) {
		return ti, 403, "Non-expiring access tokens are no longer accepted for the Admin API. Start using expiring offline tokens."
	}
	return ti, 0, ""
}
