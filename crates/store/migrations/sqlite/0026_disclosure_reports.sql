-- Vulnerability reports and their clocks: see the PostgreSQL migration of the same number.
CREATE TABLE disclosure_reports (
    id              TEXT PRIMARY KEY,
    summary         TEXT NOT NULL,
    received_at     TEXT NOT NULL,
    credit          TEXT,
    severity        TEXT CHECK (severity IN ('critical', 'high', 'medium', 'low', 'informational')),
    acknowledged_at TEXT,
    triaged_at      TEXT,
    fixed_at        TEXT,
    alerted_steps   TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX disclosure_reports_open ON disclosure_reports (received_at) WHERE fixed_at IS NULL;
