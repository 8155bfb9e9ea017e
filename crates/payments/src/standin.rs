//! A local stand-in for Stripe, for the test suites and the embedded default's demo mode. It speaks Stripe's
//! published wire format for the calls comanda makes (form-encoded requests, JSON objects with Stripe's field names,
//! `{"error": {...}}` bodies, idempotency keys, cursor lists), confirms Stripe's test payment methods
//! (`pm_card_visa` succeeds, `pm_card_chargeDeclined` declines, `pm_card_createDispute` succeeds and is then
//! disputed, `pm_card_threeDSecure2Required` waits in `requires_action` for the card holder's 3-D Secure answer;
//! refunds of `pm_card_pendingRefund` wait `pending` and those of `pm_card_refundFail` fail after succeeding, when
//! `/_standin/refunds/settle` stands for the card's bank answering),
//! and delivers webhook events signed exactly as Stripe signs them. It also serves a Stripe.js/Elements
//! stand-in at `/v3` so the browser flow runs without the internet.
//!
//! It keeps a ledger of who holds what (platform, connected accounts, guests' cards) so tests can prove that money
//! ends up where it should. Like a real platform account it settles in its own currency (USD by default): a charge
//! in another currency gets a balance transaction converted at the configured rate, and a transfer that names a
//! `source_transaction` must be in that balance transaction's currency and no larger than what is left of it, or it
//! is refused as Stripe refuses it. Connected accounts hold what they receive in the settlement currency and are
//! paid out in their own (`/_standin/payouts`). Stripe's processing fees are not modelled (`fee` is 0).
//!
//! Like Stripe, it refuses a parameter the pinned version's operation does not have (`parameter_unknown`, from
//! `stripe-contract.json`), and delivers events of connected accounts (those carrying `account`) only to the
//! Connect endpoint and the platform's own only to the platform endpoint, each signed with its endpoint's secret and
//! rendered at its endpoint's API version.
//!
//! Endpoints under `/_standin/` are not Stripe's: they stand for things that happen at Stripe on their own (a payout
//! reaching a bank), for the card holder's bank (a 3-D Secure challenge answered) and for reading the ledger.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rand::Rng;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use comanda_domain::Clock;

use crate::stripe::API_VERSION;

/// One webhook endpoint: where its events go, the secret they are signed with and the version they are rendered at.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub url: Option<String>,
    pub secret: String,
    pub api_version: String,
    /// The event types it receives (`enabled_events`; `*` is every type). Empty: every type, as the endpoints demo
    /// mode points at itself.
    pub enabled_events: Vec<String>,
}

impl Endpoint {
    /// Does Stripe send it events of `kind`?
    fn receives(&self, kind: &str) -> bool {
        self.enabled_events.is_empty() || self.enabled_events.iter().any(|e| e == "*" || e == kind)
    }
}

/// How the stand-in is set up.
#[derive(Debug, Clone)]
pub struct StandInConfig {
    pub secret_key: String,
    pub publishable_key: String,
    /// The platform's endpoint: events of the platform account (`payment_intent.*`, `charge.*`).
    pub platform_endpoint: Endpoint,
    /// The Connect endpoint: events of connected accounts (`account.updated`, `payout.*`, carrying `account`).
    pub connect_endpoint: Endpoint,
    /// PEM certificates to trust when delivering (the server's self-signed certificate in tests and demo mode).
    pub webhook_roots_pem: Vec<u8>,
    /// The platform account's settlement currency (lowercase ISO code).
    pub settlement_currency: String,
    /// Settlement minor units per minor unit of any other currency, as `numerator / denominator` (1/4000: 4.000 COP
    /// to the dollar).
    pub exchange_rate: (i64, i64),
}

impl StandInConfig {
    /// Fresh random keys in Stripe's formats, settling in USD at 4.000 COP to the dollar.
    pub fn generate() -> Self {
        let endpoint = || Endpoint {
            url: None,
            secret: format!("whsec_{}", token(32)),
            api_version: API_VERSION.to_owned(),
            enabled_events: Vec::new(),
        };
        Self {
            secret_key: format!("sk_test_{}", token(24)),
            publishable_key: format!("pk_test_{}", token(24)),
            platform_endpoint: endpoint(),
            connect_endpoint: endpoint(),
            webhook_roots_pem: Vec::new(),
            settlement_currency: "usd".to_owned(),
            exchange_rate: (1, 4000),
        }
    }
}

/// Where a US platform's connected accounts may be under the full service agreement and still receive transfers
/// (docs.stripe.com/connect/cross-border-payouts: the US, the UK, the EEA, Canada and Switzerland).
const SAME_REGION: [&str; 35] = [
    "US", "GB", "CA", "CH", "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU",
    "IE", "IT", "LV", "LI", "LT", "LU", "MT", "NL", "NO", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS",
    "GI",
];

fn token(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", token(24))
}

#[derive(Default)]
struct Ledger {
    /// The stand-in's clock at the start of the current request (unix seconds).
    now: i64,
    accounts: HashMap<String, Value>,
    intents: HashMap<String, Value>,
    /// Creation order, for lists (newest first, as Stripe lists).
    intent_order: Vec<String>,
    charges: HashMap<String, Value>,
    balance_transactions: HashMap<String, Value>,
    /// Charge → what its refunds took from the balance, and what transfers sent from it (settlement currency).
    settled_refunded: HashMap<String, i64>,
    transferred_from: HashMap<String, i64>,
    transfers: HashMap<String, Value>,
    transfer_order: Vec<String>,
    refunds: Vec<Value>,
    /// Refund → what it took from the platform's balance (currency, amount), given back if it fails.
    refund_taken: HashMap<String, (String, i64)>,
    webhook_endpoints: Vec<Value>,
    settlement_currency: String,
    exchange_rate: (i64, i64),
    payouts: HashMap<String, Vec<Value>>,
    events: HashMap<String, Value>,
    event_order: Vec<String>,
    /// `(holder, currency)` → available amount; holder is `platform` or a connected account id.
    balances: HashMap<(String, String), i64>,
    /// PaymentIntent → what its guest's card is out of pocket (charged minus refunded).
    cards: HashMap<String, i64>,
    /// `idempotency key` → (request fingerprint, status, body, when it was first used: Unix seconds).
    idempotency: HashMap<String, (String, u16, Value, i64)>,
}

impl Ledger {
    fn credit(&mut self, holder: &str, currency: &str, amount: i64) {
        *self
            .balances
            .entry((holder.to_owned(), currency.to_owned()))
            .or_default() += amount;
    }

    fn available(&self, holder: &str, currency: &str) -> i64 {
        self.balances
            .get(&(holder.to_owned(), currency.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// `amount` of `currency` in the settlement currency, rounded half up.
    fn settle(&self, currency: &str, amount: i64) -> i64 {
        if currency == self.settlement_currency {
            return amount;
        }
        let (numerator, denominator) = self.exchange_rate;
        let scaled = i128::from(amount) * i128::from(numerator) * 2 + i128::from(denominator);
        i64::try_from(scaled / (2 * i128::from(denominator.max(1)))).unwrap_or(0)
    }

    /// The balance transaction of a charge settling into the platform's balance.
    fn balance_transaction(&mut self, source: &str, kind: &str, currency: &str, amount: i64) -> Value {
        let settled = self.settle(currency, amount);
        let (numerator, denominator) = self.exchange_rate;
        let transaction = json!({
            "id": new_id("txn"),
            "object": "balance_transaction",
            "amount": settled,
            "available_on": self.now + 2 * 86_400,
            "created": self.now,
            "currency": self.settlement_currency,
            "description": null,
            "exchange_rate": if currency == self.settlement_currency { Value::Null }
                             else { json!(numerator as f64 / denominator as f64) },
            "fee": 0,
            "fee_details": [],
            "net": settled,
            "reporting_category": kind,
            "source": source,
            "status": "pending",
            "type": kind,
        });
        self.balance_transactions.insert(
            transaction["id"].as_str().unwrap_or_default().to_owned(),
            transaction.clone(),
        );
        transaction
    }

    fn event(&mut self, kind: &str, object: Value, account: Option<&str>) -> Value {
        let now = self.now;
        let mut event = json!({
            "id": new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": now,
            "data": {"object": object},
            "livemode": false,
            "pending_webhooks": 1,
            "request": {"id": null, "idempotency_key": null},
            "type": kind,
        });
        if let Some(account) = account {
            event["account"] = json!(account);
        }
        let id = event["id"].as_str().unwrap_or_default().to_owned();
        self.events.insert(id.clone(), event.clone());
        self.event_order.push(id);
        event
    }
}

struct Inner {
    config: std::sync::RwLock<StandInConfig>,
    base: String,
    ledger: Mutex<Ledger>,
    clock: Arc<dyn Clock>,
    http: std::sync::RwLock<Option<reqwest::Client>>,
    /// Paths whose next successful answer is garbled after the operation is done (a lost or unreadable answer).
    garble: std::sync::Mutex<Vec<String>>,
    /// Paths whose next request is answered `500 api_error` without being carried out.
    server_error: std::sync::Mutex<Vec<String>>,
}

/// A running stand-in.
#[derive(Clone)]
pub struct StandIn {
    inner: Arc<Inner>,
    pub addr: SocketAddr,
}

impl std::fmt::Debug for StandIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StandIn")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

type Reply = (StatusCode, Value);

fn error(status: StatusCode, kind: &str, code: &str, message: &str) -> Reply {
    (
        status,
        json!({"error": {"type": kind, "code": code, "message": message}}),
    )
}

fn invalid(message: &str, param: &str) -> Reply {
    let mut reply = error(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        "parameter_invalid",
        message,
    );
    reply.1["error"]["param"] = json!(param);
    reply
}

fn missing(id: &str) -> Reply {
    error(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        "resource_missing",
        &format!("No such object: '{id}'"),
    )
}

fn form(body: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

fn metadata(params: &HashMap<String, String>) -> Value {
    let mut map = serde_json::Map::new();
    for (key, value) in params {
        if let Some(name) = key.strip_prefix("metadata[").and_then(|k| k.strip_suffix(']')) {
            map.insert(name.to_owned(), json!(value));
        }
    }
    Value::Object(map)
}

fn amount(params: &HashMap<String, String>, name: &str) -> Result<Option<i64>, Reply> {
    match params.get(name) {
        None => Ok(None),
        Some(text) => match text.parse::<i64>() {
            Ok(n) if n >= 0 => Ok(Some(n)),
            _ => Err(invalid(&format!("Invalid integer: {text}"), name)),
        },
    }
}

/// Refuses, as Stripe does, a request to an operation comanda's contract lacks or with a parameter the pinned
/// version's operation does not have.
async fn per_contract(
    matched: axum::extract::MatchedPath,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let route = matched.as_str().to_owned();
    let method = request.method().as_str().to_owned();
    // Stripe.js confirms from the browser; comanda's client never makes that call.
    if !route.starts_with("/v1/") || route.ends_with("/confirm") {
        return next.run(request).await;
    }
    let Some(params) = crate::contract::contract().operation(&method, &route) else {
        return reply(error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "",
            &format!("Unrecognized request URL ({method}: {route})."),
        ));
    };
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 1 << 20).await else {
        return reply(invalid("The request body could not be read.", ""));
    };
    let query = parts.uri.query().unwrap_or_default().as_bytes().to_vec();
    let keys: Vec<String> = form_urlencoded::parse(&query)
        .chain(form_urlencoded::parse(&body))
        .map(|(key, _)| key.into_owned())
        .collect();
    if let Some(unknown) =
        crate::contract::Contract::unknown_parameter(params, keys.iter().map(String::as_str))
    {
        let mut refused = error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "parameter_unknown",
            &format!("Received unknown parameter: {unknown}"),
        );
        refused.1["error"]["param"] = json!(unknown);
        return reply(refused);
    }
    next.run(axum::extract::Request::from_parts(
        parts,
        axum::body::Body::from(body),
    ))
    .await
}

impl StandIn {
    /// Starts the stand-in on a loopback port.
    pub async fn start(config: StandInConfig, clock: Arc<dyn Clock>) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let ledger = Ledger {
            settlement_currency: config.settlement_currency.clone(),
            exchange_rate: config.exchange_rate,
            ..Ledger::default()
        };
        let inner = Arc::new(Inner {
            config: std::sync::RwLock::new(config),
            base: format!("http://{addr}"),
            ledger: Mutex::new(ledger),
            clock,
            http: std::sync::RwLock::new(None),
            garble: std::sync::Mutex::new(Vec::new()),
            server_error: std::sync::Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/v1/accounts", post(create_account))
            .route("/v1/accounts/{id}", get(retrieve_account))
            .route("/v1/account_links", post(create_account_link))
            .route("/setup/{kind}/{account}", get(complete_setup))
            .route("/v1/payment_intents", post(create_intent).get(list_intents))
            .route("/v1/payment_intents/{id}", get(retrieve_intent))
            .route(
                "/v1/payment_intents/{id}/confirm",
                post(confirm_intent).options(preflight),
            )
            .route("/v1/payment_intents/{id}/cancel", post(cancel_intent))
            .route("/v1/charges/{id}", get(retrieve_charge))
            .route("/v1/transfers", post(create_transfer).get(list_transfers))
            .route("/v1/transfers/{id}", get(retrieve_transfer))
            .route("/v1/transfers/{id}/reversals", post(reverse_transfer))
            .route("/v1/refunds", post(create_refund).get(list_refunds))
            .route("/v1/refunds/{id}", get(retrieve_refund))
            .route("/v1/balance", get(balance))
            .route("/v1/payouts", get(list_payouts))
            .route("/v1/events/{id}", get(retrieve_event))
            .route(
                "/v1/webhook_endpoints",
                post(create_webhook_endpoint).get(list_webhook_endpoints),
            )
            .route("/v1/webhook_endpoints/{id}", post(update_webhook_endpoint))
            .route_layer(axum::middleware::from_fn(per_contract))
            .route("/v3", get(stripe_js))
            .route("/_standin/payouts", post(standin_payout))
            .route("/_standin/refunds/settle", post(standin_settle_refund))
            .route("/_standin/ledger", get(standin_ledger))
            .route("/_standin/events", get(standin_events))
            .route(
                "/_standin/three_d_secure/{id}",
                post(three_d_secure).options(preflight),
            )
            .with_state(inner.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { inner, addr })
    }

    /// Stripe's API base URL for this stand-in.
    pub fn api_base(&self) -> String {
        self.inner.base.clone()
    }

    /// Where the Stripe.js stand-in is served.
    pub fn js_url(&self) -> String {
        format!("{}/v3", self.inner.base)
    }

    pub fn config(&self) -> StandInConfig {
        self.inner
            .config
            .read()
            .map(|c| c.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    /// Points event delivery at comanda's two endpoints, trusting `roots_pem` for its TLS certificate.
    pub fn set_webhooks(&self, platform_url: &str, connect_url: &str, roots_pem: &[u8]) {
        if let Ok(mut config) = self.inner.config.write() {
            config.platform_endpoint.url = Some(platform_url.to_owned());
            config.connect_endpoint.url = Some(connect_url.to_owned());
            config.webhook_roots_pem = roots_pem.to_vec();
        }
        if let Ok(mut http) = self.inner.http.write() {
            *http = None;
        }
    }
}

impl StandIn {
    /// The next successful POST to `path` (`/v1/transfers`, `/v1/refunds`) is carried out, but its answer arrives
    /// unreadable, as when a connection drops after Stripe moved the money.
    pub fn garble_next_answer(&self, path: &str) {
        if let Ok(mut garble) = self.inner.garble.lock() {
            garble.push(path.to_owned());
        }
    }

    /// The next POST to `path` is answered `500 api_error` and not carried out. As at Stripe, whose result for a
    /// 500 is indeterminate (docs.stripe.com/error-low-level, "Server errors"), the answer is saved under its
    /// idempotency key: the same key gets the same 500 until the key expires, 24 hours later.
    pub fn server_error_next(&self, path: &str) {
        if let Ok(mut failing) = self.inner.server_error.lock() {
            failing.push(path.to_owned());
        }
    }

    /// Renders the events of both endpoints at `version` from now on, as an endpoint created at an older version
    /// (or whose version was changed in the Dashboard) would receive them.
    pub fn render_events_at(&self, version: &str) {
        if let Ok(mut config) = self.inner.config.write() {
            config.platform_endpoint.api_version = version.to_owned();
            config.connect_endpoint.api_version = version.to_owned();
        }
    }
}

fn authorized(inner: &Inner, headers: &HeaderMap) -> Result<(), Reply> {
    let expected = inner
        .config
        .read()
        .map(|c| c.secret_key.clone())
        .unwrap_or_default();
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if presented == Some(expected.as_str()) {
        Ok(())
    } else {
        Err(error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "api_key_invalid",
            "Invalid API Key provided",
        ))
    }
}

/// Answers a read-only request with the secret key: `read` sees the ledger at the stand-in's now.
async fn read(inner: &Inner, headers: &HeaderMap, read: impl FnOnce(&Ledger) -> Reply) -> Response {
    if let Err(refused) = authorized(inner, headers) {
        return reply(refused);
    }
    let mut ledger = inner.ledger.lock().await;
    ledger.now = inner.clock.now().unix_timestamp();
    reply(read(&ledger))
}

fn found(object: Option<&Value>, id: &str) -> Reply {
    match object {
        Some(object) => (StatusCode::OK, object.clone()),
        None => missing(id),
    }
}

fn reply((status, body): Reply) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert("request-id", HeaderValue::from_static("req_standin"));
    response
}

/// Runs `operation` under the ledger lock, once per `Idempotency-Key` (a retry gets the first answer; the same key
/// with other parameters is an `idempotency_error`, as at Stripe), then delivers the events it raised.
/// How long Stripe keeps an idempotency key: "at least 24 hours" (docs.stripe.com/api/idempotent_requests).
const IDEMPOTENCY_KEY_SECONDS: i64 = 24 * 60 * 60;

async fn idempotent(
    inner: Arc<Inner>,
    headers: &HeaderMap,
    path: &str,
    body: &[u8],
    operation: impl FnOnce(&mut Ledger, &str) -> Result<Value, Reply>,
) -> Response {
    if let Err(refused) = authorized(&inner, headers) {
        return reply(refused);
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let fingerprint = format!("{path}?{}", String::from_utf8_lossy(body));
    let (result, events) = {
        let mut ledger = inner.ledger.lock().await;
        ledger.now = inner.clock.now().unix_timestamp();
        // Stripe removes a key once it is at least 24 hours old (docs.stripe.com/api/idempotent_requests): a request
        // with it afterwards is a new request.
        let now = ledger.now;
        ledger
            .idempotency
            .retain(|_, (_, _, _, first)| now - *first < IDEMPOTENCY_KEY_SECONDS);
        if let Some(key) = &key
            && let Some((seen, status, body, _)) = ledger.idempotency.get(key)
        {
            if *seen != fingerprint {
                return reply(error(
                    StatusCode::BAD_REQUEST,
                    "idempotency_error",
                    "idempotency_key_in_use",
                    "Keys for idempotent requests can only be used with the same parameters they were first used with.",
                ));
            }
            return reply((
                StatusCode::from_u16(*status).unwrap_or(StatusCode::OK),
                body.clone(),
            ));
        }
        let before = ledger.event_order.len();
        let failing = inner.server_error.lock().is_ok_and(|mut failing| {
            let position = failing.iter().position(|p| p == path);
            position.map(|p| failing.remove(p)).is_some()
        });
        let result = if failing {
            Err(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "api_error",
                "",
                "An unknown error occurred",
            ))
        } else {
            operation(&mut ledger, &inner.base)
        };
        let (status, body) = match &result {
            Ok(body) => (StatusCode::OK, body.clone()),
            Err((status, body)) => (*status, body.clone()),
        };
        if let Some(key) = key {
            ledger
                .idempotency
                .insert(key, (fingerprint, status.as_u16(), body.clone(), now));
        }
        let events: Vec<Value> = ledger.event_order[before..]
            .iter()
            .filter_map(|id| ledger.events.get(id).cloned())
            .collect();
        ((status, body), events)
    };
    deliver(&inner, events);
    let garbled = result.0.is_success()
        && inner.garble.lock().is_ok_and(|mut garble| {
            let position = garble.iter().position(|p| p == path);
            position.map(|p| garble.remove(p)).is_some()
        });
    if garbled {
        return (StatusCode::OK, "{\"id\": 42, \"object\": ").into_response();
    }
    reply(result)
}

fn webhook_client(inner: &Inner) -> Option<reqwest::Client> {
    if let Ok(http) = inner.http.read()
        && let Some(client) = http.as_ref()
    {
        return Some(client.clone());
    }
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let pem = inner.config.read().ok()?.webhook_roots_pem.clone();
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem).flatten() {
        let _ = roots.add(cert);
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .ok()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .timeout(Duration::from_secs(10))
        .build()
        .ok()?;
    if let Ok(mut http) = inner.http.write() {
        *http = Some(client.clone());
    }
    Some(client)
}

/// Sends each event to the webhook endpoint, signed as Stripe signs, retrying a few times on failure (Stripe
/// retries for days; a few quick retries are enough here).
fn deliver(inner: &Arc<Inner>, events: Vec<Value>) {
    if events.is_empty() {
        return;
    }
    let Ok((platform, connect)) = inner
        .config
        .read()
        .map(|c| (c.platform_endpoint.clone(), c.connect_endpoint.clone()))
    else {
        return;
    };
    let Some(client) = webhook_client(inner) else {
        tracing::warn!("stripe stand-in: no webhook client");
        return;
    };
    for mut event in events {
        let endpoint = if event.get("account").is_some() {
            &connect
        } else {
            &platform
        };
        let Some(url) = endpoint.url.clone() else { continue };
        if !endpoint.receives(event["type"].as_str().unwrap_or_default()) {
            continue;
        }
        event["api_version"] = json!(endpoint.api_version);
        let client = client.clone();
        let secret = endpoint.secret.clone();
        let clock = inner.clock.clone();
        tokio::spawn(async move {
            let payload = event.to_string();
            for attempt in 0..6u32 {
                let signature = comanda_security::webhook::sign(
                    &secret,
                    clock.now().unix_timestamp(),
                    payload.as_bytes(),
                );
                let sent = client
                    .post(&url)
                    .header("Content-Type", "application/json; charset=utf-8")
                    .header("Stripe-Signature", signature)
                    .header("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
                    .body(payload.clone())
                    .send()
                    .await;
                if sent.as_ref().is_ok_and(|r| r.status().is_success()) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt))).await;
            }
            tracing::warn!(event = %event["id"], "stripe stand-in: webhook not delivered");
        });
    }
}

async fn create_account(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let params = form(&body);
    idempotent(inner, &headers, "/v1/accounts", &body, |ledger, _| {
        let country = params.get("country").cloned().unwrap_or_else(|| "US".into());
        let mut capabilities = serde_json::Map::new();
        for name in ["transfers", "card_payments"] {
            if params
                .get(&format!("capabilities[{name}][requested]"))
                .map(String::as_str)
                == Some("true")
            {
                capabilities.insert(name.into(), json!("inactive"));
            }
        }
        let agreement = params
            .get("tos_acceptance[service_agreement]")
            .cloned()
            .unwrap_or_else(|| "full".into());
        if agreement == "recipient" && capabilities.contains_key("card_payments") {
            return Err(invalid(
                "The recipient service agreement cannot request card_payments.",
                "capabilities",
            ));
        }
        let account = json!({
            "id": new_id("acct"),
            "object": "account",
            "type": params.get("type").cloned().unwrap_or_else(|| "express".into()),
            "country": country,
            "default_currency": if country == "CO" { "cop" } else { "usd" },
            "charges_enabled": false,
            "payouts_enabled": false,
            "details_submitted": false,
            "capabilities": capabilities,
            "tos_acceptance": {"service_agreement": agreement},
            "metadata": metadata(&params),
            "created": ledger.now,
        });
        ledger.accounts.insert(
            account["id"].as_str().unwrap_or_default().to_owned(),
            account.clone(),
        );
        Ok(account)
    })
    .await
}

async fn retrieve_account(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    read(&inner, &headers, |ledger| found(ledger.accounts.get(&id), &id)).await
}

async fn create_account_link(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let params = form(&body);
    idempotent(inner, &headers, "/v1/account_links", &body, |ledger, base| {
        let account = params.get("account").cloned().unwrap_or_default();
        if !ledger.accounts.contains_key(&account) {
            return Err(missing(&account));
        }
        let kind = params.get("type").cloned().unwrap_or_default();
        if kind != "account_onboarding" && kind != "account_update" {
            return Err(invalid("Invalid type", "type"));
        }
        let (Some(return_url), Some(_refresh)) = (params.get("return_url"), params.get("refresh_url")) else {
            return Err(invalid(
                "Missing required param: return_url and refresh_url.",
                "return_url",
            ));
        };
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("return_url", return_url)
            .finish();
        Ok(json!({
            "object": "account_link",
            "created": ledger.now,
            "expires_at": ledger.now + 300,
            "url": format!("{base}/setup/{kind}/{account}?{query}"),
        }))
    })
    .await
}

/// The hosted onboarding form, completed at once: the account's requested capabilities become active and
/// `account.updated` is sent, then the browser returns to the partner's dashboard.
async fn complete_setup(
    State(inner): State<Arc<Inner>>,
    Path((_kind, account)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let events = {
        let mut ledger = inner.ledger.lock().await;
        ledger.now = inner.clock.now().unix_timestamp();
        let Some(mut updated) = ledger.accounts.get(&account).cloned() else {
            return reply(missing(&account));
        };
        let mut card_payments = false;
        if let Some(caps) = updated["capabilities"].as_object_mut() {
            card_payments = caps.contains_key("card_payments");
            for value in caps.values_mut() {
                *value = json!("active");
            }
        }
        updated["details_submitted"] = json!(true);
        updated["payouts_enabled"] = json!(true);
        updated["charges_enabled"] = json!(card_payments);
        ledger.accounts.insert(account.clone(), updated.clone());
        vec![ledger.event("account.updated", updated, Some(&account))]
    };
    deliver(&inner, events);
    match query.get("return_url") {
        Some(url) => (StatusCode::SEE_OTHER, [(header::LOCATION, url.clone())]).into_response(),
        None => (StatusCode::OK, "account set up").into_response(),
    }
}

async fn create_intent(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let params = form(&body);
    idempotent(inner, &headers, "/v1/payment_intents", &body, |ledger, _| {
        let amount =
            amount(&params, "amount")?.ok_or_else(|| invalid("Missing required param: amount.", "amount"))?;
        if amount < 1 {
            return Err(invalid("Amount must be at least 1", "amount"));
        }
        let currency = params
            .get("currency")
            .cloned()
            .ok_or_else(|| invalid("Missing required param: currency.", "currency"))?;
        let id = new_id("pi");
        let destination = params.get("transfer_data[destination]").cloned();
        if let Some(account) = &destination
            && !ledger.accounts.contains_key(account)
        {
            return Err(missing(account));
        }
        // Stripe settles a card destination charge in the destination's country: `on_behalf_of`, when given,
        // must name that same account (Stripe's error on a mismatch, docs "Connect: charges and transfers").
        if let (Some(destination), Some(behalf)) = (&destination, params.get("on_behalf_of"))
            && destination != behalf
        {
            return Err(invalid(
                "You cannot specify an on_behalf_of value that is different from the transfer_data[destination] \
                 value when using card or card_present in payment_method_types.",
                "on_behalf_of",
            ));
        }
        let intent = json!({
            "id": id,
            "object": "payment_intent",
            "amount": amount,
            "amount_received": 0,
            "currency": currency,
            "status": "requires_payment_method",
            "client_secret": format!("{id}_secret_{}", token(24)),
            "automatic_payment_methods": {"enabled": true},
            "description": params.get("description"),
            "metadata": metadata(&params),
            "transfer_group": params.get("transfer_group"),
            "application_fee_amount": amount_or_null(&params, "application_fee_amount"),
            "on_behalf_of": params.get("on_behalf_of"),
            "transfer_data": destination.map(|d| json!({"destination": d})),
            "latest_charge": null,
            "last_payment_error": null,
            "livemode": false,
            "created": ledger.now,
        });
        ledger.intents.insert(id.clone(), intent.clone());
        ledger.intent_order.push(id);
        Ok(intent)
    })
    .await
}

fn amount_or_null(params: &HashMap<String, String>, name: &str) -> Value {
    params
        .get(name)
        .and_then(|v| v.parse::<i64>().ok())
        .map_or(Value::Null, |n| json!(n))
}

async fn retrieve_intent(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    read(&inner, &headers, |ledger| found(ledger.intents.get(&id), &id)).await
}

async fn list_intents(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let limit = query
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(10)
        .clamp(1, 100);
    let since = query
        .get("created[gte]")
        .and_then(|c| c.parse::<i64>().ok())
        .unwrap_or(0);
    read(&inner, &headers, |ledger| {
        let newest_first: Vec<&Value> = ledger
            .intent_order
            .iter()
            .rev()
            .filter_map(|id| ledger.intents.get(id))
            .filter(|i| i["created"].as_i64().unwrap_or(0) >= since)
            .collect();
        let start = match query.get("starting_after") {
            Some(after) => newest_first
                .iter()
                .position(|i| i["id"].as_str() == Some(after))
                .map_or(newest_first.len(), |p| p + 1),
            None => 0,
        };
        let page: Vec<Value> = newest_first
            .iter()
            .skip(start)
            .take(limit)
            .map(|v| (*v).clone())
            .collect();
        let has_more = start + page.len() < newest_first.len();
        (
            StatusCode::OK,
            json!({"object": "list", "url": "/v1/payment_intents", "has_more": has_more, "data": page}),
        )
    })
    .await
}

fn cors(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    headers.insert(
        "access-control-allow-headers",
        HeaderValue::from_static("content-type, authorization"),
    );
    headers.insert(
        "access-control-allow-methods",
        HeaderValue::from_static("POST, OPTIONS"),
    );
    response
}

async fn preflight() -> Response {
    cors(StatusCode::NO_CONTENT.into_response())
}

/// Confirms with a test payment method, from the server (secret key) or from the browser (publishable key and the
/// intent's client secret, as Stripe.js does).
async fn confirm_intent(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let path = format!("/v1/payment_intents/{id}/confirm");
    browser_call(inner, headers, &id, &body, &path, |ledger, params| {
        confirm(ledger, &id, params.get("payment_method").map(String::as_str))
    })
    .await
}

/// A call on PaymentIntent `id` that Stripe.js makes from the browser (or the account makes with its secret key):
/// let through as [`from_browser`] decides, run once per idempotency key, answered with CORS headers.
async fn browser_call(
    inner: Arc<Inner>,
    mut headers: HeaderMap,
    id: &str,
    body: &[u8],
    path: &str,
    operation: impl FnOnce(&mut Ledger, &HashMap<String, String>) -> Result<Value, Reply>,
) -> Response {
    let params = form(body);
    if let Err(refused) = from_browser(&inner, &mut headers, id, &params).await {
        return cors(refused);
    }
    cors(
        idempotent(inner, &headers, path, body, |ledger, _| {
            operation(ledger, &params)
        })
        .await,
    )
}

/// A call from Stripe.js in the guest's browser (the publishable key and the intent's client secret) is let through
/// as the account's own; a wrong client secret is refused as Stripe refuses it. Calls with the secret key pass as
/// they are.
async fn from_browser(
    inner: &Inner,
    headers: &mut HeaderMap,
    id: &str,
    params: &HashMap<String, String>,
) -> Result<(), Response> {
    let config = inner.config.read().map(|c| c.clone()).ok();
    let browser = config
        .as_ref()
        .is_some_and(|c| params.get("key") == Some(&c.publishable_key));
    if !browser {
        return Ok(());
    }
    let intent_secret = {
        let mut ledger = inner.ledger.lock().await;
        ledger.now = inner.clock.now().unix_timestamp();
        ledger
            .intents
            .get(id)
            .and_then(|i| i["client_secret"].as_str().map(str::to_owned))
    };
    if intent_secret.is_none() || params.get("client_secret") != intent_secret.as_ref() {
        return Err(reply(invalid("Invalid client_secret", "client_secret")));
    }
    if let Some(config) = &config
        && let Ok(value) = HeaderValue::from_str(&format!("Bearer {}", config.secret_key))
    {
        headers.insert(header::AUTHORIZATION, value);
    }
    Ok(())
}

/// The card holder's answer to their bank's 3-D Secure challenge (`outcome=complete` or `fail`), as Stripe's test
/// challenge page gives it: a completed authentication charges the card; a failed one leaves the PaymentIntent
/// `requires_payment_method` with `payment_intent_authentication_failure` (another card may be tried), as at Stripe
/// (https://docs.stripe.com/testing#regulatory-cards). Not Stripe's API: it stands for the bank's page.
async fn three_d_secure(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let path = format!("/_standin/three_d_secure/{id}");
    browser_call(inner, headers, &id, &body, &path, |ledger, params| {
        let Some(mut intent) = ledger.intents.get(&id).cloned() else {
            return Err(missing(&id));
        };
        if intent["status"] != "requires_action" {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "payment_intent_unexpected_state",
                "This PaymentIntent does not require authentication.",
            ));
        }
        intent["next_action"] = Value::Null;
        match params.get("outcome").map(String::as_str) {
            Some("complete") => Ok(charge(ledger, &id, intent)),
            Some("fail") => {
                intent["status"] = json!("requires_payment_method");
                intent["last_payment_error"] = json!({
                    "type": "invalid_request_error",
                    "code": "payment_intent_authentication_failure",
                    "message": "We are unable to authenticate your payment method. Please choose a different \
                                payment method and try again.",
                    "payment_method": {"id": intent["payment_method"]},
                });
                intent["payment_method"] = Value::Null;
                ledger.intents.insert(id.clone(), intent.clone());
                ledger.event("payment_intent.payment_failed", intent.clone(), None);
                Ok(intent)
            }
            _ => Err(invalid("outcome must be complete or fail", "outcome")),
        }
    })
    .await
}

fn confirm(ledger: &mut Ledger, id: &str, payment_method: Option<&str>) -> Result<Value, Reply> {
    let Some(mut intent) = ledger.intents.get(id).cloned() else {
        return Err(missing(id));
    };
    let status = intent["status"].as_str().unwrap_or_default().to_owned();
    if status != "requires_payment_method" && status != "requires_confirmation" {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "payment_intent_unexpected_state",
            &format!("This PaymentIntent's status is {status}; it cannot be confirmed."),
        ));
    }
    let method = payment_method.unwrap_or_default();
    intent["payment_method"] = json!(method);
    match method {
        // Refunds of `pm_card_pendingRefund` stay `pending` until the bank answers, and those of
        // `pm_card_refundFail` succeed and later fail (docs.stripe.com/testing, "Refunds"): `/_standin/refunds/settle`
        // stands for that answer.
        "pm_card_visa"
        | "pm_card_mastercard"
        | "pm_card_createDispute"
        | "pm_card_pendingRefund"
        | "pm_card_refundFail" => Ok(charge(ledger, id, intent)),
        // The bank asks the card holder to authenticate (3-D Secure 2): Stripe.js shows its challenge, and the
        // answer (`/_standin/three_d_secure/{id}`) charges the card or fails the attempt.
        "pm_card_threeDSecure2Required" => {
            intent["status"] = json!("requires_action");
            intent["next_action"] = json!({
                "type": "use_stripe_sdk",
                "use_stripe_sdk": {"type": "three_d_secure_redirect", "stripe_js": format!("/_standin/three_d_secure/{id}")},
            });
            ledger.intents.insert(id.to_owned(), intent.clone());
            ledger.event("payment_intent.requires_action", intent.clone(), None);
            Ok(intent)
        }
        "pm_card_chargeDeclined" => {
            let failure = json!({
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "generic_decline",
                "message": "Your card was declined.",
            });
            intent["status"] = json!("requires_payment_method");
            intent["last_payment_error"] = failure.clone();
            ledger.intents.insert(id.to_owned(), intent.clone());
            ledger.event("payment_intent.payment_failed", intent, None);
            let mut body = json!({"error": failure});
            body["error"]["payment_intent"] = ledger.intents.get(id).cloned().unwrap_or(Value::Null);
            Err((StatusCode::PAYMENT_REQUIRED, body))
        }
        other => Err(invalid(
            &format!("No such PaymentMethod: '{other}'"),
            "payment_method",
        )),
    }
}

/// Charges the card a PaymentIntent was confirmed with: the charge, the money where the charge model puts it, and
/// `charge.succeeded` then `payment_intent.succeeded` (a dispute follows for `pm_card_createDispute`).
fn charge(ledger: &mut Ledger, id: &str, mut intent: Value) -> Value {
    let amount = intent["amount"].as_i64().unwrap_or(0);
    let currency = intent["currency"].as_str().unwrap_or_default().to_owned();
    let method = intent["payment_method"].as_str().unwrap_or_default().to_owned();
    let t = ledger.now;
    let charge_id = new_id("ch");
    let destination = intent["transfer_data"]["destination"].as_str().map(str::to_owned);
    // A destination charge settles on the connected account; the platform's own settles into its balance.
    let settled = match &destination {
        Some(_) => Value::Null,
        None => ledger.balance_transaction(&charge_id, "charge", &currency, amount),
    };
    let charge = json!({
        "id": charge_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": 0,
        "balance_transaction": settled["id"],
        "currency": currency,
        "paid": true,
        "refunded": false,
        "status": "succeeded",
        "payment_intent": id,
        "payment_method": method,
        "transfer_group": intent["transfer_group"],
        "metadata": intent["metadata"],
        "created": t,
    });
    ledger.charges.insert(charge_id.clone(), charge.clone());
    intent["status"] = json!("succeeded");
    intent["amount_received"] = json!(amount);
    intent["latest_charge"] = json!(charge_id);
    *ledger.cards.entry(id.to_owned()).or_default() += amount;
    match destination {
        Some(account) => {
            // A destination charge: the whole amount moves to the account, the application fee back.
            let fee = intent["application_fee_amount"].as_i64().unwrap_or(0);
            ledger.credit(&account, &currency, amount - fee);
            ledger.credit("platform", &currency, fee);
        }
        None => {
            let settlement = ledger.settlement_currency.clone();
            ledger.credit("platform", &settlement, settled["amount"].as_i64().unwrap_or(0));
        }
    }
    ledger.intents.insert(id.to_owned(), intent.clone());
    ledger.event("charge.succeeded", charge.clone(), None);
    ledger.event("payment_intent.succeeded", intent.clone(), None);
    if method == "pm_card_createDispute" {
        let dispute = json!({
            "id": new_id("dp"),
            "object": "dispute",
            "amount": amount,
            "currency": currency,
            "charge": charge_id,
            "payment_intent": id,
            "reason": "fraudulent",
            "status": "needs_response",
            "evidence_details": {"due_by": t + 7 * 86_400, "has_evidence": false, "past_due": false,
                                 "submission_count": 0},
            "created": t,
        });
        let (settlement, taken) = match intent["transfer_data"]["destination"].as_str() {
            Some(_) => (currency.clone(), amount),
            None => (
                ledger.settlement_currency.clone(),
                ledger.settle(&currency, amount),
            ),
        };
        ledger.credit("platform", &settlement, -taken);
        ledger.event("charge.dispute.created", dispute, None);
    }
    intent
}

async fn cancel_intent(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let path = format!("/v1/payment_intents/{id}/cancel");
    idempotent(inner, &headers, &path, &body, |ledger, _| {
        let Some(mut intent) = ledger.intents.get(&id).cloned() else {
            return Err(missing(&id));
        };
        if intent["status"] == "succeeded" || intent["status"] == "canceled" {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "payment_intent_unexpected_state",
                "This PaymentIntent cannot be canceled.",
            ));
        }
        intent["status"] = json!("canceled");
        intent["cancellation_reason"] = json!("abandoned");
        ledger.intents.insert(id.clone(), intent.clone());
        ledger.event("payment_intent.canceled", intent.clone(), None);
        Ok(intent)
    })
    .await
}

async fn create_transfer(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let params = form(&body);
    idempotent(inner, &headers, "/v1/transfers", &body, |ledger, _| {
        let amount = amount(&params, "amount")?.ok_or_else(|| invalid("Missing required param: amount.", "amount"))?;
        let currency = params.get("currency").cloned().unwrap_or_default();
        let destination = params.get("destination").cloned().unwrap_or_default();
        let Some(account) = ledger.accounts.get(&destination) else {
            return Err(missing(&destination));
        };
        // Cross-border transfers from a US platform reach accounts outside its region only under the recipient
        // service agreement (docs.stripe.com/connect/service-agreement-types; the API's own error text).
        let country = account["country"].as_str().unwrap_or("US").to_owned();
        if !SAME_REGION.contains(&country.as_str()) && account["tos_acceptance"]["service_agreement"] == "full" {
            return Err(invalid(
                &format!(
                    "Funds can't be sent to accounts located in {country} when the account is under the `full` \
                     service agreement."
                ),
                "destination",
            ));
        }
        if account["capabilities"]["transfers"] != "active" {
            return Err(invalid(
                "Your destination account needs to have at least one of the following capabilities enabled: transfers",
                "destination",
            ));
        }
        if let Some(source) = params.get("source_transaction") {
            let Some(charge) = ledger.charges.get(source) else {
                return Err(missing(source));
            };
            let settled = charge["balance_transaction"]
                .as_str()
                .and_then(|id| ledger.balance_transactions.get(id))
                .cloned()
                .unwrap_or(Value::Null);
            let settled_currency = settled["currency"].as_str().unwrap_or_default();
            if settled_currency != currency {
                // Stripe's answer (docs.stripe.com/connect/separate-charges-and-transfers#transfer-availability).
                return Err(invalid(
                    &format!(
                        "The currency of source_transaction's balance transaction ({settled_currency}) must be the \
                         same as the transfer currency ({currency})"
                    ),
                    "currency",
                ));
            }
            let left = settled["amount"].as_i64().unwrap_or(0)
                - ledger.transferred_from.get(source).copied().unwrap_or(0);
            if amount > left {
                return Err(invalid(
                    &format!(
                        "Insufficient funds in source transaction {source}: the transfer amount ({amount}) exceeds \
                         what is left of it ({left})."
                    ),
                    "amount",
                ));
            }
            *ledger.transferred_from.entry(source.clone()).or_default() += amount;
        }
        if ledger.available("platform", &currency) < amount {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "balance_insufficient",
                "You have insufficient available funds in your Stripe account.",
            ));
        }
        let transfer = json!({
            "id": new_id("tr"),
            "object": "transfer",
            "amount": amount,
            "amount_reversed": 0,
            "currency": currency,
            "destination": destination,
            "source_transaction": params.get("source_transaction"),
            "transfer_group": params.get("transfer_group"),
            "reversed": false,
            "metadata": metadata(&params),
            "created": ledger.now,
        });
        ledger.credit("platform", &currency, -amount);
        ledger.credit(&destination, &currency, amount);
        let id = transfer["id"].as_str().unwrap_or_default().to_owned();
        ledger.transfers.insert(id.clone(), transfer.clone());
        ledger.transfer_order.push(id);
        ledger.event("transfer.created", transfer.clone(), None);
        Ok(transfer)
    })
    .await
}

async fn reverse_transfer(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let params = form(&body);
    let path = format!("/v1/transfers/{id}/reversals");
    idempotent(inner, &headers, &path, &body, |ledger, _| {
        let Some(mut transfer) = ledger.transfers.get(&id).cloned() else {
            return Err(missing(&id));
        };
        let total = transfer["amount"].as_i64().unwrap_or(0);
        let reversed = transfer["amount_reversed"].as_i64().unwrap_or(0);
        let amount = amount(&params, "amount")?.unwrap_or(total - reversed);
        if amount > total - reversed {
            return Err(invalid(
                "Reversal amount exceeds the transfer's unreversed amount.",
                "amount",
            ));
        }
        let currency = transfer["currency"].as_str().unwrap_or_default().to_owned();
        let destination = transfer["destination"].as_str().unwrap_or_default().to_owned();
        transfer["amount_reversed"] = json!(reversed + amount);
        transfer["reversed"] = json!(reversed + amount == total);
        ledger.transfers.insert(id.clone(), transfer);
        ledger.credit(&destination, &currency, -amount);
        ledger.credit("platform", &currency, amount);
        Ok(json!({
            "id": new_id("trr"),
            "object": "transfer_reversal",
            "amount": amount,
            "currency": currency,
            "transfer": id,
            "created": ledger.now,
        }))
    })
    .await
}

async fn create_refund(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let params = form(&body);
    idempotent(inner, &headers, "/v1/refunds", &body, |ledger, _| {
        let intent_id = params
            .get("payment_intent")
            .cloned()
            .ok_or_else(|| invalid("Missing required param: payment_intent.", "payment_intent"))?;
        let Some(intent) = ledger.intents.get(&intent_id).cloned() else {
            return Err(missing(&intent_id));
        };
        let Some(charge_id) = intent["latest_charge"].as_str().map(str::to_owned) else {
            return Err(invalid(
                "This PaymentIntent has no successful charge to refund.",
                "payment_intent",
            ));
        };
        let Some(mut charge) = ledger.charges.get(&charge_id).cloned() else {
            return Err(missing(&charge_id));
        };
        let charged = charge["amount"].as_i64().unwrap_or(0);
        let refunded = charge["amount_refunded"].as_i64().unwrap_or(0);
        let amount = amount(&params, "amount")?.unwrap_or(charged - refunded);
        if amount == 0 || amount > charged - refunded {
            return Err(invalid(
                &format!(
                    "Refund amount ({amount}) is greater than unrefunded amount on charge ({}).",
                    charged - refunded
                ),
                "amount",
            ));
        }
        let currency = charge["currency"].as_str().unwrap_or_default().to_owned();
        let taken = match charge["balance_transaction"]
            .as_str()
            .and_then(|id| ledger.balance_transactions.get(id))
        {
            Some(settled) => {
                // What the refund takes from the balance, converted; the refund that empties the charge takes
                // exactly what is left of its balance transaction.
                let gross = settled["amount"].as_i64().unwrap_or(0);
                let settlement = settled["currency"].as_str().unwrap_or_default().to_owned();
                let before = ledger.settled_refunded.get(&charge_id).copied().unwrap_or(0);
                let taken = if amount == charged - refunded {
                    gross - before
                } else {
                    ledger.settle(&currency, amount)
                };
                *ledger.settled_refunded.entry(charge_id.clone()).or_default() += taken;
                ledger.credit("platform", &settlement, -taken);
                (settlement, taken)
            }
            None => {
                ledger.credit("platform", &currency, -amount);
                (currency.clone(), amount)
            }
        };
        if let Some(account) = intent["transfer_data"]["destination"].as_str() {
            // Destination charge: reverse the transfer and give back the application fee in proportion.
            let fee = intent["application_fee_amount"].as_i64().unwrap_or(0);
            if params.get("reverse_transfer").map(String::as_str) == Some("true") {
                ledger.credit(account, &currency, -amount);
                ledger.credit("platform", &currency, amount);
            }
            if params.get("refund_application_fee").map(String::as_str) == Some("true") {
                let fee_part = (i128::from(fee) * i128::from(amount) * 2 + i128::from(charged))
                    / (2 * i128::from(charged.max(1)));
                let fee_part = i64::try_from(fee_part).unwrap_or(0);
                ledger.credit("platform", &currency, -fee_part);
                ledger.credit(account, &currency, fee_part);
            }
        }
        let pending = intent["payment_method"] == "pm_card_pendingRefund";
        if !pending {
            *ledger.cards.entry(intent_id.clone()).or_default() -= amount;
        }
        charge["amount_refunded"] = json!(refunded + amount);
        charge["refunded"] = json!(refunded + amount == charged);
        ledger.charges.insert(charge_id.clone(), charge.clone());
        let refund = json!({
            "id": new_id("re"),
            "object": "refund",
            "amount": amount,
            "currency": currency,
            "charge": charge_id,
            "payment_intent": intent_id,
            "reason": params.get("reason"),
            "status": if pending { "pending" } else { "succeeded" },
            "failure_reason": null,
            "metadata": metadata(&params),
            "created": ledger.now,
        });
        let refund_id = refund["id"].as_str().unwrap_or_default().to_owned();
        ledger.refund_taken.insert(refund_id, taken);
        ledger.refunds.push(refund.clone());
        ledger.event("charge.refunded", charge, None);
        ledger.event("refund.created", refund.clone(), None);
        Ok(refund)
    })
    .await
}

fn connected_account(headers: &HeaderMap) -> Option<String> {
    headers
        .get("stripe-account")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn balance(State(inner): State<Arc<Inner>>, headers: HeaderMap) -> Response {
    let holder = connected_account(&headers).unwrap_or_else(|| "platform".into());
    read(&inner, &headers, |ledger| {
        if holder != "platform" && !ledger.accounts.contains_key(&holder) {
            return missing(&holder);
        }
        let available: Vec<Value> = ledger
            .balances
            .iter()
            .filter(|((h, _), _)| *h == holder)
            .map(|((_, currency), amount)| json!({"amount": amount, "currency": currency, "source_types": {"card": amount}}))
            .collect();
        (
            StatusCode::OK,
            json!({"object": "balance", "available": available, "pending": [], "livemode": false}),
        )
    })
    .await
}

async fn list_payouts(State(inner): State<Arc<Inner>>, headers: HeaderMap) -> Response {
    let holder = connected_account(&headers).unwrap_or_default();
    read(&inner, &headers, |ledger| {
        let data: Vec<&Value> = ledger
            .payouts
            .get(&holder)
            .map(|p| p.iter().rev().collect())
            .unwrap_or_default();
        (
            StatusCode::OK,
            json!({"object": "list", "url": "/v1/payouts", "has_more": false, "data": data}),
        )
    })
    .await
}

async fn retrieve_event(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    read(&inner, &headers, |ledger| found(ledger.events.get(&id), &id)).await
}

/// A charge; `expand[]=balance_transaction` replaces the id with the object, as at Stripe.
async fn retrieve_charge(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let expand = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .any(|(key, value)| key.starts_with("expand[") && value == "balance_transaction");
    read(&inner, &headers, |ledger| {
        let Some(mut charge) = ledger.charges.get(&id).cloned() else {
            return missing(&id);
        };
        if expand
            && let Some(transaction) = charge["balance_transaction"]
                .as_str()
                .and_then(|t| ledger.balance_transactions.get(t))
        {
            charge["balance_transaction"] = transaction.clone();
        }
        (StatusCode::OK, charge)
    })
    .await
}

fn list(url: &str, data: Vec<Value>) -> Reply {
    (
        StatusCode::OK,
        json!({"object": "list", "url": url, "has_more": false, "data": data}),
    )
}

async fn list_transfers(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    read(&inner, &headers, |ledger| {
        let data = ledger
            .transfer_order
            .iter()
            .rev()
            .filter_map(|id| ledger.transfers.get(id))
            .filter(|t| {
                query
                    .get("transfer_group")
                    .is_none_or(|g| t["transfer_group"] == g.as_str())
            })
            .cloned()
            .collect();
        list("/v1/transfers", data)
    })
    .await
}

async fn retrieve_transfer(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    read(&inner, &headers, |ledger| found(ledger.transfers.get(&id), &id)).await
}

async fn retrieve_refund(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    read(&inner, &headers, |ledger| {
        found(ledger.refunds.iter().find(|r| r["id"] == id.as_str()), &id)
    })
    .await
}

async fn list_refunds(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    read(&inner, &headers, |ledger| {
        let data = ledger
            .refunds
            .iter()
            .rev()
            .filter(|r| {
                query
                    .get("payment_intent")
                    .is_none_or(|i| r["payment_intent"] == i.as_str())
            })
            .cloned()
            .collect();
        list("/v1/refunds", data)
    })
    .await
}

/// A webhook endpoint: a `connect` one receives the events of connected accounts, the other the platform's; from
/// now on the stand-in delivers there, signed with the new secret and rendered at the endpoint's version.
async fn create_webhook_endpoint(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let one = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let events: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k.starts_with("enabled_events["))
        .map(|(_, v)| v.clone())
        .collect();
    let config = inner.clone();
    idempotent(inner, &headers, "/v1/webhook_endpoints", &body, |ledger, _| {
        let Some(url) = one("url") else {
            return Err(invalid("Missing required param: url.", "url"));
        };
        if events.is_empty() {
            return Err(invalid(
                "Missing required param: enabled_events.",
                "enabled_events",
            ));
        }
        let connect = one("connect").as_deref() == Some("true");
        let version = one("api_version");
        let endpoint = json!({
            "id": new_id("we"),
            "object": "webhook_endpoint",
            "api_version": version,
            "application": null,
            "created": ledger.now,
            "description": one("description"),
            "enabled_events": events,
            "livemode": false,
            "metadata": {},
            "secret": format!("whsec_{}", token(32)),
            "status": "enabled",
            "url": url,
        });
        if let Ok(mut config) = config.config.write() {
            let target = if connect {
                &mut config.connect_endpoint
            } else {
                &mut config.platform_endpoint
            };
            target.url = Some(url.clone());
            target.enabled_events = events.clone();
            target.secret = endpoint["secret"].as_str().unwrap_or_default().to_owned();
            target.api_version = version.unwrap_or_else(|| API_VERSION.to_owned());
        }
        let mut listed = endpoint.clone();
        listed["secret"] = Value::Null;
        ledger.webhook_endpoints.push(listed);
        Ok(endpoint)
    })
    .await
}

/// An endpoint's events changed (`enabled_events[]`); its URL, version and secret stay. From now on the stand-in
/// delivers to it only those events, as Stripe does.
async fn update_webhook_endpoint(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let events: Vec<String> = form_urlencoded::parse(&body)
        .into_owned()
        .filter(|(k, _)| k.starts_with("enabled_events["))
        .map(|(_, v)| v)
        .collect();
    let config = inner.clone();
    let path = format!("/v1/webhook_endpoints/{id}");
    idempotent(inner, &headers, &path, &body, |ledger, _| {
        let Some(endpoint) = ledger
            .webhook_endpoints
            .iter_mut()
            .find(|e| e["id"] == id.as_str())
        else {
            return Err(missing(&id));
        };
        if !events.is_empty() {
            endpoint["enabled_events"] = json!(events);
            let url = endpoint["url"].as_str().map(str::to_owned);
            if let Ok(mut config) = config.config.write() {
                let config = &mut *config;
                for target in [&mut config.platform_endpoint, &mut config.connect_endpoint] {
                    if target.url == url {
                        target.enabled_events = events.clone();
                    }
                }
            }
        }
        Ok(endpoint.clone())
    })
    .await
}

async fn list_webhook_endpoints(State(inner): State<Arc<Inner>>, headers: HeaderMap) -> Response {
    read(&inner, &headers, |ledger| {
        list(
            "/v1/webhook_endpoints",
            ledger.webhook_endpoints.iter().rev().cloned().collect(),
        )
    })
    .await
}

/// The card's bank answering a refund (`refund`: its id), as Stripe's test cards behave (docs.stripe.com/testing,
/// "Refunds"): a `pm_card_pendingRefund` refund, `pending`, succeeds (the card gets the money); a
/// `pm_card_refundFail` refund, `succeeded` at first, fails with `expired_or_canceled_card` (the card gives the money
/// back and it returns to the platform's balance). Each sends `refund.updated`, a failure `refund.failed` too.
async fn standin_settle_refund(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let params = form(&body);
    idempotent(inner, &headers, "/_standin/refunds/settle", &body, |ledger, _| {
        let id = params.get("refund").cloned().unwrap_or_default();
        let Some(index) = ledger.refunds.iter().position(|r| r["id"] == id.as_str()) else {
            return Err(missing(&id));
        };
        let mut refund = ledger.refunds[index].clone();
        let intent_id = refund["payment_intent"].as_str().unwrap_or_default().to_owned();
        let method = ledger
            .intents
            .get(&intent_id)
            .map(|i| i["payment_method"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_default();
        let amount = refund["amount"].as_i64().unwrap_or(0);
        match (method.as_str(), refund["status"].as_str()) {
            ("pm_card_pendingRefund", Some("pending")) => {
                refund["status"] = json!("succeeded");
                *ledger.cards.entry(intent_id).or_default() -= amount;
                ledger.refunds[index] = refund.clone();
                ledger.event("refund.updated", refund.clone(), None);
            }
            ("pm_card_refundFail", Some("succeeded")) => {
                refund["status"] = json!("failed");
                refund["failure_reason"] = json!("expired_or_canceled_card");
                refund["failure_balance_transaction"] = json!(new_id("txn"));
                *ledger.cards.entry(intent_id).or_default() += amount;
                let charge_id = refund["charge"].as_str().unwrap_or_default().to_owned();
                if let Some((currency, taken)) = ledger.refund_taken.get(&id).cloned() {
                    ledger.credit("platform", &currency, taken);
                    // No longer taken from the charge's balance transaction: a later refund that empties the
                    // charge takes it again.
                    *ledger.settled_refunded.entry(charge_id.clone()).or_default() -= taken;
                }
                if let Some(mut charge) = ledger.charges.get(&charge_id).cloned() {
                    let refunded = charge["amount_refunded"].as_i64().unwrap_or(0) - amount;
                    charge["amount_refunded"] = json!(refunded);
                    charge["refunded"] = json!(false);
                    ledger.charges.insert(charge_id, charge);
                }
                ledger.refunds[index] = refund.clone();
                ledger.event("refund.updated", refund.clone(), None);
                ledger.event("refund.failed", refund.clone(), None);
            }
            _ => {
                return Err(invalid(
                    "Only a pending refund of pm_card_pendingRefund or a succeeded one of pm_card_refundFail is \
                     settled by the card's bank.",
                    "refund",
                ));
            }
        }
        Ok(refund)
    })
    .await
}

/// A payout of a connected account's balance reaching (or failing to reach) its bank.
async fn standin_payout(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let params = form(&body);
    idempotent(inner, &headers, "/_standin/payouts", &body, |ledger, _| {
        let account = params.get("account").cloned().unwrap_or_default();
        if !ledger.accounts.contains_key(&account) {
            return Err(missing(&account));
        }
        let currency = params.get("currency").cloned().unwrap_or_else(|| "cop".into());
        // The account holds what it was sent in the platform's settlement currency; its payout converts it into
        // the account's own currency at the rate charges settle at.
        let settlement = ledger.settlement_currency.clone();
        let held = ledger.available(&account, &settlement);
        let (held_currency, paid_from) = if currency != settlement && held > 0 {
            (settlement, held)
        } else {
            (currency.clone(), ledger.available(&account, &currency))
        };
        let (numerator, denominator) = ledger.exchange_rate;
        let converted = if held_currency == currency {
            paid_from
        } else {
            paid_from * denominator / numerator.max(1)
        };
        let amount = amount(&params, "amount")?.unwrap_or(converted);
        let paid = params.get("outcome").map(String::as_str) != Some("failed");
        let payout = json!({
            "id": new_id("po"),
            "object": "payout",
            "amount": amount,
            "currency": currency,
            "arrival_date": ledger.now + 86_400,
            "status": if paid { "paid" } else { "failed" },
            "failure_code": if paid { Value::Null } else { json!("account_closed") },
            "failure_message": if paid { Value::Null } else { json!("The bank account has been closed.") },
            "created": ledger.now,
        });
        if paid {
            let taken = if held_currency == currency {
                amount
            } else {
                paid_from
            };
            ledger.credit(&account, &held_currency, -taken);
        }
        ledger
            .payouts
            .entry(account.clone())
            .or_default()
            .push(payout.clone());
        let kind = if paid { "payout.paid" } else { "payout.failed" };
        ledger.event(kind, payout.clone(), Some(&account));
        Ok(payout)
    })
    .await
}

/// Who holds what: balances by holder and currency, and each PaymentIntent's net charge to its guest's card.
async fn standin_ledger(State(inner): State<Arc<Inner>>, headers: HeaderMap) -> Response {
    read(&inner, &headers, |ledger| {
        let balances: Vec<Value> = ledger
            .balances
            .iter()
            .map(|((holder, currency), amount)| json!({"holder": holder, "currency": currency, "amount": amount}))
            .collect();
        let transfers: Vec<&Value> = ledger.transfers.values().collect();
        (
            StatusCode::OK,
            json!({"balances": balances, "cards": ledger.cards, "transfers": transfers}),
        )
    })
    .await
}

async fn standin_events(State(inner): State<Arc<Inner>>, headers: HeaderMap) -> Response {
    read(&inner, &headers, |ledger| {
        let events: Vec<&Value> = ledger
            .event_order
            .iter()
            .filter_map(|id| ledger.events.get(id))
            .collect();
        (StatusCode::OK, json!({"data": events}))
    })
    .await
}

/// The Stripe.js stand-in: `Stripe(pk).elements({clientSecret}).create('payment').mount(el)` renders a choice of
/// test payment methods (no card number is ever typed), and `confirmPayment` confirms through the stand-in's API
/// exactly as Stripe.js confirms through api.stripe.com.
async fn stripe_js(State(inner): State<Arc<Inner>>) -> Response {
    let script = STRIPE_JS.replace("__API_BASE__", &inner.base);
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        script,
    )
        .into_response()
}

const STRIPE_JS: &str = r#"(function () {
  "use strict";
  var API = "__API_BASE__";
  var METHODS = [
    ["pm_card_visa", "Visa •••• 4242"],
    ["pm_card_mastercard", "Mastercard •••• 4444"],
    ["pm_card_chargeDeclined", "Visa •••• 0002 (declined)"],
    ["pm_card_threeDSecure2Required", "Visa •••• 3184 (3D Secure)"]
  ];
  function Element(state) { this.state = state; }
  Element.prototype.mount = function (target) {
    var host = typeof target === "string" ? document.querySelector(target) : target;
    var box = document.createElement("fieldset");
    box.className = "stripe-standin";
    var legend = document.createElement("legend");
    legend.textContent = "Stripe (test)";
    box.appendChild(legend);
    var state = this.state;
    METHODS.forEach(function (m, i) {
      var label = document.createElement("label");
      var input = document.createElement("input");
      input.type = "radio"; input.name = "stripe-standin-method"; input.value = m[0];
      input.setAttribute("data-testid", m[0]);
      if (i === 0) { input.checked = true; state.method = m[0]; }
      input.addEventListener("change", function () { state.method = m[0]; });
      label.appendChild(input);
      label.appendChild(document.createTextNode(" " + m[1]));
      box.appendChild(label);
    });
    host.appendChild(box);
  };
  function Elements(pk, options) { this.state = { pk: pk, clientSecret: options && options.clientSecret }; }
  Elements.prototype.create = function () { return new Element(this.state); };
  // Stripe.js localizes its error messages to the `locale` option (https://docs.stripe.com/js/initializing); the
  // stand-in does for the messages its API sends.
  var SPANISH = {
    card_declined: "Tu tarjeta fue rechazada.",
    payment_intent_authentication_failure: "No pudimos autenticar tu método de pago. Elige otro método de pago e inténtalo de nuevo."
  };
  // The bank's 3-D Secure challenge, in a modal dialog over the page as Stripe.js shows it (Stripe's test page
  // offers the same two answers); resolves with the PaymentIntent after the answer.
  function challenge(state, id, spanish) {
    return new Promise(function (resolve) {
      var dialog = document.createElement("dialog");
      dialog.className = "stripe-standin-3ds";
      dialog.setAttribute("aria-label", "3D Secure");
      var text = document.createElement("p");
      text.textContent = spanish
        ? "3D Secure 2 (prueba): tu banco te pide confirmar este pago."
        : "3D Secure 2 (test): your bank asks you to confirm this payment.";
      dialog.appendChild(text);
      var answer = function (outcome) {
        dialog.close();
        dialog.remove();
        var body = new URLSearchParams({ key: state.pk, client_secret: state.clientSecret, outcome: outcome });
        resolve(fetch(API + "/_standin/three_d_secure/" + id, {
          method: "POST", body: body,
          headers: { "Content-Type": "application/x-www-form-urlencoded" }
        }).then(function (r) { return r.json(); }));
      };
      var answers = spanish
        ? [["complete", "Completar la autenticación"], ["fail", "Fallar la autenticación"]]
        : [["complete", "Complete authentication"], ["fail", "Fail authentication"]];
      answers.forEach(function (choice) {
        var button = document.createElement("button");
        button.type = "button";
        button.textContent = choice[1];
        button.setAttribute("data-testid", "3ds-" + choice[0]);
        button.addEventListener("click", function () { answer(choice[0]); });
        dialog.appendChild(button);
      });
      // Closed with Escape: the card holder did not authenticate.
      dialog.addEventListener("cancel", function (event) { event.preventDefault(); answer("fail"); });
      document.body.appendChild(dialog);
      dialog.showModal();
    });
  }
  window.Stripe = function (pk, stripeOptions) {
    var spanish = String((stripeOptions && stripeOptions.locale) || "").indexOf("es") === 0;
    return {
      elements: function (options) { return new Elements(pk, options); },
      confirmPayment: function (args) {
        var state = args.elements.state;
        var id = state.clientSecret.split("_secret_")[0];
        var body = new URLSearchParams({ key: state.pk, client_secret: state.clientSecret,
                                         payment_method: state.method || "pm_card_visa" });
        return fetch(API + "/v1/payment_intents/" + id + "/confirm", {
          method: "POST", body: body,
          headers: { "Content-Type": "application/x-www-form-urlencoded" }
        }).then(function (r) {
          return r.json().then(function (json) {
            return r.ok && json.status === "requires_action" ? challenge(state, id, spanish) : (r.ok ? json : { error: json.error });
          });
        }).then(function (json) {
          // After a challenge Stripe.js answers as for a decline: the error is the PaymentIntent's last one.
          var error = json.error || (json.status === "requires_payment_method" && json.last_payment_error
            ? Object.assign({}, json.last_payment_error, { payment_intent: json }) : null);
          if (error && spanish && SPANISH[error.code]) error.message = SPANISH[error.code];
          return error ? { error: error } : { paymentIntent: json };
        });
      }
    };
  };
})();
"#;
