-- Reservations (issue 18). A booking holds its tables through claim rows, one per table and 15-minute cell of UTC
-- time, under a unique key: two bookings that would share a table at the same time cannot both commit, whatever
-- path wrote them (public widget, staff, a move). The same statement text serves SQLite, which has no exclusion
-- constraints; the cells are the domain's own unit (comanda_domain::reservation::CELL_SECONDS), so the database and
-- the availability engine refuse exactly the same overlaps. Cancelling, a no-show or finishing deletes the claims,
-- which frees the slot at once.
ALTER TABLE venue_tables ADD COLUMN min_party integer NOT NULL DEFAULT 1 CHECK (min_party BETWEEN 1 AND 100);
ALTER TABLE venue_tables ADD COLUMN bookable_online boolean NOT NULL DEFAULT true;
-- A reservation's guest is a guest contact: name, email and phone sealed under the guest's own key (PRIV-1).
ALTER TABLE guest_contacts ADD COLUMN phone text;

CREATE TABLE booking_policies (
    partner_id uuid NOT NULL,
    venue_id   uuid NOT NULL,
    policy     text NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (partner_id, venue_id),
    FOREIGN KEY (partner_id, venue_id) REFERENCES venues (partner_id, id)
);

CREATE TABLE table_combinations (
    partner_id uuid NOT NULL,
    venue_id   uuid NOT NULL,
    id         uuid NOT NULL,
    tables     text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (partner_id, id),
    FOREIGN KEY (partner_id, venue_id) REFERENCES venues (partner_id, id)
);

CREATE TABLE reservations (
    partner_id      uuid NOT NULL,
    id              uuid NOT NULL,
    venue_id        uuid NOT NULL,
    guest_id        uuid NOT NULL,
    party_size      integer NOT NULL CHECK (party_size BETWEEN 1 AND 100),
    start_at        timestamptz NOT NULL,
    until_at        timestamptz NOT NULL,
    status          text NOT NULL,
    channel         text NOT NULL,
    tables          text NOT NULL,
    note            text NOT NULL DEFAULT '',
    idempotency_key text,
    request_hash    bytea,
    session_id      uuid,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (partner_id, id),
    UNIQUE (partner_id, venue_id, idempotency_key),
    FOREIGN KEY (partner_id, venue_id) REFERENCES venues (partner_id, id),
    FOREIGN KEY (partner_id, guest_id) REFERENCES guest_contacts (partner_id, id)
);
CREATE INDEX reservations_by_start ON reservations (partner_id, venue_id, start_at);

CREATE TABLE reservation_claims (
    partner_id     uuid NOT NULL,
    table_id       uuid NOT NULL,
    cell           bigint NOT NULL,
    reservation_id uuid NOT NULL,
    PRIMARY KEY (partner_id, table_id, cell),
    FOREIGN KEY (partner_id, table_id) REFERENCES venue_tables (partner_id, id),
    FOREIGN KEY (partner_id, reservation_id) REFERENCES reservations (partner_id, id)
);
CREATE INDEX reservation_claims_by_reservation ON reservation_claims (partner_id, reservation_id);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['booking_policies', 'table_combinations', 'reservations', 'reservation_claims'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (partner_id = comanda_current_tenant())
                        WITH CHECK (partner_id = comanda_current_tenant())', t);
    END LOOP;
END $$;

-- Venues listed for public booking (a booking policy was saved), outside row-level security like table_directory:
-- a public availability or booking request finds the venue's partner here, and nothing else. Offboarding deletes
-- the partner's rows.
CREATE TABLE booking_directory (
    venue_id   uuid PRIMARY KEY,
    partner_id uuid NOT NULL REFERENCES partners (id)
);
