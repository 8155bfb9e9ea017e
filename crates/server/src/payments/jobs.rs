//! The platform's payment work outside requests: owed transfers, reading the connected account back, abandoned
//! holds released, refunds carried out at Stripe, and the periodic upkeep that runs them.

use super::*;
use comanda_domain::payment::cancelled_because;
use comanda_payments::stripe::RefundOutcome;
use comanda_store::payments::SettledMoney;

/// Sends every transfer the partner is owed. Each carries an idempotency key derived from its payment, so a retry
/// (another instance, a crash between Stripe's answer and our record) can never pay twice.
pub async fn send_due_transfers(
    store: &Arc<dyn Store>,
    service: &PaymentService,
    scope: &TenantScope,
    now: OffsetDateTime,
) -> usize {
    let Ok(due) = store.due_transfers(scope).await else {
        return 0;
    };
    let mut sent = 0;
    for order in due {
        match send_transfer(store, service, scope, &order, now).await {
            Ok(()) => sent += 1,
            Err(error) => {
                tracing::warn!(payment = %order.payment_id, %error, "transfer not sent; will retry");
            }
        }
    }
    sent
}

/// Is this error one after which Stripe may have done what was asked: the answer was lost or unreadable, or Stripe
/// answered a server error, whose result "should be treated as indeterminate" (docs.stripe.com/error-low-level,
/// "Server errors")?
pub(crate) fn outcome_unknown(error: &StripeError) -> bool {
    match error {
        StripeError::Decode(_) | StripeError::Transport(_) => true,
        StripeError::Api { status, .. } => *status >= 500,
    }
}

/// One transfer, in the currency of the source charge's balance transaction (Stripe refuses any other with
/// `source_transaction`), apportioned by [`apportion_settlement`].
pub(crate) async fn send_transfer(
    store: &Arc<dyn Store>,
    service: &PaymentService,
    scope: &TenantScope,
    order: &TransferOrder,
    now: OffsetDateTime,
) -> Result<(), StripeError> {
    let internal = |e: &dyn std::fmt::Display| StripeError::Decode(e.to_string());
    let payment = store
        .payment(scope, order.payment_id)
        .await
        .map_err(|e| internal(&e))?;
    let settled = match &order.source_charge {
        Some(charge) => {
            let charge = service.client.charge(charge).await?;
            let Some(settled) = charge.settled() else {
                return Err(StripeError::Decode(format!(
                    "charge {} has no balance transaction yet",
                    charge.id
                )));
            };
            Some(
                apportion_settlement(
                    payment.settlement.charged,
                    order.amount,
                    payment.settlement.tip,
                    settled.amount,
                    settled.net,
                    &settled.currency,
                )
                .map_err(|e| internal(&e))?,
            )
        }
        None => None,
    };
    let (amount, currency) = match &settled {
        Some(settled) => (settled.transfer, settled.currency.clone()),
        None => (order.amount.amount, order.amount.currency.code().to_owned()),
    };
    let metadata = [("payment_id", order.payment_id.to_string())];
    let created = service
        .client
        .create_transfer(
            amount,
            &currency,
            &order.destination,
            &order.transfer_group,
            order.source_charge.as_deref(),
            &metadata,
            &format!("transfer-{}", order.payment_id),
        )
        .await;
    let transfer = match created {
        Ok(transfer) => transfer,
        // Stripe may have made it: find it by the bill's transfer group and our payment id before anything else.
        Err(error) if outcome_unknown(&error) => {
            let wanted = order.payment_id.to_string();
            let found = service
                .client
                .transfers_in_group(&order.transfer_group)
                .await?
                .data
                .into_iter()
                .find(|t| t.metadata.get("payment_id") == Some(&wanted));
            found.ok_or(error)?
        }
        Err(error) => return Err(error),
    };
    store
        .mark_transfer_sent(scope, order.payment_id, &transfer.id, settled.as_ref(), now)
        .await
        .map_err(|e| internal(&e))
}

/// Reads the partner's connected account back from Stripe (`GET /v1/accounts/{id}`) and records its capabilities:
/// when the owner returns from Stripe's onboarding and in the upkeep job, so one lost `account.updated` never leaves
/// a partner unable to take payments.
pub async fn read_back_account(
    store: &Arc<dyn Store>,
    service: &PaymentService,
    scope: &TenantScope,
    now: OffsetDateTime,
) -> Result<(), StripeError> {
    let Some(known) = store
        .connected_account(scope)
        .await
        .map_err(|e| StripeError::Decode(e.to_string()))?
    else {
        return Ok(());
    };
    let account = service.client.account(&known.stripe_account).await?;
    let effect = EventEffect::AccountUpdated {
        stripe_account: account.id.clone(),
        details_submitted: account.details_submitted,
        charges_enabled: account.charges_enabled,
        payouts_enabled: account.payouts_enabled,
        transfers_active: account.capability_active("transfers"),
    };
    let unchanged = known.details_submitted == account.details_submitted
        && known.charges_enabled == account.charges_enabled
        && known.payouts_enabled == account.payouts_enabled
        && known.transfers_active == account.capability_active("transfers");
    if unchanged {
        return Ok(());
    }
    // Recorded as an event of its own (an id of ours, never Stripe's), so the change has the same path and audit.
    let id = format!("readback_{}", Uuid::now_v7());
    store
        .apply_event(Some(scope), &id, "account.updated", &effect, now)
        .await
        .map_err(|e| StripeError::Decode(e.to_string()))?;
    Ok(())
}

/// Cancels abandoned payments at Stripe first, then gives their part of the bill back.
pub async fn release_expired_holds(
    store: &Arc<dyn Store>,
    service: &PaymentService,
    scope: &TenantScope,
    now: OffsetDateTime,
) {
    let Ok(expired) = store.expired_holds(scope, now).await else {
        return;
    };
    for payment in expired {
        cancel_payment(store, service, scope, &payment, cancelled_because::ABANDONED).await;
    }
}

/// Cancels a pending payment: at Stripe first (so it can no longer be paid), then its hold. A payment Stripe has
/// already taken is left for its webhook.
pub async fn cancel_payment(
    store: &Arc<dyn Store>,
    service: &PaymentService,
    scope: &TenantScope,
    payment: &Payment,
    reason: &str,
) -> Option<Payment> {
    if let Some(intent) = &payment.payment_intent
        && let Err(error) = service
            .client
            .cancel_payment_intent(intent, &format!("cancel-{}", payment.id))
            .await
    {
        tracing::info!(payment = %payment.id, %error, "payment not cancelled at Stripe");
        return None;
    }
    store
        .release_payment(scope, payment.id, PaymentStatus::Cancelled, reason)
        .await
        .ok()
}

/// Asks Stripe for the refund (idempotency key derived from the refund) and records what Stripe answered: settled
/// ([`finish_refund`]), still `pending` at the card's bank (kept pending with Stripe's id until `refund.updated`), or
/// refused (`failed`, what it reserved freed).
pub async fn execute_refund(
    store: &Arc<dyn Store>,
    service: &PaymentService,
    scope: &TenantScope,
    refund: &Refund,
    now: OffsetDateTime,
) -> Result<Refund, StripeError> {
    let failed = |error: StripeError| async move {
        let _ = store.fail_refund(scope, refund.id, &error.to_string()).await;
        Err(error)
    };
    let payment = match store.payment(scope, refund.payment_id).await {
        Ok(payment) => payment,
        Err(error) => return failed(StripeError::Decode(error.to_string())).await,
    };
    let Some(intent) = payment.payment_intent.clone() else {
        return failed(StripeError::Decode("payment without PaymentIntent".into())).await;
    };
    let destination = payment.charge_model == ChargeModel::DestinationCharges;
    let metadata = [("refund_id", refund.id.to_string())];
    let created = service
        .client
        .create_refund(
            &intent,
            refund.split.refund.amount,
            destination,
            &metadata,
            &format!("refund-{}", refund.id),
        )
        .await;
    let stripe_refund = match created {
        Ok(stripe_refund) => stripe_refund,
        // The answer was lost or unreadable: Stripe may have refunded. Look for the refund by our id; if it cannot
        // be found the refund stays pending (never failed) and an operator is alerted.
        Err(error) if outcome_unknown(&error) => {
            match found_at_stripe(store, service, scope, refund)
                .await
                .ok()
                .flatten()
            {
                Some(found) => found,
                None => {
                    let _ = crate::alert_routing::raise(
                        &**store,
                        Some(scope.partner()),
                        "payments.refund_unknown",
                        &format!(
                            "refund {}: Stripe's answer was lost ({error}); check it at Stripe",
                            refund.id
                        ),
                        now,
                    )
                    .await;
                    return Err(error);
                }
            }
        }
        Err(error) => return failed(error).await,
    };
    record_outcome(store, service, scope, refund, &stripe_refund, now).await
}

/// Records what Stripe answered for our pending `refund`: settled ([`finish_refund`]), still `pending` at the card's
/// bank (kept pending with Stripe's id), or refused (`failed`, what it reserved freed).
async fn record_outcome(
    store: &Arc<dyn Store>,
    service: &PaymentService,
    scope: &TenantScope,
    refund: &Refund,
    stripe_refund: &comanda_payments::stripe::Refund,
    now: OffsetDateTime,
) -> Result<Refund, StripeError> {
    let internal = |e: comanda_store::StoreError| StripeError::Decode(e.to_string());
    match stripe_refund.outcome() {
        RefundOutcome::Succeeded => {
            finish_refund(store, service, scope, refund, &stripe_refund.id, now).await
        }
        RefundOutcome::Pending => store
            .submit_refund(scope, refund.id, &stripe_refund.id)
            .await
            .map_err(internal),
        RefundOutcome::Failed(reason) => store
            .fail_refund(scope, refund.id, &reason)
            .await
            .map_err(internal),
    }
}

/// How long a refund may stay pending before the upkeep asks Stripe about it: the route's own call has long
/// answered by then, and Stripe's `refund.updated` normally arrives within seconds of a change.
pub const REFUND_FOLLOW_UP_AFTER: time::Duration = time::Duration::minutes(10);

/// How long Stripe keeps an idempotency key and replays its first answer: "at least 24 hours"
/// (docs.stripe.com/api/idempotent_requests).
pub const STRIPE_IDEMPOTENCY_WINDOW: time::Duration = time::Duration::hours(24);

/// Ends, as Stripe holds them now, the refunds still pending that no event has ended (an endpoint down for longer
/// than Stripe retries, an event lost): one Stripe read per refund (`GET /v1/refunds/{id}`), or, for a refund whose
/// creation answer was lost (or was a server error), a look among its PaymentIntent's refunds for our id; one
/// Stripe does not have is asked for again, with the same key, once Stripe has forgotten that key.
pub async fn follow_pending_refunds(
    store: &Arc<dyn Store>,
    service: &PaymentService,
    scope: &TenantScope,
    now: OffsetDateTime,
) {
    let Ok(pending) = store.refunds_in_flight(scope, now - REFUND_FOLLOW_UP_AFTER).await else {
        return;
    };
    for refund in pending {
        let followed = match &refund.stripe_refund {
            Some(id) => match service.client.refund(id).await {
                Ok(at_stripe) if at_stripe.outcome() != RefundOutcome::Pending => {
                    let outcome = at_stripe.outcome();
                    refund_updated(
                        store,
                        service,
                        scope,
                        (refund.payment_id, refund.id),
                        (&at_stripe.id, outcome),
                        now,
                    )
                    .await
                }
                Ok(_) => Ok(()),
                Err(error) => Err(error),
            },
            None => match found_at_stripe(store, service, scope, &refund).await {
                Ok(Some(at_stripe)) => record_outcome(store, service, scope, &refund, &at_stripe, now)
                    .await
                    .map(|_| ()),
                // Not at Stripe: the request never took effect. Asked again only once Stripe has forgotten its
                // idempotency key (before, the same key only replays the saved answer); the look above, made
                // first every time, is what keeps a refund Stripe did make from being made twice.
                Ok(None) if now - refund.created_at >= STRIPE_IDEMPOTENCY_WINDOW => {
                    execute_refund(store, service, scope, &refund, now)
                        .await
                        .map(|_| ())
                }
                Ok(None) => Ok(()),
                Err(error) => Err(error),
            },
        };
        if let Err(error) = followed {
            tracing::warn!(refund = %refund.id, %error, "pending refund not followed up; will retry");
        }
    }
}

/// Our `refund` among its PaymentIntent's refunds at Stripe (by the `refund_id` metadata every refund is created
/// with), if Stripe has it.
async fn found_at_stripe(
    store: &Arc<dyn Store>,
    service: &PaymentService,
    scope: &TenantScope,
    refund: &Refund,
) -> Result<Option<comanda_payments::stripe::Refund>, StripeError> {
    let payment = store
        .payment(scope, refund.payment_id)
        .await
        .map_err(|e| StripeError::Decode(e.to_string()))?;
    let Some(intent) = payment.payment_intent else {
        return Ok(None);
    };
    let wanted = refund.id.to_string();
    Ok(service
        .client
        .refunds_of(&intent)
        .await?
        .data
        .into_iter()
        .find(|r| r.metadata.get("refund_id") == Some(&wanted)))
}

/// A refund Stripe settled: (separate charges and transfers) the proportional reversal of the partner's transfer,
/// keyed by the refund, then the record.
pub async fn finish_refund(
    store: &Arc<dyn Store>,
    service: &PaymentService,
    scope: &TenantScope,
    refund: &Refund,
    stripe_refund: &str,
    now: OffsetDateTime,
) -> Result<Refund, StripeError> {
    let payment = store
        .payment(scope, refund.payment_id)
        .await
        .map_err(|e| StripeError::Decode(e.to_string()))?;
    let destination = payment.charge_model == ChargeModel::DestinationCharges;
    let mut reversal = None;
    if !destination && refund.split.transfer_reversal.amount > 0 {
        let transfer = store.transfer(scope, payment.id).await.ok().flatten();
        if let Some((order, transfer_id)) = transfer
            .filter(|t| t.status == TransferStatus::Sent)
            .and_then(|t| t.stripe_transfer.clone().map(|id| (t, id)))
        {
            // The transfer went out in the settlement currency: its reversal is the same proportion of what Stripe
            // sent, and the last one takes exactly what is left there. A small refund's share may round to nothing
            // (the last reversal then takes it): no call, and no failure.
            let reversed = match service.client.transfer(&transfer_id).await {
                Ok(at_stripe) => reverse_share(service, refund, &order, &at_stripe).await,
                Err(error) => Err(error),
            };
            match reversed {
                Ok(done) => reversal = done,
                Err(error) => {
                    let _ = crate::alert_routing::raise(
                        &**store,
                        Some(scope.partner()),
                        "payments.reversal_failed",
                        &format!("refund {}: transfer reversal failed: {error}", refund.id),
                        now,
                    )
                    .await;
                }
            }
        }
    }
    store
        .complete_refund(
            scope,
            refund.id,
            stripe_refund,
            reversal.as_ref().map(|(id, money)| (id.as_str(), money)),
            now,
        )
        .await
        .map_err(|e| StripeError::Decode(e.to_string()))
}

/// Takes a refund's share back from the partner: `settled_reversal` of the original transfer `at_stripe`, counting
/// as still the partner's the shares given back after failed refunds (their own transfers, `restore-<refund>`, found
/// in the bill's transfer group by our metadata), which Stripe's `amount_reversed` of the original does not know.
/// The original is reversed first, then those transfers, each reversal keyed by the refund. Answers the first
/// reversal's id and the total moved, or `None` when the share rounds to nothing.
async fn reverse_share(
    service: &PaymentService,
    refund: &Refund,
    order: &TransferOrder,
    at_stripe: &comanda_payments::stripe::Transfer,
) -> Result<Option<(String, SettledMoney)>, StripeError> {
    let payment = refund.payment_id.to_string();
    let restored: Vec<_> = if order.reversed.amount > 0 || at_stripe.amount_reversed > 0 {
        service
            .client
            .transfers_in_group(&order.transfer_group)
            .await?
            .data
            .into_iter()
            .filter(|t| {
                t.metadata.get("payment_id") == Some(&payment) && t.metadata.contains_key("refund_id")
            })
            .collect()
    } else {
        Vec::new()
    };
    let open = |t: &comanda_payments::stripe::Transfer| (t.amount - t.amount_reversed).max(0);
    let open_restored: i64 = restored.iter().map(open).sum();
    let mut due = settled_reversal(
        refund.split.transfer_reversal.amount,
        order.amount.amount,
        order.reversed.amount,
        at_stripe.amount,
        at_stripe.amount_reversed - open_restored,
    );
    let mut first = None;
    let mut moved = 0;
    for (source, key) in std::iter::once((at_stripe, format!("reversal-{}", refund.id))).chain(
        restored
            .iter()
            .map(|t| (t, format!("reversal-{}-{}", refund.id, t.id))),
    ) {
        let take = due.min(open(source));
        if take == 0 {
            continue;
        }
        let reversal = service.client.reverse_transfer(&source.id, take, &key).await?;
        first.get_or_insert(reversal.id);
        moved += reversal.amount;
        due -= take;
    }
    Ok(first.map(|id| {
        (
            id,
            SettledMoney {
                amount: moved,
                currency: at_stripe.currency.clone(),
            },
        )
    }))
}

/// What Stripe's `refund.updated` or `refund.failed` (Stripe's refund id and its outcome) means for our refund
/// `refund` of `payment`: a pending refund that
/// settled is finished, one that failed is failed (its part of the payment freed) and the partner is told; a refund
/// that had succeeded and then failed is undone ([`comanda_store::payments::PaymentStore::refund_returned`]) and the
/// partner's reversed share is transferred back ([`restore_reversed_shares`]). Anything else (a repeated event, a
/// refund already in that state) changes nothing.
pub async fn refund_updated(
    store: &Arc<dyn Store>,
    service: &PaymentService,
    scope: &TenantScope,
    (payment, refund): (Uuid, Uuid),
    (stripe_refund, outcome): (&str, RefundOutcome),
    now: OffsetDateTime,
) -> Result<(), StripeError> {
    let internal = |e: comanda_store::StoreError| StripeError::Decode(e.to_string());
    let ours = match store.refund(scope, refund).await {
        Ok(ours) if ours.payment_id == payment => ours,
        // Not a refund of this payment: Stripe's metadata and our directory disagree; nothing is touched.
        Ok(_) | Err(comanda_store::StoreError::NotFound) => return Ok(()),
        Err(error) => return Err(internal(error)),
    };
    use comanda_store::payments::RefundStatus;
    let told = |kind: &'static str, detail: String| async move {
        let _ = crate::alert_routing::raise(&**store, Some(scope.partner()), kind, &detail, now).await;
    };
    let amount = format!(
        "{} {}",
        ours.split.refund.amount,
        ours.split.refund.currency.code()
    );
    match (outcome, ours.status) {
        (RefundOutcome::Succeeded, RefundStatus::Pending) => {
            finish_refund(store, service, scope, &ours, stripe_refund, now).await?;
        }
        (RefundOutcome::Failed(reason), RefundStatus::Pending) => {
            store
                .fail_refund(scope, ours.id, &reason)
                .await
                .map_err(internal)?;
            // Under destination charges Stripe reversed the partner's transfer when the refund was made
            // (`reverse_transfer`), pending or not.
            let destination = store
                .payment(scope, payment)
                .await
                .is_ok_and(|p| p.charge_model == ChargeModel::DestinationCharges);
            let share = if destination {
                " Stripe may have reversed the partner's share when the refund was made: check it at Stripe."
            } else {
                ""
            };
            told(
                "payments.refund_failed",
                format!(
                    "refund {} of {amount} did not reach the guest's card ({reason}); nothing was taken from the \
                     bill. Give it back another way (cash) if it is still owed.{share}",
                    ours.id
                ),
            )
            .await;
        }
        (RefundOutcome::Failed(reason), RefundStatus::Succeeded) => {
            if store
                .refund_returned(scope, ours.id, &reason, now)
                .await
                .map_err(internal)?
                .is_some()
            {
                let destination = store
                    .payment(scope, payment)
                    .await
                    .is_ok_and(|p| p.charge_model == ChargeModel::DestinationCharges);
                let share = match (&ours.reversal, destination) {
                    (Some((_, moved)), _) => format!(
                        "the partner's share ({} {}) is transferred back",
                        moved.amount,
                        moved.currency.to_uppercase()
                    ),
                    // Stripe reversed the destination charge's transfer itself (`reverse_transfer`).
                    (None, true) => {
                        "the partner's share Stripe reversed stays with the platform: give it back at \
                                     Stripe"
                            .to_owned()
                    }
                    // Nothing reversed, or a reversal made before comanda kept amounts (migration 0054 could not
                    // recompute one settled in another currency).
                    (None, false) => {
                        "comanda holds no reversal of the partner's share to give back (check the \
                                      payment's transfer at Stripe)"
                            .to_owned()
                    }
                };
                told(
                    "payments.refund_failed",
                    format!(
                        "refund {} of {amount} failed after Stripe first took it ({reason}): the money came back, \
                         the bill no longer counts it as returned and {share}. Give it back to the guest another \
                         way (cash) if it is still owed",
                        ours.id
                    ),
                )
                .await;
            }
            restore_reversed_shares(store, service, scope).await;
        }
        _ => {}
    }
    Ok(())
}

/// Gives the partner back the share of its transfer that the reversal of a since-failed refund took: one transfer
/// per refund, in the currency the reversal moved, keyed by the refund so a retry never pays twice (the upkeep job
/// retries until Stripe has it).
pub async fn restore_reversed_shares(store: &Arc<dyn Store>, service: &PaymentService, scope: &TenantScope) {
    let Ok(owed) = store.refunds_to_restore(scope).await else {
        return;
    };
    for refund in owed {
        let Some((_, moved)) = &refund.reversal else {
            continue;
        };
        let Ok(Some(order)) = store.transfer(scope, refund.payment_id).await else {
            continue;
        };
        let wanted = refund.id.to_string();
        let metadata = [
            ("payment_id", refund.payment_id.to_string()),
            ("refund_id", wanted.clone()),
        ];
        // One Stripe already made (its answer lost, or not recorded) is found by our id in the bill's group first:
        // past Stripe's 24 hours the same key would make a second one.
        let made = match service.client.transfers_in_group(&order.transfer_group).await {
            Ok(list) => match list
                .data
                .into_iter()
                .find(|t| t.metadata.get("refund_id") == Some(&wanted))
            {
                Some(found) => Ok(found),
                None => {
                    service
                        .client
                        .create_transfer(
                            moved.amount,
                            &moved.currency,
                            &order.destination,
                            &order.transfer_group,
                            None,
                            &metadata,
                            &format!("restore-{}", refund.id),
                        )
                        .await
                }
            },
            Err(error) => Err(error),
        };
        let recorded = match made {
            Ok(transfer) => store
                .record_restored_transfer(scope, refund.id, &transfer.id)
                .await
                .map_err(|e| e.to_string()),
            Err(error) => Err(error.to_string()),
        };
        if let Err(error) = recorded {
            tracing::warn!(refund = %refund.id, %error, "reversed share not given back yet; will retry");
        }
    }
}

/// The platform's periodic payment work for every partner that takes payments. Answers, per partner, the bookings
/// released because their deposit's hold ran out ([`crate::deposits::settle_due`]), for
/// [`crate::waitlist::holds_lapsed`].
pub async fn upkeep(
    store: &Arc<dyn Store>,
    service: &PaymentService,
    clock: &Arc<dyn Clock>,
) -> Vec<(TenantScope, Vec<comanda_store::reservations::Reservation>)> {
    let Ok(partners) = store.payment_partners().await else {
        return Vec::new();
    };
    let offboarded = store.offboarded_partners().await.unwrap_or_default();
    let mut lapsed = Vec::new();
    for partner in partners {
        let scope = TenantScope::from_proof(&JobAuthority::new("payments-upkeep", partner));
        // An offboarded partner's account id went with its key: Stripe was asked about "[erased]" every run. Its
        // deposits are still released, refunded and settled below (they need only the PaymentIntent).
        if !offboarded.contains(&partner) {
            if let Err(error) = read_back_account(store, service, &scope, clock.now()).await {
                tracing::warn!(%partner, %error, "connected account not read back");
            }
            send_due_transfers(store, service, &scope, clock.now()).await;
            restore_reversed_shares(store, service, &scope).await;
        }
        release_expired_holds(store, service, &scope, clock.now()).await;
        follow_pending_refunds(store, service, &scope, clock.now()).await;
        let released = crate::deposits::settle_due(store, service, &scope, clock.now()).await;
        if !released.is_empty() {
            lapsed.push((scope, released));
        }
    }
    lapsed
}
