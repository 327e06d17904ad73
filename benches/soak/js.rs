//! The JetStream side of the soak load, on one file stream `SOAK` (`soak.js.>`) whose limits
//! keep it from growing for ever (message count, bytes and age; old messages discarded):
//! acknowledged publishes, a durable pull consumer fetching and acking in batches, and
//! ephemeral consumers created, read from and deleted again. Messages are 4 KiB, so at
//! 500 publishes/s the store fills a 64 MiB segment about every half minute: a soak of a
//! minute or more sees segments created, and dead ones deleted, while it watches the
//! server's open files.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::load::{ANSWER, Ctx, Pace, connect};
use super::stats::{Conn, Stats};

const STREAM: &str = "SOAK";
const DURABLE: &str = "soak-worker";
/// The stream's limits: at most this many messages of at most this many bytes in all.
const STREAM_MSGS: usize = 20_000;
const STREAM_BYTES: usize = 16 * 1024 * 1024;
/// Payload of a JetStream publish.
const JS_PAYLOAD: usize = 4096;
/// Publishes per tick (each tick awaits its acks); ticks per second at scale 1 below.
const PUBLISH_BURST: usize = 10;
const PUBLISH_TICKS: f64 = 50.0;
/// Messages per pull request of the durable consumer.
const FETCH_BATCH: usize = 200;

/// Creates the stream and the durable consumer (once, before the warm-up).
pub async fn setup(ctx: &Ctx) -> Result<(), String> {
    let nc = connect(ctx, "soak-setup").await?;
    let js = jetstream::new(nc.clone());
    let stream = js
        .get_or_create_stream(stream::Config {
            name: STREAM.into(),
            subjects: vec!["soak.js.>".into()],
            storage: stream::StorageType::File,
            max_messages: STREAM_MSGS as i64,
            max_bytes: STREAM_BYTES as i64,
            max_age: Duration::from_secs(600),
            discard: stream::DiscardPolicy::Old,
            ..Default::default()
        })
        .await
        .map_err(|e| format!("create stream {STREAM}: {e}"))?;
    stream
        .get_or_create_consumer(
            DURABLE,
            consumer::pull::Config {
                durable_name: Some(DURABLE.into()),
                ack_policy: consumer::AckPolicy::Explicit,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| format!("create consumer {DURABLE}: {e}"))?;
    // Filled past its byte limit up front, so the stream's size (and the memory of its
    // index) is already at its steady state when the baseline is taken.
    let mut acks = std::collections::VecDeque::new();
    for n in 0..(STREAM_BYTES / JS_PAYLOAD + 256).min(STREAM_MSGS) {
        let ack = js
            .publish(format!("soak.js.{}", n % 16), js_payload())
            .await
            .map_err(|e| format!("prefill: {e}"))?;
        acks.push_back(ack);
        if acks.len() >= 256
            && let Some(ack) = acks.pop_front()
        {
            ack.await.map_err(|e| format!("prefill ack: {e}"))?;
        }
    }
    for ack in acks {
        ack.await.map_err(|e| format!("prefill ack: {e}"))?;
    }
    super::load::close(nc).await;
    Ok(())
}

fn js_payload() -> bytes::Bytes {
    bytes::Bytes::from_static(&[b'j'; JS_PAYLOAD])
}

/// The JetStream workers of one phase: a publisher, the durable fetcher, and the
/// ephemeral-consumer churn, each on its own connection.
pub async fn run(ctx: Arc<Ctx>, stop: CancellationToken) {
    let workers = [
        tokio::spawn(publish(ctx.clone(), stop.clone())),
        tokio::spawn(fetch(ctx.clone(), stop.clone())),
        tokio::spawn(ephemeral(ctx.clone(), stop)),
    ];
    for w in workers {
        let _ = w.await;
    }
}

async fn context(ctx: &Ctx, name: &str) -> Option<(async_nats::Client, jetstream::Context)> {
    match connect(ctx, name).await {
        Ok(nc) => Some((nc.clone(), jetstream::new(nc))),
        Err(e) => {
            ctx.stats.error("js connect", e);
            None
        }
    }
}

async fn close(ctx: &Ctx, nc: async_nats::Client) {
    super::load::close(nc).await;
    ctx.stats.churned(Conn::LongLived);
}

/// Publishes bursts to `soak.js.<n>` and awaits every ack before the next burst.
async fn publish(ctx: Arc<Ctx>, stop: CancellationToken) {
    let Some((nc, js)) = context(&ctx, "soak-js-pub").await else {
        return;
    };
    let mut pace = Pace::new(PUBLISH_TICKS, ctx.scale);
    let mut n = 0u64;
    'run: while pace.tick(&stop).await {
        let mut acks = Vec::with_capacity(PUBLISH_BURST);
        for _ in 0..PUBLISH_BURST {
            n += 1;
            match js
                .publish(format!("soak.js.{}", n % 16), js_payload())
                .await
            {
                Ok(ack) => acks.push(ack),
                Err(e) => {
                    ctx.stats.error("js publish", e);
                    break 'run;
                }
            }
            Stats::add(&ctx.stats.sent, 1);
        }
        for ack in acks {
            match tokio::time::timeout(ANSWER, ack).await {
                Ok(Ok(_)) => Stats::add(&ctx.stats.js_acked, 1),
                Ok(Err(e)) => ctx.stats.error("js ack", e),
                Err(_) => ctx.stats.error("js ack", "no ack in time"),
            }
        }
    }
    close(&ctx, nc).await;
}

/// Fetches batches from the durable consumer and acks every message.
async fn fetch(ctx: Arc<Ctx>, stop: CancellationToken) {
    let Some((nc, js)) = context(&ctx, "soak-js-fetch").await else {
        return;
    };
    let consumer: Result<consumer::PullConsumer, _> =
        js.get_consumer_from_stream(DURABLE, STREAM).await;
    match consumer {
        Ok(consumer) => {
            while !stop.is_cancelled() {
                if let Err(e) = fetch_batch(&ctx, &consumer, FETCH_BATCH).await {
                    ctx.stats.error("js fetch", e);
                    // Keep a broken fetch from spinning.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        Err(e) => ctx.stats.error("js consumer", e),
    }
    close(&ctx, nc).await;
}

/// One pull request of up to `batch` messages (expiring after 500 ms), each acked.
async fn fetch_batch(
    ctx: &Ctx,
    consumer: &consumer::PullConsumer,
    batch: usize,
) -> Result<(), String> {
    let mut messages = consumer
        .fetch()
        .max_messages(batch)
        .expires(Duration::from_millis(500))
        .messages()
        .await
        .map_err(|e| format!("pull: {e}"))?;
    let deadline = tokio::time::Instant::now() + ANSWER;
    while let Some(msg) = tokio::time::timeout_at(deadline, messages.next())
        .await
        .map_err(|_| "pull request did not end in time".to_string())?
    {
        let msg = msg.map_err(|e| format!("message: {e}"))?;
        msg.ack().await.map_err(|e| format!("ack: {e}"))?;
        Stats::add(&ctx.stats.js_fetched, 1);
        Stats::add(&ctx.stats.received, 1);
    }
    Ok(())
}

/// Every half second (at scale 1): an ephemeral consumer on the last message of each
/// subject, one fetch, then deleted.
async fn ephemeral(ctx: Arc<Ctx>, stop: CancellationToken) {
    let Some((nc, js)) = context(&ctx, "soak-js-ephemeral").await else {
        return;
    };
    let stream = match js.get_stream(STREAM).await {
        Ok(s) => s,
        Err(e) => {
            ctx.stats.error("js stream", e);
            return close(&ctx, nc).await;
        }
    };
    let mut pace = Pace::new(2.0, ctx.scale);
    while pace.tick(&stop).await {
        let config = consumer::pull::Config {
            deliver_policy: consumer::DeliverPolicy::LastPerSubject,
            filter_subject: "soak.js.>".into(),
            ack_policy: consumer::AckPolicy::Explicit,
            inactive_threshold: Duration::from_secs(60),
            ..Default::default()
        };
        let consumer: consumer::PullConsumer = match stream.create_consumer(config).await {
            Ok(c) => c,
            Err(e) => {
                ctx.stats.error("js ephemeral create", e);
                continue;
            }
        };
        if let Err(e) = fetch_batch(&ctx, &consumer, 16).await {
            ctx.stats.error("js ephemeral fetch", e);
        }
        let name = consumer.cached_info().name.clone();
        match stream.delete_consumer(&name).await {
            Ok(_) => Stats::add(&ctx.stats.js_consumers, 1),
            Err(e) => ctx.stats.error("js ephemeral delete", e),
        }
    }
    close(&ctx, nc).await;
}
