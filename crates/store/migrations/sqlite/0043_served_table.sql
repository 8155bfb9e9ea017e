-- A party seated at joined tables has one bill, on its first table: an order placed from another of its tables is
-- on that bill (`table_id`) but its dishes go to the table the guest sits at, which the kitchen ticket names.
-- NULL: served at the bill's own table. (SQLite cannot add a two-column foreign key to an existing table; the
-- value is only ever the table a verified guest token names.)
ALTER TABLE orders ADD COLUMN served_table_id text;
