//! The KMS stand-in of the embedded default: versioned 256-bit keys in one key file (mode 0600) in the data
//! directory. Only for a single machine, where the key file and the database share a disk; production uses PKCS#11.
//!
//! File format, one version per line: `v<n> <base64 of 32 bytes>`. A file holding a single bare base64 line (what
//! the embedded default has always written) is version 1. The highest version encrypts; every listed version
//! decrypts. [`Kms::create_new_version`] appends a version and rewrites the file atomically.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{PoisonError, RwLock};

use base64::Engine;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

use super::{KekMechanism, Kms, KmsError, WrappedKey, random};
use crate::Secret;

pub const LOCAL_KEK_ID: &str = "local";

#[derive(Debug)]
pub struct LocalKeyKms {
    versions: RwLock<BTreeMap<u32, Secret<[u8; 32]>>>,
    /// Where new versions are written; `None` for an in-memory KMS (tests).
    path: Option<PathBuf>,
}

impl LocalKeyKms {
    /// One version (1) in memory.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KmsError> {
        let key: [u8; 32] = bytes.try_into().map_err(|_| KmsError::BadKey)?;
        Ok(Self {
            versions: RwLock::new(BTreeMap::from([(1, Secret::new(key))])),
            path: None,
        })
    }

    /// Reads the key file; new versions are appended to it.
    pub fn open(path: &Path) -> Result<Self, KmsError> {
        let text = std::fs::read_to_string(path).map_err(|e| key_file(path, e.to_string()))?;
        let versions = parse(&text).map_err(|reason| key_file(path, reason))?;
        Ok(Self {
            versions: RwLock::new(versions),
            path: Some(path.to_path_buf()),
        })
    }

    /// Writes a new key file with one random version, readable by the owner only. Fails if the file exists.
    pub fn create(path: &Path) -> Result<Self, KmsError> {
        let versions = BTreeMap::from([(1, Secret::new(random()?))]);
        write_private(path, &render(&versions), false).map_err(|e| key_file(path, e.to_string()))?;
        Ok(Self {
            versions: RwLock::new(versions),
            path: Some(path.to_path_buf()),
        })
    }

    /// The key of one version, as it was used directly before envelope encryption (see
    /// [`super::PlatformKeys::adopt`]).
    pub fn legacy_key(&self, version: u32) -> Result<Secret<[u8; 32]>, KmsError> {
        self.key(version)
    }

    fn key(&self, version: u32) -> Result<Secret<[u8; 32]>, KmsError> {
        if let Some(key) = self
            .versions
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&version)
        {
            return Ok(key.clone());
        }
        self.read_new_versions();
        self.versions
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&version)
            .cloned()
            .ok_or_else(|| KmsError::UnknownVersion {
                kek_id: LOCAL_KEK_ID.into(),
                version,
            })
    }

    /// Versions another process appended while this one runs (`comanda keys rotate-kek` beside a serving server,
    /// whose `keys rewrap` then moves the data keys to it) join the ones known; a known version is never replaced.
    /// A file that cannot be read now leaves what is known.
    fn read_new_versions(&self) {
        let Some(path) = &self.path else { return };
        let Ok(on_disk) = std::fs::read_to_string(path).map(|text| parse(&text)) else {
            return;
        };
        let Ok(on_disk) = on_disk else { return };
        let mut versions = self.versions.write().unwrap_or_else(PoisonError::into_inner);
        for (number, key) in on_disk {
            versions.entry(number).or_insert(key);
        }
    }
}

fn cipher(key: &Secret<[u8; 32]>) -> Result<LessSafeKey, KmsError> {
    UnboundKey::new(&AES_256_GCM, key.expose())
        .map(LessSafeKey::new)
        .map_err(|_| KmsError::BadKey)
}

impl Kms for LocalKeyKms {
    fn kek_id(&self) -> &str {
        LOCAL_KEK_ID
    }

    fn mechanism(&self) -> KekMechanism {
        KekMechanism::LocalAesGcm
    }

    fn newest_version(&self) -> Result<u32, KmsError> {
        // New data keys are wrapped under the newest version, one rotated in beside this process too (a few
        // reads of a small file: keys are wrapped when a partner or person is created, or rewrapped).
        self.read_new_versions();
        self.versions
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .next_back()
            .copied()
            .ok_or_else(|| KmsError::NoKey(LOCAL_KEK_ID.into()))
    }

    fn encrypt_data_key(&self, plain_key: &Secret<[u8; 32]>, aad: &[u8]) -> Result<WrappedKey, KmsError> {
        let version = self.newest_version()?;
        let iv: [u8; 12] = random()?;
        let mut in_out = plain_key.expose().to_vec();
        cipher(&self.key(version)?)?
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(iv), Aad::from(aad), &mut in_out)
            .map_err(|_| KmsError::Unwrap)?;
        Ok(WrappedKey {
            kek_id: LOCAL_KEK_ID.into(),
            kek_version: version,
            mechanism: KekMechanism::LocalAesGcm,
            iv: iv.to_vec(),
            ciphertext: in_out,
        })
    }

    fn decrypt_data_key(&self, wrapped: &WrappedKey, aad: &[u8]) -> Result<Secret<[u8; 32]>, KmsError> {
        self.check_owner(wrapped)?;
        let key = self.key(wrapped.kek_version)?;
        let nonce = Nonce::try_assume_unique_for_key(&wrapped.iv).map_err(|_| KmsError::Unwrap)?;
        let mut in_out = wrapped.ciphertext.clone();
        let plain = cipher(&key)?
            .open_in_place(nonce, Aad::from(aad), &mut in_out)
            .map_err(|_| KmsError::Unwrap)?;
        let plain: [u8; 32] = (&*plain).try_into().map_err(|_| KmsError::Unwrap)?;
        Ok(Secret::new(plain))
    }

    fn create_new_version(&self) -> Result<u32, KmsError> {
        // A version another process added is kept in the file this rewrites, never numbered again.
        self.read_new_versions();
        let mut versions = self.versions.write().unwrap_or_else(PoisonError::into_inner);
        let next = versions.keys().next_back().map_or(Some(1), |v| v.checked_add(1));
        let next = next.ok_or(KmsError::Unsupported("no key version left".into()))?;
        let mut updated = versions.clone();
        updated.insert(next, Secret::new(random()?));
        if let Some(path) = &self.path {
            write_private(path, &render(&updated), true).map_err(|e| key_file(path, e.to_string()))?;
        }
        *versions = updated;
        Ok(next)
    }
}

fn key_file(path: &Path, reason: String) -> KmsError {
    KmsError::KeyFile {
        path: path.to_path_buf(),
        reason,
    }
}

fn decode_key(text: &str) -> Result<Secret<[u8; 32]>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|_| "not base64".to_owned())?;
    let key: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| format!("holds {} bytes, a 256-bit key has 32", bytes.len()))?;
    Ok(Secret::new(key))
}

fn parse(text: &str) -> Result<BTreeMap<u32, Secret<[u8; 32]>>, String> {
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let mut versions = BTreeMap::new();
    // A base64 key has no space (and may well start with `v`): a lone bare line is the embedded default's file.
    if let [only] = lines.as_slice()
        && !only.contains(' ')
    {
        versions.insert(1, decode_key(only)?);
        return Ok(versions);
    }
    for (number, line) in lines.iter().enumerate() {
        let bad = || format!("line {}: expected `v<n> <base64 key>`", number + 1);
        let (label, key) = line.split_once(' ').ok_or_else(bad)?;
        let version: u32 = label
            .strip_prefix('v')
            .and_then(|v| v.parse().ok())
            .filter(|v| *v > 0)
            .ok_or_else(bad)?;
        let key = decode_key(key).map_err(|reason| format!("line {}: {reason}", number + 1))?;
        if versions.insert(version, key).is_some() {
            return Err(format!("version {version} appears twice"));
        }
    }
    if versions.is_empty() {
        return Err("holds no key".into());
    }
    Ok(versions)
}

fn render(versions: &BTreeMap<u32, Secret<[u8; 32]>>) -> String {
    versions
        .iter()
        .map(|(version, key)| {
            format!(
                "v{version} {}\n",
                base64::engine::general_purpose::STANDARD.encode(key.expose())
            )
        })
        .collect()
}

/// Writes `contents` to a file only the owner can read; `replace` swaps it in atomically (write a sibling, then
/// rename), otherwise an existing file is an error.
fn write_private(path: &Path, contents: &str, replace: bool) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let target = if replace {
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(".new");
        path.with_file_name(name)
    } else {
        path.to_path_buf()
    };
    if replace {
        match std::fs::remove_file(&target) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&target)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    if replace {
        std::fs::rename(&target, path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kms::PLATFORM_KEY_AAD;

    #[test]
    fn a_bare_key_file_is_version_one() {
        let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let versions = parse(&format!("{key}\n")).unwrap();
        assert_eq!(versions.keys().copied().collect::<Vec<_>>(), vec![1]);
        assert_eq!(versions[&1].expose(), &[7u8; 32]);
        assert!(parse("").is_err());
        assert!(parse("bm90IGEga2V5\n").unwrap_err().contains("32"));
        assert!(
            parse(&format!("v1 {key}\nv1 {key}\n"))
                .unwrap_err()
                .contains("twice")
        );
        assert!(parse(&format!("v0 {key}\n")).is_err());
        // A bare key that happens to start with `v` is still version 1.
        let v_key = base64::engine::general_purpose::STANDARD.encode([0xbe; 32]);
        assert!(v_key.starts_with('v'), "{v_key}");
        assert_eq!(parse(&v_key).unwrap()[&1].expose(), &[0xbe; 32]);
    }

    #[test]
    fn versions_rotate_in_the_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kms.key");
        let kms = LocalKeyKms::create(&path).unwrap();
        assert!(LocalKeyKms::create(&path).is_err(), "never overwrites a key file");
        let data_key = Secret::new([3u8; 32]);
        let v1 = kms.encrypt_data_key(&data_key, PLATFORM_KEY_AAD).unwrap();
        assert_eq!(v1.kek_version, 1);
        assert_eq!(kms.create_new_version().unwrap(), 2);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);

        let reopened = LocalKeyKms::open(&path).unwrap();
        assert_eq!(reopened.newest_version().unwrap(), 2);
        let v2 = reopened.encrypt_data_key(&data_key, PLATFORM_KEY_AAD).unwrap();
        assert_eq!(v2.kek_version, 2);
        for wrapped in [&v1, &v2] {
            assert_eq!(
                reopened
                    .decrypt_data_key(wrapped, PLATFORM_KEY_AAD)
                    .unwrap()
                    .expose(),
                data_key.expose()
            );
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("v1 ") && text.contains("\nv2 "), "{text}");

        // A server opened the file before another process (`keys rotate-kek`, then `keys rewrap`) added version 3
        // and wrapped a data key under it: the server reads the file again and unwraps it.
        let rotated = reopened.create_new_version().unwrap();
        let v3 = reopened.encrypt_data_key(&data_key, PLATFORM_KEY_AAD).unwrap();
        assert_eq!((rotated, v3.kek_version), (3, 3));
        assert_eq!(
            kms.decrypt_data_key(&v3, PLATFORM_KEY_AAD).unwrap().expose(),
            data_key.expose(),
            "the version made elsewhere is read from the file"
        );
        assert_eq!(kms.newest_version().unwrap(), 3, "and wraps new keys under it");
        let mut unknown = v3.clone();
        unknown.kek_version = 9;
        assert!(matches!(
            kms.decrypt_data_key(&unknown, PLATFORM_KEY_AAD),
            Err(KmsError::UnknownVersion { version: 9, .. })
        ));
    }
}
