use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use time::OffsetDateTime;

/// The one source of "now". Expiry, rotation, retention and SLA clocks read it, so tests move time instead of
/// sleeping.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> OffsetDateTime;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the single place the wall clock is read
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that only moves when told to; shared between clones.
#[derive(Debug, Clone)]
pub struct ManualClock {
    unix_nanos: Arc<AtomicI64>,
}

impl ManualClock {
    pub fn at(start: OffsetDateTime) -> Self {
        let nanos = i64::try_from(start.unix_timestamp_nanos()).unwrap_or(i64::MAX);
        Self {
            unix_nanos: Arc::new(AtomicI64::new(nanos)),
        }
    }

    pub fn advance(&self, by: time::Duration) {
        let step = i64::try_from(by.whole_nanoseconds()).unwrap_or(i64::MAX);
        self.unix_nanos.fetch_add(step, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        let nanos = self.unix_nanos.load(Ordering::SeqCst);
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos)).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let clock = ManualClock::at(datetime!(2026-11-23 12:00 UTC));
        assert_eq!(clock.now(), datetime!(2026-11-23 12:00 UTC));
        clock.clone().advance(time::Duration::minutes(15));
        assert_eq!(clock.now(), datetime!(2026-11-23 12:15 UTC));
    }
}
