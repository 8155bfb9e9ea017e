-- Members removed from the partner: their name (sealed under the person's own key, as on the staff row, so an
-- erasure of the person still leaves it unreadable) and role, kept because payroll records name them by id — the tip
-- ledger (Ley 1935 de 2018: tips are the workers') and sales per server — and a tip earned before leaving is still
-- paid to someone with a name. An erasure of the person deletes the row.
CREATE TABLE former_staff (
    partner_id uuid NOT NULL,
    id         uuid NOT NULL,
    name       text NOT NULL,
    role       text NOT NULL,
    -- With the role, who may act on the kept name (an erasure): as for a member, by rank.
    payout_authority boolean NOT NULL,
    removed_at timestamptz NOT NULL,
    PRIMARY KEY (partner_id, id)
);
ALTER TABLE former_staff ENABLE ROW LEVEL SECURITY;
ALTER TABLE former_staff FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON former_staff USING (partner_id = comanda_current_tenant())
    WITH CHECK (partner_id = comanda_current_tenant());
