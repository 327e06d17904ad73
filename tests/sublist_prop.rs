//! Property tests: the trie (with its cache) must agree with the naive
//! definition "a subscription matches when `subject_matches(pattern, subject)`",
//! through random inserts, removals and interleaved matches; and the pattern
//! relations must agree with brute force over a small token universe.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use proptest::prelude::*;
use sluice::core::subject::{is_subset_match, is_valid_subject, subject_matches, subjects_overlap};
use sluice::core::sublist::{MatchResult, Sublist, SublistError};

/// One pattern token before rendering.
#[derive(Debug, Clone, Copy)]
enum Tok {
    Lit(usize),
    Star,
    Gt,
}

#[derive(Debug, Clone)]
enum Op {
    Insert(Vec<Tok>, Option<u8>),
    Remove(usize),
    Match(Vec<usize>),
}

fn tok() -> impl Strategy<Value = Tok> {
    prop_oneof![
        6 => (0usize..8).prop_map(Tok::Lit),
        2 => Just(Tok::Star),
        1 => Just(Tok::Gt),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (prop::collection::vec(tok(), 1..5), prop::option::of(0u8..3))
            .prop_map(|(p, q)| Op::Insert(p, q)),
        2 => any::<usize>().prop_map(Op::Remove),
        4 => prop::collection::vec(0usize..9, 1..6).prop_map(Op::Match),
    ]
}

/// Renders a pattern; a `>` that is not last becomes `*` so it stays valid.
fn render_pattern(alpha: &[String], toks: &[Tok]) -> String {
    let last = toks.len() - 1;
    let parts: Vec<&str> = toks
        .iter()
        .enumerate()
        .map(|(i, t)| match t {
            Tok::Lit(n) => alpha[n % alpha.len()].as_str(),
            Tok::Star => "*",
            Tok::Gt if i == last => ">",
            Tok::Gt => "*",
        })
        .collect();
    parts.join(".")
}

/// Renders a literal subject; index 8 is a token no pattern uses.
fn render_subject(alpha: &[String], toks: &[usize]) -> String {
    let parts: Vec<&str> = toks
        .iter()
        .map(|&n| {
            if n == 8 {
                "zzzz"
            } else {
                alpha[n % alpha.len()].as_str()
            }
        })
        .collect();
    parts.join(".")
}

/// A live subscription in the model: (id, pattern, queue, handle).
type Live = (u32, String, Option<String>, Arc<u32>);

type Groups = BTreeMap<String, BTreeSet<u32>>;

fn actual(r: &MatchResult<u32>) -> Result<(BTreeSet<u32>, Groups), TestCaseError> {
    let plain: BTreeSet<u32> = r.plain.iter().map(|s| **s).collect();
    prop_assert_eq!(plain.len(), r.plain.len(), "duplicate plain member");
    let mut groups = Groups::new();
    for g in &r.queues {
        let name =
            String::from_utf8(g.name.to_vec()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let members: BTreeSet<u32> = g.members.iter().map(|s| **s).collect();
        prop_assert_eq!(members.len(), g.members.len(), "duplicate queue member");
        prop_assert!(!members.is_empty(), "empty queue group");
        prop_assert!(
            groups.insert(name, members).is_none(),
            "queue group listed twice"
        );
    }
    prop_assert_eq!(r.len(), r.plain.len() + r.queues.len());
    Ok((plain, groups))
}

fn expected(live: &[Live], subject: &str) -> (BTreeSet<u32>, Groups) {
    let mut plain = BTreeSet::new();
    let mut groups = Groups::new();
    for (id, pat, q, _) in live {
        if subject_matches(pat.as_bytes(), subject.as_bytes()) {
            match q {
                None => {
                    plain.insert(*id);
                }
                Some(q) => {
                    groups.entry(q.clone()).or_default().insert(*id);
                }
            }
        }
    }
    (plain, groups)
}

fn check(sl: &Sublist<u32>, live: &[Live], subject: &str) -> Result<(), TestCaseError> {
    let got = actual(&sl.matches(subject.as_bytes()))?;
    prop_assert_eq!(got, expected(live, subject), "subject {}", subject);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn sublist_agrees_with_naive_matching(
        alpha in prop::collection::vec("[a-c]{1,2}", 2..5),
        ops in prop::collection::vec(op(), 1..150),
    ) {
        let sl = Sublist::new();
        let mut live: Vec<Live> = Vec::new();
        let mut next_id = 0u32;
        for op in &ops {
            match op {
                Op::Insert(toks, q) => {
                    let pat = render_pattern(&alpha, toks);
                    prop_assert!(is_valid_subject(pat.as_bytes()));
                    let q = q.map(|n| format!("q{n}"));
                    let s = Arc::new(next_id);
                    sl.insert(pat.as_bytes(), q.as_deref().map(str::as_bytes), s.clone())
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                    live.push((next_id, pat, q, s));
                    next_id += 1;
                }
                Op::Remove(i) if !live.is_empty() => {
                    let (_, pat, q, s) = live.swap_remove(i % live.len());
                    let qb = q.as_deref().map(str::as_bytes);
                    prop_assert!(sl.remove(pat.as_bytes(), qb, &s).is_ok());
                    prop_assert!(sl.remove(pat.as_bytes(), qb, &s).is_err());
                }
                Op::Remove(_) => {}
                Op::Match(toks) => check(&sl, &live, &render_subject(&alpha, toks))?,
            }
            prop_assert_eq!(sl.count(), live.len());
        }
        // Every subject of up to three tokens, twice: a miss, then a cache hit.
        let mut subjects = Vec::new();
        for a in 0..9 {
            subjects.push(vec![a]);
            for b in 0..9 {
                subjects.push(vec![a, b]);
                for c in [0, 1, 8] {
                    subjects.push(vec![a, b, c]);
                }
            }
        }
        for _ in 0..2 {
            for toks in &subjects {
                check(&sl, &live, &render_subject(&alpha, toks))?;
            }
        }
        // Removing everything leaves nothing behind.
        for (_, pat, q, s) in live.drain(..) {
            prop_assert!(sl.remove(pat.as_bytes(), q.as_deref().map(str::as_bytes), &s).is_ok());
        }
        prop_assert_eq!(sl.count(), 0);
        for toks in &subjects {
            prop_assert!(sl.matches(render_subject(&alpha, toks).as_bytes()).is_empty());
        }
    }
}

/// Patterns over {a, b, *, >} of up to three tokens (`>` only last).
fn small_pattern() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![Just("a"), Just("b"), Just("*"), Just(">")],
        1..4,
    )
    .prop_map(|t| {
        let last = t.len() - 1;
        let t: Vec<&str> = t
            .iter()
            .enumerate()
            .map(|(i, s)| if *s == ">" && i != last { "*" } else { s })
            .collect();
        t.join(".")
    })
}

/// Every literal subject over {a, b, c} of one to four tokens. `c` stands for
/// any token the patterns do not name, and four tokens is one more than the
/// longest pattern, which is enough to tell all these patterns apart.
fn universe() -> Vec<String> {
    let mut out: Vec<String> = vec![String::new()];
    let mut all = Vec::new();
    for _ in 0..4 {
        out = out
            .iter()
            .flat_map(|p| {
                ["a", "b", "c"].map(|t| {
                    if p.is_empty() {
                        t.to_string()
                    } else {
                        format!("{p}.{t}")
                    }
                })
            })
            .collect();
        all.extend(out.iter().cloned());
    }
    all
}

/// Textbook definition of a match over token lists, the oracle for
/// `subject_matches`.
fn naive_match(p: &[&str], s: &[&str]) -> bool {
    match (p.split_first(), s.split_first()) {
        (None, None) => true,
        (Some((&">", rest)), Some(_)) => rest.is_empty(),
        (Some((pt, pr)), Some((st, sr))) => (*pt == "*" || pt == st) && naive_match(pr, sr),
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn relations_agree_with_brute_force(a in small_pattern(), b in small_pattern()) {
        let u = universe();
        let ma: Vec<bool> = u.iter().map(|s| subject_matches(a.as_bytes(), s.as_bytes())).collect();
        for (s, m) in u.iter().zip(&ma) {
            let (pt, st): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), s.split('.').collect());
            prop_assert_eq!(*m, naive_match(&pt, &st), "{} ~ {}", a, s);
        }
        let mb: Vec<bool> = u.iter().map(|s| subject_matches(b.as_bytes(), s.as_bytes())).collect();
        let overlap = ma.iter().zip(&mb).any(|(x, y)| *x && *y);
        let a_in_b = ma.iter().zip(&mb).all(|(x, y)| !*x || *y);
        prop_assert_eq!(subjects_overlap(a.as_bytes(), b.as_bytes()), overlap, "overlap {} {}", a, b);
        prop_assert_eq!(subjects_overlap(b.as_bytes(), a.as_bytes()), overlap, "overlap {} {}", b, a);
        prop_assert_eq!(is_subset_match(a.as_bytes(), b.as_bytes()), a_in_b, "{} within {}", a, b);
    }
}

// Deterministic edge cases the random runs are unlikely to reach.

#[test]
fn invalid_input_is_refused() {
    let sl = Sublist::<u32>::new();
    let s = Arc::new(1u32);
    for bad in ["", ".", "foo.", "foo..bar", "foo.>.bar", "a b", "a.>.>"] {
        let e = sl.insert(bad.as_bytes(), None, s.clone());
        assert!(matches!(e, Err(SublistError::InvalidSubject)), "{bad:?}");
        let e = sl.remove(bad.as_bytes(), None, &s);
        assert!(matches!(e, Err(SublistError::InvalidSubject)), "{bad:?}");
    }
    for q in [&b""[..], b"a b"] {
        let e = sl.insert(b"foo", Some(q), s.clone());
        assert!(matches!(e, Err(SublistError::InvalidSubject)));
    }
    assert!(matches!(
        sl.remove(b"foo", None, &s),
        Err(SublistError::NotFound)
    ));
    assert_eq!((sl.count(), sl.generation()), (0, 0));
}

#[test]
fn large_sets_and_many_groups() {
    let sl = Sublist::new();
    let subs: Vec<Arc<u32>> = (0..200).map(Arc::new).collect();
    let q = |s: &Arc<u32>| format!("g{}", **s % 50);
    for s in &subs {
        sl.insert(b"big", None, s.clone()).unwrap();
        sl.insert(b"big", Some(q(s).as_bytes()), s.clone()).unwrap();
    }
    let r = sl.matches(b"big");
    assert_eq!((r.plain.len(), r.queues.len()), (200, 50));
    for s in subs.iter().filter(|s| ***s % 3 == 0) {
        sl.remove(b"big", None, s).unwrap();
        sl.remove(b"big", Some(q(s).as_bytes()), s).unwrap();
    }
    let r = sl.matches(b"big");
    let want: BTreeSet<u32> = (0..200).filter(|i| i % 3 != 0).collect();
    assert_eq!(r.plain.iter().map(|s| **s).collect::<BTreeSet<_>>(), want);
    for g in &r.queues {
        assert!(
            g.members
                .iter()
                .all(|s| **s % 3 != 0 && q(s).as_bytes() == g.name)
        );
    }
    assert_eq!(
        r.queues.iter().map(|g| g.members.len()).sum::<usize>(),
        want.len()
    );
    for s in subs.iter().filter(|s| ***s % 3 != 0) {
        sl.remove(b"big", None, s).unwrap();
        sl.remove(b"big", Some(q(s).as_bytes()), s).unwrap();
    }
    assert_eq!(sl.count(), 0);
    assert!(sl.matches(b"big").is_empty());
}

#[test]
fn deep_subjects_do_not_overflow() {
    // Matching, pruning and dropping are iterative, so a 20k-token subject
    // cannot blow the stack.
    let sl = Sublist::new();
    let n = 20_000;
    let (pat, lit) = (vec!["*"; n].join("."), vec!["t"; n].join("."));
    let (wide, exact) = (Arc::new(1u32), Arc::new(2u32));
    sl.insert(pat.as_bytes(), None, wide.clone()).unwrap();
    sl.insert(lit.as_bytes(), None, exact.clone()).unwrap();
    for i in 0..40 {
        let mixed: Vec<&str> = (0..40).map(|j| if j <= i { "*" } else { "t" }).collect();
        sl.insert(mixed.join(".").as_bytes(), None, Arc::new(100 + i))
            .unwrap();
    }
    assert_eq!(sl.matches(lit.as_bytes()).len(), 2);
    assert_eq!(sl.matches(vec!["t"; 40].join(".").as_bytes()).len(), 40);
    sl.remove(pat.as_bytes(), None, &wide).unwrap();
    let r = sl.matches(lit.as_bytes());
    assert!(r.len() == 1 && Arc::ptr_eq(&r.plain[0], &exact));
}

#[test]
fn sublist_is_send_and_sync() {
    fn shared<S: Send + Sync>() {}
    shared::<Sublist<u32>>();
    shared::<Arc<MatchResult<String>>>();
}
