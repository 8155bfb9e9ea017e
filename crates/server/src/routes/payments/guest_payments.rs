//! Guests paying at the table by its token: a share of the bill and a tip, the payment's state, and giving it up.

use super::*;

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentRequest {
    pub split: Split,
    /// A voluntary tip in minor units (nothing is pre-selected; the suggestion is at most 10 %).
    #[serde(default)]
    pub tip: i64,
    /// The share the guest was shown, in minor units: if the bill changed meanwhile the payment is refused
    /// (409) rather than charging another amount.
    #[serde(default)]
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

pub(crate) fn share_problem(error: ShareError) -> ApiError {
    match error {
        ShareError::BillCovered | ShareError::PartlyPaid | ShareError::ExceedsRemaining => {
            Problem::new(ProblemType::BillCovered)
                .detail(error.to_string())
                .into()
        }
        ShareError::Tip => ValidationErrors::single("tip", error.to_string()).into(),
        _ => ValidationErrors::single("split", error.to_string()).into(),
    }
}

/// Starts paying part of the table's bill: the whole bill, an equal share, chosen lines (a shared line in
/// fractions), or what is left, plus an optional tip. The share is held against the bill at once, so guests paying
/// at the same moment can never cover more than the bill: a late one is told the bill is covered (409
/// `bill-covered`) and nothing is charged. Answers the PaymentIntent's client secret for Stripe Elements.
#[utoipa::path(post, path = "/api/v1/t/{token}/payments", tag = "payments", params(("token" = String, Path)),
    request_body = PaymentRequest, responses(
        (status = 201, body = CreatedPayment),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 502, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_payment(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<PaymentRequest>,
) -> Result<(StatusCode, Json<CreatedPayment>), ApiError> {
    let key = idempotency_key(&headers)?;
    let device = guest_device(&headers)?;
    let guest = resolve(&state, &token).await?;
    let service = service(&state)?;
    let account = state
        .store
        .connected_account(&guest.scope)
        .await?
        .filter(|a| a.accepts_payments())
        .ok_or_else(|| {
            ApiError::from(
                Problem::new(ProblemType::PaymentsUnavailable)
                    .detail("this restaurant cannot take card payments yet; please pay the staff"),
            )
        })?;
    let session = state
        .store
        .live_session(&guest.scope, guest.table.id)
        .await?
        .filter(|s| s.status == SessionStatus::Open)
        .ok_or_else(|| {
            ApiError::from(
                Problem::new(ProblemType::BusinessRule).detail("this table has no open bill to pay"),
            )
        })?;
    let balance = state.store.session_balance(&guest.scope, session.id).await?;
    // Only a split by lines needs the orders themselves; every other split is computed from the balance.
    let orders = match &request.split {
        Split::Items { .. } => state.store.table_orders(&guest.scope, guest.table.id).await?,
        _ => Vec::new(),
    };
    let line_total = |order: Uuid, line: u32| {
        orders
            .iter()
            .filter(|o| o.id == order && o.status != OrderStatus::Cancelled)
            .find_map(|o| o.lines.get(usize::try_from(line).ok()?))
            .and_then(|l| l.bill_line().total().ok())
    };
    let share = share_amount(
        &request.split,
        &BillBalance {
            total: balance.total,
            remaining: balance.remaining,
        },
        line_total,
    )
    .map_err(share_problem)?;
    if request.amount.is_some_and(|shown| shown != share.amount) {
        return Err(Problem::new(ProblemType::BillCovered)
            .detail(format!(
                "the bill changed: this share is now {} (minor units); confirm the new amount",
                share.amount
            ))
            .into());
    }
    let tip = Money::new(request.tip, share.currency)
        .map_err(|_| ApiError::from(ValidationErrors::single("tip", "must not be negative")))?;
    check_tip(share, tip).map_err(share_problem)?;
    let settlement = settle(share, tip, service.fee_bp)
        .map_err(|e| ApiError::from(ValidationErrors::single("tip", e.to_string())))?;
    let now = state.clock.now();
    let body = serde_json::to_vec(&request).unwrap_or_default();
    let payment = NewPayment {
        id: Uuid::now_v7(),
        venue_id: guest.venue.id.as_uuid(),
        table_id: guest.table.id,
        session_id: session.id,
        split: request.split.clone(),
        settlement,
        charge_model: account.charge_model,
        device,
        idempotency_key: key,
        request_hash: ring::digest::digest(&ring::digest::SHA256, &body)
            .as_ref()
            .to_vec(),
        tip_member: session.accepted_member,
        whole_bill: request.split == Split::Full,
        expires_at: now + service.hold,
    };
    let payment = match state.store.reserve_payment(&guest.scope, &payment, now).await? {
        ReserveOutcome::Reserved(payment) => payment,
        ReserveOutcome::Replayed(first) => {
            let intent = match &first.payment_intent {
                Some(id) => service
                    .client
                    .payment_intent(id)
                    .await
                    .map_err(|e| provider_error(&e))?,
                None => {
                    return Err(Problem::new(ProblemType::Conflict)
                        .detail("this payment failed to start")
                        .into());
                }
            };
            return Ok((
                StatusCode::CREATED,
                Json(CreatedPayment {
                    payment: PaymentView::from(&first),
                    client_secret: intent.client_secret.unwrap_or_default(),
                    publishable_key: service.publishable_key.clone(),
                }),
            ));
        }
        ReserveOutcome::KeyReused => {
            return Err(Problem::new(ProblemType::Conflict)
                .detail("this Idempotency-Key was used for another payment")
                .into());
        }
        ReserveOutcome::Covered { remaining } => {
            return Err(Problem::new(ProblemType::BillCovered)
                .detail(format!(
                    "the bill is already covered or being paid by someone else; {} (minor units) is left",
                    remaining.amount
                ))
                .into());
        }
        ReserveOutcome::SessionGone => {
            return Err(Problem::new(ProblemType::BusinessRule)
                .detail("this table's bill was closed")
                .into());
        }
    };
    let metadata = [
        ("payment_id", payment.id.to_string()),
        ("partner_id", guest.scope.partner().to_string()),
        ("venue_id", guest.venue.id.as_uuid().to_string()),
        ("session_id", session.id.to_string()),
    ];
    let description = format!("{} — {}", guest.venue.name, guest.table.label);
    let transfer_group = session.id.to_string();
    let intent = NewPaymentIntent {
        amount: settlement.charged.amount,
        currency: settlement.charged.currency.code(),
        transfer_group: &transfer_group,
        metadata: &metadata,
        description: &description,
        destination: (account.charge_model == ChargeModel::DestinationCharges)
            .then_some((account.stripe_account.as_str(), settlement.platform_fee.amount)),
    };
    let created = match service
        .client
        .create_payment_intent(&intent, &format!("intent-{}", payment.id))
        .await
    {
        Ok(created) => created,
        Err(error) => {
            state
                .store
                .release_payment(
                    &guest.scope,
                    payment.id,
                    PaymentStatus::Failed,
                    "the provider refused it",
                )
                .await?;
            return Err(provider_error(&error));
        }
    };
    state
        .store
        .attach_intent(&guest.scope, payment.id, &created.id)
        .await?;
    announce_balance(&state, &guest.scope, payment.venue_id);
    Ok((
        StatusCode::CREATED,
        Json(CreatedPayment {
            payment: PaymentView::from(&payment),
            client_secret: created.client_secret.unwrap_or_default(),
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
    if payment.table_id != guest.table.id {
        return Err(ApiError::NotFound);
    }
    Ok((guest.scope, payment))
}

/// A payment's state as its guest sees it (succeeded once Stripe's webhook confirmed it).
#[utoipa::path(get, path = "/api/v1/t/{token}/payments/{payment}", tag = "payments",
    params(("token" = String, Path), ("payment" = String, Path)),
    responses((status = 200, body = PaymentView), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn payment_status(
    State(state): State<AppState>,
    Path((token, payment)): Path<(String, String)>,
) -> Result<Json<PaymentView>, ApiError> {
    let (_, payment) = guest_payment(&state, &token, &payment).await?;
    Ok(Json(PaymentView::from(&payment)))
}

/// The guest gives up a payment in progress (`X-Guest-Device` of the device that started it): it is cancelled at
/// Stripe, then its share of the bill is free again.
#[utoipa::path(post, path = "/api/v1/t/{token}/payments/{payment}/cancel", tag = "payments",
    params(("token" = String, Path), ("payment" = String, Path)),
    responses((status = 200, body = PaymentView), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn cancel_guest_payment(
    State(state): State<AppState>,
    Path((token, payment)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<PaymentView>, ApiError> {
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
    let cancelled = cancel_payment(&state.store, service, &scope, &payment, "cancelled by the guest")
        .await
        .ok_or_else(|| {
            ApiError::from(Problem::new(ProblemType::Conflict).detail("this payment could not be cancelled"))
        })?;
    announce_balance(&state, &scope, payment.venue_id);
    Ok(Json(PaymentView::from(&cancelled)))
}
