//! Index checkpoints: a `<id>.idx` file beside a segment summarising the live messages in
//! the segment's first `covered_len` bytes, so start-up reads the small index instead of
//! scanning the segment. Written when a segment is sealed and on clean close; a missing,
//! stale or corrupt index only costs a scan, never data.
//!
//! ```text
//! "SLUICEIX" | version u32 | segment id u32 | covered_len u64 | max_seq u64 | max_ts i64
//! | floor u64 | floor_last_seq u64 | floor_last_ts i64 | n_subjects u32 | n_entries u64
//! | subjects: (len u16, bytes)* | entries: (seq u64, ts i64, off u32, len u32, size u32, subj u32)*
//! | crc32 u32 of everything before
//! ```

use std::fs;
use std::io;
use std::path::Path;

use bytes::Bytes;

const IDX_MAGIC: &[u8; 8] = b"SLUICEIX";
const IDX_VERSION: u32 = 1;
const HEADER_LEN: usize = 8 + 4 + 4 + 8 * 6 + 4 + 8;
const ENTRY_LEN: usize = 32;

/// One live message in a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IdxEntry {
    pub(crate) seq: u64,
    pub(crate) ts: i64,
    pub(crate) off: u32,
    pub(crate) len: u32,
    pub(crate) size: u32,
    /// Index into [`SegmentIndex::subjects`].
    pub(crate) subj: u32,
}

/// A segment's checkpoint.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct SegmentIndex {
    /// Bytes of the segment the checkpoint describes; later bytes are scanned.
    pub(crate) covered_len: u64,
    /// Highest message sequence written in the covered bytes, and its timestamp.
    pub(crate) max_seq: u64,
    pub(crate) max_ts: i64,
    /// Highest floor record in the covered bytes (0 = none) with its last seq and time.
    pub(crate) floor: u64,
    pub(crate) floor_last_seq: u64,
    pub(crate) floor_last_ts: i64,
    pub(crate) subjects: Vec<Bytes>,
    pub(crate) entries: Vec<IdxEntry>,
}

impl SegmentIndex {
    fn encode(&self, id: u32) -> Vec<u8> {
        let mut b = Vec::with_capacity(HEADER_LEN + self.entries.len() * ENTRY_LEN + 64);
        b.extend_from_slice(IDX_MAGIC);
        b.extend_from_slice(&IDX_VERSION.to_le_bytes());
        b.extend_from_slice(&id.to_le_bytes());
        for v in [
            self.covered_len,
            self.max_seq,
            self.max_ts as u64,
            self.floor,
        ] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&self.floor_last_seq.to_le_bytes());
        b.extend_from_slice(&self.floor_last_ts.to_le_bytes());
        b.extend_from_slice(&(self.subjects.len() as u32).to_le_bytes());
        b.extend_from_slice(&(self.entries.len() as u64).to_le_bytes());
        for s in &self.subjects {
            b.extend_from_slice(&(s.len() as u16).to_le_bytes());
            b.extend_from_slice(s);
        }
        for e in &self.entries {
            b.extend_from_slice(&e.seq.to_le_bytes());
            b.extend_from_slice(&e.ts.to_le_bytes());
            for v in [e.off, e.len, e.size, e.subj] {
                b.extend_from_slice(&v.to_le_bytes());
            }
        }
        let crc = crc32fast::hash(&b);
        b.extend_from_slice(&crc.to_le_bytes());
        b
    }

    fn decode(b: &[u8], id: u32) -> Option<Self> {
        let (body, crc) = b.split_at_checked(b.len().checked_sub(4)?)?;
        if crc32fast::hash(body).to_le_bytes() != crc[..] {
            return None;
        }
        let mut r = Reader { b: body, pos: 0 };
        if r.take(8)? != IDX_MAGIC || r.u32()? != IDX_VERSION || r.u32()? != id {
            return None;
        }
        let mut idx = SegmentIndex {
            covered_len: r.u64()?,
            max_seq: r.u64()?,
            max_ts: r.u64()? as i64,
            floor: r.u64()?,
            floor_last_seq: r.u64()?,
            floor_last_ts: r.u64()? as i64,
            ..Default::default()
        };
        let n_subjects = r.u32()? as usize;
        let n_entries = usize::try_from(r.u64()?).ok()?;
        if n_entries.checked_mul(ENTRY_LEN)? > body.len() || n_subjects > body.len() {
            return None;
        }
        idx.subjects.reserve(n_subjects);
        for _ in 0..n_subjects {
            let len = usize::from(u16::from_le_bytes(r.take(2)?.try_into().ok()?));
            idx.subjects.push(Bytes::copy_from_slice(r.take(len)?));
        }
        idx.entries.reserve(n_entries);
        for _ in 0..n_entries {
            let e = IdxEntry {
                seq: r.u64()?,
                ts: r.u64()? as i64,
                off: r.u32()?,
                len: r.u32()?,
                size: r.u32()?,
                subj: r.u32()?,
            };
            if e.subj as usize >= n_subjects {
                return None;
            }
            idx.entries.push(e);
        }
        (r.pos == body.len()).then_some(idx)
    }
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

/// Writes the checkpoint atomically (temp file, then rename). It is a cache, so it is not
/// fsynced: after a power loss a torn one fails its checksum and the segment is scanned.
pub(crate) fn write(dir: &Path, id: u32, idx: &SegmentIndex) -> io::Result<()> {
    let tmp = dir.join(format!("{id:010}.idx.tmp"));
    fs::write(&tmp, idx.encode(id))?;
    fs::rename(&tmp, super::segment::idx_path(dir, id))
}

/// Reads a checkpoint; `None` if it is missing or invalid.
pub(crate) fn read(dir: &Path, id: u32) -> Option<SegmentIndex> {
    let b = fs::read(super::segment::idx_path(dir, id)).ok()?;
    SegmentIndex::decode(&b, id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_reject_damage() {
        let idx = SegmentIndex {
            covered_len: 99,
            max_seq: 5,
            max_ts: -1,
            floor: 2,
            floor_last_seq: 4,
            floor_last_ts: 8,
            subjects: vec![Bytes::from_static(b"a.b")],
            entries: vec![IdxEntry {
                seq: 3,
                ts: 4,
                off: 16,
                len: 40,
                size: 50,
                subj: 0,
            }],
        };
        let mut b = idx.encode(1);
        assert_eq!(SegmentIndex::decode(&b, 1), Some(idx));
        assert_eq!(SegmentIndex::decode(&b, 2), None);
        b[20] ^= 1;
        assert_eq!(SegmentIndex::decode(&b, 1), None);
    }
}
