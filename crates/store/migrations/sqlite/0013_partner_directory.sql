-- The platform's list of partners (see the PostgreSQL migration of the same number): audit jobs walk it, and a
-- partner stays in it after offboarding, whose time it records.
CREATE TABLE partner_directory (
    partner_id    TEXT PRIMARY KEY,
    offboarded_at TEXT
) STRICT;
INSERT INTO partner_directory (partner_id) SELECT id FROM partners;
