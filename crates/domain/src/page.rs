use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::ValidationErrors;

pub const MAX_PAGE_SIZE: u16 = 200;
pub const DEFAULT_PAGE_SIZE: u16 = 50;

/// An opaque position in a list: the last row a client has seen. Clients must not build it themselves, so it is
/// encoded and its shape checked on the way back in.
///
/// Lists in creation order of a UUIDv7 key carry only the last identifier. Lists ordered by a time and then the
/// identifier (orders by `placed_at`, sessions by `created_at`, …) carry both, so the next page starts strictly after
/// the pair `(at, id)` — keyset pagination, never an offset, so rows added meanwhile neither repeat nor go missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    id: Uuid,
    at: Option<OffsetDateTime>,
}

/// 16 bytes of identifier, then (timed cursors) 16 bytes of Unix nanoseconds, big-endian.
const ID_LEN: usize = 16;
const TIMED_LEN: usize = ID_LEN + 16;
/// A timed cursor's instant is from the Unix epoch to 2^67 ns after it (the year 6646): its 128-bit big-endian
/// nanoseconds start with 61 zero bits, which is what [`TIMED_CURSOR_PATTERN`] spells in base64url. (Every row is
/// dated after 1970; an earlier instant is no position in any list, and the databases store no year before 1.)
const TIMED_BITS: u32 = 67;

/// The `pattern` the OpenAPI document declares for the `cursor` of a list ordered by a time and then the identifier:
/// empty (the first page) or exactly the strings [`Cursor::decode`] reads as a timed cursor — 43 characters of
/// unpadded base64url (32 bytes: the identifier, then nanoseconds whose top 61 bits are 0; the last
/// character carries no stray bits). A client that sends such a string gets a page; anything else is a 400.
pub const TIMED_CURSOR_PATTERN: &str =
    "^([A-Za-z0-9_-]{21}[AQgw]A{9}[A-H][A-Za-z0-9_-]{10}[AEIMQUYcgkosw048])?$";
/// The `pattern` for the `cursor` of a list in identifier order: empty, an identifier cursor (22 characters: 16
/// bytes, the last character carrying no stray bits) or a timed one (its identifier is used).
pub const CURSOR_PATTERN: &str =
    "^([A-Za-z0-9_-]{21}[AQgw]|[A-Za-z0-9_-]{21}[AQgw]A{9}[A-H][A-Za-z0-9_-]{10}[AEIMQUYcgkosw048])?$";

impl Cursor {
    pub fn after(last_id: Uuid) -> Self {
        Self {
            id: last_id,
            at: None,
        }
    }
    /// After the row `(at, last_id)` of a list ordered by a time and then the identifier.
    pub fn after_timed(at: OffsetDateTime, last_id: Uuid) -> Self {
        Self {
            id: last_id,
            at: Some(at.to_offset(time::UtcOffset::UTC)),
        }
    }
    pub fn last_id(&self) -> Uuid {
        self.id
    }
    /// The time of the last row, for cursors of time-ordered lists.
    pub fn last_at(&self) -> Option<OffsetDateTime> {
        self.at
    }
    /// The `(at, id)` pair of a timed cursor.
    pub fn timed(&self) -> Option<(OffsetDateTime, Uuid)> {
        self.at.map(|at| (at, self.id))
    }
    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(TIMED_LEN);
        bytes.extend_from_slice(self.id.as_bytes());
        if let Some(at) = self.at {
            bytes.extend_from_slice(&at.unix_timestamp_nanos().to_be_bytes());
        }
        URL_SAFE_NO_PAD.encode(bytes)
    }
    pub fn decode(text: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        let id = Uuid::from_slice(bytes.get(..ID_LEN)?).ok()?;
        match bytes.len() {
            ID_LEN => Some(Self::after(id)),
            TIMED_LEN => {
                let nanos = i128::from_be_bytes(bytes[ID_LEN..].try_into().ok()?);
                if nanos >> TIMED_BITS != 0 {
                    return None;
                }
                let at = OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()?;
                Some(Self::after_timed(at, id))
            }
            _ => None,
        }
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

    /// As [`PageRequest::parse`], for a list ordered by a time and then the identifier: its cursors carry both, and a
    /// cursor of another list (the identifier alone) is refused rather than read from the wrong place.
    pub fn parse_timed(cursor: Option<&str>, limit: Option<u32>) -> Result<Self, ValidationErrors> {
        let page = Self::parse(cursor, limit)?;
        match page.after {
            Some(c) if c.timed().is_none() => Err(ValidationErrors::single(
                "cursor",
                "is not a cursor this server issued for this list",
            )),
            _ => Ok(page),
        }
    }

    /// The `(at, id)` the next page starts after, for a time-ordered list ([`PageRequest::parse_timed`]).
    pub fn after_timed(&self) -> Option<(OffsetDateTime, Uuid)> {
        self.after.and_then(|c| c.timed())
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

    /// As [`Page::from_overfetch`] for a list ordered by a time and then the identifier: the cursor carries both.
    pub fn from_overfetch_timed(
        mut rows: Vec<T>,
        limit: u16,
        key_of: impl Fn(&T) -> (OffsetDateTime, Uuid),
    ) -> Self {
        let has_more = rows.len() > usize::from(limit);
        rows.truncate(usize::from(limit));
        let next = if has_more {
            rows.last().map(|row| {
                let (at, id) = key_of(row);
                Cursor::after_timed(at, id)
            })
        } else {
            None
        };
        Self { items: rows, next }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }
}

/// Reads a whole list page by page, for the callers that need every row (a bill, an evidence file, a report):
/// they follow the cursors to the end instead of trusting one page to hold everything.
pub async fn collect_all<T, E, F, Fut>(mut fetch: F) -> Result<Vec<T>, E>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>, E>>,
{
    let mut all = Vec::new();
    let mut request = PageRequest {
        after: None,
        limit: MAX_PAGE_SIZE,
    };
    loop {
        let page = fetch(request).await?;
        all.extend(page.items);
        match page.next {
            Some(next) => request.after = Some(next),
            None => return Ok(all),
        }
    }
}

/// One page of a list narrowed by `keep` (a member of some venues sees the colleagues and venues they share): pages
/// of the whole list are read from `request` on until one row more than a page is kept or the list ends, so a
/// narrowed page is never empty while its cursor leads on, and its cursor never leads to an empty page.
pub async fn narrowed<T, E, F, Fut>(
    request: PageRequest,
    keep: impl Fn(&T) -> bool,
    id_of: impl Fn(&T) -> Uuid,
    mut fetch: F,
) -> Result<Page<T>, E>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>, E>>,
{
    let mut kept = Vec::new();
    let mut reading = Some(request);
    while let Some(current) = reading {
        let page = fetch(current).await?;
        kept.extend(page.items.into_iter().filter(|row| keep(row)));
        reading = page
            .next
            .filter(|_| kept.len() <= usize::from(request.limit))
            .map(|after| PageRequest {
                after: Some(after),
                limit: request.limit,
            });
    }
    Ok(Page::from_overfetch(kept, request.limit, id_of))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Runs a future whose every await is ready at once (the fetches below answer from memory).
    fn ready<T>(future: impl std::future::Future<Output = T>) -> T {
        let mut future = std::pin::pin!(future);
        match future
            .as_mut()
            .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
        {
            std::task::Poll::Ready(value) => value,
            std::task::Poll::Pending => panic!("a fetch from memory is never pending"),
        }
    }

    proptest! {
        /// Walking a narrowed list page by page gives exactly the kept rows in order, every page holds rows while a
        /// cursor follows it, and no page is over its limit.
        #[test]
        fn a_narrowed_list_walks_every_kept_row_without_empty_pages(
            kept_flags in proptest::collection::vec(any::<bool>(), 0..40),
            store_limit in 1u16..6,
            limit in 1u16..6,
        ) {
            let rows: Vec<(Uuid, bool)> = kept_flags.iter().map(|k| (Uuid::now_v7(), *k)).collect();
            let fetch = |request: PageRequest| {
                let after = request.after.map(|c| c.last_id());
                let page: Vec<(Uuid, bool)> = rows
                    .iter()
                    .filter(|(id, _)| after.is_none_or(|after| *id > after))
                    .take(usize::from(store_limit) + 1)
                    .copied()
                    .collect();
                std::future::ready(Ok::<_, ()>(Page::from_overfetch(page, store_limit, |r| r.0)))
            };
            let mut walked = Vec::new();
            let mut request = PageRequest { after: None, limit };
            loop {
                let page = ready(narrowed(request, |r: &(Uuid, bool)| r.1, |r| r.0, fetch)).unwrap();
                prop_assert!(page.items.len() <= usize::from(limit));
                // Empty only as the first page of a list that keeps nothing: a cursor never leads to an empty page.
                prop_assert!(!page.items.is_empty() || request.after.is_none(), "a cursor led to an empty page");
                walked.extend(page.items.iter().map(|r| r.0));
                match page.next {
                    Some(next) => request.after = Some(next),
                    None => break,
                }
            }
            let expected: Vec<Uuid> = rows.iter().filter(|r| r.1).map(|r| r.0).collect();
            prop_assert_eq!(walked, expected);
        }
    }

    #[test]
    fn limits_outside_range_and_forged_cursors_are_refused() {
        assert!(PageRequest::parse(None, Some(0)).is_err());
        assert!(PageRequest::parse(None, Some(201)).is_err());
        assert!(PageRequest::parse(Some("!!"), None).is_err());
        assert_eq!(PageRequest::parse(None, None).unwrap().limit, DEFAULT_PAGE_SIZE);
    }

    /// The document's cursor patterns describe exactly what `decode` reads: every issued cursor matches, a
    /// string of the pattern's shape decodes (its instant within 2^67 ns after the epoch), and none outside does.
    #[test]
    fn cursor_patterns_spell_what_decode_reads() {
        let id = Uuid::now_v7();
        let plain = Cursor::after(id).encode();
        assert_eq!(plain.len(), 22);
        assert!(b"AQgw".contains(&plain.as_bytes()[21]));
        for nanos in [0, 1_790_000_000_123_456_789, (1 << 67) - 1] {
            let at = OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap();
            let timed = Cursor::after_timed(at, id).encode();
            assert_eq!(
                Cursor::decode(&timed),
                Some(Cursor::after_timed(at, id)),
                "{nanos}"
            );
            let b = timed.as_bytes();
            assert!(b"AQgw".contains(&b[21]), "{timed}");
            assert!(b[22..31].iter().all(|c| *c == b'A'), "{timed}");
            assert!((b'A'..=b'H').contains(&b[31]), "{timed}");
            assert!(b"AEIMQUYcgkosw048".contains(&b[42]), "{timed}");
        }
        for nanos in [1i128 << 67, -1] {
            let mut bytes = id.as_bytes().to_vec();
            bytes.extend_from_slice(&nanos.to_be_bytes());
            assert_eq!(Cursor::decode(&URL_SAFE_NO_PAD.encode(bytes)), None, "{nanos}");
        }
        assert_eq!(Cursor::decode(&format!("{}B", &plain[..21])), None, "stray bits");
    }

    #[test]
    fn overfetch_reveals_next_page() {
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        let page = Page::from_overfetch(ids.clone(), 2, |id| *id);
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.next, Some(Cursor::after(ids[1])));
        assert_eq!(Page::from_overfetch(ids, 3, |id| *id).next, None);
    }

    #[test]
    fn timed_lists_refuse_cursors_without_a_time() {
        let plain = Cursor::after(Uuid::now_v7()).encode();
        assert!(PageRequest::parse(Some(&plain), None).is_ok());
        assert!(PageRequest::parse_timed(Some(&plain), None).is_err());
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_790_000_000_123_456_789).unwrap();
        let id = Uuid::now_v7();
        let timed = Cursor::after_timed(at, id).encode();
        let page = PageRequest::parse_timed(Some(&timed), Some(200)).unwrap();
        assert_eq!(page.after_timed(), Some((at, id)));
        assert!(PageRequest::parse_timed(Some(&timed), Some(201)).is_err());
        assert!(Cursor::decode(&URL_SAFE_NO_PAD.encode([0u8; 20])).is_none());
    }

    #[test]
    fn timed_overfetch_carries_the_last_rows_time_and_id() {
        let at = OffsetDateTime::UNIX_EPOCH;
        let rows: Vec<(OffsetDateTime, Uuid)> = (0..3).map(|_| (at, Uuid::now_v7())).collect();
        let page = Page::from_overfetch_timed(rows.clone(), 2, |r| *r);
        assert_eq!(page.next, Some(Cursor::after_timed(at, rows[1].1)));
        assert_eq!(Page::from_overfetch_timed(rows, 3, |r| *r).next, None);
    }

    proptest! {
        #[test]
        fn cursors_round_trip(bytes in any::<[u8; 16]>()) {
            let cursor = Cursor::after(Uuid::from_bytes(bytes));
            prop_assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        }

        #[test]
        fn timed_cursors_round_trip(bytes in any::<[u8; 16]>(), nanos in 0i128..(1i128 << 67)) {
            let at = OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap();
            let cursor = Cursor::after_timed(at, Uuid::from_bytes(bytes));
            prop_assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        }
    }
}
