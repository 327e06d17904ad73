//! The file store (`storage: file`): append-only segment files with a checksum per record,
//! per-segment index checkpoints, and an in-memory index of one small fixed-size entry per
//! message plus a small state per subject (payloads stay on disk and are read with `pread`).
//!
//! Durability: every acked write has been handed to the OS with `write(2)`, so it survives a
//! crash of the process. With [`Durability::Always`] it is also fsynced before the call
//! returns, and concurrent writers share fsyncs (group commit, `sync.rs`); with
//! [`Durability::Interval`] a thread owned by the store fsyncs in the background.
//!
//! Files: `record.rs` (format), `segment.rs` (one file), `index.rs` (checkpoints),
//! `recovery.rs` (start-up and the corruption policy), `inner.rs` (write paths),
//! `sync.rs` (group commit).

mod index;
mod inner;
mod record;
mod recovery;
mod segment;
mod sync;

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::Bytes;
use parking_lot::Mutex;

pub use recovery::RecoveryReport;

use super::{
    Durability, MessageStore, PurgeRequest, StoreError, StoreLimits, StoredMessage, StreamState,
};
use inner::Inner;
use record::{Decoded, Record};
use segment::FileLoc;
use sync::{GroupCommit, Stop};

/// Bytes a message counts against `max_bytes` in a file stream: nats-server's
/// `fileStoreMsgSize` (filestore.go), so `STREAM.INFO` shows the same numbers.
pub fn file_msg_size(subject: &[u8], headers: Option<&[u8]>, payload: &[u8]) -> u64 {
    let hlen = headers.map_or(0, <[u8]>::len);
    if hlen == 0 {
        (22 + subject.len() + payload.len() + 8) as u64
    } else {
        (22 + subject.len() + 4 + hlen + payload.len() + 8) as u64
    }
}

/// Tuning for the file store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStoreOptions {
    /// Segment size at which the active segment is sealed and a new one started. Smaller
    /// segments free space sooner after deletes; larger ones mean fewer files. Clamped to
    /// 4 KiB..=1 GiB (record offsets are 32-bit).
    pub segment_size: u64,
}

impl Default for FileStoreOptions {
    fn default() -> Self {
        Self {
            segment_size: 64 * 1024 * 1024,
        }
    }
}

struct Shared {
    inner: Mutex<Inner>,
    group: GroupCommit,
    always: bool,
}

impl Shared {
    fn sync_to(&self, generation: u64) -> Result<(), StoreError> {
        self.group
            .sync_to(generation, || self.inner.lock().take_batch())
            .map_err(StoreError::from)
    }

    fn after_write(&self, generation: u64) -> Result<(), StoreError> {
        if self.always {
            self.sync_to(generation)?;
        }
        Ok(())
    }
}

/// A stream store in a directory of segment files; see the module docs.
pub struct FileStore {
    shared: Arc<Shared>,
    stop: Arc<Stop>,
    syncer: Option<JoinHandle<()>>,
    report: RecoveryReport,
}

impl FileStore {
    /// Opens (recovering) or creates the store in `dir`.
    pub fn open(
        dir: &Path,
        limits: StoreLimits,
        durability: Durability,
    ) -> Result<Self, StoreError> {
        Self::open_with_options(dir, limits, durability, FileStoreOptions::default())
    }

    /// [`FileStore::open`] with tuning options.
    pub fn open_with_options(
        dir: &Path,
        limits: StoreLimits,
        durability: Durability,
        options: FileStoreOptions,
    ) -> Result<Self, StoreError> {
        let rec = recovery::recover(dir, limits)?;
        let segment_size = options.segment_size.clamp(4096, 1 << 30);
        let mut inner = Inner::new(dir.to_path_buf(), rec.core, rec.segments, segment_size)?;
        // A crash can fall between an append and the removals its limits caused.
        let mut removed = Vec::new();
        inner
            .core
            .enforce(None, &mut |s, e| removed.push((s, e.loc.seg)));
        inner.persist_removals(&removed)?;
        inner.drop_empty_segments();
        let interval = match durability {
            Durability::Interval(d) if !d.is_zero() => Some(d),
            _ => None,
        };
        let shared = Arc::new(Shared {
            inner: Mutex::new(inner),
            group: GroupCommit::default(),
            always: interval.is_none(),
        });
        let stop = Arc::new(Stop::default());
        let syncer = match interval {
            Some(d) => {
                let (shared, stop) = (shared.clone(), stop.clone());
                Some(
                    std::thread::Builder::new()
                        .name("sluice-store-sync".into())
                        .spawn(move || {
                            while !stop.wait(d) {
                                let generation = shared.inner.lock().generation;
                                // A failed background fsync is retried on the next tick;
                                // callers that need certainty call `sync`.
                                let _ = shared.sync_to(generation);
                            }
                        })?,
                )
            }
            None => None,
        };
        Ok(Self {
            shared,
            stop,
            syncer,
            report: rec.report,
        })
    }

    /// What recovery found when this store was opened (torn tails, corrupt stretches).
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.report
    }

    /// Clean close: checkpoints the indexes so the next open reads no segment, fsyncs, and
    /// makes every later call fail with [`StoreError::Closed`]. Dropping the store does the
    /// same, ignoring errors.
    pub fn close(&self) -> Result<(), StoreError> {
        self.stop.stop();
        self.shared.inner.lock().close()
    }

    /// The file and location of a stored message, taken under the lock.
    fn locate(&self, seq: u64) -> Result<Option<(Arc<File>, FileLoc)>, StoreError> {
        let inner = self.shared.inner.lock();
        inner.check_open()?;
        Ok(locate_in(&inner, seq))
    }

    fn removal<T>(
        &self,
        op: impl FnOnce(&mut Inner, &mut dyn FnMut(u64, u32)) -> T,
    ) -> Result<T, StoreError> {
        let (out, generation) = {
            let mut inner = self.shared.inner.lock();
            inner.check_open()?;
            let mut removed = Vec::new();
            let out = op(&mut inner, &mut |s, seg| removed.push((s, seg)));
            inner.persist_removals(&removed)?;
            inner.generation += 1;
            (out, inner.generation)
        };
        self.shared.after_write(generation)?;
        Ok(out)
    }

    fn read_at(
        &self,
        seq: u64,
        found: Option<(Arc<File>, FileLoc)>,
    ) -> Result<Option<StoredMessage>, StoreError> {
        match found {
            Some((file, loc)) => read_message(&file, seq, loc).map(Some),
            None => Ok(None),
        }
    }
}

fn locate_in(inner: &Inner, seq: u64) -> Option<(Arc<File>, FileLoc)> {
    let loc = inner.core.get(seq)?.loc;
    let seg = inner.segments.get(&loc.seg)?;
    Some((seg.file.clone(), loc))
}

/// Bytes one `load_batch` read may span.
const READ_SPAN: u64 = 1 << 20;

/// Reads and verifies one message record (outside the store lock).
fn read_message(file: &File, seq: u64, loc: FileLoc) -> Result<StoredMessage, StoreError> {
    let mut buf = vec![0u8; loc.len as usize];
    file.read_exact_at(&mut buf, u64::from(loc.off))?;
    decode_message(Bytes::from(buf), seq, loc)
}

/// Verifies one record read from `loc` and turns it into a message sharing `buf`.
fn decode_message(buf: Bytes, seq: u64, loc: FileLoc) -> Result<StoredMessage, StoreError> {
    match record::decode(&buf) {
        Decoded::Ok(
            Record::Msg {
                seq: s,
                ts,
                subject,
                headers,
                payload,
            },
            n,
        ) if s == seq && n == buf.len() => Ok(StoredMessage {
            seq,
            subject: buf.slice_ref(subject),
            headers: headers.map(|h| buf.slice_ref(h)),
            payload: buf.slice_ref(payload),
            timestamp: ts,
        }),
        _ => Err(StoreError::Corrupt(format!(
            "message {seq} in segment {} at offset {} fails its checksum",
            loc.seg, loc.off
        ))),
    }
}

impl Drop for FileStore {
    fn drop(&mut self) {
        self.stop.stop();
        if let Some(t) = self.syncer.take() {
            let _ = t.join();
        }
        let _ = self.shared.inner.lock().close();
    }
}

impl MessageStore for FileStore {
    fn append(
        &self,
        subject: &[u8],
        headers: Option<&[u8]>,
        payload: &[u8],
        timestamp: i64,
    ) -> Result<u64, StoreError> {
        let (seq, generation) = self
            .shared
            .inner
            .lock()
            .append(subject, headers, payload, timestamp)?;
        self.shared.after_write(generation)?;
        Ok(seq)
    }

    fn load(&self, seq: u64) -> Result<Option<StoredMessage>, StoreError> {
        let found = self.locate(seq)?;
        self.read_at(seq, found)
    }

    fn load_next(
        &self,
        from_seq: u64,
        filter: Option<&[u8]>,
    ) -> Result<Option<StoredMessage>, StoreError> {
        let (seq, found) = {
            let mut inner = self.shared.inner.lock();
            inner.check_open()?;
            let Some(seq) = inner.core.next_match(from_seq, filter) else {
                return Ok(None);
            };
            (seq, locate_in(&inner, seq))
        };
        self.read_at(seq, found)
    }

    fn load_batch(&self, from_seq: u64, max: usize) -> Result<Vec<StoredMessage>, StoreError> {
        let (file, locs) = {
            let mut inner = self.shared.inner.lock();
            inner.check_open()?;
            let mut locs: Vec<(u64, FileLoc)> = Vec::new();
            let mut seq = from_seq;
            while locs.len() < max {
                let Some(next) = inner.core.next_match(seq, None) else {
                    break;
                };
                let Some(loc) = inner.core.get(next).map(|e| e.loc) else {
                    break;
                };
                // One read covers records of one segment lying in order within READ_SPAN.
                if let Some(&(_, first)) = locs.first() {
                    let ordered = loc.seg == first.seg && loc.off >= first.off;
                    if !ordered || u64::from(loc.off + loc.len - first.off) > READ_SPAN {
                        break;
                    }
                }
                locs.push((next, loc));
                seq = next + 1;
            }
            // The file is looked up once, for the segment all of the batch is in.
            let file = (locs.first()).and_then(|(_, first)| inner.segments.get(&first.seg));
            (file.map(|seg| seg.file.clone()), locs)
        };
        let (Some(file), Some(&(_, first)), Some(&(_, last))) = (file, locs.first(), locs.last())
        else {
            return Ok(Vec::new());
        };
        let mut buf = vec![0u8; (last.off + last.len - first.off) as usize];
        file.read_exact_at(&mut buf, u64::from(first.off))?;
        let buf = Bytes::from(buf);
        locs.iter()
            .map(|&(seq, loc)| {
                let start = (loc.off - first.off) as usize;
                decode_message(buf.slice(start..start + loc.len as usize), seq, loc)
            })
            .collect()
    }

    fn load_last(&self, filter: &[u8]) -> Result<Option<StoredMessage>, StoreError> {
        let (seq, found) = {
            let mut inner = self.shared.inner.lock();
            inner.check_open()?;
            let Some(seq) = inner.core.last_match(filter) else {
                return Ok(None);
            };
            (seq, locate_in(&inner, seq))
        };
        self.read_at(seq, found)
    }

    fn remove(&self, seq: u64) -> Result<bool, StoreError> {
        self.removal(|inner, sink| match inner.core.remove(seq) {
            Some(e) => {
                sink(seq, e.loc.seg);
                true
            }
            None => false,
        })
    }

    fn purge(&self, req: &PurgeRequest) -> Result<u64, StoreError> {
        self.removal(|inner, sink| inner.core.purge(req, &mut |s, e| sink(s, e.loc.seg)))
    }

    fn expire(&self, now: i64) -> Result<u64, StoreError> {
        self.removal(|inner, sink| inner.core.expire(now, &mut |s, e| sink(s, e.loc.seg)))
    }

    fn set_limits(&self, limits: StoreLimits) -> Result<(), StoreError> {
        self.removal(|inner, sink| {
            inner.core.set_limits(limits);
            inner.core.enforce(None, &mut |s, e| sink(s, e.loc.seg));
        })
    }

    fn state(&self) -> StreamState {
        self.shared.inner.lock().core.state()
    }

    fn num_pending(&self, from_seq: u64, filter: Option<&[u8]>) -> u64 {
        self.shared.inner.lock().core.num_pending(from_seq, filter)
    }

    fn subjects(&self, filter: &[u8]) -> Vec<(Bytes, u64)> {
        self.shared.inner.lock().core.subjects(filter)
    }

    fn sync(&self) -> Result<(), StoreError> {
        let generation = {
            let inner = self.shared.inner.lock();
            inner.check_open()?;
            inner.generation
        };
        self.shared.sync_to(generation)
    }
}
