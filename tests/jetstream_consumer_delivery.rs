//! JetStream consumer delivery and management through async-nats: deliver policies, pull
//! request statuses (404/408/409), ephemeral expiry, push and queue push consumers, ordered
//! consumers, create/update actions, names/list/delete and error codes. Validated against
//! nats-server 2.15.1 (`SLUICE_TEST_REFERENCE=/path/to/nats-server`).

mod common;

use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, Info as ConsumerInfo, pull, push};
use async_nats::jetstream::context::ConsumerInfoErrorKind;
use async_nats::jetstream::stream::{ConsumerCreateStrictErrorKind, ConsumerUpdateErrorKind};
use common::eventually;
use common::js::{
    JsServer, api, api_err, durable, err_code, explicit, fetch, fill, info, js, publish, seqs,
    stream, wait_for,
};
use futures::{StreamExt, TryStreamExt};
use serde_json::json;

#[tokio::test]
async fn every_deliver_policy() {
    let server = JsServer::start();
    let (_nc, js) = js(&server).await;
    let s = stream(&js, "S", &["d.*"]).await;
    for subject in ["d.a", "d.b", "d.a", "d.c", "d.b"] {
        publish(&js, subject, subject).await;
    }
    let start_time = s.get_raw_message(3).await.unwrap().time;
    let cases = [
        ("all", DeliverPolicy::All, vec![1, 2, 3, 4, 5]),
        ("last", DeliverPolicy::Last, vec![5]),
        ("new", DeliverPolicy::New, vec![]),
        (
            "seq",
            DeliverPolicy::ByStartSequence { start_sequence: 3 },
            vec![3, 4, 5],
        ),
        (
            "time",
            DeliverPolicy::ByStartTime { start_time },
            vec![3, 4, 5],
        ),
        ("lps", DeliverPolicy::LastPerSubject, vec![3, 4, 5]),
        ("lps-one", DeliverPolicy::LastPerSubject, vec![5]),
    ];
    let mut consumers = Vec::new();
    for (name, policy, expected) in cases {
        // last_per_subject needs a filter (10094 without one).
        let filter_subject = match name {
            "lps" => "d.*",
            "lps-one" => "d.b",
            _ => "",
        };
        let c = durable(
            &s,
            name,
            pull::Config {
                deliver_policy: policy,
                filter_subject: filter_subject.into(),
                ..explicit()
            },
        )
        .await;
        assert_eq!(info(&c).await.num_pending, expected.len() as u64, "{name}");
        assert_eq!(seqs(&fetch(&c, 10).await), expected, "{name}");
        consumers.push(c);
    }
    publish(&js, "d.a", "late").await;
    for c in &consumers {
        let name = &c.cached_info().name;
        let expected = if name == "lps-one" { vec![] } else { vec![6] };
        assert_eq!(seqs(&fetch(c, 10).await), expected, "{name}");
    }
    let reply = api(
        &js.client(),
        "$JS.API.CONSUMER.CREATE.S.nofilter",
        json!({"stream_name": "S", "config": {"durable_name": "nofilter",
            "ack_policy": "explicit", "deliver_policy": "last_per_subject"}}),
    )
    .await;
    assert_eq!(api_err(&reply), 10094, "{reply}");
    // ByStartSequence past the end waits for that sequence.
    let ahead = durable(
        &s,
        "ahead",
        pull::Config {
            deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: 8 },
            ..explicit()
        },
    )
    .await;
    publish(&js, "d.a", "7").await;
    publish(&js, "d.a", "8").await;
    assert_eq!(seqs(&fetch(&ahead, 10).await), vec![8]);
}

#[tokio::test]
async fn pull_request_statuses_expires_no_wait_and_max_waiting() {
    let server = JsServer::start();
    let (nc, js) = js(&server).await;
    let s = stream(&js, "S", &["s.>"]).await;
    let c = durable(
        &s,
        "waiter",
        pull::Config {
            max_waiting: 1,
            ..explicit()
        },
    )
    .await;
    // The client ends a batch on the server's 408 at expiry (not on its own 5 s fallback).
    let t0 = Instant::now();
    assert!(wait_for(&c, 5, Duration::from_millis(500)).await.is_empty());
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(3),
        "{took:?}"
    );
    // no_wait on an empty consumer ends at once (404).
    let t0 = Instant::now();
    assert!(fetch(&c, 5).await.is_empty());
    assert!(t0.elapsed() < Duration::from_secs(1));

    // Raw pull requests show the status headers.
    let mut inbox = nc.subscribe("pull.inbox").await.unwrap();
    let next = "$JS.API.CONSUMER.MSG.NEXT.S.waiter";
    nc.publish_with_reply(next, "pull.inbox", r#"{"batch":1,"no_wait":true}"#.into())
        .await
        .unwrap();
    let m = tokio::time::timeout(Duration::from_secs(5), inbox.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.status, Some(async_nats::StatusCode::NOT_FOUND));
    assert_eq!(m.description.as_deref(), Some("No Messages"));
    nc.publish_with_reply(
        next,
        "pull.inbox",
        r#"{"batch":1,"expires":300000000}"#.into(),
    )
    .await
    .unwrap();
    let m = tokio::time::timeout(Duration::from_secs(5), inbox.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.status, Some(async_nats::StatusCode::TIMEOUT));
    assert_eq!(m.description.as_deref(), Some("Request Timeout"));
    let pending = m.headers.as_ref().unwrap();
    assert_eq!(pending.get("Nats-Pending-Messages").unwrap().as_str(), "1");
    assert_eq!(pending.get("Nats-Pending-Bytes").unwrap().as_str(), "0");

    // Two waiting requests with max_waiting 1: the second is refused with 409.
    for _ in 0..2 {
        nc.publish_with_reply(
            next,
            "pull.inbox",
            r#"{"batch":1,"expires":2000000000}"#.into(),
        )
        .await
        .unwrap();
    }
    let m = tokio::time::timeout(Duration::from_secs(5), inbox.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.status.map(|s| s.as_u16()), Some(409));
    assert_eq!(m.description.as_deref(), Some("Exceeded MaxWaiting"));
    assert_eq!(info(&c).await.num_waiting, 1);
    // The waiting one still gets a message that arrives.
    publish(&js, "s.x", "hello").await;
    let m = tokio::time::timeout(Duration::from_secs(5), inbox.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.status, None);
    assert_eq!(m.payload, "hello");
    assert!(m.reply.unwrap().starts_with("$JS.ACK.S.waiter.1.1.1."));
}

#[tokio::test]
async fn ephemeral_consumer_removed_after_inactive_threshold() {
    let server = JsServer::start();
    let (_nc, js) = js(&server).await;
    let s = stream(&js, "S", &["s.>"]).await;
    let c = s
        .create_consumer(pull::Config {
            inactive_threshold: Duration::from_millis(500),
            ..explicit()
        })
        .await
        .unwrap();
    let name = c.cached_info().name.clone();
    assert_eq!(name.len(), 8, "generated name {name}");
    assert!(c.cached_info().config.durable_name.is_none());
    assert_eq!(
        c.cached_info().config.inactive_threshold,
        Duration::from_millis(500)
    );
    let gone = eventually(Duration::from_secs(10), || async {
        s.consumer_info(&name).await.is_err()
    })
    .await;
    assert!(gone, "ephemeral consumer still there");
    let err = s.consumer_info(&name).await.unwrap_err();
    assert_eq!(err.kind(), ConsumerInfoErrorKind::NotFound, "{err:?}");
    // A durable without inactive_threshold stays.
    let d = durable(&s, "stays", explicit()).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(info(&d).await.name, "stays");
}

#[tokio::test]
async fn push_consumer_durable_and_queue_group() {
    let server = JsServer::start();
    let (nc, js) = js(&server).await;
    let s = stream(&js, "S", &["s.>"]).await;
    fill(&js, "s.x", 3).await;
    let push = s
        .create_consumer(push::Config {
            durable_name: Some("pusher".into()),
            deliver_subject: "deliver.pusher".into(),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!push.cached_info().push_bound);
    let mut messages = push.messages().await.unwrap();
    for i in 1..=3u64 {
        let m = tokio::time::timeout(Duration::from_secs(5), messages.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(m.info().unwrap().stream_sequence, i);
        assert_eq!(m.subject.as_str(), "s.x");
        m.double_ack().await.unwrap();
    }
    let i = s.consumer_info("pusher").await.unwrap();
    assert_eq!(
        (
            i.delivered.stream_sequence,
            i.ack_floor.stream_sequence,
            i.num_ack_pending
        ),
        (3, 3, 0)
    );
    assert!(i.push_bound);
    assert_eq!(i.config.deliver_subject.as_deref(), Some("deliver.pusher"));

    // Queue push: two members of the group share the messages.
    let nc2 = common::js::connect(&server).await;
    let mut q1 = nc
        .queue_subscribe("deliver.q", "workers".into())
        .await
        .unwrap();
    let mut q2 = nc2
        .queue_subscribe("deliver.q", "workers".into())
        .await
        .unwrap();
    common::sync(&nc).await;
    common::sync(&nc2).await;
    s.create_consumer(push::Config {
        durable_name: Some("queue".into()),
        deliver_subject: "deliver.q".into(),
        deliver_group: Some("workers".into()),
        ack_policy: AckPolicy::Explicit,
        ..Default::default()
    })
    .await
    .unwrap();
    fill(&js, "s.y", 17).await; // stream seqs 4..=20
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.len() < 20 && Instant::now() < deadline {
        let m = tokio::select! {
            m = q1.next() => m,
            m = q2.next() => m,
            _ = tokio::time::sleep(Duration::from_secs(5)) => None,
        };
        let Some(m) = m else { break };
        let reply = m.reply.clone().expect("ack subject");
        got.push(reply.split('.').nth(5).unwrap().parse::<u64>().unwrap());
        nc.publish(reply, "+ACK".into()).await.unwrap();
    }
    got.sort();
    assert_eq!(got, (1..=20).collect::<Vec<u64>>());
    let i = s.consumer_info("queue").await.unwrap();
    assert_eq!(i.config.deliver_group.as_deref(), Some("workers"));
}

#[tokio::test]
async fn ordered_consumer_reads_everything_in_order() {
    let server = JsServer::start();
    let (nc, js) = js(&server).await;
    let s = stream(&js, "S", &["o.*"]).await;
    for i in 1..=50 {
        publish(
            &js,
            if i % 2 == 0 { "o.even" } else { "o.odd" },
            &i.to_string(),
        )
        .await;
    }
    let ordered = s
        .create_consumer(pull::OrderedConfig {
            ..Default::default()
        })
        .await
        .unwrap();
    let first_name = ordered.cached_info().name.clone();
    assert_eq!(ordered.cached_info().config.ack_policy, AckPolicy::None);
    let mut messages = ordered.messages().await.unwrap();
    for i in 1..=50u64 {
        let m = tokio::time::timeout(Duration::from_secs(5), messages.next())
            .await
            .expect("ordered message in time")
            .unwrap()
            .unwrap();
        assert_eq!(m.info().unwrap().stream_sequence, i);
        assert_eq!(m.payload, i.to_string());
    }
    // Delete it under the client: it recreates a consumer and resumes after seq 50.
    let reply = api(
        &nc,
        &format!("$JS.API.CONSUMER.DELETE.S.{first_name}"),
        json!(null),
    )
    .await;
    assert_eq!(reply["success"], true, "{reply}");
    for i in 51..=60 {
        publish(&js, "o.odd", &i.to_string()).await;
    }
    for i in 51..=60u64 {
        let m = tokio::time::timeout(Duration::from_secs(15), messages.next())
            .await
            .expect("ordered message after recreate")
            .unwrap()
            .unwrap();
        assert_eq!(m.info().unwrap().stream_sequence, i);
    }
    // A filtered ordered consumer only sees its subject.
    let evens = s
        .create_consumer(pull::OrderedConfig {
            filter_subject: "o.even".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let got: Vec<u64> = evens
        .messages()
        .await
        .unwrap()
        .take(25)
        .map(|m| m.unwrap().info().unwrap().stream_sequence)
        .collect()
        .await;
    assert_eq!(got, (1..=25).map(|i| i * 2).collect::<Vec<u64>>());
}

#[tokio::test]
async fn consumer_management_api() {
    let server = JsServer::start();
    let (nc, js) = js(&server).await;
    let s = stream(&js, "S", &["s.>"]).await;
    // Strict create, then create again with a different config: 10148.
    s.create_consumer_strict(pull::Config {
        durable_name: Some("c1".into()),
        ..explicit()
    })
    .await
    .unwrap();
    let err = s
        .create_consumer_strict(pull::Config {
            durable_name: Some("c1".into()),
            max_deliver: 5,
            ..explicit()
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ConsumerCreateStrictErrorKind::AlreadyExists,
        "{err:?}"
    );
    let reply = api(
        &nc,
        "$JS.API.CONSUMER.CREATE.S.c1",
        json!({"stream_name": "S", "action": "create",
            "config": {"durable_name": "c1", "ack_policy": "explicit", "max_deliver": 5}}),
    )
    .await;
    assert_eq!(api_err(&reply), 10148, "{reply}");
    assert_eq!(reply["error"]["description"], "consumer already exists");
    // Update of a missing consumer: 10149.
    let err = s
        .update_consumer(pull::Config {
            durable_name: Some("missing".into()),
            ..explicit()
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ConsumerUpdateErrorKind::DoesNotExist, "{err:?}");
    let reply = api(
        &nc,
        "$JS.API.CONSUMER.CREATE.S.missing",
        json!({"stream_name": "S", "action": "update",
            "config": {"durable_name": "missing", "ack_policy": "explicit"}}),
    )
    .await;
    assert_eq!(api_err(&reply), 10149, "{reply}");
    assert_eq!(reply["error"]["description"], "consumer does not exist");
    // Update of an existing one changes an editable field; ack policy is not editable.
    let updated = s
        .update_consumer(pull::Config {
            durable_name: Some("c1".into()),
            max_deliver: 5,
            ..explicit()
        })
        .await
        .unwrap();
    assert_eq!(updated.cached_info().config.max_deliver, 5);
    let reply = api(
        &nc,
        "$JS.API.CONSUMER.CREATE.S.c1",
        json!({"stream_name": "S", "config": {"name": "c1", "ack_policy": "none"}}),
    )
    .await;
    assert_eq!(api_err(&reply), 10012, "{reply}");

    // Missing stream: 10059; missing consumer: 10014.
    let reply = api(
        &nc,
        "$JS.API.CONSUMER.CREATE.NOPE.c",
        json!({"stream_name": "NOPE", "config": {"durable_name": "c", "ack_policy": "explicit"}}),
    )
    .await;
    assert_eq!(api_err(&reply), 10059);
    let err = js
        .create_consumer_on_stream(
            pull::Config {
                durable_name: Some("c".into()),
                ..explicit()
            },
            "NOPE",
        )
        .await
        .unwrap_err();
    assert_eq!(err_code(&err), Some(10059), "{err:?}");
    let reply = api(&nc, "$JS.API.CONSUMER.INFO.S.nope", json!(null)).await;
    assert_eq!(api_err(&reply), 10014);
    assert_eq!(reply["error"]["code"], 404);
    assert!(s.get_consumer::<pull::Config>("nope").await.is_err());

    for name in ["c2", "c3"] {
        durable(&s, name, explicit()).await;
    }
    let mut names: Vec<String> = s.consumer_names().try_collect().await.unwrap();
    names.sort();
    assert_eq!(names, vec!["c1", "c2", "c3"]);
    let infos: Vec<ConsumerInfo> = s.consumers().try_collect().await.unwrap();
    assert_eq!(infos.len(), 3);
    assert!(infos.iter().all(|i| i.stream_name == "S"));
    let mut s2 = js.get_stream("S").await.unwrap();
    assert_eq!(s2.info().await.unwrap().state.consumer_count, 3);

    assert!(s.delete_consumer("c2").await.unwrap().success);
    let Err(err) = s.delete_consumer("c2").await else {
        panic!("deleting a deleted consumer succeeded");
    };
    assert_eq!(err_code(&err), Some(10014), "{err:?}");
    let mut names: Vec<String> = s.consumer_names().try_collect().await.unwrap();
    names.sort();
    assert_eq!(names, vec!["c1", "c3"]);
    let reply = api(&nc, "$JS.API.INFO", json!(null)).await;
    assert_eq!(reply["consumers"], 2);
}
