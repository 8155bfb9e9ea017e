//! A guest starting to pay part of the table's bill (`POST /api/v1/t/{token}/payments`): the use case behind the
//! handler, which only parses the request and answers. Its refusals are [`StartPaymentError`], mapped to problem
//! documents once, in `problem.rs`.
//!
//! The order matters for the money: the share is computed from the balance (`domain::payment::split_share`), held
//! against the bill in one store transaction (`reserve_payment`: parallel payers can never cover more than the bill),
//! and only then is the PaymentIntent created at Stripe, under a key derived from the payment (`intent-{id}`), so a
//! retried request never charges twice. A PaymentIntent Stripe refuses releases the hold at once.

use comanda_domain::payment::{
    BillBalance, ChargeModel, Share, ShareError, Split, check_tip, settle, split_share,
};
use comanda_domain::{Money, OrderStatus, Venue};
use comanda_payments::StripeError;
use comanda_payments::stripe::NewPaymentIntent;
use comanda_security::TenantScope;
use comanda_store::StoreError;
use comanda_store::ordering::{SessionStatus, VenueTable};
use comanda_store::payments::{NewPayment, Payment, PaymentStatus, ReserveOutcome};
use uuid::Uuid;

use super::PaymentService;
use crate::app::AppState;

/// What the guest asked for, as the handler parsed it.
pub struct StartPayment<'a> {
    pub split: &'a Split,
    /// Minor units of the bill's currency.
    pub tip: i64,
    /// The share the guest was shown (minor units): a different share now is refused, never charged.
    pub shown_amount: Option<i64>,
    pub idempotency_key: Option<String>,
    pub device: Option<String>,
    /// SHA-256 of the request body: the same key with another body is refused.
    pub request_hash: Vec<u8>,
}

/// A payment holding its share of the bill, and the client secret Stripe Elements confirms it with.
pub struct StartedPayment {
    pub payment: Payment,
    pub client_secret: String,
    /// The first answer to a retried Idempotency-Key, given again (`Idempotent-Replayed: true`).
    pub replayed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum StartPaymentError {
    #[error("this restaurant cannot take card payments yet; please pay the staff")]
    AccountNotReady,
    #[error("this table has no open bill to pay")]
    NoOpenBill,
    #[error(transparent)]
    Share(#[from] ShareError),
    #[error("the bill changed: this share is now {0} (minor units); confirm the new amount")]
    AmountChanged(i64),
    #[error("must not be negative")]
    NegativeTip,
    #[error("{0}")]
    Unsettled(String),
    #[error("this Idempotency-Key was used for another payment")]
    KeyReused,
    #[error("the bill is already covered or being paid by someone else; {0} (minor units) is left")]
    Covered(i64),
    #[error("this table's bill was closed")]
    SessionGone,
    #[error("this payment failed to start")]
    NeverStarted,
    #[error("this payment was replaced by a newer one from this device; use that one")]
    Replaced,
    #[error(transparent)]
    Provider(StripeError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The answer to a reservation that made no new payment: a retried key's first payment (its PaymentIntent read
/// back for the client secret), or the refusal.
async fn answer_reserved(
    service: &PaymentService,
    outcome: ReserveOutcome,
) -> Result<StartedPayment, StartPaymentError> {
    let replayed = matches!(outcome, ReserveOutcome::Replayed(_));
    let first = match outcome {
        ReserveOutcome::Reserved(first) | ReserveOutcome::Replayed(first) => first,
        ReserveOutcome::KeyReused => return Err(StartPaymentError::KeyReused),
        ReserveOutcome::Covered { remaining } => return Err(StartPaymentError::Covered(remaining.amount)),
        ReserveOutcome::SessionGone => return Err(StartPaymentError::SessionGone),
        ReserveOutcome::LineTaken(taken) => return Err(StartPaymentError::Share(taken)),
        ReserveOutcome::ShareChanged { share } => return Err(StartPaymentError::AmountChanged(share.amount)),
    };
    let intent = first
        .payment_intent
        .as_deref()
        .ok_or(StartPaymentError::NeverStarted)?;
    let intent = service
        .client
        .payment_intent(intent)
        .await
        .map_err(StartPaymentError::Provider)?;
    Ok(StartedPayment {
        payment: first,
        client_secret: intent.client_secret.unwrap_or_default(),
        replayed,
    })
}

/// Starts the payment, or answers the first one for a retried Idempotency-Key (its PaymentIntent read back).
pub async fn start_payment(
    state: &AppState,
    service: &PaymentService,
    (scope, venue, table): (&TenantScope, &Venue, &VenueTable),
    request: StartPayment<'_>,
) -> Result<StartedPayment, StartPaymentError> {
    let account = state
        .store
        .connected_account(scope)
        .await?
        .filter(|a| a.accepts_payments())
        .ok_or(StartPaymentError::AccountNotReady)?;
    let session = state
        .store
        .live_session(scope, table.id)
        .await?
        .ok_or(StartPaymentError::NoOpenBill)?;
    // A retry finds its payment before anything is computed from the bill: the payment it made may have taken all
    // that was left, and the retry must still get its client secret rather than "nothing left to pay".
    if let Some(key) = &request.idempotency_key
        && let Some(first) = state
            .store
            .keyed_payment(
                scope,
                session.id,
                key,
                (&request.request_hash, request.device.as_deref()),
            )
            .await?
    {
        return answer_reserved(service, first).await;
    }
    if session.status != SessionStatus::Open {
        return Err(StartPaymentError::NoOpenBill);
    }
    // A new payment from a device replaces the one it left unfinished (the guest went back, reloaded the page, chose
    // another share): its share counts as free here, as the guest's page showed it, and it is cancelled at Stripe,
    // then released, once this payment is known to go ahead (a refused request changes nothing) — it would otherwise
    // hold the bill for its 15 minutes and block the guest's friends. One Stripe has already taken stays, and is
    // counted when this one is reserved; so does one still being created (no PaymentIntent yet: another request of
    // this device is creating it, and only a payment cancelled at Stripe may be released).
    let replaced: Vec<Payment> = match request.device.as_deref() {
        Some(device) => state
            .store
            .session_holds(scope, session.id, Some(device))
            .await?
            .into_iter()
            .filter(|left| left.payment_intent.is_some())
            .collect(),
        None => Vec::new(),
    };
    let freed = replaced.iter().map(|left| left.settlement.share.amount).sum();
    let balance = state
        .store
        .session_balance(scope, session.id)
        .await?
        .releasing(freed);
    // Only a split by lines needs the orders themselves; every other split is computed from the balance.
    let (orders, claims) = match request.split {
        Split::Items { .. } => (
            state.store.table_orders(scope, table.id).await?,
            state
                .store
                .line_claims(scope, session.id, request.device.as_deref())
                .await?,
        ),
        _ => (Vec::new(), Vec::new()),
    };
    let line_total = |order: Uuid, line: u32| {
        orders
            .iter()
            .filter(|o| o.id == order && o.status != OrderStatus::Cancelled)
            .find_map(|o| o.lines.get(usize::try_from(line).ok()?))
            .and_then(|l| l.bill_line().total().ok())
    };
    let bill = BillBalance {
        total: balance.total,
        remaining: balance.remaining,
    };
    let Share {
        amount: share,
        line_amounts,
    } = split_share(request.split, &bill, line_total, &claims)?;
    if request.shown_amount.is_some_and(|shown| shown != share.amount) {
        return Err(StartPaymentError::AmountChanged(share.amount));
    }
    let line_totals = match request.split {
        Split::Items { items } => items
            .iter()
            .filter_map(|item| line_total(item.order_id, item.line))
            .collect(),
        _ => Vec::new(),
    };
    let tip = Money::new(request.tip, share.currency).map_err(|_| StartPaymentError::NegativeTip)?;
    check_tip(share, tip)?;
    let settlement =
        settle(share, tip, service.fee_bp).map_err(|e| StartPaymentError::Unsettled(e.to_string()))?;
    for left in &replaced {
        crate::payments::cancel_payment(
            &state.store,
            service,
            scope,
            left,
            comanda_domain::payment::cancelled_because::REPLACED_BY_THE_GUEST,
        )
        .await;
    }
    let now = state.clock.now();
    let payment = NewPayment {
        id: Uuid::now_v7(),
        venue_id: venue.id.as_uuid(),
        table_id: table.id,
        session_id: session.id,
        split: request.split.clone(),
        settlement,
        charge_model: account.charge_model,
        device: request.device,
        idempotency_key: request.idempotency_key,
        request_hash: request.request_hash,
        tip_member: session.accepted_member,
        whole_bill: *request.split == Split::Full,
        line_totals,
        line_amounts,
        expires_at: now + service.hold,
    };
    let payment = match state.store.reserve_payment(scope, &payment, now).await? {
        ReserveOutcome::Reserved(payment) => payment,
        other => return answer_reserved(service, other).await,
    };
    let metadata = [
        ("payment_id", payment.id.to_string()),
        ("partner_id", scope.partner().to_string()),
        ("venue_id", venue.id.as_uuid().to_string()),
        ("session_id", session.id.to_string()),
    ];
    let description = format!("{} — {}", venue.name, table.label);
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
                    scope,
                    payment.id,
                    PaymentStatus::Failed,
                    "the provider refused it",
                )
                .await?;
            return Err(StartPaymentError::Provider(error));
        }
    };
    // Released meanwhile (its hold expired): the PaymentIntent must never be payable.
    if !state.store.attach_intent(scope, payment.id, &created.id).await? {
        if let Err(error) = service
            .client
            .cancel_payment_intent(&created.id, &format!("cancel-{}", payment.id))
            .await
        {
            tracing::warn!(payment = %payment.id, %error, "an orphaned PaymentIntent could not be cancelled");
        }
        return Err(StartPaymentError::Replaced);
    }
    state
        .order_events
        .announce(scope.partner().as_uuid(), payment.venue_id);
    Ok(StartedPayment {
        payment,
        client_secret: created.client_secret.unwrap_or_default(),
        replayed: false,
    })
}
