//! Append, point loads, filtered `load_next` and `load_last`, against both stores.
#![allow(clippy::unwrap_used)]

mod store_common;

use sluice::jetstream::store::StoreLimits;
use store_common::both;

#[test]
fn append_assigns_sequences_and_loads_back() {
    both(StoreLimits::default(), |h| {
        let s = h.store();
        assert_eq!(s.append(b"a.b", None, b"one", 10).unwrap(), 1);
        assert_eq!(
            s.append(b"a.c", Some(b"NATS/1.0\r\nX: 1\r\n\r\n"), b"two", 20)
                .unwrap(),
            2
        );
        assert_eq!(s.append(b"a.b", Some(b""), b"", 30).unwrap(), 3);
        h.reopen();
        let s = h.store();
        let m = s.load(2).unwrap().unwrap();
        assert_eq!(
            (m.seq, &m.subject[..], &m.payload[..], m.timestamp),
            (2, &b"a.c"[..], &b"two"[..], 20)
        );
        assert_eq!(m.headers.as_deref(), Some(&b"NATS/1.0\r\nX: 1\r\n\r\n"[..]));
        assert_eq!(s.load(1).unwrap().unwrap().headers, None);
        assert_eq!(
            s.load(3).unwrap().unwrap().headers.as_deref(),
            Some(&b""[..])
        );
        assert!(s.load(0).unwrap().is_none());
        assert!(s.load(4).unwrap().is_none());
        let st = s.state();
        assert_eq!(
            (st.msgs, st.first_seq, st.first_ts, st.last_seq, st.last_ts),
            (3, 1, 10, 3, 30)
        );
        assert_eq!((st.num_deleted, st.num_subjects), (0, 2));
        let bytes = h.size("a.b", None, b"one")
            + h.size("a.c", Some(b"NATS/1.0\r\nX: 1\r\n\r\n"), b"two")
            + h.size("a.b", Some(b""), b"");
        assert_eq!(st.bytes, bytes);
        assert_eq!(s.append(b"x", None, b"", 40).unwrap(), 4);
    });
}

#[test]
fn empty_store_state_matches_nats_server() {
    both(StoreLimits::default(), |h| {
        let st = h.store().state();
        assert_eq!((st.msgs, st.first_seq, st.last_seq, st.bytes), (0, 0, 0, 0));
        assert!(h.store().load_next(0, None).unwrap().is_none());
        assert!(h.store().load_last(b">").unwrap().is_none());
    });
}

#[test]
fn load_next_with_filters() {
    both(StoreLimits::default(), |h| {
        for (i, subj) in [
            "orders.eu.1",
            "orders.us.1",
            "users.1",
            "orders.eu.2",
            "users.2",
        ]
        .iter()
        .enumerate()
        {
            h.add(subj, "x", i as i64);
        }
        h.reopen();
        let s = h.store();
        let next = |from: u64, f: Option<&str>| {
            s.load_next(from, f.map(str::as_bytes))
                .unwrap()
                .map(|m| m.seq)
        };
        assert_eq!(next(0, None), Some(1));
        assert_eq!(next(2, None), Some(2));
        assert_eq!(next(6, None), None);
        assert_eq!(next(1, Some("users.*")), Some(3));
        assert_eq!(next(4, Some("users.*")), Some(5));
        assert_eq!(next(1, Some("orders.>")), Some(1));
        assert_eq!(next(2, Some("orders.*.1")), Some(2));
        assert_eq!(next(3, Some("orders.*.1")), None);
        assert_eq!(next(1, Some("orders.eu.2")), Some(4));
        assert_eq!(next(5, Some("orders.eu.2")), None);
        assert_eq!(next(1, Some("nothing")), None);
        assert_eq!(next(1, Some(">")), Some(1));
        assert_eq!(next(1, Some("*")), None);
        s.remove(3).unwrap();
        assert_eq!(next(1, Some("users.*")), Some(5));
    });
}

#[test]
fn load_last_by_subject_and_pattern() {
    both(StoreLimits::default(), |h| {
        h.add("kv.a", "1", 1);
        h.add("kv.b", "2", 2);
        h.add("kv.a", "3", 3);
        h.add("other", "4", 4);
        h.reopen();
        let s = h.store();
        let last = |f: &str| s.load_last(f.as_bytes()).unwrap().map(|m| m.seq);
        assert_eq!(last("kv.a"), Some(3));
        assert_eq!(last("kv.b"), Some(2));
        assert_eq!(last("kv.*"), Some(3));
        assert_eq!(last(">"), Some(4));
        assert_eq!(last("kv.c"), None);
        s.remove(3).unwrap();
        assert_eq!(last("kv.a"), Some(1));
        assert_eq!(last("kv.*"), Some(2));
        s.remove(4).unwrap();
        assert_eq!(last(">"), Some(2));
        assert_eq!(&s.load_last(b"kv.a").unwrap().unwrap().payload[..], b"1");
    });
}
