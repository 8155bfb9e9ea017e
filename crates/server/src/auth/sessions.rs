//! Tokens and sessions: verifying access tokens, refresh-token rotation, signing out here or everywhere, the password
//! change, and the step-up that sensitive changes ask.

use super::*;

impl Identity {
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

    pub(super) async fn caller_for(&self, claims: VerifiedClaims) -> Result<Caller, ApiError> {
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
            Ok((member, _)) if member.is_erased() => {
                return Err(unauthorized("the account no longer exists"));
            }
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
        // The member's standing is read before the token is spent: a refresh it refuses (enrolment first, AUTH-5)
        // leaves the token as it was, so the client's retry after enrolling is not taken for a stolen token's reuse
        // (which signs the whole session out).
        let member = self
            .store
            .staff_member(&scope, record.user)
            .await
            .map_err(|_| unauthorized("signed out"))?;
        if member.is_erased() {
            return Err(unauthorized("the account no longer exists"));
        }
        if member.standing.requires_second_factor() && !member.totp_enabled {
            return Err(mfa_enrollment_required());
        }
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
                if !credential_is_current(&member, record.credential_generation) {
                    return Err(unauthorized("the session was signed out"));
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
        self.store
            .revoke_family(&caller.scope, session, &audit, self.now())
            .await?;
        // Its open feeds end too (a kitchen display ran on until its token expired); the member's other devices'
        // feeds go on.
        self.announce_session_revocation(&caller.scope, caller.member.id, session);
        Ok(())
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

    /// Step-up for a change to one's own sign-in (their email): the current password, and the current code or a
    /// recovery code when 2FA is on, as a password change asks. A wrong one is refused (403 `step-up-failed`) and
    /// counted as a failed sign-in.
    pub async fn confirm_own_change(
        &self,
        caller: &Caller,
        password: &str,
        code: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<(), ApiError> {
        self.step_up(caller, password, code, ctx).await
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

    pub(super) async fn step_up(
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
            return Err(self
                .step_up_refused(caller, ctx, "the current password is wrong")
                .await);
        }
        if caller.member.totp_enabled {
            let state = self.store.totp_state(&caller.scope, caller.member.id).await?;
            let secret = match state.sealed_secret {
                Some(sealed) => self.open_totp_secret(&caller.scope, caller.member.id, &sealed)?,
                None => return Err(self.step_up_refused(caller, ctx, "the code is wrong").await),
            };
            let Some(code) = code else {
                let why = "two-factor authentication is on: send `code`, from the authenticator app or a recovery code";
                return Err(self.step_up_refused(caller, ctx, why).await);
            };
            let step = totp::verify(&secret, code, unix(self.now()), state.last_step);
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
                && self
                    .store
                    .use_recovery_code(
                        &caller.scope,
                        caller.member.id,
                        &self.recovery_digest(code),
                        &ctx.audit("mfa.recovery_code_used").actor(caller.member.id),
                        self.now(),
                    )
                    .await?;
            if !accepted && !recovered {
                return Err(self
                    .step_up_refused(caller, ctx, "the code is wrong or was already used")
                    .await);
            }
        }
        Ok(())
    }

    /// A refused step-up, audited (a stolen session guessing the password shows in the partner's log, with the
    /// member and the address) and answered 403 `step-up-failed`.
    async fn step_up_refused(&self, caller: &Caller, ctx: &RequestContext, why: &str) -> ApiError {
        let entry = ctx
            .audit("auth.step_up_failed")
            .actor(caller.member.id)
            .detail(why);
        if let Err(error) = self.store.append_audit(&caller.scope, &entry, self.now()).await {
            tracing::warn!(%error, "could not audit a refused step-up");
        }
        step_up_failed(why)
    }
}
