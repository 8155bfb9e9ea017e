//! Identity and access storage: staff, credentials, second factors, sessions (refresh-token families),
//! invitations, the audit trail, the mail outbox and token signing keys.

use async_trait::async_trait;
use comanda_domain::{NewPartner, Page, PageRequest, Partner, PartnerId, Role, Standing, Venues};
use comanda_security::TenantScope;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreResult;

/// Something that happened to a member's account: `kind` (`sign_in.new_device`, `sign_in.new_country`,
/// `sign_in.impossible_travel`, `credential_compromised`, …), what about it, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityEvent {
    pub kind: String,
    pub detail: String,
    pub at: OffsetDateTime,
}

/// Where a member signed in from, as a GeoIP database placed the address: the country (ISO 3166-1 alpha-2, empty
/// when unknown), the coordinates when known, and when (the latest sign-in from that country).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInPlace {
    pub country: String,
    pub coordinates: Option<comanda_domain::sign_in_place::Coordinates>,
    pub signed_in_at: OffsetDateTime,
}

/// A staff member to create (at registration or when an invitation is accepted).
#[derive(Debug, Clone)]
pub struct NewStaff {
    pub id: Uuid,
    pub email: String,
    /// Keyed digest of the normalised email: the login lookup key.
    pub email_key: Vec<u8>,
    pub name: String,
    pub standing: Standing,
    /// The venues the member works at (checked against the standing by the caller: [`Venues::check`]).
    pub venues: Venues,
    pub password_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffMember {
    pub id: Uuid,
    pub partner_id: PartnerId,
    pub email: String,
    pub name: String,
    pub standing: Standing,
    pub venues: Venues,
    pub totp_enabled: bool,
    /// When the member's credentials were last revoked (for people; the rule uses the generation below).
    pub sessions_revoked_at: Option<OffsetDateTime>,
    /// Moves on with every revocation of the member's credentials; a credential issued under an older generation
    /// is dead (see `comanda_security::tokens::Claims::generation`).
    pub credential_generation: i64,
    pub created_at: OffsetDateTime,
}

impl StaffMember {
    /// Whether this member was erased (PRIV-1): their person key is gone, so their sealed address reads
    /// [`ERASED`](crate::sealing::ERASED). Only a restored backup taken before the erasure (or the offboarding that
    /// destroyed every key of the partner) still has their row; such a member must never authenticate again.
    pub fn is_erased(&self) -> bool {
        self.email == crate::sealing::ERASED
    }
}

/// What a login needs before it knows the partner: found by the email's keyed digest.
#[derive(Debug, Clone)]
pub struct LoginRecord {
    pub partner: PartnerId,
    pub user: Uuid,
    pub password_hash: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TotpState {
    pub sealed_secret: Option<Vec<u8>>,
    /// A re-enrolment's new secret, in force only once a code from it is confirmed.
    pub pending_secret: Option<Vec<u8>>,
    pub confirmed: bool,
    pub last_step: Option<i64>,
    /// Wrong second-factor codes in a row from devices the account had not used ([`IdentityStore::
    /// note_second_factor_failure`]); any second factor accepted, or a new password, starts it again at 0.
    pub wrong_codes_in_a_row: u32,
}

/// What [`IdentityStore::note_device`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceSeen {
    /// Seen before.
    Known,
    /// Not seen before; the member has signed in from others.
    New,
    /// The member's first device/network: the baseline, like a first sign-in place.
    First,
}

/// What is kept of a member removed from the staff: the name payroll records need, and the email and joining day so
/// the person can still ask for their data and an erasure finds their mail. Both read `[erased]` once the person is
/// erased; the email is empty for members removed before it was kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormerMember {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub standing: comanda_domain::Standing,
    /// `None` for members removed before it was kept.
    pub joined_at: Option<OffsetDateTime>,
    pub removed_at: OffsetDateTime,
}

/// One audit record, written in the same transaction as the change it describes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditEntry {
    pub actor: Option<Uuid>,
    pub action: String,
    pub target: Option<String>,
    /// Client address.
    pub source: Option<String>,
    pub request_id: Option<String>,
    pub detail: String,
}

impl AuditEntry {
    pub fn new(action: &str) -> Self {
        Self {
            action: action.to_owned(),
            ..Self::default()
        }
    }
    pub fn actor(mut self, actor: Uuid) -> Self {
        self.actor = Some(actor);
        self
    }
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }
    /// This entry, naming `id` as its target unless it already names one (a creation's id is minted in the store).
    pub fn targeting(&self, id: Uuid) -> Self {
        Self {
            target: self.target.clone().or_else(|| Some(id.to_string())),
            ..self.clone()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: Uuid,
    pub at: OffsetDateTime,
    pub entry: AuditEntry,
}

#[derive(Debug, Clone)]
pub struct NewInvitation {
    pub id: Uuid,
    pub digest: Vec<u8>,
    pub email: String,
    pub name: String,
    pub standing: Standing,
    pub venues: Venues,
    pub invited_by: Uuid,
    pub expires_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub id: Uuid,
    pub partner: PartnerId,
    pub email: String,
    pub name: String,
    pub standing: Standing,
    pub venues: Venues,
    pub invited_by: Uuid,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub accepted_at: Option<OffsetDateTime>,
}

/// A refresh token as stored (by digest), with its family (the session).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRecord {
    pub digest: Vec<u8>,
    pub family: Uuid,
    pub partner: PartnerId,
    pub user: Uuid,
    pub created_at: OffsetDateTime,
    pub used_at: Option<OffsetDateTime>,
    pub family_expires_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
    /// The member's credential generation the session was opened under.
    pub credential_generation: i64,
}

/// A change to a member's second factor made after step-up (issue 14).
#[derive(Debug, Clone, Copy)]
pub enum SecondFactorChange<'a> {
    /// The staged secret replaces the current one, its first accepted code at `step`; every old recovery code is
    /// replaced by `recovery_digests`, and every credential issued before is revoked.
    Reenrol {
        step: i64,
        recovery_digests: &'a [Vec<u8>],
    },
    /// Fresh recovery codes; every old one stops working.
    RecoveryCodes { recovery_digests: &'a [Vec<u8>] },
    /// Second factor off: secret, staged secret and recovery codes are deleted, every credential revoked.
    Disable,
}

/// What presenting a refresh token did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// The token was spent and the new one issued in its place.
    Rotated,
    /// The token had just been spent, but its successor was never used: a retry whose response was lost. The
    /// unused successor is revoked and the new one replaces it.
    RetriedWithinGrace,
    /// A spent token came back: the whole family is revoked (RFC 9700 reuse detection).
    ReuseDetected,
    /// Revoked, expired or unknown.
    Invalid,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    pub id: Uuid,
    pub partner: Option<PartnerId>,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSigningKey {
    pub kid: String,
    pub created_at: OffsetDateTime,
    pub sealed_private: Vec<u8>,
    pub public_key: Vec<u8>,
    /// When `comanda keys rotate --revoke-previous` stopped it verifying at once; `None` for a key that retires
    /// the usual way, a token lifetime after its successor.
    pub revoked_at: Option<OffsetDateTime>,
}

#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// Creates a partner and its owner in one transaction; [`crate::StoreError::Conflict`] when the email is taken.
    async fn register_partner(
        &self,
        scope: &TenantScope,
        partner: &NewPartner,
        owner: &NewStaff,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<(Partner, StaffMember)>;

    /// The login directory: which account an email key belongs to, and its password hash.
    async fn login_record(&self, email_key: &[u8]) -> StoreResult<Option<LoginRecord>>;

    /// Appends a sign-in failure to the audit trail of the partner the email belongs to, if any.
    async fn record_sign_in_failure(
        &self,
        email_key: &[u8],
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<()>;

    async fn staff_member(&self, scope: &TenantScope, user: Uuid) -> StoreResult<StaffMember>;
    /// The member and whether their session `family` is still alive, read together: what every authenticated
    /// request checks, in one round trip to the database instead of two.
    async fn staff_member_in_session(
        &self,
        scope: &TenantScope,
        user: Uuid,
        family: Uuid,
        now: OffsetDateTime,
    ) -> StoreResult<(StaffMember, bool)>;
    async fn list_staff(&self, scope: &TenantScope, page: PageRequest) -> StoreResult<Page<StaffMember>>;

    async fn set_password_hash(
        &self,
        scope: &TenantScope,
        user: Uuid,
        hash: &str,
        audit: Option<&AuditEntry>,
        now: OffsetDateTime,
    ) -> StoreResult<()>;

    async fn totp_state(&self, scope: &TenantScope, user: Uuid) -> StoreResult<TotpState>;
    /// Stores a pending (unconfirmed) secret; [`crate::StoreError::Conflict`] once 2FA is confirmed.
    async fn set_pending_totp_secret(
        &self,
        scope: &TenantScope,
        user: Uuid,
        sealed: &[u8],
    ) -> StoreResult<()>;
    /// Stages a re-enrolment's new secret while 2FA stays on with the current one; [`crate::StoreError::Conflict`]
    /// when 2FA is off (enrol instead).
    async fn stage_totp_secret(&self, scope: &TenantScope, user: Uuid, sealed: &[u8]) -> StoreResult<()>;
    /// Applies `change` in one transaction with its audit entry; answers the member's credential generation after
    /// it. [`crate::StoreError::Conflict`] when 2FA is off, or for `Reenrol` when no secret is staged.
    async fn change_second_factor(
        &self,
        scope: &TenantScope,
        user: Uuid,
        change: SecondFactorChange<'_>,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<i64>;
    /// Turns 2FA on with the step of the first accepted code and the recovery codes' digests.
    async fn confirm_totp(
        &self,
        scope: &TenantScope,
        user: Uuid,
        step: i64,
        recovery_digests: &[Vec<u8>],
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Records `step` as used if it is later than the last used one (and the wrong codes in a row start again);
    /// false means the code was replayed.
    async fn accept_totp_step(&self, scope: &TenantScope, user: Uuid, step: i64) -> StoreResult<bool>;
    /// Counts one more wrong second-factor code in a row from a device the account had not used; answers the count.
    async fn note_second_factor_failure(&self, scope: &TenantScope, user: Uuid) -> StoreResult<u32>;
    /// Spends one recovery code (and the wrong codes in a row start again); false when it is unknown or already
    /// used.
    async fn use_recovery_code(
        &self,
        scope: &TenantScope,
        user: Uuid,
        digest: &[u8],
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<bool>;

    /// Changes a member's role, payout authority or venues. Credentials stay valid: every request is authorised by
    /// the standing read with the member, never by the role a token names.
    #[allow(clippy::too_many_arguments)]
    async fn change_standing(
        &self,
        scope: &TenantScope,
        user: Uuid,
        standing: Standing,
        venues: &Venues,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<StaffMember>;
    /// A member removed since (`None` for anyone else): what is kept of them, opened, and the standing they had
    /// (who may act on it).
    async fn former_member(&self, scope: &TenantScope, id: Uuid) -> StoreResult<Option<FormerMember>>;
    /// The names of members removed since (id, name; [`crate::sealing::ERASED`] once the person was erased), for the
    /// payroll records that still name them.
    async fn former_staff_names(&self, scope: &TenantScope) -> StoreResult<Vec<(Uuid, String)>>;
    /// Removes a member, their credentials and sessions; their name and role are kept as a former member's.
    async fn remove_staff(
        &self,
        scope: &TenantScope,
        user: Uuid,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Voids every credential of the member issued so far: moves their credential generation on and revokes their
    /// refresh families. Answers the new generation.
    async fn revoke_sessions(
        &self,
        scope: &TenantScope,
        user: Uuid,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<i64>;
    async fn count_owners(&self, scope: &TenantScope) -> StoreResult<u64>;

    async fn create_invitation(
        &self,
        scope: &TenantScope,
        invitation: &NewInvitation,
        message: &OutboxMessage,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Invitation>;
    async fn invitation_by_digest(&self, digest: &[u8]) -> StoreResult<Option<Invitation>>;
    /// The partner's invitations not accepted yet (expired ones too, until revoked), oldest first, opened.
    async fn pending_invitations(&self, scope: &TenantScope) -> StoreResult<Vec<Invitation>>;
    /// Withdraws an invitation not accepted yet: its row (the invitee's sealed address and name) is deleted, so its
    /// link opens nothing. `NotFound` when there is no such pending invitation.
    async fn revoke_invitation(
        &self,
        scope: &TenantScope,
        invitation: Uuid,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Accepts once: [`crate::StoreError::Conflict`] when already accepted, expired, or the email is taken.
    async fn accept_invitation(
        &self,
        scope: &TenantScope,
        invitation: Uuid,
        staff: &NewStaff,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<StaffMember>;

    /// Opens a session (refresh family) under the credential `generation` the sign-in was proven at: a family
    /// opened under a generation a revocation has since moved past is dead at its first refresh.
    #[allow(clippy::too_many_arguments)]
    async fn create_session(
        &self,
        scope: &TenantScope,
        user: Uuid,
        family: Uuid,
        generation: i64,
        digest: &[u8],
        family_expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<()>;
    async fn refresh_record(&self, digest: &[u8]) -> StoreResult<Option<RefreshRecord>>;
    async fn rotate_refresh(
        &self,
        scope: &TenantScope,
        presented: &[u8],
        successor: &[u8],
        grace: time::Duration,
        now: OffsetDateTime,
    ) -> StoreResult<RefreshOutcome>;
    async fn revoke_family(
        &self,
        scope: &TenantScope,
        family: Uuid,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<()>;

    async fn append_audit(
        &self,
        scope: &TenantScope,
        entry: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<()>;

    /// Records where the member signs in from now (by country, the latest sign-in replacing the one before) and
    /// returns the places known before it, latest first, in one transaction (MON-2).
    async fn note_sign_in_place(
        &self,
        scope: &TenantScope,
        user: Uuid,
        place: &SignInPlace,
    ) -> StoreResult<Vec<SignInPlace>>;

    /// The member's sign-in places, latest first (their data export).
    async fn sign_in_places(&self, scope: &TenantScope, user: Uuid) -> StoreResult<Vec<SignInPlace>>;

    /// The member's security events, latest first, at most the latest 1,000 (their data export).
    async fn security_events(&self, scope: &TenantScope, user: Uuid) -> StoreResult<Vec<SecurityEvent>>;

    /// Remembers a device/network for the member and says whether it was seen before, and whether it is the
    /// member's first.
    async fn note_device(
        &self,
        scope: &TenantScope,
        user: Uuid,
        fingerprint: &[u8],
        now: OffsetDateTime,
    ) -> StoreResult<DeviceSeen>;
    /// Seals the security event details written in clear before details were sealed (at most 1,000 a call, with
    /// the member's key, or the partner's for an event about no member; an erased member's are blanked); answers
    /// how many it sealed.
    async fn seal_clear_security_events(&self, scope: &TenantScope) -> StoreResult<u64>;

    async fn record_security_event(
        &self,
        scope: &TenantScope,
        user: Option<Uuid>,
        kind: &str,
        detail: &str,
        now: OffsetDateTime,
    ) -> StoreResult<()>;

    async fn enqueue_message(&self, message: &OutboxMessage) -> StoreResult<()>;
    async fn pending_messages(&self, limit: u32) -> StoreResult<Vec<OutboxMessage>>;
    async fn mark_message_sent(&self, id: Uuid, now: OffsetDateTime) -> StoreResult<()>;

    async fn signing_keys(&self) -> StoreResult<Vec<StoredSigningKey>>;
    /// Inserts `key` unless a key newer than `unless_newer_than` exists, atomically across instances; true when
    /// this call rotated. With `revoke_older`, every key before it is marked revoked at `key.created_at` in the same
    /// transaction (a leaked key: its tokens must stop verifying now).
    async fn rotate_signing_key(
        &self,
        key: &StoredSigningKey,
        unless_newer_than: OffsetDateTime,
        revoke_older: bool,
    ) -> StoreResult<bool>;
}

pub(crate) fn role_from(text: &str) -> StoreResult<Role> {
    Role::parse(text).ok_or_else(|| crate::records::corrupt("role", text))
}
