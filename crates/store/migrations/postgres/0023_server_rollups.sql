-- Sales per server (issue 19, docs/analytics.md "Sales per server"): per venue, UTC quarter-hour of the order's
-- placing and the member who accepted the table, the orders and their gross. Written when the table is closed, in
-- the closing transaction: by then each of its orders is served or cancelled for good, so a row never moves again.
CREATE TABLE server_sales_quarters (
    partner_id uuid NOT NULL,
    venue_id   uuid NOT NULL,
    quarter    timestamptz NOT NULL,
    member     uuid NOT NULL,
    orders     bigint NOT NULL,
    gross      bigint NOT NULL,
    PRIMARY KEY (partner_id, venue_id, quarter, member),
    FOREIGN KEY (partner_id, venue_id) REFERENCES venues (partner_id, id)
);
ALTER TABLE server_sales_quarters ENABLE ROW LEVEL SECURITY;
ALTER TABLE server_sales_quarters FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON server_sales_quarters USING (partner_id = comanda_current_tenant())
    WITH CHECK (partner_id = comanda_current_tenant());
-- Tips per server are the tip ledger's own attribution, read by venue and instant.
CREATE INDEX tip_ledger_by_venue ON tip_ledger (partner_id, venue_id, at);
