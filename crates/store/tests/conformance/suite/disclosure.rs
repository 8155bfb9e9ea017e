//! Vulnerability reports (VDP-2): platform records of when each promised step was done.

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
