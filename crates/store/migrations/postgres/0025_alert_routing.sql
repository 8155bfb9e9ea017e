-- Alert routing (MON-4): an alert is sent to the on-call webhook until the destination accepts it; `routed_at`
-- records when it did, `routing_abandoned_at` when the router gave up on it (a day old and never accepted). The
-- router reads only what is still pending, oldest first.
ALTER TABLE alerts ADD COLUMN routed_at timestamptz;
ALTER TABLE alerts ADD COLUMN routing_abandoned_at timestamptz;
CREATE INDEX alerts_unrouted ON alerts (created_at) WHERE routed_at IS NULL AND routing_abandoned_at IS NULL;
