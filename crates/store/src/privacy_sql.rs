// Field encryption (data keys read or made inside the caller's tenant transaction) and the privacy store (erasure,
// guest contacts, offboarding, key rewrapping): its statements, written once for both engines and `include!`d by
// `sqlite_privacy` and `postgres_privacy` (docs/architecture.md, "Adding a query").

use crate::identity::{IdentityStore, Invitation, StaffMember};
use crate::reservations::ReservationStatus;
use crate::sealing::{self, KeyOwner, Place, StoredKey};
use crate::{StoreError, StoreResult};
use comanda_domain::PartnerId;
use comanda_security::envelope::DataKey;
use std::sync::Arc;
use uuid::Uuid;

fn staff_fields_sealed(member: &StaffMember) -> bool {
    sealing::is_sealed(&member.email) || sealing::is_sealed(&member.name)
}

/// Email and name opened with the member's key (`None` once erased); a field stored in the clear stays as it is.
fn opened_staff(key: Option<&DataKey>, mut member: StaffMember) -> StoreResult<StaffMember> {
    let open = |column, stored: &str| -> StoreResult<String> {
        if !sealing::is_sealed(stored) {
            return Ok(stored.to_owned());
        }
        let place = Place {
            table: "staff",
            column,
            row: member.id,
        };
        sealing::open(key, member.partner_id, place, stored)
    };
    let email = open("email", &member.email)?;
    let name = open("name", &member.name)?;
    member.email = email;
    member.name = name;
    Ok(member)
}

fn guest_place(guest: Uuid, column: &'static str) -> Place<'static> {
    Place {
        table: "guest_contacts",
        column,
        row: guest,
    }
}

fn totp_place(member: Uuid) -> Place<'static> {
    Place {
        table: "staff",
        column: "totp_secret",
        row: member,
    }
}

impl Engine {
    async fn stored_key(
        conn: &mut Conn,
        partner: PartnerId,
        owner: KeyOwner,
    ) -> StoreResult<Option<StoredKey>> {
        let select = match owner {
            KeyOwner::Tenant => {
                "SELECT key_id, version, wrapped FROM tenant_keys WHERE partner_id = $1 AND owner_id = $2"
            }
            KeyOwner::Person(_) => {
                "SELECT key_id, version, wrapped FROM person_keys WHERE partner_id = $1 AND owner_id = $2"
            }
        };
        let row = sqlx::query(select)
            .bind(h(partner.as_uuid()))
            .bind(h(owner.owner_id(partner)))
            .fetch_optional(&mut *conn)
            .await?;
        row.map(|row| {
            Ok(StoredKey {
                key_id: uuid_col(&row, "key_id")?,
                version: row.try_get("version")?,
                wrapped: row.try_get("wrapped")?,
            })
        })
        .transpose()
    }

    /// The owner's data key; made and stored (wrapped) on first use when `create`.
    pub(crate) async fn data_key(
        &self,
        conn: &mut Conn,
        partner: PartnerId,
        owner: KeyOwner,
        create: bool,
    ) -> StoreResult<Option<Arc<DataKey>>> {
        if let Some(key) = self.sealer.cached(partner, owner) {
            return Ok(Some(key));
        }
        let stored = match Self::stored_key(conn, partner, owner).await? {
            Some(stored) => stored,
            None if create => {
                let (_, made) = self.sealer.generate()?;
                let insert = match owner {
                    KeyOwner::Tenant => {
                        concat!(
                            "INSERT INTO tenant_keys (partner_id, owner_id, key_id, version, wrapped, created_at)
                             VALUES ($1, $2, $3, $4, $5, ",
                            database_now!(),
                            ") ON CONFLICT DO NOTHING"
                        )
                    }
                    KeyOwner::Person(_) => {
                        concat!(
                            "INSERT INTO person_keys (partner_id, owner_id, key_id, version, wrapped, created_at)
                             VALUES ($1, $2, $3, $4, $5, ",
                            database_now!(),
                            ") ON CONFLICT DO NOTHING"
                        )
                    }
                };
                sqlx::query(insert)
                    .bind(h(partner.as_uuid()))
                    .bind(h(owner.owner_id(partner)))
                    .bind(h(made.key_id))
                    .bind(made.version)
                    .bind(&made.wrapped)
                    .execute(&mut *conn)
                    .await?;
                // Whoever stored first wins; everyone uses what is stored.
                Self::stored_key(conn, partner, owner)
                    .await?
                    .ok_or_else(|| StoreError::Config("a data key vanished while it was made".into()))?
            }
            None => return Ok(None),
        };
        self.sealer.unwrap(partner, owner, &stored).map(Some)
    }

    /// Stores a guest's contact in the caller's transaction: email, name and phone sealed under the guest's own key,
    /// with the consent record (a booking writes its guest this way, in the booking's transaction).
    pub(crate) async fn insert_guest_contact(
        &self,
        conn: &mut Conn,
        partner: PartnerId,
        contact: &crate::privacy::GuestContact,
    ) -> StoreResult<()> {
        let owner = KeyOwner::Person(contact.id);
        let email = self
            .seal_field(
                conn,
                partner,
                owner,
                guest_place(contact.id, "email"),
                &contact.email,
            )
            .await?;
        let name = self
            .seal_field(
                conn,
                partner,
                owner,
                guest_place(contact.id, "name"),
                &contact.name,
            )
            .await?;
        let phone = match &contact.phone {
            Some(phone) => Some(
                self.seal_field(conn, partner, owner, guest_place(contact.id, "phone"), phone)
                    .await?,
            ),
            None => None,
        };
        sqlx::query(
            "INSERT INTO guest_contacts (partner_id, id, venue_id, email, name, phone, notice_version, consented_at,
                                         email_digest, phone_digest)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(h(partner.as_uuid()))
        .bind(h(contact.id))
        .bind(h(contact.venue_id))
        .bind(email)
        .bind(name)
        .bind(phone)
        .bind(&contact.notice_version)
        .bind(ts(contact.consented_at))
        .bind(&contact.lookup.email)
        .bind(&contact.lookup.phone)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    pub(crate) async fn seal_field(
        &self,
        conn: &mut Conn,
        partner: PartnerId,
        owner: KeyOwner,
        place: Place<'_>,
        plaintext: &str,
    ) -> StoreResult<String> {
        let key = self
            .data_key(conn, partner, owner, true)
            .await?
            .ok_or_else(|| StoreError::Config("no data key".into()))?;
        sealing::seal(&key, partner, place, plaintext)
    }

    /// `guest_contacts` rows opened, by guest id (inside the caller's transaction).
    pub(crate) async fn contacts_by_guest(
        &self,
        conn: &mut Conn,
        partner: PartnerId,
        rows: &[DbRow],
    ) -> StoreResult<std::collections::HashMap<Uuid, crate::privacy::GuestContact>> {
        let mut guests = std::collections::HashMap::with_capacity(rows.len());
        for row in rows {
            let guest = self.guest_contact_from_row(conn, partner, row).await?;
            guests.insert(guest.id, guest);
        }
        Ok(guests)
    }

    /// Seals `plaintext` like [`Self::seal_field`], but never makes a person's key: a person without one has been
    /// erased (a request of theirs still in flight, or an access record waiting to be flushed), so what would be
    /// sealed for them is not kept (`None`) rather than sealed under a fresh key nobody destroys.
    pub(crate) async fn seal_unless_erased(
        &self,
        conn: &mut Conn,
        partner: PartnerId,
        owner: KeyOwner,
        place: Place<'_>,
        plaintext: &str,
    ) -> StoreResult<Option<String>> {
        let create = owner == KeyOwner::Tenant;
        match self.data_key(conn, partner, owner, create).await? {
            Some(key) => sealing::seal(&key, partner, place, plaintext).map(Some),
            None => Ok(None),
        }
    }

    /// A `guest_contacts` row with its fields opened by the guest's own key (inside the caller's transaction).
    pub(crate) async fn guest_contact_from_row(
        &self,
        conn: &mut Conn,
        partner: PartnerId,
        row: &DbRow,
    ) -> StoreResult<crate::privacy::GuestContact> {
        let id = uuid_col(row, "id")?;
        let owner = KeyOwner::Person(id);
        let mut open = async |column: &'static str, stored: &str| {
            self.open_field(conn, partner, owner, guest_place(id, column), stored)
                .await
        };
        Ok(crate::privacy::GuestContact {
            id,
            venue_id: uuid_col(row, "venue_id")?,
            email: open("email", &row.try_get::<String, _>("email")?).await?,
            name: open("name", &row.try_get::<String, _>("name")?).await?,
            phone: match row.try_get::<Option<String>, _>("phone")? {
                Some(phone) => Some(open("phone", &phone).await?),
                None => None,
            },
            notice_version: row.try_get("notice_version")?,
            consented_at: row.try_get("consented_at")?,
            erased_at: row.try_get("erased_at")?,
            lookup: crate::privacy::ContactLookup {
                email: row.try_get("email_digest")?,
                phone: row.try_get("phone_digest")?,
            },
        })
    }

    pub(crate) async fn open_field(
        &self,
        conn: &mut Conn,
        partner: PartnerId,
        owner: KeyOwner,
        place: Place<'_>,
        stored: &str,
    ) -> StoreResult<String> {
        if !sealing::is_sealed(stored) {
            return Ok(stored.to_owned());
        }
        let key = self.data_key(conn, partner, owner, false).await?;
        sealing::open(key.as_deref(), partner, place, stored)
    }

    /// A member's TOTP secret (already sealed by the platform key) sealed again under the member's own key, so an
    /// erasure shreds it too.
    pub(crate) async fn seal_totp(
        &self,
        conn: &mut Conn,
        partner: PartnerId,
        member: Uuid,
        sealed: &[u8],
    ) -> StoreResult<Vec<u8>> {
        let key = self
            .data_key(conn, partner, KeyOwner::Person(member), true)
            .await?
            .ok_or_else(|| StoreError::Config("no data key".into()))?;
        sealing::seal_bytes(&key, partner, totp_place(member), sealed)
    }

    pub(crate) async fn open_totp(
        &self,
        conn: &mut Conn,
        partner: PartnerId,
        member: Uuid,
        stored: &[u8],
    ) -> StoreResult<Option<Vec<u8>>> {
        let key = self
            .data_key(conn, partner, KeyOwner::Person(member), false)
            .await?;
        sealing::open_bytes(key.as_deref(), partner, totp_place(member), stored)
    }

    /// A staff member's email and name opened with their key from the cache, or `None` when the key must be read
    /// from the database first (its first use in this process, or after an erasure dropped it).
    pub(crate) fn open_staff_cached(&self, member: &StaffMember) -> Option<StoreResult<StaffMember>> {
        if !staff_fields_sealed(member) {
            return Some(Ok(member.clone()));
        }
        let key = self
            .sealer
            .cached(member.partner_id, KeyOwner::Person(member.id))?;
        Some(opened_staff(Some(&key), member.clone()))
    }

    /// A staff member's email and name, opened with their own key.
    pub(crate) async fn open_staff(&self, conn: &mut Conn, member: StaffMember) -> StoreResult<StaffMember> {
        if !staff_fields_sealed(&member) {
            return Ok(member);
        }
        let key = self
            .data_key(conn, member.partner_id, KeyOwner::Person(member.id), false)
            .await?;
        opened_staff(key.as_deref(), member)
    }

    /// An invitation's email and name, opened with the partner's key.
    pub(crate) async fn open_invitation(
        &self,
        conn: &mut Conn,
        mut invitation: Invitation,
    ) -> StoreResult<Invitation> {
        let place = |column| Place {
            table: "invitations",
            column,
            row: invitation.id,
        };
        let partner = invitation.partner;
        invitation.email = self
            .open_field(conn, partner, KeyOwner::Tenant, place("email"), &invitation.email)
            .await?;
        invitation.name = self
            .open_field(conn, partner, KeyOwner::Tenant, place("name"), &invitation.name)
            .await?;
        Ok(invitation)
    }

    async fn write_guest_lookup(
        conn: &mut Conn,
        partner: PartnerId,
        id: Uuid,
        lookup: &crate::privacy::ContactLookup,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE guest_contacts SET email_digest = $3, phone_digest = $4
             WHERE partner_id = $1 AND id = $2 AND erased_at IS NULL",
        )
        .bind(h(partner.as_uuid()))
        .bind(h(id))
        .bind(&lookup.email)
        .bind(&lookup.phone)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Crypto-shredding: the person's key is deleted, so every field it sealed — here, in every backup, in every
    /// copy — is unreadable from now on.
    pub(crate) async fn destroy_person_key(
        &self,
        conn: &mut Conn,
        partner: PartnerId,
        person: Uuid,
    ) -> StoreResult<bool> {
        let deleted = sqlx::query("DELETE FROM person_keys WHERE partner_id = $1 AND owner_id = $2")
            .bind(h(partner.as_uuid()))
            .bind(h(person))
            .execute(&mut *conn)
            .await?
            .rows_affected();
        self.sealer.forget(partner, KeyOwner::Person(person));
        Ok(deleted > 0)
    }
}

#[async_trait::async_trait]
impl crate::privacy::PrivacyStore for Engine {
    async fn erase_person(
        &self,
        scope: &comanda_security::TenantScope,
        person: Uuid,
        audit: &crate::identity::AuditEntry,
        now: time::OffsetDateTime,
    ) -> StoreResult<crate::privacy::Erasure> {
        let partner = scope.partner();
        let mut tx = self.scoped(scope).await?;
        let member_removed = sqlx::query("DELETE FROM staff WHERE partner_id = $1 AND id = $2")
            .bind(h(partner.as_uuid()))
            .bind(h(person))
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        for statement in [
            "DELETE FROM credentials WHERE partner_id = $1 AND user_id = $2",
            "DELETE FROM refresh_tokens WHERE partner_id = $1 AND user_id = $2",
            "DELETE FROM security_events WHERE partner_id = $1 AND user_id = $2",
            "DELETE FROM idempotency_records WHERE partner_id = $1 AND member_id = $2",
            // A former member's name kept for payroll records: erased with them.
            "DELETE FROM former_staff WHERE partner_id = $1 AND id = $2",
        ] {
            sqlx::query(statement)
                .bind(h(partner.as_uuid()))
                .bind(h(person))
                .execute(&mut *tx)
                .await?;
        }
        chain_pending(&mut tx, partner).await?;
        let addresses_cleared = clear_sources(&mut tx, partner, person).await?;
        let guest_erased = sqlx::query(
            "UPDATE guest_contacts SET erased_at = $3, email_digest = NULL, phone_digest = NULL
             WHERE partner_id = $1 AND id = $2 AND erased_at IS NULL",
        )
        .bind(h(partner.as_uuid()))
        .bind(h(person))
        .bind(ts(now))
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        // A booking's note is the guest's own words (an allergy, a birthday, a name): it goes with them. So do the
        // keys and request digests their bookings and waitlist places were made with: a replay of the original
        // request must not answer with the erased person's booking.
        for statement in [
            "UPDATE reservations SET note = '', status_reason = '', idempotency_key = NULL, request_hash = NULL
              WHERE partner_id = $1 AND guest_id = $2",
            "UPDATE waitlist_entries SET idempotency_key = NULL, request_hash = NULL
              WHERE partner_id = $1 AND guest_id = $2",
        ] {
            sqlx::query(statement)
                .bind(h(partner.as_uuid()))
                .bind(h(person))
                .execute(&mut *tx)
                .await?;
        }
        // Processing stops (GDPR Art. 17): their places on the waitlist end, and a table offered to them is free
        // again. The offered bookings' rows are locked before the entries, in the order accepting an offer takes.
        let offered: Vec<DbRow> = sqlx::query(locking!(
            "SELECT id, venue_id FROM reservations WHERE partner_id = $1 AND status = 'offered'
                AND id IN (SELECT reservation_id FROM waitlist_entries
                            WHERE partner_id = $1 AND guest_id = $2 AND status = 'offered')"
        ))
        .bind(h(partner.as_uuid()))
        .bind(h(person))
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE waitlist_entries SET status = 'left', updated_at = $3
              WHERE partner_id = $1 AND guest_id = $2 AND status IN ('waiting', 'offered')",
        )
        .bind(h(partner.as_uuid()))
        .bind(h(person))
        .bind(ts(now))
        .execute(&mut *tx)
        .await?;
        let mut freed_venues = Vec::new();
        for row in &offered {
            let reservation = uuid_col(row, "id")?;
            if cancel_if(&mut tx, partner, reservation, ReservationStatus::Offered, now).await? {
                freed_venues.push(uuid_col(row, "venue_id")?);
            }
        }
        let key_destroyed = self.destroy_person_key(&mut tx, partner, person).await?;
        self.insert_audit(&mut tx, partner, audit, now).await?;
        tx.commit().await?;
        Ok(crate::privacy::Erasure {
            key_destroyed,
            member_removed,
            guest_erased,
            addresses_cleared,
            freed_venues,
        })
    }

    async fn offboard_partner(
        &self,
        scope: &comanda_security::TenantScope,
        audit: &crate::identity::AuditEntry,
        now: time::OffsetDateTime,
    ) -> StoreResult<crate::privacy::Offboarding> {
        let mut tx = self.scoped(scope).await?;
        // A second run (an operator retrying after the mail files could not be deleted) changes and audits nothing.
        let already: Option<time::OffsetDateTime> = sqlx::query_scalar(locking!(
            "SELECT offboarded_at FROM partner_directory WHERE partner_id = $1"
        ))
        .bind(h(scope.partner().as_uuid()))
        .fetch_optional(&mut *tx)
        .await?
        .flatten();
        if already.is_some() {
            return Ok(crate::privacy::Offboarding {
                already,
                ..Default::default()
            });
        }
        // Counts per kind: data keys, sign-ins, listed tables (refresh families, the credential generation and the
        // booking directory are not reported).
        let mut counts = [0u64; 4];
        for (statement, kind) in [
            ("DELETE FROM tenant_keys WHERE partner_id = $1", 0),
            ("DELETE FROM person_keys WHERE partner_id = $1", 0),
            ("DELETE FROM credentials WHERE partner_id = $1", 1),
            ("DELETE FROM refresh_tokens WHERE partner_id = $1", 3),
            // An invitation sent before would otherwise make a new member of a partner nobody may sign in to.
            ("DELETE FROM invitations WHERE partner_id = $1", 3),
            // Mail still queued for it names its staff and guests and carries invitation links: never sent.
            ("DELETE FROM outbox WHERE partner_id = $1 AND sent_at IS NULL", 3),
            ("DELETE FROM table_directory WHERE partner_id = $1", 2),
            // Its venues leave the public booking directory: no availability or booking reaches them.
            ("DELETE FROM booking_directory WHERE partner_id = $1", 3),
            ("DELETE FROM deposit_directory WHERE partner_id = $1", 3),
            // Where its staff signed in from: the countries are clear text.
            ("DELETE FROM sign_in_places WHERE partner_id = $1", 3),
            ("DELETE FROM idempotency_records WHERE partner_id = $1", 3),
            // The keyed digests would still name the guests to whoever holds the index key.
            (
                "UPDATE guest_contacts SET email_digest = NULL, phone_digest = NULL WHERE partner_id = $1",
                3,
            ),
            (
                "UPDATE staff SET credential_generation = credential_generation + 1 WHERE partner_id = $1",
                3,
            ),
        ] {
            counts[kind] += sqlx::query(statement)
                .bind(h(scope.partner().as_uuid()))
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        // The partner stays in the directory: its audit chain is still checkpointed, verified and pruned.
        sqlx::query(
            "UPDATE partner_directory SET offboarded_at = $2 WHERE partner_id = $1 AND offboarded_at IS NULL",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(ts(now))
        .execute(&mut *tx)
        .await?;
        let done = crate::privacy::Offboarding {
            keys_destroyed: counts[0],
            sign_ins_removed: counts[1],
            tables_unlisted: counts[2],
            already: None,
        };
        self.insert_audit(&mut tx, scope.partner(), audit, now).await?;
        tx.commit().await?;
        self.sealer.forget_partner(scope.partner());
        Ok(done)
    }

    async fn rewrap_data_keys(&self, scope: &comanda_security::TenantScope) -> StoreResult<u64> {
        let mut tx = self.scoped(scope).await?;
        let mut moved = 0;
        for (select, update) in [
            (
                "SELECT owner_id, key_id, version, wrapped FROM tenant_keys WHERE partner_id = $1",
                "UPDATE tenant_keys SET wrapped = $3 WHERE partner_id = $1 AND owner_id = $2",
            ),
            (
                "SELECT owner_id, key_id, version, wrapped FROM person_keys WHERE partner_id = $1",
                "UPDATE person_keys SET wrapped = $3 WHERE partner_id = $1 AND owner_id = $2",
            ),
        ] {
            let rows = sqlx::query(select)
                .bind(h(scope.partner().as_uuid()))
                .fetch_all(&mut *tx)
                .await?;
            for row in rows {
                let owner = uuid_col(&row, "owner_id")?;
                let stored = StoredKey {
                    key_id: uuid_col(&row, "key_id")?,
                    version: row.try_get("version")?,
                    wrapped: row.try_get("wrapped")?,
                };
                if let Some(wrapped) = sealing::rewrapped(self.sealer.kms()?, &stored)? {
                    sqlx::query(update)
                        .bind(h(scope.partner().as_uuid()))
                        .bind(h(owner))
                        .bind(wrapped)
                        .execute(&mut *tx)
                        .await?;
                    moved += 1;
                }
            }
        }
        tx.commit().await?;
        Ok(moved)
    }

    async fn add_guest_contact(
        &self,
        scope: &comanda_security::TenantScope,
        contact: &crate::privacy::GuestContact,
        audit: &crate::identity::AuditEntry,
        now: time::OffsetDateTime,
    ) -> StoreResult<crate::privacy::GuestContact> {
        let partner = scope.partner();
        let mut tx = self.scoped(scope).await?;
        self.insert_guest_contact(&mut tx, partner, contact).await?;
        self.insert_audit(&mut tx, partner, audit, now).await?;
        tx.commit().await?;
        Ok(contact.clone())
    }

    async fn guest_contact(
        &self,
        scope: &comanda_security::TenantScope,
        id: Uuid,
    ) -> StoreResult<crate::privacy::GuestContact> {
        let partner = scope.partner();
        let mut tx = self.reading(scope).await?;
        let row = sqlx::query("SELECT * FROM guest_contacts WHERE partner_id = $1 AND id = $2")
            .bind(h(partner.as_uuid()))
            .bind(h(id))
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let contact = self.guest_contact_from_row(&mut tx, partner, &row).await?;
        tx.commit().await?;
        Ok(contact)
    }

    async fn find_people(
        &self,
        scope: &comanda_security::TenantScope,
        email_key: Option<&[u8]>,
        lookup: &crate::privacy::ContactLookup,
    ) -> StoreResult<crate::privacy::PeopleFound> {
        let partner = scope.partner();
        let mut tx = self.reading(scope).await?;
        let member = match email_key {
            Some(digest) => {
                sqlx::query("SELECT user_id FROM credentials WHERE partner_id = $1 AND email_key = $2")
                    .bind(h(partner.as_uuid()))
                    .bind(digest)
                    .fetch_optional(&mut *tx)
                    .await?
                    .map(|row| uuid_col(&row, "user_id"))
                    .transpose()?
            }
            None => None,
        };
        let rows = sqlx::query(
            "SELECT * FROM guest_contacts g WHERE partner_id = $1 AND erased_at IS NULL
               AND (email_digest = $2 OR phone_digest = $3 OR (email_digest IS NULL AND phone_digest IS NULL))
               AND EXISTS (SELECT 1 FROM person_keys k WHERE k.partner_id = g.partner_id AND k.owner_id = g.id)
             ORDER BY consented_at, id",
        )
        .bind(h(partner.as_uuid()))
        .bind(&lookup.email)
        .bind(&lookup.phone)
        .fetch_all(&mut *tx)
        .await?;
        let mut guests = Vec::with_capacity(rows.len());
        for row in &rows {
            guests.push(self.guest_contact_from_row(&mut tx, partner, row).await?);
        }
        tx.commit().await?;
        Ok(crate::privacy::PeopleFound { member, guests })
    }

    async fn set_guest_lookup(
        &self,
        scope: &comanda_security::TenantScope,
        id: Uuid,
        lookup: &crate::privacy::ContactLookup,
    ) -> StoreResult<()> {
        let mut tx = self.scoped(scope).await?;
        Self::write_guest_lookup(&mut tx, scope.partner(), id, lookup).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn rectify_guest(
        &self,
        scope: &comanda_security::TenantScope,
        id: Uuid,
        changes: &crate::privacy::Rectification,
        audit: &crate::identity::AuditEntry,
        now: time::OffsetDateTime,
    ) -> StoreResult<crate::privacy::GuestContact> {
        let partner = scope.partner();
        let mut tx = self.scoped(scope).await?;
        let owner = KeyOwner::Person(id);
        for (column, value, statement) in [
            (
                "email",
                changes.email.as_ref().map(|(email, _)| email),
                "UPDATE guest_contacts SET email = $3 WHERE partner_id = $1 AND id = $2 AND erased_at IS NULL",
            ),
            (
                "phone",
                changes.phone.as_ref(),
                "UPDATE guest_contacts SET phone = $3 WHERE partner_id = $1 AND id = $2 AND erased_at IS NULL",
            ),
            (
                "name",
                changes.name.as_ref(),
                "UPDATE guest_contacts SET name = $3 WHERE partner_id = $1 AND id = $2 AND erased_at IS NULL",
            ),
        ] {
            let Some(value) = value else { continue };
            let sealed = self
                .seal_field(&mut tx, partner, owner, guest_place(id, column), value)
                .await?;
            let updated = sqlx::query(statement)
                .bind(h(partner.as_uuid()))
                .bind(h(id))
                .bind(sealed)
                .execute(&mut *tx)
                .await?;
            if updated.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
        }
        Self::write_guest_lookup(&mut tx, partner, id, &changes.lookup).await?;
        self.insert_audit(&mut tx, partner, audit, now).await?;
        tx.commit().await?;
        self.guest_contact(scope, id).await
    }

    async fn rectify_person(
        &self,
        scope: &comanda_security::TenantScope,
        person: Uuid,
        changes: &crate::privacy::Rectification,
        audit: &crate::identity::AuditEntry,
        now: time::OffsetDateTime,
    ) -> StoreResult<StaffMember> {
        let partner = scope.partner();
        let mut tx = self.scoped(scope).await?;
        let owner = KeyOwner::Person(person);
        let place = |column| Place {
            table: "staff",
            column,
            row: person,
        };
        if let Some((email, email_key)) = &changes.email {
            let sealed = self
                .seal_field(&mut tx, partner, owner, place("email"), email)
                .await?;
            let updated = sqlx::query("UPDATE staff SET email = $3 WHERE partner_id = $1 AND id = $2")
                .bind(h(partner.as_uuid()))
                .bind(h(person))
                .bind(sealed)
                .execute(&mut *tx)
                .await?;
            if updated.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            sqlx::query("UPDATE credentials SET email_key = $3, updated_at = $4 WHERE partner_id = $1 AND user_id = $2")
                .bind(h(partner.as_uuid()))
                .bind(h(person))
                .bind(email_key)
                .bind(ts(now))
                .execute(&mut *tx)
                .await
                .map_err(|e| match StoreError::from(e) {
                    StoreError::Conflict(_) => StoreError::Conflict("email".into()),
                    other => other,
                })?;
        }
        if let Some(name) = &changes.name {
            let sealed = self
                .seal_field(&mut tx, partner, owner, place("name"), name)
                .await?;
            let updated = sqlx::query("UPDATE staff SET name = $3 WHERE partner_id = $1 AND id = $2")
                .bind(h(partner.as_uuid()))
                .bind(h(person))
                .bind(sealed)
                .execute(&mut *tx)
                .await?;
            if updated.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
        }
        self.insert_audit(&mut tx, partner, audit, now).await?;
        tx.commit().await?;
        self.staff_member(scope, person).await
    }
}
