//! Key material held by the KMS stand-in of the embedded default: one 256-bit key-encryption key read from the
//! data directory's key file. It seals small secrets (token signing keys) with AES-256-GCM bound to associated data,
//! and derives purpose-specific keys (password pepper, lookup-index keys) so that no raw key is used twice.
//! The PKCS#11 backend (issue 6) implements the same [`Kms`] trait without the key ever leaving the HSM.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

use crate::Secret;

#[derive(Debug, thiserror::Error)]
pub enum KmsError {
    #[error("the key-encryption key must be 32 bytes")]
    BadKey,
    #[error("sealed data is malformed or was bound to other associated data")]
    Open,
    #[error("the system random source failed")]
    Random,
}

/// Sealing and derivation under a key-encryption key that callers never see.
pub trait Kms: Send + Sync + std::fmt::Debug {
    /// AES-256-GCM: `nonce ‖ ciphertext ‖ tag`, bound to `aad` (what the secret is and whose it is).
    fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, KmsError>;
    fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, KmsError>;
    /// A 256-bit key for one named purpose, stable for the life of the key-encryption key.
    fn derive(&self, purpose: &str) -> Secret<[u8; 32]>;
}

#[derive(Debug)]
pub struct LocalKeyKms {
    kek: Secret<[u8; 32]>,
}

impl LocalKeyKms {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KmsError> {
        let kek: [u8; 32] = bytes.try_into().map_err(|_| KmsError::BadKey)?;
        Ok(Self {
            kek: Secret::new(kek),
        })
    }

    fn cipher(&self) -> Result<LessSafeKey, KmsError> {
        UnboundKey::new(&AES_256_GCM, self.kek.expose())
            .map(LessSafeKey::new)
            .map_err(|_| KmsError::BadKey)
    }
}

impl Kms for LocalKeyKms {
    fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, KmsError> {
        let mut nonce = [0u8; 12];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| KmsError::Random)?;
        let mut in_out = plaintext.to_vec();
        self.cipher()?
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut in_out)
            .map_err(|_| KmsError::Open)?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&in_out);
        Ok(sealed)
    }

    fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, KmsError> {
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

    fn derive(&self, purpose: &str) -> Secret<[u8; 32]> {
        let key = hmac::Key::new(hmac::HMAC_SHA256, self.kek.expose());
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

    fn kms() -> LocalKeyKms {
        LocalKeyKms::from_bytes(&[7u8; 32]).unwrap()
    }

    #[test]
    fn sealed_secrets_open_only_with_the_same_associated_data() {
        let sealed = kms().seal(b"ed25519 private key", b"signing-key:k1").unwrap();
        assert_eq!(
            kms().open(&sealed, b"signing-key:k1").unwrap(),
            b"ed25519 private key"
        );
        assert!(
            kms().open(&sealed, b"signing-key:k2").is_err(),
            "moved to another row"
        );
        let mut tampered = sealed.clone();
        tampered[20] ^= 1;
        assert!(kms().open(&tampered, b"signing-key:k1").is_err());
        let other = LocalKeyKms::from_bytes(&[8u8; 32]).unwrap();
        assert!(
            other.open(&sealed, b"signing-key:k1").is_err(),
            "another key-encryption key"
        );
    }

    #[test]
    fn derived_keys_differ_by_purpose() {
        assert_ne!(
            kms().derive("pepper").expose(),
            kms().derive("email-index").expose()
        );
        assert_eq!(kms().derive("pepper").expose(), kms().derive("pepper").expose());
    }
}
