package shopify

// Queries are the client's GraphQL documents, for schema checks.
var Queries = map[string]string{"OrdersByEmail": ordersQuery, "OrderLineItems": lineItemsQuery}
