//! Identity routes: sign-up, sign-in, second factor, sessions, the caller's account, JWKS.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use comanda_domain::Permission;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::auth::{
    Caller, Enrollment, EnrollmentConfirmed, RecoveryCodes, RequestContext, SignInOutcome, SignupRequest,
    SignupResponse, TokenPair,
};
use crate::extract::{ApiJson, OptionalApiJson};
use crate::problem::{ApiError, Problem};

/// Registers a partner and its owner. The owner must enrol a second factor before anything else works.
#[utoipa::path(post, path = "/api/v1/signup", tag = "identity", request_body = SignupRequest, responses(
    (status = 201, body = SignupResponse),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "The owner's email signs in to an account already", body = Problem,
        content_type = "application/problem+json"),
    (status = 429, body = Problem, content_type = "application/problem+json"),
))]
pub async fn signup(
    State(state): State<AppState>,
    ctx: RequestContext,
    ApiJson(request): ApiJson<SignupRequest>,
) -> Result<(StatusCode, Json<SignupResponse>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.identity.signup(&request, &ctx).await?),
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    pub password: String,
}

/// Password sign-in. Answers tokens, or `mfa_required` with an `mfa_token`, or `mfa_enrollment_required` with an
/// `enrollment_token`. A wrong email and a wrong password answer the same 401 in the same time.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "identity", request_body = SignInRequest, responses(
    (status = 200, body = SignInOutcome),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 429, body = Problem, content_type = "application/problem+json"),
))]
pub async fn login(
    State(state): State<AppState>,
    ctx: RequestContext,
    ApiJson(request): ApiJson<SignInRequest>,
) -> Result<Response, ApiError> {
    let mut outcome = state
        .identity
        .sign_in(&request.email, &request.password, &ctx)
        .await?;
    let cookie = match &mut outcome {
        SignInOutcome::Tokens(pair) => pair.device_cookie.take(),
        _ => None,
    };
    Ok(with_device_cookie(Json(outcome), cookie))
}

/// The answer of a route that signs in, with the account's device cookie (AUTH-8) when a session was opened: only
/// over HTTPS, out of scripts' reach, sent back only to the sign-in routes.
fn with_device_cookie(body: impl IntoResponse, cookie: Option<String>) -> Response {
    let mut response = body.into_response();
    if let Some(value) = cookie {
        let cookie = format!(
            "{}={value}; Path=/api/v1/auth; Max-Age={}; Secure; HttpOnly; SameSite=Strict",
            crate::auth::DEVICE_COOKIE,
            crate::auth::DEVICE_COOKIE_MAX_AGE
        );
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// The account's current password: required with an access token (turning 2FA on from a signed-in session),
    /// checked when given with an enrolment token (whose sign-in has just checked it).
    #[serde(default)]
    pub password: Option<String>,
}

/// Starts TOTP enrolment: a new secret, its otpauth URI and QR code. With an enrolment token (the sign-in that
/// issued it checked the password) the body may be `{}` or left out; with an access token it needs the current
/// password, so a stolen access token cannot put the thief's authenticator on the account and mint itself a refresh
/// token.
#[utoipa::path(post, path = "/api/v1/auth/mfa/totp/enroll", tag = "identity", security(("bearer" = [])),
    request_body(content = Option<EnrollRequest>, description = "May be left out with an enrolment token"), responses(
    (status = 200, body = Enrollment),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 429, body = Problem, content_type = "application/problem+json"),
))]
pub async fn enroll(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    OptionalApiJson(request): OptionalApiJson<EnrollRequest>,
) -> Result<Json<Enrollment>, ApiError> {
    Ok(Json(
        state
            .identity
            .begin_enrollment(&caller, request.password.as_deref(), &ctx)
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// The six-digit code of the authenticator app.
    pub code: String,
}

/// Confirms enrolment with a first code: turns 2FA on, returns ten recovery codes (shown once) and tokens.
#[utoipa::path(post, path = "/api/v1/auth/mfa/totp/confirm", tag = "identity", security(("bearer" = [])),
    request_body = CodeRequest, responses(
    (status = 200, body = EnrollmentConfirmed),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 401, body = Problem, content_type = "application/problem+json"),
))]
pub async fn confirm(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    ApiJson(request): ApiJson<CodeRequest>,
) -> Result<Response, ApiError> {
    let mut confirmed = state
        .identity
        .confirm_enrollment(&caller, &request.code, &ctx)
        .await?;
    let cookie = confirmed.tokens.device_cookie.take();
    Ok(with_device_cookie(Json(confirmed), cookie))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecondFactorRequest {
    pub mfa_token: String,
    /// A TOTP code or a recovery code.
    pub code: String,
}

/// The second step of a sign-in with 2FA on.
#[utoipa::path(post, path = "/api/v1/auth/mfa/verify", tag = "identity", request_body = SecondFactorRequest, responses(
    (status = 200, body = TokenPair),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 429, body = Problem, content_type = "application/problem+json"),
))]
pub async fn verify(
    State(state): State<AppState>,
    ctx: RequestContext,
    ApiJson(request): ApiJson<SecondFactorRequest>,
) -> Result<Response, ApiError> {
    let mut pair = state
        .identity
        .verify_second_factor(&request.mfa_token, &request.code, &ctx)
        .await?;
    let cookie = pair.device_cookie.take();
    Ok(with_device_cookie(Json(pair), cookie))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Exchanges a refresh token for a new pair; the presented token is spent. Presenting a spent token again signs
/// the whole session out.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "identity", request_body = RefreshRequest, responses(
    (status = 200, body = TokenPair),
    (status = 401, body = Problem, content_type = "application/problem+json"),
))]
pub async fn refresh(
    State(state): State<AppState>,
    ctx: RequestContext,
    ApiJson(request): ApiJson<RefreshRequest>,
) -> Result<Json<TokenPair>, ApiError> {
    Ok(Json(state.identity.refresh(&request.refresh_token, &ctx).await?))
}

/// Signs this session out.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "identity", security(("bearer" = [])), responses((status = 204)))]
pub async fn logout(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    _no_body: crate::extract::NoBody,
) -> Result<StatusCode, ApiError> {
    state.identity.sign_out(&caller, &ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Signs every session of the caller out, and voids every access token issued so far.
#[utoipa::path(post, path = "/api/v1/auth/logout-all", tag = "identity", security(("bearer" = [])), responses((status = 204)))]
pub async fn logout_all(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    _no_body: crate::extract::NoBody,
) -> Result<StatusCode, ApiError> {
    state
        .identity
        .sign_out_everywhere(&caller, &ctx, "auth.sign_out_everywhere")
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reports a compromised credential: every session and token is revoked and a security event recorded.
#[utoipa::path(post, path = "/api/v1/auth/compromised", tag = "identity", security(("bearer" = [])), responses((status = 204)))]
pub async fn compromised(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    _no_body: crate::extract::NoBody,
) -> Result<StatusCode, ApiError> {
    state
        .identity
        .sign_out_everywhere(&caller, &ctx, "auth.credential_compromised")
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
    /// The current TOTP code, when 2FA is on (step-up).
    pub code: Option<String>,
}

/// Changes the password (needs the current one, and a fresh code with 2FA on); every other session ends.
#[utoipa::path(post, path = "/api/v1/auth/password", tag = "identity", security(("bearer" = [])),
    request_body = PasswordChange, responses(
    (status = 200, body = TokenPair),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 401, body = Problem, content_type = "application/problem+json"),
))]
pub async fn change_password(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    ApiJson(request): ApiJson<PasswordChange>,
) -> Result<Json<TokenPair>, ApiError> {
    let tokens = state
        .identity
        .change_password(
            &caller,
            &request.current_password,
            &request.new_password,
            request.code.as_deref(),
            &ctx,
        )
        .await?;
    Ok(Json(tokens))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepUpRequest {
    /// The current password.
    pub password: String,
    /// A current code of the authenticator app, or an unused recovery code (which is then spent).
    pub code: String,
}

/// Starts replacing the authenticator app (step-up: password and a current or recovery code). Answers the new
/// secret; the current app and recovery codes keep working until the re-enrolment is confirmed.
#[utoipa::path(post, path = "/api/v1/auth/mfa/totp/reenroll", tag = "identity", security(("bearer" = [])),
    request_body = StepUpRequest, responses(
    (status = 200, body = Enrollment),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
))]
pub async fn reenroll(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    ApiJson(request): ApiJson<StepUpRequest>,
) -> Result<Json<Enrollment>, ApiError> {
    Ok(Json(
        state
            .identity
            .begin_reenrollment(&caller, &request.password, &request.code, &ctx)
            .await?,
    ))
}

/// Confirms the re-enrolment with a code of the new app: the old app and every old recovery code stop working at
/// once, every session ends; answers ten new recovery codes and a new session.
#[utoipa::path(post, path = "/api/v1/auth/mfa/totp/reenroll/confirm", tag = "identity", security(("bearer" = [])),
    request_body = CodeRequest, responses(
    (status = 200, body = EnrollmentConfirmed),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn confirm_reenroll(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    ApiJson(request): ApiJson<CodeRequest>,
) -> Result<Json<EnrollmentConfirmed>, ApiError> {
    Ok(Json(
        state
            .identity
            .confirm_reenrollment(&caller, &request.code, &ctx)
            .await?,
    ))
}

/// Replaces the recovery codes (step-up); every earlier code stops working. Shown once.
#[utoipa::path(post, path = "/api/v1/auth/mfa/recovery-codes", tag = "identity", security(("bearer" = [])),
    request_body = StepUpRequest, responses(
    (status = 200, body = RecoveryCodes),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
))]
pub async fn recovery_codes(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    ApiJson(request): ApiJson<StepUpRequest>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    Ok(Json(
        state
            .identity
            .regenerate_recovery_codes(&caller, &request.password, &request.code, &ctx)
            .await?,
    ))
}

/// Turns two-step sign-in off (step-up), where the role allows it: owners, managers and members with payout
/// authority cannot (422). Every session ends; answers a new one.
#[utoipa::path(post, path = "/api/v1/auth/mfa/totp/disable", tag = "identity", security(("bearer" = [])),
    request_body = StepUpRequest, responses(
    (status = 200, body = TokenPair),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn disable_mfa(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    ApiJson(request): ApiJson<StepUpRequest>,
) -> Result<Json<TokenPair>, ApiError> {
    Ok(Json(
        state
            .identity
            .disable_second_factor(&caller, &request.password, &request.code, &ctx)
            .await?,
    ))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SecondFactorState {
    pub enabled: bool,
    pub required: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    pub user_id: String,
    pub partner_id: String,
    pub email: String,
    pub name: String,
    pub role: comanda_domain::Role,
    pub payout_authority: bool,
    /// The venues the member works at (ids); `null`: every venue of the partner.
    pub venues: Option<Vec<uuid::Uuid>>,
    pub permissions: Vec<Permission>,
    pub mfa: SecondFactorState,
}

/// The caller: account, partner, role, permissions and second-factor state.
#[utoipa::path(get, path = "/api/v1/me", tag = "identity", security(("bearer" = [])), responses(
    (status = 200, body = Me),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
pub async fn me(_no_query: crate::extract::NoQuery, Extension(caller): Extension<Caller>) -> Json<Me> {
    let member = caller.member;
    Json(Me {
        user_id: member.id.to_string(),
        partner_id: member.partner_id.to_string(),
        email: member.email,
        name: member.name,
        role: member.standing.role,
        payout_authority: member.standing.payout_authority,
        venues: crate::routes::staff::venue_ids(&member.venues),
        permissions: member.standing.permissions(),
        mfa: SecondFactorState {
            enabled: member.totp_enabled,
            required: member.standing.requires_second_factor(),
        },
    })
}

/// The public keys that verify access tokens (RFC 7517), the previous key included until its tokens expire.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "identity", responses(
    (status = 200, content_type = "application/json", body = Object)
))]
pub async fn jwks(State(state): State<AppState>) -> Response {
    let body = state.identity.keys.ring().jwks().to_string();
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            ),
        ],
        body,
    )
        .into_response()
}
