//! The audit trail's service side (MON-5, MON-6): the access log of every authenticated request, batched into the
//! partner's hash chain; signed checkpoints of every chain; retention that drops months past 12 months behind
//! their final checkpoint; and verification for `GET /api/v1/audit/verify` and `comanda audit verify`.
//!
//! State changes are audited in the transaction that makes them (the store does that). Access records — of every
//! request a valid credential or table token made, whatever its answer (403 and 429 included) — are not
//! changes, so they are queued and appended every `flush_every` in one transaction per partner: a request never
//! waits on the chain's lock, and at most one flush interval is lost if the process is killed outright (a graceful
//! stop flushes).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use comanda_domain::{Clock, PartnerId};
use comanda_security::TenantScope;
use comanda_security::audit_chain::{
    ChainBreak, CheckpointBody, CheckpointSigner, TrustedKeys, VerifiedChain, shard_end,
};
use comanda_security::kms::PlatformKeys;
use comanda_security::tenancy::JobAuthority;
use comanda_store::identity::AuditEntry;
use comanda_store::{Store, StoreResult};
use time::OffsetDateTime;
use tokio::sync::{Notify, watch};

tokio::task_local! {
    /// The partner a guest's table token proved, noted by the guest routes while their request runs: the access
    /// record of a guest request (which has no signed-in caller) belongs in that partner's chain.
    static GUEST_PARTNER: std::cell::Cell<Option<PartnerId>>;
}

/// Notes the partner a verified table token names, for the access record of the request being served (no effect
/// outside [`with_guest_partner`]).
pub fn note_guest_partner(partner: PartnerId) {
    let _ = GUEST_PARTNER.try_with(|noted| noted.set(Some(partner)));
}

/// Runs a guest request and returns its answer with the partner its token proved, if it got that far.
pub async fn with_guest_partner<F: std::future::Future>(request: F) -> (F::Output, Option<PartnerId>) {
    GUEST_PARTNER
        .scope(std::cell::Cell::new(None), async {
            let answer = request.await;
            (answer, GUEST_PARTNER.with(std::cell::Cell::get))
        })
        .await
}

/// Entries waiting for the next flush before a request has to wait for one.
const QUEUE_SOFT_LIMIT: usize = 4_096;

pub struct AuditTrail {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    signer: CheckpointSigner,
    keys: TrustedKeys,
    /// Access records waiting to be written, each with when its request ended.
    pending: Mutex<Vec<(PartnerId, AuditEntry, OffsetDateTime)>>,
    wake: Notify,
    /// How old an entry may grow before `verify` requires a signed checkpoint to cover it.
    anchor_within: time::Duration,
    /// Months already reported as unanchored by this process (the alert is raised once, not every upkeep).
    reported_unanchored: Mutex<std::collections::HashSet<(PartnerId, String)>>,
    /// The missing append-only guards already reported by this process.
    reported_guards: Mutex<Vec<&'static str>>,
}

impl std::fmt::Debug for AuditTrail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditTrail")
            .field("signer", &self.signer)
            .finish_non_exhaustive()
    }
}

/// What one upkeep pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct UpkeepReport {
    pub checkpoints: usize,
    pub pruned_months: usize,
    pub pruned_entries: u64,
    /// Platform alerts past the same 12 months (a credential-stuffing alert names the attacking address).
    pub pruned_alerts: u64,
    /// Security event details written in clear before they were sealed (REST-1), sealed now.
    pub sealed_security_events: u64,
    /// Booking notes written in clear before notes were sealed (PRIV-1), sealed now under their guest's key.
    pub sealed_booking_notes: u64,
    /// Requests kept for their Idempotency-Key past their 24 hours.
    pub pruned_idempotency_records: u64,
    /// Append-only guards found missing or disabled (`audit.guard_missing`).
    pub missing_guards: usize,
}

impl AuditTrail {
    /// The checkpoint key is derived from the KMS for this one purpose, so every instance signs with the same key.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, keys: &PlatformKeys) -> anyhow::Result<Self> {
        let signer = CheckpointSigner::from_seed(&keys.derive("audit-checkpoint-ed25519"))?;
        let keys = TrustedKeys::new([signer.public_key()]);
        Ok(Self {
            store,
            clock,
            signer,
            keys,
            pending: Mutex::new(Vec::new()),
            wake: Notify::new(),
            anchor_within: anchor_window(std::time::Duration::from_secs(300)),
            reported_unanchored: Mutex::new(std::collections::HashSet::new()),
            reported_guards: Mutex::new(Vec::new()),
        })
    }

    /// The upkeep signs checkpoints `every` so long: `verify` then requires every entry older than two such
    /// intervals and ten minutes (a slow upkeep, a restart) to be covered by one.
    pub fn checkpointed_every(mut self, every: std::time::Duration) -> Self {
        self.anchor_within = anchor_window(every);
        self
    }

    /// The checkpoint signing key's public half (hex), for auditors who verify checkpoints elsewhere.
    pub fn public_key_hex(&self) -> String {
        self.signer
            .public_key()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Queues an access record (MON-6); flushed within `flush_every`.
    pub fn record_access(&self, partner: PartnerId, entry: AuditEntry) {
        let len = {
            let mut pending = self
                .pending
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            pending.push((partner, entry, self.clock.now()));
            pending.len()
        };
        if len >= QUEUE_SOFT_LIMIT {
            self.wake.notify_one();
        }
    }

    /// Appends everything queued, one transaction per partner; entries that could not be written are queued again.
    pub async fn flush(&self) {
        let batch = std::mem::take(
            &mut *self
                .pending
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        if batch.is_empty() {
            return;
        }
        let mut by_partner: Vec<(PartnerId, Vec<(AuditEntry, OffsetDateTime)>)> = Vec::new();
        for (partner, entry, at) in batch {
            match by_partner.iter_mut().find(|(p, _)| *p == partner) {
                Some((_, entries)) => entries.push((entry, at)),
                None => by_partner.push((partner, vec![(entry, at)])),
            }
        }
        for (partner, entries) in by_partner {
            let scope = TenantScope::from_proof(&JobAuthority::new("audit-access-log", partner));
            if let Err(error) = self.store.append_audit_batch(&scope, &entries).await {
                tracing::error!(%error, %partner, count = entries.len(), "access records not yet written; retrying");
                let mut pending = self
                    .pending
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                pending.extend(entries.into_iter().map(|(e, at)| (partner, e, at)));
            }
        }
    }

    /// Flushes every `every` (or sooner when the queue fills) until `stop`, then once more.
    pub fn spawn_flusher(self: &Arc<Self>, every: Duration, mut stop: watch::Receiver<bool>) {
        let trail = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            loop {
                tokio::select! {
                    _ = ticker.tick() => trail.flush().await,
                    () = trail.wake.notified() => trail.flush().await,
                    _ = stop.changed() => {
                        trail.flush().await;
                        return;
                    }
                }
            }
        });
    }

    /// Verifies one partner's chain (after writing what is queued, so the answer covers every request so far),
    /// requiring a signed checkpoint over every entry older than the checkpoint interval allows (MON-5: without it,
    /// deleting the checkpoints and rewriting the chain would verify).
    pub async fn verify(&self, scope: &TenantScope) -> StoreResult<Result<VerifiedChain, ChainBreak>> {
        self.flush().await;
        let cutoff = self.clock.now() - self.anchor_within;
        comanda_store::audit::verify_chain(&*self.store, scope, &self.keys, Some(cutoff)).await
    }

    /// Signs the head of every month whose last entry has no checkpoint yet; returns how many were signed.
    ///
    /// A month whose oldest entry no checkpoint covers is older than `verify` allows is not signed: checkpoints
    /// come every few minutes and at every shutdown, so such entries mean the checkpoints were deleted (and the
    /// chain possibly cut and rewound) or a server died before signing. Signing would anchor whatever is there now;
    /// instead `audit.unanchored` is raised for the operator, and `verify` keeps naming the entry.
    pub async fn checkpoint(&self, scope: &TenantScope, now: OffsetDateTime) -> StoreResult<usize> {
        self.sign_heads(scope, now, true).await
    }

    /// Signs every head of a partner whose whole chain the caller has just written, past instants included (`comanda
    /// seed` writes a history of weeks, which `checkpoint` would leave unsigned as too old to have been anchored):
    /// no entry anyone else wrote can be among them, so nothing unreviewed is blessed.
    pub async fn sign_new_partner(&self, scope: &TenantScope) -> StoreResult<usize> {
        self.flush().await;
        self.sign_heads(scope, self.clock.now(), false).await
    }

    /// An operator's decision, after looking into an `audit.unanchored` alert, that the unsigned entries are what
    /// was written (a server that died before signing, not a rewrite): the decision and its reason are appended to
    /// the chain, then every head is signed. `comanda audit anchor`.
    pub async fn anchor_after_review(&self, scope: &TenantScope, reason: &str) -> StoreResult<usize> {
        let now = self.clock.now();
        self.store
            .append_audit(
                scope,
                &AuditEntry::new("audit.anchored_after_review").detail(reason),
                now,
            )
            .await?;
        if let Ok(mut seen) = self.reported_unanchored.lock() {
            seen.retain(|(partner, _)| *partner != scope.partner());
        }
        self.sign_heads(scope, now, false).await
    }

    async fn sign_heads(
        &self,
        scope: &TenantScope,
        now: OffsetDateTime,
        anchored_only: bool,
    ) -> StoreResult<usize> {
        let heads = self.store.audit_heads(scope).await?;
        let signed = self.store.audit_checkpoints(scope).await?;
        let mut written = 0;
        for (head, pruned) in heads {
            let last = head.next_seq - 1;
            let covered = signed
                .iter()
                .any(|c| c.body.shard == head.shard && c.body.seq == last);
            if pruned || last < 0 || covered || head.head_hash.len() != 32 {
                continue;
            }
            let first_loose = signed
                .iter()
                .filter(|c| c.body.shard == head.shard)
                .map(|c| c.body.seq + 1)
                .max()
                .unwrap_or(0);
            let loose_since = match anchored_only {
                true => {
                    self.store
                        .audit_entry_time(scope, &head.shard, first_loose)
                        .await?
                }
                false => None,
            };
            if loose_since.is_some_and(|at| at < now - self.anchor_within) {
                let detail = format!(
                    "month {} from position {first_loose}: entries no checkpoint covers, older than the checkpoint \
                     interval; not signed (deleted checkpoints, or a server that stopped before signing)",
                    head.shard
                );
                let first_report = self
                    .reported_unanchored
                    .lock()
                    .map(|mut seen| seen.insert((scope.partner(), head.shard.clone())))
                    .unwrap_or(true);
                if first_report {
                    tracing::error!(alert = "audit.unanchored", partner = %scope.partner(), %detail);
                    self.store
                        .raise_alert(Some(scope.partner()), "audit.unanchored", &detail, now)
                        .await?;
                }
                continue;
            }
            let mut hash = [0u8; 32];
            hash.copy_from_slice(&head.head_hash);
            let checkpoint = self.signer.sign(CheckpointBody {
                partner: scope.partner().as_uuid(),
                shard: head.shard,
                seq: last,
                hash,
                at_micros: i64::try_from(now.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX),
            });
            self.store.record_checkpoint(scope, &checkpoint).await?;
            written += 1;
        }
        Ok(written)
    }

    /// Drops the months that ended more than 12 months ago, each behind its final signed checkpoint.
    pub async fn prune(&self, scope: &TenantScope, now: OffsetDateTime) -> StoreResult<(usize, u64)> {
        let cutoff = twelve_months_before(now);
        let expired: Vec<String> = self
            .store
            .audit_heads(scope)
            .await?
            .into_iter()
            .filter(|(head, pruned)| !pruned && shard_end(&head.shard).is_some_and(|end| end <= cutoff))
            .map(|(head, _)| head.shard)
            .collect();
        if expired.is_empty() {
            return Ok((0, 0));
        }
        self.checkpoint(scope, now).await?;
        let mut entries = 0;
        for shard in &expired {
            entries += self.store.prune_audit_shard(scope, shard, now).await?;
        }
        Ok((expired.len(), entries))
    }

    /// Checkpoints and retention for every partner; also seals the security event details and booking notes an older
    /// version wrote in clear (one cheap read each per partner once there are none).
    async fn partner_upkeep(
        &self,
        scope: &TenantScope,
        now: OffsetDateTime,
        report: &mut UpkeepReport,
    ) -> StoreResult<()> {
        let (months, entries) = self.prune(scope, now).await?;
        report.pruned_months += months;
        report.pruned_entries += entries;
        report.checkpoints += self.checkpoint(scope, now).await?;
        report.sealed_security_events += self.store.seal_clear_security_events(scope).await?;
        report.sealed_booking_notes += self.store.seal_clear_booking_notes(scope).await?;
        report.pruned_idempotency_records += self
            .store
            .prune_idempotency(scope, now - crate::idempotency::KEPT_FOR)
            .await?;
        Ok(())
    }

    /// Signs every partner's unsigned heads now (what `Server::shutdown` does before the database closes).
    pub async fn checkpoint_all(&self) -> StoreResult<usize> {
        self.flush().await;
        let now = self.clock.now();
        let mut signed = 0;
        for partner in self.store.audited_partners().await? {
            let scope = TenantScope::from_proof(&JobAuthority::new("audit-checkpoint", partner));
            signed += self.checkpoint(&scope, now).await?;
        }
        Ok(signed)
    }

    pub async fn upkeep(&self) -> StoreResult<UpkeepReport> {
        self.flush().await;
        let now = self.clock.now();
        let mut report = UpkeepReport::default();
        // One partner's failure is logged and the next partner is served: an unsigned chain would soon read as
        // tampered (`verify`'s anchoring rule).
        for partner in self.store.audited_partners().await? {
            let scope = TenantScope::from_proof(&JobAuthority::new("audit-upkeep", partner));
            if let Err(error) = self.partner_upkeep(&scope, now, &mut report).await {
                tracing::error!(%error, %partner, "audit upkeep of a partner failed");
            }
        }
        // The triggers that make the tables append-only: one dropped or disabled is an attack on the log (or an
        // operator's mistake) to look into now, raised once per guard by this process.
        match self.store.missing_audit_guards().await {
            Ok(missing) => {
                let new: Vec<&'static str> = match self.reported_guards.lock() {
                    Ok(mut seen) => {
                        let new: Vec<_> = missing.iter().copied().filter(|g| !seen.contains(g)).collect();
                        seen.clone_from(&missing);
                        new
                    }
                    Err(_) => missing.clone(),
                };
                if !new.is_empty() {
                    let detail = format!(
                        "append-only guard(s) missing or disabled: {} (the audit log can be edited without a \
                         trace until they are back: see docs/audit.md, \"Append-only guards\")",
                        new.join(", ")
                    );
                    tracing::error!(alert = "audit.guard_missing", %detail);
                    if let Err(error) = self
                        .store
                        .raise_alert(None, "audit.guard_missing", &detail, now)
                        .await
                    {
                        tracing::error!(%error, "the audit.guard_missing alert could not be raised");
                    }
                }
                report.missing_guards = missing.len();
            }
            Err(error) => tracing::error!(%error, "the audit log's guards could not be checked"),
        }
        // After the chains: a failing alert prune must not hold back any partner's checkpoints.
        match self.store.prune_alerts(twelve_months_before(now)).await {
            Ok(pruned) => report.pruned_alerts = pruned,
            Err(error) => tracing::error!(%error, "alerts past their 12 months could not be deleted"),
        }
        Ok(report)
    }

    /// Runs [`Self::upkeep`] every `every` until `stop`.
    pub fn spawn_upkeep(self: &Arc<Self>, every: Duration, mut stop: watch::Receiver<bool>) {
        let trail = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            loop {
                tokio::select! {
                    _ = ticker.tick() => match trail.upkeep().await {
                        Ok(report) if report != UpkeepReport::default() => {
                            tracing::info!(?report, "audit checkpoints and retention");
                        }
                        Ok(_) => {}
                        Err(error) => tracing::error!(%error, "audit upkeep failed"),
                    },
                    // The last checkpoint is `Server::shutdown`'s, taken before the database closes.
                    _ = stop.changed() => return,
                }
            }
        });
    }
}

/// How old an entry may grow before a checkpoint signed `every` so long must cover it.
fn anchor_window(every: std::time::Duration) -> time::Duration {
    let every = time::Duration::try_from(every).unwrap_or(time::Duration::DAY);
    every
        .saturating_mul(2)
        .saturating_add(time::Duration::minutes(10))
}

/// The same instant a year earlier (Feb 29 falls back to Feb 28).
pub fn twelve_months_before(now: OffsetDateTime) -> OffsetDateTime {
    let year = now.year() - 1;
    now.replace_year(year)
        .or_else(|_| now.replace_day(28).and_then(|d| d.replace_year(year)))
        .unwrap_or(now - time::Duration::days(366))
}

/// The restore test's audit-chain check (BAK-4): every partner's chain in the restored scratch database verifies.
pub struct ChainCheck {
    keys: TrustedKeys,
}

impl ChainCheck {
    pub fn new(keys: &PlatformKeys) -> anyhow::Result<Self> {
        let signer = CheckpointSigner::from_seed(&keys.derive("audit-checkpoint-ed25519"))?;
        Ok(Self {
            keys: TrustedKeys::new([signer.public_key()]),
        })
    }
}

#[async_trait::async_trait]
impl comanda_backup::ScratchCheck for ChainCheck {
    fn name(&self) -> &str {
        "audit chain"
    }

    async fn check(&self, scratch: &comanda_backup::ScratchDatabase<'_>) -> Result<String, String> {
        let store = comanda_store::connect_scratch(scratch.url)
            .await
            .map_err(|e| format!("opening the scratch database: {e}"))?;
        let mut entries = 0;
        let partners = store.audited_partners().await.map_err(|e| e.to_string())?;
        for partner in &partners {
            let scope = TenantScope::from_proof(&JobAuthority::new("restore-test", *partner));
            // A copy's newest entries were never checkpointed before it was taken: no anchoring is required of it.
            match comanda_store::audit::verify_chain(&*store, &scope, &self.keys, None).await {
                Ok(Ok(report)) => entries += report.entries,
                Ok(Err(chain_break)) => {
                    store.close().await;
                    return Err(format!("partner {partner}: {chain_break}"));
                }
                Err(error) => {
                    store.close().await;
                    return Err(error.to_string());
                }
            }
        }
        store.close().await;
        Ok(format!("{} chain(s), {entries} entries verified", partners.len()))
    }
}

/// The checks of a restore test: the backup crate's own, then the audit chain.
pub fn restore_checks(keys: &PlatformKeys) -> anyhow::Result<Vec<Arc<dyn comanda_backup::ScratchCheck>>> {
    let mut checks = comanda_backup::default_checks();
    checks.push(Arc::new(ChainCheck::new(keys)?));
    Ok(checks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_year_back_even_from_a_leap_day() {
        assert_eq!(
            twelve_months_before(datetime!(2026-11-23 12:00 UTC)),
            datetime!(2025-11-23 12:00 UTC)
        );
        assert_eq!(
            twelve_months_before(datetime!(2028-02-29 08:00 UTC)),
            datetime!(2027-02-28 08:00 UTC)
        );
    }
}
