//! Table tokens: what a table's QR code carries, and the only credential a guest has. A token names its table and
//! a version, and is signed (HMAC-SHA-256, truncated to 128 bits) over partner, venue, table and version under a
//! KMS-derived key. Rotating a table bumps its version, so every earlier QR code stops working.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use comanda_domain::PartnerId;
use uuid::Uuid;

use crate::Secret;
use crate::kms::keyed_digest;
use crate::tenancy::CredentialMatch;

/// Where a table is, as the platform's table directory records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableEntry {
    pub partner: PartnerId,
    pub venue: Uuid,
    pub table: Uuid,
    pub version: u32,
}

/// A verified table token: the guest's authority over exactly this table of this venue.
#[derive(Debug, Clone)]
pub struct TableAccess {
    pub proof: CredentialMatch,
    pub venue: Uuid,
    pub table: Uuid,
}

fn mac(key: &Secret<[u8; 32]>, partner: PartnerId, venue: Uuid, table: Uuid, version: u32) -> Vec<u8> {
    let message = format!("table/{partner}/{venue}/{table}/{version}");
    keyed_digest(key, message.as_bytes())[..16].to_vec()
}

pub fn issue(key: &Secret<[u8; 32]>, entry: &TableEntry) -> String {
    let mut bytes = entry.table.as_bytes().to_vec();
    bytes.extend_from_slice(&entry.version.to_be_bytes());
    bytes.extend_from_slice(&mac(key, entry.partner, entry.venue, entry.table, entry.version));
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The table a token claims, before it is checked (to find the table's directory entry).
pub fn claimed_table(token: &str) -> Option<Uuid> {
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    (bytes.len() == 36)
        .then(|| Uuid::from_slice(&bytes[..16]).ok())
        .flatten()
}

/// Checks a token against the table's current directory entry: right table, current version, valid signature.
pub fn verify(key: &Secret<[u8; 32]>, token: &str, entry: &TableEntry) -> Option<TableAccess> {
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    if bytes.len() != 36 || Uuid::from_slice(&bytes[..16]).ok()? != entry.table {
        return None;
    }
    let version = u32::from_be_bytes(bytes[16..20].try_into().ok()?);
    let expected = mac(key, entry.partner, entry.venue, entry.table, entry.version);
    (version == entry.version && crate::constant_time_eq(&bytes[20..], &expected)).then(|| TableAccess {
        proof: CredentialMatch::new(entry.partner),
        venue: entry.venue,
        table: entry.table,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(version: u32) -> TableEntry {
        TableEntry {
            partner: PartnerId::mint(),
            venue: Uuid::now_v7(),
            table: Uuid::now_v7(),
            version,
        }
    }

    #[test]
    fn tokens_verify_until_rotated() {
        let key = Secret::new([4u8; 32]);
        let current = entry(1);
        let token = issue(&key, &current);
        assert_eq!(claimed_table(&token), Some(current.table));
        assert!(verify(&key, &token, &current).is_some());
        let rotated = TableEntry {
            version: 2,
            ..current.clone()
        };
        assert!(
            verify(&key, &token, &rotated).is_none(),
            "the old QR code stops working"
        );
        assert!(verify(&key, &issue(&key, &rotated), &rotated).is_some());
    }

    #[test]
    fn forged_or_moved_tokens_fail() {
        let key = Secret::new([4u8; 32]);
        let a = entry(1);
        let token = issue(&key, &a);
        let other_venue = TableEntry {
            venue: Uuid::now_v7(),
            ..a.clone()
        };
        assert!(verify(&key, &token, &other_venue).is_none());
        assert!(verify(&Secret::new([5u8; 32]), &token, &a).is_none());
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        bytes[30] ^= 1;
        assert!(verify(&key, &URL_SAFE_NO_PAD.encode(bytes), &a).is_none());
        assert!(claimed_table("short").is_none());
    }
}
