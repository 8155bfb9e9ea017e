-- Each venue's business-day start: see the PostgreSQL migration of the same number.
ALTER TABLE venues ADD COLUMN day_start_hour INTEGER NOT NULL DEFAULT 5 CHECK (day_start_hour BETWEEN 0 AND 11);
