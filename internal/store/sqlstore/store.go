package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"switchyard/internal/domain"
)

// Store implements domain.Store over a Backend.
type Store struct {
	b      Backend
	sealer Sealer
	now    func() time.Time

	pending pendingJobs // unique jobs enqueued by ingest (see enqueueTx)
}

var _ domain.Store = (*Store)(nil)

// New returns a Store. now may be nil (time.Now).
func New(b Backend, sealer Sealer, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{b: b, sealer: sealer, now: now}
}

// Backend returns the underlying backend.
func (s *Store) Backend() Backend { return s.b }

func (s *Store) ts() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

func notFound(what string, id any) error {
	return domain.Errorf(domain.ENOTFOUND, "%s %v not found", what, id)
}

// errNoMerchant refuses an unscoped list: every read of merchant-owned rows
// names the merchant, so no caller can forget the scope.
func errNoMerchant(what string) error {
	return domain.Errorf(domain.EINVALID, "listing %s needs a merchant id", what)
}

func marshalMap(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func unmarshalMap(b []byte) (map[string]string, error) {
	m := map[string]string{}
	if len(b) == 0 {
		return m, nil
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("error decoding JSON column: %w", err)
	}
	return m, nil
}

// isUniqueViolation recognises unique-constraint errors of both databases.
func isUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "SQLSTATE 23505") || strings.Contains(msg, "duplicate key value")
}

// ---- merchants

func (s *Store) CreateMerchant(ctx context.Context, m *domain.Merchant) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if m.ID == "" {
		m.ID = domain.NewID("mer")
	}
	m.CreatedAt = s.ts()
	err := s.b.Write(ctx, func(tx Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO merchants (id, name, created_at) VALUES (?, ?, ?)`, m.ID, m.Name, s.b.TimeArg(m.CreatedAt))
		return err
	})
	if isUniqueViolation(err) {
		return domain.Errorf(domain.ECONFLICT, "merchant %s already exists", m.ID)
	}
	if err != nil {
		return fmt.Errorf("error creating merchant: %w", err)
	}
	return nil
}

func (s *Store) GetMerchant(ctx context.Context, id string) (*domain.Merchant, error) {
	var m domain.Merchant
	var created Timestamp
	err := s.b.Read().QueryRow(ctx, `SELECT id, name, created_at FROM merchants WHERE id = ?`, id).Scan(&m.ID, &m.Name, &created)
	if errors.Is(err, ErrNoRows) {
		return nil, notFound("merchant", id)
	}
	if err != nil {
		return nil, fmt.Errorf("error reading merchant: %w", err)
	}
	m.CreatedAt = created.Time
	return &m, nil
}

func (s *Store) ListMerchants(ctx context.Context) ([]*domain.Merchant, error) {
	rows, err := s.b.Read().Query(ctx, `SELECT id, name, created_at FROM merchants ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("error listing merchants: %w", err)
	}
	defer rows.Close()
	var out []*domain.Merchant
	for rows.Next() {
		var m domain.Merchant
		var created Timestamp
		if err := rows.Scan(&m.ID, &m.Name, &created); err != nil {
			return nil, fmt.Errorf("error scanning merchant: %w", err)
		}
		m.CreatedAt = created.Time
		out = append(out, &m)
	}
	return out, rows.Err()
}

// ---- connections

const connectionCols = `id, merchant_id, vendor, account, config, secrets, created_at, updated_at`

func (s *Store) sealSecrets(sec domain.Secrets) ([]byte, error) {
	if len(sec) == 0 {
		return nil, nil
	}
	plain, err := json.Marshal(map[string]string(sec))
	if err != nil {
		return nil, fmt.Errorf("error encoding secrets: %w", err)
	}
	if s.sealer == nil {
		return nil, errors.New("no secret key configured: cannot store connection secrets")
	}
	return s.sealer.Seal(plain)
}

func (s *Store) scanConnection(r Row) (*domain.Connection, error) {
	var c domain.Connection
	var cfg, sealed []byte
	var created, updated Timestamp
	if err := r.Scan(&c.ID, &c.MerchantID, &c.Vendor, &c.Account, &cfg, &sealed, &created, &updated); err != nil {
		return nil, err
	}
	var err error
	if c.Config, err = unmarshalMap(cfg); err != nil {
		return nil, err
	}
	c.Secrets = domain.Secrets{}
	if len(sealed) > 0 {
		if s.sealer == nil {
			return nil, errors.New("no secret key configured: cannot read connection secrets")
		}
		plain, err := s.sealer.Open(sealed)
		if err != nil {
			return nil, fmt.Errorf("error decrypting secrets of connection %s (wrong secret key?): %w", c.ID, err)
		}
		if err := json.Unmarshal(plain, &c.Secrets); err != nil {
			return nil, fmt.Errorf("error decoding secrets of connection %s: %w", c.ID, err)
		}
	}
	c.CreatedAt, c.UpdatedAt = created.Time, updated.Time
	return &c, nil
}

func (s *Store) CreateConnection(ctx context.Context, c *domain.Connection) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if c.ID == "" {
		c.ID = domain.NewID("con")
	}
	sealed, err := s.sealSecrets(c.Secrets)
	if err != nil {
		return err
	}
	c.CreatedAt = s.ts()
	c.UpdatedAt = c.CreatedAt
	err = s.b.Write(ctx, func(tx Tx) error {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM merchants WHERE id = ?`, c.MerchantID).Scan(&one); err != nil {
			if errors.Is(err, ErrNoRows) {
				return notFound("merchant", c.MerchantID)
			}
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO connections (`+connectionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			c.ID, c.MerchantID, c.Vendor, c.Account, marshalMap(c.Config), sealed, s.b.TimeArg(c.CreatedAt), s.b.TimeArg(c.UpdatedAt))
		return err
	})
	if isUniqueViolation(err) {
		return domain.Errorf(domain.ECONFLICT, "connection %s already exists", c.ID)
	}
	if err != nil && domain.ErrorCode(err) == domain.EINTERNAL {
		return fmt.Errorf("error creating connection: %w", err)
	}
	return err
}

func (s *Store) GetConnection(ctx context.Context, merchantID, id string) (*domain.Connection, error) {
	c, err := s.scanConnection(s.b.Read().QueryRow(ctx, `SELECT `+connectionCols+` FROM connections WHERE id = ? AND merchant_id = ?`, id, merchantID))
	if errors.Is(err, ErrNoRows) {
		return nil, notFound("connection", id)
	}
	if err != nil {
		return nil, fmt.Errorf("error reading connection: %w", err)
	}
	return c, nil
}

func (s *Store) UpdateConnection(ctx context.Context, c *domain.Connection) error {
	if err := c.Validate(); err != nil {
		return err
	}
	sealed, err := s.sealSecrets(c.Secrets)
	if err != nil {
		return err
	}
	c.UpdatedAt = s.ts()
	var n int64
	err = s.b.Write(ctx, func(tx Tx) error {
		var err error
		n, err = tx.Exec(ctx, `UPDATE connections SET account = ?, config = ?, secrets = ?, updated_at = ? WHERE id = ? AND merchant_id = ?`,
			c.Account, marshalMap(c.Config), sealed, s.b.TimeArg(c.UpdatedAt), c.ID, c.MerchantID)
		return err
	})
	if err != nil {
		return fmt.Errorf("error updating connection: %w", err)
	}
	if n == 0 {
		return notFound("connection", c.ID)
	}
	return nil
}

func (s *Store) ListConnections(ctx context.Context, merchantID string) ([]*domain.Connection, error) {
	rows, err := s.b.Read().Query(ctx, `SELECT `+connectionCols+` FROM connections WHERE merchant_id = ? ORDER BY created_at, id`, merchantID)
	if err != nil {
		return nil, fmt.Errorf("error listing connections: %w", err)
	}
	defer rows.Close()
	var out []*domain.Connection
	for rows.Next() {
		c, err := s.scanConnection(rows)
		if err != nil {
			return nil, fmt.Errorf("error scanning connection: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// ---- installations

const installationCols = `id, merchant_id, connector, state, state_reason, connections, settings, remote_ids, created_at, updated_at`

func scanInstallation(r Row) (*domain.Installation, error) {
	var in domain.Installation
	var conns, settings, remote []byte
	var state string
	var created, updated Timestamp
	if err := r.Scan(&in.ID, &in.MerchantID, &in.Connector, &state, &in.StateReason, &conns, &settings, &remote, &created, &updated); err != nil {
		return nil, err
	}
	in.State = domain.InstallationState(state)
	var err error
	if in.Connections, err = unmarshalMap(conns); err != nil {
		return nil, err
	}
	if in.Settings, err = unmarshalMap(settings); err != nil {
		return nil, err
	}
	if in.RemoteIDs, err = unmarshalMap(remote); err != nil {
		return nil, err
	}
	in.CreatedAt, in.UpdatedAt = created.Time, updated.Time
	return &in, nil
}

// checkInstallationConnections verifies, inside tx, that every linked
// connection exists, belongs to the installation's merchant and has the
// vendor of its role (tenancy: no installation links another merchant's
// account).
func checkInstallationConnections(ctx context.Context, tx Tx, in *domain.Installation) error {
	for role, id := range in.Connections {
		var vendor string
		err := tx.QueryRow(ctx, `SELECT vendor FROM connections WHERE id = ? AND merchant_id = ?`, id, in.MerchantID).Scan(&vendor)
		if errors.Is(err, ErrNoRows) {
			return domain.Errorf(domain.EINVALID, "connection %s (%s) not found for merchant %s", id, role, in.MerchantID)
		}
		if err != nil {
			return err
		}
		if vendor != role {
			return domain.Errorf(domain.EINVALID, "connection %s is a %s connection, not %s", id, vendor, role)
		}
	}
	return nil
}

func (s *Store) CreateInstallation(ctx context.Context, in *domain.Installation) error {
	if err := in.Validate(); err != nil {
		return err
	}
	if in.ID == "" {
		in.ID = domain.NewID("ins")
	}
	in.CreatedAt = s.ts()
	in.UpdatedAt = in.CreatedAt
	err := s.b.Write(ctx, func(tx Tx) error {
		if err := checkInstallationConnections(ctx, tx, in); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO installations (`+installationCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			in.ID, in.MerchantID, in.Connector, string(in.State), in.StateReason, marshalMap(in.Connections), marshalMap(in.Settings), marshalMap(in.RemoteIDs),
			s.b.TimeArg(in.CreatedAt), s.b.TimeArg(in.UpdatedAt))
		return err
	})
	if isUniqueViolation(err) {
		return domain.Errorf(domain.ECONFLICT, "installation %s already exists", in.ID)
	}
	if err != nil && domain.ErrorCode(err) == domain.EINTERNAL {
		return fmt.Errorf("error creating installation: %w", err)
	}
	return err
}

func (s *Store) GetInstallation(ctx context.Context, merchantID, id string) (*domain.Installation, error) {
	return s.findInstallation(ctx, `SELECT `+installationCols+` FROM installations WHERE id = ? AND merchant_id = ?`, id, merchantID)
}

func (s *Store) LookupInstallation(ctx context.Context, id string) (*domain.Installation, error) {
	return s.findInstallation(ctx, `SELECT `+installationCols+` FROM installations WHERE id = ?`, id)
}

func (s *Store) findInstallation(ctx context.Context, q string, id string, args ...any) (*domain.Installation, error) {
	in, err := scanInstallation(s.b.Read().QueryRow(ctx, q, append([]any{id}, args...)...))
	if errors.Is(err, ErrNoRows) {
		return nil, notFound("installation", id)
	}
	if err != nil {
		return nil, fmt.Errorf("error reading installation: %w", err)
	}
	return in, nil
}

func (s *Store) UpdateInstallation(ctx context.Context, in *domain.Installation) error {
	if err := in.Validate(); err != nil {
		return err
	}
	in.UpdatedAt = s.ts()
	var n int64
	err := s.b.Write(ctx, func(tx Tx) error {
		if err := checkInstallationConnections(ctx, tx, in); err != nil {
			return err
		}
		var err error
		n, err = tx.Exec(ctx, `UPDATE installations SET state = ?, state_reason = ?, connections = ?, settings = ?, remote_ids = ?, updated_at = ? WHERE id = ? AND merchant_id = ?`,
			string(in.State), in.StateReason, marshalMap(in.Connections), marshalMap(in.Settings), marshalMap(in.RemoteIDs), s.b.TimeArg(in.UpdatedAt), in.ID, in.MerchantID)
		return err
	})
	if err != nil {
		if domain.ErrorCode(err) != domain.EINTERNAL {
			return err
		}
		return fmt.Errorf("error updating installation: %w", err)
	}
	if n == 0 {
		return notFound("installation", in.ID)
	}
	return nil
}

func (s *Store) DegradeInstallation(ctx context.Context, merchantID, id, reason string) (bool, error) {
	var n int64
	err := s.b.Write(ctx, func(tx Tx) error {
		var err error
		n, err = tx.Exec(ctx, `UPDATE installations SET state = ?, state_reason = ?, updated_at = ? WHERE id = ? AND merchant_id = ? AND state IN (?, ?)`,
			string(domain.InstallationDegraded), reason, s.b.TimeArg(s.ts()), id, merchantID, string(domain.InstallationActive), string(domain.InstallationDegraded))
		return err
	})
	if err != nil {
		return false, fmt.Errorf("error degrading installation: %w", err)
	}
	return n > 0, nil
}

func (s *Store) ListInstallations(ctx context.Context, merchantID string) ([]*domain.Installation, error) {
	q := `SELECT ` + installationCols + ` FROM installations`
	var args []any
	if merchantID != "" {
		q += ` WHERE merchant_id = ?`
		args = append(args, merchantID)
	}
	rows, err := s.b.Read().Query(ctx, q+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("error listing installations: %w", err)
	}
	defer rows.Close()
	var out []*domain.Installation
	for rows.Next() {
		in, err := scanInstallation(rows)
		if err != nil {
			return nil, fmt.Errorf("error scanning installation: %w", err)
		}
		out = append(out, in)
	}
	return out, rows.Err()
}
