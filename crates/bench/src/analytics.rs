//! (g) Analytics at scale (issue 19): `comanda seed --orders N` into a throwaway PostgreSQL cluster (or SQLite),
//! timed; then the reports a dashboard opens — a venue's summary over the whole history, its hourly series of the
//! last 90 days, its product mix and its sales per server over the whole history, and the partner's summary across
//! its venues — 50 requests
//! each over HTTPS after 3 warm-ups, next to the same figures computed straight from the raw tables by SQL on the
//! database (orders, payments, tip ledger, refunds and reservations; the order lines' JSON for the product mix),
//! 5 runs each. The ratio raw ÷ roll-up is the roll-ups' speed-up; the HTTPS side also pays TLS, sign-in checks and
//! JSON, the raw side none of them.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use comanda_store::InstantText;
use serde_json::Value;

use crate::{Run, Served, call, sign_in_enrolling};

const PASSWORD: &str = "violet kettle forty two";
const REQUESTS: usize = 50;
const RAW_RUNS: usize = 5;

pub struct Report {
    pub name: &'static str,
    pub served: Run,
    pub raw: Run,
}

pub struct AnalyticsResults {
    pub engine: &'static str,
    pub orders: u64,
    pub seed_seconds: f64,
    pub seed_line: String,
    pub reports: Vec<Report>,
}

/// The seeded partner's first venue and the history's dates.
struct Seeded {
    partner: String,
    owner: String,
    venue: String,
    first_day: time::Date,
    last_day: time::Date,
}

/// Runs `comanda seed` against the database of `data` (and `database`, on PostgreSQL), timed.
pub fn seed(
    binary: &Path,
    data: &Path,
    database: Option<(&str, &str)>,
    orders: u64,
    days: u32,
) -> anyhow::Result<(f64, String, Vec<String>)> {
    let mut command = Command::new(binary);
    command
        .args(["seed", "--data-dir"])
        .arg(data)
        .args([
            "--orders",
            &orders.to_string(),
            "--days",
            &days.to_string(),
            "--seed",
            "19",
        ])
        .args(["--password", PASSWORD])
        .stderr(std::process::Stdio::inherit());
    if let Some((app, owner)) = database {
        command
            .env("DATABASE_URL", app)
            .env("COMANDA_DATABASE__MIGRATION_URL", owner);
    }
    let started = Instant::now();
    let output = command.output().context("running comanda seed")?;
    let seconds = started.elapsed().as_secs_f64();
    if !output.status.success() {
        bail!("comanda seed failed: {}", String::from_utf8_lossy(&output.stdout));
    }
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("seeded "))
        .unwrap_or_default()
        .to_owned();
    Ok((seconds, summary, stdout.lines().map(str::to_owned).collect()))
}

fn first_partner(lines: &[String], days: u32) -> anyhow::Result<Seeded> {
    let line = lines
        .iter()
        .find(|l| l.starts_with("partner "))
        .context("no partner seeded")?;
    let words: Vec<&str> = line.split_whitespace().collect();
    let (partner, owner, venues) = (words.get(1), words.get(3), words.get(5));
    let venue = venues.and_then(|v| v.split(',').next()).context("no venue")?;
    // The seed's default last day: yesterday in Bogotá (UTC−5).
    let now = time::OffsetDateTime::from(std::time::SystemTime::now()) - time::Duration::hours(5);
    let last_day = now.date().previous_day().context("a date")?;
    Ok(Seeded {
        partner: partner.context("partner")?.to_string(),
        owner: owner.context("owner")?.to_string(),
        venue: venue.to_owned(),
        first_day: last_day - time::Duration::days(i64::from(days) - 1),
        last_day,
    })
}

async fn timed_requests(served: &Served, access: &str, path: &str) -> anyhow::Result<Run> {
    let mut run = Run::default();
    for _ in 0..3 {
        call(served, "GET", path, Some(access), Value::Null).await?;
    }
    let started = Instant::now();
    for _ in 0..REQUESTS {
        let sent = Instant::now();
        let reply = call(served, "GET", path, Some(access), Value::Null).await;
        run.record(reply.is_ok(), sent);
    }
    run.elapsed = started.elapsed();
    run.latencies.sort_unstable();
    Ok(run)
}

/// The raw statements of one report: the figures straight from the raw tables. `$1` partner, `$2` venue, `[$3,
/// $4)` the instants.
fn raw_statements(postgres: bool, report: &str) -> Vec<&'static str> {
    let summary = |venue: bool| -> Vec<&'static str> {
        match (postgres, venue) {
            (_, true) => vec![
                "SELECT count(*), sum(subtotal), sum(tax) FROM orders WHERE partner_id = $1 AND venue_id = $2
                   AND placed_at >= $3 AND placed_at < $4 AND status <> 'cancelled'",
                "SELECT sum(share + tip) FROM payments WHERE partner_id = $1 AND venue_id = $2 AND status = 'succeeded'
                   AND succeeded_at >= $3 AND succeeded_at < $4",
                "SELECT sum(amount) FROM tip_ledger WHERE partner_id = $1 AND venue_id = $2 AND at >= $3 AND at < $4",
                "SELECT sum(r.amount - r.tip_reversal) FROM refunds r
                   JOIN payments p ON p.partner_id = r.partner_id AND p.id = r.payment_id
                 WHERE r.partner_id = $1 AND p.venue_id = $2 AND r.status = 'succeeded'
                   AND r.completed_at >= $3 AND r.completed_at < $4",
                "SELECT status, count(*), sum(party_size) FROM reservations WHERE partner_id = $1 AND venue_id = $2
                   AND start_at >= $3 AND start_at < $4 GROUP BY status",
                // Turnover reads the sessions in both: the same statement as the served side's.
                "SELECT count(*), (SELECT count(*) FROM venue_tables WHERE partner_id = $1 AND venue_id = $2)
                 FROM table_sessions WHERE partner_id = $1 AND venue_id = $2 AND closed_at >= $3 AND closed_at < $4
                   AND accepted_at IS NOT NULL",
            ],
            (_, false) => vec![
                "SELECT venue_id, count(*), sum(subtotal), sum(tax) FROM orders WHERE partner_id = $1
                   AND placed_at >= $3 AND placed_at < $4 AND status <> 'cancelled' AND CAST($2 AS TEXT) IS NOT NULL
                 GROUP BY venue_id",
                "SELECT venue_id, sum(share + tip) FROM payments WHERE partner_id = $1 AND status = 'succeeded'
                   AND succeeded_at >= $3 AND succeeded_at < $4 AND CAST($2 AS TEXT) IS NOT NULL GROUP BY venue_id",
                "SELECT venue_id, sum(amount) FROM tip_ledger WHERE partner_id = $1 AND at >= $3 AND at < $4
                   AND CAST($2 AS TEXT) IS NOT NULL GROUP BY venue_id",
                "SELECT p.venue_id, sum(r.amount - r.tip_reversal) FROM refunds r
                   JOIN payments p ON p.partner_id = r.partner_id AND p.id = r.payment_id
                 WHERE r.partner_id = $1 AND r.status = 'succeeded' AND r.completed_at >= $3 AND r.completed_at < $4
                   AND CAST($2 AS TEXT) IS NOT NULL GROUP BY p.venue_id",
                "SELECT venue_id, status, count(*), sum(party_size) FROM reservations WHERE partner_id = $1
                   AND start_at >= $3 AND start_at < $4 AND CAST($2 AS TEXT) IS NOT NULL GROUP BY venue_id, status",
            ],
        }
    };
    match (report, postgres) {
        ("summary", _) => summary(true),
        ("servers", _) => vec![
            "SELECT s.accepted_member, count(*), sum(o.subtotal) FROM orders o
               JOIN table_sessions s ON s.partner_id = o.partner_id AND s.id = o.session_id
             WHERE o.partner_id = $1 AND o.venue_id = $2 AND o.placed_at >= $3 AND o.placed_at < $4
               AND o.status <> 'cancelled' AND s.status = 'closed' GROUP BY s.accepted_member",
            "SELECT member, sum(amount) FROM tip_ledger WHERE partner_id = $1 AND venue_id = $2 AND at >= $3 AND at < $4
             GROUP BY member",
        ],
        ("partner", _) => summary(false),
        ("series", true) => vec![
            "SELECT date_trunc('hour', placed_at AT TIME ZONE 'America/Bogota') AS hour, sum(subtotal) FROM orders
             WHERE partner_id = $1 AND venue_id = $2 AND placed_at >= $3 AND placed_at < $4 AND status <> 'cancelled'
             GROUP BY hour ORDER BY hour",
        ],
        ("series", false) => vec![
            "SELECT strftime('%Y-%m-%d %H', placed_at, '-5 hours') AS hour, sum(subtotal) FROM orders
             WHERE partner_id = $1 AND venue_id = $2 AND placed_at >= $3 AND placed_at < $4 AND status <> 'cancelled'
             GROUP BY hour ORDER BY hour",
        ],
        ("mix", true) => vec![
            "SELECT l->>'item_id' AS item, sum((l->>'quantity')::bigint),
                    sum((l->>'quantity')::bigint * (l->'unit_price'->>'amount')::bigint)
             FROM orders o CROSS JOIN LATERAL jsonb_array_elements(o.lines::jsonb) l
             WHERE o.partner_id = $1 AND o.venue_id = $2 AND o.placed_at >= $3 AND o.placed_at < $4
               AND o.status <> 'cancelled'
             GROUP BY item",
        ],
        (_, false) => vec![
            "SELECT json_extract(l.value, '$.item_id') AS item, sum(json_extract(l.value, '$.quantity')),
                    sum(json_extract(l.value, '$.quantity') * json_extract(l.value, '$.unit_price.amount'))
             FROM orders o, json_each(o.lines) l
             WHERE o.partner_id = $1 AND o.venue_id = $2 AND o.placed_at >= $3 AND o.placed_at < $4
               AND o.status <> 'cancelled'
             GROUP BY item",
        ],
        _ => Vec::new(),
    }
}

/// Times a report's raw statements, `RAW_RUNS` times after one warm-up (the roll-up side is warm too).
async fn raw_runs<DB>(
    pool: &sqlx::Pool<DB>,
    statements: &[&'static str],
    binds: (&str, &str, time::OffsetDateTime, time::OffsetDateTime),
    postgres: bool,
) -> anyhow::Result<Run>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    <DB as sqlx::Database>::Arguments: sqlx::IntoArguments<DB>,
    for<'q> uuid::Uuid: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> time::OffsetDateTime: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let (partner, venue, start, end) = binds;
    let (partner, venue) = (uuid::Uuid::parse_str(partner)?, uuid::Uuid::parse_str(venue)?);
    let mut run = Run::default();
    let mut conn = pool.acquire().await?;
    let started = Instant::now();
    for attempt in 0..=RAW_RUNS {
        let sent = Instant::now();
        for statement in statements {
            let query = sqlx::query::<DB>(*statement);
            let query = if postgres {
                query.bind(partner).bind(venue).bind(start).bind(end)
            } else {
                // SQLite keeps identifiers as hyphenated text and instants as fixed-width UTC text.
                query
                    .bind(partner.hyphenated().to_string())
                    .bind(venue.hyphenated().to_string())
                    .bind(start.fixed_width())
                    .bind(end.fixed_width())
            };
            query.fetch_all(&mut *conn).await?;
        }
        if attempt > 0 {
            run.record(true, sent);
        }
    }
    run.elapsed = started.elapsed();
    run.latencies.sort_unstable();
    Ok(run)
}

/// Seeds, serves and measures one engine.
pub async fn bench(
    binary: &Path,
    postgres: bool,
    orders: u64,
    days: u32,
    engine: &'static str,
) -> anyhow::Result<AnalyticsResults> {
    let database = if postgres {
        Some(comanda_store::testing::PgTestDatabase::create().await)
    } else {
        None
    };
    let urls = database.as_ref().map(|db| (db.app_url(), db.owner_url()));
    let data = tempfile::tempdir()?;
    eprintln!("[{engine}] comanda seed --orders {orders} --days {days}");
    let (seed_seconds, seed_line, lines) = seed(
        binary,
        &data.path().join("data"),
        urls.as_ref().map(|(a, o)| (a.as_str(), o.as_str())),
        orders,
        days,
    )?;
    eprintln!("[{engine}] {seed_line}; wall clock {seed_seconds:.0} s");
    let seeded = first_partner(&lines, days)?;
    if let Some(db) = &database {
        // Fresh statistics, as autovacuum would have gathered over the months the data took to arrive.
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&db.superuser_url()).await?;
        sqlx::raw_sql("VACUUM ANALYZE").execute(&mut conn).await?;
    }
    let served = crate::serve_in(
        binary,
        data,
        urls.as_ref().map(|(a, o)| (a.as_str(), o.as_str())),
        8,
        None,
    )
    .await?;
    let access = sign_in_enrolling(&served, &seeded.owner, PASSWORD).await?;
    let (first, last) = (seeded.first_day, seeded.last_day);
    let ninety = last - time::Duration::days(89);
    let venue = &seeded.venue;
    let paths = [
        (
            "summary",
            format!("/api/v1/venues/{venue}/analytics/summary?from={first}&to={last}"),
        ),
        (
            "series",
            format!(
                "/api/v1/venues/{venue}/analytics/timeseries?metric=gross&granularity=hour&from={ninety}&to={last}"
            ),
        ),
        (
            "mix",
            format!("/api/v1/venues/{venue}/analytics/product-mix?from={first}&to={last}"),
        ),
        (
            "servers",
            format!("/api/v1/venues/{venue}/analytics/servers?from={first}&to={last}"),
        ),
        (
            "partner",
            format!("/api/v1/analytics/summary?from={first}&to={last}"),
        ),
    ];
    // The raw side's instants: the business days' span (05:00 Bogotá = 10:00 UTC).
    let bound = |day: time::Date| day.with_hms(10, 0, 0).map(|t| t.assume_utc());
    let (start, end) = (bound(first)?, bound(last.next_day().context("a date")?)?);
    let (start90, _) = (bound(ninety)?, ());
    let mut reports = Vec::new();
    for (name, path) in &paths {
        let served_run = timed_requests(&served, &access, path).await?;
        let from = if *name == "series" { start90 } else { start };
        let statements = raw_statements(postgres, name);
        let raw = match &database {
            Some(db) => {
                let pool = sqlx::PgPool::connect(&db.superuser_url()).await?;
                raw_runs(&pool, &statements, (&seeded.partner, venue, from, end), true).await?
            }
            None => {
                let url = format!(
                    "sqlite://{}",
                    served.data.path().join("data/comanda.db").display()
                );
                let pool = sqlx::SqlitePool::connect(&url).await?;
                raw_runs(&pool, &statements, (&seeded.partner, venue, from, end), false).await?
            }
        };
        eprintln!(
            "[{engine}] {name}: p50 {:.1} ms, p95 {:.1} ms over HTTPS; raw p50 {:.1} ms",
            served_run.percentile_ms(50.0),
            served_run.percentile_ms(95.0),
            raw.percentile_ms(50.0)
        );
        reports.push(Report {
            name: match *name {
                "summary" => "venue summary, whole history",
                "series" => "venue hourly series, 90 days",
                "mix" => "venue product mix, whole history",
                "servers" => "venue sales per server, whole history",
                _ => "partner summary (8 venues), whole history",
            },
            served: served_run,
            raw,
        });
    }
    served.stop();
    Ok(AnalyticsResults {
        engine,
        orders,
        seed_seconds,
        seed_line,
        reports,
    })
}

pub fn table(results: &[AnalyticsResults]) -> String {
    let mut out = String::from(
        "| engine | report | HTTPS p50 / p95 (ms), 50 requests | raw SQL p50 / p95 (ms), 5 runs | raw ÷ roll-up (p50) |\n\
         | --- | --- | --- | --- | --- |\n",
    );
    for result in results {
        out.push_str(&format!(
            "| {} | `comanda seed --orders {}`: {:.0} s wall clock ({}) | | | |\n",
            result.engine, result.orders, result.seed_seconds, result.seed_line
        ));
        for report in &result.reports {
            out.push_str(&format!(
                "| {} | {} | {:.1} / {:.1} | {:.1} / {:.1} | {:.0}× |\n",
                result.engine,
                report.name,
                report.served.percentile_ms(50.0),
                report.served.percentile_ms(95.0),
                report.raw.percentile_ms(50.0),
                report.raw.percentile_ms(95.0),
                report.raw.percentile_ms(50.0) / report.served.percentile_ms(50.0).max(0.001),
            ));
        }
    }
    out
}
