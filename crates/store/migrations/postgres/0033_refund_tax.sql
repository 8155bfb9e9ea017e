-- Net sales are sales before tax, so a refund takes back its sales part before tax: each refund keeps the tax its
-- sales part carries (`bill::refund_tax`, the bill's own proportion), and each roll-up row the tax of the refunds it
-- counts (docs/analytics.md, "Refunds"). Before this, net sales subtracted refunds with their tax still in them.
ALTER TABLE refunds ADD COLUMN tax_part bigint NOT NULL DEFAULT 0;
ALTER TABLE sales_quarters ADD COLUMN refund_tax bigint NOT NULL DEFAULT 0;

-- Earlier refunds and roll-ups are given theirs across every partner: the owner lifts the tenant wall for this
-- transaction only (row-level security stays on for every other role and comes back before it commits).
ALTER TABLE refunds NO FORCE ROW LEVEL SECURITY;
ALTER TABLE sales_quarters NO FORCE ROW LEVEL SECURITY;
ALTER TABLE payments NO FORCE ROW LEVEL SECURITY;
ALTER TABLE orders NO FORCE ROW LEVEL SECURITY;

UPDATE refunds r
   SET tax_part = LEAST(b.tax, r.amount - r.tip_reversal,
                        div((r.amount - r.tip_reversal)::numeric * b.tax * 2 + b.subtotal, 2 * b.subtotal::numeric))
  FROM payments p,
       LATERAL (SELECT sum(o.subtotal) AS subtotal, sum(o.tax) AS tax FROM orders o
                 WHERE o.partner_id = p.partner_id AND o.session_id = p.session_id AND o.status <> 'cancelled') b
 WHERE p.partner_id = r.partner_id AND p.id = r.payment_id AND b.subtotal > 0 AND b.tax > 0
   AND r.amount > r.tip_reversal;

UPDATE sales_quarters q
   SET refund_tax = s.tax
  FROM (SELECT r.partner_id, p.venue_id,
               date_bin('15 minutes', r.completed_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS quarter,
               sum(r.tax_part) AS tax
          FROM refunds r JOIN payments p ON p.partner_id = r.partner_id AND p.id = r.payment_id
         WHERE r.status = 'succeeded'
         GROUP BY 1, 2, 3) s
 WHERE q.partner_id = s.partner_id AND q.venue_id = s.venue_id AND q.quarter = s.quarter;

ALTER TABLE refunds FORCE ROW LEVEL SECURITY;
ALTER TABLE sales_quarters FORCE ROW LEVEL SECURITY;
ALTER TABLE payments FORCE ROW LEVEL SECURITY;
ALTER TABLE orders FORCE ROW LEVEL SECURITY;
