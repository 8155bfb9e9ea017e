-- Analytics roll-ups (issue 19, docs/analytics.md "How it is kept fast"): one row per venue and UTC quarter-hour,
-- moved in the same transaction as the change that moves it (an order placed or cancelled, a payment succeeding, a
-- tip recorded, a refund completed), so dashboards read these and never scan orders. Business days and local hours
-- are computed from `quarter` when a report is read, in the venue's zone.
--
-- `orders.tax` keeps the tax contained in each order (computed as the bill computes it), so a cancellation removes
-- exactly what the order added. Orders placed before this migration keep 0 and are not in the roll-ups: comanda had
-- no analytics before it, so no report ever read them.
ALTER TABLE orders ADD COLUMN tax bigint NOT NULL DEFAULT 0;

CREATE TABLE sales_quarters (
    partner_id uuid NOT NULL,
    venue_id   uuid NOT NULL,
    quarter    timestamptz NOT NULL,
    currency   char(3) NOT NULL,
    gross      bigint NOT NULL,
    tax        bigint NOT NULL,
    refunds    bigint NOT NULL,
    tips       bigint NOT NULL,
    collected  bigint NOT NULL,
    orders     bigint NOT NULL,
    PRIMARY KEY (partner_id, venue_id, quarter),
    FOREIGN KEY (partner_id, venue_id) REFERENCES venues (partner_id, id)
);
ALTER TABLE sales_quarters ENABLE ROW LEVEL SECURITY;
ALTER TABLE sales_quarters FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON sales_quarters USING (partner_id = comanda_current_tenant())
    WITH CHECK (partner_id = comanda_current_tenant());

-- The raw reads a recomputation (and the benchmark's raw comparison) makes, by time.
CREATE INDEX payments_by_success ON payments (partner_id, succeeded_at) WHERE status = 'succeeded';
CREATE INDEX refunds_by_completion ON refunds (partner_id, completed_at) WHERE status = 'succeeded';
