//! Turns the configuration into concrete resources, filling in the embedded default where nothing is configured:
//! a data directory (0700) with a SQLite database, a local key file (0600) standing in for the KMS, and a
//! self-signed certificate for localhost. Everything chosen is reported so the operator sees it on start.
//!
//! The KMS (the key file or a PKCS#11 token) protects the platform data key, kept wrapped in
//! `<data_dir>/platform.key.wrapped` for now; the server's signing-key seals, TOTP seals, password pepper and blind
//! indexes come from that key ([`PlatformKeys`]).

use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine;
use comanda_domain::Clock;
use comanda_store::DatabaseTarget;
use rand::RngCore;

use comanda_security::envelope;
use comanda_security::kms::{
    Kms, KmsError, LocalKeyKms, PLATFORM_KEY_AAD, Pkcs11Kms, PlatformKeys, WrappedKey,
};

use crate::config::{Config, KmsBackend};
use crate::files;
use crate::tls;

#[derive(Debug)]
pub struct Resources {
    pub database: DatabaseTarget,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub kms_key_file: PathBuf,
    /// The local key file was made by this start (nothing can have been sealed with it yet).
    pub kms_key_created: bool,
    /// What was chosen, one line each, for the start banner.
    pub choices: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error("data directory {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error("KMS key file {path}: {reason}")]
    KmsKey { path: PathBuf, reason: String },
    #[error(transparent)]
    Kms(#[from] KmsError),
    #[error("platform key {path}: {reason}")]
    PlatformKey { path: PathBuf, reason: String },
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error(transparent)]
    Backup(#[from] comanda_backup::BackupError),
}

pub fn prepare(config: &Config, clock: &dyn Clock) -> Result<Resources, PrepareError> {
    let data_dir = config.data_dir.clone();
    files::create_private_dir(&data_dir).map_err(|source| PrepareError::DataDir {
        path: data_dir.clone(),
        source,
    })?;
    let mut choices = vec![format!("data directory: {}", display(&data_dir))];

    match &config.database.url {
        Some(url) => {
            let engine = comanda_store::engine_of(url.expose())
                .map(|e| e.name())
                .unwrap_or("unknown");
            choices.push(format!("database: {engine} (from configuration)"));
        }
        None => {
            let path = config.sqlite_path();
            // Created owner-only before SQLite opens it; its -wal and -shm files inherit the mode.
            if !path.exists() {
                files::write_private(&path, b"").map_err(|source| PrepareError::DataDir {
                    path: path.clone(),
                    source,
                })?;
            }
            choices.push(format!("database: sqlite {} (embedded default)", display(&path)));
        }
    }
    let database = config.database_target();

    let kms_key_file = config.kms_key_path();
    let mut kms_key_created = false;
    match config.kms.backend {
        KmsBackend::LocalFile => {
            // A platform key sealed under a key file that is gone opens with no new key file: said, not papered
            // over with a fresh key that fails later with "a signing key could not be unsealed".
            if !kms_key_file.exists() && config.platform_key_path().exists() {
                return Err(PrepareError::KmsKey {
                    path: kms_key_file,
                    reason: format!(
                        "is missing, and {} was sealed under it: copy back the kms.key kept off the machine with \
                         it (docs/backups.md); a new key file would open nothing",
                        config.platform_key_path().display()
                    ),
                });
            }
            kms_key_created = ensure_local_kms_key(&kms_key_file)?;
            choices.push(format!(
                "KMS: local key file {} (mode 0600; single-machine default, use PKCS#11 in production)",
                display(&kms_key_file)
            ));
        }
        KmsBackend::Pkcs11 => {
            let pkcs11 = &config.kms.pkcs11;
            choices.push(format!(
                "KMS: PKCS#11 token {:?} in {}, key {:?} ({})",
                pkcs11.token_label,
                pkcs11.module.display(),
                pkcs11.key_label,
                pkcs11.settings().mechanism
            ));
        }
    }

    if config.backup.enabled {
        let setup = config.backup_setup();
        let key = setup.key_path();
        comanda_backup::key::ensure(&key, &comanda_backup::manifest::stamp(clock.now()))?;
        comanda_backup::key::load(&key)?;
        choices.push(format!(
            "backups: every {} h to {} (key {}, kept {} days, restore test every {} days)",
            config.backup.every_hours,
            setup.target_urls().join(" and "),
            display(&key),
            config.backup.retention_days,
            config.backup.verify_every_days
        ));
    } else {
        choices.push("backups: off (backup.enabled = false)".to_owned());
    }

    let (cert_file, key_file) = match (&config.tls.cert_file, &config.tls.key_file) {
        (Some(cert), Some(key)) => {
            choices.push(format!(
                "TLS: certificate {} and key {}",
                display(cert),
                display(key)
            ));
            (cert.clone(), key.clone())
        }
        _ => {
            let (cert, key) = config.self_signed_paths();
            if tls::self_signed_is_stale(&cert, std::time::SystemTime::from(clock.now())) || !key.exists() {
                let dir = cert.parent().unwrap_or(&data_dir).to_path_buf();
                files::create_private_dir(&dir)
                    .map_err(|source| PrepareError::DataDir { path: dir, source })?;
                tls::write_self_signed(&cert, &key, clock.now())?;
            }
            choices.push(format!(
                "TLS: self-signed certificate for localhost {}",
                display(&cert)
            ));
            (cert, key)
        }
    };

    Ok(Resources {
        database,
        cert_file,
        key_file,
        kms_key_file,
        kms_key_created,
        choices,
    })
}

/// The configured KMS. PKCS#11: logs in, and creates the first key version in a token that has none.
/// Blocking (a PKCS#11 library call): async callers run it in `spawn_blocking`.
pub fn open_kms(config: &Config) -> Result<Arc<dyn Kms>, PrepareError> {
    Ok(match config.kms.backend {
        KmsBackend::LocalFile => Arc::new(LocalKeyKms::open(&config.kms_key_path())?),
        KmsBackend::Pkcs11 => {
            let kms = Pkcs11Kms::connect(&config.kms.pkcs11.settings())?;
            let version = kms.ensure_key()?;
            tracing::info!(key = %config.kms.pkcs11.key_label, version, "PKCS#11 key-encryption key");
            Arc::new(kms)
        }
    })
}

/// The platform key, unwrapped by the KMS; made (and stored wrapped) on a first start. A data directory from before
/// envelope encryption, whose key file's key sealed and derived everything directly, adopts that key as its
/// platform key, so what it sealed still opens and its password pepper stays the same.
/// Blocking, like [`open_kms`].
pub fn platform_keys(
    config: &Config,
    kms: &dyn Kms,
    kms_key_created: bool,
) -> Result<PlatformKeys, PrepareError> {
    let path = config.platform_key_path();
    if path.exists() {
        return PlatformKeys::unwrap(kms, &read_platform_key(config)?).map_err(|e| {
            PrepareError::PlatformKey {
                path,
                reason: format!("does not unwrap with the configured KMS: {e}"),
            }
        });
    }
    let (keys, wrapped) = if config.kms.backend == KmsBackend::LocalFile && !kms_key_created {
        tracing::info!(
            "adopting the key file's key as the platform key (data directory from before envelope encryption)"
        );
        let legacy = LocalKeyKms::open(&config.kms_key_path())?.legacy_key(1)?;
        PlatformKeys::adopt(legacy, kms)?
    } else {
        PlatformKeys::generate(kms)?
    };
    write_platform_key(config, &wrapped, false)?;
    Ok(keys)
}

/// REST-3: re-encrypts the platform key under the KMS's newest key version (`comanda keys rewrap`). Returns the
/// versions before and after.
pub fn rewrap_platform_key(config: &Config, kms: &dyn Kms) -> Result<(u32, u32), PrepareError> {
    let wrapped = read_platform_key(config)?;
    let moved = envelope::rewrap(&wrapped, PLATFORM_KEY_AAD, kms)?;
    if moved != wrapped {
        write_platform_key(config, &moved, true)?;
    }
    Ok((wrapped.kek_version, moved.kek_version))
}

fn read_platform_key(config: &Config) -> Result<WrappedKey, PrepareError> {
    let path = config.platform_key_path();
    let fail = |reason: String| PrepareError::PlatformKey {
        path: path.clone(),
        reason,
    };
    if files::is_exposed(&path).map_err(|e| fail(e.to_string()))? {
        return Err(fail(
            "other users can read or write it; run `chmod 600` on it".into(),
        ));
    }
    let text = std::fs::read_to_string(&path).map_err(|e| fail(e.to_string()))?;
    WrappedKey::from_text(&text).map_err(|e| fail(e.to_string()))
}

/// Writes the wrapped platform key owner-only; a replacement goes to a sibling first and is renamed over the old
/// file, so a crash never leaves a half-written key.
fn write_platform_key(config: &Config, wrapped: &WrappedKey, replace: bool) -> Result<(), PrepareError> {
    let path = config.platform_key_path();
    let fail = |reason: String| PrepareError::PlatformKey {
        path: path.clone(),
        reason,
    };
    let text = wrapped.to_text().map_err(|e| fail(e.to_string()))? + "\n";
    if replace {
        let sibling = path.with_extension("wrapped.new");
        files::write_private(&sibling, text.as_bytes()).map_err(|e| fail(e.to_string()))?;
        std::fs::rename(&sibling, &path).map_err(|e| fail(e.to_string()))
    } else {
        files::write_private(&path, text.as_bytes()).map_err(|e| fail(e.to_string()))
    }
}

fn display(path: &std::path::Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

/// A 256-bit key-encryption key (version 1) in a file only the owner can read; `true` when made now. An existing file is kept, but refused when other
/// users can read it, as ssh refuses an exposed private key.
fn ensure_local_kms_key(path: &std::path::Path) -> Result<bool, PrepareError> {
    let fail = |reason: String| PrepareError::KmsKey {
        path: path.to_path_buf(),
        reason,
    };
    if path.exists() {
        if files::is_exposed(path).map_err(|e| fail(e.to_string()))? {
            return Err(fail(
                "other users can read or write it; run `chmod 600` on it".into(),
            ));
        }
        return match LocalKeyKms::open(path) {
            Ok(_) => Ok(false),
            Err(KmsError::KeyFile { reason, .. }) => Err(fail(reason)),
            Err(other) => Err(fail(other.to_string())),
        };
    }
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    let encoded = base64::engine::general_purpose::STANDARD.encode(key) + "\n";
    files::write_private(path, encoded.as_bytes())
        .map(|()| true)
        .map_err(|e| fail(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use comanda_domain::SystemClock;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn embedded_default_creates_private_files() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().join("data"),
            ..Config::default()
        };
        let resources = prepare(&config, &SystemClock).unwrap();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&resources.kms_key_file), 0o600);
        assert_eq!(mode(&resources.key_file), 0o600);
        assert_eq!(mode(&config.data_dir), 0o700);
        assert_eq!(mode(&config.sqlite_path()), 0o600);
        assert_eq!(mode(&config.data_dir.join("backup.key")), 0o600);
        assert_ne!(
            std::fs::read(config.data_dir.join("backup.key")).unwrap(),
            std::fs::read(&resources.kms_key_file).unwrap(),
            "the backup key is not the data key"
        );
        assert!(resources.database.url.starts_with("sqlite://"));
        tls::load_certified_key(&resources.cert_file, &resources.key_file).unwrap();

        // A second start keeps the same key and certificate.
        let key_before = std::fs::read(&resources.kms_key_file).unwrap();
        let cert_before = std::fs::read(&resources.cert_file).unwrap();
        let again = prepare(&config, &SystemClock).unwrap();
        assert_eq!(std::fs::read(&again.kms_key_file).unwrap(), key_before);
        assert_eq!(std::fs::read(&again.cert_file).unwrap(), cert_before);
    }

    #[test]
    fn exposed_kms_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        prepare(&config, &SystemClock).unwrap();
        std::fs::set_permissions(config.kms_key_path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = prepare(&config, &SystemClock).unwrap_err();
        assert!(error.to_string().contains("chmod 600"), "{error}");
    }

    fn config_in(dir: &std::path::Path) -> Config {
        Config {
            data_dir: dir.to_path_buf(),
            ..Config::default()
        }
    }

    #[test]
    fn a_data_directory_from_before_keeps_its_key() {
        // Before envelope encryption the key file's key sealed and derived directly: it becomes the platform key.
        let dir = tempfile::tempdir().unwrap();
        let config = config_in(dir.path());
        let legacy = [0x42u8; 32];
        files::write_private(
            &config.kms_key_path(),
            (base64::engine::general_purpose::STANDARD.encode(legacy) + "\n").as_bytes(),
        )
        .unwrap();
        let resources = prepare(&config, &SystemClock).unwrap();
        assert!(!resources.kms_key_created);
        let kms = open_kms(&config).unwrap();
        let keys = platform_keys(&config, kms.as_ref(), resources.kms_key_created).unwrap();
        let before = PlatformKeys::from_bytes(&legacy).unwrap();
        assert_eq!(
            keys.derive("password-pepper").expose(),
            before.derive("password-pepper").expose()
        );
        let sealed = before.seal(b"totp secret", b"ctx").unwrap();
        assert_eq!(keys.open(&sealed, b"ctx").unwrap(), b"totp secret");
        let mode = std::fs::metadata(config.platform_key_path())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn a_new_data_directory_gets_a_random_platform_key_that_survives_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let config = config_in(dir.path());
        let resources = prepare(&config, &SystemClock).unwrap();
        assert!(resources.kms_key_created);
        let kms = open_kms(&config).unwrap();
        let keys = platform_keys(&config, kms.as_ref(), true).unwrap();
        let kek = LocalKeyKms::open(&config.kms_key_path())
            .unwrap()
            .legacy_key(1)
            .unwrap();
        assert_ne!(
            keys.derive("pepper").expose(),
            PlatformKeys::from_bytes(kek.expose())
                .unwrap()
                .derive("pepper")
                .expose(),
            "the platform key is not the key-encryption key"
        );
        let sealed = keys.seal(b"signing key", b"kid").unwrap();

        assert_eq!(rewrap_platform_key(&config, kms.as_ref()).unwrap(), (1, 1));
        assert_eq!(kms.create_new_version().unwrap(), 2);
        assert_eq!(rewrap_platform_key(&config, kms.as_ref()).unwrap(), (1, 2));
        assert_eq!(read_platform_key(&config).unwrap().kek_version, 2);

        // A restart: the key file now has two versions, the platform key is the same.
        let kms = open_kms(&config).unwrap();
        assert_eq!(kms.newest_version().unwrap(), 2);
        let again = platform_keys(&config, kms.as_ref(), false).unwrap();
        assert_eq!(again.open(&sealed, b"kid").unwrap(), b"signing key");
        prepare(&config, &SystemClock).expect("a rotated key file is still a valid key file");
    }

    #[test]
    fn an_exposed_or_foreign_platform_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let config = config_in(dir.path());
        prepare(&config, &SystemClock).unwrap();
        let kms = open_kms(&config).unwrap();
        platform_keys(&config, kms.as_ref(), true).unwrap();
        std::fs::set_permissions(config.platform_key_path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = platform_keys(&config, kms.as_ref(), false).unwrap_err();
        assert!(error.to_string().contains("chmod 600"), "{error}");
        std::fs::set_permissions(config.platform_key_path(), std::fs::Permissions::from_mode(0o600)).unwrap();
        let other = LocalKeyKms::from_bytes(&[1u8; 32]).unwrap();
        let error = platform_keys(&config, &other, false).unwrap_err();
        assert!(error.to_string().contains("does not unwrap"), "{error}");
    }

    #[test]
    fn the_server_starts_its_keys_on_a_pkcs11_token() {
        comanda_security::testing::SoftHsm::run_isolated(
            "embedded::tests::the_server_starts_its_keys_on_a_pkcs11_token",
            |hsm| {
                let dir = tempfile::tempdir().unwrap();
                let mut config = config_in(dir.path());
                config.kms.backend = KmsBackend::Pkcs11;
                config.kms.pkcs11.module = hsm.module.clone();
                config.kms.pkcs11.token_label = hsm.token_label.clone();
                config.kms.pkcs11.pin = Some(comanda_security::Secret::new(hsm.pin.clone()));
                config.validate().unwrap();
                let resources = prepare(&config, &SystemClock).unwrap();
                assert!(!config.kms_key_path().exists(), "no key file with PKCS#11");
                assert!(
                    resources.choices.iter().any(|c| c.contains("PKCS#11")),
                    "{:?}",
                    resources.choices
                );

                let kms = open_kms(&config).unwrap();
                assert_eq!(
                    kms.newest_version().unwrap(),
                    1,
                    "the first start makes version 1"
                );
                let keys = platform_keys(&config, kms.as_ref(), false).unwrap();
                let sealed = keys.seal(b"signing key", b"kid").unwrap();
                let wrapped = read_platform_key(&config).unwrap();
                assert_eq!(wrapped.kek_id, "comanda-kek");

                kms.create_new_version().unwrap();
                assert_eq!(rewrap_platform_key(&config, kms.as_ref()).unwrap(), (1, 2));
                let again = platform_keys(&config, open_kms(&config).unwrap().as_ref(), false).unwrap();
                assert_eq!(again.open(&sealed, b"kid").unwrap(), b"signing key");
            },
        );
    }

    #[test]
    fn exposed_backup_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        prepare(&config, &SystemClock).unwrap();
        let key = dir.path().join("backup.key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
        let error = prepare(&config, &SystemClock).unwrap_err();
        assert!(
            error.to_string().contains("backup key") && error.to_string().contains("chmod 600"),
            "{error}"
        );
    }
}
