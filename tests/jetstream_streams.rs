//! JetStream streams through async-nats: create/info/update/delete, lookups and lists,
//! publish acks and de-duplication, expectation headers, message get/direct get/delete,
//! subject overlap, invalid names and not-found error codes. Validated against nats-server 2.15.1
//! (`SLUICE_TEST_REFERENCE=/path/to/nats-server`).

mod common;

use std::time::Duration;

use async_nats::jetstream::context::{CreateStreamErrorKind, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::{DiscardPolicy, RetentionPolicy, StorageType};
use common::eventually;
use common::js::{
    JsServer, api, api_err, cfg, counts, create, err_code, js, publish, publish_raw, state,
};
use futures::TryStreamExt;
use serde_json::json;

#[tokio::test]
async fn create_info_update_delete_stream() {
    let server = JsServer::start();
    let (_nc, js) = js(&server).await;
    let mut stream = create(&js, cfg("ORDERS", &["orders.>"])).await;
    let info = stream.info().await.unwrap().clone();
    assert_eq!(info.config.name, "ORDERS");
    assert_eq!(info.config.subjects, vec!["orders.>".to_string()]);
    assert_eq!(info.config.max_messages, -1);
    assert_eq!(info.config.max_bytes, -1);
    assert_eq!(info.config.max_messages_per_subject, -1);
    assert_eq!(info.config.max_message_size, -1);
    assert_eq!(info.config.max_consumers, -1);
    assert_eq!(info.config.storage, StorageType::File);
    assert_eq!(info.config.retention, RetentionPolicy::Limits);
    assert_eq!(info.config.discard, DiscardPolicy::Old);
    assert_eq!(info.config.duplicate_window, Duration::from_secs(120));
    assert_eq!(info.config.num_replicas, 1);
    assert_eq!(info.state.messages, 0);
    assert_eq!(info.state.first_sequence, 0);
    assert_eq!(info.state.last_sequence, 0);
    assert_eq!(info.state.consumer_count, 0);

    for i in 1..=3 {
        assert_eq!(publish(&js, "orders.new", &format!("order-{i}")).await, i);
    }
    let s = state(&js, "ORDERS").await;
    assert_eq!((s.messages, s.first_sequence, s.last_sequence), (3, 1, 3));
    assert_eq!(s.subjects_count, 1);
    // File store accounting: 22 + subject + headers + payload + 8 bytes per message.
    assert_eq!(s.bytes, 3 * (22 + 10 + 7 + 8));

    // Creating again with the same config is idempotent; a different config is refused.
    create(&js, cfg("ORDERS", &["orders.>"])).await;
    let nc = js.client();
    let reply = api(
        &nc,
        "$JS.API.STREAM.CREATE.ORDERS",
        json!({"name": "ORDERS", "subjects": ["orders.>"], "max_msgs": 5}),
    )
    .await;
    assert_eq!(api_err(&reply), 10058);

    // Update: lowering max_msgs trims at once, subjects can be added.
    let mut updated = cfg("ORDERS", &["orders.>", "returns.*"]);
    updated.max_messages = 2;
    let info = js.update_stream(updated).await.expect("update");
    assert_eq!(info.config.max_messages, 2);
    assert_eq!(info.config.subjects.len(), 2);
    assert_eq!(counts(&js, "ORDERS").await, (2, 2, 3));
    assert_eq!(publish(&js, "returns.x", "r").await, 4);
    // Storage type can not change (10052).
    let reply = api(
        &nc,
        "$JS.API.STREAM.UPDATE.ORDERS",
        json!({"name": "ORDERS", "subjects": ["orders.>"], "storage": "memory"}),
    )
    .await;
    assert_eq!(api_err(&reply), 10052);
    // Updating a missing stream: 10059.
    let mut missing = cfg("MISSING", &["missing"]);
    missing.max_messages = 1;
    // async-nats turns 10059 into its NotFound kind here.
    let err = js.update_stream(missing).await.unwrap_err();
    assert_eq!(err.kind(), CreateStreamErrorKind::NotFound, "{err:?}");

    assert!(js.delete_stream("ORDERS").await.expect("delete").success);
    let err = js.get_stream("ORDERS").await.unwrap_err();
    assert_eq!(err_code(&err), Some(10059), "{err:?}");
    let reply = api(&nc, "$JS.API.STREAM.DELETE.ORDERS", json!(null)).await;
    assert_eq!(api_err(&reply), 10059);
    assert_eq!(reply["error"]["code"], 404);
}

#[tokio::test]
async fn stream_lookup_by_subject_names_and_list() {
    let server = JsServer::start();
    let (nc, js) = js(&server).await;
    create(&js, cfg("A", &["a.>"])).await;
    create(&js, cfg("B", &["b.*"])).await;
    create(&js, cfg("C", &["c"])).await;
    assert_eq!(js.stream_by_subject("b.x").await.unwrap(), "B");
    assert_eq!(js.stream_by_subject("a.x.y").await.unwrap(), "A");
    assert_eq!(js.stream_by_subject("c").await.unwrap(), "C");
    assert!(js.stream_by_subject("d").await.is_err());
    let reply = api(&nc, "$JS.API.STREAM.NAMES", json!({"subject": "b.*"})).await;
    assert_eq!(reply["streams"], json!(["B"]));
    assert_eq!(reply["total"], 1);

    let mut names: Vec<String> = js.stream_names().try_collect().await.unwrap();
    names.sort();
    assert_eq!(names, vec!["A", "B", "C"]);
    let mut infos: Vec<String> = js
        .streams()
        .map_ok(|info| info.config.name)
        .try_collect()
        .await
        .unwrap();
    infos.sort();
    assert_eq!(infos, vec!["A", "B", "C"]);
    let reply = api(&nc, "$JS.API.INFO", json!(null)).await;
    assert_eq!(reply["streams"], 3);
    assert_eq!(reply["consumers"], 0);
}

#[tokio::test]
async fn publish_acks_and_msg_id_dedupe() {
    let server = JsServer::start();
    let (_nc, js) = js(&server).await;
    let mut config = cfg("DEDUPE", &["d.>"]);
    config.duplicate_window = Duration::from_secs(1);
    create(&js, config).await;

    let send = |id: &'static str, payload: &'static str| {
        let js = js.clone();
        async move {
            js.send_publish(
                "d.x",
                PublishMessage::build()
                    .message_id(id)
                    .payload(payload.into()),
            )
            .await
            .expect("publish")
            .await
            .expect("PubAck")
        }
    };
    let first = send("id-1", "one").await;
    assert_eq!((first.stream.as_str(), first.sequence), ("DEDUPE", 1));
    assert!(!first.duplicate);
    let dup = send("id-1", "one again").await;
    assert_eq!((dup.sequence, dup.duplicate), (1, true));
    let second = send("id-2", "two").await;
    assert_eq!((second.sequence, second.duplicate), (2, false));
    assert_eq!(counts(&js, "DEDUPE").await, (2, 1, 2));
    let stored = js.get_stream("DEDUPE").await.unwrap();
    assert_eq!(stored.get_raw_message(1).await.unwrap().payload, "one");

    // Once the window has passed the id is accepted again (duplicates store nothing, so
    // polling with the same id is harmless).
    let fresh = eventually(Duration::from_secs(10), || async {
        !send("id-1", "late").await.duplicate
    })
    .await;
    assert!(fresh, "id-1 still a duplicate long after the window");
    assert_eq!(counts(&js, "DEDUPE").await, (3, 1, 3));
}

#[tokio::test]
async fn expectation_headers_and_error_codes() {
    let server = JsServer::start();
    let (nc, js) = js(&server).await;
    create(&js, cfg("EXP", &["e.>"])).await;
    let ok = publish_raw(&nc, "e.a", &[("Nats-Msg-Id", "m1")], b"1").await;
    assert_eq!(ok, json!({"stream": "EXP", "seq": 1}));
    publish(&js, "e.b", "2").await;

    let cases: &[(&[(&str, &str)], u64)] = &[
        (&[("Nats-Expected-Stream", "OTHER")], 10060),
        (&[("Nats-Expected-Last-Sequence", "1")], 10071),
        (&[("Nats-Expected-Last-Subject-Sequence", "2")], 10071),
        (&[("Nats-Expected-Last-Msg-Id", "nope")], 10070),
    ];
    for (headers, code) in cases {
        let reply = publish_raw(&nc, "e.a", headers, b"x").await;
        assert_eq!(api_err(&reply), *code, "{headers:?}: {reply}");
        assert_eq!(reply["error"]["code"], 400, "{reply}");
    }
    assert_eq!(counts(&js, "EXP").await, (2, 1, 2));

    // The matching expectations pass.
    let passing: &[&[(&str, &str)]] = &[
        &[("Nats-Expected-Stream", "EXP")],
        &[("Nats-Expected-Last-Sequence", "3")],
        &[
            ("Nats-Expected-Last-Subject-Sequence", "4"),
            ("Nats-Msg-Id", "m2"),
        ],
        // The last msg id is that of the last message stored (which had one).
        &[("Nats-Expected-Last-Msg-Id", "m2")],
    ];
    for (i, headers) in passing.iter().enumerate() {
        let reply = publish_raw(&nc, "e.a", headers, b"y").await;
        assert_eq!(reply["seq"], 3 + i as u64, "{headers:?}: {reply}");
        assert!(reply.get("error").is_none(), "{reply}");
    }
    // A message without Nats-Msg-Id clears the last msg id.
    let reply = publish_raw(&nc, "e.a", &[("Nats-Expected-Last-Msg-Id", "m2")], b"y").await;
    assert_eq!(api_err(&reply), 10070, "{reply}");
    // Last-subject-sequence 0 means "no message on this subject yet".
    let reply = publish_raw(
        &nc,
        "e.fresh",
        &[("Nats-Expected-Last-Subject-Sequence", "0")],
        b"z",
    )
    .await;
    assert_eq!(reply["seq"], 7);
    let reply = publish_raw(
        &nc,
        "e.fresh",
        &[("Nats-Expected-Last-Subject-Sequence", "0")],
        b"z",
    )
    .await;
    assert_eq!(api_err(&reply), 10071);

    // async-nats maps the codes to error kinds.
    let err = js
        .send_publish(
            "e.a",
            PublishMessage::build()
                .expected_last_sequence(1)
                .payload("x".into()),
        )
        .await
        .unwrap()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), PublishErrorKind::WrongLastSequence);
    let err = js
        .send_publish(
            "e.a",
            PublishMessage::build()
                .expected_last_message_id("nope")
                .payload("x".into()),
        )
        .await
        .unwrap()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), PublishErrorKind::WrongLastMessageId);
    // No stream for the subject: no responders.
    let err = js
        .publish("nowhere", "x".into())
        .await
        .unwrap()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), PublishErrorKind::StreamNotFound);
    assert_eq!(counts(&js, "EXP").await, (7, 1, 7));
}

#[tokio::test]
async fn get_direct_get_and_delete_messages() {
    let server = JsServer::start();
    let (nc, js) = js(&server).await;
    let mut config = cfg("G", &["g.*"]);
    config.allow_direct = true;
    let stream = create(&js, config).await;
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("X-Custom", "v1");
    js.publish_with_headers("g.a", headers, "a1".into())
        .await
        .unwrap()
        .await
        .unwrap();
    publish(&js, "g.b", "b1").await;
    publish(&js, "g.a", "a2").await;
    publish(&js, "g.b", "b2").await;

    let m = stream.get_raw_message(1).await.unwrap();
    assert_eq!((m.subject.as_str(), m.sequence), ("g.a", 1));
    assert_eq!(m.payload, "a1");
    assert_eq!(m.headers.get("X-Custom").unwrap().as_str(), "v1");
    let m = stream.get_last_raw_message_by_subject("g.b").await.unwrap();
    assert_eq!((m.sequence, m.payload.as_ref()), (4, &b"b2"[..]));
    let m = stream
        .get_first_raw_message_by_subject("g.a", 2)
        .await
        .unwrap();
    assert_eq!((m.sequence, m.payload.as_ref()), (3, &b"a2"[..]));
    let m = stream.get_next_raw_message_by_subject("g.b").await.unwrap();
    assert_eq!(m.sequence, 2);
    let reply = api(&nc, "$JS.API.STREAM.MSG.GET.G", json!({"seq": 99})).await;
    assert_eq!(api_err(&reply), 10037);
    assert_eq!(reply["error"]["code"], 404);

    let m = stream.direct_get(2).await.unwrap();
    assert_eq!((m.subject.as_str(), m.sequence), ("g.b", 2));
    assert_eq!(m.payload, "b1");
    let m = stream.direct_get(1).await.unwrap();
    assert_eq!(m.headers.get("X-Custom").unwrap().as_str(), "v1");
    let m = stream.direct_get_last_for_subject("g.a").await.unwrap();
    assert_eq!((m.sequence, m.payload.as_ref()), (3, &b"a2"[..]));
    let m = stream
        .direct_get_next_for_subject("g.b", Some(3))
        .await
        .unwrap();
    assert_eq!((m.sequence, m.payload.as_ref()), (4, &b"b2"[..]));
    let m = stream.direct_get_first_for_subject("g.a").await.unwrap();
    assert_eq!(m.sequence, 1);
    assert!(stream.direct_get(99).await.is_err());
    assert!(stream.direct_get_last_for_subject("g.zzz").await.is_err());
    // Direct get replies carry the stream headers.
    let reply = nc
        .request("$JS.API.DIRECT.GET.G", r#"{"seq":2}"#.into())
        .await
        .unwrap();
    let h = reply.headers.expect("direct get headers");
    assert_eq!(h.get("Nats-Stream").unwrap().as_str(), "G");
    assert_eq!(h.get("Nats-Sequence").unwrap().as_str(), "2");
    assert_eq!(h.get("Nats-Subject").unwrap().as_str(), "g.b");
    assert!(h.get("Nats-Time-Stamp").is_some());
    let reply = nc
        .request("$JS.API.DIRECT.GET.G", r#"{"seq":99}"#.into())
        .await
        .unwrap();
    assert_eq!(reply.status, Some(async_nats::StatusCode::NOT_FOUND));

    assert!(stream.delete_message(2).await.unwrap());
    assert!(stream.get_raw_message(2).await.is_err());
    assert!(stream.direct_get(2).await.is_err());
    let s = state(&js, "G").await;
    assert_eq!((s.messages, s.first_sequence, s.last_sequence), (3, 1, 4));
    assert_eq!(s.deleted_count, Some(1));
    let reply = api(&nc, "$JS.API.STREAM.MSG.DELETE.G", json!({"seq": 2})).await;
    assert!(reply.get("error").is_some(), "{reply}");
    assert!(stream.delete_message(1).await.unwrap());
    assert_eq!(counts(&js, "G").await, (2, 3, 4));
}

#[tokio::test]
async fn overlap_invalid_names_and_not_found() {
    let server = JsServer::start();
    let (nc, js) = js(&server).await;
    create(&js, cfg("ONE", &["shared.>"])).await;
    let err = js
        .create_stream(cfg("TWO", &["shared.x"]))
        .await
        .unwrap_err();
    assert_eq!(err_code(&err), Some(10065), "{err:?}");
    let reply = api(
        &nc,
        "$JS.API.STREAM.CREATE.TWO",
        json!({"name": "TWO", "subjects": ["shared.*"]}),
    )
    .await;
    assert_eq!(api_err(&reply), 10065);
    assert_eq!(
        reply["error"]["description"],
        "subjects overlap with an existing stream"
    );

    for bad in ["a*b", "a>b"] {
        let reply = api(
            &nc,
            &format!("$JS.API.STREAM.CREATE.{bad}"),
            json!({"name": bad, "subjects": ["bad"]}),
        )
        .await;
        assert_eq!(api_err(&reply), 10052, "{bad}: {reply}");
    }
    let reply = api(
        &nc,
        "$JS.API.STREAM.CREATE.X",
        json!({"name": "Y", "subjects": ["xy"]}),
    )
    .await;
    assert_eq!(api_err(&reply), 10056);
    // The client refuses names with dots before asking.
    assert!(js.create_stream(cfg("a.b", &["ab"])).await.is_err());

    let reply = api(&nc, "$JS.API.STREAM.INFO.NOPE", json!(null)).await;
    assert_eq!(api_err(&reply), 10059);
    assert_eq!(reply["error"]["code"], 404);
    assert_eq!(reply["error"]["description"], "stream not found");
    let err = js.get_stream("NOPE").await.unwrap_err();
    assert_eq!(err_code(&err), Some(10059), "{err:?}");
    let reply = api(&nc, "$JS.API.STREAM.PURGE.NOPE", json!(null)).await;
    assert_eq!(api_err(&reply), 10059);
    let reply = api(&nc, "$JS.API.STREAM.MSG.GET.NOPE", json!({"seq": 1})).await;
    assert_eq!(api_err(&reply), 10059);
    assert_eq!(
        js.stream_names().try_collect::<Vec<_>>().await.unwrap(),
        vec!["ONE"]
    );
}
