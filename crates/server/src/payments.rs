//! Payments as a service of the server: the Stripe client and keys, what a verified webhook event means for our
//! records, the platform jobs (sending owed transfers, releasing abandoned holds, reconciliation) and refunds.

use std::sync::Arc;

use comanda_domain::payment::ChargeModel;
use comanda_domain::payment::{apportion_settlement, settled_reversal};
use comanda_domain::{Clock, PartnerId};
use comanda_payments::standin::StandIn;
use comanda_payments::stripe::{Event, PaymentIntent};
use comanda_payments::{StripeClient, StripeError};
use comanda_security::tenancy::JobAuthority;
use comanda_security::webhook::{SignatureError, VerifiedWebhook};
use comanda_security::{Secret, TenantScope};
use comanda_store::Store;
use comanda_store::payments::{EventEffect, Payment, PaymentStatus, Refund, TransferOrder, TransferStatus};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::config::{PaymentProvider, PaymentsConfig};

/// Which of Stripe's two webhook endpoints a delivery arrived at (docs.stripe.com/connect/webhooks): the platform's
/// own events, or the events of connected accounts (which carry `account`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookEndpoint {
    Platform,
    Connect,
}

impl WebhookEndpoint {
    /// The events comanda handles at this endpoint (what `comanda payments webhooks setup` enables).
    pub fn events(self) -> &'static [&'static str] {
        match self {
            WebhookEndpoint::Platform => &[
                "payment_intent.succeeded",
                "payment_intent.payment_failed",
                "charge.refunded",
                "charge.dispute.created",
            ],
            WebhookEndpoint::Connect => &["account.updated", "payout.paid", "payout.failed"],
        }
    }

    pub fn path(self) -> &'static str {
        match self {
            WebhookEndpoint::Platform => "/api/v1/webhooks/stripe",
            WebhookEndpoint::Connect => "/api/v1/webhooks/stripe/connect",
        }
    }

    /// Whether an event belongs at this endpoint: Connect events name the connected account, platform events none.
    pub fn receives(self, event: &Event) -> bool {
        match self {
            WebhookEndpoint::Platform => event.account.is_none(),
            WebhookEndpoint::Connect => event.account.is_some(),
        }
    }
}

/// Stripe as this server uses it.
pub struct PaymentService {
    pub client: StripeClient,
    pub publishable_key: String,
    pub js_url: String,
    pub api_base: String,
    /// Each endpoint's signing secrets (current first, then the previous one while rolling).
    platform_secrets: Vec<Secret<String>>,
    connect_secrets: Vec<Secret<String>>,
    pub fee_bp: u32,
    pub refund_threshold: i64,
    pub hold: time::Duration,
    /// Demo mode keeps its stand-in alive with the service.
    pub standin: Option<StandIn>,
}

impl std::fmt::Debug for PaymentService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentService")
            .field("api_base", &self.api_base)
            .finish_non_exhaustive()
    }
}

fn origin_of(url: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(slash) => url[..after_scheme + slash].to_owned(),
        None => url.to_owned(),
    }
}

impl PaymentService {
    /// The service the configuration asks for; demo mode starts a stand-in in this process.
    pub async fn from_config(config: &PaymentsConfig, clock: Arc<dyn Clock>) -> anyhow::Result<Option<Self>> {
        let (api_base, js_url, secret, publishable, webhook, connect, standin) = match config.provider {
            PaymentProvider::Off => return Ok(None),
            PaymentProvider::Stripe => (
                config.api_base.clone(),
                config.js_url.clone(),
                config.secret_key.clone(),
                config.publishable_key.clone(),
                config.webhook_secret.clone(),
                config.connect_webhook_secret.clone(),
                None,
            ),
            PaymentProvider::Standin => {
                let standin =
                    StandIn::start(comanda_payments::standin::StandInConfig::generate(), clock).await?;
                let keys = standin.config();
                tracing::info!(api = %standin.api_base(), "card payments in demo mode: a local Stripe stand-in, no real money");
                (
                    standin.api_base(),
                    standin.js_url(),
                    Some(Secret::new(keys.secret_key)),
                    Some(keys.publishable_key),
                    Some(Secret::new(keys.platform_endpoint.secret)),
                    Some(Secret::new(keys.connect_endpoint.secret)),
                    Some(standin),
                )
            }
        };
        let (Some(secret), Some(publishable_key), Some(webhook), Some(connect)) =
            (secret, publishable, webhook, connect)
        else {
            anyhow::bail!(
                "payments: secret_key, publishable_key, webhook_secret and connect_webhook_secret are required \
                 (`comanda payments webhooks setup --url https://<public host>` creates both webhook endpoints at \
                 Stripe and prints their secrets)"
            );
        };
        let mut platform_secrets = vec![webhook];
        platform_secrets.extend(config.previous_webhook_secret.clone());
        let mut connect_secrets = vec![connect];
        connect_secrets.extend(config.previous_connect_webhook_secret.clone());
        Ok(Some(Self {
            client: StripeClient::new(&api_base, secret)?,
            publishable_key,
            js_url,
            api_base,
            platform_secrets,
            connect_secrets,
            fee_bp: config.platform_fee_bp,
            refund_threshold: config.refund_approval_threshold,
            hold: time::Duration::minutes(i64::try_from(config.hold_minutes).unwrap_or(15)),
            standin,
        }))
    }

    /// Verifies a delivery with the secrets of the endpoint it arrived at: a platform event signed with the Connect
    /// endpoint's secret (or the reverse) does not verify.
    pub fn verify<'a>(
        &self,
        endpoint: WebhookEndpoint,
        header: &str,
        payload: &'a [u8],
        now: OffsetDateTime,
    ) -> Result<VerifiedWebhook<'a>, SignatureError> {
        let secrets = match endpoint {
            WebhookEndpoint::Platform => &self.platform_secrets,
            WebhookEndpoint::Connect => &self.connect_secrets,
        };
        let secrets: Vec<&str> = secrets.iter().map(|s| s.expose().as_str()).collect();
        comanda_security::webhook::verify(&secrets, header, payload, now)
    }

    /// The payment page's Content-Security-Policy: scripts only from our origin and Stripe (PAY-3).
    pub fn payment_page_csp(&self) -> String {
        let (script, frame, connect) = if self.js_url.starts_with("https://js.stripe.com/") {
            (
                "https://js.stripe.com https://*.js.stripe.com".to_owned(),
                "https://js.stripe.com https://*.js.stripe.com https://hooks.stripe.com".to_owned(),
                "https://api.stripe.com".to_owned(),
            )
        } else {
            let script = origin_of(&self.js_url);
            (script.clone(), script, origin_of(&self.api_base))
        };
        format!(
            "default-src 'none'; script-src 'self' {script}; style-src 'self'; img-src 'self' data:; \
             connect-src 'self' {connect}; frame-src {frame}; form-action 'self'; base-uri 'none'; \
             frame-ancestors 'none'; object-src 'none'; report-uri /api/v1/csp-reports"
        )
    }
}

/// The payment our metadata names on a PaymentIntent.
fn payment_of(intent: &PaymentIntent) -> Option<Uuid> {
    intent.metadata.get("payment_id")?.parse().ok()
}

/// What a verified event means: the partner it concerns (from our own directories, never from the event alone) and
/// its effect on our records.
pub async fn interpret(
    store: &Arc<dyn Store>,
    service: &PaymentService,
    event: &Event,
) -> Result<(Option<PartnerId>, EventEffect), StripeError> {
    let object = &event.data.object;
    let text = |key: &str| object.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    let number = |key: &str| object.get(key).and_then(serde_json::Value::as_i64).unwrap_or(0);
    let directory = |payment: Option<Uuid>| async move {
        match payment {
            Some(payment) => store
                .payment_partner(payment)
                .await
                .ok()
                .flatten()
                .map(|p| (p, payment)),
            None => None,
        }
    };
    let decode = |value: &serde_json::Value| {
        serde_json::from_value::<PaymentIntent>(value.clone()).map_err(|e| StripeError::Decode(e.to_string()))
    };
    Ok(match event.kind.as_str() {
        "payment_intent.succeeded" | "payment_intent.payment_failed" => {
            let intent = decode(object)?;
            match directory(payment_of(&intent)).await {
                Some((partner, payment)) if event.kind == "payment_intent.succeeded" => (
                    Some(partner),
                    EventEffect::PaymentSucceeded {
                        payment,
                        charge: intent.latest_charge.clone(),
                        amount_received: intent.amount_received,
                    },
                ),
                Some((partner, payment)) => {
                    let reason = intent
                        .last_payment_error
                        .as_ref()
                        .and_then(|e| e.message.clone().or(e.code.clone()))
                        .unwrap_or_else(|| "payment failed".into());
                    (Some(partner), EventEffect::PaymentFailed { payment, reason })
                }
                None => match crate::deposits::reservation_of(&intent) {
                    // A deposit's: its partner from our deposit directory; the store checks the PaymentIntent is
                    // the one it recorded for that reservation.
                    Some(reservation) if event.kind == "payment_intent.succeeded" => {
                        match store.deposit_partner(reservation).await.ok().flatten() {
                            Some(partner) => (
                                Some(partner),
                                EventEffect::DepositPaid {
                                    reservation,
                                    payment_intent: intent.id.clone(),
                                    charge: intent.latest_charge.clone(),
                                    amount_received: intent.amount_received,
                                },
                            ),
                            None => (None, EventEffect::Ignored),
                        }
                    }
                    // A failed attempt: the guest may try another card until the hold expires.
                    _ => (None, EventEffect::Ignored),
                },
            }
        }
        "charge.refunded" | "charge.dispute.created" => {
            // Charges and disputes name their PaymentIntent; its metadata names our payment.
            let Some(intent_id) = text("payment_intent") else {
                return Ok((None, EventEffect::Ignored));
            };
            let intent = service.client.payment_intent(&intent_id).await?;
            match directory(payment_of(&intent)).await {
                Some((partner, payment)) if event.kind == "charge.refunded" => (
                    Some(partner),
                    EventEffect::ChargeRefunded {
                        payment,
                        amount_refunded: number("amount_refunded"),
                    },
                ),
                Some((partner, payment)) => (
                    Some(partner),
                    EventEffect::DisputeCreated {
                        payment,
                        stripe_dispute: text("id").unwrap_or_default(),
                        amount: number("amount"),
                        reason: text("reason").unwrap_or_default(),
                        status: text("status").unwrap_or_default(),
                        evidence_due: object
                            .pointer("/evidence_details/due_by")
                            .and_then(serde_json::Value::as_i64)
                            .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok()),
                    },
                ),
                None => (None, EventEffect::Ignored),
            }
        }
        "account.updated" => {
            let account = text("id").unwrap_or_default();
            let partner = store.account_partner(&account).await.ok().flatten();
            let transfers =
                object.pointer("/capabilities/transfers").and_then(|v| v.as_str()) == Some("active");
            let flag = |key: &str| {
                object
                    .get(key)
                    .and_then(serde_json::Value::as_bool)
                    .unwrap_or(false)
            };
            (
                partner,
                EventEffect::AccountUpdated {
                    stripe_account: account,
                    details_submitted: flag("details_submitted"),
                    charges_enabled: flag("charges_enabled"),
                    payouts_enabled: flag("payouts_enabled"),
                    transfers_active: transfers,
                },
            )
        }
        "payout.paid" | "payout.failed" => {
            let account = event.account.clone().unwrap_or_default();
            let partner = store.account_partner(&account).await.ok().flatten();
            (
                partner,
                EventEffect::Payout {
                    stripe_payout: text("id").unwrap_or_default(),
                    amount: number("amount"),
                    currency: text("currency").unwrap_or_default(),
                    status: text("status").unwrap_or_default(),
                    arrival_date: object
                        .get("arrival_date")
                        .and_then(serde_json::Value::as_i64)
                        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok()),
                    failure: text("failure_message"),
                },
            )
        }
        _ => (None, EventEffect::Ignored),
    })
}

/// Sends every transfer the partner is owed. Each carries an idempotency key derived from its payment, so a retry
/// (another instance, a crash between Stripe's answer and our record) can never pay twice.
pub async fn send_due_transfers(
    store: &Arc<dyn Store>,
    service: &PaymentService,
    scope: &TenantScope,
    now: OffsetDateTime,
) -> usize {
    let Ok(due) = store.due_transfers(scope).await else {
        return 0;
    };
    let mut sent = 0;
    for order in due {
        match send_transfer(store, service, scope, &order, now).await {
            Ok(()) => sent += 1,
            Err(error) => {
                tracing::warn!(payment = %order.payment_id, %error, "transfer not sent; will retry");
            }
        }
    }
    sent
}

/// Is this error one after which Stripe may have done what was asked (the answer was lost or unreadable)?
fn outcome_unknown(error: &StripeError) -> bool {
    matches!(error, StripeError::Decode(_) | StripeError::Transport(_))
}

/// One transfer, in the currency of the source charge's balance transaction (Stripe refuses any other with
/// `source_transaction`), apportioned by [`apportion_settlement`].
async fn send_transfer(
    store: &Arc<dyn Store>,
    service: &PaymentService,
    scope: &TenantScope,
    order: &TransferOrder,
    now: OffsetDateTime,
) -> Result<(), StripeError> {
    let internal = |e: &dyn std::fmt::Display| StripeError::Decode(e.to_string());
    let payment = store
        .payment(scope, order.payment_id)
        .await
        .map_err(|e| internal(&e))?;
    let settled = match &order.source_charge {
        Some(charge) => {
            let charge = service.client.charge(charge).await?;
            let Some(settled) = charge.settled() else {
                return Err(StripeError::Decode(format!(
                    "charge {} has no balance transaction yet",
                    charge.id
                )));
            };
            Some(
                apportion_settlement(
                    payment.settlement.charged,
                    order.amount,
                    payment.settlement.tip,
                    settled.amount,
                    settled.net,
                    &settled.currency,
                )
                .map_err(|e| internal(&e))?,
            )
        }
        None => None,
    };
    let (amount, currency) = match &settled {
        Some(settled) => (settled.transfer, settled.currency.clone()),
        None => (order.amount.amount, order.amount.currency.code().to_owned()),
    };
    let metadata = [("payment_id", order.payment_id.to_string())];
    let created = service
        .client
        .create_transfer(
            amount,
            &currency,
            &order.destination,
            &order.transfer_group,
            order.source_charge.as_deref(),
            &metadata,
            &format!("transfer-{}", order.payment_id),
        )
        .await;
    let transfer = match created {
        Ok(transfer) => transfer,
        // Stripe may have made it: find it by the bill's transfer group and our payment id before anything else.
        Err(error) if outcome_unknown(&error) => {
            let wanted = order.payment_id.to_string();
            let found = service
                .client
                .transfers_in_group(&order.transfer_group)
                .await?
                .data
                .into_iter()
                .find(|t| t.metadata.get("payment_id") == Some(&wanted));
            found.ok_or(error)?
        }
        Err(error) => return Err(error),
    };
    store
        .mark_transfer_sent(scope, order.payment_id, &transfer.id, settled.as_ref(), now)
        .await
        .map_err(|e| internal(&e))
}

/// Reads the partner's connected account back from Stripe (`GET /v1/accounts/{id}`) and records its capabilities:
/// when the owner returns from Stripe's onboarding and in the upkeep job, so one lost `account.updated` never leaves
/// a partner unable to take payments.
pub async fn read_back_account(
    store: &Arc<dyn Store>,
    service: &PaymentService,
    scope: &TenantScope,
    now: OffsetDateTime,
) -> Result<(), StripeError> {
    let Some(known) = store
        .connected_account(scope)
        .await
        .map_err(|e| StripeError::Decode(e.to_string()))?
    else {
        return Ok(());
    };
    let account = service.client.account(&known.stripe_account).await?;
    let effect = EventEffect::AccountUpdated {
        stripe_account: account.id.clone(),
        details_submitted: account.details_submitted,
        charges_enabled: account.charges_enabled,
        payouts_enabled: account.payouts_enabled,
        transfers_active: account.capability_active("transfers"),
    };
    let unchanged = known.details_submitted == account.details_submitted
        && known.charges_enabled == account.charges_enabled
        && known.payouts_enabled == account.payouts_enabled
        && known.transfers_active == account.capability_active("transfers");
    if unchanged {
        return Ok(());
    }
    // Recorded as an event of its own (an id of ours, never Stripe's), so the change has the same path and audit.
    let id = format!("readback_{}", Uuid::now_v7());
    store
        .apply_event(Some(scope), &id, "account.updated", &effect, now)
        .await
        .map_err(|e| StripeError::Decode(e.to_string()))?;
    Ok(())
}

/// Cancels abandoned payments at Stripe first, then gives their part of the bill back.
pub async fn release_expired_holds(
    store: &Arc<dyn Store>,
    service: &PaymentService,
    scope: &TenantScope,
    now: OffsetDateTime,
) {
    let Ok(expired) = store.expired_holds(scope, now).await else {
        return;
    };
    for payment in expired {
        cancel_payment(store, service, scope, &payment, "abandoned").await;
    }
}

/// Cancels a pending payment: at Stripe first (so it can no longer be paid), then its hold. A payment Stripe has
/// already taken is left for its webhook.
pub async fn cancel_payment(
    store: &Arc<dyn Store>,
    service: &PaymentService,
    scope: &TenantScope,
    payment: &Payment,
    reason: &str,
) -> Option<Payment> {
    if let Some(intent) = &payment.payment_intent
        && let Err(error) = service
            .client
            .cancel_payment_intent(intent, &format!("cancel-{}", payment.id))
            .await
    {
        tracing::info!(payment = %payment.id, %error, "payment not cancelled at Stripe");
        return None;
    }
    store
        .release_payment(scope, payment.id, PaymentStatus::Cancelled, reason)
        .await
        .ok()
}

/// Moves the refund's money: the refund at Stripe, then (separate charges and transfers) the proportional reversal
/// of the partner's transfer. The Stripe calls carry idempotency keys derived from the refund.
pub async fn execute_refund(
    store: &Arc<dyn Store>,
    service: &PaymentService,
    scope: &TenantScope,
    refund: &Refund,
    now: OffsetDateTime,
) -> Result<Refund, StripeError> {
    let failed = |error: StripeError| async move {
        let _ = store.fail_refund(scope, refund.id, &error.to_string()).await;
        Err(error)
    };
    let payment = match store.payment(scope, refund.payment_id).await {
        Ok(payment) => payment,
        Err(error) => return failed(StripeError::Decode(error.to_string())).await,
    };
    let Some(intent) = payment.payment_intent.clone() else {
        return failed(StripeError::Decode("payment without PaymentIntent".into())).await;
    };
    let destination = payment.charge_model == ChargeModel::DestinationCharges;
    let metadata = [("refund_id", refund.id.to_string())];
    let created = service
        .client
        .create_refund(
            &intent,
            refund.split.refund.amount,
            destination,
            &metadata,
            &format!("refund-{}", refund.id),
        )
        .await;
    let stripe_refund = match created {
        Ok(stripe_refund) => stripe_refund,
        // The answer was lost or unreadable: Stripe may have refunded. Look for the refund by our id; if it cannot
        // be found the refund stays pending (never failed) and an operator is alerted.
        Err(error) if outcome_unknown(&error) => {
            let wanted = refund.id.to_string();
            let found = match service.client.refunds_of(&intent).await {
                Ok(list) => list
                    .data
                    .into_iter()
                    .find(|r| r.metadata.get("refund_id") == Some(&wanted)),
                Err(_) => None,
            };
            match found {
                Some(found) => found,
                None => {
                    let _ = store
                        .raise_alert(
                            Some(scope.partner()),
                            "payments.refund_unknown",
                            &format!(
                                "refund {}: Stripe's answer was lost ({error}); check it at Stripe",
                                refund.id
                            ),
                            now,
                        )
                        .await;
                    return Err(error);
                }
            }
        }
        Err(error) => return failed(error).await,
    };
    let mut reversal = None;
    if !destination && refund.split.transfer_reversal.amount > 0 {
        let transfer = store.transfer(scope, payment.id).await.ok().flatten();
        if let Some((order, transfer_id)) = transfer
            .filter(|t| t.status == TransferStatus::Sent)
            .and_then(|t| t.stripe_transfer.clone().map(|id| (t, id)))
        {
            // The transfer went out in the settlement currency: its reversal is the same proportion of what Stripe
            // sent, and the last one takes exactly what is left there. A small refund's share may round to nothing
            // (the last reversal then takes it): no call, and no failure.
            let reversed = match service.client.transfer(&transfer_id).await {
                Ok(at_stripe) => match settled_reversal(
                    refund.split.transfer_reversal.amount,
                    order.amount.amount,
                    order.reversed.amount,
                    at_stripe.amount,
                    at_stripe.amount_reversed,
                ) {
                    0 => Ok(None),
                    amount => service
                        .client
                        .reverse_transfer(&transfer_id, amount, &format!("reversal-{}", refund.id))
                        .await
                        .map(Some),
                },
                Err(error) => Err(error),
            };
            match reversed {
                Ok(done) => reversal = done.map(|d| d.id),
                Err(error) => {
                    let _ = store
                        .raise_alert(
                            Some(scope.partner()),
                            "payments.reversal_failed",
                            &format!("refund {}: transfer reversal failed: {error}", refund.id),
                            now,
                        )
                        .await;
                }
            }
        }
    }
    store
        .complete_refund(scope, refund.id, &stripe_refund.id, reversal.as_deref(), now)
        .await
        .map_err(|e| StripeError::Decode(e.to_string()))
}

/// The platform's periodic payment work for every partner that takes payments.
pub async fn upkeep(store: &Arc<dyn Store>, service: &PaymentService, clock: &Arc<dyn Clock>) {
    let Ok(partners) = store.payment_partners().await else {
        return;
    };
    for partner in partners {
        let scope = TenantScope::from_proof(&JobAuthority::new("payments-upkeep", partner));
        if let Err(error) = read_back_account(store, service, &scope, clock.now()).await {
            tracing::warn!(%partner, %error, "connected account not read back");
        }
        send_due_transfers(store, service, &scope, clock.now()).await;
        release_expired_holds(store, service, &scope, clock.now()).await;
        crate::deposits::settle_due(store, service, &scope, clock.now()).await;
    }
}

/// A sent transfer must be at Stripe for exactly the amount and currency recorded here (the settlement currency),
/// to the partner's account. The detail names both currencies.
async fn transfer_mismatch(
    store: &Arc<dyn Store>,
    service: &PaymentService,
    scope: &TenantScope,
    payment: &Payment,
) -> Option<String> {
    let order = store.transfer(scope, payment.id).await.ok().flatten()?;
    if order.status != TransferStatus::Sent {
        return None;
    }
    let id = order.stripe_transfer.clone()?;
    let here = match &order.settled {
        Some(settled) => (settled.amount, settled.currency.to_ascii_lowercase()),
        None => (
            order.amount.amount,
            order.amount.currency.code().to_ascii_lowercase(),
        ),
    };
    match service.client.transfer(&id).await {
        Ok(at_stripe)
            if (at_stripe.amount, at_stripe.currency.to_ascii_lowercase()) == here
                && at_stripe.destination.as_deref() == Some(order.destination.as_str()) =>
        {
            None
        }
        Ok(at_stripe) => Some(format!(
            "payment {}: transfer {id} of {} {} is {} {} to {} at Stripe, {} {} to {} here ({} {} before conversion)",
            payment.id,
            order.amount.amount,
            order.amount.currency.code(),
            at_stripe.amount,
            at_stripe.currency,
            at_stripe.destination.as_deref().unwrap_or("(none)"),
            here.0,
            here.1,
            order.destination,
            order.amount.amount,
            order.amount.currency.code(),
        )),
        Err(error) => Some(format!(
            "payment {}: transfer {id} not readable at Stripe: {error}",
            payment.id
        )),
    }
}

/// MON-3: every succeeded payment of the window must be a succeeded PaymentIntent at Stripe for the same amount, and
/// every succeeded PaymentIntent at Stripe must be a succeeded payment here; each sent transfer must be at Stripe for
/// the amount and settlement currency recorded here. Each mismatch raises an alert; the
/// mismatches are returned.
pub async fn reconcile(
    store: &Arc<dyn Store>,
    service: &PaymentService,
    since: OffsetDateTime,
    now: OffsetDateTime,
) -> anyhow::Result<Vec<String>> {
    let intents = service
        .client
        .payment_intents_since(since.unix_timestamp())
        .await?;
    let mut mismatches: Vec<(Option<PartnerId>, String)> = Vec::new();
    let mut at_stripe = std::collections::HashMap::new();
    for intent in &intents {
        at_stripe.insert(intent.id.clone(), intent);
        if intent.status != "succeeded" {
            continue;
        }
        let Some(payment_id) = payment_of(intent) else {
            mismatches.push((
                None,
                format!("{}: succeeded at Stripe, names no comanda payment", intent.id),
            ));
            continue;
        };
        let Some(partner) = store.payment_partner(payment_id).await? else {
            mismatches.push((
                None,
                format!("{}: succeeded at Stripe, payment {payment_id} unknown", intent.id),
            ));
            continue;
        };
        let scope = TenantScope::from_proof(&JobAuthority::new("payments-reconcile", partner));
        match store.payment(&scope, payment_id).await {
            Ok(p)
                if p.status == PaymentStatus::Succeeded
                    && p.settlement.charged.amount == intent.amount_received => {}
            Ok(p) => mismatches.push((
                Some(partner),
                format!(
                    "{}: succeeded at Stripe for {}, payment {payment_id} is {} for {}",
                    intent.id,
                    intent.amount_received,
                    p.status.as_str(),
                    p.settlement.charged.amount
                ),
            )),
            Err(_) => mismatches.push((
                Some(partner),
                format!("{}: payment {payment_id} not found", intent.id),
            )),
        }
    }
    for partner in store.payment_partners().await? {
        let scope = TenantScope::from_proof(&JobAuthority::new("payments-reconcile", partner));
        for payment in store.succeeded_payments(&scope, since).await? {
            if let Some(detail) = transfer_mismatch(store, service, &scope, &payment).await {
                mismatches.push((Some(partner), detail));
            }
            let intent = payment.payment_intent.as_ref().and_then(|id| at_stripe.get(id));
            let fine = intent.is_some_and(|i| {
                i.status == "succeeded" && i.amount_received == payment.settlement.charged.amount
            });
            if !fine {
                mismatches.push((
                    Some(partner),
                    format!(
                        "payment {} is paid here but {} at Stripe",
                        payment.id,
                        intent.map_or("missing", |i| i.status.as_str())
                    ),
                ));
            }
        }
    }
    for (partner, detail) in &mismatches {
        tracing::error!(alert = "payments.mismatch", %detail, "payment reconciliation mismatch");
        store
            .raise_alert(*partner, "payments.mismatch", detail, now)
            .await?;
    }
    Ok(mismatches.into_iter().map(|(_, d)| d).collect())
}
