-- Entries written by a change wait here until they are linked into the partner's chain (see the PostgreSQL
-- migration of the same number for why).
CREATE TABLE audit_pending (
    partner_id TEXT NOT NULL REFERENCES partners (id),
    id         TEXT NOT NULL,
    at         TEXT NOT NULL,
    actor      TEXT,
    action     TEXT NOT NULL,
    target     TEXT,
    source     TEXT,
    request_id TEXT,
    detail     TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (partner_id, id)
) STRICT;
-- A waiting entry is never edited; it leaves only by being linked (the PostgreSQL serving role holds no UPDATE).
CREATE TRIGGER audit_pending_no_update BEFORE UPDATE ON audit_pending
BEGIN SELECT RAISE(ABORT, 'audit_pending is append-only'); END;
