//! The sluice process under soak: started by the soak itself on loopback, with every front-end
//! a soak load needs (NATS, the HTTP API with `/nats` WebSocket and SSE, monitoring) and
//! JetStream on a store in a temp dir. Its stderr is drained for the whole run, so the server
//! never blocks on a full pipe, and warnings and errors are counted and sampled for the report.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Log lines kept as examples of each kind (warnings, errors) for the report.
const KEPT_LINES: usize = 5;

/// Warnings and errors the server logged after it was ready.
#[derive(Default)]
pub struct ServerLog {
    /// Lines logged at WARN.
    pub warnings: u64,
    /// Lines logged at ERROR (or a panic message).
    pub errors: u64,
    /// The first few of each, for the report.
    pub samples: Vec<String>,
}

/// A running sluice; killed on drop.
pub struct Server {
    child: Mutex<Child>,
    /// Its process id, for `/proc/PID`.
    pub pid: u32,
    /// `nats://127.0.0.1:port`.
    pub nats_url: String,
    /// `http://127.0.0.1:port` of the HTTP API (publish, request, SSE, `/nats`).
    pub api_url: String,
    /// `ws://127.0.0.1:port/nats`.
    pub ws_url: String,
    /// `http://127.0.0.1:port` of the monitoring port.
    pub monitor_url: String,
    /// What it logged after start-up.
    pub log: Arc<Mutex<ServerLog>>,
    /// The JetStream store directory (inside `_dir`).
    pub store: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts `bin` on 127.0.0.1 with random ports (`-p -1 --api_port -1 -m -1`) and
    /// JetStream in a fresh temp dir, and waits for "Server is ready". Every address it
    /// reports must be a loopback one: the soak never opens anything beyond this machine.
    pub fn start(bin: &Path) -> Result<Server, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let store = dir.path().join("store");
        let mut child = Command::new(bin)
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                "-1",
                "--api_port",
                "-1",
                "-m",
                "-1",
            ])
            .arg("-js")
            .arg("-sd")
            .arg(&store)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let Some(stderr) = child.stderr.take() else {
            let _ = child.kill();
            return Err("no stderr pipe".into());
        };
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let log = Arc::new(Mutex::new(ServerLog::default()));
        let ready = Arc::new(std::sync::atomic::AtomicBool::new(false));
        {
            let (log, ready) = (log.clone(), ready.clone());
            std::thread::spawn(move || drain(BufReader::new(stderr), tx, &log, &ready));
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        let (mut nats, mut api, mut monitor) = (None, None, None);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = rx.recv_timeout(left) else {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{} did not become ready in 30 s", bin.display()));
            };
            if let Some(a) = after(&line, "Listening for client connections on ") {
                nats = Some(a);
            }
            if let Some(a) = after(&line, "Listening for API requests on ") {
                api = Some(a);
            }
            if let Some(a) = after(&line, "Starting http monitor on ") {
                monitor = Some(a);
            }
            if line.contains("Server is ready") {
                break;
            }
        }
        ready.store(true, std::sync::atomic::Ordering::Release);
        let pid = child.id();
        let need = |what: &str, a: Option<SocketAddr>| {
            a.ok_or_else(|| format!("sluice printed no {what} address"))
        };
        let checked = (|| {
            let addrs = [
                need("client", nats)?,
                need("API", api)?,
                need("monitor", monitor)?,
            ];
            if let Some(a) = addrs.iter().find(|a| !a.ip().is_loopback()) {
                return Err(format!(
                    "{a} is not a loopback address; the soak stays on loopback"
                ));
            }
            Ok(addrs)
        })();
        let [nats, api, monitor] = match checked {
            Ok(a) => a,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        };
        Ok(Server {
            child: Mutex::new(child),
            pid,
            nats_url: format!("nats://{nats}"),
            api_url: format!("http://{api}"),
            ws_url: format!("ws://{api}/nats"),
            monitor_url: format!("http://{monitor}"),
            log,
            store,
            _dir: dir,
        })
    }

    /// The exit status once the process has ended, `None` while it runs.
    pub fn exited(&self) -> Option<ExitStatus> {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        child.try_wait().ok().flatten()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(|e| e.into_inner());
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// The socket address after `marker` in a log line.
fn after(line: &str, marker: &str) -> Option<SocketAddr> {
    let i = line.find(marker)?;
    line[i + marker.len()..].trim().parse().ok()
}

/// Reads the server's stderr to its end: start-up lines go to `tx` until it is ready, then
/// warnings and errors are counted in `log`.
fn drain(
    stderr: impl BufRead,
    tx: std::sync::mpsc::Sender<String>,
    log: &Mutex<ServerLog>,
    ready: &std::sync::atomic::AtomicBool,
) {
    for line in stderr.lines().map_while(Result::ok) {
        if !ready.load(std::sync::atomic::Ordering::Acquire) {
            let _ = tx.send(line.clone());
        }
        let error = line.contains(" ERROR ") || line.contains("panicked");
        let warning = line.contains(" WARN ");
        if !(error || warning) {
            continue;
        }
        let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
        if error {
            log.errors += 1;
        } else {
            log.warnings += 1;
        }
        if log.samples.len() < KEPT_LINES * 2 {
            log.samples.push(line);
        }
    }
}
