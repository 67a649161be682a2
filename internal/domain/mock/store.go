// Package mock holds function-field fakes of the domain's interfaces, in the
// style of benbjohnson/wtf's mock package: a test sets only the functions
// the code under test should call. A method whose function is not set
// panics with its name, so a test shows what it forgot (or that the code
// called something it should not have).
//
// Set the fields before the fake is shared with other goroutines; a
// function that records calls guards its own state.
package mock

import (
	"context"
	"fmt"
	"time"

	"switchyard/internal/domain"
)

var _ domain.Store = (*Store)(nil)

// Store is a fake domain.Store: each method calls the field of the same
// name with the suffix Fn.
type Store struct {
	CreateMerchantFn      func(ctx context.Context, m *domain.Merchant) error
	GetMerchantFn         func(ctx context.Context, id string) (*domain.Merchant, error)
	ListMerchantsFn       func(ctx context.Context) ([]*domain.Merchant, error)
	CreateConnectionFn    func(ctx context.Context, c *domain.Connection) error
	GetConnectionFn       func(ctx context.Context, merchantID, id string) (*domain.Connection, error)
	UpdateConnectionFn    func(ctx context.Context, c *domain.Connection) error
	ListConnectionsFn     func(ctx context.Context, merchantID string) ([]*domain.Connection, error)
	CreateInstallationFn  func(ctx context.Context, in *domain.Installation) error
	GetInstallationFn     func(ctx context.Context, merchantID, id string) (*domain.Installation, error)
	LookupInstallationFn  func(ctx context.Context, id string) (*domain.Installation, error)
	UpdateInstallationFn  func(ctx context.Context, in *domain.Installation) error
	DegradeInstallationFn func(ctx context.Context, merchantID, id, reason string) (bool, error)
	ListInstallationsFn   func(ctx context.Context, merchantID string) ([]*domain.Installation, error)
	IngestEventsFn        func(ctx context.Context, events []*domain.InboundEvent, job domain.JobBuilder) ([]domain.IngestResult, []error, error)
	GetEventFn            func(ctx context.Context, merchantID string, id int64) (*domain.InboundEvent, error)
	ListEventsFn          func(ctx context.Context, f domain.EventFilter) ([]*domain.InboundEvent, error)
	MarkEventProcessedFn  func(ctx context.Context, id int64, at time.Time) error
	ReplayEventFn         func(ctx context.Context, merchantID string, id int64, job domain.JobBuilder) error
	RecordDeliveriesFn    func(ctx context.Context, ds []*domain.Delivery) error
	ListDeliveriesFn      func(ctx context.Context, f domain.DeliveryFilter) ([]*domain.Delivery, error)
	CreateDeadLetterFn    func(ctx context.Context, dl *domain.DeadLetter) error
	GetDeadLetterFn       func(ctx context.Context, merchantID string, id int64) (*domain.DeadLetter, error)
	ListDeadLettersFn     func(ctx context.Context, f domain.DeadLetterFilter) ([]*domain.DeadLetter, error)
	ReplayDeadLetterFn    func(ctx context.Context, merchantID string, id int64, job func(dl *domain.DeadLetter) (domain.JobArgs, error)) error
	ApplyOrderFn          func(ctx context.Context, o *domain.OrderSnapshot, plan func(prev *domain.OrderSnapshot) ([]domain.SyncKey, []domain.JobArgs)) (domain.OrderApply, error)
	ApplyOrdersFn         func(ctx context.Context, os []*domain.OrderSnapshot) (int, error)
	GetOrderFn            func(ctx context.Context, installationID, storeID, orderID string) (*domain.OrderSnapshot, error)
	ListCustomerOrdersFn  func(ctx context.Context, installationID, email string) ([]*domain.OrderSnapshot, error)
	ListOrdersFn          func(ctx context.Context, installationID string, afterStore, afterOrder string, limit int) ([]*domain.OrderSnapshot, error)
	CountOrdersFn         func(ctx context.Context, installationID string) (int, error)
	GetSyncFn             func(ctx context.Context, k domain.SyncKey) (*domain.SyncState, error)
	QueueSyncFn           func(ctx context.Context, k domain.SyncKey, state domain.StateDelta, job domain.JobArgs) error
	SaveSyncStateFn       func(ctx context.Context, k domain.SyncKey, state domain.StateDelta) error
	FinishSyncFn          func(ctx context.Context, k domain.SyncKey, seq int64, state domain.StateDelta, jobID int64) (bool, error)
	CreateAPITokenFn      func(ctx context.Context, merchantID, name string) (string, *domain.APIToken, error)
	LookupAPITokenFn      func(ctx context.Context, plaintext string) (*domain.APIToken, error)
	ListAPITokensFn       func(ctx context.Context, merchantID string) ([]*domain.APIToken, error)
	DeleteAPITokenFn      func(ctx context.Context, merchantID, id string) error
	EnqueueFn             func(ctx context.Context, job domain.JobArgs) error
	JobCountsFn           func(ctx context.Context) ([]domain.JobCount, error)
	ReadyFn               func(ctx context.Context) error
	CloseFn               func() error

	ClaimActionFn      func(ctx context.Context, a *domain.ActionAudit, window time.Duration) (*domain.ActionAudit, bool, error)
	FinishActionFn     func(ctx context.Context, a *domain.ActionAudit) error
	ListActionAuditsFn func(ctx context.Context, f domain.ActionAuditFilter) ([]*domain.ActionAudit, error)
	ActivityFn         func(ctx context.Context, f domain.ActivityFilter) ([]domain.ActivityMinute, error)

	TakeRateBudgetFn  func(ctx context.Context, key string, interval time.Duration, fresh, now time.Time) (domain.RateBudget, error)
	HoldRateBudgetFn  func(ctx context.Context, key string, tat, pausedUntil, now time.Time) (domain.RateBudget, error)
	ListRateBudgetsFn func(ctx context.Context) ([]domain.RateBudget, error)
}

func unset(method string) string {
	return fmt.Sprintf("mock.Store.%s called, but %sFn is not set", method, method)
}

// CreateMerchant calls CreateMerchantFn.
func (s *Store) CreateMerchant(ctx context.Context, m *domain.Merchant) error {
	if s.CreateMerchantFn == nil {
		panic(unset("CreateMerchant"))
	}
	return s.CreateMerchantFn(ctx, m)
}

// GetMerchant calls GetMerchantFn.
func (s *Store) GetMerchant(ctx context.Context, id string) (*domain.Merchant, error) {
	if s.GetMerchantFn == nil {
		panic(unset("GetMerchant"))
	}
	return s.GetMerchantFn(ctx, id)
}

// ListMerchants calls ListMerchantsFn.
func (s *Store) ListMerchants(ctx context.Context) ([]*domain.Merchant, error) {
	if s.ListMerchantsFn == nil {
		panic(unset("ListMerchants"))
	}
	return s.ListMerchantsFn(ctx)
}

// CreateConnection calls CreateConnectionFn.
func (s *Store) CreateConnection(ctx context.Context, c *domain.Connection) error {
	if s.CreateConnectionFn == nil {
		panic(unset("CreateConnection"))
	}
	return s.CreateConnectionFn(ctx, c)
}

// GetConnection calls GetConnectionFn.
func (s *Store) GetConnection(ctx context.Context, merchantID, id string) (*domain.Connection, error) {
	if s.GetConnectionFn == nil {
		panic(unset("GetConnection"))
	}
	return s.GetConnectionFn(ctx, merchantID, id)
}

// UpdateConnection calls UpdateConnectionFn.
func (s *Store) UpdateConnection(ctx context.Context, c *domain.Connection) error {
	if s.UpdateConnectionFn == nil {
		panic(unset("UpdateConnection"))
	}
	return s.UpdateConnectionFn(ctx, c)
}

// ListConnections calls ListConnectionsFn.
func (s *Store) ListConnections(ctx context.Context, merchantID string) ([]*domain.Connection, error) {
	if s.ListConnectionsFn == nil {
		panic(unset("ListConnections"))
	}
	return s.ListConnectionsFn(ctx, merchantID)
}

// CreateInstallation calls CreateInstallationFn.
func (s *Store) CreateInstallation(ctx context.Context, in *domain.Installation) error {
	if s.CreateInstallationFn == nil {
		panic(unset("CreateInstallation"))
	}
	return s.CreateInstallationFn(ctx, in)
}

// GetInstallation calls GetInstallationFn.
func (s *Store) GetInstallation(ctx context.Context, merchantID, id string) (*domain.Installation, error) {
	if s.GetInstallationFn == nil {
		panic(unset("GetInstallation"))
	}
	return s.GetInstallationFn(ctx, merchantID, id)
}

// LookupInstallation calls LookupInstallationFn.
func (s *Store) LookupInstallation(ctx context.Context, id string) (*domain.Installation, error) {
	if s.LookupInstallationFn == nil {
		panic(unset("LookupInstallation"))
	}
	return s.LookupInstallationFn(ctx, id)
}

// UpdateInstallation calls UpdateInstallationFn.
func (s *Store) UpdateInstallation(ctx context.Context, in *domain.Installation) error {
	if s.UpdateInstallationFn == nil {
		panic(unset("UpdateInstallation"))
	}
	return s.UpdateInstallationFn(ctx, in)
}

// DegradeInstallation calls DegradeInstallationFn.
func (s *Store) DegradeInstallation(ctx context.Context, merchantID, id, reason string) (bool, error) {
	if s.DegradeInstallationFn == nil {
		panic(unset("DegradeInstallation"))
	}
	return s.DegradeInstallationFn(ctx, merchantID, id, reason)
}

// ListInstallations calls ListInstallationsFn.
func (s *Store) ListInstallations(ctx context.Context, merchantID string) ([]*domain.Installation, error) {
	if s.ListInstallationsFn == nil {
		panic(unset("ListInstallations"))
	}
	return s.ListInstallationsFn(ctx, merchantID)
}

// IngestEvents calls IngestEventsFn.
func (s *Store) IngestEvents(ctx context.Context, events []*domain.InboundEvent, job domain.JobBuilder) ([]domain.IngestResult, []error, error) {
	if s.IngestEventsFn == nil {
		panic(unset("IngestEvents"))
	}
	return s.IngestEventsFn(ctx, events, job)
}

// GetEvent calls GetEventFn.
func (s *Store) GetEvent(ctx context.Context, merchantID string, id int64) (*domain.InboundEvent, error) {
	if s.GetEventFn == nil {
		panic(unset("GetEvent"))
	}
	return s.GetEventFn(ctx, merchantID, id)
}

// ListEvents calls ListEventsFn.
func (s *Store) ListEvents(ctx context.Context, f domain.EventFilter) ([]*domain.InboundEvent, error) {
	if s.ListEventsFn == nil {
		panic(unset("ListEvents"))
	}
	return s.ListEventsFn(ctx, f)
}

// MarkEventProcessed calls MarkEventProcessedFn.
func (s *Store) MarkEventProcessed(ctx context.Context, id int64, at time.Time) error {
	if s.MarkEventProcessedFn == nil {
		panic(unset("MarkEventProcessed"))
	}
	return s.MarkEventProcessedFn(ctx, id, at)
}

// ReplayEvent calls ReplayEventFn.
func (s *Store) ReplayEvent(ctx context.Context, merchantID string, id int64, job domain.JobBuilder) error {
	if s.ReplayEventFn == nil {
		panic(unset("ReplayEvent"))
	}
	return s.ReplayEventFn(ctx, merchantID, id, job)
}

// RecordDeliveries calls RecordDeliveriesFn.
func (s *Store) RecordDeliveries(ctx context.Context, ds []*domain.Delivery) error {
	if s.RecordDeliveriesFn == nil {
		panic(unset("RecordDeliveries"))
	}
	return s.RecordDeliveriesFn(ctx, ds)
}

// ListDeliveries calls ListDeliveriesFn.
func (s *Store) ListDeliveries(ctx context.Context, f domain.DeliveryFilter) ([]*domain.Delivery, error) {
	if s.ListDeliveriesFn == nil {
		panic(unset("ListDeliveries"))
	}
	return s.ListDeliveriesFn(ctx, f)
}

// CreateDeadLetter calls CreateDeadLetterFn.
func (s *Store) CreateDeadLetter(ctx context.Context, dl *domain.DeadLetter) error {
	if s.CreateDeadLetterFn == nil {
		panic(unset("CreateDeadLetter"))
	}
	return s.CreateDeadLetterFn(ctx, dl)
}

// GetDeadLetter calls GetDeadLetterFn.
func (s *Store) GetDeadLetter(ctx context.Context, merchantID string, id int64) (*domain.DeadLetter, error) {
	if s.GetDeadLetterFn == nil {
		panic(unset("GetDeadLetter"))
	}
	return s.GetDeadLetterFn(ctx, merchantID, id)
}

// ListDeadLetters calls ListDeadLettersFn.
func (s *Store) ListDeadLetters(ctx context.Context, f domain.DeadLetterFilter) ([]*domain.DeadLetter, error) {
	if s.ListDeadLettersFn == nil {
		panic(unset("ListDeadLetters"))
	}
	return s.ListDeadLettersFn(ctx, f)
}

// ReplayDeadLetter calls ReplayDeadLetterFn.
func (s *Store) ReplayDeadLetter(ctx context.Context, merchantID string, id int64, job func(dl *domain.DeadLetter) (domain.JobArgs, error)) error {
	if s.ReplayDeadLetterFn == nil {
		panic(unset("ReplayDeadLetter"))
	}
	return s.ReplayDeadLetterFn(ctx, merchantID, id, job)
}

// ApplyOrder calls ApplyOrderFn.
func (s *Store) ApplyOrder(ctx context.Context, o *domain.OrderSnapshot, plan func(prev *domain.OrderSnapshot) ([]domain.SyncKey, []domain.JobArgs)) (domain.OrderApply, error) {
	if s.ApplyOrderFn == nil {
		panic(unset("ApplyOrder"))
	}
	return s.ApplyOrderFn(ctx, o, plan)
}

// ApplyOrders calls ApplyOrdersFn.
func (s *Store) ApplyOrders(ctx context.Context, os []*domain.OrderSnapshot) (int, error) {
	if s.ApplyOrdersFn == nil {
		panic(unset("ApplyOrders"))
	}
	return s.ApplyOrdersFn(ctx, os)
}

// GetOrder calls GetOrderFn.
func (s *Store) GetOrder(ctx context.Context, installationID, storeID, orderID string) (*domain.OrderSnapshot, error) {
	if s.GetOrderFn == nil {
		panic(unset("GetOrder"))
	}
	return s.GetOrderFn(ctx, installationID, storeID, orderID)
}

// ListCustomerOrders calls ListCustomerOrdersFn.
func (s *Store) ListCustomerOrders(ctx context.Context, installationID, email string) ([]*domain.OrderSnapshot, error) {
	if s.ListCustomerOrdersFn == nil {
		panic(unset("ListCustomerOrders"))
	}
	return s.ListCustomerOrdersFn(ctx, installationID, email)
}

// ListOrders calls ListOrdersFn.
func (s *Store) ListOrders(ctx context.Context, installationID string, afterStore, afterOrder string, limit int) ([]*domain.OrderSnapshot, error) {
	if s.ListOrdersFn == nil {
		panic(unset("ListOrders"))
	}
	return s.ListOrdersFn(ctx, installationID, afterStore, afterOrder, limit)
}

// CountOrders calls CountOrdersFn.
func (s *Store) CountOrders(ctx context.Context, installationID string) (int, error) {
	if s.CountOrdersFn == nil {
		panic(unset("CountOrders"))
	}
	return s.CountOrdersFn(ctx, installationID)
}

// GetSync calls GetSyncFn.
func (s *Store) GetSync(ctx context.Context, k domain.SyncKey) (*domain.SyncState, error) {
	if s.GetSyncFn == nil {
		panic(unset("GetSync"))
	}
	return s.GetSyncFn(ctx, k)
}

// QueueSync calls QueueSyncFn.
func (s *Store) QueueSync(ctx context.Context, k domain.SyncKey, state domain.StateDelta, job domain.JobArgs) error {
	if s.QueueSyncFn == nil {
		panic(unset("QueueSync"))
	}
	return s.QueueSyncFn(ctx, k, state, job)
}

// SaveSyncState calls SaveSyncStateFn.
func (s *Store) SaveSyncState(ctx context.Context, k domain.SyncKey, state domain.StateDelta) error {
	if s.SaveSyncStateFn == nil {
		panic(unset("SaveSyncState"))
	}
	return s.SaveSyncStateFn(ctx, k, state)
}

// FinishSync calls FinishSyncFn.
func (s *Store) FinishSync(ctx context.Context, k domain.SyncKey, seq int64, state domain.StateDelta, jobID int64) (bool, error) {
	if s.FinishSyncFn == nil {
		panic(unset("FinishSync"))
	}
	return s.FinishSyncFn(ctx, k, seq, state, jobID)
}

// CreateAPIToken calls CreateAPITokenFn.
func (s *Store) CreateAPIToken(ctx context.Context, merchantID, name string) (string, *domain.APIToken, error) {
	if s.CreateAPITokenFn == nil {
		panic(unset("CreateAPIToken"))
	}
	return s.CreateAPITokenFn(ctx, merchantID, name)
}

// LookupAPIToken calls LookupAPITokenFn.
func (s *Store) LookupAPIToken(ctx context.Context, plaintext string) (*domain.APIToken, error) {
	if s.LookupAPITokenFn == nil {
		panic(unset("LookupAPIToken"))
	}
	return s.LookupAPITokenFn(ctx, plaintext)
}

// ListAPITokens calls ListAPITokensFn.
func (s *Store) ListAPITokens(ctx context.Context, merchantID string) ([]*domain.APIToken, error) {
	if s.ListAPITokensFn == nil {
		panic(unset("ListAPITokens"))
	}
	return s.ListAPITokensFn(ctx, merchantID)
}

// DeleteAPIToken calls DeleteAPITokenFn.
func (s *Store) DeleteAPIToken(ctx context.Context, merchantID, id string) error {
	if s.DeleteAPITokenFn == nil {
		panic(unset("DeleteAPIToken"))
	}
	return s.DeleteAPITokenFn(ctx, merchantID, id)
}

// Enqueue calls EnqueueFn.
func (s *Store) Enqueue(ctx context.Context, job domain.JobArgs) error {
	if s.EnqueueFn == nil {
		panic(unset("Enqueue"))
	}
	return s.EnqueueFn(ctx, job)
}

// JobCounts calls JobCountsFn.
func (s *Store) JobCounts(ctx context.Context) ([]domain.JobCount, error) {
	if s.JobCountsFn == nil {
		panic(unset("JobCounts"))
	}
	return s.JobCountsFn(ctx)
}

// Ready calls ReadyFn.
func (s *Store) Ready(ctx context.Context) error {
	if s.ReadyFn == nil {
		panic(unset("Ready"))
	}
	return s.ReadyFn(ctx)
}

// Close calls CloseFn.
func (s *Store) Close() error {
	if s.CloseFn == nil {
		panic(unset("Close"))
	}
	return s.CloseFn()
}

// ClaimAction calls ClaimActionFn.
func (s *Store) ClaimAction(ctx context.Context, a *domain.ActionAudit, window time.Duration) (*domain.ActionAudit, bool, error) {
	if s.ClaimActionFn == nil {
		panic(unset("ClaimAction"))
	}
	return s.ClaimActionFn(ctx, a, window)
}

// FinishAction calls FinishActionFn.
func (s *Store) FinishAction(ctx context.Context, a *domain.ActionAudit) error {
	if s.FinishActionFn == nil {
		panic(unset("FinishAction"))
	}
	return s.FinishActionFn(ctx, a)
}

// ListActionAudits calls ListActionAuditsFn.
func (s *Store) ListActionAudits(ctx context.Context, f domain.ActionAuditFilter) ([]*domain.ActionAudit, error) {
	if s.ListActionAuditsFn == nil {
		panic(unset("ListActionAudits"))
	}
	return s.ListActionAuditsFn(ctx, f)
}

// Activity calls ActivityFn.
func (s *Store) Activity(ctx context.Context, f domain.ActivityFilter) ([]domain.ActivityMinute, error) {
	if s.ActivityFn == nil {
		panic(unset("Activity"))
	}
	return s.ActivityFn(ctx, f)
}

// TakeRateBudget calls TakeRateBudgetFn.
func (s *Store) TakeRateBudget(ctx context.Context, key string, interval time.Duration, fresh, now time.Time) (domain.RateBudget, error) {
	if s.TakeRateBudgetFn == nil {
		panic(unset("TakeRateBudget"))
	}
	return s.TakeRateBudgetFn(ctx, key, interval, fresh, now)
}

// HoldRateBudget calls HoldRateBudgetFn.
func (s *Store) HoldRateBudget(ctx context.Context, key string, tat, pausedUntil, now time.Time) (domain.RateBudget, error) {
	if s.HoldRateBudgetFn == nil {
		panic(unset("HoldRateBudget"))
	}
	return s.HoldRateBudgetFn(ctx, key, tat, pausedUntil, now)
}

// ListRateBudgets calls ListRateBudgetsFn.
func (s *Store) ListRateBudgets(ctx context.Context) ([]domain.RateBudget, error) {
	if s.ListRateBudgetsFn == nil {
		panic(unset("ListRateBudgets"))
	}
	return s.ListRateBudgetsFn(ctx)
}
