-- Each venue's business-day start and the turnover index: see the PostgreSQL migration of the same number.
ALTER TABLE venues ADD COLUMN day_start_hour INTEGER NOT NULL DEFAULT 5 CHECK (day_start_hour BETWEEN 0 AND 11);
CREATE INDEX table_sessions_closed ON table_sessions (partner_id, venue_id, closed_at);
