//! JetStream persistence: streams, messages and durable consumer state survive a graceful
//! restart and a SIGKILL, and a crash loop with concurrent publishers loses no acknowledged
//! message. Validated against nats-server 2.15.1 (`SLUICE_TEST_REFERENCE=/path/to/nats-server`).

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{AckPolicy, PullConsumer, pull};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::{Config, StorageType};
use async_nats::jetstream::{self, Context};
use common::js::{JsServer, js};
use futures::StreamExt;

async fn setup(js: &Context) {
    js.create_stream(Config {
        name: "P".into(),
        subjects: vec!["p.>".into()],
        max_messages_per_subject: 100,
        ..Default::default()
    })
    .await
    .unwrap();
    js.create_stream(Config {
        name: "MEM".into(),
        subjects: vec!["mem".into()],
        storage: StorageType::Memory,
        ..Default::default()
    })
    .await
    .unwrap();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("X-Order", "first");
    js.publish_with_headers("p.a", headers, "one".into())
        .await
        .unwrap()
        .await
        .unwrap();
    for i in 2..=10 {
        js.publish(
            format!("p.{}", if i % 2 == 0 { "b" } else { "a" }),
            format!("{i}").into(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    }
    js.publish("mem", "volatile".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let stream = js.get_stream("P").await.unwrap();
    stream
        .create_consumer(pull::Config {
            durable_name: Some("C".into()),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .unwrap();
    let consumer: PullConsumer = stream.get_consumer("C").await.unwrap();
    let mut batch = consumer.fetch().max_messages(4).messages().await.unwrap();
    while let Some(m) = batch.next().await {
        m.unwrap().double_ack().await.unwrap();
    }
    stream.delete_message(7).await.unwrap();
}

/// Everything `setup` left behind, checked after a restart.
async fn verify(js: &Context) {
    let stream = js.get_stream("P").await.expect("stream P after restart");
    let info = stream.get_info().await.unwrap();
    assert_eq!(info.config.subjects, vec!["p.>".to_string()]);
    assert_eq!(info.config.max_messages_per_subject, 100);
    let s = &info.state;
    assert_eq!((s.messages, s.first_sequence, s.last_sequence), (9, 1, 10));
    assert_eq!(s.deleted_count, Some(1));
    assert_eq!(s.consumer_count, 1);
    let first = stream.get_raw_message(1).await.unwrap();
    assert_eq!(
        (first.subject.as_str(), first.payload.as_ref()),
        ("p.a", &b"one"[..])
    );
    assert_eq!(first.headers.get("X-Order").unwrap().as_str(), "first");
    assert!(stream.get_raw_message(7).await.is_err());
    let last_b = stream.get_last_raw_message_by_subject("p.b").await.unwrap();
    assert_eq!((last_b.sequence, last_b.payload.as_ref()), (10, &b"10"[..]));

    let consumer: PullConsumer = stream.get_consumer("C").await.unwrap();
    let ci = consumer.get_info().await.unwrap();
    assert_eq!(ci.ack_floor.stream_sequence, 4);
    assert_eq!(ci.ack_floor.consumer_sequence, 4);
    assert_eq!(ci.delivered.stream_sequence, 4);
    assert_eq!(ci.num_ack_pending, 0);
    assert_eq!(ci.num_pending, 5); // 5..=10 without the deleted 7
    assert_eq!(ci.config.ack_policy, AckPolicy::Explicit);

    // Memory streams do not survive a restart at all (nats-server keeps no definition).
    let err = js.get_stream("MEM").await.unwrap_err();
    assert_eq!(common::js::err_code(&err), Some(10059), "{err:?}");

    // Publishing continues after the last sequence; the consumer resumes at 5.
    let ack = js.publish("p.c", "11".into()).await.unwrap().await.unwrap();
    assert_eq!(ack.sequence, 11);
    let mut batch = consumer.fetch().max_messages(10).messages().await.unwrap();
    let mut got = Vec::new();
    while let Some(m) = batch.next().await {
        let m = m.unwrap();
        got.push(m.info().unwrap().stream_sequence);
        m.double_ack().await.unwrap();
    }
    assert_eq!(got, vec![5, 6, 8, 9, 10, 11]);
}

#[tokio::test]
async fn state_survives_graceful_restart() {
    let mut server = JsServer::start();
    {
        let (_nc, js) = js(&server).await;
        setup(&js).await;
    }
    server.restart();
    let (_nc, ctx) = js(&server).await;
    verify(&ctx).await;
    // And a second time, after more activity.
    drop(ctx);
    server.restart();
    let (_nc, js) = js(&server).await;
    let s = js
        .get_stream("P")
        .await
        .unwrap()
        .get_info()
        .await
        .unwrap()
        .state;
    assert_eq!((s.messages, s.last_sequence), (10, 11));
    let ci = js
        .get_consumer_from_stream::<pull::Config, _, _>("C", "P")
        .await
        .unwrap()
        .get_info()
        .await
        .unwrap();
    assert_eq!((ci.ack_floor.stream_sequence, ci.num_pending), (11, 0));
}

#[tokio::test]
async fn state_survives_kill9() {
    let mut server = JsServer::start();
    {
        let (_nc, js) = js(&server).await;
        setup(&js).await;
    }
    // Consumer state may be written shortly after the ack (nats-server flushes it
    // asynchronously); messages are checked right away, acks after a second.
    tokio::time::sleep(Duration::from_secs(1)).await;
    server.kill9_and_restart();
    let (_nc, js) = js(&server).await;
    verify(&js).await;
}

#[tokio::test]
async fn kv_bucket_survives_kill9() {
    let mut server = JsServer::start();
    {
        let (_nc, js) = js(&server).await;
        let kv = js
            .create_key_value(jetstream::kv::Config {
                bucket: "cfg".into(),
                history: 3,
                ..Default::default()
            })
            .await
            .unwrap();
        for i in 1..=4 {
            kv.put("k", format!("v{i}").into()).await.unwrap();
        }
        kv.put("gone", "x".into()).await.unwrap();
        kv.delete("gone").await.unwrap();
    }
    server.kill9_and_restart();
    let (_nc, js) = js(&server).await;
    let kv = js.get_key_value("cfg").await.unwrap();
    let e = kv.entry("k").await.unwrap().unwrap();
    assert_eq!((e.revision, e.value.as_ref()), (4, &b"v4"[..]));
    assert!(kv.get("gone").await.unwrap().is_none());
    assert_eq!(kv.put("k", "v5".into()).await.unwrap(), 7);
    assert!(kv.update("k", "stale".into(), 4).await.is_err());
}

type Acked = Vec<(u64, String)>;

/// Publishes `prefix-N` for N = 0, 1, ... until `stop`, with a Nats-Msg-Id per payload so a
/// re-publish after a lost PubAck is de-duplicated. Returns the acknowledged (seq, payload).
async fn publisher(url: String, prefix: String, stop: Arc<AtomicBool>) -> Acked {
    let mut acked = Acked::new();
    let mut n = 0u64;
    let mut js: Option<Context> = None;
    // `stop` is only honoured once the current payload is acknowledged, so nothing stored
    // is left unacknowledged at the end.
    let mut pending = false;
    while pending || !stop.load(Ordering::Relaxed) {
        pending = true;
        let ctx = match &js {
            Some(ctx) => ctx.clone(),
            None => match async_nats::connect(&url).await {
                Ok(nc) => {
                    let ctx = jetstream::new(nc);
                    js = Some(ctx.clone());
                    ctx
                }
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let payload = format!("{prefix}-{n}");
        let attempt = tokio::time::timeout(Duration::from_secs(2), async {
            ctx.send_publish(
                format!("crash.{prefix}"),
                PublishMessage::build()
                    .message_id(&payload)
                    .payload(payload.clone().into()),
            )
            .await
            .map_err(|e| e.to_string())?
            .await
            .map_err(|e| e.to_string())
        })
        .await;
        match attempt {
            Ok(Ok(ack)) => {
                acked.push((ack.sequence, payload));
                n += 1;
                pending = false;
            }
            // Not acknowledged: reconnect and publish the same payload again.
            _ => {
                js = None;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    acked
}

/// Consumes and double-acks; records stream sequences whose ack the server confirmed.
async fn reader(url: String, stop: Arc<AtomicBool>, confirmed: Arc<Mutex<BTreeSet<u64>>>) {
    let mut consumer: Option<PullConsumer> = None;
    while !stop.load(Ordering::Relaxed) {
        let c = match &consumer {
            Some(c) => c.clone(),
            None => {
                let Ok(nc) = async_nats::connect(&url).await else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                let js = jetstream::new(nc);
                match js
                    .get_consumer_from_stream::<pull::Config, _, _>("reader", "CRASH")
                    .await
                {
                    Ok(c) => {
                        consumer = Some(c.clone());
                        c
                    }
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                }
            }
        };
        let round = tokio::time::timeout(Duration::from_secs(3), async {
            let mut batch = c
                .batch()
                .max_messages(20)
                .expires(Duration::from_millis(300))
                .messages()
                .await
                .map_err(|e| e.to_string())?;
            while let Some(m) = batch.next().await {
                let m = m.map_err(|e| e.to_string())?;
                let seq = m.info().map_err(|e| e.to_string())?.stream_sequence;
                m.double_ack().await.map_err(|e| e.to_string())?;
                confirmed.lock().unwrap().insert(seq);
            }
            Ok::<(), String>(())
        })
        .await;
        if !matches!(round, Ok(Ok(()))) {
            consumer = None;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Highest n such that 1..=n are all in `set`.
fn contiguous_floor(set: &BTreeSet<u64>) -> u64 {
    let mut floor = 0;
    for &s in set {
        if s != floor + 1 {
            break;
        }
        floor = s;
    }
    floor
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acked_messages_survive_repeated_kill9() {
    let started = Instant::now();
    let mut server = JsServer::start();
    let url = server.url();
    {
        let (_nc, js) = js(&server).await;
        let stream = js
            .create_stream(Config {
                name: "CRASH".into(),
                subjects: vec!["crash.*".into()],
                ..Default::default()
            })
            .await
            .unwrap();
        stream
            .create_consumer(pull::Config {
                durable_name: Some("reader".into()),
                ack_policy: AckPolicy::Explicit,
                ack_wait: Duration::from_secs(2),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let confirmed = Arc::new(Mutex::new(BTreeSet::new()));
    let publishers: Vec<_> = (0..4)
        .map(|i| tokio::spawn(publisher(url.clone(), format!("p{i}"), stop.clone())))
        .collect();
    let reader_task = tokio::spawn(reader(url.clone(), stop.clone(), confirmed.clone()));

    // Deterministic pseudo-random kill moments (100..600 ms apart).
    let seed = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
    let next_delay = || {
        let x = seed.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
        let x = (x ^ (x >> 31)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        100 + (x >> 33) % 500
    };
    // (time, confirmed ack floor) samples: consumer acks may take up to a second to be
    // persisted, so the floor that must survive is the one confirmed 1 s before the kill.
    let mut floors: Vec<(Instant, u64)> = vec![(Instant::now(), 0)];
    for _ in 0..8 {
        let until = Instant::now() + Duration::from_millis(next_delay());
        while Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(50)).await;
            floors.push((Instant::now(), contiguous_floor(&confirmed.lock().unwrap())));
        }
        tokio::task::block_in_place(|| server.kill9_and_restart());
    }
    let last_kill = Instant::now();
    let floor_before_last_kill = floors
        .iter()
        .filter(|(t, _)| *t + Duration::from_secs(1) <= last_kill)
        .map(|(_, f)| *f)
        .max()
        .unwrap_or(0);
    // Let everyone make progress against the final incarnation, then stop.
    tokio::time::sleep(Duration::from_millis(800)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all: Vec<Acked> = Vec::new();
    for p in publishers {
        all.push(
            tokio::time::timeout(Duration::from_secs(10), p)
                .await
                .unwrap()
                .unwrap(),
        );
    }
    tokio::time::timeout(Duration::from_secs(10), reader_task)
        .await
        .unwrap()
        .unwrap();

    let (_nc, js) = js(&server).await;
    let stream = js.get_stream("CRASH").await.unwrap();
    let state = stream.get_info().await.unwrap().state;
    let total: usize = all.iter().map(Vec::len).sum();
    assert!(total > 40, "only {total} messages acknowledged");
    assert_eq!(
        state.messages, total as u64,
        "stored messages vs acknowledged"
    );
    assert_eq!(
        (state.first_sequence, state.last_sequence),
        (1, total as u64)
    );
    for acked in &all {
        // Payloads 0..n in order, at strictly increasing sequences.
        for (n, (seq, payload)) in acked.iter().enumerate() {
            assert!(payload.ends_with(&format!("-{n}")), "{payload} at {n}");
            if n > 0 {
                assert!(*seq > acked[n - 1].0, "sequence order for {payload}");
            }
            let m = stream
                .get_raw_message(*seq)
                .await
                .unwrap_or_else(|e| panic!("acked {payload} at {seq} missing: {e}"));
            assert_eq!(m.payload, payload.as_str(), "payload at {seq}");
        }
    }

    // The durable consumer never went back below what it had confirmed before the last kill,
    // and it can finish the stream.
    let consumer: PullConsumer = stream.get_consumer("reader").await.unwrap();
    let ci = consumer.get_info().await.unwrap();
    assert!(
        ci.ack_floor.stream_sequence >= floor_before_last_kill,
        "ack floor {} < confirmed {floor_before_last_kill}",
        ci.ack_floor.stream_sequence
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut batch = consumer
            .batch()
            .max_messages(100)
            .expires(Duration::from_millis(300))
            .messages()
            .await
            .unwrap();
        while let Some(Ok(m)) = batch.next().await {
            m.double_ack().await.unwrap();
        }
        let ci = consumer.get_info().await.unwrap();
        if ci.ack_floor.stream_sequence == total as u64 && ci.num_pending == 0 {
            assert_eq!(ci.num_ack_pending, 0);
            break;
        }
        assert!(Instant::now() < deadline, "consumer did not finish: {ci:?}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
}
