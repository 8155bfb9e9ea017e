//! The embedded engine: one SQLite file in the data directory, WAL journal, foreign keys on, STRICT tables.
//! Tenant separation here is the application's filter alone (SQLite has no row-level security), which is why every
//! statement below names `partner_id`.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use comanda_security::TenantScope;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, SqliteConnection};
use time::OffsetDateTime;

use crate::migrate::{self, AppliedMigration, Migration, MigrationReport, migrations};
use crate::{Store, StoreError, StoreResult};
use kit::*;

pub(crate) const MIGRATIONS: &[Migration] = migrations!("sqlite");

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    pub(crate) sealer: std::sync::Arc<crate::sealing::FieldSealer>,
    /// SQLite has one writer at a time. Writers of this process queue here, in order and without spinning, rather
    /// than in SQLite's busy handler, which sleeps in growing steps (up to 100 ms) and so turns a short queue into a
    /// long tail. Other processes (the CLI, a backup) still meet the busy timeout.
    pub(crate) write_gate: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Held shared while the store is open, let go by `close` (see [`claim_for_restore`]).
    in_use: std::sync::Arc<std::sync::Mutex<Option<std::fs::File>>>,
}

/// The file whose lock says a database file is in use: `<database>.in-use`.
fn in_use_marker(database: &std::path::Path) -> std::path::PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".in-use");
    std::path::PathBuf::from(name)
}

fn marker_file(database: &std::path::Path) -> StoreResult<std::fs::File> {
    let path = in_use_marker(database);
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StoreError::Config(format!("{}: {e}", path.display())))
}

/// Every open store holds its database's marker shared (servers, CLI commands: many at once); a restore takes it
/// exclusively, so it never replaces the file under a running server, whose writes would then go to the replaced
/// file and be lost at its next start.
fn hold_in_use(options: &SqliteConnectOptions) -> StoreResult<Option<std::fs::File>> {
    let database = options.get_filename();
    if database.as_os_str().is_empty() || database == std::path::Path::new(":memory:") {
        return Ok(None);
    }
    let marker = marker_file(database)?;
    match marker.try_lock_shared() {
        Ok(()) => Ok(Some(marker)),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Config(format!(
            "{} is being restored from a backup: start again once the restore is done",
            database.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(StoreError::Config(format!("{}: {e}", database.display())))
        }
    }
}

/// Claims the database file for a restore: the returned file holds its marker exclusively until it is dropped.
/// Refused while any store has it open (a running `comanda serve`, a CLI command).
pub fn claim_for_restore(database: &std::path::Path) -> StoreResult<std::fs::File> {
    let marker = marker_file(database)?;
    match marker.try_lock() {
        Ok(()) => Ok(marker),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Conflict(format!(
            "{} is in use by a running comanda process (the server): stop it, then restore",
            database.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(StoreError::Config(format!("{}: {e}", database.display())))
        }
    }
}

/// A write transaction holding the store's write gate until it commits or is dropped (the transaction is
/// declared first, so it rolls back before the gate opens).
pub(crate) struct WriteTx<'a> {
    tx: sqlx::Transaction<'a, sqlx::Sqlite>,
    _gate: tokio::sync::MutexGuard<'a, ()>,
}

impl WriteTx<'_> {
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

impl std::ops::Deref for WriteTx<'_> {
    type Target = sqlx::SqliteConnection;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

impl SqliteStore {
    /// A read of one tenant's data: a deferred transaction, so several statements see one snapshot and no write
    /// lock is taken (tenancy is enforced by the queries' `partner_id`; SQLite has no row-level security).
    pub(crate) async fn reading(
        &self,
        _scope: &comanda_security::TenantScope,
    ) -> StoreResult<sqlx::Transaction<'_, sqlx::Sqlite>> {
        Ok(self.pool.begin().await?)
    }

    /// A write transaction (`BEGIN IMMEDIATE`), after this process's earlier writers.
    pub(crate) async fn write_tx(&self) -> StoreResult<WriteTx<'_>> {
        let gate = self.write_gate.lock().await;
        Ok(WriteTx {
            tx: self.pool.begin_with("BEGIN IMMEDIATE").await?,
            _gate: gate,
        })
    }
}

fn options(url: &str) -> StoreResult<SqliteConnectOptions> {
    Ok(SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::Config(format!("SQLite URL: {e}")))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5)))
}

pub async fn migrate(url: &str) -> StoreResult<MigrationReport> {
    use sqlx::Connection;
    let mut conn = SqliteConnection::connect_with(&options(url)?).await?;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS comanda_migrations (
            version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL
        ) STRICT",
    )
    .execute(&mut conn)
    .await?;
    // BEGIN IMMEDIATE takes the write lock up front, so two processes migrating at once serialise.
    let mut applied = Vec::new();
    loop {
        sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut conn).await?;
        let step = migrate_one(&mut conn).await;
        match step {
            Ok(Some(done)) => {
                sqlx::raw_sql("COMMIT").execute(&mut conn).await?;
                applied.push(done);
            }
            Ok(None) => {
                sqlx::raw_sql("COMMIT").execute(&mut conn).await?;
                break;
            }
            Err(error) => {
                sqlx::raw_sql("ROLLBACK").execute(&mut conn).await?;
                return Err(error);
            }
        }
    }
    conn.close().await?;
    Ok(MigrationReport {
        applied,
        version: migrate::required_version(MIGRATIONS),
    })
}

async fn migrate_one(conn: &mut SqliteConnection) -> StoreResult<Option<AppliedMigration>> {
    let recorded: Vec<(i64, String)> =
        sqlx::query_as("SELECT version, checksum FROM comanda_migrations ORDER BY version")
            .fetch_all(&mut *conn)
            .await?;
    let Some(next) = migrate::plan(MIGRATIONS, &recorded)?.into_iter().next() else {
        return Ok(None);
    };
    sqlx::raw_sql(next.sql)
        .execute(&mut *conn)
        .await
        .map_err(|e| StoreError::Migration(format!("{} failed: {e}", next.name)))?;
    sqlx::query(
        "INSERT INTO comanda_migrations (version, name, checksum, applied_at)
         VALUES (?, ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
    )
    .bind(next.version)
    .bind(next.name)
    .bind(next.checksum())
    .execute(&mut *conn)
    .await?;
    Ok(Some(AppliedMigration {
        version: next.version,
        name: next.name.to_owned(),
    }))
}

impl SqliteStore {
    pub async fn connect(
        url: &str,
        max_connections: u32,
        kms: Option<std::sync::Arc<dyn comanda_security::kms::Kms>>,
    ) -> StoreResult<Self> {
        let options = options(url)?;
        let in_use = hold_in_use(&options)?;
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .test_before_acquire(false)
            .before_acquire(crate::pooling::ping_if_idle)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        let recorded = sqlx::query_scalar("SELECT max(version) FROM comanda_migrations")
            .fetch_one(&pool)
            .await;
        migrate::require_current(recorded, MIGRATIONS)?;
        Ok(Self {
            pool,
            sealer: std::sync::Arc::new(crate::sealing::FieldSealer::new(kms)),
            write_gate: std::sync::Arc::new(tokio::sync::Mutex::new(())),
            in_use: std::sync::Arc::new(std::sync::Mutex::new(in_use)),
        })
    }
}

/// What the statements shared with PostgreSQL (`*_sql.rs`) take from the engine that includes them: its types, the
/// identifier encoding, the row lock, and the writers every aggregate uses.
pub(crate) mod kit {
    pub(crate) use sqlx::Row;
    use uuid::Uuid;
    use uuid::fmt::Hyphenated;

    pub(crate) use super::{SqliteStore as Engine, insert_partner, venue_from_row};
    use crate::StoreResult;
    pub(crate) use crate::records::{corrupt, foreign_key_to_not_found};
    pub(crate) use crate::sqlite_analytics::{add_to_item_sales, add_to_sales, close_check};
    pub(crate) use crate::sqlite_audit::{chain_pending, clear_sources};
    pub(crate) use crate::sqlite_identity::insert_message;
    pub(crate) use crate::sqlite_ordering::keyset_page;
    pub(crate) use crate::sqlite_payments::balance_in;
    pub(crate) use crate::sqlite_reservations::cancel_if;

    pub(crate) type Db = sqlx::Sqlite;
    pub(crate) type DbRow = sqlx::sqlite::SqliteRow;
    pub(crate) type Conn = sqlx::SqliteConnection;

    /// SQLite keeps identifiers as hyphenated text.
    pub(crate) fn h<U: std::borrow::Borrow<Uuid>>(id: U) -> Hyphenated {
        id.borrow().hyphenated()
    }

    pub(crate) fn uuid_col(row: &DbRow, column: &str) -> StoreResult<Uuid> {
        Ok(row.try_get::<Hyphenated, _>(column)?.into_uuid())
    }

    pub(crate) fn opt_uuid_col(row: &DbRow, column: &str) -> StoreResult<Option<Uuid>> {
        Ok(row
            .try_get::<Option<Hyphenated>, _>(column)?
            .map(Hyphenated::into_uuid))
    }

    /// An instant as SQLite keeps it: UTC text with nine fraction digits, so text order is time order
    /// ([`crate::records::InstantText`]). Every instant a statement binds goes through this.
    pub(crate) fn ts<I: crate::records::InstantText>(at: I) -> I::Text {
        at.fixed_width()
    }

    /// An optional instant (stored as text by sqlx).
    pub(crate) fn opt_instant_col(row: &DbRow, column: &str) -> StoreResult<Option<time::OffsetDateTime>> {
        Ok(row.try_get(column)?)
    }

    /// No row lock: the write transaction already holds the database's only write lock.
    macro_rules! locking {
        ($sql:literal) => {
            $sql
        };
    }
    pub(crate) use locking;

    /// Whole seconds from the instant column `$from` to `$to` (stored as RFC 3339 text, which `unixepoch` reads).
    macro_rules! seconds_between {
        ($from:literal, $to:literal) => {
            concat!("(unixepoch(", $to, ") - unixepoch(", $from, "))")
        };
    }
    pub(crate) use seconds_between;

    /// The database's clock as an instant, at the width the kit's `ts` writes (SQLite's own default text has three
    /// fraction digits): for a time nobody compares, where the store has no clock of its own (a data key made).
    macro_rules! database_now {
        () => {
            "(strftime('%Y-%m-%dT%H:%M:%S', 'now') || '.' || substr(strftime('%f', 'now'), 4) || '000000Z')"
        };
    }
    pub(crate) use database_now;
}

include!("partners_sql.rs");
include!("backup_runs_sql.rs");
include!("idempotency_sql.rs");
include!("security_response_sql.rs");

#[async_trait]
impl Store for SqliteStore {
    fn engine(&self) -> crate::Engine {
        crate::Engine::Sqlite
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
        // Closed, the database may be restored (the marker's lock goes with its file).
        if let Ok(mut held) = self.in_use.lock() {
            held.take();
        }
    }
}

#[async_trait]
impl crate::seeding::HistoryStore for SqliteStore {
    /// Each batch is one multi-row `INSERT … VALUES (…), (…)` with bound values, in one write transaction.
    async fn load_history(
        &self,
        scope: &comanda_security::TenantScope,
        history: &crate::seeding::History,
    ) -> StoreResult<()> {
        use crate::seeding::{Column, batch_rows, tables};
        let mut tx = self.write_tx().await?;
        for rows in tables(scope.partner().as_uuid(), history) {
            let total = rows.columns.first().map_or(0, |(_, column)| column.len());
            let names: Vec<&str> = rows.columns.iter().map(|(name, _)| *name).collect();
            let step = batch_rows(names.len());
            for start in (0..total).step_by(step) {
                let end = (start + step).min(total);
                let tuple = format!("({})", vec!["?"; names.len()].join(", "));
                let sql = format!(
                    "INSERT INTO {} ({}) VALUES {}",
                    rows.table,
                    names.join(", "),
                    vec![tuple.as_str(); end - start].join(", ")
                );
                // Built from the static table and column names of `seeding::tables` only.
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
                for row in start..end {
                    for (_, column) in &rows.columns {
                        query = match column {
                            Column::Id(v) => query.bind(v[row].hyphenated()),
                            Column::OptId(v) => query.bind(v[row].map(|id| id.hyphenated())),
                            Column::Text(v) => query.bind(v[row].clone()),
                            Column::Int(v) => query.bind(v[row]),
                            Column::Instant(v) => query.bind(ts(v[row])),
                            Column::OptInstant(v) => query.bind(ts(v[row])),
                        };
                    }
                }
                query.execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}
