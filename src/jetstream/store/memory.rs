//! The memory store (`storage: memory`): the shared index with each message's headers and
//! payload held in the index entry. Nothing survives the process, as in nats-server.

use bytes::Bytes;
use parking_lot::Mutex;

use super::state::{Core, Entry};
use super::{MessageStore, PurgeRequest, StoreError, StoreLimits, StoredMessage, StreamState};

/// Bytes a message counts against `max_bytes` in a memory stream: nats-server's
/// `memStoreMsgSize` (memstore.go), so `STREAM.INFO` shows the same numbers.
pub fn memory_msg_size(subject: &[u8], headers: Option<&[u8]>, payload: &[u8]) -> u64 {
    (subject.len() + headers.map_or(0, <[u8]>::len) + payload.len() + 16) as u64
}

/// Headers and payload kept in memory.
#[derive(Debug, Clone)]
struct Body {
    headers: Option<Bytes>,
    payload: Bytes,
}

/// A stream store held entirely in memory; see the module docs.
#[derive(Debug)]
pub struct MemoryStore {
    core: Mutex<Core<Body>>,
}

impl MemoryStore {
    /// Creates an empty store with these limits.
    pub fn new(limits: StoreLimits) -> Self {
        Self {
            core: Mutex::new(Core::new(limits)),
        }
    }
}

fn to_message(core: &Core<Body>, seq: u64, e: &Entry<Body>) -> StoredMessage {
    StoredMessage {
        seq,
        subject: core.subject_name(e.subj).cloned().unwrap_or_default(),
        headers: e.loc.headers.clone(),
        payload: e.loc.payload.clone(),
        timestamp: e.ts,
    }
}

impl MessageStore for MemoryStore {
    fn append(
        &self,
        subject: &[u8],
        headers: Option<&[u8]>,
        payload: &[u8],
        timestamp: i64,
    ) -> Result<u64, StoreError> {
        let size = memory_msg_size(subject, headers, payload);
        let data_len = headers.map_or(0, <[u8]>::len) + payload.len();
        let mut core = self.core.lock();
        core.check_append(subject, data_len, size)?;
        let seq = core.next_seq()?;
        let body = Body {
            headers: headers.map(Bytes::copy_from_slice),
            payload: Bytes::copy_from_slice(payload),
        };
        core.push(seq, subject, timestamp, size as u32, body);
        core.enforce(Some(subject), &mut |_, _| {});
        Ok(seq)
    }

    fn load(&self, seq: u64) -> Result<Option<StoredMessage>, StoreError> {
        let core = self.core.lock();
        Ok(core.get(seq).map(|e| to_message(&core, seq, e)))
    }

    fn load_next(
        &self,
        from_seq: u64,
        filter: Option<&[u8]>,
    ) -> Result<Option<StoredMessage>, StoreError> {
        let mut core = self.core.lock();
        let Some(seq) = core.next_match(from_seq, filter) else {
            return Ok(None);
        };
        Ok(core.get(seq).map(|e| to_message(&core, seq, e)))
    }

    fn load_last(&self, filter: &[u8]) -> Result<Option<StoredMessage>, StoreError> {
        let mut core = self.core.lock();
        let Some(seq) = core.last_match(filter) else {
            return Ok(None);
        };
        Ok(core.get(seq).map(|e| to_message(&core, seq, e)))
    }

    fn remove(&self, seq: u64) -> Result<bool, StoreError> {
        Ok(self.core.lock().remove(seq).is_some())
    }

    fn purge(&self, req: &PurgeRequest) -> Result<u64, StoreError> {
        Ok(self.core.lock().purge(req, &mut |_, _| {}))
    }

    fn expire(&self, now: i64) -> Result<u64, StoreError> {
        Ok(self.core.lock().expire(now, &mut |_, _| {}))
    }

    fn set_limits(&self, limits: StoreLimits) -> Result<(), StoreError> {
        let mut core = self.core.lock();
        core.set_limits(limits);
        core.enforce(None, &mut |_, _| {});
        Ok(())
    }

    fn state(&self) -> StreamState {
        self.core.lock().state()
    }

    fn num_pending(&self, from_seq: u64, filter: Option<&[u8]>) -> u64 {
        self.core.lock().num_pending(from_seq, filter)
    }

    fn subjects(&self, filter: &[u8]) -> Vec<(Bytes, u64)> {
        self.core.lock().subjects(filter)
    }

    fn sync(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
