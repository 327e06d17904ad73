//! Core messaging through the real binary with async-nats: pub/sub, wildcards, queue
//! groups, request/reply, no responders, headers, auto-unsubscribe, echo and big payloads.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use common::{Server, eventually, sync};
use futures::StreamExt;

async fn client(server: &Server) -> async_nats::Client {
    async_nats::connect(server.url()).await.expect("connect")
}

async fn next(sub: &mut async_nats::Subscriber) -> async_nats::Message {
    tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("message within 5 s")
        .expect("subscription open")
}

async fn nothing_more(sub: &mut async_nats::Subscriber) {
    let extra = tokio::time::timeout(Duration::from_millis(200), sub.next()).await;
    assert!(extra.is_err(), "unexpected message: {extra:?}");
}

#[tokio::test]
async fn server_info_looks_like_nats_server() {
    // INFO promises JetStream exactly when -js turned it on.
    let plain = Server::start(&[]);
    assert!(!client(&plain).await.server_info().jetstream);
    let dir = tempfile::tempdir().expect("store dir");
    let store = dir.path().to_str().expect("utf-8 path");
    let server = Server::start(&["-js", "-sd", store]);
    let nc = client(&server).await;
    let info = nc.server_info();
    assert!(info.version.starts_with("2.1"), "version {}", info.version);
    assert!(info.headers);
    assert_eq!(info.max_payload, 1024 * 1024);
    assert_eq!(info.proto, 1);
    assert!(info.jetstream);
    assert!(info.client_id > 0);
    assert!(info.server_id.starts_with('N') && info.server_id.len() == 56);
}

#[tokio::test]
async fn publish_subscribe_with_wildcards() {
    let server = Server::start(&[]);
    let nc = client(&server).await;
    let mut exact = nc.subscribe("orders.new").await.unwrap();
    let mut star = nc.subscribe("orders.*").await.unwrap();
    let mut gt = nc.subscribe("orders.>").await.unwrap();
    sync(&nc).await;

    let publisher = client(&server).await;
    publisher.publish("orders.new", "a".into()).await.unwrap();
    publisher
        .publish("orders.eu.new", "b".into())
        .await
        .unwrap();
    publisher.publish("orders", "c".into()).await.unwrap();
    publisher.flush().await.unwrap();

    assert_eq!(next(&mut exact).await.payload, "a");
    assert_eq!(next(&mut star).await.payload, "a");
    assert_eq!(next(&mut gt).await.payload, "a");
    assert_eq!(next(&mut gt).await.payload, "b");
    nothing_more(&mut exact).await;
    nothing_more(&mut star).await;
    nothing_more(&mut gt).await;
}

#[tokio::test]
async fn queue_group_delivers_each_message_once() {
    let server = Server::start(&[]);
    let nc = client(&server).await;
    let mut members = Vec::new();
    for _ in 0..4 {
        members.push(nc.queue_subscribe("work", "workers".into()).await.unwrap());
    }
    let mut plain = nc.subscribe("work").await.unwrap();
    sync(&nc).await;
    let publisher = client(&server).await;
    for i in 0..200 {
        publisher
            .publish("work", i.to_string().into())
            .await
            .unwrap();
    }
    publisher.flush().await.unwrap();

    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut per_member = Vec::new();
    for m in members.iter_mut() {
        let mut n = 0;
        while let Ok(Some(msg)) = tokio::time::timeout(Duration::from_millis(300), m.next()).await {
            *seen
                .entry(String::from_utf8_lossy(&msg.payload).into_owned())
                .or_default() += 1;
            n += 1;
        }
        per_member.push(n);
    }
    assert_eq!(seen.len(), 200, "every message reached the group");
    assert!(seen.values().all(|&n| n == 1), "no message twice");
    assert!(
        per_member.iter().filter(|&&n| n > 0).count() >= 2,
        "load is spread: {per_member:?}"
    );
    for _ in 0..200 {
        next(&mut plain).await;
    }
}

#[tokio::test]
async fn request_reply_and_no_responders() {
    let server = Server::start(&[]);
    let responder = client(&server).await;
    let mut service = responder.subscribe("svc.echo").await.unwrap();
    tokio::spawn({
        let responder = responder.clone();
        async move {
            while let Some(req) = service.next().await {
                let mut body = b"re:".to_vec();
                body.extend_from_slice(&req.payload);
                if let Some(reply) = req.reply {
                    responder.publish(reply, body.into()).await.unwrap();
                }
            }
        }
    });
    sync(&responder).await;

    let nc = client(&server).await;
    let answer = nc.request("svc.echo", "hi".into()).await.unwrap();
    assert_eq!(answer.payload, "re:hi");

    let err = nc.request("svc.nobody", "hi".into()).await.unwrap_err();
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
}

#[tokio::test]
async fn headers_pass_end_to_end() {
    let server = Server::start(&[]);
    let nc = client(&server).await;
    let mut sub = nc.subscribe("h").await.unwrap();
    nc.flush().await.unwrap();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("X-Trace", "abc");
    headers.append("X-Multi", "one");
    headers.append("X-Multi", "two");
    nc.publish_with_headers("h", headers, "body".into())
        .await
        .unwrap();
    let msg = next(&mut sub).await;
    let got = msg.headers.expect("headers");
    assert_eq!(got.get("X-Trace").map(|v| v.as_str()), Some("abc"));
    let multi: Vec<_> = got
        .get_all("X-Multi")
        .map(|v| v.as_str().to_string())
        .collect();
    assert_eq!(multi, ["one", "two"]);
    assert_eq!(msg.payload, "body");
}

#[tokio::test]
async fn unsubscribe_after_max_messages() {
    let server = Server::start(&[]);
    let nc = client(&server).await;
    let mut sub = nc.subscribe("limited").await.unwrap();
    sub.unsubscribe_after(3).await.unwrap();
    nc.flush().await.unwrap();
    for i in 0..10 {
        nc.publish("limited", i.to_string().into()).await.unwrap();
    }
    nc.flush().await.unwrap();
    let got: Vec<_> = tokio::time::timeout(Duration::from_secs(5), sub.collect::<Vec<_>>())
        .await
        .expect("subscription ends after 3 messages");
    assert_eq!(got.len(), 3);
}

#[tokio::test]
async fn no_echo_skips_own_messages() {
    let server = Server::start(&[]);
    let quiet = async_nats::ConnectOptions::new()
        .no_echo()
        .connect(server.url())
        .await
        .unwrap();
    let mut own = quiet.subscribe("echo.test").await.unwrap();
    let other = client(&server).await;
    let mut theirs = other.subscribe("echo.test").await.unwrap();
    sync(&other).await;
    sync(&quiet).await;
    quiet.publish("echo.test", "x".into()).await.unwrap();
    quiet.flush().await.unwrap();
    assert_eq!(next(&mut theirs).await.payload, "x");
    nothing_more(&mut own).await;
}

#[tokio::test]
async fn large_payload_near_max() {
    let server = Server::start(&[]);
    let nc = client(&server).await;
    let mut sub = nc.subscribe("big").await.unwrap();
    nc.flush().await.unwrap();
    let payload: Bytes = (0..(1024 * 1024 - 100))
        .map(|i| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into();
    nc.publish("big", payload.clone()).await.unwrap();
    let msg = next(&mut sub).await;
    assert_eq!(msg.payload, payload);
}

#[tokio::test]
async fn many_messages_arrive_in_order() {
    let server = Server::start(&[]);
    let nc = client(&server).await;
    let mut sub = nc.subscribe("seq").await.unwrap();
    sync(&nc).await;
    let publisher = client(&server).await;
    for i in 0..20_000u32 {
        publisher
            .publish("seq", i.to_string().into())
            .await
            .unwrap();
    }
    publisher.flush().await.unwrap();
    for i in 0..20_000u32 {
        assert_eq!(next(&mut sub).await.payload, i.to_string());
    }
}

#[tokio::test]
async fn unsubscribe_stops_delivery() {
    let server = Server::start(&["-m", "-1"]);
    let nc = client(&server).await;
    let sub = nc.subscribe("gone").await.unwrap();
    nc.flush().await.unwrap();
    drop(sub);
    nc.flush().await.unwrap();
    let url = format!("{}/subsz", server.monitor_url());
    assert!(
        eventually(Duration::from_secs(5), || async {
            let v: serde_json::Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
            v["num_subscriptions"] == 0
        })
        .await
    );
}
