//! The guest's link to view or cancel a reservation, and the public booking directory's authority.
//!
//! A manage token names the partner and is signed (HMAC-SHA-256, truncated to 128 bits) over partner and
//! reservation under a KMS-derived key, so the link proves the guest holds the confirmation for exactly that
//! reservation and tells the server which tenant to open, with no directory lookup.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use comanda_domain::PartnerId;
use uuid::Uuid;

use crate::Secret;
use crate::kms::keyed_digest;
use crate::tenancy::{AuthorityProof, CredentialMatch, sealed};

fn mac(key: &Secret<[u8; 32]>, partner: PartnerId, reservation: Uuid) -> Vec<u8> {
    keyed_digest(key, format!("reservation/{partner}/{reservation}").as_bytes())[..16].to_vec()
}

/// The token of a reservation's manage link (URL-safe, 43 characters).
pub fn issue(key: &Secret<[u8; 32]>, partner: PartnerId, reservation: Uuid) -> String {
    let mut bytes = partner.as_uuid().as_bytes().to_vec();
    bytes.extend_from_slice(&mac(key, partner, reservation));
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Checks a manage token for `reservation`: the guest's authority over that one reservation of its partner.
pub fn verify(key: &Secret<[u8; 32]>, reservation: Uuid, token: &str) -> Option<CredentialMatch> {
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    if bytes.len() != 32 {
        return None;
    }
    let partner = PartnerId::from_uuid(Uuid::from_slice(&bytes[..16]).ok()?);
    crate::constant_time_eq(&bytes[16..], &mac(key, partner, reservation))
        .then(|| CredentialMatch::new(partner))
}

/// A venue the partner listed for public booking (it saved a booking policy): the platform's booking directory
/// names its partner, and a public availability or booking request acts in that tenant for that venue only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicListing {
    partner: PartnerId,
    pub venue: Uuid,
}

impl PublicListing {
    /// Built from the booking directory's row for `venue` (never from request input).
    pub fn from_directory(partner: PartnerId, venue: Uuid) -> Self {
        Self { partner, venue }
    }
}

impl sealed::Sealed for PublicListing {}
impl AuthorityProof for PublicListing {
    fn proven_partner(&self) -> PartnerId {
        self.partner
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_opens_its_own_reservation_only() {
        let key = Secret::new([7u8; 32]);
        let partner = PartnerId::mint();
        let reservation = Uuid::now_v7();
        let token = issue(&key, partner, reservation);
        assert_eq!(
            verify(&key, reservation, &token).map(|m| m.proven_partner()),
            Some(partner)
        );
        assert!(verify(&key, Uuid::now_v7(), &token).is_none());
        assert!(verify(&Secret::new([8u8; 32]), reservation, &token).is_none());
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        bytes[3] ^= 1;
        assert!(verify(&key, reservation, &URL_SAFE_NO_PAD.encode(bytes)).is_none());
        assert!(verify(&key, reservation, "short").is_none());
    }
}
