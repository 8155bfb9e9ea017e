//! Identity and access: sign-up, sign-in with enforced second factor, sessions, staff management. Handlers stay
//! thin: they parse, then call one method here, which applies the domain rules, stores and audits.

pub mod access;
pub mod keys;
pub mod mail;
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
    AuditEntry, NewInvitation, NewStaff, OutboxMessage, RefreshOutcome, SecondFactorChange, StaffMember,
};
use comanda_store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::problem::{ApiError, Problem, ProblemType};
use keys::KeyManager;
use throttle::{RetryAfter, Throttle};

/// Lifetimes and names of issued credentials.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub access_ttl: time::Duration,
    pub second_factor_ttl: time::Duration,
    pub session: time::Duration,
    pub refresh_grace: time::Duration,
    pub invitation_ttl: time::Duration,
    pub public_origin: String,
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
        pattern = r"^[^\x00-\x09\x0B-\x1F\x7F-\x9F]*[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\x00-\x09\x0B-\x1F\x7F-\x9F]*$",
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
        pattern = r"^[^\x00-\x09\x0B-\x1F\x7F-\x9F]*[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\x00-\x09\x0B-\x1F\x7F-\x9F]*$",
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
        pattern = r"^[^\x00-\x09\x0B-\x1F\x7F-\x9F]*[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\x00-\x09\x0B-\x1F\x7F-\x9F]*$",
        max_length = 200
    )]
    pub name: String,
    pub role: Role,
    #[serde(default)]
    pub payout_authority: bool,
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
    revocations: tokio::sync::broadcast::Sender<(PartnerId, Uuid)>,
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

    /// Revocations of members' credentials as they happen in this process: `(partner, member)`.
    pub fn revocations(&self) -> tokio::sync::broadcast::Receiver<(PartnerId, Uuid)> {
        self.revocations.subscribe()
    }

    fn announce_revocation(&self, scope: &TenantScope, user: Uuid) {
        let _ = self.revocations.send((scope.partner(), user));
    }

    pub fn public_origin(&self) -> &str {
        &self.settings.public_origin
    }

    pub fn email_index(&self) -> Secret<[u8; 32]> {
        self.email_index.clone()
    }

    fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    pub(crate) fn email_key(&self, normalized: &str) -> Vec<u8> {
        keyed_digest(&self.email_index, normalized.as_bytes())
    }

    /// A member's TOTP secret, unsealed (it is bound to its partner and member).
    fn open_totp_secret(&self, scope: &TenantScope, user: Uuid, sealed: &[u8]) -> Result<Vec<u8>, ApiError> {
        self.kms
            .open(sealed, &Self::totp_context(scope, user))
            .map_err(internal)
    }

    fn totp_context(scope: &TenantScope, user: Uuid) -> Vec<u8> {
        format!("comanda/totp/{}/{user}", scope.partner()).into_bytes()
    }

    // ----- sign-up and sign-in -----

    pub async fn signup(
        &self,
        request: &SignupRequest,
        ctx: &RequestContext,
    ) -> Result<SignupResponse, ApiError> {
        self.throttle.auth_attempt(ctx.address()).map_err(throttled)?;
        let mut errors = ValidationErrors::default();
        let partner = NewPartner::parse(&request.business_name, &request.country)
            .map_err(|e| errors.0.extend(e.0))
            .ok();
        let name =
            comanda_domain::validation::clean_text(&mut errors, "owner.name", &request.owner.name, 1, 200);
        let email = normalize_email("owner.email", &request.owner.email)
            .map_err(|e| errors.0.extend(e.0))
            .ok();
        // Owners must enrol a second factor before they can do anything (AUTH-5), so the 12-character floor applies.
        let context = [
            request.owner.email.as_str(),
            request.owner.name.as_str(),
            request.business_name.as_str(),
        ];
        let password = check_new_password(&request.owner.password, true, &context).map_err(|mut e| {
            e.0.iter_mut().for_each(|f| f.field = "owner.password".into());
            e
        });
        let (Some(partner), Some(email)) = (partner, email) else {
            if let Err(e) = password {
                errors.0.extend(e.0);
            }
            return Err(errors.into());
        };
        if !errors.0.is_empty() {
            if let Err(e) = password {
                errors.0.extend(e.0);
            }
            return Err(errors.into());
        }
        password.map_err(|e| ApiError::password(e, &request.owner.password))?;
        let _hashing_slot = self.throttle.password_check(ctx.address()).map_err(throttled)?;
        let hash = self
            .hasher
            .hash(&request.owner.password)
            .await
            .map_err(hash_failure)?;
        let owner = NewStaff {
            id: Uuid::now_v7(),
            email_key: self.email_key(&email),
            email,
            name,
            standing: Standing {
                role: Role::Owner,
                payout_authority: false,
            },
            password_hash: hash,
        };
        let scope = TenantScope::for_new_partner();
        let audit = ctx
            .audit("partner.registered")
            .actor(owner.id)
            .target(scope.partner().to_string());
        let (partner, member) = self
            .store
            .register_partner(&scope, &partner, &owner, &audit, self.now())
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => ApiError::conflict_on("owner.email", "is already registered"),
                other => other.into(),
            })?;
        Ok(SignupResponse {
            partner_id: partner.id.to_string(),
            user_id: member.id.to_string(),
        })
    }

    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
        ctx: &RequestContext,
    ) -> Result<SignInOutcome, ApiError> {
        self.throttle.auth_attempt(ctx.address()).map_err(throttled)?;
        let email = normalize_email("email", email)?;
        let key = self.email_key(&email);
        let device = self.known_device(&key, ctx.device_cookie.as_deref());
        self.throttle
            .sign_in_attempt(&key, ctx.address(), device.as_deref())
            .map_err(throttled)?;
        let _hashing_slot = self.throttle.password_check(ctx.address()).map_err(throttled)?;
        let record = self.store.login_record(&key).await?;
        let stored = record.as_ref().map(|r| (r.partner, r.password_hash.as_str()));
        let (verdict, proof) = self
            .hasher
            .verify_credential(password, stored)
            .await
            .map_err(hash_failure)?;
        let (Some(record), Some(proof)) = (record, proof) else {
            return Err(self.sign_in_failed(&key, ctx, "wrong email or password").await);
        };
        let scope = TenantScope::from_proof(&proof);
        if let Verdict::MatchRehashed(upgraded) = verdict {
            self.store
                .set_password_hash(&scope, record.user, &upgraded, None, self.now())
                .await?;
        }
        let member = self
            .store
            .staff_member(&scope, record.user)
            .await
            .map_err(|_| unauthorized(SIGN_IN_FAILED))?;
        self.second_step(&scope, &member, ctx).await
    }

    async fn sign_in_failed(&self, key: &[u8], ctx: &RequestContext, detail: &str) -> ApiError {
        let audit = ctx.audit("auth.sign_in_failed").detail(detail);
        if let Err(error) = self.store.record_sign_in_failure(key, &audit, self.now()).await {
            tracing::warn!(%error, "could not audit a failed sign-in");
        }
        if self.throttle.record_failure(key, ctx.address()) {
            metrics::counter!("credential_stuffing_bursts_total").increment(1);
            tracing::warn!(client = %ctx.address(), "sign-in failures across many accounts from one address");
            if let Ok(Some(record)) = self.store.login_record(key).await {
                // Recorded in the partner of the account this burst just reached.
                let _ = self
                    .store
                    .record_sign_in_failure(key, &ctx.audit("security.credential_stuffing_burst"), self.now())
                    .await;
                tracing::warn!(partner = %record.partner, "credential-stuffing burst reached a known account");
            }
        }
        unauthorized(SIGN_IN_FAILED)
    }

    /// After the password: a second factor if enrolled, enrolment if required, otherwise a session.
    async fn second_step(
        &self,
        scope: &TenantScope,
        member: &StaffMember,
        ctx: &RequestContext,
    ) -> Result<SignInOutcome, ApiError> {
        let subject = Subject {
            partner: scope.partner(),
            user: member.id,
            role: member.standing.role,
            generation: member.credential_generation,
        };
        let ring = self.keys.ring();
        if member.totp_enabled {
            let issued = ring
                .issue(
                    TokenKind::MfaPending,
                    subject,
                    None,
                    self.now(),
                    self.settings.second_factor_ttl,
                )
                .map_err(internal)?;
            return Ok(SignInOutcome::SecondFactorRequired {
                mfa_required: true,
                mfa_token: issued.token,
            });
        }
        if member.standing.requires_second_factor() {
            let issued = ring
                .issue(
                    TokenKind::Enrollment,
                    subject,
                    None,
                    self.now(),
                    self.settings.access_ttl,
                )
                .map_err(internal)?;
            return Ok(SignInOutcome::EnrollmentRequired {
                mfa_enrollment_required: true,
                enrollment_token: issued.token,
            });
        }
        Ok(SignInOutcome::Tokens(
            self.open_session(scope, member, member.credential_generation, ctx, "auth.sign_in")
                .await?,
        ))
    }

    /// Opens a session for `member` under the credential `generation` the sign-in was proven at.
    async fn open_session(
        &self,
        scope: &TenantScope,
        member: &StaffMember,
        generation: i64,
        ctx: &RequestContext,
        action: &str,
    ) -> Result<TokenPair, ApiError> {
        let now = self.now();
        let family = Uuid::now_v7();
        let refresh = secrets::new_secret("rt").map_err(internal)?;
        let digest = secrets::digest(&self.secret_index, &refresh);
        self.store
            .create_session(
                scope,
                member.id,
                family,
                generation,
                &digest,
                now + self.settings.session,
                now,
            )
            .await?;
        self.store
            .append_audit(
                scope,
                &ctx.audit(action).actor(member.id).target(family.to_string()),
                now,
            )
            .await?;
        self.notice_device(scope, member, ctx).await;
        let mut pair = self.access_pair(scope, member, family, generation, refresh)?;
        pair.device_cookie = Some(self.device_cookie(&self.email_key(&member.email))?);
        Ok(pair)
    }

    /// A new device cookie for the account `email_key`: `nonce.tag`, the tag a keyed digest of the account and the
    /// nonce, so it names its account without storing anything.
    fn device_cookie(&self, email_key: &[u8]) -> Result<String, ApiError> {
        use base64::Engine as _;
        let nonce = secrets::new_secret("dev").map_err(internal)?;
        let tag = keyed_digest(
            &self.secret_index,
            &[b"device:", email_key, nonce.as_bytes()].concat(),
        );
        Ok(format!(
            "{nonce}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag)
        ))
    }

    /// The device a valid cookie for the account `email_key` names (its nonce), or `None`: no cookie, or one for
    /// another account, or forged.
    fn known_device(&self, email_key: &[u8], cookie: Option<&str>) -> Option<Vec<u8>> {
        use base64::Engine as _;
        let (nonce, tag) = cookie?.split_once('.')?;
        let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(tag)
            .ok()?;
        let expected = keyed_digest(
            &self.secret_index,
            &[b"device:", email_key, nonce.as_bytes()].concat(),
        );
        comanda_security::constant_time_eq(&tag, &expected).then(|| nonce.as_bytes().to_vec())
    }

    fn access_pair(
        &self,
        scope: &TenantScope,
        member: &StaffMember,
        family: Uuid,
        generation: i64,
        refresh: String,
    ) -> Result<TokenPair, ApiError> {
        let subject = Subject {
            partner: scope.partner(),
            user: member.id,
            role: member.standing.role,
            generation,
        };
        let issued = self
            .keys
            .ring()
            .issue(
                TokenKind::Access,
                subject,
                Some(family),
                self.now(),
                self.settings.access_ttl,
            )
            .map_err(internal)?;
        Ok(TokenPair {
            access_token: issued.token,
            refresh_token: refresh,
            token_type: "Bearer",
            expires_in: issued.claims.exp - issued.claims.iat,
            device_cookie: None,
        })
    }

    /// MON-2 groundwork: a sign-in from a device/network not seen before records a security event and tells the
    /// account by mail.
    async fn notice_device(&self, scope: &TenantScope, member: &StaffMember, ctx: &RequestContext) {
        let network = match ctx.client {
            Some(IpAddr::V4(v4)) => {
                let [a, b, c, _] = v4.octets();
                format!("{a}.{b}.{c}.0/24")
            }
            Some(IpAddr::V6(v6)) => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
            }
            None => "unknown".into(),
        };
        let agent = ctx.user_agent.clone().unwrap_or_default();
        let fingerprint = keyed_digest(&self.secret_index, format!("{agent}|{network}").as_bytes());
        let now = self.now();
        match self.store.note_device(scope, member.id, &fingerprint, now).await {
            Ok(true) => {
                let detail = format!("network {network}");
                let _ = self
                    .store
                    .record_security_event(scope, Some(member.id), "sign_in.new_device", &detail, now)
                    .await;
                let message = OutboxMessage {
                    id: Uuid::now_v7(),
                    partner: Some(scope.partner()),
                    recipient: member.email.clone(),
                    subject: "New sign-in to comanda / Nuevo inicio de sesión en comanda".into(),
                    body: format!(
                        "A new device or network signed in to your comanda account ({network}). If it was not you, \
                         report it from your account (it signs out every session).\n\nUn dispositivo o red nuevos \
                         iniciaron sesión en tu cuenta de comanda ({network}). Si no fuiste tú, repórtalo desde tu \
                         cuenta (cierra todas las sesiones).\n"
                    ),
                    created_at: now,
                };
                let _ = self.store.enqueue_message(&message).await;
            }
            Ok(false) => {}
            Err(error) => tracing::warn!(%error, "could not record the sign-in device"),
        }
    }

    // ----- second factor -----

    pub async fn begin_enrollment(&self, caller: &Caller) -> Result<Enrollment, ApiError> {
        let (sealed, enrollment) = self.new_totp_secret(caller)?;
        self.store
            .set_pending_totp_secret(&caller.scope, caller.member.id, &sealed)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => ApiError::from(
                    Problem::new(ProblemType::Conflict).detail("two-factor authentication is already on"),
                ),
                other => other.into(),
            })?;
        Ok(enrollment)
    }

    /// A new TOTP secret for the caller: sealed (bound to their partner and member) for the store, and as the
    /// caller's authenticator app takes it (base32, otpauth URI, QR code).
    fn new_totp_secret(&self, caller: &Caller) -> Result<(Vec<u8>, Enrollment), ApiError> {
        let secret = totp::new_secret().map_err(internal)?;
        let sealed = self
            .kms
            .seal(&secret, &Self::totp_context(&caller.scope, caller.member.id))
            .map_err(internal)?;
        let uri = totp::otpauth_uri(&secret, "comanda", &caller.member.email).map_err(internal)?;
        let enrollment = Enrollment {
            secret: totp::encoded_secret(&secret),
            qr_svg: crate::qr::svg(&uri),
            otpauth_uri: uri,
        };
        Ok((sealed, enrollment))
    }

    pub async fn confirm_enrollment(
        &self,
        caller: &Caller,
        code: &str,
        ctx: &RequestContext,
    ) -> Result<EnrollmentConfirmed, ApiError> {
        let state = self.store.totp_state(&caller.scope, caller.member.id).await?;
        let (Some(sealed), false) = (state.sealed_secret, state.confirmed) else {
            return Err(Problem::new(ProblemType::Conflict)
                .detail("start enrolment first")
                .into());
        };
        let secret = self.open_totp_secret(&caller.scope, caller.member.id, &sealed)?;
        let now = self.now();
        let Some(step) = totp::verify(&secret, code, unix(now), None) else {
            return Err(
                ValidationErrors::single("code", "is not the current code of your authenticator").into(),
            );
        };
        let codes = totp::new_recovery_codes().map_err(internal)?;
        let digests: Vec<Vec<u8>> = codes.iter().map(|c| self.recovery_digest(c)).collect();
        let audit = ctx.audit("mfa.enrolled").actor(caller.member.id);
        self.store
            .confirm_totp(&caller.scope, caller.member.id, step, &digests, &audit, now)
            .await?;
        let member = self.store.staff_member(&caller.scope, caller.member.id).await?;
        let tokens = self
            .open_session(
                &caller.scope,
                &member,
                caller.claims.claims.generation,
                ctx,
                "auth.sign_in",
            )
            .await?;
        Ok(EnrollmentConfirmed {
            recovery_codes: codes,
            tokens,
        })
    }

    fn recovery_digest(&self, code: &str) -> Vec<u8> {
        keyed_digest(
            &self.secret_index,
            format!("recovery:{}", totp::normalize_recovery_code(code)).as_bytes(),
        )
    }

    /// The second step of a sign-in: a TOTP code (never the same step twice) or a recovery code (once).
    pub async fn verify_second_factor(
        &self,
        mfa_token: &str,
        code: &str,
        ctx: &RequestContext,
    ) -> Result<TokenPair, ApiError> {
        self.throttle.auth_attempt(ctx.address()).map_err(throttled)?;
        let verified = self.verify_token(mfa_token, TokenKind::MfaPending).await?;
        let scope = TenantScope::from_proof(&verified);
        let user = verified.user;
        // A pending sign-in is good for a few guesses only; the account and device limits below come on top.
        self.throttle
            .second_factor_guess(&verified.claims.jti)
            .map_err(throttled)?;
        let member = self
            .store
            .staff_member(&scope, user)
            .await
            .map_err(|_| unauthorized("the token is not valid"))?;
        // The owner's known device finishes its sign-in even while an attacker with the password spends the
        // account's budget of second-factor guesses (AUTH-8).
        let device = self.known_device(&self.email_key(&member.email), ctx.device_cookie.as_deref());
        self.throttle
            .sign_in_attempt(user.as_bytes(), ctx.address(), device.as_deref())
            .map_err(throttled)?;
        // A password thief who started a sign-in must not outwait the owner's reaction (compromised, logout-all).
        let generation = verified.claims.generation;
        if !credential_is_current(&member, generation) {
            return Err(unauthorized("the sign-in was revoked; sign in again"));
        }
        let state = self.store.totp_state(&scope, user).await?;
        let now = self.now();
        if let (Some(sealed), true) = (&state.sealed_secret, state.confirmed) {
            let secret = self.open_totp_secret(&scope, user, sealed)?;
            if let Some(step) = totp::verify(&secret, code, unix(now), state.last_step)
                && self.store.accept_totp_step(&scope, user, step).await?
            {
                return self
                    .open_session(&scope, &member, generation, ctx, "auth.sign_in")
                    .await;
            }
        }
        let audit = ctx.audit("mfa.recovery_code_used").actor(user);
        if self
            .store
            .use_recovery_code(&scope, user, &self.recovery_digest(code), &audit, now)
            .await?
        {
            return self
                .open_session(&scope, &member, generation, ctx, "auth.sign_in")
                .await;
        }
        self.store
            .append_audit(&scope, &ctx.audit("auth.second_factor_failed").actor(user), now)
            .await?;
        Err(unauthorized("the code is wrong or was already used"))
    }

    // ----- tokens and sessions -----

    pub async fn verify_token(&self, token: &str, kind: TokenKind) -> Result<VerifiedClaims, ApiError> {
        let now = self.now();
        match self.keys.ring().verify(token, kind, now) {
            Err(TokenError::UnknownKey) if self.keys.reload_for_unknown_kid().await => {
                self.keys.ring().verify(token, kind, now).map_err(token_refused)
            }
            other => other.map_err(token_refused),
        }
    }

    /// Authenticates a bearer token of one of `kinds` and checks the member still stands as the token says.
    pub async fn authenticate(&self, token: &str, kinds: &[TokenKind]) -> Result<Caller, ApiError> {
        let mut last = unauthorized("the token is not valid");
        for kind in kinds {
            match self.verify_token(token, *kind).await {
                Ok(claims) => return self.caller_for(claims).await,
                Err(error) => last = error,
            }
        }
        Err(last)
    }

    async fn caller_for(&self, claims: VerifiedClaims) -> Result<Caller, ApiError> {
        let scope = TenantScope::from_proof(&claims);
        // A token tied to a session (every access token) has its member and session read in one round trip.
        let found = match claims.claims.sid.parse::<Uuid>() {
            Ok(session) => {
                self.store
                    .staff_member_in_session(&scope, claims.user, session, self.now())
                    .await
            }
            Err(_) => self
                .store
                .staff_member(&scope, claims.user)
                .await
                .map(|member| (member, true)),
        };
        let (member, session_live) = match found {
            Ok(found) => found,
            Err(StoreError::NotFound) => return Err(unauthorized("the account no longer exists")),
            Err(other) => return Err(other.into()),
        };
        if !credential_is_current(&member, claims.claims.generation) || !session_live {
            return Err(unauthorized("the session was signed out"));
        }
        Ok(Caller {
            scope,
            member,
            claims,
        })
    }

    pub async fn refresh(&self, refresh_token: &str, ctx: &RequestContext) -> Result<TokenPair, ApiError> {
        self.throttle.auth_attempt(ctx.address()).map_err(throttled)?;
        let digest = secrets::digest(&self.secret_index, refresh_token);
        let Some(record) = self.store.refresh_record(&digest).await? else {
            return Err(unauthorized("the refresh token is not valid"));
        };
        let stored = secrets::StoredSecret {
            partner: record.partner,
            digest: record.digest.clone(),
        };
        let proof = secrets::matches(&self.secret_index, refresh_token, &stored)
            .ok_or_else(|| unauthorized("the refresh token is not valid"))?;
        let scope = TenantScope::from_proof(&proof);
        let successor = secrets::new_secret("rt").map_err(internal)?;
        let successor_digest = secrets::digest(&self.secret_index, &successor);
        let outcome = self
            .store
            .rotate_refresh(
                &scope,
                &digest,
                &successor_digest,
                self.settings.refresh_grace,
                self.now(),
            )
            .await?;
        match outcome {
            RefreshOutcome::Rotated | RefreshOutcome::RetriedWithinGrace => {
                let member = self
                    .store
                    .staff_member(&scope, record.user)
                    .await
                    .map_err(|_| unauthorized("signed out"))?;
                if !credential_is_current(&member, record.credential_generation) {
                    return Err(unauthorized("the session was signed out"));
                }
                if member.standing.requires_second_factor() && !member.totp_enabled {
                    return Err(mfa_enrollment_required());
                }
                self.access_pair(
                    &scope,
                    &member,
                    record.family,
                    record.credential_generation,
                    successor,
                )
            }
            RefreshOutcome::ReuseDetected => {
                tracing::warn!(family = %record.family, "refresh token reuse: session revoked");
                Err(unauthorized(
                    "the refresh token was already used; the session has been signed out",
                ))
            }
            RefreshOutcome::Invalid => Err(unauthorized("the refresh token is not valid")),
        }
    }

    pub async fn sign_out(&self, caller: &Caller, ctx: &RequestContext) -> Result<(), ApiError> {
        let Some(session) = caller.session() else {
            return Ok(());
        };
        let audit = ctx
            .audit("auth.sign_out")
            .actor(caller.member.id)
            .target(session.to_string());
        Ok(self
            .store
            .revoke_family(&caller.scope, session, &audit, self.now())
            .await?)
    }

    pub async fn sign_out_everywhere(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        action: &str,
    ) -> Result<(), ApiError> {
        let audit = ctx.audit(action).actor(caller.member.id);
        self.store
            .revoke_sessions(&caller.scope, caller.member.id, &audit, self.now())
            .await?;
        self.announce_revocation(&caller.scope, caller.member.id);
        if action == "auth.credential_compromised" {
            let now = self.now();
            let _ = self
                .store
                .record_security_event(
                    &caller.scope,
                    Some(caller.member.id),
                    "credential_compromised",
                    "",
                    now,
                )
                .await;
        }
        Ok(())
    }

    /// Step-up: changing the password needs the current one (and the current code when 2FA is on).
    pub async fn change_password(
        &self,
        caller: &Caller,
        current: &str,
        new: &str,
        code: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<TokenPair, ApiError> {
        self.step_up(caller, current, code, ctx).await?;
        let member = &caller.member;
        let second_factor = member.totp_enabled || member.standing.requires_second_factor();
        check_new_password(new, second_factor, &[member.email.as_str(), member.name.as_str()]).map_err(
            |mut e| {
                e.0.iter_mut().for_each(|f| f.field = "new_password".into());
                ApiError::password(e, new)
            },
        )?;
        let hash = self.hasher.hash(new).await.map_err(hash_failure)?;
        let now = self.now();
        let audit = ctx.audit("auth.password_changed").actor(member.id);
        self.store
            .set_password_hash(&caller.scope, member.id, &hash, Some(&audit), now)
            .await?;
        // Every other session ends with the old password.
        let audit = ctx
            .audit("auth.sign_out_everywhere")
            .actor(member.id)
            .detail("password changed");
        let generation = self
            .store
            .revoke_sessions(&caller.scope, member.id, &audit, now)
            .await?;
        self.announce_revocation(&caller.scope, member.id);
        self.open_session(&caller.scope, member, generation, ctx, "auth.sign_in")
            .await
    }

    async fn step_up(
        &self,
        caller: &Caller,
        password: &str,
        code: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<(), ApiError> {
        let key = self.email_key(&caller.member.email);
        let device = self.known_device(&key, ctx.device_cookie.as_deref());
        self.throttle
            .sign_in_attempt(&key, ctx.address(), device.as_deref())
            .map_err(throttled)?;
        let record = self.store.login_record(&key).await?;
        let stored = record.as_ref().map(|r| (r.partner, r.password_hash.as_str()));
        let (verdict, _) = self
            .hasher
            .verify_credential(password, stored)
            .await
            .map_err(hash_failure)?;
        if verdict == Verdict::Mismatch {
            return Err(unauthorized("the current password is wrong"));
        }
        if caller.member.totp_enabled {
            let state = self.store.totp_state(&caller.scope, caller.member.id).await?;
            let secret = match state.sealed_secret {
                Some(sealed) => self.open_totp_secret(&caller.scope, caller.member.id, &sealed)?,
                None => return Err(unauthorized("the code is wrong")),
            };
            let step = code.and_then(|c| totp::verify(&secret, c, unix(self.now()), state.last_step));
            let accepted = match step {
                Some(step) => {
                    self.store
                        .accept_totp_step(&caller.scope, caller.member.id, step)
                        .await?
                }
                None => false,
            };
            // A recovery code stands in for the app (a lost phone), and is spent.
            let recovered = !accepted
                && match code {
                    Some(code) => {
                        let audit = ctx.audit("mfa.recovery_code_used").actor(caller.member.id);
                        self.store
                            .use_recovery_code(
                                &caller.scope,
                                caller.member.id,
                                &self.recovery_digest(code),
                                &audit,
                                self.now(),
                            )
                            .await?
                    }
                    None => false,
                };
            if !accepted && !recovered {
                return Err(unauthorized("the code is wrong or was already used"));
            }
        }
        Ok(())
    }

    // ----- managing the second factor (step-up: password and a current or recovery code) -----

    /// Starts replacing the authenticator: a new secret is staged; the current one and the recovery codes stay in
    /// force until [`Self::confirm_reenrollment`].
    pub async fn begin_reenrollment(
        &self,
        caller: &Caller,
        password: &str,
        code: &str,
        ctx: &RequestContext,
    ) -> Result<Enrollment, ApiError> {
        if !caller.member.totp_enabled {
            return Err(second_factor_off());
        }
        self.step_up(caller, password, Some(code), ctx).await?;
        let (sealed, enrollment) = self.new_totp_secret(caller)?;
        self.store
            .stage_totp_secret(&caller.scope, caller.member.id, &sealed)
            .await
            .map_err(conflict_problem)?;
        Ok(enrollment)
    }

    /// Confirms a re-enrolment with a code of the new secret. At once the old secret and every old recovery code
    /// stop working and every credential of the member is revoked; answers new recovery codes and a new session.
    pub async fn confirm_reenrollment(
        &self,
        caller: &Caller,
        code: &str,
        ctx: &RequestContext,
    ) -> Result<EnrollmentConfirmed, ApiError> {
        let state = self.store.totp_state(&caller.scope, caller.member.id).await?;
        let Some(staged) = state.pending_secret else {
            return Err(Problem::new(ProblemType::Conflict)
                .detail("start the re-enrolment first (POST /api/v1/auth/mfa/totp/reenroll)")
                .into());
        };
        let secret = self.open_totp_secret(&caller.scope, caller.member.id, &staged)?;
        let now = self.now();
        let Some(step) = totp::verify(&secret, code, unix(now), None) else {
            return Err(ValidationErrors::single(
                "code",
                "is not the current code of your new authenticator",
            )
            .into());
        };
        let codes = totp::new_recovery_codes().map_err(internal)?;
        let digests: Vec<Vec<u8>> = codes.iter().map(|c| self.recovery_digest(c)).collect();
        let change = SecondFactorChange::Reenrol {
            step,
            recovery_digests: &digests,
        };
        let generation = self
            .change_second_factor(
                caller,
                change,
                ctx.audit("mfa.reenrolled"),
                SecurityNotice::Reenrolled,
            )
            .await?;
        let member = self.store.staff_member(&caller.scope, caller.member.id).await?;
        let tokens = self
            .open_session(&caller.scope, &member, generation, ctx, "auth.sign_in")
            .await?;
        Ok(EnrollmentConfirmed {
            recovery_codes: codes,
            tokens,
        })
    }

    /// Ten new recovery codes; every earlier one stops working.
    pub async fn regenerate_recovery_codes(
        &self,
        caller: &Caller,
        password: &str,
        code: &str,
        ctx: &RequestContext,
    ) -> Result<RecoveryCodes, ApiError> {
        if !caller.member.totp_enabled {
            return Err(second_factor_off());
        }
        self.step_up(caller, password, Some(code), ctx).await?;
        let codes = totp::new_recovery_codes().map_err(internal)?;
        let digests: Vec<Vec<u8>> = codes.iter().map(|c| self.recovery_digest(c)).collect();
        let change = SecondFactorChange::RecoveryCodes {
            recovery_digests: &digests,
        };
        self.change_second_factor(
            caller,
            change,
            ctx.audit("mfa.recovery_codes_regenerated"),
            SecurityNotice::RecoveryCodes,
        )
        .await?;
        Ok(RecoveryCodes {
            recovery_codes: codes,
        })
    }

    /// Turns the second factor off where the standing allows it (AUTH-5: owners, managers and payout authority
    /// cannot go without); every credential is revoked and a new session answered.
    pub async fn disable_second_factor(
        &self,
        caller: &Caller,
        password: &str,
        code: &str,
        ctx: &RequestContext,
    ) -> Result<TokenPair, ApiError> {
        if caller.member.standing.requires_second_factor() {
            return Err(Problem::new(ProblemType::BusinessRule)
                .detail("your role requires two-step sign-in; it cannot be turned off")
                .into());
        }
        if !caller.member.totp_enabled {
            return Err(second_factor_off());
        }
        self.step_up(caller, password, Some(code), ctx).await?;
        // AUTH-3: a password allowed beside a second factor (12 characters) may be too weak without one (15).
        let context = [caller.member.email.as_str(), caller.member.name.as_str()];
        if check_new_password(password, false, &context).is_err() {
            return Err(Problem::new(ProblemType::BusinessRule)
                .detail(
                    "without two-step sign-in the password must be stronger (at least 15 characters): change it \
                     first, then turn two-step sign-in off",
                )
                .into());
        }
        let generation = self
            .change_second_factor(
                caller,
                SecondFactorChange::Disable,
                ctx.audit("mfa.disabled"),
                SecurityNotice::Disabled,
            )
            .await?;
        let member = self.store.staff_member(&caller.scope, caller.member.id).await?;
        self.open_session(&caller.scope, &member, generation, ctx, "auth.sign_in")
            .await
    }

    /// Applies a second-factor change with its audit entry, ends what it revokes, and tells the member by mail.
    async fn change_second_factor(
        &self,
        caller: &Caller,
        change: SecondFactorChange<'_>,
        audit: AuditEntry,
        notice: SecurityNotice,
    ) -> Result<i64, ApiError> {
        let now = self.now();
        let audit = audit.actor(caller.member.id);
        let generation = self
            .store
            .change_second_factor(&caller.scope, caller.member.id, change, &audit, now)
            .await
            .map_err(conflict_problem)?;
        if generation != caller.member.credential_generation {
            self.announce_revocation(&caller.scope, caller.member.id);
        }
        let (subject, body) = notice.text();
        let message = OutboxMessage {
            id: Uuid::now_v7(),
            partner: Some(caller.scope.partner()),
            recipient: caller.member.email.clone(),
            subject: subject.into(),
            body: body.into(),
            created_at: now,
        };
        if let Err(error) = self.store.enqueue_message(&message).await {
            tracing::warn!(%error, "could not queue the second-factor notice");
        }
        Ok(generation)
    }

    // ----- staff -----

    pub async fn invite(
        &self,
        caller: &Caller,
        request: &InviteRequest,
        ctx: &RequestContext,
    ) -> Result<InvitationCreated, ApiError> {
        let mut errors = ValidationErrors::default();
        let name = comanda_domain::validation::clean_text(&mut errors, "name", &request.name, 1, 200);
        let email = normalize_email("email", &request.email)
            .map_err(|e| errors.0.extend(e.0))
            .ok();
        let Some(email) = email else {
            return Err(errors.into());
        };
        if !errors.0.is_empty() {
            return Err(errors.into());
        }
        let standing = Standing {
            role: request.role,
            payout_authority: request.payout_authority,
        };
        if !caller.member.standing.may_assign(None, Some(standing)) {
            return Err(Problem::new(ProblemType::Forbidden)
                .detail("your role cannot grant this role")
                .into());
        }
        if self.store.login_record(&self.email_key(&email)).await?.is_some() {
            return Err(ApiError::conflict_on("email", "already has an account"));
        }
        let token = secrets::new_secret("inv").map_err(internal)?;
        let now = self.now();
        let invitation = NewInvitation {
            id: Uuid::now_v7(),
            digest: secrets::digest(&self.secret_index, &token),
            email: email.clone(),
            name,
            standing,
            invited_by: caller.member.id,
            expires_at: now + self.settings.invitation_ttl,
        };
        let link = format!("{}/invitations/{token}", self.settings.public_origin);
        let message = OutboxMessage {
            id: Uuid::now_v7(),
            partner: Some(caller.scope.partner()),
            recipient: email,
            subject: "You are invited to comanda / Te invitaron a comanda".into(),
            body: format!(
                "{} invited you to join their team on comanda as {}.\nAccept within {} hours: {link}\n\n\
                 {} te invitó a su equipo en comanda como {}.\nAcepta dentro de {} horas: {link}\n",
                caller.member.name,
                standing.role.as_str(),
                self.settings.invitation_ttl.whole_hours(),
                caller.member.name,
                standing.role.as_str(),
                self.settings.invitation_ttl.whole_hours(),
            ),
            created_at: now,
        };
        let audit = ctx
            .audit("staff.invited")
            .actor(caller.member.id)
            .target(invitation.id.to_string())
            .detail(format!(
                "role={} payout_authority={}",
                standing.role.as_str(),
                standing.payout_authority
            ));
        let created = self
            .store
            .create_invitation(&caller.scope, &invitation, &message, &audit, now)
            .await?;
        Ok(InvitationCreated {
            invitation_id: created.id.to_string(),
            expires_at: created.expires_at,
        })
    }

    pub async fn accept_invitation(
        &self,
        token: &str,
        password: &str,
        ctx: &RequestContext,
    ) -> Result<SignupResponse, ApiError> {
        self.throttle.auth_attempt(ctx.address()).map_err(throttled)?;
        let digest = secrets::digest(&self.secret_index, token);
        let not_found = || ApiError::from(Problem::new(ProblemType::NotFound).detail("no such invitation"));
        let invitation = self
            .store
            .invitation_by_digest(&digest)
            .await?
            .ok_or_else(not_found)?;
        let stored = secrets::StoredSecret {
            partner: invitation.partner,
            digest,
        };
        let proof = secrets::matches(&self.secret_index, token, &stored).ok_or_else(not_found)?;
        let now = self.now();
        if invitation.accepted_at.is_some() || invitation.expires_at <= now {
            return Err(Problem::new(ProblemType::Conflict)
                .detail("the invitation was already used or has expired")
                .into());
        }
        check_new_password(
            password,
            invitation.standing.requires_second_factor(),
            &[&invitation.email, &invitation.name],
        )
        .map_err(|e| ApiError::password(e, password))?;
        let scope = TenantScope::from_proof(&proof);
        let _hashing_slot = self.throttle.password_check(ctx.address()).map_err(throttled)?;
        let staff = NewStaff {
            id: Uuid::now_v7(),
            email_key: self.email_key(&invitation.email),
            email: invitation.email.clone(),
            name: invitation.name.clone(),
            standing: invitation.standing,
            password_hash: self.hasher.hash(password).await.map_err(hash_failure)?,
        };
        let audit = ctx
            .audit("staff.joined")
            .actor(staff.id)
            .target(invitation.id.to_string());
        let member = self
            .store
            .accept_invitation(&scope, invitation.id, &staff, &audit, now)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(detail) => {
                    ApiError::from(Problem::new(ProblemType::Conflict).detail(detail))
                }
                other => other.into(),
            })?;
        Ok(SignupResponse {
            partner_id: scope.partner().to_string(),
            user_id: member.id.to_string(),
        })
    }

    pub async fn list_staff(
        &self,
        caller: &Caller,
        page: PageRequest,
    ) -> Result<Page<StaffMember>, ApiError> {
        Ok(self.store.list_staff(&caller.scope, page).await?)
    }

    /// Another partner's member and a member that does not exist look the same: 404.
    pub async fn change_standing(
        &self,
        caller: &Caller,
        user: Uuid,
        patch: &StandingPatch,
        ctx: &RequestContext,
    ) -> Result<StaffMember, ApiError> {
        let target = self.store.staff_member(&caller.scope, user).await?;
        let new = Standing {
            role: patch.role.unwrap_or(target.standing.role),
            payout_authority: patch.payout_authority.unwrap_or(target.standing.payout_authority),
        };
        if !caller
            .member
            .standing
            .may_assign(Some(target.standing), Some(new))
        {
            return Err(Problem::new(ProblemType::Forbidden)
                .detail("your role cannot make this change")
                .into());
        }
        if target.standing.role == Role::Owner
            && new.role != Role::Owner
            && self.store.count_owners(&caller.scope).await? <= 1
        {
            return Err(Problem::new(ProblemType::BusinessRule)
                .detail("a partner always keeps at least one owner")
                .into());
        }
        let audit = ctx
            .audit("staff.standing_changed")
            .actor(caller.member.id)
            .target(user.to_string())
            .detail(format!(
                "role {}→{} payout_authority {}→{}",
                target.standing.role.as_str(),
                new.role.as_str(),
                target.standing.payout_authority,
                new.payout_authority
            ));
        let changed = self
            .store
            .change_standing(&caller.scope, user, new, &audit, self.now())
            .await?;
        self.announce_revocation(&caller.scope, user);
        Ok(changed)
    }

    pub async fn remove_staff(
        &self,
        caller: &Caller,
        user: Uuid,
        ctx: &RequestContext,
    ) -> Result<(), ApiError> {
        let target = self.store.staff_member(&caller.scope, user).await?;
        if !caller.member.standing.may_assign(Some(target.standing), None) {
            return Err(Problem::new(ProblemType::Forbidden)
                .detail("your role cannot remove this member")
                .into());
        }
        if target.standing.role == Role::Owner && self.store.count_owners(&caller.scope).await? <= 1 {
            return Err(Problem::new(ProblemType::BusinessRule)
                .detail("a partner always keeps at least one owner")
                .into());
        }
        let audit = ctx
            .audit("staff.removed")
            .actor(caller.member.id)
            .target(user.to_string());
        self.store
            .remove_staff(&caller.scope, user, &audit, self.now())
            .await?;
        self.announce_revocation(&caller.scope, user);
        Ok(())
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
