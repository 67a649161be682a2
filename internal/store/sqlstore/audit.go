package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"switchyard/internal/domain"
)

const actionAuditCols = `id, merchant_id, installation_id, ticket_id, customer_email, agent, action, arguments, status, request, result, message, http_status, created_at, finished_at`

func scanActionAudit(r Row) (*domain.ActionAudit, error) {
	var a domain.ActionAudit
	var args, req, res, status string
	var created, finished Timestamp
	if err := r.Scan(&a.ID, &a.MerchantID, &a.InstallationID, &a.TicketID, &a.CustomerEmail, &a.Agent, &a.Action, &args, &status, &req, &res, &a.Message, &a.HTTPStatus, &created, &finished); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(args), &a.Arguments); err != nil {
		return nil, fmt.Errorf("error decoding action arguments: %w", err)
	}
	if req != "" {
		a.Request = json.RawMessage(req)
	}
	if res != "" {
		a.Result = json.RawMessage(res)
	}
	a.Status = domain.ActionStatus(status)
	a.CreatedAt, a.FinishedAt = created.Time, finished.Ptr()
	return &a, nil
}

// ClaimAction implements domain.Store. The claim is one upsert on
// action_claims that only takes over an expired key, so two deliveries
// racing on either backend claim it once: the second waits on the key's
// row (Postgres) or on the single writer (SQLite) and finds it held.
func (s *Store) ClaimAction(ctx context.Context, a *domain.ActionAudit, window time.Duration) (*domain.ActionAudit, bool, error) {
	if a.MerchantID == "" || a.InstallationID == "" || a.IdemKey == "" || a.Action == "" {
		return nil, false, domain.Errorf(domain.EINVALID, "an action needs a merchant, an installation, an action name and an idempotency key")
	}
	args, err := json.Marshal(nonNilMap(a.Arguments))
	if err != nil {
		return nil, false, fmt.Errorf("error encoding action arguments: %w", err)
	}
	now := s.ts()
	id := domain.NewID("act")
	var existing *domain.ActionAudit
	err = s.b.Write(ctx, func(tx Tx) error {
		var holder string
		err := tx.QueryRow(ctx, `INSERT INTO action_claims (installation_id, idem_key, audit_id, expires_at) VALUES (?, ?, ?, ?)
ON CONFLICT (installation_id, idem_key) DO UPDATE SET audit_id = excluded.audit_id, expires_at = excluded.expires_at
WHERE action_claims.expires_at <= ? RETURNING audit_id`,
			a.InstallationID, a.IdemKey, id, s.b.TimeArg(now.Add(window)), s.b.TimeArg(now)).Scan(&holder)
		if errors.Is(err, ErrNoRows) {
			// Held by an action inside the window: return it.
			var held string
			if err := tx.QueryRow(ctx, `SELECT audit_id FROM action_claims WHERE installation_id = ? AND idem_key = ?`, a.InstallationID, a.IdemKey).Scan(&held); err != nil {
				return err
			}
			existing, err = scanActionAudit(tx.QueryRow(ctx, `SELECT `+actionAuditCols+` FROM action_audit WHERE id = ?`, held))
			return err
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO action_audit (id, merchant_id, installation_id, ticket_id, customer_email, agent, action, arguments, idem_key, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			id, a.MerchantID, a.InstallationID, a.TicketID, a.CustomerEmail, a.Agent, a.Action, string(args), a.IdemKey, string(domain.ActionPending), s.b.TimeArg(now))
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("error claiming action: %w", err)
	}
	if existing != nil {
		return existing, false, nil
	}
	a.ID, a.CreatedAt, a.Status = id, now, domain.ActionPending
	return nil, true, nil
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// FinishAction implements domain.Store.
func (s *Store) FinishAction(ctx context.Context, a *domain.ActionAudit) error {
	now := s.ts()
	var n int64
	err := s.b.Write(ctx, func(tx Tx) error {
		var err error
		n, err = tx.Exec(ctx, `UPDATE action_audit SET status = ?, request = ?, result = ?, message = ?, http_status = ?, finished_at = ? WHERE id = ? AND merchant_id = ?`,
			string(a.Status), string(a.Request), string(a.Result), a.Message, a.HTTPStatus, s.b.TimeArg(now), a.ID, a.MerchantID)
		if err != nil || n == 0 || !a.ReleaseKey {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM action_claims WHERE installation_id = ? AND idem_key = ? AND audit_id = ?`, a.InstallationID, a.IdemKey, a.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("error finishing action: %w", err)
	}
	if n == 0 {
		return notFound("action", a.ID)
	}
	a.FinishedAt = &now
	return nil
}

// ListActionAudits implements domain.Store.
func (s *Store) ListActionAudits(ctx context.Context, f domain.ActionAuditFilter) ([]*domain.ActionAudit, error) {
	if f.MerchantID == "" {
		return nil, errNoMerchant("action audit rows")
	}
	var w where
	w.eq("merchant_id", f.MerchantID)
	w.eq("installation_id", f.InstallationID)
	w.eq("ticket_id", f.TicketID)
	w.eq("customer_email", f.CustomerEmail)
	q := `SELECT ` + actionAuditCols + ` FROM action_audit` + w.sql() + fmt.Sprintf(" ORDER BY created_at DESC, id DESC LIMIT %d", limitOf(f.Limit))
	rows, err := s.b.Read().Query(ctx, q, w.args...)
	if err != nil {
		return nil, fmt.Errorf("error listing action audit rows: %w", err)
	}
	defer rows.Close()
	var out []*domain.ActionAudit
	for rows.Next() {
		a, err := scanActionAudit(rows)
		if err != nil {
			return nil, fmt.Errorf("error scanning action audit row: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
