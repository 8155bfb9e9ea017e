//! Backups through the real `comanda` binary (BAK-1..4, REST-2), on SQLite and on a throwaway PostgreSQL, with a
//! local directory and an S3 bucket (moto, started here on a loopback port) as targets.

#![allow(clippy::unwrap_used)] // test helpers fail loudly on purpose

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use comanda_store::testing::PgTestDatabase;
use sqlx::{Connection, Row};

const BIN: &str = env!("CARGO_BIN_EXE_comanda");
const PARTNER: &str = "Cevicheria Copia Segura S.A.S.";
const OWNER_EMAIL: &str = "dueña.backup@example.co";

fn comanda(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(BIN);
    command.current_dir(cwd).args(args).stdin(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

/// Runs and asserts success, returning stdout.
fn ok(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let output = comanda(cwd, args, env);
    assert!(
        output.status.success(),
        "comanda {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Signs up a partner and its owner through the HTTPS API of a real `comanda serve`, then stops it.
async fn seed(cwd: &Path, env: &[(&str, &str)]) {
    let mut command = Command::new(BIN);
    command
        .current_dir(cwd)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("COMANDA_AUTH__BCRYPT_COST", "4")
        .env("COMANDA_INSECURE_DEMO", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child: Child = command.spawn().unwrap();
    let (tx, lines) = mpsc::channel();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    let port: u16 = loop {
        let line = lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("serve did not start:\n{}", seen.join("\n")));
        if let Some(rest) = line.split("listening on https://").nth(1) {
            break rest.rsplit(':').next().unwrap().trim().parse().unwrap();
        }
        seen.push(line);
    };
    let client = https_client(&cwd.join("comanda-data/tls/cert.pem"));
    let signup = client
        .post(format!("https://localhost:{port}/api/v1/signup"))
        .json(&serde_json::json!({"business_name": PARTNER, "country": "CO",
            "owner": {"name": "Ana Copia", "email": OWNER_EMAIL, "password": "violet kettle forty two"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status().as_u16(), 201);
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert!(status.success(), "serve exit {status}");
}

fn https_client(cert: &Path) -> reqwest::Client {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(cert).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let config =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(config)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Every row of every table as text, tables by name, rows sorted: equal dumps mean equal databases.
async fn sqlite_dump(db: &Path) -> String {
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut out = String::new();
    for table in tables {
        let columns: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
        )))
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let expr = columns
            .iter()
            .map(|c| format!("quote(\"{c}\")"))
            .collect::<Vec<_>>()
            .join(" || '|' || ");
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT {expr} FROM \"{table}\" ORDER BY 1"
        )))
        .fetch_all(&mut conn)
        .await
        .unwrap();
        out.push_str(&format!("== {table} ({})\n", rows.len()));
        let mut rows = rows;
        rows.sort();
        for row in rows {
            out.push_str(&row);
            out.push('\n');
        }
    }
    let _ = conn.close().await;
    out
}

async fn pg_dump_text(superuser_url: &str) -> String {
    let mut conn = sqlx::PgConnection::connect(superuser_url).await.unwrap();
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    let mut out = String::new();
    for table in tables {
        let mut rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT t::text FROM public.\"{table}\" AS t"
        )))
        .fetch_all(&mut conn)
        .await
        .unwrap();
        rows.sort();
        out.push_str(&format!("== {table} ({})\n", rows.len()));
        for row in rows {
            out.push_str(&row);
            out.push('\n');
        }
    }
    let _ = conn.close().await;
    out
}

fn backup_objects(dir: &Path) -> Vec<PathBuf> {
    let mut objects: Vec<PathBuf> = std::fs::read_dir(dir.join("backups"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.to_string_lossy().ends_with(".cmdb.age"))
                .collect()
        })
        .unwrap_or_default();
    objects.sort();
    objects
}

fn object_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// BAK-1 and REST-2 on the embedded default: backup, wipe, restore gives back the same rows; the object holds no
/// plaintext and opens with the backup key only (not with the data key, not with another age key).
#[tokio::test]
async fn sqlite_backup_wipe_restore_gives_identical_rows_and_only_the_backup_key_opens_it() {
    let cwd = tempfile::tempdir().unwrap();
    let cwd = cwd.path();
    seed(cwd, &[]).await;
    let data = cwd.join("comanda-data");
    let db = data.join("comanda.db");
    let before = sqlite_dump(&db).await;
    assert!(before.contains(PARTNER), "seeded: {before}");

    let created = ok(cwd, &["backup", "create"], &[]);
    assert!(
        created.contains("written to file://") && created.contains("read back"),
        "{created}"
    );
    let [object] = &backup_objects(&data.join("backups/a"))[..] else {
        panic!("one object in target a")
    };
    let copy_b = data.join("backups/b/backups").join(object_name(object));
    assert_eq!(std::fs::read(object).unwrap(), std::fs::read(&copy_b).unwrap());
    assert!(object_name(object).ends_with("Z-sqlite.cmdb.age"));

    // REST-2: nothing readable leaves the machine, in the object or in its manifest.
    let raw = std::fs::read(object).unwrap();
    let manifest_path = object.with_file_name(object_name(object).replace(".cmdb.age", ".manifest.json"));
    let manifest = std::fs::read_to_string(&manifest_path).unwrap();
    for text in [&String::from_utf8_lossy(&raw).into_owned(), &manifest] {
        assert!(
            !text.contains(PARTNER) && !text.contains("Cevicheria") && !text.contains("backup@example.co")
        );
    }
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(manifest["engine"], "sqlite");
    assert_eq!(manifest["tables"]["partners"], 1);
    assert_eq!(manifest["object_sha256"].as_str().unwrap().len(), 64);

    // BAK-1: the backup key (its own file, not the data key) opens it; another age key does not.
    let key_text = std::fs::read_to_string(data.join("backup.key")).unwrap();
    assert_ne!(key_text, std::fs::read_to_string(data.join("kms.key")).unwrap());
    let line = key_text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap();
    let right = age::x25519::Identity::from_str(line).unwrap();
    let plain = decrypt(&raw, &right).expect("the backup key opens it");
    assert!(
        String::from_utf8_lossy(&plain).contains(PARTNER),
        "the snapshot holds the rows"
    );
    let wrong = age::x25519::Identity::generate();
    assert!(decrypt(&raw, &wrong).is_err(), "another key must not open it");

    // The data directory with every key except the backup key (a fresh age identity in its place) cannot restore.
    let saved_key = std::fs::read(data.join("backup.key")).unwrap();
    std::fs::write(
        data.join("backup.key"),
        format!(
            "{}\n",
            age::secrecy::ExposeSecret::expose_secret(&wrong.to_string())
        ),
    )
    .unwrap();
    let refused = comanda(cwd, &["backup", "restore", "--yes"], &[]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("backup key") || stderr.contains("decrypt"),
        "{stderr}"
    );
    std::fs::write(data.join("backup.key"), saved_key).unwrap();

    // Wipe, then restore the newest backup.
    for file in ["comanda.db", "comanda.db-wal", "comanda.db-shm"] {
        let _ = std::fs::remove_file(data.join(file));
    }
    // A new machine's first step (docs/backups.md) lists the backups, which makes and migrates an empty database:
    // its empty key store is none to keep, and the key-store backup comes back with the rows.
    let listed = ok(cwd, &["backup", "list"], &[]);
    assert!(listed.contains(&object_name(object)), "{listed}");
    let without_yes = comanda(cwd, &["backup", "restore"], &[]);
    assert!(!without_yes.status.success(), "restore needs --yes");
    // The key-store backup has its own key: without it (a new one made in its place), the restore stops before
    // anything is replaced and says which key is missing; a retry with the right one puts every data key back.
    let keystore_key = data.join("keystore-backup.key");
    let saved_keystore_key = std::fs::read(&keystore_key).unwrap();
    std::fs::remove_file(&keystore_key).unwrap();
    let empty = sqlite_dump(&db).await;
    let stopped = comanda(cwd, &["backup", "restore", "--yes"], &[]);
    let said = String::from_utf8_lossy(&stopped.stderr);
    assert!(
        !stopped.status.success()
            && said.contains("keystore-backup.key")
            && said.contains("nothing was restored"),
        "{said}"
    );
    assert_eq!(sqlite_dump(&db).await, empty, "the database is left as it was");
    std::fs::write(&keystore_key, saved_keystore_key).unwrap();
    let restored = ok(cwd, &["backup", "restore", "--yes"], &[]);
    assert!(restored.contains("put back"), "{restored}");
    assert!(restored.contains(&object_name(object)), "{restored}");
    assert_eq!(
        sqlite_dump(&db).await,
        before,
        "byte-identical rows after restore"
    );
    // And the server runs on it.
    ok(cwd, &["migrate"], &[]);
}

fn decrypt(raw: &[u8], identity: &age::x25519::Identity) -> Result<Vec<u8>, String> {
    let decryptor = age::Decryptor::new_buffered(raw).map_err(|e| e.to_string())?;
    let mut reader = decryptor
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .map_err(|e| e.to_string())?;
    let mut compressed = Vec::new();
    reader.read_to_end(&mut compressed).map_err(|e| e.to_string())?;
    zstd::decode_all(&compressed[..]).map_err(|e| e.to_string())
}

/// The PostgreSQL engine end to end: a role that cannot see every row is refused (its dump would be silently
/// incomplete); with a BYPASSRLS role, backup → drop every table → restore gives back the same rows, and the
/// restore test restores into a scratch database it drops afterwards.
#[tokio::test]
async fn postgresql_backup_drop_tables_restore_gives_identical_rows() {
    let db = PgTestDatabase::create().await;
    let cwd = tempfile::tempdir().unwrap();
    let cwd = cwd.path();
    let app = db.app_url();
    let owner = db.owner_url();
    let base_env = [
        ("DATABASE_URL", app.as_str()),
        ("COMANDA_DATABASE__MIGRATION_URL", owner.as_str()),
    ];
    seed(cwd, &base_env).await;

    let refused = comanda(cwd, &["backup", "create"], &base_env);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("BYPASSRLS"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    let mut superuser = sqlx::PgConnection::connect(&db.superuser_url()).await.unwrap();
    sqlx::raw_sql(
        "DO $$ BEGIN
           IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'comanda_backup') THEN
             CREATE ROLE comanda_backup LOGIN BYPASSRLS CREATEDB;
             GRANT pg_read_all_data TO comanda_backup;
           END IF;
         END $$",
    )
    .execute(&mut superuser)
    .await
    .unwrap();
    let backup_url = db.cluster.url("comanda_backup", &db.name);
    let env = [
        base_env[0],
        base_env[1],
        ("COMANDA_BACKUP__DATABASE_URL", backup_url.as_str()),
    ];
    let before = pg_dump_text(&db.superuser_url()).await;
    assert!(before.contains(PARTNER), "seeded");

    let created = ok(cwd, &["backup", "create"], &env);
    assert!(created.contains("-postgresql.cmdb.age"), "{created}");
    let [object] = &backup_objects(&cwd.join("comanda-data/backups/a"))[..] else {
        panic!("one object")
    };
    assert!(!String::from_utf8_lossy(&std::fs::read(object).unwrap()).contains(PARTNER));

    let verified = ok(cwd, &["backup", "verify"], &env);
    assert!(
        verified.contains("row counts of") && verified.contains("passed"),
        "{verified}"
    );
    let scratch: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname LIKE 'comanda_restore_test_%'")
            .fetch_one(&mut superuser)
            .await
            .unwrap();
    assert_eq!(scratch, 0, "the scratch database was dropped");

    sqlx::raw_sql(
        "DO $$ DECLARE t text; BEGIN
           FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP
             EXECUTE format('DROP TABLE public.%I CASCADE', t);
           END LOOP;
         END $$",
    )
    .execute(&mut superuser)
    .await
    .unwrap();
    let _ = superuser.close().await;
    assert!(
        !pg_dump_text(&db.superuser_url()).await.contains(PARTNER),
        "wiped"
    );

    // A session on the database (here the serving role's, as a running server holds) stops the restore before
    // anything is replaced; closed, the restore goes ahead.
    let serving = sqlx::PgConnection::connect(&app).await.unwrap();
    let busy = comanda(cwd, &["backup", "restore", "--yes"], &env);
    let said = String::from_utf8_lossy(&busy.stderr);
    assert!(
        !busy.status.success()
            && said.contains("in use by 1 other session")
            && said.contains("nothing was restored"),
        "{said}"
    );
    let _ = serving.close().await;
    let restored = ok(cwd, &["backup", "restore", "--yes"], &env);
    assert!(restored.contains(&object_name(object)), "{restored}");
    assert_eq!(
        pg_dump_text(&db.superuser_url()).await,
        before,
        "identical rows after restore"
    );
    // The serving role works on the restored schema.
    // The run log is part of the snapshot, with the refused attempt before the run that took it: as far as the
    // restored log knows, no backup succeeded, and the status says so (the next scheduled backup puts it right).
    let status = comanda(cwd, &["backup", "status"], &env);
    let (printed, said) = (
        String::from_utf8_lossy(&status.stdout),
        String::from_utf8_lossy(&status.stderr),
    );
    assert!(
        printed.contains("last backup: FAILED") && printed.contains("BYPASSRLS"),
        "{printed}"
    );
    assert!(
        status.status.code() == Some(1) && said.contains("no backup has succeeded"),
        "{said}"
    );
    // The same backup restored by a SQLite installation (the same data directory, no DATABASE_URL) is refused by
    // name, not fed to the wrong engine's tools.
    let wrong = comanda(cwd, &["backup", "restore", &object_name(object), "--yes"], &[]);
    let said = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        !wrong.status.success()
            && said.contains("is a postgresql backup and this machine's database is sqlite"),
        "{said}"
    );
}

/// A backup missing on any target failed (docs/backups.md): one that fails on a target leaves no copy on the others
/// (it was listed verified there, and restore took it as the newest), and a copy found on one target only is listed
/// as failed where it is missing.
#[tokio::test]
async fn a_backup_failing_on_one_target_leaves_no_copy_and_a_lone_copy_is_listed_failed() {
    let cwd = tempfile::tempdir().unwrap();
    let cwd = cwd.path();
    ok(cwd, &["migrate"], &[]);
    ok(cwd, &["backup", "create", "--now", "2026-06-01T12:00:00Z"], &[]);
    let targets = cwd.join("comanda-data/backups");
    let b = targets.join("b/backups");
    // Target b takes the second backup's object but refuses its manifest: a directory stands where it goes.
    let blocked = b.join("2026-06-02T12-00-00Z-sqlite.manifest.json");
    std::fs::create_dir(&blocked).unwrap();
    let failed = comanda(cwd, &["backup", "create", "--now", "2026-06-02T12:00:00Z"], &[]);
    assert!(!failed.status.success());
    for target in ["a", "b"] {
        let names: Vec<String> = backup_objects(&targets.join(target))
            .iter()
            .map(|p| object_name(p))
            .collect();
        assert_eq!(
            names,
            ["2026-06-01T12-00-00Z-sqlite.cmdb.age"],
            "nothing of the failed one on {target}"
        );
    }
    std::fs::remove_dir(&blocked).unwrap();
    // The first backup's copy on b is lost: it is on a only.
    std::fs::remove_dir_all(&b).unwrap();
    std::fs::create_dir(&b).unwrap();
    let listed = comanda(cwd, &["backup", "list"], &[]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&listed.stdout),
        String::from_utf8_lossy(&listed.stderr)
    );
    assert!(!listed.status.success(), "{said}");
    assert!(said.contains("missing on this target"), "{said}");
    // Not the newest backup a restore takes by itself: it is named, and then taken from where it is whole.
    let unnamed = comanda(cwd, &["backup", "restore", "--yes"], &[]);
    assert!(!unnamed.status.success());
    assert!(
        String::from_utf8_lossy(&unnamed.stderr).contains("restore one by its name"),
        "{}",
        String::from_utf8_lossy(&unnamed.stderr)
    );
    ok(
        cwd,
        &[
            "backup",
            "restore",
            "2026-06-01T12-00-00Z-sqlite.cmdb.age",
            "--yes",
        ],
        &[],
    );
}

/// BAK-2: with the clock placed, prune keeps exactly the backups of the last 30 days, and never the last one.
#[tokio::test]
async fn prune_keeps_exactly_the_backups_of_the_last_30_days() {
    let cwd = tempfile::tempdir().unwrap();
    let cwd = cwd.path();
    ok(cwd, &["migrate"], &[]);
    let now = "2026-06-01T12:00:00Z";
    let placed = [
        ("2026-04-22T12:00:00Z", false), // 40 days
        ("2026-05-01T12:00:00Z", false), // 31 days
        ("2026-05-02T12:01:00Z", true),  // 30 days less a minute
        ("2026-05-03T12:00:00Z", true),  // 29 days
        (now, true),
    ];
    for (at, _) in placed {
        ok(cwd, &["backup", "create", "--now", at], &[]);
    }
    let pruned = ok(cwd, &["backup", "prune", "--now", now], &[]);
    assert!(
        pruned.contains("pruned 16 object(s)"),
        "two backups × object and manifest × two targets, and four key-store backups (kept 7 days) × two \
         targets: {pruned}"
    );
    for target in ["a", "b"] {
        let keystore: Vec<String> =
            std::fs::read_dir(cwd.join("comanda-data/backups").join(target).join("keystore"))
                .unwrap()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
        assert_eq!(
            keystore,
            [format!("{}-sqlite.keys.age", now.replace(':', "-"))],
            "the person-key store's backups are kept 7 days (target {target})"
        );
    }
    let expected: Vec<String> = placed
        .iter()
        .filter(|(_, kept)| *kept)
        .map(|(at, _)| format!("{}-sqlite.cmdb.age", at.replace(':', "-")))
        .collect();
    for target in ["a", "b"] {
        let names: Vec<String> = backup_objects(&cwd.join("comanda-data/backups").join(target))
            .iter()
            .map(|p| object_name(p))
            .collect();
        assert_eq!(names, expected, "target {target}");
    }
    let again = ok(cwd, &["backup", "prune", "--now", now], &[]);
    assert!(again.contains("pruned 0 object(s)"));
    // Backups failing for months: a prune then keeps the newest backup there is, however old, never none.
    let months_later = "2026-10-01T12:00:00Z";
    ok(cwd, &["backup", "prune", "--now", months_later], &[]);
    let listed = ok(cwd, &["backup", "list", "--now", months_later], &[]);
    let newest = format!("{}-sqlite.cmdb.age", now.replace(':', "-"));
    for target in ["a", "b"] {
        let names: Vec<String> = backup_objects(&cwd.join("comanda-data/backups").join(target))
            .iter()
            .map(|p| object_name(p))
            .collect();
        assert_eq!(names, std::slice::from_ref(&newest), "target {target}");
    }
    assert!(listed.contains(&newest), "{listed}");
}

/// BAK-4: a restore test records its success; when the last success is older than 31 days, `backup status`
/// raises the `backup.restore-test-stale` alert (once), and a new restore test clears it.
#[tokio::test]
async fn restore_test_is_recorded_and_a_stale_one_raises_the_alert() {
    let cwd = tempfile::tempdir().unwrap();
    let cwd = cwd.path();
    seed(cwd, &[]).await;
    let long_ago = "2026-03-01T09:00:00Z";
    ok(cwd, &["backup", "create", "--now", long_ago], &[]);
    let verified = ok(cwd, &["backup", "verify", "--now", long_ago], &[]);
    assert!(
        verified.contains("passed") && verified.contains("read-every-table"),
        "{verified}"
    );
    assert!(
        verified.contains("audit chain: 1 chain(s)"),
        "the restored audit chain verifies: {verified}"
    );
    // The result is in the partner's audit log, and the chain with it still verifies.
    let mut conn = sqlx::SqliteConnection::connect(&format!(
        "sqlite://{}",
        cwd.join("comanda-data/comanda.db").display()
    ))
    .await
    .unwrap();
    let recorded: String =
        sqlx::query_scalar("SELECT detail FROM audit_events WHERE action = 'backup.restore_tested'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(recorded.starts_with("ok: "), "{recorded}");
    // A partner reads their audit log: the operator's paths and the platform's chain count are not theirs to read.
    assert!(
        !recorded.contains("comanda-data") && !recorded.contains('/') && !recorded.contains("chain(s)"),
        "{recorded}"
    );
    let _ = conn.close().await;
    let chains = ok(cwd, &["audit", "verify"], &[]);
    assert!(chains.contains("1 chain(s) verified"), "{chains}");
    // A monitor's check fails when no backup is as recent as the schedule promises (two daily intervals), whatever
    // the restore test says.
    let behind = comanda(cwd, &["backup", "status", "--now", "2026-03-20T09:00:00Z"], &[]);
    assert_eq!(behind.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&behind.stderr).contains("no backup has succeeded in the last 48 hours"),
        "{}",
        String::from_utf8_lossy(&behind.stderr)
    );
    ok(cwd, &["backup", "create", "--now", "2026-03-20T08:00:00Z"], &[]);
    let fresh = ok(cwd, &["backup", "status", "--now", "2026-03-20T09:00:00Z"], &[]);
    assert!(fresh.contains("last restore test: ok"), "{fresh}");

    ok(cwd, &["backup", "create", "--now", "2026-04-05T08:00:00Z"], &[]);
    let stale = comanda(cwd, &["backup", "status", "--now", "2026-04-05T09:00:00Z"], &[]);
    assert_eq!(stale.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&stale.stderr).contains("backup.restore-test-stale"));
    let db = cwd.join("comanda-data/comanda.db");
    let alerts = |kind: &'static str| {
        let db = db.clone();
        async move {
            let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
                .await
                .unwrap();
            let rows = sqlx::query("SELECT partner_id, detail FROM alerts WHERE kind = ?1")
                .bind(kind)
                .fetch_all(&mut conn)
                .await
                .unwrap();
            let _ = conn.close().await;
            rows.iter()
                .map(|r| {
                    let partner: Option<String> = r.get("partner_id");
                    assert!(partner.is_none(), "a platform alert");
                    r.get::<String, _>("detail")
                })
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(alerts("backup.restore-test-stale").await.len(), 1);
    // The same day it is not raised twice.
    let _ = comanda(cwd, &["backup", "status", "--now", "2026-04-05T10:00:00Z"], &[]);
    assert_eq!(alerts("backup.restore-test-stale").await.len(), 1);

    ok(cwd, &["backup", "verify", "--now", "2026-04-05T11:00:00Z"], &[]);
    ok(cwd, &["backup", "status", "--now", "2026-04-05T12:00:00Z"], &[]);
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let runs: i64 =
        sqlx::query_scalar("SELECT count(*) FROM backup_runs WHERE kind = 'restore-test' AND ok = 1")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(runs, 2);
    let _ = conn.close().await;
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// moto's S3 server on a loopback port, stopped on drop.
struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    async fn start() -> Self {
        let server = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.tools/moto/bin/moto_server");
        assert!(
            server.exists(),
            "{} is missing: run scripts/install-deps.sh (it installs moto's S3 server into .tools/moto)",
            server.display()
        );
        let port = free_port();
        let child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let moto = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto did not listen within 30 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        moto
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// BAK-3: every backup is written to a local directory and to an S3 bucket, both copies identical and read back;
/// a corrupted copy is caught by the restore test (alert) and `list`, and restore falls back to the intact copy.
#[tokio::test]
async fn two_targets_local_and_s3_hold_the_same_object_and_a_corrupt_copy_is_detected() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let moto = Moto::start().await;
    let http = reqwest::Client::new();
    let made = http.put(moto.url("comanda-backups")).send().await.unwrap();
    assert!(made.status().is_success(), "bucket: {}", made.status());
    let cwd = tempfile::tempdir().unwrap();
    let cwd = cwd.path();
    let local = cwd.join("offsite-a");
    let config = cwd.join("comanda.toml");
    std::fs::write(
        &config,
        format!(
            "[backup]\ntargets = [\"file://{}\", \"s3://comanda-backups/prod\"]\n\
             [backup.s3]\nendpoint = \"http://127.0.0.1:{}\"\nregion = \"us-east-1\"\n\
             access_key_id = \"testing\"\nsecret_access_key = \"testing-secret\"\nallow_http = true\n",
            local.display(),
            moto.port
        ),
    )
    .unwrap();
    let config_arg = config.to_str().unwrap();
    // A configured directory must exist (a missing one is an unmounted disk's mount point): refused, then made.
    let unmounted = comanda(cwd, &["backup", "list"], &[("COMANDA_CONFIG", config_arg)]);
    let said = String::from_utf8_lossy(&unmounted.stderr);
    assert!(
        !unmounted.status.success() && said.contains("does not exist: mount the disk"),
        "{said}"
    );
    assert!(!local.exists(), "nothing made where the disk should be");
    std::fs::create_dir(&local).unwrap();
    seed(cwd, &[("COMANDA_CONFIG", config_arg)]).await;
    let env = [("COMANDA_CONFIG", config_arg)];
    let created = ok(cwd, &["backup", "create"], &env);
    assert!(created.contains("s3://comanda-backups/prod"), "{created}");
    let [object] = &backup_objects(&local)[..] else {
        panic!("one object locally")
    };
    let name = object_name(object);
    // Read the S3 copy with credentials, as the backup does.
    let s3 = comanda_backup::S3Config {
        endpoint: Some(format!("http://127.0.0.1:{}", moto.port)),
        access_key_id: Some("testing".into()),
        secret_access_key: Some(comanda_security::Secret::new("testing-secret".into())),
        allow_http: true,
        ..comanda_backup::S3Config::default()
    };
    let bucket = comanda_backup::Target::open("s3://comanda-backups/prod", &s3, false).unwrap();
    let in_s3 = comanda_backup::object_store::ObjectStoreExt::get(
        bucket.store.as_ref(),
        &comanda_backup::object_store::path::Path::from(format!("backups/{name}")),
    )
    .await
    .unwrap()
    .bytes()
    .await
    .unwrap();
    let local_bytes = std::fs::read(object).unwrap();
    assert_eq!(in_s3.as_ref(), local_bytes.as_slice(), "the same object");
    let listed = ok(cwd, &["backup", "list"], &env);
    assert_eq!(listed.matches("  verified").count(), 2, "{listed}");
    let config_printed = ok(cwd, &["config"], &env);
    assert!(!config_printed.contains("testing-secret"), "{config_printed}");

    // Corrupt the local copy: the restore test fails and raises an alert; list shows it.
    let mut corrupt = local_bytes.clone();
    let at = corrupt.len() / 2;
    corrupt[at] ^= 0xff;
    std::fs::write(object, &corrupt).unwrap();
    let verify = comanda(cwd, &["backup", "verify"], &env);
    assert_eq!(verify.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&verify.stdout);
    assert!(
        stdout.contains("FAILED") && stdout.contains("offsite-a"),
        "{stdout}"
    );
    assert!(
        stdout.contains("s3://comanda-backups/prod: checksum ok"),
        "{stdout}"
    );
    let listed = comanda(cwd, &["backup", "list"], &env);
    assert_eq!(
        listed.status.code(),
        Some(1),
        "a copy not intact fails the listing"
    );
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.contains("NOT VERIFIED"), "{listed}");
    let mut conn = sqlx::SqliteConnection::connect(&format!(
        "sqlite://{}",
        cwd.join("comanda-data/comanda.db").display()
    ))
    .await
    .unwrap();
    let alerts: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM alerts WHERE kind = 'backup.restore-test-failed' AND partner_id IS NULL",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(alerts, 1);
    let _ = conn.close().await;

    // Restore skips the corrupt copy and uses the S3 one.
    let restored = ok(cwd, &["backup", "restore", "--yes"], &env);
    assert!(restored.contains("from s3://comanda-backups/prod"), "{restored}");
    assert!(
        restored.contains("a copy was skipped"),
        "said, not only logged: {restored}"
    );

    // The S3 endpoint is down (nothing listens there) and the local copy is whole again: the listing names the
    // target it could not read and fails, and the restore at 3 a.m. uses the local copy.
    std::fs::write(object, &local_bytes).unwrap();
    let down = cwd.join("down.toml");
    std::fs::write(
        &down,
        std::fs::read_to_string(&config).unwrap().replace(
            &format!("127.0.0.1:{}", moto.port),
            &format!("127.0.0.1:{}", free_port()),
        ),
    )
    .unwrap();
    let env = [("COMANDA_CONFIG", down.to_str().unwrap())];
    let listed = comanda(cwd, &["backup", "list"], &env);
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert_eq!(listed.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("s3://comanda-backups/prod  (target not listed)") && stdout.contains("  verified"),
        "{stdout}"
    );
    // Which backup is the newest is not known with a target down: the operator names it, and it is restored from
    // the target that answers.
    let unnamed = comanda(cwd, &["backup", "restore", "--yes"], &env);
    assert_eq!(unnamed.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&unnamed.stderr).contains("name the backup to restore"),
        "{}",
        String::from_utf8_lossy(&unnamed.stderr)
    );
    let restored = ok(cwd, &["backup", "restore", &name, "--yes"], &env);
    assert!(restored.contains("from file://"), "{restored}");
}

/// The store as the server opens it: the data directory's KMS key file wraps the data keys.
async fn sealed_store(cwd: &Path, url: &str) -> Arc<dyn comanda_store::Store> {
    let kms = comanda_security::kms::LocalKeyKms::open(&cwd.join("comanda-data/kms.key")).unwrap();
    comanda_store::connect(&comanda_store::DatabaseTarget {
        url: url.to_owned(),
        migration_url: None,
        max_connections: 2,
        kms: Some(Arc::new(kms)),
    })
    .await
    .unwrap()
}

/// PRIV-1 acceptance: a person erased and a partner offboarded after a backup was taken stay so when that older
/// backup is restored — the rows come back, but no data key does (neither key table rides along in the ordinary
/// backups, and a restore keeps the live key store), so the person's email and name read as erased and are nowhere
/// in clear. Returns the partner's id, for the engine's own look at where keys remain.
async fn an_erased_person_stays_erased_after_an_older_backup_is_restored(
    cwd: &Path,
    env: &[(&str, &str)],
    serving_url: &str,
) -> String {
    seed(cwd, env).await;
    let store = sealed_store(cwd, serving_url).await;
    let partner = store.audited_partners().await.unwrap()[0];
    let scope = comanda_security::TenantScope::from_proof(&comanda_security::tenancy::JobAuthority::new(
        "test", partner,
    ));
    let owner = store
        .list_staff(&scope, comanda_domain::PageRequest::default())
        .await
        .unwrap()
        .items
        .remove(0);
    assert_eq!(owner.email, OWNER_EMAIL);
    store.close().await;

    let older = ok(cwd, &["backup", "create", "--now", "2026-11-20T08:00:00Z"], env);
    assert!(older.contains("2026-11-20T08-00-00Z"), "{older}");

    let store = sealed_store(cwd, serving_url).await;
    let erasure = store
        .erase_person(
            &scope,
            owner.id,
            &comanda_store::identity::AuditEntry::new("privacy.erased"),
            time::OffsetDateTime::from(std::time::SystemTime::now()),
        )
        .await
        .unwrap();
    assert!(erasure.key_destroyed);
    // A tenant key for the partner (an invitation's address is sealed under it), then the partner is offboarded.
    let now = time::OffsetDateTime::from(std::time::SystemTime::now());
    let invited = comanda_store::identity::NewInvitation {
        id: uuid::Uuid::now_v7(),
        digest: vec![7; 32],
        email: "camarero@example.co".into(),
        name: "Camarero".into(),
        standing: comanda_domain::Standing {
            role: comanda_domain::Role::Server,
            payout_authority: false,
        },
        venues: comanda_domain::Venues::Every,
        invited_by: owner.id,
        expires_at: now + time::Duration::days(7),
    };
    let message = comanda_store::identity::OutboxMessage {
        id: uuid::Uuid::now_v7(),
        partner: Some(partner),
        recipient: "camarero@example.co".into(),
        subject: "Invitation".into(),
        body: "accept at …".into(),
        created_at: now,
    };
    store
        .create_invitation(
            &scope,
            &invited,
            &message,
            &comanda_store::identity::AuditEntry::new("staff.invited"),
            now,
        )
        .await
        .unwrap();
    store.close().await;
    let offboarded = ok(
        cwd,
        &["partners", "offboard", "--partner", &partner.to_string(), "--yes"],
        env,
    );
    assert!(offboarded.contains("data key(s) destroyed"), "{offboarded}");
    assert!(
        !offboarded.contains(" 0 data key(s)"),
        "the tenant key went: {offboarded}"
    );
    // Run again (an operator retrying): said so, and nothing is done or audited twice.
    let again = ok(
        cwd,
        &["partners", "offboard", "--partner", &partner.to_string(), "--yes"],
        env,
    );
    assert!(again.contains("was offboarded already"), "{again}");
    let listed = ok(cwd, &["partners", "list"], env);
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with(&partner.to_string()) && l.ends_with("OFFBOARDED")),
        "{listed}"
    );
    let store = sealed_store(cwd, serving_url).await;
    let scope = comanda_security::TenantScope::from_proof(&comanda_security::tenancy::JobAuthority::new(
        "test", partner,
    ));
    let filter = comanda_store::audit::AuditFilter {
        action: Some("partner.offboarded".into()),
        ..Default::default()
    };
    let entries = store
        .search_audit(&scope, &filter, comanda_domain::PageRequest::default())
        .await
        .unwrap();
    assert_eq!(entries.items.len(), 1, "one offboarding audited");
    store.close().await;
    // An invitation sent before cannot make a new member of it, and its mail is never sent.
    let store = sealed_store(cwd, serving_url).await;
    assert_eq!(store.invitation_by_digest(&[7; 32]).await.unwrap(), None);
    assert!(
        !store
            .pending_messages(100)
            .await
            .unwrap()
            .iter()
            .any(|m| m.partner == Some(partner)),
        "the invitation's mail still queued"
    );
    store.close().await;

    let engine = if serving_url.starts_with("sqlite") {
        "sqlite"
    } else {
        "postgresql"
    };
    let name = format!("2026-11-20T08-00-00Z-{engine}.cmdb.age");
    if engine == "sqlite" {
        // A running server (here, a store left open) keeps its file: a restore under it is refused, since the
        // server's writes would go to the replaced file and be lost at its next start.
        let running = sealed_store(cwd, serving_url).await;
        let refused = comanda(cwd, &["backup", "restore", &name, "--yes"], env);
        let said = String::from_utf8_lossy(&refused.stderr).into_owned();
        assert!(
            !refused.status.success() && said.contains("in use by a running comanda process"),
            "{said}"
        );
        running.close().await;
    }
    ok(cwd, &["backup", "restore", &name, "--yes"], env);

    let store = sealed_store(cwd, serving_url).await;
    let restored = store.staff_member(&scope, owner.id).await.unwrap();
    assert_eq!(
        (restored.email.as_str(), restored.name.as_str()),
        (comanda_store::sealing::ERASED, comanda_store::sealing::ERASED),
        "the older backup brought the row back, not the person"
    );
    store.close().await;
    partner.to_string()
}

/// The data keys of `partner` in a SQLite file.
async fn sqlite_keys_of(path: &Path, partner: &str) -> i64 {
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let mut keys = 0;
    for table in ["tenant_keys", "person_keys"] {
        keys += sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {table} WHERE partner_id = ?1"
        )))
        .bind(partner)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    }
    let _ = conn.close().await;
    keys
}

#[tokio::test]
async fn sqlite_an_erased_person_stays_erased_after_an_older_backup_is_restored() {
    let cwd = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}",
        cwd.path().join("comanda-data/comanda.db").display()
    );
    let partner =
        an_erased_person_stays_erased_after_an_older_backup_is_restored(cwd.path(), &[], &url).await;
    let data = cwd.path().join("comanda-data");
    let raw = std::fs::read(data.join("comanda.db")).unwrap();
    assert!(!String::from_utf8_lossy(&raw).contains(OWNER_EMAIL));
    // The partner's and the person's keys are nowhere but in the key-store backups: not in the live database, not
    // in the copy the restore kept of the database it replaced, not in the ordinary backup that was restored.
    assert_eq!(sqlite_keys_of(&data.join("comanda.db"), &partner).await, 0);
    let kept: Vec<PathBuf> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".pre-restore-") && !p.to_string_lossy().ends_with("-wal"))
        .filter(|p| !p.to_string_lossy().ends_with("-shm"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(
        sqlite_keys_of(&kept[0], &partner).await,
        0,
        "the kept copy holds no key"
    );
    let key_text = std::fs::read_to_string(data.join("backup.key")).unwrap();
    let identity = age::x25519::Identity::from_str(
        key_text
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-"))
            .unwrap(),
    )
    .unwrap();
    for object in backup_objects(&data.join("backups/a")) {
        let plain = decrypt(&std::fs::read(&object).unwrap(), &identity).unwrap();
        let snapshot = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(snapshot.path(), plain).unwrap();
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", snapshot.path().display()))
            .await
            .unwrap();
        for table in ["tenant_keys", "person_keys"] {
            let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&mut conn)
                .await
                .unwrap();
            assert_eq!(rows, 0, "{table} rides along in {}", object.display());
        }
        let _ = conn.close().await;
    }
    // Key-store backups hold keys, but only for their window (7 days): pruning writes a fresh one and deletes the
    // older ones, so the one taken with the older backup (ten days ago) goes, and what stays holds neither key.
    let keystore_key = std::fs::read_to_string(data.join("keystore-backup.key")).unwrap();
    let keystore_identity = age::x25519::Identity::from_str(
        keystore_key
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-"))
            .unwrap(),
    )
    .unwrap();
    let keystore = data.join("backups/a/keystore");
    let holds_partner = |path: &Path| {
        let plain = decrypt(&std::fs::read(path).unwrap(), &keystore_identity).unwrap();
        String::from_utf8_lossy(&plain).contains(&partner)
    };
    let before: Vec<PathBuf> = std::fs::read_dir(&keystore)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(
        before.iter().any(|p| holds_partner(p)),
        "the older key-store backup holds the keys"
    );
    ok(cwd.path(), &["backup", "prune"], &[]);
    let after: Vec<PathBuf> = std::fs::read_dir(&keystore)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(after.len(), 1, "{after:?}");
    assert!(
        !holds_partner(&after[0]),
        "no key-store backup younger than the window holds the keys"
    );
}

#[tokio::test]
async fn postgresql_an_erased_person_stays_erased_after_an_older_backup_is_restored() {
    let db = PgTestDatabase::create().await;
    let mut superuser = sqlx::PgConnection::connect(&db.superuser_url()).await.unwrap();
    sqlx::raw_sql(
        "DO $$ BEGIN
           IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'comanda_backup') THEN
             CREATE ROLE comanda_backup LOGIN BYPASSRLS CREATEDB;
             GRANT pg_read_all_data TO comanda_backup;
           END IF;
         END $$",
    )
    .execute(&mut superuser)
    .await
    .unwrap();
    // Closed while the scenario restores: a restore refuses a database other sessions are on.
    let _ = superuser.close().await;
    let (app, owner, backup) = (
        db.app_url(),
        db.owner_url(),
        db.cluster.url("comanda_backup", &db.name),
    );
    let env = [
        ("DATABASE_URL", app.as_str()),
        ("COMANDA_DATABASE__MIGRATION_URL", owner.as_str()),
        ("COMANDA_BACKUP__DATABASE_URL", backup.as_str()),
    ];
    let cwd = tempfile::tempdir().unwrap();
    let partner =
        an_erased_person_stays_erased_after_an_older_backup_is_restored(cwd.path(), &env, &app).await;
    // Neither the partner's key nor the person's is in the live database (the superuser sees every row).
    let mut superuser = sqlx::PgConnection::connect(&db.superuser_url()).await.unwrap();
    for table in ["tenant_keys", "person_keys"] {
        let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {table} WHERE partner_id = $1::uuid"
        )))
        .bind(&partner)
        .fetch_one(&mut superuser)
        .await
        .unwrap();
        assert_eq!(rows, 0, "{table}");
    }
}

/// Two backups started at once on one machine (the schedule and an operator's command) take turns: both succeed,
/// each whole, instead of writing the same names over each other and both failing with a critical alert.
#[tokio::test]
async fn two_backups_at_once_take_turns() {
    let cwd = tempfile::tempdir().unwrap();
    let cwd = cwd.path();
    seed(cwd, &[]).await;
    let spawn = || {
        Command::new(BIN)
            .current_dir(cwd)
            .args(["backup", "create"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (first, second) = (spawn(), spawn());
    for child in [first, second] {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    for target in ["a", "b"] {
        assert_eq!(
            backup_objects(&cwd.join("comanda-data/backups").join(target)).len(),
            2,
            "target {target}"
        );
    }
}

/// The newest backup corrupt on every target: the restore stops, and names the backups before it, the way on.
#[tokio::test]
async fn a_corrupt_newest_backup_names_the_ones_before_it() {
    let cwd = tempfile::tempdir().unwrap();
    let cwd = cwd.path();
    seed(cwd, &[]).await;
    ok(cwd, &["backup", "create", "--now", "2026-11-20T08:00:00Z"], &[]);
    ok(cwd, &["backup", "create", "--now", "2026-11-21T08:00:00Z"], &[]);
    for target in ["a", "b"] {
        let newest = cwd
            .join("comanda-data/backups")
            .join(target)
            .join("backups/2026-11-21T08-00-00Z-sqlite.cmdb.age");
        std::fs::write(&newest, b"not what was written").unwrap();
    }
    let refused = comanda(cwd, &["backup", "restore", "--yes"], &[]);
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success()
            && said.contains("no intact copy")
            && said.contains("the backups before it: 2026-11-20T08-00-00Z-sqlite.cmdb.age"),
        "{said}"
    );
}
