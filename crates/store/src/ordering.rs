//! Ordering storage: tables and their token versions, menus, orders and the order-event feed.

use async_trait::async_trait;
use comanda_domain::menu::{Localized, MenuItem, PricedLine};
use comanda_domain::{Money, OrderStatus, Page, PageRequest, ValidationErrors, Venue};
use comanda_security::TenantScope;
use comanda_security::table_token::TableEntry;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreResult;
use crate::identity::AuditEntry;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueTable {
    pub id: Uuid,
    pub venue_id: Uuid,
    pub label: String,
    pub seats: u32,
    pub token_version: u32,
    pub created_at: OffsetDateTime,
    /// Reservations: the smallest party the table is given to (its seats are the largest).
    pub min_party: u16,
    /// Reservations: offered by the public widget (otherwise booked by the host, or kept for walk-ins).
    pub bookable_online: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    pub id: Uuid,
    pub venue_id: Uuid,
    pub name: Localized,
    pub position: i32,
}

stored_enum! {
    /// A table's session: pending until staff accept it, open while guests order, closed when the table is closed.
    pub enum SessionStatus {
        Pending = "pending",
        Open = "open",
        Closed = "closed",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSession {
    pub id: Uuid,
    pub venue_id: Uuid,
    pub table_id: Uuid,
    pub status: SessionStatus,
    pub created_at: OffsetDateTime,
    /// Who accepted the table, as the audit log names actors (`role:member`).
    pub accepted_by: Option<String>,
    /// The member who accepted the table: its tips are credited to them.
    pub accepted_member: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: Uuid,
    /// The table session the order belongs to.
    pub session_id: Option<Uuid>,
    /// The guest device that placed it (only that device may cancel it before it is accepted).
    pub device: Option<String>,
    pub venue_id: Uuid,
    /// The table whose bill the order is on.
    pub table_id: Uuid,
    /// The table its dishes are served at: `table_id` but for an order placed from another of a joined party's
    /// tables (the party's one bill is on its first table).
    pub served_table_id: Uuid,
    pub status: OrderStatus,
    pub lines: Vec<PricedLine>,
    pub subtotal: Money,
    /// The tax contained in `subtotal` (`comanda_domain::bill::order_tax`), what analytics counts as this order's.
    pub tax: Money,
    pub cancel_reason: Option<String>,
    pub placed_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct NewOrder {
    pub id: Uuid,
    pub venue_id: Uuid,
    /// The table whose bill the order goes on.
    pub table_id: Uuid,
    /// The table it is served at, when another than `table_id` (a joined party's table).
    pub served_table_id: Option<Uuid>,
    pub lines: Vec<PricedLine>,
    pub subtotal: Money,
    /// The tax contained in `subtotal`.
    pub tax: Money,
    pub idempotency_key: Option<String>,
    /// Digest of the request body, so a reused key with another body is told apart.
    pub request_hash: Vec<u8>,
    pub device: Option<String>,
}

/// A guest's order as the request names it, before pricing: the items are priced inside the order's own
/// transaction, so the prices and availability it keeps are those of the moment it was stored.
#[derive(Debug, Clone)]
pub struct OrderDraft {
    pub id: Uuid,
    pub venue_id: Uuid,
    /// The table the guest ordered from (whose code they scanned), where the dishes go. The order goes on that
    /// table's bill, or, when the table is joined for a seated party, on the party's bill (`party_bill_table`),
    /// read by the store as it places the order (on PostgreSQL in the order's transaction, in the statement that
    /// reads the venue; on SQLite just before the write, with the menu).
    pub table_id: Uuid,
    /// The menu items the request names; ids that are not the venue's are simply absent from what pricing sees.
    pub item_ids: Vec<Uuid>,
    pub idempotency_key: Option<String>,
    pub request_hash: Vec<u8>,
    pub device: Option<String>,
}

impl OrderDraft {
    /// The order to store on `bill_table`'s bill: the priced lines, their subtotal and the tax they contain under
    /// the venue's regime.
    pub fn priced(
        &self,
        venue: &Venue,
        bill_table: Uuid,
        lines: Vec<PricedLine>,
        subtotal: Money,
    ) -> NewOrder {
        let bill_lines: Vec<_> = lines.iter().map(PricedLine::bill_line).collect();
        // The subtotal was summed without overflow, so the tax it contains cannot overflow either.
        let tax = comanda_domain::bill::order_tax(&bill_lines, venue.tax, subtotal.currency)
            .unwrap_or(Money::zero(subtotal.currency));
        NewOrder {
            id: self.id,
            venue_id: self.venue_id,
            table_id: bill_table,
            served_table_id: (self.table_id != bill_table).then_some(self.table_id),
            lines,
            subtotal,
            tax,
            idempotency_key: self.idempotency_key.clone(),
            request_hash: self.request_hash.clone(),
            device: self.device.clone(),
        }
    }
}

/// Prices a draft from the venue and the items it names, as read inside the order's transaction: the lines and
/// their subtotal, or every field the guest has to change.
pub type PriceOrder<'a> =
    dyn Fn(&Venue, &[MenuItem]) -> Result<(Vec<PricedLine>, Money), ValidationErrors> + Send + Sync + 'a;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaceOutcome {
    Created(Order),
    /// The same Idempotency-Key with the same body: the first order.
    Replayed(Order),
    /// The same Idempotency-Key with another body.
    KeyReused,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderEvent {
    /// The SSE event id clients resume from. Within a venue it increases in commit order, so once a reader has seen
    /// an event no event numbered below it can still appear (numbers of different venues are not comparable).
    pub seq: i64,
    pub order_id: Uuid,
    pub venue_id: Uuid,
    pub status: OrderStatus,
    pub actor: String,
    pub at: OffsetDateTime,
}

/// What a table session's money covers of its bill, in minor units of the bill's currency: its succeeded card
/// shares (`paid`) and those being paid (`held`), tips excluded; what refunds not failed give back of those shares
/// (`returned`, their tip part excluded: a tip refunded never paid for food); and cash servers recorded, records
/// voided left out. What earlier cancellations kept (`orders.kept_gross`) already paid for orders no longer on the
/// bill, so it is out of `paid` and `returned`. An order's cancellation and the guest's bill that offers Cancel
/// decide by this one figure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BillCoverage {
    pub paid: i64,
    pub held: i64,
    pub returned: i64,
    pub cash: i64,
}

impl BillCoverage {
    /// Whether the bill may shrink to `total_after` (its orders' subtotal once one is cancelled) with every payment,
    /// payment in progress, cash record and refund counted ([`comanda_domain::bill::may_shrink_bill`]).
    pub fn may_shrink_to(&self, total_after: i64) -> bool {
        comanda_domain::bill::may_shrink_bill(
            total_after,
            self.paid.saturating_add(self.held).saturating_add(self.cash),
            self.returned,
        )
    }
}

/// Every method that changes something takes the change's audit entry and appends it to the partner's chain in
/// the same transaction (MON-5): the change and its record commit together or not at all. An entry without a
/// target is given the id of the record the change created or touched. A replayed order changes nothing and
/// appends nothing.
#[async_trait]
pub trait OrderingStore: Send + Sync {
    /// [`crate::StoreError::NotFound`] when the venue is not the partner's; [`crate::StoreError::Conflict`] when
    /// one of its tables in service has the label already.
    async fn create_table(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        label: &str,
        seats: u32,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<VenueTable>;
    /// Renames a table; its QR code keeps working. [`crate::StoreError::NotFound`] for a retired or another
    /// tenant's table, [`crate::StoreError::Conflict`] when another table of the venue has the label.
    async fn rename_table(
        &self,
        scope: &TenantScope,
        table: Uuid,
        label: &str,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<VenueTable>;
    /// The venue's tables in service (retired ones left out) in the order they were added, keyset-paginated by
    /// `(created_at, id)`.
    async fn tables(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        page: PageRequest,
    ) -> StoreResult<Page<VenueTable>>;
    /// A table in service; [`crate::StoreError::NotFound`] once it is retired.
    async fn table(&self, scope: &TenantScope, table: Uuid) -> StoreResult<VenueTable>;
    /// The venue and the table a guest's token opens, read together (every guest request starts with them).
    async fn guest_table(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        table: Uuid,
    ) -> StoreResult<(comanda_domain::Venue, VenueTable)>;
    /// Bumps the token version: every QR code printed before stops working.
    async fn rotate_table_token(
        &self,
        scope: &TenantScope,
        table: Uuid,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<VenueTable>;
    /// The platform directory entry of a table named by a guest's token.
    async fn table_entry(&self, table: Uuid) -> StoreResult<Option<TableEntry>>;

    async fn create_category(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        name: &Localized,
        position: i32,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Category>;
    /// The item's category must be of the same venue, else [`crate::StoreError::NotFound`].
    async fn create_menu_item(
        &self,
        scope: &TenantScope,
        item: &MenuItem,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<MenuItem>;
    async fn menu_item(&self, scope: &TenantScope, item: Uuid) -> StoreResult<MenuItem>;
    /// Replaces an item's editable fields (its id and venue stay); the category must be of the same venue.
    async fn update_menu_item(
        &self,
        scope: &TenantScope,
        item: &MenuItem,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<MenuItem>;
    /// Orders keep their own copy of what was ordered, so removing an item rewrites no history.
    async fn delete_menu_item(
        &self,
        scope: &TenantScope,
        item: Uuid,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Changes what is given (each language of the name, the position) and keeps the rest.
    async fn update_category(
        &self,
        scope: &TenantScope,
        category: Uuid,
        name: &comanda_domain::menu::LocalizedPatch,
        position: Option<i32>,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Category>;
    /// [`crate::StoreError::Conflict`] while the category still has items.
    async fn delete_category(
        &self,
        scope: &TenantScope,
        category: Uuid,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<()>;
    async fn menu(&self, scope: &TenantScope, venue: Uuid) -> StoreResult<(Vec<Category>, Vec<MenuItem>)>;

    async fn place_order(
        &self,
        scope: &TenantScope,
        order: &NewOrder,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<PlaceOutcome>;
    /// A guest's order in one transaction (the hot path): reads the venue and only the items the draft names,
    /// prices them with `price` (a refusal stores nothing and comes back as `Ok(Err(_))`), then stores the order
    /// as [`OrderingStore::place_order`] does. [`crate::StoreError::NotFound`] when the venue is not the partner's.
    async fn place_guest_order(
        &self,
        scope: &TenantScope,
        draft: &OrderDraft,
        price: &PriceOrder<'_>,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Result<PlaceOutcome, ValidationErrors>>;
    async fn order(&self, scope: &TenantScope, order: Uuid) -> StoreResult<Order>;
    async fn table_orders(&self, scope: &TenantScope, table: Uuid) -> StoreResult<Vec<Order>>;
    /// The orders of one table session (live or closed), oldest first, keyset-paginated by `(placed_at, id)`.
    async fn session_orders(
        &self,
        scope: &TenantScope,
        session: Uuid,
        page: PageRequest,
    ) -> StoreResult<Page<Order>>;
    /// The orders of the venue's open sessions (optionally of one status), oldest first, keyset-paginated by
    /// `(placed_at, id)`.
    async fn venue_orders(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        status: Option<OrderStatus>,
        page: PageRequest,
    ) -> StoreResult<Page<Order>>;
    /// Moves an order from `from` to `to` only if it is still at `from` ([`crate::StoreError::Conflict`] else),
    /// recording who and when as an order event.
    #[allow(clippy::too_many_arguments)]
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
    ) -> StoreResult<Order>;
    /// What the session's money covers of its bill, as an order's cancellation counts it.
    async fn bill_coverage(&self, scope: &TenantScope, session: Uuid) -> StoreResult<BillCoverage>;
    /// The table's live (pending or open) session.
    async fn live_session(&self, scope: &TenantScope, table: Uuid) -> StoreResult<Option<TableSession>>;
    /// For a table joined for a seated party (a booking seated at several tables, whose bill is opened on its first
    /// table): that bill's table and the party's tables, in the booking's order. `None` when no seated party with a
    /// live bill holds `table`, or when `table` has a live bill of its own (guests who ordered there before the
    /// party was seated keep theirs).
    async fn party_bill_table(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        table: Uuid,
    ) -> StoreResult<Option<(Uuid, Vec<Uuid>)>>;
    /// The tables of the booking whose party opened `session` (a seated booking's bill), in the booking's order;
    /// empty for a session no booking opened.
    async fn session_party_tables(&self, scope: &TenantScope, session: Uuid) -> StoreResult<Vec<Uuid>>;
    /// The venue's live sessions, oldest first, keyset-paginated by `(created_at, id)`.
    async fn venue_sessions(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        page: PageRequest,
    ) -> StoreResult<Page<TableSession>>;
    /// Opens a pending session; its orders then reach the kitchen (an order event is recorded for each).
    async fn accept_session(
        &self,
        scope: &TenantScope,
        session: Uuid,
        actor: &str,
        member: Uuid,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<TableSession>;
    /// The table of `venue` whose live bill guest device `device` last ordered on, if any: a guest whose party was
    /// moved to another table is told where its bill is now.
    async fn device_bill_table(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        device: &str,
    ) -> StoreResult<Option<Uuid>>;
    /// Moves a live bill (pending or open) to `table` of the same venue: the party changed tables. Under the bill's
    /// lock, the session, its orders and its cash records name the new table, so the party orders, pays and is
    /// served there (an order event is recorded for each order not yet served or cancelled, so kitchen displays
    /// redraw the ticket, `actor` naming who moved it; a served order keeps the table it was served at); card
    /// payments keep the table they were made at, and the old table is free for the next party. A party seated from
    /// its booking takes the booking with it: the booking holds `table` alone from `now` to its end (claims), its
    /// old tables freed. Audited with `from=<table> to=<table>`.
    /// Errors: `NotFound` (no such session); `Conflict` (the bill is closed; `table` has a live bill of its own);
    /// `Refused` (`table` is not a table of the session's venue in service, is another seated party's, or is
    /// booked within a seated party's remaining turn).
    async fn move_session(
        &self,
        scope: &TenantScope,
        session: Uuid,
        table: Uuid,
        actor: &str,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<TableSession>;
    /// Closes the table's live session ([`crate::StoreError::Conflict`] while an order is neither served nor
    /// cancelled or a payment is in progress). A bill not paid in full, read under its lock, closes only with
    /// `allow_unpaid` ([`crate::StoreError::Unsettled`] otherwise); `audit`'s detail gets ` unpaid=<minor units>`,
    /// what was left then. The next order opens a new pending session.
    async fn close_table(
        &self,
        scope: &TenantScope,
        table: Uuid,
        actor: &str,
        allow_unpaid: bool,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<TableSession>;
    /// A guest at `table` cancels their own order (placed at that table from `device`) while it is still only
    /// placed. `NotFound` for an order of another table or device; `Conflict` once the kitchen accepted it; an order
    /// already cancelled is answered as it is (a second tap), with nothing written.
    async fn cancel_guest_order(
        &self,
        scope: &TenantScope,
        table: Uuid,
        order: Uuid,
        device: &str,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Order>;

    /// The venue's order events after `after` (an SSE Last-Event-ID), oldest first.
    async fn order_events_after(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<OrderEvent>>;
}

/// Where an SSE stream without a Last-Event-ID starts: the venue's newest event.
#[async_trait]
pub trait OrderEventFeed: Send + Sync {
    /// The venue's newest event number (0 before its first event); `NotFound` when the venue is not the caller's,
    /// so opening a stream costs this one read.
    async fn latest_order_event(&self, scope: &TenantScope, venue: Uuid) -> StoreResult<i64>;
    /// `(partner, venue)` notices of new order events from every instance, where the engine can tell (PostgreSQL
    /// LISTEN); `None` for a single-process engine.
    async fn order_event_notices(&self) -> StoreResult<Option<tokio::sync::mpsc::Receiver<(Uuid, Uuid)>>>;
}

pub(crate) fn status_from(text: &str) -> StoreResult<OrderStatus> {
    OrderStatus::parse(text).ok_or_else(|| crate::records::corrupt("status", text))
}

pub(crate) fn json_from<T: serde::de::DeserializeOwned>(column: &str, text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|_| crate::records::corrupt(column, text))
}

pub(crate) fn json_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".into())
}
