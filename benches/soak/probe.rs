//! What the soak measures of the server process while it is quiet: resident memory and its
//! peak (`/proc/PID/status`), open descriptors by kind (`/proc/PID/fd`), threads, and what
//! `/varz` reports (client connections, subscriptions), plus the store's size on disk.
//!
//! Descriptors are classified by their link target so a failure says what leaked: sockets
//! (`socket:[inode]`), files, files deleted while still open (`/path (deleted)`), and the
//! rest (pipes, eventfd, epoll, /dev).

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

/// One quiet-time sample of the server.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Sample {
    /// What the sample was taken after (`baseline`, `phase 1`, ...).
    pub label: String,
    /// `VmRSS`, bytes.
    pub rss: u64,
    /// `VmHWM` (peak RSS since start), bytes.
    pub hwm: u64,
    /// OS threads.
    pub threads: u64,
    /// Open descriptors, all kinds.
    pub fds: u64,
    /// Of which sockets (listeners and connections).
    pub sockets: u64,
    /// Of which regular files (store segments and the like).
    pub files: u64,
    /// Of which files already deleted from disk.
    pub deleted: u64,
    /// `/varz` `connections` (NATS over TCP and WebSocket).
    pub connections: u64,
    /// `/varz` `subscriptions`.
    pub subscriptions: u64,
    /// `/varz` `total_connections` since start.
    pub total_connections: u64,
    /// Bytes under the store directory.
    pub store_bytes: u64,
    /// Seconds waited for the server to settle before this sample.
    pub settle_secs: f64,
}

/// Descriptor counts by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fds {
    pub total: u64,
    pub sockets: u64,
    pub files: u64,
    pub deleted: u64,
}

/// `field` (e.g. `VmRSS`) of `/proc/PID/status`, in bytes (or as a count for `Threads`).
fn status_field(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    let value = line[field.len()..].trim_start_matches(':').trim();
    match value.strip_suffix("kB") {
        Some(kb) => kb.trim().parse::<u64>().ok().map(|k| k * 1024),
        None => value.parse().ok(),
    }
}

/// Open descriptors of `pid`, by kind; `None` when the process is gone.
pub fn fds(pid: u32) -> Option<Fds> {
    let dir = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    let mut out = Fds::default();
    for entry in dir.flatten() {
        // A descriptor closed between listing and reading the link is simply not counted.
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        let target = target.to_string_lossy();
        out.total += 1;
        if target.starts_with("socket:") {
            out.sockets += 1;
        } else if target.starts_with('/') && !target.starts_with("/dev/") {
            if target.ends_with(" (deleted)") {
                out.deleted += 1;
            } else {
                out.files += 1;
            }
        }
    }
    Some(out)
}

/// A monitoring client that keeps no idle connection, so the soak's own polling never
/// shows up as an open socket in the server's descriptor count.
pub fn monitor_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap_or_default()
}

/// `/varz`: (connections, subscriptions, total_connections).
pub async fn varz(http: &reqwest::Client, monitor: &str) -> Option<(u64, u64, u64)> {
    let v: serde_json::Value = http
        .get(format!("{monitor}/varz"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    Some((
        v["connections"].as_u64()?,
        v["subscriptions"].as_u64()?,
        v["total_connections"].as_u64()?,
    ))
}

/// Bytes of the regular files under `dir`.
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// What "settled" means for [`settle`].
pub struct Target {
    /// Descriptors at or below this count.
    pub max_fds: u64,
    /// Subscriptions at or below this count.
    pub max_subscriptions: u64,
}

/// Waits until the server is quiet, then samples it. Quiet means `/varz` reports no client
/// connection and, with a `target`, descriptors and subscriptions are back within it;
/// without one (the baseline), that the descriptor count has not changed for two seconds.
/// Gives up after `timeout` and samples what is there (the checks then fail).
pub async fn settle(
    pid: u32,
    monitor: &str,
    store: &Path,
    label: &str,
    target: Option<&Target>,
    timeout: Duration,
) -> Option<Sample> {
    let http = monitor_client();
    let start = Instant::now();
    let mut stable_since = (Instant::now(), None::<u64>);
    loop {
        // Descriptors first: the previous poll's HTTP connection is closed by now.
        let fd = fds(pid)?;
        let (connections, subscriptions, _) = varz(&http, monitor).await.unwrap_or((1, 0, 0));
        let quiet = connections == 0
            && match target {
                Some(t) => fd.total <= t.max_fds && subscriptions <= t.max_subscriptions,
                None => {
                    if stable_since.1 != Some(fd.total) {
                        stable_since = (Instant::now(), Some(fd.total));
                    }
                    stable_since.0.elapsed() >= Duration::from_secs(2)
                }
            };
        if quiet || start.elapsed() >= timeout {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let settle_secs = start.elapsed().as_secs_f64();
    let (connections, subscriptions, total_connections) =
        varz(&http, monitor).await.unwrap_or_default();
    drop(http);
    // The varz request's own connection is closed by now on our side; give the server a
    // moment to see the FIN before its descriptors are counted.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fd = fds(pid)?;
    Some(Sample {
        label: label.to_string(),
        rss: status_field(pid, "VmRSS")?,
        hwm: status_field(pid, "VmHWM")?,
        threads: status_field(pid, "Threads")?,
        fds: fd.total,
        sockets: fd.sockets,
        files: fd.files,
        deleted: fd.deleted,
        connections,
        subscriptions,
        total_connections,
        store_bytes: dir_bytes(store),
        settle_secs,
    })
}

/// Current RSS of `pid` in bytes (0 once it is gone), for the progress line.
pub fn rss(pid: u32) -> u64 {
    status_field(pid, "VmRSS").unwrap_or(0)
}
