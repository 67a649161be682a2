-- +goose Up
CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    name        TEXT NOT NULL DEFAULT '',
    token_hash  BLOB NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);
CREATE INDEX api_tokens_merchant ON api_tokens (merchant_id);

-- +goose Down
DROP TABLE api_tokens;
