//! `Idempotency-Key` on every state-changing request a signed-in member sends (API.md: the same key with the same
//! body returns the first answer, with another body 409), in the manner of Stripe's idempotent requests: a key is
//! the member's own and names one request (method, path and body) for 24 hours (the audit upkeep deletes older
//! records); its first successful answer (2xx) is kept, sealed with the member's own key, and replayed with
//! `Idempotent-Replayed: true`; a retry while the first is still being answered is 409. A refusal (4xx) or a
//! failure (5xx) is not kept: a retry runs again, and meets what the first one left (a route refuses what is already
//! done). Once claimed, a request runs to its end on its own task, so a client that goes away mid-way (the case the
//! key exists for) cannot leave it half answered; only a server that dies mid-way leaves an unanswered record, taken
//! as abandoned after two minutes.
//!
//! Not kept, only remembered as answered (a retry is told so, 409, and never runs again): answers that show a
//! secret once (second factors, recovery codes, session tokens, a payout onboarding link), answers about a data
//! subject (a privacy request's export or rectification, a host's move of a booking with the guest's note and the
//! host's reason: they must go with that person's erasure, not live under the caller's key), and answers over 1 MiB. Guests' orders and payments, public bookings, waitlist joins and
//! refunds keep their key with the record they create, in its transaction (bookings and refunds pass through here
//! untouched).

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
pub const KEPT_FOR: time::Duration = time::Duration::DAY;
/// A request unanswered this long is taken as abandoned (its server died mid-way): the key may run again.
const ABANDONED_AFTER: time::Duration = time::Duration::minutes(2);
/// The largest answer kept.
const LARGEST_KEPT: usize = 1024 * 1024;

/// Routes that keep the key with the record they create, in its own transaction.
fn keeps_its_own_key(method: &Method, route: &str) -> bool {
    method == Method::POST
        && matches!(
            route,
            "/api/v1/venues/{venue}/reservations" | "/api/v1/payments/{payment}/refunds"
        )
}

/// Routes whose answer is not kept: it shows a secret once, or it is about a data subject — a privacy request, or
/// a host's move of a booking, whose answer carries the guest's note and the host's reason about them (kept under
/// the member's key, they would outlive the guest's erasure, in backups too).
fn answer_not_kept(route: &str) -> bool {
    route.starts_with("/api/v1/auth/")
        || route == "/api/v1/payouts/onboarding"
        || route == "/api/v1/privacy/requests"
        || route == "/api/v1/reservations/{reservation}/transitions"
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
    // Keyed: the body may hold a password (a step-up), which an unkeyed digest at rest would let a dictionary find.
    let mut asked = ring::hmac::Context::with_key(&ring::hmac::Key::new(
        ring::hmac::HMAC_SHA256,
        state.request_digest_key.expose(),
    ));
    asked.update(method.as_str().as_bytes());
    asked.update(b" ");
    asked.update(parts.uri.path().as_bytes());
    asked.update(b"?");
    asked.update(parts.uri.query().unwrap_or_default().as_bytes());
    asked.update(b"\n");
    asked.update(&body);
    let asked = asked.sign();
    let now = state.clock.now();
    let claim = state
        .store
        .claim_idempotency(
            &caller.scope,
            caller.member.id,
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
            let task = tokio::spawn(run_and_record(
                state.clone(),
                caller.clone(),
                key,
                answer_not_kept(route),
                next,
                Request::from_parts(parts, Body::from(body)),
            ));
            task.await
                .unwrap_or_else(|_| Problem::new(ProblemType::Internal).into_response())
        }
    }
}

/// Runs the claimed request and records its answer (or gives the key up), on a task of its own.
async fn run_and_record(
    state: AppState,
    caller: Caller,
    key: String,
    not_kept: bool,
    next: Next,
    request: Request,
) -> Response {
    let (scope, member) = (&caller.scope, caller.member.id);
    // A panic in the handler is caught here, so the key is given up rather than left claimed.
    let run = tokio::spawn(next.run(request)).await;
    let Ok(response) = run else {
        release(&state, &caller, &key).await;
        return Problem::new(ProblemType::Internal).into_response();
    };
    if !response.status().is_success() {
        release(&state, &caller, &key).await;
        return response;
    }
    let (head, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, usize::MAX).await else {
        release(&state, &caller, &key).await;
        return Problem::new(ProblemType::Internal).into_response();
    };
    let body = (!not_kept && bytes.len() <= LARGEST_KEPT)
        .then(|| String::from_utf8(bytes.to_vec()).ok())
        .flatten();
    let answer = StoredAnswer {
        status: head.status.as_u16(),
        content_type: body
            .as_ref()
            .and(head.headers.get(header::CONTENT_TYPE))
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body,
    };
    if let Err(error) = state.store.finish_idempotency(scope, member, &key, &answer).await {
        tracing::warn!(%error, "an Idempotency-Key's answer could not be recorded");
    }
    Response::from_parts(head, Body::from(bytes))
}

async fn release(state: &AppState, caller: &Caller, key: &str) {
    if let Err(error) = state
        .store
        .release_idempotency(&caller.scope, caller.member.id, key)
        .await
    {
        tracing::warn!(%error, "an Idempotency-Key could not be given up");
    }
}

/// The first answer again, marked as a replay; one whose body was not kept is a 409 saying so.
fn replay(answer: StoredAnswer) -> Response {
    let (Some(body), Ok(status)) = (answer.body, StatusCode::from_u16(answer.status)) else {
        return Problem::new(ProblemType::Conflict)
            .detail(
                "this request was answered already; its answer is not kept (it showed a secret once, was about a \
                 data subject, or was too large), so it is not sent again",
            )
            .into_response();
    };
    let mut response = (status, body).into_response();
    if let Some(media) = answer.content_type.and_then(|m| HeaderValue::from_str(&m).ok()) {
        response.headers_mut().insert(header::CONTENT_TYPE, media);
    }
    response.headers_mut().extend(replayed_headers(true));
    response
}

/// `Idempotent-Replayed: true` on an answer given again for its key (Stripe's header), on every route that keeps
/// keys: this layer's and those that keep theirs with their record (guest orders, bookings).
pub(crate) fn replayed_headers(replayed: bool) -> axum::http::HeaderMap {
    let mut headers = axum::http::HeaderMap::new();
    if replayed {
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    headers
}
