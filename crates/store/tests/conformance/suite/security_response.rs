//! The security team's records: vulnerability reports (VDP-2) and incidents (IR-1, IR-2).

use super::*;

/// VDP-2's record: a report keeps when each promised step was done, each step once; a clock's alert is recorded
/// once however many instances try; credit only where given.
pub async fn disclosure_reports_keep_their_steps_once(store: &dyn Store) {
    use comanda_domain::disclosure::{Severity, Step};
    let report = store
        .record_report("XSS in the menu editor", NOW, Some("Ana Pérez"))
        .await
        .unwrap();
    let quiet = store
        .record_report("open redirect", NOW + time::Duration::minutes(1), None)
        .await
        .unwrap();
    assert_eq!(report.credit.as_deref(), Some("Ana Pérez"));
    assert_eq!(quiet.credit, None);
    let later = NOW + time::Duration::hours(3);
    let acknowledged = store
        .complete_step(report.id, Step::Acknowledge, None, later)
        .await
        .unwrap();
    assert_eq!(acknowledged.acknowledged_at, Some(later));
    assert!(matches!(
        store
            .complete_step(report.id, Step::Acknowledge, None, later)
            .await,
        Err(StoreError::Conflict(_))
    ));
    let triaged = store
        .complete_step(report.id, Step::Triage, Some(Severity::Critical), later)
        .await
        .unwrap();
    assert_eq!(triaged.severity, Some(Severity::Critical));
    assert!(store.mark_step_alerted(report.id, Step::Fix).await.unwrap());
    assert!(
        !store.mark_step_alerted(report.id, Step::Fix).await.unwrap(),
        "once"
    );
    assert!(store.mark_step_alerted(report.id, Step::Triage).await.unwrap());
    assert_eq!(
        store.disclosure_report(report.id).await.unwrap().alerted,
        [Step::Triage, Step::Fix]
    );
    store
        .complete_step(report.id, Step::Fix, None, later)
        .await
        .unwrap();
    let open: Vec<_> = store
        .disclosure_reports(true)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(open, [quiet.id]);
    assert_eq!(store.disclosure_reports(false).await.unwrap().len(), 2);
    assert!(matches!(
        store
            .complete_step(uuid::Uuid::now_v7(), Step::Fix, None, later)
            .await,
        Err(StoreError::NotFound)
    ));
}

/// IR-1 and IR-2's record: an incident keeps its severity, who decides and a timeline; a breach is recorded once
/// with the partners it affects; each authority is recorded notified once, each deadline alerted once.
pub async fn incidents_keep_a_timeline_and_their_breach_record(store: &dyn Store) {
    use comanda_domain::disclosure::Severity;
    let partner = new_partner(store, "Brecha S.A.S.").await.partner();
    let opened = store
        .open_incident(
            Severity::High,
            "leaked backup credentials",
            "Ana (lead), Luis",
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(opened.decided_by, "Ana (lead), Luis");
    assert_eq!(opened.timeline.len(), 1);
    let later = NOW + time::Duration::hours(1);
    let hours = std::collections::BTreeMap::from([("CA".to_owned(), 24), ("NY".to_owned(), 100)]);
    store
        .add_timeline(opened.id, later, "credentials rotated")
        .await
        .unwrap();
    let breach = store
        .record_breach(opened.id, NOW, &[partner], &hours, later)
        .await
        .unwrap();
    assert_eq!(breach.aware_at, Some(NOW));
    assert_eq!(breach.affected_partners, [partner]);
    // The states' hours in force are kept with the breach: its deadlines do not move with the configuration.
    assert_eq!(breach.us_state_hours.as_ref(), Some(&hours));
    assert_eq!(
        store.incident(opened.id).await.unwrap().us_state_hours,
        Some(hours.clone())
    );
    assert!(matches!(
        store.record_breach(opened.id, NOW, &[], &hours, later).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(store.record_notified(opened.id, "GDPR", later).await.unwrap());
    assert!(
        !store.record_notified(opened.id, "GDPR", later).await.unwrap(),
        "once"
    );
    assert!(store.mark_incident_alerted(opened.id, "CO-1581").await.unwrap());
    assert!(!store.mark_incident_alerted(opened.id, "CO-1581").await.unwrap());
    // Amended while open: the same awareness keeps the alerts raised; the partners are replaced, the states' hours
    // and notifications kept, and the timeline says what it was.
    let amended = store.amend_breach(opened.id, NOW, &[], later).await.unwrap();
    assert_eq!(
        (
            amended.aware_at,
            amended.affected_partners.len(),
            amended.alerted.clone()
        ),
        (Some(NOW), 0, vec!["CO-1581".to_owned()])
    );
    assert_eq!(amended.us_state_hours.as_ref(), Some(&hours));
    assert_eq!(amended.notified, ["GDPR"]);
    let amended = store
        .amend_breach(opened.id, NOW - time::Duration::hours(2), &[partner], later)
        .await
        .unwrap();
    assert_eq!(amended.affected_partners, [partner]);
    assert!(amended.alerted.is_empty(), "a clock that moved alerts again");
    assert!(store.mark_incident_alerted(opened.id, "CO-1581").await.unwrap());
    let closed = store
        .close_incident(opened.id, later + time::Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(closed.notified, ["GDPR"]);
    assert_eq!(closed.alerted, ["CO-1581"]);
    let entries: Vec<&str> = closed.timeline.iter().map(|(_, e)| e.as_str()).collect();
    assert_eq!(entries.len(), 7, "{entries:?}");
    assert_eq!(entries[1], "credentials rotated");
    assert!(
        entries[5].starts_with("breach amended: aware since") && entries[5].ends_with("(was 0)"),
        "{entries:?}"
    );
    assert_eq!(entries[6], "closed");
    assert!(
        matches!(
            store.amend_breach(opened.id, NOW, &[], later).await,
            Err(StoreError::Conflict(_))
        ),
        "a closed breach stays as it closed"
    );
    assert!(store.incidents(true).await.unwrap().is_empty());
    assert_eq!(store.incidents(false).await.unwrap().len(), 1);
    assert!(matches!(
        store.add_timeline(uuid::Uuid::now_v7(), later, "x").await,
        Err(StoreError::NotFound)
    ));
}
