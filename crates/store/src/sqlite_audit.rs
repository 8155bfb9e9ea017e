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

include!("audit_sql.rs");
