-- Payments at the table (Stripe Connect). Guests' payments hold part of a table session's bill while in progress,
-- so parallel payers can never cover more than the bill; each succeeded payment owes the partner one transfer;
-- refunds, disputes, debts netted against later transfers, the servers' tip ledger, payouts as Stripe reports
-- them, and second-person approvals. Webhook events are recorded once, in the transaction of their effect.

CREATE TABLE connected_accounts (
    partner_id        TEXT PRIMARY KEY,
    stripe_account    TEXT NOT NULL UNIQUE,
    charge_model      TEXT NOT NULL,
    country           TEXT NOT NULL,
    details_submitted INTEGER NOT NULL DEFAULT 0,
    charges_enabled   INTEGER NOT NULL DEFAULT 0,
    payouts_enabled   INTEGER NOT NULL DEFAULT 0,
    transfers_active  INTEGER NOT NULL DEFAULT 0,
    updated_at        TEXT NOT NULL
) STRICT;

CREATE TABLE payments (
    partner_id      TEXT NOT NULL,
    id              TEXT NOT NULL,
    venue_id        TEXT NOT NULL,
    table_id        TEXT NOT NULL,
    session_id      TEXT NOT NULL,
    split           TEXT NOT NULL,
    currency        TEXT NOT NULL,
    share           INTEGER NOT NULL CHECK (share > 0),
    tip             INTEGER NOT NULL CHECK (tip >= 0),
    platform_fee    INTEGER NOT NULL CHECK (platform_fee >= 0),
    charge_model    TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'cancelled')),
    payment_intent  TEXT UNIQUE,
    charge_id       TEXT,
    device          TEXT,
    idempotency_key TEXT,
    request_hash    BLOB,
    failure         TEXT,
    refunded        INTEGER NOT NULL DEFAULT 0,
    tip_member      TEXT,
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    succeeded_at    TEXT,
    PRIMARY KEY (partner_id, id),
    FOREIGN KEY (partner_id, session_id) REFERENCES table_sessions (partner_id, id)
) STRICT;
CREATE UNIQUE INDEX payments_idempotency ON payments (partner_id, session_id, idempotency_key);
CREATE INDEX payments_by_session ON payments (partner_id, session_id, status);

CREATE TABLE transfers (
    partner_id      TEXT NOT NULL,
    payment_id      TEXT NOT NULL,
    amount          INTEGER NOT NULL CHECK (amount >= 0),
    recovered       INTEGER NOT NULL DEFAULT 0,
    currency        TEXT NOT NULL,
    destination     TEXT NOT NULL,
    transfer_group  TEXT NOT NULL,
    source_charge   TEXT,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'none', 'included')),
    stripe_transfer TEXT,
    reversed        INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL,
    sent_at         TEXT,
    PRIMARY KEY (partner_id, payment_id),
    FOREIGN KEY (partner_id, payment_id) REFERENCES payments (partner_id, id)
) STRICT;

CREATE TABLE refunds (
    partner_id        TEXT NOT NULL,
    id                TEXT NOT NULL,
    payment_id        TEXT NOT NULL,
    amount            INTEGER NOT NULL CHECK (amount > 0),
    currency          TEXT NOT NULL,
    transfer_reversal INTEGER NOT NULL,
    platform_part     INTEGER NOT NULL,
    tip_reversal      INTEGER NOT NULL,
    reason            TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('awaiting_approval', 'pending', 'succeeded', 'failed')),
    requested_by      TEXT NOT NULL,
    approved_by       TEXT,
    stripe_refund     TEXT,
    stripe_reversal   TEXT,
    failure           TEXT,
    created_at        TEXT NOT NULL,
    completed_at      TEXT,
    PRIMARY KEY (partner_id, id),
    FOREIGN KEY (partner_id, payment_id) REFERENCES payments (partner_id, id)
) STRICT;

CREATE TABLE disputes (
    partner_id     TEXT NOT NULL,
    id             TEXT NOT NULL,
    stripe_dispute TEXT NOT NULL UNIQUE,
    payment_id     TEXT NOT NULL,
    amount         INTEGER NOT NULL,
    currency       TEXT NOT NULL,
    reason         TEXT NOT NULL,
    status         TEXT NOT NULL,
    debt           INTEGER NOT NULL,
    evidence_due   TEXT,
    created_at     TEXT NOT NULL,
    PRIMARY KEY (partner_id, id),
    FOREIGN KEY (partner_id, payment_id) REFERENCES payments (partner_id, id)
) STRICT;

-- What the partner owes the platform (disputes lost: positive) and what transfers recovered (negative).
CREATE TABLE partner_debts (
    partner_id TEXT NOT NULL,
    id         TEXT NOT NULL,
    amount     INTEGER NOT NULL,
    currency   TEXT NOT NULL,
    reason     TEXT NOT NULL,
    reference  TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (partner_id, id)
) STRICT;

-- Tips credited to the table's server (negative entries when a refund takes a tip back).
CREATE TABLE tip_ledger (
    partner_id TEXT NOT NULL,
    id         TEXT NOT NULL,
    venue_id   TEXT NOT NULL,
    member     TEXT,
    payment_id TEXT NOT NULL,
    amount     INTEGER NOT NULL,
    currency   TEXT NOT NULL,
    at         TEXT NOT NULL,
    PRIMARY KEY (partner_id, id)
) STRICT;
CREATE INDEX tip_ledger_by_time ON tip_ledger (partner_id, at);

CREATE TABLE payouts (
    partner_id    TEXT NOT NULL,
    stripe_payout TEXT NOT NULL,
    amount        INTEGER NOT NULL,
    currency      TEXT NOT NULL,
    status        TEXT NOT NULL,
    arrival_date  TEXT,
    failure       TEXT,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (partner_id, stripe_payout)
) STRICT;

-- Actions that need a second person with payout authority.
CREATE TABLE approvals (
    partner_id   TEXT NOT NULL,
    id           TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('refund', 'payout_details')),
    subject      TEXT,
    requested_by TEXT NOT NULL,
    approved_by  TEXT,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'approved')),
    created_at   TEXT NOT NULL,
    decided_at   TEXT,
    PRIMARY KEY (partner_id, id),
    CHECK (approved_by IS NULL OR approved_by <> requested_by)
) STRICT;

-- Platform directories (not tenant data): which partner a Stripe object belongs to, and which events were
-- processed (exactly once, whatever the deliveries).
CREATE TABLE payment_directory (
    payment_id TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL
) STRICT;
CREATE TABLE account_directory (
    stripe_account TEXT PRIMARY KEY,
    partner_id     TEXT NOT NULL
) STRICT;
CREATE TABLE stripe_events (
    event_id    TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    partner_id  TEXT,
    received_at TEXT NOT NULL
) STRICT;
CREATE TABLE alerts (
    id         TEXT PRIMARY KEY,
    partner_id TEXT,
    kind       TEXT NOT NULL,
    detail     TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;

