-- Payments at the table (Stripe Connect). Guests' payments hold part of a table session's bill while in progress,
-- so parallel payers can never cover more than the bill; each succeeded payment owes the partner one transfer;
-- refunds, disputes, debts netted against later transfers, the servers' tip ledger, payouts as Stripe reports
-- them, and second-person approvals. Webhook events are recorded once, in the transaction of their effect.

CREATE TABLE connected_accounts (
    partner_id        uuid PRIMARY KEY,
    stripe_account    text NOT NULL UNIQUE,
    charge_model      text NOT NULL,
    country           char(2) NOT NULL,
    details_submitted boolean NOT NULL DEFAULT false,
    charges_enabled   boolean NOT NULL DEFAULT false,
    payouts_enabled   boolean NOT NULL DEFAULT false,
    transfers_active  boolean NOT NULL DEFAULT false,
    updated_at        timestamptz NOT NULL
);

CREATE TABLE payments (
    partner_id      uuid NOT NULL,
    id              uuid NOT NULL,
    venue_id        uuid NOT NULL,
    table_id        uuid NOT NULL,
    session_id      uuid NOT NULL,
    split           text NOT NULL,
    currency        char(3) NOT NULL,
    share           bigint NOT NULL CHECK (share > 0),
    tip             bigint NOT NULL CHECK (tip >= 0),
    platform_fee    bigint NOT NULL CHECK (platform_fee >= 0),
    charge_model    text NOT NULL,
    status          text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'cancelled')),
    payment_intent  text UNIQUE,
    charge_id       text,
    device          text,
    idempotency_key text,
    request_hash    bytea,
    failure         text,
    refunded        bigint NOT NULL DEFAULT 0,
    tip_member      uuid,
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    succeeded_at    timestamptz,
    PRIMARY KEY (partner_id, id),
    FOREIGN KEY (partner_id, session_id) REFERENCES table_sessions (partner_id, id)
);
CREATE UNIQUE INDEX payments_idempotency ON payments (partner_id, session_id, idempotency_key);
CREATE INDEX payments_by_session ON payments (partner_id, session_id, status);

CREATE TABLE transfers (
    partner_id      uuid NOT NULL,
    payment_id      uuid NOT NULL,
    amount          bigint NOT NULL CHECK (amount >= 0),
    recovered       bigint NOT NULL DEFAULT 0,
    currency        char(3) NOT NULL,
    destination     text NOT NULL,
    transfer_group  text NOT NULL,
    source_charge   text,
    status          text NOT NULL CHECK (status IN ('pending', 'sent', 'none', 'included')),
    stripe_transfer text,
    reversed        bigint NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL,
    sent_at         timestamptz,
    PRIMARY KEY (partner_id, payment_id),
    FOREIGN KEY (partner_id, payment_id) REFERENCES payments (partner_id, id)
);

CREATE TABLE refunds (
    partner_id        uuid NOT NULL,
    id                uuid NOT NULL,
    payment_id        uuid NOT NULL,
    amount            bigint NOT NULL CHECK (amount > 0),
    currency          char(3) NOT NULL,
    transfer_reversal bigint NOT NULL,
    platform_part     bigint NOT NULL,
    tip_reversal      bigint NOT NULL,
    reason            text NOT NULL,
    status            text NOT NULL CHECK (status IN ('awaiting_approval', 'pending', 'succeeded', 'failed')),
    requested_by      uuid NOT NULL,
    approved_by       uuid,
    stripe_refund     text,
    stripe_reversal   text,
    failure           text,
    created_at        timestamptz NOT NULL,
    completed_at      timestamptz,
    PRIMARY KEY (partner_id, id),
    FOREIGN KEY (partner_id, payment_id) REFERENCES payments (partner_id, id)
);

CREATE TABLE disputes (
    partner_id     uuid NOT NULL,
    id             uuid NOT NULL,
    stripe_dispute text NOT NULL UNIQUE,
    payment_id     uuid NOT NULL,
    amount         bigint NOT NULL,
    currency       char(3) NOT NULL,
    reason         text NOT NULL,
    status         text NOT NULL,
    debt           bigint NOT NULL,
    evidence_due   timestamptz,
    created_at     timestamptz NOT NULL,
    PRIMARY KEY (partner_id, id),
    FOREIGN KEY (partner_id, payment_id) REFERENCES payments (partner_id, id)
);

-- What the partner owes the platform (disputes lost: positive) and what transfers recovered (negative).
CREATE TABLE partner_debts (
    partner_id uuid NOT NULL,
    id         uuid NOT NULL,
    amount     bigint NOT NULL,
    currency   char(3) NOT NULL,
    reason     text NOT NULL,
    reference  text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (partner_id, id)
);

-- Tips credited to the table's server (negative entries when a refund takes a tip back).
CREATE TABLE tip_ledger (
    partner_id uuid NOT NULL,
    id         uuid NOT NULL,
    venue_id   uuid NOT NULL,
    member     uuid,
    payment_id uuid NOT NULL,
    amount     bigint NOT NULL,
    currency   char(3) NOT NULL,
    at         timestamptz NOT NULL,
    PRIMARY KEY (partner_id, id)
);
CREATE INDEX tip_ledger_by_time ON tip_ledger (partner_id, at);

CREATE TABLE payouts (
    partner_id    uuid NOT NULL,
    stripe_payout text NOT NULL,
    amount        bigint NOT NULL,
    currency      char(3) NOT NULL,
    status        text NOT NULL,
    arrival_date  timestamptz,
    failure       text,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (partner_id, stripe_payout)
);

-- Actions that need a second person with payout authority.
CREATE TABLE approvals (
    partner_id   uuid NOT NULL,
    id           uuid NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('refund', 'payout_details')),
    subject      uuid,
    requested_by uuid NOT NULL,
    approved_by  uuid,
    status       text NOT NULL CHECK (status IN ('pending', 'approved')),
    created_at   timestamptz NOT NULL,
    decided_at   timestamptz,
    PRIMARY KEY (partner_id, id),
    CHECK (approved_by IS NULL OR approved_by <> requested_by)
);

-- Platform directories (not tenant data): which partner a Stripe object belongs to, and which events were
-- processed (exactly once, whatever the deliveries).
CREATE TABLE payment_directory (
    payment_id uuid PRIMARY KEY,
    partner_id uuid NOT NULL
);
CREATE TABLE account_directory (
    stripe_account text PRIMARY KEY,
    partner_id     uuid NOT NULL
);
CREATE TABLE stripe_events (
    event_id    text PRIMARY KEY,
    kind        text NOT NULL,
    partner_id  uuid,
    received_at timestamptz NOT NULL
);
CREATE TABLE alerts (
    id         uuid PRIMARY KEY,
    partner_id uuid,
    kind       text NOT NULL,
    detail     text NOT NULL,
    created_at timestamptz NOT NULL
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['connected_accounts', 'payments', 'transfers', 'refunds', 'disputes', 'partner_debts',
                             'tip_ledger', 'payouts', 'approvals'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (partner_id = comanda_current_tenant())
                        WITH CHECK (partner_id = comanda_current_tenant())', t);
    END LOOP;
END $$;
