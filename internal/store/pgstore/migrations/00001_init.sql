-- +goose Up
CREATE TABLE merchants (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE connections (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    vendor      TEXT NOT NULL,
    account     TEXT NOT NULL,
    config      JSONB NOT NULL DEFAULT '{}',
    secrets     BYTEA,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX connections_merchant ON connections (merchant_id);

CREATE TABLE installations (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    connector   TEXT NOT NULL,
    state       TEXT NOT NULL,
    connections JSONB NOT NULL DEFAULT '{}',
    settings    JSONB NOT NULL DEFAULT '{}',
    remote_ids  JSONB NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX installations_merchant ON installations (merchant_id);

CREATE TABLE inbound_events (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id     TEXT NOT NULL REFERENCES merchants (id),
    installation_id TEXT NOT NULL REFERENCES installations (id),
    vendor          TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    dedup_key       TEXT NOT NULL,
    customer_email  TEXT NOT NULL DEFAULT '',
    payload         BYTEA NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    processed_at TIMESTAMPTZ,
    UNIQUE (installation_id, dedup_key)
);
CREATE INDEX inbound_events_customer ON inbound_events (merchant_id, customer_email);

CREATE TABLE deliveries (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id     TEXT NOT NULL DEFAULT '',
    installation_id TEXT NOT NULL DEFAULT '',
    vendor          TEXT NOT NULL,
    account         TEXT NOT NULL DEFAULT '',
    method          TEXT NOT NULL,
    endpoint        TEXT NOT NULL,
    status          INTEGER NOT NULL,
    latency_us      BIGINT NOT NULL,
    class           TEXT NOT NULL,
    error           TEXT NOT NULL DEFAULT '',
    job_id BIGINT NOT NULL DEFAULT 0,
    event_id BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX deliveries_merchant ON deliveries (merchant_id, id);
CREATE INDEX deliveries_event ON deliveries (event_id);

CREATE TABLE dead_letters (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id     TEXT NOT NULL DEFAULT '',
    installation_id TEXT NOT NULL DEFAULT '',
    event_id BIGINT NOT NULL DEFAULT 0,
    job_kind        TEXT NOT NULL,
    job_args        JSONB NOT NULL,
    attempts        INTEGER NOT NULL,
    class           TEXT NOT NULL,
    error           TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    replayed_at TIMESTAMPTZ
);
CREATE INDEX dead_letters_merchant ON dead_letters (merchant_id, id);

-- +goose Down
DROP TABLE dead_letters;
DROP TABLE deliveries;
DROP TABLE inbound_events;
DROP TABLE installations;
DROP TABLE connections;
DROP TABLE merchants;
