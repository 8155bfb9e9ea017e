-- A party seated at joined tables has one bill, on its first table: an order placed from another of its tables is
-- on that bill (`table_id`) but its dishes go to the table the guest sits at, which the kitchen ticket names.
-- NULL: served at the bill's own table.
ALTER TABLE orders ADD COLUMN served_table_id uuid;
ALTER TABLE orders ADD CONSTRAINT orders_served_table FOREIGN KEY (partner_id, served_table_id)
    REFERENCES venue_tables (partner_id, id);
