-- Backups and restore tests (BAK-1..4): one row per run, so the scheduler knows what is due and the restore-test
-- alert knows when the last successful restore test was. Platform data (no partner's rows, no row-level security):
-- object names, counts and outcomes only. The serving role is granted it like every platform table.

CREATE TABLE backup_runs (
    id          uuid PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('backup', 'restore-test')),
    object      text NOT NULL,
    ok          boolean NOT NULL,
    detail      text NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL
);
CREATE INDEX backup_runs_by_kind ON backup_runs (kind, ok, finished_at);
