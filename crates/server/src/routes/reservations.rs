//! Reservations: the venue's booking policy and table combinations (staff), availability and booking (public), the
//! guest's own view and cancellation by the signed link in their confirmation, and the host's day list and moves.
//! Every path that books runs `comanda_domain::reservation::check_booking` inside the booking's transaction; the
//! store's claim rows refuse a double booking even when two requests race.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use comanda_domain::PageRequest;
use comanda_domain::ValidationErrors;
use comanda_domain::reservation::{self, BookingPolicy, Channel, Ending, Refusal, TimedMove};
use comanda_domain::validation::clean_text;
use comanda_security::TenantScope;
use comanda_security::booking_link::{self, PublicListing};
use comanda_store::payments::ConnectedAccount;
use comanda_store::privacy::GuestContact;
use comanda_store::reservations::{
    BookOutcome, Deposit, DepositStatus, Host, MoveOutcome, NewReservation, Reservation, ReservationStatus,
    WhenDue,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::{Caller, RequestContext};
use crate::deposits;
use crate::extract::{ApiJson, ApiQuery};
use crate::guest_notices::{self, BookingNotice};
use crate::problem::{ApiError, Problem, ProblemType};
use crate::routes::guest::idempotency_key;
use crate::routes::ordering::path_id;
use crate::routes::pages::Lang;
use crate::routes::privacy::NOTICE_VERSION;

/// The venue's zone from the tz database, or 422 naming it (a venue saved before zones were checked this strictly).
pub(crate) fn venue_zone(venue: &comanda_domain::Venue) -> Result<jiff::tz::TimeZone, ApiError> {
    reservation::zone(&venue.timezone).ok_or_else(|| {
        ApiError::rule(ValidationErrors::single(
            "timezone",
            format!(
                "the venue's time zone {:?} is not in the tz database",
                venue.timezone
            ),
        ))
    })
}

/// Saves the venue's booking policy; from then on the venue takes reservations.
#[utoipa::path(put, path = "/api/v1/venues/{venue}/booking-policy", tag = "reservations", security(("bearer" = [])),
    params(("venue" = String, Path)), request_body = BookingPolicy, responses(
        (status = 200, body = BookingPolicy),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn put_policy(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    Path(venue): Path<String>,
    ApiJson(policy): ApiJson<BookingPolicy>,
) -> Result<Json<BookingPolicy>, ApiError> {
    let venue = path_id(&venue)?;
    // The policy's rules (ascending turn rules, a pacing cap within the total, quarter-hour seatings) go beyond
    // what the document's schema states: 422 naming each field.
    let policy = policy.validate().map_err(ApiError::rule)?;
    let found = state
        .store
        .venue(&caller.scope, comanda_domain::VenueId::from_uuid(venue))
        .await?;
    venue_zone(&found)?;
    if let Some((i, field)) = policy.seats_outside_business_day(found.day_start_hour) {
        let hour = found.day_start_hour;
        let why = if field == "first_seating" {
            format!(
                "a seating before the venue's business day starts ({hour:02}:00) falls on the previous day's list: \
                 start the service later or move the day start"
            )
        } else {
            format!(
                "a seating after midnight must be before the venue's business day starts ({hour:02}:00), or its \
                 bookings fall on the next day's list: end the service earlier or move the day start"
            )
        };
        return Err(ApiError::rule(ValidationErrors::single(
            format!("services[{i}].{field}"),
            why,
        )));
    }
    // A deposit is taken in the venue's currency, by card through the partner's connected account: refused rather
    // than stored and then unenforceable at the first booking.
    if let Some(deposit) = policy.deposit_per_cover {
        if deposit.currency != found.currency {
            return Err(ApiError::rule(ValidationErrors::single(
                "deposit_per_cover",
                format!("must be in the venue's currency, {}", found.currency.code()),
            )));
        }
        if !deposit.currency.is_payable(deposit.amount) {
            return Err(ApiError::rule(ValidationErrors::single(
                "deposit_per_cover",
                deposit.currency.unpayable_reason(),
            )));
        }
        deposit_account(&state, &caller.scope).await.map_err(|_| {
            ApiError::rule(ValidationErrors::single(
                "deposit_per_cover",
                "deposits are paid by card: finish the Stripe onboarding (payouts) first",
            ))
        })?;
    }
    state
        .store
        .put_booking_policy(
            &caller.scope,
            venue,
            &policy,
            &caller.audit(&ctx, "booking_policy.saved"),
            state.clock.now(),
        )
        .await?;
    state.availability.changed(venue);
    Ok(Json(policy))
}

/// The payment service and the partner's connected account when it can take card payments; 422
/// `payments-unavailable` otherwise.
pub(crate) async fn deposit_account(
    state: &AppState,
    scope: &TenantScope,
) -> Result<(std::sync::Arc<crate::payments::PaymentService>, ConnectedAccount), ApiError> {
    let unavailable = || {
        ApiError::from(
            Problem::new(ProblemType::PaymentsUnavailable)
                .detail("this restaurant cannot take its booking deposit by card right now; please call it"),
        )
    };
    let service = state.payments.clone().ok_or_else(unavailable)?;
    let account = state
        .store
        .connected_account(scope)
        .await?
        .filter(ConnectedAccount::accepts_payments)
        .ok_or_else(unavailable)?;
    Ok((service, account))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BookingSetup {
    /// Whether the venue takes reservations (it does once a policy is saved).
    pub taking_reservations: bool,
    pub policy: Option<BookingPolicy>,
    /// The tables the venue declared may be joined, in the order they were declared.
    pub combinations: Vec<CombinationView>,
}

/// The venue's booking policy, or none while it takes no reservations.
#[utoipa::path(get, path = "/api/v1/venues/{venue}/booking-policy", tag = "reservations", security(("bearer" = [])),
    params(("venue" = String, Path)), responses((status = 200, body = BookingSetup),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_policy(
    _no_query: crate::extract::NoQuery,
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(venue): Path<String>,
) -> Result<Json<BookingSetup>, ApiError> {
    let venue = path_id(&venue)?;
    state
        .store
        .venue(&caller.scope, comanda_domain::VenueId::from_uuid(venue))
        .await?;
    let policy = state.store.booking_policy(&caller.scope, venue).await?;
    let combinations = state
        .store
        .table_combinations(&caller.scope, venue)
        .await?
        .into_iter()
        .map(|(id, tables)| CombinationView::new(id, &tables))
        .collect();
    Ok(Json(BookingSetup {
        taking_reservations: policy.is_some(),
        policy,
        combinations,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TableBooking {
    /// The smallest party the table is given to, at most `max_party`.
    #[schema(minimum = 1, maximum = 100)]
    pub min_party: u16,
    /// The largest party the table is given to: its seats (a six-top capped at five). Left out, the seats stay.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100)]
    pub max_party: Option<u32>,
    /// Offered by the public widget; `false` keeps it for the host's bookings and walk-ins.
    pub online: bool,
}

/// A table's reservation settings: the smallest and largest party it takes and whether guests can book it online
/// (the host's bookings by phone use every table).
#[utoipa::path(put, path = "/api/v1/tables/{table}/booking", tag = "reservations", security(("bearer" = [])),
    params(("table" = String, Path)), request_body = TableBooking, responses(
        (status = 200, body = crate::routes::ordering::TableView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn put_table_booking(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    Path(table): Path<String>,
    ApiJson(request): ApiJson<TableBooking>,
) -> Result<Json<crate::routes::ordering::TableView>, ApiError> {
    let table = path_id(&table)?;
    let current = state.store.table(&caller.scope, table).await?;
    if request.max_party.is_some_and(|max| !(1..=100).contains(&max)) {
        return Err(ValidationErrors::single("max_party", "must be between 1 and 100").into());
    }
    let seats = request.max_party.unwrap_or(current.seats);
    if request.min_party == 0 || u32::from(request.min_party) > seats {
        return Err(ApiError::rule(ValidationErrors::single(
            "min_party",
            format!("must be between 1 and the table's largest party, {seats}"),
        )));
    }
    let audit = caller.audit(&ctx, "table.booking_set").detail(format!(
        "min_party={} max_party={seats} online={}",
        request.min_party, request.online
    ));
    state
        .store
        .set_table_booking(
            &caller.scope,
            table,
            (request.min_party, seats),
            request.online,
            &audit,
            state.clock.now(),
        )
        .await?;
    let updated = state.store.table(&caller.scope, table).await?;
    state.availability.changed(updated.venue_id);
    Ok(Json(crate::routes::ordering::table_view(
        &state,
        caller.scope.partner(),
        updated,
    )))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CombinationRequest {
    /// Two to six distinct tables of the venue that may be joined for one party.
    #[schema(value_type = Vec<uuid::Uuid>, min_items = 2, max_items = 6)]
    pub tables: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CombinationView {
    #[schema(value_type = uuid::Uuid)]
    pub id: String,
    #[schema(value_type = Vec<uuid::Uuid>)]
    pub tables: Vec<String>,
}

impl CombinationView {
    fn new(id: Uuid, tables: &[Uuid]) -> Self {
        Self {
            id: id.to_string(),
            tables: tables.iter().map(Uuid::to_string).collect(),
        }
    }
}

/// Declares tables that may be joined for a large party (the booking engine offers the combination when no single
/// table fits).
#[utoipa::path(post, path = "/api/v1/venues/{venue}/table-combinations", tag = "reservations",
    security(("bearer" = [])), params(("venue" = String, Path)), request_body = CombinationRequest, responses(
        (status = 201, body = CombinationView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The venue joins these tables already", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn add_combination(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    Path(venue): Path<String>,
    ApiJson(request): ApiJson<CombinationRequest>,
) -> Result<(StatusCode, Json<CombinationView>), ApiError> {
    let venue = path_id(&venue)?;
    let mut tables: Vec<Uuid> = Vec::new();
    for raw in &request.tables {
        match raw.parse::<Uuid>() {
            Ok(id) if !tables.contains(&id) => tables.push(id),
            Ok(_) => {
                return Err(ApiError::rule(ValidationErrors::single(
                    "tables",
                    "must list each table once",
                )));
            }
            Err(_) => return Err(ValidationErrors::single("tables", "must list table ids").into()),
        }
    }
    if !(2..=6).contains(&tables.len()) {
        return Err(ValidationErrors::single("tables", "must list between 2 and 6 tables").into());
    }
    state
        .store
        .venue(&caller.scope, comanda_domain::VenueId::from_uuid(venue))
        .await?;
    // The venue exists: a table it does not have is the request's mistake, named, not a missing venue.
    let id = state
        .store
        .add_table_combination(
            &caller.scope,
            venue,
            &tables,
            &caller
                .audit(&ctx, "table_combination.created")
                .detail(format!("venue={venue}")),
            state.clock.now(),
        )
        .await
        .map_err(|error| match error {
            comanda_store::StoreError::NotFound => ApiError::rule(ValidationErrors::single(
                "tables",
                "every table must be one of the venue's",
            )),
            other => other.into(),
        })?;
    state.availability.changed(venue);
    Ok((StatusCode::CREATED, Json(CombinationView::new(id, &tables))))
}

/// Withdraws a declared combination: bookings are no longer offered it, and bookings that already hold its tables
/// keep them. 404 for a combination the venue does not have.
#[utoipa::path(delete, path = "/api/v1/venues/{venue}/table-combinations/{combination}", tag = "reservations",
    security(("bearer" = [])), params(("venue" = String, Path), ("combination" = String, Path)), responses(
        (status = 204, description = "withdrawn"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn remove_combination(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    Path((venue, combination)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (venue, combination) = (path_id(&venue)?, path_id(&combination)?);
    let audit = caller
        .audit(&ctx, "table_combination.removed")
        .detail(format!("venue={venue}"));
    state
        .store
        .remove_table_combination(&caller.scope, venue, combination, &audit, state.clock.now())
        .await?;
    state.availability.changed(venue);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AvailabilityQuery {
    /// The local date in the venue's time zone.
    #[param(value_type = String, format = Date)]
    pub date: String,
    #[param(minimum = 1, maximum = 100)]
    pub party_size: u16,
    /// Staff only: a booking of this venue being moved. Its own tables count as free, so its current time is
    /// offered with the others (a party growing from 4 to 6 may keep its time at a bigger table).
    #[param(value_type = Option<String>, format = Uuid)]
    pub moving: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SlotView {
    /// The start as a UTC instant (RFC 3339).
    pub start: String,
    /// The same instant at the venue's offset on that date (RFC 3339): on a fall-back night the repeated local
    /// times appear twice, each with its own offset.
    pub local: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Availability {
    pub slots: Vec<SlotView>,
}

pub(crate) fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// `at` at the venue's offset on that instant (RFC 3339).
pub(crate) fn local_rfc3339(zone: &jiff::tz::TimeZone, at: OffsetDateTime) -> String {
    let offset = jiff::Timestamp::from_second(at.unix_timestamp())
        .ok()
        .and_then(|ts| time::UtcOffset::from_whole_seconds(zone.to_offset(ts).seconds()).ok())
        .unwrap_or(time::UtcOffset::UTC);
    rfc3339(at.checked_to_offset(offset).unwrap_or(at))
}

/// The venue's zone for showing a reservation's local time (UTC if the venue's zone is unknown to the tz database).
pub(crate) async fn zone_of(
    state: &AppState,
    scope: &TenantScope,
    venue: Uuid,
) -> Result<jiff::tz::TimeZone, ApiError> {
    let found = state
        .store
        .venue(scope, comanda_domain::VenueId::from_uuid(venue))
        .await?;
    Ok(reservation::zone(&found.timezone).unwrap_or(jiff::tz::TimeZone::UTC))
}

/// The tenant of a venue listed for public booking; 404 for a venue that takes no reservations (or does not exist).
pub(crate) async fn listed(state: &AppState, venue: &str) -> Result<(TenantScope, Uuid), ApiError> {
    let venue = path_id(venue)?;
    let partner = state
        .store
        .booking_listing(venue)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok((
        TenantScope::from_proof(&PublicListing::from_directory(partner, venue)),
        venue,
    ))
}

pub(crate) fn parse_date(raw: &str) -> Result<time::Date, ApiError> {
    comanda_domain::validation::calendar_date(raw).map_err(|refused| date_refused("date", refused))
}

/// A date or instant not taken: 400 when it is not one, 422 when it is outside the years comanda keeps.
pub(crate) fn date_refused(field: &str, refused: comanda_domain::validation::DateRefusal) -> ApiError {
    use comanda_domain::validation::DateRefusal;
    match refused {
        DateRefusal::Malformed => ValidationErrors::single(field, "must be a date YYYY-MM-DD").into(),
        DateRefusal::OutOfRange => out_of_years(field),
    }
}

/// 422 for a well-formed date or instant outside the years comanda keeps (RFC 3339 allows 0000 to 9999).
pub(crate) fn out_of_years(field: &str) -> ApiError {
    ApiError::rule(ValidationErrors::single(
        field,
        "must fall between the years 1900 and 9998",
    ))
}

/// The starts a party can book on a local date, ordered and unique. Public: what a guest can book online (online
/// tables, the online pacing cap, the minimum notice). With a host's bearer token: what the host can book by phone
/// or for a walk-in at the caller's venue (every table, the total pacing cap, no notice), the times the host page
/// offers. A party no table or combination the channel uses could ever hold is refused (422 `party_size`), as
/// one above the venue's largest party is, rather than shown a day that reads as full.
#[utoipa::path(get, path = "/api/v1/venues/{venue}/availability", tag = "reservations",
    params(("venue" = String, Path), AvailabilityQuery), responses(
        (status = 200, body = Availability),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security((), ("bearer" = [])))]
pub async fn availability(
    State(state): State<AppState>,
    Path(venue): Path<String>,
    caller: Option<Extension<Caller>>,
    ApiQuery(query): ApiQuery<AvailabilityQuery>,
) -> Result<Json<Availability>, ApiError> {
    let (scope, venue, channel) = match &caller {
        Some(Extension(caller)) => (caller.scope.clone(), path_id(&venue)?, Channel::Staff),
        None => {
            let (scope, venue) = listed(&state, &venue).await?;
            (scope, venue, Channel::Online)
        }
    };
    let date = parse_date(&query.date)?;
    let moving =
        match (&query.moving, channel) {
            (None, _) => None,
            (Some(id), Channel::Staff) => Some(path_id(id).map_err(|_| {
                ApiError::from(ValidationErrors::single("moving", "must be a reservation id"))
            })?),
            (Some(_), Channel::Online) => {
                return Err(ValidationErrors::single("moving", "is for the venue's staff").into());
            }
        };
    let now = state.clock.now();
    let answer = |slots: Vec<(String, String)>| {
        Json(Availability {
            slots: slots
                .into_iter()
                .map(|(start, local)| SlotView { start, local })
                .collect(),
        })
    };
    // Only valid questions are kept, so a kept answer needs no policy read to be given again. The cache holds the
    // guests' answers; a host's (a handful of calls an evening) is computed each time.
    let ticket = match channel {
        Channel::Online => match state.availability.get(venue, date, query.party_size, now) {
            Ok(slots) => return Ok(answer(slots)),
            Err(ticket) => Some(ticket),
        },
        Channel::Staff => None,
    };
    // Saturating: a date at the calendar's edge is refused below (horizon), never an overflow here.
    let midnight = date.midnight().assume_utc();
    let (from, until) = (
        midnight.saturating_sub(time::Duration::days(2)),
        midnight.saturating_add(time::Duration::days(3)),
    );
    let (found, policy, floor, holdings) = state
        .store
        .booking_view(&scope, venue, from, until, moving)
        .await?
        .ok_or_else(|| not_taking(channel))?;
    let zone = venue_zone(&found)?;
    // Outside the document's 1 to 100 is bad input (400); above the venue's own largest party, a rule (422).
    if !(1..=MAX_PARTY).contains(&query.party_size) {
        return Err(ValidationErrors::single("party_size", PARTY_RANGE).into());
    }
    let mut errors = ValidationErrors::default();
    if query.party_size > policy.max_party_size {
        errors.push(
            "party_size",
            Refusal::PartySize {
                largest: policy.max_party_size,
            }
            .to_string(),
        );
    } else if !reservation::could_ever_seat(&policy, &floor, query.party_size, channel) {
        // No table or combination of this channel's ever holds the party: told so, not shown an empty day (which
        // reads as "full", and led a guest to a waitlist that refuses them).
        errors.push("party_size", reservation::Refusal::NeverSeated.to_string());
    }
    let today = reservation::local_date(&zone, now).unwrap_or(now.date());
    // Yesterday's date still has its seatings past midnight (a late service belongs to the evening it started).
    if date < today.previous_day().unwrap_or(today) {
        errors.push("date", "is in the past");
    } else if date > today + time::Duration::days(i64::from(policy.horizon_days)) {
        errors.push(
            "date",
            format!("bookings open {} days ahead", policy.horizon_days),
        );
    }
    if !errors.0.is_empty() {
        return Err(ApiError::rule(errors));
    }
    let slots = reservation::availability(
        &policy,
        &zone,
        found.day_start_hour,
        &floor,
        &holdings,
        date,
        query.party_size,
        channel,
        now,
    );
    let slots: Vec<(String, String)> = slots
        .into_iter()
        .map(|slot| (rfc3339(slot.start), rfc3339(slot.local)))
        .collect();
    if let Some(ticket) = ticket {
        state.availability.keep(ticket, &slots);
    }
    Ok(answer(slots))
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GuestDetails {
    #[schema(
        pattern = r"^[^\x00-\x09\x0B-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069]*[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200D\u2028-\u202F\u205F-\u2069\u3000\uFEFF][^\x00-\x09\x0B-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069]*$",
        max_length = 200
    )]
    pub name: String,
    /// E.164, e.g. `+573001234567`: how the venue reaches the guest about the booking. Required (422 without it)
    /// except for a walk-in the host seats now, who is not called back.
    #[serde(default)]
    #[schema(pattern = r"^\+[ ().-]*[1-9]([ ().-]*[0-9]){6,14}[ ().-]*$")]
    pub phone: Option<String>,
    /// Where the confirmation and any notice are mailed. Required online and on the waitlist (422 without it); a
    /// host booking a caller or a walk-in by phone may leave it out, and that guest is then not mailed.
    #[serde(default)]
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
}

impl GuestDetails {
    /// The normalised email, errors pushed under `guest.email`; `""` when none was given.
    pub(crate) fn email(&self, errors: &mut ValidationErrors) -> String {
        match &self.email {
            None => String::new(),
            Some(given) => {
                comanda_domain::email::normalize_email("guest.email", given).unwrap_or_else(|invalid| {
                    errors.0.extend(invalid.0);
                    String::new()
                })
            }
        }
    }

    /// The phone given, an error pushed under `guest.phone` when it is not E.164.
    pub(crate) fn phone(&self, errors: &mut ValidationErrors) -> Option<String> {
        match &self.phone {
            Some(written) if e164_phone(written).is_some() => e164_phone(written),
            Some(_) => {
                errors.push("guest.phone", "must be an E.164 number such as +573001234567");
                None
            }
            None => None,
        }
    }

    /// The 422 of a guest the venue must be able to call (a booking, a place on the waitlist) who gave no phone:
    /// a rule across fields (a walk-in seated now may leave it out), not a shape the document can say.
    pub(crate) fn require_phone(&self) -> Result<(), ApiError> {
        given(
            self.phone.is_some(),
            "guest.phone",
            "is needed to reach the guest about the booking (only a walk-in seated now may leave it out)",
        )
    }

    /// The 422 of a guest who must be mailed (booking online, waiting for an offer) but gave no email.
    pub(crate) fn require_email(&self) -> Result<(), ApiError> {
        given(
            self.email.is_some(),
            "guest.email",
            "is needed to send the confirmation and the link to manage the booking",
        )
    }
}

/// A contact field a rule asks for (422 naming it when it was left out).
fn given(present: bool, field: &str, why: &str) -> Result<(), ApiError> {
    if present {
        Ok(())
    } else {
        Err(ApiError::rule(ValidationErrors::single(field, why)))
    }
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingRequest {
    /// One of the starts `availability` offers (RFC 3339). Left out for a walk-in, who starts when booked; a booking
    /// without it, or a walk-in with it, is refused (422 `start`).
    #[serde(default)]
    #[schema(format = DateTime)]
    pub start: Option<String>,
    #[schema(minimum = 1, maximum = 100)]
    pub party_size: u16,
    pub guest: GuestDetails,
    /// Consent to the privacy notice for the guest's contact data (Colombia's Law 1581; PRIV-2). Without it, 422.
    #[serde(default)]
    pub consent: bool,
    #[serde(default)]
    #[schema(
        pattern = r"^[^\x00-\x09\x0B-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069]*$",
        max_length = 500
    )]
    pub note: String,
    /// Staff only: a party that walked in, not a booking (channel `walk_in`). It starts now, to the second, not at a
    /// slot of the grid, on a table free for its whole turn (best fit, never one a booking or a party at a table
    /// holds); notice, horizon and pacing, which space out the arrivals the venue books, do not apply to a party
    /// standing at a free table. The host seats it with the next move (`POST /api/v1/reservations/{id}/transitions`
    /// to `seated`, which opens its table's bill); it holds its table like a booking but is not counted among the
    /// reservations' bookings, covers or no-shows. A guest's booking with it is refused (400).
    #[serde(default)]
    pub walk_in: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BookingConfirmation {
    pub reservation_id: String,
    pub status: String,
    pub start: String,
    /// The start at the venue's offset (RFC 3339).
    pub local: String,
    pub party_size: u16,
    /// The guest's key to view or cancel this reservation (`?token=`); shown once, keep it.
    pub manage_token: String,
    /// The deposit the venue asks, when it does: the booking awaits it (`awaiting_deposit`) until `hold_expires_at`.
    pub deposit: Option<DepositView>,
    /// With a deposit awaiting payment: the PaymentIntent's client secret and the key for Stripe Elements.
    pub client_secret: Option<String>,
    pub publishable_key: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DepositView {
    /// Minor units of `currency`.
    pub amount: i64,
    pub currency: String,
    /// `awaiting`, `paid`, `refund_due`, `keep_due`, `refunded`, `kept` or `released`.
    pub status: String,
    /// A guest's cancellation until this instant refunds the deposit; later, or not coming, the venue keeps it.
    pub refundable_until: String,
    /// Unpaid by then, the booking is released.
    pub hold_expires_at: String,
    /// A `refunded` deposit whose refund did not reach the guest's card: Stripe's `failure_reason`
    /// (`expired_or_canceled_card`, `lost_or_stolen_card` …); the venue gives it back another way.
    pub refund_failure: Option<String>,
    /// In the answer to accepting an offer that asks a deposit: the PaymentIntent's client secret and the key for
    /// Stripe Elements. The guest's view leaves them out (the deposit page reads them once from
    /// `GET /api/v1/reservations/{reservation}/deposit/payment`).
    pub client_secret: Option<String>,
    pub publishable_key: Option<String>,
}

impl From<&Deposit> for DepositView {
    fn from(d: &Deposit) -> Self {
        Self {
            amount: d.amount.amount,
            currency: d.amount.currency.code().to_owned(),
            status: d.status.as_str().to_owned(),
            refundable_until: rfc3339(d.refundable_until),
            hold_expires_at: rfc3339(d.hold_expires_at),
            refund_failure: d.refund_failure.clone(),
            client_secret: None,
            publishable_key: None,
        }
    }
}

/// The largest party the API document takes (`party_size` maximum); a venue's own limit is its policy's.
pub(crate) const MAX_PARTY: u16 = 100;
pub(crate) const PARTY_RANGE: &str = "must be between 1 and 100";

pub(crate) use comanda_domain::validation::e164_phone;

/// What a refused booking answers: 409 `slot-taken` when the time is gone, 422 naming the rule otherwise.
fn refusal(refused: Refusal) -> ApiError {
    let field = match refused {
        Refusal::SlotTaken => {
            return Problem::new(ProblemType::SlotTaken)
                .detail("no table is free for this party at this time (another booking holds it, or it was just taken); choose another")
                .into();
        }
        Refusal::Paced => {
            return Problem::new(ProblemType::SlotTaken)
                .detail("the venue's pacing lets no more guests arrive in this quarter hour (a table may be free, the kitchen's limit is reached); choose another time")
                .into();
        }
        Refusal::PartySize { .. } | Refusal::NeverSeated => "party_size",
        Refusal::NotASlot | Refusal::TooSoon | Refusal::BeyondHorizon | Refusal::Past => "start",
    };
    ApiError::rule(ValidationErrors::single(field, refused.to_string()))
}

/// Books a table. Public for guests (online tables, the online pacing cap); with a host's bearer token it books by
/// phone for the host's venue (every table, the total pacing cap). Needs consent to the privacy notice; a retry with
/// the same `Idempotency-Key` answers the first booking; 409 `slot-taken` when another booking took the time first.
#[utoipa::path(post, path = "/api/v1/venues/{venue}/reservations", tag = "reservations",
    params(("venue" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, pattern = r"^[!-~]{1,200}$",
            description = "A retry with the same key answers the first booking; the same key with another body is 409")),
    request_body = BookingRequest, responses(
        (status = 201, body = BookingConfirmation),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
        (status = 502, body = Problem, content_type = "application/problem+json")),
    security((), ("bearer" = [])))]
pub async fn book(
    State(state): State<AppState>,
    Path(venue): Path<String>,
    headers: HeaderMap,
    ctx: RequestContext,
    caller: Option<Extension<Caller>>,
    ApiJson(request): ApiJson<BookingRequest>,
) -> Result<(StatusCode, HeaderMap, Json<BookingConfirmation>), ApiError> {
    state.identity.booking_attempt(&ctx)?;
    let key = idempotency_key(&headers)?;
    // A host's token books by phone for the caller's own venue (every table, no online cap); a guest books
    // through the venue's public listing.
    let (scope, venue, channel) = match &caller {
        Some(Extension(caller)) => (caller.scope.clone(), path_id(&venue)?, Channel::Staff),
        None => {
            let (scope, venue) = listed(&state, &venue).await?;
            (scope, venue, Channel::Online)
        }
    };
    let mut errors = ValidationErrors::default();
    let now = state.clock.now();
    let start = match request.start.as_deref().map(comanda_domain::validation::instant) {
        Some(Ok(start)) => start,
        None => now,
        Some(Err(comanda_domain::validation::DateRefusal::OutOfRange)) => {
            return Err(out_of_years("start"));
        }
        Some(Err(comanda_domain::validation::DateRefusal::Malformed)) => {
            errors.push("start", "must be an RFC 3339 instant");
            OffsetDateTime::UNIX_EPOCH
        }
    };
    let name = clean_text(&mut errors, "guest.name", &request.guest.name, 1, 200);
    let phone = request.guest.phone(&mut errors);
    let email = request.guest.email(&mut errors);
    let note = clean_text(&mut errors, "note", &request.note, 0, 500);
    if !(1..=MAX_PARTY).contains(&request.party_size) {
        errors.push("party_size", PARTY_RANGE);
    }
    if request.walk_in && channel == Channel::Online {
        errors.push("walk_in", "only the venue's staff seat a walk-in");
    }
    errors.into_result(())?;
    // Across fields, so a rule (422): a booking names its time, a walk-in's is now.
    given(
        request.walk_in || request.start.is_some(),
        "start",
        "is needed for a booking (only a walk-in, seated now, leaves it out)",
    )?;
    given(
        !(request.walk_in && request.start.is_some()),
        "start",
        "a walk-in starts now: leave start out",
    )?;
    if !request.walk_in {
        request.guest.require_phone()?;
    }
    if channel == Channel::Online {
        request.guest.require_email()?;
    }
    if !request.consent {
        return Err(ApiError::rule(ValidationErrors::single(
            "consent",
            "a reservation keeps the guest's contact data only with consent to the privacy notice",
        )));
    }
    let id = Uuid::now_v7();
    let body = serde_json::to_vec(&request).unwrap_or_default();
    let partner = scope.partner();
    let found = state
        .store
        .venue(&scope, comanda_domain::VenueId::from_uuid(venue))
        .await?;
    let zone = reservation::zone(&found.timezone).unwrap_or(jiff::tz::TimeZone::UTC);
    // A guest booking online pays the venue's deposit; a host booking by phone takes the guest's word.
    let policy = state.store.booking_policy(&scope, venue).await?;
    let asked = match (channel, policy.as_ref()) {
        (Channel::Online, Some(policy)) => reservation::deposit_for(policy, request.party_size)
            .map(|amount| (amount, reservation::refundable_until(policy, start))),
        _ => None,
    };
    let payments = match asked {
        Some(_) => Some(deposit_account(&state, &scope).await?),
        None => None,
    };
    let deposit = asked
        .zip(payments.as_ref())
        .map(
            |((amount, refundable_until), (service, _))| comanda_store::reservations::NewDeposit {
                amount,
                hold_expires_at: now + service.hold,
                refundable_until,
            },
        );
    let confirmation = confirmation_mail(
        &state,
        Lang::negotiate(&headers),
        partner,
        &found,
        id,
        &email,
        &local_rfc3339(&zone, start),
        request.party_size,
        deposit.as_ref().map(|d| {
            (
                d.amount,
                crate::guest_notices::CutOff::at(&zone, d.refundable_until, now),
            )
        }),
    );
    let lookup = state.identity.contact_lookup(
        partner,
        Some(email.as_str()).filter(|e| !e.is_empty()),
        phone.as_deref(),
    );
    // A guest booked by phone without an email is not mailed.
    let confirmation = Some(confirmation).filter(|_| !email.is_empty());
    let booking = NewReservation {
        id,
        venue_id: venue,
        guest: GuestContact {
            id: Uuid::now_v7(),
            venue_id: venue,
            email,
            name,
            phone,
            notice_version: NOTICE_VERSION.to_owned(),
            consented_at: now,
            erased_at: None,
            lookup,
        },
        party_size: request.party_size,
        start,
        channel: match (channel, request.walk_in) {
            (Channel::Online, _) => "online".into(),
            (Channel::Staff, false) => "staff".into(),
            (Channel::Staff, true) => "walk_in".into(),
        },
        note,
        idempotency_key: key,
        request_hash: crate::routes::guest::request_digest(&state, &body),
        confirmation,
        deposit,
        offer: None,
    };
    let decide = |ctx: &comanda_store::reservations::BookingContext<'_>| {
        if request.walk_in {
            return reservation::check_walk_in(ctx.policy, ctx.floor, ctx.holdings, request.party_size, now);
        }
        let zone = reservation::zone(&ctx.venue.timezone).ok_or(Refusal::NotASlot)?;
        reservation::check_booking(
            ctx.policy,
            &zone,
            ctx.venue.day_start_hour,
            ctx.floor,
            ctx.holdings,
            start,
            request.party_size,
            channel,
            now,
        )
    };
    let audit = AuditedGuest::or_staff(
        caller.as_ref(),
        &ctx,
        "reservation.booked",
        venue,
        request.party_size,
    );
    let outcome = state.store.book(&scope, &booking, &decide, &audit, now).await?;
    if matches!(outcome, BookOutcome::Created(_)) {
        state.availability.changed(venue);
    }
    let replayed = crate::idempotency::replayed_headers(matches!(outcome, BookOutcome::Replayed(_)));
    let confirmed = |reservation: Reservation, deposit: Option<(&Deposit, String, String)>| {
        (
            StatusCode::CREATED,
            replayed.clone(),
            Json(BookingConfirmation {
                reservation_id: reservation.id.to_string(),
                status: reservation.status.as_str().to_owned(),
                start: rfc3339(reservation.start),
                local: local_rfc3339(&zone, reservation.start),
                party_size: reservation.party_size,
                manage_token: booking_link::issue(&state.booking_key, partner, reservation.id),
                deposit: deposit.as_ref().map(|(d, _, _)| DepositView::from(*d)),
                client_secret: deposit.as_ref().map(|(_, secret, _)| secret.clone()),
                publishable_key: deposit.map(|(_, _, key)| key),
            }),
        )
    };
    match outcome {
        BookOutcome::Created(reservation) | BookOutcome::Replayed(reservation) => {
            let Some(payments) = payments else {
                return Ok(confirmed(reservation, None));
            };
            match open_deposit(&state, &scope, &payments, &found.name, &reservation).await? {
                Some((stored, secret)) => Ok(confirmed(
                    reservation,
                    Some((&stored, secret, payments.0.publishable_key.clone())),
                )),
                None => Ok(confirmed(reservation, None)),
            }
        }
        BookOutcome::KeyReused => Err(Problem::new(ProblemType::Conflict)
            .detail("this Idempotency-Key was used for another booking")
            .into()),
        BookOutcome::Refused(Refusal::SlotTaken) if request.walk_in => Err(Problem::new(ProblemType::SlotTaken)
            .detail("no table that seats this party is free for its whole turn from now (a party is at it, or a booking holds it within the turn): offer the waitlist or a later booking")
            .into()),
        BookOutcome::Refused(refused) => Err(refusal(refused)),
        BookOutcome::NotTaking => Err(not_taking(channel)),
    }
}

/// A venue without a booking policy takes no reservations: the public is told no such listing exists (404), its
/// staff what to do about it (422), not that their own venue is not found.
fn not_taking(channel: Channel) -> ApiError {
    match channel {
        Channel::Online => ApiError::NotFound,
        Channel::Staff => Problem::new(ProblemType::BusinessRule)
            .detail("this venue takes no reservations yet: save its booking policy (booking settings) first")
            .into(),
    }
}

/// The PaymentIntent of a reservation's awaited deposit, made (or found again, on a retry) under a key derived from
/// the booking: the deposit and the client secret for Elements, or `None` when no deposit awaits. If Stripe cannot
/// make it the booking is released at once (502) rather than holding its tables for a payment that cannot happen.
pub(crate) async fn open_deposit(
    state: &AppState,
    scope: &TenantScope,
    (service, account): &(std::sync::Arc<crate::payments::PaymentService>, ConnectedAccount),
    venue_name: &str,
    reservation: &Reservation,
) -> Result<Option<(Deposit, String)>, ApiError> {
    let stored = state.store.deposit(scope, reservation.id).await?;
    let Some(stored) = stored.filter(|d| d.status == DepositStatus::Awaiting) else {
        return Ok(None);
    };
    let venue = (reservation.venue_id, venue_name);
    match deposits::start(service, scope, account, venue, reservation.id, stored.amount).await {
        Ok(intent) => {
            state
                .store
                .attach_deposit_intent(scope, reservation.id, &intent.id)
                .await?;
            Ok(Some((stored, intent.client_secret.unwrap_or_default())))
        }
        Err(error) => {
            tracing::warn!(reservation = %reservation.id, %error, "deposit PaymentIntent not created");
            let now = state.clock.now();
            deposits::settle_now(&state.store, service, scope, reservation.id, now).await;
            state.availability.changed(reservation.venue_id);
            Err(Problem::new(ProblemType::PaymentProvider)
                .detail("the card processor did not answer; the booking was not kept, please try again")
                .into())
        }
    }
}

/// The guest's confirmation (es/en by the booking request's `Accept-Language`), with the link that views or
/// cancels the booking and, when a deposit is asked, its refund rule. `local` is the start at the venue's offset.
#[allow(clippy::too_many_arguments)]
fn confirmation_mail(
    state: &AppState,
    lang: Lang,
    partner: comanda_domain::PartnerId,
    venue: &comanda_domain::Venue,
    reservation: Uuid,
    recipient: &str,
    local: &str,
    party: u16,
    deposit: Option<(comanda_domain::Money, crate::guest_notices::CutOff)>,
) -> comanda_store::identity::OutboxMessage {
    let link = crate::guest_notices::manage_link(state, partner, venue.id.as_uuid(), reservation);
    let (date, time) = crate::guest_notices::date_and_time(local, lang == Lang::Es);
    let place = crate::guest_notices::venue_place(venue);
    let party = crate::guest_notices::party_words(party, lang == Lang::Es);
    let (subject, body) = match (lang, deposit) {
        (Lang::Es, Some((deposit, cut_off))) => (
            format!("Reserva en {} pendiente del depósito", venue.name),
            format!(
                "Tu reserva en {place} para {party} el {date} a las {time} se confirma al pagar el depósito de {}. Garantiza \
                 tu mesa: cuando llegas, te lo devolvemos a tu tarjeta.{}\n\n\
                 Para verla o cancelarla: {link}\n",
                comanda_domain::money::spoken_text(deposit, true),
                cut_off.rule(true),
            ),
        ),
        (Lang::En, Some((deposit, cut_off))) => (
            format!("Booking at {} awaiting its deposit", venue.name),
            format!(
                "Your booking at {place} for {party} on {date} at {time} is confirmed once its deposit of {} is paid. It \
                 guarantees your table: when you come, it is refunded to your card.{}\n\n\
                 To see or cancel it: {link}\n",
                comanda_domain::money::spoken_text(deposit, false),
                cut_off.rule(false),
            ),
        ),
        (Lang::Es, None) => (
            format!("Reserva confirmada en {}", venue.name),
            format!(
                "Tu reserva en {place} para {party} el {date} a las {time} está confirmada.\n\n\
                 Para verla o cancelarla: {link}\n"
            ),
        ),
        (Lang::En, None) => (
            format!("Booking confirmed at {}", venue.name),
            format!(
                "Your booking at {place} for {party} on {date} at {time} is confirmed.\n\n\
                 To see or cancel it: {link}\n"
            ),
        ),
    };
    comanda_store::identity::OutboxMessage {
        id: Uuid::now_v7(),
        partner: Some(partner),
        recipient: recipient.to_owned(),
        subject,
        body,
        created_at: state.clock.now(),
    }
}

/// A guest's audit entries: no actor, no client address (a guest is not a member; PRIV-1 keeps addresses with
/// members only), the request id and the venue.
pub(crate) struct AuditedGuest;

impl AuditedGuest {
    pub(crate) fn entry(
        ctx: &RequestContext,
        action: &str,
        venue: Uuid,
        party: u16,
    ) -> comanda_store::identity::AuditEntry {
        comanda_store::identity::AuditEntry {
            request_id: ctx.request_id.clone(),
            ..comanda_store::identity::AuditEntry::new(action)
        }
        .detail(format!("venue={venue} party={party}"))
    }

    /// The entry of a route a guest or the venue's staff call (booking, the waitlist): the member as actor with
    /// `by=staff` when a bearer token came, the guest's entry otherwise.
    pub(crate) fn or_staff(
        caller: Option<&Extension<Caller>>,
        ctx: &RequestContext,
        action: &str,
        venue: Uuid,
        party: u16,
    ) -> comanda_store::identity::AuditEntry {
        match caller {
            Some(Extension(caller)) => caller
                .audit(ctx, action)
                .detail(format!("venue={venue} party={party} by=staff")),
            None => Self::entry(ctx, action, venue, party),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ManageQuery {
    /// The `manage_token` of the booking's confirmation.
    pub token: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReservationView {
    pub id: String,
    pub venue_id: String,
    /// `offered` (a waitlist offer), `awaiting_deposit`, `booked`, `confirmed`, `late`, `seated`, `finished`,
    /// `cancelled`, `no_show`, or `lapsed`: an offer or a deposit hold that ended without becoming a booking
    /// (declined, expired, withdrawn or never paid; cancelling one leaves it `lapsed`).
    pub status: String,
    pub start: String,
    /// The start at the venue's offset (RFC 3339).
    pub local: String,
    pub party_size: u16,
    pub tables: Vec<String>,
    /// `online` (the public widget), `staff` (booked by the host, by phone) or `walk_in` (seated on arrival).
    pub channel: String,
    pub note: String,
    /// The table session the party was seated into (its QR orders and bill), once seated.
    pub session_id: Option<String>,
    /// The booking's deposit, when the venue asked one.
    pub deposit: Option<DepositView>,
    /// The reason the host gave for the booking's last change, when one was: in the staff's answers and the guest's
    /// own export, never on the guest's booking page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl ReservationView {
    /// The view staff see: with the reason of the last change.
    pub(crate) fn for_staff(r: Reservation, zone: &jiff::tz::TimeZone) -> Self {
        let reason = Some(r.status_reason.clone()).filter(|reason| !reason.is_empty());
        Self {
            reason,
            ..Self::new(r, zone)
        }
    }

    pub(crate) fn new(r: Reservation, zone: &jiff::tz::TimeZone) -> Self {
        Self {
            id: r.id.to_string(),
            venue_id: r.venue_id.to_string(),
            status: r.status.as_str().to_owned(),
            start: rfc3339(r.start),
            local: local_rfc3339(zone, r.start),
            party_size: r.party_size,
            tables: r.tables.iter().map(Uuid::to_string).collect(),
            channel: r.channel,
            note: r.note,
            session_id: r.session_id.map(|id| id.to_string()),
            deposit: None,
            reason: None,
        }
    }
}

pub(crate) fn guest_scope(state: &AppState, id: Uuid, token: &str) -> Result<TenantScope, ApiError> {
    booking_link::verify(&state.booking_key, id, token)
        .map(|proof| TenantScope::from_proof(&proof))
        .ok_or(ApiError::NotFound)
}

/// The guest's own reservation, by the link in their confirmation (public; a wrong token is 404).
#[utoipa::path(get, path = "/api/v1/reservations/{reservation}", tag = "reservations",
    params(("reservation" = String, Path), ManageQuery), responses((status = 200, body = ReservationView),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn guest_view(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<ManageQuery>,
) -> Result<Json<ReservationView>, ApiError> {
    let id = path_id(&id)?;
    let scope = guest_scope(&state, id, &query.token)?;
    let found = state.store.reservation(&scope, id).await?;
    let zone = zone_of(&state, &scope, found.venue_id).await?;
    let deposit = state.store.deposit(&scope, id).await?;
    let mut view = ReservationView::new(found, &zone);
    view.deposit = deposit.as_ref().map(DepositView::from);
    Ok(Json(view))
}

/// What the deposit page pays with: the PaymentIntent's client secret and the key for Stripe Elements.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DepositPayment {
    pub client_secret: String,
    pub publishable_key: String,
}

/// The deposit page's one read of the awaiting deposit's PaymentIntent, by the guest's link (public). It is apart
/// from the booking's view, which the page polls after paying, so that polling never reaches Stripe. 409 once the
/// deposit no longer awaits payment (paid, released, or no deposit).
#[utoipa::path(get, path = "/api/v1/reservations/{reservation}/deposit/payment", tag = "reservations",
    params(("reservation" = String, Path), ManageQuery), responses((status = 200, body = DepositPayment),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 502, body = Problem, content_type = "application/problem+json")))]
pub async fn guest_deposit_payment(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<ManageQuery>,
) -> Result<Json<DepositPayment>, ApiError> {
    let id = path_id(&id)?;
    let scope = guest_scope(&state, id, &query.token)?;
    let deposit = state.store.deposit(&scope, id).await?;
    let awaiting = deposit
        .filter(|d| d.status == DepositStatus::Awaiting)
        .and_then(|d| d.payment_intent);
    let (Some(intent), Some(service)) = (awaiting, &state.payments) else {
        return Err(Problem::new(ProblemType::Conflict)
            .detail("this booking has no deposit awaiting payment")
            .into());
    };
    let intent = service.client.payment_intent(&intent).await.map_err(|error| {
        tracing::warn!(%error, "deposit PaymentIntent not read back");
        ApiError::from(
            Problem::new(ProblemType::PaymentProvider).detail("the card processor did not answer; try again"),
        )
    })?;
    Ok(Json(DepositPayment {
        client_secret: intent.client_secret.unwrap_or_default(),
        publishable_key: service.publishable_key.clone(),
    }))
}

/// The guest cancels by the link in their confirmation; the tables are free again at once (public). Cancelling is
/// idempotent: a booking already cancelled (a retry whose answer was lost, a second tap) answers its current view,
/// deposit included, so the guest learns what became of their money instead of an error.
#[utoipa::path(post, path = "/api/v1/reservations/{reservation}/cancel", tag = "reservations",
    params(("reservation" = String, Path), ManageQuery), responses((status = 200, body = ReservationView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json")))]
pub async fn guest_cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ctx: RequestContext,
    ApiQuery(query): ApiQuery<ManageQuery>,
    _no_body: crate::extract::NoBody,
) -> Result<Json<ReservationView>, ApiError> {
    state.identity.booking_attempt(&ctx)?;
    let id = path_id(&id)?;
    let scope = guest_scope(&state, id, &query.token)?;
    let current = state.store.reservation(&scope, id).await?;
    if current.status.called_off() {
        return as_it_is(&state, &scope, current, false).await;
    }
    if current.status == ReservationStatus::Seated {
        return Err(not_movable(current.status, ReservationStatus::Cancelled));
    }
    if state.clock.now() >= current.start {
        return Err(Problem::new(ProblemType::Conflict)
            .detail("the booking's time has come: the venue can still cancel it")
            .into());
    }
    let audit = AuditedGuest::entry(
        &ctx,
        "reservation.cancelled_by_guest",
        current.venue_id,
        current.party_size,
    );
    let zone = zone_of(&state, &scope, current.venue_id).await?;
    let now = state.clock.now();
    let fate = deposit_fate(&state, &scope, id, Ending::GuestCancelled, now).await?;
    let cancelled = state
        .store
        .transition_reservation(
            &scope,
            id,
            ReservationStatus::Cancelled,
            None,
            fate,
            None,
            "",
            &audit,
            now,
        )
        .await?;
    let Some(cancelled) = cancelled else {
        // Two taps at once: the other one cancelled it first, and this one answers what it did.
        let now_is = state.store.reservation(&scope, id).await?;
        if now_is.status.called_off() {
            return as_it_is(&state, &scope, now_is, false).await;
        }
        return Err(not_movable(current.status, ReservationStatus::Cancelled));
    };
    state.availability.changed(cancelled.venue_id);
    crate::waitlist::offer_freed(&state, &scope, cancelled.venue_id).await;
    let mut view = ReservationView::new(cancelled.clone(), &zone);
    view.deposit = settle_deposit(&state, &scope, id, now).await?;
    // A declined offer was never the guest's booking: there is nothing cancelled to tell them of.
    if current.status != ReservationStatus::Offered {
        guest_notices::tell_guest(&state, &scope, &cancelled, BookingNotice::GuestCancelled).await;
    }
    Ok(Json(view))
}

/// A booking's view as it stands, with its deposit.
async fn as_it_is(
    state: &AppState,
    scope: &TenantScope,
    booking: Reservation,
    for_staff: bool,
) -> Result<Json<ReservationView>, ApiError> {
    let zone = zone_of(state, scope, booking.venue_id).await?;
    let id = booking.id;
    let mut view = if for_staff {
        ReservationView::for_staff(booking, &zone)
    } else {
        ReservationView::new(booking, &zone)
    };
    view.deposit = state
        .store
        .deposit(scope, id)
        .await?
        .as_ref()
        .map(DepositView::from);
    Ok(Json(view))
}

/// What the venue's rule does with the booking's deposit when it ends this way, if one is paid — or still awaited:
/// the guest may be paying it this very moment, and a payment confirmed before this move commits must not stay paid
/// on a cancelled booking (the store applies the fate only to a deposit paid by then; one still awaited is released
/// when its hold expires, and one paid after the booking ended is refunded on arrival).
async fn deposit_fate(
    state: &AppState,
    scope: &TenantScope,
    id: Uuid,
    ending: Ending,
    now: OffsetDateTime,
) -> Result<Option<reservation::DepositFate>, ApiError> {
    Ok(state
        .store
        .deposit(scope, id)
        .await?
        // A no-show's deposit waits for its time to be over before it is handed over: the party, seated after
        // all, gets it back.
        .filter(|d| {
            matches!(d.status, DepositStatus::Paid | DepositStatus::Awaiting)
                || (d.status == DepositStatus::KeepDue && ending == Ending::Seated)
        })
        .map(|d| reservation::deposit_fate(ending, d.refundable_until, now)))
}

/// Moves an ended booking's deposit at Stripe now (the upkeep retries what fails) and answers where it stands.
async fn settle_deposit(
    state: &AppState,
    scope: &TenantScope,
    id: Uuid,
    now: OffsetDateTime,
) -> Result<Option<DepositView>, ApiError> {
    if let Some(service) = &state.payments {
        deposits::settle_now(&state.store, service, scope, id, now).await;
    }
    Ok(state
        .store
        .deposit(scope, id)
        .await?
        .as_ref()
        .map(DepositView::from))
}

/// The domain's timed move a status change waits for, if any (`reservation::not_yet`).
fn timed(to: ReservationStatus) -> Option<TimedMove> {
    match to {
        ReservationStatus::Seated => Some(TimedMove::Seat),
        ReservationStatus::Late => Some(TimedMove::MarkLate),
        ReservationStatus::NoShow => Some(TimedMove::NoShow),
        _ => None,
    }
}

/// The moves the host can make now of a booking: its status allows them and their time has come (the host page
/// shows these as buttons). A waitlist offer is the guest's to take or let expire: the page offers no move on it.
fn moves_now(reservation: &Reservation, now: OffsetDateTime) -> Vec<&'static str> {
    let (status, start) = (reservation.status, reservation.start);
    if status == ReservationStatus::Offered
        || (status == ReservationStatus::NoShow
            && reservation::no_show_undone_too_late(reservation.until, now).is_some())
    {
        return Vec::new();
    }
    [
        ReservationStep::Confirmed,
        ReservationStep::Seated,
        ReservationStep::Late,
        ReservationStep::NoShow,
        ReservationStep::Cancelled,
        ReservationStep::Finished,
    ]
    .into_iter()
    .filter_map(|step| step.status())
    .filter(|to| status.can_move_to(*to))
    .filter(|to| timed(*to).is_none_or(|step| reservation::not_yet(step, start, now).is_none()))
    .map(ReservationStatus::as_str)
    // To another time: what `move_reservation` allows (a party not yet seated, its tables held).
    .chain(
        matches!(
            status,
            ReservationStatus::Booked | ReservationStatus::Confirmed | ReservationStatus::Late
        )
        .then_some("moved"),
    )
    .collect()
}

pub(crate) fn not_movable(from: ReservationStatus, to: ReservationStatus) -> ApiError {
    Problem::new(ProblemType::Conflict)
        .detail(format!(
            "this reservation is {} now: it cannot become {}",
            from.as_str().replace('_', " "),
            to.as_str().replace('_', " ")
        ))
        .into()
}

/// A page of the host's day: the local date, and `cursor` and `limit` as every list takes them.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DayPageQuery {
    /// The local date in the venue's time zone.
    #[param(value_type = String, format = Date)]
    pub date: String,
    /// Where the page starts: the `next_cursor` of the previous page (`comanda_domain::page::TIMED_CURSOR_PATTERN`).
    #[param(pattern = r"^([A-Za-z0-9_-]{21}[AQgw]A{9}[A-H][A-Za-z0-9_-]{10}[AEIMQUYcgkosw048])?$")]
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// A host's day view of a venue: its id, the local date asked and its zone (404 for another tenant's venue).
pub(crate) async fn host_day(
    state: &AppState,
    caller: &Caller,
    venue: &str,
    date: &str,
) -> Result<(Uuid, time::Date, jiff::tz::TimeZone, u8), ApiError> {
    let venue = path_id(venue)?;
    let date = parse_date(date)?;
    let found = state
        .store
        .venue(&caller.scope, comanda_domain::VenueId::from_uuid(venue))
        .await?;
    Ok((venue, date, venue_zone(&found)?, found.day_start_hour))
}

/// What the host sees of a guest: name, phone and whether the guest was erased — name and phone blank for no
/// contact or an erased guest (whose sealed fields would read `[erased]`), so the page can say which it is.
pub(crate) fn name_and_phone(
    contact: Option<comanda_store::privacy::GuestContact>,
) -> (String, String, bool) {
    match contact {
        Some(contact) if contact.erased_at.is_some() => (String::new(), String::new(), true),
        Some(contact) => (contact.name, contact.phone.unwrap_or_default(), false),
        None => (String::new(), String::new(), false),
    }
}

/// `HH:MM` on `date` in the venue's zone, as an instant (a time a spring-forward night skips is taken at the later
/// offset, as a clock on the wall would show it).
pub(crate) fn local_instant(
    zone: &jiff::tz::TimeZone,
    date: time::Date,
    hhmm: &str,
) -> Option<OffsetDateTime> {
    // jiff's infallible constructors panic on an impossible time: the text is checked first, the date built fallibly.
    let minutes = reservation::clock_minutes(hhmm)?;
    let time = jiff::civil::Time::new(
        i8::try_from(minutes / 60).ok()?,
        i8::try_from(minutes % 60).ok()?,
        0,
        0,
    )
    .ok()?;
    let civil = jiff::civil::Date::new(
        i16::try_from(date.year()).ok()?,
        i8::try_from(u8::from(date.month())).ok()?,
        i8::try_from(date.day()).ok()?,
    )
    .ok()?
    .to_datetime(time);
    let zoned = zone.to_ambiguous_zoned(civil).compatible().ok()?;
    OffsetDateTime::from_unix_timestamp(zoned.timestamp().as_second()).ok()
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HostReservation {
    #[serde(flatten)]
    pub reservation: ReservationView,
    /// The guest's contact id: the subject of a data-subject request (export, rectify, erase) about them.
    pub guest_id: String,
    /// The guest's name and phone, opened with the guest's key (empty once the guest is erased; the phone also
    /// for a walk-in who left none).
    pub guest_name: String,
    pub guest_phone: String,
    /// The guest had their data erased (a data-subject request): why name and phone are empty.
    pub guest_erased: bool,
    /// When the booking stops holding its tables: turn time plus buffer after the start (RFC 3339, UTC).
    pub until: String,
    /// For a party that finished: when the host marked it so, its table free from then (RFC 3339, UTC); `null`
    /// otherwise. A party that leaves before its planned end frees its table early.
    pub finished_at: Option<String>,
    /// The moves (`to` of a transition) the host can make now: those its status allows whose time has come (a
    /// party is seated from an hour before its start, late or a no-show 15 minutes after), and `moved`
    /// while it can go to another time.
    #[schema(value_type = Vec<String>)]
    pub moves: Vec<&'static str>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DayList {
    pub items: Vec<HostReservation>,
    /// The next page's `cursor`; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// The host's day: the reservations starting on the venue's business day `date` (from its day-start hour, 05:00 by
/// default, to the next day's, local: a seating after midnight belongs to the evening before), by start, a page at a
/// time.
#[utoipa::path(get, path = "/api/v1/venues/{venue}/reservations", tag = "reservations", security(("bearer" = [])),
    params(("venue" = String, Path), DayPageQuery), responses((status = 200, body = DayList),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A date outside the years 1900-9998", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn day_list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(venue): Path<String>,
    ApiQuery(query): ApiQuery<DayPageQuery>,
) -> Result<Json<DayList>, ApiError> {
    let page = PageRequest::parse_timed(query.cursor.as_deref(), query.limit)?;
    let (venue, date, zone, day_start_hour) = host_day(&state, &caller, &venue, &query.date).await?;
    // The venue's business day, as its reports count it (API.md: a seating after midnight belongs to the evening
    // before): from its day-start hour to the next day's, local; the two offsets may differ (a DST night).
    let bounds = comanda_domain::analytics::BusinessCalendar::new(zone.clone(), day_start_hour)
        .and_then(|calendar| calendar.day_bounds(date));
    let Some((from, until)) = bounds else {
        return Err(ValidationErrors::single("date", "is outside the supported range").into());
    };
    let page = state
        .store
        .reservations_between(&caller.scope, venue, from, until, page)
        .await?;
    let now = state.clock.now();
    let items = page
        .items
        .into_iter()
        .map(|party| {
            let reservation = party.reservation;
            let (guest_name, guest_phone, guest_erased) = name_and_phone(party.guest);
            let (guest_id, until) = (reservation.guest_id.to_string(), rfc3339(reservation.until));
            // Finishing is a finished booking's last change: nothing moves it after.
            let finished_at =
                (reservation.status == ReservationStatus::Finished).then(|| rfc3339(reservation.updated_at));
            let moves = moves_now(&reservation, now);
            let mut view = ReservationView::for_staff(reservation, &zone);
            view.deposit = party.deposit.as_ref().map(DepositView::from);
            HostReservation {
                guest_id,
                guest_name,
                guest_phone,
                guest_erased,
                until,
                finished_at,
                moves,
                reservation: view,
            }
        })
        .collect();
    Ok(Json(DayList {
        items,
        next_cursor: page.next.map(|c| c.encode()),
    }))
}

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReservationStep {
    /// To another start (and party size): `start` says where; the status stays.
    Moved,
    Confirmed,
    Late,
    Seated,
    Finished,
    Cancelled,
    NoShow,
}

impl ReservationStep {
    /// The status this move leads to; `None` for a move to another time, which keeps the status.
    fn status(self) -> Option<ReservationStatus> {
        match self {
            Self::Moved => None,
            Self::Confirmed => Some(ReservationStatus::Confirmed),
            Self::Late => Some(ReservationStatus::Late),
            Self::Seated => Some(ReservationStatus::Seated),
            Self::Finished => Some(ReservationStatus::Finished),
            Self::Cancelled => Some(ReservationStatus::Cancelled),
            Self::NoShow => Some(ReservationStatus::NoShow),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReservationMove {
    pub to: ReservationStep,
    #[serde(default)]
    #[schema(max_length = 200)]
    pub reason: String,
    /// With `to: "moved"` only: the new start (RFC 3339), one the venue offers.
    pub start: Option<String>,
    /// With `to: "moved"` only: a new party size (default: unchanged).
    #[schema(minimum = 1, maximum = 100)]
    pub party_size: Option<u16>,
}

/// The host moves a reservation: confirm, late, seat, finish, cancel, no-show, or to another time (`moved`, with
/// `start` and optionally `party_size`, checked by the same rule as a booking; the tables move in one
/// transaction). Leaving a holding state frees the tables at once; a move the current status does not allow is 409;
/// one whose time has not come (seating more than an hour ahead, late or no-show before the start) is 422. A
/// no-show's party that comes after all is seated while its booked time lasts and its tables are still free (422
/// otherwise); its deposit, kept for the no-show but not yet handed over, is refunded. A seated party that grows or
/// shrinks is `moved` with its own `start` and the new `party_size`: its tables and time stay (audited as
/// `reservation.resized`).
#[utoipa::path(post, path = "/api/v1/reservations/{reservation}/transitions", tag = "reservations",
    security(("bearer" = [])), params(("reservation" = String, Path)), request_body = ReservationMove, responses(
        (status = 200, body = ReservationView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn transition(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<ReservationMove>,
) -> Result<Json<ReservationView>, ApiError> {
    let id = path_id(&id)?;
    let mut errors = ValidationErrors::default();
    let reason = clean_text(&mut errors, "reason", &request.reason, 0, 200);
    let Some(to) = request.to.status() else {
        let start = match request.start.as_deref().map(comanda_domain::validation::instant) {
            Some(Ok(start)) => start,
            Some(Err(comanda_domain::validation::DateRefusal::OutOfRange)) => {
                return Err(out_of_years("start"));
            }
            _ => {
                errors.push("start", "a move needs the new start, an RFC 3339 instant");
                OffsetDateTime::UNIX_EPOCH
            }
        };
        if request
            .party_size
            .is_some_and(|party| !(1..=MAX_PARTY).contains(&party))
        {
            errors.push("party_size", PARTY_RANGE);
        }
        errors.into_result(())?;
        return move_to(&state, &caller, &ctx, id, start, request.party_size, &reason).await;
    };
    // Each field sent that only a move takes is named (a party size alone was reported as `start`).
    if request.start.is_some() {
        errors.push("start", "only a move (`to: \"moved\"`) takes a start");
    }
    if request.party_size.is_some() {
        errors.push("party_size", "only a move (`to: \"moved\"`) takes a party size");
    }
    errors.into_result(())?;
    let now = state.clock.now();
    let due = timed(to).map(|step| WhenDue {
        latest_start: reservation::latest_start(step, now),
        why: reservation::too_early(step),
    });
    let audit =
        caller
            .audit(&ctx, "reservation.moved")
            .detail(format!("to={}{}", to.as_str(), reason_kept(&reason)));
    let host = Host {
        actor: caller.actor(),
        member: caller.member.id,
    };
    let ending = match to {
        ReservationStatus::Cancelled => Some(Ending::VenueCancelled),
        ReservationStatus::NoShow => Some(Ending::NoShow),
        ReservationStatus::Seated => Some(Ending::Seated),
        _ => None,
    };
    let fate = match ending {
        Some(ending) => deposit_fate(&state, &caller.scope, id, ending, now).await?,
        None => None,
    };
    let before = state.store.reservation(&caller.scope, id).await?.status;
    match state
        .store
        .transition_reservation(
            &caller.scope,
            id,
            to,
            Some(&host),
            fate,
            due,
            &reason,
            &audit,
            now,
        )
        .await?
    {
        Some(moved) => {
            state.availability.changed(moved.venue_id);
            if !to.holds_tables() {
                crate::waitlist::offer_freed(&state, &caller.scope, moved.venue_id).await;
            }
            let zone = zone_of(&state, &caller.scope, moved.venue_id).await?;
            let mut view = ReservationView::for_staff(moved.clone(), &zone);
            view.deposit = match ending {
                // A no-show's deposit is handed to the venue once its booked time is over (the upkeep does it):
                // until then the party may still come and be seated.
                Some(Ending::NoShow) | None => state
                    .store
                    .deposit(&caller.scope, id)
                    .await?
                    .as_ref()
                    .map(DepositView::from),
                Some(_) => settle_deposit(&state, &caller.scope, id, now).await?,
            };
            // A waitlist offer the guest never accepted was not their booking: its expiry or withdrawal needs no mail.
            if to == ReservationStatus::Cancelled && before != ReservationStatus::Offered {
                guest_notices::tell_guest(&state, &caller.scope, &moved, BookingNotice::Cancelled).await;
            }
            Ok(Json(view))
        }
        None => {
            let current = state.store.reservation(&caller.scope, id).await?;
            Err(not_movable(current.status, to))
        }
    }
}

/// What an audit entry says of a host's reason: that one was given and kept with the booking, never its words. They
/// are the guest's data ("she called: ill"), sealed under the guest's key; the audit is append-only for 12 months
/// and could not forget them when the guest is erased.
fn reason_kept(reason: &str) -> &'static str {
    if reason.is_empty() {
        ""
    } else {
        " reason=kept with the booking"
    }
}

/// A host's move of a booking to another start (and party size), through the same rule as every booking.
async fn move_to(
    state: &AppState,
    caller: &Caller,
    ctx: &RequestContext,
    id: Uuid,
    start: OffsetDateTime,
    party_size: Option<u16>,
    reason: &str,
) -> Result<Json<ReservationView>, ApiError> {
    let current = state.store.reservation(&caller.scope, id).await?;
    let party = party_size.unwrap_or(current.party_size);
    let now = state.clock.now();
    // A seated party that grows (or shrinks) keeps its tables and time: its covers change, nothing is re-decided.
    if current.status == ReservationStatus::Seated {
        if start != current.start {
            return Err(Problem::new(ProblemType::Conflict)
                .detail("a seated party keeps its time: send its start with the new party_size")
                .into());
        }
        if party == current.party_size {
            return as_it_is(state, &caller.scope, current, true).await;
        }
        let most = state
            .store
            .booking_policy(&caller.scope, current.venue_id)
            .await?
            .map_or(MAX_PARTY, |policy| policy.max_party_size);
        if party > most {
            return Err(ApiError::rule(ValidationErrors::single(
                "party_size",
                Refusal::PartySize { largest: most }.to_string(),
            )));
        }
        let audit = caller.audit(ctx, "reservation.resized").detail(format!(
            "party {}→{party}{}",
            current.party_size,
            reason_kept(reason)
        ));
        return match state
            .store
            .resize_seated(&caller.scope, id, party, reason, &audit, now)
            .await?
        {
            Some(resized) => as_it_is(state, &caller.scope, resized, true).await,
            None => Err(Problem::new(ProblemType::Conflict)
                .detail("the party is no longer seated")
                .into()),
        };
    }
    // A move to where the booking already is (a double tap) changes nothing, so it writes nothing and mails nobody.
    // Before its time it is decided again all the same: its table may be one a party is still sitting at, and the
    // same time then gives it a free table (the store answers `Unchanged` when it keeps its own).
    let movable = matches!(
        current.status,
        ReservationStatus::Booked | ReservationStatus::Confirmed | ReservationStatus::Late
    );
    if start == current.start && party == current.party_size && movable && start <= now {
        return as_it_is(state, &caller.scope, current, true).await;
    }
    let decide = |ctx: &comanda_store::reservations::BookingContext<'_>| {
        let zone = reservation::zone(&ctx.venue.timezone).ok_or(Refusal::NotASlot)?;
        reservation::check_booking(
            ctx.policy,
            &zone,
            ctx.venue.day_start_hour,
            ctx.floor,
            ctx.holdings,
            start,
            party,
            Channel::Staff,
            now,
        )
    };
    let audit = caller.audit(ctx, "reservation.moved").detail(format!(
        "to=moved start={} party={party}{}",
        rfc3339(start),
        reason_kept(reason)
    ));
    match state
        .store
        .move_reservation(&caller.scope, id, party, &decide, reason, &audit, now)
        .await?
    {
        MoveOutcome::Moved(moved) => {
            state.availability.changed(moved.venue_id);
            crate::waitlist::offer_freed(state, &caller.scope, moved.venue_id).await;
            guest_notices::tell_guest(state, &caller.scope, &moved, BookingNotice::Moved).await;
            let zone = zone_of(state, &caller.scope, moved.venue_id).await?;
            let mut view = ReservationView::for_staff(*moved, &zone);
            view.deposit = state
                .store
                .deposit(&caller.scope, id)
                .await?
                .as_ref()
                .map(DepositView::from);
            Ok(Json(view))
        }
        MoveOutcome::Unchanged(kept) => as_it_is(state, &caller.scope, *kept, true).await,
        MoveOutcome::NotMovable(status) => Err(Problem::new(ProblemType::Conflict)
            .detail(format!(
                "this reservation is {} now: it cannot move",
                status.as_str().replace('_', " ")
            ))
            .into()),
        MoveOutcome::Refused(refused) => Err(refusal(refused)),
    }
}
