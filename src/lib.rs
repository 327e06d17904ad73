//! Sluice: a NATS-compatible messaging gateway and broker.
//!
//! # Layout
//!
//! The data path reads top to bottom:
//!
//! - [`config`] and [`cli`]: the TOML file and nats-server compatible flags, merged and validated.
//! - [`server`]: binds listeners, owns the shared state, shuts down gracefully.
//! - [`frontend`]: wire formats in and out: the NATS client protocol over TCP and WebSocket,
//!   and the HTTP gateway API (publish, request/reply, Server-Sent Events, a JSON WebSocket
//!   for pages without a NATS library, OpenAPI).
//! - [`protocol`]: the NATS protocol codec (parser and encoder), independent of sockets.
//! - [`auth`]: users, tokens and subject permissions, shared by every front-end.
//! - [`core`]: subjects, the subscription trie, the message type and the router.
//! - [`plugin`]: WebAssembly plugins, run on every published message before routing.
//! - [`jetstream`]: persistence: the `$JS.API`, streams, consumers and their store.
//! - [`upstream`]: upstream mode, a stateless gateway in front of a real NATS cluster.
//! - [`lame_duck`]: SIGUSR2: stop accepting, tell clients, close them gradually, exit.
//! - [`reload`]: SIGHUP: apply a changed config file to the running server, or refuse it.
//! - [`monitor`]: `/varz`, `/connz`, `/subsz`, `/healthz` and Prometheus `/metrics`.

// `/varz` is one `serde_json::json!` literal with more fields than the default limit allows.
#![recursion_limit = "256"]

pub mod auth;
pub mod cli;
pub mod config;
pub mod core;
pub mod frontend;
pub mod jetstream;
pub mod lame_duck;
pub mod monitor;
pub mod plugin;
pub mod protocol;
pub mod reload;
pub mod server;
pub mod upstream;
