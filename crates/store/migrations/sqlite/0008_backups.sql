-- Backups and restore tests (BAK-1..4): one row per run, so the scheduler knows what is due and the restore-test
-- alert knows when the last successful restore test was. Platform data: object names, counts and outcomes only.

CREATE TABLE backup_runs (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('backup', 'restore-test')),
    object      TEXT NOT NULL,
    ok          INTEGER NOT NULL,
    detail      TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT NOT NULL
) STRICT;
CREATE INDEX backup_runs_by_kind ON backup_runs (kind, ok, finished_at);
