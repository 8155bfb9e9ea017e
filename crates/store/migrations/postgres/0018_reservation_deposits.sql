-- Reservation deposits (issue 18): one PaymentIntent per booking whose venue asks a deposit per cover. The status
-- says where the money is: awaiting (the booking holds its tables until hold_expires_at), paid (held on the
-- platform, or on the venue's account with destination charges), refund_due / keep_due (decided in the booking's
-- own transaction when it ended, executed at Stripe right after and retried by the payments upkeep), refunded,
-- kept, or released (never paid; its PaymentIntent cancelled).
CREATE TABLE reservation_deposits (
    partner_id       uuid NOT NULL,
    reservation_id   uuid NOT NULL,
    venue_id         uuid NOT NULL,
    amount           bigint NOT NULL CHECK (amount > 0),
    currency         text NOT NULL,
    status           text NOT NULL CHECK (status IN ('awaiting', 'paid', 'refund_due', 'keep_due', 'refunded', 'kept',
                                                     'released')),
    payment_intent   text,
    charge_id        text,
    -- The Stripe refund or transfer that settled it.
    settlement       text,
    hold_expires_at  timestamptz NOT NULL,
    refundable_until timestamptz NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    PRIMARY KEY (partner_id, reservation_id),
    FOREIGN KEY (partner_id, reservation_id) REFERENCES reservations (partner_id, id)
);
CREATE INDEX reservation_deposits_open ON reservation_deposits (partner_id, status)
    WHERE status IN ('awaiting', 'refund_due', 'keep_due');
ALTER TABLE reservation_deposits ENABLE ROW LEVEL SECURITY;
ALTER TABLE reservation_deposits FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON reservation_deposits USING (partner_id = comanda_current_tenant())
    WITH CHECK (partner_id = comanda_current_tenant());

-- A deposit's PaymentIntent names its reservation in metadata; the webhook finds the partner here (never from the
-- event alone), outside row-level security like booking_directory. Offboarding deletes the partner's rows.
CREATE TABLE deposit_directory (
    reservation_id uuid PRIMARY KEY,
    partner_id     uuid NOT NULL REFERENCES partners (id)
);
