//! Analytics in the store (issue 19, docs/analytics.md): the sales roll-ups, one row per venue and UTC quarter-hour,
//! moved by the same transaction as the change that moves them, and the same figures recomputed from the raw rows
//! (what the roll-ups must always equal, and the benchmark's raw comparison). Which business day, hour or bucket a
//! quarter-hour belongs to is `comanda_domain::analytics`'s rule, applied when a report is read.

use async_trait::async_trait;
use comanda_domain::Currency;
use comanda_domain::analytics::{ItemSale, Measures};
use comanda_security::TenantScope;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreResult;
use crate::reservations::ReservationStatus;

/// One venue's measures in one UTC quarter-hour, in the venue's currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SalesQuarter {
    pub venue_id: Uuid,
    /// The quarter-hour's start (UTC, on :00, :15, :30 or :45).
    pub quarter: OffsetDateTime,
    pub currency: Currency,
    pub measures: Measures,
}

/// A venue's table turns over a range (docs/analytics.md, "Table turnover" and "Checks"): the table sessions staff
/// seated (accepted) and closed in it, the venue's tables now, and the checks those closes wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Turns {
    pub turns: i64,
    /// Seconds from seated to closed, added over the turns.
    pub seated_seconds: i64,
    pub tables: i64,
    /// Turns whose check holds at least one counted order.
    pub checks: i64,
    /// The gross of those checks (tax included, minor units).
    pub check_gross: i64,
    /// What the bills closed in the range without being paid in full still lacked at their close (minor units).
    pub unpaid: i64,
}

/// The payments a venue started in a range, by how they stand (docs/analytics.md, "Payment success rate").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PaymentOutcomes {
    pub succeeded: i64,
    pub failed: i64,
    /// Cancelled without being replaced: abandoned, or given up by the guest.
    pub cancelled: i64,
    /// Cancelled because another way of paying replaced them (`payment::cancelled_because::superseded`): left out
    /// of the rate.
    pub superseded: i64,
    /// Not ended yet: left out of the rate until they end.
    pub pending: i64,
}

/// One member's sales at one venue over a range (docs/analytics.md, "Sales per server"): the counted orders of the
/// tables they accepted, closed since, and their gross (tax included, minor units of the venue's currency).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerSale {
    pub member: Uuid,
    pub orders: i64,
    pub gross: i64,
}

#[async_trait]
pub trait AnalyticsStore: Send + Sync {
    /// The roll-up rows of one venue (or, with `None`, of all the partner's venues) whose quarter-hour starts in
    /// `[start, end)`, ordered by venue and quarter-hour. A quarter-hour in which nothing moved has no row.
    async fn sales_quarters(
        &self,
        scope: &TenantScope,
        venue: Option<Uuid>,
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> StoreResult<Vec<SalesQuarter>>;

    /// The venue's reservations whose start lies in `[start, end)`, per status: how many, their covers (party
    /// sizes), and the minor units of their deposits decided kept (`keep_due` or `kept`); walk-ins (channel
    /// `walk_in`) are not bookings and are left out. Reservations are few (a venue books tens a day), so this reads
    /// them directly.
    async fn reservation_counts(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> StoreResult<Vec<(ReservationStatus, i64, i64, i64)>>;

    /// The same rows recomputed from the raw rows (orders placed and not cancelled, succeeded payments, the tip
    /// ledger, completed refunds) by the rules of docs/analytics.md; rows whose measures are all zero are left out.
    /// A scan: for the recomputation test and the benchmark, never for a dashboard.
    async fn sales_quarters_from_raw(
        &self,
        scope: &TenantScope,
        venue: Option<Uuid>,
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> StoreResult<Vec<SalesQuarter>>;

    /// The product mix of one venue (or all the partner's venues) over the quarter-hours starting in `[start, end)`:
    /// per menu item, quantity and sales summed from the item roll-ups, ordered by item id; items that sum to
    /// nothing are left out.
    async fn item_sales(
        &self,
        scope: &TenantScope,
        venue: Option<Uuid>,
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> StoreResult<Vec<ItemSale>>;

    /// The same product mix recomputed from the lines of the orders placed in the range and not cancelled. A scan:
    /// for the recomputation test and the benchmark.
    async fn item_sales_from_raw(
        &self,
        scope: &TenantScope,
        venue: Option<Uuid>,
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> StoreResult<Vec<ItemSale>>;

    /// The venue's turns closed in `[start, end)`: a count and a sum read through an index on the sessions' close
    /// (a venue closes tens of tables a day, so no roll-up is needed).
    async fn turns(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> StoreResult<Turns>;

    /// Each turn the venue closed in `[start, end)`: its table and the seconds it was seated, ordered by table. One row
    /// a turn (tens a venue-day): for the turnover report's per-table times and percentiles.
    async fn turn_times(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> StoreResult<Vec<(Uuid, i64)>>;

    /// The payments the venue started in `[start, end)`, counted by status through the payments' venue index.
    async fn payment_outcomes(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> StoreResult<PaymentOutcomes>;

    /// Sales per server at one venue over the quarter-hours starting in `[start, end)`, from the server roll-ups,
    /// ordered by member.
    async fn server_sales(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> StoreResult<Vec<ServerSale>>;

    /// The same recomputed from the raw rows: the counted orders placed in the range of the closed tables a member
    /// accepted. A scan, for the recomputation test and the benchmark.
    async fn server_sales_from_raw(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> StoreResult<Vec<ServerSale>>;

    /// The cash each member recorded at the venue's tables in `[start, end)` (bill part plus tip), less the records
    /// voided in it (at the void): what the member's cash drawer holds for the range. Read from the cash records.
    async fn server_cash(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> StoreResult<Vec<(Uuid, i64)>>;

    /// The venue's tip ledger in `[start, end)` added up per member (`None`: tips of tables nobody accepted), tip
    /// reversals of refunds included: the ledger's own attribution, read through its venue index.
    async fn server_tips(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> StoreResult<Vec<(Option<Uuid>, i64)>>;

    /// The roll-up rows of one venue whose quarter-hour starts in `[start, end)`, added up by the database (what a
    /// summary needs: one row back instead of one per quarter-hour). Zero measures when nothing moved.
    async fn sales_total(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> StoreResult<Measures>;
}
