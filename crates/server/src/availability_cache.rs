//! Answers of the public availability route, kept for two seconds (a Friday-evening rush asks the same venue, day
//! and party size over and over, and each answer reads five days of bookings). An answer is dropped at once when
//! this instance changes the venue's bookings, tables or policy (every such route calls [`AvailabilityCache::
//! changed`]); a change made by another instance, or by the payments upkeep releasing an unpaid deposit, shows at
//! most two seconds late. Nothing is booked from here: a booking always runs the full check in its own
//! transaction, so a stale answer can at worst offer a time that then answers 409 `slot-taken`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;

const FRESH_FOR: Duration = Duration::from_secs(2);
/// A bound on memory: past it the whole map is dropped (answers are cheap to recompute).
const MOST_ANSWERS: usize = 20_000;

/// `(venue, generation, local date, party size, minute of "now")`: "now" decides the notice and what is past.
type Key = (Uuid, u64, time::Date, u16, i64);

#[derive(Debug, Default)]
pub struct AvailabilityCache {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    generation: HashMap<Uuid, u64>,
    answers: HashMap<Key, (Instant, Vec<(String, String)>)>,
}

/// Where an answer computed now would be kept: taken before reading, so a change made while it is computed makes it
/// unreachable.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(Key);

impl AvailabilityCache {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-written answer (inserts are single calls).
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The kept answer (each slot's `start` and `local`), or the ticket to keep a fresh one under.
    pub fn get(
        &self,
        venue: Uuid,
        date: time::Date,
        party: u16,
        now: time::OffsetDateTime,
    ) -> Result<Vec<(String, String)>, Ticket> {
        let inner = self.inner();
        let generation = inner.generation.get(&venue).copied().unwrap_or(0);
        let key = (
            venue,
            generation,
            date,
            party,
            now.unix_timestamp().div_euclid(60),
        );
        match inner.answers.get(&key) {
            Some((at, slots)) if at.elapsed() < FRESH_FOR => Ok(slots.clone()),
            _ => Err(Ticket(key)),
        }
    }

    pub fn keep(&self, ticket: Ticket, slots: &[(String, String)]) {
        let mut inner = self.inner();
        if inner.answers.len() >= MOST_ANSWERS {
            inner.answers.clear();
        }
        inner.answers.insert(ticket.0, (Instant::now(), slots.to_vec()));
    }

    /// The venue's bookings, tables or policy changed: its kept answers are no longer reachable.
    pub fn changed(&self, venue: Uuid) {
        let mut inner = self.inner();
        *inner.generation.entry(venue).or_insert(0) += 1;
        inner.answers.retain(|key, _| key.0 != venue);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_or_another_minute_is_never_answered_from_what_was_kept() {
        let cache = AvailabilityCache::default();
        let venue = Uuid::now_v7();
        let date = time::macros::date!(2026 - 12 - 04);
        let now = time::macros::datetime!(2026-12-01 18:00:10 UTC);
        let slots = vec![(
            "2026-12-05T00:00:00Z".to_owned(),
            "2026-12-04T19:00:00-05:00".to_owned(),
        )];
        let ticket = cache.get(venue, date, 2, now).unwrap_err();
        cache.keep(ticket, &slots);
        assert_eq!(cache.get(venue, date, 2, now).ok(), Some(slots.clone()));
        assert!(cache.get(venue, date, 3, now).is_err(), "another party size");
        assert!(
            cache.get(venue, date, 2, now + time::Duration::MINUTE).is_err(),
            "another minute"
        );
        // A change while an answer was being computed: that answer is kept where nobody looks.
        let late = cache.get(venue, date, 4, now).unwrap_err();
        cache.changed(venue);
        cache.keep(late, &slots);
        assert!(cache.get(venue, date, 4, now).is_err());
        assert!(
            cache.get(venue, date, 2, now).is_err(),
            "a change drops every answer of the venue"
        );
    }
}
