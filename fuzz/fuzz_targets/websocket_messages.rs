//! Fuzzes what Sluice does with WebSocket messages, past the frame codec (yawc and axum
//! decode the frames; what they hand over is ours):
//!
//! - `json` mode: the JSON frames of `GET /v1/ws` (subscribe, unsubscribe, publish,
//!   request, ping, with ids, headers, encodings), through the socket's real frame
//!   handling (`jsonws::replay`), as user `admin` or the restricted user `limited`;
//! - `nats` mode: the NATS protocol carried in WebSocket messages (`/nats`), fed to a
//!   connection registered as a WebSocket one exactly as the socket bridge feeds it.
//!
//! The input is text. The first line picks the mode and, for `json`, the user:
//! `json admin`, `json limited`, or `nats`. In `json` mode each further line is one text
//! frame, except `<binary>...` (a binary frame), `<ping>`, `<pong>` and `<close>`. In `nats`
//! mode the rest is the byte stream, split into WebSocket messages at each `\x1e` byte.
//!
//! Checks: nothing panics; every frame the server sends is JSON of a known op with a known
//! error code, ids echoed, deliveries only for live subscriptions and, for `limited`, only
//! on subjects it may receive; in `nats` mode the output is a well-formed server protocol
//! stream (INFO first, then MSG/HMSG with exact sizes, PING, PONG, +OK, -ERR) whose
//! deliveries respect the same permissions. (A header block is passed on as the publisher
//! wrote it, as nats-server does, so only its size is checked.)
#![no_main]

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};

use axum::extract::ws::Message as WsMessage;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sluice::auth::Credentials;
use sluice::config::Config;
use sluice::core::subject::{is_valid_literal_subject, subject_matches};
use sluice::frontend::http::jsonws;
use sluice::frontend::nats;
use sluice::server::Shared;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Frames (json) or WebSocket messages (nats) per input.
const MAX_FRAMES: usize = 64;

/// Small limits so they are reached; one unrestricted user and one restricted user.
const CONFIG: &str = r#"
[nats]
max_payload = 4096
max_control_line = 512

[[auth.users]]
user = "admin"
password = "p"
admin = true

[[auth.users]]
user = "limited"
password = "p"
[auth.users.permissions]
publish = { allow = ["sub.>", "_INBOX.>"], deny = ["sub.secret"] }
subscribe = { allow = ["sub.>", "_INBOX.>"], deny = ["sub.secret", "sub.hidden.>"] }
"#;

static CONFIG_PARSED: LazyLock<Config> =
    LazyLock::new(|| Config::from_toml_str(CONFIG).expect("the fuzz config is valid"));

/// What `limited` may receive: the oracle for its deliveries.
fn limited_may_receive(subject: &[u8]) -> bool {
    let allowed = [&b"sub.>"[..], b"_INBOX.>"];
    let denied = [&b"sub.secret"[..], b"sub.hidden.>"];
    allowed.iter().any(|p| subject_matches(p, subject))
        && !denied.iter().any(|p| subject_matches(p, subject))
}

fn json_frames(rest: &str) -> Vec<WsMessage> {
    rest.lines()
        .take(MAX_FRAMES)
        .map(|line| match line {
            "<ping>" => WsMessage::Ping(Bytes::new()),
            "<pong>" => WsMessage::Pong(Bytes::new()),
            "<close>" => WsMessage::Close(None),
            _ => match line.strip_prefix("<binary>") {
                Some(b) => WsMessage::Binary(Bytes::copy_from_slice(b.as_bytes())),
                None => WsMessage::Text(line.into()),
            },
        })
        .collect()
}

const ANSWERS: &[&str] = &[
    "subscribed",
    "unsubscribed",
    "published",
    "reply",
    "pong",
    "error",
];
const CODES: &[u64] = &[400, 403, 404, 413, 429, 503, 504];

async fn run_json(shared: Arc<Shared>, user: &str, rest: &str) {
    let Some(identity) = shared.auth().authenticate(Credentials {
        user: Some(user),
        pass: Some("p"),
        ..Credentials::default()
    }) else {
        return;
    };
    let limited = identity.permissions.is_some();
    let frames = json_frames(rest);
    let data_frames = frames
        .iter()
        .take_while(|f| !matches!(f, WsMessage::Close(_)))
        .filter(|f| matches!(f, WsMessage::Text(_) | WsMessage::Binary(_)))
        .count();
    let sent = jsonws::replay(shared, identity, frames).await;

    let mut live: HashSet<String> = HashSet::new();
    let mut answers = 0;
    for text in &sent {
        let v: Value = serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("server frame is not JSON ({e}): {text}"));
        let op = v["op"].as_str().unwrap_or_default();
        if let Some(id) = v.get("id") {
            assert!(id.is_string() || id.is_number(), "bad id echoed: {text}");
        }
        match op {
            "message" => {
                let sid = v["sid"].as_str().unwrap_or_default();
                assert!(
                    live.contains(sid),
                    "delivery for sid {sid} not live: {text}"
                );
                let subject = v["message"]["subject"].as_str().unwrap_or_default();
                assert!(is_valid_literal_subject(subject.as_bytes()), "{text}");
                if limited {
                    assert!(limited_may_receive(subject.as_bytes()), "leak: {text}");
                }
            }
            _ if ANSWERS.contains(&op) => {
                answers += 1;
                match op {
                    "subscribed" => {
                        let sid = v["sid"].as_str().unwrap_or_default().to_string();
                        assert!(live.insert(sid), "sid given twice: {text}");
                    }
                    "unsubscribed" => {
                        let sid = v["sid"].as_str().unwrap_or_default();
                        assert!(live.remove(sid), "unsubscribed a dead sid: {text}");
                    }
                    "error" => {
                        let code = v["code"].as_u64().unwrap_or_default();
                        assert!(CODES.contains(&code), "unexpected code: {text}");
                        assert!(v["error"].is_string(), "{text}");
                    }
                    "reply" => {
                        let subject = v["message"]["subject"].as_str().unwrap_or_default();
                        assert!(is_valid_literal_subject(subject.as_bytes()), "{text}");
                    }
                    _ => {}
                }
            }
            _ => panic!("unknown op: {text}"),
        }
    }
    // One answer per frame, except requests still waiting for their reply.
    assert!(
        answers <= data_frames,
        "{answers} answers to {data_frames} frames"
    );
}

/// Reads the server's side of a NATS connection strictly, checking every delivery.
fn check_nats_output(out: &[u8], limited: bool) {
    let mut rest = out;
    let mut first = true;
    while !rest.is_empty() {
        let Some(end) = rest.windows(2).position(|w| w == b"\r\n") else {
            panic!("unterminated line: {:?}", String::from_utf8_lossy(rest));
        };
        let line = &rest[..end];
        rest = &rest[end + 2..];
        let text = String::from_utf8_lossy(line);
        let mut words = text.split(' ');
        let verb = words.next().unwrap_or_default();
        if first {
            assert_eq!(verb, "INFO", "first line: {text}");
            first = false;
            continue;
        }
        match verb {
            "PING" | "PONG" | "+OK" => assert_eq!(words.next(), None, "{text}"),
            "-ERR" => assert!(
                text.starts_with("-ERR '") && text.ends_with('\''),
                "bad -ERR: {text}"
            ),
            "MSG" | "HMSG" => {
                let args: Vec<&str> = words.collect();
                let headers = verb == "HMSG";
                let sizes = if headers { 2 } else { 1 };
                assert!(
                    args.len() == 2 + sizes || args.len() == 3 + sizes,
                    "bad {verb}: {text}"
                );
                let subject = args[0];
                assert!(is_valid_literal_subject(subject.as_bytes()), "{text}");
                if limited {
                    assert!(limited_may_receive(subject.as_bytes()), "leak: {text}");
                }
                let total: usize = args[args.len() - 1]
                    .parse()
                    .unwrap_or_else(|_| panic!("bad size: {text}"));
                if headers {
                    let hdr: usize = args[args.len() - 2]
                        .parse()
                        .unwrap_or_else(|_| panic!("bad size: {text}"));
                    // The header block itself is the publisher's, passed on as nats-server
                    // does; only its size must be right.
                    assert!(hdr <= total, "{text}");
                }
                assert!(rest.len() >= total + 2, "short payload after {text}");
                assert_eq!(&rest[total..total + 2], b"\r\n", "payload size of {text}");
                rest = &rest[total + 2..];
            }
            _ => panic!("unknown server op: {text}"),
        }
    }
}

async fn run_nats(shared: Arc<Shared>, rest: &[u8]) {
    let addr: SocketAddr = ([127, 0, 0, 1], 1).into();
    let (ours, theirs) = tokio::io::duplex(64 * 1024);
    let (reader, writer) = tokio::io::split(ours);
    // As the socket bridge does: register as a WebSocket client, then run the connection.
    let client = nats::register(&shared, addr, true);
    let conn = tokio::spawn(nats::conn::run(shared, client.clone(), reader, writer));
    let (mut from_conn, mut to_conn) = tokio::io::split(theirs);
    let collect = tokio::spawn(async move {
        let mut out = Vec::new();
        let _ = from_conn.read_to_end(&mut out).await;
        out
    });
    for message in rest.split(|b| *b == 0x1e).take(MAX_FRAMES) {
        if to_conn.write_all(message).await.is_err() {
            break;
        }
    }
    let _ = to_conn.shutdown().await;
    drop(to_conn);
    let _ = conn.await;
    let out = collect.await.unwrap_or_default();
    // Nothing is delivered before CONNECT (auth is required), and the identity is set once.
    check_nats_output(&out, client.user() == Some("limited"));
}

fuzz_target!(|data: &[u8]| {
    let (head, rest) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &data[..0]),
    };
    let shared = Arc::new(Shared::new(CONFIG_PARSED.clone()));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    match head {
        b"nats" => rt.block_on(run_nats(shared, rest)),
        b"json admin" | b"json limited" | b"json" => {
            let user = if head == b"json limited" {
                "limited"
            } else {
                "admin"
            };
            let rest = String::from_utf8_lossy(rest);
            rt.block_on(run_json(shared, user, &rest));
        }
        _ => {}
    }
});
