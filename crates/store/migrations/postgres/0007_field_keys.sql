-- Data keys of envelope encryption (REST-1), stored only wrapped by the KMS's key-encryption key. A partner's key
-- seals its business data; a person's key seals that person's data and is deleted to erase them (PRIV-1).
-- person_keys is left out of the ordinary backups and backed up apart (docs/backups.md).
CREATE TABLE tenant_keys (
    partner_id uuid NOT NULL REFERENCES partners (id),
    owner_id   uuid NOT NULL,
    key_id     uuid NOT NULL,
    version    bigint NOT NULL,
    wrapped    bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (partner_id, owner_id)
);

CREATE TABLE person_keys (
    partner_id uuid NOT NULL,
    owner_id   uuid NOT NULL,
    key_id     uuid NOT NULL,
    version    bigint NOT NULL,
    wrapped    bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (partner_id, owner_id)
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['tenant_keys', 'person_keys'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (partner_id = comanda_current_tenant())
                        WITH CHECK (partner_id = comanda_current_tenant())', t);
    END LOOP;
END $$;
