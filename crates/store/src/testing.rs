//! Real databases for tests, no Docker: a throwaway PostgreSQL cluster started from the machine's installed
//! binaries (one per test process, one database per test, cloned from a migrated template) and temporary SQLite
//! files.
//!
//! `initdb` refuses to run as root, so as root the cluster runs as the `postgres` system user through `runuser`.
//! A detached watchdog stops the cluster and deletes its directory when the test process exits, however it exits.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::Connection;
use tokio::sync::OnceCell;

use crate::{DatabaseTarget, Store};

/// Roles of the test cluster: the schema owner runs migrations, the app role serves (no BYPASSRLS, not an owner).
pub const OWNER_ROLE: &str = "comanda_owner";
pub const APP_ROLE: &str = "comanda_app";
const TEMPLATE: &str = "comanda_template";

#[derive(Debug)]
pub struct PgCluster {
    pub port: u16,
    pub data_dir: PathBuf,
    pub bin_dir: PathBuf,
}

impl PgCluster {
    pub fn url(&self, role: &str, database: &str) -> String {
        format!("postgres://{role}@127.0.0.1:{}/{database}", self.port)
    }
}

static CLUSTER: OnceLock<Result<PgCluster, String>> = OnceLock::new();
static TEMPLATE_READY: OnceCell<()> = OnceCell::const_new();
static DATABASE_COUNTER: AtomicU32 = AtomicU32::new(0);

/// The directory holding `initdb` and `pg_ctl`: `PG_BIN_DIR`, else the newest /usr/lib/postgresql/*/bin,
/// else `pg_config --bindir`.
pub fn postgres_bin_dir() -> Result<PathBuf, String> {
    if let Ok(dir) = std::env::var("PG_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    let output = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .map_err(|e| format!("no PostgreSQL binaries found (install postgresql, or set PG_BIN_DIR): {e}"))?;
    Ok(PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()))
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// Runs a PostgreSQL tool as the cluster's owner (the `postgres` user when we are root).
fn pg_command(bin_dir: &Path, tool: &str, as_postgres_user: bool) -> Command {
    if as_postgres_user {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(bin_dir.join(tool));
        command
    } else {
        Command::new(bin_dir.join(tool))
    }
}

fn run(mut command: Command, what: &str) -> Result<(), String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

fn start_cluster() -> Result<PgCluster, String> {
    let bin_dir = postgres_bin_dir()?;
    let as_postgres = running_as_root();
    let base = tempfile::Builder::new()
        .prefix("comanda-pg-")
        .tempdir()
        .map_err(|e| format!("temporary directory: {e}"))?
        .keep();
    let data_dir = base.join("data");
    if as_postgres {
        run(
            {
                let mut c = Command::new("chown");
                c.args(["postgres:postgres"]).arg(&base);
                c
            },
            "chown the cluster directory to postgres",
        )?;
    }
    let mut initdb = pg_command(&bin_dir, "initdb", as_postgres);
    initdb.args([
        "--no-sync",
        "--auth=trust",
        "--username=postgres",
        "--encoding=UTF8",
        "--locale=C",
        "-D",
    ]);
    initdb.arg(&data_dir);
    run(initdb, "initdb")?;

    let port = free_port()?;
    // autovacuum_naptime as docs/deployment.md asks of a production server. TEST_PG_OPTIONS adds server settings
    // for a diagnosis, e.g. `-c log_min_duration_statement=50` (the log is the cluster directory's server.log).
    // Not COMANDA_-prefixed: the server would read that as configuration.
    let options = format!(
        "-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off \
         -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 -c shared_buffers=64MB \
         -c autovacuum_naptime=5s {}",
        base.display(),
        std::env::var("TEST_PG_OPTIONS").unwrap_or_default()
    );
    let mut pg_ctl = pg_command(&bin_dir, "pg_ctl", as_postgres);
    pg_ctl
        .args(["-w", "-t", "30", "-o", &options, "-l"])
        .arg(base.join("server.log"));
    pg_ctl.arg("-D").arg(&data_dir).arg("start");
    run(pg_ctl, "pg_ctl start")?;

    spawn_watchdog(&bin_dir, &base, &data_dir, as_postgres);
    Ok(PgCluster {
        port,
        data_dir,
        bin_dir,
    })
}

/// Stops the cluster once this process is gone. `setsid` detaches it from our process group, so an interrupted
/// test run (Ctrl-C) does not kill the watchdog before it has cleaned up.
fn spawn_watchdog(bin_dir: &Path, base: &Path, data_dir: &Path, as_postgres: bool) {
    let pg_ctl = bin_dir.join("pg_ctl");
    let stop = if as_postgres {
        format!(
            "runuser -u postgres -- {} -D {} stop -m immediate",
            pg_ctl.display(),
            data_dir.display()
        )
    } else {
        format!("{} -D {} stop -m immediate", pg_ctl.display(), data_dir.display())
    };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.3; done; {stop} >/dev/null 2>&1; rm -rf {base}",
        pid = std::process::id(),
        base = base.display()
    );
    let _ = Command::new("setsid")
        .args(["sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

pub fn cluster() -> &'static PgCluster {
    match CLUSTER.get_or_init(start_cluster) {
        Ok(cluster) => cluster,
        Err(error) => panic!("cannot start the test PostgreSQL cluster: {error}"),
    }
}

async fn superuser_exec(cluster: &PgCluster, sql: &str) {
    let mut conn = sqlx::PgConnection::connect(&cluster.url("postgres", "postgres"))
        .await
        .unwrap_or_else(|e| panic!("connect as superuser: {e}"));
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let _ = conn.close().await;
}

async fn prepare_template(cluster: &PgCluster) {
    superuser_exec(
        cluster,
        &format!(
            "CREATE ROLE {OWNER_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS;
             CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS;"
        ),
    )
    .await;
    superuser_exec(cluster, &format!("CREATE DATABASE {TEMPLATE} OWNER {OWNER_ROLE}")).await;
    // PostgreSQL 15 no longer lets every role create in the public schema: hand it to the owner.
    let mut conn = sqlx::PgConnection::connect(&cluster.url("postgres", TEMPLATE))
        .await
        .expect("template");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER SCHEMA public OWNER TO {OWNER_ROLE}"
    )))
    .execute(&mut conn)
    .await
    .expect("schema owner");
    let _ = conn.close().await;
    crate::postgres::migrate(
        &cluster.url(OWNER_ROLE, TEMPLATE),
        &cluster.url(APP_ROLE, TEMPLATE),
    )
    .await
    .unwrap_or_else(|e| panic!("migrating the template: {e}"));
}

/// A fresh, migrated PostgreSQL database of this process's cluster.
pub struct PgTestDatabase {
    pub name: String,
    pub cluster: &'static PgCluster,
}

impl PgTestDatabase {
    pub async fn create() -> Self {
        let cluster = cluster();
        TEMPLATE_READY.get_or_init(|| prepare_template(cluster)).await;
        let name = format!(
            "t{}_{}",
            std::process::id(),
            DATABASE_COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        superuser_exec(
            cluster,
            &format!("CREATE DATABASE {name} TEMPLATE {TEMPLATE} OWNER {OWNER_ROLE}"),
        )
        .await;
        Self { name, cluster }
    }

    /// How the application connects: as the serving role.
    pub fn app_url(&self) -> String {
        self.cluster.url(APP_ROLE, &self.name)
    }

    pub fn owner_url(&self) -> String {
        self.cluster.url(OWNER_ROLE, &self.name)
    }

    pub fn superuser_url(&self) -> String {
        self.cluster.url("postgres", &self.name)
    }

    pub fn target(&self) -> DatabaseTarget {
        DatabaseTarget {
            url: self.app_url(),
            migration_url: Some(self.owner_url()),
            max_connections: 8,
            kms: Some(test_kms()),
        }
    }

    pub async fn store(&self) -> Arc<dyn Store> {
        crate::open(&self.target())
            .await
            .unwrap_or_else(|e| panic!("open PostgreSQL store: {e}"))
    }
}

/// A migrated SQLite store in a temporary directory that lives as long as this value.
pub struct SqliteTestDatabase {
    pub dir: tempfile::TempDir,
    pub url: String,
}

impl SqliteTestDatabase {
    pub fn create() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("comanda.db").display());
        Self { dir, url }
    }

    pub fn target(&self) -> DatabaseTarget {
        DatabaseTarget {
            url: self.url.clone(),
            migration_url: None,
            max_connections: 4,
            kms: Some(test_kms()),
        }
    }

    pub async fn store(&self) -> Arc<dyn Store> {
        crate::open(&self.target())
            .await
            .unwrap_or_else(|e| panic!("open SQLite store: {e}"))
    }

    /// Panics naming every stored instant that is not fixed-width UTC text ([`crate::InstantText`]): one written
    /// without the kit's `ts` would sort wrongly against the others. Every text column of every table is read, so a
    /// new column is covered without being listed.
    pub async fn assert_instants_fixed_width(&self) {
        use sqlx::Connection as _;
        let mut conn = sqlx::SqliteConnection::connect(&self.url)
            .await
            .expect("open the test database");
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
               AND name <> 'comanda_migrations'",
        )
        .fetch_all(&mut conn)
        .await
        .expect("list tables");
        let mut uneven = Vec::new();
        for table in tables {
            let columns: Vec<String> =
                sqlx::query_scalar("SELECT name FROM pragma_table_info($1) WHERE type = 'TEXT'")
                    .bind(&table)
                    .fetch_all(&mut conn)
                    .await
                    .expect("list columns");
            for column in columns {
                // Names read from the schema itself, quoted.
                let found: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT \"{column}\" FROM \"{table}\"
                      WHERE \"{column}\" LIKE '____-__-__T__:__:__%' AND length(\"{column}\") <> 30 LIMIT 3"
                )))
                .fetch_all(&mut conn)
                .await
                .expect("read a column");
                uneven.extend(
                    found
                        .into_iter()
                        .map(|value| format!("{table}.{column} = {value}")),
                );
            }
        }
        assert!(uneven.is_empty(), "instants stored at another width: {uneven:?}");
    }
}

/// The key-encryption key of test stores: fixed, in memory.
pub fn test_kms() -> Arc<dyn comanda_security::kms::Kms> {
    Arc::new(comanda_security::kms::LocalKeyKms::from_bytes(&[0x5a; 32]).expect("a 32-byte key"))
}
