//! The key-encryption key (KEK) of envelope encryption (REST-1, REST-3), behind one [`Kms`] trait with two backends:
//!
//! * [`LocalKeyKms`]: versioned 256-bit keys in the data directory's key file — the embedded single-machine default;
//! * [`Pkcs11Kms`]: AES-256 key objects in a PKCS#11 token (SoftHSM2 here, Google Cloud KMS's kmsp11 in
//!   production) that never leave it.
//!
//! A KEK only ever encrypts 32-byte data keys: "wrapping" is `C_Encrypt` under the KEK (kmsp11 has no `C_WrapKey`),
//! and the result is a self-describing [`WrappedKey`]. New wraps use the newest KEK version; older versions still
//! decrypt; [`crate::envelope::rewrap`] moves a wrapped key forward.
//!
//! The server's own small secrets (token signing keys, TOTP secrets) and its derived keys (password pepper, blind
//! indexes) use [`PlatformKeys`]: a platform data key wrapped by the KMS, because HMAC derivation cannot run on an
//! HSM-resident AES key.
//!
//! Calls are synchronous. The local backend is pure memory; a PKCS#11 call is a library call that may be a network
//! round trip (Cloud KMS), so async callers on a hot path run it in `tokio::task::spawn_blocking`.

mod local;
mod pkcs11;

pub use local::LocalKeyKms;
pub use pkcs11::{CKM_CLOUDKMS_AES_GCM, Pkcs11Kms, Pkcs11Settings};

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

use crate::Secret;

#[derive(Debug, thiserror::Error)]
pub enum KmsError {
    #[error("the key-encryption key must be 32 bytes")]
    BadKey,
    #[error("sealed data is malformed or was bound to other associated data")]
    Open,
    #[error("the system random source failed")]
    Random,
    #[error("the wrapped key does not decrypt: another key, other associated data, or tampered")]
    Unwrap,
    #[error(
        "the wrapped key belongs to key-encryption key {found:?} ({found_mechanism}), this KMS is {expected:?} ({expected_mechanism})"
    )]
    WrongKek {
        found: String,
        found_mechanism: KekMechanism,
        expected: String,
        expected_mechanism: KekMechanism,
    },
    #[error("key-encryption key {kek_id:?} has no version {version}")]
    UnknownVersion { kek_id: String, version: u32 },
    #[error("key-encryption key {0:?} has no version yet")]
    NoKey(String),
    #[error("wrapped key encoding: {0}")]
    Encoding(&'static str),
    #[error("key file {path}: {reason}")]
    KeyFile {
        path: std::path::PathBuf,
        reason: String,
    },
    #[error("PKCS#11: {0}")]
    Pkcs11(String),
    #[error("{0}")]
    Unsupported(String),
}

/// How a data key was encrypted under the KEK. Stored in every [`WrappedKey`], so a key is always decrypted the way
/// it was encrypted, whatever the configuration says today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KekMechanism {
    /// AES-256-GCM in this process (`ring`) under a key from the local key file; random 12-byte IV.
    LocalAesGcm,
    /// PKCS#11 `CKM_AES_GCM` with a random 12-byte caller IV, 128-bit tag and AAD (SoftHSM2, most HSMs).
    AesGcm,
    /// Google Cloud KMS's vendor mechanism `CKM_CLOUDKMS_AES_GCM`: the KMS chooses the 12-byte IV and returns it.
    CloudkmsAesGcm,
}

impl KekMechanism {
    fn code(self) -> u8 {
        match self {
            Self::LocalAesGcm => 1,
            Self::AesGcm => 2,
            Self::CloudkmsAesGcm => 3,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::LocalAesGcm),
            2 => Some(Self::AesGcm),
            3 => Some(Self::CloudkmsAesGcm),
            _ => None,
        }
    }
}

impl std::fmt::Display for KekMechanism {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::LocalAesGcm => "local-aes-gcm",
            Self::AesGcm => "aes-gcm",
            Self::CloudkmsAesGcm => "cloudkms-aes-gcm",
        })
    }
}

/// A data key encrypted under one version of a KEK, with everything needed to decrypt it again.
///
/// Byte encoding ([`WrappedKey::to_bytes`], stable): `0x01` (format) ‖ mechanism code (1 = local-aes-gcm,
/// 2 = aes-gcm, 3 = cloudkms-aes-gcm) ‖ KEK version (u32 big-endian) ‖ KEK id length (u8) ‖ KEK id (UTF-8) ‖
/// IV length (u8) ‖ IV ‖ ciphertext length (u16 big-endian) ‖ ciphertext with its 16-byte tag.
/// The serde form has the same fields by name, with IV and ciphertext as byte arrays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrappedKey {
    /// Which KEK: `local` for the key file, the key label for PKCS#11.
    pub kek_id: String,
    pub kek_version: u32,
    pub mechanism: KekMechanism,
    pub iv: Vec<u8>,
    /// The encrypted data key followed by the GCM tag.
    pub ciphertext: Vec<u8>,
}

const WRAPPED_FORMAT: u8 = 1;

impl WrappedKey {
    pub fn to_bytes(&self) -> Result<Vec<u8>, KmsError> {
        let id_len = u8::try_from(self.kek_id.len())
            .map_err(|_| KmsError::Encoding("KEK id longer than 255 bytes"))?;
        let iv_len =
            u8::try_from(self.iv.len()).map_err(|_| KmsError::Encoding("IV longer than 255 bytes"))?;
        let ct_len = u16::try_from(self.ciphertext.len())
            .map_err(|_| KmsError::Encoding("ciphertext longer than 65535 bytes"))?;
        let mut out = Vec::with_capacity(10 + self.kek_id.len() + self.iv.len() + self.ciphertext.len());
        out.push(WRAPPED_FORMAT);
        out.push(self.mechanism.code());
        out.extend_from_slice(&self.kek_version.to_be_bytes());
        out.push(id_len);
        out.extend_from_slice(self.kek_id.as_bytes());
        out.push(iv_len);
        out.extend_from_slice(&self.iv);
        out.extend_from_slice(&ct_len.to_be_bytes());
        out.extend_from_slice(&self.ciphertext);
        Ok(out)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KmsError> {
        let mut reader = Reader(bytes);
        if reader.u8()? != WRAPPED_FORMAT {
            return Err(KmsError::Encoding("unknown format"));
        }
        let mechanism =
            KekMechanism::from_code(reader.u8()?).ok_or(KmsError::Encoding("unknown mechanism"))?;
        let kek_version = u32::from_be_bytes(reader.array()?);
        let id_len = usize::from(reader.u8()?);
        let kek_id = std::str::from_utf8(reader.take(id_len)?)
            .map_err(|_| KmsError::Encoding("KEK id is not UTF-8"))?
            .to_owned();
        let iv_len = usize::from(reader.u8()?);
        let iv = reader.take(iv_len)?.to_vec();
        let ct_len = usize::from(u16::from_be_bytes(reader.array()?));
        let ciphertext = reader.take(ct_len)?.to_vec();
        if !reader.0.is_empty() {
            return Err(KmsError::Encoding("trailing bytes"));
        }
        Ok(Self {
            kek_id,
            kek_version,
            mechanism,
            iv,
            ciphertext,
        })
    }

    /// Base64 of [`WrappedKey::to_bytes`], one line: for files and text columns.
    pub fn to_text(&self) -> Result<String, KmsError> {
        use base64::Engine;
        Ok(base64::engine::general_purpose::STANDARD.encode(self.to_bytes()?))
    }

    pub fn from_text(text: &str) -> Result<Self, KmsError> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| KmsError::Encoding("not base64"))?;
        Self::from_bytes(&bytes)
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], KmsError> {
        if self.0.len() < n {
            return Err(KmsError::Encoding("truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, KmsError> {
        Ok(self.take(1)?[0])
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], KmsError> {
        self.take(N)?
            .try_into()
            .map_err(|_| KmsError::Encoding("truncated"))
    }
}

/// Key-encryption-key operations. The KEK itself is never returned.
pub trait Kms: Send + Sync + std::fmt::Debug {
    /// Which KEK this is (`local`, or the PKCS#11 key label); recorded in every [`WrappedKey`].
    fn kek_id(&self) -> &str;
    /// The mechanism new wraps use.
    fn mechanism(&self) -> KekMechanism;
    /// The version new wraps use.
    fn newest_version(&self) -> Result<u32, KmsError>;
    /// Encrypts a data key under the newest KEK version, bound to `aad` (whose key it is).
    fn encrypt_data_key(&self, plain_key: &Secret<[u8; 32]>, aad: &[u8]) -> Result<WrappedKey, KmsError>;
    /// Decrypts a data key wrapped by this KEK (any of its versions), with the same `aad`.
    fn decrypt_data_key(&self, wrapped: &WrappedKey, aad: &[u8]) -> Result<Secret<[u8; 32]>, KmsError>;
    /// Rotation (REST-3): makes a new KEK version, which becomes the newest; returns its number.
    fn create_new_version(&self) -> Result<u32, KmsError>;

    /// Whether this backend can decrypt what `mechanism` encrypted.
    fn accepts(&self, mechanism: KekMechanism) -> bool {
        mechanism == self.mechanism()
    }

    /// Refuses a wrapped key made by another KEK or backend before trying to decrypt it.
    fn check_owner(&self, wrapped: &WrappedKey) -> Result<(), KmsError> {
        if wrapped.kek_id != self.kek_id() || !self.accepts(wrapped.mechanism) {
            return Err(KmsError::WrongKek {
                found: wrapped.kek_id.clone(),
                found_mechanism: wrapped.mechanism,
                expected: self.kek_id().to_owned(),
                expected_mechanism: self.mechanism(),
            });
        }
        Ok(())
    }
}

pub(crate) fn random<const N: usize>() -> Result<[u8; N], KmsError> {
    let mut out = [0u8; N];
    SystemRandom::new().fill(&mut out).map_err(|_| KmsError::Random)?;
    Ok(out)
}

/// The associated data of the platform data key's wrap.
pub const PLATFORM_KEY_AAD: &[u8] = b"comanda/platform-key";

/// The platform's own data key: seals the server's small secrets (token signing keys, TOTP secrets) with AES-256-GCM
/// bound to associated data, and derives purpose-specific keys (password pepper, blind-index keys) so that no raw
/// key is used twice. It is stored only wrapped by the [`Kms`].
#[derive(Debug)]
pub struct PlatformKeys {
    key: Secret<[u8; 32]>,
}

impl PlatformKeys {
    /// A fresh random platform key and its wrap under the newest KEK version.
    pub fn generate(kms: &dyn Kms) -> Result<(Self, WrappedKey), KmsError> {
        Self::adopt(Secret::new(random()?), kms)
    }

    /// Takes an existing key (the key file of a data directory from before envelope encryption, which was used
    /// directly) and wraps it, so what it sealed still opens.
    pub fn adopt(key: Secret<[u8; 32]>, kms: &dyn Kms) -> Result<(Self, WrappedKey), KmsError> {
        let wrapped = kms.encrypt_data_key(&key, PLATFORM_KEY_AAD)?;
        Ok((Self { key }, wrapped))
    }

    /// The platform key from its wrap.
    pub fn unwrap(kms: &dyn Kms, wrapped: &WrappedKey) -> Result<Self, KmsError> {
        Ok(Self {
            key: kms.decrypt_data_key(wrapped, PLATFORM_KEY_AAD)?,
        })
    }

    /// For tests and tools that hold a key already.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KmsError> {
        let key: [u8; 32] = bytes.try_into().map_err(|_| KmsError::BadKey)?;
        Ok(Self {
            key: Secret::new(key),
        })
    }

    fn cipher(&self) -> Result<LessSafeKey, KmsError> {
        UnboundKey::new(&AES_256_GCM, self.key.expose())
            .map(LessSafeKey::new)
            .map_err(|_| KmsError::BadKey)
    }

    /// AES-256-GCM: `nonce ‖ ciphertext ‖ tag`, bound to `aad` (what the secret is and whose it is).
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, KmsError> {
        let nonce: [u8; 12] = random()?;
        let mut in_out = plaintext.to_vec();
        self.cipher()?
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut in_out)
            .map_err(|_| KmsError::Open)?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&in_out);
        Ok(sealed)
    }

    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, KmsError> {
        if sealed.len() < 12 + 16 {
            return Err(KmsError::Open);
        }
        let (nonce, body) = sealed.split_at(12);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| KmsError::Open)?;
        let mut in_out = body.to_vec();
        let plain = self
            .cipher()?
            .open_in_place(nonce, Aad::from(aad), &mut in_out)
            .map_err(|_| KmsError::Open)?;
        Ok(plain.to_vec())
    }

    /// A 256-bit key for one named purpose, stable for the life of the platform key.
    pub fn derive(&self, purpose: &str) -> Secret<[u8; 32]> {
        let key = hmac::Key::new(hmac::HMAC_SHA256, self.key.expose());
        let tag = hmac::sign(&key, format!("comanda/derive/{purpose}").as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        Secret::new(out)
    }
}

/// HMAC-SHA-256 under a derived key: the blind index of a secret or an identifier (lookup without storing it).
pub fn keyed_digest(key: &Secret<[u8; 32]>, message: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key.expose()), message)
        .as_ref()
        .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> PlatformKeys {
        PlatformKeys::from_bytes(&[7u8; 32]).unwrap()
    }

    #[test]
    fn sealed_secrets_open_only_with_the_same_associated_data() {
        let sealed = keys().seal(b"ed25519 private key", b"signing-key:k1").unwrap();
        assert_eq!(
            keys().open(&sealed, b"signing-key:k1").unwrap(),
            b"ed25519 private key"
        );
        assert!(
            keys().open(&sealed, b"signing-key:k2").is_err(),
            "moved to another row"
        );
        let mut tampered = sealed.clone();
        tampered[20] ^= 1;
        assert!(keys().open(&tampered, b"signing-key:k1").is_err());
        let other = PlatformKeys::from_bytes(&[8u8; 32]).unwrap();
        assert!(
            other.open(&sealed, b"signing-key:k1").is_err(),
            "another platform key"
        );
    }

    #[test]
    fn derived_keys_differ_by_purpose() {
        assert_ne!(
            keys().derive("pepper").expose(),
            keys().derive("email-index").expose()
        );
        assert_eq!(keys().derive("pepper").expose(), keys().derive("pepper").expose());
    }

    #[test]
    fn derivation_is_the_one_used_before_envelope_encryption() {
        // HMAC-SHA-256(key, "comanda/derive/pepper") for key = [7; 32]: data directories from before keep their
        // password pepper and blind indexes when the key file's key is adopted as the platform key.
        let expected = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, &[7u8; 32]),
            b"comanda/derive/pepper",
        );
        assert_eq!(keys().derive("pepper").expose().as_slice(), expected.as_ref());
    }

    #[test]
    fn wrapped_keys_have_a_stable_encoding() {
        let wrapped = WrappedKey {
            kek_id: "comanda-kek".into(),
            kek_version: 3,
            mechanism: KekMechanism::CloudkmsAesGcm,
            iv: vec![9; 12],
            ciphertext: vec![5; 48],
        };
        let bytes = wrapped.to_bytes().unwrap();
        assert_eq!(&bytes[..7], &[1, 3, 0, 0, 0, 3, 11]);
        assert_eq!(&bytes[7..18], b"comanda-kek");
        assert_eq!(bytes[18], 12);
        assert_eq!(&bytes[31..33], &[0, 48]);
        assert_eq!(bytes.len(), 33 + 48);
        assert_eq!(WrappedKey::from_bytes(&bytes).unwrap(), wrapped);
        assert_eq!(
            WrappedKey::from_text(&wrapped.to_text().unwrap()).unwrap(),
            wrapped
        );
        let json = serde_json::to_value(&wrapped).unwrap();
        assert_eq!(json["mechanism"], "cloudkms-aes-gcm");
        assert_eq!(json["kek_version"], 3);
        assert_eq!(serde_json::from_value::<WrappedKey>(json).unwrap(), wrapped);

        for cut in 0..bytes.len() {
            assert!(
                WrappedKey::from_bytes(&bytes[..cut]).is_err(),
                "truncated at {cut}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(WrappedKey::from_bytes(&longer).is_err());
        let mut unknown = bytes;
        unknown[1] = 9;
        assert!(WrappedKey::from_bytes(&unknown).is_err());
    }
}
