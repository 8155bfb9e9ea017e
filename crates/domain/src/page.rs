use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use crate::ValidationErrors;

pub const MAX_PAGE_SIZE: u16 = 200;
pub const DEFAULT_PAGE_SIZE: u16 = 50;

/// An opaque position in a list: the last identifier a client has seen. Clients must not build it themselves,
/// so it is encoded and its shape checked on the way back in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor(Uuid);

impl Cursor {
    pub fn after(last_id: Uuid) -> Self {
        Self(last_id)
    }
    pub fn last_id(&self) -> Uuid {
        self.0
    }
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0.as_bytes())
    }
    pub fn decode(text: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        Uuid::from_slice(&bytes).ok().map(Self)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub after: Option<Cursor>,
    pub limit: u16,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            after: None,
            limit: DEFAULT_PAGE_SIZE,
        }
    }
}

impl PageRequest {
    /// Validates the `cursor` and `limit` query parameters of every list route.
    pub fn parse(cursor: Option<&str>, limit: Option<u32>) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let after = match cursor {
            None | Some("") => None,
            Some(text) => {
                let decoded = Cursor::decode(text);
                if decoded.is_none() {
                    errors.push("cursor", "is not a cursor this server issued");
                }
                decoded
            }
        };
        let limit = match limit {
            None => DEFAULT_PAGE_SIZE,
            Some(n) if (1..=u32::from(MAX_PAGE_SIZE)).contains(&n) => n as u16,
            Some(_) => {
                errors.push("limit", format!("must be between 1 and {MAX_PAGE_SIZE}"));
                DEFAULT_PAGE_SIZE
            }
        };
        errors.into_result(Self { after, limit })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` fetched rows: the extra row only proves that there is a next page.
    pub fn from_overfetch(mut rows: Vec<T>, limit: u16, id_of: impl Fn(&T) -> Uuid) -> Self {
        let has_more = rows.len() > usize::from(limit);
        rows.truncate(usize::from(limit));
        let next = if has_more {
            rows.last().map(|row| Cursor::after(id_of(row)))
        } else {
            None
        };
        Self { items: rows, next }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn limits_outside_range_and_forged_cursors_are_refused() {
        assert!(PageRequest::parse(None, Some(0)).is_err());
        assert!(PageRequest::parse(None, Some(201)).is_err());
        assert!(PageRequest::parse(Some("!!"), None).is_err());
        assert_eq!(PageRequest::parse(None, None).unwrap().limit, DEFAULT_PAGE_SIZE);
    }

    #[test]
    fn overfetch_reveals_next_page() {
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        let page = Page::from_overfetch(ids.clone(), 2, |id| *id);
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.next, Some(Cursor::after(ids[1])));
        assert_eq!(Page::from_overfetch(ids, 3, |id| *id).next, None);
    }

    proptest! {
        #[test]
        fn cursors_round_trip(bytes in any::<[u8; 16]>()) {
            let cursor = Cursor::after(Uuid::from_bytes(bytes));
            prop_assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        }
    }
}
