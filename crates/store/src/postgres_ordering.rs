//! PostgreSQL engine of [`OrderingStore`] (the statements are `ordering_sql.rs`, shared with SQLite; here is what
//! PostgreSQL does differently); every statement runs in a tenant transaction (row-level security), the
//! table directory excepted. New order events are announced with NOTIFY so every instance's kitchen streams see them.

use crate::postgres::TextLiteral;
use crate::postgres::kit::*;
use crate::postgres_reservations::claim;

/// The channel order events are announced on: payload `partner:venue:seq`.
pub const ORDER_EVENTS_CHANNEL: &str = "comanda_order_events";

include!("ordering_sql.rs");

async fn record_event(
    conn: &mut Conn,
    partner: PartnerId,
    order: &Order,
    actor: &str,
    now: OffsetDateTime,
) -> StoreResult<()> {
    insert_event(conn, partner, order, actor, now, false).await
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
    insert_event(conn, partner, order, actor, now, true).await
}

/// The event row and its announcement (NOTIFY, delivered at commit to every instance listening) in one statement:
/// the check that the session is open, the insert and the NOTIFY cost one round trip together. The event's number
/// comes from the venue's head row, which stays locked until this transaction commits: at one venue, numbers are
/// given in commit order, so a reader that passed a number has seen every event below it (migration 0010).
async fn insert_event(
    conn: &mut Conn,
    partner: PartnerId,
    order: &Order,
    actor: &str,
    now: OffsetDateTime,
    only_if_open: bool,
) -> StoreResult<()> {
    sqlx::query(
        "WITH numbered AS (
             INSERT INTO venue_event_heads (partner_id, venue_id, last_seq)
             SELECT $1, $2, 1
             WHERE NOT $7 OR EXISTS
                 (SELECT 1 FROM table_sessions WHERE partner_id = $1 AND id = $8 AND status = 'open')
             ON CONFLICT (partner_id, venue_id) DO UPDATE SET last_seq = venue_event_heads.last_seq + 1
             RETURNING last_seq),
         recorded AS (
             INSERT INTO order_events (partner_id, venue_id, seq, order_id, status, actor, at)
             SELECT $1, $2, last_seq, $3, $4, $5, $6 FROM numbered
             RETURNING seq)
         SELECT pg_notify($9, $10 || seq::text) FROM recorded",
    )
    .bind(partner.as_uuid())
    .bind(order.venue_id)
    .bind(order.id)
    .bind(order.status.as_str())
    .bind(actor)
    .bind(now)
    .bind(only_if_open)
    .bind(order.session_id)
    .bind(ORDER_EVENTS_CHANNEL)
    .bind(format!("{partner}:{}:", order.venue_id))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Stores an order and, if it is new, its audit entry in the caller's tenant transaction: the table's first order
/// opens a pending session, later ones join it; a retried Idempotency-Key returns the first order. On the way to a
/// new order everything is one statement (session, order, its sales roll-ups, kitchen event and its NOTIFY, the
/// audit entry), because on this path every round trip is latency the guest waits for, and the venue's event head
/// and roll-up rows, locks at the venue's grain, are held from that statement until commit: one round trip less
/// there is more orders a second for a busy venue. An entry with a client address to seal (a member's) is
/// written after it.
async fn insert_order(
    engine: &Engine,
    conn: &mut Conn,
    partner: PartnerId,
    order: &NewOrder,
    audit: &AuditEntry,
    now: OffsetDateTime,
) -> StoreResult<PlaceOutcome> {
    let partner_id = partner.as_uuid();
    let items = comanda_domain::analytics::item_sales(&order.lines);
    let audit = audit.targeting(order.id);
    let audited_here = audit.source.is_none();
    // Twice at most: the session's read shares the statement's snapshot, so when another guest opened the table's
    // session at the same instant (committed after that snapshot) nothing is placed, and the second run sees it.
    for _ in 0..2 {
        let placed = sqlx::query(
            "WITH opened AS (
                 INSERT INTO table_sessions (partner_id, id, venue_id, table_id, status, created_at)
                 VALUES ($1, $2, $3, $4, 'pending', $5)
                 ON CONFLICT (partner_id, table_id) WHERE status <> 'closed' DO NOTHING
                 RETURNING id, status),
             live AS (
                 SELECT id, status FROM opened
                 UNION ALL
                 SELECT id, status FROM table_sessions WHERE partner_id = $1 AND table_id = $4 AND status <> 'closed'
                 LIMIT 1),
             placed AS (
                 INSERT INTO orders (partner_id, venue_id, id, table_id, status, lines, subtotal, currency,
                                     idempotency_key, request_hash, placed_at, updated_at, session_id, device, tax,
                                     served_table_id)
                 SELECT $1, $3, $6, $4, 'placed', $7, $8, $9, $10, $11, $5, $5, live.id, $12, $16, $20 FROM live
                 ON CONFLICT (partner_id, table_id, idempotency_key) DO NOTHING
                 RETURNING *),
             numbered AS (
                 INSERT INTO venue_event_heads (partner_id, venue_id, last_seq)
                 SELECT $1, $3, 1 FROM placed, live WHERE live.status = 'open'
                 ON CONFLICT (partner_id, venue_id) DO UPDATE SET last_seq = venue_event_heads.last_seq + 1
                 RETURNING last_seq),
             recorded AS (
                 INSERT INTO order_events (partner_id, venue_id, seq, order_id, status, actor, at)
                 SELECT $1, $3, numbered.last_seq, placed.id, 'placed', 'guest', $5 FROM placed, numbered
                 RETURNING seq),
             -- After the event (it reads `recorded`), so the venue's event head is always taken before its roll-up
             -- row, as the cancellations take them.
             counted AS (
                 INSERT INTO sales_quarters (partner_id, venue_id, quarter, currency, gross, tax, refunds, tips,
                                             collected, orders)
                 SELECT $1, $3, $15, $9, $8, $16, 0, 0, 0, 1 FROM placed, (SELECT count(*) FROM recorded) AS evented
                 ON CONFLICT (partner_id, venue_id, quarter) DO UPDATE SET
                     gross = sales_quarters.gross + excluded.gross, tax = sales_quarters.tax + excluded.tax,
                     orders = sales_quarters.orders + excluded.orders
                 RETURNING 1),
             -- The product mix after the sales row (it reads `counted`), items in id order.
             itemised AS (
                 INSERT INTO item_sales_quarters (partner_id, venue_id, quarter, item_id, quantity, sales)
                 SELECT $1, $3, $15, item.id, item.quantity, item.sales
                 FROM placed, (SELECT count(*) FROM counted) AS rolled,
                      unnest($17::uuid[], $18::bigint[], $19::bigint[]) WITH ORDINALITY AS item(id, quantity, sales, n)
                 ORDER BY item.n
                 ON CONFLICT (partner_id, venue_id, quarter, item_id) DO UPDATE SET
                     quantity = item_sales_quarters.quantity + excluded.quantity,
                     sales = item_sales_quarters.sales + excluded.sales),
             audited AS (
                 INSERT INTO audit_pending (partner_id, id, at, actor, action, target, source, request_id, detail)
                 SELECT $1, $21, $5, $22, $23, $24, NULL, $25, $26 FROM placed WHERE $27
                 RETURNING 1)
             SELECT placed.*, (SELECT count(pg_notify($13, $14 || seq::text)) FROM recorded) AS announced
             FROM placed",
        )
        .bind(partner_id)
        .bind(Uuid::now_v7())
        .bind(order.venue_id)
        .bind(order.table_id)
        .bind(now)
        .bind(order.id)
        .bind(json_text(&order.lines))
        .bind(order.subtotal.amount)
        .bind(order.subtotal.currency.code())
        .bind(&order.idempotency_key)
        .bind(&order.request_hash)
        .bind(&order.device)
        .bind(ORDER_EVENTS_CHANNEL)
        .bind(format!("{partner}:{}:", order.venue_id))
        .bind(comanda_domain::analytics::utc_quarter(now))
        .bind(order.tax.amount)
        .bind(items.iter().map(|i| i.item_id).collect::<Vec<_>>())
        .bind(items.iter().map(|i| i.quantity).collect::<Vec<_>>())
        .bind(items.iter().map(|i| i.sales).collect::<Vec<_>>())
        .bind(order.served_table_id)
        .bind(Uuid::now_v7())
        .bind(audit.actor)
        .bind(&audit.action)
        .bind(&audit.target)
        .bind(&audit.request_id)
        .bind(&audit.detail)
        .bind(audited_here)
        .fetch_optional(&mut *conn)
        .await
        .map_err(foreign_key_to_not_found)?;
        if let Some(row) = placed {
            if !audited_here {
                engine.insert_audit(conn, partner, &audit, now).await?;
            }
            return Ok(PlaceOutcome::Created(order_from_row(&row)?));
        }
        let existing = sqlx::query(
            "SELECT * FROM orders WHERE partner_id = $1 AND table_id = $2 AND idempotency_key = $3",
        )
        .bind(partner_id)
        .bind(order.table_id)
        .bind(&order.idempotency_key)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(existing) = existing {
            return replayed_order(&existing, order);
        }
    }
    Err(StoreError::Conflict(
        "the table's session changed twice while the order was placed; try again".into(),
    ))
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
        let partner = scope.partner().as_uuid();
        let mut tx = self.scoped(scope).await?;
        // The venue, the party bill the scanned table may be joined to, and the named items in one round trip: one
        // row per item found, or one row of the venue alone.
        static VENUE_PARTY_ITEMS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            format!(
                "SELECT v.partner_id AS v_partner_id, v.id AS v_id, v.name AS v_name, v.timezone AS v_timezone,
                        v.address AS v_address, v.currency AS v_currency, v.tax_kind AS v_tax_kind,
                        v.tax_rate_bp AS v_tax_rate_bp, v.created_at AS v_created_at,
                        v.day_start_hour AS v_day_start_hour, party.bill_table_id, i.*
                 FROM venues v
                 LEFT JOIN LATERAL ({PARTY_BILL_TABLE}) party ON true
                 LEFT JOIN menu_items i ON i.partner_id = v.partner_id AND i.venue_id = v.id AND i.id = ANY($5)
                 WHERE v.partner_id = $1 AND v.id = $2"
            )
        });
        let rows = sqlx::query(VENUE_PARTY_ITEMS.as_str())
            .bind(partner)
            .bind(draft.venue_id)
            .bind(party_table_pattern(draft.table_id))
            .bind(draft.table_id)
            .bind(&draft.item_ids)
            .fetch_all(&mut *tx)
            .await?;
        let first = rows.first().ok_or(StoreError::NotFound)?;
        let venue = crate::postgres::venue_from_prefixed_row(first, "v_")?;
        let bill_table = first
            .try_get::<Option<Uuid>, _>("bill_table_id")?
            .unwrap_or(draft.table_id);
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            if row.try_get::<Option<Uuid>, _>("id")?.is_some() {
                items.push(item_from_row(row)?);
            }
        }
        let priced =
            price(&venue, &items).map(|(lines, subtotal)| draft.priced(&venue, bill_table, lines, subtotal));
        let placed = write_priced_order(self, &mut tx, scope, priced, audit, now).await?;
        // A refusal has only read: dropping the transaction rolls it back.
        if placed.is_ok() {
            tx.commit().await?;
        }
        Ok(placed)
    }
}

#[async_trait]
impl OrderEventFeed for Engine {
    async fn latest_order_event(&self, scope: &TenantScope, venue: Uuid) -> StoreResult<i64> {
        let (partner, venue) = (
            TextLiteral::from(scope.partner().as_uuid()),
            TextLiteral::from(venue),
        );
        let rows = self
            .read_as_tenant(
                scope,
                &format!(
                    "SELECT (SELECT max(seq) FROM order_events WHERE partner_id = {partner} AND venue_id = {venue})
                            AS newest
                     FROM venues WHERE partner_id = {partner} AND id = {venue}"
                ),
            )
            .await?;
        let row = rows.first().ok_or(StoreError::NotFound)?;
        Ok(row.try_get::<Option<i64>, _>("newest")?.unwrap_or(0))
    }

    async fn order_event_notices(&self) -> StoreResult<Option<tokio::sync::mpsc::Receiver<(Uuid, Uuid)>>> {
        // Its own single-connection pool: the listener's connection never competes with request traffic.
        let options = (*self.pool.connect_options()).clone();
        let own_pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        let mut listener = sqlx::postgres::PgListener::connect_with(&own_pool).await?;
        listener.listen(ORDER_EVENTS_CHANNEL).await?;
        let (sender, receiver) = tokio::sync::mpsc::channel(1024);
        tokio::spawn(async move {
            loop {
                // `recv` reconnects by itself after a lost connection.
                match listener.recv().await {
                    Ok(notification) => {
                        let mut parts = notification.payload().split(':');
                        let partner = parts.next().and_then(|p| p.parse::<Uuid>().ok());
                        let venue = parts.next().and_then(|v| v.parse::<Uuid>().ok());
                        if let (Some(partner), Some(venue)) = (partner, venue)
                            && sender.send((partner, venue)).await.is_err()
                        {
                            return;
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "order event listener interrupted");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Ok(Some(receiver))
    }
}
