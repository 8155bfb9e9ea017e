//! Vulnerability reports and their clocks (VDP-2): platform data, written by the operator (`comanda reports`).
//! The clocks themselves are `comanda_domain::disclosure`; the store keeps when each step was done and which
//! clocks have raised their alert. Both engines implement [`DisclosureStore`] with `disclosure_sql.rs`.

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
