-- +goose Up
-- The admin UI's overview counts events and deliveries per minute over the
-- last hour (Store.Activity): range scans that these indexes cover (the
-- merchant and class are in them, so no table row is read). Events are
-- listed newest first per merchant (ListEvents, the UI's pages).
CREATE INDEX inbound_events_received ON inbound_events (received_at, merchant_id);
CREATE INDEX deliveries_created ON deliveries (created_at, merchant_id, class);
CREATE INDEX inbound_events_merchant_id ON inbound_events (merchant_id, id);

-- +goose Down
DROP INDEX inbound_events_merchant_id;
DROP INDEX deliveries_created;
DROP INDEX inbound_events_received;
