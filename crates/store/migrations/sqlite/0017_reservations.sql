-- Reservations (issue 18): see the PostgreSQL migration of the same number. Claim rows under a unique key refuse
-- two bookings of one table at the same time, with the same statements on both engines.
ALTER TABLE venue_tables ADD COLUMN min_party INTEGER NOT NULL DEFAULT 1 CHECK (min_party BETWEEN 1 AND 100);
ALTER TABLE venue_tables ADD COLUMN bookable_online INTEGER NOT NULL DEFAULT 1;
-- A reservation's guest is a guest contact: name, email and phone sealed under the guest's own key (PRIV-1).
ALTER TABLE guest_contacts ADD COLUMN phone TEXT;

CREATE TABLE booking_policies (
    partner_id TEXT NOT NULL,
    venue_id   TEXT NOT NULL,
    policy     TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (partner_id, venue_id),
    FOREIGN KEY (partner_id, venue_id) REFERENCES venues (partner_id, id)
) STRICT;

CREATE TABLE table_combinations (
    partner_id TEXT NOT NULL,
    venue_id   TEXT NOT NULL,
    id         TEXT NOT NULL,
    tables     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (partner_id, id),
    FOREIGN KEY (partner_id, venue_id) REFERENCES venues (partner_id, id)
) STRICT;

CREATE TABLE reservations (
    partner_id      TEXT NOT NULL,
    id              TEXT NOT NULL,
    venue_id        TEXT NOT NULL,
    guest_id        TEXT NOT NULL,
    party_size      INTEGER NOT NULL CHECK (party_size BETWEEN 1 AND 100),
    start_at        TEXT NOT NULL,
    until_at        TEXT NOT NULL,
    status          TEXT NOT NULL,
    channel         TEXT NOT NULL,
    tables          TEXT NOT NULL,
    note            TEXT NOT NULL DEFAULT '',
    idempotency_key TEXT,
    request_hash    BLOB,
    session_id      TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (partner_id, id),
    UNIQUE (partner_id, venue_id, idempotency_key),
    FOREIGN KEY (partner_id, venue_id) REFERENCES venues (partner_id, id),
    FOREIGN KEY (partner_id, guest_id) REFERENCES guest_contacts (partner_id, id)
) STRICT;
CREATE INDEX reservations_by_start ON reservations (partner_id, venue_id, start_at);

CREATE TABLE reservation_claims (
    partner_id     TEXT NOT NULL,
    table_id       TEXT NOT NULL,
    cell           INTEGER NOT NULL,
    reservation_id TEXT NOT NULL,
    PRIMARY KEY (partner_id, table_id, cell),
    FOREIGN KEY (partner_id, table_id) REFERENCES venue_tables (partner_id, id),
    FOREIGN KEY (partner_id, reservation_id) REFERENCES reservations (partner_id, id)
) STRICT;
CREATE INDEX reservation_claims_by_reservation ON reservation_claims (partner_id, reservation_id);

-- Venues listed for public booking (a booking policy was saved), outside row-level security like table_directory:
-- a public availability or booking request finds the venue's partner here, and nothing else. Offboarding deletes
-- the partner's rows.
CREATE TABLE booking_directory (
    venue_id   TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL REFERENCES partners (id)
) STRICT;
