-- Requests sent with an Idempotency-Key and their answers: see the PostgreSQL migration of the same number.
CREATE TABLE idempotency_records (
    partner_id      TEXT NOT NULL,
    member_id       TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    id              TEXT NOT NULL,
    request_hash    BLOB NOT NULL,
    status          INTEGER,
    content_type    TEXT,
    body            TEXT,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (partner_id, member_id, idempotency_key)
) STRICT;
