-- +goose Up
-- Why an installation is degraded (or why its install failed): shown in the API.
ALTER TABLE installations ADD COLUMN state_reason TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE installations DROP COLUMN state_reason;
