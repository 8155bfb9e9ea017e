//! SQLite engine of [`OrderingStore`]: the statements are `ordering_sql.rs`, shared with PostgreSQL; here is what
//! SQLite does differently. One process serves the embedded default, so order events need no cross-instance
//! announcement, and a guest's order is priced before the single write lock is taken.

use crate::sqlite::kit::*;
use crate::sqlite_reservations::claim;

include!("ordering_sql.rs");

async fn record_event(
    conn: &mut Conn,
    partner: PartnerId,
    order: &Order,
    actor: &str,
    now: OffsetDateTime,
) -> StoreResult<()> {
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO order_events (partner_id, venue_id, order_id, status, actor, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         RETURNING seq",
    )
    .bind(h(partner.as_uuid()))
    .bind(h(order.venue_id))
    .bind(h(order.id))
    .bind(order.status.as_str())
    .bind(actor)
    .bind(ts(now))
    .fetch_one(&mut *conn)
    .await?;
    let _ = seq;
    Ok(())
}

/// Records an order event only while the order's session is open: until staff accept the table the kitchen has
/// nothing to see, and accepting records an event for each of the session's orders.
async fn record_event_if_open(
    conn: &mut Conn,
    partner: PartnerId,
    order: &Order,
    actor: &str,
    now: OffsetDateTime,
) -> StoreResult<()> {
    let open: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM table_sessions WHERE partner_id = ?1 AND id = ?2 AND status = 'open')",
    )
    .bind(h(partner.as_uuid()))
    .bind(order.session_id.map(h))
    .fetch_one(&mut *conn)
    .await?;
    if open {
        record_event(conn, partner, order, actor, now).await?;
    }
    Ok(())
}

/// Stores an order and, if it is new, its audit entry in the caller's write transaction: the table's first order
/// opens a pending session, later ones join it; a retried Idempotency-Key returns the first order.
async fn insert_order(
    engine: &Engine,
    conn: &mut Conn,
    partner: PartnerId,
    order: &NewOrder,
    audit: &AuditEntry,
    now: OffsetDateTime,
) -> StoreResult<PlaceOutcome> {
    let partner_id = partner.as_uuid();
    // The table's first order opens a pending session; later ones join it.
    sqlx::query(
        "INSERT INTO table_sessions (partner_id, id, venue_id, table_id, status, created_at)
         VALUES (?1, ?2, ?3, ?4, 'pending', ?5)
         ON CONFLICT (partner_id, table_id) WHERE status <> 'closed' DO NOTHING",
    )
    .bind(h(partner_id))
    .bind(h(Uuid::now_v7()))
    .bind(h(order.venue_id))
    .bind(h(order.table_id))
    .bind(ts(now))
    .execute(&mut *conn)
    .await
    .map_err(foreign_key_to_not_found)?;
    let session = sqlx::query_scalar::<_, uuid::fmt::Hyphenated>(
        "SELECT id FROM table_sessions WHERE partner_id = ?1 AND table_id = ?2 AND status <> 'closed'",
    )
    .bind(h(partner_id))
    .bind(h(order.table_id))
    .fetch_one(&mut *conn)
    .await?;
    let session = session.into_uuid();
    let inserted = sqlx::query(
        "INSERT INTO orders (partner_id, venue_id, id, table_id, status, lines, subtotal, currency, idempotency_key,
                             request_hash, placed_at, updated_at, session_id, device, tax, served_table_id)
         VALUES (?1, ?2, ?3, ?4, 'placed', ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11, ?12, ?13, ?14)
         ON CONFLICT (partner_id, table_id, idempotency_key) DO NOTHING RETURNING *",
    )
    .bind(h(partner_id))
    .bind(h(order.venue_id))
    .bind(h(order.id))
    .bind(h(order.table_id))
    .bind(json_text(&order.lines))
    .bind(order.subtotal.amount)
    .bind(order.subtotal.currency.code())
    .bind(&order.idempotency_key)
    .bind(&order.request_hash)
    .bind(ts(now))
    .bind(h(session))
    .bind(&order.device)
    .bind(order.tax.amount)
    .bind(order.served_table_id.map(h))
    .fetch_optional(&mut *conn)
    .await
    .map_err(foreign_key_to_not_found)?;
    if let Some(row) = inserted {
        let created = order_from_row(&row)?;
        add_to_sales(
            conn,
            partner_id,
            created.venue_id,
            now,
            created.subtotal.currency,
            &sales_of(&created),
        )
        .await?;
        add_to_item_sales(
            conn,
            partner_id,
            created.venue_id,
            now,
            &item_sales(&created.lines),
            1,
        )
        .await?;
        record_event_if_open(conn, partner, &created, "guest", now).await?;
        engine
            .insert_audit(conn, partner, &audit.targeting(created.id), now)
            .await?;
        return Ok(PlaceOutcome::Created(created));
    }
    let existing =
        sqlx::query("SELECT * FROM orders WHERE partner_id = ?1 AND table_id = ?2 AND idempotency_key = ?3")
            .bind(h(partner_id))
            .bind(h(order.table_id))
            .bind(&order.idempotency_key)
            .fetch_one(&mut *conn)
            .await?;
    replayed_order(&existing, order)
}

impl Engine {
    async fn place_priced_order(
        &self,
        scope: &TenantScope,
        draft: &OrderDraft,
        price: &PriceOrder<'_>,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Result<PlaceOutcome, ValidationErrors>> {
        // The reads and the pricing happen before the write lock is taken, so guests do not hold SQLite's single
        // writer while their order is priced; a price changed in between is the same race as a guest ordering a
        // moment earlier.
        let partner = h(scope.partner().as_uuid());
        let venue = sqlx::query("SELECT * FROM venues WHERE partner_id = ?1 AND id = ?2")
            .bind(partner)
            .bind(h(draft.venue_id))
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        let venue = venue_from_row(&venue)?;
        let bill_table = self
            .party_bill_table(scope, draft.venue_id, draft.table_id)
            .await?
            .map_or(draft.table_id, |(bill_table, _)| bill_table);
        let items = if draft.item_ids.is_empty() {
            Vec::new()
        } else {
            // A JSON array of hyphenated ids, the form ids are stored in.
            let ids = format!(
                "[{}]",
                draft
                    .item_ids
                    .iter()
                    .map(|id| format!("\"{}\"", h(*id)))
                    .collect::<Vec<_>>()
                    .join(",")
            );
            sqlx::query(
                "SELECT * FROM menu_items WHERE partner_id = ?1 AND venue_id = ?2
                   AND id IN (SELECT value FROM json_each(?3))",
            )
            .bind(partner)
            .bind(h(draft.venue_id))
            .bind(ids)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(item_from_row)
            .collect::<StoreResult<Vec<_>>>()?
        };
        let priced = match price(&venue, &items) {
            Ok((lines, subtotal)) => draft.priced(&venue, bill_table, lines, subtotal),
            Err(refusal) => return Ok(Err(refusal)),
        };
        let mut tx = self.scoped(scope).await?;
        let placed = write_priced_order(self, &mut tx, scope, Ok(priced), audit, now).await?;
        tx.commit().await?;
        Ok(placed)
    }
}

#[async_trait]
impl OrderEventFeed for Engine {
    async fn latest_order_event(&self, scope: &TenantScope, venue: Uuid) -> StoreResult<i64> {
        let newest: Option<Option<i64>> = sqlx::query_scalar(
            "SELECT (SELECT max(seq) FROM order_events WHERE partner_id = ?1 AND venue_id = ?2)
             FROM venues WHERE partner_id = ?1 AND id = ?2",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(venue))
        .fetch_optional(&self.pool)
        .await?;
        Ok(newest.ok_or(StoreError::NotFound)?.unwrap_or(0))
    }

    async fn order_event_notices(&self) -> StoreResult<Option<tokio::sync::mpsc::Receiver<(Uuid, Uuid)>>> {
        Ok(None)
    }
}
