//! Signing up and signing in: the password step, the second step, the session opened, and the device and place
//! noticed.

use super::*;

impl Identity {
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
            venues: comanda_domain::Venues::Every,
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
        let member = self
            .store
            .staff_member(&scope, record.user)
            .await
            .map_err(|error| match error {
                comanda_store::StoreError::NotFound => unauthorized(SIGN_IN_FAILED),
                // The member's sealed record did not open (a key the KMS does not give): the operator's fault to
                // see, not a wrong password to tell the member.
                other => {
                    tracing::error!(error = %other, "a member's record could not be read at sign-in");
                    ApiError::from(other)
                }
            })?;
        // A backup restored from before an erasure or an offboarding brings the sign-in record back, never the
        // person: their key stays destroyed (PRIV-1), and so does their way in.
        if member.is_erased() {
            return Err(unauthorized(SIGN_IN_FAILED));
        }
        if let Verdict::MatchRehashed(upgraded) = verdict {
            self.store
                .set_password_hash(&scope, record.user, &upgraded, None, self.now())
                .await?;
        }
        self.second_step(&scope, &member, ctx).await
    }

    pub(super) async fn sign_in_failed(&self, key: &[u8], ctx: &RequestContext, detail: &str) -> ApiError {
        let audit = ctx.audit("auth.sign_in_failed").detail(detail);
        if let Err(error) = self.store.record_sign_in_failure(key, &audit, self.now()).await {
            tracing::warn!(%error, "could not audit a failed sign-in");
        }
        if let Some(burst) = self.throttle.record_failure(key, ctx.address()) {
            self.credential_stuffing_burst(&burst, ctx).await;
        }
        unauthorized(SIGN_IN_FAILED)
    }

    /// MON-2: one address failed on many accounts within minutes. The platform's on-call gets an alert, and each
    /// account of ours it reached gets a security event, an audit entry in its partner's log and a mail (the others
    /// were guesses of addresses that have no account here).
    async fn credential_stuffing_burst(&self, burst: &Burst, ctx: &RequestContext) {
        let now = self.now();
        let mut known = 0;
        for key in &burst.tell {
            let Ok(Some(record)) = self.store.login_record(key).await else {
                continue;
            };
            known += 1;
            let _ = self
                .store
                .record_sign_in_failure(key, &ctx.audit("security.credential_stuffing_burst"), now)
                .await;
            let scope = TenantScope::from_proof(&comanda_security::tenancy::JobAuthority::new(
                "credential-stuffing-notice",
                record.partner,
            ));
            let detail = "failed sign-ins on many accounts from one address";
            let _ = self
                .store
                .record_security_event(
                    &scope,
                    Some(record.user),
                    "sign_in.credential_stuffing",
                    detail,
                    now,
                )
                .await;
            let Ok(member) = self.store.staff_member(&scope, record.user).await else {
                continue;
            };
            let message = OutboxMessage {
                id: Uuid::now_v7(),
                partner: Some(record.partner),
                recipient: member.email,
                subject: "Sign-in attempts on your comanda account / Intentos de inicio de sesión en tu cuenta".into(),
                body: "Someone tried to sign in to your comanda account with a wrong password, while trying many \
                       accounts from one address (credential stuffing: passwords leaked from other sites). They did \
                       not get in, and that address is now held back. If you use your comanda password anywhere \
                       else, change it in comanda now.\n\nAlguien intentó iniciar sesión en tu cuenta de comanda con \
                       una contraseña equivocada, mientras probaba muchas cuentas desde una misma dirección \
                       (contraseñas filtradas de otros sitios). No entró, y esa dirección quedó frenada. Si usas tu \
                       contraseña de comanda en otro lugar, cámbiala en comanda ahora.\n"
                    .into(),
                created_at: now,
            };
            let _ = self.store.enqueue_message(&message).await;
        }
        if !burst.first_report {
            return;
        }
        metrics::counter!("credential_stuffing_bursts_total").increment(1);
        let detail = format!(
            "client {}: failed sign-ins on {} accounts within five minutes ({known} of them accounts here, each told \
             now); the address gets no more password checks until its failures age out",
            ctx.address(),
            super::throttle::STUFFING_ACCOUNTS
        );
        if let Err(error) =
            crate::alert_routing::raise(&*self.store, None, "auth.credential_stuffing", &detail, now).await
        {
            tracing::error!(%error, "the credential-stuffing alert could not be recorded");
        }
    }

    /// After the password: a second factor if enrolled, enrolment if required, otherwise a session.
    pub(super) async fn second_step(
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
    pub(super) async fn open_session(
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
        let (new_network, new_device) = self.notice_device(scope, member, ctx).await;
        let (place_kinds, unusual) = self.notice_place(scope, member, ctx).await.unzip();
        let mut kinds = place_kinds.unwrap_or_default();
        if new_device {
            kinds.push(NEW_DEVICE);
        }
        self.page_on_call(scope, member, &kinds).await;
        self.tell_about_sign_in(scope, member, new_network, unusual).await;
        let mut pair = self.access_pair(scope, member, family, generation, refresh)?;
        pair.device_cookie = Some(self.device_cookie(&self.email_key(&member.email))?);
        Ok(pair)
    }

    /// A new device cookie for the account `email_key`: `nonce.tag`, the tag a keyed digest of the account and the
    /// nonce, so it names its account without storing anything.
    pub(super) fn device_cookie(&self, email_key: &[u8]) -> Result<String, ApiError> {
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
    pub(super) fn known_device(&self, email_key: &[u8], cookie: Option<&str>) -> Option<Vec<u8>> {
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

    pub(super) fn access_pair(
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

    /// MON-2: a sign-in from a device/network not seen before records a security event; the network it returns is
    /// told to the account in the sign-in's one mail ([`Self::tell_about_sign_in`]). The second value says whether
    /// it is a new *device* ([`is_new_device`]), which is also paged on call.
    pub(super) async fn notice_device(
        &self,
        scope: &TenantScope,
        member: &StaffMember,
        ctx: &RequestContext,
    ) -> (Option<String>, bool) {
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
        let seen = match self.store.note_device(scope, member.id, &fingerprint, now).await {
            Ok(DeviceSeen::Known) => return (None, false),
            Ok(seen) => seen,
            Err(error) => {
                tracing::warn!(%error, "could not record the sign-in device");
                return (None, false);
            }
        };
        let detail = format!("network {network}");
        let _ = self
            .store
            .record_security_event(scope, Some(member.id), "sign_in.new_device", &detail, now)
            .await;
        let holds_cookie = self
            .known_device(&self.email_key(&member.email), ctx.device_cookie.as_deref())
            .is_some();
        (Some(network), is_new_device(seen, holds_cookie))
    }

    /// One mail per sign-in that has something to tell: a new device or network, an unusual place, or both.
    async fn tell_about_sign_in(
        &self,
        scope: &TenantScope,
        member: &StaffMember,
        new_network: Option<String>,
        unusual: Option<(String, String)>,
    ) {
        let device = new_network.as_ref().map(|network| {
            (
                format!("A new device or network signed in to your comanda account ({network})."),
                format!("Un dispositivo o red nuevos iniciaron sesión en tu cuenta de comanda ({network})."),
            )
        });
        let (subject, english, spanish) = match (device, unusual) {
            (None, None) => return,
            (Some((english, spanish)), None) => (
                "New sign-in to comanda / Nuevo inicio de sesión en comanda",
                english,
                spanish,
            ),
            (device, Some((english, spanish))) => {
                let (device_en, device_es) = device.unwrap_or_default();
                (
                    "Unusual sign-in to comanda / Inicio de sesión inusual en comanda",
                    format!("{english} {device_en}").trim_end().to_owned(),
                    format!("{spanish} {device_es}").trim_end().to_owned(),
                )
            }
        };
        self.tell_account(scope, member, subject, &english, &spanish)
            .await;
    }

    /// MON-2 by place, when `auth.geoip_database` knows the client's address: the place is remembered per country,
    /// and a first sign-in from a country or impossible travel from the previous sign-in
    /// ([`comanda_domain::sign_in_place::anomalies`]) is recorded as a security event; the kinds found are returned
    /// for [`Self::page_on_call`] (either is a strong sign of a stolen password or session) with the English and
    /// Spanish sentences that tell the account, for the sign-in's one mail. The sign-in itself goes on: it has
    /// already passed every factor.
    pub(super) async fn notice_place(
        &self,
        scope: &TenantScope,
        member: &StaffMember,
        ctx: &RequestContext,
    ) -> Option<(Vec<&'static str>, (String, String))> {
        use comanda_domain::sign_in_place::{Anomaly, PastSignIn, Whereabouts, anomalies};
        let (Some(geoip), Some(address)) = (&self.settings.geoip, ctx.client) else {
            return None;
        };
        let here = geoip.whereabouts(address)?;
        let now = self.now();
        let place = comanda_store::identity::SignInPlace {
            country: here.country.clone().unwrap_or_default(),
            coordinates: here.coordinates,
            signed_in_at: now,
        };
        let before = match self.store.note_sign_in_place(scope, member.id, &place).await {
            Ok(before) => before,
            Err(error) => {
                tracing::warn!(%error, "could not record where a sign-in came from");
                return None;
            }
        };
        let known: Vec<String> = before
            .iter()
            .filter(|place| !place.country.is_empty())
            .map(|place| place.country.clone())
            .collect();
        let previous = before.first().map(|place| PastSignIn {
            whereabouts: Whereabouts {
                country: Some(place.country.clone()).filter(|country| !country.is_empty()),
                coordinates: place.coordinates,
            },
            at: place.signed_in_at,
        });
        let found = anomalies(&known, previous.as_ref(), &here, now);
        if found.is_empty() {
            return None;
        }
        for anomaly in &found {
            let what = anomaly.describe(&here);
            let _ = self
                .store
                .record_security_event(scope, Some(member.id), anomaly.kind(), &what, now)
                .await;
        }
        let kinds: Vec<&'static str> = found.iter().map(Anomaly::kind).collect();
        let country = here.country.as_deref().unwrap_or("?");
        let (english, spanish) = if found
            .iter()
            .any(|a| matches!(a, Anomaly::ImpossibleTravel { .. }))
        {
            (
                "too far from your previous sign-in for the time between them",
                "demasiado lejos de tu inicio de sesión anterior para el tiempo transcurrido",
            )
        } else {
            (
                "a country you had not signed in from before",
                "un país desde el que no habías iniciado sesión",
            )
        };
        Some((
            kinds,
            (
                format!("Your comanda account was signed in to from {country}: {english}."),
                format!("Se inició sesión en tu cuenta de comanda desde {country}: {spanish}."),
            ),
        ))
    }

    /// One page per sign-in (MON-2, routed by MON-4): `auth.sign_in_anomaly` when the place was unusual (a new
    /// country or impossible travel, whatever the device), otherwise `auth.new_device` for a new device alone,
    /// which the on-call destination receives at severity `info` ([`crate::alert_routing::severity`]). It names
    /// the account and what was found, not where: the places stay in the member's security events (in their data
    /// export, and gone with them), while an alert is also a log line.
    async fn page_on_call(&self, scope: &TenantScope, member: &StaffMember, kinds: &[&str]) {
        let kind = match kinds {
            [] => return,
            [NEW_DEVICE] => "auth.new_device",
            _ => "auth.sign_in_anomaly",
        };
        let detail = format!(
            "partner {} member {}: {} (where: the member's security events, in their data export)",
            scope.partner(),
            member.id,
            kinds.join(", ")
        );
        let now = self.now();
        if let Err(error) =
            crate::alert_routing::raise(&*self.store, Some(scope.partner()), kind, &detail, now).await
        {
            tracing::error!(%error, "could not record a sign-in alert");
        }
    }

    /// A bilingual security mail to the member: what happened, and what to do if it was not them.
    async fn tell_account(
        &self,
        scope: &TenantScope,
        member: &StaffMember,
        subject: &str,
        english: &str,
        spanish: &str,
    ) {
        let message = OutboxMessage {
            id: Uuid::now_v7(),
            partner: Some(scope.partner()),
            recipient: member.email.clone(),
            subject: subject.into(),
            body: format!(
                "{english} If it was not you, report it from your account (it signs out every session).\n\n\
                 {spanish} Si no fuiste tú, repórtalo desde tu cuenta (cierra todas las sesiones).\n"
            ),
            created_at: self.now(),
        };
        if let Err(error) = self.store.enqueue_message(&message).await {
            tracing::warn!(%error, "could not queue a security mail");
        }
    }
}

/// The security event and alert detail kind of a new device.
const NEW_DEVICE: &str = "sign_in.new_device";

/// Whether a sign-in comes from a new *device* (MON-2): a browser and network the member has not signed in from,
/// from a client that does not hold the account's device cookie (a known device that moved to another network
/// holds it, and is not new), and not the member's first (the baseline, like a first sign-in place).
fn is_new_device(seen: DeviceSeen, holds_cookie: bool) -> bool {
    seen == DeviceSeen::New && !holds_cookie
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_unknown_client_on_an_unseen_network_is_a_new_device() {
        assert!(is_new_device(DeviceSeen::New, false));
        assert!(
            !is_new_device(DeviceSeen::New, true),
            "a known device on a new network"
        );
        assert!(
            !is_new_device(DeviceSeen::First, false),
            "the first sign-in is the baseline"
        );
        assert!(!is_new_device(DeviceSeen::Known, false));
    }
}
