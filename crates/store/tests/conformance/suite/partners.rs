//! Partners and venues: registration, every field round-trips, tenant separation, pagination.

use super::*;

pub const NOW: OffsetDateTime = datetime!(2026-11-23 12:00:00.123456 UTC);

pub async fn new_partner(store: &dyn Store, name: &str) -> TenantScope {
    let scope = TenantScope::for_new_partner();
    store
        .create_partner(&scope, &NewPartner::parse(name, "CO").unwrap(), NOW)
        .await
        .unwrap();
    scope
}

pub fn venue(name: &str) -> NewVenue {
    NewVenue::parse(
        name,
        "America/Bogota",
        "Calle 10 # 5-51, Bogotá",
        None,
        None,
        None,
    )
    .unwrap()
}

pub async fn partner_round_trips(store: &dyn Store) {
    let scope = new_partner(store, "Restaurante Ñandú & Cía").await;
    let partner = store.partner(&scope).await.unwrap();
    assert_eq!(partner.id, scope.partner());
    assert_eq!(partner.business_name, "Restaurante Ñandú & Cía");
    assert_eq!(partner.country.code(), "CO");
    assert_eq!(partner.created_at, NOW);
}

pub async fn registering_the_same_partner_twice_conflicts(store: &dyn Store) {
    let scope = new_partner(store, "Uno").await;
    let again = store
        .create_partner(&scope, &NewPartner::parse("Dos", "CO").unwrap(), NOW)
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
}

pub async fn venue_round_trips_every_field(store: &dyn Store) {
    let scope = new_partner(store, "Casa").await;
    let new = NewVenue::parse(
        "Café del Mar — Cartagena",
        "America/Bogota",
        "Baluarte de Santo Domingo",
        Some("USD"),
        Some(TaxRegime {
            kind: TaxKind::Iva,
            rate_bp: 1900,
        }),
        Some(0),
    )
    .unwrap();
    let created = store.create_venue(&scope, &new, &change(), NOW).await.unwrap();
    let read = store.venue(&scope, created.id).await.unwrap();
    assert_eq!(read, created);
    assert_eq!(read.partner_id, scope.partner());
    assert_eq!(read.currency, Currency::USD);
    assert_eq!(
        read.tax,
        TaxRegime {
            kind: TaxKind::Iva,
            rate_bp: 1900
        }
    );
    assert_eq!(read.created_at, NOW);
    assert_eq!(read.day_start_hour, 0);
    // The business day's start moves for the venue only, and only within its partner.
    let moved = store
        .set_day_start_hour(&scope, created.id, 6, &change(), NOW)
        .await
        .unwrap();
    assert_eq!(moved.day_start_hour, 6);
    assert_eq!(store.venue(&scope, created.id).await.unwrap(), moved);
    let other = new_partner(store, "Otra").await;
    let refused = store
        .set_day_start_hour(&other, created.id, 7, &change(), NOW)
        .await;
    assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    assert_eq!(store.venue(&scope, created.id).await.unwrap().day_start_hour, 6);
}

pub async fn tenant_rows_are_invisible_to_other_tenants(store: &dyn Store) {
    let a = new_partner(store, "Partner A").await;
    let b = new_partner(store, "Partner B").await;
    let venue_of_a = store
        .create_venue(&a, &venue("A's venue"), &change(), NOW)
        .await
        .unwrap();

    let seen_by_b = store.venue(&b, venue_of_a.id).await;
    assert!(matches!(seen_by_b, Err(StoreError::NotFound)), "{seen_by_b:?}");
    assert!(
        store
            .list_venues(&b, PageRequest::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(store.partner(&b).await.unwrap().business_name, "Partner B");

    let seen_by_a = store.list_venues(&a, PageRequest::default()).await.unwrap();
    assert_eq!(seen_by_a.items, vec![venue_of_a]);
}

pub async fn unknown_venue_is_not_found(store: &dyn Store) {
    let scope = new_partner(store, "Vacío").await;
    let missing = store.venue(&scope, comanda_domain::VenueId::mint()).await;
    assert!(matches!(missing, Err(StoreError::NotFound)));
    let feed = store.latest_order_event(&scope, Uuid::now_v7()).await;
    assert!(matches!(feed, Err(StoreError::NotFound)), "{feed:?}");
    let venue = store
        .create_venue(&scope, &venue("Nueva"), &change(), NOW)
        .await
        .unwrap();
    assert_eq!(
        store
            .latest_order_event(&scope, venue.id.as_uuid())
            .await
            .unwrap(),
        0
    );
}

pub async fn venues_paginate_in_creation_order(store: &dyn Store) {
    let scope = new_partner(store, "Cadena").await;
    let mut created = Vec::new();
    for n in 0..5 {
        created.push(
            store
                .create_venue(&scope, &venue(&format!("Sede {n}")), &change(), NOW)
                .await
                .unwrap()
                .id,
        );
    }
    let mut seen = Vec::new();
    let mut request = PageRequest {
        after: None,
        limit: 2,
    };
    loop {
        let page = store.list_venues(&scope, request).await.unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(|v| v.id));
        match page.next {
            Some(cursor) => request.after = Some(cursor),
            None => break,
        }
    }
    assert_eq!(seen, created);
}

pub async fn store_answers_ping(store: &dyn Store) {
    store.ping().await.unwrap();
}
