//! The audit trail through the real HTTPS server, on SQLite and on PostgreSQL (MON-5, MON-6): every authenticated
//! request is recorded with who, partner, what, when, from where and which request; owners filter and export it;
//! the chain verifies, and an entry edited behind the server's back is named.

use serde_json::{Value, json};
use sqlx::Connection;

use crate::identity::{PASSWORD, call, enrolled, invite_and_join, post, sign_up};
use crate::support::{Engine, TestServer};

pub async fn every_authenticated_request_is_chained_and_verifiable(engine: Engine) {
    // Batches written only when the log is read, so the records below wait while the clock moves on.
    let server = TestServer::start_on(engine, |config| config.audit.access_flush_millis = 60_000).await;
    let owner = sign_up(&server, "auditor@example.co").await;
    let owner_id = owner["user_id"].as_str().unwrap().to_owned();
    let session = enrolled(&server, "auditor@example.co", PASSWORD).await;
    let token = Some(session.access.as_str());
    assert_eq!(
        call(&server, "GET", "/api/v1/venues", token, None).await.status,
        200
    );
    assert_eq!(call(&server, "GET", "/api/v1/me", token, None).await.status, 200);
    let denied = call(&server, "GET", "/api/v1/venues/not-a-venue/tables", token, None).await;
    assert_eq!(denied.status, 404);
    // What never reaches a route is the member's request too: no route (404), a method the route does not take
    // (405), a body over the limit (413), a card number refused before routing (400, recorded without its path).
    let refused = [
        ("GET", "/api/v1/no-such-route", None, 404),
        ("PUT", "/api/v1/venues", Some(json!({})), 405),
        (
            "POST",
            "/api/v1/venues",
            Some(json!({"name": "x".repeat(1_100_000)})),
            413,
        ),
        ("GET", "/api/v1/venues/4242424242424242/tables", None, 400),
    ];
    for (method, path, body, status) in refused {
        assert_eq!(
            call(&server, method, path, token, body).await.status,
            status,
            "{method} {path}"
        );
    }
    // The records are written in batches; each keeps when its request happened, not when its batch was written.
    let asked = comanda_domain::Clock::now(&server.clock);
    server.clock.advance(time::Duration::minutes(10));

    let requests = call(
        &server,
        "GET",
        "/api/v1/audit?action=http.&limit=200",
        token,
        None,
    )
    .await;
    assert_eq!(requests.status, 200, "{}", requests.body);
    let items = requests.body["items"].as_array().unwrap();
    let find = |path: &str| -> &Value {
        items
            .iter()
            .find(|e| e["target"] == path)
            .unwrap_or_else(|| panic!("{path} not recorded: {items:?}"))
    };
    let venues = find("/api/v1/venues");
    assert_eq!(venues["action"], "http.get");
    assert_eq!(venues["actor"], owner_id.as_str());
    assert_eq!(venues["source"], "127.0.0.1");
    assert!(venues["request_id"].as_str().is_some_and(|r| !r.is_empty()));
    assert_eq!(venues["detail"], "route=/api/v1/venues status=200");
    let at = time::OffsetDateTime::parse(
        venues["at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(at <= asked, "recorded at {at}, the request was before {asked}");
    let missing = find("/api/v1/venues/not-a-venue/tables");
    assert!(missing["detail"].as_str().unwrap().ends_with("status=404"));
    for (path, detail) in [
        ("/api/v1/no-such-route", "route=- status=404"),
        ("/api/v1/venues", "route=/api/v1/venues status=405"),
        ("/api/v1/venues", "route=- status=413"),
    ] {
        assert!(
            items
                .iter()
                .any(|e| e["target"] == path && e["detail"] == detail && e["actor"] == owner_id.as_str()),
            "{path} {detail} not recorded: {items:?}"
        );
    }
    let card = items
        .iter()
        .find(|e| e["detail"] == "route=- status=400")
        .unwrap_or_else(|| panic!("the card number's refusal not recorded: {items:?}"));
    assert!(card["target"].is_null(), "{card}");
    assert!(!format!("{items:?}").contains("4242424242424242"));
    find("/api/v1/me");

    // Filters narrow; a filter that is not one is a clear 400 naming the field.
    let by_actor = call(
        &server,
        "GET",
        &format!("/api/v1/audit?actor={owner_id}&action=mfa.enrolled"),
        token,
        None,
    )
    .await;
    assert_eq!(
        by_actor.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        by_actor.body
    );
    let bad = call(
        &server,
        "GET",
        "/api/v1/audit?from=yesterday&actor=x",
        token,
        None,
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(
        bad.body["type"], "https://comanda.dev/problems/validation",
        "{}",
        bad.body
    );
    let fields: Vec<&str> = bad.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["from", "actor"]);
    // Backwards is a rule broken, said, not an empty page.
    let backwards = call(
        &server,
        "GET",
        "/api/v1/audit?from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z",
        token,
        None,
    )
    .await;
    assert_eq!(backwards.status, 422, "{}", backwards.body);
    assert_eq!(backwards.body["errors"][0]["field"], "to", "{}", backwards.body);

    // CSV export for owners and auditors.
    let csv = server
        .client
        .get(server.url("/api/v1/audit/export.csv?action=http."))
        .bearer_auth(&session.access)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status().as_u16(), 200);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = csv.text().await.unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("id,at,actor,action,target,source,request_id,detail")
    );
    assert!(
        lines.any(|l| l.contains(",http.get,/api/v1/venues,127.0.0.1,")),
        "{csv}"
    );

    let verified = call(&server, "GET", "/api/v1/audit/verify", token, None).await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    assert_eq!(verified.body["verified"], true, "{}", verified.body);
    assert!(
        verified.body["entries"].as_u64().unwrap() >= 8,
        "{}",
        verified.body
    );
    assert_eq!(verified.body["checkpoint_key"].as_str().unwrap().len(), 64);

    // Someone with database access edits the registration entry behind the server's back.
    let edited = tamper_with_registration(&server).await;
    let broken = call(&server, "GET", "/api/v1/audit/verify", token, None).await;
    assert_eq!(broken.body["verified"], false, "{}", broken.body);
    assert_eq!(broken.body["entry"], edited.as_str(), "{}", broken.body);
    assert!(
        broken.body["problem"].as_str().unwrap().contains("was edited"),
        "{}",
        broken.body
    );
    server.stop().await;
}

/// Rewrites the `partner.registered` entry's detail with the append-only trigger out of the way; returns its id.
async fn tamper_with_registration(server: &TestServer) -> String {
    match server.superuser_url() {
        Some(url) => {
            let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
            let id: uuid::Uuid =
                sqlx::query_scalar("SELECT id FROM audit_events WHERE action = 'partner.registered'")
                    .fetch_one(&mut conn)
                    .await
                    .unwrap();
            sqlx::raw_sql(
                "ALTER TABLE audit_events DISABLE TRIGGER USER;
                 UPDATE audit_events SET detail = 'forged' WHERE action = 'partner.registered';
                 ALTER TABLE audit_events ENABLE TRIGGER USER;",
            )
            .execute(&mut conn)
            .await
            .unwrap();
            id.to_string()
        }
        None => {
            let mut conn = sqlx::SqliteConnection::connect(&server.database.url)
                .await
                .unwrap();
            let id: String =
                sqlx::query_scalar("SELECT id FROM audit_events WHERE action = 'partner.registered'")
                    .fetch_one(&mut conn)
                    .await
                    .unwrap();
            sqlx::raw_sql(
                "DROP TRIGGER audit_events_no_update;
                 UPDATE audit_events SET detail = 'forged' WHERE action = 'partner.registered';",
            )
            .execute(&mut conn)
            .await
            .unwrap();
            id
        }
    }
}

/// MON-5, MON-6 (issue 15): every venue, table, menu, order and session change appends its own entry, a guest's
/// without actor or address; a member refused with 403 and a guest's request by table token are recorded too.
pub async fn every_change_and_every_refusal_is_audited(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let v = crate::ordering::venue_with_menu(&server, "changes@example.co").await;
    let owner = Some(v.owner.as_str());
    let edited = call(
        &server,
        "PATCH",
        &format!("/api/v1/menu/items/{}", v.item),
        owner,
        Some(json!({"available": false})),
    )
    .await;
    assert_eq!(edited.status, 200, "{}", edited.body);
    let edited = call(
        &server,
        "PATCH",
        &format!("/api/v1/menu/items/{}", v.item),
        owner,
        Some(json!({"available": true})),
    )
    .await;
    assert_eq!(edited.status, 200, "{}", edited.body);
    let guest_view = call(&server, "GET", &format!("/api/v1/t/{}", v.token), None, None).await;
    assert_eq!(guest_view.status, 200);
    let placed = post(
        &server,
        &format!("/api/v1/t/{}/orders", v.token),
        None,
        json!({"items": [{"item_id": v.item, "quantity": 1}]}),
    )
    .await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    let order = placed.body["id"].as_str().unwrap().to_owned();
    crate::ordering::accept_table(&server, &v).await;
    let moved = post(
        &server,
        &format!("/api/v1/orders/{order}/transitions"),
        owner,
        json!({"to": "accepted"}),
    )
    .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    // A refused change leaves no change entry: the category still has its item.
    let refused = call(
        &server,
        "DELETE",
        &format!("/api/v1/menu/categories/{}", v.category),
        owner,
        None,
    )
    .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    // A waiter's valid token on a route their role does not allow: 403, recorded.
    let waiter = invite_and_join(
        &server,
        &v.owner,
        "waiter@example.co",
        "server",
        "a much longer passphrase",
    )
    .await;
    let signed_in = post(
        &server,
        "/api/v1/auth/login",
        None,
        json!({"email": "waiter@example.co", "password": "a much longer passphrase"}),
    )
    .await;
    let waiter_token = signed_in.body["access_token"].as_str().unwrap().to_owned();
    let forbidden = post(
        &server,
        "/api/v1/venues",
        Some(&waiter_token),
        json!({"name": "Sede Norte", "timezone": "America/Bogota"}),
    )
    .await;
    assert_eq!(forbidden.status, 403, "{}", forbidden.body);

    let log = call(&server, "GET", "/api/v1/audit?limit=200", owner, None).await;
    assert_eq!(log.status, 200, "{}", log.body);
    let items = log.body["items"].as_array().unwrap();
    let with = |action: &str| -> Vec<&Value> { items.iter().filter(|e| e["action"] == action).collect() };
    let one = |action: &str, target: &str| -> &Value {
        with(action)
            .into_iter()
            .find(|e| e["target"] == target)
            .unwrap_or_else(|| panic!("no {action} of {target}: {items:#?}"))
    };
    let owner_id = one("venue.created", &v.venue)["actor"].clone();
    assert!(owner_id.is_string());
    assert_eq!(one("table.created", &v.table)["actor"], owner_id);
    one("menu.category_created", &v.category);
    one("menu.item_created", &v.item);
    assert_eq!(with("menu.item_updated").len(), 2);
    assert!(
        with("menu.category_deleted").is_empty(),
        "a refused change is not recorded"
    );
    let guest_order = one("order.placed", &order);
    assert!(
        guest_order["actor"].is_null() && guest_order["source"].is_null(),
        "{guest_order}"
    );
    assert_eq!(guest_order["detail"], format!("table={} by=guest", v.table));
    assert_eq!(with("table_session.accepted").len(), 1);
    let transitioned = one("order.transitioned", &order);
    assert_eq!(transitioned["detail"], "from=placed to=accepted");
    assert_eq!(transitioned["source"], "127.0.0.1");
    assert!(transitioned["request_id"].as_str().is_some_and(|r| !r.is_empty()));

    // The access log: the 403 with the waiter as actor; the guest's reads by route template, token-free.
    let refused_access = items
        .iter()
        .find(|e| e["actor"] == waiter.as_str() && e["action"] == "http.post")
        .unwrap_or_else(|| panic!("the 403 is not recorded: {items:#?}"));
    assert_eq!(refused_access["detail"], "route=/api/v1/venues status=403");
    let guest_read = items
        .iter()
        .find(|e| e["action"] == "http.get" && e["target"] == "/api/v1/t/{token}")
        .unwrap_or_else(|| panic!("the guest's read is not recorded: {items:#?}"));
    assert!(
        guest_read["actor"].is_null() && guest_read["source"].is_null(),
        "{guest_read}"
    );
    assert_eq!(guest_read["detail"], "route=/api/v1/t/{token} status=200");
    assert!(
        !log.body.to_string().contains(&v.token),
        "no table token reaches the audit log"
    );
    let verified = call(&server, "GET", "/api/v1/audit/verify", owner, None).await;
    assert_eq!(verified.body["verified"], true, "{}", verified.body);
    server.stop().await;
}

on_both_engines!(
    every_authenticated_request_is_chained_and_verifiable,
    every_change_and_every_refusal_is_audited,
);

/// MON-5: the signed checkpoints are the anchor that someone with only the database cannot forge. With them deleted
/// (their trigger dropped first), a chain truncated and its head rewound would still hash and link; so entries older
/// than the checkpoint interval allows that no checkpoint covers break verification — and the server's next upkeep
/// refuses to sign over them (that would anchor the rewrite), raising `audit.unanchored` instead.
#[tokio::test]
async fn old_entries_no_checkpoint_covers_do_not_verify() {
    let server = TestServer::start().await;
    let partner = sign_up(&server, "ancla@example.co").await["partner_id"]
        .as_str()
        .unwrap()
        .parse::<uuid::Uuid>()
        .unwrap();
    let session = enrolled(&server, "ancla@example.co", PASSWORD).await;
    server.server().run_audit_upkeep().await.unwrap();
    server.clock.advance(time::Duration::hours(1));
    let pair = post(
        &server,
        "/api/v1/auth/refresh",
        None,
        json!({"refresh_token": session.refresh}),
    )
    .await;
    assert_eq!(pair.status, 200, "{}", pair.body);
    let token = pair.body["access_token"].as_str();
    let verified = call(&server, "GET", "/api/v1/audit/verify", token, None).await;
    assert_eq!(verified.body["verified"], true, "{}", verified.body);
    let mut conn = sqlx::SqliteConnection::connect(&server.database.url)
        .await
        .unwrap();
    sqlx::raw_sql("DROP TRIGGER audit_checkpoints_no_delete; DELETE FROM audit_checkpoints;")
        .execute(&mut conn)
        .await
        .unwrap();
    let broken = call(&server, "GET", "/api/v1/audit/verify", token, None).await;
    assert_eq!(broken.body["verified"], false, "{}", broken.body);
    assert!(
        broken.body["problem"]
            .as_str()
            .unwrap()
            .contains("no signed checkpoint covers it"),
        "{}",
        broken.body
    );
    let report = server.server().run_audit_upkeep().await.unwrap();
    assert_eq!(report.checkpoints, 0, "nothing signed over the gap");
    let still = call(&server, "GET", "/api/v1/audit/verify", token, None).await;
    assert_eq!(still.body["verified"], false, "{}", still.body);
    let alerts: i64 = sqlx::query_scalar("SELECT count(*) FROM alerts WHERE kind = 'audit.unanchored'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(alerts, 1);
    // The dropped trigger itself is seen, not trusted: the upkeep names it in `audit.guard_missing`, once.
    assert_eq!(report.missing_guards, 1);
    server.server().run_audit_upkeep().await.unwrap();
    let guard: Vec<String> =
        sqlx::query_scalar("SELECT detail FROM alerts WHERE kind = 'audit.guard_missing'")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(guard.len(), 1, "{guard:?}");
    assert!(guard[0].contains("audit_checkpoints_no_delete"), "{guard:?}");
    // An operator who found the entries genuine (here they are) records that in the chain and signs it.
    let scope = comanda_security::TenantScope::from_proof(&comanda_security::tenancy::JobAuthority::new(
        "test",
        comanda_domain::PartnerId::from_uuid(partner),
    ));
    let signed = server
        .server()
        .audit()
        .anchor_after_review(&scope, "server killed at 03:10; entries match its access log")
        .await
        .unwrap();
    assert_eq!(signed, 1);
    let anchored = call(&server, "GET", "/api/v1/audit/verify", token, None).await;
    assert_eq!(anchored.body["verified"], true, "{}", anchored.body);
    // The whole chain deleted — every entry, head and checkpoint of the partner, triggers dropped — is a break, not
    // "0 entries verified": the partner's registration was audited (an outside audit found it verified).
    sqlx::raw_sql("DROP TRIGGER audit_events_no_delete;")
        .execute(&mut conn)
        .await
        .unwrap();
    // The entries still waiting to be chained (this test's own requests) go too, as a wipe would take them.
    server.server().audit().flush().await;
    for table in [
        "audit_pending",
        "audit_events",
        "audit_heads",
        "audit_checkpoints",
    ] {
        let wipe = match table {
            "audit_pending" => "DELETE FROM audit_pending WHERE partner_id = $1",
            "audit_events" => "DELETE FROM audit_events WHERE partner_id = $1",
            "audit_heads" => "DELETE FROM audit_heads WHERE partner_id = $1",
            _ => "DELETE FROM audit_checkpoints WHERE partner_id = $1",
        };
        let gone = sqlx::query(wipe)
            .bind(partner.to_string())
            .execute(&mut conn)
            .await
            .unwrap();
        assert!(gone.rows_affected() > 0 || table == "audit_pending", "{table}");
    }
    let scope = comanda_security::TenantScope::from_proof(&comanda_security::tenancy::JobAuthority::new(
        "test",
        comanda_domain::PartnerId::from_uuid(partner),
    ));
    let wiped = server.server().audit().verify(&scope).await.unwrap();
    assert!(
        matches!(wiped, Err(comanda_security::audit_chain::ChainBreak::Emptied)),
        "{wiped:?}"
    );
    server.stop().await;
}
