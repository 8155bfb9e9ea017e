//! Reservations: a venue's booking policy and the availability engine. Pure: the caller passes the clock's `now`,
//! the venue's floor (tables and declared combinations) and the bookings that hold tables, and gets back the start
//! instants that can be booked, or the table set a booking gets and the reason it cannot.
//!
//! Time: instants are UTC (`OffsetDateTime` at offset 0); services are written in the venue's local time and turned
//! into instants with the venue's IANA zone (jiff's bundled tz database), date by date, so each date gets the
//! offset in force at each of its slots. A local time skipped by a spring-forward night is not offered; a local
//! time repeated by a fall-back night is offered once per instant it names. A last seating after midnight belongs
//! to the service that began the evening before (`last_seating < first_seating`).
//!
//! Occupancy is counted in 15-minute cells of UTC time ([`CELL_SECONDS`]): every real zone's offset is a multiple of
//! 15 minutes, slots are on 15-minute marks, and a booking holds its tables from its start until its turn time plus
//! the buffer, rounded up to a whole cell. The store claims exactly these cells per table under a unique key, so the
//! database refuses what this module would refuse even when two requests race.

use std::collections::BTreeSet;

use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::Money;
use crate::validation::ValidationErrors;

/// Occupancy and pacing are counted in cells of this many seconds (15 minutes: the industry's pacing window).
pub const CELL_SECONDS: i64 = 15 * 60;

/// One service (a shift) of the venue: the weekdays it runs (ISO: Monday = 1 … Sunday = 7) and its first and last
/// seating, local "HH:MM". A last seating earlier than the first runs past midnight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    #[schema(value_type = Vec<u8>, maximum = 255)]
    pub weekdays: Vec<u8>,
    pub first_seating: String,
    pub last_seating: String,
}

/// Turn time for parties up to `max_party` covers, in minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TurnTime {
    #[schema(maximum = 65535)]
    pub max_party: u16,
    #[schema(maximum = 65535)]
    pub minutes: u16,
}

/// Covers that may start in one 15-minute window: all bookings, and those made online (the public widget).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Pacing {
    #[schema(maximum = 4294967295_u64)]
    pub covers_per_15_min: u32,
    #[schema(maximum = 4294967295_u64)]
    pub online_covers_per_15_min: u32,
}

/// A venue's booking policy (`PUT /api/v1/venues/{venue}/booking-policy`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingPolicy {
    pub services: Vec<Service>,
    /// Minutes between offered starts: 15, 30, 45 or 60.
    #[schema(maximum = 65535)]
    pub slot_minutes: u16,
    /// Turn time by party size, ascending `max_party`; the last rule covers every party up to `max_party_size`.
    pub turn_minutes: Vec<TurnTime>,
    /// Minutes a table is kept free after a party's turn (clearing, resetting).
    #[schema(maximum = 65535)]
    pub buffer_minutes: u16,
    pub pacing: Pacing,
    /// How long before its start a guest can still book online (a host booking by phone needs no notice).
    #[schema(maximum = 4294967295_u64)]
    pub min_notice_minutes: u32,
    /// How many days ahead bookings open.
    #[schema(maximum = 65535)]
    pub horizon_days: u16,
    #[schema(maximum = 65535)]
    pub max_party_size: u16,
    /// Deposit per cover, taken when the booking is made; `null` for none.
    pub deposit_per_cover: Option<Money>,
    /// A cancellation at least this many hours before the start refunds the deposit; later, it is kept.
    #[schema(maximum = 65535)]
    pub cancellation_cutoff_hours: u16,
    /// The phone guests call about their booking and their personal data, E.164 (written with spaces, dashes or
    /// parentheses if need be; kept as `+573001234567`): the privacy notice names it as the channel for their
    /// rights (Decree 1377 of 2013, art. 15), and the booking page for a party too large to book online.
    #[serde(default)]
    #[schema(pattern = r"^\+[ ().-]*[1-9]([ ().-]*[0-9]){6,14}[ ().-]*$")]
    pub contact_phone: Option<String>,
    /// The email guests write to about their booking and their personal data (as `contact_phone`).
    #[serde(default)]
    #[schema(format = Email, max_length = 254)]
    pub contact_email: Option<String>,
}

/// Minutes since local midnight of "HH:MM" on a 15-minute mark.
fn parse_local_time(text: &str) -> Option<u16> {
    clock_minutes(text).filter(|minutes| minutes % 15 == 0)
}

/// Minutes since midnight of a wall-clock time written `HH:MM`, `00:00` to `23:59`, two digits each (`^([01][0-9]|
/// 2[0-3]):[0-5][0-9]$`); `None` for anything else (`24:00`, `2:00`, `+1:00`).
pub fn clock_minutes(text: &str) -> Option<u16> {
    let (hours, minutes) = text.split_once(':')?;
    let two_digits = |part: &str| part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit());
    if !two_digits(hours) || !two_digits(minutes) {
        return None;
    }
    let (hours, minutes): (u16, u16) = (hours.parse().ok()?, minutes.parse().ok()?);
    (hours < 24 && minutes < 60).then_some(hours * 60 + minutes)
}

impl BookingPolicy {
    /// The first service whose seatings leave its business day (from `day_start_hour`, 0–23, to the next day's):
    /// its index and the field at fault. A service starting before the day starts has seatings on the previous
    /// business day (`first_seating`: a 09:00–10:30 brunch, or a 03:00–11:00 breakfast, under an 11:00 or 05:00 day
    /// start), one running past midnight to or beyond the day start has seatings on the next one (`last_seating`);
    /// either way the guest books one date and the host finds the booking on another day's list. `None` when every
    /// service stays within its day. (An all-day service, from 00:00 to past the day start, is let be: its seatings
    /// before the day start are offered on the evening before's date and listed there, as a late service's are;
    /// see [`service_slots`].)
    pub fn seats_outside_business_day(&self, day_start_hour: u8) -> Option<(usize, &'static str)> {
        let day_start = u16::from(day_start_hour) * 60;
        self.services.iter().enumerate().find_map(|(index, service)| {
            match (
                parse_local_time(&service.first_seating),
                parse_local_time(&service.last_seating),
            ) {
                (Some(first), Some(last))
                    if first < day_start && first <= last && !(first == 0 && last >= day_start) =>
                {
                    Some((index, "first_seating"))
                }
                (Some(first), Some(last)) if last < first && last >= day_start => {
                    Some((index, "last_seating"))
                }
                _ => None,
            }
        })
    }

    /// Checks every field; errors name the field (`services[0].first_seating`).
    pub fn validate(self) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        if self.services.is_empty() || self.services.len() > 14 {
            errors.push("services", "must list between 1 and 14 services");
        }
        for (i, service) in self.services.iter().enumerate() {
            if service.weekdays.is_empty() || service.weekdays.iter().any(|d| !(1..=7).contains(d)) {
                errors.push(
                    format!("services[{i}].weekdays"),
                    "must list ISO weekdays, Monday = 1 to Sunday = 7",
                );
            }
            for (field, value) in [
                ("first_seating", &service.first_seating),
                ("last_seating", &service.last_seating),
            ] {
                if parse_local_time(value).is_none() {
                    errors.push(
                        format!("services[{i}].{field}"),
                        "must be a local time HH:MM on a quarter hour",
                    );
                }
            }
        }
        for (i, service) in self.services.iter().enumerate() {
            let mut days = service.weekdays.clone();
            days.sort_unstable();
            days.dedup();
            if days.len() != service.weekdays.len() {
                errors.push(format!("services[{i}].weekdays"), "must name each weekday once");
            }
        }
        // Two services whose seatings overlap would offer the same times twice and leave the floor plan to
        // whichever came first: on the week's timeline (a service past midnight runs into the next weekday, Sunday's
        // into Monday's), no two services may share a minute.
        const WEEK: i64 = 7 * 24 * 60;
        let spans = |service: &Service| -> Vec<(i64, i64)> {
            let (Some(first), Some(last)) = (
                parse_local_time(&service.first_seating),
                parse_local_time(&service.last_seating),
            ) else {
                return Vec::new();
            };
            let (first, last) = (i64::from(first), i64::from(last));
            let last = if last < first { last + 24 * 60 } else { last };
            service
                .weekdays
                .iter()
                .filter(|d| (1..=7).contains(*d))
                .map(|d| {
                    let day = (i64::from(*d) - 1) * 24 * 60;
                    (day + first, day + last)
                })
                .collect()
        };
        let meet = |a: (i64, i64), b: (i64, i64)| {
            [-WEEK, 0, WEEK]
                .iter()
                .any(|shift| a.0 <= b.1 + shift && b.0 + shift <= a.1)
        };
        for (i, later) in self.services.iter().enumerate() {
            let overlaps = self.services[..i].iter().any(|earlier| {
                spans(earlier)
                    .into_iter()
                    .any(|a| spans(later).into_iter().any(|b| meet(a, b)))
            });
            if overlaps {
                errors.push(
                    format!("services[{i}]"),
                    "overlaps another service (a service past midnight runs into the next weekday): services must \
                     not share seatings",
                );
            }
        }
        if ![15, 30, 45, 60].contains(&self.slot_minutes) {
            errors.push("slot_minutes", "must be 15, 30, 45 or 60");
        }
        if !(1..=100).contains(&self.max_party_size) {
            errors.push("max_party_size", "must be between 1 and 100");
        }
        let ascending = self
            .turn_minutes
            .windows(2)
            .all(|pair| pair[0].max_party < pair[1].max_party);
        if self.turn_minutes.is_empty()
            || !ascending
            || self
                .turn_minutes
                .last()
                .is_some_and(|last| last.max_party < self.max_party_size)
        {
            errors.push(
                "turn_minutes",
                "must list rules by ascending max_party, the last covering max_party_size",
            );
        }
        if self.turn_minutes.iter().any(|t| !(15..=480).contains(&t.minutes)) {
            errors.push("turn_minutes", "each turn must be between 15 and 480 minutes");
        }
        if self.buffer_minutes > 120 {
            errors.push("buffer_minutes", "must be at most 120");
        }
        if self.pacing.covers_per_15_min == 0 || self.pacing.covers_per_15_min > 10_000 {
            errors.push("pacing.covers_per_15_min", "must be between 1 and 10000");
        }
        if self.pacing.online_covers_per_15_min > self.pacing.covers_per_15_min {
            errors.push(
                "pacing.online_covers_per_15_min",
                "must not exceed covers_per_15_min",
            );
        }
        if self.min_notice_minutes > 7 * 24 * 60 {
            errors.push("min_notice_minutes", "must be at most a week");
        }
        if !(1..=366).contains(&self.horizon_days) {
            errors.push("horizon_days", "must be between 1 and 366");
        }
        if self.deposit_per_cover.is_some_and(|d| d.amount <= 0) {
            errors.push("deposit_per_cover", "must be positive or null");
        }
        if self.cancellation_cutoff_hours > 24 * 14 {
            errors.push("cancellation_cutoff_hours", "must be at most two weeks");
        } else if self.cancellation_cutoff_hours > 0 && self.deposit_per_cover.is_none() {
            // The cut-off decides deposit refunds and nothing else: without a deposit it would be stored and ignored.
            errors.push(
                "cancellation_cutoff_hours",
                "decides whether a cancellation refunds the deposit: set deposit_per_cover, or leave it 0",
            );
        }
        let mut policy = self;
        policy.contact_phone = match policy.contact_phone.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(written) => {
                let phone = crate::validation::e164_phone(written);
                if phone.is_none() {
                    errors.push("contact_phone", "must be an E.164 number such as +573001234567");
                }
                phone
            }
        };
        policy.contact_email = match policy.contact_email.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(written) => crate::email::normalize_email("contact_email", written)
                .map_err(|invalid| errors.0.extend(invalid.0))
                .ok(),
        };
        errors.into_result(policy)
    }

    /// The turn time of a party in minutes, if the policy seats it.
    pub fn turn_for(&self, party: u16) -> Option<u16> {
        if party == 0 || party > self.max_party_size {
            return None;
        }
        self.turn_minutes
            .iter()
            .find(|t| party <= t.max_party)
            .map(|t| t.minutes)
    }

    /// [`Self::hold_seconds`], or the refusal naming the largest party the venue seats.
    pub fn hold_for(&self, party: u16) -> Result<i64, Refusal> {
        self.hold_seconds(party).ok_or(Refusal::PartySize {
            largest: self.max_party_size,
        })
    }

    /// Seconds a booking of `party` holds its tables: turn plus buffer, rounded up to whole cells.
    pub fn hold_seconds(&self, party: u16) -> Option<i64> {
        let minutes = i64::from(self.turn_for(party)?) + i64::from(self.buffer_minutes);
        Some((minutes * 60 + CELL_SECONDS - 1) / CELL_SECONDS * CELL_SECONDS)
    }
}

/// A table as the booking engine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookableTable {
    pub id: Uuid,
    pub min_party: u16,
    pub max_party: u16,
    /// Bookable through the public widget (otherwise in-house or walk-in only).
    pub online: bool,
}

/// The venue's tables, the combinations it declared for large parties, and the tables parties are at now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Floor {
    pub tables: Vec<BookableTable>,
    pub combinations: Vec<Vec<Uuid>>,
    pub occupied: Vec<Occupied>,
}

/// A table a party is at: one with a live bill (guests who ordered from its QR code, or a bill staff opened), since
/// the bill opened, or the tables of a party seated from a booking, since its booked start (its booking holds them
/// for its turn; this keeps them held while it stays longer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occupied {
    pub table: Uuid,
    pub since: OffsetDateTime,
    /// For a party seated from a booking, its booking's end: its turn is its own, not the table's size's.
    pub booked_until: Option<OffsetDateTime>,
}

impl Floor {
    /// The floor without `declined` tables, and without the combinations that use one: what a waiting party that
    /// turned those tables down can be offered.
    pub fn without(&self, declined: &[Uuid]) -> Floor {
        Floor {
            tables: self
                .tables
                .iter()
                .filter(|t| !declined.contains(&t.id))
                .cloned()
                .collect(),
            combinations: self
                .combinations
                .iter()
                .filter(|c| !c.iter().any(|t| declined.contains(t)))
                .cloned()
                .collect(),
            occupied: self.occupied.clone(),
        }
    }

    /// The occupied tables as holdings, for the booking engine: a party at a table keeps it for the turn a party of
    /// the table's size takes (turn and buffer) from when it sat down, and while it stays longer, until the next
    /// quarter hour at least (it is still there: a walk-in is not seated on its lap). A bill left open past twice
    /// that turn is taken for one staff forgot to close, and holds nothing (seating there still refuses while it has
    /// orders, and says to close it).
    fn occupancy(&self, policy: &BookingPolicy, now: OffsetDateTime) -> Vec<Holding> {
        self.occupied
            .iter()
            .filter_map(|seated| {
                let turn_end = match seated.booked_until {
                    Some(until) => until,
                    None => {
                        let size = self.tables.iter().find(|t| t.id == seated.table)?.max_party;
                        let turn = policy
                            .hold_seconds(size.min(policy.max_party_size).max(1))
                            .unwrap_or(8 * CELL_SECONDS);
                        seated.since + time::Duration::seconds(turn)
                    }
                };
                // A bill left open past twice its turn is taken for one staff forgot to close; a party seated from a
                // booking is there until the host marks it finished (seating another party there is refused until
                // then), so its table is never given away meanwhile.
                if seated.booked_until.is_none() && now >= turn_end + (turn_end - seated.since) {
                    return None;
                }
                Some(Holding {
                    tables: vec![seated.table],
                    start: seated.since,
                    until: turn_end.max(now + time::Duration::seconds(CELL_SECONDS)),
                    party: 0,
                    online: false,
                })
            })
            .collect()
    }
}

/// `holdings` and the floor's occupied tables, as every booking decision sees them.
fn held_now(
    policy: &BookingPolicy,
    floor: &Floor,
    holdings: &[Holding],
    now: OffsetDateTime,
) -> Vec<Holding> {
    let mut held = holdings.to_vec();
    held.extend(floor.occupancy(policy, now));
    held
}

/// A booking that holds tables (booked, confirmed, seated or late; not cancelled, no-show or finished).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    pub tables: Vec<Uuid>,
    pub start: OffsetDateTime,
    /// Exclusive end of the hold: start + [`BookingPolicy::hold_seconds`].
    pub until: OffsetDateTime,
    pub party: u16,
    pub online: bool,
}

/// Who books: the public widget (online tables and the online pacing cap) or staff (every table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Online,
    Staff,
}

/// An offered start: the UTC instant and the same instant at the venue's offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub start: OffsetDateTime,
    pub local: OffsetDateTime,
}

/// What a booking gets: its tables (one, or a declared combination) and the 15-minute cells it claims on each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub tables: Vec<Uuid>,
    pub start: OffsetDateTime,
    pub until: OffsetDateTime,
}

impl Assignment {
    /// Unix seconds of every cell the booking holds, per table: what the store claims under its unique key.
    pub fn cells(&self) -> Vec<i64> {
        cells_between(self.start, self.until)
    }
}

fn cells_between(start: OffsetDateTime, until: OffsetDateTime) -> Vec<i64> {
    let first = start.unix_timestamp().div_euclid(CELL_SECONDS) * CELL_SECONDS;
    (first..until.unix_timestamp())
        .step_by(usize::try_from(CELL_SECONDS).unwrap_or(900))
        .collect()
}

/// Why a booking is refused. `SlotTaken` is the one a guest cannot fix by changing the request (409); the others
/// name the rule (422).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Outside 1 to the policy's largest party (`BookingPolicy::max_party_size`), named so the guest knows what to ask.
    #[error("the venue seats parties of 1 to {largest}")]
    PartySize { largest: u16 },
    #[error("the start is not one of the venue's slots")]
    NotASlot,
    #[error("the start is closer than the venue's minimum notice")]
    TooSoon,
    #[error("the start is beyond the venue's booking horizon")]
    BeyondHorizon,
    #[error("the start is in the past")]
    Past,
    #[error("no table is free for this party at this time")]
    SlotTaken,
    /// A table is free, but the venue's pacing lets no more covers arrive in this quarter hour (the kitchen's
    /// limit): the host sees an empty table, so "no table is free" would be untrue.
    #[error("the venue's pacing lets no more guests arrive in this quarter hour")]
    Paced,
    #[error(
        "no table or combination of tables here seats a party of this size through this channel, nor does the \
             venue's pacing let so many arrive at once: ask the venue"
    )]
    NeverSeated,
}

/// The venue's zone, or `None` for a name the tz database does not know.
pub fn zone(name: &str) -> Option<TimeZone> {
    TimeZone::get(name).ok()
}

fn to_jiff_date(date: time::Date) -> Option<Date> {
    Date::new(
        i16::try_from(date.year()).ok()?,
        i8::try_from(u8::from(date.month())).ok()?,
        i8::try_from(date.day()).ok()?,
    )
    .ok()
}

fn instant(seconds: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(seconds).ok()
}

/// Every start the policy's services offer on business day `date` (the venue's day starts at `day_start_hour`),
/// ordered and unique, before any rule about tables, notice or pacing. A late service's seatings past midnight are
/// its date's; so are the seatings an all-day service (from 00:00 past the day start) offers on the next calendar
/// date before the day starts, and its own seatings before the day start are the evening before's — the date a
/// seating is offered on is the date whose host list shows it. Skipped local times are absent; repeated ones
/// appear once per instant.
pub fn service_slots(
    policy: &BookingPolicy,
    zone: &TimeZone,
    date: time::Date,
    day_start_hour: u8,
) -> Vec<Slot> {
    let Some(day) = to_jiff_date(date) else {
        return Vec::new();
    };
    let day_start = i64::from(day_start_hour) * 60;
    let step = i64::from(policy.slot_minutes.max(15));
    let mut starts = BTreeSet::new();
    for (next_date, calendar) in [(false, Some(day)), (true, day.tomorrow().ok())] {
        let Some(calendar) = calendar else {
            continue;
        };
        let weekday = u8::try_from(calendar.weekday().to_monday_one_offset()).unwrap_or(0);
        for service in policy.services.iter().filter(|s| s.weekdays.contains(&weekday)) {
            let (Some(first), Some(last)) = (
                parse_local_time(&service.first_seating),
                parse_local_time(&service.last_seating),
            ) else {
                continue;
            };
            let (first, last) = (i64::from(first), i64::from(last));
            let last = if last < first { last + 24 * 60 } else { last };
            // Before the day start on its own date: an all-day service (the only kind a policy may start there).
            let all_day = first < day_start;
            let (from, to) = match (next_date, all_day) {
                (false, false) => (first, last),
                // Its first seatings are the evening before's: from the first one at or after the day start.
                (false, true) => (first + (day_start - first + step - 1) / step * step, last),
                (true, true) => (first, last.min(day_start - 1)),
                (true, false) => continue,
            };
            let mut minute = from;
            while minute <= to {
                let civil = calendar
                    .to_datetime(jiff::civil::Time::midnight())
                    .checked_add(jiff::Span::new().minutes(minute));
                if let Ok(civil) = civil {
                    for seconds in instants_of(zone, civil) {
                        starts.insert(seconds);
                    }
                }
                minute += step;
            }
        }
    }
    starts
        .into_iter()
        .filter_map(|seconds| slot_at(zone, seconds))
        .collect()
}

/// The instants a local time names: none in a gap, two in a fold.
fn instants_of(zone: &TimeZone, civil: DateTime) -> Vec<i64> {
    let offsets = match zone.to_ambiguous_timestamp(civil).offset() {
        AmbiguousOffset::Unambiguous { offset } => vec![offset],
        AmbiguousOffset::Gap { .. } => Vec::new(),
        AmbiguousOffset::Fold { before, after } => vec![before, after],
    };
    offsets
        .into_iter()
        .filter_map(|offset| offset.to_timestamp(civil).ok())
        .map(|ts| ts.as_second())
        .collect()
}

fn slot_at(zone: &TimeZone, seconds: i64) -> Option<Slot> {
    let start = instant(seconds)?;
    let ts = jiff::Timestamp::from_second(seconds).ok()?;
    let offset = time::UtcOffset::from_whole_seconds(zone.to_offset(ts).seconds()).ok()?;
    Some(Slot {
        start,
        local: start.to_offset(offset),
    })
}

/// The local date of an instant in the venue's zone.
pub fn local_date(zone: &TimeZone, at: OffsetDateTime) -> Option<time::Date> {
    let ts = jiff::Timestamp::from_second(at.unix_timestamp()).ok()?;
    let offset = time::UtcOffset::from_whole_seconds(zone.to_offset(ts).seconds()).ok()?;
    Some(at.to_offset(offset).date())
}

fn overlaps(holding: &Holding, start: OffsetDateTime, until: OffsetDateTime) -> bool {
    holding.start < until && start < holding.until
}

/// Covers starting in the 15-minute window of `start`: all of them, and those booked online.
fn covers_in_window(holdings: &[Holding], start: OffsetDateTime) -> (u32, u32) {
    let window = start.unix_timestamp().div_euclid(CELL_SECONDS);
    holdings
        .iter()
        .filter(|h| h.start.unix_timestamp().div_euclid(CELL_SECONDS) == window)
        .fold((0, 0), |(all, online), h| {
            let covers = u32::from(h.party);
            (all + covers, online + if h.online { covers } else { 0 })
        })
}

/// The booking rules every path goes through (public booking, staff booking, a move): party size, the start
/// being an offered slot, notice, horizon, pacing, and a free table or combination chosen best-fit (the fewest
/// seats that take the party, then the fewest tables, then the lowest id, so the result does not depend on input
/// order). A move passes `holdings` without the booking being moved.
#[allow(clippy::too_many_arguments)]
pub fn check_booking(
    policy: &BookingPolicy,
    zone: &TimeZone,
    day_start_hour: u8,
    floor: &Floor,
    holdings: &[Holding],
    start: OffsetDateTime,
    party: u16,
    channel: Channel,
    now: OffsetDateTime,
) -> Result<Assignment, Refusal> {
    policy.hold_for(party)?;
    if start <= now {
        return Err(Refusal::Past);
    }
    let offered = local_date(zone, start)
        .map(|date| {
            [date.previous_day(), Some(date)].into_iter().flatten().any(|d| {
                service_slots(policy, zone, d, day_start_hour)
                    .iter()
                    .any(|s| s.start == start)
            })
        })
        .unwrap_or(false);
    if !offered {
        return Err(Refusal::NotASlot);
    }
    fit(
        policy,
        floor,
        &held_now(policy, floor, holdings, now),
        start,
        party,
        channel,
        now,
    )
}

/// A walk-in: a party at the door that the host seats at once. It holds its table from `now` (to the second) for its
/// turn like a booking, and is given a table free for all of it, best-fit like a booking, never one a booking or a
/// party at a table holds. It is not booked onto the slot grid (a party arriving at 20:07 does not start at 20:15),
/// and the rules about booking ahead do not apply: notice and horizon are the guests', and pacing spaces out the
/// arrivals the venue books for its kitchen, while a party already standing at a free table is the host's call.
/// Refusals: `PartySize` (no turn for that size), `NeverSeated` (no table or combination takes it), `SlotTaken` (none
/// is free for its turn now).
pub fn check_walk_in(
    policy: &BookingPolicy,
    floor: &Floor,
    holdings: &[Holding],
    party: u16,
    now: OffsetDateTime,
) -> Result<Assignment, Refusal> {
    let hold = policy.hold_for(party)?;
    let start = now - time::Duration::nanoseconds(i64::from(now.nanosecond()));
    let until = start + time::Duration::seconds(hold);
    if !some_table_takes(floor, party, Channel::Staff) {
        return Err(Refusal::NeverSeated);
    }
    let held = held_now(policy, floor, holdings, now);
    best_fit(floor, &held, start, until, party, Channel::Staff)
        .map(|tables| Assignment { tables, start, until })
        .ok_or(Refusal::SlotTaken)
}

/// The rules once `start` is known to be an offered slot: notice, horizon, pacing and a free table. Availability
/// calls this for the slots it generated itself, rather than regenerating the day's slots for each of them.
fn fit(
    policy: &BookingPolicy,
    floor: &Floor,
    holdings: &[Holding],
    start: OffsetDateTime,
    party: u16,
    channel: Channel,
    now: OffsetDateTime,
) -> Result<Assignment, Refusal> {
    let hold = policy.hold_for(party)?;
    if start <= now {
        return Err(Refusal::Past);
    }
    if !could_ever_seat(policy, floor, party, channel) {
        return Err(Refusal::NeverSeated);
    }
    // The notice is the online guests' (the kitchen's warning); a host booking a walk-in, or moving an early party
    // to now, is on the floor and needs none.
    if channel == Channel::Online
        && start - now < time::Duration::minutes(i64::from(policy.min_notice_minutes))
    {
        return Err(Refusal::TooSoon);
    }
    if start - now > time::Duration::days(i64::from(policy.horizon_days)) {
        return Err(Refusal::BeyondHorizon);
    }
    let (all, online) = covers_in_window(holdings, start);
    let covers = u32::from(party);
    if all + covers > policy.pacing.covers_per_15_min
        || (channel == Channel::Online && online + covers > policy.pacing.online_covers_per_15_min)
    {
        return Err(Refusal::Paced);
    }
    let until = start + time::Duration::seconds(hold);
    best_fit(floor, holdings, start, until, party, channel)
        .map(|tables| Assignment { tables, start, until })
        .ok_or(Refusal::SlotTaken)
}

/// Whether the venue could seat a party of `party` through `channel` on an empty evening: a table or combination
/// (usable by the channel) holds it, and the pacing lets that many covers arrive in one 15-minute window. A party
/// it never could is told so (422), not that its time "was just taken", and never waits on a list for nothing.
pub fn could_ever_seat(policy: &BookingPolicy, floor: &Floor, party: u16, channel: Channel) -> bool {
    let covers = u32::from(party);
    let cap = match channel {
        Channel::Online => policy
            .pacing
            .covers_per_15_min
            .min(policy.pacing.online_covers_per_15_min),
        Channel::Staff => policy.pacing.covers_per_15_min,
    };
    covers <= cap && some_table_takes(floor, party, channel)
}

/// Whether a table or a declared combination usable by `channel` seats `party` when nothing is held.
fn some_table_takes(floor: &Floor, party: u16, channel: Channel) -> bool {
    let moment = OffsetDateTime::UNIX_EPOCH;
    best_fit(
        floor,
        &[],
        moment,
        moment + time::Duration::hours(1),
        party,
        channel,
    )
    .is_some()
}

fn best_fit(
    floor: &Floor,
    holdings: &[Holding],
    start: OffsetDateTime,
    until: OffsetDateTime,
    party: u16,
    channel: Channel,
) -> Option<Vec<Uuid>> {
    let busy: BTreeSet<Uuid> = holdings
        .iter()
        .filter(|h| overlaps(h, start, until))
        .flat_map(|h| h.tables.iter().copied())
        .collect();
    let usable = |table: &BookableTable| channel == Channel::Staff || table.online;
    let singles = floor
        .tables
        .iter()
        .filter(|t| usable(t))
        .map(|t| (u32::from(t.max_party), u32::from(t.min_party), vec![t.id]));
    let combined = floor.combinations.iter().filter_map(|ids| {
        let members: Vec<&BookableTable> = ids
            .iter()
            .map(|id| floor.tables.iter().find(|t| t.id == *id))
            .collect::<Option<_>>()?;
        if members.len() < 2 || !members.iter().all(|t| usable(t)) {
            return None;
        }
        let seats = members.iter().map(|t| u32::from(t.max_party)).sum();
        let least = members.iter().map(|t| u32::from(t.min_party)).max().unwrap_or(1);
        let mut tables: Vec<Uuid> = ids.clone();
        tables.sort();
        tables.dedup();
        Some((seats, least, tables))
    });
    singles
        .chain(combined)
        .filter(|(seats, least, tables)| {
            u32::from(party) <= *seats
                && u32::from(party) >= *least
                && tables.iter().all(|id| !busy.contains(id))
        })
        .min_by(|a, b| (a.0, a.2.len(), &a.2).cmp(&(b.0, b.2.len(), &b.2)))
        .map(|(_, _, tables)| tables)
}

/// The starts on local `date` a party of `party` can book through `channel` now: every one of them passes
/// [`check_booking`]. Ordered by instant, unique.
#[allow(clippy::too_many_arguments)]
pub fn availability(
    policy: &BookingPolicy,
    zone: &TimeZone,
    day_start_hour: u8,
    floor: &Floor,
    holdings: &[Holding],
    date: time::Date,
    party: u16,
    channel: Channel,
    now: OffsetDateTime,
) -> Vec<Slot> {
    let held = held_now(policy, floor, holdings, now);
    service_slots(policy, zone, date, day_start_hour)
        .into_iter()
        .filter(|slot| fit(policy, floor, &held, slot.start, party, channel, now).is_ok())
        .collect()
}

/// The deposit a booking asks: the policy's deposit per cover times the party's covers, or none. `None` also when
/// the product would overflow (a policy's schema bounds keep it far from that).
pub fn deposit_for(policy: &BookingPolicy, party: u16) -> Option<Money> {
    let per_cover = policy.deposit_per_cover?;
    let amount = per_cover.amount.checked_mul(i64::from(party))?;
    Money::new(amount, per_cover.currency).ok()
}

/// The last instant a guest's cancellation still refunds the deposit: `cancellation_cutoff_hours` before the start
/// (the rule the widget shows before paying).
pub fn refundable_until(policy: &BookingPolicy, start: OffsetDateTime) -> OffsetDateTime {
    start.saturating_sub(time::Duration::hours(i64::from(policy.cancellation_cutoff_hours)))
}

/// A host's move that waits for the party's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimedMove {
    Seat,
    MarkLate,
    NoShow,
}

/// How long before its start a party may be seated: an early party whose table is ready. Seating is the party's
/// coming, which keeps a deposit ([`deposit_fate`]): a booking days ahead must not be "seated" by a slip of the
/// host's finger.
pub const EARLIEST_SEATING: time::Duration = time::Duration::minutes(60);

/// How long after its start a party is late.
pub const LATE_AFTER: time::Duration = time::Duration::minutes(15);

/// The latest start of a booking whose time for `step` has come at `now`: a party is seated from
/// [`EARLIEST_SEATING`] before its start, and late — or, if the host gives up on it, a no-show — [`LATE_AFTER`] after
/// it. The no-show waits out the same grace as "late": a no-show keeps the guest's deposit ([`deposit_fate`]), and a
/// party two minutes behind its time has not failed to come.
pub fn latest_start(step: TimedMove, now: OffsetDateTime) -> OffsetDateTime {
    match step {
        TimedMove::Seat => now.saturating_add(EARLIEST_SEATING),
        TimedMove::MarkLate | TimedMove::NoShow => now.saturating_sub(LATE_AFTER),
    }
}

/// What a host is told when `step` comes too early.
pub fn too_early(step: TimedMove) -> &'static str {
    match step {
        TimedMove::Seat => {
            "a party is seated from an hour before its time: move the booking to seat it earlier"
        }
        TimedMove::MarkLate => "a party is late 15 minutes after its start, not before",
        TimedMove::NoShow => {
            "a party is a no-show only 15 minutes after its start (until then it may still come)"
        }
    }
}

/// Why a host's `step` cannot be made yet of a booking starting at `start`, or `None` once its time has come
/// ([`latest_start`]).
pub fn not_yet(step: TimedMove, start: OffsetDateTime, now: OffsetDateTime) -> Option<&'static str> {
    (start > latest_start(step, now)).then(|| too_early(step))
}

/// Why a party marked a no-show cannot be seated any more, or `None` while its booked time lasts (`until`, the end
/// of its turn): a party that comes after the host gave up on it is seated, not turned away, as long as its tables
/// are still its own. Its deposit, kept for the no-show, is handed to the venue only once that time is over, so
/// seating it refunds the deposit as for any party that came ([`deposit_fate`]).
pub fn no_show_undone_too_late(until: OffsetDateTime, now: OffsetDateTime) -> Option<&'static str> {
    (now >= until).then_some(
        "the party's booked time is over: seat it as a walk-in (book it now for the time it stays)",
    )
}

/// How long after a no-show's booked time ends its kept deposit is handed to the venue. Seating the party is refused
/// from that end on ([`no_show_undone_too_late`]), so the margin keeps a seating decided just before the end (a slow
/// request, another instance's clock) from meeting the hand-over: the deposit is refunded or handed over, never both.
pub const NO_SHOW_HANDOVER_MARGIN: time::Duration = time::Duration::minutes(15);

/// How a booking with a paid deposit ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The guest cancelled, by the link in their confirmation.
    GuestCancelled,
    /// The venue cancelled (a host): never the guest's fault.
    VenueCancelled,
    NoShow,
    /// The party came: the deposit, which guaranteed the booking, goes back to the guest's card.
    Seated,
}

/// What becomes of a paid deposit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepositFate {
    /// Back to the guest's card.
    Refund,
    /// To the venue.
    Keep,
}

/// The venue's disclosed rule: a guest who cancels up to [`refundable_until`] gets the deposit back, later it is
/// kept; a no-show forfeits it; a cancellation by the venue always refunds it; a party that comes gets it back when
/// seated. The deposit guarantees the booking, it does not prepay the meal: the bill at the table is paid whole, so
/// keeping the deposit of a party that came would charge it twice.
pub fn deposit_fate(ending: Ending, refundable_until: OffsetDateTime, at: OffsetDateTime) -> DepositFate {
    match ending {
        Ending::GuestCancelled if at <= refundable_until => DepositFate::Refund,
        Ending::VenueCancelled | Ending::Seated => DepositFate::Refund,
        Ending::GuestCancelled | Ending::NoShow => DepositFate::Keep,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::{date, datetime};

    fn policy() -> BookingPolicy {
        BookingPolicy {
            services: vec![Service {
                weekdays: vec![1, 2, 3, 4, 5, 6, 7],
                first_seating: "18:00".into(),
                last_seating: "22:00".into(),
            }],
            slot_minutes: 15,
            turn_minutes: vec![
                TurnTime {
                    max_party: 2,
                    minutes: 90,
                },
                TurnTime {
                    max_party: 12,
                    minutes: 120,
                },
            ],
            buffer_minutes: 15,
            pacing: Pacing {
                covers_per_15_min: 8,
                online_covers_per_15_min: 6,
            },
            min_notice_minutes: 60,
            horizon_days: 60,
            max_party_size: 12,
            deposit_per_cover: None,
            cancellation_cutoff_hours: 0,
            contact_phone: None,
            contact_email: None,
        }
    }

    fn table(n: u128, min: u16, max: u16) -> BookableTable {
        BookableTable {
            id: Uuid::from_u128(n),
            min_party: min,
            max_party: max,
            online: true,
        }
    }

    const NOW: OffsetDateTime = datetime!(2026-11-30 12:00 UTC);

    #[test]
    fn a_declined_table_leaves_the_floor_with_the_combinations_that_use_it() {
        let id = Uuid::from_u128;
        let floor = Floor {
            tables: vec![table(1, 1, 4), table(2, 1, 4), table(3, 1, 4)],
            combinations: vec![vec![id(1), id(2)], vec![id(2), id(3)]],
            occupied: Vec::new(),
        };
        let left = floor.without(&[id(1)]);
        assert_eq!(left.tables, [table(2, 1, 4), table(3, 1, 4)]);
        assert_eq!(left.combinations, [vec![id(2), id(3)]]);
        assert_eq!(floor.without(&[]), floor);
        // The party declined its only table: a party of 2 has nowhere to be offered.
        let policy = policy();
        let now = NOW;
        assert!(check_walk_in(&policy, &floor, &[], 2, now).is_ok());
        assert_eq!(
            check_walk_in(&policy, &floor.without(&[id(1), id(2), id(3)]), &[], 2, now),
            Err(Refusal::NeverSeated)
        );
    }

    #[test]
    fn a_fall_back_night_lists_each_repeated_local_time_with_both_instants() {
        // New York falls back at 02:00 EDT on 2026-11-01: 01:00-01:59 happens twice.
        let mut policy = policy();
        policy.services[0].first_seating = "23:00".into();
        policy.services[0].last_seating = "02:00".into();
        let ny = zone("America/New_York").unwrap();
        let slots = service_slots(&policy, &ny, date!(2026 - 10 - 31), 5);
        let one_thirty: Vec<_> = slots
            .iter()
            .filter(|s| (s.local.hour(), s.local.minute()) == (1, 30))
            .collect();
        assert_eq!(one_thirty.len(), 2);
        assert_eq!(one_thirty[0].start, datetime!(2026-11-01 05:30 UTC));
        assert_eq!(one_thirty[0].local.offset().whole_hours(), -4);
        assert_eq!(one_thirty[1].start, datetime!(2026-11-01 06:30 UTC));
        assert_eq!(one_thirty[1].local.offset().whole_hours(), -5);
        assert!(slots.windows(2).all(|w| w[0].start < w[1].start));
    }

    #[test]
    fn a_spring_forward_night_offers_no_skipped_time() {
        // New York springs forward at 02:00 EST on 2026-03-08: 02:00-02:59 does not exist.
        let mut policy = policy();
        policy.services[0].first_seating = "23:00".into();
        policy.services[0].last_seating = "03:30".into();
        let ny = zone("America/New_York").unwrap();
        let slots = service_slots(&policy, &ny, date!(2026 - 03 - 07), 5);
        assert!(slots.iter().all(|s| s.local.hour() != 2), "{slots:?}");
        let three = slots
            .iter()
            .find(|s| (s.local.hour(), s.local.minute()) == (3, 0))
            .unwrap();
        assert_eq!(three.start, datetime!(2026-03-08 07:00 UTC));
        let before = slots
            .iter()
            .find(|s| (s.local.hour(), s.local.minute()) == (1, 45))
            .unwrap();
        assert_eq!(before.start, datetime!(2026-03-08 06:45 UTC));
    }

    #[test]
    fn slots_use_each_dates_own_offset() {
        // The same 19:00 in New York is 23:00 UTC in summer and 00:00 UTC in winter.
        let ny = zone("America/New_York").unwrap();
        let summer = service_slots(&policy(), &ny, date!(2026 - 07 - 01), 5);
        let winter = service_slots(&policy(), &ny, date!(2026 - 12 - 01), 5);
        assert_eq!(summer[4].start, datetime!(2026-07-01 23:00 UTC));
        assert_eq!(winter[4].start, datetime!(2026-12-02 00:00 UTC));
    }

    #[test]
    fn pacing_is_counted_per_window_not_per_day() {
        let bogota = zone("America/Bogota").unwrap();
        let floor = Floor {
            tables: (1..=10).map(|n| table(n, 1, 4)).collect(),
            combinations: vec![],
            occupied: vec![],
        };
        let seven = datetime!(2026-12-02 00:00 UTC); // 19:00 in Bogotá
        let holdings = vec![Holding {
            tables: vec![Uuid::from_u128(1)],
            start: seven,
            until: seven + time::Duration::hours(2),
            party: 4,
            online: false,
        }];
        let mut staff = policy();
        staff.pacing.online_covers_per_15_min = 8;
        // 4 + 4 = 8 covers fit; a ninth is refused although tables are free.
        assert!(
            check_booking(
                &staff,
                &bogota,
                5,
                &floor,
                &holdings,
                seven,
                4,
                Channel::Staff,
                NOW
            )
            .is_ok()
        );
        let mut full = holdings.clone();
        full.push(Holding {
            tables: vec![Uuid::from_u128(2)],
            ..holdings[0].clone()
        });
        assert_eq!(
            check_booking(&staff, &bogota, 5, &floor, &full, seven, 1, Channel::Staff, NOW),
            Err(Refusal::Paced),
            "the pacing, not a table, says no: the host sees a free table"
        );
        // The next window is free again.
        let later = seven + time::Duration::minutes(15);
        assert!(check_booking(&staff, &bogota, 5, &floor, &full, later, 4, Channel::Staff, NOW).is_ok());
    }

    /// A party seated from a booking that stays past its booking's end still has its table: a walk-in is given
    /// another (the host found the next booking put on the table someone was still at), however long it stays,
    /// until the host marks it finished.
    #[test]
    fn a_booked_party_staying_past_its_turn_keeps_its_table() {
        let bogota = zone("America/Bogota").unwrap();
        let sat = datetime!(2026-12-01 23:00 UTC);
        let ends = sat + time::Duration::minutes(105);
        let floor = Floor {
            tables: vec![table(1, 1, 4), table(2, 1, 4)],
            combinations: vec![],
            occupied: vec![Occupied {
                table: Uuid::from_u128(1),
                since: sat,
                booked_until: Some(ends),
            }],
        };
        let p = policy();
        let walk_in = |now: OffsetDateTime| {
            let start = now + time::Duration::minutes(10);
            let start = start
                .replace_minute(start.minute() / 15 * 15)
                .unwrap()
                .replace_second(0)
                .unwrap();
            check_booking(&p, &bogota, 5, &floor, &[], start, 2, Channel::Staff, now).map(|a| a.tables)
        };
        let lingering = ends + time::Duration::minutes(10);
        assert_eq!(
            walk_in(lingering),
            Ok(vec![Uuid::from_u128(2)]),
            "not onto the lingering party"
        );
        let long_after = ends + time::Duration::minutes(110);
        assert_eq!(
            walk_in(long_after),
            Ok(vec![Uuid::from_u128(2)]),
            "still there, twice its turn later"
        );
    }

    #[test]
    fn a_party_at_a_table_keeps_it_from_walk_ins_for_its_turn() {
        // Guests ordered from table 1's QR code at 18:30 (Bogotá); its turn for four is 120 minutes with the buffer.
        let bogota = zone("America/Bogota").unwrap();
        let sat = datetime!(2026-12-01 23:30 UTC);
        let floor = Floor {
            tables: vec![table(1, 1, 4), table(2, 1, 4)],
            combinations: vec![],
            occupied: vec![Occupied {
                table: Uuid::from_u128(1),
                since: sat,
                booked_until: None,
            }],
        };
        let p = policy();
        let turn = time::Duration::seconds(p.hold_seconds(4).unwrap());
        let walk_in = |now: OffsetDateTime, start| {
            check_booking(&p, &bogota, 5, &floor, &[], start, 2, Channel::Staff, now).map(|a| a.tables)
        };
        let seven = datetime!(2026-12-02 00:00 UTC);
        let now = seven - time::Duration::minutes(5);
        // Not on the occupied table (the lowest id), while it is there.
        assert_eq!(walk_in(now, seven), Ok(vec![Uuid::from_u128(2)]));
        assert!(
            availability(
                &p,
                &bogota,
                5,
                &floor,
                &[],
                date!(2026 - 12 - 01),
                4,
                Channel::Staff,
                now
            )
            .iter()
            .all(|slot| slot.start >= sat + turn || walk_in(now, slot.start) == Ok(vec![Uuid::from_u128(2)]))
        );
        // Once its turn is over the table is offered again, from the next quarter hour on while the party lingers.
        assert_eq!(walk_in(now, sat + turn), Ok(vec![Uuid::from_u128(1)]));
        let lingering = sat + turn + time::Duration::minutes(20); // 21:05
        assert_eq!(
            walk_in(lingering, datetime!(2026-12-02 02:15 UTC)),
            Ok(vec![Uuid::from_u128(2)])
        );
        assert_eq!(
            walk_in(lingering, datetime!(2026-12-02 02:30 UTC)),
            Ok(vec![Uuid::from_u128(1)])
        );
        // A bill left open past twice the turn was forgotten: it holds nothing.
        let forgotten = Floor {
            occupied: vec![Occupied {
                table: Uuid::from_u128(1),
                since: now - turn * 2,
                booked_until: None,
            }],
            ..floor.clone()
        };
        assert_eq!(
            check_booking(&p, &bogota, 5, &forgotten, &[], seven, 2, Channel::Staff, now).map(|a| a.tables),
            Ok(vec![Uuid::from_u128(1)])
        );
    }

    /// A walk-in at 20:07 starts at 20:07, off the grid, past a full pacing window and inside the online notice; it
    /// is never put on a table a booking or a seated party holds for its turn, and it holds its own from now.
    #[test]
    fn a_walk_in_starts_when_it_arrives_on_a_table_free_for_its_turn() {
        let arrives = datetime!(2026-12-02 01:07:30.25 UTC); // 20:07:30 in Bogotá
        let floor = Floor {
            tables: vec![table(1, 1, 4), table(2, 1, 4), table(3, 1, 4)],
            combinations: vec![],
            occupied: vec![Occupied {
                table: Uuid::from_u128(1),
                since: arrives - time::Duration::minutes(30),
                booked_until: None,
            }],
        };
        let mut p = policy();
        p.pacing.covers_per_15_min = 2;
        // Table 2 is booked at 21:00, inside a walk-in's two-hour turn; the 20:00 window's covers are all taken.
        let nine = datetime!(2026-12-02 02:00 UTC);
        let holdings = vec![
            Holding {
                tables: vec![Uuid::from_u128(2)],
                start: nine,
                until: nine + time::Duration::hours(2),
                party: 2,
                online: true,
            },
            Holding {
                tables: vec![Uuid::from_u128(9)],
                start: datetime!(2026-12-02 01:00 UTC),
                until: datetime!(2026-12-02 03:00 UTC),
                party: 2,
                online: false,
            },
        ];
        let seated = check_walk_in(&p, &floor, &holdings, 3, arrives).unwrap();
        assert_eq!(seated.tables, vec![Uuid::from_u128(3)]);
        assert_eq!(seated.start, datetime!(2026-12-02 01:07:30 UTC));
        assert_eq!(
            seated.until - seated.start,
            time::Duration::seconds(p.hold_seconds(3).unwrap())
        );
        assert_eq!(
            seated.cells()[0],
            datetime!(2026-12-02 01:00 UTC).unix_timestamp()
        );
        // With table 3 taken too, nothing is free for the turn: the party is told so, not booked later.
        let mut full = holdings.clone();
        full.push(Holding {
            tables: vec![Uuid::from_u128(3)],
            start: arrives + time::Duration::minutes(90),
            until: arrives + time::Duration::minutes(200),
            party: 4,
            online: false,
        });
        assert_eq!(
            check_walk_in(&p, &floor, &full, 3, arrives),
            Err(Refusal::SlotTaken)
        );
        assert_eq!(
            check_walk_in(&p, &floor, &holdings, 9, arrives),
            Err(Refusal::NeverSeated)
        );
        assert_eq!(
            check_walk_in(&p, &floor, &holdings, 13, arrives),
            Err(Refusal::PartySize { largest: 12 })
        );
    }

    #[test]
    fn rules_refuse_with_their_reason() {
        let bogota = zone("America/Bogota").unwrap();
        let floor = Floor {
            tables: vec![table(1, 1, 4)],
            combinations: vec![],
            occupied: vec![],
        };
        let p = policy();
        let seven = datetime!(2026-12-02 00:00 UTC);
        let check =
            |start, party| check_booking(&p, &bogota, 5, &floor, &[], start, party, Channel::Online, NOW);
        assert_eq!(check(seven, 0), Err(Refusal::PartySize { largest: 12 }));
        assert_eq!(check(seven, 13), Err(Refusal::PartySize { largest: 12 }));
        assert_eq!(
            check(seven + time::Duration::minutes(5), 2),
            Err(Refusal::NotASlot)
        );
        assert_eq!(check(datetime!(2026-11-30 11:00 UTC), 2), Err(Refusal::Past));
        assert_eq!(
            check(datetime!(2027-03-01 00:00 UTC), 2),
            Err(Refusal::BeyondHorizon)
        );
        // Five fit no table of this floor on any evening: never seated, not "taken".
        assert_eq!(check(seven, 5), Err(Refusal::NeverSeated));
        assert!(check(seven, 4).is_ok());
        // Four at a table another party holds: taken.
        let held = [Holding {
            tables: vec![floor.tables[0].id],
            start: seven,
            until: seven + time::Duration::hours(2),
            party: 2,
            online: true,
        }];
        assert_eq!(
            check_booking(&p, &bogota, 5, &floor, &held, seven, 4, Channel::Online, NOW),
            Err(Refusal::SlotTaken)
        );
        // A slot at 18:00 local is 23:00 UTC; 12:30 UTC "now" leaves more than the hour of notice.
        let soon = datetime!(2026-11-30 23:00 UTC);
        let late_now = datetime!(2026-11-30 22:30 UTC);
        assert_eq!(
            check_booking(&p, &bogota, 5, &floor, &[], soon, 2, Channel::Online, late_now),
            Err(Refusal::TooSoon)
        );
        // The notice is the online guests': a host books the walk-in, or moves an early party, for the next slot.
        assert!(check_booking(&p, &bogota, 5, &floor, &[], soon, 2, Channel::Staff, late_now).is_ok());
    }

    #[test]
    fn a_large_party_gets_a_declared_combination_and_blocks_each_table() {
        let bogota = zone("America/Bogota").unwrap();
        let floor = Floor {
            tables: vec![table(1, 1, 4), table(2, 1, 4), table(3, 1, 2)],
            combinations: vec![vec![Uuid::from_u128(2), Uuid::from_u128(1)]],
            occupied: vec![],
        };
        let seven = datetime!(2026-12-02 00:00 UTC);
        let got = check_booking(&policy(), &bogota, 5, &floor, &[], seven, 7, Channel::Staff, NOW).unwrap();
        assert_eq!(got.tables, vec![Uuid::from_u128(1), Uuid::from_u128(2)]);
        // 120-minute turn plus 15 of buffer: nine cells.
        assert_eq!(got.cells().len(), 9);
        let holding = Holding {
            tables: got.tables.clone(),
            start: got.start,
            until: got.until,
            party: 7,
            online: false,
        };
        // Best fit gives a couple the two-top, and a party of three nothing while the combination holds.
        let couple = check_booking(
            &policy(),
            &bogota,
            5,
            &floor,
            std::slice::from_ref(&holding),
            seven + time::Duration::minutes(15),
            2,
            Channel::Staff,
            NOW,
        )
        .unwrap();
        assert_eq!(couple.tables, vec![Uuid::from_u128(3)]);
        assert_eq!(
            check_booking(
                &policy(),
                &bogota,
                5,
                &floor,
                &[holding],
                seven + time::Duration::minutes(15),
                3,
                Channel::Staff,
                NOW
            ),
            Err(Refusal::SlotTaken)
        );
    }

    /// An all-day service (00:00 to 23:45) under a 05:00 day start: business day 1 December offers from 05:00 that
    /// day to 04:45 the next (the small hours are the evening before's, as the host's list shows them); under a
    /// midnight day start, its calendar day.
    #[test]
    fn an_all_day_service_offers_its_business_day() {
        let mut p = policy();
        p.services = vec![Service {
            weekdays: vec![1, 2, 3, 4, 5, 6, 7],
            first_seating: "00:00".into(),
            last_seating: "23:45".into(),
        }];
        let bogota = zone("America/Bogota").unwrap();
        let slots = service_slots(&p, &bogota, date!(2026 - 12 - 01), 5);
        let local = |slot: &Slot| (slot.local.date(), slot.local.hour(), slot.local.minute());
        assert_eq!(slots.len(), 96);
        assert_eq!(local(&slots[0]), (date!(2026 - 12 - 01), 5, 0));
        assert_eq!(local(&slots[95]), (date!(2026 - 12 - 02), 4, 45));
        let midnight = service_slots(&p, &bogota, date!(2026 - 12 - 01), 0);
        assert_eq!(midnight.len(), 96);
        assert_eq!(local(&midnight[0]), (date!(2026 - 12 - 01), 0, 0));
        assert_eq!(local(&midnight[95]), (date!(2026 - 12 - 01), 23, 45));
    }

    #[test]
    fn validation_names_the_field() {
        let mut bad = policy();
        bad.slot_minutes = 20;
        bad.services[0].first_seating = "25:00".into();
        bad.pacing.online_covers_per_15_min = 9;
        let errors = bad.validate().unwrap_err();
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"slot_minutes"), "{fields:?}");
        assert!(fields.contains(&"services[0].first_seating"), "{fields:?}");
        assert!(fields.contains(&"pacing.online_covers_per_15_min"), "{fields:?}");
        assert!(policy().validate().is_ok());
    }

    #[test]
    fn a_late_service_ends_before_the_business_day_starts() {
        let mut p = policy();
        p.services = vec![
            Service {
                weekdays: vec![2],
                first_seating: "12:00".into(),
                last_seating: "14:00".into(),
            },
            Service {
                weekdays: vec![5, 6],
                first_seating: "18:00".into(),
                last_seating: "01:00".into(),
            },
        ];
        assert_eq!(p.seats_outside_business_day(5), None);
        assert_eq!(p.seats_outside_business_day(2), None);
        assert_eq!(
            p.seats_outside_business_day(1),
            Some((1, "last_seating")),
            "01:00 is the next business day's"
        );
        assert_eq!(p.seats_outside_business_day(0), Some((1, "last_seating")));
        // A day starting at 15:00 leaves the 12:00-14:00 lunch on the previous day's list, one at 13:00 its first
        // hour.
        assert_eq!(p.seats_outside_business_day(15), Some((0, "first_seating")));
        assert_eq!(p.seats_outside_business_day(13), Some((0, "first_seating")));
        // An all-day service is let be.
        p.services = vec![Service {
            weekdays: vec![1],
            first_seating: "00:00".into(),
            last_seating: "23:45".into(),
        }];
        assert_eq!(p.seats_outside_business_day(5), None);
    }

    #[test]
    fn services_of_one_weekday_follow_one_another() {
        let service = |days: &[u8], first: &str, last: &str| Service {
            weekdays: days.to_vec(),
            first_seating: first.into(),
            last_seating: last.into(),
        };
        let with = |services: Vec<Service>| {
            let mut p = policy();
            p.services = services;
            p.validate()
                .map(|_| ())
                .map_err(|e| e.0.iter().map(|e| e.field.clone()).collect::<Vec<_>>())
        };
        // Lunch and dinner on Tuesday, a late service on Friday past midnight: fine.
        assert_eq!(
            with(vec![
                service(&[2], "12:00", "14:30"),
                service(&[2, 5], "18:00", "22:00"),
                service(&[6], "22:30", "01:00"),
            ]),
            Ok(())
        );
        // The same weekday twice, and two Tuesday services sharing seatings (one running past midnight).
        assert_eq!(
            with(vec![service(&[2, 2], "18:00", "22:00")]),
            Err(vec!["services[0].weekdays".to_owned()])
        );
        assert_eq!(
            with(vec![
                service(&[2], "18:00", "01:00"),
                service(&[2, 3], "19:00", "22:00")
            ]),
            Err(vec!["services[1]".to_owned()])
        );
        assert_eq!(
            with(vec![
                service(&[2], "22:00", "01:00"),
                service(&[2], "00:30", "00:45")
            ]),
            Ok(()),
            "a seating after midnight of Tuesday's early service is not Tuesday's late one"
        );
        // Monday's late service runs into Tuesday 00:30; Sunday's into Monday's.
        assert_eq!(
            with(vec![
                service(&[1], "22:00", "01:00"),
                service(&[2], "00:30", "00:45")
            ]),
            Err(vec!["services[1]".to_owned()])
        );
        assert_eq!(
            with(vec![
                service(&[7], "22:00", "01:00"),
                service(&[1], "00:00", "00:15")
            ]),
            Err(vec!["services[1]".to_owned()])
        );
    }

    fn arb_floor() -> impl Strategy<Value = Floor> {
        proptest::collection::vec((1u16..=3, 2u16..=6, any::<bool>()), 1..8).prop_flat_map(|specs| {
            let tables: Vec<BookableTable> = specs
                .iter()
                .enumerate()
                .map(|(i, (min, max, online))| BookableTable {
                    id: Uuid::from_u128(i as u128 + 1),
                    min_party: (*min).min(*max),
                    max_party: *max,
                    online: *online,
                })
                .collect();
            let n = tables.len();
            proptest::collection::vec(proptest::collection::vec(0..n, 2..=3), 0..3).prop_map(move |combos| {
                Floor {
                    tables: tables.clone(),
                    combinations: combos
                        .into_iter()
                        .map(|ids| ids.into_iter().map(|i| Uuid::from_u128(i as u128 + 1)).collect())
                        .collect(),
                    occupied: vec![],
                }
            })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Booking every offered slot in turn, for random parties: each booking passes the rules, no table is held
        /// twice at once, pacing is never exceeded, and the offered list is ordered and unique.
        #[test]
        fn every_offered_slot_can_be_booked_and_nothing_is_double_held(
            floor in arb_floor(),
            parties in proptest::collection::vec(1u16..=8, 1..40),
            zone_name in prop::sample::select(vec!["America/Bogota", "America/New_York", "Europe/Madrid"]),
            day in 0i64..200,
            online in any::<bool>(),
        ) {
            let tz = zone(zone_name).unwrap();
            let date = date!(2026 - 12 - 01) + time::Duration::days(day % 50);
            let channel = if online { Channel::Online } else { Channel::Staff };
            let p = policy();
            let mut holdings: Vec<Holding> = Vec::new();
            for party in parties {
                let offered = availability(&p, &tz, 5, &floor, &holdings, date, party, channel, NOW);
                prop_assert!(offered.windows(2).all(|w| w[0].start < w[1].start));
                let Some(slot) = offered.get(usize::from(party) % offered.len().max(1)) else { continue };
                let got = check_booking(&p, &tz, 5, &floor, &holdings, slot.start, party, channel, NOW);
                prop_assert!(got.is_ok(), "offered but refused: {got:?}");
                let got = got.unwrap();
                holdings.push(Holding { tables: got.tables, start: got.start, until: got.until, party, online });
            }
            for (i, a) in holdings.iter().enumerate() {
                for b in &holdings[i + 1..] {
                    let shared = a.tables.iter().any(|t| b.tables.contains(t));
                    prop_assert!(!(shared && overlaps(a, b.start, b.until)), "{a:?} and {b:?} share a table");
                }
                let (all, on) = covers_in_window(&holdings, a.start);
                prop_assert!(all <= p.pacing.covers_per_15_min);
                prop_assert!(on <= p.pacing.online_covers_per_15_min || !online);
            }
        }

        /// The answer does not depend on the order tables, combinations and bookings are listed in.
        #[test]
        fn availability_ignores_input_order(floor in arb_floor(), party in 1u16..=8, seed in any::<u64>()) {
            let tz = zone("Europe/Madrid").unwrap();
            let date = date!(2026 - 12 - 05);
            let p = policy();
            let first = check_booking(&p, &tz, 5, &floor, &[], datetime!(2026-12-05 18:00 UTC), 2, Channel::Staff, NOW);
            let holdings: Vec<Holding> = first.into_iter().map(|a| Holding { tables: a.tables, start: a.start, until: a.until, party: 2, online: false }).collect();
            let mut shuffled = floor.clone();
            let k = usize::try_from(seed % 7).unwrap_or(0);
            let n = shuffled.tables.len().max(1);
            shuffled.tables.rotate_left(k % n);
            shuffled.tables.reverse();
            shuffled.combinations.reverse();
            for combo in &mut shuffled.combinations { combo.reverse(); }
            let a = availability(&p, &tz, 5, &floor, &holdings, date, party, Channel::Staff, NOW);
            let b = availability(&p, &tz, 5, &shuffled, &holdings, date, party, Channel::Staff, NOW);
            prop_assert_eq!(&a, &b);
            for slot in a {
                let x = check_booking(&p, &tz, 5, &floor, &holdings, slot.start, party, Channel::Staff, NOW).unwrap();
                let y = check_booking(&p, &tz, 5, &shuffled, &holdings, slot.start, party, Channel::Staff, NOW).unwrap();
                prop_assert_eq!(x, y);
            }
        }
    }

    #[test]
    fn a_deposit_is_per_cover_and_refunded_only_before_the_cut_off_or_when_the_venue_cancels() {
        let mut policy = policy();
        assert_eq!(
            deposit_for(&policy, 4),
            None,
            "no deposit in the policy, none asked"
        );
        policy.deposit_per_cover = Some(Money::new(20_000, crate::Currency::COP).unwrap());
        policy.cancellation_cutoff_hours = 24;
        assert_eq!(deposit_for(&policy, 4).map(|m| m.amount), Some(80_000));
        let start = time::macros::datetime!(2026-12-05 20:00 UTC);
        let until = refundable_until(&policy, start);
        assert_eq!(until, time::macros::datetime!(2026-12-04 20:00 UTC));
        let fate = |ending, at| deposit_fate(ending, until, at);
        assert_eq!(
            fate(Ending::GuestCancelled, until),
            DepositFate::Refund,
            "at the cut-off still refunds"
        );
        assert_eq!(
            fate(Ending::GuestCancelled, until + time::Duration::SECOND),
            DepositFate::Keep
        );
        assert_eq!(fate(Ending::VenueCancelled, start), DepositFate::Refund);
        assert_eq!(
            fate(Ending::NoShow, until - time::Duration::DAY),
            DepositFate::Keep
        );
        assert_eq!(
            fate(Ending::Seated, start),
            DepositFate::Refund,
            "never charged twice"
        );
    }

    #[test]
    fn a_no_show_is_seated_while_its_booked_time_lasts() {
        let until = datetime!(2026-12-04 23:00 UTC);
        assert_eq!(
            no_show_undone_too_late(until, until - time::Duration::MINUTE),
            None
        );
        assert!(no_show_undone_too_late(until, until).is_some());
        assert!(no_show_undone_too_late(until, until + time::Duration::HOUR).is_some());
    }

    #[test]
    fn a_party_is_seated_from_an_hour_before_and_late_or_a_no_show_after_fifteen_minutes() {
        let start = datetime!(2026-12-05 00:00 UTC);
        let minutes = |m: i64| start + time::Duration::minutes(m);
        for (step, first) in [
            (TimedMove::Seat, -60),
            (TimedMove::MarkLate, 15),
            (TimedMove::NoShow, 15),
        ] {
            assert!(not_yet(step, start, minutes(first - 1)).is_some(), "{step:?}");
            assert_eq!(not_yet(step, start, minutes(first)), None, "{step:?}");
            assert_eq!(not_yet(step, start, minutes(first + 600)), None, "{step:?}");
        }
        assert!(
            not_yet(TimedMove::Seat, start, start - time::Duration::days(1)).is_some(),
            "not a day ahead"
        );
    }

    proptest::proptest! {
        /// A guest's cancellation refunds exactly when it comes no later than the cut-off, whatever the times.
        #[test]
        fn a_guest_cancellation_refunds_exactly_up_to_the_cut_off(
            cutoff in 0u16..400, start in 0i64..4_000_000_000, offset in -2_000_000i64..2_000_000,
        ) {
            let mut policy = policy();
            policy.cancellation_cutoff_hours = cutoff;
            let start = OffsetDateTime::from_unix_timestamp(start).unwrap();
            let at = start + time::Duration::seconds(offset);
            let refunded = deposit_fate(Ending::GuestCancelled, refundable_until(&policy, start), at)
                == DepositFate::Refund;
            proptest::prop_assert_eq!(refunded, start - at >= time::Duration::hours(i64::from(cutoff)));
        }
    }
}
