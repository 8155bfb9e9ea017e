-- The tamper-evident audit trail (MON-5): every partner's entries form a hash chain sharded by month, with signed
-- checkpoints. See crates/security/src/audit_chain.rs for what is hashed and signed.
ALTER TABLE audit_events
    ADD COLUMN shard             text,
    ADD COLUMN seq               bigint,
    ADD COLUMN source_salt       bytea,
    ADD COLUMN source_commitment bytea,
    ADD COLUMN prev_hash         bytea,
    ADD COLUMN hash              bytea;
CREATE UNIQUE INDEX audit_events_chain ON audit_events (partner_id, shard, seq);
CREATE INDEX audit_events_at ON audit_events (partner_id, at);

-- The head of each month's chain: the next position and the last hash. Locked by every append, so appends of one
-- partner serialise; partners never wait for each other.
CREATE TABLE audit_heads (
    partner_id uuid NOT NULL REFERENCES partners (id),
    shard      text NOT NULL,
    next_seq   bigint NOT NULL,
    head_hash  bytea NOT NULL,
    pruned_at  timestamptz,
    PRIMARY KEY (partner_id, shard)
);

CREATE TABLE audit_checkpoints (
    partner_id uuid NOT NULL REFERENCES partners (id),
    shard      text NOT NULL,
    seq        bigint NOT NULL,
    hash       bytea NOT NULL,
    at         timestamptz NOT NULL,
    key_id     text NOT NULL,
    signature  bytea NOT NULL,
    PRIMARY KEY (partner_id, shard, seq)
);

-- Entries are never edited, except that erasing a person may clear an entry's client address (its salted
-- commitment stays in the chain). Entries are deleted only past the 12-month retention, and only once their month
-- has a signed checkpoint at its last position.
DROP TRIGGER audit_events_append_only ON audit_events;
CREATE FUNCTION comanda_audit_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.at < now() - interval '12 months' AND EXISTS (
            SELECT 1 FROM audit_checkpoints c JOIN audit_heads h
              ON h.partner_id = c.partner_id AND h.shard = c.shard AND c.seq = h.next_seq - 1
             WHERE c.partner_id = OLD.partner_id AND c.shard = OLD.shard) THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit_events is append-only: entries younger than 12 months are kept';
    END IF;
    IF NEW.source IS NULL AND NEW.source_salt IS NULL
       AND (NEW.partner_id, NEW.id, NEW.at, NEW.actor, NEW.action, NEW.target, NEW.request_id, NEW.detail,
            NEW.shard, NEW.seq, NEW.source_commitment, NEW.prev_hash, NEW.hash)
           IS NOT DISTINCT FROM
           (OLD.partner_id, OLD.id, OLD.at, OLD.actor, OLD.action, OLD.target, OLD.request_id, OLD.detail,
            OLD.shard, OLD.seq, OLD.source_commitment, OLD.prev_hash, OLD.hash) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only';
END $$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION comanda_audit_guard();

CREATE FUNCTION comanda_checkpoint_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_checkpoints is append-only';
END $$;
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION comanda_checkpoint_guard();

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['audit_heads', 'audit_checkpoints'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (partner_id = comanda_current_tenant())
                        WITH CHECK (partner_id = comanda_current_tenant())', t);
    END LOOP;
END $$;
