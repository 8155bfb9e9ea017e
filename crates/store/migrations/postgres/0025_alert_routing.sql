-- Alert routing (MON-4): an alert is sent to the on-call webhook until the destination accepts it; `routed_at`
-- records when it did. The router reads only what is still unrouted, oldest first.
ALTER TABLE alerts ADD COLUMN routed_at timestamptz;
CREATE INDEX alerts_unrouted ON alerts (created_at) WHERE routed_at IS NULL;
