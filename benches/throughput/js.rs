//! JetStream scenarios of the throughput bench, same rules as the core ones: the same client
//! (async-nats' `jetstream` module) against sluice and nats-server, rounds interleaved,
//! medians, ratio sluice / nats-server. Every run gets a freshly started server with an empty
//! store directory, so no run sees the previous run's stream, and one stream `BENCH` on
//! `bench.js.>` with file storage.
//!
//! - `js async publish`: one publisher, up to 256 PubAcks outstanding (awaits the oldest
//!   when the window is full); messages/s once every PubAck has arrived.
//! - `js async publish, sync always`: the same with 4 publishers on 4 connections, both
//!   servers configured to fsync before every PubAck; aggregate messages/s.
//! - `js sync publish latency`: publish, await the PubAck, repeat; p50 and p99 in µs.
//! - `js fetch + ack`: a pre-filled stream drained by a durable pull consumer fetching
//!   batches of 256 and acking every message; messages/s until the consumer reports nothing
//!   pending acknowledgement.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use async_nats::Subject;
use async_nats::jetstream::{self, consumer, stream};
use bytes::Bytes;
use futures::StreamExt;

use super::{Js, Options, Proc, median, progress};

const SIZE: usize = 128;
/// Outstanding PubAcks per publisher.
const WINDOW: usize = 256;
/// Messages per pull request.
const BATCH: usize = 256;
/// Publishers in the fsync-per-message scenario.
const SYNC_PUBLISHERS: usize = 4;

#[derive(Clone, Copy)]
enum Scenario {
    AsyncPublish,
    AsyncPublishSyncAlways,
    SyncLatency,
    FetchAck,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::AsyncPublish => "js async publish",
            Scenario::AsyncPublishSyncAlways => "js async publish, sync always",
            Scenario::SyncLatency => "js sync publish latency",
            Scenario::FetchAck => "js fetch + ack",
        }
    }

    /// Messages per run, from `--js-msgs`: a fifth of it where a message costs an fsync
    /// (nats-server acks a few thousand per second with `sync always` on the bench machine)
    /// or a round trip.
    fn msgs(self, js_msgs: usize) -> usize {
        match self {
            Scenario::AsyncPublish | Scenario::FetchAck => js_msgs,
            Scenario::AsyncPublishSyncAlways => (js_msgs / 5).max(SYNC_PUBLISHERS * 100),
            Scenario::SyncLatency => (js_msgs / 5).max(1_000),
        }
    }

    fn mode(self) -> Js {
        match self {
            Scenario::AsyncPublishSyncAlways => Js::SyncAlways,
            _ => Js::On,
        }
    }
}

/// A new connection and JetStream context; the long timeout covers PubAcks queued behind
/// fsyncs.
pub(super) async fn context(url: &str) -> jetstream::Context {
    let nc = async_nats::connect(url).await.expect("connect");
    jetstream::context::ContextBuilder::new()
        .timeout(Duration::from_secs(60))
        .build(nc)
}

pub(super) async fn create_stream(js: &jetstream::Context) -> stream::Stream {
    js.create_stream(stream::Config {
        name: "BENCH".into(),
        subjects: vec!["bench.js.>".into()],
        storage: stream::StorageType::File,
        ..Default::default()
    })
    .await
    .expect("create stream")
}

fn payload() -> Bytes {
    Bytes::from(vec![b'x'; SIZE])
}

/// Publishes `n` messages keeping up to [`WINDOW`] PubAcks outstanding: when the window is
/// full, awaits the oldest before publishing the next.
pub(super) async fn publish_windowed(js: &jetstream::Context, subject: Subject, n: usize) {
    let payload = payload();
    let mut pending = VecDeque::with_capacity(WINDOW);
    for _ in 0..n {
        if pending.len() == WINDOW {
            let oldest: jetstream::context::PublishAckFuture =
                pending.pop_front().expect("window is full");
            oldest.await.expect("PubAck");
        }
        let ack = js
            .publish(subject.clone(), payload.clone())
            .await
            .expect("publish");
        pending.push_back(ack);
    }
    for ack in pending {
        ack.await.expect("PubAck");
    }
}

/// Warns when the stream does not hold `expected` messages (the rate would be meaningless).
async fn check_stored(stream: &mut stream::Stream, expected: u64, what: &str) {
    let stored = stream.info().await.expect("stream info").state.messages;
    if stored != expected {
        eprintln!("warning: {what}: stream holds {stored} messages, expected {expected}");
    }
}

/// `publishers` connections publishing `total` messages between them, each with its own
/// window; aggregate messages/s.
async fn async_publish(url: &str, publishers: usize, total: usize, what: &str) -> f64 {
    let first = context(url).await;
    let mut stream = create_stream(&first).await;
    let mut contexts = vec![first];
    for _ in 1..publishers {
        contexts.push(context(url).await);
    }
    // One acknowledged message per publisher first, so the client's reply subscription and
    // the server's first write are not timed.
    for (i, js) in contexts.iter().enumerate() {
        let ack = js.publish(format!("bench.js.{i}"), payload()).await;
        ack.expect("publish").await.expect("PubAck");
    }
    let per = total / publishers;
    let start = Instant::now();
    let tasks: Vec<_> = contexts
        .into_iter()
        .enumerate()
        .map(|(i, js)| {
            tokio::spawn(async move {
                publish_windowed(&js, format!("bench.js.{i}").into(), per).await;
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("publisher");
    }
    let elapsed = start.elapsed().as_secs_f64();
    check_stored(&mut stream, ((per + 1) * publishers) as u64, what).await;
    (per * publishers) as f64 / elapsed
}

/// Publish, await the PubAck, repeat `n` times: (p50, p99) in microseconds.
async fn sync_latency(url: &str, n: usize) -> (f64, f64) {
    let js = context(url).await;
    let mut stream = create_stream(&js).await;
    let payload = payload();
    let publish_one = async || {
        let ack = js.publish("bench.js.lat", payload.clone()).await;
        ack.expect("publish").await.expect("PubAck");
    };
    for _ in 0..100 {
        publish_one().await;
    }
    let mut all = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        publish_one().await;
        all.push(t.elapsed().as_secs_f64() * 1e6);
    }
    check_stored(&mut stream, (n + 100) as u64, "js sync publish latency").await;
    all.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| all[((all.len() as f64 - 1.0) * p) as usize];
    (pct(0.50), pct(0.99))
}

/// Pre-fills the stream with `n` messages (not timed), then a durable pull consumer fetches
/// batches of [`BATCH`] and acks every message; messages/s until the server reports every
/// ack applied.
async fn fetch_ack(url: &str, n: usize) -> f64 {
    let js = context(url).await;
    let stream = create_stream(&js).await;
    publish_windowed(&js, "bench.js.fetch".into(), n).await;
    let mut consumer: consumer::PullConsumer = stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some("bench".into()),
            ack_policy: consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .expect("create consumer");
    let start = Instant::now();
    let deadline = start + Duration::from_secs(120);
    let mut acked = 0;
    while acked < n && Instant::now() < deadline {
        let mut batch = consumer
            .fetch()
            .max_messages(BATCH)
            .messages()
            .await
            .expect("fetch");
        while let Some(msg) = batch.next().await {
            msg.expect("message").ack().await.expect("ack");
            acked += 1;
        }
    }
    // Acks are fire-and-forget publishes: the run ends when the server has applied them all.
    loop {
        let info = consumer.info().await.expect("consumer info");
        if info.num_ack_pending == 0 && info.ack_floor.stream_sequence >= n as u64 {
            break;
        }
        if Instant::now() > deadline {
            eprintln!(
                "warning: js fetch + ack: {acked} of {n} received, ack floor {}, {} pending",
                info.ack_floor.stream_sequence, info.num_ack_pending
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    acked as f64 / start.elapsed().as_secs_f64()
}

/// One run of a throughput scenario against a fresh server.
fn throughput(
    rt: &tokio::runtime::Runtime,
    bin: &str,
    sluice: bool,
    sc: Scenario,
    n: usize,
) -> f64 {
    let server = Proc::start(bin, sluice, sc.mode());
    rt.block_on(async {
        match sc {
            Scenario::AsyncPublish => async_publish(&server.url, 1, n, sc.name()).await,
            Scenario::AsyncPublishSyncAlways => {
                async_publish(&server.url, SYNC_PUBLISHERS, n, sc.name()).await
            }
            Scenario::FetchAck => fetch_ack(&server.url, n).await,
            Scenario::SyncLatency => unreachable!("a latency scenario"),
        }
    })
}

/// Runs the JetStream scenarios `--only` lets through, prints their tables and appends
/// their JSON rows.
pub(crate) fn run_all(
    o: &Options,
    rt: &tokio::runtime::Runtime,
    rows: &mut Vec<serde_json::Value>,
) {
    let wanted = |sc: &Scenario| {
        o.only
            .as_ref()
            .is_none_or(|f| sc.name().contains(f.as_str()))
    };
    let rates: Vec<Scenario> = [
        Scenario::AsyncPublish,
        Scenario::AsyncPublishSyncAlways,
        Scenario::FetchAck,
    ]
    .into_iter()
    .filter(wanted)
    .collect();
    if !rates.is_empty() {
        println!(
            "\n| JetStream (file storage) | size | sluice msgs/s | nats-server msgs/s | ratio |\n|---|---|---|---|---|"
        );
    }
    for sc in rates {
        let n = sc.msgs(o.js_msgs);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let pb = progress(sc.name(), o.rounds * 2);
        for _ in 0..o.rounds {
            a.push(throughput(rt, &o.sluice, true, sc, n));
            pb.inc(1);
            b.push(throughput(rt, &o.nats_server, false, sc, n));
            pb.inc(1);
        }
        pb.finish_and_clear();
        let (ma, mb) = (median(a), median(b));
        println!(
            "| {} | {SIZE} B | {ma:.0} | {mb:.0} | {:.2} |",
            sc.name(),
            ma / mb
        );
        rows.push(serde_json::json!({
            "scenario": sc.name(), "size": SIZE, "msgs": n,
            "sluice": ma, "nats_server": mb, "ratio": ma / mb
        }));
    }
    let sc = Scenario::SyncLatency;
    if wanted(&sc) {
        let n = sc.msgs(o.js_msgs);
        let (mut a50, mut a99, mut b50, mut b99) = (vec![], vec![], vec![], vec![]);
        let pb = progress(sc.name(), o.rounds * 2);
        for _ in 0..o.rounds {
            let server = Proc::start(&o.sluice, true, sc.mode());
            let (p50, p99) = rt.block_on(sync_latency(&server.url, n));
            drop(server);
            a50.push(p50);
            a99.push(p99);
            pb.inc(1);
            let server = Proc::start(&o.nats_server, false, sc.mode());
            let (p50, p99) = rt.block_on(sync_latency(&server.url, n));
            drop(server);
            b50.push(p50);
            b99.push(p99);
            pb.inc(1);
        }
        pb.finish_and_clear();
        let (a50, a99, b50, b99) = (median(a50), median(a99), median(b50), median(b99));
        println!(
            "\n| JetStream publish latency | sluice p50 µs | nats-server p50 µs | ratio p50 | sluice p99 µs | nats-server p99 µs | ratio p99 |\n|---|---|---|---|---|---|---|"
        );
        println!(
            "| {}, {SIZE} B | {a50:.1} | {b50:.1} | {:.2} | {a99:.1} | {b99:.1} | {:.2} |",
            sc.name(),
            a50 / b50,
            a99 / b99
        );
        rows.push(serde_json::json!({
            "scenario": sc.name(), "size": SIZE, "msgs": n,
            "sluice_p50_us": a50, "nats_server_p50_us": b50,
            "sluice_p99_us": a99, "nats_server_p99_us": b99
        }));
    }
}
