//! Personal data: sealed, rectified and crypto-shredded.

use super::*;
use comanda_store::audit::AuditFilter;

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
    // A failed sign-in on the account: no actor, the member as target.
    store
        .append_audit(
            &scope,
            &AuditEntry {
                source: Some("198.51.100.9".into()),
                ..AuditEntry::new("auth.sign_in_failed").target(owner.to_string())
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
                ..Rectification::default()
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
    assert_eq!(
        erasure.addresses_cleared, 2,
        "the member's own and the failed sign-in's on their account"
    );
    assert!(store.staff_member(&scope, owner).await.is_err());
    assert!(
        store
            .login_record(b"key:ana.maria@example.co")
            .await
            .unwrap()
            .is_none()
    );
    // The chain stays whole; a second erasure finds nothing left.
    comanda_store::audit::verify_chain(store, &scope, &trusted(), None)
        .await
        .unwrap()
        .unwrap();
    // A late entry of the erased person (an access record still waiting to be flushed) keeps no address and makes
    // them no new key.
    let late = AuditEntry {
        source: Some("198.51.100.8".into()),
        ..AuditEntry::new("http.get").actor(owner)
    };
    store.append_audit_batch(&scope, &[(late, NOW)]).await.unwrap();
    let mine = AuditFilter {
        actor: Some(owner),
        ..AuditFilter::default()
    };
    let entries = store
        .search_audit(&scope, &mine, PageRequest::default())
        .await
        .unwrap()
        .items;
    assert!(entries.iter().any(|e| e.entry.action == "http.get"));
    assert!(entries.iter().all(|e| e.entry.source.is_none()), "{entries:?}");
    // So does a security event about them racing the erasure: it is not kept.
    store
        .record_security_event(
            &scope,
            Some(owner),
            "sign_in.new_device",
            "network 198.51.100.0/24",
            NOW,
        )
        .await
        .unwrap();
    assert!(store.security_events(&scope, owner).await.unwrap().is_empty());
    let again = store
        .erase_person(&scope, owner, &AuditEntry::new("privacy.erased"), NOW)
        .await
        .unwrap();
    assert!(!again.key_destroyed && !again.member_removed);
}

/// A data-subject request names the person by email or phone (API.md): the store finds the member by the login
/// directory's digest and the guests by theirs, only in the caller's partner, never an erased guest; contacts kept
/// before digests were come back for the caller to compare, until it gives them digests; a rectification writes the
/// digests of what the row then holds.
pub async fn data_subjects_are_found_by_email_or_phone_digest(store: &dyn Store) {
    use comanda_store::privacy::{ContactLookup, Rectification};
    let (scope, owner) = registered(store, "ana@example.co").await;
    let (other_scope, _) = registered(store, "otra@example.co").await;
    let venue = Uuid::now_v7();
    let add = async |scope: &TenantScope, contact: comanda_store::privacy::GuestContact| {
        store
            .add_guest_contact(scope, &contact, &AuditEntry::new("guest.contact.added"), NOW)
            .await
            .unwrap()
            .id
    };
    let booked = add(&scope, guest(venue, "ana@example.co")).await;
    let mut queued = guest(venue, "vale@example.co");
    queued.phone = Some("+573009998877".into());
    queued.lookup = lookup("vale@example.co", Some("+573009998877"));
    let queued = add(&scope, queued).await;
    let mut legacy = guest(venue, "old@example.co");
    legacy.lookup = ContactLookup::default();
    let legacy = add(&scope, legacy).await;
    let elsewhere = add(&other_scope, guest(venue, "ana@example.co")).await;
    let ids =
        |found: &comanda_store::privacy::PeopleFound| found.guests.iter().map(|g| g.id).collect::<Vec<_>>();
    let ana = lookup("ana@example.co", None);
    let ana_key: &[u8] = b"key:ana@example.co";

    let by_email = store.find_people(&scope, Some(ana_key), &ana).await.unwrap();
    assert_eq!(by_email.member, Some(owner));
    assert_eq!(
        ids(&by_email),
        vec![booked, legacy],
        "the match and the undigested row, in order"
    );
    assert_eq!(
        by_email.guests[1].email, "old@example.co",
        "opened for the caller to compare"
    );
    let vale_phone = ContactLookup {
        email: None,
        phone: Some(b"tel:+573009998877".to_vec()),
    };
    let by_phone = store.find_people(&scope, None, &vale_phone).await.unwrap();
    assert_eq!((by_phone.member, ids(&by_phone)), (None, vec![queued, legacy]));
    let there = store
        .find_people(&other_scope, Some(ana_key), &ana)
        .await
        .unwrap();
    assert_eq!(
        ids(&there),
        vec![elsewhere],
        "another partner's guests stay theirs"
    );
    assert_eq!(there.member, None, "and so do its members");

    // The caller gives the old row its digests: from then on it is found by them alone.
    store
        .set_guest_lookup(&scope, legacy, &lookup("old@example.co", Some("+573001234567")))
        .await
        .unwrap();
    let digested = store.find_people(&scope, None, &ana).await.unwrap();
    assert_eq!(
        ids(&digested),
        vec![booked],
        "the old row is no longer offered for comparing"
    );

    let rectified = lookup("valentina@example.co", Some("+573001112233"));
    store
        .rectify_guest(
            &scope,
            queued,
            &Rectification {
                email: Some((
                    "valentina@example.co".into(),
                    b"key:valentina@example.co".to_vec(),
                )),
                name: None,
                phone: Some("+573001112233".into()),
                lookup: rectified.clone(),
            },
            &AuditEntry::new("privacy.rectified"),
            NOW,
        )
        .await
        .unwrap();
    let moved = store.guest_contact(&scope, queued).await.unwrap();
    assert_eq!(
        (moved.email.as_str(), moved.phone.as_deref(), &moved.lookup),
        ("valentina@example.co", Some("+573001112233"), &rectified)
    );
    let old_phone = store.find_people(&scope, None, &vale_phone).await.unwrap();
    assert!(
        ids(&old_phone).is_empty(),
        "the old digests no longer find the guest"
    );

    store
        .erase_person(&scope, booked, &AuditEntry::new("privacy.erased"), NOW)
        .await
        .unwrap();
    let after = store.find_people(&scope, None, &ana).await.unwrap();
    assert!(ids(&after).is_empty(), "an erased guest is found no more");
    assert_eq!(
        store.guest_contact(&scope, booked).await.unwrap().lookup,
        ContactLookup::default(),
        "its digests went with its key"
    );
}
