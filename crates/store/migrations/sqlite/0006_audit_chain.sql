-- The tamper-evident audit trail (MON-5): every partner's entries form a hash chain sharded by month, with signed
-- checkpoints. See crates/security/src/audit_chain.rs for what is hashed and signed.
ALTER TABLE audit_events ADD COLUMN shard TEXT;
ALTER TABLE audit_events ADD COLUMN seq INTEGER;
ALTER TABLE audit_events ADD COLUMN source_salt BLOB;
ALTER TABLE audit_events ADD COLUMN source_commitment BLOB;
ALTER TABLE audit_events ADD COLUMN prev_hash BLOB;
ALTER TABLE audit_events ADD COLUMN hash BLOB;
CREATE UNIQUE INDEX audit_events_chain ON audit_events (partner_id, shard, seq);
CREATE INDEX audit_events_at ON audit_events (partner_id, at);

CREATE TABLE audit_heads (
    partner_id TEXT NOT NULL REFERENCES partners (id),
    shard      TEXT NOT NULL,
    next_seq   INTEGER NOT NULL,
    head_hash  BLOB NOT NULL,
    pruned_at  TEXT,
    PRIMARY KEY (partner_id, shard)
) STRICT;

CREATE TABLE audit_checkpoints (
    partner_id TEXT NOT NULL REFERENCES partners (id),
    shard      TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    hash       BLOB NOT NULL,
    at         TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    signature  BLOB NOT NULL,
    PRIMARY KEY (partner_id, shard, seq)
) STRICT;

-- Entries are never edited, except that erasing a person may clear an entry's client address (its salted
-- commitment stays in the chain). Entries are deleted only past the 12-month retention, and only once their month
-- has a signed checkpoint at its last position.
DROP TRIGGER audit_events_no_update;
DROP TRIGGER audit_events_no_delete;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
WHEN NOT (NEW.source IS NULL AND NEW.source_salt IS NULL
          AND NEW.partner_id IS OLD.partner_id AND NEW.id IS OLD.id AND NEW.at IS OLD.at AND NEW.actor IS OLD.actor
          AND NEW.action IS OLD.action AND NEW.target IS OLD.target AND NEW.request_id IS OLD.request_id
          AND NEW.detail IS OLD.detail AND NEW.shard IS OLD.shard AND NEW.seq IS OLD.seq
          AND NEW.source_commitment IS OLD.source_commitment AND NEW.prev_hash IS OLD.prev_hash
          AND NEW.hash IS OLD.hash)
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
WHEN julianday(OLD.at) >= julianday('now', '-12 months') OR NOT EXISTS (
    SELECT 1 FROM audit_checkpoints c JOIN audit_heads h
      ON h.partner_id = c.partner_id AND h.shard = c.shard AND c.seq = h.next_seq - 1
     WHERE c.partner_id = OLD.partner_id AND c.shard = OLD.shard)
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: entries younger than 12 months are kept'); END;

CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
