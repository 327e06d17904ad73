//! Unit tests of the sublist: wildcards, queue groups, pruning, cache invalidation, stats.

use super::*;
use std::collections::BTreeSet;

fn sub(id: u32) -> Arc<u32> {
    Arc::new(id)
}
fn set(v: &[u32]) -> BTreeSet<u32> {
    v.iter().copied().collect()
}
fn ids(sl: &Sublist<u32>, subject: &str) -> BTreeSet<u32> {
    let r = sl.matches(subject.as_bytes());
    r.plain.iter().map(|s| **s).collect()
}
fn group(r: &MatchResult<u32>, name: &str) -> BTreeSet<u32> {
    let mut g = r.queues.iter().filter(|g| g.name == name);
    let found = g.next().map(|g| g.members.iter().map(|s| **s).collect());
    assert!(g.next().is_none(), "queue group {name} listed twice");
    found.unwrap_or_default()
}
fn cache_len(sl: &Sublist<u32>) -> usize {
    sl.cache.map.read().len()
}

#[test]
fn matching_with_wildcards() {
    let sl = Sublist::new();
    let pats = [
        "foo", "foo.bar", "foo.*", "foo.>", "*.bar", ">", "*", "a.*.c.>", "foo*.bar",
    ];
    for (i, p) in pats.iter().enumerate() {
        sl.insert(p.as_bytes(), None, sub(i as u32)).unwrap();
    }
    for _ in 0..2 {
        // The second round is served from the cache.
        assert_eq!(ids(&sl, "foo"), set(&[0, 5, 6]));
        assert_eq!(ids(&sl, "foo.bar"), set(&[1, 2, 3, 4, 5]));
        assert_eq!(ids(&sl, "foo.bar.baz"), set(&[3, 5]));
        assert_eq!(ids(&sl, "a.b.c"), set(&[5]), "`>` needs a token");
        assert_eq!(ids(&sl, "a.b.c.d"), set(&[5, 7]));
        assert_eq!(ids(&sl, "foo*.bar"), set(&[4, 5, 8]), "`foo*` is literal");
        assert_eq!(ids(&sl, "fooX.bar"), set(&[4, 5]));
    }
    assert_eq!(sl.matches(b"foo.bar").len(), 5);
    let before = cache_len(&sl);
    for s in ["", ".", ".foo", "foo.", "foo..bar"] {
        assert!(sl.matches(s.as_bytes()).is_empty(), "{s:?}");
    }
    assert_eq!(cache_len(&sl), before, "broken subjects are not cached");
}

#[test]
fn queue_groups_merge_across_levels() {
    let sl = Sublist::new();
    let four = sub(4);
    sl.insert(b"foo.bar", Some(b"q1"), sub(1)).unwrap();
    sl.insert(b"foo.*", Some(b"q1"), sub(2)).unwrap();
    sl.insert(b">", Some(b"q1"), sub(3)).unwrap();
    sl.insert(b"foo.>", Some(b"q2"), four.clone()).unwrap();
    sl.insert(b"foo.bar", None, sub(5)).unwrap();
    let r = sl.matches(b"foo.bar");
    assert_eq!((r.queues.len(), r.len()), (2, 3));
    assert_eq!(group(&r, "q1"), set(&[1, 2, 3]));
    assert_eq!(group(&r, "q2"), set(&[4]));
    sl.insert(b"*.bar", Some(b"q2"), sub(6)).unwrap();
    assert_eq!(group(&sl.matches(b"foo.bar"), "q2"), set(&[4, 6]));
    // Identity is the Arc, not the value; the wrong queue is not found.
    assert!(sl.remove(b"foo.>", Some(b"q2"), &Arc::new(4)).is_err());
    assert!(sl.remove(b"foo.>", Some(b"q1"), &four).is_err());
    sl.remove(b"foo.>", Some(b"q2"), &four).unwrap();
    assert_eq!(group(&sl.matches(b"foo.bar"), "q2"), set(&[6]));
}

#[test]
fn remove_prunes_and_generation_bumps() {
    let sl = Sublist::new();
    let pats = [
        "a.b.c.d", "a.b.c", "a.*.c.>", "a.b", ">", "x.y.z", "x.*", "a.b.c.d",
    ];
    let subs: Vec<_> = (0..pats.len() as u32).map(sub).collect();
    let queue = |s: &Arc<u32>| Some(&b"q"[..]).filter(|_| **s % 2 == 1);
    for (p, s) in pats.iter().zip(&subs) {
        let g = sl.generation();
        sl.insert(p.as_bytes(), queue(s), s.clone()).unwrap();
        sl.insert(p.as_bytes(), queue(s), s.clone()).unwrap(); // no-op
        assert_eq!(sl.generation(), g + 1, "one bump, none for the duplicate");
    }
    assert_eq!(sl.count(), pats.len());
    for (p, s) in pats.iter().zip(&subs).rev() {
        let g = sl.generation();
        sl.remove(p.as_bytes(), queue(s), s).unwrap();
        assert!(sl.generation() > g);
        let again = sl.remove(p.as_bytes(), queue(s), s);
        assert!(matches!(again, Err(SublistError::NotFound)));
    }
    assert_eq!(sl.count(), 0);
    assert!(sl.trie.read().root.is_empty());
    // Pruning below a node that still holds subs leaves it in place.
    let (keep, gone) = (sub(1), sub(2));
    sl.insert(b"a.b", None, keep.clone()).unwrap();
    sl.insert(b"a.b.c.d.e", None, gone.clone()).unwrap();
    sl.remove(b"a.b.c.d.e", None, &gone).unwrap();
    assert_eq!(ids(&sl, "a.b"), set(&[1]));
    sl.remove(b"a.b", None, &keep).unwrap();
    assert!(sl.trie.read().root.is_empty());
}

#[test]
fn cache_follows_inserts_and_removes() {
    let sl = Sublist::new();
    let (lit, pwc, fwc) = (sub(1), sub(2), sub(3));
    sl.insert(b"a.b.c.d", None, lit.clone()).unwrap();
    assert_eq!(ids(&sl, "a.b.c.d"), set(&[1]));
    assert!(sl.matches(b"other").is_empty());
    sl.insert(b"a.b.*.d", None, pwc.clone()).unwrap();
    assert_eq!(cache_len(&sl), 1, "only the matching entry is dropped");
    sl.insert(b"a.b.>", None, fwc.clone()).unwrap();
    assert_eq!(ids(&sl, "a.b.c.d"), set(&[1, 2, 3]));
    sl.remove(b"a.b.c.d", None, &lit).unwrap();
    assert_eq!(ids(&sl, "a.b.c.d"), set(&[2, 3]));
    sl.remove(b"a.b.>", None, &fwc).unwrap();
    assert_eq!(ids(&sl, "a.b.c.d"), set(&[2]));
    sl.insert(b"other", None, sub(4)).unwrap();
    assert_eq!(ids(&sl, "other"), set(&[4]), "insert behind a cached miss");
    sl.insert(b">", None, sub(5)).unwrap();
    assert_eq!(ids(&sl, "other"), set(&[4, 5]));
    for i in 0..2 * CACHE_MAX {
        sl.matches(format!("foo.{i}").as_bytes());
        assert!(cache_len(&sl) <= CACHE_MAX);
    }
    assert!(cache_len(&sl) >= CACHE_SWEEP);
}

#[test]
fn stats_like_nats_server() {
    let sl = Sublist::new();
    sl.insert(b"foo", None, sub(1)).unwrap();
    for _ in 0..4 {
        sl.matches(b"foo");
    }
    let st = sl.stats();
    assert_eq!(
        (st.cache_hit_rate, st.num_matches, st.num_subscriptions),
        (0.75, 4, 1)
    );
    sl.insert(b"bar", Some(b"q"), sub(2)).unwrap();
    sl.insert(b"bar", Some(b"q"), sub(3)).unwrap();
    sl.insert(b"bar", None, sub(4)).unwrap();
    sl.matches(b"bar");
    sl.matches(b"none");
    let st = sl.stats();
    assert_eq!((st.num_cache, st.max_fanout, st.avg_fanout), (3, 2, 1.0));
    assert_eq!((st.num_inserts, st.num_removes), (4, 0));
    let json = serde_json::to_string(&st).unwrap();
    let head = r#"{"num_subscriptions":4,"num_cache":3,"num_inserts":4,"num_removes":0,"#;
    let tail = r#""num_matches":6,"cache_hit_rate":0.5,"max_fanout":2,"avg_fanout":1.0}"#;
    assert_eq!(json, format!("{head}{tail}"));
}

#[test]
fn concurrent_readers_see_their_writes() {
    let sl = Arc::new(Sublist::new());
    sl.store_delay_us.store(20, Ordering::Relaxed);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (sl, stop) = (sl.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    sl.matches(b"hot.subject");
                    std::thread::yield_now();
                }
            })
        })
        .collect();
    for i in 0..500u32 {
        let s = sub(i);
        let pat: &[u8] = if i % 2 == 0 { b"hot.subject" } else { b"hot.*" };
        let has = |sl: &Sublist<u32>| {
            let r = sl.matches(b"hot.subject");
            r.plain.iter().any(|x| Arc::ptr_eq(x, &s))
        };
        sl.insert(pat, None, s.clone()).unwrap();
        // Give a reader that walked the old trie time to try to store it.
        std::thread::sleep(std::time::Duration::from_micros(40));
        assert!(has(&sl), "insert not visible");
        sl.remove(pat, None, &s).unwrap();
        assert!(!has(&sl), "remove not visible");
    }
    stop.store(true, Ordering::Relaxed);
    readers.into_iter().for_each(|r| r.join().unwrap());
}
