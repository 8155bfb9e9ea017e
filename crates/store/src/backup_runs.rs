//! The record of backups and restore tests (BAK-4): what ran, on which object, with what outcome. Platform data,
//! never a partner's: object names, counts and checksums only. Both engines implement [`BackupRunStore`] with
//! `backup_runs_sql.rs`.

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreResult;

stored_enum! {
    /// What a run was.
    pub enum BackupRunKind {
        /// `comanda backup create` (scheduled or by hand).
        Backup = "backup",
        /// `comanda backup verify`: a restore into a scratch database with its checks.
        RestoreTest = "restore-test",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupRun {
    pub id: Uuid,
    pub kind: String,
    /// The backup object's name (`backups/2026-11-23T12-00-00Z-sqlite.cmdb.age`), or `-` when none was made.
    pub object: String,
    pub ok: bool,
    /// What was checked, or why it failed; no personal data.
    pub detail: String,
    pub started_at: OffsetDateTime,
    pub finished_at: OffsetDateTime,
}

#[async_trait]
pub trait BackupRunStore: Send + Sync {
    async fn record_backup_run(
        &self,
        kind: BackupRunKind,
        object: &str,
        ok: bool,
        detail: &str,
        started_at: OffsetDateTime,
        finished_at: OffsetDateTime,
    ) -> StoreResult<BackupRun>;

    /// The latest run of this kind (by finish time), only successful ones when `ok_only`.
    async fn last_backup_run(&self, kind: BackupRunKind, ok_only: bool) -> StoreResult<Option<BackupRun>>;

    /// The first run ever recorded, of any kind (when backups began on this database).
    async fn first_backup_run(&self) -> StoreResult<Option<BackupRun>>;
}
