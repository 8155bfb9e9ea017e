//! Stripe webhook signatures (PAY-4), as Stripe documents them: the `Stripe-Signature` header carries a timestamp
//! `t` and one or more `v1` signatures, each an HMAC-SHA256 (hex) of `"{t}.{raw body}"` keyed with the endpoint's
//! signing secret (`whsec_…`, used as-is). A signature is accepted only if one `v1` matches and `t` is within the
//! tolerance of our clock; everything else (other schemes such as `v0`, malformed headers) is refused.
//!
//! The same module signs, so the Stripe stand-in used in tests and demo mode produces exactly what Stripe sends.

use comanda_domain::PartnerId;
use ring::hmac;
use time::OffsetDateTime;

use crate::tenancy::{AuthorityProof, sealed};

/// Stripe's default tolerance, and ours.
pub const TOLERANCE_SECS: i64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing or malformed Stripe-Signature header")]
    Malformed,
    #[error("no v1 signature matches")]
    Mismatch,
    #[error("timestamp outside the tolerance")]
    Stale,
}

fn mac(secret: &str, timestamp: i64, payload: &[u8]) -> Vec<u8> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut context = hmac::Context::with_key(&key);
    context.update(timestamp.to_string().as_bytes());
    context.update(b".");
    context.update(payload);
    context.sign().as_ref().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The `Stripe-Signature` header value for `payload` at `timestamp`.
pub fn sign(secret: &str, timestamp: i64, payload: &[u8]) -> String {
    format!("t={timestamp},v1={}", hex(&mac(secret, timestamp, payload)))
}

/// A webhook body whose signature verified: the only way to a tenant scope from a payment provider's event.
#[derive(Debug)]
pub struct VerifiedWebhook<'a> {
    pub payload: &'a [u8],
    pub timestamp: i64,
}

impl VerifiedWebhook<'_> {
    /// Proof that the signed event concerns `partner` (named in the metadata we attached when creating the object).
    pub fn attests(&self, partner: PartnerId) -> ProviderAttestation {
        ProviderAttestation { partner }
    }
}

/// The payment provider, in a signed event, named this partner as the owner of the object the event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderAttestation {
    partner: PartnerId,
}

impl sealed::Sealed for ProviderAttestation {}
impl AuthorityProof for ProviderAttestation {
    fn proven_partner(&self) -> PartnerId {
        self.partner
    }
}

/// Checks `header` against `payload` with every configured secret (two during a secret roll).
pub fn verify<'a>(
    secrets: &[&str],
    header: &str,
    payload: &'a [u8],
    now: OffsetDateTime,
) -> Result<VerifiedWebhook<'a>, SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (key, value) = part.trim().split_once('=').ok_or(SignatureError::Malformed)?;
        match key {
            "t" => timestamp = Some(value.parse::<i64>().map_err(|_| SignatureError::Malformed)?),
            "v1" => signatures.push(unhex(value).ok_or(SignatureError::Malformed)?),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let matched = secrets.iter().any(|secret| {
        let expected = mac(secret, timestamp, payload);
        signatures.iter().any(|s| crate::constant_time_eq(s, &expected))
    });
    if !matched {
        return Err(SignatureError::Mismatch);
    }
    if (now.unix_timestamp() - timestamp).abs() > TOLERANCE_SECS {
        return Err(SignatureError::Stale);
    }
    Ok(VerifiedWebhook { payload, timestamp })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";

    #[test]
    fn matches_stripes_published_scheme() {
        // HMAC-SHA256("whsec_test_secret", "1700000000.{}") computed independently (python hmac).
        let header = sign(SECRET, 1_700_000_000, b"{}");
        assert_eq!(
            header,
            "t=1700000000,v1=ceb8863f7208fa249a6cd8f951e993c7563412aca65866f6272283debe143ab3"
        );
    }

    #[test]
    fn accepts_only_a_fresh_matching_v1() {
        let now = OffsetDateTime::from_unix_timestamp(1_700_000_100).unwrap();
        let body = br#"{"id":"evt_1"}"#;
        let good = sign(SECRET, 1_700_000_000, body);
        assert!(verify(&[SECRET], &good, body, now).is_ok());
        // Another secret during a roll.
        assert!(verify(&["whsec_old", SECRET], &good, body, now).is_ok());
        assert_eq!(
            verify(&["whsec_other"], &good, body, now).unwrap_err(),
            SignatureError::Mismatch
        );
        assert_eq!(
            verify(&[SECRET], &good, br#"{"id":"evt_2"}"#, now).unwrap_err(),
            SignatureError::Mismatch
        );
        let late = OffsetDateTime::from_unix_timestamp(1_700_000_301).unwrap();
        assert_eq!(
            verify(&[SECRET], &good, body, late).unwrap_err(),
            SignatureError::Stale
        );
        let v0_only = good.replace("v1=", "v0=");
        assert_eq!(
            verify(&[SECRET], &v0_only, body, now).unwrap_err(),
            SignatureError::Malformed
        );
        assert_eq!(
            verify(&[SECRET], "garbage", body, now).unwrap_err(),
            SignatureError::Malformed
        );
        // Extra signatures (Stripe sends several during a secret roll) are fine as long as one matches.
        let two = format!("{good},v1=00");
        assert!(verify(&[SECRET], &two, body, now).is_ok());
    }
}
