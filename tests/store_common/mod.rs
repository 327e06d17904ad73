//! Shared harness: runs one scenario against the memory store and the file store, and
//! reopens the file store where a scenario asks for it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use sluice::jetstream::store::{
    Durability, FileStore, FileStoreOptions, MemoryStore, MessageStore, StoreLimits, file_msg_size,
    memory_msg_size,
};

/// Which implementation a harness drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Memory,
    File,
}

/// One store under test.
pub struct Harness {
    pub kind: Kind,
    pub dir: Option<tempfile::TempDir>,
    pub limits: StoreLimits,
    pub segment_size: u64,
    store: Option<Box<dyn MessageStore>>,
}

pub fn open_file(dir: &Path, limits: StoreLimits, segment_size: u64) -> FileStore {
    FileStore::open_with_options(
        dir,
        limits,
        Durability::Interval(Duration::from_secs(60)),
        FileStoreOptions { segment_size },
    )
    .unwrap()
}

impl Harness {
    pub fn new(kind: Kind, limits: StoreLimits) -> Self {
        Self::with_segment_size(kind, limits, 64 * 1024 * 1024)
    }

    pub fn with_segment_size(kind: Kind, limits: StoreLimits, segment_size: u64) -> Self {
        let mut h = Self {
            kind,
            dir: None,
            limits,
            segment_size,
            store: None,
        };
        if kind == Kind::File {
            h.dir = Some(tempfile::tempdir().unwrap());
        }
        h.open();
        h
    }

    fn open(&mut self) {
        self.store = Some(match self.kind {
            Kind::Memory => Box::new(MemoryStore::new(self.limits)),
            Kind::File => Box::new(open_file(
                self.dir.as_ref().unwrap().path(),
                self.limits,
                self.segment_size,
            )),
        });
    }

    pub fn store(&self) -> &dyn MessageStore {
        self.store.as_deref().unwrap()
    }

    /// Drops and reopens a file store (state must survive); a no-op for memory.
    pub fn reopen(&mut self) {
        if self.kind == Kind::File {
            self.store = None;
            self.open();
        }
    }

    /// Bytes one message counts, by the store's nats-server formula.
    pub fn size(&self, subject: &str, headers: Option<&[u8]>, payload: &[u8]) -> u64 {
        match self.kind {
            Kind::Memory => memory_msg_size(subject.as_bytes(), headers, payload),
            Kind::File => file_msg_size(subject.as_bytes(), headers, payload),
        }
    }

    pub fn add(&self, subject: &str, payload: &str, ts: i64) -> u64 {
        self.store()
            .append(subject.as_bytes(), None, payload.as_bytes(), ts)
            .unwrap()
    }
}

/// Runs `f` against both stores; for the file store, runs it again with a reopen at each
/// point the scenario calls `reopen`.
pub fn both(limits: StoreLimits, f: impl Fn(&mut Harness)) {
    for kind in [Kind::Memory, Kind::File] {
        let mut h = Harness::new(kind, limits);
        f(&mut h);
    }
}
