use serde::Serialize;

/// One refused field, named by its JSON path (`owner.email`, `items[2].quantity`) so a client can point at it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Every field a client got wrong, collected in one pass so the client can fix them all at once.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
#[error("{} invalid field(s): {}", .0.len(), summary(.0))]
pub struct ValidationErrors(pub Vec<FieldError>);

fn summary(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl ValidationErrors {
    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = Self::default();
        errors.push(field, message);
        errors
    }

    /// `Ok(value)` when nothing was refused, so constructors can end with `errors.into_result(value)`.
    pub fn into_result<T>(self, value: T) -> Result<T, Self> {
        if self.0.is_empty() { Ok(value) } else { Err(self) }
    }
}

/// What the OpenAPI document says of a text [`clean_text`] takes: no control character but `\n` (Unicode `Cc`:
/// U+0000–U+001F, U+007F–U+009F) and no bidirectional embedding, override or isolate (U+202A–U+202E,
/// U+2066–U+2069), which reorder what staff read on screen — a guest's name or note shown in a list (the "Trojan
/// Source" trick, CVE-2021-42574). Schemas spell it as a literal (`#[schema(pattern = …)]` takes no constant).
pub const TEXT_PATTERN: &str = r"^[^\x00-\x09\x0B-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069]*$";
/// As [`TEXT_PATTERN`], for a text that must not be blank: at least one character that is neither a control
/// character, nor Unicode `White_Space` (what `str::trim` removes), nor an invisible format character (zero-width
/// space, joiners, word joiner, byte-order mark): a name of only those looks blank.
pub const NON_BLANK_PATTERN: &str = r"^[^\x00-\x09\x0B-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069]*[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200D\u2028-\u202F\u205F-\u2069\u3000\uFEFF][^\x00-\x09\x0B-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069]*$";

/// The years a date or instant from a request may fall in. Storage writes instants as RFC 3339, whose years have
/// four digits, and a local day's bounds step a day either way: a year 0 (which `time` parses) must be refused, not
/// reach the database and fail there.
pub const YEARS: std::ops::RangeInclusive<i32> = 1900..=9998;

/// Why a date or instant from a request is not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateRefusal {
    /// Not a date (or instant) at all: bad input, 400.
    Malformed,
    /// A well-formed date outside [`YEARS`]: a rule refuses it, 422 (RFC 3339 allows years 0000 to 9999).
    OutOfRange,
}

/// Whether `phone` is E.164 as stored: `+`, then 7 to 15 digits, the first not 0.
pub fn is_e164(phone: &str) -> bool {
    let digits = phone.strip_prefix('+').unwrap_or("");
    (7..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) && !digits.starts_with('0')
}

/// A phone number as people write it (`+1 415 555 0134`, `+57 (300) 123-4567`) in E.164 (`+14155550134`): after
/// the leading `+`, spaces, dashes, dots and parentheses dropped. `None` when what is left is not E.164 (ITU-T
/// E.164: a country code and a number of at most 15 digits in all).
pub fn e164_phone(written: &str) -> Option<String> {
    let digits: String = written
        .strip_prefix('+')?
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let phone = format!("+{digits}");
    is_e164(&phone).then_some(phone)
}

/// A calendar date `YYYY-MM-DD` within [`YEARS`].
pub fn calendar_date(raw: &str) -> Result<time::Date, DateRefusal> {
    let date = time::Date::parse(raw, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| DateRefusal::Malformed)?;
    YEARS
        .contains(&date.year())
        .then_some(date)
        .ok_or(DateRefusal::OutOfRange)
}

/// An RFC 3339 instant within [`YEARS`], in UTC.
pub fn instant(raw: &str) -> Result<time::OffsetDateTime, DateRefusal> {
    let at = time::OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339)
        .map_err(|_| DateRefusal::Malformed)?
        .to_offset(time::UtcOffset::UTC);
    YEARS
        .contains(&at.year())
        .then_some(at)
        .ok_or(DateRefusal::OutOfRange)
}

/// Trims a human-entered name and checks its length in characters (not bytes), refusing control characters (but
/// `\n`) anywhere in what was sent, as the documents' text patterns say ([`TEXT_PATTERN`], [`NON_BLANK_PATTERN`]).
pub fn clean_text(
    errors: &mut ValidationErrors,
    field: &str,
    raw: &str,
    min_chars: usize,
    max_chars: usize,
) -> String {
    let trimmed = raw.trim();
    let chars = trimmed.chars().count();
    if min_chars > 0 && chars > 0 && trimmed.chars().all(invisible) {
        errors.push(field, "must not be blank");
    } else if chars < min_chars {
        errors.push(
            field,
            if min_chars == 1 {
                "must not be empty".into()
            } else {
                format!("must have at least {min_chars} characters")
            },
        );
    } else if chars > max_chars {
        errors.push(field, format!("must have at most {max_chars} characters"));
    } else if raw.chars().any(refused_in_text) {
        errors.push(field, "must not contain control or text-direction characters");
    }
    trimmed.to_owned()
}

/// A character no text takes ([`TEXT_PATTERN`]): a control character but `\n`, or a bidirectional embedding,
/// override or isolate.
pub fn refused_in_text(c: char) -> bool {
    (c.is_control() && c != '\n') || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A character that shows nothing and is not `White_Space` ([`NON_BLANK_PATTERN`]): zero-width space and joiners,
/// word joiner and invisible operators, the byte-order mark, and the bidirectional marks.
fn invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}' | '\u{202A}'..='\u{202E}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_taken_as_people_write_them_and_kept_in_e164() {
        assert_eq!(e164_phone("+57 (300) 123-4567").as_deref(), Some("+573001234567"));
        assert_eq!(e164_phone("+1 415.555.0134").as_deref(), Some("+14155550134"));
        for wrong in [
            "300 123 4567",
            "+0573001234567",
            "+57 300 abc",
            "+123456",
            "+1234567890123456",
            " +573001234567",
        ] {
            assert_eq!(e164_phone(wrong), None, "{wrong}");
        }
    }

    #[test]
    fn text_is_trimmed_and_measured_in_characters() {
        let mut errors = ValidationErrors::default();
        assert_eq!(
            clean_text(&mut errors, "name", "  Café Ñandú  ", 1, 10),
            "Café Ñandú"
        );
        assert!(errors.0.is_empty());
        clean_text(&mut errors, "name", "   ", 1, 10);
        clean_text(&mut errors, "other", "a\u{7}b", 1, 10);
        // Blank-looking (zero-width only) and reordering (a right-to-left override) are refused; a zero-width
        // joiner inside a real name (an emoji sequence) is not.
        clean_text(&mut errors, "blank", "\u{200B}\u{FEFF}", 1, 10);
        clean_text(&mut errors, "spoof", "Ana\u{202E}odlaS", 1, 20);
        assert_eq!(
            clean_text(&mut errors, "ok", "👩\u{200D}🍳 Ana", 1, 20),
            "👩\u{200D}🍳 Ana"
        );
        assert_eq!(
            errors.0.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(),
            ["name", "other", "blank", "spoof"]
        );
    }
}

#[cfg(test)]
mod dates {
    use super::*;

    #[test]
    fn dates_and_instants_outside_the_stored_years_are_refused() {
        assert!(calendar_date("2026-12-04").is_ok());
        for far in ["0000-01-01", "0947-04-27", "9999-12-31", "1899-12-31"] {
            assert_eq!(calendar_date(far), Err(DateRefusal::OutOfRange), "{far}");
        }
        for bad in ["2026-02-30", "2026-1-1", "mañana"] {
            assert_eq!(calendar_date(bad), Err(DateRefusal::Malformed), "{bad}");
        }
        assert_eq!(
            instant("2026-12-05T00:30:00-05:00").map(|at| at.offset()),
            Ok(time::UtcOffset::UTC)
        );
        assert_eq!(instant("0000-01-01T00:00:00Z"), Err(DateRefusal::OutOfRange));
        assert_eq!(instant("9999-12-31T23:59:59Z"), Err(DateRefusal::OutOfRange));
        assert_eq!(instant("2026-12-05 00:30"), Err(DateRefusal::Malformed));
    }
}
