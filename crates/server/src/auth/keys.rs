//! Token signing keys: generated here, sealed by the KMS at rest, rotated every `rotation` (and on
//! `comanda keys rotate`), shared by every instance through the database. A retired key keeps verifying until every
//! token it signed has expired; the ring is reloaded periodically and whenever a token names a kid not yet known
//! here (another instance rotated).

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use comanda_domain::Clock;
use comanda_security::kms::PlatformKeys;
use comanda_security::tokens::{self, KeyRing, SigningKey, VerifyingKey};
use comanda_store::Store;
use comanda_store::identity::StoredSigningKey;
use time::OffsetDateTime;
use tokio::sync::Mutex;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("storage: {0}")]
    Store(#[from] comanda_store::StoreError),
    #[error("a signing key could not be unsealed or used: {0}")]
    Crypto(String),
}

/// A signing key as `comanda keys list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedKey {
    pub kid: String,
    pub created_at: OffsetDateTime,
    pub state: KeyState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// The newest key: it signs new tokens (and verifies them).
    Signs,
    /// Retired less than a token lifetime ago: verifies the tokens it signed until they expire.
    Verifies,
    /// Retired longer ago: verifies nothing.
    Retired,
    /// Revoked at this instant by `keys rotate --revoke-previous`: verifies nothing.
    Revoked(OffsetDateTime),
}

pub struct KeyManager {
    store: Arc<dyn Store>,
    kms: Arc<PlatformKeys>,
    clock: Arc<dyn Clock>,
    issuer: String,
    audience: String,
    rotation: time::Duration,
    ring: ArcSwap<KeyRing>,
    last_reload: Mutex<Instant>,
}

impl std::fmt::Debug for KeyManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyManager")
            .field("ring", &self.ring.load())
            .finish()
    }
}

impl KeyManager {
    /// Loads the keys and rotates if due (a server starting).
    pub async fn start(
        store: Arc<dyn Store>,
        kms: Arc<PlatformKeys>,
        clock: Arc<dyn Clock>,
        issuer: String,
        audience: String,
        rotation: time::Duration,
    ) -> Result<Self, KeyError> {
        let manager = Self::open(store, kms, clock, issuer, audience, rotation).await?;
        manager.rotate_if_due().await?;
        Ok(manager)
    }

    /// Loads the keys without rotating (the `comanda keys` commands).
    pub async fn open(
        store: Arc<dyn Store>,
        kms: Arc<PlatformKeys>,
        clock: Arc<dyn Clock>,
        issuer: String,
        audience: String,
        rotation: time::Duration,
    ) -> Result<Self, KeyError> {
        let manager = Self {
            ring: ArcSwap::from_pointee(KeyRing::new(&issuer, &audience, None, &[])),
            store,
            kms,
            clock,
            issuer,
            audience,
            rotation,
            last_reload: Mutex::new(Instant::now()),
        };
        manager.reload().await?;
        Ok(manager)
    }

    /// Every stored key, oldest first, with what it does now.
    pub async fn list(&self) -> Result<Vec<ListedKey>, KeyError> {
        let ring = self.ring();
        let mut stored = self.store.signing_keys().await?;
        stored.sort_by_key(|k| k.created_at);
        let newest = stored.last().map(|k| k.kid.clone());
        Ok(stored
            .into_iter()
            .map(|k| {
                let state = match k.revoked_at {
                    Some(at) => KeyState::Revoked(at),
                    None if newest.as_deref() == Some(k.kid.as_str()) => KeyState::Signs,
                    None if ring.knows(&k.kid) => KeyState::Verifies,
                    None => KeyState::Retired,
                };
                ListedKey {
                    kid: k.kid,
                    created_at: k.created_at,
                    state,
                }
            })
            .collect())
    }

    pub fn ring(&self) -> Arc<KeyRing> {
        self.ring.load_full()
    }

    /// Rotates when the newest key is older than the rotation period (or there is none), then reloads.
    pub async fn rotate_if_due(&self) -> Result<bool, KeyError> {
        let now = self.clock.now();
        let newest = self
            .store
            .signing_keys()
            .await?
            .into_iter()
            .map(|k| k.created_at)
            .max();
        let rotated = if tokens::rotation_due(newest, now, self.rotation) {
            self.insert_new_key(now, now - self.rotation).await?
        } else {
            false
        };
        self.reload().await?;
        Ok(rotated)
    }

    /// `comanda keys rotate`: a new key now, whatever its predecessor's age. With `revoke_previous` (a key that
    /// leaked), every older key stops verifying at once: here now, on other running instances at their next reload
    /// (`auth.key_check_secs`, a minute by default). Members whose access token it signed refresh for a new one.
    pub async fn rotate_now(&self, revoke_previous: bool) -> Result<String, KeyError> {
        let now = self.clock.now();
        let kid = self.insert_key(now, now, revoke_previous).await?.1;
        self.reload().await?;
        Ok(kid)
    }

    async fn insert_new_key(
        &self,
        now: OffsetDateTime,
        unless_newer_than: OffsetDateTime,
    ) -> Result<bool, KeyError> {
        Ok(self.insert_key(now, unless_newer_than, false).await?.0)
    }

    async fn insert_key(
        &self,
        now: OffsetDateTime,
        unless_newer_than: OffsetDateTime,
        revoke_older: bool,
    ) -> Result<(bool, String), KeyError> {
        let key = SigningKey::generate(now).map_err(|e| KeyError::Crypto(e.to_string()))?;
        let sealed = self
            .kms
            .seal(key.pkcs8.expose(), &SigningKey::seal_context(&key.kid))
            .map_err(|e| KeyError::Crypto(e.to_string()))?;
        let stored = StoredSigningKey {
            kid: key.kid.clone(),
            created_at: now,
            sealed_private: sealed,
            public_key: key.public,
            revoked_at: None,
        };
        let won = self
            .store
            .rotate_signing_key(&stored, unless_newer_than, revoke_older)
            .await?;
        if won && revoke_older {
            tracing::warn!(kid = %key.kid, "token signing key rotated; every older key revoked");
        } else if won {
            tracing::info!(kid = %key.kid, "token signing key rotated");
        }
        Ok((won, key.kid))
    }

    /// Rebuilds the ring from the database: the newest key signs; it and every predecessor retired less than a
    /// token lifetime ago verify, unless revoked.
    pub async fn reload(&self) -> Result<(), KeyError> {
        let now = self.clock.now();
        let mut stored = self.store.signing_keys().await?;
        stored.sort_by_key(|k| k.created_at);
        let mut verifying = Vec::new();
        for (index, key) in stored.iter().enumerate() {
            let retired_at = stored.get(index + 1).map(|next| next.created_at);
            if key.revoked_at.is_none() && tokens::still_verifies(retired_at, now) {
                verifying.push(VerifyingKey {
                    kid: key.kid.clone(),
                    public: key.public_key.clone(),
                });
            }
        }
        let active = match stored.last() {
            Some(newest) => {
                let pkcs8 = self
                    .kms
                    .open(&newest.sealed_private, &SigningKey::seal_context(&newest.kid))
                    .map_err(|e| KeyError::Crypto(e.to_string()))?;
                Some(
                    SigningKey::from_pkcs8(pkcs8, newest.created_at)
                        .map_err(|e| KeyError::Crypto(e.to_string()))?,
                )
            }
            None => None,
        };
        self.ring.store(Arc::new(KeyRing::new(
            &self.issuer,
            &self.audience,
            active.as_ref(),
            &verifying,
        )));
        *self.last_reload.lock().await = Instant::now();
        Ok(())
    }

    /// A token named a kid this instance does not know: another instance may have rotated. Reloads at most once a
    /// second, so a flood of forged kids cannot hammer the database.
    pub async fn reload_for_unknown_kid(&self) -> bool {
        let mut last = self.last_reload.lock().await;
        if last.elapsed() < Duration::from_secs(1) {
            return false;
        }
        *last = Instant::now();
        drop(last);
        self.reload().await.is_ok()
    }
}
