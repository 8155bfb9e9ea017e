-- Incidents (IR-1, IR-2): severity, summary, who decides, a timeline; for a personal-data breach, when comanda became
-- aware of it, the partners the audit log shows affected, and which authorities were notified. Platform data, the
-- operator's record (comanda incidents).
CREATE TABLE incidents (
    id                uuid PRIMARY KEY,
    opened_at         timestamptz NOT NULL,
    severity          text NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low', 'informational')),
    summary           text NOT NULL,
    decided_by        text NOT NULL,
    aware_at          timestamptz,
    affected_partners text NOT NULL DEFAULT '',
    notified          text NOT NULL DEFAULT '',
    alerted           text NOT NULL DEFAULT '',
    closed_at         timestamptz
);
CREATE TABLE incident_timeline (
    id          uuid PRIMARY KEY,
    incident_id uuid NOT NULL REFERENCES incidents (id),
    at          timestamptz NOT NULL,
    entry       text NOT NULL
);
CREATE INDEX incident_timeline_by_incident ON incident_timeline (incident_id, at);
