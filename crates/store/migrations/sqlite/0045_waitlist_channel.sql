-- Who put the party on the waitlist: see the PostgreSQL migration of the same number.
ALTER TABLE waitlist_entries ADD COLUMN channel TEXT NOT NULL DEFAULT 'online'
    CHECK (channel IN ('online', 'staff'));
