//! The rules the gateway checks its input against, stated in the OpenAPI document as JSON
//! Schema `pattern`s and bounds, so that clients and schema-driven test tools (schemathesis in
//! CI) know exactly which values are valid: subjects, plugin names, bindings, dry-run
//! messages. utoipa's `pattern` attribute takes only a literal, and these patterns are built
//! from shared pieces, so the [`Modify`] implementations here set them, in one place.
//!
//! The patterns are ECMA 262 regular expressions (what JSON Schema uses) that read the same
//! in Python's `re` (what the test tools generate from): no `$` (Python lets it match before
//! a final newline), only ASCII escapes, no Unicode classes.

use utoipa::Modify;
use utoipa::openapi::path::{Operation, Parameter, ParameterIn};
use utoipa::openapi::schema::{ArrayBuilder, ArrayItems, Object, ObjectBuilder, Type};
use utoipa::openapi::{OpenApi, RefOr, Schema};

/// The whitespace a subject token may not hold (nats-server's rule: space, tab, LF, CR, FF),
/// which is also what an upload's subject list is trimmed of.
const SPACE: &str = r"\x20\t\n\r\f";

/// The end of the value; see the module docs for why not `$`.
const END: &str = r"(?![\s\S])";

/// One literal token: no `.` or [`SPACE`] (nor the characters in `also`), and not a lone `*`
/// or `>`, which are wildcards (`a*` and `**` are literal tokens).
fn literal_token(also: &str) -> String {
    format!("(?:[^.{SPACE}*>{also}]|[^.{SPACE}{also}]{{2,}})")
}

/// A literal subject, unanchored.
fn literal(also: &str) -> String {
    let t = literal_token(also);
    format!("{t}(?:\\.{t})*")
}

/// A subject pattern, unanchored: tokens may be `*`, and the last one `>`.
fn wildcard(also: &str) -> String {
    let t = format!("(?:{}|\\*)", literal_token(also));
    format!("(?:{t}(?:\\.{t})*(?:\\.>)?|>)")
}

/// `p` as the whole value.
fn whole(p: &str) -> String {
    format!("^(?:{p}){END}")
}

/// A literal subject (publish, request, dry-run messages, dead-letter subjects).
pub fn literal_subject() -> String {
    whole(&literal(""))
}

/// A subject pattern (subscribe, bindings).
pub fn subject_pattern() -> String {
    whole(&wildcard(""))
}

/// An upload's `subjects`: comma-separated subject patterns, each trimmed of [`SPACE`],
/// empty entries ignored, at least one pattern.
fn subject_list() -> String {
    let item = format!("[{SPACE}]*(?:{}[{SPACE}]*)?", wildcard(","));
    format!("^(?=[\\s\\S]*[^,{SPACE}]){item}(?:,{item})*{END}")
}

/// A binding's error policy.
fn on_error() -> String {
    whole(&format!("drop|pass|dead-letter:{}", literal("")))
}

/// A plugin name: 1-64 ASCII letters, digits, `-` or `_`.
fn plugin_name() -> String {
    whole("[A-Za-z0-9_-]{1,64}")
}

/// A queue group: no space, tab, CR or LF.
fn queue_group() -> String {
    whole(r"[^\x20\t\n\r]+")
}

/// A header name, an RFC 9110 token (see `core::headers::is_valid_name`).
fn header_name() -> String {
    whole("[A-Za-z0-9!#$%&'*+.^_`|~-]+")
}

/// A header value: no CR or LF.
fn header_value() -> String {
    whole(r"[^\r\n]*")
}

/// Most subject patterns one binding may list (`binding::MAX_SUBJECTS`).
const MAX_SUBJECTS: usize = 64;
/// Most config pairs of a binding (`binding::MAX_CONFIG`).
const MAX_CONFIG: usize = 64;

fn string_with(pattern: String) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .build()
        .into()
}

fn object_mut(schema: Option<&mut RefOr<Schema>>) -> Option<&mut Object> {
    match schema {
        Some(RefOr::T(Schema::Object(o))) => Some(o),
        _ => None,
    }
}

/// Sets the rules of the path and query parameters.
pub struct ParameterRules;

impl ParameterRules {
    fn apply(path: &str, param: &mut Parameter) {
        let at = (path, &param.parameter_in, param.name.as_str());
        let Some(o) = object_mut(param.schema.as_mut()) else {
            return;
        };
        match at {
            ("/v1/publish/{subject}" | "/v1/request/{subject}", ParameterIn::Path, "subject") => {
                o.pattern = Some(literal_subject());
            }
            ("/v1/subscribe/{subject}", ParameterIn::Path, "subject") => {
                o.pattern = Some(subject_pattern());
            }
            ("/v1/subscribe/{subject}", ParameterIn::Query, "queue") => {
                o.pattern = Some(queue_group());
            }
            (p, ParameterIn::Path, "name") if p.starts_with("/v1/plugins/") => {
                o.pattern = Some(plugin_name());
            }
            ("/v1/plugins/{name}", ParameterIn::Query, name) => match name {
                "subjects" => o.pattern = Some(subject_list()),
                "on_error" => o.pattern = Some(on_error()),
                "deadline_ms" => bounds(o, 1, 10_000),
                "memory_bytes" => bounds(o, 1 << 20, 1 << 30),
                "max_emit" => bounds(o, 0, 100_000),
                _ => {}
            },
            _ => {}
        }
    }
}

fn bounds(o: &mut Object, min: u64, max: u64) {
    o.minimum = Some(min.into());
    o.maximum = Some(max.into());
}

impl Modify for ParameterRules {
    fn modify(&self, doc: &mut OpenApi) {
        for (path, item) in doc.paths.paths.iter_mut() {
            let operations: [&mut Option<Operation>; 5] = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in operations.into_iter().flatten() {
                for param in op.parameters.iter_mut().flatten() {
                    Self::apply(path, param);
                }
            }
        }
    }
}

/// Sets the rules of the request bodies' schemas: bindings (`Binding`, `BindingPatch`) and
/// dry-run messages (`TestMessage`, whose headers are `["Name", "value"]` pairs).
pub struct BodyRules;

impl Modify for BodyRules {
    fn modify(&self, doc: &mut OpenApi) {
        let Some(components) = doc.components.as_mut() else {
            return;
        };
        for name in ["Binding", "BindingPatch"] {
            let Some(o) = object_mut(components.schemas.get_mut(name)) else {
                continue;
            };
            if let Some(RefOr::T(Schema::Array(subjects))) = o.properties.get_mut("subjects") {
                subjects.items =
                    ArrayItems::RefOrSchema(Box::new(string_with(subject_pattern()).into()));
                subjects.min_items = Some(1);
                subjects.max_items = Some(MAX_SUBJECTS);
            }
            if let Some(p) = object_mut(o.properties.get_mut("on_error")) {
                p.pattern = Some(on_error());
            }
            if let Some(p) = object_mut(o.properties.get_mut("config")) {
                p.max_properties = Some(MAX_CONFIG);
            }
        }
        let Some(message) = object_mut(components.schemas.get_mut("TestMessage")) else {
            return;
        };
        for field in ["subject", "reply"] {
            if let Some(p) = object_mut(message.properties.get_mut(field)) {
                p.pattern = Some(literal_subject());
            }
        }
        let pair = ArrayBuilder::new()
            .prefix_items([string_with(header_name()), string_with(header_value())])
            .items(ArrayItems::False)
            .min_items(Some(2))
            .max_items(Some(2));
        if let Some(RefOr::T(Schema::Array(headers))) = message.properties.get_mut("headers") {
            headers.items = ArrayItems::RefOrSchema(Box::new(pair.into()));
        }
    }
}

/// Publish and request bodies may be empty (an empty payload); utoipa marks every body it
/// describes as required.
pub struct EmptyBodies;

impl Modify for EmptyBodies {
    fn modify(&self, doc: &mut OpenApi) {
        for path in ["/v1/publish/{subject}", "/v1/request/{subject}"] {
            let op = doc.paths.paths.get_mut(path).and_then(|i| i.post.as_mut());
            if let Some(body) = op.and_then(|op| op.request_body.as_mut()) {
                body.required = Some(utoipa::openapi::Required::False);
            }
        }
    }
}
