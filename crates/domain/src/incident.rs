//! Personal-data breach notification deadlines (IR-2): counted from when comanda became aware of the breach,
//! 72 hours under the GDPR (Art. 33(1): the supervisory authority "not later than 72 hours after having become
//! aware of it") and under Colombia's Law 1581 as the security page promises, and shorter where a configured US
//! state law requires (`incidents.us_state_notice_hours`). A deadline counts as about to run out in its last 12
//! hours; it is met once the notification is recorded.

use std::collections::BTreeMap;

use time::{Duration, OffsetDateTime};

use crate::disclosure::{ClockState, state_at};

/// The deadline every breach has, in hours.
pub const GDPR_HOURS: u32 = 72;
/// Colombia's, as promised (Law 1581 of 2012 and the SIC's reporting of security incidents).
pub const LAW_1581_HOURS: u32 = 72;
/// The last stretch of a deadline, when its alert goes out.
pub const WARN_BEFORE: Duration = Duration::hours(12);

/// One authority's deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeDeadline {
    /// `GDPR`, `CO-1581`, or `US-<state>`.
    pub jurisdiction: String,
    pub due: OffsetDateTime,
}

impl NoticeDeadline {
    pub fn state(&self, now: OffsetDateTime) -> ClockState {
        state_at(now, self.due - WARN_BEFORE, self.due)
    }
}

/// Every notification deadline of a breach comanda became aware of at `aware_at`, soonest first: the GDPR's and
/// Law 1581's, and each configured US state's that is shorter than those (a longer one is met by meeting them).
pub fn notice_deadlines(
    aware_at: OffsetDateTime,
    us_state_hours: &BTreeMap<String, u32>,
) -> Vec<NoticeDeadline> {
    let at = |hours: u32| aware_at + Duration::hours(i64::from(hours));
    let mut deadlines = vec![
        NoticeDeadline {
            jurisdiction: "GDPR".into(),
            due: at(GDPR_HOURS),
        },
        NoticeDeadline {
            jurisdiction: "CO-1581".into(),
            due: at(LAW_1581_HOURS),
        },
    ];
    for (state, hours) in us_state_hours {
        if *hours < GDPR_HOURS.min(LAW_1581_HOURS) {
            deadlines.push(NoticeDeadline {
                jurisdiction: format!("US-{}", state.to_ascii_uppercase()),
                due: at(*hours),
            });
        }
    }
    deadlines.sort_by(|a, b| {
        a.due
            .cmp(&b.due)
            .then_with(|| a.jurisdiction.cmp(&b.jurisdiction))
    });
    deadlines
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn seventy_two_hours_and_a_shorter_state_first() {
        let aware = datetime!(2026-12-01 10:00 UTC);
        let states = BTreeMap::from([("XA".to_owned(), 24), ("XB".to_owned(), 96)]);
        let deadlines = notice_deadlines(aware, &states);
        let names: Vec<&str> = deadlines.iter().map(|d| d.jurisdiction.as_str()).collect();
        assert_eq!(
            names,
            ["US-XA", "CO-1581", "GDPR"],
            "a longer state deadline is met by the 72 hours"
        );
        assert_eq!(deadlines[0].due, datetime!(2026-12-02 10:00 UTC));
        assert_eq!(deadlines[2].due, datetime!(2026-12-04 10:00 UTC));
        assert_eq!(
            deadlines[2].state(datetime!(2026-12-03 21:59 UTC)),
            ClockState::Running
        );
        assert_eq!(
            deadlines[2].state(datetime!(2026-12-03 22:00 UTC)),
            ClockState::DueSoon
        );
        assert_eq!(
            deadlines[2].state(datetime!(2026-12-04 10:00 UTC)),
            ClockState::Overdue
        );
    }
}
