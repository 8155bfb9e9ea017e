-- Alert routing: see the PostgreSQL migration of the same number.
ALTER TABLE alerts ADD COLUMN routed_at TEXT;
CREATE INDEX alerts_unrouted ON alerts (created_at) WHERE routed_at IS NULL;
