//! Turns the configuration into concrete resources, filling in the embedded default where nothing is configured:
//! a data directory (0700) with a SQLite database, a local key file (0600) standing in for the KMS, and a
//! self-signed certificate for localhost. Everything chosen is reported so the operator sees it on start.

use std::path::PathBuf;

use base64::Engine;
use comanda_domain::Clock;
use comanda_store::DatabaseTarget;
use rand::RngCore;

use crate::config::{Config, KmsBackend};
use crate::files;
use crate::tls;

#[derive(Debug)]
pub struct Resources {
    pub database: DatabaseTarget,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub kms_key_file: PathBuf,
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

    let database = match &config.database.url {
        Some(url) => {
            let engine = comanda_store::engine_of(url.expose())
                .map(|e| e.name())
                .unwrap_or("unknown");
            choices.push(format!("database: {engine} (from configuration)"));
            DatabaseTarget {
                url: url.expose().clone(),
                migration_url: config.database.migration_url.as_ref().map(|u| u.expose().clone()),
                max_connections: pool_size(config.database.max_connections, 16),
            }
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
            DatabaseTarget {
                url: format!("sqlite://{}", path.display()),
                migration_url: None,
                max_connections: pool_size(config.database.max_connections, 8),
            }
        }
    };

    let kms_key_file = config.kms_key_path();
    match config.kms.backend {
        KmsBackend::LocalFile => {
            ensure_local_kms_key(&kms_key_file)?;
            choices.push(format!(
                "KMS: local key file {} (mode 0600; single-machine default, use PKCS#11 in production)",
                display(&kms_key_file)
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
        choices,
    })
}

fn pool_size(configured: u32, default: u32) -> u32 {
    if configured == 0 { default } else { configured }
}

fn display(path: &std::path::Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

/// Reads the local key-encryption key (created by [`prepare`]).
pub fn read_local_kms_key(path: &std::path::Path) -> Result<Vec<u8>, PrepareError> {
    let fail = |reason: String| PrepareError::KmsKey {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let key = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|_| fail("not base64".into()))?;
    if key.len() != 32 {
        return Err(fail(format!("holds {} bytes, a 256-bit key has 32", key.len())));
    }
    Ok(key)
}

/// A 256-bit key-encryption key in a file only the owner can read. An existing file is kept, but refused when other
/// users can read it, as ssh refuses an exposed private key.
fn ensure_local_kms_key(path: &std::path::Path) -> Result<(), PrepareError> {
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
        return read_local_kms_key(path).map(|_| ());
    }
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    let encoded = base64::engine::general_purpose::STANDARD.encode(key) + "\n";
    files::write_private(path, encoded.as_bytes()).map_err(|e| fail(e.to_string()))
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
