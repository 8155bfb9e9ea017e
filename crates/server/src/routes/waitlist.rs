//! The waitlist: a guest asks to be told when a table comes free on a date, within a window of starts (public, with
//! consent, like a booking); the host sees the day's list; an offered time is accepted (or declined) by the link in
//! the offer's mail. Offers themselves are made by `crate::waitlist`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use comanda_domain::ValidationErrors;
use comanda_domain::reservation::{self, Channel};
use comanda_domain::validation::clean_text;
use comanda_security::TenantScope;
use comanda_security::booking_link;
use comanda_store::privacy::GuestContact;
use comanda_store::reservations::{NewDeposit, NewWaitlistEntry, ReservationStatus, WaitlistEntry};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::{Caller, RequestContext};
use crate::extract::{ApiJson, ApiQuery};
use crate::problem::{ApiError, Problem, ProblemType};
use crate::routes::ordering::path_id;
use crate::routes::privacy::NOTICE_VERSION;
use crate::routes::reservations::{
    AuditedGuest, DayPageQuery, DepositView, GuestDetails, MAX_PARTY, PARTY_RANGE, ReservationView,
    deposit_account, guest_scope, host_day, listed, local_instant, local_rfc3339, name_and_phone,
    not_movable, open_deposit, parse_date, venue_zone, zone_of,
};

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitlistRequest {
    /// The local date in the venue's time zone (`YYYY-MM-DD`).
    #[schema(format = Date)]
    pub date: String,
    #[schema(minimum = 1, maximum = 100)]
    pub party_size: u16,
    /// The earliest and latest acceptable starts, local `HH:MM`.
    #[schema(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub earliest: String,
    #[schema(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub latest: String,
    pub guest: GuestDetails,
    /// Consent to the privacy notice for the guest's contact data (PRIV-2). Without it, 422.
    #[serde(default)]
    pub consent: bool,
}

/// Who answers a waitlist offer: the guest, by the `manage_token` of their link, or the venue's host with a bearer
/// token (who called the guest), without one.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OfferAnswerQuery {
    /// The guest's `manage_token`; a guest without it (or with a wrong one) is answered 404.
    pub token: Option<String>,
}

/// The scope an offer's answer is made in: the host's own partner, or the one the guest's token proves.
fn answering_scope(
    state: &AppState,
    caller: Option<&Extension<Caller>>,
    id: Uuid,
    query: &OfferAnswerQuery,
) -> Result<TenantScope, ApiError> {
    match caller {
        Some(Extension(caller)) => Ok(caller.scope.clone()),
        None => guest_scope(state, id, query.token.as_deref().unwrap_or_default()),
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WaitlistView {
    pub id: String,
    /// `waiting`, `offered`, `booked`, `expired` or `left`.
    pub status: String,
    pub party_size: u16,
    pub date: String,
    /// The window's bounds at the venue's offset (RFC 3339).
    pub earliest: String,
    pub latest: String,
    /// The offered (then booked) reservation.
    pub reservation_id: Option<String>,
    /// While a table is offered: until when it is held for the party's answer (at the venue's offset, RFC 3339).
    pub offer_expires_at: Option<String>,
    /// Only when the guest joins: the key to leave the list (`?token=`).
    pub manage_token: Option<String>,
}

impl WaitlistView {
    pub(crate) fn new(entry: &WaitlistEntry, zone: &jiff::tz::TimeZone) -> Self {
        Self {
            id: entry.id.to_string(),
            status: entry.status.as_str().to_owned(),
            party_size: entry.party_size,
            date: entry.local_date.clone(),
            earliest: local_rfc3339(zone, entry.earliest),
            latest: local_rfc3339(zone, entry.latest),
            reservation_id: entry.reservation_id.map(|id| id.to_string()),
            offer_expires_at: entry
                .offer_expires_at
                .filter(|_| entry.status == comanda_store::reservations::WaitlistStatus::Offered)
                .map(|at| local_rfc3339(zone, at)),
            manage_token: None,
        }
    }
}

/// Joins the venue's waitlist for a date and a window of starts (public). When a table comes free in the window the
/// guest is mailed an offer that holds it for a few minutes; parties are offered in the order they joined. With a
/// host's bearer token it puts a party on the list for the host's venue (`staff`): a phone is needed, an email is
/// not (the host calls the guest and answers the offer for them), offers follow the host's rules (every table, no
/// notice), and a party whose window has begun is waiting at the venue: it is offered a table free now, from now.
#[utoipa::path(post, path = "/api/v1/venues/{venue}/waitlist", tag = "reservations", security((), ("bearer" = [])),
    params(("venue" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, pattern = r"^[!-~]{1,200}$",
            description = "A retried join with the same key and request is the same entry; with another request, 409")),
    request_body = WaitlistRequest, responses(
        (status = 201, body = WaitlistView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json")))]
pub async fn join(
    State(state): State<AppState>,
    Path(venue): Path<String>,
    headers: axum::http::HeaderMap,
    ctx: RequestContext,
    caller: Option<Extension<Caller>>,
    ApiJson(request): ApiJson<WaitlistRequest>,
) -> Result<(StatusCode, Json<WaitlistView>), ApiError> {
    state.identity.booking_attempt(&ctx)?;
    let idempotency_key = crate::routes::guest::idempotency_key(&headers)?;
    let (scope, venue, channel) = match &caller {
        Some(Extension(caller)) => (caller.scope.clone(), path_id(&venue)?, Channel::Staff),
        None => {
            let (scope, venue) = listed(&state, &venue).await?;
            (scope, venue, Channel::Online)
        }
    };
    let date = parse_date(&request.date)?;
    let now = state.clock.now();
    let found = state
        .store
        .venue(&scope, comanda_domain::VenueId::from_uuid(venue))
        .await?;
    let zone = venue_zone(&found)?;
    let policy = state
        .store
        .booking_policy(&scope, venue)
        .await?
        .ok_or(ApiError::NotFound)?;
    let mut errors = ValidationErrors::default();
    let name = clean_text(&mut errors, "guest.name", &request.guest.name, 1, 200);
    let phone = request.guest.phone(&mut errors);
    let email = request.guest.email(&mut errors);
    if !(1..=MAX_PARTY).contains(&request.party_size) {
        errors.push("party_size", PARTY_RANGE);
    }
    let today = reservation::local_date(&zone, now).unwrap_or(now.date());
    // Yesterday's business day may still be running past midnight (a late service belongs to the evening it started),
    // as availability lists it: a window already over is refused by `latest` below.
    if date < today.previous_day().unwrap_or(today)
        || date > today + time::Duration::days(i64::from(policy.horizon_days))
    {
        errors.push(
            "date",
            format!("must be from today to {} days ahead", policy.horizon_days),
        );
    }
    // The date is the business day: a time before the venue's day starts (`day_start_hour`), such as 00:30 after a
    // 22:00 seating, is on the next calendar day, as a service running past midnight is.
    let on_business_day = |hhmm: &str| {
        let after_midnight = hhmm
            .split_once(':')
            .and_then(|(hours, _)| hours.parse::<u8>().ok())
            .is_some_and(|hour| hour < found.day_start_hour);
        let day = if after_midnight {
            date.next_day()
        } else {
            Some(date)
        };
        day.and_then(|day| local_instant(&zone, day, hhmm))
    };
    let earliest = on_business_day(&request.earliest);
    let latest = on_business_day(&request.latest);
    if earliest.is_none() {
        errors.push("earliest", "must be a local time HH:MM");
    }
    match (earliest, latest) {
        (_, None) => errors.push("latest", "must be a local time HH:MM"),
        (Some(earliest), Some(latest)) if latest < earliest => errors.push(
            "latest",
            "must not be before earliest on the business day (which runs past midnight to the venue's day start)",
        ),
        (_, Some(latest)) if latest <= now => errors.push("latest", "is already past"),
        _ => {}
    }
    errors.into_result(())?;
    // The offer is mailed, and the venue calls: a party waiting without an email or phone would never hear of it.
    // The host's party is called (and answered for) by the host: its email is for the mail only.
    if channel == Channel::Online {
        request.guest.require_email()?;
    }
    request.guest.require_phone()?;
    if request.party_size > policy.max_party_size {
        return Err(ApiError::rule(ValidationErrors::single(
            "party_size",
            comanda_domain::reservation::Refusal::PartySize {
                largest: policy.max_party_size,
            }
            .to_string(),
        )));
    }
    if !request.consent {
        return Err(ApiError::rule(ValidationErrors::single(
            "consent",
            "the waitlist keeps the guest's contact data only with consent to the privacy notice",
        )));
    }
    let (Some(earliest), Some(latest)) = (earliest, latest) else {
        return Err(ValidationErrors::single("earliest", "must be a local time HH:MM").into());
    };
    // A party the host puts on the list may be waiting at the door past the last seating: offered as a walk-in, it
    // needs no slot of the grid (seating it then is the host's call).
    let seatings = reservation::service_slots(&policy, &zone, date, found.day_start_hour);
    if channel == Channel::Online
        && !seatings
            .iter()
            .any(|slot| slot.start >= earliest && slot.start <= latest)
    {
        return Err(ApiError::rule(ValidationErrors::single(
            "earliest",
            "the venue seats no one in this window on that date: choose times within its services",
        )));
    }
    // A party no table or combination could ever seat (online, for the widget's) would wait for an offer that never
    // comes.
    let floor = state
        .store
        .booking_view(&scope, venue, earliest, latest, None)
        .await?
        .map(|(_, _, floor, _)| floor)
        .unwrap_or_default();
    if !reservation::could_ever_seat(&policy, &floor, request.party_size, channel) {
        return Err(ApiError::rule(ValidationErrors::single(
            "party_size",
            reservation::Refusal::NeverSeated.to_string(),
        )));
    }
    let lookup = state.identity.contact_lookup(
        scope.partner(),
        Some(email.as_str()).filter(|e| !e.is_empty()),
        phone.as_deref(),
    );
    let mut entry = NewWaitlistEntry {
        id: Uuid::now_v7(),
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
        local_date: request.date.clone(),
        earliest,
        latest,
        channel: match channel {
            Channel::Online => "online",
            Channel::Staff => "staff",
        }
        .into(),
        idempotency_key,
        request_hash: crate::routes::guest::request_digest(
            &state,
            &serde_json::to_vec(&request).unwrap_or_default(),
        ),
        confirmation: None,
    };
    // Queued with the entry, to an email the guest left (a party the host put on the list may have left none).
    if !entry.guest.email.is_empty() {
        let lang = crate::routes::pages::Lang::negotiate(&headers);
        entry.confirmation = Some(crate::waitlist::joined_mail(
            &state,
            lang,
            scope.partner(),
            &found,
            &entry,
            &zone,
        ));
    }
    let audit = AuditedGuest::or_staff(
        caller.as_ref(),
        &ctx,
        "waitlist.joined",
        venue,
        request.party_size,
    );
    let joined = state.store.join_waitlist(&scope, &entry, &audit, now).await?;
    // A table may already be free in the window (the widget offers no slot for other reasons, e.g. notice).
    crate::waitlist::offer_freed(&state, &scope, venue).await;
    let joined = state.store.waitlist_entry(&scope, joined.id).await?;
    let mut view = WaitlistView::new(&joined, &zone);
    view.manage_token = Some(booking_link::issue(
        &state.booking_key,
        scope.partner(),
        joined.id,
    ));
    Ok((StatusCode::CREATED, Json(view)))
}

/// What an answer about a waitlist entry (leave, decline) starts from: throttled as a booking, the entry read under
/// the scope the guest's token or the staff caller proves, and the audit entry of `action` for it.
async fn answered_entry(
    state: &AppState,
    entry: &str,
    ctx: &RequestContext,
    caller: Option<&Extension<Caller>>,
    query: &OfferAnswerQuery,
    action: &str,
) -> Result<(TenantScope, WaitlistEntry, comanda_store::identity::AuditEntry), ApiError> {
    state.identity.booking_attempt(ctx)?;
    let id = path_id(entry)?;
    let scope = answering_scope(state, caller, id, query)?;
    let current = state.store.waitlist_entry(&scope, id).await?;
    let audit = AuditedGuest::or_staff(caller, ctx, action, current.venue_id, current.party_size);
    Ok((scope, current, audit))
}

/// The guest leaves the waitlist, by the token they got when joining (public), or the host takes a party off it
/// (bearer token; a party that declined the offered table on the phone, or left). An offer made to it is declined, its
/// table offered on. Leaving is idempotent: an entry that has already left answers its view again.
#[utoipa::path(post, path = "/api/v1/waitlist/{entry}/leave", tag = "reservations", security((), ("bearer" = [])),
    params(("entry" = String, Path), OfferAnswerQuery), responses((status = 200, body = WaitlistView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json")))]
pub async fn leave(
    State(state): State<AppState>,
    Path(entry): Path<String>,
    ctx: RequestContext,
    caller: Option<Extension<Caller>>,
    ApiQuery(query): ApiQuery<OfferAnswerQuery>,
    _no_body: crate::extract::NoBody,
) -> Result<Json<WaitlistView>, ApiError> {
    let (scope, current, audit) =
        answered_entry(&state, &entry, &ctx, caller.as_ref(), &query, "waitlist.left").await?;
    let id = current.id;
    if current.status == comanda_store::reservations::WaitlistStatus::Left {
        let zone = zone_of(&state, &scope, current.venue_id).await?;
        return Ok(Json(WaitlistView::new(&current, &zone)));
    }
    let left = state
        .store
        .leave_waitlist(&scope, id, &audit, state.clock.now())
        .await?
        .ok_or_else(|| {
            ApiError::from(Problem::new(ProblemType::Conflict).detail(format!(
                "this party is no longer waiting ({})",
                current.status.as_str()
            )))
        })?;
    if left.reservation_id.is_some() {
        // The declined offer's tables go to the next party waiting.
        state.availability.changed(left.venue_id);
        crate::waitlist::offer_freed(&state, &scope, left.venue_id).await;
    }
    let zone = zone_of(&state, &scope, left.venue_id).await?;
    Ok(Json(WaitlistView::new(&left, &zone)))
}

/// The party turns down the table it was offered but keeps its place on the list (a party at the bar that wants
/// another table; the guest by the token of their mail too): the offer lapses, that table goes to the next party
/// waiting, and this party is never offered it again. 409 when no offer is open.
#[utoipa::path(post, path = "/api/v1/waitlist/{entry}/decline", tag = "reservations", security((), ("bearer" = [])),
    params(("entry" = String, Path), OfferAnswerQuery), responses((status = 200, body = WaitlistView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json")))]
pub async fn decline(
    State(state): State<AppState>,
    Path(entry): Path<String>,
    ctx: RequestContext,
    caller: Option<Extension<Caller>>,
    ApiQuery(query): ApiQuery<OfferAnswerQuery>,
    _no_body: crate::extract::NoBody,
) -> Result<Json<WaitlistView>, ApiError> {
    let (scope, current, audit) = answered_entry(
        &state,
        &entry,
        &ctx,
        caller.as_ref(),
        &query,
        "waitlist.offer_declined",
    )
    .await?;
    let id = current.id;
    state
        .store
        .decline_offer(&scope, id, &audit, state.clock.now())
        .await?
        .ok_or_else(|| {
            ApiError::from(Problem::new(ProblemType::Conflict).detail(format!(
                "this party has no table offered to decline ({})",
                current.status.as_str()
            )))
        })?;
    // The declined table goes to the next party waiting (this one may be offered another).
    state.availability.changed(current.venue_id);
    crate::waitlist::offer_freed(&state, &scope, current.venue_id).await;
    let now_waiting = state.store.waitlist_entry(&scope, id).await?;
    let zone = zone_of(&state, &scope, current.venue_id).await?;
    Ok(Json(WaitlistView::new(&now_waiting, &zone)))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WaitlistDayEntry {
    #[serde(flatten)]
    pub entry: WaitlistView,
    pub guest_name: String,
    pub guest_phone: String,
    /// The guest had their data erased (a data-subject request): why name and phone are empty.
    pub guest_erased: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WaitlistDay {
    pub items: Vec<WaitlistDayEntry>,
    /// The next page's `cursor`; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// The host's waitlist for a local date, in the order parties joined, a page at a time.
#[utoipa::path(get, path = "/api/v1/venues/{venue}/waitlist", tag = "reservations", security(("bearer" = [])),
    params(("venue" = String, Path), DayPageQuery), responses((status = 200, body = WaitlistDay),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A date outside the years 1900-9998", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn day(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(venue): Path<String>,
    ApiQuery(query): ApiQuery<DayPageQuery>,
) -> Result<Json<WaitlistDay>, ApiError> {
    let page = comanda_domain::PageRequest::parse_timed(query.cursor.as_deref(), query.limit)?;
    let (venue, date, zone, _) = host_day(&state, &caller, &venue, &query.date).await?;
    let parties = state
        .store
        .waitlist_day(&caller.scope, venue, &date.to_string(), page)
        .await?;
    let items = parties
        .items
        .into_iter()
        .map(|party| {
            let (guest_name, guest_phone, guest_erased) = name_and_phone(party.guest);
            WaitlistDayEntry {
                entry: WaitlistView::new(&party.entry, &zone),
                guest_name,
                guest_phone,
                guest_erased,
            }
        })
        .collect();
    Ok(Json(WaitlistDay {
        items,
        next_cursor: parties.next.map(|c| c.encode()),
    }))
}

/// The guest accepts a time the waitlist offered them, by the link in the offer (public). With a venue that asks a
/// deposit the booking then awaits it (`deposit.client_secret` through the guest's view, paid on the deposit page).
/// The host accepts for a guest they called (bearer token, no `token`): booked at once, no deposit asked (the host
/// takes the guest's word, as on a booking by phone).
#[utoipa::path(post, path = "/api/v1/reservations/{reservation}/accept", tag = "reservations", security((), ("bearer" = [])),
    params(("reservation" = String, Path), OfferAnswerQuery), responses((status = 200, body = ReservationView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
        (status = 502, body = Problem, content_type = "application/problem+json")))]
pub async fn accept(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ctx: RequestContext,
    caller: Option<Extension<Caller>>,
    ApiQuery(query): ApiQuery<OfferAnswerQuery>,
    _no_body: crate::extract::NoBody,
) -> Result<Json<ReservationView>, ApiError> {
    state.identity.booking_attempt(&ctx)?;
    let id = path_id(&id)?;
    let scope = answering_scope(&state, caller.as_ref(), id, &query)?;
    let current = state.store.reservation(&scope, id).await?;
    // A second tap, or a retry after a lost answer, on an offer already taken: the booking as it stands, as a guest
    // cancelling twice is answered (it was a 409 saying "a awaiting_deposit reservation cannot become booked").
    if matches!(
        current.status,
        ReservationStatus::AwaitingDeposit | ReservationStatus::Booked | ReservationStatus::Confirmed
    ) {
        let found = state
            .store
            .venue(&scope, comanda_domain::VenueId::from_uuid(current.venue_id))
            .await?;
        let mut view = ReservationView::new(current, &venue_zone(&found)?);
        view.deposit = state
            .store
            .deposit(&scope, id)
            .await?
            .as_ref()
            .map(DepositView::from);
        return Ok(Json(view));
    }
    if current.status != ReservationStatus::Offered {
        return Err(not_movable(current.status, ReservationStatus::Booked));
    }
    let now = state.clock.now();
    let policy = state.store.booking_policy(&scope, current.venue_id).await?;
    let amount = policy
        .as_ref()
        .filter(|_| caller.is_none())
        .and_then(|p| reservation::deposit_for(p, current.party_size).map(|a| (a, p)));
    let payments = match amount {
        Some(_) => Some(deposit_account(&state, &scope).await?),
        None => None,
    };
    let deposit = amount
        .zip(payments.as_ref())
        .map(|((amount, policy), (service, _))| NewDeposit {
            amount,
            hold_expires_at: now + service.hold,
            refundable_until: reservation::refundable_until(policy, current.start),
        });
    let audit = AuditedGuest::or_staff(
        caller.as_ref(),
        &ctx,
        "waitlist.accepted",
        current.venue_id,
        current.party_size,
    );
    let accepted = state
        .store
        .accept_offer(&scope, id, deposit.as_ref(), &audit, now)
        .await?
        .ok_or_else(|| not_movable(current.status, ReservationStatus::Booked))?;
    let found = state
        .store
        .venue(&scope, comanda_domain::VenueId::from_uuid(accepted.venue_id))
        .await?;
    let zone = venue_zone(&found)?;
    let opened = match &payments {
        Some(payments) => open_deposit(&state, &scope, payments, &found.name, &accepted).await?,
        None => None,
    };
    if opened.is_none() {
        // Nothing left to pay: the booking is the guest's now, and the mail says so (with a deposit, its payment
        // does).
        crate::guest_notices::tell_guest(
            &state,
            &scope,
            &accepted,
            crate::guest_notices::BookingNotice::Confirmed,
        )
        .await;
    }
    let mut view = ReservationView::new(accepted, &zone);
    view.deposit = opened.map(|(deposit, secret)| {
        let mut shown = DepositView::from(&deposit);
        shown.client_secret = Some(secret);
        shown.publishable_key = payments.as_ref().map(|(s, _)| s.publishable_key.clone());
        shown
    });
    Ok(Json(view))
}
