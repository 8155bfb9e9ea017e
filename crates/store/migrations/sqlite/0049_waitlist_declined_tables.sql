-- The tables a waiting party turned down: see the PostgreSQL migration of the same number.
ALTER TABLE waitlist_entries ADD COLUMN declined_tables TEXT NOT NULL DEFAULT '[]';
