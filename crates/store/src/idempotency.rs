//! Requests a member sent with an `Idempotency-Key` and their answers (API.md: the same key with the same body
//! returns the first answer, with another body 409). The edge (`comanda_server::idempotency`) decides what is
//! replayed and for how long; this store keeps the records, each answer sealed with the member's own key.

use async_trait::async_trait;
use comanda_security::TenantScope;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreResult;

/// A first answer as it was sent: its status, media type and body. `body` is `None` when the answer was not kept
/// (it carried a secret shown once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Option<String>,
}

/// What a key names when a request arrives with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Nothing (or only an expired or abandoned record): the caller answers the request, then finishes or releases
    /// the key.
    Claimed,
    /// The same request, answered before.
    Answered(StoredAnswer),
    /// The same request, still being answered.
    InFlight,
    /// Another request.
    KeyReused,
}

#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` for the member's request (`request_hash`: a digest of method, path and body), first deleting
    /// the member's records created before `expired_before` and unanswered ones created before `abandoned_before`.
    #[allow(clippy::too_many_arguments)]
    async fn claim_idempotency(
        &self,
        scope: &TenantScope,
        member: Uuid,
        key: &str,
        request_hash: &[u8],
        expired_before: OffsetDateTime,
        abandoned_before: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<Claim>;

    /// Records the answer of a claimed key (the body sealed with the member's key; not kept if they were erased).
    async fn finish_idempotency(
        &self,
        scope: &TenantScope,
        member: Uuid,
        key: &str,
        answer: &StoredAnswer,
    ) -> StoreResult<()>;

    /// Deletes the partner's records created before `before` (the audit upkeep, so kept answers do not outlive
    /// their day whether or not their member sends another key); answers how many.
    async fn prune_idempotency(&self, scope: &TenantScope, before: OffsetDateTime) -> StoreResult<u64>;

    /// Gives up a claimed, unanswered key (the request was not carried out), so a retry runs again.
    async fn release_idempotency(&self, scope: &TenantScope, member: Uuid, key: &str) -> StoreResult<()>;
}
