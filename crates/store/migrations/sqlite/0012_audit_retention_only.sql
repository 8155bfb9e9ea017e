-- Nothing to do on SQLite: it has no roles or TRUNCATE, and the append-only triggers of migration 0006 already
-- refuse every DELETE that retention does not allow (the PostgreSQL migration of the same number takes DELETE from
-- the serving role and refuses TRUNCATE).
SELECT 1;
