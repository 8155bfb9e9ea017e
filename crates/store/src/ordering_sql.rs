// The ordering store's statements, written once for both engines and `include!`d by `sqlite_ordering` and
// `postgres_ordering` (docs/architecture.md, "Adding a query"). The engines keep their own arms where they really
// differ: placing an order and recording its kitchen event (PostgreSQL does it in one statement with NOTIFY),
// pricing a guest's order against the menu, and the order-event feed.

use crate::identity::AuditEntry;
use crate::ordering::{
    BillCoverage, Category, NewOrder, Order, OrderDraft, OrderEvent, OrderEventFeed, OrderingStore,
    PlaceOutcome, PriceOrder, SessionStatus, TableSession, VenueTable, json_from, json_text, status_from,
};
use crate::{StoreError, StoreResult};
use async_trait::async_trait;
use comanda_domain::analytics::{Measures, item_sales};
use comanda_domain::menu::{Localized, MenuItem};
use comanda_domain::{Currency, Money, OrderStatus, Page, PageRequest, PartnerId, ValidationErrors};
use comanda_security::TenantScope;
use comanda_security::table_token::TableEntry;
use time::OffsetDateTime;
use uuid::Uuid;

/// The live bill of the seated party whose booking holds table `$4`, unless that table has a live bill of its own
/// (guests who ordered there before the party was seated keep theirs): `bill_table_id` and `party_tables` (the
/// booking's JSON array). From the venue's live sessions (few) to the seated booking that opened each; a booking's
/// tables are a JSON array of hyphenated ids, so `$3` is the table's id in quotes (`party_table_pattern`). Binds:
/// `$1` partner, `$2` venue. Also a lateral read of PostgreSQL's order placement, which takes these four binds.
const PARTY_BILL_TABLE: &str =
    "SELECT s.table_id AS bill_table_id, r.tables AS party_tables FROM table_sessions s
       JOIN reservations r ON r.partner_id = s.partner_id AND r.session_id = s.id
      WHERE s.partner_id = $1 AND s.venue_id = $2 AND s.closed_at IS NULL AND s.status <> 'closed'
        AND r.status = 'seated' AND r.tables LIKE $3
        AND NOT EXISTS (SELECT 1 FROM table_sessions own WHERE own.partner_id = $1 AND own.table_id = $4
                           AND own.status <> 'closed' AND own.id <> s.id)
      ORDER BY s.created_at LIMIT 1";

/// `PARTY_BILL_TABLE`'s `$3` for `table`.
fn party_table_pattern(table: Uuid) -> String {
    format!("%\"{}\"%", table.hyphenated())
}

fn table_from_row(row: &DbRow) -> StoreResult<VenueTable> {
    Ok(VenueTable {
        id: uuid_col(row, "id")?,
        venue_id: uuid_col(row, "venue_id")?,
        label: row.try_get("label")?,
        seats: u32::try_from(row.try_get::<i32, _>("seats")?).unwrap_or(0),
        token_version: u32::try_from(row.try_get::<i32, _>("token_version")?).unwrap_or(0),
        created_at: row.try_get("created_at")?,
        min_party: u16::try_from(row.try_get::<i32, _>("min_party")?).unwrap_or(1),
        bookable_online: row.try_get("bookable_online")?,
    })
}

fn money(row: &DbRow, amount: &str) -> StoreResult<Money> {
    let code: String = row.try_get("currency")?;
    let currency =
        Currency::from_code(code.trim()).ok_or_else(|| crate::records::corrupt("currency", &code))?;
    Money::new(row.try_get(amount)?, currency).map_err(|_| crate::records::corrupt(amount, "negative"))
}

fn item_from_row(row: &DbRow) -> StoreResult<MenuItem> {
    Ok(MenuItem {
        id: uuid_col(row, "id")?,
        venue_id: uuid_col(row, "venue_id")?,
        category_id: uuid_col(row, "category_id")?,
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

fn session_from_row(row: &DbRow) -> StoreResult<TableSession> {
    let status: String = row.try_get("status")?;
    Ok(TableSession {
        id: uuid_col(row, "id")?,
        venue_id: uuid_col(row, "venue_id")?,
        table_id: uuid_col(row, "table_id")?,
        status: SessionStatus::parse(&status).ok_or_else(|| crate::records::corrupt("status", &status))?,
        created_at: row.try_get("created_at")?,
        accepted_by: row.try_get("accepted_by")?,
        accepted_member: opt_uuid_col(row, "accepted_member")?,
    })
}

fn order_from_row(row: &DbRow) -> StoreResult<Order> {
    Ok(Order {
        id: uuid_col(row, "id")?,
        session_id: opt_uuid_col(row, "session_id")?,
        device: row.try_get("device")?,
        venue_id: uuid_col(row, "venue_id")?,
        table_id: uuid_col(row, "table_id")?,
        served_table_id: match opt_uuid_col(row, "served_table_id")? {
            Some(served) => served,
            None => uuid_col(row, "table_id")?,
        },
        status: status_from(&row.try_get::<String, _>("status")?)?,
        lines: json_from("lines", &row.try_get::<String, _>("lines")?)?,
        subtotal: money(row, "subtotal")?,
        tax: money(row, "tax")?,
        cancel_reason: row.try_get("cancel_reason")?,
        placed_at: row.try_get("placed_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// One keyset page of a tenant's rows under one parent, in the order `sql` gives (oldest or newest first): `$1` is
/// the partner, `$2` the parent (a venue or a session), `($3, $4)` the `(instant, id)` of the page before's last row
/// (both NULL for the first page), `$5` the page's size plus one, which tells whether another page follows.
pub(crate) async fn keyset_page<T>(
    conn: &mut Conn,
    sql: &'static str,
    partner: PartnerId,
    parent: Uuid,
    page: PageRequest,
    decode: fn(&DbRow) -> StoreResult<T>,
    key: fn(&T) -> (OffsetDateTime, Uuid),
) -> StoreResult<Page<T>> {
    let (at, id) = page.after_timed().unzip();
    let rows = sqlx::query(sql)
        .bind(h(partner.as_uuid()))
        .bind(h(parent))
        .bind(ts(at))
        .bind(id.map(h))
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&mut *conn)
        .await?;
    let items = rows.iter().map(decode).collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::from_overfetch_timed(items, page.limit, key))
}

/// What an order adds to its venue's sales (docs/analytics.md: gross tax included, its tax, one order), counted at
/// its placing; a cancellation takes the same away from the same quarter-hour.
fn sales_of(order: &Order) -> Measures {
    Measures {
        gross: order.subtotal.amount,
        tax: order.tax.amount,
        orders: 1,
        ..Measures::default()
    }
}

/// What `session`'s money covers of its bill ([`BillCoverage`]): the one reading both an order's cancellation and
/// the guest's bill (which offers Cancel) decide by.
async fn coverage_in(conn: &mut Conn, partner: PartnerId, session: Uuid) -> StoreResult<BillCoverage> {
    let row = sqlx::query(
        "SELECT (SELECT CAST(COALESCE(sum(share), 0) AS BIGINT) FROM payments
                  WHERE partner_id = $1 AND session_id = $2 AND status = 'succeeded') AS paid,
                (SELECT CAST(COALESCE(sum(share), 0) AS BIGINT) FROM payments
                  WHERE partner_id = $1 AND session_id = $2 AND status = 'pending') AS held,
                (SELECT CAST(COALESCE(sum(r.amount - r.tip_reversal), 0) AS BIGINT)
                   FROM refunds r JOIN payments p ON p.partner_id = r.partner_id AND p.id = r.payment_id
                  WHERE r.partner_id = $1 AND p.session_id = $2 AND r.status IN ('pending', 'succeeded')) AS returned,
                (SELECT CAST(COALESCE(sum(kept_gross), 0) AS BIGINT) FROM orders
                  WHERE partner_id = $1 AND session_id = $2 AND status = 'cancelled') AS consumed,
                (SELECT CAST(COALESCE(sum(amount), 0) AS BIGINT) FROM cash_payments
                  WHERE partner_id = $1 AND session_id = $2 AND voided_at IS NULL) AS cash",
    )
    .bind(h(partner.as_uuid()))
    .bind(h(session))
    .fetch_one(&mut *conn)
    .await?;
    // Earlier cancellations already consumed part of the payments and of their refunds (what they kept): that
    // money paid for orders no longer on the bill, so it neither covers this bill nor gives any of it back.
    // At most what refunds not failed gave back: a failed refund returned nothing, so nothing was consumed.
    let consumed = row
        .try_get::<i64, _>("consumed")?
        .min(row.try_get::<i64, _>("returned")?);
    Ok(BillCoverage {
        paid: row.try_get::<i64, _>("paid")?.saturating_sub(consumed),
        held: row.try_get("held")?,
        returned: row.try_get::<i64, _>("returned")?.saturating_sub(consumed),
        cash: row.try_get("cash")?,
    })
}

/// Refuses a cancellation that would leave the session's bill below the money its guests have paid or are paying
/// for it, by card or in cash recorded at the table ([`BillCoverage::may_shrink_to`]). Runs after the order is
/// marked cancelled, in its transaction, holding the session row the way a payment's reservation holds it, so
/// neither can pass the other unseen. Returns what decides the money the cancelled `order` keeps
/// (`bill::kept_on_cancel`).
async fn keep_paid_bill_covered(
    conn: &mut Conn,
    partner: PartnerId,
    order: &Order,
) -> StoreResult<BillCoverage> {
    let Some(session) = order.session_id else {
        return Ok(BillCoverage::default());
    };
    sqlx::query(locking!(
        "SELECT id FROM table_sessions WHERE partner_id = $1 AND id = $2"
    ))
    .bind(h(partner.as_uuid()))
    .bind(h(session))
    .fetch_optional(&mut *conn)
    .await?;
    let total: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(sum(subtotal), 0) AS BIGINT) FROM orders
          WHERE partner_id = $1 AND session_id = $2 AND status <> 'cancelled'",
    )
    .bind(h(partner.as_uuid()))
    .bind(h(session))
    .fetch_one(&mut *conn)
    .await?;
    let bill = coverage_in(conn, partner, session).await?;
    let BillCoverage {
        paid, returned, cash, ..
    } = bill;
    if bill.may_shrink_to(total) {
        Ok(bill)
    } else if !comanda_domain::bill::may_shrink_bill(total, paid, returned) {
        // How much more must go back before the bill may shrink to `total`: said, so staff refund it once.
        let short = paid.saturating_sub(returned).saturating_sub(total);
        // A refund takes back its part of the tip too: the refund that returns `short` of the bill is named, so
        // staff refund once (refunding `short` itself fell short by the tip's part, refund after refund).
        let tipped = sqlx::query(
            "SELECT CAST(COALESCE(sum(share + tip), 0) AS BIGINT) AS charged,
                    CAST(COALESCE(sum(tip), 0) AS BIGINT) AS tip
               FROM payments WHERE partner_id = $1 AND session_id = $2 AND status = 'succeeded'",
        )
        .bind(h(partner.as_uuid()))
        .bind(h(session))
        .fetch_one(&mut *conn)
        .await?;
        let refund = comanda_domain::payment::refund_for_sales(
            Money::new(short, order.subtotal.currency).unwrap_or(Money::zero(order.subtotal.currency)),
            tipped.try_get("charged")?,
            tipped.try_get("tip")?,
        );
        let spoken = |amount: i64| {
            comanda_domain::money::spoken_text(
                Money::new(amount, order.subtotal.currency).unwrap_or(Money::zero(order.subtotal.currency)),
                false,
            )
        };
        Err(StoreError::Refused(format!(
            "guests have paid for this order: {} more of what they paid for the bill must go back first: refund {} \
             of their payments (a refund gives back its part of the tip too), then cancel it",
            spoken(short),
            spoken(refund)
        )))
    } else if !comanda_domain::bill::may_shrink_bill(total, paid.saturating_add(cash), returned) {
        Err(StoreError::Refused(
            "cash recorded at the table pays for this order: void that cash record first (and give the guest their \
             cash back), then cancel it"
                .into(),
        ))
    } else {
        Err(StoreError::Refused(
            "a guest is paying this bill right now: cancel the order once the payment is done (then refund it) or \
             its hold lapses"
                .into(),
        ))
    }
}

/// The cancelled `order`'s session's orders in the order they were placed (ids are UUIDv7, minted at placing: they
/// sort so on both engines), each with what succeeded item payments were charged for its lines, and the position of
/// `order` among them, as `bill::paid_for_order` reads them.
async fn paid_orders(
    conn: &mut Conn,
    partner: PartnerId,
    order: &Order,
) -> StoreResult<(Vec<comanda_domain::bill::PaidOrder>, usize)> {
    use comanda_domain::payment::{LineClaim, fraction_of};
    let Some(session) = order.session_id else {
        return Ok((Vec::new(), 0));
    };
    let rows = sqlx::query("SELECT * FROM orders WHERE partner_id = $1 AND session_id = $2 ORDER BY id")
        .bind(h(partner.as_uuid()))
        .bind(h(session))
        .fetch_all(&mut *conn)
        .await?;
    let orders = rows
        .iter()
        .map(order_from_row)
        .collect::<StoreResult<Vec<Order>>>()?;
    let payments = sqlx::query(
        "SELECT split, line_amounts FROM payments WHERE partner_id = $1 AND session_id = $2 AND status = 'succeeded'",
    )
    .bind(h(partner.as_uuid()))
    .bind(h(session))
    .fetch_all(&mut *conn)
    .await?;
    let mut direct: std::collections::HashMap<Uuid, i64> = std::collections::HashMap::new();
    for row in &payments {
        let amounts: Option<String> = row.try_get("line_amounts")?;
        let claims =
            crate::payments::line_claims_of(&row.try_get::<String, _>("split")?, amounts.as_deref())?;
        for LineClaim { share, amount } in claims {
            // A payment made before parts' amounts were kept: its part's fraction of the line.
            let amount = amount.unwrap_or_else(|| {
                orders
                    .iter()
                    .find(|o| o.id == share.order_id)
                    .and_then(|o| o.lines.get(usize::try_from(share.line).ok()?))
                    .and_then(|line| line.bill_line().total().ok())
                    .and_then(|total| fraction_of(total, share.numerator, share.denominator.max(1)).ok())
                    .map_or(0, |part| part.amount)
            });
            *direct.entry(share.order_id).or_default() += amount;
        }
    }
    let this = orders
        .iter()
        .position(|o| o.id == order.id)
        .unwrap_or(orders.len());
    let listed = orders
        .iter()
        .map(|o| comanda_domain::bill::PaidOrder {
            subtotal: o.subtotal.amount,
            on_bill: o.status != OrderStatus::Cancelled,
            direct: direct.get(&o.id).copied().unwrap_or(0),
        })
        .collect();
    Ok((listed, this))
}

/// What an order's cancellation does to the money, in its transaction: the order leaves the roll-ups, the bill must
/// still cover what its guests keep paid, and the part of the order they had paid for (given back by a refund, which
/// already takes it out of net sales) stays in the sales (`bill::kept_on_cancel`), on the order and in its roll-up
/// row — the row the uncounting just updated, so no other lock is taken.
async fn count_cancellation(conn: &mut Conn, partner: PartnerId, order: &Order) -> StoreResult<()> {
    uncount_order(conn, partner, order).await?;
    let bill = keep_paid_bill_covered(conn, partner, order).await?;
    let (orders, this) = paid_orders(conn, partner, order).await?;
    let kept = |paid| {
        comanda_domain::bill::kept_on_cancel(
            order.subtotal.amount,
            order.tax.amount,
            comanda_domain::bill::paid_for_order(&orders, this, paid),
            bill.returned,
        )
    };
    // The bill's money pays its orders in the order they were placed, cash as card shares: a card refunded while
    // cash pays the other orders leaves this one paid for by the card, and what it kept stays in the sales.
    let paid = bill.paid.saturating_add(bill.cash);
    let (gross, tax) = kept(paid);
    // What the order keeps depends on a payment still in progress: it could not be settled now, and a guess would
    // leave the sales off by that payment whichever way it ends.
    if kept(paid.saturating_add(bill.held)) != (gross, tax) {
        return Err(StoreError::Refused(
            "a guest is paying this bill right now: cancel the order once the payment is done (then refund it) or \
             its hold lapses"
                .into(),
        ));
    }
    if gross == 0 {
        return Ok(());
    }
    sqlx::query("UPDATE orders SET kept_gross = $3, kept_tax = $4 WHERE partner_id = $1 AND id = $2")
        .bind(h(partner.as_uuid()))
        .bind(h(order.id))
        .bind(gross)
        .bind(tax)
        .execute(&mut *conn)
        .await?;
    // Sold, then given back by its refund: it counts as an order again, so the average ticket stays gross ÷ orders.
    let kept = Measures {
        gross,
        tax,
        orders: 1,
        ..Measures::default()
    };
    add_to_sales(
        conn,
        partner.as_uuid(),
        order.venue_id,
        order.placed_at,
        order.subtotal.currency,
        &kept,
    )
    .await
}

/// Takes a cancelled order out of the roll-ups it was counted in (sales, then its items), in the cancellation's transaction. Called after
/// the order's event is recorded: every path takes the venue's event head before its roll-up row (PostgreSQL's
/// placing statement too), so two of them never wait on each other in opposite order.
async fn uncount_order(conn: &mut Conn, partner: PartnerId, order: &Order) -> StoreResult<()> {
    let sales = sales_of(order);
    let minus = Measures {
        gross: -sales.gross,
        tax: -sales.tax,
        orders: -sales.orders,
        ..Measures::default()
    };
    add_to_sales(
        conn,
        partner.as_uuid(),
        order.venue_id,
        order.placed_at,
        order.subtotal.currency,
        &minus,
    )
    .await?;
    add_to_item_sales(
        conn,
        partner.as_uuid(),
        order.venue_id,
        order.placed_at,
        &item_sales(&order.lines),
        -1,
    )
    .await
}

/// The answer to an order whose Idempotency-Key the table has seen: the first order again when the retry is the same
/// request from the same device, else a reused key (another body, or another guest's device at the table: a key
/// is not a way to read someone else's order).
fn replayed_order(existing: &DbRow, order: &NewOrder) -> StoreResult<PlaceOutcome> {
    let hash: Option<Vec<u8>> = existing.try_get("request_hash")?;
    let device: Option<String> = existing.try_get("device")?;
    Ok(
        if hash.as_deref() == Some(order.request_hash.as_slice()) && device == order.device {
            PlaceOutcome::Replayed(order_from_row(existing)?)
        } else {
            PlaceOutcome::KeyReused
        },
    )
}

/// What both engines' `place_priced_order` do once the draft is priced: the order (`insert_order`, the engine
/// arm) and, if it is new, its audit entry, in the transaction the engine opened. `Err` carries the fields the guest
/// has to change; nothing is written then.
async fn write_priced_order(
    engine: &Engine,
    conn: &mut Conn,
    scope: &TenantScope,
    priced: Result<NewOrder, ValidationErrors>,
    audit: &AuditEntry,
    now: OffsetDateTime,
) -> StoreResult<Result<PlaceOutcome, ValidationErrors>> {
    let order = match priced {
        Ok(order) => order,
        Err(refusal) => return Ok(Err(refusal)),
    };
    Ok(Ok(insert_order(
        engine,
        conn,
        scope.partner(),
        &order,
        audit,
        now,
    )
    .await?))
}

/// `Conflict` when a table of the venue in service other than `except` is labelled `label` (a retired table's
/// label is free again).
async fn refuse_taken_label(
    conn: &mut Conn,
    partner: PartnerId,
    venue: Uuid,
    label: &str,
    except: Option<Uuid>,
) -> StoreResult<()> {
    let taken = sqlx::query(
        "SELECT id FROM venue_tables WHERE partner_id = $1 AND venue_id = $2 AND label = $3 AND retired_at IS NULL",
    )
    .bind(h(partner.as_uuid()))
    .bind(h(venue))
    .bind(label)
    .fetch_all(&mut *conn)
    .await?;
    for row in taken {
        if Some(uuid_col(&row, "id")?) != except {
            return Err(StoreError::Conflict(format!(
                "the venue already has a table labelled {label:?}"
            )));
        }
    }
    Ok(())
}

#[async_trait]
impl OrderingStore for Engine {
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
        // Under the venue's row, so two tables created at once cannot both take one label: a host seating "Mesa 4"
        // must find one table.
        sqlx::query(locking!(
            "SELECT id FROM venues WHERE partner_id = $1 AND id = $2"
        ))
        .bind(h(scope.partner().as_uuid()))
        .bind(h(venue))
        .fetch_optional(&mut *tx)
        .await?;
        refuse_taken_label(&mut tx, scope.partner(), venue, label, None).await?;
        let row = sqlx::query(
            "INSERT INTO venue_tables (partner_id, venue_id, id, label, seats, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(venue))
        .bind(h(Uuid::now_v7()))
        .bind(label)
        .bind(i32::try_from(seats).unwrap_or(i32::MAX))
        .bind(ts(now))
        .fetch_one(&mut *tx)
        .await
        .map_err(foreign_key_to_not_found)?;
        let table = table_from_row(&row)?;
        sqlx::query("INSERT INTO table_directory (table_id, partner_id, venue_id, token_version) VALUES ($1, $2, $3, 1)")
            .bind(h(table.id))
            .bind(h(scope.partner().as_uuid()))
            .bind(h(venue))
            .execute(&mut *tx)
            .await?;
        self.insert_audit(&mut tx, scope.partner(), &audit.targeting(table.id), now)
            .await?;
        tx.commit().await?;
        Ok(table)
    }

    async fn rename_table(
        &self,
        scope: &TenantScope,
        table: Uuid,
        label: &str,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<VenueTable> {
        let mut tx = self.scoped(scope).await?;
        let current = sqlx::query(locking!(
            "SELECT * FROM venue_tables WHERE partner_id = $1 AND id = $2 AND retired_at IS NULL"
        ))
        .bind(h(scope.partner().as_uuid()))
        .bind(h(table))
        .fetch_one(&mut *tx)
        .await?;
        let current = table_from_row(&current)?;
        // Under the venue's row, like `create_table`: a rename and a new table cannot both take one label.
        sqlx::query(locking!(
            "SELECT id FROM venues WHERE partner_id = $1 AND id = $2"
        ))
        .bind(h(scope.partner().as_uuid()))
        .bind(h(current.venue_id))
        .fetch_optional(&mut *tx)
        .await?;
        refuse_taken_label(&mut tx, scope.partner(), current.venue_id, label, Some(table)).await?;
        let row =
            sqlx::query("UPDATE venue_tables SET label = $3 WHERE partner_id = $1 AND id = $2 RETURNING *")
                .bind(h(scope.partner().as_uuid()))
                .bind(h(table))
                .bind(label)
                .fetch_one(&mut *tx)
                .await?;
        self.insert_audit(&mut tx, scope.partner(), &audit.targeting(table), now)
            .await?;
        tx.commit().await?;
        table_from_row(&row)
    }

    async fn tables(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        page: PageRequest,
    ) -> StoreResult<Page<VenueTable>> {
        let mut conn = self.reading(scope).await?;
        keyset_page(
            &mut conn,
            "SELECT * FROM venue_tables WHERE partner_id = $1 AND venue_id = $2 AND retired_at IS NULL
               AND (CAST($3 AS TIMESTAMPTZ) IS NULL OR (created_at, id) > ($3, $4))
             ORDER BY created_at, id LIMIT $5",
            scope.partner(),
            venue,
            page,
            table_from_row,
            |t| (t.created_at, t.id),
        )
        .await
    }

    async fn table(&self, scope: &TenantScope, table: Uuid) -> StoreResult<VenueTable> {
        let row = sqlx::query(
            "SELECT * FROM venue_tables WHERE partner_id = $1 AND id = $2 AND retired_at IS NULL",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(table))
        .fetch_one(&mut *self.reading(scope).await?)
        .await?;
        table_from_row(&row)
    }

    async fn guest_table(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        table: Uuid,
    ) -> StoreResult<(comanda_domain::Venue, VenueTable)> {
        // Reads only (on SQLite outside the write lock, so guests never queue on it to look).
        let mut tx = self.reading(scope).await?;
        let venue = sqlx::query("SELECT * FROM venues WHERE partner_id = $1 AND id = $2")
            .bind(h(scope.partner().as_uuid()))
            .bind(h(venue))
            .fetch_one(&mut *tx)
            .await?;
        let table = sqlx::query("SELECT * FROM venue_tables WHERE partner_id = $1 AND id = $2")
            .bind(h(scope.partner().as_uuid()))
            .bind(h(table))
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((venue_from_row(&venue)?, table_from_row(&table)?))
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
            "UPDATE venue_tables SET token_version = token_version + 1
              WHERE partner_id = $1 AND id = $2 AND retired_at IS NULL RETURNING *",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(table))
        .fetch_one(&mut *tx)
        .await?;
        let rotated = table_from_row(&row)?;
        sqlx::query("UPDATE table_directory SET token_version = $2 WHERE table_id = $1")
            .bind(h(table))
            .bind(i32::try_from(rotated.token_version).unwrap_or(i32::MAX))
            .execute(&mut *tx)
            .await?;
        self.insert_audit(&mut tx, scope.partner(), audit, now).await?;
        tx.commit().await?;
        Ok(rotated)
    }

    async fn table_entry(&self, table: Uuid) -> StoreResult<Option<TableEntry>> {
        let row = sqlx::query("SELECT * FROM table_directory WHERE table_id = $1")
            .bind(h(table))
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(TableEntry {
                partner: PartnerId::from_uuid(uuid_col(&row, "partner_id")?),
                venue: uuid_col(&row, "venue_id")?,
                table: uuid_col(&row, "table_id")?,
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
        .bind(h(scope.partner().as_uuid()))
        .bind(h(venue))
        .bind(h(id))
        .bind(&name.es)
        .bind(&name.en)
        .bind(position)
        .execute(&mut *tx)
        .await
        .map_err(foreign_key_to_not_found)?;
        self.insert_audit(&mut tx, scope.partner(), &audit.targeting(id), now)
            .await?;
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
        .bind(h(scope.partner().as_uuid()))
        .bind(h(item.category_id))
        .bind(h(item.venue_id))
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
        .bind(h(scope.partner().as_uuid()))
        .bind(h(item.venue_id))
        .bind(h(item.id))
        .bind(h(item.category_id))
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
        self.insert_audit(&mut tx, scope.partner(), &audit.targeting(item.id), now)
            .await?;
        tx.commit().await?;
        item_from_row(&row)
    }

    async fn menu_item(&self, scope: &TenantScope, item: Uuid) -> StoreResult<MenuItem> {
        let row = sqlx::query("SELECT * FROM menu_items WHERE partner_id = $1 AND id = $2")
            .bind(h(scope.partner().as_uuid()))
            .bind(h(item))
            .fetch_one(&mut *self.reading(scope).await?)
            .await?;
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
        .bind(h(scope.partner().as_uuid()))
        .bind(h(item.category_id))
        .bind(h(item.venue_id))
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
        .bind(h(scope.partner().as_uuid()))
        .bind(h(item.id))
        .bind(h(item.category_id))
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
        self.insert_audit(&mut tx, scope.partner(), &audit.targeting(item.id), now)
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
            .bind(h(scope.partner().as_uuid()))
            .bind(h(item))
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.insert_audit(&mut tx, scope.partner(), &audit.targeting(item), now)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn update_category(
        &self,
        scope: &TenantScope,
        category: Uuid,
        name: &comanda_domain::menu::LocalizedPatch,
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
        .bind(h(scope.partner().as_uuid()))
        .bind(h(category))
        .bind(name.es.as_deref())
        .bind(name.en.as_deref())
        .bind(position)
        .fetch_one(&mut *tx)
        .await?;
        self.insert_audit(&mut tx, scope.partner(), &audit.targeting(category), now)
            .await?;
        tx.commit().await?;
        Ok(Category {
            id: uuid_col(&row, "id")?,
            venue_id: uuid_col(&row, "venue_id")?,
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
            .bind(h(scope.partner().as_uuid()))
            .bind(h(category))
            .execute(&mut *tx)
            .await
            .map_err(|e| match foreign_key_to_not_found(e) {
                StoreError::NotFound => StoreError::Conflict("the category still has items".into()),
                other => other,
            })?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.insert_audit(&mut tx, scope.partner(), &audit.targeting(category), now)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn menu(&self, scope: &TenantScope, venue: Uuid) -> StoreResult<(Vec<Category>, Vec<MenuItem>)> {
        let mut tx = self.scoped(scope).await?;
        let categories = sqlx::query(
            "SELECT * FROM menu_categories WHERE partner_id = $1 AND venue_id = $2 ORDER BY position, id",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(venue))
        .fetch_all(&mut *tx)
        .await?;
        let items =
            sqlx::query("SELECT * FROM menu_items WHERE partner_id = $1 AND venue_id = $2 ORDER BY id")
                .bind(h(scope.partner().as_uuid()))
                .bind(h(venue))
                .fetch_all(&mut *tx)
                .await?;
        tx.commit().await?;
        let categories = categories
            .iter()
            .map(|row| {
                Ok(Category {
                    id: uuid_col(row, "id")?,
                    venue_id: uuid_col(row, "venue_id")?,
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
        let outcome = insert_order(self, &mut tx, scope.partner(), order, audit, now).await?;
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
        // The guest's hot path: each engine reads the menu and takes its write lock its own fastest way.
        self.place_priced_order(scope, draft, price, audit, now).await
    }

    async fn order(&self, scope: &TenantScope, order: Uuid) -> StoreResult<Order> {
        let row = sqlx::query("SELECT * FROM orders WHERE partner_id = $1 AND id = $2")
            .bind(h(scope.partner().as_uuid()))
            .bind(h(order))
            .fetch_one(&mut *self.reading(scope).await?)
            .await?;
        order_from_row(&row)
    }

    async fn table_orders(&self, scope: &TenantScope, table: Uuid) -> StoreResult<Vec<Order>> {
        let rows = sqlx::query(
            "SELECT * FROM orders WHERE partner_id = $1 AND table_id = $2 AND session_id IN
                 (SELECT id FROM table_sessions WHERE partner_id = $1 AND table_id = $2 AND status <> 'closed')
             ORDER BY placed_at, id",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(table))
        .fetch_all(&mut *self.reading(scope).await?)
        .await?;
        rows.iter().map(order_from_row).collect()
    }

    async fn session_orders(
        &self,
        scope: &TenantScope,
        session: Uuid,
        page: PageRequest,
    ) -> StoreResult<Page<Order>> {
        let mut conn = self.reading(scope).await?;
        keyset_page(
            &mut conn,
            "SELECT * FROM orders WHERE partner_id = $1 AND session_id = $2
               AND (CAST($3 AS TIMESTAMPTZ) IS NULL OR (placed_at, id) > ($3, $4))
             ORDER BY placed_at, id LIMIT $5",
            scope.partner(),
            session,
            page,
            order_from_row,
            |o| (o.placed_at, o.id),
        )
        .await
    }

    async fn venue_orders(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        status: Option<OrderStatus>,
        page: PageRequest,
    ) -> StoreResult<Page<Order>> {
        let (at, id) = page.after_timed().unzip();
        let rows = sqlx::query(
            "SELECT * FROM orders WHERE partner_id = $1 AND venue_id = $2 AND (CAST($3 AS TEXT) IS NULL OR status = $3)
               AND session_id IN (SELECT id FROM table_sessions WHERE partner_id = $1 AND status = 'open')
               AND (CAST($4 AS TIMESTAMPTZ) IS NULL OR (placed_at, id) > ($4, $5))
             ORDER BY placed_at, id LIMIT $6",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(venue))
        .bind(status.map(OrderStatus::as_str))
        .bind(ts(at))
        .bind(id.map(h))
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&mut *self.reading(scope).await?)
        .await?;
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
        .bind(h(scope.partner().as_uuid()))
        .bind(h(order))
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(reason)
        .bind(ts(now))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(StoreError::Conflict(
                "the order changed meanwhile, or its table is not accepted".into(),
            ));
        };
        let updated = order_from_row(&row)?;
        record_event(&mut tx, scope.partner(), &updated, actor, now).await?;
        if to == OrderStatus::Cancelled {
            count_cancellation(&mut tx, scope.partner(), &updated).await?;
        }
        self.insert_audit(&mut tx, scope.partner(), &audit.targeting(order), now)
            .await?;
        tx.commit().await?;
        Ok(updated)
    }

    async fn bill_coverage(&self, scope: &TenantScope, session: Uuid) -> StoreResult<BillCoverage> {
        coverage_in(&mut *self.reading(scope).await?, scope.partner(), session).await
    }

    async fn live_session(&self, scope: &TenantScope, table: Uuid) -> StoreResult<Option<TableSession>> {
        let row = sqlx::query(
            "SELECT * FROM table_sessions WHERE partner_id = $1 AND table_id = $2 AND status <> 'closed'",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(table))
        .fetch_optional(&mut *self.reading(scope).await?)
        .await?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn party_bill_table(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        table: Uuid,
    ) -> StoreResult<Option<(Uuid, Vec<Uuid>)>> {
        let row = sqlx::query(PARTY_BILL_TABLE)
            .bind(h(scope.partner().as_uuid()))
            .bind(h(venue))
            .bind(party_table_pattern(table))
            .bind(h(table))
            .fetch_optional(&mut *self.reading(scope).await?)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let tables: Vec<Uuid> = json_from("tables", &row.try_get::<String, _>("party_tables")?)?;
        Ok(Some((uuid_col(&row, "bill_table_id")?, tables)))
    }

    async fn session_party_tables(&self, scope: &TenantScope, session: Uuid) -> StoreResult<Vec<Uuid>> {
        let tables: Option<String> = sqlx::query_scalar(
            "SELECT tables FROM reservations WHERE partner_id = $1 AND session_id = $2 ORDER BY created_at LIMIT 1",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(session))
        .fetch_optional(&mut *self.reading(scope).await?)
        .await?;
        tables.map_or(Ok(Vec::new()), |text| json_from("tables", &text))
    }

    async fn venue_sessions(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        page: PageRequest,
    ) -> StoreResult<Page<TableSession>> {
        let mut conn = self.reading(scope).await?;
        keyset_page(
            &mut conn,
            "SELECT * FROM table_sessions WHERE partner_id = $1 AND venue_id = $2 AND status <> 'closed'
               AND (CAST($3 AS TIMESTAMPTZ) IS NULL OR (created_at, id) > ($3, $4))
             ORDER BY created_at, id LIMIT $5",
            scope.partner(),
            venue,
            page,
            session_from_row,
            |s| (s.created_at, s.id),
        )
        .await
    }

    async fn accept_session(
        &self,
        scope: &TenantScope,
        session: Uuid,
        actor: &str,
        member: Uuid,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<TableSession> {
        let mut tx = self.scoped(scope).await?;
        let row = sqlx::query(
            "UPDATE table_sessions SET status = 'open', accepted_at = $3, accepted_by = $4, accepted_member = $5
             WHERE partner_id = $1 AND id = $2 AND status = 'pending' RETURNING *",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(session))
        .bind(ts(now))
        .bind(actor)
        .bind(h(member))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            let exists: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM table_sessions WHERE partner_id = $1 AND id = $2)",
            )
            .bind(h(scope.partner().as_uuid()))
            .bind(h(session))
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
        .bind(h(scope.partner().as_uuid()))
        .bind(h(session))
        .fetch_all(&mut *tx)
        .await?;
        for order in orders.iter().map(order_from_row) {
            record_event(&mut tx, scope.partner(), &order?, actor, now).await?;
        }
        self.insert_audit(&mut tx, scope.partner(), &audit.targeting(session), now)
            .await?;
        tx.commit().await?;
        Ok(accepted)
    }

    async fn device_bill_table(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        device: &str,
    ) -> StoreResult<Option<Uuid>> {
        let row = sqlx::query(
            "SELECT s.table_id FROM table_sessions s
              WHERE s.partner_id = $1 AND s.venue_id = $2 AND s.status <> 'closed'
                AND EXISTS (SELECT 1 FROM orders o WHERE o.partner_id = $1 AND o.session_id = s.id AND o.device = $3)
              ORDER BY s.created_at DESC LIMIT 1",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(venue))
        .bind(device)
        .fetch_optional(&mut *self.reading(scope).await?)
        .await?;
        row.map(|row| uuid_col(&row, "table_id")).transpose()
    }

    async fn move_session(
        &self,
        scope: &TenantScope,
        session: Uuid,
        table: Uuid,
        actor: &str,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<TableSession> {
        let partner = scope.partner().as_uuid();
        let mut tx = self.scoped(scope).await?;
        // The bill's lock, which payers, cash records and a close take too: nothing is paid or closed half-moved.
        let row = sqlx::query(locking!(
            "SELECT * FROM table_sessions WHERE partner_id = $1 AND id = $2"
        ))
        .bind(h(partner))
        .bind(h(session))
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let current = session_from_row(&row)?;
        if current.status == SessionStatus::Closed {
            return Err(StoreError::Conflict(
                "the bill is closed: its party has left".into(),
            ));
        }
        let target = sqlx::query(
            "SELECT id FROM venue_tables WHERE partner_id = $1 AND venue_id = $2 AND id = $3 AND retired_at IS NULL",
        )
        .bind(h(partner))
        .bind(h(current.venue_id))
        .bind(h(table))
        .fetch_optional(&mut *tx)
        .await?;
        if target.is_none() {
            return Err(StoreError::Refused(
                "that table is not one of this venue's tables in service".into(),
            ));
        }
        if table == current.table_id {
            return Ok(current);
        }
        let held: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM reservations WHERE partner_id = $1 AND venue_id = $2 AND status = 'seated'
               AND tables LIKE $3 AND (session_id IS NULL OR session_id <> $4)",
        )
        .bind(h(partner))
        .bind(h(current.venue_id))
        .bind(party_table_pattern(table))
        .bind(h(session))
        .fetch_one(&mut *tx)
        .await?;
        if held > 0 {
            return Err(StoreError::Refused(
                "a party seated from a booking is at that table: choose a free one".into(),
            ));
        }
        let moved = sqlx::query(
            "UPDATE table_sessions SET table_id = $3 WHERE partner_id = $1 AND id = $2 RETURNING *",
        )
        .bind(h(partner))
        .bind(h(session))
        .bind(h(table))
        .fetch_one(&mut *tx)
        .await;
        let moved = match moved {
            Ok(row) => session_from_row(&row)?,
            // One live bill per table (`table_sessions_one_live`): another party's, or a guest's who just scanned.
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                return Err(StoreError::Conflict(
                    "that table has a bill of its own: close it, or move this party to a free table".into(),
                ));
            }
            Err(error) => return Err(error.into()),
        };
        // A party seated from its booking: the booking now holds the new table (alone: a party at joined tables
        // sits at one now) for the rest of its turn, and its old tables are free.
        let seated = sqlx::query(
            "SELECT id, until_at FROM reservations WHERE partner_id = $1 AND session_id = $2 AND status = 'seated'",
        )
        .bind(h(partner))
        .bind(h(session))
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(seated) = seated {
            let reservation = uuid_col(&seated, "id")?;
            sqlx::query("DELETE FROM reservation_claims WHERE partner_id = $1 AND reservation_id = $2")
                .bind(h(partner))
                .bind(h(reservation))
                .execute(&mut *tx)
                .await?;
            let rest = comanda_domain::reservation::Assignment {
                tables: vec![table],
                start: now,
                until: seated.try_get("until_at")?,
            };
            if !rest.cells().is_empty() && !claim(&mut tx, scope.partner(), reservation, &rest).await? {
                return Err(StoreError::Refused(
                    "that table is booked for another party within this party's turn: choose another".into(),
                ));
            }
            let tables =
                serde_json::to_string(&rest.tables).map_err(|e| StoreError::Config(e.to_string()))?;
            sqlx::query(
                "UPDATE reservations SET tables = $3, updated_at = $4 WHERE partner_id = $1 AND id = $2",
            )
            .bind(h(partner))
            .bind(h(reservation))
            .bind(tables)
            .bind(ts(now))
            .execute(&mut *tx)
            .await?;
        }
        // Every order goes on the bill at its new table; those not yet served are served there (a joined party's
        // orders too), and those served keep the table they were served at.
        let orders = sqlx::query(
            "UPDATE orders SET table_id = $3,
                    served_table_id = CASE WHEN status IN ('served', 'cancelled') THEN coalesce(served_table_id, table_id)
                                           END
              WHERE partner_id = $1 AND session_id = $2 RETURNING *",
        )
        .bind(h(partner))
        .bind(h(session))
        .bind(h(table))
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query("UPDATE cash_payments SET table_id = $4 WHERE partner_id = $1 AND session_id = $2 AND table_id = $3")
            .bind(h(partner))
            .bind(h(session))
            .bind(h(current.table_id))
            .bind(h(table))
            .execute(&mut *tx)
            .await?;
        for order in orders.iter().map(order_from_row) {
            let order = order?;
            if !matches!(order.status, OrderStatus::Served | OrderStatus::Cancelled) {
                record_event_if_open(&mut tx, scope.partner(), &order, actor, now).await?;
            }
        }
        let audit = &AuditEntry {
            detail: format!("{} from={} to={table}", audit.detail, current.table_id)
                .trim_start()
                .to_owned(),
            ..audit.clone()
        };
        self.insert_audit(&mut tx, scope.partner(), &audit.targeting(session), now)
            .await?;
        tx.commit().await?;
        Ok(moved)
    }

    async fn close_table(
        &self,
        scope: &TenantScope,
        table: Uuid,
        actor: &str,
        allow_unpaid: bool,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<TableSession> {
        let mut tx = self.scoped(scope).await?;
        // The bill's lock, which payers and cash records take too: what is left is read as it stands at the close.
        let session = sqlx::query(locking!(
            "SELECT id FROM table_sessions WHERE partner_id = $1 AND table_id = $2 AND status <> 'closed'"
        ))
        .bind(h(scope.partner().as_uuid()))
        .bind(h(table))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(session) = session.map(|row| uuid_col(&row, "id")).transpose()? else {
            return Err(StoreError::NotFound);
        };
        let unfinished: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM orders WHERE partner_id = $1 AND session_id = $2
               AND status NOT IN ('served', 'cancelled')",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(session))
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
        .bind(h(scope.partner().as_uuid()))
        .bind(h(session))
        .fetch_one(&mut *tx)
        .await?;
        if paying > 0 {
            return Err(StoreError::Conflict(format!(
                "{paying} payment(s) of this bill are in progress"
            )));
        }
        let balance = balance_in(&mut tx, scope.partner().as_uuid(), session).await?;
        let left = (balance.total.amount - balance.paid.amount).max(0);
        if left > 0 && !allow_unpaid {
            return Err(StoreError::Unsettled { left });
        }
        let audit = &AuditEntry {
            detail: format!("{} unpaid={left}", audit.detail).trim_start().to_owned(),
            ..audit.clone()
        };
        let row = sqlx::query(
            "UPDATE table_sessions SET status = 'closed', closed_at = $3, closed_by = $4, check_unpaid = $5
             WHERE partner_id = $1 AND id = $2 RETURNING *",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(session))
        .bind(ts(now))
        .bind(actor)
        .bind(left)
        .fetch_one(&mut *tx)
        .await?;
        let closed = session_from_row(&row)?;
        close_check(
            &mut tx,
            scope.partner().as_uuid(),
            closed.venue_id,
            session,
            closed.accepted_member,
        )
        .await?;
        // The party seated from a booking at this bill has left with it: its booking is finished and its tables
        // free for the next party, not held until the end of its turn.
        let finished = sqlx::query(
            "UPDATE reservations SET status = 'finished', updated_at = $3
              WHERE partner_id = $1 AND session_id = $2 AND status = 'seated' RETURNING id",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(session))
        .bind(ts(now))
        .fetch_all(&mut *tx)
        .await?;
        for row in &finished {
            let reservation = uuid_col(row, "id")?;
            sqlx::query("DELETE FROM reservation_claims WHERE partner_id = $1 AND reservation_id = $2")
                .bind(h(scope.partner().as_uuid()))
                .bind(h(reservation))
                .execute(&mut *tx)
                .await?;
            let ended = AuditEntry {
                action: "reservation.moved".into(),
                target: Some(reservation.to_string()),
                detail: "to=finished reason=its table was closed".into(),
                ..audit.clone()
            };
            self.insert_audit(&mut tx, scope.partner(), &ended, now).await?;
        }
        self.insert_audit(&mut tx, scope.partner(), &audit.targeting(session), now)
            .await?;
        tx.commit().await?;
        Ok(closed)
    }

    async fn cancel_guest_order(
        &self,
        scope: &TenantScope,
        table: Uuid,
        order: Uuid,
        device: &str,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Order> {
        let mut tx = self.scoped(scope).await?;
        let row = sqlx::query(
            "UPDATE orders SET status = 'cancelled', cancel_reason = 'cancelled by the guest', updated_at = $5
             WHERE partner_id = $1 AND id = $2 AND device = $3 AND table_id = $4 AND status = 'placed' RETURNING *",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(order))
        .bind(device)
        .bind(h(table))
        .bind(ts(now))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            let own = sqlx::query(
                "SELECT * FROM orders WHERE partner_id = $1 AND id = $2 AND device = $3 AND table_id = $4",
            )
            .bind(h(scope.partner().as_uuid()))
            .bind(h(order))
            .bind(device)
            .bind(h(table))
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
            let own = order_from_row(&own)?;
            return match own.status {
                OrderStatus::Cancelled => Ok(own),
                _ => Err(StoreError::Conflict("the kitchen has already accepted it".into())),
            };
        };
        let cancelled = order_from_row(&row)?;
        record_event_if_open(&mut tx, scope.partner(), &cancelled, "guest", now).await?;
        count_cancellation(&mut tx, scope.partner(), &cancelled).await?;
        self.insert_audit(&mut tx, scope.partner(), &audit.targeting(order), now)
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
        let rows = sqlx::query(
            "SELECT e.* FROM order_events e JOIN orders o ON o.partner_id = e.partner_id AND o.id = e.order_id
             JOIN table_sessions s ON s.partner_id = o.partner_id AND s.id = o.session_id
             WHERE e.partner_id = $1 AND e.venue_id = $2 AND e.seq > $3 AND s.status = 'open'
             ORDER BY e.seq LIMIT $4",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(venue))
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&mut *self.reading(scope).await?)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(OrderEvent {
                    seq: row.try_get("seq")?,
                    order_id: uuid_col(row, "order_id")?,
                    venue_id: uuid_col(row, "venue_id")?,
                    status: status_from(&row.try_get::<String, _>("status")?)?,
                    actor: row.try_get("actor")?,
                    at: row.try_get("at")?,
                })
            })
            .collect()
    }
}
