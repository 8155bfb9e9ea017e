-- A refund remembers the Idempotency-Key it was asked with and a digest of what was asked, so that a retried request
-- (a dropped connection, a double click) finds the first refund instead of moving the money twice (API.md: the same
-- key with the same body returns the first answer, with another body 409). Keys are the partner's: one key names one
-- refund across all its payments. Refunds asked without a key keep NULL, which a unique index never compares.
ALTER TABLE refunds ADD COLUMN idempotency_key text;
ALTER TABLE refunds ADD COLUMN request_hash bytea;
CREATE UNIQUE INDEX refunds_idempotency ON refunds (partner_id, idempotency_key);
