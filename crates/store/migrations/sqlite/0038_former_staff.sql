-- Members removed from the partner, named in payroll records: see the PostgreSQL migration of the same number.
CREATE TABLE former_staff (
    partner_id TEXT NOT NULL,
    id         TEXT NOT NULL,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL,
    payout_authority INTEGER NOT NULL,
    removed_at TEXT NOT NULL,
    PRIMARY KEY (partner_id, id)
) STRICT;
