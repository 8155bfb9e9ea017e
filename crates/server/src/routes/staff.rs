//! Staff management: invitations, roles and payout authority, removal, and the partner's audit trail.

use crate::csv_export::{CsvDialect, CsvExport};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::{Caller, InvitationCreated, InviteRequest, RequestContext, SignupResponse, StandingPatch};
use crate::extract::{ApiJson, ApiQuery};
use crate::problem::{ApiError, Problem};
use comanda_domain::{PageRequest, ValidationErrors};
use comanda_store::audit::AuditFilter;
use comanda_store::identity::{AuditEvent, StaffMember};
use time::format_description::well_known::Rfc3339;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StaffView {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: comanda_domain::Role,
    pub payout_authority: bool,
    /// The venues the member works at (ids); `null`: every venue of the partner (for a former member in an export:
    /// not kept).
    pub venues: Option<Vec<Uuid>>,
    pub mfa_enabled: bool,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: time::OffsetDateTime,
}

impl From<StaffMember> for StaffView {
    fn from(member: StaffMember) -> Self {
        Self {
            id: member.id.to_string(),
            email: member.email,
            name: member.name,
            role: member.standing.role,
            payout_authority: member.standing.payout_authority,
            venues: venue_ids(&member.venues),
            mfa_enabled: member.totp_enabled,
            created_at: member.created_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StaffList {
    pub items: Vec<StaffView>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[param(
        pattern = r"^([A-Za-z0-9_-]{21}[AQgw]|[A-Za-z0-9_-]{21}[AQgw]A{9}[A-H][A-Za-z0-9_-]{10}[AEIMQUYcgkosw048])?$"
    )]
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// The venues as the API writes them: their ids, or `null` for every venue.
pub fn venue_ids(venues: &comanda_domain::Venues) -> Option<Vec<Uuid>> {
    venues
        .listed()
        .map(|ids| ids.iter().map(comanda_domain::VenueId::as_uuid).collect())
}

/// A path id: anything that is not an id of this partner is simply not found.
fn member_id(raw: &str) -> Result<Uuid, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound)
}

/// Invites a member by email (single-use link, expiring, delivered through the outbox).
#[utoipa::path(post, path = "/api/v1/staff", tag = "staff", security(("bearer" = [])), request_body = InviteRequest,
    responses(
        (status = 201, body = InvitationCreated),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn invite(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    ApiJson(request): ApiJson<InviteRequest>,
) -> Result<(StatusCode, Json<InvitationCreated>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.identity.invite(&caller, &request, &ctx).await?),
    ))
}

/// The partner's staff.
#[utoipa::path(get, path = "/api/v1/staff", tag = "staff", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = StaffList)))]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<StaffList>, ApiError> {
    let page = PageRequest::parse(query.cursor.as_deref(), query.limit)?;
    let page = state.identity.list_staff(&caller, page).await?;
    Ok(Json(StaffList {
        items: page.items.into_iter().map(StaffView::from).collect(),
        next_cursor: page.next.map(|c| c.encode()),
    }))
}

/// Changes a member's role or payout authority. Granting a role that requires 2FA forces enrolment at the
/// member's next request.
#[utoipa::path(patch, path = "/api/v1/staff/{id}", tag = "staff", security(("bearer" = [])), request_body = StandingPatch,
    params(("id" = String, Path, description = "Member id")),
    responses(
        (status = 200, body = StaffView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<StandingPatch>,
) -> Result<Json<StaffView>, ApiError> {
    let member = state
        .identity
        .change_standing(&caller, member_id(&id)?, &patch, &ctx)
        .await?;
    Ok(Json(member.into()))
}

/// Removes a member: their sign-in, sessions and tokens end at once.
#[utoipa::path(delete, path = "/api/v1/staff/{id}", tag = "staff", security(("bearer" = [])),
    params(("id" = String, Path, description = "Member id")),
    responses(
        (status = 204),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn remove(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .identity
        .remove_staff(&caller, member_id(&id)?, &ctx)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An invitation not accepted yet.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InvitationView {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: comanda_domain::Role,
    pub payout_authority: bool,
    /// The venues the member will work at (ids); `null`: every venue of the partner.
    pub venues: Option<Vec<Uuid>>,
    /// The member who sent it.
    pub invited_by: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: time::OffsetDateTime,
    /// Its link opens nothing after this instant; it stays listed until withdrawn.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: time::OffsetDateTime,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InvitationList {
    pub items: Vec<InvitationView>,
    pub next_cursor: Option<String>,
}

/// The invitations sent and not accepted yet, oldest first (expired ones too, until withdrawn), a page at a time
/// like every list (`limit`, `cursor`).
#[utoipa::path(get, path = "/api/v1/invitations", tag = "staff", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = InvitationList), (status = 400, body = Problem, content_type = "application/problem+json")))]
pub async fn invitations(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<InvitationList>, ApiError> {
    let page = PageRequest::parse(query.cursor.as_deref(), query.limit)?;
    // Pending invitations are few and sealed one by one: read whole, paged here by their UUIDv7 ids (creation order).
    let mut pending = state.store.pending_invitations(&caller.scope).await?;
    pending.retain(|invitation| caller.member.venues.overlaps(&invitation.venues));
    pending.sort_by_key(|invitation| invitation.id);
    let after = page.after.map(|cursor| cursor.last_id());
    let rows: Vec<_> = pending
        .into_iter()
        .filter(|invitation| after.is_none_or(|after| invitation.id > after))
        .take(usize::from(page.limit) + 1)
        .collect();
    let pending = comanda_domain::Page::from_overfetch(rows, page.limit, |invitation| invitation.id);
    Ok(Json(InvitationList {
        next_cursor: pending.next.map(|c| c.encode()),
        items: pending
            .items
            .into_iter()
            .map(|invitation| InvitationView {
                id: invitation.id.to_string(),
                email: invitation.email,
                name: invitation.name,
                role: invitation.standing.role,
                payout_authority: invitation.standing.payout_authority,
                venues: venue_ids(&invitation.venues),
                invited_by: invitation.invited_by.to_string(),
                created_at: invitation.created_at,
                expires_at: invitation.expires_at,
            })
            .collect(),
    }))
}

/// Withdraws an invitation not accepted yet (one of a role the caller could grant): its link opens nothing any
/// more, and the invitee's address and name leave comanda — the stored invitation, its mail still queued and the
/// copies of its mail — which is also how an invitee's data is erased (docs/privacy.md).
#[utoipa::path(delete, path = "/api/v1/invitations/{invitation}", tag = "staff", security(("bearer" = [])),
    params(("invitation" = String, Path, description = "Invitation id")),
    responses(
        (status = 204),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn revoke_invitation(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    Path(invitation): Path<String>,
    _no_body: crate::extract::NoBody,
) -> Result<StatusCode, ApiError> {
    let revoked = state
        .identity
        .revoke_invitation(&caller, member_id(&invitation)?, &ctx)
        .await?;
    // Its mail goes with it, unless the same address has another invitation still pending (re-invited): that one's
    // mail must still arrive.
    let invited_again = state
        .store
        .pending_invitations(&caller.scope)
        .await?
        .iter()
        .any(|other| other.email.eq_ignore_ascii_case(&revoked.email));
    if !invited_again {
        crate::routes::privacy::erase_mail(&state, &caller.scope, &revoked.email, &revoked.name).await;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitation {
    pub password: String,
}

/// Accepts an invitation (once, before it expires) by choosing a password.
#[utoipa::path(post, path = "/api/v1/staff/invitations/{token}/accept", tag = "staff", request_body = AcceptInvitation,
    params(("token" = String, Path, description = "The invitation token from the mail")),
    responses(
        (status = 201, body = SignupResponse),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn accept_invitation(
    State(state): State<AppState>,
    ctx: RequestContext,
    Path(token): Path<String>,
    ApiJson(request): ApiJson<AcceptInvitation>,
) -> Result<(StatusCode, Json<SignupResponse>), ApiError> {
    let joined = state
        .identity
        .accept_invitation(&token, &request.password, &ctx)
        .await?;
    Ok((StatusCode::CREATED, Json(joined)))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditView {
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: time::OffsetDateTime,
    pub actor: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub source: Option<String>,
    pub request_id: Option<String>,
    pub detail: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditList {
    pub items: Vec<AuditView>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    #[param(
        pattern = r"^([A-Za-z0-9_-]{21}[AQgw]|[A-Za-z0-9_-]{21}[AQgw]A{9}[A-H][A-Za-z0-9_-]{10}[AEIMQUYcgkosw048])?$"
    )]
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// An action (`staff.invited`) or a family of them ending in a dot (`staff.`, `http.`).
    #[param(pattern = r"^[A-Za-z0-9._]{1,64}$")]
    pub action: Option<String>,
    /// Entries made by this member.
    #[param(format = Uuid)]
    pub actor: Option<String>,
    /// From this instant (RFC 3339), inclusive.
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// Until this instant (RFC 3339), exclusive (`until` is accepted as another name for it).
    #[param(format = DateTime)]
    #[serde(alias = "until")]
    pub to: Option<String>,
}

/// The filter of the CSV export: [`AuditQuery`] without the page (the export follows every page itself).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditExportQuery {
    /// An action (`staff.invited`) or a family of them ending in a dot (`staff.`, `http.`).
    #[param(pattern = r"^[A-Za-z0-9._]{1,64}$")]
    pub action: Option<String>,
    /// Entries made by this member.
    #[param(format = Uuid)]
    pub actor: Option<String>,
    /// From this instant (RFC 3339), inclusive.
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// Until this instant (RFC 3339), exclusive (`until` is accepted as another name for it).
    #[param(format = DateTime)]
    #[serde(alias = "until")]
    pub to: Option<String>,
}

impl AuditQuery {
    fn filter(&self) -> Result<AuditFilter, ApiError> {
        AuditExportQuery {
            action: self.action.clone(),
            actor: self.actor.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
        }
        .filter()
    }
}

impl AuditExportQuery {
    fn filter(&self) -> Result<AuditFilter, ApiError> {
        let mut errors = ValidationErrors::default();
        let instant = |field: &str, raw: &Option<String>, errors: &mut ValidationErrors| {
            raw.as_deref().and_then(|raw| {
                // A bound outside the years comanda keeps is the trail's beginning or end.
                match comanda_domain::validation::instant(raw) {
                    Ok(at) => Some(at),
                    Err(comanda_domain::validation::DateRefusal::OutOfRange) => Some(
                        if raw
                            .get(..4)
                            .and_then(|year| year.parse::<i32>().ok())
                            .is_some_and(|year| year < 1900)
                        {
                            time::macros::datetime!(1900-01-01 00:00 UTC)
                        } else {
                            time::macros::datetime!(9998-12-31 00:00 UTC)
                        },
                    ),
                    Err(comanda_domain::validation::DateRefusal::Malformed) => {
                        errors.push(field, "must be an RFC 3339 instant, e.g. 2026-11-23T00:00:00Z");
                        None
                    }
                }
            })
        };
        let from = instant("from", &self.from, &mut errors);
        let until = instant("to", &self.to, &mut errors);
        let actor = self.actor.as_deref().and_then(|raw| {
            raw.parse::<Uuid>()
                .map_err(|_| errors.push("actor", "must be a member id"))
                .ok()
        });
        if let Some(action) = &self.action
            && (action.is_empty()
                || action.len() > 64
                || !action
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_'))
        {
            errors.push(
                "action",
                "must be an action name such as staff.invited or a prefix such as staff.",
            );
        }
        let filter = errors.into_result(AuditFilter {
            action: self.action.clone(),
            actor,
            from,
            until,
        })?;
        // Well-formed but backwards: a rule (422), as the reports' ranges answer, not an empty page.
        if let (Some(from), Some(until)) = (filter.from, filter.until)
            && from > until
        {
            return Err(ApiError::rule(ValidationErrors::single(
                "to",
                "must not be before from",
            )));
        }
        Ok(filter)
    }
}

pub(crate) fn audit_view(event: AuditEvent) -> AuditView {
    AuditView {
        id: event.id.to_string(),
        at: event.at,
        actor: event.entry.actor.map(|a| a.to_string()),
        action: event.entry.action,
        target: event.entry.target,
        source: event.entry.source,
        request_id: event.entry.request_id,
        detail: event.entry.detail,
    }
}

/// The partner's audit trail, oldest first, filtered by action, member and time (Owner).
#[utoipa::path(get, path = "/api/v1/audit", tag = "staff", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = AuditList),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`to` before `from`", body = Problem, content_type = "application/problem+json")))]
pub async fn audit(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<AuditList>, ApiError> {
    let filter = query.filter()?;
    let page = PageRequest::parse(query.cursor.as_deref(), query.limit)?;
    // Requests made a moment ago are in the answer too.
    state.audit.flush().await;
    let page = state.store.search_audit(&caller.scope, &filter, page).await?;
    Ok(Json(AuditList {
        items: page.items.into_iter().map(audit_view).collect(),
        next_cursor: page.next.map(|c| c.encode()),
    }))
}

/// The most rows one CSV export carries; narrow the filter for more.
const CSV_EXPORT_LIMIT: usize = 100_000;

/// The filtered audit trail as CSV (RFC 4180), oldest first, up to 100,000 rows (Owner).
#[utoipa::path(get, path = "/api/v1/audit/export.csv", tag = "staff", security(("bearer" = [])), params(AuditExportQuery),
    responses((status = 200, content_type = "text/csv", body = String),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`to` before `from`", body = Problem, content_type = "application/problem+json")))]
pub async fn audit_csv(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(query): ApiQuery<AuditExportQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let filter = query.filter()?;
    state.audit.flush().await;
    let mut csv = CsvExport::new(
        "audit.csv",
        &[
            "id",
            "at",
            "actor",
            "action",
            "target",
            "source",
            "request_id",
            "detail",
        ],
        CsvDialect::Rfc4180,
    );
    let mut page = PageRequest {
        after: None,
        limit: comanda_domain::page::MAX_PAGE_SIZE,
    };
    let mut rows = 0;
    loop {
        let chunk = state.store.search_audit(&caller.scope, &filter, page).await?;
        for event in chunk.items {
            let view = audit_view(event);
            let at = view.at.format(&Rfc3339).unwrap_or_default();
            csv.row([
                view.id.as_str(),
                at.as_str(),
                view.actor.as_deref().unwrap_or(""),
                view.action.as_str(),
                view.target.as_deref().unwrap_or(""),
                view.source.as_deref().unwrap_or(""),
                view.request_id.as_deref().unwrap_or(""),
                view.detail.as_str(),
            ]);
            rows += 1;
        }
        match chunk.next {
            Some(next) if rows < CSV_EXPORT_LIMIT => page.after = Some(next),
            _ => break,
        }
    }
    Ok(csv)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditVerification {
    /// True when every entry, link, month and signed checkpoint holds.
    pub verified: bool,
    pub months: usize,
    pub entries: usize,
    pub checkpoints: usize,
    pub pruned_months: usize,
    /// What does not hold, naming the entry where it can.
    pub problem: Option<String>,
    /// The entry named by the problem.
    pub entry: Option<String>,
    /// The checkpoint signing key (Ed25519, hex), to check the checkpoints independently.
    pub checkpoint_key: String,
}

/// Verifies the partner's audit chain end to end (MON-5): every entry's hash and link, every month's head, and
/// every signed checkpoint (Owner).
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "staff", security(("bearer" = [])),
    responses((status = 200, body = AuditVerification)))]
pub async fn verify_audit(
    _no_query: crate::extract::NoQuery,
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<AuditVerification>, ApiError> {
    let checkpoint_key = state.audit.public_key_hex();
    Ok(Json(match state.audit.verify(&caller.scope).await? {
        Ok(report) => AuditVerification {
            verified: true,
            months: report.shards,
            entries: report.entries,
            checkpoints: report.checkpoints,
            pruned_months: report.pruned_shards,
            problem: None,
            entry: None,
            checkpoint_key,
        },
        Err(chain_break) => {
            tracing::error!(partner = %caller.scope.partner(), problem = %chain_break, "alert=audit.chain-broken");
            AuditVerification {
                verified: false,
                months: 0,
                entries: 0,
                checkpoints: 0,
                pruned_months: 0,
                entry: chain_break.entry().map(|id| id.to_string()),
                problem: Some(chain_break.to_string()),
                checkpoint_key,
            }
        }
    }))
}
