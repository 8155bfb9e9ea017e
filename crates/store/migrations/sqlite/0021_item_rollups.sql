-- The product mix's roll-up (issue 19): see the PostgreSQL migration of the same number.
CREATE TABLE item_sales_quarters (
    partner_id TEXT NOT NULL,
    venue_id   TEXT NOT NULL,
    quarter    TEXT NOT NULL,
    item_id    TEXT NOT NULL,
    quantity   INTEGER NOT NULL,
    sales      INTEGER NOT NULL,
    PRIMARY KEY (partner_id, venue_id, quarter, item_id),
    FOREIGN KEY (partner_id, venue_id) REFERENCES venues (partner_id, id)
) STRICT;
