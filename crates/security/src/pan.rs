//! Detection of primary account numbers (card numbers): 13 to 19 digits, optionally grouped by single spaces or
//! dashes, that pass the Luhn check. Used by the log redaction layer and by the edge's PAN guard.

/// A card-like number found in a text: its byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PanMatch {
    pub start: usize,
    pub end: usize,
}

pub fn luhn_valid(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(*d);
        if !i.is_multiple_of(2) {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

fn is_word(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// Every number of 13–19 digits that passes Luhn and stands on its own: written plain (`4242424242424242`) or in
/// groups of 3–6 digits joined by single spaces or dashes (`4242 4242 4242 4242`, `3782-822463-10005`). Digits
/// that belong to a longer token (a UUID's tail, `tok_4242…`, `abc4242…`) and runs longer than 19 digits are not
/// cards and are left alone, so identifiers never trip the guard.
pub fn find_pans(text: &str) -> Vec<PanMatch> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        let mut digits = Vec::with_capacity(19);
        let mut groups = vec![0usize];
        let mut end = i;
        let mut j = i;
        while j < bytes.len() {
            let b = bytes[j];
            if b.is_ascii_digit() {
                digits.push(b - b'0');
                if let Some(current) = groups.last_mut() {
                    *current += 1;
                }
                j += 1;
                end = j;
            } else if (b == b' ' || b == b'-') && j + 1 < bytes.len() && bytes[j + 1].is_ascii_digit() {
                groups.push(0);
                j += 1;
            } else {
                break;
            }
        }
        i = end.max(i + 1);
        let glued_before = start > 0
            && (is_word(bytes[start - 1])
                || (bytes[start - 1] == b'-' && start > 1 && is_word(bytes[start - 2])));
        let glued_after = end < bytes.len()
            && (is_word(bytes[end])
                || (bytes[end] == b'-' && end + 1 < bytes.len() && is_word(bytes[end + 1])));
        let grouped_like_a_card = groups.len() == 1 || groups.iter().all(|g| (3..=6).contains(g));
        if (13..=19).contains(&digits.len())
            && !glued_before
            && !glued_after
            && grouped_like_a_card
            && luhn_valid(&digits)
        {
            found.push(PanMatch { start, end });
        }
    }
    found
}

pub fn contains_pan(text: &str) -> bool {
    !find_pans(text).is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn finds_test_cards_in_any_grouping() {
        for text in [
            "4242424242424242",
            "card 4242 4242 4242 4242 end",
            "x=4242-4242-4242-4242",
            "{\"pan\":\"5555555555554444\"}",
            "amex 378282246310005",
            "{\"n\": 4000056655665556}",
        ] {
            assert!(contains_pan(text), "{text}");
        }
    }

    #[test]
    fn leaves_non_cards_alone() {
        for text in [
            "4242424242424241",                     // fails Luhn
            "123456789012",                         // 12 digits
            "01936b5e-2c4f-7a1b-9c3d-4e5f6a7b8c9d", // uuid
            "12345678901234567890123",              // too long to be a card
            "amount 4500000 COP",
            "+57 300 123 4567",
            "01936b5e-2c4f-7a1b-4242-424242424242", // uuid whose tail is all digits and Luhn-valid
            "tok_4242424242424242",
            "1 2 3 4 5 6 7 8 9 10 11 12 13",
            "2026-11-23T06:44:03.742838Z",
        ] {
            assert!(!contains_pan(text), "{text}");
        }
    }

    proptest! {
        #[test]
        fn every_luhn_valid_16_digit_number_is_found(prefix in proptest::collection::vec(0u8..10, 15)) {
            // Complete the number with its Luhn check digit.
            let check = (0u8..10).find(|c| { let mut d = prefix.clone(); d.push(*c); luhn_valid(&d) }).unwrap();
            let number: String = prefix.iter().chain(std::iter::once(&check)).map(|d| char::from(b'0' + d)).collect();
            let text = format!("paid with {number} today");
            prop_assert!(contains_pan(&text));
        }
    }
}
