//! File store: state survives a clean reopen and a crash-style reopen (no checkpoint),
//! across many segments, with deletes and purges.
#![allow(clippy::unwrap_used)]

mod store_common;

use std::fs;
use std::path::Path;

use bytes::Bytes;
use sluice::jetstream::store::{MessageStore, PurgeRequest, StoreLimits, StoredMessage};
use store_common::open_file;

fn seg_files(dir: &Path) -> usize {
    fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".seg")
        })
        .count()
}

fn all(s: &dyn MessageStore) -> Vec<StoredMessage> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(m) = s.load_next(from, None).unwrap() {
        from = m.seq + 1;
        out.push(m);
    }
    out
}

fn populate(s: &dyn MessageStore, n: u64) {
    for i in 0..n {
        let subj = format!("orders.{}", i % 7);
        let hdr = (i % 3 == 0).then(|| format!("NATS/1.0\r\nI: {i}\r\n\r\n"));
        s.append(
            subj.as_bytes(),
            hdr.as_deref().map(str::as_bytes),
            &vec![b'x'; (i % 50) as usize],
            i as i64,
        )
        .unwrap();
    }
}

#[test]
fn clean_reopen_keeps_everything_and_scans_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (state, msgs, subjects) = {
        let s = open_file(dir.path(), StoreLimits::default(), 4096);
        populate(&s, 2000);
        for seq in (10..2000).step_by(13) {
            s.remove(seq).unwrap();
        }
        s.purge(&PurgeRequest {
            subject: Some(Bytes::from_static(b"orders.3")),
            keep: Some(5),
            up_to_seq: None,
        })
        .unwrap();
        (s.state(), all(&s), s.subjects(b">"))
    };
    assert!(seg_files(dir.path()) > 10, "expected many segments");
    let s = open_file(dir.path(), StoreLimits::default(), 4096);
    assert_eq!(s.state(), state);
    assert_eq!(all(&s), msgs);
    assert_eq!(s.subjects(b">"), subjects);
    let report = s.recovery_report();
    assert_eq!(report.scanned_bytes, 0, "{report:?}");
    assert!(report.corrupt.is_empty() && report.truncated_bytes == 0);
    assert_eq!(s.append(b"next", None, b"", 0).unwrap(), state.last_seq + 1);
}

#[test]
fn crash_reopen_rebuilds_from_segments() {
    let dir = tempfile::tempdir().unwrap();
    let s = open_file(dir.path(), StoreLimits::default(), 4096);
    populate(&s, 1500);
    s.remove(700).unwrap();
    s.purge(&PurgeRequest {
        subject: None,
        keep: None,
        up_to_seq: Some(100),
    })
    .unwrap();
    let (state, msgs) = (s.state(), all(&s));
    // No clean close: the active segment has no checkpoint and is scanned.
    std::mem::forget(s);
    for e in fs::read_dir(dir.path()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "idx") && p.file_name().unwrap() < "0000000005" {
            fs::remove_file(p).unwrap(); // lost checkpoints only cost a scan
        }
    }
    let s = open_file(dir.path(), StoreLimits::default(), 4096);
    assert_eq!(s.state(), state);
    assert_eq!(all(&s), msgs);
    assert!(s.recovery_report().scanned_bytes > 0);
}

#[test]
fn purges_free_whole_segments() {
    let dir = tempfile::tempdir().unwrap();
    let s = open_file(dir.path(), StoreLimits::default(), 4096);
    populate(&s, 3000);
    let before = seg_files(dir.path());
    s.purge(&PurgeRequest {
        subject: None,
        keep: Some(10),
        up_to_seq: None,
    })
    .unwrap();
    assert!(
        seg_files(dir.path()) <= 2,
        "{} of {before} segments left",
        seg_files(dir.path())
    );
    drop(s);
    let s = open_file(dir.path(), StoreLimits::default(), 4096);
    let st = s.state();
    assert_eq!((st.msgs, st.first_seq, st.last_seq), (10, 2991, 3000));
    s.purge(&PurgeRequest::default()).unwrap();
    drop(s);
    let s = open_file(dir.path(), StoreLimits::default(), 4096);
    let st = s.state();
    assert_eq!(
        (st.msgs, st.first_seq, st.last_seq, st.last_ts),
        (0, 3001, 3000, 2999)
    );
    assert_eq!(seg_files(dir.path()), 1);
}

#[test]
fn interior_deletes_in_sealed_segments_survive() {
    let dir = tempfile::tempdir().unwrap();
    let s = open_file(dir.path(), StoreLimits::default(), 4096);
    populate(&s, 1000);
    // Empty a middle segment entirely, and punch holes in others.
    for seq in 200..400 {
        s.remove(seq).unwrap();
    }
    s.remove(5).unwrap();
    s.remove(999).unwrap();
    let (state, msgs) = (s.state(), all(&s));
    std::mem::forget(s);
    let s = open_file(dir.path(), StoreLimits::default(), 4096);
    assert_eq!(s.state(), state);
    assert_eq!(all(&s), msgs);
    drop(s);
    let s = open_file(dir.path(), StoreLimits::default(), 4096);
    assert_eq!(s.state(), state);
}
