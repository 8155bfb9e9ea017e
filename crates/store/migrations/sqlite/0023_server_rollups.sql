-- Sales per server: see the PostgreSQL migration of the same number.
CREATE TABLE server_sales_quarters (
    partner_id TEXT NOT NULL,
    venue_id   TEXT NOT NULL,
    quarter    TEXT NOT NULL,
    member     TEXT NOT NULL,
    orders     INTEGER NOT NULL,
    gross      INTEGER NOT NULL,
    PRIMARY KEY (partner_id, venue_id, quarter, member),
    FOREIGN KEY (partner_id, venue_id) REFERENCES venues (partner_id, id)
) STRICT;
CREATE INDEX tip_ledger_by_venue ON tip_ledger (partner_id, venue_id, at);
