//! `num_pending` and per-subject counts with filters.
#![allow(clippy::unwrap_used)]

mod store_common;

use sluice::jetstream::store::StoreLimits;
use store_common::both;

#[test]
fn num_pending_with_filters() {
    both(StoreLimits::default(), |h| {
        for (i, s) in ["a.1", "b.1", "a.2", "a.1", "b.2", "c"].iter().enumerate() {
            h.add(s, "x", i as i64);
        }
        h.store().remove(4).unwrap();
        h.reopen();
        let s = h.store();
        let p = |from: u64, f: Option<&str>| s.num_pending(from, f.map(str::as_bytes));
        assert_eq!(p(0, None), 5);
        assert_eq!(p(1, None), 5);
        assert_eq!(p(4, None), 2);
        assert_eq!(p(5, None), 2);
        assert_eq!(p(6, None), 1);
        assert_eq!(p(7, None), 0);
        assert_eq!(p(1, Some("a.*")), 2);
        assert_eq!(p(3, Some("a.*")), 1);
        assert_eq!(p(4, Some("a.*")), 0);
        assert_eq!(p(1, Some("a.1")), 1);
        assert_eq!(p(2, Some("b.>")), 2);
        assert_eq!(p(5, Some("b.>")), 1);
        assert_eq!(p(1, Some(">")), 5);
        assert_eq!(p(1, Some("zzz")), 0);
    });
}

#[test]
fn subjects_counts_with_filter() {
    both(StoreLimits::default(), |h| {
        for s in ["kv.b", "kv.a", "kv.a", "other.x", "kv.c"] {
            h.add(s, "x", 1);
        }
        h.store().remove(5).unwrap();
        h.reopen();
        let s = h.store();
        let got: Vec<(String, u64)> = s
            .subjects(b"kv.*")
            .into_iter()
            .map(|(k, v)| (String::from_utf8(k.to_vec()).unwrap(), v))
            .collect();
        assert_eq!(got, vec![("kv.a".into(), 2), ("kv.b".into(), 1)]);
        assert_eq!(s.subjects(b">").len(), 3);
        assert_eq!(s.subjects(b"other.x"), vec![("other.x".into(), 1)]);
        assert!(s.subjects(b"none").is_empty());
    });
}
