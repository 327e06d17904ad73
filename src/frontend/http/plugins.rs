//! `/v1/plugins`: upload, replace, rebind, list, remove and dry-run WebAssembly plugins.
//!
//! These are admin routes: with auth configured they need the token (token auth) or a user
//! marked `admin = true`; with no auth configured they answer only to loopback clients, so a
//! server reachable from the network cannot be reprogrammed by anyone who finds the port.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use utoipa::ToSchema;

use super::auth::{charge, identify};
use super::problem::{ApiError, Problem, ProblemKind};
use crate::plugin::binding::{Binding, BindingPatch};
use crate::plugin::host::{LoadError, PluginMessage};
use crate::plugin::registry::{PluginError, PluginInfo, TestMessage, TestResult};
use crate::plugin::{Protocol, context};
use crate::server::Shared;

/// The plugin list.
#[derive(Serialize, ToSchema)]
pub struct PluginList {
    /// Every plugin, in chain order.
    pub plugins: Vec<PluginInfo>,
}

/// Admin check: see the module docs.
async fn admin(
    shared: &Arc<Shared>,
    headers: &HeaderMap,
    peer: SocketAddr,
) -> Result<(), ApiError> {
    if !shared.auth().required() {
        charge(shared, None, peer)?;
        if peer.ip().is_loopback() {
            return Ok(());
        }
        return Err(ApiError::new(
            ProblemKind::Forbidden,
            "plugin administration without auth configured is only allowed from loopback",
        ));
    }
    let identity = identify(shared, headers, peer).await?;
    if identity.admin {
        Ok(())
    } else {
        Err(ApiError::new(
            ProblemKind::Forbidden,
            "plugin administration needs the token or a user with admin = true",
        ))
    }
}

fn problem(e: PluginError) -> ApiError {
    let kind = match &e {
        PluginError::NotFound(_) => ProblemKind::NotFound,
        PluginError::Load(LoadError::TooLarge { .. }) => ProblemKind::TooLarge,
        PluginError::Io(_) | PluginError::Engine(_) => ProblemKind::StoreUnavailable,
        PluginError::Shared(_) => ProblemKind::UpstreamUnavailable,
        _ => ProblemKind::BadRequest,
    };
    ApiError::new(kind, e.to_string())
}

/// A JSON body that must be an object: serde would also read a struct from an array, which
/// the documented schema does not allow (found by schemathesis).
fn object_body<T: DeserializeOwned>(
    body: Result<Json<Value>, JsonRejection>,
) -> Result<T, ApiError> {
    let bad = |e: String| ApiError::new(ProblemKind::BadRequest, e);
    let Json(value) = body.map_err(|e| bad(e.body_text()))?;
    if !value.is_object() {
        return Err(bad("the body must be a JSON object".into()));
    }
    serde_json::from_value(value).map_err(|e| bad(e.to_string()))
}

/// Runs blocking plugin work (compiling, instantiating, writing files) off the I/O threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, PluginError> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(problem),
        Err(e) => Err(ApiError::new(ProblemKind::StoreUnavailable, e.to_string())),
    }
}

/// Uploads (or replaces) a plugin; the binding is in the query string.
#[utoipa::path(
    put,
    path = "/v1/plugins/{name}",
    operation_id = "put_plugin",
    tag = "plugins",
    params(
        ("name" = String, Path, description = "1-64 letters, digits, '-' or '_'", example = "redact"),
        ("subjects" = String, Query, description = "Comma-separated subject patterns (required)", example = "orders.>"),
        ("order" = Option<i32>, Query, description = "Position in the chain, lower first (default 0)"),
        ("on_error" = Option<String>, Query, description = "`drop` (default), `pass` or `dead-letter:<subject>`"),
        ("config.<key>" = Option<String>, Query, description = "A config pair for the plugin's init, e.g. `config.fields=email`"),
        ("deadline_ms" = Option<u64>, Query, description = "CPU time per call"),
        ("memory_bytes" = Option<u64>, Query, description = "Memory per instance"),
        ("max_emit" = Option<u64>, Query, description = "Messages one call may emit"),
    ),
    request_body(content = String, content_type = "application/wasm", description = "The WebAssembly component (world sluice:plugin/message-filter)"),
    responses(
        (status = 201, description = "Loaded (new)", body = PluginInfo),
        (status = 200, description = "Loaded, replacing the previous version", body = PluginInfo),
        (status = 400, description = "Not a component of our world, init refused the config, or a bad binding; the previous version keeps running", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin (or not loopback without auth)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than plugins.max_size", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Content-Type is not application/wasm", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []), ("basic" = []))
)]
pub async fn put(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    name: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    admin(&shared, &headers, peer).await?;
    let Path(name) = name?;
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ctype.split(';').next().map(str::trim) != Some("application/wasm") {
        return Err(ApiError::new(
            ProblemKind::UnsupportedMediaType,
            "send the component with Content-Type: application/wasm",
        ));
    }
    let Query(pairs) = query?;
    let binding = Binding::from_query(&pairs)
        .map_err(|e| ApiError::new(ProblemKind::BadRequest, format!("invalid binding: {e}")))?;
    let max = shared.config().plugins.max_size;
    let wasm = axum::body::to_bytes(body, max).await.map_err(|_| {
        ApiError::new(
            ProblemKind::TooLarge,
            format!("the component exceeds plugins.max_size ({max} bytes)"),
        )
    })?;
    let existed = shared.plugins.get(&name).is_some();
    let sh = shared.clone();
    let info = blocking(move || sh.plugins.put(&name, wasm.to_vec(), binding)).await?;
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(info)).into_response())
}

/// Changes a plugin's binding.
#[utoipa::path(
    patch,
    path = "/v1/plugins/{name}",
    operation_id = "patch_plugin",
    tag = "plugins",
    params(("name" = String, Path, description = "Plugin name")),
    request_body(content = BindingPatch, description = "Only the fields given change"),
    responses(
        (status = 200, description = "The new binding is live", body = PluginInfo),
        (status = 400, description = "Invalid binding, or init refused the new config (the old binding stays)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plugin", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []), ("basic" = []))
)]
pub async fn patch(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    name: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<PluginInfo>, ApiError> {
    admin(&shared, &headers, peer).await?;
    let Path(name) = name?;
    let p: BindingPatch = object_body(body)?;
    let sh = shared.clone();
    Ok(Json(blocking(move || sh.plugins.patch(&name, p)).await?))
}

/// Lists the plugins with their bindings and counters.
#[utoipa::path(
    get,
    path = "/v1/plugins",
    operation_id = "list_plugins",
    tag = "plugins",
    responses(
        (status = 200, description = "Every plugin, in chain order", body = PluginList),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []), ("basic" = []))
)]
pub async fn list(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Json<PluginList>, ApiError> {
    admin(&shared, &headers, peer).await?;
    Ok(Json(PluginList {
        plugins: shared.plugins.list(),
    }))
}

/// One plugin.
#[utoipa::path(
    get,
    path = "/v1/plugins/{name}",
    operation_id = "get_plugin",
    tag = "plugins",
    params(("name" = String, Path, description = "Plugin name")),
    responses(
        (status = 200, description = "Its binding, digest and counters", body = PluginInfo),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plugin", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []), ("basic" = []))
)]
pub async fn get_one(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    name: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Json<PluginInfo>, ApiError> {
    admin(&shared, &headers, peer).await?;
    let Path(name) = name?;
    shared
        .plugins
        .get(&name)
        .map(Json)
        .ok_or_else(|| problem(PluginError::NotFound(name)))
}

/// Removes a plugin.
#[utoipa::path(
    delete,
    path = "/v1/plugins/{name}",
    operation_id = "delete_plugin",
    tag = "plugins",
    params(("name" = String, Path, description = "Plugin name")),
    responses(
        (status = 204, description = "Removed; messages no longer pass through it"),
        (status = 400, description = "Not a valid plugin name", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plugin", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []), ("basic" = []))
)]
pub async fn delete(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    name: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    admin(&shared, &headers, peer).await?;
    let Path(name) = name?;
    let sh = shared.clone();
    blocking(move || sh.plugins.remove(&name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Runs one plugin on one message and shows the verdict, routing nothing.
#[utoipa::path(
    post,
    path = "/v1/plugins/{name}/test",
    operation_id = "test_plugin",
    tag = "plugins",
    params(("name" = String, Path, description = "Plugin name")),
    request_body(content = TestMessage, description = "The message: subject, reply, headers, data (text)"),
    responses(
        (status = 200, description = "The verdict and the messages that would be routed", body = TestResult),
        (status = 400, description = "Malformed message: invalid subject, reply or header", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plugin", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []), ("basic" = []))
)]
pub async fn test(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    name: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<TestResult>, ApiError> {
    admin(&shared, &headers, peer).await?;
    let Path(name) = name?;
    let req: TestMessage = object_body(body)?;
    let literal = |s: &str| crate::core::subject::is_valid_literal_subject(s.as_bytes());
    if let Some(bad) = Some(&req.subject)
        .filter(|s| !literal(s))
        .or(req.reply.as_ref().filter(|r| !literal(r)))
    {
        return Err(ApiError::new(
            ProblemKind::BadSubject,
            format!("{bad:?} is not a valid subject"),
        ));
    }
    crate::plugin::convert::check_headers(&req.headers)
        .map_err(|e| ApiError::new(ProblemKind::BadRequest, e))?;
    let msg = PluginMessage {
        subject: req.subject,
        reply_to: req.reply,
        headers: req.headers,
        payload: req.data.into_bytes(),
    };
    let ctx = context(Protocol::Http, None, None);
    let sh = shared.clone();
    Ok(Json(
        blocking(move || sh.plugins.test(&name, &ctx, msg)).await?,
    ))
}
