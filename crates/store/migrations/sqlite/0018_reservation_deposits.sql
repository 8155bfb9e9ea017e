-- Reservation deposits (issue 18): see the PostgreSQL migration of the same number.
CREATE TABLE reservation_deposits (
    partner_id       TEXT NOT NULL,
    reservation_id   TEXT NOT NULL,
    venue_id         TEXT NOT NULL,
    amount           INTEGER NOT NULL CHECK (amount > 0),
    currency         TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('awaiting', 'paid', 'refund_due', 'keep_due', 'refunded', 'kept',
                                                     'released')),
    payment_intent   TEXT,
    charge_id        TEXT,
    settlement       TEXT,
    hold_expires_at  TEXT NOT NULL,
    refundable_until TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    PRIMARY KEY (partner_id, reservation_id),
    FOREIGN KEY (partner_id, reservation_id) REFERENCES reservations (partner_id, id)
) STRICT;
CREATE INDEX reservation_deposits_open ON reservation_deposits (partner_id, status)
    WHERE status IN ('awaiting', 'refund_due', 'keep_due');

CREATE TABLE deposit_directory (
    reservation_id TEXT PRIMARY KEY,
    partner_id     TEXT NOT NULL REFERENCES partners (id)
) STRICT;
