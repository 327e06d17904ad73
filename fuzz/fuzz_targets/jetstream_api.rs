//! Fuzzes the `$JS.API`: arbitrary request subjects and bodies, and publishes into the
//! streams they create, against a real JetStream with a file store in a fresh directory
//! for each input.
//!
//! The input is text, one operation per line (at most [`MAX_OPS`]):
//!
//! - `<suffix> <body>`: a request on `$JS.API.<suffix>` with that body and a reply inbox,
//!   e.g. `STREAM.CREATE.ORDERS {"name":"ORDERS","subjects":["orders.>"]}`;
//! - `PUB <subject> <payload>`: a publish with a reply inbox, as a NATS client sends it;
//! - `HPUB <subject> <Name:value|Name:value> <payload>`: the same with headers
//!   (`Nats-Msg-Id`, `Nats-Expected-*`, `Nats-Rollup`, `Nats-TTL`, ...).
//!
//! Requests go through the router to the API task exactly as a client's would. The target
//! checks that nothing panics, that every request is answered once with nats-server's
//! response shape (or a no-responders status for an unknown API), that a publish a stream
//! captures is acked once, and at the end that every stream's state is consistent and that
//! only streams' own directories were created in the store directory.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sluice::config::Config;
use sluice::core::message::Message;
use sluice::core::subject::is_valid_literal_subject;
use sluice::jetstream::JetStream;
use sluice::jetstream::api::types::{StorageType, check_name};
use sluice::jetstream::internal::{InboxSink, Outbox, subscribe};
use sluice::server::Shared;
use tokio::sync::mpsc;

/// Operations per input: enough to create, fill, read and delete, small enough to stay fast.
const MAX_OPS: usize = 24;
/// Scheduler turns given to the JetStream tasks to answer one operation.
const TURNS: usize = 64;

static NEXT_DIR: AtomicU64 = AtomicU64::new(0);

/// A directory for one input's store; on tmpfs when there is one, so fsyncs cost nothing.
fn fresh_dir() -> PathBuf {
    let base = Path::new("/dev/shm");
    let base = if base.is_dir() {
        base.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let n = NEXT_DIR.fetch_add(1, Ordering::Relaxed);
    base.join(format!("sluice-fuzz-js-{}-{n}", std::process::id()))
}

enum Op<'a> {
    Request {
        suffix: &'a str,
        body: &'a str,
    },
    Publish {
        subject: &'a str,
        headers: Option<&'a str>,
        payload: &'a str,
    },
}

fn parse(line: &str) -> Op<'_> {
    let (head, rest) = line.split_once(' ').unwrap_or((line, ""));
    match head {
        "PUB" => {
            let (subject, payload) = rest.split_once(' ').unwrap_or((rest, ""));
            Op::Publish {
                subject,
                headers: None,
                payload,
            }
        }
        "HPUB" => {
            let (subject, rest) = rest.split_once(' ').unwrap_or((rest, ""));
            let (headers, payload) = rest.split_once(' ').unwrap_or((rest, ""));
            Op::Publish {
                subject,
                headers: Some(headers),
                payload,
            }
        }
        _ => Op::Request {
            suffix: head,
            body: rest,
        },
    }
}

/// `Name:value|Name:value` as a NATS header block, the way a client writes one.
fn header_block(spec: &str) -> Bytes {
    let mut block = b"NATS/1.0\r\n".to_vec();
    for pair in spec.split('|').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once(':').unwrap_or((pair, ""));
        block.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    block.extend_from_slice(b"\r\n");
    Bytes::from(block)
}

/// Gives the JetStream tasks turns until `rx` has something for operation `op` (or
/// [`TURNS`] are used up), then a few more so that a second answer, if any, arrives too.
/// Messages for earlier operations' inboxes (a pull request served later, or told that its
/// consumer is gone) are not this operation's answers.
async fn settle(rx: &mut mpsc::UnboundedReceiver<(usize, Message)>, op: usize) -> Vec<Message> {
    let mut got = Vec::new();
    let mut extra = 0;
    for _ in 0..TURNS {
        tokio::task::yield_now().await;
        while let Ok((tag, m)) = rx.try_recv() {
            if tag == op {
                got.push(m);
            }
        }
        if !got.is_empty() {
            extra += 1;
            if extra > 4 {
                break;
            }
        }
    }
    got
}

/// nats-server's response shape: a JSON object whose `type` names the response, with a
/// well-formed `error` when the request failed.
fn check_api_response(suffix: &str, m: &Message) {
    if let Some(h) = &m.headers {
        // Only an unknown API gets a status instead of JSON: "no responders".
        assert!(
            h.starts_with(b"NATS/1.0 503"),
            "{suffix}: unexpected headers {h:?}"
        );
        assert!(m.payload.is_empty());
        return;
    }
    let v: Value = serde_json::from_slice(&m.payload)
        .unwrap_or_else(|e| panic!("{suffix}: response is not JSON ({e}): {:?}", m.payload));
    let kind = v["type"].as_str().unwrap_or_default();
    assert!(
        kind.starts_with("io.nats.jetstream.api.v1.") && kind.ends_with("_response"),
        "{suffix}: bad type in {v}"
    );
    if let Some(err) = v.get("error") {
        let code = err["code"].as_u64().unwrap_or_default();
        assert!(
            (400..600).contains(&code),
            "{suffix}: bad error code in {v}"
        );
        assert!(err["description"].is_string(), "{suffix}: {v}");
    }
}

/// A publish ack: the stream and sequence, or an error.
fn check_ack(subject: &str, m: &Message) {
    let v: Value = serde_json::from_slice(&m.payload)
        .unwrap_or_else(|e| panic!("PUB {subject}: ack is not JSON ({e}): {:?}", m.payload));
    assert!(
        v.get("error").is_some() || (v["stream"].is_string() && v["seq"].is_u64()),
        "PUB {subject}: bad ack {v}"
    );
}

/// After the operations: consistent stream states, and no file outside the streams' own
/// directories (a name must never lead elsewhere).
fn check_end(js: &JetStream, dir: &Path) {
    let mut file_streams = Vec::new();
    for s in js.streams() {
        assert!(check_name(&s.name), "stream with invalid name {:?}", s.name);
        let state = s.store.state();
        if state.msgs > 0 {
            assert!(state.first_seq <= state.last_seq, "{}: {state:?}", s.name);
            let span = state.last_seq - state.first_seq + 1;
            assert_eq!(
                state.msgs + state.num_deleted,
                span,
                "{}: {state:?}",
                s.name
            );
        }
        if s.config().storage == StorageType::File {
            file_streams.push(s.name.clone());
        }
    }
    let top: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        top.iter().all(|n| n == "jetstream"),
        "unexpected entries in the store dir: {top:?}"
    );
    let mut found: Vec<String> = std::fs::read_dir(js.root())
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    file_streams.sort();
    assert_eq!(
        found, file_streams,
        "stream directories and file streams differ"
    );
}

async fn run(input: &str, dir: &Path) {
    let mut config = Config::default();
    config.jetstream.enabled = true;
    config.jetstream.store_dir = dir.to_path_buf();
    let shared = Arc::new(Shared::new(config));
    let Ok(js) = JetStream::start(shared.clone()) else {
        return;
    };
    // Not put in `shared.jetstream`: that would make a reference cycle (the server keeps it
    // for its lifetime), which the leak checker would report for every input.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut out = Outbox::new(shared.clone());
    for (i, line) in input.lines().take(MAX_OPS).enumerate() {
        // Each operation's own inbox, tagged with its index.
        let inbox = format!("_INBOX.fuzz.{i}");
        if subscribe(&shared.router, &inbox, InboxSink::new(i, tx.clone())).is_err() {
            return;
        }
        let reply = Bytes::from(inbox);
        match parse(line) {
            Op::Request { suffix, body } => {
                let subject = Bytes::from(format!("$JS.API.{suffix}"));
                // Front-ends route only valid literal subjects.
                if !is_valid_literal_subject(&subject) {
                    continue;
                }
                let payload = Bytes::copy_from_slice(body.as_bytes());
                out.send(subject, Some(reply), None, payload);
                out.flush();
                let answers = settle(&mut rx, i).await;
                // Pull requests answer with messages or later; direct gets with a message.
                let streaming =
                    suffix.starts_with("CONSUMER.MSG.NEXT.") || suffix.starts_with("DIRECT.GET.");
                if !streaming {
                    assert_eq!(answers.len(), 1, "{suffix}: {} answers", answers.len());
                    check_api_response(suffix, &answers[0]);
                } else {
                    assert!(answers.len() <= 1 || suffix.starts_with("CONSUMER.MSG.NEXT."));
                }
            }
            Op::Publish {
                subject,
                headers,
                payload,
            } => {
                // Front-ends route only valid literal subjects.
                if !is_valid_literal_subject(subject.as_bytes()) {
                    continue;
                }
                let captured = js.stream_for_subject(subject.as_bytes()).is_some();
                out.send(
                    Bytes::copy_from_slice(subject.as_bytes()),
                    Some(reply),
                    headers.map(header_block),
                    Bytes::copy_from_slice(payload.as_bytes()),
                );
                out.flush();
                let acks = settle(&mut rx, i).await;
                if captured {
                    assert_eq!(acks.len(), 1, "PUB {subject}: {} acks", acks.len());
                    check_ack(subject, &acks[0]);
                }
            }
        }
    }
    check_end(&js, dir);
    js.shutdown();
}

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    let dir = fresh_dir();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(run(&input, &dir));
    drop(rt);
    let _ = std::fs::remove_dir_all(&dir);
});
