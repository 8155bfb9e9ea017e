//! Loading a generated history in bulk (`comanda seed`, issue 19): closed table sessions with their orders,
//! succeeded payments and tips, refunds, past reservations, and the roll-ups those rows add up to, written as they
//! are (the generator applies the same domain rules the live paths do). One transaction per [`History`], the rows
//! of each table in batches: PostgreSQL inserts whole columns at once (`unnest` of arrays, one statement per
//! batch), SQLite multi-row `VALUES` (its bind limit is 32,766). Every row carries the scope's partner.

use async_trait::async_trait;
use comanda_domain::Currency;
use comanda_domain::analytics::{ItemSale, Measures};
use comanda_security::TenantScope;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreResult;

/// A closed table session: opened, accepted by `accepted_by`, closed.
#[derive(Debug, Clone)]
pub struct SeededSession {
    pub id: Uuid,
    pub venue_id: Uuid,
    pub table_id: Uuid,
    pub accepted_by: Uuid,
    pub opened_at: OffsetDateTime,
    pub closed_at: OffsetDateTime,
    /// The check its close wrote: its counted orders and their gross.
    pub check_orders: i64,
    pub check_gross: i64,
}

/// An order as the live path stores it: `lines` is its priced lines' JSON, `status` `served` or `cancelled`.
#[derive(Debug, Clone)]
pub struct SeededOrder {
    pub id: Uuid,
    pub venue_id: Uuid,
    pub table_id: Uuid,
    pub session_id: Uuid,
    pub status: &'static str,
    pub lines: String,
    pub subtotal: i64,
    pub tax: i64,
    pub currency: Currency,
    pub placed_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A succeeded payment of part of a session's bill (`split` is its [`comanda_domain::payment::Split`] JSON), with
/// what was refunded of it.
#[derive(Debug, Clone)]
pub struct SeededPayment {
    pub id: Uuid,
    pub venue_id: Uuid,
    pub table_id: Uuid,
    pub session_id: Uuid,
    pub split: String,
    pub currency: Currency,
    pub share: i64,
    pub tip: i64,
    pub platform_fee: i64,
    pub charge_model: &'static str,
    pub refunded: i64,
    pub tip_member: Option<Uuid>,
    pub created_at: OffsetDateTime,
    pub succeeded_at: OffsetDateTime,
}

/// A completed refund of the sales part of a payment (no tip part).
#[derive(Debug, Clone)]
pub struct SeededRefund {
    pub id: Uuid,
    pub payment_id: Uuid,
    pub amount: i64,
    /// The tax `amount` gives back (`bill::refund_tax`).
    pub tax_part: i64,
    pub currency: Currency,
    pub reason: String,
    pub requested_by: Uuid,
    pub created_at: OffsetDateTime,
    pub completed_at: OffsetDateTime,
}

/// A past booking in its final status (`finished`, `no_show` or `cancelled`), `tables` its tables' JSON.
#[derive(Debug, Clone)]
pub struct SeededReservation {
    pub id: Uuid,
    pub venue_id: Uuid,
    pub guest_id: Uuid,
    pub party_size: i64,
    pub start_at: OffsetDateTime,
    pub until_at: OffsetDateTime,
    pub status: &'static str,
    pub channel: &'static str,
    pub tables: String,
    pub created_at: OffsetDateTime,
}

/// One batch of generated history for one partner, with the roll-up rows it adds up to (one per venue and
/// quarter-hour, and per venue, quarter-hour and item).
#[derive(Debug, Clone, Default)]
pub struct History {
    pub sessions: Vec<SeededSession>,
    pub orders: Vec<SeededOrder>,
    pub payments: Vec<SeededPayment>,
    pub refunds: Vec<SeededRefund>,
    pub reservations: Vec<SeededReservation>,
    pub sales: Vec<(Uuid, OffsetDateTime, Currency, Measures)>,
    pub items: Vec<(Uuid, OffsetDateTime, ItemSale)>,
    /// Sales per server: venue, quarter-hour, member, orders and gross (`server_sales_quarters`).
    pub servers: Vec<(Uuid, OffsetDateTime, Uuid, i64, i64)>,
}

impl History {
    /// How many rows loading it writes.
    pub fn rows(&self) -> usize {
        let tips = self.payments.iter().filter(|p| p.tip > 0).count();
        self.sessions.len()
            + self.orders.len()
            + self.payments.len()
            + tips
            + self.refunds.len()
            + self.reservations.len()
            + self.sales.len()
            + self.items.len()
            + self.servers.len()
    }
}

#[async_trait]
pub trait HistoryStore: Send + Sync {
    /// Writes the history in one transaction: all of it or, on any error, none.
    async fn load_history(&self, scope: &TenantScope, history: &History) -> StoreResult<()>;
}

/// One column of a bulk insert.
pub(crate) enum Column {
    Id(Vec<Uuid>),
    OptId(Vec<Option<Uuid>>),
    Text(Vec<String>),
    Int(Vec<i64>),
    Instant(Vec<OffsetDateTime>),
    OptInstant(Vec<Option<OffsetDateTime>>),
}

impl Column {
    pub(crate) fn len(&self) -> usize {
        match self {
            Column::Id(v) => v.len(),
            Column::OptId(v) => v.len(),
            Column::Text(v) => v.len(),
            Column::Int(v) => v.len(),
            Column::Instant(v) => v.len(),
            Column::OptInstant(v) => v.len(),
        }
    }
}

/// A table's rows as columns, every row carrying the partner.
pub(crate) struct Rows {
    pub table: &'static str,
    pub columns: Vec<(&'static str, Column)>,
}

/// A column's name and how it is read from the records.
type ColumnOf<T> = (&'static str, fn(&[T]) -> Column);

fn rows<T>(table: &'static str, partner: Uuid, items: &[T], columns: Vec<ColumnOf<T>>) -> Rows {
    let mut all = vec![("partner_id", Column::Id(vec![partner; items.len()]))];
    all.extend(columns.into_iter().map(|(name, column)| (name, column(items))));
    Rows { table, columns: all }
}

macro_rules! col {
    ($kind:ident, |$x:ident| $value:expr) => {
        |items| Column::$kind(items.iter().map(|$x| $value).collect())
    };
}

/// Every table of the history as columns, in an order that satisfies the foreign keys.
pub(crate) fn tables(partner: Uuid, history: &History) -> Vec<Rows> {
    let tipped: Vec<&SeededPayment> = history.payments.iter().filter(|p| p.tip > 0).collect();
    let code = |currency: Currency| currency.code().to_owned();
    vec![
        rows(
            "table_sessions",
            partner,
            &history.sessions,
            vec![
                ("id", col!(Id, |s| s.id)),
                ("venue_id", col!(Id, |s| s.venue_id)),
                ("table_id", col!(Id, |s| s.table_id)),
                ("status", col!(Text, |_s| "closed".to_owned())),
                ("created_at", col!(Instant, |s| s.opened_at)),
                ("accepted_at", col!(OptInstant, |s| Some(s.opened_at))),
                ("accepted_by", col!(Text, |s| format!("staff:{}", s.accepted_by))),
                ("accepted_member", col!(OptId, |s| Some(s.accepted_by))),
                ("closed_at", col!(OptInstant, |s| Some(s.closed_at))),
                ("closed_by", col!(Text, |s| format!("staff:{}", s.accepted_by))),
                ("check_orders", col!(Int, |s| s.check_orders)),
                ("check_gross", col!(Int, |s| s.check_gross)),
            ],
        ),
        rows(
            "orders",
            partner,
            &history.orders,
            vec![
                ("id", col!(Id, |o| o.id)),
                ("venue_id", col!(Id, |o| o.venue_id)),
                ("table_id", col!(Id, |o| o.table_id)),
                ("session_id", col!(OptId, |o| Some(o.session_id))),
                ("status", col!(Text, |o| o.status.to_owned())),
                ("lines", col!(Text, |o| o.lines.clone())),
                ("subtotal", col!(Int, |o| o.subtotal)),
                ("tax", col!(Int, |o| o.tax)),
                ("currency", col!(Text, |o| o.currency.code().to_owned())),
                ("placed_at", col!(Instant, |o| o.placed_at)),
                ("updated_at", col!(Instant, |o| o.updated_at)),
            ],
        ),
        rows(
            "payments",
            partner,
            &history.payments,
            vec![
                ("id", col!(Id, |p| p.id)),
                ("venue_id", col!(Id, |p| p.venue_id)),
                ("table_id", col!(Id, |p| p.table_id)),
                ("session_id", col!(Id, |p| p.session_id)),
                ("split", col!(Text, |p| p.split.clone())),
                ("currency", col!(Text, |p| p.currency.code().to_owned())),
                ("share", col!(Int, |p| p.share)),
                ("tip", col!(Int, |p| p.tip)),
                ("platform_fee", col!(Int, |p| p.platform_fee)),
                ("charge_model", col!(Text, |p| p.charge_model.to_owned())),
                ("status", col!(Text, |_p| "succeeded".to_owned())),
                (
                    "payment_intent",
                    col!(Text, |p| format!("pi_seed_{}", p.id.simple())),
                ),
                ("refunded", col!(Int, |p| p.refunded)),
                ("tip_member", col!(OptId, |p| p.tip_member)),
                ("created_at", col!(Instant, |p| p.created_at)),
                (
                    "expires_at",
                    col!(Instant, |p| p.created_at + time::Duration::minutes(30)),
                ),
                ("succeeded_at", col!(OptInstant, |p| Some(p.succeeded_at))),
            ],
        ),
        Rows {
            table: "tip_ledger",
            columns: vec![
                ("partner_id", Column::Id(vec![partner; tipped.len()])),
                ("id", Column::Id(tipped.iter().map(|p| p.id).collect())),
                (
                    "venue_id",
                    Column::Id(tipped.iter().map(|p| p.venue_id).collect()),
                ),
                (
                    "member",
                    Column::OptId(tipped.iter().map(|p| p.tip_member).collect()),
                ),
                ("payment_id", Column::Id(tipped.iter().map(|p| p.id).collect())),
                ("amount", Column::Int(tipped.iter().map(|p| p.tip).collect())),
                (
                    "currency",
                    Column::Text(tipped.iter().map(|p| code(p.currency)).collect()),
                ),
                (
                    "at",
                    Column::Instant(tipped.iter().map(|p| p.succeeded_at).collect()),
                ),
            ],
        },
        rows(
            "refunds",
            partner,
            &history.refunds,
            vec![
                ("id", col!(Id, |r| r.id)),
                ("payment_id", col!(Id, |r| r.payment_id)),
                ("amount", col!(Int, |r| r.amount)),
                ("currency", col!(Text, |r| r.currency.code().to_owned())),
                ("transfer_reversal", col!(Int, |r| r.amount)),
                ("platform_part", col!(Int, |_r| 0)),
                ("tip_reversal", col!(Int, |_r| 0)),
                ("tax_part", col!(Int, |r| r.tax_part)),
                ("reason", col!(Text, |r| r.reason.clone())),
                ("status", col!(Text, |_r| "succeeded".to_owned())),
                ("requested_by", col!(Id, |r| r.requested_by)),
                (
                    "stripe_refund",
                    col!(Text, |r| format!("re_seed_{}", r.id.simple())),
                ),
                ("created_at", col!(Instant, |r| r.created_at)),
                ("completed_at", col!(OptInstant, |r| Some(r.completed_at))),
            ],
        ),
        rows(
            "reservations",
            partner,
            &history.reservations,
            vec![
                ("id", col!(Id, |r| r.id)),
                ("venue_id", col!(Id, |r| r.venue_id)),
                ("guest_id", col!(Id, |r| r.guest_id)),
                ("party_size", col!(Int, |r| r.party_size)),
                ("start_at", col!(Instant, |r| r.start_at)),
                ("until_at", col!(Instant, |r| r.until_at)),
                ("status", col!(Text, |r| r.status.to_owned())),
                ("channel", col!(Text, |r| r.channel.to_owned())),
                ("tables", col!(Text, |r| r.tables.clone())),
                ("created_at", col!(Instant, |r| r.created_at)),
                ("updated_at", col!(Instant, |r| r.start_at)),
            ],
        ),
        rows(
            "sales_quarters",
            partner,
            &history.sales,
            vec![
                ("venue_id", col!(Id, |s| s.0)),
                ("quarter", col!(Instant, |s| s.1)),
                ("currency", col!(Text, |s| s.2.code().to_owned())),
                ("gross", col!(Int, |s| s.3.gross)),
                ("tax", col!(Int, |s| s.3.tax)),
                ("refunds", col!(Int, |s| s.3.refunds)),
                ("refund_tax", col!(Int, |s| s.3.refund_tax)),
                ("tips", col!(Int, |s| s.3.tips)),
                ("collected", col!(Int, |s| s.3.collected)),
                ("orders", col!(Int, |s| s.3.orders)),
            ],
        ),
        rows(
            "item_sales_quarters",
            partner,
            &history.items,
            vec![
                ("venue_id", col!(Id, |i| i.0)),
                ("quarter", col!(Instant, |i| i.1)),
                ("item_id", col!(Id, |i| i.2.item_id)),
                ("quantity", col!(Int, |i| i.2.quantity)),
                ("sales", col!(Int, |i| i.2.sales)),
            ],
        ),
        rows(
            "server_sales_quarters",
            partner,
            &history.servers,
            vec![
                ("venue_id", col!(Id, |s| s.0)),
                ("quarter", col!(Instant, |s| s.1)),
                ("member", col!(Id, |s| s.2)),
                ("orders", col!(Int, |s| s.3)),
                ("gross", col!(Int, |s| s.4)),
            ],
        ),
    ]
}

/// The batch size of a bulk insert: bounded by SQLite's 32,766 bound parameters, and on PostgreSQL by keeping one
/// statement's arrays a few megabytes.
pub(crate) fn batch_rows(columns: usize) -> usize {
    (32_766 / columns.max(1)).min(4_000)
}
