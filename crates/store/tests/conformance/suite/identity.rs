//! Identity: staff, second factors, refresh-token families, revocation, invitations, standing, sign-in failures.

use super::*;
use comanda_domain::{VenueId, Venues};
use comanda_store::VenueRecord;

pub const OWNER: Standing = Standing {
    role: Role::Owner,
    payout_authority: false,
};
pub const SERVER: Standing = Standing {
    role: Role::Server,
    payout_authority: false,
};

pub fn new_staff(email: &str, standing: Standing) -> NewStaff {
    NewStaff {
        id: Uuid::now_v7(),
        email: email.to_owned(),
        email_key: format!("key:{email}").into_bytes(),
        name: format!("Name of {email}"),
        standing,
        venues: Venues::Every,
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
    let events = audit_entries(store, &scope).await;
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
            .change_standing(&b, owner_a, SERVER, &Venues::Every, &audit, NOW)
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
    // Wrong codes in a row (NIST SP 800-63B §5.2.2) are counted, and any second factor accepted, or a new
    // password, starts the count again.
    let wrong = async || store.note_second_factor_failure(&scope, user).await.unwrap();
    let in_a_row = async || store.totp_state(&scope, user).await.unwrap().wrong_codes_in_a_row;
    assert_eq!(in_a_row().await, 0);
    assert_eq!((wrong().await, wrong().await), (1, 2));
    assert_eq!(in_a_row().await, 2);
    assert!(store.accept_totp_step(&scope, user, 102).await.unwrap());
    assert_eq!(in_a_row().await, 0, "a code accepted");
    wrong().await;
    store
        .set_password_hash(&scope, user, "$2b$04$new", None, NOW)
        .await
        .unwrap();
    assert_eq!(in_a_row().await, 0, "a new password");
    wrong().await;
    let audit = AuditEntry::new("mfa.recovery_code_used");
    assert!(
        store
            .use_recovery_code(&scope, user, b"rc1", &audit, NOW)
            .await
            .unwrap()
    );
    assert_eq!(in_a_row().await, 0, "a recovery code accepted");
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
pub async fn session_live(
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

pub async fn refresh_retry_within_grace_replaces_the_unused_successor_and_its_later_use_is_reuse(
    store: &dyn Store,
) {
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
            .rotate_refresh(&scope, b"r2b", b"r3", grace, retry)
            .await
            .unwrap(),
        RefreshOutcome::Rotated
    );
    assert!(session_live(store, &scope, user, family, retry).await);
    // The successor the retry replaced, presented later: whoever holds it held its parent too, so it is reuse — the
    // family ends, for the thief who retried and for the holder alike (a thief's replay within the grace kept the
    // session and signed its owner out).
    assert_eq!(
        store
            .rotate_refresh(&scope, b"r2", b"r4", grace, retry)
            .await
            .unwrap(),
        RefreshOutcome::ReuseDetected
    );
    assert!(!session_live(store, &scope, user, family, retry).await);
    assert_eq!(
        store
            .rotate_refresh(&scope, b"r3", b"r5", grace, retry)
            .await
            .unwrap(),
        RefreshOutcome::Invalid
    );
    assert_eq!(
        store
            .rotate_refresh(&scope, b"r2", b"r6", grace, retry)
            .await
            .unwrap(),
        RefreshOutcome::Invalid,
        "a family revoked whole is simply over"
    );
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
        venues: Venues::Every,
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
        .change_standing(&scope, owner, paying, &Venues::Every, &audit, NOW)
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
    let actions: Vec<String> = audit_entries(store, &scope)
        .await
        .into_iter()
        .map(|e| e.entry.action)
        .collect();
    assert_eq!(
        actions,
        ["partner.registered", "staff.role_changed", "staff.removed"]
    );
    // Still named where payroll records name them (the tip ledger), until the person is erased.
    let former = store.former_staff_names(&scope).await.unwrap();
    assert_eq!(former.len(), 1, "{former:?}");
    assert_eq!(former[0].0, owner);
    assert!(
        !former[0].1.is_empty() && former[0].1 != comanda_store::sealing::ERASED,
        "{former:?}"
    );
    store
        .erase_person(&scope, owner, &AuditEntry::new("privacy.erased"), NOW)
        .await
        .unwrap();
    assert_eq!(store.former_staff_names(&scope).await.unwrap(), vec![]);
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
    let events = audit_entries(store, &scope).await;
    let failure = events
        .iter()
        .find(|e| e.entry.action == "auth.sign_in_failed")
        .unwrap();
    assert_eq!(failure.entry.target, Some(user.to_string()));
}

/// MON-2's memory of places: the first sign-in finds none; later ones see every country before them, latest first,
/// each with its latest coordinates (kept when a sign-in is placed in the country only); another partner sees
/// nothing; the member's erasure takes them along.
pub async fn sign_in_places_remember_each_country_latest_first(store: &dyn Store) {
    use comanda_domain::sign_in_place::Coordinates;
    use comanda_store::identity::SignInPlace;

    let (scope, user) = registered(store, "places@example.co").await;
    let place = |country: &str, latitude: f64, minutes: i64| SignInPlace {
        country: country.into(),
        coordinates: Coordinates::from_degrees(latitude, -74.0, 20),
        signed_in_at: NOW + time::Duration::minutes(minutes),
    };
    let bogota = place("CO", 4.711, 0);
    assert!(
        store
            .note_sign_in_place(&scope, user, &bogota)
            .await
            .unwrap()
            .is_empty()
    );
    let madrid = place("ES", 40.4168, 60);
    assert_eq!(
        store.note_sign_in_place(&scope, user, &madrid).await.unwrap(),
        vec![bogota.clone()]
    );
    let medellin = place("CO", 6.2442, 120);
    assert_eq!(
        store.note_sign_in_place(&scope, user, &medellin).await.unwrap(),
        vec![madrid.clone(), bogota],
        "latest first"
    );
    let unknown = SignInPlace {
        country: String::new(),
        coordinates: None,
        signed_in_at: NOW + time::Duration::minutes(180),
    };
    store.note_sign_in_place(&scope, user, &unknown).await.unwrap();
    assert_eq!(
        store.sign_in_places(&scope, user).await.unwrap(),
        vec![unknown, medellin.clone(), madrid],
        "one row per country, the latest sign-in's"
    );
    // Placed in a country only: the country's last coordinates stay, its time moves on.
    let somewhere_in_colombia = SignInPlace {
        country: "CO".into(),
        coordinates: None,
        signed_in_at: NOW + time::Duration::minutes(240),
    };
    store
        .note_sign_in_place(&scope, user, &somewhere_in_colombia)
        .await
        .unwrap();
    let places = store.sign_in_places(&scope, user).await.unwrap();
    assert_eq!(
        (&places[0].country, places[0].coordinates, places[0].signed_in_at),
        (
            &"CO".to_owned(),
            medellin.coordinates,
            somewhere_in_colombia.signed_in_at
        )
    );
    // Two sign-ins at the same moment are judged one after the other: the later sees the earlier's country.
    // (Two reads at once first, so both sign-ins find a connection ready and really overlap.)
    let warm = [0, 1].map(|_| store.sign_in_places(&scope, user));
    super::ordering::futures_join_all(warm.into_iter()).await;
    let (peru, ecuador) = (place("PE", -12.0464, 300), place("EC", -0.1807, 300));
    let at_once = [&peru, &ecuador].map(|p| store.note_sign_in_place(&scope, user, p));
    let mut seen: Vec<usize> = super::ordering::futures_join_all(at_once.into_iter())
        .await
        .into_iter()
        .map(|before| before.unwrap().len())
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, [3, 4], "neither may miss the other");
    let (other, _) = registered(store, "elsewhere@example.co").await;
    assert!(store.sign_in_places(&other, user).await.unwrap().is_empty());
    assert!(
        store.note_sign_in_place(&other, user, &medellin).await.is_err(),
        "no place for a member of another partner"
    );
    store
        .erase_person(&scope, user, &AuditEntry::new("privacy.erased"), NOW)
        .await
        .unwrap();
    assert!(
        store.sign_in_places(&scope, user).await.unwrap().is_empty(),
        "an erasure takes them along"
    );
}

pub async fn devices_and_security_events(store: &dyn Store) {
    let (scope, user) = registered(store, "dev@example.co").await;
    use comanda_store::identity::DeviceSeen;
    let seen = |fingerprint: &'static [u8]| store.note_device(&scope, user, fingerprint, NOW);
    assert_eq!(seen(b"fp-1").await.unwrap(), DeviceSeen::First);
    assert_eq!(seen(b"fp-1").await.unwrap(), DeviceSeen::Known);
    assert_eq!(seen(b"fp-2").await.unwrap(), DeviceSeen::New);
    assert_eq!(seen(b"fp-2").await.unwrap(), DeviceSeen::Known);
    store
        .record_security_event(&scope, Some(user), "new_device", "fp-1", NOW)
        .await
        .unwrap();
    store
        .record_security_event(
            &scope,
            Some(user),
            "credential_compromised",
            "",
            NOW + time::Duration::MINUTE,
        )
        .await
        .unwrap();
    let events = store.security_events(&scope, user).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["credential_compromised", "new_device"], "latest first");
    assert_eq!((events[1].detail.as_str(), events[1].at), ("fp-1", NOW));
    let (other, _) = registered(store, "dev-elsewhere@example.co").await;
    assert!(store.security_events(&other, user).await.unwrap().is_empty());
}

pub async fn members_work_at_the_venues_they_are_given(store: &dyn Store) {
    let (scope, owner) = registered(store, "dos-sedes@example.co").await;
    let (centro, norte) = (venue_of(store, &scope).await, venue_of(store, &scope).await);
    let only_centro = Venues::only([VenueId::from_uuid(centro)]).unwrap();
    let invitation = NewInvitation {
        id: Uuid::now_v7(),
        digest: b"inv-sede".to_vec(),
        email: "mesero@example.co".into(),
        name: "Mesero del Centro".into(),
        standing: SERVER,
        venues: only_centro.clone(),
        invited_by: owner,
        expires_at: NOW + time::Duration::days(7),
    };
    let message = OutboxMessage {
        id: Uuid::now_v7(),
        partner: Some(scope.partner()),
        recipient: invitation.email.clone(),
        subject: "Invitation".into(),
        body: "accept at …".into(),
        created_at: NOW,
    };
    let stored = store
        .create_invitation(&scope, &invitation, &message, &change(), NOW)
        .await
        .unwrap();
    assert_eq!(stored.venues, only_centro);
    assert_eq!(
        store.pending_invitations(&scope).await.unwrap()[0].venues,
        only_centro
    );
    let staff = NewStaff {
        venues: stored.venues.clone(),
        ..new_staff("mesero@example.co", SERVER)
    };
    let member = store
        .accept_invitation(&scope, stored.id, &staff, &change(), NOW)
        .await
        .unwrap();
    assert_eq!(member.venues, only_centro);
    assert_eq!(
        store.staff_member(&scope, member.id).await.unwrap().venues,
        only_centro
    );
    let both = Venues::only([VenueId::from_uuid(norte), VenueId::from_uuid(centro)]).unwrap();
    let changed = store
        .change_standing(&scope, member.id, SERVER, &both, &change(), NOW)
        .await
        .unwrap();
    assert_eq!(changed.venues, both);
    let everywhere = store
        .change_standing(&scope, member.id, SERVER, &Venues::Every, &change(), NOW)
        .await
        .unwrap();
    assert_eq!(everywhere.venues, Venues::Every);
    assert_eq!(
        store.staff_member(&scope, owner).await.unwrap().venues,
        Venues::Every
    );

    // Each record a route names by id leads to its venue, and to nothing in another partner or when unknown.
    let table = store
        .create_table(&scope, norte, "Mesa 9", 4, &change(), NOW)
        .await
        .unwrap();
    assert_eq!(
        store
            .venue_of(&scope, VenueRecord::Table, table.id)
            .await
            .unwrap(),
        Some(VenueId::from_uuid(norte))
    );
    let other = new_partner(store, "Otra").await;
    assert_eq!(
        store
            .venue_of(&other, VenueRecord::Table, table.id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .venue_of(&scope, VenueRecord::Order, Uuid::now_v7())
            .await
            .unwrap(),
        None
    );
}
