//! JetStream pull consumers through async-nats: fetch/ack bookkeeping in consumer info,
//! nak (with delay), term, in-progress, redelivery up to max_deliver, backoff, ack policies,
//! max_ack_pending and subject filters. Validated against nats-server 2.15.1
//! (`SLUICE_TEST_REFERENCE=/path/to/nats-server`).

mod common;

use std::time::{Duration, Instant};

use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::{AckPolicy, pull};
use common::js::{
    JsServer, api, api_err, durable, explicit, fetch, fill, info, js, numbers, publish, seqs,
    stream, wait_for,
};
use futures::StreamExt;
use serde_json::json;

#[tokio::test]
async fn pull_fetch_ack_and_info_numbers() {
    let server = JsServer::start();
    let (_nc, js) = js(&server).await;
    let s = stream(&js, "S", &["s.>"]).await;
    fill(&js, "s.x", 5).await;
    let c = durable(&s, "work", explicit()).await;
    let i = info(&c).await;
    assert_eq!(numbers(&i), (0, 0, 0, 0, 0, 5, 0));
    assert_eq!(i.config.ack_wait, Duration::from_secs(30));
    assert_eq!(i.config.max_ack_pending, 1000);
    assert_eq!(i.config.max_waiting, 512);
    assert_eq!(i.config.max_deliver, -1);

    let msgs = fetch(&c, 3).await;
    assert_eq!(seqs(&msgs), vec![1, 2, 3]);
    let mi = msgs[2].info().unwrap();
    assert_eq!((mi.stream, mi.consumer), ("S", "work"));
    assert_eq!((mi.consumer_sequence, mi.delivered, mi.pending), (3, 1, 2));
    assert_eq!(msgs[0].payload, "m1");
    assert_eq!(numbers(&info(&c).await), (3, 3, 0, 0, 3, 2, 0));

    msgs[0].double_ack().await.unwrap();
    msgs[1].double_ack().await.unwrap();
    assert_eq!(numbers(&info(&c).await), (3, 3, 2, 2, 1, 2, 0));
    // Acking out of order leaves the floor below the gap.
    let rest = fetch(&c, 10).await;
    assert_eq!(seqs(&rest), vec![4, 5]);
    rest[1].double_ack().await.unwrap();
    assert_eq!(numbers(&info(&c).await), (5, 5, 2, 2, 2, 0, 0));
    msgs[2].double_ack().await.unwrap();
    rest[0].double_ack().await.unwrap();
    assert_eq!(numbers(&info(&c).await), (5, 5, 5, 5, 0, 0, 0));
    // A second ack of the same message changes nothing.
    msgs[0].double_ack().await.unwrap();
    assert_eq!(numbers(&info(&c).await), (5, 5, 5, 5, 0, 0, 0));
    assert!(fetch(&c, 5).await.is_empty());
}

#[tokio::test]
async fn nak_redelivers_and_nak_delay_waits() {
    let server = JsServer::start();
    let (_nc, js) = js(&server).await;
    let s = stream(&js, "S", &["s.>"]).await;
    fill(&js, "s.x", 3).await;
    let c = durable(&s, "naker", explicit()).await;
    let msgs = fetch(&c, 1).await;
    assert_eq!(msgs[0].info().unwrap().delivered, 1);
    msgs[0].double_ack_with(AckKind::Nak(None)).await.unwrap();
    let again = fetch(&c, 1).await;
    assert_eq!(seqs(&again), vec![1]);
    let mi = again[0].info().unwrap();
    assert_eq!((mi.delivered, mi.consumer_sequence), (2, 2));
    assert_eq!(numbers(&info(&c).await), (2, 1, 0, 0, 1, 2, 1));
    again[0].double_ack().await.unwrap();
    // Ack floor: consumer seq of the acked delivery.
    assert_eq!(numbers(&info(&c).await), (2, 1, 2, 1, 0, 2, 0));

    let next = fetch(&c, 1).await;
    assert_eq!(seqs(&next), vec![2]);
    let t0 = Instant::now();
    next[0]
        .double_ack_with(AckKind::Nak(Some(Duration::from_millis(800))))
        .await
        .unwrap();
    // Message 3 is still available meanwhile; message 2 comes back only after the delay.
    let other = fetch(&c, 1).await;
    assert_eq!(seqs(&other), vec![3]);
    other[0].double_ack().await.unwrap();
    let late = wait_for(&c, 1, Duration::from_secs(5)).await;
    assert_eq!(seqs(&late), vec![2]);
    assert!(
        t0.elapsed() >= Duration::from_millis(700),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(late[0].info().unwrap().delivered, 2);
    late[0].double_ack().await.unwrap();
    let i = info(&c).await;
    assert_eq!((i.num_ack_pending, i.num_pending), (0, 0));
    assert_eq!(i.ack_floor.stream_sequence, 3);
}

#[tokio::test]
async fn term_stops_redelivery_and_advances_floor() {
    let server = JsServer::start();
    let (_nc, js) = js(&server).await;
    let s = stream(&js, "S", &["s.>"]).await;
    fill(&js, "s.x", 2).await;
    let c = durable(
        &s,
        "termer",
        pull::Config {
            ack_wait: Duration::from_millis(300),
            ..explicit()
        },
    )
    .await;
    let msgs = fetch(&c, 1).await;
    msgs[0].double_ack_with(AckKind::Term).await.unwrap();
    assert_eq!(numbers(&info(&c).await), (1, 1, 1, 1, 0, 1, 0));
    let second = fetch(&c, 1).await;
    assert_eq!(seqs(&second), vec![2]);
    second[0].double_ack().await.unwrap();
    // Not redelivered even after ack_wait.
    assert!(
        wait_for(&c, 2, Duration::from_millis(1200))
            .await
            .is_empty()
    );
    assert_eq!(numbers(&info(&c).await), (2, 2, 2, 2, 0, 0, 0));
}

#[tokio::test]
async fn in_progress_extends_ack_wait() {
    let server = JsServer::start();
    let (_nc, js) = js(&server).await;
    let s = stream(&js, "S", &["s.>"]).await;
    fill(&js, "s.x", 1).await;
    let c = durable(
        &s,
        "slow",
        pull::Config {
            ack_wait: Duration::from_millis(800),
            ..explicit()
        },
    )
    .await;
    let msgs = fetch(&c, 1).await;
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(2000) {
        msgs[0].double_ack_with(AckKind::Progress).await.unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // 2 s > ack_wait, but every +WPI restarted the clock: no redelivery happened.
    assert!(fetch(&c, 1).await.is_empty());
    let i = info(&c).await;
    assert_eq!(numbers(&i), (1, 1, 0, 0, 1, 0, 0));
    msgs[0].double_ack().await.unwrap();
    assert_eq!(numbers(&info(&c).await), (1, 1, 1, 1, 0, 0, 0));
}

#[tokio::test]
async fn redelivery_after_ack_wait_up_to_max_deliver() {
    let server = JsServer::start();
    let (_nc, js) = js(&server).await;
    let s = stream(&js, "S", &["s.>"]).await;
    fill(&js, "s.x", 1).await;
    let c = durable(
        &s,
        "flaky",
        pull::Config {
            ack_wait: Duration::from_millis(500),
            max_deliver: 3,
            ..explicit()
        },
    )
    .await;
    let msgs = wait_for(&c, 10, Duration::from_millis(3000)).await;
    let delivered: Vec<(u64, i64, u64)> = msgs
        .iter()
        .map(|m| {
            let i = m.info().unwrap();
            (i.stream_sequence, i.delivered, i.consumer_sequence)
        })
        .collect();
    assert_eq!(delivered, vec![(1, 1, 1), (1, 2, 2), (1, 3, 3)]);
    let i = info(&c).await;
    assert_eq!(
        (i.delivered.consumer_sequence, i.delivered.stream_sequence),
        (3, 1)
    );
    assert_eq!((i.ack_floor.stream_sequence, i.num_pending), (0, 0));
    assert!(fetch(&c, 1).await.is_empty());
}

#[tokio::test]
async fn backoff_spaces_redeliveries() {
    let server = JsServer::start();
    let (_nc, js) = js(&server).await;
    let s = stream(&js, "S", &["s.>"]).await;
    fill(&js, "s.x", 1).await;
    let c = durable(
        &s,
        "backoff",
        pull::Config {
            ack_wait: Duration::from_secs(5),
            backoff: vec![Duration::from_millis(200), Duration::from_millis(900)],
            max_deliver: 3,
            ..explicit()
        },
    )
    .await;
    assert_eq!(info(&c).await.config.backoff.len(), 2);
    let mut batch = c
        .batch()
        .max_messages(3)
        .expires(Duration::from_secs(4))
        .messages()
        .await
        .unwrap();
    let mut times = Vec::new();
    while let Some(Ok(m)) = batch.next().await {
        times.push((Instant::now(), m.info().unwrap().delivered));
    }
    assert_eq!(times.iter().map(|t| t.1).collect::<Vec<_>>(), vec![1, 2, 3]);
    let first_gap = times[1].0 - times[0].0;
    let second_gap = times[2].0 - times[1].0;
    assert!(first_gap >= Duration::from_millis(150), "{first_gap:?}");
    assert!(first_gap < Duration::from_millis(800), "{first_gap:?}");
    assert!(second_gap >= Duration::from_millis(800), "{second_gap:?}");
    // backoff longer than max_deliver allows is refused (10116).
    let reply = api(
        &js.client(),
        "$JS.API.CONSUMER.CREATE.S.bad",
        json!({"stream_name": "S", "config": {"durable_name": "bad", "ack_policy": "explicit",
            "max_deliver": 2, "backoff": [1_000_000_000u64, 2_000_000_000u64, 3_000_000_000u64]}}),
    )
    .await;
    assert_eq!(api_err(&reply), 10116, "{reply}");
}

#[tokio::test]
async fn ack_policy_all_and_none() {
    let server = JsServer::start();
    let (_nc, js) = js(&server).await;
    let s = stream(&js, "S", &["s.>"]).await;
    fill(&js, "s.x", 5).await;
    let all = durable(
        &s,
        "all",
        pull::Config {
            ack_policy: AckPolicy::All,
            ..Default::default()
        },
    )
    .await;
    let msgs = fetch(&all, 5).await;
    assert_eq!(msgs.len(), 5);
    msgs[2].double_ack().await.unwrap();
    assert_eq!(numbers(&info(&all).await), (5, 5, 3, 3, 2, 0, 0));
    msgs[4].double_ack().await.unwrap();
    assert_eq!(numbers(&info(&all).await), (5, 5, 5, 5, 0, 0, 0));

    let none = durable(
        &s,
        "none",
        pull::Config {
            ack_policy: AckPolicy::None,
            ..Default::default()
        },
    )
    .await;
    let msgs = fetch(&none, 3).await;
    assert_eq!(seqs(&msgs), vec![1, 2, 3]);
    assert_eq!(numbers(&info(&none).await), (3, 3, 3, 3, 0, 2, 0));
}

#[tokio::test]
async fn max_ack_pending_stops_delivery() {
    let server = JsServer::start();
    let (_nc, js) = js(&server).await;
    let s = stream(&js, "S", &["s.>"]).await;
    fill(&js, "s.x", 5).await;
    let c = durable(
        &s,
        "limited",
        pull::Config {
            max_ack_pending: 2,
            ..explicit()
        },
    )
    .await;
    // A waiting request for 5 gets 2, then nothing more until it expires.
    let msgs = wait_for(&c, 5, Duration::from_millis(500)).await;
    assert_eq!(seqs(&msgs), vec![1, 2]);
    assert!(wait_for(&c, 5, Duration::from_millis(300)).await.is_empty());
    assert_eq!(numbers(&info(&c).await), (2, 2, 0, 0, 2, 3, 0));
    msgs[0].double_ack().await.unwrap();
    assert_eq!(
        seqs(&wait_for(&c, 5, Duration::from_millis(500)).await),
        vec![3]
    );
}

#[tokio::test]
async fn filter_subject_and_filter_subjects() {
    let server = JsServer::start();
    let (_nc, js) = js(&server).await;
    let s = stream(&js, "S", &["f.*"]).await;
    for subject in ["f.a", "f.b", "f.c", "f.a", "f.b", "f.c"] {
        publish(&js, subject, subject).await;
    }
    let one = durable(
        &s,
        "one",
        pull::Config {
            filter_subject: "f.a".into(),
            ..explicit()
        },
    )
    .await;
    assert_eq!(info(&one).await.num_pending, 2);
    assert_eq!(seqs(&fetch(&one, 10).await), vec![1, 4]);
    let many = durable(
        &s,
        "many",
        pull::Config {
            filter_subjects: vec!["f.b".into(), "f.c".into()],
            ..explicit()
        },
    )
    .await;
    assert_eq!(info(&many).await.num_pending, 4);
    let msgs = fetch(&many, 10).await;
    assert_eq!(seqs(&msgs), vec![2, 3, 5, 6]);
    assert_eq!(msgs[0].subject.as_str(), "f.b");
    assert_eq!(
        msgs.iter()
            .map(|m| m.info().unwrap().consumer_sequence)
            .collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    publish(&js, "f.a", "new").await;
    assert_eq!(info(&many).await.num_pending, 0);
    assert_eq!(info(&one).await.num_pending, 1);
}
