//! The sidecar manifest of a backup object: when, which engine, checksums and per-table row counts. It holds no
//! personal data (names of tables, counts and hashes only), so it is stored in the clear next to the object, and
//! carries a MAC under a key derived from the backup key, so a swapped object-and-manifest pair is detected.

use std::collections::BTreeMap;

use age::secrecy::ExposeSecret;
use ring::{digest, hmac};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::BackupError;
use crate::crypt::hex;

pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// The object's name (`backups/2026-11-23T12-00-00Z-sqlite.cmdb.age`).
    pub object: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// `sqlite` or `postgresql`.
    pub engine: String,
    /// The highest applied migration of the database the snapshot was taken from.
    pub schema_version: i64,
    /// The plaintext snapshot (SQLite file or `pg_dump --format=custom`) before compression and encryption.
    pub snapshot_sha256: String,
    pub snapshot_bytes: u64,
    /// The encrypted object as stored.
    pub object_sha256: String,
    pub object_bytes: u64,
    /// Rows per table at the snapshot.
    pub tables: BTreeMap<String, i64>,
    /// The age recipient the object is encrypted to (the backup key's public half).
    pub recipient: String,
    /// HMAC-SHA-256 of the manifest with this field empty, under a key derived from the backup key.
    #[serde(default)]
    pub mac: String,
}

fn mac_key(identity: &age::x25519::Identity) -> hmac::Key {
    let mut context = digest::Context::new(&digest::SHA256);
    context.update(b"comanda/backup-manifest/v1\0");
    context.update(identity.to_string().expose_secret().as_bytes());
    hmac::Key::new(hmac::HMAC_SHA256, context.finish().as_ref())
}

impl Manifest {
    fn unsigned_bytes(&self) -> Result<Vec<u8>, BackupError> {
        let mut unsigned = self.clone();
        unsigned.mac = String::new();
        serde_json::to_vec(&unsigned).map_err(|e| BackupError::Manifest(e.to_string()))
    }

    pub fn sign(&mut self, identity: &age::x25519::Identity) -> Result<(), BackupError> {
        self.mac = hex(hmac::sign(&mac_key(identity), &self.unsigned_bytes()?).as_ref());
        Ok(())
    }

    /// Parses a manifest and checks its MAC and that it describes `object`.
    pub fn parse(bytes: &[u8], object: &str, identity: &age::x25519::Identity) -> Result<Self, BackupError> {
        let manifest: Manifest =
            serde_json::from_slice(bytes).map_err(|e| BackupError::Manifest(format!("{object}: {e}")))?;
        let expected = hex(hmac::sign(&mac_key(identity), &manifest.unsigned_bytes()?).as_ref());
        if manifest.format != FORMAT || manifest.object != object || expected != manifest.mac {
            return Err(BackupError::Manifest(format!(
                "{object}: the manifest was not written for this object by this backup key"
            )));
        }
        Ok(manifest)
    }

    pub fn to_json(&self) -> Result<Vec<u8>, BackupError> {
        serde_json::to_vec_pretty(self).map_err(|e| BackupError::Manifest(e.to_string()))
    }
}

/// `2026-11-23T12-00-00Z`: sortable, and valid in every object store and file system.
pub fn stamp(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}-{:02}-{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// The creation time encoded in an object's name, if it is a backup object's name.
pub fn created_at_of(name: &str) -> Option<OffsetDateTime> {
    let file = name.rsplit('/').next()?;
    let stamp = file.get(..20)?;
    let (date, clock) = stamp.strip_suffix('Z')?.split_once('T')?;
    let text = format!("{date}T{}Z", clock.replace('-', ":"));
    OffsetDateTime::parse(&text, &Rfc3339).ok()
}

pub const DIR: &str = "backups";
pub const OBJECT_SUFFIX: &str = ".cmdb.age";
pub const MANIFEST_SUFFIX: &str = ".manifest.json";

pub fn object_name(at: OffsetDateTime, engine: &str) -> String {
    format!("{DIR}/{}-{engine}{OBJECT_SUFFIX}", stamp(at))
}

pub fn manifest_name(object: &str) -> String {
    format!("{}{MANIFEST_SUFFIX}", object.trim_end_matches(OBJECT_SUFFIX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn names_encode_the_utc_creation_time() {
        let at = datetime!(2026-11-23 07:00:05 -5);
        let name = object_name(at, "sqlite");
        assert_eq!(name, "backups/2026-11-23T12-00-05Z-sqlite.cmdb.age");
        assert_eq!(created_at_of(&name), Some(at));
        assert_eq!(
            manifest_name(&name),
            "backups/2026-11-23T12-00-05Z-sqlite.manifest.json"
        );
        assert_eq!(created_at_of("backups/notes.txt"), None);
    }

    #[test]
    fn a_manifest_is_bound_to_its_object_and_key() {
        let key = age::x25519::Identity::generate();
        let mut manifest = Manifest {
            format: FORMAT,
            object: "backups/x.cmdb.age".into(),
            created_at: datetime!(2026-11-23 12:00 UTC),
            engine: "sqlite".into(),
            schema_version: 8,
            snapshot_sha256: "a".into(),
            snapshot_bytes: 1,
            object_sha256: "b".into(),
            object_bytes: 2,
            tables: BTreeMap::from([("partners".into(), 3)]),
            recipient: key.to_public().to_string(),
            mac: String::new(),
        };
        manifest.sign(&key).unwrap();
        let json = manifest.to_json().unwrap();
        assert_eq!(
            Manifest::parse(&json, "backups/x.cmdb.age", &key).unwrap(),
            manifest
        );
        assert!(Manifest::parse(&json, "backups/y.cmdb.age", &key).is_err());
        assert!(Manifest::parse(&json, "backups/x.cmdb.age", &age::x25519::Identity::generate()).is_err());
        let forged = String::from_utf8(json)
            .unwrap()
            .replace("\"partners\": 3", "\"partners\": 4");
        assert!(Manifest::parse(forged.as_bytes(), "backups/x.cmdb.age", &key).is_err());
    }
}
