// Package gorgias is an in-memory emulator of the Gorgias helpdesk REST API
// (contract: shared/reference/gorgias.md) that also acts like the helpdesk
// itself: it calls HTTP integrations on ticket events, runs macros and
// serves an agent page whose sidebar renders widgets.
//
// Emulated:
//   - Accounts keyed by subdomain. A request's account is the Host
//     "<sub>.gorgias.com", else a "/a/<sub>" path prefix, else the default
//     account ("acme"). Trailing slashes are optional everywhere.
//   - Auth: HTTP Basic "<email>:<api key>" and OAuth2 Bearer access tokens
//     (HS256 JWTs carrying iss/sub/aud/iat/exp/azp/jti/scope);
//     GET|POST /oauth/authorize (consent page, or immediate redirect with
//     Config.AutoApprove / ?auto_approve=1), POST /oauth/token
//     (authorization_code, refresh_token; client auth by Basic or body;
//     refresh returns no new refresh token so the old one stays valid),
//     POST /oauth/revoke.
//   - Leaky bucket per account and credential type (API key: 40, OAuth app:
//     80, draining completely in Config.Window, default 20 s);
//     X-Gorgias-Account-Api-Call-Limit "used/limit" on every API answer, 429
//     with Retry-after (whole seconds) and the error envelope.
//   - Error envelope {"error":{"msg":…,"data":…}}; cursor pagination
//     envelope {"data","meta":{"prev_cursor","next_cursor"},"object","uri"}
//     with limit ≤ 100 (default 30).
//   - /api/account, /api/users/{id|0}; customers (list with email,
//     external_id, name, channel filters; create requiring channels, 409 on
//     a duplicate email, "data" on create not stored; get; partial update;
//     delete; merge; PUT …/data → 202 where a write older than the stored
//     version is ignored; a merged id answers a bare 301, no Location unless
//     Config.MergeLocation); HTTP integrations (CRUD; method and both content
//     types required on create; triggers with hyphens or underscores;
//     reactivation with deactivated_datetime:null); widgets (CRUD, template stored verbatim);
//     macros (CRUD incl. the http action argument shape); tickets (create
//     with messages, get, list, partial update, tag endpoints); messages
//     (incl. internal notes), tags, events.
//   - The helpdesk: on ticket-created/-updated/-message-created (and
//     -status-updated, -assignment-updated) every active HTTP integration
//     with that trigger on is rendered ({{ticket.id}},
//     {{ticket.customer.email}}, {{ticket.account.domain}}, …) and called by
//     background workers (Flush waits for them); a 2xx JSON answer is stored
//     under customer.integrations["<id>"] with "__integration_type__":"http";
//     100 consecutive failures deactivate the integration.
//   - Macros applied with POST /api/tickets/{id}/macros/{macro_id}/apply
//     (emulator route; body {"values":{key:value},"user_id"?}) or the agent
//     page's button: http actions are called synchronously, addTags,
//     removeTags, setStatus, setSubject, setPriority, addInternalNote and
//     setResponseText change the ticket.
//   - Agent pages GET /app, /app/ticket/{id} and /app/customer/{id} with
//     stable hooks (data-widget, data-field, data-value, data-internal).
//   - Control routes (emukit): /_emulator/state, /faults, /reset, plus
//     /_emulator/accounts, /_emulator/oauth/clients, /_emulator/seed and
//     /_emulator/flush.
//
// Not emulated: scopes and role permissions (every credential may do
// everything), login before consent, users/teams/views/rules/satisfaction
// surveys/jobs/custom fields APIs, message sending to real channels,
// attachments, per-customer custom-field values, macro archive endpoint,
// outbound OAuth2 for HTTP integrations, Jinja beyond paths and a few
// filters. See docs/assumptions/gorgias.md for every choice made where the
// contract is unconfirmed.
package gorgias
