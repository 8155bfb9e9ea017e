//! The tamper-evident audit trail (MON-5): every partner's entries form a hash chain, sharded by month, and the
//! chain's head is signed (Ed25519) at checkpoints.
//!
//! Each entry's `hash` is SHA-256 over the previous entry's hash and the entry's own fields in a length-prefixed
//! encoding, so editing, deleting or reordering any entry changes every hash after it. The first entry of a month
//! links to the final hash of the partner's previous month, so dropping a whole month is seen as well; once a month
//! is past retention its rows are deleted and its final signed checkpoint stands in for them.
//!
//! Personal data stays out of the hashed leaf: the client address is committed as SHA-256(salt ‖ address) with a
//! random per-entry salt; erasing a person clears the address and the salt, and the chain still verifies.
//!
//! Verification is pure: the store hands over the rows, heads and checkpoints, and [`verify_partner`] names the first
//! entry that does not fit.

use ring::digest::{Context, SHA256};
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use uuid::Uuid;

use crate::{Secret, constant_time_eq};

pub type Hash = [u8; 32];

/// The link before a partner's very first entry.
pub const GENESIS: Hash = [0u8; 32];

/// The hashed part of an entry, exactly as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf<'a> {
    pub partner: Uuid,
    pub shard: &'a str,
    pub seq: i64,
    pub id: Uuid,
    /// Microseconds since the Unix epoch (both engines keep microseconds).
    pub at_micros: i64,
    pub actor: Option<Uuid>,
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub source_commitment: Option<&'a [u8]>,
    pub request_id: Option<&'a str>,
    pub detail: &'a str,
}

fn put(ctx: &mut Context, field: Option<&[u8]>) {
    match field {
        Some(bytes) => {
            // Lengths above u32 cannot occur for audit fields; saturate rather than wrap so the encoding stays injective.
            let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX - 1);
            ctx.update(&len.to_be_bytes());
            ctx.update(bytes);
        }
        None => ctx.update(&u32::MAX.to_be_bytes()),
    }
}

/// The entry's hash given the previous entry's hash.
pub fn link(prev: &Hash, leaf: &Leaf<'_>) -> Hash {
    let mut ctx = Context::new(&SHA256);
    ctx.update(b"comanda/audit/v1\0");
    ctx.update(prev);
    put(&mut ctx, Some(leaf.partner.as_bytes()));
    put(&mut ctx, Some(leaf.shard.as_bytes()));
    put(&mut ctx, Some(&leaf.seq.to_be_bytes()));
    put(&mut ctx, Some(leaf.id.as_bytes()));
    put(&mut ctx, Some(&leaf.at_micros.to_be_bytes()));
    put(&mut ctx, leaf.actor.as_ref().map(|a| a.as_bytes().as_slice()));
    put(&mut ctx, Some(leaf.action.as_bytes()));
    put(&mut ctx, leaf.target.map(str::as_bytes));
    put(&mut ctx, leaf.source_commitment);
    put(&mut ctx, leaf.request_id.map(str::as_bytes));
    put(&mut ctx, Some(leaf.detail.as_bytes()));
    to_hash(ctx.finish().as_ref())
}

/// SHA-256(salt ‖ address): binds the address to the chain without putting it in the hashed leaf.
pub fn source_commitment(salt: &[u8], source: &str) -> Hash {
    let mut ctx = Context::new(&SHA256);
    ctx.update(b"comanda/audit/source\0");
    ctx.update(salt);
    ctx.update(source.as_bytes());
    to_hash(ctx.finish().as_ref())
}

fn to_hash(bytes: &[u8]) -> Hash {
    let mut out = [0u8; 32];
    out.copy_from_slice(&bytes[..32]);
    out
}

/// The month an entry at this time belongs to, `YYYY-MM` (UTC).
pub fn shard_of(at: time::OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!("{:04}-{:02}", at.year(), u8::from(at.month()))
}

/// The first instant after the month `shard` (`YYYY-MM`), or `None` when the name is not a month.
pub fn shard_end(shard: &str) -> Option<time::OffsetDateTime> {
    let (year, month) = shard.split_once('-')?;
    let year: i32 = year.parse().ok()?;
    let month: u8 = month.parse().ok()?;
    let (year, month) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    let month = time::Month::try_from(month).ok()?;
    let date = time::Date::from_calendar_date(year, month, 1).ok()?;
    Some(date.midnight().assume_utc())
}

/// What a checkpoint signs: this partner's chain in `shard` had `seq + 1` entries ending in `hash` at `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointBody {
    pub partner: Uuid,
    pub shard: String,
    pub seq: i64,
    pub hash: Hash,
    pub at_micros: i64,
}

impl CheckpointBody {
    fn message(&self) -> Vec<u8> {
        let mut m = b"comanda/audit/checkpoint/v1\0".to_vec();
        m.extend_from_slice(self.partner.as_bytes());
        m.extend_from_slice(&u32::try_from(self.shard.len()).unwrap_or(u32::MAX).to_be_bytes());
        m.extend_from_slice(self.shard.as_bytes());
        m.extend_from_slice(&self.seq.to_be_bytes());
        m.extend_from_slice(&self.hash);
        m.extend_from_slice(&self.at_micros.to_be_bytes());
        m
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub body: CheckpointBody,
    /// Names the signing key (first 8 bytes of SHA-256 of its public key, hex) so keys can rotate.
    pub key_id: String,
    pub signature: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
#[error("the checkpoint signing key could not be built")]
pub struct SignerError;

/// Signs checkpoints with an Ed25519 key derived from the KMS (the seed never leaves this process's memory).
pub struct CheckpointSigner {
    pair: Ed25519KeyPair,
    key_id: String,
}

impl std::fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointSigner")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl CheckpointSigner {
    pub fn from_seed(seed: &Secret<[u8; 32]>) -> Result<Self, SignerError> {
        let pair = Ed25519KeyPair::from_seed_unchecked(seed.expose()).map_err(|_| SignerError)?;
        let key_id = key_id_of(pair.public_key().as_ref());
        Ok(Self { pair, key_id })
    }

    pub fn public_key(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    pub fn sign(&self, body: CheckpointBody) -> Checkpoint {
        let signature = self.pair.sign(&body.message()).as_ref().to_vec();
        Checkpoint {
            body,
            key_id: self.key_id.clone(),
            signature,
        }
    }
}

fn key_id_of(public_key: &[u8]) -> String {
    let digest = ring::digest::digest(&SHA256, public_key);
    digest.as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Public keys that may have signed checkpoints, by key id.
#[derive(Debug, Clone, Default)]
pub struct TrustedKeys(Vec<(String, Vec<u8>)>);

impl TrustedKeys {
    pub fn new(public_keys: impl IntoIterator<Item = Vec<u8>>) -> Self {
        Self(public_keys.into_iter().map(|k| (key_id_of(&k), k)).collect())
    }

    fn verifies(&self, checkpoint: &Checkpoint) -> bool {
        self.0.iter().any(|(id, key)| {
            id == &checkpoint.key_id
                && UnparsedPublicKey::new(&ED25519, key)
                    .verify(&checkpoint.body.message(), &checkpoint.signature)
                    .is_ok()
        })
    }
}

/// One stored entry as the verifier sees it.
#[derive(Debug, Clone)]
pub struct StoredEntry {
    pub id: Uuid,
    pub seq: i64,
    pub at_micros: i64,
    pub actor: Option<Uuid>,
    pub action: String,
    pub target: Option<String>,
    pub source: Option<String>,
    pub source_salt: Option<Vec<u8>>,
    pub source_commitment: Option<Vec<u8>>,
    pub request_id: Option<String>,
    pub detail: String,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

impl StoredEntry {
    pub fn leaf<'a>(&'a self, partner: Uuid, shard: &'a str) -> Leaf<'a> {
        Leaf {
            partner,
            shard,
            seq: self.seq,
            id: self.id,
            at_micros: self.at_micros,
            actor: self.actor,
            action: &self.action,
            target: self.target.as_deref(),
            source_commitment: self.source_commitment.as_deref(),
            request_id: self.request_id.as_deref(),
            detail: &self.detail,
        }
    }
}

/// A shard's head as the store keeps it: how many entries it has and the last hash.
#[derive(Debug, Clone)]
pub struct ShardHead {
    pub shard: String,
    pub next_seq: i64,
    pub head_hash: Vec<u8>,
}

/// Everything stored about one shard.
#[derive(Debug, Clone)]
pub struct ShardRecord {
    pub head: ShardHead,
    /// Ordered by `seq`; empty once the shard was pruned.
    pub entries: Vec<StoredEntry>,
    pub pruned: bool,
}

/// Why a chain does not verify; names the entry (id and position) where it can.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error("entry {id} (month {shard}, position {seq}) was edited: its contents no longer match its hash")]
    Edited { shard: String, seq: i64, id: Uuid },
    #[error(
        "entry {id} (month {shard}, position {seq}): its client address no longer matches its commitment"
    )]
    SourceEdited { shard: String, seq: i64, id: Uuid },
    #[error(
        "entry {id} (month {shard}, position {seq}) does not follow the entry before it: an entry was deleted, inserted or moved before it"
    )]
    Unlinked { shard: String, seq: i64, id: Uuid },
    #[error("month {shard}: entry at position {expected} is missing (next present: {found:?})")]
    Missing {
        shard: String,
        expected: i64,
        found: Option<Uuid>,
    },
    #[error("month {shard}: the last {missing} entries were deleted (the chain head records {recorded})")]
    Truncated {
        shard: String,
        recorded: i64,
        missing: i64,
    },
    #[error("month {shard}: checkpoint at position {seq} has a signature no trusted key made")]
    BadSignature { shard: String, seq: i64 },
    #[error(
        "month {shard}: checkpoint at position {seq} does not match the stored entries; entries up to {id:?} were rewritten"
    )]
    CheckpointMismatch {
        shard: String,
        seq: i64,
        id: Option<Uuid>,
    },
    #[error("month {shard} was pruned without a final signed checkpoint")]
    PrunedWithoutCheckpoint { shard: String },
    /// Checkpoints are signed every few minutes, so an old entry no checkpoint covers means the checkpoints were
    /// deleted — the one anchor someone who can rewrite the database cannot forge — or no server has run since.
    #[error(
        "entry {id} (month {shard}, position {seq}) is older than the checkpoint interval allows, yet no signed checkpoint covers it: checkpoints were deleted, or no comanda server has run since it was written"
    )]
    Unanchored { shard: String, seq: i64, id: Uuid },
    /// A partner's registration is audited, and months are pruned but never dropped (their heads stay), so a partner
    /// with no month at all had its whole chain — entries, heads and checkpoints — deleted.
    #[error(
        "the partner's audit chain has no month at all, though its registration was audited: every entry, head and checkpoint was deleted"
    )]
    Emptied,
}

impl ChainBreak {
    /// The entry the break names, when it names one.
    pub fn entry(&self) -> Option<Uuid> {
        match self {
            ChainBreak::Edited { id, .. }
            | ChainBreak::SourceEdited { id, .. }
            | ChainBreak::Unlinked { id, .. }
            | ChainBreak::Unanchored { id, .. } => Some(*id),
            ChainBreak::Missing { found, .. } => *found,
            ChainBreak::CheckpointMismatch { id, .. } => *id,
            ChainBreak::Truncated { .. }
            | ChainBreak::Emptied
            | ChainBreak::BadSignature { .. }
            | ChainBreak::PrunedWithoutCheckpoint { .. } => None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifiedChain {
    pub shards: usize,
    pub entries: usize,
    pub checkpoints: usize,
    pub pruned_shards: usize,
}

/// Checks a partner's chain one month at a time, oldest first, so a year of entries never sits in memory at once.
pub struct ChainVerifier<'a> {
    partner: Uuid,
    checkpoints: &'a [Checkpoint],
    keys: &'a TrustedKeys,
    prev_shard_final: Hash,
    report: VerifiedChain,
    anchored_before: Option<i64>,
}

impl<'a> ChainVerifier<'a> {
    pub fn new(partner: Uuid, checkpoints: &'a [Checkpoint], keys: &'a TrustedKeys) -> Self {
        Self {
            partner,
            checkpoints,
            keys,
            prev_shard_final: GENESIS,
            report: VerifiedChain::default(),
            anchored_before: None,
        }
    }

    /// Requires every entry written before `at_micros` (Unix microseconds) to be covered by a signed checkpoint of
    /// its month ([`ChainBreak::Unanchored`] otherwise). Without it, deleting the checkpoints and rewriting the chain
    /// from its start would verify. A live chain passes `now` minus a few checkpoint intervals; a restored copy,
    /// whose newest entries were never checkpointed before the copy was taken, passes nothing.
    pub fn anchored_before(mut self, at_micros: Option<i64>) -> Self {
        self.anchored_before = at_micros;
        self
    }

    pub fn finish(self) -> VerifiedChain {
        self.report
    }

    /// The next month: its entries' hashes and links, its head and its signed checkpoints.
    pub fn shard(&mut self, record: &ShardRecord) -> Result<(), ChainBreak> {
        let partner = self.partner;
        let report = &mut self.report;
        let shard = record.head.shard.as_str();
        let mut cps: Vec<&Checkpoint> = self
            .checkpoints
            .iter()
            .filter(|c| c.body.shard == shard && c.body.partner == partner)
            .collect();
        cps.sort_by_key(|c| c.body.seq);
        for cp in &cps {
            if !self.keys.verifies(cp) {
                return Err(ChainBreak::BadSignature {
                    shard: shard.to_owned(),
                    seq: cp.body.seq,
                });
            }
        }
        report.checkpoints += cps.len();
        report.shards += 1;
        if record.pruned {
            let last = record.head.next_seq - 1;
            let Some(final_cp) = cps.iter().find(|c| c.body.seq == last) else {
                return Err(ChainBreak::PrunedWithoutCheckpoint {
                    shard: shard.to_owned(),
                });
            };
            self.prev_shard_final = final_cp.body.hash;
            report.pruned_shards += 1;
            return Ok(());
        }
        let mut prev = self.prev_shard_final;
        let mut hashes: Vec<(i64, Uuid, Hash)> = Vec::with_capacity(record.entries.len());
        for (position, entry) in record.entries.iter().enumerate() {
            let expected = i64::try_from(position).unwrap_or(i64::MAX);
            let place =
                |kind: fn(String, i64, Uuid) -> ChainBreak| kind(shard.to_owned(), entry.seq, entry.id);
            if entry.seq != expected {
                return Err(ChainBreak::Missing {
                    shard: shard.to_owned(),
                    expected,
                    found: Some(entry.id),
                });
            }
            if let (Some(source), Some(salt)) = (&entry.source, &entry.source_salt) {
                let fits = entry
                    .source_commitment
                    .as_deref()
                    .is_some_and(|c| constant_time_eq(c, &source_commitment(salt, source)));
                if !fits {
                    return Err(place(|shard, seq, id| ChainBreak::SourceEdited {
                        shard,
                        seq,
                        id,
                    }));
                }
            }
            let leaf = entry.leaf(partner, shard);
            let computed = link(&prev, &leaf);
            if !constant_time_eq(&entry.hash, &computed) {
                // Contents that no longer hash to the stored value: this entry was edited. A stored link that is
                // not the previous hash, with contents intact: something before it was removed or moved.
                let recomputed_with_stored_prev = entry.prev_hash.len() == 32 && {
                    let mut stored_prev = [0u8; 32];
                    stored_prev.copy_from_slice(&entry.prev_hash);
                    constant_time_eq(&entry.hash, &link(&stored_prev, &leaf))
                };
                return Err(if recomputed_with_stored_prev {
                    place(|shard, seq, id| ChainBreak::Unlinked { shard, seq, id })
                } else {
                    place(|shard, seq, id| ChainBreak::Edited { shard, seq, id })
                });
            }
            if !constant_time_eq(&entry.prev_hash, &prev) {
                return Err(place(|shard, seq, id| ChainBreak::Unlinked { shard, seq, id }));
            }
            hashes.push((entry.seq, entry.id, computed));
            prev = computed;
            report.entries += 1;
        }
        let present = i64::try_from(record.entries.len()).unwrap_or(i64::MAX);
        let checkpointed_end = cps.last().map_or(0, |c| c.body.seq + 1);
        if let Some(cutoff) = self.anchored_before
            && let Some(loose) = record
                .entries
                .iter()
                .find(|e| e.seq >= checkpointed_end && e.at_micros < cutoff)
        {
            return Err(ChainBreak::Unanchored {
                shard: shard.to_owned(),
                seq: loose.seq,
                id: loose.id,
            });
        }
        let recorded = record.head.next_seq.max(checkpointed_end);
        if present < recorded {
            return Err(ChainBreak::Truncated {
                shard: shard.to_owned(),
                recorded,
                missing: recorded - present,
            });
        }
        if present > 0 && record.head.next_seq == present && !constant_time_eq(&record.head.head_hash, &prev)
        {
            let (seq, id, _) = hashes[hashes.len() - 1];
            return Err(ChainBreak::Unlinked {
                shard: shard.to_owned(),
                seq,
                id,
            });
        }
        for cp in &cps {
            let at = usize::try_from(cp.body.seq).ok().and_then(|i| hashes.get(i));
            match at {
                Some((_, _, hash)) if constant_time_eq(hash, &cp.body.hash) => {}
                other => {
                    return Err(ChainBreak::CheckpointMismatch {
                        shard: shard.to_owned(),
                        seq: cp.body.seq,
                        id: other.map(|(_, id, _)| *id),
                    });
                }
            }
        }
        self.prev_shard_final = prev;
        Ok(())
    }
}

/// Checks a partner's whole chain: shards in order, every entry's hash and link, heads and signed checkpoints.
pub fn verify_partner(
    partner: Uuid,
    shards: &[ShardRecord],
    checkpoints: &[Checkpoint],
    keys: &TrustedKeys,
) -> Result<VerifiedChain, ChainBreak> {
    let mut verifier = ChainVerifier::new(partner, checkpoints, keys);
    for record in shards {
        verifier.shard(record)?;
    }
    Ok(verifier.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partner() -> Uuid {
        Uuid::from_u128(7)
    }

    fn chain(n: usize, prev: Hash, shard: &str) -> ShardRecord {
        let mut prev = prev;
        let mut entries = Vec::new();
        for i in 0..n {
            let salt = vec![i as u8; 16];
            let source = format!("203.0.113.{i}");
            let commitment = source_commitment(&salt, &source).to_vec();
            let mut entry = StoredEntry {
                id: Uuid::from_u128(1000 + i as u128),
                seq: i as i64,
                at_micros: 1_700_000_000_000_000 + i as i64,
                actor: Some(Uuid::from_u128(42)),
                action: "staff.invited".into(),
                target: Some(format!("target-{i}")),
                source: Some(source),
                source_salt: Some(salt),
                source_commitment: Some(commitment),
                request_id: Some(format!("req-{i}")),
                detail: "role=waiter".into(),
                prev_hash: prev.to_vec(),
                hash: Vec::new(),
            };
            let hash = link(&prev, &entry.leaf(partner(), shard));
            entry.hash = hash.to_vec();
            prev = hash;
            entries.push(entry);
        }
        ShardRecord {
            head: ShardHead {
                shard: shard.into(),
                next_seq: n as i64,
                head_hash: prev.to_vec(),
            },
            entries,
            pruned: false,
        }
    }

    fn signer() -> CheckpointSigner {
        CheckpointSigner::from_seed(&Secret::new([9u8; 32])).unwrap()
    }

    fn keys() -> TrustedKeys {
        TrustedKeys::new([signer().public_key()])
    }

    fn checkpoint_at(record: &ShardRecord, seq: i64) -> Checkpoint {
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&record.entries[seq as usize].hash);
        signer().sign(CheckpointBody {
            partner: partner(),
            shard: record.head.shard.clone(),
            seq,
            hash,
            at_micros: 0,
        })
    }

    /// MON-5: with the append-only triggers dropped, someone who deletes the checkpoints, the chain's last entries and
    /// rewinds its head leaves a chain that hashes and links; only the missing anchor gives it away.
    #[test]
    fn old_entries_no_checkpoint_covers_are_a_break() {
        let a = chain(5, GENESIS, "2026-10");
        let cutoff = a.entries[3].at_micros;
        let trusted = keys();
        let verify = |cps: &[Checkpoint]| {
            let mut verifier = ChainVerifier::new(partner(), cps, &trusted).anchored_before(Some(cutoff));
            verifier.shard(&a).map(|()| verifier.finish())
        };
        assert_eq!(
            verify(&[]).unwrap_err(),
            ChainBreak::Unanchored {
                shard: "2026-10".into(),
                seq: 0,
                id: a.entries[0].id
            }
        );
        // Covered up to position 1: position 2 is old and loose.
        assert_eq!(
            verify(&[checkpoint_at(&a, 1)]).unwrap_err().entry(),
            Some(a.entries[2].id)
        );
        // Covered up to position 2: what is left is newer than the cutoff (the next checkpoint will take it).
        assert_eq!(verify(&[checkpoint_at(&a, 2)]).unwrap().entries, 5);
        // Without the requirement (a restored copy), the same chain verifies.
        assert!(verify_partner(partner(), std::slice::from_ref(&a), &[], &keys()).is_ok());
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let a = chain(5, GENESIS, "2026-10");
        let b = chain(3, a.entries[4].hash.clone().try_into().unwrap(), "2026-11");
        let cps = vec![checkpoint_at(&a, 4), checkpoint_at(&b, 1)];
        let report = verify_partner(partner(), &[a, b], &cps, &keys()).unwrap();
        assert_eq!(report.entries, 8);
        assert_eq!(report.checkpoints, 2);
    }

    #[test]
    fn an_edited_entry_is_named() {
        let mut a = chain(5, GENESIS, "2026-10");
        a.entries[2].detail = "role=owner".into();
        let err = verify_partner(partner(), &[a], &[], &keys()).unwrap_err();
        assert_eq!(
            err,
            ChainBreak::Edited {
                shard: "2026-10".into(),
                seq: 2,
                id: Uuid::from_u128(1002)
            }
        );
    }

    #[test]
    fn deleted_and_reordered_entries_are_named() {
        let mut a = chain(5, GENESIS, "2026-10");
        a.entries.remove(2);
        assert!(matches!(
            verify_partner(partner(), &[a], &[], &keys()).unwrap_err(),
            ChainBreak::Missing { expected: 2, .. }
        ));

        let mut b = chain(5, GENESIS, "2026-10");
        // Swap two entries' contents but keep the positions (a reorder that also renumbers).
        b.entries.swap(1, 3);
        b.entries[1].seq = 1;
        b.entries[3].seq = 3;
        let err = verify_partner(partner(), &[b], &[], &keys()).unwrap_err();
        assert!(matches!(err, ChainBreak::Edited { seq: 1, .. }), "{err}");

        let mut c = chain(5, GENESIS, "2026-10");
        c.entries.truncate(3);
        assert!(matches!(
            verify_partner(partner(), &[c], &[], &keys()).unwrap_err(),
            ChainBreak::Truncated { missing: 2, .. }
        ));
    }

    #[test]
    fn a_rewritten_chain_fails_at_its_signed_checkpoint() {
        let a = chain(5, GENESIS, "2026-10");
        let cp = checkpoint_at(&a, 4);
        // Someone rewrites entry 1 and recomputes every hash after it: the chain is self-consistent again…
        let mut forged = chain(5, GENESIS, "2026-10");
        forged.entries[1].detail = "forged".into();
        let mut prev = GENESIS;
        for entry in &mut forged.entries {
            entry.prev_hash = prev.to_vec();
            let hash = link(&prev, &entry.leaf(partner(), "2026-10"));
            entry.hash = hash.to_vec();
            prev = hash;
        }
        forged.head.head_hash = prev.to_vec();
        // …but not with the signed checkpoint.
        assert!(matches!(
            verify_partner(partner(), &[forged], std::slice::from_ref(&cp), &keys()).unwrap_err(),
            ChainBreak::CheckpointMismatch { seq: 4, .. }
        ));
        // And a checkpoint signed by someone else is refused.
        let mut stranger = cp;
        stranger.signature = CheckpointSigner::from_seed(&Secret::new([1u8; 32]))
            .unwrap()
            .sign(stranger.body.clone())
            .signature;
        assert!(matches!(
            verify_partner(partner(), &[a], &[stranger], &keys()).unwrap_err(),
            ChainBreak::BadSignature { .. }
        ));
    }

    #[test]
    fn an_erased_address_keeps_the_chain_whole_but_an_edited_one_does_not() {
        let mut a = chain(3, GENESIS, "2026-10");
        a.entries[1].source = None;
        a.entries[1].source_salt = None;
        verify_partner(partner(), std::slice::from_ref(&a), &[], &keys()).unwrap();
        a.entries[2].source = Some("198.51.100.1".into());
        assert!(matches!(
            verify_partner(partner(), &[a], &[], &keys()).unwrap_err(),
            ChainBreak::SourceEdited { seq: 2, .. }
        ));
    }

    #[test]
    fn a_pruned_month_stands_on_its_final_checkpoint() {
        let a = chain(4, GENESIS, "2025-09");
        let cp = checkpoint_at(&a, 3);
        let b = chain(2, a.entries[3].hash.clone().try_into().unwrap(), "2025-10");
        let pruned = ShardRecord {
            head: a.head.clone(),
            entries: Vec::new(),
            pruned: true,
        };
        let report = verify_partner(partner(), &[pruned.clone(), b.clone()], &[cp], &keys()).unwrap();
        assert_eq!(report.pruned_shards, 1);
        assert!(matches!(
            verify_partner(partner(), &[pruned, b], &[], &keys()).unwrap_err(),
            ChainBreak::PrunedWithoutCheckpoint { .. }
        ));
    }

    #[test]
    fn months_and_their_ends() {
        let at = time::macros::datetime!(2026-12-31 23:59:59 UTC);
        assert_eq!(shard_of(at), "2026-12");
        assert_eq!(
            shard_end("2026-12"),
            Some(time::macros::datetime!(2027-01-01 0:00 UTC))
        );
        assert_eq!(shard_end("nonsense"), None);
    }
}
