// Package konnektive emulates the Konnektive CRM (Checkout Champ) API as an
// in-memory http.Handler, following the vendor contract (reference/konnektive-yotpo-shopify.md) §1.
//
// Emulated:
//   - auth: loginId + password parameters on every call (default demo /
//     konnektive-pass; more API users through POST /_emulator/accounts). A
//     bad login is answered HTTP 200 (configurable) with result=ERROR.
//   - request style: GET and POST on every path, with or without the
//     trailing slash; parameters merged from the URL query and an
//     urlencoded, multipart or JSON body (body wins).
//   - the {"result":"SUCCESS"|"ERROR","message":…} envelope, HTTP 200 for
//     ERROR; numbers and booleans as strings; record timestamps as
//     "YYYY-MM-DD HH:MM:SS" in CRM-local time (-04:00); request dates m/d/Y.
//   - paged queries (resultsPerPage 1–200, default 25; page 1-based;
//     totalResults and page as strings): order/query, customer/query,
//     purchase/query, transactions/query, each answering "No … matching
//     those parameters could be found" as an ERROR when empty. Queries
//     without an id need startDate+endDate unless Config.LenientDateRange.
//   - the actions behind the Gorgias macros: order/refund,
//     transactions/refund, purchase/refund, order/cancel, customer/addnote,
//     customer/update (billing, ship* fields, NULL clears optional ones),
//     purchase/cancel, purchase/update (nextBillDate, billingIntervalDays,
//     finalBillingCycle, price, shippingPrice, billNow, reactivate, status,
//     newMerchantId and the assumed product swap productId/variantId/
//     productQty), fulfillment/update, and behind Config.HoldEndpoint an
//     assumed purchase/hold. Every action validates everything before it
//     changes anything; state changes are visible through the queries.
//   - deterministic fixtures by seed (customers with emukit.Fake people,
//     orders with items keyed by id, SALE/REFUND transactions, fulfilments
//     with tracking, subscriptions with rebill orders, declines, refunds);
//     Config.Emails / POST /_emulator/seed put given emails on the first
//     customers.
//   - control routes from emukit (state dump with a call log that never
//     holds passwords, faults answered in the Konnektive envelope, reset).
//
// Not emulated: order/import and the other checkout endpoints, customer
// history, chargebacks, membership/club and report calls, CRM webhooks,
// real payment processing, rate limits (none are published).
package konnektive
