-- Alert routing: see the PostgreSQL migration of the same number.
ALTER TABLE alerts ADD COLUMN routed_at TEXT;
ALTER TABLE alerts ADD COLUMN routing_abandoned_at TEXT;
CREATE INDEX alerts_unrouted ON alerts (created_at) WHERE routed_at IS NULL AND routing_abandoned_at IS NULL;
