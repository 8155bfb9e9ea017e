//! Guests: no account, the table token in the path is the credential. A token that does not verify, names a
//! rotated version, or names another venue's table reads as "not found".

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use comanda_domain::bill::{Bill, TipChoice, compute_bill};
use comanda_domain::menu::{MenuItem, RequestedLine, price_order};
use comanda_domain::{Money, OrderStatus, ValidationErrors, Venue};
use comanda_security::TenantScope;
use comanda_security::table_token;
use comanda_store::identity::AuditEntry;
use comanda_store::ordering::{OrderDraft, PlaceOutcome, VenueTable};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::RequestContext;
use crate::extract::ApiJson;
use crate::problem::{ApiError, Problem, ProblemType};
use crate::routes::ordering::{MenuView, OrderView, menu_view};

/// The table a verified token opens.
pub(crate) struct GuestTable {
    pub scope: TenantScope,
    pub venue: Venue,
    /// The table whose bill the guest orders on and pays (a joined table's party bills on its first table).
    pub table: VenueTable,
    /// The table the guest's code names.
    pub scanned: Uuid,
}

/// The table a verified token names, before anything of the partner's is read but the party it may be joined for.
struct TokenAccess {
    scope: TenantScope,
    venue: Uuid,
    /// The table the token names.
    scanned: Uuid,
    /// The table whose bill the guest orders on and pays: the token's, or, for a table joined for a seated party
    /// (a booking seated at several tables), the party's first table, where its one bill is.
    table: Uuid,
    /// A joined table's party: all its tables, in the booking's order; empty otherwise.
    party: Vec<Uuid>,
}

/// The tenant, venue and table a table code names, once its signature and version hold.
async fn verified_table(state: &AppState, token: &str) -> Result<(TenantScope, Uuid, Uuid), ApiError> {
    let not_found = || {
        ApiError::from(Problem::new(ProblemType::NotFound).detail("this table code is not valid any more"))
    };
    let table_id = table_token::claimed_table(token).ok_or_else(not_found)?;
    let entry = state.store.table_entry(table_id).await?.ok_or_else(not_found)?;
    let access = table_token::verify(&state.table_key, token, &entry).ok_or_else(not_found)?;
    crate::audit::note_guest_partner(entry.partner);
    Ok((TenantScope::from_proof(&access.proof), access.venue, access.table))
}

async fn verify_token(state: &AppState, token: &str) -> Result<TokenAccess, ApiError> {
    let (scope, venue, scanned) = verified_table(state, token).await?;
    let joined = state.store.party_bill_table(&scope, venue, scanned).await?;
    let (table, party) = joined.unwrap_or((scanned, Vec::new()));
    Ok(TokenAccess {
        scope,
        venue,
        scanned,
        table,
        party,
    })
}

/// A guest's change as the audit chain records it (MON-5): no actor and no client address (a guest is not a member,
/// and their address is personal data), only the table and the request id.
pub(crate) fn guest_audit(ctx: &RequestContext, action: &str, table: Uuid) -> AuditEntry {
    AuditEntry {
        request_id: ctx.request_id.clone(),
        ..AuditEntry::new(action).detail(format!("table={table} by=guest"))
    }
}

/// The table a guest's code opens, as the guest orders and pays on it: a table joined for a seated party (a booking
/// seated at several tables) answers with the party's one bill, on its first table, named by all its tables ("Mesa
/// 4 + Mesa 5"), so the party orders and pays together from any of its tables' codes.
pub(crate) async fn resolve(state: &AppState, token: &str) -> Result<GuestTable, ApiError> {
    let access = verify_token(state, token).await?;
    let (venue, mut table) = state
        .store
        .guest_table(&access.scope, access.venue, access.table)
        .await?;
    if !access.party.is_empty() {
        let mut labels = Vec::with_capacity(access.party.len());
        for id in &access.party {
            labels.push(if *id == table.id {
                table.label.clone()
            } else {
                state.store.table(&access.scope, *id).await?.label
            });
        }
        table.label = labels.join(" + ");
    }
    Ok(GuestTable {
        scope: access.scope,
        venue,
        table,
        scanned: access.scanned,
    })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GuestVenue {
    pub name: String,
    pub currency: comanda_domain::Currency,
    /// The venue's IANA time zone: the guest's page shows clock times in it, whatever the phone's own zone says.
    #[schema(example = "America/Bogota")]
    pub timezone: String,
}

/// The table's session as a guest sees it: `pending` until staff accept the table, then `open`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GuestSession {
    pub status: crate::routes::wire::SessionStatus,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GuestView {
    pub venue: GuestVenue,
    pub table: String,
    /// `null` until the table's first order.
    pub session: Option<GuestSession>,
    /// Only what can be ordered now.
    pub menu: MenuView,
    pub bill: Bill,
}

/// The table's bill, its lines described in the guest's language (`Accept-Language`, as the pages negotiate it).
async fn table_bill(
    state: &AppState,
    guest: &GuestTable,
    headers: &HeaderMap,
) -> Result<(Bill, Vec<comanda_store::ordering::Order>), ApiError> {
    let english = crate::routes::pages::Lang::negotiate(headers) == crate::routes::pages::Lang::En;
    let orders = state.store.table_orders(&guest.scope, guest.table.id).await?;
    let lines = orders
        .iter()
        .filter(|o| o.status != OrderStatus::Cancelled)
        .flat_map(|o| o.lines.iter().map(|l| l.bill_line_in(english)))
        .collect();
    let bill = compute_bill(
        guest.venue.currency,
        lines,
        guest.venue.tax,
        1_000,
        TipChoice::None,
    )
    .map_err(|e| ApiError::from(Problem::new(ProblemType::BusinessRule).detail(e.to_string())))?;
    Ok((bill, orders))
}

/// The guest page's data: venue, table, available menu, and the open bill.
#[utoipa::path(get, path = "/api/v1/t/{token}", tag = "guests", params(("token" = String, Path)),
    responses((status = 200, body = GuestView), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn table(
    _no_query: crate::extract::NoQuery,
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Json<GuestView>, ApiError> {
    let guest = resolve(&state, &token).await?;
    let (categories, items) = state.store.menu(&guest.scope, guest.venue.id.as_uuid()).await?;
    let (bill, _) = table_bill(&state, &guest, &headers).await?;
    let session = state
        .store
        .live_session(&guest.scope, guest.table.id)
        .await?
        .map(|s| GuestSession {
            status: s.status.into(),
        });
    Ok(Json(GuestView {
        venue: GuestVenue {
            name: guest.venue.name.clone(),
            currency: guest.venue.currency,
            timezone: guest.venue.timezone.clone(),
        },
        table: guest.table.label.clone(),
        session,
        menu: menu_view(categories, items, true),
        bill,
    }))
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GuestOrderRequest {
    #[schema(min_items = 1, max_items = 100)]
    pub items: Vec<RequestedLine>,
}

/// The guest's device (a random id the guest page keeps), which alone may cancel its own unaccepted orders.
pub(crate) fn guest_device(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("x-guest-device") else {
        return Ok(None);
    };
    let device = value.to_str().ok().map(str::trim).filter(|d| {
        !d.is_empty()
            && d.len() <= 64
            && d.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    device.map(|d| Some(d.to_owned())).ok_or_else(|| {
        comanda_domain::ValidationErrors::single("X-Guest-Device", "must be 1–64 letters, digits, - or _")
            .into()
    })
}

/// The digest an Idempotency-Key is stored with to recognise its request: keyed (HMAC-SHA256 under a key derived
/// from the platform key), because a guest's request names them, and a plain hash of a name, phone and email could
/// be matched by anyone holding a guess and the database.
pub(crate) fn request_digest(state: &AppState, body: &[u8]) -> Vec<u8> {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, state.booking_key.expose());
    let mut digest = ring::hmac::Context::with_key(&key);
    digest.update(b"idempotent request\n");
    digest.update(body);
    digest.sign().as_ref().to_vec()
}

pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 200 && k.bytes().all(|b| b.is_ascii_graphic()));
    key.map(|k| Some(k.to_owned())).ok_or_else(|| {
        comanda_domain::ValidationErrors::single("Idempotency-Key", "must be 1–200 printable characters")
            .into()
    })
}

/// Places an order. Prices come from the menu (a body that sends a price is refused with 400, as any unknown field
/// is); a retry with the same `Idempotency-Key` returns the first order, the same key with another body is 409.
#[utoipa::path(post, path = "/api/v1/t/{token}/orders", tag = "guests", params(("token" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, pattern = r"^[!-~]{1,200}$",
            description = "A retry with the same key returns the first order; the same key with another body is 409"),
        ("X-Guest-Device" = Option<String>, Header, pattern = r"^[A-Za-z0-9_-]{1,64}$",
            description = "The guest page's device id: only this device may later cancel the order")),
    request_body = GuestOrderRequest, responses(
        (status = 201, body = OrderView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json",
            description = "a line the menu cannot serve: sold out, an unknown item or modifier"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn place_order(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    ctx: RequestContext,
    ApiJson(request): ApiJson<GuestOrderRequest>,
) -> Result<(StatusCode, HeaderMap, Json<OrderView>), ApiError> {
    state.identity.guest_write_attempt(&ctx)?;
    order_shape(&request)?;
    let key = idempotency_key(&headers)?;
    let device = guest_device(&headers)?;
    // The party bill a joined table orders on is read by the store as it places the order (one round trip less).
    let (scope, venue, scanned) = verified_table(&state, &token).await?;
    let body = serde_json::to_vec(&request).unwrap_or_default();
    let draft = OrderDraft {
        id: Uuid::now_v7(),
        venue_id: venue,
        table_id: scanned,
        item_ids: request
            .items
            .iter()
            .filter_map(|line| line.item_id.parse().ok())
            .collect(),
        idempotency_key: key,
        request_hash: ring::digest::digest(&ring::digest::SHA256, &body)
            .as_ref()
            .to_vec(),
        device,
    };
    // Priced inside the order's transaction from only the items ordered. Lines that cannot be ordered (sold out,
    // bad modifiers, quantity outside 1..=50) are a business refusal: 422, naming each field.
    let price = |venue: &Venue, items: &[MenuItem]| {
        let lines = price_order(items, &request.items)?;
        let subtotal = Money::sum(
            venue.currency,
            lines
                .iter()
                .filter_map(|l| l.unit_price.checked_mul(l.quantity).ok()),
        )
        .map_err(|e| ValidationErrors::single("items", e.to_string()))?;
        Ok((lines, subtotal))
    };
    let placed = state
        .store
        .place_guest_order(
            &scope,
            &draft,
            &price,
            &guest_audit(&ctx, "order.placed", scanned),
            state.clock.now(),
        )
        .await?;
    let outcome = placed.map_err(|errors| {
        let mut problem = Problem::new(ProblemType::BusinessRule).detail("some lines cannot be ordered");
        problem.errors = errors.0;
        ApiError::from(problem)
    })?;
    match outcome {
        PlaceOutcome::Created(created) => {
            state
                .order_events
                .announce(scope.partner().as_uuid(), created.venue_id);
            Ok((StatusCode::CREATED, HeaderMap::new(), Json(created.into())))
        }
        PlaceOutcome::Replayed(first) => Ok((
            StatusCode::CREATED,
            crate::idempotency::replayed_headers(true),
            Json(first.into()),
        )),
        PlaceOutcome::KeyReused => Err(Problem::new(ProblemType::Conflict)
            .detail("this Idempotency-Key was used for another order")
            .into()),
    }
}

/// What the document's schema says of an order (1 to 100 lines, quantities 1 to 50, notes of at most 300
/// characters without control characters), answered as bad input (400) before anything is read; what depends on
/// the menu (sold out, modifiers) is a business refusal (422) when the order is priced.
fn order_shape(request: &GuestOrderRequest) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::default();
    if request.items.is_empty() || request.items.len() > 100 {
        errors.push("items", "must hold 1 to 100 lines");
    }
    for (i, line) in request.items.iter().enumerate() {
        if !(1..=50).contains(&line.quantity) {
            errors.push(format!("items[{i}].quantity"), "must be 1 to 50");
        }
        if let Some(note) = &line.note
            && (note.chars().count() > 300 || note.chars().any(comanda_domain::validation::refused_in_text))
        {
            errors.push(
                format!("items[{i}].note"),
                "must be at most 300 characters, without control characters",
            );
        }
    }
    errors.into_result(())
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GuestOrder {
    #[serde(flatten)]
    pub order: OrderView,
    /// Placed from this device (sent as `X-Guest-Device`): only such orders can be cancelled by the guest.
    pub mine: bool,
    /// This device's order the guest may still cancel: the kitchen has not accepted it, and the bill stays above
    /// what its guests paid, are paying or paid in cash without it (a paid order is refunded by the venue first).
    /// The cancellation decides again when it is asked.
    pub cancellable: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GuestBill {
    pub bill: Bill,
    pub session: Option<GuestSession>,
    /// When this table has no live bill but this device (`X-Guest-Device`) ordered on one at another table of the
    /// venue (staff moved the party there): that table's label, whose code shows the bill. `null` otherwise.
    pub bill_at: Option<String>,
    pub orders: Vec<GuestOrder>,
    /// Paid so far (tips excluded).
    pub paid: Money,
    /// Neither paid nor being paid.
    pub remaining: Money,
    /// The live balance every guest of the table sees: total, paid, being paid, left, settled.
    pub balance: crate::routes::wire::SessionBalance,
    /// The parts of lines the bill's item splits paid or are paying (a line is paid once, whole or in parts; the
    /// part that completes a line pays what its other parts left of it), but for this device's own payment in
    /// progress, which its next payment replaces.
    pub claims: Vec<LineClaimView>,
    /// This device's own payment started and not finished (sent `X-Guest-Device`), which the rest of the table sees
    /// in progress until it ends or lapses: the guest can finish it, give it up, or start another (which replaces it).
    pub unfinished: Option<UnfinishedPayment>,
}

/// A guest's own payment in progress, as their device's bill shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UnfinishedPayment {
    pub payment_id: Uuid,
    /// What it would charge: the share plus the tip.
    pub total: Money,
    /// When it lapses by itself and its share is free again.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: time::OffsetDateTime,
}

/// A part of a line taken by one of the bill's item payments.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LineClaimView {
    pub order_id: Uuid,
    /// The line's position within its order (0-based).
    pub line: u32,
    /// The fraction of the line taken: `numerator / denominator`.
    pub numerator: u32,
    pub denominator: u32,
    /// What this part was charged (minor units, tip excluded); `null` for a payment made before parts' amounts were
    /// kept, whose part counts as its fraction rounded half up.
    pub amount: Option<i64>,
}

impl From<comanda_domain::payment::LineClaim> for LineClaimView {
    fn from(claim: comanda_domain::payment::LineClaim) -> Self {
        LineClaimView {
            order_id: claim.share.order_id,
            line: claim.share.line,
            numerator: claim.share.numerator,
            denominator: claim.share.denominator,
            amount: claim.amount,
        }
    }
}

/// The table's open bill: lines, subtotal, the tax it contains, the suggested tip apart, and the orders' status.
#[utoipa::path(get, path = "/api/v1/t/{token}/bill", tag = "guests", params(("token" = String, Path)),
    responses((status = 200, body = GuestBill), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn bill(
    _no_query: crate::extract::NoQuery,
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Json<GuestBill>, ApiError> {
    let device = guest_device(&headers)?;
    let guest = resolve(&state, &token).await?;
    let (bill, orders) = table_bill(&state, &guest, &headers).await?;
    let live = state.store.live_session(&guest.scope, guest.table.id).await?;
    let ((balance, unfinished, covered), claims) = match &live {
        Some(session) => (
            own_view_of_balance(&state, &guest, session.id, device.as_deref()).await?,
            state
                .store
                .line_claims(&guest.scope, session.id, device.as_deref())
                .await?,
        ),
        None => (
            (
                comanda_store::payments::SessionBalance::new(Money::zero(bill.currency), 0, 0),
                None,
                comanda_store::ordering::BillCoverage::default(),
            ),
            Vec::new(),
        ),
    };
    // A party's bill staff moved to another table: its guests' phones still on this table's code are told where.
    let bill_at = match (&live, device.as_deref()) {
        (None, Some(device)) => {
            match state
                .store
                .device_bill_table(&guest.scope, guest.venue.id.as_uuid(), device)
                .await?
            {
                Some(table) if table != guest.table.id => {
                    Some(state.store.table(&guest.scope, table).await?.label)
                }
                _ => None,
            }
        }
        _ => None,
    };
    let session = live.map(|s| GuestSession {
        status: s.status.into(),
    });
    let total = balance.total.amount;
    let orders = orders
        .into_iter()
        .map(|o| {
            let mine = device.is_some() && o.device == device;
            let cancellable =
                mine && o.status == OrderStatus::Placed && covered.may_shrink_to(total - o.subtotal.amount);
            let mut order = OrderView::from(o);
            // A note to the kitchen is its writer's (an allergy is health data): the rest of the table, and the
            // next party at it, reads the dishes, not what another guest wrote.
            if !mine {
                for line in &mut order.lines {
                    line.note = None;
                }
            }
            GuestOrder {
                mine,
                cancellable,
                order,
            }
        })
        .collect();
    Ok(Json(GuestBill {
        remaining: balance.remaining,
        paid: balance.paid,
        balance: balance.into(),
        session,
        bill_at,
        orders,
        bill,
        claims: claims.into_iter().map(LineClaimView::from).collect(),
        unfinished,
    }))
}

/// The bill's balance as a guest's device sees it: its own unfinished payment (one with a PaymentIntent, which its
/// next payment replaces) counts as free, as the line claims leave it out, so a guest who reloads the pay page mid
/// payment is shown what they would pay, not "nothing left". With it, that payment, newest first: the rest of the
/// table sees it in progress until it ends or lapses, so the page offers to give it up. Last, what the bill's money
/// covers, read as the order's cancellation reads it: Cancel is offered exactly when the money allows it.
async fn own_view_of_balance(
    state: &AppState,
    guest: &GuestTable,
    session: Uuid,
    device: Option<&str>,
) -> Result<
    (
        comanda_store::payments::SessionBalance,
        Option<UnfinishedPayment>,
        comanda_store::ordering::BillCoverage,
    ),
    ApiError,
> {
    let balance = state.store.session_balance(&guest.scope, session).await?;
    let covered = state.store.bill_coverage(&guest.scope, session).await?;
    let Some(device) = device else {
        return Ok((balance, None, covered));
    };
    let own: Vec<_> = state
        .store
        .session_holds(&guest.scope, session, Some(device))
        .await?
        .into_iter()
        .filter(|held| held.payment_intent.is_some())
        .collect();
    let released = own.iter().map(|held| held.settlement.share.amount).sum();
    // One past its expiry is no longer held for anyone (the sweep cancels it at Stripe shortly): nothing to name.
    let now = state.clock.now();
    let unfinished = own
        .iter()
        .filter(|held| held.expires_at > now)
        .max_by_key(|held| held.created_at)
        .map(|held| UnfinishedPayment {
            payment_id: held.id,
            total: held.settlement.charged,
            expires_at: held.expires_at,
        });
    Ok((balance.releasing(released), unfinished, covered))
}

/// A guest cancels one of their own orders while the kitchen has not accepted it (`X-Guest-Device` required).
#[utoipa::path(post, path = "/api/v1/t/{token}/orders/{order}/cancel", tag = "guests",
    params(("token" = String, Path), ("order" = String, Path),
        ("X-Guest-Device" = String, Header, pattern = r"^[A-Za-z0-9_-]{1,64}$",
            description = "The device id the order was placed with")),
    responses(
        (status = 200, body = OrderView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json",
            description = "guests have paid for this order; the venue refunds them first"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn cancel_order(
    State(state): State<AppState>,
    Path((token, order)): Path<(String, String)>,
    headers: HeaderMap,
    ctx: RequestContext,
    _no_body: crate::extract::NoBody,
) -> Result<Json<OrderView>, ApiError> {
    state.identity.guest_write_attempt(&ctx)?;
    let device = guest_device(&headers)?.ok_or_else(|| {
        ApiError::from(comanda_domain::ValidationErrors::single(
            "X-Guest-Device",
            "is required",
        ))
    })?;
    let guest = resolve(&state, &token).await?;
    let order = crate::routes::ordering::path_id(&order)?;
    let cancelled = state
        .store
        .cancel_guest_order(
            &guest.scope,
            guest.table.id,
            order,
            &device,
            &guest_audit(&ctx, "order.cancelled_by_guest", guest.scanned),
            state.clock.now(),
        )
        .await?;
    state
        .order_events
        .announce(guest.scope.partner().as_uuid(), cancelled.venue_id);
    Ok(Json(cancelled.into()))
}
