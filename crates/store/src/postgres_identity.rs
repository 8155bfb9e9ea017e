//! PostgreSQL engine of [`IdentityStore`]: the statements are `identity_sql.rs`, shared with SQLite; here is what
//! PostgreSQL does differently. Tenant tables are reached through [`PgStore::scoped`] transactions
//! (row-level security applies); the credential directories are looked up by digest only.

use crate::postgres::TextLiteral;
use crate::postgres::kit::*;

include!("identity_sql.rs");

const SIGNING_KEY_LOCK: i64 = 0x0073_6967_6e6b_6579; // "signkey"

impl Engine {
    /// The tenant setting and the read in one round trip, and the member's data key from the cache when it is
    /// there.
    async fn member_in_session(
        &self,
        scope: &TenantScope,
        user: Uuid,
        family: Uuid,
        now: OffsetDateTime,
    ) -> StoreResult<(StaffMember, bool)> {
        let (partner, user, family, now) = (
            TextLiteral::from(scope.partner().as_uuid()),
            TextLiteral::from(user),
            TextLiteral::from(family),
            TextLiteral::from(now),
        );
        let rows = self
            .read_as_tenant(
                scope,
                &format!(
                    concat!(
                        "SELECT ",
                        staff_columns!(),
                        ", EXISTS (SELECT 1 FROM refresh_tokens WHERE family_id = {family} AND partner_id = {partner}
                                   AND revoked_at IS NULL AND family_expires_at > {now}) AS session_live
                         FROM staff WHERE partner_id = {partner} AND id = {user}"
                    ),
                    partner = partner,
                    user = user,
                    family = family,
                    now = now
                ),
            )
            .await?;
        let row = rows.first().ok_or(StoreError::NotFound)?;
        let live: bool = row.try_get("session_live")?;
        let member = staff_from_row(row)?;
        // The member's own data key is cached after its first use; opening their fields needs a connection only
        // when it is not.
        let member = match self.open_staff_cached(&member) {
            Some(opened) => opened?,
            None => {
                let mut tx = self.scoped(scope).await?;
                let opened = self.open_staff(&mut tx, member).await?;
                tx.commit().await?;
                opened
            }
        };
        Ok((member, live))
    }

    pub(crate) async fn tenant_tx(
        &self,
        partner: PartnerId,
    ) -> StoreResult<sqlx::Transaction<'_, sqlx::Postgres>> {
        // One round trip: BEGIN and the tenant setting travel together as a simple query. The partner id is a
        // UUID we format ourselves, so nothing from a request reaches this SQL text.
        let partner: uuid::Uuid = partner.as_uuid();
        Ok(self
            .pool
            .begin_with(sqlx::AssertSqlSafe(format!(
                "BEGIN; SELECT set_config('comanda.tenant', '{partner}', true)"
            )))
            .await?)
    }

    /// One rotation wins across instances: the others wait on this lock.
    async fn signing_key_tx(&self) -> StoreResult<sqlx::Transaction<'_, sqlx::Postgres>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(SIGNING_KEY_LOCK)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }
}
