//! The HTTP gateway API: publish with `curl -X POST`, request/reply, subscribe with
//! Server-Sent Events, and the OpenAPI document describing it all.
//!
//! Like every front-end it only turns its wire format into the core's [`Message`] plus the
//! caller's identity: authentication and permissions come from [`crate::auth`], routing from
//! the shared [`Router`](crate::core::router::Router). Every error is an
//! `application/problem+json` document ([`problem`]).
//!
//! - [`publish`]: `POST /v1/publish/{subject}`, and the ingress steps shared with requests.
//! - [`request`]: `POST /v1/request/{subject}`, the reply inbox and its one-shot sink.
//! - [`subscribe`]: `GET /v1/subscribe/{subject}`, the SSE stream and its bounded sink.
//! - [`jsonws`]: `GET /v1/ws`, a WebSocket of JSON frames for pages without a NATS library.
//! - [`headers`]: the HTTP <-> NATS header scheme.
//! - [`auth`]: `Authorization` (Bearer or Basic) to an identity, and permission checks.
//! - [`openapi`]: `GET /openapi.json`, generated from the handlers' annotations, with the
//!   input rules ([`schema_rules`]) stated as patterns and bounds.
//!
//! [`Message`]: crate::core::message::Message

pub mod auth;
pub mod console;
pub mod headers;
pub mod jsonws;
pub mod openapi;
pub mod plugins;
pub mod problem;
pub mod publish;
pub mod queue_sink;
pub mod request;
pub mod schema_rules;
pub mod streams;
pub mod subscribe;
pub mod subscribe_stream;

use std::sync::Arc;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use bytes::Bytes;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::core::router::Subscription;
use crate::core::sublist::SublistError;
use crate::frontend::websocket;
use crate::server::Shared;

/// Serves the API until `shutdown` fires.
pub async fn serve(
    shared: Arc<Shared>,
    listener: TcpListener,
    tls: Option<crate::frontend::tls::HttpTls>,
    shutdown: CancellationToken,
) {
    // `serve_http` gives handlers the client's address: the `/nats` WebSocket records it
    // like TCP does.
    let limits = Some(shared.api_limits.clone());
    crate::frontend::accept::serve_http(listener, tls, limits, router(shared), shutdown).await;
}

/// The API routes. Other front-ends served on the same port (the `/nats` WebSocket) are
/// added to this router.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/publish/{subject}", post(publish::publish))
        .route("/v1/request/{subject}", post(request::request))
        .route("/v1/subscribe/{subject}", get(subscribe::subscribe))
        .route("/v1/ws", get(jsonws::upgrade))
        .route("/v1/plugins", get(plugins::list))
        .route(
            "/v1/plugins/{name}",
            get(plugins::get_one)
                .put(plugins::put)
                .patch(plugins::patch)
                .delete(plugins::delete),
        )
        .route("/v1/plugins/{name}/test", post(plugins::test))
        .route("/v1/streams", get(streams::list))
        .route("/v1/streams/{name}", get(streams::info))
        .route("/openapi.json", get(openapi::openapi_json))
        .route(
            "/nats",
            get(websocket::upgrade).route_layer(from_fn_with_state(
                shared.api_limits.clone(),
                websocket::limit_upgrades,
            )),
        )
        .route("/", get(console::index))
        .route("/console.js", get(console::script))
        .route("/console.css", get(console::style))
        .route("/v1/stats", get(console::stats))
        .fallback(problem::not_found)
        .method_not_allowed_fallback(problem::method_not_allowed)
        .with_state(shared)
}

/// A subscription owned by one HTTP exchange: removed from the router when dropped, so a
/// client hanging up (which drops the handler or the stream) never leaves it behind.
pub struct SubscriptionGuard {
    shared: Arc<Shared>,
    sub: Arc<Subscription>,
}

impl SubscriptionGuard {
    /// Adds `sub` to the router.
    pub fn subscribe(shared: &Arc<Shared>, sub: Subscription) -> Result<Self, SublistError> {
        let sub = Arc::new(sub);
        shared.router.subscribe(sub.clone())?;
        Ok(SubscriptionGuard {
            shared: shared.clone(),
            sub,
        })
    }

    /// Removes the subscription now (dropping the guard does it too).
    pub fn unsubscribe(&self) {
        self.shared.router.unsubscribe(&self.sub);
    }

    /// The server the subscription lives in.
    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    /// The subscribed subject or pattern.
    pub fn subject(&self) -> Bytes {
        self.sub.subject.clone()
    }
}

impl Drop for SubscriptionGuard {
    fn drop(&mut self) {
        self.unsubscribe();
    }
}
