-- A refund remembers its Idempotency-Key: see the PostgreSQL migration of the same number.
ALTER TABLE refunds ADD COLUMN idempotency_key TEXT;
ALTER TABLE refunds ADD COLUMN request_hash BLOB;
CREATE UNIQUE INDEX refunds_idempotency ON refunds (partner_id, idempotency_key);
