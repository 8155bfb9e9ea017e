//! SQLite engine of [`PaymentStore`]: the statements and rules are `payments_sql.rs`, shared with PostgreSQL; this
//! file holds only what SQLite does differently. Writes are serialised by `BEGIN IMMEDIATE` (the single writer is the
//! lock parallel payers queue on), so rows need no `FOR UPDATE`; identifiers are stored as hyphenated text.

use crate::sqlite::kit::*;

/// Each session's bill against its payments (cards, and cash servers recorded), in the order of a JSON array of session ids.
/// `paid` leaves out what cancelled orders kept (`orders.kept_gross`), at most what refunds not failed gave back:
/// money a refund returned before its order was cancelled no longer pays for the rest of the bill (a refund that
/// failed returned nothing).
const BALANCES: &str = "SELECT (SELECT COALESCE(sum(subtotal), 0) FROM orders
                  WHERE partner_id = $1 AND session_id = s.value AND status <> 'cancelled') AS total,
                (SELECT min(currency) FROM orders WHERE partner_id = $1 AND session_id = s.value) AS currency,
                (SELECT COALESCE(sum(share), 0) FROM payments
                  WHERE partner_id = $1 AND session_id = s.value AND status = 'succeeded')
                + (SELECT COALESCE(sum(amount), 0) FROM cash_payments
                    WHERE partner_id = $1 AND session_id = s.value AND voided_at IS NULL)
                - min((SELECT COALESCE(sum(kept_gross), 0) FROM orders
                        WHERE partner_id = $1 AND session_id = s.value AND status = 'cancelled'),
                       (SELECT COALESCE(sum(r.amount - r.tip_reversal), 0)
                          FROM refunds r JOIN payments p ON p.partner_id = r.partner_id AND p.id = r.payment_id
                         WHERE r.partner_id = $1 AND p.session_id = s.value AND r.status IN ('pending', 'succeeded')))
                  AS paid,
                (SELECT COALESCE(sum(share), 0) FROM payments
                  WHERE partner_id = $1 AND session_id = s.value AND status = 'pending') AS held,
                (SELECT CAST(COALESCE(sum(r.amount), 0) AS BIGINT)
                   FROM refunds r JOIN payments p ON p.partner_id = r.partner_id AND p.id = r.payment_id
                  WHERE r.partner_id = $1 AND p.session_id = s.value AND r.status IN ('pending', 'succeeded')) AS refunded,
                (SELECT COALESCE(sum(amount), 0) FROM cash_payments
                  WHERE partner_id = $1 AND session_id = s.value AND voided_at IS NULL) AS cash
         FROM json_each($2) AS s
         ORDER BY s.key";

/// A JSON array of hyphenated ids, the form ids are stored in.
fn session_list(sessions: &[Uuid]) -> String {
    let ids: Vec<String> = sessions.iter().map(|id| format!("\"{}\"", h(id))).collect();
    format!("[{}]", ids.join(","))
}

impl Engine {
    /// A webhook event is a write either way (it is recorded): through the write gate.
    async fn event_tx(&self, _scope: Option<&TenantScope>) -> StoreResult<crate::sqlite::WriteTx<'_>> {
        self.write_tx().await
    }
}

include!("payments_sql.rs");
