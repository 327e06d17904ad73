//! Start-up: rebuild the index from the segment files.
//!
//! Each segment's checkpoint (if valid and not longer than the file) supplies the entries
//! of its first `covered_len` bytes; only the bytes after it are scanned, which after a
//! clean close is nothing and after a crash is the unsealed tail of the last segment plus
//! tombstones appended to older ones. Policy: a bad or incomplete stretch at the end of a
//! file is a torn write and is truncated; a bad stretch followed by valid records is
//! skipped and reported (the messages in it are lost, the rest of the stream survives); a
//! segment whose header is unreadable is left on disk untouched, reported and ignored.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

use super::index;
use super::record::{self, Record, SEG_HEADER_LEN};
use super::segment::{FileLoc, Segment, seg_path};
use crate::jetstream::store::state::Core;
use crate::jetstream::store::{StoreError, StoreLimits};

/// What recovery found, for logs and `/jsz`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Segment files opened.
    pub segments: usize,
    /// Segments read from their checkpoint (the rest of their bytes were scanned).
    pub indexed_segments: usize,
    /// Bytes scanned record by record.
    pub scanned_bytes: u64,
    /// Bytes cut off torn tails.
    pub truncated_bytes: u64,
    /// Corrupt stretches skipped: `(segment file, start offset, end offset)`.
    pub corrupt: Vec<(String, u64, u64)>,
    /// Segment files ignored because their header is unreadable.
    pub ignored_segments: Vec<String>,
    /// Message records dropped because their sequence was out of order.
    pub out_of_order: u64,
    /// Wall time of recovery.
    pub duration: Duration,
}

/// The recovered store contents.
pub(crate) struct Recovered {
    pub(crate) core: Core<FileLoc>,
    pub(crate) segments: BTreeMap<u32, Segment>,
    pub(crate) report: RecoveryReport,
}

struct Pending {
    tombstones: Vec<u64>,
    floor: u64,
    floor_last: (u64, i64),
    max_msg: (u64, i64),
}

/// Rebuilds the store in `dir` (created if missing).
pub(crate) fn recover(dir: &Path, limits: StoreLimits) -> Result<Recovered, StoreError> {
    let started = Instant::now();
    fs::create_dir_all(dir)?;
    let mut ids = Vec::new();
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".tmp") {
            let _ = fs::remove_file(dir.join(name.as_ref()));
        } else if let Some(id) = name
            .strip_suffix(".seg")
            .and_then(|s| s.parse::<u32>().ok())
        {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    let mut core = Core::new(limits);
    let mut segments = BTreeMap::new();
    let mut report = RecoveryReport::default();
    let mut pending = Pending {
        tombstones: Vec::new(),
        floor: 0,
        floor_last: (0, 0),
        max_msg: (0, 0),
    };
    let last_id = ids.last().copied();
    for id in ids {
        match load_segment(
            dir,
            id,
            Some(id) == last_id,
            &mut core,
            &mut pending,
            &mut report,
        )? {
            Some(seg) => {
                segments.insert(id, seg);
            }
            None => report
                .ignored_segments
                .push(seg_path(dir, id).display().to_string()),
        }
    }
    core.note_last(pending.max_msg.0, pending.max_msg.1);
    core.note_last(pending.floor_last.0, pending.floor_last.1);
    if pending.floor > 0 {
        core.compact(pending.floor, &mut |_, _| {});
    }
    for seq in pending.tombstones {
        core.remove(seq);
    }
    let last = core.last_seq();
    for (seq, e) in core.range(0, last) {
        if let Some(seg) = segments.get_mut(&e.loc.seg) {
            seg.live += 1;
            if seg.min_seq == 0 {
                seg.min_seq = seq;
            }
        }
    }
    report.segments = segments.len();
    report.duration = started.elapsed();
    Ok(Recovered {
        core,
        segments,
        report,
    })
}

fn load_segment(
    dir: &Path,
    id: u32,
    is_last: bool,
    core: &mut Core<FileLoc>,
    pending: &mut Pending,
    report: &mut RecoveryReport,
) -> Result<Option<Segment>, StoreError> {
    let path = seg_path(dir, id);
    let file = OpenOptions::new().read(true).write(true).open(&path)?;
    let mut len = file.metadata()?.len();
    let mut header = [0u8; SEG_HEADER_LEN as usize];
    let header_ok = len >= SEG_HEADER_LEN
        && file.read_exact_at(&mut header, 0).is_ok()
        && record::check_segment_header(&header, id);
    if !header_ok {
        if is_last && len <= SEG_HEADER_LEN {
            // Torn while being created: nothing was acked in it, so start it afresh.
            file.set_len(0)?;
            file.write_all_at(&record::segment_header(id), 0)?;
            report.truncated_bytes += len;
            return Ok(Some(Segment::new(id, file, SEG_HEADER_LEN)));
        }
        return Ok(None);
    }
    let mut seg = Segment::new(id, file, len);
    let mut from = SEG_HEADER_LEN;
    let usable = |i: &index::SegmentIndex| {
        i.covered_len >= from
            && i.covered_len <= len
            && i.entries.iter().all(|e| {
                u64::from(e.off) >= SEG_HEADER_LEN
                    && u64::from(e.off) + u64::from(e.len) <= i.covered_len
            })
    };
    if let Some(idx) = index::read(dir, id).filter(usable) {
        report.indexed_segments += 1;
        // Floors first: one past the end must not turn the sequence gap into slots.
        note_floor(
            core,
            pending,
            &mut seg,
            idx.floor,
            idx.floor_last_seq,
            idx.floor_last_ts,
        );
        note_max(&mut pending.max_msg, idx.max_seq, idx.max_ts);
        for e in &idx.entries {
            let Some(subject) = idx.subjects.get(e.subj as usize) else {
                continue;
            };
            let loc = FileLoc {
                seg: id,
                off: e.off,
                len: e.len,
            };
            push(core, report, e.seq, subject, e.ts, e.size, loc);
        }
        seg.max_seq = idx.max_seq;
        seg.max_ts = idx.max_ts;
        seg.indexed_len = idx.covered_len;
        from = idx.covered_len;
    }
    if from < len {
        let mut tail = vec![
            0u8;
            usize::try_from(len - from)
                .map_err(|_| io::Error::other("segment too large"))?
        ];
        seg.file.read_exact_at(&mut tail, from)?;
        report.scanned_bytes += tail.len() as u64;
        let outcome = record::scan(&tail, |off, rlen, rec| match rec {
            Record::Msg {
                seq,
                ts,
                subject,
                headers,
                payload,
            } => {
                let size = super::file_msg_size(subject, headers, payload) as u32;
                let loc = FileLoc {
                    seg: id,
                    off: (from + off as u64) as u32,
                    len: rlen as u32,
                };
                push(core, report, seq, subject, ts, size, loc);
                note_max(&mut pending.max_msg, seq, ts);
                if seq > seg.max_seq {
                    seg.max_seq = seq;
                    seg.max_ts = ts;
                }
            }
            Record::Tombstone { seq } => pending.tombstones.push(seq),
            Record::Floor {
                floor,
                last_seq,
                last_ts,
            } => note_floor(core, pending, &mut seg, floor, last_seq, last_ts),
        });
        for (a, b) in outcome.corrupt {
            report
                .corrupt
                .push((path.display().to_string(), from + a as u64, from + b as u64));
        }
        let valid = from + outcome.valid_end as u64;
        if valid < len {
            seg.file.set_len(valid)?;
            report.truncated_bytes += len - valid;
            len = valid;
        }
        seg.len = len;
    }
    Ok(Some(seg))
}

fn push(
    core: &mut Core<FileLoc>,
    report: &mut RecoveryReport,
    seq: u64,
    subject: &[u8],
    ts: i64,
    size: u32,
    loc: FileLoc,
) {
    if seq <= core.last_seq() || seq == 0 {
        report.out_of_order += 1;
        return;
    }
    core.push(seq, subject, ts, size, loc);
}

fn note_max(max: &mut (u64, i64), seq: u64, ts: i64) {
    if seq > max.0 {
        *max = (seq, ts);
    }
}

/// Applies a floor record at once: records after it are newer, so nothing below it can
/// still arrive, and applying it early keeps a purge past the end from leaving a gap of
/// empty slots when later messages are pushed.
fn note_floor(
    core: &mut Core<FileLoc>,
    pending: &mut Pending,
    seg: &mut Segment,
    floor: u64,
    last_seq: u64,
    last_ts: i64,
) {
    if floor == 0 {
        return;
    }
    // Only the floor itself: its `last_seq` may name messages of this very segment that
    // are pushed after it, so that part waits for the end of recovery.
    core.compact(floor, &mut |_, _| {});
    if floor > seg.floor {
        seg.floor = floor;
        seg.floor_last_seq = last_seq;
        seg.floor_last_ts = last_ts;
    }
    pending.floor = pending.floor.max(floor);
    if last_seq > pending.floor_last.0 {
        pending.floor_last = (last_seq, last_ts);
    }
}
