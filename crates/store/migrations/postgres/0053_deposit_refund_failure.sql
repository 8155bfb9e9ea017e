-- A deposit's refund ends when the card's bank answers (docs.stripe.com/refunds#failed-refunds): one Stripe first
-- took may fail days later, its money back on the platform's balance and the guest never paid back. The deposit
-- stays `refunded` (its booking's decision is made) and keeps why the refund failed, once, so the venue is told once
-- and gives it back another way.
ALTER TABLE reservation_deposits ADD COLUMN refund_failure text;
