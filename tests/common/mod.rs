//! Shared helpers for integration tests: start the real `sluice` binary on free loopback
//! ports, learn the ports from its log lines, and kill it when the test ends.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Sends `signal` (a `kill` name: `TERM`, `USR2`, `HUP`) to process `pid`.
pub fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid} failed");
}

/// A running sluice process; killed on drop.
pub struct Server {
    child: Child,
    /// `host:port` of the NATS listener.
    pub addr: String,
    /// `host:port` of the monitor, when started with `-m`.
    pub monitor: Option<String>,
    /// `ws://host:port` of the dedicated WebSocket listener, when configured.
    pub websocket: Option<String>,
    /// `host:port` of the gateway API (on a free port unless a test passes `--api_port`).
    pub api: Option<String>,
    /// Log lines after readiness, for tests that check logging.
    pub logs: mpsc::Receiver<String>,
    _dir: tempfile::TempDir,
}

/// The binary cargo built for this test run.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sluice"))
}

impl Server {
    /// Starts sluice with `-a 127.0.0.1 -p -1 --api_port -1` plus `args`.
    pub fn start(args: &[&str]) -> Server {
        Self::start_with_config(None, args)
    }

    /// Starts sluice with a TOML config file written from `toml`.
    pub fn with_config(toml: &str, args: &[&str]) -> Server {
        Self::start_with_config(Some(toml), args)
    }

    fn start_with_config(toml: Option<&str>, args: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cmd = Command::new(binary());
        // A free API port too: the default 8080 would collide between tests run in parallel.
        cmd.args(["-a", "127.0.0.1", "-p", "-1", "--api_port", "-1"]);
        // A store dir of its own: the default (<temp>/sluice) is shared by every server on
        // the machine, and with it the plugins uploaded there.
        let own_store = !args
            .iter()
            .any(|a| matches!(*a, "-sd" | "--sd" | "-store_dir" | "--store_dir"));
        if own_store {
            cmd.arg("-sd").arg(dir.path().join("store"));
        }
        if let Some(toml) = toml {
            let path = dir.path().join("sluice.toml");
            std::fs::write(&path, toml).expect("write config");
            cmd.arg("-c").arg(path);
        }
        cmd.args(args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start sluice");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let (mut addr, mut monitor, mut websocket, mut api) = (None, None, None, None);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match rx.recv_timeout(left) {
                Ok(l) => l,
                Err(_) => {
                    let _ = child.kill();
                    panic!("sluice did not become ready (args {args:?})");
                }
            };
            if let Some(a) = after(&line, "Listening for client connections on ") {
                addr = Some(a);
            }
            if let Some(a) = after(&line, "Starting http monitor on ") {
                monitor = Some(a);
            }
            if let Some(a) = after(&line, "Listening for websocket clients on ") {
                websocket = Some(a);
            }
            if let Some(a) = after(&line, "Listening for API requests on ") {
                api = Some(a);
            }
            if line.contains("Server is ready") {
                break;
            }
        }
        Server {
            child,
            addr: addr.expect("client listen line before readiness"),
            monitor,
            websocket,
            api,
            logs: rx,
            _dir: dir,
        }
    }

    /// `nats://host:port`.
    pub fn url(&self) -> String {
        format!("nats://{}", self.addr)
    }

    /// `http://host:port` of the monitor.
    pub fn monitor_url(&self) -> String {
        format!("http://{}", self.monitor.as_ref().expect("started with -m"))
    }

    /// `http://host:port` of the gateway API.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.api.as_ref().expect("API enabled"))
    }

    /// The process id (for signals).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The config file a [`Server::with_config`] server was started with (tests rewrite it,
    /// then send SIGHUP).
    pub fn config_path(&self) -> PathBuf {
        self._dir.path().join("sluice.toml")
    }

    /// Sends `signal` (a `kill` name: `TERM`, `USR2`, `HUP`) to the server.
    pub fn signal(&self, signal: &str) {
        send_signal(self.pid(), signal);
    }

    /// Sends SIGHUP and returns the log lines up to the reload's outcome: the last is
    /// `Reloaded server configuration` or `Failed to reload server configuration: ...`.
    pub fn reload(&self) -> Vec<String> {
        self.signal("HUP");
        self.wait_log(|l| {
            l.contains("Reloaded server configuration")
                || l.contains("Failed to reload server configuration")
        })
    }

    /// Reads log lines until one satisfies `done` (10 s at most); returns them all.
    pub fn wait_log(&self, done: impl Fn(&str) -> bool) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.logs.recv_timeout(left) {
                Ok(line) => {
                    let last = done(&line);
                    lines.push(line);
                    if last {
                        return lines;
                    }
                }
                Err(_) => panic!("no such log line; saw {lines:#?}"),
            }
        }
    }

    /// Waits for the process to exit and returns its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn after(line: &str, marker: &str) -> Option<String> {
    line.find(marker)
        .map(|i| line[i + marker.len()..].trim().to_string())
}

/// Polls `check` until it returns true or `timeout` passes; instead of sleeping in tests.
pub async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A raw protocol connection for byte-exact tests.
pub struct Raw {
    stream: tokio::net::TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    /// Connects and reads the INFO line.
    pub async fn connect(addr: &str) -> (Raw, String) {
        let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let mut raw = Raw {
            stream,
            buf: Vec::new(),
        };
        let info = raw.line().await.expect("INFO line");
        assert!(info.starts_with("INFO {"), "first line was {info:?}");
        (raw, info)
    }

    /// Writes raw bytes.
    pub async fn send(&mut self, data: &[u8]) {
        use tokio::io::AsyncWriteExt;
        self.stream.write_all(data).await.expect("write");
    }

    /// Reads one CRLF-terminated line (without CRLF); None on EOF or after 5 s.
    pub async fn line(&mut self) -> Option<String> {
        use tokio::io::AsyncReadExt;
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..i]).into_owned();
                self.buf.drain(..i + 2);
                return Some(line);
            }
            let mut tmp = [0u8; 4096];
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.stream.read(&mut tmp)).await {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return None,
                Ok(Ok(n)) => self.buf.extend_from_slice(&tmp[..n]),
            }
        }
    }

    /// Reads exactly `n` bytes.
    pub async fn bytes(&mut self, n: usize) -> Vec<u8> {
        use tokio::io::AsyncReadExt;
        while self.buf.len() < n {
            let mut tmp = [0u8; 4096];
            let k = tokio::time::timeout(Duration::from_secs(5), self.stream.read(&mut tmp))
                .await
                .expect("read timed out")
                .expect("read");
            assert!(k > 0, "EOF while reading {n} bytes");
            self.buf.extend_from_slice(&tmp[..k]);
        }
        self.buf.drain(..n).collect()
    }

    /// Asserts the next line is `-ERR '<text>'` and the server then closes the connection,
    /// as it does after every fatal error (`Authorization Violation`, ...).
    pub async fn expect_fatal(&mut self, text: &str) {
        let want = format!("-ERR '{text}'");
        assert_eq!(self.line().await.as_deref(), Some(want.as_str()));
        assert!(self.closed().await, "closed after {want}");
    }

    /// True once the server closed the connection (reads until EOF, 5 s at most).
    pub async fn closed(&mut self) -> bool {
        while self.line().await.is_some() {}
        use tokio::io::AsyncReadExt;
        let mut tmp = [0u8; 64];
        matches!(
            tokio::time::timeout(Duration::from_secs(5), self.stream.read(&mut tmp)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }
}

/// Returns once the server has processed everything `nc` sent before the call.
///
/// async-nats' `flush()` only drains the client's own buffer; a request nobody answers comes
/// back (503 no responders) only after the server has handled every earlier op of this
/// connection, so tests use this before another client relies on a SUB being in place.
pub async fn sync(nc: &async_nats::Client) {
    let err = nc
        .request("_sluice_test.sync", bytes::Bytes::new())
        .await
        .expect_err("nobody answers the sync subject");
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
}

impl Server {
    /// GETs `path` (such as `/connz?auth=1`) from the monitor (needs `-m -1`) as JSON.
    pub async fn monitor_json(&self, path: &str) -> serde_json::Value {
        let url = format!("{}{path}", self.monitor_url());
        let resp = reqwest::get(&url).await.expect("monitor answers");
        resp.json().await.expect("monitor JSON")
    }

    /// Waits until the server holds at least `n` subscriptions matching `subject`
    /// (needs `-m -1`); for clients whose permissions rule out [`sync`].
    pub async fn wait_for_subs(&self, subject: &str, n: u64) {
        let url = format!("{}/subsz?subs=1&test={subject}", self.monitor_url());
        let ok = eventually(Duration::from_secs(10), || async {
            let Ok(resp) = reqwest::get(&url).await else {
                return false;
            };
            let v: serde_json::Value = resp.json().await.unwrap_or_default();
            v["total"].as_u64().unwrap_or(0) >= n
        })
        .await;
        assert!(ok, "no {n} subscription(s) on {subject}");
    }
}
pub mod cluster;
pub mod js;
pub mod plugins;
pub mod tls;
pub mod ws;
