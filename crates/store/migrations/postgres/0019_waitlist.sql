-- The waitlist (issue 18): a party asks for a local date, a window of starts and a size; when a booking frees a
-- table, the first waiting party (by arrival) whose size and window fit is offered the time: a reservation in status
-- `offered` holds the table for a few minutes (its claim rows, like any booking) while the guest accepts by the link
-- in the mail. An offer that expires frees the table and the next party is offered.
CREATE TABLE waitlist_entries (
    partner_id       uuid NOT NULL,
    id               uuid NOT NULL,
    venue_id         uuid NOT NULL,
    guest_id         uuid NOT NULL,
    party_size       integer NOT NULL CHECK (party_size BETWEEN 1 AND 100),
    local_date       text NOT NULL,
    earliest_at      timestamptz NOT NULL,
    latest_at        timestamptz NOT NULL,
    status           text NOT NULL CHECK (status IN ('waiting', 'offered', 'booked', 'expired', 'left')),
    reservation_id   uuid,
    offer_expires_at timestamptz,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    PRIMARY KEY (partner_id, id),
    FOREIGN KEY (partner_id, venue_id) REFERENCES venues (partner_id, id),
    FOREIGN KEY (partner_id, guest_id) REFERENCES guest_contacts (partner_id, id)
);
CREATE INDEX waitlist_in_order ON waitlist_entries (partner_id, venue_id, status, created_at);
ALTER TABLE waitlist_entries ENABLE ROW LEVEL SECURITY;
ALTER TABLE waitlist_entries FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON waitlist_entries USING (partner_id = comanda_current_tenant())
    WITH CHECK (partner_id = comanda_current_tenant());
