//! Request extractors whose every rejection is a problem document naming what was wrong.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::{self, DeserializeOwned, Visitor};

use crate::problem::{Problem, ProblemType};

/// A JSON body: `application/json`, any `application/*+json`, or a browser's `application/csp-report`.
/// Wrong media type → 415, over the body limit → 413, bad syntax or shape → 400 with the offending field's path.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

pub fn is_json_media_type(content_type: &str) -> bool {
    let mut parts = content_type.split(';');
    let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    // JSON is UTF-8 (RFC 8259 §8.1; API.md): a body declared in another charset is not one we read.
    let utf8 = parts.all(|parameter| match parameter.split_once('=') {
        Some((name, value)) if name.trim().eq_ignore_ascii_case("charset") => {
            value.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
        }
        _ => true,
    });
    utf8 && (essence == "application/json"
        || essence == "application/csp-report"
        || (essence.starts_with("application/") && essence.ends_with("+json")))
}

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        json_media_type(&request)?;
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(body_rejection)?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// A JSON body that may be left out, for a route whose every field is optional: no body at all (or `null`) reads
/// as `T::default()`, so a client that sent nothing before the route had a body keeps working; a body that is there is
/// read as [`ApiJson`] reads it.
#[derive(Debug, Clone)]
pub struct OptionalApiJson<T>(pub T);

impl<S, T> FromRequest<S> for OptionalApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let media_type = json_media_type(&request);
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(body_rejection)?;
        if bytes.is_empty() {
            return Ok(Self(T::default()));
        }
        media_type?;
        // `null` reads as no body too: the OpenAPI document describes the body as the type or null.
        parse_json::<Option<T>>(&bytes).map(|body| OptionalApiJson(body.unwrap_or_default()))
    }
}

/// The body of a route that takes none: nothing, `null` or `{}` (what clients send by habit), whatever its media
/// type (the route declares no body, so it answers no 415). Anything else is refused with the field it named (400),
/// never silently ignored.
#[derive(Debug, Clone, Copy)]
pub struct NoBody;

/// An object with no fields: every field sent is unknown.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NoFields {}

impl<S> FromRequest<S> for NoBody
where
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(body_rejection)?;
        if bytes.is_empty() {
            return Ok(NoBody);
        }
        parse_json::<Option<NoFields>>(&bytes).map(|_| NoBody)
    }
}

/// 415 unless the request says its body is JSON.
fn json_media_type(request: &Request) -> Result<(), Problem> {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if is_json_media_type(content_type) {
        return Ok(());
    }
    Err(
        Problem::new(ProblemType::UnsupportedMediaType).detail(if content_type.is_empty() {
            "send the body as application/json".to_owned()
        } else {
            format!("`{content_type}` is not accepted here; send application/json")
        }),
    )
}

fn body_rejection(rejection: BytesRejection) -> Problem {
    if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        Problem::new(ProblemType::PayloadTooLarge).detail("the request body exceeds this server's limit")
    } else {
        Problem::new(ProblemType::MalformedJson).detail("the request body could not be read")
    }
}

/// Deserialises JSON, reporting the path of the field where it failed (`owner.email`, `items[2].quantity`).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Problem::new(ProblemType::MalformedJson).detail("the request body is empty"));
    }
    // Syntax first (with the position of the fault, and no key twice in an object), then the shape, through
    // [`Strict`].
    let mut reader = serde_json::Deserializer::from_slice(bytes);
    let Unique(value) = serde_path_to_error::deserialize(&mut reader).map_err(problem_at)?;
    reader
        .end()
        .map_err(|error| Problem::new(ProblemType::MalformedJson).field("$", error.to_string()))?;
    serde_path_to_error::deserialize(Strict(value)).map_err(problem_at)
}

/// The problem for a body that failed at `error`'s path, naming the field.
fn problem_at(error: serde_path_to_error::Error<serde_json::Error>) -> Problem {
    let path = error.path().to_string();
    let field = if path == "." || path.is_empty() {
        "$".to_owned()
    } else {
        path
    };
    let inner = error.into_inner();
    let kind = match inner.classify() {
        serde_json::error::Category::Data => ProblemType::Validation,
        _ => ProblemType::MalformedJson,
    };
    let message = inner.to_string();
    // A field the body type does not have (a misspelling, or one this version does not know; `deny_unknown_fields`),
    // a required one that is missing, or a key written twice: serde reports these at the object around the field,
    // so the problem names the field itself, with its full path.
    if let Some((what, name)) = named_field(&message) {
        let field = if field == "$" {
            name.to_owned()
        } else if field == name || field.ends_with(&format!(".{name}")) {
            field
        } else {
            format!("{field}.{name}")
        };
        return Problem::new(kind)
            .detail(format!("{what} field `{field}`"))
            .field(field, message);
    }
    // serde's message carries the position but never the value itself, so it is safe to echo.
    Problem::new(kind).field(field, message)
}

/// A JSON value read as `serde_json::Value` reads it, except that an object naming the same key twice is refused:
/// RFC 8259 (section 4) leaves such an object's meaning to the parser, which keeps one of the two silently, so the
/// client could not know which value counted.
struct Unique(serde_json::Value);

impl<'de> de::Deserialize<'de> for Unique {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueVisitor).map(Unique)
    }
}

struct UniqueVisitor;

impl<'de> Visitor<'de> for UniqueVisitor {
    type Value = serde_json::Value;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_bool<E>(self, value: bool) -> Result<Self::Value, E> {
        Ok(value.into())
    }

    fn visit_i64<E>(self, value: i64) -> Result<Self::Value, E> {
        Ok(value.into())
    }

    fn visit_u64<E>(self, value: u64) -> Result<Self::Value, E> {
        Ok(value.into())
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
        serde_json::Number::from_f64(value)
            .map(serde_json::Value::Number)
            .ok_or_else(|| E::custom("a number JSON cannot hold"))
    }

    fn visit_str<E>(self, value: &str) -> Result<Self::Value, E> {
        Ok(value.into())
    }

    fn visit_string<E>(self, value: String) -> Result<Self::Value, E> {
        Ok(value.into())
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Unique(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(serde_json::Value::Array(items))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate field `{key}`")));
            }
            let Unique(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(serde_json::Value::Object(object))
    }
}

/// A parsed JSON value read the way the OpenAPI document describes it, where serde's JSON reader is looser:
/// - an object type is only ever read from a JSON object (serde would also fill a struct from an array by position,
///   so `[null, null]` passed for an object of optional fields);
/// - an integer may be written with a zero fraction (`747.0`): JSON Schema's `integer` is a number without a
///   fractional part, however it is spelt.
struct Strict(serde_json::Value);

impl<'de> serde::Deserializer<'de> for Strict {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        use serde_json::Value;
        match self.0 {
            Value::Number(number) => match number.as_f64() {
                Some(float)
                    if !number.is_i64()
                        && !number.is_u64()
                        && float.fract() == 0.0
                        && (-9_007_199_254_740_992.0..=9_007_199_254_740_992.0).contains(&float) =>
                {
                    // Within ±2^53 a float with no fraction is exactly that integer.
                    #[allow(clippy::cast_possible_truncation)]
                    visitor.visit_i64(float as i64)
                }
                _ => Value::Number(number).deserialize_any(visitor),
            },
            Value::Array(items) => {
                let mut seq = StrictSeq(items.into_iter());
                let value = visitor.visit_seq(&mut seq)?;
                match seq.0.len() {
                    0 => Ok(value),
                    left => Err(de::Error::invalid_length(left, &"fewer elements in the array")),
                }
            }
            Value::Object(entries) => visitor.visit_map(StrictMap {
                entries: entries.into_iter(),
                value: None,
            }),
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            serde_json::Value::Null => visitor.visit_none(),
            value => visitor.visit_some(Strict(value)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.0 {
            serde_json::Value::Object(_) => self.deserialize_any(visitor),
            other => Err(de::Error::invalid_type(unexpected(&other), &"an object")),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.deserialize_struct("", &[], visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        // Unit variants are strings; the rest are read by serde_json itself (no request body has an externally
        // tagged variant with data).
        self.0.deserialize_enum(name, variants, visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct identifier
    }
}

fn unexpected(value: &serde_json::Value) -> de::Unexpected<'_> {
    use serde_json::Value;
    match value {
        Value::Null => de::Unexpected::Unit,
        Value::Bool(b) => de::Unexpected::Bool(*b),
        Value::Number(_) => de::Unexpected::Other("a number"),
        Value::String(s) => de::Unexpected::Str(s),
        Value::Array(_) => de::Unexpected::Seq,
        Value::Object(_) => de::Unexpected::Map,
    }
}

struct StrictSeq(std::vec::IntoIter<serde_json::Value>);

impl<'de> de::SeqAccess<'de> for StrictSeq {
    type Error = serde_json::Error;

    fn next_element_seed<S: de::DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Self::Error> {
        self.0
            .next()
            .map(|value| seed.deserialize(Strict(value)))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct StrictMap {
    entries: serde_json::map::IntoIter,
    value: Option<serde_json::Value>,
}

impl<'de> de::MapAccess<'de> for StrictMap {
    type Error = serde_json::Error;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        match self.entries.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(serde_json::Value::String(key)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<S: de::DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Self::Error> {
        let value = self
            .value
            .take()
            .ok_or_else(|| <serde_json::Error as de::Error>::custom("a value without a key"))?;
        seed.deserialize(Strict(value))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// The name in serde's "unknown field `name`, expected …" message.
/// `("unknown", "tips")` for serde's "unknown field `tips`, expected …"; likewise "missing" and "duplicate".
fn named_field(message: &str) -> Option<(&'static str, &str)> {
    ["unknown", "missing", "duplicate"].into_iter().find_map(|what| {
        let rest = message.strip_prefix(what)?.strip_prefix(" field `")?;
        rest.split_once('`').map(|(name, _)| (what, name))
    })
}

/// Query parameters; a bad one answers 400 naming it.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(ApiQuery)
            .map_err(|error| {
                let path = error.path().to_string();
                let message = plain_number_error(error.into_inner().to_string());
                // A missing or unknown parameter is reported at the query itself (`.`): name the parameter.
                let field = match named_field(&message) {
                    Some((_, name)) if path == "." || path.is_empty() => name.to_owned(),
                    _ => path,
                };
                Problem::new(ProblemType::Validation).field(field, message)
            })
    }
}

/// The standard library's words for a number that does not parse (`invalid digit found in string`, `number too
/// large to fit in target type`) said as a client reads them; any other message is kept.
fn plain_number_error(message: String) -> String {
    match message.as_str() {
        "invalid digit found in string" | "cannot parse integer from empty string" => {
            "must be written in digits only (a whole number, no sign)".to_owned()
        }
        "number too large to fit in target type" | "number too small to fit in target type" => {
            "is out of range".to_owned()
        }
        _ => message,
    }
}

/// The query of a route that takes none: a parameter sent is refused by name (400), never ignored.
#[derive(Debug, Clone, Copy)]
pub struct NoQuery;

impl<S> FromRequestParts<S> for NoQuery
where
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()).next() {
            Some((name, _)) => Err(Problem::new(ProblemType::Validation)
                .field(name.into_owned(), "this route takes no query parameters")),
            None => Ok(NoQuery),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Owner {
        name: String,
        age: u8,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Body {
        owner: Owner,
    }

    #[test]
    fn numbers_that_do_not_parse_are_said_plainly() {
        assert_eq!(
            plain_number_error("invalid digit found in string".into()),
            "must be written in digits only (a whole number, no sign)"
        );
        assert_eq!(
            plain_number_error("number too large to fit in target type".into()),
            "is out of range"
        );
        assert_eq!(
            plain_number_error("unknown field `x`".into()),
            "unknown field `x`"
        );
    }

    #[test]
    fn data_errors_name_the_field_path() {
        let problem = parse_json::<Body>(br#"{"owner": {"name": "Ana", "age": "old"}}"#).unwrap_err();
        assert_eq!(problem.status, 400);
        assert!(problem.kind.ends_with("/validation"));
        assert_eq!(problem.errors[0].field, "owner.age");
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Strict {
        owner: StrictOwner,
        #[serde(default)]
        tip: i64,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct StrictOwner {
        name: String,
    }

    #[test]
    fn unknown_fields_are_named_with_their_path() {
        let problem = parse_json::<Strict>(br#"{"owner": {"name": "Ana"}, "tips": 5000}"#).unwrap_err();
        assert_eq!(problem.status, 400);
        assert_eq!(problem.errors[0].field, "tips");
        assert_eq!(problem.detail.as_deref(), Some("unknown field `tips`"));
        let problem = parse_json::<Strict>(br#"{"owner": {"name": "Ana", "nmae": "x"}}"#).unwrap_err();
        assert_eq!(problem.errors[0].field, "owner.nmae");
    }

    #[test]
    fn missing_and_repeated_fields_are_named_with_their_path() {
        let problem = parse_json::<Body>(br#"{"owner": {"age": 30}}"#).unwrap_err();
        assert_eq!(problem.status, 400);
        assert_eq!(problem.errors[0].field, "owner.name");
        assert_eq!(problem.detail.as_deref(), Some("missing field `owner.name`"));
        let problem = parse_json::<Body>(br#"{}"#).unwrap_err();
        assert_eq!(problem.errors[0].field, "owner");
        // A key written twice is refused wherever it is, even where the type would accept either value.
        let problem =
            parse_json::<Strict>(br#"{"owner": {"name": "Ana"}, "tip": 1, "tip": 5000}"#).unwrap_err();
        assert_eq!(problem.errors[0].field, "tip");
        assert_eq!(problem.detail.as_deref(), Some("duplicate field `tip`"));
        let problem = parse_json::<Strict>(br#"{"owner": {"name": "Ana", "name": "Bea"}}"#).unwrap_err();
        assert_eq!(problem.errors[0].field, "owner.name");
        let problem = parse_json::<serde_json::Value>(br#"[{"a": 1}, {"a": 1, "a": 2}]"#).unwrap_err();
        assert_eq!(problem.errors[0].field, "[1].a");
        // The same key in different objects is not a repeat.
        assert!(parse_json::<serde_json::Value>(br#"[{"a": 1}, {"a": {"a": 2}}]"#).is_ok());
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Optional {
        a: Option<u32>,
        b: Option<String>,
    }

    #[test]
    fn objects_come_only_from_objects_and_integers_may_have_a_zero_fraction() {
        assert!(parse_json::<Optional>(b"[null, null]").is_err());
        assert!(parse_json::<Body>(br#"{"owner": ["Ana", 3]}"#).is_err());
        let parsed = parse_json::<Optional>(br#"{"a": 747.0, "b": "x"}"#).unwrap();
        assert_eq!(
            parsed,
            Optional {
                a: Some(747),
                b: Some("x".into())
            }
        );
        assert!(parse_json::<Optional>(br#"{"a": 747.5}"#).is_err());
        assert!(parse_json::<Optional>(br#"{"a": -1.0}"#).is_err());
        assert_eq!(parse_json::<Vec<u8>>(b"[1, 2.0]").unwrap(), vec![1, 2]);
    }

    #[test]
    fn syntax_errors_are_malformed_json() {
        let problem = parse_json::<Body>(br#"{"owner": {"name": "#).unwrap_err();
        assert!(problem.kind.ends_with("/malformed-json"));
        let problem = parse_json::<Body>(b"  ").unwrap_err();
        assert!(problem.kind.ends_with("/malformed-json"));
        let trailing = parse_json::<serde_json::Value>(br#"{} {}"#).unwrap_err();
        assert!(trailing.kind.ends_with("/malformed-json"));
    }

    #[test]
    fn json_media_types() {
        assert!(is_json_media_type("application/json; charset=utf-8"));
        assert!(is_json_media_type("application/json; charset=\"UTF-8\""));
        assert!(!is_json_media_type("application/json; charset=iso-8859-1"));
        assert!(!is_json_media_type("application/json;charset=latin1"));
        assert!(is_json_media_type("application/merge-patch+json"));
        assert!(is_json_media_type("application/csp-report"));
        assert!(!is_json_media_type("text/plain"));
        assert!(!is_json_media_type(""));
    }
}
