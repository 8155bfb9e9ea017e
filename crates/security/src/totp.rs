//! Time-based one-time passwords (RFC 6238: SHA-1, 6 digits, 30-second steps) through `totp-rs`, accepting the
//! previous, current and next step, and never the same step twice: the caller stores the step a code was accepted
//! at and passes it back, so a replayed code is refused.

use ring::rand::{SecureRandom, SystemRandom};
use totp_rs::{Algorithm, Builder, Totp};

pub const STEP_SECONDS: u64 = 30;
pub const SECRET_BYTES: usize = 20;
pub const RECOVERY_CODES: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum TotpError {
    #[error("the TOTP secret is invalid: {0}")]
    Secret(String),
    #[error("the system random source failed")]
    Random,
}

pub fn new_secret() -> Result<Vec<u8>, TotpError> {
    let mut secret = vec![0u8; SECRET_BYTES];
    SystemRandom::new()
        .fill(&mut secret)
        .map_err(|_| TotpError::Random)?;
    Ok(secret)
}

fn totp(secret: &[u8], issuer: &str, account: &str) -> Result<Totp, TotpError> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(STEP_SECONDS)
        .with_secret(secret.to_vec())
        .with_issuer(Some(issuer))
        .with_account_name(account)
        .build()
        .map_err(|e| TotpError::Secret(e.to_string()))
}

/// The base32 secret a person types into an authenticator app when they cannot scan.
pub fn encoded_secret(secret: &[u8]) -> String {
    totp_rs::Secret::from(secret.to_vec()).to_base32()
}

/// The raw secret behind a base32 one (what an authenticator app does with the typed secret).
pub fn decode_secret(base32: &str) -> Option<Vec<u8>> {
    totp_rs::Secret::try_from_base32(base32.trim())
        .ok()
        .map(|s| AsRef::<[u8]>::as_ref(&s).to_vec())
}

/// The `otpauth://totp/…` URI the QR code carries.
pub fn otpauth_uri(secret: &[u8], issuer: &str, account: &str) -> Result<String, TotpError> {
    totp(secret, issuer, account)?
        .to_url()
        .map_err(|e| TotpError::Secret(e.to_string()))
}

/// The code for a moment (tests and the e2e suite compute codes this way).
pub fn code_at(secret: &[u8], unix_seconds: u64) -> Result<String, TotpError> {
    Ok(totp(secret, "comanda", "code")?
        .generate(unix_seconds)
        .to_string())
}

/// The step at which `code` is valid (current ±1), provided it is later than `last_used_step`.
pub fn verify(secret: &[u8], code: &str, unix_seconds: u64, last_used_step: Option<i64>) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let step = i64::try_from(totp(secret, "comanda", "code").ok()?.check(&code, unix_seconds)?).ok()?;
    last_used_step.is_none_or(|last| step > last).then_some(step)
}

/// Ten single-use recovery codes, `xxxx-xxxx-xxxx` in an alphabet without look-alike characters (60 bits each).
pub fn new_recovery_codes() -> Result<Vec<String>, TotpError> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let rng = SystemRandom::new();
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; 12];
            rng.fill(&mut bytes).map_err(|_| TotpError::Random)?;
            let chars: Vec<char> = bytes
                .iter()
                .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
                .collect();
            Ok(format!(
                "{}-{}-{}",
                chars[..4].iter().collect::<String>(),
                chars[4..8].iter().collect::<String>(),
                chars[8..].iter().collect::<String>()
            ))
        })
        .collect()
}

/// How a recovery code is compared: case and separators do not matter.
pub fn normalize_recovery_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_795_000_000;

    #[test]
    fn accepts_the_neighbouring_steps_and_never_the_same_step_twice() {
        let secret = new_secret().unwrap();
        let code = code_at(&secret, NOW).unwrap();
        let step = verify(&secret, &code, NOW, None).expect("current code");
        assert_eq!(verify(&secret, &code, NOW, Some(step)), None, "replayed");
        let previous = code_at(&secret, NOW - STEP_SECONDS).unwrap();
        assert_eq!(verify(&secret, &previous, NOW, None), Some(step - 1));
        let next = code_at(&secret, NOW + STEP_SECONDS).unwrap();
        assert_eq!(verify(&secret, &next, NOW, Some(step)), Some(step + 1));
        let old = code_at(&secret, NOW - 3 * STEP_SECONDS).unwrap();
        assert_eq!(verify(&secret, &old, NOW, None), None, "two steps late");
        assert_eq!(verify(&secret, "12345", NOW, None), None);
        assert_eq!(verify(&secret, "abcdef", NOW, None), None);
    }

    #[test]
    fn base32_secrets_round_trip() {
        let secret = new_secret().unwrap();
        assert_eq!(decode_secret(&encoded_secret(&secret)), Some(secret));
    }

    #[test]
    fn rfc_6238_test_vector() {
        // RFC 6238 appendix B, SHA-1, T = 59 s: 94287082 (8 digits); its last six digits.
        let secret = b"12345678901234567890";
        assert_eq!(code_at(secret, 59).unwrap(), "287082");
    }

    #[test]
    fn otpauth_uri_names_issuer_and_account() {
        let uri = otpauth_uri(&new_secret().unwrap(), "comanda", "ana@example.co").unwrap();
        assert!(
            uri.starts_with("otpauth://totp/comanda:ana%40example.co?"),
            "{uri}"
        );
        assert!(uri.contains("issuer=comanda"));
    }

    #[test]
    fn recovery_codes_are_distinct_and_normalize() {
        let codes = new_recovery_codes().unwrap();
        assert_eq!(codes.len(), 10);
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), 10);
        assert_eq!(normalize_recovery_code(" ABCD-efgh-2345 "), "abcdefgh2345");
    }
}
