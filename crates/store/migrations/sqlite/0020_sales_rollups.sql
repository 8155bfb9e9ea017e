-- Analytics roll-ups (issue 19): see the PostgreSQL migration of the same number.
ALTER TABLE orders ADD COLUMN tax INTEGER NOT NULL DEFAULT 0;

CREATE TABLE sales_quarters (
    partner_id TEXT NOT NULL,
    venue_id   TEXT NOT NULL,
    quarter    TEXT NOT NULL,
    currency   TEXT NOT NULL,
    gross      INTEGER NOT NULL,
    tax        INTEGER NOT NULL,
    refunds    INTEGER NOT NULL,
    tips       INTEGER NOT NULL,
    collected  INTEGER NOT NULL,
    orders     INTEGER NOT NULL,
    PRIMARY KEY (partner_id, venue_id, quarter),
    FOREIGN KEY (partner_id, venue_id) REFERENCES venues (partner_id, id)
) STRICT;

CREATE INDEX payments_by_success ON payments (partner_id, succeeded_at) WHERE status = 'succeeded';
CREATE INDEX refunds_by_completion ON refunds (partner_id, completed_at) WHERE status = 'succeeded';
