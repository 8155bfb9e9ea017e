-- Table sessions: a table's first order opens a pending session that staff must accept before the kitchen sees it
-- (a QR code photographed yesterday cannot order today unattended); closing the table ends the session and every
-- guest device's hold on it. Orders remember their session and the guest device that placed them.

CREATE TABLE table_sessions (
    partner_id  uuid NOT NULL,
    id          uuid NOT NULL,
    venue_id    uuid NOT NULL,
    table_id    uuid NOT NULL,
    status      text NOT NULL CHECK (status IN ('pending', 'open', 'closed')),
    created_at  timestamptz NOT NULL,
    accepted_at timestamptz,
    accepted_by text,
    closed_at   timestamptz,
    closed_by   text,
    PRIMARY KEY (partner_id, id),
    FOREIGN KEY (partner_id, table_id) REFERENCES venue_tables (partner_id, id)
);
-- At most one live session per table.
CREATE UNIQUE INDEX table_sessions_one_live ON table_sessions (partner_id, table_id) WHERE status <> 'closed';

ALTER TABLE orders ADD COLUMN session_id uuid;
ALTER TABLE orders ADD COLUMN device text;
CREATE INDEX orders_by_session ON orders (partner_id, session_id);

ALTER TABLE table_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE table_sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON table_sessions
    USING (partner_id = comanda_current_tenant())
    WITH CHECK (partner_id = comanda_current_tenant());
