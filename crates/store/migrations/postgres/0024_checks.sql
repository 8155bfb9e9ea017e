-- Checks (docs/analytics.md, "Checks"): a closed table keeps its check — how many of its orders counted and their
-- gross — written by the closing transaction, when every order of it is served or cancelled for good. Tables closed
-- before this migration have none (NULL) and are left out of checks.
ALTER TABLE table_sessions ADD COLUMN check_orders bigint;
ALTER TABLE table_sessions ADD COLUMN check_gross bigint;
-- The summary reads a venue's closed tables (turnover and checks) and the payments it started (the success rate)
-- over its range: tens of thousands of rows a venue-year, so each index carries every column the read needs and the
-- read never visits the table (an index-only scan once the visibility map is set).
CREATE INDEX table_sessions_closed ON table_sessions (partner_id, venue_id, closed_at)
    INCLUDE (accepted_at, check_orders, check_gross);
CREATE INDEX payments_by_venue ON payments (partner_id, venue_id, created_at) INCLUDE (status);
