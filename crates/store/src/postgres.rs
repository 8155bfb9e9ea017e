//! The production engine. Every statement runs in a transaction that first sets `comanda.tenant`; the tables'
//! forced row-level security policies compare each row's partner against it, so even a statement that forgot its
//! `partner_id` filter sees and changes nothing of another partner. The serving role must not be a superuser or
//! hold BYPASSRLS, and the store refuses to start otherwise.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use comanda_security::TenantScope;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection, PgConnection, Postgres, Row, Transaction};
use time::OffsetDateTime;

use crate::migrate::{self, AppliedMigration, Migration, MigrationReport, migrations};
use crate::{Store, StoreError, StoreResult};
use kit::*;

pub(crate) const MIGRATIONS: &[Migration] = migrations!("postgres");

/// Serialises concurrent `comanda migrate` runs (several instances starting at once).
const MIGRATION_LOCK: i64 = 0x0063_6f6d_616e_6461; // "comanda"

#[derive(Debug, Clone)]
pub struct PgStore {
    pub(crate) pool: PgPool,
    pub(crate) sealer: std::sync::Arc<crate::sealing::FieldSealer>,
}

fn options(url: &str) -> StoreResult<PgConnectOptions> {
    PgConnectOptions::from_str(url).map_err(|e| StoreError::Config(format!("PostgreSQL URL: {e}")))
}

/// Applies pending migrations as the schema owner, then grants the serving role (the user of `serving_url`) the
/// data privileges it needs and no more.
pub async fn migrate(owner_url: &str, serving_url: &str) -> StoreResult<MigrationReport> {
    let mut conn = PgConnection::connect_with(&options(owner_url)?).await?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut conn)
        .await?;
    let outcome = migrate_locked(&mut conn, serving_url).await;
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    outcome
}

async fn migrate_locked(conn: &mut PgConnection, serving_url: &str) -> StoreResult<MigrationReport> {
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS comanda_migrations (
            version bigint PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )",
    )
    .execute(&mut *conn)
    .await?;
    let recorded: Vec<(i64, String)> =
        sqlx::query_as("SELECT version, checksum FROM comanda_migrations ORDER BY version")
            .fetch_all(&mut *conn)
            .await?;
    let mut applied = Vec::new();
    for migration in migrate::plan(MIGRATIONS, &recorded)? {
        let mut tx = conn.begin().await?;
        sqlx::raw_sql(migration.sql)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::Migration(format!("{} failed: {e}", migration.name)))?;
        sqlx::query("INSERT INTO comanda_migrations (version, name, checksum) VALUES ($1, $2, $3)")
            .bind(migration.version)
            .bind(migration.name)
            .bind(migration.checksum())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        applied.push(AppliedMigration {
            version: migration.version,
            name: migration.name.to_owned(),
        });
    }
    grant_serving_role(conn, serving_url).await?;
    Ok(MigrationReport {
        applied,
        version: migrate::required_version(MIGRATIONS),
    })
}

async fn grant_serving_role(conn: &mut PgConnection, serving_url: &str) -> StoreResult<()> {
    let serving = options(serving_url)?.get_username().to_owned();
    let owner: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&mut *conn)
        .await?;
    if serving == owner {
        return Ok(());
    }
    let role = quote_identifier(&serving);
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "GRANT USAGE ON SCHEMA public TO {role};
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};
         REVOKE INSERT, UPDATE, DELETE ON comanda_migrations FROM {role};
         GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role};
         REVOKE UPDATE, DELETE ON audit_events, audit_checkpoints FROM {role};
         REVOKE UPDATE ON audit_pending FROM {role};
         GRANT UPDATE (source, source_salt) ON audit_events TO {role};
         GRANT EXECUTE ON FUNCTION comanda_prune_audit_month(uuid, text) TO {role};"
    )))
    .execute(&mut *conn)
    .await
    .map_err(|e| StoreError::Migration(format!("granting the serving role {serving:?}: {e}")))?;
    Ok(())
}

fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl PgStore {
    /// Above this `autovacuum_naptime` (seconds) the server warns at start (docs/deployment.md, "Settings").
    pub const MAX_AUTOVACUUM_NAPTIME_S: u64 = 10;

    pub async fn connect(
        url: &str,
        max_connections: u32,
        kms: Option<std::sync::Arc<dyn comanda_security::kms::Kms>>,
    ) -> StoreResult<Self> {
        Self::connect_as(url, max_connections, kms, true).await
    }

    /// `refuse_bypass`: refuse a role that switches row-level security off (always, except for reading a restore
    /// test's scratch database, which only a role that sees every row can restore).
    pub(crate) async fn connect_as(
        url: &str,
        max_connections: u32,
        kms: Option<std::sync::Arc<dyn comanda_security::kms::Kms>>,
        refuse_bypass: bool,
    ) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .test_before_acquire(false)
            .before_acquire(crate::pooling::ping_if_idle)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options(url)?)
            .await?;
        let bypasses: bool =
            sqlx::query_scalar("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
                .fetch_one(&pool)
                .await?;
        if bypasses && refuse_bypass {
            return Err(StoreError::Config(
                "the serving database role is a superuser or has BYPASSRLS, which would switch off row-level \
                 security: serve as an ordinary role (see docs/deployment.md)"
                    .into(),
            ));
        }
        // Every order updates its venue's counter rows (the kitchen event head, the quarter-hour roll-ups). Between
        // two autovacuum passes their dead versions pile up, and at the default one-minute nap a busy venue's
        // orders fell to half their rate within about a minute (BENCHMARKS.md); at 5 s they held steady.
        let (autovacuum, nap): (Option<String>, Option<String>) = sqlx::query_as(
            "SELECT (SELECT setting FROM pg_settings WHERE name = 'autovacuum'),
                    (SELECT setting FROM pg_settings WHERE name = 'autovacuum_naptime')",
        )
        .fetch_one(&pool)
        .await?;
        if autovacuum.as_deref() == Some("off") {
            tracing::warn!(
                "PostgreSQL's autovacuum is off: the per-venue counters are never cleaned and orders slow down \
                 under load; turn it on with autovacuum_naptime = 5s (docs/deployment.md, \"Settings\")"
            );
        } else if let Some(seconds) = nap.and_then(|s| s.parse::<u64>().ok())
            && seconds > Self::MAX_AUTOVACUUM_NAPTIME_S
        {
            tracing::warn!(
                autovacuum_naptime_s = seconds,
                "PostgreSQL vacuums the per-venue counters too seldom under load: set autovacuum_naptime = 5s \
                 (docs/deployment.md, \"Settings\")"
            );
        }
        let recorded = sqlx::query_scalar("SELECT max(version) FROM comanda_migrations")
            .fetch_one(&pool)
            .await;
        migrate::require_current(recorded, MIGRATIONS)?;
        Ok(Self {
            pool,
            sealer: std::sync::Arc::new(crate::sealing::FieldSealer::new(kms)),
        })
    }

    /// A read of one tenant's data: the same tenant transaction as a write (row-level security applies).
    pub(crate) async fn reading(&self, scope: &TenantScope) -> StoreResult<Transaction<'_, Postgres>> {
        self.scoped(scope).await
    }

    /// A transaction bound to one tenant: row-level security applies to every statement in it.
    pub(crate) async fn scoped(&self, scope: &TenantScope) -> StoreResult<Transaction<'_, Postgres>> {
        self.tenant_tx(scope.partner()).await
    }

    /// One read under the tenant's row-level security in a single round trip, for the reads every request makes
    /// (who is calling, where a kitchen feed starts). The tenant setting and the read travel as one simple-protocol
    /// message, which PostgreSQL runs as one implicit transaction: `SET LOCAL` ends with it, and an error rolls it
    /// back and leaves the connection idle. A scoped transaction costs three round trips (BEGIN and the setting,
    /// the read, COMMIT). The read's values are `TextLiteral`s: only ids and instants we render ourselves reach
    /// the SQL text.
    pub(crate) async fn read_as_tenant(&self, scope: &TenantScope, read: &str) -> StoreResult<Vec<PgRow>> {
        // A hyphenated UUID is hex digits and hyphens only.
        let partner = scope.partner().as_uuid().hyphenated();
        let message = format!("SET LOCAL comanda.tenant = '{partner}'; {read}");
        Ok(sqlx::raw_sql(sqlx::AssertSqlSafe(message))
            .fetch_all(&self.pool)
            .await?)
    }
}

/// A value rendered into SQL text by us, never from a request's text: a UUID or an instant, quoted and typed.
pub(crate) struct TextLiteral(String);

impl From<uuid::Uuid> for TextLiteral {
    fn from(id: uuid::Uuid) -> Self {
        Self(format!("'{}'::uuid", id.hyphenated()))
    }
}

impl From<time::OffsetDateTime> for TextLiteral {
    fn from(at: time::OffsetDateTime) -> Self {
        let utc = at.to_offset(time::UtcOffset::UTC);
        Self(format!(
            "'{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}+00'::timestamptz",
            utc.year(),
            u8::from(utc.month()),
            utc.day(),
            utc.hour(),
            utc.minute(),
            utc.second(),
            utc.microsecond()
        ))
    }
}

impl std::fmt::Display for TextLiteral {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the statements shared with SQLite (`*_sql.rs`) take from the engine that includes them: its types, the
/// identifier encoding, the row lock, and the writers every aggregate uses.
pub(crate) mod kit {
    pub(crate) use sqlx::Row;
    use uuid::Uuid;

    pub(crate) use super::{PgStore as Engine, insert_partner, venue_from_row};
    use crate::StoreResult;
    pub(crate) use crate::postgres_analytics::{add_to_item_sales, add_to_sales, close_check};
    pub(crate) use crate::postgres_audit::{chain_pending, clear_sources};
    pub(crate) use crate::postgres_identity::insert_message;
    pub(crate) use crate::postgres_ordering::keyset_page;
    pub(crate) use crate::postgres_payments::balance_in;
    pub(crate) use crate::postgres_reservations::cancel_if;
    pub(crate) use crate::records::{corrupt, foreign_key_to_not_found};

    pub(crate) type Db = sqlx::Postgres;
    pub(crate) type DbRow = sqlx::postgres::PgRow;
    pub(crate) type Conn = sqlx::PgConnection;

    /// PostgreSQL binds identifiers as `uuid`.
    pub(crate) fn h<U: std::borrow::Borrow<Uuid>>(id: U) -> Uuid {
        *id.borrow()
    }

    /// PostgreSQL binds instants as `timestamptz` (SQLite's kit fixes their text's width).
    pub(crate) fn ts<I>(at: I) -> I {
        at
    }

    pub(crate) fn uuid_col(row: &DbRow, column: &str) -> StoreResult<Uuid> {
        Ok(row.try_get(column)?)
    }

    pub(crate) fn opt_uuid_col(row: &DbRow, column: &str) -> StoreResult<Option<Uuid>> {
        Ok(row.try_get(column)?)
    }

    /// An optional instant, also from a simple query's text result. sqlx 0.9 decodes a text `timestamptz` only when
    /// PostgreSQL prints a fraction: it appends `.0` after the offset of `2026-12-05 02:30:00+00`, and the parse fails
    /// (sqlx issue #2707 is the same fault for `time`). An instant on a whole second is then unreadable, and a
    /// member whose second factor was confirmed on one could not be signed in at all; here the text is parsed with
    /// the fraction optional.
    pub(crate) fn opt_instant_col(row: &DbRow, column: &str) -> StoreResult<Option<time::OffsetDateTime>> {
        use sqlx::postgres::PgValueFormat;
        use sqlx::{Row as _, ValueRef as _};
        let raw = row.try_get_raw(column)?;
        if raw.is_null() || raw.format() == PgValueFormat::Binary {
            return Ok(row.try_get(column)?);
        }
        let text = raw
            .as_str()
            .map_err(|e| crate::StoreError::Config(format!("{column}: {e}")))?;
        let format = time::macros::format_description!(
            version = 2,
            "[year]-[month]-[day] [hour]:[minute]:[second][optional [.[subsecond]]][offset_hour sign:mandatory][optional [:[offset_minute]]]"
        );
        time::OffsetDateTime::parse(text, format)
            .map(Some)
            .map_err(|_| corrupt(column, text))
    }

    /// The rows a decision depends on are locked until the transaction ends.
    macro_rules! locking {
        ($sql:literal) => {
            concat!($sql, " FOR UPDATE")
        };
    }
    pub(crate) use locking;

    /// Whole seconds from the instant column `$from` to `$to`.
    macro_rules! seconds_between {
        ($from:literal, $to:literal) => {
            concat!(
                "CAST(EXTRACT(EPOCH FROM ",
                $to,
                " - ",
                $from,
                ") AS BIGINT)"
            )
        };
    }
    pub(crate) use seconds_between;

    /// The database's clock as an instant (see SQLite's kit).
    macro_rules! database_now {
        () => {
            "now()"
        };
    }
    pub(crate) use database_now;
}

include!("partners_sql.rs");
include!("backup_runs_sql.rs");
include!("idempotency_sql.rs");
include!("security_response_sql.rs");

#[async_trait]
impl Store for PgStore {
    fn engine(&self) -> crate::Engine {
        crate::Engine::Postgres
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

#[async_trait::async_trait]
impl crate::seeding::HistoryStore for PgStore {
    /// Each batch is one `INSERT … SELECT * FROM unnest($1::uuid[], …)`: whole columns travel as arrays, so a batch
    /// of thousands of rows is one round trip, under the tenant's row-level security like every write.
    async fn load_history(&self, scope: &TenantScope, history: &crate::seeding::History) -> StoreResult<()> {
        use crate::seeding::{Column, batch_rows, tables};
        let mut tx = self.scoped(scope).await?;
        for rows in tables(scope.partner().as_uuid(), history) {
            let total = rows.columns.first().map_or(0, |(_, column)| column.len());
            let names: Vec<&str> = rows.columns.iter().map(|(name, _)| *name).collect();
            let arrays: Vec<String> = rows
                .columns
                .iter()
                .enumerate()
                .map(|(i, (_, column))| {
                    let kind = match column {
                        Column::Id(_) | Column::OptId(_) => "uuid",
                        Column::Text(_) => "text",
                        Column::Int(_) => "int8",
                        Column::Instant(_) | Column::OptInstant(_) => "timestamptz",
                    };
                    format!("${}::{kind}[]", i + 1)
                })
                .collect();
            let sql = format!(
                "INSERT INTO {} ({}) SELECT * FROM unnest({})",
                rows.table,
                names.join(", "),
                arrays.join(", ")
            );
            let step = batch_rows(names.len());
            for start in (0..total).step_by(step) {
                let range = start..(start + step).min(total);
                // Built from the static table and column names of `seeding::tables` only.
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
                for (_, column) in &rows.columns {
                    // The batch's rows of each column, bound as a slice (no copy).
                    let rows = range.clone();
                    query = match column {
                        Column::Id(v) => query.bind(&v[rows]),
                        Column::OptId(v) => query.bind(&v[rows]),
                        Column::Text(v) => query.bind(&v[rows]),
                        Column::Int(v) => query.bind(&v[rows]),
                        Column::Instant(v) => query.bind(&v[rows]),
                        Column::OptInstant(v) => query.bind(&v[rows]),
                    };
                }
                query.execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use comanda_security::TenantScope;

    use super::*;
    use crate::testing::PgTestDatabase;

    /// The one-round-trip read must leave nothing behind on a pooled connection: not the tenant setting (the next
    /// request on that connection may be another tenant's), and not a failed transaction after an error.
    #[tokio::test]
    async fn a_one_round_trip_read_leaves_the_connection_as_it_found_it() {
        let db = PgTestDatabase::create().await;
        let store = PgStore::connect(&db.app_url(), 1, None).await.unwrap();
        let scope = TenantScope::for_new_partner();
        let tenant_now = "SELECT NULLIF(current_setting('comanda.tenant', true), '') AS tenant";
        let rows = store.read_as_tenant(&scope, tenant_now).await.unwrap();
        let inside: Option<String> = rows[0].try_get("tenant").unwrap();
        assert_eq!(inside, Some(scope.partner().as_uuid().to_string()));
        let after: Option<String> = sqlx::query_scalar(tenant_now)
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(after, None, "the tenant setting ended with the read");
        assert!(store.read_as_tenant(&scope, "SELECT 1 / 0").await.is_err());
        let after: Option<String> = sqlx::query_scalar(tenant_now)
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(
            after, None,
            "after an error the connection is idle, outside any transaction"
        );
    }

    /// A simple query's text instants on a whole second, with a fraction, in another zone and NULL all decode to
    /// the instant they are (sqlx alone refuses the first).
    #[tokio::test]
    async fn instants_read_as_text_decode_with_or_without_a_fraction() {
        use time::macros::datetime;
        let db = PgTestDatabase::create().await;
        let store = PgStore::connect(&db.app_url(), 1, None).await.unwrap();
        let scope = TenantScope::for_new_partner();
        let rows = store
            .read_as_tenant(
                &scope,
                "SET LOCAL TimeZone = 'America/Bogota'; SELECT TIMESTAMPTZ '2026-12-05 02:30:00+00' AS whole,
                        TIMESTAMPTZ '2026-12-05 02:30:00.000123+00' AS fraction,
                        TIMESTAMPTZ '2026-12-05 02:30:00+05:45' AS kathmandu, NULL::timestamptz AS none",
            )
            .await
            .unwrap();
        let row = rows.last().unwrap();
        assert_eq!(
            kit::opt_instant_col(row, "whole").unwrap(),
            Some(datetime!(2026-12-05 02:30 UTC))
        );
        assert_eq!(
            kit::opt_instant_col(row, "fraction").unwrap(),
            Some(datetime!(2026-12-05 02:30:00.000123 UTC))
        );
        assert_eq!(
            kit::opt_instant_col(row, "kathmandu").unwrap(),
            Some(datetime!(2026-12-04 20:45 UTC))
        );
        assert_eq!(kit::opt_instant_col(row, "none").unwrap(), None);
    }

    /// Migration 0010 on a database with kitchen events: every number already given out stays (a display resuming
    /// with Last-Event-ID keeps its place) and each venue's head starts at its own highest.
    #[tokio::test]
    async fn event_numbers_given_before_venue_numbering_stay_and_each_venue_continues_after_its_highest() {
        use sqlx::Connection;
        let cluster = crate::testing::cluster();
        let name = format!("before_venue_numbering_{}", std::process::id());
        let mut admin = PgConnection::connect(&cluster.url("postgres", "postgres"))
            .await
            .unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        let mut conn = PgConnection::connect(&cluster.url("postgres", &name))
            .await
            .unwrap();
        let (before, numbering): (Vec<&Migration>, Vec<&Migration>) =
            MIGRATIONS.iter().partition(|m| m.version < 10);
        for migration in before {
            sqlx::raw_sql(migration.sql).execute(&mut conn).await.unwrap();
        }
        // Events alone, without their orders: foreign keys are not what this test is about.
        sqlx::raw_sql("SET session_replication_role = replica")
            .execute(&mut conn)
            .await
            .unwrap();
        let (partner, first, second) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        for venue in [first, second, first, second, first] {
            sqlx::query(
                "INSERT INTO order_events (partner_id, venue_id, order_id, status, actor, at)
                 VALUES ($1, $2, $3, 'placed', 'guest', now())",
            )
            .bind(partner)
            .bind(venue)
            .bind(uuid::Uuid::now_v7())
            .execute(&mut conn)
            .await
            .unwrap();
        }
        for migration in numbering {
            sqlx::raw_sql(migration.sql).execute(&mut conn).await.unwrap();
        }
        let seqs: Vec<(uuid::Uuid, i64)> =
            sqlx::query_as("SELECT venue_id, seq FROM order_events ORDER BY seq")
                .fetch_all(&mut conn)
                .await
                .unwrap();
        assert_eq!(
            seqs,
            [(first, 1), (second, 2), (first, 3), (second, 4), (first, 5)]
        );
        let heads: Vec<(uuid::Uuid, i64)> =
            sqlx::query_as("SELECT venue_id, last_seq FROM venue_event_heads ORDER BY last_seq")
                .fetch_all(&mut conn)
                .await
                .unwrap();
        assert_eq!(heads, [(second, 4), (first, 5)]);
    }

    #[test]
    fn literals_are_quoted_and_typed() {
        let id = uuid::Uuid::nil();
        assert_eq!(
            TextLiteral::from(id).to_string(),
            "'00000000-0000-0000-0000-000000000000'::uuid"
        );
        let at = time::macros::datetime!(2026-11-23 07:05:09.000123 -05:00);
        assert_eq!(
            TextLiteral::from(at).to_string(),
            "'2026-11-23 12:05:09.000123+00'::timestamptz"
        );
    }
}
