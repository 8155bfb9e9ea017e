//! Revocation reaches every credential issued before it (issue 14): one table of credential kind × revocation kind,
//! through the real HTTPS server on both engines. The server's clock stands still for the whole test, so every
//! credential is issued in the same second as the revocation that must kill it: a rule comparing whole seconds with
//! `<` would let each of them through.

use std::time::Duration;

use serde_json::{Value, json};

use crate::identity::{PASSWORD, call, code, enrolled, invite_and_join, post, sign_up};
use crate::support::{Engine, TestServer};

/// How a member's credentials get revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Revocation {
    /// No revocation: the control row, where every credential must still work.
    Nothing,
    Compromised,
    /// The session signs itself out (`/auth/logout`): only that session's credentials end.
    Logout,
    LogoutAll,
    PasswordChange,
    TotpReenrolment,
    SecondFactorOff,
    Removal,
}

/// What each credential must do after the revocation: `true` = still works.
struct Expected {
    access: bool,
    refresh: bool,
    pending_sign_in: bool,
    enrolment: bool,
    stream_open: bool,
    /// The member's kitchen feed on another device (another sign-in session).
    other_session_stream_open: bool,
}

const ALIVE: Expected = Expected {
    access: true,
    refresh: true,
    pending_sign_in: true,
    enrolment: true,
    stream_open: true,
    other_session_stream_open: true,
};
const DEAD: Expected = Expected {
    access: false,
    refresh: false,
    pending_sign_in: false,
    enrolment: false,
    stream_open: false,
    other_session_stream_open: false,
};

/// The member whose credentials are revoked, and what they hold.
struct Held {
    member_id: String,
    email: String,
    secret: String,
    recovery: Vec<String>,
    access: String,
    refresh: String,
    /// Another session of the same member ("signed in elsewhere"): who reports the compromise.
    elsewhere: String,
    /// A sign-in that passed the password and waits for its second factor.
    pending: String,
    /// A venue whose kitchen feed the member may open.
    venue: String,
}

pub async fn every_credential_issued_before_a_revocation_is_dead(engine: Engine) {
    let table: [(Revocation, Expected); 8] = [
        (Revocation::Nothing, ALIVE),
        (Revocation::Compromised, DEAD),
        // A kitchen display's feed ended with its session's sign-out (it ran on until its token expired); the
        // member's feed on another device goes on (it was cut and had to reconnect).
        (
            Revocation::Logout,
            Expected {
                access: false,
                refresh: false,
                stream_open: false,
                other_session_stream_open: true,
                ..ALIVE
            },
        ),
        (Revocation::LogoutAll, DEAD),
        (Revocation::PasswordChange, DEAD),
        (Revocation::TotpReenrolment, DEAD),
        (Revocation::SecondFactorOff, DEAD),
        (Revocation::Removal, DEAD),
    ];
    for (n, (revocation, expected)) in table.into_iter().enumerate() {
        // A server per row: the sign-in throttle (per client address, real time) would refuse a whole table's
        // sign-ins from one loopback address.
        let server = TestServer::start_on(engine, |_| {}).await;
        let owner_email = format!("owner{n}@revocation.example.co");
        sign_up(&server, &owner_email).await;
        let owner = enrolled(&server, &owner_email, PASSWORD).await;
        // The member is a server who turned two-step sign-in on (so it may also be turned off); the enrolment
        // token comes from a manager who has not enrolled yet, revoked by the same kind where it reaches them.
        let held = member_holding_every_credential(&server, &owner.access, n, "server").await;
        let enrolment = enrolment_holder(&server, &owner.access, n).await;
        let mut stream = open_stream(&server, &held.access, &held.venue).await;
        let mut other_stream = open_stream(&server, &held.elsewhere, &held.venue).await;

        let after = revoke(&server, revocation, &held, &owner.access, &enrolment).await;

        let label = format!("{revocation:?}");
        let me = call(&server, "GET", "/api/v1/me", Some(&held.access), None).await;
        assert_eq!(
            me.status == 200,
            expected.access,
            "{label}: access token: {}",
            me.body
        );
        let refreshed = post(
            &server,
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": held.refresh}),
        )
        .await;
        assert_eq!(
            refreshed.status == 200,
            expected.refresh,
            "{label}: refresh: {}",
            refreshed.body
        );
        // The pending sign-in is finished with a second factor that is valid now.
        let finished = post(
            &server,
            "/api/v1/auth/mfa/verify",
            None,
            json!({"mfa_token": held.pending, "code": after.valid_code}),
        )
        .await;
        assert_eq!(
            finished.status == 200,
            expected.pending_sign_in,
            "{label}: a pending sign-in finished after the revocation: {}",
            finished.body
        );
        if !expected.pending_sign_in {
            assert_eq!(finished.status, 401, "{label}: {}", finished.body);
            assert!(finished.body.get("access_token").is_none(), "{label}: no tokens");
        }
        if let Some(token) = &after.enrolment_token {
            let enrol = post(&server, "/api/v1/auth/mfa/totp/enroll", Some(token), json!({})).await;
            assert_eq!(
                enrol.status == 200,
                expected.enrolment,
                "{label}: enrolment token: {}",
                enrol.body
            );
        }
        let open = stream_still_open(&mut stream).await;
        assert_eq!(open, expected.stream_open, "{label}: kitchen stream");
        let open = stream_still_open(&mut other_stream).await;
        assert_eq!(
            open, expected.other_session_stream_open,
            "{label}: kitchen stream of another session"
        );
        // What the revocation answered (a new session) works.
        if let Some(access) = &after.new_access {
            let me = call(&server, "GET", "/api/v1/me", Some(access), None).await;
            assert_eq!(me.status, 200, "{label}: the new session: {}", me.body);
        }
        server.stop().await;
    }
}

/// What the revocation left: a second factor that is valid now (for finishing the pending sign-in), the enrolment
/// token to try when this kind reaches it, and the new session some revocations answer.
struct After {
    valid_code: String,
    enrolment_token: Option<String>,
    new_access: Option<String>,
}

async fn revoke(
    server: &TestServer,
    revocation: Revocation,
    held: &Held,
    owner: &str,
    enrolment: &Enrolment,
) -> After {
    let unused = |i: usize| held.recovery[i].clone();
    let step_up = json!({"password": PASSWORD, "code": unused(5)});
    let mut after = After {
        valid_code: unused(9),
        enrolment_token: None,
        new_access: None,
    };
    match revocation {
        Revocation::Nothing => {
            after.enrolment_token = Some(enrolment.token.clone());
        }
        Revocation::Logout => {
            after.enrolment_token = Some(enrolment.token.clone());
            let reply = post(server, "/api/v1/auth/logout", Some(&held.access), json!({})).await;
            assert_eq!(reply.status, 204, "{}", reply.body);
        }
        Revocation::Compromised | Revocation::LogoutAll => {
            let path = if revocation == Revocation::Compromised {
                "/api/v1/auth/compromised"
            } else {
                "/api/v1/auth/logout-all"
            };
            let reply = post(server, path, Some(&held.elsewhere), json!({})).await;
            assert_eq!(reply.status, 204, "{}", reply.body);
        }
        Revocation::PasswordChange => {
            let reply = post(
                server,
                "/api/v1/auth/password",
                Some(&held.elsewhere),
                json!({"current_password": PASSWORD, "new_password": "an even longer new passphrase",
                       "code": unused(5)}),
            )
            .await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            after.new_access = reply.body["access_token"].as_str().map(str::to_owned);
        }
        Revocation::TotpReenrolment => {
            let started = post(
                server,
                "/api/v1/auth/mfa/totp/reenroll",
                Some(&held.elsewhere),
                step_up,
            )
            .await;
            assert_eq!(started.status, 200, "{}", started.body);
            let new_secret = started.body["secret"].as_str().unwrap().to_owned();
            let confirmed = post(
                server,
                "/api/v1/auth/mfa/totp/reenroll/confirm",
                Some(&held.elsewhere),
                json!({"code": code(server, &new_secret, 0)}),
            )
            .await;
            assert_eq!(confirmed.status, 200, "{}", confirmed.body);
            after.new_access = confirmed.body["access_token"].as_str().map(str::to_owned);
            // The new app's and the new codes are what is valid now; the pending sign-in still must not finish.
            after.valid_code = confirmed.body["recovery_codes"][0].as_str().unwrap().to_owned();
            // The old secret and every old recovery code are refused at once.
            for old in [code(server, &held.secret, 1), unused(7), unused(8)] {
                let login = post(
                    server,
                    "/api/v1/auth/login",
                    None,
                    json!({"email": held.email, "password": PASSWORD}),
                )
                .await;
                let refused = post(
                    server,
                    "/api/v1/auth/mfa/verify",
                    None,
                    json!({"mfa_token": login.body["mfa_token"], "code": old}),
                )
                .await;
                assert_eq!(
                    refused.status, 401,
                    "an old second factor after re-enrolment: {}",
                    refused.body
                );
            }
        }
        Revocation::SecondFactorOff => {
            let reply = post(
                server,
                "/api/v1/auth/mfa/totp/disable",
                Some(&held.elsewhere),
                step_up,
            )
            .await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            after.new_access = reply.body["access_token"].as_str().map(str::to_owned);
        }
        Revocation::Removal => {
            for member in [&held.member_id, &enrolment.member_id] {
                let reply = call(
                    server,
                    "DELETE",
                    &format!("/api/v1/staff/{member}"),
                    Some(owner),
                    None,
                )
                .await;
                assert_eq!(reply.status, 204, "{}", reply.body);
            }
            after.enrolment_token = Some(enrolment.token.clone());
        }
    }
    after
}

/// A member with 2FA on holding an access and refresh token, another session, a pending sign-in, and a venue
/// whose kitchen feed they may open.
async fn member_holding_every_credential(server: &TestServer, owner: &str, n: usize, role: &str) -> Held {
    let email = format!("member{n}@revocation.example.co");
    let member_id = invite_and_join(server, owner, &email, role, PASSWORD).await;
    let login = post(
        server,
        "/api/v1/auth/login",
        None,
        json!({"email": email, "password": PASSWORD}),
    )
    .await;
    let access = login.body["access_token"].as_str().unwrap().to_owned();
    // The member turns two-step sign-in on themselves, confirming their password.
    let enrollment = post(
        server,
        "/api/v1/auth/mfa/totp/enroll",
        Some(&access),
        json!({"password": PASSWORD}),
    )
    .await;
    assert_eq!(enrollment.status, 200, "{}", enrollment.body);
    let secret = enrollment.body["secret"].as_str().unwrap().to_owned();
    let confirmed = post(
        server,
        "/api/v1/auth/mfa/totp/confirm",
        Some(&access),
        json!({"code": code(server, &secret, 0)}),
    )
    .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    let recovery: Vec<String> = serde_json::from_value(confirmed.body["recovery_codes"].clone()).unwrap();
    let signed_in = |code: String| {
        let email = email.clone();
        async move {
            let login = post(
                server,
                "/api/v1/auth/login",
                None,
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
            assert_eq!(login.body["mfa_required"], true, "{}", login.body);
            let verified = post(
                server,
                "/api/v1/auth/mfa/verify",
                None,
                json!({"mfa_token": login.body["mfa_token"], "code": code}),
            )
            .await;
            assert_eq!(verified.status, 200, "{}", verified.body);
            verified.body
        }
    };
    let first: Value = signed_in(recovery[0].clone()).await;
    let elsewhere: Value = signed_in(recovery[1].clone()).await;
    let login = post(
        server,
        "/api/v1/auth/login",
        None,
        json!({"email": email, "password": PASSWORD}),
    )
    .await;
    let pending = login.body["mfa_token"].as_str().unwrap().to_owned();
    let venue = post(
        server,
        "/api/v1/venues",
        Some(owner),
        json!({"name": format!("Sede {n}"), "timezone": "America/Bogota"}),
    )
    .await;
    assert_eq!(venue.status, 201, "{}", venue.body);
    Held {
        member_id,
        email,
        secret,
        recovery,
        access: first["access_token"].as_str().unwrap().to_owned(),
        refresh: first["refresh_token"].as_str().unwrap().to_owned(),
        elsewhere: elsewhere["access_token"].as_str().unwrap().to_owned(),
        pending,
        venue: venue.body["id"].as_str().unwrap().to_owned(),
    }
}

struct Enrolment {
    member_id: String,
    token: String,
}

/// A manager who must enrol and has not: their sign-in answers an enrolment token.
async fn enrolment_holder(server: &TestServer, owner: &str, n: usize) -> Enrolment {
    let email = format!("manager{n}@revocation.example.co");
    let member_id = invite_and_join(server, owner, &email, "manager", PASSWORD).await;
    let login = post(
        server,
        "/api/v1/auth/login",
        None,
        json!({"email": email, "password": PASSWORD}),
    )
    .await;
    let token = login.body["enrollment_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", login.body))
        .to_owned();
    Enrolment { member_id, token }
}

async fn open_stream(server: &TestServer, access: &str, venue: &str) -> reqwest::Response {
    let response = server
        .client
        .get(server.url(&format!("/api/v1/venues/{venue}/orders/stream")))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    response
}

/// True when the stream neither ended nor failed within a short wait (a live feed with nothing to say is silent).
async fn stream_still_open(stream: &mut reqwest::Response) -> bool {
    loop {
        match tokio::time::timeout(Duration::from_millis(700), stream.chunk()).await {
            Err(_) => return true,
            Ok(Ok(Some(_))) => continue,
            Ok(Ok(None) | Err(_)) => return false,
        }
    }
}

on_both_engines!(every_credential_issued_before_a_revocation_is_dead);
