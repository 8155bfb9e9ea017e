-- Incidents: see the PostgreSQL migration of the same number.
CREATE TABLE incidents (
    id                TEXT PRIMARY KEY,
    opened_at         TEXT NOT NULL,
    severity          TEXT NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low', 'informational')),
    summary           TEXT NOT NULL,
    decided_by        TEXT NOT NULL,
    aware_at          TEXT,
    affected_partners TEXT NOT NULL DEFAULT '',
    notified          TEXT NOT NULL DEFAULT '',
    alerted           TEXT NOT NULL DEFAULT '',
    closed_at         TEXT
) STRICT;
CREATE TABLE incident_timeline (
    id          TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    at          TEXT NOT NULL,
    entry       TEXT NOT NULL
) STRICT;
CREATE INDEX incident_timeline_by_incident ON incident_timeline (incident_id, at);
