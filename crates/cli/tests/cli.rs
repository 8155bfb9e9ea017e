//! The real `comanda` binary, started as an operator would start it.

#![allow(clippy::unwrap_used)] // test helpers fail loudly on purpose

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use comanda_store::testing::PgTestDatabase;

const BIN: &str = env!("CARGO_BIN_EXE_comanda");

/// A running `comanda serve` whose output is collected line by line.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn spawn(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(BIN);
        command
            .current_dir(cwd)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().unwrap();
        let (tx, lines) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a line containing `needle`, returning it.
    fn wait_for(&mut self, needle: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            if let Some(line) = self.seen.iter().find(|l| l.contains(needle)) {
                return line.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!(
                    "no line with {needle:?} within {within:?}; output:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    fn https_port(&mut self) -> u16 {
        let line = self.wait_for("listening on https://", Duration::from_secs(30));
        line.rsplit(':').next().unwrap().trim().parse().unwrap()
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Sends SIGTERM and waits for a clean exit, returning everything it printed.
    fn terminate(mut self) -> String {
        self.signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "exit status {status}");
                break;
            }
            assert!(Instant::now() < deadline, "no exit within 15 s of SIGTERM");
            std::thread::park_timeout(Duration::from_millis(50));
        }
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.seen.push(line);
        }
        self.seen.join("\n")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

async fn get_status(client: &reqwest::Client, url: &str) -> Option<u16> {
    client.get(url).send().await.ok().map(|r| r.status().as_u16())
}

/// The acceptance line: no configuration at all, the default port, healthy within 3 s of start.
#[tokio::test]
async fn serve_with_no_configuration_answers_healthz_within_3s() {
    let cwd = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut server = Running::spawn(cwd.path(), &["serve"], &[]);
    let cert = cwd.path().join("comanda-data/tls/cert.pem");
    let mut healthy = false;
    while started.elapsed() < Duration::from_secs(3) {
        if cert.exists()
            && get_status(&https_client(&cert), "https://localhost:8443/healthz").await == Some(200)
        {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(healthy, "no 200 from https://127.0.0.1:8443/healthz within 3 s");
    let banner = server.wait_for("listening on https://127.0.0.1:8443", Duration::from_secs(1));
    assert!(banner.contains("8443"));
    server.wait_for("database: sqlite", Duration::from_secs(1));
    server.wait_for("KMS: local key file", Duration::from_secs(1));
    server.wait_for("TLS: self-signed certificate", Duration::from_secs(1));
    // What an operator behind a balancer, or waiting for pages, needs to see at a glance.
    server.wait_for("trusted proxies: none", Duration::from_secs(1));
    server.wait_for(
        "alerts: the alerts table and the error log only",
        Duration::from_secs(1),
    );
    let output = server.terminate();
    assert!(
        output.contains("SIGTERM received") && output.contains("stopped"),
        "{output}"
    );
    for file in [
        "comanda.db",
        "kms.key",
        "platform.key.wrapped",
        "tls/cert.pem",
        "tls/key.pem",
    ] {
        assert!(cwd.path().join("comanda-data").join(file).exists(), "{file}");
    }
}

#[tokio::test]
async fn serve_runs_on_postgresql_from_database_url() {
    let db = PgTestDatabase::create().await;
    let cwd = tempfile::tempdir().unwrap();
    let mut server = Running::spawn(
        cwd.path(),
        &["serve", "--listen", "127.0.0.1:0"],
        &[
            ("DATABASE_URL", &db.app_url()),
            ("COMANDA_DATABASE__MIGRATION_URL", &db.owner_url()),
        ],
    );
    let port = server.https_port();
    server.wait_for("database: postgresql", Duration::from_secs(5));
    let client = https_client(&cwd.path().join("comanda-data/tls/cert.pem"));
    let ready: serde_json::Value = client
        .get(format!("https://localhost:{port}/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["database"], "postgresql");
    server.terminate();
}

#[tokio::test]
async fn log_lines_never_carry_secrets_or_card_numbers() {
    let cwd = tempfile::tempdir().unwrap();
    let mut server = Running::spawn(cwd.path(), &["serve", "--listen", "127.0.0.1:0"], &[]);
    let port = server.https_port();
    let client = https_client(&cwd.path().join("comanda-data/tls/cert.pem"));
    let post = |report: serde_json::Value| {
        client
            .post(format!("https://localhost:{port}/api/v1/csp-reports"))
            .header("content-type", "application/csp-report")
            .header("authorization", "Bearer eyJhbGciOiJFZERTQSJ9.c2VjcmV0.sig")
            .body(report.to_string())
            .send()
    };
    // Refused by the PAN guard, which logs where the number was, never the number.
    let with_cards = post(serde_json::json!({"csp-report": {
        "document-uri": "https://localhost/pay?card=4242424242424242",
        "blocked-uri": "https://evil.example/skim.js?pan=5555 5555 5555 4444"
    }}))
    .await
    .unwrap();
    assert_eq!(with_cards.status().as_u16(), 400);
    // Accepted and logged, with the secrets it carries redacted.
    let with_secrets = post(serde_json::json!({"csp-report": {
        "document-uri": "https://localhost/x",
        "violated-directive": "script-src password=hunter2hunter2",
        "blocked-uri": "https://evil.example/skim.js?token=tok_sEcReT123"
    }}))
    .await
    .unwrap();
    assert_eq!(with_secrets.status().as_u16(), 204);
    server.wait_for("card-like number refused", Duration::from_secs(5));
    server.wait_for("content security policy violation", Duration::from_secs(5));
    let output = server.terminate();
    for secret in [
        "4242424242424242",
        "5555 5555 5555 4444",
        "hunter2hunter2",
        "tok_sEcReT123",
        "c2VjcmV0",
    ] {
        assert!(!output.contains(secret), "{secret} reached the log:\n{output}");
    }
    assert!(output.contains("[redacted"), "{output}");
    // The access log names the route, never the raw path, with the request id and client address.
    let access = output
        .lines()
        .find(|l| {
            l.contains("\"target\":\"access\"")
                && l.contains("/api/v1/csp-reports")
                && l.contains("\"status\":204")
        })
        .unwrap_or_else(|| panic!("no access log line:\n{output}"));
    let access: serde_json::Value = serde_json::from_str(access).unwrap();
    assert_eq!(access["status"], 204);
    assert_eq!(access["client"], "127.0.0.1");
    assert_eq!(access["request_id"].as_str().unwrap().len(), 36);
}

/// PAY-1 end to end on the embedded default: `4242 4242 4242 4242` sent in a body, a query string, a header and a
/// path is refused each time, and afterwards the digits are in no log line and in no file of the data directory
/// (the SQLite database, its WAL, the outbox).
#[tokio::test]
async fn a_card_number_reaches_no_log_and_no_table() {
    let cwd = tempfile::tempdir().unwrap();
    let mut server = Running::spawn(cwd.path(), &["serve", "--listen", "127.0.0.1:0"], &[]);
    let port = server.https_port();
    let client = https_client(&cwd.path().join("comanda-data/tls/cert.pem"));
    let url = |path: &str| format!("https://localhost:{port}{path}");
    // Real rows first, so the scan has a database with data in it.
    let signup = client
        .post(url("/api/v1/signup"))
        .json(
            &serde_json::json!({"business_name": "Tarjetas S.A.S.", "country": "CO",
               "owner": {"name": "Ana", "email": "ana@example.co", "password": "violet kettle forty two"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status().as_u16(), 201);
    let attempts = [
        client
            .post(url("/api/v1/t/abc/payments"))
            .json(&serde_json::json!({"split": {"kind": "full"}, "card": {"number": "4242 4242 4242 4242"}})),
        client.post(url("/api/v1/signup")).json(
            &serde_json::json!({"business_name": "4242 4242 4242 4242", "country": "CO",
                   "owner": {"name": "x", "email": "y@example.co", "password": "violet kettle forty two"}}),
        ),
        client.get(url("/api/v1/t/abc/bill?card=4242%204242%204242%204242")),
        client
            .get(url("/healthz"))
            .header("x-card", "4242 4242 4242 4242"),
        client.get(url("/t/4242-4242-4242-4242/pay")),
        // Issue 15: glued to a letter or an underscore, the number is still refused and still kept out of the log.
        client.post(url("/api/v1/signup")).json(
            &serde_json::json!({"business_name": "x4242424242424242", "country": "CO",
                   "owner": {"name": "_4242424242424242", "email": "z@example.co",
                             "password": "violet kettle forty two"}}),
        ),
        client
            .post(url("/api/v1/csp-reports"))
            .json(&serde_json::json!({"name": "x4242424242424242"})),
    ];
    for attempt in attempts {
        let refused = attempt.send().await.unwrap();
        assert_eq!(refused.status().as_u16(), 400);
        assert!(!refused.text().await.unwrap().contains("4242"));
    }
    server.wait_for("card-like number refused", Duration::from_secs(5));
    let output = server.terminate();
    let forms = [
        "4242424242424242",
        "4242 4242 4242 4242",
        "4242-4242-4242-4242",
        "4242%204242",
    ];
    for form in forms {
        assert!(!output.contains(form), "{form} reached the log:\n{output}");
    }
    let mut scanned = 0;
    let mut workload_seen = false;
    let mut stack = vec![cwd.path().join("comanda-data")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            for form in forms {
                assert!(!text.contains(form), "{form} found in {}", path.display());
            }
            workload_seen |= text.contains("Tarjetas S.A.S.");
            scanned += 1;
        }
    }
    assert!(
        scanned >= 3,
        "the database and its neighbours were scanned ({scanned})"
    );
    assert!(workload_seen, "the scan read the database's real rows");
}

#[tokio::test]
async fn certificate_files_reload_on_sighup_and_on_change() {
    let cwd = tempfile::tempdir().unwrap();
    let data = cwd.path().join("comanda-data");
    let (cert, key) = (data.join("tls/cert.pem"), data.join("tls/key.pem"));
    let leaf = |trusted: &Path, port: u16| {
        let trusted = trusted.to_path_buf();
        async move {
            let client = https_client(&trusted);
            get_status(&client, &format!("https://localhost:{port}/healthz")).await == Some(200)
        }
    };
    let now = comanda_domain::Clock::now(&comanda_server::SystemClock);

    // SIGHUP: the periodic check is far off, so only the signal can explain the new certificate.
    let mut server = Running::spawn(
        cwd.path(),
        &["serve", "--listen", "127.0.0.1:0"],
        &[("COMANDA_TLS__RELOAD_CHECK_SECS", "3600")],
    );
    let port = server.https_port();
    assert!(leaf(&cert, port).await);
    let new_cert = cwd.path().join("renewed.pem");
    comanda_server::tls::write_self_signed(&new_cert, &cwd.path().join("renewed.key"), now).unwrap();
    std::fs::copy(&new_cert, &cert).unwrap();
    std::fs::copy(cwd.path().join("renewed.key"), &key).unwrap();
    assert!(!leaf(&new_cert, port).await, "not reloaded before the signal");
    server.signal("HUP");
    server.wait_for("TLS certificate reloaded", Duration::from_secs(5));
    assert!(
        leaf(&new_cert, port).await,
        "serving the renewed certificate after SIGHUP"
    );
    server.terminate();

    // File change alone, with a one-second check.
    let mut server = Running::spawn(
        cwd.path(),
        &["serve", "--listen", "127.0.0.1:0"],
        &[("COMANDA_TLS__RELOAD_CHECK_SECS", "1")],
    );
    let port = server.https_port();
    let third = cwd.path().join("third.pem");
    comanda_server::tls::write_self_signed(&third, &cwd.path().join("third.key"), now).unwrap();
    std::fs::copy(&third, &cert).unwrap();
    std::fs::copy(cwd.path().join("third.key"), &key).unwrap();
    server.wait_for("TLS certificate reloaded", Duration::from_secs(5));
    assert!(
        leaf(&third, port).await,
        "serving the changed certificate without a signal"
    );
    server.terminate();
}

#[test]
fn config_prints_the_effective_configuration_with_secrets_redacted() {
    let cwd = tempfile::tempdir().unwrap();
    let file = cwd.path().join("comanda.toml");
    std::fs::write(
        &file,
        "[server]\nlisten = \"0.0.0.0:9443\"\n[metrics]\ntoken = \"file-secret-token\"\n",
    )
    .unwrap();
    let output = Command::new(BIN)
        .current_dir(cwd.path())
        .args(["config", "--config", file.to_str().unwrap()])
        .env(
            "DATABASE_URL",
            "postgres://app:pa55w0rd-in-url@db.internal/comanda",
        )
        .env("COMANDA_LOG__LEVEL", "debug")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8(output.stdout).unwrap();
    assert!(
        printed.contains("listen = \"0.0.0.0:9443\""),
        "file value: {printed}"
    );
    assert!(
        printed.contains("level = \"debug\""),
        "environment value: {printed}"
    );
    assert!(
        !printed.contains("pa55w0rd-in-url") && !printed.contains("file-secret-token"),
        "{printed}"
    );
    assert!(printed.contains("[redacted]"), "{printed}");
    // What the defaults resolve to, for the operator who has to find the key file at 3 a.m.; comments, so the
    // output still reads back as a configuration file.
    let derived = printed
        .split("# What the settings above resolve to")
        .nth(1)
        .unwrap_or_default();
    assert!(
        derived.contains("PostgreSQL at database.url")
            && derived.contains("comanda-data/kms.key")
            && derived.contains("comanda-data/backups/a")
            && derived.contains("https://localhost:9443 (server.public_url unset)")
            && derived
                .lines()
                .skip(1)
                .all(|l| l.is_empty() || l.starts_with('#')),
        "{printed}"
    );
    assert!(!derived.contains("pa55w0rd-in-url"), "{derived}");
}

/// A setting that wants text takes digits from the environment as written (a PIN `0123` read as the number 123 was
/// refused, and a leading zero would have been lost); a value of the wrong type, secret or not, is refused without
/// being printed.
#[test]
fn environment_digits_are_text_where_text_is_wanted_and_refusals_never_print_the_value() {
    let cwd = tempfile::tempdir().unwrap();
    let config = |env: &[(&str, &str)], file: Option<&str>| {
        let mut command = Command::new(BIN);
        command.current_dir(cwd.path()).arg("config");
        if let Some(text) = file {
            let path = cwd.path().join("pin.toml");
            std::fs::write(&path, text).unwrap();
            command.args(["--config", path.to_str().unwrap()]);
        }
        for (key, value) in env {
            command.env(key, value);
        }
        command.output().unwrap()
    };
    let accepted = config(
        &[
            ("COMANDA_KMS__PKCS11__PIN", "0123"),
            ("COMANDA_KMS__PKCS11__TOKEN_LABEL", "0042"),
            ("COMANDA_METRICS__TOKEN", "0987654321"),
            ("COMANDA_AUTH__ACCESS_TTL_SECS", "600"),
        ],
        None,
    );
    let printed = String::from_utf8_lossy(&accepted.stdout);
    assert!(
        accepted.status.success(),
        "{}",
        String::from_utf8_lossy(&accepted.stderr)
    );
    assert!(
        printed.contains("token_label = \"0042\"") && printed.contains("access_ttl_secs = 600"),
        "{printed}"
    );
    assert!(
        !printed.contains("0123") && !printed.contains("0987654321"),
        "{printed}"
    );
    for (env, file) in [
        (vec![("COMANDA_AUTH__ACCESS_TTL_SECS", "s3cr3t-value")], None),
        (vec![], Some("[kms.pkcs11]\npin = 975312468\n")),
    ] {
        let refused = config(&env, file);
        let said = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(2), "{said}");
        assert!(said.contains("invalid type: found"), "{said}");
        assert!(
            !said.contains("s3cr3t-value") && !said.contains("975312468"),
            "{said}"
        );
    }
    // A file that is not TOML is refused by its line and column, without the line it quotes (a key in it).
    let broken = config(
        &[],
        Some("[payments]\nsecret_key = \"sk_live_TOMLLEAK123456\" x\n"),
    );
    let said = String::from_utf8_lossy(&broken.stderr);
    assert_eq!(broken.status.code(), Some(2), "{said}");
    assert!(said.contains("line 2"), "{said}");
    assert!(!said.contains("TOMLLEAK"), "{said}");
}

#[test]
fn invalid_configuration_is_refused_with_the_field_named() {
    let cwd = tempfile::tempdir().unwrap();
    for (env, expected) in [
        (("COMANDA_SERVER__LISTEN", "not-an-address"), "listen"),
        (
            ("COMANDA_SERVER__BODY_LIMIT_BYTES", "10"),
            "server.body_limit_bytes",
        ),
        (("COMANDA_SERVR__LISTEN", "127.0.0.1:1"), "servr"),
        (("DATABASE_URL", "mysql://nope"), "database.url"),
    ] {
        let output = Command::new(BIN)
            .current_dir(cwd.path())
            .arg("config")
            .env(env.0, env.1)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{env:?}");
        let stderr = String::from_utf8_lossy(&output.stderr).to_lowercase();
        assert!(stderr.contains(expected), "{env:?}: {stderr}");
    }
}

/// Issue 15: `auth.bcrypt_cost = 10` without the insecure demo switch refuses to start with a clear message; with
/// it, the server starts and `comanda controls` shows AUTH-2 failing.
#[test]
fn a_cost_below_twelve_needs_the_insecure_switch_and_then_fails_its_control() {
    let cwd = tempfile::tempdir().unwrap();
    let refused = Command::new(BIN)
        .current_dir(cwd.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("COMANDA_AUTH__BCRYPT_COST", "10")
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("auth.bcrypt_cost") && stderr.contains("AUTH-2") && stderr.contains("insecure_demo"),
        "{stderr}"
    );
    let controls = Command::new(BIN)
        .current_dir(cwd.path())
        .arg("controls")
        .env("COMANDA_AUTH__BCRYPT_COST", "10")
        .env("COMANDA_INSECURE_DEMO", "true")
        .output()
        .unwrap();
    assert!(controls.status.success());
    let shown = String::from_utf8_lossy(&controls.stdout);
    assert!(shown.contains("AUTH-2   FAILING"), "{shown}");
    assert!(
        shown.contains("FAILING with this configuration: AUTH-2, BAK-3, MON-4, REST-1"),
        "{shown}"
    );
}

#[test]
fn migrate_applies_once_then_reports_up_to_date() {
    let cwd = tempfile::tempdir().unwrap();
    let run = || {
        Command::new(BIN)
            .current_dir(cwd.path())
            .args(["migrate", "--data-dir", "db-here"])
            .output()
            .unwrap()
    };
    let first = run();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(String::from_utf8_lossy(&first.stdout).contains("applied migration 1"));
    let second = run();
    assert!(String::from_utf8_lossy(&second.stdout).contains("schema is up to date"));
    assert!(cwd.path().join("db-here/comanda.db").exists());
    // The first migrate made the key file and the platform key with it: a `serve` after it (the PostgreSQL order)
    // does not take the directory for one from before envelope encryption.
    let wrapped = cwd.path().join("db-here/platform.key.wrapped");
    assert!(wrapped.exists());
    // The key file lost, the platform key sealed under it still there: refused by name, no new key file made.
    std::fs::remove_file(cwd.path().join("db-here/kms.key")).unwrap();
    let lost = run();
    let said = String::from_utf8_lossy(&lost.stderr);
    assert!(
        !lost.status.success() && said.contains("is missing, and") && said.contains("copy back the kms.key"),
        "{said}"
    );
    assert!(!cwd.path().join("db-here/kms.key").exists());
}

#[test]
fn keys_rotate_adds_a_key_the_previous_keeps_verifying_unless_revoked() {
    let cwd = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let output = Command::new(BIN)
            .current_dir(cwd.path())
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    run(&["migrate"]);
    let first = run(&["keys", "rotate"]);
    let second = run(&["keys", "rotate"]);
    assert!(first.starts_with("new signing key ") && second.starts_with("new signing key "));
    assert_ne!(first, second);
    let listed = run(&["keys", "list"]);
    let kid = |line: &str| line.trim().rsplit(' ').next().unwrap().to_owned();
    // `kid  created …  state`: the state of one key in a listing.
    let state_in = |listed: &str, kid: &str| {
        let line = listed.lines().find(|l| l.starts_with(kid)).unwrap_or_default();
        line.rsplit("  ").next().unwrap_or_default().to_owned()
    };
    let state = |kid: &str| state_in(&listed, kid);
    assert_eq!(listed.lines().count(), 2, "{listed}");
    assert_eq!(
        state(&kid(&first)),
        "verifies",
        "the previous key still verifies: {listed}"
    );
    assert_eq!(
        state(&kid(&second)),
        "signs",
        "the newest key is the one signing: {listed}"
    );

    // A leaked key: revoked with the rotation that replaces it.
    let third = run(&["keys", "rotate", "--revoke-previous"]);
    assert!(third.contains("every older key revoked"), "{third}");
    let third = kid(third.lines().next().unwrap());
    let listed = run(&["keys", "list"]);
    let state = |kid: &str| state_in(&listed, kid);
    assert!(state(&kid(&first)).starts_with("revoked "), "{listed}");
    assert!(state(&kid(&second)).starts_with("revoked "), "{listed}");
    assert_eq!(state(&third), "signs", "{listed}");
}

/// `comanda payments reconcile` runs the reconciliation job once against the configured Stripe (here the stand-in,
/// holding a succeeded PaymentIntent comanda never made: a mismatch, exit 1) and refuses demo mode, whose stand-in
/// lives inside `comanda serve`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_reconcile_reports_mismatches_with_its_exit_status() {
    use comanda_payments::standin::{StandIn, StandInConfig};
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cwd = tempfile::tempdir().unwrap();
    ok_in(cwd.path(), &["migrate"], &[]);
    let demo = Command::new(BIN)
        .current_dir(cwd.path())
        .args(["payments", "reconcile"])
        .output()
        .unwrap();
    assert!(!demo.status.success());
    assert!(String::from_utf8_lossy(&demo.stderr).contains("demo mode"));

    let standin = StandIn::start(
        StandInConfig::generate(),
        std::sync::Arc::new(comanda_domain::SystemClock),
    )
    .await
    .unwrap();
    let keys = standin.config();
    let env = [
        ("COMANDA_PAYMENTS__PROVIDER", "stripe".to_owned()),
        ("COMANDA_PAYMENTS__API_BASE", standin.api_base()),
        ("COMANDA_PAYMENTS__SECRET_KEY", keys.secret_key.clone()),
        ("COMANDA_PAYMENTS__PUBLISHABLE_KEY", keys.publishable_key.clone()),
        (
            "COMANDA_PAYMENTS__WEBHOOK_SECRET",
            keys.platform_endpoint.secret.clone(),
        ),
        (
            "COMANDA_PAYMENTS__CONNECT_WEBHOOK_SECRET",
            keys.connect_endpoint.secret.clone(),
        ),
    ];
    let reconcile = || {
        let mut command = Command::new(BIN);
        command
            .current_dir(cwd.path())
            .args(["payments", "reconcile", "--hours", "1"]);
        for (key, value) in &env {
            command.env(key, value);
        }
        command.output().unwrap()
    };
    let clean = reconcile();
    assert!(
        clean.status.success(),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );
    assert!(String::from_utf8_lossy(&clean.stdout).contains("every paid bill matches"));

    // A payment taken at Stripe that no bill of comanda knows.
    let http = reqwest::Client::new();
    let form = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    };
    let intent: serde_json::Value = http
        .post(format!("{}/v1/payment_intents", standin.api_base()))
        .bearer_auth(&keys.secret_key)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("amount", "5000"), ("currency", "cop")]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = intent["id"].as_str().unwrap();
    http.post(format!("{}/v1/payment_intents/{id}/confirm", standin.api_base()))
        .bearer_auth(&keys.secret_key)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("payment_method", "pm_card_visa")]))
        .send()
        .await
        .unwrap();
    let mismatch = reconcile();
    assert_eq!(
        mismatch.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&mismatch.stderr)
    );
    let stdout = String::from_utf8_lossy(&mismatch.stdout);
    assert!(stdout.contains("MISMATCH") && stdout.contains(id), "{stdout}");

    // `comanda payments webhooks setup` creates both endpoints at the pinned version and prints their secrets.
    let mut setup = Command::new(BIN);
    setup.current_dir(cwd.path()).args([
        "payments",
        "webhooks",
        "setup",
        "--url",
        "https://comanda.example",
    ]);
    for (key, value) in &env {
        setup.env(key, value);
    }
    let setup = setup.output().unwrap();
    let printed = String::from_utf8_lossy(&setup.stdout);
    assert!(
        setup.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&setup.stderr)
    );
    for line in [
        "https://comanda.example/api/v1/webhooks/stripe (",
        "https://comanda.example/api/v1/webhooks/stripe/connect (",
    ] {
        assert!(printed.contains(line), "{printed}");
    }
    assert!(
        printed.contains("set payments.webhook_secret = \"whsec_"),
        "{printed}"
    );
    assert!(
        printed.contains("set payments.connect_webhook_secret = \"whsec_"),
        "{printed}"
    );
    let endpoints: serde_json::Value = http
        .get(format!("{}/v1/webhook_endpoints", standin.api_base()))
        .bearer_auth(&keys.secret_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let endpoints = endpoints["data"].as_array().unwrap();
    assert_eq!(endpoints.len(), 2, "{endpoints:?}");
    assert!(
        endpoints
            .iter()
            .all(|e| e["api_version"] == comanda_payments::stripe::API_VERSION),
        "{endpoints:?}"
    );
    // The stand-in now delivers with the new secrets, each kind of event only to its endpoint.
    let config = standin.config();
    assert_eq!(
        config.connect_endpoint.url.as_deref(),
        Some("https://comanda.example/api/v1/webhooks/stripe/connect")
    );
    assert!(
        printed.contains(&config.connect_endpoint.secret)
            && printed.contains(&config.platform_endpoint.secret)
    );

    // An endpoint an older comanda made lacks the refund events a newer one reads: run again after the upgrade,
    // setup gives it them and keeps its secret; the other endpoint is left as it is, and none is made twice.
    let platform = endpoints
        .iter()
        .find(|e| e["url"] == "https://comanda.example/api/v1/webhooks/stripe")
        .unwrap();
    let older: Vec<(&str, &str)> = platform["enabled_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .filter(|e| !e.starts_with("refund."))
        .map(|e| ("enabled_events[]", e))
        .collect();
    let narrowed = http
        .post(format!(
            "{}/v1/webhook_endpoints/{}",
            standin.api_base(),
            platform["id"].as_str().unwrap()
        ))
        .bearer_auth(&keys.secret_key)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&older))
        .send()
        .await
        .unwrap();
    assert_eq!(narrowed.status(), 200);
    let again = comanda_in(
        cwd.path(),
        &[
            "payments",
            "webhooks",
            "setup",
            "--url",
            "https://comanda.example",
        ],
        &env.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>(),
    );
    let printed = String::from_utf8_lossy(&again.stdout);
    assert!(
        again.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(
        printed
            .contains("now also receives refund.updated, refund.failed; payments.webhook_secret unchanged"),
        "{printed}"
    );
    assert!(
        printed.contains("receives every event comanda reads; payments.connect_webhook_secret unchanged"),
        "{printed}"
    );
    let listed: serde_json::Value = http
        .get(format!("{}/v1/webhook_endpoints", standin.api_base()))
        .bearer_auth(&keys.secret_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 2, "{listed}");
    assert_eq!(
        standin.config().platform_endpoint.secret,
        config.platform_endpoint.secret
    );
}

/// A one-shot `comanda` command run in `cwd` (its data directory) with `env`.
fn comanda_in(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(BIN);
    command.current_dir(cwd).args(args).stdin(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

/// [`comanda_in`], which must succeed; its standard output.
fn ok_in(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let output = comanda_in(cwd, args, env);
    assert!(
        output.status.success(),
        "comanda {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The details of the alerts of `kind` in the SQLite database of `cwd`, oldest first.
async fn alert_details(cwd: &Path, kind: &str) -> Vec<String> {
    use sqlx::Connection as _;
    let mut db = sqlx::SqliteConnection::connect(&format!(
        "sqlite://{}",
        cwd.join("comanda-data/comanda.db").display()
    ))
    .await
    .unwrap();
    let details = sqlx::query_scalar("SELECT detail FROM alerts WHERE kind = $1 ORDER BY created_at")
        .bind(kind)
        .fetch_all(&mut db)
        .await
        .unwrap();
    let _ = db.close().await;
    details
}

/// What `comanda audit verify` prints and how it exits, run against the data directory (and database) of `cwd`.
fn audit_verify(cwd: &Path, env: &[(&str, &str)]) -> (bool, String) {
    let mut command = Command::new(BIN);
    command.current_dir(cwd).args(["audit", "verify"]);
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// Signs a partner up and fails a sign-in, so its chain holds two entries; returns the failure's entry id.
async fn audited_workload(cwd: &Path, env: &[(&str, &str)]) {
    let mut server = Running::spawn(cwd, &["serve", "--listen", "127.0.0.1:0"], env);
    let port = server.https_port();
    let client = https_client(&cwd.join("comanda-data/tls/cert.pem"));
    let signup = client
        .post(format!("https://localhost:{port}/api/v1/signup"))
        .json(
            &serde_json::json!({"business_name": "Cadena S.A.S.", "country": "CO",
               "owner": {"name": "Ana", "email": "ana@example.co", "password": "violet kettle forty two"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status().as_u16(), 201);
    let failed = client
        .post(format!("https://localhost:{port}/api/v1/auth/login"))
        .json(&serde_json::json!({"email": "ana@example.co", "password": "not the password at all"}))
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status().as_u16(), 401);
    server.terminate();
}

/// MON-5 acceptance on the embedded default (SQLite): someone with the database file edits one entry's payload
/// (dropping the append-only trigger first); `comanda audit verify` fails and names exactly that entry.
#[tokio::test]
async fn audit_verify_names_the_entry_edited_in_the_sqlite_file() {
    use sqlx::{Connection, Row, SqliteConnection};
    let cwd = tempfile::tempdir().unwrap();
    audited_workload(cwd.path(), &[]).await;
    let (ok, text) = audit_verify(cwd.path(), &[]);
    assert!(ok && text.contains("verified 2 entries"), "{text}");

    let url = format!(
        "sqlite://{}",
        cwd.path().join("comanda-data/comanda.db").display()
    );
    let mut conn = SqliteConnection::connect(&url).await.unwrap();
    let edited: String = sqlx::query("SELECT id FROM audit_events WHERE action = 'auth.sign_in_failed'")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get("id");
    sqlx::raw_sql(
        "DROP TRIGGER audit_events_no_update;
         UPDATE audit_events SET detail = 'nothing happened' WHERE action = 'auth.sign_in_failed';",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();

    let (ok, text) = audit_verify(cwd.path(), &[]);
    assert!(!ok, "verification must fail: {text}");
    assert!(
        text.contains(&format!("entry {edited}")) && text.contains("was edited"),
        "{text}"
    );
}

/// The same on PostgreSQL, tampered by a superuser who switches the triggers off: the entry is named.
#[tokio::test]
async fn audit_verify_names_the_entry_a_postgresql_superuser_edited() {
    use sqlx::{Connection, PgConnection, Row};
    let db = PgTestDatabase::create().await;
    let cwd = tempfile::tempdir().unwrap();
    let env = [
        ("DATABASE_URL", db.app_url()),
        ("COMANDA_DATABASE__MIGRATION_URL", db.owner_url()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    audited_workload(cwd.path(), &env).await;
    let (ok, text) = audit_verify(cwd.path(), &env);
    assert!(ok && text.contains("verified 2 entries"), "{text}");

    let mut superuser = PgConnection::connect(&db.superuser_url()).await.unwrap();
    let edited: uuid::Uuid = sqlx::query("SELECT id FROM audit_events WHERE action = 'partner.registered'")
        .fetch_one(&mut superuser)
        .await
        .unwrap()
        .get("id");
    sqlx::raw_sql(
        "ALTER TABLE audit_events DISABLE TRIGGER USER;
         UPDATE audit_events SET action = 'partner.renamed' WHERE action = 'partner.registered';
         ALTER TABLE audit_events ENABLE TRIGGER USER;",
    )
    .execute(&mut superuser)
    .await
    .unwrap();
    superuser.close().await.unwrap();

    let (ok, text) = audit_verify(cwd.path(), &env);
    assert!(!ok, "verification must fail: {text}");
    assert!(
        text.contains(&format!("entry {edited}")) && text.contains("was edited"),
        "{text}"
    );
}

#[test]
fn keys_rotate_kek_and_rewrap_move_the_platform_key_forward() {
    let cwd = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let output = Command::new(BIN)
            .current_dir(cwd.path())
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    // Nothing to rewrap where nothing is installed: said, and nothing is made there.
    let nowhere = Command::new(BIN)
        .current_dir(cwd.path())
        .args(["keys", "rewrap"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&nowhere.stderr);
    assert!(
        !nowhere.status.success() && said.contains("no data directory"),
        "{said}"
    );
    assert!(!cwd.path().join("comanda-data").exists());
    run(&["migrate"]);
    let first = run(&["keys", "rewrap"]);
    assert!(
        first.contains("already under key-encryption-key version 1"),
        "{first}"
    );
    let rotated = run(&["keys", "rotate-kek"]);
    assert!(
        rotated.contains("data key(s) in the database rewrapped"),
        "the database's data keys move too: {rotated}"
    );
    assert!(
        rotated.contains("from key-encryption-key version 1 to 2"),
        "{rotated}"
    );
    assert!(
        rotated.contains("platform.key.wrapped off the machine again"),
        "the off-machine copies are stale now: {rotated}"
    );
    let again = run(&["keys", "rewrap"]);
    assert!(
        again.contains("already under key-encryption-key version 2"),
        "{again}"
    );
    let key_file = std::fs::read_to_string(cwd.path().join("comanda-data/kms.key")).unwrap();
    assert!(
        key_file.contains("v1 ") && key_file.contains("v2 "),
        "old versions stay to decrypt"
    );
    // Two rotations started at once (two operators, a cron and a person): each runs whole or is refused, and the
    // platform key still opens (two at once once left it wrapped under a version no key file held).
    for _ in 0..3 {
        let spawn = || {
            Command::new(BIN)
                .current_dir(cwd.path())
                .args(["keys", "rotate-kek"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (first, second) = (spawn(), spawn());
        for child in [first, second] {
            let output = child.wait_with_output().unwrap();
            let said = String::from_utf8_lossy(&output.stderr);
            assert!(
                output.status.success() || said.contains("another `comanda keys rotate-kek`"),
                "{said}"
            );
        }
        run(&["keys", "list"]);
        run(&["keys", "rewrap"]);
    }
}

/// MON-7: with `errors.sentry_dsn` set, an error of the running binary reaches the Sentry-compatible service in
/// Sentry's envelope format (`X-Sentry-Auth` carrying the DSN's public key, an envelope header naming the event,
/// an `event` item): here the refusal of a broken certificate on SIGHUP. Warnings and lower do not leave.
#[tokio::test]
async fn errors_reach_a_sentry_compatible_service_when_a_dsn_is_set() {
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::HeaderMap;
    use std::sync::Mutex;

    type Envelopes = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;
    let envelopes: Envelopes = Arc::default();
    let sentry = axum::Router::new()
        .route(
            "/api/42/envelope/",
            axum::routing::post(
                |State(seen): State<Envelopes>, headers: HeaderMap, body: Bytes| async move {
                    seen.lock().unwrap().push((headers, body));
                    "{}"
                },
            ),
        )
        .with_state(envelopes.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sentry_port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, sentry).await });

    let cwd = tempfile::tempdir().unwrap();
    let dsn = format!("http://0123456789abcdef0123456789abcdef@127.0.0.1:{sentry_port}/42");
    let mut server = Running::spawn(
        cwd.path(),
        &["serve", "--listen", "127.0.0.1:0"],
        &[
            ("COMANDA_ERRORS__SENTRY_DSN", dsn.as_str()),
            ("COMANDA_ERRORS__ENVIRONMENT", "staging"),
            ("COMANDA_TLS__RELOAD_CHECK_SECS", "3600"),
        ],
    );
    server.https_port();
    std::fs::write(
        cwd.path().join("comanda-data/tls/cert.pem"),
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    server.signal("HUP");
    server.wait_for("TLS certificate reload refused", Duration::from_secs(5));
    let deadline = Instant::now() + Duration::from_secs(10);
    while envelopes.lock().unwrap().is_empty() {
        assert!(
            Instant::now() < deadline,
            "no envelope reached the Sentry endpoint"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let output = server.terminate();
    let seen = envelopes.lock().unwrap().clone();
    let (headers, body) = &seen[0];
    let auth = headers["x-sentry-auth"].to_str().unwrap();
    assert!(
        auth.starts_with("Sentry ") && auth.contains("sentry_key=0123456789abcdef0123456789abcdef"),
        "{auth}"
    );
    // An envelope: a header line, then per item a header line and its payload.
    let text = String::from_utf8(body.to_vec()).unwrap();
    let mut lines = text.lines();
    let header: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let item: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let event: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(item["type"], "event", "{text}");
    assert_eq!(
        header["event_id"].as_str().unwrap().replace('-', ""),
        event["event_id"].as_str().unwrap().replace('-', "")
    );
    // Sentry's protocol: an event without `level` is an error.
    assert!(matches!(event["level"].as_str(), None | Some("error")), "{event}");
    assert_eq!(event["environment"], "staging");
    assert_eq!(event["release"], concat!("comanda@", env!("CARGO_PKG_VERSION")));
    assert!(text.contains("TLS certificate reload refused"), "{text}");
    assert_eq!(
        seen.len(),
        1,
        "only the error left the process, not the info and warning lines:\n{output}"
    );
}

/// A stand-in OTLP/HTTP collector: what reaches `/v1/traces`, headers and body.
type Exports = Arc<std::sync::Mutex<Vec<(axum::http::HeaderMap, axum::body::Bytes)>>>;

async fn otlp_collector() -> (String, Exports) {
    use axum::extract::State;
    let exports: Exports = Arc::default();
    let collector = axum::Router::new()
        .route(
            "/v1/traces",
            axum::routing::post(
                |State(seen): State<Exports>, headers: axum::http::HeaderMap, body: axum::body::Bytes| async move {
                    seen.lock().unwrap().push((headers, body));
                    // An empty ExportTraceServiceResponse: everything accepted.
                    ([("content-type", "application/x-protobuf")], Vec::<u8>::new())
                },
            ),
        )
        .with_state(exports.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}/v1/traces", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, collector).await });
    (endpoint, exports)
}

/// Every resource's spans the collector has received, decoded with OpenTelemetry's own protobuf types.
fn received(exports: &Exports) -> Vec<opentelemetry_proto::tonic::trace::v1::ResourceSpans> {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message as _;
    exports
        .lock()
        .unwrap()
        .iter()
        .flat_map(|(_, body)| {
            ExportTraceServiceRequest::decode(body.clone())
                .expect("an OTLP ExportTraceServiceRequest")
                .resource_spans
        })
        .collect()
}

/// Waits until `count` spans have reached the collector.
async fn spans_received(exports: &Exports, count: usize) -> Vec<opentelemetry_proto::tonic::trace::v1::Span> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let spans: Vec<_> = received(exports)
            .into_iter()
            .flat_map(|r| r.scope_spans)
            .flat_map(|s| s.spans)
            .collect();
        if spans.len() >= count {
            return spans;
        }
        assert!(
            Instant::now() < deadline,
            "only {} spans reached the collector",
            spans.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// MON-1: with `traces.otlp_endpoint` set, every request's server span reaches an OTLP/HTTP collector, decoded here
/// with the OpenTelemetry project's own protobuf types (`opentelemetry-proto`, generated from the specification's
/// `.proto` files). The span follows the HTTP server conventions (name `{method} {route}`, kind server, method,
/// route, scheme and status attributes); behind a trusted proxy it continues the proxy's W3C `traceparent` and
/// leaves out a trace the proxy did not sample; it never carries the raw path of a guest's table token, and no log
/// line carries it. From a peer that is not a trusted proxy the `traceparent` is ignored: a new trace is started.
#[tokio::test]
async fn request_traces_reach_an_otlp_collector() {
    use opentelemetry_proto::tonic::common::v1::AnyValue;
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use opentelemetry_proto::tonic::trace::v1::Span;
    use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

    let sampled = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let unsampled = "00-11111111111111111111111111111111-2222222222222222-00";
    let serve = |endpoint: String, trusted: &'static str| {
        let cwd = tempfile::tempdir().unwrap();
        let server = Running::spawn(
            cwd.path(),
            &["serve", "--listen", "127.0.0.1:0"],
            &[
                ("COMANDA_TRACES__OTLP_ENDPOINT", endpoint.as_str()),
                (
                    "COMANDA_TRACES__OTLP_HEADERS__X_COLLECTOR_KEY",
                    "collector-secret",
                ),
                ("COMANDA_SERVER__TRUSTED_PROXIES", trusted),
                ("COMANDA_LOG__FORMAT", "pretty"),
                // The batch processor's delay (OpenTelemetry's environment variable), so spans leave while it
                // serves.
                ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ],
        );
        (cwd, server)
    };
    let text = |value: &Option<AnyValue>| match value.as_ref().and_then(|v| v.value.clone()) {
        Some(Value::StringValue(s)) => s,
        Some(Value::IntValue(i)) => i.to_string(),
        other => format!("{other:?}"),
    };
    let attribute = |span: &Span, key: &str| {
        span.attributes
            .iter()
            .find(|a| a.key == key)
            .map(|a| text(&a.value))
    };

    // Behind a trusted proxy (the test client stands in for it).
    let (endpoint, exports) = otlp_collector().await;
    let (cwd, mut server) = serve(endpoint, r#"["127.0.0.1"]"#);
    let port = server.https_port();
    let client = https_client(&cwd.path().join("comanda-data/tls/cert.pem"));
    let base = format!("https://127.0.0.1:{port}");
    let get = |path: &str, traceparent: Option<&str>| {
        let mut request = client.get(format!("{base}{path}"));
        if let Some(traceparent) = traceparent {
            request = request.header("traceparent", traceparent);
        }
        request.send()
    };
    assert_eq!(get("/healthz", Some(sampled)).await.unwrap().status(), 200);
    assert_eq!(get("/readyz", Some(unsampled)).await.unwrap().status(), 200);
    let guest = get("/api/v1/t/tbl_secretTableToken123", None).await.unwrap();
    assert!(guest.status().is_client_error(), "{}", guest.status());
    // A request whose handler logs (a CSP report is a warning line), to see the span stay out of log lines.
    let report = client
        .post(format!("{base}/api/v1/csp-reports"))
        .header("content-type", "application/csp-report")
        .body(r#"{"csp-report": {"violated-directive": "script-src", "blocked-uri": "inline"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(report.status(), 204);
    let all = spans_received(&exports, 3).await;
    let output = server.terminate();

    for (headers, body) in exports.lock().unwrap().iter() {
        assert_eq!(headers["content-type"], "application/x-protobuf");
        assert_eq!(headers["x_collector_key"], "collector-secret");
        assert!(
            !String::from_utf8_lossy(body).contains("secretTableToken"),
            "a table token in a trace"
        );
    }
    for resource in received(&exports) {
        let attributes = resource.resource.unwrap().attributes;
        let service = attributes.iter().find(|a| a.key == "service.name").unwrap();
        assert_eq!(text(&service.value), "comanda");
    }
    let health = all
        .iter()
        .find(|s| s.name == "GET /healthz")
        .expect("the health check's span");
    assert_eq!(health.kind, SpanKind::Server as i32);
    assert_eq!(
        hex(&health.trace_id),
        "0af7651916cd43dd8448eb211c80319c",
        "the proxy's trace"
    );
    assert_eq!(
        hex(&health.parent_span_id),
        "b7ad6b7169203331",
        "a child of the proxy's span"
    );
    assert_eq!(attribute(health, "http.request.method").as_deref(), Some("GET"));
    assert_eq!(attribute(health, "http.route").as_deref(), Some("/healthz"));
    assert_eq!(
        attribute(health, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(attribute(health, "url.scheme").as_deref(), Some("https"));
    assert!(health.end_time_unix_nano > health.start_time_unix_nano);
    assert!(health.events.is_empty(), "no log text rides along as span events");
    assert!(
        !all.iter()
            .any(|s| hex(&s.trace_id) == "11111111111111111111111111111111"),
        "a trace its proxy did not sample is not recorded"
    );
    let guest = all
        .iter()
        .find(|s| s.name == "GET /api/v1/t/{token}")
        .expect("the guest request's span, by route template");
    assert!(attribute(guest, "http.response.status_code").is_some());
    assert_eq!(
        all.len(),
        3,
        "one span per request and nothing else: {:?}",
        all.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    let violation = output
        .lines()
        .find(|line| line.contains("content security policy violation"))
        .expect("the handler's warning line");
    assert!(
        !violation.contains("request{"),
        "the request span stays out of log lines: {violation}"
    );
    assert!(!output.contains("otel."), "{output}");

    // From a peer that is not a trusted proxy, a `traceparent` starts nothing of the caller's choosing.
    let (endpoint, exports) = otlp_collector().await;
    let (cwd, mut server) = serve(endpoint, "[]");
    let port = server.https_port();
    let client = https_client(&cwd.path().join("comanda-data/tls/cert.pem"));
    let reply = client
        .get(format!("https://127.0.0.1:{port}/healthz"))
        .header("traceparent", unsampled)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let all = spans_received(&exports, 1).await;
    server.terminate();
    assert_ne!(
        hex(&all[0].trace_id),
        "11111111111111111111111111111111",
        "a new trace"
    );
    assert!(
        all[0].parent_span_id.is_empty(),
        "a root span, recorded whatever the caller's flag said"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// REST-1 through a whole run on a PKCS#11 KMS: the real binary serves with its key-encryption key inside a
/// SoftHSM2 token (no key file). A partner signs up, its owner enrols a second factor and invites a member, so the
/// person's and the partner's data keys are made, and each is stored wrapped by the token's key (`comanda-kek`), none
/// by a local one. After a restart on the same token the owner's access token (signed before the restart) lists the
/// staff, whose sealed emails and names open with data keys unwrapped by the token.
#[tokio::test]
async fn a_whole_run_wraps_every_data_key_through_pkcs11() {
    use sqlx::Connection as _;

    let hsm = comanda_security::testing::SoftHsm::create("comanda-run").unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let mut env: Vec<(&str, String)> = hsm.env();
    env.extend([
        ("COMANDA_KMS__BACKEND", "pkcs11".to_owned()),
        ("COMANDA_KMS__PKCS11__MODULE", hsm.module.display().to_string()),
        ("COMANDA_KMS__PKCS11__TOKEN_LABEL", hsm.token_label.clone()),
        ("COMANDA_KMS__PKCS11__PIN", hsm.pin.clone()),
    ]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let password = "violet kettle forty two";
    let cert = cwd.path().join("comanda-data/tls/cert.pem");

    let mut server = Running::spawn(cwd.path(), &["serve", "--listen", "127.0.0.1:0"], &env);
    let port = server.https_port();
    let client = https_client(&cert);
    let url = |path: &str| format!("https://localhost:{port}{path}");
    let signed_up = client
        .post(url("/api/v1/signup"))
        .json(
            &serde_json::json!({"business_name": "Casa del Token", "country": "CO",
            "owner": {"name": "Ana Token", "email": "hsm-owner@example.co", "password": password}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(signed_up.status().as_u16(), 201);
    let login: serde_json::Value = client
        .post(url("/api/v1/auth/login"))
        .json(&serde_json::json!({"email": "hsm-owner@example.co", "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let enrolment_token = login["enrollment_token"].as_str().unwrap().to_owned();
    let enrolment: serde_json::Value = client
        .post(url("/api/v1/auth/mfa/totp/enroll"))
        .bearer_auth(&enrolment_token)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = comanda_security::totp::decode_secret(enrolment["secret"].as_str().unwrap()).unwrap();
    let now =
        u64::try_from(comanda_domain::Clock::now(&comanda_server::SystemClock).unix_timestamp()).unwrap();
    let confirmed: serde_json::Value = client
        .post(url("/api/v1/auth/mfa/totp/confirm"))
        .bearer_auth(&enrolment_token)
        .json(&serde_json::json!({"code": comanda_security::totp::code_at(&secret, now).unwrap()}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = confirmed["access_token"].as_str().expect("enrolled").to_owned();
    // An invitation is sealed with the partner's own data key.
    let invited = client
        .post(url("/api/v1/staff"))
        .bearer_auth(&access)
        .json(&serde_json::json!({"email": "hsm-server@example.co", "name": "Luis Mesa", "role": "server"}))
        .send()
        .await
        .unwrap();
    assert_eq!(invited.status().as_u16(), 201);
    server.terminate();

    let data = cwd.path().join("comanda-data");
    assert!(!data.join("kms.key").exists(), "no local key-encryption key");
    let mut db = sqlx::SqliteConnection::connect(&format!("sqlite://{}", data.join("comanda.db").display()))
        .await
        .unwrap();
    let mut wrapped = Vec::new();
    for (table, select) in [
        ("tenant_keys", "SELECT wrapped FROM tenant_keys"),
        ("person_keys", "SELECT wrapped FROM person_keys"),
    ] {
        let keys: Vec<Vec<u8>> = sqlx::query_scalar(select).fetch_all(&mut db).await.unwrap();
        assert!(!keys.is_empty(), "no data key in {table}");
        wrapped.extend(keys);
    }
    let _ = db.close().await;
    let names = |blob: &[u8], name: &[u8]| blob.windows(name.len()).any(|w| w == name);
    for blob in &wrapped {
        assert!(names(blob, b"comanda-kek") && !names(blob, b"local"), "{blob:?}");
    }

    let mut again = Running::spawn(cwd.path(), &["serve", "--listen", "127.0.0.1:0"], &env);
    let port = again.https_port();
    let client = https_client(&cert);
    let staff = client
        .get(format!("https://localhost:{port}/api/v1/staff"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(staff.status().as_u16(), 200);
    let staff = staff.text().await.unwrap();
    assert!(
        staff.contains("hsm-owner@example.co") && staff.contains("Ana Token"),
        "opened through the token after the restart: {staff}"
    );
    again.terminate();
}

/// VDP-2 with the real binary: a report's clocks (acknowledge in 48 h, triage in 5 business days, a critical fix
/// in 30 days), a clock in its last stretch or overdue raising the `vdp.clock` alert once per step, and credit only
/// with the reporter's permission.
#[tokio::test]
async fn vulnerability_reports_are_tracked_with_clocks_and_credited_only_with_permission() {
    let cwd = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| comanda_in(cwd.path(), args, &[]);
    let ok = |args: &[&str]| ok_in(cwd.path(), args, &[]);
    ok(&["migrate"]);
    // Thursday 2026-12-03 15:30 UTC.
    let refused = run(&[
        "reports",
        "add",
        "--summary",
        "XSS in the menu editor",
        "--received",
        "2026-12-03T15:30:00Z",
        "--credit",
        "Ana Pérez",
    ]);
    assert!(
        !refused.status.success(),
        "a credit without the reporter's permission"
    );
    // A report is received by now: a date typed far ahead is refused, not recorded to break every later check.
    let ahead = run(&[
        "reports",
        "add",
        "--summary",
        "typo in the date",
        "--received",
        "9999-12-31T23:59:59Z",
    ]);
    let said = String::from_utf8_lossy(&ahead.stderr);
    assert!(
        !ahead.status.success() && said.contains("in the future") && !said.contains("panicked"),
        "{said}"
    );
    let added = ok(&[
        "reports",
        "add",
        "--summary",
        "XSS in the menu editor",
        "--received",
        "2026-12-03T15:30:00Z",
        "--credit",
        "Ana Pérez",
        "--reporter-asked-for-credit",
    ]);
    assert!(added.contains("acknowledge by 2026-12-05T15:30:00Z"), "{added}");
    assert!(added.contains("triage by 2026-12-10T15:30:00Z"), "{added}");
    let id = added.split_whitespace().nth(1).unwrap().to_owned();
    ok(&[
        "reports",
        "add",
        "--summary",
        "open redirect",
        "--received",
        "2026-12-03T16:00:00Z",
        "--credit",
        "Luis",
        "--reporter-asked-for-credit",
    ]);

    // Saturday 04:00: 11.5 hours left to acknowledge, so the clock is in its last stretch; nothing overdue yet.
    let saturday = ["--now", "2026-12-05T04:00:00Z"];
    let checked = ok(&["reports", "check", saturday[0], saturday[1]]);
    assert!(
        checked.contains("due soon") && checked.contains("acknowledge"),
        "{checked}"
    );
    ok(&["reports", "acknowledge", &id, saturday[0], saturday[1]]);
    ok(&[
        "reports",
        "triage",
        &id,
        "--severity",
        "critical",
        saturday[0],
        saturday[1],
    ]);
    // The next Friday: the second report was never acknowledged nor triaged.
    let late = run(&["reports", "check", "--now", "2026-12-11T09:00:00Z"]);
    assert_eq!(late.status.code(), Some(1));
    let late_text = String::from_utf8_lossy(&late.stdout);
    assert!(
        late_text.contains("OVERDUE") && late_text.contains("open redirect"),
        "{late_text}"
    );
    assert!(
        !late_text.contains("XSS"),
        "the first report's fix clock still runs: {late_text}"
    );
    let listed = ok(&["reports", "list", "--now", "2026-12-11T09:00:00Z"]);
    assert!(
        listed.contains("fix         by 2027-01-02T15:30:00Z  running"),
        "{listed}"
    );
    assert!(
        ok(&["reports", "credits"]).trim().is_empty(),
        "nobody is credited before the fix"
    );
    ok(&["reports", "fixed", &id, "--now", "2026-12-20T10:00:00Z"]);
    assert_eq!(
        ok(&["reports", "credits"]).trim(),
        "Ana Pérez: XSS in the menu editor"
    );

    // One alert per step, however often the clocks are checked.
    let _ = run(&["reports", "check", "--now", "2026-12-11T10:00:00Z"]);
    let alerts = alert_details(cwd.path(), "vdp.clock").await;
    assert_eq!(alerts.len(), 3, "{alerts:?}");
    assert!(
        alerts[0].contains("XSS") && alerts[0].contains("acknowledge"),
        "{alerts:?}"
    );
}

/// IR-1 and IR-2 with the real binary: an incident with its severity, decision-makers and timeline; recorded as a
/// personal-data breach, the partners affected come from their audit logs over the window, and each authority's
/// deadline (72 hours for the GDPR and Law 1581, sooner for a configured US state) raises `ir.notification` once in
/// its last 12 hours unless the authority was notified.
#[tokio::test]
async fn a_breach_names_the_affected_partners_and_watches_each_notification_deadline() {
    let cwd = tempfile::tempdir().unwrap();
    let env = [("COMANDA_INCIDENTS__US_STATE_NOTICE_HOURS__VT", "24")];
    audited_workload(cwd.path(), &[]).await;
    let run = |args: &[&str]| comanda_in(cwd.path(), args, &env);
    let ok = |args: &[&str]| ok_in(cwd.path(), args, &env);
    let now = comanda_domain::Clock::now(&comanda_server::SystemClock);
    let rfc = |at: time::OffsetDateTime| at.format(&time::format_description::well_known::Rfc3339).unwrap();
    let opened = ok(&[
        "incidents",
        "open",
        "--severity",
        "high",
        "--summary",
        "backup credentials leaked",
        "--decided-by",
        "Ana (incident lead), Luis (DPO)",
    ]);
    let id = opened.split_whitespace().nth(1).unwrap().to_owned();
    ok(&["incidents", "note", &id, "credentials rotated"]);
    let aware = now;
    let breach = ok(&[
        "incidents",
        "breach",
        &id,
        "--aware",
        &rfc(aware),
        "--from",
        &rfc(now - time::Duration::hours(1)),
        "--until",
        &rfc(now + time::Duration::hours(1)),
    ]);
    assert!(breach.contains("affecting 1 partner(s)"), "{breach}");
    let order: Vec<&str> = breach.lines().filter(|l| l.contains("notify")).collect();
    assert!(
        order[0].contains("US-VT") && order[1].contains("CO-1581") && order[2].contains("GDPR"),
        "{breach}"
    );

    // 61 hours later: the state's deadline is overdue, both 72-hour ones are in their last 12 hours.
    let at_61 = rfc(aware + time::Duration::hours(61));
    // A jurisdiction the breach has no deadline for is refused, naming those it has; the case is the operator's.
    let unknown = run(&[
        "incidents",
        "notified",
        &id,
        "--jurisdiction",
        "XX",
        "--now",
        &at_61,
    ]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("GDPR"),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );
    let notified = ok(&[
        "incidents",
        "notified",
        &id,
        "--jurisdiction",
        "gdpr",
        "--now",
        &at_61,
    ]);
    assert!(notified.contains("GDPR notified"), "{notified}");
    let checked = run(&["incidents", "check", "--now", &at_61]);
    assert_eq!(checked.status.code(), Some(1), "the state's 24 hours are past");
    let text = String::from_utf8_lossy(&checked.stdout);
    assert!(text.contains("OVERDUE") && text.contains("US-VT"), "{text}");
    assert!(
        text.contains("due soon") && text.contains("CO-1581") && !text.contains("GDPR"),
        "{text}"
    );
    let _ = run(&[
        "incidents",
        "check",
        "--now",
        &rfc(aware + time::Duration::hours(73)),
    ]);
    let shown = ok(&["incidents", "show", &id, "--now", &at_61]);
    assert!(
        shown.contains("decided by Ana (incident lead), Luis (DPO)"),
        "{shown}"
    );
    assert!(
        shown.contains("credentials rotated") && shown.contains("GDPR notified"),
        "{shown}"
    );
    assert!(shown.contains("affected partners: 1"), "{shown}");
    // The state's deadline was fixed when the breach was recorded: read without that configuration (another shell,
    // a changed file), the breach still owes Vermont its notice.
    let elsewhere = ok_in(cwd.path(), &["incidents", "show", &id, "--now", &at_61], &[]);
    assert!(
        elsewhere.contains("US-VT") && elsewhere.contains("OVERDUE"),
        "{elsewhere}"
    );

    let alerts = alert_details(cwd.path(), "ir.notification").await;
    assert_eq!(
        alerts.len(),
        2,
        "once per jurisdiction, never for the notified one: {alerts:?}"
    );
    assert!(alerts.iter().all(|a| !a.contains("GDPR")), "{alerts:?}");

    // A window the audit logs hold nothing in affects nobody.
    let other = ok(&[
        "incidents",
        "open",
        "--severity",
        "low",
        "--summary",
        "old laptop",
        "--decided-by",
        "Ana",
    ]);
    let other = other.split_whitespace().nth(1).unwrap().to_owned();
    let none = ok(&[
        "incidents",
        "breach",
        &other,
        "--from",
        "2020-01-01T00:00:00Z",
        "--until",
        "2020-01-02T00:00:00Z",
    ]);
    assert!(none.contains("affecting 0 partner(s)"), "{none}");
    // The window was mistyped: amended, the partners are computed again, the awareness kept, the timeline says what
    // it was before.
    let amended = ok(&[
        "incidents",
        "breach",
        &other,
        "--amend",
        "--from",
        &rfc(now - time::Duration::hours(1)),
        "--until",
        &rfc(now + time::Duration::hours(1)),
    ]);
    assert!(
        amended.contains("breach (amended) affecting 1 partner(s)"),
        "{amended}"
    );
    let shown = ok(&["incidents", "show", &other]);
    assert!(
        shown.contains("breach amended: aware since") && shown.contains("1 partner(s) affected (was 0)"),
        "{shown}"
    );
    // A breach whose authorities are not all notified does not close by itself: its clocks would go unwatched.
    let refused = run(&["incidents", "close", &id]);
    let said = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(
        !refused.status.success() && said.contains("no notification recorded for US-VT, CO-1581:"),
        "{said}"
    );
    assert!(ok(&["incidents", "list"]).contains(&id));
    ok(&[
        "incidents",
        "close",
        &id,
        "--notice-not-required",
        "the copy was encrypted and its key never left the KMS",
    ]);
    assert!(!ok(&["incidents", "list"]).contains(&id));
    let late = run(&[
        "incidents",
        "breach",
        &id,
        "--amend",
        "--from",
        "2020-01-01T00:00:00Z",
        "--until",
        "2020-01-02T00:00:00Z",
    ]);
    assert!(
        !late.status.success()
            && String::from_utf8_lossy(&late.stderr).contains("only an open incident recorded as a breach"),
        "a closed breach stays as it was closed: {}",
        String::from_utf8_lossy(&late.stderr)
    );
    let shown = ok(&["incidents", "show", &id]);
    assert!(
        shown.contains("closed without notifying US-VT, CO-1581: the copy was encrypted"),
        "{shown}"
    );
    ok(&[
        "incidents",
        "close",
        &other,
        "--notice-not-required",
        "no partner's data was in the window",
    ]);
}

/// IR-1's runbook lives in docs/security/, and every command it tells the operator to run exists in this binary:
/// each `comanda …` it names, in a code block or inline, is a whole subcommand path that `--help` accepts, and each
/// `--flag` after it is one that subcommand's help lists.
#[test]
fn the_incident_runbook_names_only_commands_that_exist() {
    let runbook = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/security/incident-response.md"),
    )
    .unwrap();
    // A command runs to the end of its line, or of its inline code span.
    let mut commands: Vec<String> = Vec::new();
    for line in runbook.lines() {
        if let Some(rest) = line.trim_start().strip_prefix("comanda ") {
            commands.push(rest.trim_end_matches('\\').to_owned());
        }
        for span in line.split('`').skip(1).step_by(2) {
            if let Some(rest) = span.strip_prefix("comanda ") {
                commands.push(rest.to_owned());
            }
        }
    }
    let mut checked = std::collections::BTreeSet::new();
    for command in &commands {
        let words: Vec<&str> = command.split_whitespace().collect();
        let path: Vec<&str> = words
            .iter()
            .take_while(|w| w.chars().all(|c| c.is_ascii_lowercase() || c == '-') && !w.starts_with('-'))
            .copied()
            .collect();
        let help = Command::new(BIN).args(&path).arg("--help").output().unwrap();
        assert!(
            help.status.success(),
            "the runbook's `comanda {}` is not a command: {}",
            path.join(" "),
            String::from_utf8_lossy(&help.stderr)
        );
        let help = String::from_utf8(help.stdout).unwrap();
        for flag in words.iter().filter(|w| w.starts_with("--")) {
            let flag = flag.split('=').next().unwrap();
            assert!(
                help.split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == '<')
                    .any(|word| word == flag),
                "the runbook's `comanda {} {flag}` is not an option of it:\n{help}",
                path.join(" ")
            );
        }
        checked.insert(path.join(" "));
    }
    for expected in [
        "incidents open",
        "incidents breach",
        "keys rotate-kek",
        "partners offboard",
        "audit verify",
    ] {
        assert!(checked.contains(expected), "{expected} is checked: {checked:?}");
    }
}

/// `comanda seed` writes weeks of history, audit entries at their past instants included: it signs the chains of the
/// partners it made, so `audit verify` passes over them (they were left unsigned as too old to anchor, and verify
/// reported them broken). Then a guard dropped from the database is reported by `audit verify`.
#[tokio::test]
async fn a_seeded_history_verifies() {
    let cwd = tempfile::tempdir().unwrap();
    let seeded = ok_in(
        cwd.path(),
        &["seed", "--orders", "300", "--days", "45", "--seed", "7"],
        &[],
    );
    assert!(seeded.contains("partner "), "{seeded}");
    // The operator finds the partner and its venues by id (what `partners offboard` and `incidents` take).
    let line = seeded.lines().find(|l| l.starts_with("partner ")).unwrap();
    let words: Vec<&str> = line.split(' ').collect();
    let (partner, venues) = (words[1], words[5].split(',').collect::<Vec<_>>());
    let listed = ok_in(cwd.path(), &["partners", "list"], &[]);
    let partner_line = listed
        .lines()
        .find(|l| l.starts_with(partner))
        .unwrap_or_default();
    assert!(
        partner_line.contains("  CO  joined ")
            && partner_line.ends_with(&format!("{} venue(s)", venues.len())),
        "{listed}"
    );
    for venue in &venues {
        assert!(
            listed.contains(&format!("    venue {venue}  ")) && listed.contains("America/Bogota"),
            "{listed}"
        );
    }
    let verified = ok_in(cwd.path(), &["audit", "verify"], &[]);
    assert!(
        verified.contains("1 chain(s) verified") && !verified.contains("BROKEN"),
        "{verified}"
    );
    // A guard dropped behind comanda's back is reported, not trusted: the newest entries could be edited unseen.
    let db = cwd.path().join("comanda-data/comanda.db");
    let mut conn =
        <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
    sqlx::query("DROP TRIGGER audit_events_no_update")
        .execute(&mut conn)
        .await
        .unwrap();
    let _ = sqlx::Connection::close(conn).await;
    let broken = comanda_in(cwd.path(), &["audit", "verify"], &[]);
    let printed = String::from_utf8_lossy(&broken.stdout);
    assert!(
        broken.status.code() == Some(1)
            && printed.contains("BROKEN: the append-only guard audit_events_no_update"),
        "{printed}"
    );
}
