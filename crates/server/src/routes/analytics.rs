//! Analytics reports (issue 19; every figure is defined in docs/analytics.md): a venue's sales summary, time series
//! and hour × weekday heat map over a range of its business days, as JSON or CSV. Both read the sales roll-ups (one row per UTC
//! quarter-hour) and place them on the venue's business days and local hours with
//! `comanda_domain::analytics::BusinessCalendar`; neither scans orders.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use comanda_domain::analytics::{self, BusinessCalendar, Granularity, Measures, ReservationFigures};
use comanda_domain::money::decimal_text;
use comanda_domain::{Currency, ValidationErrors, Venue, VenueId, collect_all};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::app::AppState;
use crate::auth::Caller;
use crate::csv_export::{CsvDialect, CsvExport};
use crate::extract::ApiQuery;
use crate::problem::{ApiError, Problem};
use crate::routes::ordering::path_id;
use crate::routes::reservations::venue_zone;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SummaryQuery {
    /// The first business day, `YYYY-MM-DD`, in the venue's calendar.
    #[param(value_type = String, format = Date)]
    pub from: String,
    /// The last business day (inclusive): a range covers at most 400 days, `from` and `to` included.
    #[param(value_type = String, format = Date)]
    pub to: String,
    /// `json` (default), `csv` (RFC 4180, the API's field names) or `csv-es` (for a spreadsheet in a Spanish-speaking
    /// locale: byte-order mark, `;`, decimal comma, the header row and the figures' names in Spanish).
    #[param(pattern = "^(json|csv|csv-es)$")]
    pub format: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SeriesQuery {
    /// The first business day, `YYYY-MM-DD`.
    #[param(value_type = String, format = Date)]
    pub from: String,
    /// The last business day (inclusive); an hourly series covers at most 92 days.
    #[param(value_type = String, format = Date)]
    pub to: String,
    /// `gross` (default; `sales`, the contract's name, is the same), `net`, `tax`, `refunds`, `tips`, `collected`,
    /// `cash` or `orders`.
    #[param(pattern = "^(sales|gross|net|tax|refunds|tips|collected|cash|orders)$")]
    pub metric: Option<String>,
    /// `hour`, `day` (default) or `week`.
    #[param(pattern = "^(hour|day|week)$")]
    pub granularity: Option<String>,
    /// `json` (default), `csv` (RFC 4180, the API's field names) or `csv-es` (for a spreadsheet in a Spanish-speaking
    /// locale: byte-order mark, `;`, decimal comma, the header row and the figures' names in Spanish).
    #[param(pattern = "^(json|csv|csv-es)$")]
    pub format: Option<String>,
}

/// A venue's sales over business days `from` to `to`; money in minor units of `currency`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SalesSummary {
    pub venue_id: String,
    /// The venue's IANA time zone: every day of the report is a business day there.
    pub timezone: String,
    /// The local hour a business day starts at.
    pub day_start_hour: u8,
    pub from: String,
    pub to: String,
    pub currency: Currency,
    /// Orders placed and not cancelled, tax included.
    pub gross: i64,
    /// The tax contained in `gross`.
    pub tax: i64,
    /// The sales part of refunds completed in the range, tax included (tips excluded).
    pub refunds: i64,
    /// The tax contained in `refunds`: the bill's own proportion, given back with them (docs/analytics.md,
    /// "Refunds").
    pub refund_tax: i64,
    /// Sold before tax, after refunds: `gross − tax − (refunds − refund_tax)`.
    pub net: i64,
    /// Tips, never sales: succeeded payments' tips and cash tips, minus the tip part of refunds and of voided cash.
    pub tips: i64,
    /// Succeeded card payments, share plus tip.
    pub collected: i64,
    /// Cash servers recorded at the tables, bill part plus tip, less records voided.
    pub cash: i64,
    /// What the bills closed on the range's business days without being paid in full (`unpaid=true`) still lacked:
    /// in the sales, never money taken.
    pub unpaid: i64,
    pub orders: i64,
    /// `gross ÷ orders`, rounded down; 0 without orders.
    pub average_order: i64,
    /// Tables closed on the range's business days with at least one counted order (docs/analytics.md, "Checks").
    pub checks: i64,
    /// Those checks' gross ÷ checks, rounded down; 0 without checks.
    pub average_ticket: i64,
    /// Succeeded ÷ ended (succeeded, failed, cancelled) of the payments started in the range, in basis points; 0
    /// when none ended (`payments_ended`: read it before the rate).
    pub payment_success_rate_bp: i64,
    /// The card payments started in the range that ended (succeeded, failed or cancelled): the rate's denominator,
    /// so 0 % of nothing is told from every payment failing.
    pub payments_ended: i64,
    /// The bookings whose start falls on the range's business days.
    pub reservations: ReservationSummary,
    /// Tables seated and closed on the range's business days (docs/analytics.md, "Table turnover").
    pub turnover: TableTurnover,
    /// The same sales figures over the compared period: as many business days, whole weeks earlier, so each day
    /// meets its weekday (docs/analytics.md, "Week over week"); `null` only at the calendar's edge.
    pub previous: Option<PreviousPeriod>,
}

/// docs/analytics.md, "Table turnover": the table sessions staff seated (accepted) and closed, by their close.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TableTurnover {
    pub turns: i64,
    /// The venue's tables now.
    pub tables: i64,
    /// `turns ÷ (tables × days)` in hundredths (250 = two and a half turns a table a day).
    pub turns_per_table_day_x100: i64,
    /// The mean minutes from seated to closed, rounded down.
    pub average_turn_minutes: i64,
}

impl From<analytics::Turnover> for TableTurnover {
    fn from(turnover: analytics::Turnover) -> Self {
        Self {
            turns: turnover.turns,
            tables: turnover.tables,
            turns_per_table_day_x100: turnover.turns_per_table_day_x100,
            average_turn_minutes: turnover.average_turn_minutes,
        }
    }
}

/// The compared period's sales figures (week over week).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PreviousPeriod {
    pub from: String,
    pub to: String,
    pub gross: i64,
    pub net: i64,
    pub tips: i64,
    pub orders: i64,
    pub average_order: i64,
}

/// docs/analytics.md, "Reservations": bookings by their start's business day, counted by their current status.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReservationSummary {
    /// Bookings (open waitlist offers and unpaid deposit holds left out), cancelled and no-shows included.
    pub bookings: i64,
    /// Their covers (party sizes).
    pub covers_booked: i64,
    /// Covers of the parties seated (or finished).
    pub covers_seated: i64,
    pub no_shows: i64,
    pub cancellations: i64,
    /// No-shows ÷ (seated + finished + no-shows), in basis points (1 % = 100).
    pub no_show_rate_bp: i64,
    /// Cancellations ÷ bookings, in basis points.
    pub cancellation_rate_bp: i64,
    /// Deposits the venue keeps (no-shows, cancellations after the cut-off), in minor units of the summary's
    /// currency: money in no sale figure.
    pub deposits_kept: i64,
}

impl From<ReservationFigures> for ReservationSummary {
    fn from(figures: ReservationFigures) -> Self {
        Self {
            bookings: figures.bookings,
            covers_booked: figures.covers_booked,
            covers_seated: figures.covers_seated,
            no_shows: figures.no_shows,
            cancellations: figures.cancellations,
            no_show_rate_bp: figures.no_show_rate_bp,
            cancellation_rate_bp: figures.cancellation_rate_bp,
            deposits_kept: figures.deposits_kept,
        }
    }
}

/// One bucket of a series: where it starts (the venue's local time, with its offset), its business day, the value.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SeriesPoint {
    pub start: String,
    pub day: String,
    /// The business days of the range the bucket holds: 7 for a whole week, fewer for a week the range's start or
    /// end cuts; 1 for a day or an hour.
    pub days: u8,
    pub value: i64,
}

/// A venue's series of one metric, every bucket of the range in order (empty ones with 0).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SalesSeries {
    pub venue_id: String,
    pub timezone: String,
    pub metric: String,
    pub granularity: String,
    /// The currency of money metrics (`orders` is a count).
    pub currency: Currency,
    pub points: Vec<SeriesPoint>,
}

/// What a report reads: the venue, its calendar, the range of business days and the roll-up rows inside it.
struct VenueSales {
    venue: Venue,
    calendar: BusinessCalendar,
    from: time::Date,
    to: time::Date,
    rows: Vec<(OffsetDateTime, Measures)>,
}

/// A report's business dates (docs/analytics.md, "Ranges and refusals"): 400 naming the field for a text that is not
/// a date, 422 naming it for a range the reports refuse (`from` after `to`, over 400 days, hourly over 92).
fn business_range(
    from: &str,
    to: &str,
    granularity: Granularity,
) -> Result<(time::Date, time::Date), ApiError> {
    use comanda_domain::validation::{DateRefusal, calendar_date};
    let mut errors = ValidationErrors::default();
    let (from, to) = (calendar_date(from), calendar_date(to));
    for (field, date) in [("from", from), ("to", to)] {
        if date == Err(DateRefusal::Malformed) {
            errors.push(field, "use a date YYYY-MM-DD");
        }
    }
    errors.into_result(())?;
    let (from, to) = match (from, to) {
        (Ok(from), Ok(to)) => (from, to),
        (Err(_), _) => return Err(crate::routes::reservations::out_of_years("from")),
        (_, Err(_)) => return Err(crate::routes::reservations::out_of_years("to")),
    };
    analytics::check_range(from, to, granularity).map_err(ApiError::rule)?;
    Ok((from, to))
}

/// The caller's venue named by the path: 404 for an unknown id and for another partner's venue, before anything
/// in the query is looked at.
async fn venue_of(state: &AppState, caller: &Caller, venue: &str) -> Result<Venue, ApiError> {
    let id = path_id(venue)?;
    Ok(state.store.venue(&caller.scope, VenueId::from_uuid(id)).await?)
}

/// The venue's calendar, the business dates `from` to `to` and the instants `[start, end)` they span.
fn venue_range(
    venue: &Venue,
    from: &str,
    to: &str,
    granularity: Granularity,
) -> Result<
    (
        BusinessCalendar,
        time::Date,
        time::Date,
        (OffsetDateTime, OffsetDateTime),
    ),
    ApiError,
> {
    let (from, to) = business_range(from, to, granularity)?;
    let calendar = BusinessCalendar::new(venue_zone(venue)?, venue.day_start_hour)
        .ok_or_else(|| ValidationErrors::single("day_start_hour", "out of range"))?;
    let bounds = calendar
        .range_bounds(from, to)
        .ok_or_else(|| ValidationErrors::single("to", "outside the calendar"))?;
    Ok((calendar, from, to, bounds))
}

/// Reads the venue's roll-ups over a range of its business days; a malformed or refused range is 400 naming the
/// field (docs/analytics.md, "Ranges and refusals").
async fn venue_sales(
    state: &AppState,
    caller: &Caller,
    venue: Venue,
    from: &str,
    to: &str,
    granularity: Granularity,
) -> Result<VenueSales, ApiError> {
    let (calendar, from, to, (start, end)) = venue_range(&venue, from, to, granularity)?;
    let rows = state
        .store
        .sales_quarters(&caller.scope, Some(venue.id.as_uuid()), start, end)
        .await?
        .into_iter()
        .map(|quarter| (quarter.quarter, quarter.measures))
        .collect();
    Ok(VenueSales {
        venue,
        calendar,
        from,
        to,
        rows,
    })
}

/// `None` for JSON (`format` left out or `json`), else the CSV dialect asked: `csv` (RFC 4180) or `csv-es` (a
/// spreadsheet in a Spanish-speaking locale; `crate::csv_export`).
fn csv_dialect(format: Option<&str>) -> Result<Option<CsvDialect>, ApiError> {
    match format {
        None | Some("json") => Ok(None),
        Some(other) => CsvDialect::from_format(other)
            .map(Some)
            .ok_or_else(|| ValidationErrors::single("format", "json, csv or csv-es").into()),
    }
}

/// One venue's summary over business days `from` to `to`: its roll-ups added up, and its reservations.
async fn summarize(
    state: &AppState,
    caller: &Caller,
    venue: Venue,
    from: &str,
    to: &str,
) -> Result<SalesSummary, ApiError> {
    let (calendar, from, to, (start, end)) = venue_range(&venue, from, to, Granularity::Day)?;
    let total = state
        .store
        .sales_total(&caller.scope, venue.id.as_uuid(), start, end)
        .await?;
    let turns = state
        .store
        .turns(&caller.scope, venue.id.as_uuid(), start, end)
        .await?;
    let payments = state
        .store
        .payment_outcomes(&caller.scope, venue.id.as_uuid(), start, end)
        .await?;
    let days = (to - from).whole_days() + 1;
    let compared = analytics::previous_period(from, to)
        .and_then(|(from, to)| Some((from, to, calendar.range_bounds(from, to)?)));
    let previous = match compared {
        Some((from, to, (start, end))) => {
            let total = state
                .store
                .sales_total(&caller.scope, venue.id.as_uuid(), start, end)
                .await?;
            Some(PreviousPeriod {
                from: from.to_string(),
                to: to.to_string(),
                gross: total.gross,
                net: total.net(),
                tips: total.tips,
                orders: total.orders,
                average_order: average(total.gross, total.orders),
            })
        }
        None => None,
    };
    let counts: Vec<_> = state
        .store
        .reservation_counts(&caller.scope, venue.id.as_uuid(), start, end)
        .await?
        .into_iter()
        .map(|(status, bookings, covers, kept)| (status.booking_state(), bookings, covers, kept))
        .collect();
    Ok(SalesSummary {
        venue_id: venue.id.to_string(),
        timezone: venue.timezone.clone(),
        day_start_hour: venue.day_start_hour,
        from: from.to_string(),
        to: to.to_string(),
        currency: venue.currency,
        gross: total.gross,
        tax: total.tax,
        refunds: total.refunds,
        refund_tax: total.refund_tax,
        net: total.net(),
        tips: total.tips,
        collected: total.collected,
        cash: total.cash,
        unpaid: turns.unpaid,
        orders: total.orders,
        average_order: average(total.gross, total.orders),
        checks: turns.checks,
        average_ticket: average(turns.check_gross, turns.checks),
        payment_success_rate_bp: analytics::payment_success_rate_bp(
            payments.succeeded,
            payments.failed,
            payments.cancelled,
        ),
        payments_ended: payments.succeeded + payments.failed + payments.cancelled,
        reservations: ReservationFigures::from_counts(&counts).into(),
        turnover: analytics::turnover(turns.turns, turns.seated_seconds, turns.tables, days).into(),
        previous,
    })
}

fn average(gross: i64, orders: i64) -> i64 {
    if orders > 0 { gross / orders } else { 0 }
}

const SUMMARY_CSV_HEADER: [&str; 8] = [
    "venue_id",
    "timezone",
    "from",
    "to",
    "figure",
    "value_minor",
    "value",
    "currency",
];

/// A summary's CSV rows: each figure with its value in minor units and written out (counts stay counts).
fn summary_rows(export: &mut CsvExport, summary: &SalesSummary) {
    let money = [
        ("gross", summary.gross),
        ("tax", summary.tax),
        ("refunds", summary.refunds),
        ("refund_tax", summary.refund_tax),
        ("net", summary.net),
        ("tips", summary.tips),
        ("collected", summary.collected),
        ("cash", summary.cash),
        ("unpaid", summary.unpaid),
        ("average_order", summary.average_order),
        ("average_ticket", summary.average_ticket),
        ("deposits_kept", summary.reservations.deposits_kept),
    ];
    let previous = summary.previous.as_ref();
    let previous_money = [
        ("previous_gross", previous.map(|p| p.gross)),
        ("previous_net", previous.map(|p| p.net)),
        ("previous_tips", previous.map(|p| p.tips)),
        ("previous_average_order", previous.map(|p| p.average_order)),
    ];
    let money = money.into_iter().chain(
        previous_money
            .into_iter()
            .filter_map(|(figure, value)| Some((figure, value?))),
    );
    let reservations = &summary.reservations;
    let turnover = &summary.turnover;
    let counts = [
        ("orders", summary.orders),
        ("checks", summary.checks),
        ("payment_success_rate_bp", summary.payment_success_rate_bp),
        ("bookings", reservations.bookings),
        ("covers_booked", reservations.covers_booked),
        ("covers_seated", reservations.covers_seated),
        ("no_shows", reservations.no_shows),
        ("cancellations", reservations.cancellations),
        ("no_show_rate_bp", reservations.no_show_rate_bp),
        ("cancellation_rate_bp", reservations.cancellation_rate_bp),
        ("turns", turnover.turns),
        ("tables", turnover.tables),
        ("turns_per_table_day_x100", turnover.turns_per_table_day_x100),
        ("average_turn_minutes", turnover.average_turn_minutes),
        ("payments_ended", summary.payments_ended),
    ];
    let previous_orders = previous.map(|p| ("previous_orders", p.orders));
    let rows = money
        .map(|(figure, value)| {
            (
                figure,
                value,
                decimal_text(value, summary.currency),
                summary.currency.code(),
            )
        })
        .chain(
            counts
                .into_iter()
                .chain(previous_orders)
                .map(|(figure, value)| (figure, value, value.to_string(), "")),
        );
    for (figure, value, shown, currency) in rows {
        let figure = export.term(figure);
        export.row([
            summary.venue_id.as_str(),
            &summary.timezone,
            &summary.from,
            &summary.to,
            figure,
            &value.to_string(),
            &shown,
            currency,
        ]);
    }
}

/// The venue's sales summary over business days `from` to `to` (docs/analytics.md, "When money counts").
#[utoipa::path(get, path = "/api/v1/venues/{venue}/analytics/summary", tag = "analytics", security(("bearer" = [])),
    params(("venue" = String, Path), SummaryQuery), responses(
        (status = 200, description = "The summary (JSON, or CSV with `format=csv`)",
            content((SalesSummary = "application/json"), (String = "text/csv"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn venue_summary(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(venue): Path<String>,
    ApiQuery(query): ApiQuery<SummaryQuery>,
) -> Result<Response, ApiError> {
    let venue = venue_of(&state, &caller, &venue).await?;
    let csv = csv_dialect(query.format.as_deref())?;
    let summary = summarize(&state, &caller, venue, &query.from, &query.to).await?;
    let Some(dialect) = csv else {
        return Ok(Json(summary).into_response());
    };
    let mut export = CsvExport::new("sales-summary.csv", &SUMMARY_CSV_HEADER, dialect);
    summary_rows(&mut export, &summary);
    Ok(export.into_response())
}

/// The figures of the partner's venues that price in one currency, added up: each venue's on its own business days
/// (docs/analytics.md, "Across venues"); venues in different currencies are never added.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CurrencyTotals {
    pub currency: Currency,
    pub venues: usize,
    pub gross: i64,
    pub tax: i64,
    pub refunds: i64,
    pub refund_tax: i64,
    pub net: i64,
    pub tips: i64,
    pub collected: i64,
    pub cash: i64,
    pub unpaid: i64,
    pub orders: i64,
    pub average_order: i64,
    pub bookings: i64,
    pub covers_booked: i64,
    /// Booking deposits the venues keep (no-shows, cancellations after the cut-off), in minor units.
    pub deposits_kept: i64,
}

/// Every venue of the partner over the same business dates, each in its own zone, and the totals per currency.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PartnerSummary {
    pub from: String,
    pub to: String,
    pub totals: Vec<CurrencyTotals>,
    pub venues: Vec<SalesSummary>,
}

/// How many of a partner's venues one partner-wide report reads at once: read one after another, 8 venues made the
/// partner's summary 8 times one venue's; more at once than this would let one dashboard take most of the pooled
/// connections (SQLite's pool holds 8, PostgreSQL's 16 by default).
const VENUES_AT_ONCE: usize = 4;

/// `read` of every venue, [`VENUES_AT_ONCE`] at a time, answered in the venues' order; the first error ends it.
async fn per_venue<T, Read, Reading>(venues: Vec<Venue>, read: Read) -> Result<Vec<T>, ApiError>
where
    Read: FnMut(Venue) -> Reading,
    Reading: std::future::Future<Output = Result<T, ApiError>>,
{
    use futures_util::{StreamExt as _, TryStreamExt as _};
    futures_util::stream::iter(venues)
        .map(read)
        .buffered(VENUES_AT_ONCE)
        .try_collect()
        .await
}

/// The summary across all of the partner's venues (each on its own business days), with totals per currency.
#[utoipa::path(get, path = "/api/v1/analytics/summary", tag = "analytics", security(("bearer" = [])),
    params(SummaryQuery), responses(
        (status = 200, description = "The summary (JSON, or CSV with `format=csv`)",
            content((PartnerSummary = "application/json"), (String = "text/csv"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn partner_summary(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(query): ApiQuery<SummaryQuery>,
) -> Result<Response, ApiError> {
    let csv = csv_dialect(query.format.as_deref())?;
    let venues = partner_venues(&state, &caller, &query.from, &query.to, Granularity::Day).await?;
    let (state_ref, caller_ref, from, to) = (&state, &caller, &query.from, &query.to);
    let summaries = per_venue(venues, move |venue| {
        summarize(state_ref, caller_ref, venue, from, to)
    })
    .await?;
    let mut totals: Vec<CurrencyTotals> = Vec::new();
    for summary in &summaries {
        let total = currency_total(
            &mut totals,
            summary.currency,
            |t| t.currency,
            || CurrencyTotals {
                currency: summary.currency,
                venues: 0,
                gross: 0,
                tax: 0,
                refunds: 0,
                refund_tax: 0,
                net: 0,
                tips: 0,
                collected: 0,
                cash: 0,
                unpaid: 0,
                orders: 0,
                average_order: 0,
                bookings: 0,
                covers_booked: 0,
                deposits_kept: 0,
            },
        );
        total.venues += 1;
        total.gross += summary.gross;
        total.tax += summary.tax;
        total.refunds += summary.refunds;
        total.refund_tax += summary.refund_tax;
        total.net += summary.net;
        total.tips += summary.tips;
        total.collected += summary.collected;
        total.cash += summary.cash;
        total.unpaid += summary.unpaid;
        total.orders += summary.orders;
        total.average_order = average(total.gross, total.orders);
        total.bookings += summary.reservations.bookings;
        total.covers_booked += summary.reservations.covers_booked;
        total.deposits_kept += summary.reservations.deposits_kept;
    }
    if let Some(dialect) = csv {
        let mut export = CsvExport::new("sales-summary-all-venues.csv", &SUMMARY_CSV_HEADER, dialect);
        for summary in &summaries {
            summary_rows(&mut export, summary);
        }
        return Ok(export.into_response());
    }
    Ok(Json(PartnerSummary {
        from: query.from,
        to: query.to,
        totals,
        venues: summaries,
    })
    .into_response())
}

/// The value of `metric` in a bucket's measures; `None` for a metric comanda does not report.
fn metric_value(metric: &str, measures: &Measures) -> Option<i64> {
    Some(match metric {
        // API.md names the default metric `sales`: gross sales, tax included.
        "gross" | "sales" => measures.gross,
        "net" => measures.net(),
        "tax" => measures.tax,
        "refunds" => measures.refunds,
        "tips" => measures.tips,
        "collected" => measures.collected,
        "cash" => measures.cash,
        "orders" => measures.orders,
        _ => return None,
    })
}

/// What a series asks for, checked before any venue is read: 400 naming `metric`, `granularity` or `format`.
struct SeriesAsk<'q> {
    metric: &'q str,
    granularity: Granularity,
    granularity_name: &'q str,
    csv: Option<CsvDialect>,
}

fn series_ask(query: &SeriesQuery) -> Result<SeriesAsk<'_>, ApiError> {
    let metric = metric_of(query.metric.as_deref())?;
    let granularity_name = query.granularity.as_deref().unwrap_or("day");
    let granularity = Granularity::parse(granularity_name)
        .ok_or_else(|| ValidationErrors::single("granularity", "one of hour, day, week"))?;
    Ok(SeriesAsk {
        metric,
        granularity,
        granularity_name,
        csv: csv_dialect(query.format.as_deref())?,
    })
}

/// One venue's series, with each bucket's local wall-clock start (what the partner-wide series adds venues up by).
async fn series_of(
    state: &AppState,
    caller: &Caller,
    venue: Venue,
    query: &SeriesQuery,
    ask: &SeriesAsk<'_>,
) -> Result<(SalesSeries, Vec<PrimitiveDateTime>), ApiError> {
    let sales = venue_sales(state, caller, venue, &query.from, &query.to, ask.granularity).await?;
    let mut locals = Vec::new();
    let points: Vec<SeriesPoint> = sales
        .calendar
        .series(&sales.rows, sales.from, sales.to, ask.granularity)
        .iter()
        .map(|bucket| {
            let local = sales.calendar.with_local_offset(bucket.start);
            locals.push(PrimitiveDateTime::new(local.date(), local.time()));
            SeriesPoint {
                start: local.format(&Rfc3339).unwrap_or_default(),
                day: bucket.day.to_string(),
                days: bucket.days,
                value: metric_value(ask.metric, &bucket.measures).unwrap_or(0),
            }
        })
        .collect();
    let series = SalesSeries {
        venue_id: sales.venue.id.to_string(),
        timezone: sales.venue.timezone.clone(),
        metric: ask.metric.to_owned(),
        granularity: ask.granularity_name.to_owned(),
        currency: sales.venue.currency,
        points,
    };
    Ok((series, locals))
}

/// One metric of the venue over business days `from` to `to`, by local hour, business day or ISO week: every
/// bucket of the range (a daylight-saving day has 23 or 25 hourly buckets), each labelled with its local start.
#[utoipa::path(get, path = "/api/v1/venues/{venue}/analytics/timeseries", tag = "analytics",
    security(("bearer" = [])), params(("venue" = String, Path), SeriesQuery), responses(
        (status = 200, description = "The series (JSON, or CSV with `format=csv`)",
            content((SalesSeries = "application/json"), (String = "text/csv"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn venue_series(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(venue): Path<String>,
    ApiQuery(query): ApiQuery<SeriesQuery>,
) -> Result<Response, ApiError> {
    let venue = venue_of(&state, &caller, &venue).await?;
    let ask = series_ask(&query)?;
    let (series, _) = series_of(&state, &caller, venue, &query, &ask).await?;
    let Some(dialect) = ask.csv else {
        return Ok(Json(series).into_response());
    };
    let mut export = metric_csv(
        "sales-series.csv",
        false,
        ["start_local", "business_day"],
        &["days"],
        dialect,
    );
    series_rows(&mut export, false, &series);
    Ok(export.into_response())
}

fn series_rows(export: &mut CsvExport, with_venue: bool, series: &SalesSeries) {
    for point in &series.points {
        let place = [point.start.as_str(), &point.day];
        let venue = &series.venue_id;
        metric_row(
            export,
            with_venue.then_some(venue),
            place,
            &series.timezone,
            &series.metric,
            series.currency,
            point.value,
            // A week the range cuts holds fewer days: said, so it is not read as a whole week's sales.
            &[point.days.to_string()],
        );
    }
}

/// One point of a partner-wide series: the venues' buckets that start at the same local wall-clock time, each in
/// its own zone (`2026-12-04T21:00:00`, no offset: the venues' offsets may differ), or, by day or week, that are the
/// same business day or week whatever hour each venue starts its day at (`start`: the earliest venue's), added up.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LocalPoint {
    pub start: String,
    pub day: String,
    /// As in a venue's series: the business days of the range the bucket holds (7 for a whole week, fewer for a week
    /// the range cuts; 1 for a day or an hour). Every venue reads the same range, so they agree.
    pub days: u8,
    pub value: i64,
}

/// The series of the partner's venues that price in one currency, added up bucket by bucket.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CurrencySeries {
    pub currency: Currency,
    pub venues: usize,
    pub points: Vec<LocalPoint>,
}

/// One metric across the partner's venues (docs/analytics.md, "Across venues"): each venue's own series, and per
/// currency their sum by local start.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PartnerSeries {
    pub from: String,
    pub to: String,
    pub metric: String,
    pub granularity: String,
    pub totals: Vec<CurrencySeries>,
    pub venues: Vec<SalesSeries>,
}

/// The entry of `currency` in per-currency totals, made by `empty` the first time the currency is met.
fn currency_total<T>(
    totals: &mut Vec<T>,
    currency: Currency,
    of: fn(&T) -> Currency,
    empty: impl FnOnce() -> T,
) -> &mut T {
    let index = match totals.iter().position(|t| of(t) == currency) {
        Some(index) => index,
        None => {
            totals.push(empty());
            totals.len() - 1
        }
    };
    &mut totals[index]
}

/// The partner's venues, after the request was checked: the range is refused even for a partner without venues.
async fn partner_venues(
    state: &AppState,
    caller: &Caller,
    from: &str,
    to: &str,
    granularity: Granularity,
) -> Result<Vec<Venue>, ApiError> {
    business_range(from, to, granularity)?;
    Ok(collect_all(|page| state.store.list_venues(&caller.scope, page)).await?)
}

/// A currency's sums by local wall-clock start (hours) or business date (days, weeks): the bucket's business day,
/// the venues' values added, and the earliest venue's local start.
type LocalSums = BTreeMap<PrimitiveDateTime, (String, u8, i64, PrimitiveDateTime)>;

/// One metric across all of the partner's venues, by local hour, business day or ISO week of each venue.
#[utoipa::path(get, path = "/api/v1/analytics/timeseries", tag = "analytics", security(("bearer" = [])),
    params(SeriesQuery), responses(
        (status = 200, description = "The series (JSON, or CSV with `format=csv`: every venue's rows)",
            content((PartnerSeries = "application/json"), (String = "text/csv"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn partner_series(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(query): ApiQuery<SeriesQuery>,
) -> Result<Response, ApiError> {
    let ask = series_ask(&query)?;
    let venues = partner_venues(&state, &caller, &query.from, &query.to, ask.granularity).await?;
    let mut sums: Vec<(Currency, usize, LocalSums)> = Vec::new();
    let mut reports = Vec::with_capacity(venues.len());
    let (state_ref, caller_ref, query_ref, ask_ref) = (&state, &caller, &query, &ask);
    let read = per_venue(venues, move |venue| {
        series_of(state_ref, caller_ref, venue, query_ref, ask_ref)
    })
    .await?;
    for (series, locals) in read {
        let (_, venues, points) = currency_total(
            &mut sums,
            series.currency,
            |s| s.0,
            || (series.currency, 0, BTreeMap::new()),
        );
        *venues += 1;
        for (local, point) in locals.into_iter().zip(&series.points) {
            // Hours meet by the local wall clock; days and weeks by their business date, whatever hour each venue
            // starts its day at (one point a day, starting at the earliest venue's start).
            let key = match ask.granularity {
                Granularity::Hour => local,
                Granularity::Day | Granularity::Week => {
                    time::Date::parse(&point.day, format_description!("[year]-[month]-[day]"))
                        .map_or(local, |day| day.midnight())
                }
            };
            let sum = points
                .entry(key)
                .or_insert_with(|| (point.day.clone(), point.days, 0, local));
            sum.2 += point.value;
            sum.3 = sum.3.min(local);
        }
        reports.push(series);
    }
    if let Some(dialect) = ask.csv {
        let mut export = metric_csv(
            "sales-series-all-venues.csv",
            true,
            ["start_local", "business_day"],
            &["days"],
            dialect,
        );
        for series in &reports {
            series_rows(&mut export, true, series);
        }
        return Ok(export.into_response());
    }
    let totals = sums
        .into_iter()
        .map(|(currency, venues, points)| CurrencySeries {
            currency,
            venues,
            points: points
                .into_iter()
                .map(|(_, (day, days, value, start))| LocalPoint {
                    start: start.format(&RFC3339_LOCAL).unwrap_or_default(),
                    day,
                    days,
                    value,
                })
                .collect(),
        })
        .collect();
    Ok(Json(PartnerSeries {
        from: query.from.clone(),
        to: query.to.clone(),
        metric: ask.metric.to_owned(),
        granularity: ask.granularity_name.to_owned(),
        totals,
        venues: reports,
    })
    .into_response())
}

/// A local wall-clock time as RFC 3339 writes it, without the offset.
const RFC3339_LOCAL: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HeatMapQuery {
    /// The first business day, `YYYY-MM-DD`.
    #[param(value_type = String, format = Date)]
    pub from: String,
    /// The last business day (inclusive): a range covers at most 400 days, `from` and `to` included.
    #[param(value_type = String, format = Date)]
    pub to: String,
    /// `gross` (default; `sales`, the contract's name, is the same), `net`, `tax`, `refunds`, `tips`, `collected`,
    /// `cash` or `orders`.
    #[param(pattern = "^(sales|gross|net|tax|refunds|tips|collected|cash|orders)$")]
    pub metric: Option<String>,
    /// `json` (default), `csv` (RFC 4180, the API's field names) or `csv-es` (for a spreadsheet in a Spanish-speaking
    /// locale: byte-order mark, `;`, decimal comma, the header row and the figures' names in Spanish).
    #[param(pattern = "^(json|csv|csv-es)$")]
    pub format: Option<String>,
}

/// One cell of the heat map: the business day's ISO weekday (1 = Monday) and the local hour of day (0–23).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HeatCell {
    pub weekday: u8,
    pub hour: u8,
    pub value: i64,
}

/// A metric by weekday and local hour over a range: 168 cells, Monday 00 h first (docs/analytics.md: an instant
/// counts in its business day's weekday, so 01:30 on Saturday is Friday's column).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SalesHeatMap {
    pub venue_id: String,
    pub timezone: String,
    pub metric: String,
    pub currency: Currency,
    pub cells: Vec<HeatCell>,
}

/// The metric's name, or 400 naming `metric`.
fn metric_of(metric: Option<&str>) -> Result<&str, ApiError> {
    let metric = metric.unwrap_or("gross");
    if metric_value(metric, &Measures::default()).is_none() {
        return Err(ValidationErrors::single(
            "metric",
            "one of sales (the same as gross), gross, net, tax, refunds, tips, collected, cash, orders",
        )
        .into());
    }
    Ok(metric)
}

/// One venue's heat map of `metric`.
async fn heat_map_of(
    state: &AppState,
    caller: &Caller,
    venue: Venue,
    query: &HeatMapQuery,
    metric: &str,
) -> Result<SalesHeatMap, ApiError> {
    let sales = venue_sales(state, caller, venue, &query.from, &query.to, Granularity::Day).await?;
    let map = sales.calendar.heat_map(&sales.rows);
    let mut cells = Vec::with_capacity(7 * 24);
    for (weekday, hours) in (1u8..).zip(map.iter()) {
        for (hour, measures) in (0u8..).zip(hours.iter()) {
            cells.push(HeatCell {
                weekday,
                hour,
                value: metric_value(metric, measures).unwrap_or(0),
            });
        }
    }
    Ok(SalesHeatMap {
        venue_id: sales.venue.id.to_string(),
        timezone: sales.venue.timezone.clone(),
        metric: metric.to_owned(),
        currency: sales.venue.currency,
        cells,
    })
}

fn heat_rows(export: &mut CsvExport, with_venue: bool, heat: &SalesHeatMap) {
    for cell in &heat.cells {
        let place = [cell.weekday.to_string(), cell.hour.to_string()];
        let venue = &heat.venue_id;
        metric_row(
            export,
            with_venue.then_some(venue),
            [&place[0], &place[1]],
            &heat.timezone,
            &heat.metric,
            heat.currency,
            cell.value,
            &[],
        );
    }
}

/// The venue's hour × weekday heat map of one metric over business days `from` to `to`.
#[utoipa::path(get, path = "/api/v1/venues/{venue}/analytics/heatmap", tag = "analytics",
    security(("bearer" = [])), params(("venue" = String, Path), HeatMapQuery), responses(
        (status = 200, description = "The heat map (JSON, or CSV with `format=csv`)",
            content((SalesHeatMap = "application/json"), (String = "text/csv"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn venue_heat_map(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(venue): Path<String>,
    ApiQuery(query): ApiQuery<HeatMapQuery>,
) -> Result<Response, ApiError> {
    let venue = venue_of(&state, &caller, &venue).await?;
    let metric = metric_of(query.metric.as_deref())?;
    let csv = csv_dialect(query.format.as_deref())?;
    let heat = heat_map_of(&state, &caller, venue, &query, metric).await?;
    let Some(dialect) = csv else {
        return Ok(Json(heat).into_response());
    };
    let mut export = metric_csv("sales-heatmap.csv", false, ["weekday", "hour"], &[], dialect);
    heat_rows(&mut export, false, &heat);
    Ok(export.into_response())
}

/// The heat maps of the partner's venues that price in one currency, added up cell by cell.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CurrencyHeatMap {
    pub currency: Currency,
    pub venues: usize,
    pub cells: Vec<HeatCell>,
}

/// One metric by weekday and local hour across the partner's venues, each venue on its own hours.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PartnerHeatMap {
    pub from: String,
    pub to: String,
    pub metric: String,
    pub totals: Vec<CurrencyHeatMap>,
    pub venues: Vec<SalesHeatMap>,
}

/// The hour × weekday heat map across all of the partner's venues.
#[utoipa::path(get, path = "/api/v1/analytics/heatmap", tag = "analytics", security(("bearer" = [])),
    params(HeatMapQuery), responses(
        (status = 200, description = "The heat map (JSON, or CSV with `format=csv`: every venue's rows)",
            content((PartnerHeatMap = "application/json"), (String = "text/csv"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn partner_heat_map(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(query): ApiQuery<HeatMapQuery>,
) -> Result<Response, ApiError> {
    let metric = metric_of(query.metric.as_deref())?;
    let csv = csv_dialect(query.format.as_deref())?;
    let venues = partner_venues(&state, &caller, &query.from, &query.to, Granularity::Day).await?;
    let mut totals: Vec<CurrencyHeatMap> = Vec::new();
    let mut maps = Vec::with_capacity(venues.len());
    let (state_ref, caller_ref, query_ref) = (&state, &caller, &query);
    let read = per_venue(venues, move |venue| {
        heat_map_of(state_ref, caller_ref, venue, query_ref, metric)
    })
    .await?;
    for heat in read {
        let total = currency_total(
            &mut totals,
            heat.currency,
            |t| t.currency,
            || CurrencyHeatMap {
                currency: heat.currency,
                venues: 0,
                cells: heat
                    .cells
                    .iter()
                    .map(|c| HeatCell {
                        weekday: c.weekday,
                        hour: c.hour,
                        value: 0,
                    })
                    .collect(),
            },
        );
        total.venues += 1;
        for (sum, cell) in total.cells.iter_mut().zip(&heat.cells) {
            sum.value += cell.value;
        }
        maps.push(heat);
    }
    if let Some(dialect) = csv {
        let mut export = metric_csv(
            "sales-heatmap-all-venues.csv",
            true,
            ["weekday", "hour"],
            &[],
            dialect,
        );
        for heat in &maps {
            heat_rows(&mut export, true, heat);
        }
        return Ok(export.into_response());
    }
    Ok(Json(PartnerHeatMap {
        from: query.from,
        to: query.to,
        metric: metric.to_owned(),
        totals,
        venues: maps,
    })
    .into_response())
}

/// A metric's CSV: (the venue, across venues,) two columns placing each value (a bucket's local start and business
/// day, or a weekday and an hour), then the venue's zone, the metric, and the value in minor units and written out
/// (a count stays a count), then the report's `trailing` columns (a series' `days`).
fn metric_csv(
    filename: &'static str,
    with_venue: bool,
    place: [&str; 2],
    trailing: &[&str],
    dialect: CsvDialect,
) -> CsvExport {
    let header: Vec<&str> = [
        "venue_id",
        place[0],
        place[1],
        "timezone",
        "metric",
        "value_minor",
        "value",
        "currency",
    ]
    .into_iter()
    .skip(usize::from(!with_venue))
    .chain(trailing.iter().copied())
    .collect();
    CsvExport::new(filename, &header, dialect)
}

#[allow(clippy::too_many_arguments)]
fn metric_row(
    export: &mut CsvExport,
    venue: Option<&String>,
    place: [&str; 2],
    timezone: &str,
    metric: &str,
    currency: Currency,
    value: i64,
    trailing: &[String],
) {
    let counted = metric == "orders";
    let minor = value.to_string();
    let shown = if counted {
        minor.clone()
    } else {
        decimal_text(value, currency)
    };
    let unit = if counted { "" } else { currency.code() };
    let metric = export.term(metric);
    let cells = [
        venue.map_or("", String::as_str),
        place[0],
        place[1],
        timezone,
        metric,
        &minor,
        &shown,
        unit,
    ];
    let row: Vec<&str> = cells[usize::from(venue.is_none())..]
        .iter()
        .copied()
        .chain(trailing.iter().map(String::as_str))
        .collect();
    export.row(row);
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ProductMixQuery {
    /// The first business day, `YYYY-MM-DD`.
    #[param(value_type = String, format = Date)]
    pub from: String,
    /// The last business day (inclusive): a range covers at most 400 days, `from` and `to` included.
    #[param(value_type = String, format = Date)]
    pub to: String,
    /// Rank by `sales` (default) or `quantity`.
    #[param(pattern = "^(sales|quantity)$")]
    pub sort: Option<String>,
    /// `json` (default), `csv` (RFC 4180, the API's field names) or `csv-es` (for a spreadsheet in a Spanish-speaking
    /// locale: byte-order mark, `;`, decimal comma, the header row and the figures' names in Spanish).
    #[param(pattern = "^(json|csv|csv-es)$")]
    pub format: Option<String>,
}

/// One menu item's line of the product mix.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProductMixItem {
    /// 1 for the best seller by the chosen ranking.
    pub rank: usize,
    pub item_id: String,
    /// Its name on the menu now; `null` for an item since deleted from the menu.
    pub name: Option<comanda_domain::menu::Localized>,
    /// How many were ordered (orders placed and not cancelled).
    pub quantity: i64,
    /// Their sales, tax included, in minor units.
    pub sales: i64,
    /// Its part of all the items' sales, in basis points (1 % = 100).
    pub sales_share_bp: i64,
}

/// What sold over business days `from` to `to` (docs/analytics.md, "Product mix"): every item on the menu and every
/// item sold, best first by `sort`, so the top sellers lead and the items that did not sell close the list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProductMix {
    pub venue_id: String,
    pub timezone: String,
    pub from: String,
    pub to: String,
    pub currency: Currency,
    /// `sales` or `quantity`.
    pub sort: String,
    pub quantity: i64,
    pub sales: i64,
    pub items: Vec<ProductMixItem>,
}

/// Whether the mix ranks by quantity (`sort=quantity`) rather than sales; 400 naming `sort` otherwise.
fn by_quantity(sort: Option<&str>) -> Result<bool, ApiError> {
    match sort {
        None | Some("sales") => Ok(false),
        Some("quantity") => Ok(true),
        Some(_) => Err(ValidationErrors::single("sort", "sales or quantity").into()),
    }
}

/// One venue's product mix, read from the item roll-ups and named from its menu.
async fn product_mix_of(
    state: &AppState,
    caller: &Caller,
    venue: Venue,
    query: &ProductMixQuery,
    by_quantity: bool,
) -> Result<ProductMix, ApiError> {
    let (_, from, to, (start, end)) = venue_range(&venue, &query.from, &query.to, Granularity::Day)?;
    let sold = state
        .store
        .item_sales(&caller.scope, Some(venue.id.as_uuid()), start, end)
        .await?;
    let (_, menu) = state.store.menu(&caller.scope, venue.id.as_uuid()).await?;
    let mix = product_mix(&sold, &menu, by_quantity);
    Ok(ProductMix {
        venue_id: venue.id.to_string(),
        timezone: venue.timezone.clone(),
        from: from.to_string(),
        to: to.to_string(),
        currency: venue.currency,
        sort: if by_quantity { "quantity" } else { "sales" }.to_owned(),
        quantity: mix.iter().map(|i| i.quantity).sum(),
        sales: mix.iter().map(|i| i.sales).sum(),
        items: mix,
    })
}

const PRODUCT_MIX_CSV_HEADER: [&str; 11] = [
    "venue_id",
    "timezone",
    "from",
    "to",
    "rank",
    "item_id",
    "name",
    "quantity",
    "sales_minor",
    "sales",
    "currency",
];

fn product_mix_rows(export: &mut CsvExport, report: &ProductMix) {
    for item in &report.items {
        export.row([
            report.venue_id.as_str(),
            &report.timezone,
            &report.from,
            &report.to,
            &item.rank.to_string(),
            &item.item_id,
            item.name.as_ref().map_or("", |name| name.es.as_str()),
            &item.quantity.to_string(),
            &item.sales.to_string(),
            &decimal_text(item.sales, report.currency),
            report.currency.code(),
        ]);
    }
}

/// The venue's product mix over business days `from` to `to`, read from the item roll-ups.
#[utoipa::path(get, path = "/api/v1/venues/{venue}/analytics/product-mix", tag = "analytics",
    security(("bearer" = [])), params(("venue" = String, Path), ProductMixQuery), responses(
        (status = 200, description = "The product mix (JSON, or CSV with `format=csv`)",
            content((ProductMix = "application/json"), (String = "text/csv"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn venue_product_mix(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(venue): Path<String>,
    ApiQuery(query): ApiQuery<ProductMixQuery>,
) -> Result<Response, ApiError> {
    let venue = venue_of(&state, &caller, &venue).await?;
    let by_quantity = by_quantity(query.sort.as_deref())?;
    let csv = csv_dialect(query.format.as_deref())?;
    let report = product_mix_of(&state, &caller, venue, &query, by_quantity).await?;
    let Some(dialect) = csv else {
        return Ok(Json(report).into_response());
    };
    let mut export = CsvExport::new("product-mix.csv", &PRODUCT_MIX_CSV_HEADER, dialect);
    product_mix_rows(&mut export, &report);
    Ok(export.into_response())
}

/// The same report under the name ../shared/API.md gives it (`top-items`): the product mix, best sellers first.
#[utoipa::path(get, path = "/api/v1/venues/{venue}/analytics/top-items", tag = "analytics",
    security(("bearer" = [])), params(("venue" = String, Path), ProductMixQuery), responses(
        (status = 200, description = "The product mix (JSON, or CSV with `format=csv`)",
            content((ProductMix = "application/json"), (String = "text/csv"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn venue_top_items(
    state: State<AppState>,
    caller: Extension<Caller>,
    venue: Path<String>,
    query: ApiQuery<ProductMixQuery>,
) -> Result<Response, ApiError> {
    venue_product_mix(state, caller, venue, query).await
}

/// A line of the partner-wide product mix: a venue's item (items are each venue's own, so two venues' "Ajiaco"
/// are two lines), ranked among all the venues in its currency.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VenueMixItem {
    pub venue_id: String,
    #[serde(flatten)]
    pub item: ProductMixItem,
}

/// The product mix of the partner's venues that price in one currency, one ranking over all their items.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CurrencyMix {
    pub currency: Currency,
    pub venues: usize,
    pub quantity: i64,
    pub sales: i64,
    pub items: Vec<VenueMixItem>,
}

/// The product mix across the partner's venues: each venue's own, and per currency one ranking of all items.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PartnerProductMix {
    pub from: String,
    pub to: String,
    pub sort: String,
    pub totals: Vec<CurrencyMix>,
    pub venues: Vec<ProductMix>,
}

/// The product mix across all of the partner's venues (../shared/API.md `top-items`).
#[utoipa::path(get, path = "/api/v1/analytics/top-items", tag = "analytics", security(("bearer" = [])),
    params(ProductMixQuery), responses(
        (status = 200, description = "The product mix (JSON, or CSV with `format=csv`: every venue's rows)",
            content((PartnerProductMix = "application/json"), (String = "text/csv"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn partner_top_items(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(query): ApiQuery<ProductMixQuery>,
) -> Result<Response, ApiError> {
    let by_quantity = by_quantity(query.sort.as_deref())?;
    let csv = csv_dialect(query.format.as_deref())?;
    let venues = partner_venues(&state, &caller, &query.from, &query.to, Granularity::Day).await?;
    let mut totals: Vec<CurrencyMix> = Vec::new();
    let mut mixes = Vec::with_capacity(venues.len());
    let (state_ref, caller_ref, query_ref) = (&state, &caller, &query);
    let read = per_venue(venues, move |venue| {
        product_mix_of(state_ref, caller_ref, venue, query_ref, by_quantity)
    })
    .await?;
    for mix in read {
        let total = currency_total(
            &mut totals,
            mix.currency,
            |t| t.currency,
            || CurrencyMix {
                currency: mix.currency,
                venues: 0,
                quantity: 0,
                sales: 0,
                items: Vec::new(),
            },
        );
        total.venues += 1;
        total.quantity += mix.quantity;
        total.sales += mix.sales;
        total.items.extend(mix.items.iter().map(|item| VenueMixItem {
            venue_id: mix.venue_id.clone(),
            item: item.clone(),
        }));
        mixes.push(mix);
    }
    if let Some(dialect) = csv {
        let mut export = CsvExport::new("product-mix-all-venues.csv", &PRODUCT_MIX_CSV_HEADER, dialect);
        for mix in &mixes {
            product_mix_rows(&mut export, mix);
        }
        return Ok(export.into_response());
    }
    for total in &mut totals {
        let sales = total.sales;
        total.items.sort_by(|a, b| {
            mix_order(&a.item, &b.item, by_quantity).then_with(|| a.venue_id.cmp(&b.venue_id))
        });
        for (rank, line) in total.items.iter_mut().enumerate() {
            line.item.rank = rank + 1;
            line.item.sales_share_bp = share_bp(line.item.sales, sales);
        }
    }
    Ok(Json(PartnerProductMix {
        from: query.from,
        to: query.to,
        sort: if by_quantity { "quantity" } else { "sales" }.to_owned(),
        totals,
        venues: mixes,
    })
    .into_response())
}

/// `part ÷ whole` in basis points, rounded down; 0 of nothing.
fn share_bp(part: i64, whole: i64) -> i64 {
    if whole > 0 {
        i64::try_from(i128::from(part) * 10_000 / i128::from(whole)).unwrap_or(0)
    } else {
        0
    }
}

/// The product mix's order: best first by the ranking, then by Spanish name, then by id (a stable order for ties).
fn mix_order(a: &ProductMixItem, b: &ProductMixItem, by_quantity: bool) -> Ordering {
    let key = |item: &ProductMixItem| {
        if by_quantity {
            (item.quantity, item.sales)
        } else {
            (item.sales, item.quantity)
        }
    };
    key(b)
        .cmp(&key(a))
        .then_with(|| {
            a.name
                .as_ref()
                .map(|n| &n.es)
                .cmp(&b.name.as_ref().map(|n| &n.es))
        })
        .then_with(|| a.item_id.cmp(&b.item_id))
}

/// Ranks the items sold, with the menu's unsold items after them (0 of each), best first; ties by name, then id.
fn product_mix(
    sold: &[comanda_domain::analytics::ItemSale],
    menu: &[comanda_domain::menu::MenuItem],
    by_quantity: bool,
) -> Vec<ProductMixItem> {
    let total: i64 = sold.iter().map(|item| item.sales).sum();
    let name_of = |id: uuid::Uuid| {
        menu.iter()
            .find(|item| item.id == id)
            .map(|item| item.name.clone())
    };
    let unsold = menu
        .iter()
        .filter(|item| !sold.iter().any(|s| s.item_id == item.id))
        .map(|item| (item.id, 0, 0));
    let mut lines: Vec<ProductMixItem> = sold
        .iter()
        .map(|item| (item.item_id, item.quantity, item.sales))
        .chain(unsold)
        .map(|(id, quantity, sales)| ProductMixItem {
            rank: 0,
            item_id: id.to_string(),
            name: name_of(id),
            quantity,
            sales,
            sales_share_bp: share_bp(sales, total),
        })
        .collect();
    lines.sort_by(|a, b| mix_order(a, b, by_quantity));
    for (rank, line) in lines.iter_mut().enumerate() {
        line.rank = rank + 1;
    }
    lines
}

/// One member's line of the sales per server (docs/analytics.md, "Sales per server").
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ServerLine {
    /// `null` for the tips of tables nobody accepted.
    pub member_id: Option<String>,
    /// The member's name (a removed member's as it was kept for payroll records; `null` for one since erased, or for
    /// `member_id: null`).
    pub name: Option<String>,
    /// Orders of the tables they accepted, closed since, placed on the range's business days.
    pub orders: i64,
    /// Those orders' gross, tax included, in minor units.
    pub gross: i64,
    /// `gross ÷ orders`, rounded down; 0 without orders.
    pub average_order: i64,
    /// Tips credited to them in the range (the tip ledger, refunds' tip part taken back), never sales.
    pub tips: i64,
    /// Cash they recorded at the tables in the range (bill part plus tip, voided records taken back): what their
    /// cash drawer should hold. Not a sale figure (the sales are `gross`, whoever took the money).
    pub cash: i64,
}

/// A venue's sales and tips per server over business days `from` to `to`, best seller first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ServerSales {
    pub venue_id: String,
    pub timezone: String,
    pub from: String,
    pub to: String,
    pub currency: Currency,
    pub servers: Vec<ServerLine>,
}

/// One venue's sales per server: the server roll-ups, the tip ledger's attribution, the staff's names.
async fn servers_of(
    state: &AppState,
    caller: &Caller,
    venue: Venue,
    query: &SummaryQuery,
    names: &[(uuid::Uuid, String)],
) -> Result<ServerSales, ApiError> {
    let (_, from, to, (start, end)) = venue_range(&venue, &query.from, &query.to, Granularity::Day)?;
    let id = venue.id.as_uuid();
    let sales = state.store.server_sales(&caller.scope, id, start, end).await?;
    let tips = state.store.server_tips(&caller.scope, id, start, end).await?;
    let cash = state.store.server_cash(&caller.scope, id, start, end).await?;
    let mut lines: BTreeMap<Option<uuid::Uuid>, (i64, i64, i64, i64)> = BTreeMap::new();
    for sale in sales {
        let line = lines.entry(Some(sale.member)).or_default();
        (line.0, line.1) = (sale.orders, sale.gross);
    }
    for (member, tip) in tips {
        lines.entry(member).or_default().2 += tip;
    }
    for (member, taken) in cash {
        lines.entry(Some(member)).or_default().3 += taken;
    }
    let mut servers: Vec<ServerLine> = lines
        .into_iter()
        .map(|(member, (orders, gross, tips, cash))| ServerLine {
            member_id: member.map(|m| m.to_string()),
            name: member.and_then(|m| {
                names
                    .iter()
                    .find(|(id, _)| *id == m)
                    .map(|(_, name)| name.clone())
            }),
            orders,
            gross,
            average_order: average(gross, orders),
            tips,
            cash,
        })
        .collect();
    servers.sort_by(|a, b| {
        (b.gross, b.tips)
            .cmp(&(a.gross, a.tips))
            .then_with(|| a.member_id.cmp(&b.member_id))
    });
    Ok(ServerSales {
        venue_id: venue.id.to_string(),
        timezone: venue.timezone.clone(),
        from: from.to_string(),
        to: to.to_string(),
        currency: venue.currency,
        servers,
    })
}

/// The partner's staff by id with their names, for naming servers (analytics, the tip ledger).
pub(crate) async fn staff_names(
    state: &AppState,
    caller: &Caller,
) -> Result<Vec<(uuid::Uuid, String)>, ApiError> {
    let staff = collect_all(|page| state.store.list_staff(&caller.scope, page)).await?;
    // Members removed since are still named: a tip they earned before leaving is still theirs to be paid.
    let former = state.store.former_staff_names(&caller.scope).await?;
    let current: std::collections::HashSet<uuid::Uuid> = staff.iter().map(|member| member.id).collect();
    Ok(staff
        .into_iter()
        .map(|member| (member.id, member.name))
        .chain(former.into_iter().filter(|(id, _)| !current.contains(id)))
        .collect())
}

const SERVERS_CSV_HEADER: [&str; 14] = [
    "venue_id",
    "timezone",
    "from",
    "to",
    "member_id",
    "name",
    "orders",
    "gross_minor",
    "gross",
    "tips_minor",
    "tips",
    "currency",
    // Added later, at the end: an import that reads columns by position keeps working.
    "cash_minor",
    "cash",
];

fn servers_rows(export: &mut CsvExport, report: &ServerSales) {
    for line in &report.servers {
        export.row([
            report.venue_id.as_str(),
            &report.timezone,
            &report.from,
            &report.to,
            line.member_id.as_deref().unwrap_or(""),
            line.name.as_deref().unwrap_or(""),
            &line.orders.to_string(),
            &line.gross.to_string(),
            &decimal_text(line.gross, report.currency),
            &line.tips.to_string(),
            &decimal_text(line.tips, report.currency),
            report.currency.code(),
            &line.cash.to_string(),
            &decimal_text(line.cash, report.currency),
        ]);
    }
}

/// The venue's sales and tips per server over business days `from` to `to` (docs/analytics.md, "Sales per server").
#[utoipa::path(get, path = "/api/v1/venues/{venue}/analytics/servers", tag = "analytics",
    security(("bearer" = [])), params(("venue" = String, Path), SummaryQuery), responses(
        (status = 200, description = "Sales per server (JSON, or CSV with `format=csv`)",
            content((ServerSales = "application/json"), (String = "text/csv"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn venue_servers(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(venue): Path<String>,
    ApiQuery(query): ApiQuery<SummaryQuery>,
) -> Result<Response, ApiError> {
    let venue = venue_of(&state, &caller, &venue).await?;
    let csv = csv_dialect(query.format.as_deref())?;
    let names = staff_names(&state, &caller).await?;
    let report = servers_of(&state, &caller, venue, &query, &names).await?;
    let Some(dialect) = csv else {
        return Ok(Json(report).into_response());
    };
    let mut export = CsvExport::new("sales-per-server.csv", &SERVERS_CSV_HEADER, dialect);
    servers_rows(&mut export, &report);
    Ok(export.into_response())
}

/// The servers of the partner's venues that price in one currency: each member's lines at every venue added up.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CurrencyServers {
    pub currency: Currency,
    pub venues: usize,
    pub servers: Vec<ServerLine>,
}

/// Sales per server across the partner's venues: each venue's own, and per currency each member's total.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PartnerServers {
    pub from: String,
    pub to: String,
    pub totals: Vec<CurrencyServers>,
    pub venues: Vec<ServerSales>,
}

/// Sales and tips per server across all of the partner's venues (a member who serves at two venues is one line).
#[utoipa::path(get, path = "/api/v1/analytics/servers", tag = "analytics", security(("bearer" = [])),
    params(SummaryQuery), responses(
        (status = 200, description = "Sales per server (JSON, or CSV with `format=csv`: every venue's rows)",
            content((PartnerServers = "application/json"), (String = "text/csv"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn partner_servers(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(query): ApiQuery<SummaryQuery>,
) -> Result<Response, ApiError> {
    let csv = csv_dialect(query.format.as_deref())?;
    let venues = partner_venues(&state, &caller, &query.from, &query.to, Granularity::Day).await?;
    let names = staff_names(&state, &caller).await?;
    let mut totals: Vec<CurrencyServers> = Vec::new();
    let mut reports = Vec::with_capacity(venues.len());
    let (state_ref, caller_ref, query_ref, names_ref) = (&state, &caller, &query, &names);
    let read = per_venue(venues, move |venue| {
        servers_of(state_ref, caller_ref, venue, query_ref, names_ref)
    })
    .await?;
    for report in read {
        let total = currency_total(
            &mut totals,
            report.currency,
            |t| t.currency,
            || CurrencyServers {
                currency: report.currency,
                venues: 0,
                servers: Vec::new(),
            },
        );
        total.venues += 1;
        for line in &report.servers {
            match total.servers.iter_mut().find(|l| l.member_id == line.member_id) {
                Some(sum) => {
                    sum.orders += line.orders;
                    sum.gross += line.gross;
                    sum.tips += line.tips;
                    sum.cash += line.cash;
                    sum.average_order = average(sum.gross, sum.orders);
                }
                None => total.servers.push(line.clone()),
            }
        }
        reports.push(report);
    }
    if let Some(dialect) = csv {
        let mut export = CsvExport::new("sales-per-server-all-venues.csv", &SERVERS_CSV_HEADER, dialect);
        for report in &reports {
            servers_rows(&mut export, report);
        }
        return Ok(export.into_response());
    }
    for total in &mut totals {
        total.servers.sort_by(|a, b| {
            (b.gross, b.tips)
                .cmp(&(a.gross, a.tips))
                .then_with(|| a.member_id.cmp(&b.member_id))
        });
    }
    Ok(Json(PartnerServers {
        from: query.from,
        to: query.to,
        totals,
        venues: reports,
    })
    .into_response())
}

/// One table's turns over the range (docs/analytics.md, "Table turnover").
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TableTurns {
    pub table_id: String,
    /// Its label now; `null` for a table since removed.
    pub label: Option<String>,
    pub turns: i64,
    /// `turns ÷ days` in hundredths (250 = two and a half turns a day).
    pub turns_per_day_x100: i64,
    /// The median minutes seated, by the nearest-rank method; 0 without turns.
    pub median_turn_minutes: i64,
    /// The 90th percentile of the minutes seated; 0 without turns.
    pub p90_turn_minutes: i64,
}

/// A venue's turnover table by table over business days `from` to `to`: every table, those that never turned too.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TurnoverReport {
    pub venue_id: String,
    pub timezone: String,
    pub from: String,
    pub to: String,
    pub turns: i64,
    pub median_turn_minutes: i64,
    pub p90_turn_minutes: i64,
    pub tables: Vec<TableTurns>,
}

/// The venue's table turnover, table by table, with the median and 90th-percentile turn times (the summary gives
/// the venue's turns per table per day and its mean turn time).
#[utoipa::path(get, path = "/api/v1/venues/{venue}/analytics/turnover", tag = "analytics",
    security(("bearer" = [])), params(("venue" = String, Path), SummaryQuery), responses(
        (status = 200, description = "Turnover by table (JSON, or CSV with `format=csv`)",
            content((TurnoverReport = "application/json"), (String = "text/csv"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn venue_turnover(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(venue): Path<String>,
    ApiQuery(query): ApiQuery<SummaryQuery>,
) -> Result<Response, ApiError> {
    let venue = venue_of(&state, &caller, &venue).await?;
    let csv = csv_dialect(query.format.as_deref())?;
    let (_, from, to, (start, end)) = venue_range(&venue, &query.from, &query.to, Granularity::Day)?;
    let id = venue.id.as_uuid();
    let times = state.store.turn_times(&caller.scope, id, start, end).await?;
    let tables = collect_all(|page| state.store.tables(&caller.scope, id, page)).await?;
    let days = (to - from).whole_days() + 1;
    let mut all: Vec<i64> = times.iter().map(|(_, seconds)| *seconds).collect();
    let (median, p90) = analytics::turn_time_percentiles(&mut all);
    // The tables the venue had in the range: one added after it never could have turned then (the summary's table
    // count reads them so too). A table retired since is listed by its turns below.
    let mut ids: Vec<uuid::Uuid> = tables
        .iter()
        .filter(|t| t.created_at < end)
        .map(|t| t.id)
        .collect();
    ids.extend(
        times
            .iter()
            .map(|(table, _)| *table)
            .filter(|t| !tables.iter().any(|known| known.id == *t)),
    );
    ids.dedup();
    let mut lines: Vec<TableTurns> = ids
        .into_iter()
        .map(|table| {
            let mut seconds: Vec<i64> = times
                .iter()
                .filter(|(t, _)| *t == table)
                .map(|(_, s)| *s)
                .collect();
            let turns = i64::try_from(seconds.len()).unwrap_or(i64::MAX);
            let (median, p90) = analytics::turn_time_percentiles(&mut seconds);
            TableTurns {
                table_id: table.to_string(),
                label: tables.iter().find(|t| t.id == table).map(|t| t.label.clone()),
                turns,
                turns_per_day_x100: turns * 100 / days.max(1),
                median_turn_minutes: median,
                p90_turn_minutes: p90,
            }
        })
        .collect();
    lines.sort_by(|a, b| {
        natural_order(a.label.as_deref(), b.label.as_deref()).then_with(|| a.table_id.cmp(&b.table_id))
    });
    let report = TurnoverReport {
        venue_id: venue.id.to_string(),
        timezone: venue.timezone.clone(),
        from: from.to_string(),
        to: to.to_string(),
        turns: i64::try_from(times.len()).unwrap_or(i64::MAX),
        median_turn_minutes: median,
        p90_turn_minutes: p90,
        tables: lines,
    };
    let Some(dialect) = csv else {
        return Ok(Json(report).into_response());
    };
    let mut export = CsvExport::new(
        "turnover.csv",
        &[
            "venue_id",
            "timezone",
            "from",
            "to",
            "table_id",
            "label",
            "turns",
            "turns_per_day_x100",
            "median_turn_minutes",
            "p90_turn_minutes",
        ],
        dialect,
    );
    for line in &report.tables {
        export.row([
            report.venue_id.as_str(),
            &report.timezone,
            &report.from,
            &report.to,
            &line.table_id,
            line.label.as_deref().unwrap_or(""),
            &line.turns.to_string(),
            &line.turns_per_day_x100.to_string(),
            &line.median_turn_minutes.to_string(),
            &line.p90_turn_minutes.to_string(),
        ]);
    }
    Ok(export.into_response())
}

/// Table labels in the order people number them: "Mesa 2" before "Mesa 10" (runs of digits compared as numbers,
/// the rest as text); a removed table (no label) last.
fn natural_order(a: Option<&str>, b: Option<&str>) -> std::cmp::Ordering {
    fn chunks(text: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        for (i, c) in text.char_indices().skip(1) {
            let prev = text[..i].chars().next_back().is_some_and(|p| p.is_ascii_digit());
            if prev != c.is_ascii_digit() {
                out.push((prev, &text[start..i]));
                start = i;
            }
        }
        if !text.is_empty() {
            out.push((
                text[start..].chars().next().is_some_and(|c| c.is_ascii_digit()),
                &text[start..],
            ));
        }
        out
    }
    match (a, b) {
        (None, None) => std::cmp::Ordering::Equal,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (Some(_), None) => std::cmp::Ordering::Less,
        (Some(a), Some(b)) => {
            for (x, y) in chunks(a).into_iter().zip(chunks(b)) {
                let order = match (x, y) {
                    ((true, x), (true, y)) => {
                        let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                        x.len().cmp(&y.len()).then_with(|| x.cmp(y))
                    }
                    ((_, x), (_, y)) => x.to_lowercase().cmp(&y.to_lowercase()),
                };
                if order.is_ne() {
                    return order;
                }
            }
            chunks(a).len().cmp(&chunks(b).len()).then_with(|| a.cmp(b))
        }
    }
}

#[cfg(test)]
mod natural_order_tests {
    use super::natural_order;

    #[test]
    fn table_labels_sort_as_people_number_them() {
        let mut labels = vec![
            Some("Mesa 10"),
            None,
            Some("Mesa 2"),
            Some("Barra"),
            Some("mesa 1"),
            Some("Mesa 02a"),
        ];
        labels.sort_by(|a, b| natural_order(*a, *b));
        assert_eq!(
            labels,
            vec![
                Some("Barra"),
                Some("mesa 1"),
                Some("Mesa 2"),
                Some("Mesa 02a"),
                Some("Mesa 10"),
                None
            ]
        );
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CashJournalQuery {
    /// The first business day, `YYYY-MM-DD`, in the venue's calendar.
    #[param(value_type = String, format = Date)]
    pub from: String,
    /// The last business day (inclusive): a range covers at most 400 days, `from` and `to` included.
    #[param(value_type = String, format = Date)]
    pub to: String,
    /// `json` (default), `csv` (RFC 4180) or `csv-es` (for a spreadsheet in a Spanish-speaking locale: byte-order
    /// mark, `;`, decimal comma), always the whole range.
    #[param(pattern = "^(json|csv|csv-es)$")]
    pub format: Option<String>,
    /// JSON: where `items` continue (`next_cursor` of the previous answer).
    #[param(pattern = r"^([A-Za-z0-9_-]{21}[AQgw]A{9}[A-H][A-Za-z0-9_-]{10}[AEIMQUYcgkosw048])?$")]
    pub cursor: Option<String>,
    /// JSON: how many `items` per answer (1–200).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// One cash record of the journal: which table, how much, who took it and when (local time), and its void.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CashEntry {
    pub id: String,
    pub table_id: String,
    /// The table's label now.
    pub table: String,
    pub session_id: String,
    /// The part of the bill, in minor units of the venue's currency.
    pub amount: i64,
    pub tip: i64,
    pub recorded_by: String,
    /// `null` for a member since erased.
    pub recorded_by_name: Option<String>,
    /// When it was recorded, at the venue's UTC offset then.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub recorded_at: OffsetDateTime,
    #[schema(value_type = String, format = Date)]
    pub business_day: String,
    pub voided_by: Option<String>,
    pub voided_by_name: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub voided_at: Option<OffsetDateTime>,
    /// The business day of the void: the day whose cash it takes back (`business_day` is the day the cash counts
    /// in). A record taken before the range and voided in it is listed for this day.
    #[schema(value_type = Option<String>, format = Date)]
    pub voided_business_day: Option<String>,
}

/// The cash taken at a venue's tables over business days `from` to `to`, record by record.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CashJournal {
    pub venue_id: String,
    pub timezone: String,
    pub from: String,
    pub to: String,
    pub currency: Currency,
    pub items: Vec<CashEntry>,
    pub next_cursor: Option<String>,
}

const CASH_CSV_HEADER: [&str; 17] = [
    "venue_id",
    "timezone",
    "business_day",
    "recorded_at",
    "table",
    "amount_minor",
    "amount",
    "tip_minor",
    "tip",
    "recorded_by_id",
    "recorded_by_name",
    "voided_at",
    "voided_by_id",
    "voided_by_name",
    "cash_id",
    "currency",
    // Added later, at the end: an import that reads columns by position keeps working.
    "voided_business_day",
];

/// The venue's cash journal over business days `from` to `to` (docs/payments.md, "Cash at the table"): every record
/// taken at its tables, closed bills' too, with the table, who took it, when, and its void if any — what the
/// manager counts the drawers against at the end of the night. Records are listed on the day they were taken, and
/// on the day they were voided (`voided_business_day`), so each day's cash in the summary is the journal's records
/// taken that day less those voided that day. Owners, managers and analysts.
#[utoipa::path(get, path = "/api/v1/venues/{venue}/analytics/cash", tag = "analytics", security(("bearer" = [])),
    params(("venue" = String, Path), CashJournalQuery), responses(
        (status = 200, description = "The cash journal (JSON, or CSV with `format=csv`)",
            content((CashJournal = "application/json"), (String = "text/csv"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn venue_cash_journal(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(venue): Path<String>,
    ApiQuery(query): ApiQuery<CashJournalQuery>,
) -> Result<Response, ApiError> {
    let venue = venue_of(&state, &caller, &venue).await?;
    let csv = csv_dialect(query.format.as_deref())?;
    let page = comanda_domain::PageRequest::parse_timed(query.cursor.as_deref(), query.limit)?;
    let (calendar, from, to, (start, end)) = venue_range(&venue, &query.from, &query.to, Granularity::Day)?;
    let id = venue.id.as_uuid();
    let names = staff_names(&state, &caller).await?;
    let name_of = |member: uuid::Uuid| names.iter().find(|(m, _)| *m == member).map(|(_, n)| n.clone());
    let tables = collect_all(|p| state.store.tables(&caller.scope, id, p)).await?;
    let entry = |c: &comanda_store::payments::CashPayment| CashEntry {
        id: c.id.to_string(),
        table_id: c.table_id.to_string(),
        table: tables
            .iter()
            .find(|t| t.id == c.table_id)
            .map(|t| t.label.clone())
            .unwrap_or_default(),
        session_id: c.session_id.to_string(),
        amount: c.amount.amount,
        tip: c.tip.amount,
        recorded_by: c.recorded_by.to_string(),
        recorded_by_name: name_of(c.recorded_by),
        // To the second: a spreadsheet reads "19:41:04", not nine digits of a second.
        recorded_at: whole_seconds(calendar.with_local_offset(c.created_at)),
        business_day: calendar.business_day(c.created_at).to_string(),
        voided_by: c.voided.map(|(m, _)| m.to_string()),
        voided_by_name: c.voided.and_then(|(m, _)| name_of(m)),
        voided_at: c
            .voided
            .map(|(_, at)| whole_seconds(calendar.with_local_offset(at))),
        voided_business_day: c.voided.map(|(_, at)| calendar.business_day(at).to_string()),
    };
    if let Some(dialect) = csv {
        let records = collect_all(|p| state.store.venue_cash(&caller.scope, id, start, end, p)).await?;
        let mut export = CsvExport::new("cash-journal.csv", &CASH_CSV_HEADER, dialect);
        for record in &records {
            let e = entry(record);
            export.row([
                venue.id.to_string(),
                venue.timezone.clone(),
                e.business_day,
                e.recorded_at.format(&Rfc3339).unwrap_or_default(),
                e.table,
                e.amount.to_string(),
                decimal_text(e.amount, venue.currency),
                e.tip.to_string(),
                decimal_text(e.tip, venue.currency),
                e.recorded_by,
                e.recorded_by_name.unwrap_or_default(),
                e.voided_at
                    .and_then(|at| at.format(&Rfc3339).ok())
                    .unwrap_or_default(),
                e.voided_by.unwrap_or_default(),
                e.voided_by_name.unwrap_or_default(),
                e.id,
                venue.currency.code().to_owned(),
                e.voided_business_day.unwrap_or_default(),
            ]);
        }
        return Ok(export.into_response());
    }
    let listed = state
        .store
        .venue_cash(&caller.scope, id, start, end, page)
        .await?;
    Ok(Json(CashJournal {
        venue_id: venue.id.to_string(),
        timezone: venue.timezone.clone(),
        from: from.to_string(),
        to: to.to_string(),
        currency: venue.currency,
        items: listed.items.iter().map(entry).collect(),
        next_cursor: listed.next.map(|c| c.encode()),
    })
    .into_response())
}

/// An instant without its fraction of a second.
fn whole_seconds(at: OffsetDateTime) -> OffsetDateTime {
    at.replace_nanosecond(0).unwrap_or(at)
}
