//! One segment file: an append-only run of records for a contiguous range of sequences,
//! plus the little state the store keeps about it (length, live count, flags). Writes are
//! positional (`pwrite`) at the tracked end, so a failed write can be cut back off.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::record::{SEG_HEADER_LEN, segment_header};

/// Path of segment `id` in `dir`.
pub(crate) fn seg_path(dir: &Path, id: u32) -> PathBuf {
    dir.join(format!("{id:010}.seg"))
}

/// Path of segment `id`'s index checkpoint in `dir`.
pub(crate) fn idx_path(dir: &Path, id: u32) -> PathBuf {
    dir.join(format!("{id:010}.idx"))
}

/// Where a message's record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileLoc {
    pub(crate) seg: u32,
    pub(crate) off: u32,
    pub(crate) len: u32,
}

/// An open segment and what the store tracks about it.
#[derive(Debug)]
pub(crate) struct Segment {
    pub(crate) id: u32,
    pub(crate) file: Arc<File>,
    /// Bytes written (the next record goes here).
    pub(crate) len: u64,
    /// Bytes described by the index checkpoint on disk (0 = none).
    pub(crate) indexed_len: u64,
    /// Messages of this segment still stored.
    pub(crate) live: u64,
    /// Lowest message sequence written here (0 = none yet); where index scans start.
    pub(crate) min_seq: u64,
    /// Highest message sequence written here, with its timestamp.
    pub(crate) max_seq: u64,
    pub(crate) max_ts: i64,
    /// Highest floor record written here (0 = none): such a segment may only be deleted
    /// once it is the oldest, or older segments could regain purged messages on recovery.
    pub(crate) floor: u64,
    pub(crate) floor_last_seq: u64,
    pub(crate) floor_last_ts: i64,
}

impl Segment {
    /// Wraps an open file of `len` bytes.
    pub(crate) fn new(id: u32, file: File, len: u64) -> Self {
        Self {
            id,
            file: Arc::new(file),
            len,
            indexed_len: 0,
            live: 0,
            min_seq: 0,
            max_seq: 0,
            max_ts: 0,
            floor: 0,
            floor_last_seq: 0,
            floor_last_ts: 0,
        }
    }

    /// Creates a new, empty segment file and makes its directory entry durable.
    pub(crate) fn create(dir: &Path, id: u32) -> io::Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(seg_path(dir, id))?;
        file.write_all_at(&segment_header(id), 0)?;
        file.sync_data()?;
        File::open(dir)?.sync_all()?;
        Ok(Self::new(id, file, SEG_HEADER_LEN))
    }

    /// Creates the first free segment id after `after` (a file recovery ignored may hold
    /// the obvious one), clearing any stale checkpoint for it.
    pub(crate) fn create_after(dir: &Path, after: u32) -> io::Result<Self> {
        let mut id = after;
        loop {
            id = id
                .checked_add(1)
                .ok_or_else(|| io::Error::other("segment ids exhausted"))?;
            let _ = std::fs::remove_file(idx_path(dir, id));
            match Self::create(dir, id) {
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                other => return other,
            }
        }
    }

    /// Appends `buf` at the end and returns its offset; on failure the partial write is cut
    /// off so the file never holds a half record followed by good ones.
    pub(crate) fn append(&mut self, buf: &[u8]) -> io::Result<u64> {
        let off = self.len;
        if let Err(e) = self.file.write_all_at(buf, off) {
            let _ = self.file.set_len(off);
            return Err(e);
        }
        self.len += buf.len() as u64;
        Ok(off)
    }

    /// Whether a floor record lives here.
    pub(crate) fn has_floor(&self) -> bool {
        self.floor > 0
    }
}
