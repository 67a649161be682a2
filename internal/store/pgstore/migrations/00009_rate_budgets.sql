-- +goose Up
-- Outbound rate budgets shared by every replica on this database and kept
-- across restarts (domain.RateBudget, outbound.SharedLimiter): one GCRA row
-- per budget key, charged with one atomic upsert per call. Times are Unix
-- nanoseconds (0: never).
CREATE TABLE rate_budgets (
    budget_key   TEXT PRIMARY KEY,
    tat          BIGINT NOT NULL,
    paused_until BIGINT NOT NULL DEFAULT 0,
    updated_at   BIGINT NOT NULL
);

-- +goose Down
DROP TABLE rate_budgets;
