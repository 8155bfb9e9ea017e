//! Access control, declared once per route and enforced in one place. Every route of the router appears in
//! [`declared_access`]; a route missing from it is refused (fail closed), and a test walks the router to prove
//! none is missing.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use comanda_domain::{Permission, VenueId, Venues};
use comanda_security::tokens::TokenKind;
use comanda_store::VenueRecord;
use comanda_store::identity::AuditEntry;

use super::{Identity, RequestContext, mfa_enrollment_required};
use crate::app::AppState;
use crate::middleware::{RequestId, client_addr};
use crate::problem::{ApiError, Problem, ProblemType};

/// What a route requires of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (the route authenticates by other means, e.g. a password or a token in the body, or is public).
    Public,
    /// An enrolment token or an access token: the routes that set up a second factor.
    SecondFactorEnrollment,
    /// An access token of a member whose standing allows the permission (and who has a second factor if their
    /// standing requires one).
    Staff(Permission),
    /// Anyone without a token (a guest); with a bearer token, exactly as [`Access::Staff`] (a host booking a guest
    /// by phone on the public booking route): a token that does not verify is refused, never treated as a guest.
    PublicOrStaff(Permission),
}

/// The access of every route, by method and route template.
pub fn declared_access(method: &Method, route: &str) -> Option<Access> {
    use Access::{Public, PublicOrStaff, SecondFactorEnrollment, Staff};
    let method = if method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    Some(match (method, route) {
        (
            "GET",
            "/healthz" | "/readyz" | "/metrics" | "/openapi.json" | "/.well-known/security.txt" | "/trust",
        )
        | ("GET", "/.well-known/jwks.json" | "/" | "/assets/site.css" | "/assets/app.js")
        | ("GET", "/favicon.ico" | "/favicon.svg")
        | ("GET", "/signin" | "/signup" | "/enroll" | "/dashboard" | "/staff" | "/invitations/{token}")
        | ("GET", "/t/{token}" | "/kitchen" | "/menu" | "/tables" | "/t/{token}/pay" | "/assets/pay.js")
        | ("GET", "/payments")
        | (
            "GET",
            "/book/{venue}"
            | "/book/{venue}/deposit"
            | "/book/{venue}/privacy"
            | "/host"
            | "/booking-settings"
            | "/analytics",
        )
        | ("POST", "/api/v1/csp-reports")
        | (
            "POST",
            "/api/v1/signup" | "/api/v1/auth/login" | "/api/v1/auth/mfa/verify" | "/api/v1/auth/refresh",
        )
        | ("POST", "/api/v1/staff/invitations/{token}/accept") => Public,
        ("POST", "/api/v1/auth/mfa/totp/enroll" | "/api/v1/auth/mfa/totp/confirm") => SecondFactorEnrollment,
        ("GET", "/api/v1/me")
        | ("POST", "/api/v1/auth/logout" | "/api/v1/auth/logout-all" | "/api/v1/auth/compromised")
        | ("POST", "/api/v1/auth/password") => Staff(Permission::OwnAccount),
        (
            "POST",
            "/api/v1/auth/mfa/totp/reenroll"
            | "/api/v1/auth/mfa/totp/reenroll/confirm"
            | "/api/v1/auth/mfa/recovery-codes"
            | "/api/v1/auth/mfa/totp/disable",
        ) => Staff(Permission::OwnAccount),
        // About oneself, or (checked in the handler) about others with the right to manage staff.
        ("POST", "/api/v1/privacy/requests") => Staff(Permission::OwnAccount),
        ("GET" | "POST", "/api/v1/staff") | ("PATCH" | "DELETE", "/api/v1/staff/{id}") => {
            Staff(Permission::ManageStaff)
        }
        ("GET", "/api/v1/invitations") | ("DELETE", "/api/v1/invitations/{invitation}") => {
            Staff(Permission::ManageStaff)
        }
        ("GET", "/api/v1/audit" | "/api/v1/audit/export.csv" | "/api/v1/audit/verify") => {
            Staff(Permission::ViewAudit)
        }
        ("GET", "/api/v1/t/{token}" | "/api/v1/t/{token}/bill")
        | ("POST", "/api/v1/t/{token}/orders" | "/api/v1/t/{token}/orders/{order}/cancel") => Public,
        // Guests pay by table token; Stripe's webhook proves itself by its signature.
        ("GET", "/api/v1/t/{token}/payments/{payment}")
        | ("POST", "/api/v1/t/{token}/payments" | "/api/v1/t/{token}/payments/{payment}/cancel")
        | ("POST", "/api/v1/webhooks/stripe" | "/api/v1/webhooks/stripe/connect") => Public,
        // A guest leaves contact data by table token, with consent (PRIV-2).
        ("POST", "/api/v1/t/{token}/contact") => Public,
        ("POST", "/api/v1/payouts/onboarding" | "/api/v1/payouts/bank-details")
        | ("POST", "/api/v1/approvals/{approval}/approve" | "/api/v1/refunds/{refund}/approve")
        | ("GET", "/api/v1/payouts") => Staff(Permission::ManagePayouts),
        (
            "GET",
            "/api/v1/venues/{venue}/payments" | "/api/v1/venues/{venue}/refunds" | "/api/v1/disputes",
        )
        | ("POST", "/api/v1/payments/{payment}/refunds") => Staff(Permission::IssueRefunds),
        // Its requester withdraws it; anyone else needs payout authority (checked in the handler).
        ("POST", "/api/v1/refunds/{refund}/decline") => Staff(Permission::IssueRefunds),
        ("GET", "/api/v1/tips")
        | (
            "GET",
            "/api/v1/venues/{venue}/analytics/summary" | "/api/v1/venues/{venue}/analytics/timeseries",
        )
        | (
            "GET",
            "/api/v1/venues/{venue}/analytics/heatmap"
            | "/api/v1/venues/{venue}/analytics/product-mix"
            | "/api/v1/venues/{venue}/analytics/top-items"
            | "/api/v1/venues/{venue}/analytics/servers"
            | "/api/v1/venues/{venue}/analytics/cash"
            | "/api/v1/venues/{venue}/analytics/turnover",
        )
        | (
            "GET",
            "/api/v1/analytics/summary"
            | "/api/v1/analytics/timeseries"
            | "/api/v1/analytics/heatmap"
            | "/api/v1/analytics/top-items"
            | "/api/v1/analytics/servers",
        ) => Staff(Permission::ViewAnalytics),
        (
            "POST",
            "/api/v1/venues" | "/api/v1/venues/{venue}/tables" | "/api/v1/tables/{table}/token/rotate",
        )
        | ("POST", "/api/v1/venues/{venue}/menu/categories" | "/api/v1/venues/{venue}/menu/items")
        | ("PATCH" | "DELETE", "/api/v1/menu/items/{item}" | "/api/v1/menu/categories/{category}")
        | ("PATCH" | "DELETE", "/api/v1/tables/{table}") => Staff(Permission::ManageVenues),
        ("GET", "/api/v1/venues" | "/api/v1/venues/{venue}/tables" | "/api/v1/tables/{table}/qr.svg")
        | ("GET", "/api/v1/tables/{table}/qr.png" | "/api/v1/venues/{venue}/tables/qr.pdf")
        | ("GET", "/api/v1/venues/{venue}/menu") => Staff(Permission::ViewVenues),
        ("GET", "/api/v1/venues/{venue}/orders" | "/api/v1/venues/{venue}/orders/stream")
        | ("GET", "/api/v1/venues/{venue}/table-sessions" | "/api/v1/venues/{venue}/tables/{table}/cash") => {
            Staff(Permission::ViewKitchen)
        }
        (
            "POST",
            "/api/v1/venues/{venue}/tables/{table}/cash"
            | "/api/v1/venues/{venue}/tables/{table}/card-holds/release",
        )
        | ("DELETE", "/api/v1/venues/{venue}/tables/{table}/cash/{cash}") => Staff(Permission::SettleBills),
        // Accepting a table is taking it as its server, to whom its tips are credited: those who serve tables (not
        // the kitchen, which moves the orders).
        // Moving a party's bill to another table is the same: those who serve its tables.
        ("POST", "/api/v1/table-sessions/{session}/accept" | "/api/v1/table-sessions/{session}/move") => {
            Staff(Permission::SettleBills)
        }
        ("POST", "/api/v1/orders/{order}/transitions")
        | ("POST", "/api/v1/venues/{venue}/tables/{table}/close") => Staff(Permission::ManageOrders),
        // The kitchen's "86": who moves the orders marks a dish sold out (or back on) mid-service.
        ("PUT", "/api/v1/menu/items/{item}/availability") => Staff(Permission::ManageOrders),
        // Reservations: the public widget books by the venue's listing (a host with a token books by phone on the
        // same route, and puts a party on the waitlist and answers its offer there), the guest manages by the signed
        // link in their confirmation; the host runs the day; the booking policy and combinations are the venue's
        // setup.
        ("GET", "/api/v1/reservations/{reservation}")
        | ("GET", "/api/v1/reservations/{reservation}/deposit/payment")
        | ("POST", "/api/v1/reservations/{reservation}/cancel") => Public,
        ("POST", "/api/v1/venues/{venue}/reservations")
        | ("GET", "/api/v1/venues/{venue}/availability")
        | (
            "POST",
            "/api/v1/venues/{venue}/waitlist"
            | "/api/v1/waitlist/{entry}/leave"
            | "/api/v1/waitlist/{entry}/decline"
            | "/api/v1/reservations/{reservation}/accept",
        ) => PublicOrStaff(Permission::ManageReservations),
        ("GET", "/api/v1/venues/{venue}/reservations" | "/api/v1/venues/{venue}/booking-policy")
        | ("GET", "/api/v1/venues/{venue}/waitlist")
        | ("POST", "/api/v1/reservations/{reservation}/transitions") => Staff(Permission::ManageReservations),
        ("PUT", "/api/v1/venues/{venue}/booking-policy" | "/api/v1/tables/{table}/booking")
        | ("PUT", "/api/v1/venues/{venue}/business-day")
        | ("PATCH", "/api/v1/venues/{venue}")
        | ("POST", "/api/v1/venues/{venue}/table-combinations")
        | ("DELETE", "/api/v1/venues/{venue}/table-combinations/{combination}") => {
            Staff(Permission::ManageVenues)
        }
        _ => return None,
    })
}

fn bearer(request: &Request) -> Option<&str> {
    request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

fn sign_in_required() -> Response {
    let mut response = Problem::new(ProblemType::Unauthorized)
        .detail("sign in first")
        .into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// Marks a response `authorize` decided: its access record, if it had one to write, is written. A response without
/// it never reached a route (no route matched, or a guard in front of the router refused it), which
/// [`record_unrouted`] records.
#[derive(Debug, Clone, Copy)]
struct AccessDecided;

/// MON-6 for the requests that never reach [`authorize`]: no route matched (404), or the guards in front of the
/// router refused them (a body over the limit, 413; a card number, 400). A signed-in member's request is recorded
/// in their partner's chain all the same, as any other of theirs, with the route `-` (and no path for a card
/// number's refusal: the path may be where it was). Only a request that carries an access token is looked at, and
/// only once it has been answered.
pub async fn record_unrouted(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(token) = bearer(&request).map(str::to_owned) else {
        return next.run(request).await;
    };
    let entry = access_record(&state, &request, "-", None);
    let response = next.run(request).await;
    if response.extensions().get::<AccessDecided>().is_some() {
        return response;
    }
    if let Ok(caller) = state.identity.authenticate(&token, &[TokenKind::Access]).await {
        let withheld = response
            .extensions()
            .get::<crate::pan_guard::CardDataRefused>()
            .is_some();
        let entry = AuditEntry {
            actor: Some(caller.member.id),
            target: if withheld { None } else { entry.target },
            ..entry
        };
        state
            .audit
            .record_access(caller.scope.partner(), outcome(entry, &response));
    }
    response
}

pub async fn authorize(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mut response = decide(&state, request, next).await;
    response.extensions_mut().insert(AccessDecided);
    response
}

async fn decide(state: &AppState, mut request: Request, next: Next) -> Response {
    let Some(route) = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
    else {
        return next.run(request).await;
    };
    let Some(access) = declared_access(request.method(), &route) else {
        // A method the route does not declare never reaches a handler: 405 when the route has other methods,
        // and a refusal (fail closed) for a route that declares nothing.
        let allowed: Vec<&str> = [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ]
        .iter()
        .filter(|m| declared_access(m, &route).is_some())
        .map(Method::as_str)
        .collect();
        if allowed.is_empty() {
            tracing::error!(%route, method = %request.method(), "route without declared access refused");
            return Problem::new(ProblemType::Forbidden)
                .detail("this route declares no access")
                .into_response();
        }
        let mut response = Problem::new(ProblemType::MethodNotAllowed).into_response();
        if let Ok(allow) = HeaderValue::from_str(&allowed.join(", ")) {
            response.headers_mut().insert(header::ALLOW, allow);
        }
        // A signed-in member's request is recorded whatever its answer, this one too (MON-6).
        if let Some(token) = bearer(&request)
            && let Ok(caller) = state.identity.authenticate(token, &[TokenKind::Access]).await
        {
            let entry = access_record(state, &request, &route, Some(caller.member.id));
            state
                .audit
                .record_access(caller.scope.partner(), outcome(entry, &response));
        }
        return response;
    };
    let identity: &Arc<Identity> = &state.identity;
    let caller = match access {
        Access::Public if route.starts_with("/api/v1/t/") => {
            return guest_request(state, &route, request, next).await;
        }
        Access::Public => return next.run(request).await,
        Access::PublicOrStaff(_) if bearer(&request).is_none() => return next.run(request).await,
        Access::SecondFactorEnrollment => {
            let Some(token) = bearer(&request) else {
                return sign_in_required();
            };
            identity
                .authenticate(token, &[TokenKind::Enrollment, TokenKind::Access])
                .await
                .map_err(|error| (None, error))
        }
        Access::Staff(permission) | Access::PublicOrStaff(permission) => {
            let Some(token) = bearer(&request) else {
                return sign_in_required();
            };
            match identity
                .authenticate(token, &[TokenKind::Access, TokenKind::Enrollment])
                .await
            {
                // An enrolment token, or an access token of a member whose new standing now requires a second
                // factor: nothing but enrolment until it is done (AUTH-5).
                Ok(caller)
                    if caller.claims.kind == TokenKind::Enrollment
                        || (caller.member.standing.requires_second_factor()
                            && !caller.member.totp_enabled) =>
                {
                    Err((Some(caller), mfa_enrollment_required()))
                }
                Ok(caller) if !caller.member.standing.allows(permission) => {
                    // Payouts need payout authority, which no role carries by itself (an owner grants it, to
                    // themselves too): say how, rather than only no.
                    let detail = match permission {
                        Permission::ManagePayouts => format!(
                            "payouts need payout authority: an owner grants it with PATCH /api/v1/staff/{} \
                             {{\"payout_authority\": true}} (then a second factor is required)",
                            caller.member.id
                        ),
                        _ => "your role does not allow this".to_owned(),
                    };
                    Err((
                        Some(caller),
                        Problem::new(ProblemType::Forbidden).detail(detail).into(),
                    ))
                }
                Ok(caller) => Ok(caller),
                Err(error) => Err((None, error)),
            }
        }
    };
    match caller {
        Ok(caller) => {
            let partner = caller.scope.partner();
            let entry = access_record(state, &request, &route, Some(caller.member.id));
            if let Err(wait) = identity.throttle.tenant_request(partner.as_uuid()) {
                let response = Problem::new(ProblemType::RateLimited)
                    .retry_after(wait.0.max(1))
                    .into_response();
                state.audit.record_access(partner, outcome(entry, &response));
                return response;
            }
            if let Err(refusal) =
                venue_gate(state, &caller, request.method(), &route, request.uri().path()).await
            {
                let response = refusal.into_response();
                state.audit.record_access(partner, outcome(entry, &response));
                return response;
            }
            request.extensions_mut().insert(caller.clone());
            let response = crate::idempotency::answer_once(state, &caller, &route, request, next).await;
            state.audit.record_access(partner, outcome(entry, &response));
            response
        }
        // A valid credential refused here (403, enrolment first) is recorded as well: a member probing what their
        // role does not allow leaves a trace. A credential that does not verify names no partner to record it for.
        Err((Some(caller), error)) => {
            let entry = access_record(state, &request, &route, Some(caller.member.id));
            let response = error.into_response();
            state
                .audit
                .record_access(caller.scope.partner(), outcome(entry, &response));
            response
        }
        Err((None, error)) => error.into_response(),
    }
}

/// What a route's path names that belongs to one venue: the venue itself, or one of its records by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VenueTie {
    Venue,
    Record(VenueRecord),
}

/// The path parameters that tie a route to a venue, by the names every route gives them.
fn venue_tie(parameter: &str) -> Option<VenueTie> {
    Some(match parameter {
        "venue" => VenueTie::Venue,
        "table" => VenueTie::Record(VenueRecord::Table),
        "session" => VenueTie::Record(VenueRecord::TableSession),
        "order" => VenueTie::Record(VenueRecord::Order),
        "payment" => VenueTie::Record(VenueRecord::Payment),
        "refund" => VenueTie::Record(VenueRecord::Refund),
        "reservation" => VenueTie::Record(VenueRecord::Reservation),
        "entry" => VenueTie::Record(VenueRecord::WaitlistEntry),
        "item" => VenueTie::Record(VenueRecord::MenuItem),
        "category" => VenueTie::Record(VenueRecord::MenuCategory),
        "combination" => VenueTie::Record(VenueRecord::TableCombination),
        _ => return None,
    })
}

/// The routes a member who works at some venues only may call although no venue is in their path: their own
/// account, and the lists their handlers narrow to the member's venues (staff, invitations, venues) or refuse
/// beyond them (privacy requests about someone else). Every other route without a venue in its path spans the
/// partner's venues (partner-wide reports, the tip ledger, disputes, payouts, a new venue) and is refused.
fn venue_neutral(method: &Method, route: &str) -> bool {
    route == "/api/v1/me"
        || route.starts_with("/api/v1/auth/")
        || matches!(
            route,
            "/api/v1/privacy/requests"
                | "/api/v1/staff"
                | "/api/v1/staff/{id}"
                | "/api/v1/invitations"
                | "/api/v1/invitations/{invitation}"
        )
        || (method == Method::GET || method == Method::HEAD) && route == "/api/v1/venues"
}

/// The venue check of a member who works at some venues only (an owner of two restaurants hires a server for one):
/// every venue the path names, directly or through a record, must be one of theirs, or the route answers 404 as if
/// it did not exist (it does not, for them: their venue list omits it). A record the partner does not have is left
/// to the handler's own 404. Members of every venue pass untouched, without a lookup.
async fn venue_gate(
    state: &AppState,
    caller: &super::Caller,
    method: &Method,
    route: &str,
    path: &str,
) -> Result<(), ApiError> {
    let Venues::Only(_) = &caller.member.venues else {
        return Ok(());
    };
    let ties: Vec<(VenueTie, &str)> = route
        .split('/')
        .zip(path.split('/'))
        .filter_map(|(template, value)| {
            let name = template.strip_prefix('{')?.strip_suffix('}')?;
            Some((venue_tie(name)?, value))
        })
        .collect();
    if ties.is_empty() {
        if venue_neutral(method, route) {
            return Ok(());
        }
        return Err(Problem::new(ProblemType::Forbidden)
            .detail(
                "this is for members of every venue of the business (reports across venues, the tip ledger, \
                 disputes, a new venue), and you work at some of them only",
            )
            .into());
    }
    for (tie, value) in ties {
        let Ok(id) = value.parse::<uuid::Uuid>() else {
            // Not an id at all: the handler's own answer (400 or 404).
            continue;
        };
        let venue = match tie {
            VenueTie::Venue => Some(VenueId::from_uuid(id)),
            VenueTie::Record(record) => state.store.venue_of(&caller.scope, record, id).await?,
        };
        if venue.is_some_and(|venue| !caller.member.venues.includes(venue)) {
            return Err(ApiError::NotFound);
        }
    }
    Ok(())
}

/// MON-6: who, which partner, what, when, from where, which request, and how it ended.
fn outcome(entry: AuditEntry, response: &Response) -> AuditEntry {
    AuditEntry {
        detail: format!("{} status={}", entry.detail, response.status().as_u16()),
        ..entry
    }
}

/// A guest's request by table token: recorded in the partner's chain the token proves (whatever the answer), with
/// no actor and no client address — a guest is not a member, and their address is personal data. The target is
/// the route template, never the path, which carries the table's token.
async fn guest_request(state: &AppState, route: &str, request: Request, next: Next) -> Response {
    let mut entry = access_record(state, &request, route, None);
    entry.source = None;
    entry.target = Some(route.to_owned());
    let (response, partner) = crate::audit::with_guest_partner(next.run(request)).await;
    if let Some(partner) = partner {
        state.audit.record_access(partner, outcome(entry, &response));
    }
    response
}

/// The access record of an authenticated request, before its outcome is known.
/// The path an access record keeps. A table's guest paths and an invitation's carry a bearer secret (the table's
/// token, the invitation's): for those the chain keeps the route template, as it does for guests, or nothing when no
/// route matched — a member's mistyped `/api/v1/t/<token>/…` must not put the token in the log.
fn logged_path(path: &str, route: &str) -> Option<String> {
    const TOKEN_BEARING: [&str; 4] = ["/api/v1/t/", "/t/", "/invitations/", "/api/v1/staff/invitations/"];
    if TOKEN_BEARING.iter().any(|prefix| path.starts_with(prefix)) {
        (route != "-").then(|| route.to_owned())
    } else {
        Some(path.to_owned())
    }
}

fn access_record(state: &AppState, request: &Request, route: &str, actor: Option<uuid::Uuid>) -> AuditEntry {
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| client_addr(peer.ip(), request.headers(), &state.settings.trusted_proxies));
    AuditEntry {
        actor,
        action: format!("http.{}", request.method().as_str().to_ascii_lowercase()),
        target: logged_path(request.uri().path(), route),
        source: client.map(|c| c.to_string()),
        request_id: request.extensions().get::<RequestId>().map(|r| r.0.clone()),
        detail: format!("route={route}"),
    }
}

impl FromRequestParts<AppState> for RequestContext {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let client = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| client_addr(peer.ip(), &parts.headers, &state.settings.trusted_proxies));
        Ok(RequestContext {
            client,
            request_id: parts.extensions.get::<RequestId>().map(|r| r.0.clone()),
            user_agent: parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(300).collect()),
            device_cookie: parts
                .headers
                .get_all(header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(';'))
                .find_map(|pair| pair.trim().strip_prefix(super::DEVICE_COOKIE)?.strip_prefix('='))
                .map(|v| v.chars().take(200).collect()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_bearing_path_is_logged_by_its_route_only() {
        let token = "AaI6VHEZceWZQkL6TjJD0wAAAAGAPXyp3MqjU_OJ1hwZiHXm";
        assert_eq!(logged_path(&format!("/api/v1/t/{token}/nope"), "-"), None);
        assert_eq!(
            logged_path(&format!("/api/v1/t/{token}/orders"), "/api/v1/t/{token}/orders"),
            Some("/api/v1/t/{token}/orders".to_owned())
        );
        assert_eq!(logged_path(&format!("/invitations/{token}"), "-"), None);
        assert_eq!(
            logged_path("/api/v1/venues", "-"),
            Some("/api/v1/venues".to_owned())
        );
    }
}
