//! Requests sent with an Idempotency-Key: a key names one request of one member, answered once.

use super::*;
use comanda_store::idempotency::{Claim, StoredAnswer};

pub async fn an_idempotency_key_names_one_request_answered_once(store: &dyn Store) {
    let (scope, member) = registered(store, "idem@example.co").await;
    let minute = time::Duration::minutes(1);
    let claim = |key: &'static str, hash: &'static [u8], now: OffsetDateTime| {
        let scope = &scope;
        async move {
            store
                .claim_idempotency(
                    scope,
                    member,
                    key,
                    hash,
                    now - time::Duration::DAY,
                    now - minute,
                    now,
                )
                .await
                .unwrap()
        }
    };
    assert_eq!(claim("k1", b"venue A", NOW).await, Claim::Claimed);
    assert_eq!(
        claim("k1", b"venue A", NOW).await,
        Claim::InFlight,
        "the first is still being answered"
    );
    assert_eq!(claim("k1", b"venue B", NOW).await, Claim::KeyReused);
    let answer = StoredAnswer {
        status: 201,
        content_type: Some("application/json".into()),
        body: Some(r#"{"name":"Casa Ñandú"}"#.into()),
    };
    store
        .finish_idempotency(&scope, member, "k1", &answer)
        .await
        .unwrap();
    assert_eq!(
        claim("k1", b"venue A", NOW).await,
        Claim::Answered(answer.clone())
    );
    assert_eq!(claim("k1", b"venue B", NOW).await, Claim::KeyReused);

    // Another member's key of the same name is theirs alone.
    let other = Uuid::now_v7();
    assert_eq!(
        store
            .claim_idempotency(
                &scope,
                other,
                "k1",
                b"venue B",
                NOW - time::Duration::DAY,
                NOW - minute,
                NOW
            )
            .await
            .unwrap(),
        Claim::Claimed
    );

    // A request given up is claimed again; so is one abandoned mid-way, and a key a day old names nothing.
    assert_eq!(claim("k2", b"table", NOW).await, Claim::Claimed);
    store.release_idempotency(&scope, member, "k2").await.unwrap();
    assert_eq!(claim("k2", b"table", NOW).await, Claim::Claimed);
    assert_eq!(
        claim("k2", b"table", NOW + 2 * minute).await,
        Claim::Claimed,
        "abandoned"
    );
    let next_day = NOW + time::Duration::DAY + minute;
    assert_eq!(claim("k1", b"venue B", next_day).await, Claim::Claimed, "expired");

    // An answer that carried a secret is remembered without its body.
    assert_eq!(claim("k3", b"codes", NOW).await, Claim::Claimed);
    let unkept = StoredAnswer {
        status: 200,
        content_type: None,
        body: None,
    };
    store
        .finish_idempotency(&scope, member, "k3", &unkept)
        .await
        .unwrap();
    assert_eq!(claim("k3", b"codes", NOW).await, Claim::Answered(unkept));

    // An erasure takes the member's records along.
    store
        .erase_person(&scope, member, &AuditEntry::new("privacy.erased"), NOW)
        .await
        .unwrap();
    assert_eq!(claim("k3", b"codes", NOW).await, Claim::Claimed);

    // The upkeep deletes records past their day, whoever sent them.
    assert_eq!(claim("k5", b"menu", NOW).await, Claim::Claimed);
    assert!(store.prune_idempotency(&scope, NOW - minute).await.unwrap() == 0);
    assert!(store.prune_idempotency(&scope, NOW + minute).await.unwrap() >= 1);
    assert_eq!(claim("k5", b"other", NOW).await, Claim::Claimed, "pruned");
}
