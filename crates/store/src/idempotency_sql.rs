// The records of requests sent with an Idempotency-Key, written once for both engines and `include!`d by `sqlite`
// and `postgres` after their kit. `ON CONFLICT DO NOTHING` serves both: a second claim of a key waits for the
// first one's transaction (PostgreSQL) or the write gate (SQLite), then reads what it wrote.

use crate::idempotency::{Claim, IdempotencyStore, StoredAnswer};
use crate::sealing::KeyOwner;

fn answer_place(id: uuid::Uuid) -> crate::sealing::Place<'static> {
    crate::sealing::Place {
        table: "idempotency_records",
        column: "body",
        row: id,
    }
}

#[async_trait]
impl IdempotencyStore for Engine {
    async fn claim_idempotency(
        &self,
        scope: &comanda_security::TenantScope,
        member: uuid::Uuid,
        key: &str,
        request_hash: &[u8],
        expired_before: time::OffsetDateTime,
        abandoned_before: time::OffsetDateTime,
        now: time::OffsetDateTime,
    ) -> StoreResult<Claim> {
        let partner = scope.partner();
        let mut tx = self.scoped(scope).await?;
        sqlx::query(
            "DELETE FROM idempotency_records WHERE partner_id = $1 AND member_id = $2
               AND (created_at < $3 OR (status IS NULL AND created_at < $4))",
        )
        .bind(h(partner.as_uuid()))
        .bind(h(member))
        .bind(ts(expired_before))
        .bind(ts(abandoned_before))
        .execute(&mut *tx)
        .await?;
        // Twice at most: a record seen by the insert can be given up (deleted) before the read that follows.
        let mut attempts = 0;
        let row = loop {
            attempts += 1;
            let claimed = sqlx::query(
                "INSERT INTO idempotency_records (partner_id, member_id, idempotency_key, id, request_hash, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            )
            .bind(h(partner.as_uuid()))
            .bind(h(member))
            .bind(key)
            .bind(h(uuid::Uuid::now_v7()))
            .bind(request_hash)
            .bind(ts(now))
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if claimed {
                tx.commit().await?;
                return Ok(Claim::Claimed);
            }
            let found = sqlx::query(
                "SELECT * FROM idempotency_records WHERE partner_id = $1 AND member_id = $2 AND idempotency_key = $3",
            )
            .bind(h(partner.as_uuid()))
            .bind(h(member))
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
            match found {
                Some(row) => break row,
                None if attempts < 2 => continue,
                None => return Ok(Claim::InFlight),
            }
        };
        let asked: Vec<u8> = row.try_get("request_hash")?;
        let status: Option<i32> = row.try_get("status")?;
        let claim = match status {
            _ if asked != request_hash => Claim::KeyReused,
            None => Claim::InFlight,
            Some(status) => {
                let body = match row.try_get::<Option<String>, _>("body")? {
                    Some(sealed) => Some(
                        self.open_field(
                            &mut tx,
                            partner,
                            KeyOwner::Person(member),
                            answer_place(uuid_col(&row, "id")?),
                            &sealed,
                        )
                        .await?,
                    ),
                    None => None,
                };
                Claim::Answered(StoredAnswer {
                    status: u16::try_from(status).map_err(|_| corrupt("status", "out of range"))?,
                    content_type: row.try_get("content_type")?,
                    body,
                })
            }
        };
        tx.commit().await?;
        Ok(claim)
    }

    async fn finish_idempotency(
        &self,
        scope: &comanda_security::TenantScope,
        member: uuid::Uuid,
        key: &str,
        answer: &StoredAnswer,
    ) -> StoreResult<()> {
        let partner = scope.partner();
        let mut tx = self.scoped(scope).await?;
        let id: Option<uuid::Uuid> = sqlx::query(
            "SELECT id FROM idempotency_records
              WHERE partner_id = $1 AND member_id = $2 AND idempotency_key = $3 AND status IS NULL",
        )
        .bind(h(partner.as_uuid()))
        .bind(h(member))
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?
        .map(|row| uuid_col(&row, "id"))
        .transpose()?;
        let Some(id) = id else {
            return Ok(());
        };
        let body = match &answer.body {
            Some(body) => {
                self.seal_unless_erased(&mut tx, partner, KeyOwner::Person(member), answer_place(id), body)
                    .await?
            }
            None => None,
        };
        sqlx::query(
            "UPDATE idempotency_records SET status = $4, content_type = $5, body = $6
              WHERE partner_id = $1 AND member_id = $2 AND idempotency_key = $3",
        )
        .bind(h(partner.as_uuid()))
        .bind(h(member))
        .bind(key)
        .bind(i32::from(answer.status))
        .bind(&answer.content_type)
        .bind(body)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn prune_idempotency(
        &self,
        scope: &comanda_security::TenantScope,
        before: time::OffsetDateTime,
    ) -> StoreResult<u64> {
        let mut tx = self.scoped(scope).await?;
        let pruned = sqlx::query("DELETE FROM idempotency_records WHERE partner_id = $1 AND created_at < $2")
            .bind(h(scope.partner().as_uuid()))
            .bind(ts(before))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(pruned)
    }

    async fn release_idempotency(
        &self,
        scope: &comanda_security::TenantScope,
        member: uuid::Uuid,
        key: &str,
    ) -> StoreResult<()> {
        let mut tx = self.scoped(scope).await?;
        sqlx::query(
            "DELETE FROM idempotency_records
              WHERE partner_id = $1 AND member_id = $2 AND idempotency_key = $3 AND status IS NULL",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(member))
        .bind(key)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
