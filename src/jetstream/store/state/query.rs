//! Filtered queries over the shared index: `load_next`, `load_last`, `num_pending` and
//! per-subject counts. A filter is first resolved against the interned subjects (one id
//! for a literal subject, a bitmap of ids for a wildcard), so the scan compares integers.

use bytes::Bytes;

use super::Core;
use crate::jetstream::store::subject::{is_literal, matches, matches_all};

/// A filter resolved against the interned subjects.
pub(super) enum Selection {
    All,
    One(u32),
    Set(Vec<bool>),
    Empty,
}

impl Selection {
    pub(super) fn has(&self, id: u32) -> bool {
        match self {
            Selection::All => true,
            Selection::One(one) => *one == id,
            Selection::Set(set) => set.get(id as usize).copied().unwrap_or(false),
            Selection::Empty => false,
        }
    }
}

impl<L> Core<L> {
    pub(super) fn select(&self, filter: Option<&[u8]>) -> Selection {
        let Some(f) = filter.filter(|f| !matches_all(Some(f))) else {
            return Selection::All;
        };
        if is_literal(f) {
            return match self.by_name.get(f) {
                Some(id) => Selection::One(*id),
                None => Selection::Empty,
            };
        }
        let mut set = vec![false; self.subjects.len()];
        let mut any = false;
        for (name, id) in &self.by_name {
            if matches(f, name) {
                if let Some(slot) = set.get_mut(*id as usize) {
                    *slot = true;
                }
                any = true;
            }
        }
        if any {
            Selection::Set(set)
        } else {
            Selection::Empty
        }
    }

    pub(super) fn count_selected(&self, sel: &Selection) -> u64 {
        match sel {
            Selection::All => self.msgs,
            Selection::Empty => 0,
            _ => self
                .subjects
                .iter()
                .enumerate()
                .filter_map(|(id, s)| s.as_ref().filter(|_| sel.has(id as u32)))
                .map(|s| s.msgs)
                .sum(),
        }
    }

    /// First stored sequence `>= from` matching `filter`.
    pub(crate) fn next_match(&mut self, from: u64, filter: Option<&[u8]>) -> Option<u64> {
        if self.msgs == 0 {
            return None;
        }
        let sel = self.select(filter);
        let (start, end) = match sel {
            Selection::Empty => return None,
            Selection::One(id) => {
                let first = self.resolve_first(id)?;
                let last = self.subjects.get(id as usize)?.as_ref()?.last;
                (from.max(first), last)
            }
            _ => (from.max(self.first_seq), self.last_seq),
        };
        self.range(start, end)
            .find(|(_, e)| sel.has(e.subj))
            .map(|(seq, _)| seq)
    }

    /// Newest stored sequence matching `filter`.
    pub(crate) fn last_match(&mut self, filter: &[u8]) -> Option<u64> {
        if self.msgs == 0 {
            return None;
        }
        match self.select(Some(filter)) {
            Selection::Empty => None,
            Selection::One(id) => self.resolve_last(id),
            Selection::All => {
                let mut seq = self.last_seq;
                while seq >= self.first_seq {
                    if self.get(seq).is_some() {
                        return Some(seq);
                    }
                    seq = seq.checked_sub(1)?;
                }
                None
            }
            Selection::Set(set) => {
                let ids: Vec<u32> = (0..set.len() as u32)
                    .filter(|id| set.get(*id as usize).copied().unwrap_or(false))
                    .collect();
                ids.into_iter().filter_map(|id| self.resolve_last(id)).max()
            }
        }
    }

    /// Stored messages with sequence `>= from` matching `filter`; counts whichever side of
    /// `from` is shorter.
    pub(crate) fn num_pending(&mut self, from: u64, filter: Option<&[u8]>) -> u64 {
        if self.msgs == 0 {
            return 0;
        }
        let from = from.max(self.first_seq);
        if from > self.last_seq {
            return 0;
        }
        let sel = self.select(filter);
        let total = self.count_selected(&sel);
        if total == 0 || from == self.first_seq {
            return total;
        }
        let count = |a: u64, b: u64| self.range(a, b).filter(|(_, e)| sel.has(e.subj)).count();
        if from - self.first_seq < self.last_seq - from {
            total - count(self.first_seq, from - 1) as u64
        } else {
            count(from, self.last_seq) as u64
        }
    }

    /// Per-subject counts for subjects matching `filter`, sorted by subject.
    pub(crate) fn subjects(&self, filter: &[u8]) -> Vec<(Bytes, u64)> {
        let all = matches_all(Some(filter));
        let mut out: Vec<(Bytes, u64)> = self
            .subjects
            .iter()
            .flatten()
            .filter(|s| all || matches(filter, &s.subject))
            .map(|s| (s.subject.clone(), s.msgs))
            .collect();
        out.sort();
        out
    }
}
