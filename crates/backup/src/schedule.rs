//! What `comanda serve` runs on its schedule: a backup when one is due, the restore test, alerts, and the age of the
//! last restore test.

use crate::*;

impl Backups {
    pub(crate) async fn alert(&self, store: &dyn Store, kind: &str, detail: &str) {
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

    /// BAK-4: the restore test's result goes into every partner's audit chain (their data was what was tested), in
    /// words that name no path, bucket or other partner.
    pub(crate) async fn audit_restore_test(&self, store: &dyn Store, report: &VerifyReport) {
        let entry = comanda_store::identity::AuditEntry::new("backup.restore_tested")
            .target(report.object.clone())
            .detail(report.partner_detail());
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

    /// Runs [`Backups::scheduled_step`] a minute after start (sooner if `schedule_check_secs` is shorter) and
    /// every `schedule_check_secs` after (ten minutes by default), until `stop`.
    pub fn spawn_scheduler(
        self: Arc<Self>,
        store: Arc<dyn Store>,
        checks: Vec<Arc<dyn ScratchCheck>>,
        mut stop: watch::Receiver<bool>,
    ) {
        tokio::spawn(async move {
            let every = Duration::from_secs(self.config.schedule_check_secs.max(1));
            let start = tokio::time::Instant::now() + every.min(Duration::from_secs(60));
            let mut ticker = tokio::time::interval_at(start, every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
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
