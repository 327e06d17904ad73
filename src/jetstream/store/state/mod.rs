//! The bookkeeping both stores share: a dense per-sequence index, per-subject counts and the
//! stream numbers, with limit enforcement, purges and filtered queries on top.
//!
//! The index is a `VecDeque` of slots from `first_seq` to `last_seq`; a slot holds a small
//! fixed-size [`Entry`] (subject id, size, timestamp and a location `L` chosen by the store:
//! the message itself for memory, a file position for the file store) or `None` for an
//! interior delete. Subjects are interned once with a small state like nats-server's
//! `SimpleState` (memstore.go `fss`): a count, and first/last sequences that are kept as
//! bounds and tightened lazily, so removals never scan.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;

mod query;

use super::subject::matches_all;
use super::{
    Discard, MAX_BYTES_EXCEEDED, MAX_MSGS_EXCEEDED, MAX_MSGS_PER_SUBJECT_EXCEEDED, PurgeRequest,
    StoreError, StoreLimits, StreamState,
};

/// What the index keeps per stored message.
#[derive(Debug, Clone)]
pub(crate) struct Entry<L> {
    /// Interned subject id.
    pub(crate) subj: u32,
    /// Size counted against `max_bytes`.
    pub(crate) size: u32,
    /// Append timestamp, unix nanos.
    pub(crate) ts: i64,
    /// Where the store keeps the message.
    pub(crate) loc: L,
}

/// Per-subject state: `first`/`last` are bounds (`first <=` the real first, `last >=` the
/// real last) that queries tighten when they need the exact value.
#[derive(Debug)]
struct SubjectState {
    subject: Bytes,
    msgs: u64,
    first: u64,
    last: u64,
}

/// The shared stream index; see the module docs.
#[derive(Debug)]
pub(crate) struct Core<L> {
    limits: StoreLimits,
    entries: VecDeque<Option<Entry<L>>>,
    /// Sequence of `entries[0]`.
    base: u64,
    first_seq: u64,
    last_seq: u64,
    last_ts: i64,
    msgs: u64,
    bytes: u64,
    by_name: HashMap<Bytes, u32>,
    subjects: Vec<Option<SubjectState>>,
    free: Vec<u32>,
}

impl<L> Core<L> {
    pub(crate) fn new(limits: StoreLimits) -> Self {
        Self {
            limits,
            entries: VecDeque::new(),
            base: 0,
            first_seq: 0,
            last_seq: 0,
            last_ts: 0,
            msgs: 0,
            bytes: 0,
            by_name: HashMap::new(),
            subjects: Vec::new(),
            free: Vec::new(),
        }
    }

    pub(crate) fn set_limits(&mut self, limits: StoreLimits) {
        self.limits = limits;
    }

    pub(crate) fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// The sequence the next append gets; refused once the sequence space is used up
    /// (reachable only through a purge with `up_to_seq` near `u64::MAX`).
    pub(crate) fn next_seq(&self) -> Result<u64, StoreError> {
        self.last_seq
            .checked_add(1)
            .filter(|s| *s < u64::MAX)
            .ok_or(StoreError::StoreFull("sequence numbers exhausted"))
    }

    pub(crate) fn last_ts(&self) -> i64 {
        self.last_ts
    }

    /// The sequence below which nothing is stored (`first_seq`, or `last_seq + 1` if empty).
    pub(crate) fn floor(&self) -> u64 {
        if self.msgs == 0 {
            self.last_seq.saturating_add(1)
        } else {
            self.first_seq
        }
    }

    pub(crate) fn state(&self) -> StreamState {
        let first_ts = match self.entries.front() {
            Some(Some(e)) if self.msgs > 0 => e.ts,
            _ => 0,
        };
        let num_deleted = if self.msgs > 0 {
            (self.last_seq - self.first_seq)
                .saturating_add(1)
                .saturating_sub(self.msgs)
        } else {
            0
        };
        StreamState {
            msgs: self.msgs,
            bytes: self.bytes,
            first_seq: self.first_seq,
            first_ts,
            last_seq: self.last_seq,
            last_ts: self.last_ts,
            num_deleted,
            num_subjects: self.by_name.len() as u64,
        }
    }

    pub(crate) fn get(&self, seq: u64) -> Option<&Entry<L>> {
        if seq < self.base {
            return None;
        }
        let idx = usize::try_from(seq - self.base).ok()?;
        self.entries.get(idx)?.as_ref()
    }

    pub(crate) fn subject_name(&self, id: u32) -> Option<&Bytes> {
        self.subjects.get(id as usize)?.as_ref().map(|s| &s.subject)
    }

    /// Live entries with sequences in `from..=to`.
    pub(crate) fn range(&self, from: u64, to: u64) -> impl Iterator<Item = (u64, &Entry<L>)> {
        let start = from.max(self.base);
        let skip = usize::try_from(start - self.base).unwrap_or(usize::MAX);
        let base = self.base;
        self.entries
            .iter()
            .enumerate()
            .skip(skip)
            .map(move |(i, e)| (base + i as u64, e))
            .take_while(move |(seq, _)| *seq <= to)
            .filter_map(|(seq, e)| e.as_ref().map(|e| (seq, e)))
    }

    fn state_of(&self, subject: &[u8]) -> Option<(u32, &SubjectState)> {
        let id = *self.by_name.get(subject)?;
        Some((id, self.subjects.get(id as usize)?.as_ref()?))
    }

    /// Refuses a message the limits do not admit (nats-server memstore.go `storeRawMsg`,
    /// the `DiscardNew` block, and the `max_msg_size` check of stream.go).
    pub(crate) fn check_append(
        &mut self,
        subject: &[u8],
        data_len: usize,
        size: u64,
    ) -> Result<(), StoreError> {
        let l = self.limits;
        if l.max_msg_size > 0 && data_len > l.max_msg_size as usize {
            return Err(StoreError::MaxMessageSize);
        }
        if size > u64::from(u32::MAX) {
            return Err(StoreError::MaxMessageSize);
        }
        if l.discard != Discard::New {
            return Ok(());
        }
        let subject_state = self.state_of(subject).map(|(id, s)| (id, s.msgs));
        let at_subject_limit = match subject_state {
            Some((_, n)) => l.max_msgs_per_subject > 0 && n >= l.max_msgs_per_subject as u64,
            None => false,
        };
        if at_subject_limit && l.discard_new_per_subject {
            return Err(StoreError::StoreFull(MAX_MSGS_PER_SUBJECT_EXCEEDED));
        }
        if l.max_msgs > 0 && self.msgs >= l.max_msgs as u64 && !at_subject_limit {
            return Err(StoreError::StoreFull(MAX_MSGS_EXCEEDED));
        }
        if l.max_bytes > 0 && self.bytes + size > l.max_bytes as u64 {
            if !at_subject_limit {
                return Err(StoreError::StoreFull(MAX_BYTES_EXCEEDED));
            }
            // At the subject limit the append replaces the subject's oldest message: it
            // fits only if that one is at least as large.
            let first_size = subject_state
                .and_then(|(id, _)| self.resolve_first(id))
                .and_then(|seq| self.get(seq))
                .map_or(0, |e| u64::from(e.size));
            if first_size < size {
                return Err(StoreError::StoreFull(MAX_BYTES_EXCEEDED));
            }
        }
        Ok(())
    }

    fn intern(&mut self, subject: &[u8]) -> u32 {
        if let Some(id) = self.by_name.get(subject) {
            return *id;
        }
        let state = SubjectState {
            subject: Bytes::copy_from_slice(subject),
            msgs: 0,
            first: 0,
            last: 0,
        };
        let name = state.subject.clone();
        let id = match self.free.pop() {
            Some(id) => {
                if let Some(slot) = self.subjects.get_mut(id as usize) {
                    *slot = Some(state);
                }
                id
            }
            None => {
                self.subjects.push(Some(state));
                (self.subjects.len() - 1) as u32
            }
        };
        self.by_name.insert(name, id);
        id
    }

    /// Adds a message at `seq` (> `last_seq`; a gap becomes interior deletes).
    pub(crate) fn push(&mut self, seq: u64, subject: &[u8], ts: i64, size: u32, loc: L) {
        let subj = self.intern(subject);
        if self.msgs == 0 {
            self.entries.clear();
            self.base = seq;
            self.first_seq = seq;
        } else {
            while self.base + (self.entries.len() as u64) < seq {
                self.entries.push_back(None);
            }
        }
        self.entries.push_back(Some(Entry {
            subj,
            size,
            ts,
            loc,
        }));
        self.msgs += 1;
        self.bytes += u64::from(size);
        self.last_seq = seq;
        self.last_ts = ts;
        if let Some(Some(s)) = self.subjects.get_mut(subj as usize) {
            if s.msgs == 0 {
                s.first = seq;
            }
            s.msgs += 1;
            s.last = seq;
        }
    }

    /// Raises `last_seq` (recovery of a purge past the end, or of the newest record).
    pub(crate) fn note_last(&mut self, seq: u64, ts: i64) {
        if seq == 0 || seq < self.last_seq {
            return;
        }
        // At an equal sequence the caller's timestamp is the one recorded for it (a purge
        // past the end moves `last_seq` without a message of its own).
        self.last_ts = ts;
        if seq > self.last_seq {
            self.last_seq = seq;
            if self.msgs == 0 {
                self.first_seq = seq.saturating_add(1);
                self.base = seq.saturating_add(1);
            }
        }
    }

    /// Removes one message; `None` if it is not stored.
    pub(crate) fn remove(&mut self, seq: u64) -> Option<Entry<L>> {
        if seq < self.base {
            return None;
        }
        let idx = usize::try_from(seq - self.base).ok()?;
        let entry = self.entries.get_mut(idx)?.take()?;
        self.msgs -= 1;
        self.bytes -= u64::from(entry.size);
        let mut release = false;
        if let Some(Some(s)) = self.subjects.get_mut(entry.subj as usize) {
            s.msgs -= 1;
            if s.msgs == 0 {
                release = true;
            } else {
                if s.first == seq {
                    s.first = seq.saturating_add(1);
                }
                if s.last == seq {
                    s.last = seq - 1;
                }
            }
        }
        if release {
            if let Some(slot) = self.subjects.get_mut(entry.subj as usize)
                && let Some(s) = slot.take()
            {
                self.by_name.remove(&s.subject);
            }
            self.free.push(entry.subj);
        }
        while let Some(None) = self.entries.front() {
            self.entries.pop_front();
            self.base += 1;
        }
        if self.msgs == 0 {
            self.entries.clear();
            self.base = self.last_seq.saturating_add(1);
            self.first_seq = self.base;
        } else {
            self.first_seq = self.base;
        }
        Some(entry)
    }

    fn remove_into(&mut self, seq: u64, sink: &mut dyn FnMut(u64, Entry<L>)) -> bool {
        match self.remove(seq) {
            Some(e) => {
                sink(seq, e);
                true
            }
            None => false,
        }
    }

    /// Exact first sequence of a subject, tightening its lower bound.
    fn resolve_first(&mut self, id: u32) -> Option<u64> {
        let (lo, hi) = match self.subjects.get(id as usize)? {
            Some(s) if s.msgs > 0 => (s.first, s.last),
            _ => return None,
        };
        let found = self
            .range(lo, hi)
            .find(|(_, e)| e.subj == id)
            .map(|(seq, _)| seq)?;
        if let Some(Some(s)) = self.subjects.get_mut(id as usize) {
            s.first = found;
        }
        Some(found)
    }

    /// Exact last sequence of a subject, tightening its upper bound.
    fn resolve_last(&mut self, id: u32) -> Option<u64> {
        let (lo, hi) = match self.subjects.get(id as usize)? {
            Some(s) if s.msgs > 0 => (s.first.max(self.base), s.last),
            _ => return None,
        };
        let mut seq = hi;
        let found = loop {
            if seq < lo {
                return None;
            }
            if self.get(seq).is_some_and(|e| e.subj == id) {
                break seq;
            }
            seq = seq.checked_sub(1)?;
        };
        if let Some(Some(s)) = self.subjects.get_mut(id as usize) {
            s.last = found;
        }
        Some(found)
    }

    /// Applies count limits after an append (or to everything after a limits update):
    /// per subject always, then `max_msgs`/`max_bytes` under discard old, like memstore.go
    /// `enforcePerSubjectLimit`, `enforceMsgLimit` and `enforceBytesLimit`.
    pub(crate) fn enforce(&mut self, only: Option<&[u8]>, sink: &mut dyn FnMut(u64, Entry<L>)) {
        let l = self.limits;
        if l.max_msgs_per_subject > 0 {
            let max = l.max_msgs_per_subject as u64;
            let ids: Vec<u32> = match only {
                Some(subject) => self
                    .state_of(subject)
                    .map(|(id, _)| id)
                    .into_iter()
                    .collect(),
                None => self.by_name.values().copied().collect(),
            };
            for id in ids {
                while self
                    .subjects
                    .get(id as usize)
                    .and_then(Option::as_ref)
                    .is_some_and(|s| s.msgs > max)
                {
                    let Some(seq) = self.resolve_first(id) else {
                        break;
                    };
                    self.remove_into(seq, sink);
                }
            }
        }
        if l.discard == Discard::Old {
            while (l.max_msgs > 0 && self.msgs > l.max_msgs as u64)
                || (l.max_bytes > 0 && self.bytes > l.max_bytes as u64)
            {
                if !self.remove_into(self.first_seq, sink) {
                    break;
                }
            }
        }
    }

    /// Removes messages at or older than `now - max_age`, oldest first, stopping at the first
    /// younger one (memstore.go `expireMsgs`).
    pub(crate) fn expire(&mut self, now: i64, sink: &mut dyn FnMut(u64, Entry<L>)) -> u64 {
        let max_age = i64::try_from(self.limits.max_age.as_nanos()).unwrap_or(i64::MAX);
        if max_age == 0 {
            return 0;
        }
        let cutoff = now.saturating_sub(max_age);
        let mut n = 0;
        while self.msgs > 0 {
            let first = self.first_seq;
            match self.get(first) {
                Some(e) if e.ts <= cutoff => {}
                _ => break,
            }
            self.remove_into(first, sink);
            n += 1;
        }
        n
    }

    /// `STREAM.PURGE` (memstore.go `PurgeEx`, `purge`, `compact`).
    pub(crate) fn purge(&mut self, req: &PurgeRequest, sink: &mut dyn FnMut(u64, Entry<L>)) -> u64 {
        let seq = req.up_to_seq.unwrap_or(0);
        let keep = req.keep.unwrap_or(0);
        if seq == 1 {
            return 0;
        }
        let filter = req.subject.as_deref();
        if matches_all(filter) {
            if keep == 0 && seq == 0 {
                return self.compact(self.last_seq.saturating_add(1), sink);
            }
            if seq > 1 {
                return self.compact(seq, sink);
            }
        }
        let sel = self.select(filter);
        let total = self.count_selected(&sel);
        if total == 0 {
            return 0;
        }
        let max_purge = if keep > 0 {
            if keep >= total {
                return 0;
            }
            total - keep
        } else {
            u64::MAX
        };
        let last = if seq >= 1 { seq - 1 } else { self.last_seq };
        let victims: Vec<u64> = self
            .range(self.first_seq, last)
            .filter(|(_, e)| sel.has(e.subj))
            .map(|(s, _)| s)
            .take(usize::try_from(max_purge).unwrap_or(usize::MAX))
            .collect();
        let mut purged = 0;
        for s in victims {
            if self.remove_into(s, sink) {
                purged += 1;
            }
        }
        purged
    }

    /// Removes everything below `seq`; past the end it also moves `last_seq` to `seq - 1` so
    /// the next append gets `seq` (memstore.go `compact`).
    pub(crate) fn compact(&mut self, seq: u64, sink: &mut dyn FnMut(u64, Entry<L>)) -> u64 {
        if self.msgs == 0 && seq <= self.floor() {
            return 0;
        }
        let mut purged = 0;
        let stop = seq.min(self.last_seq.saturating_add(1));
        while self.msgs > 0 && self.first_seq < stop {
            let first = self.first_seq;
            self.remove_into(first, sink);
            purged += 1;
        }
        if seq > self.last_seq.saturating_add(1) {
            self.last_seq = seq - 1;
            self.first_seq = seq;
            self.base = seq;
            self.entries.clear();
        }
        purged
    }
}
