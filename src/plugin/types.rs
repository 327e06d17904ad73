//! Plain Rust mirrors of the WIT types in `wit/plugin.wit`, plus the limits and errors of
//! the plugin host.
//!
//! Nothing here mentions wasmtime, so the rest of the broker (routing, bindings, the HTTP
//! upload handler) can use plugins without depending on the runtime's types; `host.rs`
//! converts at the boundary.

use std::time::Duration;

/// The front-end a message came in through (WIT `protocol`); plugins may treat them
/// differently, e.g. only check HTTP uploads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// The NATS client protocol over TCP.
    Nats,
    /// The NATS protocol or the JSON frames over WebSocket.
    Websocket,
    /// HTTP `POST /v1/publish` or `/v1/request`.
    Http,
}

/// Who sent a message and when (WIT `context`); the only time source a plugin gets, since
/// guests have no clock of their own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    /// The front-end the message came in through.
    pub protocol: Protocol,
    /// The connection id (as in `/connz`), when there is a connection.
    pub client_id: Option<u64>,
    /// The authenticated user name, when auth is on and users are configured.
    pub user: Option<String>,
    /// When Sluice received the message, in nanoseconds since the Unix epoch.
    pub received_at_unix_nanos: u64,
}

/// A message as seen by (and emitted from) a plugin (WIT `message`); the broker converts
/// its own message type to this at the chain's entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PluginMessage {
    /// The literal subject it was published to.
    pub subject: String,
    /// The reply subject of a request, if any.
    pub reply_to: Option<String>,
    /// Headers in order; a name may repeat.
    pub headers: Vec<(String, String)>,
    /// The body, any bytes.
    pub payload: Vec<u8>,
}

/// Changes a plugin asks for (WIT `edit`); only what is set changes, so a plugin that
/// touches one header does not copy the payload back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Edit {
    /// A new subject. The host does not validate it: the caller must check that it is a
    /// valid literal subject before routing.
    pub subject: Option<String>,
    /// Headers to set, each replacing every value of that name. The caller must check them
    /// (`convert::check_headers`) before routing, as it does the subject.
    pub set_headers: Vec<(String, String)>,
    /// Header names to remove.
    pub remove_headers: Vec<String>,
    /// A new payload.
    pub payload: Option<Vec<u8>>,
}

/// What happens to a message (WIT `verdict`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Deliver it unchanged.
    Pass,
    /// Drop it silently; the string says why (for metrics and debug logs).
    Drop(String),
    /// Deliver it with these changes.
    Modify(Edit),
    /// Replace it by these messages, in order (at most `Limits::max_emit` of them).
    Emit(Vec<PluginMessage>),
    /// Refuse it: the binding's `on_error` policy applies and the publisher is told.
    Reject {
        /// A short reason the publisher sees.
        reason: String,
        /// True when trying again later may succeed.
        retryable: bool,
    },
}

/// Checks an `emit` verdict's size against `max_emit` before its messages are converted or
/// routed; over it, the whole verdict is a failure (`on_error` applies), never a truncation.
pub fn check_emit(messages: usize, max_emit: usize) -> Result<(), CallError> {
    if messages > max_emit {
        return Err(CallError::TooManyEmits(messages));
    }
    Ok(())
}

/// Per-instance resource limits, so a plugin that loops, allocates without bound or fans
/// out without bound costs only its own messages, never the broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// CPU (wall) time allowed per call, enforced by epoch interruption with a 1 ms tick,
    /// so the effective bound is `deadline` rounded up to the tick plus up to one tick.
    /// `init` gets [`INIT_DEADLINE_FACTOR`] times this.
    pub deadline: Duration,
    /// Bytes of linear memory an instance may have in total (all its memories together).
    pub memory: usize,
    /// The most messages one `emit` verdict may carry.
    pub max_emit: usize,
}

/// How many times the per-call deadline `init` gets: it runs once and may parse config or
/// build tables, so it is allowed more than a message call.
pub const INIT_DEADLINE_FACTOR: u32 = 10;

impl Default for Limits {
    /// The defaults of a binding that sets no limits: 10 ms, 16 MiB, 100 messages.
    fn default() -> Self {
        Limits {
            deadline: Duration::from_millis(10),
            memory: 16 << 20,
            max_emit: 100,
        }
    }
}

/// Why an upload was refused; the `Display` texts are meant for a 400 answer to whoever
/// uploaded it, so they name the problem and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The upload exceeds the configured size limit.
    #[error("plugin is {size} bytes, over the limit of {max} bytes")]
    TooLarge {
        /// The upload's size in bytes.
        size: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// The bytes are not a WebAssembly component (random bytes, or a core module).
    #[error("not a WebAssembly component: {0}")]
    NotAComponent(String),
    /// A component, but not of world `sluice:plugin/message-filter@0.1.0` (missing the
    /// `filter` export, or importing something Sluice does not provide).
    #[error("the component does not implement world sluice:plugin/message-filter@0.1.0: {0}")]
    WrongWorld(String),
    /// A component that failed validation or compilation.
    #[error("the component failed to compile: {0}")]
    Compile(String),
    /// Reading the compiled-artifact cache failed in a way that is not just a miss.
    #[error("plugin cache I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Why a call into a plugin failed. After `Deadline`, `Memory` and `Trap` the instance
/// is poisoned (`Instance::is_poisoned`) and must be dropped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The call ran past `Limits::deadline` and was interrupted.
    #[error("plugin exceeded its CPU deadline")]
    Deadline,
    /// The instance tried to grow its memory past `Limits::memory`.
    #[error("plugin exceeded its memory limit")]
    Memory,
    /// The guest trapped (a panic, `unreachable`, an out-of-bounds access, `exit`), broke
    /// the interface contract, or the instance was already poisoned.
    #[error("plugin trapped: {0}")]
    Trap(String),
    /// An `emit` verdict carried this many messages, over `Limits::max_emit`.
    #[error("plugin emitted {0} messages, over its max_emit limit")]
    TooManyEmits(usize),
    /// `init` refused the config (its error string) or failed while instantiating.
    #[error("plugin init failed: {0}")]
    Init(String),
}
