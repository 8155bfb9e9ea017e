//! The storage conformance suite: every case in `suite` runs unchanged against SQLite and against a real
//! PostgreSQL (a throwaway cluster of this process, one database per test). A second engine passes when it passes
//! this file; engine-specific walls (row-level security) are tested below it.

#![allow(clippy::unwrap_used)] // test helpers fail loudly on purpose

use comanda_store::testing::{PgTestDatabase, SqliteTestDatabase};

mod suite {
    use comanda_domain::{Currency, NewPartner, NewVenue, PageRequest, TaxKind, TaxRegime};
    use comanda_security::TenantScope;
    use comanda_store::{Store, StoreError};
    use time::OffsetDateTime;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-23 12:00:00.123456 UTC);

    pub async fn new_partner(store: &dyn Store, name: &str) -> TenantScope {
        let scope = TenantScope::for_new_partner();
        store
            .create_partner(&scope, &NewPartner::parse(name, "CO").unwrap(), NOW)
            .await
            .unwrap();
        scope
    }

    fn venue(name: &str) -> NewVenue {
        NewVenue::parse(name, "America/Bogota", "Calle 10 # 5-51, Bogotá", None, None).unwrap()
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
        )
        .unwrap();
        let created = store.create_venue(&scope, &new, NOW).await.unwrap();
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
    }

    pub async fn tenant_rows_are_invisible_to_other_tenants(store: &dyn Store) {
        let a = new_partner(store, "Partner A").await;
        let b = new_partner(store, "Partner B").await;
        let venue_of_a = store.create_venue(&a, &venue("A's venue"), NOW).await.unwrap();

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
    }

    pub async fn venues_paginate_in_creation_order(store: &dyn Store) {
        let scope = new_partner(store, "Cadena").await;
        let mut created = Vec::new();
        for n in 0..5 {
            created.push(
                store
                    .create_venue(&scope, &venue(&format!("Sede {n}")), NOW)
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
}

/// Runs each named suite case on both engines: `sqlite::<case>` and `postgres::<case>`.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            use super::*;
            $(
                #[tokio::test]
                async fn $case() {
                    let db = SqliteTestDatabase::create();
                    let store = db.store().await;
                    suite::$case(&*store).await;
                    store.close().await;
                }
            )*
        }
        mod postgres {
            use super::*;
            $(
                #[tokio::test]
                async fn $case() {
                    let db = PgTestDatabase::create().await;
                    let store = db.store().await;
                    suite::$case(&*store).await;
                    store.close().await;
                }
            )*
        }
    };
}

conformance!(
    partner_round_trips,
    registering_the_same_partner_twice_conflicts,
    venue_round_trips_every_field,
    tenant_rows_are_invisible_to_other_tenants,
    unknown_venue_is_not_found,
    venues_paginate_in_creation_order,
    store_answers_ping,
);

mod migrations {
    use super::*;

    #[tokio::test]
    async fn sqlite_migrations_apply_once() {
        let db = SqliteTestDatabase::create();
        let first = comanda_store::migrate(&db.target()).await.unwrap();
        assert!(!first.applied.is_empty());
        let second = comanda_store::migrate(&db.target()).await.unwrap();
        assert!(second.applied.is_empty());
        assert_eq!(first.version, second.version);
    }

    #[tokio::test]
    async fn postgres_migrations_apply_once() {
        // The template was migrated already; migrating its clone applies nothing and keeps the version.
        let db = PgTestDatabase::create().await;
        let report = comanda_store::migrate(&db.target()).await.unwrap();
        assert!(report.applied.is_empty());
        assert!(report.version >= 1);
    }

    #[tokio::test]
    async fn serving_needs_a_migrated_database() {
        let db = SqliteTestDatabase::create();
        let error = comanda_store::connect(&db.target()).await.unwrap_err();
        assert!(error.to_string().contains("comanda migrate"), "{error}");
    }
}

/// PostgreSQL's second wall: row-level security below the application's own tenant filter.
mod row_level_security {
    use super::*;
    use sqlx::{Connection, PgConnection};

    async fn seeded() -> (
        PgTestDatabase,
        comanda_security::TenantScope,
        comanda_security::TenantScope,
    ) {
        let db = PgTestDatabase::create().await;
        let store = db.store().await;
        let a = suite::new_partner(&*store, "A").await;
        let b = suite::new_partner(&*store, "B").await;
        for (scope, name) in [(&a, "A1"), (&a, "A2"), (&b, "B1")] {
            let venue = comanda_domain::NewVenue::parse(name, "America/Bogota", "", None, None).unwrap();
            store
                .create_venue(scope, &venue, time::macros::datetime!(2026-11-23 0:00 UTC))
                .await
                .unwrap();
        }
        store.close().await;
        (db, a, b)
    }

    async fn count(conn: &mut PgConnection, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(conn).await.unwrap()
    }

    #[tokio::test]
    async fn raw_query_without_tenant_setting_returns_zero_rows() {
        let (db, a, _) = seeded().await;
        let mut app = PgConnection::connect(&db.app_url()).await.unwrap();
        assert_eq!(count(&mut app, "SELECT count(*) FROM venues").await, 0);
        assert_eq!(count(&mut app, "SELECT count(*) FROM partners").await, 0);

        // The same raw query with the tenant set sees exactly that tenant's rows.
        let mut tx = app.begin().await.unwrap();
        sqlx::query("SELECT set_config('comanda.tenant', $1, true)")
            .bind(a.partner().to_string())
            .execute(&mut *tx)
            .await
            .unwrap();
        assert_eq!(count(&mut tx, "SELECT count(*) FROM venues").await, 2);
        tx.rollback().await.unwrap();

        // The superuser (who bypasses RLS) proves the rows are there.
        let mut root = PgConnection::connect(&db.superuser_url()).await.unwrap();
        assert_eq!(count(&mut root, "SELECT count(*) FROM venues").await, 3);
    }

    #[tokio::test]
    async fn forced_rls_binds_the_table_owner_too() {
        let (db, _, _) = seeded().await;
        let mut owner = PgConnection::connect(&db.owner_url()).await.unwrap();
        assert_eq!(count(&mut owner, "SELECT count(*) FROM venues").await, 0);
    }

    #[tokio::test]
    async fn rls_refuses_writing_into_another_tenant() {
        let (db, a, b) = seeded().await;
        let mut app = PgConnection::connect(&db.app_url()).await.unwrap();
        let mut tx = app.begin().await.unwrap();
        sqlx::query("SELECT set_config('comanda.tenant', $1, true)")
            .bind(a.partner().to_string())
            .execute(&mut *tx)
            .await
            .unwrap();
        let forged = sqlx::query(
            "INSERT INTO venues (partner_id, id, name, timezone, address, currency, tax_kind, tax_rate_bp,
             created_at) VALUES ($1, gen_random_uuid(), 'forged', 'UTC', '', 'COP', 'inc', 800, now())",
        )
        .bind(b.partner().as_uuid())
        .execute(&mut *tx)
        .await
        .unwrap_err();
        assert!(forged.to_string().contains("row-level security"), "{forged}");
        tx.rollback().await.unwrap();
        // Updates and deletes across tenants touch nothing.
        let mut tx = app.begin().await.unwrap();
        sqlx::query("SELECT set_config('comanda.tenant', $1, true)")
            .bind(a.partner().to_string())
            .execute(&mut *tx)
            .await
            .unwrap();
        let deleted = sqlx::query("DELETE FROM venues WHERE partner_id = $1")
            .bind(b.partner().as_uuid())
            .execute(&mut *tx)
            .await
            .unwrap();
        assert_eq!(deleted.rows_affected(), 0);
    }

    #[tokio::test]
    async fn serving_as_a_role_that_bypasses_rls_is_refused() {
        let db = PgTestDatabase::create().await;
        let error = comanda_store::postgres::PgStore::connect(&db.superuser_url(), 1)
            .await
            .unwrap_err();
        assert!(error.to_string().contains("BYPASSRLS"), "{error}");
    }
}
