//! The analytics calendar (docs/analytics.md, "Days and hours are the venue's"): which business day, hour and
//! quarter-hour an instant belongs to in the venue's IANA zone with its day-start hour, the hour × weekday cell of the
//! heat map, and which report ranges are accepted. Pure: instants in, dates and instants out.
//!
//! A business day *D* runs from *D* at the day-start hour (local wall-clock time) to *D + 1* at the day-start hour,
//! so it lasts 23 or 25 hours across a daylight-saving change, and consecutive days meet exactly. A day-start hour
//! that a spring-forward night skips starts the day at the first instant after the gap (jiff's "compatible" rule),
//! the same instant its previous day ends at.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use time::OffsetDateTime;

use crate::validation::ValidationErrors;

/// Latest day-start hour a venue may choose: a business day must still hold its own lunch.
pub const MAX_DAY_START_HOUR: u8 = 11;
/// Longest report range, in days (inclusive of both ends).
pub const MAX_RANGE_DAYS: i64 = 400;
/// Longest hourly series, in days.
pub const MAX_HOURLY_DAYS: i64 = 92;

/// A venue's calendar for reports.
#[derive(Debug, Clone)]
pub struct BusinessCalendar {
    zone: TimeZone,
    day_start_hour: i8,
}

/// Granularity of a time series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    /// Local wall-clock hours.
    Hour,
    /// Business days.
    Day,
    /// Seven business days from a Monday (ISO weeks).
    Week,
}

impl Granularity {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "hour" => Some(Self::Hour),
            "day" => Some(Self::Day),
            "week" => Some(Self::Week),
            _ => None,
        }
    }
}

fn timestamp(at: OffsetDateTime) -> Timestamp {
    // Every `OffsetDateTime` comanda stores is within jiff's range (years -9999..=9999); the epoch is a harmless
    // stand-in for one that is not.
    Timestamp::new(at.unix_timestamp(), i32::try_from(at.nanosecond()).unwrap_or(0))
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

fn instant(at: Timestamp) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(at.as_nanosecond()).ok()
}

fn to_time_date(date: jiff::civil::Date) -> Option<time::Date> {
    let month = time::Month::try_from(u8::try_from(date.month()).ok()?).ok()?;
    time::Date::from_calendar_date(i32::from(date.year()), month, u8::try_from(date.day()).ok()?).ok()
}

fn to_civil_date(date: time::Date) -> Option<jiff::civil::Date> {
    jiff::civil::Date::new(
        i16::try_from(date.year()).ok()?,
        i8::try_from(u8::from(date.month())).ok()?,
        i8::try_from(date.day()).ok()?,
    )
    .ok()
}

impl BusinessCalendar {
    /// `None` for a day-start hour after [`MAX_DAY_START_HOUR`].
    pub fn new(zone: TimeZone, day_start_hour: u8) -> Option<Self> {
        (day_start_hour <= MAX_DAY_START_HOUR).then(|| Self {
            zone,
            day_start_hour: i8::try_from(day_start_hour).unwrap_or(0),
        })
    }

    fn local(&self, at: OffsetDateTime) -> DateTime {
        self.zone.to_datetime(timestamp(at))
    }

    /// The business day `at` belongs to: its local date, or the day before when its local time is before the
    /// day-start hour (a sale at 01:30 on Saturday is Friday's).
    pub fn business_day(&self, at: OffsetDateTime) -> time::Date {
        let local = self.local(at);
        let date = if local.hour() < self.day_start_hour {
            local.date().yesterday().unwrap_or(local.date())
        } else {
            local.date()
        };
        to_time_date(date).unwrap_or(at.date())
    }

    /// Where business day `day` starts: its local date at the day-start hour, as an instant.
    pub fn day_start(&self, day: time::Date) -> Option<OffsetDateTime> {
        let civil = to_civil_date(day)?.at(self.day_start_hour, 0, 0, 0);
        let zoned = self.zone.to_ambiguous_zoned(civil).compatible().ok()?;
        instant(zoned.timestamp())
    }

    /// The instants business day `day` spans, `[start, end)`: the end is the next day's start.
    pub fn day_bounds(&self, day: time::Date) -> Option<(OffsetDateTime, OffsetDateTime)> {
        Some((self.day_start(day)?, self.day_start(day.next_day()?)?))
    }

    /// The start of the local wall-clock bucket of `minutes` (15 or 60) holding `at`. Every zone's offset today is a
    /// multiple of 15 minutes, so stepping back by the local minutes past the mark lands on the local mark, also
    /// inside a repeated hour (each of its two instants gets its own bucket). The one zone whose daylight-saving
    /// shift is half an hour (Australia/Lord_Howe) can start an hourly bucket at :30 on its fall-back night.
    fn bucket(&self, at: OffsetDateTime, minutes: i8) -> OffsetDateTime {
        let local = self.local(at);
        let past = i64::from(local.minute() % minutes) * 60 + i64::from(local.second());
        at - time::Duration::seconds(past) - time::Duration::nanoseconds(i64::from(local.subsec_nanosecond()))
    }

    /// The local quarter-hour (:00, :15, :30, :45) holding `at`.
    pub fn quarter_hour(&self, at: OffsetDateTime) -> OffsetDateTime {
        self.bucket(at, 15)
    }

    /// The local wall-clock hour holding `at`.
    pub fn hour(&self, at: OffsetDateTime) -> OffsetDateTime {
        self.bucket(at, 60)
    }

    /// The heat map's cell: the business day's ISO weekday (Monday = 1) and the local hour of day (0–23).
    pub fn heat_cell(&self, at: OffsetDateTime) -> (u8, u8) {
        let weekday = self.business_day(at).weekday().number_from_monday();
        (weekday, u8::try_from(self.local(at).hour()).unwrap_or(0))
    }
}

/// Checks a report's range: `from` not after `to`, at most [`MAX_RANGE_DAYS`], and an hourly series at most
/// [`MAX_HOURLY_DAYS`]; each refusal names its field.
pub fn check_range(
    from: time::Date,
    to: time::Date,
    granularity: Granularity,
) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let days = (to - from).whole_days() + 1;
    if to < from {
        errors.push("to", "must not be before from");
    } else if days > MAX_RANGE_DAYS {
        errors.push("to", format!("a range covers at most {MAX_RANGE_DAYS} days"));
    } else if granularity == Granularity::Hour && days > MAX_HOURLY_DAYS {
        errors.push(
            "granularity",
            format!("an hourly series covers at most {MAX_HOURLY_DAYS} days; ask for days or weeks"),
        );
    }
    errors.into_result(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use time::macros::{date, datetime};

    use super::*;

    fn calendar(zone: &str, day_start: u8) -> BusinessCalendar {
        BusinessCalendar::new(TimeZone::get(zone).unwrap(), day_start).unwrap()
    }

    #[test]
    fn a_sale_at_half_past_nine_in_bogota_stays_on_its_local_day_and_hour() {
        let bogota = calendar("America/Bogota", 5);
        // 21:30 in Bogotá is 02:30 UTC the next day: a UTC report would put it on Saturday.
        let sale = datetime!(2026-12-05 02:30 UTC);
        assert_eq!(bogota.business_day(sale), date!(2026 - 12 - 04));
        assert_eq!(bogota.hour(sale), datetime!(2026-12-05 02:00 UTC));
        assert_eq!(bogota.quarter_hour(datetime!(2026-12-05 02:44:59 UTC)), sale);
        assert_eq!(bogota.heat_cell(sale), (5, 21), "Friday, 21 h");
    }

    #[test]
    fn the_small_hours_belong_to_the_evening_before() {
        let bogota = calendar("America/Bogota", 5);
        // 01:30 on Saturday local.
        let late = datetime!(2026-12-05 06:30 UTC);
        assert_eq!(bogota.business_day(late), date!(2026 - 12 - 04));
        assert_eq!(bogota.heat_cell(late), (5, 1), "Friday's business day, 01 h");
        assert_eq!(
            bogota.day_bounds(date!(2026 - 12 - 04)),
            Some((datetime!(2026-12-04 10:00 UTC), datetime!(2026-12-05 10:00 UTC)))
        );
        let midnight = calendar("America/Bogota", 0);
        assert_eq!(midnight.business_day(late), date!(2026 - 12 - 05));
        assert!(BusinessCalendar::new(TimeZone::UTC, 12).is_none());
    }

    #[test]
    fn daylight_saving_days_last_23_and_25_hours_and_the_repeated_hour_has_two_buckets() {
        let new_york = calendar("America/New_York", 5);
        let length = |day| {
            let (start, end) = new_york.day_bounds(day).unwrap();
            (end - start).whole_hours()
        };
        assert_eq!(
            length(date!(2026 - 03 - 07)),
            23,
            "the night into 8 March springs forward"
        );
        assert_eq!(
            length(date!(2026 - 10 - 31)),
            25,
            "the night into 1 November falls back"
        );
        // 01:30 EDT and 01:30 EST on 1 November: one local hour, two instants, two hourly buckets, one heat cell.
        let (first, second) = (datetime!(2026-11-01 05:30 UTC), datetime!(2026-11-01 06:30 UTC));
        assert_eq!(new_york.hour(first), datetime!(2026-11-01 05:00 UTC));
        assert_eq!(new_york.hour(second), datetime!(2026-11-01 06:00 UTC));
        assert_eq!(new_york.heat_cell(first), new_york.heat_cell(second));
        // A day start inside the skipped hour begins at the first instant after it.
        let two = calendar("America/New_York", 2);
        assert_eq!(
            two.day_start(date!(2026 - 03 - 08)),
            Some(datetime!(2026-03-08 07:00 UTC))
        );
    }

    #[test]
    fn ranges_are_refused_naming_the_field() {
        let field = |r: Result<(), ValidationErrors>| r.unwrap_err().0[0].field.clone();
        let day = date!(2026 - 01 - 01);
        assert!(check_range(day, day, Granularity::Hour).is_ok());
        assert_eq!(
            field(check_range(day, day - time::Duration::DAY, Granularity::Day)),
            "to"
        );
        assert_eq!(
            field(check_range(
                day,
                day + time::Duration::days(400),
                Granularity::Week
            )),
            "to"
        );
        assert!(check_range(day, day + time::Duration::days(399), Granularity::Day).is_ok());
        assert_eq!(
            field(check_range(
                day,
                day + time::Duration::days(92),
                Granularity::Hour
            )),
            "granularity"
        );
        assert!(check_range(day, day + time::Duration::days(91), Granularity::Hour).is_ok());
        assert_eq!(Granularity::parse("minute"), None);
    }

    proptest! {
        /// Every instant lies in its business day's bounds, consecutive days meet exactly, and buckets start at a
        /// local mark no later than the instant and less than a bucket before it; in zones with daylight saving and
        /// with half- and three-quarter-hour offsets.
        #[test]
        fn every_instant_lies_in_its_day_and_its_buckets(
            seconds in 0i64..4_102_444_800,
            zone in prop::sample::select(vec![
                "America/Bogota", "America/New_York", "Europe/Madrid", "Asia/Kolkata", "Asia/Kathmandu",
            ]),
            day_start in 0u8..=MAX_DAY_START_HOUR,
        ) {
            let calendar = calendar(zone, day_start);
            let at = OffsetDateTime::from_unix_timestamp(seconds).unwrap();
            let day = calendar.business_day(at);
            let (start, end) = calendar.day_bounds(day).unwrap();
            prop_assert!(start <= at && at < end, "{at} outside {day}: {start}..{end}");
            prop_assert_eq!(calendar.day_bounds(day.next_day().unwrap()).unwrap().0, end);
            let quarter = calendar.quarter_hour(at);
            prop_assert!(quarter <= at && at - quarter < time::Duration::minutes(15));
            prop_assert_eq!(calendar.local(quarter).minute() % 15, 0);
            let hour = calendar.hour(at);
            prop_assert!(hour <= at && at - hour < time::Duration::HOUR);
            prop_assert_eq!(calendar.local(hour).minute(), 0);
        }
    }
}
