-- Identity and access; see the PostgreSQL migration for the reasoning. SQLite has no row-level security: the
-- application's tenant filter is the wall here.

CREATE TABLE staff (
    partner_id          TEXT NOT NULL REFERENCES partners (id),
    id                  TEXT NOT NULL,
    email               TEXT NOT NULL,
    name                TEXT NOT NULL,
    role                TEXT NOT NULL CHECK (role IN ('owner', 'manager', 'server', 'kitchen', 'host', 'analyst')),
    payout_authority    INTEGER NOT NULL DEFAULT 0,
    totp_secret_sealed  BLOB,
    totp_confirmed_at   TEXT,
    totp_last_step      INTEGER,
    sessions_revoked_at TEXT,
    created_at          TEXT NOT NULL,
    PRIMARY KEY (partner_id, id)
) STRICT;

CREATE TABLE recovery_codes (
    partner_id TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    digest     BLOB NOT NULL,
    used_at    TEXT,
    PRIMARY KEY (partner_id, user_id, digest),
    FOREIGN KEY (partner_id, user_id) REFERENCES staff (partner_id, id) ON DELETE CASCADE
) STRICT;

CREATE TABLE known_devices (
    partner_id  TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    fingerprint BLOB NOT NULL,
    first_seen  TEXT NOT NULL,
    PRIMARY KEY (partner_id, user_id, fingerprint),
    FOREIGN KEY (partner_id, user_id) REFERENCES staff (partner_id, id) ON DELETE CASCADE
) STRICT;

CREATE TABLE security_events (
    partner_id TEXT NOT NULL REFERENCES partners (id),
    id         TEXT NOT NULL,
    at         TEXT NOT NULL,
    user_id    TEXT,
    kind       TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (partner_id, id)
) STRICT;

CREATE TABLE audit_events (
    partner_id TEXT NOT NULL REFERENCES partners (id),
    id         TEXT NOT NULL,
    at         TEXT NOT NULL,
    actor      TEXT,
    action     TEXT NOT NULL,
    target     TEXT,
    source     TEXT,
    request_id TEXT,
    detail     TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (partner_id, id)
) STRICT;

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;

CREATE TABLE credentials (
    email_key     BLOB PRIMARY KEY,
    partner_id    TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    UNIQUE (partner_id, user_id)
) STRICT;

CREATE TABLE refresh_tokens (
    digest            BLOB PRIMARY KEY,
    parent_digest     BLOB,
    family_id         TEXT NOT NULL,
    partner_id        TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    used_at           TEXT,
    family_expires_at TEXT NOT NULL,
    revoked_at        TEXT
) STRICT;
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (partner_id, user_id);

CREATE TABLE invitations (
    digest           BLOB PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    partner_id       TEXT NOT NULL,
    email            TEXT NOT NULL,
    name             TEXT NOT NULL,
    role             TEXT NOT NULL,
    payout_authority INTEGER NOT NULL,
    invited_by       TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    expires_at       TEXT NOT NULL,
    accepted_at      TEXT
) STRICT;

CREATE TABLE outbox (
    id         TEXT PRIMARY KEY,
    partner_id TEXT,
    created_at TEXT NOT NULL,
    recipient  TEXT NOT NULL,
    subject    TEXT NOT NULL,
    body       TEXT NOT NULL,
    sent_at    TEXT
) STRICT;
CREATE INDEX outbox_pending ON outbox (created_at) WHERE sent_at IS NULL;

CREATE TABLE signing_keys (
    kid            TEXT PRIMARY KEY,
    created_at     TEXT NOT NULL,
    sealed_private BLOB NOT NULL,
    public_key     BLOB NOT NULL
) STRICT;
