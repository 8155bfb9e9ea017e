-- A waitlist entry remembers the Idempotency-Key the guest's page sent and a digest of what was asked, so a
-- double-tapped or retried join is the same place in the queue, not a second one (API.md). Per venue, as bookings.
ALTER TABLE waitlist_entries ADD COLUMN idempotency_key text;
ALTER TABLE waitlist_entries ADD COLUMN request_hash bytea;
CREATE UNIQUE INDEX waitlist_entries_idempotency ON waitlist_entries (partner_id, venue_id, idempotency_key);
