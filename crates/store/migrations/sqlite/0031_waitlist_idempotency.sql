-- A waitlist entry remembers its Idempotency-Key: see the PostgreSQL migration of the same number.
ALTER TABLE waitlist_entries ADD COLUMN idempotency_key TEXT;
ALTER TABLE waitlist_entries ADD COLUMN request_hash BLOB;
CREATE UNIQUE INDEX waitlist_entries_idempotency ON waitlist_entries (partner_id, venue_id, idempotency_key);
