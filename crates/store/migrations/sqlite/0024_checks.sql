-- Checks and the payments' venue index: see the PostgreSQL migration of the same number.
ALTER TABLE table_sessions ADD COLUMN check_orders INTEGER;
ALTER TABLE table_sessions ADD COLUMN check_gross INTEGER;
CREATE INDEX payments_by_venue ON payments (partner_id, venue_id, created_at);
