//! Analytics: the sales roll-ups always equal a recomputation from the raw rows (issue 19, docs/analytics.md).

use comanda_domain::analytics::Measures;
use comanda_domain::bill::order_tax;
use comanda_store::analytics::SalesQuarter;

use super::*;

/// A small deterministic generator (xorshift64*): the workload of a seed is the same on both engines and in every
/// run, so a failing seed can be replayed.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// The members who accept tables in the workloads.
const SERVERS: [Uuid; 2] = [Uuid::from_u128(0x5e1), Uuid::from_u128(0x5e2)];

/// The menu items the workloads order from: few, so the product mix has items ordered many times.
const ITEMS: [Uuid; 3] = [
    Uuid::from_u128(0x1111),
    Uuid::from_u128(0x2222),
    Uuid::from_u128(0x3333),
];

/// An order of `quantity` × `unit` COP of `item`, taxed or not, and with `also` one more of another item at half the
/// price (two lines, so an order's product mix holds several items).
fn priced_order(
    venue: Uuid,
    table: Uuid,
    (item, unit, quantity): (Uuid, i64, u32),
    taxed: bool,
    also: Option<Uuid>,
) -> NewOrder {
    let mut order = order_for(venue, table, None, b"analytics");
    order.lines[0].item_id = item;
    order.lines[0].unit_price = cop(unit);
    order.lines[0].quantity = quantity;
    order.lines[0].taxed = taxed;
    if let Some(other) = also {
        let mut line = order.lines[0].clone();
        line.item_id = other;
        line.unit_price = cop(unit / 2);
        line.quantity = 1;
        order.lines.push(line);
    }
    order.subtotal = cop(order
        .lines
        .iter()
        .map(|l| l.unit_price.amount * i64::from(l.quantity))
        .sum());
    let regime = TaxRegime {
        kind: TaxKind::Inc,
        rate_bp: 800,
    };
    let lines: Vec<_> = order.lines.iter().map(PricedLine::bill_line).collect();
    order.tax = order_tax(&lines, regime, Currency::COP).unwrap();
    order
}

async fn both_ways(
    store: &dyn Store,
    scope: &TenantScope,
    venue: Option<Uuid>,
) -> (Vec<SalesQuarter>, Vec<SalesQuarter>) {
    let (start, end) = (datetime!(2026-01-01 00:00 UTC), datetime!(2027-01-01 00:00 UTC));
    let rolled = store.sales_quarters(scope, venue, start, end).await.unwrap();
    let raw = store
        .sales_quarters_from_raw(scope, venue, start, end)
        .await
        .unwrap();
    // A row whose changes cancelled out (an order placed and cancelled) stays, all zero: the raw side has none.
    let rolled = rolled
        .into_iter()
        .filter(|q| q.measures != Measures::default())
        .collect();
    (rolled, raw)
}

/// Replays seeded random workloads — orders at random instants over three days, cancellations by staff and by
/// guests, split payments, partial refunds (with their tip part) — and checks every roll-up row against the raw rows,
/// for the partner and for each venue. Each seed is its own partner, so the seeds also check tenant separation.
pub async fn every_roll_up_equals_a_recomputation_from_the_raw_rows(store: &dyn Store) {
    let (mut reached, mut cancelled, mut closed, mut credited) = (Measures::default(), 0, 0, 0);
    let mut voided = 0;
    for seed in 1..=6u64 {
        let mut random = Seeded(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let (scope, venue, table, _) = paying_table(store, &format!("Analítica {seed}")).await;
        let other_venue = venue_of(store, &scope).await;
        let other_table = store
            .create_table(&scope, other_venue, "Q", 4, &change(), NOW)
            .await
            .unwrap()
            .id;
        let mut orders: Vec<(Uuid, Uuid)> = Vec::new();
        let mut paid: Vec<comanda_store::payments::Payment> = Vec::new();
        let mut cash: Vec<Uuid> = Vec::new();
        for step in 0..48 {
            let at = NOW
                + time::Duration::minutes(i64::try_from(random.below(3 * 24 * 60)).unwrap())
                + time::Duration::seconds(i64::try_from(random.below(60)).unwrap());
            match random.below(13) {
                0..=3 => {
                    let (v, t) = if random.below(3) == 0 {
                        (other_venue, other_table)
                    } else {
                        (venue, table)
                    };
                    let quantity = u32::try_from(1 + random.below(4)).unwrap();
                    let item = ITEMS[usize::try_from(random.below(3)).unwrap()];
                    let also =
                        (random.below(2) == 0).then(|| ITEMS[usize::try_from(random.below(3)).unwrap()]);
                    let order = priced_order(
                        v,
                        t,
                        (
                            item,
                            100 * i64::try_from(1 + random.below(50_000)).unwrap(),
                            quantity,
                        ),
                        random.below(5) != 0,
                        also,
                    );
                    if let Ok(PlaceOutcome::Created(placed)) =
                        store.place_order(&scope, &order, &change(), at).await
                    {
                        orders.push((placed.id, t));
                    }
                }
                4 | 5 if !orders.is_empty() => {
                    let (order, at_table) =
                        orders.swap_remove(usize::try_from(random.below(orders.len() as u64)).unwrap());
                    // By staff on an accepted table, or by the guest before acceptance; either may be refused
                    // (the table is not accepted, or the kitchen already took it), and a refusal writes nothing.
                    if random.below(2) == 0 {
                        let by_staff = cancel_order(store, &scope, order, "test", at).await;
                        cancelled += usize::from(by_staff.is_ok());
                    } else {
                        let by_guest = store
                            .cancel_guest_order(&scope, at_table, order, "device-1", &change(), at)
                            .await;
                        cancelled += usize::from(by_guest.is_ok());
                    }
                }
                6 | 7 => {
                    let Some(session) = store.live_session(&scope, table).await.unwrap() else {
                        continue;
                    };
                    let share = 100 * i64::try_from(1 + random.below(20_000)).unwrap();
                    let tip = 100 * i64::try_from(random.below(2_000)).unwrap();
                    let payment = payment_of(venue, table, session.id, share, tip, false);
                    let Ok(ReserveOutcome::Reserved(payment)) =
                        store.reserve_payment(&scope, &payment, at).await
                    else {
                        continue;
                    };
                    let effect = EventEffect::PaymentSucceeded {
                        payment: payment.id,
                        charge: Some(format!("ch_{}", payment.id.simple())),
                        amount_received: payment.settlement.charged.amount,
                    };
                    store
                        .apply_event(
                            Some(&scope),
                            &format!("evt_{}", payment.id.simple()),
                            "payment_intent.succeeded",
                            &effect,
                            at,
                        )
                        .await
                        .unwrap();
                    let _ = store
                        .mark_transfer_sent(&scope, payment.id, &format!("tr_{step}"), None, at)
                        .await;
                    paid.push(payment);
                }
                8 | 9 if !paid.is_empty() => {
                    let payment = &paid[usize::try_from(random.below(paid.len() as u64)).unwrap()];
                    let amount = 1 + i64::try_from(
                        random.below(u64::try_from(payment.settlement.charged.amount / 2).unwrap()),
                    )
                    .unwrap();
                    let refund = NewRefund {
                        id: Uuid::now_v7(),
                        payment_id: payment.id,
                        amount: cop(amount),
                        reason: "plato frío".into(),
                        requested_by: Uuid::now_v7(),
                        approval_threshold: None,
                        idempotency_key: None,
                        request_hash: Vec::new(),
                    };
                    // Refused once the payment has little left to refund: nothing is written then.
                    if let Ok(requested) = store
                        .request_refund(&scope, &refund, &AuditEntry::new("refund.issued"), at)
                        .await
                    {
                        store
                            .complete_refund(&scope, requested.id, &format!("re_{step}"), None, at)
                            .await
                            .unwrap();
                    }
                }
                11 => {
                    // Cash at the table: refused (nothing written) when it is more than is left.
                    let Some(session) = store.live_session(&scope, table).await.unwrap() else {
                        continue;
                    };
                    let new = NewCashPayment {
                        id: Uuid::now_v7(),
                        venue_id: venue,
                        table_id: table,
                        session_id: session.id,
                        amount: cop(100 * i64::try_from(random.below(30_000)).unwrap()),
                        tip: cop(100 * i64::try_from(random.below(3_000)).unwrap()),
                        recorded_by: SERVERS[0],
                    };
                    if let Ok(CashOutcome::Recorded(recorded)) = store
                        .record_cash(&scope, &new, &AuditEntry::new("payment.cash_recorded"), at)
                        .await
                    {
                        cash.push(recorded.id);
                    }
                }
                12 if !cash.is_empty() => {
                    // A void, later than its record or not (the workload's instants are random): refused once its
                    // bill closed.
                    let record = cash.swap_remove(usize::try_from(random.below(cash.len() as u64)).unwrap());
                    let void = store
                        .void_cash(
                            &scope,
                            table,
                            record,
                            SERVERS[1],
                            &AuditEntry::new("payment.cash_voided"),
                            at,
                        )
                        .await;
                    voided += usize::from(void.is_ok());
                }
                10 => {
                    // Staff accept the table (one of two servers), serve what is still placed, and close it: its
                    // counted orders become that server's sales.
                    let t = if random.below(3) == 0 { other_table } else { table };
                    let Some(session) = store.live_session(&scope, t).await.unwrap() else {
                        continue;
                    };
                    let server = SERVERS[usize::try_from(random.below(2)).unwrap()];
                    if session.accepted_member.is_none() {
                        store
                            .accept_session(&scope, session.id, "server:test", server, &change(), at)
                            .await
                            .unwrap();
                    }
                    for served in serve_placed(store, &scope, session.id, at).await {
                        orders.retain(|(o, _)| *o != served);
                    }
                    store
                        .close_table(&scope, t, "server:test", true, &change(), at)
                        .await
                        .unwrap();
                    closed += 1;
                }
                _ => {}
            }
        }
        let (rolled, raw) = both_ways(store, &scope, None).await;
        assert!(
            raw.iter().any(|q| q.measures.orders > 0),
            "seed {seed}: the workload placed orders"
        );
        assert_eq!(rolled, raw, "seed {seed}: the partner's roll-ups");
        for quarter in &raw {
            reached += quarter.measures;
        }
        for one in [venue, other_venue] {
            let (rolled, raw) = both_ways(store, &scope, Some(one)).await;
            assert!(rolled.iter().all(|q| q.venue_id == one));
            assert_eq!(rolled, raw, "seed {seed}: venue {one}");
            // The summary's total, added up by the database, is the raw rows' total.
            let (start, end) = (datetime!(2026-01-01 00:00 UTC), datetime!(2027-01-01 00:00 UTC));
            let mut raw_total = Measures::default();
            for quarter in &raw {
                raw_total += quarter.measures;
            }
            let total = store.sales_total(&scope, one, start, end).await.unwrap();
            assert_eq!(total, raw_total, "seed {seed}: total of venue {one}");
        }
        // Sales per server, for each venue.
        for one in [venue, other_venue] {
            let (start, end) = (datetime!(2026-01-01 00:00 UTC), datetime!(2027-01-01 00:00 UTC));
            let rolled = store.server_sales(&scope, one, start, end).await.unwrap();
            let raw = store
                .server_sales_from_raw(&scope, one, start, end)
                .await
                .unwrap();
            assert_eq!(rolled, raw, "seed {seed}: sales per server of {one}");
            credited += raw.iter().map(|s| s.orders).sum::<i64>();
            // The checks the closes wrote hold the same orders: every closed table here was accepted by a member.
            let turns = store.turns(&scope, one, start, end).await.unwrap();
            assert_eq!(
                turns.check_gross,
                raw.iter().map(|s| s.gross).sum::<i64>(),
                "seed {seed}: checks of {one}"
            );
            assert!(turns.checks <= turns.turns, "{turns:?}");
        }
        // The product mix, for the partner and for each venue.
        let (start, end) = (datetime!(2026-01-01 00:00 UTC), datetime!(2027-01-01 00:00 UTC));
        for one in [None, Some(venue), Some(other_venue)] {
            let rolled = store.item_sales(&scope, one, start, end).await.unwrap();
            let raw = store.item_sales_from_raw(&scope, one, start, end).await.unwrap();
            assert_eq!(rolled, raw, "seed {seed}: product mix of {one:?}");
            if one.is_none() {
                assert!(!raw.is_empty(), "seed {seed}: items were sold");
            }
        }
    }
    // The workloads reached every path that moves a roll-up.
    assert!(cancelled > 0, "some orders were cancelled");
    assert!(
        closed > 0 && credited > 0,
        "tables were closed ({closed}) and their orders credited ({credited})"
    );
    assert!(
        reached.collected > 0 && reached.tips > 0 && reached.refunds > 0 && reached.refund_tax > 0,
        "{reached:?}"
    );
    assert!(
        reached.cash > 0 && voided > 0,
        "cash was recorded and voided ({voided}): {reached:?}"
    );
}

/// Net sales are sales before tax, so a refund takes back its sales part before tax (docs/analytics.md, "Refunds").
/// Hand-checked: a bill of 43.800 COP contains 3.244,44 of impuesto al consumo (8 %); paid whole with a tip of
/// 4.380, then half of the 48.180 charged refunded: 2.190 of it is tip, 21.900 sales, which carry 1.622,22 of tax.
/// Net sales are 40.555,56 before the refund and half that, 20.277,78, after it.
pub async fn a_refund_takes_back_its_sales_before_tax(store: &dyn Store) {
    let (scope, venue, table, session) = paying_table(store, "Reembolso con impuesto").await;
    let whole = payment_of(venue, table, session, 4_380_000, 438_000, true);
    let payment = paid_and_sent(store, &scope, &whole, "tr_refund_tax").await;
    let later = NOW + time::Duration::hours(1);
    let requested = refunded(store, &scope, payment.id, 2_409_000, "re_refund_tax", later).await;
    assert_eq!(requested.split.tip_reversal, cop(219_000));
    // The bill tells what went back to the card (tip included) and stays paid: a refund never reopens it.
    let bill = store.session_balance(&scope, session).await.unwrap();
    assert_eq!(
        (bill.paid, bill.remaining, bill.refunded, bill.settled),
        (cop(4_380_000), cop(0), cop(2_409_000), true)
    );
    let (start, end) = (datetime!(2026-01-01 00:00 UTC), datetime!(2027-01-01 00:00 UTC));
    let total = store.sales_total(&scope, venue, start, end).await.unwrap();
    assert_eq!(
        (total.gross, total.tax, total.refunds, total.refund_tax),
        (4_380_000, 324_444, 2_190_000, 162_222)
    );
    assert_eq!(total.net(), 2_027_778);
    // The roll-ups still equal the raw rows.
    let (rolled, raw) = both_ways(store, &scope, Some(venue)).await;
    assert_eq!(rolled, raw);
}

/// An order its guests paid for is cancelled only once a refund gave the money back; the refund takes it out of net
/// sales, and the order keeps in gross the part that was paid (`bill::kept_on_cancel`), so the money leaves once:
/// the 43.800 COP bill paid, refunded whole and its one order cancelled nets to zero, not to minus 40.555,56. The
/// refund leaves with that order: the table's next order is owed whole.
pub async fn a_paid_order_cancelled_after_its_refund_leaves_the_sales_once(store: &dyn Store) {
    let (scope, venue, table, session) = paying_table(store, "Reembolso y anulación").await;
    let whole = payment_of(venue, table, session, 4_380_000, 0, true);
    let payment = paid_and_sent(store, &scope, &whole, "tr_cancel_after_refund").await;
    let order = store.table_orders(&scope, table).await.unwrap()[0].id;
    let cancel = async |at| cancel_order(store, &scope, order, "devuelto", at).await;
    // Paid and not refunded, it cannot be cancelled.
    assert!(matches!(cancel(NOW).await, Err(StoreError::Refused(_))));
    let later = NOW + time::Duration::hours(1);
    refunded(
        store,
        &scope,
        payment.id,
        4_380_000,
        "re_cancel_after_refund",
        later,
    )
    .await;
    cancel(later).await.unwrap();
    let (start, end) = (datetime!(2026-01-01 00:00 UTC), datetime!(2027-01-01 00:00 UTC));
    let total = store.sales_total(&scope, venue, start, end).await.unwrap();
    assert_eq!(
        (
            total.gross,
            total.tax,
            total.refunds,
            total.refund_tax,
            total.orders
        ),
        (4_380_000, 324_444, 4_380_000, 324_444, 1)
    );
    assert_eq!(total.net(), 0);
    let (rolled, raw) = both_ways(store, &scope, Some(venue)).await;
    assert_eq!(rolled, raw);
    // The refunded money went with the cancelled order: the table's next order is owed whole, not covered by it.
    let bill = store.session_balance(&scope, session).await.unwrap();
    assert_eq!(
        (
            bill.total.amount,
            bill.paid.amount,
            bill.remaining.amount,
            bill.refunded.amount
        ),
        (0, 0, 0, 4_380_000)
    );
    let next = order_for(venue, table, None, b"next");
    store.place_order(&scope, &next, &change(), later).await.unwrap();
    let bill = store.session_balance(&scope, session).await.unwrap();
    assert_eq!(
        (
            bill.total.amount,
            bill.paid.amount,
            bill.remaining.amount,
            bill.settled
        ),
        (4_380_000, 0, 4_380_000, false)
    );
    // Unpaid, the next order cancels freely and keeps nothing in the sales.
    cancel_order(store, &scope, next.id, "no llegó", later)
        .await
        .unwrap();
    assert_eq!(
        store.sales_total(&scope, venue, start, end).await.unwrap().gross,
        4_380_000
    );
    // The table's check holds what gross holds: the cancelled order's kept part, counted once (an outside tester
    // found checks, the average ticket and the server's sales short of gross by such orders).
    store
        .close_table(&scope, table, "server:test", false, &change(), later)
        .await
        .unwrap();
    let turns = store.turns(&scope, venue, start, end).await.unwrap();
    assert_eq!((turns.checks, turns.check_gross), (1, 4_380_000), "{turns:?}");
}

/// A table whose only order was cancelled (a mistaken order, a code used from elsewhere) is no turn: closed minutes
/// later it read as a five-minute turn and pulled the table's median turn time down (an outside accountant found it).
pub async fn a_table_whose_orders_were_all_cancelled_is_no_turn(store: &dyn Store) {
    let (scope, venue, table, _) = paying_table(store, "Sin turno").await;
    let order = store.table_orders(&scope, table).await.unwrap()[0].id;
    cancel_order(store, &scope, order, "pedido por error", NOW)
        .await
        .unwrap();
    store
        .close_table(
            &scope,
            table,
            "server:test",
            false,
            &change(),
            NOW + time::Duration::minutes(5),
        )
        .await
        .unwrap();
    let (start, end) = (datetime!(2026-01-01 00:00 UTC), datetime!(2027-01-01 00:00 UTC));
    let turns = store.turns(&scope, venue, start, end).await.unwrap();
    assert_eq!(
        (turns.turns, turns.seated_seconds, turns.checks),
        (0, 0, 0),
        "{turns:?}"
    );
    assert!(
        store
            .turn_times(&scope, venue, start, end)
            .await
            .unwrap()
            .is_empty()
    );
}

/// The same refund and cancellation with the table's next order placed in between: payments pay the orders in the
/// order they were placed, so the refunded first order keeps what was paid for it and the next order is still owed
/// whole (it read as covered by the refunded money, and the table closed as settled).
pub async fn a_refunded_order_cancelled_after_the_next_order_still_leaves_that_order_owed(store: &dyn Store) {
    let (scope, venue, table, session) = paying_table(store, "Anulación tras otro pedido").await;
    let whole = payment_of(venue, table, session, 4_380_000, 0, true);
    let payment = paid_and_sent(store, &scope, &whole, "tr_cancel_after_next").await;
    let first = store.table_orders(&scope, table).await.unwrap()[0].id;
    let later = NOW + time::Duration::hours(1);
    refunded(
        store,
        &scope,
        payment.id,
        4_380_000,
        "re_cancel_after_next",
        later,
    )
    .await;
    let next = order_for(venue, table, None, b"next");
    store.place_order(&scope, &next, &change(), later).await.unwrap();
    cancel_order(store, &scope, first, "devuelto", later)
        .await
        .unwrap();
    one_order_owed_whole_and_one_kept(store, &scope, venue, session).await;
}

/// A guest pays the table's second order by choosing its line; it is refunded and cancelled. That order was paid,
/// whatever was ordered before it: it keeps its money, and the first order is still owed whole (placement order
/// alone gave the payment to the first order, which then read as paid).
pub async fn an_order_paid_by_choosing_its_line_keeps_that_money_when_cancelled(store: &dyn Store) {
    use comanda_domain::payment::LineShare;
    let (scope, venue, table, session) = paying_table(store, "Pago por plato").await;
    let later = NOW + time::Duration::minutes(5);
    let second = order_for(venue, table, None, b"second");
    store
        .place_order(&scope, &second, &change(), later)
        .await
        .unwrap();
    let mut by_line = payment_of(venue, table, session, 4_380_000, 0, false);
    by_line.split = Split::Items {
        items: vec![LineShare {
            order_id: second.id,
            line: 0,
            numerator: 1,
            denominator: 1,
        }],
    };
    by_line.line_totals = vec![cop(4_380_000)];
    by_line.line_amounts = vec![4_380_000];
    let payment = paid_and_sent(store, &scope, &by_line, "tr_by_line").await;
    refunded(store, &scope, payment.id, 4_380_000, "re_by_line", later).await;
    cancel_order(store, &scope, second.id, "devuelto", later)
        .await
        .unwrap();
    one_order_owed_whole_and_one_kept(store, &scope, venue, session).await;
}

/// Of two 43.800 orders, one refunded and cancelled: the other is owed whole, and the sales keep both (the refund
/// takes the cancelled one out of net once), the roll-ups as the raw rows.
async fn one_order_owed_whole_and_one_kept(
    store: &dyn Store,
    scope: &TenantScope,
    venue: Uuid,
    session: Uuid,
) {
    let bill = store.session_balance(scope, session).await.unwrap();
    assert_eq!(
        (
            bill.total.amount,
            bill.paid.amount,
            bill.remaining.amount,
            bill.settled
        ),
        (4_380_000, 0, 4_380_000, false)
    );
    let (start, end) = (datetime!(2026-01-01 00:00 UTC), datetime!(2027-01-01 00:00 UTC));
    let total = store.sales_total(scope, venue, start, end).await.unwrap();
    assert_eq!((total.gross, total.refunds), (8_760_000, 4_380_000));
    let (rolled, raw) = both_ways(store, scope, Some(venue)).await;
    assert_eq!(rolled, raw);
}

/// A refund that fails returned nothing: the order cancelled on it stops consuming its payment, and the bill reads
/// as paid again (the venue still holds that money), rather than owing it a second time.
pub async fn a_failed_refund_gives_the_bill_its_payment_back(store: &dyn Store) {
    let (scope, venue, table, session) = paying_table(store, "Reembolso fallido").await;
    let whole = payment_of(venue, table, session, 4_380_000, 0, true);
    let payment = paid_and_sent(store, &scope, &whole, "tr_failed_refund").await;
    let pending = requested_refund(store, &scope, payment.id, 4_380_000).await;
    let order = store.table_orders(&scope, table).await.unwrap()[0].id;
    cancel_order(store, &scope, order, "devuelto", NOW).await.unwrap();
    assert_eq!(
        store.session_balance(&scope, session).await.unwrap().paid.amount,
        0
    );
    store
        .fail_refund(&scope, pending.id, "card closed")
        .await
        .unwrap();
    let bill = store.session_balance(&scope, session).await.unwrap();
    assert_eq!((bill.paid.amount, bill.refunded.amount), (4_380_000, 0));
}

/// What a cancelled order keeps in the sales must not hang on a payment still in progress: with half of a two-order
/// bill paid and refunded and the other half being paid, cancelling the later order (the one that payment pays)
/// waits (refused, nothing written) — once that payment ends, what the order keeps is known. The earlier order was
/// paid and refunded whatever that payment does: it cancels at once.
pub async fn a_cancellation_waits_for_a_payment_that_decides_its_sales(store: &dyn Store) {
    let (scope, venue, table, session) = paying_table(store, "Anulación en pleno pago").await;
    let second_at = NOW + time::Duration::minutes(1);
    store
        .place_order(
            &scope,
            &order_for(venue, table, None, b"second"),
            &change(),
            second_at,
        )
        .await
        .unwrap();
    let half = || payment_of(venue, table, session, 4_380_000, 0, false);
    let first = paid_and_sent(store, &scope, &half(), "tr_wait").await;
    refunded(store, &scope, first.id, 4_380_000, "re_wait", NOW).await;
    // The other half is being paid.
    reserved(store, &scope, &half()).await;
    let order = store.table_orders(&scope, table).await.unwrap()[1].id;
    let (start, end) = (datetime!(2026-01-01 00:00 UTC), datetime!(2027-01-01 00:00 UTC));
    let before = store.sales_total(&scope, venue, start, end).await.unwrap();
    let cancelled = cancel_order(store, &scope, order, "devuelto", second_at).await;
    assert!(
        matches!(&cancelled, Err(StoreError::Refused(why)) if why.contains("paying this bill")),
        "{cancelled:?}"
    );
    assert_eq!(
        store.sales_total(&scope, venue, start, end).await.unwrap(),
        before
    );
    assert_eq!(
        store.table_orders(&scope, table).await.unwrap()[1].status,
        OrderStatus::Placed
    );
    let first = store.table_orders(&scope, table).await.unwrap()[0].id;
    cancel_order(store, &scope, first, "devuelto", second_at)
        .await
        .unwrap();
    assert_eq!(
        store.sales_total(&scope, venue, start, end).await.unwrap().gross,
        before.gross,
        "the earlier order keeps what was paid for it and refunded"
    );
}

/// A payment held, succeeded and its transfer sent, as the money path leaves it before any refund.
async fn paid_and_sent(
    store: &dyn Store,
    scope: &TenantScope,
    payment: &NewPayment,
    transfer: &str,
) -> comanda_store::payments::Payment {
    let paid = reserved(store, scope, payment).await;
    succeed(store, scope, &paid).await;
    store
        .mark_transfer_sent(scope, paid.id, transfer, None, NOW)
        .await
        .unwrap();
    paid
}

/// A staff cancellation of a placed order, with its reason.
async fn cancel_order(
    store: &dyn Store,
    scope: &TenantScope,
    order: Uuid,
    reason: &str,
    at: OffsetDateTime,
) -> comanda_store::StoreResult<comanda_store::ordering::Order> {
    store
        .transition_order(
            scope,
            order,
            OrderStatus::Placed,
            OrderStatus::Cancelled,
            "manager:test",
            Some(reason),
            &change(),
            at,
        )
        .await
}

/// A refund of `amount` asked (pending, not yet at Stripe).
async fn requested_refund(
    store: &dyn Store,
    scope: &TenantScope,
    payment: Uuid,
    amount: i64,
) -> comanda_store::payments::Refund {
    let refund = NewRefund {
        id: Uuid::now_v7(),
        payment_id: payment,
        amount: cop(amount),
        reason: "devuelto".into(),
        requested_by: Uuid::now_v7(),
        approval_threshold: None,
        idempotency_key: None,
        request_hash: Vec::new(),
    };
    store
        .request_refund(scope, &refund, &AuditEntry::new("refund.issued"), NOW)
        .await
        .unwrap()
}

async fn refunded(
    store: &dyn Store,
    scope: &TenantScope,
    payment: Uuid,
    amount: i64,
    stripe_refund: &str,
    completed: OffsetDateTime,
) -> comanda_store::payments::Refund {
    let requested = requested_refund(store, scope, payment, amount).await;
    store
        .complete_refund(scope, requested.id, stripe_refund, None, completed)
        .await
        .unwrap();
    requested
}
