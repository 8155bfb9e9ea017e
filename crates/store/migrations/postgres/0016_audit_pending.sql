-- Entries written by a change, in the change's own transaction, wait here until they are linked into the partner's
-- hash chain. Linking an entry takes the partner's chain head, one row for all of a partner's venues; taken inside
-- every order's transaction, it made every order of a partner queue on that row until commit (the PostgreSQL
-- benchmark fell from 875 to 330–425 orders/s). The change and its entry still commit together (MON-6); the next
-- access-log flush of the partner, any read of its log and the audit upkeep move the waiting entries into the chain
-- in one batch, under one hold of the head (crates/store/src/audit_sql.rs).
CREATE TABLE audit_pending (
    partner_id uuid NOT NULL REFERENCES partners (id),
    id         uuid NOT NULL,
    at         timestamptz NOT NULL,
    actor      uuid,
    action     text NOT NULL,
    target     text,
    source     text,
    request_id text,
    detail     text NOT NULL DEFAULT '',
    PRIMARY KEY (partner_id, id)
);
ALTER TABLE audit_pending ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_pending FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_pending USING (partner_id = comanda_current_tenant())
    WITH CHECK (partner_id = comanda_current_tenant());
-- A waiting entry is never edited; it leaves only by being linked. The serving role holds no UPDATE on it either.
CREATE FUNCTION comanda_refuse_pending_edit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_pending is append-only';
END $$;
CREATE TRIGGER audit_pending_append_only BEFORE UPDATE ON audit_pending
    FOR EACH ROW EXECUTE FUNCTION comanda_refuse_pending_edit();
