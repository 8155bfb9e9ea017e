-- Who declined (or, as its requester, withdrew) a refund that awaited approval. A declined refund ends `failed`
-- like one the payment provider refused; this column tells them apart, so a retry of the request is told it was
-- declined rather than that the provider refused it.
ALTER TABLE refunds ADD COLUMN declined_by TEXT;
-- Refunds declined before this version said who in `failure` ("declined by <member id>").
UPDATE refunds SET declined_by = substr(failure, 13), failure = 'declined'
 WHERE status = 'failed' AND failure LIKE 'declined by %';
