//! Ordering through the real server on both engines: venues, tables and tokens, menus, guest orders with
//! server-side prices and idempotency, the bill, transitions and the kitchen feed.

use serde_json::{Value, json};

use crate::identity::{PASSWORD, Reply, call, enrolled, post, sign_up};
use crate::support::{Engine, TestServer};

pub struct Venue {
    pub owner: String,
    /// The owner's refresh token, for a test whose clock outlives the access token.
    pub refresh: String,
    pub venue: String,
    pub category: String,
    pub table: String,
    pub token: String,
    pub item: String,
}

/// An enrolled owner with a venue, one table and an 18.900 COP item with an optional modifier.
pub async fn venue_with_menu(server: &TestServer, email: &str) -> Venue {
    sign_up(server, email).await;
    let session = enrolled(server, email, PASSWORD).await;
    let owner = session.access;
    let venue = post(
        server,
        "/api/v1/venues",
        Some(&owner),
        json!({"name": "Sede Centro", "timezone": "America/Bogota"}),
    )
    .await;
    assert_eq!(venue.status, 201, "{}", venue.body);
    let venue_id = venue.body["id"].as_str().unwrap().to_owned();
    assert_eq!(venue.body["currency"], "COP");
    assert_eq!(venue.body["tax"], json!({"kind": "inc", "rate_bp": 800}));
    let table = post(
        server,
        &format!("/api/v1/venues/{venue_id}/tables"),
        Some(&owner),
        json!({"label": "Mesa 4", "seats": 4}),
    )
    .await;
    assert_eq!(table.status, 201, "{}", table.body);
    assert!(table.body["guest_url"].as_str().unwrap().contains("/t/"));
    let category = post(
        server,
        &format!("/api/v1/venues/{venue_id}/menu/categories"),
        Some(&owner),
        json!({"name": {"es": "Platos fuertes", "en": "Mains"}}),
    )
    .await;
    assert_eq!(category.status, 201, "{}", category.body);
    let item = post(
        server,
        &format!("/api/v1/venues/{venue_id}/menu/items"),
        Some(&owner),
        json!({
            "category_id": category.body["id"], "name": {"es": "Bandeja paisa", "en": "Paisa platter"},
            "price": {"amount": 1_890_000, "currency": "COP"},
            "modifiers": [{"name": {"es": "Extra", "en": "Extra"}, "options": [{"name": {"es": "Aguacate", "en": "Avocado"}, "price_delta": 300_000}], "min": 0, "max": 1}]
        }),
    )
    .await;
    assert_eq!(item.status, 201, "{}", item.body);
    Venue {
        owner,
        refresh: session.refresh,
        venue: venue_id,
        category: category.body["id"].as_str().unwrap().to_owned(),
        table: table.body["id"].as_str().unwrap().to_owned(),
        token: table.body["token"].as_str().unwrap().to_owned(),
        item: item.body["id"].as_str().unwrap().to_owned(),
    }
}

/// A guest at the venue's table orders `quantity` of its dish, and staff accept the table: an open bill.
pub async fn ordered_and_accepted(server: &TestServer, v: &Venue, quantity: u32) {
    let ordered = post(
        server,
        &format!("/api/v1/t/{}/orders", v.token),
        None,
        json!({"items": [{"item_id": v.item, "quantity": quantity}]}),
    )
    .await;
    assert_eq!(ordered.status, 201, "{}", ordered.body);
    accept_table(server, v).await;
}

/// The id of the venue's bill waiting for staff to accept it (a party's first order opened it).
pub async fn pending_session(server: &TestServer, v: &Venue) -> String {
    let sessions = call(
        server,
        "GET",
        &format!("/api/v1/venues/{}/table-sessions", v.venue),
        Some(&v.owner),
        None,
    )
    .await;
    sessions.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["status"] == "pending")
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .expect("a pending session")
}

/// Staff accept the table's pending session (its orders then reach the kitchen).
pub async fn accept_table(server: &TestServer, v: &Venue) {
    let pending = pending_session(server, v).await;
    let accepted = post(
        server,
        &format!("/api/v1/table-sessions/{pending}/accept"),
        Some(&v.owner),
        json!({}),
    )
    .await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    assert_eq!(accepted.body["status"], "open");
}

async fn order(server: &TestServer, token: &str, body: Value, key: Option<&str>) -> Reply {
    let mut request = server
        .client
        .post(server.url(&format!("/api/v1/t/{token}/orders")))
        .json(&body);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    Reply {
        status,
        body: response.json().await.unwrap_or(Value::Null),
    }
}

pub async fn a_bill_of_three_items_matches_the_hand_checked_example(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let v = venue_with_menu(&server, "bill@example.co").await;
    let guest_view = call(&server, "GET", &format!("/api/v1/t/{}", v.token), None, None).await;
    assert_eq!(guest_view.status, 200, "{}", guest_view.body);
    assert_eq!(guest_view.body["table"], "Mesa 4");
    assert_eq!(
        guest_view.body["venue"],
        json!({"name": "Sede Centro", "currency": "COP", "timezone": "America/Bogota"}),
        "the guest's page tells clock times in the venue's zone"
    );
    assert_eq!(
        guest_view.body["menu"]["categories"][0]["items"][0]["name"]["es"],
        "Bandeja paisa"
    );

    // A client-sent price is refused (a field the body does not have), never used: the server prices from the menu.
    let priced_by_client = order(
        &server,
        &v.token,
        json!({"items": [{"item_id": v.item, "quantity": 3, "price": 1}]}),
        None,
    )
    .await;
    assert_eq!(priced_by_client.status, 400, "{}", priced_by_client.body);
    assert_eq!(priced_by_client.body["errors"][0]["field"], "items[0].price");
    let placed = order(
        &server,
        &v.token,
        json!({"items": [{"item_id": v.item, "quantity": 3}]}),
        None,
    )
    .await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    assert_eq!(
        placed.body["subtotal"],
        json!({"amount": 5_670_000, "currency": "COP"})
    );
    let bill = call(&server, "GET", &format!("/api/v1/t/{}/bill", v.token), None, None).await;
    let b = &bill.body["bill"];
    assert_eq!(b["subtotal"]["amount"], 5_670_000, "56.700 COP");
    assert_eq!(b["taxes"][0]["kind"], "inc");
    assert_eq!(
        b["taxes"][0]["amount"]["amount"], 420_000,
        "INC 8 % contained: 4.200 COP"
    );
    assert_eq!(b["net"]["amount"], 5_250_000);
    assert_eq!(
        b["suggested_tip"]["amount"], 525_000,
        "10 % of the value before tax suggested apart: 5.250 COP (Ley 1935: the tax is not the service)"
    );
    assert_eq!(b["tip"]["amount"], 0, "no tip unless the guest chooses one");
    assert_eq!(b["total"]["amount"], 5_670_000);
    assert_eq!(bill.body["remaining"]["amount"], 5_670_000);
    assert_eq!(b["lines"][0]["description"], "Bandeja paisa");
    // An English-speaking guest's bill names the dishes in English.
    let english: serde_json::Value = server
        .client
        .get(server.url(&format!("/api/v1/t/{}/bill", v.token)))
        .header("accept-language", "en-US,en;q=0.9,es;q=0.5")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(english["bill"]["lines"][0]["description"], "Paisa platter");
    server.stop().await;
}

pub async fn rotated_and_foreign_table_tokens_open_nothing(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let a = venue_with_menu(&server, "a-tables@example.co").await;
    let b = venue_with_menu(&server, "b-tables@example.co").await;
    // A's table cannot order B's dishes.
    let foreign_item = order(
        &server,
        &a.token,
        json!({"items": [{"item_id": b.item, "quantity": 1}]}),
        None,
    )
    .await;
    assert_eq!(foreign_item.status, 422, "{}", foreign_item.body);
    assert_eq!(foreign_item.body["errors"][0]["field"], "items[0].item_id");
    // A token altered to name B's table is refused.
    use base64::Engine as _;
    let engine64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut forged = engine64.decode(&a.token).unwrap();
    forged[..16].copy_from_slice(b.table.parse::<uuid::Uuid>().unwrap().as_bytes());
    let forged = engine64.encode(forged);
    assert_eq!(
        call(&server, "GET", &format!("/api/v1/t/{forged}"), None, None)
            .await
            .status,
        404
    );

    let rotated = post(
        &server,
        &format!("/api/v1/tables/{}/token/rotate", a.table),
        Some(&a.owner),
        json!({}),
    )
    .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let fresh = rotated.body["token"].as_str().unwrap();
    assert_ne!(fresh, a.token);
    for path in [
        format!("/api/v1/t/{}", a.token),
        format!("/api/v1/t/{}/bill", a.token),
    ] {
        let old = call(&server, "GET", &path, None, None).await;
        assert_eq!(old.status, 404, "{path}: {}", old.body);
    }
    assert_eq!(
        order(
            &server,
            &a.token,
            json!({"items": [{"item_id": a.item, "quantity": 1}]}),
            None
        )
        .await
        .status,
        404
    );
    assert_eq!(
        call(&server, "GET", &format!("/api/v1/t/{fresh}"), None, None)
            .await
            .status,
        200
    );
    let audit = call(&server, "GET", "/api/v1/audit?limit=200", Some(&a.owner), None).await;
    assert!(
        audit.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "table.token_rotated")
    );

    // Renamed, the table keeps its QR code; another partner cannot rename or retire it.
    let table_path = format!("/api/v1/tables/{}", a.table);
    let renamed = call(
        &server,
        "PATCH",
        &table_path,
        Some(&a.owner),
        Some(json!({"label": "Terraza 1"})),
    )
    .await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    assert_eq!(renamed.body["label"], "Terraza 1");
    assert_eq!(renamed.body["token"], fresh);
    let blank = call(
        &server,
        "PATCH",
        &table_path,
        Some(&a.owner),
        Some(json!({"label": "  "})),
    )
    .await;
    assert_eq!(blank.status, 400, "{}", blank.body);
    for method in ["PATCH", "DELETE"] {
        let body = (method == "PATCH").then(|| json!({"label": "Mía"}));
        let foreign = call(&server, method, &table_path, Some(&b.owner), body).await;
        assert_eq!(foreign.status, 404, "{method}: {}", foreign.body);
    }
    // A table with a bill open is not retired; B's guest has ordered.
    let placed = order(
        &server,
        &b.token,
        json!({"items": [{"item_id": b.item, "quantity": 1}]}),
        None,
    )
    .await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    let held = call(
        &server,
        "DELETE",
        &format!("/api/v1/tables/{}", b.table),
        Some(&b.owner),
        None,
    )
    .await;
    assert_eq!(held.status, 409, "{}", held.body);
    assert_eq!(held.body["type"], "https://comanda.dev/problems/conflict");
    // Retired, its QR code opens nothing and it leaves the list; it cannot be retired or renamed again.
    let retired = call(&server, "DELETE", &table_path, Some(&a.owner), None).await;
    assert_eq!(retired.status, 204, "{}", retired.body);
    let scanned = call(&server, "GET", &format!("/api/v1/t/{fresh}"), None, None).await;
    assert_eq!(scanned.status, 404, "{}", scanned.body);
    let listed = call(
        &server,
        "GET",
        &format!("/api/v1/venues/{}/tables", a.venue),
        Some(&a.owner),
        None,
    )
    .await;
    assert_eq!(listed.body["items"], json!([]));
    for method in ["PATCH", "DELETE"] {
        let body = (method == "PATCH").then(|| json!({"label": "Otra"}));
        let again = call(&server, method, &table_path, Some(&a.owner), body).await;
        assert_eq!(again.status, 404, "{method}: {}", again.body);
    }
    let qr = call(
        &server,
        "GET",
        &format!("{table_path}/qr.svg"),
        Some(&a.owner),
        None,
    )
    .await;
    assert_eq!(qr.status, 404);
    let audit = call(&server, "GET", "/api/v1/audit?limit=200", Some(&a.owner), None).await;
    let actions: Vec<&str> = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"table.renamed") && actions.contains(&"table.retired"),
        "{actions:?}"
    );
    server.stop().await;
}

pub async fn twenty_concurrent_retries_with_one_idempotency_key_create_one_order(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let v = venue_with_menu(&server, "idem@example.co").await;
    let body =
        json!({"items": [{"item_id": v.item, "quantity": 2, "modifiers": [[0, 0]], "note": "sin cebolla"}]});
    let attempts = (0..20).map(|_| order(&server, &v.token, body.clone(), Some("tap-2026-11-23-1")));
    let replies = futures_util::future::join_all(attempts).await;
    let ids: std::collections::HashSet<String> = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, 201, "{}", r.body);
            r.body["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "one order for twenty retries");
    let replay = server
        .client
        .post(server.url(&format!("/api/v1/t/{}/orders", v.token)))
        .header("idempotency-key", "tap-2026-11-23-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status().as_u16(), 201);
    assert_eq!(
        replay.headers()["idempotent-replayed"],
        "true",
        "the answer given again says so"
    );
    let bill = call(&server, "GET", &format!("/api/v1/t/{}/bill", v.token), None, None).await;
    assert_eq!(bill.body["orders"].as_array().unwrap().len(), 1);
    assert_eq!(
        bill.body["orders"][0]["lines"][0]["unit_price"]["amount"], 2_190_000,
        "modifier priced by the server"
    );
    // A note to the kitchen is its writer's (an allergy is health data): a phone that did not place the order (here
    // none) reads the dish, not the note (the kitchen's ticket keeps it: the e2e reads it there, and the guest's
    // own phone shows it back).
    assert!(
        bill.body["orders"][0]["lines"][0]["note"].is_null(),
        "{}",
        bill.body
    );
    let other = order(
        &server,
        &v.token,
        json!({"items": [{"item_id": v.item, "quantity": 9}]}),
        Some("tap-2026-11-23-1"),
    )
    .await;
    assert_eq!(other.status, 409, "{}", other.body);
    server.stop().await;
}

pub async fn orders_move_forward_and_the_kitchen_feed_sees_them(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let v = venue_with_menu(&server, "kitchen@example.co").await;
    let stream = server
        .client
        .get(server.url(&format!("/api/v1/venues/{}/orders/stream", v.venue)))
        .bearer_auth(&v.owner)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status().as_u16(), 200);
    assert!(
        stream.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut body = stream.bytes_stream();

    let placed = order(
        &server,
        &v.token,
        json!({"items": [{"item_id": v.item, "quantity": 1}]}),
        None,
    )
    .await;
    let order_id = placed.body["id"].as_str().unwrap().to_owned();
    let waiting = call(&server, "GET", &format!("/api/v1/t/{}", v.token), None, None).await;
    assert_eq!(
        waiting.body["session"]["status"], "pending",
        "the first order waits for staff to accept the table"
    );
    accept_table(&server, &v).await;
    let first = next_sse_event(&mut body).await;
    assert_eq!(first["status"], "placed");
    assert_eq!(first["order"]["id"], order_id.as_str());

    let path = format!("/api/v1/orders/{order_id}/transitions");
    let transition = |to: &'static str| post(&server, &path, Some(&v.owner), json!({"to": to}));
    assert_eq!(transition("accepted").await.status, 200);
    assert_eq!(next_sse_event(&mut body).await["status"], "accepted");
    assert_eq!(transition("preparing").await.status, 200);
    let illegal = transition("placed").await;
    assert_eq!(illegal.status, 422, "{}", illegal.body);
    let no_reason = transition("cancelled").await;
    assert_eq!(no_reason.status, 422);
    let guest_bill = call(&server, "GET", &format!("/api/v1/t/{}/bill", v.token), None, None).await;
    assert_eq!(
        guest_bill.body["orders"][0]["status"], "preparing",
        "the guest sees the status"
    );

    // Resume: a display reconnecting with the first event's id gets what it missed.
    let resumed = server
        .client
        .get(server.url(&format!("/api/v1/venues/{}/orders/stream", v.venue)))
        .bearer_auth(&v.owner)
        .header("last-event-id", first["seq"].to_string())
        .send()
        .await
        .unwrap();
    let mut resumed = resumed.bytes_stream();
    assert_eq!(next_sse_event(&mut resumed).await["status"], "accepted");
    assert_eq!(next_sse_event(&mut resumed).await["status"], "preparing");

    // A venue that is not the caller's has no stream (its existence is not confirmed either).
    let elsewhere = server
        .client
        .get(server.url(&format!("/api/v1/venues/{}/orders/stream", uuid::Uuid::now_v7())))
        .bearer_auth(&v.owner)
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status().as_u16(), 404);
    assert_eq!(elsewhere.headers()["content-type"], "application/problem+json");
    // An id from beyond the venue's newest event starts the display at the newest, so the next change arrives.
    let ahead = server
        .client
        .get(server.url(&format!("/api/v1/venues/{}/orders/stream", v.venue)))
        .bearer_auth(&v.owner)
        .header("last-event-id", "999999999")
        .send()
        .await
        .unwrap();
    let mut ahead = ahead.bytes_stream();
    assert_eq!(transition("ready").await.status, 200);
    assert_eq!(next_sse_event(&mut ahead).await["status"], "ready");
    // A token past its expiry but inside the verifier's clock-skew leeway gets 401, not a feed that ends at once
    // (a display answered 200 went round a reconnect loop instead of refreshing its token).
    server.clock.advance(time::Duration::seconds(900 + 10));
    let expired = server
        .client
        .get(server.url(&format!("/api/v1/venues/{}/orders/stream", v.venue)))
        .bearer_auth(&v.owner)
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status().as_u16(), 401);
    server.stop().await;
}

/// Reads the next `data:` payload of a Server-Sent Events stream (within 5 s).
pub async fn next_sse_event(
    body: &mut (impl futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
) -> Value {
    use futures_util::StreamExt;
    let mut buffer = String::new();
    let read = async {
        loop {
            if let Some(end) = buffer.find("\n\n") {
                let frame: String = buffer.drain(..end + 2).collect();
                if let Some(data) = frame.lines().find_map(|l| l.strip_prefix("data:")) {
                    return serde_json::from_str::<Value>(data.trim()).unwrap();
                }
                continue;
            }
            let chunk = body.next().await.expect("stream ended").unwrap();
            buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(5), read)
        .await
        .expect("no event within 5 s")
}

/// Issue 14, part 7: the kitchen list of a venue with 501 live orders on one table (a crash test left 1,800) is
/// read through HTTP page by page, each order once, oldest first; it used to stop at 500 without saying so. Every
/// list route takes `cursor` and `limit` and refuses a limit above 200; a cursor of another list is refused.
pub async fn the_kitchen_list_is_read_to_its_end_page_by_page(engine: Engine) {
    use comanda_domain::menu::{Localized, PricedLine};
    use comanda_domain::{Clock as _, Currency, Money};
    use comanda_store::ordering::{NewOrder, PlaceOutcome};

    let server = TestServer::start_on(engine, |_| {}).await;
    let v = venue_with_menu(&server, "cocina-llena@example.co").await;
    let first = order(
        &server,
        &v.token,
        json!({"items": [{"item_id": v.item, "quantity": 1}]}),
        None,
    )
    .await;
    assert_eq!(first.status, 201, "{}", first.body);
    accept_table(&server, &v).await;
    // 500 more on the same live table, straight into the store; four share each second.
    let store = server.store().await;
    let table: uuid::Uuid = v.table.parse().unwrap();
    let entry = store.table_entry(table).await.unwrap().unwrap();
    let scope = comanda_security::TenantScope::from_proof(&comanda_security::tenancy::JobAuthority::new(
        "test",
        entry.partner,
    ));
    let price = Money::new(1_890_000, Currency::COP).unwrap();
    let mut stored = Vec::new();
    for n in 0..500i64 {
        let id = uuid::Uuid::now_v7();
        let line = PricedLine {
            item_id: v.item.parse().unwrap(),
            name: Localized {
                es: "Bandeja paisa".into(),
                en: "Paisa platter".into(),
            },
            quantity: 1,
            modifiers: Vec::new(),
            note: None,
            unit_price: price,
            taxed: true,
        };
        let new = NewOrder {
            id,
            venue_id: v.venue.parse().unwrap(),
            table_id: table,
            served_table_id: None,
            lines: vec![line],
            subtotal: price,
            tax: comanda_domain::Money::zero(price.currency),
            idempotency_key: None,
            request_hash: n.to_be_bytes().to_vec(),
            device: Some("crash-test".into()),
        };
        let at = server.clock.now() + time::Duration::seconds(1 + n / 4);
        let placed = store
            .place_order(
                &scope,
                &new,
                &comanda_store::identity::AuditEntry::new("order.placed"),
                at,
            )
            .await
            .unwrap();
        assert!(matches!(placed, PlaceOutcome::Created(_)), "{placed:?}");
        stored.push((at, id));
    }
    store.close().await;
    stored.sort();
    let expected: Vec<String> = std::iter::once(first.body["id"].as_str().unwrap().to_owned())
        .chain(stored.iter().map(|(_, id)| id.to_string()))
        .collect();

    let mut seen: Vec<String> = Vec::new();
    let mut placed_at: Vec<time::OffsetDateTime> = Vec::new();
    let mut sizes = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = call(
            &server,
            "GET",
            &format!("/api/v1/venues/{}/orders?limit=200&cursor={cursor}", v.venue),
            Some(&v.owner),
            None,
        )
        .await;
        assert_eq!(page.status, 200, "{}", page.body);
        let items = page.body["items"].as_array().unwrap();
        sizes.push(items.len());
        for o in items {
            seen.push(o["id"].as_str().unwrap().to_owned());
            let at = o["placed_at"].as_str().unwrap();
            placed_at.push(
                time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).unwrap(),
            );
        }
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(sizes, [200, 200, 101]);
    assert_eq!(seen, expected, "all 501 orders, each once, oldest first");
    assert!(placed_at.windows(2).all(|w| w[0] <= w[1]));

    // The default page says that more follow; a filtered list pages the same way.
    let default = call(
        &server,
        "GET",
        &format!("/api/v1/venues/{}/orders", v.venue),
        Some(&v.owner),
        None,
    )
    .await;
    assert_eq!(default.body["items"].as_array().unwrap().len(), 50);
    assert!(
        default.body["next_cursor"].is_string(),
        "{}",
        default.body["next_cursor"]
    );
    let filtered = call(
        &server,
        "GET",
        &format!("/api/v1/venues/{}/orders?status=accepted&limit=5", v.venue),
        Some(&v.owner),
        None,
    )
    .await;
    assert_eq!(filtered.status, 200, "{}", filtered.body);
    assert!(filtered.body["items"].as_array().unwrap().is_empty());
    assert!(filtered.body["next_cursor"].is_null());

    // A cursor of another list (the venues list carries an id alone) or a forged one is refused, as is a limit
    // outside 1..=200.
    let venues = call(&server, "GET", "/api/v1/venues?limit=1", Some(&v.owner), None).await;
    let foreign = comanda_domain::Cursor::after(v.venue.parse().unwrap()).encode();
    assert!(venues.body["next_cursor"].is_null(), "one venue");
    for (query, field) in [
        (format!("cursor={foreign}"), "cursor"),
        ("cursor=not-a-cursor".to_owned(), "cursor"),
        ("limit=201".to_owned(), "limit"),
        ("limit=0".to_owned(), "limit"),
    ] {
        let refused = call(
            &server,
            "GET",
            &format!("/api/v1/venues/{}/orders?{query}", v.venue),
            Some(&v.owner),
            None,
        )
        .await;
        assert_eq!(refused.status, 400, "{query}: {}", refused.body);
        assert_eq!(refused.body["errors"][0]["field"], field, "{query}");
    }

    // Every list route: `limit` and `cursor` are taken, a limit above 200 is refused naming it.
    let month = server.business_month();
    let lists = [
        ("/api/v1/venues".to_owned(), "items"),
        ("/api/v1/staff".to_owned(), "items"),
        ("/api/v1/audit".to_owned(), "items"),
        (format!("/api/v1/venues/{}/tables", v.venue), "items"),
        (format!("/api/v1/venues/{}/table-sessions", v.venue), "items"),
        (format!("/api/v1/venues/{}/orders", v.venue), "items"),
        (format!("/api/v1/venues/{}/payments", v.venue), "items"),
        ("/api/v1/disputes".to_owned(), "items"),
        (format!("/api/v1/tips?month={month}"), "entries"),
    ];
    for (path, items) in &lists {
        let join = if path.contains('?') { '&' } else { '?' };
        let one = call(
            &server,
            "GET",
            &format!("{path}{join}limit=1"),
            Some(&v.owner),
            None,
        )
        .await;
        assert_eq!(one.status, 200, "{path}: {}", one.body);
        assert!(
            one.body[items].as_array().is_some_and(|i| i.len() <= 1),
            "{path}: {}",
            one.body
        );
        assert!(
            one.body.get("next_cursor").is_some(),
            "{path} says whether more follow: {}",
            one.body
        );
        if let Some(next) = one.body["next_cursor"].as_str() {
            let more = call(
                &server,
                "GET",
                &format!("{path}{join}limit=1&cursor={next}"),
                Some(&v.owner),
                None,
            )
            .await;
            assert_eq!(more.status, 200, "{path}: {}", more.body);
            assert_ne!(more.body[items][0], one.body[items][0], "{path} moves on");
        }
        let over = call(
            &server,
            "GET",
            &format!("{path}{join}limit=201"),
            Some(&v.owner),
            None,
        )
        .await;
        assert_eq!(over.status, 400, "{path}: {}", over.body);
    }
    server.stop().await;
}

/// An owner corrects a venue's name, address and tax regime; the tax waits until no bill is open, and what cannot
/// change (time zone, currency) or does not exist is refused, not ignored.
#[tokio::test]
async fn a_venue_is_corrected_and_its_tax_changes_only_with_no_bill_open() {
    let server = TestServer::start().await;
    let v = venue_with_menu(&server, "corrige@example.co").await;
    let path = format!("/api/v1/venues/{}", v.venue);
    let patch = |body: Value| {
        let path = path.clone();
        let server = &server;
        let owner = v.owner.clone();
        async move { call(server, "PATCH", &path, Some(&owner), Some(body)).await }
    };
    let renamed = patch(json!({"name": "La Fonda — Chapinero", "address": "Cra. 7 # 60-20"})).await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    assert_eq!(
        (
            renamed.body["name"].clone(),
            renamed.body["address"].clone(),
            renamed.body["tax"]["rate_bp"].clone()
        ),
        (json!("La Fonda — Chapinero"), json!("Cra. 7 # 60-20"), json!(800))
    );
    assert_eq!(
        patch(json!({"timezone": "UTC"})).await.status,
        400,
        "the time zone stays"
    );
    assert_eq!(patch(json!({"name": "   "})).await.status, 400);
    // A name that only looks written (zero-width characters) or that reorders what staff read (a right-to-left
    // override, CVE-2021-42574) is refused like control characters.
    assert_eq!(patch(json!({"name": "\u{200B}\u{FEFF}"})).await.status, 400);
    let spoofed = patch(json!({"address": "Calle 1\u{202E}01 #"})).await;
    assert_eq!(spoofed.status, 400, "{}", spoofed.body);
    // A guest's order opens a bill: the tax regime waits for it to close.
    let ordered = post(
        &server,
        &format!("/api/v1/t/{}/orders", v.token),
        None,
        json!({"items": [{"item_id": v.item, "quantity": 1}]}),
    )
    .await;
    assert_eq!(ordered.status, 201, "{}", ordered.body);
    let vat = json!({"tax": {"kind": "iva", "rate_bp": 1900}});
    let open = patch(vat.clone()).await;
    assert_eq!(open.status, 409, "{}", open.body);
    let order = ordered.body["id"].as_str().unwrap();
    accept_table(&server, &v).await;
    let cancelled = post(
        &server,
        &format!("/api/v1/orders/{order}/transitions"),
        Some(&v.owner),
        json!({"to": "cancelled", "reason": "prueba"}),
    )
    .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    let closed = post(
        &server,
        &format!("/api/v1/venues/{}/tables/{}/close", v.venue, v.table),
        Some(&v.owner),
        json!({}),
    )
    .await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    let taxed = patch(vat).await;
    assert_eq!(taxed.status, 200, "{}", taxed.body);
    assert_eq!(taxed.body["tax"], json!({"kind": "iva", "rate_bp": 1900}));
    let audit = call(
        &server,
        "GET",
        "/api/v1/audit?action=venue.updated",
        Some(&v.owner),
        None,
    )
    .await;
    assert_eq!(
        audit.body["items"].as_array().map(Vec::len),
        Some(2),
        "{}",
        audit.body
    );
    server.stop().await;
}

/// No JSON list answers a bare array, and every paginated answer declares its `cursor` and `limit` (issue 14,
/// part 7: a list that cannot say "there is more" stops without saying so).
#[tokio::test]
async fn the_contract_declares_no_bare_list() {
    let server = TestServer::start().await;
    let doc = call(&server, "GET", "/openapi.json", None, None).await.body;
    let schemas = &doc["components"]["schemas"];
    let resolve = |schema: &Value| -> Value {
        match schema["$ref"].as_str() {
            Some(r) => schemas[r.trim_start_matches("#/components/schemas/")].clone(),
            None => schema.clone(),
        }
    };
    let mut paged = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(get) = item.get("get") else { continue };
        let schema = &get["responses"]["200"]["content"]["application/json"]["schema"];
        if schema.is_null() {
            continue;
        }
        let schema = resolve(schema);
        assert_ne!(schema["type"], "array", "GET {path} answers a bare array");
        if schema["properties"].get("next_cursor").is_some() {
            paged += 1;
            let params: Vec<&str> = get["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query")
                .filter_map(|p| p["name"].as_str())
                .collect();
            assert!(
                params.contains(&"cursor") && params.contains(&"limit"),
                "GET {path}: {params:?}"
            );
        }
    }
    assert!(paged >= 8, "{paged} paginated lists");
    server.stop().await;
}

/// A member's state-changing request retried with its Idempotency-Key (a dropped answer, a double click) gets the
/// first answer and changes nothing again; the key with another request is 409; without a key every request runs.
pub async fn a_retried_request_with_its_key_is_answered_once(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let v = venue_with_menu(&server, "idem@example.co").await;
    let send = |key: &'static str, path: String, body: Value| {
        server
            .client
            .post(server.url(&path))
            .bearer_auth(&v.owner)
            .header("idempotency-key", key)
            .json(&body)
            .send()
    };
    let tables = format!("/api/v1/venues/{}/tables", v.venue);
    let first = send("mesa-9", tables.clone(), json!({"label": "Mesa 9", "seats": 2}))
        .await
        .unwrap();
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();
    let again = send("mesa-9", tables.clone(), json!({"label": "Mesa 9", "seats": 2}))
        .await
        .unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.headers()["content-type"], "application/json");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again, first, "the first answer, byte for byte");
    for other in [
        send("mesa-9", tables.clone(), json!({"label": "Mesa 10", "seats": 2})),
        send(
            "mesa-9",
            "/api/v1/venues".into(),
            json!({"name": "Sede Norte", "timezone": "America/Bogota"}),
        ),
    ] {
        let refused = other.await.unwrap();
        assert_eq!(refused.status(), 409);
    }
    // A bad request keeps its key free: the corrected one runs.
    let bad = send("mesa-11", tables.clone(), json!({"label": "", "seats": 2}))
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let fixed = send("mesa-11", tables.clone(), json!({"label": "Mesa 11", "seats": 2}))
        .await
        .unwrap();
    assert_eq!(
        fixed.status(),
        201,
        "a refusal changed nothing, so the key was not spent"
    );
    let listed = call(&server, "GET", &tables, Some(&v.owner), None).await;
    let nines = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["label"] == "Mesa 9")
        .count();
    assert_eq!(nines, 1, "{}", listed.body);
    // A data subject's export is answered, not kept: its retry is told so, and the data is not held under the key.
    let me = call(&server, "GET", "/api/v1/me", Some(&v.owner), None).await;
    let export = json!({"kind": "export", "subject": me.body["user_id"]});
    let exported = send("export-1", "/api/v1/privacy/requests".into(), export.clone())
        .await
        .unwrap();
    assert_eq!(exported.status(), 200);
    let retried = send("export-1", "/api/v1/privacy/requests".into(), export)
        .await
        .unwrap();
    assert_eq!(retried.status(), 409);
    assert!(!retried.text().await.unwrap().contains("idem@example.co"));
    // Without a key, two requests are two requests: two labels are two tables, and a label sent twice is refused
    // the second time (a venue's labels are its own), never a second table with it.
    for (label, status) in [("Mesa 12", 201), ("Mesa 13", 201), ("Mesa 12", 409)] {
        let plain = post(
            &server,
            &tables,
            Some(&v.owner),
            json!({"label": label, "seats": 2}),
        )
        .await;
        assert_eq!(plain.status, status, "{label}: {}", plain.body);
    }
    server.stop().await;
}

on_both_engines!(
    a_retried_request_with_its_key_is_answered_once,
    a_bill_of_three_items_matches_the_hand_checked_example,
    rotated_and_foreign_table_tokens_open_nothing,
    twenty_concurrent_retries_with_one_idempotency_key_create_one_order,
    orders_move_forward_and_the_kitchen_feed_sees_them,
    the_kitchen_list_is_read_to_its_end_page_by_page,
);

#[tokio::test]
async fn a_kitchen_on_another_instance_sees_every_order() {
    let first = TestServer::start_on(Engine::Postgres, |_| {}).await;
    let v = venue_with_menu(&first, "two@example.co").await;
    let second = first.second_instance().await;
    // The kitchen display is connected to the second instance; the guest orders through the first.
    let stream = second
        .client
        .get(second.url(&format!("/api/v1/venues/{}/orders/stream", v.venue)))
        .bearer_auth(&v.owner)
        .send()
        .await
        .unwrap();
    assert_eq!(
        stream.status().as_u16(),
        200,
        "the second instance verifies the first's tokens"
    );
    let mut events = stream.bytes_stream();
    let started = std::time::Instant::now();
    let placed = order(
        &first,
        &v.token,
        json!({"items": [{"item_id": v.item, "quantity": 2}]}),
        None,
    )
    .await;
    assert_eq!(placed.status, 201);
    accept_table(&first, &v).await;
    let seen = next_sse_event(&mut events).await;
    // Well inside the feed's 10 s fallback poll: the NOTIFY woke it.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(seen["order"]["id"], placed.body["id"]);
    assert_eq!(seen["status"], "placed");
    second.stop().await;
    first.stop().await;
}

/// INF-1 on the unauthenticated guest routes: one client address gets 120 writes at the tables a minute (orders,
/// cancellations, payments, one budget), then 429 with `Retry-After`; a refused order is not kept, and a guest at
/// another address is served meanwhile. The address comes from `X-Forwarded-For` because the peer is a trusted
/// proxy here.
#[tokio::test]
async fn guest_writes_are_limited_per_client_address() {
    let server =
        TestServer::start_with(|config| config.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()])
            .await;
    let v = venue_with_menu(&server, "rafaga@example.co").await;
    let send = |path: String, from: &'static str, body: Value| {
        server
            .client
            .post(server.url(&path))
            .header("x-forwarded-for", from)
            .json(&body)
            .send()
    };
    let orders = format!("/api/v1/t/{}/orders", v.token);
    let dish = json!({"items": [{"item_id": v.item, "quantity": 1}]});
    let started = std::time::Instant::now();
    let mut placed = 0;
    let refused = loop {
        let reply = send(orders.clone(), "203.0.113.7", dish.clone()).await.unwrap();
        match reply.status().as_u16() {
            201 => placed += 1,
            429 => break reply,
            other => panic!("{other}: {}", reply.text().await.unwrap()),
        }
        assert!(placed <= 200, "never limited");
    };
    // The budget refills at two a second while the burst is spent.
    let refilled = 2 * started.elapsed().as_secs() + 2;
    assert!(
        (120..=120 + refilled).contains(&placed),
        "{placed} orders before the limit"
    );
    let wait = crate::support::retry_after(&refused);
    assert!((1..=60).contains(&wait), "Retry-After: {wait}");
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["status"], 429, "{problem}");
    // Payments share the address's budget. The budget refills one write every half second, so of five sent at
    // once while it is spent, at most one can find a refill; the rest are refused.
    let payments = futures_util::future::join_all((0..5).map(|_| {
        send(
            format!("/api/v1/t/{}/payments", v.token),
            "203.0.113.7",
            json!({"split": {"kind": "full"}}),
        )
    }))
    .await;
    let refused_payments = payments
        .iter()
        .filter(|p| p.as_ref().unwrap().status().as_u16() == 429)
        .count();
    assert!(
        refused_payments >= 4,
        "payments share the address's budget: {refused_payments} of 5 refused"
    );
    let elsewhere = send(orders.clone(), "198.51.100.7", dish.clone()).await.unwrap();
    assert_eq!(elsewhere.status().as_u16(), 201, "another address is served");
    let bill = call(&server, "GET", &format!("/api/v1/t/{}/bill", v.token), None, None).await;
    assert_eq!(bill.status, 200, "{}", bill.body);
    assert_eq!(
        bill.body["orders"].as_array().unwrap().len() as u64,
        placed + 1,
        "every 201 is an order and nothing of a refused one is kept"
    );
    server.stop().await;
}

#[tokio::test]
async fn qr_codes_come_as_svg_png_and_a_printable_pdf_sheet() {
    let server = TestServer::start().await;
    let v = venue_with_menu(&server, "qr@example.co").await;
    let get = |path: String| server.client.get(server.url(&path)).bearer_auth(&v.owner).send();
    let svg = get(format!("/api/v1/tables/{}/qr.svg", v.table)).await.unwrap();
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    assert!(svg.text().await.unwrap().contains("<svg"));
    let png = get(format!("/api/v1/tables/{}/qr.png", v.table)).await.unwrap();
    assert_eq!(png.headers()["content-type"], "image/png");
    assert!(png.bytes().await.unwrap().starts_with(b"\x89PNG\r\n\x1a\n"));
    let pdf = get(format!("/api/v1/venues/{}/tables/qr.pdf", v.venue))
        .await
        .unwrap();
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let bytes = pdf.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    assert!(String::from_utf8_lossy(&bytes).contains("(Mesa 4)"));
    server.stop().await;
}

#[tokio::test]
async fn staff_edit_and_remove_menu_items_and_categories() {
    let server = TestServer::start().await;
    let v = venue_with_menu(&server, "menu@example.co").await;
    let item_path = format!("/api/v1/menu/items/{}", v.item);
    let sold_out = call(
        &server,
        "PATCH",
        &item_path,
        Some(&v.owner),
        Some(json!({"available": false})),
    )
    .await;
    assert_eq!(sold_out.status, 200, "{}", sold_out.body);
    assert_eq!(sold_out.body["available"], false);
    let guest = call(&server, "GET", &format!("/api/v1/t/{}", v.token), None, None).await;
    assert!(
        guest.body["menu"]["categories"][0]["items"]
            .as_array()
            .unwrap()
            .is_empty(),
        "sold out items are hidden"
    );
    let refused = order(
        &server,
        &v.token,
        json!({"items": [{"item_id": v.item, "quantity": 1}]}),
        None,
    )
    .await;
    assert_eq!(refused.status, 422);
    assert_eq!(refused.body["type"], "https://comanda.dev/problems/business-rule");
    assert_eq!(refused.body["errors"][0]["field"], "items[0].item_id");

    let shown = sold_out.body["version"].as_str().unwrap().to_owned();
    let repriced = call(&server, "PATCH", &item_path, Some(&v.owner), Some(json!({"price": {"amount": 2_000_000, "currency": "COP"}, "name": {"es": "Bandeja", "en": "Platter"}, "available": true}))).await;
    assert_eq!(repriced.body["price"]["amount"], 2_000_000);
    assert_eq!(repriced.body["name"]["es"], "Bandeja");
    // A guest's line carries the version its menu showed: the dish changed since (its price), so the line is
    // refused naming the field, not charged at a price the guest never saw; the current version is taken.
    let current = repriced.body["version"].as_str().unwrap().to_owned();
    assert_ne!(current, shown);
    let stale = order(
        &server,
        &v.token,
        json!({"items": [{"item_id": v.item, "quantity": 1, "version": shown}]}),
        None,
    )
    .await;
    assert_eq!(
        (stale.status, stale.body["errors"][0]["field"].clone()),
        (422, json!("items[0].version")),
        "{}",
        stale.body
    );
    let fresh = order(
        &server,
        &v.token,
        json!({"items": [{"item_id": v.item, "quantity": 1, "version": current}]}),
        None,
    )
    .await;
    assert_eq!(fresh.status, 201, "{}", fresh.body);
    // A language left out keeps its text (the Spanish edit blanked the English name).
    let renamed = call(
        &server,
        "PATCH",
        &item_path,
        Some(&v.owner),
        Some(json!({"name": {"es": "Bandeja paisa"}})),
    )
    .await;
    assert_eq!(
        renamed.body["name"],
        json!({"es": "Bandeja paisa", "en": "Platter"}),
        "{}",
        renamed.body
    );
    let blank = call(
        &server,
        "PATCH",
        &item_path,
        Some(&v.owner),
        Some(json!({"name": {"es": " "}})),
    )
    .await;
    assert_eq!(
        (blank.status, blank.body["errors"][0]["field"].clone()),
        (400, json!("name.es"))
    );
    let wrong_currency = call(
        &server,
        "PATCH",
        &item_path,
        Some(&v.owner),
        Some(json!({"price": {"amount": 5, "currency": "USD"}})),
    )
    .await;
    // A well-formed price in another currency than the venue's: a rule of the stored venue, 422.
    assert_eq!(wrong_currency.status, 422);
    assert_eq!(
        wrong_currency.body["type"],
        "https://comanda.dev/problems/business-rule"
    );
    assert_eq!(wrong_currency.body["errors"][0]["field"], "price.currency");
    // Centavos: a price no guest can hand over in cash (18.900,50 COP), on the dish or on one of its options, is
    // refused by rule and nothing changes; whole pesos pass.
    for (body, field) in [
        (
            json!({"price": {"amount": 1_890_050, "currency": "COP"}}),
            "price.amount",
        ),
        (
            json!({"modifiers": [{"name": {"es": "Salsa"}, "options": [{"name": {"es": "Ají"}, "price_delta": 150}]}]}),
            "modifiers[0].options[0].price_delta",
        ),
    ] {
        let centavos = call(&server, "PATCH", &item_path, Some(&v.owner), Some(body)).await;
        assert_eq!(centavos.status, 422, "{}", centavos.body);
        assert_eq!(centavos.body["errors"][0]["field"], field, "{}", centavos.body);
        assert!(
            centavos.body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("whole pesos"),
            "{}",
            centavos.body
        );
    }
    let whole = call(
        &server,
        "PATCH",
        &item_path,
        Some(&v.owner),
        Some(json!({"price": {"amount": 1_890_000, "currency": "COP"}})),
    )
    .await;
    assert_eq!(whole.status, 200, "{}", whole.body);

    let category_path = format!("/api/v1/menu/categories/{}", v.category);
    let renamed = call(
        &server,
        "PATCH",
        &category_path,
        Some(&v.owner),
        Some(json!({"name": {"es": "Fuertes", "en": "Mains"}})),
    )
    .await;
    assert_eq!(renamed.body["name"]["es"], "Fuertes");
    // As for items, a language left out keeps its text, and a blank Spanish name is refused.
    let spanish_only = call(
        &server,
        "PATCH",
        &category_path,
        Some(&v.owner),
        Some(json!({"name": {"es": "Platos fuertes"}})),
    )
    .await;
    assert_eq!(
        spanish_only.body["name"],
        json!({"es": "Platos fuertes", "en": "Mains"}),
        "{}",
        spanish_only.body
    );
    let blank = call(
        &server,
        "PATCH",
        &category_path,
        Some(&v.owner),
        Some(json!({"name": {"es": ""}})),
    )
    .await;
    assert_eq!(
        (blank.status, blank.body["errors"][0]["field"].clone()),
        (400, json!("name.es"))
    );
    assert_eq!(
        call(&server, "DELETE", &category_path, Some(&v.owner), None)
            .await
            .status,
        409,
        "still has an item"
    );
    assert_eq!(
        call(&server, "DELETE", &item_path, Some(&v.owner), None)
            .await
            .status,
        204
    );
    assert_eq!(
        call(&server, "DELETE", &category_path, Some(&v.owner), None)
            .await
            .status,
        204
    );
    assert_eq!(
        call(&server, "DELETE", &item_path, Some(&v.owner), None)
            .await
            .status,
        404
    );
    server.stop().await;
}

#[tokio::test]
async fn a_closed_table_needs_staff_again_and_guests_cancel_only_their_own_orders() {
    let server = TestServer::start().await;
    let v = venue_with_menu(&server, "session@example.co").await;
    let ordering = |device: &'static str| {
        server
            .client
            .post(server.url(&format!("/api/v1/t/{}/orders", v.token)))
            .header("x-guest-device", device)
            .json(&json!({"items": [{"item_id": v.item, "quantity": 1}]}))
            .send()
    };
    let mine: Value = ordering("phone-ana").await.unwrap().json().await.unwrap();
    let theirs: Value = ordering("phone-luis").await.unwrap().json().await.unwrap();
    let cancel = |id: &Value, device: &'static str| {
        server
            .client
            .post(server.url(&format!(
                "/api/v1/t/{}/orders/{}/cancel",
                v.token,
                id.as_str().unwrap()
            )))
            .header("x-guest-device", device)
            .send()
    };
    assert_eq!(
        cancel(&theirs["id"], "phone-ana")
            .await
            .unwrap()
            .status()
            .as_u16(),
        404,
        "not Ana's to cancel"
    );
    assert_eq!(
        cancel(&mine["id"], "phone-ana").await.unwrap().status().as_u16(),
        200
    );
    let bill: Value = server
        .client
        .get(server.url(&format!("/api/v1/t/{}/bill", v.token)))
        .header("x-guest-device", "phone-luis")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let flags: Vec<(String, bool, bool)> = bill["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["status"].as_str().unwrap().to_owned(),
                o["mine"].as_bool().unwrap(),
                o["cancellable"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        flags,
        [
            ("cancelled".to_owned(), false, false),
            ("placed".to_owned(), true, true)
        ]
    );
    assert_eq!(
        bill["bill"]["subtotal"]["amount"], 1_890_000,
        "the cancelled order is off the bill"
    );

    accept_table(&server, &v).await;
    let transition = |id: &Value, to: &'static str| {
        let path = format!("/api/v1/orders/{}/transitions", id.as_str().unwrap());
        let server = &server;
        let owner = v.owner.clone();
        async move { post(server, &path, Some(&owner), json!({"to": to})).await }
    };
    assert_eq!(transition(&theirs["id"], "accepted").await.status, 200);
    assert_eq!(
        cancel(&theirs["id"], "phone-luis")
            .await
            .unwrap()
            .status()
            .as_u16(),
        409,
        "accepted: the kitchen's now"
    );
    let close_path = format!("/api/v1/venues/{}/tables/{}/close", v.venue, v.table);
    assert_eq!(
        post(&server, &close_path, Some(&v.owner), json!({})).await.status,
        409,
        "an order is still open"
    );
    for to in ["preparing", "ready", "served"] {
        assert_eq!(transition(&theirs["id"], to).await.status, 200);
    }
    // API.md: closed once the bill is settled; staff say when it may close unpaid (paid in cash, or never).
    let unsettled = post(&server, &close_path, Some(&v.owner), json!({})).await;
    assert_eq!(unsettled.status, 409, "{}", unsettled.body);
    assert!(
        unsettled.body["type"]
            .as_str()
            .unwrap()
            .ends_with("/bill-not-settled"),
        "{}",
        unsettled.body
    );
    // Settling a bill another way (cash at the table) is for those who handle bills: the kitchen is refused.
    crate::identity::invite_and_join(&server, &v.owner, "cocina@example.co", "kitchen", PASSWORD).await;
    let cook = crate::identity::login(&server, "cocina@example.co", PASSWORD)
        .await
        .body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let by_cook = post(
        &server,
        &format!("{close_path}?unpaid=true"),
        Some(&cook),
        json!({}),
    )
    .await;
    assert_eq!(by_cook.status, 403, "{}", by_cook.body);
    assert_eq!(
        post(
            &server,
            &format!("{close_path}?unpaid=true"),
            Some(&v.owner),
            json!({})
        )
        .await
        .status,
        200
    );

    // The same QR code later: a fresh bill, and the order waits for staff again.
    let next_day = ordering("phone-new").await.unwrap();
    assert_eq!(next_day.status().as_u16(), 201);
    let view = call(&server, "GET", &format!("/api/v1/t/{}", v.token), None, None).await;
    assert_eq!(view.body["session"]["status"], "pending");
    assert_eq!(
        view.body["bill"]["subtotal"]["amount"], 1_890_000,
        "only today's order"
    );
    let kitchen = call(
        &server,
        "GET",
        &format!("/api/v1/venues/{}/orders", v.venue),
        Some(&v.owner),
        None,
    )
    .await;
    assert!(
        kitchen.body["items"].as_array().unwrap().is_empty(),
        "nothing reaches the kitchen before staff accept the table"
    );
    // Accepting a table is taking it as its server (its tips are credited to whoever accepted it): the kitchen does
    // not (a cook who accepted every table from the display was credited every tip).
    let pending = pending_session(&server, &v).await;
    let accept = format!("/api/v1/table-sessions/{pending}/accept");
    assert_eq!(post(&server, &accept, Some(&cook), json!({})).await.status, 403);
    assert_eq!(
        post(&server, &accept, Some(&v.owner), json!({})).await.status,
        200
    );
    server.stop().await;
}

/// What the schema states (quantities 1 to 50, at least one line, notes of at most 300 characters) is bad input,
/// 400; what depends on the menu (a modifier it does not offer, an item it does not have) is a business refusal,
/// 422. Either names the field and writes nothing.
/// A party that changes tables takes its bill (README, the kitchen page): a server moves it, the new
/// table's code shows the bill and adds to it, its cash is voided there, the kitchen's ticket names the new table, and
/// the old table's code starts the next party's bill. A table with a bill of its own, an id that is no table of the
/// venue and the kitchen are refused, each changing nothing.
#[tokio::test]
async fn a_party_moves_tables_with_its_bill() {
    let server = TestServer::start().await;
    let v = venue_with_menu(&server, "mudanza@example.co").await;
    ordered_and_accepted(&server, &v, 2).await;
    let sessions = format!("/api/v1/venues/{}/table-sessions", v.venue);
    let session = call(&server, "GET", &sessions, Some(&v.owner), None).await.body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cash = post(
        &server,
        &format!("/api/v1/venues/{}/tables/{}/cash", v.venue, v.table),
        Some(&v.owner),
        json!({"amount": 1_000_000, "tip": 0}),
    )
    .await;
    assert_eq!(cash.status, 201, "{}", cash.body);
    let table = |label: &'static str| {
        let server = &server;
        let path = format!("/api/v1/venues/{}/tables", v.venue);
        let owner = v.owner.clone();
        async move {
            let made = post(server, &path, Some(&owner), json!({"label": label, "seats": 4})).await;
            assert_eq!(made.status, 201, "{}", made.body);
            (
                made.body["id"].as_str().unwrap().to_owned(),
                made.body["token"].as_str().unwrap().to_owned(),
            )
        }
    };
    // One of the party ordered from their phone, which keeps the old table's page open.
    let from_phone = server
        .client
        .post(server.url(&format!("/api/v1/t/{}/orders", v.token)))
        .header("x-guest-device", "phone-ana")
        .json(&json!({"items": [{"item_id": v.item, "quantity": 1}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(from_phone.status().as_u16(), 201);
    let (terrace, terrace_token) = table("Terraza 1").await;
    let (window, window_token) = table("Ventana").await;
    let other = order(
        &server,
        &window_token,
        json!({"items": [{"item_id": v.item, "quantity": 1}]}),
        None,
    )
    .await;
    assert_eq!(other.status, 201, "{}", other.body);

    let path = format!("/api/v1/table-sessions/{session}/move");
    crate::identity::invite_and_join(
        &server,
        &v.owner,
        "cocina.mudanza@example.co",
        "kitchen",
        PASSWORD,
    )
    .await;
    let cook = crate::identity::login(&server, "cocina.mudanza@example.co", PASSWORD)
        .await
        .body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    for (token, body, status, kind) in [
        (&cook, json!({"table_id": terrace}), 403, "forbidden"),
        (&v.owner, json!({"table_id": window}), 409, "conflict"),
        (
            &v.owner,
            json!({"table_id": uuid::Uuid::now_v7()}),
            422,
            "business-rule",
        ),
        (&v.owner, json!({"table_id": "Terraza"}), 400, "validation"),
        (
            &v.owner,
            json!({"table_id": terrace, "seats": 6}),
            400,
            "validation",
        ),
    ] {
        let refused = post(&server, &path, Some(token), body.clone()).await;
        assert_eq!(refused.status, status, "{body}: {}", refused.body);
        assert!(
            refused.body["type"].as_str().unwrap().ends_with(kind),
            "{body}: {}",
            refused.body
        );
    }
    let nothing = format!("/api/v1/table-sessions/{}/move", uuid::Uuid::now_v7());
    assert_eq!(
        post(&server, &nothing, Some(&v.owner), json!({"table_id": terrace}))
            .await
            .status,
        404
    );
    let bill_on = |token: &str, device: &'static str| {
        let url = server.url(&format!("/api/v1/t/{token}/bill"));
        let client = server.client.clone();
        async move {
            client
                .get(url)
                .header("x-guest-device", device)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let bill = |token: &str| bill_on(token, "phone-luis");
    assert_eq!(
        bill(&v.token).await["bill"]["total"]["amount"],
        5_670_000,
        "nothing moved yet"
    );

    let moved = post(&server, &path, Some(&v.owner), json!({"table_id": terrace})).await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_eq!(
        (moved.body["id"].as_str(), moved.body["table"].as_str()),
        (Some(session.as_str()), Some("Terraza 1"))
    );
    assert_eq!(
        moved.body["balance"]["paid"]["amount"], 1_000_000,
        "{}",
        moved.body
    );
    // The party orders from the new table's code, on the same bill; the old table's code is the next party's.
    let at_terrace = bill(&terrace_token).await;
    assert_eq!(at_terrace["bill"]["total"]["amount"], 5_670_000, "{at_terrace}");
    assert_eq!(at_terrace["balance"]["paid"]["amount"], 1_000_000, "{at_terrace}");
    let more = order(
        &server,
        &terrace_token,
        json!({"items": [{"item_id": v.item, "quantity": 1}]}),
        None,
    )
    .await;
    assert_eq!(more.status, 201, "{}", more.body);
    assert_eq!(bill(&terrace_token).await["bill"]["total"]["amount"], 7_560_000);
    let at_old = bill(&v.token).await;
    assert_eq!(at_old["bill"]["total"]["amount"], 0, "the old table is free");
    assert_eq!(at_old["bill_at"], Value::Null, "{at_old}");
    // The phone that ordered on the bill, still on the old table's page, is told where the bill is now.
    let on_phone = bill_on(&v.token, "phone-ana").await;
    assert_eq!(on_phone["bill_at"], "Terraza 1", "{on_phone}");
    assert_eq!(bill_on(&terrace_token, "phone-ana").await["bill_at"], Value::Null);
    let kitchen = call(
        &server,
        "GET",
        &format!("/api/v1/venues/{}/orders", v.venue),
        Some(&v.owner),
        None,
    )
    .await;
    let tables: Vec<&str> = kitchen.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["served_table_id"].as_str().unwrap())
        .collect();
    assert_eq!(tables, [terrace.as_str(); 3], "{}", kitchen.body);
    // The cash taken at the old table is the bill's, voided where the bill is now.
    let voided = call(
        &server,
        "DELETE",
        &format!(
            "/api/v1/venues/{}/tables/{terrace}/cash/{}",
            v.venue,
            cash.body["cash"]["id"].as_str().unwrap()
        ),
        Some(&v.owner),
        None,
    )
    .await;
    assert_eq!(voided.status, 200, "{}", voided.body);
    let audit = call(
        &server,
        "GET",
        "/api/v1/audit?action=table_session.moved",
        Some(&v.owner),
        None,
    )
    .await;
    let entries = audit.body["items"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{}", audit.body);
    assert_eq!(
        entries[0]["detail"],
        format!("from={} to={terrace}", v.table),
        "{}",
        audit.body
    );
    server.stop().await;
}

#[tokio::test]
async fn lines_that_cannot_be_ordered_are_refused_naming_the_field() {
    let server = TestServer::start().await;
    let v = venue_with_menu(&server, "refuse@example.co").await;
    let long_note = "x".repeat(301);
    let cases = [
        (
            json!({"items": [{"item_id": v.item, "quantity": 51}]}),
            "items[0].quantity",
            400,
        ),
        (
            json!({"items": [{"item_id": v.item, "quantity": 0}]}),
            "items[0].quantity",
            400,
        ),
        (json!({"items": []}), "items", 400),
        (
            json!({"items": [{"item_id": v.item, "quantity": 1, "note": long_note}]}),
            "items[0].note",
            400,
        ),
        (
            json!({"items": [{"item_id": v.item, "quantity": 1, "modifiers": [[0, 9]]}]}),
            "items[0].modifiers",
            422,
        ),
        (
            json!({"items": [{"item_id": "not-an-item", "quantity": 1}]}),
            "items[0].item_id",
            422,
        ),
    ];
    for (body, field, status) in cases {
        let reply = order(&server, &v.token, body.clone(), None).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.body);
        assert_eq!(reply.body["errors"][0]["field"], field, "{body}");
    }
    let bill = call(&server, "GET", &format!("/api/v1/t/{}/bill", v.token), None, None).await;
    assert!(
        bill.body["orders"].as_array().unwrap().is_empty(),
        "nothing was written"
    );
    server.stop().await;
}

/// The kitchen's "86": a cook marks a dish sold out mid-service, without a manager; it leaves the guests' menu at
/// once, an order sent from a menu opened before is refused on that dish, and it comes back the same way. The host,
/// who moves no orders, may not.
#[tokio::test]
async fn the_kitchen_marks_a_dish_sold_out_and_back() {
    let server = TestServer::start().await;
    let v = venue_with_menu(&server, "ochenta-y-seis@example.co").await;
    crate::identity::invite_and_join(&server, &v.owner, "cocina86@example.co", "kitchen", PASSWORD).await;
    crate::identity::invite_and_join(&server, &v.owner, "host86@example.co", "host", PASSWORD).await;
    let token_of = |email: &'static str| {
        let server = &server;
        async move {
            let signed_in = crate::identity::login(server, email, PASSWORD).await;
            assert_eq!(signed_in.status, 200, "{}", signed_in.body);
            signed_in.body["access_token"].as_str().unwrap().to_owned()
        }
    };
    let (cook, host) = (
        token_of("cocina86@example.co").await,
        token_of("host86@example.co").await,
    );
    let path = format!("/api/v1/menu/items/{}/availability", v.item);
    let mark = async |token: &str, available: bool| {
        call(
            &server,
            "PUT",
            &path,
            Some(token),
            Some(json!({"available": available})),
        )
        .await
    };
    let order_dish = async || {
        let body = json!({"items": [{"item_id": v.item, "quantity": 1}]});
        post(&server, &format!("/api/v1/t/{}/orders", v.token), None, body).await
    };
    let refused = mark(&host, false).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    let sold_out = mark(&cook, false).await;
    assert_eq!(sold_out.status, 200, "{}", sold_out.body);
    assert_eq!(sold_out.body["available"], false);
    let guest_menu = call(&server, "GET", &format!("/api/v1/t/{}", v.token), None, None).await;
    let dishes: Vec<&Value> = guest_menu.body["menu"]["categories"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["items"].as_array().unwrap())
        .collect();
    assert!(dishes.iter().all(|d| d["id"] != json!(v.item)), "{dishes:?}");
    let ordered = order_dish().await;
    assert_eq!(ordered.status, 422, "{}", ordered.body);
    assert_eq!(
        ordered.body["errors"][0]["message"], "is sold out",
        "{}",
        ordered.body
    );
    let back = mark(&cook, true).await;
    assert_eq!(back.status, 200, "{}", back.body);
    let ordered = order_dish().await;
    assert_eq!(ordered.status, 201, "{}", ordered.body);
    // Only the availability: anything else in the body is refused, not ignored.
    let more = call(
        &server,
        "PUT",
        &path,
        Some(&cook),
        Some(json!({"available": true, "price": 1})),
    )
    .await;
    assert_eq!(more.status, 400, "{}", more.body);
    let audit = call(&server, "GET", "/api/v1/audit?limit=200", Some(&v.owner), None).await;
    let actions: Vec<&str> = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .filter(|a| *a == "menu.item_availability")
        .collect();
    assert_eq!(actions.len(), 2, "{}", audit.body);
    server.stop().await;
}
