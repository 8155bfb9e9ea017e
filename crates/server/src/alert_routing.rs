//! Alert routing (MON-4). Every alert comanda raises (a payment that disagrees with Stripe, a failed backup, a stale
//! restore test, an event of an unpinned API version …) is recorded in the `alerts` table and written to the error
//! log. With `alerts.webhook_url` set, it is also POSTed to an on-call destination until the destination answers
//! 2xx, signed as the Standard Webhooks specification says (<https://www.standardwebhooks.com/>, "Signature
//! scheme"): `webhook-id` (the alert's id), `webhook-timestamp` (Unix seconds) and `webhook-signature`
//! (`v1,` and the base64 HMAC-SHA256, under the secret's bytes, of `{id}.{timestamp}.{body}`).
//!
//! Delivery is at least once, oldest first: an alert the destination refuses is tried again at the next round
//! while the others go on; when the destination cannot be reached the round stops. Two instances may both send an
//! alert before either records it, so the destination drops repeats by `webhook-id`, as the specification asks of
//! receivers. An alert still not accepted after [`ROUTING_WINDOW`] is given up, with an error log line (which
//! error reporting, MON-7, carries) naming it. The alert's `detail` passes the log redaction before it leaves.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use comanda_domain::Clock;
use comanda_store::Store;
use comanda_store::payments::Alert;
use ring::hmac;
use tokio::sync::watch;

use crate::config::AlertsConfig;

/// Alerts older than this that were never accepted are given up (they stay in the `alerts` table, and the give-up
/// is an error log line): a destination configured today is not flooded with last month's alerts.
pub const ROUTING_WINDOW: time::Duration = time::Duration::hours(24);

/// At most this many alerts per round.
const ROUND: i64 = 50;

const SECRET_PREFIX: &str = "whsec_";

/// Checks `alerts.*`: the URL and the secret come together, the URL is `https://` (plain `http://` only to a
/// loopback address, where nothing crosses a network), the secret is `whsec_` and base64 of 24 to 64 bytes.
pub fn check_settings(config: &AlertsConfig) -> Result<(), String> {
    if !(1..=3600).contains(&config.route_every_secs) {
        return Err("route_every_secs must be between 1 and 3600".into());
    }
    match (&config.webhook_url, &config.webhook_secret) {
        (None, None) => Ok(()),
        (Some(url), Some(secret)) => {
            destination(url)?;
            secret_bytes(secret.expose())?;
            Ok(())
        }
        _ => Err("webhook_url and webhook_secret are set together".into()),
    }
}

fn destination(url: &str) -> Result<reqwest::Url, String> {
    https_or_loopback(url).map_err(|e| format!("webhook_url {e}"))?;
    reqwest::Url::parse(url).map_err(|e| format!("webhook_url: {e}"))
}

/// `Ok` for an `https://` URL, or an `http://` one to a loopback address, where nothing crosses a network.
pub fn https_or_loopback(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| e.to_string())?;
    let loopback = match parsed.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    };
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err("must be https:// (http:// only to a loopback address)".into()),
    }
}

fn secret_bytes(secret: &str) -> Result<Vec<u8>, String> {
    let encoded = secret
        .strip_prefix(SECRET_PREFIX)
        .ok_or("webhook_secret must start with whsec_")?;
    let bytes = STANDARD
        .decode(encoded)
        .map_err(|_| "webhook_secret must be whsec_ and base64")?;
    if !(24..=64).contains(&bytes.len()) {
        return Err("webhook_secret must hold 24 to 64 bytes".into());
    }
    Ok(bytes)
}

/// The `webhook-signature` of one delivery: `v1,` and base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")).
pub fn signature(key: &hmac::Key, id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut signed = format!("{id}.{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    format!("v1,{}", STANDARD.encode(hmac::sign(key, &signed)))
}

/// How urgent an alert is, in PagerDuty's Events API v2 terms (`critical`, `error`, `warning`, `info`), for the
/// on-call destination to page or only queue: a new device alone is `info` (a member's new browser is usually
/// theirs, and the member is told too); every other alert is `critical`.
pub fn severity(kind: &str) -> &'static str {
    match kind {
        "auth.new_device" => "info",
        _ => "critical",
    }
}

/// The body of one delivery: the Standard Webhooks envelope (`type`, `timestamp`, `data`).
fn payload(alert: &Alert) -> serde_json::Value {
    let at = alert
        .created_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    serde_json::json!({
        "type": "alert.raised",
        "timestamp": at,
        "data": {
            "id": alert.id,
            "kind": alert.kind,
            "severity": severity(&alert.kind),
            "partner_id": alert.partner.map(|p| p.as_uuid()),
            "detail": comanda_security::redact::redact_text(&alert.detail),
            "created_at": at,
        },
    })
}

/// Raises an alert: an error log line (which error reporting carries, MON-7; a warning for an `info` alert) and a
/// row of `alerts`, which the router sends on call (MON-4). The server's alerts all go through here (the backup crate logs its own the same
/// way).
pub async fn raise(
    store: &dyn Store,
    partner: Option<comanda_domain::PartnerId>,
    kind: &str,
    detail: &str,
    now: time::OffsetDateTime,
) -> comanda_store::StoreResult<Alert> {
    // An `info` alert is a notice, not an error: at error level, error reporting (MON-7) would carry every one.
    match severity(kind) {
        "info" => tracing::warn!(alert = kind, %detail, "alert raised"),
        _ => tracing::error!(alert = kind, %detail, "alert raised"),
    }
    store.raise_alert(partner, kind, detail, now).await
}

/// Sends unrouted alerts to the configured destination.
pub struct AlertRouter {
    http: reqwest::Client,
    url: reqwest::Url,
    key: hmac::Key,
}

impl AlertRouter {
    /// The router `alerts.*` asks for, or `None` when no destination is configured.
    pub fn from_config(config: &AlertsConfig) -> anyhow::Result<Option<Self>> {
        let (Some(url), Some(secret)) = (&config.webhook_url, &config.webhook_secret) else {
            return Ok(None);
        };
        let url = destination(url).map_err(anyhow::Error::msg)?;
        let key = hmac::Key::new(
            hmac::HMAC_SHA256,
            &secret_bytes(secret.expose()).map_err(anyhow::Error::msg)?,
        );
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Some(Self { http, url, key }))
    }

    /// One round: the unrouted alerts of the last [`ROUTING_WINDOW`], oldest first, each sent once (the round
    /// stops when the destination cannot be reached); older ones are given up. Answers how many were accepted.
    pub async fn route_pending(&self, store: &dyn Store, clock: &dyn Clock) -> usize {
        let now = clock.now();
        match store.abandon_unrouted_alerts(now - ROUTING_WINDOW, now).await {
            Ok(abandoned) => {
                for alert in abandoned {
                    tracing::error!(alert = %alert.id, kind = %alert.kind, raised_at = %alert.created_at,
                        "the on-call destination never accepted this alert; no longer sending it");
                }
            }
            Err(error) => tracing::warn!(%error, "unrouted alerts could not be given up"),
        }
        let pending = match store.unrouted_alerts(now - ROUTING_WINDOW, ROUND).await {
            Ok(pending) => pending,
            Err(error) => {
                tracing::warn!(%error, "unrouted alerts unavailable");
                return 0;
            }
        };
        let mut routed = 0;
        for alert in pending {
            let id = alert.id.to_string();
            let body = payload(&alert).to_string();
            let timestamp = clock.now().unix_timestamp();
            let sent = self
                .http
                .post(self.url.clone())
                .header("content-type", "application/json")
                .header("webhook-id", &id)
                .header("webhook-timestamp", timestamp.to_string())
                .header(
                    "webhook-signature",
                    signature(&self.key, &id, timestamp, body.as_bytes()),
                )
                .body(body)
                .send()
                .await;
            match sent {
                Ok(answer) if answer.status().is_success() => {
                    if let Err(error) = store.mark_alert_routed(alert.id, clock.now()).await {
                        tracing::warn!(%error, alert = %alert.id, "routed alert not recorded; it may be sent again");
                    }
                    routed += 1;
                }
                Ok(answer) => {
                    tracing::warn!(status = answer.status().as_u16(), alert = %alert.id,
                        "the on-call destination refused an alert; retrying at the next round");
                }
                Err(error) => {
                    tracing::warn!(%error, alert = %alert.id,
                        "the on-call destination could not be reached; retrying at the next round");
                    break;
                }
            }
        }
        routed
    }

    /// Runs a round every `period` until `stop` changes.
    pub fn spawn(
        self,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        period: Duration,
        mut stop: watch::Receiver<bool>,
    ) {
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(period);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticker.tick() => {
                        self.route_pending(store.as_ref(), clock.as_ref()).await;
                    }
                    _ = stop.changed() => return,
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use comanda_security::Secret;

    fn settings(url: &str, secret: &str) -> AlertsConfig {
        AlertsConfig {
            webhook_url: Some(url.into()),
            webhook_secret: Some(Secret::new(secret.into())),
            route_every_secs: 10,
        }
    }

    const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

    #[test]
    fn destinations_are_https_or_loopback_and_secrets_are_whsec() {
        assert!(check_settings(&AlertsConfig::default()).is_ok());
        assert!(check_settings(&settings("https://oncall.example.co/hook", SECRET)).is_ok());
        assert!(check_settings(&settings("http://127.0.0.1:9/hook", SECRET)).is_ok());
        assert!(check_settings(&settings("http://[::1]:9/hook", SECRET)).is_ok());
        for (url, secret) in [
            ("http://oncall.example.co/hook", SECRET),
            ("ftp://oncall.example.co/hook", SECRET),
            ("not a url", SECRET),
            (
                "https://oncall.example.co/hook",
                "C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            ),
            ("https://oncall.example.co/hook", "whsec_c2hvcnQ="),
            ("https://oncall.example.co/hook", "whsec_%%%"),
        ] {
            assert!(check_settings(&settings(url, secret)).is_err(), "{url} {secret}");
        }
        let mut half = settings("https://oncall.example.co/hook", SECRET);
        half.webhook_secret = None;
        assert!(check_settings(&half).is_err());
    }

    #[test]
    fn a_new_device_is_sent_as_info_and_every_other_alert_as_critical() {
        let alert = |kind: &str| Alert {
            id: uuid::Uuid::now_v7(),
            partner: None,
            kind: kind.into(),
            detail: "partner p member m: sign_in.new_device".into(),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        };
        assert_eq!(payload(&alert("auth.new_device"))["data"]["severity"], "info");
        for kind in [
            "auth.sign_in_anomaly",
            "auth.credential_stuffing",
            "payments.mismatch",
            "vdp.clock",
        ] {
            assert_eq!(payload(&alert(kind))["data"]["severity"], "critical", "{kind}");
        }
    }

    /// The vector of the Standard Webhooks reference library's own `test_sign` (standardwebhooks 1.0.1): this
    /// secret, id, timestamp and payload sign to this value.
    #[test]
    fn signs_the_reference_librarys_vector() {
        let key = hmac::Key::new(
            hmac::HMAC_SHA256,
            &secret_bytes("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap(),
        );
        assert_eq!(
            signature(
                &key,
                "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
                1649367553,
                br#"{"email":"test@example.com","username":"test_user"}"#
            ),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
    }
}
