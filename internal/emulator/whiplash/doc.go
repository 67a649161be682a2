// Package whiplash emulates the Whiplash (RyderShip V2) API that switchyard
// reads orders from, and Whiplash's webhook sender.
//
// Emulated:
//   - OAuth 2: GET/POST /oauth/authorize (consent page, or auto-approve),
//     POST /oauth/token with authorization_code (PKCE S256 optional),
//     refresh_token (rotating) and, behind Config.AllowClientCredentials,
//     client_credentials; 2 h bearer tokens; RFC 8414 metadata.
//   - /api/v2 with bearer auth and {"message":…} errors (401, 403 for a
//     foreign X-CUSTOMER-ID/X-SHOP-ID or a read-only scope writing, 404,
//     409, 422, 429): GET /orders with ransack-style search JSON
//     (eq, not_eq, in, not_in, lt, lteq, gt, gteq on id, status,
//     previous_status, shop_id, customer_id, email, order_orig,
//     originator_original_id, created_at, updated_at, shipped_on), sort,
//     page/per_page (per_page capped at 50 without an error), fields,
//     page_total/page_links headers and bare-array bodies; GET
//     /orders/count; GET /orders/{id}; GET /notification_events (paged);
//     CRUD and /test on /notification_subscriptions (list paged).
//   - Its own wire types and signer, written from the contract (wire.go);
//     every third order renders id, customer_id and order_items[].id as
//     numeric strings (Config.StringIDsEvery).
//   - A V1-style leaky-bucket rate limit per customer (off by default) and
//     emukit faults (latency, 5xx, 429, outage).
//   - Deterministic fixtures (Config.Fixtures, POST /_emulator/seed) with
//     realistic people, addresses, SKUs, status histories and Eastern
//     offsets; indexed by updated_at so 100,000 orders search fast.
//   - The webhook sender: {"event_name":…,"order":{…}} signed with
//     X-WHIPLASH-SIGNATURE, up to 10 attempts with configurable backoff,
//     subscriptions deactivated after 100 consecutive failures, duplicates
//     and out-of-order deliveries on request, and Simulate, which runs a
//     simulated day of order lifecycles as fast as the receiver allows.
//
// Not emulated: order writes (POST/PUT /orders, /call/{action}), order items
// and events sub-resources, items, returns, shipnotices, XML webhooks, Slack
// and email notification types (stored, never sent), the V1 API, dynamic
// client registration.
//
// Control routes: GET /_emulator/state, POST /_emulator/{faults,reset,seed,
// accounts,webhook_target,orders,orders/{id}/status,tokens/expire,ratelimit,
// flush,simulate}, GET /_emulator/simulations/{id}.
package whiplash
