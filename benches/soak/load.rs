//! The NATS side of the soak load: what a phase shares ([`Ctx`], [`Pace`]), churning NATS
//! connections (async-nats clients that subscribe, publish and request, then drain or just
//! drop; raw protocol connections reset mid-operation or after they stopped reading), and
//! the long-lived flows of a phase ([`Flows`]: two publishers, plain, wildcard and queue
//! subscribers, an echo service for requests, and a sink for what HTTP and WebSocket
//! clients publish).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::stats::{Conn, Stats};

/// Bytes of a soak payload.
const PAYLOAD: usize = 64;
/// Messages a churning client publishes before it leaves.
const CHURN_MSGS: usize = 10;
/// How long anything waits for an answer before it counts as an error.
pub const ANSWER: Duration = Duration::from_secs(10);
/// How long a stalled subscriber stops reading before it is reset.
const STALL: Duration = Duration::from_millis(800);
/// Messages per second of each long-lived publisher, at scale 1.
const FLOW_RATE: f64 = 2_000.0;
/// Messages per tick of a long-lived publisher (ticks are at most 100 per second).
const FLOW_BURST: usize = 20;

/// What every worker of a phase needs.
pub struct Ctx {
    pub nats_url: String,
    /// `host:port` of the NATS listener, for raw connections.
    pub nats_addr: String,
    pub api_url: String,
    pub ws_url: String,
    pub stats: Arc<Stats>,
    /// Multiplies every rate.
    pub scale: f64,
    pub sse: bool,
}

impl Ctx {
    /// A payload of [`PAYLOAD`] bytes.
    pub fn payload(&self) -> Bytes {
        Bytes::from_static(&[b's'; PAYLOAD])
    }
}

/// A steady pace of `per_second` ticks that stops when the phase does.
pub struct Pace {
    interval: tokio::time::Interval,
}

impl Pace {
    /// `per_second` at scale 1, multiplied by `scale`.
    pub fn new(per_second: f64, scale: f64) -> Pace {
        let rate = (per_second * scale).max(0.01);
        let mut interval = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Pace { interval }
    }

    /// Waits for the next tick; false once `stop` is cancelled.
    pub async fn tick(&mut self, stop: &CancellationToken) -> bool {
        tokio::select! {
            _ = stop.cancelled() => false,
            _ = self.interval.tick() => !stop.is_cancelled(),
        }
    }
}

/// Connects an async-nats client named `name`, without retries: a refused connection is an
/// error of the soak, not something to hide.
pub async fn connect(ctx: &Ctx, name: &str) -> Result<async_nats::Client, String> {
    async_nats::ConnectOptions::new()
        .name(name)
        .connection_timeout(ANSWER)
        .connect(&ctx.nats_url)
        .await
        .map_err(|e| format!("connect: {e}"))
}

/// Drains and drops a client, giving up after [`ANSWER`] (a dead server never answers).
pub async fn close(nc: async_nats::Client) {
    let _ = tokio::time::timeout(ANSWER, nc.drain()).await;
}

/// Joins the tasks of `set`, aborting those still running after `within`; returns how
/// many had to be aborted.
pub async fn join_within(set: &mut JoinSet<()>, within: Duration) -> usize {
    let deadline = tokio::time::Instant::now() + within;
    while let Ok(Some(_)) = tokio::time::timeout_at(deadline, set.join_next()).await {}
    let left = set.len();
    set.abort_all();
    while set.join_next().await.is_some() {}
    left
}

/// One churning NATS worker: per tick a connection that comes and goes, cycling through
/// clean async-nats clients (drained, or dropped), raw connections reset mid-operation,
/// and stalled raw subscribers (run beside the worker, so its pace holds).
pub async fn churn_nats(ctx: Arc<Ctx>, id: usize, stop: CancellationToken) {
    let mut pace = Pace::new(8.0, ctx.scale);
    let mut stalled = JoinSet::new();
    let mut n = 0u64;
    while pace.tick(&stop).await {
        n += 1;
        let result = match n % 4 {
            0 | 1 => client_cycle(&ctx, id, n).await.map(|()| Conn::NatsClean),
            2 => raw_abrupt(&ctx, id, n).await.map(|()| Conn::NatsAbrupt),
            _ => {
                let ctx = ctx.clone();
                stalled.spawn(async move {
                    match raw_stalled(&ctx).await {
                        Ok(()) => ctx.stats.churned(Conn::NatsStalled),
                        Err(e) => ctx.stats.error("nats stalled subscriber", e),
                    }
                });
                continue;
            }
        };
        match result {
            Ok(kind) => ctx.stats.churned(kind),
            Err(e) => ctx.stats.error("nats churn", e),
        }
    }
    while stalled.join_next().await.is_some() {}
}

/// An async-nats client: exact, wildcard and queue subscriptions plus one it unsubscribes,
/// [`CHURN_MSGS`] publishes received on each, a request to the echo service; then drained
/// (odd `n`) or dropped with everything still subscribed (even `n`).
async fn client_cycle(ctx: &Ctx, id: usize, n: u64) -> Result<(), String> {
    let nc = connect(ctx, "soak-churn").await?;
    let subject = format!("soak.churn.{id}.{n}");
    let e = |e: async_nats::SubscribeError| format!("subscribe: {e}");
    let mut subs = vec![
        nc.subscribe(subject.clone()).await.map_err(e)?,
        nc.subscribe(format!("soak.churn.{id}.*"))
            .await
            .map_err(e)?,
        nc.queue_subscribe(format!("soak.churn.{id}.>"), format!("q{id}"))
            .await
            .map_err(e)?,
    ];
    let mut dropped = nc.subscribe("soak.flow.>").await.map_err(e)?;
    dropped
        .unsubscribe()
        .await
        .map_err(|e| format!("unsubscribe: {e}"))?;
    for _ in 0..CHURN_MSGS {
        nc.publish(subject.clone(), ctx.payload())
            .await
            .map_err(|e| format!("publish: {e}"))?;
    }
    Stats::add(&ctx.stats.sent, CHURN_MSGS as u64);
    for sub in &mut subs {
        for _ in 0..CHURN_MSGS {
            match tokio::time::timeout(ANSWER, sub.next()).await {
                Ok(Some(_)) => Stats::add(&ctx.stats.received, 1),
                _ => return Err(format!("a message on {subject} did not arrive")),
            }
        }
    }
    match tokio::time::timeout(ANSWER, nc.request(format!("soak.svc.{id}"), ctx.payload())).await {
        Ok(Ok(_)) => Stats::add(&ctx.stats.requests, 1),
        Ok(Err(e)) => return Err(format!("request: {e}")),
        Err(_) => return Err("request: no reply in time".into()),
    }
    if n % 2 == 1 {
        nc.drain().await.map_err(|e| format!("drain: {e}"))?;
    }
    drop(subs);
    drop(nc);
    Ok(())
}

/// A raw connection: INFO, CONNECT, two subscriptions, a publish, PING answered; then half
/// of another publish and a reset (SO_LINGER 0), as a crashed client leaves.
async fn raw_abrupt(ctx: &Ctx, id: usize, n: u64) -> Result<(), String> {
    let mut s = raw_connect(ctx).await?;
    let ops = format!(
        "SUB soak.flow.> 1\r\nSUB soak.churn.{id}.> raw 2\r\nPUB soak.raw.{id}.{n} 5\r\nhello\r\nPING\r\n"
    );
    s.write_all(ops.as_bytes())
        .await
        .map_err(|e| format!("write: {e}"))?;
    read_until(&mut s, b"PONG\r\n").await?;
    Stats::add(&ctx.stats.sent, 1);
    s.write_all(b"PUB soak.raw.partial 100\r\nonly part of the pay")
        .await
        .map_err(|e| format!("write: {e}"))?;
    reset(s);
    Ok(())
}

/// A raw subscriber to the long-lived flows that stops reading for [`STALL`] (its backlog
/// builds up in the server), then resets the connection.
async fn raw_stalled(ctx: &Ctx) -> Result<(), String> {
    let mut s = raw_connect(ctx).await?;
    s.write_all(b"SUB soak.flow.> 1\r\nPING\r\n")
        .await
        .map_err(|e| format!("write: {e}"))?;
    read_until(&mut s, b"PONG\r\n").await?;
    tokio::time::sleep(STALL).await;
    reset(s);
    Ok(())
}

async fn raw_connect(ctx: &Ctx) -> Result<TcpStream, String> {
    let mut s = tokio::time::timeout(ANSWER, TcpStream::connect(&ctx.nats_addr))
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| format!("connect: {e}"))?;
    read_until(&mut s, b"\r\n").await?;
    s.write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"soak-raw\"}\r\n")
        .await
        .map_err(|e| format!("write: {e}"))?;
    Ok(s)
}

/// Reads until `marker` has been seen (everything before it is discarded).
async fn read_until(s: &mut TcpStream, marker: &[u8]) -> Result<(), String> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + ANSWER;
    loop {
        let n = tokio::time::timeout_at(deadline, s.read(&mut buf))
            .await
            .map_err(|_| format!("no {:?} in time", String::from_utf8_lossy(marker)))?
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("closed by the server".into());
        }
        seen.extend_from_slice(&buf[..n]);
        if memchr::memmem::find(&seen, marker).is_some() {
            return Ok(());
        }
        // Keep only a tail long enough to hold a marker split across reads.
        if seen.len() > marker.len() {
            seen.drain(..seen.len() - marker.len());
        }
    }
}

/// Drops `s` with SO_LINGER 0: the kernel sends a reset instead of a FIN.
pub fn reset(s: TcpStream) {
    let _ = s.set_zero_linger();
    drop(s);
}

/// The long-lived clients of one phase.
pub struct Flows {
    publishers: JoinSet<()>,
    subscribers: JoinSet<()>,
    stop_publishing: CancellationToken,
    stop_receiving: CancellationToken,
    clients: Vec<async_nats::Client>,
}

impl Flows {
    /// Connects the subscribers and the echo service, waits until their interest is in
    /// place, then starts the publishers.
    pub async fn start(ctx: &Arc<Ctx>) -> Result<Flows, String> {
        let mut flows = Flows {
            publishers: JoinSet::new(),
            subscribers: JoinSet::new(),
            stop_publishing: CancellationToken::new(),
            stop_receiving: CancellationToken::new(),
            clients: Vec::new(),
        };
        let e = |e: async_nats::SubscribeError| format!("subscribe: {e}");
        // `soak.flow.a` reaches the exact and the wildcard subscriber, `soak.flow.q` the
        // wildcard one and one member of the queue group.
        let subs = connect(ctx, "soak-flow-sub").await?;
        let q1 = connect(ctx, "soak-flow-q1").await?;
        let q2 = connect(ctx, "soak-flow-q2").await?;
        let sink = connect(ctx, "soak-sink").await?;
        let counted = [
            subs.subscribe("soak.flow.a").await.map_err(e)?,
            subs.subscribe("soak.flow.*").await.map_err(e)?,
            q1.queue_subscribe("soak.flow.q", "workers".into())
                .await
                .map_err(e)?,
            q2.queue_subscribe("soak.flow.q", "workers".into())
                .await
                .map_err(e)?,
        ];
        for sub in counted {
            flows.receive(ctx, sub, true);
        }
        for subject in ["soak.http.>", "soak.ws.>"] {
            let sub = sink.subscribe(subject).await.map_err(e)?;
            flows.receive(ctx, sub, false);
        }
        for client in [q1.clone(), q2.clone()] {
            let svc = client
                .queue_subscribe("soak.svc.>", "svc".into())
                .await
                .map_err(e)?;
            let stop = flows.stop_receiving.clone();
            flows.subscribers.spawn(echo(client, svc, stop));
        }
        for client in [&subs, &q1, &q2, &sink] {
            interest_in_place(client).await?;
        }
        flows.clients.extend([subs, q1, q2, sink]);
        let publisher = connect(ctx, "soak-flow-pub").await?;
        for (subject, deliveries) in [("soak.flow.a", 2), ("soak.flow.q", 2)] {
            let (ctx, nc, stop) = (
                ctx.clone(),
                publisher.clone(),
                flows.stop_publishing.clone(),
            );
            flows
                .publishers
                .spawn(publish_flow(ctx, nc, subject, deliveries, stop));
        }
        flows.clients.push(publisher);
        Ok(flows)
    }

    /// Stops every task and drops the clients without a goodbye (the server is gone).
    pub fn abandon(mut self) {
        self.publishers.abort_all();
        self.subscribers.abort_all();
        self.clients.clear();
    }

    /// Counts what `sub` receives until the phase's receivers stop; `flow` deliveries are
    /// also checked against what the publishers expect.
    fn receive(&mut self, ctx: &Arc<Ctx>, mut sub: async_nats::Subscriber, flow: bool) {
        let (stats, stop) = (ctx.stats.clone(), self.stop_receiving.clone());
        self.subscribers.spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    msg = sub.next() => match msg {
                        Some(_) => {
                            Stats::add(&stats.received, 1);
                            if flow {
                                Stats::add(&stats.flow_received, 1);
                            }
                        }
                        None => break,
                    },
                }
            }
        });
    }

    /// Stops the publishers, lets the subscribers take what is still in flight (until their
    /// count reaches what was expected or stops moving), then closes every client.
    pub async fn stop(mut self, ctx: &Ctx) {
        self.stop_publishing.cancel();
        join_within(&mut self.publishers, ANSWER).await;
        for nc in &self.clients {
            let _ = tokio::time::timeout(ANSWER, nc.flush()).await;
        }
        let stats = &ctx.stats;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let mut last = u64::MAX;
        while tokio::time::Instant::now() < deadline {
            let got = stats.flow_received.load(Ordering::Relaxed);
            if got >= stats.flow_expected.load(Ordering::Relaxed) || got == last {
                break;
            }
            last = got;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        self.stop_receiving.cancel();
        join_within(&mut self.subscribers, ANSWER).await;
        for nc in self.clients.drain(..) {
            close(nc).await;
            ctx.stats.churned(Conn::LongLived);
        }
    }
}

/// Answers every request on `sub` with its own payload.
async fn echo(nc: async_nats::Client, mut sub: async_nats::Subscriber, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            msg = sub.next() => match msg {
                Some(m) => {
                    if let Some(reply) = m.reply {
                        let _ = nc.publish(reply, m.payload).await;
                    }
                }
                None => break,
            },
        }
    }
}

/// Publishes on `subject` at [`FLOW_RATE`] in bursts, counting `deliveries` expected
/// receptions per message.
async fn publish_flow(
    ctx: Arc<Ctx>,
    nc: async_nats::Client,
    subject: &'static str,
    deliveries: u64,
    stop: CancellationToken,
) {
    let mut pace = Pace::new(FLOW_RATE / FLOW_BURST as f64, ctx.scale);
    while pace.tick(&stop).await {
        for _ in 0..FLOW_BURST {
            if let Err(e) = nc.publish(subject, ctx.payload()).await {
                ctx.stats.error("flow publish", e);
                return;
            }
            Stats::add(&ctx.stats.sent, 1);
            Stats::add(&ctx.stats.flow_expected, deliveries);
        }
    }
}

/// Returns once the server has handled everything `nc` sent (its subscriptions are in
/// place): a request nobody answers comes back "no responders" only after that.
pub async fn interest_in_place(nc: &async_nats::Client) -> Result<(), String> {
    match tokio::time::timeout(ANSWER, nc.request("_soak.sync", Bytes::new())).await {
        Ok(Err(e)) if e.kind() == async_nats::RequestErrorKind::NoResponders => Ok(()),
        Ok(Err(e)) => Err(format!("sync request: {e}")),
        Ok(Ok(_)) => Err("sync request: answered".into()),
        Err(_) => Err("sync request: no answer".into()),
    }
}
