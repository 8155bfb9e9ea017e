-- A deposit's refund that failed at the card's bank: see the PostgreSQL migration of the same number.
ALTER TABLE reservation_deposits ADD COLUMN refund_failure TEXT;
