//! Encrypted backups of comanda's database, with restore proof (BAK-1..4, REST-2).
//!
//! A backup is a consistent snapshot of the database (SQLite `VACUUM INTO`, PostgreSQL `pg_dump --format=custom`),
//! compressed with zstd and encrypted with age to an X25519 key kept apart from the data keys ([`key`]), written
//! to every configured target ([`target`]) and read back there before it counts. A signed sidecar [`Manifest`]
//! carries checksums and row counts, no personal data. [`Backups::verify`] restores the newest backup into a
//! scratch database and checks it; [`Backups::scheduled_step`] is what `comanda serve` runs on its schedule.

mod backups;
mod checks;
pub mod config;
pub mod crypt;
pub mod key;
pub mod manifest;
pub mod progress;
mod restoring;
mod schedule;
pub mod snapshot;
pub mod target;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use comanda_domain::Clock;
use comanda_store::backup_runs::BackupRunKind;
use comanda_store::{DatabaseTarget, Engine, Store};
use futures_util::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;
use ring::digest::{Context, SHA256};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

pub use backups::*;
pub use checks::*;
pub use config::{BackupConfig, S3Config};

/// Where the person-key store's own backups go, and how they end.
pub const KEYSTORE_DIR: &str = "keystore";
pub const KEYSTORE_SUFFIX: &str = ".keys.age";
pub use manifest::Manifest;
/// The object-store crate targets are built on, for callers that read a target directly.
pub use object_store;
pub use progress::Progress;
pub use snapshot::Scratch;
pub use target::Target;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("backup key file {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("backup target {target}: {reason}")]
    Target { target: String, reason: String },
    #[error("backup configuration: {0}")]
    Config(String),
    #[error("database: {0}")]
    Database(String),
    #[error("{0}")]
    Tool(String),
    #[error("{0}")]
    Io(String),
    #[error("the backup does not decrypt with this backup key: {0}")]
    Crypto(String),
    #[error("manifest: {0}")]
    Manifest(String),
    #[error("integrity: {0}")]
    Integrity(String),
    #[error("{0}")]
    NotFound(String),
    #[error("recording the run: {0}")]
    Record(#[from] comanda_store::StoreError),
}

/// Alert kinds raised in the `alerts` table (platform alerts: no partner) and logged as `alert=…` at error level.
pub const ALERT_BACKUP_FAILED: &str = "backup.failed";
pub const ALERT_RESTORE_TEST_FAILED: &str = "backup.restore-test-failed";
pub const ALERT_RESTORE_TEST_STALE: &str = "backup.restore-test-stale";

/// Everything backups need from the configuration.
#[derive(Debug, Clone)]
pub struct BackupSetup {
    pub config: BackupConfig,
    pub data_dir: PathBuf,
    pub database: DatabaseTarget,
}

impl BackupSetup {
    pub fn key_path(&self) -> PathBuf {
        self.config
            .key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("backup.key"))
    }

    /// The key of the person-key store's own backups: separate from the backup key and the data keys.
    pub fn keystore_key_path(&self) -> PathBuf {
        self.config
            .keystore_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("keystore-backup.key"))
    }

    /// The configured targets, or the embedded default's two local directories.
    pub fn target_urls(&self) -> Vec<String> {
        if !self.config.targets.is_empty() {
            return self.config.targets.clone();
        }
        let base = std::path::absolute(self.data_dir.join("backups"))
            .unwrap_or_else(|_| self.data_dir.join("backups"));
        ["a", "b"]
            .iter()
            .map(|d| format!("file://{}", base.join(d).display()))
            .collect()
    }
}
