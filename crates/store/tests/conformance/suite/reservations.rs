//! Reservations: the claim rows' own refusal of a double booking (whatever the rule above them decided), a deposit
//! moving once from awaited to settled, a waitlist offer holding its table until it expires, and a table combination
//! withdrawn once, by its own venue only; the host's day list with each booking's deposit and guest.

use super::*;

use comanda_domain::reservation::{
    Assignment, BookingPolicy, DepositFate, Pacing, Refusal, Service, TurnTime,
};
use comanda_store::identity::OutboxMessage;
use comanda_store::privacy::GuestContact;
use comanda_store::reservations::{
    BookOutcome, BookingContext, DepositStatus, NewDeposit, NewReservation, NewWaitlistEntry, Offer,
    ReservationStatus, WaitlistStatus,
};

/// Every evening 18:00–22:00, two-hour turns; no notice, so the store's tests can book any instant.
pub fn evenings() -> BookingPolicy {
    BookingPolicy {
        services: vec![Service {
            weekdays: vec![1, 2, 3, 4, 5, 6, 7],
            first_seating: "18:00".into(),
            last_seating: "22:00".into(),
        }],
        slot_minutes: 15,
        turn_minutes: vec![TurnTime {
            max_party: 8,
            minutes: 120,
        }],
        buffer_minutes: 0,
        pacing: Pacing {
            covers_per_15_min: 40,
            online_covers_per_15_min: 40,
        },
        min_notice_minutes: 0,
        horizon_days: 60,
        max_party_size: 8,
        deposit_per_cover: None,
        cancellation_cutoff_hours: 0,
        contact_phone: None,
        contact_email: None,
    }
}

/// A partner with a venue taking reservations and one table; the scope, the venue and the table.
pub async fn booking_floor(store: &dyn Store, name: &str) -> (TenantScope, Uuid, Uuid) {
    let scope = new_partner(store, name).await;
    let venue = store
        .create_venue(&scope, &venue("Sede Reservas"), &change(), NOW)
        .await
        .unwrap();
    let venue = venue.id.as_uuid();
    let table = store
        .create_table(&scope, venue, "Mesa 1", 4, &change(), NOW)
        .await
        .unwrap();
    store
        .put_booking_policy(&scope, venue, &evenings(), &change(), NOW)
        .await
        .unwrap();
    (scope, venue, table.id)
}

pub fn guest(venue: Uuid, email: &str) -> GuestContact {
    GuestContact {
        id: Uuid::now_v7(),
        venue_id: venue,
        email: email.into(),
        name: "Valentina Ríos".into(),
        phone: Some("+573001234567".into()),
        notice_version: "2026-11".into(),
        consented_at: NOW,
        erased_at: None,
        lookup: lookup(email, Some("+573001234567")),
    }
}

/// Stand-in lookup digests (the server's are HMACs): `key:<email>` as the login directory's, `tel:<phone>`.
pub fn lookup(email: &str, phone: Option<&str>) -> comanda_store::privacy::ContactLookup {
    comanda_store::privacy::ContactLookup {
        email: Some(format!("key:{email}").into_bytes()),
        phone: phone.map(|phone| format!("tel:{phone}").into_bytes()),
    }
}

pub fn booking_of(venue: Uuid, start: OffsetDateTime) -> NewReservation {
    NewReservation {
        id: Uuid::now_v7(),
        venue_id: venue,
        guest: guest(venue, "valentina@example.co"),
        party_size: 2,
        start,
        channel: "online".into(),
        note: String::new(),
        idempotency_key: None,
        request_hash: Vec::new(),
        confirmation: None,
        deposit: None,
        offer: None,
    }
}

/// A rule that gives the table for two hours from `start`, whatever is booked: only the claims can refuse.
pub fn blind(
    table: Uuid,
    start: OffsetDateTime,
) -> impl Fn(&BookingContext<'_>) -> Result<Assignment, Refusal> {
    move |_| {
        Ok(Assignment {
            tables: vec![table],
            start,
            until: start + time::Duration::hours(2),
        })
    }
}

pub async fn claims_refuse_a_second_booking_of_a_table_at_an_overlapping_time(store: &dyn Store) {
    let (scope, venue, table) = booking_floor(store, "Claims").await;
    let seven = datetime!(2026-12-05 00:00 UTC);
    let first = store
        .book(
            &scope,
            &booking_of(venue, seven),
            &blind(table, seven),
            &change(),
            NOW,
        )
        .await
        .unwrap();
    assert!(matches!(first, BookOutcome::Created(_)), "{first:?}");
    // An hour later on the same table overlaps by an hour: the database refuses it, and keeps nothing of it.
    let eight = seven + time::Duration::HOUR;
    let second = booking_of(venue, eight);
    let refused = store
        .book(&scope, &second, &blind(table, eight), &change(), NOW)
        .await
        .unwrap();
    assert_eq!(refused, BookOutcome::Refused(Refusal::SlotTaken));
    assert!(
        store.reservation(&scope, second.id).await.is_err(),
        "nothing of the refused booking stays"
    );
    // Right after the first one's two hours the table is free.
    let nine = seven + time::Duration::hours(2);
    let after = store
        .book(
            &scope,
            &booking_of(venue, nine),
            &blind(table, nine),
            &change(),
            NOW,
        )
        .await
        .unwrap();
    assert!(matches!(after, BookOutcome::Created(_)), "{after:?}");
    // Cancelling frees the claims at once: the refused hour books now.
    let BookOutcome::Created(first) = first else {
        unreachable!()
    };
    // A move that waits for the party's time is refused, under the row's lock, while the booking starts later.
    let early = store
        .transition_reservation(
            &scope,
            first.id,
            ReservationStatus::NoShow,
            None,
            None,
            Some(comanda_store::reservations::WhenDue {
                latest_start: first.start - time::Duration::SECOND,
                why: "not yet",
            }),
            "",
            &change(),
            NOW,
        )
        .await;
    assert!(
        matches!(early, Err(StoreError::Refused(ref why)) if why == "not yet"),
        "{early:?}"
    );
    assert_eq!(
        store.reservation(&scope, first.id).await.unwrap().status,
        ReservationStatus::Booked
    );
    store
        .transition_reservation(
            &scope,
            first.id,
            ReservationStatus::Cancelled,
            None,
            None,
            None,
            "",
            &change(),
            NOW,
        )
        .await
        .unwrap()
        .unwrap();
    let again = store
        .book(
            &scope,
            &booking_of(venue, eight),
            &blind(table, eight),
            &change(),
            NOW,
        )
        .await
        .unwrap();
    assert!(
        matches!(again, BookOutcome::Refused(Refusal::SlotTaken)),
        "nine o'clock still holds 21:00–22:00"
    );
    let early = seven - time::Duration::hours(1);
    let freed = store
        .book(
            &scope,
            &booking_of(venue, early),
            &blind(table, early),
            &change(),
            NOW,
        )
        .await
        .unwrap();
    assert!(
        matches!(freed, BookOutcome::Created(_)),
        "the cancelled hours are free: {freed:?}"
    );
}

/// A no-show whose party comes while its booked time lasts is seated: its tables are claimed again under the
/// booking's lock, so it is refused when another party took them after the no-show freed them, and once its time is
/// over.
pub async fn a_no_show_is_seated_only_while_its_tables_and_time_are_its_own(store: &dyn Store) {
    let (scope, venue, table) = booking_floor(store, "No-show").await;
    let seven = datetime!(2026-12-05 00:00 UTC);
    let booked = async |start: OffsetDateTime| {
        let outcome = store
            .book(
                &scope,
                &booking_of(venue, start),
                &blind(table, start),
                &change(),
                NOW,
            )
            .await
            .unwrap();
        match outcome {
            BookOutcome::Created(reservation) => Ok(reservation.id),
            other => Err(other),
        }
    };
    let move_to = async |id: Uuid, to: ReservationStatus, at: OffsetDateTime| {
        store
            .transition_reservation(&scope, id, to, None, None, None, "", &change(), at)
            .await
    };
    let party = booked(seven).await.unwrap();
    let twenty_past = seven + time::Duration::minutes(20);
    move_to(party, ReservationStatus::NoShow, twenty_past)
        .await
        .unwrap()
        .unwrap();
    // The party comes ten minutes later: seated, and its table is its own again (a new booking of it is refused).
    let came = move_to(
        party,
        ReservationStatus::Seated,
        twenty_past + time::Duration::minutes(10),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(came.status, ReservationStatus::Seated);
    assert_eq!(
        booked(seven + time::Duration::hours(1)).await,
        Err(BookOutcome::Refused(Refusal::SlotTaken))
    );
    // Two more friends join the seated party: its covers grow, its table and time stay. A party not seated is not
    // resized this way (a booking moves by the booking rule).
    let grown = store
        .resize_seated(
            &scope,
            party,
            4,
            "",
            &change(),
            twenty_past + time::Duration::minutes(40),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (grown.party_size, grown.tables.clone(), grown.start, grown.status),
        (4, came.tables.clone(), came.start, ReservationStatus::Seated)
    );

    // Another party marked a no-show whose table a walk-in took meanwhile cannot be seated there.
    let nine = seven + time::Duration::hours(2);
    let late_party = booked(nine).await.unwrap();
    assert_eq!(
        store
            .resize_seated(&scope, late_party, 6, "", &change(), NOW)
            .await
            .unwrap(),
        None,
        "booked, not seated"
    );
    move_to(
        late_party,
        ReservationStatus::NoShow,
        nine + time::Duration::minutes(20),
    )
    .await
    .unwrap()
    .unwrap();
    let walk_in = booked(nine + time::Duration::minutes(30)).await.unwrap();
    let refused = move_to(
        late_party,
        ReservationStatus::Seated,
        nine + time::Duration::minutes(35),
    )
    .await;
    assert!(matches!(refused, Err(StoreError::Refused(_))), "{refused:?}");
    assert_eq!(
        store.reservation(&scope, late_party).await.unwrap().status,
        ReservationStatus::NoShow,
        "nothing half done"
    );
    // Once the walk-in leaves, the table is free, but the no-show's time is over.
    move_to(
        walk_in,
        ReservationStatus::Cancelled,
        nine + time::Duration::minutes(40),
    )
    .await
    .unwrap()
    .unwrap();
    let over = move_to(
        late_party,
        ReservationStatus::Seated,
        nine + time::Duration::hours(2),
    )
    .await;
    assert!(matches!(over, Err(StoreError::Refused(_))), "{over:?}");
}

pub async fn a_deposit_moves_once_from_awaited_to_settled(store: &dyn Store) {
    let (scope, venue, table) = booking_floor(store, "Deposits").await;
    let seven = datetime!(2026-12-05 00:00 UTC);
    let mut booking = booking_of(venue, seven);
    booking.deposit = Some(NewDeposit {
        amount: cop(4_000_000),
        hold_expires_at: NOW + time::Duration::minutes(15),
        refundable_until: seven - time::Duration::DAY,
    });
    let BookOutcome::Created(held) = store
        .book(&scope, &booking, &blind(table, seven), &change(), NOW)
        .await
        .unwrap()
    else {
        panic!("booked");
    };
    assert_eq!(held.status, ReservationStatus::AwaitingDeposit);
    assert_eq!(
        store.deposit_partner(held.id).await.unwrap(),
        Some(scope.partner())
    );
    store
        .attach_deposit_intent(&scope, held.id, "pi_deposit")
        .await
        .unwrap();
    // Not expired yet: nothing to settle.
    assert!(store.unsettled_deposits(&scope, NOW).await.unwrap().is_empty());
    // Stripe's payment: the booking is confirmed, once however often the event comes.
    let paid = EventEffect::DepositPaid {
        reservation: held.id,
        payment_intent: "pi_deposit".into(),
        charge: Some("ch_deposit".into()),
        amount_received: 4_000_000,
    };
    for _ in 0..2 {
        store
            .apply_event(
                Some(&scope),
                "evt_deposit",
                "payment_intent.succeeded",
                &paid,
                NOW,
            )
            .await
            .unwrap();
    }
    assert_eq!(
        store.reservation(&scope, held.id).await.unwrap().status,
        ReservationStatus::Confirmed
    );
    let deposit = store.deposit(&scope, held.id).await.unwrap().unwrap();
    assert_eq!(
        (deposit.status, deposit.charge.as_deref()),
        (DepositStatus::Paid, Some("ch_deposit"))
    );
    // Another PaymentIntent naming the reservation does not pay it.
    let forged = EventEffect::DepositPaid {
        reservation: held.id,
        payment_intent: "pi_other".into(),
        charge: None,
        amount_received: 4_000_000,
    };
    let outcome = store
        .apply_event(
            Some(&scope),
            "evt_forged",
            "payment_intent.succeeded",
            &forged,
            NOW,
        )
        .await
        .unwrap();
    assert!(
        matches!(
            outcome,
            EventOutcome::Applied {
                mismatch: Some(_),
                ..
            }
        ),
        "{outcome:?}"
    );
    // Cancelled: the rule's fate is recorded with the cancellation, and carried out once.
    store
        .transition_reservation(
            &scope,
            held.id,
            ReservationStatus::Cancelled,
            None,
            Some(DepositFate::Refund),
            None,
            "",
            &change(),
            NOW,
        )
        .await
        .unwrap()
        .unwrap();
    let due = store.unsettled_deposits(&scope, NOW).await.unwrap();
    assert_eq!(
        due.iter().map(|d| d.status).collect::<Vec<_>>(),
        [DepositStatus::RefundDue]
    );
    let audit = change();
    let settle = || {
        store.settle_deposit(
            &scope,
            held.id,
            DepositStatus::RefundDue,
            DepositStatus::Refunded,
            Some("re_1"),
            &audit,
            NOW,
        )
    };
    let first = settle().await.unwrap();
    assert_eq!(first.map(|d| d.settlement), Some(Some("re_1".to_owned())));
    let second = settle().await.unwrap();
    assert_eq!(second, None, "a second settlement finds nothing to do");
    assert!(store.unsettled_deposits(&scope, NOW).await.unwrap().is_empty());
    // Its refund fails at the card's bank: recorded once, for that refund only, and only by its partner.
    let failed = async |scope: &TenantScope, refund: &str| {
        store
            .deposit_refund_failed(scope, held.id, refund, "expired_or_canceled_card", &audit, NOW)
            .await
    };
    let stranger = new_partner(store, "Ajeno").await;
    assert!(matches!(failed(&stranger, "re_1").await, Ok(None)));
    assert_eq!(failed(&scope, "re_2").await.unwrap(), None, "not its refund");
    let returned = failed(&scope, "re_1").await.unwrap().expect("recorded");
    assert_eq!(returned.status, DepositStatus::Refunded);
    assert_eq!(
        returned.refund_failure.as_deref(),
        Some("expired_or_canceled_card")
    );
    assert_eq!(failed(&scope, "re_1").await.unwrap(), None, "recorded once");
    assert!(store.unsettled_deposits(&scope, NOW).await.unwrap().is_empty());
}

/// The waitlist `entry` (of `contact`) offered `table` at `start` for ten minutes.
async fn offer_table(
    store: &dyn Store,
    scope: &TenantScope,
    table: Uuid,
    entry: &comanda_store::reservations::WaitlistEntry,
    contact: GuestContact,
    start: OffsetDateTime,
) -> comanda_store::reservations::Reservation {
    let mut offer = booking_of(entry.venue_id, start);
    offer.guest = contact;
    offer.offer = Some(Offer {
        entry: entry.id,
        expires_at: NOW + time::Duration::minutes(10),
    });
    let BookOutcome::Created(offered) = store
        .book(scope, &offer, &blind(table, start), &change(), NOW)
        .await
        .unwrap()
    else {
        panic!("offered");
    };
    offered
}

pub async fn an_offer_holds_its_table_until_it_expires(store: &dyn Store) {
    let (scope, venue, table) = booking_floor(store, "Waitlist").await;
    let seven = datetime!(2026-12-05 00:00 UTC);
    let contact = guest(venue, "mateo@example.co");
    let ask = |hash: &[u8]| NewWaitlistEntry {
        id: Uuid::now_v7(),
        venue_id: venue,
        guest: guest(venue, "mateo@example.co"),
        party_size: 2,
        local_date: "2026-12-04".into(),
        earliest: seven - time::Duration::HOUR,
        latest: seven + time::Duration::HOUR,
        channel: "online".into(),
        idempotency_key: Some("espera-1".into()),
        request_hash: hash.to_vec(),
        confirmation: None,
    };
    // The guest's mail that they are on the list is queued with the entry, once: a retried join queues nothing.
    let on_the_list = OutboxMessage {
        id: Uuid::now_v7(),
        partner: Some(scope.partner()),
        recipient: "mateo@example.co".into(),
        subject: "Estás en la lista de espera".into(),
        body: "Para salir de la lista: enlace".into(),
        created_at: NOW,
    };
    let mailed = async || {
        store
            .pending_messages(100)
            .await
            .unwrap()
            .iter()
            .filter(|m| m.recipient == on_the_list.recipient)
            .count()
    };
    let entry = store
        .join_waitlist(
            &scope,
            &NewWaitlistEntry {
                guest: contact.clone(),
                confirmation: Some(on_the_list.clone()),
                ..ask(b"mateo")
            },
            &change(),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(entry.channel, "online");
    assert_eq!(mailed().await, 1);
    // A retried join with its key is the same place in the queue; the key with another request is refused.
    let again = store
        .join_waitlist(&scope, &ask(b"mateo"), &change(), NOW)
        .await
        .unwrap();
    assert_eq!(again.id, entry.id);
    let retried = store
        .join_waitlist(
            &scope,
            &NewWaitlistEntry {
                confirmation: Some(OutboxMessage {
                    id: Uuid::now_v7(),
                    ..on_the_list.clone()
                }),
                ..ask(b"mateo")
            },
            &change(),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(retried.id, entry.id);
    assert_eq!(mailed().await, 1, "a retried join queues no second mail");
    let reused = store
        .join_waitlist(&scope, &ask(b"another"), &change(), NOW)
        .await;
    assert!(matches!(reused, Err(StoreError::Conflict(_))), "{reused:?}");
    assert_eq!(store.waitlist(&scope, venue, None).await.unwrap().len(), 1);
    let offered = offer_table(store, &scope, table, &entry, contact, seven).await;
    assert_eq!(offered.status, ReservationStatus::Offered);
    let waiting = store.waitlist_entry(&scope, entry.id).await.unwrap();
    assert_eq!(
        (waiting.status, waiting.reservation_id),
        (WaitlistStatus::Offered, Some(offered.id))
    );
    // The offer holds the table.
    let taken = store
        .book(
            &scope,
            &booking_of(venue, seven),
            &blind(table, seven),
            &change(),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(taken, BookOutcome::Refused(Refusal::SlotTaken));
    // Not answered in time: lapsed (never a booking, so no cancellation), its table free, its entry expired;
    // accepting it then finds nothing.
    assert!(
        store.expire_offers(&scope, NOW).await.unwrap().is_empty(),
        "not yet"
    );
    let later = NOW + time::Duration::minutes(11);
    assert_eq!(store.expire_offers(&scope, later).await.unwrap(), [venue]);
    assert_eq!(
        store.reservation(&scope, offered.id).await.unwrap().status,
        ReservationStatus::Lapsed
    );
    assert_eq!(
        store.waitlist_entry(&scope, entry.id).await.unwrap().status,
        WaitlistStatus::Expired
    );
    assert_eq!(
        store
            .accept_offer(&scope, offered.id, None, &change(), later)
            .await
            .unwrap(),
        None
    );
    // A party the host put on the list, waiting at the venue, whose offer the host did not answer in time: the
    // offer lapses and frees the table, and the party is waiting again in its place, to be offered a table anew.
    let at_the_door = guest(venue, "sofia@example.co");
    let staff_entry = store
        .join_waitlist(
            &scope,
            &NewWaitlistEntry {
                guest: at_the_door.clone(),
                channel: "staff".into(),
                idempotency_key: None,
                ..ask(b"sofia")
            },
            &change(),
            later,
        )
        .await
        .unwrap();
    let unanswered = offer_table(store, &scope, table, &staff_entry, at_the_door.clone(), seven).await;
    let much_later = later + time::Duration::minutes(11);
    assert_eq!(store.expire_offers(&scope, much_later).await.unwrap(), [venue]);
    assert_eq!(
        store.reservation(&scope, unanswered.id).await.unwrap().status,
        ReservationStatus::Lapsed
    );
    let waiting_again = store.waitlist_entry(&scope, staff_entry.id).await.unwrap();
    assert_eq!(
        (
            waiting_again.status,
            waiting_again.reservation_id,
            waiting_again.offer_expires_at
        ),
        (WaitlistStatus::Waiting, None, None)
    );
    assert!(
        waiting_again.declined_tables.is_empty(),
        "an unanswered offer declines nothing"
    );
    // Offered again, the party turns the table down but keeps waiting (it wants another): the offer lapses and
    // frees the table, the entry waits again in its place and remembers the table it declined.
    let turned_down = offer_table(store, &scope, table, &waiting_again, at_the_door, seven).await;
    let declined = store
        .decline_offer(&scope, staff_entry.id, &change(), much_later)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            declined.status,
            declined.reservation_id,
            declined.declined_tables.clone()
        ),
        (WaitlistStatus::Waiting, None, vec![table])
    );
    assert_eq!(
        store.reservation(&scope, turned_down.id).await.unwrap().status,
        ReservationStatus::Lapsed
    );
    assert_eq!(
        store
            .waitlist_entry(&scope, staff_entry.id)
            .await
            .unwrap()
            .declined_tables,
        [table]
    );
    assert_eq!(
        store
            .decline_offer(&scope, staff_entry.id, &change(), much_later)
            .await
            .unwrap(),
        None,
        "no offer open: nothing to decline"
    );
    let free = store
        .book(
            &scope,
            &booking_of(venue, seven),
            &blind(table, seven),
            &change(),
            much_later,
        )
        .await
        .unwrap();
    assert!(matches!(free, BookOutcome::Created(_)), "{free:?}");
}

/// An erased guest's processing stops (GDPR Art. 17): their waitlist places end (`left`), a table offered to them is
/// free at once, and a replay of their original request with its key is a new request, not their entry or booking.
pub async fn an_erased_guest_leaves_the_waitlist_and_frees_an_offered_table(store: &dyn Store) {
    let (scope, venue, table) = booking_floor(store, "Espera borrada").await;
    let seven = datetime!(2026-12-05 00:00 UTC);
    let ask = |email: &str, key: &str| NewWaitlistEntry {
        id: Uuid::now_v7(),
        venue_id: venue,
        guest: guest(venue, email),
        party_size: 2,
        local_date: "2026-12-04".into(),
        earliest: seven - time::Duration::HOUR,
        latest: seven + time::Duration::HOUR,
        channel: "online".into(),
        idempotency_key: Some(key.into()),
        request_hash: key.as_bytes().to_vec(),
        confirmation: None,
    };
    let wanda = ask("wanda@example.co", "espera-w");
    let offered_entry = store.join_waitlist(&scope, &wanda, &change(), NOW).await.unwrap();
    let waiting = store
        .join_waitlist(&scope, &ask("walter@example.co", "espera-x"), &change(), NOW)
        .await
        .unwrap();
    let offered = offer_table(store, &scope, table, &offered_entry, wanda.guest.clone(), seven).await;
    for (entry, freed) in [(&offered_entry, vec![venue]), (&waiting, vec![])] {
        let erasure = store
            .erase_person(&scope, entry.guest_id, &change(), NOW)
            .await
            .unwrap();
        assert_eq!(
            erasure.freed_venues, freed,
            "the venue whose table went free, told to the caller"
        );
        assert_eq!(
            store.waitlist_entry(&scope, entry.id).await.unwrap().status,
            WaitlistStatus::Left
        );
    }
    assert_eq!(
        store.reservation(&scope, offered.id).await.unwrap().status,
        ReservationStatus::Lapsed,
        "the offer is withdrawn: it lapses, never having been a booking"
    );
    let free = store
        .book(
            &scope,
            &booking_of(venue, seven),
            &blind(table, seven),
            &change(),
            NOW,
        )
        .await
        .unwrap();
    assert!(matches!(free, BookOutcome::Created(_)), "{free:?}");
    let replayed = store
        .join_waitlist(&scope, &ask("wanda@example.co", "espera-w"), &change(), NOW)
        .await
        .unwrap();
    assert_ne!(replayed.id, offered_entry.id, "not the erased guest's entry");
    assert!(
        store
            .waitlist(&scope, venue, None)
            .await
            .unwrap()
            .iter()
            .all(|e| e.id != offered_entry.id)
    );
}

/// An offer accepted with the venue's deposit books the entry; a booking that then never comes about — the guest
/// cancels before paying, or the deposit's hold lapses — ends the entry (left, expired), not "booked".
pub async fn a_waitlist_booking_that_never_came_about_ends_its_entry(store: &dyn Store) {
    let (scope, venue, table) = booking_floor(store, "Espera con depósito").await;
    let seven = datetime!(2026-12-05 00:00 UTC);
    let mut ended = Vec::new();
    for (email, lapse) in [("ana@example.co", false), ("luis@example.co", true)] {
        let contact = guest(venue, email);
        let entry = store
            .join_waitlist(
                &scope,
                &NewWaitlistEntry {
                    id: Uuid::now_v7(),
                    venue_id: venue,
                    guest: contact.clone(),
                    party_size: 2,
                    local_date: "2026-12-04".into(),
                    earliest: seven - time::Duration::HOUR,
                    latest: seven + time::Duration::HOUR,
                    channel: "online".into(),
                    idempotency_key: None,
                    request_hash: Vec::new(),
                    confirmation: None,
                },
                &change(),
                NOW,
            )
            .await
            .unwrap();
        let offered = offer_table(store, &scope, table, &entry, contact, seven).await;
        let deposit = NewDeposit {
            amount: cop(4_000_000),
            hold_expires_at: NOW + time::Duration::minutes(15),
            refundable_until: seven - time::Duration::DAY,
        };
        let accepted = store
            .accept_offer(&scope, offered.id, Some(&deposit), &change(), NOW)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(accepted.status, ReservationStatus::AwaitingDeposit);
        assert_eq!(
            store.waitlist_entry(&scope, entry.id).await.unwrap().status,
            WaitlistStatus::Booked
        );
        if lapse {
            store
                .settle_deposit(
                    &scope,
                    offered.id,
                    DepositStatus::Awaiting,
                    DepositStatus::Released,
                    None,
                    &change(),
                    NOW + time::Duration::minutes(16),
                )
                .await
                .unwrap()
                .unwrap();
        } else {
            store
                .transition_reservation(
                    &scope,
                    offered.id,
                    ReservationStatus::Cancelled,
                    None,
                    None,
                    None,
                    "",
                    &change(),
                    NOW,
                )
                .await
                .unwrap()
                .unwrap();
        }
        assert_eq!(
            store.reservation(&scope, offered.id).await.unwrap().status,
            ReservationStatus::Lapsed
        );
        ended.push(store.waitlist_entry(&scope, entry.id).await.unwrap().status);
    }
    assert_eq!(ended, [WaitlistStatus::Left, WaitlistStatus::Expired]);
}

pub async fn a_table_combination_is_withdrawn_once_and_only_by_its_venue(store: &dyn Store) {
    let (scope, venue, first) = booking_floor(store, "Combinaciones").await;
    let second = store
        .create_table(&scope, venue, "Mesa 2", 4, &change(), NOW)
        .await
        .unwrap()
        .id;
    let id = store
        .add_table_combination(&scope, venue, &[first, second], &change(), NOW)
        .await
        .unwrap();
    let listed = store.table_combinations(&scope, venue).await.unwrap();
    assert_eq!(listed, vec![(id, vec![first, second])]);
    // The same tables, in any order, are joined once.
    let again = store
        .add_table_combination(&scope, venue, &[second, first], &change(), NOW)
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    // Another partner, or another venue of the same partner, cannot withdraw it.
    let (other, other_venue, _) = booking_floor(store, "Otro").await;
    let refused = store
        .remove_table_combination(&other, venue, id, &change(), NOW)
        .await;
    assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    let refused = store
        .remove_table_combination(&scope, other_venue, id, &change(), NOW)
        .await;
    assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    store
        .remove_table_combination(&scope, venue, id, &change(), NOW)
        .await
        .unwrap();
    assert!(store.table_combinations(&scope, venue).await.unwrap().is_empty());
    let (_, _, floor, _) = store
        .booking_view(&scope, venue, NOW, NOW, None)
        .await
        .unwrap()
        .unwrap();
    assert!(floor.combinations.is_empty(), "bookings are no longer offered it");
    let again = store
        .remove_table_combination(&scope, venue, id, &change(), NOW)
        .await;
    assert!(matches!(again, Err(StoreError::NotFound)), "{again:?}");
}

/// A table taken off the floor: refused while a bill is open on it or a booking holds it from now on; once retired,
/// its QR code stops opening, it leaves the lists, the floor and its combinations, its label is free, and its
/// booking stays readable.
pub async fn a_retired_table_leaves_the_floor_but_keeps_its_history(store: &dyn Store) {
    let (scope, venue, first) = booking_floor(store, "Retiro").await;
    let second = store
        .create_table(&scope, venue, "Mesa 2", 4, &change(), NOW)
        .await
        .unwrap()
        .id;
    let joined = store
        .add_table_combination(&scope, venue, &[first, second], &change(), NOW)
        .await
        .unwrap();
    let seven = datetime!(2026-12-05 00:00 UTC);
    let BookOutcome::Created(booked) = store
        .book(
            &scope,
            &booking_of(venue, seven),
            &blind(first, seven),
            &change(),
            NOW,
        )
        .await
        .unwrap()
    else {
        panic!("not booked")
    };
    let refused = store.retire_table(&scope, first, &change(), NOW).await;
    assert!(matches!(refused, Err(StoreError::Conflict(_))), "{refused:?}");
    // A bill open on the other table holds it the same way.
    store
        .place_order(&scope, &order_for(venue, second, None, b"retire"), &change(), NOW)
        .await
        .unwrap();
    let refused = store.retire_table(&scope, second, &change(), NOW).await;
    assert!(matches!(refused, Err(StoreError::Conflict(_))), "{refused:?}");
    let taken = store.rename_table(&scope, second, "Mesa 1", &change(), NOW).await;
    assert!(matches!(taken, Err(StoreError::Conflict(_))), "{taken:?}");
    // Another tenant cannot retire or rename it.
    let (other, _, _) = booking_floor(store, "Otro retiro").await;
    let foreign = store.retire_table(&other, first, &change(), NOW).await;
    assert!(matches!(foreign, Err(StoreError::NotFound)), "{foreign:?}");
    let foreign = store.rename_table(&other, first, "X", &change(), NOW).await;
    assert!(matches!(foreign, Err(StoreError::NotFound)), "{foreign:?}");

    // Once the booking's time has passed, nothing holds the table from then on.
    let later = seven + time::Duration::hours(3);
    let withdrawn = store.retire_table(&scope, first, &change(), later).await.unwrap();
    assert_eq!(withdrawn, vec![joined]);
    assert!(
        store.table_entry(first).await.unwrap().is_none(),
        "its QR code stops opening"
    );
    assert!(matches!(
        store.table(&scope, first).await,
        Err(StoreError::NotFound)
    ));
    let listed: Vec<Uuid> = store
        .tables(&scope, venue, PageRequest::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(listed, vec![second]);
    let (_, _, floor, _) = store
        .booking_view(&scope, venue, later, later, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        floor.tables.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![second]
    );
    assert!(floor.combinations.is_empty());
    assert!(store.table_combinations(&scope, venue).await.unwrap().is_empty());
    for refused in [
        store
            .retire_table(&scope, first, &change(), later)
            .await
            .map(|_| ()),
        store
            .rename_table(&scope, first, "Mesa 9", &change(), later)
            .await
            .map(|_| ()),
        store
            .rotate_table_token(&scope, first, &change(), later)
            .await
            .map(|_| ()),
        store
            .set_table_booking(&scope, first, (1, 4), true, &change(), later)
            .await,
    ] {
        assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    }
    // Its label is free again, and its booking still names it.
    let renamed = store
        .rename_table(&scope, second, "Mesa 1", &change(), later)
        .await
        .unwrap();
    assert_eq!((renamed.id, renamed.label.as_str()), (second, "Mesa 1"));
    assert_eq!(
        store.table_entry(second).await.unwrap().unwrap().version,
        1,
        "a rename keeps the QR code"
    );
    assert_eq!(
        store.reservation(&scope, booked.id).await.unwrap().tables,
        vec![first]
    );
}

pub async fn the_host_list_holds_the_days_bookings_with_their_deposits_and_guests(store: &dyn Store) {
    let (scope, venue, table) = booking_floor(store, "Host list").await;
    let (other, other_venue, other_table) = booking_floor(store, "Other host list").await;
    let day = datetime!(2026-12-05 00:00 UTC);
    let book = async |scope: &TenantScope, venue: Uuid, table: Uuid, start: OffsetDateTime, email: &str| {
        let mut booking = booking_of(venue, start);
        booking.guest = guest(venue, email);
        if email.starts_with("deposit") {
            booking.deposit = Some(NewDeposit {
                amount: cop(4_000_000),
                hold_expires_at: NOW + time::Duration::minutes(15),
                refundable_until: start - time::Duration::DAY,
            });
        }
        let outcome = store
            .book(scope, &booking, &blind(table, start), &change(), NOW)
            .await
            .unwrap();
        let BookOutcome::Created(booked) = outcome else {
            panic!("booked: {outcome:?}");
        };
        booked.id
    };
    let late = book(
        &scope,
        venue,
        table,
        day + time::Duration::hours(21),
        "late@example.co",
    )
    .await;
    let early = book(
        &scope,
        venue,
        table,
        day + time::Duration::hours(18),
        "deposit@example.co",
    )
    .await;
    book(
        &scope,
        venue,
        table,
        day + time::Duration::hours(30),
        "tomorrow@example.co",
    )
    .await;
    book(
        &other,
        other_venue,
        other_table,
        day + time::Duration::hours(19),
        "other@example.co",
    )
    .await;

    let list = store
        .reservations_between(&scope, venue, day, day + time::Duration::DAY, whole_day())
        .await
        .unwrap()
        .items;
    let ids: Vec<Uuid> = list.iter().map(|party| party.reservation.id).collect();
    assert_eq!(
        ids,
        [early, late],
        "the day's bookings by start, no other day's and no other partner's"
    );
    // The data-subject export's read: one guest record's bookings with their deposits, only in its partner.
    let guest_of_early = list[0].reservation.guest_id;
    let booked = store.guest_bookings(&scope, guest_of_early).await.unwrap();
    let found: Vec<(Uuid, Option<i64>)> = booked
        .reservations
        .iter()
        .map(|(reservation, deposit)| (reservation.id, deposit.as_ref().map(|d| d.amount.amount)))
        .collect();
    assert_eq!(found, [(early, Some(4_000_000))]);
    assert!(booked.waitlist.is_empty());
    let elsewhere = store.guest_bookings(&other, guest_of_early).await.unwrap();
    assert!(
        elsewhere.reservations.is_empty() && elsewhere.waitlist.is_empty(),
        "another partner finds nothing of this guest"
    );
    // A page at a time: the first page says where the next begins, and the last says it is the last.
    let one = |after| PageRequest { after, limit: 1 };
    let first = store
        .reservations_between(&scope, venue, day, day + time::Duration::DAY, one(None))
        .await
        .unwrap();
    assert_eq!(first.items.len(), 1);
    assert_eq!(first.items[0].reservation.id, early);
    assert!(
        first.items[0].deposit.is_some(),
        "a page carries its own bookings' deposits"
    );
    let second = store
        .reservations_between(&scope, venue, day, day + time::Duration::DAY, one(first.next))
        .await
        .unwrap();
    assert_eq!(second.items.len(), 1);
    assert_eq!(second.items[0].reservation.id, late);
    assert!(second.next.is_none());
    let deposit = list[0].deposit.as_ref().expect("the early booking's deposit");
    assert_eq!(
        (deposit.amount, deposit.status),
        (cop(4_000_000), DepositStatus::Awaiting)
    );
    assert!(list[1].deposit.is_none());
    let guests: Vec<_> = list
        .iter()
        .map(|party| {
            let guest = party.guest.as_ref().expect("each booking's guest");
            (
                guest.id,
                guest.email.as_str(),
                guest.name.as_str(),
                guest.phone.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        guests,
        [
            (
                list[0].reservation.guest_id,
                "deposit@example.co",
                "Valentina Ríos",
                Some("+573001234567")
            ),
            (
                list[1].reservation.guest_id,
                "late@example.co",
                "Valentina Ríos",
                Some("+573001234567")
            ),
        ],
        "opened, not sealed"
    );
    assert!(
        store
            .reservations_between(&other, venue, day, day + time::Duration::DAY, whole_day())
            .await
            .unwrap()
            .items
            .is_empty(),
        "another partner sees nothing of this venue"
    );

    // The partner's other venue keeps its own day.
    let second = store
        .create_venue(&scope, &super::venue("Sede Norte"), &change(), NOW)
        .await
        .unwrap()
        .id
        .as_uuid();
    let second_table = store
        .create_table(&scope, second, "Mesa 9", 4, &change(), NOW)
        .await
        .unwrap()
        .id;
    store
        .put_booking_policy(&scope, second, &evenings(), &change(), NOW)
        .await
        .unwrap();
    book(
        &scope,
        second,
        second_table,
        day + time::Duration::hours(20),
        "north@example.co",
    )
    .await;
    let list = store
        .reservations_between(&scope, venue, day, day + time::Duration::DAY, whole_day())
        .await
        .unwrap()
        .items;
    assert_eq!(list.len(), 2, "not the other venue's booking");

    // An erased guest's booking stays on the list, its contact marked erased.
    let erased = list[1].reservation.guest_id;
    store.erase_person(&scope, erased, &change(), NOW).await.unwrap();
    let list = store
        .reservations_between(&scope, venue, day, day + time::Duration::DAY, whole_day())
        .await
        .unwrap()
        .items;
    let guest = list[1].guest.as_ref().expect("the contact row stays, erased");
    assert!(guest.erased_at.is_some());
    assert_ne!(guest.email, "late@example.co");
}

pub async fn the_host_waitlist_holds_the_days_parties_with_their_guests(store: &dyn Store) {
    let (scope, venue, _) = booking_floor(store, "Host waitlist").await;
    let (other, other_venue, _) = booking_floor(store, "Other host waitlist").await;
    let seven = datetime!(2026-12-05 00:00 UTC);
    let join = async |scope: &TenantScope, venue: Uuid, date: &str, email: &str, at: OffsetDateTime| {
        store
            .join_waitlist(
                scope,
                &NewWaitlistEntry {
                    id: Uuid::now_v7(),
                    venue_id: venue,
                    guest: guest(venue, email),
                    party_size: 2,
                    local_date: date.into(),
                    earliest: seven - time::Duration::HOUR,
                    latest: seven + time::Duration::HOUR,
                    channel: "online".into(),
                    idempotency_key: None,
                    request_hash: Vec::new(),
                    confirmation: None,
                },
                &change(),
                at,
            )
            .await
            .unwrap()
            .id
    };
    let first = join(&scope, venue, "2026-12-04", "first@example.co", NOW).await;
    let second = join(
        &scope,
        venue,
        "2026-12-04",
        "second@example.co",
        NOW + time::Duration::minutes(1),
    )
    .await;
    join(&scope, venue, "2026-12-05", "tomorrow@example.co", NOW).await;
    join(&other, other_venue, "2026-12-04", "other@example.co", NOW).await;

    let day = store
        .waitlist_day(&scope, venue, "2026-12-04", whole_day())
        .await
        .unwrap()
        .items;
    let listed: Vec<(Uuid, &str)> = day
        .iter()
        .map(|party| {
            let guest = party.guest.as_ref().expect("each party's guest");
            assert_eq!(guest.id, party.entry.guest_id);
            (party.entry.id, guest.email.as_str())
        })
        .collect();
    assert_eq!(
        listed,
        [(first, "first@example.co"), (second, "second@example.co")],
        "the day's parties in arrival order, their contacts opened; no other day's and no other partner's"
    );
    let entries = store.guest_bookings(&scope, day[0].entry.guest_id).await.unwrap();
    assert_eq!(
        (
            entries.reservations.len(),
            entries.waitlist.len(),
            entries.waitlist[0].id
        ),
        (0, 1, first),
        "the export's read finds the guest's waitlist entry"
    );
    let one = |after| PageRequest { after, limit: 1 };
    let page = store
        .waitlist_day(&scope, venue, "2026-12-04", one(None))
        .await
        .unwrap();
    assert_eq!(page.items[0].entry.id, first);
    let next = store
        .waitlist_day(&scope, venue, "2026-12-04", one(page.next))
        .await
        .unwrap();
    assert_eq!(next.items.len(), 1);
    assert_eq!(next.items[0].entry.id, second);
    assert!(next.next.is_none(), "a page at a time, to the last");
    assert!(
        store
            .waitlist_day(&other, venue, "2026-12-04", whole_day())
            .await
            .unwrap()
            .items
            .is_empty(),
        "another partner sees nothing of this venue"
    );

    // An erased guest's entry stays on the list, its contact marked erased.
    let erased = day[1].entry.guest_id;
    store.erase_person(&scope, erased, &change(), NOW).await.unwrap();
    let day = store
        .waitlist_day(&scope, venue, "2026-12-04", whole_day())
        .await
        .unwrap()
        .items;
    let guest = day[1].guest.as_ref().expect("the contact row stays, erased");
    assert!(guest.erased_at.is_some());
    assert_ne!(guest.email, "second@example.co");
}

/// One page holding a whole test day.
fn whole_day() -> PageRequest {
    PageRequest {
        after: None,
        limit: 200,
    }
}

/// A party seated from its booking moves tables with its bill (`move_session`): the booking holds the new table
/// alone for the rest of its turn and frees its old one; a table booked for another party within that turn refuses
/// the move and changes nothing.
pub async fn a_seated_party_moves_with_its_booking(store: &dyn Store) {
    let (scope, venue, table) = booking_floor(store, "Mudanza").await;
    let [window, terrace] = ["Mesa 2", "Mesa 3"].map(|label| {
        let scope = scope.clone();
        async move {
            store
                .create_table(&scope, venue, label, 4, &change(), NOW)
                .await
                .unwrap()
                .id
        }
    });
    let (window, terrace) = (window.await, terrace.await);
    let seven = datetime!(2026-12-05 00:00 UTC);
    let book = async |table: Uuid, start: OffsetDateTime| match store
        .book(
            &scope,
            &booking_of(venue, start),
            &blind(table, start),
            &change(),
            NOW,
        )
        .await
        .unwrap()
    {
        BookOutcome::Created(reservation) => Ok(reservation.id),
        other => Err(other),
    };
    let party = book(table, seven).await.unwrap();
    let host = comanda_store::reservations::Host {
        actor: "host:ana".into(),
        member: Uuid::now_v7(),
    };
    let seated = store
        .transition_reservation(
            &scope,
            party,
            ReservationStatus::Seated,
            Some(&host),
            None,
            None,
            "",
            &change(),
            seven + time::Duration::minutes(5),
        )
        .await
        .unwrap()
        .unwrap();
    let session = seated.session_id.expect("seating opens the party's bill");
    let later = book(terrace, seven + time::Duration::hours(1)).await.unwrap();
    let moving = seven + time::Duration::minutes(10);
    let refused = store
        .move_session(&scope, session, terrace, "server:ana", &change(), moving)
        .await;
    assert!(matches!(refused, Err(StoreError::Refused(_))), "{refused:?}");
    assert_eq!(
        store.reservation(&scope, party).await.unwrap().tables,
        [table],
        "a refused move keeps the party's claims"
    );
    assert_eq!(
        book(table, seven + time::Duration::minutes(30)).await,
        Err(BookOutcome::Refused(Refusal::SlotTaken))
    );

    let moved = store
        .move_session(&scope, session, window, "server:ana", &change(), moving)
        .await
        .unwrap();
    assert_eq!(moved.table_id, window);
    let party_now = store.reservation(&scope, party).await.unwrap();
    assert_eq!(
        (party_now.tables, party_now.status, party_now.start),
        (vec![window], ReservationStatus::Seated, seven)
    );
    // Its old table is free for the rest of its turn; the new one is its own until the turn ends.
    assert!(book(table, seven + time::Duration::minutes(30)).await.is_ok());
    assert_eq!(
        book(window, seven + time::Duration::hours(1)).await,
        Err(BookOutcome::Refused(Refusal::SlotTaken))
    );
    assert!(book(window, seven + time::Duration::hours(2)).await.is_ok());
    assert_eq!(store.reservation(&scope, later).await.unwrap().tables, [terrace]);
}
