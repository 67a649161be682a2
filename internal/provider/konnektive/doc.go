// Package konnektive is switchyard's Konnektive CRM (Checkout Champ)
// client, built on internal/outbound.
//
// Every call carries loginId and password as parameters (form body by
// default; multipart or URL query by Config.Encoding). The credentials never
// reach delivery records, errors or logs: endpoint labels are path-only and
// the client redacts URLs and messages. Answers are the
// {"result":"SUCCESS"|"ERROR","message":…} envelope (DecodeEnvelope);
// records decode leniently (String, Int, Money, Bool, Time accept numbers or
// strings, "" and null).
//
// Queries (QueryOrders, QueryCustomers, QueryPurchases, QueryTransactions)
// read every page (resultsPerPage 200) and map "No … could be found" to an
// empty result. Actions (RefundOrder, RefundTransaction, RefundPurchase,
// CancelOrder, AddCustomerNote, UpdateCustomer, CancelPurchase,
// UpdatePurchase, PausePurchase, UpdateFulfillment) validate their input
// first (domain.EINVALID, nothing sent) and map an ERROR envelope to a
// *domain.Error carrying the CRM's message (EINVALID, or EUNAUTHORIZED for a
// credentials failure) whose chain also holds a terminal *outbound.Error,
// so the job is not retried and the agent sees the CRM's words.
//
// The CRM answers ERROR envelopes with HTTP 200, so outbound records such
// attempts as successful deliveries; the error is returned to the caller.
package konnektive
