//! The audit chain's storage (MON-5, MON-6): appends link every entry to the partner's previous one in the same
//! transaction as the change; readers get whole months for verification, signed checkpoints, filtered pages for
//! owners, and retention drops months past 12 months once their final checkpoint is stored.

use async_trait::async_trait;
use comanda_domain::{Page, PageRequest, PartnerId};
use comanda_security::TenantScope;
use comanda_security::audit_chain::{self, Checkpoint, Hash, Leaf, ShardHead, StoredEntry};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreResult;
use crate::identity::{AuditEntry, AuditEvent};

/// What an owner filters the audit log by; every field narrows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Exact action, or a prefix ending in `.` (e.g. `staff.`).
    pub action: Option<String>,
    pub actor: Option<Uuid>,
    pub from: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
}

impl AuditFilter {
    /// The SQL `LIKE` pattern for the action filter (prefixes end in `.`). `%` is dropped; `_` stays: as a LIKE
    /// wildcard it still matches itself, and action names never differ only there.
    pub(crate) fn action_pattern(&self) -> Option<String> {
        self.action.as_ref().map(|a| {
            let escaped: String = a.chars().filter(|c| *c != '%' && *c != '\\').collect();
            if escaped.ends_with('.') {
                format!("{escaped}%")
            } else {
                escaped
            }
        })
    }
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends several entries in one transaction (the batched access log of MON-6), each stamped with when it
    /// happened (not when the batch is written: a batch held back by an outage keeps its requests' times).
    async fn append_audit_batch(
        &self,
        scope: &TenantScope,
        entries: &[(AuditEntry, OffsetDateTime)],
    ) -> StoreResult<()>;

    /// Every partner that may have an audit chain (platform directory, no tenant needed).
    async fn audited_partners(&self) -> StoreResult<Vec<PartnerId>>;

    /// The append-only guards (the engine's triggers on the chain's tables) missing or disabled: someone with the
    /// database's owner rights dropped one, and the chain's newest entries could be edited without a trace until
    /// the next checkpoint. Empty when every guard is in place.
    async fn missing_audit_guards(&self) -> StoreResult<Vec<&'static str>>;

    /// The heads of every month of the partner's chain, oldest first; `pruned` says whether its rows are gone.
    async fn audit_heads(&self, scope: &TenantScope) -> StoreResult<Vec<(ShardHead, bool)>>;

    /// One month's entries, in chain order.
    async fn audit_shard(&self, scope: &TenantScope, shard: &str) -> StoreResult<Vec<StoredEntry>>;

    /// When the entry at `seq` of a month was written; `None` when there is none.
    async fn audit_entry_time(
        &self,
        scope: &TenantScope,
        shard: &str,
        seq: i64,
    ) -> StoreResult<Option<OffsetDateTime>>;

    async fn audit_checkpoints(&self, scope: &TenantScope) -> StoreResult<Vec<Checkpoint>>;

    /// Stores a signed checkpoint; storing the same position twice keeps the first.
    async fn record_checkpoint(&self, scope: &TenantScope, checkpoint: &Checkpoint) -> StoreResult<()>;

    /// Deletes a month's entries (the database refuses unless they are past 12 months and the month's final
    /// checkpoint is stored) and marks the month pruned; returns how many entries went.
    async fn prune_audit_shard(
        &self,
        scope: &TenantScope,
        shard: &str,
        now: OffsetDateTime,
    ) -> StoreResult<u64>;

    /// Filtered, oldest first.
    async fn search_audit(
        &self,
        scope: &TenantScope,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> StoreResult<Page<AuditEvent>>;

    /// Whether any entry passes the filter; opens no client address (a breach assessment needs no personal data,
    /// and runs from the command line without the KMS).
    async fn audit_entry_exists(&self, scope: &TenantScope, filter: &AuditFilter) -> StoreResult<bool>;
}

/// Both engines keep microseconds; hashing the truncated time makes what is read back hash the same.
pub(crate) fn truncate_to_micros(at: OffsetDateTime) -> OffsetDateTime {
    at.replace_nanosecond(at.nanosecond() / 1_000 * 1_000)
        .unwrap_or(at)
}

pub(crate) fn micros(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

/// One entry ready to insert: its id, salted address commitment and hash.
pub(crate) struct ChainedEntry {
    pub id: Uuid,
    pub source_salt: Option<Vec<u8>>,
    pub source_commitment: Option<Vec<u8>>,
    pub prev_hash: Hash,
    pub hash: Hash,
}

pub(crate) fn chain_entry(
    partner: PartnerId,
    shard: &str,
    seq: i64,
    id: Uuid,
    entry: &AuditEntry,
    at: OffsetDateTime,
    prev: &Hash,
) -> ChainedEntry {
    let (source_salt, source_commitment) = match &entry.source {
        Some(source) => {
            let salt = Uuid::new_v4().into_bytes().to_vec();
            let commitment = audit_chain::source_commitment(&salt, source).to_vec();
            (Some(salt), Some(commitment))
        }
        None => (None, None),
    };
    let hash = audit_chain::link(
        prev,
        &Leaf {
            partner: partner.as_uuid(),
            shard,
            seq,
            id,
            at_micros: micros(at),
            actor: entry.actor,
            action: &entry.action,
            target: entry.target.as_deref(),
            source_commitment: source_commitment.as_deref(),
            request_id: entry.request_id.as_deref(),
            detail: &entry.detail,
        },
    );
    ChainedEntry {
        id,
        source_salt,
        source_commitment,
        prev_hash: *prev,
        hash,
    }
}

pub(crate) fn to_hash(bytes: &[u8]) -> Hash {
    let mut out = audit_chain::GENESIS;
    if bytes.len() == out.len() {
        out.copy_from_slice(bytes);
    }
    out
}

/// Reads a partner's chain month by month and verifies it (MON-5): `Ok(Err(..))` names the entry that does not fit.
/// Entries written before `anchored_before` must be covered by a signed checkpoint
/// ([`audit_chain::ChainVerifier::anchored_before`]).
pub async fn verify_chain(
    store: &dyn AuditStore,
    scope: &TenantScope,
    keys: &audit_chain::TrustedKeys,
    anchored_before: Option<time::OffsetDateTime>,
) -> StoreResult<Result<audit_chain::VerifiedChain, audit_chain::ChainBreak>> {
    let checkpoints = store.audit_checkpoints(scope).await?;
    let cutoff = anchored_before.map(micros);
    let mut verifier = audit_chain::ChainVerifier::new(scope.partner().as_uuid(), &checkpoints, keys)
        .anchored_before(cutoff);
    let heads = store.audit_heads(scope).await?;
    if heads.is_empty() {
        return Ok(Err(audit_chain::ChainBreak::Emptied));
    }
    for (head, pruned) in heads {
        let entries = if pruned {
            Vec::new()
        } else {
            store.audit_shard(scope, &head.shard).await?
        };
        let record = audit_chain::ShardRecord {
            head,
            entries,
            pruned,
        };
        if let Err(chain_break) = verifier.shard(&record) {
            return Ok(Err(chain_break));
        }
    }
    Ok(Ok(verifier.finish()))
}
