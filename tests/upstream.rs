//! Upstream mode against a real three-node nats-server 2.15 cluster with JetStream: two
//! sluice gateways in front of it, real clients on both (async-nats over TCP, a JSON
//! WebSocket like a browser page's, reqwest for HTTP).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use common::cluster::Cluster;
use common::{Server, eventually};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message as WsMessage;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A gateway in upstream mode in front of `cluster`, with monitoring.
fn gateway(cluster: &Cluster) -> Server {
    Server::start(&["-m", "-1", "--upstream", &cluster.urls()])
}

async fn connect(server: &Server) -> async_nats::Client {
    async_nats::connect(server.url()).await.expect("connect")
}

async fn healthz(server: &Server) -> u16 {
    match reqwest::get(format!("{}/healthz", server.monitor_url())).await {
        Ok(resp) => resp.status().as_u16(),
        Err(_) => 0,
    }
}

/// Waits until the gateway's upstream connection is up (`/healthz` 200).
async fn wait_ready(server: &Server) {
    let ready = eventually(Duration::from_secs(20), || async {
        healthz(server).await == 200
    })
    .await;
    assert!(ready, "gateway never became ready");
}

/// Waits until `nc`'s subscriptions reached the cluster through its gateway: a request to a
/// subject nobody serves comes back only after everything sent before it.
async fn sync(nc: &async_nats::Client) {
    let err = nc
        .request("_sluice_test.sync", bytes::Bytes::new())
        .await
        .expect_err("nobody answers the sync subject");
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
}

async fn ws_connect(server: &Server) -> Ws {
    let url = format!("ws://{}/v1/ws", server.api.as_ref().expect("API"));
    tokio_tungstenite::connect_async(url)
        .await
        .expect("upgrade")
        .0
}

async fn ws_send(ws: &mut Ws, frame: Value) {
    ws.send(WsMessage::text(frame.to_string())).await.unwrap();
}

async fn ws_recv(ws: &mut Ws) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame within 10 s")
            .expect("socket open")
            .expect("no socket error");
        match frame {
            WsMessage::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            WsMessage::Ping(_) | WsMessage::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_and_websocket_clients_on_two_gateways_exchange_messages() {
    let cluster = Cluster::start();
    let (g1, g2) = (gateway(&cluster), gateway(&cluster));
    wait_ready(&g1).await;
    wait_ready(&g2).await;

    // A NATS client on gateway 1 and a page's JSON WebSocket on gateway 2.
    let nc = connect(&g1).await;
    let mut from_ws = nc.subscribe("chat.from-ws").await.unwrap();
    sync(&nc).await;
    let mut ws = ws_connect(&g2).await;
    ws_send(
        &mut ws,
        json!({"op": "subscribe", "id": "s", "subject": "chat.>"}),
    )
    .await;
    assert_eq!(ws_recv(&mut ws).await["op"], "subscribed");
    // The subscription travels gateway 2 -> cluster: probe until a message comes through.
    let mut arrived = false;
    for _ in 0..100 {
        nc.publish("chat.probe", "p".into()).await.unwrap();
        if let Ok(frame) = tokio::time::timeout(Duration::from_millis(100), ws_recv(&mut ws)).await
            && frame["op"] == "message"
        {
            arrived = true;
            break;
        }
    }
    assert!(arrived, "the WebSocket subscription reached the cluster");

    nc.publish_with_headers(
        "chat.to-ws",
        {
            let mut h = async_nats::HeaderMap::new();
            h.insert("X-Lang", "en");
            h
        },
        "hello browser".into(),
    )
    .await
    .unwrap();
    loop {
        let frame = ws_recv(&mut ws).await;
        if frame["message"]["subject"] == "chat.to-ws" {
            assert_eq!(frame["message"]["payload"], "hello browser", "{frame}");
            assert_eq!(frame["message"]["headers"]["X-Lang"][0], "en", "{frame}");
            break;
        }
    }

    ws_send(
        &mut ws,
        json!({"op": "publish", "id": "p", "subject": "chat.from-ws", "payload": "hello nats"}),
    )
    .await;
    let got = tokio::time::timeout(Duration::from_secs(10), from_ws.next())
        .await
        .expect("message from the WebSocket within 10 s")
        .unwrap();
    assert_eq!(&got.payload[..], b"hello nats");

    // Request/reply across gateways: a responder on gateway 1, an HTTP request on gateway 2.
    let mut service = nc.subscribe("svc.echo").await.unwrap();
    sync(&nc).await;
    let responder = nc.clone();
    tokio::spawn(async move {
        while let Some(m) = service.next().await {
            if let Some(reply) = m.reply {
                let mut body = b"echo: ".to_vec();
                body.extend_from_slice(&m.payload);
                responder.publish(reply, body.into()).await.unwrap();
            }
        }
    });
    let resp = reqwest::Client::new()
        .post(format!(
            "{}/v1/request/svc.echo?timeout_ms=5000",
            g2.api_url()
        ))
        .body("ping")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "echo: ping");

    // Nobody serves this subject anywhere in the cluster: no responders, through both paths.
    let resp = reqwest::Client::new()
        .post(format!(
            "{}/v1/request/svc.nobody?timeout_ms=5000",
            g2.api_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    let nc2 = connect(&g2).await;
    let err = nc2.request("svc.nobody", "x".into()).await.unwrap_err();
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_group_split_across_gateways_gets_each_message_once() {
    let cluster = Cluster::start();
    let (g1, g2) = (gateway(&cluster), gateway(&cluster));
    wait_ready(&g1).await;
    wait_ready(&g2).await;
    let (c1, c2) = (connect(&g1).await, connect(&g2).await);
    let mut members = Vec::new();
    for (gw, nc) in [(1, &c1), (1, &c1), (2, &c2), (2, &c2)] {
        members.push((
            gw,
            nc.queue_subscribe("jobs.>", "workers".into())
                .await
                .unwrap(),
        ));
    }
    // A plain subscriber beside the group gets everything.
    let mut audit = c2.subscribe("jobs.>").await.unwrap();
    sync(&c1).await;
    sync(&c2).await;

    let publisher = async_nats::connect(cluster.url(0)).await.unwrap();
    const N: usize = 400;
    for i in 0..N {
        publisher
            .publish(format!("jobs.{}", i % 7), i.to_string().into())
            .await
            .unwrap();
    }
    publisher.flush().await.unwrap();

    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut per_gateway = [0usize; 3];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while seen.len() < N && tokio::time::Instant::now() < deadline {
        for (gw, sub) in members.iter_mut() {
            while let Ok(Some(m)) =
                tokio::time::timeout(Duration::from_millis(20), sub.next()).await
            {
                *seen
                    .entry(String::from_utf8_lossy(&m.payload).into_owned())
                    .or_default() += 1;
                per_gateway[*gw] += 1;
            }
        }
    }
    // Let any duplicate arrive before counting.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for (gw, sub) in members.iter_mut() {
        while let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(20), sub.next()).await {
            *seen
                .entry(String::from_utf8_lossy(&m.payload).into_owned())
                .or_default() += 1;
            per_gateway[*gw] += 1;
        }
    }
    assert_eq!(seen.len(), N, "every message reached the group");
    let dups: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dups.is_empty(), "delivered twice: {dups:?}");
    assert!(
        per_gateway[1] > 0 && per_gateway[2] > 0,
        "both gateways served: {per_gateway:?}"
    );
    // Two local members on gateway 1, one upstream subscription (plus the client's inbox).
    let varz: Value = reqwest::get(format!("{}/varz", g1.monitor_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(varz["upstream"]["connected"], true, "{varz}");
    assert_eq!(varz["subscriptions"], 2 + 1, "{varz}");
    assert_eq!(varz["upstream"]["subscriptions"], 1 + 1, "{varz}");
    let metrics = reqwest::get(format!("{}/metrics", g1.monitor_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("sluice_upstream_connected 1"), "{metrics}");

    let mut audited = 0;
    while audited < N {
        tokio::time::timeout(Duration::from_secs(10), audit.next())
            .await
            .expect("the plain subscriber gets every message")
            .unwrap();
        audited += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_r3_stream_keeps_every_acked_message_when_a_node_dies() {
    let mut cluster = Cluster::start();
    let (g1, g2) = (gateway(&cluster), gateway(&cluster));
    wait_ready(&g1).await;
    wait_ready(&g2).await;
    let (c1, c2) = (connect(&g1).await, connect(&g2).await);
    let (js1, js2) = (jetstream::new(c1.clone()), jetstream::new(c2.clone()));

    // Created through gateway 1 (retried while the cluster elects its meta leader).
    let config = stream::Config {
        name: "ORDERS".into(),
        subjects: vec!["orders.>".into()],
        num_replicas: 3,
        ..Default::default()
    };
    let created = eventually(Duration::from_secs(20), || async {
        js1.get_or_create_stream(config.clone()).await.is_ok()
    })
    .await;
    assert!(created, "R3 stream created through gateway 1");
    let info = js2
        .get_stream("ORDERS")
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .clone();
    assert_eq!(info.config.num_replicas, 3);

    // HTTP publish through gateway 2 answers with the cluster's stream ack.
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/publish/orders.http", g2.api_url()))
        .body("via http")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let ack: Value = resp.json().await.unwrap();
    assert_eq!(ack["stream"], "ORDERS");
    assert_eq!(ack["seq"], 1);
    let mut acked: BTreeMap<u64, String> = BTreeMap::from([(1, "via http".to_string())]);

    // Publish through both gateways; kill one node half way. A publish that is not acked
    // (the node held the gateway's connection or the stream's leadership) is retried, as
    // an application would, until it is.
    for i in 0..300u32 {
        if i == 150 {
            cluster.kill_node(1);
        }
        let js = if i % 2 == 0 { &js1 } else { &js2 };
        let body = format!("order {i}");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            assert!(
                tokio::time::Instant::now() < deadline,
                "publish {i} never acked"
            );
            let subject = format!("orders.{}", i % 5);
            if let Ok(pending) = js.publish(subject, body.clone().into()).await
                && let Ok(Ok(ack)) = tokio::time::timeout(Duration::from_secs(5), pending).await
            {
                assert_eq!(ack.stream, "ORDERS");
                acked.insert(ack.sequence, body);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert!(
        acked.len() >= 301,
        "every publish acked once: {}",
        acked.len()
    );

    // Every acked message is readable, at its acked sequence, through gateway 2.
    let stream = js2.get_stream("ORDERS").await.unwrap();
    for (seq, body) in &acked {
        let msg = stream.get_raw_message(*seq).await.unwrap();
        assert_eq!(String::from_utf8_lossy(&msg.payload), *body, "seq {seq}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_any_upstream_server_http_gets_503_and_healthz_is_not_ready_until_they_return() {
    let mut cluster = Cluster::start();
    let g = gateway(&cluster);
    wait_ready(&g).await;
    let nc = connect(&g).await;
    let mut sub = nc.subscribe("after.>").await.unwrap();
    sync(&nc).await;

    for i in 0..3 {
        cluster.kill_node(i);
    }
    let down = eventually(Duration::from_secs(10), || async {
        healthz(&g).await == 503
    })
    .await;
    assert!(
        down,
        "/healthz reports not ready with every upstream node down"
    );
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/publish/after.down", g.api_url()))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    let problem: Value = resp.json().await.unwrap();
    assert_eq!(
        problem["title"], "Upstream cluster unavailable",
        "{problem}"
    );
    // A NATS request fails at once rather than waiting for its timeout.
    let err = nc.request("svc.any", "x".into()).await.unwrap_err();
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);

    for i in 0..3 {
        cluster.start_node(i);
    }
    wait_ready(&g).await;
    // The gateway re-subscribed by itself: its client's subscription works again.
    let resp = eventually(Duration::from_secs(10), || async {
        reqwest::Client::new()
            .post(format!("{}/v1/publish/after.up", g.api_url()))
            .body("back")
            .send()
            .await
            .is_ok_and(|r| r.status() == 202)
    })
    .await;
    assert!(resp, "HTTP publish accepted again");
    let got = tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("delivery resumes without restarting the gateway")
        .unwrap();
    assert_eq!(&got.payload[..], b"back");
}

/// The JSON body of the next message on `sub`.
async fn next_json(sub: &mut async_nats::Subscriber) -> Value {
    let m = tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("a message within 10 s")
        .unwrap();
    serde_json::from_slice(&m.payload).unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_uploaded_through_one_gateway_transforms_messages_on_the_other() {
    let cluster = Cluster::start();
    let (g1, g2) = (gateway(&cluster), gateway(&cluster));
    wait_ready(&g1).await;
    wait_ready(&g2).await;

    // Uploaded through gateway 1 (retried while the cluster elects its JetStream leader
    // and the gateway opens the plugin buckets: 503 until then).
    let uploaded = eventually(Duration::from_secs(20), || async {
        let (status, _) = common::plugins::put(
            &g1,
            "redact",
            "redact_json",
            "subjects=users.>&config.fields=email",
        )
        .await;
        status == 201
    })
    .await;
    assert!(uploaded, "upload through gateway 1 accepted");
    let listed = eventually(Duration::from_secs(10), || async {
        common::plugins::get(&g2, "/v1/plugins").await["plugins"][0]["name"] == "redact"
    })
    .await;
    assert!(listed, "gateway 2 runs the plugin without a restart");

    // Published through gateway 2 (NATS and HTTP), received on gateway 1: redacted.
    let (c1, c2) = (connect(&g1).await, connect(&g2).await);
    let mut sub = c1.subscribe("users.>").await.unwrap();
    sync(&c1).await;
    c2.publish("users.new", r#"{"name":"ann","email":"a@x.io"}"#.into())
        .await
        .unwrap();
    assert_eq!(
        next_json(&mut sub).await,
        json!({"name": "ann", "email": "***"})
    );
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/publish/users.http", g2.api_url()))
        .body(r#"{"email":"b@x.io"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    assert_eq!(next_json(&mut sub).await, json!({"email": "***"}));

    // A binding change through gateway 2 applies on gateway 1 too.
    let resp = reqwest::Client::new()
        .patch(format!("{}/v1/plugins/redact", g2.api_url()))
        .json(&json!({"config": {"fields": "name"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let changed = eventually(Duration::from_secs(10), || async {
        let list = common::plugins::get(&g1, "/v1/plugins").await;
        list["plugins"][0]["binding"]["config"]["fields"] == "name"
    })
    .await;
    assert!(changed, "gateway 1 has the new binding");
    c1.publish("users.new", r#"{"name":"bob","email":"b@x.io"}"#.into())
        .await
        .unwrap();
    assert_eq!(
        next_json(&mut sub).await,
        json!({"name": "***", "email": "b@x.io"})
    );

    // A replica started now loads the plugin, with its current binding, from the cluster.
    let g3 = gateway(&cluster);
    let loaded = eventually(Duration::from_secs(20), || async {
        let list = common::plugins::get(&g3, "/v1/plugins").await;
        list["plugins"][0]["binding"]["config"]["fields"] == "name"
    })
    .await;
    assert!(loaded, "a new replica starts with the shared plugins");

    // Removed through gateway 1: gone on both.
    let resp = reqwest::Client::new()
        .delete(format!("{}/v1/plugins/redact", g1.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let gone = eventually(Duration::from_secs(10), || async {
        common::plugins::get(&g2, "/v1/plugins").await["plugins"] == json!([])
    })
    .await;
    assert!(gone, "gateway 2 dropped the plugin");
    c2.publish("users.new", r#"{"email":"c@x.io"}"#.into())
        .await
        .unwrap();
    assert_eq!(next_json(&mut sub).await, json!({"email": "c@x.io"}));
}
