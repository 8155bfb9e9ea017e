//! Paying at the table through the real server, its real Stripe client and the Stripe stand-in (which speaks
//! Stripe's wire format and signs its webhooks as Stripe does), on SQLite and on PostgreSQL.

use std::time::Duration;

use serde_json::{Value, json};

use crate::identity::{PASSWORD, Reply, call, invite_and_join, post};
use crate::ordering::{Venue, accept_table, venue_with_menu};
use crate::support::{Engine, TestServer, expect_problem};
use comanda_domain::Clock;

/// Plain HTTP to the stand-in (it listens on loopback, as a browser's Stripe.js would reach Stripe).
pub struct Stripe {
    base: String,
    secret_key: String,
    publishable_key: String,
    /// The platform endpoint's signing secret.
    webhook_secret: String,
    /// The Connect endpoint's signing secret.
    connect_secret: String,
    http: reqwest::Client,
}

pub fn stripe(server: &TestServer) -> Stripe {
    let payments = server.server().payments().expect("payments on");
    let standin = payments.standin.as_ref().expect("demo mode");
    let config = standin.config();
    Stripe {
        base: standin.api_base(),
        secret_key: config.secret_key,
        publishable_key: config.publishable_key,
        webhook_secret: config.platform_endpoint.secret,
        connect_secret: config.connect_endpoint.secret,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

impl Stripe {
    pub async fn get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.secret_key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// What Stripe.js does when the guest presses "pay": confirm with the publishable key and the client secret.
    pub async fn confirm(&self, client_secret: &str, method: &str) -> Value {
        let intent = client_secret.split("_secret_").next().unwrap();
        let response = self
            .http
            .post(format!("{}/v1/payment_intents/{intent}/confirm", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("key", self.publishable_key.as_str()),
                ("client_secret", client_secret),
                ("payment_method", method),
            ]))
            .send()
            .await
            .unwrap();
        response.json().await.unwrap()
    }

    /// A form POST with the secret key, as a Stripe client sends it; answers the status and the body.
    pub async fn post(&self, path: &str, pairs: &[(&str, &str)]) -> (u16, Value) {
        let reply = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.secret_key)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(pairs))
            .send()
            .await
            .unwrap();
        (reply.status().as_u16(), reply.json().await.unwrap())
    }

    /// `holder` → currency → amount.
    async fn balance_of(&self, holder: &str) -> i64 {
        let ledger = self.get("/_standin/ledger").await;
        ledger["balances"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["holder"] == holder)
            .map(|b| b["amount"].as_i64().unwrap())
            .sum()
    }
}

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

pub async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    // Up to 15 s: webhooks travel over real TLS on a machine that may be busy with other tests.
    for _ in 0..300 {
        if let Some(value) = check().await {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// The owner gives `member` payout authority.
async fn grant_payout_authority(server: &TestServer, owner: &str, member: &str) {
    let granted = call(
        server,
        "PATCH",
        &format!("/api/v1/staff/{member}"),
        Some(owner),
        Some(json!({"payout_authority": true})),
    )
    .await;
    assert_eq!(granted.status, 200, "{}", granted.body);
}

/// The owner takes payout authority and asks for Stripe's onboarding link (the connected account exists from
/// here, not yet able to take payments). Answers the owner's member id, the partner's id and the link.
async fn onboarding_link(server: &TestServer, v: &Venue) -> (String, String, String) {
    let me = call(server, "GET", "/api/v1/me", Some(&v.owner), None).await;
    let owner_id = me.body["user_id"].as_str().unwrap().to_owned();
    grant_payout_authority(server, &v.owner, &owner_id).await;
    let link = post(server, "/api/v1/payouts/onboarding", Some(&v.owner), json!({})).await;
    assert_eq!(link.status, 200, "{}", link.body);
    let partner = me.body["partner_id"].as_str().unwrap().to_owned();
    (owner_id, partner, link.body["url"].as_str().unwrap().to_owned())
}

/// The owner takes payout authority and onboards the connected account through the Stripe-hosted link.
pub async fn onboarded(server: &TestServer, v: &Venue) -> String {
    // Not yet onboarded: guests cannot pay.
    let (owner_id, _, url) = onboarding_link(server, v).await;
    let stripe = stripe(server);
    let visited = stripe.http.get(&url).send().await.unwrap();
    assert_eq!(visited.status().as_u16(), 303);
    assert!(
        visited.headers()["location"]
            .to_str()
            .unwrap()
            .ends_with("/dashboard?payouts=done")
    );
    eventually("account.updated", async || {
        let payouts = call(server, "GET", "/api/v1/payouts", Some(&v.owner), None).await;
        (payouts.body["accepts_payments"] == true).then_some(())
    })
    .await;
    owner_id
}

/// Two 18.900 COP dishes ordered and the table accepted: a 37.800 COP bill.
async fn table_with_bill(server: &TestServer, v: &Venue) {
    crate::ordering::ordered_and_accepted(server, v, 2).await;
}

/// The table's bill as one guest's phone reads it (`X-Guest-Device`): its own unfinished payment counts as free.
async fn bill_seen_by(server: &TestServer, v: &Venue, device: &str) -> Value {
    server
        .client
        .get(server.url(&format!("/api/v1/t/{}/bill", v.token)))
        .header("x-guest-device", device)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn pay(server: &TestServer, v: &Venue, body: Value) -> Reply {
    post(server, &format!("/api/v1/t/{}/payments", v.token), None, body).await
}

async fn payment_state(server: &TestServer, v: &Venue, payment: &str) -> Value {
    call(
        server,
        "GET",
        &format!("/api/v1/t/{}/payments/{payment}", v.token),
        None,
        None,
    )
    .await
    .body
}

/// Delivers every event the stand-in sent again, each to its endpoint, freshly signed; each is answered 200.
pub async fn replay_every_event(server: &TestServer, stripe: &Stripe) {
    let events = stripe.get("/_standin/events").await;
    for event in events["data"].as_array().unwrap() {
        deliver_event(server, stripe, event).await;
    }
}

/// Delivers one event to its endpoint, freshly signed; it is answered 200.
async fn deliver_event(server: &TestServer, stripe: &Stripe, event: &Value) {
    let body = event.to_string();
    let (secret, path) = if event.get("account").is_some() {
        (&stripe.connect_secret, "/api/v1/webhooks/stripe/connect")
    } else {
        (&stripe.webhook_secret, "/api/v1/webhooks/stripe")
    };
    let header =
        comanda_security::webhook::sign(secret, server.clock.now().unix_timestamp(), body.as_bytes());
    let delivered = server
        .client
        .post(server.url(path))
        .header("stripe-signature", header)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(delivered.status().as_u16(), 200);
}

/// The first refund of the venue's list (as the owner's payments page reads it) that `wanted` picks.
async fn listed_refund(server: &TestServer, v: &Venue, wanted: impl Fn(&Value) -> bool) -> Value {
    let list = call(
        server,
        "GET",
        &format!("/api/v1/venues/{}/refunds", v.venue),
        Some(&v.owner),
        None,
    )
    .await;
    assert_eq!(list.status, 200, "{}", list.body);
    list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| wanted(r))
        .cloned()
        .unwrap_or_else(|| panic!("not listed: {}", list.body))
}

async fn succeeded(server: &TestServer, v: &Venue, payment: &str) {
    eventually("the payment's webhook", async || {
        (payment_state(server, v, payment).await["status"] == "succeeded").then_some(())
    })
    .await;
}

async fn bill(server: &TestServer, v: &Venue) -> Value {
    call(server, "GET", &format!("/api/v1/t/{}/bill", v.token), None, None)
        .await
        .body
}

/// The whole path of the money: a bill split in two, one half with a tip, transfers to the partner with the
/// platform's fee kept and the tip passed through, exactly once each; then full refunds leave guest, partner and
/// platform where they started.
pub async fn a_bill_paid_in_halves_lands_once_and_refunds_undo_it(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let v = venue_with_menu(&server, "pagos@example.co").await;
    let stripe = stripe(&server);
    // Before onboarding guests are told to pay the staff.
    table_with_bill(&server, &v).await;
    let early = pay(&server, &v, json!({"split": {"kind": "full"}})).await;
    assert_eq!(early.status, 422, "{}", early.body);
    assert_eq!(
        early.body["type"],
        "https://comanda.dev/problems/payments-unavailable"
    );
    onboarded(&server, &v).await;
    let payouts = call(&server, "GET", "/api/v1/payouts", Some(&v.owner), None).await;
    assert_eq!(
        payouts.body["charge_model"], "separate_charges_and_transfers",
        "a Colombian partner"
    );

    // Negative money is bad input, named, before the bill is even read.
    for (body, field) in [
        (json!({"split": {"kind": "equal", "parts": 2}, "tip": -1}), "tip"),
        (
            json!({"split": {"kind": "equal", "parts": 2}, "amount": -5}),
            "amount",
        ),
    ] {
        let refused = pay(&server, &v, body).await;
        assert_eq!(refused.status, 400, "{}", refused.body);
        assert_eq!(refused.body["errors"][0]["field"], field, "{}", refused.body);
    }
    // A tip of centavos ("2.5" typed on the English page) is refused as a cash tip is: whole pesos.
    let centavos = pay(
        &server,
        &v,
        json!({"split": {"kind": "equal", "parts": 2}, "tip": 250}),
    )
    .await;
    assert_eq!(centavos.status, 422, "{}", centavos.body);
    assert_eq!(centavos.body["errors"][0]["field"], "tip", "{}", centavos.body);
    let first = pay(
        &server,
        &v,
        json!({"split": {"kind": "equal", "parts": 2}, "tip": 189_000, "amount": 1_890_000}),
    )
    .await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.body["amount"]["amount"], 1_890_000);
    assert_eq!(
        first.body["total"]["amount"], 2_079_000,
        "share plus tip, nothing added"
    );
    let live = bill(&server, &v).await;
    assert_eq!(live["balance"]["in_progress"]["amount"], 1_890_000);
    assert_eq!(live["balance"]["remaining"]["amount"], 1_890_000);
    let confirmed = stripe
        .confirm(first.body["client_secret"].as_str().unwrap(), "pm_card_visa")
        .await;
    assert_eq!(confirmed["status"], "succeeded", "{confirmed}");
    let first_id = first.body["payment_id"].as_str().unwrap().to_owned();
    succeeded(&server, &v, &first_id).await;

    // A declined card keeps the hold so the guest can try another card.
    let second = pay(&server, &v, json!({"split": {"kind": "remaining"}})).await;
    assert_eq!(second.status, 201, "{}", second.body);
    let secret = second.body["client_secret"].as_str().unwrap();
    let declined = stripe.confirm(secret, "pm_card_chargeDeclined").await;
    assert_eq!(declined["error"]["code"], "card_declined", "{declined}");
    let second_id = second.body["payment_id"].as_str().unwrap().to_owned();
    eventually("payment_failed", async || {
        let state = payment_state(&server, &v, &second_id).await;
        (state["failure"].is_string()).then_some(())
    })
    .await;
    assert_eq!(payment_state(&server, &v, &second_id).await["status"], "pending");
    stripe.confirm(secret, "pm_card_visa").await;
    succeeded(&server, &v, &second_id).await;

    let live = bill(&server, &v).await;
    assert_eq!(live["balance"]["settled"], true, "{live}");
    assert_eq!(live["balance"]["paid"]["amount"], 3_780_000);
    let sessions = call(
        &server,
        "GET",
        &format!("/api/v1/venues/{}/table-sessions", v.venue),
        Some(&v.owner),
        None,
    )
    .await;
    assert_eq!(sessions.body["items"][0]["balance"]["settled"], true);

    // Each share became one transfer of share − 3 % fee + the whole tip, sent in the platform's settlement currency
    // (USD): the source charge's balance transaction, apportioned as the domain rule says.
    let transfers = eventually("two transfers", async || {
        let ledger = stripe.get("/_standin/ledger").await;
        let transfers = ledger["transfers"].as_array().unwrap().clone();
        (transfers.len() == 2).then_some(transfers)
    })
    .await;
    let cop = |n: i64| comanda_domain::Money::new(n, comanda_domain::Currency::COP).unwrap();
    let mut settled_total = 0;
    let mut sent_total = 0;
    for transfer in &transfers {
        let charge = stripe
            .get(&format!(
                "/v1/charges/{}?expand[]=balance_transaction",
                transfer["source_transaction"].as_str().unwrap()
            ))
            .await;
        let settled = &charge["balance_transaction"];
        assert_eq!(settled["currency"], "usd", "{charge}");
        let (charged, tip) = if transfer["metadata"]["payment_id"] == first_id.as_str() {
            (2_079_000, 189_000)
        } else {
            (1_890_000, 0)
        };
        assert_eq!(charge["amount"], charged);
        let expected = comanda_domain::payment::apportion_settlement(
            cop(charged),
            cop(charged - 56_700),
            cop(tip),
            settled["amount"].as_i64().unwrap(),
            settled["net"].as_i64().unwrap(),
            "usd",
        )
        .unwrap();
        assert_eq!(transfer["currency"], "usd", "{transfer}");
        assert_eq!(
            transfer["amount"], expected.transfer,
            "{transfer} against {settled}"
        );
        settled_total += settled["amount"].as_i64().unwrap();
        sent_total += expected.transfer;
    }
    // 2.079.000 and 1.890.000 COP minor units at 4.000 COP to the dollar: 520 and 473 cents.
    assert_eq!(settled_total, 520 + 473);
    let group = transfers[0]["transfer_group"].clone();
    assert!(transfers.iter().all(|t| t["transfer_group"] == group));
    let account = transfers[0]["destination"].as_str().unwrap().to_owned();
    assert_eq!(
        stripe.balance_of("platform").await,
        settled_total - sent_total,
        "the platform keeps its fee, in dollars"
    );
    assert_eq!(stripe.balance_of(&account).await, sent_total);

    // Reconciliation finds both transfers at Stripe in dollars, as recorded here.
    let service = server.server().payments().unwrap();
    let store: std::sync::Arc<dyn comanda_store::Store> = server.store().await;
    let mismatches = comanda_server::payments::reconcile(
        &store,
        service,
        server.clock.now() - time::Duration::hours(1),
        server.clock.now(),
    )
    .await
    .unwrap();
    assert!(mismatches.is_empty(), "{mismatches:?}");

    // Stripe refuses a transfer in the charge's currency when the charge settled in another.
    let source = transfers[0]["source_transaction"].as_str().unwrap();
    let (status, refused) = stripe
        .post(
            "/v1/transfers",
            &[
                ("amount", "1000"),
                ("currency", "cop"),
                ("destination", account.as_str()),
                ("source_transaction", source),
            ],
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(refused["error"]["type"], "invalid_request_error", "{refused}");
    assert_eq!(refused["error"]["param"], "currency", "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("balance transaction (usd) must be the same as the transfer currency (cop)"),
        "{refused}"
    );

    // Replaying every event Stripe sent changes nothing.
    replay_every_event(&server, &stripe).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        stripe.get("/_standin/ledger").await["transfers"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // The tip is credited to the server who accepted the table, in the month's export.
    let month = server.business_month();
    let tips = call(
        &server,
        "GET",
        &format!("/api/v1/tips?month={month}"),
        Some(&v.owner),
        None,
    )
    .await;
    assert_eq!(tips.status, 200, "{}", tips.body);
    assert_eq!(tips.body["entries"].as_array().unwrap().len(), 1);
    // Payroll pays people: the member who served the table is named, in the entries, the totals and the CSV.
    let server_name = tips.body["entries"][0]["member_name"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!server_name.is_empty(), "{}", tips.body);
    let member = tips.body["entries"][0]["member_id"].as_str().unwrap();
    assert_eq!(tips.body["member_names"][member], json!(server_name));
    let csv = call(
        &server,
        "GET",
        &format!("/api/v1/tips?month={month}&format=csv"),
        Some(&v.owner),
        None,
    )
    .await;
    assert!(csv.body.as_str().unwrap().contains(",189000,COP"), "{}", csv.body);
    assert!(
        csv.body
            .as_str()
            .unwrap()
            .contains(&format!("{member},{server_name},")),
        "{}",
        csv.body
    );
    // A format it does not write is refused, not answered as JSON.
    let pdf = call(
        &server,
        "GET",
        &format!("/api/v1/tips?month={month}&format=pdf"),
        Some(&v.owner),
        None,
    )
    .await;
    assert_eq!(pdf.status, 400, "{}", pdf.body);

    // A refund retried with its Idempotency-Key (a dropped answer, a double click) is the first refund: the money
    // moves once. The same key asking something else is refused.
    let keyed = |key: &'static str, amount: i64| {
        server
            .client
            .post(server.url(&format!("/api/v1/payments/{first_id}/refunds")))
            .bearer_auth(&v.owner)
            .header("idempotency-key", key)
            .json(&json!({"amount": amount, "reason": "cliente insatisfecho"}))
            .send()
    };
    let once = keyed("reembolso-1", 1_000_000).await.unwrap();
    assert_eq!(once.status(), 201);
    let once: Value = once.json().await.unwrap();
    let again = keyed("reembolso-1", 1_000_000).await.unwrap();
    assert_eq!(again.status(), 201);
    let again: Value = again.json().await.unwrap();
    assert_eq!(once["refund_id"], again["refund_id"], "{again}");
    expect_problem(keyed("reembolso-1", 500).await.unwrap(), 409, "conflict").await;
    // Full refunds of both payments (the first one's rest): everyone is back where they started.
    for (payment, amount) in [(&first_id, 1_079_000), (&second_id, 1_890_000)] {
        let refund = post(
            &server,
            &format!("/api/v1/payments/{payment}/refunds"),
            Some(&v.owner),
            json!({"amount": amount, "reason": "cliente insatisfecho"}),
        )
        .await;
        assert_eq!(refund.status, 201, "{}", refund.body);
        assert_eq!(refund.body["status"], "succeeded");
    }
    assert_eq!(stripe.balance_of("platform").await, 0);
    assert_eq!(stripe.balance_of(&account).await, 0);
    // The guests' bill says what went back to their cards, the tip included, and stays paid.
    let after = bill(&server, &v).await;
    assert_eq!(after["balance"]["refunded"]["amount"], 3_969_000, "{after}");
    assert_eq!(after["balance"]["paid"]["amount"], 3_780_000, "{after}");
    assert_eq!(after["balance"]["settled"], true, "{after}");
    let ledger = stripe.get("/_standin/ledger").await;
    assert!(
        ledger["cards"].as_object().unwrap().values().all(|v| v == 0),
        "{ledger}"
    );
    let over = post(
        &server,
        &format!("/api/v1/payments/{first_id}/refunds"),
        Some(&v.owner),
        json!({"amount": 1, "reason": "otra vez"}),
    )
    .await;
    assert_eq!(over.status, 422, "{}", over.body);
    let tips = call(
        &server,
        "GET",
        &format!("/api/v1/tips?month={month}"),
        Some(&v.owner),
        None,
    )
    .await;
    let entries = tips.body["entries"].as_array().unwrap();
    let net: i64 = entries.iter().map(|e| e["amount"].as_i64().unwrap()).sum();
    assert_eq!(net, 0, "the refunded tip left the server's ledger");
    // The stand-in settles in dollars: each reversal takes back its part of what the tip settled as, so the settled
    // column adds up to nothing as well. The ledger writes ISO 4217 codes in capitals, as its CSV does (Stripe's
    // own objects write them in lower case).
    assert!(
        entries.iter().all(|e| e["settled"]["currency"] == "USD"),
        "{entries:?}"
    );
    let settled: i64 = entries
        .iter()
        .map(|e| e["settled"]["amount"].as_i64().unwrap())
        .sum();
    assert_eq!(settled, 0, "{entries:?}");
    server.stop().await;
}

pub struct MoneyIds {
    pub payment: String,
    pub refund: String,
    pub approval: String,
}

/// A partner with a paid bill, a refund of part of it and a pending payout-details approval (ids for the
/// cross-tenant test). The table's first order must already be placed.
pub async fn payment_refund_and_approval(server: &TestServer, v: &Venue) -> MoneyIds {
    accept_table(server, v).await;
    onboarded(server, v).await;
    let stripe = stripe(server);
    let paid = pay(server, v, json!({"split": {"kind": "remaining"}})).await;
    assert_eq!(paid.status, 201, "{}", paid.body);
    stripe
        .confirm(paid.body["client_secret"].as_str().unwrap(), "pm_card_visa")
        .await;
    let payment = paid.body["payment_id"].as_str().unwrap().to_owned();
    succeeded(server, v, &payment).await;
    let refund = eventually("a refund once the transfer is sent", async || {
        let refund = post(
            server,
            &format!("/api/v1/payments/{payment}/refunds"),
            Some(&v.owner),
            json!({"amount": 1_000, "reason": "cortesía"}),
        )
        .await;
        (refund.status == 201).then(|| refund.body["refund_id"].as_str().unwrap().to_owned())
    })
    .await;
    let change = post(server, "/api/v1/payouts/bank-details", Some(&v.owner), json!({})).await;
    assert_eq!(change.status, 202, "{}", change.body);
    MoneyIds {
        payment,
        refund,
        approval: change.body["approval_id"].as_str().unwrap().to_owned(),
    }
}

/// A `payment_intent.succeeded` event for one of our payments, as Stripe would send it.
fn succeeded_event(id: &str, intent: &str, payment: &str, amount: i64) -> String {
    json!({
        "id": id, "object": "event", "api_version": "2025-03-31.basil", "created": 1, "livemode": false,
        "type": "payment_intent.succeeded",
        "data": {"object": {"id": intent, "object": "payment_intent", "amount": amount, "amount_received": amount,
                             "currency": "cop", "status": "succeeded", "latest_charge": "ch_forged", "created": 1,
                             "metadata": {"payment_id": payment}}},
    })
    .to_string()
}

pub async fn forged_stale_and_repeated_webhooks_change_nothing(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let v = venue_with_menu(&server, "webhooks@example.co").await;
    table_with_bill(&server, &v).await;
    onboarded(&server, &v).await;
    let stripe = stripe(&server);
    let created = pay(&server, &v, json!({"split": {"kind": "full"}})).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let payment = created.body["payment_id"].as_str().unwrap().to_owned();
    let intent = created.body["client_secret"]
        .as_str()
        .unwrap()
        .split("_secret_")
        .next()
        .unwrap()
        .to_owned();
    let body = succeeded_event("evt_handmade", &intent, &payment, 3_780_000);
    let now = server.clock.now().unix_timestamp();
    let deliver = |header: String, body: String| {
        server
            .client
            .post(server.url("/api/v1/webhooks/stripe"))
            .header("stripe-signature", header)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let forged = comanda_security::webhook::sign("whsec_not_ours", now, body.as_bytes());
    let stale = comanda_security::webhook::sign(&stripe.webhook_secret, now - 301, body.as_bytes());
    for (header, what) in [
        (forged, "another secret"),
        (stale, "older than 5 minutes"),
        ("t=1,v0=abc".to_owned(), "no v1"),
    ] {
        let refused = deliver(header, body.clone()).await.unwrap();
        assert_eq!(refused.status().as_u16(), 400, "{what}");
        let problem: Value = refused.json().await.unwrap();
        assert_eq!(
            problem["type"], "https://comanda.dev/problems/webhook-signature",
            "{what}"
        );
    }
    let unsigned = server
        .client
        .post(server.url("/api/v1/webhooks/stripe"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status().as_u16(), 400);
    assert_eq!(
        payment_state(&server, &v, &payment).await["status"],
        "pending",
        "nothing changed"
    );

    // The same valid event ten times at once: one payment, one transfer, one tip entry.
    let header = comanda_security::webhook::sign(&stripe.webhook_secret, now, body.as_bytes());
    let deliveries: Vec<_> = (0..10).map(|_| deliver(header.clone(), body.clone())).collect();
    for reply in futures_util::future::join_all(deliveries).await {
        assert_eq!(reply.unwrap().status().as_u16(), 200);
    }
    assert_eq!(payment_state(&server, &v, &payment).await["status"], "succeeded");
    let store = server.store().await;
    let scope = comanda_security::TenantScope::from_proof(&comanda_security::tenancy::JobAuthority::new(
        "test",
        store
            .payment_partner(payment.parse().unwrap())
            .await
            .unwrap()
            .unwrap(),
    ));
    let transfer = store
        .transfer(&scope, payment.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(transfer.amount.amount, 3_780_000 - 113_400);
    let payments = store
        .venue_payments(
            &scope,
            v.venue.parse().unwrap(),
            comanda_domain::PageRequest {
                after: None,
                limit: 10,
            },
        )
        .await
        .unwrap()
        .items;
    assert_eq!(
        payments
            .iter()
            .filter(|p| p.status == comanda_store::payments::PaymentStatus::Succeeded)
            .count(),
        1
    );

    // The handmade event was never Stripe's: reconciliation finds the bill paid here but not at Stripe.
    let service = server.server().payments().unwrap();
    let store: std::sync::Arc<dyn comanda_store::Store> = store;
    let mismatches = comanda_server::payments::reconcile(
        &store,
        service,
        server.clock.now() - time::Duration::hours(1),
        server.clock.now(),
    )
    .await
    .unwrap();
    assert_eq!(mismatches.len(), 1, "{mismatches:?}");
    assert!(mismatches[0].contains(&payment), "{mismatches:?}");
    let alerts = store
        .alerts(server.clock.now() - time::Duration::hours(1))
        .await
        .unwrap();
    assert!(alerts.iter().any(|a| a.kind == "payments.mismatch"), "{alerts:?}");
    server.stop().await;
}

pub async fn two_guests_paying_the_last_half_at_once_are_never_both_charged(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let v = venue_with_menu(&server, "carrera@example.co").await;
    table_with_bill(&server, &v).await;
    onboarded(&server, &v).await;
    let stripe = stripe(&server);
    let first = pay(&server, &v, json!({"split": {"kind": "equal", "parts": 2}})).await;
    assert_eq!(first.status, 201, "{}", first.body);
    stripe
        .confirm(first.body["client_secret"].as_str().unwrap(), "pm_card_visa")
        .await;
    // A share that is not what the guest was shown (a third now, not the half on their screen) is refused as such.
    let changed = pay(
        &server,
        &v,
        json!({"split": {"kind": "equal", "parts": 3}, "amount": 1_890_000}),
    )
    .await;
    assert_eq!(changed.status, 409, "{}", changed.body);
    assert_eq!(changed.body["type"], "https://comanda.dev/problems/share-changed");
    assert_eq!(changed.body["title"], "The share to pay changed");
    let body = json!({"split": {"kind": "equal", "parts": 2}, "amount": 1_890_000});
    let (a, b) = tokio::join!(pay(&server, &v, body.clone()), pay(&server, &v, body));
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409], "{} / {}", a.body, b.body);
    let refused = if a.status == 409 { &a } else { &b };
    assert_eq!(refused.body["type"], "https://comanda.dev/problems/bill-covered");
    // Stripe saw two PaymentIntents in all: the first half and the one winner of the race.
    let intents = stripe.get("/v1/payment_intents?limit=100").await;
    assert_eq!(intents["data"].as_array().unwrap().len(), 2, "{intents}");
    // "The whole bill" is refused while part is paid; asking for a share that changed is refused too.
    let whole = pay(&server, &v, json!({"split": {"kind": "full"}})).await;
    assert_eq!(whole.status, 409);
    server.stop().await;
}

/// A guest's payment retried with its Idempotency-Key (the answer lost on a phone's network) gets the first answer
/// again, with the same client secret, even when that payment took all that was left of the bill — the retry must
/// not be told "nothing left to pay" by its own payment. The same key asking for something else is refused.
pub async fn a_retried_payment_that_took_the_rest_is_answered_again(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let v = venue_with_menu(&server, "reintento@example.co").await;
    table_with_bill(&server, &v).await;
    onboarded(&server, &v).await;
    let stripe = stripe(&server);
    let keyed = async |key: &str, body: Value| {
        let response = server
            .client
            .post(server.url(&format!("/api/v1/t/{}/payments", v.token)))
            .header("idempotency-key", key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let replayed = response.headers().get("idempotent-replayed").is_some();
        let mut body = response.json::<Value>().await.unwrap();
        body["replayed"] = json!(replayed);
        (status, body)
    };
    let half = json!({"split": {"kind": "equal", "parts": 2}, "tip": 0});
    let rest = json!({"split": {"kind": "remaining"}, "tip": 0});
    let (status, first) = keyed("mitad-1", half.clone()).await;
    assert_eq!(status, 201, "{first}");
    let (status, last) = keyed("resto-2", rest.clone()).await;
    assert_eq!(status, 201, "{last}");
    assert_eq!(bill(&server, &v).await["remaining"]["amount"], 0);
    for (key, body, answered) in [("resto-2", &rest, &last), ("mitad-1", &half, &first)] {
        let (status, again) = keyed(key, body.clone()).await;
        assert_eq!(status, 201, "{key}: {again}");
        assert_eq!(again["payment_id"], answered["payment_id"], "{key}");
        assert_eq!(again["client_secret"], answered["client_secret"], "{key}");
        assert_eq!(
            (answered["replayed"].clone(), again["replayed"].clone()),
            (json!(false), json!(true)),
            "{key}: Idempotent-Replayed on the answer given again"
        );
    }
    let (status, other) = keyed("resto-2", json!({"split": {"kind": "full"}, "tip": 0})).await;
    assert_eq!(status, 409, "{other}");
    assert_eq!(other["type"], "https://comanda.dev/problems/conflict");
    // Paid, the retry still finds it; Stripe saw two PaymentIntents in all.
    stripe
        .confirm(last["client_secret"].as_str().unwrap(), "pm_card_visa")
        .await;
    succeeded(&server, &v, last["payment_id"].as_str().unwrap()).await;
    let (status, again) = keyed("resto-2", rest).await;
    assert_eq!(
        (status, &again["payment_id"]),
        (201, &last["payment_id"]),
        "{again}"
    );
    let intents = stripe.get("/v1/payment_intents?limit=100").await;
    assert_eq!(intents["data"].as_array().unwrap().len(), 2, "{intents}");
    server.stop().await;
}

/// A line of the bill is paid once: guests choosing lines cannot pay more than a whole line between them, in one
/// request (four thirds) or one after another (the same beer twice), while the rest of the bill stays payable; parts
/// that make a line whole pay exactly the line.
pub async fn a_line_is_paid_once_by_whoever_chooses_it(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let v = venue_with_menu(&server, "lineas@example.co").await;
    let ordered = post(
        &server,
        &format!("/api/v1/t/{}/orders", v.token),
        None,
        json!({"items": [{"item_id": v.item, "quantity": 2}, {"item_id": v.item, "quantity": 1}]}),
    )
    .await;
    assert_eq!(ordered.status, 201, "{}", ordered.body);
    accept_table(&server, &v).await;
    onboarded(&server, &v).await;
    let order = ordered.body["id"].as_str().unwrap().to_owned();
    let lines = |chosen: Value| json!({"split": {"kind": "items", "items": chosen}, "tip": 0});
    let third = json!({"order_id": order, "line": 0, "numerator": 1, "denominator": 3});
    let four_thirds = pay(&server, &v, lines(json!([third, third, third, third]))).await;
    assert_eq!(four_thirds.status, 400, "{}", four_thirds.body);
    assert_eq!(
        four_thirds.body["errors"][0]["field"], "split.items[3]",
        "the fourth third is the one too many"
    );
    let single = json!([{"order_id": order, "line": 1}]);
    let first = pay(&server, &v, lines(single.clone())).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.body["amount"]["amount"], 1_890_000);
    let again = pay(&server, &v, lines(single)).await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(again.body["type"], "https://comanda.dev/problems/bill-covered");
    assert!(
        again.body["detail"]
            .as_str()
            .unwrap()
            .contains("already paid or being paid"),
        "{}",
        again.body
    );
    // 4/11, 4/11 and 3/11 of the shared 37.800 line are the whole of it to the peso, each in whole pesos though no
    // part is exact (13.745,45 and 10.309,09): each rounds to whole pesos and the part that completes the line pays
    // what the others left (10.310), so no centavo is asked of a card or a cash hand, and none is left owing.
    let elevenths = |n: u32| json!({"order_id": order, "line": 0, "numerator": n, "denominator": 11});
    for (part, amount) in [(4, 1_374_500), (4, 1_374_500), (3, 1_031_000)] {
        let paid = pay(&server, &v, lines(json!([elevenths(part)]))).await;
        assert_eq!(paid.status, 201, "{}", paid.body);
        assert_eq!(paid.body["amount"]["amount"], amount, "{}", paid.body);
    }
    let after = bill(&server, &v).await;
    assert_eq!(after["balance"]["remaining"]["amount"], 0, "{after}");
    assert_eq!(after["claims"].as_array().map(Vec::len), Some(4), "{after}");
    server.stop().await;
}

/// Connect events arrive at their own endpoint with their own secret, and only at the pinned API version: an
/// `account.updated` signed with the Connect endpoint's secret enables the partner; the same event signed with the
/// platform endpoint's secret, or sent to the platform endpoint, changes nothing; an event rendered at an older
/// version is refused and alerted.
pub async fn connect_events_need_their_own_endpoint_secret_and_the_pinned_version(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let v = venue_with_menu(&server, "connect@example.co").await;
    let stripe = stripe(&server);
    let (_, partner, _) = onboarding_link(&server, &v).await;
    let store = server.store().await;
    let partner = comanda_domain::PartnerId::from_uuid(partner.parse().unwrap());
    let scope = comanda_security::TenantScope::from_proof(&comanda_security::tenancy::JobAuthority::new(
        "test", partner,
    ));
    let account = store.connected_account(&scope).await.unwrap().unwrap();
    assert!(!account.accepts_payments());
    let event = |id: &str, version: &str| {
        json!({
            "id": id, "object": "event", "api_version": version, "created": 1, "livemode": false,
            "account": account.stripe_account, "type": "account.updated", "pending_webhooks": 1,
            "request": {"id": null, "idempotency_key": null},
            "data": {"object": {"id": account.stripe_account, "object": "account", "details_submitted": true,
                                 "charges_enabled": false, "payouts_enabled": true,
                                 "capabilities": {"transfers": "active"}}},
        })
        .to_string()
    };
    let now = server.clock.now().unix_timestamp();
    let deliver = async |path: &str, secret: &str, body: &str| {
        let header = comanda_security::webhook::sign(secret, now, body.as_bytes());
        let reply = server
            .client
            .post(server.url(path))
            .header("stripe-signature", header)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        let status = reply.status().as_u16();
        let body: Value = reply.json().await.unwrap_or(Value::Null);
        (status, body["type"].as_str().unwrap_or_default().to_owned())
    };
    let enabling = event("evt_connect_1", comanda_payments::stripe::API_VERSION);
    let connect = "/api/v1/webhooks/stripe/connect";
    let platform = "/api/v1/webhooks/stripe";
    assert_eq!(
        deliver(connect, &stripe.webhook_secret, &enabling).await,
        (400, "https://comanda.dev/problems/webhook-signature".to_owned()),
        "the platform endpoint's secret does not sign Connect events"
    );
    assert_eq!(
        deliver(platform, &stripe.webhook_secret, &enabling).await,
        (400, "https://comanda.dev/problems/webhook-event".to_owned()),
        "a connected account's event does not belong at the platform endpoint"
    );
    assert!(
        !store
            .connected_account(&scope)
            .await
            .unwrap()
            .unwrap()
            .accepts_payments()
    );
    assert!(!store.event_processed("evt_connect_1").await.unwrap());
    assert_eq!(deliver(connect, &stripe.connect_secret, &enabling).await.0, 200);
    assert!(
        store
            .connected_account(&scope)
            .await
            .unwrap()
            .unwrap()
            .accepts_payments(),
        "enabled by the Connect endpoint's event"
    );

    // Rendered at an older version by the stand-in (an endpoint left at the account's old default): refused and
    // alerted, never read.
    let since = server.clock.now() - time::Duration::minutes(1);
    server
        .server()
        .payments()
        .unwrap()
        .standin
        .as_ref()
        .unwrap()
        .render_events_at("2024-06-20");
    let paid_out = stripe
        .post(
            "/_standin/payouts",
            &[("account", account.stripe_account.as_str()), ("amount", "1000")],
        )
        .await;
    assert_eq!(paid_out.0, 200, "{}", paid_out.1);
    let alerts = eventually("the version alert", async || {
        let alerts = store.alerts(since).await.unwrap();
        let found: Vec<_> = alerts
            .into_iter()
            .filter(|a| a.kind == "payments.event_version")
            .collect();
        (!found.is_empty()).then_some(found)
    })
    .await;
    assert!(alerts[0].detail.contains("2024-06-20"), "{alerts:?}");
    assert!(
        store.payouts(&scope).await.unwrap().is_empty(),
        "the old-version payout was not recorded"
    );
    let old = event("evt_connect_old", "2024-06-20");
    assert_eq!(
        deliver(connect, &stripe.connect_secret, &old).await,
        (400, "https://comanda.dev/problems/webhook-event".to_owned())
    );
    server.stop().await;
}

/// A guest who started paying and walked away held the table for the hold's 15 minutes: closing it was refused and
/// the next party ordered onto the old bill. Staff close it by cancelling that payment first — at Stripe, then its
/// hold; the close asked without that is still refused, and an unknown parameter is not taken for it.
pub async fn staff_close_a_table_a_guest_left_mid_payment(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let v = venue_with_menu(&server, "abandono@example.co").await;
    table_with_bill(&server, &v).await;
    onboarded(&server, &v).await;
    let stripe = stripe(&server);
    let left = pay(&server, &v, json!({"split": {"kind": "full"}, "tip": 0})).await;
    assert_eq!(left.status, 201, "{}", left.body);
    let payment = left.body["payment_id"].as_str().unwrap().to_owned();
    let close = format!("/api/v1/venues/{}/tables/{}/close", v.venue, v.table);
    let close_with =
        async |query: &str| post(&server, &format!("{close}{query}"), Some(&v.owner), json!({})).await;
    // Refused while the kitchen has not served the order: the guest's payment is left alone.
    let early = close_with("?cancel_payments=true&unpaid=true").await;
    assert_eq!(early.status, 409, "{}", early.body);
    assert_eq!(payment_state(&server, &v, &payment).await["status"], "pending");
    let orders = call(
        &server,
        "GET",
        &format!("/api/v1/venues/{}/orders", v.venue),
        Some(&v.owner),
        None,
    )
    .await;
    for order in orders.body["items"].as_array().unwrap() {
        for to in ["accepted", "preparing", "ready", "served"] {
            let moved = post(
                &server,
                &format!("/api/v1/orders/{}/transitions", order["id"].as_str().unwrap()),
                Some(&v.owner),
                json!({"to": to}),
            )
            .await;
            assert_eq!(moved.status, 200, "{}", moved.body);
        }
    }
    let refused = close_with("").await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    let unknown = close_with("?cancel=true").await;
    assert_eq!(unknown.status, 400, "{}", unknown.body);
    // Cancelling the payment leaves the bill unpaid: staff must say it may close so, or nothing is cancelled.
    let unsettled = close_with("?cancel_payments=true").await;
    assert_eq!(unsettled.status, 409, "{}", unsettled.body);
    assert_eq!(payment_state(&server, &v, &payment).await["status"], "pending");
    let closed = close_with("?cancel_payments=true&unpaid=true").await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    assert_eq!(payment_state(&server, &v, &payment).await["status"], "cancelled");
    let intent = left.body["client_secret"]
        .as_str()
        .unwrap()
        .split("_secret")
        .next()
        .unwrap()
        .to_owned();
    let at_stripe = stripe.get(&format!("/v1/payment_intents/{intent}")).await;
    assert_eq!(at_stripe["status"], "canceled", "{at_stripe}");
    // The closed table has no bill to pay, said as such (the pay page words it for the guest).
    let after = pay(&server, &v, json!({"split": {"kind": "full"}, "tip": 0})).await;
    assert_eq!(
        (after.status, after.body["type"].clone()),
        (422, json!("https://comanda.dev/problems/no-open-bill")),
        "{}",
        after.body
    );
    server.stop().await;
}

on_both_engines!(
    staff_close_a_table_a_guest_left_mid_payment,
    a_line_is_paid_once_by_whoever_chooses_it,
    a_retried_payment_that_took_the_rest_is_answered_again,
    a_bill_paid_in_halves_lands_once_and_refunds_undo_it,
    connect_events_need_their_own_endpoint_secret_and_the_pinned_version,
    forged_stale_and_repeated_webhooks_change_nothing,
    two_guests_paying_the_last_half_at_once_are_never_both_charged,
);

/// Refunds end as the card's bank answers (docs.stripe.com/testing, "Refunds"): one Stripe holds `pending` stays
/// pending here, its part of the bill reserved and the partner's transfer untouched, until `refund.updated` says it
/// succeeded; one Stripe first answered `succeeded` and that fails days later (`refund.failed`, the card closed) is
/// undone — the bill no longer counts it, the tip is the server's again — and the partner's reversed share is
/// transferred back. Every event replayed changes nothing.
#[tokio::test]
async fn refunds_end_as_the_cards_bank_answers() {
    let server = TestServer::start().await;
    let v = venue_with_menu(&server, "bancos@example.co").await;
    let stripe = stripe(&server);
    onboarded(&server, &v).await;
    table_with_bill(&server, &v).await;
    let mut payments = Vec::new();
    for (split, tip, card) in [
        (json!({"kind": "equal", "parts": 2}), 0, "pm_card_pendingRefund"),
        (json!({"kind": "remaining"}), 189_000, "pm_card_refundFail"),
    ] {
        let asked = pay(&server, &v, json!({"split": split, "tip": tip})).await;
        assert_eq!(asked.status, 201, "{}", asked.body);
        let confirmed = stripe
            .confirm(asked.body["client_secret"].as_str().unwrap(), card)
            .await;
        assert_eq!(confirmed["status"], "succeeded", "{confirmed}");
        let id = asked.body["payment_id"].as_str().unwrap().to_owned();
        succeeded(&server, &v, &id).await;
        payments.push((id, confirmed["id"].as_str().unwrap().to_owned()));
    }
    let account = eventually("two transfers", async || {
        let transfers = stripe.get("/_standin/ledger").await["transfers"].clone();
        (transfers.as_array().unwrap().len() == 2)
            .then(|| transfers[0]["destination"].as_str().unwrap().to_owned())
    })
    .await;
    let sent = stripe.balance_of(&account).await;
    let refund = async |payment: &str, amount: i64| {
        let asked = post(
            &server,
            &format!("/api/v1/payments/{payment}/refunds"),
            Some(&v.owner),
            json!({"amount": amount, "reason": "plato frío"}),
        )
        .await;
        assert_eq!(asked.status, 201, "{}", asked.body);
        asked.body
    };
    let at_stripe = async |intent: &str| {
        stripe.get(&format!("/v1/refunds?payment_intent={intent}")).await["data"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let ours =
        async |refund: &Value| listed_refund(&server, &v, |r| r["refund_id"] == refund["refund_id"]).await;
    let settle = async |stripe_refund: &str| {
        let (status, settled) = stripe
            .post("/_standin/refunds/settle", &[("refund", stripe_refund)])
            .await;
        assert_eq!(status, 200, "{settled}");
    };

    // Pending at the card's bank: nothing reversed yet, the amount reserved on the bill.
    let (first, first_intent) = &payments[0];
    let pending = refund(first, 500_000).await;
    assert_eq!(pending["status"], "pending", "{pending}");
    assert_eq!(
        stripe.balance_of(&account).await,
        sent,
        "no reversal before Stripe settles"
    );
    assert_eq!(bill(&server, &v).await["balance"]["refunded"]["amount"], 500_000);
    let first_refund = at_stripe(first_intent).await;
    settle(&first_refund).await;
    eventually("refund.updated", async || {
        (ours(&pending).await["status"] == "succeeded").then_some(())
    })
    .await;
    let settled_once = stripe.balance_of(&account).await;
    assert!(
        settled_once < sent,
        "the partner's share came back off its transfer"
    );

    // Its events lost (the endpoint down for longer than Stripe retries): once it has been pending a while, the
    // upkeep asks Stripe and ends it as Stripe holds it.
    let standin = server.server().payments().unwrap().standin.clone().unwrap();
    let endpoints = standin.config();
    let unreachable = "https://127.0.0.1:9/api/v1/webhooks/stripe";
    standin.set_webhooks(unreachable, unreachable, &endpoints.webhook_roots_pem);
    let unheard = refund(first, 100_000).await;
    assert_eq!(unheard["status"], "pending", "{unheard}");
    settle(&at_stripe(first_intent).await).await;
    server.server().run_payments_upkeep().await;
    assert_eq!(
        ours(&unheard).await["status"],
        "pending",
        "not asked about before it has been pending a while"
    );
    server
        .clock
        .advance(comanda_server::payments::REFUND_FOLLOW_UP_AFTER + time::Duration::minutes(1));
    server.server().run_payments_upkeep().await;
    assert_eq!(ours(&unheard).await["status"], "succeeded");
    let after_first = stripe.balance_of(&account).await;
    assert!(after_first < settled_once, "its share reversed too");
    standin.set_webhooks(
        endpoints.platform_endpoint.url.as_deref().unwrap(),
        endpoints.connect_endpoint.url.as_deref().unwrap(),
        &endpoints.webhook_roots_pem,
    );

    // Succeeded, then failed: the money comes back, the bill and the tip ledger forget the refund, and the share the
    // reversal took goes back to the partner.
    let (second, second_intent) = &payments[1];
    let month = server.business_month();
    let tips = async || {
        let tips = call(
            &server,
            "GET",
            &format!("/api/v1/tips?month={month}"),
            Some(&v.owner),
            None,
        )
        .await;
        tips.body["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["amount"].as_i64().unwrap())
            .sum::<i64>()
    };
    assert_eq!(tips().await, 189_000);
    let today = {
        let day = (comanda_domain::Clock::now(&server.clock) - time::Duration::hours(10)).date();
        format!("{}-{:02}-{:02}", day.year(), u8::from(day.month()), day.day())
    };
    let summary = async || {
        let reply = call(
            &server,
            "GET",
            &format!(
                "/api/v1/venues/{}/analytics/summary?from={today}&to={today}",
                v.venue
            ),
            Some(&v.owner),
            None,
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body
    };
    let before = summary().await;
    let taken = refund(second, 2_079_000).await;
    assert_eq!(taken["status"], "succeeded", "{taken}");
    assert_eq!(tips().await, 0);
    let during = summary().await;
    assert!(
        during["refunds"].as_i64() > before["refunds"].as_i64(),
        "the refund counted once Stripe took it: {during}"
    );
    let reversed = after_first - stripe.balance_of(&account).await;
    assert!(reversed > 0);
    assert_eq!(
        bill(&server, &v).await["balance"]["refunded"]["amount"],
        2_679_000
    );
    let second_refund = at_stripe(second_intent).await;
    // The transfer giving the share back is made, but its answer is lost: the next attempt records it, and no
    // second one is made (one restore transfer below).
    standin.garble_next_answer("/v1/transfers");
    settle(&second_refund).await;
    let failed = eventually("refund.failed", async || {
        let now = ours(&taken).await;
        (now["status"] == "failed").then_some(now)
    })
    .await;
    assert_eq!(failed["failure"], "expired_or_canceled_card", "{failed}");
    assert_eq!(bill(&server, &v).await["balance"]["refunded"]["amount"], 600_000);
    // The charge.refunded Stripe sent when it took that refund, first delivered only now (events come in any order,
    // for three days): the charge as it stands no longer counts the refund, so neither does the bill.
    let mut late = stripe.get("/_standin/events").await["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            e["type"] == "charge.refunded" && e["data"]["object"]["payment_intent"] == second_intent.as_str()
        })
        .cloned()
        .unwrap();
    late["id"] = json!("evt_first_delivered_late");
    deliver_event(&server, &stripe, &late).await;
    assert_eq!(bill(&server, &v).await["balance"]["refunded"]["amount"], 600_000);
    assert_eq!(tips().await, 189_000, "the tip is the server's again");
    let after = summary().await;
    for figure in ["refunds", "refund_tax", "net", "tips"] {
        assert_eq!(
            after[figure], before[figure],
            "{figure}: the failed refund is out of the day's figures again: {after}"
        );
    }
    eventually("the share given back", async || {
        (stripe.balance_of(&account).await == after_first).then_some(())
    })
    .await;
    let ledger = stripe.get("/_standin/ledger").await;
    let restored: Vec<&Value> = ledger["transfers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["metadata"]["refund_id"] == taken["refund_id"])
        .collect();
    assert_eq!(restored.len(), 1, "{ledger}");
    assert_eq!(restored[0]["amount"], reversed);
    // The guest's card is out of pocket what the failed refund never gave back.
    assert_eq!(ledger["cards"][second_intent.as_str()], 2_079_000, "{ledger}");
    // A refund the bank has answered is not settled again.
    let (status, refused) = stripe
        .post("/_standin/refunds/settle", &[("refund", second_refund.as_str())])
        .await;
    assert_eq!(status, 400, "{refused}");

    // Every event again: nothing moves twice.
    replay_every_event(&server, &stripe).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        stripe.get("/_standin/ledger").await["transfers"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(stripe.balance_of(&account).await, after_first);
    assert_eq!(ours(&taken).await["status"], "failed");
    assert_eq!(ours(&pending).await["status"], "succeeded");
    assert_eq!(ours(&unheard).await["status"], "succeeded");

    // Refunded again, in full: the share given back is taken back again, from its own transfer once the original
    // one is spent (Stripe's reversals of the original still count the failed refund's).
    let again = refund(second, 2_079_000).await;
    assert_eq!(again["status"], "succeeded", "{again}");
    assert_eq!(stripe.balance_of(&account).await, after_first - reversed);
    assert_eq!(
        bill(&server, &v).await["balance"]["refunded"]["amount"],
        2_679_000
    );
    server.stop().await;
}

/// A transfer or refund whose answer from Stripe is lost or unreadable after Stripe moved the money is found again by
/// our id, never marked failed and never made twice.
#[tokio::test]
async fn a_lost_answer_after_money_moved_is_found_again_not_failed() {
    let server = TestServer::start().await;
    let v = venue_with_menu(&server, "perdida@example.co").await;
    table_with_bill(&server, &v).await;
    onboarded(&server, &v).await;
    let stripe = stripe(&server);
    let standin = server.server().payments().unwrap().standin.clone().unwrap();
    standin.garble_next_answer("/v1/transfers");
    let paid = pay(&server, &v, json!({"split": {"kind": "full"}})).await;
    assert_eq!(paid.status, 201, "{}", paid.body);
    stripe
        .confirm(paid.body["client_secret"].as_str().unwrap(), "pm_card_visa")
        .await;
    let payment = paid.body["payment_id"].as_str().unwrap().to_owned();
    succeeded(&server, &v, &payment).await;
    let store = server.store().await;
    let payment_id: uuid::Uuid = payment.parse().unwrap();
    let scope = comanda_security::TenantScope::from_proof(&comanda_security::tenancy::JobAuthority::new(
        "test",
        store.payment_partner(payment_id).await.unwrap().unwrap(),
    ));
    let sent = eventually("the transfer recorded as sent", async || {
        let transfer = store.transfer(&scope, payment_id).await.unwrap()?;
        (transfer.status == comanda_store::payments::TransferStatus::Sent).then_some(transfer)
    })
    .await;
    let ledger = stripe.get("/_standin/ledger").await;
    let transfers = ledger["transfers"].as_array().unwrap();
    assert_eq!(transfers.len(), 1, "made once: {ledger}");
    assert_eq!(sent.stripe_transfer.as_deref(), transfers[0]["id"].as_str());
    assert_eq!(sent.settled.as_ref().map(|s| s.currency.as_str()), Some("usd"));

    let refund_of = async |amount: i64| {
        post(
            &server,
            &format!("/api/v1/payments/{payment}/refunds"),
            Some(&v.owner),
            json!({"amount": amount, "reason": "cortesía"}),
        )
        .await
    };
    standin.garble_next_answer("/v1/refunds");
    let refund = refund_of(10_000).await;
    assert_eq!(refund.status, 201, "{}", refund.body);
    assert_eq!(
        refund.body["status"], "succeeded",
        "found again by its id: {}",
        refund.body
    );
    let intent = paid.body["client_secret"]
        .as_str()
        .unwrap()
        .split("_secret_")
        .next()
        .unwrap();
    let refunds = stripe.get(&format!("/v1/refunds?payment_intent={intent}")).await;
    assert_eq!(refunds["data"].as_array().unwrap().len(), 1, "{refunds}");

    // Stripe answers a server error, whose result is indeterminate, and in fact did nothing: the refund stays pending
    // (never failed, its part of the bill still reserved). Its key replays that 500 for 24 hours, so the upkeep asks
    // again only once Stripe has forgotten it — and once.
    standin.server_error_next("/v1/refunds");
    let indeterminate = refund_of(5_000).await;
    assert_eq!(indeterminate.status, 502, "{}", indeterminate.body);
    assert!(
        indeterminate.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("stays pending")),
        "{}",
        indeterminate.body
    );
    // The owner's page lists it pending; past the access token's life the store is read directly.
    let listed = listed_refund(&server, &v, |r| r["split"]["refund"]["amount"] == 5_000).await;
    assert_eq!(listed["status"], "pending", "{listed}");
    let refund_id: uuid::Uuid = listed["refund_id"].as_str().unwrap().parse().unwrap();
    let ours = async || {
        let status = store.refund(&scope, refund_id).await.unwrap().status;
        format!("{status:?}").to_lowercase()
    };
    let at_stripe = async || {
        stripe.get(&format!("/v1/refunds?payment_intent={intent}")).await["data"]
            .as_array()
            .unwrap()
            .len()
    };
    server.clock.advance(time::Duration::hours(1));
    server.server().run_payments_upkeep().await;
    assert_eq!((ours().await.as_str(), at_stripe().await), ("pending", 1));
    server
        .clock
        .advance(comanda_server::payments::STRIPE_IDEMPOTENCY_WINDOW);
    server.server().run_payments_upkeep().await;
    assert_eq!((ours().await.as_str(), at_stripe().await), ("succeeded", 2));
    server.server().run_payments_upkeep().await;
    assert_eq!(at_stripe().await, 2, "made once");
    server.stop().await;
}

#[tokio::test]
async fn big_refunds_and_payout_detail_changes_need_a_second_person_with_payout_authority() {
    let server = TestServer::start_with(|config| config.payments.refund_approval_threshold = 1_000_000).await;
    let v = venue_with_menu(&server, "aprobar@example.co").await;
    table_with_bill(&server, &v).await;
    onboarded(&server, &v).await;
    let stripe = stripe(&server);
    let paid = pay(&server, &v, json!({"split": {"kind": "full"}})).await;
    stripe
        .confirm(paid.body["client_secret"].as_str().unwrap(), "pm_card_visa")
        .await;
    let payment = paid.body["payment_id"].as_str().unwrap().to_owned();
    succeeded(&server, &v, &payment).await;
    eventually("the transfer", async || {
        let ledger = stripe.get("/_standin/ledger").await;
        (ledger["transfers"].as_array().unwrap().len() == 1).then_some(())
    })
    .await;
    // Alone with payout authority, the owner cannot ask for a refund only a second person may approve: it would hold
    // its part of the payment with nobody able to approve it.
    let alone = post(
        &server,
        &format!("/api/v1/payments/{payment}/refunds"),
        Some(&v.owner),
        json!({"amount": 3_780_000, "reason": "evento cancelado"}),
    )
    .await;
    assert_eq!(alone.status, 422, "{}", alone.body);
    assert!(
        alone.body["detail"]
            .as_str()
            .unwrap()
            .contains("nobody else has it"),
        "{}",
        alone.body
    );
    // Nor a refund in centavos: refunds are whole pesos.
    let centavos = post(
        &server,
        &format!("/api/v1/payments/{payment}/refunds"),
        Some(&v.owner),
        json!({"amount": 50, "reason": "redondeo"}),
    )
    .await;
    assert_eq!(centavos.status, 422, "{}", centavos.body);
    assert_eq!(centavos.body["errors"][0]["field"], "amount", "{}", centavos.body);
    // A second person with payout authority (a manager, with a second factor).
    invite_and_join(&server, &v.owner, "gerente@example.co", "manager", PASSWORD).await;
    let staff = call(&server, "GET", "/api/v1/staff", Some(&v.owner), None).await;
    let manager_id = staff.body["items"]
        .as_array()
        .or(staff.body.as_array())
        .unwrap()
        .iter()
        .find(|m| m["email"] == "gerente@example.co")
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .unwrap();
    grant_payout_authority(&server, &v.owner, &manager_id).await;
    let manager = crate::identity::enrolled(&server, "gerente@example.co", PASSWORD)
        .await
        .access;
    let keyed = || {
        server
            .client
            .post(server.url(&format!("/api/v1/payments/{payment}/refunds")))
            .bearer_auth(&v.owner)
            .header("idempotency-key", "reembolso-evento")
            .json(&json!({"amount": 3_780_000, "reason": "evento cancelado"}))
            .send()
    };
    let asked = keyed().await.unwrap();
    assert_eq!(asked.status(), 202);
    let asked: Value = asked.json().await.unwrap();
    assert_eq!(asked["status"], "awaiting_approval");
    let refund = asked["refund_id"].as_str().unwrap().to_owned();
    let alone = post(
        &server,
        &format!("/api/v1/refunds/{refund}/approve"),
        Some(&v.owner),
        json!({}),
    )
    .await;
    assert_eq!(alone.status, 409, "{}", alone.body);
    // 37.800 COP settled as 945 cents; the partner's 36.666 COP went out as 917 cents; the platform keeps 28.
    assert_eq!(stripe.balance_of("platform").await, 28, "no money moved yet");
    // Nothing moved: the bill shows nothing refunded. A refund asked by mistake is declined (here withdrawn by its
    // requester, who has payout authority), and what it reserved of the payment is free for the refund meant.
    assert_eq!(bill(&server, &v).await["balance"]["refunded"]["amount"], 0);
    let decline = format!("/api/v1/refunds/{refund}/decline");
    let declined = post(&server, &decline, Some(&v.owner), json!({})).await;
    assert_eq!(
        (declined.status, declined.body["status"].clone()),
        (200, json!("failed")),
        "{}",
        declined.body
    );
    let me = call(&server, "GET", "/api/v1/me", Some(&v.owner), None).await;
    assert_eq!(declined.body["declined_by"], me.body["user_id"]);
    // Its request retried with its key (a dropped answer) is told it was declined, not that Stripe refused it.
    let retried = expect_problem(keyed().await.unwrap(), 409, "conflict").await;
    assert!(
        retried["detail"].as_str().unwrap().contains("declined"),
        "{retried}"
    );
    assert_eq!(
        post(&server, &decline, Some(&v.owner), json!({})).await.status,
        409
    );
    let asked = post(
        &server,
        &format!("/api/v1/payments/{payment}/refunds"),
        Some(&v.owner),
        json!({"amount": 3_780_000, "reason": "evento cancelado"}),
    )
    .await;
    assert_eq!(asked.status, 202, "{}", asked.body);
    let refund = asked.body["refund_id"].as_str().unwrap().to_owned();

    // The second person finds what waits for them in the venue's refunds: who asked, for which table, how much.
    let refunds = |query: &'static str| {
        let path = format!("/api/v1/venues/{}/refunds{query}", v.venue);
        let manager = manager.clone();
        let server = &server;
        async move { call(server, "GET", &path, Some(&manager), None).await }
    };
    let waiting = refunds("?status=awaiting_approval").await;
    assert_eq!(waiting.status, 200, "{}", waiting.body);
    let items = waiting.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", waiting.body);
    assert_eq!(items[0]["refund_id"], refund.as_str());
    assert_eq!(items[0]["requested_by"], me.body["user_id"]);
    assert_eq!(items[0]["table_id"], v.table.as_str());
    assert_eq!(items[0]["split"]["refund"]["amount"], 3_780_000);
    assert_eq!(items[0]["reason"], "evento cancelado");
    expect_problem(
        server
            .client
            .get(server.url(&format!("/api/v1/venues/{}/refunds?status=done", v.venue)))
            .bearer_auth(&manager)
            .send()
            .await
            .unwrap(),
        400,
        "validation",
    )
    .await;
    let approved = post(
        &server,
        &format!("/api/v1/refunds/{refund}/approve"),
        Some(&manager),
        json!({}),
    )
    .await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert_eq!(approved.body["status"], "succeeded");
    assert_eq!(approved.body["approved_by"], manager_id.as_str());
    assert_eq!(stripe.balance_of("platform").await, 0);
    assert_eq!(
        refunds("?status=awaiting_approval").await.body["items"],
        json!([])
    );
    let all = refunds("").await;
    let statuses: Vec<&Value> = all.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["status"])
        .collect();
    assert_eq!(statuses, [&json!("succeeded"), &json!("failed")], "{}", all.body);

    // Changing the payout bank details: asked by one, approved by another, then Stripe's update link.
    let change = post(&server, "/api/v1/payouts/bank-details", Some(&v.owner), json!({})).await;
    assert_eq!(change.status, 202, "{}", change.body);
    let approval = change.body["approval_id"].as_str().unwrap().to_owned();
    let own = post(
        &server,
        &format!("/api/v1/approvals/{approval}/approve"),
        Some(&v.owner),
        json!({}),
    )
    .await;
    assert_eq!(own.status, 409);
    let other = post(
        &server,
        &format!("/api/v1/approvals/{approval}/approve"),
        Some(&manager),
        json!({}),
    )
    .await;
    assert_eq!(other.status, 200, "{}", other.body);
    assert!(
        other.body["url"]
            .as_str()
            .unwrap()
            .contains("/setup/account_update/")
    );
    let audit = call(&server, "GET", "/api/v1/audit", Some(&v.owner), None).await;
    let actions: Vec<&str> = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for action in [
        "refund.requested",
        "refund.approved",
        "payouts.details_change_requested",
        "payouts.details_change_approved",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn disputes_are_shown_with_evidence_and_payouts_as_stripe_reports_them() {
    let server = TestServer::start().await;
    let v = venue_with_menu(&server, "disputa@example.co").await;
    table_with_bill(&server, &v).await;
    onboarded(&server, &v).await;
    let stripe = stripe(&server);
    let paid = pay(&server, &v, json!({"split": {"kind": "full"}})).await;
    stripe
        .confirm(
            paid.body["client_secret"].as_str().unwrap(),
            "pm_card_createDispute",
        )
        .await;
    let disputes = eventually("the dispute", async || {
        let disputes = call(&server, "GET", "/api/v1/disputes", Some(&v.owner), None).await;
        (disputes.body["items"].as_array().is_some_and(|d| !d.is_empty())).then_some(disputes.body)
    })
    .await;
    assert!(disputes["next_cursor"].is_null(), "{disputes}");
    let dispute = &disputes["items"][0];
    assert_eq!(dispute["reason"], "fraudulent");
    assert_eq!(dispute["amount"]["amount"], 3_780_000);
    assert_eq!(dispute["evidence"]["items"][0]["quantity"], 2);
    assert!(dispute["evidence"]["session"]["first_order_at"].is_string());
    assert!(dispute["debt"]["amount"].as_i64().unwrap() > 0);
    let store = server.store().await;
    let payment: uuid::Uuid = paid.body["payment_id"].as_str().unwrap().parse().unwrap();
    let scope = comanda_security::TenantScope::from_proof(&comanda_security::tenancy::JobAuthority::new(
        "test",
        store.payment_partner(payment).await.unwrap().unwrap(),
    ));
    let account = store
        .connected_account(&scope)
        .await
        .unwrap()
        .unwrap()
        .stripe_account;
    let paid_out = stripe
        .post(
            "/_standin/payouts",
            &[("account", account.as_str()), ("currency", "cop")],
        )
        .await;
    assert_eq!(paid_out.0, 200, "{}", paid_out.1);
    let payouts = eventually("the payout", async || {
        let payouts = call(&server, "GET", "/api/v1/payouts", Some(&v.owner), None).await;
        (payouts.body["payouts"].as_array().is_some_and(|p| !p.is_empty())).then_some(payouts.body)
    })
    .await;
    assert_eq!(payouts["payouts"][0]["status"], "paid");
    assert_eq!(
        payouts["payouts_has_more"], false,
        "one payout: nothing older is left out"
    );
    assert!(payouts["outstanding_debt"].is_i64());
    server.stop().await;
}

/// PAY-3: the payment pages (the table's and a booking's deposit) allow scripts only from our origin and Stripe, and
/// load exactly the scripts listed in security/payment-page-scripts.toml, our own with the integrity hash listed there.
#[tokio::test]
async fn the_payment_page_loads_only_its_inventoried_scripts() {
    let server = TestServer::start().await;
    let v = venue_with_menu(&server, "pagina@example.co").await;
    for path in [
        format!("/t/{}/pay", v.token),
        format!("/book/{}/deposit", v.venue),
    ] {
        payment_page_loads_only_inventoried_scripts(&server, &path).await;
    }
    server.stop().await;
}

async fn payment_page_loads_only_inventoried_scripts(server: &TestServer, path: &str) {
    let page = server.client.get(server.url(path)).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let stripe = stripe(server);
    let script_src = csp
        .split(';')
        .find(|d| d.trim().starts_with("script-src"))
        .unwrap()
        .trim()
        .to_owned();
    assert_eq!(script_src, format!("script-src 'self' {}", stripe.base));
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    let mut scripts: Vec<(String, Option<String>)> = html
        .split("<script")
        .skip(1)
        .map(|tag| {
            let tag = &tag[..tag.find('>').unwrap()];
            let attr = |name: &str| {
                tag.split(&format!("{name}=\""))
                    .nth(1)
                    .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
            };
            (attr("src").expect("no inline scripts"), attr("integrity"))
        })
        .collect();
    scripts.sort();
    let inventory: toml::Value = toml::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../security/payment-page-scripts.toml"
        ))
        .unwrap(),
    )
    .unwrap();
    let mut listed: Vec<(String, Option<String>)> = inventory["script"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let src = s["src"].as_str().unwrap();
            let src = if src == "stripe.js" {
                format!("{}/v3", stripe.base)
            } else {
                src.to_owned()
            };
            (
                src,
                s.get("integrity").and_then(|i| i.as_str()).map(str::to_owned),
            )
        })
        .collect();
    listed.sort();
    assert_eq!(
        scripts, listed,
        "{path}: the payment page's scripts changed: update security/payment-page-scripts.toml"
    );
    // Our own script's bytes hash to the integrity the page and the inventory state.
    use base64::Engine as _;
    let ours = server
        .client
        .get(server.url("/assets/pay.js"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let digest = ring::digest::digest(&ring::digest::SHA384, &ours);
    let integrity = format!(
        "sha384-{}",
        base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
    );
    assert!(
        listed
            .iter()
            .any(|(_, i)| i.as_deref() == Some(integrity.as_str()))
    );
}

/// PAY-1 on PostgreSQL: a card number sent anywhere is refused and is found nowhere in the database.
#[tokio::test]
async fn a_card_number_reaches_no_postgres_table() {
    let server = TestServer::start_on(Engine::Postgres, |_| {}).await;
    let v = venue_with_menu(&server, "tarjeta@example.co").await;
    onboarded(&server, &v).await;
    table_with_bill(&server, &v).await;
    let path = format!("/api/v1/t/{}/payments", v.token);
    let attempts = [
        server
            .client
            .post(server.url(&path))
            .json(&json!({"split": {"kind": "full"}, "card": "4242 4242 4242 4242"})),
        server
            .client
            .post(server.url(&path))
            .json(&json!({"split": {"kind": "full"}, "note": "4242-4242-4242-4242"})),
        server
            .client
            .get(server.url(&format!("/api/v1/t/{}/bill?card=4242424242424242", v.token))),
        server
            .client
            .get(server.url("/healthz"))
            .header("x-card-number", "4242 4242 4242 4242"),
    ];
    for attempt in attempts {
        let refused = attempt.send().await.unwrap();
        assert_eq!(refused.status().as_u16(), 400);
        let text = refused.text().await.unwrap();
        assert!(!text.contains("4242"), "{text}");
    }
    let bin = comanda_store::testing::postgres_bin_dir().unwrap();
    let dump = std::process::Command::new(bin.join("pg_dump"))
        .args(["--data-only", "--dbname", &server.superuser_url().unwrap()])
        .output()
        .unwrap();
    assert!(dump.status.success(), "{}", String::from_utf8_lossy(&dump.stderr));
    let dump = String::from_utf8_lossy(&dump.stdout);
    assert!(
        dump.contains("tarjeta") || dump.contains("Sede Centro"),
        "the dump holds the workload"
    );
    for form in ["4242424242424242", "4242 4242 4242 4242", "4242-4242-4242-4242"] {
        assert!(!dump.contains(form), "{form} reached the database");
    }
    // REST-1: the partner's Stripe account reference is sealed (the directory holds only its digest).
    assert!(dump.contains("sha256:"), "the account directory holds the digest");
    let clear: Vec<&str> = dump.lines().filter(|l| l.contains("acct_")).collect();
    assert!(
        clear.is_empty(),
        "a Stripe account reference is stored in clear: {clear:?}"
    );
    server.stop().await;
}

/// Where the partner's country allows card-accepting accounts (Mexico), the share is a destination charge on the
/// partner's behalf: the application fee stays with the platform, the rest (tip included) lands on the partner's
/// account with the charge, and a full refund reverses the transfer and the fee.
#[tokio::test]
async fn destination_charges_where_the_country_allows_them() {
    let server = TestServer::start().await;
    let signup = post(
        &server,
        "/api/v1/signup",
        None,
        json!({"business_name": "Taquería El Güero", "country": "MX",
               "owner": {"name": "Lupe", "email": "lupe@example.mx", "password": PASSWORD}}),
    )
    .await;
    assert_eq!(signup.status, 201, "{}", signup.body);
    let session = crate::identity::enrolled(&server, "lupe@example.mx", PASSWORD).await;
    let owner = session.access;
    let venue = post(
        &server,
        "/api/v1/venues",
        Some(&owner),
        json!({"name": "Centro", "timezone": "America/Mexico_City", "currency": "MXN", "tax": {"kind": "iva", "rate_bp": 1600}}),
    )
    .await;
    assert_eq!(venue.status, 201, "{}", venue.body);
    let venue_id = venue.body["id"].as_str().unwrap().to_owned();
    let table = post(
        &server,
        &format!("/api/v1/venues/{venue_id}/tables"),
        Some(&owner),
        json!({"label": "1", "seats": 2}),
    )
    .await;
    let category = post(
        &server,
        &format!("/api/v1/venues/{venue_id}/menu/categories"),
        Some(&owner),
        json!({"name": {"es": "Tacos"}}),
    )
    .await;
    let item = post(
        &server,
        &format!("/api/v1/venues/{venue_id}/menu/items"),
        Some(&owner),
        json!({"category_id": category.body["id"], "name": {"es": "Tacos al pastor"}, "price": {"amount": 10_000, "currency": "MXN"}}),
    )
    .await;
    assert_eq!(item.status, 201, "{}", item.body);
    let v = Venue {
        owner,
        refresh: session.refresh,
        venue: venue_id,
        category: category.body["id"].as_str().unwrap().to_owned(),
        table: table.body["id"].as_str().unwrap().to_owned(),
        token: table.body["token"].as_str().unwrap().to_owned(),
        item: item.body["id"].as_str().unwrap().to_owned(),
    };
    table_with_bill(&server, &v).await;
    onboarded(&server, &v).await;
    let payouts = call(&server, "GET", "/api/v1/payouts", Some(&v.owner), None).await;
    assert_eq!(payouts.body["charge_model"], "destination_charges");
    let stripe = stripe(&server);
    let paid = pay(&server, &v, json!({"split": {"kind": "full"}, "tip": 2_000})).await;
    assert_eq!(paid.status, 201, "{}", paid.body);
    let confirmed = stripe
        .confirm(paid.body["client_secret"].as_str().unwrap(), "pm_card_visa")
        .await;
    assert_eq!(
        confirmed["transfer_data"]["destination"]
            .as_str()
            .map(|d| d.starts_with("acct_")),
        Some(true)
    );
    assert_eq!(
        confirmed["application_fee_amount"], 600,
        "3 % of the 20.000 share, never of the tip"
    );
    assert_eq!(
        confirmed["on_behalf_of"], confirmed["transfer_data"]["destination"],
        "settled on the partner's behalf (PAY-2)"
    );
    // The stand-in holds the client to Stripe's rule: on another account's behalf than the destination is refused.
    let mismatched = stripe
        .http
        .post(format!("{}/v1/payment_intents", stripe.base))
        .bearer_auth(&stripe.secret_key)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("amount", "1000"),
            ("currency", "mxn"),
            (
                "transfer_data[destination]",
                confirmed["transfer_data"]["destination"].as_str().unwrap(),
            ),
            ("on_behalf_of", "acct_someone_else"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(mismatched.status().as_u16(), 400);
    let refused: Value = mismatched.json().await.unwrap();
    assert_eq!(refused["error"]["param"], "on_behalf_of", "{refused}");
    let payment = paid.body["payment_id"].as_str().unwrap().to_owned();
    succeeded(&server, &v, &payment).await;
    let account = confirmed["transfer_data"]["destination"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(stripe.balance_of("platform").await, 600);
    assert_eq!(stripe.balance_of(&account).await, 20_000 + 2_000 - 600);
    assert!(
        stripe.get("/_standin/ledger").await["transfers"]
            .as_array()
            .unwrap()
            .is_empty(),
        "no separate transfer"
    );
    let refund = post(
        &server,
        &format!("/api/v1/payments/{payment}/refunds"),
        Some(&v.owner),
        json!({"amount": 22_000, "reason": "pedido equivocado"}),
    )
    .await;
    assert_eq!(refund.status, 201, "{}", refund.body);
    assert_eq!(stripe.balance_of("platform").await, 0);
    assert_eq!(stripe.balance_of(&account).await, 0);
    server.stop().await;
}

/// A guest who leaves the card step (back, a reload, another share) and asks again from the same phone replaces the
/// payment they left: it is cancelled at Stripe first and its half of the bill is theirs to take again, where it
/// used to hold that half for 15 minutes and answer `bill-covered`. Another guest's payment is left alone.
#[tokio::test]
async fn a_device_asking_again_replaces_the_payment_it_left() {
    let server = TestServer::start().await;
    let v = venue_with_menu(&server, "otra-vez@example.co").await;
    table_with_bill(&server, &v).await;
    onboarded(&server, &v).await;
    let stripe = stripe(&server);
    let path = format!("/api/v1/t/{}/payments", v.token);
    let half = async |device: &'static str| {
        let answer = server
            .client
            .post(server.url(&path))
            .header("x-guest-device", device)
            .json(&json!({"split": {"kind": "equal", "parts": 2}}))
            .send()
            .await
            .unwrap();
        let status = answer.status().as_u16();
        let body: Value = answer.json().await.unwrap();
        assert_eq!(status, 201, "{device}: {body}");
        body
    };
    let intent_of = |body: &Value| {
        body["client_secret"]
            .as_str()
            .unwrap()
            .split("_secret_")
            .next()
            .unwrap()
            .to_owned()
    };
    let left = half("phone-1").await;
    let friend = half("phone-2").await;
    assert_eq!(bill(&server, &v).await["balance"]["remaining"]["amount"], 0);
    // The phone that left its payment sees its own half as free (a reload shows what it would pay, not nothing).
    let seen = bill_seen_by(&server, &v, "phone-1").await;
    assert_eq!(seen["balance"]["remaining"]["amount"], 1_890_000, "{seen}");
    assert_eq!(seen["balance"]["in_progress"]["amount"], 1_890_000, "{seen}");
    // It is named to that phone, which the rest of the table sees held, so the page can offer to give it up; the
    // friend's phone sees its own, and a bill read without a device none.
    assert_eq!(seen["unfinished"]["payment_id"], left["payment_id"], "{seen}");
    assert_eq!(seen["unfinished"]["total"]["amount"], 1_890_000, "{seen}");
    assert!(seen["unfinished"]["expires_at"].is_string(), "{seen}");
    let friend_sees = bill_seen_by(&server, &v, "phone-2").await;
    assert_eq!(
        friend_sees["unfinished"]["payment_id"], friend["payment_id"],
        "{friend_sees}"
    );
    assert!(bill(&server, &v).await["unfinished"].is_null());
    // A request refused (the amount shown is not the share) changes nothing: the payment left is not cancelled.
    let refused = server
        .client
        .post(server.url(&path))
        .header("x-guest-device", "phone-1")
        .json(&json!({"split": {"kind": "remaining"}, "amount": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 409);
    let refused: Value = refused.json().await.unwrap();
    assert!(
        refused["type"].as_str().unwrap().ends_with("share-changed"),
        "{refused}"
    );
    let left_id = left["payment_id"].as_str().unwrap();
    assert_eq!(payment_state(&server, &v, left_id).await["status"], "pending");
    let again = half("phone-1").await;
    assert_ne!(again["payment_id"], left["payment_id"]);
    assert_eq!(
        stripe
            .get(&format!("/v1/payment_intents/{}", intent_of(&left)))
            .await["status"],
        "canceled"
    );
    assert_eq!(payment_state(&server, &v, left_id).await["status"], "cancelled");
    let friend_id = friend["payment_id"].as_str().unwrap();
    assert_eq!(payment_state(&server, &v, friend_id).await["status"], "pending");
    let balance = bill(&server, &v).await["balance"].clone();
    assert_eq!(
        (
            balance["in_progress"]["amount"].as_i64(),
            balance["remaining"]["amount"].as_i64()
        ),
        (Some(3_780_000), Some(0)),
        "{balance}"
    );
    // The payment the phone's second request replaced has ended, but not as a payment that failed: the owner's
    // success rate leaves it out (a guest who paid another way counted as a card that failed).
    let today = server.clock.now().date();
    let summary = call(
        &server,
        "GET",
        &format!(
            "/api/v1/venues/{}/analytics/summary?from={}&to={}",
            v.venue,
            today.previous_day().unwrap(),
            today.next_day().unwrap()
        ),
        Some(&v.owner),
        None,
    )
    .await;
    assert_eq!(summary.status, 200, "{}", summary.body);
    assert_eq!(summary.body["payments_ended"], 0, "{}", summary.body);
    // Past its expiry, before the sweep cancels it, a payment held for nobody is no longer named "unfinished".
    assert!(bill_seen_by(&server, &v, "phone-1").await["unfinished"].is_object());
    server.clock.advance(time::Duration::minutes(16));
    let lapsed = bill_seen_by(&server, &v, "phone-1").await;
    assert!(lapsed["unfinished"].is_null(), "{lapsed}");
    server.stop().await;
}

/// A guest's order the bill's payments need is not offered for cancelling (the venue refunds first; the button was
/// shown and always refused), and is again once the payment that needed it is given up.
#[tokio::test]
async fn an_order_the_bill_s_payments_need_is_not_offered_for_cancelling() {
    let server = TestServer::start().await;
    let v = venue_with_menu(&server, "cubierto@example.co").await;
    onboarded(&server, &v).await;
    let order = async || {
        let placed = server
            .client
            .post(server.url(&format!("/api/v1/t/{}/orders", v.token)))
            .header("x-guest-device", "phone-1")
            .json(&json!({"items": [{"item_id": v.item, "quantity": 1}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(placed.status().as_u16(), 201);
        placed.json::<Value>().await.unwrap()["id"].clone()
    };
    let first = order().await;
    accept_table(&server, &v).await;
    order().await;
    let offered = async || -> Vec<bool> {
        bill_seen_by(&server, &v, "phone-1").await["orders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["cancellable"].as_bool().unwrap())
            .collect()
    };
    let cancel_first = async || -> (u16, String) {
        let answer = server
            .client
            .post(server.url(&format!(
                "/api/v1/t/{}/orders/{}/cancel",
                v.token,
                first.as_str().unwrap()
            )))
            .header("x-guest-device", "phone-1")
            .send()
            .await
            .unwrap();
        let status = answer.status().as_u16();
        let body: Value = answer.json().await.unwrap_or_default();
        (status, body["detail"].as_str().unwrap_or("").to_owned())
    };
    assert_eq!(offered().await, [true, true]);
    // A friend starts paying the whole bill: neither order can leave it now.
    let paying = pay(&server, &v, json!({"split": {"kind": "full"}})).await;
    assert_eq!(paying.status, 201, "{}", paying.body);
    assert_eq!(offered().await, [false, false]);
    assert_eq!(cancel_first().await.0, 422);
    let id = paying.body["payment_id"].as_str().unwrap();
    let given_up = server
        .client
        .post(server.url(&format!("/api/v1/t/{}/payments/{id}/cancel", v.token)))
        .send()
        .await
        .unwrap();
    assert_eq!(given_up.status().as_u16(), 200);
    assert_eq!(offered().await, [true, true]);
    // A friend pays the whole bill with a tip, and the venue refunds one dish's worth: the refund's tip part goes
    // back to the card too, but it never paid for food, so the money kept still covers more than one dish and
    // neither order may leave. The bill offers Cancel by the figure the cancellation checks (it counted the tip
    // refunded as food money and offered a Cancel that was then refused).
    let stripe = stripe(&server);
    let whole = pay(&server, &v, json!({"split": {"kind": "full"}, "tip": 378_000})).await;
    assert_eq!(whole.status, 201, "{}", whole.body);
    stripe
        .confirm(whole.body["client_secret"].as_str().unwrap(), "pm_card_visa")
        .await;
    let whole_id = whole.body["payment_id"].as_str().unwrap().to_owned();
    succeeded(&server, &v, &whole_id).await;
    // A refund waits for the partner's transfer to be sent (409 until then; under load it can take a moment).
    let refund = eventually("a refund once the transfer is sent", async || {
        let refund = post(
            &server,
            &format!("/api/v1/payments/{whole_id}/refunds"),
            Some(&v.owner),
            json!({"amount": 1_890_000, "reason": "plato frío"}),
        )
        .await;
        (refund.status != 409).then_some(refund)
    })
    .await;
    assert_eq!(refund.status, 201, "{}", refund.body);
    assert_eq!(refund.body["status"], "succeeded", "{}", refund.body);
    let seen = bill_seen_by(&server, &v, "phone-1").await;
    assert_eq!(seen["balance"]["refunded"]["amount"], 1_890_000, "{seen}");
    assert_eq!(offered().await, [false, false], "{seen}");
    // The refusal says how much more of the bill's money must go back before the order may leave: 37.800 paid for
    // the bill, 17.182 of it returned by the refund (the rest of the refund, 1.718, was the tip's part, in whole
    // pesos), 18.900 left.
    let (status, detail) = cancel_first().await;
    assert_eq!(status, 422);
    assert!(
        detail.starts_with(
            "guests have paid for this order: 1,718 COP more of what they paid for the bill must go back first"
        ),
        "{detail}"
    );
    // It names the refund that returns that much, its tip's part included (refunding the 1.718 itself left 156
    // short, and each refusal named a smaller rest): one refund, and the order leaves.
    assert!(
        detail.contains(": refund 1,890 COP of their payments"),
        "{detail}"
    );
    let named = post(
        &server,
        &format!("/api/v1/payments/{whole_id}/refunds"),
        Some(&v.owner),
        json!({"amount": 189_000, "reason": "el postre no salió"}),
    )
    .await;
    assert_eq!(named.status, 201, "{}", named.body);
    assert_eq!(cancel_first().await, (200, String::new()));
    server.stop().await;
}

/// The payments page finds one day's payments (a guest asks on Monday about Friday's): `?day=` keeps the venue's
/// business day, in its time zone and from its day-start hour (a payment at 01:30 on Saturday is Friday's), pages
/// within it, and refuses what is not a date.
#[tokio::test]
async fn a_business_day_s_payments_are_listed_apart() {
    let server = TestServer::start().await;
    // The clock moves first (tokens signed before a jump would expire): to 04:54 on a Saturday in Bogotá, before
    // the venue's day starts at 05:00, so the first two payments are Friday's and the third, at 05:02, Saturday's.
    let bogota = time::UtcOffset::from_hms(-5, 0, 0).unwrap();
    let mut saturday = server.clock.now().to_offset(bogota).date().next_day().unwrap();
    while saturday.weekday() != time::Weekday::Saturday {
        saturday = saturday.next_day().unwrap();
    }
    let friday = saturday.previous_day().unwrap();
    let at = |minutes| {
        saturday.with_hms(4, 54, 0).unwrap().assume_offset(bogota) + time::Duration::minutes(minutes)
    };
    server.clock.advance(at(0) - server.clock.now());
    let v = venue_with_menu(&server, "dia@example.co").await;
    table_with_bill(&server, &v).await;
    onboarded(&server, &v).await;
    let release = format!("/api/v1/venues/{}/tables/{}/card-holds/release", v.venue, v.table);
    let mut started = Vec::new();
    for when in [at(0), at(3), at(8)] {
        server.clock.advance(when - server.clock.now());
        let paying = pay(&server, &v, json!({"split": {"kind": "full"}})).await;
        assert_eq!(paying.status, 201, "{}", paying.body);
        started.push(paying.body["payment_id"].as_str().unwrap().to_owned());
        let released = call(&server, "POST", &release, Some(&v.owner), None).await;
        assert_eq!(released.status, 200, "{}", released.body);
    }
    let list = async |query: String| {
        let path = format!("/api/v1/venues/{}/payments{query}", v.venue);
        call(&server, "GET", &path, Some(&v.owner), None).await
    };
    let ids = |reply: &Reply| -> Vec<String> {
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["payment_id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        ids(&list(format!("?day={friday}")).await),
        [started[1].as_str(), started[0].as_str()]
    );
    assert_eq!(
        ids(&list(format!("?day={saturday}")).await),
        [started[2].as_str()]
    );
    assert!(ids(&list(format!("?day={}", saturday.next_day().unwrap())).await).is_empty());
    assert_eq!(
        ids(&list(String::new()).await),
        [started[2].as_str(), started[1].as_str(), started[0].as_str()]
    );
    // A page at a time, within the day: the last page says there is no other.
    let first = list(format!("?day={friday}&limit=1")).await;
    assert_eq!(ids(&first), [started[1].as_str()]);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let last = list(format!("?day={friday}&limit=1&cursor={cursor}")).await;
    assert_eq!(ids(&last), [started[0].as_str()]);
    assert_eq!(last.body["next_cursor"], Value::Null, "{}", last.body);
    for wrong in ["viernes", "2026-02-30", ""] {
        let refused = list(format!("?day={wrong}")).await;
        assert_eq!(refused.status, 400, "{wrong}: {}", refused.body);
        assert_eq!(refused.body["errors"][0]["field"], "day", "{}", refused.body);
    }
    let refused = list("?day=0001-01-01".into()).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    server.stop().await;
}

/// A payment left unfinished holds its share only for a while: then it is cancelled at Stripe first and its share
/// is free again. A guest can also give up a payment at once.
#[tokio::test]
async fn abandoned_payments_are_cancelled_at_stripe_then_released() {
    let server = TestServer::start().await;
    let v = venue_with_menu(&server, "abandono@example.co").await;
    table_with_bill(&server, &v).await;
    onboarded(&server, &v).await;
    let stripe = stripe(&server);
    let given_up = server
        .client
        .post(server.url(&format!("/api/v1/t/{}/payments", v.token)))
        .header("x-guest-device", "phone-1")
        .json(&json!({"split": {"kind": "full"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(given_up.status().as_u16(), 201);
    let given_up: Value = given_up.json().await.unwrap();
    let id = given_up["payment_id"].as_str().unwrap().to_owned();
    let cancel = |device: &'static str| {
        server
            .client
            .post(server.url(&format!("/api/v1/t/{}/payments/{id}/cancel", v.token)))
            .header("x-guest-device", device)
            .send()
    };
    assert_eq!(
        cancel("phone-2").await.unwrap().status().as_u16(),
        404,
        "another guest's device"
    );
    let cancelled = cancel("phone-1").await.unwrap();
    assert_eq!(cancelled.status().as_u16(), 200);
    let cancelled: Value = cancelled.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    // Nor need the table wait the 15 minutes for a guest who left the card step: the waiter releases the hold (a
    // friend wants to pay by card now). Cancelled at Stripe first, then the whole bill is free.
    let left = pay(&server, &v, json!({"split": {"kind": "full"}})).await;
    assert_eq!(left.status, 201, "{}", left.body);
    assert_eq!(bill(&server, &v).await["balance"]["remaining"]["amount"], 0);
    let release = format!("/api/v1/venues/{}/tables/{}/card-holds/release", v.venue, v.table);
    let released = call(&server, "POST", &release, Some(&v.owner), None).await;
    assert_eq!(released.status, 200, "{}", released.body);
    assert_eq!(released.body["released"], 1);
    let left_intent = left.body["client_secret"]
        .as_str()
        .unwrap()
        .split("_secret_")
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        stripe.get(&format!("/v1/payment_intents/{left_intent}")).await["status"],
        "canceled"
    );
    let left_id = left.body["payment_id"].as_str().unwrap();
    assert_eq!(payment_state(&server, &v, left_id).await["status"], "cancelled");
    assert_eq!(
        bill(&server, &v).await["balance"]["remaining"]["amount"],
        3_780_000
    );
    let abandoned = pay(&server, &v, json!({"split": {"kind": "full"}})).await;
    assert_eq!(
        abandoned.status, 201,
        "the whole bill is free again: {}",
        abandoned.body
    );
    let intent = abandoned.body["client_secret"]
        .as_str()
        .unwrap()
        .split("_secret_")
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(bill(&server, &v).await["balance"]["remaining"]["amount"], 0);
    server.clock.advance(time::Duration::minutes(16));
    let service = server.server().payments().unwrap();
    let store = server.store().await;
    comanda_server::payments::upkeep(&store, service, &(std::sync::Arc::new(server.clock.clone()) as _))
        .await;
    assert_eq!(
        stripe.get(&format!("/v1/payment_intents/{intent}")).await["status"],
        "canceled"
    );
    let id = abandoned.body["payment_id"].as_str().unwrap();
    assert_eq!(payment_state(&server, &v, id).await["status"], "cancelled");
    assert_eq!(
        bill(&server, &v).await["balance"]["remaining"]["amount"],
        3_780_000
    );
    // A cancelled PaymentIntent can no longer be paid.
    let late = stripe
        .confirm(abandoned.body["client_secret"].as_str().unwrap(), "pm_card_visa")
        .await;
    assert_eq!(late["error"]["code"], "payment_intent_unexpected_state");

    // Chosen lines: a third of the shared line (2 × 18.900) is 12.600; a line that is not on the bill is refused.
    let order = bill(&server, &v).await["orders"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let third = pay(
        &server,
        &v,
        json!({"split": {"kind": "items", "items": [{"order_id": order, "line": 0, "numerator": 1, "denominator": 3}]}}),
    )
    .await;
    assert_eq!(third.status, 201, "{}", third.body);
    assert_eq!(third.body["amount"]["amount"], 1_260_000);
    let unknown = pay(
        &server,
        &v,
        json!({"split": {"kind": "items", "items": [{"order_id": order, "line": 9}]}}),
    )
    .await;
    assert_eq!(unknown.status, 400, "{}", unknown.body);
    assert_eq!(unknown.body["errors"][0]["field"], "split.items[0].line");
    let negative = pay(&server, &v, json!({"split": {"kind": "remaining"}, "tip": -5})).await;
    assert_eq!(negative.status, 400, "{}", negative.body);
    server.stop().await;
}

/// Cash at the table (docs/payments.md, "Cash at the table"): a server records the cash a guest handed over, so the
/// bill reads paid and the table closes without `unpaid=true`; the tip reaches the ledger as cash and the reports
/// count cash beside cards; a mistaken record is voided once while the bill is open. Refusals: 400 for the shape,
/// 422 for nothing to record, 409 for more than is left, 403 for the kitchen.
#[tokio::test]
async fn cash_at_the_table_pays_the_bill_and_reaches_the_reports() {
    let server = TestServer::start().await;
    let v = venue_with_menu(&server, "efectivo@example.co").await;
    table_with_bill(&server, &v).await;
    let cash = format!("/api/v1/venues/{}/tables/{}/cash", v.venue, v.table);
    let record = async |body: Value| post(&server, &cash, Some(&v.owner), body).await;
    let listed = call(&server, "GET", &cash, Some(&v.owner), None).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.body["items"], json!([]));
    assert_eq!(listed.body["balance"]["remaining"]["amount"], 3_780_000);
    for (body, status, slug) in [
        (json!({"amount": -1}), 400, "validation"),
        (json!({"amount": 100, "change": 5}), 400, "validation"),
        (json!({"amount": 0, "tip": 0}), 422, "business-rule"),
        (json!({"amount": 0, "tip": 3_780_001}), 422, "business-rule"),
        (json!({"amount": 3_780_001}), 409, "bill-covered"),
        // "50.5" typed at the desk: no coin pays centavos, in the bill part or the tip.
        (json!({"amount": 5_050}), 422, "business-rule"),
        (json!({"amount": 0, "tip": 50}), 422, "business-rule"),
    ] {
        let refused = record(body.clone()).await;
        assert_eq!(refused.status, status, "{body}: {}", refused.body);
        assert!(
            refused.body["type"].as_str().unwrap().ends_with(slug),
            "{body}: {}",
            refused.body
        );
    }
    // The kitchen sees the bill but does not take money.
    invite_and_join(&server, &v.owner, "cocina@example.co", "kitchen", PASSWORD).await;
    let cook = crate::identity::login(&server, "cocina@example.co", PASSWORD)
        .await
        .body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(call(&server, "GET", &cash, Some(&cook), None).await.status, 200);
    assert_eq!(
        post(&server, &cash, Some(&cook), json!({"amount": 100}))
            .await
            .status,
        403
    );
    // Recorded with a key: the same request again answers the first record.
    let keyed = async || {
        let sent = server
            .client
            .post(server.url(&cash))
            .bearer_auth(&v.owner)
            .header("Idempotency-Key", "cash-1")
            .json(&json!({"amount": 2_000_000, "tip": 200_000}))
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), 201);
        sent.json::<Value>().await.unwrap()
    };
    let first = keyed().await;
    assert_eq!(keyed().await["cash"]["id"], first["cash"]["id"]);
    assert_eq!(first["balance"]["remaining"]["amount"], 1_780_000);
    assert_eq!(first["balance"]["cash"]["amount"], 2_000_000);
    let rest = record(json!({"amount": 1_780_000})).await;
    assert_eq!(rest.status, 201, "{}", rest.body);
    assert_eq!(rest.body["balance"]["settled"], true);
    // The first was a mistake: voided once, the bill owes it again; the guest pays it with a tip of 1.000.
    let first_id = first["cash"]["id"].as_str().unwrap();
    let void = call(
        &server,
        "DELETE",
        &format!("{cash}/{first_id}"),
        Some(&v.owner),
        None,
    )
    .await;
    assert_eq!(void.status, 200, "{}", void.body);
    assert!(void.body["cash"]["voided_at"].is_string(), "{}", void.body);
    assert_eq!(void.body["balance"]["remaining"]["amount"], 2_000_000);
    let again = call(
        &server,
        "DELETE",
        &format!("{cash}/{first_id}"),
        Some(&v.owner),
        None,
    )
    .await;
    assert_eq!(again.status, 409, "{}", again.body);
    let paid = record(json!({"amount": 2_000_000, "tip": 100_000})).await;
    assert_eq!(paid.status, 201, "{}", paid.body);
    let listed = call(&server, "GET", &cash, Some(&v.owner), None).await;
    assert_eq!(
        listed.body["items"].as_array().unwrap().len(),
        3,
        "{}",
        listed.body
    );
    // Served and paid in cash: the table closes without saying it is unpaid.
    let orders = call(
        &server,
        "GET",
        &format!("/api/v1/venues/{}/orders", v.venue),
        Some(&v.owner),
        None,
    )
    .await;
    for order in orders.body["items"].as_array().unwrap() {
        for to in ["accepted", "preparing", "ready", "served"] {
            let path = format!("/api/v1/orders/{}/transitions", order["id"].as_str().unwrap());
            assert_eq!(
                post(&server, &path, Some(&v.owner), json!({"to": to}))
                    .await
                    .status,
                200
            );
        }
    }
    let close = format!("/api/v1/venues/{}/tables/{}/close", v.venue, v.table);
    let closed = post(&server, &close, Some(&v.owner), json!({})).await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    // A closed bill's records stand, and there is no bill to take cash for.
    let paid_id = paid.body["cash"]["id"].as_str().unwrap();
    let late = call(
        &server,
        "DELETE",
        &format!("{cash}/{paid_id}"),
        Some(&v.owner),
        None,
    )
    .await;
    assert_eq!(late.status, 409, "{}", late.body);
    let no_bill = record(json!({"amount": 100})).await;
    assert_eq!(no_bill.status, 422, "{}", no_bill.body);
    assert!(no_bill.body["type"].as_str().unwrap().ends_with("no-open-bill"));
    // The next party's bill: cash sent for the closed one (its session id) lands nowhere.
    let old_bill = listed.body["session_id"].as_str().unwrap().to_owned();
    let next = post(
        &server,
        &format!("/api/v1/t/{}/orders", v.token),
        None,
        json!({"items": [{"item_id": v.item, "quantity": 1}]}),
    )
    .await;
    assert_eq!(next.status, 201, "{}", next.body);
    accept_table(&server, &v).await;
    let stale = record(json!({"amount": 100, "session_id": old_bill})).await;
    assert_eq!(stale.status, 409, "{}", stale.body);
    assert_eq!(stale.body["errors"][0]["field"], "session_id", "{}", stale.body);
    // The reports: 3.780.000 of the bill and 1.000 of tip in cash, nothing by card.
    let today = server
        .clock
        .now()
        .to_offset(time::UtcOffset::from_hms(-5, 0, 0).unwrap())
        .date();
    let summary = call(
        &server,
        "GET",
        &format!(
            "/api/v1/venues/{}/analytics/summary?from={}&to={}",
            v.venue,
            today.previous_day().unwrap(),
            today
        ),
        Some(&v.owner),
        None,
    )
    .await;
    assert_eq!(summary.status, 200, "{}", summary.body);
    assert_eq!(
        (
            summary.body["cash"].clone(),
            summary.body["tips"].clone(),
            summary.body["collected"].clone()
        ),
        (json!(3_880_000), json!(100_000), json!(0)),
        "{}",
        summary.body
    );
    // Per server: the owner took all of it, so their drawer holds it (the void taken back).
    let servers = call(
        &server,
        "GET",
        &format!(
            "/api/v1/venues/{}/analytics/servers?from={}&to={}",
            v.venue,
            today.previous_day().unwrap(),
            today
        ),
        Some(&v.owner),
        None,
    )
    .await;
    assert_eq!(servers.status, 200, "{}", servers.body);
    let drawers: Vec<i64> = servers.body["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["cash"].as_i64().unwrap())
        .collect();
    assert_eq!(drawers, vec![3_880_000], "{}", servers.body);
    // The night's cash journal: every record, closed bills' too, with its table, who took it and its void.
    let journal = call(
        &server,
        "GET",
        &format!(
            "/api/v1/venues/{}/analytics/cash?from={}&to={}",
            v.venue,
            today.previous_day().unwrap(),
            today
        ),
        Some(&v.owner),
        None,
    )
    .await;
    assert_eq!(journal.status, 200, "{}", journal.body);
    let items = journal.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{}", journal.body);
    assert_eq!(
        items
            .iter()
            .map(|e| (e["amount"].as_i64().unwrap(), e["voided_at"].is_string()))
            .collect::<Vec<_>>(),
        vec![(2_000_000, true), (1_780_000, false), (2_000_000, false)]
    );
    assert!(
        items
            .iter()
            .all(|e| e["table"] != "" && e["recorded_by_name"].is_string()),
        "{}",
        journal.body
    );
    let journal_csv = call(
        &server,
        "GET",
        &format!(
            "/api/v1/venues/{}/analytics/cash?from={}&to={}&format=csv",
            v.venue,
            today.previous_day().unwrap(),
            today
        ),
        Some(&v.owner),
        None,
    )
    .await;
    assert_eq!(
        journal_csv.body.as_str().unwrap().lines().count(),
        4,
        "{}",
        journal_csv.body
    );
    let month = server.business_month();
    let tips = call(
        &server,
        "GET",
        &format!("/api/v1/tips?month={month}"),
        Some(&v.owner),
        None,
    )
    .await;
    assert_eq!(tips.status, 200, "{}", tips.body);
    let ledger: Vec<(String, i64)> = tips.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["tender"].as_str().unwrap().to_owned(),
                e["amount"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ledger,
        vec![
            ("cash".into(), 200_000),
            ("cash".into(), -200_000),
            ("cash".into(), 100_000)
        ]
    );
    let owner_id = tips.body["entries"][0]["member_id"].as_str().unwrap();
    assert_eq!(
        tips.body["cash_tips_by_member"][owner_id], 100_000,
        "{}",
        tips.body
    );
    assert_eq!(
        tips.body["entries"][2]["taken_by"],
        json!(owner_id),
        "{}",
        tips.body
    );
    server.stop().await;
}

/// A guest whose card was declined pays in cash: their payment in progress holds its part of the bill for 15
/// minutes, so the cash for it is refused saying so, and `cancel_payments=true` cancels that payment at Stripe first.
#[tokio::test]
async fn cash_for_a_part_a_card_payment_holds_cancels_that_payment_first() {
    let server = TestServer::start().await;
    let v = venue_with_menu(&server, "rechazada@example.co").await;
    table_with_bill(&server, &v).await;
    onboarded(&server, &v).await;
    let started = pay(&server, &v, json!({"split": {"kind": "full"}, "tip": 0})).await;
    assert_eq!(started.status, 201, "{}", started.body);
    let payment = started.body["payment_id"].as_str().unwrap().to_owned();
    let cash = format!("/api/v1/venues/{}/tables/{}/cash", v.venue, v.table);
    let held = post(&server, &cash, Some(&v.owner), json!({"amount": 3_780_000})).await;
    assert_eq!(held.status, 409, "{}", held.body);
    assert!(
        held.body["detail"]
            .as_str()
            .unwrap()
            .contains("3780000 more are held by a card payment in progress"),
        "{}",
        held.body
    );
    assert_eq!(payment_state(&server, &v, &payment).await["status"], "pending");
    // A record refused anyway (nothing to record) cancels nobody's payment.
    let refused = post(
        &server,
        &format!("{cash}?cancel_payments=true"),
        Some(&v.owner),
        json!({"amount": 0, "tip": 0}),
    )
    .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(payment_state(&server, &v, &payment).await["status"], "pending");
    let taken = post(
        &server,
        &format!("{cash}?cancel_payments=true"),
        Some(&v.owner),
        json!({"amount": 3_780_000}),
    )
    .await;
    assert_eq!(taken.status, 201, "{}", taken.body);
    assert_eq!(taken.body["balance"]["settled"], true, "{}", taken.body);
    assert_eq!(payment_state(&server, &v, &payment).await["status"], "cancelled");
    server.stop().await;
}

/// Tips are the workers' (Ley 1935 de 2018): a server who leaves mid-month is still named in the month's ledger for
/// the tips they earned, in JSON and CSV.
/// The tip ledger files a tip under its venue's business month, as the venue's sales count it: a dinner tip at 20:30
/// on the 31st in Bogotá is 01:30 UTC on the 1st, and belongs to the month that ended (its payroll, its dashboard
/// month), with its business day beside it (JSON `business_day`, the CSV's last column).
#[tokio::test]
async fn a_tip_after_midnight_utc_is_filed_under_the_venues_business_month() {
    let server = TestServer::start().await;
    let now = server.clock.now();
    let first = if now.month() == time::Month::December {
        time::Date::from_calendar_date(now.year() + 1, time::Month::January, 1)
    } else {
        time::Date::from_calendar_date(now.year(), now.month().next(), 1)
    }
    .unwrap();
    let dinner = first.with_hms(1, 30, 0).unwrap().assume_utc();
    server.clock.advance(dinner - now);
    let v = venue_with_menu(&server, "fin-de-mes@example.co").await;
    crate::ordering::ordered_and_accepted(&server, &v, 1).await;
    let tipped = post(
        &server,
        &format!("/api/v1/venues/{}/tables/{}/cash", v.venue, v.table),
        Some(&v.owner),
        json!({"amount": 1_890_000, "tip": 189_000}),
    )
    .await;
    assert_eq!(tipped.status, 201, "{}", tipped.body);
    let evening = first.previous_day().unwrap();
    let ended = format!("{}-{:02}", evening.year(), u8::from(evening.month()));
    let begun = format!("{}-{:02}", first.year(), u8::from(first.month()));
    let tips_of = |month: &str| format!("/api/v1/tips?month={month}");
    let filed = call(&server, "GET", &tips_of(&ended), Some(&v.owner), None).await;
    assert_eq!(filed.status, 200, "{}", filed.body);
    assert_eq!(
        filed.body["entries"].as_array().map(Vec::len),
        Some(1),
        "{}",
        filed.body
    );
    assert_eq!(filed.body["entries"][0]["business_day"], evening.to_string());
    assert_eq!(
        filed.body["totals_by_member"]
            .as_object()
            .unwrap()
            .values()
            .next(),
        Some(&json!(189_000))
    );
    let next = call(&server, "GET", &tips_of(&begun), Some(&v.owner), None).await;
    assert_eq!(next.body["entries"], json!([]), "{}", next.body);
    assert_eq!(next.body["totals_by_member"], json!({}), "{}", next.body);
    let csv = call(
        &server,
        "GET",
        &format!("/api/v1/tips?month={ended}&format=csv"),
        Some(&v.owner),
        None,
    )
    .await;
    let text = csv.body.as_str().unwrap().to_owned();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().ends_with(",business_day,amount"), "{text}");
    let row = lines.next().unwrap();
    // Its business day, then the tip in pesos; the instant to the second.
    assert!(row.ends_with(&format!(",{evening},1890.00")), "{text}");
    assert!(row.starts_with(&format!("{evening}T20:30:00-05:00,")), "{text}");
    // The instant at the venue's offset, as the cash journal writes it: the evening's hour, not the next UTC day's.
    let at = row.split(',').next().unwrap();
    assert!(
        at.starts_with(&evening.to_string()) && at.ends_with("-05:00"),
        "{text}"
    );
    // The spreadsheet dialect is for the people who pay the tips: its header row is in Spanish.
    let es = call(
        &server,
        "GET",
        &format!("/api/v1/tips?month={ended}&format=csv-es"),
        Some(&v.owner),
        None,
    )
    .await;
    let text = es.body.as_str().unwrap();
    assert!(
        text.starts_with(
            "\u{feff}Momento;ID del local;ID del miembro;Miembro;ID del pago;Valor (centavos);Moneda;"
        ),
        "{text}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_removed_servers_tips_still_name_them() {
    let server = TestServer::start().await;
    let v = venue_with_menu(&server, "nomina@example.co").await;
    let ordered = post(
        &server,
        &format!("/api/v1/t/{}/orders", v.token),
        None,
        json!({"items": [{"item_id": v.item, "quantity": 1}]}),
    )
    .await;
    assert_eq!(ordered.status, 201, "{}", ordered.body);
    let waiter = invite_and_join(&server, &v.owner, "mesero@example.co", "server", PASSWORD).await;
    let token = crate::identity::login(&server, "mesero@example.co", PASSWORD)
        .await
        .body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let sessions = call(
        &server,
        "GET",
        &format!("/api/v1/venues/{}/table-sessions", v.venue),
        Some(&token),
        None,
    )
    .await;
    let session = sessions.body["items"][0]["id"].as_str().unwrap().to_owned();
    let accepted = post(
        &server,
        &format!("/api/v1/table-sessions/{session}/accept"),
        Some(&token),
        json!({}),
    )
    .await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    let cash = format!("/api/v1/venues/{}/tables/{}/cash", v.venue, v.table);
    let tipped = post(
        &server,
        &cash,
        Some(&token),
        json!({"amount": 1_890_000, "tip": 189_000}),
    )
    .await;
    assert_eq!(tipped.status, 201, "{}", tipped.body);
    // Another server does not void it: only the one who took the cash, or a manager or the owner.
    invite_and_join(&server, &v.owner, "otra@example.co", "server", PASSWORD).await;
    let other = crate::identity::login(&server, "otra@example.co", PASSWORD)
        .await
        .body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let record = tipped.body["cash"]["id"].as_str().unwrap();
    let voided = call(&server, "DELETE", &format!("{cash}/{record}"), Some(&other), None).await;
    assert_eq!(voided.status, 403, "{}", voided.body);
    let removed = call(
        &server,
        "DELETE",
        &format!("/api/v1/staff/{waiter}"),
        Some(&v.owner),
        None,
    )
    .await;
    assert!(removed.status == 200 || removed.status == 204, "{}", removed.body);
    let month = server.business_month();
    let tips = call(
        &server,
        "GET",
        &format!("/api/v1/tips?month={month}"),
        Some(&v.owner),
        None,
    )
    .await;
    assert_eq!(
        tips.body["entries"][0]["member_id"],
        json!(waiter),
        "{}",
        tips.body
    );
    assert_eq!(tips.body["entries"][0]["member_name"], "Luis", "{}", tips.body);
    assert_eq!(tips.body["member_names"][&waiter], "Luis", "{}", tips.body);
    let csv = call(
        &server,
        "GET",
        &format!("/api/v1/tips?month={month}&format=csv"),
        Some(&v.owner),
        None,
    )
    .await;
    assert!(
        csv.body.as_str().unwrap().contains(&format!("{waiter},Luis,")),
        "{}",
        csv.body
    );
    // A removed member can still have their data: the export gives what is kept (name, email, role, when they joined
    // and left), what they did and the mail addressed to them; a rectification has nothing to correct.
    let export = post(
        &server,
        "/api/v1/privacy/requests",
        Some(&v.owner),
        json!({"kind": "export", "subject": waiter}),
    )
    .await;
    assert_eq!(export.status, 200, "{}", export.body);
    assert_eq!(
        (
            export.body["subject"]["name"].as_str(),
            export.body["subject"]["email"].as_str()
        ),
        (Some("Luis"), Some("mesero@example.co")),
        "{}",
        export.body
    );
    assert!(export.body["removed_at"].is_string(), "{}", export.body);
    assert!(
        !export.body["mail"].as_array().unwrap().is_empty(),
        "their invitation: {}",
        export.body
    );
    let rectify = post(
        &server,
        "/api/v1/privacy/requests",
        Some(&v.owner),
        json!({"kind": "rectify", "subject": waiter, "name": "Luis P."}),
    )
    .await;
    assert_eq!(rectify.status, 422, "{}", rectify.body);
    // Their erasure, asked by id, takes the kept record and every mail file addressed to them.
    assert!(!crate::privacy::files_holding(&server, "mesero@example.co").is_empty());
    let erased = post(
        &server,
        "/api/v1/privacy/requests",
        Some(&v.owner),
        json!({"kind": "erase", "subject": waiter}),
    )
    .await;
    assert_eq!(erased.status, 200, "{}", erased.body);
    assert_eq!(erased.body["key_destroyed"], true, "{}", erased.body);
    assert_eq!(
        crate::privacy::files_holding(&server, "mesero@example.co"),
        Vec::<std::path::PathBuf>::new()
    );
    let tips = call(
        &server,
        "GET",
        &format!("/api/v1/tips?month={month}"),
        Some(&v.owner),
        None,
    )
    .await;
    assert_eq!(tips.body["entries"][0]["member_name"], "", "{}", tips.body);
    // By rank, as for a member: a manager does not erase a former manager's kept name; the owner does.
    let former = invite_and_join(&server, &v.owner, "gerente1@example.co", "manager", PASSWORD).await;
    invite_and_join(&server, &v.owner, "gerente2@example.co", "manager", PASSWORD).await;
    let manager = crate::identity::enrolled(&server, "gerente2@example.co", PASSWORD)
        .await
        .access;
    let removed = call(
        &server,
        "DELETE",
        &format!("/api/v1/staff/{former}"),
        Some(&v.owner),
        None,
    )
    .await;
    assert!(removed.status == 200 || removed.status == 204, "{}", removed.body);
    let outranked = post(
        &server,
        "/api/v1/privacy/requests",
        Some(&manager),
        json!({"kind": "erase", "subject": former}),
    )
    .await;
    assert_eq!(outranked.status, 403, "{}", outranked.body);
    let by_owner = post(
        &server,
        "/api/v1/privacy/requests",
        Some(&v.owner),
        json!({"kind": "erase", "subject": former}),
    )
    .await;
    assert_eq!(by_owner.status, 200, "{}", by_owner.body);
    server.stop().await;
}
