//! The storage conformance suite: every case in `suite` (one module per aggregate) runs unchanged against SQLite and against a real
//! PostgreSQL (a throwaway cluster of this process, one database per test). A second engine passes when it passes
//! this file; engine-specific walls (row-level security) are tested below it.

#![allow(clippy::unwrap_used)] // test helpers fail loudly on purpose

use comanda_store::testing::{PgTestDatabase, SqliteTestDatabase};

/// The audit entry of a change made by a test (every change carries one, MON-5).
fn change() -> comanda_store::identity::AuditEntry {
    comanda_store::identity::AuditEntry::new("test.change")
}

mod suite;

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
                    db.assert_instants_fixed_width().await;
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
    a_party_moves_tables_with_its_bill,
    a_seated_party_moves_with_its_booking,
    alerts_wait_for_routing_oldest_first,
    instants_within_one_second_compare_as_time,
    an_offboarded_partner_is_named_to_the_payment_upkeep,
    disclosure_reports_keep_their_steps_once,
    incidents_keep_a_timeline_and_their_breach_record,
    every_roll_up_equals_a_recomputation_from_the_raw_rows,
    a_refund_takes_back_its_sales_before_tax,
    a_paid_order_cancelled_after_its_refund_leaves_the_sales_once,
    a_refunded_order_cancelled_after_the_next_order_still_leaves_that_order_owed,
    a_table_whose_orders_were_all_cancelled_is_no_turn,
    an_order_paid_by_choosing_its_line_keeps_that_money_when_cancelled,
    a_failed_refund_gives_the_bill_its_payment_back,
    a_cancellation_waits_for_a_payment_that_decides_its_sales,
    partner_round_trips,
    registering_the_same_partner_twice_conflicts,
    venue_round_trips_every_field,
    tenant_rows_are_invisible_to_other_tenants,
    unknown_venue_is_not_found,
    venues_paginate_in_creation_order,
    store_answers_ping,
    registration_creates_partner_owner_and_login_record,
    staff_of_one_partner_are_invisible_to_another,
    totp_enrolment_replay_and_recovery_codes,
    refresh_tokens_rotate_and_reuse_revokes_the_family,
    refresh_retry_within_grace_replaces_the_unused_successor_and_its_later_use_is_reuse,
    refresh_family_expires_absolutely,
    revoking_sessions_voids_refresh_tokens,
    revocations_move_the_credential_generation_on,
    second_factor_changes_replace_codes_and_revoke,
    invitations_are_single_use_expiring_and_mailed,
    standing_changes_and_removal,
    members_work_at_the_venues_they_are_given,
    sign_in_failures_reach_the_right_partner,
    devices_and_security_events,
    sign_in_places_remember_each_country_latest_first,
    one_signing_key_rotation_wins,
    tables_have_rotatable_tokens_and_stay_in_their_tenant,
    a_retired_table_leaves_the_floor_but_keeps_its_history,
    menus_round_trip_and_items_stay_in_their_venue,
    menu_items_and_categories_are_edited_and_removed,
    table_sessions_gate_the_kitchen_and_close_cleanly,
    five_hundred_and_one_orders_are_read_page_by_page,
    guests_cancel_only_their_own_unaccepted_orders,
    twenty_concurrent_retries_create_one_order,
    orders_move_forward_once_and_leave_events,
    a_guest_reads_its_venue_and_table_together_and_nothing_else,
    a_guest_order_is_priced_in_its_transaction_from_only_what_it_names,
    a_reader_following_the_feed_misses_no_concurrent_order,
    parallel_payers_never_cover_more_than_the_bill,
    line_parts_are_charged_against_the_claims_current_under_the_lock,
    an_event_applies_once_however_often_it_is_delivered,
    refunds_reverse_in_proportion_and_big_ones_need_a_second_person,
    a_refund_that_fails_after_it_succeeded_is_undone_and_its_share_owed_back,
    cash_pays_the_bill_and_a_void_takes_it_back,
    a_cancelled_order_keeps_what_the_card_paid_beside_cash,
    an_order_guests_paid_for_is_cancelled_only_after_their_refund,
    a_refund_asked_again_with_its_key_is_the_first_refund,
    an_idempotency_key_names_one_request_answered_once,
    disputes_leave_a_debt_netted_against_later_transfers,
    audit_chain_links_every_append_across_months,
    audit_retention_drops_old_months_behind_their_final_checkpoint,
    personal_data_is_sealed_rectified_and_shredded,
    data_subjects_are_found_by_email_or_phone_digest,
    claims_refuse_a_second_booking_of_a_table_at_an_overlapping_time,
    a_deposit_moves_once_from_awaited_to_settled,
    an_offer_holds_its_table_until_it_expires,
    an_erased_guest_leaves_the_waitlist_and_frees_an_offered_table,
    a_waitlist_booking_that_never_came_about_ends_its_entry,
    a_table_combination_is_withdrawn_once_and_only_by_its_venue,
    the_host_list_holds_the_days_bookings_with_their_deposits_and_guests,
    a_no_show_is_seated_only_while_its_tables_and_time_are_its_own,
    the_host_waitlist_holds_the_days_parties_with_their_guests,
);

mod sqlite_walls {
    use super::*;
    use sqlx::{Connection, SqliteConnection};

    #[tokio::test]
    async fn sqlite_audit_log_is_append_only() {
        let db = SqliteTestDatabase::create();
        let store = db.store().await;
        let (scope, _) = suite::registered(&*store, "audit@example.co").await;
        // The registration's entries wait to be linked until the chain is read; a venue's entry then waits.
        store.audit_heads(&scope).await.unwrap();
        store
            .create_venue(&scope, &suite::venue("Espera"), &change(), suite::NOW)
            .await
            .unwrap();
        store.close().await;
        let mut conn = SqliteConnection::connect(&db.url).await.unwrap();
        let edit_waiting = sqlx::query("UPDATE audit_pending SET action = 'forged'")
            .execute(&mut conn)
            .await
            .unwrap_err();
        assert!(edit_waiting.to_string().contains("append-only"), "{edit_waiting}");
        let edit = sqlx::query("UPDATE audit_events SET action = 'forged'")
            .execute(&mut conn)
            .await
            .unwrap_err();
        assert!(edit.to_string().contains("append-only"), "{edit}");
        let delete = sqlx::query("DELETE FROM audit_events")
            .execute(&mut conn)
            .await
            .unwrap_err();
        assert!(delete.to_string().contains("append-only"), "{delete}");
    }
}

/// The append-only guards are checked, not trusted: a trigger dropped (or, on PostgreSQL, disabled) by someone with
/// the owner's rights is named by `missing_audit_guards`, which `audit verify` and the audit upkeep read.
mod audit_guards {
    use super::*;
    use sqlx::Connection;

    #[tokio::test]
    async fn sqlite_a_dropped_guard_is_named() {
        let db = SqliteTestDatabase::create();
        let store = db.store().await;
        assert_eq!(store.missing_audit_guards().await.unwrap(), Vec::<&str>::new());
        let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        sqlx::query("DROP TRIGGER audit_events_no_update")
            .execute(&mut conn)
            .await
            .unwrap();
        let _ = conn.close().await;
        assert_eq!(
            store.missing_audit_guards().await.unwrap(),
            ["audit_events_no_update"]
        );
        store.close().await;
    }

    #[tokio::test]
    async fn postgres_a_dropped_or_disabled_guard_is_named() {
        let db = PgTestDatabase::create().await;
        let store = db.store().await;
        assert_eq!(store.missing_audit_guards().await.unwrap(), Vec::<&str>::new());
        let mut owner = sqlx::PgConnection::connect(&db.superuser_url()).await.unwrap();
        sqlx::raw_sql(
            "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only;
             DROP TRIGGER audit_heads_no_truncate ON audit_heads;",
        )
        .execute(&mut owner)
        .await
        .unwrap();
        let _ = owner.close().await;
        assert_eq!(
            store.missing_audit_guards().await.unwrap(),
            ["audit_events_append_only", "audit_heads_no_truncate"]
        );
        store.close().await;
    }
}

mod migrations {
    use super::*;

    /// 0039 on instants SQLite kept before it (RFC 3339 text whose fraction dropped its trailing zeros): each becomes
    /// the same instant at the fixed width, so they then read back in time order; running it again changes nothing.
    #[tokio::test]
    async fn sqlite_0039_rewrites_earlier_instants_at_a_fixed_width() {
        let db = SqliteTestDatabase::create();
        let store = db.store().await;
        let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&db.url)
            .await
            .unwrap();
        let written = [
            "2026-12-02T05:00:00.55Z",
            "2026-12-02T05:00:00Z",
            "2026-12-02T05:00:00.3Z",
        ];
        for (n, at) in written.iter().enumerate() {
            sqlx::query("INSERT INTO alerts (id, kind, detail, created_at) VALUES ($1, 'test.old', '', $2)")
                .bind(format!("00000000-0000-7000-8000-00000000000{n}"))
                .bind(at)
                .execute(&mut conn)
                .await
                .unwrap();
        }
        let migration = include_str!("../../migrations/sqlite/0039_fixed_width_instants.sql");
        for _ in 0..2 {
            sqlx::raw_sql(migration).execute(&mut conn).await.unwrap();
            let stored: Vec<String> = sqlx::query_scalar("SELECT created_at FROM alerts ORDER BY created_at")
                .fetch_all(&mut conn)
                .await
                .unwrap();
            assert_eq!(
                stored,
                [
                    "2026-12-02T05:00:00.000000000Z",
                    "2026-12-02T05:00:00.300000000Z",
                    "2026-12-02T05:00:00.550000000Z"
                ]
            );
        }
        let since = time::macros::datetime!(2026-12-02 05:00:00 UTC);
        assert_eq!(store.unrouted_alerts(since, 10).await.unwrap().len(), 3);
        store.close().await;
    }

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

    async fn sqlite_connection(db: &SqliteTestDatabase) -> sqlx::SqliteConnection {
        <sqlx::SqliteConnection as sqlx::Connection>::connect(&db.url)
            .await
            .unwrap()
    }

    /// A backfill as the migrations run it: by the owner, with row-level security forced on it (the migration lifts
    /// it for its own transaction), checked by the superuser, who sees every partner's rows.
    async fn reader_and_migrator(db: &PgTestDatabase) -> (sqlx::PgConnection, sqlx::PgConnection) {
        let connect = async |url: String| {
            <sqlx::PgConnection as sqlx::Connection>::connect(&url)
                .await
                .unwrap()
        };
        (connect(db.superuser_url()).await, connect(db.owner_url()).await)
    }

    /// Migration 0033's statements minus its new columns: what it does to rows written before it.
    fn refund_tax_backfill(file: &str) -> Vec<String> {
        file.split(';')
            .map(|statement| {
                statement
                    .lines()
                    .filter(|line| !line.trim_start().starts_with("--"))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .filter(|statement| !statement.trim().is_empty() && !statement.contains("ADD COLUMN"))
            .collect()
    }

    /// The refund tax of rows written before 0033, as the migration gives it (run through `migrator`), is what the
    /// live path writes (read through `reader`, which sees every partner's rows).
    async fn backfill_matches_the_live_path<Db: sqlx::Database>(
        reader: &mut Db::Connection,
        migrator: &mut Db::Connection,
        file: &str,
    ) where
        for<'c> &'c mut Db::Connection: sqlx::Executor<'c, Database = Db>,
        <Db as sqlx::Database>::Arguments: sqlx::IntoArguments<Db>,
        i64: for<'r> sqlx::Decode<'r, Db> + sqlx::Type<Db>,
        usize: sqlx::ColumnIndex<Db::Row>,
    {
        const WRITTEN: &str = "SELECT CAST((SELECT sum(tax_part) FROM refunds) AS BIGINT),
                                      CAST((SELECT sum(refund_tax) FROM sales_quarters) AS BIGINT)";
        let live: (i64, i64) = sqlx::query_as(WRITTEN).fetch_one(&mut *reader).await.unwrap();
        assert_eq!(live, (162_222, 162_222));
        sqlx::query("UPDATE refunds SET tax_part = 0")
            .execute(&mut *reader)
            .await
            .unwrap();
        sqlx::query("UPDATE sales_quarters SET refund_tax = 0")
            .execute(&mut *reader)
            .await
            .unwrap();
        for statement in refund_tax_backfill(file) {
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&mut *migrator)
                .await
                .unwrap();
        }
        let backfilled: (i64, i64) = sqlx::query_as(WRITTEN).fetch_one(&mut *reader).await.unwrap();
        assert_eq!(backfilled, live);
    }

    #[tokio::test]
    async fn sqlite_refunds_before_0033_get_their_tax() {
        let db = SqliteTestDatabase::create();
        let store = db.store().await;
        suite::a_refund_takes_back_its_sales_before_tax(&*store).await;
        store.close().await;
        let (mut reader, mut migrator) = (sqlite_connection(&db).await, sqlite_connection(&db).await);
        // Quarters as SQLite kept them before 0039 (whole seconds, no fraction), the form 0033's backfill matches.
        sqlx::query("UPDATE sales_quarters SET quarter = substr(quarter, 1, 19) || 'Z'")
            .execute(&mut reader)
            .await
            .unwrap();
        backfill_matches_the_live_path::<sqlx::Sqlite>(
            &mut reader,
            &mut migrator,
            include_str!("../../migrations/sqlite/0033_refund_tax.sql"),
        )
        .await;
    }

    #[tokio::test]
    async fn postgres_refunds_before_0033_get_their_tax() {
        let db = PgTestDatabase::create().await;
        let store = db.store().await;
        suite::a_refund_takes_back_its_sales_before_tax(&*store).await;
        store.close().await;
        let (mut reader, mut migrator) = reader_and_migrator(&db).await;
        backfill_matches_the_live_path::<sqlx::Postgres>(
            &mut reader,
            &mut migrator,
            include_str!("../../migrations/postgres/0033_refund_tax.sql"),
        )
        .await;
    }

    /// Rows written by the live path: a paid booking cancelled by its guest, two waitlist bookings that never came
    /// about (one declined, one whose deposit was never paid).
    async fn bookings_cancelled_and_lapsed(store: &dyn comanda_store::Store) {
        suite::a_deposit_moves_once_from_awaited_to_settled(store).await;
        suite::a_waitlist_booking_that_never_came_about_ends_its_entry(store).await;
    }

    /// 0046 on reservations written before it, which ended `cancelled` either way: the offers and deposit holds that
    /// never became a booking are `lapsed` again, as the live path writes them now (read through `reader`, which sees
    /// every partner's rows), and a booking cancelled once made stays `cancelled`.
    async fn lapsed_backfill_matches_the_live_path<Db: sqlx::Database>(
        reader: &mut Db::Connection,
        migrator: &mut Db::Connection,
        file: &str,
    ) where
        for<'c> &'c mut Db::Connection: sqlx::Executor<'c, Database = Db>,
        <Db as sqlx::Database>::Arguments: sqlx::IntoArguments<Db>,
        String: for<'r> sqlx::Decode<'r, Db> + sqlx::Type<Db>,
        usize: sqlx::ColumnIndex<Db::Row>,
    {
        const STATUSES: &str = "SELECT status FROM reservations ORDER BY created_at, start_at";
        let live: Vec<(String,)> = sqlx::query_as(STATUSES).fetch_all(&mut *reader).await.unwrap();
        let count = |status: &str| live.iter().filter(|(s,)| s == status).count();
        assert_eq!((count("cancelled"), count("lapsed")), (1, 2), "{live:?}");
        sqlx::query("UPDATE reservations SET status = 'cancelled' WHERE status = 'lapsed'")
            .execute(&mut *reader)
            .await
            .unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(file))
            .execute(&mut *migrator)
            .await
            .unwrap();
        let backfilled: Vec<(String,)> = sqlx::query_as(STATUSES).fetch_all(&mut *reader).await.unwrap();
        assert_eq!(backfilled, live);
    }

    #[tokio::test]
    async fn sqlite_offers_and_holds_before_0046_lapse() {
        let db = SqliteTestDatabase::create();
        let store = db.store().await;
        bookings_cancelled_and_lapsed(&*store).await;
        store.close().await;
        let (mut reader, mut migrator) = (sqlite_connection(&db).await, sqlite_connection(&db).await);
        lapsed_backfill_matches_the_live_path::<sqlx::Sqlite>(
            &mut reader,
            &mut migrator,
            include_str!("../../migrations/sqlite/0046_lapsed_reservations.sql"),
        )
        .await;
    }

    #[tokio::test]
    async fn postgres_offers_and_holds_before_0046_lapse() {
        let db = PgTestDatabase::create().await;
        let store = db.store().await;
        bookings_cancelled_and_lapsed(&*store).await;
        store.close().await;
        let (mut reader, mut migrator) = reader_and_migrator(&db).await;
        lapsed_backfill_matches_the_live_path::<sqlx::Postgres>(
            &mut reader,
            &mut migrator,
            include_str!("../../migrations/postgres/0046_lapsed_reservations.sql"),
        )
        .await;
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
            let venue =
                comanda_domain::NewVenue::parse(name, "America/Bogota", "", None, None, None).unwrap();
            store
                .create_venue(
                    scope,
                    &venue,
                    &change(),
                    time::macros::datetime!(2026-11-23 0:00 UTC),
                )
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
    async fn audit_log_is_append_only_for_the_serving_role() {
        let db = PgTestDatabase::create().await;
        let store = db.store().await;
        let (scope, _) = suite::registered(&*store, "audit@example.co").await;
        // The registration's entries wait to be linked until the chain is read; a venue's entry then waits.
        store.audit_heads(&scope).await.unwrap();
        store
            .create_venue(&scope, &suite::venue("Espera"), &change(), suite::NOW)
            .await
            .unwrap();
        store.close().await;
        let mut app = PgConnection::connect(&db.app_url()).await.unwrap();
        for edit in [
            "UPDATE audit_events SET action = 'forged'",
            "UPDATE audit_pending SET action = 'forged'",
        ] {
            let mut tx = app.begin().await.unwrap();
            sqlx::query("SELECT set_config('comanda.tenant', $1, true)")
                .bind(scope.partner().to_string())
                .execute(&mut *tx)
                .await
                .unwrap();
            let edited = sqlx::query(edit).execute(&mut *tx).await;
            assert!(
                edited.is_err(),
                "the serving role cannot edit audit entries: {edit}"
            );
            tx.rollback().await.unwrap();
        }
        // Nor delete or truncate them: retention's function is its only way to delete.
        for statement in [
            "DELETE FROM audit_events",
            "TRUNCATE audit_events",
            "TRUNCATE audit_checkpoints",
        ] {
            let mut tx = app.begin().await.unwrap();
            sqlx::query("SELECT set_config('comanda.tenant', $1, true)")
                .bind(scope.partner().to_string())
                .execute(&mut *tx)
                .await
                .unwrap();
            let refused = sqlx::query(statement).execute(&mut *tx).await.unwrap_err();
            assert!(
                refused.to_string().contains("permission denied"),
                "{statement}: {refused}"
            );
            tx.rollback().await.unwrap();
        }
        // The schema owner may truncate its tables, except these: the statement trigger refuses it.
        let mut owner = PgConnection::connect(&db.owner_url()).await.unwrap();
        for table in ["audit_events", "audit_checkpoints", "audit_heads"] {
            let refused = sqlx::query(sqlx::AssertSqlSafe(format!("TRUNCATE {table} CASCADE")))
                .execute(&mut owner)
                .await
                .unwrap_err();
            assert!(
                refused.to_string().contains("TRUNCATE is refused"),
                "{table}: {refused}"
            );
        }
        // Not even the owner (who has the privilege) gets past the row trigger.
        let mut tx = owner.begin().await.unwrap();
        sqlx::query("SELECT set_config('comanda.tenant', $1, true)")
            .bind(scope.partner().to_string())
            .execute(&mut *tx)
            .await
            .unwrap();
        let delete = sqlx::query("DELETE FROM audit_events")
            .execute(&mut *tx)
            .await
            .unwrap_err();
        assert!(delete.to_string().contains("append-only"), "{delete}");
    }

    #[tokio::test]
    async fn staff_rows_are_behind_row_level_security() {
        let db = PgTestDatabase::create().await;
        let store = db.store().await;
        suite::registered(&*store, "rls@example.co").await;
        store.close().await;
        let mut app = PgConnection::connect(&db.app_url()).await.unwrap();
        for table in [
            "staff",
            "audit_events",
            "recovery_codes",
            "security_events",
            "known_devices",
        ] {
            let sql = format!("SELECT count(*) FROM {table}");
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&mut app)
                .await
                .unwrap();
            assert_eq!(n, 0, "{table} visible without a tenant");
        }
    }

    #[tokio::test]
    async fn serving_as_a_role_that_bypasses_rls_is_refused() {
        let db = PgTestDatabase::create().await;
        let error = comanda_store::postgres::PgStore::connect(&db.superuser_url(), 1, None)
            .await
            .unwrap_err();
        assert!(error.to_string().contains("BYPASSRLS"), "{error}");
    }
}

/// REST-3 on both engines: after a new key-encryption-key version, the rewrap moves every stored data key to it,
/// once, and the data they sealed still opens (with a fresh store, so nothing comes from a cache).
/// Pooled connections are not pinged on every use (a round trip per transaction); one that sat idle is, so a
/// database that dropped its connections meanwhile costs a request nothing.
mod pooled_connections {
    use super::*;
    use sqlx::{Connection, PgConnection};

    #[tokio::test]
    async fn connections_the_database_dropped_while_idle_are_replaced_unseen() {
        let db = PgTestDatabase::create().await;
        let store = db.store().await;
        let scope = suite::new_partner(&*store, "Reconnect").await;
        let mut superuser = PgConnection::connect(&db.superuser_url()).await.unwrap();
        let dropped: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
              WHERE datname = current_database() AND pid <> pg_backend_pid() AND usename <> current_user) AS t",
        )
        .fetch_one(&mut superuser)
        .await
        .unwrap();
        assert!(dropped >= 1, "the store's connections were terminated");
        tokio::time::sleep(comanda_store::PING_AFTER_IDLE + std::time::Duration::from_millis(200)).await;
        for _ in 0..3 {
            store.ping().await.unwrap();
            assert_eq!(
                store
                    .list_venues(&scope, comanda_domain::PageRequest::default())
                    .await
                    .unwrap()
                    .items
                    .len(),
                0
            );
        }
        store.close().await;
    }
}

mod key_rotation {
    use super::*;
    use comanda_security::kms::{Kms, LocalKeyKms};
    use comanda_store::DatabaseTarget;
    use std::sync::Arc;

    async fn data_keys_move_to_the_newest_kek(target: DatabaseTarget) {
        let kms = Arc::new(LocalKeyKms::from_bytes(&[9u8; 32]).unwrap());
        let target = DatabaseTarget {
            kms: Some(kms.clone()),
            ..target
        };
        let store = comanda_store::open(&target).await.unwrap();
        let (scope, owner) = suite::registered(&*store, "rotacion@example.co").await;
        assert_eq!(kms.create_new_version().unwrap(), 2);
        assert_eq!(
            store.rewrap_data_keys(&scope).await.unwrap(),
            1,
            "the owner's key"
        );
        assert_eq!(store.rewrap_data_keys(&scope).await.unwrap(), 0, "already moved");
        store.close().await;
        let fresh = comanda_store::connect(&target).await.unwrap();
        let member = fresh.staff_member(&scope, owner).await.unwrap();
        assert_eq!(member.email, "rotacion@example.co");
        fresh.close().await;
    }

    #[tokio::test]
    async fn sqlite_data_keys_move_to_the_newest_kek() {
        let db = SqliteTestDatabase::create();
        data_keys_move_to_the_newest_kek(db.target()).await;
    }

    #[tokio::test]
    async fn postgres_data_keys_move_to_the_newest_kek() {
        let db = PgTestDatabase::create().await;
        data_keys_move_to_the_newest_kek(db.target()).await;
    }
}
