//! SQLite engine of the audit chain (statements in `audit_sql.rs`, shared with PostgreSQL): appends run inside the
//! writer's `BEGIN IMMEDIATE` transaction, which already serialises them.

use crate::sqlite::kit::*;

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

/// The triggers that keep the chain append-only (migrations 0006, 0016, 0039), each of which `audit verify` and the
/// upkeep check is still there.
const AUDIT_GUARDS: &[&str] = &[
    "audit_events_no_update",
    "audit_events_no_delete",
    "audit_checkpoints_no_update",
    "audit_checkpoints_no_delete",
    "audit_pending_no_update",
];

/// The database's triggers.
async fn present_triggers(conn: &mut Conn) -> StoreResult<Vec<String>> {
    Ok(
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            .fetch_all(conn)
            .await?,
    )
}

include!("audit_sql.rs");
