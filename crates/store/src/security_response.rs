//! The security team's records, platform data written by the operator: vulnerability reports and their clocks
//! (VDP-2, `comanda reports`) and incidents with their breach notifications (IR-1, IR-2, `comanda incidents`). The
//! clocks themselves are `comanda_domain::disclosure` and `comanda_domain::incident`; the store keeps when each step
//! was done and which clocks have raised their alert. Both engines implement [`DisclosureStore`] and
//! [`IncidentStore`] with `security_response_sql.rs`.

use async_trait::async_trait;
use comanda_domain::disclosure::{Severity, Step};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreResult;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisclosureReport {
    pub id: Uuid,
    /// The operator's words, never the reporter's contact details.
    pub summary: String,
    pub received_at: OffsetDateTime,
    /// The name to credit, set only when the reporter asked to be credited.
    pub credit: Option<String>,
    pub severity: Option<Severity>,
    pub acknowledged_at: Option<OffsetDateTime>,
    pub triaged_at: Option<OffsetDateTime>,
    pub fixed_at: Option<OffsetDateTime>,
    /// The steps whose clock already raised its alert.
    pub alerted: Vec<Step>,
}

impl DisclosureReport {
    /// Whether `step` is done.
    pub fn done(&self, step: Step) -> bool {
        match step {
            Step::Acknowledge => self.acknowledged_at.is_some(),
            Step::Triage => self.triaged_at.is_some(),
            Step::Fix => self.fixed_at.is_some(),
        }
    }
}

#[async_trait]
pub trait DisclosureStore: Send + Sync {
    async fn record_report(
        &self,
        summary: &str,
        received_at: OffsetDateTime,
        credit: Option<&str>,
    ) -> StoreResult<DisclosureReport>;

    /// [`crate::StoreError::NotFound`] when there is no such report.
    async fn disclosure_report(&self, id: Uuid) -> StoreResult<DisclosureReport>;

    /// Every report, oldest first; only those not yet fixed when `open_only`.
    async fn disclosure_reports(&self, open_only: bool) -> StoreResult<Vec<DisclosureReport>>;

    /// Marks `step` done at `at` (with the severity for a triage). [`crate::StoreError::Conflict`] when it already
    /// is, [`crate::StoreError::NotFound`] when there is no such report.
    async fn complete_step(
        &self,
        id: Uuid,
        step: Step,
        severity: Option<Severity>,
        at: OffsetDateTime,
    ) -> StoreResult<DisclosureReport>;

    /// Records that `step`'s clock raised its alert; false when it already had (another instance was first).
    async fn mark_step_alerted(&self, id: Uuid, step: Step) -> StoreResult<bool>;
}

/// An incident (IR-1) and, once it is known to be a personal-data breach, its notification record (IR-2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    pub id: Uuid,
    pub opened_at: OffsetDateTime,
    pub severity: Severity,
    pub summary: String,
    /// Who decides, as the operator wrote it (names or roles).
    pub decided_by: String,
    /// A breach: when comanda became aware of it (the notification clocks start there).
    pub aware_at: Option<OffsetDateTime>,
    pub affected_partners: Vec<comanda_domain::PartnerId>,
    /// The US states' notification hours in force when the breach was recorded (`incidents.us_state_notice_hours`);
    /// `None` for a breach recorded before migration 0047, whose deadlines read the configuration.
    pub us_state_hours: Option<std::collections::BTreeMap<String, u32>>,
    /// The jurisdictions already notified (`GDPR`, `CO-1581`, `US-<state>`).
    pub notified: Vec<String>,
    /// The jurisdictions whose deadline already raised its alert.
    pub alerted: Vec<String>,
    pub closed_at: Option<OffsetDateTime>,
    /// What happened when, oldest first.
    pub timeline: Vec<(OffsetDateTime, String)>,
}

#[async_trait]
pub trait IncidentStore: Send + Sync {
    /// Opens an incident; its timeline starts with the opening.
    async fn open_incident(
        &self,
        severity: Severity,
        summary: &str,
        decided_by: &str,
        at: OffsetDateTime,
    ) -> StoreResult<Incident>;

    /// [`crate::StoreError::NotFound`] when there is no such incident.
    async fn incident(&self, id: Uuid) -> StoreResult<Incident>;

    /// Every incident, oldest first; only open ones when `open_only`.
    async fn incidents(&self, open_only: bool) -> StoreResult<Vec<Incident>>;

    async fn add_timeline(&self, id: Uuid, at: OffsetDateTime, entry: &str) -> StoreResult<()>;

    /// Records that the incident is a personal-data breach comanda became aware of at `aware_at`, with the partners
    /// it affects and the US states' notification hours in force (kept with it: its deadlines do not change with
    /// the configuration); [`crate::StoreError::Conflict`] when it already was.
    async fn record_breach(
        &self,
        id: Uuid,
        aware_at: OffsetDateTime,
        affected: &[comanda_domain::PartnerId],
        us_state_hours: &std::collections::BTreeMap<String, u32>,
        at: OffsetDateTime,
    ) -> StoreResult<Incident>;

    /// Corrects a recorded breach while its incident is open (the window was wrong, or the awareness time): the
    /// partners affected and when comanda became aware are replaced, the US states' hours kept as recorded, the
    /// timeline says what each was before, and a deadline whose clock moved may alert again. [`crate::StoreError::
    /// Conflict`] when the incident is not a breach yet or is closed.
    async fn amend_breach(
        &self,
        id: Uuid,
        aware_at: OffsetDateTime,
        affected: &[comanda_domain::PartnerId],
        at: OffsetDateTime,
    ) -> StoreResult<Incident>;

    /// Records that `jurisdiction` was notified (once; false when it already was).
    async fn record_notified(&self, id: Uuid, jurisdiction: &str, at: OffsetDateTime) -> StoreResult<bool>;

    /// Records that `jurisdiction`'s deadline raised its alert (false when it already had).
    async fn mark_incident_alerted(&self, id: Uuid, jurisdiction: &str) -> StoreResult<bool>;

    async fn close_incident(&self, id: Uuid, at: OffsetDateTime) -> StoreResult<Incident>;
}
