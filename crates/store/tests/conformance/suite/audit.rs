//! The audit trail: the hash chain across months, checkpoints and retention.

use super::*;

pub fn signer() -> comanda_security::audit_chain::CheckpointSigner {
    comanda_security::audit_chain::CheckpointSigner::from_seed(&comanda_security::Secret::new([5u8; 32]))
        .unwrap()
}

pub fn trusted() -> comanda_security::audit_chain::TrustedKeys {
    comanda_security::audit_chain::TrustedKeys::new([signer().public_key()])
}

/// Signs the head of every month of the partner's chain, as the checkpoint job does.
pub async fn checkpoint_heads(store: &dyn Store, scope: &TenantScope, at: OffsetDateTime) {
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

/// The partner's audit entries, oldest first (the first page, unfiltered).
pub async fn audit_entries(
    store: &dyn Store,
    scope: &TenantScope,
) -> Vec<comanda_store::identity::AuditEvent> {
    store
        .search_audit(
            scope,
            &comanda_store::audit::AuditFilter::default(),
            PageRequest::default(),
        )
        .await
        .unwrap()
        .items
}

pub fn wall_clock() -> OffsetDateTime {
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
    // Each access record keeps when its request happened, however late the batch is written.
    let (first, second) = (NOW + time::Duration::seconds(1), NOW + time::Duration::seconds(2));
    store
        .append_audit_batch(
            &scope,
            &[
                (AuditEntry::new("http.get").actor(owner), first),
                (AuditEntry::new("http.post").actor(owner), second),
            ],
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
    let report = verify_chain(store, &scope, &trusted(), None)
        .await
        .unwrap()
        .unwrap();
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
    assert!(
        verify_chain(store, &scope, &stranger, None)
            .await
            .unwrap()
            .is_err()
    );

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
    assert_eq!(
        http.iter()
            .map(|e| (e.entry.action.as_str(), e.at))
            .collect::<Vec<_>>(),
        [("http.get", first), ("http.post", second)]
    );
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
    // Whether anything matches, answered without opening an address (the breach assessment's question).
    let invitations = AuditFilter {
        action: Some("staff.invited".into()),
        ..AuditFilter::default()
    };
    assert!(store.audit_entry_exists(&scope, &invitations).await.unwrap());
    let later = AuditFilter {
        from: Some(next_month + time::Duration::days(1)),
        ..invitations
    };
    assert!(!store.audit_entry_exists(&scope, &later).await.unwrap());
    // REST-1: the address is stored sealed (the chain commits to the sealed text) and opened only for readers.
    let month = store.audit_shard(&scope, "2026-11").await.unwrap();
    let stored: Vec<&str> = month.iter().filter_map(|e| e.source.as_deref()).collect();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(stored[0].starts_with("enc1:") && !stored[0].contains("203.0.113.9"));

    // Erasing a person clears their addresses; the chain still verifies.
    let erasure = store
        .erase_person(&scope, owner, &AuditEntry::new("privacy.erased"), NOW)
        .await
        .unwrap();
    assert_eq!(erasure.addresses_cleared, 1);
    let invited = page(AuditFilter {
        action: Some("staff.invited".into()),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(invited[0].entry.source, None);
    verify_chain(store, &scope, &trusted(), None)
        .await
        .unwrap()
        .unwrap();
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
    let report = verify_chain(store, &scope, &trusted(), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((report.pruned_shards, report.entries), (1, 1));
    // Nothing younger than 12 months can be deleted, checkpoint or not.
    checkpoint_heads(store, &scope, now).await;
    let young = comanda_security::audit_chain::shard_of(now);
    let refused = store.prune_audit_shard(&scope, &young, now).await.unwrap_err();
    assert!(refused.to_string().contains("append-only"), "{refused}");
    verify_chain(store, &scope, &trusted(), None)
        .await
        .unwrap()
        .unwrap();
}
