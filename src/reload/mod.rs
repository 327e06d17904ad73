//! Live reload, as nats-server does it on SIGHUP: the binary reads its config file again
//! (with the same command-line flags laid over it) and hands the result to [`reload`].
//!
//! All or nothing: an invalid file, a change to something that cannot change while the
//! server runs (listeners, storage, upstream; see [`diff::fixed_changes`]), a certificate
//! that does not load or a preloaded plugin that does not start refuses the whole reload
//! and the server keeps running as it was. Otherwise the new configuration replaces the
//! old in one swap and then:
//!
//! - auth (token, users, passwords, permissions, admin): every open NATS connection and
//!   HTTP session is checked again. Credentials no longer valid close it with
//!   `-ERR 'Authorization Violation'`; shrunk permissions apply to its next publish, and
//!   each subscription they no longer allow is removed with
//!   `-ERR 'Permissions Violation for Subscription to "x" (sid "1")'` (nats-server's text);
//!   the others keep delivering;
//! - `[nats]` limits apply to open connections too (payload, control line, pending bytes,
//!   pings, write deadline); `max_connections` closes the newest connections above it;
//! - `[nats.tls]` certificates are read again for new connections;
//! - `[[plugins.preload]]` changes are applied like uploads, PATCHes and deletions;
//! - the log level (`[logging] debug/trace`) is the binary's to apply.

mod clients;
pub mod diff;
mod sessions;

use std::sync::Arc;
use std::sync::atomic::{Ordering, fence};

use parking_lot::Mutex;

use crate::auth::Authenticator;
use crate::config::{Config, ConfigError};
use crate::server::Shared;
pub use clients::recheck_client;
pub use sessions::{Session, Sessions};

/// Why a reload was refused; the server keeps its configuration.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The file (or the flags over it) does not make a valid configuration.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// Options that cannot change while the server runs were changed.
    #[error("config reload not supported for {}", .0.join("; "))]
    NotSupported(Vec<String>),
    /// The new configuration is valid but cannot be put in place (a certificate that does
    /// not load, a preloaded plugin that does not start).
    #[error("{0}")]
    Prepare(String),
}

/// One reload at a time: two SIGHUPs in a row must not interleave their swaps.
static SERIAL: Mutex<()> = Mutex::new(());

/// Replaces the running configuration with `new`, or refuses it as a whole. Returns one
/// line per applied change, for the log. Blocking (compiles plugins, may check bcrypt
/// passwords): call it off the I/O threads.
pub fn reload(shared: &Shared, new: Config) -> Result<Vec<String>, ReloadError> {
    let _serial = SERIAL.lock();
    let old = Arc::clone(&*shared.config());
    let fixed = diff::fixed_changes(&old, &new);
    if !fixed.is_empty() {
        return Err(ReloadError::NotSupported(fixed));
    }
    // Everything that can fail is prepared before anything changes.
    let tls = match &new.nats.tls {
        Some(t) if old.nats.tls.is_some() => {
            let config = crate::frontend::tls::server_config(t)
                .map_err(|e| ReloadError::Prepare(format!("{e:#}")))?;
            Some(tokio_rustls::TlsAcceptor::from(config))
        }
        _ => None,
    };
    let plan = shared
        .plugins
        .plan_preloads(&new.plugins)
        .map_err(ReloadError::Prepare)?;
    let changes = diff::applied_changes(&old, &new);
    let auth_changed = old.auth != new.auth || old.nats.tls != new.nats.tls;
    let auth = auth_changed.then(|| Authenticator::from_config(&new.auth));
    let (max_pending, max_connections) = (new.nats.max_pending, new.nats.max_connections);

    let previous = shared.install(new, auth);
    if let Some(tls) = tls {
        shared.tls.store(Some(Arc::new(tls)));
    }
    // Pairs with the fence after a client's CONNECT (and a session's opening): either this
    // sees the client's identity, or the client sees the new authenticator.
    fence(Ordering::SeqCst);
    let current = Arc::clone(&*shared.auth());
    for client in shared.clients.snapshot() {
        client.set_max_pending(max_pending);
        if let Some(previous) = &previous {
            recheck_client(shared, &client, previous, &current);
        }
    }
    if let Some(previous) = &previous {
        let revoked = shared.sessions.recheck_all(previous, &current);
        if revoked > 0 {
            tracing::info!("Closed {revoked} HTTP sessions whose credentials no longer hold");
        }
    }
    clients::enforce_max_connections(shared, max_connections);
    shared.announce_reload();
    if !plan.is_empty() {
        shared.plugins.apply_preloads(plan);
    }
    Ok(changes)
}
