-- MON-5: retention is the only deletion of audit entries, and TRUNCATE is refused to everyone.
--
-- The serving role loses DELETE on audit_events (the grant in postgres.rs no longer gives it). Pruning goes through
-- this function, which runs as the schema owner and can do one thing: delete one month of one partner's entries.
-- Row-level security still binds it to the caller's tenant (FORCE applies to the owner too), and the row trigger
-- still refuses every entry younger than 12 months or whose month has no final signed checkpoint.
CREATE FUNCTION comanda_prune_audit_month(p_partner uuid, p_shard text) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    deleted bigint;
BEGIN
    DELETE FROM audit_events WHERE partner_id = p_partner AND shard = p_shard;
    GET DIAGNOSTICS deleted = ROW_COUNT;
    RETURN deleted;
END $$;
REVOKE ALL ON FUNCTION comanda_prune_audit_month(uuid, text) FROM PUBLIC;

-- TRUNCATE fires no row trigger, so it would pass the append-only guard: a statement trigger refuses it, for the
-- schema owner as well (the serving role never holds TRUNCATE).
CREATE FUNCTION comanda_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: TRUNCATE is refused', TG_TABLE_NAME;
END $$;
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION comanda_refuse_truncate();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION comanda_refuse_truncate();
CREATE TRIGGER audit_heads_no_truncate BEFORE TRUNCATE ON audit_heads
    FOR EACH STATEMENT EXECUTE FUNCTION comanda_refuse_truncate();
