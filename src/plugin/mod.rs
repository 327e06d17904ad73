//! WebAssembly plugins: user code that sees every message before it is routed or stored.
//!
//! - `host.rs`: the wasmtime engine, loading and validating components, calls under a CPU
//!   deadline and a memory cap.
//! - `binding.rs`: which subjects a plugin sees, its order, config, limits and error policy.
//! - `chain.rs`: running the bound plugins in order on one message.
//! - `convert.rs`: between broker messages and the plugin's view of them.
//! - `registry.rs`: upload, replace, change, remove and persist plugins (hot swap).
//! - `preload.rs`: `[[plugins.preload]]` from the config file, at start and on reload.
//! - `metrics.rs`: counters per plugin.
//!
//! Front-ends call [`Plugins::process`] (through [`route`]) on every publish. With no plugin
//! loaded that is one atomic load; with plugins, the chain runs in the publisher's own task,
//! so each publisher's messages keep their order.

pub mod binding;
pub mod chain;
pub mod cli;
pub mod convert;
pub mod host;
pub mod metrics;
pub mod preload;
pub mod registry;
pub mod types;

use bytes::Bytes;

use crate::core::message::Message;
use crate::core::router::Publisher;
use crate::server::Shared;
pub use chain::{Chained, Rejection};
pub use host::{Context, Protocol};
pub use registry::Plugins;

/// What happened to a published message.
#[derive(Debug, Default)]
pub struct Routed {
    /// Subscriptions that received something (0 for a request means no responders).
    pub delivered: usize,
    /// Set when a plugin rejected the message.
    pub rejected: Option<Rejection>,
    /// Messages the router got (after the chain): 1 without plugins.
    pub routed: usize,
}

/// Runs the plugin chain on `msg` and routes the result: what every front-end does with a
/// message it received. Dead letters are routed too, without going through the chain again.
pub fn route(
    shared: &Shared,
    publisher: &mut Publisher,
    ctx: impl FnOnce() -> Context,
    msg: Message,
) -> Routed {
    route_chained(shared, publisher, shared.plugins.process(ctx, msg))
}

/// [`route`] for several messages of one publisher (a read's worth of publishes): the chain
/// runs once per plugin for all of them, then each is routed in order. One result per
/// message.
pub fn route_batch(
    shared: &Shared,
    publisher: &mut Publisher,
    ctx: impl FnOnce() -> Context,
    msgs: Vec<Message>,
) -> Vec<Routed> {
    shared
        .plugins
        .process_batch(ctx, msgs)
        .into_iter()
        .map(|chained| route_chained(shared, publisher, chained))
        .collect()
}

fn route_chained(shared: &Shared, publisher: &mut Publisher, chained: Chained) -> Routed {
    match chained {
        Chained::Untouched(msg) => Routed {
            delivered: shared.router.publish(publisher, &msg),
            rejected: None,
            routed: 1,
        },
        Chained::Processed(p) => {
            let mut delivered = 0;
            for m in &p.deliver {
                delivered += shared.router.publish(publisher, m);
            }
            for m in &p.dead_letters {
                shared.router.publish(publisher, m);
            }
            Routed {
                delivered,
                rejected: p.rejected,
                routed: p.deliver.len(),
            }
        }
    }
}

/// The reply a NATS requester gets when a plugin rejected its message: JetStream's error
/// JSON when a stream captures the subject (so `js.publish` raises it), else a status
/// message `400 Rejected By Plugin` with the plugin and reason in headers and the reason as
/// payload.
pub fn rejection_reply(shared: &Shared, subject: &[u8], reply: Bytes, r: &Rejection) -> Message {
    let description = format!("rejected by plugin {}: {}", r.plugin, r.reason);
    let captured = shared
        .jetstream
        .get()
        .and_then(|js| js.stream_for_subject(subject));
    if let Some(stream) = captured {
        let err = crate::jetstream::api::errors::ApiError::new(400, 10000, description);
        let body = crate::jetstream::api::types::pub_ack_error(&stream.name, "", &err);
        return Message {
            subject: reply,
            reply: None,
            headers: None,
            payload: Bytes::from(body),
        };
    }
    let pairs = vec![
        ("Sluice-Plugin".to_string(), r.plugin.clone()),
        ("Sluice-Reject-Reason".to_string(), r.reason.clone()),
    ];
    let mut block = b"NATS/1.0 400 Rejected By Plugin\r\n".to_vec();
    if let Some(h) = convert::header_block(&pairs) {
        block.extend_from_slice(&h["NATS/1.0\r\n".len()..]);
    }
    Message {
        subject: reply,
        reply: None,
        headers: Some(Bytes::from(block)),
        payload: Bytes::from(r.reason.clone()),
    }
}

/// The context of a message received now.
pub fn context(protocol: Protocol, client_id: Option<u64>, user: Option<&str>) -> Context {
    Context {
        protocol,
        client_id,
        user: user.map(str::to_owned),
        received_at_unix_nanos: crate::jetstream::now_nanos().max(0) as u64,
    }
}
