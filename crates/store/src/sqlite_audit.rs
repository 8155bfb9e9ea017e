//! SQLite engine of the audit chain (statements in `audit_sql.rs`, shared with PostgreSQL): appends run inside the
//! writer's `BEGIN IMMEDIATE` transaction, which already serialises them.

use async_trait::async_trait;
use comanda_domain::{Page, PageRequest, PartnerId};
use comanda_security::TenantScope;
use comanda_security::audit_chain::{self, Checkpoint, CheckpointBody, GENESIS, ShardHead, StoredEntry};
use sqlx::Row;
use sqlx::SqliteConnection as Conn;
use sqlx::sqlite::SqliteRow as DbRow;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreResult;
use crate::audit::{AuditFilter, AuditStore, chain_entry, micros, to_hash, truncate_to_micros};
use crate::identity::{AuditEntry, AuditEvent};
use crate::sqlite::SqliteStore as Engine;
use crate::sqlite_identity::{h, opt_uuid_col, uuid_col};

/// Deletes one month of the partner's chain (the append-only trigger lets retention delete only pruned-eligible
/// months).
async fn prune_month(conn: &mut Conn, partner: PartnerId, shard: &str) -> StoreResult<u64> {
    Ok(
        sqlx::query("DELETE FROM audit_events WHERE partner_id = $1 AND shard = $2")
            .bind(h(partner.as_uuid()))
            .bind(shard)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}

type Db = sqlx::Sqlite;

include!("audit_sql.rs");
