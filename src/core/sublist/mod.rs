//! The subscription index that routes every published message, modelled on
//! nats-server's `sublist.go`: a trie with one level per subject token, where
//! each node keeps its plain subscriptions, its queue subscriptions grouped by
//! name, and children for literal tokens plus dedicated `*` and `>` children.
//! In front of the trie sits a bounded cache of match results keyed by the
//! published subject (1024 entries, swept down to 256 when over, as
//! nats-server does). An insert or remove drops only the cached results whose
//! subject the changed pattern matches (nats-server patches them on insert
//! instead; dropping is simpler and costs one re-walk). The trie and the
//! cache have separate locks, so cache hits never wait on a trie walk; a
//! generation counter bumped on every change lets a miss refuse to cache a
//! result computed against a trie that changed meanwhile, and lets publishers
//! keep their own lock-free caches.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use parking_lot::RwLock;

use crate::core::subject::{
    SubjectMap, TokenKey, has_no_empty_tokens, has_wildcard, is_valid_queue, is_valid_subject,
    split_token, subject_matches,
};

/// Cache size past which a sweep runs (nats-server `slCacheMax`).
const CACHE_MAX: usize = 1024;
/// Size a sweep brings the cache back to (nats-server `slCacheSweep`).
const CACHE_SWEEP: usize = 256;
/// From this many members a set keeps a pointer index for O(1) removal.
const INDEX_MIN: usize = 32;
/// Pending `*` branches kept on the stack before spilling to the heap.
const INLINE_BRANCHES: usize = 16;

/// Why an insert or remove was refused.
#[derive(Debug)]
pub enum SublistError {
    /// The subject (or queue name) is not valid for a subscription.
    InvalidSubject,
    /// No such subscription under that subject and queue.
    NotFound,
}

impl fmt::Display for SublistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SublistError::InvalidSubject => "sublist: invalid subject",
            SublistError::NotFound => "sublist: no matches found",
        })
    }
}

impl std::error::Error for SublistError {}

/// Everyone a message on one subject goes to: plain subscribers each get a
/// copy, each queue group gets one copy delivered to one of its members.
#[derive(Debug)]
pub struct MatchResult<T> {
    /// Non-queue subscriptions.
    pub plain: Vec<Arc<T>>,
    /// One entry per queue group name, members from all trie levels merged.
    pub queues: Vec<QueueGroup<T>>,
}

/// The members of one queue group that match a subject.
#[derive(Debug)]
pub struct QueueGroup<T> {
    /// Queue group name as given on SUB.
    pub name: Bytes,
    /// Matching members; the broker picks one per message.
    pub members: Vec<Arc<T>>,
}

impl<T> Default for MatchResult<T> {
    fn default() -> Self {
        let (plain, queues) = (Vec::new(), Vec::new());
        MatchResult { plain, queues }
    }
}

impl<T> MatchResult<T> {
    /// True when a message on this subject goes nowhere.
    pub fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.queues.is_empty()
    }

    /// Number of deliveries one message makes: one per plain subscription plus
    /// one per queue group (nats-server's fan-out measure).
    pub fn len(&self) -> usize {
        self.plain.len() + self.queues.len()
    }
}

/// Statistics in the shape of nats-server's `/subsz` JSON.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SublistStats {
    /// Subscriptions currently in the trie.
    pub num_subscriptions: u32,
    /// Match results currently cached.
    pub num_cache: u32,
    /// Successful inserts since creation.
    pub num_inserts: u64,
    /// Successful removes since creation.
    pub num_removes: u64,
    /// Calls to `matches`.
    pub num_matches: u64,
    /// Share of `matches` answered from the cache.
    pub cache_hit_rate: f64,
    /// Largest fan-out (plain subs + queue groups) among cached results.
    pub max_fanout: u32,
    /// Mean fan-out among cached results.
    pub avg_fanout: f64,
}

/// Identity of a subscription: its `Arc` pointer.
#[inline]
fn ident<T>(sub: &Arc<T>) -> usize {
    Arc::as_ptr(sub) as *const () as usize
}

/// Subscriptions of one node or queue group: a vector for fast iteration,
/// plus a pointer index once large so removal stays O(1).
struct SubSet<T> {
    items: Vec<Arc<T>>,
    index: Option<Box<SubjectMap<usize, usize>>>,
}

impl<T> SubSet<T> {
    fn new() -> Self {
        SubSet {
            items: Vec::new(),
            index: None,
        }
    }

    fn position(&self, sub: &Arc<T>) -> Option<usize> {
        match &self.index {
            Some(ix) => ix.get(&ident(sub)).copied(),
            None => self.items.iter().position(|s| Arc::ptr_eq(s, sub)),
        }
    }

    /// Adds `sub`; false if that very `Arc` is already here.
    fn insert(&mut self, sub: Arc<T>) -> bool {
        if self.position(&sub).is_some() {
            return false;
        }
        let (id, at) = (ident(&sub), self.items.len());
        self.items.push(sub);
        if let Some(ix) = &mut self.index {
            ix.insert(id, at);
        } else if at + 1 >= INDEX_MIN {
            let ix = self.items.iter().enumerate().map(|(i, s)| (ident(s), i));
            self.index = Some(Box::new(ix.collect()));
        }
        true
    }

    /// Removes `sub`; false if it was not here.
    fn remove(&mut self, sub: &Arc<T>) -> bool {
        let Some(i) = self.position(sub) else {
            return false;
        };
        self.items.swap_remove(i);
        if let Some(ix) = &mut self.index {
            ix.remove(&ident(sub));
            if let Some(moved) = self.items.get(i) {
                ix.insert(ident(moved), i);
            }
            if self.items.len() < INDEX_MIN / 2 {
                self.index = None;
            }
        }
        true
    }
}

/// One trie node: the subscriptions whose subject ends here, and the next
/// level. Queue groups sit behind a box since most nodes have none.
struct Node<T> {
    next: Option<Box<Level<T>>>,
    plain: SubSet<T>,
    queues: Option<Box<SubjectMap<Bytes, SubSet<T>>>>,
}

impl<T> Node<T> {
    fn new() -> Self {
        Node {
            next: None,
            plain: SubSet::new(),
            queues: None,
        }
    }

    fn has_subs(&self) -> bool {
        !self.plain.items.is_empty() || self.queues.is_some()
    }

    fn is_empty(&self) -> bool {
        !self.has_subs() && self.next.as_ref().is_none_or(|l| l.is_empty())
    }

    /// Adds a subscription; false if it was already here.
    fn add(&mut self, queue: Option<&[u8]>, sub: Arc<T>) -> bool {
        let Some(q) = queue else {
            return self.plain.insert(sub);
        };
        let groups = self.queues.get_or_insert_with(Box::default);
        match groups.get_mut(q) {
            Some(group) => group.insert(sub),
            None => {
                let mut group = SubSet::new();
                group.insert(sub);
                groups.insert(Bytes::copy_from_slice(q), group);
                true
            }
        }
    }

    /// Removes a subscription; false if it was not here.
    fn remove(&mut self, queue: Option<&[u8]>, sub: &Arc<T>) -> bool {
        let Some(q) = queue else {
            return self.plain.remove(sub);
        };
        let Some(groups) = &mut self.queues else {
            return false;
        };
        let removed = groups.get_mut(q).is_some_and(|g| g.remove(sub));
        if groups.get(q).is_some_and(|g| g.items.is_empty()) {
            groups.remove(q);
        }
        if groups.is_empty() {
            self.queues = None;
        }
        removed
    }
}

/// One trie level: literal children by token, plus the two wildcard children.
struct Level<T> {
    nodes: SubjectMap<TokenKey, Node<T>>,
    pwc: Option<Box<Node<T>>>,
    fwc: Option<Box<Node<T>>>,
}

impl<T> Level<T> {
    fn new() -> Self {
        Level {
            nodes: SubjectMap::default(),
            pwc: None,
            fwc: None,
        }
    }

    fn is_empty(&self) -> bool {
        self.nodes.is_empty() && self.pwc.is_none() && self.fwc.is_none()
    }

    fn child_count(&self) -> usize {
        self.nodes.len() + usize::from(self.pwc.is_some()) + usize::from(self.fwc.is_some())
    }

    fn child_mut(&mut self, tok: &[u8]) -> Option<&mut Node<T>> {
        match tok {
            b"*" => self.pwc.as_deref_mut(),
            b">" => self.fwc.as_deref_mut(),
            _ => self.nodes.get_mut(tok),
        }
    }

    fn child_or_insert(&mut self, tok: &[u8]) -> Option<&mut Node<T>> {
        match tok {
            b"*" => Some(self.pwc.get_or_insert_with(|| Box::new(Node::new()))),
            b">" => Some(self.fwc.get_or_insert_with(|| Box::new(Node::new()))),
            _ => {
                if !self.nodes.contains_key(tok) {
                    self.nodes.insert(TokenKey::new(tok), Node::new());
                }
                self.nodes.get_mut(tok)
            }
        }
    }

    fn remove_child(&mut self, tok: &[u8]) {
        match tok {
            b"*" => self.pwc = None,
            b">" => self.fwc = None,
            _ => drop(self.nodes.remove(tok)),
        }
    }
}

/// Tears levels down iteratively: a recursive drop of a very deep trie (a
/// subject with thousands of tokens) would overflow the thread stack.
impl<T> Drop for Level<T> {
    fn drop(&mut self) {
        fn detach<T>(l: &mut Level<T>, out: &mut Vec<Level<T>>) {
            let wild = l.pwc.iter_mut().chain(l.fwc.iter_mut()).map(|b| &mut **b);
            for n in l.nodes.values_mut().chain(wild) {
                if let Some(next) = n.next.take() {
                    out.push(*next);
                }
            }
        }
        let mut pending = Vec::new();
        detach(self, &mut pending);
        while let Some(mut l) = pending.pop() {
            detach(&mut l, &mut pending);
        }
    }
}

/// The trie and the counters that change with it (under the trie lock).
struct Trie<T> {
    root: Level<T>,
    count: usize,
    inserts: u64,
    removes: u64,
}

impl<T> Trie<T> {
    /// Inserts into the node for `subject` (already validated).
    fn insert(&mut self, subject: &[u8], queue: Option<&[u8]>, sub: Arc<T>) -> bool {
        let mut level = &mut self.root;
        let mut rest = subject;
        loop {
            let (tok, tail) = split_token(rest);
            let Some(node) = level.child_or_insert(tok) else {
                return false;
            };
            let Some(t) = tail else {
                return node.add(queue, sub);
            };
            level = node.next.get_or_insert_with(|| Box::new(Level::new()));
            rest = t;
        }
    }

    /// Removes from the node for `subject` (already validated), then prunes
    /// the chain of nodes left empty so churn does not grow memory.
    fn remove(&mut self, subject: &[u8], queue: Option<&[u8]>, sub: &Arc<T>) -> bool {
        // Pass 1: find and remove; remember the deepest ancestor that must stay
        // (it has subscriptions of its own or other children).
        let (mut level, mut rest) = (&mut self.root, subject);
        let mut depth = 0usize;
        let mut keep: Option<usize> = None;
        let target_empty = loop {
            let (tok, tail) = split_token(rest);
            let Some(node) = level.child_mut(tok) else {
                return false;
            };
            let Some(t) = tail else {
                if !node.remove(queue, sub) {
                    return false;
                }
                break node.is_empty();
            };
            let has_subs = node.has_subs();
            let Some(next) = node.next.as_deref_mut() else {
                return false;
            };
            if has_subs || next.child_count() > 1 {
                keep = Some(depth);
            }
            (level, rest, depth) = (next, t, depth + 1);
        };
        if !target_empty {
            return true;
        }
        // Pass 2: unlink the empty chain, which starts just below `keep` (a
        // level left empty under a kept node stays allocated for reuse).
        let (mut level, mut rest) = (&mut self.root, subject);
        for _ in 0..keep.map_or(0, |d| d + 1) {
            let (tok, tail) = split_token(rest);
            let child = level.child_mut(tok).and_then(|n| n.next.as_deref_mut());
            let Some((next, t)) = child.zip(tail) else {
                return true;
            };
            (level, rest) = (next, t);
        }
        level.remove_child(split_token(rest).0);
        true
    }
}

/// Adds one node's subscriptions to a result. `merge` is false until some
/// node has contributed queue groups, since names only repeat across nodes.
fn add_node<T>(out: &mut MatchResult<T>, n: &Node<T>) {
    out.plain.extend_from_slice(&n.plain.items);
    let Some(groups) = &n.queues else { return };
    let merge = !out.queues.is_empty();
    for (name, g) in groups.iter() {
        match out.queues.iter_mut().find(|q| merge && q.name == name) {
            Some(q) => q.members.extend_from_slice(&g.items),
            None => out.queues.push(QueueGroup {
                name: name.clone(),
                members: g.items.clone(),
            }),
        }
    }
}

/// Walks the trie for a literal subject with no empty tokens. `*` branches are
/// kept on an explicit stack (inline, spilling to the heap only past
/// `INLINE_BRANCHES`), so deep subjects cannot overflow the thread stack.
fn collect<T>(root: &Level<T>, subject: &[u8], out: &mut MatchResult<T>) {
    let mut inline: [Option<(&Level<T>, &[u8])>; INLINE_BRANCHES] = [None; INLINE_BRANCHES];
    let mut n_inline = 0usize;
    let mut spill: Vec<(&Level<T>, &[u8])> = Vec::new();
    let mut work = Some((root, subject));
    while let Some((mut level, mut rest)) = work {
        loop {
            let (tok, tail) = split_token(rest);
            if let Some(f) = &level.fwc {
                add_node(out, f);
            }
            if let Some(p) = &level.pwc {
                match (tail, &p.next) {
                    (None, _) => add_node(out, p),
                    (Some(t), Some(next)) if n_inline < INLINE_BRANCHES => {
                        inline[n_inline] = Some((next, t));
                        n_inline += 1;
                    }
                    (Some(t), Some(next)) => spill.push((next, t)),
                    (Some(_), None) => {}
                }
            }
            let Some(node) = level.nodes.get(tok) else {
                break;
            };
            match (tail, &node.next) {
                (None, _) => {
                    add_node(out, node);
                    break;
                }
                (Some(t), Some(next)) => (level, rest) = (next, t),
                (Some(_), None) => break,
            }
        }
        work = spill.pop().or_else(|| {
            n_inline = n_inline.checked_sub(1)?;
            inline[n_inline].take()
        });
    }
}

/// Cached results keyed by published subject, plus the counters every
/// `matches` call touches, kept on cache lines of their own away from the
/// trie lock.
#[repr(align(128))]
struct Cache<T> {
    map: RwLock<SubjectMap<TokenKey, Arc<MatchResult<T>>>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// The subscription index: a token trie behind a `RwLock` plus a match-result
/// cache behind its own lock. Share it as `Arc<Sublist<T>>`; every method
/// takes `&self`. It is `Send + Sync` when `T` is.
pub struct Sublist<T> {
    trie: RwLock<Trie<T>>,
    cache: Cache<T>,
    generation: AtomicU64,
    empty: Arc<MatchResult<T>>,
    /// Test hook: widens the window between trie walk and cache store.
    #[cfg(test)]
    store_delay_us: AtomicU64,
}

impl<T: Send + Sync> Default for Sublist<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Send + Sync> Sublist<T> {
    /// Creates an empty sublist with its cache enabled.
    pub fn new() -> Self {
        Sublist {
            trie: RwLock::new(Trie {
                root: Level::new(),
                count: 0,
                inserts: 0,
                removes: 0,
            }),
            cache: Cache {
                map: RwLock::new(SubjectMap::default()),
                hits: AtomicU64::new(0),
                misses: AtomicU64::new(0),
            },
            generation: AtomicU64::new(0),
            empty: Arc::new(MatchResult::default()),
            #[cfg(test)]
            store_delay_us: AtomicU64::new(0),
        }
    }

    /// Adds `sub` under `subject` (wildcards allowed), in queue group `queue`
    /// if given, so later messages reach it. Inserting the same `Arc` again
    /// under the same subject and queue is a no-op. An invalid subject or queue
    /// name gives `InvalidSubject`. Only cached results the subject matches
    /// are dropped.
    pub fn insert(
        &self,
        subject: &[u8],
        queue: Option<&[u8]>,
        sub: Arc<T>,
    ) -> Result<(), SublistError> {
        if !is_valid_subject(subject) || !queue.is_none_or(is_valid_queue) {
            return Err(SublistError::InvalidSubject);
        }
        let mut trie = self.trie.write();
        if trie.insert(subject, queue, sub) {
            trie.count += 1;
            trie.inserts += 1;
            self.invalidate(subject);
        }
        Ok(())
    }

    /// Removes `sub` (compared by `Arc::ptr_eq`) from `subject`/`queue`, prunes
    /// nodes left empty, and drops the cached results that held it.
    pub fn remove(
        &self,
        subject: &[u8],
        queue: Option<&[u8]>,
        sub: &Arc<T>,
    ) -> Result<(), SublistError> {
        if !is_valid_subject(subject) || !queue.is_none_or(is_valid_queue) {
            return Err(SublistError::InvalidSubject);
        }
        let mut trie = self.trie.write();
        if !trie.remove(subject, queue, sub) {
            return Err(SublistError::NotFound);
        }
        trie.count -= 1;
        trie.removes += 1;
        self.invalidate(subject);
        Ok(())
    }

    /// Drops the cached results a change on `pattern` affects (just its own
    /// key when literal, as nats-server does) and bumps the generation. Runs
    /// under the trie write lock; the bump happens inside the cache lock, so a
    /// miss that walked the old trie sees it when it comes to store, and a
    /// reader that sees the new generation finds the cache already updated.
    fn invalidate(&self, pattern: &[u8]) {
        let mut cache = self.cache.map.write();
        if !has_wildcard(pattern) {
            cache.remove(pattern);
        } else {
            cache.retain(|key, _| !subject_matches(pattern, key.as_bytes()));
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Everyone a message published on `subject` goes to. Served from the
    /// cache when possible; a subject with an empty token matches nothing.
    pub fn matches(&self, subject: &[u8]) -> Arc<MatchResult<T>> {
        if let Some(r) = self.cache.map.read().get(subject) {
            self.cache.hits.fetch_add(1, Ordering::Relaxed);
            return r.clone();
        }
        self.cache.misses.fetch_add(1, Ordering::Relaxed);
        if !has_no_empty_tokens(subject) {
            return self.empty.clone();
        }
        let mut out = MatchResult::default();
        let seen = {
            let trie = self.trie.read();
            collect(&trie.root, subject, &mut out);
            self.generation.load(Ordering::Acquire)
        };
        let result = if out.is_empty() {
            self.empty.clone()
        } else {
            Arc::new(out)
        };
        #[cfg(test)]
        std::thread::sleep(std::time::Duration::from_micros(
            self.store_delay_us.load(Ordering::Relaxed),
        ));
        let mut cache = self.cache.map.write();
        // Only cache what is still current; a writer that got in between has
        // already dropped the entries it affects.
        if self.generation.load(Ordering::Acquire) == seen {
            cache.insert(TokenKey::new(subject), result.clone());
            if cache.len() > CACHE_MAX {
                let mut excess = cache.len() - CACHE_SWEEP;
                cache.retain(|_, _| {
                    let drop_it = excess > 0;
                    excess = excess.saturating_sub(1);
                    !drop_it
                });
            }
        }
        result
    }

    /// Bumped on every insert and remove, so a publisher can keep its own
    /// lock-free cache of match results and know when it went stale. Read it
    /// before calling `matches`, and tag the result with the value read.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Number of subscriptions held, for monitoring and limits.
    pub fn count(&self) -> usize {
        self.trie.read().count
    }

    /// Counters and cache fan-out figures, as nats-server reports in `/subsz`.
    pub fn stats(&self) -> SublistStats {
        let (count, num_inserts, num_removes) = {
            let t = self.trie.read();
            (t.count, t.inserts, t.removes)
        };
        let hits = self.cache.hits.load(Ordering::Relaxed);
        let num_matches = hits + self.cache.misses.load(Ordering::Relaxed);
        let fold = |(n, t, m): (usize, usize, usize), r: &Arc<MatchResult<T>>| {
            (n + 1, t + r.len(), m.max(r.len()))
        };
        let (entries, total, max) = self.cache.map.read().values().fold((0, 0, 0), fold);
        let ratio = |a: f64, b: f64| if a > 0.0 { a / b } else { 0.0 };
        SublistStats {
            num_subscriptions: u32::try_from(count).unwrap_or(u32::MAX),
            num_cache: u32::try_from(entries).unwrap_or(u32::MAX),
            num_inserts,
            num_removes,
            num_matches,
            cache_hit_rate: ratio(hits as f64, num_matches as f64),
            max_fanout: u32::try_from(max).unwrap_or(u32::MAX),
            avg_fanout: ratio(total as f64, entries as f64),
        }
    }
}

#[cfg(test)]
mod tests;
