//! File store recovery from a torn tail (truncation at every offset of the last records,
//! a flipped byte in the last record) and from corruption in the middle.
#![allow(clippy::unwrap_used)]

mod store_common;

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use sluice::jetstream::store::{MessageStore, StoreError, StoreLimits};
use store_common::open_file;

const N: u64 = 40;
const PAYLOAD: &[u8] = b"0123456789abcdef";
/// Record length of one message: header 10 + fixed 22 + subject "s.x" 3 + payload.
const REC: u64 = 10 + 22 + 3 + 16;
const HEADER: u64 = 16;

fn write(dir: &Path) {
    let s = open_file(dir, StoreLimits::default(), 64 << 20);
    for i in 0..N {
        s.append(b"s.x", None, PAYLOAD, i as i64).unwrap();
    }
    // No clean close, as after kill -9: no checkpoint of the active segment.
    std::mem::forget(s);
}

fn seg(dir: &Path) -> PathBuf {
    dir.join("0000000001.seg")
}

fn copy(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), to.path().join(e.file_name())).unwrap();
    }
    to
}

fn check_all_load(s: &dyn MessageStore, n: u64) {
    let st = s.state();
    assert_eq!((st.msgs, st.last_seq), (n, n));
    for seq in 1..=n {
        assert_eq!(&s.load(seq).unwrap().unwrap().payload[..], PAYLOAD);
    }
}

#[test]
fn truncation_at_any_offset_keeps_complete_records() {
    let orig = tempfile::tempdir().unwrap();
    write(orig.path());
    let len = fs::metadata(seg(orig.path())).unwrap().len();
    assert_eq!(len, HEADER + N * REC);
    for cut in (len - 3 * REC..len).chain([HEADER, HEADER + 1, 5, 0]) {
        let dir = copy(orig.path());
        OpenOptions::new()
            .write(true)
            .open(seg(dir.path()))
            .unwrap()
            .set_len(cut)
            .unwrap();
        let complete = cut.saturating_sub(HEADER) / REC;
        let s = open_file(dir.path(), StoreLimits::default(), 64 << 20);
        check_all_load(&s, complete);
        let torn = cut.saturating_sub(HEADER) % REC;
        assert_eq!(
            s.recovery_report().truncated_bytes,
            if cut < HEADER { cut } else { torn }
        );
        assert_eq!(s.append(b"s.x", None, PAYLOAD, 0).unwrap(), complete + 1);
        drop(s);
        let s = open_file(dir.path(), StoreLimits::default(), 64 << 20);
        check_all_load(&s, complete + 1);
    }
}

#[test]
fn flipped_byte_in_last_record_is_a_torn_tail() {
    let orig = tempfile::tempdir().unwrap();
    write(orig.path());
    let len = fs::metadata(seg(orig.path())).unwrap().len();
    for at in [len - REC, len - REC + 3, len - REC + 20, len - 1] {
        let dir = copy(orig.path());
        let mut bytes = fs::read(seg(dir.path())).unwrap();
        bytes[at as usize] ^= 0x5a;
        fs::write(seg(dir.path()), bytes).unwrap();
        let s = open_file(dir.path(), StoreLimits::default(), 64 << 20);
        check_all_load(&s, N - 1);
        assert_eq!(s.recovery_report().truncated_bytes, REC);
    }
}

#[test]
fn corruption_in_the_middle_is_reported_and_survived() {
    let orig = tempfile::tempdir().unwrap();
    write(orig.path());
    let dir = copy(orig.path());
    let mut bytes = fs::read(seg(dir.path())).unwrap();
    let at = (HEADER + 10 * REC + 30) as usize; // inside the record of seq 11
    bytes[at] ^= 0xff;
    fs::write(seg(dir.path()), &bytes).unwrap();
    let s = open_file(dir.path(), StoreLimits::default(), 64 << 20);
    let st = s.state();
    assert_eq!((st.msgs, st.last_seq, st.num_deleted), (N - 1, N, 1));
    assert!(s.load(11).unwrap().is_none());
    assert_eq!(s.load(12).unwrap().unwrap().seq, 12);
    let r = s.recovery_report();
    assert_eq!(r.corrupt.len(), 1, "{r:?}");
    assert_eq!(
        (r.corrupt[0].1, r.corrupt[0].2),
        (HEADER + 10 * REC, HEADER + 11 * REC)
    );
    assert_eq!(r.truncated_bytes, 0);
    drop(s);

    // With a checkpoint the damaged record is not scanned at start-up; reading it reports
    // corruption and every other message still loads.
    let dir = copy(orig.path());
    drop(open_file(dir.path(), StoreLimits::default(), 64 << 20)); // clean close: checkpoint
    let mut bytes = fs::read(seg(dir.path())).unwrap();
    bytes[at] ^= 0xff;
    fs::write(seg(dir.path()), &bytes).unwrap();
    let s = open_file(dir.path(), StoreLimits::default(), 64 << 20);
    assert!(matches!(s.load(11), Err(StoreError::Corrupt(_))));
    assert_eq!(s.load(12).unwrap().unwrap().seq, 12);
    assert_eq!(s.state().msgs, N);
}

#[test]
fn a_bad_checkpoint_only_costs_a_scan() {
    let dir = tempfile::tempdir().unwrap();
    let s = open_file(dir.path(), StoreLimits::default(), 64 << 20);
    for i in 0..N {
        s.append(b"s.x", None, PAYLOAD, i as i64).unwrap();
    }
    s.remove(3).unwrap();
    let state = s.state();
    drop(s);
    let idx = dir.path().join("0000000001.idx");
    let mut b = fs::read(&idx).unwrap();
    b[40] ^= 1;
    fs::write(&idx, b).unwrap();
    let s = open_file(dir.path(), StoreLimits::default(), 64 << 20);
    assert_eq!(s.state(), state);
    assert!(s.recovery_report().scanned_bytes > 0);
}

#[test]
fn an_unreadable_segment_is_left_alone_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(seg(dir.path()), vec![7u8; 100]).unwrap();
    let s = open_file(dir.path(), StoreLimits::default(), 64 << 20);
    assert_eq!(s.recovery_report().ignored_segments.len(), 1);
    assert_eq!(s.append(b"s.x", None, PAYLOAD, 1).unwrap(), 1);
    drop(s);
    let s = open_file(dir.path(), StoreLimits::default(), 64 << 20);
    check_all_load(&s, 1);
    assert_eq!(fs::read(seg(dir.path())).unwrap(), vec![7u8; 100]);
}
