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

use uuid::Uuid;

use crate::menu::PricedLine;
use crate::validation::ValidationErrors;

/// Where a venue's business day starts unless it chooses otherwise: late enough that a service running past
/// midnight stays on its evening's day (docs/analytics.md, "Business day").
pub const DEFAULT_DAY_START_HOUR: u8 = 5;
/// Latest day-start hour a venue may choose: a business day must still hold its own lunch.
pub const MAX_DAY_START_HOUR: u8 = 11;
/// Longest report range, in days (inclusive of both ends).
pub const MAX_RANGE_DAYS: i64 = 400;
/// Longest hourly series, in days.
pub const MAX_HOURLY_DAYS: i64 = 92;

/// One menu item's part of the product mix in one roll-up row or one order (docs/analytics.md, "Product mix"): how
/// many were ordered, and their sales (unit price with options × quantity, tax included, minor units of the venue's
/// currency).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemSale {
    pub item_id: Uuid,
    pub quantity: i64,
    pub sales: i64,
}

/// An order's product-mix measures: one per menu item, lines of the same item (with different options) added
/// together, ordered by item id. The order matters: roll-up rows are locked in it, so two orders never wait on each
/// other's rows in opposite order, and PostgreSQL's upsert never meets the same row twice in one statement.
pub fn item_sales(lines: &[PricedLine]) -> Vec<ItemSale> {
    let mut items: std::collections::BTreeMap<Uuid, ItemSale> = std::collections::BTreeMap::new();
    for line in lines {
        let quantity = i64::from(line.quantity);
        let entry = items.entry(line.item_id).or_insert(ItemSale {
            item_id: line.item_id,
            quantity: 0,
            sales: 0,
        });
        entry.quantity += quantity;
        entry.sales += line.unit_price.amount.saturating_mul(quantity);
    }
    items.into_values().collect()
}

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

    /// `at` with the venue's UTC offset at that instant (how a report labels a bucket: `2026-12-04T21:00:00-05:00`).
    pub fn with_local_offset(&self, at: OffsetDateTime) -> OffsetDateTime {
        let seconds = self.zone.to_offset(timestamp(at)).seconds();
        time::UtcOffset::from_whole_seconds(seconds).map_or(at, |offset| at.to_offset(offset))
    }

    /// The heat map's cell: the business day's ISO weekday (Monday = 1) and the local hour of day (0–23).
    pub fn heat_cell(&self, at: OffsetDateTime) -> (u8, u8) {
        let weekday = self.business_day(at).weekday().number_from_monday();
        (weekday, u8::try_from(self.local(at).hour()).unwrap_or(0))
    }
}

/// What one roll-up row holds for one venue and one UTC quarter-hour (docs/analytics.md, "When money counts"):
/// money in minor units of the venue's currency, and counts. Adding rows adds each measure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Measures {
    /// Orders placed and not cancelled: their totals, tax included.
    pub gross: i64,
    /// The tax contained in `gross`.
    pub tax: i64,
    /// The sales part of refunds that succeeded (tax included, tips excluded).
    pub refunds: i64,
    /// The tax contained in `refunds` (`bill::refund_tax`): given back with them, so not sold.
    pub refund_tax: i64,
    /// Tips of succeeded payments, minus the tip part of refunds.
    pub tips: i64,
    /// Succeeded card payments, share plus tip.
    pub collected: i64,
    /// Cash servers recorded at the tables, bill part plus tip, less records voided (at the instant of the void).
    pub cash: i64,
    pub orders: i64,
}

impl Measures {
    /// What was sold before tax, after giving money back: gross minus its tax, minus the refunds' sales part
    /// before tax (`refunds − refund_tax`).
    pub fn net(&self) -> i64 {
        self.gross - self.tax - (self.refunds - self.refund_tax)
    }
}

impl std::ops::AddAssign for Measures {
    fn add_assign(&mut self, other: Self) {
        self.gross += other.gross;
        self.tax += other.tax;
        self.refunds += other.refunds;
        self.refund_tax += other.refund_tax;
        self.tips += other.tips;
        self.collected += other.collected;
        self.cash += other.cash;
        self.orders += other.orders;
    }
}

/// The roll-up key of `at`: its UTC quarter-hour. Every zone's offset is a multiple of 15 minutes, so this is also
/// the start of a local quarter-hour, and lies in one local hour and one business day of any venue's calendar.
pub fn utc_quarter(at: OffsetDateTime) -> OffsetDateTime {
    let at = at.to_offset(time::UtcOffset::UTC);
    let past = i64::from(at.minute() % 15) * 60 + i64::from(at.second());
    at - time::Duration::seconds(past) - time::Duration::nanoseconds(i64::from(at.nanosecond()))
}

/// One bucket of a time series: where it starts (an instant), the business day it starts on, and its measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub start: OffsetDateTime,
    pub day: time::Date,
    /// The business days of the range the bucket holds: 7 for a whole week, fewer for a week the range's start or
    /// end cuts (read beside whole weeks it is not a slow week); 1 for a day, and for an hour (of one day).
    pub days: u8,
    pub measures: Measures,
}

/// A report read from roll-up rows `(UTC quarter-hour, measures)` of one venue.
impl BusinessCalendar {
    /// The instants business days `from` to `to` (inclusive) span, `[start, end)`: what a report reads.
    pub fn range_bounds(&self, from: time::Date, to: time::Date) -> Option<(OffsetDateTime, OffsetDateTime)> {
        Some((self.day_start(from)?, self.day_start(to.next_day()?)?))
    }

    /// The series over business days `from` to `to`: every bucket of the range in order, empty ones included, and
    /// each row inside the range added to the one bucket holding it (rows outside are left out). Hourly buckets
    /// are the local wall-clock hours that exist (a daylight-saving night has 23 or 25); weekly ones start on the
    /// business day that is a Monday (the first may start at `from`).
    pub fn series(
        &self,
        rows: &[(OffsetDateTime, Measures)],
        from: time::Date,
        to: time::Date,
        granularity: Granularity,
    ) -> Vec<Bucket> {
        let Some((start, end)) = self.range_bounds(from, to) else {
            return Vec::new();
        };
        let mut buckets: Vec<Bucket> = Vec::new();
        let mut quarter = start;
        while quarter < end {
            let bucket_start = self.bucket_start(quarter, granularity).max(start);
            if buckets.last().is_none_or(|b| b.start != bucket_start) {
                let day = self.business_day(bucket_start);
                let days = match granularity {
                    Granularity::Week => {
                        let sunday = day
                            + time::Duration::days(6 - i64::from(day.weekday().number_days_from_monday()));
                        u8::try_from((sunday.min(to) - day).whole_days() + 1).unwrap_or(7)
                    }
                    Granularity::Day | Granularity::Hour => 1,
                };
                buckets.push(Bucket {
                    start: bucket_start,
                    day,
                    days,
                    measures: Measures::default(),
                });
            }
            quarter += time::Duration::minutes(15);
        }
        for (at, measures) in rows.iter().filter(|(at, _)| start <= *at && *at < end) {
            let key = self.bucket_start(*at, granularity).max(start);
            // Buckets are in ascending order of their start, one per start.
            if let Ok(index) = buckets.binary_search_by(|b| b.start.cmp(&key)) {
                buckets[index].measures += *measures;
            }
        }
        buckets
    }

    /// Where the bucket of `granularity` holding `at` starts.
    fn bucket_start(&self, at: OffsetDateTime, granularity: Granularity) -> OffsetDateTime {
        match granularity {
            Granularity::Hour => self.hour(at),
            Granularity::Day => self.day_start(self.business_day(at)).unwrap_or(at),
            Granularity::Week => {
                let day = self.business_day(at);
                let monday = day - time::Duration::days(i64::from(day.weekday().number_days_from_monday()));
                self.day_start(monday).unwrap_or(at)
            }
        }
    }

    /// The hour × weekday heat map of the rows: `[weekday - 1][hour]`, weekday the business day's ISO weekday
    /// (Monday = 1) and hour the local hour of day ([`BusinessCalendar::heat_cell`]).
    pub fn heat_map(&self, rows: &[(OffsetDateTime, Measures)]) -> [[Measures; 24]; 7] {
        let mut map = [[Measures::default(); 24]; 7];
        for (at, measures) in rows {
            let (weekday, hour) = self.heat_cell(*at);
            map[usize::from(weekday - 1)][usize::from(hour)] += *measures;
        }
        map
    }
}

/// What a report says of reservations (docs/analytics.md, "Reservations"), from the bookings whose start lies in the
/// range counted by their current status. Rates are basis points (1 % = 100), rounded half up; 0 when nothing was
/// there to divide by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReservationFigures {
    /// Bookings (offers still open and unpaid deposit holds left out).
    pub bookings: i64,
    /// Their covers (party sizes), cancellations and no-shows included.
    pub covers_booked: i64,
    /// Covers of the parties that came (seated or finished).
    pub covers_seated: i64,
    pub no_shows: i64,
    pub cancellations: i64,
    /// No-shows ÷ (seated + finished + no-shows).
    pub no_show_rate_bp: i64,
    /// Cancellations ÷ bookings.
    pub cancellation_rate_bp: i64,
    /// Deposits the venue keeps (no-shows, and guests who cancelled after the cut-off), in the venue currency's minor
    /// units: revenue that is in no sale.
    pub deposits_kept: i64,
}

/// Where a booking stands, as the reservation figures count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookingState {
    /// Not a booking: an offer to the waitlist or a hold for its deposit, still open or lapsed (declined, expired,
    /// withdrawn, never paid).
    NotBooked,
    /// Booked, confirmed or late: still to come.
    Upcoming,
    /// Seated or finished: the party came.
    Came,
    NoShow,
    Cancelled,
}

fn rate_bp(part: i64, whole: i64) -> i64 {
    if whole <= 0 {
        return 0;
    }
    let (part, whole) = (i128::from(part), i128::from(whole));
    i64::try_from((part * 20_000 + whole) / (2 * whole)).unwrap_or(0)
}

impl ReservationFigures {
    /// Adds up `(state, bookings, covers, deposits kept)` counts.
    pub fn from_counts(counts: &[(BookingState, i64, i64, i64)]) -> Self {
        let mut figures = Self::default();
        let mut came = 0;
        for &(state, bookings, covers, kept) in counts {
            figures.deposits_kept += kept;
            if state == BookingState::NotBooked {
                continue;
            }
            figures.bookings += bookings;
            figures.covers_booked += covers;
            match state {
                BookingState::Came => {
                    came += bookings;
                    figures.covers_seated += covers;
                }
                BookingState::NoShow => figures.no_shows += bookings,
                BookingState::Cancelled => figures.cancellations += bookings,
                BookingState::NotBooked | BookingState::Upcoming => {}
            }
        }
        figures.no_show_rate_bp = rate_bp(figures.no_shows, came + figures.no_shows);
        figures.cancellation_rate_bp = rate_bp(figures.cancellations, figures.bookings);
        figures
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

/// The period a report is compared with (docs/analytics.md, "Week over week"): as many business days, whole weeks
/// earlier — `from − 7k` to `to − 7k` with `k = ⌈days ÷ 7⌉` — so each day meets the same weekday and the two periods
/// never overlap. `None` only at the calendar's edge.
pub fn previous_period(from: time::Date, to: time::Date) -> Option<(time::Date, time::Date)> {
    let days = (to - from).whole_days() + 1;
    let back = time::Duration::weeks((days.max(1) + 6) / 7);
    Some((from.checked_sub(back)?, to.checked_sub(back)?))
}

/// A venue's table turnover over a range (docs/analytics.md, "Table turnover").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Turnover {
    /// Tables seated by staff and closed (paid) in the range.
    pub turns: i64,
    /// The venue's tables.
    pub tables: i64,
    /// `turns ÷ (tables × days)` in hundredths, rounded down (250 = two and a half turns a table a day); 0 without
    /// tables.
    pub turns_per_table_day_x100: i64,
    /// The mean minutes from seated to closed, rounded down; 0 without turns.
    pub average_turn_minutes: i64,
}

/// The payment success rate (docs/analytics.md, "Payment success rate"): succeeded ÷ (succeeded + failed +
/// cancelled) of the payments started in a range, in basis points rounded half up; payments still pending are left
/// out until they end, cancelled ones another way of paying replaced are not counted in `cancelled`
/// (`payment::cancelled_because::superseded`), and 0 is the rate when none ended.
pub fn payment_success_rate_bp(succeeded: i64, failed: i64, cancelled: i64) -> i64 {
    rate_bp(succeeded, succeeded + failed + cancelled)
}

/// Turnover from the range's turns, their seconds seated, the venue's tables and the range's business days.
pub fn turnover(turns: i64, seated_seconds: i64, tables: i64, days: i64) -> Turnover {
    let seats = i128::from(tables) * i128::from(days.max(0));
    Turnover {
        turns,
        tables,
        turns_per_table_day_x100: if seats > 0 {
            i64::try_from(i128::from(turns) * 100 / seats).unwrap_or(i64::MAX)
        } else {
            0
        },
        average_turn_minutes: if turns > 0 { seated_seconds / turns / 60 } else { 0 },
    }
}

/// Turn times in whole minutes (docs/analytics.md, "Table turnover"): the median and the 90th percentile of the
/// seconds each turn was seated, by the nearest-rank method (the value at rank ⌈p × n⌉ of the sorted times, so always
/// a time some table really took); `(0, 0)` without turns.
pub fn turn_time_percentiles(seconds: &mut [i64]) -> (i64, i64) {
    if seconds.is_empty() {
        return (0, 0);
    }
    seconds.sort_unstable();
    let rank = |percent: usize| {
        let n = seconds.len();
        seconds[(n * percent).div_ceil(100).clamp(1, n) - 1] / 60
    };
    (rank(50), rank(90))
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
    fn a_period_is_compared_with_the_same_weekdays_whole_weeks_before() {
        // One Friday with the Friday before; a week with the week before; eight days with the eight two weeks before.
        assert_eq!(
            previous_period(date!(2026 - 12 - 04), date!(2026 - 12 - 04)),
            Some((date!(2026 - 11 - 27), date!(2026 - 11 - 27)))
        );
        assert_eq!(
            previous_period(date!(2026 - 11 - 30), date!(2026 - 12 - 06)),
            Some((date!(2026 - 11 - 23), date!(2026 - 11 - 29)))
        );
        assert_eq!(
            previous_period(date!(2026 - 11 - 30), date!(2026 - 12 - 07)),
            Some((date!(2026 - 11 - 16), date!(2026 - 11 - 23)))
        );
    }

    #[test]
    fn turn_times_are_times_tables_really_took() {
        // Ten turns of 10 to 100 minutes: the median is the 5th (50 min), the 90th percentile the 9th (90 min).
        let mut times: Vec<i64> = (1..=10).rev().map(|m| m * 600).collect();
        assert_eq!(turn_time_percentiles(&mut times), (50, 90));
        assert_eq!(turn_time_percentiles(&mut [4_000]), (66, 66));
        assert_eq!(turn_time_percentiles(&mut []), (0, 0));
    }

    #[test]
    fn the_success_rate_counts_only_payments_that_ended() {
        assert_eq!(payment_success_rate_bp(9, 1, 0), 9_000);
        assert_eq!(payment_success_rate_bp(2, 0, 1), 6_667);
        assert_eq!(payment_success_rate_bp(0, 0, 0), 0);
    }

    #[test]
    fn turnover_divides_turns_by_tables_and_days() {
        // 50 turns on 10 tables over 2 days: 2.5 a table a day; 50 × 84 minutes seated on average.
        assert_eq!(
            turnover(50, 50 * 84 * 60 + 59, 10, 2),
            Turnover {
                turns: 50,
                tables: 10,
                turns_per_table_day_x100: 250,
                average_turn_minutes: 84
            }
        );
        assert_eq!(turnover(3, 600, 0, 7).turns_per_table_day_x100, 0);
        assert_eq!(turnover(0, 0, 10, 7).average_turn_minutes, 0);
    }

    proptest! {
        /// The compared period has as many days, starts on the same weekday and ends before the period starts.
        #[test]
        fn the_compared_period_keeps_length_and_weekdays(start in 0i64..20_000, days in 1i64..=400) {
            let from = date!(1990 - 01 - 01) + time::Duration::days(start);
            let to = from + time::Duration::days(days - 1);
            let (before_from, before_to) = previous_period(from, to).unwrap();
            prop_assert_eq!((before_to - before_from).whole_days(), days - 1);
            prop_assert_eq!(before_from.weekday(), from.weekday());
            prop_assert!(before_to < from);
            prop_assert!((from - before_to).whole_days() <= 7);
        }

        /// An order's product mix holds each item once, in id order, and adds up to the order: its quantities to
        /// the lines' quantities, its sales to the bill's line totals (so to the order's subtotal).
        #[test]
        fn an_orders_product_mix_adds_up_to_its_lines(
            lines in proptest::collection::vec((0u128..4, 1u32..=50, 0i64..5_000_000), 1..12)
        ) {
            let priced: Vec<PricedLine> = lines
                .iter()
                .map(|&(item, quantity, unit)| PricedLine {
                    item_id: Uuid::from_u128(item),
                    name: crate::menu::Localized { es: "Ajiaco".into(), en: String::new() },
                    quantity,
                    modifiers: Vec::new(),
                    note: None,
                    unit_price: crate::Money::new(unit, crate::Currency::COP).unwrap(),
                    taxed: true,
                })
                .collect();
            let mix = item_sales(&priced);
            prop_assert!(mix.windows(2).all(|w| w[0].item_id < w[1].item_id));
            let bill_total: i64 = priced.iter().map(|l| l.bill_line().total().unwrap().amount).sum();
            prop_assert_eq!(mix.iter().map(|i| i.sales).sum::<i64>(), bill_total);
            let quantity: i64 = lines.iter().map(|l| i64::from(l.1)).sum();
            prop_assert_eq!(mix.iter().map(|i| i.quantity).sum::<i64>(), quantity);
        }
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
        let local = bogota.with_local_offset(bogota.hour(sale));
        assert_eq!((local.hour(), local.offset().whole_hours()), (21, -5));
    }

    #[test]
    fn reservation_rates_are_basis_points_of_what_they_divide() {
        use BookingState::*;
        let figures = ReservationFigures::from_counts(&[
            (NotBooked, 4, 9, 0),
            (Upcoming, 2, 5, 0),
            (Came, 5, 14, 0),
            (NoShow, 1, 2, 4_000_000),
            (Cancelled, 2, 6, 2_000_000),
        ]);
        assert_eq!(
            (figures.bookings, figures.covers_booked, figures.covers_seated),
            (10, 27, 14)
        );
        assert_eq!(figures.deposits_kept, 6_000_000);
        // 1 of 6 parties due did not come: 16.67 %; 2 of 10 bookings were cancelled: 20 %.
        assert_eq!(
            (figures.no_show_rate_bp, figures.cancellation_rate_bp),
            (1_667, 2_000)
        );
        assert_eq!(
            ReservationFigures::from_counts(&[(NotBooked, 3, 6, 0)]),
            ReservationFigures::default()
        );
    }

    fn sale(gross: i64) -> Measures {
        Measures {
            gross,
            orders: 1,
            ..Measures::default()
        }
    }

    #[test]
    fn the_bogota_evening_sale_lands_on_its_day_hour_and_cell_in_every_report() {
        let bogota = calendar("America/Bogota", 5);
        let rows = [
            (utc_quarter(datetime!(2026-12-05 02:31:10 UTC)), sale(1_890_000)),
            (datetime!(2026-12-05 15:00 UTC), sale(500_000)),
        ];
        assert_eq!(rows[0].0, datetime!(2026-12-05 02:30 UTC));
        let days = bogota.series(
            &rows,
            date!(2026 - 12 - 04),
            date!(2026 - 12 - 05),
            Granularity::Day,
        );
        assert_eq!(days.len(), 2);
        assert_eq!(
            (days[0].day, days[0].measures.gross),
            (date!(2026 - 12 - 04), 1_890_000)
        );
        assert_eq!(
            (days[1].day, days[1].measures.gross),
            (date!(2026 - 12 - 05), 500_000)
        );
        let hours = bogota.series(
            &rows,
            date!(2026 - 12 - 04),
            date!(2026 - 12 - 04),
            Granularity::Hour,
        );
        assert_eq!(hours.len(), 24);
        let evening = hours.iter().find(|b| b.measures.orders == 1).unwrap();
        assert_eq!(evening.start, datetime!(2026-12-05 02:00 UTC), "21:00 Bogotá");
        assert_eq!(bogota.heat_map(&rows)[4][21].gross, 1_890_000, "Friday, 21 h");
    }

    #[test]
    fn a_daylight_saving_day_has_its_own_number_of_hours() {
        let new_york = calendar("America/New_York", 5);
        let hours = |day| new_york.series(&[], day, day, Granularity::Hour).len();
        assert_eq!(
            hours(date!(2026 - 03 - 07)),
            23,
            "spring forward in the small hours of the 8th"
        );
        assert_eq!(
            hours(date!(2026 - 10 - 31)),
            25,
            "fall back in the small hours of November 1"
        );
        assert_eq!(hours(date!(2026 - 06 - 01)), 24);
        let weeks = new_york.series(
            &[],
            date!(2026 - 06 - 03),
            date!(2026 - 06 - 15),
            Granularity::Week,
        );
        let starts: Vec<_> = weeks.iter().map(|b| (b.day, b.days)).collect();
        assert_eq!(
            starts,
            [
                (date!(2026 - 06 - 03), 5),
                (date!(2026 - 06 - 08), 7),
                (date!(2026 - 06 - 15), 1)
            ]
        );
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

        /// Whatever the rows, zone, day-start and granularity: buckets are in order and meet, each row in the range
        /// is counted once in the bucket holding it, nothing outside is counted, and the heat map holds every row.
        #[test]
        fn every_row_in_range_is_counted_once_in_its_bucket(
            offsets in prop::collection::vec((0i64..40 * 96, 1i64..1_000_000), 0..60),
            zone in prop::sample::select(vec!["America/Bogota", "America/New_York", "Europe/Madrid", "Asia/Kathmandu"]),
            day_start in 0u8..=MAX_DAY_START_HOUR,
            granularity in prop::sample::select(vec![Granularity::Hour, Granularity::Day, Granularity::Week]),
            span in 0i64..30,
        ) {
            let calendar = calendar(zone, day_start);
            let first = datetime!(2026-02-20 00:00 UTC);
            let rows: Vec<_> = offsets
                .iter()
                .map(|(q, gross)| (first + time::Duration::minutes(15 * q), sale(*gross)))
                .collect();
            let (from, to) = (date!(2026 - 03 - 01), date!(2026 - 03 - 01) + time::Duration::days(span));
            let buckets = calendar.series(&rows, from, to, granularity);
            let (start, end) = calendar.range_bounds(from, to).unwrap();
            prop_assert_eq!(buckets.first().map(|b| b.start), Some(start));
            prop_assert!(buckets.windows(2).all(|w| w[0].start < w[1].start));
            let inside: Vec<_> = rows.iter().filter(|(at, _)| start <= *at && *at < end).collect();
            let mut counted = Measures::default();
            for bucket in &buckets {
                counted += bucket.measures;
            }
            let mut expected = Measures::default();
            for (_, m) in &inside {
                expected += *m;
            }
            prop_assert_eq!(counted, expected);
            for (at, _) in &inside {
                let holder = buckets.iter().rposition(|b| b.start <= *at).unwrap();
                prop_assert_eq!(buckets[holder].start, calendar.bucket_start(*at, granularity).max(start));
                prop_assert!(buckets.get(holder + 1).is_none_or(|next| *at < next.start));
            }
            let mut heat = Measures::default();
            for row in calendar.heat_map(&rows).iter().flatten() {
                heat += *row;
            }
            let mut all = Measures::default();
            for (_, m) in &rows {
                all += *m;
            }
            prop_assert_eq!(heat, all);
        }
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
