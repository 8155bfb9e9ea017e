// The identity store's statements, written once for both engines and `include!`d by `sqlite_identity` and
// `postgres_identity` (docs/architecture.md, "Adding a query"). The engines keep their own arms where they differ:
// the transactions `tenant_tx` and `signing_key_tx`, and `member_in_session`, the read every authenticated request
// makes.

use crate::identity::{
    AuditEntry, DeviceSeen, FormerMember, IdentityStore, Invitation, LoginRecord, NewInvitation, NewStaff,
    OutboxMessage, RefreshOutcome, RefreshRecord, SecondFactorChange, SecurityEvent, SignInPlace,
    StaffMember, StoredSigningKey, TotpState, role_from,
};
use crate::sealing::KeyOwner;
use crate::{StoreError, StoreResult};
use async_trait::async_trait;
use comanda_domain::{NewPartner, Page, PageRequest, Partner, PartnerId, Standing, VenueId, Venues};
use comanda_security::TenantScope;
use time::OffsetDateTime;
use uuid::Uuid;

macro_rules! staff_columns {
    () => {
        "partner_id, id, email, name, role, payout_authority, venues, totp_confirmed_at, sessions_revoked_at, credential_generation, created_at"
    };
}

/// `venues` as stored: NULL for every venue, else the ids separated by spaces.
fn venues_col(row: &DbRow) -> StoreResult<Venues> {
    let text: Option<String> = row.try_get("venues")?;
    let Some(text) = text else {
        return Ok(Venues::Every);
    };
    let ids = text
        .split_whitespace()
        .map(|id| {
            id.parse::<VenueId>()
                .map_err(|_| corrupt("venues", "not a venue id"))
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Venues::only(ids).map_err(|_| corrupt("venues", "an empty list"))
}

fn venues_text(venues: &Venues) -> Option<String> {
    venues
        .listed()
        .map(|ids| ids.iter().map(ToString::to_string).collect::<Vec<_>>().join(" "))
}

fn staff_from_row(row: &DbRow) -> StoreResult<StaffMember> {
    let role: String = row.try_get("role")?;
    Ok(StaffMember {
        id: uuid_col(row, "id")?,
        partner_id: PartnerId::from_uuid(uuid_col(row, "partner_id")?),
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        standing: Standing {
            role: role_from(&role)?,
            payout_authority: row.try_get("payout_authority")?,
        },
        venues: venues_col(row)?,
        // Read through a simple query on PostgreSQL (`member_in_session`): instants go through `opt_instant_col`.
        totp_enabled: opt_instant_col(row, "totp_confirmed_at")?.is_some(),
        sessions_revoked_at: opt_instant_col(row, "sessions_revoked_at")?,
        credential_generation: row.try_get("credential_generation")?,
        created_at: opt_instant_col(row, "created_at")?.ok_or_else(|| corrupt("created_at", "missing"))?,
    })
}

fn invitation_from_row(row: &DbRow) -> StoreResult<Invitation> {
    let role: String = row.try_get("role")?;
    Ok(Invitation {
        id: uuid_col(row, "id")?,
        partner: PartnerId::from_uuid(uuid_col(row, "partner_id")?),
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        standing: Standing {
            role: role_from(&role)?,
            payout_authority: row.try_get("payout_authority")?,
        },
        venues: venues_col(row)?,
        invited_by: uuid_col(row, "invited_by")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        accepted_at: row.try_get("accepted_at")?,
    })
}

async fn insert_staff(
    store: &Engine,
    conn: &mut Conn,
    partner: PartnerId,
    staff: &NewStaff,
    now: OffsetDateTime,
) -> StoreResult<StaffMember> {
    sqlx::query(
        "INSERT INTO credentials (email_key, partner_id, user_id, password_hash, updated_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&staff.email_key)
    .bind(h(partner.as_uuid()))
    .bind(h(staff.id))
    .bind(&staff.password_hash)
    .bind(ts(now))
    .execute(&mut *conn)
    .await
    .map_err(|e| match StoreError::from(e) {
        StoreError::Conflict(_) => StoreError::Conflict("email".into()),
        other => other,
    })?;
    let owner = crate::sealing::KeyOwner::Person(staff.id);
    let place = |column| crate::sealing::Place {
        table: "staff",
        column,
        row: staff.id,
    };
    let email = store
        .seal_field(conn, partner, owner, place("email"), &staff.email)
        .await?;
    let name = store
        .seal_field(conn, partner, owner, place("name"), &staff.name)
        .await?;
    let row = sqlx::query(concat!(
        "INSERT INTO staff (partner_id, id, email, name, role, payout_authority, venues, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ",
        staff_columns!(),
        ""
    ))
    .bind(h(partner.as_uuid()))
    .bind(h(staff.id))
    .bind(&email)
    .bind(&name)
    .bind(staff.standing.role.as_str())
    .bind(staff.standing.payout_authority)
    .bind(venues_text(&staff.venues))
    .bind(ts(now))
    .fetch_one(&mut *conn)
    .await?;
    store.open_staff(conn, staff_from_row(&row)?).await
}

/// Every earlier recovery code of the member stops working; `digests` are the new ones (none when 2FA goes off).
async fn replace_recovery_codes(
    conn: &mut Conn,
    scope: &TenantScope,
    user: Uuid,
    digests: &[Vec<u8>],
) -> StoreResult<()> {
    sqlx::query("DELETE FROM recovery_codes WHERE partner_id = $1 AND user_id = $2")
        .bind(h(scope.partner().as_uuid()))
        .bind(h(user))
        .execute(&mut *conn)
        .await?;
    for digest in digests {
        sqlx::query("INSERT INTO recovery_codes (partner_id, user_id, digest) VALUES ($1, $2, $3)")
            .bind(h(scope.partner().as_uuid()))
            .bind(h(user))
            .bind(digest)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

#[async_trait]
impl IdentityStore for Engine {
    async fn register_partner(
        &self,
        scope: &TenantScope,
        partner: &NewPartner,
        owner: &NewStaff,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<(Partner, StaffMember)> {
        let mut tx = self.scoped(scope).await?;
        let partner = insert_partner(&mut tx, scope, partner, now).await?;
        let member = insert_staff(self, &mut tx, scope.partner(), owner, now).await?;
        self.insert_audit(&mut tx, scope.partner(), audit, now).await?;
        tx.commit().await?;
        Ok((partner, member))
    }

    async fn login_record(&self, email_key: &[u8]) -> StoreResult<Option<LoginRecord>> {
        let row =
            sqlx::query("SELECT partner_id, user_id, password_hash FROM credentials WHERE email_key = $1")
                .bind(email_key)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|row| {
            Ok(LoginRecord {
                partner: PartnerId::from_uuid(uuid_col(&row, "partner_id")?),
                user: uuid_col(&row, "user_id")?,
                password_hash: row.try_get("password_hash")?,
            })
        })
        .transpose()
    }

    async fn record_sign_in_failure(
        &self,
        email_key: &[u8],
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        let Some(record) = self.login_record(email_key).await? else {
            return Ok(());
        };
        let mut tx = self.tenant_tx(record.partner).await?;
        self.insert_audit(
            &mut tx,
            record.partner,
            &AuditEntry {
                target: Some(record.user.to_string()),
                ..audit.clone()
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn staff_member(&self, scope: &TenantScope, user: Uuid) -> StoreResult<StaffMember> {
        let mut tx = self.reading(scope).await?;
        let row = sqlx::query(concat!(
            "SELECT ",
            staff_columns!(),
            " FROM staff WHERE partner_id = $1 AND id = $2"
        ))
        .bind(h(scope.partner().as_uuid()))
        .bind(h(user))
        .fetch_one(&mut *tx)
        .await?;
        let member = self.open_staff(&mut tx, staff_from_row(&row)?).await?;
        tx.commit().await?;
        Ok(member)
    }

    async fn staff_member_in_session(
        &self,
        scope: &TenantScope,
        user: Uuid,
        family: Uuid,
        now: OffsetDateTime,
    ) -> StoreResult<(StaffMember, bool)> {
        // Every authenticated request asks this: each engine reads it its fastest way.
        self.member_in_session(scope, user, family, now).await
    }

    async fn list_staff(&self, scope: &TenantScope, page: PageRequest) -> StoreResult<Page<StaffMember>> {
        let mut tx = self.scoped(scope).await?;
        let rows = sqlx::query(concat!(
            "SELECT ",
            staff_columns!(),
            " FROM staff WHERE partner_id = $1 AND (CAST($2 AS UUID) IS NULL OR id > $2)
             ORDER BY id LIMIT $3"
        ))
        .bind(h(scope.partner().as_uuid()))
        .bind(page.after.map(|c| h(c.last_id())))
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&mut *tx)
        .await?;
        let mut members = Vec::with_capacity(rows.len());
        for row in &rows {
            members.push(self.open_staff(&mut tx, staff_from_row(row)?).await?);
        }
        tx.commit().await?;
        Ok(Page::from_overfetch(members, page.limit, |m| m.id))
    }

    async fn set_password_hash(
        &self,
        scope: &TenantScope,
        user: Uuid,
        hash: &str,
        audit: Option<&AuditEntry>,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        let mut tx = self.scoped(scope).await?;
        let updated = sqlx::query(
            "UPDATE credentials SET password_hash = $3, updated_at = $4 WHERE partner_id = $1 AND user_id = $2",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(user))
        .bind(hash)
        .bind(ts(now))
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        // A new password: whoever was guessing codes behind the old one starts from nothing.
        sqlx::query("UPDATE staff SET second_factor_failures = 0 WHERE partner_id = $1 AND id = $2")
            .bind(h(scope.partner().as_uuid()))
            .bind(h(user))
            .execute(&mut *tx)
            .await?;
        if let Some(audit) = audit {
            self.insert_audit(&mut tx, scope.partner(), audit, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn totp_state(&self, scope: &TenantScope, user: Uuid) -> StoreResult<TotpState> {
        let mut tx = self.scoped(scope).await?;
        let row = sqlx::query(
            "SELECT totp_secret_sealed, totp_pending_sealed, totp_confirmed_at, totp_last_step, second_factor_failures
               FROM staff WHERE partner_id = $1 AND id = $2",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(user))
        .fetch_one(&mut *tx)
        .await?;
        let stored: Option<Vec<u8>> = row.try_get("totp_secret_sealed")?;
        let sealed_secret = match stored {
            Some(stored) => self.open_totp(&mut tx, scope.partner(), user, &stored).await?,
            None => None,
        };
        let staged: Option<Vec<u8>> = row.try_get("totp_pending_sealed")?;
        let pending_secret = match staged {
            Some(staged) => self.open_totp(&mut tx, scope.partner(), user, &staged).await?,
            None => None,
        };
        tx.commit().await?;
        Ok(TotpState {
            sealed_secret,
            pending_secret,
            confirmed: row
                .try_get::<Option<OffsetDateTime>, _>("totp_confirmed_at")?
                .is_some(),
            last_step: row.try_get("totp_last_step")?,
            wrong_codes_in_a_row: u32::try_from(row.try_get::<i32, _>("second_factor_failures")?)
                .unwrap_or(0),
        })
    }

    async fn set_pending_totp_secret(
        &self,
        scope: &TenantScope,
        user: Uuid,
        sealed: &[u8],
    ) -> StoreResult<()> {
        let statement = "UPDATE staff SET totp_secret_sealed = $3
                         WHERE partner_id = $1 AND id = $2 AND totp_confirmed_at IS NULL";
        self.write_totp_secret(
            scope,
            user,
            sealed,
            statement,
            "two-factor authentication is already on",
        )
        .await
    }

    async fn stage_totp_secret(&self, scope: &TenantScope, user: Uuid, sealed: &[u8]) -> StoreResult<()> {
        let statement = "UPDATE staff SET totp_pending_sealed = $3
                         WHERE partner_id = $1 AND id = $2 AND totp_confirmed_at IS NOT NULL";
        self.write_totp_secret(scope, user, sealed, statement, "two-factor authentication is off")
            .await
    }

    async fn change_second_factor(
        &self,
        scope: &TenantScope,
        user: Uuid,
        change: SecondFactorChange<'_>,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<i64> {
        let mut tx = self.scoped(scope).await?;
        let partner = h(scope.partner().as_uuid());
        let (query, digests, revokes) = match change {
            SecondFactorChange::Reenrol { step, recovery_digests } => (
                sqlx::query(
                    "UPDATE staff SET totp_secret_sealed = totp_pending_sealed, totp_pending_sealed = NULL,
                            totp_last_step = $3, totp_confirmed_at = $4
                     WHERE partner_id = $1 AND id = $2 AND totp_confirmed_at IS NOT NULL
                       AND totp_pending_sealed IS NOT NULL",
                )
                .bind(partner)
                .bind(h(user))
                .bind(step)
                .bind(ts(now)),
                recovery_digests,
                true,
            ),
            // Touches nothing: only finds out, under the write lock, that the second factor is on.
            SecondFactorChange::RecoveryCodes { recovery_digests } => (
                sqlx::query(
                    "UPDATE staff SET totp_confirmed_at = totp_confirmed_at
                     WHERE partner_id = $1 AND id = $2 AND totp_confirmed_at IS NOT NULL",
                )
                .bind(partner)
                .bind(h(user)),
                recovery_digests,
                false,
            ),
            SecondFactorChange::Disable => (
                sqlx::query(
                    "UPDATE staff SET totp_secret_sealed = NULL, totp_pending_sealed = NULL, totp_confirmed_at = NULL,
                            totp_last_step = NULL
                     WHERE partner_id = $1 AND id = $2 AND totp_confirmed_at IS NOT NULL",
                )
                .bind(partner)
                .bind(h(user)),
                &[][..],
                true,
            ),
        };
        let updated = query.execute(&mut *tx).await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::Conflict(match change {
                SecondFactorChange::Reenrol { .. } => "no re-enrolment was started".into(),
                _ => "two-factor authentication is off".into(),
            }));
        }
        replace_recovery_codes(&mut tx, scope, user, digests).await?;
        let generation = if revokes {
            revoke_credentials(&mut tx, scope, user, now).await?
        } else {
            sqlx::query_scalar("SELECT credential_generation FROM staff WHERE partner_id = $1 AND id = $2")
                .bind(h(scope.partner().as_uuid()))
                .bind(h(user))
                .fetch_one(&mut *tx)
                .await?
        };
        self.insert_audit(&mut tx, scope.partner(), audit, now).await?;
        tx.commit().await?;
        Ok(generation)
    }

    async fn confirm_totp(
        &self,
        scope: &TenantScope,
        user: Uuid,
        step: i64,
        recovery_digests: &[Vec<u8>],
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        let mut tx = self.scoped(scope).await?;
        let updated = sqlx::query(
            "UPDATE staff SET totp_confirmed_at = $3, totp_last_step = $4
             WHERE partner_id = $1 AND id = $2 AND totp_confirmed_at IS NULL AND totp_secret_sealed IS NOT NULL",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(user))
        .bind(ts(now))
        .bind(step)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::Conflict("no pending enrolment".into()));
        }
        replace_recovery_codes(&mut tx, scope, user, recovery_digests).await?;
        self.insert_audit(&mut tx, scope.partner(), audit, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn accept_totp_step(&self, scope: &TenantScope, user: Uuid, step: i64) -> StoreResult<bool> {
        let mut tx = self.scoped(scope).await?;
        let updated = sqlx::query(
            "UPDATE staff SET totp_last_step = $3, second_factor_failures = 0
             WHERE partner_id = $1 AND id = $2 AND (totp_last_step IS NULL OR totp_last_step < $3)",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(user))
        .bind(step)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(updated.rows_affected() == 1)
    }

    async fn note_second_factor_failure(&self, scope: &TenantScope, user: Uuid) -> StoreResult<u32> {
        let mut tx = self.scoped(scope).await?;
        let count: i32 = sqlx::query_scalar(
            "UPDATE staff SET second_factor_failures = second_factor_failures + 1
              WHERE partner_id = $1 AND id = $2 RETURNING second_factor_failures",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(user))
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(u32::try_from(count).unwrap_or(0))
    }

    async fn use_recovery_code(
        &self,
        scope: &TenantScope,
        user: Uuid,
        digest: &[u8],
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        let mut tx = self.scoped(scope).await?;
        let updated = sqlx::query(
            "UPDATE recovery_codes SET used_at = $4
             WHERE partner_id = $1 AND user_id = $2 AND digest = $3 AND used_at IS NULL",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(user))
        .bind(digest)
        .bind(ts(now))
        .execute(&mut *tx)
        .await?;
        let used = updated.rows_affected() == 1;
        if used {
            sqlx::query("UPDATE staff SET second_factor_failures = 0 WHERE partner_id = $1 AND id = $2")
                .bind(h(scope.partner().as_uuid()))
                .bind(h(user))
                .execute(&mut *tx)
                .await?;
            self.insert_audit(&mut tx, scope.partner(), audit, now).await?;
        }
        tx.commit().await?;
        Ok(used)
    }

    async fn change_standing(
        &self,
        scope: &TenantScope,
        user: Uuid,
        standing: Standing,
        venues: &Venues,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<StaffMember> {
        let mut tx = self.scoped(scope).await?;
        let row = sqlx::query(concat!(
            "UPDATE staff SET role = $3, payout_authority = $4, venues = $5 WHERE partner_id = $1 AND id = $2
             RETURNING ",
            staff_columns!(),
            ""
        ))
        .bind(h(scope.partner().as_uuid()))
        .bind(h(user))
        .bind(standing.role.as_str())
        .bind(standing.payout_authority)
        .bind(venues_text(venues))
        .fetch_one(&mut *tx)
        .await?;
        self.insert_audit(&mut tx, scope.partner(), audit, now).await?;
        let member = self.open_staff(&mut tx, staff_from_row(&row)?).await?;
        tx.commit().await?;
        Ok(member)
    }

    async fn former_member(&self, scope: &TenantScope, id: Uuid) -> StoreResult<Option<FormerMember>> {
        let mut conn = self.reading(scope).await?;
        let Some(row) = sqlx::query("SELECT * FROM former_staff WHERE partner_id = $1 AND id = $2")
            .bind(h(scope.partner().as_uuid()))
            .bind(h(id))
            .fetch_optional(&mut *conn)
            .await?
        else {
            return Ok(None);
        };
        let role: String = row.try_get("role")?;
        // Kept as the staff row sealed them: opened at the staff row's places, under the person's key.
        let mut opened = [String::new(), String::new()];
        for (field, column) in opened.iter_mut().zip(["name", "email"]) {
            let stored: String = row.try_get(column)?;
            if !stored.is_empty() {
                let place = crate::sealing::Place {
                    table: "staff",
                    column,
                    row: id,
                };
                *field = self
                    .open_field(&mut conn, scope.partner(), KeyOwner::Person(id), place, &stored)
                    .await?;
            }
        }
        let [name, email] = opened;
        Ok(Some(FormerMember {
            id,
            name,
            email,
            standing: Standing {
                role: role_from(&role)?,
                payout_authority: row.try_get("payout_authority")?,
            },
            joined_at: row.try_get("joined_at")?,
            removed_at: row.try_get("removed_at")?,
        }))
    }

    async fn former_staff_names(&self, scope: &TenantScope) -> StoreResult<Vec<(Uuid, String)>> {
        let mut conn = self.reading(scope).await?;
        let rows = sqlx::query("SELECT id, name FROM former_staff WHERE partner_id = $1 ORDER BY id")
            .bind(h(scope.partner().as_uuid()))
            .fetch_all(&mut *conn)
            .await?;
        let mut names = Vec::with_capacity(rows.len());
        for row in &rows {
            let id = uuid_col(row, "id")?;
            let stored: String = row.try_get("name")?;
            let place = crate::sealing::Place {
                table: "staff",
                column: "name",
                row: id,
            };
            let name = self
                .open_field(&mut conn, scope.partner(), KeyOwner::Person(id), place, &stored)
                .await?;
            names.push((id, name));
        }
        Ok(names)
    }

    async fn remove_staff(
        &self,
        scope: &TenantScope,
        user: Uuid,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        let mut tx = self.scoped(scope).await?;
        // The name stays as it is sealed (under the person's own key): payroll records still say who.
        sqlx::query(
            "INSERT INTO former_staff (partner_id, id, name, email, joined_at, role, payout_authority, removed_at)
             SELECT partner_id, id, name, email, created_at, role, payout_authority, $3 FROM staff
              WHERE partner_id = $1 AND id = $2
             ON CONFLICT (partner_id, id) DO UPDATE SET name = excluded.name, email = excluded.email,
                 joined_at = excluded.joined_at, role = excluded.role,
                 payout_authority = excluded.payout_authority, removed_at = excluded.removed_at",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(user))
        .bind(ts(now))
        .execute(&mut *tx)
        .await?;
        let deleted = sqlx::query("DELETE FROM staff WHERE partner_id = $1 AND id = $2")
            .bind(h(scope.partner().as_uuid()))
            .bind(h(user))
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query("DELETE FROM credentials WHERE partner_id = $1 AND user_id = $2")
            .bind(h(scope.partner().as_uuid()))
            .bind(h(user))
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE refresh_tokens SET revoked_at = $3 WHERE partner_id = $1 AND user_id = $2 AND revoked_at IS NULL")
            .bind(h(scope.partner().as_uuid()))
            .bind(h(user))
            .bind(ts(now))
            .execute(&mut *tx)
            .await?;
        self.insert_audit(&mut tx, scope.partner(), audit, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn revoke_sessions(
        &self,
        scope: &TenantScope,
        user: Uuid,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<i64> {
        let mut tx = self.scoped(scope).await?;
        let generation = revoke_credentials(&mut tx, scope, user, now).await?;
        self.insert_audit(&mut tx, scope.partner(), audit, now).await?;
        tx.commit().await?;
        Ok(generation)
    }

    async fn count_owners(&self, scope: &TenantScope) -> StoreResult<u64> {
        let count: i64 =
            sqlx::query_scalar("SELECT count(*) FROM staff WHERE partner_id = $1 AND role = 'owner'")
                .bind(h(scope.partner().as_uuid()))
                .fetch_one(&mut *self.reading(scope).await?)
                .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn create_invitation(
        &self,
        scope: &TenantScope,
        invitation: &NewInvitation,
        message: &OutboxMessage,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Invitation> {
        let mut tx = self.scoped(scope).await?;
        let place = |column| crate::sealing::Place {
            table: "invitations",
            column,
            row: invitation.id,
        };
        let tenant = crate::sealing::KeyOwner::Tenant;
        let email = self
            .seal_field(
                &mut tx,
                scope.partner(),
                tenant,
                place("email"),
                &invitation.email,
            )
            .await?;
        let name = self
            .seal_field(&mut tx, scope.partner(), tenant, place("name"), &invitation.name)
            .await?;
        let row = sqlx::query(
            "INSERT INTO invitations (digest, id, partner_id, email, name, role, payout_authority, invited_by,
                                      created_at, expires_at, venues)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *",
        )
        .bind(&invitation.digest)
        .bind(h(invitation.id))
        .bind(h(scope.partner().as_uuid()))
        .bind(&email)
        .bind(&name)
        .bind(invitation.standing.role.as_str())
        .bind(invitation.standing.payout_authority)
        .bind(h(invitation.invited_by))
        .bind(ts(now))
        .bind(ts(invitation.expires_at))
        .bind(venues_text(&invitation.venues))
        .fetch_one(&mut *tx)
        .await?;
        insert_message(self, &mut tx, message).await?;
        self.insert_audit(&mut tx, scope.partner(), audit, now).await?;
        let created = self.open_invitation(&mut tx, invitation_from_row(&row)?).await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn pending_invitations(&self, scope: &TenantScope) -> StoreResult<Vec<Invitation>> {
        let mut tx = self.scoped(scope).await?;
        let rows = sqlx::query(
            "SELECT * FROM invitations WHERE partner_id = $1 AND accepted_at IS NULL ORDER BY created_at, id",
        )
        .bind(h(scope.partner().as_uuid()))
        .fetch_all(&mut *tx)
        .await?;
        let mut pending = Vec::with_capacity(rows.len());
        for row in &rows {
            pending.push(self.open_invitation(&mut tx, invitation_from_row(row)?).await?);
        }
        tx.commit().await?;
        Ok(pending)
    }

    async fn revoke_invitation(
        &self,
        scope: &TenantScope,
        invitation: Uuid,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        let mut tx = self.scoped(scope).await?;
        let gone =
            sqlx::query("DELETE FROM invitations WHERE partner_id = $1 AND id = $2 AND accepted_at IS NULL")
                .bind(h(scope.partner().as_uuid()))
                .bind(h(invitation))
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if gone == 0 {
            return Err(StoreError::NotFound);
        }
        self.insert_audit(&mut tx, scope.partner(), audit, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn invitation_by_digest(&self, digest: &[u8]) -> StoreResult<Option<Invitation>> {
        let row = sqlx::query("SELECT * FROM invitations WHERE digest = $1")
            .bind(digest)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        // The lookup is by digest (no tenant yet); the partner's key is read inside its own tenant transaction.
        let invitation = invitation_from_row(&row)?;
        let mut tx = self.tenant_tx(invitation.partner).await?;
        let invitation = self.open_invitation(&mut tx, invitation).await?;
        tx.commit().await?;
        Ok(Some(invitation))
    }

    async fn accept_invitation(
        &self,
        scope: &TenantScope,
        invitation: Uuid,
        staff: &NewStaff,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<StaffMember> {
        let mut tx = self.scoped(scope).await?;
        let claimed = sqlx::query(
            "UPDATE invitations SET accepted_at = $3
             WHERE id = $1 AND partner_id = $2 AND accepted_at IS NULL AND expires_at > $3",
        )
        .bind(h(invitation))
        .bind(h(scope.partner().as_uuid()))
        .bind(ts(now))
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() == 0 {
            return Err(StoreError::Conflict(
                "the invitation was already used or has expired".into(),
            ));
        }
        let member = insert_staff(self, &mut tx, scope.partner(), staff, now).await?;
        self.insert_audit(&mut tx, scope.partner(), audit, now).await?;
        tx.commit().await?;
        Ok(member)
    }

    async fn create_session(
        &self,
        scope: &TenantScope,
        user: Uuid,
        family: Uuid,
        generation: i64,
        digest: &[u8],
        family_expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO refresh_tokens
                 (digest, family_id, partner_id, user_id, created_at, family_expires_at, credential_generation)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(digest)
        .bind(h(family))
        .bind(h(scope.partner().as_uuid()))
        .bind(h(user))
        .bind(ts(now))
        .bind(ts(family_expires_at))
        .bind(generation)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn refresh_record(&self, digest: &[u8]) -> StoreResult<Option<RefreshRecord>> {
        let row = sqlx::query("SELECT * FROM refresh_tokens WHERE digest = $1")
            .bind(digest)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(RefreshRecord {
                digest: row.try_get("digest")?,
                family: uuid_col(&row, "family_id")?,
                partner: PartnerId::from_uuid(uuid_col(&row, "partner_id")?),
                user: uuid_col(&row, "user_id")?,
                created_at: row.try_get("created_at")?,
                used_at: row.try_get("used_at")?,
                family_expires_at: row.try_get("family_expires_at")?,
                revoked_at: row.try_get("revoked_at")?,
                credential_generation: row.try_get("credential_generation")?,
            })
        })
        .transpose()
    }

    async fn rotate_refresh(
        &self,
        scope: &TenantScope,
        presented: &[u8],
        successor: &[u8],
        grace: time::Duration,
        now: OffsetDateTime,
    ) -> StoreResult<RefreshOutcome> {
        let mut tx = self.scoped(scope).await?;
        let partner = scope.partner().as_uuid();
        // Spend the presented token if it is live; exactly one concurrent caller can win this update.
        let spent = sqlx::query(
            "UPDATE refresh_tokens SET used_at = $3
             WHERE digest = $1 AND partner_id = $2 AND used_at IS NULL AND revoked_at IS NULL AND family_expires_at > $3
             RETURNING family_id, user_id, family_expires_at, credential_generation",
        )
        .bind(presented)
        .bind(h(partner))
        .bind(ts(now))
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = spent {
            insert_successor(&mut tx, &row, presented, successor, partner, now).await?;
            tx.commit().await?;
            return Ok(RefreshOutcome::Rotated);
        }
        let Some(row) = sqlx::query(locking!(
            "SELECT family_id, user_id, family_expires_at, credential_generation, used_at, revoked_at FROM refresh_tokens
             WHERE digest = $1 AND partner_id = $2"
        ))
        .bind(presented)
        .bind(h(partner))
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(RefreshOutcome::Invalid);
        };
        let used_at: Option<OffsetDateTime> = row.try_get("used_at")?;
        let revoked_at: Option<OffsetDateTime> = row.try_get("revoked_at")?;
        let family_expires_at: OffsetDateTime = row.try_get("family_expires_at")?;
        if family_expires_at <= now {
            return Ok(RefreshOutcome::Invalid);
        }
        let family = uuid_col(&row, "family_id")?;
        if revoked_at.is_some() {
            // Revoked alone, while its family lives on: a successor a retry within the grace replaced. Whoever
            // holds it also held its parent, so it is reuse like any spent token (a thief's retry would otherwise
            // keep the session and sign its owner out). A family revoked whole is simply over.
            let family_lives: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM refresh_tokens
                                 WHERE family_id = $1 AND partner_id = $2 AND revoked_at IS NULL)",
            )
            .bind(h(family))
            .bind(h(partner))
            .fetch_one(&mut *tx)
            .await?;
            if !family_lives {
                return Ok(RefreshOutcome::Invalid);
            }
        } else if let Some(used_at) = used_at {
            if now - used_at <= grace {
                // A retry: replace the successor if nobody has used it yet.
                let replaced = sqlx::query(
                    "UPDATE refresh_tokens SET revoked_at = $3
                     WHERE parent_digest = $1 AND partner_id = $2 AND used_at IS NULL AND revoked_at IS NULL",
                )
                .bind(presented)
                .bind(h(partner))
                .bind(ts(now))
                .execute(&mut *tx)
                .await?;
                if replaced.rows_affected() == 1 {
                    insert_successor(&mut tx, &row, presented, successor, partner, now).await?;
                    tx.commit().await?;
                    return Ok(RefreshOutcome::RetriedWithinGrace);
                }
            }
        } else {
            return Ok(RefreshOutcome::Invalid);
        }
        sqlx::query("UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL")
            .bind(h(family))
            .bind(ts(now))
            .execute(&mut *tx)
            .await?;
        let audit = AuditEntry::new("session.reuse_detected")
            .actor(uuid_col(&row, "user_id")?)
            .target(family.to_string())
            .detail("a spent refresh token was presented again; the session was revoked");
        self.insert_audit(&mut tx, scope.partner(), &audit, now).await?;
        tx.commit().await?;
        Ok(RefreshOutcome::ReuseDetected)
    }

    async fn revoke_family(
        &self,
        scope: &TenantScope,
        family: Uuid,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        let mut tx = self.scoped(scope).await?;
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $3 WHERE family_id = $1 AND partner_id = $2 AND revoked_at IS NULL",
        )
        .bind(h(family))
        .bind(h(scope.partner().as_uuid()))
        .bind(ts(now))
        .execute(&mut *tx)
        .await?;
        self.insert_audit(&mut tx, scope.partner(), audit, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn append_audit(
        &self,
        scope: &TenantScope,
        entry: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        // Linked at once (with whatever waits): a standalone entry has no change to commit with.
        let mut tx = self.scoped(scope).await?;
        self.insert_audit_batch(&mut tx, scope.partner(), &[(entry.clone(), now)])
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn note_sign_in_place(
        &self,
        scope: &TenantScope,
        user: Uuid,
        place: &SignInPlace,
    ) -> StoreResult<Vec<SignInPlace>> {
        let partner = scope.partner();
        let mut tx = self.scoped(scope).await?;
        // One member's sign-ins at the same moment are judged one after the other, each seeing the place the other
        // left (the member's row is the lock on PostgreSQL; SQLite's write transaction already is one).
        sqlx::query(locking!("SELECT id FROM staff WHERE partner_id = $1 AND id = $2"))
            .bind(h(partner.as_uuid()))
            .bind(h(user))
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let before = self.sign_in_places_in(&mut tx, partner, user).await?;
        // The coordinates are sealed with the member's own key (an erasure shreds them in backups too); the
        // country stays clear, as the row's key. A sign-in the database placed in a country only keeps the
        // country's last coordinates.
        let coordinates = match place.coordinates {
            Some(c) => {
                let text = format!("{},{},{}", c.latitude_e4, c.longitude_e4, c.radius_km);
                Some(
                    self.seal_field(
                        &mut tx,
                        partner,
                        crate::sealing::KeyOwner::Person(user),
                        place_of(user),
                        &text,
                    )
                    .await?,
                )
            }
            None => None,
        };
        sqlx::query(
            "INSERT INTO sign_in_places (partner_id, user_id, country, coordinates, signed_in_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (partner_id, user_id, country) DO UPDATE
                SET coordinates = COALESCE(excluded.coordinates, sign_in_places.coordinates),
                    signed_in_at = excluded.signed_in_at",
        )
        .bind(h(partner.as_uuid()))
        .bind(h(user))
        .bind(&place.country)
        .bind(coordinates)
        .bind(ts(place.signed_in_at))
        .execute(&mut *tx)
        .await
        .map_err(foreign_key_to_not_found)?;
        tx.commit().await?;
        Ok(before)
    }

    async fn security_events(&self, scope: &TenantScope, user: Uuid) -> StoreResult<Vec<SecurityEvent>> {
        let mut conn = self.reading(scope).await?;
        let rows = sqlx::query(
            "SELECT id, kind, detail, at FROM security_events WHERE partner_id = $1 AND user_id = $2
              ORDER BY at DESC, id DESC LIMIT 1000",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(user))
        .fetch_all(&mut *conn)
        .await?;
        let mut events = Vec::with_capacity(rows.len());
        for row in &rows {
            let place = event_place(uuid_col(row, "id")?);
            let stored: String = row.try_get("detail")?;
            events.push(SecurityEvent {
                kind: row.try_get("kind")?,
                detail: self
                    .open_field(&mut conn, scope.partner(), KeyOwner::Person(user), place, &stored)
                    .await?,
                at: row.try_get("at")?,
            });
        }
        Ok(events)
    }

    async fn sign_in_places(&self, scope: &TenantScope, user: Uuid) -> StoreResult<Vec<SignInPlace>> {
        self.sign_in_places_in(&mut *self.reading(scope).await?, scope.partner(), user)
            .await
    }

    async fn note_device(
        &self,
        scope: &TenantScope,
        user: Uuid,
        fingerprint: &[u8],
        now: OffsetDateTime,
    ) -> StoreResult<DeviceSeen> {
        let mut tx = self.scoped(scope).await?;
        let partner = h(scope.partner().as_uuid());
        let first = !sqlx::query_scalar::<_, bool>(
            "SELECT EXISTS (SELECT 1 FROM known_devices WHERE partner_id = $1 AND user_id = $2)",
        )
        .bind(partner)
        .bind(h(user))
        .fetch_one(&mut *tx)
        .await?;
        let inserted = sqlx::query(
            "INSERT INTO known_devices (partner_id, user_id, fingerprint, first_seen) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
        )
        .bind(partner)
        .bind(h(user))
        .bind(fingerprint)
        .bind(ts(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(match (inserted.rows_affected() == 1, first) {
            (false, _) => DeviceSeen::Known,
            (true, true) => DeviceSeen::First,
            (true, false) => DeviceSeen::New,
        })
    }

    async fn record_security_event(
        &self,
        scope: &TenantScope,
        user: Option<Uuid>,
        kind: &str,
        detail: &str,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        let mut tx = self.scoped(scope).await?;
        // The detail names the member's network or whereabouts (REST-1: personal data), so it is sealed with the
        // member's key and goes with them at erasure, backups included. An event about a member erased meanwhile
        // (a sign-in racing the erasure) is not kept.
        let id = Uuid::now_v7();
        let owner = user.map_or(KeyOwner::Tenant, KeyOwner::Person);
        let detail = match detail {
            "" => String::new(),
            text => match self
                .seal_unless_erased(&mut tx, scope.partner(), owner, event_place(id), text)
                .await?
            {
                Some(sealed) => sealed,
                None => return Ok(()),
            },
        };
        sqlx::query(
            "INSERT INTO security_events (partner_id, id, at, user_id, kind, detail) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(id))
        .bind(ts(now))
        .bind(user.map(h))
        .bind(kind)
        .bind(detail)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn seal_clear_security_events(&self, scope: &TenantScope) -> StoreResult<u64> {
        let partner = scope.partner();
        let mut tx = self.scoped(scope).await?;
        let rows = sqlx::query(
            "SELECT id, user_id, detail FROM security_events
              WHERE partner_id = $1 AND detail <> '' AND detail NOT LIKE 'enc1:%' LIMIT 1000",
        )
        .bind(h(partner.as_uuid()))
        .fetch_all(&mut *tx)
        .await?;
        for row in &rows {
            let id = uuid_col(row, "id")?;
            let owner = opt_uuid_col(row, "user_id")?.map_or(KeyOwner::Tenant, KeyOwner::Person);
            let clear: String = row.try_get("detail")?;
            let sealed = self
                .seal_unless_erased(&mut tx, partner, owner, event_place(id), &clear)
                .await?;
            sqlx::query("UPDATE security_events SET detail = $3 WHERE partner_id = $1 AND id = $2")
                .bind(h(partner.as_uuid()))
                .bind(h(id))
                .bind(sealed.unwrap_or_default())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(rows.len() as u64)
    }

    async fn enqueue_message(&self, message: &OutboxMessage) -> StoreResult<()> {
        match message.partner {
            Some(partner) => {
                let mut tx = self.tenant_tx(partner).await?;
                insert_message(self, &mut tx, message).await?;
                tx.commit().await?;
                Ok(())
            }
            None => {
                let mut conn = self.pool.acquire().await?;
                insert_message(self, &mut conn, message).await
            }
        }
    }

    async fn pending_messages(&self, limit: u32) -> StoreResult<Vec<OutboxMessage>> {
        let rows = sqlx::query("SELECT * FROM outbox WHERE sent_at IS NULL ORDER BY created_at LIMIT $1")
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        let messages = rows
            .iter()
            .map(|row| {
                Ok(OutboxMessage {
                    id: uuid_col(row, "id")?,
                    partner: opt_uuid_col(row, "partner_id")?.map(PartnerId::from_uuid),
                    recipient: row.try_get("recipient")?,
                    subject: row.try_get("subject")?,
                    body: row.try_get("body")?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let mut opened = Vec::with_capacity(messages.len());
        for mut message in messages {
            if let Some(partner) = message.partner {
                let mut tx = self.tenant_tx(partner).await?;
                let id = message.id;
                for (field, column) in [
                    (&mut message.recipient, "recipient"),
                    (&mut message.subject, "subject"),
                    (&mut message.body, "body"),
                ] {
                    let place = crate::sealing::Place {
                        table: "outbox",
                        column,
                        row: id,
                    };
                    *field = self
                        .open_field(&mut tx, partner, crate::sealing::KeyOwner::Tenant, place, field)
                        .await?;
                }
                tx.commit().await?;
            }
            opened.push(message);
        }
        Ok(opened)
    }

    async fn mark_message_sent(&self, id: Uuid, now: OffsetDateTime) -> StoreResult<()> {
        sqlx::query("UPDATE outbox SET sent_at = $2, recipient = '', subject = '', body = '' WHERE id = $1")
            .bind(h(id))
            .bind(ts(now))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn signing_keys(&self) -> StoreResult<Vec<StoredSigningKey>> {
        let rows = sqlx::query("SELECT * FROM signing_keys ORDER BY created_at")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredSigningKey {
                    kid: row.try_get("kid")?,
                    created_at: row.try_get("created_at")?,
                    sealed_private: row.try_get("sealed_private")?,
                    public_key: row.try_get("public_key")?,
                    revoked_at: row.try_get("revoked_at")?,
                })
            })
            .collect()
    }

    async fn rotate_signing_key(
        &self,
        key: &StoredSigningKey,
        unless_newer_than: OffsetDateTime,
        revoke_older: bool,
    ) -> StoreResult<bool> {
        // One rotation wins: the others wait for it, then see the new key and stand down.
        let mut tx = self.signing_key_tx().await?;
        let newer: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM signing_keys WHERE created_at > $1)")
                .bind(ts(unless_newer_than))
                .fetch_one(&mut *tx)
                .await?;
        if newer {
            return Ok(false);
        }
        if revoke_older {
            sqlx::query("UPDATE signing_keys SET revoked_at = $1 WHERE revoked_at IS NULL")
                .bind(ts(key.created_at))
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO signing_keys (kid, created_at, sealed_private, public_key) VALUES ($1, $2, $3, $4)",
        )
        .bind(&key.kid)
        .bind(ts(key.created_at))
        .bind(&key.sealed_private)
        .bind(&key.public_key)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// Revokes every credential of a member: the generation moves on (tokens of older ones are dead) and their refresh
/// families end. Answers the new generation; [`StoreError::NotFound`] for no such member.
async fn revoke_credentials(
    conn: &mut Conn,
    scope: &TenantScope,
    user: Uuid,
    now: OffsetDateTime,
) -> StoreResult<i64> {
    let generation: Option<i64> = sqlx::query_scalar(
        "UPDATE staff SET sessions_revoked_at = $3, credential_generation = credential_generation + 1
         WHERE partner_id = $1 AND id = $2 RETURNING credential_generation",
    )
    .bind(h(scope.partner().as_uuid()))
    .bind(h(user))
    .bind(ts(now))
    .fetch_optional(&mut *conn)
    .await?;
    let generation = generation.ok_or(StoreError::NotFound)?;
    revoke_families(conn, scope, user, now).await?;
    Ok(generation)
}

async fn revoke_families(
    conn: &mut Conn,
    scope: &TenantScope,
    user: Uuid,
    now: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $3 WHERE partner_id = $1 AND user_id = $2 AND revoked_at IS NULL",
    )
    .bind(h(scope.partner().as_uuid()))
    .bind(h(user))
    .bind(ts(now))
    .execute(conn)
    .await?;
    Ok(())
}

async fn insert_successor(
    conn: &mut Conn,
    parent: &DbRow,
    parent_digest: &[u8],
    successor: &[u8],
    partner: Uuid,
    now: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens
             (digest, parent_digest, family_id, partner_id, user_id, created_at, family_expires_at, credential_generation)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(successor)
    .bind(parent_digest)
    .bind(h(uuid_col(parent, "family_id")?))
    .bind(h(partner))
    .bind(h(uuid_col(parent, "user_id")?))
    .bind(ts(now))
    .bind(ts(parent.try_get::<OffsetDateTime, _>("family_expires_at")?))
    .bind(parent.try_get::<i64, _>("credential_generation")?)
    .execute(conn)
    .await?;
    Ok(())
}

/// Mail of a partner is sealed under the partner's key until it is sent (then it is blanked).
pub(crate) async fn insert_message(
    store: &Engine,
    conn: &mut Conn,
    message: &OutboxMessage,
) -> StoreResult<()> {
    // An erased person's address reads as the placeholder: nothing is ever sent to it.
    if message.recipient == crate::sealing::ERASED {
        return Ok(());
    }
    let mut fields = [
        message.recipient.clone(),
        message.subject.clone(),
        message.body.clone(),
    ];
    if let Some(partner) = message.partner {
        for (field, column) in fields.iter_mut().zip(["recipient", "subject", "body"]) {
            let place = crate::sealing::Place {
                table: "outbox",
                column,
                row: message.id,
            };
            *field = store
                .seal_field(conn, partner, crate::sealing::KeyOwner::Tenant, place, field)
                .await?;
        }
    }
    let [recipient, subject, body] = fields;
    sqlx::query(
        "INSERT INTO outbox (id, partner_id, created_at, recipient, subject, body) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(h(message.id))
    .bind(message.partner.map(|p| h(p.as_uuid())))
    .bind(ts(message.created_at))
    .bind(recipient)
    .bind(subject)
    .bind(body)
    .execute(conn)
    .await?;
    Ok(())
}

impl Engine {
    /// Seals a TOTP secret for `user` and writes it with `statement` (`$1` partner, `$2` member, `$3` the
    /// sealed secret), whose condition on the second factor's state must hold: [`StoreError::Conflict`] with
    /// `refusal` when no row matched.
    async fn write_totp_secret(
        &self,
        scope: &TenantScope,
        user: Uuid,
        sealed: &[u8],
        statement: &'static str,
        refusal: &str,
    ) -> StoreResult<()> {
        let mut tx = self.scoped(scope).await?;
        let sealed = self.seal_totp(&mut tx, scope.partner(), user, sealed).await?;
        let updated = sqlx::query(statement)
            .bind(h(scope.partner().as_uuid()))
            .bind(h(user))
            .bind(&sealed)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::Conflict(refusal.into()));
        }
        Ok(())
    }
}

/// Where a security event's sealed detail sits.
fn event_place(id: Uuid) -> crate::sealing::Place<'static> {
    crate::sealing::Place {
        table: "security_events",
        column: "detail",
        row: id,
    }
}

/// Where a sealed sign-in place sits: the member's row of `sign_in_places`.
fn place_of(user: Uuid) -> crate::sealing::Place<'static> {
    crate::sealing::Place {
        table: "sign_in_places",
        column: "coordinates",
        row: user,
    }
}

impl Engine {
    /// The member's sign-in places, latest first, their coordinates opened.
    async fn sign_in_places_in(
        &self,
        conn: &mut Conn,
        partner: PartnerId,
        user: Uuid,
    ) -> StoreResult<Vec<SignInPlace>> {
        let rows = sqlx::query(
            "SELECT * FROM sign_in_places WHERE partner_id = $1 AND user_id = $2 ORDER BY signed_in_at DESC, country",
        )
        .bind(h(partner.as_uuid()))
        .bind(h(user))
        .fetch_all(&mut *conn)
        .await?;
        let mut places = Vec::with_capacity(rows.len());
        for row in &rows {
            let coordinates = match row.try_get::<Option<String>, _>("coordinates")? {
                Some(sealed) => {
                    let text = self
                        .open_field(
                            conn,
                            partner,
                            crate::sealing::KeyOwner::Person(user),
                            place_of(user),
                            &sealed,
                        )
                        .await?;
                    coordinates_from(&text)
                }
                None => None,
            };
            places.push(SignInPlace {
                country: row.try_get("country")?,
                coordinates,
                signed_in_at: row.try_get("signed_in_at")?,
            });
        }
        Ok(places)
    }
}

/// `lat_e4,lon_e4,radius_km` as sealed; `None` for anything else (an erased key opens as `[erased]`).
fn coordinates_from(text: &str) -> Option<comanda_domain::sign_in_place::Coordinates> {
    let mut parts = text.split(',');
    let coordinates = comanda_domain::sign_in_place::Coordinates {
        latitude_e4: parts.next()?.parse().ok()?,
        longitude_e4: parts.next()?.parse().ok()?,
        radius_km: parts.next()?.parse().ok()?,
    };
    parts.next().is_none().then_some(coordinates)
}
