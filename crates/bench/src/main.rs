//! `comanda-bench`: the load benchmark (issue 7). It starts the real `comanda` binary (release build) on a fresh
//! SQLite data directory or a throwaway PostgreSQL cluster, seeds a partner through the HTTP API, and measures, in
//! one run on one machine so that noise cancels:
//!
//! - (a) guests placing orders over HTTPS with Idempotency-Keys at N connections: throughput and p50/p95/p99/p99.9
//!   at saturation, and latency at a steady half load while staff read the venue's bills;
//! - the raw limit: the same order-shaped transaction issued straight to the database (pgbench on PostgreSQL, a direct
//!   loop on SQLite) at the same concurrency, and comanda ÷ raw;
//! - (b) the order p99 while a 500 req/s login flood hits the bcrypt-12 sign-in;
//! - (c) SSE fan-out: time from an order to its arrival on 1,000 connected kitchen displays;
//! - (d) cold start to the first served request; (e) idle RSS and RSS with 1,000 connections open.
//!
//! Loopback only, bounded in time. Results print as a Markdown table; `--write BENCHMARKS.md` replaces the table
//! between the `bench:start` / `bench:end` markers.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::Mutex;

mod analytics;
mod reservations;

#[derive(Debug, Parser)]
#[command(about = "comanda's load benchmark: HTTPS order placement next to the database's own limit")]
struct Args {
    /// `sqlite`, `postgres` or `both`.
    #[arg(long, default_value = "both")]
    engine: String,
    /// Concurrent guest connections placing orders.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Seconds each throughput run lasts.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// The steady load latency is measured at, as a share of the saturated order throughput just measured.
    #[arg(long, default_value_t = 0.5)]
    steady_share: f64,
    /// On PostgreSQL, how many comanda runs and raw pgbench runs are interleaved for the ratio (the raw limit is
    /// the best raw run: a limit is the most the database can do, and one run on this shared machine is not).
    #[arg(long, default_value_t = 3)]
    pairs: usize,
    /// Kitchen displays connected for the SSE fan-out.
    #[arg(long, default_value_t = 1000)]
    displays: usize,
    /// The `comanda` binary (default: next to this one).
    #[arg(long)]
    comanda: Option<PathBuf>,
    /// Write the results table into this Markdown file between the bench markers.
    #[arg(long)]
    write: Option<PathBuf>,
    /// Measure reservations instead (f): availability under load and bookings against the raw conflict-checked
    /// insert; written between the `reservations` markers.
    #[arg(long)]
    reservations: bool,
    /// Measure analytics instead (g): seed this many orders with `comanda seed`, then time the reports over HTTPS
    /// next to the same figures from the raw tables; written between the `analytics` markers.
    #[arg(long, value_name = "ORDERS")]
    analytics: Option<u64>,
    /// Orders for the SQLite run of `--analytics` (default: the same as PostgreSQL's).
    #[arg(long, value_name = "ORDERS")]
    analytics_sqlite: Option<u64>,
    /// Days of history the analytics seed spreads its orders over.
    #[arg(long, default_value_t = 365)]
    analytics_days: u32,
    /// Keep the server's own log (its warnings say why a request was refused) in this file; one per engine,
    /// named `<file>.<engine>`.
    #[arg(long)]
    server_log: Option<PathBuf>,
}

/// Guests order at `VENUES` venues of `TABLES_PER_VENUE` tables each: the platform serves many venues at once,
/// and one venue's kitchen events are numbered in commit order, so a single venue is measured on its own line.
const VENUES: usize = 8;
const TABLES_PER_VENUE: usize = 4;
/// Staff connections reading the venue's bills during order placement, and how often each reads.
const STAFF_READERS: usize = 4;
const STAFF_READ_EVERY: Duration = Duration::from_millis(250);

struct Served {
    child: Child,
    origin: String,
    client: reqwest::Client,
    cold_start: Duration,
    data: tempfile::TempDir,
}

impl Served {
    fn rss_mib(&self) -> (f64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
                .map_or(0.0, |kb| kb / 1024.0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// Stops the server (SIGTERM, graceful) and hands back its data directory.
    fn stop(mut self) -> tempfile::TempDir {
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
        self.data
    }
}

fn https_client(cert: &Path, pool: usize) -> anyhow::Result<reqwest::Client> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(cert)? {
        roots.add(cert?)?;
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .http1_only()
        .pool_max_idle_per_host(pool)
        .timeout(Duration::from_secs(60))
        .build()?)
}

/// Starts `comanda serve` and times it to its first answered `/healthz` (d).
async fn serve(
    binary: &Path,
    database: Option<(&str, &str)>,
    pool: usize,
    server_log: Option<PathBuf>,
) -> anyhow::Result<Served> {
    serve_in(binary, tempfile::tempdir()?, database, pool, server_log).await
}

/// `serve` on an existing data directory (one `comanda seed` filled: its keys open what the seed sealed).
async fn serve_in(
    binary: &Path,
    data: tempfile::TempDir,
    database: Option<(&str, &str)>,
    pool: usize,
    server_log: Option<PathBuf>,
) -> anyhow::Result<Served> {
    let mut command = Command::new(binary);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path().join("data"))
        // The daily backup would land inside a measurement window (its first check is a minute after start): the
        // benchmark measures serving, and backups are measured by their own tests.
        .env("COMANDA_BACKUP__ENABLED", "false")
        // The reservations run's guests come from many addresses through this loopback "proxy" (X-Forwarded-For);
        // nothing else sends the header.
        .env("COMANDA_SERVER__TRUSTED_PROXIES", r#"["127.0.0.1"]"#)
        .stdout(Stdio::piped())
        // The banner, with the port, is on stderr (stdout stays the JSON log lines).
        .stderr(Stdio::piped());
    if let Some((app, owner)) = database {
        command
            .env("DATABASE_URL", app)
            .env("COMANDA_DATABASE__MIGRATION_URL", owner);
    }
    let started = Instant::now();
    let mut child = command
        .spawn()
        .context("starting comanda (build it with --release first)")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let stderr = child.stderr.take().context("no stderr")?;
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    let mut kept_log = match server_log {
        Some(path) => Some(std::io::LineWriter::new(
            std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => None,
    };
    // Drain the log and the banner for the whole run, so writing either never blocks the server.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(kept) = kept_log.as_mut() {
                let _ = writeln!(kept, "{line}");
            }
        }
    });
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on https://127.0.0.1:").nth(1) {
                let port: String = rest.chars().take_while(char::is_ascii_digit).collect();
                let _ = port_tx.send(port);
            }
        }
    });
    let port = port_rx
        .recv_timeout(Duration::from_secs(30))
        .context("comanda did not say where it listens")?;
    let origin = format!("https://localhost:{port}");
    let client = https_client(&data.path().join("data/tls/cert.pem"), pool)?;
    loop {
        if client
            .get(format!("{origin}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        if started.elapsed() > Duration::from_secs(30) {
            bail!("comanda did not become healthy");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(Served {
        child,
        origin,
        client,
        cold_start: started.elapsed(),
        data,
    })
}

struct Seed {
    access: String,
    partner: String,
    /// The first venue: its staff read bills and its kitchen displays follow the feed.
    venue: String,
    /// Every venue's tables, the first venue's first; every table's session accepted.
    tables: Vec<SeedTable>,
}

#[derive(Clone)]
struct SeedTable {
    venue: String,
    id: String,
    token: String,
    /// An item of the table's venue's menu.
    item: String,
}

impl Seed {
    fn first_venue_tables(&self) -> Vec<SeedTable> {
        self.tables
            .iter()
            .filter(|t| t.venue == self.venue)
            .cloned()
            .collect()
    }
}

/// The `n`-th guest's own address, sent as `X-Forwarded-For` (the bench's server trusts the loopback peer as it
/// would its load balancer): the load stands for many guests' phones, each limited on its own (INF-1).
pub(crate) fn guest_address(n: u64) -> String {
    format!("10.{}.{}.{}", n / 65_536 % 256, n / 256 % 256, n % 256)
}

async fn call(
    served: &Served,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> anyhow::Result<Value> {
    let mut request = served.client.request(
        reqwest::Method::from_bytes(method.as_bytes())?,
        format!("{}{path}", served.origin),
    );
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if method != "GET" {
        request = request.json(&body);
    }
    let response = request.send().await?;
    let status = response.status();
    let value: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("{method} {path}: {status} {value}");
    }
    Ok(value)
}

/// A partner with an owner enrolled in TOTP, through the API: the owner's access token and the partner's id.
async fn enrolled_owner(served: &Served, email: &str) -> anyhow::Result<(String, String)> {
    let password = "violet kettle forty two";
    let signup = call(
        served,
        "POST",
        "/api/v1/signup",
        None,
        json!({"business_name": "Bench", "country": "CO",
        "owner": {"name": "Bench", "email": email, "password": password}}),
    )
    .await?;
    let access = sign_in_enrolling(served, email, password).await?;
    let partner = signup["partner_id"].as_str().context("partner")?.to_owned();
    Ok((access, partner))
}

/// Signs in an owner who has not enrolled a second factor yet: enrols TOTP and confirms it; the access token.
async fn sign_in_enrolling(served: &Served, email: &str, password: &str) -> anyhow::Result<String> {
    let login = call(
        served,
        "POST",
        "/api/v1/auth/login",
        None,
        json!({"email": email, "password": password}),
    )
    .await?;
    let enrolment = login["enrollment_token"]
        .as_str()
        .context("enrolment token")?
        .to_owned();
    let enrolled = call(
        served,
        "POST",
        "/api/v1/auth/mfa/totp/enroll",
        Some(&enrolment),
        json!({}),
    )
    .await?;
    let secret = comanda_security::totp::decode_secret(enrolled["secret"].as_str().unwrap_or_default())
        .context("totp secret")?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let code = comanda_security::totp::code_at(&secret, now)?;
    let confirmed = call(
        served,
        "POST",
        "/api/v1/auth/mfa/totp/confirm",
        Some(&enrolment),
        json!({"code": code}),
    )
    .await?;
    Ok(confirmed["access_token"]
        .as_str()
        .context("access token")?
        .to_owned())
}

/// A partner with an enrolled owner, a venue, 32 accepted tables and one dish, all through the API.
async fn seed(served: &Served) -> anyhow::Result<Seed> {
    let (access, partner) = enrolled_owner(served, "bench@example.co").await?;
    let token = Some(access.as_str());
    let mut venues = Vec::new();
    let mut tables = Vec::new();
    for v in 0..VENUES {
        let venue = call(
            served,
            "POST",
            "/api/v1/venues",
            token,
            json!({"name": format!("Sede {v}"), "timezone": "America/Bogota"}),
        )
        .await?;
        let venue = venue["id"].as_str().context("venue")?.to_owned();
        let category = call(
            served,
            "POST",
            &format!("/api/v1/venues/{venue}/menu/categories"),
            token,
            json!({"name": {"es": "Platos"}}),
        )
        .await?;
        let item = call(served, "POST", &format!("/api/v1/venues/{venue}/menu/items"), token,
            json!({"category_id": category["id"], "name": {"es": "Bandeja paisa"}, "price": {"amount": 1_890_000, "currency": "COP"}}))
        .await?;
        let item = item["id"].as_str().context("item")?.to_owned();
        for n in 0..TABLES_PER_VENUE {
            let table = call(
                served,
                "POST",
                &format!("/api/v1/venues/{venue}/tables"),
                token,
                json!({"label": format!("Mesa {n}"), "seats": 4}),
            )
            .await?;
            let (id, table_token) = (
                table["id"].as_str().context("table")?,
                table["token"].as_str().context("token")?,
            );
            let first = served
                .client
                .post(format!("{}/api/v1/t/{table_token}/orders", served.origin))
                .header("x-forwarded-for", guest_address(tables.len() as u64))
                .json(&json!({"items": [{"item_id": item, "quantity": 1}]}))
                .send()
                .await?;
            anyhow::ensure!(first.status().as_u16() == 201, "first order: {}", first.status());
            tables.push(SeedTable {
                venue: venue.clone(),
                id: id.to_owned(),
                token: table_token.to_owned(),
                item: item.clone(),
            });
        }
        // The sessions list is paginated: follow the cursor so every table is accepted, however many there are.
        let mut sessions = Vec::new();
        let mut cursor = String::new();
        loop {
            let page = call(
                served,
                "GET",
                &format!("/api/v1/venues/{venue}/table-sessions?limit=200&cursor={cursor}"),
                token,
                Value::Null,
            )
            .await?;
            sessions.extend(page["items"].as_array().context("sessions")?.iter().cloned());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = next.to_owned(),
                None => break,
            }
        }
        for session in &sessions {
            let id = session["id"].as_str().context("session")?;
            call(
                served,
                "POST",
                &format!("/api/v1/table-sessions/{id}/accept"),
                token,
                json!({}),
            )
            .await?;
        }
        venues.push(venue);
    }
    Ok(Seed {
        access,
        partner,
        venue: venues.first().context("no venue")?.clone(),
        tables,
    })
}

#[derive(Debug, Default, Clone)]
struct Run {
    ok: usize,
    failed: usize,
    elapsed: Duration,
    /// Microseconds, sorted.
    latencies: Vec<u64>,
}

impl Run {
    /// One request: counted, and timed from `sent` when it succeeded.
    fn record(&mut self, ok: bool, sent: Instant) {
        if ok {
            self.ok += 1;
            self.latencies
                .push(u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX));
        } else {
            self.failed += 1;
        }
    }

    /// The runs of several workers as one, timed from `started`.
    async fn joined(tasks: Vec<tokio::task::JoinHandle<Run>>, started: Instant) -> Run {
        let mut total = Run::default();
        for task in tasks {
            if let Ok(run) = task.await {
                total.ok += run.ok;
                total.failed += run.failed;
                total.latencies.extend(run.latencies);
            }
        }
        total.elapsed = started.elapsed();
        total.latencies.sort_unstable();
        total
    }

    fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * self.latencies.len() as f64).ceil() as usize;
        self.latencies[rank.clamp(1, self.latencies.len()) - 1] as f64 / 1000.0
    }
}

/// How hard guests press: as fast as answers come back (the saturated throughput), or a steady arrival rate
/// spread over the connections (the latency a guest sees at a given load).
#[derive(Debug, Clone, Copy)]
enum Pace {
    Saturated,
    Steady { orders_per_second: f64 },
}

/// (a) guests placing orders, each with a fresh Idempotency-Key, over `connections` keep-alive connections.
/// At a steady pace each order's latency is counted from the moment it was due, not from when it was sent, so a
/// server that falls behind is charged for the wait it caused (no coordinated omission).
async fn place_orders(
    served: &Served,
    tables: &[SeedTable],
    connections: usize,
    seconds: u64,
    pace: Pace,
) -> Run {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let interval = match pace {
        Pace::Saturated => None,
        Pace::Steady { orders_per_second } => Some(Duration::from_secs_f64(
            connections as f64 / orders_per_second.max(1.0),
        )),
    };
    let mut tasks = Vec::new();
    for worker in 0..connections {
        let client = served.client.clone();
        let origin = served.origin.clone();
        let tables: Vec<(String, String)> = tables
            .iter()
            .map(|t| {
                let body = json!({"items": [{"item_id": t.item, "quantity": 1}]}).to_string();
                (t.token.clone(), body)
            })
            .collect();
        tasks.push(tokio::spawn(async move {
            let mut run = Run::default();
            let mut n = worker;
            // Workers start spread over one interval so that arrivals are even, not in bursts of `connections`.
            let mut due = interval.map(|every| started + every.mul_f64(worker as f64 / connections as f64));
            while Instant::now() < deadline {
                let (table, body) = &tables[n % tables.len()];
                n += connections;
                let sent = match (due.as_mut(), interval) {
                    (Some(due), Some(every)) => {
                        tokio::time::sleep_until((*due).into()).await;
                        let this = *due;
                        *due += every;
                        if this >= deadline {
                            break;
                        }
                        this
                    }
                    _ => Instant::now(),
                };
                let reply = client
                    .post(format!("{origin}/api/v1/t/{table}/orders"))
                    .header("content-type", "application/json")
                    .header("x-forwarded-for", guest_address(n as u64))
                    .header("idempotency-key", uuid::Uuid::new_v4().to_string())
                    .body(body.clone())
                    .send()
                    .await;
                let ok = match reply {
                    Ok(response) => {
                        let ok = response.status().as_u16() == 201;
                        let _ = response.bytes().await;
                        ok
                    }
                    Err(_) => false,
                };
                run.record(ok, sent);
            }
            run
        }));
    }
    Run::joined(tasks, started).await
}

/// The raw limit on PostgreSQL: the order-shaped transaction (table lookup, session upsert and read, order row,
/// the venue's next event number, order event) through pgbench at the same concurrency.
fn raw_postgres(superuser_url: &str, seed: &Seed, connections: usize, seconds: u64) -> anyhow::Result<f64> {
    let p = &seed.partner;
    let script = format!(
        r"\set n random(0, {last})
SELECT venue_id AS vid, id AS tid FROM venue_tables WHERE partner_id = '{p}' ORDER BY id OFFSET :n LIMIT 1 \gset
BEGIN;
SELECT set_config('comanda.tenant', '{p}', true);
INSERT INTO table_sessions (partner_id, id, venue_id, table_id, status, created_at) VALUES ('{p}', gen_random_uuid(), :vid, :tid, 'pending', now()) ON CONFLICT (partner_id, table_id) WHERE status <> 'closed' DO NOTHING;
SELECT id AS sid, gen_random_uuid() AS oid FROM table_sessions WHERE partner_id = '{p}' AND table_id = :tid AND status <> 'closed' \gset
INSERT INTO orders (partner_id, venue_id, id, table_id, status, lines, subtotal, currency, idempotency_key, request_hash, placed_at, updated_at, session_id, device) VALUES ('{p}', :vid, :oid, :tid, 'placed', repeat('x', 160), 1890000, 'COP', gen_random_uuid()::text, '\x00'::bytea, now(), now(), :sid, NULL);
SELECT EXISTS (SELECT 1 FROM table_sessions WHERE partner_id = '{p}' AND id = :sid AND status = 'open');
INSERT INTO venue_event_heads (partner_id, venue_id, last_seq) VALUES ('{p}', :vid, 1) ON CONFLICT (partner_id, venue_id) DO UPDATE SET last_seq = venue_event_heads.last_seq + 1 RETURNING last_seq AS eseq \gset
INSERT INTO order_events (partner_id, venue_id, seq, order_id, status, actor, at) VALUES ('{p}', :vid, :eseq, :oid, 'placed', 'guest', now());
SELECT pg_notify('comanda_order_events', '{p}' || chr(58) || :vid::text);
END;
",
        last = seed.tables.len() - 1
    );
    pgbench(superuser_url, &script, connections, seconds)
}

/// `raw_postgres_full`'s audit rows go to a copy of `audit_pending` (same columns, key, foreign key and row-level
/// security, so each insert costs what comanda's does): in `audit_pending` itself the running server would chain
/// them, and that work would land in the next comanda run.
async fn create_bench_audit_table(superuser_url: &str) -> anyhow::Result<()> {
    let pool = sqlx::PgPool::connect(superuser_url).await?;
    sqlx::raw_sql(
        "CREATE TABLE bench_audit_pending (LIKE audit_pending INCLUDING ALL);
         ALTER TABLE bench_audit_pending ADD FOREIGN KEY (partner_id) REFERENCES partners (id);
         ALTER TABLE bench_audit_pending ENABLE ROW LEVEL SECURITY;
         ALTER TABLE bench_audit_pending FORCE ROW LEVEL SECURITY;
         CREATE POLICY tenant_isolation ON bench_audit_pending USING (partner_id = comanda_current_tenant())
             WITH CHECK (partner_id = comanda_current_tenant());
         GRANT INSERT ON bench_audit_pending TO comanda_app;",
    )
    .execute(&pool)
    .await?;
    pool.close().await;
    Ok(())
}

/// The raw limit of everything a guest's order makes PostgreSQL do, statement by statement, as comanda's own role
/// (under row-level security, as comanda's server runs): the code's directory row, the venue with the ordered item
/// and the party bill the table may be joined to, the session upsert and read, the order row (with its tax and
/// served table), the venue's next event number and the event, the quarter-hour sales and product-mix roll-ups, the
/// audit row (into `bench_audit_pending`, see there), the NOTIFY. The core transaction above predates the roll-ups
/// and the audit row; this one is what comanda's order costs the database today, so comanda ÷ this is what the
/// server adds (TLS, HTTP, JSON, checks, round trips). The same statements in effect, not a copy: the ordered item is the venue's first (comanda reads the
/// items the order names), and the event is numbered at every order (comanda numbers it once the table's session is
/// open, as every bench table's is).
fn raw_postgres_full(app_url: &str, seed: &Seed, connections: usize, seconds: u64) -> anyhow::Result<f64> {
    let p = &seed.partner;
    let script = format!(
        r#"\set n random(0, {last})
SELECT venue_id AS vid, table_id AS tid FROM table_directory WHERE partner_id = '{p}' ORDER BY table_id OFFSET :n LIMIT 1 \gset
BEGIN;
SELECT set_config('comanda.tenant', '{p}', true);
SELECT i.id AS iid, v.currency FROM venues v LEFT JOIN LATERAL (SELECT s.table_id FROM table_sessions s JOIN reservations r ON r.partner_id = s.partner_id AND r.session_id = s.id WHERE s.partner_id = '{p}' AND s.venue_id = :vid AND s.closed_at IS NULL AND s.status <> 'closed' AND r.status = 'seated' AND r.tables LIKE '%"' || :tid::text || '"%' AND NOT EXISTS (SELECT 1 FROM table_sessions own WHERE own.partner_id = '{p}' AND own.table_id = :tid AND own.status <> 'closed' AND own.id <> s.id) ORDER BY s.created_at LIMIT 1) party ON true JOIN menu_items i ON i.partner_id = v.partner_id AND i.venue_id = v.id WHERE v.partner_id = '{p}' AND v.id = :vid LIMIT 1 \gset
INSERT INTO table_sessions (partner_id, id, venue_id, table_id, status, created_at) VALUES ('{p}', gen_random_uuid(), :vid, :tid, 'pending', now()) ON CONFLICT (partner_id, table_id) WHERE status <> 'closed' DO NOTHING;
SELECT id AS sid, gen_random_uuid() AS oid FROM table_sessions WHERE partner_id = '{p}' AND table_id = :tid AND status <> 'closed' \gset
INSERT INTO orders (partner_id, venue_id, id, table_id, status, lines, subtotal, currency, idempotency_key, request_hash, placed_at, updated_at, session_id, device, tax, served_table_id) VALUES ('{p}', :vid, :oid, :tid, 'placed', repeat('x', 160), 1890000, 'COP', gen_random_uuid()::text, '\x00'::bytea, now(), now(), :sid, NULL, 140000, NULL) ON CONFLICT (partner_id, table_id, idempotency_key) DO NOTHING RETURNING *;
INSERT INTO venue_event_heads (partner_id, venue_id, last_seq) VALUES ('{p}', :vid, 1) ON CONFLICT (partner_id, venue_id) DO UPDATE SET last_seq = venue_event_heads.last_seq + 1 RETURNING last_seq AS eseq \gset
INSERT INTO order_events (partner_id, venue_id, seq, order_id, status, actor, at) VALUES ('{p}', :vid, :eseq, :oid, 'placed', 'guest', now());
INSERT INTO sales_quarters (partner_id, venue_id, quarter, currency, gross, tax, refunds, tips, collected, orders) VALUES ('{p}', :vid, date_bin('15 minutes', now(), TIMESTAMPTZ '2000-01-01 00:00:00+00'), 'COP', 1890000, 140000, 0, 0, 0, 1) ON CONFLICT (partner_id, venue_id, quarter) DO UPDATE SET gross = sales_quarters.gross + excluded.gross, tax = sales_quarters.tax + excluded.tax, orders = sales_quarters.orders + excluded.orders;
INSERT INTO item_sales_quarters (partner_id, venue_id, quarter, item_id, quantity, sales) VALUES ('{p}', :vid, date_bin('15 minutes', now(), TIMESTAMPTZ '2000-01-01 00:00:00+00'), :iid, 1, 1890000) ON CONFLICT (partner_id, venue_id, quarter, item_id) DO UPDATE SET quantity = item_sales_quarters.quantity + excluded.quantity, sales = item_sales_quarters.sales + excluded.sales;
INSERT INTO bench_audit_pending (partner_id, id, at, actor, action, target, source, request_id, detail) VALUES ('{p}', gen_random_uuid(), now(), NULL, 'order.placed', :oid::text, NULL, gen_random_uuid()::text, 'table=' || :tid::text || ' by=guest');
SELECT pg_notify('comanda_order_events', '{p}' || chr(58) || :vid::text || chr(58) || :eseq::text);
END;
"#,
        last = seed.tables.len() - 1
    );
    pgbench(app_url, &script, connections, seconds)
}

/// Runs `script` with `pgbench -M prepared` at `connections` clients for `seconds`; its transactions per second.
fn pgbench(url: &str, script: &str, connections: usize, seconds: u64) -> anyhow::Result<f64> {
    let bin = comanda_store::testing::postgres_bin_dir().map_err(anyhow::Error::msg)?;
    let file = tempfile::NamedTempFile::new()?;
    std::fs::write(file.path(), script)?;
    let output = Command::new(bin.join("pgbench"))
        .args([
            "-n",
            "-M",
            "prepared",
            "-j",
            "2",
            "-c",
            &connections.to_string(),
            "-T",
            &seconds.to_string(),
            "-f",
        ])
        .arg(file.path())
        .arg(url)
        .output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|t| t.parse::<f64>().ok())
        .with_context(|| format!("pgbench: {text}{}", String::from_utf8_lossy(&output.stderr)))
}

/// The raw limit on SQLite: the same transaction in a direct loop on the server's database file (server stopped).
/// One connection to the server's SQLite file (server stopped): SQLite has one writer, so clients queue for one
/// connection (the fastest way through; more connections only add busy-waiting on the write lock).
async fn raw_sqlite_pool(database: &Path) -> anyhow::Result<sqlx::SqlitePool> {
    use sqlx::ConnectOptions;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
    let options = SqliteConnectOptions::new()
        .filename(database)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(30))
        .disable_statement_logging();
    Ok(SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?)
}

async fn raw_sqlite(database: &Path, seed: &Seed, connections: usize, seconds: u64) -> anyhow::Result<f64> {
    let pool = raw_sqlite_pool(database).await?;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let count = Arc::new(Mutex::new(0usize));
    let mut tasks = Vec::new();
    for worker in 0..connections {
        let pool = pool.clone();
        let p = seed.partner.clone();
        let tables: Vec<(String, String)> = seed
            .tables
            .iter()
            .map(|t| (t.id.clone(), t.venue.clone()))
            .collect();
        let count = count.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = worker;
            let mut done = 0;
            while Instant::now() < deadline {
                let (table, v) = &tables[n % tables.len()];
                n += connections;
                let result: Result<(), sqlx::Error> = async {
                    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                    // SQLite keeps instants as comanda writes them: fixed-width UTC text.
                    let now = comanda_store::InstantText::fixed_width(time::OffsetDateTime::from(std::time::SystemTime::now()));
                    sqlx::query("SELECT id FROM venue_tables WHERE partner_id = ?1 AND id = ?2")
                        .bind(&p).bind(table).fetch_optional(&mut *tx).await?;
                    sqlx::query("INSERT INTO table_sessions (partner_id, id, venue_id, table_id, status, created_at)
                                 VALUES (?1, ?2, ?3, ?4, 'pending', ?5)
                                 ON CONFLICT (partner_id, table_id) WHERE status <> 'closed' DO NOTHING")
                        .bind(&p).bind(uuid::Uuid::now_v7().hyphenated().to_string()).bind(v).bind(table).bind(&now)
                        .execute(&mut *tx).await?;
                    let session: String = sqlx::query_scalar(
                        "SELECT id FROM table_sessions WHERE partner_id = ?1 AND table_id = ?2 AND status <> 'closed'")
                        .bind(&p).bind(table).fetch_one(&mut *tx).await?;
                    let order = uuid::Uuid::now_v7().hyphenated().to_string();
                    sqlx::query("INSERT INTO orders (partner_id, venue_id, id, table_id, status, lines, subtotal, currency,
                                 idempotency_key, request_hash, placed_at, updated_at, session_id, device)
                                 VALUES (?1, ?2, ?3, ?4, 'placed', ?5, 1890000, 'COP', ?6, x'00', ?7, ?7, ?8, NULL)")
                        .bind(&p).bind(v).bind(&order).bind(table)
                        .bind(r#"[{"name":{"es":"Bandeja paisa"},"quantity":1}]"#)
                        .bind(uuid::Uuid::new_v4().to_string()).bind(&now).bind(&session)
                        .execute(&mut *tx).await?;
                    sqlx::query("SELECT EXISTS (SELECT 1 FROM table_sessions WHERE partner_id = ?1 AND id = ?2 AND status = 'open')")
                        .bind(&p).bind(&session).fetch_one(&mut *tx).await?;
                    sqlx::query("INSERT INTO order_events (partner_id, venue_id, order_id, status, actor, at)
                                 VALUES (?1, ?2, ?3, 'placed', 'guest', ?4)")
                        .bind(&p).bind(v).bind(&order).bind(&now).execute(&mut *tx).await?;
                    tx.commit().await
                }
                .await;
                if result.is_ok() {
                    done += 1;
                }
            }
            *count.lock().await += done;
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let done = *count.lock().await;
    pool.close().await;
    Ok(done as f64 / started.elapsed().as_secs_f64())
}

/// Staff reading bills while guests order: `STAFF_READERS` connections, each reading the venue's live table
/// sessions with their bills (`GET /venues/{venue}/table-sessions`) every `STAFF_READ_EVERY`, until `stop`.
async fn staff_reading_bills(served: &Served, seed: &Seed, stop: Arc<std::sync::atomic::AtomicBool>) -> Run {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..STAFF_READERS {
        let (client, stop) = (served.client.clone(), stop.clone());
        let url = format!("{}/api/v1/venues/{}/table-sessions", served.origin, seed.venue);
        let access = seed.access.clone();
        tasks.push(tokio::spawn(async move {
            let mut run = Run::default();
            let mut ticker = tokio::time::interval(STAFF_READ_EVERY);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                ticker.tick().await;
                let sent = Instant::now();
                let ok = match client.get(&url).bearer_auth(&access).send().await {
                    Ok(response) => {
                        let success = response.status().is_success();
                        let read = response.bytes().await.is_ok();
                        success && read
                    }
                    Err(_) => false,
                };
                run.record(ok, sent);
            }
            run
        }));
    }
    Run::joined(tasks, started).await
}

/// Orders placed at `pace` with staff reading bills alongside: the orders' run and the staff's.
async fn orders_with_staff_reading(
    served: &Served,
    seed: &Seed,
    connections: usize,
    seconds: u64,
    pace: Pace,
) -> (Run, Run) {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (orders, staff) = tokio::join!(
        async {
            let run = place_orders(served, &seed.tables, connections, seconds, pace).await;
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            run
        },
        staff_reading_bills(served, seed, stop.clone())
    );
    (orders, staff)
}

/// (b) 500 sign-in attempts a second (wrong passwords, one address, as a credential-stuffing burst) while (a) runs.
async fn orders_under_login_flood(
    served: &Served,
    seed: &Seed,
    connections: usize,
    seconds: u64,
    pace: Pace,
) -> (Run, HashMap<u16, usize>) {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let statuses = Arc::new(Mutex::new(HashMap::new()));
    // The attacker has connections of its own: sharing the guests' pool would park guests behind sign-ins queued
    // for hashing, which measures the load generator rather than the server.
    let attacker = https_client(&served.data.path().join("data/tls/cert.pem"), 64)
        .unwrap_or_else(|_| served.client.clone());
    let flood = {
        let (client, origin, stop, statuses) =
            (attacker, served.origin.clone(), stop.clone(), statuses.clone());
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(Duration::from_millis(2));
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                ticker.tick().await;
                n += 1;
                let (client, origin, statuses) = (client.clone(), origin.clone(), statuses.clone());
                tokio::spawn(async move {
                    let reply = client
                        .post(format!("{origin}/api/v1/auth/login"))
                        .json(&json!({"email": format!("guess{}@example.co", n % 50), "password": "not the right one at all"}))
                        .send()
                        .await;
                    let status = reply.map_or(0, |r| r.status().as_u16());
                    *statuses.lock().await.entry(status).or_insert(0) += 1;
                });
            }
        })
    };
    let run = place_orders(served, &seed.tables, connections, seconds, pace).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = flood.await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let statuses = statuses.lock().await.clone();
    (run, statuses)
}

struct FanOut {
    connected: usize,
    /// Why displays got no stream: HTTP status, or 0 when the request itself failed.
    refused: HashMap<u16, usize>,
    delivered: usize,
    expected: usize,
    run: Run,
    rss_connected: f64,
}

/// (c) and (e): `displays` kitchen displays on the SSE stream; orders placed one by one on an accepted table; the
/// time from sending each order to its arrival on each display. RSS is read while every display is connected.
async fn fan_out(served: &Served, seed: &Seed, displays: usize, orders: usize) -> anyhow::Result<FanOut> {
    let arrivals: Arc<Mutex<Vec<(String, Instant)>>> = Arc::new(Mutex::new(Vec::new()));
    let connected = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let refused: Arc<std::sync::Mutex<HashMap<u16, usize>>> = Arc::default();
    let stream_client = https_client(&served.data.path().join("data/tls/cert.pem"), displays + 8)?;
    let mut tasks = Vec::new();
    for _ in 0..displays {
        let (client, arrivals, connected, stop, refused) = (
            stream_client.clone(),
            arrivals.clone(),
            connected.clone(),
            stop.clone(),
            refused.clone(),
        );
        let url = format!("{}/api/v1/venues/{}/orders/stream", served.origin, seed.venue);
        let access = seed.access.clone();
        tasks.push(tokio::spawn(async move {
            let refuse = |status: u16| {
                if let Ok(mut refused) = refused.lock() {
                    *refused.entry(status).or_insert(0) += 1;
                }
            };
            let Ok(response) = client
                .get(url)
                .bearer_auth(access)
                .header("accept", "text/event-stream")
                .send()
                .await
            else {
                refuse(0);
                return;
            };
            if !response.status().is_success() {
                refuse(response.status().as_u16());
                return;
            }
            connected.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut body = response.bytes_stream();
            let mut buffer = String::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok(Some(Ok(chunk))) = tokio::time::timeout(Duration::from_millis(200), body.next()).await
                else {
                    continue;
                };
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find("\n\n") {
                    let event: String = buffer.drain(..end + 2).collect();
                    for line in event.lines() {
                        if let Some(data) = line.strip_prefix("data:")
                            && let Ok(value) = serde_json::from_str::<Value>(data.trim())
                            && let Some(id) = value["order"]["id"].as_str()
                        {
                            arrivals.lock().await.push((id.to_owned(), Instant::now()));
                        }
                    }
                }
            }
        }));
    }
    let wait_until = Instant::now() + Duration::from_secs(60);
    while connected.load(std::sync::atomic::Ordering::Relaxed) < displays && Instant::now() < wait_until {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_connected = served.rss_mib().0;
    let connected = connected.load(std::sync::atomic::Ordering::Relaxed);
    let mut sent = HashMap::new();
    let table = &seed.tables[0].token;
    for _ in 0..orders {
        let start = Instant::now();
        let reply = served
            .client
            .post(format!("{}/api/v1/t/{table}/orders", served.origin))
            .header("x-forwarded-for", guest_address(sent.len() as u64))
            .header("idempotency-key", uuid::Uuid::new_v4().to_string())
            .json(&json!({"items": [{"item_id": seed.tables[0].item, "quantity": 1}]}))
            .send()
            .await?;
        let order: Value = reply.json().await?;
        if let Some(id) = order["id"].as_str() {
            sent.insert(id.to_owned(), start);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for task in tasks {
        let _ = task.await;
    }
    let arrivals = arrivals.lock().await;
    let mut run = Run::default();
    for (id, at) in arrivals.iter() {
        if let Some(start) = sent.get(id) {
            run.latencies
                .push(u64::try_from(at.duration_since(*start).as_micros()).unwrap_or(u64::MAX));
        }
    }
    run.latencies.sort_unstable();
    let refused = refused.lock().map(|r| r.clone()).unwrap_or_default();
    Ok(FanOut {
        refused,
        connected,
        delivered: run.latencies.len(),
        expected: sent.len() * connected,
        run,
        rss_connected,
    })
}

struct EngineResults {
    engine: &'static str,
    orders: Run,
    one_venue: Run,
    raw_tps: f64,
    /// `(comanda orders/s, raw tx/s)` of each interleaved pair, in run order (PostgreSQL).
    pairs: Vec<(f64, f64)>,
    /// The raw run of every statement comanda's order makes PostgreSQL run (`raw_postgres_full`), interleaved with
    /// each pair; its best run.
    full_runs: Vec<f64>,
    steady_rate: f64,
    steady: Run,
    steady_staff: Run,
    steady_flood: Run,
    flood: Run,
    flood_statuses: HashMap<u16, usize>,
    fan_out: FanOut,
    cold_start: Duration,
    idle_rss: f64,
    peak_rss: f64,
}

async fn bench_engine(args: &Args, binary: &Path, postgres: bool) -> anyhow::Result<EngineResults> {
    let database = if postgres {
        Some(comanda_store::testing::PgTestDatabase::create().await)
    } else {
        None
    };
    let urls = database.as_ref().map(|db| (db.app_url(), db.owner_url()));
    let served = serve(
        binary,
        urls.as_ref().map(|(a, o)| (a.as_str(), o.as_str())),
        args.connections + 8,
        args.server_log.as_ref().map(|path| {
            let mut named = path.clone().into_os_string();
            named.push(if postgres { ".postgres" } else { ".sqlite" });
            PathBuf::from(named)
        }),
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle_rss = served.rss_mib().0;
    let seed = seed(&served).await?;
    eprintln!(
        "[{}] seeded; placing orders at {} connections",
        engine_name(postgres),
        args.connections
    );
    let _warm_up = place_orders(&served, &seed.tables, args.connections, 2, Pace::Saturated).await;
    // At saturation only orders, so that the ratio compares like with like (the raw transaction reads no bills).
    // On PostgreSQL comanda and pgbench take turns, so both see the same machine and the same table sizes; the
    // best comanda run is compared with the best raw run.
    let mut pairs = Vec::new();
    let mut full_runs = Vec::new();
    if let Some(db) = &database {
        create_bench_audit_table(&db.superuser_url()).await?;
    }
    let mut best: Option<Run> = None;
    let mut best_raw: f64 = 0.0;
    for pair in 0..if database.is_some() { args.pairs.max(1) } else { 1 } {
        let run = place_orders(
            &served,
            &seed.tables,
            args.connections,
            args.seconds,
            Pace::Saturated,
        )
        .await;
        if let Some(db) = &database {
            let raw = raw_postgres(&db.superuser_url(), &seed, args.connections, args.seconds)?;
            let full = raw_postgres_full(&db.app_url(), &seed, args.connections, args.seconds)?;
            eprintln!(
                "[{}] pair {}: comanda {:.0} orders/s, raw core {raw:.0} tx/s, raw of the same statements {full:.0} tx/s",
                engine_name(postgres),
                pair + 1,
                run.rate()
            );
            pairs.push((run.rate(), raw));
            full_runs.push(full);
            best_raw = best_raw.max(raw);
        }
        if best.as_ref().is_none_or(|b| run.rate() > b.rate()) {
            best = Some(run);
        }
    }
    let orders = best.unwrap_or_default();
    let one_venue = place_orders(
        &served,
        &seed.first_venue_tables(),
        args.connections,
        args.seconds,
        Pace::Saturated,
    )
    .await;
    let steady_rate = (orders.rate() * args.steady_share).max(1.0);
    let steady_pace = Pace::Steady {
        orders_per_second: steady_rate,
    };
    eprintln!(
        "[{}] {:.0} orders/s; a steady {steady_rate:.0} orders/s next, then the login flood",
        engine_name(postgres),
        orders.rate()
    );
    let (steady, steady_staff) =
        orders_with_staff_reading(&served, &seed, args.connections, args.seconds, steady_pace).await;
    let (steady_flood, _) =
        orders_under_login_flood(&served, &seed, args.connections, args.seconds, steady_pace).await;
    let (flood, flood_statuses) =
        orders_under_login_flood(&served, &seed, args.connections, args.seconds, Pace::Saturated).await;
    eprintln!(
        "[{}] SSE fan-out to {} displays",
        engine_name(postgres),
        args.displays
    );
    let fan_out = fan_out(&served, &seed, args.displays, 30).await?;
    let peak_rss = served.rss_mib().1;
    let cold_start = served.cold_start;
    let raw_tps = if database.is_some() {
        served.stop();
        best_raw
    } else {
        let data = served.stop();
        raw_sqlite(
            &data.path().join("data/comanda.db"),
            &seed,
            args.connections,
            args.seconds,
        )
        .await?
    };
    Ok(EngineResults {
        engine: engine_name(postgres),
        orders,
        one_venue,
        raw_tps,
        pairs,
        full_runs,
        steady_rate,
        steady,
        steady_staff,
        steady_flood,
        flood,
        flood_statuses,
        fan_out,
        cold_start,
        idle_rss,
        peak_rss,
    })
}

fn engine_name(postgres: bool) -> &'static str {
    if postgres {
        "PostgreSQL 15"
    } else {
        "SQLite (embedded)"
    }
}

fn table(results: &[EngineResults], args: &Args) -> String {
    let mut out = format!(
        "| measure | {} |\n| --- |{}\n",
        results.iter().map(|r| r.engine).collect::<Vec<_>>().join(" | "),
        " --- |".repeat(results.len())
    );
    let mut row = |name: String, cell: &dyn Fn(&EngineResults) -> String| {
        out.push_str(&format!(
            "| {name} | {} |\n",
            results.iter().map(cell).collect::<Vec<_>>().join(" | ")
        ));
    };
    let c = args.connections;
    row(
        format!(
            "(a) orders over HTTPS, {c} connections, {VENUES} venues × {TABLES_PER_VENUE} tables (orders/s)"
        ),
        &|r| format!("{:.0}", r.orders.rate()),
    );
    row("(a) latency p50 / p95 / p99 / p99.9 (ms)".into(), &|r| {
        format!(
            "{:.1} / {:.1} / {:.1} / {:.1}",
            r.orders.percentile_ms(50.0),
            r.orders.percentile_ms(95.0),
            r.orders.percentile_ms(99.0),
            r.orders.percentile_ms(99.9)
        )
    });
    row("(a) failed requests".into(), &|r| r.orders.failed.to_string());
    row(
        format!("raw order transaction, core (table, session, order, event, NOTIFY), {c} clients (tx/s)"),
        &|r| format!("{:.0}", r.raw_tps),
    );
    row("**comanda ÷ raw core**".into(), &|r| {
        format!("**{:.0} %**", 100.0 * r.orders.rate() / r.raw_tps)
    });
    let best_full = |r: &EngineResults| r.full_runs.iter().copied().fold(0.0, f64::max);
    row(
        "raw of every statement comanda's order runs (+ code lookup, party, roll-ups, audit row; comanda's role, \
         row-level security) (tx/s)"
            .into(),
        &|r| match best_full(r) {
            0.0 => "—".into(),
            full => format!("{full:.0}"),
        },
    );
    row(
        "**comanda ÷ raw of the same statements**".into(),
        &|r| match best_full(r) {
            0.0 => "—".into(),
            full => format!("**{:.0} %**", 100.0 * r.orders.rate() / full),
        },
    );
    row(
        "interleaved runs, comanda orders/s ÷ raw core ÷ raw same statements, tx/s (spread)".into(),
        &|r| {
            if r.pairs.is_empty() {
                return "one run each".into();
            }
            let listed: Vec<String> = r
                .pairs
                .iter()
                .zip(&r.full_runs)
                .map(|((c, raw), full)| format!("{c:.0} ÷ {raw:.0} ÷ {full:.0}"))
                .collect();
            let spread = |values: Vec<f64>| {
                let low = values.iter().copied().fold(f64::INFINITY, f64::min);
                let high = values.iter().copied().fold(0.0, f64::max);
                format!("{low:.0}–{high:.0}")
            };
            format!(
                "{}; comanda {}, raw core {}, raw same {}",
                listed.join(", "),
                spread(r.pairs.iter().map(|p| p.0).collect()),
                spread(r.pairs.iter().map(|p| p.1).collect()),
                spread(r.full_runs.clone())
            )
        },
    );
    row(
        format!("(a) all {c} connections at one venue's {TABLES_PER_VENUE} tables: orders/s; p99 (ms)"),
        &|r| {
            format!(
                "{:.0}; {:.1}",
                r.one_venue.rate(),
                r.one_venue.percentile_ms(99.0)
            )
        },
    );
    let share = args.steady_share * 100.0;
    row(
        format!("(a) at a steady {share:.0} % of that load: orders/s due, served; p50 / p99 / p99.9 (ms)"),
        &|r| {
            format!(
                "{:.0}, {:.0}; {:.1} / {:.1} / {:.1}",
                r.steady_rate,
                r.steady.rate(),
                r.steady.percentile_ms(50.0),
                r.steady.percentile_ms(99.0),
                r.steady.percentile_ms(99.9)
            )
        },
    );
    row(
        format!(
            "(a) alongside, {STAFF_READERS} staff reading the venue's bills every {} ms: reads/s; p50 / p99 (ms); failed",
            STAFF_READ_EVERY.as_millis()
        ),
        &|r| {
            format!(
                "{:.0}; {:.1} / {:.1}; {}",
                r.steady_staff.rate(),
                r.steady_staff.percentile_ms(50.0),
                r.steady_staff.percentile_ms(99.0),
                r.steady_staff.failed
            )
        },
    );
    row(
        "(b) order p99 at that steady load under a 500 req/s login flood (ms)".into(),
        &|r| {
            let base = r.steady.percentile_ms(99.0);
            let flood = r.steady_flood.percentile_ms(99.0);
            format!("{flood:.1} ({:+.0} %)", 100.0 * (flood - base) / base)
        },
    );
    row("(b) order p99 at saturation under the flood (ms)".into(), &|r| {
        let base = r.orders.percentile_ms(99.0);
        let flood = r.flood.percentile_ms(99.0);
        format!("{flood:.1} ({:+.0} %)", 100.0 * (flood - base) / base)
    });
    row(
        "(b) orders/s at saturation during the flood; sign-in answers".into(),
        &|r| {
            let mut statuses: Vec<_> = r.flood_statuses.iter().collect();
            statuses.sort();
            let statuses: Vec<String> = statuses.iter().map(|(s, n)| format!("{n}×{s}")).collect();
            format!("{:.0}; {}", r.flood.rate(), statuses.join(", "))
        },
    );
    row(
        format!("(c) SSE order→display p50 / p99 (ms), {} displays", args.displays),
        &|r| {
            format!(
                "{:.1} / {:.1}",
                r.fan_out.run.percentile_ms(50.0),
                r.fan_out.run.percentile_ms(99.0)
            )
        },
    );
    row(
        "(c) displays connected (refused: n×status, 0 = no answer); events delivered / expected".into(),
        &|r| {
            let mut refused: Vec<_> = r.fan_out.refused.iter().collect();
            refused.sort();
            let refused: Vec<String> = refused.iter().map(|(s, n)| format!("{n}×{s}")).collect();
            format!(
                "{}{}; {} / {}",
                r.fan_out.connected,
                if refused.is_empty() {
                    String::new()
                } else {
                    format!(" (refused: {})", refused.join(", "))
                },
                r.fan_out.delivered,
                r.fan_out.expected
            )
        },
    );
    row("(d) cold start to first served request (ms)".into(), &|r| {
        format!("{:.0}", r.cold_start.as_secs_f64() * 1000.0)
    });
    row("(e) idle RSS (MiB)".into(), &|r| format!("{:.1}", r.idle_rss));
    row(
        format!("(e) RSS with {} SSE connections open (MiB)", args.displays),
        &|r| format!("{:.1}", r.fan_out.rss_connected),
    );
    row("peak RSS of the run (MiB)".into(), &|r| {
        format!("{:.1}", r.peak_rss)
    });
    out
}

fn write_results(path: &Path, marker: &str, table: &str, command: &str) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let (open, close) = (
        format!("<!-- {marker}:start -->"),
        format!("<!-- {marker}:end -->"),
    );
    let block = format!(
        "{open}\nMeasured {} with `{command}`:\n\n{table}{close}",
        time::OffsetDateTime::from(std::time::SystemTime::now()).date()
    );
    let updated = match (text.find(&open), text.find(&close)) {
        (Some(start), Some(end)) => format!("{}{block}{}", &text[..start], &text[end + close.len()..]),
        _ => format!("{text}\n{block}\n"),
    };
    std::fs::write(path, updated)?;
    Ok(())
}

/// (f) on one engine: seed the venue, ask availability, book, then the raw insert.
async fn bench_reservations(
    args: &Args,
    binary: &Path,
    postgres: bool,
) -> anyhow::Result<(&'static str, reservations::ReservationResults)> {
    let database = if postgres {
        Some(comanda_store::testing::PgTestDatabase::create().await)
    } else {
        None
    };
    let urls = database.as_ref().map(|db| (db.app_url(), db.owner_url()));
    let served = serve(
        binary,
        urls.as_ref().map(|(a, o)| (a.as_str(), o.as_str())),
        args.connections + 8,
        None,
    )
    .await?;
    let venue = reservations::seed(&served).await?;
    eprintln!(
        "[{}] reservations: {} bookings on the busy day; asking availability",
        engine_name(postgres),
        venue.booked_on_busy_day
    );
    let availability = reservations::availability(&served, &venue, args.connections, args.seconds).await;
    let (bookings, refused) = reservations::bookings(&served, &venue, args.connections, args.seconds).await;
    let raw_tps = match &database {
        Some(db) => reservations::raw_postgres(&db.superuser_url(), &venue, args.connections, args.seconds)?,
        None => {
            let data = served.stop();
            reservations::raw_sqlite(
                &data.path().join("data/comanda.db"),
                &venue,
                args.connections,
                args.seconds,
            )
            .await?
        }
    };
    Ok((
        engine_name(postgres),
        reservations::ReservationResults {
            booked_on_busy_day: venue.booked_on_busy_day,
            availability,
            bookings,
            refused,
            raw_tps,
        },
    ))
}

fn reservations_table(rows: &[(&'static str, reservations::ReservationResults)]) -> String {
    let mut table = String::from("| measure |");
    for (engine, _) in rows {
        table.push_str(&format!(" {engine} |"));
    }
    table.push_str("\n| --- |");
    table.push_str(&" --- |".repeat(rows.len()));
    table.push('\n');
    let mut line = |name: &str, cell: &dyn Fn(&reservations::ReservationResults) -> String| {
        table.push_str(&format!("| {name} |"));
        for (_, r) in rows {
            table.push_str(&format!(" {} |", cell(r)));
        }
        table.push('\n');
    };
    line(
        "(f) bookings on the busy day (60 tables, 10 combinations)",
        &|r| r.booked_on_busy_day.to_string(),
    );
    line("(f) availability, 64 guests at once: answers/s; failed", &|r| {
        format!("{:.0}; {}", r.availability.rate(), r.availability.failed)
    });
    line("(f) availability latency p50 / p95 / p99 (ms)", &|r| {
        format!(
            "{:.1} / {:.1} / {:.1}",
            r.availability.percentile_ms(50.0),
            r.availability.percentile_ms(95.0),
            r.availability.percentile_ms(99.0)
        )
    });
    line(
        "(f) bookings decided/s (201 + 409 slot-taken); of them refused; failed",
        &|r| format!("{:.0}; {}; {}", r.bookings.rate(), r.refused, r.bookings.failed),
    );
    line("(f) booking latency p50 / p95 / p99 (ms)", &|r| {
        format!(
            "{:.1} / {:.1} / {:.1}",
            r.bookings.percentile_ms(50.0),
            r.bookings.percentile_ms(95.0),
            r.bookings.percentile_ms(99.0)
        )
    });
    line("raw conflict-checked insert, 64 clients (tx/s)", &|r| {
        format!("{:.0}", r.raw_tps)
    });
    line("**bookings ÷ raw**", &|r| {
        format!("**{:.0} %**", 100.0 * r.bookings.rate() / r.raw_tps)
    });
    table
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args = Args::parse();
    // A thousand displays need more than the usual 1024 descriptors, here and in the server (which inherits them).
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    if let Some(line) = limits.lines().find(|l| l.starts_with("Max open files"))
        && line
            .split_whitespace()
            .nth(3)
            .and_then(|n| n.parse::<usize>().ok())
            .is_some_and(|n| n < args.displays * 2 + 256)
    {
        bail!(
            "raise the open-files limit first (ulimit -n {}): {line}",
            args.displays * 2 + 256
        );
    }
    let binary = match &args.comanda {
        Some(path) => path.clone(),
        None => std::env::current_exe()?.with_file_name("comanda"),
    };
    let engines: Vec<bool> = match args.engine.as_str() {
        "sqlite" => vec![false],
        "postgres" => vec![true],
        "both" => vec![false, true],
        other => bail!("--engine: sqlite, postgres or both, not {other}"),
    };
    if let Some(orders) = args.analytics {
        let mut results = Vec::new();
        for postgres in engines {
            results.push(
                analytics::bench(
                    &binary,
                    postgres,
                    if postgres {
                        orders
                    } else {
                        args.analytics_sqlite.unwrap_or(orders)
                    },
                    args.analytics_days,
                    engine_name(postgres),
                )
                .await?,
            );
        }
        let table = analytics::table(&results);
        println!("{table}");
        if let Some(path) = &args.write {
            let command = format!(
                "cargo build --release -p comanda -p comanda-bench && ulimit -n 8192 && TEST_PG_OPTIONS='{}' target/release/comanda-bench --analytics {orders}{} --analytics-days {} --engine {} --write BENCHMARKS.md",
                std::env::var("TEST_PG_OPTIONS").unwrap_or_default(),
                args.analytics_sqlite
                    .map(|n| format!(" --analytics-sqlite {n}"))
                    .unwrap_or_default(),
                args.analytics_days,
                args.engine
            );
            write_results(path, "analytics", &table, &command)?;
        }
        return Ok(());
    }
    if args.reservations {
        let mut rows = Vec::new();
        for postgres in engines {
            rows.push(bench_reservations(&args, &binary, postgres).await?);
        }
        let table = reservations_table(&rows);
        println!("{table}");
        if let Some(path) = &args.write {
            let command = format!(
                "cargo build --release -p comanda -p comanda-bench && target/release/comanda-bench --reservations --engine {} --connections {} --seconds {} --write BENCHMARKS.md",
                args.engine, args.connections, args.seconds
            );
            write_results(path, "reservations", &table, &command)?;
        }
        return Ok(());
    }
    let mut results = Vec::new();
    for postgres in engines {
        results.push(bench_engine(&args, &binary, postgres).await?);
    }
    let table = table(&results, &args);
    println!("{table}");
    if let Some(path) = &args.write {
        let command = format!(
            "cargo build --release -p comanda -p comanda-bench && target/release/comanda-bench --engine {} --connections {} --seconds {} --pairs {} --displays {} --write BENCHMARKS.md",
            args.engine, args.connections, args.seconds, args.pairs, args.displays
        );
        write_results(path, "bench", &table, &command)?;
    }
    Ok(())
}
