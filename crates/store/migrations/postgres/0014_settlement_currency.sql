-- What a transfer sent and what of it was the tip, in the platform's settlement currency (the source charge's
-- balance transaction), next to the amounts in the charge's currency.
ALTER TABLE transfers ADD COLUMN settled_amount bigint, ADD COLUMN settled_currency text;
ALTER TABLE tip_ledger ADD COLUMN settled_amount bigint, ADD COLUMN settled_currency text;
