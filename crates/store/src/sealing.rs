//! Field encryption at rest (REST-1): the store seals personal data before it reaches a table and opens it when it is
//! read, so neither the database file nor a dump nor a backup holds it in clear.
//!
//! Each partner has a data key (`tenant_keys`), and each person whose data may have to be erased has their own
//! (`person_keys`): erasing a person deletes their key, which makes their fields unreadable everywhere, backups
//! included, because `person_keys` never rides along in the ordinary backups (it is backed up apart). Data keys are
//! stored only wrapped by the KMS's key-encryption key; the associated data binds every ciphertext to its tenant,
//! table, column and row.
//!
//! A sealed field is text: `enc1:` followed by the base64 of the envelope blob. Text without the prefix is a value
//! written before field encryption and is returned as it is.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use comanda_domain::PartnerId;
use comanda_security::envelope::{DataKey, DataKeyRef, FieldContext, decrypt_field, encrypt_field};
use comanda_security::kms::{Kms, WrappedKey};
use uuid::Uuid;

use crate::{StoreError, StoreResult};

const PREFIX: &str = "enc1:";

/// What a person's erased field reads as.
pub const ERASED: &str = "[erased]";

/// How long an unwrapped person key may be reused from memory: an erasure on another instance takes effect here
/// within this time.
const PERSON_KEY_TTL: Duration = Duration::from_secs(30);

/// How long an unwrapped partner key may be reused from memory: an offboarding on another instance (which destroys
/// the key) takes effect here within this time. Longer than a person's, since partner keys are read on every
/// sealed staff and money path and an offboarding is rare.
const TENANT_KEY_TTL: Duration = Duration::from_secs(300);

/// Whether a key unwrapped `age` ago may still be used from memory.
fn still_fresh(owner: KeyOwner, age: Duration) -> bool {
    age < match owner {
        KeyOwner::Tenant => TENANT_KEY_TTL,
        KeyOwner::Person(_) => PERSON_KEY_TTL,
    }
}

/// Whose data key seals a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyOwner {
    Tenant,
    Person(Uuid),
}

impl KeyOwner {
    pub(crate) fn owner_id(self, partner: PartnerId) -> Uuid {
        match self {
            KeyOwner::Tenant => partner.as_uuid(),
            KeyOwner::Person(person) => person,
        }
    }
}

/// A stored data key: its reference and its wrap.
#[derive(Debug, Clone)]
pub(crate) struct StoredKey {
    pub key_id: Uuid,
    pub version: i64,
    pub wrapped: Vec<u8>,
}

/// An unwrapped data key and when it was unwrapped.
type CachedKey = (Arc<DataKey>, Instant);

#[derive(Debug)]
pub struct FieldSealer {
    kms: Option<Arc<dyn Kms>>,
    cache: Mutex<KeyMemory>,
}

/// Unwrapped keys, and when keys were destroyed here: a read whose snapshot began before an erasure or an
/// offboarding may still find the key in the database and unwrap it for itself, but it must not put it back in
/// memory for the next reads, so a destroyed key is not cached again for the longest freshness window.
#[derive(Debug, Default)]
struct KeyMemory {
    keys: HashMap<(PartnerId, KeyOwner), CachedKey>,
    /// `None`: every key of the partner (offboarding).
    destroyed: HashMap<(PartnerId, Option<KeyOwner>), Instant>,
}

impl KeyMemory {
    fn destroyed(&mut self, partner: PartnerId, owner: Option<KeyOwner>) {
        self.destroyed.retain(|_, at| at.elapsed() < TENANT_KEY_TTL);
        self.destroyed.insert((partner, owner), Instant::now());
    }

    fn may_keep(&self, partner: PartnerId, owner: KeyOwner) -> bool {
        [None, Some(owner)].into_iter().all(|which| {
            self.destroyed
                .get(&(partner, which))
                .is_none_or(|at| at.elapsed() >= TENANT_KEY_TTL)
        })
    }
}

impl FieldSealer {
    pub fn new(kms: Option<Arc<dyn Kms>>) -> Self {
        Self {
            kms,
            cache: Mutex::new(KeyMemory::default()),
        }
    }

    pub(crate) fn kms(&self) -> StoreResult<&dyn Kms> {
        self.kms.as_deref().ok_or_else(|| {
            StoreError::Config("personal data needs a KMS: none was configured for this store".into())
        })
    }

    pub(crate) fn cached(&self, partner: PartnerId, owner: KeyOwner) -> Option<Arc<DataKey>> {
        let cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache
            .keys
            .get(&(partner, owner))
            .and_then(|(key, at)| still_fresh(owner, at.elapsed()).then(|| key.clone()))
    }

    /// Drops every cached key of the partner, and keeps them out of memory for a while (offboarding).
    pub(crate) fn forget_partner(&self, partner: PartnerId) {
        let mut memory = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        memory.keys.retain(|(cached, _), _| *cached != partner);
        memory.destroyed(partner, None);
    }

    /// Drops the owner's cached key, and keeps it out of memory for a while (erasure).
    pub(crate) fn forget(&self, partner: PartnerId, owner: KeyOwner) {
        let mut memory = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        memory.keys.remove(&(partner, owner));
        memory.destroyed(partner, Some(owner));
    }

    /// A fresh data key and its wrap, to store when the owner has none yet.
    pub(crate) fn generate(&self) -> StoreResult<(DataKey, StoredKey)> {
        let reference = DataKeyRef {
            id: Uuid::new_v4(),
            version: 1,
        };
        let key = DataKey::generate(reference).map_err(|e| StoreError::Config(format!("data key: {e}")))?;
        let wrapped = key
            .wrap(self.kms()?)
            .and_then(|w| w.to_bytes())
            .map_err(|e| StoreError::Config(format!("wrapping a data key: {e}")))?;
        Ok((
            key,
            StoredKey {
                key_id: reference.id,
                version: 1,
                wrapped,
            },
        ))
    }

    /// Unwraps a stored key and remembers it.
    pub(crate) fn unwrap(
        &self,
        partner: PartnerId,
        owner: KeyOwner,
        stored: &StoredKey,
    ) -> StoreResult<Arc<DataKey>> {
        let reference = DataKeyRef {
            id: stored.key_id,
            version: u32::try_from(stored.version).unwrap_or(0),
        };
        let wrapped = WrappedKey::from_bytes(&stored.wrapped)
            .map_err(|e| StoreError::Config(format!("stored data key: {e}")))?;
        let key = DataKey::unwrap(reference, &wrapped, self.kms()?)
            .map_err(|e| StoreError::Config(format!("unwrapping data key {reference}: {e}")))?;
        let key = Arc::new(key);
        let mut memory = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if memory.may_keep(partner, owner) {
            memory
                .keys
                .insert((partner, owner), (key.clone(), Instant::now()));
        }
        Ok(key)
    }
}

/// REST-3: a stored data key re-encrypted under the KMS's newest key-encryption-key version; `None` when it already
/// is. The data key itself (and so every field it sealed) stays the same.
pub(crate) fn rewrapped(kms: &dyn Kms, stored: &StoredKey) -> StoreResult<Option<Vec<u8>>> {
    let reference = DataKeyRef {
        id: stored.key_id,
        version: u32::try_from(stored.version).unwrap_or(0),
    };
    let wrapped = WrappedKey::from_bytes(&stored.wrapped)
        .map_err(|e| StoreError::Config(format!("stored data key: {e}")))?;
    let moved = comanda_security::envelope::rewrap(&wrapped, &reference.wrap_aad(), kms)
        .map_err(|e| StoreError::Config(format!("rewrapping data key {reference}: {e}")))?;
    if moved == wrapped {
        return Ok(None);
    }
    moved
        .to_bytes()
        .map(Some)
        .map_err(|e| StoreError::Config(format!("data key {reference}: {e}")))
}

/// Where a sealed field lives.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    pub table: &'a str,
    pub column: &'a str,
    pub row: Uuid,
}

/// The connected account's reference is sealed under the partner's key (REST-1); the platform directory that finds
/// a webhook's partner holds only its SHA-256 (account ids are random, so the digest reveals nothing).
pub(crate) fn account_place(partner: PartnerId) -> Place<'static> {
    Place {
        table: "connected_accounts",
        column: "stripe_account",
        row: partner.as_uuid(),
    }
}

/// A transfer's destination (the connected account), sealed under the partner's key like the account itself.
pub(crate) fn destination_place(payment: Uuid) -> Place<'static> {
    Place {
        table: "transfers",
        column: "destination",
        row: payment,
    }
}

pub(crate) fn account_digest(stripe_account: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, stripe_account.as_bytes());
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The envelope blob of `plaintext`, bound to its place.
fn encrypt_at(key: &DataKey, partner: PartnerId, place: Place<'_>, plaintext: &[u8]) -> StoreResult<Vec<u8>> {
    let (tenant, row) = (partner.to_string(), place.row.to_string());
    let context = FieldContext {
        tenant: &tenant,
        table: place.table,
        column: place.column,
        row: &row,
    };
    encrypt_field(key, plaintext, &context)
        .map_err(|e| StoreError::Config(format!("sealing {}.{}: {e}", place.table, place.column)))
}

/// The plaintext of an envelope blob, which must have been sealed at this place.
fn decrypt_at(key: &DataKey, partner: PartnerId, place: Place<'_>, blob: &[u8]) -> StoreResult<Vec<u8>> {
    let (tenant, row) = (partner.to_string(), place.row.to_string());
    let context = FieldContext {
        tenant: &tenant,
        table: place.table,
        column: place.column,
        row: &row,
    };
    decrypt_field(key, blob, &context)
        .map_err(|e| StoreError::Config(format!("{}.{} of {}: {e}", place.table, place.column, place.row)))
}

/// Seals a text field: `enc1:` + base64 of the blob.
pub(crate) fn seal(
    key: &DataKey,
    partner: PartnerId,
    place: Place<'_>,
    plaintext: &str,
) -> StoreResult<String> {
    let blob = encrypt_at(key, partner, place, plaintext.as_bytes())?;
    Ok(format!("{PREFIX}{}", STANDARD.encode(blob)))
}

/// Opens a sealed text field; `None` key means the owner's key is gone (erased), which reads as [`ERASED`].
/// Text without the prefix is from before field encryption and is returned as it is.
pub(crate) fn open(
    key: Option<&DataKey>,
    partner: PartnerId,
    place: Place<'_>,
    stored: &str,
) -> StoreResult<String> {
    let Some(encoded) = stored.strip_prefix(PREFIX) else {
        return Ok(stored.to_owned());
    };
    let Some(key) = key else {
        return Ok(ERASED.to_owned());
    };
    let blob = STANDARD.decode(encoded).map_err(|_| {
        StoreError::Config(format!(
            "{}.{} of {} is not a sealed value",
            place.table, place.column, place.row
        ))
    })?;
    String::from_utf8(decrypt_at(key, partner, place, &blob)?)
        .map_err(|_| StoreError::Config("a sealed field is not UTF-8".into()))
}

const BLOB_PREFIX: &[u8] = b"enc1";

/// Seals binary data (e.g. an already platform-sealed TOTP secret) the same way, for BLOB columns.
pub(crate) fn seal_bytes(
    key: &DataKey,
    partner: PartnerId,
    place: Place<'_>,
    plaintext: &[u8],
) -> StoreResult<Vec<u8>> {
    Ok([BLOB_PREFIX, &encrypt_at(key, partner, place, plaintext)?].concat())
}

/// Opens what [`seal_bytes`] made; bytes without the prefix are from before field encryption. `None` key: erased.
pub(crate) fn open_bytes(
    key: Option<&DataKey>,
    partner: PartnerId,
    place: Place<'_>,
    stored: &[u8],
) -> StoreResult<Option<Vec<u8>>> {
    let Some(blob) = stored.strip_prefix(BLOB_PREFIX) else {
        return Ok(Some(stored.to_vec()));
    };
    key.map(|key| decrypt_at(key, partner, place, blob)).transpose()
}

/// Whether a stored value is sealed (or a plaintext from before field encryption).
pub(crate) fn is_sealed(stored: &str) -> bool {
    stored.starts_with(PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_destroyed_key_unwrapped_by_an_older_read_is_not_cached_again() {
        let sealer = FieldSealer::new(Some(Arc::new(
            comanda_security::kms::LocalKeyKms::from_bytes(&[7; 32]).unwrap(),
        )));
        let partner = PartnerId::from_uuid(Uuid::now_v7());
        let person = KeyOwner::Person(Uuid::now_v7());
        let (_, stored) = sealer.generate().unwrap();
        sealer.unwrap(partner, person, &stored).unwrap();
        assert!(sealer.cached(partner, person).is_some());
        sealer.forget(partner, person);
        // A read that began before the erasure still sees the stored key and opens its own snapshot with it.
        sealer.unwrap(partner, person, &stored).unwrap();
        assert!(
            sealer.cached(partner, person).is_none(),
            "but memory does not keep it"
        );
        let colleague = KeyOwner::Person(Uuid::now_v7());
        sealer.unwrap(partner, colleague, &stored).unwrap();
        assert!(
            sealer.cached(partner, colleague).is_some(),
            "other people's keys are unaffected"
        );
        sealer.forget_partner(partner);
        sealer.unwrap(partner, KeyOwner::Tenant, &stored).unwrap();
        assert!(
            sealer.cached(partner, KeyOwner::Tenant).is_none(),
            "an offboarded partner's neither"
        );
    }

    #[test]
    fn cached_keys_expire_so_an_erasure_or_offboarding_elsewhere_takes_effect() {
        let person = KeyOwner::Person(Uuid::now_v7());
        assert!(still_fresh(person, Duration::from_secs(29)));
        assert!(!still_fresh(person, Duration::from_secs(30)));
        assert!(still_fresh(KeyOwner::Tenant, Duration::from_secs(299)));
        assert!(
            !still_fresh(KeyOwner::Tenant, Duration::from_secs(300)),
            "an offboarded partner's key leaves memory"
        );
    }

    fn key() -> DataKey {
        DataKey::generate(DataKeyRef {
            id: Uuid::from_u128(1),
            version: 1,
        })
        .unwrap()
    }

    #[test]
    fn a_sealed_field_opens_only_where_it_was_sealed() {
        let key = key();
        let partner = PartnerId::from_uuid(Uuid::from_u128(10));
        let place = Place {
            table: "staff",
            column: "email",
            row: Uuid::from_u128(20),
        };
        let sealed = seal(&key, partner, place, "ana@example.co").unwrap();
        assert!(sealed.starts_with("enc1:") && !sealed.contains("ana"));
        assert_eq!(
            open(Some(&key), partner, place, &sealed).unwrap(),
            "ana@example.co"
        );
        let other_tenant = PartnerId::from_uuid(Uuid::from_u128(11));
        assert!(open(Some(&key), other_tenant, place, &sealed).is_err());
        let other_row = Place {
            row: Uuid::from_u128(21),
            ..place
        };
        assert!(open(Some(&key), partner, other_row, &sealed).is_err());
        assert_eq!(open(None, partner, place, &sealed).unwrap(), ERASED);
        assert_eq!(open(Some(&key), partner, place, "legacy").unwrap(), "legacy");
    }
}
