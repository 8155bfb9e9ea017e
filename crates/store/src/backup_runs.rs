//! The record of backups and restore tests (BAK-4): what ran, on which object, with what outcome. Platform data,
//! never a partner's: object names, counts and checksums only. Both engines implement [`BackupRunStore`] here.

use async_trait::async_trait;
use sqlx::Row;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreResult;
use crate::postgres::PgStore;
use crate::records::parse_uuid;
use crate::sqlite::SqliteStore;

/// What a run was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupRunKind {
    /// `comanda backup create` (scheduled or by hand).
    Backup,
    /// `comanda backup verify`: a restore into a scratch database with its checks.
    RestoreTest,
}

impl BackupRunKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BackupRunKind::Backup => "backup",
            BackupRunKind::RestoreTest => "restore-test",
        }
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

const LAST_PG: &str =
    "SELECT * FROM backup_runs WHERE kind = $1 AND (ok OR NOT $2) ORDER BY finished_at DESC, id DESC LIMIT 1";
const LAST_SQLITE: &str =
    "SELECT * FROM backup_runs WHERE kind = ?1 AND (ok OR NOT ?2) ORDER BY finished_at DESC, id DESC LIMIT 1";
const FIRST: &str = "SELECT * FROM backup_runs ORDER BY started_at, id LIMIT 1";

#[async_trait]
impl BackupRunStore for SqliteStore {
    async fn record_backup_run(
        &self,
        kind: BackupRunKind,
        object: &str,
        ok: bool,
        detail: &str,
        started_at: OffsetDateTime,
        finished_at: OffsetDateTime,
    ) -> StoreResult<BackupRun> {
        let row = sqlx::query(
            "INSERT INTO backup_runs (id, kind, object, ok, detail, started_at, finished_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING *",
        )
        .bind(Uuid::now_v7().to_string())
        .bind(kind.as_str())
        .bind(object)
        .bind(ok)
        .bind(detail)
        .bind(started_at)
        .bind(finished_at)
        .fetch_one(&self.pool)
        .await?;
        sqlite_run(&row)
    }

    async fn last_backup_run(&self, kind: BackupRunKind, ok_only: bool) -> StoreResult<Option<BackupRun>> {
        let row = sqlx::query(LAST_SQLITE)
            .bind(kind.as_str())
            .bind(ok_only)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(sqlite_run).transpose()
    }

    async fn first_backup_run(&self) -> StoreResult<Option<BackupRun>> {
        let row = sqlx::query(FIRST).fetch_optional(&self.pool).await?;
        row.as_ref().map(sqlite_run).transpose()
    }
}

fn sqlite_run(row: &sqlx::sqlite::SqliteRow) -> StoreResult<BackupRun> {
    Ok(BackupRun {
        id: parse_uuid(row.try_get("id")?)?,
        kind: row.try_get("kind")?,
        object: row.try_get("object")?,
        ok: row.try_get("ok")?,
        detail: row.try_get("detail")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

#[async_trait]
impl BackupRunStore for PgStore {
    async fn record_backup_run(
        &self,
        kind: BackupRunKind,
        object: &str,
        ok: bool,
        detail: &str,
        started_at: OffsetDateTime,
        finished_at: OffsetDateTime,
    ) -> StoreResult<BackupRun> {
        let row = sqlx::query(
            "INSERT INTO backup_runs (id, kind, object, ok, detail, started_at, finished_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *",
        )
        .bind(Uuid::now_v7())
        .bind(kind.as_str())
        .bind(object)
        .bind(ok)
        .bind(detail)
        .bind(started_at)
        .bind(finished_at)
        .fetch_one(&self.pool)
        .await?;
        pg_run(&row)
    }

    async fn last_backup_run(&self, kind: BackupRunKind, ok_only: bool) -> StoreResult<Option<BackupRun>> {
        let row = sqlx::query(LAST_PG)
            .bind(kind.as_str())
            .bind(ok_only)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(pg_run).transpose()
    }

    async fn first_backup_run(&self) -> StoreResult<Option<BackupRun>> {
        let row = sqlx::query(FIRST).fetch_optional(&self.pool).await?;
        row.as_ref().map(pg_run).transpose()
    }
}

fn pg_run(row: &sqlx::postgres::PgRow) -> StoreResult<BackupRun> {
    Ok(BackupRun {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        object: row.try_get("object")?,
        ok: row.try_get("ok")?,
        detail: row.try_get("detail")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}
