//! Request extractors whose every rejection is a problem document naming what was wrong.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::problem::{Problem, ProblemType};

/// A JSON body: `application/json`, any `application/*+json`, or a browser's `application/csp-report`.
/// Wrong media type → 415, over the body limit → 413, bad syntax or shape → 400 with the offending field's path.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

pub fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence == "application/csp-report"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !is_json_media_type(content_type) {
            return Err(
                Problem::new(ProblemType::UnsupportedMediaType).detail(if content_type.is_empty() {
                    "send the body as application/json".to_owned()
                } else {
                    format!("`{content_type}` is not accepted here; send application/json")
                }),
            );
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(body_rejection)?;
        parse_json(&bytes).map(ApiJson)
    }
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
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed: Result<T, _> = serde_path_to_error::deserialize(&mut deserializer);
    if parsed.is_ok()
        && let Err(trailing) = deserializer.end()
    {
        return Err(Problem::new(ProblemType::MalformedJson).field("$", trailing.to_string()));
    }
    parsed.map_err(|error| {
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
        // serde's message carries the position but never the value itself, so it is safe to echo.
        Problem::new(kind).field(field, inner.to_string())
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
                let field = error.path().to_string();
                Problem::new(ProblemType::Validation).field(field, error.into_inner().to_string())
            })
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
    fn data_errors_name_the_field_path() {
        let problem = parse_json::<Body>(br#"{"owner": {"name": "Ana", "age": "old"}}"#).unwrap_err();
        assert_eq!(problem.status, 400);
        assert!(problem.kind.ends_with("/validation"));
        assert_eq!(problem.errors[0].field, "owner.age");
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
        assert!(is_json_media_type("application/merge-patch+json"));
        assert!(is_json_media_type("application/csp-report"));
        assert!(!is_json_media_type("text/plain"));
        assert!(!is_json_media_type(""));
    }
}
