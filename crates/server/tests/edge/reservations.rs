//! Reservations through the real HTTPS server on both engines: the last table raced by 50 guests, a venue in a zone
//! with daylight saving (New York), pacing, consent and bad input, and a cancelled slot bookable again at once.

use serde_json::{Value, json};
use time::{Date, Month, OffsetDateTime, Weekday};

use crate::identity::{PASSWORD, Reply, call, enrolled, post, sign_up};
use crate::support::{Engine, TestServer};

/// The booking policy the tests use: every evening, 90/120-minute turns, 15 minutes of buffer, pacing of 40.
pub fn policy() -> Value {
    json!({
        "services": evenings(),
        "slot_minutes": 15,
        "turn_minutes": [{"max_party": 2, "minutes": 90}, {"max_party": 12, "minutes": 120}],
        "buffer_minutes": 15,
        "pacing": {"covers_per_15_min": 40, "online_covers_per_15_min": 40},
        "min_notice_minutes": 60,
        "horizon_days": 60,
        "max_party_size": 12,
        "deposit_per_cover": null,
        "cancellation_cutoff_hours": 0
    })
}

/// Saves [`policy`] for an existing venue and books it for two, two days ahead at 19:00 Bogotá; the booking's id.
pub async fn a_booking_at(server: &TestServer, owner: &str, venue: &str) -> String {
    let saved = call(
        server,
        "PUT",
        &format!("/api/v1/venues/{venue}/booking-policy"),
        Some(owner),
        Some(policy()),
    )
    .await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    let date = tomorrow(server);
    let booked = book(
        server,
        venue,
        booking(&format!("{}T00:00:00Z", date + time::Duration::days(1)), 2),
    )
    .await;
    assert_eq!(booked.status, 201, "{}", booked.body);
    booked.body["reservation_id"].as_str().unwrap().to_owned()
}

pub struct BookingVenue {
    pub owner: String,
    pub refresh: String,
    pub venue: String,
    pub tables: Vec<String>,
}

impl BookingVenue {
    /// A fresh access token for the owner (after the test clock moved past the access token's life).
    async fn refreshed(&mut self, server: &TestServer) {
        let pair = post(
            server,
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": self.refresh}),
        )
        .await;
        assert_eq!(pair.status, 200, "{}", pair.body);
        self.owner = pair.body["access_token"].as_str().unwrap().to_owned();
        self.refresh = pair.body["refresh_token"].as_str().unwrap().to_owned();
    }
}

/// An owner with a venue in `zone`, tables of the given seats, and a booking policy (every day, 18:00–22:00 unless
/// `services` says otherwise; 90/120-minute turns, 15 minutes of buffer, `pacing` covers per 15 minutes).
pub async fn booking_venue(
    server: &TestServer,
    email: &str,
    zone: &str,
    seats: &[u32],
    services: Value,
    pacing: u32,
) -> BookingVenue {
    sign_up(server, email).await;
    let session = enrolled(server, email, PASSWORD).await;
    let (owner, refresh) = (session.access, session.refresh);
    let venue = post(
        server,
        "/api/v1/venues",
        Some(&owner),
        json!({"name": "Sede Reservas", "timezone": zone}),
    )
    .await;
    assert_eq!(venue.status, 201, "{}", venue.body);
    let venue = venue.body["id"].as_str().unwrap().to_owned();
    let mut tables = Vec::new();
    for (i, seats) in seats.iter().enumerate() {
        let table = post(
            server,
            &format!("/api/v1/venues/{venue}/tables"),
            Some(&owner),
            json!({"label": format!("Mesa {}", i + 1), "seats": seats}),
        )
        .await;
        assert_eq!(table.status, 201, "{}", table.body);
        tables.push(table.body["id"].as_str().unwrap().to_owned());
    }
    let policy = json!({
        "services": services,
        "slot_minutes": 15,
        "turn_minutes": [{"max_party": 2, "minutes": 90}, {"max_party": 12, "minutes": 120}],
        "buffer_minutes": 15,
        "pacing": {"covers_per_15_min": pacing, "online_covers_per_15_min": pacing},
        "min_notice_minutes": 60,
        "horizon_days": 60,
        "max_party_size": 12,
        "deposit_per_cover": null,
        "cancellation_cutoff_hours": 0
    });
    let saved = call(
        server,
        "PUT",
        &format!("/api/v1/venues/{venue}/booking-policy"),
        Some(&owner),
        Some(policy),
    )
    .await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    BookingVenue {
        owner,
        refresh,
        venue,
        tables,
    }
}

fn evenings() -> Value {
    json!([{"weekdays": [1, 2, 3, 4, 5, 6, 7], "first_seating": "18:00", "last_seating": "22:00"}])
}

/// Moves the server's clock to `at` (forward only: the clock is shared with the tokens already issued).
fn set_clock(server: &TestServer, at: OffsetDateTime) {
    let now = comanda_domain::Clock::now(&server.clock);
    assert!(at >= now, "the test clock only moves forward");
    server.clock.advance(at - now);
}

/// A date two days ahead (whatever the hour, a future local date in Bogotá, UTC−5), with the clock left where the
/// staff's tokens still work.
pub fn tomorrow(server: &TestServer) -> Date {
    comanda_domain::Clock::now(&server.clock).date() + time::Duration::days(2)
}

async fn availability(server: &TestServer, venue: &str, date: Date, party: u32) -> Reply {
    call(
        server,
        "GET",
        &format!("/api/v1/venues/{venue}/availability?date={date}&party_size={party}"),
        None,
        None,
    )
    .await
}

fn starts(reply: &Reply) -> Vec<String> {
    reply.body["slots"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|s| s["start"].as_str().unwrap().to_owned())
        .collect()
}

pub fn booking(start: &str, party: u32) -> Value {
    json!({"start": start, "party_size": party, "consent": true, "note": "",
           "guest": {"name": "Valentina Ríos", "phone": "+573001234567", "email": "valentina@example.co"}})
}

async fn book(server: &TestServer, venue: &str, body: Value) -> Reply {
    post(
        server,
        &format!("/api/v1/venues/{venue}/reservations"),
        None,
        body,
    )
    .await
}

async fn day(server: &TestServer, v: &BookingVenue, date: Date) -> Vec<Value> {
    let list = call(
        server,
        "GET",
        &format!("/api/v1/venues/{}/reservations?date={date}", v.venue),
        Some(&v.owner),
        None,
    )
    .await;
    assert_eq!(list.status, 200, "{}", list.body);
    list.body["items"].as_array().unwrap().clone()
}

pub async fn fifty_guests_race_for_the_last_table_and_one_wins(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let v = booking_venue(
        &server,
        "carrera@example.co",
        "America/Bogota",
        &[4],
        evenings(),
        40,
    )
    .await;
    let date = tomorrow(&server);
    let offered = availability(&server, &v.venue, date, 2).await;
    assert_eq!(offered.status, 200, "{}", offered.body);
    let slots = starts(&offered);
    // 18:00 to 22:00 every 15 minutes, Bogotá being UTC−5 all year.
    assert_eq!(slots.len(), 17);
    assert_eq!(slots[4], format!("{}T00:00:00Z", date + time::Duration::days(1)));
    let start = slots[4].clone();
    let attempts = (0..50).map(|_| book(&server, &v.venue, booking(&start, 2)));
    let replies = futures_util::future::join_all(attempts).await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    let taken = replies
        .iter()
        .filter(|r| r.status == 409 && r.body["type"] == "https://comanda.dev/problems/slot-taken")
        .count();
    assert_eq!(
        (created, taken),
        (1, 49),
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(
        day(&server, &v, date).await.len(),
        1,
        "the database holds one booking"
    );
    // The slot and every start whose hold would overlap it are gone; the turn plus buffer later is free again.
    let after = starts(&availability(&server, &v.venue, date, 2).await);
    assert!(!after.contains(&start));
    assert!(
        !after.contains(&slots[9]),
        "20:15 falls inside the 19:00 party's 90 + 15 minutes"
    );
    assert!(
        after.contains(&slots[11]),
        "20:45 is free once the first party's hold ends"
    );
}

/// The second Sunday of March and the first Sunday of November of `year` (the US's DST changes).
fn us_dst_sundays(year: i32) -> (Date, Date) {
    let sunday_on_or_after = |date: Date| {
        let mut d = date;
        while d.weekday() != Weekday::Sunday {
            d = d.next_day().unwrap();
        }
        d
    };
    (
        sunday_on_or_after(Date::from_calendar_date(year, Month::March, 8).unwrap()),
        sunday_on_or_after(Date::from_calendar_date(year, Month::November, 1).unwrap()),
    )
}

pub async fn a_new_york_venue_lists_dst_nights_by_their_real_instants(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let late =
        json!([{"weekdays": [1, 2, 3, 4, 5, 6, 7], "first_seating": "23:00", "last_seating": "03:30"}]);
    let v = booking_venue(
        &server,
        "nueva.york@example.co",
        "America/New_York",
        &[4, 4],
        late,
        40,
    )
    .await;
    let year = comanda_domain::Clock::now(&server.clock).year() + 1;
    let (spring, fall) = us_dst_sundays(year);

    // Spring forward: 02:00–02:59 on the Sunday does not exist and is not offered.
    let saturday = spring.previous_day().unwrap();
    set_clock(
        &server,
        saturday.midnight().assume_utc() - time::Duration::days(10),
    );
    let night = availability(&server, &v.venue, saturday, 2).await;
    assert_eq!(night.status, 200, "{}", night.body);
    let locals: Vec<String> = night.body["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["local"].as_str().unwrap().to_owned())
        .collect();
    assert!(locals.iter().all(|l| !l.contains("T02:")), "{locals:?}");
    assert!(locals.contains(&format!("{spring}T01:45:00-05:00")), "{locals:?}");
    assert!(locals.contains(&format!("{spring}T03:00:00-04:00")), "{locals:?}");
    // Booked on either side, the stored instants are the real ones.
    let before = book(&server, &v.venue, booking(&format!("{spring}T06:45:00Z"), 2)).await;
    assert_eq!(before.status, 201, "{}", before.body);
    let after = book(&server, &v.venue, booking(&format!("{spring}T07:00:00Z"), 2)).await;
    assert_eq!(after.status, 201, "{}", after.body);
    assert_eq!(after.body["start"], format!("{spring}T07:00:00Z"));

    // Fall back: 01:00–01:59 on the Sunday happens twice, each listed with its own instant and offset.
    let saturday = fall.previous_day().unwrap();
    set_clock(
        &server,
        saturday.midnight().assume_utc() - time::Duration::days(10),
    );
    let night = availability(&server, &v.venue, saturday, 2).await;
    assert_eq!(night.status, 200, "{}", night.body);
    let one_thirty: Vec<(String, String)> = night.body["slots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["local"].as_str().unwrap().contains("T01:30:00"))
        .map(|s| {
            (
                s["start"].as_str().unwrap().to_owned(),
                s["local"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        one_thirty,
        vec![
            (format!("{fall}T05:30:00Z"), format!("{fall}T01:30:00-04:00")),
            (format!("{fall}T06:30:00Z"), format!("{fall}T01:30:00-05:00")),
        ]
    );
    let all = starts(&night);
    let mut sorted = all.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(all, sorted, "ordered and unique");
    // The second 01:30 (EST) is booked and stored as 06:30Z; the first is still free.
    let second = book(&server, &v.venue, booking(&format!("{fall}T01:30:00-05:00"), 2)).await;
    assert_eq!(second.status, 201, "{}", second.body);
    assert_eq!(second.body["start"], format!("{fall}T06:30:00Z"));
    let first = book(&server, &v.venue, booking(&format!("{fall}T05:30:00Z"), 2)).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.body["start"], format!("{fall}T05:30:00Z"));
}

pub async fn pacing_refuses_covers_beyond_the_window_cap_on_free_tables(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let v = booking_venue(
        &server,
        "ritmo@example.co",
        "America/Bogota",
        &[4, 4, 4, 4, 4],
        evenings(),
        8,
    )
    .await;
    let date = tomorrow(&server);
    let seven = format!("{}T00:00:00Z", date + time::Duration::days(1));
    for _ in 0..2 {
        let booked = book(&server, &v.venue, booking(&seven, 4)).await;
        assert_eq!(booked.status, 201, "{}", booked.body);
    }
    // Eight covers start at 19:00: a couple is refused although three tables are free.
    let refused = book(&server, &v.venue, booking(&seven, 2)).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(!starts(&availability(&server, &v.venue, date, 2).await).contains(&seven));
    let quarter_past = format!("{}T00:15:00Z", date + time::Duration::days(1));
    let next_window = book(&server, &v.venue, booking(&quarter_past, 2)).await;
    assert_eq!(next_window.status, 201, "{}", next_window.body);

    // A party of seven fits no single table until two tables are declared joinable; then it gets both.
    let half_past_nine = format!("{}T02:30:00Z", date + time::Duration::days(1));
    let seven_guests = book(&server, &v.venue, booking(&half_past_nine, 7)).await;
    // Not "just taken": no table here could ever seat seven, and the guest is told so (422 naming party_size).
    assert_eq!(seven_guests.status, 422, "{}", seven_guests.body);
    assert_eq!(seven_guests.body["errors"][0]["field"], "party_size");
    let joined = post(
        &server,
        &format!("/api/v1/venues/{}/table-combinations", v.venue),
        Some(&v.owner),
        json!({"tables": [v.tables[3], v.tables[4]]}),
    )
    .await;
    assert_eq!(joined.status, 201, "{}", joined.body);
    let seven_guests = book(&server, &v.venue, booking(&half_past_nine, 7)).await;
    assert_eq!(seven_guests.status, 201, "{}", seven_guests.body);
    let listed = day(&server, &v, date).await;
    let mut tables: Vec<String> = listed.last().unwrap()["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect();
    tables.sort();
    let mut expected = vec![v.tables[3].clone(), v.tables[4].clone()];
    expected.sort();
    assert_eq!(tables, expected, "the combination claims both tables");

    // The owner withdraws the combination: it is listed with its id until then, and a party of seven is refused
    // again afterwards, while the booking that holds both tables keeps them.
    let policy_path = format!("/api/v1/venues/{}/booking-policy", v.venue);
    let setup = call(&server, "GET", &policy_path, Some(&v.owner), None).await;
    assert_eq!(
        setup.body["combinations"][0]["id"], joined.body["id"],
        "{}",
        setup.body
    );
    let removal = format!(
        "/api/v1/venues/{}/table-combinations/{}",
        v.venue,
        joined.body["id"].as_str().unwrap()
    );
    let removed = call(&server, "DELETE", &removal, Some(&v.owner), None).await;
    assert_eq!(removed.status, 204, "{}", removed.body);
    let setup = call(&server, "GET", &policy_path, Some(&v.owner), None).await;
    assert_eq!(setup.body["combinations"], json!([]), "{}", setup.body);
    let again = call(&server, "DELETE", &removal, Some(&v.owner), None).await;
    assert_eq!(again.status, 404, "{}", again.body);
    let next_evening = format!("{}T02:30:00Z", date + time::Duration::days(2));
    let seven_more = book(&server, &v.venue, booking(&next_evening, 7)).await;
    assert_eq!(seven_more.status, 422, "{}", seven_more.body);
    assert_eq!(
        day(&server, &v, date).await.last().unwrap()["tables"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

/// A party walking in at 19:07 is booked from 19:07, not from the next slot of the grid, on a table free for its whole
/// turn, although the 19:00 window's pacing is full (pacing spaces out the arrivals the venue books; a party at a
/// free table is the host's call); with no table free for its turn it is told so, not booked later. A walk-in names
/// no time, and a booking must.
pub async fn a_walk_in_starts_when_it_arrives_on_a_table_free_for_its_turn(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let mut v = booking_venue(
        &server,
        "sin-reserva@example.co",
        "America/Bogota",
        &[4, 4, 4],
        evenings(),
        8,
    )
    .await;
    let evening = tomorrow(&server) + time::Duration::days(1);
    let seven = format!("{evening}T00:00:00Z");
    for _ in 0..2 {
        let booked = book(&server, &v.venue, booking(&seven, 4)).await;
        assert_eq!(booked.status, 201, "{}", booked.body);
    }
    let arrives = OffsetDateTime::parse(
        &format!("{evening}T00:07:20Z"),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    set_clock(&server, arrives);
    v.refreshed(&server).await;
    let path = format!("/api/v1/venues/{}/reservations", v.venue);
    let walk_in = |party: u32| json!({"party_size": party, "consent": true, "walk_in": true, "guest": {"name": "Mesa de la puerta"}});
    let mut timed = walk_in(2);
    timed["start"] = json!(seven);
    let refused = call(&server, "POST", &path, Some(&v.owner), Some(timed)).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(refused.body["errors"][0]["field"], "start", "{}", refused.body);
    let mut untimed = booking(&seven, 2);
    untimed.as_object_mut().unwrap().remove("start");
    let refused = call(&server, "POST", &path, Some(&v.owner), Some(untimed)).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(refused.body["errors"][0]["field"], "start", "{}", refused.body);

    let seated = call(&server, "POST", &path, Some(&v.owner), Some(walk_in(2))).await;
    assert_eq!(seated.status, 201, "{}", seated.body);
    assert_eq!(seated.body["start"], format!("{evening}T00:07:20Z"));
    assert_eq!(
        seated.body["local"],
        format!("{}T19:07:20-05:00", evening - time::Duration::days(1))
    );
    let id = seated.body["reservation_id"].as_str().unwrap().to_owned();
    let moved = call(
        &server,
        "POST",
        &format!("/api/v1/reservations/{id}/transitions"),
        Some(&v.owner),
        Some(json!({"to": "seated"})),
    )
    .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    let listed = day(&server, &v, evening - time::Duration::days(1)).await;
    let row = listed.iter().find(|r| r["id"] == json!(id)).unwrap();
    assert_eq!(row["channel"], "walk_in", "{row}");
    assert_eq!(
        row["tables"],
        json!([v.tables[2]]),
        "the table no 19:00 booking holds: {row}"
    );
    // The three tables are taken for the evening's turns: the next party at the door is told, not booked at 21:15.
    let full = call(&server, "POST", &path, Some(&v.owner), Some(walk_in(2))).await;
    assert_eq!(full.status, 409, "{}", full.body);
    assert!(
        full.body["detail"]
            .as_str()
            .unwrap()
            .contains("whole turn from now"),
        "{}",
        full.body
    );
    server.stop().await;
}

/// Friday, 19:07, the one table taken by a walk-in: the host puts two parties waiting at the bar on the list with a
/// phone and no email. When the table comes free the first is offered it from now (a walk-in, not the next slot), and
/// nobody is mailed; the host calls, the first declines, the second is offered the table and the host accepts for
/// them, then seats them. A guest joining online still needs an email; the host's party needs a phone.
pub async fn the_host_waitlists_parties_at_the_door_and_answers_their_offers(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let mut v = booking_venue(
        &server,
        "barra@example.co",
        "America/Bogota",
        &[4],
        evenings(),
        40,
    )
    .await;
    let evening = tomorrow(&server) + time::Duration::days(1);
    let business_day = evening - time::Duration::days(1);
    let arrives = OffsetDateTime::parse(
        &format!("{evening}T00:07:00Z"),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    set_clock(&server, arrives);
    v.refreshed(&server).await;
    // The host's token, signed again when the clock has moved past its 15 minutes.
    let owner = std::cell::RefCell::new(v.owner.clone());
    let token = || owner.borrow().clone();
    let send = async |method: &str, path: &str, token: Option<&str>, body: Option<Value>| {
        call(&server, method, path, token, body).await
    };
    let walk_in = send(
        "POST",
        &format!("/api/v1/venues/{}/reservations", v.venue),
        Some(&token()),
        Some(json!({"party_size": 4, "consent": true, "walk_in": true, "guest": {"name": "Mesa llena"}})),
    )
    .await;
    assert_eq!(walk_in.status, 201, "{}", walk_in.body);
    let walk_in = walk_in.body["reservation_id"].as_str().unwrap().to_owned();
    let moved = async |id: &str, to: &str| {
        send(
            "POST",
            &format!("/api/v1/reservations/{id}/transitions"),
            Some(&token()),
            Some(json!({"to": to})),
        )
        .await
    };
    assert_eq!(moved(&walk_in, "seated").await.status, 200);
    let list_path = format!("/api/v1/venues/{}/waitlist", v.venue);
    let party = |name: &str, phone: Option<&str>| {
        let mut guest = json!({"name": name});
        if let Some(phone) = phone {
            guest["phone"] = json!(phone);
        }
        json!({"date": business_day.to_string(), "party_size": 2, "earliest": "19:00", "latest": "21:00",
               "consent": true, "guest": guest})
    };
    let unreachable = send(
        "POST",
        &list_path,
        Some(&token()),
        Some(party("Sin teléfono", None)),
    )
    .await;
    assert_eq!(unreachable.status, 422, "{}", unreachable.body);
    assert_eq!(unreachable.body["errors"][0]["field"], "guest.phone");
    let online = send(
        "POST",
        &list_path,
        None,
        Some(party("Por internet", Some("+573001110000"))),
    )
    .await;
    assert_eq!(online.status, 422, "{}", online.body);
    assert_eq!(online.body["errors"][0]["field"], "guest.email");
    let mut waiting = Vec::new();
    for (name, phone) in [
        ("Familia Pérez", "+573001110001"),
        ("Pareja Díaz", "+573001110002"),
    ] {
        let joined = send("POST", &list_path, Some(&token()), Some(party(name, Some(phone)))).await;
        assert_eq!(
            (joined.status, joined.body["status"].clone()),
            (201, json!("waiting")),
            "{}",
            joined.body
        );
        waiting.push(joined.body["id"].as_str().unwrap().to_owned());
    }
    let entries = async || {
        let day = send(
            "GET",
            &format!("{list_path}?date={business_day}"),
            Some(&token()),
            None,
        )
        .await;
        assert_eq!(day.status, 200, "{}", day.body);
        day.body["items"].as_array().unwrap().clone()
    };

    // The party at the table leaves ten minutes later: the first party waiting is offered the table from now.
    set_clock(&server, arrives + time::Duration::minutes(10));
    assert_eq!(moved(&walk_in, "finished").await.status, 200);
    let listed = entries().await;
    assert_eq!(listed[0]["status"], "offered", "{listed:?}");
    assert_eq!(listed[1]["status"], "waiting", "{listed:?}");
    assert_eq!(
        listed[0]["offer_expires_at"],
        format!("{business_day}T19:27:00-05:00")
    );
    let offered = listed[0]["reservation_id"].as_str().unwrap().to_owned();
    let held = day(&server, &v, business_day).await;
    // The party that left is drawn to when it left, not to the end of its turn: its table is free from then.
    let left_early = held.iter().find(|r| r["id"] == json!(walk_in)).unwrap();
    assert_eq!(
        (left_early["status"].clone(), left_early["finished_at"].clone()),
        (json!("finished"), json!(format!("{evening}T00:17:00Z"))),
        "{left_early}"
    );
    let row = held.iter().find(|r| r["id"] == json!(offered)).unwrap();
    assert_eq!(
        (
            row["status"].clone(),
            row["channel"].clone(),
            row["start"].clone()
        ),
        (
            json!("offered"),
            json!("walk_in"),
            json!(format!("{evening}T00:17:00Z"))
        ),
        "{row}"
    );
    assert!(
        !crate::identity::mailed(&server, &["Familia P"]).await,
        "a party without an email is called, not mailed"
    );
    // Nobody but the venue's staff or the guest's link answers an offer.
    let stranger = send(
        "POST",
        &format!("/api/v1/reservations/{offered}/accept"),
        None,
        None,
    )
    .await;
    assert_eq!(stranger.status, 404, "{}", stranger.body);

    // The host, busy, lets the offer's ten minutes pass: the offer lapses, and the party, still at the bar, is not
    // dropped from the list: it keeps its place and is offered the table again, from now.
    set_clock(&server, arrives + time::Duration::minutes(21));
    v.refreshed(&server).await;
    owner.replace(v.owner.clone());
    server.server().run_waitlist_upkeep().await;
    let listed = entries().await;
    assert_eq!(listed[0]["status"], "offered", "{listed:?}");
    assert_ne!(listed[0]["reservation_id"], json!(offered), "a new offer");
    assert_eq!(
        listed[0]["offer_expires_at"],
        format!("{business_day}T19:38:00-05:00")
    );
    let lapsed = day(&server, &v, business_day).await;
    let first_offer = lapsed.iter().find(|r| r["id"] == json!(offered)).unwrap();
    assert_eq!(first_offer["status"], "lapsed", "{first_offer}");

    // They want another table and keep waiting: the offer lapses, the table goes to the next party, and the first
    // keeps its place without being offered that table again.
    let again_offered = listed[0]["reservation_id"].as_str().unwrap().to_owned();
    let turned_down = send(
        "POST",
        &format!("/api/v1/waitlist/{}/decline", waiting[0]),
        Some(&token()),
        None,
    )
    .await;
    assert_eq!(turned_down.status, 200, "{}", turned_down.body);
    assert_eq!(turned_down.body["status"], "waiting", "{}", turned_down.body);
    let listed = entries().await;
    assert_eq!(
        (listed[0]["status"].clone(), listed[1]["status"].clone()),
        (json!("waiting"), json!("offered")),
        "{listed:?}"
    );
    let rows = day(&server, &v, business_day).await;
    let tables_of = |id: &Value| rows.iter().find(|r| r["id"] == *id).unwrap()["tables"].clone();
    assert_eq!(
        tables_of(&listed[1]["reservation_id"]),
        tables_of(&json!(again_offered)),
        "the declined table went to the next party"
    );
    let no_offer = send(
        "POST",
        &format!("/api/v1/waitlist/{}/decline", waiting[0]),
        Some(&token()),
        None,
    )
    .await;
    assert_eq!(no_offer.status, 409, "{}", no_offer.body);

    // They no longer want it: the host takes them off the list, and the table goes to the next party.
    let declined = send(
        "POST",
        &format!("/api/v1/waitlist/{}/leave", waiting[0]),
        Some(&token()),
        None,
    )
    .await;
    assert_eq!(declined.status, 200, "{}", declined.body);
    assert_eq!(declined.body["status"], "left");
    let listed = entries().await;
    assert_eq!(listed[1]["status"], "offered", "{listed:?}");
    let second = listed[1]["reservation_id"].as_str().unwrap().to_owned();
    let accepted = send(
        "POST",
        &format!("/api/v1/reservations/{second}/accept"),
        Some(&token()),
        None,
    )
    .await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    assert_eq!(
        accepted.body["status"], "booked",
        "no deposit asked: {}",
        accepted.body
    );
    assert_eq!(entries().await[1]["status"], "booked");
    let seated = moved(&second, "seated").await;
    assert_eq!(seated.status, 200, "{}", seated.body);
    assert_eq!(seated.body["status"], "seated");
}

pub async fn consent_and_bad_input_are_refused_naming_the_field_and_nothing_is_written(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let v = booking_venue(
        &server,
        "reglas@example.co",
        "America/Bogota",
        &[4],
        evenings(),
        40,
    )
    .await;
    let date = tomorrow(&server);
    let seven = format!("{}T00:00:00Z", date + time::Duration::days(1));
    let field = |reply: &Reply| reply.body["errors"][0]["field"].as_str().unwrap_or("").to_owned();

    let mut no_consent = booking(&seven, 2);
    no_consent["consent"] = json!(false);
    let refused = book(&server, &v.venue, no_consent).await;
    assert_eq!(
        (refused.status, field(&refused)),
        (422, "consent".into()),
        "{}",
        refused.body
    );
    let mut missing = booking(&seven, 2);
    missing.as_object_mut().unwrap().remove("consent");
    assert_eq!(book(&server, &v.venue, missing).await.status, 422);

    let with_guest = |field: &str, value: &str| {
        let mut body = booking(&seven, 2);
        body["guest"][field] = json!(value);
        body
    };
    for (body, status, name) in [
        // Outside the document's 1 to 100 is bad input; above the venue's largest party (12), its rule.
        (booking(&seven, 0), 400, "party_size"),
        (booking(&seven, 101), 400, "party_size"),
        (booking(&seven, 13), 422, "party_size"),
        (
            booking(&format!("{}T00:05:00Z", date + time::Duration::days(1)), 2),
            422,
            "start",
        ),
        (
            booking(&format!("{}T00:00:00Z", date - time::Duration::days(3)), 2),
            422,
            "start",
        ),
        (
            booking(&format!("{}T00:00:00Z", date + time::Duration::days(90)), 2),
            422,
            "start",
        ),
        (booking("tomorrow at seven", 2), 400, "start"),
        // The calendar's last day: outside the years comanda keeps, never an overflow (a 500).
        (booking("9999-12-31T23:00:00Z", 2), 422, "start"),
        (with_guest("phone", "300 123 4567"), 400, "guest.phone"),
        (with_guest("email", "not-an-email"), 400, "guest.email"),
    ] {
        let reply = book(&server, &v.venue, body).await;
        assert_eq!(
            (reply.status, field(&reply)),
            (status, name.to_owned()),
            "{}",
            reply.body
        );
    }
    // The refusal names the venue's limit: the guest learns to call for a party of 13, not to try 11.
    let thirteen = book(&server, &v.venue, booking(&seven, 13)).await;
    assert_eq!(
        thirteen.body["errors"][0]["message"], "the venue seats parties of 1 to 12",
        "{}",
        thirteen.body
    );
    let mut extra = booking(&seven, 2);
    extra["deposit"] = json!(0);
    assert_eq!(
        book(&server, &v.venue, extra).await.status,
        400,
        "unknown fields are refused"
    );

    let zero = call(
        &server,
        "GET",
        &format!("/api/v1/venues/{}/availability?date={date}&party_size=0", v.venue),
        None,
        None,
    )
    .await;
    assert_eq!(
        (zero.status, field(&zero)),
        (400, "party_size".to_owned()),
        "{}",
        zero.body
    );
    for (query, name) in [
        ("date=9999-12-31&party_size=2".to_owned(), "date"),
        (format!("date={}&party_size=13", date), "party_size"),
        // Five days back: `date` is two UTC days ahead, and Bogotá's yesterday (still open for late seatings) can be
        // the UTC day before yesterday between 00:00 and 05:00 UTC.
        (
            format!("date={}&party_size=2", date - time::Duration::days(5)),
            "date",
        ),
        (
            format!("date={}&party_size=2", date + time::Duration::days(90)),
            "date",
        ),
    ] {
        let reply = call(
            &server,
            "GET",
            &format!("/api/v1/venues/{}/availability?{query}", v.venue),
            None,
            None,
        )
        .await;
        assert_eq!(
            (reply.status, field(&reply)),
            (422, name.to_owned()),
            "{}",
            reply.body
        );
    }
    assert!(day(&server, &v, date).await.is_empty(), "nothing was written");
    // A cancellation cut-off decides deposit refunds and nothing else: without a deposit it is refused, not ignored.
    let mut cut_off = policy();
    cut_off["cancellation_cutoff_hours"] = json!(24);
    let refused = call(
        &server,
        "PUT",
        &format!("/api/v1/venues/{}/booking-policy", v.venue),
        Some(&v.owner),
        Some(cut_off),
    )
    .await;
    assert_eq!(
        (refused.status, field(&refused)),
        (422, "cancellation_cutoff_hours".to_owned()),
        "{}",
        refused.body
    );
    // A venue that takes no reservations, or an id that is no venue, is simply not found.
    let unknown = call(
        &server,
        "GET",
        &format!(
            "/api/v1/venues/{}/availability?date={date}&party_size=2",
            uuid::Uuid::now_v7()
        ),
        None,
        None,
    )
    .await;
    assert_eq!(unknown.status, 404);
}

pub async fn a_cancelled_or_no_show_booking_frees_its_slot_at_once(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let v = booking_venue(
        &server,
        "libre@example.co",
        "America/Bogota",
        &[4],
        evenings(),
        40,
    )
    .await;
    let date = tomorrow(&server);
    let seven = format!("{}T00:00:00Z", date + time::Duration::days(1));
    let first = book(&server, &v.venue, booking(&seven, 2)).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let id = first.body["reservation_id"].as_str().unwrap().to_owned();
    let token = first.body["manage_token"].as_str().unwrap().to_owned();
    assert!(!starts(&availability(&server, &v.venue, date, 2).await).contains(&seven));

    // The confirmation went out with the link (a mail written in the booking's transaction).
    assert!(
        crate::identity::mailed(
            &server,
            &[
                "valentina@example.co",
                "Reserva confirmada",
                &format!("reservation={id}&token={token}")
            ]
        )
        .await,
        "the guest's confirmation carries the manage link"
    );
    // The guest's link shows the booking; a wrong token shows nothing.
    let seen = call(
        &server,
        "GET",
        &format!("/api/v1/reservations/{id}?token={token}"),
        None,
        None,
    )
    .await;
    assert_eq!(
        (seen.status, seen.body["status"].clone()),
        (200, json!("booked")),
        "{}",
        seen.body
    );
    let forged = call(
        &server,
        "GET",
        &format!("/api/v1/reservations/{id}?token=AAAA{}", &token[4..]),
        None,
        None,
    )
    .await;
    assert_eq!(forged.status, 404);
    // The host sees the guest's name and phone, opened with the guest's key.
    let listed = day(&server, &v, date).await;
    assert_eq!(listed[0]["guest_name"], "Valentina Ríos");
    assert_eq!(listed[0]["guest_phone"], "+573001234567");

    // The cancellation takes no body: a field sent is refused by name, not ignored, and nothing is cancelled.
    let with_reason = post(
        &server,
        &format!("/api/v1/reservations/{id}/cancel?token={token}"),
        None,
        json!({"reason": "cambio de planes"}),
    )
    .await;
    assert_eq!(
        (with_reason.status, with_reason.body["errors"][0]["field"].clone()),
        (400, json!("reason")),
        "{}",
        with_reason.body
    );
    let cancelled = post(
        &server,
        &format!("/api/v1/reservations/{id}/cancel?token={token}"),
        None,
        json!({}),
    )
    .await;
    assert_eq!(
        (cancelled.status, cancelled.body["status"].clone()),
        (200, json!("cancelled")),
        "{}",
        cancelled.body
    );
    assert!(starts(&availability(&server, &v.venue, date, 2).await).contains(&seven));
    let again = book(&server, &v.venue, booking(&seven, 2)).await;
    assert_eq!(again.status, 201, "{}", again.body);

    // Before its time a party is neither late nor a no-show; the host's cancellation frees the table at once.
    let second = again.body["reservation_id"].as_str().unwrap();
    let host_moves = format!("/api/v1/reservations/{second}/transitions");
    for early in ["late", "no_show"] {
        let refused = post(&server, &host_moves, Some(&v.owner), json!({"to": early})).await;
        assert_eq!(refused.status, 422, "{early}: {}", refused.body);
    }
    let cancelled = post(&server, &host_moves, Some(&v.owner), json!({"to": "cancelled"})).await;
    assert_eq!(
        (cancelled.status, cancelled.body["status"].clone()),
        (200, json!("cancelled")),
        "{}",
        cancelled.body
    );
    assert!(starts(&availability(&server, &v.venue, date, 2).await).contains(&seven));

    // A retried booking with the same Idempotency-Key is the same booking.
    let send = |key: &'static str| {
        server
            .client
            .post(server.url(&format!("/api/v1/venues/{}/reservations", v.venue)))
            .header("idempotency-key", key)
            .json(&booking(&seven, 2))
            .send()
    };
    let first = send("reserva-1").await.unwrap();
    assert!(first.headers().get("idempotent-replayed").is_none());
    let a: Value = first.json().await.unwrap();
    let again = send("reserva-1").await.unwrap();
    assert_eq!(
        again.headers()["idempotent-replayed"],
        "true",
        "the answer given again says so"
    );
    let b: Value = again.json().await.unwrap();
    assert_eq!(a["reservation_id"], b["reservation_id"]);
    assert_eq!(day(&server, &v, date).await.len(), 3);

    // A party is seated from an hour before its time, not days ahead (seating keeps a deposit); the host's list
    // offers only the moves whose time has come.
    let first = a["reservation_id"].as_str().unwrap();
    let seat_early = host_move(&server, &v, first, json!({"to": "seated"})).await;
    assert_eq!(seat_early.status, 422, "{}", seat_early.body);
    assert_eq!(
        seat_early.body["type"], "https://comanda.dev/problems/business-rule",
        "{}",
        seat_early.body
    );
    let listed = day(&server, &v, date).await;
    let row = listed.iter().find(|r| r["id"] == first).unwrap();
    assert_eq!(row["moves"], json!(["confirmed", "cancelled", "moved"]));
    let seven_at =
        time::OffsetDateTime::parse(&seven, &time::format_description::well_known::Rfc3339).unwrap();
    set_clock(&server, seven_at - time::Duration::minutes(50));
    let mut v = v;
    v.refreshed(&server).await;
    let listed = day(&server, &v, date).await;
    let row = listed.iter().find(|r| r["id"] == first).unwrap();
    assert_eq!(row["moves"], json!(["confirmed", "seated", "cancelled", "moved"]));

    // Seating the party opens its table's session, accepted by the host: the party's QR orders go straight to the
    // kitchen and its bill belongs to the reservation.
    let seated = post(
        &server,
        &format!(
            "/api/v1/reservations/{}/transitions",
            a["reservation_id"].as_str().unwrap()
        ),
        Some(&v.owner),
        json!({"to": "seated"}),
    )
    .await;
    assert_eq!(
        (seated.status, seated.body["status"].clone()),
        (200, json!("seated")),
        "{}",
        seated.body
    );
    let session = seated.body["session_id"].as_str().expect("a session").to_owned();
    let sessions = call(
        &server,
        "GET",
        &format!("/api/v1/venues/{}/table-sessions", v.venue),
        Some(&v.owner),
        None,
    )
    .await;
    let opened = sessions.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == session.as_str())
        .expect("the seated party's session is listed")
        .clone();
    assert_eq!(opened["status"], "open");
    assert_eq!(opened["table_id"], v.tables[0].as_str());

    // At 21:00 the table is free again (the 19:00 party's hold ends at 20:45). Once that time has come the guest's
    // link no longer cancels; 15 minutes later the party is late, then a no-show, and seated when it comes after all
    // (its booked time lasts); then nothing more but finishing.
    let nine = format!("{}T02:00:00Z", date + time::Duration::days(1));
    let third = book(&server, &v.venue, booking(&nine, 2)).await;
    assert_eq!(third.status, 201, "{}", third.body);
    let (id, token) = (
        third.body["reservation_id"].as_str().unwrap(),
        third.body["manage_token"].as_str().unwrap(),
    );
    set_clock(
        &server,
        time::OffsetDateTime::parse(&nine, &time::format_description::well_known::Rfc3339).unwrap()
            + time::Duration::minutes(16),
    );
    v.refreshed(&server).await;
    let too_late = post(
        &server,
        &format!("/api/v1/reservations/{id}/cancel?token={token}"),
        None,
        json!({}),
    )
    .await;
    assert_eq!(too_late.status, 409, "{}", too_late.body);
    let moves = format!("/api/v1/reservations/{id}/transitions");
    // The 19:00 party still sits at the one table: nobody else is seated there until it has left.
    let occupied = post(&server, &moves, Some(&v.owner), json!({"to": "seated"})).await;
    assert_eq!(occupied.status, 422, "{}", occupied.body);
    assert!(
        occupied.body["detail"].as_str().unwrap().contains("still seated"),
        "{}",
        occupied.body
    );
    let left = host_move(&server, &v, first, json!({"to": "finished"})).await;
    assert_eq!(left.status, 200, "{}", left.body);
    for (to, status) in [("late", 200), ("no_show", 200), ("seated", 200), ("no_show", 409)] {
        let moved = post(&server, &moves, Some(&v.owner), json!({"to": to})).await;
        assert_eq!(moved.status, status, "{to}: {}", moved.body);
        if to == "seated" {
            // The first party left without ordering: its empty bill was closed, and this party's is its own.
            let own = moved.body["session_id"].as_str().expect("a session");
            assert_ne!(own, session, "{}", moved.body);
        }
    }
}

pub async fn staff_bookings_and_moves_go_through_the_same_rules(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let v = booking_venue(
        &server,
        "telefono@example.co",
        "America/Bogota",
        &[4, 4, 4],
        evenings(),
        4,
    )
    .await;
    let date = tomorrow(&server);
    let at = |hh: u32, mm: u32| format!("{}T{:02}:{mm:02}:00Z", date + time::Duration::days(1), hh);
    let reservations = format!("/api/v1/venues/{}/reservations", v.venue);
    let by_phone = |start: &str, party: u32| {
        call(
            &server,
            "POST",
            &reservations,
            Some(&v.owner),
            Some(booking(start, party)),
        )
    };
    // The host books by phone with their token; a token that does not verify is refused, not taken for a guest.
    let phoned = by_phone(&at(0, 0), 2).await;
    assert_eq!(phoned.status, 201, "{}", phoned.body);
    let forged = call(
        &server,
        "POST",
        &format!("/api/v1/venues/{}/reservations", v.venue),
        Some("not-a-token"),
        Some(booking(&at(0, 0), 2)),
    )
    .await;
    assert_eq!(forged.status, 401, "{}", forged.body);
    let guest = book(&server, &v.venue, booking(&at(0, 0), 2)).await;
    assert_eq!(guest.status, 201, "{}", guest.body);
    // Pacing binds the host too: four covers start at 19:00, a third table is free, and the booking is refused.
    let beyond = by_phone(&at(0, 0), 2).await;
    assert_eq!(beyond.status, 409, "{}", beyond.body);
    let listed = day(&server, &v, date).await;
    let channels: Vec<&str> = listed.iter().map(|r| r["channel"].as_str().unwrap()).collect();
    assert_eq!(channels, ["staff", "online"]);

    // A move runs the same rule and takes its tables along in one transaction.
    let id = guest.body["reservation_id"].as_str().unwrap();
    let moves = format!("/api/v1/reservations/{id}/transitions");
    let moved = post(
        &server,
        &moves,
        Some(&v.owner),
        json!({"to": "moved", "start": at(1, 0)}),
    )
    .await;
    assert_eq!(
        (moved.status, moved.body["start"].clone()),
        (200, json!(at(1, 0))),
        "{}",
        moved.body
    );
    assert_eq!(moved.body["status"], "booked", "a move keeps the status");
    // The host's times for moving it count its own covers and tables as free: with another party of two at 20:00,
    // the pacing (four covers a quarter hour) is full for anyone else, and still the moved party's time for it.
    let filler = by_phone(&at(1, 0), 2).await;
    assert_eq!(filler.status, 201, "{}", filler.body);
    let others = call(
        &server,
        "GET",
        &format!("/api/v1/venues/{}/availability?date={date}&party_size=2", v.venue),
        Some(&v.owner),
        None,
    )
    .await;
    assert!(!starts(&others).contains(&at(1, 0)), "{}", others.body);
    let own = call(
        &server,
        "GET",
        &format!(
            "/api/v1/venues/{}/availability?date={date}&party_size=2&moving={id}",
            v.venue
        ),
        Some(&v.owner),
        None,
    )
    .await;
    assert!(starts(&own).contains(&at(1, 0)), "{}", own.body);
    let public = call(
        &server,
        "GET",
        &format!(
            "/api/v1/venues/{}/availability?date={date}&party_size=2&moving={id}",
            v.venue
        ),
        None,
        None,
    )
    .await;
    assert_eq!(public.status, 400, "{}", public.body);
    let filler = filler.body["reservation_id"].as_str().unwrap();
    let gone = post(
        &server,
        &format!("/api/v1/reservations/{filler}/transitions"),
        Some(&v.owner),
        json!({"to": "cancelled", "reason": "prueba"}),
    )
    .await;
    assert_eq!(gone.status, 200, "{}", gone.body);
    // The 19:00 window has room again for two covers; the moved party holds its new time.
    assert_eq!(by_phone(&at(0, 0), 2).await.status, 201);
    for (body, status, field) in [
        (json!({"to": "moved", "start": at(1, 5)}), 422, "start"),
        (
            json!({"to": "moved", "start": at(1, 0), "party_size": 13}),
            422,
            "party_size",
        ),
        (
            json!({"to": "moved", "start": at(1, 0), "party_size": 0}),
            400,
            "party_size",
        ),
        (json!({"to": "moved"}), 400, "start"),
        (json!({"to": "seated", "start": at(1, 0)}), 400, "start"),
    ] {
        let reply = post(&server, &moves, Some(&v.owner), body).await;
        assert_eq!(
            (
                reply.status,
                reply.body["errors"][0]["field"].as_str().unwrap_or("")
            ),
            (status, field),
            "{}",
            reply.body
        );
    }
    // At 21:00 the two tables freed at 20:45 take two parties by phone, one of them a caller who gave no email (a
    // host books them all the same; they are not mailed); a guest online must give one (422).
    assert_eq!(by_phone(&at(2, 0), 2).await.status, 201);
    let mut no_email = booking(&at(2, 0), 2);
    no_email["guest"] = json!({"name": "Don Pedro", "phone": "+573001112233"});
    let online = book(&server, &v.venue, no_email.clone()).await;
    assert_eq!(
        (online.status, online.body["errors"][0]["field"].clone()),
        (422, json!("guest.email")),
        "{}",
        online.body
    );
    // A caller must leave a phone (the venue reaches them about the booking): refused by rule, field named, nothing
    // booked.
    let mut no_phone = no_email.clone();
    no_phone["guest"] = json!({"name": "Don Pedro"});
    let unreachable = call(&server, "POST", &reservations, Some(&v.owner), Some(no_phone)).await;
    assert_eq!(
        (unreachable.status, unreachable.body["errors"][0]["field"].clone()),
        (422, json!("guest.phone")),
        "{}",
        unreachable.body
    );
    let caller = call(&server, "POST", &reservations, Some(&v.owner), Some(no_email)).await;
    assert_eq!(caller.status, 201, "{}", caller.body);
    let first = phoned.body["reservation_id"].as_str().unwrap();
    let full = host_move(&server, &v, first, json!({"to": "moved", "start": at(2, 0)})).await;
    assert_eq!(full.status, 409, "{}", full.body);
    // A cancelled booking does not move.
    let gone = post(&server, &moves, Some(&v.owner), json!({"to": "cancelled"})).await;
    assert_eq!(gone.status, 200, "{}", gone.body);
    let late_move = post(
        &server,
        &moves,
        Some(&v.owner),
        json!({"to": "moved", "start": at(2, 0)}),
    )
    .await;
    assert_eq!(late_move.status, 409, "{}", late_move.body);
}

/// A table seats one party at a time, even when two hosts seat two parties at one table at the same moment: one is
/// seated, the other refused (the table's row is the lock). When the first leaves without ordering, its empty bill
/// closes with it, and the second party's bill is its own.
pub async fn a_table_seats_one_party_when_two_hosts_seat_at_once(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let mut v = booking_venue(
        &server,
        "una.mesa@example.co",
        "America/Bogota",
        &[4],
        evenings(),
        40,
    )
    .await;
    let date = tomorrow(&server);
    let next = date + time::Duration::days(1);
    // 19:00 holds the one table to 20:45 (90 minutes and a 15-minute reset); 20:45 takes it after.
    let seven = book(&server, &v.venue, booking(&format!("{next}T00:00:00Z"), 2)).await;
    let later = book(&server, &v.venue, booking(&format!("{next}T01:45:00Z"), 2)).await;
    assert_eq!(
        (seven.status, later.status),
        (201, 201),
        "{} {}",
        seven.body,
        later.body
    );
    let ids = [
        seven.body["reservation_id"].as_str().unwrap().to_owned(),
        later.body["reservation_id"].as_str().unwrap().to_owned(),
    ];
    // 19:50: both may be seated by the clock (the second from an hour before its time), not by the table.
    set_clock(
        &server,
        OffsetDateTime::parse(
            &format!("{next}T00:50:00Z"),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap(),
    );
    v.refreshed(&server).await;
    let (a, b) = tokio::join!(
        host_move(&server, &v, &ids[0], json!({"to": "seated"})),
        host_move(&server, &v, &ids[1], json!({"to": "seated"}))
    );
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 422], "{} / {}", a.body, b.body);
    let (seated, waiting, first_bill) = if a.status == 200 {
        (&ids[0], &ids[1], a.body["session_id"].clone())
    } else {
        (&ids[1], &ids[0], b.body["session_id"].clone())
    };
    let left = host_move(&server, &v, seated, json!({"to": "finished"})).await;
    assert_eq!(left.status, 200, "{}", left.body);
    let second = host_move(&server, &v, waiting, json!({"to": "seated"})).await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert!(second.body["session_id"].is_string(), "{}", second.body);
    assert_ne!(
        second.body["session_id"], first_bill,
        "the second party's bill is its own"
    );
}

/// A guest knows whose table they book: the booking page and the confirmation name the venue; a link to no bookable
/// venue answers 404, not a form that can only fail.
pub async fn the_booking_page_and_its_mail_name_the_venue(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let v = booking_venue(
        &server,
        "nombre@example.co",
        "America/Bogota",
        &[4],
        evenings(),
        40,
    )
    .await;
    let page = |path: String| server.client.get(server.url(&path)).send();
    let widget = page(format!("/book/{}", v.venue)).await.unwrap();
    assert_eq!(widget.status(), 200);
    let html = widget.text().await.unwrap();
    assert!(html.contains("<h1>Sede Reservas</h1>"), "{html}");
    // A venue in Bogotá takes a phone as Colombians write it: the widget adds +57 (app.js, `phoneForApi`).
    assert!(html.contains(r#"data-calling-code="57""#), "{html}");
    assert!(html.contains(r#"placeholder="300 123 4567""#), "{html}");
    let nowhere = page(format!("/book/{}", uuid::Uuid::now_v7())).await.unwrap();
    assert_eq!(nowhere.status(), 404);
    assert!(
        nowhere.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let said = nowhere.text().await.unwrap();
    assert!(said.contains("no lleva a ningún restaurante"), "{said}");
    // Law 1581: the consent box links the venue's privacy notice, which names who is responsible, the rights, the
    // authority and the version consent records; in English too.
    let notice_link = format!("/book/{}/privacy?lang=es", v.venue);
    assert!(html.contains(&notice_link), "{html}");
    let notice = page(notice_link).await.unwrap();
    assert_eq!(notice.status(), 200);
    let notice = notice.text().await.unwrap();
    for said in [
        "Responsable",
        "Sede Reservas",
        "Superintendencia de Industria y Comercio",
        "revocar la",
        "Versión 2026-12",
    ] {
        assert!(notice.contains(said), "{said}: {notice}");
    }
    let english = page(format!("/book/{}/privacy?lang=en", v.venue)).await.unwrap();
    let english = english.text().await.unwrap();
    assert!(
        english.contains("Who is responsible") && english.contains("withdraw your"),
        "{english}"
    );
    // Without a contact the notice names only the restaurant; with one, it is the channel for the guest's rights
    // (Decree 1377 of 2013, art. 15), written as staff typed it and kept in E.164 and lower case.
    assert!(
        notice.contains("Pídelo al restaurante, en Sede Reservas"),
        "{notice}"
    );
    let policy_path = format!("/api/v1/venues/{}/booking-policy", v.venue);
    let mut policy = call(&server, "GET", &policy_path, Some(&v.owner), None)
        .await
        .body["policy"]
        .clone();
    policy["contact_phone"] = json!("+57 (604) 444-5555");
    policy["contact_email"] = json!("Reservas@Example.co");
    let saved = call(&server, "PUT", &policy_path, Some(&v.owner), Some(policy.clone())).await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    let stored = call(&server, "GET", &policy_path, Some(&v.owner), None)
        .await
        .body["policy"]
        .clone();
    assert_eq!(
        (stored["contact_phone"].clone(), stored["contact_email"].clone()),
        (json!("+576044445555"), json!("reservas@example.co"))
    );
    let notice = page(format!("/book/{}/privacy?lang=es", v.venue))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        notice.contains(
            r#"Pídelo al restaurante escribiendo a <a href="mailto:reservas@example.co">reservas@example.co</a> o llamando al <a href="tel:+576044445555">+576044445555</a>"#
        ),
        "{notice}"
    );
    let booking_page = page(format!("/book/{}", v.venue))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        booking_page.contains(r#"data-contact-phone="+576044445555""#),
        "{booking_page}"
    );
    policy["contact_phone"] = json!("604 444 5555");
    let refused = call(&server, "PUT", &policy_path, Some(&v.owner), Some(policy)).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(
        refused.body["errors"][0]["field"], "contact_phone",
        "{}",
        refused.body
    );
    let no_notice = page(format!("/book/{}/privacy", uuid::Uuid::now_v7()))
        .await
        .unwrap();
    assert_eq!(no_notice.status(), 404);
    let date = tomorrow(&server);
    let mut body = booking(&format!("{}T00:00:00Z", date + time::Duration::days(1)), 2);
    body["guest"]["email"] = json!("nombre.huesped@example.co");
    assert_eq!(book(&server, &v.venue, body).await.status, 201);
    mail_with(
        &server,
        &[
            "nombre.huesped@example.co",
            "Reserva confirmada en Sede Reservas",
            "Tu reserva en Sede Reservas para 2",
        ],
    )
    .await
    .expect("the confirmation names the venue");
}

/// PRIV-1 and PRIV-2 for a booking's guest: name, phone and email are sealed at rest, exported with the consent
/// record, and erased on request (the booking stays, without identity).
pub async fn a_booking_guest_is_sealed_exported_and_erased(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let v = booking_venue(
        &server,
        "datos@example.co",
        "America/Bogota",
        &[4],
        evenings(),
        40,
    )
    .await;
    let date = tomorrow(&server);
    let mut body = booking(&format!("{}T00:00:00Z", date + time::Duration::days(1)), 2);
    body["guest"] = json!({"name": "Esperanza Gómez Arboleda", "phone": "+573159876543", "email": "esperanza.gomez@example.co"});
    body["note"] = json!("Alergia severa al maní; cumpleaños de Hernán");
    let booked = book(&server, &v.venue, body).await;
    assert_eq!(booked.status, 201, "{}", booked.body);
    let stored = crate::privacy::database_bytes(&server);
    for secret in [
        "Esperanza Gómez Arboleda",
        "+573159876543",
        "3159876543",
        "esperanza.gomez@example.co",
        "Alergia severa",
    ] {
        assert!(!stored.contains(secret), "{secret} is stored in clear");
    }
    let listed = day(&server, &v, date).await;
    let guest = listed[0]["guest_id"].as_str().unwrap().to_owned();
    let export = post(
        &server,
        "/api/v1/privacy/requests",
        Some(&v.owner),
        json!({"kind": "export", "subject": guest}),
    )
    .await;
    assert_eq!(export.status, 200, "{}", export.body);
    assert_eq!(export.body["guest"]["phone"], "+573159876543");
    assert_eq!(export.body["guest"]["notice_version"], "2026-12");
    // The access right covers what the guest booked, not only the contact (GDPR art. 15, Ley 1581 art. 8).
    let exported = &export.body["reservations"];
    assert_eq!(exported.as_array().map(Vec::len), Some(1), "{}", export.body);
    assert_eq!(exported[0]["id"], listed[0]["id"]);
    assert_eq!(exported[0]["party_size"], 2);
    assert_eq!(
        exported[0]["note"],
        "Alergia severa al maní; cumpleaños de Hernán"
    );
    assert_eq!(export.body["waitlist"], json!([]));
    // The host's reason for a change is words about the guest: kept with the booking, sealed under the guest's key,
    // shown to staff and in the guest's export; the append-only audit says only that one was kept.
    let reason = "Esperanza llamó desde +573159876543: viene embarazada, mesa cerca del baño";
    let id = listed[0]["id"].as_str().unwrap().to_owned();
    // Sent with an Idempotency-Key: the answer carries the guest's note and the host's reason, so it is not kept
    // under the host's key (it would outlive the guest's erasure, in backups too); a retry is told it was answered.
    let keyed = || {
        server
            .client
            .post(server.url(&format!("/api/v1/reservations/{id}/transitions")))
            .bearer_auth(&v.owner)
            .header("idempotency-key", "confirm-esperanza")
            .json(&json!({"to": "confirmed", "reason": reason}))
            .send()
    };
    let confirmed = keyed().await.unwrap();
    assert_eq!(confirmed.status(), 200);
    let confirmed: Value = confirmed.json().await.unwrap();
    assert_eq!(confirmed["reason"], reason);
    let retried = keyed().await.unwrap();
    assert_eq!(retried.status(), 409);
    let retried = retried.text().await.unwrap();
    assert!(
        !retried.contains("embarazada") && !retried.contains("maní"),
        "{retried}"
    );
    assert_eq!(day(&server, &v, date).await[0]["reason"], reason);
    let mine = call(
        &server,
        "GET",
        &format!(
            "/api/v1/reservations/{id}?token={}",
            booked.body["manage_token"].as_str().unwrap()
        ),
        None,
        None,
    )
    .await;
    assert_eq!(mine.status, 200, "{}", mine.body);
    assert!(
        mine.body.get("reason").is_none(),
        "staff's words stay off the guest's page: {}",
        mine.body
    );
    let audit = call(
        &server,
        "GET",
        "/api/v1/audit?action=reservation.moved",
        Some(&v.owner),
        None,
    )
    .await;
    assert_eq!(audit.status, 200, "{}", audit.body);
    let audited = audit.body.to_string();
    assert!(audited.contains("reason=kept with the booking"), "{audited}");
    assert!(
        !audited.contains("embarazada") && !audited.contains("3159876543"),
        "{audited}"
    );
    crate::privacy::checkpoint(&server).await;
    assert!(!crate::privacy::database_bytes(&server).contains("embarazada"));
    let export = post(
        &server,
        "/api/v1/privacy/requests",
        Some(&v.owner),
        json!({"kind": "export", "subject": guest}),
    )
    .await;
    assert_eq!(
        export.body["reservations"][0]["reason"], reason,
        "{}",
        export.body
    );
    // A note an older version kept in clear (an upgraded database) is sealed under the guest's key by the next
    // upkeep, so the erasure below shreds it as well.
    let legacy = "UPDATE reservations SET note = 'Mesa lejos de la cocina (nota antigua)'";
    assert_eq!(crate::privacy::execute_sql(&server, legacy).await, 1);
    let upkeep = server.server().run_audit_upkeep().await.unwrap();
    assert_eq!(upkeep.sealed_booking_notes, 1, "{upkeep:?}");
    crate::privacy::checkpoint(&server).await;
    assert!(!crate::privacy::database_bytes(&server).contains("nota antigua"));
    assert_eq!(
        server
            .server()
            .run_audit_upkeep()
            .await
            .unwrap()
            .sealed_booking_notes,
        0
    );
    assert_eq!(
        day(&server, &v, date).await[0]["note"],
        "Mesa lejos de la cocina (nota antigua)"
    );
    let erased = post(
        &server,
        "/api/v1/privacy/requests",
        Some(&v.owner),
        json!({"kind": "erase", "subject": guest}),
    )
    .await;
    assert_eq!(
        (erased.status, erased.body["key_destroyed"].clone()),
        (200, json!(true)),
        "{}",
        erased.body
    );
    let after = day(&server, &v, date).await;
    assert_eq!(after.len(), 1, "the booking stays");
    assert_eq!(
        after[0]["guest_erased"], true,
        "the host sees why the name is gone"
    );
    assert_ne!(after[0]["guest_name"], "Esperanza Gómez Arboleda");
    assert_ne!(after[0]["guest_phone"], "+573159876543");
    assert_eq!(after[0]["note"], "", "the guest's own words go with them");
    assert!(
        after[0].get("reason").is_none(),
        "and the host's words about them: {}",
        after[0]
    );
}

/// API.md names a data subject by email or phone: a request so named finds every booking that gave it (the contacts
/// are sealed; a keyed digest finds them), and the member who signs in with the email, and acts on all of them.
pub async fn a_data_subject_is_found_by_email_or_phone(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let v = booking_venue(
        &server,
        "sujeto@example.co",
        "America/Bogota",
        &[4, 4],
        evenings(),
        40,
    )
    .await;
    let date = tomorrow(&server);
    let next = date + time::Duration::days(1);
    let guest = |name: &str, phone: &str, email: &str| json!({"name": name, "phone": phone, "email": email});
    for (hour, who) in [
        (
            0,
            guest("Esperanza Gómez", "+573159876543", "esperanza@example.co"),
        ),
        (1, guest("Esperanza G.", "+573150000001", "Esperanza@Example.co")),
        (2, guest("Otro Huésped", "+573150000002", "otro@example.co")),
    ] {
        let mut body = booking(&format!("{next}T{hour:02}:00:00Z"), 2);
        body["guest"] = who;
        assert_eq!(book(&server, &v.venue, body).await.status, 201);
    }
    let ask = async |body: Value| post(&server, "/api/v1/privacy/requests", Some(&v.owner), body).await;
    // Rows kept before lookup digests were (migration 0032): the first request opens and compares them, and gives
    // them their digests.
    let undigested = "UPDATE guest_contacts SET email_digest = NULL, phone_digest = NULL";
    assert_eq!(crate::privacy::execute_sql(&server, undigested).await, 3);
    let by_email = json!({"email": "ESPERANZA@example.co"});
    let export = ask(json!({"kind": "export", "subject": by_email})).await;
    assert_eq!(export.status, 200, "{}", export.body);
    assert_eq!(export.body["subject"], json!({"email": "esperanza@example.co"}));
    assert_eq!(export.body["member"], Value::Null);
    // The confirmation mails come along (once the outbox delivered them), their links' tokens withheld: one would
    // still cancel the booking, and an export is handed to whoever asked.
    let mut text = String::new();
    for _ in 0..100 {
        let again = ask(json!({"kind": "export", "subject": by_email})).await;
        if again.body["guests"][0]["mail"]
            .as_array()
            .is_some_and(|m| !m.is_empty())
        {
            text = again.body.to_string();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let tokens: Vec<&str> = text
        .match_indices("token=")
        .map(|(at, _)| &text[at + 6..at + 16])
        .collect();
    assert!(!tokens.is_empty(), "a confirmation mail with its link: {text}");
    assert!(
        tokens
            .iter()
            .all(|t| t.starts_with(comanda_security::secret::REDACTED)),
        "{tokens:?}"
    );
    let names: Vec<_> = export.body["guests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["guest"]["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        ["Esperanza Gómez", "Esperanza G."],
        "both bookings, oldest first"
    );
    // Each record comes with what it booked: one party of two each, at 00:00 and 01:00 UTC.
    let starts: Vec<_> = export.body["guests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            g["reservations"][0]["start"]
                .as_str()
                .unwrap_or("none")
                .to_owned()
        })
        .collect();
    assert_eq!(
        starts,
        [format!("{next}T00:00:00Z"), format!("{next}T01:00:00Z")],
        "{}",
        export.body
    );
    let by_phone = ask(json!({"kind": "export", "subject": {"phone": "+573159876543"}})).await;
    assert_eq!(
        by_phone.body["guests"].as_array().unwrap().len(),
        1,
        "{}",
        by_phone.body
    );
    // Typed as people write it, the number finds the same guest.
    let written = ask(json!({"kind": "export", "subject": {"phone": "+57 (315) 987-6543"}})).await;
    assert_eq!(
        written.body["guests"], by_phone.body["guests"],
        "{}",
        written.body
    );
    let still_undigested = "UPDATE guest_contacts SET erased_at = erased_at WHERE email_digest IS NULL";
    assert_eq!(
        crate::privacy::execute_sql(&server, still_undigested).await,
        0,
        "every old row has its digests now"
    );
    // The owner's own email names the member.
    let owner = ask(json!({"kind": "export", "subject": {"email": "sujeto@example.co"}})).await;
    assert_eq!(
        owner.body["member"]["subject"]["email"], "sujeto@example.co",
        "{}",
        owner.body
    );
    assert_eq!(owner.body["guests"], json!([]));

    // A corrected phone: the old one finds nobody, the new one the guest.
    let rectified =
        ask(json!({"kind": "rectify", "subject": {"phone": "+573159876543"}, "phone": "+573151112233"}))
            .await;
    assert_eq!(
        rectified.body["guests"][0]["phone"], "+573151112233",
        "{}",
        rectified.body
    );
    assert_eq!(
        ask(json!({"kind": "export", "subject": {"phone": "+573159876543"}}))
            .await
            .status,
        404
    );
    assert_eq!(
        ask(json!({"kind": "export", "subject": {"phone": "+573151112233"}}))
            .await
            .status,
        200
    );

    let erased = ask(json!({"kind": "erase", "subject": by_email})).await;
    assert_eq!(erased.status, 200, "{}", erased.body);
    let outcomes = erased.body["guests"].as_array().unwrap();
    assert_eq!(outcomes.len(), 2);
    assert!(
        outcomes.iter().all(|o| o["key_destroyed"] == json!(true)),
        "{}",
        erased.body
    );
    assert_eq!(
        ask(json!({"kind": "export", "subject": by_email})).await.status,
        404,
        "found no more"
    );
    let listed = day(&server, &v, date).await;
    let names: Vec<_> = listed.iter().map(|r| r["guest_name"].as_str().unwrap()).collect();
    assert_eq!(listed.len(), 3, "the bookings stay");
    assert!(
        names.contains(&"Otro Huésped") && !names.iter().any(|n| n.starts_with("Esperanza")),
        "{names:?}"
    );

    // A waitlist entry's guest is found by the phone they gave.
    let joined = post(
        &server,
        &format!("/api/v1/venues/{}/waitlist", v.venue),
        None,
        json!({"date": date.to_string(), "party_size": 2, "earliest": "18:00", "latest": "22:00", "consent": true,
               "guest": {"name": "Mateo Gil", "phone": "+573150000009", "email": "mateo@example.co"}}),
    )
    .await;
    assert_eq!(joined.status, 201, "{}", joined.body);
    let waiting = ask(json!({"kind": "export", "subject": {"phone": "+573150000009"}})).await;
    assert_eq!(
        waiting.body["guests"][0]["guest"]["name"], "Mateo Gil",
        "{}",
        waiting.body
    );
    // Another partner's guest is not this partner's to find; nor may a member who does not manage staff ask.
    let other = booking_venue(
        &server,
        "otro-socio@example.co",
        "America/Bogota",
        &[4],
        evenings(),
        40,
    )
    .await;
    let mut elsewhere = booking(&format!("{next}T00:00:00Z"), 2);
    elsewhere["guest"] = guest("Solo Allá", "+573150000010", "solo-alla@example.co");
    assert_eq!(book(&server, &other.venue, elsewhere).await.status, 201);
    assert_eq!(
        ask(json!({"kind": "export", "subject": {"email": "solo-alla@example.co"}}))
            .await
            .status,
        404
    );
    crate::identity::invite_and_join(&server, &v.owner, "mesero@example.co", "server", PASSWORD).await;
    let waiter = crate::identity::login(&server, "mesero@example.co", PASSWORD).await;
    let waiter = waiter.body["access_token"]
        .as_str()
        .expect("a server signs in without 2FA");
    let refused = post(
        &server,
        "/api/v1/privacy/requests",
        Some(waiter),
        json!({"kind": "export", "subject": {"email": "otro@example.co"}}),
    )
    .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    // A member keeps no phone: a corrected phone that reaches no guest is refused, not silently dropped.
    let no_phone =
        ask(json!({"kind": "rectify", "subject": {"email": "sujeto@example.co"}, "phone": "+573001110000"}))
            .await;
    assert_eq!(
        (no_phone.status, no_phone.body["errors"][0]["field"].clone()),
        (422, json!("phone"))
    );

    // The erasure that would remove the only owner is refused whole.
    assert_eq!(
        ask(json!({"kind": "erase", "subject": {"email": "sujeto@example.co"}}))
            .await
            .status,
        409
    );
    let stray = ask(json!({"kind": "erase", "subject": {"email": "otro@example.co"}, "name": "X"})).await;
    assert_eq!(
        (stray.status, stray.body["errors"][0]["field"].clone()),
        (422, json!("name")),
        "{}",
        stray.body
    );
    for (subject, field) in [
        (
            json!({"email": "a@example.co", "phone": "+573001234567"}),
            "subject",
        ),
        (json!({"phone": "3001234567"}), "subject.phone"),
        (json!({"email": "not-an-email"}), "subject.email"),
    ] {
        let refused = ask(json!({"kind": "export", "subject": subject})).await;
        assert_eq!(refused.status, 400, "{}", refused.body);
        assert_eq!(refused.body["errors"][0]["field"], field, "{}", refused.body);
    }
}

/// A booked party is not seated onto the bill of a walk-in party staff accepted at its table and who ordered: that
/// bill is theirs (seating joined it, and the booked party saw the walk-in's dishes on their bill). The booking engine
/// keeps that occupied table from new bookings and moves, so the host moves the party to the free one and seats it.
pub async fn a_party_is_not_seated_onto_another_partys_open_bill(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let all_day =
        json!([{"weekdays": [1, 2, 3, 4, 5, 6, 7], "first_seating": "00:00", "last_seating": "23:45"}]);
    let mut v = booking_venue(
        &server,
        "ocupada@example.co",
        "America/Bogota",
        &[4, 4],
        all_day,
        40,
    )
    .await;
    let (booked, start) = booked_and_near(&server, &mut v, 2, 30).await;
    let id = booked.body["reservation_id"].as_str().unwrap().to_owned();
    // A walk-in sits at the table first, staff accept it, it orders.
    let item = dish(&server, &v, "Ajiaco", 2_450_000).await;
    let manage = booked.body["manage_token"].as_str().unwrap().to_owned();
    let assigned = guest_view(&server, &id, &manage).await["tables"]
        .as_array()
        .unwrap()
        .clone();
    let token = guest_token(&server, &v, assigned[0].as_str().unwrap()).await;
    let ordered = post(
        &server,
        &format!("/api/v1/t/{token}/orders"),
        None,
        json!({"items": [{"item_id": item, "quantity": 1, "modifiers": []}]}),
    )
    .await;
    assert_eq!(ordered.status, 201, "{}", ordered.body);
    let sessions = call(
        &server,
        "GET",
        &format!("/api/v1/venues/{}/table-sessions", v.venue),
        Some(&v.owner),
        None,
    )
    .await;
    let walk_in = sessions.body["items"][0]["id"].as_str().unwrap().to_owned();
    let accepted = post(
        &server,
        &format!("/api/v1/table-sessions/{walk_in}/accept"),
        Some(&v.owner),
        json!({}),
    )
    .await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);

    let seated = host_move(&server, &v, &id, json!({"to": "seated"})).await;
    assert_eq!(seated.status, 422, "{}", seated.body);
    assert!(
        seated.body["detail"].as_str().unwrap().contains("open bill"),
        "{}",
        seated.body
    );
    let unchanged = guest_view(&server, &id, booked.body["manage_token"].as_str().unwrap()).await;
    assert_eq!(unchanged["status"], "booked", "nothing was half done");
    // The host moves the party to the next quarter hour: the engine gives it the free table, not the occupied one,
    // and the party is seated there.
    let next = OffsetDateTime::parse(&start, &time::format_description::well_known::Rfc3339).unwrap()
        + time::Duration::minutes(15);
    let moved = host_move(
        &server,
        &v,
        &id,
        json!({"to": "moved", "start": next.format(&time::format_description::well_known::Rfc3339).unwrap()}),
    )
    .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    let free = guest_view(&server, &id, &manage).await["tables"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        !free.iter().any(|t| assigned.contains(t)),
        "{free:?} is not {assigned:?}"
    );
    set_clock(&server, next - time::Duration::minutes(5));
    v.refreshed(&server).await;
    let seated = host_move(&server, &v, &id, json!({"to": "seated"})).await;
    assert_eq!(seated.status, 200, "{}", seated.body);
    // The party leaves and staff close its table: the booking is finished with the bill, its table free again.
    let close = format!(
        "/api/v1/venues/{}/tables/{}/close",
        v.venue,
        free[0].as_str().unwrap()
    );
    let closed = post(&server, &close, Some(&v.owner), json!({})).await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    assert_eq!(guest_view(&server, &id, &manage).await["status"], "finished");
}

/// A party seated at joined tables has one bill: an order from any of its tables' codes lands on the bill opened
/// on its first table, every code shows that bill and names all the tables; a table with a bill of its own keeps it.
pub async fn a_party_at_joined_tables_orders_and_pays_on_one_bill(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let all_day =
        json!([{"weekdays": [1, 2, 3, 4, 5, 6, 7], "first_seating": "00:00", "last_seating": "23:45"}]);
    let mut v = booking_venue(
        &server,
        "juntas@example.co",
        "America/Bogota",
        &[4, 4, 2],
        all_day,
        40,
    )
    .await;
    let joined = post(
        &server,
        &format!("/api/v1/venues/{}/table-combinations", v.venue),
        Some(&v.owner),
        json!({"tables": [v.tables[0], v.tables[1]]}),
    )
    .await;
    assert_eq!(joined.status, 201, "{}", joined.body);
    let item = dish(&server, &v, "Bandeja paisa", 3_200_000).await;
    let (booked, _) = booked_and_near(&server, &mut v, 7, 10).await;
    let id = booked.body["reservation_id"].as_str().unwrap().to_owned();
    let (first, second, alone) = (
        guest_token(&server, &v, &v.tables[0]).await,
        guest_token(&server, &v, &v.tables[1]).await,
        guest_token(&server, &v, &v.tables[2]).await,
    );
    // Before the party is seated, each table is its own.
    let before = call(&server, "GET", &format!("/api/v1/t/{second}"), None, None).await;
    assert_eq!(before.body["table"], "Mesa 2", "{}", before.body);
    let seated = host_move(&server, &v, &id, json!({"to": "seated"})).await;
    assert_eq!(seated.status, 200, "{}", seated.body);
    let order = |token: String| {
        let server = &server;
        let item = item.clone();
        async move {
            post(
                server,
                &format!("/api/v1/t/{token}/orders"),
                None,
                json!({"items": [{"item_id": item, "quantity": 1, "modifiers": []}]}),
            )
            .await
        }
    };
    // Both on the party's bill (the first table's); each served where it was ordered from, which the kitchen's
    // ticket names (the food went to Mesa 1 when the ticket said only the bill's table).
    for (token, served) in [(second.clone(), &v.tables[1]), (first.clone(), &v.tables[0])] {
        let ordered = order(token).await;
        assert_eq!(ordered.status, 201, "{}", ordered.body);
        assert_eq!(ordered.body["table_id"], v.tables[0].as_str(), "{}", ordered.body);
        assert_eq!(
            ordered.body["served_table_id"],
            served.as_str(),
            "{}",
            ordered.body
        );
    }
    let kitchen = call(
        &server,
        "GET",
        &format!("/api/v1/venues/{}/orders", v.venue),
        Some(&v.owner),
        None,
    )
    .await;
    let mut served: Vec<_> = kitchen.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["served_table_id"].as_str().unwrap().to_owned())
        .collect();
    served.sort();
    let mut expected = vec![v.tables[0].clone(), v.tables[1].clone()];
    expected.sort();
    assert_eq!(served, expected, "{}", kitchen.body);
    for token in [&first, &second] {
        let view = call(&server, "GET", &format!("/api/v1/t/{token}"), None, None).await;
        assert_eq!(view.status, 200, "{}", view.body);
        assert_eq!(view.body["table"], "Mesa 1 + Mesa 2", "{}", view.body);
        let bill = call(&server, "GET", &format!("/api/v1/t/{token}/bill"), None, None).await;
        assert_eq!(bill.status, 200, "{}", bill.body);
        assert_eq!(
            bill.body["bill"]["total"]["amount"], 6_400_000,
            "both orders on one bill: {}",
            bill.body
        );
    }
    let sessions = call(
        &server,
        "GET",
        &format!("/api/v1/venues/{}/table-sessions", v.venue),
        Some(&v.owner),
        None,
    )
    .await;
    assert_eq!(
        sessions.body["items"].as_array().map(Vec::len),
        Some(1),
        "one bill for the party: {}",
        sessions.body
    );
    // Staff at the second table take cash for the party's bill there (it was "no open bill").
    let cash = post(
        &server,
        &format!("/api/v1/venues/{}/tables/{}/cash", v.venue, v.tables[1]),
        Some(&v.owner),
        json!({"amount": 3_200_000, "tip": 0}),
    )
    .await;
    assert_eq!(cash.status, 201, "{}", cash.body);
    let bill = call(&server, "GET", &format!("/api/v1/t/{first}/bill"), None, None).await;
    assert_eq!(bill.body["balance"]["paid"]["amount"], 3_200_000, "{}", bill.body);
    // A table not joined to the party keeps its own code and bill.
    let apart = call(&server, "GET", &format!("/api/v1/t/{alone}"), None, None).await;
    assert_eq!(apart.body["table"], "Mesa 3", "{}", apart.body);
    assert_eq!(apart.body["bill"]["total"]["amount"], 0, "{}", apart.body);
    // A walk-in at the third table is not moved onto a table of the seated party's, nor the party onto the walk-in's
    // table; the party moves to a table of its own with its bill, and its booking holds that table for the rest of
    // its turn: its two tables are free, each code its own again, and the kitchen serves the party at the new one.
    assert_eq!(order(alone.clone()).await.status, 201);
    let sessions_now = call(
        &server,
        "GET",
        &format!("/api/v1/venues/{}/table-sessions", v.venue),
        Some(&v.owner),
        None,
    )
    .await;
    let session_at = |table: &str| {
        sessions_now.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["table_id"] == table)
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .unwrap()
    };
    let (party_bill, walk_in) = (session_at(&v.tables[0]), session_at(&v.tables[2]));
    let move_to = |session: String, table: String| {
        let server = &server;
        let owner = v.owner.clone();
        async move {
            post(
                server,
                &format!("/api/v1/table-sessions/{session}/move"),
                Some(&owner),
                json!({"table_id": table}),
            )
            .await
        }
    };
    let moved = move_to(walk_in, v.tables[1].clone()).await;
    assert_eq!(moved.status, 422, "{}", moved.body);
    assert!(
        moved.body["detail"].as_str().unwrap().contains("seated"),
        "{}",
        moved.body
    );
    let moved = move_to(party_bill.clone(), v.tables[2].clone()).await;
    assert_eq!(moved.status, 409, "{}", moved.body);
    let fourth = post(
        &server,
        &format!("/api/v1/venues/{}/tables", v.venue),
        Some(&v.owner),
        json!({"label": "Mesa 4", "seats": 8}),
    )
    .await;
    assert_eq!(fourth.status, 201, "{}", fourth.body);
    let (fourth, fourth_token) = (
        fourth.body["id"].as_str().unwrap().to_owned(),
        fourth.body["token"].as_str().unwrap().to_owned(),
    );
    let moved = move_to(party_bill, fourth.clone()).await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_eq!(moved.body["table"], "Mesa 4", "{}", moved.body);
    let manage = booked.body["manage_token"].as_str().unwrap();
    let party = guest_view(&server, &id, manage).await;
    assert_eq!(party["tables"], json!([fourth]), "{party}");
    assert_eq!(party["status"], "seated", "{party}");
    let bill = call(
        &server,
        "GET",
        &format!("/api/v1/t/{fourth_token}/bill"),
        None,
        None,
    )
    .await;
    assert_eq!(bill.body["bill"]["total"]["amount"], 6_400_000, "{}", bill.body);
    assert_eq!(bill.body["balance"]["paid"]["amount"], 3_200_000, "{}", bill.body);
    for (token, label) in [(&first, "Mesa 1"), (&second, "Mesa 2")] {
        let view = call(&server, "GET", &format!("/api/v1/t/{token}"), None, None).await;
        assert_eq!(view.body["table"], label, "{}", view.body);
        assert_eq!(view.body["bill"]["total"]["amount"], 0, "{}", view.body);
    }
    let kitchen = call(
        &server,
        "GET",
        &format!("/api/v1/venues/{}/orders", v.venue),
        Some(&v.owner),
        None,
    )
    .await;
    let at_fourth = kitchen.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["served_table_id"] == fourth.as_str())
        .count();
    assert_eq!(at_fourth, 2, "the party's two orders: {}", kitchen.body);
}

/// A seating after midnight belongs to the evening before (API.md): the host's list of that evening's business day
/// shows it, the next day's does not.
pub async fn a_seating_after_midnight_is_on_the_evening_before(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let late =
        json!([{"weekdays": [1, 2, 3, 4, 5, 6, 7], "first_seating": "22:00", "last_seating": "01:00"}]);
    let v = booking_venue(&server, "trasnocho@example.co", "America/Bogota", &[4], late, 40).await;
    let date = tomorrow(&server);
    // 00:30 in Bogotá (UTC-5) the night after `date`.
    let half_past = format!("{}T05:30:00Z", date + time::Duration::days(1));
    let booked = book(&server, &v.venue, booking(&half_past, 2)).await;
    assert_eq!(booked.status, 201, "{}", booked.body);
    let evening = day(&server, &v, date).await;
    assert_eq!(evening.len(), 1, "{evening:?}");
    assert_eq!(evening[0]["start"], half_past.as_str());
    assert!(day(&server, &v, date + time::Duration::days(1)).await.is_empty());
    // The business day may not start before the service's last seating after midnight (at 00:00 the 00:30 booking
    // would leave this evening's list); from 02:00 on it may.
    let business_day = format!("/api/v1/venues/{}/business-day", v.venue);
    let cut = call(
        &server,
        "PUT",
        &business_day,
        Some(&v.owner),
        Some(json!({"day_start_hour": 0})),
    )
    .await;
    assert_eq!(
        (cut.status, cut.body["errors"][0]["field"].clone()),
        (422, json!("day_start_hour")),
        "{}",
        cut.body
    );
    let early = call(
        &server,
        "PUT",
        &business_day,
        Some(&v.owner),
        Some(json!({"day_start_hour": 2})),
    )
    .await;
    assert_eq!(early.status, 200, "{}", early.body);
    assert_eq!(day(&server, &v, date).await.len(), 1, "still this evening's");
    // Likewise a service may not run past the day start.
    let policy = format!("/api/v1/venues/{}/booking-policy", v.venue);
    let setup = call(&server, "GET", &policy, Some(&v.owner), None).await.body["policy"].clone();
    let mut running_past = setup.clone();
    running_past["services"][0]["last_seating"] = json!("02:30");
    let past = call(&server, "PUT", &policy, Some(&v.owner), Some(running_past)).await;
    assert_eq!(
        (past.status, past.body["errors"][0]["field"].clone()),
        (422, json!("services[0].last_seating")),
        "{}",
        past.body
    );
    // Nor lie before it: a 01:15-01:45 service under a 02:00 day start is offered on one date and would be listed
    // on the day before's; the business day may not start after such a service either.
    let mut before_start = setup.clone();
    before_start["services"] = json!([setup["services"][0].clone(),
        {"weekdays": [7], "first_seating": "01:15", "last_seating": "01:45"}]);
    let early_service = call(&server, "PUT", &policy, Some(&v.owner), Some(before_start)).await;
    assert_eq!(
        (
            early_service.status,
            early_service.body["errors"][0]["field"].clone()
        ),
        (422, json!("services[1].first_seating")),
        "{}",
        early_service.body
    );
    // At 00:05 that night the evening's service still runs (the owner's session has run out by then): a guest joins its waitlist for the evening's date (the
    // calendar's yesterday), as availability still lists its times.
    let five_past = time::OffsetDateTime::parse(
        &format!("{}T05:05:00Z", date + time::Duration::days(1)),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    server
        .clock
        .advance(five_past - comanda_domain::Clock::now(&server.clock));
    let waiting = post(
        &server,
        &format!("/api/v1/venues/{}/waitlist", v.venue),
        None,
        json!({"date": date.to_string(), "party_size": 2, "earliest": "00:15", "latest": "00:45",
               "consent": true,
               "guest": {"name": "Noctámbulo", "phone": "+573001110099", "email": "noche@example.co"}}),
    )
    .await;
    assert_eq!(waiting.status, 201, "{}", waiting.body);
    assert_eq!(
        waiting.body["earliest"],
        format!("{}T00:15:00-05:00", date + time::Duration::days(1))
    );
}

/// Year 0 parses as a date but cannot be stored: every route taking a date or an instant refuses a year outside
/// 1900-9998 (a negative one too) by a rule (422: RFC 3339 allows years 0000-9999, so they are not bad input); they
/// answered 500, four of them on public routes. The audit filter reads such a bound as the trail's beginning or
/// end.
pub async fn dates_outside_the_stored_years_are_bad_input(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let v = booking_venue(
        &server,
        "fechas@example.co",
        "America/Bogota",
        &[4],
        evenings(),
        40,
    )
    .await;
    for (date, status) in [
        ("0000-01-01", 422),
        ("0947-04-27", 422),
        ("-0001-01-01", 422),
        ("9999-12-31", 422),
    ] {
        let availability = availability_on(&server, &v.venue, date).await;
        assert_eq!(availability.status, status, "{date}: {}", availability.body);
        for path in [
            format!("/api/v1/venues/{}/reservations?date={date}", v.venue),
            format!(
                "/api/v1/venues/{}/analytics/summary?from={date}&to={date}",
                v.venue
            ),
            format!("/api/v1/analytics/summary?from={date}&to={date}"),
        ] {
            let read = call(&server, "GET", &path, Some(&v.owner), None).await;
            assert_eq!(read.status, status, "{path}: {}", read.body);
        }
    }
    let booked = book(&server, &v.venue, booking("0000-01-01T00:00:00Z", 2)).await;
    assert_eq!(
        (booked.status, booked.body["errors"][0]["field"].clone()),
        (422, json!("start"))
    );
    let trail = call(
        &server,
        "GET",
        "/api/v1/audit?from=0126-09-10T01:43:52Z&to=0275-01-18T06:43:46Z",
        Some(&v.owner),
        None,
    )
    .await;
    assert_eq!(trail.status, 200, "{}", trail.body);
}

async fn availability_on(server: &TestServer, venue: &str, date: &str) -> Reply {
    call(
        server,
        "GET",
        &format!("/api/v1/venues/{venue}/availability?date={date}&party_size=2"),
        None,
        None,
    )
    .await
}

/// A party of two booked online at `start` whose deposit is paid by card (the webhook seen): its id and its
/// PaymentIntent's.
async fn paid_booking(
    server: &TestServer,
    stripe: &crate::payments::Stripe,
    venue: &str,
    start: &str,
) -> (String, String) {
    let booked = book(server, venue, booking(start, 2)).await;
    assert_eq!(booked.status, 201, "{}", booked.body);
    let id = booked.body["reservation_id"].as_str().unwrap().to_owned();
    let secret = booked.body["client_secret"].as_str().unwrap();
    let intent = secret.split("_secret_").next().unwrap().to_owned();
    assert_eq!(
        stripe.confirm(secret, "pm_card_visa").await["status"],
        "succeeded"
    );
    let token = booked.body["manage_token"].as_str().unwrap().to_owned();
    crate::payments::eventually("the deposit's webhook", async || {
        (guest_view(server, &id, &token).await["deposit"]["status"] == "paid").then_some(())
    })
    .await;
    (id, intent)
}

/// The guest's view of a booking, by its manage link.
async fn guest_view(server: &TestServer, id: &str, token: &str) -> Value {
    let seen = call(
        server,
        "GET",
        &format!("/api/v1/reservations/{id}?token={token}"),
        None,
        None,
    )
    .await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    seen.body
}

/// Deposits through the real Stripe client and the stand-in: a venue asks 20.000 COP per cover with a 24-hour
/// cut-off. A booking awaits its deposit holding its table, paying confirms it, the guest's cancellation before the
/// cut-off refunds it at Stripe, a no-show keeps it (transferred to the venue's account), and an unpaid hold expires
/// and frees the table.
pub async fn deposits_confirm_refund_before_the_cut_off_and_are_kept_on_a_no_show(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let mut v = booking_venue(
        &server,
        "deposito@example.co",
        "America/Bogota",
        &[4],
        evenings(),
        40,
    )
    .await;
    let mut rule = policy();
    rule["deposit_per_cover"] = json!({"amount": 2_000_000, "currency": "COP"});
    rule["cancellation_cutoff_hours"] = json!(24);
    let put = async |server: &TestServer, owner: &str, venue: &str, rule: &Value| {
        call(
            server,
            "PUT",
            &format!("/api/v1/venues/{venue}/booking-policy"),
            Some(owner),
            Some(rule.clone()),
        )
        .await
    };
    // Before the restaurant can take cards a deposit is refused, naming the field (not stored and then unpayable).
    let early = put(&server, &v.owner, &v.venue, &rule).await;
    assert_eq!(early.status, 422, "{}", early.body);
    assert!(
        early.body.to_string().contains("deposit_per_cover"),
        "{}",
        early.body
    );
    let mut in_dollars = rule.clone();
    in_dollars["deposit_per_cover"]["currency"] = json!("USD");
    crate::payments::onboarded(
        &server,
        &crate::ordering::Venue {
            owner: v.owner.clone(),
            refresh: String::new(),
            venue: v.venue.clone(),
            category: String::new(),
            table: String::new(),
            token: String::new(),
            item: String::new(),
        },
    )
    .await;
    let dollars = put(&server, &v.owner, &v.venue, &in_dollars).await;
    assert_eq!(
        dollars.status, 422,
        "a deposit in another currency than the venue's: {}",
        dollars.body
    );
    let saved = put(&server, &v.owner, &v.venue, &rule).await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    let stripe = crate::payments::stripe(&server);

    // Three evenings ahead at 19:00 Bogotá: the cut-off is a day before.
    let date = tomorrow(&server) + time::Duration::days(1);
    let at = |days: i64| format!("{}T00:00:00Z", date + time::Duration::days(days));
    let evening_summary = async |v: &BookingVenue| {
        let path = format!(
            "/api/v1/venues/{}/analytics/summary?from={date}&to={date}",
            v.venue
        );
        call(&server, "GET", &path, Some(&v.owner), None).await
    };
    let first = book(&server, &v.venue, booking(&at(1), 2)).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.body["status"], "awaiting_deposit");
    assert_eq!(
        first.body["deposit"]["amount"], 4_000_000,
        "two covers: {}",
        first.body
    );
    assert_eq!(
        first.body["deposit"]["refundable_until"],
        format!("{date}T00:00:00Z")
    );
    let (id, token) = (
        first.body["reservation_id"].as_str().unwrap().to_owned(),
        first.body["manage_token"].as_str().unwrap().to_owned(),
    );
    // Awaiting its deposit, the booking holds its table.
    assert!(!starts(&availability(&server, &v.venue, date, 2).await).contains(&at(1)));
    assert!(
        crate::identity::mailed(
            &server,
            &[
                "valentina@example.co",
                "pendiente del depósito",
                "te lo devolvemos completo"
            ]
        )
        .await,
        "the guest is told the booking awaits its deposit, and the rule that refunds it"
    );
    let secret = first.body["client_secret"].as_str().unwrap();
    // The deposit page reads the secret once from its own route; the booking's view, which it polls, never asks
    // Stripe and carries no secret. A wrong link is 404.
    let payment_route = format!("/api/v1/reservations/{id}/deposit/payment");
    let pay = call(
        &server,
        "GET",
        &format!("{payment_route}?token={token}"),
        None,
        None,
    )
    .await;
    assert_eq!(pay.status, 200, "{}", pay.body);
    assert_eq!(pay.body["client_secret"], secret, "{}", pay.body);
    assert!(
        pay.body["publishable_key"]
            .as_str()
            .is_some_and(|k| k.starts_with("pk_"))
    );
    assert!(guest_view(&server, &id, &token).await["deposit"]["client_secret"].is_null());
    let forged = call(
        &server,
        "GET",
        &format!("{payment_route}?token=x{token}"),
        None,
        None,
    )
    .await;
    assert_eq!(forged.status, 404, "{}", forged.body);
    let intent = secret.split("_secret_").next().unwrap().to_owned();
    // A card whose refunds Stripe takes and the bank later returns (Stripe's `pm_card_refundFail`).
    let confirmed = stripe.confirm(secret, "pm_card_refundFail").await;
    assert_eq!(confirmed["status"], "succeeded", "{confirmed}");
    crate::payments::eventually("the deposit's webhook", async || {
        let seen = guest_view(&server, &id, &token).await;
        (seen["status"] == "confirmed" && seen["deposit"]["status"] == "paid").then_some(())
    })
    .await;
    let paid = call(
        &server,
        "GET",
        &format!("{payment_route}?token={token}"),
        None,
        None,
    )
    .await;
    assert_eq!(
        paid.status, 409,
        "a paid deposit has nothing left to pay: {}",
        paid.body
    );
    // The payment confirms the booking, and the guest is told so with the deposit's rule.
    assert!(
        crate::identity::mailed(
            &server,
            &[
                "valentina@example.co",
                "reserva confirmada",
                "Recibimos tu depósito de",
                "We received your deposit of",
                &format!("reservation={id}&token="),
            ]
        )
        .await,
        "the guest hears the deposit confirmed the booking"
    );

    // Cancelled two days before: the deposit goes back to the guest's card at Stripe, and the table is free.
    let cancelled = post(
        &server,
        &format!("/api/v1/reservations/{id}/cancel?token={token}"),
        None,
        json!({}),
    )
    .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_eq!(
        (
            cancelled.body["status"].clone(),
            cancelled.body["deposit"]["status"].clone()
        ),
        (json!("cancelled"), json!("refunded")),
        "{}",
        cancelled.body
    );
    // The guest gets a record of it, with the refund.
    assert!(
        mail_with(
            &server,
            &[
                "Cancelaste tu reserva en",
                "Te devolvemos el depósito de",
                "You cancelled your booking at"
            ]
        )
        .await
        .is_some(),
        "the guest's cancellation is confirmed by mail"
    );
    // The answer was lost and the guest taps again: the same view, the refund once.
    let again = post(
        &server,
        &format!("/api/v1/reservations/{id}/cancel?token={token}"),
        None,
        json!({}),
    )
    .await;
    assert_eq!(
        (again.status, again.body["deposit"]["status"].clone()),
        (200, json!("refunded")),
        "{}",
        again.body
    );
    let refunds = stripe.get(&format!("/v1/refunds?payment_intent={intent}")).await;
    assert_eq!(refunds["data"].as_array().map(Vec::len), Some(1), "{refunds}");
    assert_eq!(refunds["data"][0]["amount"], 4_000_000);
    // The card was closed: the bank returns the refund days later. The deposit stays refunded (the booking's
    // decision stands), says why the money did not arrive, and the venue is told once to give it back.
    let refund_failed_alerts = async || {
        server
            .store()
            .await
            .alerts(time::OffsetDateTime::UNIX_EPOCH)
            .await
            .unwrap()
            .into_iter()
            .filter(|a| a.kind == "payments.refund_failed" && a.detail.contains(&id))
            .count()
    };
    assert_eq!(refund_failed_alerts().await, 0);
    let (status, settled) = stripe
        .post(
            "/_standin/refunds/settle",
            &[("refund", refunds["data"][0]["id"].as_str().unwrap())],
        )
        .await;
    assert_eq!(status, 200, "{settled}");
    let returned = crate::payments::eventually("refund.failed", async || {
        let seen = guest_view(&server, &id, &token).await;
        seen["deposit"]["refund_failure"].is_string().then_some(seen)
    })
    .await;
    assert_eq!(
        (
            returned["deposit"]["status"].clone(),
            returned["deposit"]["refund_failure"].clone()
        ),
        (json!("refunded"), json!("expired_or_canceled_card")),
        "{returned}"
    );
    crate::payments::replay_every_event(&server, &stripe).await;
    assert_eq!(
        refund_failed_alerts().await,
        1,
        "told once, though refund.updated and refund.failed both came, and came again"
    );
    assert!(starts(&availability(&server, &v.venue, date, 2).await).contains(&at(1)));

    // A booking never paid holds its table only until the hold expires; the upkeep then cancels its PaymentIntent.
    let unpaid = book(&server, &v.venue, booking(&at(1), 2)).await;
    assert_eq!(unpaid.status, 201, "{}", unpaid.body);
    let unpaid_intent = unpaid.body["client_secret"]
        .as_str()
        .unwrap()
        .split("_secret_")
        .next()
        .unwrap()
        .to_owned();
    server.clock.advance(time::Duration::minutes(16));
    server.server().run_payments_upkeep().await;
    assert_eq!(
        stripe.get(&format!("/v1/payment_intents/{unpaid_intent}")).await["status"],
        "canceled"
    );
    // Its guest hears that the booking was released and nothing was charged, with where to book again.
    assert!(
        mail_with(
            &server,
            &[
                "no se confirmó: el depósito no se pagó",
                "Nothing was charged",
                &format!("/book/{}", v.venue)
            ]
        )
        .await
        .is_some(),
        "the guest hears the hold lapsed"
    );
    let expired = guest_view(
        &server,
        unpaid.body["reservation_id"].as_str().unwrap(),
        unpaid.body["manage_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(
        (expired["status"].clone(), expired["deposit"]["status"].clone()),
        (json!("lapsed"), json!("released")),
        "{expired}"
    );
    assert!(starts(&availability(&server, &v.venue, date, 2).await).contains(&at(1)));
    // The evening's figures: the booking the guest cancelled is a booking and a cancellation; the hold never paid
    // was never a booking, so it is neither (it used to count as a cancelled booking).
    v.refreshed(&server).await;
    let figures = evening_summary(&v).await;
    assert_eq!(figures.status, 200, "{}", figures.body);
    let reservations = &figures.body["reservations"];
    assert_eq!(
        (
            reservations["bookings"].clone(),
            reservations["cancellations"].clone(),
            reservations["cancellation_rate_bp"].clone()
        ),
        (json!(1), json!(1), json!(10_000)),
        "{reservations}"
    );

    // Paid, and the party never comes: the venue keeps the deposit (sent to its connected account), nothing refunded.
    let (second_id, second_intent) = paid_booking(&server, &stripe, &v.venue, &at(1)).await;
    // A third party, the evening after, pays its deposit too: it will come.
    let (third_id, third_intent) = paid_booking(&server, &stripe, &v.venue, &at(2)).await;
    // The host moves it an hour later: the refund cut-off moves with it, and the answer shows the paid deposit.
    let an_hour_later = format!("{}T01:00:00Z", date + time::Duration::days(2));
    v.refreshed(&server).await;
    let moved = host_move(
        &server,
        &v,
        &third_id,
        json!({"to": "moved", "start": an_hour_later}),
    )
    .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_eq!(moved.body["deposit"]["status"], "paid", "{}", moved.body);
    // The guest is told, in both languages, with the link to see or cancel it.
    let moved_day = english_day(date + time::Duration::days(1));
    let told = mail_with(
        &server,
        &[
            "movió tu reserva: ahora es para 2 personas el",
            &format!("now for 2 guests on {moved_day} at 20:00"),
            &format!("reservation={third_id}&token="),
        ],
    )
    .await;
    assert!(told.is_some(), "the guest hears of the move");
    // The host taps again: nothing moves, nothing is recorded, the guest is not mailed twice.
    let again = host_move(
        &server,
        &v,
        &third_id,
        json!({"to": "moved", "start": an_hour_later}),
    )
    .await;
    assert_eq!(again.status, 200, "{}", again.body);
    let moves = call(
        &server,
        "GET",
        "/api/v1/audit?action=reservation.moved",
        Some(&v.owner),
        None,
    )
    .await;
    assert_eq!(
        moves.body["items"].as_array().map(Vec::len),
        Some(1),
        "{}",
        moves.body
    );
    assert_eq!(
        moved.body["deposit"]["refundable_until"],
        format!("{}T01:00:00Z", date + time::Duration::days(1)),
        "still 24 hours before the start: {}",
        moved.body
    );
    set_clock(
        &server,
        OffsetDateTime::parse(&at(1), &time::format_description::well_known::Rfc3339).unwrap(),
    );
    v.refreshed(&server).await;
    // At its time the party is not a no-show yet: marking one keeps the deposit, so it waits out the 15 minutes
    // of grace a late party has.
    let too_soon = host_move(&server, &v, &second_id, json!({"to": "no_show"})).await;
    assert_eq!(too_soon.status, 422, "{}", too_soon.body);
    server.clock.advance(comanda_domain::reservation::LATE_AFTER);
    let no_show = host_move(&server, &v, &second_id, json!({"to": "no_show"})).await;
    assert_eq!(no_show.status, 200, "{}", no_show.body);
    // Kept, but handed to the venue only once the booked time is over: the party may still come until then.
    assert_eq!(no_show.body["deposit"]["status"], "keep_due", "{}", no_show.body);
    let upkeep = async || {
        let store = server.store().await;
        let service = server.server().payments().unwrap();
        comanda_server::payments::upkeep(&store, service, &(std::sync::Arc::new(server.clock.clone()) as _))
            .await;
    };
    let transfers_of = async |id: &str| {
        stripe
            .get(&format!("/v1/transfers?transfer_group=reservation-{id}"))
            .await["data"]
            .as_array()
            .map(Vec::len)
    };
    upkeep().await;
    assert_eq!(
        transfers_of(&second_id).await,
        Some(0),
        "not while its time lasts"
    );
    server.clock.advance(time::Duration::hours(3));
    upkeep().await;
    let refunds = stripe
        .get(&format!("/v1/refunds?payment_intent={second_intent}"))
        .await;
    assert_eq!(refunds["data"].as_array().map(Vec::len), Some(0), "{refunds}");
    assert_eq!(transfers_of(&second_id).await, Some(1), "kept: sent to the venue");
    // The kept deposit is in the day's reservation figures (it is in no sale).
    v.refreshed(&server).await;
    let summary = evening_summary(&v).await;
    assert_eq!(
        summary.body["reservations"]["deposits_kept"], no_show.body["deposit"]["amount"],
        "{}",
        summary.body
    );
    v.refreshed(&server).await;
    let too_late = host_move(&server, &v, &second_id, json!({"to": "seated"})).await;
    assert_eq!(too_late.status, 422, "its time is over: {}", too_late.body);

    // The third party comes: seated, its deposit goes back to the card (the bill at the table is paid whole, so
    // keeping it would charge the party twice).
    set_clock(
        &server,
        OffsetDateTime::parse(&at(2), &time::format_description::well_known::Rfc3339).unwrap()
            + time::Duration::minutes(30),
    );
    v.refreshed(&server).await;
    let seated = host_move(&server, &v, &third_id, json!({"to": "seated"})).await;
    assert_eq!(seated.status, 200, "{}", seated.body);
    assert_eq!(seated.body["deposit"]["status"], "refunded", "{}", seated.body);
    // Two more friends join the seated party: its covers grow, its table and time stay (a new time is refused).
    let grown = host_move(
        &server,
        &v,
        &third_id,
        json!({"to": "moved", "start": seated.body["start"], "party_size": 4}),
    )
    .await;
    assert_eq!(
        (
            grown.status,
            grown.body["party_size"].clone(),
            grown.body["status"].clone()
        ),
        (200, json!(4), json!("seated")),
        "{}",
        grown.body
    );
    assert_eq!(grown.body["tables"], seated.body["tables"]);
    let elsewhere = host_move(
        &server,
        &v,
        &third_id,
        json!({"to": "moved", "start": at(3), "party_size": 4}),
    )
    .await;
    assert_eq!(elsewhere.status, 409, "{}", elsewhere.body);
    let refunds = stripe
        .get(&format!("/v1/refunds?payment_intent={third_intent}"))
        .await;
    assert_eq!(refunds["data"].as_array().map(Vec::len), Some(1), "{refunds}");

    // A fourth party is marked a no-show 20 minutes after its start and walks in 10 minutes later: the host seats it
    // (the day list offers the move), its table is its own again, and its deposit goes back to the card, never to
    // the venue.
    let (fourth_id, fourth_intent) = paid_booking(&server, &stripe, &v.venue, &at(3)).await;
    set_clock(
        &server,
        OffsetDateTime::parse(&at(3), &time::format_description::well_known::Rfc3339).unwrap()
            + time::Duration::minutes(20),
    );
    v.refreshed(&server).await;
    let moves = format!("/api/v1/reservations/{fourth_id}/transitions");
    let no_show = post(&server, &moves, Some(&v.owner), json!({"to": "no_show"})).await;
    assert_eq!(no_show.body["deposit"]["status"], "keep_due", "{}", no_show.body);
    server.clock.advance(time::Duration::minutes(10));
    upkeep().await;
    v.refreshed(&server).await;
    let listed = day(&server, &v, date + time::Duration::days(2)).await;
    let fourth = listed
        .iter()
        .find(|r| r["id"] == json!(fourth_id))
        .expect("on its day");
    assert_eq!(fourth["moves"], json!(["seated"]), "{fourth}");
    // The third party has left the table by now.
    let left = host_move(&server, &v, &third_id, json!({"to": "finished"})).await;
    assert_eq!(left.status, 200, "{}", left.body);
    let came = post(&server, &moves, Some(&v.owner), json!({"to": "seated"})).await;
    assert_eq!(came.status, 200, "{}", came.body);
    assert_eq!(came.body["deposit"]["status"], "refunded", "{}", came.body);
    assert!(
        came.body["session_id"].is_string(),
        "seated at its table: {}",
        came.body
    );
    let refunds = stripe
        .get(&format!("/v1/refunds?payment_intent={fourth_intent}"))
        .await;
    assert_eq!(refunds["data"].as_array().map(Vec::len), Some(1), "{refunds}");
    assert_eq!(
        transfers_of(&fourth_id).await,
        Some(0),
        "nothing handed to the venue"
    );

    // The venue cancels a fifth, paid booking: the deposit is refunded and the guest is told so.
    let (fifth_id, _) = paid_booking(&server, &stripe, &v.venue, &at(5)).await;
    let cancelled = host_move(
        &server,
        &v,
        &fifth_id,
        json!({"to": "cancelled", "reason": "cocina cerrada"}),
    )
    .await;
    assert_eq!(
        cancelled.body["deposit"]["status"], "refunded",
        "{}",
        cancelled.body
    );
    let cancelled_day = date + time::Duration::days(4);
    let told = mail_with(
        &server,
        &[
            "canceló tu reserva para 2 personas el ",
            // The day in Spanish words: "el viernes 4 de diciembre de 2026 a las 19:00".
            &format!(" {} de ", cancelled_day.day()),
            &format!(
                " de {} a las 19:00. Te devolvemos el depósito de",
                cancelled_day.year()
            ),
            &format!(
                "cancelled your booking for 2 guests on {} at 19:00. Your deposit of",
                english_day(cancelled_day)
            ),
        ],
    )
    .await;
    assert!(
        told.is_some(),
        "the guest hears of the cancellation and the refund"
    );
}

/// A table's settings decide what the widget offers: a table kept off the widget or above a party's size is not
/// given to that party online, while the host still books it by phone — and the host's availability (the same route
/// with the host's token, what the host page offers) lists it; another partner's token finds no such venue. A
/// minimum above the seats is refused.
pub async fn table_settings_decide_what_the_widget_offers(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let v = booking_venue(
        &server,
        "mesas@example.co",
        "America/Bogota",
        &[2, 6],
        evenings(),
        40,
    )
    .await;
    let date = tomorrow(&server);
    let seven = format!("{}T00:00:00Z", date + time::Duration::days(1));
    let set = async |table: &str, body: Value| {
        call(
            &server,
            "PUT",
            &format!("/api/v1/tables/{table}/booking"),
            Some(&v.owner),
            Some(body),
        )
        .await
    };
    let too_many = set(&v.tables[1], json!({"min_party": 7, "online": true})).await;
    assert_eq!(too_many.status, 422, "{}", too_many.body);
    assert!(
        too_many.body.to_string().contains("min_party"),
        "{}",
        too_many.body
    );
    assert!(starts(&availability(&server, &v.venue, date, 2).await).contains(&seven));
    // The two-top is kept for walk-ins and the six-top takes three or more: nothing left online for two.
    let kept = set(&v.tables[0], json!({"min_party": 1, "online": false})).await;
    assert_eq!(
        (kept.status, kept.body["online"].clone()),
        (200, json!(false)),
        "{}",
        kept.body
    );
    let larger = set(&v.tables[1], json!({"min_party": 3, "online": true})).await;
    assert_eq!(
        (larger.status, larger.body["min_party"].clone()),
        (200, json!(3)),
        "{}",
        larger.body
    );
    assert!(starts(&availability(&server, &v.venue, date, 2).await).is_empty());
    let online = book(&server, &v.venue, booking(&seven, 2)).await;
    assert_eq!(
        online.status, 422,
        "no table seats two online at all: {}",
        online.body
    );
    assert!(starts(&availability(&server, &v.venue, date, 4).await).contains(&seven));
    let path = format!("/api/v1/venues/{}/availability?date={date}&party_size=2", v.venue);
    let hosts = async |token: &str| call(&server, "GET", &path, Some(token), None).await;
    assert!(starts(&hosts(&v.owner).await).contains(&seven));
    let other = booking_venue(
        &server,
        "otra-sede@example.co",
        "America/Bogota",
        &[2],
        evenings(),
        40,
    )
    .await;
    let foreign = hosts(&other.owner).await;
    assert_eq!(foreign.status, 404, "{}", foreign.body);
    // The host books the two-top by phone.
    let phoned = call(
        &server,
        "POST",
        &format!("/api/v1/venues/{}/reservations", v.venue),
        Some(&v.owner),
        Some(booking(&seven, 2)),
    )
    .await;
    assert_eq!(phoned.status, 201, "{}", phoned.body);
    assert_eq!(phoned.body["status"], "booked");
    let listed = call(
        &server,
        "GET",
        &format!("/api/v1/venues/{}/tables", v.venue),
        Some(&v.owner),
        None,
    )
    .await;
    assert_eq!(listed.body["items"][1]["min_party"], 3, "{}", listed.body);
    assert_eq!(listed.body["items"][1]["max_party"], 6, "{}", listed.body);
    // The six-top capped at five (API.md: tables carry min_party, max_party and online): six no longer fit it, and
    // a minimum above the cap is refused.
    assert!(starts(&availability(&server, &v.venue, date, 6).await).contains(&seven));
    let capped = set(
        &v.tables[1],
        json!({"min_party": 3, "max_party": 5, "online": true}),
    )
    .await;
    assert_eq!(
        (capped.status, capped.body["max_party"].clone()),
        (200, json!(5)),
        "{}",
        capped.body
    );
    let six = availability(&server, &v.venue, date, 6).await;
    assert_eq!(
        (six.status, six.body["errors"][0]["field"].clone()),
        (422, json!("party_size")),
        "no table seats six any more: told so, not shown a full day: {}",
        six.body
    );
    let crossed = set(
        &v.tables[1],
        json!({"min_party": 4, "max_party": 3, "online": true}),
    )
    .await;
    assert_eq!(crossed.status, 422, "{}", crossed.body);
    let huge = set(
        &v.tables[1],
        json!({"min_party": 1, "max_party": 101, "online": true}),
    )
    .await;
    assert_eq!(huge.status, 400, "{}", huge.body);
    // A venue of theirs without a booking policy: its host is told to set one (422), not that it does not exist;
    // the public still finds no such listing.
    let plain = crate::ordering::venue_with_menu(&server, "sin-reservas@example.co").await;
    let unset = format!(
        "/api/v1/venues/{}/availability?date={date}&party_size=2",
        plain.venue
    );
    let told = call(&server, "GET", &unset, Some(&plain.owner), None).await;
    assert_eq!(told.status, 422, "{}", told.body);
    assert!(
        told.body["detail"].as_str().unwrap().contains("booking policy"),
        "{}",
        told.body
    );
    assert_eq!(call(&server, "GET", &unset, None, None).await.status, 404);
    let phoned = call(
        &server,
        "POST",
        &format!("/api/v1/venues/{}/reservations", plain.venue),
        Some(&plain.owner),
        Some(booking(&seven, 2)),
    )
    .await;
    assert_eq!(phoned.status, 422, "{}", phoned.body);
}

/// The `token` of the link to `reservation` in a mail.
fn link_token(mail: &str, reservation: &str) -> String {
    mail.split(&format!("reservation={reservation}&token="))
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_owned()
}

/// A booking of `party` online at tomorrow's first free time, and the clock moved to `minutes` before it (the
/// owner's token refreshed): the booking's answer and its start (RFC 3339).
async fn booked_and_near(
    server: &TestServer,
    v: &mut BookingVenue,
    party: u32,
    minutes: i64,
) -> (Reply, String) {
    let slots = availability(server, &v.venue, tomorrow(server), party).await;
    let start = slots.body["slots"][0]["start"].as_str().unwrap().to_owned();
    let booked = book(server, &v.venue, booking(&start, party)).await;
    assert_eq!(booked.status, 201, "{}", booked.body);
    set_clock(
        server,
        OffsetDateTime::parse(&start, &time::format_description::well_known::Rfc3339).unwrap()
            - time::Duration::minutes(minutes),
    );
    v.refreshed(server).await;
    (booked, start)
}

/// A dish of `price` minor units on the venue's menu, in a category of its own: its id.
async fn dish(server: &TestServer, v: &BookingVenue, name: &str, price: i64) -> Value {
    let category = post(
        server,
        &format!("/api/v1/venues/{}/menu/categories", v.venue),
        Some(&v.owner),
        json!({"name": {"es": "Platos", "en": "Dishes"}}),
    )
    .await;
    let item = post(
        server,
        &format!("/api/v1/venues/{}/menu/items", v.venue),
        Some(&v.owner),
        json!({"category_id": category.body["id"], "name": {"es": name, "en": name},
               "price": {"amount": price, "currency": "COP"}}),
    )
    .await;
    assert_eq!(item.status, 201, "{}", item.body);
    item.body["id"].clone()
}

/// The guest token in `table`'s QR code (`/t/{token}`).
async fn guest_token(server: &TestServer, v: &BookingVenue, table: &str) -> String {
    let tables = call(
        server,
        "GET",
        &format!("/api/v1/venues/{}/tables", v.venue),
        Some(&v.owner),
        None,
    )
    .await;
    let found = tables.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == table)
        .unwrap();
    let url = found["guest_url"].as_str().unwrap();
    url.rsplit("/t/").next().unwrap().to_owned()
}

/// The host moves a reservation: `POST /api/v1/reservations/{id}/transitions` with `body`.
async fn host_move(server: &TestServer, v: &BookingVenue, id: &str, body: Value) -> Reply {
    post(
        server,
        &format!("/api/v1/reservations/{id}/transitions"),
        Some(&v.owner),
        body,
    )
    .await
}

/// The text of the first mail in the outbox holding every needle (the outbox is delivered in the background).
async fn mail_with(server: &TestServer, needles: &[&str]) -> Option<String> {
    for _ in 0..100 {
        let found = std::fs::read_dir(server.dir.path().join("data/outbox"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| std::fs::read_to_string(entry.path()).unwrap_or_default())
            .find(|text| needles.iter().all(|needle| text.contains(needle)));
        if found.is_some() {
            return found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    None
}

/// A waitlist window holds at least one of the venue's seatings, may run past midnight within the business day, and
/// one guest (the same email and phone) has one place a date.
pub async fn a_waitlist_window_holds_a_seating_and_a_guest_waits_once_a_date(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let v = booking_venue(
        &server,
        "ventana@example.co",
        "America/Bogota",
        &[4],
        evenings(),
        40,
    )
    .await;
    let date = tomorrow(&server);
    let join = async |phone: &str, earliest: &str, latest: &str| {
        post(
            &server,
            &format!("/api/v1/venues/{}/waitlist", v.venue),
            None,
            json!({"date": date.to_string(), "party_size": 2, "earliest": earliest, "latest": latest,
                   "consent": true,
                   "guest": {"name": "Sara Ríos", "phone": phone, "email": "sara@example.co"}}),
        )
        .await
    };
    // The venue calls a waiting guest when a table frees: no phone, no place in the queue.
    let unreachable = post(
        &server,
        &format!("/api/v1/venues/{}/waitlist", v.venue),
        None,
        json!({"date": date.to_string(), "party_size": 2, "earliest": "19:00", "latest": "20:00", "consent": true,
               "guest": {"name": "Sara Ríos", "email": "sara@example.co"}}),
    )
    .await;
    assert_eq!(
        (unreachable.status, unreachable.body["errors"][0]["field"].clone()),
        (422, json!("guest.phone")),
        "{}",
        unreachable.body
    );
    // The last seating is 22:00: a window from 22:00 to half past midnight holds it, and ends the next day.
    let late = join("+573001110001", "22:00", "00:30").await;
    assert_eq!(late.status, 201, "{}", late.body);
    assert_eq!(late.body["earliest"], format!("{date}T22:00:00-05:00"));
    assert_eq!(
        late.body["latest"],
        format!("{}T00:30:00-05:00", date + time::Duration::days(1))
    );
    // The same guest again, whatever the window: one place a date.
    let again = join("+573001110001", "18:00", "19:00").await;
    assert_eq!(again.status, 409, "{}", again.body);
    // The guest is told they are on the list, with what they asked and the link that takes them off it (the
    // token of the join's answer).
    let entry = late.body["id"].as_str().unwrap();
    let joined = mail_with(
        &server,
        &[
            "sara@example.co",
            "Estás en la lista de espera de",
            "entre las 22:00 y las 00:30",
            &format!("/book/{}?waitlist={entry}&token=", v.venue),
        ],
    )
    .await
    .expect("the join is confirmed by mail");
    let token = joined
        .split(&format!("waitlist={entry}&token="))
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap();
    assert_eq!(token, late.body["manage_token"].as_str().unwrap());
    // Leaving by that link is idempotent (a lost answer, a second tap); then the guest may join with another window.
    let leave = format!("/api/v1/waitlist/{entry}/leave?token={token}");
    for _ in 0..2 {
        let left = post(&server, &leave, None, json!({})).await;
        assert_eq!(
            (left.status, left.body["status"].clone()),
            (200, json!("left")),
            "{}",
            left.body
        );
    }
    // The table was free, so the entry held an offer: leaving declined it, and its booking no longer holds the table.
    let offered = late.body["reservation_id"].as_str().expect("an offer");
    let listed = day(&server, &v, date).await;
    let declined = listed.iter().find(|r| r["id"] == offered).expect("on the day");
    // Declined, it lapsed: it was never a booking, so it is no cancellation either.
    assert_eq!(declined["status"], "lapsed", "{declined}");
    let rejoined = join("+573001110001", "18:00", "19:00").await;
    assert_eq!(rejoined.status, 201, "{}", rejoined.body);
    // Offered again at once (the table is free), the guest declines through the offer mail's link: the entry ends
    // now, not when the offer's ten minutes run out.
    let offer = rejoined.body["reservation_id"]
        .as_str()
        .expect("an offer")
        .to_owned();
    let mail = mail_with(&server, &["sara@example.co", "Se liberó una mesa", &offer])
        .await
        .expect("the offer is mailed");
    let declined = post(
        &server,
        &format!(
            "/api/v1/reservations/{offer}/cancel?token={}",
            link_token(&mail, &offer)
        ),
        None,
        json!({}),
    )
    .await;
    assert_eq!(declined.status, 200, "{}", declined.body);
    let entries = call(
        &server,
        "GET",
        &format!("/api/v1/venues/{}/waitlist?date={date}", v.venue),
        Some(&v.owner),
        None,
    )
    .await;
    let entry = entries.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == rejoined.body["id"])
        .expect("listed")
        .clone();
    assert_eq!(entry["status"], "left", "{entry}");
    // Another phone is another guest (both must match, so knowing an email alone tells nothing).
    assert_eq!(join("+573001110002", "18:00", "19:00").await.status, 201);
    // No seating between 22:15 and 23:45; a window the wrong way round past the business day is not one.
    let empty = join("+573001110003", "22:15", "23:45").await;
    assert_eq!(
        (
            empty.status,
            empty.body["errors"][0]["field"].as_str().unwrap_or("").to_owned()
        ),
        (422, "earliest".to_owned()),
        "{}",
        empty.body
    );
    let backwards = join("+573001110003", "19:15", "18:45").await;
    assert_eq!(
        (
            backwards.status,
            backwards.body["errors"][0]["field"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        ),
        (400, "latest".to_owned()),
        "{}",
        backwards.body
    );
    // A party no table here could ever seat online (one four-top, no combination) waits for nothing: refused.
    let five = post(
        &server,
        &format!("/api/v1/venues/{}/waitlist", v.venue),
        None,
        json!({"date": date.to_string(), "party_size": 5, "earliest": "18:00", "latest": "20:00",
               "consent": true,
               "guest": {"name": "Grupo Grande", "phone": "+573001110009", "email": "grupo@example.co"}}),
    )
    .await;
    assert_eq!(
        (five.status, five.body["errors"][0]["field"].clone()),
        (422, json!("party_size")),
        "{}",
        five.body
    );
    // Times that are no time of day are named, never a crash (a 500 was one).
    for (earliest, latest, named) in [
        ("24:00", "20:00", "earliest"),
        ("23:60", "20:00", "earliest"),
        ("18:00", "29:59", "latest"),
        ("2:00", "20:00", "earliest"),
        ("18:00", "+1:00", "latest"),
    ] {
        let refused = join("+573001110004", earliest, latest).await;
        assert_eq!(
            (
                refused.status,
                refused.body["errors"][0]["field"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned()
            ),
            (400, named.to_owned()),
            "{earliest}-{latest}: {}",
            refused.body
        );
    }
}

/// The waitlist: parties wait for a window; a cancellation offers the freed table to the first party that fits, in
/// the order they joined, holding it while the guest answers; accepting books it; an offer left unanswered expires
/// and frees the table again.
pub async fn a_freed_table_is_offered_to_the_waitlist_in_order_and_an_unanswered_offer_expires(
    engine: Engine,
) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let mut v = booking_venue(
        &server,
        "espera@example.co",
        "America/Bogota",
        &[4],
        evenings(),
        40,
    )
    .await;
    let date = tomorrow(&server);
    let seven = format!("{}T00:00:00Z", date + time::Duration::days(1));
    let first = book(&server, &v.venue, booking(&seven, 2)).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let join = async |email: &str, earliest: &str, latest: &str, consent: bool| {
        post(
            &server,
            &format!("/api/v1/venues/{}/waitlist", v.venue),
            None,
            json!({"date": date.to_string(), "party_size": 2, "earliest": earliest, "latest": latest,
                   "consent": consent,
                   "guest": {"name": "Mateo Gil", "phone": "+573001112233", "email": email}}),
        )
        .await
    };
    let backwards = join("mateo@example.co", "19:15", "18:45", true).await;
    assert_eq!(backwards.status, 400, "{}", backwards.body);
    assert!(
        backwards.body.to_string().contains("latest"),
        "{}",
        backwards.body
    );
    let unconsented = join("mateo@example.co", "18:45", "19:15", false).await;
    assert_eq!(unconsented.status, 422, "{}", unconsented.body);
    assert!(
        unconsented.body.to_string().contains("consent"),
        "{}",
        unconsented.body
    );
    let second = join("mateo@example.co", "18:45", "19:15", true).await;
    assert_eq!(
        (second.status, second.body["status"].clone()),
        (201, json!("waiting")),
        "{}",
        second.body
    );
    // Lucía's phone sends her join twice (a double tap, a retry) with one Idempotency-Key: one place in the queue.
    let keyed = || {
        server
            .client
            .post(server.url(&format!("/api/v1/venues/{}/waitlist", v.venue)))
            .header("idempotency-key", "espera-lucia")
            .json(&json!({"date": date.to_string(), "party_size": 2, "earliest": "18:30", "latest": "19:30",
                          "consent": true,
                          "guest": {"name": "Lucía Gil", "phone": "+573001112234", "email": "lucia@example.co"}}))
            .send()
    };
    let third = keyed().await.unwrap();
    assert_eq!(third.status(), 201);
    let third: Value = third.json().await.unwrap();
    assert_eq!(third["status"], "waiting", "{third}");
    let retried: Value = keyed().await.unwrap().json().await.unwrap();
    assert_eq!(retried["id"], third["id"], "{retried}");
    let waitlist = async |v: &BookingVenue| {
        let list = call(
            &server,
            "GET",
            &format!("/api/v1/venues/{}/waitlist?date={date}", v.venue),
            Some(&v.owner),
            None,
        )
        .await;
        assert_eq!(list.status, 200, "{}", list.body);
        list.body["items"].as_array().unwrap().clone()
    };
    assert_eq!(waitlist(&v).await.len(), 2);

    // The booking is cancelled: the first party to join is offered 19:00, held for it; the second keeps waiting.
    let cancelled = post(
        &server,
        &format!(
            "/api/v1/reservations/{}/cancel?token={}",
            first.body["reservation_id"].as_str().unwrap(),
            first.body["manage_token"].as_str().unwrap()
        ),
        None,
        json!({}),
    )
    .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    let list = waitlist(&v).await;
    assert_eq!(
        (list[0]["status"].clone(), list[1]["status"].clone()),
        (json!("offered"), json!("waiting"))
    );
    assert_eq!(list[0]["guest_name"], "Mateo Gil");
    assert!(
        !starts(&availability(&server, &v.venue, date, 2).await).contains(&seven),
        "the offer holds the table"
    );
    let offered = list[0]["reservation_id"].as_str().unwrap().to_owned();
    let mail = mail_with(
        &server,
        &[
            "mateo@example.co",
            "Se liberó una mesa en Sede Reservas",
            &offered,
        ],
    )
    .await
    .expect("the offer is mailed");
    let token = link_token(&mail, &offered);
    let accepted = post(
        &server,
        &format!("/api/v1/reservations/{offered}/accept?token={token}"),
        None,
        json!({}),
    )
    .await;
    assert_eq!(
        (accepted.status, accepted.body["status"].clone()),
        (200, json!("booked")),
        "{}",
        accepted.body
    );
    // A second tap answers the booking as it stands (it was a 409 in words of an internal status).
    let again = post(
        &server,
        &format!("/api/v1/reservations/{offered}/accept?token={token}"),
        None,
        json!({}),
    )
    .await;
    assert_eq!(
        (
            again.status,
            again.body["status"].clone(),
            again.body["id"].clone()
        ),
        (200, json!("booked"), accepted.body["id"].clone()),
        "{}",
        again.body
    );
    assert_eq!(waitlist(&v).await[0]["status"], "booked");
    assert!(
        mail_with(
            &server,
            &["mateo@example.co", "reserva confirmada", "is confirmed", &offered]
        )
        .await
        .is_some(),
        "the guest who took the offer is told the booking is theirs"
    );

    // The venue cancels that booking: the next party is offered the table, and does not answer in time.
    let host_cancel = host_move(
        &server,
        &v,
        &offered,
        json!({"to": "cancelled", "reason": "the kitchen closes early"}),
    )
    .await;
    assert_eq!(host_cancel.status, 200, "{}", host_cancel.body);
    let list = waitlist(&v).await;
    assert_eq!(list[1]["status"], "offered", "{list:?}");
    let unanswered = list[1]["reservation_id"].as_str().unwrap().to_owned();
    server.clock.advance(time::Duration::minutes(11));
    server.server().run_waitlist_upkeep().await;
    v.refreshed(&server).await;
    let list = waitlist(&v).await;
    assert_eq!(list[1]["status"], "expired", "{list:?}");
    assert!(
        starts(&availability(&server, &v.venue, date, 2).await).contains(&seven),
        "the table is free again"
    );
    let unanswered_mail = mail_with(&server, &["lucia@example.co", &unanswered])
        .await
        .expect("the second offer is mailed");
    let late_token = link_token(&unanswered_mail, &unanswered);
    let late = post(
        &server,
        &format!("/api/v1/reservations/{unanswered}/accept?token={late_token}"),
        None,
        json!({}),
    )
    .await;
    assert_eq!(
        late.status, 409,
        "an expired offer cannot be accepted: {}",
        late.body
    );
}

/// INF-1 on the public booking routes (a guest's contact details): one client address gets 60 booking requests a
/// minute, answered or refused by the rules alike, then 429 with `Retry-After`; another address is served meanwhile.
#[tokio::test]
async fn a_flood_of_bookings_from_one_address_is_limited() {
    let server =
        TestServer::start_with(|config| config.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()])
            .await;
    let v = booking_venue(
        &server,
        "aluvion@example.co",
        "America/Bogota",
        &[4, 4],
        evenings(),
        40,
    )
    .await;
    let date = tomorrow(&server);
    let slots = starts(&availability(&server, &v.venue, date, 2).await);
    let send = |from: &'static str, start: &str| {
        server
            .client
            .post(server.url(&format!("/api/v1/venues/{}/reservations", v.venue)))
            .header("x-forwarded-for", from)
            .json(&booking(start, 2))
            .send()
    };
    let started = std::time::Instant::now();
    let mut answered = 0;
    let refused = loop {
        let reply = send("203.0.113.8", &slots[0]).await.unwrap();
        match reply.status().as_u16() {
            201 | 409 => answered += 1,
            429 => break reply,
            other => panic!("{other}: {}", reply.text().await.unwrap()),
        }
        assert!(answered <= 120, "never limited");
    };
    let refilled = started.elapsed().as_secs() + 1;
    assert!(
        (60..=60 + refilled).contains(&answered),
        "{answered} answers before the limit"
    );
    let wait = crate::support::retry_after(&refused);
    assert!((1..=60).contains(&wait), "Retry-After: {wait}");
    let elsewhere = send("198.51.100.8", &slots[8]).await.unwrap();
    assert_eq!(elsewhere.status().as_u16(), 201, "another address is served");
    server.stop().await;
}

on_both_engines!(
    a_table_seats_one_party_when_two_hosts_seat_at_once,
    a_freed_table_is_offered_to_the_waitlist_in_order_and_an_unanswered_offer_expires,
    a_waitlist_window_holds_a_seating_and_a_guest_waits_once_a_date,
    table_settings_decide_what_the_widget_offers,
    deposits_confirm_refund_before_the_cut_off_and_are_kept_on_a_no_show,
    staff_bookings_and_moves_go_through_the_same_rules,
    a_booking_guest_is_sealed_exported_and_erased,
    the_booking_page_and_its_mail_name_the_venue,
    a_data_subject_is_found_by_email_or_phone,
    dates_outside_the_stored_years_are_bad_input,
    a_party_is_not_seated_onto_another_partys_open_bill,
    a_party_at_joined_tables_orders_and_pays_on_one_bill,
    a_seating_after_midnight_is_on_the_evening_before,
    fifty_guests_race_for_the_last_table_and_one_wins,
    a_new_york_venue_lists_dst_nights_by_their_real_instants,
    pacing_refuses_covers_beyond_the_window_cap_on_free_tables,
    a_walk_in_starts_when_it_arrives_on_a_table_free_for_its_turn,
    the_host_waitlists_parties_at_the_door_and_answers_their_offers,
    consent_and_bad_input_are_refused_naming_the_field_and_nothing_is_written,
    a_cancelled_or_no_show_booking_frees_its_slot_at_once,
);

/// A day as a guest's mail writes it in English: "Friday 4 December 2026".
fn english_day(day: time::Date) -> String {
    format!("{} {} {} {}", day.weekday(), day.day(), day.month(), day.year())
}
