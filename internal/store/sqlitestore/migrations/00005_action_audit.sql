-- +goose Up
CREATE TABLE action_audit (
    id              TEXT PRIMARY KEY,
    merchant_id     TEXT NOT NULL,
    installation_id TEXT NOT NULL,
    ticket_id       TEXT NOT NULL DEFAULT '',
    customer_email  TEXT NOT NULL DEFAULT '',
    agent           TEXT NOT NULL DEFAULT '',
    action          TEXT NOT NULL,
    arguments       TEXT NOT NULL DEFAULT '{}',
    idem_key        TEXT NOT NULL,
    status          TEXT NOT NULL,
    request         TEXT NOT NULL DEFAULT '',
    result          TEXT NOT NULL DEFAULT '',
    message         TEXT NOT NULL DEFAULT '',
    http_status     INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    finished_at     INTEGER
);
CREATE INDEX action_audit_installation ON action_audit (merchant_id, installation_id, created_at);
CREATE INDEX action_audit_ticket ON action_audit (merchant_id, ticket_id, created_at);
CREATE INDEX action_audit_customer ON action_audit (merchant_id, customer_email, created_at);

-- One row per (installation, idempotency key): the action that holds the
-- key until expires_at. A retried delivery inside the window finds it.
CREATE TABLE action_claims (
    installation_id TEXT NOT NULL,
    idem_key        TEXT NOT NULL,
    audit_id        TEXT NOT NULL,
    expires_at      INTEGER NOT NULL,
    PRIMARY KEY (installation_id, idem_key)
);

-- +goose Down
DROP TABLE action_claims;
DROP TABLE action_audit;
