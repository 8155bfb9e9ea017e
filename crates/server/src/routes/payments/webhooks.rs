//! Stripe's two webhook endpoints (platform and Connect): signature, endpoint, pinned version, then each event's
//! effect applied once.

use super::*;

/// Stripe's platform webhook endpoint (PAY-4): events of the platform account (`payment_intent.*`, `charge.*`),
/// accepted only with a valid `Stripe-Signature` made with this endpoint's secret, within 5 minutes, and rendered at
/// the pinned API version; each event id changes our records once, in the transaction of its effect, whatever the
/// order or number of deliveries.
#[utoipa::path(post, path = "/api/v1/webhooks/stripe", tag = "payments",
    params(("Stripe-Signature" = String, Header,
        description = "`t=<unix time>,v1=<hex HMAC-SHA256 of \"<t>.<body>\" with the endpoint secret>`; only Stripe can \
                       compute it")),
    responses((status = 200, description = "Processed, or already processed"),
              (status = 400, description = "The signature is missing, stale or does not verify with this endpoint's \
                  secret (what Stripe expects of an endpoint), the body is not a Stripe event, the event belongs at \
                  the Connect endpoint, or it is rendered at another API version (refused and alerted)", body = Problem,
                  content_type = "application/problem+json"),
              (status = 413, body = Problem, content_type = "application/problem+json")))]
pub async fn stripe_webhook(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Result<StatusCode, ApiError> {
    receive_webhook(state, WebhookEndpoint::Platform, request).await
}

/// Stripe's Connect webhook endpoint: events of connected accounts (`account.updated`, `payout.*`, each carrying
/// `account`), signed with the Connect endpoint's own secret; otherwise as the platform endpoint.
#[utoipa::path(post, path = "/api/v1/webhooks/stripe/connect", tag = "payments",
    params(("Stripe-Signature" = String, Header,
        description = "`t=<unix time>,v1=<hex HMAC-SHA256 of \"<t>.<body>\" with the Connect endpoint secret>`")),
    responses((status = 200, description = "Processed, or already processed"),
              (status = 400, description = "The signature does not verify with the Connect endpoint's secret, the \
                  body is not a Stripe event, the event names no connected account, or it is rendered at another \
                  API version (refused and alerted)", body = Problem, content_type = "application/problem+json"),
              (status = 413, body = Problem, content_type = "application/problem+json")))]
pub async fn stripe_connect_webhook(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Result<StatusCode, ApiError> {
    receive_webhook(state, WebhookEndpoint::Connect, request).await
}

pub(crate) async fn receive_webhook(
    state: AppState,
    endpoint: WebhookEndpoint,
    request: axum::extract::Request,
) -> Result<StatusCode, ApiError> {
    let service = service(&state)?;
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    let body: Bytes = axum::body::to_bytes(body, state.settings.body_limit_bytes)
        .await
        .map_err(|_| ApiError::from(Problem::new(ProblemType::PayloadTooLarge)))?;
    let refused = |detail: &str| ApiError::from(Problem::new(ProblemType::WebhookSignature).detail(detail));
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| refused("Stripe-Signature header missing"))?;
    let now = state.clock.now();
    let verified = service
        .verify(endpoint, signature, &body, now)
        .map_err(|e| refused(&e.to_string()))?;
    let event: Event = serde_json::from_slice(verified.payload).map_err(|_| refused("not a Stripe event"))?;
    let not_here = |detail: String| ApiError::from(Problem::new(ProblemType::WebhookEvent).detail(detail));
    if !endpoint.receives(&event) {
        return Err(not_here(format!(
            "{} belongs at the other endpoint: connected accounts' events arrive at {}, the platform's at {}",
            event.id,
            WebhookEndpoint::Connect.path(),
            WebhookEndpoint::Platform.path()
        )));
    }
    if event.api_version.as_deref() != Some(API_VERSION) {
        // Read at another version the object may have other fields or meanings: refuse it (Stripe retries) and
        // alert, rather than misread money movements. The endpoint's version is fixed at Stripe.
        let detail = format!(
            "event {} ({}) is rendered at API version {}, comanda reads {API_VERSION}: set the endpoint's version \
             (comanda payments webhooks setup)",
            event.id,
            event.kind,
            event.api_version.as_deref().unwrap_or("(none)")
        );
        crate::alert_routing::raise(&*state.store, None, "payments.event_version", &detail, now).await?;
        return Err(not_here(detail));
    }
    if state.store.event_processed(&event.id).await? {
        return Ok(StatusCode::OK);
    }
    let (partner, effect) = interpret(&state.store, service, &event)
        .await
        .map_err(|e| provider_error(&e))?;
    let scope = partner.map(|p| TenantScope::from_proof(&verified.attests(p)));
    // A refund's outcome moves money at Stripe (a transfer reversal, or a share given back): done before the event
    // is recorded, so a failure here is retried by Stripe; each step is keyed and conditioned on the refund's state.
    if let (
        Some(scope),
        comanda_store::payments::EventEffect::RefundUpdated {
            payment,
            refund,
            stripe_refund,
            status,
            failure_reason,
        },
    ) = (&scope, &effect)
    {
        let outcome =
            comanda_payments::stripe::RefundOutcome::of(Some(status.as_str()), failure_reason.as_deref());
        crate::payments::refund_updated(
            &state.store,
            service,
            scope,
            (*payment, *refund),
            (stripe_refund, outcome),
            now,
        )
        .await
        .map_err(|e| provider_error(&e))?;
    }
    if let (
        Some(scope),
        comanda_store::payments::EventEffect::DepositRefundFailed {
            reservation,
            stripe_refund,
            reason,
        },
    ) = (&scope, &effect)
    {
        crate::deposits::refund_failed(&state.store, scope, *reservation, stripe_refund, reason, now).await?;
    }
    match state
        .store
        .apply_event(scope.as_ref(), &event.id, &event.kind, &effect, now)
        .await?
    {
        EventOutcome::Duplicate => {}
        EventOutcome::Applied {
            transfer_due,
            settled,
            mismatch,
        } => {
            if let Some(detail) = mismatch {
                crate::alert_routing::raise(&*state.store, partner, "payments.mismatch", &detail, now)
                    .await?;
            }
            if let (Some(scope), Some((venue, _))) = (&scope, settled) {
                announce_balance(&state, scope, venue);
            }
            // A deposit paid confirms its booking: the guest is told so (once: a replayed event is a duplicate).
            if let (Some(scope), comanda_store::payments::EventEffect::DepositPaid { reservation, .. }) =
                (&scope, &effect)
                && let Ok(booking) = state.store.reservation(scope, *reservation).await
                && booking.status.holds_tables()
            {
                crate::guest_notices::tell_guest(
                    &state,
                    scope,
                    &booking,
                    crate::guest_notices::BookingNotice::Confirmed,
                )
                .await;
            }
            if let (Some(scope), Some(_)) = (scope, transfer_due) {
                let store = state.store.clone();
                let service = service.clone();
                let clock = state.clock.clone();
                tokio::spawn(async move {
                    send_due_transfers(&store, &service, &scope, clock.now()).await;
                });
            }
        }
    }
    Ok(StatusCode::OK)
}
