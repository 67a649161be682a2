package domain

import (
	"context"
	"time"
)

// JobArgs is a background job's arguments. It has the same method set as
// river.JobArgs, so River job args satisfy it without the domain importing
// River. Args may also implement River's InsertOpts method.
type JobArgs interface {
	Kind() string
}

// JobBuilder returns the job to enqueue for a newly stored inbound event.
type JobBuilder func(ev *InboundEvent) JobArgs

// JobCount is the number of jobs of one kind in one state.
type JobCount struct {
	Kind  string `json:"kind"`
	State string `json:"state"`
	Count int    `json:"count"`
}

// Store is switchyard's persistence port. Two implementations (SQLite and
// Postgres) pass one conformance suite. Every public method owns its
// transaction. Secrets of connections are encrypted before they are written.
type Store interface {
	CreateMerchant(ctx context.Context, m *Merchant) error
	GetMerchant(ctx context.Context, id string) (*Merchant, error)
	ListMerchants(ctx context.Context) ([]*Merchant, error)

	CreateConnection(ctx context.Context, c *Connection) error
	// GetConnection returns the merchant's connection; ENOTFOUND when it
	// belongs to another merchant.
	GetConnection(ctx context.Context, merchantID, id string) (*Connection, error)
	// UpdateConnection replaces account, config and secrets (token rotation).
	UpdateConnection(ctx context.Context, c *Connection) error
	ListConnections(ctx context.Context, merchantID string) ([]*Connection, error)

	CreateInstallation(ctx context.Context, in *Installation) error
	// GetInstallation returns the merchant's installation; ENOTFOUND when it
	// belongs to another merchant.
	GetInstallation(ctx context.Context, merchantID, id string) (*Installation, error)
	// LookupInstallation finds an installation by id alone. It is for the
	// callers that authenticate by other means than a merchant scope: the
	// webhook route (a signature of the installation's own secret) and job
	// workers (ids the hub wrote itself).
	LookupInstallation(ctx context.Context, id string) (*Installation, error)
	UpdateInstallation(ctx context.Context, in *Installation) error
	// DegradeInstallation marks an active (or already degraded) installation
	// degraded with reason; it reports whether it changed anything (a
	// pending or uninstalled installation is left as it is).
	DegradeInstallation(ctx context.Context, merchantID, id, reason string) (bool, error)
	ListInstallations(ctx context.Context, merchantID string) ([]*Installation, error)

	// IngestEvents stores the events and, for each one not already present
	// (same installation and dedup key), enqueues job(ev), all in one
	// transaction. It sets ID and ReceivedAt on every stored event. One result
	// per event, in order. A batch with one bad row is retried row by row so the
	// others still land; the bad row's result error is returned via errs. A new
	// event with Apply set applies it in the same transaction instead of
	// enqueuing job(ev) and is stored processed (EventApply); when its apply
	// fails, the event is stored with its job instead.
	IngestEvents(ctx context.Context, events []*InboundEvent, job JobBuilder) ([]IngestResult, []error, error)
	// GetEvent returns the merchant's event; ENOTFOUND when it belongs to
	// another merchant.
	GetEvent(ctx context.Context, merchantID string, id int64) (*InboundEvent, error)
	// ListEvents lists one merchant's events (f.MerchantID is required, as
	// in every List below).
	ListEvents(ctx context.Context, f EventFilter) ([]*InboundEvent, error)
	MarkEventProcessed(ctx context.Context, id int64, at time.Time) error
	// ReplayEvent enqueues job for a stored event again (clearing processed_at).
	ReplayEvent(ctx context.Context, merchantID string, id int64, job JobBuilder) error

	RecordDeliveries(ctx context.Context, ds []*Delivery) error
	ListDeliveries(ctx context.Context, f DeliveryFilter) ([]*Delivery, error)

	CreateDeadLetter(ctx context.Context, dl *DeadLetter) error
	GetDeadLetter(ctx context.Context, merchantID string, id int64) (*DeadLetter, error)
	ListDeadLetters(ctx context.Context, f DeadLetterFilter) ([]*DeadLetter, error)
	// ReplayDeadLetter enqueues job for the letter and marks it replayed in one
	// transaction. ECONFLICT when it was already replayed.
	ReplayDeadLetter(ctx context.Context, merchantID string, id int64, job func(dl *DeadLetter) (JobArgs, error)) error

	// ApplyOrder stores o unless the stored copy is at least as new
	// (SourceUpdatedAt, then Status). When it is applied, plan (given the
	// replaced snapshot, nil for a new order) names the syncs to mark dirty
	// (bumping DirtySeq) and the jobs to enqueue; all of it commits in one
	// transaction.
	ApplyOrder(ctx context.Context, o *OrderSnapshot, plan func(prev *OrderSnapshot) ([]SyncKey, []JobArgs)) (OrderApply, error)
	// ApplyOrders applies many snapshots (newest wins, as ApplyOrder) in one
	// transaction, marking nothing dirty (backfills). It returns how many
	// were applied.
	ApplyOrders(ctx context.Context, os []*OrderSnapshot) (int, error)
	GetOrder(ctx context.Context, installationID, storeID, orderID string) (*OrderSnapshot, error)
	// ListCustomerOrders returns the installation's orders for an email,
	// newest source update first.
	ListCustomerOrders(ctx context.Context, installationID, email string) ([]*OrderSnapshot, error)
	// ListOrders pages through an installation's orders by (store, order) id.
	ListOrders(ctx context.Context, installationID string, afterStore, afterOrder string, limit int) ([]*OrderSnapshot, error)
	CountOrders(ctx context.Context, installationID string) (int, error)

	// GetSync returns a sync's state (a zero state when never marked).
	GetSync(ctx context.Context, k SyncKey) (*SyncState, error)
	// QueueSync merges state into k's bookkeeping, marks k dirty and
	// enqueues job, in one transaction (one sync handing work to another).
	QueueSync(ctx context.Context, k SyncKey, state StateDelta, job JobArgs) error
	// SaveSyncState merges state into the sync's bookkeeping.
	SaveSyncState(ctx context.Context, k SyncKey, state StateDelta) error
	// FinishSync merges state and, when DirtySeq still equals seq, sets
	// SyncedSeq = seq and completes the running job jobID in the same
	// transaction (so a change that lands concurrently is never lost: it either
	// sees the job completed and enqueues a new one, or the sync sees it and
	// runs again). It reports whether the sync is done.
	FinishSync(ctx context.Context, k SyncKey, seq int64, state StateDelta, jobID int64) (bool, error)

	// CreateAPIToken creates a token for the merchant and returns its
	// plaintext (shown once).
	CreateAPIToken(ctx context.Context, merchantID, name string) (string, *APIToken, error)
	// LookupAPIToken finds the token with this plaintext (ENOTFOUND if none).
	LookupAPIToken(ctx context.Context, plaintext string) (*APIToken, error)
	ListAPITokens(ctx context.Context, merchantID string) ([]*APIToken, error)
	DeleteAPIToken(ctx context.Context, merchantID, id string) error

	// Enqueue inserts a job outside of any other write.
	Enqueue(ctx context.Context, job JobArgs) error
	JobCounts(ctx context.Context) ([]JobCount, error)

	// Ready reports whether the database answers and every migration is applied.
	Ready(ctx context.Context) error
	Close() error

	// ClaimAction records a pending agent action unless one with the same
	// installation and IdemKey was claimed less than window ago: then it
	// returns that one and claimed=false (a retried delivery runs once).
	// Sets ID and CreatedAt on a claimed a.
	ClaimAction(ctx context.Context, a *ActionAudit, window time.Duration) (existing *ActionAudit, claimed bool, err error)
	// FinishAction stores the outcome of a claimed action (status, request,
	// result, message, HTTP status, finished_at) and, with a.ReleaseKey,
	// drops its idempotency claim in the same transaction.
	FinishAction(ctx context.Context, a *ActionAudit) error
	// ListActionAudits lists one merchant's action audit rows, newest first.
	ListActionAudits(ctx context.Context, f ActionAuditFilter) ([]*ActionAudit, error)
	// Activity counts inbound events and deliveries per minute in the
	// filter's window: only the minutes with any activity, oldest first.
	Activity(ctx context.Context, f ActivityFilter) ([]ActivityMinute, error)

	// TakeRateBudget charges one call to the budget key (interval T between
	// calls) at now and returns the budget after the charge: the call may
	// leave at TAT - burst·T (RateBudget). A key not seen before is created
	// with its TAT at fresh (now: a full bucket) before the charge. One
	// atomic statement: concurrent callers on every replica see each
	// other's charges.
	TakeRateBudget(ctx context.Context, key string, interval time.Duration, fresh, now time.Time) (RateBudget, error)
	// HoldRateBudget raises the budget's TAT to at least tat and its pause to
	// at least pausedUntil (never lowers either) and returns the budget.
	HoldRateBudget(ctx context.Context, key string, tat, pausedUntil, now time.Time) (RateBudget, error)
	// ListRateBudgets returns every persisted budget, by key.
	ListRateBudgets(ctx context.Context) ([]RateBudget, error)
}
