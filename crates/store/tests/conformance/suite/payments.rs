//! Payments: reserving shares of a bill, webhook effects applied once, refunds, disputes and debt netting.

use super::*;

pub fn cop(n: i64) -> Money {
    Money::new(n, comanda_domain::Currency::COP).unwrap()
}

/// A partner with an onboarded recipient account and an accepted table whose bill is 43.800 COP.
pub async fn paying_table(store: &dyn Store, name: &str) -> (TenantScope, Uuid, Uuid, Uuid) {
    let scope = new_partner(store, name).await;
    let venue = venue_of(store, &scope).await;
    let table = store
        .create_table(&scope, venue, "P", 4, &change(), NOW)
        .await
        .unwrap();
    store
        .place_order(&scope, &order_for(venue, table.id, None, b"bill"), &change(), NOW)
        .await
        .unwrap();
    accept_table(store, &scope, table.id).await;
    let account = ConnectedAccount {
        stripe_account: format!("acct_{}", Uuid::now_v7().simple()),
        charge_model: ChargeModel::SeparateChargesAndTransfers,
        country: "CO".into(),
        details_submitted: true,
        charges_enabled: false,
        payouts_enabled: true,
        transfers_active: true,
        updated_at: NOW,
    };
    store
        .save_connected_account(&scope, &account, &AuditEntry::new("payouts.account_created"), NOW)
        .await
        .unwrap();
    let session = store.live_session(&scope, table.id).await.unwrap().unwrap().id;
    (scope, venue, table.id, session)
}

pub fn payment_of(venue: Uuid, table: Uuid, session: Uuid, share: i64, tip: i64, whole: bool) -> NewPayment {
    NewPayment {
        id: Uuid::now_v7(),
        venue_id: venue,
        table_id: table,
        session_id: session,
        split: if whole {
            Split::Full
        } else {
            Split::Equal { parts: 2 }
        },
        settlement: settle(cop(share), cop(tip), 300).unwrap(),
        charge_model: ChargeModel::SeparateChargesAndTransfers,
        device: Some("d".into()),
        idempotency_key: None,
        request_hash: vec![1],
        tip_member: Some(Uuid::now_v7()),
        whole_bill: whole,
        line_totals: Vec::new(),
        line_amounts: Vec::new(),
        expires_at: NOW + time::Duration::minutes(15),
    }
}

pub async fn reserved(
    store: &dyn Store,
    scope: &TenantScope,
    payment: &NewPayment,
) -> comanda_store::payments::Payment {
    match store.reserve_payment(scope, payment, NOW).await.unwrap() {
        ReserveOutcome::Reserved(p) => p,
        other => panic!("not reserved: {other:?}"),
    }
}

/// A payment reserved, succeeded at Stripe and its transfer sent (`tr_1`): what a refund or a dispute starts from.
pub async fn transferred(
    store: &dyn Store,
    scope: &TenantScope,
    payment: &NewPayment,
) -> comanda_store::payments::Payment {
    let payment = reserved(store, scope, payment).await;
    succeed(store, scope, &payment).await;
    store
        .mark_transfer_sent(scope, payment.id, "tr_1", None, NOW)
        .await
        .unwrap();
    payment
}

pub async fn succeed(
    store: &dyn Store,
    scope: &TenantScope,
    payment: &comanda_store::payments::Payment,
) -> EventOutcome {
    let effect = EventEffect::PaymentSucceeded {
        payment: payment.id,
        charge: Some(format!("ch_{}", payment.id.simple())),
        amount_received: payment.settlement.charged.amount,
    };
    store
        .apply_event(
            Some(scope),
            &format!("evt_{}", payment.id.simple()),
            "payment_intent.succeeded",
            &effect,
            NOW,
        )
        .await
        .unwrap()
}

pub async fn a_guest_reads_its_venue_and_table_together_and_nothing_else(store: &dyn Store) {
    let scope = new_partner(store, "Invitados").await;
    let venue = venue_of(store, &scope).await;
    let table = store
        .create_table(&scope, venue, "12", 6, &change(), NOW)
        .await
        .unwrap();
    let (read_venue, read_table) = store.guest_table(&scope, venue, table.id).await.unwrap();
    assert_eq!(read_venue.id.as_uuid(), venue);
    assert_eq!(read_table, table);
    let other = new_partner(store, "Otros").await;
    assert!(matches!(
        store.guest_table(&other, venue, table.id).await,
        Err(StoreError::NotFound)
    ));
    let elsewhere = venue_of(store, &other).await;
    assert!(matches!(
        store.guest_table(&other, elsewhere, table.id).await,
        Err(StoreError::NotFound)
    ));
}

pub fn guest_draft(venue: Uuid, table: Uuid, items: &[Uuid], key: &str) -> OrderDraft {
    OrderDraft {
        id: Uuid::now_v7(),
        venue_id: venue,
        table_id: table,
        item_ids: items.to_vec(),
        idempotency_key: Some(key.to_owned()),
        request_hash: key.as_bytes().to_vec(),
        device: None,
    }
}

pub fn request_for(items: &[Uuid]) -> Vec<RequestedLine> {
    items
        .iter()
        .map(|id| RequestedLine {
            item_id: id.to_string(),
            quantity: 2,
            modifiers: vec![],
            note: None,
            version: None,
        })
        .collect()
}

pub async fn a_guest_order_is_priced_in_its_transaction_from_only_what_it_names(store: &dyn Store) {
    let scope = new_partner(store, "Hot path").await;
    let venue = venue_of(store, &scope).await;
    let other_venue = venue_of(store, &scope).await;
    let category = store
        .create_category(&scope, venue, &text("Platos"), 1, &change(), NOW)
        .await
        .unwrap();
    let elsewhere = store
        .create_category(&scope, other_venue, &text("Otros"), 1, &change(), NOW)
        .await
        .unwrap();
    let dish = store
        .create_menu_item(&scope, &item(venue, category.id), &change(), NOW)
        .await
        .unwrap();
    let unnamed = store
        .create_menu_item(&scope, &item(venue, category.id), &change(), NOW)
        .await
        .unwrap();
    let foreign = store
        .create_menu_item(&scope, &item(other_venue, elsewhere.id), &change(), NOW)
        .await
        .unwrap();
    let table = store
        .create_table(&scope, venue, "H1", 4, &change(), NOW)
        .await
        .unwrap();
    let seen = std::sync::Mutex::new(Vec::new());
    let price = |v: &comanda_domain::Venue, items: &[MenuItem]| {
        seen.lock()
            .unwrap()
            .push(items.iter().map(|i| i.id).collect::<Vec<_>>());
        let ids: Vec<Uuid> = items.iter().map(|i| i.id).collect();
        let lines = price_order(items, &request_for(&ids))?;
        let subtotal = Money::sum(
            v.currency,
            lines
                .iter()
                .map(|l| l.unit_price.checked_mul(l.quantity).unwrap()),
        )
        .unwrap();
        if lines.is_empty() {
            return Err(comanda_domain::ValidationErrors::single(
                "items",
                "nothing to order",
            ));
        }
        Ok((lines, subtotal))
    };
    let placed = store
        .place_guest_order(
            &scope,
            &guest_draft(venue, table.id, &[dish.id], "k1"),
            &price,
            &change(),
            NOW,
        )
        .await
        .unwrap()
        .unwrap();
    let PlaceOutcome::Created(order) = placed else {
        panic!("{placed:?}")
    };
    assert_eq!(
        seen.lock().unwrap().pop(),
        Some(vec![dish.id]),
        "only the named item is read"
    );
    assert_eq!(order.subtotal, Money::new(3_780_000, Currency::COP).unwrap());
    assert_eq!(order.lines[0].item_id, dish.id);
    assert_ne!(order.lines[0].item_id, unnamed.id);
    // Another venue's item and another partner's view read as absent; a refusal stores nothing.
    let other = new_partner(store, "Other hot path").await;
    for (scope, draft) in [
        (&scope, guest_draft(venue, table.id, &[foreign.id], "k2")),
        (&other, guest_draft(venue, table.id, &[dish.id], "k3")),
    ] {
        let refused = store
            .place_guest_order(scope, &draft, &price, &change(), NOW)
            .await;
        match refused {
            Ok(Err(_)) => assert_eq!(seen.lock().unwrap().pop(), Some(vec![])),
            Err(StoreError::NotFound) => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(
        store
            .place_guest_order(
                &other,
                &guest_draft(venue, table.id, &[dish.id], "k3"),
                &price,
                &change(),
                NOW
            )
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.table_orders(&scope, table.id).await.unwrap().len(), 1);
    // The same key again is the first order; sold out is refused.
    let again = store
        .place_guest_order(
            &scope,
            &guest_draft(venue, table.id, &[dish.id], "k1"),
            &price,
            &change(),
            NOW,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again, PlaceOutcome::Replayed(order.clone()));
    set_available(store, &scope, dish.id, false).await;
    let sold_out = store
        .place_guest_order(
            &scope,
            &guest_draft(venue, table.id, &[dish.id], "k4"),
            &price,
            &change(),
            NOW,
        )
        .await
        .unwrap();
    assert!(sold_out.is_err(), "{sold_out:?}");
    set_available(store, &scope, dish.id, true).await;
    // Ten guests ordering at once at a fresh table share the one session the first of them opened, and once
    // staff accept the table each order reaches the kitchen as an event.
    let fresh = store
        .create_table(&scope, venue, "H2", 4, &change(), NOW)
        .await
        .unwrap();
    let drafts: Vec<OrderDraft> = (0..10)
        .map(|n| guest_draft(venue, fresh.id, &[dish.id], &format!("fresh-{n}")))
        .collect();
    let audit = change();
    let outcomes = futures_join_all(
        drafts
            .iter()
            .map(|d| store.place_guest_order(&scope, d, &price, &audit, NOW)),
    )
    .await;
    let sessions: std::collections::BTreeSet<_> = outcomes
        .iter()
        .map(|o| match o {
            Ok(Ok(PlaceOutcome::Created(order))) => order.session_id,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    accept_table(store, &scope, fresh.id).await;
    let before = store
        .order_events_after(&scope, venue, 0, 100)
        .await
        .unwrap()
        .len();
    let late = store
        .place_guest_order(
            &scope,
            &guest_draft(venue, fresh.id, &[dish.id], "late"),
            &price,
            &change(),
            NOW,
        )
        .await
        .unwrap()
        .unwrap();
    let PlaceOutcome::Created(late) = late else {
        panic!("{late:?}")
    };
    let events = store.order_events_after(&scope, venue, 0, 100).await.unwrap();
    assert_eq!(events.len(), before + 1);
    assert_eq!(events.last().map(|e| e.order_id), Some(late.id));
}

pub async fn parallel_payers_never_cover_more_than_the_bill(store: &dyn Store) {
    let (scope, venue, table, session) = paying_table(store, "Pagos").await;
    let balance = store.session_balance(&scope, session).await.unwrap();
    assert_eq!(balance.total, cop(4_380_000));
    assert_eq!(balance.remaining, cop(4_380_000));
    // Many sessions in one read, in the order asked; a session with nothing on it reads as zero.
    let many = store
        .session_balances(&scope, &[session, uuid::Uuid::now_v7(), session])
        .await
        .unwrap();
    assert_eq!(many.len(), 3);
    assert_eq!((&many[0], &many[2]), (&balance, &balance));
    assert_eq!(
        many[1],
        comanda_store::payments::SessionBalance::new(cop(0), 0, 0)
    );
    let first = reserved(
        store,
        &scope,
        &payment_of(venue, table, session, 2_190_000, 0, false),
    )
    .await;
    assert_eq!(first.status, PaymentStatus::Pending);
    // The whole bill is refused once part of it is held.
    let whole = store
        .reserve_payment(
            &scope,
            &payment_of(venue, table, session, 2_190_000, 0, true),
            NOW,
        )
        .await
        .unwrap();
    assert!(matches!(whole, ReserveOutcome::Covered { .. }), "{whole:?}");
    // Two guests take the last half at the same moment: one holds it, the other is told it is covered.
    let a = payment_of(venue, table, session, 2_190_000, 100_000, false);
    let b = payment_of(venue, table, session, 2_190_000, 0, false);
    let outcomes = futures_join_all(
        [&a, &b]
            .into_iter()
            .map(|p| store.reserve_payment(&scope, p, NOW)),
    )
    .await;
    let won = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(ReserveOutcome::Reserved(_))))
        .count();
    let covered = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(ReserveOutcome::Covered { remaining }) if remaining.amount == 0))
        .count();
    assert_eq!((won, covered), (1, 1), "{outcomes:?}");
    let balance = store.session_balance(&scope, session).await.unwrap();
    assert_eq!((balance.in_progress, balance.remaining), (cop(4_380_000), cop(0)));
    // The device's holds on this bill (what a new payment from it replaces): both pending ones, no other device's.
    let mut held: Vec<Uuid> = store
        .session_holds(&scope, session, Some("d"))
        .await
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    held.sort();
    let winner = outcomes
        .iter()
        .find_map(|o| match o {
            Ok(ReserveOutcome::Reserved(p)) => Some(p.id),
            _ => None,
        })
        .unwrap();
    let mut expected = vec![first.id, winner];
    expected.sort();
    assert_eq!(held, expected);
    assert!(
        store
            .session_holds(&scope, session, Some("other"))
            .await
            .unwrap()
            .is_empty()
    );
    // A released hold frees its part again; a released payment stays released.
    let released = store
        .release_payment(&scope, first.id, PaymentStatus::Cancelled, "abandoned")
        .await
        .unwrap();
    assert_eq!(released.status, PaymentStatus::Cancelled);
    // A PaymentIntent created for it too late (the hold was released meanwhile) is not attached: the caller must
    // cancel it at Stripe, so it can never be paid.
    assert!(!store.attach_intent(&scope, first.id, "pi_late").await.unwrap());
    assert_eq!(
        store.payment(&scope, first.id).await.unwrap().payment_intent,
        None
    );
    assert_eq!(
        store.session_balance(&scope, session).await.unwrap().remaining,
        cop(2_190_000)
    );
    assert_eq!(
        store
            .expired_holds(&scope, NOW + time::Duration::hours(1))
            .await
            .unwrap()
            .len(),
        1
    );
    // Retried with the same key and body: the first payment; another body: refused.
    let mut keyed = payment_of(venue, table, session, 1_000, 0, false);
    keyed.idempotency_key = Some("k".into());
    let first_keyed = reserved(store, &scope, &keyed).await;
    let mut again = keyed.clone();
    again.id = Uuid::now_v7();
    assert!(
        matches!(store.reserve_payment(&scope, &again, NOW).await.unwrap(), ReserveOutcome::Replayed(p) if p.id == first_keyed.id)
    );
    again.request_hash = vec![2];
    assert_eq!(
        store.reserve_payment(&scope, &again, NOW).await.unwrap(),
        ReserveOutcome::KeyReused
    );
    // The same key and body from another guest's device is not a retry: a key is no way to read someone else's
    // payment (its client secret).
    let mut elsewhere = keyed.clone();
    elsewhere.id = Uuid::now_v7();
    elsewhere.device = Some("another device".into());
    assert_eq!(
        store.reserve_payment(&scope, &elsewhere, NOW).await.unwrap(),
        ReserveOutcome::KeyReused
    );
    assert_eq!(
        store
            .keyed_payment(
                &scope,
                session,
                "k",
                (&keyed.request_hash, Some("another device"))
            )
            .await
            .unwrap(),
        Some(ReserveOutcome::KeyReused)
    );
    assert!(matches!(
        store
            .keyed_payment(&scope, session, "k", (&keyed.request_hash, keyed.device.as_deref()))
            .await
            .unwrap(),
        Some(ReserveOutcome::Replayed(p)) if p.id == first_keyed.id
    ));
    // The table cannot close while a guest is paying its bill.
    let order = store.table_orders(&scope, table).await.unwrap()[0].id;
    for (from, to) in [
        (OrderStatus::Placed, OrderStatus::Accepted),
        (OrderStatus::Accepted, OrderStatus::Preparing),
        (OrderStatus::Preparing, OrderStatus::Ready),
        (OrderStatus::Ready, OrderStatus::Served),
    ] {
        store
            .transition_order(&scope, order, from, to, "k", None, &change(), NOW)
            .await
            .unwrap();
    }
    let refused = store
        .close_table(&scope, table, "manager:m", true, &change(), NOW)
        .await;
    assert!(
        matches!(&refused, Err(StoreError::Conflict(m)) if m.contains("payment")),
        "{refused:?}"
    );
    let all = PageRequest {
        after: None,
        limit: 100,
    };
    for held in store.venue_payments(&scope, venue, all).await.unwrap().items {
        if held.session_id == session && held.status == PaymentStatus::Pending {
            store
                .release_payment(&scope, held.id, PaymentStatus::Cancelled, "abandoned")
                .await
                .unwrap();
        }
    }
    store
        .close_table(&scope, table, "manager:m", true, &change(), NOW)
        .await
        .unwrap();
    let gone = store
        .reserve_payment(&scope, &payment_of(venue, table, session, 1_000, 0, false), NOW)
        .await
        .unwrap();
    assert_eq!(gone, ReserveOutcome::SessionGone);
}

/// What each part of a line was charged is kept with its payment and read back with the bill's claims; a part is
/// reserved only if its amount, recomputed under the bill's lock against the claims then current, is what the guest
/// was shown. Parts 1/7 + 1/7 + 5/7 of the 43.800,00 line: 6.257,14 + 6.257,14, and the 5/7 completing it pays
/// 31.285,72 (its own rounding, 31.285,71, had it not completed the line). When a seventh lapses and is taken
/// again, the line is still paid to the centavo.
pub async fn line_parts_are_charged_against_the_claims_current_under_the_lock(store: &dyn Store) {
    use comanda_domain::payment::{LineShare, line_part_amounts};
    let (scope, venue, table, session) = paying_table(store, "Partes").await;
    let order = store.table_orders(&scope, table).await.unwrap().remove(0);
    let line = order.lines[0].bill_line().total().unwrap();
    assert_eq!(line, cop(4_380_000));
    let share = |numerator| LineShare {
        order_id: order.id,
        line: 0,
        numerator,
        denominator: 7,
    };
    let part = |numerator, amount: i64| {
        let mut payment = payment_of(venue, table, session, amount, 0, false);
        payment.split = Split::Items {
            items: vec![share(numerator)],
        };
        payment.line_totals = vec![line];
        payment.line_amounts = vec![amount];
        payment
    };
    // Sevenths of 43.800 in whole pesos: 1/7 is 6.257, 3/7 is 18.771 on its own, 18.772 when it completes the line.
    let a = reserved(store, &scope, &part(1, 625_700)).await;
    reserved(store, &scope, &part(3, 1_877_100)).await;
    // Computed before the second 3/7 was held: not completing, so its own rounding. Refused with the new amount.
    let stale = store
        .reserve_payment(&scope, &part(3, 1_877_100), NOW)
        .await
        .unwrap();
    assert_eq!(
        stale,
        ReserveOutcome::ShareChanged {
            share: cop(1_877_200)
        }
    );
    reserved(store, &scope, &part(3, 1_877_200)).await;
    let claims = store.line_claims(&scope, session, None).await.unwrap();
    let charged: Vec<Option<i64>> = claims.iter().map(|claim| claim.amount).collect();
    assert_eq!(charged, vec![Some(625_700), Some(1_877_100), Some(1_877_200)]);
    // The first seventh lapses; taken again, it pays what the others were charged left of the line.
    store
        .release_payment(&scope, a.id, PaymentStatus::Cancelled, "lapsed")
        .await
        .unwrap();
    let claims = store.line_claims(&scope, session, None).await.unwrap();
    let again = line_part_amounts(&[share(1)], &[line], &claims).unwrap();
    assert_eq!(again, vec![cop(625_700)]);
    reserved(store, &scope, &part(1, 625_700)).await;
    let claims = store.line_claims(&scope, session, None).await.unwrap();
    let paid: i64 = claims.iter().filter_map(|claim| claim.amount).sum();
    assert_eq!(paid, line.amount, "the line is paid to the peso");
    assert_eq!(
        store.session_balance(&scope, session).await.unwrap().remaining,
        cop(0)
    );
}

pub async fn an_event_applies_once_however_often_it_is_delivered(store: &dyn Store) {
    let (scope, venue, table, session) = paying_table(store, "Eventos").await;
    let payment = reserved(
        store,
        &scope,
        &payment_of(venue, table, session, 4_380_000, 438_000, true),
    )
    .await;
    let effect = EventEffect::PaymentSucceeded {
        payment: payment.id,
        charge: Some("ch_1".into()),
        amount_received: payment.settlement.charged.amount,
    };
    let deliveries = futures_join_all(
        (0..10)
            .map(|_| store.apply_event(Some(&scope), "evt_same", "payment_intent.succeeded", &effect, NOW)),
    )
    .await;
    let applied: Vec<_> = deliveries
        .iter()
        .filter(|o| matches!(o, Ok(EventOutcome::Applied { .. })))
        .collect();
    assert_eq!(applied.len(), 1, "{deliveries:?}");
    assert!(deliveries.iter().all(|o| o.is_ok()), "{deliveries:?}");
    let Ok(EventOutcome::Applied {
        transfer_due,
        settled,
        mismatch,
    }) = applied[0]
    else {
        unreachable!()
    };
    assert_eq!(*transfer_due, Some(payment.id));
    assert_eq!(*settled, Some((venue, session)));
    assert_eq!(*mismatch, None);
    assert!(store.event_processed("evt_same").await.unwrap());
    assert_eq!(
        store.payment(&scope, payment.id).await.unwrap().status,
        PaymentStatus::Succeeded
    );
    let transfer = store.transfer(&scope, payment.id).await.unwrap().unwrap();
    assert_eq!(transfer.amount, payment.settlement.partner_part);
    assert_eq!(transfer.status, TransferStatus::Pending);
    assert_eq!(transfer.transfer_group, session.to_string());
    assert_eq!(store.due_transfers(&scope).await.unwrap().len(), 1);
    // Sent in the platform's settlement currency: the transfer and the tip keep both amounts.
    let settled = comanda_domain::payment::SettledAmounts {
        transfer: 1_021,
        tip: 110,
        platform: 30,
        currency: "usd".into(),
    };
    store
        .mark_transfer_sent(&scope, payment.id, "tr_1", Some(&settled), NOW)
        .await
        .unwrap();
    assert!(store.due_transfers(&scope).await.unwrap().is_empty());
    let sent = store.transfer(&scope, payment.id).await.unwrap().unwrap();
    assert_eq!(
        sent.settled,
        Some(comanda_store::payments::SettledMoney {
            amount: 1_021,
            currency: "usd".into()
        })
    );
    assert_eq!(
        sent.amount, payment.settlement.partner_part,
        "the charge's currency is kept"
    );
    let tips = store
        .tips(
            &scope,
            NOW - time::Duration::days(1),
            NOW + time::Duration::days(1),
            PageRequest::default(),
        )
        .await
        .unwrap()
        .items;
    assert_eq!(tips.iter().map(|t| t.amount).sum::<i64>(), 438_000);
    assert!(
        tips.iter()
            .all(|t| t.settled.as_ref().map(|s| (s.amount, s.currency.as_str())) == Some((110, "usd"))),
        "{tips:?}"
    );
    assert!(store.session_balance(&scope, session).await.unwrap().settled);
    assert_eq!(
        store.payment_partner(payment.id).await.unwrap(),
        Some(scope.partner())
    );
    // Another partner sees none of it.
    let other = new_partner(store, "Otro").await;
    assert!(matches!(
        store.payment(&other, payment.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(store.transfer(&other, payment.id).await.unwrap().is_none());
}

pub async fn refunds_reverse_in_proportion_and_big_ones_need_a_second_person(store: &dyn Store) {
    let (scope, venue, table, session) = paying_table(store, "Reembolsos").await;
    let payment = reserved(
        store,
        &scope,
        &payment_of(venue, table, session, 4_380_000, 438_000, true),
    )
    .await;
    succeed(store, &scope, &payment).await;
    let refund = |amount: i64, needs_approval: bool, by: Uuid| NewRefund {
        id: Uuid::now_v7(),
        payment_id: payment.id,
        amount: cop(amount),
        reason: "plato frío".into(),
        requested_by: by,
        approval_threshold: needs_approval.then_some(0),
        idempotency_key: None,
        request_hash: Vec::new(),
    };
    let manager = Uuid::now_v7();
    let early = store
        .request_refund(
            &scope,
            &refund(1_000, false, manager),
            &AuditEntry::new("refund.issued"),
            NOW,
        )
        .await;
    assert!(
        matches!(early, Err(StoreError::Conflict(_))),
        "the transfer is still owed: {early:?}"
    );
    store
        .mark_transfer_sent(&scope, payment.id, "tr_1", None, NOW)
        .await
        .unwrap();
    let part = store
        .request_refund(
            &scope,
            &refund(1_000_000, false, manager),
            &AuditEntry::new("refund.issued"),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(part.status, RefundStatus::Pending);
    assert!(part.split.transfer_reversal.amount < 1_000_000);
    store
        .complete_refund(&scope, part.id, "re_1", Some(("trr_1", &usd(50))), NOW)
        .await
        .unwrap();
    let too_much = store
        .request_refund(
            &scope,
            &refund(4_000_000, false, manager),
            &AuditEntry::new("refund.issued"),
            NOW,
        )
        .await;
    assert!(matches!(too_much, Err(StoreError::Refused(_))), "{too_much:?}");
    let rest = payment.settlement.charged.amount - 1_000_000;
    let big = store
        .request_refund(
            &scope,
            &refund(rest, true, manager),
            &AuditEntry::new("refund.requested"),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(big.status, RefundStatus::AwaitingApproval);
    let self_approved = store
        .approve_refund(&scope, big.id, manager, &AuditEntry::new("refund.approved"), NOW)
        .await;
    assert!(
        matches!(self_approved, Err(StoreError::Conflict(_))),
        "{self_approved:?}"
    );
    let approved = store
        .approve_refund(
            &scope,
            big.id,
            Uuid::now_v7(),
            &AuditEntry::new("refund.approved"),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(approved.status, RefundStatus::Pending);
    store
        .complete_refund(&scope, big.id, "re_2", Some(("trr_2", &usd(170))), NOW)
        .await
        .unwrap();
    // Fully refunded: the whole transfer reversed, the whole tip taken back, the platform returned its fee.
    let transfer = store.transfer(&scope, payment.id).await.unwrap().unwrap();
    assert_eq!(transfer.reversed, transfer.amount);
    assert_eq!(
        part.split.platform_part.amount + approved.split.platform_part.amount,
        payment.settlement.platform_fee.amount
    );
    let tips = store
        .tips(
            &scope,
            NOW - time::Duration::days(1),
            NOW + time::Duration::days(1),
            PageRequest::default(),
        )
        .await
        .unwrap()
        .items;
    assert_eq!(tips.iter().map(|t| t.amount).sum::<i64>(), 0);
    // A refund that failed at Stripe gives its amount back to what can be refunded.
    assert_eq!(
        store.payment(&scope, payment.id).await.unwrap().refunded,
        payment.settlement.charged
    );
}

fn usd(amount: i64) -> comanda_store::payments::SettledMoney {
    comanda_store::payments::SettledMoney {
        amount,
        currency: "usd".into(),
    }
}

pub async fn a_refund_that_fails_after_it_succeeded_is_undone_and_its_share_owed_back(store: &dyn Store) {
    let (scope, venue, table, session) = paying_table(store, "Reembolso fallido").await;
    let payment = transferred(
        store,
        &scope,
        &payment_of(venue, table, session, 4_380_000, 438_000, true),
    )
    .await;
    let refund = |amount: i64| NewRefund {
        id: Uuid::now_v7(),
        payment_id: payment.id,
        amount: cop(amount),
        reason: "plato frío".into(),
        requested_by: Uuid::now_v7(),
        approval_threshold: None,
        idempotency_key: None,
        request_hash: Vec::new(),
    };
    let tipped = async || {
        store
            .tips(
                &scope,
                NOW - time::Duration::days(1),
                NOW + time::Duration::days(7),
                PageRequest::default(),
            )
            .await
            .unwrap()
            .items
            .iter()
            .map(|t| t.amount)
            .sum::<i64>()
    };
    let asked = store
        .request_refund(&scope, &refund(1_000_000), &AuditEntry::new("refund.issued"), NOW)
        .await
        .unwrap();
    // Stripe took it and the card's bank has not answered: Stripe's id is kept, the refund stays pending.
    let submitted = store.submit_refund(&scope, asked.id, "re_1").await.unwrap();
    assert_eq!(submitted.status, RefundStatus::Pending);
    assert_eq!(submitted.stripe_refund.as_deref(), Some("re_1"));
    assert_eq!(
        store.payment(&scope, payment.id).await.unwrap().refunded.amount,
        1_000_000
    );
    // Still pending, it is what the upkeep follows up once it was asked before the given instant.
    let in_flight = async |scope: &TenantScope, before| {
        store
            .refunds_in_flight(scope, before)
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        in_flight(&scope, NOW + time::Duration::minutes(10)).await,
        [asked.id]
    );
    assert!(in_flight(&scope, NOW).await.is_empty());
    let stranger = new_partner(store, "Ajeno").await;
    assert!(
        in_flight(&stranger, NOW + time::Duration::minutes(10))
            .await
            .is_empty()
    );
    let done = store
        .complete_refund(&scope, asked.id, "re_1", Some(("trr_1", &usd(60))), NOW)
        .await
        .unwrap();
    assert_eq!(done.status, RefundStatus::Succeeded);
    assert_eq!(done.reversal, Some(("trr_1".to_owned(), usd(60))));
    assert!(done.split.transfer_reversal.amount > 0);
    assert_eq!(
        store
            .transfer(&scope, payment.id)
            .await
            .unwrap()
            .unwrap()
            .reversed,
        done.split.transfer_reversal
    );
    assert_eq!(tipped().await, 438_000 - done.split.tip_reversal.amount);
    assert!(store.refunds_to_restore(&scope).await.unwrap().is_empty());

    // The card was closed: Stripe's refund fails days later and the money comes back.
    let later = NOW + time::Duration::days(3);
    let returned = store
        .refund_returned(&scope, asked.id, "expired_or_canceled_card", later)
        .await
        .unwrap()
        .expect("a succeeded refund fails once");
    assert_eq!(returned.status, RefundStatus::Failed);
    assert_eq!(returned.failure.as_deref(), Some("expired_or_canceled_card"));
    assert!(
        store
            .refund_returned(&scope, asked.id, "expired_or_canceled_card", later)
            .await
            .unwrap()
            .is_none(),
        "a repeated event changes nothing"
    );
    assert_eq!(
        store.payment(&scope, payment.id).await.unwrap().refunded.amount,
        0
    );
    assert_eq!(tipped().await, 438_000, "the tip is the server's again");
    let transfer = store.transfer(&scope, payment.id).await.unwrap().unwrap();
    assert_eq!(
        transfer.reversed.amount, 0,
        "its share is no longer counted as reversed"
    );
    // The partner's reversed share is owed back until a transfer gives it.
    let owed = store.refunds_to_restore(&scope).await.unwrap();
    assert_eq!(owed.iter().map(|r| r.id).collect::<Vec<_>>(), vec![asked.id]);
    store
        .record_restored_transfer(&scope, asked.id, "tr_back")
        .await
        .unwrap();
    assert!(store.refunds_to_restore(&scope).await.unwrap().is_empty());
    assert_eq!(
        store
            .refund(&scope, asked.id)
            .await
            .unwrap()
            .restored_transfer
            .as_deref(),
        Some("tr_back")
    );
    // The whole payment can be refunded again (to another card, in cash …): nothing of it counts as returned.
    let pending = store
        .request_refund(
            &scope,
            &refund(4_380_000),
            &AuditEntry::new("refund.issued"),
            later,
        )
        .await
        .unwrap();
    // A refund that fails while pending moved nothing: it frees its part and owes the partner nothing.
    let failed = store
        .fail_refund(&scope, pending.id, "lost_or_stolen_card")
        .await
        .unwrap();
    assert_eq!(failed.failure.as_deref(), Some("lost_or_stolen_card"));
    assert!(
        store
            .refund_returned(&scope, pending.id, "lost_or_stolen_card", later)
            .await
            .unwrap()
            .is_none(),
        "only a succeeded refund is returned"
    );
    assert_eq!(
        store.payment(&scope, payment.id).await.unwrap().refunded.amount,
        0
    );
    assert!(store.refunds_to_restore(&scope).await.unwrap().is_empty());
    // Another partner reaches none of it.
    let other = new_partner(store, "Otro").await;
    assert!(matches!(
        store.refund_returned(&other, asked.id, "unknown", later).await,
        Err(StoreError::NotFound)
    ));
    assert!(store.refunds_to_restore(&other).await.unwrap().is_empty());
    assert!(
        in_flight(&scope, later).await.is_empty(),
        "an ended refund is not followed up"
    );
}

pub async fn disputes_leave_a_debt_netted_against_later_transfers(store: &dyn Store) {
    let (scope, venue, table, session) = paying_table(store, "Disputas").await;
    let first = transferred(
        store,
        &scope,
        &payment_of(venue, table, session, 1_000_000, 0, false),
    )
    .await;
    let dispute = EventEffect::DisputeCreated {
        payment: first.id,
        stripe_dispute: "dp_1".into(),
        amount: 1_000_000,
        reason: "fraudulent".into(),
        status: "needs_response".into(),
        evidence_due: Some(NOW + time::Duration::days(7)),
    };
    store
        .apply_event(Some(&scope), "evt_dp", "charge.dispute.created", &dispute, NOW)
        .await
        .unwrap();
    let disputes = store
        .disputes(&scope, PageRequest::default())
        .await
        .unwrap()
        .items;
    assert_eq!(disputes.len(), 1);
    assert_eq!(disputes[0].debt, first.settlement.partner_part);
    assert_eq!(
        store.outstanding_debt(&scope).await.unwrap(),
        first.settlement.partner_part.amount
    );
    let second = reserved(
        store,
        &scope,
        &payment_of(venue, table, session, 3_000_000, 0, false),
    )
    .await;
    succeed(store, &scope, &second).await;
    let transfer = store.transfer(&scope, second.id).await.unwrap().unwrap();
    assert_eq!(transfer.recovered, first.settlement.partner_part);
    assert_eq!(
        transfer.amount.amount,
        second.settlement.partner_part.amount - first.settlement.partner_part.amount
    );
    assert_eq!(store.outstanding_debt(&scope).await.unwrap(), 0);
}

/// Instants a fraction of a second apart compare and sort as time does, also against a whole second: a record in the
/// first second of a range is inside it (SQLite's text once put `05:00:00.3Z` before `05:00:00Z` and `.5Z` after
/// `.55Z`).
pub async fn instants_within_one_second_compare_as_time(store: &dyn Store) {
    let second = NOW.replace_nanosecond(0).unwrap();
    let at = |millis: i64| second + time::Duration::milliseconds(millis);
    let mut raised = Vec::new();
    for millis in [0, 300, 500, 550, 1_000] {
        raised.push(
            store
                .raise_alert(None, "test.instant", "x", at(millis))
                .await
                .unwrap()
                .id,
        );
    }
    let pending = store.unrouted_alerts(second, 10).await.unwrap();
    assert_eq!(pending.iter().map(|a| a.id).collect::<Vec<_>>(), raised);
    let later = store.unrouted_alerts(at(500), 10).await.unwrap();
    assert_eq!(later.iter().map(|a| a.id).collect::<Vec<_>>(), raised[2..]);
    assert_eq!(
        store.prune_alerts(at(550)).await.unwrap(),
        3,
        "before .55 s: 0, .3 and .5"
    );
}

/// An offboarded partner stays in the payment upkeep and reconciliation (its deposits and refunds still settle),
/// and is named as offboarded: its connected account was sealed under its destroyed key, so the steps that need it
/// are skipped (Stripe was asked about `[erased]` every run).
pub async fn an_offboarded_partner_is_named_to_the_payment_upkeep(store: &dyn Store) {
    let (staying, ..) = paying_table(store, "Sigue").await;
    let (leaving, ..) = paying_table(store, "Se va").await;
    assert!(store.offboarded_partners().await.unwrap().is_empty());
    store
        .offboard_partner(&leaving, &AuditEntry::new("partner.offboarded"), NOW)
        .await
        .unwrap();
    let taking = store.payment_partners().await.unwrap();
    assert!(taking.contains(&staying.partner()) && taking.contains(&leaving.partner()));
    assert_eq!(store.offboarded_partners().await.unwrap(), [leaving.partner()]);
}

/// MON-4's queue: an alert stays unrouted, oldest first, until the on-call destination accepts it; marking it twice
/// keeps the first time; alerts older than the window asked for are not offered again; retention deletes the alerts
/// raised before its cut and no other.
pub async fn alerts_wait_for_routing_oldest_first(store: &dyn Store) {
    let second = NOW + time::Duration::seconds(1);
    let first = store.raise_alert(None, "test.first", "one", NOW).await.unwrap();
    let later = store
        .raise_alert(None, "test.second", "two", second)
        .await
        .unwrap();
    let pending = store.unrouted_alerts(NOW, 10).await.unwrap();
    assert_eq!(
        pending.iter().map(|a| a.id).collect::<Vec<_>>(),
        [first.id, later.id]
    );
    assert_eq!(store.unrouted_alerts(NOW, 1).await.unwrap()[0].id, first.id);
    store.mark_alert_routed(first.id, second).await.unwrap();
    store
        .mark_alert_routed(first.id, second + time::Duration::hours(1))
        .await
        .unwrap();
    let pending = store.unrouted_alerts(NOW, 10).await.unwrap();
    assert_eq!(pending.iter().map(|a| a.id).collect::<Vec<_>>(), [later.id]);
    assert!(
        store
            .unrouted_alerts(second + time::Duration::seconds(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    // A day later the router gives up on what was never accepted: answered once, then no longer pending.
    let day = second + time::Duration::days(1);
    let abandoned = store
        .abandon_unrouted_alerts(second + time::Duration::seconds(1), day)
        .await
        .unwrap();
    assert_eq!(abandoned.iter().map(|a| a.id).collect::<Vec<_>>(), [later.id]);
    assert!(
        store.abandon_unrouted_alerts(day, day).await.unwrap().is_empty(),
        "each once, and never a routed one"
    );
    assert!(store.unrouted_alerts(NOW, 10).await.unwrap().is_empty());
    assert_eq!(
        store.alerts(NOW).await.unwrap().len(),
        2,
        "routing keeps every alert"
    );
    // Retention drops what was raised before the cut, and only that.
    assert_eq!(store.prune_alerts(second).await.unwrap(), 1);
    let kept = store.alerts(NOW).await.unwrap();
    assert_eq!(kept.iter().map(|a| a.id).collect::<Vec<_>>(), [later.id]);
}

pub async fn an_order_guests_paid_for_is_cancelled_only_after_their_refund(store: &dyn Store) {
    let (scope, venue, table, session) = paying_table(store, "Cancelaciones").await;
    let order = store.table_orders(&scope, table).await.unwrap().remove(0);
    let audit = change();
    let cancel = || {
        store.transition_order(
            &scope,
            order.id,
            order.status,
            OrderStatus::Cancelled,
            "manager:m",
            Some("the guest left"),
            &audit,
            NOW,
        )
    };
    let half = order.subtotal.amount / 2;
    let payment = reserved(store, &scope, &payment_of(venue, table, session, half, 0, false)).await;
    let coverage = || store.bill_coverage(&scope, session);
    let being_paid = coverage().await.unwrap();
    assert_eq!(
        being_paid,
        comanda_store::ordering::BillCoverage {
            held: half,
            ..Default::default()
        }
    );
    assert!(!being_paid.may_shrink_to(0) && being_paid.may_shrink_to(half));
    let held = cancel().await;
    assert!(
        matches!(&held, Err(StoreError::Refused(m)) if m.contains("paying")),
        "a payment under way: {held:?}"
    );
    succeed(store, &scope, &payment).await;
    let paid = cancel().await;
    assert!(matches!(&paid, Err(StoreError::Refused(_))), "{paid:?}");
    assert_eq!(
        store.order(&scope, order.id).await.unwrap().status,
        order.status,
        "nothing written"
    );
    store
        .mark_transfer_sent(&scope, payment.id, "tr_1", None, NOW)
        .await
        .unwrap();
    let refund = store
        .request_refund(
            &scope,
            &NewRefund {
                id: Uuid::now_v7(),
                payment_id: payment.id,
                amount: cop(half),
                reason: "the guest left".into(),
                requested_by: Uuid::now_v7(),
                approval_threshold: None,
                idempotency_key: None,
                request_hash: Vec::new(),
            },
            &AuditEntry::new("refund.issued"),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(refund.status, RefundStatus::Pending);
    // The refund asked gives the share back: the bill may go, as the cancellation then finds.
    let refunded = coverage().await.unwrap();
    assert_eq!(
        refunded,
        comanda_store::ordering::BillCoverage {
            paid: half,
            returned: half,
            ..Default::default()
        }
    );
    assert!(refunded.may_shrink_to(0));
    let cancelled = cancel().await.unwrap();
    assert_eq!(cancelled.status, OrderStatus::Cancelled);
}

pub async fn a_refund_asked_again_with_its_key_is_the_first_refund(store: &dyn Store) {
    let (scope, venue, table, session) = paying_table(store, "Reintentos").await;
    let payment = transferred(
        store,
        &scope,
        &payment_of(venue, table, session, 1_000_000, 0, true),
    )
    .await;
    let ask = |amount: i64, key: &str, hash: &[u8]| NewRefund {
        id: Uuid::now_v7(),
        payment_id: payment.id,
        amount: cop(amount),
        reason: "plato frío".into(),
        requested_by: Uuid::now_v7(),
        approval_threshold: None,
        idempotency_key: Some(key.into()),
        request_hash: hash.to_vec(),
    };
    let audit = AuditEntry::new("refund.issued");
    let first = store
        .request_refund(&scope, &ask(300_000, "k-1", b"300000"), &audit, NOW)
        .await
        .unwrap();
    let retried = store
        .request_refund(&scope, &ask(300_000, "k-1", b"300000"), &audit, NOW)
        .await
        .unwrap();
    assert_eq!(retried, first, "the retry answers the first refund");
    assert_eq!(
        store.payment(&scope, payment.id).await.unwrap().refunded,
        cop(300_000)
    );
    let reused = store
        .request_refund(&scope, &ask(5, "k-1", b"5"), &audit, NOW)
        .await;
    assert!(matches!(&reused, Err(StoreError::Conflict(_))), "{reused:?}");
    let second = store
        .request_refund(&scope, &ask(300_000, "k-2", b"300000"), &audit, NOW)
        .await
        .unwrap();
    assert_ne!(second.id, first.id, "another key is another refund");
    assert_eq!(
        store.payment(&scope, payment.id).await.unwrap().refunded,
        cop(600_000)
    );

    // The venue's list: newest first with the table, a page at a time, one status when asked; another venue's or
    // another partner's list holds none of them.
    // 400.000 alone is under a threshold of 900.000; with the 600.000 refunded before it is over: it waits (a
    // refund is not let through in pieces).
    let big = NewRefund {
        approval_threshold: Some(900_000),
        ..ask(400_000, "k-3", b"400000")
    };
    let waiting = store
        .request_refund(&scope, &big, &audit, NOW + time::Duration::seconds(1))
        .await
        .unwrap();
    let listed = |status, page| store.venue_refunds(&scope, venue, status, page);
    let all = listed(None, PageRequest::default()).await.unwrap();
    let ids: Vec<Uuid> = all.items.iter().map(|r| r.refund.id).collect();
    let mut same_instant = [first.id, second.id];
    same_instant.sort();
    same_instant.reverse();
    assert_eq!(ids, [waiting.id, same_instant[0], same_instant[1]]);
    assert!(all.items.iter().all(|r| r.table_id == table));
    assert_eq!(all.items[0].refund, waiting);
    let one = PageRequest {
        after: None,
        limit: 1,
    };
    let first_page = listed(None, one).await.unwrap();
    assert_eq!(first_page.items.len(), 1);
    let rest = listed(
        None,
        PageRequest {
            after: first_page.next,
            limit: 10,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        rest.items.iter().map(|r| r.refund.id).collect::<Vec<_>>(),
        ids[1..]
    );
    let awaiting = listed(Some(RefundStatus::AwaitingApproval), PageRequest::default())
        .await
        .unwrap();
    assert_eq!(
        awaiting.items.iter().map(|r| r.refund.id).collect::<Vec<_>>(),
        [waiting.id]
    );
    let other_venue = venue_of(store, &scope).await;
    assert!(
        store
            .venue_refunds(&scope, other_venue, None, PageRequest::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let stranger = new_partner(store, "Ajena").await;
    assert!(
        store
            .venue_refunds(&stranger, venue, None, PageRequest::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

/// Cash at the table (docs/payments.md, "Cash at the table"): it pays the bill like a card share, never more than is
/// left beside a card payment in progress, credits its tip to the table's server as `cash`, and a void (while the bill
/// is open, once) takes all of it back; a closed bill's records stand; another table's record is not found.
pub async fn cash_pays_the_bill_and_a_void_takes_it_back(store: &dyn Store) {
    let (scope, venue, table, session) = paying_table(store, "Efectivo").await;
    let server = store
        .live_session(&scope, table)
        .await
        .unwrap()
        .unwrap()
        .accepted_member;
    let cash = |amount: i64, tip: i64| NewCashPayment {
        id: Uuid::now_v7(),
        venue_id: venue,
        table_id: table,
        session_id: session,
        amount: cop(amount),
        tip: cop(tip),
        recorded_by: Uuid::now_v7(),
    };
    let audit = || AuditEntry::new("payment.cash_recorded");
    // A guest pays 20.000 by card meanwhile: the cash can cover only the 23.800 left beside it.
    let card = reserved(
        store,
        &scope,
        &payment_of(venue, table, session, 2_000_000, 0, false),
    )
    .await;
    match store
        .record_cash(&scope, &cash(2_380_001, 0), &audit(), NOW)
        .await
        .unwrap()
    {
        CashOutcome::Refused(comanda_domain::payment::CashError::OverBill { left }) => {
            assert_eq!(left, 2_380_000)
        }
        other => panic!("{other:?}"),
    }
    let CashOutcome::Recorded(first) = store
        .record_cash(&scope, &cash(2_380_000, 300_000), &audit(), NOW)
        .await
        .unwrap()
    else {
        panic!("recorded")
    };
    let balance = store.session_balance(&scope, session).await.unwrap();
    assert_eq!(
        (balance.paid, balance.cash, balance.remaining),
        (cop(2_380_000), cop(2_380_000), cop(0))
    );
    assert!(!balance.settled, "the card payment is still in progress");
    succeed(store, &scope, &card).await;
    let balance = store.session_balance(&scope, session).await.unwrap();
    assert!(balance.settled && balance.paid == cop(4_380_000), "{balance:?}");
    // Coins left on a bill paid in full: a tip alone.
    let CashOutcome::Recorded(coins) = store
        .record_cash(&scope, &cash(0, 50_000), &audit(), NOW)
        .await
        .unwrap()
    else {
        panic!("a tip alone is recorded")
    };
    let (from, to) = (NOW - time::Duration::DAY, NOW + time::Duration::DAY);
    let tips = store
        .tips(&scope, from, to, PageRequest::default())
        .await
        .unwrap()
        .items;
    let cash_tips: Vec<_> = tips.iter().filter(|t| t.tender == Tender::Cash).collect();
    assert_eq!(cash_tips.len(), 2, "{tips:?}");
    assert!(cash_tips.iter().all(|t| t.member == server && t.amount > 0));
    assert_eq!(cash_tips[0].payment_id, first.id);
    // Voided once: the bill is owed again and the tip leaves the ledger; a second void is refused.
    let later = NOW + time::Duration::minutes(5);
    let voided = store
        .void_cash(
            &scope,
            table,
            first.id,
            Uuid::now_v7(),
            &AuditEntry::new("payment.cash_voided"),
            later,
        )
        .await
        .unwrap();
    assert_eq!(voided.voided.map(|(_, at)| at), Some(later));
    let balance = store.session_balance(&scope, session).await.unwrap();
    assert_eq!((balance.cash, balance.remaining), (cop(0), cop(2_380_000)));
    let again = store
        .void_cash(
            &scope,
            table,
            first.id,
            Uuid::now_v7(),
            &AuditEntry::new("payment.cash_voided"),
            later,
        )
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let tips = store
        .tips(&scope, from, to, PageRequest::default())
        .await
        .unwrap()
        .items;
    let first_tip: i64 = tips
        .iter()
        .filter(|t| t.payment_id == first.id)
        .map(|t| t.amount)
        .sum();
    assert_eq!(first_tip, 0, "{tips:?}");
    // Another table's record, or another partner's, is not found.
    let other = store
        .create_table(&scope, venue, "Q", 2, &change(), NOW)
        .await
        .unwrap();
    let elsewhere = store
        .void_cash(
            &scope,
            other.id,
            coins.id,
            Uuid::now_v7(),
            &AuditEntry::new("payment.cash_voided"),
            later,
        )
        .await;
    assert!(matches!(elsewhere, Err(StoreError::NotFound)), "{elsewhere:?}");
    let stranger = new_partner(store, "Ajena").await;
    let crossing = store
        .void_cash(
            &stranger,
            table,
            coins.id,
            Uuid::now_v7(),
            &AuditEntry::new("payment.cash_voided"),
            later,
        )
        .await;
    assert!(matches!(crossing, Err(StoreError::NotFound)), "{crossing:?}");
    assert!(store.session_cash(&stranger, session).await.unwrap().is_empty());
    let listed = store.session_cash(&scope, session).await.unwrap();
    assert_eq!(
        listed.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![first.id, coins.id]
    );
    // An order the cash pays for is cancelled only once that cash is voided (the guest gets it back).
    let PlaceOutcome::Created(second) = store
        .place_order(&scope, &order_for(venue, table, None, b"second"), &change(), NOW)
        .await
        .unwrap()
    else {
        panic!("placed")
    };
    let CashOutcome::Recorded(covering) = store
        .record_cash(&scope, &cash(6_760_000, 0), &audit(), NOW)
        .await
        .unwrap()
    else {
        panic!("recorded")
    };
    let changed = change();
    let cancel = |at| {
        store.transition_order(
            &scope,
            second.id,
            OrderStatus::Placed,
            OrderStatus::Cancelled,
            "server:test",
            Some("wrong table"),
            &changed,
            at,
        )
    };
    let refused = cancel(NOW).await;
    assert!(
        matches!(&refused, Err(StoreError::Refused(why)) if why.starts_with("cash recorded")),
        "{refused:?}"
    );
    store
        .void_cash(
            &scope,
            table,
            covering.id,
            Uuid::now_v7(),
            &AuditEntry::new("payment.cash_voided"),
            later,
        )
        .await
        .unwrap();
    cancel(later).await.unwrap();
    // A bill's cash tips come to at most the bill: 500 of coins and 43.800 more come to more.
    match store
        .record_cash(&scope, &cash(0, 4_380_000), &audit(), later)
        .await
        .unwrap()
    {
        CashOutcome::Refused(comanda_domain::payment::CashError::Tip) => {}
        other => panic!("{other:?}"),
    }
    // Closed, the bill's records stand and it takes no more cash.
    serve_placed(store, &scope, session, NOW).await;
    // Voided, the bill is owed again: it closes only as unpaid (decided under its lock, so a void racing the close
    // is seen by it).
    let owed = store
        .close_table(&scope, table, "server:test", false, &change(), later)
        .await;
    assert!(
        matches!(owed, Err(StoreError::Unsettled { left: 2_380_000 })),
        "{owed:?}"
    );
    store
        .close_table(&scope, table, "server:test", true, &change(), later)
        .await
        .unwrap();
    let closed = store
        .void_cash(
            &scope,
            table,
            coins.id,
            Uuid::now_v7(),
            &AuditEntry::new("payment.cash_voided"),
            later,
        )
        .await;
    assert!(matches!(closed, Err(StoreError::Conflict(_))), "{closed:?}");
    let late = store
        .record_cash(&scope, &cash(0, 100), &audit(), later)
        .await
        .unwrap();
    assert_eq!(late, CashOutcome::BillClosed);
    // The reports: 23.800 + 3.000 recorded, 500 of coins, 26.800 taken back by the void.
    let total = store
        .sales_total(
            &scope,
            venue,
            NOW - time::Duration::DAY,
            NOW + time::Duration::DAY,
        )
        .await
        .unwrap();
    assert_eq!(total.cash, 50_000);
}

/// Cash pays the bill's orders in turn as card shares do: two orders, one paid by card and one in cash, the card
/// refunded and the second order cancelled — the cancelled order keeps in the sales what the card paid for it, the
/// bill reads paid by the cash, and once the cash is voided it is owed again (nothing came in).
pub async fn a_cancelled_order_keeps_what_the_card_paid_beside_cash(store: &dyn Store) {
    let (scope, venue, table, session) = paying_table(store, "Mixta").await;
    let PlaceOutcome::Created(second) = store
        .place_order(&scope, &order_for(venue, table, None, b"second"), &change(), NOW)
        .await
        .unwrap()
    else {
        panic!("placed")
    };
    let half = 4_380_000;
    let card = reserved(store, &scope, &payment_of(venue, table, session, half, 0, false)).await;
    succeed(store, &scope, &card).await;
    store
        .mark_transfer_sent(&scope, card.id, "tr_1", None, NOW)
        .await
        .unwrap();
    let cash = NewCashPayment {
        id: Uuid::now_v7(),
        venue_id: venue,
        table_id: table,
        session_id: session,
        amount: cop(half),
        tip: cop(0),
        recorded_by: Uuid::now_v7(),
    };
    let CashOutcome::Recorded(cash) = store
        .record_cash(&scope, &cash, &AuditEntry::new("payment.cash_recorded"), NOW)
        .await
        .unwrap()
    else {
        panic!("recorded")
    };
    let refund = NewRefund {
        id: Uuid::now_v7(),
        payment_id: card.id,
        amount: cop(half),
        reason: "plato frío".into(),
        requested_by: Uuid::now_v7(),
        approval_threshold: None,
        idempotency_key: None,
        request_hash: Vec::new(),
    };
    store
        .request_refund(&scope, &refund, &AuditEntry::new("refund.issued"), NOW)
        .await
        .unwrap();
    store
        .transition_order(
            &scope,
            second.id,
            OrderStatus::Placed,
            OrderStatus::Cancelled,
            "server:test",
            Some("refunded"),
            &change(),
            NOW,
        )
        .await
        .unwrap();
    let day = (NOW - time::Duration::DAY, NOW + time::Duration::DAY);
    let sales = store.sales_total(&scope, venue, day.0, day.1).await.unwrap();
    assert_eq!(
        sales.gross,
        2 * half,
        "the first order, and what the card paid for the second: {sales:?}"
    );
    let balance = store.session_balance(&scope, session).await.unwrap();
    assert!(
        balance.settled && balance.paid == cop(half) && balance.cash == cop(half),
        "{balance:?}"
    );
    store
        .void_cash(
            &scope,
            table,
            cash.id,
            Uuid::now_v7(),
            &AuditEntry::new("payment.cash_voided"),
            NOW,
        )
        .await
        .unwrap();
    let balance = store.session_balance(&scope, session).await.unwrap();
    assert_eq!(
        (balance.paid, balance.remaining),
        (cop(0), cop(half)),
        "{balance:?}"
    );
}

/// A party moving tables takes its bill (README, the kitchen page): under the bill's lock the session, its
/// orders and its cash name the new table, the balance is unchanged, the kitchen gets an event for the order not yet
/// served, and the old table starts the next party's bill. Refused: a table with a live bill of its own, a table of
/// another venue, a closed bill; another partner's bill is not found.
pub async fn a_party_moves_tables_with_its_bill(store: &dyn Store) {
    let (scope, venue, table, session) = paying_table(store, "Mudanza").await;
    let CashOutcome::Recorded(cash) = store
        .record_cash(
            &scope,
            &NewCashPayment {
                id: Uuid::now_v7(),
                venue_id: venue,
                table_id: table,
                session_id: session,
                amount: cop(1_000_000),
                tip: cop(0),
                recorded_by: Uuid::now_v7(),
            },
            &AuditEntry::new("payment.cash_recorded"),
            NOW,
        )
        .await
        .unwrap()
    else {
        panic!("recorded")
    };
    let before = store.session_balance(&scope, session).await.unwrap();
    let free = store
        .create_table(&scope, venue, "Terraza", 6, &change(), NOW)
        .await
        .unwrap()
        .id;
    let taken = store
        .create_table(&scope, venue, "Ventana", 2, &change(), NOW)
        .await
        .unwrap()
        .id;
    store
        .place_order(
            &scope,
            &order_for(venue, taken, None, b"other party"),
            &change(),
            NOW,
        )
        .await
        .unwrap();
    let elsewhere = venue_of(store, &scope).await;
    let other_venue = store
        .create_table(&scope, elsewhere, "Mesa 9", 4, &change(), NOW)
        .await
        .unwrap()
        .id;
    let moving = || AuditEntry::new("table_session.moved");
    let refused = store
        .move_session(&scope, session, taken, "server:ana", &moving(), NOW)
        .await;
    assert!(matches!(refused, Err(StoreError::Conflict(_))), "{refused:?}");
    let refused = store
        .move_session(&scope, session, other_venue, "server:ana", &moving(), NOW)
        .await;
    assert!(matches!(refused, Err(StoreError::Refused(_))), "{refused:?}");
    let stranger = new_partner(store, "Ajena").await;
    let refused = store
        .move_session(&stranger, session, free, "server:ana", &moving(), NOW)
        .await;
    assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    assert_eq!(
        store.live_session(&scope, table).await.unwrap().map(|s| s.id),
        Some(session),
        "a refused move changed nothing"
    );
    let seen = store.latest_order_event(&scope, venue).await.unwrap();

    let later = NOW + time::Duration::minutes(3);
    let moved = store
        .move_session(&scope, session, free, "server:ana", &moving(), later)
        .await
        .unwrap();
    assert_eq!((moved.id, moved.table_id), (session, free));
    assert!(store.live_session(&scope, table).await.unwrap().is_none());
    assert_eq!(
        store.live_session(&scope, free).await.unwrap().map(|s| s.id),
        Some(session)
    );
    let orders = store
        .session_orders(&scope, session, PageRequest::default())
        .await
        .unwrap()
        .items;
    assert!(!orders.is_empty());
    assert!(
        orders
            .iter()
            .all(|o| o.table_id == free && o.served_table_id == free)
    );
    assert_eq!(
        store.table_orders(&scope, free).await.unwrap().len(),
        orders.len()
    );
    let events = store.order_events_after(&scope, venue, seen, 10).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.order_id).collect::<Vec<_>>(),
        orders.iter().map(|o| o.id).collect::<Vec<_>>(),
        "one event per order the kitchen still has"
    );
    assert_eq!(store.session_balance(&scope, session).await.unwrap(), before);
    // The cash taken at the old table is the bill's: voided from the table the bill is at now.
    let voided = store
        .void_cash(
            &scope,
            free,
            cash.id,
            Uuid::now_v7(),
            &AuditEntry::new("payment.cash_voided"),
            later,
        )
        .await
        .unwrap();
    assert_eq!(voided.id, cash.id);
    // The same table again is no move; the old table's code starts the next party's bill.
    let again = store
        .move_session(&scope, session, free, "server:ana", &moving(), later)
        .await
        .unwrap();
    assert_eq!(again.table_id, free);
    let PlaceOutcome::Created(next) = store
        .place_order(
            &scope,
            &order_for(venue, table, None, b"next party"),
            &change(),
            later,
        )
        .await
        .unwrap()
    else {
        panic!("not created")
    };
    assert_ne!(next.session_id, Some(session));
    let moves = store
        .search_audit(
            &scope,
            &comanda_store::audit::AuditFilter {
                action: Some("table_session.moved".into()),
                ..Default::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap()
        .items;
    assert_eq!(
        moves.iter().map(|e| e.entry.detail.as_str()).collect::<Vec<_>>(),
        [format!("from={table} to={free}")]
    );
    let moves = moves.len();
    assert_eq!(moves, 1, "a refused move and no move are not audited");

    // A bill closed with its party cannot move.
    let other = store.live_session(&scope, taken).await.unwrap().unwrap();
    accept_table(store, &scope, taken).await;
    serve_placed(store, &scope, other.id, later).await;
    store
        .close_table(&scope, taken, "server:ana", true, &change(), later)
        .await
        .unwrap();
    let refused = store
        .move_session(&scope, other.id, free, "server:ana", &moving(), later)
        .await;
    assert!(matches!(refused, Err(StoreError::Conflict(_))), "{refused:?}");
    // Where a guest's phone last ordered on a live bill: the next party's, opened later, not the closed one.
    let phone = order_for(venue, table, None, b"").device.unwrap();
    assert_eq!(
        store.device_bill_table(&scope, venue, &phone).await.unwrap(),
        Some(table)
    );
    assert_eq!(
        store
            .device_bill_table(&scope, venue, "another-phone")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.device_bill_table(&stranger, venue, &phone).await.unwrap(),
        None
    );
    // Two servers move two bills to the one free table at once: one moves, the other is told the table has a bill.
    let bar = store
        .create_table(&scope, venue, "Barra", 2, &change(), later)
        .await
        .unwrap()
        .id;
    let next = next.session_id.unwrap();
    let audit = moving();
    let (one, two) = tokio::join!(
        store.move_session(&scope, session, bar, "server:ana", &audit, later),
        store.move_session(&scope, next, bar, "server:luis", &audit, later),
    );
    let outcomes = [&one, &two].map(|o| match o {
        Ok(moved) => Ok(moved.table_id),
        Err(StoreError::Conflict(_)) => Err("conflict"),
        other => panic!("{other:?}"),
    });
    assert!(
        outcomes == [Ok(bar), Err("conflict")] || outcomes == [Err("conflict"), Ok(bar)],
        "{one:?} {two:?}"
    );
}
