//! PostgreSQL engine of [`PaymentStore`]: the statements and rules are `payments_sql.rs`, shared with SQLite; this
//! file holds only what PostgreSQL does differently. Tenant data runs in tenant transactions (row-level security)
//! and the rows a decision depends on are locked `FOR UPDATE`; the platform directories (payment and account
//! directories, processed events, alerts) are not tenant data.

use crate::postgres::kit::*;

/// Each session's bill against its payments (cards, and cash servers recorded), in the order of an array of session ids.
/// `paid` leaves out what cancelled orders kept (`orders.kept_gross`), at most what refunds not failed gave back:
/// money a refund returned before its order was cancelled no longer pays for the rest of the bill (a refund that
/// failed returned nothing).
const BALANCES: &str = "SELECT (SELECT CAST(COALESCE(sum(subtotal), 0) AS BIGINT) FROM orders
                  WHERE partner_id = $1 AND session_id = s.id AND status <> 'cancelled') AS total,
                (SELECT min(currency) FROM orders WHERE partner_id = $1 AND session_id = s.id) AS currency,
                (SELECT CAST(COALESCE(sum(share), 0) AS BIGINT) FROM payments
                  WHERE partner_id = $1 AND session_id = s.id AND status = 'succeeded')
                + (SELECT CAST(COALESCE(sum(amount), 0) AS BIGINT) FROM cash_payments
                    WHERE partner_id = $1 AND session_id = s.id AND voided_at IS NULL)
                - LEAST((SELECT CAST(COALESCE(sum(kept_gross), 0) AS BIGINT) FROM orders
                        WHERE partner_id = $1 AND session_id = s.id AND status = 'cancelled'),
                       (SELECT CAST(COALESCE(sum(r.amount - r.tip_reversal), 0) AS BIGINT)
                          FROM refunds r JOIN payments p ON p.partner_id = r.partner_id AND p.id = r.payment_id
                         WHERE r.partner_id = $1 AND p.session_id = s.id AND r.status IN ('pending', 'succeeded')))
                  AS paid,
                (SELECT CAST(COALESCE(sum(share), 0) AS BIGINT) FROM payments
                  WHERE partner_id = $1 AND session_id = s.id AND status = 'pending') AS held,
                (SELECT CAST(COALESCE(sum(r.amount), 0) AS BIGINT)
                   FROM refunds r JOIN payments p ON p.partner_id = r.partner_id AND p.id = r.payment_id
                  WHERE r.partner_id = $1 AND p.session_id = s.id AND r.status IN ('pending', 'succeeded')) AS refunded,
                (SELECT CAST(COALESCE(sum(amount), 0) AS BIGINT) FROM cash_payments
                  WHERE partner_id = $1 AND session_id = s.id AND voided_at IS NULL) AS cash
         FROM unnest($2::uuid[]) WITH ORDINALITY AS s(id, position)
         ORDER BY s.position";

fn session_list(sessions: &[Uuid]) -> Vec<Uuid> {
    sessions.to_vec()
}

impl Engine {
    /// A webhook event naming a partner runs in that tenant's transaction; one naming none only touches platform
    /// tables.
    async fn event_tx(
        &self,
        scope: Option<&TenantScope>,
    ) -> StoreResult<sqlx::Transaction<'_, sqlx::Postgres>> {
        match scope {
            Some(scope) => self.scoped(scope).await,
            None => Ok(self.pool.begin().await?),
        }
    }
}

include!("payments_sql.rs");
