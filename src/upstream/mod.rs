//! Upstream mode: sluice as a stateless gateway in front of a real NATS cluster.
//!
//! The cluster routes and persists; the gateway keeps its front-ends, authentication and
//! plugin chain. One async-nats connection (a well-kept client that already handles the
//! server pool, reconnection, TLS and credentials) carries everything:
//!
//! - Publishes, after the plugin chain, are queued in order on one task that hands them to
//!   the connection ([`Upstream::forward`]); the queue is bounded in bytes (`max_buffer`),
//!   which is what holds messages while the cluster is unreachable.
//! - Local subscriptions are reported by the router per distinct (subject, queue): the first
//!   one subscribes upstream, the last one unsubscribes, so a thousand browsers on one
//!   subject cost one upstream subscription. Queue subscriptions subscribe upstream with the
//!   same queue name, so a group split over several gateways still gets each message once.
//! - Subscribes, unsubscribes and publishes go through the same ordered queue, so a request
//!   whose inbox subscription was just made cannot overtake it.
//! - `$JS.API` requests and acks are ordinary messages here: JetStream clients talk to the
//!   cluster's JetStream through the gateway unchanged.

mod convert;
pub mod plugins;
pub mod streams;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use async_nats::connection::State;
use bytes::Bytes;
use futures_util::StreamExt;
use rustc_hash::FxHashMap;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::UpstreamConfig;
use crate::core::message::Message;
use crate::core::router::{Publisher, Uplink};
use crate::server::Shared;

/// Messages handed to the router per wake-up of an upstream subscription's task.
const DELIVERY_BATCH: usize = 256;
/// Messages async-nats holds per upstream subscription while its delivery task catches
/// up; beyond that it drops them (a slow-consumer event), so this is generous.
const SUBSCRIPTION_CAPACITY: usize = 512 * 1024;
/// Queued publish bytes above which publishers wait (while connected) for the queue to
/// drain, instead of outrunning the upstream connection.
const HIGH_WATER: usize = 4 * 1024 * 1024;
/// Full delivery batches in a row after which a subscription's task counts as behind
/// (thousands of messages waiting): local publishers then wait, leaving the CPU to
/// delivery, rather than let async-nats drop what it cannot hold.
const BEHIND_AFTER: u32 = 8;
/// Longest pause between reconnection attempts.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(2);

/// A local subscription's identity upstream: its subject pattern and queue group.
type InterestKey = (Bytes, Option<Bytes>);

/// Work for the upstream task, in the order it must reach the cluster.
enum Op {
    Publish { msg: Message, size: usize },
    Subscribe(InterestKey),
    Unsubscribe(InterestKey),
}

/// The gateway's connection to the upstream cluster.
pub struct Upstream {
    client: async_nats::Client,
    ops: mpsc::UnboundedSender<Op>,
    /// Bytes of publishes queued and not yet handed to the connection.
    buffered: Arc<AtomicUsize>,
    /// Upstream subscriptions whose delivery task is behind (see [`BEHIND_AFTER`]).
    lagging: Arc<AtomicUsize>,
    max_buffer: usize,
    /// Publishes refused because the buffer was full.
    refused: AtomicU64,
    /// Which streams capture which subjects, for HTTP publish acks.
    pub streams: streams::StreamLookup,
}

impl Upstream {
    /// Connects (in the background: the gateway starts even when the cluster is down, and
    /// reports not ready until it is reachable) and starts the forwarding task.
    pub async fn start(config: &UpstreamConfig, shared: Arc<Shared>) -> anyhow::Result<Arc<Self>> {
        let client = connect_options(config)
            .connect(config.servers.clone())
            .await
            .map_err(|e| anyhow::anyhow!("upstream: {e}"))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let buffered = Arc::new(AtomicUsize::new(0));
        let lagging = Arc::new(AtomicUsize::new(0));
        let tasks = Tasks {
            shared: shared.clone(),
            buffered: buffered.clone(),
            lagging: lagging.clone(),
        };
        tokio::spawn(run(client.clone(), rx, tasks));
        info!(servers = ?config.servers_redacted(), "upstream mode: routing and persistence by the NATS cluster");
        Ok(Arc::new(Upstream {
            streams: streams::StreamLookup::new(client.clone()),
            client,
            ops: tx,
            buffered,
            lagging,
            max_buffer: config.max_buffer,
            refused: AtomicU64::new(0),
        }))
    }

    /// Whether a server of the cluster is connected right now.
    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == State::Connected
    }

    /// The upstream connection, for requests the gateway makes on its own behalf.
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// Backpressure for publishers: while the cluster is connected and more than
    /// [`HIGH_WATER`] bytes are queued for it, waits until the queue drains (a NATS
    /// connection then stops reading its socket, so TCP slows the client down, as a full
    /// nats-server route would). While disconnected it returns at once: publishes then
    /// fill `max_buffer` and are refused beyond it.
    pub async fn wait_for_room(&self) {
        loop {
            let full = self.buffered() > HIGH_WATER;
            let behind = self.lagging.load(Ordering::Relaxed) > 0;
            if !(full || behind) || !self.is_connected() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Publishes refused so far because the reconnect buffer was full.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Bytes of publishes waiting to be handed to the connection.
    pub fn buffered(&self) -> usize {
        self.buffered.load(Ordering::Relaxed)
    }

    /// On shutdown: waits (at most `timeout`) until the queued publishes reached the
    /// connection and the connection flushed them, so a graceful stop loses nothing queued.
    pub async fn drain(&self, timeout: Duration) {
        let wait = async {
            while self.buffered() > 0 && self.is_connected() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            // Unreachable cluster: nothing can be flushed, so do not wait for it.
            if self.is_connected() {
                let _ = self.client.flush().await;
            }
        };
        let _ = tokio::time::timeout(timeout, wait).await;
    }

    /// The URL of the server connected to, if any.
    pub fn connected_url(&self) -> Option<String> {
        self.is_connected().then(|| {
            let info = self.client.server_info();
            format!("nats://{}:{}", info.host, info.port)
        })
    }
}

impl Uplink for Upstream {
    fn forward(&self, msg: &Message) -> bool {
        // A request nobody can answer fails now (the requester gets no-responders) rather
        // than after its timeout; plain publishes wait in the buffer for the reconnect.
        if msg.reply.is_some() && !self.is_connected() {
            return false;
        }
        let size = msg.subject.len() + msg.size();
        let before = self.buffered.fetch_add(size, Ordering::AcqRel);
        if before + size > self.max_buffer {
            self.buffered.fetch_sub(size, Ordering::AcqRel);
            if self
                .refused
                .fetch_add(1, Ordering::Relaxed)
                .is_multiple_of(10_000)
            {
                warn!(
                    max_buffer = self.max_buffer,
                    "upstream buffer full: refusing publishes until the cluster is reachable"
                );
            }
            return false;
        }
        let op = Op::Publish {
            msg: msg.clone(),
            size,
        };
        self.ops.send(op).is_ok()
    }

    fn interest(&self, subject: &Bytes, queue: Option<&Bytes>, added: bool) {
        let key = (subject.clone(), queue.cloned());
        let op = if added {
            Op::Subscribe(key)
        } else {
            Op::Unsubscribe(key)
        };
        let _ = self.ops.send(op);
    }
}

fn connect_options(config: &UpstreamConfig) -> async_nats::ConnectOptions {
    let mut opts = match (&config.token, &config.user) {
        (Some(token), _) => async_nats::ConnectOptions::with_token(token.clone()),
        (None, Some((user, password))) => {
            async_nats::ConnectOptions::with_user_and_password(user.clone(), password.clone())
        }
        (None, None) => async_nats::ConnectOptions::new(),
    };
    opts = opts
        .name(&config.name)
        .retry_on_initial_connect()
        .max_reconnects(None)
        .reconnect_delay_callback(|attempt| {
            (Duration::from_millis(100) * attempt as u32).min(MAX_RECONNECT_DELAY)
        })
        .connection_timeout(Duration::from_secs(2))
        .subscription_capacity(SUBSCRIPTION_CAPACITY)
        .event_callback(|event| async move {
            match event {
                async_nats::Event::Connected => info!("upstream connected"),
                async_nats::Event::Disconnected => warn!("upstream disconnected; reconnecting"),
                async_nats::Event::LameDuckMode => info!("upstream server entered lame duck mode"),
                other => warn!("upstream: {other}"),
            }
        });
    if config.tls.required {
        opts = opts.require_tls(true);
    }
    if let Some(ca) = &config.tls.ca_file {
        opts = opts.add_root_certificates(ca.clone());
    }
    if let (Some(cert), Some(key)) = (&config.tls.cert_file, &config.tls.key_file) {
        opts = opts.add_client_certificate(cert.clone(), key.clone());
    }
    opts
}

/// The upstream task: applies publishes and interest changes in order.
/// What the upstream task and the delivery tasks it starts share.
#[derive(Clone)]
struct Tasks {
    shared: Arc<Shared>,
    buffered: Arc<AtomicUsize>,
    lagging: Arc<AtomicUsize>,
}

async fn run(client: async_nats::Client, mut ops: mpsc::UnboundedReceiver<Op>, tasks: Tasks) {
    let mut subscriptions: FxHashMap<InterestKey, CancellationToken> = FxHashMap::default();
    while let Some(op) = ops.recv().await {
        match op {
            Op::Publish { msg, size } => {
                publish(&client, msg).await;
                tasks.buffered.fetch_sub(size, Ordering::AcqRel);
            }
            Op::Subscribe(key) => {
                let subject = String::from_utf8_lossy(&key.0).into_owned();
                let result = match &key.1 {
                    None => client.subscribe(subject).await,
                    Some(q) => {
                        let queue = String::from_utf8_lossy(q).into_owned();
                        client.queue_subscribe(subject, queue).await
                    }
                };
                match result {
                    Ok(subscriber) => {
                        let stop = CancellationToken::new();
                        subscriptions.insert(key.clone(), stop.clone());
                        tokio::spawn(deliver(tasks.clone(), subscriber, key, stop));
                    }
                    Err(e) => warn!(subject = ?key.0, "upstream subscribe failed: {e}"),
                }
            }
            Op::Unsubscribe(key) => {
                if let Some(stop) = subscriptions.remove(&key) {
                    stop.cancel();
                }
            }
        }
    }
}

async fn publish(client: &async_nats::Client, msg: Message) {
    let Ok(subject) = async_nats::Subject::from_utf8(msg.subject) else {
        return; // the front-ends only accept valid subjects; nothing to send otherwise
    };
    let reply = msg
        .reply
        .and_then(|r| async_nats::Subject::from_utf8(r).ok());
    let result = match (reply, msg.headers) {
        (None, None) => client.publish(subject, msg.payload).await,
        (None, Some(h)) => {
            let headers = convert::to_header_map(&h);
            client
                .publish_with_headers(subject, headers, msg.payload)
                .await
        }
        (Some(reply), None) => client.publish_with_reply(subject, reply, msg.payload).await,
        (Some(reply), Some(h)) => {
            let headers = convert::to_header_map(&h);
            client
                .publish_with_reply_and_headers(subject, reply, headers, msg.payload)
                .await
        }
    };
    if let Err(e) = result {
        warn!("upstream publish failed: {e}");
    }
}

/// Hands what the cluster sends for one upstream subscription to the matching local ones.
async fn deliver(
    tasks: Tasks,
    subscriber: async_nats::Subscriber,
    key: InterestKey,
    stop: CancellationToken,
) {
    let shared = &tasks.shared;
    let mut publisher = Publisher::new(shared.next_client_id(), true);
    let mut batches = subscriber.ready_chunks(DELIVERY_BATCH);
    let mut lag = Lag::new(&tasks.lagging);
    loop {
        tokio::select! {
            batch = batches.next() => {
                let Some(batch) = batch else { return };
                lag.batch(batch.len() == DELIVERY_BATCH);
                for m in batch {
                    let msg = convert::from_upstream(m);
                    shared.router.deliver_upstream(&mut publisher, &key.0, key.1.as_ref(), &msg);
                }
                publisher.flush();
            }
            _ = stop.cancelled() => {
                let _ = batches.into_inner().unsubscribe().await;
                return;
            }
        }
    }
}

/// Whether one delivery task is behind, kept in the shared count of lagging tasks (and
/// taken out of it when the task ends).
struct Lag<'a> {
    lagging: &'a AtomicUsize,
    full_in_a_row: u32,
    behind: bool,
}

impl<'a> Lag<'a> {
    fn new(lagging: &'a AtomicUsize) -> Self {
        Lag {
            lagging,
            full_in_a_row: 0,
            behind: false,
        }
    }

    /// Records one batch: `full` when it had as many messages as a batch can hold.
    fn batch(&mut self, full: bool) {
        self.full_in_a_row = if full { self.full_in_a_row + 1 } else { 0 };
        let behind = self.full_in_a_row >= BEHIND_AFTER;
        if behind != self.behind {
            self.behind = behind;
            if behind {
                self.lagging.fetch_add(1, Ordering::Relaxed);
            } else {
                self.lagging.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

impl Drop for Lag<'_> {
    fn drop(&mut self) {
        if self.behind {
            self.lagging.fetch_sub(1, Ordering::Relaxed);
        }
    }
}
