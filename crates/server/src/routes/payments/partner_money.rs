//! The partner's side of the money: onboarding of its connected account, payouts and bank details behind a
//! second approver, the venue's payments, refunds (with a second approver above a threshold), disputes and the tip
//! ledger.

use super::*;
use crate::csv_export::{CsvDialect, CsvExport};
use crate::routes::ordering::venue_page;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccountLinkView {
    pub url: String,
    pub expires_at: i64,
}

/// Onboarding of the partner's connected account (a recipient account paid by transfers in Colombia; a
/// card-accepting account for destination charges elsewhere): answers a Stripe-hosted link. Guests can pay once the
/// account's capabilities are active.
#[utoipa::path(post, path = "/api/v1/payouts/onboarding", tag = "payments", security(("bearer" = [])),
    responses((status = 200, body = AccountLinkView), (status = 502, body = Problem, content_type = "application/problem+json")))]
pub async fn onboarding(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    context: RequestContext,
    _no_body: crate::extract::NoBody,
) -> Result<Json<AccountLinkView>, ApiError> {
    let service = service(&state)?;
    let account = match state.store.connected_account(&caller.scope).await? {
        Some(account) => account,
        None => {
            let partner = state.store.partner(&caller.scope).await?;
            let model = ChargeModel::for_country(&partner.country);
            let created = service
                .client
                .create_account(
                    partner.country.code(),
                    model == ChargeModel::SeparateChargesAndTransfers,
                    &partner.id.to_string(),
                    &format!("account-{}", partner.id),
                )
                .await
                .map_err(|e| provider_error(&e))?;
            let record = comanda_store::payments::ConnectedAccount {
                stripe_account: created.id.clone(),
                charge_model: model,
                country: partner.country.code().to_owned(),
                details_submitted: created.details_submitted,
                charges_enabled: created.charges_enabled,
                payouts_enabled: created.payouts_enabled,
                transfers_active: created.capability_active("transfers"),
                updated_at: state.clock.now(),
            };
            let audit = context
                .audit("payouts.account_created")
                .actor(caller.member.id)
                // The account reference itself is sealed (REST-1); the audit chain is not, so it names the partner.
                .target(caller.scope.partner().to_string());
            match state
                .store
                .save_connected_account(&caller.scope, &record, &audit, state.clock.now())
                .await
            {
                Ok(saved) => saved,
                // Created meanwhile by another request (the idempotency key gave both the same account).
                Err(StoreError::Conflict(_)) => state
                    .store
                    .connected_account(&caller.scope)
                    .await?
                    .ok_or(ApiError::NotFound)?,
                Err(error) => return Err(error.into()),
            }
        }
    };
    account_link(&state, service, &account.stripe_account, LinkKind::Onboarding).await
}

pub(crate) async fn account_link(
    state: &AppState,
    service: &PaymentService,
    account: &str,
    kind: LinkKind,
) -> Result<Json<AccountLinkView>, ApiError> {
    let origin = state.identity.public_origin();
    let link = service
        .client
        .create_account_link(
            account,
            &format!("{origin}/dashboard?payouts=refresh"),
            &format!("{origin}/dashboard?payouts=done"),
            kind,
            &format!("link-{}", Uuid::now_v7()),
        )
        .await
        .map_err(|e| provider_error(&e))?;
    Ok(Json(AccountLinkView {
        url: link.url,
        expires_at: link.expires_at,
    }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PayoutsView {
    pub onboarded: bool,
    pub charge_model: Option<ChargeModel>,
    pub accepts_payments: bool,
    pub payouts_enabled: bool,
    /// Balance and payouts as Stripe reports them for the connected account.
    #[schema(value_type = Object)]
    pub balance: serde_json::Value,
    #[schema(value_type = Vec<Object>)]
    pub payouts: Vec<comanda_payments::stripe::Payout>,
    /// The newest 50 payouts are listed; `true` when Stripe holds older ones (the Stripe dashboard lists them all).
    pub payouts_has_more: bool,
    /// What the partner owes from lost disputes, netted against its next transfers (minor units).
    pub outstanding_debt: i64,
}

/// The connected account's state, its balance and payouts as Stripe reports them, and any debt being netted.
#[utoipa::path(get, path = "/api/v1/payouts", tag = "payments", security(("bearer" = [])),
    responses((status = 200, body = PayoutsView)))]
pub async fn payouts(
    _no_query: crate::extract::NoQuery,
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<PayoutsView>, ApiError> {
    let service = service(&state)?;
    let mut account = state.store.connected_account(&caller.scope).await?;
    if account.as_ref().is_some_and(|a| !a.accepts_payments()) {
        // The owner is back from Stripe's onboarding (or waiting for it): read the account back rather than wait
        // for `account.updated`, which may be late or lost.
        read_back_account(&state.store, service, &caller.scope, state.clock.now())
            .await
            .map_err(|e| provider_error(&e))?;
        account = state.store.connected_account(&caller.scope).await?;
    }
    let outstanding_debt = state.store.outstanding_debt(&caller.scope).await?;
    let Some(account) = account else {
        return Ok(Json(PayoutsView {
            onboarded: false,
            charge_model: None,
            accepts_payments: false,
            payouts_enabled: false,
            balance: serde_json::Value::Null,
            payouts: Vec::new(),
            payouts_has_more: false,
            outstanding_debt,
        }));
    };
    let balance = service
        .client
        .balance(Some(&account.stripe_account))
        .await
        .map_err(|e| provider_error(&e))?;
    let payouts = service
        .client
        .payouts(&account.stripe_account, 50)
        .await
        .map_err(|e| provider_error(&e))?;
    Ok(Json(PayoutsView {
        onboarded: account.details_submitted,
        charge_model: Some(account.charge_model),
        accepts_payments: account.accepts_payments(),
        payouts_enabled: account.payouts_enabled,
        balance: serde_json::json!({"available": balance.available, "pending": balance.pending}),
        payouts: payouts.data,
        payouts_has_more: payouts.has_more,
        outstanding_debt,
    }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApprovalView {
    pub approval_id: String,
    pub kind: crate::routes::wire::ApprovalKind,
    pub status: &'static str,
    /// After approval of a payout-details change: the Stripe-hosted link to change them.
    pub url: Option<String>,
}

/// Asks to change the payout bank details: a second person with payout authority must approve before the
/// Stripe-hosted update link is issued.
#[utoipa::path(post, path = "/api/v1/payouts/bank-details", tag = "payments", security(("bearer" = [])),
    responses((status = 202, body = ApprovalView)))]
pub async fn bank_details(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    context: RequestContext,
    _no_body: crate::extract::NoBody,
) -> Result<(StatusCode, Json<ApprovalView>), ApiError> {
    service(&state)?;
    if state.store.connected_account(&caller.scope).await?.is_none() {
        return Err(Problem::new(ProblemType::BusinessRule)
            .detail("set up payouts first")
            .into());
    }
    let audit = context
        .audit("payouts.details_change_requested")
        .actor(caller.member.id);
    let approval = state
        .store
        .request_approval(
            &caller.scope,
            ApprovalKind::PayoutDetails,
            None,
            caller.member.id,
            &audit,
            state.clock.now(),
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ApprovalView {
            approval_id: approval.id.to_string(),
            kind: approval.kind.into(),
            status: "awaiting_approval",
            url: None,
        }),
    ))
}

/// A second person with payout authority approves a pending request (never the person who asked).
#[utoipa::path(post, path = "/api/v1/approvals/{approval}/approve", tag = "payments", security(("bearer" = [])),
    params(("approval" = String, Path)),
    responses((status = 200, body = ApprovalView), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn approve(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    context: RequestContext,
    Path(approval): Path<String>,
    _no_body: crate::extract::NoBody,
) -> Result<Json<ApprovalView>, ApiError> {
    let service = service(&state)?;
    let audit = context
        .audit("payouts.details_change_approved")
        .actor(caller.member.id)
        .target(approval.clone());
    let approved = state
        .store
        .approve(
            &caller.scope,
            path_id(&approval)?,
            caller.member.id,
            &audit,
            state.clock.now(),
        )
        .await?;
    let account = state
        .store
        .connected_account(&caller.scope)
        .await?
        .ok_or(ApiError::NotFound)?;
    let link = account_link(&state, service, &account.stripe_account, LinkKind::Update).await?;
    Ok(Json(ApprovalView {
        approval_id: approved.id.to_string(),
        kind: approved.kind.into(),
        status: "approved",
        url: Some(link.0.url),
    }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StaffPaymentView {
    #[serde(flatten)]
    pub payment: PaymentView,
    pub table_id: String,
    /// What the payment charges and where its money goes; only a `succeeded` payment charged the card (a failed or
    /// cancelled one charged nothing, a pending one not yet).
    pub settlement: Settlement,
    pub charge_model: ChargeModel,
    /// Refunded, or held by refunds awaiting approval or under way at Stripe: `total` minus this is what is left to
    /// refund. The venue's refunds (`GET /api/v1/venues/{venue}/refunds`) say which is which.
    pub refunded: Money,
    pub payment_intent: Option<String>,
    /// When the guest started it (the list's order).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: time::OffsetDateTime,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StaffPaymentList {
    pub items: Vec<StaffPaymentView>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VenuePaymentsQuery {
    /// Only the payments started on this business day (`YYYY-MM-DD`: from the venue's day-start hour to the next
    /// day's, in its time zone, as its reports count a day); every day when absent.
    #[param(value_type = Option<String>, format = Date)]
    pub day: Option<String>,
    /// Where the page starts: the `next_cursor` of the previous page (`comanda_domain::page::TIMED_CURSOR_PATTERN`).
    #[param(pattern = r"^([A-Za-z0-9_-]{21}[AQgw]A{9}[A-H][A-Za-z0-9_-]{10}[AEIMQUYcgkosw048])?$")]
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// The venue's payments, newest first, with where their money went; `day` keeps one business day's (a guest's
/// payment from last Friday is found without paging through the week).
#[utoipa::path(get, path = "/api/v1/venues/{venue}/payments", tag = "payments", security(("bearer" = [])),
    params(("venue" = String, Path), VenuePaymentsQuery), responses((status = 200, body = StaffPaymentList),
        (status = 422, description = "`day` is a date outside the years comanda keeps", body = Problem,
            content_type = "application/problem+json")))]
pub async fn venue_payments(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(venue): Path<String>,
    ApiQuery(query): ApiQuery<VenuePaymentsQuery>,
) -> Result<Json<StaffPaymentList>, ApiError> {
    let (venue, mut page) = venue_page(&state, &caller, &venue, query.cursor.as_deref(), query.limit).await?;
    // A day is read as the newest-first list from its end (a keyset cursor at the next day's start) and cut at
    // its start: the storage query stays the one every day is listed with.
    let since = match &query.day {
        None => None,
        Some(day) => {
            use crate::routes::reservations::{date_refused, venue_zone};
            let date = comanda_domain::validation::calendar_date(day)
                .map_err(|refused| date_refused("day", refused))?;
            let found = state
                .store
                .venue(&caller.scope, comanda_domain::VenueId::from_uuid(venue))
                .await?;
            let Some((from, until)) =
                comanda_domain::analytics::BusinessCalendar::new(venue_zone(&found)?, found.day_start_hour)
                    .and_then(|calendar| calendar.day_bounds(date))
            else {
                return Err(ValidationErrors::single("day", "is outside the supported range").into());
            };
            page.after = page.after.or(Some(comanda_domain::page::Cursor::after_timed(
                until,
                uuid::Uuid::nil(),
            )));
            Some(from)
        }
    };
    let mut page = state.store.venue_payments(&caller.scope, venue, page).await?;
    if let Some(from) = since {
        let listed = page.items.len();
        page.items.retain(|payment| payment.created_at >= from);
        if page.items.len() < listed {
            page.next = None;
        }
    }
    Ok(Json(StaffPaymentList {
        next_cursor: page.next.map(|c| c.encode()),
        items: page
            .items
            .iter()
            .map(|p| StaffPaymentView {
                payment: PaymentView::from(p),
                table_id: p.table_id.to_string(),
                settlement: p.settlement,
                charge_model: p.charge_model,
                refunded: p.refunded,
                payment_intent: p.payment_intent.clone(),
                created_at: p.created_at,
            })
            .collect(),
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// Minor units; at most what is left of the payment (share plus tip).
    pub amount: i64,
    pub reason: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RefundView {
    pub refund_id: String,
    pub payment_id: String,
    pub status: crate::routes::wire::RefundStatus,
    pub split: comanda_domain::payment::RefundSplit,
    pub reason: String,
    /// The member who asked for it.
    pub requested_by: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub requested_at: time::OffsetDateTime,
    /// The second person with payout authority who approved it (a refund above the threshold).
    pub approved_by: Option<String>,
    /// The member who declined it while it awaited approval (then `status` is `failed` and nothing moved).
    pub declined_by: Option<String>,
    /// Why it failed (`status` `failed`): `declined`, or the card's bank's answer as Stripe gives it
    /// (`expired_or_canceled_card`, `lost_or_stolen_card` …), also for a refund that failed after it had succeeded.
    pub failure: Option<String>,
}

impl From<&Refund> for RefundView {
    fn from(r: &Refund) -> Self {
        Self {
            refund_id: r.id.to_string(),
            payment_id: r.payment_id.to_string(),
            status: r.status.into(),
            split: r.split,
            reason: r.reason.clone(),
            requested_by: r.requested_by.to_string(),
            requested_at: r.created_at,
            approved_by: r.approved_by.map(|m| m.to_string()),
            declined_by: r.declined_by.map(|m| m.to_string()),
            failure: r.failure.clone(),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RefundsQuery {
    /// Only the refunds in this state (`awaiting_approval`: those a second person has to approve or decline).
    pub status: Option<crate::routes::wire::RefundStatus>,
    #[param(pattern = r"^([A-Za-z0-9_-]{21}[AQgw]A{9}[A-H][A-Za-z0-9_-]{10}[AEIMQUYcgkosw048])?$")]
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VenueRefundView {
    #[serde(flatten)]
    pub refund: RefundView,
    /// The table whose bill the refunded payment paid.
    pub table_id: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VenueRefundList {
    pub items: Vec<VenueRefundView>,
    pub next_cursor: Option<String>,
}

/// The refunds of the venue's payments, newest first, optionally of one status (`awaiting_approval`: what waits for a
/// second person with payout authority). Paginated by `(requested_at, id)`: follow `next_cursor` until it is `null`.
#[utoipa::path(get, path = "/api/v1/venues/{venue}/refunds", tag = "payments", security(("bearer" = [])),
    params(("venue" = String, Path), RefundsQuery), responses(
        (status = 200, body = VenueRefundList),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn venue_refunds(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(venue): Path<String>,
    ApiQuery(query): ApiQuery<RefundsQuery>,
) -> Result<Json<VenueRefundList>, ApiError> {
    let (venue, page) = venue_page(&state, &caller, &venue, query.cursor.as_deref(), query.limit).await?;
    let page = state
        .store
        .venue_refunds(&caller.scope, venue, query.status.map(Into::into), page)
        .await?;
    Ok(Json(VenueRefundList {
        next_cursor: page.next.map(|c| c.encode()),
        items: page
            .items
            .iter()
            .map(|r| VenueRefundView {
                refund: RefundView::from(&r.refund),
                table_id: r.table_id.to_string(),
            })
            .collect(),
    }))
}

/// Refunds all or part of a payment (managers, or anyone with payout authority). Under separate charges and
/// transfers the partner's transfer and the platform's fee are reversed in proportion. Above the configured
/// threshold the refund waits (202) for a second person with payout authority.
#[utoipa::path(post, path = "/api/v1/payments/{payment}/refunds", tag = "payments", security(("bearer" = [])),
    params(("payment" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, pattern = r"^[!-~]{1,200}$",
            description = "A retry with the same key and request answers the first refund; with another request, 409")),
    request_body = RefundRequest, responses(
        (status = 201, body = RefundView),
        (status = 202, body = RefundView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "More than is left of the payment to refund", body = Problem,
            content_type = "application/problem+json"),
        (status = 502, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn refund(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    context: RequestContext,
    Path(payment): Path<String>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<RefundRequest>,
) -> Result<(StatusCode, Json<RefundView>), ApiError> {
    let service = service(&state)?;
    let idempotency_key = idempotency_key(&headers)?;
    let payment = state.store.payment(&caller.scope, path_id(&payment)?).await?;
    let reason = request.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ValidationErrors::single("reason", "say why, in at most 500 characters").into());
    }
    let amount = Money::new(request.amount, payment.settlement.charged.currency)
        .ok()
        .filter(|m| m.amount > 0)
        .ok_or_else(|| ApiError::from(ValidationErrors::single("amount", "must be more than zero")))?;
    // Whole pesos, as prices and shares are (a card slip and a bank statement show no centavos); the whole rest of a
    // payment charged in centavos before shares were rounded is refunded as it is.
    let left = payment.settlement.charged.amount - payment.refunded.amount;
    if !amount.currency.is_payable(amount.amount) && amount.amount != left {
        return Err(ApiError::rule(ValidationErrors::single(
            "amount",
            format!(
                "must be a multiple of {} minor units: {} refunds are in whole pesos (centavos are out of circulation)",
                amount.currency.payable_unit(),
                amount.currency.code()
            ),
        )));
    }
    // A refund that will wait for a second person needs one to exist: otherwise it would hold its part of the payment
    // with nobody able to approve it. (The store decides under the payment's lock whether it waits; this reads the
    // payment as it is now, which only a refund asked at the same moment changes.)
    let threshold = service.refund_threshold;
    if comanda_domain::payment::refund_needs_approval(payment.refunded, amount, threshold) {
        let approvers = collect_all(|page| state.store.list_staff(&caller.scope, page))
            .await?
            .into_iter()
            .filter(|member| {
                member.id != caller.member.id
                    && member
                        .standing
                        .allows(comanda_domain::access::Permission::ManagePayouts)
            })
            .count();
        if approvers == 0 {
            return Err(Problem::new(ProblemType::BusinessRule)
                .detail(
                    "this refund needs a second person with payout authority to approve it, and nobody else has it: \
                     an owner gives it to another member on the Staff page, then ask again",
                )
                .into());
        }
    }
    let new = NewRefund {
        id: Uuid::now_v7(),
        payment_id: payment.id,
        amount,
        reason: reason.to_owned(),
        requested_by: caller.member.id,
        approval_threshold: Some(threshold),
        idempotency_key,
        request_hash: crate::routes::guest::request_digest(
            &state,
            format!("{}\n{}\n{}", payment.id, amount.amount, reason).as_bytes(),
        ),
    };
    // Written as `refund.requested` by the store when the refund waits for a second person.
    let audit = context
        .audit("refund.issued")
        .actor(caller.member.id)
        .target(payment.id.to_string())
        .detail(format!("{} {}", amount.amount, amount.currency.code()));
    let requested = state
        .store
        .request_refund(&caller.scope, &new, &audit, state.clock.now())
        .await?;
    // A new refund waits for a second person (202) or is sent below. A retry with the first request's key answers
    // what its refund became: waiting (202), done (201), refused by Stripe (the first answer's 502 again), or still
    // pending because the first request was cut off before Stripe answered, which is sent on below (Stripe's own
    // idempotency key is the refund's id, so the money still moves once).
    use comanda_store::payments::RefundStatus;
    match requested.status {
        RefundStatus::AwaitingApproval => {
            return Ok((StatusCode::ACCEPTED, Json(RefundView::from(&requested))));
        }
        RefundStatus::Succeeded => return Ok((StatusCode::CREATED, Json(RefundView::from(&requested)))),
        RefundStatus::Failed if requested.declined_by.is_some() => {
            return Err(Problem::new(ProblemType::Conflict)
                .detail(
                    "this refund was declined while it awaited approval; nothing was refunded. To ask again, send \
                     a new request with another Idempotency-Key",
                )
                .into());
        }
        RefundStatus::Failed => {
            return Err(refused_by_stripe(requested)
                .err()
                .unwrap_or_else(|| ApiError::from(Problem::new(ProblemType::PaymentProvider))));
        }
        // Stripe has it and the card's bank has not answered yet.
        RefundStatus::Pending if requested.stripe_refund.is_some() => {
            return Ok((StatusCode::CREATED, Json(RefundView::from(&requested))));
        }
        RefundStatus::Pending => {}
    }
    let done = execute_refund(
        &state.store,
        service,
        &caller.scope,
        &requested,
        state.clock.now(),
    )
    .await
    .map_err(|e| refund_not_answered(&e))?;
    Ok((StatusCode::CREATED, Json(refused_by_stripe(done)?)))
}

/// Stripe's answer to a refund was lost, or was a server error, whose result is indeterminate
/// (docs.stripe.com/error-low-level): the refund stays pending, its amount reserved, and the payments upkeep settles
/// it with Stripe; asking again would only be answered this refund. Any other error is the provider's refusal.
fn refund_not_answered(error: &comanda_payments::StripeError) -> ApiError {
    if !crate::payments::outcome_unknown(error) {
        return provider_error(error);
    }
    tracing::warn!(%error, "refund's outcome unknown at Stripe");
    Problem::new(ProblemType::PaymentProvider)
        .detail(
            "the payment provider did not say whether it refunded this: the refund stays pending and is checked with \
             it again; do not refund it a second time",
        )
        .into()
}

/// A refund Stripe answered `failed` or `canceled` (at once, or after the card's bank refused it) is the provider's
/// refusal (502), as an error is.
fn refused_by_stripe(done: Refund) -> Result<RefundView, ApiError> {
    match done.status {
        comanda_store::payments::RefundStatus::Failed => Err(Problem::new(ProblemType::PaymentProvider)
            .detail(format!(
                "the payment provider could not refund this ({}); nothing reached the guest's card",
                done.failure.as_deref().unwrap_or("no reason given")
            ))
            .into()),
        _ => Ok(RefundView::from(&done)),
    }
}

/// A second person with payout authority approves a refund above the threshold; the money moves then.
#[utoipa::path(post, path = "/api/v1/refunds/{refund}/approve", tag = "payments", security(("bearer" = [])),
    params(("refund" = String, Path)), responses(
        (status = 200, body = RefundView),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn approve_refund(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    context: RequestContext,
    Path(refund): Path<String>,
    _no_body: crate::extract::NoBody,
) -> Result<Json<RefundView>, ApiError> {
    let service = service(&state)?;
    let audit = context
        .audit("refund.approved")
        .actor(caller.member.id)
        .target(refund.clone());
    let approved = state
        .store
        .approve_refund(
            &caller.scope,
            path_id(&refund)?,
            caller.member.id,
            &audit,
            state.clock.now(),
        )
        .await?;
    let done = execute_refund(&state.store, service, &caller.scope, &approved, state.clock.now())
        .await
        .map_err(|e| refund_not_answered(&e))?;
    Ok(Json(refused_by_stripe(done)?))
}

/// A refund awaiting approval is declined by someone with payout authority (its requester may withdraw it so, a
/// mistyped amount say): nothing moved, and what it reserved of the payment is free for another refund.
#[utoipa::path(post, path = "/api/v1/refunds/{refund}/decline", tag = "payments", security(("bearer" = [])),
    params(("refund" = String, Path)), responses(
        (status = 200, body = RefundView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn decline_refund(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    context: RequestContext,
    Path(refund): Path<String>,
    _no_body: crate::extract::NoBody,
) -> Result<Json<RefundView>, ApiError> {
    let id = path_id(&refund)?;
    let asked = state.store.refund(&caller.scope, id).await?;
    if asked.requested_by != caller.member.id
        && !caller
            .member
            .standing
            .allows(comanda_domain::access::Permission::ManagePayouts)
    {
        return Err(Problem::new(ProblemType::Forbidden)
            .detail("only its requester or someone with payout authority declines a refund")
            .into());
    }
    let audit = context
        .audit("refund.declined")
        .actor(caller.member.id)
        .target(refund.clone());
    let declined = state
        .store
        .decline_refund(&caller.scope, id, caller.member.id, &audit, state.clock.now())
        .await?;
    Ok(Json(RefundView::from(&declined)))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DisputeView {
    pub dispute_id: String,
    pub stripe_dispute: String,
    pub payment_id: String,
    pub amount: Money,
    pub reason: String,
    pub status: String,
    /// The partner's share of the loss, netted against its next transfers.
    pub debt: Money,
    pub evidence_due: Option<String>,
    /// What we hold to contest it: the itemised bill and the session's timestamps.
    #[schema(value_type = Object)]
    pub evidence: serde_json::Value,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DisputeList {
    pub items: Vec<DisputeView>,
    pub next_cursor: Option<String>,
}

/// Disputes on the partner's payments, newest first, with the evidence comanda holds (every order of the
/// session, however many).
#[utoipa::path(get, path = "/api/v1/disputes", tag = "payments", security(("bearer" = [])), params(TimedListQuery),
    responses((status = 200, body = DisputeList)))]
pub async fn disputes(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(query): ApiQuery<TimedListQuery>,
) -> Result<Json<DisputeList>, ApiError> {
    let page = PageRequest::parse_timed(query.cursor.as_deref(), query.limit)?;
    let format = time::format_description::well_known::Rfc3339;
    let mut views = Vec::new();
    let page = state.store.disputes(&caller.scope, page).await?;
    for dispute in &page.items {
        let payment = state.store.payment(&caller.scope, dispute.payment_id).await?;
        let orders =
            collect_all(|p| state.store.session_orders(&caller.scope, payment.session_id, p)).await?;
        let items: Vec<serde_json::Value> = orders
            .iter()
            .filter(|o| o.status != OrderStatus::Cancelled)
            .flat_map(|o| {
                o.lines.iter().map(|l| {
                    serde_json::json!({"order_id": o.id, "placed_at": o.placed_at.format(&format).ok(),
                                       "description": l.bill_line().description, "quantity": l.quantity,
                                       "unit_price": l.unit_price})
                })
            })
            .collect();
        views.push(DisputeView {
            dispute_id: dispute.id.to_string(),
            stripe_dispute: dispute.stripe_dispute.clone(),
            payment_id: dispute.payment_id.to_string(),
            amount: dispute.amount,
            reason: dispute.reason.clone(),
            status: dispute.status.clone(),
            debt: dispute.debt,
            evidence_due: dispute.evidence_due.and_then(|t| t.format(&format).ok()),
            evidence: serde_json::json!({
                "items": items,
                "payment": {"charged": payment.settlement.charged, "tip": payment.settlement.tip,
                             "created_at": payment.created_at.format(&format).ok(),
                             "succeeded_at": payment.succeeded_at.and_then(|t| t.format(&format).ok()),
                             "payment_intent": payment.payment_intent},
                "session": {"session_id": payment.session_id, "table_id": payment.table_id,
                             "first_order_at": orders.first().and_then(|o| o.placed_at.format(&format).ok()),
                             "last_order_at": orders.last().and_then(|o| o.placed_at.format(&format).ok())},
            }),
        });
    }
    Ok(Json(DisputeList {
        items: views,
        next_cursor: page.next.map(|c| c.encode()),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TipsQuery {
    /// `YYYY-MM`: each venue's tips of its business month, from its business day's start on the 1st to the same on
    /// the next month's 1st, in its time zone (as its sales are counted).
    #[param(pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$")]
    pub month: String,
    /// `json` (default), `csv` (RFC 4180, the API's field names) or `csv-es` (for a spreadsheet in a Spanish-speaking
    /// locale: byte-order mark, `;`, decimal comma, the header row and the figures' names in Spanish).
    #[serde(default)]
    #[param(inline)]
    pub format: Option<TipsFormat>,
    /// JSON: where `entries` continue (`next_cursor` of the previous answer). The CSV is always the whole month.
    #[param(pattern = r"^([A-Za-z0-9_-]{21}[AQgw]A{9}[A-H][A-Za-z0-9_-]{10}[AEIMQUYcgkosw048])?$")]
    pub cursor: Option<String>,
    /// JSON: how many `entries` per answer (1–200). The totals always cover the whole month.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TipsFormat {
    Json,
    Csv,
    #[serde(rename = "csv-es")]
    CsvEs,
}

/// The tip ledger of one month: each tip credited to the server of the table (negative when a refund or a voided
/// cash record took it back), by card or in cash (`tender`; a cash tip's `payment_id` names its cash record), as JSON
/// or CSV for payroll. The JSON pages `entries` (`cursor`, `limit`, `next_cursor`); its totals and the
/// CSV always cover the whole month, read in pages.
#[utoipa::path(get, path = "/api/v1/tips", tag = "payments", security(("bearer" = [])), params(TipsQuery),
    responses((status = 200, description = "The month's tip ledger (JSON, or CSV with `format=csv`)",
            content((TipLedger = "application/json"), (String = "text/csv"))),
        (status = 400, body = Problem, content_type = "application/problem+json")))]
pub async fn tips(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(query): ApiQuery<TipsQuery>,
) -> Result<Response, ApiError> {
    let page = PageRequest::parse_timed(query.cursor.as_deref(), query.limit)?;
    let bad_month = || ApiError::from(ValidationErrors::single("month", "use YYYY-MM"));
    let (year, month) = query.month.split_once('-').ok_or_else(bad_month)?;
    let year: i32 = year.parse().map_err(|_| bad_month())?;
    let month: u8 = month.parse().map_err(|_| bad_month())?;
    let month = time::Month::try_from(month).map_err(|_| bad_month())?;
    let start = time::Date::from_calendar_date(year, month, 1).map_err(|_| bad_month())?;
    let next = if month == time::Month::December {
        time::Date::from_calendar_date(year + 1, time::Month::January, 1)
    } else {
        time::Date::from_calendar_date(year, month.next(), 1)
    }
    .map_err(|_| bad_month())?;
    // Each venue's tips by its own business month — from its business day's start on the 1st to the same on the
    // next month's 1st, in its time zone — as its sales are: a Bogotá dinner tip at 19:30 on the 31st is the next
    // UTC day, and was paid in the next month's payroll, apart from the dashboard's month.
    let venues = collect_all(|p| state.store.list_venues(&caller.scope, p)).await?;
    let utc_month = (start.midnight().assume_utc(), next.midnight().assume_utc());
    let mut calendars = std::collections::HashMap::new();
    for venue in &venues {
        let calendar = comanda_domain::analytics::BusinessCalendar::new(
            crate::routes::reservations::venue_zone(venue)?,
            venue.day_start_hour,
        );
        if let Some(calendar) = calendar
            && let (Some(first), Some(last)) = (calendar.day_start(start), calendar.day_start(next))
        {
            calendars.insert(venue.id.as_uuid(), (calendar, (first, last)));
        }
    }
    let month_of = |venue: &uuid::Uuid| calendars.get(venue).map_or(utc_month, |(_, month)| *month);
    let in_month = |e: &comanda_store::payments::TipEntry| {
        let (first, last) = month_of(&e.venue_id);
        e.at >= first && e.at < last
    };
    let business_day = |e: &comanda_store::payments::TipEntry| {
        calendars
            .get(&e.venue_id)
            .map_or(e.at.date(), |(calendar, _)| calendar.business_day(e.at))
            .to_string()
    };
    let from = calendars.values().map(|(_, m)| m.0).min().unwrap_or(utc_month.0);
    let to = calendars.values().map(|(_, m)| m.1).max().unwrap_or(utc_month.1);
    // The payroll file and the totals need the whole month: it is read in pages, never cut at a row count.
    let entries: Vec<_> = collect_all(|p| state.store.tips(&caller.scope, from, to, p))
        .await?
        .into_iter()
        .filter(|e| in_month(e))
        .collect();
    let format = time::format_description::well_known::Rfc3339;
    // Payroll pays people, not ids: each member's name beside their id (empty for a member since erased).
    let names: std::collections::HashMap<uuid::Uuid, String> =
        crate::routes::analytics::staff_names(&state, &caller)
            .await?
            .into_iter()
            .collect();
    let name_of =
        |member: Option<uuid::Uuid>| member.and_then(|m| names.get(&m).cloned()).unwrap_or_default();
    let dialect = match query.format {
        Some(TipsFormat::Csv) => Some(CsvDialect::Rfc4180),
        Some(TipsFormat::CsvEs) => Some(CsvDialect::SpanishSpreadsheet),
        Some(TipsFormat::Json) | None => None,
    };
    if let Some(dialect) = dialect {
        // The tip in the bill's currency, then as the partner's transfer carried it (the platform's settlement
        // currency; empty until the transfer is sent).
        let mut csv = CsvExport::new(
            "tips.csv",
            &[
                "at",
                "venue_id",
                "member_id",
                "member_name",
                "payment_id",
                "amount_minor",
                "currency",
                "settled_amount_minor",
                "settled_currency",
                // Added later, at the end: a payroll import that reads columns by position keeps working.
                "tender",
                "taken_by_id",
                "taken_by_name",
                "business_day",
                // The tip in pesos beside its minor units, as the other reports write money.
                "amount",
            ],
            dialect,
        );
        for e in &entries {
            let settled = e.settled.as_ref();
            // The instant at its venue's offset (19:30-05:00, not 00:30Z the next day), as the cash journal writes it.
            // To the second: a spreadsheet reads "19:41:04", not nine digits of a second (kept as text).
            let at = calendars
                .get(&e.venue_id)
                .map_or(e.at, |(calendar, _)| calendar.with_local_offset(e.at));
            let at = at.replace_nanosecond(0).unwrap_or(at);
            csv.row([
                at.format(&format).unwrap_or_default(),
                e.venue_id.to_string(),
                e.member.map(|m| m.to_string()).unwrap_or_default(),
                name_of(e.member),
                e.payment_id.to_string(),
                e.amount.to_string(),
                e.currency.clone(),
                settled.map(|s| s.amount.to_string()).unwrap_or_default(),
                settled
                    .map(|s| s.currency.to_ascii_uppercase())
                    .unwrap_or_default(),
                csv.term(e.tender.as_str()).to_owned(),
                e.taken_by.map(|m| m.to_string()).unwrap_or_default(),
                e.taken_by.map(|m| name_of(Some(m))).unwrap_or_default(),
                business_day(e),
                comanda_domain::Currency::from_code(&e.currency)
                    .map(|currency| comanda_domain::money::decimal_text(e.amount, currency))
                    .unwrap_or_default(),
            ]);
        }
        return Ok(csv.into_response());
    }
    type Sums = std::collections::BTreeMap<String, std::collections::BTreeMap<String, i64>>;
    // Per currency, each member's tips; of each, the tips guests left in cash: they sit in the drawer of whoever
    // took them (`taken_by`), not necessarily the member they are credited to, until the tips are paid out.
    let (mut by_currency, mut cash_by_currency) = (Sums::new(), Sums::new());
    for e in &entries {
        let member = e
            .member
            .map(|m| m.to_string())
            .unwrap_or_else(|| "unassigned".into());
        if e.tender == comanda_store::payments::Tender::Cash {
            *cash_by_currency
                .entry(e.currency.clone())
                .or_default()
                .entry(member.clone())
                .or_default() += e.amount;
        }
        *by_currency
            .entry(e.currency.clone())
            .or_default()
            .entry(member)
            .or_default() += e.amount;
    }
    let (totals, in_cash) = (in_one_currency(&by_currency), in_one_currency(&cash_by_currency));
    // A page of the range read, less the entries of another business month: a page may hold fewer than `limit`
    // (even none) while `next_cursor` says more follow.
    let listed = state.store.tips(&caller.scope, from, to, page).await?;
    let entries = listed
        .items
        .iter()
        .filter(|e| in_month(e))
        .map(|e| TipLine {
            business_day: business_day(e),
            at: e.at,
            venue_id: e.venue_id.to_string(),
            member_id: e.member.map(|m| m.to_string()),
            member_name: name_of(e.member),
            payment_id: e.payment_id.to_string(),
            tender: e.tender.into(),
            taken_by: e.taken_by.map(|m| m.to_string()),
            taken_by_name: e.taken_by.map(|m| name_of(Some(m))),
            amount: e.amount,
            currency: e.currency.clone(),
            settled: e.settled.as_ref().map(|s| SettledTip {
                amount: s.amount,
                currency: s.currency.to_ascii_uppercase(),
            }),
        })
        .collect();
    let member_names = by_currency
        .values()
        .flat_map(|members| members.keys())
        .filter_map(|id| id.parse().ok())
        .map(|id: uuid::Uuid| (id.to_string(), name_of(Some(id))))
        .collect();
    Ok(Json(TipLedger {
        month: query.month,
        entries,
        totals_by_member: totals,
        cash_tips_by_member: in_cash,
        totals_by_currency: by_currency,
        cash_tips_by_currency: cash_by_currency,
        member_names,
        next_cursor: listed.next.map(|c| c.encode()),
    })
    .into_response())
}

/// Each member's total from per-currency totals, for the members whose tips are all in one currency: pesos and
/// dollars are never added into one number (a member working in venues of two currencies is left out).
fn in_one_currency(
    sums: &std::collections::BTreeMap<String, std::collections::BTreeMap<String, i64>>,
) -> std::collections::BTreeMap<String, i64> {
    let mut once = std::collections::BTreeMap::new();
    let mut mixed = std::collections::BTreeSet::new();
    for members in sums.values() {
        for (member, amount) in members {
            if once.insert(member.clone(), *amount).is_some() {
                mixed.insert(member.clone());
            }
        }
    }
    once.retain(|member, _| !mixed.contains(member));
    once
}

#[cfg(test)]
mod tip_total_tests {
    use std::collections::BTreeMap;

    #[test]
    fn a_member_with_tips_in_two_currencies_has_no_plain_total() {
        let sums = BTreeMap::from([
            (
                "COP".to_owned(),
                BTreeMap::from([("ana".to_owned(), 100_000), ("luis".to_owned(), 50_000)]),
            ),
            ("USD".to_owned(), BTreeMap::from([("ana".to_owned(), 200)])),
        ]);
        assert_eq!(
            super::in_one_currency(&sums),
            BTreeMap::from([("luis".to_owned(), 50_000)]),
            "1.000 COP and 2 USD are never 100200"
        );
    }
}

/// How a tip was given.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TipTender {
    Card,
    Cash,
}

impl From<comanda_store::payments::Tender> for TipTender {
    fn from(tender: comanda_store::payments::Tender) -> Self {
        match tender {
            comanda_store::payments::Tender::Card => TipTender::Card,
            comanda_store::payments::Tender::Cash => TipTender::Cash,
        }
    }
}

/// A tip as the partner's transfer carried it, in the platform's settlement currency.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SettledTip {
    pub amount: i64,
    pub currency: String,
}

/// One entry of the tip ledger.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TipLine {
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: time::OffsetDateTime,
    pub venue_id: String,
    /// The member it is credited to (who accepted the table); `null` for a table nobody accepted.
    pub member_id: Option<String>,
    /// Their name (a removed member's kept name; empty once erased or unassigned).
    pub member_name: String,
    /// The card payment that carried it, or with tender `cash` the cash record.
    pub payment_id: String,
    pub tender: TipTender,
    /// A cash tip: the member who took the cash and recorded it (their drawer holds it until tips are paid out).
    pub taken_by: Option<String>,
    pub taken_by_name: Option<String>,
    /// Minor units of `currency`; negative when a refund or a voided cash record took it back.
    pub amount: i64,
    pub currency: String,
    /// The card tip as the partner's transfer carried it (once sent; never for cash).
    pub settled: Option<SettledTip>,
    /// The venue's business day it counts on (`YYYY-MM-DD`, its time zone and day-start hour), as in its sales.
    pub business_day: String,
}

/// The tip ledger of one month: entries paged, totals always over the whole month.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TipLedger {
    /// `YYYY-MM`: each venue's business month (from its business day's start on the 1st, in its time zone).
    pub month: String,
    pub entries: Vec<TipLine>,
    /// Each member's tips of the month (`unassigned` for tables nobody accepted), minor units of their one
    /// currency; a member with tips in two currencies (venues pricing in both) is only in `totals_by_currency`.
    pub totals_by_member: std::collections::BTreeMap<String, i64>,
    /// Of those, the tips guests left in cash.
    pub cash_tips_by_member: std::collections::BTreeMap<String, i64>,
    /// Per currency (ISO 4217), each member's tips of the month in its minor units.
    pub totals_by_currency: std::collections::BTreeMap<String, std::collections::BTreeMap<String, i64>>,
    /// Per currency, of those, the tips guests left in cash.
    pub cash_tips_by_currency: std::collections::BTreeMap<String, std::collections::BTreeMap<String, i64>>,
    /// The name of every member the totals name.
    pub member_names: std::collections::BTreeMap<String, String>,
    pub next_cursor: Option<String>,
}
