//! PostgreSQL engine of the audit chain (statements in `audit_sql.rs`, shared with SQLite): appends lock the month's
//! head row (`ON CONFLICT DO UPDATE`), so one partner's appends serialise and nobody else waits.

use crate::postgres::kit::*;

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

/// The triggers that keep the chain append-only (migrations 0006, 0012, 0016), each of which `audit verify` and the
/// upkeep check is still there and enabled.
const AUDIT_GUARDS: &[&str] = &[
    "audit_events_append_only",
    "audit_checkpoints_append_only",
    "audit_pending_append_only",
    "audit_events_no_truncate",
    "audit_checkpoints_no_truncate",
    "audit_heads_no_truncate",
];

/// The enabled triggers of the database (a disabled one guards nothing).
async fn present_triggers(conn: &mut Conn) -> StoreResult<Vec<String>> {
    Ok(
        sqlx::query_scalar("SELECT tgname::text FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'D'")
            .fetch_all(conn)
            .await?,
    )
}

include!("audit_sql.rs");
