//! Analytics through the real HTTPS server on both engines (issue 19, docs/analytics.md): a sale at 21:30 in Bogotá
//! lands on its local business day and hour in the summary, the series and the CSV; only owners, managers and
//! analysts read reports; bad ranges are refused naming the field.

use comanda_domain::Clock;
use serde_json::json;
use time::{OffsetDateTime, UtcOffset, Weekday};

use crate::identity::{PASSWORD, Reply, call, enrolled, invite_and_join, post};
use crate::ordering::venue_with_menu;
use crate::support::{Engine, TestServer};

/// Moves the server's clock to the next Friday at 21:30 in Bogotá (UTC−5 all year): 02:30 UTC on Saturday, the
/// instant a report cut at UTC midnight would put on the wrong day.
fn to_friday_half_past_nine_in_bogota(server: &TestServer) -> OffsetDateTime {
    let bogota = UtcOffset::from_hms(-5, 0, 0).unwrap();
    let now = server.clock.now().to_offset(bogota);
    let mut day = now.date().next_day().unwrap();
    while day.weekday() != Weekday::Friday {
        day = day.next_day().unwrap();
    }
    let sale = day.with_hms(21, 30, 0).unwrap().assume_offset(bogota);
    server.clock.advance(sale - server.clock.now());
    sale
}

/// A member's access token: owners and managers enrol a second factor first; the other roles sign in with the
/// password alone.
async fn access_of(server: &TestServer, email: &str) -> String {
    let login = post(
        server,
        "/api/v1/auth/login",
        None,
        json!({"email": email, "password": PASSWORD}),
    )
    .await;
    assert_eq!(login.status, 200, "{}", login.body);
    match login.body["access_token"].as_str() {
        Some(access) => access.to_owned(),
        None => enrolled(server, email, PASSWORD).await.access,
    }
}

fn field(reply: &Reply) -> String {
    reply.body["errors"][0]["field"].as_str().unwrap_or("").to_owned()
}

async fn a_sale_at_half_past_nine_in_bogota_lands_on_its_local_day_and_hour(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    // The clock moves first: tokens signed before a jump of days would have expired.
    let sale = to_friday_half_past_nine_in_bogota(&server);
    let venue = venue_with_menu(&server, "owner@example.co").await;
    let friday = sale.date();
    let placed = post(
        &server,
        &format!("/api/v1/t/{}/orders", venue.token),
        None,
        json!({"items": [{"item_id": venue.item, "quantity": 1}]}),
    )
    .await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    let report = |path: String| {
        let (server, owner) = (&server, venue.owner.clone());
        async move { call(server, "GET", &path, Some(&owner), None).await }
    };
    let base = format!("/api/v1/venues/{}/analytics", venue.venue);

    // The summary of Friday holds the sale: 18.900 COP with its 8 % impuesto al consumo contained (1.400 COP).
    let summary = report(format!("{base}/summary?from={friday}&to={friday}")).await;
    assert_eq!(summary.status, 200, "{}", summary.body);
    assert_eq!(summary.body["timezone"], "America/Bogota");
    assert_eq!(summary.body["gross"], 1_890_000);
    assert_eq!(summary.body["tax"], 140_000);
    assert_eq!(summary.body["net"], 1_750_000);
    assert_eq!(summary.body["orders"], 1);
    assert_eq!(summary.body["tips"], 0);
    assert_eq!(summary.body["reservations"]["bookings"], 0);
    // Across the partner's venues: one venue in COP, the same figures, totalled per currency.
    let partner = report(format!("/api/v1/analytics/summary?from={friday}&to={friday}")).await;
    assert_eq!(partner.status, 200, "{}", partner.body);
    assert_eq!(partner.body["venues"].as_array().unwrap().len(), 1);
    assert_eq!(
        partner.body["totals"],
        json!([{"currency": "COP", "venues": 1, "gross": 1_890_000, "tax": 140_000,
        "refunds": 0, "refund_tax": 0, "net": 1_750_000, "tips": 0, "collected": 0, "cash": 0, "unpaid": 0, "orders": 1, "average_order": 1_890_000,
        "bookings": 0, "covers_booked": 0, "deposits_kept": 0}])
    );
    // A booking for two on Monday evening counts on Monday's business day with its covers.
    crate::reservations::a_booking_at(&server, &venue.owner, &venue.venue).await;
    let week = friday + time::Duration::days(6);
    let booked = report(format!("{base}/summary?from={friday}&to={week}")).await;
    assert_eq!(booked.status, 200, "{}", booked.body);
    assert_eq!(booked.body["reservations"]["bookings"], 1, "{}", booked.body);
    assert_eq!(booked.body["reservations"]["covers_booked"], 2);
    assert_eq!(booked.body["reservations"]["no_show_rate_bp"], 0);
    // A party the host seats on arrival (Friday, now) is a walk-in, not a booking: the reservation figures do not
    // count it. A guest cannot call their own booking one.
    let mut walk_in = crate::reservations::booking("", 3);
    walk_in["walk_in"] = json!(true);
    walk_in.as_object_mut().unwrap().remove("start");
    // The sale's guests are at the venue's one table: the walk-in is given a second.
    let second = post(
        &server,
        &format!("/api/v1/venues/{}/tables", venue.venue),
        Some(&venue.owner),
        json!({"label": "Ventana", "seats": 4}),
    )
    .await;
    assert_eq!(second.status, 201, "{}", second.body);
    // Seated now, not called back: a walk-in leaves no phone or email.
    walk_in["guest"] = json!({"name": "Mesa de la ventana"});
    let seated = post(
        &server,
        &format!("/api/v1/venues/{}/reservations", venue.venue),
        Some(&venue.owner),
        walk_in.clone(),
    )
    .await;
    assert_eq!(seated.status, 201, "{}", seated.body);
    let public = post(
        &server,
        &format!("/api/v1/venues/{}/reservations", venue.venue),
        None,
        walk_in,
    )
    .await;
    assert_eq!(public.status, 400, "{}", public.body);
    let still = report(format!("{base}/summary?from={friday}&to={week}")).await;
    assert_eq!(still.body["reservations"]["bookings"], 1, "{}", still.body);
    assert_eq!(still.body["reservations"]["covers_booked"], 2);
    // Saturday, the UTC date of the sale, has nothing.
    let saturday = friday.next_day().unwrap();
    let next = report(format!("{base}/summary?from={saturday}&to={saturday}")).await;
    assert_eq!(
        (next.body["gross"].clone(), next.body["orders"].clone()),
        (json!(0), json!(0))
    );

    // The hourly series of Friday: 24 local hours from the 05:00 day start, the sale in the 21:00 bucket.
    let series = report(format!(
        "{base}/timeseries?metric=gross&granularity=hour&from={friday}&to={friday}"
    ))
    .await;
    assert_eq!(series.status, 200, "{}", series.body);
    let points = series.body["points"].as_array().unwrap();
    assert_eq!(points.len(), 24);
    assert_eq!(points[0]["start"], format!("{friday}T05:00:00-05:00"));
    let nonzero: Vec<_> = points.iter().filter(|p| p["value"] != 0).collect();
    assert_eq!(nonzero.len(), 1, "{points:?}");
    assert_eq!(nonzero[0]["start"], format!("{friday}T21:00:00-05:00"));
    assert_eq!(nonzero[0]["day"], friday.to_string());
    assert_eq!(nonzero[0]["value"], 1_890_000);
    let daily = report(format!(
        "{base}/timeseries?metric=orders&from={friday}&to={saturday}"
    ))
    .await;
    let days: Vec<_> = daily.body["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["day"].clone(), p["value"].clone()))
        .collect();
    assert_eq!(
        days,
        vec![
            (json!(friday.to_string()), json!(1)),
            (json!(saturday.to_string()), json!(0))
        ]
    );
    // By week, Friday and Saturday are the first two days a week can hold: the bucket says so (a whole week holds 7).
    let weekly = report(format!(
        "{base}/timeseries?metric=orders&granularity=week&from={friday}&to={saturday}"
    ))
    .await;
    assert_eq!(
        weekly.body["points"],
        json!([{"start": format!("{friday}T05:00:00-05:00"), "day": friday.to_string(), "days": 2, "value": 1}]),
        "{}",
        weekly.body
    );

    // The heat map puts it on Friday (ISO weekday 5) at 21 h, not on Saturday at 02 h.
    let heat = report(format!("{base}/heatmap?from={friday}&to={saturday}")).await;
    assert_eq!(heat.status, 200, "{}", heat.body);
    let cells = heat.body["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 7 * 24);
    let hot: Vec<_> = cells
        .iter()
        .filter(|c| c["value"] != 0)
        .map(|c| (c["weekday"].clone(), c["hour"].clone()))
        .collect();
    assert_eq!(hot, vec![(json!(5), json!(21))]);

    // The product mix of Friday: the dish, once, all of the sales; on Saturday it is on the menu, unsold.
    let mix = report(format!("{base}/product-mix?from={friday}&to={friday}")).await;
    assert_eq!(mix.status, 200, "{}", mix.body);
    let top = &mix.body["items"][0];
    assert_eq!(
        (
            top["rank"].clone(),
            top["item_id"].clone(),
            top["quantity"].clone(),
            top["sales"].clone()
        ),
        (json!(1), json!(venue.item), json!(1), json!(1_890_000)),
        "{}",
        mix.body
    );
    assert_eq!(top["sales_share_bp"], 10_000);
    let unsold = report(format!(
        "{base}/product-mix?from={saturday}&to={saturday}&sort=quantity"
    ))
    .await;
    assert_eq!(unsold.body["items"][0]["quantity"], 0, "{}", unsold.body);
    assert_eq!(unsold.body["sales"], 0);

    // The CSV says the same, with the zone, the minor units and the amount written out.
    let csv = server
        .client
        .get(server.url(&format!(
            "{base}/timeseries?granularity=hour&from={friday}&to={friday}&format=csv"
        )))
        .bearer_auth(&venue.owner)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = csv.text().await.unwrap();
    let mut lines = text.split("\r\n");
    assert_eq!(
        lines.next(),
        Some("start_local,business_day,timezone,metric,value_minor,value,currency,days")
    );
    let sale_row = format!("{friday}T21:00:00-05:00,{friday},America/Bogota,gross,1890000,18900.00,COP,1");
    assert!(text.contains(&sale_row), "{text}");
    let summary_csv = server
        .client
        .get(server.url(&format!("{base}/summary?from={friday}&to={friday}&format=csv")))
        .bearer_auth(&venue.owner)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        summary_csv.contains(&format!(
            "{},America/Bogota,{friday},{friday},tax,140000,1400.00,COP",
            venue.venue
        )),
        "{summary_csv}"
    );
}

/// A venue's own day-start hour moves a sale after midnight between business days; a table seated and closed is a
/// turn with its minutes; the summary compares with the same weekday a week before; and the partner-wide series,
/// heat map and top items add the venues up (../shared/API.md "The same under /api/v1/analytics/...").
async fn a_venues_day_start_turns_and_compared_week_move_its_reports(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let sale = to_friday_half_past_nine_in_bogota(&server);
    let mut venue = venue_with_menu(&server, "owner@example.co").await;
    let friday = sale.date();
    let saturday = friday.next_day().unwrap();
    let base = format!("/api/v1/venues/{}/analytics", venue.venue);
    let get = |path: String, owner: String| {
        let server = &server;
        async move { call(server, "GET", &path, Some(&owner), None).await }
    };
    let (token, item) = (venue.token.clone(), venue.item.clone());
    let order = || {
        let server = &server;
        let path = format!("/api/v1/t/{token}/orders");
        let body = json!({"items": [{"item_id": item, "quantity": 1}]});
        async move { post(server, &path, None, body).await }
    };

    // Seated at 21:30, served, closed 84 minutes later: one turn of one table on Friday.
    let placed = order().await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    crate::ordering::accept_table(&server, &venue).await;
    for to in ["accepted", "preparing", "ready", "served"] {
        let path = format!(
            "/api/v1/orders/{}/transitions",
            placed.body["id"].as_str().unwrap()
        );
        assert_eq!(
            post(&server, &path, Some(&venue.owner), json!({"to": to}))
                .await
                .status,
            200
        );
    }
    server.clock.advance(time::Duration::minutes(84));
    renew(&server, &mut venue).await;
    // Nobody paid by card here: the table is closed as unpaid, as staff say it may be.
    let close = format!(
        "/api/v1/venues/{}/tables/{}/close?unpaid=true",
        venue.venue, venue.table
    );
    let closed = post(&server, &close, Some(&venue.owner), json!({})).await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    let summary = get(
        format!("{base}/summary?from={friday}&to={friday}"),
        venue.owner.clone(),
    )
    .await;
    assert_eq!(summary.status, 200, "{}", summary.body);
    // Closed unpaid: what it lacked is the summary's `unpaid`, on the close's business day, and no money figure.
    assert_eq!(
        (
            summary.body["unpaid"].clone(),
            summary.body["collected"].clone(),
            summary.body["cash"].clone()
        ),
        (json!(1_890_000), json!(0), json!(0)),
        "{}",
        summary.body
    );
    assert_eq!(
        summary.body["turnover"],
        json!({"turns": 1, "tables": 1, "turns_per_table_day_x100": 100, "average_turn_minutes": 84})
    );
    // Table by table: the one table turned once, 84 minutes at the median and the 90th percentile.
    let turnover = get(
        format!("{base}/turnover?from={friday}&to={friday}"),
        venue.owner.clone(),
    )
    .await;
    assert_eq!(turnover.status, 200, "{}", turnover.body);
    assert_eq!(
        turnover.body["tables"],
        json!([{"table_id": venue.table, "label": "Mesa 4", "turns": 1, "turns_per_day_x100": 100,
                "median_turn_minutes": 84, "p90_turn_minutes": 84}])
    );
    // Two weeks earlier the venue had no table yet: the report lists none (it listed today's tables with 0 turns).
    let before = friday - time::Duration::days(14);
    let earlier = get(
        format!("{base}/turnover?from={before}&to={before}"),
        venue.owner.clone(),
    )
    .await;
    assert_eq!(earlier.body["tables"], json!([]), "{}", earlier.body);
    // One check of one order; no payment started, so no success rate.
    assert_eq!(
        (
            summary.body["checks"].clone(),
            summary.body["average_ticket"].clone(),
            summary.body["payment_success_rate_bp"].clone()
        ),
        (json!(1), json!(1_890_000), json!(0))
    );
    // The owner accepted and closed the table: the sale is theirs.
    let servers = get(
        format!("{base}/servers?from={friday}&to={friday}"),
        venue.owner.clone(),
    )
    .await;
    assert_eq!(servers.status, 200, "{}", servers.body);
    let line = &servers.body["servers"][0];
    assert_eq!(
        (
            line["orders"].clone(),
            line["gross"].clone(),
            line["average_order"].clone(),
            line["tips"].clone()
        ),
        (json!(1), json!(1_890_000), json!(1_890_000), json!(0)),
        "{}",
        servers.body
    );
    assert!(
        line["member_id"].is_string() && line["name"].is_string(),
        "{line}"
    );
    let across = get(
        format!("/api/v1/analytics/servers?from={friday}&to={friday}"),
        venue.owner.clone(),
    )
    .await;
    assert_eq!(
        across.body["totals"][0]["servers"][0]["gross"], 1_890_000,
        "{}",
        across.body
    );
    // Week over week: the Friday before, empty; a week later, this Friday is the one compared.
    let week_before = friday - time::Duration::days(7);
    assert_eq!(
        summary.body["previous"],
        json!({"from": week_before.to_string(), "to": week_before.to_string(), "gross": 0, "net": 0, "tips": 0,
               "orders": 0, "average_order": 0})
    );
    let next_week = friday + time::Duration::days(7);
    let compared = get(
        format!("{base}/summary?from={next_week}&to={next_week}"),
        venue.owner.clone(),
    )
    .await;
    assert_eq!(compared.body["previous"]["from"], friday.to_string());
    assert_eq!(compared.body["previous"]["gross"], 1_890_000, "{}", compared.body);
    assert_eq!(compared.body["previous"]["orders"], 1);

    // 01:30 on Saturday counts on Friday while the day starts at 05:00, on Saturday once it starts at midnight.
    server
        .clock
        .advance((sale + time::Duration::hours(4)) - server.clock.now());
    renew(&server, &mut venue).await;
    assert_eq!(order().await.status, 201);
    let orders_on = |day: time::Date| {
        let (get, owner, base) = (&get, venue.owner.clone(), &base);
        async move {
            get(format!("{base}/summary?from={day}&to={day}"), owner)
                .await
                .body["orders"]
                .clone()
        }
    };
    assert_eq!(
        (orders_on(friday).await, orders_on(saturday).await),
        (json!(2), json!(0))
    );
    let business_day = format!("/api/v1/venues/{}/business-day", venue.venue);
    for (body, named) in [
        (json!({"day_start_hour": 12}), Some("day_start_hour")),
        (json!({"day_start_hour": -1}), None),
        (json!({"day_start_hour": 0, "timezone": "UTC"}), None),
    ] {
        let refused = call(
            &server,
            "PUT",
            &business_day,
            Some(&venue.owner),
            Some(body.clone()),
        )
        .await;
        assert_eq!(refused.status, 400, "{body}: {}", refused.body);
        if let Some(named) = named {
            assert_eq!(field(&refused), named, "{}", refused.body);
        }
    }
    let moved = call(
        &server,
        "PUT",
        &business_day,
        Some(&venue.owner),
        Some(json!({"day_start_hour": 0})),
    )
    .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_eq!(moved.body["day_start_hour"], 0);
    assert_eq!(
        (orders_on(friday).await, orders_on(saturday).await),
        (json!(1), json!(1))
    );
    let hourly = get(
        format!("{base}/timeseries?granularity=hour&metric=orders&from={saturday}&to={saturday}"),
        venue.owner.clone(),
    )
    .await;
    assert_eq!(
        hourly.body["points"][0]["start"],
        format!("{saturday}T00:00:00-05:00")
    );
    assert_eq!(hourly.body["points"][1]["value"], 1, "{}", hourly.body);
    let venues = get("/api/v1/venues".to_owned(), venue.owner.clone()).await;
    assert_eq!(venues.body["items"][0]["day_start_hour"], 0);
    // Another partner cannot move it.
    let stranger = venue_with_menu(&server, "stranger@example.co").await;
    let foreign = call(
        &server,
        "PUT",
        &business_day,
        Some(&stranger.owner),
        Some(json!({"day_start_hour": 3})),
    )
    .await;
    assert_eq!(foreign.status, 404, "{}", foreign.body);

    // Across the partner's venues: the same figures per currency, each venue's rows in the CSV. A second venue
    // keeps the default day start (05:00): its days still meet the first venue's (midnight) by business date, one
    // point a day starting at the earlier start, not two (an accountant's finding).
    let second = post(
        &server,
        "/api/v1/venues",
        Some(&venue.owner),
        json!({"name": "Sede Norte", "timezone": "America/Bogota"}),
    )
    .await;
    assert_eq!(second.status, 201, "{}", second.body);
    let range = format!("from={friday}&to={saturday}");
    let series = get(
        format!("/api/v1/analytics/timeseries?metric=orders&{range}"),
        venue.owner.clone(),
    )
    .await;
    assert_eq!(series.status, 200, "{}", series.body);
    assert_eq!(
        series.body["totals"],
        json!([{"currency": "COP", "venues": 2, "points": [
            {"start": format!("{friday}T00:00:00"), "day": friday.to_string(), "days": 1, "value": 1},
            {"start": format!("{saturday}T00:00:00"), "day": saturday.to_string(), "days": 1, "value": 1}]}])
    );
    assert_eq!(series.body["venues"][0]["venue_id"], venue.venue);
    // By week, the venues' week the range cuts to two days says so in the total too, as in each venue's series.
    let weekly = get(
        format!("/api/v1/analytics/timeseries?metric=orders&granularity=week&{range}"),
        venue.owner.clone(),
    )
    .await;
    assert_eq!(weekly.status, 200, "{}", weekly.body);
    let week = &weekly.body["totals"][0]["points"][0];
    assert_eq!(
        (week["days"].clone(), week["value"].clone()),
        (json!(2), json!(2)),
        "{}",
        weekly.body
    );
    let heat = get(
        format!("/api/v1/analytics/heatmap?metric=orders&{range}"),
        venue.owner.clone(),
    )
    .await;
    let hot: Vec<_> = heat.body["totals"][0]["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["value"] != 0)
        .map(|c| (c["weekday"].clone(), c["hour"].clone()))
        .collect();
    assert_eq!(hot, vec![(json!(5), json!(21)), (json!(6), json!(1))]);
    let top = get(
        format!("/api/v1/analytics/top-items?{range}"),
        venue.owner.clone(),
    )
    .await;
    assert_eq!(top.status, 200, "{}", top.body);
    let line = &top.body["totals"][0]["items"][0];
    assert_eq!(
        (
            line["venue_id"].clone(),
            line["item_id"].clone(),
            line["quantity"].clone(),
            line["rank"].clone()
        ),
        (json!(venue.venue), json!(venue.item), json!(2), json!(1)),
        "{}",
        top.body
    );
    assert_eq!(top.body["totals"][0]["sales"], 3_780_000);
    let named = get(format!("{base}/top-items?{range}"), venue.owner.clone()).await;
    assert_eq!(named.body["items"][0]["quantity"], 2, "{}", named.body);
    let csv = server
        .client
        .get(server.url(&format!(
            "/api/v1/analytics/timeseries?metric=orders&{range}&format=csv"
        )))
        .bearer_auth(&venue.owner)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        csv.split("\r\n").next(),
        Some("venue_id,start_local,business_day,timezone,metric,value_minor,value,currency,days")
    );
    assert!(
        csv.contains(&format!(
            "{},{saturday}T00:00:00-05:00,{saturday},America/Bogota,orders,1,1,,1",
            venue.venue
        )),
        "{csv}"
    );
    server.stop().await;
}

/// A fresh access token for the venue's owner after the clock has outrun the last one, by the refresh token.
async fn renew(server: &TestServer, venue: &mut crate::ordering::Venue) {
    let renewed = post(
        server,
        "/api/v1/auth/refresh",
        None,
        json!({"refresh_token": venue.refresh}),
    )
    .await;
    assert_eq!(renewed.status, 200, "{}", renewed.body);
    venue.owner = renewed.body["access_token"].as_str().unwrap().to_owned();
    venue.refresh = renewed.body["refresh_token"].as_str().unwrap().to_owned();
}

async fn only_owners_managers_and_analysts_read_reports_and_bad_ranges_name_their_field(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let venue = venue_with_menu(&server, "owner@example.co").await;
    let summary = format!(
        "/api/v1/venues/{}/analytics/summary?from=2026-12-01&to=2026-12-07",
        venue.venue
    );
    for (role, email, status) in [
        ("analyst", "analyst@example.co", 200),
        ("manager", "manager@example.co", 200),
        ("server", "server@example.co", 403),
        ("kitchen", "kitchen@example.co", 403),
        ("host", "host@example.co", 403),
    ] {
        invite_and_join(&server, &venue.owner, email, role, PASSWORD).await;
        let member = access_of(&server, email).await;
        let reply = call(&server, "GET", &summary, Some(&member), None).await;
        assert_eq!(reply.status, status, "{role}: {}", reply.body);
    }
    let series = format!("/api/v1/venues/{}/analytics/timeseries", venue.venue);
    for (query, status, named) in [
        ("from=2026-12-07&to=2026-12-01", 422, "to"),
        ("from=2025-01-01&to=2026-12-01", 422, "to"),
        ("from=2026-12-01&to=2026-12-07&metric=covfefe", 400, "metric"),
        (
            "from=2026-12-01&to=2026-12-07&granularity=minute",
            400,
            "granularity",
        ),
        (
            "from=2026-01-01&to=2026-06-30&granularity=hour",
            422,
            "granularity",
        ),
        ("from=2026-13-01&to=2026-12-07", 400, "from"),
        ("from=2026-12-01&to=2026-12-07&format=xlsx", 400, "format"),
        // A parameter left out, or one the route does not take, is named.
        ("from=2026-12-01", 400, "to"),
        ("from=2026-12-01&to=2026-12-07&venue=x", 400, "venue"),
    ] {
        let reply = call(
            &server,
            "GET",
            &format!("{series}?{query}"),
            Some(&venue.owner),
            None,
        )
        .await;
        assert_eq!(reply.status, status, "{query}: {}", reply.body);
        assert_eq!(field(&reply), named, "{query}: {}", reply.body);
        // A text that is not what the document says is 400; a range the reports refuse is a rule, 422.
        let kind = if status == 400 {
            "validation"
        } else {
            "business-rule"
        };
        assert_eq!(
            reply.body["type"].as_str().map(|t| t.ends_with(kind)),
            Some(true),
            "{}",
            reply.body
        );
    }
    let unknown = call(
        &server,
        "GET",
        &format!("{series}?from=2026-12-01&to=2026-12-07&colour=red"),
        Some(&venue.owner),
        None,
    )
    .await;
    assert_eq!(
        unknown.status, 400,
        "an unknown parameter is refused, not ignored: {}",
        unknown.body
    );
    let unsorted = call(
        &server,
        "GET",
        &format!(
            "/api/v1/venues/{}/analytics/product-mix?from=2026-12-01&to=2026-12-07&sort=colour",
            venue.venue
        ),
        Some(&venue.owner),
        None,
    )
    .await;
    assert_eq!(
        (unsorted.status, field(&unsorted)),
        (400, "sort".to_owned()),
        "{}",
        unsorted.body
    );
}

/// `comanda seed` writes a history whose roll-ups equal a recomputation from its raw rows (for every partner and
/// venue, sales and product mix), and the reports read it: the summary's orders and gross are the raw rows', the
/// product mix adds up to the gross, and the bookings have their no-shows.
async fn a_seeded_history_reads_the_same_from_its_roll_ups_as_from_its_raw_rows(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let mut config = comanda_server::Config {
        data_dir: server.dir.path().join("data"),
        ..comanda_server::Config::default()
    };
    config.auth.bcrypt_cost = 4;
    if engine == Engine::Postgres {
        config.database.url = Some(comanda_security::Secret::new(server.database.url.clone()));
        config.database.migration_url = server
            .database
            .migration_url
            .clone()
            .map(comanda_security::Secret::new);
    }
    let state = comanda_server::serve::offline_state(&config, std::sync::Arc::new(server.clock.clone()))
        .await
        .unwrap();
    let bogota = UtcOffset::from_hms(-5, 0, 0).unwrap();
    let last_day = server
        .clock
        .now()
        .to_offset(bogota)
        .date()
        .previous_day()
        .unwrap();
    let plan = comanda_server::seed::SeedPlan {
        orders: 3_000,
        days: 30,
        last_day,
        orders_per_venue_day: 60,
        venues_per_partner: 1,
        password: PASSWORD.into(),
        seed: 19,
        loaders: 2,
    };
    let mut reported = Vec::new();
    let report = comanda_server::seed::seed(&state, &plan, |p| reported.push(p.orders_done))
        .await
        .unwrap();
    assert_eq!((report.orders, report.partners.len()), (3_000, 2));
    assert_eq!(
        reported.last(),
        Some(&3_000),
        "progress reaches the end: {reported:?}"
    );
    let (start, end) = (
        OffsetDateTime::from_unix_timestamp(0).unwrap(),
        server.clock.now() + time::Duration::days(3),
    );
    let mut raw_orders = 0;
    for partner in &report.partners {
        for venue in [None, partner.venues.first().copied()] {
            let rolled: Vec<_> = state
                .store
                .sales_quarters(&partner.scope, venue, start, end)
                .await
                .unwrap();
            let raw = state
                .store
                .sales_quarters_from_raw(&partner.scope, venue, start, end)
                .await
                .unwrap();
            assert_eq!(rolled, raw, "sales of {venue:?}");
            let items = state
                .store
                .item_sales(&partner.scope, venue, start, end)
                .await
                .unwrap();
            let raw_items = state
                .store
                .item_sales_from_raw(&partner.scope, venue, start, end)
                .await
                .unwrap();
            assert_eq!(items, raw_items, "product mix of {venue:?}");
            if let Some(one) = venue {
                let servers = state
                    .store
                    .server_sales(&partner.scope, one, start, end)
                    .await
                    .unwrap();
                let raw_servers = state
                    .store
                    .server_sales_from_raw(&partner.scope, one, start, end)
                    .await
                    .unwrap();
                assert_eq!(servers, raw_servers, "sales per server of {one}");
                assert!(!servers.is_empty());
            }
            if venue.is_none() {
                let measures = raw
                    .iter()
                    .fold(comanda_domain::analytics::Measures::default(), |mut m, q| {
                        m += q.measures;
                        m
                    });
                assert!(
                    measures.tips > 0 && measures.refunds > 0 && measures.collected > 0,
                    "{measures:?}"
                );
                assert_eq!(items.iter().map(|i| i.sales).sum::<i64>(), measures.gross);
                raw_orders += measures.orders;
            }
        }
    }
    // About 2 % of orders are cancelled: they are not sales.
    assert!((2_850..3_000).contains(&raw_orders), "{raw_orders}");

    // The first partner's owner reads its venue's reports.
    let partner = &report.partners[0];
    let owner = enrolled(&server, &partner.owner_email, PASSWORD).await.access;
    let venue = partner.venues[0];
    let first = last_day - time::Duration::days(29);
    let summary = call(
        &server,
        "GET",
        &format!("/api/v1/venues/{venue}/analytics/summary?from={first}&to={last_day}"),
        Some(&owner),
        None,
    )
    .await;
    assert_eq!(summary.status, 200, "{}", summary.body);
    let rolled = state
        .store
        .sales_quarters_from_raw(&partner.scope, Some(venue), start, end)
        .await
        .unwrap();
    let orders: i64 = rolled.iter().map(|q| q.measures.orders).sum();
    assert_eq!(summary.body["orders"], orders, "{}", summary.body);
    let reservations = &summary.body["reservations"];
    assert!(reservations["bookings"].as_i64().unwrap() > 100, "{reservations}");
    assert!(reservations["no_shows"].as_i64().unwrap() > 0, "{reservations}");
    let mix = call(
        &server,
        "GET",
        &format!("/api/v1/venues/{venue}/analytics/product-mix?from={first}&to={last_day}"),
        Some(&owner),
        None,
    )
    .await;
    assert_eq!(mix.status, 200, "{}", mix.body);
    assert_eq!(mix.body["items"].as_array().unwrap().len(), 20);
    assert_eq!(mix.body["sales"], summary.body["gross"]);
    // The seeded tables were accepted by the owner and three servers: their lines add up to the venue's orders and
    // gross, each with a name and tips.
    let servers = call(
        &server,
        "GET",
        &format!("/api/v1/venues/{venue}/analytics/servers?from={first}&to={last_day}"),
        Some(&owner),
        None,
    )
    .await;
    assert_eq!(servers.status, 200, "{}", servers.body);
    let lines = servers.body["servers"].as_array().unwrap();
    assert_eq!(lines.len(), 4, "{}", servers.body);
    let sum = |field: &str| lines.iter().map(|l| l[field].as_i64().unwrap()).sum::<i64>();
    assert_eq!(json!(sum("orders")), summary.body["orders"], "{}", servers.body);
    assert_eq!(json!(sum("gross")), summary.body["gross"]);
    assert!(
        lines
            .iter()
            .all(|l| l["name"].is_string() && l["tips"].as_i64().unwrap() > 0),
        "{}",
        servers.body
    );
    // The seeded tables turn: sessions seated and closed, minutes apart.
    let turnover = &summary.body["turnover"];
    // Every seeded payment succeeded; every seeded table closed with its check.
    assert_eq!(
        summary.body["payment_success_rate_bp"], 10_000,
        "{}",
        summary.body
    );
    assert!(
        summary.body["payments_ended"].as_i64().unwrap() > 100,
        "{}",
        summary.body
    );
    assert!(summary.body["checks"].as_i64().unwrap() > 100, "{}", summary.body);
    assert!(
        summary.body["average_ticket"].as_i64().unwrap() > summary.body["average_order"].as_i64().unwrap()
    );
    assert!(turnover["turns"].as_i64().unwrap() > 100, "{turnover}");
    assert!(
        turnover["average_turn_minutes"].as_i64().unwrap() > 0,
        "{turnover}"
    );
    state.store.close().await;
}

on_both_engines!(
    a_seeded_history_reads_the_same_from_its_roll_ups_as_from_its_raw_rows,
    a_sale_at_half_past_nine_in_bogota_lands_on_its_local_day_and_hour,
    a_venues_day_start_turns_and_compared_week_move_its_reports,
    only_owners_managers_and_analysts_read_reports_and_bad_ranges_name_their_field,
);

/// Cash taken before the business day ends and voided after (04:50 and 05:05 in Bogotá, the day starting at 05:00):
/// the void takes the cash out of the second business day, and that day's cash journal lists the record with its
/// void, so each day's journal explains its cash in the summary (an accountant found the second day at −33.000 with
/// an empty journal).
#[tokio::test]
async fn a_void_on_a_later_business_day_is_in_that_day_s_cash_journal() {
    let server = TestServer::start().await;
    let mut v = venue_with_menu(&server, "anulada@example.co").await;
    let friday = to_friday_half_past_nine_in_bogota(&server).date();
    let saturday = friday.next_day().unwrap();
    server.clock.advance(time::Duration::minutes(7 * 60 + 20));
    renew(&server, &mut v).await;
    crate::ordering::ordered_and_accepted(&server, &v, 1).await;
    let cash = format!("/api/v1/venues/{}/tables/{}/cash", v.venue, v.table);
    let taken = post(
        &server,
        &cash,
        Some(&v.owner),
        json!({"amount": 1_000_000, "tip": 100_000}),
    )
    .await;
    assert_eq!(taken.status, 201, "{}", taken.body);
    let id = taken.body["cash"]["id"].as_str().unwrap().to_owned();
    server.clock.advance(time::Duration::minutes(15));
    let voided = call(&server, "DELETE", &format!("{cash}/{id}"), Some(&v.owner), None).await;
    assert_eq!(voided.status, 200, "{}", voided.body);
    let base = format!("/api/v1/venues/{}/analytics", v.venue);
    let read = async |what: &str, day: time::Date| {
        let reply = call(
            &server,
            "GET",
            &format!("{base}/{what}?from={day}&to={day}"),
            Some(&v.owner),
            None,
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body
    };
    assert_eq!(read("summary", friday).await["cash"], 1_100_000);
    assert_eq!(read("summary", saturday).await["cash"], -1_100_000);
    for day in [friday, saturday] {
        let journal = read("cash", day).await;
        let items = journal["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{journal}");
        assert_eq!(
            (
                items[0]["business_day"].clone(),
                items[0]["voided_business_day"].clone()
            ),
            (json!(friday.to_string()), json!(saturday.to_string())),
            "{journal}"
        );
    }
    let csv = call(
        &server,
        "GET",
        &format!("{base}/cash?from={saturday}&to={saturday}&format=csv"),
        Some(&v.owner),
        None,
    )
    .await;
    let text = csv.body.as_str().unwrap().to_owned();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert!(rows[0].ends_with(",voided_business_day"), "{text}");
    assert!(rows[1].ends_with(&format!(",{saturday}")), "{text}");
    server.stop().await;
}
