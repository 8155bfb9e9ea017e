-- Refunds completed before 0052 are given what their reversal moved where it can be known: see the PostgreSQL
-- migration of the same number.
UPDATE refunds
   SET reversal_amount = transfer_reversal, reversal_currency = lower(currency)
 WHERE stripe_reversal IS NOT NULL AND reversal_amount IS NULL
   AND EXISTS (SELECT 1 FROM transfers t
                WHERE t.partner_id = refunds.partner_id AND t.payment_id = refunds.payment_id
                  AND (t.settled_currency IS NULL OR t.settled_currency = lower(t.currency)));
