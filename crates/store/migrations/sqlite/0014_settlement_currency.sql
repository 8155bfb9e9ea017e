-- What a transfer sent and what of it was the tip, in the platform's settlement currency (the source charge's
-- balance transaction), next to the amounts in the charge's currency.
ALTER TABLE transfers ADD COLUMN settled_amount INTEGER;
ALTER TABLE transfers ADD COLUMN settled_currency TEXT;
ALTER TABLE tip_ledger ADD COLUMN settled_amount INTEGER;
ALTER TABLE tip_ledger ADD COLUMN settled_currency TEXT;
