//! Staff management: invitations, roles and payout authority, removal, and the partner's audit trail.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::{Caller, InvitationCreated, InviteRequest, RequestContext, SignupResponse, StandingPatch};
use crate::extract::{ApiJson, ApiQuery};
use crate::problem::{ApiError, Problem};
use comanda_domain::PageRequest;
use comanda_store::identity::StaffMember;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StaffView {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: comanda_domain::Role,
    pub payout_authority: bool,
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
pub struct ListQuery {
    pub cursor: Option<String>,
    pub limit: Option<u32>,
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

#[derive(Debug, Deserialize, utoipa::ToSchema)]
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

/// The partner's audit trail, oldest first (Owner).
#[utoipa::path(get, path = "/api/v1/audit", tag = "staff", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = AuditList)))]
pub async fn audit(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<AuditList>, ApiError> {
    let page = PageRequest::parse(query.cursor.as_deref(), query.limit)?;
    let page = state.store.audit_events(&caller.scope, page).await?;
    Ok(Json(AuditList {
        items: page
            .items
            .into_iter()
            .map(|e| AuditView {
                id: e.id.to_string(),
                at: e.at,
                actor: e.entry.actor.map(|a| a.to_string()),
                action: e.entry.action,
                target: e.entry.target,
                source: e.entry.source,
                request_id: e.entry.request_id,
                detail: e.entry.detail,
            })
            .collect(),
        next_cursor: page.next.map(|c| c.encode()),
    }))
}
