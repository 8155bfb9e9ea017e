//! Personal data at rest and data-subject rights through the real HTTPS server, on SQLite and on PostgreSQL
//! (REST-1, PRIV-1): after a realistic workload no sensitive plaintext is in the database file or a dump; a sealed
//! value moved to another partner's row does not decrypt; a person's data is exported, rectified and erased.

use serde_json::json;
use sqlx::Connection;

use crate::identity::{PASSWORD, Reply, call, enrolled, invite_and_join, post};
use crate::support::{Engine, TestServer};

const OWNER_EMAIL: &str = "anacleta.quinones@example.co";
const OWNER_NAME: &str = "Anacleta Quiñones Restrepo";
const MEMBER_EMAIL: &str = "luis.zambrano@example.co";
const MEMBER_NAME: &str = "Luis Pérez Zambrano";

/// Every byte the database holds: the SQLite file and its neighbours, or a superuser's dump (above row-level
/// security) of every PostgreSQL table.
pub fn database_bytes(server: &TestServer) -> String {
    match server.superuser_url() {
        Some(url) => {
            let bin = comanda_store::testing::postgres_bin_dir().unwrap();
            let dump = std::process::Command::new(bin.join("pg_dump"))
                .args(["--data-only", "--dbname", &url])
                .output()
                .unwrap();
            assert!(dump.status.success(), "{}", String::from_utf8_lossy(&dump.stderr));
            String::from_utf8_lossy(&dump.stdout).into_owned()
        }
        None => {
            let mut all = String::new();
            for entry in std::fs::read_dir(server.dir.path().join("data")).unwrap() {
                let path = entry.unwrap().path();
                let is_database = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("comanda.db"));
                if is_database {
                    all.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
                }
            }
            all
        }
    }
}

/// Signs up `business` with the owner these tests follow; the sign-up's answer (201).
async fn sign_up_owner(server: &TestServer, business: &str) -> Reply {
    let signup = post(
        server,
        "/api/v1/signup",
        None,
        json!({"business_name": business, "country": "CO",
               "owner": {"name": OWNER_NAME, "email": OWNER_EMAIL, "password": PASSWORD}}),
    )
    .await;
    assert_eq!(signup.status, 201, "{}", signup.body);
    signup
}

pub async fn personal_data_is_sealed_exported_rectified_and_erased(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let signup = sign_up_owner(&server, "Privacidad S.A.S.").await;
    let owner = enrolled(&server, OWNER_EMAIL, PASSWORD).await;
    let owner_token = Some(owner.access.as_str());
    let member_id = invite_and_join(&server, &owner.access, MEMBER_EMAIL, "server", PASSWORD).await;

    // Rectification by the owner: the member's name was misspelt.
    let rectified = post(
        &server,
        "/api/v1/privacy/requests",
        owner_token,
        json!({"kind": "rectify", "subject": member_id, "name": MEMBER_NAME}),
    )
    .await;
    assert_eq!(rectified.status, 200, "{}", rectified.body);
    assert_eq!(rectified.body["name"], MEMBER_NAME);

    // The member exports their own data.
    let member_login = post(
        &server,
        "/api/v1/auth/login",
        None,
        json!({"email": MEMBER_EMAIL, "password": PASSWORD}),
    )
    .await;
    let member_token = member_login.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        call(&server, "GET", "/api/v1/me", Some(&member_token), None)
            .await
            .status,
        200
    );
    let export = post(
        &server,
        "/api/v1/privacy/requests",
        Some(&member_token),
        json!({"kind": "export", "subject": member_id}),
    )
    .await;
    assert_eq!(export.status, 200, "{}", export.body);
    assert_eq!(export.body["subject"]["email"], MEMBER_EMAIL);
    assert_eq!(export.body["subject"]["name"], MEMBER_NAME);
    // Mail at rest outside the sealed store (the file sink's outbox) is part of the person's data.
    let mail = export.body["mail"].as_array().unwrap();
    assert!(
        mail.iter()
            .any(|m| m["subject"].as_str().unwrap_or_default().contains("invited")),
        "the invitation mail is exported: {mail:?}"
    );
    let activity = export.body["activity"].as_array().unwrap();
    assert!(
        activity.iter().any(|e| e["target"] == "/api/v1/me"),
        "{activity:?}"
    );
    // …but not someone else's, and not an erasure.
    let owner_id = signup.body["user_id"].as_str().unwrap();
    for body in [
        json!({"kind": "export", "subject": owner_id}),
        json!({"kind": "erase", "subject": member_id}),
    ] {
        let refused = post(&server, "/api/v1/privacy/requests", Some(&member_token), body).await;
        assert_eq!(refused.status, 403, "{}", refused.body);
    }
    let bad = post(
        &server,
        "/api/v1/privacy/requests",
        owner_token,
        json!({"kind": "rectify", "subject": member_id, "email": "not an email"}),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    // Well-formed, but nothing to correct: the rule refuses it (422), as schemathesis expects of a schema-valid body.
    let empty = post(
        &server,
        "/api/v1/privacy/requests",
        owner_token,
        json!({"kind": "rectify", "subject": member_id}),
    )
    .await;
    assert_eq!(empty.status, 422, "{}", empty.body);
    assert_eq!(empty.body["errors"][0]["field"], "email", "{}", empty.body);

    // REST-1: after this workload, no sensitive plaintext is in the database.
    let stored = database_bytes(&server);
    assert!(
        stored.contains("Privacidad S.A.S."),
        "the scan reads the real rows"
    );
    for secret in [
        OWNER_EMAIL,
        OWNER_NAME,
        MEMBER_EMAIL,
        MEMBER_NAME,
        owner.secret.as_str(),
    ] {
        assert!(!stored.contains(secret), "{secret} is stored in clear");
    }
    for code in &owner.recovery_codes {
        assert!(
            !stored.contains(code.as_str()),
            "a recovery code is stored in clear"
        );
    }

    // A sealed value copied into another partner's row does not decrypt there.
    let other = post(
        &server,
        "/api/v1/signup",
        None,
        json!({"business_name": "Otra Casa", "country": "CO",
               "owner": {"name": "Otra Persona", "email": "otra@example.co", "password": PASSWORD}}),
    )
    .await;
    let other_owner = other.body["user_id"].as_str().unwrap().to_owned();
    let other_session = enrolled(&server, "otra@example.co", PASSWORD).await;
    move_sealed_email(&server, &member_id, &other_owner).await;
    let me = call(&server, "GET", "/api/v1/me", Some(&other_session.access), None).await;
    assert_ne!(me.status, 200, "a moved ciphertext must not open: {}", me.body);
    assert!(!me.body.to_string().contains(MEMBER_EMAIL));

    // Erasure: the only owner cannot be erased; the member can, and is gone for good.
    let last_owner = post(
        &server,
        "/api/v1/privacy/requests",
        owner_token,
        json!({"kind": "erase", "subject": owner_id}),
    )
    .await;
    assert_eq!(last_owner.status, 409, "{}", last_owner.body);
    let erased = post(
        &server,
        "/api/v1/privacy/requests",
        owner_token,
        json!({"kind": "erase", "subject": member_id}),
    )
    .await;
    assert_eq!(erased.status, 200, "{}", erased.body);
    assert_eq!(erased.body["key_destroyed"], true);
    assert_eq!(erased.body["member_removed"], true);
    assert!(
        erased.body["mail_files_removed"].as_u64().unwrap() >= 1,
        "{}",
        erased.body
    );
    // No file under the data directory holds the erased member's address (mail files, database, keys, backups).
    let files = data_files(&server);
    for (path, text) in &files {
        assert!(
            !text.contains(MEMBER_EMAIL),
            "{MEMBER_EMAIL} is still in {}",
            path.display()
        );
    }
    assert!(files.len() > 3, "the scan read the data directory");
    let login = post(
        &server,
        "/api/v1/auth/login",
        None,
        json!({"email": MEMBER_EMAIL, "password": PASSWORD}),
    )
    .await;
    assert_eq!(login.status, 401);
    let gone = post(
        &server,
        "/api/v1/privacy/requests",
        owner_token,
        json!({"kind": "export", "subject": member_id}),
    )
    .await;
    assert_eq!(gone.status, 404, "{}", gone.body);
    // The erasure is audited and the chain still verifies.
    let verified = call(&server, "GET", "/api/v1/audit/verify", owner_token, None).await;
    assert_eq!(verified.body["verified"], true, "{}", verified.body);
    let erasures = call(
        &server,
        "GET",
        "/api/v1/audit?action=privacy.erased",
        owner_token,
        None,
    )
    .await;
    assert_eq!(erasures.body["items"][0]["target"], member_id.as_str());
    server.stop().await;
}

/// A privacy request about another member reaches no further than the staff routes: a manager, who cannot change or
/// remove an owner there, cannot rename, re-address (their sign-in), export or erase one here either, by id or by
/// email, nor another manager; the floor roles and their own data they can.
pub async fn a_manager_acts_only_on_the_members_they_manage(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let signup = sign_up_owner(&server, "Jerarquía S.A.S.").await;
    let owner_id = signup.body["user_id"].as_str().unwrap().to_owned();
    let owner = enrolled(&server, OWNER_EMAIL, PASSWORD).await;
    let second_owner = invite_and_join(&server, &owner.access, "segunda@example.co", "owner", PASSWORD).await;
    let other_manager = invite_and_join(
        &server,
        &owner.access,
        "otro.gerente@example.co",
        "manager",
        PASSWORD,
    )
    .await;
    let floor = invite_and_join(&server, &owner.access, MEMBER_EMAIL, "server", PASSWORD).await;
    let manager_id = invite_and_join(&server, &owner.access, "gerente@example.co", "manager", PASSWORD).await;
    let manager = enrolled(&server, "gerente@example.co", PASSWORD).await;
    let ask = async |body: serde_json::Value| {
        post(&server, "/api/v1/privacy/requests", Some(&manager.access), body).await
    };
    for subject in [&owner_id, &second_owner, &other_manager] {
        for body in [
            json!({"kind": "rectify", "subject": subject, "email": "tomado@example.co"}),
            json!({"kind": "rectify", "subject": subject, "name": "Renombrado"}),
            json!({"kind": "export", "subject": subject}),
            json!({"kind": "erase", "subject": subject}),
        ] {
            let refused = ask(body.clone()).await;
            assert_eq!(refused.status, 403, "{body}: {}", refused.body);
        }
    }
    let by_email = ask(
        json!({"kind": "rectify", "subject": {"email": "segunda@example.co"},
                             "email": "tomado@example.co"}),
    )
    .await;
    assert_eq!(by_email.status, 403, "{}", by_email.body);
    let erase_by_email = ask(json!({"kind": "erase", "subject": {"email": OWNER_EMAIL}})).await;
    assert_eq!(erase_by_email.status, 403, "{}", erase_by_email.body);
    // Nothing moved: both owners still sign in with their own addresses.
    for email in [OWNER_EMAIL, "segunda@example.co"] {
        let login = post(
            &server,
            "/api/v1/auth/login",
            None,
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
        assert_eq!(login.status, 200, "{email}: {}", login.body);
    }
    // The floor roles and the manager's own data are theirs to handle; an owner handles anyone.
    let renamed = ask(json!({"kind": "rectify", "subject": floor, "name": MEMBER_NAME})).await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    let own = ask(json!({"kind": "export", "subject": manager_id})).await;
    assert_eq!(own.status, 200, "{}", own.body);
    let by_owner = post(
        &server,
        "/api/v1/privacy/requests",
        Some(&owner.access),
        json!({"kind": "rectify", "subject": other_manager, "name": "Gerente Corregido"}),
    )
    .await;
    assert_eq!(by_owner.status, 200, "{}", by_owner.body);
    server.stop().await;
}

/// REST-1: a member's client address is personal data. After a workload from one address (sign-up, enrolment, a
/// wrong password, requests, an export), neither the database file nor a dump holds it: the audit trail and the
/// security events keep it sealed with the member's key (the partner's for a failed sign-in), the owner still reads
/// it, the member's export carries it, and the chain still verifies.
pub async fn client_addresses_are_sealed_at_rest(engine: Engine) {
    const ADDRESS: &str = "203.0.113.77";
    let mut server = TestServer::start_on(engine, |config| {
        config.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]
    })
    .await;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-forwarded-for", ADDRESS.parse().unwrap());
    server.client = reqwest::Client::builder()
        .use_preconfigured_tls(crate::support::client_config(
            &[server.cert_path()],
            &[&rustls::version::TLS13],
        ))
        .default_headers(headers)
        .build()
        .unwrap();
    let signup = sign_up_owner(&server, "Direcciones S.A.S.").await;
    let owner_id = signup.body["user_id"].as_str().unwrap().to_owned();
    let owner = enrolled(&server, OWNER_EMAIL, PASSWORD).await;
    let token = Some(owner.access.as_str());
    let wrong = post(
        &server,
        "/api/v1/auth/login",
        None,
        json!({"email": OWNER_EMAIL, "password": "not the password at all"}),
    )
    .await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    assert_eq!(call(&server, "GET", "/api/v1/me", token, None).await.status, 200);

    // The owner reads the addresses in the audit log, the failed sign-in's included.
    let log = call(&server, "GET", "/api/v1/audit?limit=100", token, None).await;
    assert_eq!(log.status, 200, "{}", log.body);
    let items = log.body["items"].as_array().unwrap();
    assert!(
        items
            .iter()
            .any(|e| e["actor"] == owner_id.as_str() && e["source"] == ADDRESS),
        "{items:?}"
    );
    assert!(
        items
            .iter()
            .any(|e| e["actor"].is_null() && e["source"] == ADDRESS),
        "the failed sign-in keeps its address: {items:?}"
    );
    // A detail written in clear before details were sealed (an upgraded database) is sealed by the next upkeep.
    insert_clear_security_event(
        &server,
        &signup.body["partner_id"],
        &owner_id,
        "network 203.0.113.0/24 (old)",
    )
    .await;
    // Long written: in the database file itself, not only in SQLite's write-ahead log.
    checkpoint(&server).await;
    let upkeep = server.server().run_audit_upkeep().await.unwrap();
    assert_eq!(upkeep.sealed_security_events, 1, "{upkeep:?}");
    // The member's export carries them, and the security event naming their network.
    let export = post(
        &server,
        "/api/v1/privacy/requests",
        token,
        json!({"kind": "export", "subject": owner_id}),
    )
    .await;
    assert_eq!(export.status, 200, "{}", export.body);
    assert!(
        export.body["activity"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["source"] == ADDRESS),
        "{}",
        export.body["activity"]
    );
    let events = export.body["security_events"].as_array().unwrap();
    assert!(
        events
            .iter()
            .any(|e| e["detail"] == "network 203.0.113.0/24 (old)"),
        "the old event reads as before: {events:?}"
    );
    assert!(
        events.iter().any(|e| e["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("203.0.113.0/24")),
        "{events:?}"
    );

    checkpoint(&server).await;
    let stored = database_bytes(&server);
    assert!(
        stored.contains("Direcciones S.A.S."),
        "the scan reads the real rows"
    );
    assert!(stored.contains("enc1:"), "the scan sees sealed values");
    assert!(
        !stored.contains("203.0.113."),
        "a client address or network is stored in clear"
    );
    let verified = call(&server, "GET", "/api/v1/audit/verify", token, None).await;
    assert_eq!(verified.body["verified"], true, "{}", verified.body);

    // The one address kept in clear, an attacker's named by a platform alert, goes after 12 months.
    let store = server.store().await;
    let now = comanda_domain::Clock::now(&server.clock);
    for (address, at) in [
        ("198.51.100.66", now - time::Duration::days(367)),
        ("198.51.100.67", now),
    ] {
        store
            .raise_alert(
                None,
                "auth.credential_stuffing",
                &format!("client {address}: …"),
                at,
            )
            .await
            .unwrap();
    }
    let upkeep = server.server().run_audit_upkeep().await.unwrap();
    assert_eq!(upkeep.pruned_alerts, 1, "{upkeep:?}");
    let left = store.alerts(time::OffsetDateTime::UNIX_EPOCH).await.unwrap();
    assert!(
        left.iter().all(|a| !a.detail.contains("198.51.100.66")),
        "{left:?}"
    );
    assert!(
        left.iter().any(|a| a.detail.contains("198.51.100.67")),
        "a fresh alert stays"
    );
    server.stop().await;
}

/// On SQLite, what its periodic checkpoint does: the write-ahead log's pages are written into the database file and
/// the log emptied, so a scan of the files sees what a long-running database holds.
pub async fn checkpoint(server: &TestServer) {
    if server.superuser_url().is_none() {
        let mut conn = sqlx::SqliteConnection::connect(&server.database.url)
            .await
            .unwrap();
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut conn)
            .await
            .unwrap();
    }
}

/// A security event as a database written before event details were sealed holds it.
async fn insert_clear_security_event(
    server: &TestServer,
    partner: &serde_json::Value,
    user: &str,
    detail: &str,
) {
    let partner = partner.as_str().unwrap();
    let id = uuid::Uuid::now_v7().to_string();
    let at = time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
    match server.superuser_url() {
        Some(url) => {
            let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query(
                "INSERT INTO security_events (partner_id, id, at, user_id, kind, detail)
                 VALUES ($1::uuid, $2::uuid, $3, $4::uuid, 'sign_in.new_device', $5)",
            )
            .bind(partner)
            .bind(&id)
            .bind(at)
            .bind(user)
            .bind(detail)
            .execute(&mut conn)
            .await
            .unwrap();
        }
        None => {
            let mut conn = sqlx::SqliteConnection::connect(&server.database.url)
                .await
                .unwrap();
            sqlx::query(
                "INSERT INTO security_events (partner_id, id, at, user_id, kind, detail)
                 VALUES (?1, ?2, ?3, ?4, 'sign_in.new_device', ?5)",
            )
            .bind(partner)
            .bind(&id)
            .bind(comanda_store::InstantText::fixed_width(at))
            .bind(user)
            .bind(detail)
            .execute(&mut conn)
            .await
            .unwrap();
        }
    }
}

/// Runs one statement with no parameters on the server's database, as its superuser (an operator's or a migration's
/// hand); answers the rows it changed.
pub async fn execute_sql(server: &TestServer, statement: &'static str) -> u64 {
    match server.superuser_url() {
        Some(url) => {
            let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query(statement)
                .execute(&mut conn)
                .await
                .unwrap()
                .rows_affected()
        }
        None => {
            let mut conn = sqlx::SqliteConnection::connect(&server.database.url)
                .await
                .unwrap();
            sqlx::query(statement)
                .execute(&mut conn)
                .await
                .unwrap()
                .rows_affected()
        }
    }
}

/// Copies the member's sealed email over another partner's owner's email, as someone with database access might.
async fn move_sealed_email(server: &TestServer, from_member: &str, to_member: &str) {
    match server.superuser_url() {
        Some(url) => {
            let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query(
                "UPDATE staff SET email = (SELECT email FROM staff WHERE id = $1::uuid) WHERE id = $2::uuid",
            )
            .bind(from_member)
            .bind(to_member)
            .execute(&mut conn)
            .await
            .unwrap();
        }
        None => {
            let mut conn = sqlx::SqliteConnection::connect(&server.database.url)
                .await
                .unwrap();
            sqlx::query("UPDATE staff SET email = (SELECT email FROM staff WHERE id = ?1) WHERE id = ?2")
                .bind(from_member)
                .bind(to_member)
                .execute(&mut conn)
                .await
                .unwrap();
        }
    }
}

/// PRIV-2: a guest leaves contact data only with consent to the current notice, recorded with its version and time;
/// the data is sealed under the guest's own key, exported, rectified and erased on request (the consent record
/// stays, without identity).
pub async fn guests_leave_contact_data_only_with_consent(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let v = crate::ordering::venue_with_menu(&server, "consent@example.co").await;
    let path = format!("/api/v1/t/{}/contact", v.token);
    let without = post(
        &server,
        &path,
        None,
        json!({"email": "huesped.recibo@example.co", "consent": false, "notice_version": "2026-12"}),
    )
    .await;
    assert_eq!(without.status, 400, "{}", without.body);
    let stale = post(
        &server,
        &path,
        None,
        json!({"email": "huesped.recibo@example.co", "consent": true, "notice_version": "2020-01"}),
    )
    .await;
    assert_eq!(stale.status, 400, "{}", stale.body);
    assert!(
        stale.body.to_string().contains("notice_version"),
        "{}",
        stale.body
    );

    let given = post(
        &server,
        &path,
        None,
        json!({"email": "huesped.recibo@example.co", "name": "Huésped Recibo", "consent": true,
               "notice_version": "2026-12"}),
    )
    .await;
    assert_eq!(given.status, 201, "{}", given.body);
    assert_eq!(given.body["notice_version"], "2026-12");
    assert!(given.body["consented_at"].as_str().is_some());
    let guest = given.body["id"].as_str().unwrap().to_owned();
    let stored = database_bytes(&server);
    assert!(!stored.contains("huesped.recibo@example.co") && !stored.contains("Huésped Recibo"));

    let owner = Some(v.owner.as_str());
    let export = post(
        &server,
        "/api/v1/privacy/requests",
        owner,
        json!({"kind": "export", "subject": guest}),
    )
    .await;
    assert_eq!(export.status, 200, "{}", export.body);
    assert_eq!(export.body["guest"]["email"], "huesped.recibo@example.co");
    assert_eq!(export.body["guest"]["notice_version"], "2026-12");
    let rectified = post(
        &server,
        "/api/v1/privacy/requests",
        owner,
        json!({"kind": "rectify", "subject": guest, "name": "Huésped Corregido"}),
    )
    .await;
    assert_eq!(rectified.status, 200, "{}", rectified.body);
    assert_eq!(rectified.body["name"], "Huésped Corregido");
    let erased = post(
        &server,
        "/api/v1/privacy/requests",
        owner,
        json!({"kind": "erase", "subject": guest}),
    )
    .await;
    assert_eq!(erased.status, 200, "{}", erased.body);
    assert_eq!(erased.body["guest_erased"], true);
    assert_eq!(erased.body["key_destroyed"], true);
    let after = post(
        &server,
        "/api/v1/privacy/requests",
        owner,
        json!({"kind": "export", "subject": guest}),
    )
    .await;
    assert_eq!(after.status, 200, "{}", after.body);
    assert_eq!(
        after.body["guest"]["email"], "[erased]",
        "the consent record stays, without identity"
    );
    assert_eq!(after.body["guest"]["notice_version"], "2026-12");
    let consents = call(
        &server,
        "GET",
        "/api/v1/audit?action=privacy.consent_recorded",
        owner,
        None,
    )
    .await;
    assert_eq!(consents.body["items"][0]["detail"], "notice=2026-12");
    server.stop().await;
}

/// Every file under the server's data directory (mail, database, keys, backups) with its bytes as lowercase text.
fn data_files(server: &TestServer) -> Vec<(std::path::PathBuf, String)> {
    let mut stack = vec![server.dir.path().join("data")];
    let mut files = Vec::new();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).to_lowercase();
                files.push((path, text));
            }
        }
    }
    files
}

/// The files under the server's data directory whose bytes hold `needle`.
pub fn files_holding(server: &TestServer, needle: &str) -> Vec<std::path::PathBuf> {
    data_files(server)
        .into_iter()
        .filter(|(_, text)| text.contains(needle))
        .map(|(path, _)| path)
        .collect()
}

pub async fn a_rectified_address_leaves_no_mail_copy_behind(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    sign_up_owner(&server, "Rectificación S.A.S.").await;
    let owner = enrolled(&server, OWNER_EMAIL, PASSWORD).await;
    let member = invite_and_join(&server, &owner.access, MEMBER_EMAIL, "server", PASSWORD).await;
    assert!(
        !files_holding(&server, MEMBER_EMAIL).is_empty(),
        "the invitation was written to the outbox"
    );
    let corrected = "luis.perez@example.co";
    let rectified = post(
        &server,
        "/api/v1/privacy/requests",
        Some(&owner.access),
        json!({"kind": "rectify", "subject": member, "email": corrected}),
    )
    .await;
    assert_eq!(rectified.status, 200, "{}", rectified.body);
    assert_eq!(
        files_holding(&server, MEMBER_EMAIL),
        Vec::<std::path::PathBuf>::new()
    );
    // The member moves their own sign-in only with a step-up: a token alone (a stolen one) cannot.
    let login = post(
        &server,
        "/api/v1/auth/login",
        None,
        json!({"email": corrected, "password": PASSWORD}),
    )
    .await;
    let token = login.body["access_token"].as_str().unwrap().to_owned();
    let own = |extra: serde_json::Value| {
        let mut body = json!({"kind": "rectify", "subject": member, "email": "luis.nuevo@example.co"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    for (extra, status, said) in [
        (json!({}), 422, "current_password"),
        (
            json!({"current_password": "not the password"}),
            403,
            "step-up-failed",
        ),
    ] {
        let refused = post(&server, "/api/v1/privacy/requests", Some(&token), own(extra)).await;
        assert_eq!(refused.status, status, "{}", refused.body);
        assert!(refused.body.to_string().contains(said), "{}", refused.body);
    }
    let moved = post(
        &server,
        "/api/v1/privacy/requests",
        Some(&token),
        own(json!({"current_password": PASSWORD})),
    )
    .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_eq!(moved.body["email"], "luis.nuevo@example.co");
    // The step-up fields belong to that request only: anywhere else they are named, not ignored.
    let misplaced = post(
        &server,
        "/api/v1/privacy/requests",
        Some(&owner.access),
        json!({"kind": "rectify", "subject": member, "name": "Luis", "current_password": PASSWORD}),
    )
    .await;
    assert_eq!(misplaced.status, 422, "{}", misplaced.body);
    let erased = post(
        &server,
        "/api/v1/privacy/requests",
        Some(&owner.access),
        json!({"kind": "erase", "subject": member}),
    )
    .await;
    assert_eq!(erased.status, 200, "{}", erased.body);
    for address in [MEMBER_EMAIL, corrected, "luis.nuevo@example.co"] {
        assert_eq!(
            files_holding(&server, address),
            Vec::<std::path::PathBuf>::new(),
            "{address}"
        );
    }
    server.stop().await;
}

/// An invitation not accepted yet is listed, and withdrawn: its link then opens nothing, and the invitee's address
/// and name are nowhere (the stored invitation and the copy of its mail), which is how an invitee is erased.
pub async fn a_withdrawn_invitation_opens_nothing_and_leaves_no_trace(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    sign_up_owner(&server, "Invitaciones S.A.S.").await;
    let owner = enrolled(&server, OWNER_EMAIL, PASSWORD).await;
    let invitee = "marta.rios.invitada@example.co";
    let invited = post(
        &server,
        "/api/v1/staff",
        Some(&owner.access),
        json!({"email": invitee, "name": "Marta Ríos", "role": "server"}),
    )
    .await;
    assert_eq!(invited.status, 201, "{}", invited.body);
    let token = crate::identity::invitation_token(&server, invitee).await;
    let listed = call(&server, "GET", "/api/v1/invitations", Some(&owner.access), None).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let items = listed.body["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1, "{}", listed.body);
    assert_eq!(
        (items[0]["email"].clone(), items[0]["role"].clone()),
        (json!(invitee), json!("server"))
    );
    // A list like every list: a page at a time.
    let other = post(
        &server,
        "/api/v1/staff",
        Some(&owner.access),
        json!({"email": "otro.invitado@example.co", "name": "Otro", "role": "kitchen"}),
    )
    .await;
    assert_eq!(other.status, 201, "{}", other.body);
    let first = call(
        &server,
        "GET",
        "/api/v1/invitations?limit=1",
        Some(&owner.access),
        None,
    )
    .await;
    assert_eq!(first.body["items"], json!([items[0].clone()]), "{}", first.body);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = call(
        &server,
        "GET",
        &format!("/api/v1/invitations?limit=1&cursor={cursor}"),
        Some(&owner.access),
        None,
    )
    .await;
    assert_eq!(
        second.body["items"][0]["email"], "otro.invitado@example.co",
        "{}",
        second.body
    );
    assert_eq!(second.body["next_cursor"], json!(null));
    let other_id = second.body["items"][0]["id"].as_str().unwrap().to_owned();
    let withdrawn = call(
        &server,
        "DELETE",
        &format!("/api/v1/invitations/{other_id}"),
        Some(&owner.access),
        None,
    )
    .await;
    assert_eq!(withdrawn.status, 204);
    let revoke = format!("/api/v1/invitations/{}", items[0]["id"].as_str().unwrap());
    let revoked = call(&server, "DELETE", &revoke, Some(&owner.access), None).await;
    assert_eq!(revoked.status, 204, "{}", revoked.body);
    assert_eq!(
        call(&server, "DELETE", &revoke, Some(&owner.access), None)
            .await
            .status,
        404
    );
    let accepted = post(
        &server,
        &format!("/api/v1/staff/invitations/{token}/accept"),
        None,
        json!({"password": PASSWORD}),
    )
    .await;
    assert_eq!(accepted.status, 404, "{}", accepted.body);
    let after = call(&server, "GET", "/api/v1/invitations", Some(&owner.access), None).await;
    assert_eq!(after.body["items"], json!([]));
    assert_eq!(files_holding(&server, invitee), Vec::<std::path::PathBuf>::new());
    server.stop().await;
}

on_both_engines!(
    a_withdrawn_invitation_opens_nothing_and_leaves_no_trace,
    a_manager_acts_only_on_the_members_they_manage,
    a_rectified_address_leaves_no_mail_copy_behind,
    personal_data_is_sealed_exported_rectified_and_erased,
    client_addresses_are_sealed_at_rest,
    guests_leave_contact_data_only_with_consent,
);
