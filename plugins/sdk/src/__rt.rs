//! The component glue (wasm32 only): wit-bindgen bindings for world `message-filter` and the
//! conversions between them and the SDK's plain types. Used by [`crate::export_plugin!`].

use std::cell::RefCell;
use std::thread::LocalKey;

use crate::{Config, Context, Edit, Level, Message, Plugin, Protocol, Verdict};

/// The wit-bindgen runtime, for the generated code (`runtime_path`).
pub use wit_bindgen;

/// wit-bindgen's output for `wit/plugin.wit`.
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "message-filter",
        pub_export_macro: true,
        export_macro_name: "export",
        runtime_path: "::sluice_plugin_sdk::__rt::wit_bindgen::rt",
    });
}

use bindings::sluice::plugin::{host, types as wit};

/// The trait `export_plugin!` implements.
pub use bindings::exports::sluice::plugin::filter::Guest;
/// The config as it crosses the boundary.
pub type WitConfig = Vec<(String, String)>;
/// The generated types `export_plugin!` names.
pub use wit::{Context as WitContext, Message as WitMessage, Verdict as WitVerdict};

/// Where `export_plugin!` keeps the instance's plugin value.
pub type Slot<P> = LocalKey<RefCell<Option<P>>>;

/// Calls the host's `log` import.
pub fn log(level: Level, message: &str) {
    let level = match level {
        Level::Trace => host::Level::Trace,
        Level::Debug => host::Level::Debug,
        Level::Info => host::Level::Info,
        Level::Warn => host::Level::Warn,
        Level::Error => host::Level::Error,
    };
    host::log(level, message);
}

/// `init`: builds the plugin into the slot. A failed init leaves the instance without a
/// plugin (a later `on-message` is rejected), even if an earlier init had succeeded.
pub fn init<P: Plugin>(slot: &'static Slot<P>, config: WitConfig) -> Result<(), String> {
    slot.set(None);
    let plugin = P::init(&Config::new(config))?;
    slot.with_borrow_mut(|s| *s = Some(plugin));
    Ok(())
}

fn not_initialised() -> WitVerdict {
    WitVerdict::Reject(wit::Rejection {
        reason: "plugin called before a successful init".into(),
        retryable: false,
    })
}

/// `on-message`: converts, calls the plugin, converts the verdict back.
pub fn on_message<P: Plugin>(
    slot: &'static Slot<P>,
    ctx: WitContext,
    msg: WitMessage,
) -> WitVerdict {
    let ctx = context_from(ctx);
    slot.with_borrow(|p| match p {
        Some(p) => verdict_to(p.on_message(&ctx, message_from(msg))),
        None => not_initialised(),
    })
}

/// `on-batch`: like `on_message`; a plugin answering the wrong number of verdicts gets every
/// message of the batch rejected (the host relies on one verdict per message).
pub fn on_batch<P: Plugin>(
    slot: &'static Slot<P>,
    ctx: WitContext,
    msgs: Vec<WitMessage>,
) -> Vec<WitVerdict> {
    let ctx = context_from(ctx);
    slot.with_borrow(|p| match p {
        Some(p) => {
            let n = msgs.len();
            let mut out: Vec<WitVerdict> = p
                .on_batch(&ctx, msgs.into_iter().map(message_from).collect())
                .into_iter()
                .map(verdict_to)
                .collect();
            // The host expects exactly one verdict per message.
            if out.len() != n {
                let reason = format!(
                    "plugin returned {} verdicts for a batch of {n} messages",
                    out.len()
                );
                out = (0..n)
                    .map(|_| {
                        WitVerdict::Reject(wit::Rejection {
                            reason: reason.clone(),
                            retryable: false,
                        })
                    })
                    .collect();
            }
            out
        }
        None => (0..msgs.len()).map(|_| not_initialised()).collect(),
    })
}

fn context_from(c: WitContext) -> Context {
    Context {
        protocol: match c.protocol {
            wit::Protocol::Nats => Protocol::Nats,
            wit::Protocol::Websocket => Protocol::Websocket,
            wit::Protocol::Http => Protocol::Http,
        },
        client_id: c.client_id,
        user: c.user,
        received_at_unix_nanos: c.received_at_unix_nanos,
    }
}

fn message_from(m: WitMessage) -> Message {
    Message {
        subject: m.subject,
        reply_to: m.reply_to,
        headers: m.headers,
        payload: m.payload,
    }
}

fn message_to(m: Message) -> WitMessage {
    WitMessage {
        subject: m.subject,
        reply_to: m.reply_to,
        headers: m.headers,
        payload: m.payload,
    }
}

fn verdict_to(v: Verdict) -> WitVerdict {
    match v {
        Verdict::Pass => WitVerdict::Pass,
        Verdict::Drop(reason) => WitVerdict::Drop(reason),
        Verdict::Modify(Edit {
            subject,
            set_headers,
            remove_headers,
            payload,
        }) => WitVerdict::Modify(wit::Edit {
            subject,
            set_headers,
            remove_headers,
            payload,
        }),
        Verdict::Emit(msgs) => WitVerdict::Emit(msgs.into_iter().map(message_to).collect()),
        Verdict::Reject(r) => WitVerdict::Reject(wit::Rejection {
            reason: r.reason,
            retryable: r.retryable,
        }),
    }
}
