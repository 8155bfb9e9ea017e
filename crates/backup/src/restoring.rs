//! Restoring a backup over the live database, and the restore test into a scratch database.

use crate::*;

impl Backups {
    /// Restores `name` (default: the newest backup) over the live database, from the first target whose copy is
    /// intact. The server must be stopped: refused while it runs (SQLite: its file lock; PostgreSQL: any other
    /// session on the database).
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
            None => {
                // "The newest" needs every target's list: with one not answering, the newest may be on it and an
                // older backup would be restored without a word. The operator names the one to restore instead.
                for target in &self.targets {
                    if let Err(error) = self.objects(target).await {
                        return Err(BackupError::NotFound(format!(
                            "backup target {} could not be listed ({error}), so which backup is the newest is not \
                             known: name the backup to restore (`comanda backup list` shows the others' copies)",
                            target.label
                        )));
                    }
                }
                self.names().await?.pop().ok_or_else(|| {
                    BackupError::NotFound(
                        "no backup is on every target that answered: `comanda backup list` shows each copy; \
                             restore one by its name"
                            .into(),
                    )
                })?
            }
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
            // At 3 a.m. the way on is the backup before it: named, for `restore <name>`.
            let older: Vec<String> = self
                .names()
                .await
                .unwrap_or_default()
                .into_iter()
                .filter(|name| name.as_str() < object.as_str())
                .rev()
                .take(3)
                .map(|name| name.trim_start_matches(&format!("{}/", manifest::DIR)).to_owned())
                .collect();
            let next = match older.first() {
                Some(_) => format!(
                    "; the backups before it: {} (restore one by name: `comanda backup restore <name> --yes`)",
                    older.join(", ")
                ),
                None => String::new(),
            };
            return Err(BackupError::NotFound(format!(
                "no intact copy of {object}: {}{next}",
                problems.join("; ")
            )));
        };
        // A SQLite backup cannot go into PostgreSQL nor the other way: said by name, before anything is opened.
        let here = self.engine.engine().name();
        if manifest.engine != here {
            return Err(BackupError::Tool(format!(
                "{object} is a {} backup and this machine's database is {here}: restore it with the configuration of \
                 a {} installation; nothing was restored",
                manifest.engine, manifest.engine
            )));
        }
        let plain = work.path().join("snapshot");
        self.decrypt(&fetched, &plain, &manifest).await?;
        // A live key store is kept (keys destroyed since the backup stay destroyed) unless there is none: no
        // database, or one nobody ever registered in, as `comanda backup list` leaves a new machine's (its empty
        // key tables once sent every member's data key away and nobody could sign in).
        let live_existed = self.engine.key_rows().await.ok().flatten().is_some()
            && self.engine.holds_partners().await.unwrap_or(true);
        // Where the key store goes back too, it is opened before anything is replaced (`read_keystore`).
        let keystore = match live_existed {
            true => None,
            false => Some(self.read_keystore(work.path()).await?),
        };
        let bar = self.bar(0, "restore");
        let note = self
            .engine
            .restore(&plain, &manifest::stamp(self.clock.now()))
            .await;
        bar.finish();
        let note = note?;
        let keys = match keystore {
            None => "the live data keys were kept".to_owned(),
            Some(None) => "no key-store backup: data sealed under the lost keys stays unreadable".to_owned(),
            Some(Some((name, rows))) => {
                let added = self.engine.put_key_rows(&rows).await?;
                format!("{added} data key(s) put back from {name}")
            }
        };
        // A copy skipped on the way is said where the operator reads, not only in a log line.
        let skipped = problems
            .iter()
            .map(|problem| format!("; a copy was skipped: {problem}"))
            .collect::<String>();
        Ok(Restored {
            object,
            from_target,
            note: format!("{note}; {keys}{skipped}"),
        })
    }

    /// A restore test of the newest backup: every target's copy checked against the manifest, decrypted,
    /// restored into a scratch database, row counts compared with the manifest, and `checks` run (BAK-4).
    pub async fn verify(&self, checks: &[Arc<dyn ScratchCheck>]) -> Result<VerifyReport, BackupError> {
        let object = self.names().await?.pop().ok_or_else(|| {
            BackupError::NotFound(
                "no backup is on every target that answered: `comanda backup list` shows each copy; \
                             restore one by its name"
                    .into(),
            )
        })?;
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
}
