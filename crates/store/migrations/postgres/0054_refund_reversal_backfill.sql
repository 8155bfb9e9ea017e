-- Refunds completed before 0052 kept the id of their transfer reversal but not what it moved, so one of them failing
-- now could not give the partner its share back. Where the transfer went out in the charge's own currency the
-- reversal moved exactly the refund's share of it (`transfer_reversal`): those rows are given that amount. A transfer
-- settled in another currency cannot be recomputed here (the conversion and rounding were Stripe's): those keep no
-- amount, and the alert on their failure sends the operator to the transfer at Stripe.
-- Across every partner: the owner lifts the tenant wall for this transaction only, as 0033 does.
ALTER TABLE refunds NO FORCE ROW LEVEL SECURITY;
ALTER TABLE transfers NO FORCE ROW LEVEL SECURITY;

UPDATE refunds r
   SET reversal_amount = r.transfer_reversal, reversal_currency = lower(r.currency)
  FROM transfers t
 WHERE t.partner_id = r.partner_id AND t.payment_id = r.payment_id
   AND r.stripe_reversal IS NOT NULL AND r.reversal_amount IS NULL
   AND (t.settled_currency IS NULL OR t.settled_currency = lower(t.currency));

ALTER TABLE refunds FORCE ROW LEVEL SECURITY;
ALTER TABLE transfers FORCE ROW LEVEL SECURITY;
