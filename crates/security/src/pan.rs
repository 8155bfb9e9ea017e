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

/// Every run of digits (joined by at most one space or dash between digits) whose digit count is 13–19 and which
/// passes Luhn. Runs longer than 19 digits are not cards (identifiers, hashes) and are left alone.
pub fn find_pans(text: &str) -> Vec<PanMatch> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() || (i > 0 && bytes[i - 1].is_ascii_alphanumeric()) {
            i += 1;
            continue;
        }
        let start = i;
        let mut digits = Vec::with_capacity(19);
        let mut end = i;
        let mut j = i;
        while j < bytes.len() {
            let b = bytes[j];
            if b.is_ascii_digit() {
                digits.push(b - b'0');
                j += 1;
                end = j;
            } else if (b == b' ' || b == b'-') && j + 1 < bytes.len() && bytes[j + 1].is_ascii_digit() {
                j += 1;
            } else {
                break;
            }
        }
        let glued_to_word = end < bytes.len() && bytes[end].is_ascii_alphabetic();
        if (13..=19).contains(&digits.len()) && !glued_to_word && luhn_valid(&digits) {
            found.push(PanMatch { start, end });
        }
        i = end.max(i + 1);
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
