//! [`Backups`]: the configured targets and keys, taking a backup (and the person-key store's own), listing and
//! pruning what the targets hold, and reading an object back.

use crate::*;

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

/// Targets that could not be listed while reading backups: each is skipped with a warning, since another target's
/// copy serves a restore (docs/backups.md); the reading fails only when every target failed.
#[derive(Default)]
struct Unreachable {
    first: Option<BackupError>,
    count: usize,
}

impl Unreachable {
    fn skip<T>(&mut self, target: &Target, listed: Result<T, BackupError>) -> Option<T> {
        match listed {
            Ok(listed) => Some(listed),
            Err(error) => {
                tracing::warn!(target = %target.label, %error, "backup target not listed; reading the others");
                self.count += 1;
                self.first.get_or_insert(error);
                None
            }
        }
    }

    fn unless_all(self, targets: usize) -> Result<(), BackupError> {
        match self.first {
            Some(error) if self.count == targets => Err(error),
            _ => Ok(()),
        }
    }
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

    pub(crate) fn detail(&self) -> String {
        if self.ok() {
            self.checks.join("; ")
        } else {
            self.problems.join("; ")
        }
    }

    /// What a partner's audit log says of the test: that it passed or failed and what was checked, without the
    /// operator's detail (the targets' paths and buckets, other partners' chain counts, error texts), which stays in
    /// `backup_runs` and the alert.
    pub(crate) fn partner_detail(&self) -> String {
        if self.ok() {
            "ok: the backup was restored into a scratch database and passed every check (checksums on every copy, \
             decryption, row counts, reading every table, audit chains)"
                .into()
        } else {
            "FAILED: the operator was alerted".into()
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
    pub(crate) config: BackupConfig,
    pub(crate) engine: Box<dyn snapshot::Engine>,
    pub(crate) identity: age::x25519::Identity,
    /// The person-key store's own backup key: never the ordinary backup key (PRIV-1).
    pub(crate) keystore_identity: age::x25519::Identity,
    pub(crate) targets: Vec<Target>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) progress: bool,
    /// Held while a backup is written (`create`): two runs on one machine (the schedule and an operator's command)
    /// take turns instead of writing the same names over each other and both failing.
    pub(crate) run_lock: PathBuf,
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

pub(crate) fn store_err(target: &Target) -> impl Fn(object_store::Error) -> BackupError + '_ {
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
            .map(|url| Target::open(url, &setup.config.s3, setup.config.targets.is_empty()))
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
            run_lock: setup.data_dir.join("backup.lock"),
        })
    }

    /// Waits for any other backup run on this machine to finish; the lock holds until the returned file is dropped
    /// (or the process ends, however it ends).
    async fn take_turn(&self) -> Result<std::fs::File, BackupError> {
        let path = self.run_lock.clone();
        tokio::task::spawn_blocking(move || {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(|e| BackupError::Io(format!("{}: {e}", path.display())))?;
            file.lock()
                .map_err(|e| BackupError::Io(format!("{}: {e}", path.display())))?;
            Ok(file)
        })
        .await
        .map_err(|e| BackupError::Io(e.to_string()))?
    }

    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// The public half of the backup key.
    pub fn recipient(&self) -> String {
        self.identity.to_public().to_string()
    }

    pub(crate) fn bar(&self, len: u64, message: &str) -> Progress {
        Progress::bytes(self.progress, len, message)
    }

    /// Takes a snapshot, seals it and writes it to every target, reading each copy back. Successful only when
    /// every target holds an intact copy.
    pub async fn create(&self) -> Result<Created, BackupError> {
        let _turn = self.take_turn().await?;
        // A run that waited its turn may start in the second the one before it finished, whose name (to the
        // second) it would take: it waits for the next second once.
        let name_taken = |object: String| async move {
            self.targets[0]
                .store
                .head(&ObjectPath::from(object.as_str()))
                .await
                .is_ok()
        };
        if name_taken(manifest::object_name(
            self.clock.now(),
            self.engine.engine().name(),
        ))
        .await
        {
            tokio::time::sleep(std::time::Duration::from_millis(1_000)).await;
        }
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
        if let Err(error) = self
            .write_everywhere(
                &object,
                &manifest_name,
                &manifest_json,
                &sealed_path,
                (&sealed.object_sha256, sealed.object_bytes),
            )
            .await
        {
            // A backup missing on any target is a failed one (docs/backups.md): what reached the others goes too, or
            // `list` would show it verified and `restore` would take it as the newest (a copy that cannot be deleted
            // is still passed over: only a backup on every answering target is one).
            for target in &self.targets {
                for name in [&object, &manifest_name] {
                    match target.store.delete(&ObjectPath::from(name.as_str())).await {
                        Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                        Err(cleanup) => {
                            tracing::warn!(target = %target.label, %cleanup, "a failed backup's copy stays")
                        }
                    }
                }
            }
            return Err(error);
        }
        self.backup_keystore(now, work.path()).await?;
        Ok(Created {
            object,
            manifest,
            targets: self.targets.iter().map(|t| t.label.clone()).collect(),
        })
    }

    /// Writes the object and its manifest to every target, each read back and compared.
    async fn write_everywhere(
        &self,
        object: &str,
        manifest_name: &str,
        manifest_json: &[u8],
        sealed_path: &Path,
        (object_sha256, object_bytes): (&str, u64),
    ) -> Result<(), BackupError> {
        for target in &self.targets {
            self.upload(target, object, sealed_path).await?;
            target
                .store
                .put(&ObjectPath::from(manifest_name), manifest_json.to_vec().into())
                .await
                .map_err(store_err(target))?;
            let (sha, bytes) = self.download(target, object, None).await?;
            if sha != object_sha256 || bytes != object_bytes {
                return Err(BackupError::Target {
                    target: target.label.clone(),
                    reason: format!("{object} read back differs from what was written"),
                });
            }
            let back = target
                .store
                .get(&ObjectPath::from(manifest_name))
                .await
                .map_err(store_err(target))?
                .bytes()
                .await
                .map_err(store_err(target))?;
            if back.as_ref() != manifest_json {
                return Err(BackupError::Target {
                    target: target.label.clone(),
                    reason: format!("{manifest_name} read back differs from what was written"),
                });
            }
        }
        Ok(())
    }

    /// The person-key store, backed up apart (PRIV-1): its own object under `keystore/`, encrypted to its own key,
    /// kept `keystore_retention_days` (7). The ordinary backups never hold person keys, so an erasure (which
    /// deletes the person's key) cannot be undone by restoring one of them.
    pub(crate) async fn backup_keystore(
        &self,
        now: OffsetDateTime,
        work: &Path,
    ) -> Result<String, BackupError> {
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
        let mut unreachable = Unreachable::default();
        for target in &self.targets {
            let listed = target
                .store
                .list(Some(&ObjectPath::from(KEYSTORE_DIR)))
                .try_collect::<Vec<_>>()
                .await
                .map_err(store_err(target));
            let Some(listed) = unreachable.skip(target, listed) else {
                continue;
            };
            names.extend(
                listed
                    .into_iter()
                    .map(|m| m.location.to_string())
                    .filter(|n| n.ends_with(KEYSTORE_SUFFIX)),
            );
        }
        unreachable.unless_all(self.targets.len())?;
        Ok(names.into_iter().collect())
    }

    /// The newest key-store backup, opened, for a restore where no live key store exists (the database was lost):
    /// `None` when there is none. Read before the database is replaced, so that a key-store backup this machine
    /// cannot open (its `keystore-backup.key` is not the one that sealed it) stops the restore with the live
    /// database untouched: swapped first, the restored database then looked like a live one with no keys, and a
    /// retry "kept" those none.
    pub(crate) async fn read_keystore(
        &self,
        work: &Path,
    ) -> Result<Option<(String, Vec<snapshot::KeyRow>)>, BackupError> {
        let Some(name) = self.keystore_names().await?.pop() else {
            return Ok(None);
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
            .map_err(|e| BackupError::Io(e.to_string()))?
            .map_err(|error| {
                let reason = match error {
                    BackupError::Crypto(reason) => reason,
                    other => other.to_string(),
                };
                BackupError::Tool(format!(
                    "the key-store backup {name} does not open with this machine's keystore-backup.key ({reason}): \
                     copy the keystore-backup.key kept with the backup key (it is a second, separate key) and \
                     restore again; nothing was restored"
                ))
            })?;
            let bytes = std::fs::read(&plain).map_err(|e| BackupError::Io(e.to_string()))?;
            let _ = std::fs::remove_file(&plain);
            let rows: Vec<snapshot::KeyRow> =
                serde_json::from_slice(&bytes).map_err(|e| BackupError::Integrity(format!("{name}: {e}")))?;
            return Ok(Some((name, rows)));
        }
        Err(BackupError::NotFound(format!(
            "no readable copy of {name}: {}; nothing was restored",
            problems.join("; ")
        )))
    }

    pub(crate) async fn upload(&self, target: &Target, name: &str, file: &Path) -> Result<(), BackupError> {
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
    pub(crate) async fn download(
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

    pub(crate) async fn read_manifest(&self, target: &Target, object: &str) -> Result<Manifest, BackupError> {
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
    pub(crate) async fn fetch(
        &self,
        target: &Target,
        object: &str,
        out: &Path,
    ) -> Result<Manifest, BackupError> {
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
    pub(crate) async fn decrypt(
        &self,
        object: &Path,
        out: &Path,
        manifest: &Manifest,
    ) -> Result<(), BackupError> {
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

    /// Every backup object name found on every target that answered, oldest first: one missing on an answering
    /// target is a failed backup, never the newest one a restore or a restore test takes.
    pub async fn names(&self) -> Result<Vec<String>, BackupError> {
        let mut names: Option<BTreeSet<String>> = None;
        let mut unreachable = Unreachable::default();
        for target in &self.targets {
            let Some(objects) = unreachable.skip(target, self.objects(target).await) else {
                continue;
            };
            let here: BTreeSet<String> = objects
                .into_iter()
                .map(|meta| meta.location.to_string())
                .filter(|name| name.ends_with(manifest::OBJECT_SUFFIX))
                .collect();
            names = Some(match names {
                None => here,
                Some(before) => before.intersection(&here).cloned().collect(),
            });
        }
        unreachable.unless_all(self.targets.len())?;
        Ok(names.unwrap_or_default().into_iter().collect())
    }

    pub(crate) async fn objects(
        &self,
        target: &Target,
    ) -> Result<Vec<object_store::ObjectMeta>, BackupError> {
        target
            .store
            .list(Some(&ObjectPath::from(manifest::DIR)))
            .try_collect::<Vec<_>>()
            .await
            .map_err(store_err(target))
    }

    /// Every backup on every target, with whether its copy there is intact. A target that cannot be listed is one
    /// listing of its own, not verified, saying why (the other targets' copies are why there are several); an
    /// error only when no target answers.
    pub async fn list(&self) -> Result<Vec<Listing>, BackupError> {
        let mut listings = Vec::new();
        let mut unreachable = Unreachable::default();
        let mut answered: Vec<(String, BTreeSet<String>)> = Vec::new();
        for target in &self.targets {
            let listed = self.objects(target).await;
            if let Err(error) = &listed {
                listings.push(Listing {
                    target: target.label.clone(),
                    object: "(target not listed)".into(),
                    created_at: None,
                    bytes: 0,
                    verified: Err(error.to_string()),
                });
            }
            let Some(mut objects) = unreachable.skip(target, listed) else {
                continue;
            };
            objects.sort_by(|a, b| a.location.cmp(&b.location));
            answered.push((target.label.clone(), BTreeSet::new()));
            for meta in objects {
                let object = meta.location.to_string();
                if !object.ends_with(manifest::OBJECT_SUFFIX) {
                    continue;
                }
                if let Some((_, held)) = answered.last_mut() {
                    held.insert(object.clone());
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
        unreachable.unless_all(self.targets.len())?;
        // A backup one answering target lacks failed there (a full disk, a write refused): not a verified backup.
        let everywhere: BTreeSet<&String> = answered.iter().flat_map(|(_, held)| held).collect();
        for (label, held) in &answered {
            for object in everywhere.iter().filter(|object| !held.contains(**object)) {
                listings.push(Listing {
                    target: label.clone(),
                    created_at: manifest::created_at_of(object),
                    object: (*object).clone(),
                    bytes: 0,
                    verified: Err("missing on this target: a backup missing on any target failed".into()),
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
            let objects = self.objects(target).await?;
            // The newest backup stays, however old: when backups have been failing for longer than the retention,
            // pruning would otherwise delete the last copy there is (its object and manifest share its instant).
            let newest = objects
                .iter()
                .filter_map(|meta| manifest::created_at_of(meta.location.as_ref()))
                .max();
            for meta in objects {
                let name = meta.location.to_string();
                let Some(created) = manifest::created_at_of(&name) else {
                    continue;
                };
                if created < cutoff && Some(created) != newest {
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
    pub(crate) async fn prune_keystore(&self) -> Result<Vec<(String, String)>, BackupError> {
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
}
