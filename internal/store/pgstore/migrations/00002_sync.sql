-- +goose Up
CREATE TABLE orders (
    installation_id   TEXT NOT NULL REFERENCES installations (id),
    store_id          TEXT NOT NULL,
    order_id          TEXT NOT NULL,
    merchant_id       TEXT NOT NULL REFERENCES merchants (id),
    customer_email    TEXT NOT NULL,
    status            INTEGER NOT NULL,
    source_updated_at TIMESTAMPTZ NOT NULL,
    data              JSONB NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (installation_id, store_id, order_id)
);
CREATE INDEX orders_customer ON orders (installation_id, customer_email);

CREATE TABLE syncs (
    installation_id TEXT NOT NULL REFERENCES installations (id),
    kind            TEXT NOT NULL,
    key             TEXT NOT NULL,
    merchant_id     TEXT NOT NULL REFERENCES merchants (id),
    dirty_seq       BIGINT NOT NULL DEFAULT 0,
    synced_seq      BIGINT NOT NULL DEFAULT 0,
    state           JSONB NOT NULL DEFAULT '{}',
    synced_at       TIMESTAMPTZ,
    updated_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (installation_id, kind, key)
);

-- +goose Down
DROP TABLE syncs;
DROP TABLE orders;
