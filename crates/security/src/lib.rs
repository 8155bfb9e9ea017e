//! Security controls shared by every layer: the tenant scope that gates partner data, secret values that never
//! print, the log redaction layer, card-number (PAN) detection, and envelope encryption under a KMS.

pub mod audit_chain;
pub mod booking_link;
pub mod envelope;
pub mod kms;
pub mod pan;
pub mod password;
pub mod redact;
pub mod secret;
pub mod secrets;
pub mod table_token;
pub mod tenancy;
#[cfg(feature = "test-support")]
pub mod testing;
pub mod tokens;
pub mod totp;
pub mod webhook;

pub use secret::Secret;
pub use tenancy::TenantScope;

/// Compares two byte strings in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn constant_time_comparison() {
        assert!(super::constant_time_eq(b"abc", b"abc"));
        assert!(!super::constant_time_eq(b"abc", b"abd"));
        assert!(!super::constant_time_eq(b"abc", b"ab"));
    }
}
