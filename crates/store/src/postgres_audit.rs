//! PostgreSQL engine of the audit chain: appends lock the month's head row (`ON CONFLICT DO UPDATE`), so one
//! partner's appends serialise and nobody else waits.

use async_trait::async_trait;
use comanda_domain::{Page, PageRequest, PartnerId};
use comanda_security::TenantScope;
use comanda_security::audit_chain::{self, Checkpoint, CheckpointBody, GENESIS, ShardHead, StoredEntry};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreResult;
use crate::audit::{AuditFilter, AuditStore, chain_entry, micros, to_hash, truncate_to_micros};
use crate::identity::{AuditEntry, AuditEvent};
use crate::postgres::PgStore;

pub(crate) async fn insert_audit(
    conn: &mut PgConnection,
    partner: PartnerId,
    entry: &AuditEntry,
    now: OffsetDateTime,
) -> StoreResult<()> {
    insert_audit_batch(conn, partner, std::slice::from_ref(entry), now).await
}

pub(crate) async fn insert_audit_batch(
    conn: &mut PgConnection,
    partner: PartnerId,
    entries: &[AuditEntry],
    now: OffsetDateTime,
) -> StoreResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let now = truncate_to_micros(now);
    // A month never reopens: an instance whose clock lags appends to the newest month that exists.
    let head = sqlx::query(
        "WITH target AS (SELECT GREATEST($2::text, (SELECT max(shard) FROM audit_heads WHERE partner_id = $1)) AS shard)
         INSERT INTO audit_heads (partner_id, shard, next_seq, head_hash)
         SELECT $1, target.shard, 0,
                COALESCE((SELECT h.head_hash FROM audit_heads h WHERE h.partner_id = $1 AND h.shard < target.shard
                          ORDER BY h.shard DESC LIMIT 1), $3)
           FROM target
         ON CONFLICT (partner_id, shard) DO UPDATE SET next_seq = audit_heads.next_seq
         RETURNING shard, next_seq, head_hash",
    )
    .bind(partner.as_uuid())
    .bind(audit_chain::shard_of(now))
    .bind(GENESIS.as_slice())
    .fetch_one(&mut *conn)
    .await?;
    let shard: String = head.try_get("shard")?;
    let mut seq: i64 = head.try_get("next_seq")?;
    let mut prev = to_hash(head.try_get::<&[u8], _>("head_hash")?);
    for entry in entries {
        let chained = chain_entry(partner, &shard, seq, entry, now, &prev);
        sqlx::query(
            "INSERT INTO audit_events (partner_id, id, at, actor, action, target, source, request_id, detail,
                                       shard, seq, source_salt, source_commitment, prev_hash, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(partner.as_uuid())
        .bind(chained.id)
        .bind(now)
        .bind(entry.actor)
        .bind(&entry.action)
        .bind(&entry.target)
        .bind(&entry.source)
        .bind(&entry.request_id)
        .bind(&entry.detail)
        .bind(&shard)
        .bind(seq)
        .bind(&chained.source_salt)
        .bind(&chained.source_commitment)
        .bind(chained.prev_hash.as_slice())
        .bind(chained.hash.as_slice())
        .execute(&mut *conn)
        .await?;
        prev = chained.hash;
        seq += 1;
    }
    sqlx::query("UPDATE audit_heads SET next_seq = $3, head_hash = $4 WHERE partner_id = $1 AND shard = $2")
        .bind(partner.as_uuid())
        .bind(&shard)
        .bind(seq)
        .bind(prev.as_slice())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub(crate) fn audit_event_from_row(row: &PgRow) -> StoreResult<AuditEvent> {
    Ok(AuditEvent {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        entry: AuditEntry {
            actor: row.try_get("actor")?,
            action: row.try_get("action")?,
            target: row.try_get("target")?,
            source: row.try_get("source")?,
            request_id: row.try_get("request_id")?,
            detail: row.try_get("detail")?,
        },
    })
}

#[async_trait]
impl AuditStore for PgStore {
    async fn append_audit_batch(
        &self,
        scope: &TenantScope,
        entries: &[AuditEntry],
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        let mut tx = self.scoped(scope).await?;
        insert_audit_batch(&mut tx, scope.partner(), entries, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn audited_partners(&self) -> StoreResult<Vec<PartnerId>> {
        let ids: Vec<Uuid> =
            sqlx::query_scalar("SELECT partner_id FROM partner_directory ORDER BY partner_id")
                .fetch_all(&self.pool)
                .await?;
        Ok(ids.into_iter().map(PartnerId::from_uuid).collect())
    }

    async fn audit_heads(&self, scope: &TenantScope) -> StoreResult<Vec<(ShardHead, bool)>> {
        let mut tx = self.scoped(scope).await?;
        let rows = sqlx::query(
            "SELECT shard, next_seq, head_hash, pruned_at IS NOT NULL AS pruned FROM audit_heads
              WHERE partner_id = $1 ORDER BY shard",
        )
        .bind(scope.partner().as_uuid())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter()
            .map(|row| {
                Ok((
                    ShardHead {
                        shard: row.try_get("shard")?,
                        next_seq: row.try_get("next_seq")?,
                        head_hash: row.try_get("head_hash")?,
                    },
                    row.try_get("pruned")?,
                ))
            })
            .collect()
    }

    async fn audit_shard(&self, scope: &TenantScope, shard: &str) -> StoreResult<Vec<StoredEntry>> {
        let mut tx = self.scoped(scope).await?;
        let rows =
            sqlx::query("SELECT * FROM audit_events WHERE partner_id = $1 AND shard = $2 ORDER BY seq")
                .bind(scope.partner().as_uuid())
                .bind(shard)
                .fetch_all(&mut *tx)
                .await?;
        tx.commit().await?;
        rows.iter()
            .map(|row| {
                Ok(StoredEntry {
                    id: row.try_get("id")?,
                    seq: row.try_get("seq")?,
                    at_micros: micros(row.try_get("at")?),
                    actor: row.try_get("actor")?,
                    action: row.try_get("action")?,
                    target: row.try_get("target")?,
                    source: row.try_get("source")?,
                    source_salt: row.try_get("source_salt")?,
                    source_commitment: row.try_get("source_commitment")?,
                    request_id: row.try_get("request_id")?,
                    detail: row.try_get("detail")?,
                    prev_hash: row
                        .try_get::<Option<Vec<u8>>, _>("prev_hash")?
                        .unwrap_or_default(),
                    hash: row.try_get::<Option<Vec<u8>>, _>("hash")?.unwrap_or_default(),
                })
            })
            .collect()
    }

    async fn audit_checkpoints(&self, scope: &TenantScope) -> StoreResult<Vec<Checkpoint>> {
        let mut tx = self.scoped(scope).await?;
        let rows = sqlx::query("SELECT * FROM audit_checkpoints WHERE partner_id = $1 ORDER BY shard, seq")
            .bind(scope.partner().as_uuid())
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        rows.iter()
            .map(|row| {
                Ok(Checkpoint {
                    body: CheckpointBody {
                        partner: row.try_get("partner_id")?,
                        shard: row.try_get("shard")?,
                        seq: row.try_get("seq")?,
                        hash: to_hash(row.try_get::<&[u8], _>("hash")?),
                        at_micros: micros(row.try_get("at")?),
                    },
                    key_id: row.try_get("key_id")?,
                    signature: row.try_get("signature")?,
                })
            })
            .collect()
    }

    async fn record_checkpoint(&self, scope: &TenantScope, checkpoint: &Checkpoint) -> StoreResult<()> {
        let mut tx = self.scoped(scope).await?;
        let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(checkpoint.body.at_micros) * 1_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        sqlx::query(
            "INSERT INTO audit_checkpoints (partner_id, shard, seq, hash, at, key_id, signature)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(scope.partner().as_uuid())
        .bind(&checkpoint.body.shard)
        .bind(checkpoint.body.seq)
        .bind(checkpoint.body.hash.as_slice())
        .bind(at)
        .bind(&checkpoint.key_id)
        .bind(&checkpoint.signature)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn prune_audit_shard(
        &self,
        scope: &TenantScope,
        shard: &str,
        now: OffsetDateTime,
    ) -> StoreResult<u64> {
        let mut tx = self.scoped(scope).await?;
        // The serving role holds no DELETE on audit_events: retention is the one function that may delete.
        let deleted: i64 = sqlx::query_scalar("SELECT comanda_prune_audit_month($1, $2)")
            .bind(scope.partner().as_uuid())
            .bind(shard)
            .fetch_one(&mut *tx)
            .await?;
        let deleted = u64::try_from(deleted).unwrap_or(0);
        sqlx::query("UPDATE audit_heads SET pruned_at = $3 WHERE partner_id = $1 AND shard = $2")
            .bind(scope.partner().as_uuid())
            .bind(shard)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(deleted)
    }

    async fn search_audit(
        &self,
        scope: &TenantScope,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> StoreResult<Page<AuditEvent>> {
        let mut tx = self.scoped(scope).await?;
        let rows = sqlx::query(
            "SELECT * FROM audit_events
              WHERE partner_id = $1 AND ($2::uuid IS NULL OR id > $2)
                AND ($3::text IS NULL OR action LIKE $3) AND ($4::uuid IS NULL OR actor = $4)
                AND ($5::timestamptz IS NULL OR at >= $5) AND ($6::timestamptz IS NULL OR at < $6)
              ORDER BY id LIMIT $7",
        )
        .bind(scope.partner().as_uuid())
        .bind(page.after.map(|c| c.last_id()))
        .bind(filter.action_pattern())
        .bind(filter.actor)
        .bind(filter.from)
        .bind(filter.until)
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let events = rows
            .iter()
            .map(audit_event_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::from_overfetch(events, page.limit, |e| e.id))
    }

    async fn erase_audit_sources(&self, scope: &TenantScope, actor: Uuid) -> StoreResult<u64> {
        let mut tx = self.scoped(scope).await?;
        let cleared = sqlx::query(
            "UPDATE audit_events SET source = NULL, source_salt = NULL
              WHERE partner_id = $1 AND actor = $2 AND source IS NOT NULL",
        )
        .bind(scope.partner().as_uuid())
        .bind(actor)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(cleared)
    }
}
