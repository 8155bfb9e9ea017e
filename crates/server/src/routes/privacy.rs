//! Data-subject requests (PRIV-1: GDPR, CCPA/CPRA, Colombia's Law 1581 habeas data): a person's data exported as
//! one JSON document, rectified, or erased. Erasure destroys the person's data key (crypto-shredding), so what it
//! sealed is unreadable here and in every backup; amounts they took part in stay, without identity.
//!
//! A member may ask for their own export or rectification; asking about someone else, or erasing, needs the right
//! to manage staff. The partner's last owner cannot be erased (the partner would have nobody to answer for it).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use comanda_domain::validation::clean_text;
use comanda_domain::{Permission, Role, ValidationErrors};
use comanda_security::TenantScope;
use comanda_store::audit::AuditFilter;
use comanda_store::privacy::{ContactLookup, GuestContact, Rectification};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::mail::MailCopy;
use crate::auth::{Caller, RequestContext};
use crate::extract::ApiJson;
use crate::problem::{ApiError, Problem, ProblemType};
use crate::routes::reservations::{DepositView, ReservationView, zone_of};
use crate::routes::staff::{AuditView, StaffView, audit_view};
use crate::routes::waitlist::WaitlistView;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RequestKind {
    Export,
    Rectify,
    Erase,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrivacyRequest {
    pub kind: RequestKind,
    pub subject: Subject,
    /// Rectification: the corrected email.
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
    /// Rectification: the corrected name.
    #[schema(
        pattern = r"^[^\x00-\x09\x0B-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069]*[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200D\u2028-\u202F\u205F-\u2069\u3000\uFEFF][^\x00-\x09\x0B-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069]*$",
        max_length = 200
    )]
    pub name: Option<String>,
    /// Rectification: a guest's corrected phone, E.164 (members keep no phone).
    #[schema(pattern = r"^\+[ ().-]*[1-9]([ ().-]*[0-9]){6,14}[ ().-]*$")]
    pub phone: Option<String>,
    /// Rectifying your own sign-in email: your current password (step-up, as a password change asks), so a token
    /// alone cannot move your sign-in and its security notices elsewhere.
    pub current_password: Option<String>,
    /// With `current_password` when two-factor authentication is on: a current code or a recovery code.
    pub code: Option<String>,
}

/// Whom a request is about: as API.md names a person, by the email or the phone (E.164) they gave — which finds the
/// member who signs in with that email and every guest record that gave it (bookings, waitlist entries, contact left
/// at a table) — or by a member's or guest record's id.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(
    untagged,
    expecting = "a member or guest id, {\"email\": ...} or {\"phone\": ...}"
)]
pub enum Subject {
    #[schema(format = Uuid)]
    Id(String),
    Email(EmailSubject),
    Phone(PhoneSubject),
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailSubject {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneSubject {
    /// E.164, such as `+573001234567`, written with spaces, dashes, dots or parentheses if need be
    /// (`+57 (300) 123-4567`).
    #[schema(pattern = r"^\+[ ().-]*[1-9]([ ().-]*[0-9]){6,14}[ ().-]*$")]
    pub phone: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PersonalDataExport {
    pub subject: StaffView,
    /// When a member removed from the staff was removed (what is kept of them: name, email, role, joining day, for
    /// the payroll records that name them); absent for a current member.
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub removed_at: Option<time::OffsetDateTime>,
    pub partner_id: String,
    /// Everything this person did that the audit trail records.
    pub activity: Vec<AuditView>,
    /// Mail addressed to this person still at rest (the `file` sink keeps it `mail.file_retention_days`).
    pub mail: Vec<MailCopy>,
    /// Where this person signed in from, as the GeoIP database placed it: per country, the latest sign-in.
    pub sign_in_places: Vec<SignInPlaceView>,
    /// What happened to this person's account (new devices and countries, impossible travel, credential-stuffing
    /// attempts, reported compromise), latest first.
    pub security_events: Vec<SecurityEventView>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub generated_at: time::OffsetDateTime,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SecurityEventView {
    pub kind: String,
    pub detail: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: time::OffsetDateTime,
}

/// A country a member signed in from, with the latest sign-in's place.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SignInPlaceView {
    /// ISO 3166-1 alpha-2; empty when the database knew no country.
    pub country: String,
    /// Degrees, as the GeoIP database placed the address (not the person's position).
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// The database's accuracy radius around the coordinates, in km.
    pub radius_km: Option<u32>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub signed_in_at: time::OffsetDateTime,
}

impl From<comanda_store::identity::SignInPlace> for SignInPlaceView {
    fn from(place: comanda_store::identity::SignInPlace) -> Self {
        let degrees = |e4: i32| f64::from(e4) / 1e4;
        Self {
            country: place.country,
            latitude: place.coordinates.map(|c| degrees(c.latitude_e4)),
            longitude: place.coordinates.map(|c| degrees(c.longitude_e4)),
            radius_km: place.coordinates.map(|c| c.radius_km),
            signed_in_at: place.signed_in_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErasureOutcome {
    pub erased: bool,
    /// The person's data key was destroyed: their sealed data is unreadable everywhere, backups included.
    pub key_destroyed: bool,
    pub member_removed: bool,
    pub guest_erased: bool,
    pub addresses_cleared: u64,
    /// Mail files at rest that held the person's address, deleted.
    pub mail_files_removed: u64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum PrivacyAnswer {
    Export(Box<PersonalDataExport>),
    GuestExport(GuestExport),
    Rectified(StaffView),
    GuestRectified(GuestContactView),
    Erased(ErasureOutcome),
}

/// What a request by email or phone did: one answer per record the contact names.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SubjectAnswers {
    /// The subject as asked, normalised.
    pub subject: Subject,
    /// The member who signs in with the email (their export, rectified record or erasure).
    pub member: Option<PrivacyAnswer>,
    /// Every guest record that gave the email or phone, oldest first.
    pub guests: Vec<PrivacyAnswer>,
}

/// The answer to a data-subject request: by id, the one record's; by email or phone, every record's.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum PrivacyResponse {
    One(PrivacyAnswer),
    ByContact(SubjectAnswers),
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GuestExport {
    pub guest: GuestContactView,
    /// What this guest record booked, oldest first: each reservation with its note and deposit.
    pub reservations: Vec<ReservationView>,
    /// The waitlist entries it joined, oldest first.
    pub waitlist: Vec<WaitlistView>,
    /// Mail addressed to the guest still at rest.
    pub mail: Vec<MailCopy>,
    pub partner_id: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub generated_at: time::OffsetDateTime,
}

/// The privacy notice guests accept when they leave contact data (docs/privacy.md). A new version needs fresh
/// consent: contact data offered under an older notice is refused until the guest accepts the current one.
pub const NOTICE_VERSION: &str = "2026-12";

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactRequest {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    #[schema(
        pattern = r"^[^\x00-\x09\x0B-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069]*[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200D\u2028-\u202F\u205F-\u2069\u3000\uFEFF][^\x00-\x09\x0B-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069]*$",
        max_length = 200
    )]
    pub name: Option<String>,
    /// The guest ticked the consent box… (contact data is kept only with consent: anything but `true` is refused)
    #[schema(schema_with = consent_given)]
    pub consent: bool,
    /// …for this notice version (it must be the current one).
    #[schema(schema_with = current_notice_version)]
    pub notice_version: String,
}

/// `true`, the only consent the contact route accepts (PRIV-2), as the document states it.
fn consent_given() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Boolean)
        .enum_values(Some([true]))
        .build()
}

/// The current privacy notice's version, the only one the contact route accepts.
fn current_notice_version() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some([NOTICE_VERSION]))
        .build()
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GuestContactView {
    pub id: String,
    pub email: String,
    pub name: String,
    /// Given with a reservation.
    pub phone: Option<String>,
    pub notice_version: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub consented_at: time::OffsetDateTime,
}

impl From<GuestContact> for GuestContactView {
    fn from(contact: GuestContact) -> Self {
        Self {
            id: contact.id.to_string(),
            email: contact.email,
            name: contact.name,
            phone: contact.phone,
            notice_version: contact.notice_version,
            consented_at: contact.consented_at,
        }
    }
}

/// A guest at a table leaves contact data (for the partner to reach them; comanda itself mails them nothing), with
/// consent to the current privacy notice recorded with its version and time (PRIV-2). The data is sealed under the guest's own key; the id answered is their handle for
/// data-subject requests.
#[utoipa::path(post, path = "/api/v1/t/{token}/contact", tag = "privacy", request_body = ContactRequest,
    params(("token" = String, Path)), responses((status = 201, body = GuestContactView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json")))]
pub async fn leave_contact(
    State(state): State<AppState>,
    Path(token): Path<String>,
    ctx: RequestContext,
    ApiJson(request): ApiJson<ContactRequest>,
) -> Result<(StatusCode, Json<GuestContactView>), ApiError> {
    // A guest's write at the table: the same per-address budget as orders and payments (INF-1).
    state.identity.guest_write_attempt(&ctx)?;
    let guest = crate::routes::guest::resolve(&state, &token).await?;
    let mut errors = ValidationErrors::default();
    if !request.consent {
        errors.push(
            "consent",
            "contact data is kept only with consent to the privacy notice",
        );
    }
    if request.notice_version != NOTICE_VERSION {
        errors.push(
            "notice_version",
            format!("the current privacy notice is version {NOTICE_VERSION}: read and accept it"),
        );
    }
    let email = match comanda_domain::email::normalize_email("email", &request.email) {
        Ok(email) => email,
        Err(invalid) => {
            errors.0.extend(invalid.0);
            String::new()
        }
    };
    let name = clean_text(
        &mut errors,
        "name",
        request.name.as_deref().unwrap_or("-"),
        1,
        200,
    );
    let now = state.clock.now();
    let lookup = state
        .identity
        .contact_lookup(guest.scope.partner(), Some(&email), None);
    let contact = errors.into_result(GuestContact {
        id: Uuid::now_v7(),
        venue_id: guest.venue.id.as_uuid(),
        email,
        name,
        phone: None,
        notice_version: NOTICE_VERSION.to_owned(),
        consented_at: now,
        erased_at: None,
        lookup,
    })?;
    let audit = ctx
        .audit("privacy.consent_recorded")
        .target(contact.id.to_string())
        .detail(format!("notice={NOTICE_VERSION}"));
    let stored = state
        .store
        .add_guest_contact(&guest.scope, &contact, &audit, now)
        .await?;
    Ok((StatusCode::CREATED, Json(stored.into())))
}

/// The most audit entries one export carries.
const EXPORT_ACTIVITY_LIMIT: usize = 100_000;

/// Exports, rectifies or erases a person's data (PRIV-1).
#[utoipa::path(post, path = "/api/v1/privacy/requests", tag = "privacy", security(("bearer" = [])),
    request_body = PrivacyRequest, responses((status = 200, body = PrivacyResponse),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Asking about someone else, by email or phone, or erasing, needs the right to \
            manage staff; about another member, the right to manage that member's role (a manager: the floor roles \
            only); rectifying your own sign-in email, the current password or code was wrong (`step-up-failed`)",
            body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No member or guest of this partner goes by `subject`", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "The rectified email has an account, or the only owner would be erased",
            body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rectifying your own sign-in email: too many wrong passwords or codes (as at \
            sign-in)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A rectification without a corrected field, corrected fields on a request that \
            is not a rectification, a phone for a \
            member (members keep none), your own sign-in email without `current_password`, or `current_password` \
            or `code` on any other request", body = Problem,
            content_type = "application/problem+json")))]
pub async fn request(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    ApiJson(request): ApiJson<PrivacyRequest>,
) -> Result<Json<PrivacyResponse>, ApiError> {
    // The step-up fields belong to one request only: said so anywhere else rather than ignored.
    let own_login_change = request.kind == RequestKind::Rectify && request.email.is_some();
    if !own_login_change && (request.current_password.is_some() || request.code.is_some()) {
        return Err(not_a_step_up());
    }
    let changes = match request.kind {
        RequestKind::Rectify => Some(rectification(&state, &request)?),
        RequestKind::Export | RequestKind::Erase => {
            // A corrected field on another kind of request would be silently ignored: say so instead.
            let mut errors = ValidationErrors::default();
            for (field, given) in [
                ("email", request.email.is_some()),
                ("name", request.name.is_some()),
                ("phone", request.phone.is_some()),
            ] {
                if given {
                    errors.push(field, "only a rectification takes corrected fields");
                }
            }
            errors.into_result(()).map_err(ApiError::rule)?;
            None
        }
    };
    // Requests about others reach guests and staff of every venue: a manager of some venues only answers none, and
    // is told why.
    let manages_staff = caller.member.standing.allows(Permission::ManageStaff);
    let of_some_venues = caller.member.venues != comanda_domain::Venues::Every;
    let answers_for_others = manages_staff && !of_some_venues;
    let refused = || -> ApiError {
        if manages_staff && of_some_venues {
            Problem::new(ProblemType::Forbidden)
                .detail(
                    "you work at some venues only, and a person's records span every venue: the owner answers \
                     requests about others",
                )
                .into()
        } else {
            forbidden()
        }
    };
    let subject = match &request.subject {
        Subject::Id(raw) => raw
            .parse::<Uuid>()
            .map_err(|_| ValidationErrors::single("subject", "must be a member or guest id"))?,
        Subject::Email(_) | Subject::Phone(_) => {
            if !answers_for_others {
                return Err(refused());
            }
            return by_contact(&state, &caller, &ctx, &request, changes.as_ref())
                .await
                .map(|answers| Json(PrivacyResponse::ByContact(answers)));
        }
    };
    let about_self = subject == caller.member.id;
    if (!about_self || request.kind == RequestKind::Erase) && !answers_for_others {
        return Err(refused());
    }
    if !about_self && (request.current_password.is_some() || request.code.is_some()) {
        return Err(not_a_step_up());
    }
    let answer = match state.store.staff_member(&caller.scope, subject).await {
        Ok(member) => member_request(&state, &caller, &ctx, member, &request, changes.as_ref()).await?,
        Err(comanda_store::StoreError::NotFound) if !about_self => {
            match state.store.former_member(&caller.scope, subject).await? {
                Some(former) => former_member_request(&state, &caller, &ctx, former, request.kind).await?,
                None => guest_request(&state, &caller, &ctx, subject, request.kind, changes.as_ref()).await?,
            }
        }
        Err(other) => return Err(other.into()),
    };
    Ok(Json(PrivacyResponse::One(answer)))
}

/// A member removed from the staff keeps their name, email, role and joining day, for the payroll records that name
/// them (docs/privacy.md): they can still have it exported and erased (by rank, as for a member); there is nothing
/// to rectify in a record kept as it was (422, saying so).
async fn former_member_request(
    state: &AppState,
    caller: &Caller,
    ctx: &RequestContext,
    former: comanda_store::identity::FormerMember,
    kind: RequestKind,
) -> Result<PrivacyAnswer, ApiError> {
    // By rank, as for a member: a manager does not act on a former owner's, manager's or payout holder's record.
    refuse_outranked(caller, former.id, former.standing)?;
    let now = state.clock.now();
    let audit = ctx
        .audit(match kind {
            RequestKind::Export => "privacy.exported",
            RequestKind::Rectify => "privacy.rectified",
            RequestKind::Erase => "privacy.erased",
        })
        .actor(caller.member.id)
        .target(former.id.to_string())
        .detail("a former member's kept record");
    match kind {
        RequestKind::Rectify => Err(ApiError::rule(ValidationErrors::single(
            "subject",
            "a member removed from the staff is kept as they were, for the payroll records that name them: ask \
             for its export or its erasure",
        ))),
        RequestKind::Export => {
            let subject = StaffView {
                id: former.id.to_string(),
                email: former.email.clone(),
                name: former.name.clone(),
                role: former.standing.role,
                payout_authority: former.standing.payout_authority,
                // Not kept of a former member: what they could reach is in their audit entries.
                venues: None,
                mfa_enabled: false,
                created_at: former.joined_at.unwrap_or(former.removed_at),
            };
            export_of(
                state,
                &caller.scope,
                subject,
                Some(former.removed_at),
                &audit,
                now,
            )
            .await
        }
        RequestKind::Erase => {
            let erasure = state
                .store
                .erase_person(&caller.scope, former.id, &audit, now)
                .await?;
            let mail = if address_in_use(state, &caller.scope, &former.email).await? {
                0
            } else {
                erase_mail(state, &caller.scope, &former.email, &former.name).await
            };
            Ok(erased(erasure, mail))
        }
    }
}

/// Whether a removed member's kept address is someone's here now (a member re-hired with it signs in with it, or an
/// invitation to it is pending): their mail is not the removed member's to take. An empty address is in nobody's
/// use, but has nothing to find either.
async fn address_in_use(state: &AppState, scope: &TenantScope, email: &str) -> Result<bool, ApiError> {
    if email.is_empty() {
        return Ok(true);
    }
    let member = state
        .store
        .login_record(&state.identity.email_key(email))
        .await?
        .is_some_and(|record| record.partner == scope.partner());
    let invited = state
        .store
        .pending_invitations(scope)
        .await?
        .iter()
        .any(|invitation| invitation.email.eq_ignore_ascii_case(email));
    Ok(member || invited)
}

/// Everything kept of a member, current or removed (`subject`, with `removed_at` for a removed one): their audit
/// activity, the mail addressed to them, where they signed in from and their security events. The export itself is
/// audited (`audit`) after the activity is read.
async fn export_of(
    state: &AppState,
    scope: &TenantScope,
    subject: StaffView,
    removed_at: Option<time::OffsetDateTime>,
    audit: &comanda_store::identity::AuditEntry,
    now: time::OffsetDateTime,
) -> Result<PrivacyAnswer, ApiError> {
    let store = &state.store;
    let id = subject.id.parse::<Uuid>().map_err(|_| ApiError::NotFound)?;
    state.audit.flush().await;
    let filter = AuditFilter {
        actor: Some(id),
        ..AuditFilter::default()
    };
    let mut page = comanda_domain::PageRequest {
        after: None,
        limit: comanda_domain::page::MAX_PAGE_SIZE,
    };
    let mut activity = Vec::new();
    loop {
        let chunk = store.search_audit(scope, &filter, page).await?;
        activity.extend(chunk.items.into_iter().map(audit_view));
        match chunk.next {
            Some(next) if activity.len() < EXPORT_ACTIVITY_LIMIT => page.after = Some(next),
            _ => break,
        }
    }
    store.append_audit(scope, audit, now).await?;
    // A removed member's kept address now someone else's here (re-hired, re-invited): that mail is not theirs.
    let mail = if removed_at.is_some() && address_in_use(state, scope, &subject.email).await? {
        Vec::new()
    } else {
        mail_addressed_to(state, scope, &subject.email).await
    };
    let places = store.sign_in_places(scope, id).await?;
    let events = store.security_events(scope, id).await?;
    Ok(PrivacyAnswer::Export(Box::new(PersonalDataExport {
        mail,
        sign_in_places: places.into_iter().map(SignInPlaceView::from).collect(),
        security_events: events
            .into_iter()
            .map(|event| SecurityEventView {
                kind: event.kind,
                detail: event.detail,
                at: event.at,
            })
            .collect(),
        subject,
        removed_at,
        partner_id: scope.partner().to_string(),
        activity,
        generated_at: now,
    })))
}

/// A corrected phone for a member: well-formed, but a member keeps no phone, a rule of what is kept (422), not bad
/// input.
fn member_has_no_phone() -> ApiError {
    ApiError::rule(ValidationErrors::single(
        "phone",
        "a member keeps no phone: give the email or name",
    ))
}

fn forbidden() -> ApiError {
    Problem::new(ProblemType::Forbidden)
        .detail("only the person themselves, or someone who manages staff, may ask this; by email or phone, only someone who manages staff")
        .into()
}

/// A request naming the person by email or phone: every record that gave it, found by its keyed lookup digest (the
/// contacts themselves are sealed). Preconditions are checked before anything changes: an erasure that would remove
/// the only owner is refused whole. Each record is then handled in its own transaction, the member first; a request
/// cut off half-way is finished by asking again (what was erased is found no more).
async fn by_contact(
    state: &AppState,
    caller: &Caller,
    ctx: &RequestContext,
    request: &PrivacyRequest,
    changes: Option<&Rectification>,
) -> Result<SubjectAnswers, ApiError> {
    let (email, phone, subject) = match &request.subject {
        Subject::Email(EmailSubject { email }) => {
            let email = comanda_domain::email::normalize_email("subject.email", email)?;
            (Some(email.clone()), None, Subject::Email(EmailSubject { email }))
        }
        Subject::Phone(PhoneSubject { phone }) => {
            let Some(phone) = crate::routes::reservations::e164_phone(phone) else {
                return Err(ValidationErrors::single(
                    "subject.phone",
                    "must be an E.164 number such as +573001234567",
                )
                .into());
            };
            (None, Some(phone.clone()), Subject::Phone(PhoneSubject { phone }))
        }
        Subject::Id(_) => return Err(ValidationErrors::single("subject", "give an email or a phone").into()),
    };
    let scope = &caller.scope;
    let lookup = state
        .identity
        .contact_lookup(scope.partner(), email.as_deref(), phone.as_deref());
    let email_key = email.as_deref().map(|email| state.identity.email_key(email));
    let found = state
        .store
        .find_people(scope, email_key.as_deref(), &lookup)
        .await?;
    let mut guests = Vec::new();
    for guest in &found.guests {
        if guest.lookup == ContactLookup::default() {
            // Kept before digests were: given them now, so the next request finds it by digest.
            let kept =
                state
                    .identity
                    .contact_lookup(scope.partner(), Some(&guest.email), guest.phone.as_deref());
            state.store.set_guest_lookup(scope, guest.id, &kept).await?;
        }
        if names_subject(guest, &lookup, email.as_deref(), phone.as_deref()) {
            guests.push(guest.id);
        }
    }
    let member = match found.member {
        Some(id) => Some(state.store.staff_member(&caller.scope, id).await?),
        None => None,
    };
    if member.is_none() && guests.is_empty() {
        return Err(Problem::new(ProblemType::NotFound)
            .detail("no member or guest of this partner gave this email or phone")
            .into());
    }
    if let Some(member) = &member {
        refuse_outranked(caller, member.id, member.standing)?;
        if request.kind == RequestKind::Erase {
            refuse_erasing_only_owner(state, caller, member).await?;
        }
    }
    // A member keeps no phone: a corrected phone is the guests' alone, and must reach one.
    if changes.is_some_and(|c| c.phone.is_some()) && guests.is_empty() {
        return Err(member_has_no_phone());
    }
    let member_changes = changes
        .filter(|c| c.email.is_some() || c.name.is_some())
        .map(|c| Rectification {
            phone: None,
            ..c.clone()
        });
    let member = match member {
        Some(member) if request.kind != RequestKind::Rectify || member_changes.is_some() => {
            Some(member_request(state, caller, ctx, member, request, member_changes.as_ref()).await?)
        }
        _ => None,
    };
    let mut answers = Vec::with_capacity(guests.len());
    for guest in guests {
        answers.push(guest_request(state, caller, ctx, guest, request.kind, changes).await?);
    }
    Ok(SubjectAnswers {
        subject,
        member,
        guests: answers,
    })
}

/// Whether a guest record the store found gave this email or phone: its keyed digest matches, or — a record kept
/// before digests were — its opened field does.
fn names_subject(
    guest: &GuestContact,
    lookup: &ContactLookup,
    email: Option<&str>,
    phone: Option<&str>,
) -> bool {
    let digest_matches = |kept: &Option<Vec<u8>>, asked: &Option<Vec<u8>>| asked.is_some() && kept == asked;
    if guest.lookup == ContactLookup::default() {
        return email.is_some_and(|email| guest.email.eq_ignore_ascii_case(email))
            || phone.is_some_and(|phone| guest.phone.as_deref() == Some(phone));
    }
    digest_matches(&guest.lookup.email, &lookup.email) || digest_matches(&guest.lookup.phone, &lookup.phone)
}

/// A request about another member reaches no further than the staff routes do (`Standing::may_assign`): a manager
/// exports, rectifies or erases the floor roles only, never an owner, another manager or anyone with payout
/// authority, whose email is their sign-in and whose export holds their sign-in places.
fn refuse_outranked(
    caller: &Caller,
    member: Uuid,
    standing: comanda_domain::Standing,
) -> Result<(), ApiError> {
    if member != caller.member.id && !caller.member.standing.may_assign(Some(standing), None) {
        return Err(Problem::new(ProblemType::Forbidden)
            .detail("your role cannot act on this member's data: only an owner can for an owner, a manager or anyone with payout authority")
            .into());
    }
    Ok(())
}

/// The partner's last owner cannot be erased: the partner would have nobody to answer for it.
async fn refuse_erasing_only_owner(
    state: &AppState,
    caller: &Caller,
    member: &comanda_store::identity::StaffMember,
) -> Result<(), ApiError> {
    if member.standing.role == Role::Owner && state.store.count_owners(&caller.scope).await? <= 1 {
        return Err(Problem::new(ProblemType::Conflict)
            .detail("the partner's only owner cannot be erased: make someone else owner first")
            .into());
    }
    Ok(())
}

/// Export, rectification or erasure of a member.
async fn member_request(
    state: &AppState,
    caller: &Caller,
    ctx: &RequestContext,
    member: comanda_store::identity::StaffMember,
    request: &PrivacyRequest,
    changes: Option<&Rectification>,
) -> Result<PrivacyAnswer, ApiError> {
    refuse_outranked(caller, member.id, member.standing)?;
    let scope = &caller.scope;
    let store = &state.store;
    let now = state.clock.now();
    let subject = member.id;
    let audit = ctx
        .audit(match request.kind {
            RequestKind::Export => "privacy.exported",
            RequestKind::Rectify => "privacy.rectified",
            RequestKind::Erase => "privacy.erased",
        })
        .actor(caller.member.id)
        .target(subject.to_string());
    Ok(match request.kind {
        RequestKind::Export => export_of(state, scope, member.into(), None, &audit, now).await?,
        RequestKind::Rectify => {
            let changes = changes.cloned().unwrap_or_default();
            if changes.phone.is_some() {
                return Err(member_has_no_phone());
            }
            // One's own sign-in email moves only with a step-up: a stolen 15-minute token would otherwise move the
            // sign-in, and the security notices with it, to the thief's address.
            if member.id == caller.member.id && changes.email.is_some() {
                let Some(password) = request.current_password.as_deref() else {
                    return Err(ApiError::rule(ValidationErrors::single(
                        "current_password",
                        "changing your own sign-in email needs your current password (and `code` with two-factor \
                         authentication on)",
                    )));
                };
                state
                    .identity
                    .confirm_own_change(caller, password, request.code.as_deref(), ctx)
                    .await?;
            }
            let updated = store
                .rectify_person(scope, subject, &changes, &audit, now)
                .await
                .map_err(|error| match error {
                    comanda_store::StoreError::Conflict(_) => {
                        ApiError::conflict_on("email", "already has an account")
                    }
                    other => other.into(),
                })?;
            forget_replaced_mail(state, scope, &changes, &member.email).await;
            PrivacyAnswer::Rectified(updated.into())
        }
        RequestKind::Erase => {
            refuse_erasing_only_owner(state, caller, &member).await?;
            let erasure = store.erase_person(scope, subject, &audit, now).await?;
            erased(
                erasure,
                erase_mail(state, scope, &member.email, &member.name).await,
            )
        }
    })
}

fn not_a_step_up() -> ApiError {
    ApiError::rule(ValidationErrors::single(
        "current_password",
        "only a change of your own sign-in email takes `current_password` and `code`",
    ))
}

/// The corrected email and/or name of a rectification, validated (the email with its login lookup digest).
fn rectification(state: &AppState, request: &PrivacyRequest) -> Result<Rectification, ApiError> {
    let mut errors = ValidationErrors::default();
    let email = request.email.as_deref().and_then(|raw| {
        comanda_domain::email::normalize_email("email", raw)
            .map_err(|invalid| errors.0.extend(invalid.0))
            .ok()
    });
    let name = request
        .name
        .as_deref()
        .map(|raw| clean_text(&mut errors, "name", raw, 1, 200));
    let phone = request.phone.as_deref().and_then(|raw| {
        let phone = crate::routes::reservations::e164_phone(raw);
        if phone.is_none() {
            errors.push("phone", "must be an E.164 number such as +573001234567");
        }
        phone
    });
    if email.is_none() && name.is_none() && phone.is_none() && errors.0.is_empty() {
        // Well-formed by the schema (every correction is optional there), refused by the rule: 422, not 400.
        return Err(ApiError::rule(ValidationErrors::single(
            "email",
            "give the corrected email, name, phone or several",
        )));
    }
    Ok(errors.into_result(Rectification {
        email: email.map(|e| {
            let key = state.identity.email_key(&e);
            (e, key)
        }),
        name,
        phone,
        // Each guest's digests follow from its own kept fields too: see `guest_request`.
        lookup: ContactLookup::default(),
    })?)
}

fn erased(erasure: comanda_store::privacy::Erasure, mail_files_removed: u64) -> PrivacyAnswer {
    PrivacyAnswer::Erased(ErasureOutcome {
        erased: true,
        key_destroyed: erasure.key_destroyed,
        member_removed: erasure.member_removed,
        guest_erased: erasure.guest_erased,
        addresses_cleared: erasure.addresses_cleared,
        mail_files_removed,
    })
}

async fn mail_addressed_to(state: &AppState, scope: &TenantScope, email: &str) -> Vec<MailCopy> {
    match &state.mail_files {
        Some(files) => files.addressed_to(email, scope.partner()).await,
        None => Vec::new(),
    }
}

/// A rectified email replaces the inaccurate one everywhere comanda keeps it: the mail files (copies of sent mail,
/// kept a few days) addressed to or naming the replaced address are deleted, so no copy keeps it (GDPR art. 16) and
/// a later erasure, which searches by the current address, leaves nothing behind.
/// Mail still queued to the replaced address is dropped first: the sender would otherwise write a new file to it
/// after the rectification, which no later request finds.
async fn forget_replaced_mail(state: &AppState, scope: &TenantScope, changes: &Rectification, email: &str) {
    if changes.email.is_none() {
        return;
    }
    drop_queued_mail(state, scope, email).await;
    if let Some(files) = &state.mail_files {
        let removed = files.erase_mentioning(email, "", scope.partner()).await;
        tracing::info!(removed, "mail files holding a rectified address deleted");
    }
}

/// Personal data outside the sealed store goes with the person: mail still queued to them is dropped (so the sender
/// writes no new file after the erasure), then every mail file that holds their address or name is deleted.
pub(crate) async fn erase_mail(state: &AppState, scope: &TenantScope, email: &str, name: &str) -> u64 {
    drop_queued_mail(state, scope, email).await;
    match &state.mail_files {
        Some(files) => {
            u64::try_from(files.erase_mentioning(email, name, scope.partner()).await).unwrap_or(u64::MAX)
        }
        None => 0,
    }
}

/// Marks the partner's mail still queued to `email` as done without sending it.
async fn drop_queued_mail(state: &AppState, scope: &TenantScope, email: &str) {
    if let Ok(pending) = state.store.pending_messages(1_000).await {
        let theirs = |m: &&comanda_store::identity::OutboxMessage| {
            m.partner == Some(scope.partner()) && m.recipient.eq_ignore_ascii_case(email)
        };
        for message in pending.iter().filter(theirs) {
            if let Err(error) = state.store.mark_message_sent(message.id, state.clock.now()).await {
                tracing::warn!(%error, "could not drop mail queued to a replaced or erased address");
            }
        }
    }
}

/// The same requests about a guest who left contact data (staff who manage staff act on the guest's behalf).
async fn guest_request(
    state: &AppState,
    caller: &Caller,
    ctx: &RequestContext,
    subject: Uuid,
    kind: RequestKind,
    changes: Option<&Rectification>,
) -> Result<PrivacyAnswer, ApiError> {
    let scope = &caller.scope;
    let store = &state.store;
    let now = state.clock.now();
    let contact = store.guest_contact(scope, subject).await?;
    let audit = |action: &str| {
        ctx.audit(action)
            .actor(caller.member.id)
            .target(subject.to_string())
    };
    Ok(match kind {
        RequestKind::Export => {
            let booked = store.guest_bookings(scope, subject).await?;
            let zone = zone_of(state, scope, contact.venue_id).await?;
            let reservations = booked
                .reservations
                .into_iter()
                .map(|(reservation, deposit)| {
                    let mut view = ReservationView::for_staff(reservation, &zone);
                    view.deposit = deposit.as_ref().map(DepositView::from);
                    view
                })
                .collect();
            let waitlist = booked
                .waitlist
                .iter()
                .map(|entry| WaitlistView::new(entry, &zone))
                .collect();
            store.append_audit(scope, &audit("privacy.exported"), now).await?;
            PrivacyAnswer::GuestExport(GuestExport {
                reservations,
                waitlist,
                mail: mail_addressed_to(state, scope, &contact.email).await,
                guest: contact.into(),
                partner_id: scope.partner().to_string(),
                generated_at: now,
            })
        }
        RequestKind::Rectify => {
            let mut changes = changes.cloned().unwrap_or_default();
            // The digests of what the row holds once rectified: the new fields, or the kept ones.
            let email = changes.email.as_ref().map_or(&contact.email, |(email, _)| email);
            let phone = changes.phone.as_ref().or(contact.phone.as_ref());
            changes.lookup =
                state
                    .identity
                    .contact_lookup(scope.partner(), Some(email), phone.map(String::as_str));
            let updated = store
                .rectify_guest(scope, subject, &changes, &audit("privacy.rectified"), now)
                .await?;
            forget_replaced_mail(state, scope, &changes, &contact.email).await;
            PrivacyAnswer::GuestRectified(updated.into())
        }
        RequestKind::Erase => {
            let erasure = store
                .erase_person(scope, subject, &audit("privacy.erased"), now)
                .await?;
            // A table offered to them is free again: the widget's times change, and the next party waiting hears.
            for venue in &erasure.freed_venues {
                state.availability.changed(*venue);
                crate::waitlist::offer_freed(state, scope, *venue).await;
            }
            erased(
                erasure,
                erase_mail(state, scope, &contact.email, &contact.name).await,
            )
        }
    })
}
