//! Envelope encryption of sensitive fields (REST-1): a field is encrypted with AES-256-GCM under a data key (one per
//! tenant, or per person), and the data key is stored only wrapped by the [`Kms`]'s key-encryption key.
//!
//! Pure: no IO apart from the [`Kms`] calls of wrapping, unwrapping and [`rewrap`].
//!
//! Field blob, format 1: `0x01` ‖ data-key id (16-byte UUID) ‖ data-key version (u32 big-endian) ‖ nonce (12) ‖
//! ciphertext ‖ tag (16). The associated data is the blob's header together with the field's [`FieldContext`]
//! (tenant, table, column, row), so a ciphertext copied to another row, column or tenant does not decrypt.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use uuid::Uuid;

use crate::Secret;
use crate::kms::{Kms, KmsError, WrappedKey, random};

#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the encrypted field is malformed")]
    Malformed,
    #[error("the encrypted field has unknown format {0}")]
    UnknownFormat(u8),
    #[error("the field was encrypted under data key {found}, not {expected}")]
    WrongKey { found: DataKeyRef, expected: DataKeyRef },
    #[error("the field does not decrypt: another place (tenant, table, column, row) or tampered")]
    Decrypt,
    #[error(transparent)]
    Kms(#[from] KmsError),
}

/// Which data key: its id and version. Written into every field blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct DataKeyRef {
    pub id: Uuid,
    pub version: u32,
}

impl std::fmt::Display for DataKeyRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/v{}", self.id, self.version)
    }
}

impl DataKeyRef {
    /// The associated data of this data key's wrap under the KEK: a wrapped key moved to another id or version
    /// does not unwrap.
    pub fn wrap_aad(&self) -> Vec<u8> {
        format!("comanda/data-key/{}/v{}", self.id, self.version).into_bytes()
    }
}

/// A 256-bit data key in memory, with its reference.
#[derive(Debug)]
pub struct DataKey {
    reference: DataKeyRef,
    key: Secret<[u8; 32]>,
}

impl DataKey {
    /// A fresh random data key.
    pub fn generate(reference: DataKeyRef) -> Result<Self, EnvelopeError> {
        Ok(Self {
            reference,
            key: Secret::new(random()?),
        })
    }

    pub fn reference(&self) -> DataKeyRef {
        self.reference
    }

    /// The data key encrypted under the KMS's newest KEK version: what is stored.
    pub fn wrap(&self, kms: &dyn Kms) -> Result<WrappedKey, KmsError> {
        kms.encrypt_data_key(&self.key, &self.reference.wrap_aad())
    }

    /// The data key back from its stored wrap.
    pub fn unwrap(reference: DataKeyRef, wrapped: &WrappedKey, kms: &dyn Kms) -> Result<Self, KmsError> {
        Ok(Self {
            reference,
            key: kms.decrypt_data_key(wrapped, &reference.wrap_aad())?,
        })
    }

    fn cipher(&self) -> Result<LessSafeKey, EnvelopeError> {
        UnboundKey::new(&AES_256_GCM, self.key.expose())
            .map(LessSafeKey::new)
            .map_err(|_| EnvelopeError::Kms(KmsError::BadKey))
    }
}

/// Where a field lives: bound into its ciphertext as associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldContext<'a> {
    /// The tenant (partner id).
    pub tenant: &'a str,
    pub table: &'a str,
    pub column: &'a str,
    /// The row's primary key.
    pub row: &'a str,
}

const FORMAT_1: u8 = 1;
const HEADER: usize = 1 + 16 + 4;
const NONCE: usize = 12;
const TAG: usize = 16;

fn header(reference: DataKeyRef) -> [u8; HEADER] {
    let mut out = [0u8; HEADER];
    out[0] = FORMAT_1;
    out[1..17].copy_from_slice(reference.id.as_bytes());
    out[17..21].copy_from_slice(&reference.version.to_be_bytes());
    out
}

fn associated_data(header: &[u8], context: &FieldContext<'_>) -> Vec<u8> {
    let mut aad = b"comanda/field\0".to_vec();
    aad.extend_from_slice(header);
    for part in [context.tenant, context.table, context.column, context.row] {
        // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
        aad.extend_from_slice(&(part.len() as u64).to_be_bytes());
        aad.extend_from_slice(part.as_bytes());
    }
    aad
}

/// Encrypts one field value under `data_key`, bound to where it is stored.
pub fn encrypt_field(
    data_key: &DataKey,
    plaintext: &[u8],
    context: &FieldContext<'_>,
) -> Result<Vec<u8>, EnvelopeError> {
    let header = header(data_key.reference);
    let nonce: [u8; NONCE] = random()?;
    let mut body = plaintext.to_vec();
    data_key
        .cipher()?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(associated_data(&header, context)),
            &mut body,
        )
        .map_err(|_| EnvelopeError::Decrypt)?;
    let mut blob = Vec::with_capacity(HEADER + NONCE + body.len());
    blob.extend_from_slice(&header);
    blob.extend_from_slice(&nonce);
    blob.extend_from_slice(&body);
    Ok(blob)
}

/// Which data key a field blob needs, to look it up before decrypting.
pub fn field_key_ref(blob: &[u8]) -> Result<DataKeyRef, EnvelopeError> {
    match blob.first() {
        None => return Err(EnvelopeError::Malformed),
        Some(&FORMAT_1) => {}
        Some(&other) => return Err(EnvelopeError::UnknownFormat(other)),
    }
    if blob.len() < HEADER + NONCE + TAG {
        return Err(EnvelopeError::Malformed);
    }
    let id: [u8; 16] = blob[1..17].try_into().map_err(|_| EnvelopeError::Malformed)?;
    let version: [u8; 4] = blob[17..21].try_into().map_err(|_| EnvelopeError::Malformed)?;
    Ok(DataKeyRef {
        id: Uuid::from_bytes(id),
        version: u32::from_be_bytes(version),
    })
}

/// Decrypts a field blob; fails unless `data_key` is the one named in the blob and `context` is where it was
/// encrypted.
pub fn decrypt_field(
    data_key: &DataKey,
    blob: &[u8],
    context: &FieldContext<'_>,
) -> Result<Vec<u8>, EnvelopeError> {
    let found = field_key_ref(blob)?;
    if found != data_key.reference {
        return Err(EnvelopeError::WrongKey {
            found,
            expected: data_key.reference,
        });
    }
    let (header, rest) = blob.split_at(HEADER);
    let (nonce, body) = rest.split_at(NONCE);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| EnvelopeError::Malformed)?;
    let mut in_out = body.to_vec();
    let plain = data_key
        .cipher()?
        .open_in_place(nonce, Aad::from(associated_data(header, context)), &mut in_out)
        .map_err(|_| EnvelopeError::Decrypt)?;
    Ok(plain.to_vec())
}

/// REST-3: decrypts a wrapped data key with the KEK version that wrapped it and encrypts it again under the newest
/// one. A key already under the newest version comes back unchanged. The data key (and so every field it
/// encrypted) stays the same; `aad` is the wrap's associated data ([`DataKeyRef::wrap_aad`] for data keys).
pub fn rewrap(wrapped: &WrappedKey, aad: &[u8], kms: &dyn Kms) -> Result<WrappedKey, KmsError> {
    kms.check_owner(wrapped)?;
    if wrapped.kek_version >= kms.newest_version()? && wrapped.mechanism == kms.mechanism() {
        return Ok(wrapped.clone());
    }
    let plain = kms.decrypt_data_key(wrapped, aad)?;
    kms.encrypt_data_key(&plain, aad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kms::LocalKeyKms;
    use proptest::prelude::*;

    fn key(version: u32) -> DataKey {
        DataKey::generate(DataKeyRef {
            id: Uuid::from_u128(42),
            version,
        })
        .unwrap()
    }

    const HERE: FieldContext<'static> = FieldContext {
        tenant: "partner-a",
        table: "guests",
        column: "email",
        row: "row-1",
    };

    #[test]
    fn a_field_moved_elsewhere_does_not_decrypt() {
        let key = key(1);
        let blob = encrypt_field(&key, b"ana@example.com", &HERE).unwrap();
        assert_eq!(decrypt_field(&key, &blob, &HERE).unwrap(), b"ana@example.com");
        assert_eq!(field_key_ref(&blob).unwrap(), key.reference());
        for elsewhere in [
            FieldContext {
                tenant: "partner-b",
                ..HERE
            },
            FieldContext { row: "row-2", ..HERE },
            FieldContext {
                column: "phone",
                ..HERE
            },
            FieldContext {
                table: "staff",
                ..HERE
            },
        ] {
            assert!(
                matches!(
                    decrypt_field(&key, &blob, &elsewhere),
                    Err(EnvelopeError::Decrypt)
                ),
                "{elsewhere:?}"
            );
        }
        // Length prefixes: moving a character between parts changes the associated data.
        let shifted = FieldContext {
            tenant: "partner-",
            table: "aguests",
            ..HERE
        };
        assert!(decrypt_field(&key, &blob, &shifted).is_err());
    }

    #[test]
    fn tampering_and_other_keys_fail() {
        let key = key(1);
        let blob = encrypt_field(&key, b"secret", &HERE).unwrap();
        for index in 0..blob.len() {
            let mut tampered = blob.clone();
            tampered[index] ^= 0x01;
            assert!(decrypt_field(&key, &tampered, &HERE).is_err(), "byte {index}");
        }
        assert!(decrypt_field(&key, &blob[..blob.len() - 1], &HERE).is_err());
        assert!(matches!(
            decrypt_field(&key, &blob[..10], &HERE),
            Err(EnvelopeError::Malformed)
        ));
        assert!(matches!(
            decrypt_field(&key, &[], &HERE),
            Err(EnvelopeError::Malformed)
        ));
        let other_version = self::key(2);
        assert!(matches!(
            decrypt_field(&other_version, &blob, &HERE),
            Err(EnvelopeError::WrongKey { .. })
        ));
        // Same reference, different key material (a forged reference): the tag fails.
        let impostor = self::key(1);
        assert!(matches!(
            decrypt_field(&impostor, &blob, &HERE),
            Err(EnvelopeError::Decrypt)
        ));
    }

    #[test]
    fn data_keys_survive_wrapping_and_rewrapping() {
        let kms = LocalKeyKms::from_bytes(&[1u8; 32]).unwrap();
        let key = key(1);
        let blob = encrypt_field(&key, b"value", &HERE).unwrap();
        let wrapped = key.wrap(&kms).unwrap();
        assert_eq!(wrapped.kek_version, 1);
        assert_eq!(
            rewrap(&wrapped, &key.reference().wrap_aad(), &kms).unwrap(),
            wrapped
        );
        kms.create_new_version().unwrap();
        let moved = rewrap(&wrapped, &key.reference().wrap_aad(), &kms).unwrap();
        assert_eq!(moved.kek_version, 2);
        let back = DataKey::unwrap(key.reference(), &moved, &kms).unwrap();
        assert_eq!(decrypt_field(&back, &blob, &HERE).unwrap(), b"value");
        let elsewhere = DataKeyRef {
            id: Uuid::from_u128(43),
            version: 1,
        };
        assert!(
            DataKey::unwrap(elsewhere, &moved, &kms).is_err(),
            "a wrap moved to another data key's place"
        );
    }

    proptest! {
        #[test]
        fn any_field_round_trips(
            plaintext in proptest::collection::vec(any::<u8>(), 0..512),
            tenant in "[a-z0-9-]{0,40}",
            row in "\\PC{0,20}",
        ) {
            let key = key(7);
            let context = FieldContext { tenant: &tenant, table: "t", column: "c", row: &row };
            let blob = encrypt_field(&key, &plaintext, &context).unwrap();
            prop_assert_eq!(blob.len(), HEADER + NONCE + plaintext.len() + TAG);
            prop_assert_eq!(decrypt_field(&key, &blob, &context).unwrap(), plaintext);
        }
    }
}
