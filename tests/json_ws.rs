//! `GET /v1/ws`, the JSON-frame WebSocket, through the real binary: tokio-tungstenite on one
//! side, async-nats on the other. Subscribe, publish, request/reply, queue groups, auth and
//! permissions, hostile frames, origin checks and slow consumers.

mod common;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::ws::{Ws, next_frame};
use common::{Server, eventually, sync};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

fn ws_url(server: &Server, query: &str) -> String {
    format!("ws://{}/v1/ws{query}", server.api.as_ref().expect("API"))
}

async fn connect(server: &Server) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(ws_url(server, ""))
        .await
        .expect("upgrade");
    ws
}

async fn send(ws: &mut Ws, frame: Value) {
    ws.send(Message::text(frame.to_string())).await.unwrap();
}

/// The next JSON frame (pings and pongs skipped); panics on close or after 5 s.
async fn recv(ws: &mut Ws) -> Value {
    match next_frame(ws).await {
        Message::Text(t) => serde_json::from_str(t.as_str()).unwrap(),
        other => panic!("unexpected frame {other:?}"),
    }
}

/// Sends `frame` and returns the answer.
async fn call(ws: &mut Ws, frame: Value) -> Value {
    send(ws, frame).await;
    recv(ws).await
}

async fn subscribe(ws: &mut Ws, subject: &str, queue: Option<&str>) -> String {
    let mut frame = json!({"op": "subscribe", "id": "s", "subject": subject});
    if let Some(q) = queue {
        frame["queue"] = json!(q);
    }
    let answer = call(ws, frame).await;
    assert_eq!(answer["op"], "subscribed", "{answer}");
    answer["sid"].as_str().unwrap().to_string()
}

/// Asserts the socket still answers (and that nothing else was queued before the pong).
async fn still_works(ws: &mut Ws) {
    let answer = call(ws, json!({"op": "ping", "id": "alive"})).await;
    assert_eq!(answer, json!({"op": "pong", "id": "alive"}));
}

/// Subscriptions in the router, from every front-end.
async fn router_subs(server: &Server) -> u64 {
    let url = format!("{}/subsz", server.monitor_url());
    let v: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    v["num_subscriptions"].as_u64().unwrap()
}

#[tokio::test]
async fn subscriptions_receive_text_headers_binary_and_wildcards() {
    let server = Server::start(&[]);
    let nc = async_nats::connect(server.url()).await.unwrap();
    let mut ws = connect(&server).await;
    let all = subscribe(&mut ws, "orders.>", None).await;
    let star = subscribe(&mut ws, "orders.*.eu", None).await;
    assert_ne!(all, star);

    nc.publish("orders.new", "hello".into()).await.unwrap();
    let m = recv(&mut ws).await;
    let want = json!({"op": "message", "sid": all, "message": {
        "subject": "orders.new", "reply": null, "headers": {}, "payload": "hello"}});
    assert_eq!(m, want);

    let mut headers = async_nats::HeaderMap::new();
    headers.append("Trace", "a");
    headers.append("Trace", "b");
    nc.publish_with_headers("orders.big.eu", headers, vec![0xff, 0x00, 0x01].into())
        .await
        .unwrap();
    let mut sids = Vec::new();
    for _ in 0..2 {
        let m = recv(&mut ws).await;
        assert_eq!(m["op"], "message");
        let msg = &m["message"];
        assert_eq!(msg["subject"], "orders.big.eu");
        assert_eq!(msg["headers"], json!({"Trace": ["a", "b"]}));
        assert_eq!(msg["encoding"], "base64");
        assert_eq!(
            STANDARD.decode(msg["payload"].as_str().unwrap()).unwrap(),
            [0xff, 0, 1]
        );
        sids.push(m["sid"].as_str().unwrap().to_string());
    }
    sids.sort();
    let mut want = vec![all, star];
    want.sort();
    assert_eq!(sids, want, "one delivery per matching subscription");
}

#[tokio::test]
async fn publishes_reach_nats_subscribers() {
    let server = Server::start(&[]);
    let nc = async_nats::connect(server.url()).await.unwrap();
    let mut sub = nc.subscribe("events.>").await.unwrap();
    sync(&nc).await;
    let mut ws = connect(&server).await;

    let answer = call(
        &mut ws,
        json!({"op": "publish", "id": 3, "subject": "events.text", "payload": "hi",
               "headers": {"X-Kind": ["greeting"]}, "reply": "back.here"}),
    )
    .await;
    assert_eq!(answer, json!({"op": "published", "id": 3, "delivered": 1}));
    let m = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.subject.as_str(), "events.text");
    assert_eq!(m.payload, "hi");
    assert_eq!(m.reply.as_deref(), Some("back.here"));
    assert_eq!(
        m.headers.unwrap().get("X-Kind").unwrap().as_str(),
        "greeting"
    );

    let answer = call(
        &mut ws,
        json!({"op": "publish", "subject": "events.bin", "payload": STANDARD.encode([0u8, 0xfe]),
               "encoding": "base64"}),
    )
    .await;
    assert_eq!(answer, json!({"op": "published", "delivered": 1}));
    let m = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&m.payload[..], [0u8, 0xfe]);

    let answer = call(
        &mut ws,
        json!({"op": "publish", "id": "n", "subject": "nobody"}),
    )
    .await;
    assert_eq!(
        answer,
        json!({"op": "published", "id": "n", "delivered": 0})
    );
}

#[tokio::test]
async fn requests_get_replies_no_responders_and_timeouts() {
    let server = Server::start(&[]);
    let nc = async_nats::connect(server.url()).await.unwrap();
    let mut service = nc.subscribe("svc.echo").await.unwrap();
    let _silent = nc.subscribe("svc.silent").await.unwrap();
    sync(&nc).await;
    let responder = nc.clone();
    tokio::spawn(async move {
        while let Some(m) = service.next().await {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Echoed", "yes");
            let body = format!("echo: {}", String::from_utf8_lossy(&m.payload));
            responder
                .publish_with_headers(m.reply.unwrap(), headers, body.into())
                .await
                .unwrap();
        }
    });
    let mut ws = connect(&server).await;

    let answer = call(
        &mut ws,
        json!({"op": "request", "id": "4", "subject": "svc.echo", "payload": "ping"}),
    )
    .await;
    assert_eq!(answer["op"], "reply", "{answer}");
    assert_eq!(answer["id"], "4");
    assert_eq!(answer["message"]["payload"], "echo: ping");
    assert_eq!(answer["message"]["headers"], json!({"Echoed": ["yes"]}));
    assert!(
        answer["message"]["subject"]
            .as_str()
            .unwrap()
            .starts_with("_INBOX.")
    );

    let answer = call(
        &mut ws,
        json!({"op": "request", "id": "5", "subject": "svc.none"}),
    )
    .await;
    assert_eq!(
        (answer["op"].as_str(), answer["code"].as_u64()),
        (Some("error"), Some(503))
    );
    assert_eq!(answer["id"], "5");

    // A request waits in the background: the socket keeps answering meanwhile.
    send(
        &mut ws,
        json!({"op": "request", "id": "6", "subject": "svc.silent", "timeout_ms": 300}),
    )
    .await;
    still_works(&mut ws).await;
    let answer = recv(&mut ws).await;
    assert_eq!(
        (
            answer["op"].as_str(),
            answer["id"].as_str(),
            answer["code"].as_u64()
        ),
        (Some("error"), Some("6"), Some(504)),
        "{answer}"
    );

    let answer = call(
        &mut ws,
        json!({"op": "request", "id": "7", "subject": "svc.echo", "timeout_ms": 0}),
    )
    .await;
    assert_eq!(answer["code"], 400);
}

#[tokio::test]
async fn unsubscribe_stops_delivery_and_closing_removes_subscriptions() {
    let server = Server::start(&["-m", "-1"]);
    let nc = async_nats::connect(server.url()).await.unwrap();
    sync(&nc).await;
    let before = router_subs(&server).await;
    let mut ws = connect(&server).await;
    let sid = subscribe(&mut ws, "news", None).await;
    let _kept = subscribe(&mut ws, "kept", None).await;
    assert_eq!(router_subs(&server).await, before + 2);

    let answer = call(&mut ws, json!({"op": "unsubscribe", "id": "u", "sid": sid})).await;
    assert_eq!(answer, json!({"op": "unsubscribed", "id": "u", "sid": sid}));
    nc.publish("news", "late".into()).await.unwrap();
    sync(&nc).await;
    still_works(&mut ws).await;

    let answer = call(
        &mut ws,
        json!({"op": "unsubscribe", "id": "u2", "sid": sid}),
    )
    .await;
    assert_eq!(
        (answer["op"].as_str(), answer["code"].as_u64()),
        (Some("error"), Some(404))
    );

    ws.close(None).await.unwrap();
    let gone = eventually(Duration::from_secs(5), || async {
        router_subs(&server).await == before
    })
    .await;
    assert!(gone, "the socket's subscriptions outlived it");
}

#[tokio::test]
async fn queue_group_members_on_two_sockets_share_the_messages() {
    let server = Server::start(&[]);
    let nc = async_nats::connect(server.url()).await.unwrap();
    let mut a = connect(&server).await;
    let mut b = connect(&server).await;
    subscribe(&mut a, "jobs", Some("workers")).await;
    subscribe(&mut b, "jobs", Some("workers")).await;
    for i in 0..100 {
        nc.publish("jobs", i.to_string().into()).await.unwrap();
    }
    sync(&nc).await;
    let mut counts = Vec::new();
    for ws in [&mut a, &mut b] {
        send(ws, json!({"op": "ping", "id": "end"})).await;
        let mut n = 0;
        loop {
            let frame = recv(ws).await;
            if frame["op"] == "pong" {
                break;
            }
            assert_eq!(frame["message"]["subject"], "jobs");
            n += 1;
        }
        counts.push(n);
    }
    assert_eq!(counts.iter().sum::<usize>(), 100, "{counts:?}");
    assert!(
        counts.iter().all(|n| *n > 0),
        "both members get work: {counts:?}"
    );
}

fn upgrade_status(err: WsError) -> u16 {
    match err {
        WsError::Http(resp) => resp.status().as_u16(),
        other => panic!("expected an HTTP refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn token_auth_by_query_header_or_cookie() {
    let server = Server::start(&["--auth", "s3cret"]);
    let err = tokio_tungstenite::connect_async(ws_url(&server, ""))
        .await
        .unwrap_err();
    assert_eq!(upgrade_status(err), 401);
    let err = tokio_tungstenite::connect_async(ws_url(&server, "?token=wrong"))
        .await
        .unwrap_err();
    assert_eq!(upgrade_status(err), 401);

    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url(&server, "?token=s3cret"))
        .await
        .unwrap();
    still_works(&mut ws).await;

    let mut request = ws_url(&server, "").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", "Bearer s3cret".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    still_works(&mut ws).await;

    let mut request = ws_url(&server, "").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("cookie", "theme=dark; sluice_token=s3cret".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    still_works(&mut ws).await;

    let mut request = ws_url(&server, "").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("cookie", "sluice_token=nope".parse().unwrap());
    let err = tokio_tungstenite::connect_async(request).await.unwrap_err();
    assert_eq!(upgrade_status(err), 401);
}

const USERS: &str = r#"
[[auth.users]]
user = "alice"
password = "pw"
[auth.users.permissions]
publish = { allow = ["orders.>", "_INBOX.>"], deny = ["orders.secret"] }
subscribe = { allow = ["orders.>", "_INBOX.>"], deny = ["orders.hidden"] }
"#;

#[tokio::test]
async fn user_permissions_give_403_error_frames() {
    let server = Server::with_config(USERS, &[]);
    let err = tokio_tungstenite::connect_async(ws_url(&server, "?user=alice&pass=bad"))
        .await
        .unwrap_err();
    assert_eq!(upgrade_status(err), 401);
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url(&server, "?user=alice&pass=pw"))
        .await
        .unwrap();
    for frame in [
        json!({"op": "subscribe", "id": 1, "subject": "orders.hidden"}),
        json!({"op": "subscribe", "id": 1, "subject": "billing.>"}),
        json!({"op": "publish", "id": 1, "subject": "orders.secret", "payload": "x"}),
        json!({"op": "request", "id": 1, "subject": "billing.get"}),
    ] {
        let answer = call(&mut ws, frame.clone()).await;
        assert_eq!(
            (
                answer["op"].as_str(),
                answer["code"].as_u64(),
                answer["id"].as_u64()
            ),
            (Some("error"), Some(403), Some(1)),
            "{frame} -> {answer}"
        );
    }
    // The wildcard is allowed, but the denied subject inside it is filtered per message.
    subscribe(&mut ws, "orders.>", None).await;
    let nc = async_nats::ConnectOptions::with_user_and_password("alice".into(), "pw".into())
        .connect(server.url())
        .await
        .unwrap();
    nc.publish("orders.hidden", "no".into()).await.unwrap();
    nc.publish("orders.open", "yes".into()).await.unwrap();
    nc.flush().await.unwrap();
    let m = recv(&mut ws).await;
    assert_eq!(m["message"]["subject"], "orders.open");
}

#[tokio::test]
async fn hostile_frames_get_error_frames_and_the_socket_survives() {
    let server = Server::start(&[]);
    let mut ws = connect(&server).await;
    let huge = "x".repeat(1024 * 1024 + 1);
    let cases: Vec<(Message, u64, Value)> = vec![
        (Message::text("not json"), 400, Value::Null),
        (Message::text("[]"), 400, Value::Null),
        (Message::text(r#"{"op":"dance","id":"d"}"#), 400, json!("d")),
        (Message::text(r#"{"id":"o"}"#), 400, json!("o")),
        (
            Message::text(r#"{"op":"subscribe","id":"m"}"#),
            400,
            json!("m"),
        ),
        (
            Message::text(r#"{"op":"publish","id":"m2","payload":"x"}"#),
            400,
            json!("m2"),
        ),
        (
            Message::text(r#"{"op":"subscribe","id":"i","subject":"a..b"}"#),
            400,
            json!("i"),
        ),
        (
            Message::text(r#"{"op":"subscribe","id":"q","subject":"a","queue":"a b"}"#),
            400,
            json!("q"),
        ),
        (
            Message::text(r#"{"op":"publish","id":"w","subject":"a.*"}"#),
            400,
            json!("w"),
        ),
        (
            Message::text(
                r#"{"op":"publish","id":"e","subject":"a","payload":"!","encoding":"base64"}"#,
            ),
            400,
            json!("e"),
        ),
        (
            Message::text(
                r#"{"op":"publish","id":"h","subject":"a","headers":{"A":["x\r\nB: y"]}}"#,
            ),
            400,
            json!("h"),
        ),
        (
            Message::text(
                json!({"op": "publish", "id": "big", "subject": "a", "payload": huge}).to_string(),
            ),
            413,
            json!("big"),
        ),
        (
            Message::binary(b"{\"op\":\"ping\"}".to_vec()),
            400,
            Value::Null,
        ),
    ];
    for (frame, code, id) in cases {
        let shown = format!("{frame:?}").chars().take(80).collect::<String>();
        ws.send(frame).await.unwrap();
        let answer = recv(&mut ws).await;
        assert_eq!(answer["op"], "error", "{shown} -> {answer}");
        assert_eq!(answer["code"], code, "{shown} -> {answer}");
        assert_eq!(
            answer.get("id").cloned().unwrap_or(Value::Null),
            id,
            "{shown}"
        );
        assert!(!answer["error"].as_str().unwrap().is_empty());
        still_works(&mut ws).await;
    }

    // A frame over the size limit is protocol abuse: the socket is closed.
    let oversized = "y".repeat(3 * 1024 * 1024);
    let _ = ws.send(Message::text(oversized)).await;
    let _ = ws.send(Message::text(r#"{"op":"ping"}"#)).await;
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => panic!("answered after abuse: {t}"),
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the socket stayed open");
}

#[tokio::test]
async fn origins_are_checked_as_for_nats_websockets() {
    let server = Server::with_config(
        "[websocket]\nallowed_origins = [\"https://app.example.com\"]\n",
        &[],
    );
    let mut request = ws_url(&server, "").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("origin", "https://evil.example.com".parse().unwrap());
    let err = tokio_tungstenite::connect_async(request).await.unwrap_err();
    assert_eq!(upgrade_status(err), 403);
    let mut request = ws_url(&server, "").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("origin", "https://app.example.com".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    still_works(&mut ws).await;
}

#[tokio::test]
async fn a_slow_socket_is_closed_with_1008_while_a_healthy_one_gets_everything() {
    let server = Server::start(&["-m", "-1"]);
    let nc = async_nats::connect(server.url()).await.unwrap();
    sync(&nc).await;
    let before = router_subs(&server).await;
    let mut slow = connect(&server).await;
    let mut healthy = connect(&server).await;
    subscribe(&mut slow, "flood", None).await;
    subscribe(&mut healthy, "flood", None).await;

    // Far more than the slow socket's TCP buffers plus its 1024-frame queue, while the healthy
    // socket reads each batch as it comes (so only the slow one falls behind).
    let payload = bytes::Bytes::from(vec![b'x'; 4096]);
    let (batches, per_batch) = (80, 100);
    for batch in 0..batches {
        for _ in 0..per_batch {
            nc.publish("flood", payload.clone()).await.unwrap();
        }
        nc.flush().await.unwrap();
        for i in 0..per_batch {
            let m = recv(&mut healthy).await;
            assert_eq!(m["op"], "message", "batch {batch} message {i}: {m}");
            assert_eq!(m["message"]["payload"].as_str().map(str::len), Some(4096));
        }
    }
    still_works(&mut healthy).await;

    let close = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match slow.next().await {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => {}
                other => panic!("no close frame: {other:?}"),
            }
        }
    })
    .await
    .expect("closed within 20 s")
    .expect("a close frame with a code");
    assert_eq!(close.code, CloseCode::Policy);
    assert_eq!(close.reason.as_str(), "Slow Consumer");
    let gone = eventually(Duration::from_secs(5), || async {
        router_subs(&server).await == before + 1
    })
    .await;
    assert!(gone, "the slow socket's subscription outlived it");
}
