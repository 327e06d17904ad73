//! JetStream: streams that capture subjects and persist messages, and the consumers that
//! read them back, served over the `$JS.API` as nats-server serves it.
//!
//! - [`store`]: the message store trait with memory and crash-safe file implementations.
//! - [`stream`]: capture, publish rules and acks, retention, the stream's consumers.
//! - [`consumer`]: delivery, acks and redelivery, pull requests and push delivery.
//! - [`api`]: the `$JS.API` requests, with nats-server's JSON shapes and error codes.
//! - [`internal`] and [`headers`]: how JetStream talks through the router, and the headers
//!   it reads and writes.

pub mod api;
pub mod consumer;
pub mod headers;
pub mod internal;
pub mod monitor;
pub mod store;
pub mod stream;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use parking_lot::{Mutex, RwLock};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::core::router::Subscription;
use crate::server::Shared;
use stream::{Stream, StreamMeta};

/// The running JetStream subsystem.
pub struct JetStream {
    pub(crate) shared: Arc<Shared>,
    /// `<store_dir>/jetstream/streams`.
    root: PathBuf,
    streams: RwLock<BTreeMap<String, Arc<Stream>>>,
    /// `$JS.API` requests served.
    pub api_total: AtomicU64,
    /// `$JS.API` requests answered with an error.
    pub api_errors: AtomicU64,
    api_sub: Mutex<Option<Arc<Subscription>>>,
}

impl JetStream {
    /// Recovers the streams under the store dir and starts answering `$JS.API`.
    pub fn start(shared: Arc<Shared>) -> anyhow::Result<Arc<JetStream>> {
        let root = shared
            .config()
            .jetstream
            .store_dir
            .join("jetstream")
            .join("streams");
        std::fs::create_dir_all(&root)
            .with_context(|| format!("cannot create the store dir {}", root.display()))?;
        let js = Arc::new(JetStream {
            shared: shared.clone(),
            root: root.clone(),
            streams: RwLock::new(BTreeMap::new()),
            api_total: AtomicU64::new(0),
            api_errors: AtomicU64::new(0),
            api_sub: Mutex::new(None),
        });
        js.recover()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let sink = internal::InboxSink::new((), tx);
        let sub = internal::subscribe(&shared.router, "$JS.API.>", sink)
            .map_err(|e| anyhow::anyhow!("cannot subscribe to $JS.API.>: {e}"))?;
        *js.api_sub.lock() = Some(sub);
        tokio::spawn(api::run(js.clone(), rx));
        info!("Starting JetStream");
        info!(
            "    Store directory: \"{}\"",
            shared.config().jetstream.store_dir.display()
        );
        Ok(js)
    }

    fn recover(&self) -> anyhow::Result<()> {
        let mut recovered = 0;
        for entry in std::fs::read_dir(&self.root)?.flatten() {
            let meta_path = entry.path().join("meta.json");
            let Ok(bytes) = std::fs::read(&meta_path) else {
                continue;
            };
            let meta: StreamMeta = match serde_json::from_slice(&bytes) {
                Ok(m) => m,
                Err(e) => {
                    warn!(
                        "skipping stream with unreadable {}: {e}",
                        meta_path.display()
                    );
                    continue;
                }
            };
            let name = meta.config.name.clone();
            match Stream::open(self.shared.clone(), &self.root, meta) {
                Ok(s) => {
                    self.streams.write().insert(name, s);
                    recovered += 1;
                }
                Err(e) => warn!(stream = %name, "cannot recover stream: {}", e.description),
            }
        }
        if recovered > 0 {
            info!("  Restored {recovered} streams");
        }
        Ok(())
    }

    /// The stream called `name`.
    pub fn stream(&self, name: &str) -> Option<Arc<Stream>> {
        self.streams.read().get(name).cloned()
    }

    /// All streams, by name.
    pub fn streams(&self) -> Vec<Arc<Stream>> {
        self.streams.read().values().cloned().collect()
    }

    /// The stream whose subjects capture `subject`, if any (HTTP publish reports it).
    pub fn stream_for_subject(&self, subject: &[u8]) -> Option<Arc<Stream>> {
        self.streams().into_iter().find(|s| {
            let c = s.config();
            if c.subjects.is_empty() {
                return s.name.as_bytes() == subject;
            }
            c.subjects
                .iter()
                .any(|p| crate::core::subject::subject_matches(p.as_bytes(), subject))
        })
    }

    /// Where file streams live.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Syncs and stops every stream (server shutdown).
    pub fn shutdown(&self) {
        if let Some(sub) = self.api_sub.lock().take() {
            self.shared.router.unsubscribe(&sub);
        }
        for s in self.streams() {
            s.stop(false);
        }
    }

    fn insert(&self, stream: Arc<Stream>) {
        self.streams.write().insert(stream.name.clone(), stream);
    }

    fn remove(&self, name: &str) -> Option<Arc<Stream>> {
        self.streams.write().remove(name)
    }

    fn count_api(&self, error: bool) {
        self.api_total.fetch_add(1, Ordering::Relaxed);
        if error {
            self.api_errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Wall-clock time in unix nanoseconds, the unit JetStream timestamps use.
pub fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// Replaces a small file so a crash leaves the old or the new contents, never a mix:
/// write a temporary file, then rename it over the target.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
    }
    std::fs::rename(&tmp, path)
}
