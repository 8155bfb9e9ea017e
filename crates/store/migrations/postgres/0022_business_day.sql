-- Each venue chooses where its business day starts (docs/analytics.md, "Business day"): the local hour, 0 to 11,
-- before which a sale counts on the day before. Existing venues keep the 05:00 every report used until now.
ALTER TABLE venues ADD COLUMN day_start_hour integer NOT NULL DEFAULT 5 CHECK (day_start_hour BETWEEN 0 AND 11);
-- Table turnover reads the turns (sessions seated and paid) a venue closed in a range (docs/analytics.md,
-- "Table turnover"): a few thousand rows a venue-year, found by this index instead of a scan.
CREATE INDEX table_sessions_closed ON table_sessions (partner_id, venue_id, closed_at);
