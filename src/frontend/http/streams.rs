//! `GET /v1/streams[/{name}]`: a read-only view of the JetStream streams for scripts and the
//! console. The JSON is nats-server's `StreamInfo`, as `$JS.API.STREAM.INFO` returns it.
//! Permissions follow the NATS API subjects: a user may read what it may request over NATS
//! (`$JS.API.STREAM.LIST`, `$JS.API.STREAM.INFO.<name>`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::HeaderMap;
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::{check_publish, identify_read};
use super::problem::{ApiError, Problem, ProblemKind};
use crate::jetstream::JetStream;
use crate::jetstream::api::streams::stream_info;
use crate::jetstream::api::types::StreamInfo;
use crate::server::Shared;

/// The stream list.
#[derive(Serialize, ToSchema)]
pub struct StreamList {
    /// Every stream's `StreamInfo` (config, state, created), sorted by name.
    #[schema(value_type = Vec<Object>)]
    pub streams: Vec<StreamInfo>,
}

fn jetstream(shared: &Shared) -> Result<&Arc<JetStream>, ApiError> {
    shared.jetstream.get().ok_or_else(|| {
        ApiError::new(
            ProblemKind::NotFound,
            "JetStream is not enabled on this server (start it with -js)",
        )
    })
}

/// Lists the streams.
#[utoipa::path(
    get,
    path = "/v1/streams",
    operation_id = "list_streams",
    tag = "streams",
    responses(
        (status = 200, description = "All streams with their config and state", body = StreamList),
        (status = 401, description = "Credentials missing or wrong", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted (`$JS.API.STREAM.LIST`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "JetStream is not enabled", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []), ("basic" = []))
)]
pub async fn list(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Json<StreamList>, ApiError> {
    let identity = identify_read(&shared, &headers, peer).await?;
    check_publish(&identity, "$JS.API.STREAM.LIST")?;
    let js = jetstream(&shared)?;
    let streams = js
        .streams()
        .iter()
        .map(|s| stream_info(js, s, None, false))
        .collect();
    Ok(Json(StreamList { streams }))
}

/// One stream's info.
#[utoipa::path(
    get,
    path = "/v1/streams/{name}",
    operation_id = "stream_info",
    tag = "streams",
    params(("name" = String, Path, description = "Stream name", example = "ORDERS")),
    responses(
        (status = 200, description = "The stream's `StreamInfo` (config, state, created)", body = Object),
        (status = 401, description = "Credentials missing or wrong", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted (`$JS.API.STREAM.INFO.<name>`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such stream, or JetStream is not enabled", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []), ("basic" = []))
)]
pub async fn info(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    name: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Json<StreamInfo>, ApiError> {
    let identity = identify_read(&shared, &headers, peer).await?;
    let Path(name) = name?;
    let subject = format!("$JS.API.STREAM.INFO.{name}");
    if crate::core::subject::is_valid_literal_subject(subject.as_bytes()) {
        check_publish(&identity, &subject)?;
    }
    let js = jetstream(&shared)?;
    let stream = js.stream(&name).ok_or_else(|| {
        ApiError::new(ProblemKind::NotFound, format!("no stream named \"{name}\""))
    })?;
    Ok(Json(stream_info(js, &stream, None, false)))
}
