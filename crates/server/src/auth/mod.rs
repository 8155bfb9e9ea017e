//! Identity and access: sign-up, sign-in with enforced second factor, sessions, staff management. Handlers stay
//! thin: they parse, then call one method here, which applies the domain rules, stores and audits.

pub mod access;
pub mod geoip;
pub mod keys;
pub mod mail;
mod second_factor;
mod sessions;
mod sign_in;
pub mod staff;
pub mod throttle;

use std::net::IpAddr;
use std::sync::Arc;

use comanda_domain::email::normalize_email;
use comanda_domain::password::check_new_password;
use comanda_domain::{Clock, NewPartner, Page, PageRequest, PartnerId, Role, Standing, ValidationErrors};
use comanda_security::kms::{PlatformKeys, keyed_digest};
use comanda_security::password::{PasswordHasher, Verdict};
use comanda_security::tokens::{Subject, TokenError, TokenKind, VerifiedClaims};
use comanda_security::{Secret, TenantScope, secrets, totp};
use comanda_store::identity::{
    AuditEntry, DeviceSeen, NewInvitation, NewStaff, OutboxMessage, RefreshOutcome, SecondFactorChange,
    StaffMember,
};
use comanda_store::privacy::ContactLookup;
use comanda_store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::problem::{ApiError, Problem, ProblemType};
use keys::KeyManager;
use throttle::{Burst, RetryAfter, Throttle};

/// Lifetimes and names of issued credentials.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub access_ttl: time::Duration,
    pub second_factor_ttl: time::Duration,
    pub session: time::Duration,
    pub refresh_grace: time::Duration,
    pub invitation_ttl: time::Duration,
    pub public_origin: String,
    /// Where sign-ins come from, when a GeoIP database is configured (MON-2).
    pub geoip: Option<Arc<geoip::GeoIp>>,
}

/// Who is calling, once authenticated and authorised.
#[derive(Debug, Clone)]
pub struct Caller {
    pub scope: TenantScope,
    pub member: StaffMember,
    pub claims: VerifiedClaims,
}

impl Caller {
    /// How the caller is named in order events: `role:user-id`.
    pub fn actor(&self) -> String {
        format!("{}:{}", self.member.standing.role.as_str(), self.member.id)
    }

    pub fn session(&self) -> Option<Uuid> {
        self.claims.claims.sid.parse().ok()
    }

    /// The audit entry of a change this caller makes (MON-5): who, from where, in which request.
    pub fn audit(&self, ctx: &RequestContext, action: &str) -> AuditEntry {
        ctx.audit(action).actor(self.member.id)
    }
}

/// Where a request came from, for audit records and throttling.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub client: Option<IpAddr>,
    pub request_id: Option<String>,
    pub user_agent: Option<String>,
    /// The device cookie the client sent ([`DEVICE_COOKIE`]), if any.
    pub device_cookie: Option<String>,
}

/// The device cookie's name (OWASP Authentication Cheat Sheet, "device cookies"): a client that has signed in to an
/// account before holds one for it, and is not counted against that account's sign-in limit, so an attacker
/// spending the account's budget from other addresses cannot lock the owner's known devices out (AUTH-8).
pub const DEVICE_COOKIE: &str = "comanda_device";

/// How long a device cookie is good for: a year, in seconds.
pub const DEVICE_COOKIE_MAX_AGE: i64 = 365 * 24 * 3600;

impl RequestContext {
    pub(crate) fn audit(&self, action: &str) -> AuditEntry {
        AuditEntry {
            action: action.to_owned(),
            source: self.client.map(|c| c.to_string()),
            request_id: self.request_id.clone(),
            ..AuditEntry::default()
        }
    }

    fn address(&self) -> IpAddr {
        self.client.unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The device cookie for the account signed in to (sent as `Set-Cookie` by the sign-in routes, not in JSON).
    #[serde(skip)]
    pub device_cookie: Option<String>,
}

/// The answer to a sign-in: tokens, or the second step that is still due.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum SignInOutcome {
    Tokens(TokenPair),
    SecondFactorRequired {
        mfa_required: bool,
        mfa_token: String,
    },
    EnrollmentRequired {
        mfa_enrollment_required: bool,
        enrollment_token: String,
    },
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Enrollment {
    /// Base32 secret, for typing into an authenticator app by hand.
    pub secret: String,
    pub otpauth_uri: String,
    /// The otpauth URI as an SVG QR code.
    pub qr_svg: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EnrollmentConfirmed {
    /// Ten single-use codes, shown once.
    pub recovery_codes: Vec<String>,
    #[serde(flatten)]
    pub tokens: TokenPair,
}

/// Fresh recovery codes, shown once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecoveryCodes {
    /// Ten single-use codes; every earlier one stopped working.
    pub recovery_codes: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupOwner {
    #[schema(
        pattern = r"^[^\x00-\x09\x0B-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069]*[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200D\u2028-\u202F\u205F-\u2069\u3000\uFEFF][^\x00-\x09\x0B-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069]*$",
        max_length = 200
    )]
    pub name: String,
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// 12–128 characters; a breached or patterned password, or one containing the owner's name, email or business
    /// name, is refused with 422.
    #[schema(min_length = 12, max_length = 128)]
    pub password: String,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    #[schema(
        pattern = r"^[^\x00-\x09\x0B-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069]*[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200D\u2028-\u202F\u205F-\u2069\u3000\uFEFF][^\x00-\x09\x0B-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069]*$",
        max_length = 200
    )]
    pub business_name: String,
    /// ISO 3166-1 alpha-2.
    #[schema(schema_with = comanda_domain::partner::country_schema)]
    pub country: String,
    pub owner: SignupOwner,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SignupResponse {
    pub partner_id: String,
    pub user_id: String,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    #[schema(
        pattern = r"^[^\x00-\x09\x0B-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069]*[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200D\u2028-\u202F\u205F-\u2069\u3000\uFEFF][^\x00-\x09\x0B-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069]*$",
        max_length = 200
    )]
    pub name: String,
    pub role: Role,
    #[serde(default)]
    pub payout_authority: bool,
    /// The venues the member will work at (ids of the partner's venues). Left out: the inviter's own venues (every
    /// venue for an owner); `null`: every venue. Owners and payout authority work at every venue.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<uuid::Uuid>>, nullable, max_items = 100)]
    pub venues: Option<Option<Vec<uuid::Uuid>>>,
}

/// A field that was sent, `null` included (`Some(None)`), apart from one left out (`None`, by `#[serde(default)]`).
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InvitationCreated {
    pub invitation_id: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StandingPatch {
    pub role: Option<Role>,
    pub payout_authority: Option<bool>,
    /// The venues the member works at: a list of the partner's venue ids, or `null` for every venue. Left out: as
    /// they are, unless the new standing is an owner's or holds payout authority, which work at every venue.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<uuid::Uuid>>, nullable, max_items = 100)]
    pub venues: Option<Option<Vec<uuid::Uuid>>>,
}

pub struct Identity {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    kms: Arc<PlatformKeys>,
    hasher: PasswordHasher,
    pub keys: KeyManager,
    pub throttle: Throttle,
    settings: AuthSettings,
    email_index: Secret<[u8; 32]>,
    secret_index: Secret<[u8; 32]>,
    /// Announces every revocation of a member's credentials to what holds one open in this process (kitchen
    /// streams), so it ends at once rather than at its token's expiry.
    revocations: tokio::sync::broadcast::Sender<Revoked>,
}

/// A revocation as open feeds hear it: a member's credentials, all of them or one sign-in session's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revoked {
    pub partner: PartnerId,
    pub member: Uuid,
    /// The refresh family (sign-in session) revoked, or `None` for every credential of the member.
    pub session: Option<Uuid>,
}

impl Revoked {
    /// Whether a credential of `member` in `partner`, issued in sign-in session `session`, is among those revoked.
    pub fn covers(&self, partner: PartnerId, member: Uuid, session: Option<Uuid>) -> bool {
        self.partner == partner
            && self.member == member
            && self.session.is_none_or(|revoked| session == Some(revoked))
    }
}

/// The one revocation rule (issue 14): a credential — sign-in or enrolment token, access token, refresh family, open
/// kitchen stream — issued under an older credential generation than the member's current one is dead. Every
/// revocation (compromised, logout-all, password change, second-factor re-enrolment or turned off) moves the
/// generation on in the same transaction, so the comparison cannot tie; removal deletes the member, which kills
/// every credential the same way. A change of role or payout authority revokes nothing — every request is
/// authorised by the standing read with the member, not by a token's role claim — but it ends the member's open
/// kitchen streams, which then reconnect under the new standing.
pub fn credential_is_current(member: &StaffMember, issued_under: i64) -> bool {
    issued_under == member.credential_generation
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity").field("keys", &self.keys).finish()
    }
}

fn unauthorized(detail: &str) -> ApiError {
    Problem::new(ProblemType::Unauthorized).detail(detail).into()
}

fn step_up_failed(detail: &str) -> ApiError {
    Problem::new(ProblemType::StepUpFailed).detail(detail).into()
}

fn throttled(RetryAfter(secs): RetryAfter) -> ApiError {
    Problem::new(ProblemType::RateLimited)
        .detail("too many attempts; wait and try again")
        .retry_after(secs.max(1))
        .into()
}

fn token_refused(error: TokenError) -> ApiError {
    tracing::info!(reason = %error, "token refused");
    unauthorized("the token is not valid")
}

const SIGN_IN_FAILED: &str = "email or password is wrong";

impl Identity {
    /// Admits a public booking request from the caller's address, or answers 429 with `Retry-After`.
    pub fn booking_attempt(&self, ctx: &RequestContext) -> Result<(), ApiError> {
        self.throttle.booking_attempt(ctx.address()).map_err(throttled)
    }

    /// Admits a guest's write at a table (order, payment) from the caller's address, or answers 429 with
    /// `Retry-After`.
    pub fn guest_write_attempt(&self, ctx: &RequestContext) -> Result<(), ApiError> {
        self.throttle
            .guest_write_attempt(ctx.address())
            .map_err(throttled)
    }

    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        kms: Arc<PlatformKeys>,
        hasher: PasswordHasher,
        keys: KeyManager,
        settings: AuthSettings,
    ) -> Self {
        Self {
            email_index: kms.derive("email-index"),
            secret_index: kms.derive("secret-index"),
            store,
            clock,
            kms,
            hasher,
            keys,
            throttle: Throttle::default(),
            settings,
            revocations: tokio::sync::broadcast::channel(256).0,
        }
    }

    /// Revocations of members' credentials as they happen in this process.
    pub fn revocations(&self) -> tokio::sync::broadcast::Receiver<Revoked> {
        self.revocations.subscribe()
    }

    /// Every credential of the member (a password change, sign-out everywhere, removal …).
    pub(super) fn announce_revocation(&self, scope: &TenantScope, user: Uuid) {
        let _ = self.revocations.send(Revoked {
            partner: scope.partner(),
            member: user,
            session: None,
        });
    }

    /// One sign-in session of the member (a sign-out): their other devices' feeds go on.
    pub(super) fn announce_session_revocation(&self, scope: &TenantScope, user: Uuid, session: Uuid) {
        let _ = self.revocations.send(Revoked {
            partner: scope.partner(),
            member: user,
            session: Some(session),
        });
    }

    pub fn public_origin(&self) -> &str {
        &self.settings.public_origin
    }

    pub fn email_index(&self) -> Secret<[u8; 32]> {
        self.email_index.clone()
    }

    pub(super) fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// A password's hash as sign-up makes it (`comanda seed` hashes its owners' one password once).
    pub(crate) async fn password_hash(
        &self,
        password: &str,
    ) -> Result<String, comanda_security::password::HashError> {
        self.hasher.hash(password).await
    }

    pub(crate) fn email_key(&self, normalized: &str) -> Vec<u8> {
        keyed_digest(&self.email_index, normalized.as_bytes())
    }

    /// A guest's lookup digests in `partner` (the email as normalised, the phone in E.164): under the email index
    /// key, bound to the partner and apart from the login directory's (a `guest` prefix), the email as a `mailto:`
    /// and the phone as a `tel:` URI (RFC 6068, RFC 3966), so the columns of two partners, or a guest's and a
    /// member's sign-in, cannot be joined without the key.
    pub(crate) fn contact_lookup(
        &self,
        partner: PartnerId,
        email: Option<&str>,
        phone: Option<&str>,
    ) -> ContactLookup {
        let digest =
            |uri: String| keyed_digest(&self.email_index, format!("guest\n{partner}\n{uri}").as_bytes());
        ContactLookup {
            email: email.map(|email| digest(format!("mailto:{email}"))),
            phone: phone.map(|phone| digest(format!("tel:{phone}"))),
        }
    }

    /// A member's TOTP secret, unsealed (it is bound to its partner and member).
    pub(super) fn open_totp_secret(
        &self,
        scope: &TenantScope,
        user: Uuid,
        sealed: &[u8],
    ) -> Result<Vec<u8>, ApiError> {
        self.kms
            .open(sealed, &Self::totp_context(scope, user))
            .map_err(internal)
    }

    pub(super) fn totp_context(scope: &TenantScope, user: Uuid) -> Vec<u8> {
        format!("comanda/totp/{}/{user}", scope.partner()).into_bytes()
    }
}

/// The mail a member gets when their second factor changes (they may not have made the change).
#[derive(Debug, Clone, Copy)]
enum SecurityNotice {
    Reenrolled,
    RecoveryCodes,
    Disabled,
}

impl SecurityNotice {
    fn text(self) -> (&'static str, &'static str) {
        match self {
            SecurityNotice::Reenrolled => (
                "Your two-step sign-in app was changed / Se cambió tu app de verificación en dos pasos",
                concat!(
                    "Your comanda account now uses a new authenticator app; the old one and every old recovery code \
                     no longer work, and every session was signed out. ",
                    "If it was not you, report it from your account at once (it signs out every session).\n\n",
                    "Tu cuenta de comanda usa ahora una nueva app de verificación; la anterior y los códigos de \
                     recuperación anteriores ya no sirven, y se cerraron todas las sesiones. Si no fuiste tú, \
                     repórtalo desde tu cuenta de inmediato.\n"
                ),
            ),
            SecurityNotice::RecoveryCodes => (
                "New recovery codes for comanda / Nuevos códigos de recuperación de comanda",
                concat!(
                    "New recovery codes were made for your comanda account; the earlier ones no longer work. ",
                    "If it was not you, report it from your account at once (it signs out every session).\n\n",
                    "Se generaron nuevos códigos de recuperación para tu cuenta de comanda; los anteriores ya no \
                     sirven. Si no fuiste tú, repórtalo desde tu cuenta de inmediato.\n"
                ),
            ),
            SecurityNotice::Disabled => (
                "Two-step sign-in was turned off / Se desactivó la verificación en dos pasos",
                concat!(
                    "Two-step sign-in was turned off for your comanda account, and every session was signed out. ",
                    "If it was not you, report it from your account at once (it signs out every session).\n\n",
                    "Se desactivó la verificación en dos pasos de tu cuenta de comanda y se cerraron todas las \
                     sesiones. Si no fuiste tú, repórtalo desde tu cuenta de inmediato.\n"
                ),
            ),
        }
    }
}

fn second_factor_off() -> ApiError {
    Problem::new(ProblemType::Conflict)
        .detail("two-step sign-in is off; enrol first (POST /api/v1/auth/mfa/totp/enroll)")
        .into()
}

fn conflict_problem(error: StoreError) -> ApiError {
    match error {
        StoreError::Conflict(detail) => Problem::new(ProblemType::Conflict).detail(detail).into(),
        other => other.into(),
    }
}

pub fn mfa_enrollment_required() -> ApiError {
    Problem::new(ProblemType::MfaEnrollmentRequired)
        .detail("enrol a second factor (POST /api/v1/auth/mfa/totp/enroll) before anything else")
        .into()
}

fn unix(now: OffsetDateTime) -> u64 {
    u64::try_from(now.unix_timestamp()).unwrap_or(0)
}

fn internal(error: impl std::fmt::Display) -> ApiError {
    tracing::error!(%error, "identity failure");
    Problem::new(ProblemType::Internal).into()
}

fn hash_failure(error: comanda_security::password::HashError) -> ApiError {
    match error {
        comanda_security::password::HashError::Busy => Problem::new(ProblemType::Unavailable)
            .detail("sign-in is busy; try again shortly")
            .retry_after(2)
            .into(),
        other => internal(other),
    }
}
