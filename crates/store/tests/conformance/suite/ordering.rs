//! Ordering: tables and their tokens, menus, table sessions, guest orders, retries, order events and the feed.

use super::*;

pub fn text(es: &str) -> Localized {
    Localized {
        es: es.into(),
        en: format!("{es} (en)"),
    }
}

pub async fn venue_of(store: &dyn Store, scope: &TenantScope) -> Uuid {
    store
        .create_venue(scope, &venue("Sede"), &change(), NOW)
        .await
        .unwrap()
        .id
        .as_uuid()
}

pub async fn tables_have_rotatable_tokens_and_stay_in_their_tenant(store: &dyn Store) {
    let a = new_partner(store, "A").await;
    let b = new_partner(store, "B").await;
    let venue_a = venue_of(store, &a).await;
    let table = store
        .create_table(&a, venue_a, "Mesa 1", 4, &change(), NOW)
        .await
        .unwrap();
    assert_eq!(table.token_version, 1);
    // One label, one table: a host seating "Mesa 1" must find one (another partner's venue may use it).
    let twice = store.create_table(&a, venue_a, "Mesa 1", 2, &change(), NOW).await;
    assert!(matches!(twice, Err(StoreError::Conflict(_))), "{twice:?}");
    let venue_b = venue_of(store, &b).await;
    store
        .create_table(&b, venue_b, "Mesa 1", 2, &change(), NOW)
        .await
        .unwrap();
    let entry = store.table_entry(table.id).await.unwrap().unwrap();
    assert_eq!(
        (entry.partner, entry.venue, entry.version),
        (a.partner(), venue_a, 1)
    );
    let rotated = store
        .rotate_table_token(&a, table.id, &AuditEntry::new("table.token_rotated"), NOW)
        .await
        .unwrap();
    assert_eq!(rotated.token_version, 2);
    assert_eq!(store.table_entry(table.id).await.unwrap().unwrap().version, 2);
    assert!(matches!(
        store.table(&b, table.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(
        store
            .tables(&b, venue_a, PageRequest::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let foreign = store
        .create_table(&b, venue_a, "Intrusa", 2, &change(), NOW)
        .await;
    assert!(matches!(foreign, Err(StoreError::NotFound)), "{foreign:?}");
    assert!(store.table_entry(Uuid::now_v7()).await.unwrap().is_none());
}

pub fn item(venue: Uuid, category: Uuid) -> MenuItem {
    MenuItem {
        id: Uuid::now_v7(),
        venue_id: venue,
        category_id: category,
        name: text("Ajiaco"),
        description: text("Sopa santafereña"),
        price: Money::new(1_890_000, comanda_domain::Currency::COP).unwrap(),
        taxed: true,
        available: true,
        modifiers: vec![ModifierGroup {
            name: text("Acompañamiento"),
            options: vec![ModifierOption {
                name: text("Aguacate"),
                price_delta: 300_000,
            }],
            min: 0,
            max: 1,
        }],
    }
}

pub async fn menus_round_trip_and_items_stay_in_their_venue(store: &dyn Store) {
    let scope = new_partner(store, "Menú").await;
    let venue = venue_of(store, &scope).await;
    let other_venue = venue_of(store, &scope).await;
    let category = store
        .create_category(&scope, venue, &text("Sopas"), 1, &change(), NOW)
        .await
        .unwrap();
    let created = store
        .create_menu_item(&scope, &item(venue, category.id), &change(), NOW)
        .await
        .unwrap();
    let (categories, items) = store.menu(&scope, venue).await.unwrap();
    assert_eq!(categories, vec![category.clone()]);
    assert_eq!(items, vec![created.clone()]);
    let sold_out = set_available(store, &scope, created.id, false).await;
    assert!(!sold_out.available);
    let misplaced = store
        .create_menu_item(&scope, &item(other_venue, category.id), &change(), NOW)
        .await;
    assert!(
        matches!(misplaced, Err(StoreError::NotFound)),
        "a category of another venue"
    );
}

pub async fn table_sessions_gate_the_kitchen_and_close_cleanly(store: &dyn Store) {
    let scope = new_partner(store, "Sesiones").await;
    let venue = venue_of(store, &scope).await;
    let table = store
        .create_table(&scope, venue, "9", 2, &change(), NOW)
        .await
        .unwrap();
    assert!(store.live_session(&scope, table.id).await.unwrap().is_none());
    let PlaceOutcome::Created(first) = store
        .place_order(&scope, &order_for(venue, table.id, None, b"1"), &change(), NOW)
        .await
        .unwrap()
    else {
        panic!("not created")
    };
    let pending = store.live_session(&scope, table.id).await.unwrap().unwrap();
    assert_eq!(pending.status, comanda_store::ordering::SessionStatus::Pending);
    assert_eq!(first.session_id, Some(pending.id));
    assert!(
        store
            .venue_orders(&scope, venue, None, PageRequest::default())
            .await
            .unwrap()
            .items
            .is_empty(),
        "the kitchen waits for staff"
    );
    assert!(
        store
            .order_events_after(&scope, venue, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let early = store
        .transition_order(
            &scope,
            first.id,
            OrderStatus::Placed,
            OrderStatus::Accepted,
            "k",
            None,
            &change(),
            NOW,
        )
        .await;
    assert!(matches!(early, Err(StoreError::Conflict(_))));
    assert_eq!(
        store
            .venue_sessions(&scope, venue, PageRequest::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );

    let rosa = Uuid::now_v7();
    let opened = store
        .accept_session(&scope, pending.id, "manager:rosa", rosa, &change(), NOW)
        .await
        .unwrap();
    assert_eq!(opened.accepted_by.as_deref(), Some("manager:rosa"));
    assert_eq!(opened.accepted_member, Some(rosa), "the member, as a column");
    assert!(matches!(
        store
            .accept_session(&scope, pending.id, "x", rosa, &change(), NOW)
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store
            .venue_orders(&scope, venue, None, PageRequest::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    let PlaceOutcome::Created(second) = store
        .place_order(&scope, &order_for(venue, table.id, None, b"2"), &change(), NOW)
        .await
        .unwrap()
    else {
        panic!("not created")
    };
    assert_eq!(
        second.session_id,
        Some(pending.id),
        "later orders join the open session"
    );

    assert!(matches!(
        store
            .close_table(&scope, table.id, "manager:rosa", true, &change(), NOW)
            .await,
        Err(StoreError::Conflict(_))
    ));
    let mut status = OrderStatus::Placed;
    for to in [
        OrderStatus::Accepted,
        OrderStatus::Preparing,
        OrderStatus::Ready,
        OrderStatus::Served,
    ] {
        store
            .transition_order(&scope, first.id, status, to, "k", None, &change(), NOW)
            .await
            .unwrap();
        status = to;
    }
    store
        .transition_order(
            &scope,
            second.id,
            OrderStatus::Placed,
            OrderStatus::Cancelled,
            "k",
            Some("no stock"),
            &change(),
            NOW,
        )
        .await
        .unwrap();
    // Nobody paid: read under the bill's lock, it closes only when staff say it may close unpaid.
    let unpaid = store
        .close_table(&scope, table.id, "manager:rosa", false, &change(), NOW)
        .await;
    assert!(
        matches!(unpaid, Err(StoreError::Unsettled { left }) if left > 0),
        "{unpaid:?}"
    );
    let closed = store
        .close_table(&scope, table.id, "manager:rosa", true, &change(), NOW)
        .await
        .unwrap();
    assert_eq!(closed.status, comanda_store::ordering::SessionStatus::Closed);
    assert!(store.live_session(&scope, table.id).await.unwrap().is_none());
    assert!(
        store.table_orders(&scope, table.id).await.unwrap().is_empty(),
        "a new guest starts a new bill"
    );

    // Yesterday's QR code, today: the order waits for a new acceptance.
    let PlaceOutcome::Created(today) = store
        .place_order(&scope, &order_for(venue, table.id, None, b"3"), &change(), NOW)
        .await
        .unwrap()
    else {
        panic!("not created")
    };
    let fresh = store.live_session(&scope, table.id).await.unwrap().unwrap();
    assert_ne!(fresh.id, pending.id);
    assert_eq!(fresh.status, comanda_store::ordering::SessionStatus::Pending);
    assert_eq!(today.session_id, Some(fresh.id));
    assert!(matches!(
        store
            .close_table(&scope, Uuid::now_v7(), "x", true, &change(), NOW)
            .await,
        Err(StoreError::NotFound)
    ));
}

pub async fn guests_cancel_only_their_own_unaccepted_orders(store: &dyn Store) {
    let scope = new_partner(store, "Cancelar").await;
    let venue = venue_of(store, &scope).await;
    let table = store
        .create_table(&scope, venue, "2", 2, &change(), NOW)
        .await
        .unwrap();
    let PlaceOutcome::Created(mine) = store
        .place_order(&scope, &order_for(venue, table.id, None, b"a"), &change(), NOW)
        .await
        .unwrap()
    else {
        panic!("not created")
    };
    let other_device = store
        .cancel_guest_order(&scope, table.id, mine.id, "device-2", &change(), NOW)
        .await;
    assert!(
        matches!(other_device, Err(StoreError::NotFound)),
        "another guest's device cannot touch it"
    );
    // The device's own id sent through another table's token (a QR code of the next table) does not reach it.
    let next_table = store
        .create_table(&scope, venue, "3", 2, &change(), NOW)
        .await
        .unwrap();
    let other_table = store
        .cancel_guest_order(&scope, next_table.id, mine.id, "device-1", &change(), NOW)
        .await;
    assert!(
        matches!(other_table, Err(StoreError::NotFound)),
        "another table's token cannot touch it"
    );
    let cancelled = store
        .cancel_guest_order(&scope, table.id, mine.id, "device-1", &change(), NOW)
        .await
        .unwrap();
    assert_eq!(cancelled.status, OrderStatus::Cancelled);
    // A second tap is answered with the order as it is.
    let again = store
        .cancel_guest_order(&scope, table.id, mine.id, "device-1", &change(), NOW)
        .await
        .unwrap();
    assert_eq!(again, cancelled);
    let PlaceOutcome::Created(later) = store
        .place_order(&scope, &order_for(venue, table.id, None, b"b"), &change(), NOW)
        .await
        .unwrap()
    else {
        panic!("not created")
    };
    accept_table(store, &scope, table.id).await;
    store
        .transition_order(
            &scope,
            later.id,
            OrderStatus::Placed,
            OrderStatus::Accepted,
            "k",
            None,
            &change(),
            NOW,
        )
        .await
        .unwrap();
    let too_late = store
        .cancel_guest_order(&scope, table.id, later.id, "device-1", &change(), NOW)
        .await;
    assert!(
        matches!(too_late, Err(StoreError::Conflict(_))),
        "accepted orders are the kitchen's"
    );
}

pub async fn menu_items_and_categories_are_edited_and_removed(store: &dyn Store) {
    let scope = new_partner(store, "Editor").await;
    let venue = venue_of(store, &scope).await;
    let other_venue = venue_of(store, &scope).await;
    let soups = store
        .create_category(&scope, venue, &text("Sopas"), 1, &change(), NOW)
        .await
        .unwrap();
    let mains = store
        .create_category(&scope, venue, &text("Fuertes"), 2, &change(), NOW)
        .await
        .unwrap();
    let foreign = store
        .create_category(&scope, other_venue, &text("Otra"), 1, &change(), NOW)
        .await
        .unwrap();
    let created = store
        .create_menu_item(&scope, &item(venue, soups.id), &change(), NOW)
        .await
        .unwrap();

    let mut edited = created.clone();
    edited.name = text("Ajiaco grande");
    edited.price = Money::new(2_500_000, comanda_domain::Currency::COP).unwrap();
    edited.category_id = mains.id;
    edited.modifiers.clear();
    let saved = store
        .update_menu_item(&scope, &edited, &change(), NOW)
        .await
        .unwrap();
    assert_eq!(saved, edited);
    assert_eq!(store.menu_item(&scope, created.id).await.unwrap(), edited);
    let moved_away = MenuItem {
        category_id: foreign.id,
        ..edited.clone()
    };
    assert!(matches!(
        store.update_menu_item(&scope, &moved_away, &change(), NOW).await,
        Err(StoreError::NotFound)
    ));

    // A rename of one language keeps the other.
    let spanish_only = comanda_domain::menu::LocalizedPatch {
        es: Some("Caldos".into()),
        en: None,
    };
    let renamed = store
        .update_category(&scope, soups.id, &spanish_only, Some(3), &change(), NOW)
        .await
        .unwrap();
    assert_eq!(
        (
            renamed.name.es.as_str(),
            renamed.name.en.as_str(),
            renamed.position
        ),
        ("Caldos", soups.name.en.as_str(), 3)
    );
    let busy = store.delete_category(&scope, mains.id, &change(), NOW).await;
    assert!(matches!(busy, Err(StoreError::Conflict(_))), "{busy:?}");
    store
        .delete_menu_item(&scope, created.id, &change(), NOW)
        .await
        .unwrap();
    assert!(matches!(
        store.delete_menu_item(&scope, created.id, &change(), NOW).await,
        Err(StoreError::NotFound)
    ));
    store
        .delete_category(&scope, mains.id, &change(), NOW)
        .await
        .unwrap();
    let (categories, items) = store.menu(&scope, venue).await.unwrap();
    assert_eq!(categories.len(), 1);
    assert!(items.is_empty());
}

pub fn order_for(venue: Uuid, table: Uuid, key: Option<&str>, hash: &[u8]) -> NewOrder {
    let line = PricedLine {
        item_id: Uuid::now_v7(),
        name: text("Ajiaco"),
        quantity: 2,
        modifiers: vec![text("Aguacate")],
        note: None,
        unit_price: Money::new(2_190_000, comanda_domain::Currency::COP).unwrap(),
        taxed: true,
    };
    NewOrder {
        id: Uuid::now_v7(),
        venue_id: venue,
        table_id: table,
        served_table_id: None,
        subtotal: Money::new(4_380_000, comanda_domain::Currency::COP).unwrap(),
        // 8 % impuesto al consumo contained in 43.800 COP.
        tax: Money::new(324_444, comanda_domain::Currency::COP).unwrap(),
        lines: vec![line],
        idempotency_key: key.map(str::to_owned),
        request_hash: hash.to_vec(),
        device: Some("device-1".into()),
    }
}

pub async fn accept_table(store: &dyn Store, scope: &TenantScope, table: Uuid) {
    let session = store
        .live_session(scope, table)
        .await
        .unwrap()
        .expect("a pending session");
    store
        .accept_session(scope, session.id, "manager:test", Uuid::now_v7(), &change(), NOW)
        .await
        .unwrap();
}

/// Takes every order of the session still placed through the kitchen's steps to served, as staff do before closing
/// the table; answers their ids.
pub async fn serve_placed(
    store: &dyn Store,
    scope: &TenantScope,
    session: Uuid,
    at: OffsetDateTime,
) -> Vec<Uuid> {
    let listed = store
        .session_orders(scope, session, PageRequest::default())
        .await
        .unwrap();
    let steps = [
        OrderStatus::Placed,
        OrderStatus::Accepted,
        OrderStatus::Preparing,
        OrderStatus::Ready,
        OrderStatus::Served,
    ];
    let mut served = Vec::new();
    for order in listed.items.iter().filter(|o| o.status == OrderStatus::Placed) {
        for pair in steps.windows(2) {
            store
                .transition_order(
                    scope,
                    order.id,
                    pair[0],
                    pair[1],
                    "server:test",
                    None,
                    &change(),
                    at,
                )
                .await
                .unwrap();
        }
        served.push(order.id);
    }
    served
}

/// Issue 14, part 7: a venue with more live orders than the old silent cut (500) is read to its end page by
/// page, in `(placed_at, id)` order, no order twice and none missing — the same for one table session's orders,
/// the venue's live sessions and its tables. Keyset, not offset: an order placed between two pages is not
/// skipped and does not push an order seen already onto the next page.
pub async fn five_hundred_and_one_orders_are_read_page_by_page(store: &dyn Store) {
    let scope = new_partner(store, "Cocina llena").await;
    let venue = venue_of(store, &scope).await;
    let table = store
        .create_table(&scope, venue, "1", 4, &change(), NOW)
        .await
        .unwrap();
    let mut placed = Vec::new();
    for n in 0..501u32 {
        // Three orders share each instant, and their ids are not in placing order, so the id breaks ties
        // inside a page and across a page boundary.
        let mut order = order_for(venue, table.id, None, &n.to_be_bytes());
        order.id = Uuid::from_u128(u128::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835));
        let at = NOW + time::Duration::seconds(i64::from(n / 3));
        let PlaceOutcome::Created(order) = store.place_order(&scope, &order, &change(), at).await.unwrap()
        else {
            panic!("not created")
        };
        placed.push((order.placed_at, order.id));
    }
    placed.sort();
    let pending = store.live_session(&scope, table.id).await.unwrap().unwrap();
    accept_table(store, &scope, table.id).await;

    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut page = PageRequest {
        after: None,
        limit: 200,
    };
    loop {
        let got = store.venue_orders(&scope, venue, None, page).await.unwrap();
        sizes.push(got.items.len());
        seen.extend(got.items.iter().map(|o| (o.placed_at, o.id)));
        if seen.len() == 200 {
            // An order placed while the kitchen reads sorts last: it is read once, on a later page.
            let PlaceOutcome::Created(late) = store
                .place_order(
                    &scope,
                    &order_for(venue, table.id, None, b"late"),
                    &change(),
                    NOW + time::Duration::hours(1),
                )
                .await
                .unwrap()
            else {
                panic!("not created")
            };
            placed.push((late.placed_at, late.id));
        }
        match got.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    assert_eq!(
        sizes,
        [200, 200, 102],
        "full pages, then the rest; no empty last page"
    );
    assert_eq!(seen, placed, "every order once, oldest first, ties broken by id");

    let by_default = store
        .venue_orders(&scope, venue, None, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(by_default.items.len(), usize::from(PageRequest::default().limit));
    assert!(by_default.next.is_some(), "a first page says that more follow");
    let placed_only =
        comanda_domain::collect_all(|p| store.venue_orders(&scope, venue, Some(OrderStatus::Placed), p))
            .await
            .unwrap();
    assert_eq!(placed_only.len(), 502, "the status filter pages the same way");

    let session = comanda_domain::collect_all(|p| store.session_orders(&scope, pending.id, p))
        .await
        .unwrap();
    assert_eq!(
        session.iter().map(|o| (o.placed_at, o.id)).collect::<Vec<_>>(),
        placed,
        "a bill or an evidence file reads every order of its session"
    );

    // Another tenant's cursor position reveals nothing: the same request in its scope is empty.
    let other = new_partner(store, "Otra").await;
    let stranger = store
        .venue_orders(
            &other,
            venue,
            None,
            PageRequest {
                after: page.after,
                limit: 200,
            },
        )
        .await
        .unwrap();
    assert!(stranger.items.is_empty() && stranger.next.is_none());

    for (n, label) in ["2", "3", "4"].into_iter().enumerate() {
        let added = NOW + time::Duration::seconds(i64::try_from(n).unwrap() + 1);
        let t = store
            .create_table(&scope, venue, label, 2, &change(), added)
            .await
            .unwrap();
        let later = NOW + time::Duration::hours(2);
        store
            .place_order(
                &scope,
                &order_for(venue, t.id, None, label.as_bytes()),
                &change(),
                later,
            )
            .await
            .unwrap();
    }
    let two = PageRequest {
        after: None,
        limit: 2,
    };
    let first = store.tables(&scope, venue, two).await.unwrap();
    let rest = store
        .tables(
            &scope,
            venue,
            PageRequest {
                after: first.next,
                ..two
            },
        )
        .await
        .unwrap();
    let labels: Vec<_> = first
        .items
        .iter()
        .chain(&rest.items)
        .map(|t| t.label.as_str())
        .collect();
    assert_eq!(
        labels,
        ["1", "2", "3", "4"],
        "tables in the order they were added"
    );
    assert!(rest.next.is_none());
    let sessions =
        comanda_domain::collect_all(|p| store.venue_sessions(&scope, venue, PageRequest { limit: 1, ..p }))
            .await
            .unwrap();
    assert_eq!(sessions.len(), 4, "one live session per table, read one per page");
    assert_eq!(sessions[0].id, pending.id);
}

pub async fn twenty_concurrent_retries_create_one_order(store: &dyn Store) {
    let (scope, owner) = registered(store, "idem@example.co").await;
    let venue = venue_of(store, &scope).await;
    let table = store
        .create_table(&scope, venue, "5", 2, &change(), NOW)
        .await
        .unwrap();
    let attempts: Vec<NewOrder> = (0..20)
        .map(|_| order_for(venue, table.id, Some("key-1"), b"same body"))
        .collect();
    let audit = change();
    let outcomes = futures_join_all(attempts.iter().map(|o| store.place_order(&scope, o, &audit, NOW))).await;
    let created: Vec<_> = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(PlaceOutcome::Created(_))))
        .collect();
    assert_eq!(created.len(), 1, "{outcomes:?}");
    let first = match created[0] {
        Ok(PlaceOutcome::Created(order)) => order.id,
        _ => unreachable!(),
    };
    for outcome in &outcomes {
        match outcome {
            Ok(PlaceOutcome::Created(order) | PlaceOutcome::Replayed(order)) => {
                assert_eq!(order.id, first)
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(store.table_orders(&scope, table.id).await.unwrap().len(), 1);
    let other_body = store
        .place_order(
            &scope,
            &order_for(venue, table.id, Some("key-1"), b"other"),
            &change(),
            NOW,
        )
        .await;
    assert_eq!(other_body.unwrap(), PlaceOutcome::KeyReused);
    // The same key and body from another guest's device at the table is not a retry: a key is no way to read
    // someone else's order.
    let mut elsewhere = order_for(venue, table.id, Some("key-1"), b"same body");
    elsewhere.device = Some("device-2".into());
    let from_another_device = store.place_order(&scope, &elsewhere, &change(), NOW).await;
    assert_eq!(from_another_device.unwrap(), PlaceOutcome::KeyReused);
    let without_key = store
        .place_order(&scope, &order_for(venue, table.id, None, b"x"), &change(), NOW)
        .await
        .unwrap();
    assert!(matches!(without_key, PlaceOutcome::Created(_)));
    // A member's order keeps the client address in its audit entry, sealed as every member entry's is (PostgreSQL
    // writes a guest's entry inside the order's one statement, a member's after it).
    let member = AuditEntry {
        source: Some("203.0.113.7".into()),
        ..AuditEntry::new("order.placed_by_staff").actor(owner)
    };
    let PlaceOutcome::Created(by_staff) = store
        .place_order(
            &scope,
            &order_for(venue, table.id, Some("key-2"), b"y"),
            &member,
            NOW,
        )
        .await
        .unwrap()
    else {
        panic!("not created")
    };
    // Each order made one entry: none for the nineteen retries, the other body or the other device.
    let entries = audit_entries(store, &scope).await;
    let about = |order: Uuid| {
        entries
            .iter()
            .filter(|e| e.entry.target.as_deref() == Some(order.to_string().as_str()))
            .collect::<Vec<_>>()
    };
    assert_eq!(about(first).len(), 1, "{entries:?}");
    let PlaceOutcome::Created(keyless) = without_key else {
        unreachable!()
    };
    assert_eq!(about(keyless.id).len(), 1, "{entries:?}");
    let staff_entry = about(by_staff.id);
    assert_eq!(staff_entry.len(), 1, "{entries:?}");
    assert_eq!(staff_entry[0].entry.action, "order.placed_by_staff");
    assert_eq!(staff_entry[0].entry.source.as_deref(), Some("203.0.113.7"));
}

pub async fn orders_move_forward_once_and_leave_events(store: &dyn Store) {
    let scope = new_partner(store, "Cocina").await;
    let venue = venue_of(store, &scope).await;
    let table = store
        .create_table(&scope, venue, "7", 2, &change(), NOW)
        .await
        .unwrap();
    let PlaceOutcome::Created(order) = store
        .place_order(&scope, &order_for(venue, table.id, None, b"x"), &change(), NOW)
        .await
        .unwrap()
    else {
        panic!("not created")
    };
    assert_eq!(order.status, OrderStatus::Placed);
    assert_eq!(order.lines[0].modifiers, vec![text("Aguacate")]);
    accept_table(store, &scope, table.id).await;
    let accepted = store
        .transition_order(
            &scope,
            order.id,
            OrderStatus::Placed,
            OrderStatus::Accepted,
            "kitchen:ana",
            None,
            &change(),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(accepted.status, OrderStatus::Accepted);
    let stale = store
        .transition_order(
            &scope,
            order.id,
            OrderStatus::Placed,
            OrderStatus::Accepted,
            "kitchen:luis",
            None,
            &change(),
            NOW,
        )
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
    let events = store.order_events_after(&scope, venue, 0, 100).await.unwrap();
    let statuses: Vec<OrderStatus> = events.iter().map(|e| e.status).collect();
    assert_eq!(statuses, [OrderStatus::Placed, OrderStatus::Accepted]);
    assert!(events[0].seq < events[1].seq);
    assert_eq!(events[1].actor, "kitchen:ana");
    let later = store
        .order_events_after(&scope, venue, events[0].seq, 100)
        .await
        .unwrap();
    assert_eq!(later.len(), 1, "resume after the last seen event");
    assert_eq!(
        store
            .venue_orders(&scope, venue, Some(OrderStatus::Accepted), PageRequest::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert!(
        store
            .venue_orders(&scope, venue, Some(OrderStatus::Placed), PageRequest::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

/// A kitchen display follows the feed by asking for the events after the last one it saw. Orders placed at
/// the same moment at one venue commit in any order, so an event must never become visible behind one the
/// reader has already passed: every order placed while the reader polls reaches it.
pub async fn a_reader_following_the_feed_misses_no_concurrent_order(store: &dyn Store) {
    let scope = new_partner(store, "Rush hour").await;
    let venue = venue_of(store, &scope).await;
    let table = store
        .create_table(&scope, venue, "R1", 8, &change(), NOW)
        .await
        .unwrap();
    store
        .place_order(
            &scope,
            &order_for(venue, table.id, Some("opening"), b"o"),
            &change(),
            NOW,
        )
        .await
        .unwrap();
    accept_table(store, &scope, table.id).await;
    let orders: Vec<NewOrder> = (0..120)
        .map(|n| order_for(venue, table.id, Some(&format!("rush-{n}")), b"r"))
        .collect();
    let placing_done = std::sync::atomic::AtomicBool::new(false);
    // The display's starting point is read before anyone orders.
    let mut last = store.latest_order_event(&scope, venue).await.unwrap();
    let audit = change();
    let placing = async {
        for round in orders.chunks(12) {
            let outcomes =
                futures_join_all(round.iter().map(|o| store.place_order(&scope, o, &audit, NOW))).await;
            assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
        }
        placing_done.store(true, std::sync::atomic::Ordering::SeqCst);
    };
    let following = async {
        let mut seen = std::collections::BTreeSet::new();
        loop {
            // Read the flag before reading: a read that starts after placing ended sees every order.
            let finished = placing_done.load(std::sync::atomic::Ordering::SeqCst);
            for event in store.order_events_after(&scope, venue, last, 1000).await.unwrap() {
                assert!(event.seq > last);
                last = event.seq;
                seen.insert(event.order_id);
            }
            if finished {
                return seen;
            }
            tokio::task::yield_now().await;
        }
    };
    let ((), seen) = tokio::join!(placing, following);
    let missed: Vec<Uuid> = orders
        .iter()
        .map(|o| o.id)
        .filter(|id| !seen.contains(id))
        .collect();
    assert!(
        missed.is_empty(),
        "{} of {} orders never reached the reader",
        missed.len(),
        orders.len()
    );
}

pub async fn futures_join_all<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let handles: Vec<F> = futures.collect();
    let mut outputs = Vec::new();
    // Poll them all concurrently on this task.
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = handles.into_iter().map(Box::pin).collect();
    let mut done: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, slot) in pinned.iter_mut().zip(done.iter_mut()) {
            if slot.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(output) => *slot = Some(output),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.extend(done.into_iter().flatten());
    outputs
}

pub async fn one_signing_key_rotation_wins(store: &dyn Store) {
    let key = |kid: &str| StoredSigningKey {
        kid: kid.to_owned(),
        created_at: NOW,
        sealed_private: b"sealed".to_vec(),
        public_key: vec![1; 32],
        revoked_at: None,
    };
    let threshold = NOW - time::Duration::days(30);
    let (k1, k2) = (key("k1"), key("k2"));
    let (first, second) = tokio::join!(
        store.rotate_signing_key(&k1, threshold, false),
        store.rotate_signing_key(&k2, threshold, false)
    );
    assert_eq!(
        [first.unwrap(), second.unwrap()]
            .iter()
            .filter(|won| **won)
            .count(),
        1
    );
    assert_eq!(store.signing_keys().await.unwrap().len(), 1);
    let next = StoredSigningKey {
        created_at: NOW + time::Duration::days(31),
        ..key("k3")
    };
    assert!(
        store
            .rotate_signing_key(&next, NOW + time::Duration::days(1), false)
            .await
            .unwrap()
    );
    let keys = store.signing_keys().await.unwrap();
    assert_eq!(keys.len(), 2);
    assert!(
        keys.iter().all(|k| k.revoked_at.is_none()),
        "a plain rotation revokes nothing"
    );
    // A leaked key: the rotation that replaces it revokes every older key in its own transaction, at its instant.
    let revoking = StoredSigningKey {
        created_at: NOW + time::Duration::days(32),
        ..key("k4")
    };
    assert!(
        store
            .rotate_signing_key(&revoking, revoking.created_at, true)
            .await
            .unwrap()
    );
    let keys = store.signing_keys().await.unwrap();
    assert_eq!(keys.len(), 3);
    for k in &keys {
        let expected = (k.kid != "k4").then_some(revoking.created_at);
        assert_eq!(k.revoked_at, expected, "{}", k.kid);
    }
}

/// Marks an item sold out or back (the PATCH route's `{"available": …}` goes through `update_menu_item`).
pub async fn set_available(store: &dyn Store, scope: &TenantScope, item: Uuid, available: bool) -> MenuItem {
    let current = store.menu_item(scope, item).await.unwrap();
    store
        .update_menu_item(scope, &MenuItem { available, ..current }, &change(), NOW)
        .await
        .unwrap()
}
