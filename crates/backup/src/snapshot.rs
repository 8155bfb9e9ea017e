//! Consistent snapshots and restores, one implementation of [`Engine`] per database engine.
//!
//! SQLite: `VACUUM INTO` a new file (a transactionally consistent copy while the server keeps serving); restore
//! replaces the database file atomically (rename) while the server is stopped, keeping the old file beside it.
//!
//! PostgreSQL: `pg_dump --format=custom` inside an exported REPEATABLE READ snapshot, in which the row counts of the
//! manifest are taken too, so counts and dump agree exactly. Tables use FORCE ROW LEVEL SECURITY, so the dump role
//! must bypass it (BYPASSRLS): `--enable-row-security` would silently dump only the rows the role's tenant sees
//! (none), which is why a role that cannot see every row is refused instead. Restore replays the dump as the schema
//! owner in one transaction (drop schema, recreate, restore: all or nothing).

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use async_trait::async_trait;
use sqlx::Connection;
use sqlx::Row;
use sqlx::postgres::PgConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use uuid::Uuid;

use crate::BackupError;

/// What a snapshot holds, for the manifest.
#[derive(Debug, Clone)]
pub struct SnapshotInfo {
    pub tables: BTreeMap<String, i64>,
    pub schema_version: i64,
}

/// A database restored from a backup for a restore test, dropped by [`Scratch::discard`].
#[derive(Debug)]
pub struct Scratch {
    pub engine: comanda_store::Engine,
    /// How to connect to it (`sqlite://…` or `postgres://…`), with full read access.
    pub url: String,
    dir: Option<tempfile::TempDir>,
    pg_drop: Option<(String, String)>,
}

impl Scratch {
    pub async fn discard(mut self) -> Result<(), BackupError> {
        if let Some((maintenance_url, name)) = self.pg_drop.take() {
            let mut conn = PgConnection::connect(&maintenance_url).await.map_err(db)?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                quote(&name)
            )))
            .execute(&mut conn)
            .await
            .map_err(db)?;
            let _ = conn.close().await;
        }
        drop(self.dir.take());
        Ok(())
    }
}

/// The key store: tenants' and persons' data keys (still wrapped by the KMS). Neither table's rows ride along in the
/// ordinary backups: erasing a person or offboarding a partner deletes their key, and a restore must not bring it
/// back (PRIV-1). A restore keeps the live database's keys instead, and the key store is backed up apart.
pub const KEY_TABLES: [&str; 2] = ["tenant_keys", "person_keys"];

fn is_key_table(table: &str) -> bool {
    KEY_TABLES.contains(&table)
}

#[async_trait]
pub trait Engine: Send + Sync + std::fmt::Debug {
    fn engine(&self) -> comanda_store::Engine;
    /// Writes a consistent snapshot of the live database to `out`.
    async fn snapshot(&self, out: &Path) -> Result<SnapshotInfo, BackupError>;
    /// Replaces the live database with the snapshot. `label` names what is kept of the old one.
    async fn restore(&self, snapshot: &Path, label: &str) -> Result<String, BackupError>;
    /// Restores the snapshot into a new scratch database.
    async fn scratch(&self, snapshot: &Path) -> Result<Scratch, BackupError>;
    /// Rows per table of a restored scratch database.
    async fn count_rows(&self, scratch: &Scratch) -> Result<BTreeMap<String, i64>, BackupError>;
    /// The live data keys of [`KEY_TABLES`] (still wrapped by the KMS), for the key store's own backup; `None`
    /// when there is no live key store at all (the database or its schema is gone).
    async fn key_rows(&self) -> Result<Option<Vec<KeyRow>>, BackupError>;
    /// Whether the live database holds any partner, offboarded ones included. A database no partner was ever
    /// registered in (a new machine's, just migrated by `comanda backup list`) has no key store worth keeping.
    async fn holds_partners(&self) -> Result<bool, BackupError>;
    /// Puts data keys into the live database (keeping any already there; a tenant key only while its partner
    /// exists); returns how many were added.
    async fn put_key_rows(&self, rows: &[KeyRow]) -> Result<usize, BackupError>;
}

/// One data key as the key store's backup carries it: its table, ids and times as text, the wrap as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeyRow {
    /// One of [`KEY_TABLES`]; key-store backups written before tenant keys joined them hold person keys only.
    #[serde(default = "person_keys_table")]
    pub table: String,
    pub partner_id: String,
    pub owner_id: String,
    pub key_id: String,
    pub version: i64,
    pub wrapped: Vec<u8>,
    pub created_at: String,
}

fn person_keys_table() -> String {
    "person_keys".into()
}

pub(crate) fn db(e: sqlx::Error) -> BackupError {
    BackupError::Database(e.to_string())
}

fn io(what: &str) -> impl Fn(std::io::Error) -> BackupError + '_ {
    move |e| BackupError::Io(format!("{what}: {e}"))
}

/// A double-quoted SQL identifier.
pub fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

// ---------------------------------------------------------------------------------------------------------- SQLite

#[derive(Debug)]
pub struct Sqlite {
    pub path: PathBuf,
}

impl Sqlite {
    pub fn from_url(url: &str) -> Result<Self, BackupError> {
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| BackupError::Config(format!("not a SQLite URL: {url}")))?;
        let path = rest.split('?').next().unwrap_or(rest);
        Ok(Self {
            path: PathBuf::from(path),
        })
    }
}

async fn sqlite_open(path: &Path, read_only: bool) -> Result<SqliteConnection, BackupError> {
    if !path.exists() {
        return Err(BackupError::Database(format!(
            "{} does not exist",
            path.display()
        )));
    }
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
        .map_err(db)?
        .read_only(read_only);
    SqliteConnection::connect_with(&options).await.map_err(db)
}

async fn sqlite_tables(conn: &mut SqliteConnection) -> Result<Vec<String>, BackupError> {
    sqlx::query_scalar(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db)
}

async fn sqlite_info(path: &Path) -> Result<SnapshotInfo, BackupError> {
    let mut conn = sqlite_open(path, true).await?;
    let mut tables = BTreeMap::new();
    for table in sqlite_tables(&mut conn).await? {
        let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {}",
            quote(&table)
        )))
        .fetch_one(&mut conn)
        .await
        .map_err(db)?;
        tables.insert(table, count);
    }
    let schema_version: i64 = sqlx::query_scalar("SELECT coalesce(max(version), 0) FROM comanda_migrations")
        .fetch_one(&mut conn)
        .await
        .map_err(db)?;
    let _ = conn.close().await;
    Ok(SnapshotInfo {
        tables,
        schema_version,
    })
}

/// Copies the live database's data keys into the file about to replace it (a restore never resurrects a key an
/// erasure or an offboarding destroyed, and never loses one that exists; a tenant key goes along while its partner
/// is in the restored file, as its foreign key requires).
async fn carry_keys(live: &Path, staged: &Path) -> Result<(), BackupError> {
    let mut conn = sqlite_open(staged, false).await?;
    let staged_tables = sqlite_tables(&mut conn).await?;
    let mut live_conn = sqlite_open(live, true).await?;
    let live_tables = sqlite_tables(&mut live_conn).await?;
    let _ = live_conn.close().await;
    sqlx::query("ATTACH DATABASE ?1 AS live")
        .bind(live.display().to_string())
        .execute(&mut conn)
        .await
        .map_err(db)?;
    for table in KEY_TABLES {
        if !(staged_tables.iter().any(|t| t == table) && live_tables.iter().any(|t| t == table)) {
            continue;
        }
        let keep = if table == "tenant_keys" {
            " WHERE partner_id IN (SELECT id FROM main.partners)"
        } else {
            ""
        };
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DELETE FROM main.{table}; INSERT INTO main.{table} SELECT * FROM live.{table}{keep};"
        )))
        .execute(&mut conn)
        .await
        .map_err(db)?;
    }
    sqlx::raw_sql("DETACH DATABASE live")
        .execute(&mut conn)
        .await
        .map_err(db)?;
    let _ = conn.close().await;
    Ok(())
}

/// Deletes every data key from a SQLite file and rewrites it, so not even its freed pages keep one.
async fn strip_keys(path: &Path) -> Result<(), BackupError> {
    let mut conn = sqlite_open(path, false).await?;
    let tables = sqlite_tables(&mut conn).await?;
    for table in KEY_TABLES.iter().filter(|t| tables.iter().any(|have| have == *t)) {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
            .execute(&mut conn)
            .await
            .map_err(db)?;
    }
    sqlx::raw_sql("VACUUM").execute(&mut conn).await.map_err(db)?;
    let _ = conn.close().await;
    Ok(())
}

/// `PRAGMA integrity_check` and `PRAGMA foreign_key_check` of a SQLite file.
pub async fn sqlite_integrity(path: &Path) -> Result<(), BackupError> {
    let mut conn = sqlite_open(path, true).await?;
    let verdict: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .map_err(db)?;
    if verdict != "ok" {
        return Err(BackupError::Integrity(format!(
            "PRAGMA integrity_check: {verdict}"
        )));
    }
    let violations = sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(&mut conn)
        .await
        .map_err(db)?;
    if !violations.is_empty() {
        return Err(BackupError::Integrity(format!(
            "PRAGMA foreign_key_check: {} violation(s)",
            violations.len()
        )));
    }
    let _ = conn.close().await;
    Ok(())
}

/// Reads every row of every table (forcing every page and overflow page to be decoded).
pub async fn sqlite_read_all(url: &str) -> Result<u64, BackupError> {
    let path = Sqlite::from_url(url)?.path;
    let mut conn = sqlite_open(&path, true).await?;
    let mut rows = 0u64;
    for table in sqlite_tables(&mut conn).await? {
        // Row by row, each decoded and dropped: a table read whole held the database in memory (1.4 GB for a
        // 1.5 GB file on a restore test).
        let sql = format!("SELECT * FROM {}", quote(&table));
        let mut read = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch(&mut conn);
        while futures_util::TryStreamExt::try_next(&mut read)
            .await
            .map_err(db)?
            .is_some()
        {
            rows += 1;
        }
    }
    let _ = conn.close().await;
    Ok(rows)
}

fn fsync_dir(dir: &Path) {
    if let Ok(handle) = fs::File::open(dir) {
        let _ = handle.sync_all();
    }
}

#[async_trait]
impl Engine for Sqlite {
    fn engine(&self) -> comanda_store::Engine {
        comanda_store::Engine::Sqlite
    }

    async fn snapshot(&self, out: &Path) -> Result<SnapshotInfo, BackupError> {
        let _ = fs::remove_file(out);
        let mut conn = sqlite_open(&self.path, false).await?;
        sqlx::query("VACUUM INTO ?1")
            .bind(out.display().to_string())
            .execute(&mut conn)
            .await
            .map_err(db)?;
        let _ = conn.close().await;
        // The copy loses its data keys (see KEY_TABLES).
        strip_keys(out).await?;
        sqlite_info(out).await
    }

    async fn restore(&self, snapshot: &Path, label: &str) -> Result<String, BackupError> {
        sqlite_integrity(snapshot).await?;
        // Held to the end: no server or command opens the database while it is replaced, nor is it replaced under one.
        let _claimed = comanda_store::sqlite::claim_for_restore(&self.path)
            .map_err(|refused| BackupError::Tool(refused.to_string()))?;
        let dir = self
            .path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let file_name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "comanda.db".into());
        let staged = dir.join(format!(".{file_name}.restoring"));
        fs::copy(snapshot, &staged).map_err(io("staging the restored database"))?;
        fs::set_permissions(&staged, fs::Permissions::from_mode(0o600)).map_err(io("staging"))?;
        fs::File::open(&staged)
            .and_then(|f| f.sync_all())
            .map_err(io("staging"))?;
        if self.path.exists() {
            carry_keys(&self.path, &staged).await?;
        }
        let mut kept = String::from("no previous database");
        let mut previous = None;
        if self.path.exists() {
            let copy = dir.join(format!("{file_name}.pre-restore-{label}"));
            fs::hard_link(&self.path, &copy).map_err(io("keeping the previous database"))?;
            kept = format!(
                "previous database kept as {} (without its data keys: they stay in the live database)",
                copy.display()
            );
            previous = Some(copy);
        }
        // The old write-ahead log belongs to the old file: applied to the new one it would corrupt it.
        for suffix in ["-wal", "-shm"] {
            let side = dir.join(format!("{file_name}{suffix}"));
            match fs::remove_file(&side) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(BackupError::Io(format!("{}: {e}", side.display())));
                }
                _ => {}
            }
        }
        fs::rename(&staged, &self.path).map_err(io("replacing the database"))?;
        fsync_dir(dir);
        if let Some(previous) = previous {
            // The live keys went into the restored file; the kept copy holds none, so a key destroyed after this
            // restore is not left behind in it (PRIV-1).
            strip_keys(&previous).await?;
        }
        Ok(kept)
    }

    async fn scratch(&self, snapshot: &Path) -> Result<Scratch, BackupError> {
        let dir = tempfile::Builder::new()
            .prefix("comanda-restore-test-")
            .tempdir()
            .map_err(io("scratch directory"))?;
        let path = dir.path().join("scratch.db");
        fs::copy(snapshot, &path).map_err(io("scratch database"))?;
        Ok(Scratch {
            engine: comanda_store::Engine::Sqlite,
            url: format!("sqlite://{}", path.display()),
            dir: Some(dir),
            pg_drop: None,
        })
    }

    async fn count_rows(&self, scratch: &Scratch) -> Result<BTreeMap<String, i64>, BackupError> {
        Ok(sqlite_info(&Sqlite::from_url(&scratch.url)?.path).await?.tables)
    }

    async fn key_rows(&self) -> Result<Option<Vec<KeyRow>>, BackupError> {
        if !self.path.exists() {
            return Ok(None);
        }
        let mut conn = sqlite_open(&self.path, true).await?;
        let tables = sqlite_tables(&mut conn).await?;
        let present: Vec<&str> = KEY_TABLES
            .into_iter()
            .filter(|t| tables.iter().any(|have| have == t))
            .collect();
        if present.is_empty() {
            let _ = conn.close().await;
            return Ok(None);
        }
        let mut rows = Vec::new();
        for table in present {
            for row in sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT partner_id, owner_id, key_id, version, wrapped, created_at FROM {table}
                  ORDER BY partner_id, owner_id"
            )))
            .fetch_all(&mut conn)
            .await
            .map_err(db)?
            {
                rows.push(KeyRow {
                    table: table.to_owned(),
                    partner_id: row.try_get("partner_id").map_err(db)?,
                    owner_id: row.try_get("owner_id").map_err(db)?,
                    key_id: row.try_get("key_id").map_err(db)?,
                    version: row.try_get("version").map_err(db)?,
                    wrapped: row.try_get("wrapped").map_err(db)?,
                    created_at: row.try_get("created_at").map_err(db)?,
                });
            }
        }
        let _ = conn.close().await;
        Ok(Some(rows))
    }

    async fn holds_partners(&self) -> Result<bool, BackupError> {
        if !self.path.exists() {
            return Ok(false);
        }
        let mut conn = sqlite_open(&self.path, true).await?;
        let held = if sqlite_tables(&mut conn).await?.iter().any(|t| t == "partners") {
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM partners)")
                .fetch_one(&mut conn)
                .await
                .map_err(db)?
        } else {
            false
        };
        let _ = conn.close().await;
        Ok(held)
    }

    async fn put_key_rows(&self, rows: &[KeyRow]) -> Result<usize, BackupError> {
        let mut conn = sqlite_open(&self.path, false).await?;
        let mut added = 0;
        for row in rows {
            let table = checked_key_table(&row.table)?;
            added += sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT OR IGNORE INTO {table} (partner_id, owner_id, key_id, version, wrapped, created_at)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE ?7 OR EXISTS (SELECT 1 FROM partners WHERE id = ?1)"
            )))
            .bind(&row.partner_id)
            .bind(&row.owner_id)
            .bind(&row.key_id)
            .bind(row.version)
            .bind(&row.wrapped)
            .bind(&row.created_at)
            .bind(table == "person_keys")
            .execute(&mut conn)
            .await
            .map_err(db)?
            .rows_affected() as usize;
        }
        let _ = conn.close().await;
        Ok(added)
    }
}

/// The key table a key-store backup names, refused unless it is one of [`KEY_TABLES`].
fn checked_key_table(table: &str) -> Result<&'static str, BackupError> {
    KEY_TABLES
        .into_iter()
        .find(|t| *t == table)
        .ok_or_else(|| BackupError::Integrity(format!("the key store names an unknown table {table:?}")))
}

// ------------------------------------------------------------------------------------------------------ PostgreSQL

#[derive(Debug)]
pub struct Postgres {
    /// Dumps and scratch databases: a role that bypasses row-level security and may create databases.
    pub dump_url: String,
    /// Restores: the schema owner.
    pub owner_url: String,
    pub bin_dir: Option<PathBuf>,
}

/// The directory of `pg_dump`: configured, else the newest `/usr/lib/postgresql/*/bin`, else `PATH` (None).
pub fn pg_bin_dir(configured: Option<&Path>) -> Option<PathBuf> {
    if let Some(dir) = configured {
        return Some(dir.to_path_buf());
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("pg_dump").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// A connection URL without its password (which goes to the tool in `PGPASSWORD`, never on a command line).
fn split_password(url: &str) -> Result<(String, Option<String>), BackupError> {
    let mut parsed = url::Url::parse(url).map_err(|e| BackupError::Config(format!("PostgreSQL URL: {e}")))?;
    let password = parsed.password().map(|p| {
        percent_encoding::percent_decode_str(p)
            .decode_utf8_lossy()
            .into_owned()
    });
    let _ = parsed.set_password(None);
    Ok((parsed.to_string(), password))
}

fn with_database(url: &str, database: &str) -> Result<String, BackupError> {
    let mut parsed = url::Url::parse(url).map_err(|e| BackupError::Config(format!("PostgreSQL URL: {e}")))?;
    parsed.set_path(&format!("/{database}"));
    Ok(parsed.to_string())
}

impl Postgres {
    fn tool(&self, name: &str, url: &str) -> Result<(tokio::process::Command, String), BackupError> {
        let program = match &self.bin_dir {
            Some(dir) => dir.join(name),
            None => PathBuf::from(name),
        };
        let (url, password) = split_password(url)?;
        let mut command = tokio::process::Command::new(program);
        command
            .env_remove("PGPASSWORD")
            .stdin(std::process::Stdio::null());
        if let Some(password) = password {
            command.env("PGPASSWORD", password);
        }
        Ok((command, url))
    }

    async fn run(mut command: tokio::process::Command, what: &str) -> Result<(), BackupError> {
        let output = command
            .output()
            .await
            .map_err(|e| BackupError::Tool(format!("{what}: {e} (set backup.pg_bin_dir)")))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(BackupError::Tool(format!(
                "{what} failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )))
        }
    }

    async fn counts(conn: &mut PgConnection) -> Result<BTreeMap<String, i64>, BackupError> {
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        let mut counts = BTreeMap::new();
        for table in tables {
            if is_key_table(&table) {
                // Not in the dump (see KEY_TABLES).
                counts.insert(table, 0);
                continue;
            }
            let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT count(*) FROM public.{}",
                quote(&table)
            )))
            .fetch_one(&mut *conn)
            .await
            .map_err(db)?;
            counts.insert(table, count);
        }
        Ok(counts)
    }
}

#[async_trait]
impl Engine for Postgres {
    fn engine(&self) -> comanda_store::Engine {
        comanda_store::Engine::Postgres
    }

    async fn snapshot(&self, out: &Path) -> Result<SnapshotInfo, BackupError> {
        let mut conn = PgConnection::connect(&self.dump_url).await.map_err(db)?;
        let row = sqlx::query(
            "SELECT current_user::text AS who, rolsuper OR rolbypassrls AS bypass,
                    EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                            WHERE n.nspname = 'public' AND c.relrowsecurity) AS guarded
             FROM pg_roles WHERE rolname = current_user",
        )
        .fetch_one(&mut conn)
        .await
        .map_err(db)?;
        let (who, bypass, guarded): (String, bool, bool) = (
            row.try_get("who").map_err(db)?,
            row.try_get("bypass").map_err(db)?,
            row.try_get("guarded").map_err(db)?,
        );
        if guarded && !bypass {
            return Err(BackupError::Config(format!(
                "role {who:?} cannot see every row (tables use FORCE ROW LEVEL SECURITY), so its dump would be \
                 incomplete: set backup.database_url to a role WITH BYPASSRLS (see docs/backups.md)"
            )));
        }
        sqlx::raw_sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut conn)
            .await
            .map_err(db)?;
        let snapshot_id: String = sqlx::query_scalar("SELECT pg_export_snapshot()")
            .fetch_one(&mut conn)
            .await
            .map_err(db)?;
        let tables = Self::counts(&mut conn).await?;
        let schema_version: i64 =
            sqlx::query_scalar("SELECT coalesce(max(version), 0) FROM comanda_migrations")
                .fetch_one(&mut conn)
                .await
                .map_err(db)?;
        let (mut command, url) = self.tool("pg_dump", &self.dump_url)?;
        command
            .args([
                "--format=custom",
                "--no-password",
                "--exclude-table-data=person_keys",
                "--exclude-table-data=tenant_keys",
                "--snapshot",
            ])
            .arg(&snapshot_id)
            .arg("--file")
            .arg(out)
            .arg("--dbname")
            .arg(url);
        let dumped = Self::run(command, "pg_dump").await;
        sqlx::raw_sql("COMMIT").execute(&mut conn).await.map_err(db)?;
        let _ = conn.close().await;
        dumped?;
        Ok(SnapshotInfo {
            tables,
            schema_version,
        })
    }

    async fn restore(&self, snapshot: &Path, _label: &str) -> Result<String, BackupError> {
        // As SQLite's file lock refuses it: a schema replaced under a running server would drop what it writes
        // meanwhile and answer from a database that changed under it. Another session on the database (a running
        // `comanda serve`, a console left open) stops the restore, named, before anything is replaced. Another
        // role's session shows no `backend_type` to a role without pg_read_all_stats; a background worker has no
        // user.
        let mut conn = PgConnection::connect(&self.owner_url).await.map_err(db)?;
        let others: Vec<(String, String)> = sqlx::query_as(
            "SELECT coalesce(usename::text, ''), coalesce(application_name, '') FROM pg_stat_activity
              WHERE datname = current_database() AND pid <> pg_backend_pid() AND usesysid IS NOT NULL
                AND (backend_type = 'client backend' OR backend_type IS NULL)",
        )
        .fetch_all(&mut conn)
        .await
        .map_err(db)?;
        let _ = conn.close().await;
        if !others.is_empty() {
            let named: Vec<String> = others
                .iter()
                .map(|(role, app)| match app.as_str() {
                    "" => format!("role {role}"),
                    app => format!("role {role} ({app})"),
                })
                .collect();
            return Err(BackupError::Tool(format!(
                "the database is in use by {} other session(s): {}: stop the comanda server (and close other \
                 sessions), then restore; nothing was restored",
                others.len(),
                named.join(", ")
            )));
        }
        let live_keys = Engine::key_rows(self).await?.unwrap_or_default();
        let dir = tempfile::tempdir().map_err(io("temporary directory"))?;
        let script = dir.path().join("restore.sql");
        let (mut to_sql, _) = self.tool("pg_restore", &self.owner_url)?;
        to_sql.args(["--no-owner", "--file"]).arg(&script).arg(snapshot);
        Self::run(to_sql, "pg_restore").await?;
        let (mut psql, url) = self.tool("psql", &self.owner_url)?;
        psql.args([
            "--no-psqlrc",
            "--quiet",
            "--no-password",
            "--single-transaction",
            "--set",
            "ON_ERROR_STOP=1",
            "--command",
            "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;",
            "--file",
        ])
        .arg(&script)
        .arg("--dbname")
        .arg(url)
        .stdout(std::process::Stdio::null());
        Self::run(psql, "psql (restore)").await?;
        self.put_key_rows(&live_keys).await?;
        Ok(format!(
            "the schema was replaced in one transaction; the {} live person key(s) were kept",
            live_keys.len()
        ))
    }

    async fn scratch(&self, snapshot: &Path) -> Result<Scratch, BackupError> {
        let name = format!("comanda_restore_test_{}", Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(&self.dump_url).await.map_err(db)?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {}", quote(&name))))
            .execute(&mut conn)
            .await
            .map_err(db)?;
        let _ = conn.close().await;
        let url = with_database(&self.dump_url, &name)?;
        let scratch = Scratch {
            engine: comanda_store::Engine::Postgres,
            url: url.clone(),
            dir: None,
            pg_drop: Some((self.dump_url.clone(), name)),
        };
        let (mut command, tool_url) = self.tool("pg_restore", &url)?;
        command
            .args([
                "--no-owner",
                "--no-acl",
                "--exit-on-error",
                "--no-password",
                "--dbname",
            ])
            .arg(tool_url)
            .arg(snapshot);
        if let Err(error) = Self::run(command, "pg_restore (scratch)").await {
            let _ = scratch.discard().await;
            return Err(error);
        }
        Ok(scratch)
    }

    async fn count_rows(&self, scratch: &Scratch) -> Result<BTreeMap<String, i64>, BackupError> {
        let mut conn = PgConnection::connect(&scratch.url).await.map_err(db)?;
        let counts = Self::counts(&mut conn).await;
        let _ = conn.close().await;
        counts
    }

    async fn holds_partners(&self) -> Result<bool, BackupError> {
        let mut conn = PgConnection::connect(&self.dump_url).await.map_err(db)?;
        let schema: bool = sqlx::query_scalar("SELECT to_regclass('public.partners') IS NOT NULL")
            .fetch_one(&mut conn)
            .await
            .map_err(db)?;
        let held = schema
            && sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM partners)")
                .fetch_one(&mut conn)
                .await
                .map_err(db)?;
        let _ = conn.close().await;
        Ok(held)
    }

    async fn key_rows(&self) -> Result<Option<Vec<KeyRow>>, BackupError> {
        let mut conn = PgConnection::connect(&self.dump_url).await.map_err(db)?;
        let mut rows = Vec::new();
        let mut any = false;
        for table in KEY_TABLES {
            let exists: bool = sqlx::query_scalar("SELECT to_regclass('public.' || $1) IS NOT NULL")
                .bind(table)
                .fetch_one(&mut conn)
                .await
                .map_err(db)?;
            if !exists {
                continue;
            }
            any = true;
            for row in sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT partner_id::text AS partner_id, owner_id::text AS owner_id, key_id::text AS key_id, version,
                        wrapped, created_at::text AS created_at
                   FROM {table} ORDER BY partner_id, owner_id"
            )))
            .fetch_all(&mut conn)
            .await
            .map_err(db)?
            {
                rows.push(KeyRow {
                    table: table.to_owned(),
                    partner_id: row.try_get("partner_id").map_err(db)?,
                    owner_id: row.try_get("owner_id").map_err(db)?,
                    key_id: row.try_get("key_id").map_err(db)?,
                    version: row.try_get("version").map_err(db)?,
                    wrapped: row.try_get("wrapped").map_err(db)?,
                    created_at: row.try_get("created_at").map_err(db)?,
                });
            }
        }
        let _ = conn.close().await;
        Ok(any.then_some(rows))
    }

    async fn put_key_rows(&self, rows: &[KeyRow]) -> Result<usize, BackupError> {
        // As the schema owner, inside each row's tenant (row-level security applies to the owner too).
        let mut conn = PgConnection::connect(&self.owner_url).await.map_err(db)?;
        let mut added = 0;
        for row in rows {
            let table = checked_key_table(&row.table)?;
            sqlx::raw_sql("BEGIN").execute(&mut conn).await.map_err(db)?;
            sqlx::query("SELECT set_config('comanda.tenant', $1, true)")
                .bind(&row.partner_id)
                .execute(&mut conn)
                .await
                .map_err(db)?;
            added += sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO {table} (partner_id, owner_id, key_id, version, wrapped, created_at)
                 SELECT $1::uuid, $2::uuid, $3::uuid, $4, $5, $6::timestamptz
                  WHERE $7 OR EXISTS (SELECT 1 FROM partners WHERE id = $1::uuid)
                 ON CONFLICT DO NOTHING"
            )))
            .bind(&row.partner_id)
            .bind(&row.owner_id)
            .bind(&row.key_id)
            .bind(row.version)
            .bind(&row.wrapped)
            .bind(&row.created_at)
            .bind(table == "person_keys")
            .execute(&mut conn)
            .await
            .map_err(|e| BackupError::Database(format!("putting data keys back: {e}")))?
            .rows_affected() as usize;
            sqlx::raw_sql("COMMIT").execute(&mut conn).await.map_err(db)?;
        }
        let _ = conn.close().await;
        Ok(added)
    }
}

/// Reads every row of every table of a PostgreSQL database, detoasting every value.
pub async fn pg_read_all(url: &str) -> Result<u64, BackupError> {
    let mut conn = PgConnection::connect(url).await.map_err(db)?;
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
            .fetch_all(&mut conn)
            .await
            .map_err(db)?;
    let mut rows = 0u64;
    for table in tables {
        let (count, _bytes): (i64, Option<i64>) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT count(*), sum(length(t::text))::bigint FROM public.{} AS t",
            quote(&table)
        )))
        .fetch_one(&mut conn)
        .await
        .map_err(db)?;
        rows += u64::try_from(count).unwrap_or(0);
    }
    let _ = conn.close().await;
    Ok(rows)
}
