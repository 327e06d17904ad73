//! Builds and starts everything, and stops it gracefully.
//!
//! [`Shared`] is the state every front-end and the monitor read: configuration, the router,
//! the authenticator, the live connections and the server-wide counters. [`start`] binds the
//! listeners (so tests learn the real ports before anything runs) and [`Running::wait`]
//! serves until the shutdown token fires, then flushes clients and returns.
//!
//! The configuration and the authenticator can be replaced while the server runs (SIGHUP,
//! see [`crate::reload`]), so they are read through [`Shared::config`] and [`Shared::auth`]:
//! each read sees one whole version, old or new.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use arc_swap::{ArcSwap, ArcSwapOption, Guard};
use parking_lot::Mutex;
use rand::Rng;
use rustc_hash::FxHashMap;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::auth::Authenticator;
use crate::config::Config;
use crate::core::router::Router;
use crate::frontend::limits::ListenerLimits;
use crate::frontend::nats::client::{ClientState, CloseReason};
use crate::frontend::tls::HttpTls;
use crate::jetstream::JetStream;
use crate::plugin::Plugins;
use crate::upstream::Upstream;

/// The nats-server version we claim in INFO and `/varz`; clients pick features by it.
pub const NATS_COMPAT_VERSION: &str = "2.14.0";

/// State shared by all connections and the monitor.
pub struct Shared {
    /// Validated configuration, replaced as a whole by a reload.
    config: ArcSwap<Config>,
    /// When the configuration was loaded or last reloaded (`/varz` `config_load_time`).
    config_loaded: Mutex<SystemTime>,
    /// Bumped after each applied reload; connections watch it to pick up new limits.
    reloaded: tokio::sync::watch::Sender<u64>,
    /// Long-lived HTTP sessions (JSON WebSocket, SSE) a reload re-checks.
    pub sessions: crate::reload::Sessions,
    /// Random id in nats-server's format (56 chars starting with `N`).
    pub server_id: String,
    /// The subject router.
    pub router: Router,
    /// Credentials and permissions, replaced as a whole by a reload.
    auth: ArcSwap<Authenticator>,
    /// Live client connections.
    pub clients: ClientRegistry,
    /// Server-wide counters.
    pub stats: ServerStats,
    /// Limits of the API listener (`[api]`): connections per IP, requests per second.
    pub api_limits: Arc<ListenerLimits>,
    /// Limits of the dedicated WebSocket listener (`[websocket]`).
    pub websocket_limits: Arc<ListenerLimits>,
    /// Wall-clock start time.
    pub started: SystemTime,
    /// Monotonic start time.
    pub started_at: Instant,
    /// Set once every listener is up; `/healthz` reports 503 before.
    pub ready: AtomicBool,
    next_client_id: AtomicU64,
    nats_addr: OnceLock<SocketAddr>,
    monitor_addr: OnceLock<SocketAddr>,
    websocket_addr: OnceLock<SocketAddr>,
    api_addr: OnceLock<SocketAddr>,
    /// JetStream, once started.
    pub jetstream: OnceLock<Arc<JetStream>>,
    /// The WebAssembly plugins every published message passes through.
    pub plugins: Plugins,
    /// Upstream mode: the NATS cluster this gateway fronts.
    pub upstream: OnceLock<Arc<Upstream>>,
    /// TLS on the client port, when `[nats.tls]` is configured (a reload re-reads the
    /// certificate files; new connections use the new acceptor).
    pub tls: ArcSwapOption<tokio_rustls::TlsAcceptor>,
    shutdown: CancellationToken,
}

impl Shared {
    /// Builds the shared state from configuration.
    pub fn new(config: Config) -> Self {
        let auth = Authenticator::from_config(&config.auth);
        let plugins = Plugins::new(&config);
        let api = config.api.as_ref();
        let api_limits = ListenerLimits::new(
            "api",
            api.map_or(0, |a| a.max_connections_per_ip),
            api.and_then(|a| a.rate_limit),
        );
        let ws = &config.websocket;
        let websocket_limits =
            ListenerLimits::new("websocket", ws.max_connections_per_ip, ws.rate_limit);
        Shared {
            api_limits,
            websocket_limits,
            plugins,
            config: ArcSwap::from_pointee(config),
            config_loaded: Mutex::new(SystemTime::now()),
            reloaded: tokio::sync::watch::Sender::new(0),
            sessions: crate::reload::Sessions::default(),
            server_id: new_server_id(),
            router: Router::new(),
            auth: ArcSwap::from_pointee(auth),
            clients: ClientRegistry::default(),
            stats: ServerStats::default(),
            started: SystemTime::now(),
            started_at: Instant::now(),
            ready: AtomicBool::new(false),
            next_client_id: AtomicU64::new(1),
            nats_addr: OnceLock::new(),
            monitor_addr: OnceLock::new(),
            websocket_addr: OnceLock::new(),
            api_addr: OnceLock::new(),
            jetstream: OnceLock::new(),
            upstream: OnceLock::new(),
            tls: ArcSwapOption::empty(),
            shutdown: CancellationToken::new(),
        }
    }

    /// The configuration in force. Hold the guard briefly (not across an `.await`); a
    /// reload may replace the configuration at any time, so read related values from one
    /// guard.
    pub fn config(&self) -> Guard<Arc<Config>> {
        self.config.load()
    }

    /// The authenticator in force (see [`Shared::config`] on holding it).
    pub fn auth(&self) -> Guard<Arc<Authenticator>> {
        self.auth.load()
    }

    /// When the configuration in force was loaded.
    pub fn config_load_time(&self) -> SystemTime {
        *self.config_loaded.lock()
    }

    /// Fires (`changed()`) after every applied reload; connections re-read their limits.
    pub fn reloads(&self) -> tokio::sync::watch::Receiver<u64> {
        self.reloaded.subscribe()
    }

    /// Installs a reloaded configuration, and its authenticator when auth changed; returns
    /// the previous authenticator, against which open connections are then re-checked.
    pub(crate) fn install(
        &self,
        config: Config,
        auth: Option<Authenticator>,
    ) -> Option<Arc<Authenticator>> {
        self.config.store(Arc::new(config));
        *self.config_loaded.lock() = SystemTime::now();
        auth.map(|auth| self.auth.swap(Arc::new(auth)))
    }

    /// Tells connections a reload was applied.
    pub(crate) fn announce_reload(&self) {
        self.reloaded.send_modify(|n| *n += 1);
    }

    /// Whether the `$JS.API` is served (`-js` / `[jetstream] enabled`, or by the upstream
    /// cluster); INFO tells clients.
    pub fn jetstream_available(&self) -> bool {
        self.jetstream.get().is_some() || self.upstream.get().is_some()
    }

    /// Ready for traffic: every listener is up and, in upstream mode, the cluster is
    /// reachable (`/healthz` answers 503 otherwise, so load balancers route elsewhere).
    pub fn is_ready(&self) -> Result<(), &'static str> {
        if !self.ready.load(Ordering::Acquire) {
            return Err("server is not ready");
        }
        match self.upstream.get() {
            Some(up) if !up.is_connected() => Err("no upstream server is reachable"),
            _ => Ok(()),
        }
    }

    /// Messages and bytes delivered to clients so far: closed connections plus `clients`
    /// (a snapshot of the live ones, taken by the caller).
    pub fn out_totals(&self, clients: &[Arc<ClientState>]) -> (u64, u64) {
        let mut msgs = self.stats.closed_out_msgs.load(Ordering::Relaxed);
        let mut bytes = self.stats.closed_out_bytes.load(Ordering::Relaxed);
        for c in clients {
            msgs += c.msgs_out.load(Ordering::Relaxed);
            bytes += c.bytes_out.load(Ordering::Relaxed);
        }
        (msgs, bytes)
    }

    /// A fresh connection id.
    pub fn next_client_id(&self) -> u64 {
        self.next_client_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Where the NATS listener is bound, once it is.
    pub fn nats_addr(&self) -> Option<SocketAddr> {
        self.nats_addr.get().copied()
    }

    /// Where the dedicated WebSocket listener is bound, once it is.
    pub fn websocket_addr(&self) -> Option<SocketAddr> {
        self.websocket_addr.get().copied()
    }

    /// Where the monitor listener is bound, once it is.
    pub fn monitor_addr(&self) -> Option<SocketAddr> {
        self.monitor_addr.get().copied()
    }

    /// Where the gateway API listener is bound, once it is.
    pub fn api_addr(&self) -> Option<SocketAddr> {
        self.api_addr.get().copied()
    }

    /// Fires when the server shuts down; long-lived streams (SSE) end on it, so graceful
    /// shutdown does not wait for clients that would never hang up.
    pub fn shutdown_token(&self) -> &CancellationToken {
        &self.shutdown
    }
}

fn new_server_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut rng = rand::rng();
    let mut id = String::with_capacity(56);
    id.push('N');
    for _ in 0..55 {
        id.push(ALPHABET[rng.random_range(0..ALPHABET.len())] as char);
    }
    id
}

/// Counters for `/varz` and `/metrics`. Outbound counts live on each connection and are
/// folded in here when it closes, so the delivery path touches no shared counter.
#[derive(Default)]
pub struct ServerStats {
    /// Messages received from clients.
    pub in_msgs: AtomicU64,
    /// Bytes received from clients.
    pub in_bytes: AtomicU64,
    /// Messages delivered by connections that have closed.
    pub closed_out_msgs: AtomicU64,
    /// Bytes delivered by connections that have closed.
    pub closed_out_bytes: AtomicU64,
    /// Connections cut off as slow consumers.
    pub slow_consumers: AtomicU64,
    /// Times a publishing connection waited for a subscriber to catch up (fast-producer
    /// stall; `/varz` `stalled_clients`).
    pub stalls: AtomicU64,
    /// Connections accepted since start.
    pub total_connections: AtomicU64,
}

impl ServerStats {
    /// Adds a batch of inbound messages (called once per read, not per message).
    pub fn record_in(&self, msgs: u64, bytes: u64) {
        self.in_msgs.fetch_add(msgs, Ordering::Relaxed);
        self.in_bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// The live connections, by id.
#[derive(Default)]
pub struct ClientRegistry {
    clients: Mutex<FxHashMap<u64, Arc<ClientState>>>,
}

impl ClientRegistry {
    /// Registers a connection; false when `max` connections are already open.
    pub fn insert(&self, client: Arc<ClientState>, max: usize) -> bool {
        let mut clients = self.clients.lock();
        if max > 0 && clients.len() >= max {
            return false;
        }
        clients.insert(client.id, client);
        true
    }

    /// Forgets a closed connection.
    pub fn remove(&self, client: &ClientState) -> Option<Arc<ClientState>> {
        self.clients.lock().remove(&client.id)
    }

    /// A snapshot of the live connections.
    pub fn snapshot(&self) -> Vec<Arc<ClientState>> {
        self.clients.lock().values().cloned().collect()
    }

    /// Number of live connections.
    pub fn len(&self) -> usize {
        self.clients.lock().len()
    }

    /// True when no client is connected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A started server: listeners bound, tasks running.
pub struct Running {
    /// The shared state (tests and the monitor read it).
    pub shared: Arc<Shared>,
    tasks: JoinSet<()>,
    shutdown: CancellationToken,
    /// Cancelled when the client listeners must stop accepting (lame duck or shutdown).
    accepting: CancellationToken,
    /// Cancelled to enter lame duck mode (SIGUSR2).
    lame_duck: CancellationToken,
}

/// Binds every listener and starts serving. Returns once clients can connect.
pub async fn start(config: Config, shutdown: CancellationToken) -> anyhow::Result<Running> {
    let mut shared = Shared::new(config);
    shared.shutdown = shutdown.clone();
    let shared = Arc::new(shared);
    // The configuration as started; what a reload may change is read through `shared`.
    let config = shared.config.load_full();
    let mut tasks = JoinSet::new();
    // Client listeners stop on their own token so lame duck mode can close them first;
    // the API and the monitor keep answering until the end.
    let accepting = shutdown.child_token();

    // Upstream mode: the cluster keeps the plugins, for every replica.
    let cluster_plugins = config.upstream.as_ref().map(|_| {
        let store =
            crate::upstream::plugins::ClusterPlugins::new(tokio::runtime::Handle::current());
        shared.plugins.set_shared_store(store.clone());
        store
    });
    // Instantiating runs each plugin's init, which may use WASI streams: not on a worker.
    crate::plugin::chain::blocking(|| shared.plugins.start())?;
    if config.jetstream.enabled {
        let js = JetStream::start(shared.clone())?;
        let _ = shared.jetstream.set(js);
    }
    if let Some(up) = &config.upstream {
        let upstream = Upstream::start(up, shared.clone()).await?;
        shared.router.set_uplink(upstream.clone());
        if let Some(store) = cluster_plugins {
            let client = upstream.client().clone();
            tokio::spawn(crate::upstream::plugins::watch(
                client,
                shared.clone(),
                store,
            ));
        }
        let _ = shared.upstream.set(upstream);
    }
    let nats = &config.nats;
    if let Some(tls) = &nats.tls {
        let acceptor = tokio_rustls::TlsAcceptor::from(crate::frontend::tls::server_config(tls)?);
        shared.tls.store(Some(Arc::new(acceptor)));
    }
    // Built before anything listens, so a bad certificate or key file stops start-up.
    let http_tls = |tls: Option<&crate::config::TlsConfig>| tls.map(HttpTls::new).transpose();
    let monitor_tls = http_tls(config.monitor.as_ref().and_then(|m| m.tls.as_ref()))?;
    let websocket_tls =
        http_tls((config.websocket.listener.as_ref()).and_then(|l| l.tls.as_ref()))?;
    let api_tls = http_tls(config.api.as_ref().and_then(|a| a.tls.as_ref()))?;
    let (listener, addr) = bind(&nats.host, nats.port).await?;
    let _ = shared.nats_addr.set(addr);

    if let Some(mon) = &config.monitor {
        let (mlistener, maddr) = bind(&mon.host, mon.port).await?;
        let _ = shared.monitor_addr.set(maddr);
        info!("Starting http monitor on {}", maddr);
        tasks.spawn(crate::monitor::serve(
            shared.clone(),
            mlistener,
            monitor_tls,
            shutdown.clone(),
        ));
    }

    if let Some(ws) = &config.websocket.listener {
        let (wlistener, waddr) = bind(&ws.host, ws.port).await?;
        let _ = shared.websocket_addr.set(waddr);
        info!("Listening for websocket clients on ws://{}", waddr);
        tasks.spawn(crate::frontend::websocket::serve(
            shared.clone(),
            wlistener,
            websocket_tls,
            accepting.clone(),
        ));
    }

    if let Some(api) = &config.api {
        let (alistener, aaddr) = bind(&api.host, api.port).await?;
        let _ = shared.api_addr.set(aaddr);
        info!("Listening for API requests on {}", aaddr);
        tasks.spawn(crate::frontend::http::serve(
            shared.clone(),
            alistener,
            api_tls,
            shutdown.clone(),
        ));
    }

    info!("Listening for client connections on {}", addr);
    tasks.spawn(crate::frontend::nats::serve(
        shared.clone(),
        listener,
        accepting.clone(),
    ));
    shared.ready.store(true, Ordering::Release);
    info!("Server is ready");
    Ok(Running {
        shared,
        tasks,
        shutdown,
        accepting,
        lame_duck: CancellationToken::new(),
    })
}

/// Binds `host:port` (port 0 = any free port) and returns the address actually bound.
async fn bind(host: &str, port: u16) -> anyhow::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind((host, port))
        .await
        .with_context(|| format!("cannot listen on {host}:{port}"))?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}

impl Running {
    /// Cancelling this token puts the server in lame duck mode (see [`crate::lame_duck`]);
    /// it then shuts down by itself.
    pub fn lame_duck_token(&self) -> CancellationToken {
        self.lame_duck.clone()
    }

    /// Serves until shutdown (or the end of lame duck mode), then closes every client
    /// (flushing what is queued for them, within `grace`) and returns.
    pub async fn wait(mut self, grace: Duration) {
        tokio::select! {
            _ = self.shutdown.cancelled() => {}
            _ = self.lame_duck.cancelled() => {
                crate::lame_duck::run(&self.shared, &self.accepting, &self.shutdown).await;
                self.shutdown.cancel();
            }
        }
        self.shared.ready.store(false, Ordering::Release);
        info!("Initiating Shutdown...");
        for client in self.shared.clients.snapshot() {
            client.close(CloseReason::ServerShutdown, true);
        }
        let deadline = Instant::now() + grace;
        while !self.shared.clients.is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if let Some(upstream) = self.shared.upstream.get() {
            upstream.drain(grace).await;
        }
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
        if let Some(js) = self.shared.jetstream.get() {
            js.shutdown();
        }
        info!("Server Exiting..");
    }
}
