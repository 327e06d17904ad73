//! Removal and purges, and the state numbers they leave (compared with nats-server's).
#![allow(clippy::unwrap_used)]

mod store_common;

use bytes::Bytes;
use sluice::jetstream::store::{PurgeRequest, StoreLimits, StreamState};
use store_common::{Harness, both};

fn fill(h: &Harness, subjects: &[&str]) {
    for (i, s) in subjects.iter().enumerate() {
        h.add(s, "x", 100 + i as i64);
    }
}

fn brief(st: StreamState) -> (u64, u64, u64, u64, u64) {
    (
        st.msgs,
        st.first_seq,
        st.last_seq,
        st.num_deleted,
        st.num_subjects,
    )
}

fn req(subject: Option<&str>, keep: Option<u64>, up_to_seq: Option<u64>) -> PurgeRequest {
    PurgeRequest {
        subject: subject.map(|s| Bytes::copy_from_slice(s.as_bytes())),
        keep,
        up_to_seq,
    }
}

#[test]
fn remove_moves_first_and_counts_interior_deletes() {
    both(StoreLimits::default(), |h| {
        fill(h, &["a", "b", "a", "c", "a"]);
        let s = h.store();
        assert!(s.remove(3).unwrap());
        assert!(!s.remove(3).unwrap());
        assert!(!s.remove(99).unwrap());
        assert_eq!(brief(s.state()), (4, 1, 5, 1, 3));
        assert!(s.remove(1).unwrap());
        assert_eq!(brief(s.state()), (3, 2, 5, 1, 3));
        assert!(s.remove(2).unwrap());
        // first_seq skips the interior hole at 3.
        assert_eq!(brief(s.state()), (2, 4, 5, 0, 2));
        assert_eq!(s.state().first_ts, 103);
        h.reopen();
        let s = h.store();
        assert_eq!(brief(s.state()), (2, 4, 5, 0, 2));
        assert!(s.remove(5).unwrap());
        assert!(s.remove(4).unwrap());
        h.reopen();
        let s = h.store();
        let st = s.state();
        assert_eq!(brief(st), (0, 6, 5, 0, 0));
        assert_eq!((st.bytes, st.first_ts, st.last_ts), (0, 0, 104));
        assert_eq!(h.add("d", "x", 200), 6);
    });
}

#[test]
fn purge_all() {
    both(StoreLimits::default(), |h| {
        fill(h, &["a", "b", "c"]);
        assert_eq!(h.store().purge(&PurgeRequest::default()).unwrap(), 3);
        h.reopen();
        assert_eq!(brief(h.store().state()), (0, 4, 3, 0, 0));
        assert_eq!(h.store().purge(&PurgeRequest::default()).unwrap(), 0);
        assert_eq!(h.add("a", "x", 1), 4);
        assert_eq!(brief(h.store().state()), (1, 4, 4, 0, 1));
    });
}

#[test]
fn purge_by_subject() {
    both(StoreLimits::default(), |h| {
        fill(h, &["o.eu", "o.us", "u.1", "o.eu", "u.2"]);
        assert_eq!(h.store().purge(&req(Some("o.*"), None, None)).unwrap(), 3);
        h.reopen();
        let s = h.store();
        assert_eq!(brief(s.state()), (2, 3, 5, 1, 2));
        assert_eq!(s.purge(&req(Some("u.1"), None, None)).unwrap(), 1);
        assert_eq!(brief(s.state()), (1, 5, 5, 0, 1));
    });
}

#[test]
fn purge_keep() {
    both(StoreLimits::default(), |h| {
        fill(h, &["a", "b", "a", "b", "a", "a"]);
        // keep applies to all matching messages together, like nats-server's PurgeEx.
        assert_eq!(h.store().purge(&req(Some("a"), Some(2), None)).unwrap(), 2);
        h.reopen();
        assert_eq!(brief(h.store().state()), (4, 2, 6, 1, 2));
        assert_eq!(h.store().purge(&req(None, Some(1), None)).unwrap(), 3);
        assert_eq!(brief(h.store().state()), (1, 6, 6, 0, 1));
        assert_eq!(h.store().purge(&req(None, Some(5), None)).unwrap(), 0);
    });
}

#[test]
fn purge_up_to_sequence() {
    both(StoreLimits::default(), |h| {
        fill(h, &["a", "b", "a", "b", "a"]);
        assert_eq!(h.store().purge(&req(None, None, Some(1))).unwrap(), 0);
        assert_eq!(h.store().purge(&req(None, None, Some(3))).unwrap(), 2);
        h.reopen();
        assert_eq!(brief(h.store().state()), (3, 3, 5, 0, 2));
        assert_eq!(h.store().purge(&req(Some("b"), None, Some(5))).unwrap(), 1);
        assert_eq!(brief(h.store().state()), (2, 3, 5, 1, 1));
        // Past the end: everything goes and the next sequence is the one asked for.
        assert_eq!(h.store().purge(&req(None, None, Some(10))).unwrap(), 2);
        h.reopen();
        let st = h.store().state();
        assert_eq!(brief(st), (0, 10, 9, 0, 0));
        assert_eq!(h.add("z", "x", 1), 10);
    });
}

#[test]
fn purge_far_past_the_end_leaves_no_gap_to_fill() {
    both(StoreLimits::default(), |h| {
        fill(h, &["a", "b"]);
        let far = 1u64 << 40;
        assert_eq!(h.store().purge(&req(None, None, Some(far))).unwrap(), 2);
        assert_eq!(h.add("c", "x", 1), far);
        h.reopen(); // must not allocate a slot per skipped sequence
        assert_eq!(brief(h.store().state()), (1, far, far, 0, 1));
        assert_eq!(h.add("d", "x", 2), far + 1);
        // At the very end of the sequence space appends are refused, not wrapped.
        h.store().purge(&req(None, None, Some(u64::MAX))).unwrap();
        assert!(h.store().append(b"e", None, b"", 3).is_err());
        h.reopen();
        assert_eq!(h.store().state().last_seq, u64::MAX - 1);
    });
}
