//! Property test: random operation sequences give the same results on the file store (with
//! reopens, clean and crash-style) as on the memory store. `bytes` differs by design (each
//! store counts like its nats-server counterpart), so it is compared through each store's
//! own size formula instead.
#![allow(clippy::unwrap_used)]

mod store_common;

use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use sluice::jetstream::store::{
    Discard, FileStore, MemoryStore, MessageStore, PurgeRequest, StoreLimits, StreamState,
    file_msg_size, memory_msg_size,
};
use store_common::open_file;

const SUBJECTS: &[&str] = &["a.1", "a.2", "b.1", "b.2.x", "c"];
const FILTERS: &[&str] = &["a.*", "a.1", "b.>", ">", "c", "*.1", "zz"];

#[derive(Debug, Clone)]
enum Op {
    Append {
        subj: usize,
        hdr: bool,
        len: usize,
    },
    Remove(u64),
    Purge {
        filter: Option<usize>,
        keep: Option<u64>,
        up_to: Option<u64>,
    },
    Expire(i64),
    Reopen {
        clean: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0..SUBJECTS.len(), any::<bool>(), 0..300usize)
            .prop_map(|(subj, hdr, len)| Op::Append { subj, hdr, len }),
        3 => (0..40u64).prop_map(Op::Remove),
        1 => (
            proptest::option::of(0..FILTERS.len()),
            proptest::option::weighted(0.3, 0..4u64),
            proptest::option::weighted(0.3, 0..45u64)
        )
            .prop_map(|(filter, keep, up_to)| Op::Purge { filter, keep, up_to }),
        1 => (0..60i64).prop_map(Op::Expire),
        1 => any::<bool>().prop_map(|clean| Op::Reopen { clean }),
    ]
}

fn limits() -> impl Strategy<Value = StoreLimits> {
    (
        prop_oneof![Just(-1i64), 3..12i64],
        prop_oneof![Just(-1i64), 1..4i64],
        prop_oneof![Just(0u64), 5..30u64],
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(max_msgs, per_subject, age, new, new_per)| StoreLimits {
            max_msgs,
            max_msgs_per_subject: per_subject,
            max_age: Duration::from_nanos(age),
            discard: if new { Discard::New } else { Discard::Old },
            discard_new_per_subject: new_per,
            ..StoreLimits::default()
        })
}

fn same_state(m: StreamState, f: StreamState, mem: &MemoryStore, file: &FileStore) {
    assert_eq!(StreamState { bytes: 0, ..m }, StreamState { bytes: 0, ..f });
    let (mut mb, mut fb) = (0, 0);
    let mut from = 0;
    while let Some(x) = mem.load_next(from, None).unwrap() {
        from = x.seq + 1;
        mb += memory_msg_size(&x.subject, x.headers.as_deref(), &x.payload);
        fb += file_msg_size(&x.subject, x.headers.as_deref(), &x.payload);
    }
    assert_eq!((m.bytes, f.bytes), (mb, fb));
    let _ = file;
}

fn compare(mem: &MemoryStore, file: &FileStore) {
    let (m, f) = (mem.state(), file.state());
    same_state(m, f, mem, file);
    for seq in 0..=m.last_seq + 1 {
        assert_eq!(
            mem.load(seq).unwrap(),
            file.load(seq).unwrap(),
            "load {seq}"
        );
    }
    // Batched scans (one read per run of records in the file store, which may end a batch
    // early at a segment's end) see what point loads see.
    let scan = |s: &dyn MessageStore, mut from: u64, max: usize| {
        let mut all = Vec::new();
        loop {
            let batch = s.load_batch(from, max).unwrap();
            assert!(batch.len() <= max);
            let Some(last) = batch.last() else {
                return all;
            };
            from = last.seq + 1;
            all.extend(batch);
        }
    };
    for from in [0, m.first_seq + 1, m.last_seq / 2] {
        for max in [1, 3, 64] {
            assert_eq!(
                scan(mem, from, max),
                scan(file, from, max),
                "batch {from} {max}"
            );
        }
    }
    for filter in FILTERS {
        let fb = Some(filter.as_bytes());
        assert_eq!(
            mem.load_last(filter.as_bytes()).unwrap(),
            file.load_last(filter.as_bytes()).unwrap()
        );
        assert_eq!(
            mem.subjects(filter.as_bytes()),
            file.subjects(filter.as_bytes())
        );
        for from in [0, m.first_seq + 1, m.last_seq / 2, m.last_seq] {
            assert_eq!(
                mem.load_next(from, fb).unwrap(),
                file.load_next(from, fb).unwrap()
            );
            assert_eq!(
                mem.num_pending(from, fb),
                file.num_pending(from, fb),
                "pending {from} {filter}"
            );
        }
    }
}

proptest! {
    // PROPTEST_CASES raises the count for a longer soak.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(96),
        ..ProptestConfig::default()
    })]

    #[test]
    fn file_store_behaves_like_memory_store(lim in limits(), ops in proptest::collection::vec(op(), 1..60)) {
        let dir = tempfile::tempdir().unwrap();
        let mem = MemoryStore::new(lim);
        let mut file = Some(open_file(dir.path(), lim, 4096));
        let mut ts = 0i64;
        for op in ops {
            let f = file.as_ref().unwrap();
            match op {
                Op::Append { subj, hdr, len } => {
                    ts += 1;
                    let payload = vec![b'0' + (ts % 10) as u8; len];
                    let hdr = hdr.then_some(&b"NATS/1.0\r\nA: b\r\n\r\n"[..]);
                    let subj = SUBJECTS[subj].as_bytes();
                    let a = mem.append(subj, hdr, &payload, ts).map_err(|e| e.to_string());
                    let b = f.append(subj, hdr, &payload, ts).map_err(|e| e.to_string());
                    prop_assert_eq!(a, b);
                }
                Op::Remove(seq) => prop_assert_eq!(mem.remove(seq).unwrap(), f.remove(seq).unwrap()),
                Op::Purge { filter, keep, up_to } => {
                    let req = PurgeRequest {
                        subject: filter.map(|i| Bytes::from_static(FILTERS[i].as_bytes())),
                        keep,
                        up_to_seq: up_to,
                    };
                    prop_assert_eq!(mem.purge(&req).unwrap(), f.purge(&req).unwrap());
                }
                Op::Expire(back) => {
                    let now = ts + back;
                    prop_assert_eq!(mem.expire(now).unwrap(), f.expire(now).unwrap());
                }
                Op::Reopen { clean } => {
                    let f = file.take().unwrap();
                    if clean { drop(f) } else { std::mem::forget(f) }
                    file = Some(open_file(dir.path(), lim, 4096));
                }
            }
            compare(&mem, file.as_ref().unwrap());
        }
        drop(file);
        let reopened = open_file(dir.path(), lim, 4096);
        compare(&mem, &reopened);
    }
}
