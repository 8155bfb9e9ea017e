//! Reservation deposits at Stripe: one PaymentIntent per booking whose venue asks a deposit, and the money's
//! movement when the booking ends. What becomes of a paid deposit is `comanda_domain::reservation::deposit_fate`'s
//! rule, recorded (refund- or keep-due) in the transaction that ends the booking; here that decision is carried out
//! with idempotency keys derived from the reservation, right after the change and again by the payments upkeep
//! until Stripe has done it, so a crash or a lost answer never loses or doubles a refund or a transfer.

use std::sync::Arc;

use comanda_domain::Money;
use comanda_domain::payment::ChargeModel;
use comanda_payments::StripeError;
use comanda_payments::stripe::{NewPaymentIntent, PaymentIntent, RefundOutcome};
use comanda_security::TenantScope;
use comanda_store::Store;
use comanda_store::identity::AuditEntry;
use comanda_store::payments::ConnectedAccount;
use comanda_store::reservations::{Deposit, DepositStatus, Reservation, ReservationStatus};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::payments::PaymentService;

/// The PaymentIntent metadata key naming the reservation a deposit is for.
pub const RESERVATION_KEY: &str = "reservation_id";
const CHARGE_MODEL_KEY: &str = "charge_model";

/// The reservation a deposit's PaymentIntent names (our metadata), if it is one.
pub fn reservation_of(intent: &PaymentIntent) -> Option<Uuid> {
    intent.metadata.get(RESERVATION_KEY)?.parse().ok()
}

fn transfer_group(reservation: Uuid) -> String {
    format!("reservation-{reservation}")
}

/// Creates the deposit's PaymentIntent (idempotent per reservation). With destination charges the money lands on the
/// venue's account at once (a refund reverses it); otherwise it is held on the platform until the booking ends.
pub async fn start(
    service: &PaymentService,
    scope: &TenantScope,
    account: &ConnectedAccount,
    venue: (Uuid, &str),
    reservation: Uuid,
    amount: Money,
) -> Result<PaymentIntent, StripeError> {
    let destination = account.charge_model == ChargeModel::DestinationCharges;
    let metadata = [
        (RESERVATION_KEY, reservation.to_string()),
        ("partner_id", scope.partner().to_string()),
        ("venue_id", venue.0.to_string()),
        (
            CHARGE_MODEL_KEY,
            if destination { "destination" } else { "separate" }.to_owned(),
        ),
    ];
    let group = transfer_group(reservation);
    let description = format!("{} — depósito de reserva", venue.1);
    let intent = NewPaymentIntent {
        amount: amount.amount,
        currency: amount.currency.code(),
        transfer_group: &group,
        metadata: &metadata,
        description: &description,
        destination: destination.then_some((account.stripe_account.as_str(), 0)),
    };
    service
        .client
        .create_payment_intent(&intent, &format!("deposit-{reservation}"))
        .await
}

/// Carries out what a deposit still owes at Stripe: cancels the PaymentIntent of one never paid (its hold expired, or
/// its booking was cancelled) and releases it, refunds one refund-due, and hands one keep-due to the venue (a transfer
/// in the settlement currency of its charge's balance transaction, or nothing to move with destination charges).
/// Answers the settled deposit, or `None` when there was nothing to do or another instance did it.
pub async fn settle(
    store: &Arc<dyn Store>,
    service: &PaymentService,
    scope: &TenantScope,
    deposit: &Deposit,
    now: OffsetDateTime,
) -> Result<Option<Deposit>, StripeError> {
    let internal = |e: comanda_store::StoreError| StripeError::Decode(e.to_string());
    let reservation = deposit.reservation_id;
    let audit = |action: &str, detail: String| AuditEntry::new(action).detail(detail);
    let Some(intent_id) = deposit.payment_intent.clone() else {
        // The PaymentIntent was never created (Stripe refused it): nothing to cancel.
        return store
            .settle_deposit(
                scope,
                reservation,
                DepositStatus::Awaiting,
                DepositStatus::Released,
                None,
                &audit("reservation.deposit_released", "no PaymentIntent".into()),
                now,
            )
            .await
            .map_err(internal);
    };
    // A refund Stripe refused at once still settles the booking's decision; the venue is told to give it back.
    let mut refused_refund = None;
    let (to, reference, action) = match deposit.status {
        DepositStatus::Awaiting => {
            // Cancelled at Stripe first, so it can no longer be paid; one Stripe already took is left for its webhook.
            service
                .client
                .cancel_payment_intent(&intent_id, &format!("deposit-cancel-{reservation}"))
                .await?;
            (DepositStatus::Released, None, "reservation.deposit_released")
        }
        DepositStatus::RefundDue => {
            let intent = service.client.payment_intent(&intent_id).await?;
            let destination =
                intent.metadata.get(CHARGE_MODEL_KEY).map(String::as_str) == Some("destination");
            let refund = service
                .client
                .create_refund(
                    &intent_id,
                    deposit.amount.amount,
                    destination,
                    &[(RESERVATION_KEY, reservation.to_string())],
                    &format!("deposit-refund-{reservation}"),
                )
                .await?;
            if let RefundOutcome::Failed(reason) = refund.outcome() {
                refused_refund = Some((refund.id.clone(), reason));
            }
            (
                DepositStatus::Refunded,
                Some(refund.id),
                "reservation.deposit_refunded",
            )
        }
        DepositStatus::KeepDue => {
            let intent = service.client.payment_intent(&intent_id).await?;
            if intent.metadata.get(CHARGE_MODEL_KEY).map(String::as_str) == Some("destination") {
                (
                    DepositStatus::Kept,
                    intent.latest_charge,
                    "reservation.deposit_kept",
                )
            } else {
                let transfer = keep_on_platform_charge(store, service, scope, deposit, &intent).await?;
                (DepositStatus::Kept, Some(transfer), "reservation.deposit_kept")
            }
        }
        DepositStatus::Paid | DepositStatus::Refunded | DepositStatus::Kept | DepositStatus::Released => {
            return Ok(None);
        }
    };
    let detail = format!(
        "{} {} {}",
        deposit.amount.amount,
        deposit.amount.currency.code(),
        reference.as_deref().unwrap_or(&intent_id)
    );
    let settled = store
        .settle_deposit(
            scope,
            reservation,
            deposit.status,
            to,
            reference.as_deref(),
            &audit(action, detail).target(reservation.to_string()),
            now,
        )
        .await
        .map_err(internal)?;
    if let Some((stripe_refund, reason)) = refused_refund {
        refund_failed(store, scope, reservation, &stripe_refund, &reason, now)
            .await
            .map_err(internal)?;
    }
    Ok(settled)
}

/// A deposit's refund that did not reach the guest's card (Stripe's `failure_reason`: refused when asked, or failed
/// later at the card's bank, its money back on the platform's balance): recorded on the deposit and audited once,
/// and the venue is alerted (`payments.refund_failed`) to give it back another way. A repeated event changes
/// nothing.
pub async fn refund_failed(
    store: &Arc<dyn Store>,
    scope: &TenantScope,
    reservation: Uuid,
    stripe_refund: &str,
    reason: &str,
    now: OffsetDateTime,
) -> comanda_store::StoreResult<()> {
    let audit = AuditEntry::new("reservation.deposit_refund_failed")
        .detail(format!("{stripe_refund} {reason}"))
        .target(reservation.to_string());
    let Some(deposit) = store
        .deposit_refund_failed(scope, reservation, stripe_refund, reason, &audit, now)
        .await?
    else {
        return Ok(());
    };
    let detail = format!(
        "the deposit refund of booking {reservation} ({} {}) did not reach the guest's card ({reason}): give it \
         back another way (cash, a transfer) and tell the guest",
        deposit.amount.amount,
        deposit.amount.currency.code()
    );
    crate::alert_routing::raise(
        &**store,
        Some(scope.partner()),
        "payments.refund_failed",
        &detail,
        now,
    )
    .await?;
    Ok(())
}

/// The venue's share of a kept deposit held on the platform: what the charge settled, net of Stripe's fee, sent to
/// the venue's account in the balance transaction's currency (Stripe refuses any other with `source_transaction`).
async fn keep_on_platform_charge(
    store: &Arc<dyn Store>,
    service: &PaymentService,
    scope: &TenantScope,
    deposit: &Deposit,
    intent: &PaymentIntent,
) -> Result<String, StripeError> {
    let missing = |what: &str| StripeError::Decode(format!("deposit {}: {what}", deposit.reservation_id));
    let account = store
        .connected_account(scope)
        .await
        .map_err(|e| StripeError::Decode(e.to_string()))?
        .ok_or_else(|| missing("the venue has no connected account"))?;
    let charge_id = intent.latest_charge.clone().ok_or_else(|| missing("no charge"))?;
    let charge = service.client.charge(&charge_id).await?;
    let settled = charge
        .settled()
        .ok_or_else(|| missing("the charge has no balance transaction yet"))?;
    let transfer = service
        .client
        .create_transfer(
            settled.net,
            &settled.currency,
            &account.stripe_account,
            &transfer_group(deposit.reservation_id),
            Some(&charge_id),
            &[(RESERVATION_KEY, deposit.reservation_id.to_string())],
            &format!("deposit-transfer-{}", deposit.reservation_id),
        )
        .await?;
    Ok(transfer.id)
}

/// Settles one reservation's deposit now (after a change ended its booking); a failure is logged and left to the
/// upkeep, which retries it.
pub async fn settle_now(
    store: &Arc<dyn Store>,
    service: &PaymentService,
    scope: &TenantScope,
    reservation: Uuid,
    now: OffsetDateTime,
) {
    let Ok(Some(deposit)) = store.deposit(scope, reservation).await else {
        return;
    };
    if let Err(error) = settle(store, service, scope, &deposit, now).await {
        tracing::warn!(%reservation, %error, "deposit not settled yet; the upkeep retries");
    }
}

/// The upkeep's part: every deposit of the partner whose money must still move. Answers the bookings this released
/// because their deposit's hold ran out before it was paid (the store cancels a booking still awaiting its deposit):
/// their tables are free, and their guests have not been told.
pub async fn settle_due(
    store: &Arc<dyn Store>,
    service: &PaymentService,
    scope: &TenantScope,
    now: OffsetDateTime,
) -> Vec<Reservation> {
    let Ok(due) = store.unsettled_deposits(scope, now).await else {
        return Vec::new();
    };
    let mut lapsed = Vec::new();
    for deposit in due {
        let awaited = deposit.status == DepositStatus::Awaiting
            && store
                .reservation(scope, deposit.reservation_id)
                .await
                .is_ok_and(|booking| booking.status == ReservationStatus::AwaitingDeposit);
        match settle(store, service, scope, &deposit, now).await {
            Ok(Some(_)) if awaited => {
                // Cancelled by this release (stamped with its instant, to the microsecond PostgreSQL keeps), not by
                // the guest's own cancellation in between, whose guest was told already.
                let micros = |at: OffsetDateTime| at.unix_timestamp_nanos() / 1_000;
                if let Ok(booking) = store.reservation(scope, deposit.reservation_id).await
                    && booking.status == ReservationStatus::Lapsed
                    && micros(booking.updated_at) == micros(now)
                {
                    lapsed.push(booking);
                }
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(reservation = %deposit.reservation_id, %error, "deposit not settled; will retry");
            }
        }
    }
    lapsed
}
