//! Open NATS connections (TCP and WebSocket) after a reload: each is checked against the new
//! users and permissions, and held to the new connection limit, the way nats-server's
//! `reloadAuthorization` and `max_connections` reload do it.

use tracing::{info, warn};

use crate::auth::Authenticator;
use crate::frontend::nats::client::{ClientState, CloseReason};
use crate::frontend::nats::conn::quote;
use crate::server::Shared;

/// Checks one connection's credentials again: `previous` accepted them, `current` is in
/// force. Credentials no longer valid (user removed, password or token changed) close the
/// connection with `-ERR 'Authorization Violation'`; otherwise the connection keeps going
/// under its new permissions, and each subscription they no longer allow is removed and
/// reported with nats-server's text. A client that has not sent CONNECT yet is left alone:
/// its CONNECT is checked against `current`.
pub fn recheck_client(
    shared: &Shared,
    client: &ClientState,
    previous: &Authenticator,
    current: &Authenticator,
) {
    let Some(credentials) = client.credentials() else {
        return;
    };
    if client.close_reason().is_some() {
        return;
    }
    let who = client.user().unwrap_or("").to_string();
    let Some(identity) = current.reauthenticate(previous, credentials.as_credentials()) else {
        warn!(cid = client.id, user = %who, "Authorization revoked by a reload; closing the connection.");
        client.send_err("Authorization Violation");
        client.close(CloseReason::AuthenticationViolation, true);
        return;
    };
    for sub in client.replace_permissions(identity.permissions) {
        shared.router.unsubscribe(&sub);
        let (subject, sid) = (quote(&sub.subject), quote(&sub.sid));
        let text = match &sub.queue {
            Some(q) => format!(
                "Permissions Violation for Subscription to {subject} using queue {} (sid {sid})",
                quote(q)
            ),
            None => format!("Permissions Violation for Subscription to {subject} (sid {sid})"),
        };
        client.send_err(&text);
        info!(cid = client.id, user = %who, "Removed sub {subject} (sid {sid}) - not authorized");
    }
}

/// Closes connections beyond a lowered `max_connections` (the newest first, so long-lived
/// clients stay), with the error a client over the limit gets at connect.
pub fn enforce_max_connections(shared: &Shared, max: usize) {
    let mut clients = shared.clients.snapshot();
    clients.retain(|c| c.close_reason().is_none());
    if max == 0 || clients.len() <= max {
        return;
    }
    clients.sort_unstable_by_key(|c| std::cmp::Reverse(c.id));
    let excess = clients.len() - max;
    for client in clients.iter().take(excess) {
        client.send_err("maximum connections exceeded");
        client.close(CloseReason::MaxConnectionsExceeded, true);
    }
    info!("Closed {excess} connections to fall within max_connections");
}
