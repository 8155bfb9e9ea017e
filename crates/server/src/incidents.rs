//! Incident response at work (IR-1, IR-2): which partners a personal-data breach affects, computed from their audit
//! logs, and the notification deadlines of a breach watched like every clock (`comanda incidents check`, and the
//! running server every ten minutes): one in its last 12 hours, or overdue, and not yet notified raises the
//! `ir.notification` alert once per jurisdiction (routed on call, MON-4).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use comanda_domain::disclosure::ClockState;
use comanda_domain::incident::{NoticeDeadline, notice_deadlines};
use comanda_domain::{Clock, PartnerId};
use comanda_security::TenantScope;
use comanda_security::tenancy::JobAuthority;
use comanda_store::audit::AuditFilter;
use comanda_store::{Store, StoreResult};
use time::OffsetDateTime;
use tokio::sync::watch;
use uuid::Uuid;

/// The partners whose audit log holds an entry in `[from, until]` matching `action` (exact, or a prefix ending in
/// `.`) and `actor`: those a breach over that window and those actions reached.
pub async fn affected_partners(
    store: &dyn Store,
    from: OffsetDateTime,
    until: OffsetDateTime,
    action: Option<String>,
    actor: Option<Uuid>,
) -> StoreResult<Vec<PartnerId>> {
    let filter = AuditFilter {
        action,
        actor,
        from: Some(from),
        until: Some(until),
    };
    let mut affected = Vec::new();
    for partner in store.audited_partners().await? {
        let scope = TenantScope::from_proof(&JobAuthority::new("breach-assessment", partner));
        if store.audit_entry_exists(&scope, &filter).await? {
            affected.push(partner);
        }
    }
    Ok(affected)
}

/// A breach's deadline not yet met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenNotice {
    pub incident: Uuid,
    pub summary: String,
    pub deadline: NoticeDeadline,
    pub state: ClockState,
}

/// Every deadline of every open breach whose authority is not yet notified; raises the alert of each in its last
/// stretch or overdue that has not raised it yet.
pub async fn check_deadlines(
    store: &dyn Store,
    us_state_hours: &BTreeMap<String, u32>,
    now: OffsetDateTime,
) -> StoreResult<Vec<OpenNotice>> {
    let mut open = Vec::new();
    for incident in store.incidents(true).await? {
        let Some(aware_at) = incident.aware_at else {
            continue;
        };
        // The hours in force when the breach was recorded; the configuration's for one recorded before they were kept.
        let hours = incident.us_state_hours.as_ref().unwrap_or(us_state_hours);
        for deadline in notice_deadlines(aware_at, hours) {
            if incident.notified.contains(&deadline.jurisdiction) {
                continue;
            }
            let state = deadline.state(now);
            if state != ClockState::Running
                && !incident.alerted.contains(&deadline.jurisdiction)
                && store
                    .mark_incident_alerted(incident.id, &deadline.jurisdiction)
                    .await?
            {
                let detail = format!(
                    "incident {} ({}): notify {} by {}{}; {} partner(s) affected",
                    incident.id,
                    incident.summary,
                    deadline.jurisdiction,
                    deadline.due,
                    if state == ClockState::Overdue {
                        ", overdue"
                    } else {
                        ""
                    },
                    incident.affected_partners.len()
                );
                crate::alert_routing::raise(store, None, "ir.notification", &detail, now).await?;
            }
            open.push(OpenNotice {
                incident: incident.id,
                summary: incident.summary.clone(),
                deadline,
                state,
            });
        }
    }
    Ok(open)
}

/// Every ten minutes until `stop` changes: the clocks of vulnerability reports
/// ([`crate::disclosure::check_clocks`]) and the notification deadlines of breaches ([`check_deadlines`]).
pub fn spawn_clock_checks(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    us_state_hours: BTreeMap<String, u32>,
    mut stop: watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_secs(600));
        loop {
            tokio::select! {
                _ = ticker.tick() => {
                    let now = clock.now();
                    if let Err(error) = crate::disclosure::check_clocks(store.as_ref(), now).await {
                        tracing::error!(%error, "the vulnerability report clocks could not be checked");
                    }
                    if let Err(error) = check_deadlines(store.as_ref(), &us_state_hours, now).await {
                        tracing::error!(%error, "the breach notification deadlines could not be checked");
                    }
                }
                _ = stop.changed() => return,
            }
        }
    });
}
