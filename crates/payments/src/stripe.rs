//! A small typed client for the part of Stripe's API comanda uses: connected accounts and account links, payment
//! intents, transfers and reversals, refunds, balance and payouts, events. Requests are form-encoded with Stripe's
//! bracket notation, authenticated with the secret key, pinned to one API version, and every POST carries an
//! `Idempotency-Key` (a required argument, so no call can forget it). The base URL is configurable: production
//! points at `https://api.stripe.com`, tests and demo mode at the local stand-in.
//!
//! Why not a Stripe crate: the maintained ones generate bindings for the whole API (hundreds of thousands of lines),
//! which costs minutes of build time on two cores for the dozen calls used here.

use std::time::Duration;

use comanda_security::Secret;
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// The API version every request is pinned to (`Stripe-Version`).
pub const API_VERSION: &str = "2025-03-31.basil";

#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    /// Stripe answered with an error object.
    #[error("stripe {status}: {kind} {code}: {message}")]
    Api {
        status: u16,
        kind: String,
        code: String,
        decline_code: Option<String>,
        message: String,
    },
    #[error("stripe unreachable: {0}")]
    Transport(String),
    #[error("unexpected answer from stripe: {0}")]
    Decode(String),
}

impl StripeError {
    /// A card error (declined, expired…): the guest's problem, not ours.
    pub fn is_card_error(&self) -> bool {
        matches!(self, StripeError::Api { kind, .. } if kind == "card_error")
    }
}

/// A field the spec marks nullable, read as its default when null (an empty `metadata`, say).
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ErrorObject,
}

#[derive(Debug, Deserialize)]
struct ErrorObject {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    decline_code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Capabilities {
    #[serde(default)]
    pub card_payments: Option<String>,
    #[serde(default)]
    pub transfers: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Account {
    pub id: String,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub charges_enabled: bool,
    #[serde(default)]
    pub payouts_enabled: bool,
    #[serde(default)]
    pub details_submitted: bool,
    #[serde(default)]
    pub capabilities: Option<Capabilities>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: std::collections::HashMap<String, String>,
}

impl Account {
    pub fn capability_active(&self, name: &str) -> bool {
        let caps = self.capabilities.as_ref();
        let state = match name {
            "card_payments" => caps.and_then(|c| c.card_payments.as_deref()),
            "transfers" => caps.and_then(|c| c.transfers.as_deref()),
            _ => None,
        };
        state == Some("active")
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct AccountLink {
    pub url: String,
    pub expires_at: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LastPaymentError {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub decline_code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PaymentIntent {
    pub id: String,
    pub amount: i64,
    #[serde(default)]
    pub amount_received: i64,
    pub currency: String,
    pub status: String,
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub latest_charge: Option<String>,
    #[serde(default)]
    pub transfer_group: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: std::collections::HashMap<String, String>,
    #[serde(default)]
    pub last_payment_error: Option<LastPaymentError>,
    pub created: i64,
}

/// A field Stripe can expand: the id, or the object when the request asked for it (`expand[]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Expandable<T> {
    Id(String),
    Object(Box<T>),
}

/// A charge, read for its balance transaction (what the platform's balance received, in its settlement currency).
#[derive(Debug, Clone, Deserialize)]
pub struct Charge {
    pub id: String,
    pub amount: i64,
    /// What is refunded of it now: a refund that failed after it succeeded is no longer counted.
    #[serde(default)]
    pub amount_refunded: i64,
    pub currency: String,
    /// Nullable in the spec: a charge that has not settled (failed, pending) has none.
    #[serde(default)]
    pub balance_transaction: Option<Expandable<BalanceTransaction>>,
    #[serde(default)]
    pub payment_intent: Option<String>,
}

impl Charge {
    /// The balance transaction, when it was expanded.
    pub fn settled(&self) -> Option<&BalanceTransaction> {
        match &self.balance_transaction {
            Some(Expandable::Object(transaction)) => Some(transaction),
            _ => None,
        }
    }
}

/// How one charge (or refund, transfer) moved the balance, in the balance's own currency: `amount` gross, `fee`
/// Stripe's, `net = amount − fee`. A charge in another currency is converted at settlement (docs.stripe.com/currencies
/// /conversions).
#[derive(Debug, Clone, Deserialize)]
pub struct BalanceTransaction {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    pub fee: i64,
    pub net: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Transfer {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    /// Nullable in the spec (a transfer to a since-deleted account).
    #[serde(default)]
    pub destination: Option<String>,
    #[serde(default)]
    pub amount_reversed: i64,
    #[serde(default)]
    pub transfer_group: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: std::collections::HashMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TransferReversal {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    /// Nullable in the spec.
    #[serde(default)]
    pub transfer: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Refund {
    pub id: String,
    pub amount: i64,
    /// Nullable in the spec: `pending`, `requires_action`, `succeeded`, `failed` or `canceled` when present.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub payment_intent: Option<String>,
    /// Why a `failed` refund failed (`lost_or_stolen_card`, `expired_or_canceled_card`, `charge_for_pending_refund_disputed`,
    /// `insufficient_funds`, `declined`, `merchant_request`, `unknown`).
    #[serde(default)]
    pub failure_reason: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: std::collections::HashMap<String, String>,
}

impl Refund {
    pub fn outcome(&self) -> RefundOutcome {
        RefundOutcome::of(self.status.as_deref(), self.failure_reason.as_deref())
    }
}

/// Where a Stripe refund stands, as comanda records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOutcome {
    Pending,
    Succeeded,
    /// With Stripe's `failure_reason` (or the status when it gives none).
    Failed(String),
}

impl RefundOutcome {
    /// What a refund's `status` and `failure_reason` mean for comanda's record of it (docs.stripe.com/refunds: a
    /// card refund is `pending` until the bank answers, and one `succeeded` may still turn `failed`).
    pub fn of(status: Option<&str>, failure_reason: Option<&str>) -> Self {
        match status {
            Some("succeeded") => RefundOutcome::Succeeded,
            Some(ended @ ("failed" | "canceled")) => {
                RefundOutcome::Failed(failure_reason.unwrap_or(ended).to_owned())
            }
            // `pending`, `requires_action`, a status the spec leaves null or one this version does not know: nothing
            // is reversed or counted until Stripe says how it ended (its event, or the upkeep's read).
            _ => RefundOutcome::Pending,
        }
    }
}

#[cfg(test)]
mod refund_outcome_tests {
    use super::RefundOutcome;

    #[test]
    fn only_a_succeeded_refund_counts_and_an_unknown_status_waits() {
        assert_eq!(
            RefundOutcome::of(Some("succeeded"), None),
            RefundOutcome::Succeeded
        );
        for waiting in [
            Some("pending"),
            Some("requires_action"),
            None,
            Some("a_status_added_later"),
        ] {
            assert_eq!(
                RefundOutcome::of(waiting, None),
                RefundOutcome::Pending,
                "{waiting:?}"
            );
        }
        assert_eq!(
            RefundOutcome::of(Some("failed"), Some("lost_or_stolen_card")),
            RefundOutcome::Failed("lost_or_stolen_card".into())
        );
        assert_eq!(
            RefundOutcome::of(Some("canceled"), None),
            RefundOutcome::Failed("canceled".into())
        );
    }
}

/// A webhook endpoint as Stripe reports it; `secret` only in the answer that created it.
#[derive(Debug, Clone, Deserialize)]
pub struct WebhookEndpoint {
    pub id: String,
    pub url: String,
    /// The version events are rendered at (`None`: the account's default version).
    #[serde(default)]
    pub api_version: Option<String>,
    #[serde(default)]
    pub enabled_events: Vec<String>,
    #[serde(default)]
    pub secret: Option<String>,
    pub status: String,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct BalanceAmount {
    pub amount: i64,
    pub currency: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Balance {
    pub available: Vec<BalanceAmount>,
    pub pending: Vec<BalanceAmount>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct Payout {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    pub status: String,
    #[serde(default)]
    pub arrival_date: Option<i64>,
    #[serde(default)]
    pub failure_code: Option<String>,
    #[serde(default)]
    pub failure_message: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct List<T> {
    pub data: Vec<T>,
    #[serde(default)]
    pub has_more: bool,
}

/// A webhook event as Stripe sends it (`data.object` kept raw: its shape depends on `type`).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub created: i64,
    pub data: EventData,
    /// The connected account the event happened on (Connect events).
    #[serde(default)]
    pub account: Option<String>,
    /// The version `data.object` is rendered at: the webhook endpoint's pinned version (nullable in the spec for
    /// events older than 2014).
    #[serde(default)]
    pub api_version: Option<String>,
    #[serde(default)]
    pub livemode: bool,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct EventData {
    pub object: serde_json::Value,
}

/// What a PaymentIntent is created with.
#[derive(Debug, Clone)]
pub struct NewPaymentIntent<'a> {
    pub amount: i64,
    /// ISO code; sent lowercase as Stripe expects.
    pub currency: &'a str,
    pub transfer_group: &'a str,
    pub metadata: &'a [(&'a str, String)],
    pub description: &'a str,
    /// Destination charges only: `(connected account, application fee)`.
    pub destination: Option<(&'a str, i64)>,
}

/// Which kind of account link (`account_onboarding` for the first time, `account_update` for bank details).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    Onboarding,
    Update,
}

#[derive(Clone)]
pub struct StripeClient {
    http: reqwest::Client,
    base: String,
    secret_key: Secret<String>,
}

impl std::fmt::Debug for StripeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

type Form = Vec<(String, String)>;

fn field(form: &mut Form, key: &str, value: impl ToString) {
    form.push((key.to_owned(), value.to_string()));
}

impl StripeClient {
    pub fn new(base: &str, secret_key: Secret<String>) -> Result<Self, StripeError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| StripeError::Transport(e.to_string()))?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            secret_key,
        })
    }

    async fn send<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> Result<T, StripeError> {
        let response = request
            .bearer_auth(self.secret_key.expose())
            .header("Stripe-Version", API_VERSION)
            .send()
            .await
            .map_err(|e| StripeError::Transport(e.to_string()))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| StripeError::Transport(e.to_string()))?;
        if (200..300).contains(&status) {
            serde_json::from_slice(&body).map_err(|e| StripeError::Decode(e.to_string()))
        } else {
            let error: ErrorBody =
                serde_json::from_slice(&body).map_err(|_| StripeError::Decode(format!("status {status}")))?;
            Err(StripeError::Api {
                status,
                kind: error.error.kind,
                code: error.error.code.unwrap_or_default(),
                decline_code: error.error.decline_code,
                message: error.error.message.unwrap_or_default(),
            })
        }
    }

    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        form: &Form,
        idempotency_key: &str,
        account: Option<&str>,
    ) -> Result<T, StripeError> {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter())
            .finish();
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Idempotency-Key", idempotency_key)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(account) = account {
            request = request.header("Stripe-Account", account);
        }
        self.send(request).await
    }

    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        account: Option<&str>,
    ) -> Result<T, StripeError> {
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query.iter())
            .finish();
        let separator = if query.is_empty() { "" } else { "?" };
        let mut request = self.http.get(format!("{}{path}{separator}{query}", self.base));
        if let Some(account) = account {
            request = request.header("Stripe-Account", account);
        }
        self.send(request).await
    }

    /// A connected account for a partner: a *recipient* (transfers only, cross-border payouts) for separate charges
    /// and transfers, or a full account with card payments for destination charges.
    pub async fn create_account(
        &self,
        country: &str,
        recipient: bool,
        partner: &str,
        idempotency_key: &str,
    ) -> Result<Account, StripeError> {
        let mut form = Form::new();
        field(&mut form, "type", "express");
        field(&mut form, "country", country);
        field(&mut form, "capabilities[transfers][requested]", "true");
        if recipient {
            field(&mut form, "tos_acceptance[service_agreement]", "recipient");
        } else {
            field(&mut form, "capabilities[card_payments][requested]", "true");
        }
        field(&mut form, "metadata[partner_id]", partner);
        self.post("/v1/accounts", &form, idempotency_key, None).await
    }

    pub async fn account(&self, id: &str) -> Result<Account, StripeError> {
        self.get(&format!("/v1/accounts/{id}"), &[], None).await
    }

    pub async fn create_account_link(
        &self,
        account: &str,
        refresh_url: &str,
        return_url: &str,
        kind: LinkKind,
        idempotency_key: &str,
    ) -> Result<AccountLink, StripeError> {
        let mut form = Form::new();
        field(&mut form, "account", account);
        field(&mut form, "refresh_url", refresh_url);
        field(&mut form, "return_url", return_url);
        let kind = match kind {
            LinkKind::Onboarding => "account_onboarding",
            LinkKind::Update => "account_update",
        };
        field(&mut form, "type", kind);
        self.post("/v1/account_links", &form, idempotency_key, None).await
    }

    pub async fn create_payment_intent(
        &self,
        intent: &NewPaymentIntent<'_>,
        idempotency_key: &str,
    ) -> Result<PaymentIntent, StripeError> {
        let mut form = Form::new();
        field(&mut form, "amount", intent.amount);
        field(&mut form, "currency", intent.currency.to_ascii_lowercase());
        field(&mut form, "automatic_payment_methods[enabled]", "true");
        field(&mut form, "transfer_group", intent.transfer_group);
        field(&mut form, "description", intent.description);
        for (key, value) in intent.metadata {
            field(&mut form, &format!("metadata[{key}]"), value);
        }
        if let Some((destination, fee)) = intent.destination {
            field(&mut form, "transfer_data[destination]", destination);
            field(&mut form, "on_behalf_of", destination);
            field(&mut form, "application_fee_amount", fee);
        }
        self.post("/v1/payment_intents", &form, idempotency_key, None)
            .await
    }

    pub async fn payment_intent(&self, id: &str) -> Result<PaymentIntent, StripeError> {
        self.get(&format!("/v1/payment_intents/{id}"), &[], None).await
    }

    pub async fn cancel_payment_intent(
        &self,
        id: &str,
        idempotency_key: &str,
    ) -> Result<PaymentIntent, StripeError> {
        let form = vec![("cancellation_reason".to_owned(), "abandoned".to_owned())];
        self.post(
            &format!("/v1/payment_intents/{id}/cancel"),
            &form,
            idempotency_key,
            None,
        )
        .await
    }

    /// Every PaymentIntent created at or after `since` (unix seconds), following Stripe's cursor pagination.
    pub async fn payment_intents_since(&self, since: i64) -> Result<Vec<PaymentIntent>, StripeError> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut query = vec![("limit", "100".to_owned()), ("created[gte]", since.to_string())];
            if let Some(after) = &after {
                query.push(("starting_after", after.clone()));
            }
            let page: List<PaymentIntent> = self.get("/v1/payment_intents", &query, None).await?;
            after = page.data.last().map(|p| p.id.clone());
            let more = page.has_more && after.is_some();
            all.extend(page.data);
            if !more {
                return Ok(all);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn create_transfer(
        &self,
        amount: i64,
        currency: &str,
        destination: &str,
        transfer_group: &str,
        source_transaction: Option<&str>,
        metadata: &[(&str, String)],
        idempotency_key: &str,
    ) -> Result<Transfer, StripeError> {
        let mut form = Form::new();
        field(&mut form, "amount", amount);
        field(&mut form, "currency", currency.to_ascii_lowercase());
        field(&mut form, "destination", destination);
        field(&mut form, "transfer_group", transfer_group);
        if let Some(source) = source_transaction {
            field(&mut form, "source_transaction", source);
        }
        for (key, value) in metadata {
            field(&mut form, &format!("metadata[{key}]"), value);
        }
        self.post("/v1/transfers", &form, idempotency_key, None).await
    }

    pub async fn reverse_transfer(
        &self,
        transfer: &str,
        amount: i64,
        idempotency_key: &str,
    ) -> Result<TransferReversal, StripeError> {
        let form = vec![("amount".to_owned(), amount.to_string())];
        self.post(
            &format!("/v1/transfers/{transfer}/reversals"),
            &form,
            idempotency_key,
            None,
        )
        .await
    }

    /// A refund of `amount` of a PaymentIntent; for destination charges Stripe reverses the transfer and refunds the
    /// application fee in proportion when asked to.
    pub async fn create_refund(
        &self,
        payment_intent: &str,
        amount: i64,
        destination_charge: bool,
        metadata: &[(&str, String)],
        idempotency_key: &str,
    ) -> Result<Refund, StripeError> {
        let mut form = Form::new();
        field(&mut form, "payment_intent", payment_intent);
        field(&mut form, "amount", amount);
        field(&mut form, "reason", "requested_by_customer");
        if destination_charge {
            field(&mut form, "reverse_transfer", "true");
            field(&mut form, "refund_application_fee", "true");
        }
        for (key, value) in metadata {
            field(&mut form, &format!("metadata[{key}]"), value);
        }
        self.post("/v1/refunds", &form, idempotency_key, None).await
    }

    /// The balance of a connected account (`Stripe-Account`), or the platform's with `None`.
    pub async fn balance(&self, account: Option<&str>) -> Result<Balance, StripeError> {
        self.get("/v1/balance", &[], account).await
    }

    pub async fn payouts(&self, account: &str, limit: u32) -> Result<List<Payout>, StripeError> {
        self.get(
            "/v1/payouts",
            &[("limit", limit.min(100).to_string())],
            Some(account),
        )
        .await
    }

    pub async fn event(&self, id: &str) -> Result<Event, StripeError> {
        self.get(&format!("/v1/events/{id}"), &[], None).await
    }

    /// A charge with its balance transaction expanded: what the platform's balance received for it.
    pub async fn charge(&self, id: &str) -> Result<Charge, StripeError> {
        self.get(
            &format!("/v1/charges/{id}"),
            &[("expand[]", "balance_transaction".to_owned())],
            None,
        )
        .await
    }

    pub async fn transfer(&self, id: &str) -> Result<Transfer, StripeError> {
        self.get(&format!("/v1/transfers/{id}"), &[], None).await
    }

    /// The transfers of one `transfer_group` (a bill): how a transfer whose answer was lost is found again.
    pub async fn transfers_in_group(&self, transfer_group: &str) -> Result<List<Transfer>, StripeError> {
        self.get(
            "/v1/transfers",
            &[
                ("transfer_group", transfer_group.to_owned()),
                ("limit", "100".to_owned()),
            ],
            None,
        )
        .await
    }

    /// One refund as Stripe holds it now: how a refund still `pending` is followed when its `refund.updated` event
    /// never came.
    pub async fn refund(&self, id: &str) -> Result<Refund, StripeError> {
        self.get(&format!("/v1/refunds/{id}"), &[], None).await
    }

    /// The refunds of one PaymentIntent: how a refund whose answer was lost is found again.
    pub async fn refunds_of(&self, payment_intent: &str) -> Result<List<Refund>, StripeError> {
        self.get(
            "/v1/refunds",
            &[
                ("payment_intent", payment_intent.to_owned()),
                ("limit", "100".to_owned()),
            ],
            None,
        )
        .await
    }

    /// A webhook endpoint whose events are rendered at [`API_VERSION`]; `connect` endpoints receive the events of
    /// connected accounts (docs.stripe.com/connect/webhooks).
    pub async fn create_webhook_endpoint(
        &self,
        url: &str,
        events: &[&str],
        connect: bool,
        idempotency_key: &str,
    ) -> Result<WebhookEndpoint, StripeError> {
        let mut form = Form::new();
        field(&mut form, "url", url);
        field(&mut form, "api_version", API_VERSION);
        for event in events {
            field(&mut form, "enabled_events[]", event);
        }
        if connect {
            field(&mut form, "connect", "true");
        }
        field(
            &mut form,
            "description",
            if connect {
                "comanda: connected accounts"
            } else {
                "comanda: platform"
            },
        );
        self.post("/v1/webhook_endpoints", &form, idempotency_key, None)
            .await
    }

    /// Sets the events an existing endpoint receives (its URL, version and signing secret stay): how an endpoint
    /// made by an older comanda starts receiving the events a newer one reads.
    pub async fn set_webhook_endpoint_events(
        &self,
        id: &str,
        events: &[&str],
        idempotency_key: &str,
    ) -> Result<WebhookEndpoint, StripeError> {
        let mut form = Form::new();
        for event in events {
            field(&mut form, "enabled_events[]", event);
        }
        self.post(
            &format!("/v1/webhook_endpoints/{id}"),
            &form,
            idempotency_key,
            None,
        )
        .await
    }

    pub async fn webhook_endpoints(&self) -> Result<List<WebhookEndpoint>, StripeError> {
        self.get("/v1/webhook_endpoints", &[("limit", "100".to_owned())], None)
            .await
    }
}
