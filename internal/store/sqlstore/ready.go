package sqlstore

import (
	"context"
	"strings"

	"github.com/pressly/goose/v3"

	"switchyard/internal/domain"
)

// RiverValidator is the part of River's migrator that Ready needs.
type RiverValidator func(ctx context.Context) (ok bool, messages []string, err error)

// CheckReady is the readiness check both backends share: the database
// answers, no schema migration is pending, River's migrations are complete.
func CheckReady(ctx context.Context, ping func(context.Context) error, schema *goose.Provider, river RiverValidator) error {
	if err := ping(ctx); err != nil {
		return domain.WrapError(domain.EUNAVAILABLE, "database unreachable", err)
	}
	pending, err := schema.HasPending(ctx)
	if err != nil {
		return domain.WrapError(domain.EUNAVAILABLE, "cannot read schema version", err)
	}
	if pending {
		return domain.Errorf(domain.EUNAVAILABLE, "schema migrations pending (run switchyard migrate)")
	}
	ok, msgs, err := river(ctx)
	if err != nil {
		return domain.WrapError(domain.EUNAVAILABLE, "cannot read river migrations", err)
	}
	if !ok {
		return domain.Errorf(domain.EUNAVAILABLE, "river migrations pending: %s", strings.Join(msgs, "; "))
	}
	return nil
}

// where accumulates AND-ed conditions of a list query.
type where struct {
	conds []string
	args  []any
}

// eq adds "col = ?" when v is not its zero value.
func (w *where) eq(col string, v any) {
	switch x := v.(type) {
	case string:
		if x == "" {
			return
		}
	case int64:
		if x == 0 {
			return
		}
	}
	w.conds = append(w.conds, col+" = ?")
	w.args = append(w.args, v)
}

func (w *where) raw(cond string) { w.conds = append(w.conds, cond) }

// before adds "id < ?" when id is set (keyset paging, newest first).
func (w *where) before(id int64) {
	if id > 0 {
		w.conds = append(w.conds, "id < ?")
		w.args = append(w.args, id)
	}
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}
