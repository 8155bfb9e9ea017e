-- Revocation that cannot tie; see the PostgreSQL migration for the reasoning.
ALTER TABLE staff ADD COLUMN credential_generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE refresh_tokens ADD COLUMN credential_generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE staff ADD COLUMN totp_pending_sealed BLOB;
