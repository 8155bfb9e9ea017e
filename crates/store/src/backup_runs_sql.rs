// The record of backup runs, written once for both engines and `include!`d by `sqlite` and `postgres`. Platform data:
// no tenant transaction.

use crate::backup_runs::{BackupRun, BackupRunKind, BackupRunStore};

fn backup_run_from_row(row: &DbRow) -> StoreResult<BackupRun> {
    Ok(BackupRun {
        id: uuid_col(row, "id")?,
        kind: row.try_get("kind")?,
        object: row.try_get("object")?,
        ok: row.try_get("ok")?,
        detail: row.try_get("detail")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

#[async_trait]
impl BackupRunStore for Engine {
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
        .bind(h(uuid::Uuid::now_v7()))
        .bind(kind.as_str())
        .bind(object)
        .bind(ok)
        .bind(detail)
        .bind(ts(started_at))
        .bind(ts(finished_at))
        .fetch_one(&self.pool)
        .await?;
        backup_run_from_row(&row)
    }

    async fn last_backup_run(&self, kind: BackupRunKind, ok_only: bool) -> StoreResult<Option<BackupRun>> {
        let row = sqlx::query(
            "SELECT * FROM backup_runs WHERE kind = $1 AND (ok OR NOT $2) ORDER BY finished_at DESC, id DESC LIMIT 1",
        )
        .bind(kind.as_str())
        .bind(ok_only)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(backup_run_from_row).transpose()
    }

    async fn first_backup_run(&self) -> StoreResult<Option<BackupRun>> {
        let row = sqlx::query("SELECT * FROM backup_runs ORDER BY started_at, id LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(backup_run_from_row).transpose()
    }
}
