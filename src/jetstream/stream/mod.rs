//! Streams: capture subjects into a store, ack publishers, enforce the stream's rules
//! (`ingest.rs`) and own the consumers that read them.
//!
//! A stream subscribes to its subjects through the router like nats-server's internal
//! clients do, so captured messages reach core subscribers in the same routing pass. A file
//! stream lives in `<store_dir>/jetstream/streams/<name>/`: `meta.json` (config), `msgs/`
//! (the file store) and `obs/<consumer>/` (consumer config and state).

mod dedupe;
mod ingest;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::core::message::Message;
use crate::core::router::Subscription;
use crate::jetstream::api::consumer_types::ConsumerConfig;
use crate::jetstream::api::errors::ApiError;
use crate::jetstream::api::types::{DiscardPolicy, RetentionPolicy, StorageType, StreamConfig};
use crate::jetstream::consumer::Consumer;
use crate::jetstream::consumer::state::Tracker;
use crate::jetstream::internal::{self, InboxSink, Outbox};
use crate::jetstream::store::{
    Discard, Durability, FileStore, MemoryStore, MessageStore, StoreLimits, StoredMessage,
};
use crate::jetstream::{now_nanos, write_atomic};
use crate::server::Shared;
use dedupe::Dedupe;

/// What a stream persists about itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamMeta {
    /// The normalized configuration.
    pub config: StreamConfig,
    /// Creation time, unix nanos.
    pub created: i64,
}

/// What a consumer persists about itself (its progress is in `state.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConsumerMeta {
    /// The normalized configuration.
    pub config: ConsumerConfig,
    /// Creation time, unix nanos.
    pub created: i64,
}

/// One stream; see the module docs.
pub struct Stream {
    /// The stream name.
    pub name: String,
    /// Where its messages are.
    pub store: Arc<dyn MessageStore>,
    shared: Arc<Shared>,
    /// Swapped whole on update, so the write path reads it with one lock and no copy.
    config: Mutex<Arc<StreamConfig>>,
    created: i64,
    consumers: Mutex<BTreeMap<String, Arc<Consumer>>>,
    subs: Mutex<Vec<Arc<Subscription>>>,
    ingest: mpsc::UnboundedSender<((), Message)>,
    dedupe: Mutex<Dedupe>,
    /// Messages with a `Nats-TTL`: `(expires at, sequence)`.
    ttls: Mutex<BTreeSet<(i64, u64)>>,
    /// The stream's directory (file streams).
    dir: Option<PathBuf>,
    sync_always: bool,
    cancel: CancellationToken,
    /// The last sequence stored, for readers that follow the stream (SSE).
    appended: tokio::sync::watch::Sender<u64>,
}

/// Store limits from a stream config.
pub fn store_limits(c: &StreamConfig) -> StoreLimits {
    StoreLimits {
        max_msgs: c.max_msgs,
        max_bytes: c.max_bytes,
        max_age: Duration::from_nanos(c.max_age.max(0) as u64),
        max_msgs_per_subject: c.max_msgs_per_subject,
        max_msg_size: c.max_msg_size.clamp(-1, i64::from(i32::MAX)) as i32,
        discard: match c.discard {
            DiscardPolicy::Old => Discard::Old,
            DiscardPolicy::New => Discard::New,
        },
        discard_new_per_subject: c.discard_new_per_subject,
    }
}

impl Stream {
    /// Opens (or creates) the stream described by `meta` under `root`, subscribes to its
    /// subjects and restores its consumers.
    pub fn open(
        shared: Arc<Shared>,
        root: &Path,
        meta: StreamMeta,
    ) -> Result<Arc<Stream>, ApiError> {
        let config = &meta.config;
        let limits = store_limits(config);
        let js = &shared.config().jetstream;
        let (store, dir): (Arc<dyn MessageStore>, Option<PathBuf>) = match config.storage {
            StorageType::Memory => (Arc::new(MemoryStore::new(limits)), None),
            StorageType::File => {
                let dir = root.join(&config.name);
                std::fs::create_dir_all(&dir)
                    .map_err(|e| ApiError::stream_store_failed(e.to_string()))?;
                write_atomic(&dir.join("meta.json"), &json(&meta))
                    .map_err(|e| ApiError::stream_store_failed(e.to_string()))?;
                // The stream syncs per batch itself when `always`, so concurrent publishers
                // share one fsync; the store only runs the background interval.
                let interval = js.sync_interval.unwrap_or(Duration::from_secs(120));
                let store =
                    FileStore::open(&dir.join("msgs"), limits, Durability::Interval(interval))
                        .map_err(|e| ApiError::stream_store_failed(e.to_string()))?;
                let report = store.recovery_report();
                if report.truncated_bytes > 0
                    || !report.corrupt.is_empty()
                    || !report.ignored_segments.is_empty()
                {
                    warn!(stream = %config.name, "recovered with damage: {report:?}");
                }
                (Arc::new(store), Some(dir))
            }
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let stream = Arc::new(Stream {
            name: config.name.clone(),
            store,
            shared: shared.clone(),
            dedupe: Mutex::new(Dedupe::new(config.duplicate_window)),
            ttls: Mutex::new(BTreeSet::new()),
            config: Mutex::new(Arc::new(meta.config.clone())),
            created: meta.created,
            consumers: Mutex::new(BTreeMap::new()),
            subs: Mutex::new(Vec::new()),
            ingest: tx,
            dir,
            sync_always: js.sync_interval.is_none(),
            cancel: CancellationToken::new(),
            appended: tokio::sync::watch::Sender::new(0),
        });
        stream.rebuild_dedupe();
        stream.rebuild_ttls();
        stream.subscribe_subjects()?;
        stream.restore_consumers();
        let task = stream.clone();
        tokio::spawn(ingest::run(task, rx, Outbox::new(shared)));
        let timer = stream.clone();
        tokio::spawn(async move { timer.expiry_timer().await });
        Ok(stream)
    }

    /// The configuration.
    pub fn config(&self) -> Arc<StreamConfig> {
        self.config.lock().clone()
    }

    /// Creation time, unix nanos.
    pub fn created(&self) -> i64 {
        self.created
    }

    /// Applies an update already checked by the API (only mutable fields changed).
    pub fn update(&self, config: StreamConfig) -> Result<(), ApiError> {
        self.store
            .set_limits(store_limits(&config))
            .map_err(|e| ApiError::stream_store_failed(e.to_string()))?;
        self.dedupe.lock().set_window(config.duplicate_window);
        let meta = StreamMeta {
            config: config.clone(),
            created: self.created,
        };
        *self.config.lock() = Arc::new(config);
        if let Some(dir) = &self.dir {
            write_atomic(&dir.join("meta.json"), &json(&meta))
                .map_err(|e| ApiError::stream_store_failed(e.to_string()))?;
        }
        for sub in self.subs.lock().drain(..) {
            self.shared.router.unsubscribe(&sub);
        }
        self.subscribe_subjects()?;
        self.wake_consumers();
        Ok(())
    }

    fn subscribe_subjects(&self) -> Result<(), ApiError> {
        let mut subjects = self.config.lock().subjects.clone();
        if subjects.is_empty() {
            subjects.push(self.name.clone());
        }
        let mut subs = self.subs.lock();
        for subject in subjects {
            let sink = InboxSink::new((), self.ingest.clone());
            let sub = internal::subscribe(&self.shared.router, &subject, sink).map_err(|_| {
                ApiError::stream_invalid_config(format!("invalid subject {subject:?}"))
            })?;
            subs.push(sub);
        }
        Ok(())
    }

    /// Stops the stream; with `delete` also removes its files.
    pub fn stop(&self, delete: bool) {
        self.cancel.cancel();
        for sub in self.subs.lock().drain(..) {
            self.shared.router.unsubscribe(&sub);
        }
        for (_, c) in std::mem::take(&mut *self.consumers.lock()) {
            c.stop();
        }
        if let Err(e) = self.store.sync() {
            warn!(stream = %self.name, "final sync failed: {e}");
        }
        if delete
            && let Some(dir) = &self.dir
            && let Err(e) = std::fs::remove_dir_all(dir)
        {
            warn!(stream = %self.name, "cannot remove {}: {e}", dir.display());
        }
    }

    /// The consumers, by name.
    pub fn consumers(&self) -> Vec<Arc<Consumer>> {
        self.consumers.lock().values().cloned().collect()
    }

    /// One consumer.
    pub fn consumer(&self, name: &str) -> Option<Arc<Consumer>> {
        self.consumers.lock().get(name).cloned()
    }

    /// Number of consumers.
    pub fn consumer_count(&self) -> usize {
        self.consumers.lock().len()
    }

    /// Starts a new consumer (the API has validated the config and the name).
    pub fn add_consumer(
        self: &Arc<Self>,
        name: String,
        config: ConsumerConfig,
        tracker: Tracker,
    ) -> Result<Arc<Consumer>, ApiError> {
        let created = now_nanos();
        // Ephemeral and mem_storage consumers (ordered consumers, KV watchers) live in
        // memory only, as in nats-server: nothing to write on every delivery.
        let persistent = !config.durable_name.is_empty() && !config.mem_storage;
        let state_path = self.consumer_dir(&name).filter(|_| persistent);
        if let Some(dir) = &state_path {
            let meta = ConsumerMeta {
                config: config.clone(),
                created,
            };
            std::fs::create_dir_all(dir)
                .map_err(|e| ApiError::stream_store_failed(e.to_string()))?;
            write_atomic(&dir.join("meta.json"), &json(&meta))
                .map_err(|e| ApiError::stream_store_failed(e.to_string()))?;
        }
        let c = Consumer::start(
            self.shared.clone(),
            self,
            name.clone(),
            config,
            created,
            tracker,
            state_path.map(|d| d.join("state.json")),
        );
        self.consumers.lock().insert(name, c.clone());
        c.wake();
        Ok(c)
    }

    /// Persists an updated consumer config.
    pub fn save_consumer_config(&self, c: &Consumer) {
        if let Some(dir) = self.consumer_dir(&c.name) {
            let meta = ConsumerMeta {
                config: c.config(),
                created: c.created,
            };
            if let Err(e) = write_atomic(&dir.join("meta.json"), &json(&meta)) {
                warn!(consumer = %c.name, "cannot persist consumer config: {e}");
            }
        }
    }

    /// Deletes a consumer; `false` if there was none.
    pub fn remove_consumer(&self, name: &str) -> bool {
        let Some(c) = self.consumers.lock().remove(name) else {
            return false;
        };
        c.stop();
        if let Some(dir) = self.consumer_dir(name) {
            let _ = std::fs::remove_dir_all(dir);
        }
        true
    }

    /// Called by a consumer whose `inactive_threshold` passed.
    pub fn remove_consumer_inactive(&self, name: &str) {
        if self.remove_consumer(name) {
            info!(stream = %self.name, consumer = %name, "consumer removed after inactivity");
        }
    }

    /// Where a consumer of a file stream persists (`obs/<name>`); memory streams keep
    /// nothing on disk.
    fn consumer_dir(&self, name: &str) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join("obs").join(name))
    }

    fn restore_consumers(self: &Arc<Self>) {
        let Some(dir) = &self.dir else { return };
        let Ok(entries) = std::fs::read_dir(dir.join("obs")) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
                continue;
            };
            let meta: ConsumerMeta = match std::fs::read(path.join("meta.json"))
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
            {
                Ok(m) => m,
                Err(e) => {
                    warn!(stream = %self.name, consumer = %name, "skipping unreadable consumer: {e}");
                    continue;
                }
            };
            let tracker = std::fs::read(path.join("state.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<Tracker>(&b).ok())
                .unwrap_or_else(|| {
                    crate::jetstream::api::consumers::start_tracker(&self.store, &meta.config)
                });
            let c = Consumer::start(
                self.shared.clone(),
                self,
                name.clone(),
                meta.config,
                meta.created,
                tracker,
                Some(path.join("state.json")),
            );
            self.consumers.lock().insert(name, c);
        }
    }

    /// Changes whenever messages were stored; readers that follow the stream wait on it.
    pub fn appended(&self) -> tokio::sync::watch::Receiver<u64> {
        self.appended.subscribe()
    }

    /// Tells every consumer to look for new messages.
    pub fn wake_consumers(&self) {
        for c in self.consumers.lock().values() {
            c.wake();
        }
    }

    /// Retention: a consumer acked `seqs`. Work queues drop them at once; interest streams
    /// once every interested consumer is done with them.
    pub fn on_acked(&self, _consumer: &str, seqs: &[u64]) {
        let retention = self.config.lock().retention;
        match retention {
            RetentionPolicy::Limits => {}
            RetentionPolicy::WorkQueue => {
                for s in seqs {
                    let _ = self.store.remove(*s);
                }
            }
            RetentionPolicy::Interest => {
                let consumers = self.consumers();
                for s in seqs {
                    let Ok(Some(msg)) = self.store.load(*s) else {
                        continue;
                    };
                    if consumers.iter().all(|c| c.is_done_with(*s, &msg.subject)) {
                        let _ = self.store.remove(*s);
                    }
                }
            }
        }
    }

    /// Rebuilds the dedupe table from the messages inside the window (after a restart).
    fn rebuild_dedupe(&self) {
        let window = self.config.lock().duplicate_window;
        let state = self.store.state();
        if window <= 0 || state.msgs == 0 {
            return;
        }
        let cutoff = now_nanos().saturating_sub(window);
        // Timestamps grow with sequences: binary search the first one inside the window.
        let (mut lo, mut hi) = (state.first_seq, state.last_seq + 1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.store.load_next(mid, None) {
                Ok(Some(m)) if m.timestamp < cutoff => lo = m.seq + 1,
                _ => hi = mid,
            }
        }
        let mut dedupe = self.dedupe.lock();
        self.scan_from(lo, |m| {
            if let Some(id) = m
                .headers
                .as_deref()
                .and_then(|h| crate::jetstream::headers::get(h, crate::jetstream::headers::MSG_ID))
            {
                dedupe.record(Bytes::copy_from_slice(id), m.seq, m.timestamp);
            }
        });
    }

    /// Visits every stored message from `seq` on, reading them in batches (start-up scans
    /// of streams with millions of messages). Stops at the first read error, which the
    /// caller cannot act on beyond what the store's recovery already reported.
    fn scan_from(&self, mut seq: u64, mut visit: impl FnMut(&StoredMessage)) {
        const BATCH: usize = 4096;
        while let Ok(batch) = self.store.load_batch(seq, BATCH) {
            let Some(last) = batch.last() else {
                return;
            };
            seq = last.seq + 1;
            batch.iter().for_each(&mut visit);
        }
    }

    /// Finds the messages with a `Nats-TTL` after a restart (streams that allow TTLs only).
    fn rebuild_ttls(&self) {
        if !self.config.lock().allow_msg_ttl {
            return;
        }
        let mut ttls = self.ttls.lock();
        self.scan_from(0, |m| {
            let ttl = m
                .headers
                .as_deref()
                .and_then(|h| crate::jetstream::headers::get(h, crate::jetstream::headers::TTL))
                .and_then(ingest::parse_ttl);
            if let Some(ttl) = ttl.filter(|t| *t > 0) {
                ttls.insert((m.timestamp.saturating_add(ttl), m.seq));
            }
        });
    }

    /// Expires messages past `max_age` or their `Nats-TTL` while running.
    async fn expiry_timer(self: Arc<Self>) {
        loop {
            let max_age = self.config.lock().max_age;
            let mut period = if max_age > 0 {
                Duration::from_nanos((max_age as u64 / 4).clamp(10_000_000, 1_000_000_000))
            } else {
                Duration::from_secs(1)
            };
            if let Some((at, _)) = self.ttls.lock().first() {
                let until = (*at - now_nanos()).clamp(10_000_000, 1_000_000_000);
                period = period.min(Duration::from_nanos(until as u64));
            }
            tokio::select! {
                _ = self.cancel.cancelled() => return,
                _ = tokio::time::sleep(period) => {}
            }
            let now = now_nanos();
            let mut removed = 0;
            if max_age > 0 {
                match self.store.expire(now) {
                    Ok(n) => removed += n,
                    Err(e) => warn!(stream = %self.name, "expiry failed: {e}"),
                }
            }
            let due: Vec<u64> = {
                let mut ttls = self.ttls.lock();
                let mut due = Vec::new();
                while let Some(&(at, seq)) = ttls.first() {
                    if at > now {
                        break;
                    }
                    ttls.pop_first();
                    due.push(seq);
                }
                due
            };
            for seq in due {
                if let Ok(true) = self.store.remove(seq) {
                    removed += 1;
                }
            }
            if removed > 0 {
                self.wake_consumers();
            }
            self.dedupe.lock().expire(now);
        }
    }
}

fn json<T: Serialize>(value: &T) -> Vec<u8> {
    // Our own plain structs: serialisation cannot fail.
    serde_json::to_vec_pretty(value).unwrap_or_default()
}
