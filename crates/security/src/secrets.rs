//! Opaque bearer secrets (refresh tokens, invitation tokens): 256 random bits, shown once, stored only as a keyed
//! digest so the database alone cannot replay them, and looked up by that digest.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use comanda_domain::PartnerId;
use ring::rand::{SecureRandom, SystemRandom};

use crate::Secret;
use crate::kms::keyed_digest;
use crate::tenancy::CredentialMatch;

/// A new secret with a readable prefix naming its kind (`rt_…`, `inv_…`), so a leaked one is recognisable.
pub fn new_secret(prefix: &str) -> Result<String, crate::kms::KmsError> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| crate::kms::KmsError::Random)?;
    Ok(format!("{prefix}_{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// The digest a secret is stored and looked up under.
pub fn digest(key: &Secret<[u8; 32]>, secret: &str) -> Vec<u8> {
    keyed_digest(key, secret.as_bytes())
}

/// The partner a stored secret belongs to, as found by its digest.
#[derive(Debug, Clone)]
pub struct StoredSecret {
    pub partner: PartnerId,
    pub digest: Vec<u8>,
}

/// Confirms that `presented` is the secret stored as `stored` and yields the proof of its partner.
pub fn matches(key: &Secret<[u8; 32]>, presented: &str, stored: &StoredSecret) -> Option<CredentialMatch> {
    let computed = digest(key, presented);
    crate::constant_time_eq(&computed, &stored.digest).then(|| CredentialMatch::new(stored.partner))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_match_only_themselves() {
        let key = Secret::new([9u8; 32]);
        let secret = new_secret("rt").unwrap();
        assert!(secret.starts_with("rt_") && secret.len() > 40);
        let stored = StoredSecret {
            partner: PartnerId::mint(),
            digest: digest(&key, &secret),
        };
        assert!(matches(&key, &secret, &stored).is_some());
        assert!(matches(&key, &new_secret("rt").unwrap(), &stored).is_none());
        assert!(matches(&Secret::new([1u8; 32]), &secret, &stored).is_none());
    }
}
