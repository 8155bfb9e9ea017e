// The audit chain's statements, written once for both engines and `include!`d by `sqlite_audit` and
// `postgres_audit` (docs/architecture.md, "Adding a query"); the engines differ only in how a month is pruned.

use crate::StoreResult;
use crate::audit::{AuditFilter, AuditStore, chain_entry, micros, to_hash, truncate_to_micros};
use crate::identity::{AuditEntry, AuditEvent};
use crate::sealing::KeyOwner;
use async_trait::async_trait;
use comanda_domain::{Page, PageRequest, PartnerId};
use comanda_security::TenantScope;
use comanda_security::audit_chain::{self, Checkpoint, CheckpointBody, GENESIS, ShardHead, StoredEntry};
use time::OffsetDateTime;
use uuid::Uuid;

/// Where an entry's client address is sealed: `audit_events.source` of the entry's row (the same id while it waits
/// in `audit_pending`).
fn source_place(id: Uuid) -> crate::sealing::Place<'static> {
    crate::sealing::Place {
        table: "audit_events",
        column: "source",
        row: id,
    }
}

/// Whose key seals an entry's client address (REST-1: the address is personal data): the member who acted; for an
/// entry no member made that carries an address (a sign-in attempt on an account, whose target is that member) the
/// member tried; the partner's key only when the entry names no member. Erasing the member then shreds the address
/// everywhere, backups included.
fn source_owner(entry: &AuditEntry) -> KeyOwner {
    let member = entry.actor.or_else(|| {
        entry
            .target
            .as_deref()
            .and_then(|target| Uuid::parse_str(target).ok())
    });
    member.map_or(KeyOwner::Tenant, KeyOwner::Person)
}

impl Engine {
    /// Writes a change's entry in the change's transaction, its client address sealed. (PostgreSQL's order statement
    /// writes a guest's order entry, which has no address, into `audit_pending` itself: a new column here goes
    /// there too, `postgres_ordering::insert_order`.) It waits in `audit_pending`
    /// and is linked into the chain by the next [`Engine::insert_audit_batch`] of the partner (migration 0016 says
    /// why: linking here made every order of a partner queue on its chain head).
    pub(crate) async fn insert_audit(
        &self,
        conn: &mut Conn,
        partner: PartnerId,
        entry: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        let id = Uuid::now_v7();
        let source = self.seal_source(conn, partner, id, entry).await?;
        sqlx::query(
            "INSERT INTO audit_pending (partner_id, id, at, actor, action, target, source, request_id, detail)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(h(partner.as_uuid()))
        .bind(h(id))
        .bind(ts(truncate_to_micros(now)))
        .bind(entry.actor.map(h))
        .bind(&entry.action)
        .bind(&entry.target)
        .bind(source)
        .bind(&entry.request_id)
        .bind(&entry.detail)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Links `entries` (each with when it happened, their client addresses sealed) with the partner's waiting
    /// entries, in one hold of the partner's chain head.
    pub(crate) async fn insert_audit_batch(
        &self,
        conn: &mut Conn,
        partner: PartnerId,
        entries: &[(AuditEntry, OffsetDateTime)],
    ) -> StoreResult<()> {
        let mut sealed = Vec::with_capacity(entries.len());
        for (entry, at) in entries {
            let id = Uuid::now_v7();
            let source = self.seal_source(conn, partner, id, entry).await?;
            sealed.push((
                id,
                truncate_to_micros(*at),
                AuditEntry {
                    source,
                    ..entry.clone()
                },
            ));
        }
        link_entries(conn, partner, sealed).await
    }

    /// The entry's client address sealed for row `id`; the chain commits to this sealed text, so verifying the
    /// chain needs no key and an erasure that destroys the key leaves the chain whole. An erased member's late
    /// entry keeps no address.
    async fn seal_source(
        &self,
        conn: &mut Conn,
        partner: PartnerId,
        id: Uuid,
        entry: &AuditEntry,
    ) -> StoreResult<Option<String>> {
        match &entry.source {
            Some(address) => {
                self.seal_unless_erased(conn, partner, source_owner(entry), source_place(id), address)
                    .await
            }
            None => Ok(None),
        }
    }

    /// Opens the client addresses of entries read back; one whose key was destroyed (an erased member) reads as
    /// none, like one an erasure cleared.
    async fn open_sources(
        &self,
        conn: &mut Conn,
        partner: PartnerId,
        events: &mut [AuditEvent],
    ) -> StoreResult<()> {
        for event in events {
            if let Some(stored) = event.entry.source.take() {
                let owner = source_owner(&event.entry);
                let opened = self
                    .open_field(conn, partner, owner, source_place(event.id), &stored)
                    .await?;
                event.entry.source = Some(opened).filter(|address| address != crate::sealing::ERASED);
            }
        }
        Ok(())
    }
}

/// Links the partner's waiting entries into its chain, in the order the changes happened, in the caller's
/// transaction. Readers of the chain call it first, so a read sees every committed change.
pub(crate) async fn chain_pending(conn: &mut Conn, partner: PartnerId) -> StoreResult<()> {
    link_entries(conn, partner, Vec::new()).await
}

/// Links `entries` (already sealed, each with its id and time) and the partner's waiting entries (each stamped
/// with its change's time) into the chain, in the order they happened.
async fn link_entries(
    conn: &mut Conn,
    partner: PartnerId,
    entries: Vec<(Uuid, OffsetDateTime, AuditEntry)>,
) -> StoreResult<()> {
    // Taking the rows is what claims them: a concurrent chainer waits on them and then finds them gone.
    let taken = sqlx::query("DELETE FROM audit_pending WHERE partner_id = $1 RETURNING *")
        .bind(h(partner.as_uuid()))
        .fetch_all(&mut *conn)
        .await?;
    let waiting = taken
        .iter()
        .map(audit_event_from_row)
        .collect::<StoreResult<Vec<_>>>()?;
    let mut stamped: Vec<(Uuid, OffsetDateTime, &AuditEntry)> = waiting
        .iter()
        .map(|event| (event.id, event.at, &event.entry))
        .chain(entries.iter().map(|(id, at, entry)| (*id, *at, entry)))
        .collect();
    stamped.sort_by_key(|(id, at, _)| (*at, *id));
    // Each entry goes to the month it happened in (or a later one already begun); a batch rarely spans two.
    let mut rest = stamped.as_slice();
    while let Some((_, first_at, _)) = rest.first() {
        let month = audit_chain::shard_of(*first_at);
        let same = rest
            .iter()
            .take_while(|(_, at, _)| audit_chain::shard_of(*at) == month)
            .count();
        let (group, later) = rest.split_at(same);
        link_month(conn, partner, &month, group).await?;
        rest = later;
    }
    Ok(())
}

/// Links `entries` (in order) at the end of the partner's `month`, or of the newest month already begun.
async fn link_month(
    conn: &mut Conn,
    partner: PartnerId,
    month: &str,
    entries: &[(Uuid, OffsetDateTime, &AuditEntry)],
) -> StoreResult<()> {
    // A month never reopens: an instance whose clock lags appends to the newest month that exists.
    let head = sqlx::query(
        "WITH target AS (SELECT COALESCE((SELECT max(shard) FROM audit_heads WHERE partner_id = $1 AND shard > CAST($2 AS TEXT)),
                                         CAST($2 AS TEXT)) AS shard)
         INSERT INTO audit_heads (partner_id, shard, next_seq, head_hash)
         SELECT $1, target.shard, 0,
                COALESCE((SELECT h.head_hash FROM audit_heads h WHERE h.partner_id = $1 AND h.shard < target.shard
                          ORDER BY h.shard DESC LIMIT 1), $3)
           FROM target WHERE true -- SQLite needs a WHERE before ON CONFLICT in INSERT … SELECT
         ON CONFLICT (partner_id, shard) DO UPDATE SET next_seq = audit_heads.next_seq
         RETURNING shard, next_seq, head_hash",
    )
    .bind(h(partner.as_uuid()))
    .bind(month)
    .bind(GENESIS.as_slice())
    .fetch_one(&mut *conn)
    .await?;
    let shard: String = head.try_get("shard")?;
    let mut seq: i64 = head.try_get("next_seq")?;
    let mut prev = to_hash(head.try_get::<&[u8], _>("head_hash")?);
    // Every entry of the batch in one statement (chunks stay far below both engines' parameter limits): the
    // partner's head row is held for three round trips whatever the batch's size (an access-log flush carries
    // hundreds).
    let mut chained = Vec::with_capacity(entries.len());
    for (id, at, entry) in entries {
        let link = chain_entry(partner, &shard, seq, *id, entry, *at, &prev);
        prev = link.hash;
        chained.push((entry, link, seq, at));
        seq += 1;
    }
    for chunk in chained.chunks(APPEND_CHUNK) {
        let mut insert = sqlx::QueryBuilder::<Db>::new(
            "INSERT INTO audit_events (partner_id, id, at, actor, action, target, source, request_id, detail,
                                       shard, seq, source_salt, source_commitment, prev_hash, hash) ",
        );
        insert.push_values(chunk, |mut row, (entry, link, seq, at)| {
            row.push_bind(h(partner.as_uuid()))
                .push_bind(h(link.id))
                .push_bind(ts(**at))
                .push_bind(entry.actor.map(h))
                .push_bind(&entry.action)
                .push_bind(&entry.target)
                .push_bind(&entry.source)
                .push_bind(&entry.request_id)
                .push_bind(&entry.detail)
                .push_bind(&shard)
                .push_bind(*seq)
                .push_bind(&link.source_salt)
                .push_bind(&link.source_commitment)
                .push_bind(link.prev_hash.as_slice())
                .push_bind(link.hash.as_slice());
        });
        insert.build().execute(&mut *conn).await?;
    }
    sqlx::query("UPDATE audit_heads SET next_seq = $3, head_hash = $4 WHERE partner_id = $1 AND shard = $2")
        .bind(h(partner.as_uuid()))
        .bind(&shard)
        .bind(seq)
        .bind(prev.as_slice())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Entries per statement: 15 parameters each, under SQLite's 32,766 and PostgreSQL's 65,535.
const APPEND_CHUNK: usize = 1_000;

pub(crate) fn audit_event_from_row(row: &DbRow) -> StoreResult<AuditEvent> {
    Ok(AuditEvent {
        id: uuid_col(row, "id")?,
        at: row.try_get("at")?,
        entry: AuditEntry {
            actor: opt_uuid_col(row, "actor")?,
            action: row.try_get("action")?,
            target: row.try_get("target")?,
            source: row.try_get("source")?,
            request_id: row.try_get("request_id")?,
            detail: row.try_get("detail")?,
        },
    })
}

impl Engine {
    /// Links the partner's waiting entries, so that a read of the chain sees every committed change.
    async fn chain_waiting(&self, scope: &TenantScope) -> StoreResult<()> {
        let mut tx = self.scoped(scope).await?;
        chain_pending(&mut tx, scope.partner()).await?;
        tx.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl AuditStore for Engine {
    async fn append_audit_batch(
        &self,
        scope: &TenantScope,
        entries: &[(AuditEntry, OffsetDateTime)],
    ) -> StoreResult<()> {
        let mut tx = self.scoped(scope).await?;
        self.insert_audit_batch(&mut tx, scope.partner(), entries).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn audited_partners(&self) -> StoreResult<Vec<PartnerId>> {
        let rows = sqlx::query("SELECT partner_id FROM partner_directory ORDER BY partner_id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| uuid_col(row, "partner_id").map(PartnerId::from_uuid))
            .collect()
    }

    async fn missing_audit_guards(&self) -> StoreResult<Vec<&'static str>> {
        let present = present_triggers(&mut *self.pool.acquire().await?).await?;
        Ok(AUDIT_GUARDS
            .iter()
            .copied()
            .filter(|guard| !present.iter().any(|name| name == guard))
            .collect())
    }

    async fn audit_heads(&self, scope: &TenantScope) -> StoreResult<Vec<(ShardHead, bool)>> {
        self.chain_waiting(scope).await?;
        let rows = sqlx::query(
            "SELECT shard, next_seq, head_hash, pruned_at IS NOT NULL AS pruned FROM audit_heads
              WHERE partner_id = $1 ORDER BY shard",
        )
        .bind(h(scope.partner().as_uuid()))
        .fetch_all(&mut *self.reading(scope).await?)
        .await?;
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

    async fn audit_entry_time(
        &self,
        scope: &TenantScope,
        shard: &str,
        seq: i64,
    ) -> StoreResult<Option<OffsetDateTime>> {
        Ok(sqlx::query_scalar(
            "SELECT at FROM audit_events WHERE partner_id = $1 AND shard = $2 AND seq = $3",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(shard)
        .bind(seq)
        .fetch_optional(&mut *self.reading(scope).await?)
        .await?)
    }

    async fn audit_shard(&self, scope: &TenantScope, shard: &str) -> StoreResult<Vec<StoredEntry>> {
        let rows =
            sqlx::query("SELECT * FROM audit_events WHERE partner_id = $1 AND shard = $2 ORDER BY seq")
                .bind(h(scope.partner().as_uuid()))
                .bind(shard)
                .fetch_all(&mut *self.reading(scope).await?)
                .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredEntry {
                    id: uuid_col(row, "id")?,
                    seq: row.try_get("seq")?,
                    at_micros: micros(row.try_get("at")?),
                    actor: opt_uuid_col(row, "actor")?,
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
        let rows = sqlx::query("SELECT * FROM audit_checkpoints WHERE partner_id = $1 ORDER BY shard, seq")
            .bind(h(scope.partner().as_uuid()))
            .fetch_all(&mut *self.reading(scope).await?)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(Checkpoint {
                    body: CheckpointBody {
                        partner: uuid_col(row, "partner_id")?,
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
        .bind(h(scope.partner().as_uuid()))
        .bind(&checkpoint.body.shard)
        .bind(checkpoint.body.seq)
        .bind(checkpoint.body.hash.as_slice())
        .bind(ts(at))
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
        let deleted = prune_month(&mut tx, scope.partner(), shard).await?;
        sqlx::query("UPDATE audit_heads SET pruned_at = $3 WHERE partner_id = $1 AND shard = $2")
            .bind(h(scope.partner().as_uuid()))
            .bind(shard)
            .bind(ts(now))
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
        self.chain_waiting(scope).await?;
        let mut conn = self.reading(scope).await?;
        let mut events = filtered_entries(&mut conn, scope.partner(), filter, page).await?;
        self.open_sources(&mut conn, scope.partner(), &mut events).await?;
        Ok(Page::from_overfetch(events, page.limit, |e| e.id))
    }

    async fn audit_entry_exists(&self, scope: &TenantScope, filter: &AuditFilter) -> StoreResult<bool> {
        self.chain_waiting(scope).await?;
        let page = PageRequest {
            after: None,
            limit: 1,
        };
        let found = filtered_entries(&mut *self.reading(scope).await?, scope.partner(), filter, page).await?;
        Ok(!found.is_empty())
    }
}

/// Clears the client addresses a person left in the partner's chain (erasure): of the entries they made, and of
/// the failed sign-ins on their account (most often their own typing); the chain keeps the salted commitments.
pub(crate) async fn clear_sources(conn: &mut Conn, partner: PartnerId, person: Uuid) -> StoreResult<u64> {
    Ok(sqlx::query(
        "UPDATE audit_events SET source = NULL, source_salt = NULL
          WHERE partner_id = $1 AND (actor = $2 OR (actor IS NULL AND target = $3)) AND source IS NOT NULL",
    )
    .bind(h(partner.as_uuid()))
    .bind(h(person))
    .bind(person.to_string())
    .execute(conn)
    .await?
    .rows_affected())
}

/// The partner's entries the filter lets through after the page's cursor, oldest first, one more than the page
/// holds; their client addresses as stored (sealed).
async fn filtered_entries(
    conn: &mut Conn,
    partner: PartnerId,
    filter: &AuditFilter,
    page: PageRequest,
) -> StoreResult<Vec<AuditEvent>> {
    let rows = sqlx::query(
        "SELECT * FROM audit_events
          WHERE partner_id = $1 AND (CAST($2 AS UUID) IS NULL OR id > $2)
            AND (CAST($3 AS TEXT) IS NULL OR action LIKE $3) AND (CAST($4 AS UUID) IS NULL OR actor = $4)
            AND (CAST($5 AS TIMESTAMPTZ) IS NULL OR at >= $5) AND (CAST($6 AS TIMESTAMPTZ) IS NULL OR at < $6)
          ORDER BY id LIMIT $7",
    )
    .bind(h(partner.as_uuid()))
    .bind(page.after.map(|c| h(c.last_id())))
    .bind(filter.action_pattern())
    .bind(filter.actor.map(h))
    .bind(ts(filter.from))
    .bind(ts(filter.until))
    .bind(i64::from(page.limit) + 1)
    .fetch_all(conn)
    .await?;
    rows.iter().map(audit_event_from_row).collect()
}
