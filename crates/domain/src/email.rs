//! Email addresses as login names: validated loosely (deliverability is proven by the invitation or a later
//! verification mail, not by a regex) and normalised so that case and surrounding spaces never make two accounts.

use crate::ValidationErrors;

/// Trimmed, lower-cased, and shaped like `local@domain.tld`.
pub fn normalize_email(field: &str, raw: &str) -> Result<String, ValidationErrors> {
    let email = raw.trim().to_lowercase();
    let invalid = || ValidationErrors::single(field, "must be an email address such as ana@example.co");
    if email.chars().count() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !domain.contains('@');
    if local.is_empty() || local.chars().count() > 64 || !domain_ok {
        return Err(invalid());
    }
    Ok(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            normalize_email("email", "  Ana.Lopez@Example.CO ").unwrap(),
            "ana.lopez@example.co"
        );
        for bad in [
            "",
            "ana",
            "ana@",
            "@example.co",
            "ana@example",
            "ana@@example.co",
            "a na@example.co",
            "ana@.co",
        ] {
            assert!(normalize_email("email", bad).is_err(), "{bad}");
        }
    }
}
