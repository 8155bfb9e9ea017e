//! Venues, tables, menus and the order queue, for staff.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use comanda_domain::access::Permission;
use comanda_domain::menu::{Localized, MenuItem, ModifierGroup, check_modifiers};
use comanda_domain::validation::clean_text;
use comanda_domain::venue::check_day_start_hour;
use comanda_domain::{
    Money, NewVenue, OrderStatus, PageRequest, TaxRegime, ValidationErrors, VenueId, collect_all,
};
use comanda_security::table_token::{self, TableEntry};
use comanda_store::ordering::{Order, VenueTable};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::{Caller, RequestContext};
use crate::extract::{ApiJson, ApiQuery};
use crate::problem::{ApiError, Problem, ProblemType};

/// Any id in a path: what does not parse is simply not found (never a 400 that reveals the id's shape).
pub fn path_id(raw: &str) -> Result<Uuid, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VenueRequest {
    #[schema(
        pattern = r"^[^\x00-\x09\x0B-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069]*[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200D\u2028-\u202F\u205F-\u2069\u3000\uFEFF][^\x00-\x09\x0B-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069]*$",
        max_length = 200
    )]
    pub name: String,
    /// An IANA time zone name (`America/Bogota`, `UTC`).
    #[schema(
        pattern = r"^(UTC|[A-Z][A-Za-z0-9_+-]*(/[A-Z][A-Za-z0-9_+-]*){1,2})$",
        max_length = 64
    )]
    pub timezone: String,
    #[serde(default)]
    #[schema(
        pattern = r"^[^\x00-\x09\x0B-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069]*$",
        max_length = 500
    )]
    pub address: String,
    #[schema(value_type = Option<comanda_domain::Currency>)]
    pub currency: Option<String>,
    pub tax: Option<TaxRegime>,
    /// The local hour (0–11) its business day starts at: a sale before it counts on the day before (default 5,
    /// docs/analytics.md "Business day").
    #[schema(minimum = 0, maximum = 11)]
    pub day_start_hour: Option<u8>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VenueView {
    pub id: String,
    pub name: String,
    pub timezone: String,
    pub address: String,
    pub currency: comanda_domain::Currency,
    pub tax: TaxRegime,
    /// The local hour its business day starts at (docs/analytics.md, "Business day").
    pub day_start_hour: u8,
}

impl From<comanda_domain::Venue> for VenueView {
    fn from(v: comanda_domain::Venue) -> Self {
        Self {
            id: v.id.to_string(),
            name: v.name,
            timezone: v.timezone,
            address: v.address,
            currency: v.currency,
            tax: v.tax,
            day_start_hour: v.day_start_hour,
        }
    }
}

/// Creates a venue (COP and impuesto al consumo 8 % unless told otherwise).
#[utoipa::path(post, path = "/api/v1/venues", tag = "venues", security(("bearer" = [])), request_body = VenueRequest,
    responses((status = 201, body = VenueView), (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json",
            description = "a time zone the IANA tz database does not know")))]
pub async fn create_venue(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    ApiJson(request): ApiJson<VenueRequest>,
) -> Result<(StatusCode, Json<VenueView>), ApiError> {
    let venue = NewVenue::parse(
        &request.name,
        &request.timezone,
        &request.address,
        request.currency.as_deref(),
        request.tax,
        request.day_start_hour,
    )?;
    if !comanda_domain::venue::is_known_zone(&venue.timezone) {
        return Err(ApiError::rule(ValidationErrors::single(
            "timezone",
            "is not a zone of the IANA tz database (e.g. America/Bogota)",
        )));
    }
    let created = state
        .store
        .create_venue(
            &caller.scope,
            &venue,
            &caller.audit(&ctx, "venue.created"),
            state.clock.now(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VenueList {
    pub items: Vec<VenueView>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Where the page starts: the `next_cursor` of the previous page (`comanda_domain::page::CURSOR_PATTERN`).
    #[param(
        pattern = r"^([A-Za-z0-9_-]{21}[AQgw]|[A-Za-z0-9_-]{21}[AQgw]A{9}[A-H][A-Za-z0-9_-]{10}[AEIMQUYcgkosw048])?$"
    )]
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// The `cursor` and `limit` of a list ordered by a time and then the identifier: its cursors carry both.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TimedListQuery {
    /// Where the page starts: the `next_cursor` of the previous page (`comanda_domain::page::TIMED_CURSOR_PATTERN`).
    #[param(pattern = r"^([A-Za-z0-9_-]{21}[AQgw]A{9}[A-H][A-Za-z0-9_-]{10}[AEIMQUYcgkosw048])?$")]
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// A venue list route's prelude: the venue's id from the path (400 when it is none), the page asked for (400), and
/// the venue itself, which must be the caller's (404 otherwise, before anything of it is listed).
pub(crate) async fn venue_page(
    state: &AppState,
    caller: &Caller,
    venue: &str,
    cursor: Option<&str>,
    limit: Option<u32>,
) -> Result<(Uuid, PageRequest), ApiError> {
    let venue = path_id(venue)?;
    let page = PageRequest::parse_timed(cursor, limit)?;
    state
        .store
        .venue(&caller.scope, VenueId::from_uuid(venue))
        .await?;
    Ok((venue, page))
}

/// The partner's venues; for a member who works at some of them only, those.
#[utoipa::path(get, path = "/api/v1/venues", tag = "venues", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = VenueList)))]
pub async fn list_venues(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<VenueList>, ApiError> {
    let page = PageRequest::parse(query.cursor.as_deref(), query.limit)?;
    let page = if caller.member.venues == comanda_domain::Venues::Every {
        state.store.list_venues(&caller.scope, page).await?
    } else {
        comanda_domain::narrowed(
            page,
            |venue: &comanda_domain::Venue| caller.member.venues.includes(venue.id),
            |venue| venue.id.as_uuid(),
            |request| state.store.list_venues(&caller.scope, request),
        )
        .await?
    };
    Ok(Json(VenueList {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next.map(|c| c.encode()),
    }))
}

/// What an owner or manager corrects of a venue; a field left out keeps its value. The time zone and currency stay
/// (every booking, report and price is read in them).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VenuePatch {
    #[schema(
        pattern = r"^[^\x00-\x09\x0B-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069]*[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200D\u2028-\u202F\u205F-\u2069\u3000\uFEFF][^\x00-\x09\x0B-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069]*$",
        max_length = 200
    )]
    pub name: Option<String>,
    #[schema(
        pattern = r"^[^\x00-\x09\x0B-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069]*$",
        max_length = 500
    )]
    pub address: Option<String>,
    /// Changed only while no table of the venue has a bill open: an open bill's tax lines are read with the venue's
    /// regime (409 otherwise).
    pub tax: Option<TaxRegime>,
}

/// Corrects a venue's name, address or tax regime (audited as `venue.updated`, old and new values in its detail).
#[utoipa::path(patch, path = "/api/v1/venues/{venue}", tag = "venues", security(("bearer" = [])),
    params(("venue" = String, Path)), request_body = VenuePatch, responses(
        (status = 200, body = VenueView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The tax regime changes while a table has a bill open", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn update_venue(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    Path(venue): Path<String>,
    ApiJson(patch): ApiJson<VenuePatch>,
) -> Result<Json<VenueView>, ApiError> {
    let id = VenueId::from_uuid(path_id(&venue)?);
    let current = state.store.venue(&caller.scope, id).await?;
    let changed = NewVenue::parse(
        patch.name.as_deref().unwrap_or(&current.name),
        &current.timezone,
        patch.address.as_deref().unwrap_or(&current.address),
        Some(current.currency.code()),
        Some(patch.tax.unwrap_or(current.tax)),
        Some(current.day_start_hour),
    )?;
    if changed.tax != current.tax
        && !state
            .store
            .venue_sessions(&caller.scope, id.as_uuid(), PageRequest::default())
            .await?
            .items
            .is_empty()
    {
        return Err(ApiError::Conflict(
            "a table has a bill open: change the tax regime once every table is closed".into(),
        ));
    }
    let audit = caller.audit(&ctx, "venue.updated").detail(format!(
        "name {:?}→{:?} address {:?}→{:?} tax {}:{}→{}:{}",
        current.name,
        changed.name,
        current.address,
        changed.address,
        current.tax.kind.as_str(),
        current.tax.rate_bp,
        changed.tax.kind.as_str(),
        changed.tax.rate_bp
    ));
    let updated = state
        .store
        .update_venue(&caller.scope, id, &changed, &audit, state.clock.now())
        .await?;
    Ok(Json(updated.into()))
}

/// Where a venue's business day starts.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BusinessDayRequest {
    /// The local hour, 0 to 11: a sale before it counts on the day before (docs/analytics.md, "Business day").
    #[schema(minimum = 0, maximum = 11)]
    pub day_start_hour: u8,
}

/// Moves where the venue's business day starts. Every report reads it when it runs, so past days move with it
/// (the roll-ups are kept by UTC quarter-hour); the change is audited as `venue.business_day_changed`.
#[utoipa::path(put, path = "/api/v1/venues/{venue}/business-day", tag = "venues", security(("bearer" = [])),
    params(("venue" = String, Path)), request_body = BusinessDayRequest, responses(
        (status = 200, body = VenueView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn set_business_day(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    Path(venue): Path<String>,
    ApiJson(request): ApiJson<BusinessDayRequest>,
) -> Result<Json<VenueView>, ApiError> {
    let venue = VenueId::from_uuid(path_id(&venue)?);
    let hour = check_day_start_hour(request.day_start_hour)?;
    // A booking service running past midnight must end before the day starts, or its late bookings would land on
    // the next day's host list and reports.
    if let Some(policy) = state.store.booking_policy(&caller.scope, venue.as_uuid()).await?
        && let Some((i, field)) = policy.seats_outside_business_day(hour)
    {
        let service = &policy.services[i];
        return Err(ApiError::rule(ValidationErrors::single(
            "day_start_hour",
            if field == "first_seating" {
                format!(
                    "booking service {} seats guests from {}: the business day must start by that hour",
                    i + 1,
                    service.first_seating
                )
            } else {
                format!(
                    "booking service {} seats guests until {} after midnight: the business day must start after \
                     that hour",
                    i + 1,
                    service.last_seating
                )
            },
        )));
    }
    let audit = caller
        .audit(&ctx, "venue.business_day_changed")
        .detail(format!("day_start_hour={hour}"));
    let moved = state
        .store
        .set_day_start_hour(&caller.scope, venue, hour, &audit, state.clock.now())
        .await?;
    // An all-day service's small hours are offered on the business day they belong to: the times kept move with it.
    state.availability.changed(venue.as_uuid());
    Ok(Json(moved.into()))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TableRequest {
    #[schema(
        pattern = r"^[^\x00-\x09\x0B-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069]*[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200D\u2028-\u202F\u205F-\u2069\u3000\uFEFF][^\x00-\x09\x0B-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069]*$",
        max_length = 40
    )]
    pub label: String,
    #[schema(minimum = 1, maximum = 100)]
    pub seats: u32,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TableView {
    pub id: String,
    pub venue_id: String,
    pub label: String,
    pub seats: u32,
    /// The signed token the table's QR code carries.
    pub token: String,
    /// What the QR code encodes.
    pub guest_url: String,
    /// Reservations: the smallest party the table is given to.
    pub min_party: u16,
    /// Reservations: the largest party the table is given to, its seats (`PUT /api/v1/tables/{table}/booking`
    /// changes both).
    pub max_party: u32,
    /// Reservations: offered by the public booking widget.
    pub online: bool,
}

pub(crate) fn table_view(
    state: &AppState,
    partner: comanda_domain::PartnerId,
    table: VenueTable,
) -> TableView {
    let entry = TableEntry {
        partner,
        venue: table.venue_id,
        table: table.id,
        version: table.token_version,
    };
    let token = table_token::issue(&state.table_key, &entry);
    TableView {
        id: table.id.to_string(),
        venue_id: table.venue_id.to_string(),
        label: table.label,
        seats: table.seats,
        guest_url: format!("{}/t/{token}", state.identity.public_origin()),
        token,
        min_party: table.min_party,
        max_party: table.seats,
        online: table.bookable_online,
    }
}

/// Adds a table to a venue.
#[utoipa::path(post, path = "/api/v1/venues/{venue}/tables", tag = "venues", security(("bearer" = [])),
    params(("venue" = String, Path)), request_body = TableRequest,
    responses((status = 201, body = TableView), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The venue has a table with this label already", body = Problem,
            content_type = "application/problem+json")))]
pub async fn create_table(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    Path(venue): Path<String>,
    ApiJson(request): ApiJson<TableRequest>,
) -> Result<(StatusCode, Json<TableView>), ApiError> {
    let venue = path_id(&venue)?;
    let mut errors = ValidationErrors::default();
    let label = clean_text(&mut errors, "label", &request.label, 1, 40);
    if !(1..=100).contains(&request.seats) {
        errors.push("seats", "must be between 1 and 100");
    }
    errors.into_result(())?;
    let table = state
        .store
        .create_table(
            &caller.scope,
            venue,
            &label,
            request.seats,
            &caller
                .audit(&ctx, "table.created")
                .detail(format!("venue={venue}")),
            state.clock.now(),
        )
        .await?;
    state.availability.changed(venue);
    Ok((
        StatusCode::CREATED,
        Json(table_view(&state, caller.scope.partner(), table)),
    ))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TableList {
    pub items: Vec<TableView>,
    pub next_cursor: Option<String>,
}

/// A venue's tables with their current QR tokens, in the order they were added.
#[utoipa::path(get, path = "/api/v1/venues/{venue}/tables", tag = "venues", security(("bearer" = [])),
    params(("venue" = String, Path), TimedListQuery), responses((status = 200, body = TableList)))]
pub async fn list_tables(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(venue): Path<String>,
    ApiQuery(query): ApiQuery<TimedListQuery>,
) -> Result<Json<TableList>, ApiError> {
    let (venue, page) = venue_page(&state, &caller, &venue, query.cursor.as_deref(), query.limit).await?;
    let page = state.store.tables(&caller.scope, venue, page).await?;
    Ok(Json(TableList {
        next_cursor: page.next.map(|c| c.encode()),
        items: page
            .items
            .into_iter()
            .map(|t| table_view(&state, caller.scope.partner(), t))
            .collect(),
    }))
}

/// Every table of a venue, read page by page (the QR sheet and the session views need them all).
async fn all_tables(state: &AppState, caller: &Caller, venue: Uuid) -> Result<Vec<VenueTable>, ApiError> {
    Ok(collect_all(|page| state.store.tables(&caller.scope, venue, page)).await?)
}

/// A table's new label (its seats and booking settings change at `PUT /api/v1/tables/{table}/booking`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TablePatch {
    #[schema(
        pattern = r"^[^\x00-\x09\x0B-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069]*[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200D\u2028-\u202F\u205F-\u2069\u3000\uFEFF][^\x00-\x09\x0B-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069]*$",
        max_length = 40
    )]
    pub label: String,
}

/// Renames a table ("Mesa 4" → "Terraza 1"); its printed QR code keeps working (audited as `table.renamed`, old and
/// new label in its detail).
#[utoipa::path(patch, path = "/api/v1/tables/{table}", tag = "venues", security(("bearer" = [])),
    params(("table" = String, Path)), request_body = TablePatch, responses(
        (status = 200, body = TableView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such table, or it is retired", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "Another table of the venue has this label", body = Problem,
            content_type = "application/problem+json")))]
pub async fn rename_table(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    Path(table): Path<String>,
    ApiJson(patch): ApiJson<TablePatch>,
) -> Result<Json<TableView>, ApiError> {
    let table = path_id(&table)?;
    let mut errors = ValidationErrors::default();
    let label = clean_text(&mut errors, "label", &patch.label, 1, 40);
    errors.into_result(())?;
    let current = state.store.table(&caller.scope, table).await?;
    let audit = caller
        .audit(&ctx, "table.renamed")
        .detail(format!("{:?}→{label:?}", current.label));
    let renamed = state
        .store
        .rename_table(&caller.scope, table, &label, &audit, state.clock.now())
        .await?;
    Ok(Json(table_view(&state, caller.scope.partner(), renamed)))
}

/// Retires a table taken off the floor. Its orders, bills, bookings and sales keep naming it, but its QR code stops
/// opening at once, it leaves the table list, the QR sheet and the tables the booking engine offers, and any
/// combination it was part of is withdrawn; its label is free for a new table (audited as `table.retired`, with the
/// combinations withdrawn). Refused (409) while a bill is open on it or a booking holds it from now on: close the bill
/// or move the booking first.
#[utoipa::path(delete, path = "/api/v1/tables/{table}", tag = "venues", security(("bearer" = [])),
    params(("table" = String, Path)), responses(
        (status = 204),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such table, or it is retired already", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "A bill is open on the table or a booking holds it", body = Problem,
            content_type = "application/problem+json")))]
pub async fn retire_table(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    Path(table): Path<String>,
    _no_body: crate::extract::NoBody,
) -> Result<StatusCode, ApiError> {
    let table = path_id(&table)?;
    let venue = state.store.table(&caller.scope, table).await?.venue_id;
    state
        .store
        .retire_table(
            &caller.scope,
            table,
            &caller.audit(&ctx, "table.retired"),
            state.clock.now(),
        )
        .await?;
    state.availability.changed(venue);
    Ok(StatusCode::NO_CONTENT)
}

/// Issues the table a new token: its old QR code stops working at once (audited).
#[utoipa::path(post, path = "/api/v1/tables/{table}/token/rotate", tag = "venues", security(("bearer" = [])),
    params(("table" = String, Path)), responses((status = 200, body = TableView)))]
pub async fn rotate_table_token(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    Path(table): Path<String>,
    _no_body: crate::extract::NoBody,
) -> Result<Json<TableView>, ApiError> {
    let table = path_id(&table)?;
    let audit = ctx
        .audit("table.token_rotated")
        .actor(caller.member.id)
        .target(table.to_string());
    let rotated = state
        .store
        .rotate_table_token(&caller.scope, table, &audit, state.clock.now())
        .await?;
    Ok(Json(table_view(&state, caller.scope.partner(), rotated)))
}

/// The table's QR code (SVG) encoding its guest URL.
#[utoipa::path(get, path = "/api/v1/tables/{table}/qr.svg", tag = "venues", security(("bearer" = [])),
    params(("table" = String, Path)), responses((status = 200, content_type = "image/svg+xml", body = String),
        (status = 400, body = Problem, content_type = "application/problem+json")))]
pub async fn table_qr(
    _no_query: crate::extract::NoQuery,
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(table): Path<String>,
) -> Result<Response, ApiError> {
    let table = state.store.table(&caller.scope, path_id(&table)?).await?;
    let view = table_view(&state, caller.scope.partner(), table);
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/svg+xml")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        crate::qr::svg(&view.guest_url),
    )
        .into_response())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryRequest {
    #[schema(value_type = comanda_domain::menu::LocalizedName)]
    pub name: Localized,
    #[serde(default)]
    pub position: i32,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CategoryView {
    pub id: String,
    pub name: Localized,
    pub position: i32,
}

/// Adds a menu category.
#[utoipa::path(post, path = "/api/v1/venues/{venue}/menu/categories", tag = "menu", security(("bearer" = [])),
    params(("venue" = String, Path)), request_body = CategoryRequest, responses((status = 201, body = CategoryView)))]
pub async fn create_category(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    Path(venue): Path<String>,
    ApiJson(request): ApiJson<CategoryRequest>,
) -> Result<(StatusCode, Json<CategoryView>), ApiError> {
    let venue = path_id(&venue)?;
    let mut errors = ValidationErrors::default();
    let name = Localized::parse(&mut errors, "name", &request.name, true);
    errors.into_result(())?;
    let category = state
        .store
        .create_category(
            &caller.scope,
            venue,
            &name,
            request.position,
            &caller
                .audit(&ctx, "menu.category_created")
                .detail(format!("venue={venue}")),
            state.clock.now(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CategoryView {
            id: category.id.to_string(),
            name: category.name,
            position: category.position,
        }),
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemRequest {
    #[schema(format = Uuid)]
    pub category_id: String,
    #[schema(value_type = comanda_domain::menu::LocalizedName)]
    pub name: Localized,
    #[serde(default = "empty_text")]
    pub description: Localized,
    /// Tax-included price in minor units (`{"amount": 1890000, "currency": "COP"}`).
    #[schema(value_type = MenuPrice)]
    pub price: Money,
    #[serde(default = "yes")]
    /// Whether the venue's tax (impuesto al consumo or IVA) applies to this item. Its price always contains the tax
    /// when it applies (prices shown to consumers in Colombia include every tax, Ley 1480 de 2011 art. 26): `true`
    /// (the default) puts the venue's rate inside the price; `false` marks an item exempt from the venue's tax, whose
    /// price carries none. It never adds tax on top of the price.
    pub tax_included: bool,
    #[serde(default = "yes")]
    pub available: bool,
    #[serde(default)]
    pub modifiers: Vec<ModifierGroup>,
}

/// The document's shape of a menu price: [`Money`] of 0 to 100.000.000,00 in minor units. Its currency must be the
/// venue's (a rule of the stored venue: 422).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct MenuPrice {
    /// Minor units (COP: centavos; 18.900 COP is 1890000).
    #[schema(minimum = 0, maximum = 10_000_000_000_i64)]
    amount: i64,
    currency: comanda_domain::Currency,
}

fn empty_text() -> Localized {
    Localized {
        es: String::new(),
        en: String::new(),
    }
}

fn yes() -> bool {
    true
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ItemView {
    pub id: String,
    pub category_id: String,
    pub name: Localized,
    pub description: Localized,
    pub price: Money,
    /// Whether the venue's tax applies, contained in the price (see `ItemRequest.tax_included`).
    pub tax_included: bool,
    pub available: bool,
    pub modifiers: Vec<ModifierGroup>,
    /// Changes whenever the price or the options change: a guest's order line carries it (`RequestedLine.version`)
    /// so that options chosen by position are never read against a changed dish.
    #[schema(pattern = "^[0-9a-f]{16}$")]
    pub version: String,
}

impl From<MenuItem> for ItemView {
    fn from(item: MenuItem) -> Self {
        Self {
            version: item.version(),
            id: item.id.to_string(),
            category_id: item.category_id.to_string(),
            name: item.name,
            description: item.description,
            price: item.price,
            tax_included: item.taxed,
            available: item.available,
            modifiers: item.modifiers,
        }
    }
}

/// Adds a menu item (prices in minor units, tax included).
#[utoipa::path(post, path = "/api/v1/venues/{venue}/menu/items", tag = "menu", security(("bearer" = [])),
    params(("venue" = String, Path)), request_body = ItemRequest, responses((status = 201, body = ItemView)))]
pub async fn create_item(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    Path(venue): Path<String>,
    ApiJson(request): ApiJson<ItemRequest>,
) -> Result<(StatusCode, Json<ItemView>), ApiError> {
    let venue_id = path_id(&venue)?;
    let venue = state
        .store
        .venue(&caller.scope, VenueId::from_uuid(venue_id))
        .await?;
    let mut errors = ValidationErrors::default();
    let mut rules = ValidationErrors::default();
    let name = Localized::parse(&mut errors, "name", &request.name, true);
    let description = Localized::parse(&mut errors, "description", &request.description, false);
    if request.price.currency != venue.currency {
        rules.push(
            "price.currency",
            format!("must be the venue's currency ({})", venue.currency.code()),
        );
    }
    if !(0..=10_000_000_000).contains(&request.price.amount) {
        errors.push("price.amount", "must be between 0 and 100.000.000,00");
    } else if !request.price.currency.is_payable(request.price.amount) {
        rules.push("price.amount", request.price.currency.unpayable_reason());
    }
    let category_id = request.category_id.parse::<Uuid>().map_err(|_| {
        errors.push("category_id", "is not a category of this venue");
    });
    let modifiers = check_modifiers(&request.modifiers, venue.currency, &mut rules)
        .map_err(|e| errors.0.extend(e.0))
        .unwrap_or_default();
    errors.into_result(())?;
    rules.into_result(()).map_err(ApiError::rule)?;
    let Ok(category_id) = category_id else {
        return Err(ValidationErrors::single("category_id", "is not valid").into());
    };
    let item = MenuItem {
        id: Uuid::now_v7(),
        venue_id,
        category_id,
        name,
        description,
        price: request.price,
        taxed: request.tax_included,
        available: request.available,
        modifiers,
    };
    let created = state
        .store
        .create_menu_item(
            &caller.scope,
            &item,
            &caller
                .audit(&ctx, "menu.item_created")
                .detail(format!("venue={venue_id} price={}", item.price.amount)),
            state.clock.now(),
        )
        .await
        .map_err(|e| match e {
            comanda_store::StoreError::NotFound => ApiError::rule(ValidationErrors::single(
                "category_id",
                "is not a category of this venue",
            )),
            other => other.into(),
        })?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemPatch {
    #[schema(format = Uuid)]
    pub category_id: Option<String>,
    /// A language left out keeps its text.
    #[schema(value_type = Option<comanda_domain::menu::LocalizedNamePatch>)]
    pub name: Option<comanda_domain::menu::LocalizedPatch>,
    pub description: Option<comanda_domain::menu::LocalizedPatch>,
    #[schema(value_type = Option<MenuPrice>)]
    pub price: Option<Money>,
    /// Whether the venue's tax applies to the item, contained in its price (see `ItemRequest.tax_included`).
    pub tax_included: Option<bool>,
    /// `false` marks the item sold out in one call.
    pub available: Option<bool>,
    pub modifiers: Option<Vec<ModifierGroup>>,
}

/// Edits an item; only the fields sent change. `{"available": false}` marks it sold out.
#[utoipa::path(patch, path = "/api/v1/menu/items/{item}", tag = "menu", security(("bearer" = [])),
    params(("item" = String, Path)), request_body = ItemPatch,
    responses((status = 200, body = ItemView), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn update_item(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    Path(item): Path<String>,
    ApiJson(patch): ApiJson<ItemPatch>,
) -> Result<Json<ItemView>, ApiError> {
    let mut item = state.store.menu_item(&caller.scope, path_id(&item)?).await?;
    let mut errors = ValidationErrors::default();
    let mut rules = ValidationErrors::default();
    if let Some(name) = &patch.name {
        item.name = Localized::parse(&mut errors, "name", &name.over(&item.name), true);
    }
    if let Some(description) = &patch.description {
        item.description = Localized::parse(
            &mut errors,
            "description",
            &description.over(&item.description),
            false,
        );
    }
    if let Some(price) = patch.price {
        if price.currency != item.price.currency {
            rules.push(
                "price.currency",
                format!("must be the venue's currency ({})", item.price.currency.code()),
            );
        }
        if !(0..=10_000_000_000).contains(&price.amount) {
            errors.push("price.amount", "must be between 0 and 100.000.000,00");
        } else if !price.currency.is_payable(price.amount) {
            rules.push("price.amount", price.currency.unpayable_reason());
        }
        item.price = price;
    }
    if let Some(modifiers) = &patch.modifiers {
        item.modifiers = check_modifiers(modifiers, item.price.currency, &mut rules)
            .map_err(|e| errors.0.extend(e.0))
            .unwrap_or_default();
    }
    if let Some(category) = &patch.category_id {
        match category.parse::<Uuid>() {
            Ok(id) => item.category_id = id,
            Err(_) => errors.push("category_id", "is not a category of this venue"),
        }
    }
    item.taxed = patch.tax_included.unwrap_or(item.taxed);
    item.available = patch.available.unwrap_or(item.available);
    errors.into_result(())?;
    rules.into_result(()).map_err(ApiError::rule)?;
    let saved = state
        .store
        .update_menu_item(
            &caller.scope,
            &item,
            &caller.audit(&ctx, "menu.item_updated").detail(format!(
                "price={} available={}",
                item.price.amount, item.available
            )),
            state.clock.now(),
        )
        .await
        .map_err(|e| match e {
            comanda_store::StoreError::NotFound => ApiError::rule(ValidationErrors::single(
                "category_id",
                "is not a category of this venue",
            )),
            other => other.into(),
        })?;
    Ok(Json(saved.into()))
}

/// Whether a dish can be ordered now: the kitchen's "86".
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemAvailability {
    /// `false`: sold out — gone from the guests' menu at once, and refused in an order sent from a menu opened before.
    pub available: bool,
}

/// Marks a dish sold out, or back on (the kitchen's "86"): the one change to the menu the kitchen and the servers
/// make themselves, in the middle of a service, without waiting for a manager. Audited as `menu.item_availability`.
#[utoipa::path(put, path = "/api/v1/menu/items/{item}/availability", tag = "menu", security(("bearer" = [])),
    params(("item" = String, Path)), request_body = ItemAvailability,
    responses((status = 200, body = ItemView), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn set_item_availability(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    Path(item): Path<String>,
    ApiJson(availability): ApiJson<ItemAvailability>,
) -> Result<Json<ItemView>, ApiError> {
    let mut item = state.store.menu_item(&caller.scope, path_id(&item)?).await?;
    item.available = availability.available;
    let saved = state
        .store
        .update_menu_item(
            &caller.scope,
            &item,
            &caller
                .audit(&ctx, "menu.item_availability")
                .detail(format!("available={}", item.available)),
            state.clock.now(),
        )
        .await?;
    Ok(Json(saved.into()))
}

/// Removes an item from the menu (orders keep their own copy of what was ordered).
#[utoipa::path(delete, path = "/api/v1/menu/items/{item}", tag = "menu", security(("bearer" = [])),
    params(("item" = String, Path)), responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn delete_item(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    Path(item): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .store
        .delete_menu_item(
            &caller.scope,
            path_id(&item)?,
            &caller.audit(&ctx, "menu.item_deleted"),
            state.clock.now(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryPatch {
    /// A language left out keeps its text.
    #[schema(value_type = Option<comanda_domain::menu::LocalizedNamePatch>)]
    pub name: Option<comanda_domain::menu::LocalizedPatch>,
    pub position: Option<i32>,
}

/// Renames or reorders a category; a language of the name left out keeps its text.
#[utoipa::path(patch, path = "/api/v1/menu/categories/{category}", tag = "menu", security(("bearer" = [])),
    params(("category" = String, Path)), request_body = CategoryPatch, responses((status = 200, body = CategoryView)))]
pub async fn update_category(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    Path(category): Path<String>,
    ApiJson(patch): ApiJson<CategoryPatch>,
) -> Result<Json<CategoryView>, ApiError> {
    let id = path_id(&category)?;
    let mut errors = ValidationErrors::default();
    let name = patch
        .name
        .as_ref()
        .map(|name| name.parse(&mut errors, "name", true))
        .unwrap_or_default();
    errors.into_result(())?;
    let saved = state
        .store
        .update_category(
            &caller.scope,
            id,
            &name,
            patch.position,
            &caller.audit(&ctx, "menu.category_updated"),
            state.clock.now(),
        )
        .await?;
    Ok(Json(CategoryView {
        id: saved.id.to_string(),
        name: saved.name,
        position: saved.position,
    }))
}

/// Removes an empty category (409 while it still has items).
#[utoipa::path(delete, path = "/api/v1/menu/categories/{category}", tag = "menu", security(("bearer" = [])),
    params(("category" = String, Path)),
    responses((status = 204), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn delete_category(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    Path(category): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .store
        .delete_category(
            &caller.scope,
            path_id(&category)?,
            &caller.audit(&ctx, "menu.category_deleted"),
            state.clock.now(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MenuView {
    pub categories: Vec<MenuCategoryView>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MenuCategoryView {
    pub id: String,
    pub name: Localized,
    pub items: Vec<ItemView>,
}

pub fn menu_view(
    categories: Vec<comanda_store::ordering::Category>,
    items: Vec<MenuItem>,
    only_available: bool,
) -> MenuView {
    MenuView {
        categories: categories
            .into_iter()
            .map(|c| MenuCategoryView {
                id: c.id.to_string(),
                items: items
                    .iter()
                    .filter(|i| i.category_id == c.id && (!only_available || i.available))
                    .cloned()
                    .map(ItemView::from)
                    .collect(),
                name: c.name,
            })
            .collect(),
    }
}

/// The venue's whole menu, sold-out items included.
#[utoipa::path(get, path = "/api/v1/venues/{venue}/menu", tag = "menu", security(("bearer" = [])),
    params(("venue" = String, Path)), responses((status = 200, body = MenuView)))]
pub async fn menu(
    _no_query: crate::extract::NoQuery,
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(venue): Path<String>,
) -> Result<Json<MenuView>, ApiError> {
    let venue = path_id(&venue)?;
    state
        .store
        .venue(&caller.scope, VenueId::from_uuid(venue))
        .await?;
    let (categories, items) = state.store.menu(&caller.scope, venue).await?;
    Ok(Json(menu_view(categories, items, false)))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderView {
    pub id: String,
    pub venue_id: String,
    /// The table whose bill the order is on.
    pub table_id: String,
    /// The table its dishes go to: `table_id`, but for an order placed from another table of a party seated at
    /// joined tables (the party's one bill is on its first table).
    pub served_table_id: String,
    pub status: OrderStatus,
    pub lines: Vec<comanda_domain::menu::PricedLine>,
    pub subtotal: Money,
    /// The tax the prices contain (impuesto al consumo or IVA), computed once per rate and rounded half up.
    pub tax: Money,
    /// What the order adds to the bill: menu prices include tax, so the subtotal itself (a tip is the guest's
    /// choice at payment, never added here).
    pub total: Money,
    pub cancel_reason: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub placed_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: time::OffsetDateTime,
}

impl From<Order> for OrderView {
    fn from(o: Order) -> Self {
        Self {
            id: o.id.to_string(),
            venue_id: o.venue_id.to_string(),
            table_id: o.table_id.to_string(),
            served_table_id: o.served_table_id.to_string(),
            status: o.status,
            lines: o.lines,
            subtotal: o.subtotal,
            tax: o.tax,
            total: o.subtotal,
            cancel_reason: o.cancel_reason,
            placed_at: o.placed_at,
            updated_at: o.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OrdersQuery {
    pub status: Option<OrderStatus>,
    #[param(pattern = r"^([A-Za-z0-9_-]{21}[AQgw]A{9}[A-H][A-Za-z0-9_-]{10}[AEIMQUYcgkosw048])?$")]
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderList {
    pub items: Vec<OrderView>,
    pub next_cursor: Option<String>,
}

/// The orders of the venue's open tables, oldest first, optionally of one status (the kitchen queue). Paginated
/// by `(placed_at, id)`: follow `next_cursor` until it is `null` to see every order.
#[utoipa::path(get, path = "/api/v1/venues/{venue}/orders", tag = "orders", security(("bearer" = [])),
    params(("venue" = String, Path), OrdersQuery), responses((status = 200, body = OrderList)))]
pub async fn venue_orders(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(venue): Path<String>,
    ApiQuery(query): ApiQuery<OrdersQuery>,
) -> Result<Json<OrderList>, ApiError> {
    let (venue, page) = venue_page(&state, &caller, &venue, query.cursor.as_deref(), query.limit).await?;
    let page = state
        .store
        .venue_orders(&caller.scope, venue, query.status, page)
        .await?;
    Ok(Json(OrderList {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next.map(|c| c.encode()),
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionRequest {
    pub to: OrderStatus,
    pub reason: Option<String>,
}

/// Moves an order one step (placed → accepted → preparing → ready → served) or cancels it before it is served.
#[utoipa::path(post, path = "/api/v1/orders/{order}/transitions", tag = "orders", security(("bearer" = [])),
    params(("order" = String, Path)), request_body = TransitionRequest,
    responses(
        (status = 200, body = OrderView),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn transition(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    Path(order): Path<String>,
    ApiJson(request): ApiJson<TransitionRequest>,
) -> Result<Json<OrderView>, ApiError> {
    let order = state.store.order(&caller.scope, path_id(&order)?).await?;
    let to = order
        .status
        .transition(request.to, request.reason.as_deref())
        .map_err(|error| match error {
            comanda_domain::order::TransitionError::ReasonNotTaken => {
                ApiError::rule(ValidationErrors::single("reason", error.to_string()))
            }
            _ => ApiError::from(Problem::new(ProblemType::BusinessRule).detail(error.to_string())),
        })?;
    let actor = caller.actor();
    let updated = state
        .store
        .transition_order(
            &caller.scope,
            order.id,
            order.status,
            to,
            &actor,
            request.reason.as_deref(),
            &caller.audit(&ctx, "order.transitioned").detail(format!(
                "from={} to={}",
                order.status.as_str(),
                to.as_str()
            )),
            state.clock.now(),
        )
        .await?;
    state
        .order_events
        .announce(caller.scope.partner().as_uuid(), updated.venue_id);
    Ok(Json(updated.into()))
}

/// The table's QR code as a PNG (8 px per module).
#[utoipa::path(get, path = "/api/v1/tables/{table}/qr.png", tag = "venues", security(("bearer" = [])),
    params(("table" = String, Path)), responses((status = 200, content_type = "image/png", body = Vec<u8>),
        (status = 400, body = Problem, content_type = "application/problem+json")))]
pub async fn table_qr_png(
    _no_query: crate::extract::NoQuery,
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(table): Path<String>,
) -> Result<Response, ApiError> {
    let table = state.store.table(&caller.scope, path_id(&table)?).await?;
    let view = table_view(&state, caller.scope.partner(), table);
    let png = crate::qr::png(&view.guest_url, 8)
        .ok_or_else(|| ApiError::from(Problem::new(ProblemType::Internal)))?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/png")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        png,
    )
        .into_response())
}

/// A printable PDF sheet of every table's QR code with its label and the venue's name.
#[utoipa::path(get, path = "/api/v1/venues/{venue}/tables/qr.pdf", tag = "venues", security(("bearer" = [])),
    params(("venue" = String, Path)), responses((status = 200, content_type = "application/pdf", body = Vec<u8>),
        (status = 400, body = Problem, content_type = "application/problem+json")))]
pub async fn tables_qr_pdf(
    _no_query: crate::extract::NoQuery,
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(venue): Path<String>,
) -> Result<Response, ApiError> {
    let venue = state
        .store
        .venue(&caller.scope, VenueId::from_uuid(path_id(&venue)?))
        .await?;
    let tables = all_tables(&state, &caller, venue.id.as_uuid()).await?;
    let entries: Vec<(String, String)> = tables
        .into_iter()
        .map(|t| {
            let view = table_view(&state, caller.scope.partner(), t);
            (view.label, view.guest_url)
        })
        .collect();
    let pdf = crate::qr::pdf_sheet(&venue.name, &entries);
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/pdf")),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("inline; filename=\"tables.pdf\""),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        pdf,
    )
        .into_response())
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    pub id: String,
    pub table_id: String,
    pub table: String,
    pub status: crate::routes::wire::SessionStatus,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: time::OffsetDateTime,
    /// The bill against its payments.
    pub balance: crate::routes::wire::SessionBalance,
}

async fn session_views(
    state: &AppState,
    caller: &Caller,
    venue: Uuid,
    sessions: Vec<comanda_store::ordering::TableSession>,
) -> Result<Vec<SessionView>, ApiError> {
    let tables = all_tables(state, caller, venue).await?;
    let ids: Vec<Uuid> = sessions.iter().map(|s| s.id).collect();
    let balances = state.store.session_balances(&caller.scope, &ids).await?;
    Ok(sessions
        .into_iter()
        .zip(balances)
        .map(|(s, balance)| SessionView {
            balance: balance.into(),
            id: s.id.to_string(),
            table_id: s.table_id.to_string(),
            table: tables
                .iter()
                .find(|t| t.id == s.table_id)
                .map(|t| t.label.clone())
                .unwrap_or_default(),
            status: s.status.into(),
            created_at: s.created_at,
        })
        .collect())
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionList {
    pub items: Vec<SessionView>,
    pub next_cursor: Option<String>,
}

/// The venue's live table sessions, oldest first; pending ones wait for staff to accept the table.
#[utoipa::path(get, path = "/api/v1/venues/{venue}/table-sessions", tag = "orders", security(("bearer" = [])),
    params(("venue" = String, Path), TimedListQuery), responses((status = 200, body = SessionList)))]
pub async fn table_sessions(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(venue): Path<String>,
    ApiQuery(query): ApiQuery<TimedListQuery>,
) -> Result<Json<SessionList>, ApiError> {
    let (venue, page) = venue_page(&state, &caller, &venue, query.cursor.as_deref(), query.limit).await?;
    let page = state.store.venue_sessions(&caller.scope, venue, page).await?;
    Ok(Json(SessionList {
        next_cursor: page.next.map(|c| c.encode()),
        items: session_views(&state, &caller, venue, page.items).await?,
    }))
}

/// Accepts a table's pending session: its orders go to the kitchen. A QR code photographed earlier cannot order
/// unattended.
#[utoipa::path(post, path = "/api/v1/table-sessions/{session}/accept", tag = "orders", security(("bearer" = [])),
    params(("session" = String, Path)),
    responses((status = 200, body = SessionView), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn accept_session(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    Path(session): Path<String>,
    _no_body: crate::extract::NoBody,
) -> Result<Json<SessionView>, ApiError> {
    let actor = caller.actor();
    let accepted = state
        .store
        .accept_session(
            &caller.scope,
            path_id(&session)?,
            &actor,
            caller.member.id,
            &caller.audit(&ctx, "table_session.accepted"),
            state.clock.now(),
        )
        .await?;
    state
        .order_events
        .announce(caller.scope.partner().as_uuid(), accepted.venue_id);
    let venue = accepted.venue_id;
    let mut views = session_views(&state, &caller, venue, vec![accepted]).await?;
    views.pop().map(Json).ok_or(ApiError::NotFound)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveSessionRequest {
    /// The table of the same venue the party moved to; it must have no live bill of its own.
    #[schema(format = Uuid)]
    pub table_id: String,
}

/// Moves a live bill to another table of its venue: the party changed tables (a draught, a bigger table, the
/// terrace). Its orders, cash and balance go with it; its guests order and pay from the new table's code (the old
/// table's code starts the next party's bill), the kitchen serves the orders not served yet at the new table, and
/// the old table is free. A party seated from its booking takes the booking along: it holds the new table, alone,
/// for the rest of its turn, and its old tables are free. Audited as `table_session.moved`.
#[utoipa::path(post, path = "/api/v1/table-sessions/{session}/move", tag = "orders", security(("bearer" = [])),
    params(("session" = String, Path)), request_body = MoveSessionRequest,
    responses((status = 200, body = SessionView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The bill is closed, or the table has a live bill of its own", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "Not a table of the venue in service, a table another seated party holds, or \
            (for a party seated from its booking) a table booked for another party within its turn", body = Problem,
            content_type = "application/problem+json")))]
pub async fn move_session(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    Path(session): Path<String>,
    ApiJson(request): ApiJson<MoveSessionRequest>,
) -> Result<Json<SessionView>, ApiError> {
    let session = path_id(&session)?;
    let table = request
        .table_id
        .parse::<Uuid>()
        .map_err(|_| ValidationErrors::single("table_id", "is not a table id"))?;
    let moved = state
        .store
        .move_session(
            &caller.scope,
            session,
            table,
            &caller.actor(),
            &caller.audit(&ctx, "table_session.moved"),
            state.clock.now(),
        )
        .await?;
    state
        .order_events
        .announce(caller.scope.partner().as_uuid(), moved.venue_id);
    let venue = moved.venue_id;
    // The old table is free (and a seated party's booking holds another): bookings and the waitlist see it now.
    state.availability.changed(venue);
    crate::waitlist::offer_freed(&state, &caller.scope, venue).await;
    let mut views = session_views(&state, &caller, venue, vec![moved]).await?;
    views.pop().map(Json).ok_or(ApiError::NotFound)
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CloseQuery {
    /// First cancel the bill's payments in progress (at Stripe, then their holds): a guest who started paying and
    /// left would otherwise keep the table open for the hold's 15 minutes. A payment Stripe already took cannot be
    /// cancelled: it stays, and so does the table (409).
    #[serde(default)]
    pub cancel_payments: bool,
    /// Close although the bill is not paid in full (the guests paid another way, or left without paying); what was
    /// left is written in the audit entry. Without it such a close is refused (409 `bill-not-settled`), as is one
    /// that cancels payments in progress.
    #[serde(default)]
    pub unpaid: bool,
}

/// The table whose bill `table` of `venue` is on (404 for a table of another venue): the table itself, or for a
/// table joined for a seated party the party's first table, where its one bill is — so staff at either table take
/// cash for, and close, the party's bill.
pub(crate) async fn bill_table(
    state: &AppState,
    scope: &comanda_security::TenantScope,
    venue: Uuid,
    table: Uuid,
) -> Result<Uuid, ApiError> {
    if state.store.table(scope, table).await?.venue_id != venue {
        return Err(ApiError::NotFound);
    }
    Ok(state
        .store
        .party_bill_table(scope, venue, table)
        .await?
        .map_or(table, |(billed, _)| billed))
}

/// Closes the table: its session ends (every guest device loses its hold) once the bill is settled (API.md; or with
/// `unpaid=true`, audited with what was left), every order is served or cancelled and no payment is in progress
/// (`cancel_payments=true` cancels those first); the next order opens a new session that staff must accept again. A
/// party seated from a booking at this bill is finished with it.
#[utoipa::path(post, path = "/api/v1/venues/{venue}/tables/{table}/close", tag = "orders", security(("bearer" = [])),
    params(("venue" = String, Path), ("table" = String, Path), CloseQuery),
    responses((status = 200, body = SessionView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The bill is not paid in full and the caller may not settle bills (the kitchen)",
            body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn close_table(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    Path((venue, table)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<CloseQuery>,
    _no_body: crate::extract::NoBody,
) -> Result<Json<SessionView>, ApiError> {
    let (venue, table) = (path_id(&venue)?, path_id(&table)?);
    let table = bill_table(&state, &caller.scope, venue, table).await?;
    let live = state.store.live_session(&caller.scope, table).await?;
    // What the bill still lacks: refused before anything is cancelled, so a refused close costs no guest a payment.
    if let Some(session) = &live {
        let balance = state.store.session_balance(&caller.scope, session.id).await?;
        let left = balance.total.amount.saturating_sub(balance.paid.amount).max(0);
        if left > 0 && !query.unpaid {
            return Err(comanda_store::StoreError::Unsettled { left }.into());
        }
        // Closing a bill not paid in full settles it another way (the cash a server took at the table) or lets it
        // go: the servers who handle bills, managers and owners decide that, never the kitchen (audited either way).
        if left > 0 && !caller.member.standing.allows(Permission::SettleBills) {
            return Err(Problem::new(ProblemType::Forbidden)
                .detail(format!(
                    "{left} (minor units) of this bill is not paid: a server, manager or owner closes a table whose \
                     bill is not paid in full"
                ))
                .into());
        }
    }
    let mut cancelled = 0;
    if query.cancel_payments
        && let Some(service) = state.payments.as_deref()
        && let Some(session) = &live
    {
        // A close refused anyway (an order not served yet) must not have cost a guest their payment: that is
        // checked first, and only payments in progress are cancelled.
        let unfinished = state
            .store
            .table_orders(&caller.scope, table)
            .await?
            .iter()
            .filter(|o| !matches!(o.status, OrderStatus::Served | OrderStatus::Cancelled))
            .count();
        if unfinished > 0 {
            return Err(ApiError::Conflict(format!(
                "{unfinished} order(s) are neither served nor cancelled"
            )));
        }
        for held in state.store.session_holds(&caller.scope, session.id, None).await? {
            let reason = comanda_domain::payment::cancelled_because::STAFF_CLOSED_THE_TABLE;
            if crate::payments::cancel_payment(&state.store, service, &caller.scope, &held, reason)
                .await
                .is_some()
            {
                cancelled += 1;
            }
        }
    }
    let actor = caller.actor();
    // Decided again under the bill's lock in the closing transaction: a cash record voided meanwhile is owed again.
    let allow_unpaid = query.unpaid && caller.member.standing.allows(Permission::SettleBills);
    let closed = state
        .store
        .close_table(
            &caller.scope,
            table,
            &actor,
            allow_unpaid,
            &caller
                .audit(&ctx, "table_session.closed")
                .detail(format!("table={table} payments_cancelled={cancelled}")),
            state.clock.now(),
        )
        .await?;
    // A party seated from a booking left with the bill: its tables are free for bookings and the waitlist now.
    state.availability.changed(venue);
    crate::waitlist::offer_freed(&state, &caller.scope, venue).await;
    let mut views = session_views(&state, &caller, venue, vec![closed]).await?;
    views.pop().map(Json).ok_or(ApiError::NotFound)
}
