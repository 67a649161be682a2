package domain

// EventApply is what an inbound event does inside its ingest transaction
// (the group commit that stores it) instead of through a job of its own:
// Order is stored unless the stored copy is at least as new (as
// Store.ApplyOrder), and when it is applied, Plan (given the replaced
// snapshot, nil for a new order) names the syncs to mark dirty and the jobs
// to enqueue. The event is stored already processed, in the same
// transaction. A nil Order stores nothing (an event with nothing to apply).
//
// It is set on InboundEvent.Apply by ingest, from the connector, and must do
// what the connector's event handler would do with the stored event: a
// replay of the event runs the handler.
type EventApply struct {
	Order *OrderSnapshot
	Plan  func(prev *OrderSnapshot) ([]SyncKey, []JobArgs)
}
