//! The NATS protocol over WebSocket on the dedicated `[websocket]` listener: async-nats over
//! `ws://`, a protocol stream split across frames, origin checks, monitoring, slow
//! consumers closed with code 1008, and permessage-deflate (`[websocket] compression`),
//! checked on the wire with raw frames and end to end with yawc as a compressing client.

mod common;

use std::time::Duration;

use common::{Server, sync};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
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

    let connz = server.monitor_json("/connz").await;
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

// ---- permessage-deflate ------------------------------------------------------------

/// What nats-server answers to any permessage-deflate offer, and so does sluice.
const DEFLATE_AGREED: &str =
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
/// What browsers and Node's `ws` offer.
const DEFLATE_OFFER: &str = "permessage-deflate; client_max_window_bits";

/// Sends an upgrade request for `path` on `addr` (`host:port`), offering `extensions`, and
/// returns the socket with the response head (status line and headers, lower-cased).
async fn raw_upgrade(addr: &str, path: &str, extensions: Option<&str>) -> (TcpStream, String) {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let offer = extensions
        .map(|e| format!("Sec-WebSocket-Extensions: {e}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{offer}\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    // Byte by byte up to the blank line, so no frame bytes are consumed.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let byte = tokio::time::timeout(Duration::from_secs(5), tcp.read_u8())
            .await
            .expect("response within 5 s")
            .expect("response head");
        head.push(byte);
    }
    let head = String::from_utf8(head).unwrap().to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    (tcp, head)
}

/// The `sec-websocket-extensions` value of a lower-cased response head.
fn extensions(head: &str) -> Option<&str> {
    head.lines()
        .find_map(|l| l.strip_prefix("sec-websocket-extensions:"))
        .map(str::trim)
}

/// Reads one (unmasked, unfragmented) server frame: (RSV1 set, opcode, payload).
async fn read_raw_frame(tcp: &mut TcpStream) -> (bool, u8, Vec<u8>) {
    let mut head = [0u8; 2];
    tokio::time::timeout(Duration::from_secs(5), tcp.read_exact(&mut head))
        .await
        .expect("frame within 5 s")
        .expect("frame head");
    assert!(head[0] & 0x80 != 0, "the server sends whole messages");
    assert!(head[1] & 0x80 == 0, "server frames are not masked");
    let len = match head[1] & 0x7f {
        126 => u64::from(tcp.read_u16().await.unwrap()),
        127 => tcp.read_u64().await.unwrap(),
        n => u64::from(n),
    };
    let mut payload = vec![0; usize::try_from(len).unwrap()];
    tcp.read_exact(&mut payload).await.unwrap();
    (head[0] & 0x40 != 0, head[0] & 0x0f, payload)
}

/// Writes one masked client frame (FIN set; RSV1 when `compressed`).
async fn write_raw_frame(tcp: &mut TcpStream, opcode: u8, compressed: bool, payload: &[u8]) {
    let mask = [0x12, 0x34, 0x56, 0x78];
    let mut frame = vec![0x80 | opcode | if compressed { 0x40 } else { 0 }];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n if n <= 0xffff => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    tcp.write_all(&frame).await.unwrap();
}

/// RFC 7692 message compression: raw deflate, sync-flushed, without the trailing
/// 00 00 ff ff.
fn deflate(data: &[u8]) -> Vec<u8> {
    let mut c = flate2::Compress::new(flate2::Compression::fast(), false);
    let mut out = Vec::with_capacity(data.len() + 64);
    c.compress_vec(data, &mut out, flate2::FlushCompress::Sync)
        .unwrap();
    assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
    out.truncate(out.len() - 4);
    out
}

/// The inverse of [`deflate`], for one server message (no context is kept between them, and
/// none holds more than the server's 64 KiB pipe).
fn inflate(data: &[u8]) -> Vec<u8> {
    let mut d = flate2::Decompress::new(false);
    let input = [data, &[0, 0, 0xff, 0xff]].concat();
    let mut out = Vec::with_capacity(128 * 1024);
    d.decompress_vec(&input, &mut out, flate2::FlushDecompress::Sync)
        .unwrap();
    assert_eq!(d.total_in(), input.len() as u64, "one whole message");
    out
}

#[tokio::test]
async fn compression_is_negotiated_only_when_configured_and_offered() {
    // Configured: agreed with a client that offers it, on the listener and on /nats.
    let server = Server::with_config("[websocket]\nport = -1\ncompression = true\n", &[]);
    let ws_addr = server.websocket.clone().unwrap().replace("ws://", "");
    let api_addr = server.api.clone().unwrap();
    for (addr, path) in [(&ws_addr, "/"), (&api_addr, "/nats")] {
        let (_, head) = raw_upgrade(addr, path, Some(DEFLATE_OFFER)).await;
        assert_eq!(extensions(&head), Some(DEFLATE_AGREED), "{path}: {head}");
        // A client that offers nothing gets plain frames.
        let (_, head) = raw_upgrade(addr, path, None).await;
        assert_eq!(extensions(&head), None, "{path}: {head}");
    }

    // Not configured (the default): never agreed, and a compressed frame is refused with
    // close code 1002.
    let server = ws_server("");
    let ws_addr = server.websocket.clone().unwrap().replace("ws://", "");
    let api_addr = server.api.clone().unwrap();
    for (addr, path) in [(&ws_addr, "/"), (&api_addr, "/nats")] {
        let (mut tcp, head) = raw_upgrade(addr, path, Some(DEFLATE_OFFER)).await;
        assert_eq!(extensions(&head), None, "{path}: {head}");
        let (compressed, opcode, info) = read_raw_frame(&mut tcp).await;
        assert!(!compressed && opcode == 2 && info.starts_with(b"INFO {"));
        write_raw_frame(&mut tcp, 2, true, &deflate(b"PING\r\n")).await;
        let (_, opcode, payload) = read_raw_frame(&mut tcp).await;
        assert_eq!(opcode, 8, "a close frame");
        assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), 1002);
    }
}

#[tokio::test]
async fn compressed_frames_on_the_wire() {
    let server = ws_server("compression = true\n");
    let addr = server.websocket.clone().unwrap().replace("ws://", "");
    let (mut ws, head) = raw_upgrade(&addr, "/", Some(DEFLATE_OFFER)).await;
    assert_eq!(extensions(&head), Some(DEFLATE_AGREED));

    // INFO is over the 64-byte threshold: compressed.
    let (compressed, opcode, info) = read_raw_frame(&mut ws).await;
    assert!(
        compressed && opcode == 2,
        "INFO in a compressed binary frame"
    );
    assert!(inflate(&info).starts_with(b"INFO {"));

    // The client may compress each message or not; the server inflates what is marked.
    write_raw_frame(&mut ws, 1, false, b"CONNECT {\"verbose\":false}\r\n").await;
    let ops = b"SUB big 1\r\nSUB small 2\r\nPUB small 5\r\nhello\r\nPING\r\n";
    write_raw_frame(&mut ws, 2, true, &deflate(ops)).await;
    let mut seen = Vec::new();
    while !seen.ends_with(b"PONG\r\n") {
        let (compressed, _, payload) = read_raw_frame(&mut ws).await;
        seen.extend(if compressed {
            inflate(&payload)
        } else {
            payload
        });
    }
    assert!(
        seen.starts_with(b"MSG small 2 5\r\nhello\r\nPONG\r\n"),
        "{}",
        String::from_utf8_lossy(&seen)
    );

    // A large, compressible message from a TCP client comes out much smaller on the wire.
    let payload: String = (0..20_000)
        .map(|i| format!("row {:04};", i % 1000))
        .collect();
    let tcp = async_nats::connect(server.url()).await.unwrap();
    tcp.publish("big", payload.clone().into()).await.unwrap();
    tcp.flush().await.unwrap();
    let expected = format!("MSG big 1 {}\r\n{payload}\r\n", payload.len());
    let (mut wire, mut seen) = (0, Vec::new());
    while seen.len() < expected.len() {
        let (compressed, _, frame) = read_raw_frame(&mut ws).await;
        assert!(compressed, "large frames are compressed");
        wire += frame.len();
        seen.extend(inflate(&frame));
    }
    assert!(seen == expected.as_bytes(), "the message arrives whole");
    assert!(wire * 4 < expected.len(), "{wire} bytes on the wire");

    // A close frame from the client is answered with one (never compressed).
    write_raw_frame(&mut ws, 8, false, &1000u16.to_be_bytes()).await;
    let (compressed, opcode, payload) = read_raw_frame(&mut ws).await;
    assert_eq!(
        (compressed, opcode, &payload[..]),
        (false, 8, &[0x03, 0xe8][..])
    );
}

#[tokio::test]
async fn a_compressing_client_exchanges_messages() {
    use yawc::{CompressionLevel, Frame, OpCode, Options, WebSocket};

    let server = ws_server("compression = true\n");
    let tcp = async_nats::connect(server.url()).await.unwrap();
    let mut from_ws = tcp.subscribe("up").await.unwrap();
    sync(&tcp).await;

    // yawc as a client: it offers permessage-deflate, compresses what it sends and inflates
    // what it receives. Over the listener and over /nats on the API port.
    let api = format!("ws://{}/nats", server.api.clone().unwrap());
    for url in [server.websocket.clone().unwrap(), api] {
        let options = Options::default().with_compression_level(CompressionLevel::fast());
        let mut ws = WebSocket::connect(url.parse().unwrap())
            .with_options(options)
            .await
            .unwrap();
        let mut seen = String::new();
        let mut read_until = async |ws: &mut yawc::TcpWebSocket, want: &str| {
            while !seen.contains(want) {
                let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
                    .await
                    .unwrap_or_else(|_| panic!("no {want:?}"))
                    .expect("socket open");
                if frame.opcode() == OpCode::Binary {
                    seen.push_str(&String::from_utf8_lossy(frame.payload()));
                }
            }
            std::mem::take(&mut seen)
        };
        read_until(&mut ws, "\r\n").await;
        let ops = "CONNECT {\"verbose\":false}\r\nSUB down 1\r\nPING\r\n";
        ws.send(Frame::text(ops)).await.unwrap();
        read_until(&mut ws, "PONG\r\n").await;

        // ~200 KB each way, compressible.
        let payload: String = (0..20_000).map(|i| format!("item {:05} ", i)).collect();
        tcp.publish("down", payload.clone().into()).await.unwrap();
        let got = read_until(&mut ws, &format!("{payload}\r\n")).await;
        assert!(got.starts_with(&format!("MSG down 1 {}\r\n", payload.len())));

        let publish = format!("PUB up {}\r\n{payload}\r\n", payload.len());
        ws.send(Frame::binary(publish)).await.unwrap();
        let msg = next(&mut from_ws).await;
        assert_eq!(msg.payload, payload.as_bytes());

        // Request/reply: the TCP side answers on the WebSocket client's inbox.
        ws.send(Frame::text("SUB inbox.1 2\r\nPUB up inbox.1 4\r\nping\r\n"))
            .await
            .unwrap();
        let msg = next(&mut from_ws).await;
        let reply = msg.reply.unwrap();
        tcp.publish(reply, "pong".into()).await.unwrap();
        let got = read_until(&mut ws, "pong\r\n").await;
        assert!(got.contains("MSG inbox.1 2 4\r\npong\r\n"), "{got}");
    }
}

#[tokio::test]
async fn shutdown_closes_websockets_with_1001() {
    let mut server = Server::with_config("[websocket]\nport = -1\ncompression = true\n", &[]);
    let ws_addr = server.websocket.clone().unwrap().replace("ws://", "");
    let api_addr = server.api.clone().unwrap();
    let mut sockets = Vec::new();
    for (addr, path, offer) in [
        (&ws_addr, "/", None),
        (&api_addr, "/nats", Some(DEFLATE_OFFER)),
    ] {
        let (mut tcp, _) = raw_upgrade(addr, path, offer).await;
        read_raw_frame(&mut tcp).await; // INFO
        write_raw_frame(
            &mut tcp,
            2,
            false,
            b"CONNECT {\"verbose\":false}\r\nPING\r\n",
        )
        .await;
        let (compressed, _, pong) = read_raw_frame(&mut tcp).await;
        assert!(!compressed, "under the threshold: sent as is");
        assert_eq!(pong, b"PONG\r\n");
        sockets.push(tcp);
    }
    server.signal("TERM");
    for tcp in &mut sockets {
        let (_, opcode, payload) = read_raw_frame(tcp).await;
        assert_eq!(opcode, 8, "a close frame");
        assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), 1001);
        assert_eq!(&payload[2..], b"Server Shutdown");
    }
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0));
}

#[tokio::test]
async fn slow_compressed_consumer_is_closed_with_1008() {
    let server = Server::with_config(
        "[nats]\nmax_payload = 4096\nmax_pending = 262144\n\
         [websocket]\nport = -1\ncompression = true\n",
        &[],
    );
    let addr = server.websocket.clone().unwrap().replace("ws://", "");
    let (mut ws, head) = raw_upgrade(&addr, "/", Some(DEFLATE_OFFER)).await;
    assert_eq!(extensions(&head), Some(DEFLATE_AGREED));
    read_raw_frame(&mut ws).await; // INFO
    let ops = b"CONNECT {\"verbose\":false}\r\nSUB flood 1\r\nPING\r\n";
    write_raw_frame(&mut ws, 2, false, ops).await;
    let (_, _, pong) = read_raw_frame(&mut ws).await;
    assert_eq!(pong, b"PONG\r\n");

    // Flood with what deflate cannot shrink (else the socket buffers would absorb it all)
    // while the client does not read.
    let publisher = async_nats::connect(server.url()).await.unwrap();
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    let noise: Vec<u8> = (0..4000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let payload = bytes::Bytes::from(noise);
    for _ in 0..5_000 {
        publisher.publish("flood", payload.clone()).await.unwrap();
    }
    publisher.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Now read: some messages, then a close frame with code 1008 (policy violation).
    loop {
        let (_, opcode, payload) = read_raw_frame(&mut ws).await;
        if opcode == 8 {
            assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), 1008);
            assert_eq!(&payload[2..], b"Slow Consumer");
            break;
        }
    }
}
