-- Nothing to do on SQLite: one writer at a time already numbers a venue's kitchen events in commit order (the
-- PostgreSQL migration of the same number gives each venue its own locked head row for that).
SELECT 1;
