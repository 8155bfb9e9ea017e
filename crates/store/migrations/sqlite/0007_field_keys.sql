-- Data keys of envelope encryption (REST-1), stored only wrapped by the KMS's key-encryption key. A partner's key
-- seals its business data; a person's key seals that person's data and is deleted to erase them (PRIV-1).
-- person_keys is left out of the ordinary backups and backed up apart (docs/backups.md).
CREATE TABLE tenant_keys (
    partner_id TEXT NOT NULL REFERENCES partners (id),
    owner_id   TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    version    INTEGER NOT NULL,
    wrapped    BLOB NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (partner_id, owner_id)
) STRICT;

CREATE TABLE person_keys (
    partner_id TEXT NOT NULL,
    owner_id   TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    version    INTEGER NOT NULL,
    wrapped    BLOB NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (partner_id, owner_id)
) STRICT;
