//! (f) Reservations on a Friday evening: a venue of 60 tables with declared combinations and about 300 bookings on
//! one day; `connections` guests ask its availability at once over HTTPS (p50/p95/p99), then book across the
//! horizon, next to the raw conflict-checked insert (the store's own statements: the venue's lock, the guest, the
//! reservation, its claims) straight to the database in the same run.
//!
//! Guests come from many addresses (the server believes the loopback proxy's `X-Forwarded-For`), as a public
//! widget's traffic does, so the per-address booking limit measures what it is meant to: one abuser, not a crowd.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};

use crate::{Run, Served, call, enrolled_owner};

/// Seats of the 60 tables: ten of each kind, as a mid-size dining room has.
const SEATS: [u32; 6] = [2, 2, 4, 4, 4, 6];
const TABLES: usize = 60;
/// Days ahead the busy day is (local Bogotá date, UTC−5).
const BUSY_DAY: i64 = 3;

pub struct ReservationResults {
    pub booked_on_busy_day: usize,
    pub availability: Run,
    pub bookings: Run,
    pub refused: usize,
    pub raw_tps: f64,
}

/// A tiny deterministic generator: the load's shape, not its randomness, is what is measured.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below.max(1)
    }
}

pub struct Venue {
    pub partner: String,
    pub venue: String,
    pub date: time::Date,
    pub booked_on_busy_day: usize,
}

fn booking(start: &str, party: u64, n: u64) -> Value {
    json!({"start": start, "party_size": party, "consent": true, "note": "",
           "guest": {"name": format!("Huésped {n}"), "phone": format!("+57300{:07}", n % 10_000_000),
                     "email": format!("huesped{n}@example.co")}})
}

/// A start on the local date `date` in Bogotá: `slot` quarter hours after 11:00.
fn start_at(date: time::Date, slot: u64) -> String {
    let minutes = 11 * 60 + slot * 15;
    format!("{date}T{:02}:{:02}:00-05:00", minutes / 60, minutes % 60)
}

async fn post_booking(
    client: &reqwest::Client,
    origin: &str,
    venue: &str,
    body: &Value,
    from: u64,
) -> anyhow::Result<u16> {
    let response = client
        .post(format!("{origin}/api/v1/venues/{venue}/reservations"))
        .header("x-forwarded-for", crate::guest_address(from))
        .json(body)
        .send()
        .await?;
    Ok(response.status().as_u16())
}

/// The venue, its tables, ten combinations of two four-tops, the policy, and the busy day's bookings.
pub async fn seed(served: &Served) -> anyhow::Result<Venue> {
    let (access, partner) = enrolled_owner(served, "reservas@example.co").await?;
    let token = Some(access.as_str());
    let venue = call(
        served,
        "POST",
        "/api/v1/venues",
        token,
        json!({"name": "Salón Viernes", "timezone": "America/Bogota"}),
    )
    .await?;
    let venue = venue["id"].as_str().context("venue")?.to_owned();
    let mut fours = Vec::new();
    for n in 0..TABLES {
        let seats = SEATS[n % SEATS.len()];
        let table = call(
            served,
            "POST",
            &format!("/api/v1/venues/{venue}/tables"),
            token,
            json!({"label": format!("Mesa {n}"), "seats": seats}),
        )
        .await?;
        if seats == 4 {
            fours.push(table["id"].as_str().context("table")?.to_owned());
        }
    }
    for pair in fours.chunks(2).take(10) {
        call(
            served,
            "POST",
            &format!("/api/v1/venues/{venue}/table-combinations"),
            token,
            json!({"tables": pair}),
        )
        .await?;
    }
    let policy = json!({
        "services": [{"weekdays": [1, 2, 3, 4, 5, 6, 7], "first_seating": "11:00", "last_seating": "23:00"}],
        "slot_minutes": 15,
        "turn_minutes": [{"max_party": 2, "minutes": 90}, {"max_party": 6, "minutes": 120}, {"max_party": 12, "minutes": 150}],
        "buffer_minutes": 15,
        "pacing": {"covers_per_15_min": 400, "online_covers_per_15_min": 400},
        "min_notice_minutes": 60, "horizon_days": 60, "max_party_size": 12,
        "deposit_per_cover": null, "cancellation_cutoff_hours": 0
    });
    call(
        served,
        "PUT",
        &format!("/api/v1/venues/{venue}/booking-policy"),
        token,
        policy,
    )
    .await?;
    let date =
        time::OffsetDateTime::from(std::time::SystemTime::now()).date() + time::Duration::days(BUSY_DAY);
    // About 300 bookings on the busy day: parties of 1 to 6 at random starts, until 300 are in or the room is full.
    let mut dice = Dice(0x9E37_79B9_7F4A_7C15);
    let mut booked = 0;
    for attempt in 0..3_000u64 {
        if booked == 300 {
            break;
        }
        let body = booking(&start_at(date, dice.roll(49)), 1 + dice.roll(6), attempt);
        if post_booking(&served.client, &served.origin, &venue, &body, attempt).await? == 201 {
            booked += 1;
        }
    }
    Ok(Venue {
        partner,
        venue,
        date,
        booked_on_busy_day: booked,
    })
}

/// Availability of the busy day, asked by `connections` guests at once for `seconds`.
pub async fn availability(served: &Served, v: &Venue, connections: usize, seconds: u64) -> Run {
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let tasks = (0..connections)
        .map(|c| {
            let client = served.client.clone();
            let url = format!(
                "{}/api/v1/venues/{}/availability?date={}",
                served.origin, v.venue, v.date
            );
            tokio::spawn(async move {
                let mut run = Run::default();
                let mut dice = Dice(0xA5A5_0000 + c as u64);
                while Instant::now() < until {
                    let sent = Instant::now();
                    let ok = client
                        .get(format!("{url}&party_size={}", 1 + dice.roll(12)))
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success());
                    run.record(ok, sent);
                }
                run
            })
        })
        .collect();
    Run::joined(tasks, started).await
}

/// Guests booking across the horizon (random day, start and party); a refused time (409) counts as decided.
pub async fn bookings(served: &Served, v: &Venue, connections: usize, seconds: u64) -> (Run, usize) {
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let refused = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let tasks = (0..connections)
        .map(|c| {
            let (client, origin) = (served.client.clone(), served.origin.clone());
            let (venue, date, refused) = (v.venue.clone(), v.date, refused.clone());
            tokio::spawn(async move {
                let mut run = Run::default();
                let mut dice = Dice(0x5EED_0000 + c as u64);
                let mut n = 1_000_000 * (c as u64 + 1);
                while Instant::now() < until {
                    n += 1;
                    let day = date + time::Duration::days(1 + dice.roll(40) as i64);
                    let body = booking(&start_at(day, dice.roll(49)), 1 + dice.roll(6), n);
                    let sent = Instant::now();
                    let status = post_booking(&client, &origin, &venue, &body, n)
                        .await
                        .unwrap_or(0);
                    if status == 409 {
                        refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    run.record(status == 201 || status == 409, sent);
                }
                run
            })
        })
        .collect();
    let run = Run::joined(tasks, started).await;
    (run, refused.load(std::sync::atomic::Ordering::Relaxed))
}

/// The raw conflict-checked insert on PostgreSQL: the store's booking statements with `pgbench -M prepared`.
pub fn raw_postgres(superuser_url: &str, v: &Venue, connections: usize, seconds: u64) -> anyhow::Result<f64> {
    let (p, venue) = (&v.partner, &v.venue);
    let first = v.date.midnight().assume_utc().unix_timestamp() + 86_400 + 16 * 3600;
    let script = format!(
        r"\set t random(0, {last})
\set s {first} + random(0, 40) * 86400 + random(0, 48) * 900
SELECT id AS tid FROM venue_tables WHERE partner_id = '{p}' AND venue_id = '{venue}' ORDER BY id OFFSET :t LIMIT 1 \gset
BEGIN;
SELECT set_config('comanda.tenant', '{p}', true);
SELECT policy FROM booking_policies WHERE partner_id = '{p}' AND venue_id = '{venue}' FOR UPDATE;
SELECT count(*) FROM reservations WHERE partner_id = '{p}' AND venue_id = '{venue}' AND status IN ('booked', 'confirmed', 'late', 'seated') AND start_at < to_timestamp(:s + 172800) AND until_at > to_timestamp(:s - 86400);
INSERT INTO guest_contacts (partner_id, id, venue_id, email, name, phone, notice_version, consented_at) VALUES ('{p}', gen_random_uuid(), '{venue}', 'sealed', 'sealed', 'sealed', '2026-11', now()) RETURNING id AS gid \gset
INSERT INTO reservations (partner_id, id, venue_id, guest_id, party_size, start_at, until_at, status, channel, tables, note, created_at, updated_at) VALUES ('{p}', gen_random_uuid(), '{venue}', :gid, 2, to_timestamp(:s), to_timestamp(:s + 6300), 'booked', 'online', '[]', '', now(), now()) RETURNING id AS rid \gset
INSERT INTO reservation_claims (partner_id, table_id, cell, reservation_id) SELECT '{p}', :tid, c, :rid FROM generate_series(:s, :s + 6299, 900) AS c ON CONFLICT DO NOTHING;
END;
",
        last = TABLES - 1
    );
    crate::pgbench(superuser_url, &script, connections, seconds)
}

/// The raw conflict-checked insert on SQLite: the same statements in a direct loop on the server's database file
/// (server stopped), one writer as SQLite has.
pub async fn raw_sqlite(database: &Path, v: &Venue, connections: usize, seconds: u64) -> anyhow::Result<f64> {
    use sqlx::Row;
    let pool = crate::raw_sqlite_pool(database).await?;
    let tables: Vec<String> =
        sqlx::query("SELECT id FROM venue_tables WHERE partner_id = $1 AND venue_id = $2")
            .bind(&v.partner)
            .bind(&v.venue)
            .fetch_all(&pool)
            .await?
            .iter()
            .map(|row| row.get::<String, _>("id"))
            .collect();
    let tables = Arc::new(tables);
    let first = v.date.midnight().assume_utc().unix_timestamp() + 86_400 + 16 * 3600;
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..connections)
        .map(|c| {
            let (pool, tables, partner, venue) = (pool.clone(), tables.clone(), v.partner.clone(), v.venue.clone());
            tokio::spawn(async move {
                let mut done = 0usize;
                let mut dice = Dice(0xC0FF_EE00 + c as u64);
                while Instant::now() < until {
                    let s = first + dice.roll(41) as i64 * 86_400 + dice.roll(49) as i64 * 900;
                    // SQLite keeps instants as comanda writes them: fixed-width UTC text.
                    let at = |secs: i64| comanda_store::InstantText::fixed_width(time::OffsetDateTime::from_unix_timestamp(secs).unwrap_or(time::OffsetDateTime::UNIX_EPOCH));
                    let table = &tables[dice.roll(tables.len() as u64) as usize];
                    let Ok(mut tx) = pool.begin_with("BEGIN IMMEDIATE").await else { continue };
                    let guest = uuid::Uuid::now_v7().hyphenated().to_string();
                    let reservation = uuid::Uuid::now_v7().hyphenated().to_string();
                    let steps = async {
                        sqlx::query("SELECT policy FROM booking_policies WHERE partner_id = $1 AND venue_id = $2")
                            .bind(&partner).bind(&venue).fetch_optional(&mut *tx).await?;
                        sqlx::query("SELECT count(*) FROM reservations WHERE partner_id = $1 AND venue_id = $2 AND status IN ('booked', 'confirmed', 'late', 'seated') AND start_at < $4 AND until_at > $3")
                            .bind(&partner).bind(&venue).bind(at(s - 86_400)).bind(at(s + 172_800)).fetch_one(&mut *tx).await?;
                        sqlx::query("INSERT INTO guest_contacts (partner_id, id, venue_id, email, name, phone, notice_version, consented_at) VALUES ($1, $2, $3, 'sealed', 'sealed', 'sealed', '2026-11', $4)")
                            .bind(&partner).bind(&guest).bind(&venue).bind(at(s)).execute(&mut *tx).await?;
                        sqlx::query("INSERT INTO reservations (partner_id, id, venue_id, guest_id, party_size, start_at, until_at, status, channel, tables, note, created_at, updated_at) VALUES ($1, $2, $3, $4, 2, $5, $6, 'booked', 'online', '[]', '', $5, $5)")
                            .bind(&partner).bind(&reservation).bind(&venue).bind(&guest).bind(at(s)).bind(at(s + 6300)).execute(&mut *tx).await?;
                        for cell in (s..s + 6300).step_by(900) {
                            sqlx::query("INSERT INTO reservation_claims (partner_id, table_id, cell, reservation_id) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
                                .bind(&partner).bind(table).bind(cell).bind(&reservation).execute(&mut *tx).await?;
                        }
                        Ok::<(), sqlx::Error>(())
                    };
                    if steps.await.is_ok() && tx.commit().await.is_ok() {
                        done += 1;
                    }
                }
                done
            })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap_or(0);
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}
