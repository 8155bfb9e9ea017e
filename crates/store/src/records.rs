//! What both engines share to name stored values and refuse corrupt ones the same way, whichever engine read them.

use crate::StoreError;

/// A status or kind stored as text: the enum with each variant's stored spelling, `as_str` to write it, `parse` to
/// read it back (`None` for a spelling this build does not know, which the decoders report as corrupt) and `ALL`.
macro_rules! stored_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vmeta])* $variant),*
        }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),*
                }
            }

            pub fn parse(text: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|s| s.as_str() == text)
            }
        }
    };
}

pub(crate) fn corrupt(column: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{column} = {value:?}"))
}

/// A row naming a parent that does not exist (or belongs to another tenant) is a missing parent, not a server fault.
pub(crate) fn foreign_key_to_not_found(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
        _ => error.into(),
    }
}

/// An instant, or an optional one, as bound to a statement. PostgreSQL binds `timestamptz` as it is; SQLite keeps
/// instants as text, and sqlx's own encoding (RFC 3339) drops a fraction's trailing zeros, so that text order was not
/// time order: `05:00:00.3Z` sorted before `05:00:00Z` (a record in a business day's first second fell out of the
/// day's range read) and `05:00:00.5Z` after `05:00:00.55Z` (keyset pages skipped rows). SQLite's kit binds every
/// instant through this as UTC with nine fraction digits (`2026-12-02T05:00:00.300000000Z`, 30 characters), which
/// sorts as time does and which sqlx and SQLite's date functions read back.
pub trait InstantText {
    type Text;
    fn fixed_width(self) -> Self::Text;
}

impl InstantText for time::OffsetDateTime {
    type Text = String;
    fn fixed_width(self) -> String {
        let utc = self.to_offset(time::UtcOffset::UTC);
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
            utc.year(),
            u8::from(utc.month()),
            utc.day(),
            utc.hour(),
            utc.minute(),
            utc.second(),
            utc.nanosecond()
        )
    }
}

impl InstantText for Option<time::OffsetDateTime> {
    type Text = Option<String>;
    fn fixed_width(self) -> Option<String> {
        self.map(InstantText::fixed_width)
    }
}

impl InstantText for &time::OffsetDateTime {
    type Text = String;
    fn fixed_width(self) -> String {
        (*self).fixed_width()
    }
}

impl InstantText for &Option<time::OffsetDateTime> {
    type Text = Option<String>;
    fn fixed_width(self) -> Option<String> {
        (*self).fixed_width()
    }
}

#[cfg(test)]
mod tests {
    use super::InstantText;
    use time::macros::datetime;

    #[test]
    fn fixed_width_text_sorts_as_time_does() {
        let instants = [
            datetime!(2026-12-02 04:59:59.999999999 UTC),
            datetime!(2026-12-02 00:00:00 -5),
            datetime!(2026-12-02 05:00:00.25 UTC),
            datetime!(2026-12-02 05:00:00.3 UTC),
            datetime!(2026-12-02 05:00:00.55 UTC),
            datetime!(2026-12-02 05:00:01 UTC),
        ];
        let texts: Vec<String> = instants.iter().map(|at| at.fixed_width()).collect();
        assert_eq!(texts[1], "2026-12-02T05:00:00.000000000Z");
        assert!(texts.windows(2).all(|pair| pair[0] < pair[1]), "{texts:?}");
        assert!(texts.iter().all(|text| text.len() == 30));
        for (text, at) in texts.iter().zip(instants) {
            let read = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339);
            assert_eq!(read.ok(), Some(at));
        }
    }
}
