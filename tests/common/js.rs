//! JetStream test harness: a server with JetStream on a store directory that survives
//! restarts, small helpers for raw `$JS.API` requests and error codes, and the stream and
//! consumer helpers the jetstream_* tests share.
//!
//! By default this runs the sluice binary; with `SLUICE_TEST_REFERENCE=/path/to/nats-server`
//! the same tests run against the reference server, which is how they were validated.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{AckPolicy, Info as ConsumerInfo, PullConsumer, pull};
use async_nats::jetstream::stream::{Config, State, Stream};
use async_nats::jetstream::{Context, Message};
use bytes::Bytes;
use futures::StreamExt;

/// A JetStream-enabled server process on a store directory it owns; killed on drop.
pub struct JsServer {
    child: Option<Child>,
    dir: tempfile::TempDir,
    extra: Vec<String>,
    /// `host:port` of the NATS listener; stays the same across restarts.
    pub addr: String,
    port: Option<u16>,
    logs: Option<mpsc::Receiver<String>>,
}

/// The reference server binary, when `SLUICE_TEST_REFERENCE` is set.
pub fn reference() -> Option<String> {
    std::env::var("SLUICE_TEST_REFERENCE")
        .ok()
        .filter(|s| !s.is_empty())
}

impl JsServer {
    /// Starts with JetStream on a fresh store directory.
    pub fn start() -> JsServer {
        Self::start_with(&[])
    }

    /// Starts with JetStream plus `args`, which are passed again on every restart.
    pub fn start_with(args: &[&str]) -> JsServer {
        let mut server = JsServer {
            child: None,
            dir: tempfile::tempdir().expect("temp store dir"),
            extra: args.iter().map(|s| s.to_string()).collect(),
            addr: String::new(),
            port: None,
            logs: None,
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let port = self.port.map_or("-1".to_string(), |p| p.to_string());
        let mut cmd = match reference() {
            Some(bin) => Command::new(bin),
            None => {
                let mut c = Command::new(super::binary());
                c.args(["--api_port", "-1"]);
                c
            }
        };
        cmd.args(["-a", "127.0.0.1", "-p", &port, "-js", "-sd"])
            .arg(self.dir.path())
            .args(&self.extra)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start server");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Keep draining even when nobody listens: a closed pipe would kill the server.
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        let mut addr = None;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match rx.recv_timeout(left) {
                Ok(l) => l,
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("server did not become ready; log:\n{}", seen.join("\n"));
                }
            };
            if let Some(i) = line.find("Listening for client connections on ") {
                let a = line[i + "Listening for client connections on ".len()..].trim();
                addr = Some(a.to_string());
            }
            let ready = line.contains("Server is ready");
            seen.push(line);
            if ready {
                break;
            }
        }
        let addr = addr.expect("client listen line before readiness");
        let port: u16 = addr
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port in listen line");
        self.port = Some(port);
        self.addr = addr;
        self.child = Some(child);
        self.logs = Some(rx);
    }

    /// `nats://host:port`; the same after restarts.
    pub fn url(&self) -> String {
        format!("nats://{}", self.addr)
    }

    /// The store directory (kept across restarts, removed on drop).
    pub fn store_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The process id of the running server.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Graceful restart: SIGTERM, wait for exit, start again on the same store and port.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// SIGTERM and wait for exit (at most 20 s, then SIGKILL).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if Instant::now() >= deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("server did not exit within 20 s of SIGTERM");
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    /// SIGKILL (no chance to flush anything) and start again on the same store and port.
    pub fn kill9_and_restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    /// SIGKILL and reap, without restarting.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts again after [`JsServer::stop`] or [`JsServer::kill9`].
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "still running");
        self.spawn();
    }
}

impl Drop for JsServer {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A client connection to `server`.
pub async fn connect(server: &JsServer) -> async_nats::Client {
    async_nats::connect(server.url()).await.expect("connect")
}

/// A client plus its JetStream context.
pub async fn js(server: &JsServer) -> (async_nats::Client, async_nats::jetstream::Context) {
    let nc = connect(server).await;
    let js = async_nats::jetstream::new(nc.clone());
    (nc, js)
}

/// Sends a raw JSON request to `subject` (e.g. `$JS.API.STREAM.INFO.X`) and parses the reply.
pub async fn api(
    nc: &async_nats::Client,
    subject: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let payload = if body.is_null() {
        Bytes::new()
    } else {
        Bytes::from(serde_json::to_vec(&body).unwrap())
    };
    let msg = tokio::time::timeout(
        Duration::from_secs(10),
        nc.request(subject.to_string(), payload),
    )
    .await
    .unwrap_or_else(|_| panic!("no reply to {subject} within 10 s"))
    .unwrap_or_else(|e| panic!("request {subject}: {e}"));
    serde_json::from_slice(&msg.payload)
        .unwrap_or_else(|e| panic!("reply to {subject} is not JSON ({e}): {:?}", msg.payload))
}

/// The `error.err_code` of a raw API reply (panics when the reply is not an error).
pub fn api_err(reply: &serde_json::Value) -> u64 {
    reply["error"]["err_code"]
        .as_u64()
        .unwrap_or_else(|| panic!("expected an error reply, got {reply}"))
}

/// The JetStream `err_code` carried by an async-nats error: found in its source chain, or
/// (for error kinds that hold the server error instead of chaining it) in its debug form.
pub fn err_code(err: &(dyn std::error::Error + 'static)) -> Option<u64> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(js) = e.downcast_ref::<async_nats::jetstream::Error>() {
            return Some(js.error_code().0);
        }
        cur = e.source();
    }
    let debug = format!("{err:?}");
    let at = debug.find("err_code: ErrorCode(")? + "err_code: ErrorCode(".len();
    let digits: String = debug[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

/// Publishes raw (core NATS request with headers) and returns the parsed PubAck JSON,
/// whether success or error, so exact error codes can be checked.
pub async fn publish_raw(
    nc: &async_nats::Client,
    subject: &str,
    headers: &[(&str, &str)],
    payload: &[u8],
) -> serde_json::Value {
    let mut map = async_nats::HeaderMap::new();
    for (k, v) in headers {
        map.insert(*k, *v);
    }
    let msg = tokio::time::timeout(
        Duration::from_secs(10),
        nc.request_with_headers(subject.to_string(), map, Bytes::copy_from_slice(payload)),
    )
    .await
    .expect("PubAck within 10 s")
    .expect("publish request");
    serde_json::from_slice(&msg.payload)
        .unwrap_or_else(|e| panic!("PubAck is not JSON ({e}): {:?}", msg.payload))
}

// ---------------------------------------------------------------------------------------
// Stream and consumer helpers shared by the jetstream_* tests.

/// A stream config with a name and subjects, everything else default.
pub fn cfg(name: &str, subjects: &[&str]) -> Config {
    Config {
        name: name.to_string(),
        subjects: subjects.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

/// Creates a stream from `config`.
pub async fn create(js: &Context, config: Config) -> Stream {
    js.create_stream(config).await.expect("create stream")
}

/// Creates a stream with default settings.
pub async fn stream(js: &Context, name: &str, subjects: &[&str]) -> Stream {
    create(js, cfg(name, subjects)).await
}

/// A stream's current state.
pub async fn state(js: &Context, name: &str) -> State {
    let stream = js.get_stream(name).await.expect("get stream");
    stream.get_info().await.expect("stream info").state
}

/// (messages, first_seq, last_seq) of a stream.
pub async fn counts(js: &Context, name: &str) -> (u64, u64, u64) {
    let s = state(js, name).await;
    (s.messages, s.first_sequence, s.last_sequence)
}

/// Publishes and waits for the PubAck; returns the stream sequence.
pub async fn publish(js: &Context, subject: &str, payload: &str) -> u64 {
    js.publish(subject.to_string(), payload.to_string().into())
        .await
        .expect("publish")
        .await
        .expect("PubAck")
        .sequence
}

/// Publishes `m1`..`mN` to `subject`.
pub async fn fill(js: &Context, subject: &str, n: usize) {
    for i in 1..=n {
        publish(js, subject, &format!("m{i}")).await;
    }
}

/// A durable pull consumer named `name` with `config`.
pub async fn durable(stream: &Stream, name: &str, config: pull::Config) -> PullConsumer {
    stream
        .create_consumer(pull::Config {
            durable_name: Some(name.to_string()),
            ..config
        })
        .await
        .expect("create consumer")
}

/// A pull config with explicit acks.
pub fn explicit() -> pull::Config {
    pull::Config {
        ack_policy: AckPolicy::Explicit,
        ..Default::default()
    }
}

/// Whatever is available right now (no_wait pull), at most `n`; stops at a status error.
pub async fn fetch(consumer: &PullConsumer, n: usize) -> Vec<Message> {
    let batch = consumer.fetch().max_messages(n).messages().await.unwrap();
    collect(batch).await
}

/// Waits up to `expires` for `n` messages (a pull request the server holds).
pub async fn wait_for(consumer: &PullConsumer, n: usize, expires: Duration) -> Vec<Message> {
    let batch = consumer
        .batch()
        .max_messages(n)
        .expires(expires)
        .messages()
        .await
        .unwrap();
    collect(batch).await
}

async fn collect(mut batch: async_nats::jetstream::consumer::pull::Batch) -> Vec<Message> {
    let mut out = Vec::new();
    while let Some(Ok(m)) = batch.next().await {
        out.push(m);
    }
    out
}

/// The stream sequences of `msgs`.
pub fn seqs(msgs: &[Message]) -> Vec<u64> {
    msgs.iter()
        .map(|m| m.info().unwrap().stream_sequence)
        .collect()
}

/// A consumer's info.
pub async fn info(consumer: &PullConsumer) -> ConsumerInfo {
    consumer.get_info().await.expect("consumer info")
}

/// (delivered.consumer_seq, delivered.stream_seq, ack_floor.consumer_seq,
///  ack_floor.stream_seq, num_ack_pending, num_pending, num_redelivered)
pub fn numbers(i: &ConsumerInfo) -> (u64, u64, u64, u64, usize, u64, usize) {
    (
        i.delivered.consumer_sequence,
        i.delivered.stream_sequence,
        i.ack_floor.consumer_sequence,
        i.ack_floor.stream_sequence,
        i.num_ack_pending,
        i.num_pending,
        i.num_redelivered,
    )
}
