-- An order its guests had paid for, cancelled once a refund gave the money back, keeps in the sales the part that was
-- paid (`bill::kept_on_cancel`): the refund already takes that money out of net sales, so taking the order out of
-- gross as well took it out twice (docs/analytics.md, "Cancellations"). Orders cancelled before this version keep
-- nothing: what was paid for them when they were cancelled is not recorded.
ALTER TABLE orders ADD COLUMN kept_gross bigint NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN kept_tax bigint NOT NULL DEFAULT 0;
