//! Storage for comanda. One trait per aggregate family ([`PartnerStore`], [`VenueStore`]), two engines that implement
//! them ([`sqlite::SqliteStore`] for the embedded default, [`postgres::PgStore`] for production), and one conformance
//! suite (`tests/conformance/`, one module per aggregate) that both must pass unchanged.
//!
//! Tenancy is a type: every method that touches partner data takes a [`TenantScope`], and the engines scope every
//! statement by it. PostgreSQL adds row-level security as a second wall, so a statement that forgot the tenant
//! filter still sees nothing of other partners.

#[macro_use]
mod records;
pub mod analytics;
pub mod audit;
pub mod backup_runs;
mod error;
pub mod idempotency;
pub mod identity;
mod migrate;
pub mod ordering;
pub mod payments;
mod pooling;
pub mod postgres;
mod postgres_analytics;
mod postgres_audit;
mod postgres_identity;
mod postgres_ordering;
mod postgres_payments;
mod postgres_privacy;
mod postgres_reservations;
pub mod privacy;
pub mod reservations;
pub mod security_response;
pub use postgres_ordering::ORDER_EVENTS_CHANNEL;
pub mod sealing;
pub mod seeding;
pub mod sqlite;
mod sqlite_analytics;
mod sqlite_audit;
mod sqlite_identity;
mod sqlite_ordering;
mod sqlite_payments;
mod sqlite_privacy;
mod sqlite_reservations;
#[cfg(feature = "test-support")]
pub mod testing;

use std::sync::Arc;

use async_trait::async_trait;
use comanda_domain::{NewPartner, NewVenue, Page, PageRequest, Partner, Venue, VenueId};
use comanda_security::TenantScope;
use time::OffsetDateTime;

pub use error::StoreError;
pub use migrate::{AppliedMigration, MigrationReport};
pub use pooling::PING_AFTER_IDLE;
pub use records::InstantText;

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait PartnerStore: Send + Sync {
    /// Registers the partner whose identifier the (registration) scope carries.
    async fn create_partner(
        &self,
        scope: &TenantScope,
        partner: &NewPartner,
        now: OffsetDateTime,
    ) -> StoreResult<Partner>;

    async fn partner(&self, scope: &TenantScope) -> StoreResult<Partner>;
}

#[async_trait]
pub trait VenueStore: Send + Sync {
    /// Appends `audit` (its target defaulting to the new venue's id) in the same transaction.
    async fn create_venue(
        &self,
        scope: &TenantScope,
        venue: &NewVenue,
        audit: &identity::AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Venue>;

    /// [`StoreError::NotFound`] both when the venue does not exist and when it belongs to another partner.
    async fn venue(&self, scope: &TenantScope, id: VenueId) -> StoreResult<Venue>;

    /// Moves where the venue's business day starts (0 to `MAX_DAY_START_HOUR`, checked by the caller), appending
    /// `audit` (targeting the venue) in the same transaction. Reports read it when they run, so every past day moves
    /// with it: the roll-ups are kept by UTC quarter-hour, not by business day.
    async fn set_day_start_hour(
        &self,
        scope: &TenantScope,
        id: VenueId,
        hour: u8,
        audit: &identity::AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Venue>;

    /// Renames the venue, or changes its address or tax regime (checked by the caller), appending `audit` (targeting
    /// the venue) in the same transaction.
    async fn update_venue(
        &self,
        scope: &TenantScope,
        id: VenueId,
        venue: &NewVenue,
        audit: &identity::AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Venue>;

    /// The partner's venues in creation order, keyset-paginated.
    async fn list_venues(&self, scope: &TenantScope, page: PageRequest) -> StoreResult<Page<Venue>>;

    /// The venue a record of the partner belongs to; `None` when the partner has no such record (another partner's
    /// included). What a member who works at some venues only is checked against before a route touches the record.
    async fn venue_of(
        &self,
        scope: &TenantScope,
        record: VenueRecord,
        id: uuid::Uuid,
    ) -> StoreResult<Option<VenueId>>;
}

/// The records that belong to one venue and that routes name by id ([`VenueStore::venue_of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VenueRecord {
    Table,
    TableSession,
    Order,
    Payment,
    Refund,
    Reservation,
    WaitlistEntry,
    MenuItem,
    MenuCategory,
    TableCombination,
}

/// Which engine a store runs on; reported at start and on `/readyz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgresql",
        }
    }
}

/// Everything the server needs from storage.
#[async_trait]
pub trait Store:
    PartnerStore
    + VenueStore
    + identity::IdentityStore
    + ordering::OrderingStore
    + ordering::OrderEventFeed
    + payments::PaymentStore
    + audit::AuditStore
    + privacy::PrivacyStore
    + reservations::ReservationStore
    + backup_runs::BackupRunStore
    + security_response::DisclosureStore
    + security_response::IncidentStore
    + idempotency::IdempotencyStore
    + analytics::AnalyticsStore
    + seeding::HistoryStore
    + std::fmt::Debug
{
    fn engine(&self) -> Engine;

    /// Cheap round trip proving the database answers (readiness).
    async fn ping(&self) -> StoreResult<()>;

    /// Closes the pool, waiting for connections in use to be returned (graceful shutdown).
    async fn close(&self);
}

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct DatabaseTarget {
    /// `sqlite://path` or `postgres://…`; the connection the application serves with.
    pub url: String,
    /// PostgreSQL only: a connection as the schema owner for migrations, when the serving role is a separate,
    /// less privileged one. Defaults to `url`.
    pub migration_url: Option<String>,
    pub max_connections: u32,
    /// Seals personal data (REST-1); a store without one refuses to write or read it.
    pub kms: Option<Arc<dyn comanda_security::kms::Kms>>,
}

impl DatabaseTarget {
    pub fn engine(&self) -> StoreResult<Engine> {
        engine_of(&self.url)
    }
}

pub fn engine_of(url: &str) -> StoreResult<Engine> {
    if url.starts_with("sqlite:") {
        Ok(Engine::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Engine::Postgres)
    } else {
        Err(StoreError::Config(
            "database URL must start with sqlite:, postgres:// or postgresql://".into(),
        ))
    }
}

/// Applies pending migrations to the target, then opens the serving store.
pub async fn open(target: &DatabaseTarget) -> StoreResult<Arc<dyn Store>> {
    migrate(target).await?;
    connect(target).await
}

/// Opens the serving store without migrating (it refuses a schema older than this build).
pub async fn connect(target: &DatabaseTarget) -> StoreResult<Arc<dyn Store>> {
    Ok(match target.engine()? {
        Engine::Sqlite => Arc::new(
            sqlite::SqliteStore::connect(&target.url, target.max_connections, target.kms.clone()).await?,
        ),
        Engine::Postgres => Arc::new(
            postgres::PgStore::connect(&target.url, target.max_connections, target.kms.clone()).await?,
        ),
    })
}

/// Opens a restored scratch database for reading (a restore test): on PostgreSQL the role may see every row, which
/// a serving store refuses. It is migrated to this build's schema first, as a restored database is by the next
/// `serve`: a backup taken before an upgrade is tested as it would come back (opened as it was, it failed every
/// restore test until the next backup).
pub async fn connect_scratch(url: &str) -> StoreResult<Arc<dyn Store>> {
    Ok(match engine_of(url)? {
        Engine::Sqlite => {
            sqlite::migrate(url).await?;
            Arc::new(sqlite::SqliteStore::connect(url, 1, None).await?)
        }
        Engine::Postgres => {
            postgres::migrate(url, url).await?;
            Arc::new(postgres::PgStore::connect_as(url, 1, None, false).await?)
        }
    })
}

/// Applies pending migrations (`comanda migrate`, and at every start).
pub async fn migrate(target: &DatabaseTarget) -> StoreResult<MigrationReport> {
    match target.engine()? {
        Engine::Sqlite => sqlite::migrate(&target.url).await,
        Engine::Postgres => {
            let owner_url = target.migration_url.as_deref().unwrap_or(&target.url);
            postgres::migrate(owner_url, &target.url).await
        }
    }
}
