-- Checks (docs/analytics.md, "Checks"): a closed table keeps its check — how many of its orders counted and their
-- gross — written by the closing transaction, when every order of it is served or cancelled for good, so a report
-- counts checks and the average ticket from the sessions it already reads for turnover. Tables closed before this
-- migration have none (NULL) and are left out of checks.
ALTER TABLE table_sessions ADD COLUMN check_orders bigint;
ALTER TABLE table_sessions ADD COLUMN check_gross bigint;
-- The payment success rate reads the payments a venue started in a range (docs/analytics.md).
CREATE INDEX payments_by_venue ON payments (partner_id, venue_id, created_at);
