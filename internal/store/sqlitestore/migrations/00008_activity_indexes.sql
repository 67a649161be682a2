-- +goose Up
-- The admin UI's overview counts events and deliveries per minute over the
-- last hour (Store.Activity): a range over these columns.
CREATE INDEX inbound_events_received ON inbound_events (received_at);
CREATE INDEX deliveries_created ON deliveries (created_at);

-- +goose Down
DROP INDEX deliveries_created;
DROP INDEX inbound_events_received;
