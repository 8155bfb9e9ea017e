//! Data-subject rights in the store (PRIV-1): erasure by crypto-shredding and rectification. Export needs nothing of
//! its own: it is read through the ordinary stores.

use async_trait::async_trait;
use comanda_security::TenantScope;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreResult;
use crate::identity::{AuditEntry, StaffMember};

/// What an erasure did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Erasure {
    /// The person's data key existed and is now destroyed.
    pub key_destroyed: bool,
    /// The person was a member and is removed (with credentials, sessions, devices, recovery codes).
    pub member_removed: bool,
    /// The person was a guest: their contact row stays as the consent record, its fields unreadable.
    pub guest_erased: bool,
    /// Audit entries whose client address was cleared (the entries themselves stay: they hold no identity).
    pub addresses_cleared: u64,
    /// Venues where a table offered to the person (a waitlist offer) was freed: their availability changed, and the
    /// next party waiting may be offered it.
    pub freed_venues: Vec<Uuid>,
}

/// What offboarding a partner did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Offboarding {
    /// Data keys destroyed: the partner's own and every person's (guests and members).
    pub keys_destroyed: u64,
    /// Sign-in records removed (one per member).
    pub sign_ins_removed: u64,
    /// Tables whose QR codes stop opening anything.
    pub tables_unlisted: u64,
    /// When the partner had been offboarded already: nothing was done again (and nothing audited again).
    pub already: Option<time::OffsetDateTime>,
}

/// A rectification: the fields to replace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rectification {
    /// New email and its login-directory digest (a member's sign-in follows it).
    pub email: Option<(String, Vec<u8>)>,
    pub name: Option<String>,
    /// A guest's new phone (E.164); members keep no phone.
    pub phone: Option<String>,
    /// A guest's lookup digests once rectified (of the new email and phone, or the kept ones): written in the
    /// rectification's transaction, so a digest never names a field the row no longer holds. Members: unused.
    pub lookup: ContactLookup,
}

/// The keyed digests a data-subject request finds a guest by (API.md: the subject is named by email or phone). The
/// caller makes them (HMAC under the platform's index key, which the store never holds, bound to the partner so
/// that rows of two partners, or a guest and a member's login, cannot be linked without the key); `None` where the
/// guest gave no phone, and on rows kept before digests were.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactLookup {
    pub email: Option<Vec<u8>>,
    pub phone: Option<Vec<u8>>,
}

/// Whom a data-subject request by email or phone names in one partner.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeopleFound {
    /// The member whose sign-in email has the login-directory digest asked.
    pub member: Option<Uuid>,
    /// Guest contacts, neither erased nor left without their key (a restored backup's erased guest), with a matching
    /// digest, and those kept before digests were (`lookup` empty): the caller compares the opened email or phone of
    /// those, the store cannot, and gives them their digests ([`PrivacyStore::set_guest_lookup`]).
    pub guests: Vec<GuestContact>,
}

/// A guest's contact data and the consent it was given under (PRIV-2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestContact {
    pub id: Uuid,
    pub venue_id: Uuid,
    pub email: String,
    pub name: String,
    /// Given with a reservation (E.164).
    pub phone: Option<String>,
    /// The privacy notice the guest accepted, and when.
    pub notice_version: String,
    pub consented_at: OffsetDateTime,
    pub erased_at: Option<OffsetDateTime>,
    /// Kept with the row (never opened: digests), cleared by an erasure.
    pub lookup: ContactLookup,
}

#[async_trait]
pub trait PrivacyStore: Send + Sync {
    /// Stores a guest's contact data, sealed under the guest's own key, with the consent record.
    async fn add_guest_contact(
        &self,
        scope: &TenantScope,
        contact: &GuestContact,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<GuestContact>;

    async fn guest_contact(&self, scope: &TenantScope, id: Uuid) -> StoreResult<GuestContact>;

    /// The member (by `email_key`, the login directory's digest) and the guests (by `lookup`) a data-subject
    /// request by email or phone is about (see [`PeopleFound`]).
    async fn find_people(
        &self,
        scope: &TenantScope,
        email_key: Option<&[u8]>,
        lookup: &ContactLookup,
    ) -> StoreResult<PeopleFound>;

    /// Gives a guest contact kept before digests were its lookup digests (not an erased one).
    async fn set_guest_lookup(
        &self,
        scope: &TenantScope,
        id: Uuid,
        lookup: &ContactLookup,
    ) -> StoreResult<()>;

    /// Replaces a guest's email, name and/or phone (sealed again under their key, with the lookup digests).
    async fn rectify_guest(
        &self,
        scope: &TenantScope,
        id: Uuid,
        changes: &Rectification,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<GuestContact>;

    /// Erases a person in one transaction: their data key is destroyed (so what it sealed is unreadable here and in
    /// every backup), their membership, login, sessions, devices and security events are deleted, the notes of their
    /// bookings are blanked, and the client addresses of their audit entries are cleared. Amounts they took part in stay, without identity.
    async fn erase_person(
        &self,
        scope: &TenantScope,
        person: Uuid,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Erasure>;

    /// Offboards the partner in one transaction (PRIV-1): its data keys — the tenant's and every person's — are
    /// destroyed, so every field they sealed is unreadable here and in every ordinary backup (neither key table rides
    /// along in them); its members' sign-in records and refresh families are deleted and their credential generation
    /// moves on, so no token of the partner works any more; its tables leave the guest directory, so no QR code opens
    /// anything. Rows without identity (orders, amounts, the audit chain) stay for the accounting and audit periods.
    async fn offboard_partner(
        &self,
        scope: &TenantScope,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Offboarding>;

    /// REST-3: moves every data key of the partner (its own and its people's) to the KMS's newest key-encryption-key
    /// version; returns how many moved.
    async fn rewrap_data_keys(&self, scope: &TenantScope) -> StoreResult<u64>;

    /// Replaces a member's email and/or name (sealed again under their key).
    async fn rectify_person(
        &self,
        scope: &TenantScope,
        person: Uuid,
        changes: &Rectification,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<StaffMember>;
}
