-- Refunds keep the tax their sales part carries, roll-ups the tax of the refunds they count: see the PostgreSQL
-- migration of the same number. A roll-up's quarter is the RFC 3339 text of its UTC quarter-hour.
ALTER TABLE refunds ADD COLUMN tax_part INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sales_quarters ADD COLUMN refund_tax INTEGER NOT NULL DEFAULT 0;

UPDATE refunds
   SET tax_part = coalesce((
       -- A product past 2^63 turns into a float in SQLite: the cast brings the quotient back to an integer (the
       -- floor, as the integer division does), which the STRICT column requires.
       SELECT min(b.tax, refunds.amount - refunds.tip_reversal,
                  CAST(((refunds.amount - refunds.tip_reversal) * b.tax * 2 + b.subtotal) / (2 * b.subtotal)
                       AS INTEGER))
         FROM payments p,
              (SELECT o.partner_id, o.session_id, sum(o.subtotal) AS subtotal, sum(o.tax) AS tax FROM orders o
                WHERE o.status <> 'cancelled' GROUP BY o.partner_id, o.session_id) b
        WHERE p.partner_id = refunds.partner_id AND p.id = refunds.payment_id
          AND b.partner_id = p.partner_id AND b.session_id = p.session_id), 0)
 WHERE amount > tip_reversal
   AND EXISTS (SELECT 1 FROM payments p JOIN orders o ON o.partner_id = p.partner_id AND o.session_id = p.session_id
                WHERE p.partner_id = refunds.partner_id AND p.id = refunds.payment_id AND o.status <> 'cancelled'
                  AND o.tax > 0 AND o.subtotal > 0);

UPDATE sales_quarters
   SET refund_tax = coalesce((
       SELECT sum(r.tax_part)
         FROM refunds r JOIN payments p ON p.partner_id = r.partner_id AND p.id = r.payment_id
        WHERE r.partner_id = sales_quarters.partner_id AND p.venue_id = sales_quarters.venue_id
          AND r.status = 'succeeded'
          AND strftime('%Y-%m-%dT%H:', r.completed_at)
              || printf('%02d', CAST(strftime('%M', r.completed_at) AS INTEGER) / 15 * 15) || ':00Z'
              = sales_quarters.quarter), 0)
 WHERE sales_quarters.refunds > 0;
