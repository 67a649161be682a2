-- +goose Up
CREATE TABLE orders (
    installation_id   TEXT NOT NULL REFERENCES installations (id),
    store_id          TEXT NOT NULL,
    order_id          TEXT NOT NULL,
    merchant_id       TEXT NOT NULL REFERENCES merchants (id),
    customer_email    TEXT NOT NULL,
    status            INTEGER NOT NULL,
    source_updated_at INTEGER NOT NULL,
    data              TEXT NOT NULL,
    updated_at        INTEGER NOT NULL,
    PRIMARY KEY (installation_id, store_id, order_id)
);
CREATE INDEX orders_customer ON orders (installation_id, customer_email);

CREATE TABLE syncs (
    installation_id TEXT NOT NULL REFERENCES installations (id),
    kind            TEXT NOT NULL,
    key             TEXT NOT NULL,
    merchant_id     TEXT NOT NULL REFERENCES merchants (id),
    dirty_seq       INTEGER NOT NULL DEFAULT 0,
    synced_seq      INTEGER NOT NULL DEFAULT 0,
    state           TEXT NOT NULL DEFAULT '{}',
    synced_at       INTEGER,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (installation_id, kind, key)
);

-- +goose Down
DROP TABLE syncs;
DROP TABLE orders;
