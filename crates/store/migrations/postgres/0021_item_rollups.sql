-- The product mix's roll-up (issue 19, docs/analytics.md "Product mix"): per venue, UTC quarter-hour and menu item,
-- how many were ordered and their sales (tax included). Moved in the same transaction as `sales_quarters`: added
-- when an order is placed, taken away when it is cancelled. Items are the venue's own, so a report names them from
-- the menu; an item deleted from the menu keeps its rows.
CREATE TABLE item_sales_quarters (
    partner_id uuid NOT NULL,
    venue_id   uuid NOT NULL,
    quarter    timestamptz NOT NULL,
    item_id    uuid NOT NULL,
    quantity   bigint NOT NULL,
    sales      bigint NOT NULL,
    PRIMARY KEY (partner_id, venue_id, quarter, item_id),
    FOREIGN KEY (partner_id, venue_id) REFERENCES venues (partner_id, id)
);
ALTER TABLE item_sales_quarters ENABLE ROW LEVEL SECURITY;
ALTER TABLE item_sales_quarters FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON item_sales_quarters USING (partner_id = comanda_current_tenant())
    WITH CHECK (partner_id = comanda_current_tenant());
