//! `Idempotency-Key` on every state-changing request a signed-in member sends (API.md: the same key with the same
//! body returns the first answer, with another body 409), in the manner of Stripe's idempotent requests: a key is
//! the member's own and names one request (method, path and body) for 24 hours; its first successful answer (2xx)
//! is kept and replayed with `Idempotent-Replayed: true`. A refusal (4xx) or a failure (5xx) changed nothing (no
//! route writes part of a refused request), so it keeps nothing and the key stays free for the corrected or retried
//! request; a retry while the first is still being answered is 409. Answers are
//! sealed at rest with the member's own key. Routes whose answer shows a secret once (second factors, session
//! tokens, a payout onboarding link) keep only that they were answered: a retry is told so (409) and never runs
//! twice. Guests' orders and payments, public bookings, waitlist joins and refunds keep their key with the record
//! they create, in its transaction (bookings and refunds pass through here untouched).

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use comanda_store::idempotency::{Claim, StoredAnswer};

use crate::app::AppState;
use crate::auth::Caller;
use crate::problem::{ApiError, Problem, ProblemType};

/// How long a key names its request (Stripe keeps keys at least 24 hours).
const KEPT_FOR: time::Duration = time::Duration::DAY;
/// A request unanswered this long is taken as abandoned (its server stopped mid-way): the key may run again.
const ABANDONED_AFTER: time::Duration = time::Duration::minutes(2);
/// The largest answer kept; state-changing routes answer a record or a short list, far below it.
const LARGEST_ANSWER: usize = 1024 * 1024;

/// Routes that keep the key with the record they create, in its own transaction.
fn keeps_its_own_key(method: &Method, route: &str) -> bool {
    method == Method::POST
        && matches!(
            route,
            "/api/v1/venues/{venue}/reservations" | "/api/v1/payments/{payment}/refunds"
        )
}

/// Routes whose answer shows a secret once: the second factor's secret and recovery codes, session tokens, the
/// Stripe onboarding link. Their answers are not kept.
fn answer_shows_a_secret(route: &str) -> bool {
    route.starts_with("/api/v1/auth/") || route == "/api/v1/payouts/onboarding"
}

/// Answers `request` once per key: see the module's documentation.
pub async fn answer_once(
    state: &AppState,
    caller: &Caller,
    route: &str,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    if matches!(method, Method::GET | Method::HEAD | Method::OPTIONS) || keeps_its_own_key(&method, route) {
        return next.run(request).await;
    }
    let key = match crate::routes::guest::idempotency_key(request.headers()) {
        Ok(Some(key)) => key,
        Ok(None) => return next.run(request).await,
        Err(error) => return error.into_response(),
    };
    let (parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, state.settings.body_limit_bytes).await else {
        return Problem::new(ProblemType::PayloadTooLarge)
            .detail("the request body exceeds this server's limit")
            .into_response();
    };
    let mut asked = ring::digest::Context::new(&ring::digest::SHA256);
    asked.update(method.as_str().as_bytes());
    asked.update(b" ");
    asked.update(parts.uri.path().as_bytes());
    asked.update(b"?");
    asked.update(parts.uri.query().unwrap_or_default().as_bytes());
    asked.update(b"\n");
    asked.update(&body);
    let asked = asked.finish();
    let (scope, member) = (&caller.scope, caller.member.id);
    let now = state.clock.now();
    let claim = state
        .store
        .claim_idempotency(
            scope,
            member,
            &key,
            asked.as_ref(),
            now - KEPT_FOR,
            now - ABANDONED_AFTER,
            now,
        )
        .await;
    match claim {
        Err(error) => ApiError::from(error).into_response(),
        Ok(Claim::KeyReused) => Problem::new(ProblemType::Conflict)
            .detail("this Idempotency-Key was sent with another request")
            .into_response(),
        Ok(Claim::InFlight) => Problem::new(ProblemType::Conflict)
            .detail("a request with this Idempotency-Key is still being answered; retry in a moment")
            .into_response(),
        Ok(Claim::Answered(answer)) => replay(answer),
        Ok(Claim::Claimed) => {
            let response = next.run(Request::from_parts(parts, Body::from(body))).await;
            let (head, body) = response.into_parts();
            let body = to_bytes(body, LARGEST_ANSWER).await;
            let kept = match &body {
                Ok(bytes) if head.status.is_success() => {
                    let shown_once = answer_shows_a_secret(route);
                    Some(StoredAnswer {
                        status: head.status.as_u16(),
                        content_type: (!shown_once)
                            .then(|| head.headers.get(header::CONTENT_TYPE))
                            .flatten()
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned),
                        body: (!shown_once)
                            .then(|| String::from_utf8(bytes.to_vec()).ok())
                            .flatten(),
                    })
                }
                _ => None,
            };
            let recorded = match &kept {
                Some(answer) => state.store.finish_idempotency(scope, member, &key, answer).await,
                None => state.store.release_idempotency(scope, member, &key).await,
            };
            if let Err(error) = recorded {
                tracing::warn!(%error, "an Idempotency-Key's answer could not be recorded");
            }
            match body {
                Ok(bytes) => Response::from_parts(head, Body::from(bytes)),
                Err(_) => Problem::new(ProblemType::Internal).into_response(),
            }
        }
    }
}

/// The first answer again, marked as a replay; one whose body was not kept is a 409 saying so.
fn replay(answer: StoredAnswer) -> Response {
    let (Some(body), Ok(status)) = (answer.body, StatusCode::from_u16(answer.status)) else {
        return Problem::new(ProblemType::Conflict)
            .detail(
                "this request was answered already; its answer showed a secret once and is not kept, so it is not \
                 sent again",
            )
            .into_response();
    };
    let mut response = (status, body).into_response();
    if let Some(media) = answer.content_type.and_then(|m| HeaderValue::from_str(&m).ok()) {
        response.headers_mut().insert(header::CONTENT_TYPE, media);
    }
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}
