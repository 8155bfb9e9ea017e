-- Cash a server took at the table for a bill: see the PostgreSQL migration of the same number.
CREATE TABLE cash_payments (
    partner_id  TEXT NOT NULL,
    id          TEXT NOT NULL,
    venue_id    TEXT NOT NULL,
    table_id    TEXT NOT NULL,
    session_id  TEXT NOT NULL,
    currency    TEXT NOT NULL,
    amount      INTEGER NOT NULL CHECK (amount >= 0),
    tip         INTEGER NOT NULL CHECK (tip >= 0),
    recorded_by TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    voided_by   TEXT,
    voided_at   TEXT,
    PRIMARY KEY (partner_id, id),
    FOREIGN KEY (partner_id, session_id) REFERENCES table_sessions (partner_id, id),
    CHECK (amount + tip > 0),
    CHECK ((voided_at IS NULL) = (voided_by IS NULL))
) STRICT;
CREATE INDEX cash_payments_by_session ON cash_payments (partner_id, session_id);
CREATE INDEX cash_payments_by_venue ON cash_payments (partner_id, venue_id, created_at);
-- The reports take a void back at its instant: voided records by venue and time (few: a partial index).
CREATE INDEX cash_payments_voided ON cash_payments (partner_id, venue_id, voided_at) WHERE voided_at IS NOT NULL;

ALTER TABLE tip_ledger ADD COLUMN tender TEXT NOT NULL DEFAULT 'card' CHECK (tender IN ('card', 'cash'));
ALTER TABLE sales_quarters ADD COLUMN cash INTEGER NOT NULL DEFAULT 0;
ALTER TABLE table_sessions ADD COLUMN check_unpaid INTEGER NOT NULL DEFAULT 0;
