-- Nothing to do on PostgreSQL: `timestamptz` compares as an instant whatever its text. SQLite's migration of the same
-- number rewrites its instants, kept as text, at a fixed width so that text order is time order.
SELECT 1;
