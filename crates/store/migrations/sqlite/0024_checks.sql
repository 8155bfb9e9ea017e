-- Checks and the summary's covering indexes: see the PostgreSQL migration of the same number (SQLite has no
-- INCLUDE; the carried columns are trailing key columns, which SQLite reads from the index alone).
ALTER TABLE table_sessions ADD COLUMN check_orders INTEGER;
ALTER TABLE table_sessions ADD COLUMN check_gross INTEGER;
CREATE INDEX table_sessions_closed
    ON table_sessions (partner_id, venue_id, closed_at, accepted_at, check_orders, check_gross);
CREATE INDEX payments_by_venue ON payments (partner_id, venue_id, created_at, status);
