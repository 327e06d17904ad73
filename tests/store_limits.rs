//! Stream limits: max_msgs, max_bytes, per subject, message size, discard new, max_age.
#![allow(clippy::unwrap_used)]

mod store_common;

use std::time::Duration;

use sluice::jetstream::store::{
    Discard, MAX_BYTES_EXCEEDED, MAX_MSGS_EXCEEDED, MAX_MSGS_PER_SUBJECT_EXCEEDED, StoreError,
    StoreLimits,
};
use store_common::both;

fn limits(f: impl FnOnce(&mut StoreLimits)) -> StoreLimits {
    let mut l = StoreLimits::default();
    f(&mut l);
    l
}

#[test]
fn max_msgs_discard_old_drops_oldest() {
    both(limits(|l| l.max_msgs = 3), |h| {
        for i in 1..=5 {
            h.add("a", "x", i);
        }
        h.reopen();
        let st = h.store().state();
        assert_eq!(
            (st.msgs, st.first_seq, st.last_seq, st.num_deleted),
            (3, 3, 5, 0)
        );
        assert_eq!(st.first_ts, 3);
        assert!(h.store().load(2).unwrap().is_none());
        assert_eq!(h.add("a", "x", 6), 6);
        assert_eq!(h.store().state().first_seq, 4);
    });
}

#[test]
fn max_bytes_discard_old_drops_oldest() {
    both(StoreLimits::default(), |h| {
        let one = h.size("a", None, b"xxxx");
        let lim = limits(|l| l.max_bytes = (3 * one + one / 2) as i64);
        h.store().set_limits(lim).unwrap();
        h.limits = lim;
        for i in 1..=5 {
            h.add("a", "xxxx", i);
        }
        h.reopen();
        let st = h.store().state();
        assert_eq!((st.msgs, st.bytes, st.first_seq), (3, 3 * one, 3));
    });
}

#[test]
fn max_msgs_per_subject_keeps_newest_per_subject() {
    both(limits(|l| l.max_msgs_per_subject = 2), |h| {
        h.add("a", "1", 1);
        h.add("b", "2", 2);
        h.add("a", "3", 3);
        h.add("a", "4", 4); // drops seq 1
        h.add("a", "5", 5); // drops seq 3: an interior delete
        h.reopen();
        let s = h.store();
        let st = s.state();
        assert_eq!(
            (st.msgs, st.first_seq, st.last_seq, st.num_deleted),
            (3, 2, 5, 1)
        );
        assert_eq!(s.subjects(b">"), vec![("a".into(), 2), ("b".into(), 1)]);
        assert!(s.load(3).unwrap().is_none());
        assert_eq!(s.load_last(b"a").unwrap().unwrap().seq, 5);
    });
}

#[test]
fn max_msg_size_counts_headers_and_payload() {
    both(limits(|l| l.max_msg_size = 10), |h| {
        let s = h.store();
        assert_eq!(s.append(b"a", None, b"0123456789", 1).unwrap(), 1);
        assert!(matches!(
            s.append(b"a", None, b"0123456789a", 2),
            Err(StoreError::MaxMessageSize)
        ));
        assert!(matches!(
            s.append(b"a", Some(b"hdr"), b"01234567", 2),
            Err(StoreError::MaxMessageSize)
        ));
        assert_eq!(s.state().msgs, 1);
        assert_eq!(s.append(b"a", None, b"", 3).unwrap(), 2);
    });
}

#[test]
fn discard_new_refuses_at_max_msgs_and_max_bytes() {
    both(
        limits(|l| {
            l.max_msgs = 2;
            l.discard = Discard::New;
        }),
        |h| {
            h.add("a", "1", 1);
            h.add("b", "2", 2);
            h.reopen();
            let err = h.store().append(b"c", None, b"3", 3).unwrap_err();
            assert!(
                matches!(err, StoreError::StoreFull(MAX_MSGS_EXCEEDED)),
                "{err}"
            );
            assert_eq!(h.store().state().msgs, 2);
            h.store().remove(1).unwrap();
            assert_eq!(h.add("c", "3", 3), 3);
        },
    );
    both(StoreLimits::default(), |h| {
        let one = h.size("a", None, b"12345");
        let lim = limits(|l| {
            l.max_bytes = (2 * one) as i64;
            l.discard = Discard::New;
        });
        h.store().set_limits(lim).unwrap();
        h.add("a", "12345", 1);
        h.add("a", "12345", 2);
        let err = h.store().append(b"a", None, b"1", 3).unwrap_err();
        assert!(
            matches!(err, StoreError::StoreFull(MAX_BYTES_EXCEEDED)),
            "{err}"
        );
    });
}

#[test]
fn discard_new_per_subject() {
    let lim = limits(|l| {
        l.max_msgs_per_subject = 1;
        l.discard = Discard::New;
        l.discard_new_per_subject = true;
    });
    both(lim, |h| {
        h.add("kv.a", "1", 1);
        let err = h.store().append(b"kv.a", None, b"2", 2).unwrap_err();
        assert!(matches!(
            err,
            StoreError::StoreFull(MAX_MSGS_PER_SUBJECT_EXCEEDED)
        ));
        assert_eq!(h.add("kv.b", "2", 2), 2);
    });
    // Without the per-subject flag the subject's oldest is replaced, and a stream at
    // max_msgs still accepts a message that replaces one (nats-server's `asl`).
    let lim = limits(|l| {
        l.max_msgs_per_subject = 1;
        l.max_msgs = 2;
        l.discard = Discard::New;
    });
    both(lim, |h| {
        h.add("kv.a", "1", 1);
        h.add("kv.b", "2", 2);
        assert_eq!(h.add("kv.a", "3", 3), 3);
        let st = h.store().state();
        assert_eq!((st.msgs, st.first_seq), (2, 2));
        let err = h.store().append(b"kv.c", None, b"", 4).unwrap_err();
        assert!(matches!(err, StoreError::StoreFull(MAX_MSGS_EXCEEDED)));
    });
}

#[test]
fn max_age_expires_oldest_first() {
    both(limits(|l| l.max_age = Duration::from_nanos(150)), |h| {
        h.add("a", "1", 100);
        h.add("a", "2", 200);
        h.add("b", "3", 300);
        assert_eq!(h.store().expire(300).unwrap(), 1); // cutoff 150
        assert_eq!(h.store().expire(400).unwrap(), 1); // cutoff 250
        h.reopen();
        let st = h.store().state();
        assert_eq!(
            (st.msgs, st.first_seq, st.first_ts, st.num_subjects),
            (1, 3, 300, 1)
        );
        assert_eq!(h.store().expire(10_000).unwrap(), 1);
        let st = h.store().state();
        assert_eq!(
            (st.msgs, st.first_seq, st.last_seq, st.first_ts),
            (0, 4, 3, 0)
        );
    });
    both(StoreLimits::default(), |h| {
        h.add("a", "1", 1);
        assert_eq!(h.store().expire(i64::MAX).unwrap(), 0);
    });
}

#[test]
fn tightened_limits_apply_at_once() {
    both(StoreLimits::default(), |h| {
        for i in 0..10 {
            h.add(if i % 2 == 0 { "even" } else { "odd" }, "x", i);
        }
        let lim = limits(|l| l.max_msgs_per_subject = 3);
        h.store().set_limits(lim).unwrap();
        h.limits = lim;
        assert_eq!(h.store().state().msgs, 6);
        let lim = limits(|l| {
            l.max_msgs_per_subject = 3;
            l.max_msgs = 4;
        });
        h.store().set_limits(lim).unwrap();
        h.limits = lim;
        h.reopen();
        let st = h.store().state();
        assert_eq!((st.msgs, st.first_seq, st.last_seq), (4, 7, 10));
    });
}
