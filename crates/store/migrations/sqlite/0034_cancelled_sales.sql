-- What a cancelled order keeps in the sales: see the PostgreSQL migration of the same number.
ALTER TABLE orders ADD COLUMN kept_gross INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN kept_tax INTEGER NOT NULL DEFAULT 0;
