//! PostgreSQL engine of [`OrderingStore`]; every statement runs in a tenant transaction (row-level security), the
//! table directory excepted. New order events are announced with NOTIFY so every instance's kitchen streams see them.

use async_trait::async_trait;
use comanda_domain::menu::{Localized, MenuItem};
use comanda_domain::{Currency, Money, OrderStatus, Page, PageRequest, PartnerId, ValidationErrors};
use comanda_security::TenantScope;
use comanda_security::table_token::TableEntry;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::identity::AuditEntry;
use crate::ordering::{
    Category, NewOrder, Order, OrderDraft, OrderEvent, OrderEventFeed, OrderingStore, PlaceOutcome,
    PriceOrder, SessionStatus, TableSession, VenueTable, json_from, json_text, status_from,
};
use crate::postgres::{PgStore, TextLiteral};
use crate::{StoreError, StoreResult};

/// The channel order events are announced on: payload `partner:venue:seq`.
pub const ORDER_EVENTS_CHANNEL: &str = "comanda_order_events";

fn table_from_row(row: &PgRow) -> StoreResult<VenueTable> {
    Ok(VenueTable {
        id: row.try_get("id")?,
        venue_id: row.try_get("venue_id")?,
        label: row.try_get("label")?,
        seats: u32::try_from(row.try_get::<i32, _>("seats")?).unwrap_or(0),
        token_version: u32::try_from(row.try_get::<i32, _>("token_version")?).unwrap_or(0),
        created_at: row.try_get("created_at")?,
    })
}

fn money(row: &PgRow, amount: &str) -> StoreResult<Money> {
    let code: String = row.try_get("currency")?;
    let currency =
        Currency::from_code(code.trim()).ok_or_else(|| crate::records::corrupt("currency", &code))?;
    Money::new(row.try_get(amount)?, currency).map_err(|_| crate::records::corrupt(amount, "negative"))
}

fn item_from_row(row: &PgRow) -> StoreResult<MenuItem> {
    Ok(MenuItem {
        id: row.try_get("id")?,
        venue_id: row.try_get("venue_id")?,
        category_id: row.try_get("category_id")?,
        name: Localized {
            es: row.try_get("name_es")?,
            en: row.try_get("name_en")?,
        },
        description: Localized {
            es: row.try_get("description_es")?,
            en: row.try_get("description_en")?,
        },
        price: money(row, "price")?,
        taxed: row.try_get("taxed")?,
        available: row.try_get("available")?,
        modifiers: json_from("modifiers", &row.try_get::<String, _>("modifiers")?)?,
    })
}

fn session_from_row(row: &PgRow) -> StoreResult<TableSession> {
    let status: String = row.try_get("status")?;
    Ok(TableSession {
        id: row.try_get("id")?,
        venue_id: row.try_get("venue_id")?,
        table_id: row.try_get("table_id")?,
        status: SessionStatus::parse(&status).ok_or_else(|| crate::records::corrupt("status", &status))?,
        created_at: row.try_get("created_at")?,
        accepted_by: row.try_get("accepted_by")?,
    })
}

fn order_from_row(row: &PgRow) -> StoreResult<Order> {
    Ok(Order {
        id: row.try_get("id")?,
        session_id: row.try_get("session_id")?,
        device: row.try_get("device")?,
        venue_id: row.try_get("venue_id")?,
        table_id: row.try_get("table_id")?,
        status: status_from(&row.try_get::<String, _>("status")?)?,
        lines: json_from("lines", &row.try_get::<String, _>("lines")?)?,
        subtotal: money(row, "subtotal")?,
        cancel_reason: row.try_get("cancel_reason")?,
        placed_at: row.try_get("placed_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

async fn record_event(
    conn: &mut PgConnection,
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
    conn: &mut PgConnection,
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
    conn: &mut PgConnection,
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

/// Stores an order in the caller's tenant transaction: the table's first order opens a pending session, later
/// ones join it; a retried Idempotency-Key returns the first order. On the way to a new order everything is one
/// statement (session, order, kitchen event and its NOTIFY), because on this path every round trip is latency the
/// guest waits for.
async fn insert_order(
    conn: &mut PgConnection,
    partner: PartnerId,
    order: &NewOrder,
    now: OffsetDateTime,
) -> StoreResult<PlaceOutcome> {
    let partner_id = partner.as_uuid();
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
                                     idempotency_key, request_hash, placed_at, updated_at, session_id, device)
                 SELECT $1, $3, $6, $4, 'placed', $7, $8, $9, $10, $11, $5, $5, live.id, $12 FROM live
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
                 RETURNING seq)
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
        .fetch_optional(&mut *conn)
        .await
        .map_err(foreign_key_to_not_found)?;
        if let Some(row) = placed {
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
            let hash: Option<Vec<u8>> = existing.try_get("request_hash")?;
            return if hash.as_deref() == Some(order.request_hash.as_slice()) {
                Ok(PlaceOutcome::Replayed(order_from_row(&existing)?))
            } else {
                Ok(PlaceOutcome::KeyReused)
            };
        }
    }
    Err(StoreError::Conflict(
        "the table's session changed twice while the order was placed; try again".into(),
    ))
}

fn foreign_key_to_not_found(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
        _ => error.into(),
    }
}

#[async_trait]
impl OrderingStore for PgStore {
    async fn create_table(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        label: &str,
        seats: u32,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<VenueTable> {
        let mut tx = self.scoped(scope).await?;
        let row = sqlx::query(
            "INSERT INTO venue_tables (partner_id, venue_id, id, label, seats, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
        )
        .bind(scope.partner().as_uuid())
        .bind(venue)
        .bind(Uuid::now_v7())
        .bind(label)
        .bind(i32::try_from(seats).unwrap_or(i32::MAX))
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(foreign_key_to_not_found)?;
        let table = table_from_row(&row)?;
        sqlx::query("INSERT INTO table_directory (table_id, partner_id, venue_id, token_version) VALUES ($1, $2, $3, 1)")
            .bind(table.id)
            .bind(scope.partner().as_uuid())
            .bind(venue)
            .execute(&mut *tx)
            .await?;
        crate::postgres_identity::insert_audit(&mut tx, scope.partner(), &audit.targeting(table.id), now)
            .await?;
        tx.commit().await?;
        Ok(table)
    }

    async fn tables(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        page: PageRequest,
    ) -> StoreResult<Page<VenueTable>> {
        let (at, id) = page.after_timed().unzip();
        let mut tx = self.scoped(scope).await?;
        let rows = sqlx::query(
            "SELECT * FROM venue_tables WHERE partner_id = $1 AND venue_id = $2
               AND ($3::timestamptz IS NULL OR (created_at, id) > ($3, $4))
             ORDER BY created_at, id LIMIT $5",
        )
        .bind(scope.partner().as_uuid())
        .bind(venue)
        .bind(at)
        .bind(id)
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let tables = rows.iter().map(table_from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::from_overfetch_timed(tables, page.limit, |t| {
            (t.created_at, t.id)
        }))
    }

    async fn table(&self, scope: &TenantScope, table: Uuid) -> StoreResult<VenueTable> {
        let mut tx = self.scoped(scope).await?;
        let row = sqlx::query("SELECT * FROM venue_tables WHERE partner_id = $1 AND id = $2")
            .bind(scope.partner().as_uuid())
            .bind(table)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        table_from_row(&row)
    }

    async fn guest_table(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        table: Uuid,
    ) -> StoreResult<(comanda_domain::Venue, VenueTable)> {
        let mut tx = self.scoped(scope).await?;
        let venue = sqlx::query("SELECT * FROM venues WHERE partner_id = $1 AND id = $2")
            .bind(scope.partner().as_uuid())
            .bind(venue)
            .fetch_one(&mut *tx)
            .await?;
        let table = sqlx::query("SELECT * FROM venue_tables WHERE partner_id = $1 AND id = $2")
            .bind(scope.partner().as_uuid())
            .bind(table)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((crate::postgres::venue_from_row(&venue)?, table_from_row(&table)?))
    }

    async fn rotate_table_token(
        &self,
        scope: &TenantScope,
        table: Uuid,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<VenueTable> {
        let mut tx = self.scoped(scope).await?;
        let row = sqlx::query(
            "UPDATE venue_tables SET token_version = token_version + 1 WHERE partner_id = $1 AND id = $2 RETURNING *",
        )
        .bind(scope.partner().as_uuid())
        .bind(table)
        .fetch_one(&mut *tx)
        .await?;
        let rotated = table_from_row(&row)?;
        sqlx::query("UPDATE table_directory SET token_version = $2 WHERE table_id = $1")
            .bind(table)
            .bind(i32::try_from(rotated.token_version).unwrap_or(i32::MAX))
            .execute(&mut *tx)
            .await?;
        crate::postgres_identity::insert_audit(&mut tx, scope.partner(), audit, now).await?;
        tx.commit().await?;
        Ok(rotated)
    }

    async fn table_entry(&self, table: Uuid) -> StoreResult<Option<TableEntry>> {
        let row = sqlx::query("SELECT * FROM table_directory WHERE table_id = $1")
            .bind(table)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(TableEntry {
                partner: PartnerId::from_uuid(row.try_get("partner_id")?),
                venue: row.try_get("venue_id")?,
                table: row.try_get("table_id")?,
                version: u32::try_from(row.try_get::<i32, _>("token_version")?).unwrap_or(0),
            })
        })
        .transpose()
    }

    async fn create_category(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        name: &Localized,
        position: i32,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Category> {
        let mut tx = self.scoped(scope).await?;
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO menu_categories (partner_id, venue_id, id, name_es, name_en, position)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(scope.partner().as_uuid())
        .bind(venue)
        .bind(id)
        .bind(&name.es)
        .bind(&name.en)
        .bind(position)
        .execute(&mut *tx)
        .await
        .map_err(foreign_key_to_not_found)?;
        crate::postgres_identity::insert_audit(&mut tx, scope.partner(), &audit.targeting(id), now).await?;
        tx.commit().await?;
        Ok(Category {
            id,
            venue_id: venue,
            name: name.clone(),
            position,
        })
    }

    async fn create_menu_item(
        &self,
        scope: &TenantScope,
        item: &MenuItem,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<MenuItem> {
        let mut tx = self.scoped(scope).await?;
        let same_venue: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM menu_categories WHERE partner_id = $1 AND id = $2 AND venue_id = $3)",
        )
        .bind(scope.partner().as_uuid())
        .bind(item.category_id)
        .bind(item.venue_id)
        .fetch_one(&mut *tx)
        .await?;
        if !same_venue {
            return Err(StoreError::NotFound);
        }
        let row = sqlx::query(
            "INSERT INTO menu_items (partner_id, venue_id, id, category_id, name_es, name_en, description_es,
                                     description_en, price, currency, taxed, available, modifiers)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING *",
        )
        .bind(scope.partner().as_uuid())
        .bind(item.venue_id)
        .bind(item.id)
        .bind(item.category_id)
        .bind(&item.name.es)
        .bind(&item.name.en)
        .bind(&item.description.es)
        .bind(&item.description.en)
        .bind(item.price.amount)
        .bind(item.price.currency.code())
        .bind(item.taxed)
        .bind(item.available)
        .bind(json_text(&item.modifiers))
        .fetch_one(&mut *tx)
        .await?;
        crate::postgres_identity::insert_audit(&mut tx, scope.partner(), &audit.targeting(item.id), now)
            .await?;
        tx.commit().await?;
        item_from_row(&row)
    }

    async fn set_item_available(
        &self,
        scope: &TenantScope,
        item: Uuid,
        available: bool,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<MenuItem> {
        let mut tx = self.scoped(scope).await?;
        let row =
            sqlx::query("UPDATE menu_items SET available = $3 WHERE partner_id = $1 AND id = $2 RETURNING *")
                .bind(scope.partner().as_uuid())
                .bind(item)
                .bind(available)
                .fetch_one(&mut *tx)
                .await?;
        crate::postgres_identity::insert_audit(&mut tx, scope.partner(), &audit.targeting(item), now).await?;
        tx.commit().await?;
        item_from_row(&row)
    }

    async fn menu_item(&self, scope: &TenantScope, item: Uuid) -> StoreResult<MenuItem> {
        let mut tx = self.scoped(scope).await?;
        let row = sqlx::query("SELECT * FROM menu_items WHERE partner_id = $1 AND id = $2")
            .bind(scope.partner().as_uuid())
            .bind(item)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        item_from_row(&row)
    }

    async fn update_menu_item(
        &self,
        scope: &TenantScope,
        item: &MenuItem,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<MenuItem> {
        let mut tx = self.scoped(scope).await?;
        let same_venue: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM menu_categories WHERE partner_id = $1 AND id = $2 AND venue_id = $3)",
        )
        .bind(scope.partner().as_uuid())
        .bind(item.category_id)
        .bind(item.venue_id)
        .fetch_one(&mut *tx)
        .await?;
        if !same_venue {
            return Err(StoreError::NotFound);
        }
        let row = sqlx::query(
            "UPDATE menu_items SET category_id = $3, name_es = $4, name_en = $5, description_es = $6,
                                   description_en = $7, price = $8, taxed = $9, available = $10, modifiers = $11
             WHERE partner_id = $1 AND id = $2 RETURNING *",
        )
        .bind(scope.partner().as_uuid())
        .bind(item.id)
        .bind(item.category_id)
        .bind(&item.name.es)
        .bind(&item.name.en)
        .bind(&item.description.es)
        .bind(&item.description.en)
        .bind(item.price.amount)
        .bind(item.taxed)
        .bind(item.available)
        .bind(json_text(&item.modifiers))
        .fetch_one(&mut *tx)
        .await?;
        crate::postgres_identity::insert_audit(&mut tx, scope.partner(), &audit.targeting(item.id), now)
            .await?;
        tx.commit().await?;
        item_from_row(&row)
    }

    async fn delete_menu_item(
        &self,
        scope: &TenantScope,
        item: Uuid,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        let mut tx = self.scoped(scope).await?;
        let deleted = sqlx::query("DELETE FROM menu_items WHERE partner_id = $1 AND id = $2")
            .bind(scope.partner().as_uuid())
            .bind(item)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        crate::postgres_identity::insert_audit(&mut tx, scope.partner(), &audit.targeting(item), now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn update_category(
        &self,
        scope: &TenantScope,
        category: Uuid,
        name: Option<&Localized>,
        position: Option<i32>,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Category> {
        let mut tx = self.scoped(scope).await?;
        let row = sqlx::query(
            "UPDATE menu_categories SET name_es = COALESCE($3, name_es), name_en = COALESCE($4, name_en),
                                        position = COALESCE($5, position) WHERE partner_id = $1 AND id = $2
             RETURNING *",
        )
        .bind(scope.partner().as_uuid())
        .bind(category)
        .bind(name.map(|n| n.es.as_str()))
        .bind(name.map(|n| n.en.as_str()))
        .bind(position)
        .fetch_one(&mut *tx)
        .await?;
        crate::postgres_identity::insert_audit(&mut tx, scope.partner(), &audit.targeting(category), now)
            .await?;
        tx.commit().await?;
        Ok(Category {
            id: row.try_get("id")?,
            venue_id: row.try_get("venue_id")?,
            name: Localized {
                es: row.try_get("name_es")?,
                en: row.try_get("name_en")?,
            },
            position: row.try_get("position")?,
        })
    }

    async fn delete_category(
        &self,
        scope: &TenantScope,
        category: Uuid,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        let mut tx = self.scoped(scope).await?;
        let deleted = sqlx::query("DELETE FROM menu_categories WHERE partner_id = $1 AND id = $2")
            .bind(scope.partner().as_uuid())
            .bind(category)
            .execute(&mut *tx)
            .await
            .map_err(|e| match foreign_key_to_not_found(e) {
                StoreError::NotFound => StoreError::Conflict("the category still has items".into()),
                other => other,
            })?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        crate::postgres_identity::insert_audit(&mut tx, scope.partner(), &audit.targeting(category), now)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn menu(&self, scope: &TenantScope, venue: Uuid) -> StoreResult<(Vec<Category>, Vec<MenuItem>)> {
        let mut tx = self.scoped(scope).await?;
        let categories = sqlx::query(
            "SELECT * FROM menu_categories WHERE partner_id = $1 AND venue_id = $2 ORDER BY position, id",
        )
        .bind(scope.partner().as_uuid())
        .bind(venue)
        .fetch_all(&mut *tx)
        .await?;
        let items =
            sqlx::query("SELECT * FROM menu_items WHERE partner_id = $1 AND venue_id = $2 ORDER BY id")
                .bind(scope.partner().as_uuid())
                .bind(venue)
                .fetch_all(&mut *tx)
                .await?;
        tx.commit().await?;
        let categories = categories
            .iter()
            .map(|row| {
                Ok(Category {
                    id: row.try_get("id")?,
                    venue_id: row.try_get("venue_id")?,
                    name: Localized {
                        es: row.try_get("name_es")?,
                        en: row.try_get("name_en")?,
                    },
                    position: row.try_get("position")?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((
            categories,
            items.iter().map(item_from_row).collect::<StoreResult<Vec<_>>>()?,
        ))
    }

    async fn place_order(
        &self,
        scope: &TenantScope,
        order: &NewOrder,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<PlaceOutcome> {
        let mut tx = self.scoped(scope).await?;
        let outcome = insert_order(&mut tx, scope.partner(), order, now).await?;
        if let PlaceOutcome::Created(placed) = &outcome {
            crate::postgres_identity::insert_audit(
                &mut tx,
                scope.partner(),
                &audit.targeting(placed.id),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(outcome)
    }

    async fn place_guest_order(
        &self,
        scope: &TenantScope,
        draft: &OrderDraft,
        price: &PriceOrder<'_>,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Result<PlaceOutcome, ValidationErrors>> {
        let partner = scope.partner().as_uuid();
        let mut tx = self.scoped(scope).await?;
        // The venue and the named items in one round trip: one row per item found, or one row of the venue alone.
        let rows = sqlx::query(
            "SELECT v.partner_id AS v_partner_id, v.id AS v_id, v.name AS v_name, v.timezone AS v_timezone,
                    v.address AS v_address, v.currency AS v_currency, v.tax_kind AS v_tax_kind,
                    v.tax_rate_bp AS v_tax_rate_bp, v.created_at AS v_created_at, i.*
             FROM venues v
             LEFT JOIN menu_items i ON i.partner_id = v.partner_id AND i.venue_id = v.id AND i.id = ANY($3)
             WHERE v.partner_id = $1 AND v.id = $2",
        )
        .bind(partner)
        .bind(draft.venue_id)
        .bind(&draft.item_ids)
        .fetch_all(&mut *tx)
        .await?;
        let venue =
            crate::postgres::venue_from_prefixed_row(rows.first().ok_or(StoreError::NotFound)?, "v_")?;
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            if row.try_get::<Option<Uuid>, _>("id")?.is_some() {
                items.push(item_from_row(row)?);
            }
        }
        let (lines, subtotal) = match price(&venue, &items) {
            Ok(priced) => priced,
            // Dropping the transaction rolls it back: it has only read.
            Err(refusal) => return Ok(Err(refusal)),
        };
        let outcome = insert_order(&mut tx, scope.partner(), &draft.priced(lines, subtotal), now).await?;
        if let PlaceOutcome::Created(placed) = &outcome {
            crate::postgres_identity::insert_audit(
                &mut tx,
                scope.partner(),
                &audit.targeting(placed.id),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(Ok(outcome))
    }

    async fn order(&self, scope: &TenantScope, order: Uuid) -> StoreResult<Order> {
        let mut tx = self.scoped(scope).await?;
        let row = sqlx::query("SELECT * FROM orders WHERE partner_id = $1 AND id = $2")
            .bind(scope.partner().as_uuid())
            .bind(order)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        order_from_row(&row)
    }

    async fn table_orders(&self, scope: &TenantScope, table: Uuid) -> StoreResult<Vec<Order>> {
        let mut tx = self.scoped(scope).await?;
        let rows = sqlx::query(
            "SELECT * FROM orders WHERE partner_id = $1 AND table_id = $2 AND session_id IN
                 (SELECT id FROM table_sessions WHERE partner_id = $1 AND table_id = $2 AND status <> 'closed')
             ORDER BY placed_at, id",
        )
        .bind(scope.partner().as_uuid())
        .bind(table)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter().map(order_from_row).collect()
    }

    async fn session_orders(
        &self,
        scope: &TenantScope,
        session: Uuid,
        page: PageRequest,
    ) -> StoreResult<Page<Order>> {
        let (at, id) = page.after_timed().unzip();
        let mut tx = self.scoped(scope).await?;
        let rows = sqlx::query(
            "SELECT * FROM orders WHERE partner_id = $1 AND session_id = $2
               AND ($3::timestamptz IS NULL OR (placed_at, id) > ($3, $4))
             ORDER BY placed_at, id LIMIT $5",
        )
        .bind(scope.partner().as_uuid())
        .bind(session)
        .bind(at)
        .bind(id)
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let orders = rows.iter().map(order_from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::from_overfetch_timed(orders, page.limit, |o| {
            (o.placed_at, o.id)
        }))
    }

    async fn venue_orders(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        status: Option<OrderStatus>,
        page: PageRequest,
    ) -> StoreResult<Page<Order>> {
        let (at, id) = page.after_timed().unzip();
        let mut tx = self.scoped(scope).await?;
        let rows = sqlx::query(
            "SELECT * FROM orders WHERE partner_id = $1 AND venue_id = $2 AND ($3::text IS NULL OR status = $3)
               AND session_id IN (SELECT id FROM table_sessions WHERE partner_id = $1 AND status = 'open')
               AND ($4::timestamptz IS NULL OR (placed_at, id) > ($4, $5))
             ORDER BY placed_at, id LIMIT $6",
        )
        .bind(scope.partner().as_uuid())
        .bind(venue)
        .bind(status.map(OrderStatus::as_str))
        .bind(at)
        .bind(id)
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let orders = rows.iter().map(order_from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::from_overfetch_timed(orders, page.limit, |o| {
            (o.placed_at, o.id)
        }))
    }

    async fn transition_order(
        &self,
        scope: &TenantScope,
        order: Uuid,
        from: OrderStatus,
        to: OrderStatus,
        actor: &str,
        reason: Option<&str>,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Order> {
        let mut tx = self.scoped(scope).await?;
        let row = sqlx::query(
            "UPDATE orders SET status = $4, cancel_reason = COALESCE($5, cancel_reason), updated_at = $6
             WHERE partner_id = $1 AND id = $2 AND status = $3
               AND session_id IN (SELECT id FROM table_sessions WHERE partner_id = $1 AND status = 'open')
             RETURNING *",
        )
        .bind(scope.partner().as_uuid())
        .bind(order)
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(reason)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(StoreError::Conflict(
                "the order changed meanwhile, or its table is not accepted".into(),
            ));
        };
        let updated = order_from_row(&row)?;
        record_event(&mut tx, scope.partner(), &updated, actor, now).await?;
        crate::postgres_identity::insert_audit(&mut tx, scope.partner(), &audit.targeting(order), now)
            .await?;
        tx.commit().await?;
        Ok(updated)
    }

    async fn live_session(&self, scope: &TenantScope, table: Uuid) -> StoreResult<Option<TableSession>> {
        let mut tx = self.scoped(scope).await?;
        let row = sqlx::query(
            "SELECT * FROM table_sessions WHERE partner_id = $1 AND table_id = $2 AND status <> 'closed'",
        )
        .bind(scope.partner().as_uuid())
        .bind(table)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn venue_sessions(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        page: PageRequest,
    ) -> StoreResult<Page<TableSession>> {
        let (at, id) = page.after_timed().unzip();
        let mut tx = self.scoped(scope).await?;
        let rows = sqlx::query(
            "SELECT * FROM table_sessions WHERE partner_id = $1 AND venue_id = $2 AND status <> 'closed'
               AND ($3::timestamptz IS NULL OR (created_at, id) > ($3, $4))
             ORDER BY created_at, id LIMIT $5",
        )
        .bind(scope.partner().as_uuid())
        .bind(venue)
        .bind(at)
        .bind(id)
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let sessions = rows
            .iter()
            .map(session_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::from_overfetch_timed(sessions, page.limit, |s| {
            (s.created_at, s.id)
        }))
    }

    async fn accept_session(
        &self,
        scope: &TenantScope,
        session: Uuid,
        actor: &str,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<TableSession> {
        let mut tx = self.scoped(scope).await?;
        let row = sqlx::query(
            "UPDATE table_sessions SET status = 'open', accepted_at = $3, accepted_by = $4
             WHERE partner_id = $1 AND id = $2 AND status = 'pending' RETURNING *",
        )
        .bind(scope.partner().as_uuid())
        .bind(session)
        .bind(now)
        .bind(actor)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            let exists: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM table_sessions WHERE partner_id = $1 AND id = $2)",
            )
            .bind(scope.partner().as_uuid())
            .bind(session)
            .fetch_one(&mut *tx)
            .await?;
            return Err(if exists {
                StoreError::Conflict("the session is not pending".into())
            } else {
                StoreError::NotFound
            });
        };
        let accepted = session_from_row(&row)?;
        let orders = sqlx::query(
            "SELECT * FROM orders WHERE partner_id = $1 AND session_id = $2 ORDER BY placed_at, id",
        )
        .bind(scope.partner().as_uuid())
        .bind(session)
        .fetch_all(&mut *tx)
        .await?;
        for order in orders.iter().map(order_from_row) {
            record_event(&mut tx, scope.partner(), &order?, actor, now).await?;
        }
        crate::postgres_identity::insert_audit(&mut tx, scope.partner(), &audit.targeting(session), now)
            .await?;
        tx.commit().await?;
        Ok(accepted)
    }

    async fn close_table(
        &self,
        scope: &TenantScope,
        table: Uuid,
        actor: &str,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<TableSession> {
        let mut tx = self.scoped(scope).await?;
        let session: Option<Uuid> = sqlx::query_scalar(
            "SELECT id FROM table_sessions WHERE partner_id = $1 AND table_id = $2 AND status <> 'closed'",
        )
        .bind(scope.partner().as_uuid())
        .bind(table)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(session) = session else {
            return Err(StoreError::NotFound);
        };
        let unfinished: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM orders WHERE partner_id = $1 AND session_id = $2
               AND status NOT IN ('served', 'cancelled')",
        )
        .bind(scope.partner().as_uuid())
        .bind(session)
        .fetch_one(&mut *tx)
        .await?;
        if unfinished > 0 {
            return Err(StoreError::Conflict(format!(
                "{unfinished} order(s) are neither served nor cancelled"
            )));
        }
        // A guest paying right now keeps the table open: their payment belongs to this bill.
        let paying: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM payments WHERE partner_id = $1 AND session_id = $2 AND status = 'pending'",
        )
        .bind(scope.partner().as_uuid())
        .bind(session)
        .fetch_one(&mut *tx)
        .await?;
        if paying > 0 {
            return Err(StoreError::Conflict(format!(
                "{paying} payment(s) of this bill are in progress"
            )));
        }
        let row = sqlx::query(
            "UPDATE table_sessions SET status = 'closed', closed_at = $3, closed_by = $4
             WHERE partner_id = $1 AND id = $2 RETURNING *",
        )
        .bind(scope.partner().as_uuid())
        .bind(session)
        .bind(now)
        .bind(actor)
        .fetch_one(&mut *tx)
        .await?;
        crate::postgres_identity::insert_audit(&mut tx, scope.partner(), &audit.targeting(session), now)
            .await?;
        tx.commit().await?;
        session_from_row(&row)
    }

    async fn cancel_guest_order(
        &self,
        scope: &TenantScope,
        order: Uuid,
        device: &str,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Order> {
        let mut tx = self.scoped(scope).await?;
        let row = sqlx::query(
            "UPDATE orders SET status = 'cancelled', cancel_reason = 'cancelled by the guest', updated_at = $4
             WHERE partner_id = $1 AND id = $2 AND device = $3 AND status = 'placed' RETURNING *",
        )
        .bind(scope.partner().as_uuid())
        .bind(order)
        .bind(device)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            let own: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM orders WHERE partner_id = $1 AND id = $2 AND device = $3)",
            )
            .bind(scope.partner().as_uuid())
            .bind(order)
            .bind(device)
            .fetch_one(&mut *tx)
            .await?;
            return Err(if own {
                StoreError::Conflict("the kitchen has already accepted it".into())
            } else {
                StoreError::NotFound
            });
        };
        let cancelled = order_from_row(&row)?;
        record_event_if_open(&mut tx, scope.partner(), &cancelled, "guest", now).await?;
        crate::postgres_identity::insert_audit(&mut tx, scope.partner(), &audit.targeting(order), now)
            .await?;
        tx.commit().await?;
        Ok(cancelled)
    }

    async fn order_events_after(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<OrderEvent>> {
        let mut tx = self.scoped(scope).await?;
        let rows = sqlx::query(
            "SELECT e.* FROM order_events e JOIN orders o ON o.partner_id = e.partner_id AND o.id = e.order_id
             JOIN table_sessions s ON s.partner_id = o.partner_id AND s.id = o.session_id
             WHERE e.partner_id = $1 AND e.venue_id = $2 AND e.seq > $3 AND s.status = 'open'
             ORDER BY e.seq LIMIT $4",
        )
        .bind(scope.partner().as_uuid())
        .bind(venue)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter()
            .map(|row| {
                Ok(OrderEvent {
                    seq: row.try_get("seq")?,
                    order_id: row.try_get("order_id")?,
                    venue_id: row.try_get("venue_id")?,
                    status: status_from(&row.try_get::<String, _>("status")?)?,
                    actor: row.try_get("actor")?,
                    at: row.try_get("at")?,
                })
            })
            .collect()
    }
}

#[async_trait]
impl OrderEventFeed for PgStore {
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
