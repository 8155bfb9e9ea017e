-- Refunds Stripe settles later: see the PostgreSQL migration of the same number.
ALTER TABLE refunds ADD COLUMN reversal_amount INTEGER;
ALTER TABLE refunds ADD COLUMN reversal_currency TEXT;
ALTER TABLE refunds ADD COLUMN restored_transfer TEXT;
