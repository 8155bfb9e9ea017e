-- Identity and access. Staff and everything per-partner live behind row-level security. Three credential
-- directories are platform tables, because they are how a request finds its partner in the first place: a login
-- email, a refresh token, an invitation token. They are looked up only by a keyed digest of the secret the caller
-- presents (never listed), and hold no personal data beyond the digest.

CREATE TABLE staff (
    partner_id          uuid NOT NULL REFERENCES partners (id),
    id                  uuid NOT NULL,
    email               text NOT NULL,
    name                text NOT NULL,
    role                text NOT NULL CHECK (role IN ('owner', 'manager', 'server', 'kitchen', 'host', 'analyst')),
    payout_authority    boolean NOT NULL DEFAULT false,
    totp_secret_sealed  bytea,
    totp_confirmed_at   timestamptz,
    totp_last_step      bigint,
    sessions_revoked_at timestamptz,
    created_at          timestamptz NOT NULL,
    PRIMARY KEY (partner_id, id)
);

CREATE TABLE recovery_codes (
    partner_id uuid NOT NULL,
    user_id    uuid NOT NULL,
    digest     bytea NOT NULL,
    used_at    timestamptz,
    PRIMARY KEY (partner_id, user_id, digest),
    FOREIGN KEY (partner_id, user_id) REFERENCES staff (partner_id, id) ON DELETE CASCADE
);

CREATE TABLE known_devices (
    partner_id  uuid NOT NULL,
    user_id     uuid NOT NULL,
    fingerprint bytea NOT NULL,
    first_seen  timestamptz NOT NULL,
    PRIMARY KEY (partner_id, user_id, fingerprint),
    FOREIGN KEY (partner_id, user_id) REFERENCES staff (partner_id, id) ON DELETE CASCADE
);

CREATE TABLE security_events (
    partner_id uuid NOT NULL REFERENCES partners (id),
    id         uuid NOT NULL,
    at         timestamptz NOT NULL,
    user_id    uuid,
    kind       text NOT NULL,
    detail     text NOT NULL DEFAULT '',
    PRIMARY KEY (partner_id, id)
);

-- Append-only: the serving role may insert and read, never change or delete (enforced by the trigger below too).
CREATE TABLE audit_events (
    partner_id uuid NOT NULL REFERENCES partners (id),
    id         uuid NOT NULL,
    at         timestamptz NOT NULL,
    actor      uuid,
    action     text NOT NULL,
    target     text,
    source     text,
    request_id text,
    detail     text NOT NULL DEFAULT '',
    PRIMARY KEY (partner_id, id)
);

CREATE FUNCTION comanda_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END $$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION comanda_refuse_change();

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['staff', 'recovery_codes', 'known_devices', 'security_events', 'audit_events'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (partner_id = comanda_current_tenant())
                        WITH CHECK (partner_id = comanda_current_tenant())', t);
    END LOOP;
END $$;

-- Credential directories (platform tables, see above).
CREATE TABLE credentials (
    email_key     bytea PRIMARY KEY,
    partner_id    uuid NOT NULL,
    user_id       uuid NOT NULL,
    password_hash text NOT NULL,
    updated_at    timestamptz NOT NULL,
    UNIQUE (partner_id, user_id)
);

CREATE TABLE refresh_tokens (
    digest            bytea PRIMARY KEY,
    parent_digest     bytea,
    family_id         uuid NOT NULL,
    partner_id        uuid NOT NULL,
    user_id           uuid NOT NULL,
    created_at        timestamptz NOT NULL,
    used_at           timestamptz,
    family_expires_at timestamptz NOT NULL,
    revoked_at        timestamptz
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (partner_id, user_id);

CREATE TABLE invitations (
    digest           bytea PRIMARY KEY,
    id               uuid NOT NULL UNIQUE,
    partner_id       uuid NOT NULL,
    email            text NOT NULL,
    name             text NOT NULL,
    role             text NOT NULL,
    payout_authority boolean NOT NULL,
    invited_by       uuid NOT NULL,
    created_at       timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    accepted_at      timestamptz
);

CREATE TABLE outbox (
    id         uuid PRIMARY KEY,
    partner_id uuid,
    created_at timestamptz NOT NULL,
    recipient  text NOT NULL,
    subject    text NOT NULL,
    body       text NOT NULL,
    sent_at    timestamptz
);
CREATE INDEX outbox_pending ON outbox (created_at) WHERE sent_at IS NULL;

CREATE TABLE signing_keys (
    kid            text PRIMARY KEY,
    created_at     timestamptz NOT NULL,
    sealed_private bytea NOT NULL,
    public_key     bytea NOT NULL
);
