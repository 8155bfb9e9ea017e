//! PCI DSS SAQ A: card data never reaches our servers. Card numbers are typed into Stripe Elements in the guest's
//! browser; a request that carries a card-like number anyway (in its path, query, a header or its body, wherever it
//! stands there: glued to letters or an underscore too) is refused with 400 before any handler runs, and the number
//! itself is never logged, stored or echoed. What counts as a card number is [`comanda_security::pan`]'s rule.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use comanda_security::pan::{contains_pan, contains_typed_pan};
use percent_encoding::percent_decode_str;

use crate::problem::{Problem, ProblemType};

/// Where a card-like number was found; the only thing about it that is ever logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Path,
    Query,
    Header(String),
    Body,
}

impl Location {
    fn label(&self) -> String {
        match self {
            Location::Path => "path".into(),
            Location::Query => "query".into(),
            Location::Header(name) => format!("header:{name}"),
            Location::Body => "body".into(),
        }
    }
}

/// Marks the guard's refusal, so the audit of a signed-in caller's refused request (MON-6) leaves out its path,
/// which may be where the card number was.
#[derive(Debug, Clone, Copy)]
pub struct CardDataRefused;

/// The body limit, so the guard can read the whole body without becoming a way around the limit.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

pub async fn pan_guard(State(BodyLimit(limit)): State<BodyLimit>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let mut found = find_in_head(&parts);
    let bytes = match to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return Problem::new(ProblemType::PayloadTooLarge)
                .detail("the request body exceeds this server's limit")
                .into_response();
        }
    };
    if found.is_none() && body_has_pan(&bytes) {
        found = Some(Location::Body);
    }
    if let Some(location) = found {
        let label = location.label();
        metrics::counter!("pan_guard_rejections_total", "location" => label.clone()).increment(1);
        tracing::warn!(location = %label, "request carrying a card-like number refused");
        let mut refused = Problem::new(ProblemType::CardDataRefused)
            .detail("card numbers are never accepted here: pay through the secure payment form")
            .into_response();
        refused.extensions_mut().insert(CardDataRefused);
        return refused;
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

fn find_in_head(parts: &axum::http::request::Parts) -> Option<Location> {
    // The path is kept (the audit log of a signed-in caller's request): read as typed text, like a query value.
    let path = percent_decode_str(parts.uri.path()).decode_utf8_lossy();
    if contains_pan(&path) || contains_typed_pan(&path) {
        return Some(Location::Path);
    }
    if let Some(query) = parts.uri.query() {
        let decoded = form_urlencoded::parse(query.as_bytes())
            .any(|(k, v)| contains_pan(&k) || contains_pan(&v) || contains_typed_pan(&v));
        if decoded || contains_pan(query) {
            return Some(Location::Query);
        }
    }
    parts
        .headers
        .iter()
        .filter(|(name, _)| !MACHINE_HEADERS.contains(&name.as_str()))
        .find(|(name, value)| {
            let text = String::from_utf8_lossy(value.as_bytes());
            contains_pan(&text) || (KEPT_HEADERS.contains(&name.as_str()) && contains_typed_pan(&text))
        })
        .map(|(name, _)| Location::Header(name.as_str().to_owned()))
}

/// Headers whose value a client chooses and comanda keeps (an order's idempotency key and guest device are stored,
/// the request id goes to the audit log and the access log): read as typed text too, any separator
/// (`4242.4242.4242.4242`). The others keep the stricter rule: browsers write version strings, address lists and
/// cookies of other tools with dots and commas between digit groups (`_ga=GA1.1.1234567890.1701234567`), and a
/// false alarm there would refuse every request of that browser.
const KEPT_HEADERS: &[&str] = &["idempotency-key", "x-guest-device", "x-request-id"];

/// Headers that infrastructure fills with hex identifiers, never a person: Stripe's webhook signature (an HMAC in
/// hex) and distributed-tracing ids (W3C Trace Context, Google Cloud's, AWS's, Zipkin's B3). A random hex string
/// holds a 13–19 digit run in a card scheme's range often enough (about 1 trace id in 800, measured in
/// `comanda_security::pan`'s corpus) that scanning them would refuse real traffic — a webhook Stripe could then
/// never deliver — while no card number can reach them from a guest.
const MACHINE_HEADERS: &[&str] = &[
    "stripe-signature",
    "traceparent",
    "tracestate",
    "x-cloud-trace-context",
    "x-amzn-trace-id",
    "b3",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
];

/// Scans the body as text, and also as JSON when it parses, so `\u0034`-escaped digits cannot slip past.
fn body_has_pan(bytes: &[u8]) -> bool {
    if bytes.is_empty() {
        return false;
    }
    if contains_pan(&String::from_utf8_lossy(bytes)) {
        return true;
    }
    serde_json::from_slice::<serde_json::Value>(bytes).is_ok_and(|value| json_has_pan(&value))
}

fn json_has_pan(value: &serde_json::Value) -> bool {
    match value {
        // A string value is what a person typed (a note, a name): read as typed, any separator or script.
        serde_json::Value::String(text) => contains_pan(text) || contains_typed_pan(text),
        // A number holds no escapes: the scan of the raw text above read it as it was written. Rendered again it
        // could make up digits nobody sent (`-269641062653210476412928`, past what a u64 holds, becomes
        // `-2.6964106265321047e23`, whose 16 digits after the point pass for a Mastercard).
        serde_json::Value::Number(_) => false,
        serde_json::Value::Array(items) => items.iter().any(json_has_pan),
        serde_json::Value::Object(map) => map.iter().any(|(k, v)| contains_pan(k) || json_has_pan(v)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_headers_with_hex_ids_are_not_scanned_and_others_are() {
        // A W3C trace id whose hex holds a Luhn-valid Visa-range run (4242424242424242).
        let traced = axum::http::Request::builder()
            .uri("/healthz")
            .header(
                "traceparent",
                "00-4242424242424242a0b1c2d3e4f5a6b7-00f067aa0ba902b7-01",
            )
            .header("stripe-signature", "t=1700000000,v1=4242424242424242deadbeef")
            .body(())
            .unwrap();
        assert_eq!(find_in_head(&traced.into_parts().0), None);
        let typed = axum::http::Request::builder()
            .uri("/healthz")
            .header("x-note", "card 4242424242424242")
            .body(())
            .unwrap();
        assert!(find_in_head(&typed.into_parts().0).is_some());
    }

    #[test]
    fn escaped_json_digits_are_seen() {
        assert!(body_has_pan(br#"{"n": "\u0034242424242424242"}"#));
        assert!(body_has_pan(br#"{"card": {"number": 4111111111111111}}"#));
        assert!(!body_has_pan(
            br#"{"amount": 4500000, "id": "01936b5e-2c4f-7a1b-4242-424242424242"}"#
        ));
        // Found by schemathesis on the CSP report route: a long integer is one 24-digit number, not a card.
        assert!(!body_has_pan(
            br#"{"csp-report": {"a": [-269641062653210476412928, -4.030990182933866e+16]}}"#
        ));
    }

    #[test]
    fn glued_card_numbers_in_bodies_are_seen() {
        for body in [
            &br#"{"name":"x4242424242424242"}"#[..],
            br#"{"name":"_4242424242424242"}"#,
            br#"{"note":"card4242424242424242end"}"#,
            br#"{"x4242424242424242":1}"#,
            br#"{"name":"x\u0034242424242424242"}"#,
            b"name=4242424242424242x",
        ] {
            assert!(body_has_pan(body), "{}", String::from_utf8_lossy(body));
        }
    }
}
