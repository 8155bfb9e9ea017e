// The analytics store's statements, written once for both engines and `include!`d by `sqlite_analytics` and
// `postgres_analytics` (docs/architecture.md, "Adding a query"). The roll-up upsert is portable (`ON CONFLICT … DO
// UPDATE`, SQLite 3.24 and PostgreSQL 9.5 alike); the order path on PostgreSQL runs the same upsert inside its one
// statement (`postgres_ordering::insert_order`).

use std::collections::BTreeMap;

use async_trait::async_trait;
use comanda_domain::Currency;
use comanda_domain::analytics::{ItemSale, Measures, item_sales, utc_quarter};
use comanda_domain::menu::PricedLine;
use comanda_security::TenantScope;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::analytics::{AnalyticsStore, PaymentOutcomes, SalesQuarter, ServerSale, Turns};
use crate::reservations::ReservationStatus;
use crate::{StoreError, StoreResult};

/// Adds `measures` to the venue's roll-up row of the quarter-hour holding `at`, in the caller's transaction.
pub(crate) async fn add_to_sales(
    conn: &mut Conn,
    partner: Uuid,
    venue: Uuid,
    at: OffsetDateTime,
    currency: Currency,
    measures: &Measures,
) -> StoreResult<()> {
    if *measures == Measures::default() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO sales_quarters (partner_id, venue_id, quarter, currency, gross, tax, refunds, refund_tax, tips,
                                     collected, orders, cash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $11, $8, $9, $10, $12)
         ON CONFLICT (partner_id, venue_id, quarter) DO UPDATE SET
             gross = sales_quarters.gross + excluded.gross, tax = sales_quarters.tax + excluded.tax,
             refunds = sales_quarters.refunds + excluded.refunds,
             refund_tax = sales_quarters.refund_tax + excluded.refund_tax, tips = sales_quarters.tips + excluded.tips,
             collected = sales_quarters.collected + excluded.collected, orders = sales_quarters.orders + excluded.orders,
             cash = sales_quarters.cash + excluded.cash",
    )
    .bind(h(partner))
    .bind(h(venue))
    .bind(ts(utc_quarter(at)))
    .bind(currency.code())
    .bind(measures.gross)
    .bind(measures.tax)
    .bind(measures.refunds)
    .bind(measures.tips)
    .bind(measures.collected)
    .bind(measures.orders)
    .bind(measures.refund_tax)
    .bind(measures.cash)
    .execute(conn)
    .await?;
    Ok(())
}

/// Closes a table's check in the closing transaction (docs/analytics.md, "Checks" and "Sales per server"): its
/// counted orders and their gross are written on the session, and credited to the member who accepted it, one row per
/// quarter-hour its orders were placed in. By the close each order is served or cancelled for good, so neither ever
/// moves again; a table nobody accepted credits nobody.
pub(crate) async fn close_check(
    conn: &mut Conn,
    partner: Uuid,
    venue: Uuid,
    session: Uuid,
    member: Option<Uuid>,
) -> StoreResult<()> {
    // As in gross sales: an order cancelled after its guests paid and were refunded keeps the part paid for it
    // (`kept_gross`) and still counts, so checks, the average ticket and each server's sales add up to gross.
    let orders = sqlx::query(
        "SELECT placed_at, CASE WHEN status = 'cancelled' THEN kept_gross ELSE subtotal END AS subtotal
           FROM orders WHERE partner_id = $1 AND session_id = $2 AND (status <> 'cancelled' OR kept_gross > 0)",
    )
    .bind(h(partner))
    .bind(h(session))
    .fetch_all(&mut *conn)
    .await?;
    let mut quarters: BTreeMap<OffsetDateTime, (i64, i64)> = BTreeMap::new();
    for row in &orders {
        let placed: OffsetDateTime = row.try_get("placed_at")?;
        let quarter = quarters.entry(utc_quarter(placed)).or_default();
        quarter.0 += 1;
        quarter.1 += row.try_get::<i64, _>("subtotal")?;
    }
    let (count, gross) = quarters
        .values()
        .fold((0, 0), |(c, g), (orders, gross)| (c + orders, g + gross));
    sqlx::query(
        "UPDATE table_sessions SET check_orders = $3, check_gross = $4 WHERE partner_id = $1 AND id = $2",
    )
    .bind(h(partner))
    .bind(h(session))
    .bind(count)
    .bind(gross)
    .execute(&mut *conn)
    .await?;
    let Some(member) = member else {
        return Ok(());
    };
    for (quarter, (orders, gross)) in quarters {
        sqlx::query(
            "INSERT INTO server_sales_quarters (partner_id, venue_id, quarter, member, orders, gross)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (partner_id, venue_id, quarter, member) DO UPDATE SET
                 orders = server_sales_quarters.orders + excluded.orders,
                 gross = server_sales_quarters.gross + excluded.gross",
        )
        .bind(h(partner))
        .bind(h(venue))
        .bind(ts(quarter))
        .bind(h(member))
        .bind(orders)
        .bind(gross)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Adds (`sign` 1) or takes away (`sign` −1) an order's product mix to the venue's item rows of the quarter-hour
/// holding `at`, in the caller's transaction, item by item in [`item_sales`]'s order.
pub(crate) async fn add_to_item_sales(
    conn: &mut Conn,
    partner: Uuid,
    venue: Uuid,
    at: OffsetDateTime,
    items: &[ItemSale],
    sign: i64,
) -> StoreResult<()> {
    for item in items {
        sqlx::query(
            "INSERT INTO item_sales_quarters (partner_id, venue_id, quarter, item_id, quantity, sales)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (partner_id, venue_id, quarter, item_id) DO UPDATE SET
                 quantity = item_sales_quarters.quantity + excluded.quantity,
                 sales = item_sales_quarters.sales + excluded.sales",
        )
        .bind(h(partner))
        .bind(h(venue))
        .bind(ts(utc_quarter(at)))
        .bind(h(item.item_id))
        .bind(sign * item.quantity)
        .bind(sign * item.sales)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

fn currency_of(row: &DbRow) -> StoreResult<Currency> {
    let code: String = row.try_get("currency")?;
    Currency::from_code(code.trim()).ok_or_else(|| corrupt("currency", &code))
}

/// The raw rows behind each measure (docs/analytics.md, "When money counts"), each `(venue_id, at, currency, amount)`:
/// `$1` partner, `$2` venue or NULL for all, `[$3, $4)` the instants.
const RAW_SALES: [(RawKind, &str); 5] = [
    // Orders placed in the range, at their placing, each one order with its gross (tax included) and tax; a
    // cancelled one only with the part its guests had paid for (`kept_gross`, `kept_tax`), when there is one.
    (
        RawKind::Order,
        "SELECT venue_id, placed_at AS at, currency,
                CASE WHEN status = 'cancelled' THEN kept_gross ELSE subtotal END AS amount,
                CASE WHEN status = 'cancelled' THEN kept_tax ELSE tax END AS tax FROM orders
         WHERE partner_id = $1 AND (CAST($2 AS TEXT) IS NULL OR venue_id = $2)
           AND placed_at >= $3 AND placed_at < $4 AND (status <> 'cancelled' OR kept_gross > 0)",
    ),
    // Succeeded payments (share plus tip), when they succeeded.
    (
        RawKind::Collected,
        "SELECT venue_id, succeeded_at AS at, currency, share + tip AS amount FROM payments
         WHERE partner_id = $1 AND (CAST($2 AS TEXT) IS NULL OR venue_id = $2)
           AND status = 'succeeded' AND succeeded_at >= $3 AND succeeded_at < $4",
    ),
    // Cash servers recorded (bill part plus tip) when they recorded it, and taken back when a record was voided.
    (
        RawKind::Cash,
        "SELECT venue_id, created_at AS at, currency, amount + tip AS amount FROM cash_payments
         WHERE partner_id = $1 AND (CAST($2 AS TEXT) IS NULL OR venue_id = $2) AND created_at >= $3 AND created_at < $4
         UNION ALL
         SELECT venue_id, voided_at AS at, currency, -(amount + tip) AS amount FROM cash_payments
         WHERE partner_id = $1 AND (CAST($2 AS TEXT) IS NULL OR venue_id = $2) AND voided_at >= $3 AND voided_at < $4",
    ),
    // The tip ledger (cards and cash): a tip when its payment succeeds or its cash is recorded, minus the tip part of
    // each refund when it completes and of each cash record when it is voided.
    (
        RawKind::Tip,
        "SELECT venue_id, at, currency, amount FROM tip_ledger
         WHERE partner_id = $1 AND (CAST($2 AS TEXT) IS NULL OR venue_id = $2) AND at >= $3 AND at < $4",
    ),
    // The sales part of refunds completed in the range (their tip part left the tips).
    (
        RawKind::Refund,
        "SELECT p.venue_id, r.completed_at AS at, r.currency, r.amount - r.tip_reversal AS amount, r.tax_part
         FROM refunds r JOIN payments p ON p.partner_id = r.partner_id AND p.id = r.payment_id
         WHERE r.partner_id = $1 AND (CAST($2 AS TEXT) IS NULL OR p.venue_id = $2)
           AND r.status = 'succeeded' AND r.completed_at >= $3 AND r.completed_at < $4",
    ),
];

#[derive(Clone, Copy)]
enum RawKind {
    Order,
    Collected,
    Cash,
    Tip,
    Refund,
}

impl RawKind {
    fn measures(self, row: &DbRow) -> StoreResult<Measures> {
        let amount: i64 = row.try_get("amount")?;
        Ok(match self {
            RawKind::Order => Measures {
                gross: amount,
                tax: row.try_get("tax")?,
                orders: 1,
                ..Measures::default()
            },
            RawKind::Collected => Measures {
                collected: amount,
                ..Measures::default()
            },
            RawKind::Cash => Measures {
                cash: amount,
                ..Measures::default()
            },
            RawKind::Tip => Measures {
                tips: amount,
                ..Measures::default()
            },
            RawKind::Refund => Measures {
                refunds: amount,
                refund_tax: row.try_get("tax_part")?,
                ..Measures::default()
            },
        })
    }
}

impl Engine {
    /// One of the reports' range reads in the tenant's read transaction: `$1` the partner, `$2` the venue (NULL for
    /// all of them), `[$3, $4)` the instants.
    async fn read_range(
        &self,
        sql: &'static str,
        scope: &TenantScope,
        venue: Option<Uuid>,
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> StoreResult<Vec<DbRow>> {
        Ok(sqlx::query(sql)
            .bind(h(scope.partner().as_uuid()))
            .bind(venue.map(h))
            .bind(ts(start))
            .bind(ts(end))
            .fetch_all(&mut *self.reading(scope).await?)
            .await?)
    }
}

#[async_trait]
impl AnalyticsStore for Engine {
    async fn sales_quarters(
        &self,
        scope: &TenantScope,
        venue: Option<Uuid>,
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> StoreResult<Vec<SalesQuarter>> {
        // Two texts, not `($2 IS NULL OR venue_id = $2)`: a cached generic plan of that cannot bound the primary key
        // by venue and quarter, and reads every venue of the partner (measured: 8× slower, BENCHMARKS.md).
        let sql = match venue {
            Some(_) => {
                "SELECT * FROM sales_quarters WHERE partner_id = $1 AND venue_id = $2 AND quarter >= $3 AND quarter < $4
                 ORDER BY venue_id, quarter"
            }
            None => {
                "SELECT * FROM sales_quarters WHERE partner_id = $1 AND CAST($2 AS TEXT) IS NULL
                   AND quarter >= $3 AND quarter < $4
                 ORDER BY venue_id, quarter"
            }
        };
        let rows = self.read_range(sql, scope, venue, start, end).await?;
        rows.iter()
            .map(|row| {
                Ok(SalesQuarter {
                    venue_id: uuid_col(row, "venue_id")?,
                    quarter: row.try_get("quarter")?,
                    currency: currency_of(row)?,
                    measures: measures_of(row)?,
                })
            })
            .collect()
    }

    async fn reservation_counts(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> StoreResult<Vec<(ReservationStatus, i64, i64, i64)>> {
        let rows = self.read_range(
            "SELECT r.status, count(*) AS bookings, CAST(sum(r.party_size) AS BIGINT) AS covers,
                    CAST(coalesce(sum(CASE WHEN d.status IN ('keep_due', 'kept') THEN d.amount END), 0) AS BIGINT)
                        AS deposits_kept
             FROM reservations r
             LEFT JOIN reservation_deposits d ON d.partner_id = r.partner_id AND d.reservation_id = r.id
             WHERE r.partner_id = $1 AND r.venue_id = $2 AND r.start_at >= $3 AND r.start_at < $4
               AND r.channel <> 'walk_in'
             GROUP BY r.status ORDER BY r.status",
            scope,
            Some(venue),
            start,
            end,
        )
        .await?;
        rows.iter()
            .map(|row| {
                let status: String = row.try_get("status")?;
                Ok((
                    ReservationStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
                    row.try_get("bookings")?,
                    row.try_get("covers")?,
                    row.try_get("deposits_kept")?,
                ))
            })
            .collect()
    }

    async fn sales_total(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> StoreResult<Measures> {
        let row = self.read_range(
            "SELECT CAST(coalesce(sum(gross), 0) AS BIGINT) AS gross, CAST(coalesce(sum(tax), 0) AS BIGINT) AS tax,
                    CAST(coalesce(sum(refunds), 0) AS BIGINT) AS refunds,
                    CAST(coalesce(sum(refund_tax), 0) AS BIGINT) AS refund_tax,
                    CAST(coalesce(sum(tips), 0) AS BIGINT) AS tips,
                    CAST(coalesce(sum(collected), 0) AS BIGINT) AS collected,
                    CAST(coalesce(sum(cash), 0) AS BIGINT) AS cash,
                    CAST(coalesce(sum(orders), 0) AS BIGINT) AS orders
             FROM sales_quarters WHERE partner_id = $1 AND venue_id = $2 AND quarter >= $3 AND quarter < $4",
            scope,
            Some(venue),
            start,
            end,
        )
        .await?
            .into_iter()
            .next()
            .ok_or(StoreError::NotFound)?;
        measures_of(&row)
    }

    async fn turns(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> StoreResult<Turns> {
        let row = self
            .read_range(
                concat!(
                    "SELECT COUNT(*) AS turns, CAST(coalesce(sum(",
                    seconds_between!("accepted_at", "closed_at"),
                    "), 0) AS BIGINT) AS seated_seconds,
                            COUNT(CASE WHEN check_orders > 0 THEN 1 END) AS checks,
                            CAST(coalesce(sum(check_gross), 0) AS BIGINT) AS check_gross,
                            (SELECT COUNT(*) FROM venue_tables WHERE partner_id = $1 AND venue_id = $2 AND created_at < $4
                                AND (retired_at IS NULL OR retired_at >= $3)) AS tables,
                            (SELECT CAST(coalesce(sum(check_unpaid), 0) AS BIGINT) FROM table_sessions
                              WHERE partner_id = $1 AND venue_id = $2 AND closed_at >= $3 AND closed_at < $4) AS unpaid
                     FROM table_sessions
                     WHERE partner_id = $1 AND venue_id = $2 AND closed_at >= $3 AND closed_at < $4
                       AND accepted_at IS NOT NULL AND (check_orders IS NULL OR check_orders > 0)"
                ),
                scope,
                Some(venue),
                start,
                end,
            )
            .await?
            .into_iter()
            .next()
            .ok_or(StoreError::NotFound)?;
        Ok(Turns {
            turns: row.try_get("turns")?,
            seated_seconds: row.try_get("seated_seconds")?,
            tables: row.try_get("tables")?,
            checks: row.try_get("checks")?,
            check_gross: row.try_get("check_gross")?,
            unpaid: row.try_get("unpaid")?,
        })
    }

    async fn turn_times(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> StoreResult<Vec<(Uuid, i64)>> {
        self.read_range(
            concat!(
                "SELECT table_id, ",
                seconds_between!("accepted_at", "closed_at"),
                " AS seconds FROM table_sessions
                 WHERE partner_id = $1 AND venue_id = $2 AND closed_at >= $3 AND closed_at < $4
                   AND accepted_at IS NOT NULL AND (check_orders IS NULL OR check_orders > 0)
                 ORDER BY table_id"
            ),
            scope,
            Some(venue),
            start,
            end,
        )
        .await?
        .iter()
        .map(|row| Ok((uuid_col(row, "table_id")?, row.try_get("seconds")?)))
        .collect()
    }

    async fn payment_outcomes(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> StoreResult<PaymentOutcomes> {
        let mut outcomes = PaymentOutcomes::default();
        let rows = self
            .read_range(
                "SELECT status, failure, COUNT(*) AS payments FROM payments
                 WHERE partner_id = $1 AND venue_id = $2 AND created_at >= $3 AND created_at < $4
                 GROUP BY status, failure",
                scope,
                Some(venue),
                start,
                end,
            )
            .await?;
        for row in &rows {
            let status: String = row.try_get("status")?;
            let payments: i64 = row.try_get("payments")?;
            match status.as_str() {
                "succeeded" => outcomes.succeeded += payments,
                "failed" => outcomes.failed += payments,
                "cancelled" => {
                    let reason: Option<String> = row.try_get("failure")?;
                    if reason
                        .as_deref()
                        .is_some_and(comanda_domain::payment::cancelled_because::superseded)
                    {
                        outcomes.superseded += payments;
                    } else {
                        outcomes.cancelled += payments;
                    }
                }
                "pending" => outcomes.pending += payments,
                other => return Err(corrupt("status", other)),
            }
        }
        Ok(outcomes)
    }

    async fn server_sales(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> StoreResult<Vec<ServerSale>> {
        let rows = self
            .read_range(
                "SELECT member, CAST(sum(orders) AS BIGINT) AS orders, CAST(sum(gross) AS BIGINT) AS gross
                 FROM server_sales_quarters WHERE partner_id = $1 AND venue_id = $2 AND quarter >= $3 AND quarter < $4
                 GROUP BY member ORDER BY member",
                scope,
                Some(venue),
                start,
                end,
            )
            .await?;
        rows.iter().map(server_sale_of).collect()
    }

    async fn server_sales_from_raw(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> StoreResult<Vec<ServerSale>> {
        let rows = self
            .read_range(
                "SELECT s.accepted_member AS member, COUNT(*) AS orders, CAST(sum(o.subtotal) AS BIGINT) AS gross
                 FROM orders o JOIN table_sessions s ON s.partner_id = o.partner_id AND s.id = o.session_id
                 WHERE o.partner_id = $1 AND o.venue_id = $2 AND o.placed_at >= $3 AND o.placed_at < $4
                   AND o.status <> 'cancelled' AND s.status = 'closed' AND s.accepted_member IS NOT NULL
                 GROUP BY s.accepted_member ORDER BY s.accepted_member",
                scope,
                Some(venue),
                start,
                end,
            )
            .await?;
        rows.iter().map(server_sale_of).collect()
    }

    async fn server_cash(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> StoreResult<Vec<(Uuid, i64)>> {
        // The member who took the cash keeps it until the drawer is counted; a void takes it back from them.
        self.read_range(
            "SELECT member, CAST(sum(amount) AS BIGINT) AS cash FROM (
                 SELECT recorded_by AS member, amount + tip AS amount FROM cash_payments
                  WHERE partner_id = $1 AND venue_id = $2 AND created_at >= $3 AND created_at < $4
                 UNION ALL
                 SELECT recorded_by AS member, -(amount + tip) AS amount FROM cash_payments
                  WHERE partner_id = $1 AND venue_id = $2 AND voided_at >= $3 AND voided_at < $4
             ) AS taken GROUP BY member ORDER BY member",
            scope,
            Some(venue),
            start,
            end,
        )
        .await?
        .iter()
        .map(|row| Ok((uuid_col(row, "member")?, row.try_get("cash")?)))
        .collect()
    }

    async fn server_tips(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> StoreResult<Vec<(Option<Uuid>, i64)>> {
        self.read_range(
            "SELECT member, CAST(sum(amount) AS BIGINT) AS tips FROM tip_ledger
             WHERE partner_id = $1 AND venue_id = $2 AND at >= $3 AND at < $4 GROUP BY member",
            scope,
            Some(venue),
            start,
            end,
        )
        .await?
        .iter()
        .map(|row| Ok((opt_uuid_col(row, "member")?, row.try_get("tips")?)))
        .collect()
    }

    async fn item_sales(
        &self,
        scope: &TenantScope,
        venue: Option<Uuid>,
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> StoreResult<Vec<ItemSale>> {
        // Two texts, as for `sales_quarters`.
        let sql = match venue {
            Some(_) => {
                "SELECT item_id, CAST(sum(quantity) AS BIGINT) AS quantity, CAST(sum(sales) AS BIGINT) AS sales
                 FROM item_sales_quarters
                 WHERE partner_id = $1 AND venue_id = $2 AND quarter >= $3 AND quarter < $4
                 GROUP BY item_id HAVING sum(quantity) <> 0 OR sum(sales) <> 0 ORDER BY item_id"
            }
            None => {
                "SELECT item_id, CAST(sum(quantity) AS BIGINT) AS quantity, CAST(sum(sales) AS BIGINT) AS sales
                 FROM item_sales_quarters
                 WHERE partner_id = $1 AND CAST($2 AS TEXT) IS NULL AND quarter >= $3 AND quarter < $4
                 GROUP BY item_id HAVING sum(quantity) <> 0 OR sum(sales) <> 0 ORDER BY item_id"
            }
        };
        let rows = self.read_range(sql, scope, venue, start, end).await?;
        rows.iter()
            .map(|row| {
                Ok(ItemSale {
                    item_id: uuid_col(row, "item_id")?,
                    quantity: row.try_get("quantity")?,
                    sales: row.try_get("sales")?,
                })
            })
            .collect()
    }

    async fn item_sales_from_raw(
        &self,
        scope: &TenantScope,
        venue: Option<Uuid>,
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> StoreResult<Vec<ItemSale>> {
        let rows = self
            .read_range(
                "SELECT lines FROM orders
             WHERE partner_id = $1 AND (CAST($2 AS TEXT) IS NULL OR venue_id = $2)
               AND placed_at >= $3 AND placed_at < $4 AND status <> 'cancelled'",
                scope,
                venue,
                start,
                end,
            )
            .await?;
        let mut items: BTreeMap<Uuid, ItemSale> = BTreeMap::new();
        for row in &rows {
            let text: String = row.try_get("lines")?;
            let lines: Vec<PricedLine> = serde_json::from_str(&text).map_err(|_| corrupt("lines", &text))?;
            for sale in item_sales(&lines) {
                let entry = items.entry(sale.item_id).or_insert(ItemSale {
                    quantity: 0,
                    sales: 0,
                    ..sale
                });
                entry.quantity += sale.quantity;
                entry.sales += sale.sales;
            }
        }
        Ok(items
            .into_values()
            .filter(|item| item.quantity != 0 || item.sales != 0)
            .collect())
    }

    async fn sales_quarters_from_raw(
        &self,
        scope: &TenantScope,
        venue: Option<Uuid>,
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> StoreResult<Vec<SalesQuarter>> {
        let mut tx = self.reading(scope).await?;
        let mut quarters: BTreeMap<(Uuid, OffsetDateTime), (Currency, Measures)> = BTreeMap::new();
        for (kind, statement) in RAW_SALES {
            let rows = sqlx::query(statement)
                .bind(h(scope.partner().as_uuid()))
                .bind(venue.map(h))
                .bind(ts(start))
                .bind(ts(end))
                .fetch_all(&mut *tx)
                .await?;
            for row in &rows {
                let at: OffsetDateTime = row.try_get("at")?;
                let entry = quarters
                    .entry((uuid_col(row, "venue_id")?, utc_quarter(at)))
                    .or_insert((currency_of(row)?, Measures::default()));
                entry.1 += kind.measures(row)?;
            }
        }
        Ok(quarters
            .into_iter()
            .filter(|(_, (_, measures))| *measures != Measures::default())
            .map(|((venue_id, quarter), (currency, measures))| SalesQuarter {
                venue_id,
                quarter,
                currency,
                measures,
            })
            .collect())
    }
}

fn server_sale_of(row: &DbRow) -> StoreResult<ServerSale> {
    Ok(ServerSale {
        member: uuid_col(row, "member")?,
        orders: row.try_get("orders")?,
        gross: row.try_get("gross")?,
    })
}

fn measures_of(row: &DbRow) -> StoreResult<Measures> {
    Ok(Measures {
        gross: row.try_get("gross")?,
        tax: row.try_get("tax")?,
        refunds: row.try_get("refunds")?,
        refund_tax: row.try_get("refund_tax")?,
        tips: row.try_get("tips")?,
        collected: row.try_get("collected")?,
        cash: row.try_get("cash")?,
        orders: row.try_get("orders")?,
    })
}
