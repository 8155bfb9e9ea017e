-- Vulnerability reports and their clocks (VDP-2): when each arrived and when each promised step was done; which
-- clocks already raised their alert. Platform data (no partner's rows): a summary written by the operator, never the
-- reporter's contact (it stays in the security mailbox); a credit name only when the reporter asked to be credited.
CREATE TABLE disclosure_reports (
    id              uuid PRIMARY KEY,
    summary         text NOT NULL,
    received_at     timestamptz NOT NULL,
    credit          text,
    severity        text CHECK (severity IN ('critical', 'high', 'medium', 'low', 'informational')),
    acknowledged_at timestamptz,
    triaged_at      timestamptz,
    fixed_at        timestamptz,
    alerted_steps   text NOT NULL DEFAULT ''
);
CREATE INDEX disclosure_reports_open ON disclosure_reports (received_at) WHERE fixed_at IS NULL;
