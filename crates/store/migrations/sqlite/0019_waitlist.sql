-- The waitlist (issue 18): see the PostgreSQL migration of the same number.
CREATE TABLE waitlist_entries (
    partner_id       TEXT NOT NULL,
    id               TEXT NOT NULL,
    venue_id         TEXT NOT NULL,
    guest_id         TEXT NOT NULL,
    party_size       INTEGER NOT NULL CHECK (party_size BETWEEN 1 AND 100),
    local_date       TEXT NOT NULL,
    earliest_at      TEXT NOT NULL,
    latest_at        TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('waiting', 'offered', 'booked', 'expired', 'left')),
    reservation_id   TEXT,
    offer_expires_at TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    PRIMARY KEY (partner_id, id),
    FOREIGN KEY (partner_id, venue_id) REFERENCES venues (partner_id, id),
    FOREIGN KEY (partner_id, guest_id) REFERENCES guest_contacts (partner_id, id)
) STRICT;
CREATE INDEX waitlist_in_order ON waitlist_entries (partner_id, venue_id, status, created_at);
