//! The message store under a JetStream stream: one trait, [`MessageStore`], with a memory
//! implementation ([`MemoryStore`]) and a crash-safe file implementation ([`FileStore`]).
//!
//! The trait is the subset of nats-server's `StreamStore` (server/store.go) that streams and
//! consumers need: append with limits enforced, point and filtered loads, deletes, purges,
//! age expiry, per-subject counts and the numbers `STREAM.INFO` reports. Both stores share
//! the bookkeeping in `state.rs`, so limits, purges and `state()` behave the same; they differ
//! only in where the bytes live and in how `bytes` is counted (each uses the size formula of
//! its nats-server counterpart, so `STREAM.INFO` shows the numbers operators know).

use std::time::Duration;

use bytes::Bytes;

mod file;
mod memory;
mod state;
mod subject;

pub use file::{FileStore, FileStoreOptions, RecoveryReport, file_msg_size};
pub use memory::{MemoryStore, memory_msg_size};

/// One message as stored: what `STREAM.MSG.GET`, `DIRECT.GET` and consumers deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Stream sequence, assigned by the store on append (starts at 1, never reused).
    pub seq: u64,
    /// The subject the message was published to.
    pub subject: Bytes,
    /// The raw NATS header block (`NATS/1.0\r\n...`), if the message had one.
    pub headers: Option<Bytes>,
    /// The payload.
    pub payload: Bytes,
    /// Time the stream received it, in unix nanoseconds (JetStream reports it in `time`).
    pub timestamp: i64,
}

/// The numbers `STREAM.INFO` reports under `state`, computed like nats-server does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamState {
    /// Messages currently stored.
    pub msgs: u64,
    /// Bytes currently stored, by the store's nats-server size formula.
    pub bytes: u64,
    /// Lowest stored sequence; `last_seq + 1` when the stream is empty after holding
    /// messages, 0 for a stream that never held any.
    pub first_seq: u64,
    /// Timestamp of `first_seq` (0 when empty).
    pub first_ts: i64,
    /// Highest sequence ever assigned (it does not move back when messages are removed).
    pub last_seq: u64,
    /// Timestamp of the last appended message.
    pub last_ts: i64,
    /// Interior deletes: `last_seq - first_seq + 1 - msgs` while the stream is not empty.
    pub num_deleted: u64,
    /// Distinct subjects among the stored messages.
    pub num_subjects: u64,
}

/// What to do when a limit is reached (the stream config's `discard`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Discard {
    /// Remove the oldest messages to make room (the JetStream default).
    #[default]
    Old,
    /// Refuse the new message with [`StoreError::StoreFull`].
    New,
}

/// Stream limits as JetStream configs express them; values `<= 0` (or a zero duration)
/// mean unlimited, since nats-server normalises 0 to -1 and checks `> 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreLimits {
    /// Most messages kept (`max_msgs`).
    pub max_msgs: i64,
    /// Most bytes kept (`max_bytes`), counted by the store's size formula.
    pub max_bytes: i64,
    /// Oldest message age kept; enforced when [`MessageStore::expire`] runs.
    pub max_age: Duration,
    /// Most messages kept per subject (`max_msgs_per_subject`; KV history).
    pub max_msgs_per_subject: i64,
    /// Largest headers + payload accepted (`max_msg_size`).
    pub max_msg_size: i32,
    /// Policy when `max_msgs` or `max_bytes` is reached.
    pub discard: Discard,
    /// With [`Discard::New`], also refuse a message whose subject is at its limit.
    pub discard_new_per_subject: bool,
}

impl Default for StoreLimits {
    fn default() -> Self {
        Self {
            max_msgs: -1,
            max_bytes: -1,
            max_age: Duration::ZERO,
            max_msgs_per_subject: -1,
            max_msg_size: -1,
            discard: Discard::Old,
            discard_new_per_subject: false,
        }
    }
}

/// When the file store makes an append durable; in both modes an acked append has been
/// written to the OS, so it survives a crash of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync in the background every interval (nats-server's `sync_interval`, default 2 min).
    Interval(Duration),
    /// fsync before `append` returns; concurrent appenders share one fsync (group commit).
    Always,
}

/// A purge as `STREAM.PURGE` requests it (nats-server's `PurgeEx(subject, seq, keep)`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeRequest {
    /// Only messages whose subject matches this pattern (`*` and `>` allowed).
    pub subject: Option<Bytes>,
    /// Keep this many of the newest matching messages.
    pub keep: Option<u64>,
    /// Purge only sequences below this one (exclusive, like nats-server's `seq`).
    pub up_to_seq: Option<u64>,
}

/// Why a store operation failed; the JetStream API maps these to its error codes.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The message exceeds `max_msg_size` or cannot be represented (JS error 10054).
    #[error("message size exceeds maximum allowed")]
    MaxMessageSize,
    /// A discard-new limit refused the message (JS error 10077); the text says which limit.
    #[error("{0}")]
    StoreFull(&'static str),
    /// The operating system refused a read, write or fsync.
    #[error("store i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// Stored bytes failed their checksum or do not parse.
    #[error("store corrupt: {0}")]
    Corrupt(String),
    /// The store was closed.
    #[error("store closed")]
    Closed,
}

/// Text of [`StoreError::StoreFull`] when `max_msgs` refused a message (nats-server's `ErrMaxMsgs`).
pub const MAX_MSGS_EXCEEDED: &str = "maximum messages exceeded";
/// Text of [`StoreError::StoreFull`] when `max_bytes` refused a message (`ErrMaxBytes`).
pub const MAX_BYTES_EXCEEDED: &str = "maximum bytes exceeded";
/// Text of [`StoreError::StoreFull`] for `discard_new_per_subject` (`ErrMaxMsgsPerSubject`).
pub const MAX_MSGS_PER_SUBJECT_EXCEEDED: &str = "maximum messages per subject exceeded";

/// The storage behind one stream. Every method takes `&self` so one store can be shared
/// by the publishers, consumers and API handlers of a stream.
pub trait MessageStore: Send + Sync {
    /// Stores a message and returns its sequence. Limits are enforced first (discard new
    /// refuses) or after (discard old removes the oldest), and the append is durable per the
    /// store's [`Durability`] before this returns, so the caller may ack the publisher.
    fn append(
        &self,
        subject: &[u8],
        headers: Option<&[u8]>,
        payload: &[u8],
        timestamp: i64,
    ) -> Result<u64, StoreError>;

    /// Loads one message; `None` when it was never stored or has been removed.
    fn load(&self, seq: u64) -> Result<Option<StoredMessage>, StoreError>;

    /// Loads the first message with a sequence `>= from_seq` whose subject matches `filter`
    /// (`None` matches all): what a consumer delivers next.
    fn load_next(
        &self,
        from_seq: u64,
        filter: Option<&[u8]>,
    ) -> Result<Option<StoredMessage>, StoreError>;

    /// Loads up to `max` stored messages with sequences `>= from_seq`, in order: scans over
    /// a whole stream (start-up rebuilds) without a lock round and a read per message. The
    /// file store reads neighbouring records with one `pread`; the default loops.
    fn load_batch(&self, from_seq: u64, max: usize) -> Result<Vec<StoredMessage>, StoreError> {
        let mut out = Vec::new();
        let mut seq = from_seq;
        while out.len() < max {
            let Some(m) = self.load_next(seq, None)? else {
                break;
            };
            seq = m.seq + 1;
            out.push(m);
        }
        Ok(out)
    }

    /// Loads the newest message whose subject matches `filter` (KV get, `last_by_subj`).
    fn load_last(&self, filter: &[u8]) -> Result<Option<StoredMessage>, StoreError>;

    /// Removes one message (`STREAM.MSG.DELETE`); `false` if it was not there.
    fn remove(&self, seq: u64) -> Result<bool, StoreError>;

    /// Purges as `STREAM.PURGE` asks and returns how many messages went.
    fn purge(&self, req: &PurgeRequest) -> Result<u64, StoreError>;

    /// Removes messages older than `max_age` as of `now` (unix nanos); a timer calls this.
    fn expire(&self, now: i64) -> Result<u64, StoreError>;

    /// Replaces the limits (stream `UPDATE`); tightened limits apply at once.
    fn set_limits(&self, limits: StoreLimits) -> Result<(), StoreError>;

    /// The numbers `STREAM.INFO` reports.
    fn state(&self) -> StreamState;

    /// Messages with a sequence `>= from_seq` matching `filter`: a consumer's `num_pending`.
    fn num_pending(&self, from_seq: u64, filter: Option<&[u8]>) -> u64;

    /// Per-subject message counts for subjects matching `filter`, sorted by subject
    /// (`STREAM.INFO` with `subjects_filter`).
    fn subjects(&self, filter: &[u8]) -> Vec<(Bytes, u64)>;

    /// Makes everything appended so far durable against power loss.
    fn sync(&self) -> Result<(), StoreError>;
}
