//! What a verified Stripe event means for our records: the partner it concerns, from our own directories, and its
//! effect.

use super::*;

/// What a verified event means: the partner it concerns (from our own directories, never from the event alone) and
/// its effect on our records.
pub async fn interpret(
    store: &Arc<dyn Store>,
    service: &PaymentService,
    event: &Event,
) -> Result<(Option<PartnerId>, EventEffect), StripeError> {
    let object = &event.data.object;
    let text = |key: &str| object.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    let number = |key: &str| object.get(key).and_then(serde_json::Value::as_i64).unwrap_or(0);
    let directory = |payment: Option<Uuid>| async move {
        match payment {
            Some(payment) => store
                .payment_partner(payment)
                .await
                .ok()
                .flatten()
                .map(|p| (p, payment)),
            None => None,
        }
    };
    let decode = |value: &serde_json::Value| {
        serde_json::from_value::<PaymentIntent>(value.clone()).map_err(|e| StripeError::Decode(e.to_string()))
    };
    Ok(match event.kind.as_str() {
        "payment_intent.succeeded" | "payment_intent.payment_failed" => {
            let intent = decode(object)?;
            match directory(payment_of(&intent)).await {
                Some((partner, payment)) if event.kind == "payment_intent.succeeded" => (
                    Some(partner),
                    EventEffect::PaymentSucceeded {
                        payment,
                        charge: intent.latest_charge.clone(),
                        amount_received: intent.amount_received,
                    },
                ),
                Some((partner, payment)) => {
                    let reason = intent
                        .last_payment_error
                        .as_ref()
                        .and_then(|e| e.message.clone().or(e.code.clone()))
                        .unwrap_or_else(|| "payment failed".into());
                    (Some(partner), EventEffect::PaymentFailed { payment, reason })
                }
                None => match crate::deposits::reservation_of(&intent) {
                    // A deposit's: its partner from our deposit directory; the store checks the PaymentIntent is
                    // the one it recorded for that reservation.
                    Some(reservation) if event.kind == "payment_intent.succeeded" => {
                        match store.deposit_partner(reservation).await.ok().flatten() {
                            Some(partner) => (
                                Some(partner),
                                EventEffect::DepositPaid {
                                    reservation,
                                    payment_intent: intent.id.clone(),
                                    charge: intent.latest_charge.clone(),
                                    amount_received: intent.amount_received,
                                },
                            ),
                            None => (None, EventEffect::Ignored),
                        }
                    }
                    // A failed attempt: the guest may try another card until the hold expires.
                    _ => (None, EventEffect::Ignored),
                },
            }
        }
        "charge.refunded" | "charge.dispute.created" => {
            // Charges and disputes name their PaymentIntent; its metadata names our payment.
            let Some(intent_id) = text("payment_intent") else {
                return Ok((None, EventEffect::Ignored));
            };
            let intent = service.client.payment_intent(&intent_id).await?;
            match directory(payment_of(&intent)).await {
                Some((partner, payment)) if event.kind == "charge.refunded" => {
                    // What the charge holds now, not the event's snapshot: events come in any order and for three
                    // days, and a late one would count again a refund that has failed since.
                    let charge = service.client.charge(&text("id").unwrap_or_default()).await?;
                    (
                        Some(partner),
                        EventEffect::ChargeRefunded {
                            payment,
                            amount_refunded: charge.amount_refunded,
                        },
                    )
                }
                Some((partner, payment)) => (
                    Some(partner),
                    EventEffect::DisputeCreated {
                        payment,
                        stripe_dispute: text("id").unwrap_or_default(),
                        amount: number("amount"),
                        reason: text("reason").unwrap_or_default(),
                        status: text("status").unwrap_or_default(),
                        evidence_due: object
                            .pointer("/evidence_details/due_by")
                            .and_then(serde_json::Value::as_i64)
                            .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok()),
                    },
                ),
                None => (None, EventEffect::Ignored),
            }
        }
        "refund.updated" | "refund.failed" => {
            // A refund's own events (all refunds since 2024-10-28.acacia): our refund id is in its metadata, its
            // PaymentIntent's metadata names our payment, and the directory the partner.
            let refund: comanda_payments::stripe::Refund =
                serde_json::from_value(object.clone()).map_err(|e| StripeError::Decode(e.to_string()))?;
            let ours = refund
                .metadata
                .get("refund_id")
                .and_then(|id| Uuid::parse_str(id).ok());
            let deposit = refund
                .metadata
                .get(crate::deposits::RESERVATION_KEY)
                .and_then(|id| Uuid::parse_str(id).ok());
            if let (None, Some(reservation)) = (ours, deposit) {
                // A deposit's refund: only its failure needs anyone (its success was recorded when it was asked).
                let comanda_payments::stripe::RefundOutcome::Failed(reason) = refund.outcome() else {
                    return Ok((None, EventEffect::Ignored));
                };
                return Ok(match store.deposit_partner(reservation).await.ok().flatten() {
                    Some(partner) => (
                        Some(partner),
                        EventEffect::DepositRefundFailed {
                            reservation,
                            stripe_refund: refund.id.clone(),
                            reason,
                        },
                    ),
                    None => (None, EventEffect::Ignored),
                });
            }
            let (Some(ours), Some(intent_id)) = (ours, refund.payment_intent.clone()) else {
                return Ok((None, EventEffect::Ignored));
            };
            let intent = service.client.payment_intent(&intent_id).await?;
            match directory(payment_of(&intent)).await {
                Some((partner, payment)) => (
                    Some(partner),
                    EventEffect::RefundUpdated {
                        payment,
                        refund: ours,
                        stripe_refund: refund.id.clone(),
                        status: refund.status.clone().unwrap_or_default(),
                        failure_reason: refund.failure_reason.clone(),
                    },
                ),
                None => (None, EventEffect::Ignored),
            }
        }
        "account.updated" => {
            let account = text("id").unwrap_or_default();
            let partner = store.account_partner(&account).await.ok().flatten();
            let transfers =
                object.pointer("/capabilities/transfers").and_then(|v| v.as_str()) == Some("active");
            let flag = |key: &str| {
                object
                    .get(key)
                    .and_then(serde_json::Value::as_bool)
                    .unwrap_or(false)
            };
            (
                partner,
                EventEffect::AccountUpdated {
                    stripe_account: account,
                    details_submitted: flag("details_submitted"),
                    charges_enabled: flag("charges_enabled"),
                    payouts_enabled: flag("payouts_enabled"),
                    transfers_active: transfers,
                },
            )
        }
        "payout.paid" | "payout.failed" => {
            let account = event.account.clone().unwrap_or_default();
            let partner = store.account_partner(&account).await.ok().flatten();
            (
                partner,
                EventEffect::Payout {
                    stripe_payout: text("id").unwrap_or_default(),
                    amount: number("amount"),
                    currency: text("currency").unwrap_or_default(),
                    status: text("status").unwrap_or_default(),
                    arrival_date: object
                        .get("arrival_date")
                        .and_then(serde_json::Value::as_i64)
                        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok()),
                    failure: text("failure_message"),
                },
            )
        }
        _ => (None, EventEffect::Ignored),
    })
}
