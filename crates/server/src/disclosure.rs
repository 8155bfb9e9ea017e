//! The clocks of vulnerability reports at work (VDP-2): the running server looks at every open report every ten
//! minutes ([`crate::incidents::spawn_clock_checks`]), and `comanda reports check` does the same by hand. A clock in its last stretch, or overdue, raises the
//! `vdp.clock` alert once per step (routed on call, MON-4).

use comanda_domain::disclosure::{ClockState, Step, clocks};
use comanda_store::{Store, StoreResult};
use time::OffsetDateTime;
use uuid::Uuid;

/// A step not yet done, with its clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenStep {
    pub report: Uuid,
    pub summary: String,
    pub step: Step,
    pub due: OffsetDateTime,
    pub state: ClockState,
}

/// Every step of every open report not yet done, oldest report first; raises the alert of each clock that has
/// reached its last stretch or run out and has not raised it yet.
pub async fn check_clocks(store: &dyn Store, now: OffsetDateTime) -> StoreResult<Vec<OpenStep>> {
    let mut open = Vec::new();
    for report in store.disclosure_reports(true).await? {
        for clock in clocks(report.received_at, report.severity) {
            if report.done(clock.step) {
                continue;
            }
            let state = clock.state(now);
            if state != ClockState::Running
                && !report.alerted.contains(&clock.step)
                && store.mark_step_alerted(report.id, clock.step).await?
            {
                let detail = format!(
                    "vulnerability report {} ({}): {} due {}{}",
                    report.id,
                    report.summary,
                    clock.step.as_str(),
                    clock.due,
                    if state == ClockState::Overdue {
                        ", overdue"
                    } else {
                        ""
                    }
                );
                crate::alert_routing::raise(store, None, "vdp.clock", &detail, now).await?;
            }
            open.push(OpenStep {
                report: report.id,
                summary: report.summary.clone(),
                step: clock.step,
                due: clock.due,
                state,
            });
        }
    }
    Ok(open)
}
