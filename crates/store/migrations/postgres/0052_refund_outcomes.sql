-- Stripe settles a refund when the card's bank answers (docs.stripe.com/refunds#failed-refunds): `pending` until
-- then, and a refund it first answered `succeeded` may still fail days later (its money comes back to the platform's
-- balance). What the refund's transfer reversal took back from the partner, in the currency Stripe moved it in, is
-- kept so that a refund failing after it can give the partner that share back: `restored_transfer` is the transfer
-- that did (NULL while it is owed).
ALTER TABLE refunds ADD COLUMN reversal_amount bigint;
ALTER TABLE refunds ADD COLUMN reversal_currency text;
ALTER TABLE refunds ADD COLUMN restored_transfer text;
