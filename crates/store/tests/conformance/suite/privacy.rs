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
    comanda_store::audit::verify_chain(store, &scope, &trusted())
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
