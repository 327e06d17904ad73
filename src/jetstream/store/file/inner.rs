//! The file store's state under its lock and every write path: appends, segment rollover,
//! removals persisted as tombstones (in the removed message's own segment) or as one floor
//! record (in the active segment) when the front of the stream moves, empty-segment
//! deletion, index checkpoints and clean close.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::path::PathBuf;
use std::sync::Arc;

use super::index::{self, IdxEntry, SegmentIndex};
use super::record::{self, SEG_HEADER_LEN};
use super::segment::{FileLoc, Segment, idx_path, seg_path};
use super::sync::SyncBatch;
use crate::jetstream::store::StoreError;
use crate::jetstream::store::state::Core;

/// Everything behind the file store's mutex.
pub(crate) struct Inner {
    pub(crate) dir: PathBuf,
    pub(crate) core: Core<FileLoc>,
    pub(crate) segments: BTreeMap<u32, Segment>,
    pub(crate) active: u32,
    pub(crate) segment_size: u64,
    /// Bumped by every write; group commit waits on it.
    pub(crate) generation: u64,
    /// Files written since the last sync batch was taken.
    dirty: BTreeMap<u32, Arc<File>>,
    buf: Vec<u8>,
    /// Highest floor made durable by records (so the next one is written only if higher).
    persisted_floor: u64,
    pub(crate) closed: bool,
}

fn missing_segment(id: u32) -> StoreError {
    StoreError::Corrupt(format!("segment {id} is not open"))
}

impl Inner {
    /// Wraps recovered state, creating a first segment if there is none.
    pub(crate) fn new(
        dir: PathBuf,
        core: Core<FileLoc>,
        mut segments: BTreeMap<u32, Segment>,
        segment_size: u64,
    ) -> Result<Self, StoreError> {
        let active = match segments.last_key_value() {
            Some((id, _)) => *id,
            None => {
                let seg = Segment::create_after(&dir, 0)?;
                let id = seg.id;
                segments.insert(id, seg);
                id
            }
        };
        let persisted_floor = core.floor();
        Ok(Self {
            dir,
            core,
            segments,
            active,
            segment_size,
            generation: 0,
            dirty: BTreeMap::new(),
            buf: Vec::new(),
            persisted_floor,
            closed: false,
        })
    }

    pub(crate) fn check_open(&self) -> Result<(), StoreError> {
        if self.closed {
            Err(StoreError::Closed)
        } else {
            Ok(())
        }
    }

    fn mark_dirty(&mut self, id: u32) {
        if let Some(seg) = self.segments.get(&id) {
            self.dirty.entry(id).or_insert_with(|| seg.file.clone());
        }
    }

    /// The files a group-commit leader must fsync, and the generation they cover.
    pub(crate) fn take_batch(&mut self) -> SyncBatch {
        let mut files: Vec<Arc<File>> = std::mem::take(&mut self.dirty).into_values().collect();
        if let Some(seg) = self.segments.get(&self.active) {
            files.push(seg.file.clone());
        }
        SyncBatch {
            files,
            generation: self.generation,
        }
    }

    /// Appends a message; returns its sequence and the write generation to sync to.
    pub(crate) fn append(
        &mut self,
        subject: &[u8],
        headers: Option<&[u8]>,
        payload: &[u8],
        ts: i64,
    ) -> Result<(u64, u64), StoreError> {
        self.check_open()?;
        let rec_len = record::msg_record_len(subject, headers, payload);
        if subject.len() > usize::from(u16::MAX) || rec_len > u64::from(u32::MAX) - SEG_HEADER_LEN {
            return Err(StoreError::MaxMessageSize);
        }
        let size = super::file_msg_size(subject, headers, payload);
        let data_len = headers.map_or(0, <[u8]>::len) + payload.len();
        self.core.check_append(subject, data_len, size)?;
        self.maybe_roll(rec_len)?;
        let seq = self.core.next_seq()?;
        self.buf.clear();
        record::encode_msg(&mut self.buf, seq, ts, subject, headers, payload);
        let active = self.active;
        let seg = self
            .segments
            .get_mut(&active)
            .ok_or_else(|| missing_segment(active))?;
        let off = seg.append(&self.buf)?;
        seg.live += 1;
        if seg.min_seq == 0 {
            seg.min_seq = seq;
        }
        seg.max_seq = seq;
        seg.max_ts = ts;
        let loc = FileLoc {
            seg: active,
            off: off as u32,
            len: self.buf.len() as u32,
        };
        self.core.push(seq, subject, ts, size as u32, loc);
        self.mark_dirty(active);
        let mut removed = Vec::new();
        self.core
            .enforce(Some(subject), &mut |s, e| removed.push((s, e.loc.seg)));
        self.persist_removals(&removed)?;
        self.generation += 1;
        Ok((seq, self.generation))
    }

    fn maybe_roll(&mut self, rec_len: u64) -> Result<(), StoreError> {
        let seg = self
            .segments
            .get(&self.active)
            .ok_or_else(|| missing_segment(self.active))?;
        if seg.len > SEG_HEADER_LEN && seg.len + rec_len > self.segment_size {
            self.roll()?;
        }
        Ok(())
    }

    /// Seals the active segment (fsync, checkpoint) and starts the next one.
    fn roll(&mut self) -> Result<(), StoreError> {
        let old = self.active;
        let seg = self
            .segments
            .get(&old)
            .ok_or_else(|| missing_segment(old))?;
        // Durable before its checkpoint exists, so the index never describes lost bytes.
        seg.file.sync_data()?;
        self.checkpoint(old)?;
        let seg = Segment::create_after(&self.dir, old)?;
        let id = seg.id;
        self.segments.insert(id, seg);
        self.active = id;
        self.dirty.remove(&old);
        self.drop_empty_segments();
        Ok(())
    }

    /// Makes removals durable: tombstones for interior removals, one floor record if the
    /// front of the stream moved; then deletes segments left empty.
    pub(crate) fn persist_removals(&mut self, removed: &[(u64, u32)]) -> Result<(), StoreError> {
        for (_, id) in removed {
            if let Some(seg) = self.segments.get_mut(id) {
                seg.live = seg.live.saturating_sub(1);
            }
        }
        let floor = self.core.floor();
        let mut tombstones: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
        for (seq, id) in removed.iter().filter(|(seq, _)| *seq >= floor) {
            record::encode_tombstone(tombstones.entry(*id).or_default(), *seq);
        }
        for (id, buf) in tombstones {
            if let Some(seg) = self.segments.get_mut(&id) {
                seg.append(&buf)?;
                self.mark_dirty(id);
            }
        }
        if floor > self.persisted_floor {
            self.buf.clear();
            let (last_seq, last_ts) = (self.core.last_seq(), self.core.last_ts());
            record::encode_floor(&mut self.buf, floor, last_seq, last_ts);
            let active = self.active;
            let seg = self
                .segments
                .get_mut(&active)
                .ok_or_else(|| missing_segment(active))?;
            seg.append(&self.buf)?;
            seg.floor = floor;
            seg.floor_last_seq = last_seq;
            seg.floor_last_ts = last_ts;
            self.persisted_floor = floor;
            self.mark_dirty(active);
        }
        self.drop_empty_segments();
        Ok(())
    }

    /// Deletes segments without live messages, except the active one and, unless every
    /// older segment is gone, those holding a floor record (older segments may still have
    /// messages that only that floor record keeps deleted).
    pub(crate) fn drop_empty_segments(&mut self) {
        let ids: Vec<u32> = self.segments.keys().copied().collect();
        let mut oldest = true;
        for id in ids {
            let Some(seg) = self.segments.get(&id) else {
                continue;
            };
            if id != self.active && seg.live == 0 && (oldest || !seg.has_floor()) {
                let _ = fs::remove_file(idx_path(&self.dir, id));
                let _ = fs::remove_file(seg_path(&self.dir, id));
                self.segments.remove(&id);
                self.dirty.remove(&id);
            } else {
                oldest = false;
            }
        }
    }

    /// Writes segment `id`'s index checkpoint from the in-memory index.
    pub(crate) fn checkpoint(&mut self, id: u32) -> Result<(), StoreError> {
        let seg = self.segments.get(&id).ok_or_else(|| missing_segment(id))?;
        let mut idx = SegmentIndex {
            covered_len: seg.len,
            max_seq: seg.max_seq,
            max_ts: seg.max_ts,
            floor: seg.floor,
            floor_last_seq: seg.floor_last_seq,
            floor_last_ts: seg.floor_last_ts,
            ..Default::default()
        };
        if seg.min_seq > 0 {
            let mut local: HashMap<u32, u32> = HashMap::new();
            for (seq, e) in self.core.range(seg.min_seq, seg.max_seq) {
                if e.loc.seg != id {
                    continue;
                }
                let subj = match local.get(&e.subj) {
                    Some(l) => *l,
                    None => {
                        let name = self.core.subject_name(e.subj).cloned().unwrap_or_default();
                        idx.subjects.push(name);
                        let l = (idx.subjects.len() - 1) as u32;
                        local.insert(e.subj, l);
                        l
                    }
                };
                idx.entries.push(IdxEntry {
                    seq,
                    ts: e.ts,
                    off: e.loc.off,
                    len: e.loc.len,
                    size: e.size,
                    subj,
                });
            }
        }
        index::write(&self.dir, id, &idx)?;
        let len = seg.len;
        if let Some(seg) = self.segments.get_mut(&id) {
            seg.indexed_len = len;
        }
        Ok(())
    }

    /// Clean close: checkpoint every segment that grew since its last checkpoint, fsync
    /// everything, refuse further use.
    pub(crate) fn close(&mut self) -> Result<(), StoreError> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        let stale: Vec<u32> = self
            .segments
            .values()
            .filter(|s| s.len > s.indexed_len)
            .map(|s| s.id)
            .collect();
        for id in stale {
            self.checkpoint(id)?;
        }
        for seg in self.segments.values() {
            seg.file.sync_data()?;
        }
        File::open(&self.dir)?.sync_all()?;
        Ok(())
    }
}
