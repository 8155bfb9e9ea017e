//! PostgreSQL engine of the audit chain (statements in `audit_sql.rs`, shared with SQLite): appends lock the month's
//! head row (`ON CONFLICT DO UPDATE`), so one partner's appends serialise and nobody else waits.

use async_trait::async_trait;
use comanda_domain::{Page, PageRequest, PartnerId};
use comanda_security::TenantScope;
use comanda_security::audit_chain::{self, Checkpoint, CheckpointBody, GENESIS, ShardHead, StoredEntry};
use sqlx::PgConnection as Conn;
use sqlx::Row;
use sqlx::postgres::PgRow as DbRow;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreResult;
use crate::audit::{AuditFilter, AuditStore, chain_entry, micros, to_hash, truncate_to_micros};
use crate::identity::{AuditEntry, AuditEvent};
use crate::postgres::PgStore as Engine;

/// PostgreSQL binds identifiers as `uuid`.
fn h(id: Uuid) -> Uuid {
    id
}

fn uuid_col(row: &DbRow, column: &str) -> StoreResult<Uuid> {
    Ok(row.try_get(column)?)
}

fn opt_uuid_col(row: &DbRow, column: &str) -> StoreResult<Option<Uuid>> {
    Ok(row.try_get(column)?)
}

/// The serving role holds no DELETE on audit_events: retention's SECURITY DEFINER function is the one way to
/// delete, one month of the caller's tenant at a time (migration 0012).
async fn prune_month(conn: &mut Conn, partner: PartnerId, shard: &str) -> StoreResult<u64> {
    let deleted: i64 = sqlx::query_scalar("SELECT comanda_prune_audit_month($1, $2)")
        .bind(partner.as_uuid())
        .bind(shard)
        .fetch_one(conn)
        .await?;
    Ok(u64::try_from(deleted).unwrap_or(0))
}

type Db = sqlx::Postgres;

include!("audit_sql.rs");
