//! Identity and access through the real HTTPS server, on SQLite and on PostgreSQL: sign-up, enforced second
//! factor, tokens, sessions, throttling, staff management and tenant separation.

use serde_json::{Value, json};

use crate::support::{Engine, TestServer};
use comanda_domain::Clock;
use comanda_security::totp;

pub const PASSWORD: &str = "violet kettle forty two";

pub struct Reply {
    pub status: u16,
    pub body: Value,
}

pub async fn call(
    server: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let mut request = server.client.request(
        reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
        server.url(path),
    );
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply { status, body }
}

pub async fn post(server: &TestServer, path: &str, token: Option<&str>, body: Value) -> Reply {
    call(server, "POST", path, token, Some(body)).await
}

/// A password sign-in (`email` may be any JSON value the test wants to send).
pub async fn login(
    server: &TestServer,
    email: impl serde::Serialize,
    password: impl serde::Serialize,
) -> Reply {
    post(
        server,
        "/api/v1/auth/login",
        None,
        json!({"email": email, "password": password}),
    )
    .await
}

/// The code an authenticator app shows `steps` steps from the server's now.
pub fn code(server: &TestServer, secret: &str, steps: i64) -> String {
    let at = server.clock.now().unix_timestamp() + steps * 30;
    totp::code_at(&totp::decode_secret(secret).unwrap(), u64::try_from(at).unwrap()).unwrap()
}

pub async fn sign_up(server: &TestServer, email: &str) -> Value {
    let reply = post(
        server,
        "/api/v1/signup",
        None,
        json!({"business_name": "La Cocina de Ana", "country": "CO",
               "owner": {"name": "Ana", "email": email, "password": PASSWORD}}),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body
}

/// A signed-in member with 2FA on.
pub struct Session {
    pub access: String,
    pub refresh: String,
    pub secret: String,
    pub recovery_codes: Vec<String>,
}

/// Signs in with the password, and, when enrolment is due, enrols a TOTP secret and confirms it.
pub async fn enrolled(server: &TestServer, email: &str, password: &str) -> Session {
    let signed_in = login(server, email, password).await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.body);
    assert_eq!(
        signed_in.body["mfa_enrollment_required"], true,
        "{}",
        signed_in.body
    );
    let enrollment_token = signed_in.body["enrollment_token"].as_str().unwrap().to_owned();
    let enrollment = post(
        server,
        "/api/v1/auth/mfa/totp/enroll",
        Some(&enrollment_token),
        json!({}),
    )
    .await;
    assert_eq!(enrollment.status, 200, "{}", enrollment.body);
    assert!(
        enrollment.body["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/")
    );
    assert!(enrollment.body["qr_svg"].as_str().unwrap().contains("<svg"));
    let secret = enrollment.body["secret"].as_str().unwrap().to_owned();
    let confirmed = post(
        server,
        "/api/v1/auth/mfa/totp/confirm",
        Some(&enrollment_token),
        json!({"code": code(server, &secret, 0)}),
    )
    .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    Session {
        access: confirmed.body["access_token"].as_str().unwrap().to_owned(),
        refresh: confirmed.body["refresh_token"].as_str().unwrap().to_owned(),
        secret,
        recovery_codes: serde_json::from_value(confirmed.body["recovery_codes"].clone()).unwrap(),
    }
}

/// Invites a member, reads the invitation link from the mail the outbox delivered, and accepts it.
pub async fn invite_and_join(
    server: &TestServer,
    inviter: &str,
    email: &str,
    role: &str,
    password: &str,
) -> String {
    let invited = post(
        server,
        "/api/v1/staff",
        Some(inviter),
        json!({"email": email, "name": "Luis", "role": role}),
    )
    .await;
    assert_eq!(invited.status, 201, "{}", invited.body);
    let token = invitation_token(server, email).await;
    let joined = post(
        server,
        &format!("/api/v1/staff/invitations/{token}/accept"),
        None,
        json!({"password": password}),
    )
    .await;
    assert_eq!(joined.status, 201, "{}", joined.body);
    joined.body["user_id"].as_str().unwrap().to_owned()
}

pub async fn invitation_token(server: &TestServer, email: &str) -> String {
    let outbox = server.dir.path().join("data/outbox");
    for _ in 0..100 {
        if let Ok(entries) = std::fs::read_dir(&outbox) {
            for entry in entries.flatten() {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                if text.contains(&format!("To: {email}")) && text.contains("/invitations/inv_") {
                    let start = text.find("/invitations/").unwrap() + "/invitations/".len();
                    return text[start..].split_whitespace().next().unwrap().to_owned();
                }
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no invitation mail for {email} in {}", outbox.display());
}

/// Invited again to correct the role: the second invitation replaces the first, whose link then opens nothing (an
/// owner who invited a manager with payout authority by mistake and a server next left the manager's link working,
/// and the stale invitation listed as pending for good). Once joined, an invitation to the address says so.
#[tokio::test]
async fn a_second_invitation_replaces_the_first() {
    let server = TestServer::start().await;
    sign_up(&server, "dos@example.co").await;
    let owner = enrolled(&server, "dos@example.co", PASSWORD).await;
    let invite = |role: &'static str| {
        let (server, owner) = (&server, owner.access.clone());
        async move {
            post(
                server,
                "/api/v1/staff",
                Some(&owner),
                json!({"email": "doble@example.co", "name": "Doble", "role": role, "payout_authority": role == "manager"}),
            )
            .await
        }
    };
    let first = invite("manager").await;
    assert_eq!(first.status, 201, "{}", first.body);
    let second = invite("server").await;
    assert_eq!(second.status, 201, "{}", second.body);
    // Each mail's link, told apart by the role it names.
    let outbox = server.dir.path().join("data/outbox");
    let link_as = |role: &str| {
        std::fs::read_dir(&outbox)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| std::fs::read_to_string(entry.path()).unwrap_or_default())
            .find(|text| text.contains("To: doble@example.co") && text.contains(&format!("como {role}.")))
            .map(|text| {
                let start = text.find("/invitations/").unwrap() + "/invitations/".len();
                text[start..].split_whitespace().next().unwrap().to_owned()
            })
    };
    let mut links = (None, None);
    for _ in 0..100 {
        links = (link_as("gerente"), link_as("mesero"));
        if links.0.is_some() && links.1.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (Some(as_manager), Some(as_server)) = links else {
        panic!("two invitation mails in {}", outbox.display());
    };
    let pending = call(&server, "GET", "/api/v1/invitations", Some(&owner.access), None).await;
    let ids: Vec<&Value> = pending.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["id"])
        .collect();
    assert_eq!(ids, [&second.body["invitation_id"]], "{}", pending.body);
    let accept = |token: String| {
        let server = &server;
        async move {
            post(
                server,
                &format!("/api/v1/staff/invitations/{token}/accept"),
                None,
                json!({"password": PASSWORD}),
            )
            .await
        }
    };
    assert_eq!(
        accept(as_manager).await.status,
        404,
        "the replaced link opens nothing"
    );
    let joined = accept(as_server).await;
    assert_eq!(joined.status, 201, "{}", joined.body);
    let staff = call(&server, "GET", "/api/v1/staff", Some(&owner.access), None).await;
    let member = staff.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == "doble@example.co")
        .unwrap()
        .clone();
    assert_eq!(
        (member["role"].clone(), member["payout_authority"].clone()),
        (json!("server"), json!(false))
    );
    let again = invite("server").await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(again.body["errors"][0]["field"], "email", "{}", again.body);
    server.stop().await;
}

pub async fn owner_must_enrol_then_needs_a_fresh_code_at_every_sign_in(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    sign_up(&server, "ana@example.co").await;
    let signed_in = login(&server, "ana@example.co", PASSWORD).await;
    assert_eq!(
        signed_in.body["mfa_enrollment_required"], true,
        "{}",
        signed_in.body
    );
    assert!(
        signed_in.body.get("access_token").is_none(),
        "no access before enrolment"
    );
    let enrollment_token = signed_in.body["enrollment_token"].as_str().unwrap();
    for (method, path) in [
        ("GET", "/api/v1/me"),
        ("GET", "/api/v1/staff"),
        ("POST", "/api/v1/auth/logout-all"),
    ] {
        let refused = call(&server, method, path, Some(enrollment_token), None).await;
        assert_eq!(refused.status, 403, "{method} {path}");
        assert_eq!(
            refused.body["type"],
            "https://comanda.dev/problems/mfa-enrollment-required"
        );
    }

    let session = enrolled(&server, "ana@example.co", PASSWORD).await;
    assert_eq!(session.recovery_codes.len(), 10);
    let me = call(&server, "GET", "/api/v1/me", Some(&session.access), None).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["role"], "owner");
    assert_eq!(me.body["mfa"], json!({"enabled": true, "required": true}));

    // Sign in again: now the code is required, a replayed code is refused, a pending sign-in opens one session, a
    // recovery code works once.
    let sign_in = || {
        post(
            &server,
            "/api/v1/auth/login",
            None,
            json!({"email": "ana@example.co", "password": PASSWORD}),
        )
    };
    let second = sign_in().await;
    assert_eq!(second.body["mfa_required"], true, "{}", second.body);
    let mfa_token = second.body["mfa_token"].as_str().unwrap();
    let verify = |token: &str, code: &str| {
        post(
            &server,
            "/api/v1/auth/mfa/verify",
            None,
            json!({"mfa_token": token, "code": code}),
        )
    };
    let replayed = verify(mfa_token, &code(&server, &session.secret, 0)).await;
    assert_eq!(
        replayed.status, 401,
        "the enrolment code's step is spent: {}",
        replayed.body
    );
    let fresh = code(&server, &session.secret, 1);
    assert_eq!(verify(mfa_token, &fresh).await.status, 200);
    assert_eq!(
        verify(mfa_token, &fresh).await.status,
        401,
        "a code accepted once is never accepted again"
    );
    let recovery = &session.recovery_codes[0];
    let spent = verify(mfa_token, recovery).await;
    assert_eq!(
        spent.status, 401,
        "the pending sign-in already opened a session: {}",
        spent.body
    );
    let third = sign_in().await;
    let mfa_token = third.body["mfa_token"].as_str().unwrap();
    assert_eq!(
        verify(mfa_token, recovery).await.status,
        200,
        "the recovery code was not spent by the refusal"
    );
    let fourth = sign_in().await;
    assert_eq!(
        verify(fourth.body["mfa_token"].as_str().unwrap(), recovery)
            .await
            .status,
        401,
        "recovery codes are single use"
    );

    let audit = call(
        &server,
        "GET",
        "/api/v1/audit?limit=200",
        Some(&session.access),
        None,
    )
    .await;
    let actions: Vec<&str> = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for expected in [
        "partner.registered",
        "mfa.enrolled",
        "auth.sign_in",
        "auth.second_factor_failed",
        "mfa.recovery_code_used",
    ] {
        assert!(actions.contains(&expected), "{expected} missing from {actions:?}");
    }
    let event = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "auth.sign_in")
        .unwrap();
    assert_eq!(event["source"], "127.0.0.1");
    assert!(event["request_id"].as_str().is_some_and(|r| !r.is_empty()));
    server.stop().await;
}

pub async fn tokens_expire_refuse_forgery_and_rotate(engine: Engine) {
    let owned = TestServer::start_on(engine, |_| {}).await;
    let server = &owned;
    sign_up(server, "tok@example.co").await;
    let session = enrolled(server, "tok@example.co", PASSWORD).await;
    let me =
        |token: String| async move { call(server, "GET", "/api/v1/me", Some(&token), None).await.status };

    // Forged: alg none, a key we never issued, a garbled signature.
    let parts: Vec<&str> = session.access.split('.').collect();
    use base64::Engine as _;
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let none = format!("{}.{}.", b64(json!({"alg": "none", "typ": "at+jwt"})), parts[1]);
    assert_eq!(me(none).await, 401);
    let foreign_key = comanda_security::tokens::SigningKey::generate(server.clock.now()).unwrap();
    let verifying = [comanda_security::tokens::VerifyingKey {
        kid: foreign_key.kid.clone(),
        public: foreign_key.public.clone(),
    }];
    let foreign_ring = comanda_security::tokens::KeyRing::new(
        "https://localhost",
        "comanda-api",
        Some(&foreign_key),
        &verifying,
    );
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[1])
            .unwrap(),
    )
    .unwrap();
    let subject = comanda_security::tokens::Subject {
        partner: claims["tenant"].as_str().unwrap().parse().unwrap(),
        user: claims["sub"].as_str().unwrap().parse().unwrap(),
        role: comanda_domain::Role::Owner,
        generation: 0,
    };
    let now = server.clock.now();
    let foreign = foreign_ring
        .issue(
            comanda_security::tokens::TokenKind::Access,
            subject,
            None,
            now,
            time::Duration::minutes(5),
        )
        .unwrap();
    assert_eq!(me(foreign.token).await, 401, "signed by an unknown key");
    let other_audience = comanda_security::tokens::KeyRing::new(
        "https://localhost",
        "another-api",
        Some(&foreign_key),
        &verifying,
    );
    let token = other_audience.issue(
        comanda_security::tokens::TokenKind::Access,
        subject,
        None,
        now,
        time::Duration::minutes(5),
    );
    assert_eq!(me(token.unwrap().token).await, 401, "another audience");
    assert_eq!(me(format!("{}.{}.{}", parts[0], parts[1], "AAAA")).await, 401);
    assert_eq!(me(session.access.clone()).await, 200);

    // Rotation: the previous key keeps verifying its tokens, and JWKS lists both.
    let old_kid = server
        .server()
        .identity()
        .keys
        .ring()
        .active_kid()
        .unwrap()
        .to_owned();
    let new_kid = server.server().identity().keys.rotate_now(false).await.unwrap();
    assert_ne!(old_kid, new_kid);
    assert_eq!(
        me(session.access.clone()).await,
        200,
        "tokens of the previous key still verify"
    );
    let kids = jwks_kids(server).await;
    assert!(kids.contains(&old_kid) && kids.contains(&new_kid), "{kids:?}");

    // Expiry, on the server's clock.
    server.clock.advance(time::Duration::minutes(16));
    assert_eq!(me(session.access.clone()).await, 401, "expired");
    server.server().identity().keys.reload().await.unwrap();
    let kids = jwks_kids(server).await;
    assert_eq!(
        kids,
        [new_kid.as_str()],
        "the retired key leaves once its last token has expired"
    );

    // A leaked key: `keys rotate --revoke-previous` stops it verifying at once, not 15 minutes later; the member's
    // refresh token gets an access token under the new key.
    let refresh = |token: String| {
        post(
            server,
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": token}),
        )
    };
    let renewed = refresh(session.refresh.clone()).await;
    assert_eq!(renewed.status, 200, "{}", renewed.body);
    let access = renewed.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(me(access.clone()).await, 200);
    let replacing = server.server().identity().keys.rotate_now(true).await.unwrap();
    assert_eq!(me(access).await, 401, "a revoked key verifies nothing, at once");
    assert_eq!(
        jwks_kids(server).await,
        [replacing.as_str()],
        "nor is it published"
    );
    let renewed = refresh(renewed.body["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(renewed.status, 200, "{}", renewed.body);
    assert_eq!(
        me(renewed.body["access_token"].as_str().unwrap().to_owned()).await,
        200
    );
    owned.stop().await;
}

/// PRIV-3 for ids carried in request bodies (the OpenAPI document's id-valued body fields: `category_id`, `tables`,
/// `subject`): another partner's id is answered exactly as an id that exists nowhere — same status (404 for the
/// subject of a request, 422 naming the field where the path's own resource exists), same problem type, same field
/// errors — never 403, and it changes nothing on either side. (The only id-like query parameter, `cursor`, is a position in
/// the caller's own list: decoded under the caller's scope, another partner's cursor selects the caller's rows.)
pub async fn another_partners_ids_in_bodies_and_queries_reveal_nothing(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let a = crate::ordering::venue_with_menu(&server, "cuerpo-a@example.co").await;
    let b = crate::ordering::venue_with_menu(&server, "cuerpo-b@example.co").await;
    let member_b = invite_and_join(&server, &b.owner, "mesero-b@example.co", "server", PASSWORD).await;
    let member_a = invite_and_join(&server, &a.owner, "mesero-a@example.co", "server", PASSWORD).await;
    // An open bill at each partner's table: cash sent for B's bill at A's table finds no bill of A's.
    for venue in [&a, &b] {
        let ordered = post(
            &server,
            &format!("/api/v1/t/{}/orders", venue.token),
            None,
            json!({"items": [{"item_id": venue.item, "quantity": 1}]}),
        )
        .await;
        assert_eq!(ordered.status, 201, "{}", ordered.body);
        crate::ordering::accept_table(&server, venue).await;
    }
    let session_b = call(
        &server,
        "GET",
        &format!("/api/v1/venues/{}/table-sessions", b.venue),
        Some(&b.owner),
        None,
    )
    .await
    .body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let session_a = call(
        &server,
        "GET",
        &format!("/api/v1/venues/{}/table-sessions", a.venue),
        Some(&a.owner),
        None,
    )
    .await
    .body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let nowhere = || uuid::Uuid::now_v7().to_string();
    type BodyWithId = Box<dyn Fn(&str) -> Value>;
    let cases: Vec<(&str, String, BodyWithId)> = vec![
        (
            "POST",
            format!("/api/v1/venues/{}/menu/items", a.venue),
            Box::new(
                |id: &str| json!({"category_id": id, "name": {"es": "Ajiaco"}, "price": {"amount": 1_800_000, "currency": "COP"}}),
            ),
        ),
        (
            "PATCH",
            format!("/api/v1/menu/items/{}", a.item),
            Box::new(|id: &str| json!({"category_id": id})),
        ),
        (
            "POST",
            format!("/api/v1/venues/{}/table-combinations", a.venue),
            Box::new({
                let table = a.table.clone();
                move |id: &str| json!({"tables": [table, id]})
            }),
        ),
        (
            "POST",
            "/api/v1/privacy/requests".to_owned(),
            Box::new(|id: &str| json!({"kind": "export", "subject": id})),
        ),
        (
            "POST",
            format!("/api/v1/venues/{}/tables/{}/cash", a.venue, a.table),
            Box::new(|id: &str| json!({"amount": 100, "session_id": id})),
        ),
        (
            "POST",
            "/api/v1/staff".to_owned(),
            Box::new(
                |id: &str| json!({"email": "nuevo@example.co", "name": "Nuevo", "role": "server", "venues": [id]}),
            ),
        ),
        (
            "PATCH",
            format!("/api/v1/staff/{member_a}"),
            Box::new(|id: &str| json!({"venues": [id]})),
        ),
        (
            "POST",
            format!("/api/v1/table-sessions/{session_a}/move"),
            Box::new(|id: &str| json!({"table_id": id})),
        ),
    ];
    // Every id-valued body field the contract declares is one of the cases above: a new one fails here until added.
    let doc = call(&server, "GET", "/openapi.json", None, None).await.body;
    let mut declared = uuid_body_fields(&doc);
    declared.sort();
    let mut covered: Vec<(String, String, String)> = [
        ("patch", "/api/v1/menu/items/{item}", "category_id"),
        ("post", "/api/v1/privacy/requests", "subject"),
        ("post", "/api/v1/staff", "venues"),
        ("post", "/api/v1/table-sessions/{session}/move", "table_id"),
        ("patch", "/api/v1/staff/{id}", "venues"),
        ("post", "/api/v1/venues/{venue}/menu/items", "category_id"),
        ("post", "/api/v1/venues/{venue}/table-combinations", "tables"),
        ("post", "/api/v1/venues/{venue}/tables/{table}/cash", "session_id"),
    ]
    .iter()
    .map(|(m, p, f)| ((*m).to_owned(), (*p).to_owned(), (*f).to_owned()))
    .collect();
    covered.sort();
    assert_eq!(declared, covered, "id-valued body fields of the contract");
    let ids_of_b = [
        b.category.clone(),
        b.category.clone(),
        b.table.clone(),
        member_b.clone(),
        session_b.clone(),
        b.venue.clone(),
        b.venue.clone(),
        b.table.clone(),
    ];
    for ((method, path, body), id_of_b) in cases.iter().zip(ids_of_b) {
        let foreign = call(&server, method, path, Some(&a.owner), Some(body(&id_of_b))).await;
        let unknown = call(&server, method, path, Some(&a.owner), Some(body(&nowhere()))).await;
        // 409 where the id names the bill a request is for: it is not A's open bill, whoever's it is.
        assert!(
            matches!(foreign.status, 404 | 409 | 422),
            "{method} {path} with B's id: {}",
            foreign.body
        );
        assert_eq!(
            (foreign.status, &foreign.body["type"], &foreign.body["errors"]),
            (unknown.status, &unknown.body["type"], &unknown.body["errors"]),
            "{method} {path}: B's id and an id of nothing answer alike"
        );
    }
    // The one id-like query parameter: B's cursor, used by A, pages through A's own list and shows nothing of B.
    let page_b = call(&server, "GET", "/api/v1/staff?limit=1", Some(&b.owner), None).await;
    let cursor_b = page_b.body["next_cursor"]
        .as_str()
        .expect("B has two members")
        .to_owned();
    let with_cursor_of_b = call(
        &server,
        "GET",
        &format!("/api/v1/staff?limit=50&cursor={cursor_b}"),
        Some(&a.owner),
        None,
    )
    .await;
    assert_eq!(with_cursor_of_b.status, 200, "{}", with_cursor_of_b.body);
    let text = with_cursor_of_b.body.to_string();
    assert!(
        !text.contains(&member_b) && !text.contains("cuerpo-b@") && !text.contains("mesero-b@"),
        "{text}"
    );
    // The UUID-valued query parameters of the contract: another partner's member as the audit log's actor filter
    // finds nothing, as a member of nobody would.
    let mut declared = uuid_query_params(&doc);
    declared.sort();
    assert_eq!(
        declared,
        [
            ("get".to_owned(), "/api/v1/audit".to_owned(), "actor".to_owned()),
            (
                "get".to_owned(),
                "/api/v1/audit/export.csv".to_owned(),
                "actor".to_owned()
            ),
            (
                "get".to_owned(),
                "/api/v1/venues/{venue}/availability".to_owned(),
                "moving".to_owned()
            ),
        ],
        "id-valued query parameters of the contract"
    );
    // Another partner's id as the booking being moved frees nothing of A's: A's times are those of an id of nothing.
    let policy = call(
        &server,
        "PUT",
        &format!("/api/v1/venues/{}/booking-policy", a.venue),
        Some(&a.owner),
        Some(crate::reservations::policy()),
    )
    .await;
    assert_eq!(policy.status, 200, "{}", policy.body);
    let day = crate::reservations::tomorrow(&server);
    let times_with = async |moving: &str| {
        call(
            &server,
            "GET",
            &format!(
                "/api/v1/venues/{}/availability?date={day}&party_size=2&moving={moving}",
                a.venue
            ),
            Some(&a.owner),
            None,
        )
        .await
    };
    let (foreign, unknown) = (times_with(&member_b).await, times_with(&nowhere()).await);
    assert_eq!(foreign.status, 200, "{}", foreign.body);
    assert_eq!(foreign.body, unknown.body);
    for actor in [member_b.clone(), nowhere()] {
        let audit = call(
            &server,
            "GET",
            &format!("/api/v1/audit?actor={actor}"),
            Some(&a.owner),
            None,
        )
        .await;
        assert_eq!(audit.status, 200, "{}", audit.body);
        assert_eq!(audit.body["items"], json!([]), "{}", audit.body);
        let export = server
            .client
            .get(server.url(&format!("/api/v1/audit/export.csv?actor={actor}")))
            .bearer_auth(&a.owner)
            .send()
            .await
            .unwrap();
        assert_eq!(export.status().as_u16(), 200);
        let csv = export.text().await.unwrap();
        assert_eq!(csv.lines().count(), 1, "the header line alone: {csv}");
    }
    // Nothing changed on either side.
    let menu_a = call(
        &server,
        "GET",
        &format!("/api/v1/venues/{}/menu", a.venue),
        Some(&a.owner),
        None,
    )
    .await;
    let menu_b = call(
        &server,
        "GET",
        &format!("/api/v1/venues/{}/menu", b.venue),
        Some(&b.owner),
        None,
    )
    .await;
    for (menu, category) in [(&menu_a, &a.category), (&menu_b, &b.category)] {
        let text = menu.body.to_string();
        assert!(text.contains(category.as_str()), "{text}");
        assert!(!text.contains("Ajiaco"), "no item was created: {text}");
    }
    for (owner, venue) in [(&a.owner, &a.venue), (&b.owner, &b.venue)] {
        let combinations = call(
            &server,
            "GET",
            &format!("/api/v1/venues/{venue}/booking-policy"),
            Some(owner),
            None,
        )
        .await;
        assert_eq!(combinations.status, 200, "{}", combinations.body);
        assert_eq!(
            combinations.body["combinations"],
            json!([]),
            "{}",
            combinations.body
        );
    }
    server.stop().await;
}

pub async fn refresh_tokens_rotate_and_reuse_revokes_the_family(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    sign_up(&server, "ref@example.co").await;
    let session = enrolled(&server, "ref@example.co", PASSWORD).await;
    let refresh = |token: String| {
        post(
            &server,
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": token}),
        )
    };
    let first = refresh(session.refresh.clone()).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let newest_access = first.body["access_token"].as_str().unwrap().to_owned();
    let newest_refresh = first.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(newest_refresh, session.refresh);
    assert_eq!(
        call(&server, "GET", "/api/v1/me", Some(&newest_access), None)
            .await
            .status,
        200
    );

    server.clock.advance(time::Duration::seconds(30));
    let reused = refresh(session.refresh.clone()).await;
    assert_eq!(reused.status, 401, "a spent refresh token: {}", reused.body);
    assert_eq!(
        refresh(newest_refresh).await.status,
        401,
        "the whole family is revoked"
    );
    assert_eq!(
        call(&server, "GET", "/api/v1/me", Some(&newest_access), None)
            .await
            .status,
        401,
        "and its access tokens"
    );
    server.stop().await;
}

pub async fn manager_of_one_partner_gets_404_for_every_id_of_another(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    sign_up(&server, "owner-a@example.co").await;
    let owner_a = enrolled(&server, "owner-a@example.co", PASSWORD).await;
    let manager_a_id = invite_and_join(
        &server,
        &owner_a.access,
        "manager-a@example.co",
        "manager",
        PASSWORD,
    )
    .await;
    // With payout authority too, so the payout routes answer for the id, not for the role.
    let granted = call(
        &server,
        "PATCH",
        &format!("/api/v1/staff/{manager_a_id}"),
        Some(&owner_a.access),
        Some(json!({"payout_authority": true})),
    )
    .await;
    assert_eq!(granted.status, 200, "{}", granted.body);
    let manager_a = enrolled(&server, "manager-a@example.co", PASSWORD).await;

    // Partner B, with something behind every kind of id.
    let b = crate::ordering::venue_with_menu(&server, "owner-b@example.co").await;
    let ids_b = something_behind_every_id(&server, &b).await;
    let checked = every_id_route(&server, &manager_a.access, &ids_b, |_, _| 404).await;
    assert!(checked >= 14, "every route with an id was tried ({checked})");
    // Partner B is untouched.
    let cash_path_b = format!("/api/v1/venues/{}/tables/{}/cash", b.venue, b.table);
    let cash_list_b = call(&server, "GET", &cash_path_b, Some(&b.owner), None).await;
    assert_eq!(
        cash_list_b.body["items"][0]["voided_at"],
        json!(null),
        "{}",
        cash_list_b.body
    );
    let staff_b = call(&server, "GET", "/api/v1/staff", Some(&b.owner), None).await;
    assert_eq!(staff_b.body["items"].as_array().unwrap().len(), 2);
    let bill_b = call(&server, "GET", &format!("/api/v1/t/{}/bill", b.token), None, None).await;
    assert_eq!(bill_b.body["orders"][0]["status"], "placed");
    assert_eq!(bill_b.body["session"]["status"], "open");
    server.stop().await;
}

/// Something behind every kind of id a route takes, in the venue `b` (its owner's): its ids by path parameter.
pub async fn something_behind_every_id(
    server: &TestServer,
    b: &crate::ordering::Venue,
) -> Vec<(&'static str, Vec<String>)> {
    let me_b = call(server, "GET", "/api/v1/me", Some(&b.owner), None).await;
    let owner_b = me_b.body["user_id"].as_str().unwrap().to_owned();
    let server_b = invite_and_join(
        server,
        &b.owner,
        "server-b@example.co",
        "server",
        "a much longer passphrase",
    )
    .await;
    let order_b = post(
        server,
        &format!("/api/v1/t/{}/orders", b.token),
        None,
        json!({"items": [{"item_id": b.item, "quantity": 1}]}),
    )
    .await;
    let order_b = order_b.body["id"].as_str().unwrap().to_owned();
    let sessions_b = call(
        server,
        "GET",
        &format!("/api/v1/venues/{}/table-sessions", b.venue),
        Some(&b.owner),
        None,
    )
    .await;
    let session_b = sessions_b.body["items"][0]["id"].as_str().unwrap().to_owned();
    let money_b = crate::payments::payment_refund_and_approval(server, b).await;
    let reservation_b = crate::reservations::a_booking_at(server, &b.owner, &b.venue).await;
    let entry_b = post(
        server,
        &format!("/api/v1/venues/{}/waitlist", b.venue),
        Some(&b.owner),
        json!({"date": crate::reservations::tomorrow(server).to_string(), "party_size": 2, "earliest": "19:00",
               "latest": "20:00", "consent": true, "guest": {"name": "x", "phone": "+573001234567"}}),
    )
    .await;
    assert_eq!(entry_b.status, 201, "{}", entry_b.body);
    let entry_b = entry_b.body["id"].as_str().unwrap().to_owned();
    let second_table_b = post(
        server,
        &format!("/api/v1/venues/{}/tables", b.venue),
        Some(&b.owner),
        json!({"label": "B2", "seats": 2}),
    )
    .await;
    assert_eq!(second_table_b.status, 201, "{}", second_table_b.body);
    let combination_b = post(
        server,
        &format!("/api/v1/venues/{}/table-combinations", b.venue),
        Some(&b.owner),
        json!({"tables": [b.table.clone(), second_table_b.body["id"].as_str().unwrap()]}),
    )
    .await;
    assert_eq!(combination_b.status, 201, "{}", combination_b.body);
    let combination_b = combination_b.body["id"].as_str().unwrap().to_owned();
    let invited_b = post(
        server,
        "/api/v1/staff",
        Some(&b.owner),
        json!({"email": "invitada.b@example.co", "name": "Invitada", "role": "server"}),
    )
    .await;
    assert_eq!(invited_b.status, 201, "{}", invited_b.body);
    let invitation_b = invited_b.body["invitation_id"].as_str().unwrap().to_owned();
    let cash_path_b = format!("/api/v1/venues/{}/tables/{}/cash", b.venue, b.table);
    let cash_b = post(
        server,
        &cash_path_b,
        Some(&b.owner),
        json!({"amount": 0, "tip": 100}),
    )
    .await;
    assert_eq!(cash_b.status, 201, "{}", cash_b.body);
    let cash_b = cash_b.body["cash"]["id"].as_str().unwrap().to_owned();
    vec![
        ("id", vec![server_b, owner_b]),
        ("venue", vec![b.venue.clone()]),
        ("table", vec![b.table.clone()]),
        ("item", vec![b.item.clone()]),
        ("category", vec![b.category.clone()]),
        ("order", vec![order_b]),
        ("session", vec![session_b]),
        ("payment", vec![money_b.payment]),
        ("refund", vec![money_b.refund]),
        ("approval", vec![money_b.approval]),
        ("reservation", vec![reservation_b]),
        ("entry", vec![entry_b]),
        ("combination", vec![combination_b]),
        ("invitation", vec![invitation_b]),
        ("cash", vec![cash_b]),
    ]
}

/// Calls every route of `/openapi.json` that takes an id (guest and public routes aside) as `token`, with the ids
/// of `ids` (each id of the route's first parameter in turn), and asserts `expect(route, first parameter)` as the
/// answer. Answers how many calls were made.
pub async fn every_id_route(
    server: &TestServer,
    token: &str,
    ids: &[(&'static str, Vec<String>)],
    expect: impl Fn(&str, &str) -> u16,
) -> usize {
    let ids_of = |param: &str| -> Vec<String> {
        ids.iter()
            .find(|(name, _)| *name == param)
            .map(|(_, ids)| ids.clone())
            .unwrap_or_else(|| {
                panic!("no id for path parameter {{{param}}}: add one so the route is covered")
            })
    };
    // A body that passes every route's shape checks, so only the id decides.
    let mut body = json!({
        "role": "server", "label": "x", "seats": 2, "available": false, "to": "accepted",
        "name": {"es": "x", "en": "x"}, "category_id": uuid::Uuid::now_v7().to_string(),
        "price": {"amount": 100, "currency": "COP"}, "amount": 1, "reason": "x",
        "tables": [uuid::Uuid::now_v7().to_string(), uuid::Uuid::now_v7().to_string()],
        "start": "2030-01-01T00:00:00Z", "party_size": 2, "consent": true,
        "guest": {"name": "x", "phone": "+573001234567", "email": "x@example.co"},
        "min_party": 1, "online": true, "day_start_hour": 3, "table_id": uuid::Uuid::now_v7().to_string(),
        "date": "2030-01-01", "earliest": "19:00", "latest": "20:00",
    });
    for (key, value) in crate::reservations::policy().as_object().unwrap() {
        body[key] = value.clone();
    }

    let doc = call(server, "GET", "/openapi.json", None, None).await.body;
    let mut checked = 0;
    for (path, operations) in doc["paths"].as_object().unwrap() {
        let params: Vec<&str> = path
            .split('{')
            .skip(1)
            .filter_map(|p| p.split('}').next())
            .collect();
        // Guest routes take a table token, not an id; they are covered by the table-token tests.
        if params.is_empty() || params.contains(&"token") {
            continue;
        }
        for (method, operation) in operations.as_object().unwrap() {
            // Public routes answer by what they are given, not by who asks (a venue's booking widget, a guest's
            // signed link); their own tests cover them.
            if operation.get("security").is_none() {
                continue;
            }
            // Required query parameters get a well-formed value, so only the id decides.
            let query: Vec<String> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query" && p["required"] == true)
                .map(|p| {
                    let value = match p["schema"]["type"].as_str() {
                        Some("integer") => "2",
                        _ => "2030-01-01",
                    };
                    format!("{}={value}", p["name"].as_str().unwrap())
                })
                .collect();
            for id in ids_of(params[0]) {
                // The first parameter takes each of B's ids; any further one takes B's id of its kind.
                let mut concrete = path.replace(&format!("{{{}}}", params[0]), &id);
                for param in &params[1..] {
                    concrete = concrete.replace(&format!("{{{param}}}"), &ids_of(param)[0]);
                }
                if !query.is_empty() {
                    concrete = format!("{concrete}?{}", query.join("&"));
                }
                // A route that takes no body (answering a waitlist offer, leaving the list) is sent none.
                let send = if method == "get" || method == "delete" || operation.get("requestBody").is_none()
                {
                    None
                } else {
                    let mut fields = declared_fields(&doc, operation, &body);
                    // A reservation moves to a reservation status, an order to an order status.
                    // A venue's name is a string, a dish's a name per language.
                    if path == "/api/v1/venues/{venue}" {
                        fields["name"] = json!("x");
                    }
                    if path.starts_with("/api/v1/reservations/") {
                        fields["to"] = json!("seated");
                        let fields = fields.as_object_mut().unwrap();
                        fields.remove("start");
                        fields.remove("party_size");
                    }
                    Some(fields)
                };
                let reply = call(server, &method.to_uppercase(), &concrete, Some(token), send).await;
                assert_eq!(
                    reply.status,
                    expect(path, params[0]),
                    "{method} {path} with {id}: {}",
                    reply.body
                );
                checked += 1;
            }
        }
    }
    checked
}

/// An owner of two restaurants hires a manager for one of them: every id of the other answers 404 as another
/// partner's would, the staff of the other and what spans every venue (partner-wide reports, the tip ledger, disputes,
/// a new venue) are refused, the venue list holds theirs only, and their own venue works as before. The manager hires
/// for their venue only; owners and payout authority work at every venue.
pub async fn a_manager_of_one_venue_reaches_nothing_of_another(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    // Venue B ("Sede Centro") with something behind every kind of id, and the owner's second venue A.
    let b = crate::ordering::venue_with_menu(&server, "dos-sedes@example.co").await;
    let ids_b = something_behind_every_id(&server, &b).await;
    let venue_a = post(
        &server,
        "/api/v1/venues",
        Some(&b.owner),
        json!({"name": "Sede Norte", "timezone": "America/Bogota"}),
    )
    .await;
    assert_eq!(venue_a.status, 201, "{}", venue_a.body);
    let venue_a = venue_a.body["id"].as_str().unwrap().to_owned();
    let invited = post(
        &server,
        "/api/v1/staff",
        Some(&b.owner),
        json!({"email": "gerente.norte@example.co", "name": "Gerente Norte", "role": "manager", "venues": [venue_a]}),
    )
    .await;
    assert_eq!(invited.status, 201, "{}", invited.body);
    let pending = call(&server, "GET", "/api/v1/invitations", Some(&b.owner), None).await;
    let listed = pending.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == invited.body["invitation_id"])
        .unwrap();
    assert_eq!(listed["venues"], json!([venue_a]));
    let token = invitation_token(&server, "gerente.norte@example.co").await;
    // The mail and the invitation page say where they will work.
    assert!(
        mailed(
            &server,
            &[
                "To: gerente.norte@example.co",
                "como gerente en Sede Norte.",
                "as manager at Sede Norte."
            ]
        )
        .await
    );
    let preview = call(&server, "GET", &format!("/invitations/{token}"), None, None).await;
    assert!(
        preview
            .body
            .as_str()
            .unwrap()
            .contains("como <strong>gerente</strong> en <strong>Sede Norte</strong>"),
        "{}",
        preview.body
    );
    let joined = post(
        &server,
        &format!("/api/v1/staff/invitations/{token}/accept"),
        None,
        json!({"password": PASSWORD}),
    )
    .await;
    assert_eq!(joined.status, 201, "{}", joined.body);
    let manager_id = joined.body["user_id"].as_str().unwrap().to_owned();
    let manager = enrolled(&server, "gerente.norte@example.co", PASSWORD)
        .await
        .access;
    let me = call(&server, "GET", "/api/v1/me", Some(&manager), None).await;
    assert_eq!(me.body["venues"], json!([venue_a]));

    // Every id of venue B: 404, as if it did not exist; B's staff and invitations (and approvals, which need payout
    // authority): 403.
    let checked = every_id_route(&server, &manager, &ids_b, |route, param| {
        if matches!(param, "id" | "invitation" | "approval") || route.ends_with("/approve") {
            403
        } else {
            404
        }
    })
    .await;
    assert!(checked >= 14, "every route with an id was tried ({checked})");
    for (method, path) in [
        ("GET", "/api/v1/analytics/summary?from=2030-01-01&to=2030-01-02"),
        ("GET", "/api/v1/tips?month=2030-01"),
        ("GET", "/api/v1/disputes"),
    ] {
        let refused = call(&server, method, path, Some(&manager), None).await;
        assert_eq!(refused.status, 403, "{method} {path}: {}", refused.body);
    }
    let new_venue = post(
        &server,
        "/api/v1/venues",
        Some(&manager),
        json!({"name": "Sede Sur", "timezone": "America/Bogota"}),
    )
    .await;
    assert_eq!(new_venue.status, 403, "{}", new_venue.body);

    // Their own venue works; the list of venues holds it alone.
    let venues = call(&server, "GET", "/api/v1/venues", Some(&manager), None).await;
    let names: Vec<&str> = venues.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Sede Norte"]);
    let table = post(
        &server,
        &format!("/api/v1/venues/{venue_a}/tables"),
        Some(&manager),
        json!({"label": "N1", "seats": 4}),
    )
    .await;
    assert_eq!(table.status, 201, "{}", table.body);
    let qr = call(
        &server,
        "GET",
        &format!("/api/v1/tables/{}/qr.svg", table.body["id"].as_str().unwrap()),
        Some(&manager),
        None,
    )
    .await;
    assert_eq!(qr.status, 200);

    // The manager hires for their venue: left out, the venues are theirs; another venue or every venue is refused.
    let hired = post(
        &server,
        "/api/v1/staff",
        Some(&manager),
        json!({"email": "mesero.norte@example.co", "name": "Mesero", "role": "server"}),
    )
    .await;
    assert_eq!(hired.status, 201, "{}", hired.body);
    for venues in [json!([b.venue]), json!(null), json!([venue_a, b.venue])] {
        let beyond = post(
            &server,
            "/api/v1/staff",
            Some(&manager),
            json!({"email": "otro@example.co", "name": "Otro", "role": "server", "venues": venues}),
        )
        .await;
        assert_eq!(beyond.status, 403, "{venues}: {}", beyond.body);
    }
    // A page at a time, no page empty while more follow: the colleagues sharing a venue, and nobody of B alone.
    let mut seen = Vec::new();
    let mut path = "/api/v1/staff?limit=1".to_owned();
    loop {
        let page = call(&server, "GET", &path, Some(&manager), None).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let items = page.body["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{}", page.body);
        seen.push(items[0]["email"].as_str().unwrap().to_owned());
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/staff?limit=1&cursor={cursor}"),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            "dos-sedes@example.co",
            "gerente.norte@example.co",
            "server-b@example.co"
        ],
        "the owner, themselves and B's server of every venue"
    );
    let too_many: Vec<String> = (0..101).map(|_| venue_a.clone()).collect();
    let shape = call(
        &server,
        "PATCH",
        &format!("/api/v1/staff/{manager_id}"),
        Some(&b.owner),
        Some(json!({"venues": too_many})),
    )
    .await;
    assert_eq!(shape.status, 400, "{}", shape.body);
    let invitations = call(&server, "GET", "/api/v1/invitations", Some(&manager), None).await;
    // They see the invitations of their venue, and one to every venue (theirs too), which they cannot withdraw.
    let invited: Vec<(&Value, &Value)> = invitations.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (&i["email"], &i["venues"]))
        .collect();
    assert_eq!(
        invited,
        [
            (&json!("invitada.b@example.co"), &json!(null)),
            (&json!("mesero.norte@example.co"), &json!([venue_a]))
        ]
    );

    // Owners and payout authority work at every venue; an unknown venue and an empty list are refused.
    let owner_id = call(&server, "GET", "/api/v1/me", Some(&b.owner), None)
        .await
        .body["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (member, patch) in [
        (&owner_id, json!({"venues": [venue_a]})),
        (
            &manager_id,
            json!({"payout_authority": true, "venues": [venue_a]}),
        ),
        (&manager_id, json!({"venues": []})),
        (&manager_id, json!({"venues": [uuid::Uuid::now_v7()]})),
        // Granting payout authority (or the owner's role) to a member of some venues says "every venue" with it:
        // a tick taken back must not leave them at every venue unnoticed.
        (&manager_id, json!({"payout_authority": true})),
        (&manager_id, json!({"role": "owner"})),
    ] {
        let refused = call(
            &server,
            "PATCH",
            &format!("/api/v1/staff/{member}"),
            Some(&b.owner),
            Some(patch.clone()),
        )
        .await;
        assert_eq!(refused.status, 422, "{patch}: {}", refused.body);
        assert_eq!(refused.body["errors"][0]["field"], "venues", "{}", refused.body);
    }
    // Given both venues, the manager reaches B at once (every request reads the member's venues).
    let widened = call(
        &server,
        "PATCH",
        &format!("/api/v1/staff/{manager_id}"),
        Some(&b.owner),
        Some(json!({"venues": [venue_a, b.venue]})),
    )
    .await;
    assert_eq!(widened.status, 200, "{}", widened.body);
    let tables_b = call(
        &server,
        "GET",
        &format!("/api/v1/venues/{}/tables", b.venue),
        Some(&manager),
        None,
    )
    .await;
    assert_eq!(tables_b.status, 200, "{}", tables_b.body);
    server.stop().await;
}

on_both_engines!(
    another_partners_ids_in_bodies_and_queries_reveal_nothing,
    owner_must_enrol_then_needs_a_fresh_code_at_every_sign_in,
    tokens_expire_refuse_forgery_and_rotate,
    refresh_tokens_rotate_and_reuse_revokes_the_family,
    manager_of_one_partner_gets_404_for_every_id_of_another,
    a_manager_of_one_venue_reaches_nothing_of_another,
    passwords_are_bcrypt_12_and_follow_the_policy,
);

pub async fn passwords_are_bcrypt_12_and_follow_the_policy(engine: Engine) {
    let server = TestServer::start_on(engine, |config| config.auth.bcrypt_cost = 12).await;
    let refused = |password: &'static str| {
        post(
            &server,
            "/api/v1/signup",
            None,
            json!({"business_name": "Casa", "country": "CO", "owner": {"name": "Eva", "email": "eva@example.co", "password": password}}),
        )
    };
    // Too short is a shape the document states (400); a breached or patterned password of a valid length is
    // well-formed and refused by the policy (422), naming the field either way.
    for (password, status) in [
        ("Xq7!mP2#kZ", 400),
        ("password1234567", 422),
        ("qwertyuiopasdf", 422),
        ("la casa de papel azul", 422),
    ] {
        let reply = refused(password).await;
        assert_eq!(reply.status, status, "{password}: {}", reply.body);
        assert_eq!(
            reply.body["errors"][0]["field"], "owner.password",
            "{}",
            reply.body
        );
    }
    sign_up(&server, "eva@example.co").await;
    // The same email again is well-formed; it collides with the account that exists: 409, naming the field.
    let again = post(
        &server,
        "/api/v1/signup",
        None,
        json!({"business_name": "Otra Casa", "country": "CO",
               "owner": {"name": "Eva", "email": "eva@example.co", "password": PASSWORD}}),
    )
    .await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(again.body["errors"][0]["field"], "owner.email", "{}", again.body);
    let store = server.store().await;
    let key = comanda_security::kms::keyed_digest(&server.server().identity_email_index(), b"eva@example.co");
    let record = store.login_record(&key).await.unwrap().unwrap();
    assert!(
        record.password_hash.starts_with("$2b$12$"),
        "{}",
        record.password_hash
    );
    server.stop().await;
}

#[tokio::test]
async fn a_credential_stuffing_address_costs_no_more_hashing_and_the_owner_still_signs_in() {
    let server =
        TestServer::start_with(|config| config.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()])
            .await;
    sign_up(&server, "stuffed@example.co").await;
    let attempt = |email: String, password: &'static str, from: &'static str| {
        server
            .client
            .post(server.url("/api/v1/auth/login"))
            .header("x-forwarded-for", from)
            .json(&json!({"email": email, "password": password}))
            .send()
    };
    // A burst from one address: at most PASSWORD_CHECKS_PER_ADDRESS of its sign-ins wait for hashing at once, so
    // the owner's sign-in from elsewhere is not queued behind it.
    let burst: Vec<_> = (0..12)
        .map(|n| {
            attempt(
                format!("guess{n}@example.co"),
                "wrong wrong wrong wrong",
                "203.0.113.90",
            )
        })
        .collect();
    let (burst, owner) = tokio::join!(
        futures_util::future::join_all(burst),
        attempt("stuffed@example.co".into(), PASSWORD, "198.51.100.90")
    );
    let statuses: Vec<u16> = burst
        .iter()
        .map(|r| r.as_ref().unwrap().status().as_u16())
        .collect();
    assert!(
        statuses.iter().filter(|s| **s == 401).count() <= 4,
        "{statuses:?}"
    );
    assert!(statuses.iter().all(|s| matches!(s, 401 | 429)), "{statuses:?}");
    assert_eq!(owner.unwrap().status().as_u16(), 200);
    // Failing on ten distinct accounts makes the address a stuffing source: refused before any hashing, even with
    // a correct password, until its failures age out; the owner elsewhere is unaffected.
    let mut failed = statuses.iter().filter(|s| **s == 401).count();
    let mut n = 100;
    while failed < 10 {
        let reply = attempt(
            format!("guess{n}@example.co"),
            "wrong wrong wrong wrong",
            "203.0.113.90",
        )
        .await
        .unwrap();
        n += 1;
        match reply.status().as_u16() {
            401 => failed += 1,
            429 => tokio::time::sleep(std::time::Duration::from_millis(1100)).await,
            other => panic!("{other}"),
        }
    }
    let blocked = attempt("stuffed@example.co".into(), PASSWORD, "203.0.113.90")
        .await
        .unwrap();
    assert_eq!(blocked.status().as_u16(), 429);
    let retry_after = crate::support::retry_after(&blocked);
    assert!(
        retry_after > 200,
        "until the five-minute window slides: {retry_after}"
    );
    let owner = attempt("stuffed@example.co".into(), PASSWORD, "198.51.100.91")
        .await
        .unwrap();
    assert_eq!(owner.status().as_u16(), 200);
    server.stop().await;
}

/// MON-2 and MON-4: a credential-stuffing burst — one address failing on ten accounts within minutes, three of them
/// accounts here — raises an on-call alert, and each of the three gets a mail and a security event; the seven
/// guessed addresses with no account get nothing.
#[tokio::test]
async fn a_credential_stuffing_burst_raises_an_alert_and_tells_each_account_it_reached() {
    use sqlx::Connection as _;
    let server =
        TestServer::start_with(|config| config.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()])
            .await;
    for n in 0..3 {
        sign_up(&server, &format!("victim{n}@example.co")).await;
    }
    let mut failed = 0;
    while failed < 10 {
        let email = if failed < 3 {
            format!("victim{failed}@example.co")
        } else {
            format!("guess{failed}@example.co")
        };
        let reply = server
            .client
            .post(server.url("/api/v1/auth/login"))
            .header("x-forwarded-for", "203.0.113.77")
            .json(&json!({"email": email, "password": "wrong wrong wrong wrong"}))
            .send()
            .await
            .unwrap();
        match reply.status().as_u16() {
            401 => failed += 1,
            429 => tokio::time::sleep(std::time::Duration::from_millis(1100)).await,
            other => panic!("{other}"),
        }
    }
    let store = server.store().await;
    let alerts = store.alerts(time::OffsetDateTime::UNIX_EPOCH).await.unwrap();
    let burst: Vec<_> = alerts
        .iter()
        .filter(|a| a.kind == "auth.credential_stuffing")
        .collect();
    assert_eq!(burst.len(), 1, "{alerts:?}");
    assert!(
        burst[0].detail.contains("203.0.113.77")
            && burst[0].detail.contains("10 accounts")
            && burst[0]
                .detail
                .contains("(3 of them accounts here, each told now)"),
        "{}",
        burst[0].detail
    );
    for n in 0..3 {
        let to = format!("To: victim{n}@example.co");
        assert!(
            mailed(&server, &[&to, "Sign-in attempts on your comanda account"]).await,
            "{to}"
        );
    }
    let outbox = server.dir.path().join("data/outbox");
    let to_guesses = std::fs::read_dir(&outbox)
        .unwrap()
        .flatten()
        .filter(|entry| {
            std::fs::read_to_string(entry.path())
                .unwrap_or_default()
                .contains("To: guess")
        })
        .count();
    assert_eq!(to_guesses, 0, "no mail to an address without an account");
    let mut db = sqlx::SqliteConnection::connect(&format!(
        "sqlite://{}",
        server.dir.path().join("data/comanda.db").display()
    ))
    .await
    .unwrap();
    let events: i64 =
        sqlx::query_scalar("SELECT count(*) FROM security_events WHERE kind = 'sign_in.credential_stuffing'")
            .fetch_one(&mut db)
            .await
            .unwrap();
    assert_eq!(events, 3);
    let _ = db.close().await;
    server.stop().await;
}

/// MON-2, AUTH-8: someone with the password guessing second factors (each pending sign-in gets five, the account a
/// hundred an hour, from as many addresses as they have) is caught at the tenth wrong code within the hour: the
/// on-call gets an alert naming the partner, the account a security event and a mail telling them to change their
/// password — once, not at every further guess. (An outside tester's 100 wrong codes raised nothing.)
#[tokio::test]
async fn second_factors_guessed_after_the_right_password_alert_and_tell_the_account() {
    let server =
        TestServer::start_with(|config| config.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()])
            .await;
    sign_up(&server, "guessed@example.co").await;
    let session = enrolled(&server, "guessed@example.co", PASSWORD).await;
    let right = code(&server, &session.secret, 0);
    let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 500_000) % 1_000_000);
    let mut n = 0;
    let from = |n: u32| format!("198.51.100.{}", n + 1);
    let mut guessed = 0;
    while guessed < 12 {
        let login = server
            .client
            .post(server.url("/api/v1/auth/login"))
            .header("x-forwarded-for", from(n))
            .json(&json!({"email": "guessed@example.co", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        n += 1;
        let login: Value = login.json().await.unwrap();
        let token = login["mfa_token"].as_str().unwrap().to_owned();
        for _ in 0..4 {
            let reply = server
                .client
                .post(server.url("/api/v1/auth/mfa/verify"))
                .header("x-forwarded-for", from(n))
                .json(&json!({"mfa_token": token, "code": wrong}))
                .send()
                .await
                .unwrap();
            n += 1;
            assert_eq!(reply.status(), 401);
            guessed += 1;
        }
    }
    let store = server.store().await;
    let alerts = store.alerts(time::OffsetDateTime::UNIX_EPOCH).await.unwrap();
    let raised: Vec<_> = alerts
        .iter()
        .filter(|a| a.kind == "auth.second_factor_guessing")
        .collect();
    assert_eq!(
        raised.len(),
        1,
        "once, not at every guess after the tenth: {alerts:?}"
    );
    assert!(raised[0].partner.is_some(), "{:?}", raised[0]);
    assert!(
        mailed(
            &server,
            &[
                "To: guessed@example.co",
                "Your comanda password is known to someone"
            ]
        )
        .await
    );

    // NIST SP 800-63B §5.2.2: a hundred wrong codes in a row (the hourly limit alone let ~2,400 a day through) and
    // the app's codes are no longer taken from a new device, the right one neither; a recovery code still signs in
    // and starts the count again. The guesses up to the 99th are counted through the store, as the hourly limit
    // would otherwise take this test four hours.
    let me = call(&server, "GET", "/api/v1/me", Some(&session.access), None).await;
    let partner: uuid::Uuid = me.body["partner_id"].as_str().unwrap().parse().unwrap();
    let user: uuid::Uuid = me.body["user_id"].as_str().unwrap().parse().unwrap();
    let scope = comanda_security::TenantScope::from_proof(&comanda_security::tenancy::JobAuthority::new(
        "test",
        comanda_domain::PartnerId::from_uuid(partner),
    ));
    while store.note_second_factor_failure(&scope, user).await.unwrap() < 99 {}
    let attempt = async |n: u32, code: &str| {
        let login: Value = server
            .client
            .post(server.url("/api/v1/auth/login"))
            .header("x-forwarded-for", from(n))
            .json(&json!({"email": "guessed@example.co", "password": PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let reply = server
            .client
            .post(server.url("/api/v1/auth/mfa/verify"))
            .header("x-forwarded-for", from(n))
            .json(&json!({"mfa_token": login["mfa_token"], "code": code}))
            .send()
            .await
            .unwrap();
        (reply.status().as_u16(), reply.json::<Value>().await.unwrap())
    };
    let (status, body) = attempt(200, &wrong).await;
    assert_eq!(status, 401, "the hundredth: {body}");
    server.clock.advance(time::Duration::seconds(30));
    let (status, body) = attempt(201, &code(&server, &session.secret, 0)).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("too many wrong codes in a row"),
        "{body}"
    );
    let (status, body) = attempt(202, &session.recovery_codes[0]).await;
    assert_eq!(status, 200, "a recovery code still signs in: {body}");
    server.clock.advance(time::Duration::seconds(30));
    let (status, body) = attempt(203, &code(&server, &session.secret, 0)).await;
    assert_eq!(status, 200, "and the app's codes are taken again: {body}");
    server.stop().await;
}

/// AUTH-2 (issue 15): the sign-in path itself stores the upgraded hash. An account hashed at a lower cost (an
/// instance at cost 4) signs in through an instance at cost 5; the stored hash is then cost 5 and still signs in.
#[tokio::test]
async fn signing_in_stores_a_hash_upgraded_to_the_current_cost() {
    use sqlx::Connection;
    let first = TestServer::start_on(Engine::Postgres, |_| {}).await;
    sign_up(&first, "upgrade@example.co").await;
    let stored_cost = || async {
        let mut db = sqlx::PgConnection::connect(&first.superuser_url().unwrap())
            .await
            .unwrap();
        let hashes: Vec<String> = sqlx::query_scalar("SELECT password_hash FROM credentials")
            .fetch_all(&mut db)
            .await
            .unwrap();
        assert_eq!(hashes.len(), 1);
        hashes[0].split('$').nth(2).unwrap().to_owned()
    };
    assert_eq!(stored_cost().await, "04");
    let stronger = first
        .second_instance_with(|config| config.auth.bcrypt_cost = 5)
        .await;
    let login = |server| {
        post(
            server,
            "/api/v1/auth/login",
            None,
            json!({"email": "upgrade@example.co", "password": PASSWORD}),
        )
    };
    assert_eq!(login(&stronger).await.status, 200);
    assert_eq!(
        stored_cost().await,
        "05",
        "the sign-in stored the hash at the current cost"
    );
    assert_eq!(login(&stronger).await.status, 200, "the upgraded hash signs in");
    assert_eq!(
        login(&first).await.status,
        200,
        "and verifies on an instance of the older cost"
    );
    stronger.stop().await;
    first.stop().await;
}

/// INF-1 (issue 15): one partner's burst past its request budget (1,200 at once, 6,000 a minute) gets 429 with
/// `Retry-After` over HTTP, and another partner is served meanwhile.
#[tokio::test]
async fn a_tenant_past_its_request_budget_gets_429_and_another_tenant_is_served() {
    let server = TestServer::start().await;
    sign_up(&server, "busy@example.co").await;
    let busy = enrolled(&server, "busy@example.co", PASSWORD).await;
    sign_up(&server, "quiet@example.co").await;
    let quiet = enrolled(&server, "quiet@example.co", PASSWORD).await;
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..20 {
        let wave = (0..100).map(|_| {
            server
                .client
                .get(server.url("/api/v1/venues"))
                .bearer_auth(&busy.access)
                .send()
        });
        for reply in futures_util::future::join_all(wave).await {
            let reply = reply.unwrap();
            let status = reply.status().as_u16();
            if status == 429 {
                retry_after = reply
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().to_owned());
                let body: Value = reply.json().await.unwrap();
                assert_eq!(
                    body["type"], "https://comanda.dev/problems/rate-limited",
                    "{body}"
                );
            }
            statuses.push(status);
        }
    }
    assert!(statuses.iter().all(|s| matches!(s, 200 | 429)), "{statuses:?}");
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert!(
        refused >= 1,
        "a burst past the budget is refused: {refused} of 2000 (the budget refills at 100 a second while the burst runs, so how many depends on the machine)"
    );
    assert!(retry_after.unwrap().parse::<u64>().unwrap() >= 1);
    let other = call(&server, "GET", "/api/v1/venues", Some(&quiet.access), None).await;
    assert_eq!(other.status, 200, "another partner is served");
    // MON-6: a request refused by the budget is recorded like any other (once the budget has refilled a little).
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let csv = server
        .client
        .get(server.url("/api/v1/audit/export.csv?action=http.get"))
        .bearer_auth(&busy.access)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status().as_u16(), 200);
    let csv = csv.text().await.unwrap();
    assert!(
        csv.lines().any(|l| l.contains("route=/api/v1/venues status=429")),
        "the 429s are in the access log"
    );
    server.stop().await;
}

/// AUTH-8 (issue 15): an attacker spread over many addresses spends the account's sign-in budget; unknown clients
/// then wait, but the owner's device, which signed in before and holds the account's device cookie, signs in.
#[tokio::test]
async fn an_exhausted_account_budget_does_not_lock_out_the_owners_known_device() {
    let server =
        TestServer::start_with(|config| config.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()])
            .await;
    sign_up(&server, "known@example.co").await;
    let owner = enrolled(&server, "known@example.co", PASSWORD).await;
    let attempt = |password: &'static str, from: String, cookie: Option<String>| {
        let mut request = server
            .client
            .post(server.url("/api/v1/auth/login"))
            .header("x-forwarded-for", from)
            .json(&json!({"email": "known@example.co", "password": password}));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.send()
    };
    // The owner's device signs in once and keeps the device cookie the sign-in sets.
    let login = attempt(PASSWORD, "198.51.100.20".into(), None).await.unwrap();
    let mfa_token = login.json::<Value>().await.unwrap()["mfa_token"].clone();
    let verified = server
        .client
        .post(server.url("/api/v1/auth/mfa/verify"))
        .header("x-forwarded-for", "198.51.100.20")
        .json(&json!({"mfa_token": mfa_token, "code": code(&server, &owner.secret, 1)}))
        .send()
        .await
        .unwrap();
    assert_eq!(verified.status().as_u16(), 200);
    let set_cookie = verified.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set_cookie.contains("Secure")
            && set_cookie.contains("HttpOnly")
            && set_cookie.contains("SameSite=Strict"),
        "{set_cookie}"
    );
    let device = set_cookie.split(';').next().unwrap().to_owned();
    assert!(device.starts_with("comanda_device="), "{device}");

    // 120 wrong guesses, each from its own address: the account-wide budget (100 an hour) runs out.
    let mut statuses = Vec::new();
    for n in 0..120 {
        let from = format!("203.0.113.{n}");
        statuses.push(
            attempt("wrong wrong wrong wrong", from, None)
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert!(statuses.iter().all(|s| matches!(s, 401 | 429)), "{statuses:?}");
    assert!(statuses.ends_with(&[429, 429, 429]), "{statuses:?}");
    let newcomer = attempt(PASSWORD, "198.51.100.9".into(), None).await.unwrap();
    assert_eq!(newcomer.status().as_u16(), 429, "an unknown client waits");
    // A cookie for another account, or a forged one, counts as unknown.
    let forged = attempt(
        PASSWORD,
        "198.51.100.9".into(),
        Some("comanda_device=dev_x.AAAA".into()),
    )
    .await;
    assert_eq!(forged.unwrap().status().as_u16(), 429);
    let known = attempt(PASSWORD, "198.51.100.20".into(), Some(device.clone()))
        .await
        .unwrap();
    assert_eq!(known.status().as_u16(), 200, "the owner's known device signs in");
    let known: Value = known.json().await.unwrap();
    assert_eq!(known["mfa_required"], true);
    // …finishes the sign-in, and may still make the changes that need step-up (the account's budget is spent).
    let finished = server
        .client
        .post(server.url("/api/v1/auth/mfa/verify"))
        .header("x-forwarded-for", "198.51.100.20")
        .header("cookie", device.clone())
        .json(&json!({"mfa_token": known["mfa_token"], "code": owner.recovery_codes[0]}))
        .send()
        .await
        .unwrap();
    assert_eq!(finished.status().as_u16(), 200);
    let access = finished.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let step_up = |cookie: Option<String>, code: &str| {
        let mut request = server
            .client
            .post(server.url("/api/v1/auth/mfa/recovery-codes"))
            .header("x-forwarded-for", "198.51.100.20")
            .bearer_auth(&access)
            .json(&json!({"password": PASSWORD, "code": code}));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.send()
    };
    let without = step_up(None, &owner.recovery_codes[1]).await.unwrap();
    assert_eq!(
        without.status().as_u16(),
        429,
        "step-up from an unknown client waits"
    );
    let with = step_up(Some(device), &owner.recovery_codes[1]).await.unwrap();
    assert_eq!(
        with.status().as_u16(),
        200,
        "step-up from the known device does not"
    );
    server.stop().await;
}

/// One pending sign-in buys five second-factor guesses, not an unbounded number; turning two-step sign-in off
/// needs a password strong enough to stand alone (15 characters, AUTH-3).
#[tokio::test]
async fn a_pending_sign_in_allows_five_guesses_and_2fa_off_needs_a_standalone_password() {
    let server = TestServer::start().await;
    sign_up(&server, "guess@example.co").await;
    let owner = enrolled(&server, "guess@example.co", PASSWORD).await;
    let signed_in = login(&server, "guess@example.co", PASSWORD).await;
    let token = signed_in.body["mfa_token"].clone();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let guess = post(
            &server,
            "/api/v1/auth/mfa/verify",
            None,
            json!({"mfa_token": token, "code": "000000"}),
        )
        .await;
        statuses.push(guess.status);
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429]);
    let right = post(
        &server,
        "/api/v1/auth/mfa/verify",
        None,
        json!({"mfa_token": token, "code": owner.recovery_codes[0]}),
    )
    .await;
    assert_eq!(
        right.status, 429,
        "even the right code waits once the token's guesses are spent"
    );

    // A server enrolled voluntarily with a 12-character password cannot turn 2FA off until the password is longer.
    let waiter = "guessing waiter@example.co".replace(' ', "-");
    invite_and_join(
        &server,
        &owner.access,
        &waiter,
        "server",
        "a much longer passphrase",
    )
    .await;
    let session = login(&server, waiter, "a much longer passphrase").await;
    let access = session.body["access_token"].as_str().unwrap().to_owned();
    let enrolment = post(
        &server,
        "/api/v1/auth/mfa/totp/enroll",
        Some(&access),
        json!({"password": "a much longer passphrase"}),
    )
    .await;
    let secret = enrolment.body["secret"].as_str().unwrap().to_owned();
    let confirmed = post(
        &server,
        "/api/v1/auth/mfa/totp/confirm",
        Some(&access),
        json!({"code": code(&server, &secret, 0)}),
    )
    .await;
    let access = confirmed.body["access_token"].as_str().unwrap().to_owned();
    let codes = confirmed.body["recovery_codes"].clone();
    let short = "Qw7!zr9#Lp2x";
    let changed = post(
        &server,
        "/api/v1/auth/password",
        Some(&access),
        json!({"current_password": "a much longer passphrase", "new_password": short, "code": codes[0]}),
    )
    .await;
    assert_eq!(
        changed.status, 200,
        "12 characters are enough beside a second factor: {}",
        changed.body
    );
    let access = changed.body["access_token"].as_str().unwrap().to_owned();
    let refused = post(
        &server,
        "/api/v1/auth/mfa/totp/disable",
        Some(&access),
        json!({"password": short, "code": codes[1]}),
    )
    .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body["detail"].as_str().unwrap().contains("15 characters"));
    server.stop().await;
}

#[tokio::test]
async fn thirty_rapid_wrong_passwords_are_throttled_without_locking_out_the_owner() {
    let server =
        TestServer::start_with(|config| config.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()])
            .await;
    sign_up(&server, "target@example.co").await;
    let attempt = |password: &'static str, from: &'static str| {
        server
            .client
            .post(server.url("/api/v1/auth/login"))
            .header("x-forwarded-for", from)
            .json(&json!({"email": "target@example.co", "password": password}))
            .send()
    };
    let mut statuses = Vec::new();
    for _ in 0..30 {
        statuses.push(attempt("wrong wrong wrong wrong", "203.0.113.66").await.unwrap());
    }
    let throttled: Vec<_> = statuses.iter().filter(|r| r.status().as_u16() == 429).collect();
    assert!(
        !throttled.is_empty(),
        "{:?}",
        statuses.iter().map(|r| r.status().as_u16()).collect::<Vec<_>>()
    );
    assert!(statuses.iter().all(|r| matches!(r.status().as_u16(), 401 | 429)));
    let retry_after = crate::support::retry_after(throttled[0]);
    assert!(retry_after >= 1);
    let owner = attempt(PASSWORD, "198.51.100.7").await.unwrap();
    assert_eq!(
        owner.status().as_u16(),
        200,
        "the real owner, from another address, is not locked out"
    );
    server.stop().await;
}

#[tokio::test]
async fn unknown_email_and_wrong_password_answer_alike() {
    let server = TestServer::start().await;
    sign_up(&server, "alike@example.co").await;
    let wrong_password = login(&server, "alike@example.co", "not the password at all").await;
    let unknown = login(&server, "nobody@example.co", "not the password at all").await;
    assert_eq!((wrong_password.status, unknown.status), (401, 401));
    assert_eq!(wrong_password.body, unknown.body);
    server.stop().await;
}

#[tokio::test]
async fn turning_2fa_on_from_a_signed_in_session_needs_the_current_password() {
    let server = TestServer::start().await;
    sign_up(&server, "boss@example.co").await;
    let owner = enrolled(&server, "boss@example.co", PASSWORD).await;
    let long = "a much longer passphrase";
    invite_and_join(&server, &owner.access, "host@example.co", "host", long).await;
    let signed_in = login(&server, "host@example.co", long).await;
    let access = signed_in.body["access_token"].as_str().unwrap().to_owned();
    let enroll = |body: Value| post(&server, "/api/v1/auth/mfa/totp/enroll", Some(&access), body);

    // A stolen access token alone cannot put another authenticator on the account.
    let bare = enroll(json!({})).await;
    assert_eq!(bare.status, 400, "{}", bare.body);
    assert_eq!(bare.body["type"], "https://comanda.dev/problems/validation");
    assert_eq!(bare.body["errors"][0]["field"], "password", "{}", bare.body);
    let wrong = enroll(json!({"password": "not the password at all"})).await;
    assert_eq!(wrong.status, 403, "{}", wrong.body);
    assert_eq!(wrong.body["type"], "https://comanda.dev/problems/step-up-failed");
    assert!(wrong.body.get("secret").is_none());
    let unknown = enroll(json!({"password": long, "label": "my phone"})).await;
    assert_eq!(
        unknown.status, 400,
        "an unknown field is refused, not ignored: {}",
        unknown.body
    );
    let confirm = post(
        &server,
        "/api/v1/auth/mfa/totp/confirm",
        Some(&access),
        json!({"code": "123456"}),
    )
    .await;
    assert_eq!(confirm.status, 409, "nothing was staged: {}", confirm.body);

    let started = enroll(json!({"password": long})).await;
    assert_eq!(started.status, 200, "{}", started.body);
    let secret = started.body["secret"].as_str().unwrap().to_owned();
    let confirmed = post(
        &server,
        "/api/v1/auth/mfa/totp/confirm",
        Some(&access),
        json!({"code": code(&server, &secret, 0)}),
    )
    .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    let again = enroll(json!({"password": long})).await;
    assert_eq!(again.status, 409, "already on: {}", again.body);

    // The enrolment token of a forced enrolment comes from a sign-in that has just checked the password; a
    // password given with it is checked all the same.
    invite_and_join(&server, &owner.access, "manager@example.co", "manager", long).await;
    let forced = login(&server, "manager@example.co", long).await;
    let token = forced.body["enrollment_token"].as_str().unwrap().to_owned();
    let enroll_forced = |body: Value| post(&server, "/api/v1/auth/mfa/totp/enroll", Some(&token), body);
    assert_eq!(
        enroll_forced(json!({"password": "not the password at all"}))
            .await
            .status,
        403
    );
    assert_eq!(enroll_forced(json!({})).await.status, 200);
    // As before the route took a body, a client may also send none.
    let bodyless = server
        .client
        .post(server.url("/api/v1/auth/mfa/totp/enroll"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(bodyless.status(), 200);
    assert_eq!(
        enroll_forced(Value::Null).await.status,
        200,
        "null, as the OpenAPI document allows"
    );
    server.stop().await;
}

#[tokio::test]
async fn granting_a_role_that_needs_2fa_forces_enrolment_at_the_next_request() {
    let server = TestServer::start().await;
    sign_up(&server, "boss@example.co").await;
    let owner = enrolled(&server, "boss@example.co", PASSWORD).await;
    let long = "a much longer passphrase";
    let member = invite_and_join(&server, &owner.access, "waiter@example.co", "server", long).await;
    let signed_in = login(&server, "waiter@example.co", long).await;
    let waiter = signed_in.body["access_token"]
        .as_str()
        .expect("servers need no second factor")
        .to_owned();
    assert_eq!(
        call(&server, "GET", "/api/v1/me", Some(&waiter), None)
            .await
            .status,
        200
    );
    assert_eq!(
        call(&server, "GET", "/api/v1/staff", Some(&waiter), None)
            .await
            .status,
        403,
        "servers cannot manage staff"
    );

    let promoted = call(
        &server,
        "PATCH",
        &format!("/api/v1/staff/{member}"),
        Some(&owner.access),
        Some(json!({"payout_authority": true})),
    )
    .await;
    assert_eq!(promoted.status, 200, "{}", promoted.body);
    let forced = call(&server, "GET", "/api/v1/me", Some(&waiter), None).await;
    assert_eq!(forced.status, 403);
    assert_eq!(
        forced.body["type"],
        "https://comanda.dev/problems/mfa-enrollment-required"
    );
    // A refresh says the same and spends nothing: the client's retry, past the reuse grace, is not taken for a
    // stolen token's replay (which would sign the whole session out before the member could enrol).
    let refresh = signed_in.body["refresh_token"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        let refused = post(
            &server,
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": refresh }),
        )
        .await;
        assert_eq!(
            (refused.status, refused.body["type"].as_str()),
            (403, Some("https://comanda.dev/problems/mfa-enrollment-required")),
            "{}",
            refused.body
        );
        server.clock.advance(time::Duration::seconds(11));
    }
    // It can enrol with its access token, once it confirms its password.
    assert_eq!(
        post(
            &server,
            "/api/v1/auth/mfa/totp/enroll",
            Some(&waiter),
            json!({"password": long})
        )
        .await
        .status,
        200
    );
    server.stop().await;
}

#[tokio::test]
async fn sign_out_everywhere_and_compromised_credentials_void_every_token() {
    let server = TestServer::start().await;
    sign_up(&server, "out@example.co").await;
    let first = enrolled(&server, "out@example.co", PASSWORD).await;
    server.clock.advance(time::Duration::seconds(2));
    let signed_in = login(&server, "out@example.co", PASSWORD).await;
    let second = post(
        &server,
        "/api/v1/auth/mfa/verify",
        None,
        json!({"mfa_token": signed_in.body["mfa_token"], "code": code(&server, &first.secret, 1)}),
    )
    .await;
    let second_access = second.body["access_token"].as_str().unwrap().to_owned();

    assert_eq!(
        post(&server, "/api/v1/auth/logout", Some(&first.access), json!({}))
            .await
            .status,
        204
    );
    assert_eq!(
        call(&server, "GET", "/api/v1/me", Some(&first.access), None)
            .await
            .status,
        401,
        "this session ended"
    );
    assert_eq!(
        call(&server, "GET", "/api/v1/me", Some(&second_access), None)
            .await
            .status,
        200,
        "the other did not"
    );

    assert_eq!(
        post(
            &server,
            "/api/v1/auth/compromised",
            Some(&second_access),
            json!({})
        )
        .await
        .status,
        204
    );
    assert_eq!(
        call(&server, "GET", "/api/v1/me", Some(&second_access), None)
            .await
            .status,
        401
    );
    let refreshed = post(
        &server,
        "/api/v1/auth/refresh",
        None,
        json!({"refresh_token": second.body["refresh_token"]}),
    )
    .await;
    assert_eq!(refreshed.status, 401);
    server.stop().await;
}

#[tokio::test]
async fn every_route_declares_its_access() {
    let server = TestServer::start().await;
    let doc = call(&server, "GET", "/openapi.json", None, None).await.body;
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for method in operations.as_object().unwrap().keys() {
            let method = axum::http::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            assert!(
                comanda_server::auth::access::declared_access(&method, path).is_some(),
                "{method} {path} declares no access"
            );
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_a_fresh_code() {
    let server = TestServer::start().await;
    sign_up(&server, "pw@example.co").await;
    let session = enrolled(&server, "pw@example.co", PASSWORD).await;
    let change = |current: &str, code: Option<String>| {
        post(
            &server,
            "/api/v1/auth/password",
            Some(&session.access),
            json!({"current_password": current, "new_password": "otra frase bastante larga", "code": code}),
        )
    };
    assert_eq!(
        change("not my password at all", Some(code(&server, &session.secret, 1)))
            .await
            .status,
        403,
        "a failed step-up is not an expired session"
    );
    let without_code = change(PASSWORD, None).await;
    assert_eq!(
        without_code.status, 403,
        "2FA on: the code is part of the step-up"
    );
    assert!(
        without_code.body["detail"]
            .as_str()
            .unwrap()
            .contains("send `code`"),
        "it says what is missing: {}",
        without_code.body
    );
    let changed = change(PASSWORD, Some(code(&server, &session.secret, 1))).await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    let fresh = changed.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        call(&server, "GET", "/api/v1/me", Some(&session.access), None)
            .await
            .status,
        401,
        "old sessions end"
    );
    assert_eq!(
        call(&server, "GET", "/api/v1/me", Some(&fresh), None)
            .await
            .status,
        200
    );
    let old = login(&server, "pw@example.co", PASSWORD).await;
    assert_eq!(old.status, 401);
    let new = login(&server, "pw@example.co", "otra frase bastante larga").await;
    assert_eq!(new.body["mfa_required"], true);
    server.stop().await;
}

/// MON-2 by device: the first sign-in is the baseline (told, not paged); a client without the account's device
/// cookie on a network the member never used is a new device: a security event, a mail and an `auth.new_device`
/// alert (routed at severity `info`); the device that got a cookie moving to another network is told but not
/// paged, and a network already seen is neither.
#[tokio::test]
async fn a_sign_in_from_a_new_device_is_recorded_mailed_and_paged() {
    let server =
        TestServer::start_with(|config| config.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()])
            .await;
    sign_up(&server, "device@example.co").await;
    let owner = enrolled(&server, "device@example.co", PASSWORD).await;
    assert!(
        mailed(&server, &["To: device@example.co", "New sign-in"]).await,
        "the account is told about the new device"
    );
    let paged = || async {
        let alerts = server
            .store()
            .await
            .alerts(time::OffsetDateTime::UNIX_EPOCH)
            .await
            .unwrap();
        alerts
            .into_iter()
            .filter(|a| a.kind.starts_with("auth."))
            .map(|a| (a.kind, a.detail))
            .collect::<Vec<_>>()
    };
    assert!(paged().await.is_empty(), "the first sign-in is the baseline");
    // A full sign-in (password, then code) from `from`, with or without a device cookie; the cookie it sets.
    let sign_in = |from: &'static str, cookie: Option<String>| {
        server.clock.advance(time::Duration::minutes(2));
        let server = &server;
        let secret = owner.secret.clone();
        async move {
            let send = |path: &str, body: Value| {
                let mut request = server
                    .client
                    .post(server.url(path))
                    .header("x-forwarded-for", from)
                    .json(&body);
                if let Some(cookie) = &cookie {
                    request = request.header("cookie", cookie.clone());
                }
                request.send()
            };
            let login = send(
                "/api/v1/auth/login",
                json!({"email": "device@example.co", "password": PASSWORD}),
            )
            .await
            .unwrap();
            let mfa_token = login.json::<Value>().await.unwrap()["mfa_token"].clone();
            let verified = send(
                "/api/v1/auth/mfa/verify",
                json!({"mfa_token": mfa_token, "code": code(server, &secret, 0)}),
            )
            .await
            .unwrap();
            assert_eq!(verified.status().as_u16(), 200);
            let set_cookie = verified.headers()["set-cookie"].to_str().unwrap();
            set_cookie.split(';').next().unwrap().to_owned()
        }
    };

    let device = sign_in("198.51.100.20", None).await;
    let found = paged().await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "auth.new_device");
    assert!(
        found[0]
            .1
            .ends_with(": sign_in.new_device (where: the member's security events, in their data export)")
            && !found[0].1.contains("198.51.100"),
        "the account, not where: {found:?}"
    );
    assert!(mailed(&server, &["To: device@example.co", "198.51.100.0/24"]).await);

    // The same device, with its cookie, on another network: told, not paged.
    sign_in("203.0.113.5", Some(device)).await;
    assert!(mailed(&server, &["To: device@example.co", "203.0.113.0/24"]).await);
    // A cookie-less client on a network already seen: neither.
    sign_in("198.51.100.20", None).await;
    assert_eq!(paged().await.len(), 1, "{:?}", paged().await);
    assert_eq!(comanda_server::alert_routing::severity("auth.new_device"), "info");
    server.stop().await;
}

/// MON-2 by place, placed by MaxMind's own test database: a member's first sign-in (London) is the baseline; another
/// from London says nothing; Linköping half an hour later is both a new country and impossible travel (1,257 km in
/// 30 minutes): two security events, one on-call alert and one mail; the United States two days later is a new
/// country only; an address the database does not know is not judged. The coordinates are sealed, and the places
/// are in the member's data export.
#[tokio::test]
async fn a_sign_in_from_a_new_country_or_after_impossible_travel_is_alerted_and_mailed() {
    use sqlx::Connection as _;
    let database =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/GeoLite2-City-Test.mmdb");
    let server = TestServer::start_with(|config| {
        config.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        config.auth.geoip_database = Some(database);
    })
    .await;
    sign_up(&server, "boss@example.co").await;
    let owner = enrolled(&server, "boss@example.co", PASSWORD).await;
    let long = "a much longer passphrase";
    let member = invite_and_join(&server, &owner.access, "traveller@example.co", "server", long).await;
    let sign_in_from = |address: &'static str| {
        server
            .client
            .post(server.url("/api/v1/auth/login"))
            .header("x-forwarded-for", address)
            .json(&json!({"email": "traveller@example.co", "password": long}))
            .send()
    };
    let unusual = || mailed(&server, &["To: traveller@example.co", "Unusual sign-in"]);
    let anomalies = || async {
        let store = server.store().await;
        let alerts = store.alerts(time::OffsetDateTime::UNIX_EPOCH).await.unwrap();
        alerts
            .into_iter()
            .filter(|a| a.kind == "auth.sign_in_anomaly")
            .map(|a| a.detail)
            .collect::<Vec<_>>()
    };

    assert_eq!(sign_in_from("81.2.69.142").await.unwrap().status(), 200);
    server.clock.advance(time::Duration::minutes(30));
    assert_eq!(sign_in_from("81.2.69.160").await.unwrap().status(), 200);
    assert!(anomalies().await.is_empty(), "a baseline, then the same city");
    assert!(!unusual().await);

    server.clock.advance(time::Duration::minutes(30));
    assert_eq!(sign_in_from("89.160.20.112").await.unwrap().status(), 200);
    let found = anomalies().await;
    assert_eq!(found.len(), 1, "one page per sign-in: {found:?}");
    assert!(
        found[0].contains(&member.to_string())
            && found[0].contains("sign_in.new_country, sign_in.impossible_travel")
            && !found[0].contains("SE"),
        "the account and what, not where: {found:?}"
    );
    assert!(unusual().await, "the account is told");
    assert!(
        mailed(&server, &["To: traveller@example.co", "demasiado lejos"]).await,
        "in Spanish too"
    );
    // The new network and the unusual place are one mail, not two.
    let outbox = server.dir.path().join("data/outbox");
    let about_linkoping: Vec<String> = std::fs::read_dir(&outbox)
        .unwrap()
        .flatten()
        .map(|entry| std::fs::read_to_string(entry.path()).unwrap_or_default())
        .filter(|text| text.contains("To: traveller@example.co") && text.contains("89.160.20.0/24"))
        .collect();
    assert_eq!(about_linkoping.len(), 1, "{about_linkoping:?}");
    assert!(about_linkoping[0].contains("Unusual sign-in") && about_linkoping[0].contains("from SE"));

    server.clock.advance(time::Duration::days(2));
    assert_eq!(sign_in_from("216.160.83.56").await.unwrap().status(), 200);
    let found = anomalies().await;
    assert_eq!(found.len(), 2, "{found:?}");
    // A script holds no device cookie, so a sign-in from a network it never used is a new device as well.
    assert!(
        found[1].ends_with("sign_in.new_country, sign_in.new_device (where: the member's security events, in their data export)"),
        "{found:?}"
    );
    assert_eq!(sign_in_from("10.1.2.3").await.unwrap().status(), 200);
    assert_eq!(
        anomalies().await.len(),
        2,
        "an address the database cannot place claims nothing"
    );

    let mut db = sqlx::SqliteConnection::connect(&format!(
        "sqlite://{}",
        server.dir.path().join("data/comanda.db").display()
    ))
    .await
    .unwrap();
    // The events name places (REST-1: personal data), so they are sealed with the member's key at rest.
    let details: Vec<String> =
        sqlx::query_scalar("SELECT detail FROM security_events WHERE kind LIKE 'sign_in.%' AND detail <> ''")
            .fetch_all(&mut db)
            .await
            .unwrap();
    assert!(
        details.len() >= 3 && details.iter().all(|d| d.starts_with("enc1:")),
        "security events are sealed: {details:?}"
    );
    let stored: Vec<Option<String>> = sqlx::query_scalar("SELECT coordinates FROM sign_in_places")
        .fetch_all(&mut db)
        .await
        .unwrap();
    assert_eq!(stored.len(), 3);
    assert!(
        stored.iter().flatten().all(|c| c.starts_with("enc1:")),
        "coordinates are sealed: {stored:?}"
    );
    let _ = db.close().await;

    let refreshed = post(
        &server,
        "/api/v1/auth/refresh",
        None,
        json!({"refresh_token": owner.refresh}),
    )
    .await;
    let access = refreshed.body["access_token"].as_str().unwrap();
    let export = post(
        &server,
        "/api/v1/privacy/requests",
        Some(access),
        json!({"subject": member.to_string(), "kind": "export"}),
    )
    .await;
    assert_eq!(export.status, 200, "{}", export.body);
    let places: Vec<&str> = export.body["sign_in_places"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["country"].as_str().unwrap())
        .collect();
    assert_eq!(places, ["US", "SE", "GB"], "{}", export.body);
    let told: Vec<&str> = export.body["security_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["detail"].as_str().unwrap())
        .collect();
    assert!(told.contains(&"first sign-in from SE (before: GB)"), "{told:?}");
    // Read back opened, in the order they happened (and by kind within one sign-in).
    let mut events: Vec<(&str, &str, &str)> = export.body["security_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let field = |name: &str| e[name].as_str().unwrap();
            (field("at"), field("kind"), field("detail"))
        })
        .filter(|(_, kind, _)| kind.starts_with("sign_in.") && *kind != "sign_in.new_device")
        .collect();
    events.sort();
    let events: Vec<(&str, &str)> = events.iter().map(|(_, kind, detail)| (*kind, *detail)).collect();
    assert_eq!(events.len(), 3, "{events:?}");
    assert_eq!(events[0].0, "sign_in.impossible_travel");
    assert!(
        events[0].1.starts_with("sign-in from SE 1") && events[0].1.contains("(GB) 0.5 h"),
        "{events:?}"
    );
    assert_eq!(
        events[1],
        ("sign_in.new_country", "first sign-in from SE (before: GB)")
    );
    assert_eq!(
        events[2],
        ("sign_in.new_country", "first sign-in from US (before: SE, GB)")
    );
    server.stop().await;
}

/// Whether a mail holding every one of `needles` reaches the outbox within five seconds.
pub async fn mailed(server: &TestServer, needles: &[&str]) -> bool {
    let outbox = server.dir.path().join("data/outbox");
    for _ in 0..100 {
        let found = std::fs::read_dir(&outbox)
            .into_iter()
            .flatten()
            .flatten()
            .any(|entry| {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                needles.iter().all(|needle| text.contains(needle))
            });
        if found {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn signing_keys_rotate_by_themselves_after_thirty_days() {
    let server = TestServer::start().await;
    let keys = &server.server().identity().keys;
    let first = keys.ring().active_kid().unwrap().to_owned();
    assert!(!keys.rotate_if_due().await.unwrap(), "a fresh key is not due");
    server.clock.advance(time::Duration::days(29));
    assert!(!keys.rotate_if_due().await.unwrap());
    server.clock.advance(time::Duration::days(1));
    assert!(keys.rotate_if_due().await.unwrap(), "due after 30 days");
    assert_ne!(keys.ring().active_kid().unwrap(), first);
    assert!(
        keys.ring().knows(&first),
        "the previous key still verifies for a token lifetime"
    );
    server.stop().await;
}

/// AUTH-3's "up to 128 characters" through the API: an owner signs up with a 128-code-point passphrase (148 bytes,
/// twice what bcrypt reads) and signs in with it, the same passphrase with its last character changed is wrong, and
/// a 129th character is refused at sign-up naming the field.
#[tokio::test]
async fn a_128_character_password_signs_up_and_signs_in_and_129_are_refused() {
    let server = TestServer::start().await;
    let words = [
        "ñandú",
        "café",
        "😀",
        "montaña",
        "bogotá",
        "lluvia",
        "árbol",
        "jícara",
        "pandebono",
        "arepa",
    ];
    let phrase: String = words.iter().cycle().take(40).map(|w| format!("{w} ")).collect();
    let longest: String = phrase.chars().take(128).collect();
    let sign_up_with = |email: &'static str, password: String| {
        let server = &server;
        async move {
            post(
                server,
                "/api/v1/signup",
                None,
                json!({"business_name": "Casa Larga", "country": "CO",
                       "owner": {"name": "Ana", "email": email, "password": password}}),
            )
            .await
        }
    };
    let created = sign_up_with("longest@example.co", longest.clone()).await;
    assert_eq!(created.status, 201, "{}", created.body);
    enrolled(&server, "longest@example.co", &longest).await;
    let mut last_changed: String = longest.chars().take(127).collect();
    last_changed.push('x');
    let wrong = login(&server, "longest@example.co", last_changed).await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    let refused = sign_up_with("too-long@example.co", phrase.chars().take(129).collect()).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(
        refused.body.to_string().contains("at most 128"),
        "{}",
        refused.body
    );
    server.stop().await;
}

/// AUTH-7's "automatically", in the running server: nothing here calls a rotation. The server's own loop (checking
/// every second in this test, every minute by default) finds the key due once the clock has moved 30 days, rotates
/// it, and the JWKS then publishes the new key beside the previous one.
#[tokio::test]
async fn the_running_servers_own_loop_rotates_the_signing_key() {
    let server = TestServer::start_with(|config| config.auth.key_check_secs = 1).await;
    let keys = &server.server().identity().keys;
    let first = keys.ring().active_kid().unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(
        keys.ring().active_kid().unwrap(),
        first,
        "a fresh key is not rotated"
    );
    server.clock.advance(time::Duration::days(30));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while keys.ring().active_kid().unwrap() == first {
        assert!(
            std::time::Instant::now() < deadline,
            "the server's loop did not rotate the due key"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let rotated = keys.ring().active_kid().unwrap().to_owned();
    let kids = jwks_kids(&server).await;
    assert!(kids.contains(&first) && kids.contains(&rotated), "{kids:?}");
    server.stop().await;
}

/// Managing the second factor (issue 14): fresh recovery codes replace the old ones, an owner cannot turn two-step
/// sign-in off, a server can; each change is audited and mailed, and needs the password and a current code.
#[tokio::test]
async fn the_second_factor_is_managed_with_step_up() {
    let server = TestServer::start().await;
    sign_up(&server, "mfa-owner@example.co").await;
    let owner = enrolled(&server, "mfa-owner@example.co", PASSWORD).await;
    let access = Some(owner.access.as_str());

    // Step-up is required: a wrong password or a wrong code changes nothing.
    for body in [
        json!({"password": "not the password at all", "code": owner.recovery_codes[0]}),
        json!({"password": PASSWORD, "code": "000000"}),
    ] {
        let refused = post(&server, "/api/v1/auth/mfa/recovery-codes", access, body).await;
        assert_eq!(refused.status, 403, "{}", refused.body);
        assert_eq!(
            refused.body["type"],
            "https://comanda.dev/problems/step-up-failed"
        );
    }
    // Each refusal is in the partner's audit log, with the member and why.
    let refusals = call(
        &server,
        "GET",
        "/api/v1/audit?action=auth.step_up_failed",
        access,
        None,
    )
    .await;
    let refusals = refusals.body["items"].as_array().unwrap();
    assert_eq!(
        refusals
            .iter()
            .map(|e| e["detail"].as_str().unwrap())
            .collect::<Vec<_>>(),
        [
            "the current password is wrong",
            "the code is wrong or was already used"
        ],
        "{refusals:?}"
    );
    // Sent with an Idempotency-Key: the new codes are shown once. A retry is told it was answered and neither shows
    // them again (they are not kept) nor replaces them (the codes below still sign in).
    let step_up = json!({"password": PASSWORD, "code": code(&server, &owner.secret, 1)});
    let regenerate = || {
        server
            .client
            .post(server.url("/api/v1/auth/mfa/recovery-codes"))
            .bearer_auth(&owner.access)
            .header("idempotency-key", "codigos-nuevos")
            .json(&step_up)
            .send()
    };
    let fresh = regenerate().await.unwrap();
    assert_eq!(fresh.status(), 200);
    let fresh: Value = fresh.json().await.unwrap();
    let retried = regenerate().await.unwrap();
    assert_eq!(retried.status(), 409);
    assert!(!retried.text().await.unwrap().contains("recovery_codes"));
    let fresh: Vec<String> = serde_json::from_value(fresh["recovery_codes"].clone()).unwrap();
    assert_eq!(fresh.len(), 10);
    let finish = |code: String| {
        let server = &server;
        async move {
            let signed_in = login(server, "mfa-owner@example.co", PASSWORD).await;
            post(
                server,
                "/api/v1/auth/mfa/verify",
                None,
                json!({"mfa_token": signed_in.body["mfa_token"], "code": code}),
            )
            .await
            .status
        }
    };
    assert_eq!(
        finish(owner.recovery_codes[1].clone()).await,
        401,
        "an old recovery code"
    );
    assert_eq!(finish(fresh[0].clone()).await, 200, "a new one");

    // Owners cannot go without a second factor (AUTH-5), whatever they prove.
    let kept = post(
        &server,
        "/api/v1/auth/mfa/totp/disable",
        access,
        json!({"password": PASSWORD, "code": fresh[1]}),
    )
    .await;
    assert_eq!(kept.status, 422, "{}", kept.body);
    assert_eq!(kept.body["type"], "https://comanda.dev/problems/business-rule");
    // Re-enrolment needs a second factor that is on: the confirm step without a start is a conflict.
    let early = post(
        &server,
        "/api/v1/auth/mfa/totp/reenroll/confirm",
        access,
        json!({"code": "123456"}),
    )
    .await;
    assert_eq!(early.status, 409, "{}", early.body);

    let audit = call(
        &server,
        "GET",
        "/api/v1/audit?action=mfa.recovery_codes_regenerated",
        access,
        None,
    )
    .await;
    assert_eq!(
        audit.body["items"].as_array().map(Vec::len),
        Some(1),
        "{}",
        audit.body
    );
    assert!(
        mailed(
            &server,
            &["To: mfa-owner@example.co", "New recovery codes for comanda"]
        )
        .await,
        "the member is told by mail"
    );
    server.stop().await;
}

/// `(method, path, name)` of every query parameter the document declares as a UUID.
fn uuid_query_params(doc: &serde_json::Value) -> Vec<(String, String, String)> {
    let mut declared = Vec::new();
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                if parameter["in"] == "query" && parameter["schema"]["format"] == "uuid" {
                    let name = parameter["name"].as_str().unwrap().to_owned();
                    declared.push((method.clone(), path.clone(), name));
                }
            }
        }
    }
    declared
}

/// `(method, path, field)` of every request-body field the document declares as a UUID (or a list of them),
/// through `$ref`s and `allOf`/`oneOf`/`anyOf`.
fn uuid_body_fields(doc: &serde_json::Value) -> Vec<(String, String, String)> {
    fn resolve<'a>(doc: &'a serde_json::Value, schema: &'a serde_json::Value) -> &'a serde_json::Value {
        match schema["$ref"].as_str() {
            Some(reference) => resolve(
                doc,
                &doc["components"]["schemas"][reference.trim_start_matches("#/components/schemas/")],
            ),
            None => schema,
        }
    }
    fn fields(doc: &serde_json::Value, schema: &serde_json::Value, found: &mut Vec<String>) {
        let schema = resolve(doc, schema);
        for (name, property) in schema["properties"].as_object().into_iter().flatten() {
            let property = resolve(doc, property);
            // A field that may be an id among other shapes (`oneOf`, as a privacy request's subject) counts too.
            let alternatives = ["oneOf", "anyOf"]
                .iter()
                .flat_map(|key| property[*key].as_array().into_iter().flatten())
                .map(|alternative| resolve(doc, alternative));
            if property["format"] == "uuid"
                || resolve(doc, &property["items"])["format"] == "uuid"
                || alternatives
                    .clone()
                    .any(|alternative| alternative["format"] == "uuid")
            {
                found.push(name.clone());
            }
        }
        for key in ["allOf", "oneOf", "anyOf"] {
            for sub in schema[key].as_array().into_iter().flatten() {
                fields(doc, sub, found);
            }
        }
    }
    let mut declared = Vec::new();
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let mut found = Vec::new();
            fields(
                doc,
                &operation["requestBody"]["content"]["application/json"]["schema"],
                &mut found,
            );
            for field in found {
                declared.push((method.clone(), path.clone(), field));
            }
        }
    }
    declared
}

/// The fields of `body` the operation's request body declares (bodies refuse fields they do not have).
fn declared_fields(
    doc: &serde_json::Value,
    operation: &serde_json::Value,
    body: &serde_json::Value,
) -> serde_json::Value {
    let schema = &operation["requestBody"]["content"]["application/json"]["schema"];
    let schema = match schema["$ref"].as_str() {
        Some(reference) => {
            &doc["components"]["schemas"][reference.trim_start_matches("#/components/schemas/")]
        }
        None => schema,
    };
    // A route that takes no body is sent none of it (it refuses fields it does not take).
    if operation.get("requestBody").is_none() {
        return json!({});
    }
    let Some(properties) = schema["properties"].as_object() else {
        return body.clone();
    };
    body.as_object()
        .unwrap()
        .iter()
        .filter(|(key, _)| properties.contains_key(*key))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// The key ids the server publishes in its JWKS.
async fn jwks_kids(server: &TestServer) -> Vec<String> {
    let jwks = call(server, "GET", "/.well-known/jwks.json", None, None).await;
    jwks.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// PRIV-1 after a restore: a backup taken before an erasure brings the member's row and sign-in record back, but
/// not their person key (the key store is never in the ordinary backups; `crates/cli/tests/backup.rs` restores one).
/// Such a member reads `[erased]` and never authenticates again: neither their password, nor an access or refresh
/// token issued before the erasure. Simulated here by deleting the key under the restored rows, and read through a
/// second instance, whose memory never held the key.
#[tokio::test]
async fn a_member_whose_key_is_destroyed_never_signs_in_again() {
    use sqlx::Connection;
    let server = TestServer::start().await;
    sign_up(&server, "dueña@example.co").await;
    let owner = enrolled(&server, "dueña@example.co", PASSWORD).await;
    let long = "numbers without names again";
    let analyst = invite_and_join(&server, &owner.access, "cifras@example.co", "analyst", long).await;
    let signed_in = login(&server, "cifras@example.co", long).await;
    let access = signed_in.body["access_token"].as_str().unwrap().to_owned();
    let refresh = signed_in.body["refresh_token"].as_str().unwrap().to_owned();
    let mut db = sqlx::SqliteConnection::connect(&server.database.url)
        .await
        .unwrap();
    let destroyed = sqlx::query("DELETE FROM person_keys WHERE owner_id = $1")
        .bind(&analyst)
        .execute(&mut db)
        .await
        .unwrap();
    assert_eq!(destroyed.rows_affected(), 1);
    let restored = server.second_instance().await;
    let again = login(&restored, "cifras@example.co", long).await;
    assert_eq!(again.status, 401, "{}", again.body);
    let me = call(&restored, "GET", "/api/v1/me", Some(&access), None).await;
    assert_eq!(me.status, 401, "{}", me.body);
    let refreshed = post(
        &restored,
        "/api/v1/auth/refresh",
        None,
        json!({ "refresh_token": refresh }),
    )
    .await;
    assert_eq!(refreshed.status, 401, "{}", refreshed.body);
    // The owner, whose key is whole, still signs in.
    let owner_again = login(&restored, "dueña@example.co", PASSWORD).await;
    assert_eq!(owner_again.status, 200, "{}", owner_again.body);
    restored.stop().await;
    server.stop().await;
}

/// Whether an address has an account anywhere is not told to a stranger (API.md: such answers are identical). Inviting another partner's member
/// answers exactly as a new address does (201, an invitation id and expiry; listed and withdrawable alike, though its
/// token was never sent, so it can never be accepted), and tells the address's holder by mail instead; inviting one of the inviter's own team is 409, since they see their team.
#[tokio::test]
async fn inviting_another_partners_member_reveals_nothing() {
    let server = TestServer::start().await;
    sign_up(&server, "alfa@example.co").await;
    let alfa = enrolled(&server, "alfa@example.co", PASSWORD).await;
    sign_up(&server, "beta@example.co").await;
    let invite = async |email: &str| {
        post(
            &server,
            "/api/v1/staff",
            Some(&alfa.access),
            json!({"email": email, "name": "Bruno", "role": "server"}),
        )
        .await
    };
    let stranger = invite("beta@example.co").await;
    let fresh = invite("nuevo@example.co").await;
    assert_eq!((stranger.status, fresh.status), (201, 201), "{}", stranger.body);
    let keys = |body: &Value| {
        let mut keys: Vec<String> = body.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(keys(&stranger.body), keys(&fresh.body));
    let outbox = server.dir.path().join("data/outbox");
    let mut mails = Vec::new();
    for _ in 0..100 {
        mails = std::fs::read_dir(&outbox)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| std::fs::read_to_string(entry.path()).unwrap_or_default())
            .filter(|text| text.contains("To: beta@example.co"))
            .collect();
        if !mails.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(mails.len(), 1, "the holder is told: {mails:?}");
    // The inviter's audit log reads the same for both.
    let log = call(
        &server,
        "GET",
        "/api/v1/audit?action=staff.invited",
        Some(&alfa.access),
        None,
    )
    .await;
    let targets: Vec<&str> = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["target"].as_str().unwrap())
        .collect();
    for answered in [&stranger.body, &fresh.body] {
        let id = answered["invitation_id"].as_str().unwrap();
        assert!(targets.contains(&id), "{id} in {targets:?}");
    }
    assert!(mails[0].contains("already has a comanda account"), "{}", mails[0]);
    assert!(!mails[0].contains("/invitations/"), "no invitation to accept");
    // The inviter's pending invitations list both, and both can be withdrawn: nothing tells them apart.
    let listed = call(&server, "GET", "/api/v1/invitations", Some(&alfa.access), None).await;
    let emails: Vec<&str> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["beta@example.co", "nuevo@example.co"], "{}", listed.body);
    for answered in [&stranger.body, &fresh.body] {
        let id = answered["invitation_id"].as_str().unwrap();
        let withdrawn = call(
            &server,
            "DELETE",
            &format!("/api/v1/invitations/{id}"),
            Some(&alfa.access),
            None,
        )
        .await;
        assert_eq!(withdrawn.status, 204, "{}", withdrawn.body);
    }
    let own = invite("alfa@example.co").await;
    assert_eq!(own.status, 409, "{}", own.body);
    server.stop().await;
}
