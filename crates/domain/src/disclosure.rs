//! The clocks of a vulnerability report (VDP-2, the security page's promise): acknowledged within 48 hours of
//! receipt, triaged within 5 business days, and, when triaged critical, fixed within 30 days of receipt. A clock
//! stops when its step is done; one about to run out (the last quarter of its time, at most a day, a day and the
//! fix's last five days) or overdue is what raises an alert.
//!
//! Business days are Monday to Friday, counted in UTC: the same calendar wherever the reporter is.

use time::{Duration, OffsetDateTime, Weekday};

/// How bad a report is, decided at triage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    /// Not a vulnerability (or out of scope), still answered.
    Informational,
}

impl Severity {
    pub const ALL: [Self; 5] = [
        Self::Critical,
        Self::High,
        Self::Medium,
        Self::Low,
        Self::Informational,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::High => "high",
            Self::Medium => "medium",
            Self::Low => "low",
            Self::Informational => "informational",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// The three promised steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Acknowledge,
    Triage,
    Fix,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Acknowledge => "acknowledge",
            Self::Triage => "triage",
            Self::Fix => "fix",
        }
    }
}

/// When a step is due and from when it counts as about to run out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    pub step: Step,
    pub due: OffsetDateTime,
    pub warn_from: OffsetDateTime,
}

/// Where a running clock stands at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockState {
    Running,
    /// In its last stretch: the alert goes out now.
    DueSoon,
    Overdue,
}

impl Clock {
    pub fn state(&self, now: OffsetDateTime) -> ClockState {
        state_at(now, self.warn_from, self.due)
    }
}

/// Where a deadline `due`, counted as about to run out from `warn_from`, stands at `now`.
pub fn state_at(now: OffsetDateTime, warn_from: OffsetDateTime, due: OffsetDateTime) -> ClockState {
    if now >= due {
        ClockState::Overdue
    } else if now >= warn_from {
        ClockState::DueSoon
    } else {
        ClockState::Running
    }
}

/// `start` moved forward by `days` business days (Monday to Friday, UTC), keeping the time of day. A start on a
/// weekend counts from the Monday after it, at midnight.
pub fn add_business_days(start: OffsetDateTime, days: u32) -> OffsetDateTime {
    // Saturating at the calendar's end: a recorded instant near it (a typo in a date) must not panic the clock
    // check that reads every report.
    let mut at = start;
    while matches!(at.weekday(), Weekday::Saturday | Weekday::Sunday) {
        at = at
            .saturating_add(Duration::days(1))
            .replace_time(time::Time::MIDNIGHT);
    }
    let mut left = days;
    while left > 0 {
        let next = at.saturating_add(Duration::days(1));
        if next == at {
            break;
        }
        at = next;
        if !matches!(at.weekday(), Weekday::Saturday | Weekday::Sunday) {
            left -= 1;
        }
    }
    at
}

/// The clocks of a report received at `received`: acknowledge and triage always, fix only once it is triaged
/// critical.
pub fn clocks(received: OffsetDateTime, severity: Option<Severity>) -> Vec<Clock> {
    let acknowledge_by = received.saturating_add(Duration::hours(48));
    let triage_by = add_business_days(received, 5);
    let mut clocks = vec![
        Clock {
            step: Step::Acknowledge,
            due: acknowledge_by,
            warn_from: acknowledge_by.saturating_sub(Duration::hours(12)),
        },
        Clock {
            step: Step::Triage,
            due: triage_by,
            warn_from: triage_by.saturating_sub(Duration::hours(24)),
        },
    ];
    if severity == Some(Severity::Critical) {
        let fix_by = received.saturating_add(Duration::days(30));
        clocks.push(Clock {
            step: Step::Fix,
            due: fix_by,
            warn_from: fix_by.saturating_sub(Duration::days(5)),
        });
    }
    clocks
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;

    #[test]
    fn a_report_at_the_calendars_end_has_clocks_and_no_panic() {
        let last = datetime!(9999-12-31 23:59:59 UTC);
        let at_the_end = clocks(last, Some(Severity::Critical));
        assert_eq!(at_the_end.len(), 3);
        assert!(at_the_end.iter().all(|clock| clock.due >= last));
    }

    #[test]
    fn the_promised_deadlines() {
        // A Thursday afternoon report: acknowledged by Saturday afternoon, triaged by the next Thursday.
        let received = datetime!(2026-12-03 15:30 UTC);
        let by_step: Vec<(Step, OffsetDateTime)> =
            clocks(received, None).iter().map(|c| (c.step, c.due)).collect();
        assert_eq!(
            by_step,
            [
                (Step::Acknowledge, datetime!(2026-12-05 15:30 UTC)),
                (Step::Triage, datetime!(2026-12-10 15:30 UTC)),
            ]
        );
        let critical = clocks(received, Some(Severity::Critical));
        assert_eq!(critical[2].step, Step::Fix);
        assert_eq!(critical[2].due, datetime!(2027-01-02 15:30 UTC));
        assert_eq!(
            clocks(received, Some(Severity::High)).len(),
            2,
            "only a critical report has a fix clock"
        );
    }

    #[test]
    fn a_weekend_report_counts_from_monday() {
        assert_eq!(
            add_business_days(datetime!(2026-12-05 22:00 UTC), 5),
            datetime!(2026-12-14 00:00 UTC),
            "Saturday night: five business days from Monday's start"
        );
    }

    #[test]
    fn states_move_from_running_to_due_soon_to_overdue() {
        let clock = clocks(datetime!(2026-12-01 09:00 UTC), None)[0];
        assert_eq!(clock.state(datetime!(2026-12-02 20:59 UTC)), ClockState::Running);
        assert_eq!(clock.state(datetime!(2026-12-02 21:00 UTC)), ClockState::DueSoon);
        assert_eq!(clock.state(datetime!(2026-12-03 09:00 UTC)), ClockState::Overdue);
    }

    proptest! {
        #[test]
        fn five_business_days_land_on_a_weekday_with_five_weekdays_in_between(
            seconds in 1_700_000_000i64..1_900_000_000
        ) {
            let start = OffsetDateTime::from_unix_timestamp(seconds).unwrap();
            let due = add_business_days(start, 5);
            prop_assert!(!matches!(due.weekday(), Weekday::Saturday | Weekday::Sunday));
            prop_assert!(due - start >= Duration::days(5) && due - start <= Duration::days(9));
            // Counted from the start's own day, or from the Monday after a weekend start.
            let mut counted_from = start.date();
            while matches!(counted_from.weekday(), Weekday::Saturday | Weekday::Sunday) {
                counted_from = counted_from.next_day().unwrap();
            }
            let mut weekdays = 0;
            let mut day = due.date();
            while day > counted_from {
                if !matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday) {
                    weekdays += 1;
                }
                day = day.previous_day().unwrap();
            }
            prop_assert_eq!(weekdays, 5);
        }
    }
}
