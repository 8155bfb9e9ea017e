use comanda_domain::PartnerId;

/// Proof that the caller may act on one partner's data. Every store method that touches partner data takes one,
/// and the engines scope every statement by it (and, on PostgreSQL, set it for row-level security).
///
/// A scope cannot be built from a bare identifier: it is minted only where authority is established —
/// [`TenantScope::for_new_partner`] at registration (for an identifier nobody has used yet), and token
/// verification and operator access grants (identity and access issues) through [`AuthorityProof`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantScope {
    partner: PartnerId,
}

/// Implemented only inside this crate (sealed), by the values that prove an authenticated caller's tenant: a verified
/// access token's claims, an approved operator access grant.
pub trait AuthorityProof: sealed::Sealed {
    fn proven_partner(&self) -> PartnerId;
}

pub(crate) mod sealed {
    pub trait Sealed {}
}

impl TenantScope {
    /// Registration: the only way to a scope without prior authority, and only for a partner identifier minted here
    /// and now, so it can never name an existing partner.
    pub fn for_new_partner() -> Self {
        Self {
            partner: PartnerId::mint(),
        }
    }

    pub fn from_proof(proof: &impl AuthorityProof) -> Self {
        Self {
            partner: proof.proven_partner(),
        }
    }

    pub fn partner(&self) -> PartnerId {
        self.partner
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_scopes_never_repeat() {
        assert_ne!(
            TenantScope::for_new_partner().partner(),
            TenantScope::for_new_partner().partner()
        );
    }
}

/// Proof that the caller presented a secret matching one stored for a partner: a password, a refresh token, an
/// invitation token. Built only here, by the functions that check the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialMatch {
    partner: PartnerId,
}

impl sealed::Sealed for CredentialMatch {}
impl AuthorityProof for CredentialMatch {
    fn proven_partner(&self) -> PartnerId {
        self.partner
    }
}

impl CredentialMatch {
    pub(crate) fn new(partner: PartnerId) -> Self {
        Self { partner }
    }
}

/// A platform job (the transfer dispatcher, payment reconciliation) acting for a partner it found in a platform
/// directory the partner's own activity wrote (e.g. the payment directory). Named by the job so the authority is
/// grep-able and logged; never built from request input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobAuthority {
    partner: PartnerId,
    pub job: &'static str,
}

impl JobAuthority {
    pub fn new(job: &'static str, partner: PartnerId) -> Self {
        Self { partner, job }
    }
}

impl sealed::Sealed for JobAuthority {}
impl AuthorityProof for JobAuthority {
    fn proven_partner(&self) -> PartnerId {
        self.partner
    }
}
