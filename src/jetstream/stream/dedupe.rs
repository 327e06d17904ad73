//! Publish deduplication: `Nats-Msg-Id` values seen within the stream's `duplicate_window`,
//! and the last id stored (for `Nats-Expected-Last-Msg-Id`).

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;

/// Ids seen recently, expiring in arrival order.
#[derive(Debug, Default)]
pub struct Dedupe {
    /// Window in nanos; 0 turns deduplication off.
    window: i64,
    ids: HashMap<Bytes, u64>,
    order: VecDeque<(i64, Bytes)>,
    /// The id of the last message stored with one.
    pub last_msg_id: Option<Bytes>,
}

impl Dedupe {
    /// An empty table for a window of `window` nanos.
    pub fn new(window: i64) -> Dedupe {
        Dedupe {
            window: window.max(0),
            ..Dedupe::default()
        }
    }

    /// Changes the window (stream update); ids already seen keep their time.
    pub fn set_window(&mut self, window: i64) {
        self.window = window.max(0);
    }

    /// The sequence stored under `id` within the window, if any.
    pub fn lookup(&mut self, id: &[u8], now: i64) -> Option<u64> {
        self.expire(now);
        self.ids.get(id).copied()
    }

    /// Remembers `id` for message `seq` stored at `ts`.
    pub fn record(&mut self, id: Bytes, seq: u64, ts: i64) {
        self.last_msg_id = Some(id.clone());
        if self.window == 0 {
            return;
        }
        if self.ids.insert(id.clone(), seq).is_none() {
            self.order.push_back((ts, id));
        }
    }

    /// Forgets ids older than the window.
    pub fn expire(&mut self, now: i64) {
        let cutoff = now.saturating_sub(self.window);
        while let Some((ts, _)) = self.order.front() {
            if *ts > cutoff {
                break;
            }
            if let Some((_, id)) = self.order.pop_front() {
                self.ids.remove(&id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_found_within_the_window_and_forgotten_after() {
        let mut d = Dedupe::new(100);
        d.record(Bytes::from_static(b"a"), 1, 0);
        d.record(Bytes::from_static(b"b"), 2, 50);
        assert_eq!(d.lookup(b"a", 99), Some(1));
        assert_eq!(d.lookup(b"a", 100), None);
        assert_eq!(d.lookup(b"b", 100), Some(2));
        assert_eq!(d.last_msg_id.as_deref(), Some(&b"b"[..]));
    }

    #[test]
    fn a_zero_window_only_tracks_the_last_id() {
        let mut d = Dedupe::new(0);
        d.record(Bytes::from_static(b"a"), 1, 0);
        assert!(d.ids.is_empty());
        assert_eq!(d.last_msg_id.as_deref(), Some(&b"a"[..]));
    }
}
