-- Guest contact data (a receipt by email, later reservations) and the consent it was given under (PRIV-2, Law 1581):
-- the notice version and the time. Email and name are sealed under the guest's own data key (person_keys).
CREATE TABLE guest_contacts (
    partner_id     uuid NOT NULL REFERENCES partners (id),
    id             uuid NOT NULL,
    venue_id       uuid NOT NULL,
    email          text NOT NULL,
    name           text NOT NULL,
    notice_version text NOT NULL,
    consented_at   timestamptz NOT NULL,
    erased_at      timestamptz,
    PRIMARY KEY (partner_id, id)
);
ALTER TABLE guest_contacts ENABLE ROW LEVEL SECURITY;
ALTER TABLE guest_contacts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON guest_contacts USING (partner_id = comanda_current_tenant())
    WITH CHECK (partner_id = comanda_current_tenant());
