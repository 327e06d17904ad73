//! The web console at `/` on the API port: live counters, a publish form, a live tail of a
//! subject and a plugins panel, in one static page with no build step (the HTML, CSS and
//! JavaScript in `console/` are compiled into the binary).
//!
//! The page only uses the public API (`/v1/stats`, `/v1/publish`, `/v1/subscribe` as
//! Server-Sent Events, and `/v1/plugins`), so it sees exactly what any HTTP client sees and
//! needs no privileges of its own. With users configured the browser asks for a user and
//! password (HTTP Basic) and sends them with every request, the event stream included. With
//! a token, the page's token field sends it as a bearer token and sets the `sluice_token`
//! cookie (SameSite=Strict) that the event stream and the stats accept.
//!
//! The plugins panel lists `GET /v1/plugins` (binding, digest, size, upload time and the
//! counters: calls, verdicts, errors, mean call time) every two seconds, uploads a component
//! with `PUT /v1/plugins/{name}` (the file as an `application/wasm` body, the binding in the
//! query string: `subjects`, `order`, `on_error`, `config.<key>`) and removes one with
//! `DELETE`. Those are admin routes, sent with the same bearer token or Basic credentials
//! (never the cookie, which only read-only routes accept); a 401 or 403 (a user without
//! `admin = true`, or a non-loopback browser on a server without auth) is shown in the panel
//! with its problem `title` and `detail`, and the rest of the page keeps working. Every text
//! from the server is set with `textContent`, never parsed as HTML.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::identify_read;
use super::problem::ApiError;
use crate::server::{NATS_COMPAT_VERSION, Shared};

const INDEX: &str = include_str!("console/index.html");
const SCRIPT: &str = include_str!("console/console.js");
const STYLE: &str = include_str!("console/console.css");

/// `GET /`: the console page.
pub async fn index() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        INDEX,
    )
}

/// `GET /console.js`.
pub async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
}

/// `GET /console.css`.
pub async fn style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE)
}

/// Server-wide counters for dashboards; `/varz` on the monitoring port has the full set.
#[derive(Debug, Serialize, ToSchema)]
pub struct Stats {
    /// The server's name.
    pub server_name: String,
    /// The nats-server version clients see.
    pub version: String,
    /// Seconds since start.
    pub uptime_seconds: u64,
    /// NATS and WebSocket client connections open now.
    pub connections: usize,
    /// Subscriptions of every front-end.
    pub subscriptions: usize,
    /// Messages received from publishers.
    pub in_msgs: u64,
    /// Messages delivered to NATS and WebSocket clients.
    pub out_msgs: u64,
    /// Bytes (headers and payload) received.
    pub in_bytes: u64,
    /// Bytes (headers and payload) delivered to NATS and WebSocket clients.
    pub out_bytes: u64,
    /// Connections cut off because they could not keep up.
    pub slow_consumers: u64,
}

/// Live counters (the console polls them to draw rates).
#[utoipa::path(
    get,
    path = "/v1/stats",
    tag = "meta",
    responses(
        (status = 200, description = "Server-wide counters", body = Stats),
        (status = 401, description = "Credentials missing or wrong", body = super::problem::Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []), ("basic" = []))
)]
pub async fn stats(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Json<Stats>, ApiError> {
    identify_read(&shared, &headers, peer).await?;
    let clients = shared.clients.snapshot();
    let (out_msgs, out_bytes) = shared.out_totals(&clients);
    let s = &shared.stats;
    Ok(Json(Stats {
        server_name: shared.config().server_name.clone(),
        version: NATS_COMPAT_VERSION.to_string(),
        uptime_seconds: shared.started_at.elapsed().as_secs(),
        connections: clients.len(),
        subscriptions: shared.router.subscription_count(),
        in_msgs: s.in_msgs.load(Ordering::Relaxed),
        out_msgs,
        in_bytes: s.in_bytes.load(Ordering::Relaxed),
        out_bytes,
        slow_consumers: s.slow_consumers.load(Ordering::Relaxed),
    }))
}
