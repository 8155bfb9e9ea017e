-- Cash a server took at the table for a bill (docs/payments.md, "Cash at the table"): its part of the bill (`amount`,
-- counted as paid like a card payment's share) and the tip, in the bill's currency, and who recorded it. A record
-- entered by mistake is voided while the bill is open, never deleted: `voided_at` and `voided_by` say when and who,
-- and the reports take it back at that instant (as a refund is counted when it completes).
CREATE TABLE cash_payments (
    partner_id  uuid NOT NULL,
    id          uuid NOT NULL,
    venue_id    uuid NOT NULL,
    table_id    uuid NOT NULL,
    session_id  uuid NOT NULL,
    currency    char(3) NOT NULL,
    amount      bigint NOT NULL CHECK (amount >= 0),
    tip         bigint NOT NULL CHECK (tip >= 0),
    recorded_by uuid NOT NULL,
    created_at  timestamptz NOT NULL,
    voided_by   uuid,
    voided_at   timestamptz,
    PRIMARY KEY (partner_id, id),
    FOREIGN KEY (partner_id, session_id) REFERENCES table_sessions (partner_id, id),
    CHECK (amount + tip > 0),
    CHECK ((voided_at IS NULL) = (voided_by IS NULL))
);
CREATE INDEX cash_payments_by_session ON cash_payments (partner_id, session_id);
CREATE INDEX cash_payments_by_venue ON cash_payments (partner_id, venue_id, created_at);
-- The reports take a void back at its instant: voided records by venue and time (few: a partial index).
CREATE INDEX cash_payments_voided ON cash_payments (partner_id, venue_id, voided_at) WHERE voided_at IS NOT NULL;
ALTER TABLE cash_payments ENABLE ROW LEVEL SECURITY;
ALTER TABLE cash_payments FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON cash_payments USING (partner_id = comanda_current_tenant())
    WITH CHECK (partner_id = comanda_current_tenant());

-- How a tip was given: `card` (its `payment_id` names a payment) or `cash` (it names a cash payment).
ALTER TABLE tip_ledger ADD COLUMN tender text NOT NULL DEFAULT 'card' CHECK (tender IN ('card', 'cash'));
-- What a bill closed without being paid in full (`unpaid=true`) still lacked, read under its lock at the close: the
-- reports' "unpaid", so an unpaid close is never a gap nobody can explain.
ALTER TABLE table_sessions ADD COLUMN check_unpaid bigint NOT NULL DEFAULT 0;
-- Cash taken (bill part plus tip, less voided records), beside `collected` (cards).
ALTER TABLE sales_quarters ADD COLUMN cash bigint NOT NULL DEFAULT 0;
