//! The storage conformance suite: every case in `suite` runs unchanged against SQLite and against a real
//! PostgreSQL (a throwaway cluster of this process, one database per test). A second engine passes when it passes
//! this file; engine-specific walls (row-level security) are tested below it.

#![allow(clippy::unwrap_used)] // test helpers fail loudly on purpose

use comanda_store::testing::{PgTestDatabase, SqliteTestDatabase};

/// The audit entry of a change made by a test (every change carries one, MON-5).
fn change() -> comanda_store::identity::AuditEntry {
    comanda_store::identity::AuditEntry::new("test.change")
}

mod suite {
    use super::change;
    use comanda_domain::{Currency, NewPartner, NewVenue, PageRequest, TaxKind, TaxRegime};
    use comanda_security::TenantScope;
    use comanda_store::{Store, StoreError};
    use time::OffsetDateTime;
    use time::macros::datetime;

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

    // ----- identity -----

    use comanda_domain::{Role, Standing};
    use comanda_store::identity::{
        AuditEntry, NewInvitation, NewStaff, OutboxMessage, RefreshOutcome, SecondFactorChange,
        StoredSigningKey,
    };
    use uuid::Uuid;

    const OWNER: Standing = Standing {
        role: Role::Owner,
        payout_authority: false,
    };
    const SERVER: Standing = Standing {
        role: Role::Server,
        payout_authority: false,
    };

    fn new_staff(email: &str, standing: Standing) -> NewStaff {
        NewStaff {
            id: Uuid::now_v7(),
            email: email.to_owned(),
            email_key: format!("key:{email}").into_bytes(),
            name: format!("Name of {email}"),
            standing,
            password_hash: "$2b$04$hash".to_owned(),
        }
    }

    pub async fn registered(store: &dyn Store, email: &str) -> (TenantScope, Uuid) {
        let scope = TenantScope::for_new_partner();
        let owner = new_staff(email, OWNER);
        let partner = NewPartner::parse("Casa Identidad", "CO").unwrap();
        let audit = AuditEntry::new("partner.registered").actor(owner.id);
        store
            .register_partner(&scope, &partner, &owner, &audit, NOW)
            .await
            .unwrap();
        (scope, owner.id)
    }

    pub async fn registration_creates_partner_owner_and_login_record(store: &dyn Store) {
        let (scope, owner) = registered(store, "ana@example.co").await;
        let member = store.staff_member(&scope, owner).await.unwrap();
        assert_eq!(member.standing, OWNER);
        assert!(!member.totp_enabled);
        assert_eq!(member.email, "ana@example.co");
        let record = store.login_record(b"key:ana@example.co").await.unwrap().unwrap();
        assert_eq!((record.partner, record.user), (scope.partner(), owner));
        assert!(store.login_record(b"key:nobody").await.unwrap().is_none());
        let events = store
            .search_audit(
                &scope,
                &comanda_store::audit::AuditFilter::default(),
                PageRequest::default(),
            )
            .await
            .unwrap()
            .items;
        assert_eq!(events[0].entry.action, "partner.registered");
        assert_eq!(events[0].entry.actor, Some(owner));

        let again = TenantScope::for_new_partner();
        let taken = store
            .register_partner(
                &again,
                &NewPartner::parse("Otra", "CO").unwrap(),
                &new_staff("ana@example.co", OWNER),
                &AuditEntry::new("partner.registered"),
                NOW,
            )
            .await;
        assert!(matches!(taken, Err(StoreError::Conflict(_))), "{taken:?}");
        assert!(
            matches!(store.partner(&again).await, Err(StoreError::NotFound)),
            "nothing half-written"
        );
    }

    pub async fn staff_of_one_partner_are_invisible_to_another(store: &dyn Store) {
        let (a, owner_a) = registered(store, "a@example.co").await;
        let (b, _) = registered(store, "b@example.co").await;
        assert!(matches!(
            store.staff_member(&b, owner_a).await,
            Err(StoreError::NotFound)
        ));
        let listed = store.list_staff(&b, PageRequest::default()).await.unwrap().items;
        assert!(listed.iter().all(|m| m.partner_id == b.partner()));
        let audit = AuditEntry::new("staff.role_changed");
        assert!(
            store
                .change_standing(&b, owner_a, SERVER, &audit, NOW)
                .await
                .is_err()
        );
        assert!(store.remove_staff(&b, owner_a, &audit, NOW).await.is_err());
        assert_eq!(
            store.staff_member(&a, owner_a).await.unwrap().standing,
            OWNER,
            "untouched"
        );
    }

    pub async fn totp_enrolment_replay_and_recovery_codes(store: &dyn Store) {
        let (scope, user) = registered(store, "totp@example.co").await;
        store
            .set_pending_totp_secret(&scope, user, b"sealed-secret")
            .await
            .unwrap();
        let state = store.totp_state(&scope, user).await.unwrap();
        assert_eq!(state.sealed_secret.as_deref(), Some(&b"sealed-secret"[..]));
        assert!(!state.confirmed);
        let codes = vec![b"rc1".to_vec(), b"rc2".to_vec()];
        store
            .confirm_totp(&scope, user, 100, &codes, &AuditEntry::new("mfa.enrolled"), NOW)
            .await
            .unwrap();
        assert!(store.staff_member(&scope, user).await.unwrap().totp_enabled);
        assert!(matches!(
            store.set_pending_totp_secret(&scope, user, b"other").await,
            Err(StoreError::Conflict(_))
        ));
        assert!(
            !store.accept_totp_step(&scope, user, 100).await.unwrap(),
            "the enrolment code's step is spent"
        );
        assert!(store.accept_totp_step(&scope, user, 101).await.unwrap());
        assert!(
            !store.accept_totp_step(&scope, user, 101).await.unwrap(),
            "replayed"
        );
        assert!(!store.accept_totp_step(&scope, user, 99).await.unwrap(), "older");
        let audit = AuditEntry::new("mfa.recovery_code_used");
        assert!(
            store
                .use_recovery_code(&scope, user, b"rc1", &audit, NOW)
                .await
                .unwrap()
        );
        assert!(
            !store
                .use_recovery_code(&scope, user, b"rc1", &audit, NOW)
                .await
                .unwrap(),
            "single use"
        );
        assert!(
            !store
                .use_recovery_code(&scope, user, b"unknown", &audit, NOW)
                .await
                .unwrap()
        );
    }

    /// Whether the member's session reads as alive, checked the way every authenticated request checks it.
    async fn session_live(
        store: &dyn Store,
        scope: &TenantScope,
        user: Uuid,
        family: Uuid,
        now: OffsetDateTime,
    ) -> bool {
        let (member, live) = store
            .staff_member_in_session(scope, user, family, now)
            .await
            .unwrap();
        assert_eq!(member.id, user);
        live
    }

    pub async fn refresh_tokens_rotate_and_reuse_revokes_the_family(store: &dyn Store) {
        let (scope, user) = registered(store, "rt@example.co").await;
        let family = Uuid::now_v7();
        let grace = time::Duration::seconds(10);
        let expires = NOW + time::Duration::days(30);
        store
            .create_session(&scope, user, family, 0, b"t1", expires, NOW)
            .await
            .unwrap();
        assert!(session_live(store, &scope, user, family, NOW).await);
        assert_eq!(
            store
                .rotate_refresh(&scope, b"t1", b"t2", grace, NOW)
                .await
                .unwrap(),
            RefreshOutcome::Rotated
        );
        let later = NOW + time::Duration::minutes(5);
        assert_eq!(
            store
                .rotate_refresh(&scope, b"t2", b"t3", grace, later)
                .await
                .unwrap(),
            RefreshOutcome::Rotated
        );
        // t1 comes back long after it was spent: reuse.
        assert_eq!(
            store
                .rotate_refresh(&scope, b"t1", b"tx", grace, later)
                .await
                .unwrap(),
            RefreshOutcome::ReuseDetected
        );
        assert_eq!(
            store
                .rotate_refresh(&scope, b"t3", b"t4", grace, later)
                .await
                .unwrap(),
            RefreshOutcome::Invalid
        );
        assert!(!session_live(store, &scope, user, family, later).await);
        let record = store.refresh_record(b"t3").await.unwrap().unwrap();
        assert!(record.revoked_at.is_some());
        assert_eq!(
            store
                .rotate_refresh(&scope, b"nope", b"t5", grace, later)
                .await
                .unwrap(),
            RefreshOutcome::Invalid
        );
    }

    pub async fn refresh_retry_within_grace_replaces_the_unused_successor(store: &dyn Store) {
        let (scope, user) = registered(store, "retry@example.co").await;
        let family = Uuid::now_v7();
        let grace = time::Duration::seconds(10);
        store
            .create_session(
                &scope,
                user,
                family,
                0,
                b"r1",
                NOW + time::Duration::days(30),
                NOW,
            )
            .await
            .unwrap();
        assert_eq!(
            store
                .rotate_refresh(&scope, b"r1", b"r2", grace, NOW)
                .await
                .unwrap(),
            RefreshOutcome::Rotated
        );
        let retry = NOW + time::Duration::seconds(3);
        assert_eq!(
            store
                .rotate_refresh(&scope, b"r1", b"r2b", grace, retry)
                .await
                .unwrap(),
            RefreshOutcome::RetriedWithinGrace
        );
        assert_eq!(
            store
                .rotate_refresh(&scope, b"r2", b"r3", grace, retry)
                .await
                .unwrap(),
            RefreshOutcome::Invalid
        );
        assert_eq!(
            store
                .rotate_refresh(&scope, b"r2b", b"r3", grace, retry)
                .await
                .unwrap(),
            RefreshOutcome::Rotated
        );
        assert!(session_live(store, &scope, user, family, retry).await);
    }

    pub async fn refresh_family_expires_absolutely(store: &dyn Store) {
        let (scope, user) = registered(store, "abs@example.co").await;
        let family = Uuid::now_v7();
        store
            .create_session(&scope, user, family, 0, b"e1", NOW + time::Duration::days(1), NOW)
            .await
            .unwrap();
        let after = NOW + time::Duration::days(2);
        let outcome = store
            .rotate_refresh(&scope, b"e1", b"e2", time::Duration::seconds(10), after)
            .await
            .unwrap();
        assert_eq!(outcome, RefreshOutcome::Invalid);
    }

    pub async fn revoking_sessions_voids_refresh_tokens(store: &dyn Store) {
        let (scope, user) = registered(store, "out@example.co").await;
        let family = Uuid::now_v7();
        store
            .create_session(
                &scope,
                user,
                family,
                0,
                b"o1",
                NOW + time::Duration::days(30),
                NOW,
            )
            .await
            .unwrap();
        store
            .revoke_sessions(&scope, user, &AuditEntry::new("session.logout_all"), NOW)
            .await
            .unwrap();
        assert_eq!(
            store
                .staff_member(&scope, user)
                .await
                .unwrap()
                .sessions_revoked_at,
            Some(NOW)
        );
        let outcome = store
            .rotate_refresh(&scope, b"o1", b"o2", time::Duration::seconds(10), NOW)
            .await
            .unwrap();
        assert_eq!(outcome, RefreshOutcome::Invalid);
    }

    /// Every revocation moves the credential generation on; a session opened under an older one keeps it, and its
    /// successors inherit it (so a family opened concurrently with a revocation is dead at its first refresh).
    pub async fn revocations_move_the_credential_generation_on(store: &dyn Store) {
        let (scope, user) = registered(store, "generation@example.co").await;
        assert_eq!(
            store
                .staff_member(&scope, user)
                .await
                .unwrap()
                .credential_generation,
            0
        );
        let audit = AuditEntry::new("session.logout_all");
        assert_eq!(store.revoke_sessions(&scope, user, &audit, NOW).await.unwrap(), 1);
        assert_eq!(store.revoke_sessions(&scope, user, &audit, NOW).await.unwrap(), 2);
        assert_eq!(
            store
                .staff_member(&scope, user)
                .await
                .unwrap()
                .credential_generation,
            2
        );
        // A sign-in proven at generation 1 opens its family after the second revocation.
        let family = Uuid::now_v7();
        store
            .create_session(
                &scope,
                user,
                family,
                1,
                b"g1",
                NOW + time::Duration::days(30),
                NOW,
            )
            .await
            .unwrap();
        let outcome = store
            .rotate_refresh(&scope, b"g1", b"g2", time::Duration::seconds(10), NOW)
            .await
            .unwrap();
        assert_eq!(outcome, RefreshOutcome::Rotated);
        let successor = store.refresh_record(b"g2").await.unwrap().unwrap();
        assert_eq!(
            successor.credential_generation, 1,
            "the successor keeps its family's generation"
        );
        assert!(matches!(
            store
                .revoke_sessions(&TenantScope::for_new_partner(), user, &audit, NOW)
                .await,
            Err(StoreError::NotFound)
        ));
    }

    pub async fn second_factor_changes_replace_codes_and_revoke(store: &dyn Store) {
        let (scope, user) = registered(store, "second@example.co").await;
        let audit = AuditEntry::new("mfa.changed");
        let codes = |prefix: &str| {
            vec![
                format!("{prefix}1").into_bytes(),
                format!("{prefix}2").into_bytes(),
            ]
        };
        let old = codes("old");
        let off = store
            .change_second_factor(
                &scope,
                user,
                SecondFactorChange::RecoveryCodes {
                    recovery_digests: &old,
                },
                &audit,
                NOW,
            )
            .await;
        assert!(
            matches!(off, Err(StoreError::Conflict(_))),
            "2FA is off: nothing to change"
        );
        assert!(matches!(
            store.stage_totp_secret(&scope, user, b"new").await,
            Err(StoreError::Conflict(_))
        ));
        store
            .set_pending_totp_secret(&scope, user, b"first")
            .await
            .unwrap();
        store
            .confirm_totp(&scope, user, 100, &old, &AuditEntry::new("mfa.enrolled"), NOW)
            .await
            .unwrap();
        // Fresh recovery codes: the old ones stop working; nothing is revoked.
        let fresh = codes("fresh");
        let generation = store
            .change_second_factor(
                &scope,
                user,
                SecondFactorChange::RecoveryCodes {
                    recovery_digests: &fresh,
                },
                &audit,
                NOW,
            )
            .await
            .unwrap();
        assert_eq!(generation, 0);
        assert!(
            !store
                .use_recovery_code(&scope, user, b"old1", &audit, NOW)
                .await
                .unwrap()
        );
        assert!(
            store
                .use_recovery_code(&scope, user, b"fresh1", &audit, NOW)
                .await
                .unwrap()
        );
        // Re-enrolment: nothing staged is a conflict; staged, the new secret replaces the old at once.
        let reenrol = |digests| SecondFactorChange::Reenrol {
            step: 7,
            recovery_digests: digests,
        };
        let newest = codes("newest");
        assert!(matches!(
            store
                .change_second_factor(&scope, user, reenrol(&newest), &audit, NOW)
                .await,
            Err(StoreError::Conflict(_))
        ));
        store.stage_totp_secret(&scope, user, b"second").await.unwrap();
        let staged = store.totp_state(&scope, user).await.unwrap();
        assert_eq!(
            staged.sealed_secret.as_deref(),
            Some(&b"first"[..]),
            "in force until confirmed"
        );
        assert_eq!(staged.pending_secret.as_deref(), Some(&b"second"[..]));
        let family = Uuid::now_v7();
        store
            .create_session(
                &scope,
                user,
                family,
                0,
                b"s1",
                NOW + time::Duration::days(30),
                NOW,
            )
            .await
            .unwrap();
        let generation = store
            .change_second_factor(&scope, user, reenrol(&newest), &audit, NOW)
            .await
            .unwrap();
        assert_eq!(generation, 1, "re-enrolment revokes every credential");
        let state = store.totp_state(&scope, user).await.unwrap();
        assert_eq!(state.sealed_secret.as_deref(), Some(&b"second"[..]));
        assert_eq!(state.pending_secret, None);
        assert_eq!(state.last_step, Some(7));
        assert!(
            !store
                .use_recovery_code(&scope, user, b"fresh2", &audit, NOW)
                .await
                .unwrap()
        );
        assert!(
            store
                .use_recovery_code(&scope, user, b"newest1", &audit, NOW)
                .await
                .unwrap()
        );
        let outcome = store
            .rotate_refresh(&scope, b"s1", b"s2", time::Duration::seconds(10), NOW)
            .await
            .unwrap();
        assert_eq!(outcome, RefreshOutcome::Invalid, "the family was revoked");
        // Off: secret and codes gone, revoked again.
        let generation = store
            .change_second_factor(&scope, user, SecondFactorChange::Disable, &audit, NOW)
            .await
            .unwrap();
        assert_eq!(generation, 2);
        let state = store.totp_state(&scope, user).await.unwrap();
        assert_eq!((state.sealed_secret, state.confirmed), (None, false));
        assert!(!store.staff_member(&scope, user).await.unwrap().totp_enabled);
        assert!(
            !store
                .use_recovery_code(&scope, user, b"newest2", &audit, NOW)
                .await
                .unwrap()
        );
    }

    pub async fn invitations_are_single_use_expiring_and_mailed(store: &dyn Store) {
        let (scope, owner) = registered(store, "boss@example.co").await;
        let invite = |digest: &[u8], email: &str, expires_at| NewInvitation {
            id: Uuid::now_v7(),
            digest: digest.to_vec(),
            email: email.to_owned(),
            name: "Luis".into(),
            standing: SERVER,
            invited_by: owner,
            expires_at,
        };
        let message = |to: &str| OutboxMessage {
            id: Uuid::now_v7(),
            partner: Some(scope.partner()),
            recipient: to.to_owned(),
            subject: "Invitation".into(),
            body: "accept at …".into(),
            created_at: NOW,
        };
        let audit = AuditEntry::new("staff.invited").actor(owner);
        let live = invite(b"inv-1", "luis@example.co", NOW + time::Duration::days(7));
        store
            .create_invitation(&scope, &live, &message("luis@example.co"), &audit, NOW)
            .await
            .unwrap();
        let found = store.invitation_by_digest(b"inv-1").await.unwrap().unwrap();
        assert_eq!(
            (found.partner, found.standing, found.accepted_at),
            (scope.partner(), SERVER, None)
        );
        let pending = store.pending_messages(10).await.unwrap();
        let mail = pending
            .iter()
            .find(|m| m.recipient == "luis@example.co")
            .expect("queued in the same transaction");
        store.mark_message_sent(mail.id, NOW).await.unwrap();
        assert!(
            store
                .pending_messages(10)
                .await
                .unwrap()
                .iter()
                .all(|m| m.id != mail.id)
        );

        let member = new_staff("luis@example.co", SERVER);
        let accepted = store
            .accept_invitation(&scope, live.id, &member, &AuditEntry::new("staff.joined"), NOW)
            .await;
        assert_eq!(accepted.unwrap().standing, SERVER);
        let twice = store
            .accept_invitation(&scope, live.id, &new_staff("x@example.co", SERVER), &audit, NOW)
            .await;
        assert!(matches!(twice, Err(StoreError::Conflict(_))), "single use");

        let stale = invite(b"inv-2", "late@example.co", NOW + time::Duration::days(7));
        store
            .create_invitation(&scope, &stale, &message("late@example.co"), &audit, NOW)
            .await
            .unwrap();
        let too_late = NOW + time::Duration::days(8);
        let expired = store
            .accept_invitation(
                &scope,
                stale.id,
                &new_staff("late@example.co", SERVER),
                &audit,
                too_late,
            )
            .await;
        assert!(matches!(expired, Err(StoreError::Conflict(_))), "expired");
    }

    pub async fn standing_changes_and_removal(store: &dyn Store) {
        let (scope, owner) = registered(store, "own@example.co").await;
        assert_eq!(store.count_owners(&scope).await.unwrap(), 1);
        let audit = AuditEntry::new("staff.role_changed").actor(owner);
        let paying = Standing {
            role: Role::Server,
            payout_authority: true,
        };
        let changed = store
            .change_standing(&scope, owner, paying, &audit, NOW)
            .await
            .unwrap();
        assert_eq!(changed.standing, paying);
        assert_eq!(store.count_owners(&scope).await.unwrap(), 0);
        store
            .remove_staff(&scope, owner, &AuditEntry::new("staff.removed"), NOW)
            .await
            .unwrap();
        assert!(matches!(
            store.staff_member(&scope, owner).await,
            Err(StoreError::NotFound)
        ));
        assert!(
            store.login_record(b"key:own@example.co").await.unwrap().is_none(),
            "cannot sign in any more"
        );
        let actions: Vec<String> = store
            .search_audit(
                &scope,
                &comanda_store::audit::AuditFilter::default(),
                PageRequest::default(),
            )
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|e| e.entry.action)
            .collect();
        assert_eq!(
            actions,
            ["partner.registered", "staff.role_changed", "staff.removed"]
        );
    }

    pub async fn sign_in_failures_reach_the_right_partner(store: &dyn Store) {
        let (scope, user) = registered(store, "fail@example.co").await;
        let audit = AuditEntry::new("auth.sign_in_failed").detail("wrong password");
        store
            .record_sign_in_failure(b"key:fail@example.co", &audit, NOW)
            .await
            .unwrap();
        store
            .record_sign_in_failure(b"key:unknown", &audit, NOW)
            .await
            .unwrap();
        let events = store
            .search_audit(
                &scope,
                &comanda_store::audit::AuditFilter::default(),
                PageRequest::default(),
            )
            .await
            .unwrap()
            .items;
        let failure = events
            .iter()
            .find(|e| e.entry.action == "auth.sign_in_failed")
            .unwrap();
        assert_eq!(failure.entry.target, Some(user.to_string()));
    }

    pub async fn devices_and_security_events(store: &dyn Store) {
        let (scope, user) = registered(store, "dev@example.co").await;
        assert!(store.note_device(&scope, user, b"fp-1", NOW).await.unwrap());
        assert!(!store.note_device(&scope, user, b"fp-1", NOW).await.unwrap());
        store
            .record_security_event(&scope, Some(user), "new_device", "fp-1", NOW)
            .await
            .unwrap();
    }

    // ----- ordering -----

    use comanda_domain::menu::{
        Localized, MenuItem, ModifierGroup, ModifierOption, PricedLine, RequestedLine, price_order,
    };
    use comanda_domain::{Money, OrderStatus};
    use comanda_store::ordering::{NewOrder, OrderDraft, PlaceOutcome};

    fn text(es: &str) -> Localized {
        Localized {
            es: es.into(),
            en: format!("{es} (en)"),
        }
    }

    async fn venue_of(store: &dyn Store, scope: &TenantScope) -> Uuid {
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

    fn item(venue: Uuid, category: Uuid) -> MenuItem {
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
        let sold_out = store
            .set_item_available(&scope, created.id, false, &change(), NOW)
            .await
            .unwrap();
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
                .close_table(&scope, table.id, "manager:rosa", &change(), NOW)
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
        let closed = store
            .close_table(&scope, table.id, "manager:rosa", &change(), NOW)
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
                .close_table(&scope, Uuid::now_v7(), "x", &change(), NOW)
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
            .cancel_guest_order(&scope, mine.id, "device-2", &change(), NOW)
            .await;
        assert!(
            matches!(other_device, Err(StoreError::NotFound)),
            "another guest's device cannot touch it"
        );
        let cancelled = store
            .cancel_guest_order(&scope, mine.id, "device-1", &change(), NOW)
            .await
            .unwrap();
        assert_eq!(cancelled.status, OrderStatus::Cancelled);
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
            .cancel_guest_order(&scope, later.id, "device-1", &change(), NOW)
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

        let renamed = store
            .update_category(&scope, soups.id, Some(&text("Caldos")), Some(3), &change(), NOW)
            .await
            .unwrap();
        assert_eq!((renamed.name.es.as_str(), renamed.position), ("Caldos", 3));
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

    fn order_for(venue: Uuid, table: Uuid, key: Option<&str>, hash: &[u8]) -> NewOrder {
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
            subtotal: Money::new(4_380_000, comanda_domain::Currency::COP).unwrap(),
            lines: vec![line],
            idempotency_key: key.map(str::to_owned),
            request_hash: hash.to_vec(),
            device: Some("device-1".into()),
        }
    }

    async fn accept_table(store: &dyn Store, scope: &TenantScope, table: Uuid) {
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
            let PlaceOutcome::Created(order) =
                store.place_order(&scope, &order, &change(), at).await.unwrap()
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
        let sessions = comanda_domain::collect_all(|p| {
            store.venue_sessions(&scope, venue, PageRequest { limit: 1, ..p })
        })
        .await
        .unwrap();
        assert_eq!(sessions.len(), 4, "one live session per table, read one per page");
        assert_eq!(sessions[0].id, pending.id);
    }

    pub async fn twenty_concurrent_retries_create_one_order(store: &dyn Store) {
        let scope = new_partner(store, "Idem").await;
        let venue = venue_of(store, &scope).await;
        let table = store
            .create_table(&scope, venue, "5", 2, &change(), NOW)
            .await
            .unwrap();
        let attempts: Vec<NewOrder> = (0..20)
            .map(|_| order_for(venue, table.id, Some("key-1"), b"same body"))
            .collect();
        let audit = change();
        let outcomes =
            futures_join_all(attempts.iter().map(|o| store.place_order(&scope, o, &audit, NOW))).await;
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
        let without_key = store
            .place_order(&scope, &order_for(venue, table.id, None, b"x"), &change(), NOW)
            .await
            .unwrap();
        assert!(matches!(without_key, PlaceOutcome::Created(_)));
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

    async fn futures_join_all<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
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
        };
        let threshold = NOW - time::Duration::days(30);
        let (k1, k2) = (key("k1"), key("k2"));
        let (first, second) = tokio::join!(
            store.rotate_signing_key(&k1, threshold),
            store.rotate_signing_key(&k2, threshold)
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
                .rotate_signing_key(&next, NOW + time::Duration::days(1))
                .await
                .unwrap()
        );
        assert_eq!(store.signing_keys().await.unwrap().len(), 2);
    }
    // ----- payments -----

    use comanda_domain::payment::{ChargeModel, Split, settle};
    use comanda_store::payments::{
        ConnectedAccount, EventEffect, EventOutcome, NewPayment, NewRefund, PaymentStatus, RefundStatus,
        ReserveOutcome, TransferStatus,
    };

    fn cop(n: i64) -> Money {
        Money::new(n, comanda_domain::Currency::COP).unwrap()
    }

    /// A partner with an onboarded recipient account and an accepted table whose bill is 43.800 COP.
    async fn paying_table(store: &dyn Store, name: &str) -> (TenantScope, Uuid, Uuid, Uuid) {
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

    fn payment_of(venue: Uuid, table: Uuid, session: Uuid, share: i64, tip: i64, whole: bool) -> NewPayment {
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
            expires_at: NOW + time::Duration::minutes(15),
        }
    }

    async fn reserved(
        store: &dyn Store,
        scope: &TenantScope,
        payment: &NewPayment,
    ) -> comanda_store::payments::Payment {
        match store.reserve_payment(scope, payment, NOW).await.unwrap() {
            ReserveOutcome::Reserved(p) => p,
            other => panic!("not reserved: {other:?}"),
        }
    }

    async fn succeed(
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

    fn guest_draft(venue: Uuid, table: Uuid, items: &[Uuid], key: &str) -> OrderDraft {
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

    fn request_for(items: &[Uuid]) -> Vec<RequestedLine> {
        items
            .iter()
            .map(|id| RequestedLine {
                item_id: id.to_string(),
                quantity: 2,
                modifiers: vec![],
                note: None,
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
        store
            .set_item_available(&scope, dish.id, false, &change(), NOW)
            .await
            .unwrap();
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
        store
            .set_item_available(&scope, dish.id, true, &change(), NOW)
            .await
            .unwrap();
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
        // A released hold frees its part again; a released payment stays released.
        let released = store
            .release_payment(&scope, first.id, PaymentStatus::Cancelled, "abandoned")
            .await
            .unwrap();
        assert_eq!(released.status, PaymentStatus::Cancelled);
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
            .close_table(&scope, table, "manager:m", &change(), NOW)
            .await;
        assert!(
            matches!(&refused, Err(StoreError::Conflict(m)) if m.contains("payment")),
            "{refused:?}"
        );
        for held in store.session_payments(&scope, session).await.unwrap() {
            if held.status == PaymentStatus::Pending {
                store
                    .release_payment(&scope, held.id, PaymentStatus::Cancelled, "abandoned")
                    .await
                    .unwrap();
            }
        }
        store
            .close_table(&scope, table, "manager:m", &change(), NOW)
            .await
            .unwrap();
        let gone = store
            .reserve_payment(&scope, &payment_of(venue, table, session, 1_000, 0, false), NOW)
            .await
            .unwrap();
        assert_eq!(gone, ReserveOutcome::SessionGone);
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
        let deliveries =
            futures_join_all((0..10).map(|_| {
                store.apply_event(Some(&scope), "evt_same", "payment_intent.succeeded", &effect, NOW)
            }))
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
            needs_approval,
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
            .complete_refund(&scope, part.id, "re_1", Some("trr_1"), NOW)
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
        assert!(matches!(too_much, Err(StoreError::Conflict(_))), "{too_much:?}");
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
            .complete_refund(&scope, big.id, "re_2", Some("trr_2"), NOW)
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

    pub async fn disputes_leave_a_debt_netted_against_later_transfers(store: &dyn Store) {
        let (scope, venue, table, session) = paying_table(store, "Disputas").await;
        let first = reserved(
            store,
            &scope,
            &payment_of(venue, table, session, 1_000_000, 0, false),
        )
        .await;
        succeed(store, &scope, &first).await;
        store
            .mark_transfer_sent(&scope, first.id, "tr_1", None, NOW)
            .await
            .unwrap();
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

    fn signer() -> comanda_security::audit_chain::CheckpointSigner {
        comanda_security::audit_chain::CheckpointSigner::from_seed(&comanda_security::Secret::new([5u8; 32]))
            .unwrap()
    }

    fn trusted() -> comanda_security::audit_chain::TrustedKeys {
        comanda_security::audit_chain::TrustedKeys::new([signer().public_key()])
    }

    /// Signs the head of every month of the partner's chain, as the checkpoint job does.
    async fn checkpoint_heads(store: &dyn Store, scope: &TenantScope, at: OffsetDateTime) {
        for (head, _) in store.audit_heads(scope).await.unwrap() {
            let mut hash = [0u8; 32];
            hash.copy_from_slice(&head.head_hash);
            let checkpoint = signer().sign(comanda_security::audit_chain::CheckpointBody {
                partner: scope.partner().as_uuid(),
                shard: head.shard.clone(),
                seq: head.next_seq - 1,
                hash,
                at_micros: at.unix_timestamp() * 1_000_000,
            });
            store.record_checkpoint(scope, &checkpoint).await.unwrap();
            // Signing the same position twice keeps the first and does not fail.
            store.record_checkpoint(scope, &checkpoint).await.unwrap();
        }
    }

    fn wall_clock() -> OffsetDateTime {
        OffsetDateTime::from(std::time::SystemTime::now())
    }

    pub async fn audit_chain_links_every_append_across_months(store: &dyn Store) {
        use comanda_store::audit::{AuditFilter, verify_chain};
        let (scope, owner) = registered(store, "chain@example.co").await;
        let sourced = AuditEntry {
            source: Some("203.0.113.9".into()),
            request_id: Some("req-1".into()),
            ..AuditEntry::new("staff.invited").actor(owner)
        };
        store.append_audit(&scope, &sourced, NOW).await.unwrap();
        store
            .append_audit_batch(
                &scope,
                &[
                    AuditEntry::new("http.get").actor(owner),
                    AuditEntry::new("http.post").actor(owner),
                ],
                NOW,
            )
            .await
            .unwrap();
        // Ten appends at once still form one chain.
        let scope_ref = &scope;
        let appends = (0..10).map(|i| {
            let entry = AuditEntry::new("table.token_rotated").target(format!("t{i}"));
            async move { store.append_audit(scope_ref, &entry, NOW).await }
        });
        for result in futures_join_all(appends).await {
            result.unwrap();
        }
        // The next month links to this one's last hash.
        let next_month = NOW + time::Duration::days(31);
        store
            .append_audit(&scope, &AuditEntry::new("staff.removed"), next_month)
            .await
            .unwrap();
        checkpoint_heads(store, &scope, next_month).await;
        let report = verify_chain(store, &scope, &trusted()).await.unwrap().unwrap();
        assert_eq!(report.entries, 15);
        assert_eq!(report.shards, 2);
        assert_eq!(report.checkpoints, 2);
        let heads = store.audit_heads(&scope).await.unwrap();
        assert_eq!(
            heads
                .iter()
                .map(|(h, _)| (h.shard.as_str(), h.next_seq))
                .collect::<Vec<_>>(),
            [("2026-11", 14), ("2026-12", 1)]
        );
        // A checkpoint from an unknown key does not verify.
        let stranger = comanda_security::audit_chain::TrustedKeys::new([vec![0u8; 32]]);
        assert!(verify_chain(store, &scope, &stranger).await.unwrap().is_err());

        // Owners filter by action (exact or prefix), actor and time.
        let page = |filter: AuditFilter| {
            let scope = scope.clone();
            async move {
                store
                    .search_audit(&scope, &filter, PageRequest::default())
                    .await
                    .unwrap()
                    .items
            }
        };
        let http = page(AuditFilter {
            action: Some("http.".into()),
            ..AuditFilter::default()
        })
        .await;
        assert_eq!(http.len(), 2);
        let mine = page(AuditFilter {
            actor: Some(owner),
            ..AuditFilter::default()
        })
        .await;
        assert_eq!(mine.len(), 4, "registration, invitation and two requests");
        let december = page(AuditFilter {
            from: Some(next_month),
            ..AuditFilter::default()
        })
        .await;
        assert_eq!(december.len(), 1);
        assert_eq!(december[0].entry.action, "staff.removed");
        let invited = page(AuditFilter {
            action: Some("staff.invited".into()),
            ..AuditFilter::default()
        })
        .await;
        assert_eq!(invited[0].entry.source.as_deref(), Some("203.0.113.9"));

        // Erasing a person clears their addresses; the chain still verifies.
        assert_eq!(store.erase_audit_sources(&scope, owner).await.unwrap(), 1);
        let invited = page(AuditFilter {
            action: Some("staff.invited".into()),
            ..AuditFilter::default()
        })
        .await;
        assert_eq!(invited[0].entry.source, None);
        verify_chain(store, &scope, &trusted()).await.unwrap().unwrap();
    }

    pub async fn personal_data_is_sealed_rectified_and_shredded(store: &dyn Store) {
        use comanda_store::privacy::Rectification;
        let (scope, owner) = registered(store, "ana@example.co").await;
        store
            .append_audit(
                &scope,
                &AuditEntry {
                    source: Some("198.51.100.7".into()),
                    ..AuditEntry::new("auth.sign_in").actor(owner)
                },
                NOW,
            )
            .await
            .unwrap();
        let changed = store
            .rectify_person(
                &scope,
                owner,
                &Rectification {
                    email: Some((
                        "ana.maria@example.co".into(),
                        b"key:ana.maria@example.co".to_vec(),
                    )),
                    name: Some("Ana María Rojas".into()),
                },
                &AuditEntry::new("privacy.rectified").actor(owner),
                NOW,
            )
            .await
            .unwrap();
        assert_eq!(
            (changed.email.as_str(), changed.name.as_str()),
            ("ana.maria@example.co", "Ana María Rojas")
        );
        assert!(
            store
                .login_record(b"key:ana.maria@example.co")
                .await
                .unwrap()
                .is_some()
        );
        assert!(store.login_record(b"key:ana@example.co").await.unwrap().is_none());

        let erasure = store
            .erase_person(&scope, owner, &AuditEntry::new("privacy.erased"), NOW)
            .await
            .unwrap();
        assert!(erasure.key_destroyed && erasure.member_removed, "{erasure:?}");
        assert_eq!(erasure.addresses_cleared, 1);
        assert!(store.staff_member(&scope, owner).await.is_err());
        assert!(
            store
                .login_record(b"key:ana.maria@example.co")
                .await
                .unwrap()
                .is_none()
        );
        // The chain stays whole; a second erasure finds nothing left.
        comanda_store::audit::verify_chain(store, &scope, &trusted())
            .await
            .unwrap()
            .unwrap();
        let again = store
            .erase_person(&scope, owner, &AuditEntry::new("privacy.erased"), NOW)
            .await
            .unwrap();
        assert!(!again.key_destroyed && !again.member_removed);
    }

    pub async fn audit_retention_drops_old_months_behind_their_final_checkpoint(store: &dyn Store) {
        use comanda_store::audit::verify_chain;
        let now = wall_clock();
        let long_ago = now - time::Duration::days(430);
        let scope = TenantScope::for_new_partner();
        let owner = new_staff("retention@example.co", OWNER);
        store
            .register_partner(
                &scope,
                &NewPartner::parse("Casa Antigua", "CO").unwrap(),
                &owner,
                &AuditEntry::new("partner.registered").actor(owner.id),
                long_ago,
            )
            .await
            .unwrap();
        store
            .append_audit(&scope, &AuditEntry::new("staff.invited"), long_ago)
            .await
            .unwrap();
        let old_shard = comanda_security::audit_chain::shard_of(long_ago);
        // Without the month's final checkpoint the database refuses to drop it.
        assert!(store.prune_audit_shard(&scope, &old_shard, now).await.is_err());
        checkpoint_heads(store, &scope, now).await;
        assert_eq!(store.prune_audit_shard(&scope, &old_shard, now).await.unwrap(), 2);
        // Later entries link to the pruned month's final checkpoint.
        store
            .append_audit(&scope, &AuditEntry::new("staff.removed"), now)
            .await
            .unwrap();
        let report = verify_chain(store, &scope, &trusted()).await.unwrap().unwrap();
        assert_eq!((report.pruned_shards, report.entries), (1, 1));
        // Nothing younger than 12 months can be deleted, checkpoint or not.
        checkpoint_heads(store, &scope, now).await;
        let young = comanda_security::audit_chain::shard_of(now);
        let refused = store.prune_audit_shard(&scope, &young, now).await.unwrap_err();
        assert!(refused.to_string().contains("append-only"), "{refused}");
        verify_chain(store, &scope, &trusted()).await.unwrap().unwrap();
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
    registration_creates_partner_owner_and_login_record,
    staff_of_one_partner_are_invisible_to_another,
    totp_enrolment_replay_and_recovery_codes,
    refresh_tokens_rotate_and_reuse_revokes_the_family,
    refresh_retry_within_grace_replaces_the_unused_successor,
    refresh_family_expires_absolutely,
    revoking_sessions_voids_refresh_tokens,
    revocations_move_the_credential_generation_on,
    second_factor_changes_replace_codes_and_revoke,
    invitations_are_single_use_expiring_and_mailed,
    standing_changes_and_removal,
    sign_in_failures_reach_the_right_partner,
    devices_and_security_events,
    one_signing_key_rotation_wins,
    tables_have_rotatable_tokens_and_stay_in_their_tenant,
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
    an_event_applies_once_however_often_it_is_delivered,
    refunds_reverse_in_proportion_and_big_ones_need_a_second_person,
    disputes_leave_a_debt_netted_against_later_transfers,
    audit_chain_links_every_append_across_months,
    audit_retention_drops_old_months_behind_their_final_checkpoint,
    personal_data_is_sealed_rectified_and_shredded,
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
