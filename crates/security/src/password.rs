//! Password hashing: bcrypt at a configured cost (12 in production) over a peppered pre-hash.
//!
//! bcrypt reads only the first 72 bytes of its input. Rather than truncating silently (OWASP ASVS 6.2.8), the
//! password is first reduced to base64(HMAC-SHA-256(pepper, password)) — 44 bytes that depend on every byte of the
//! password — and that is what bcrypt hashes. The pepper is derived from the KMS, so a stolen database alone cannot
//! be attacked offline.
//!
//! Hashing runs on tokio's blocking pool behind a semaphore of at most half the cores, so a flood of logins queues
//! for those permits instead of taking every core from ordering traffic.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::hmac;
use tokio::sync::{OnceCell, Semaphore};

use crate::Secret;

pub const PRODUCTION_COST: u32 = 12;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing is saturated; try again shortly")]
    Busy,
    #[error("password hashing failed: {0}")]
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pepper: Secret<[u8; 32]>,
    cost: u32,
    permits: Semaphore,
    queue_timeout: Duration,
    /// A hash of a random password, verified against when the account does not exist, so an unknown email
    /// costs the same time as a wrong password.
    decoy: OnceCell<String>,
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Mismatch,
    Match,
    /// Correct, and the stored hash is weaker than the configured cost: store this replacement.
    MatchRehashed(String),
}

impl PasswordHasher {
    pub fn new(pepper: Secret<[u8; 32]>, cost: u32) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            inner: Arc::new(Inner {
                pepper,
                cost,
                permits: Semaphore::new((cores / 2).max(1)),
                queue_timeout: Duration::from_secs(10),
                decoy: OnceCell::new(),
            }),
        }
    }

    pub fn cost(&self) -> u32 {
        self.inner.cost
    }

    fn prehash(&self, password: &str) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA256, self.inner.pepper.expose());
        STANDARD.encode(hmac::sign(&key, password.as_bytes()))
    }

    async fn on_pool<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let permit = tokio::time::timeout(self.inner.queue_timeout, self.inner.permits.acquire())
            .await
            .map_err(|_| HashError::Busy)?
            .map_err(|_| HashError::Busy)?;
        let result = tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| HashError::Failed(e.to_string()));
        drop(permit);
        result
    }

    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let prehashed = self.prehash(password);
        let cost = self.inner.cost;
        self.on_pool(move || bcrypt::hash(prehashed, cost))
            .await?
            .map_err(|e| HashError::Failed(e.to_string()))
    }

    /// Checks `password` against `stored`, or against the decoy when there is no account, so both cost one bcrypt.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<Verdict, HashError> {
        let decoy;
        let (hash, real) = match stored {
            Some(hash) => (hash.to_owned(), true),
            None => {
                decoy = self.decoy().await?;
                (decoy, false)
            }
        };
        let prehashed = self.prehash(password);
        let check = hash.clone();
        let matched = self
            .on_pool(move || bcrypt::verify(prehashed, &check).unwrap_or(false))
            .await?;
        if !(matched && real) {
            return Ok(Verdict::Mismatch);
        }
        if cost_of(&hash).is_some_and(|cost| cost < self.inner.cost) {
            return Ok(Verdict::MatchRehashed(self.hash(password).await?));
        }
        Ok(Verdict::Match)
    }

    /// Verifies a login: `stored` is the account's partner and hash when the email is known. A match yields the
    /// proof from which the session's tenant scope is built.
    pub async fn verify_credential(
        &self,
        password: &str,
        stored: Option<(comanda_domain::PartnerId, &str)>,
    ) -> Result<(Verdict, Option<crate::tenancy::CredentialMatch>), HashError> {
        let verdict = self.verify(password, stored.map(|(_, hash)| hash)).await?;
        let proof = match (&verdict, stored) {
            (Verdict::Match | Verdict::MatchRehashed(_), Some((partner, _))) => {
                Some(crate::tenancy::CredentialMatch::new(partner))
            }
            _ => None,
        };
        Ok((verdict, proof))
    }

    async fn decoy(&self) -> Result<String, HashError> {
        self.inner
            .decoy
            .get_or_try_init(|| async {
                let random = uuid::Uuid::new_v4().to_string();
                self.hash(&random).await
            })
            .await
            .cloned()
    }
}

/// The work factor recorded in a `$2b$NN$…` hash.
pub fn cost_of(hash: &str) -> Option<u32> {
    let mut parts = hash.split('$');
    parts.next()?;
    let version = parts.next()?;
    if !matches!(version, "2a" | "2b" | "2y") {
        return None;
    }
    parts.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher(cost: u32) -> PasswordHasher {
        PasswordHasher::new(Secret::new([3u8; 32]), cost)
    }

    #[test]
    fn production_cost_is_twelve() {
        assert_eq!(PRODUCTION_COST, 12);
    }

    #[tokio::test]
    async fn hashes_at_the_configured_cost_and_verify() {
        let hasher = hasher(4);
        let hash = hasher.hash("violet kettle 42").await.unwrap();
        assert!(hash.starts_with("$2b$04$"), "{hash}");
        assert_eq!(
            hasher.verify("violet kettle 42", Some(&hash)).await.unwrap(),
            Verdict::Match
        );
        assert_eq!(
            hasher.verify("violet kettle 43", Some(&hash)).await.unwrap(),
            Verdict::Mismatch
        );
    }

    #[tokio::test]
    async fn long_passwords_sharing_72_bytes_do_not_match() {
        let hasher = hasher(4);
        let shared = "x".repeat(72);
        let hash = hasher.hash(&format!("{shared}-first")).await.unwrap();
        assert_eq!(
            hasher
                .verify(&format!("{shared}-second"), Some(&hash))
                .await
                .unwrap(),
            Verdict::Mismatch
        );
        assert_eq!(
            hasher
                .verify(&format!("{shared}-first"), Some(&hash))
                .await
                .unwrap(),
            Verdict::Match
        );
    }

    #[tokio::test]
    async fn weaker_hashes_are_upgraded_on_a_correct_password() {
        let old = hasher(4).hash("violet kettle 42").await.unwrap();
        let current = hasher(5);
        match current.verify("violet kettle 42", Some(&old)).await.unwrap() {
            Verdict::MatchRehashed(new) => {
                assert_eq!(cost_of(&new), Some(5));
                assert_eq!(
                    current.verify("violet kettle 42", Some(&new)).await.unwrap(),
                    Verdict::Match
                );
            }
            other => panic!("expected a rehash, got {other:?}"),
        }
        assert_eq!(
            current.verify("wrong", Some(&old)).await.unwrap(),
            Verdict::Mismatch
        );
    }

    #[tokio::test]
    async fn unknown_accounts_cost_one_hash_and_never_match() {
        let hasher = hasher(4);
        assert_eq!(hasher.verify("anything", None).await.unwrap(), Verdict::Mismatch);
        assert!(
            hasher.inner.decoy.get().is_some(),
            "the decoy hash was computed and checked"
        );
    }

    #[test]
    fn reads_cost_from_hash() {
        assert_eq!(cost_of("$2b$12$abcdefghijklmnopqrstuu"), Some(12));
        assert_eq!(cost_of("$argon2id$v=19$m=65536"), None);
    }
}
