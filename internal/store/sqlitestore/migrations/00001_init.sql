-- +goose Up
CREATE TABLE merchants (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE connections (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    vendor      TEXT NOT NULL,
    account     TEXT NOT NULL,
    config      TEXT NOT NULL DEFAULT '{}',
    secrets     BLOB,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX connections_merchant ON connections (merchant_id);

CREATE TABLE installations (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    connector   TEXT NOT NULL,
    state       TEXT NOT NULL,
    connections TEXT NOT NULL DEFAULT '{}',
    settings    TEXT NOT NULL DEFAULT '{}',
    remote_ids  TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX installations_merchant ON installations (merchant_id);

CREATE TABLE inbound_events (
    id              INTEGER PRIMARY KEY,
    merchant_id     TEXT NOT NULL REFERENCES merchants (id),
    installation_id TEXT NOT NULL REFERENCES installations (id),
    vendor          TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    dedup_key       TEXT NOT NULL,
    customer_email  TEXT NOT NULL DEFAULT '',
    payload         BLOB NOT NULL,
    received_at     INTEGER NOT NULL,
    processed_at    INTEGER,
    UNIQUE (installation_id, dedup_key)
);
CREATE INDEX inbound_events_customer ON inbound_events (merchant_id, customer_email);

CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY,
    merchant_id     TEXT NOT NULL DEFAULT '',
    installation_id TEXT NOT NULL DEFAULT '',
    vendor          TEXT NOT NULL,
    account         TEXT NOT NULL DEFAULT '',
    method          TEXT NOT NULL,
    endpoint        TEXT NOT NULL,
    status          INTEGER NOT NULL,
    latency_us      INTEGER NOT NULL,
    class           TEXT NOT NULL,
    error           TEXT NOT NULL DEFAULT '',
    job_id          INTEGER NOT NULL DEFAULT 0,
    event_id        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL
);
CREATE INDEX deliveries_merchant ON deliveries (merchant_id, id);
CREATE INDEX deliveries_event ON deliveries (event_id);

CREATE TABLE dead_letters (
    id              INTEGER PRIMARY KEY,
    merchant_id     TEXT NOT NULL DEFAULT '',
    installation_id TEXT NOT NULL DEFAULT '',
    event_id        INTEGER NOT NULL DEFAULT 0,
    job_kind        TEXT NOT NULL,
    job_args        TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    class           TEXT NOT NULL,
    error           TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    replayed_at     INTEGER
);
CREATE INDEX dead_letters_merchant ON dead_letters (merchant_id, id);

-- +goose Down
DROP TABLE dead_letters;
DROP TABLE deliveries;
DROP TABLE inbound_events;
DROP TABLE installations;
DROP TABLE connections;
DROP TABLE merchants;
