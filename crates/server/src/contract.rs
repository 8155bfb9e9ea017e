//! The OpenAPI document is the contract: what it declares is what the server answers. The routes declare their own
//! successes and route-specific refusals; this module adds, in one place and from each operation's shape, the RFC
//! 9457 problem responses that layers shared by every route can give, so a new route is described truthfully
//! without repeating them.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::{
    ContentBuilder, HeaderBuilder, OpenApi, Ref, RefOr, Required, ResponseBuilder, Schema, Type,
    schema::ObjectBuilder,
};

use crate::extract::is_json_media_type;
use crate::problem::{PROBLEM_JSON, ProblemType};

/// The served document: the generated one with parameters where the handlers read them, the shared problem
/// responses, and request bodies closed to unknown fields.
pub fn document(mut api: OpenApi) -> String {
    place_parameters(&mut api);
    declare_idempotency_keys(&mut api);
    declare_problem_responses(&mut api);
    let Ok(mut doc) = serde_json::to_value(&api) else {
        return "{}".into();
    };
    close_request_bodies(&mut doc);
    serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into())
}

/// The facts about an operation the shared layers decide by.
struct Shape {
    /// Needs a bearer token (`security` names a scheme): the access layer answers 401, 403 and 429.
    secured: bool,
    /// Has `{…}` segments: an id or a token that may name nothing (404).
    path_params: bool,
    /// Takes a body at all.
    body: bool,
    /// Takes a JSON body through the JSON extractor (415 for another media type).
    json_body: bool,
    /// Changes state (anything but GET/HEAD): may conflict (409) or be refused by a business rule (422).
    mutating: bool,
}

impl Shape {
    fn of(path: &str, mutating: bool, operation: &Operation) -> Self {
        let secured = operation
            .security
            .as_ref()
            .is_some_and(|requirements| requirements.iter().any(|r| r != &Default::default()));
        let body = operation.request_body.is_some();
        let json_body = match &operation.request_body {
            Some(RefOr::T(RequestBody { content, .. })) => content.keys().any(|m| is_json_media_type(m)),
            Some(RefOr::Ref(_)) => true,
            None => false,
        };
        Self {
            secured,
            path_params: path.contains('{'),
            body,
            json_body,
            mutating,
        }
    }

    /// The shared problem statuses this operation can answer, each with why.
    fn statuses(&self) -> Vec<(ProblemType, &'static str)> {
        let mut statuses = vec![(
            ProblemType::Validation,
            "The request is not valid: a malformed parameter or body, an unknown field (named in `errors`), or a \
             card-like number anywhere in it (card data is never accepted).",
        )];
        if self.secured {
            statuses.push((
                ProblemType::Unauthorized,
                "No valid bearer token: missing, expired, revoked or not for this use.",
            ));
            statuses.push((
                ProblemType::Forbidden,
                "The caller's role does not allow this, a second factor must be enrolled first, or a step-up's \
                 current password or code was wrong (`step-up-failed`).",
            ));
        }
        if self.path_params {
            statuses.push((
                ProblemType::NotFound,
                "Nothing the caller may see goes by this id or token.",
            ));
        }
        if self.mutating {
            statuses.push((
                ProblemType::Conflict,
                "The request conflicts with the current state (a duplicate, or a change made meanwhile).",
            ));
            statuses.push((
                ProblemType::BusinessRule,
                "Refused by a business rule; `detail` says which.",
            ));
        }
        statuses.push((
            ProblemType::PayloadTooLarge,
            "The body exceeds the server's limit (every body is read against it).",
        ));
        if self.json_body {
            statuses.push((ProblemType::UnsupportedMediaType, "The body is not sent as JSON."));
        }
        if self.secured || (self.mutating && self.body) {
            statuses.push((
                ProblemType::RateLimited,
                "Too many requests for this account, address or tenant; `Retry-After` says when to retry.",
            ));
        }
        statuses.push((
            ProblemType::Internal,
            "An unexpected error; nothing about it is disclosed.",
        ));
        statuses.push((
            ProblemType::Unavailable,
            "The database does not answer; `Retry-After` says when to retry.",
        ));
        statuses
    }
}

/// Adds to every operation the problem responses its shape allows (see [`Shape::statuses`]), as
/// `application/problem+json` with the `Problem` schema. A status an operation already declares is left as the
/// route wrote it.
pub fn declare_problem_responses(api: &mut OpenApi) {
    for (path, item) in api.paths.paths.iter_mut() {
        let operations = [
            (&mut item.get, false),
            (&mut item.head, false),
            (&mut item.post, true),
            (&mut item.put, true),
            (&mut item.patch, true),
            (&mut item.delete, true),
        ];
        for (operation, mutating) in operations {
            let Some(operation) = operation.as_mut() else {
                continue;
            };
            let shape = Shape::of(path, mutating, operation);
            for (kind, description) in shape.statuses() {
                let status = kind.status();
                let mut response = ResponseBuilder::new().description(description).content(
                    PROBLEM_JSON,
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                );
                match kind {
                    ProblemType::RateLimited | ProblemType::Unavailable => {
                        response = response.header("Retry-After", retry_after());
                    }
                    ProblemType::Unauthorized => {
                        response = response.header(
                            "WWW-Authenticate",
                            HeaderBuilder::new()
                                .schema(Some(string()))
                                .description(Some("`Bearer` when the token is missing or not valid"))
                                .build(),
                        );
                    }
                    _ => {}
                }
                operation
                    .responses
                    .responses
                    .entry(status.as_u16().to_string())
                    .or_insert_with(|| RefOr::T(response.build()));
            }
        }
    }
}

/// Every state-changing operation a signed-in member calls takes an optional `Idempotency-Key` header
/// (`crate::idempotency`); a route that reads the key itself declares it in its own words, which stay.
fn declare_idempotency_keys(api: &mut OpenApi) {
    use utoipa::openapi::path::ParameterBuilder;
    for (path, item) in api.paths.paths.iter_mut() {
        for operation in [&mut item.post, &mut item.put, &mut item.patch, &mut item.delete]
            .into_iter()
            .flatten()
        {
            let declared = operation.parameters.iter().flatten().any(|p| {
                matches!(p, RefOr::T(p) if p.parameter_in == ParameterIn::Header
                    && p.name.eq_ignore_ascii_case("idempotency-key"))
            });
            if declared || !Shape::of(path, true, operation).secured {
                continue;
            }
            let key = ParameterBuilder::new()
                .name("Idempotency-Key")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(
                    "A retry with the same key and request gets the first successful answer \
                     (`Idempotent-Replayed: true`) instead of running again, or 409 where that answer is not kept \
                     (a secret shown once, a data subject's data); with another request, 409. Kept 24 hours, per \
                     member.",
                ))
                .schema(Some(Schema::Object(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .pattern(Some(r"^[!-~]{1,200}$"))
                        .build(),
                )))
                .build();
            operation
                .parameters
                .get_or_insert_with(Vec::new)
                .push(RefOr::T(key));
        }
    }
}

fn string() -> Schema {
    Schema::Object(ObjectBuilder::new().schema_type(Type::String).build())
}

fn retry_after() -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(Some(Schema::Object(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
                .build(),
        )))
        .description(Some("Seconds to wait before retrying"))
        .build()
}

/// A parameter struct without `#[into_params(parameter_in = Query)]`, read through an extractor utoipa does not
/// recognise (`ApiQuery`), is generated as *path* parameters: forced required, and `Option` fields made nullable.
/// One whose name is not a segment of the route is a query parameter; it is placed there, an `Option` one (a
/// nullable schema) as optional and non-nullable (a query string cannot carry `null`). The attribute stays the
/// precise way (it also knows `#[serde(default)]`); this keeps a forgotten one from publishing a false contract.
fn place_parameters(api: &mut OpenApi) {
    for (path, item) in api.paths.paths.iter_mut() {
        for operation in [
            &mut item.get,
            &mut item.head,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            for parameter in operation.parameters.iter_mut().flatten() {
                if let RefOr::T(parameter) = parameter
                    && parameter.parameter_in == ParameterIn::Path
                    && !path.contains(&format!("{{{}}}", parameter.name))
                {
                    parameter.parameter_in = ParameterIn::Query;
                    let optional = parameter.schema.as_mut().is_some_and(strip_null);
                    parameter.required = if optional { Required::False } else { Required::True };
                }
            }
        }
    }
}

/// Removes `null` from a schema (`type: [T, "null"]`, or a `oneOf` with a `null` branch); whether it was there.
fn strip_null(schema: &mut RefOr<Schema>) -> bool {
    use utoipa::openapi::schema::SchemaType;
    match schema {
        RefOr::T(Schema::Object(object)) => match &mut object.schema_type {
            SchemaType::Array(types) if types.contains(&Type::Null) => {
                types.retain(|t| *t != Type::Null);
                if let [only] = types.as_slice() {
                    object.schema_type = SchemaType::Type(only.clone());
                }
                true
            }
            _ => false,
        },
        RefOr::T(Schema::OneOf(one_of)) => {
            let before = one_of.items.len();
            one_of.items.retain(|branch| {
                !matches!(branch, RefOr::T(Schema::Object(o)) if o.schema_type == SchemaType::Type(Type::Null))
            });
            let stripped = one_of.items.len() != before;
            if stripped && one_of.items.len() == 1 {
                *schema = one_of.items.remove(0);
            }
            stripped
        }
        _ => false,
    }
}

/// Every JSON request body type refuses fields it does not declare (`#[serde(deny_unknown_fields)]`, a test sends
/// a misspelled one to each kind), and utoipa says so for structs but not for the variants of a tagged enum: every
/// object schema reachable from an `application/json` request body is marked `additionalProperties: false`. (A
/// browser's `application/csp-report` stays open: browsers add fields as the CSP spec grows.)
fn close_request_bodies(doc: &mut serde_json::Value) {
    let mut roots = Vec::new();
    if let Some(paths) = doc["paths"].as_object() {
        for operations in paths.values() {
            for operation in operations.as_object().into_iter().flat_map(|o| o.values()) {
                let schema = &operation["requestBody"]["content"]["application/json"]["schema"];
                if !schema.is_null() {
                    roots.push(schema.clone());
                }
            }
        }
    }
    // Inline schemas are closed where they stand; referenced components are collected and closed once.
    let mut components = Vec::new();
    for mut root in roots {
        close(&mut root, &mut components);
    }
    let mut done = Vec::new();
    while let Some(name) = components.pop() {
        if done.contains(&name) {
            continue;
        }
        if let Some(schema) = doc.pointer_mut(&format!("/components/schemas/{name}")) {
            close(schema, &mut components);
        }
        done.push(name);
    }
    // The inline request body schemas, closed in place.
    if let Some(paths) = doc["paths"].as_object_mut() {
        for operations in paths.values_mut() {
            for operation in operations
                .as_object_mut()
                .into_iter()
                .flat_map(|o| o.values_mut())
            {
                if let Some(schema) = operation.pointer_mut("/requestBody/content/application~1json/schema") {
                    close(schema, &mut Vec::new());
                }
            }
        }
    }
}

/// Closes the object schemas in `schema`, noting the components it refers to.
fn close(schema: &mut serde_json::Value, components: &mut Vec<String>) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    if let Some(reference) = object.get("$ref").and_then(|r| r.as_str())
        && let Some(name) = reference.strip_prefix("#/components/schemas/")
    {
        components.push(name.to_owned());
    }
    if object.contains_key("properties") && !object.contains_key("additionalProperties") {
        object.insert("additionalProperties".into(), serde_json::Value::Bool(false));
    }
    for (key, value) in object.iter_mut() {
        match key.as_str() {
            "properties" => {
                for property in value.as_object_mut().into_iter().flat_map(|p| p.values_mut()) {
                    close(property, components);
                }
            }
            "items" => close(value, components),
            "oneOf" | "anyOf" | "allOf" | "prefixItems" => {
                for branch in value.as_array_mut().into_iter().flatten() {
                    close(branch, components);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                rust_files(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }

    /// The component names the types deriving `ToSchema` in `source` take: the type's name, or its
    /// `#[schema(as = …)]`'s last segment.
    fn schema_names(source: &str) -> Vec<String> {
        let mut names = Vec::new();
        let mut derive = String::new();
        let (mut in_derive, mut pending, mut alias) = (false, false, None::<String>);
        for line in source.lines().map(str::trim) {
            if line.starts_with("#[derive(") {
                in_derive = true;
                derive.clear();
            }
            if in_derive {
                derive.push_str(line);
                if line.ends_with(")]") {
                    in_derive = false;
                    pending |= derive.contains("ToSchema");
                }
                continue;
            }
            if !pending {
                continue;
            }
            if let Some(rest) = line.strip_prefix("#[schema(")
                && let Some(at) = rest.find("as = ")
            {
                let path: String = rest[at + 5..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                alias = path.rsplit("::").next().map(str::to_owned);
            }
            let item = line.trim_start_matches("pub(crate) ").trim_start_matches("pub ");
            let Some(rest) = item
                .strip_prefix("struct ")
                .or_else(|| item.strip_prefix("enum "))
            else {
                continue;
            };
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            names.push(alias.take().unwrap_or(name));
            pending = false;
        }
        names
    }

    /// utoipa names a component after its type (or `#[schema(as = …)]`) and silently keeps one of two types of the
    /// same name, so `/openapi.json` then describes the wrong body: the kitchen's 86 route once sent `Availability`,
    /// the booking availability's name, and the contract showed the booking shape. Every type deriving `ToSchema` in
    /// the workspace has a name of its own.
    #[test]
    fn every_schema_has_a_name_of_its_own() {
        let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut files = Vec::new();
        rust_files(&crates, &mut files);
        let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for file in files
            .iter()
            .filter(|f| f.components().any(|c| c.as_os_str() == "src"))
        {
            let source = std::fs::read_to_string(file).unwrap_or_default();
            for name in schema_names(&source) {
                seen.entry(name).or_default().push(file.display().to_string());
            }
        }
        assert!(seen.len() > 100, "the scan found the schemas: {}", seen.len());
        let twice: Vec<_> = seen.iter().filter(|(_, files)| files.len() > 1).collect();
        assert!(
            twice.is_empty(),
            "one component name for several types: {twice:?}"
        );
    }

    #[test]
    fn a_schema_name_is_its_type_or_its_alias() {
        let source = "#[derive(Debug,\n    utoipa::ToSchema)]\n#[serde(rename_all = \"lowercase\")]\npub enum Kind {\n}\n\
                      #[derive(Serialize)]\nstruct Plain;\n#[derive(ToSchema)]\n#[schema(as = wire::Availability)]\n\
                      pub(crate) struct Item {}\n";
        assert_eq!(schema_names(source), ["Kind", "Availability"]);
    }
}
