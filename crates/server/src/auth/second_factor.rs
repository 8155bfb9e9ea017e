//! The second factor: enrolment with recovery codes, its verification at sign-in, and managing it later behind a
//! step-up (password and a current or recovery code): re-enrolment, new recovery codes, switching it off.

use super::*;

/// Wrong second-factor codes in a row from new devices after which the app's codes are no longer taken from one
/// (NIST SP 800-63B §5.2.2 caps consecutive failed attempts on an account at 100).
pub const MAX_WRONG_CODES_IN_A_ROW: u32 = 100;

impl Identity {
    /// Stages a new TOTP secret for a member without a second factor. With an access token the current password
    /// is required (a step-up, throttled as sign-in is): OWASP's MFA cheat sheet asks for re-authentication before
    /// a factor is added, and without it a stolen 15-minute access token could enrol the thief's app, lock the
    /// member out and, through `confirm`, mint a refresh token. An enrolment token's sign-in has just checked it.
    pub async fn begin_enrollment(
        &self,
        caller: &Caller,
        password: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<Enrollment, ApiError> {
        let already_on = || {
            ApiError::from(
                Problem::new(ProblemType::Conflict).detail("two-factor authentication is already on"),
            )
        };
        if caller.member.totp_enabled {
            return Err(already_on());
        }
        match (caller.claims.kind, password) {
            (_, Some(password)) => self.step_up(caller, password, None, ctx).await?,
            (TokenKind::Enrollment, None) => {}
            (_, None) => {
                return Err(ValidationErrors::single(
                    "password",
                    "is required: confirm your current password to turn on two-step sign-in",
                )
                .into());
            }
        }
        let (sealed, enrollment) = self.new_totp_secret(caller)?;
        self.store
            .set_pending_totp_secret(&caller.scope, caller.member.id, &sealed)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => already_on(),
                other => other.into(),
            })?;
        Ok(enrollment)
    }

    /// A new TOTP secret for the caller: sealed (bound to their partner and member) for the store, and as the
    /// caller's authenticator app takes it (base32, otpauth URI, QR code).
    pub(super) fn new_totp_secret(&self, caller: &Caller) -> Result<(Vec<u8>, Enrollment), ApiError> {
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

    pub(super) fn recovery_digest(&self, code: &str) -> Vec<u8> {
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
        // One password check opens one session: the pending sign-in is claimed before any code is checked (so two
        // codes sent at once cannot both open one, nor can the loser use up a recovery code), and given back when
        // the code is wrong. On this instance: its token lives minutes, and each further session would still need
        // a fresh code.
        let (jti, expires) = (verified.claims.jti.clone(), verified.claims.exp);
        if !self
            .throttle
            .spend_sign_in(&jti, expires, self.now().unix_timestamp())
        {
            return Err(unauthorized("this sign-in was already completed; sign in again"));
        }
        let opened = self.open_with_second_factor(&verified, code, ctx).await;
        if opened.is_err() {
            self.throttle.unspend_sign_in(&jti);
        }
        opened
    }

    /// The checks and the session of [`Self::verify_second_factor`], once its pending sign-in is claimed.
    async fn open_with_second_factor(
        &self,
        verified: &VerifiedClaims,
        code: &str,
        ctx: &RequestContext,
    ) -> Result<TokenPair, ApiError> {
        let scope = TenantScope::from_proof(verified);
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
        // NIST SP 800-63B §5.2.2: at most 100 failed attempts in a row. Past them the app's codes are not taken from
        // a new device (the hourly limit alone let a password thief try ~2,400 a day, ~20 % a month to hit one);
        // the usual device and the recovery codes still sign in, and a new password starts the count again.
        let app_locked = device.is_none() && state.wrong_codes_in_a_row >= MAX_WRONG_CODES_IN_A_ROW;
        let by_app = match (&state.sealed_secret, state.confirmed, app_locked) {
            (Some(sealed), true, false) => {
                let secret = self.open_totp_secret(&scope, user, sealed)?;
                match totp::verify(&secret, code, unix(now), state.last_step) {
                    Some(step) => self.store.accept_totp_step(&scope, user, step).await?,
                    None => false,
                }
            }
            _ => false,
        };
        let audit = ctx.audit("mfa.recovery_code_used").actor(user);
        if by_app
            || self
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
        // The account's own known device mistyping (a phone whose clock drifted) is not someone guessing.
        if device.is_none() {
            self.store.note_second_factor_failure(&scope, user).await?;
            if self.throttle.second_factor_failed(user.as_bytes()) {
                self.second_factor_guessing(&scope, &member, ctx).await;
            }
        }
        if app_locked {
            return Err(unauthorized(
                "too many wrong codes in a row on this account: sign in from a device you used before, or with a \
                 recovery code (changing the password starts again)",
            ));
        }
        Err(unauthorized("the code is wrong or was already used"))
    }

    /// MON-2, AUTH-8: wrong second factors after the right password, many within the hour — someone holds the
    /// password and is guessing codes (each sign-in gets five guesses, the account a hundred an hour). The account
    /// gets a security event and a mail telling them to change their password; the on-call gets an alert.
    async fn second_factor_guessing(&self, scope: &TenantScope, member: &StaffMember, ctx: &RequestContext) {
        let now = self.now();
        let detail = format!(
            "{} wrong second factors within the hour after the right password, the last from client {}",
            super::throttle::GUESSING_FAILURES,
            ctx.address()
        );
        if let Err(error) = self
            .store
            .record_security_event(
                scope,
                Some(member.id),
                "sign_in.second_factor_guessing",
                &detail,
                now,
            )
            .await
        {
            tracing::warn!(%error, "could not record the second-factor guessing");
        }
        let message = OutboxMessage {
            id: Uuid::now_v7(),
            partner: Some(scope.partner()),
            recipient: member.email.clone(),
            subject: "Your comanda password is known to someone / Alguien conoce tu contraseña de comanda".into(),
            body: "Someone signed in to your comanda account with your password and then tried many wrong codes \
                   from your authenticator app. They did not get in: your second factor stopped them. Your password \
                   is known to them: change it now (and anywhere else you use it), and if this was not you, use \
                   \"Sign out everywhere\" on your dashboard.\n\nAlguien inició \
                   sesión en tu cuenta de comanda con tu contraseña y luego probó muchos códigos equivocados de tu \
                   aplicación autenticadora. No entró: tu segundo factor lo detuvo. Esa persona conoce tu contraseña: \
                   cámbiala ahora (y donde más la uses), y si no fuiste tú, usa «Cerrar todas las sesiones» en tu \
                   panel.\n"
                .into(),
            created_at: now,
        };
        if let Err(error) = self.store.enqueue_message(&message).await {
            tracing::warn!(%error, "could not queue the second-factor guessing notice");
        }
        metrics::counter!("second_factor_guessing_total").increment(1);
        if let Err(error) = crate::alert_routing::raise(
            &*self.store,
            Some(scope.partner()),
            "auth.second_factor_guessing",
            &detail,
            now,
        )
        .await
        {
            tracing::error!(%error, "the second-factor guessing alert could not be recorded");
        }
    }

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
    pub(super) async fn change_second_factor(
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
}
