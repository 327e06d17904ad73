//! Lame duck mode, as nats-server does it on SIGUSR2: stop accepting clients, tell the
//! connected ones (INFO with `ldm: true`, which client libraries take as "reconnect
//! elsewhere"), give them a grace period to leave, then close the rest spread over the lame
//! duck duration, so a rolling restart does not make every client reconnect at once.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::frontend::nats::client::CloseReason;
use crate::frontend::nats::render_info;
use crate::server::Shared;

/// Runs lame duck mode to its end; returns early if `shutdown` fires meanwhile.
pub async fn run(
    shared: &Arc<Shared>,
    accepting: &CancellationToken,
    shutdown: &CancellationToken,
) {
    // Read once: a reload during lame duck mode does not stretch or shorten it.
    let (grace, duration) = {
        let nats = &shared.config().nats;
        (nats.lame_duck_grace_period, nats.lame_duck_duration)
    };
    info!("Entering lame duck mode, stop accepting new clients");
    // Load balancers and Kubernetes stop sending new clients here.
    shared.ready.store(false, Ordering::Release);
    accepting.cancel();
    for client in shared.clients.snapshot() {
        client.send_proto(&render_info(
            shared,
            client.id,
            client.addr,
            // nats-server's lame duck INFO carries no nonce: CONNECT is long past.
            None,
            true,
            client.websocket,
        ));
    }
    tokio::select! {
        _ = tokio::time::sleep(grace) => {}
        _ = shutdown.cancelled() => return,
    }
    let clients = shared.clients.snapshot();
    if clients.is_empty() {
        return;
    }
    let spread = duration.saturating_sub(grace);
    let pause = spread / u32::try_from(clients.len()).unwrap_or(u32::MAX);
    info!(count = clients.len(), "Closing existing clients");
    for client in clients {
        client.close(CloseReason::ServerShutdown, true);
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}
