// Package domain holds switchyard's domain types (merchants, connections,
// installations, inbound events, deliveries, dead letters), their validation,
// the one error vocabulary of the application and the store interface that
// storage adapters implement. It imports nothing from the rest of switchyard.
package domain
