//! Password hashing: bcrypt at a configured cost (12 in production) over a peppered pre-hash.
//!
//! bcrypt reads only the first 72 bytes of its input. Rather than truncating silently (OWASP ASVS 6.2.8), the
//! password is first reduced to base64(HMAC-SHA-256(pepper, password)) — 44 bytes that depend on every byte of the
//! password — and that is what bcrypt hashes. The pepper is derived from the KMS, so a stolen database alone cannot
//! be attacked offline.
//!
//! Hashing runs on its own threads, at most half the cores and behind a semaphore, so a flood of logins queues for
//! those threads instead of taking every core from ordering traffic. The threads also run at a lower scheduling
//! priority (nice 10 on Linux): a bcrypt-12 hash is a quarter second of CPU, and when the machine is busy the
//! kernel should give that time to guests waiting on an order first. Sign-in gets slower under load, never wrong;
//! its rate limits do not depend on how fast hashing is.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
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

/// The nice value hashing threads run at (0 is normal, 19 the lowest): low enough that order traffic comes first,
/// high enough that sign-ins still progress on a saturated machine (about a tenth of a normal thread's share).
pub const HASHING_NICE: i32 = 10;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Debug)]
struct Inner {
    pepper: Secret<[u8; 32]>,
    cost: u32,
    permits: Semaphore,
    /// Feeds the hashing threads; they stop when the hasher (and so this sender) is dropped.
    jobs: Mutex<mpsc::Sender<Job>>,
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
        let threads = (cores / 2).max(1);
        Self {
            inner: Arc::new(Inner {
                pepper,
                cost,
                permits: Semaphore::new(threads),
                jobs: Mutex::new(spawn_hashing_threads(threads)),
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
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(work());
        });
        self.inner
            .jobs
            .lock()
            .map_err(|_| HashError::Failed("the hashing threads are gone".into()))?
            .send(job)
            .map_err(|_| HashError::Failed("the hashing threads are gone".into()))?;
        let result = result
            .await
            .map_err(|_| HashError::Failed("a hashing job was dropped".into()));
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

fn spawn_hashing_threads(count: usize) -> mpsc::Sender<Job> {
    let (sender, receiver) = mpsc::channel::<Job>();
    let receiver = Arc::new(Mutex::new(receiver));
    for n in 0..count {
        let receiver = receiver.clone();
        // A thread that cannot be spawned leaves its jobs to the others; with none at all the receiver is dropped
        // and hashing answers `Failed` instead of hanging.
        let _ = std::thread::Builder::new()
            .name(format!("password-hashing-{n}"))
            .spawn(move || {
                lower_this_threads_priority();
                loop {
                    let next = match receiver.lock() {
                        Ok(jobs) => jobs.recv(),
                        Err(_) => return,
                    };
                    match next {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            });
    }
    sender
}

/// On Linux the nice value belongs to the thread (setpriority on one thread id), so only the hashing threads are
/// lowered. Raising a nice value needs no privilege; failing to is harmless (hashing then competes as before).
fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    {
        let _ = rustix::process::setpriority_process(Some(rustix::thread::gettid()), HASHING_NICE);
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

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_runs_on_its_own_lower_priority_threads() {
        let hasher = hasher(4);
        let (name, nice) = hasher
            .on_pool(|| {
                let nice = rustix::process::getpriority_process(Some(rustix::thread::gettid()));
                (std::thread::current().name().map(str::to_owned), nice.ok())
            })
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("password-hashing-0"));
        assert_eq!(nice, Some(HASHING_NICE));
        let caller = rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap();
        assert_ne!(caller, HASHING_NICE, "only the hashing threads are lowered");
    }

    #[test]
    fn reads_cost_from_hash() {
        assert_eq!(cost_of("$2b$12$abcdefghijklmnopqrstuu"), Some(12));
        assert_eq!(cost_of("$argon2id$v=19$m=65536"), None);
    }
}
