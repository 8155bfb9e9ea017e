//! Guests paying at the table by its token: a share of the bill and a tip, the payment's state, and giving it up.

use super::*;
use crate::payments::checkout::{StartPayment, start_payment};

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentRequest {
    pub split: Split,
    /// A voluntary tip in minor units (nothing is pre-selected; the suggestion is at most 10 %).
    #[serde(default)]
    #[schema(minimum = 0)]
    pub tip: i64,
    /// The share the guest was shown, in minor units: if the bill changed meanwhile the payment is refused
    /// (409) rather than charging another amount.
    #[serde(default)]
    #[schema(minimum = 0)]
    pub amount: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PaymentView {
    pub payment_id: String,
    pub status: crate::routes::wire::PaymentStatus,
    /// The guest's share of the bill.
    pub amount: Money,
    pub tip: Money,
    /// What the card is charged: share plus tip, and nothing else (no fee is ever added for the guest).
    pub total: Money,
    pub failure: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: time::OffsetDateTime,
    /// When Stripe's confirmation reached comanda: the time on the guest's receipt. `null` until it succeeded.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub succeeded_at: Option<time::OffsetDateTime>,
}

impl From<&Payment> for PaymentView {
    fn from(p: &Payment) -> Self {
        Self {
            payment_id: p.id.to_string(),
            status: p.status.into(),
            amount: p.settlement.share,
            tip: p.settlement.tip,
            total: p.settlement.charged,
            failure: p.failure.clone(),
            expires_at: p.expires_at,
            succeeded_at: p.succeeded_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedPayment {
    #[serde(flatten)]
    pub payment: PaymentView,
    /// For Stripe Elements in the guest's browser.
    pub client_secret: String,
    pub publishable_key: String,
}

/// Starts paying part of the table's bill: the whole bill, an equal share, chosen lines (a shared line in
/// fractions), or what is left, plus an optional tip. The share is held against the bill at once, so guests paying
/// at the same moment can never cover more than the bill: a late one is told the bill is covered (409
/// `bill-covered`) and nothing is charged; a share that is no longer the `amount` the guest was shown is 409
/// `share-changed`, its detail giving the new share. Answers the PaymentIntent's client secret for Stripe Elements.
#[utoipa::path(post, path = "/api/v1/t/{token}/payments", tag = "payments", params(("token" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, pattern = r"^[!-~]{1,200}$",
            description = "A retry with the same key and request answers the first payment (Idempotent-Replayed: \
                           true); with another request, 409"),
        ("X-Guest-Device" = Option<String>, Header, pattern = r"^[A-Za-z0-9_-]{1,64}$",
            description = "The guest page's device id: a new payment replaces this device's unfinished one")),
    request_body = PaymentRequest, responses(
        (status = 201, body = CreatedPayment),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
        (status = 502, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_payment(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    ctx: RequestContext,
    ApiJson(request): ApiJson<PaymentRequest>,
) -> Result<(StatusCode, HeaderMap, Json<CreatedPayment>), ApiError> {
    state.identity.guest_write_attempt(&ctx)?;
    let mut errors = ValidationErrors::default();
    if request.tip < 0 {
        errors.push("tip", "must be zero or more minor units");
    }
    if request.amount.is_some_and(|amount| amount < 0) {
        errors.push("amount", "must be zero or more minor units");
    }
    errors.into_result(())?;
    let idempotency_key = idempotency_key(&headers)?;
    let device = guest_device(&headers)?;
    let guest = resolve(&state, &token).await?;
    let service = service(&state)?;
    let body = serde_json::to_vec(&request).unwrap_or_default();
    let started = start_payment(
        &state,
        service,
        (&guest.scope, &guest.venue, &guest.table),
        StartPayment {
            split: &request.split,
            tip: request.tip,
            shown_amount: request.amount,
            idempotency_key,
            device,
            request_hash: ring::digest::digest(&ring::digest::SHA256, &body)
                .as_ref()
                .to_vec(),
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        crate::idempotency::replayed_headers(started.replayed),
        Json(CreatedPayment {
            payment: PaymentView::from(&started.payment),
            client_secret: started.client_secret,
            publishable_key: service.publishable_key.clone(),
        }),
    ))
}

pub(crate) fn announce_balance(state: &AppState, scope: &TenantScope, venue: Uuid) {
    state.order_events.announce(scope.partner().as_uuid(), venue);
}

pub(crate) async fn guest_payment(
    state: &AppState,
    token: &str,
    payment: &str,
) -> Result<(TenantScope, Payment), ApiError> {
    let guest = resolve(state, token).await?;
    let payment = state.store.payment(&guest.scope, path_id(payment)?).await?;
    // A payment on a joined party's bill stays the guest's to follow from their own table's code after the party
    // was marked finished (the code then opens that table's own bill again).
    let ours = payment.table_id == guest.table.id
        || state
            .store
            .session_party_tables(&guest.scope, payment.session_id)
            .await?
            .contains(&guest.scanned);
    if !ours {
        return Err(ApiError::NotFound);
    }
    Ok((guest.scope, payment))
}

/// A payment's state as its guest sees it (succeeded once Stripe's webhook confirmed it).
#[utoipa::path(get, path = "/api/v1/t/{token}/payments/{payment}", tag = "payments",
    params(("token" = String, Path), ("payment" = String, Path)),
    responses((status = 200, body = PaymentView), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn payment_status(
    _no_query: crate::extract::NoQuery,
    State(state): State<AppState>,
    Path((token, payment)): Path<(String, String)>,
) -> Result<Json<PaymentView>, ApiError> {
    let (_, payment) = guest_payment(&state, &token, &payment).await?;
    Ok(Json(PaymentView::from(&payment)))
}

/// The guest gives up a payment in progress (`X-Guest-Device` of the device that started it): it is cancelled at
/// Stripe, then its share of the bill is free again.
#[utoipa::path(post, path = "/api/v1/t/{token}/payments/{payment}/cancel", tag = "payments",
    params(("token" = String, Path), ("payment" = String, Path),
        ("X-Guest-Device" = Option<String>, Header, pattern = r"^[A-Za-z0-9_-]{1,64}$",
            description = "The device id the payment was started with")),
    responses((status = 200, body = PaymentView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json")))]
pub async fn cancel_guest_payment(
    State(state): State<AppState>,
    Path((token, payment)): Path<(String, String)>,
    headers: HeaderMap,
    ctx: RequestContext,
    _no_body: crate::extract::NoBody,
) -> Result<Json<PaymentView>, ApiError> {
    state.identity.guest_write_attempt(&ctx)?;
    let service = service(&state)?;
    let device = guest_device(&headers)?;
    let (scope, payment) = guest_payment(&state, &token, &payment).await?;
    // Only the device that started a payment may give it up (another guest at the table sees it, not cancels it).
    if payment.device.is_some() && payment.device != device {
        return Err(ApiError::NotFound);
    }
    if payment.status != PaymentStatus::Pending {
        return Err(Problem::new(ProblemType::Conflict)
            .detail("this payment is no longer in progress")
            .into());
    }
    let cancelled = cancel_payment(
        &state.store,
        service,
        &scope,
        &payment,
        comanda_domain::payment::cancelled_because::THE_GUEST_CANCELLED,
    )
    .await
    .ok_or_else(|| {
        ApiError::from(Problem::new(ProblemType::Conflict).detail("this payment could not be cancelled"))
    })?;
    announce_balance(&state, &scope, payment.venue_id);
    Ok(Json(PaymentView::from(&cancelled)))
}
