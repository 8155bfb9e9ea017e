//! Platform routes: liveness, readiness, metrics, the OpenAPI document, security.txt and CSP violation reports.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::app::AppState;
use crate::config::SecurityTxtConfig;
use crate::extract::ApiJson;
use crate::problem::{ApiError, Problem, ProblemType};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` while the process serves.
    pub status: &'static str,
}

/// Liveness: the process is up and serving.
#[utoipa::path(get, path = "/healthz", tag = "platform", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Readiness {
    pub status: &'static str,
    /// `sqlite` or `postgresql`.
    pub database: &'static str,
}

/// Readiness: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "platform", responses(
    (status = 200, body = Readiness),
    (status = 503, body = Problem, content_type = "application/problem+json")
))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Readiness>, ApiError> {
    state.store.ping().await.map_err(|error| {
        tracing::warn!(%error, "readiness check failed");
        Problem::new(ProblemType::Unavailable)
            .detail("the database does not answer")
            .retry_after(5)
    })?;
    Ok(Json(Readiness {
        status: "ready",
        database: state.store.engine().name(),
    }))
}

/// Prometheus metrics: requests by route and status, latency histograms. Readable from this machine (a scraper on
/// loopback) or with the configured bearer token; to anyone else the route does not exist.
#[utoipa::path(get, path = "/metrics", tag = "platform", responses(
    (status = 200, content_type = "text/plain; version=0.0.4", body = String),
    (status = 404, body = Problem, content_type = "application/problem+json")
))]
pub async fn metrics(State(state): State<AppState>, extensions: Extensions, headers: HeaderMap) -> Response {
    // A reverse proxy on this machine also connects from loopback: a request that was forwarded is never "local".
    let forwarded = ["forwarded", "x-forwarded-for", "x-real-ip"]
        .iter()
        .any(|h| headers.contains_key(*h));
    let from_loopback = !forwarded
        && extensions
            .get::<ConnectInfo<SocketAddr>>()
            .is_some_and(|ConnectInfo(addr)| addr.ip().is_loopback());
    let bearer_ok = match (&state.settings.metrics_token, bearer(&headers)) {
        (Some(expected), Some(given)) => {
            comanda_security::constant_time_eq(expected.expose().as_bytes(), given.as_bytes())
        }
        _ => false,
    };
    if !(from_loopback || bearer_ok) {
        return Problem::new(ProblemType::NotFound)
            .detail("no such route")
            .into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        state.metrics.render(),
    )
        .into_response()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

/// The OpenAPI 3.1 document of every route, generated from the code.
#[utoipa::path(get, path = "/openapi.json", tag = "platform", responses(
    (status = 200, content_type = "application/json", body = Object)
))]
pub async fn openapi(State(state): State<AppState>) -> Response {
    let body = state.openapi_json.get().cloned().unwrap_or_else(|| "{}".into());
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response()
}

/// RFC 9116 security.txt: where to report a vulnerability.
#[utoipa::path(get, path = "/.well-known/security.txt", tag = "platform", responses(
    (status = 200, content_type = "text/plain; charset=utf-8", body = String)
))]
pub async fn security_txt_route(State(state): State<AppState>) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            ),
        ],
        state.settings.security_txt.clone(),
    )
        .into_response()
}

/// Builds the security.txt text; `Expires` is a year out from start, as RFC 9116 recommends (under a year).
pub fn security_txt(config: &SecurityTxtConfig, public_url: Option<&str>, now: OffsetDateTime) -> String {
    let expires = (now + time::Duration::days(364))
        .replace_nanosecond(0)
        .unwrap_or(now);
    let expires = expires.format(&Rfc3339).unwrap_or_default();
    let mut text = format!(
        "Contact: {}\nExpires: {expires}\nPolicy: {}\nPreferred-Languages: {}\n",
        config.contact, config.policy, config.preferred_languages
    );
    if let Some(origin) = public_url {
        text.push_str(&format!("Canonical: {origin}/.well-known/security.txt\n"));
    }
    text
}

/// A browser's Content-Security-Policy violation report (`application/csp-report`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CspReportEnvelope {
    #[serde(rename = "csp-report")]
    pub report: CspReport,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub struct CspReport {
    #[serde(default)]
    pub document_uri: String,
    #[serde(default)]
    pub violated_directive: String,
    #[serde(default)]
    pub effective_directive: String,
    #[serde(default)]
    pub blocked_uri: String,
    #[serde(default)]
    pub disposition: String,
}

/// Receives CSP violation reports, the early warning that a page loads a script it should not (PCI DSS 11.6.1).
#[utoipa::path(post, path = "/api/v1/csp-reports", tag = "platform",
    request_body(content = CspReportEnvelope, content_type = "application/csp-report"),
    responses(
        (status = 204),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn csp_report(ApiJson(envelope): ApiJson<CspReportEnvelope>) -> StatusCode {
    let report = envelope.report;
    metrics::counter!("csp_violations_total", "directive" => truncate(&report.effective_directive, 40))
        .increment(1);
    tracing::warn!(
        document = %truncate(&report.document_uri, 300),
        directive = %truncate(&report.violated_directive, 200),
        blocked = %truncate(&report.blocked_uri, 300),
        disposition = %truncate(&report.disposition, 20),
        "content security policy violation"
    );
    StatusCode::NO_CONTENT
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn security_txt_has_the_rfc_9116_fields() {
        let text = security_txt(
            &SecurityTxtConfig::default(),
            Some("https://comanda.example"),
            datetime!(2026-11-23 10:00:00.5 UTC),
        );
        assert!(text.contains("Contact: mailto:security@comanda.dev\n"));
        assert!(text.contains("Expires: 2027-11-22T10:00:00Z\n"));
        assert!(text.contains("Canonical: https://comanda.example/.well-known/security.txt\n"));
    }
}
