//! The NATS protocol over WebSocket on the dedicated `[websocket]` listener: async-nats over
//! `ws://`, a protocol stream split across frames, origin checks, monitoring, and slow
//! consumers closed with code 1008.

mod common;

use std::time::Duration;

use common::{Server, sync};
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

fn ws_server(extra: &str) -> Server {
    Server::with_config(&format!("[websocket]\nport = -1\n{extra}"), &["-m", "-1"])
}

async fn next(sub: &mut async_nats::Subscriber) -> async_nats::Message {
    tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("message within 5 s")
        .expect("subscription open")
}

#[tokio::test]
async fn async_nats_over_websocket_talks_to_tcp_clients() {
    let server = ws_server("");
    let ws_url = server.websocket.clone().expect("websocket listener");
    assert!(ws_url.starts_with("ws://127.0.0.1:"), "{ws_url}");
    let browserish = async_nats::connect(&ws_url).await.expect("ws connect");
    let tcp = async_nats::connect(server.url()).await.unwrap();

    let mut from_tcp = browserish.subscribe("chat.>").await.unwrap();
    sync(&browserish).await;
    tcp.publish("chat.room1", "hello browser".into())
        .await
        .unwrap();
    let msg = next(&mut from_tcp).await;
    assert_eq!(msg.subject.as_str(), "chat.room1");
    assert_eq!(msg.payload, "hello browser");

    let mut from_ws = tcp.subscribe("svc.>").await.unwrap();
    sync(&tcp).await;
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("X-From", "ws");
    browserish
        .publish_with_headers("svc.log", headers, "hi".into())
        .await
        .unwrap();
    let msg = next(&mut from_ws).await;
    assert_eq!(msg.headers.unwrap().get("X-From").unwrap().as_str(), "ws");

    // Request/reply across transports, and no responders over WebSocket.
    let mut service = tcp.subscribe("echo").await.unwrap();
    sync(&tcp).await;
    let responder = tcp.clone();
    tokio::spawn(async move {
        while let Some(m) = service.next().await {
            if let Some(reply) = m.reply {
                responder.publish(reply, m.payload).await.unwrap();
            }
        }
    });
    let answer = browserish.request("echo", "ping".into()).await.unwrap();
    assert_eq!(answer.payload, "ping");
    let err = browserish.request("nobody", "x".into()).await.unwrap_err();
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);

    let connz: serde_json::Value = reqwest::get(format!("{}/connz", server.monitor_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let types: Vec<_> = connz["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap().to_string())
        .collect();
    assert!(types.contains(&"websocket".to_string()), "{types:?}");
    assert!(types.contains(&"nats".to_string()), "{types:?}");
}

/// Reads binary frames into one byte stream until it holds `want`.
async fn read_until(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    seen: &mut String,
    want: &str,
) {
    while !seen.contains(want) {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap_or_else(|_| panic!("no {want:?} in {seen:?}"))
            .expect("socket open")
            .expect("frame");
        match frame {
            Message::Binary(b) => seen.push_str(&String::from_utf8_lossy(&b)),
            Message::Text(_) => panic!("the server must send binary frames"),
            _ => {}
        }
    }
}

#[tokio::test]
async fn protocol_stream_is_not_aligned_to_frames() {
    let server = ws_server("");
    let url = server.websocket.clone().unwrap();
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let mut seen = String::new();
    read_until(&mut ws, &mut seen, "\r\n").await;
    assert!(seen.starts_with("INFO {"), "{seen}");
    // One op split over three frames, text and binary mixed, then several ops in one frame.
    ws.send(Message::text(
        "CONNECT {\"verbose\":false}\r\nSUB a 1\r\nPU",
    ))
    .await
    .unwrap();
    ws.send(Message::binary(&b"B a 5\r\nhel"[..]))
        .await
        .unwrap();
    ws.send(Message::binary(&b"lo\r\nPING\r\n"[..]))
        .await
        .unwrap();
    read_until(&mut ws, &mut seen, "PONG\r\n").await;
    assert!(seen.contains("MSG a 1 5\r\nhello\r\n"), "{seen}");
}

#[tokio::test]
async fn origins_are_checked() {
    let server = ws_server("allowed_origins = [\"https://app.example.com\"]\n");
    let url = server.websocket.clone().unwrap();
    let mut request = url.clone().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Origin", "https://evil.example.com".parse().unwrap());
    let err = tokio_tungstenite::connect_async(request).await.unwrap_err();
    match err {
        tokio_tungstenite::tungstenite::Error::Http(resp) => assert_eq!(resp.status(), 403),
        other => panic!("expected HTTP 403, got {other:?}"),
    }
    let mut request = url.clone().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Origin", "https://app.example.com".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(request).await.is_ok());
    // No Origin header: not a browser, accepted as nats-server does.
    assert!(tokio_tungstenite::connect_async(&url).await.is_ok());
}

#[tokio::test]
async fn slow_websocket_consumer_is_closed_with_1008() {
    let server = Server::with_config(
        "[nats]\nmax_payload = 4096\nmax_pending = 262144\n[websocket]\nport = -1\n",
        &[],
    );
    let url = server.websocket.clone().unwrap();
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let mut seen = String::new();
    ws.send(Message::text(
        "CONNECT {\"verbose\":false}\r\nSUB flood 1\r\nPING\r\n",
    ))
    .await
    .unwrap();
    read_until(&mut ws, &mut seen, "PONG\r\n").await;

    // Flood while the WebSocket client does not read.
    let publisher = async_nats::connect(server.url()).await.unwrap();
    let payload = bytes::Bytes::from(vec![b'x'; 4000]);
    for _ in 0..5_000 {
        publisher.publish("flood", payload.clone()).await.unwrap();
    }
    publisher.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Now read: some messages, then a close frame with code 1008 (policy violation).
    let mut code = None;
    while let Ok(Some(frame)) = tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
        match frame {
            Ok(Message::Close(Some(f))) => {
                code = Some(f.code);
                break;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    assert_eq!(code, Some(CloseCode::Policy));
}

#[tokio::test]
async fn nats_over_websocket_on_the_api_port() {
    let server = Server::start(&[]);
    let url = format!("{}/nats", server.api_url().replace("http://", "ws://"));
    let browserish = async_nats::connect(&url)
        .await
        .expect("ws connect on /nats");
    let tcp = async_nats::connect(server.url()).await.unwrap();
    let mut sub = browserish.subscribe("api.ws").await.unwrap();
    sync(&browserish).await;
    tcp.publish("api.ws", "via the API port".into())
        .await
        .unwrap();
    assert_eq!(next(&mut sub).await.payload, "via the API port");
}
