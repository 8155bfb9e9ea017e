//! Reconciliation with Stripe (MON-3): every succeeded payment and sent transfer here matches Stripe, and the
//! other way round.

use super::*;

/// A sent transfer must be at Stripe for exactly the amount and currency recorded here (the settlement currency),
/// to the partner's account. The detail names both currencies.
pub(crate) async fn transfer_mismatch(
    store: &Arc<dyn Store>,
    service: &PaymentService,
    scope: &TenantScope,
    payment: &Payment,
) -> Option<String> {
    let order = store.transfer(scope, payment.id).await.ok().flatten()?;
    if order.status != TransferStatus::Sent {
        return None;
    }
    let id = order.stripe_transfer.clone()?;
    let here = match &order.settled {
        Some(settled) => (settled.amount, settled.currency.to_ascii_lowercase()),
        None => (
            order.amount.amount,
            order.amount.currency.code().to_ascii_lowercase(),
        ),
    };
    match service.client.transfer(&id).await {
        Ok(at_stripe)
            if (at_stripe.amount, at_stripe.currency.to_ascii_lowercase()) == here
                && at_stripe.destination.as_deref() == Some(order.destination.as_str()) =>
        {
            None
        }
        Ok(at_stripe) => Some(format!(
            "payment {}: transfer {id} of {} {} is {} {} to {} at Stripe, {} {} to {} here ({} {} before conversion)",
            payment.id,
            order.amount.amount,
            order.amount.currency.code(),
            at_stripe.amount,
            at_stripe.currency,
            at_stripe.destination.as_deref().unwrap_or("(none)"),
            here.0,
            here.1,
            order.destination,
            order.amount.amount,
            order.amount.currency.code(),
        )),
        Err(error) => Some(format!(
            "payment {}: transfer {id} not readable at Stripe: {error}",
            payment.id
        )),
    }
}

/// MON-3: every succeeded payment of the window must be a succeeded PaymentIntent at Stripe for the same amount, and
/// every succeeded PaymentIntent at Stripe must be a succeeded payment here; each sent transfer must be at Stripe for
/// the amount and settlement currency recorded here. Each mismatch raises an alert; the
/// mismatches are returned.
pub async fn reconcile(
    store: &Arc<dyn Store>,
    service: &PaymentService,
    since: OffsetDateTime,
    now: OffsetDateTime,
) -> anyhow::Result<Vec<String>> {
    let intents = service
        .client
        .payment_intents_since(since.unix_timestamp())
        .await?;
    let mut mismatches: Vec<(Option<PartnerId>, String)> = Vec::new();
    let mut at_stripe = std::collections::HashMap::new();
    for intent in &intents {
        at_stripe.insert(intent.id.clone(), intent);
        if intent.status != "succeeded" {
            continue;
        }
        let Some(payment_id) = payment_of(intent) else {
            mismatches.push((
                None,
                format!("{}: succeeded at Stripe, names no comanda payment", intent.id),
            ));
            continue;
        };
        let Some(partner) = store.payment_partner(payment_id).await? else {
            mismatches.push((
                None,
                format!("{}: succeeded at Stripe, payment {payment_id} unknown", intent.id),
            ));
            continue;
        };
        let scope = TenantScope::from_proof(&JobAuthority::new("payments-reconcile", partner));
        match store.payment(&scope, payment_id).await {
            Ok(p)
                if p.status == PaymentStatus::Succeeded
                    && p.settlement.charged.amount == intent.amount_received => {}
            Ok(p) => mismatches.push((
                Some(partner),
                format!(
                    "{}: succeeded at Stripe for {}, payment {payment_id} is {} for {}",
                    intent.id,
                    intent.amount_received,
                    p.status.as_str(),
                    p.settlement.charged.amount
                ),
            )),
            Err(_) => mismatches.push((
                Some(partner),
                format!("{}: payment {payment_id} not found", intent.id),
            )),
        }
    }
    for partner in store.payment_partners().await? {
        let scope = TenantScope::from_proof(&JobAuthority::new("payments-reconcile", partner));
        for payment in store.succeeded_payments(&scope, since).await? {
            if let Some(detail) = transfer_mismatch(store, service, &scope, &payment).await {
                mismatches.push((Some(partner), detail));
            }
            let intent = payment.payment_intent.as_ref().and_then(|id| at_stripe.get(id));
            let fine = intent.is_some_and(|i| {
                i.status == "succeeded" && i.amount_received == payment.settlement.charged.amount
            });
            if !fine {
                mismatches.push((
                    Some(partner),
                    format!(
                        "payment {} is paid here but {} at Stripe",
                        payment.id,
                        intent.map_or("missing", |i| i.status.as_str())
                    ),
                ));
            }
        }
    }
    for (partner, detail) in &mismatches {
        crate::alert_routing::raise(&**store, *partner, "payments.mismatch", detail, now).await?;
    }
    Ok(mismatches.into_iter().map(|(_, d)| d).collect())
}
