-- A signing key revoked at once: see the PostgreSQL migration of the same number.
ALTER TABLE signing_keys ADD COLUMN revoked_at TEXT;
