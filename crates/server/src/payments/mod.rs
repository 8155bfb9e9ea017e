//! Payments as a service of the server: here the Stripe client, its keys and the two webhook endpoints; what a
//! verified event means in `events`, the platform's jobs (owed transfers, abandoned holds, refunds, upkeep) in `jobs`,
//! and `reconciliation` with Stripe.

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
                "refund.updated",
                "refund.failed",
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
pub(crate) fn payment_of(intent: &PaymentIntent) -> Option<Uuid> {
    intent.metadata.get("payment_id")?.parse().ok()
}

pub mod checkout;
mod events;
mod jobs;
mod reconciliation;

pub use events::*;
pub use jobs::*;
pub use reconciliation::*;
