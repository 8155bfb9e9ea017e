-- A state-changing request a member sent with an Idempotency-Key (API.md: the same key with the same body returns
-- the first answer, with another body 409): the digest of what was asked and, once answered, the answer's status,
-- media type and body, the body sealed with the member's own key (an answer may carry personal data, or a secret
-- shown once). A row without a status is a request still being answered. Keys are a member's own, as Stripe's are
-- an API key's; rows older than 24 hours are deleted when the member next sends a key, by an erasure (the member's)
-- and by offboarding (the partner's).
CREATE TABLE idempotency_records (
    partner_id      uuid NOT NULL,
    member_id       uuid NOT NULL,
    idempotency_key text NOT NULL,
    id              uuid NOT NULL,
    request_hash    bytea NOT NULL,
    status          integer,
    content_type    text,
    body            text,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (partner_id, member_id, idempotency_key)
);
ALTER TABLE idempotency_records ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_records FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON idempotency_records USING (partner_id = comanda_current_tenant())
    WITH CHECK (partner_id = comanda_current_tenant());
