//! JetStream stream limits and retention through async-nats: max_msgs/max_bytes with both
//! discard policies, per-subject limits, max_msg_size, max_age, rollups, purge variants,
//! work-queue and interest retention, memory storage. Validated against nats-server 2.15.1
//! (`SLUICE_TEST_REFERENCE=/path/to/nats-server`).

mod common;

use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, pull};
use async_nats::jetstream::stream::{DiscardPolicy, RetentionPolicy, StorageType};
use common::eventually;
use common::js::{JsServer, api, api_err, cfg, counts, create, js, publish, publish_raw, state};
use futures::StreamExt;
use serde_json::json;

#[tokio::test]
async fn max_msgs_and_max_bytes_discard_old() {
    let server = JsServer::start();
    let (_nc, js) = js(&server).await;
    let mut config = cfg("LIM", &["lim"]);
    config.max_messages = 3;
    create(&js, config).await;
    for i in 1..=5 {
        publish(&js, "lim", &format!("{i}")).await;
    }
    assert_eq!(counts(&js, "LIM").await, (3, 3, 5));

    // Each message "0123456789" on "byt" takes 22 + 3 + 10 + 8 = 43 bytes.
    let mut config = cfg("BYT", &["byt"]);
    config.max_bytes = 3 * 43;
    create(&js, config).await;
    for _ in 0..5 {
        publish(&js, "byt", "0123456789").await;
    }
    let s = state(&js, "BYT").await;
    assert_eq!((s.messages, s.first_sequence, s.last_sequence), (3, 3, 5));
    assert_eq!(s.bytes, 3 * 43);
}

#[tokio::test]
async fn discard_new_refuses_with_10077() {
    let server = JsServer::start();
    let (nc, js) = js(&server).await;
    let mut config = cfg("NEW", &["new"]);
    config.max_messages = 2;
    config.discard = DiscardPolicy::New;
    create(&js, config).await;
    publish(&js, "new", "1").await;
    publish(&js, "new", "2").await;
    let reply = publish_raw(&nc, "new", &[], b"3").await;
    assert_eq!(api_err(&reply), 10077, "{reply}");
    assert_eq!(reply["error"]["description"], "maximum messages exceeded");
    assert_eq!(counts(&js, "NEW").await, (2, 1, 2));

    let mut config = cfg("NEWB", &["newb"]);
    config.max_bytes = 2 * 44; // 22 + 4 + 10 + 8 per message
    config.discard = DiscardPolicy::New;
    create(&js, config).await;
    publish(&js, "newb", "0123456789").await;
    publish(&js, "newb", "0123456789").await;
    let reply = publish_raw(&nc, "newb", &[], b"0123456789").await;
    assert_eq!(api_err(&reply), 10077, "{reply}");
    assert_eq!(reply["error"]["description"], "maximum bytes exceeded");
    assert_eq!(counts(&js, "NEWB").await, (2, 1, 2));
}

#[tokio::test]
async fn max_msgs_per_subject_and_max_msg_size() {
    let server = JsServer::start();
    let (nc, js) = js(&server).await;
    let mut config = cfg("PER", &["per.*"]);
    config.max_messages_per_subject = 2;
    config.max_message_size = 64;
    let stream = create(&js, config).await;
    for (subject, payload) in [
        ("per.a", "a1"),
        ("per.a", "a2"),
        ("per.b", "b1"),
        ("per.a", "a3"),
    ] {
        publish(&js, subject, payload).await;
    }
    let s = state(&js, "PER").await;
    assert_eq!((s.messages, s.first_sequence, s.last_sequence), (3, 2, 4));
    assert_eq!(s.subjects_count, 2);
    let last = stream
        .get_last_raw_message_by_subject("per.a")
        .await
        .unwrap();
    assert_eq!((last.sequence, last.payload.as_ref()), (4, &b"a3"[..]));

    // max_msg_size counts headers plus payload.
    let reply = publish_raw(&nc, "per.c", &[], &[b'x'; 65]).await;
    assert_eq!(api_err(&reply), 10054, "{reply}");
    assert_eq!(
        reply["error"]["description"],
        "message size exceeds maximum allowed"
    );
    let reply = publish_raw(&nc, "per.c", &[], &[b'x'; 64]).await;
    assert_eq!(reply["seq"], 5, "{reply}");
    let reply = publish_raw(&nc, "per.c", &[("Nats-Msg-Id", "abc")], &[b'x'; 60]).await;
    assert_eq!(api_err(&reply), 10054, "{reply}");
    assert_eq!(counts(&js, "PER").await, (4, 2, 5));
}

#[tokio::test]
async fn max_age_expires_messages_while_running() {
    let server = JsServer::start();
    let (_nc, js) = js(&server).await;
    let mut config = cfg("AGE", &["age"]);
    config.max_age = Duration::from_secs(1);
    create(&js, config).await;
    for i in 1..=3 {
        publish(&js, "age", &format!("{i}")).await;
    }
    assert_eq!(counts(&js, "AGE").await, (3, 1, 3));
    let gone = eventually(Duration::from_secs(10), || async {
        state(&js, "AGE").await.messages == 0
    })
    .await;
    assert!(gone, "messages older than max_age still stored");
    let s = state(&js, "AGE").await;
    assert_eq!((s.first_sequence, s.last_sequence, s.bytes), (4, 3, 0));
    assert_eq!(publish(&js, "age", "4").await, 4);
    assert_eq!(counts(&js, "AGE").await, (1, 4, 4));
}

#[tokio::test]
async fn rollup_headers() {
    let server = JsServer::start();
    let (nc, js) = js(&server).await;
    let mut config = cfg("ROLL", &["roll.*"]);
    config.allow_rollup = true;
    let stream = create(&js, config).await;
    for (subject, payload) in [
        ("roll.a", "a1"),
        ("roll.a", "a2"),
        ("roll.b", "b1"),
        ("roll.a", "a3"),
    ] {
        publish(&js, subject, payload).await;
    }
    let reply = publish_raw(&nc, "roll.a", &[("Nats-Rollup", "sub")], b"a-rollup").await;
    assert_eq!(reply["seq"], 5, "{reply}");
    let s = state(&js, "ROLL").await;
    assert_eq!((s.messages, s.first_sequence, s.last_sequence), (2, 3, 5));
    assert_eq!(stream.get_raw_message(3).await.unwrap().payload, "b1");
    assert!(stream.get_raw_message(1).await.is_err());

    let reply = publish_raw(&nc, "roll.c", &[("Nats-Rollup", "all")], b"everything").await;
    assert_eq!(reply["seq"], 6, "{reply}");
    assert_eq!(counts(&js, "ROLL").await, (1, 6, 6));
    let reply = publish_raw(&nc, "roll.c", &[("Nats-Rollup", "bogus")], b"x").await;
    assert_eq!(api_err(&reply), 10111, "{reply}");

    create(&js, cfg("NOROLL", &["noroll"])).await;
    let reply = publish_raw(&nc, "noroll", &[("Nats-Rollup", "sub")], b"x").await;
    assert_eq!(api_err(&reply), 10111, "{reply}");
    assert_eq!(reply["error"]["description"], "rollup not permitted");
    assert_eq!(counts(&js, "NOROLL").await, (0, 0, 0));
}

#[tokio::test]
async fn purge_all_subject_keep_and_sequence() {
    let server = JsServer::start();
    let (_nc, js) = js(&server).await;
    let stream = create(&js, cfg("P", &["p.*"])).await;
    let fill = || async {
        for i in 0..10 {
            let subject = if i % 2 == 0 { "p.even" } else { "p.odd" };
            publish(&js, subject, &format!("{i}")).await;
        }
    };
    fill().await;
    let purged = stream.purge().await.unwrap();
    assert!(purged.success);
    assert_eq!(purged.purged, 10);
    let s = state(&js, "P").await;
    assert_eq!((s.messages, s.first_sequence, s.last_sequence), (0, 11, 10));

    fill().await; // seqs 11..=20, odd subject at 12, 14, ..., 20
    let purged = stream.purge().filter("p.odd").await.unwrap();
    assert_eq!(purged.purged, 5);
    assert_eq!(counts(&js, "P").await, (5, 11, 20));

    let purged = stream.purge().keep(2).await.unwrap();
    assert_eq!(purged.purged, 3);
    assert_eq!(counts(&js, "P").await, (2, 17, 20));

    fill().await; // 21..=30
    // Purge up to (not including) sequence 25.
    let purged = stream.purge().sequence(25).await.unwrap();
    assert_eq!(purged.purged, 6);
    assert_eq!(counts(&js, "P").await, (6, 25, 30));

    let purged = stream.purge().filter("p.even").keep(1).await.unwrap();
    assert_eq!(purged.purged, 2);
    assert_eq!(counts(&js, "P").await, (4, 26, 30));
    let purged = stream.purge().filter("p.odd").await.unwrap();
    assert_eq!(purged.purged, 3);
    assert_eq!(counts(&js, "P").await, (1, 29, 30));
}

#[tokio::test]
async fn workqueue_retention_removes_acked_messages() {
    let server = JsServer::start();
    let (nc, js) = js(&server).await;
    let mut config = cfg("WQ", &["wq.*"]);
    config.retention = RetentionPolicy::WorkQueue;
    let stream = create(&js, config).await;
    for i in 1..=3 {
        publish(&js, "wq.job", &format!("{i}")).await;
    }
    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("worker".into()),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut batch = consumer
        .fetch()
        .max_messages(2)
        .expires(Duration::from_secs(2))
        .messages()
        .await
        .unwrap();
    let mut got = Vec::new();
    while let Some(m) = batch.next().await {
        let m = m.unwrap();
        got.push(m.payload.clone());
        m.double_ack().await.unwrap();
    }
    assert_eq!(got, vec!["1", "2"]);
    let removed = eventually(Duration::from_secs(5), || async {
        counts(&js, "WQ").await == (1, 3, 3)
    })
    .await;
    assert!(
        removed,
        "acked work-queue messages still stored: {:?}",
        counts(&js, "WQ").await
    );

    // A second unfiltered consumer on a work queue is refused.
    let reply = api(
        &nc,
        "$JS.API.CONSUMER.CREATE.WQ.other",
        json!({"stream_name": "WQ", "config": {"durable_name": "other", "ack_policy": "explicit"}}),
    )
    .await;
    assert_eq!(api_err(&reply), 10099, "{reply}");
}

#[tokio::test]
async fn interest_retention_removes_when_all_consumers_acked() {
    let server = JsServer::start();
    let (_nc, js) = js(&server).await;
    let mut config = cfg("INT", &["int"]);
    config.retention = RetentionPolicy::Interest;
    let stream = create(&js, config).await;
    // Without consumers nothing is kept, but sequences advance.
    assert_eq!(publish(&js, "int", "dropped").await, 1);
    assert_eq!(counts(&js, "INT").await.0, 0);

    let mut consumers = Vec::new();
    for name in ["c1", "c2"] {
        consumers.push(
            stream
                .create_consumer(pull::Config {
                    durable_name: Some(name.into()),
                    ack_policy: AckPolicy::Explicit,
                    ..Default::default()
                })
                .await
                .unwrap(),
        );
    }
    publish(&js, "int", "x").await;
    publish(&js, "int", "y").await;
    assert_eq!(counts(&js, "INT").await, (2, 2, 3));
    for (i, consumer) in consumers.iter().enumerate() {
        let mut batch = consumer
            .fetch()
            .max_messages(2)
            .expires(Duration::from_secs(2))
            .messages()
            .await
            .unwrap();
        while let Some(m) = batch.next().await {
            m.unwrap().double_ack().await.unwrap();
        }
        if i == 0 {
            // Still wanted by c2.
            assert_eq!(counts(&js, "INT").await, (2, 2, 3));
        }
    }
    let removed = eventually(Duration::from_secs(5), || async {
        counts(&js, "INT").await.0 == 0
    })
    .await;
    assert!(removed, "messages acked by every consumer still stored");
}

#[tokio::test]
async fn memory_storage_stream() {
    let server = JsServer::start();
    let (_nc, js) = js(&server).await;
    let mut config = cfg("MEM", &["mem.>"]);
    config.storage = StorageType::Memory;
    config.max_messages = 5;
    let stream = create(&js, config).await;
    for i in 1..=7 {
        publish(&js, "mem.x", &format!("m{i}")).await;
    }
    let info = js
        .get_stream("MEM")
        .await
        .unwrap()
        .get_info()
        .await
        .unwrap();
    assert_eq!(info.config.storage, StorageType::Memory);
    assert_eq!(
        (
            info.state.messages,
            info.state.first_sequence,
            info.state.last_sequence
        ),
        (5, 3, 7)
    );
    // Memory store accounting: subject + headers + payload + 16 bytes per message.
    assert_eq!(info.state.bytes, 5 * (5 + 2 + 16));
    assert_eq!(stream.get_raw_message(3).await.unwrap().payload, "m3");
}
