//! Encrypted backups of comanda's database, with restore proof (BAK-1..4, REST-2).
//!
//! A backup is a consistent snapshot of the database (SQLite `VACUUM INTO`, PostgreSQL `pg_dump --format=custom`),
//! compressed with zstd and encrypted with age to an X25519 key kept apart from the data keys ([`key`]), written
//! to every configured target ([`target`]) and read back there before it counts. A signed sidecar [`Manifest`]
//! carries checksums and row counts, no personal data. [`Backups::verify`] restores the newest backup into a
//! scratch database and checks it; [`Backups::scheduled_step`] is what `comanda serve` runs on its schedule.

pub mod config;
pub mod crypt;
pub mod key;
pub mod manifest;
pub mod progress;
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

/// The scratch database a restore test made, handed to each [`ScratchCheck`].
#[derive(Debug)]
pub struct ScratchDatabase<'a> {
    pub engine: Engine,
    /// Connect with this (`sqlite://…` or `postgres://…`); the role sees every row.
    pub url: &'a str,
    pub manifest: &'a Manifest,
}

/// An integrity check run against a restored scratch database during a restore test (BAK-4). The default is
/// [`ReadEveryTable`]; the audit-chain verification plugs in here.
#[async_trait]
pub trait ScratchCheck: Send + Sync {
    fn name(&self) -> &str;
    /// `Ok(summary)` when the scratch database passes, `Err(problem)` when it does not.
    async fn check(&self, scratch: &ScratchDatabase<'_>) -> Result<String, String>;
}

/// SQLite: `PRAGMA integrity_check` and `foreign_key_check`; both engines: every row of every table is read.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReadEveryTable;

#[async_trait]
impl ScratchCheck for ReadEveryTable {
    fn name(&self) -> &str {
        "read-every-table"
    }

    async fn check(&self, scratch: &ScratchDatabase<'_>) -> Result<String, String> {
        let rows = match scratch.engine {
            Engine::Sqlite => {
                let path = snapshot::Sqlite::from_url(scratch.url)
                    .map_err(|e| e.to_string())?
                    .path;
                snapshot::sqlite_integrity(&path)
                    .await
                    .map_err(|e| e.to_string())?;
                snapshot::sqlite_read_all(scratch.url).await
            }
            Engine::Postgres => snapshot::pg_read_all(scratch.url).await,
        }
        .map_err(|e| e.to_string())?;
        Ok(format!("{rows} rows read"))
    }
}

/// The default checks of a restore test.
pub fn default_checks() -> Vec<Arc<dyn ScratchCheck>> {
    vec![Arc::new(ReadEveryTable)]
}

#[derive(Debug, Clone)]
pub struct Created {
    pub object: String,
    pub manifest: Manifest,
    pub targets: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Listing {
    pub target: String,
    pub object: String,
    pub created_at: Option<OffsetDateTime>,
    pub bytes: u64,
    /// Its manifest is genuine and the object's checksum matches it.
    pub verified: Result<(), String>,
}

#[derive(Debug, Clone)]
pub struct Restored {
    pub object: String,
    pub from_target: String,
    pub note: String,
}

#[derive(Debug, Clone)]
pub struct VerifyReport {
    pub object: String,
    pub checks: Vec<String>,
    pub problems: Vec<String>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    fn detail(&self) -> String {
        if self.ok() {
            self.checks.join("; ")
        } else {
            self.problems.join("; ")
        }
    }
}

#[derive(Debug, Clone)]
pub struct Staleness {
    pub last_success: Option<OffsetDateTime>,
    pub stale: bool,
    pub alerted: bool,
}

/// What one scheduler step did.
#[derive(Debug, Default, Clone)]
pub struct StepReport {
    pub backed_up: Option<Result<String, String>>,
    pub pruned: usize,
    pub verified: Option<Result<String, String>>,
    pub stale: bool,
}

pub struct Backups {
    config: BackupConfig,
    engine: Box<dyn snapshot::Engine>,
    identity: age::x25519::Identity,
    /// The person-key store's own backup key: never the ordinary backup key (PRIV-1).
    keystore_identity: age::x25519::Identity,
    targets: Vec<Target>,
    clock: Arc<dyn Clock>,
    progress: bool,
}

impl std::fmt::Debug for Backups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backups")
            .field("engine", &self.engine)
            .field(
                "targets",
                &self.targets.iter().map(|t| &t.label).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

fn store_err(target: &Target) -> impl Fn(object_store::Error) -> BackupError + '_ {
    move |e| BackupError::Target {
        target: target.label.clone(),
        reason: e.to_string(),
    }
}

impl Backups {
    /// Creates the backup key when missing (0600), refuses an exposed one, and opens every target.
    pub fn open(setup: &BackupSetup, clock: Arc<dyn Clock>, progress: bool) -> Result<Self, BackupError> {
        let key_path = setup.key_path();
        key::ensure(&key_path, &manifest::stamp(clock.now()))?;
        let identity = key::load(&key_path)?;
        let keystore_path = setup.keystore_key_path();
        key::ensure(&keystore_path, &manifest::stamp(clock.now()))?;
        let keystore_identity = key::load(&keystore_path)?;
        let targets = setup
            .target_urls()
            .iter()
            .map(|url| Target::open(url, &setup.config.s3))
            .collect::<Result<Vec<_>, _>>()?;
        if targets.len() < 2 {
            return Err(BackupError::Config(
                "at least two targets are needed (BAK-3)".into(),
            ));
        }
        let engine: Box<dyn snapshot::Engine> = match setup.database.engine()? {
            Engine::Sqlite => Box::new(snapshot::Sqlite::from_url(&setup.database.url)?),
            Engine::Postgres => {
                let owner = setup
                    .database
                    .migration_url
                    .clone()
                    .unwrap_or_else(|| setup.database.url.clone());
                Box::new(snapshot::Postgres {
                    dump_url: setup
                        .config
                        .database_url
                        .as_ref()
                        .map_or_else(|| owner.clone(), |u| u.expose().clone()),
                    owner_url: owner,
                    bin_dir: snapshot::pg_bin_dir(setup.config.pg_bin_dir.as_deref()),
                })
            }
        };
        Ok(Self {
            config: setup.config.clone(),
            engine,
            identity,
            keystore_identity,
            targets,
            clock,
            progress,
        })
    }

    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// The public half of the backup key.
    pub fn recipient(&self) -> String {
        self.identity.to_public().to_string()
    }

    fn bar(&self, len: u64, message: &str) -> Progress {
        Progress::bytes(self.progress, len, message)
    }

    /// Takes a snapshot, seals it and writes it to every target, reading each copy back. Successful only when
    /// every target holds an intact copy.
    pub async fn create(&self) -> Result<Created, BackupError> {
        let now = self.clock.now();
        let object = manifest::object_name(now, self.engine.engine().name());
        let manifest_name = manifest::manifest_name(&object);
        for target in &self.targets {
            match target.store.head(&ObjectPath::from(object.as_str())).await {
                Ok(_) => {
                    return Err(BackupError::Target {
                        target: target.label.clone(),
                        reason: format!("{object} already exists"),
                    });
                }
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(store_err(target)(e)),
            }
        }
        let work = tempfile::tempdir().map_err(|e| BackupError::Io(format!("work directory: {e}")))?;
        let plain = work.path().join("snapshot");
        let sealed_path = work.path().join("object");
        let info = self.engine.snapshot(&plain).await?;
        let size = std::fs::metadata(&plain).map(|m| m.len()).unwrap_or(0);
        let bar = self.bar(size, "encrypt");
        let recipient = self.identity.to_public();
        let (plain_c, sealed_c, bar_c) = (plain.clone(), sealed_path.clone(), bar.clone());
        let sealed = tokio::task::spawn_blocking(move || crypt::seal(&plain_c, &sealed_c, &recipient, bar_c))
            .await
            .map_err(|e| BackupError::Io(e.to_string()))??;
        bar.finish();
        let _ = std::fs::remove_file(&plain);
        let mut manifest = Manifest {
            format: manifest::FORMAT,
            object: object.clone(),
            created_at: now,
            engine: self.engine.engine().name().to_owned(),
            schema_version: info.schema_version,
            snapshot_sha256: sealed.snapshot_sha256,
            snapshot_bytes: sealed.snapshot_bytes,
            object_sha256: sealed.object_sha256.clone(),
            object_bytes: sealed.object_bytes,
            tables: info.tables,
            recipient: self.recipient(),
            mac: String::new(),
        };
        manifest.sign(&self.identity)?;
        let manifest_json = manifest.to_json()?;
        for target in &self.targets {
            self.upload(target, &object, &sealed_path).await?;
            target
                .store
                .put(
                    &ObjectPath::from(manifest_name.as_str()),
                    manifest_json.clone().into(),
                )
                .await
                .map_err(store_err(target))?;
            let (sha, bytes) = self.download(target, &object, None).await?;
            if sha != sealed.object_sha256 || bytes != sealed.object_bytes {
                return Err(BackupError::Target {
                    target: target.label.clone(),
                    reason: format!("{object} read back differs from what was written"),
                });
            }
            let back = target
                .store
                .get(&ObjectPath::from(manifest_name.as_str()))
                .await
                .map_err(store_err(target))?
                .bytes()
                .await
                .map_err(store_err(target))?;
            if back.as_ref() != manifest_json.as_slice() {
                return Err(BackupError::Target {
                    target: target.label.clone(),
                    reason: format!("{manifest_name} read back differs from what was written"),
                });
            }
        }
        self.backup_keystore(now, work.path()).await?;
        Ok(Created {
            object,
            manifest,
            targets: self.targets.iter().map(|t| t.label.clone()).collect(),
        })
    }

    /// The person-key store, backed up apart (PRIV-1): its own object under `keystore/`, encrypted to its own key,
    /// kept `keystore_retention_days` (7). The ordinary backups never hold person keys, so an erasure (which
    /// deletes the person's key) cannot be undone by restoring one of them.
    async fn backup_keystore(&self, now: OffsetDateTime, work: &Path) -> Result<String, BackupError> {
        let rows = self.engine.key_rows().await?.unwrap_or_default();
        let plain = work.join("keystore.json");
        let sealed_path = work.join("keystore.age");
        std::fs::write(
            &plain,
            serde_json::to_vec(&rows).map_err(|e| BackupError::Io(e.to_string()))?,
        )
        .map_err(|e| BackupError::Io(format!("key store snapshot: {e}")))?;
        let recipient = self.keystore_identity.to_public();
        let (plain_c, sealed_c) = (plain.clone(), sealed_path.clone());
        tokio::task::spawn_blocking(move || crypt::seal(&plain_c, &sealed_c, &recipient, Progress::hidden()))
            .await
            .map_err(|e| BackupError::Io(e.to_string()))??;
        let _ = std::fs::remove_file(&plain);
        let name = format!(
            "{KEYSTORE_DIR}/{}-{}{KEYSTORE_SUFFIX}",
            manifest::stamp(now),
            self.engine.engine().name()
        );
        for target in &self.targets {
            self.upload(target, &name, &sealed_path).await?;
        }
        Ok(name)
    }

    /// The key-store backups on any target, oldest first.
    pub async fn keystore_names(&self) -> Result<Vec<String>, BackupError> {
        let mut names = BTreeSet::new();
        for target in &self.targets {
            let listed = target
                .store
                .list(Some(&ObjectPath::from(KEYSTORE_DIR)))
                .try_collect::<Vec<_>>()
                .await
                .map_err(store_err(target))?;
            names.extend(
                listed
                    .into_iter()
                    .map(|m| m.location.to_string())
                    .filter(|n| n.ends_with(KEYSTORE_SUFFIX)),
            );
        }
        Ok(names.into_iter().collect())
    }

    /// After a restore where no live key store existed (the database was lost), the newest key-store backup is put
    /// back. Where one existed, its keys were kept as they are: a key an erasure destroyed stays destroyed.
    async fn restore_keystore(&self, work: &Path, live_existed: bool) -> Result<String, BackupError> {
        if live_existed {
            return Ok("the live data keys were kept".into());
        }
        let Some(name) = self.keystore_names().await?.pop() else {
            return Ok("no key-store backup: data sealed under the lost keys stays unreadable".into());
        };
        let fetched = work.join("keystore.age");
        let plain = work.join("keystore.json");
        let mut problems = Vec::new();
        for target in &self.targets {
            if let Err(error) = self.download(target, &name, Some(&fetched)).await {
                problems.push(error.to_string());
                continue;
            }
            let identity = self.keystore_identity.clone();
            let (fetched_c, plain_c) = (fetched.clone(), plain.clone());
            tokio::task::spawn_blocking(move || {
                crypt::open(&fetched_c, &plain_c, &identity, Progress::hidden())
            })
            .await
            .map_err(|e| BackupError::Io(e.to_string()))??;
            let bytes = std::fs::read(&plain).map_err(|e| BackupError::Io(e.to_string()))?;
            let _ = std::fs::remove_file(&plain);
            let rows: Vec<snapshot::KeyRow> =
                serde_json::from_slice(&bytes).map_err(|e| BackupError::Integrity(format!("{name}: {e}")))?;
            let added = self.engine.put_key_rows(&rows).await?;
            return Ok(format!("{added} data key(s) put back from {name}"));
        }
        Err(BackupError::NotFound(format!(
            "no readable copy of {name}: {}",
            problems.join("; ")
        )))
    }

    async fn upload(&self, target: &Target, name: &str, file: &Path) -> Result<(), BackupError> {
        let io_err = |e: std::io::Error| BackupError::Target {
            target: target.label.clone(),
            reason: format!("writing {name}: {e}"),
        };
        let mut input = tokio::fs::File::open(file).await.map_err(io_err)?;
        let len = input.metadata().await.map(|m| m.len()).unwrap_or(0);
        let bar = self.bar(len, "upload");
        let mut writer = object_store::buffered::BufWriter::new(target.store.clone(), ObjectPath::from(name));
        let mut buffer = vec![0u8; 1 << 20];
        loop {
            let n = input.read(&mut buffer).await.map_err(io_err)?;
            if n == 0 {
                break;
            }
            writer.write_all(&buffer[..n]).await.map_err(io_err)?;
            bar.inc(n as u64);
        }
        writer.shutdown().await.map_err(io_err)?;
        bar.finish();
        Ok(())
    }

    /// Reads an object, hashing it, into `out` when given.
    async fn download(
        &self,
        target: &Target,
        name: &str,
        out: Option<&Path>,
    ) -> Result<(String, u64), BackupError> {
        let result = target
            .store
            .get(&ObjectPath::from(name))
            .await
            .map_err(store_err(target))?;
        let bar = self.bar(if out.is_some() { result.meta.size } else { 0 }, "download");
        let bar = if out.is_some() { bar } else { Progress::hidden() };
        let mut file = match out {
            Some(path) => Some(
                tokio::fs::File::create(path)
                    .await
                    .map_err(|e| BackupError::Io(format!("{}: {e}", path.display())))?,
            ),
            None => None,
        };
        let mut digest = Context::new(&SHA256);
        let mut bytes = 0u64;
        let mut stream = result.into_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(store_err(target))?;
            digest.update(&chunk);
            bytes += chunk.len() as u64;
            bar.inc(chunk.len() as u64);
            if let Some(file) = file.as_mut() {
                file.write_all(&chunk)
                    .await
                    .map_err(|e| BackupError::Io(format!("downloading {name}: {e}")))?;
            }
        }
        if let Some(mut file) = file {
            file.flush().await.map_err(|e| BackupError::Io(e.to_string()))?;
            file.sync_all()
                .await
                .map_err(|e| BackupError::Io(e.to_string()))?;
        }
        bar.finish();
        Ok((crypt::hex(digest.finish().as_ref()), bytes))
    }

    async fn read_manifest(&self, target: &Target, object: &str) -> Result<Manifest, BackupError> {
        let name = manifest::manifest_name(object);
        let bytes = target
            .store
            .get(&ObjectPath::from(name.as_str()))
            .await
            .map_err(store_err(target))?
            .bytes()
            .await
            .map_err(store_err(target))?;
        Manifest::parse(&bytes, object, &self.identity)
    }

    /// Downloads `object` from `target` into `out` and checks it against its manifest.
    async fn fetch(&self, target: &Target, object: &str, out: &Path) -> Result<Manifest, BackupError> {
        let manifest = self.read_manifest(target, object).await?;
        let (sha, bytes) = self.download(target, object, Some(out)).await?;
        if sha != manifest.object_sha256 || bytes != manifest.object_bytes {
            return Err(BackupError::Integrity(format!(
                "{object} on {}: checksum {sha} ({bytes} bytes) differs from the manifest's {} ({} bytes)",
                target.label, manifest.object_sha256, manifest.object_bytes
            )));
        }
        Ok(manifest)
    }

    /// Decrypts a fetched object and checks the plaintext against the manifest.
    async fn decrypt(&self, object: &Path, out: &Path, manifest: &Manifest) -> Result<(), BackupError> {
        let len = std::fs::metadata(object).map(|m| m.len()).unwrap_or(0);
        let bar = self.bar(len, "decrypt");
        let identity = self.identity.clone();
        let (object_c, out_c, bar_c) = (object.to_path_buf(), out.to_path_buf(), bar.clone());
        let (sha, bytes) =
            tokio::task::spawn_blocking(move || crypt::open(&object_c, &out_c, &identity, bar_c))
                .await
                .map_err(|e| BackupError::Io(e.to_string()))??;
        bar.finish();
        if sha != manifest.snapshot_sha256 || bytes != manifest.snapshot_bytes {
            return Err(BackupError::Integrity(format!(
                "{}: the decrypted snapshot's checksum differs from the manifest",
                manifest.object
            )));
        }
        Ok(())
    }

    /// Every backup object name found on any target, oldest first.
    pub async fn names(&self) -> Result<Vec<String>, BackupError> {
        let mut names = BTreeSet::new();
        for target in &self.targets {
            for meta in self.objects(target).await? {
                let name = meta.location.to_string();
                if name.ends_with(manifest::OBJECT_SUFFIX) {
                    names.insert(name);
                }
            }
        }
        Ok(names.into_iter().collect())
    }

    async fn objects(&self, target: &Target) -> Result<Vec<object_store::ObjectMeta>, BackupError> {
        target
            .store
            .list(Some(&ObjectPath::from(manifest::DIR)))
            .try_collect::<Vec<_>>()
            .await
            .map_err(store_err(target))
    }

    /// Every backup on every target, with whether its copy there is intact.
    pub async fn list(&self) -> Result<Vec<Listing>, BackupError> {
        let mut listings = Vec::new();
        for target in &self.targets {
            let mut objects = self.objects(target).await?;
            objects.sort_by(|a, b| a.location.cmp(&b.location));
            for meta in objects {
                let object = meta.location.to_string();
                if !object.ends_with(manifest::OBJECT_SUFFIX) {
                    continue;
                }
                let verified = match self.read_manifest(target, &object).await {
                    Err(e) => Err(e.to_string()),
                    Ok(manifest) => match self.download(target, &object, None).await {
                        Ok((sha, bytes))
                            if sha == manifest.object_sha256 && bytes == manifest.object_bytes =>
                        {
                            Ok(())
                        }
                        Ok(_) => Err("checksum differs from the manifest".to_owned()),
                        Err(e) => Err(e.to_string()),
                    },
                };
                listings.push(Listing {
                    target: target.label.clone(),
                    created_at: manifest::created_at_of(&object),
                    object,
                    bytes: meta.size,
                    verified,
                });
            }
        }
        Ok(listings)
    }

    /// Deletes, on every target, the backups (objects and manifests) created strictly more than `retention_days`
    /// ago (BAK-2), and the key-store backups past `keystore_retention_days` once a fresh one is written (so the
    /// newest, which is always kept, holds no key destroyed before this call). Returns `(target, object)` of each
    /// deletion.
    pub async fn prune(&self) -> Result<Vec<(String, String)>, BackupError> {
        let retention =
            time::Duration::days(i64::try_from(self.config.retention_days).unwrap_or(i64::MAX / 86_400 / 2));
        let cutoff = self.clock.now() - retention;
        let mut deleted = self.refresh_keystore().await?;
        for target in &self.targets {
            for meta in self.objects(target).await? {
                let name = meta.location.to_string();
                let Some(created) = manifest::created_at_of(&name) else {
                    continue;
                };
                if created < cutoff {
                    target
                        .store
                        .delete(&meta.location)
                        .await
                        .map_err(store_err(target))?;
                    deleted.push((target.label.clone(), name));
                }
            }
        }
        Ok(deleted)
    }

    /// Writes a fresh key-store backup, then deletes those older than `keystore_retention_days`.
    pub async fn refresh_keystore(&self) -> Result<Vec<(String, String)>, BackupError> {
        let work = tempfile::tempdir().map_err(|e| BackupError::Io(format!("work directory: {e}")))?;
        self.backup_keystore(self.clock.now(), work.path()).await?;
        self.prune_keystore().await
    }

    /// Deletes key-store backups older than `keystore_retention_days`, always keeping the newest one.
    async fn prune_keystore(&self) -> Result<Vec<(String, String)>, BackupError> {
        let days = i64::try_from(self.config.keystore_retention_days).unwrap_or(7);
        let cutoff = self.clock.now() - time::Duration::days(days);
        let newest = self.keystore_names().await?.pop();
        let mut deleted = Vec::new();
        for target in &self.targets {
            let listed = target
                .store
                .list(Some(&ObjectPath::from(KEYSTORE_DIR)))
                .try_collect::<Vec<_>>()
                .await
                .map_err(store_err(target))?;
            for meta in listed {
                let name = meta.location.to_string();
                let created = manifest::created_at_of(&name);
                if Some(&name) != newest.as_ref() && created.is_some_and(|at| at < cutoff) {
                    target
                        .store
                        .delete(&meta.location)
                        .await
                        .map_err(store_err(target))?;
                    deleted.push((target.label.clone(), name));
                }
            }
        }
        Ok(deleted)
    }

    /// Restores `name` (default: the newest backup) over the live database, from the first target whose copy is
    /// intact. SQLite: the server must be stopped.
    pub async fn restore(&self, name: Option<&str>) -> Result<Restored, BackupError> {
        let object = match name {
            Some(name) => {
                let name = name.trim_start_matches('/');
                if name.starts_with(manifest::DIR) {
                    name.to_owned()
                } else {
                    format!("{}/{name}", manifest::DIR)
                }
            }
            None => self
                .names()
                .await?
                .pop()
                .ok_or_else(|| BackupError::NotFound("no backup on any target".into()))?,
        };
        let work = tempfile::tempdir().map_err(|e| BackupError::Io(format!("work directory: {e}")))?;
        let fetched = work.path().join("object");
        let mut problems = Vec::new();
        let mut found = None;
        for target in &self.targets {
            match self.fetch(target, &object, &fetched).await {
                Ok(manifest) => {
                    found = Some((target.label.clone(), manifest));
                    break;
                }
                Err(error) => {
                    tracing::warn!(target = %target.label, %error, "backup copy unusable, trying the next target");
                    problems.push(error.to_string());
                }
            }
        }
        let Some((from_target, manifest)) = found else {
            return Err(BackupError::NotFound(format!(
                "no intact copy of {object}: {}",
                problems.join("; ")
            )));
        };
        let plain = work.path().join("snapshot");
        self.decrypt(&fetched, &plain, &manifest).await?;
        let live_existed = self.engine.key_rows().await.ok().flatten().is_some();
        let bar = self.bar(0, "restore");
        let note = self
            .engine
            .restore(&plain, &manifest::stamp(self.clock.now()))
            .await;
        bar.finish();
        let keys = self.restore_keystore(work.path(), live_existed).await?;
        Ok(Restored {
            object,
            from_target,
            note: format!("{}; {keys}", note?),
        })
    }

    /// A restore test of the newest backup: every target's copy checked against the manifest, decrypted,
    /// restored into a scratch database, row counts compared with the manifest, and `checks` run (BAK-4).
    pub async fn verify(&self, checks: &[Arc<dyn ScratchCheck>]) -> Result<VerifyReport, BackupError> {
        let object = self
            .names()
            .await?
            .pop()
            .ok_or_else(|| BackupError::NotFound("no backup on any target".into()))?;
        let work = tempfile::tempdir().map_err(|e| BackupError::Io(format!("work directory: {e}")))?;
        let mut report = VerifyReport {
            object: object.clone(),
            checks: Vec::new(),
            problems: Vec::new(),
        };
        let mut good: Option<(PathBuf, Manifest)> = None;
        for (i, target) in self.targets.iter().enumerate() {
            let path = work.path().join(format!("object-{i}"));
            match self.fetch(target, &object, &path).await {
                Ok(manifest) => {
                    report.checks.push(format!("{}: checksum ok", target.label));
                    if good.is_none() {
                        good = Some((path, manifest));
                    } else {
                        let _ = std::fs::remove_file(&path);
                    }
                }
                Err(error) => report.problems.push(error.to_string()),
            }
        }
        let Some((fetched, manifest)) = good else {
            return Ok(report);
        };
        let plain = work.path().join("snapshot");
        if let Err(error) = self.decrypt(&fetched, &plain, &manifest).await {
            report.problems.push(error.to_string());
            return Ok(report);
        }
        report.checks.push("decrypted, snapshot checksum ok".into());
        let scratch = match self.engine.scratch(&plain).await {
            Ok(scratch) => scratch,
            Err(error) => {
                report
                    .problems
                    .push(format!("restore into a scratch database: {error}"));
                return Ok(report);
            }
        };
        match self.engine.count_rows(&scratch).await {
            Ok(counts) if counts == manifest.tables => {
                report.checks.push(format!(
                    "row counts of {} tables match ({} rows)",
                    counts.len(),
                    counts.values().sum::<i64>()
                ));
            }
            Ok(counts) => {
                let differing: Vec<String> = manifest
                    .tables
                    .keys()
                    .chain(counts.keys())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .filter(|t| manifest.tables.get(*t) != counts.get(*t))
                    .map(|t| format!("{t}: {:?} != {:?}", counts.get(t), manifest.tables.get(t)))
                    .collect();
                report.problems.push(format!(
                    "row counts differ from the manifest: {}",
                    differing.join(", ")
                ));
            }
            Err(error) => report.problems.push(format!("counting rows: {error}")),
        }
        let view = ScratchDatabase {
            engine: scratch.engine,
            url: &scratch.url,
            manifest: &manifest,
        };
        for check in checks {
            match check.check(&view).await {
                Ok(summary) => report.checks.push(format!("{}: {summary}", check.name())),
                Err(problem) => report.problems.push(format!("{}: {problem}", check.name())),
            }
        }
        if let Err(error) = scratch.discard().await {
            tracing::warn!(%error, "the scratch database could not be dropped");
        }
        Ok(report)
    }

    async fn alert(&self, store: &dyn Store, kind: &str, detail: &str) {
        tracing::error!(alert = kind, %detail, "backup alert");
        if let Err(error) = store.raise_alert(None, kind, detail, self.clock.now()).await {
            tracing::error!(%error, alert = kind, "the alert could not be recorded");
        }
    }

    /// [`Backups::create`], recorded in `backup_runs`; a failure raises `backup.failed`.
    pub async fn run_backup(&self, store: &dyn Store) -> Result<Created, BackupError> {
        let started = self.clock.now();
        let outcome = self.create().await;
        let (object, ok, detail) = match &outcome {
            Ok(created) => (
                created.object.clone(),
                true,
                format!(
                    "{} bytes to {} targets, {} tables",
                    created.manifest.object_bytes,
                    created.targets.len(),
                    created.manifest.tables.len()
                ),
            ),
            Err(error) => ("-".to_owned(), false, error.to_string()),
        };
        store
            .record_backup_run(
                BackupRunKind::Backup,
                &object,
                ok,
                &detail,
                started,
                self.clock.now(),
            )
            .await?;
        if !ok {
            self.alert(store, ALERT_BACKUP_FAILED, &detail).await;
        }
        outcome
    }

    /// [`Backups::verify`], recorded in `backup_runs`; a failure raises `backup.restore-test-failed`.
    pub async fn run_verify(
        &self,
        store: &dyn Store,
        checks: &[Arc<dyn ScratchCheck>],
    ) -> Result<VerifyReport, BackupError> {
        let started = self.clock.now();
        let report = match self.verify(checks).await {
            Ok(report) => report,
            Err(error) => VerifyReport {
                object: "-".into(),
                checks: Vec::new(),
                problems: vec![error.to_string()],
            },
        };
        store
            .record_backup_run(
                BackupRunKind::RestoreTest,
                &report.object,
                report.ok(),
                &report.detail(),
                started,
                self.clock.now(),
            )
            .await?;
        self.audit_restore_test(store, &report).await;
        if !report.ok() {
            self.alert(
                store,
                ALERT_RESTORE_TEST_FAILED,
                &format!("{}: {}", report.object, report.detail()),
            )
            .await;
        }
        Ok(report)
    }

    /// BAK-4: the restore test's result goes into every partner's audit chain (their data was what was tested).
    async fn audit_restore_test(&self, store: &dyn Store, report: &VerifyReport) {
        let entry = comanda_store::identity::AuditEntry::new("backup.restore_tested")
            .target(report.object.clone())
            .detail(format!(
                "{} {}",
                if report.ok() { "ok" } else { "FAILED" },
                report.detail()
            ));
        let now = self.clock.now();
        let partners = match store.audited_partners().await {
            Ok(partners) => partners,
            Err(error) => {
                tracing::error!(%error, "the restore test could not be written to the audit log");
                return;
            }
        };
        for partner in partners {
            let scope = comanda_security::TenantScope::from_proof(
                &comanda_security::tenancy::JobAuthority::new("restore-test", partner),
            );
            if let Err(error) = store.append_audit(&scope, &entry, now).await {
                tracing::error!(%error, %partner, "the restore test could not be written to the audit log");
            }
        }
    }

    /// Raises `backup.restore-test-stale` (at most once a day) when the last successful restore test — or, when
    /// there never was one, the first backup run — is older than `restore_test_max_age_days` (BAK-4).
    pub async fn check_restore_test_age(&self, store: &dyn Store) -> Result<Staleness, BackupError> {
        let now = self.clock.now();
        let max_age =
            time::Duration::days(i64::try_from(self.config.restore_test_max_age_days).unwrap_or(31));
        let last = store.last_backup_run(BackupRunKind::RestoreTest, true).await?;
        let since = match &last {
            Some(run) => Some(run.finished_at),
            None => store.first_backup_run().await?.map(|run| run.started_at),
        };
        let stale = since.is_some_and(|at| now - at > max_age);
        let mut alerted = false;
        if stale {
            let recent = store.alerts(now - time::Duration::days(1)).await?;
            if !recent.iter().any(|a| a.kind == ALERT_RESTORE_TEST_STALE) {
                let detail = match &last {
                    Some(run) => format!("the last successful restore test finished at {}", run.finished_at),
                    None => "no restore test has succeeded since backups began".to_owned(),
                };
                self.alert(store, ALERT_RESTORE_TEST_STALE, &detail).await;
                alerted = true;
            }
        }
        Ok(Staleness {
            last_success: last.map(|run| run.finished_at),
            stale,
            alerted,
        })
    }

    /// One pass of the schedule: a backup when `every_hours` have passed since the last one (an hour after a
    /// failure), pruning after it; a restore test when `verify_every_days` have passed; the staleness alert.
    pub async fn scheduled_step(&self, store: &dyn Store, checks: &[Arc<dyn ScratchCheck>]) -> StepReport {
        let mut report = StepReport::default();
        let now = self.clock.now();
        let hours = |h: u64| time::Duration::hours(i64::try_from(h).unwrap_or(24));
        let due = |last: &Option<comanda_store::backup_runs::BackupRun>, every: time::Duration| match last {
            None => true,
            Some(run) if run.ok => now - run.finished_at >= every,
            Some(run) => now - run.finished_at >= every.min(time::Duration::hours(1)),
        };
        match store.last_backup_run(BackupRunKind::Backup, false).await {
            Ok(last) if due(&last, hours(self.config.every_hours)) => {
                report.backed_up = Some(match self.run_backup(store).await {
                    Ok(created) => Ok(created.object),
                    Err(error) => Err(error.to_string()),
                });
                if matches!(report.backed_up, Some(Ok(_))) {
                    match self.prune().await {
                        Ok(deleted) => report.pruned = deleted.len(),
                        Err(error) => tracing::error!(%error, "pruning old backups failed"),
                    }
                } else {
                    // Old backups stay while new ones fail, but the key store's window does not wait on them: a
                    // fresh key-store backup is written and the ones past `keystore_retention_days` go, so an
                    // erased key leaves the key-store backups in time even while database backups fail (PRIV-1).
                    match self.refresh_keystore().await {
                        Ok(deleted) => report.pruned = deleted.len(),
                        Err(error) => tracing::error!(%error, "refreshing the key-store backups failed"),
                    }
                }
            }
            Ok(_) => {}
            Err(error) => tracing::error!(%error, "reading the backup schedule failed"),
        }
        let verify_every = hours(self.config.verify_every_days.saturating_mul(24));
        let has_backup = matches!(
            store.last_backup_run(BackupRunKind::Backup, true).await,
            Ok(Some(_))
        );
        match store.last_backup_run(BackupRunKind::RestoreTest, false).await {
            Ok(last) if has_backup && due(&last, verify_every) => {
                report.verified = Some(match self.run_verify(store, checks).await {
                    Ok(r) if r.ok() => Ok(r.object),
                    Ok(r) => Err(r.detail()),
                    Err(error) => Err(error.to_string()),
                });
            }
            Ok(_) => {}
            Err(error) => tracing::error!(%error, "reading the restore-test schedule failed"),
        }
        match self.check_restore_test_age(store).await {
            Ok(staleness) => report.stale = staleness.stale,
            Err(error) => tracing::error!(%error, "checking the restore-test age failed"),
        }
        report
    }

    /// Runs [`Backups::scheduled_step`] a minute after start and every ten minutes after, until `stop`.
    pub fn spawn_scheduler(
        self: Arc<Self>,
        store: Arc<dyn Store>,
        checks: Vec<Arc<dyn ScratchCheck>>,
        mut stop: watch::Receiver<bool>,
    ) {
        tokio::spawn(async move {
            let start = tokio::time::Instant::now() + Duration::from_secs(60);
            let mut ticker = tokio::time::interval_at(start, Duration::from_secs(600));
            loop {
                tokio::select! {
                    _ = ticker.tick() => {
                        let report = self.scheduled_step(store.as_ref(), &checks).await;
                        if report.backed_up.is_some() || report.verified.is_some() {
                            tracing::info!(?report, "backup schedule step");
                        }
                    }
                    _ = stop.changed() => return,
                }
            }
        });
    }
}
