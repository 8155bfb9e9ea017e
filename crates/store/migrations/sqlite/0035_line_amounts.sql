-- What each part of a split by lines was charged: see the PostgreSQL migration of the same number.
ALTER TABLE payments ADD COLUMN line_amounts TEXT;
