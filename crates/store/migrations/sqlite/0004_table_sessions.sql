-- Table sessions; see the PostgreSQL migration for the reasoning.

CREATE TABLE table_sessions (
    partner_id  TEXT NOT NULL,
    id          TEXT NOT NULL,
    venue_id    TEXT NOT NULL,
    table_id    TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'open', 'closed')),
    created_at  TEXT NOT NULL,
    accepted_at TEXT,
    accepted_by TEXT,
    closed_at   TEXT,
    closed_by   TEXT,
    PRIMARY KEY (partner_id, id),
    FOREIGN KEY (partner_id, table_id) REFERENCES venue_tables (partner_id, id)
) STRICT;
CREATE UNIQUE INDEX table_sessions_one_live ON table_sessions (partner_id, table_id) WHERE status <> 'closed';

ALTER TABLE orders ADD COLUMN session_id TEXT;
ALTER TABLE orders ADD COLUMN device TEXT;
CREATE INDEX orders_by_session ON orders (partner_id, session_id);
