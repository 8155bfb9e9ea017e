//! Managing staff: invitations, accepting one, the list, standing changes and removal.

use super::*;
use comanda_domain::{VenueId, Venues};

impl Identity {
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
        let venues = match &request.venues {
            None => caller.member.venues.clone(),
            Some(asked) => self.venues_asked(caller, asked.as_deref()).await?,
        };
        self.may_give_venues(caller, None, Some((&venues, standing)))?;
        let now = self.now();
        let invited = |invitation: Uuid| {
            ctx.audit("staff.invited")
                .actor(caller.member.id)
                .target(invitation.to_string())
                .detail(format!(
                    "role={} payout_authority={} venues={}",
                    standing.role.as_str(),
                    standing.payout_authority,
                    venues_detail(&venues)
                ))
        };
        let earlier = self.earlier_invitations(caller, &email).await?;
        match self.store.login_record(&self.email_key(&email)).await? {
            // One of the inviter's own team: they see their team anyway.
            Some(found) if found.partner == caller.scope.partner() => {
                return Err(ApiError::conflict_on("email", "is already on your team"));
            }
            // Another partner's member: the answer is the one a new address gets (whether an address has an
            // account anywhere is not told to a stranger), and the address's holder is told instead, by mail.
            Some(_) => {
                let notice = OutboxMessage {
                    id: Uuid::now_v7(),
                    partner: Some(caller.scope.partner()),
                    recipient: email,
                    subject: "An invitation to comanda / Una invitación a comanda".into(),
                    body: format!(
                        "{name} tried to invite this address to their team on comanda, but it already has a \
                         comanda account, and an address holds one account. If you want to join them, give them \
                         another address. Nothing changed in your account.\n\n{name} intentó invitar esta \
                         dirección a su equipo en comanda, pero ya tiene una cuenta de comanda, y una dirección \
                         tiene una sola cuenta. Si quieres unirte, dale otra dirección. Nada cambió en tu cuenta.\n",
                        name = caller.member.name,
                    ),
                    created_at: now,
                };
                // Stored as any invitation is (listed, withdrawable, expiring, audited), so the inviter's list does
                // not tell such an address apart either; its token was never sent, so nobody can accept it.
                let unsent = secrets::new_secret("inv").map_err(internal)?;
                let invitation = NewInvitation {
                    id: Uuid::now_v7(),
                    digest: secrets::digest(&self.secret_index, &unsent),
                    email: notice.recipient.clone(),
                    name,
                    standing,
                    venues: venues.clone(),
                    invited_by: caller.member.id,
                    expires_at: now + self.settings.invitation_ttl,
                };
                let created = self
                    .store
                    .create_invitation(&caller.scope, &invitation, &notice, &invited(invitation.id), now)
                    .await?;
                self.supersede(caller, &earlier, created.id, ctx).await?;
                return Ok(InvitationCreated {
                    invitation_id: created.id.to_string(),
                    expires_at: created.expires_at,
                });
            }
            None => {}
        }
        let token = secrets::new_secret("inv").map_err(internal)?;
        let invitation = NewInvitation {
            id: Uuid::now_v7(),
            digest: secrets::digest(&self.secret_index, &token),
            email: email.clone(),
            name,
            standing,
            venues: venues.clone(),
            invited_by: caller.member.id,
            expires_at: now + self.settings.invitation_ttl,
        };
        let link = format!("{}/invitations/{token}", self.settings.public_origin);
        // Where they will work, when not at every venue: "como mesero en Sede Norte".
        let (at_es, at_en) = match self.venue_names(&caller.scope, &venues).await?.join(", ") {
            names if names.is_empty() => (String::new(), String::new()),
            names => (format!(" en {names}"), format!(" at {names}")),
        };
        // The invitee is told whose team it is: the business, not only the person who invited them.
        let business = self.store.partner(&caller.scope).await?.business_name;
        let message = OutboxMessage {
            id: Uuid::now_v7(),
            partner: Some(caller.scope.partner()),
            recipient: email,
            // Spanish first: the team of a Colombian restaurant reads it first.
            subject: "Te invitaron a comanda / You are invited to comanda".into(),
            body: format!(
                "{} te invitó al equipo de {business} en comanda como {}{at_es}.\nAcepta dentro de {} horas: {link}\n\n\
                 {} invited you to join the team of {business} on comanda as {}{at_en}.\nAccept within {} hours: {link}\n",
                caller.member.name,
                standing.role.spoken(true),
                self.settings.invitation_ttl.whole_hours(),
                caller.member.name,
                standing.role.spoken(false),
                self.settings.invitation_ttl.whole_hours(),
            ),
            created_at: now,
        };
        let audit = invited(invitation.id);
        let created = self
            .store
            .create_invitation(&caller.scope, &invitation, &message, &audit, now)
            .await?;
        self.supersede(caller, &earlier, created.id, ctx).await?;
        Ok(InvitationCreated {
            invitation_id: created.id.to_string(),
            expires_at: created.expires_at,
        })
    }

    /// What the invitation page tells the invitee before they choose a password: whose team (the business), the
    /// role and the address it is for; `Err` with the reason when the link opens nothing (unknown, used, expired),
    /// so they are told before typing a password rather than after. Throttled as an acceptance is.
    pub async fn invitation_preview(
        &self,
        token: &str,
        ctx: &RequestContext,
    ) -> Result<(String, Standing, String, Vec<String>), InvitationClosed> {
        self.throttle
            .auth_attempt(ctx.address())
            .map_err(|_| InvitationClosed::Unknown)?;
        let digest = secrets::digest(&self.secret_index, token);
        let invitation = self
            .store
            .invitation_by_digest(&digest)
            .await
            .ok()
            .flatten()
            .ok_or(InvitationClosed::Unknown)?;
        let stored = secrets::StoredSecret {
            partner: invitation.partner,
            digest,
        };
        let proof = secrets::matches(&self.secret_index, token, &stored).ok_or(InvitationClosed::Unknown)?;
        if invitation.accepted_at.is_some() || invitation.expires_at <= self.now() {
            return Err(InvitationClosed::UsedOrExpired);
        }
        let scope = TenantScope::from_proof(&proof);
        let business = self
            .store
            .partner(&scope)
            .await
            .map_err(|_| InvitationClosed::Unknown)?
            .business_name;
        let venues = self
            .venue_names(&scope, &invitation.venues)
            .await
            .map_err(|_| InvitationClosed::Unknown)?;
        Ok((business, invitation.standing, invitation.email, venues))
    }

    /// The names of the venues a member works at, in their order; none for every venue.
    async fn venue_names(&self, scope: &TenantScope, venues: &Venues) -> Result<Vec<String>, ApiError> {
        let mut names = Vec::new();
        for id in venues.listed().unwrap_or_default() {
            names.push(self.store.venue(scope, id).await?.name);
        }
        Ok(names)
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
        // A second invitation to an email that accepted the first already has its account.
        let has_account =
            || ApiError::conflict_on("email", "already has an account: sign in with it instead");
        if self
            .store
            .login_record(&self.email_key(&invitation.email))
            .await?
            .is_some()
        {
            return Err(has_account());
        }
        let scope = TenantScope::from_proof(&proof);
        let _hashing_slot = self.throttle.password_check(ctx.address()).map_err(throttled)?;
        let staff = NewStaff {
            id: Uuid::now_v7(),
            email_key: self.email_key(&invitation.email),
            email: invitation.email.clone(),
            name: invitation.name.clone(),
            standing: invitation.standing,
            venues: invitation.venues.clone(),
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
                // The invitation's own refusal says what happened; any other conflict is the login directory's
                // unique email, met by an acceptance that raced this one.
                StoreError::Conflict(detail) if detail.starts_with("the invitation") => {
                    ApiError::from(Problem::new(ProblemType::Conflict).detail(detail))
                }
                StoreError::Conflict(_) => has_account(),
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
        let mine = &caller.member.venues;
        if *mine == Venues::Every {
            return Ok(self.store.list_staff(&caller.scope, page).await?);
        }
        // A member of some venues sees the colleagues they share one with.
        Ok(comanda_domain::narrowed(
            page,
            |member: &StaffMember| mine.overlaps(&member.venues),
            |member| member.id,
            |request| self.store.list_staff(&caller.scope, request),
        )
        .await?)
    }

    /// The venues a request names, each one of the partner's (422 otherwise): `None` is every venue.
    async fn venues_asked(&self, caller: &Caller, asked: Option<&[Uuid]>) -> Result<Venues, ApiError> {
        let Some(asked) = asked else {
            return Ok(Venues::Every);
        };
        let refused = |message: String| {
            ApiError::from(Problem::new(ProblemType::BusinessRule).field("venues", message))
        };
        // The contract's `maxItems`: a shape error, as every other one.
        if asked.len() > 100 {
            return Err(Problem::new(ProblemType::Validation)
                .field("venues", "lists at most 100 venues")
                .into());
        }
        for id in asked {
            match self.store.venue(&caller.scope, VenueId::from_uuid(*id)).await {
                Ok(_) => {}
                // Another partner's venue and no venue at all answer alike.
                Err(StoreError::NotFound) => {
                    return Err(refused("names a venue that is not one of yours".into()));
                }
                Err(other) => return Err(other.into()),
            }
        }
        Venues::only(asked.iter().copied().map(VenueId::from_uuid)).map_err(|e| refused(e.to_string()))
    }

    /// Whether the caller may act on `target`'s venues (a member or invitee; `None` for a new one) and give the
    /// venues and standing `new` (`None` when removing): the standing's own rule (422) and, for a caller of some
    /// venues only, no venue beyond theirs on either side (403).
    fn may_give_venues(
        &self,
        caller: &Caller,
        target: Option<&Venues>,
        new: Option<(&Venues, Standing)>,
    ) -> Result<(), ApiError> {
        if let Some((venues, standing)) = new {
            venues.check(standing).map_err(|e| {
                ApiError::from(Problem::new(ProblemType::BusinessRule).field("venues", e.to_string()))
            })?;
        }
        let mine = &caller.member.venues;
        if new.is_some_and(|(venues, _)| !mine.covers(venues))
            || target.is_some_and(|target| !mine.covers(target))
        {
            return Err(Problem::new(ProblemType::Forbidden)
                .detail("you work at some venues only: you manage the staff of those venues, no other")
                .into());
        }
        Ok(())
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
        // Owners and payout authority work at every venue: granting either to a member of some venues needs
        // `"venues": null` with it, said rather than implied (a payout tick taken back must not leave them at
        // every venue unnoticed).
        let venues = match &patch.venues {
            Some(asked) => self.venues_asked(caller, asked.as_deref()).await?,
            None => target.venues.clone(),
        };
        self.may_give_venues(caller, Some(&target.venues), Some((&venues, new)))?;
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
                "role {}→{} payout_authority {}→{} venues {}→{}",
                target.standing.role.as_str(),
                new.role.as_str(),
                target.standing.payout_authority,
                new.payout_authority,
                venues_detail(&target.venues),
                venues_detail(&venues)
            ));
        let changed = self
            .store
            .change_standing(&caller.scope, user, new, &venues, &audit, self.now())
            .await?;
        self.announce_revocation(&caller.scope, user);
        Ok(changed)
    }

    /// The invitations to `email` not accepted yet, which a new one replaces: an owner who corrects a role by inviting
    /// again must not leave the first link (a manager's, say) open beside the second. 409 when one of them is of a
    /// standing the caller could not grant (a manager re-inviting someone an owner invited): its inviter decides.
    async fn earlier_invitations(
        &self,
        caller: &Caller,
        email: &str,
    ) -> Result<Vec<comanda_store::identity::Invitation>, ApiError> {
        let earlier: Vec<_> = self
            .store
            .pending_invitations(&caller.scope)
            .await?
            .into_iter()
            .filter(|pending| pending.email.eq_ignore_ascii_case(email))
            .collect();
        if earlier.iter().any(|pending| {
            !caller.member.standing.may_assign(None, Some(pending.standing))
                || !caller.member.venues.covers(&pending.venues)
        }) {
            return Err(ApiError::conflict_on(
                "email",
                "has a pending invitation to a role or venues yours cannot grant: whoever sent it withdraws or changes it",
            ));
        }
        Ok(earlier)
    }

    /// Withdraws `earlier` invitations once `replacement` is stored (before it, a failure would leave the invitee
    /// with no link at all); each withdrawal audited as replaced.
    async fn supersede(
        &self,
        caller: &Caller,
        earlier: &[comanda_store::identity::Invitation],
        replacement: Uuid,
        ctx: &RequestContext,
    ) -> Result<(), ApiError> {
        for invitation in earlier {
            let audit = ctx
                .audit("staff.invitation_revoked")
                .actor(caller.member.id)
                .target(invitation.id.to_string())
                .detail(format!("replaced by invitation {replacement}"));
            match self
                .store
                .revoke_invitation(&caller.scope, invitation.id, &audit, self.now())
                .await
            {
                // Accepted or withdrawn meanwhile: nothing left to replace.
                Ok(()) | Err(StoreError::NotFound) => {}
                Err(other) => return Err(other.into()),
            }
        }
        Ok(())
    }

    /// Withdraws an invitation not accepted yet, one of a standing the caller could grant (403 otherwise): its link
    /// opens nothing any more and the invitee's address and name leave the store. Answers the invitation withdrawn.
    pub async fn revoke_invitation(
        &self,
        caller: &Caller,
        invitation: Uuid,
        ctx: &RequestContext,
    ) -> Result<comanda_store::identity::Invitation, ApiError> {
        let found = self
            .store
            .pending_invitations(&caller.scope)
            .await?
            .into_iter()
            .find(|pending| pending.id == invitation)
            .ok_or(ApiError::NotFound)?;
        if !caller.member.standing.may_assign(None, Some(found.standing)) {
            return Err(Problem::new(ProblemType::Forbidden)
                .detail("your role cannot withdraw an invitation to this role")
                .into());
        }
        self.may_give_venues(caller, Some(&found.venues), None)?;
        let audit = ctx
            .audit("staff.invitation_revoked")
            .actor(caller.member.id)
            .target(invitation.to_string());
        self.store
            .revoke_invitation(&caller.scope, invitation, &audit, self.now())
            .await?;
        Ok(found)
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
        self.may_give_venues(caller, Some(&target.venues), None)?;
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

/// The venues as an audit record writes them: `every`, or the ids joined by commas.
fn venues_detail(venues: &Venues) -> String {
    venues.listed().map_or_else(
        || "every".to_owned(),
        |ids| ids.iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
    )
}

/// Why an invitation link opens nothing (the invitation page says which).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationClosed {
    Unknown,
    UsedOrExpired,
}
