//! SQLite engine of [`IdentityStore`]: the statements are `identity_sql.rs`, shared with PostgreSQL; here is what
//! SQLite does differently: identifiers as hyphenated text, and write transactions opened with `BEGIN IMMEDIATE` so
//! that concurrent writers queue instead of failing to upgrade a read lock (no row needs `FOR UPDATE`).

use crate::sqlite::kit::*;

include!("identity_sql.rs");

/// SQLite has no row-level security: a tenant transaction is a write transaction, and every statement in it
/// filters by partner itself.
impl Engine {
    /// Read on a pooled connection, outside the write gate: every authenticated request asks this, and it must
    /// not queue behind the orders being written (WAL readers do not wait for the writer).
    async fn member_in_session(
        &self,
        scope: &TenantScope,
        user: Uuid,
        family: Uuid,
        now: OffsetDateTime,
    ) -> StoreResult<(StaffMember, bool)> {
        let mut conn = self.pool.acquire().await?;
        let row = sqlx::query(concat!(
            "SELECT ",
            staff_columns!(),
            ", EXISTS (SELECT 1 FROM refresh_tokens WHERE family_id = $3 AND partner_id = $1
                       AND revoked_at IS NULL AND family_expires_at > $4) AS session_live
             FROM staff WHERE partner_id = $1 AND id = $2"
        ))
        .bind(h(scope.partner().as_uuid()))
        .bind(h(user))
        .bind(h(family))
        .bind(ts(now))
        .fetch_one(&mut *conn)
        .await?;
        let live: bool = row.try_get("session_live")?;
        let member = staff_from_row(&row)?;
        let member = match self.open_staff_cached(&member) {
            Some(opened) => opened?,
            None => self.open_staff(&mut conn, member).await?,
        };
        Ok((member, live))
    }

    pub(crate) async fn tenant_tx(&self, _partner: PartnerId) -> StoreResult<crate::sqlite::WriteTx<'_>> {
        self.write_tx().await
    }

    pub(crate) async fn scoped(&self, scope: &TenantScope) -> StoreResult<crate::sqlite::WriteTx<'_>> {
        self.tenant_tx(scope.partner()).await
    }

    /// `BEGIN IMMEDIATE` serialises writers.
    async fn signing_key_tx(&self) -> StoreResult<crate::sqlite::WriteTx<'_>> {
        self.write_tx().await
    }
}
