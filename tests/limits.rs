//! Limits of the HTTP and WebSocket front-ends, each hit on purpose against the real binary:
//! connections per client IP (429 on the extra connection, the others untouched), requests
//! per second per user (429 with `Retry-After`, other users untouched, requests pass again
//! after the wait), WebSocket upgrades over the rate, frames and messages over the size
//! limit (close code 1009), and the configured values in `/varz` and `/metrics`.
//!
//! Timing: rates are slow (one request per two or five seconds) so a burst sent by a busy
//! machine still fits well inside one refill; waits are polled, never slept.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{Server, eventually};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// An HTTP answer read off a raw connection.
#[derive(Debug)]
struct Answer {
    status: u16,
    /// Lower-cased names.
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// Connects to `addr` from the loopback address `from` (127.0.0.x: another client IP).
async fn connect_from(from: &str, addr: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let addr: SocketAddr = addr.parse().unwrap();
    socket.connect(addr).await.expect("connect")
}

/// Sends `GET path` on a kept-alive connection and reads the answer (Content-Length bodies).
async fn get(tcp: &mut TcpStream, path: &str) -> Answer {
    let request = format!("GET {path} HTTP/1.1\r\nHost: sluice\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.expect("write");
    tokio::time::timeout(Duration::from_secs(10), read_answer(tcp))
        .await
        .expect("answer within 10 s")
}

async fn read_answer(tcp: &mut TcpStream) -> Answer {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(tcp.read_u8().await.expect("response head"));
    }
    let head = String::from_utf8(head).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0; len];
    tcp.read_exact(&mut body).await.expect("body");
    Answer {
        status: status.parse().unwrap(),
        headers,
        body: String::from_utf8(body).unwrap(),
    }
}

/// True once the server has closed `tcp` (EOF or reset within 5 s).
async fn closed(tcp: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

fn assert_problem(answer: &Answer, status: u16, slug: &str) {
    assert_eq!(answer.status, status, "{answer:?}");
    assert_eq!(
        answer.header("content-type"),
        Some("application/problem+json"),
        "{answer:?}"
    );
    let problem = answer.json();
    assert_eq!(problem["type"], format!("urn:sluice:problem:{slug}"));
    assert_eq!(problem["status"], status);
}

/// `Retry-After` in whole seconds, at least 1.
fn retry_after(headers: &reqwest::header::HeaderMap) -> u64 {
    let secs: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(secs >= 1, "Retry-After {secs}");
    secs
}

/// The text of a monitoring endpoint (`/varz`, `/metrics`).
async fn monitor(server: &Server, path: &str) -> String {
    let url = format!("{}{path}", server.monitor_url());
    reqwest::get(url).await.unwrap().text().await.unwrap()
}

async fn varz(server: &Server) -> Value {
    serde_json::from_str(&monitor(server, "/varz").await).unwrap()
}

async fn metrics(server: &Server) -> String {
    monitor(server, "/metrics").await
}

/// A metric's value, e.g. `sluice_http_rate_limited_total{listener="api"}`.
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
}

#[tokio::test]
async fn connections_over_the_per_ip_limit_get_429_and_the_others_carry_on() {
    let server = Server::with_config("[api]\nmax_connections_per_ip = 2\n", &["-m", "-1"]);
    let api = server.api.clone().expect("API");
    let mut a = connect_from("127.0.0.1", &api).await;
    let mut b = connect_from("127.0.0.1", &api).await;
    assert_eq!(get(&mut a, "/v1/stats").await.status, 200);
    assert_eq!(get(&mut b, "/v1/stats").await.status, 200);

    // The third connection from the same address is answered 429, then closed.
    let mut extra = connect_from("127.0.0.1", &api).await;
    let refused = get(&mut extra, "/v1/stats").await;
    assert_problem(&refused, 429, "too-many-connections");
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert!(closed(&mut extra).await, "the extra connection is closed");

    // Another client IP, and the connections already open, are not affected.
    let mut other = connect_from("127.0.0.2", &api).await;
    assert_eq!(get(&mut other, "/v1/stats").await.status, 200);
    assert_eq!(get(&mut a, "/v1/stats").await.status, 200);
    assert_eq!(get(&mut b, "/v1/stats").await.status, 200);

    // Once one closes, its slot comes back.
    drop(b);
    let accepted = eventually(Duration::from_secs(10), || async {
        let mut c = connect_from("127.0.0.1", &api).await;
        get(&mut c, "/v1/stats").await.status == 200
    })
    .await;
    assert!(accepted, "a slot came back after a connection closed");
    assert_eq!(get(&mut a, "/v1/stats").await.status, 200);

    let v = varz(&server).await;
    assert_eq!(v["api"]["max_connections_per_ip"], 2);
    assert!(
        v["api"]["refused_connections"].as_u64().unwrap() >= 1,
        "{v}"
    );
    let m = metrics(&server).await;
    let refusals = metric(
        &m,
        "sluice_http_connections_refused_total{listener=\"api\"}",
    );
    assert!(refusals >= 1.0, "{m}");
}

#[tokio::test]
async fn websocket_connections_over_the_per_ip_limit_are_refused() {
    let server = Server::with_config("[websocket]\nport = -1\nmax_connections_per_ip = 2\n", &[]);
    let url = server.websocket.clone().expect("websocket listener");
    let mut first = nats_ws(&url).await;
    let mut second = nats_ws(&url).await;
    match tokio_tungstenite::connect_async(&url).await {
        Err(WsError::Http(resp)) => {
            assert_eq!(resp.status(), 429);
            assert_eq!(retry_after(resp.headers()), 1);
        }
        other => panic!("third connection: {:?}", other.map(|_| ())),
    }
    // The open ones still talk NATS.
    ping_pong(&mut first).await;
    ping_pong(&mut second).await;
    first.close(None).await.unwrap();
    drop(first);
    let reconnected = eventually(Duration::from_secs(10), || async {
        tokio_tungstenite::connect_async(&url).await.is_ok()
    })
    .await;
    assert!(reconnected, "a slot came back after a socket closed");
    ping_pong(&mut second).await;
}

/// A NATS WebSocket, its INFO read.
async fn nats_ws(url: &str) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("upgrade");
    let info = next_data(&mut ws).await;
    assert!(info.starts_with(b"INFO "), "{info:?}");
    ws
}

/// The next binary or text frame's bytes; panics on close or after 5 s.
async fn next_data(ws: &mut Ws) -> Vec<u8> {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("frame within 5 s")
            .expect("socket open")
            .expect("frame");
        match frame {
            Message::Binary(b) => return b.to_vec(),
            Message::Text(t) => return t.as_bytes().to_vec(),
            Message::Close(c) => panic!("closed: {c:?}"),
            _ => {}
        }
    }
}

async fn ping_pong(ws: &mut Ws) {
    ws.send(Message::binary(&b"PING\r\n"[..])).await.unwrap();
    let mut got = Vec::new();
    while !got.ends_with(b"PONG\r\n") {
        got.extend(next_data(ws).await);
    }
}

/// Publishes to `orders.new` as `user` with `password`.
async fn publish_as(api: &str, user: &str, password: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{api}/v1/publish/orders.new"))
        .basic_auth(user, Some(password))
        .body("x")
        .send()
        .await
        .unwrap()
}

/// Publishes as `user` until the first 429; returns the answers that passed and the 429.
async fn publish_until_limited(api: &str, user: &str) -> (usize, reqwest::Response) {
    for passed in 0..20 {
        let resp = publish_as(api, user, "pw").await;
        if resp.status() == 429 {
            return (passed, resp);
        }
        assert_eq!(resp.status(), 202, "{user}");
    }
    panic!("{user} was never rate limited");
}

const USERS: &str = r#"
[[auth.users]]
user = "alice"
password = "pw"
[[auth.users]]
user = "bob"
password = "pw"
"#;

#[tokio::test]
async fn each_user_has_a_request_budget_and_waits_alone() {
    let config = format!("[api]\nrate_limit = {{ requests_per_second = 0.5, burst = 3 }}\n{USERS}");
    let server = Server::with_config(&config, &["-m", "-1"]);
    let api = server.api_url();

    // A stranger guessing alice's password is charged to its own address, not to alice.
    let mut guesses = Vec::new();
    for _ in 0..5 {
        let resp = publish_as(&api, "alice", "wrong").await;
        guesses.push(resp.status().as_u16());
    }
    assert_eq!(&guesses[..3], [401, 401, 401], "{guesses:?}");
    assert!(
        guesses.contains(&429),
        "guessing is rate limited: {guesses:?}"
    );

    let started = Instant::now();
    let (passed, limited) = publish_until_limited(&api, "alice").await;
    // The burst passes; a refill (one per 2 s) may add one on a slow machine.
    let refills = started.elapsed().as_secs() as usize / 2;
    assert!((3..=3 + refills + 1).contains(&passed), "{passed} passed");
    let wait = retry_after(limited.headers());
    assert!(wait <= 2, "one request every 2 s: Retry-After {wait}");
    let problem: Value = limited.json().await.unwrap();
    assert_eq!(problem["type"], "urn:sluice:problem:rate-limited");
    assert_eq!(problem["status"], 429);

    // bob has a budget of his own.
    assert_eq!(publish_as(&api, "bob", "pw").await.status(), 202);

    // After the wait, alice's requests pass again.
    let passes_again = eventually(Duration::from_secs(wait + 10), || async {
        publish_as(&api, "alice", "pw").await.status() == 202
    })
    .await;
    assert!(passes_again, "alice passes again after Retry-After");

    let v = varz(&server).await;
    assert_eq!(
        v["api"]["rate_limit"],
        json!({"requests_per_second": 0.5, "burst": 3})
    );
    let m = metrics(&server).await;
    assert!(metric(&m, "sluice_http_rate_limited_total{listener=\"api\"}") >= 2.0);
}

#[tokio::test]
async fn websocket_upgrades_and_json_publishes_count_as_requests() {
    let server = Server::with_config(
        "[api]\nrate_limit = { requests_per_second = 0.2, burst = 3 }\n\
         [websocket]\nport = -1\nrate_limit = { requests_per_second = 0.2, burst = 2 }\n",
        &[],
    );
    // The dedicated listener: two upgrades pass, the third is refused.
    let url = server.websocket.clone().expect("websocket listener");
    let _one = nats_ws(&url).await;
    let _two = nats_ws(&url).await;
    match tokio_tungstenite::connect_async(&url).await {
        Err(WsError::Http(resp)) => {
            assert_eq!(resp.status(), 429);
            assert!(retry_after(resp.headers()) <= 5);
        }
        other => panic!("third upgrade: {:?}", other.map(|_| ())),
    }

    // The API port: the /v1/ws upgrade is one request, each publish frame another.
    let api = server.api.clone().expect("API");
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{api}/v1/ws"))
        .await
        .expect("upgrade within the budget");
    let mut codes = Vec::new();
    for i in 0..3 {
        let publish = json!({"op": "publish", "id": i, "subject": "a", "payload": "x"});
        ws.send(Message::text(publish.to_string())).await.unwrap();
        let answer = next_json(&mut ws).await;
        codes.push(answer["code"].as_u64().unwrap_or(0));
        if answer["op"] == "error" {
            assert!(
                answer["error"].as_str().unwrap().contains("retry in"),
                "{answer}"
            );
        }
    }
    assert_eq!(
        codes[..2],
        [0, 0],
        "two publishes fit in the budget: {codes:?}"
    );
    assert_eq!(codes[2], 429, "{codes:?}");
    // The socket stays usable (ping is not charged), and further upgrades are refused.
    ws.send(Message::text(r#"{"op":"ping"}"#)).await.unwrap();
    assert_eq!(next_json(&mut ws).await["op"], "pong");
    for path in ["/v1/ws", "/nats"] {
        match tokio_tungstenite::connect_async(format!("ws://{api}{path}")).await {
            Err(WsError::Http(resp)) => assert_eq!(resp.status(), 429, "{path}"),
            other => panic!("{path}: {:?}", other.map(|_| ())),
        }
    }
}

async fn next_json(ws: &mut Ws) -> Value {
    let data = next_data(ws).await;
    serde_json::from_slice(&data).unwrap()
}

/// Reads frames until the close frame and returns its code (0 if the socket just ended).
async fn close_code(ws: &mut Ws) -> u16 {
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
                Some(Ok(Message::Close(None))) | Some(Err(_)) | None => return 0,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    ended.expect("closed within 5 s")
}

/// `max_frame_size` in the test below: 200 NATS PINGs fill a frame exactly.
const FRAME: usize = 1200;

#[tokio::test]
async fn frames_over_the_size_limit_close_with_1009_on_every_websocket() {
    let server = Server::with_config(
        &format!("[websocket]\nport = -1\nmax_frame_size = {FRAME}\nmax_message_size = 2400\n"),
        &[],
    );
    let api = server.api.clone().expect("API");
    let dedicated = server.websocket.clone().expect("websocket listener");
    for url in [dedicated.clone(), format!("ws://{api}/nats")] {
        // A frame of exactly the limit passes: 200 PINGs, 200 PONGs.
        let mut ws = nats_ws(&url).await;
        ws.send(Message::binary("PING\r\n".repeat(FRAME / 6)))
            .await
            .unwrap();
        let mut pongs = Vec::new();
        while pongs.len() < FRAME {
            pongs.extend(next_data(&mut ws).await);
        }
        assert_eq!(pongs, "PONG\r\n".repeat(FRAME / 6).as_bytes(), "{url}");
        // One byte more (a space before the last CRLF) closes the socket with 1009.
        let over = "PING\r\n".repeat(FRAME / 6 - 1) + "PING \r\n";
        assert_eq!(over.len(), FRAME + 1);
        ws.send(Message::binary(over)).await.unwrap();
        assert_eq!(close_code(&mut ws).await, 1009, "{url}");
    }

    // /v1/ws: a JSON frame of exactly the limit is answered, one byte more closes.
    let padded = |len: usize| {
        let empty = json!({"op": "ping", "id": ""}).to_string();
        json!({"op": "ping", "id": "x".repeat(len - empty.len())}).to_string()
    };
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{api}/v1/ws"))
        .await
        .unwrap();
    ws.send(Message::text(padded(FRAME))).await.unwrap();
    assert_eq!(next_json(&mut ws).await["op"], "pong");
    ws.send(Message::text(padded(FRAME + 1))).await.unwrap();
    assert_eq!(close_code(&mut ws).await, 1009);

    // A message over max_message_size closes too, even in frames under the frame limit.
    let mut tcp = raw_upgrade(&dedicated).await;
    let chunk = vec![b'x'; 1000];
    for (i, opcode) in [0x2, 0x0, 0x0].into_iter().enumerate() {
        write_frame(&mut tcp, opcode, i == 2, &chunk).await;
    }
    assert_eq!(raw_close_code(&mut tcp).await, 1009);
}

/// Upgrades a raw TCP connection to `ws://host:port` (the dedicated listener).
async fn raw_upgrade(url: &str) -> TcpStream {
    let addr = url.trim_start_matches("ws://");
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(tcp.read_u8().await.unwrap());
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{head:?}");
    tcp
}

/// Writes one masked client frame.
async fn write_frame(tcp: &mut TcpStream, opcode: u8, fin: bool, payload: &[u8]) {
    let mask = [0x12, 0x34, 0x56, 0x78];
    let mut frame = vec![if fin { 0x80 } else { 0 } | opcode];
    let len = u16::try_from(payload.len()).unwrap();
    frame.push(0x80 | 126);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    tcp.write_all(&frame).await.unwrap();
}

/// Reads server frames until the close frame; returns its code.
async fn raw_close_code(tcp: &mut TcpStream) -> u16 {
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let mut head = [0u8; 2];
            tcp.read_exact(&mut head).await.expect("a close frame");
            let len = match head[1] & 0x7f {
                126 => usize::from(tcp.read_u16().await.unwrap()),
                127 => usize::try_from(tcp.read_u64().await.unwrap()).unwrap(),
                n => usize::from(n),
            };
            let mut payload = vec![0; len];
            tcp.read_exact(&mut payload).await.unwrap();
            if head[0] & 0x0f == 0x8 {
                return u16::from_be_bytes([payload[0], payload[1]]);
            }
        }
    })
    .await
    .expect("closed within 5 s")
}

#[tokio::test]
async fn varz_shows_the_http_and_websocket_limits() {
    let server = Server::with_config(
        r#"
        [api]
        max_connections_per_ip = 5
        rate_limit = { requests_per_second = 2.5, burst = 7 }
        [websocket]
        port = -1
        max_connections_per_ip = 3
        max_frame_size = "8KiB"
        max_message_size = "32KiB"
        rate_limit = { requests_per_second = 1 }
        "#,
        &["-m", "-1"],
    );
    let v = varz(&server).await;
    let api = &v["api"];
    assert_eq!(
        api["port"],
        server
            .api
            .as_ref()
            .unwrap()
            .rsplit(':')
            .next()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    );
    assert_eq!(api["max_connections_per_ip"], 5);
    assert_eq!(
        api["rate_limit"],
        json!({"requests_per_second": 2.5, "burst": 7})
    );
    assert_eq!(
        (
            api["refused_connections"].as_u64(),
            api["rate_limited"].as_u64()
        ),
        (Some(0), Some(0))
    );
    let ws = &v["websocket"];
    assert_eq!(ws["max_connections_per_ip"], 3);
    assert_eq!(
        (
            ws["max_frame_size"].as_u64(),
            ws["max_message_size"].as_u64()
        ),
        (Some(8192), Some(32768))
    );
    assert_eq!(
        ws["rate_limit"],
        json!({"requests_per_second": 1.0, "burst": 1})
    );
    assert!(ws["port"].as_u64().unwrap() > 0);
    // The NATS limits stay where nats-server has them.
    assert_eq!(
        (v["max_payload"].as_u64(), v["max_connections"].as_u64()),
        (Some(1 << 20), Some(65536))
    );

    let m = metrics(&server).await;
    for listener in ["api", "websocket"] {
        for family in [
            "sluice_http_connections_refused_total",
            "sluice_http_rate_limited_total",
        ] {
            assert_eq!(
                metric(&m, &format!("{family}{{listener=\"{listener}\"}}")),
                0.0
            );
        }
    }
}

#[tokio::test]
async fn without_limits_nothing_is_refused() {
    let server = Server::with_config("", &["-m", "-1"]);
    let api = server.api.clone().expect("API");
    let mut conns = Vec::new();
    for _ in 0..20 {
        let mut tcp = connect_from("127.0.0.1", &api).await;
        assert_eq!(get(&mut tcp, "/v1/stats").await.status, 200);
        conns.push(tcp);
    }
    let v = varz(&server).await;
    assert_eq!(v["api"]["max_connections_per_ip"], 0);
    assert_eq!(v["api"]["rate_limit"], Value::Null);
    let ws = &v["websocket"];
    assert_eq!(
        (ws["port"].as_u64(), ws["max_message_size"].as_u64()),
        (Some(0), Some((2 << 20) + 65536))
    );
}

#[tokio::test]
async fn tls_connections_count_from_accept() {
    let pki = common::tls::Pki::new("limits CA");
    let (cert, key) = pki.server();
    let server = Server::with_config(
        &format!(
            "[api]\nmax_connections_per_ip = 1\n[api.tls]\ncert_file = {cert:?}\nkey_file = {key:?}\n\
             timeout = \"30s\"\n"
        ),
        &[],
    );
    let api = server.api.clone().expect("API");
    let ca = reqwest::Certificate::from_pem(&std::fs::read(pki.ca()).unwrap()).unwrap();
    let https = || {
        reqwest::Client::builder()
            .add_root_certificate(ca.clone())
            .build()
            .unwrap()
    };
    // A connection still in (or not yet started) its handshake holds the address's slot ...
    let mut pending = connect_from("127.0.0.1", &api).await;
    let refused = eventually(Duration::from_secs(10), || async {
        let resp = https().get(format!("https://{api}/v1/stats")).send().await;
        resp.is_ok_and(|r| r.status() == 429 && r.headers().contains_key("retry-after"))
    })
    .await;
    assert!(refused, "the HTTPS request got a 429 over TLS");
    // ... until it goes away.
    pending.shutdown().await.unwrap();
    drop(pending);
    let accepted = eventually(Duration::from_secs(10), || async {
        let resp = https().get(format!("https://{api}/v1/stats")).send().await;
        resp.is_ok_and(|r| r.status() == 200)
    })
    .await;
    assert!(accepted, "served once the slot came back");
}
