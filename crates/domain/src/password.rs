//! Password rules after NIST SP 800-63B-4: length only (counted in Unicode code points), no composition rules,
//! and refusal of common, breached, repetitive or context-derived passwords.

use std::collections::HashSet;
use std::sync::OnceLock;

use crate::ValidationErrors;

/// 30,000 most common passwords (the zxcvbn project's list, MIT), one per line.
const COMMON_PASSWORDS: &str = include_str!("../data/common-passwords.txt");

/// Minimum length for accounts that have, or must have, a second factor (PCI DSS 8.3.6 allows 12 there).
pub const MIN_WITH_SECOND_FACTOR: usize = 12;
/// Minimum length for accounts protected by the password alone (NIST SP 800-63B-4).
pub const MIN_WITHOUT_SECOND_FACTOR: usize = 15;
pub const MAX_LENGTH: usize = 128;

fn common() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON_PASSWORDS
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect()
    })
}

/// Checks a new password. `context` holds words an attacker would try first for this account (email, name,
/// business name); `second_factor` is whether the account has or must enrol a second factor.
pub fn check_new_password(
    password: &str,
    second_factor: bool,
    context: &[&str],
) -> Result<(), ValidationErrors> {
    let field = "password";
    let length = password.chars().count();
    let min = if second_factor {
        MIN_WITH_SECOND_FACTOR
    } else {
        MIN_WITHOUT_SECOND_FACTOR
    };
    if length < min {
        return Err(ValidationErrors::single(
            field,
            format!("must have at least {min} characters"),
        ));
    }
    if length > MAX_LENGTH {
        return Err(ValidationErrors::single(
            field,
            format!("must have at most {MAX_LENGTH} characters"),
        ));
    }
    let lower = password.to_lowercase();
    if is_common(&lower) {
        return Err(ValidationErrors::single(
            field,
            "is too common: it appears in lists of breached passwords",
        ));
    }
    if is_repetitive_or_sequential(&lower) {
        return Err(ValidationErrors::single(
            field,
            "is a repeated or sequential pattern; choose a passphrase",
        ));
    }
    for word in context {
        let word = word.trim().to_lowercase();
        let local_part = word.split('@').next().unwrap_or("");
        if local_part.chars().count() >= 4 && lower.contains(local_part) {
            return Err(ValidationErrors::single(
                field,
                "must not contain your name, email or business name",
            ));
        }
    }
    Ok(())
}

/// Listed as is, or a listed password padded with digits or symbols, or repeated (`passwordpassword`).
fn is_common(lower: &str) -> bool {
    let set = common();
    if set.contains(lower) {
        return true;
    }
    let core = lower.trim_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation() || c == ' ');
    if core.chars().count() >= 4 && set.contains(core) {
        return true;
    }
    // A listed password typed twice or more.
    (1..=lower.len() / 2).any(|unit| {
        lower.len().is_multiple_of(unit)
            && lower.is_char_boundary(unit)
            && set.contains(&lower[..unit])
            && lower
                .as_bytes()
                .chunks(unit)
                .all(|c| c == &lower.as_bytes()[..unit])
    })
}

/// One short unit repeated (`abcabcabcabc`) or a run that only steps up or down (`123456789012345`, `zyxw…`).
fn is_repetitive_or_sequential(lower: &str) -> bool {
    let chars: Vec<char> = lower.chars().collect();
    let repeated = (1..=4).any(|unit| {
        chars.len() >= unit * 3
            && chars
                .chunks(unit)
                .all(|c| c == &chars[..c.len().min(unit)][..c.len()])
    });
    let steps: Vec<i64> = chars
        .windows(2)
        .map(|w| i64::from(u32::from(w[1])) - i64::from(u32::from(w[0])))
        .collect();
    let sequential = !steps.is_empty()
        && steps.iter().all(|s| matches!(s, 1 | -1 | -9 | 9))
        && (steps.iter().all(|s| *s == 1 || *s == -9) || steps.iter().all(|s| *s == -1 || *s == 9));
    repeated || sequential || is_keyboard_walk(lower)
}

/// A stretch of a keyboard's rows or columns typed in order (`qwertyuiopasdfgh`, `1qaz2wsx3edc…`).
fn is_keyboard_walk(lower: &str) -> bool {
    const WALKS: [&str; 5] = [
        "qwertyuiopasdfghjklzxcvbnm",
        "azertyuiopqsdfghjklmwxcvbn",
        "qwertzuiopasdfghjklyxcvbnm",
        "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
        "1q2w3e4r5t6y7u8i9o0p",
    ];
    let compact: String = lower.chars().filter(|c| !c.is_whitespace()).collect();
    let reversed: String = compact.chars().rev().collect();
    compact.chars().count() >= 6
        && WALKS
            .iter()
            .any(|walk| walk.contains(&compact) || walk.contains(&reversed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ten_characters_are_too_few() {
        let error = check_new_password("Xq7!mP2#kZ", true, &[]).unwrap_err();
        assert_eq!(error.0[0].field, "password");
        assert!(error.0[0].message.contains("at least 12"));
    }

    #[test]
    fn without_a_second_factor_fifteen_are_needed() {
        assert!(check_new_password("violet kettle 42", false, &[]).is_ok());
        assert!(check_new_password("violetkettle", false, &[]).is_err());
        assert!(check_new_password("violetkettle", true, &[]).is_ok());
    }

    #[test]
    fn common_and_breached_passwords_are_refused() {
        for password in [
            "password123456",
            "1q2w3e4r5t6y",
            "passwordpassword",
            "qwertyuiopasdfgh",
            "!!football2024!!",
        ] {
            let result = check_new_password(password, true, &[]);
            assert!(result.is_err(), "{password} accepted");
        }
    }

    #[test]
    fn patterns_and_context_are_refused() {
        assert!(check_new_password("aaaaaaaaaaaaaaa", false, &[]).is_err());
        assert!(check_new_password("abcabcabcabcabc", false, &[]).is_err());
        assert!(check_new_password("123456789012345", false, &[]).is_err());
        assert!(check_new_password("mariana.lopez-rocks!", false, &["mariana.lopez@example.co"]).is_err());
    }

    #[test]
    fn length_counts_code_points_and_has_a_ceiling() {
        // Twelve code points, many more bytes.
        assert!(check_new_password("ñandú café 😀", true, &[]).is_ok());
        assert!(check_new_password(&"ß".repeat(11), true, &[]).is_err());
        assert!(check_new_password(&"correct horse ".repeat(10), true, &[]).is_err());
    }

    /// "Up to 128" (AUTH-3) at its exact edge: 128 code points, here 148 bytes (accents, emoji), are accepted, one
    /// more is refused with the bound named.
    #[test]
    fn exactly_128_code_points_are_accepted_and_129_refused() {
        let words = [
            "ñandú",
            "café",
            "😀",
            "montaña",
            "bogotá",
            "lluvia",
            "árbol",
            "jícara",
            "pandebono",
            "arepa",
        ];
        let phrase: String = words.iter().cycle().take(40).map(|w| format!("{w} ")).collect();
        let at_most = |n: usize| phrase.chars().take(n).collect::<String>();
        assert_eq!(
            at_most(128).len(),
            148,
            "multi-byte on purpose: the bound counts code points"
        );
        assert!(check_new_password(&at_most(128), true, &[]).is_ok());
        assert!(check_new_password(&at_most(128), false, &[]).is_ok());
        let refused = check_new_password(&at_most(129), true, &[]).unwrap_err();
        assert!(format!("{refused:?}").contains("at most 128"), "{refused:?}");
    }

    #[test]
    fn no_composition_rules() {
        assert!(check_new_password("all lowercase words here", false, &[]).is_ok());
    }

    proptest! {
        #[test]
        fn long_random_passphrases_pass(words in proptest::collection::vec("[a-zñ]{5,9}", 4..6)) {
            let passphrase = words.join(" ");
            prop_assume!(passphrase.chars().count() <= MAX_LENGTH);
            prop_assert!(check_new_password(&passphrase, false, &[]).is_ok(), "{}", passphrase);
        }
    }
}
