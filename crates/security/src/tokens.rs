//! Signed API tokens (RFC 9068 shape, RFC 8725 practice): JWTs signed with Ed25519 (`EdDSA`), at most 15 minutes,
//! carrying iss, aud, sub, tenant, role, jti and the signing key's kid.
//!
//! Verification pins everything an attacker could choose: the algorithm (EdDSA only, so `none` and HMAC-with-
//! the-public-key fail), the `typ` of the token kind expected, a kid from our own key ring (keys named by `jku`,
//! `x5u`, `jwk` or `x5c` headers are refused, never fetched), issuer, audience, and the validity window, checked
//! against the injected clock.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use comanda_domain::{PartnerId, Role};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::Secret;
use crate::tenancy::{AuthorityProof, sealed};

/// Longest an access token may live (AUTH-6).
pub const MAX_ACCESS_TTL: time::Duration = time::Duration::minutes(15);
/// Clock skew tolerated between instances.
pub const LEEWAY_SECONDS: i64 = 30;

/// The kinds of token, told apart by the `typ` header so one can never stand in for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Full API access.
    Access,
    /// Password accepted; the second factor is still due (`POST /auth/mfa/verify`).
    MfaPending,
    /// The account must enrol a second factor before anything else (AUTH-5).
    Enrollment,
}

impl TokenKind {
    pub fn typ(self) -> &'static str {
        match self {
            TokenKind::Access => "at+jwt",
            TokenKind::MfaPending => "mfa+jwt",
            TokenKind::Enrollment => "enroll+jwt",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The staff member (user id).
    pub sub: String,
    /// The partner the token is for.
    pub tenant: String,
    pub role: Role,
    pub jti: String,
    /// The session (refresh-token family) this token belongs to; empty before a session exists.
    #[serde(default)]
    pub sid: String,
    /// The member's credential generation when the token was issued. Every revocation of the member's
    /// credentials moves the generation on, so a token of an older generation is dead — a counter, which cannot
    /// tie the way a revocation time compared in whole seconds does.
    #[serde(default)]
    pub generation: i64,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
}

/// Claims that passed every check; the only value from which an authenticated tenant scope can be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedClaims {
    pub claims: Claims,
    pub partner: PartnerId,
    pub user: Uuid,
    pub kind: TokenKind,
}

impl sealed::Sealed for VerifiedClaims {}
impl AuthorityProof for VerifiedClaims {
    fn proven_partner(&self) -> PartnerId {
        self.partner
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("token header not accepted: {0}")]
    Header(&'static str),
    #[error("unknown signing key")]
    UnknownKey,
    #[error("bad signature or claims")]
    Invalid,
    #[error("token expired")]
    Expired,
    #[error("token not yet valid")]
    NotYetValid,
    #[error("no signing key is active")]
    NoActiveKey,
    #[error("signing failed")]
    Signing,
}

/// A token signing key pair: the private half sealed by the KMS at rest, the public half served as JWKS.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub pkcs8: Secret<Vec<u8>>,
    pub public: Vec<u8>,
    pub created_at: OffsetDateTime,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .finish()
    }
}

impl SigningKey {
    pub fn generate(now: OffsetDateTime) -> Result<Self, TokenError> {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| TokenError::Signing)?;
        Self::from_pkcs8(pkcs8.as_ref().to_vec(), now)
    }

    pub fn from_pkcs8(pkcs8: Vec<u8>, created_at: OffsetDateTime) -> Result<Self, TokenError> {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pkcs8).map_err(|_| TokenError::Signing)?;
        let public = pair.public_key().as_ref().to_vec();
        let digest = ring::digest::digest(&ring::digest::SHA256, &public);
        let kid = URL_SAFE_NO_PAD.encode(&digest.as_ref()[..12]);
        Ok(Self {
            kid,
            pkcs8: Secret::new(pkcs8),
            public,
            created_at,
        })
    }

    /// The associated data that binds a sealed private key to its kid.
    pub fn seal_context(kid: &str) -> Vec<u8> {
        format!("comanda/signing-key/{kid}").into_bytes()
    }
}

/// The public half of a key that still verifies.
#[derive(Debug, Clone)]
pub struct VerifyingKey {
    pub kid: String,
    pub public: Vec<u8>,
}

/// The keys in force: one signs, all verify.
pub struct KeyRing {
    issuer: String,
    audience: String,
    active: Option<(String, EncodingKey)>,
    verifiers: HashMap<String, DecodingKey>,
    public: Vec<VerifyingKey>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("active", &self.active.as_ref().map(|(kid, _)| kid))
            .field("verifiers", &self.verifiers.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A freshly issued token and its claims.
#[derive(Debug, Clone)]
pub struct Issued {
    pub token: String,
    pub claims: Claims,
}

/// Who a token is about.
#[derive(Debug, Clone, Copy)]
pub struct Subject {
    pub partner: PartnerId,
    pub user: Uuid,
    pub role: Role,
    /// The member's credential generation the token is issued under (see [`Claims::generation`]).
    pub generation: i64,
}

impl KeyRing {
    /// `active` signs; `verifying` (which should include the active key) verify.
    pub fn new(
        issuer: &str,
        audience: &str,
        active: Option<&SigningKey>,
        verifying: &[VerifyingKey],
    ) -> Self {
        let verifiers = verifying
            .iter()
            .map(|k| (k.kid.clone(), DecodingKey::from_ed_der(&k.public)))
            .collect::<HashMap<_, _>>();
        Self {
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            active: active.map(|k| (k.kid.clone(), EncodingKey::from_ed_der(k.pkcs8.expose()))),
            verifiers,
            public: verifying.to_vec(),
        }
    }

    pub fn active_kid(&self) -> Option<&str> {
        self.active.as_ref().map(|(kid, _)| kid.as_str())
    }

    pub fn knows(&self, kid: &str) -> bool {
        self.verifiers.contains_key(kid)
    }

    pub fn issue(
        &self,
        kind: TokenKind,
        subject: Subject,
        session: Option<Uuid>,
        now: OffsetDateTime,
        ttl: time::Duration,
    ) -> Result<Issued, TokenError> {
        let (kid, key) = self.active.as_ref().ok_or(TokenError::NoActiveKey)?;
        let ttl = ttl.min(MAX_ACCESS_TTL);
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: subject.user.to_string(),
            tenant: subject.partner.to_string(),
            role: subject.role,
            jti: Uuid::now_v7().to_string(),
            sid: session.map(|s| s.to_string()).unwrap_or_default(),
            generation: subject.generation,
            iat: now.unix_timestamp(),
            nbf: now.unix_timestamp(),
            exp: (now + ttl).unix_timestamp(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(kind.typ().to_owned());
        header.kid = Some(kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, key).map_err(|_| TokenError::Signing)?;
        Ok(Issued { token, claims })
    }

    pub fn verify(
        &self,
        token: &str,
        kind: TokenKind,
        now: OffsetDateTime,
    ) -> Result<VerifiedClaims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::Header("alg"));
        }
        if header.jku.is_some() || header.jwk.is_some() || header.x5u.is_some() || header.x5c.is_some() {
            return Err(TokenError::Header("embedded or remote keys"));
        }
        if header.typ.as_deref() != Some(kind.typ()) {
            return Err(TokenError::Header("typ"));
        }
        let kid = header.kid.ok_or(TokenError::Header("kid"))?;
        let key = self.verifiers.get(&kid).ok_or(TokenError::UnknownKey)?;

        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["iss", "aud", "sub", "exp", "nbf", "iat"]);
        // The window is checked below against the injected clock, not the wall clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        let claims = jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map_err(|_| TokenError::Invalid)?
            .claims;
        let now = now.unix_timestamp();
        if claims.exp <= now - LEEWAY_SECONDS {
            return Err(TokenError::Expired);
        }
        if claims.nbf > now + LEEWAY_SECONDS || claims.iat > now + LEEWAY_SECONDS {
            return Err(TokenError::NotYetValid);
        }
        if claims.exp - claims.iat > MAX_ACCESS_TTL.whole_seconds() {
            return Err(TokenError::Invalid);
        }
        let partner = claims.tenant.parse().map_err(|_| TokenError::Invalid)?;
        let user = claims.sub.parse().map_err(|_| TokenError::Invalid)?;
        Ok(VerifiedClaims {
            claims,
            partner,
            user,
            kind,
        })
    }

    /// RFC 7517 JSON Web Key Set of every key that still verifies.
    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<serde_json::Value> = self
            .public
            .iter()
            .map(|k| {
                serde_json::json!({
                    "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
                    "kid": k.kid, "x": URL_SAFE_NO_PAD.encode(&k.public),
                })
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }
}

/// Rotation policy: a new key every `every`; a retired key keeps verifying until every token it signed has expired.
pub fn rotation_due(
    newest_created: Option<OffsetDateTime>,
    now: OffsetDateTime,
    every: time::Duration,
) -> bool {
    newest_created.is_none_or(|created| now - created >= every)
}

/// Whether a key retired at `retired_at` (when its successor was created) can still have live tokens.
pub fn still_verifies(retired_at: Option<OffsetDateTime>, now: OffsetDateTime) -> bool {
    retired_at.is_none_or(|retired| now < retired + MAX_ACCESS_TTL + time::Duration::seconds(LEEWAY_SECONDS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-23 12:00 UTC);

    fn subject() -> Subject {
        Subject {
            partner: PartnerId::mint(),
            user: Uuid::now_v7(),
            role: Role::Owner,
            generation: 0,
        }
    }

    fn ring_with(key: &SigningKey) -> KeyRing {
        let verifying = [VerifyingKey {
            kid: key.kid.clone(),
            public: key.public.clone(),
        }];
        KeyRing::new("https://comanda.test", "comanda-api", Some(key), &verifying)
    }

    fn b64(value: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(value.to_string())
    }

    #[test]
    fn issued_tokens_verify_with_their_claims() {
        let key = SigningKey::generate(NOW).unwrap();
        let ring = ring_with(&key);
        let subject = subject();
        let issued = ring
            .issue(TokenKind::Access, subject, None, NOW, time::Duration::minutes(15))
            .unwrap();
        let verified = ring
            .verify(&issued.token, TokenKind::Access, NOW + time::Duration::minutes(5))
            .unwrap();
        assert_eq!(verified.partner, subject.partner);
        assert_eq!(verified.user, subject.user);
        assert_eq!(verified.claims.role, Role::Owner);
        assert_eq!(verified.claims.exp - verified.claims.iat, 900);
        let header = jsonwebtoken::decode_header(&issued.token).unwrap();
        assert_eq!(header.kid.as_deref(), Some(key.kid.as_str()));
    }

    #[test]
    fn lifetime_is_capped_at_fifteen_minutes() {
        let key = SigningKey::generate(NOW).unwrap();
        let issued = ring_with(&key)
            .issue(TokenKind::Access, subject(), None, NOW, time::Duration::hours(5))
            .unwrap();
        assert_eq!(issued.claims.exp - issued.claims.iat, 900);
    }

    #[test]
    fn expired_and_future_tokens_are_refused() {
        let key = SigningKey::generate(NOW).unwrap();
        let ring = ring_with(&key);
        let issued = ring
            .issue(
                TokenKind::Access,
                subject(),
                None,
                NOW,
                time::Duration::minutes(15),
            )
            .unwrap();
        let later = NOW + time::Duration::minutes(16);
        assert_eq!(
            ring.verify(&issued.token, TokenKind::Access, later),
            Err(TokenError::Expired)
        );
        let earlier = NOW - time::Duration::minutes(5);
        assert_eq!(
            ring.verify(&issued.token, TokenKind::Access, earlier),
            Err(TokenError::NotYetValid)
        );
    }

    #[test]
    fn alg_none_and_hmac_confusion_are_refused() {
        let key = SigningKey::generate(NOW).unwrap();
        let ring = ring_with(&key);
        let issued = ring
            .issue(
                TokenKind::Access,
                subject(),
                None,
                NOW,
                time::Duration::minutes(15),
            )
            .unwrap();
        let payload = issued.token.split('.').nth(1).unwrap();
        let none = format!(
            "{}.{payload}.",
            b64(&serde_json::json!({"alg": "none", "typ": "at+jwt", "kid": key.kid}))
        );
        assert!(ring.verify(&none, TokenKind::Access, NOW).is_err());
        // HS256 keyed with the public key, the classic algorithm confusion.
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some("at+jwt".into());
        header.kid = Some(key.kid.clone());
        let forged =
            jsonwebtoken::encode(&header, &issued.claims, &EncodingKey::from_secret(&key.public)).unwrap();
        assert_eq!(
            ring.verify(&forged, TokenKind::Access, NOW),
            Err(TokenError::Header("alg"))
        );
    }

    #[test]
    fn unknown_keys_and_embedded_keys_are_refused() {
        let ours = SigningKey::generate(NOW).unwrap();
        let theirs = SigningKey::generate(NOW).unwrap();
        let foreign = ring_with(&theirs).issue(
            TokenKind::Access,
            subject(),
            None,
            NOW,
            time::Duration::minutes(5),
        );
        assert_eq!(
            ring_with(&ours).verify(&foreign.unwrap().token, TokenKind::Access, NOW),
            Err(TokenError::UnknownKey)
        );

        let claims = ring_with(&ours)
            .issue(
                TokenKind::Access,
                subject(),
                None,
                NOW,
                time::Duration::minutes(5),
            )
            .unwrap();
        for extra in [
            serde_json::json!({"jku": "https://evil.example/jwks.json"}),
            serde_json::json!({"x5u": "https://evil.example/cert.pem"}),
        ] {
            let mut header = serde_json::json!({"alg": "EdDSA", "typ": "at+jwt", "kid": ours.kid});
            header
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            let rest: Vec<&str> = claims.token.split('.').skip(1).collect();
            let token = format!("{}.{}", b64(&header), rest.join("."));
            assert!(
                ring_with(&ours).verify(&token, TokenKind::Access, NOW).is_err(),
                "{header}"
            );
        }
    }

    #[test]
    fn wrong_audience_issuer_or_kind_is_refused() {
        let key = SigningKey::generate(NOW).unwrap();
        let verifying = [VerifyingKey {
            kid: key.kid.clone(),
            public: key.public.clone(),
        }];
        let other_audience = KeyRing::new("https://comanda.test", "another-api", Some(&key), &verifying);
        let other_issuer = KeyRing::new("https://evil.test", "comanda-api", Some(&key), &verifying);
        let ring = ring_with(&key);
        for foreign in [other_audience, other_issuer] {
            let issued = foreign
                .issue(
                    TokenKind::Access,
                    subject(),
                    None,
                    NOW,
                    time::Duration::minutes(5),
                )
                .unwrap();
            assert_eq!(
                ring.verify(&issued.token, TokenKind::Access, NOW),
                Err(TokenError::Invalid)
            );
        }
        let enrollment = ring
            .issue(
                TokenKind::Enrollment,
                subject(),
                None,
                NOW,
                time::Duration::minutes(5),
            )
            .unwrap();
        assert_eq!(
            ring.verify(&enrollment.token, TokenKind::Access, NOW),
            Err(TokenError::Header("typ"))
        );
        assert!(ring.verify(&enrollment.token, TokenKind::Enrollment, NOW).is_ok());
    }

    #[test]
    fn rotation_schedule_and_overlap() {
        let every = time::Duration::days(30);
        assert!(rotation_due(None, NOW, every));
        assert!(!rotation_due(Some(NOW - time::Duration::days(29)), NOW, every));
        assert!(rotation_due(Some(NOW - time::Duration::days(30)), NOW, every));
        assert!(still_verifies(None, NOW));
        assert!(still_verifies(Some(NOW - time::Duration::minutes(10)), NOW));
        assert!(!still_verifies(Some(NOW - time::Duration::minutes(16)), NOW));
    }

    #[test]
    fn jwks_lists_every_verifying_key() {
        let old = SigningKey::generate(NOW).unwrap();
        let new = SigningKey::generate(NOW).unwrap();
        let verifying: Vec<VerifyingKey> = [&old, &new]
            .iter()
            .map(|k| VerifyingKey {
                kid: k.kid.clone(),
                public: k.public.clone(),
            })
            .collect();
        let ring = KeyRing::new("i", "a", Some(&new), &verifying);
        let jwks = ring.jwks();
        let kids: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        assert_eq!(kids, [old.kid.as_str(), new.kid.as_str()]);
        assert_eq!(jwks["keys"][0]["crv"], "Ed25519");
        assert!(jwks.to_string().find("\"d\"").is_none(), "no private part");
    }
}
