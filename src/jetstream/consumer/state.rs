//! A consumer's delivery bookkeeping: what was delivered, what waits for an ack, what must be
//! redelivered, and the ack floor. Pure data, so the rules nats-server reports in
//! `CONSUMER.INFO` (`delivered`, `ack_floor`, `num_ack_pending`, `num_redelivered`) are unit
//! tested here, and the whole thing is what persists across restarts.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One delivered message that waits for its ack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// Consumer (delivery) sequence of the latest delivery.
    pub cseq: u64,
    /// When it was last delivered, unix nanos (reported in ack subjects, drives ack_wait).
    pub ts: i64,
    /// When it is due for redelivery, unix nanos.
    pub deadline: i64,
}

/// The bookkeeping; field names are the persisted format.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tracker {
    /// Last consumer sequence handed out (every delivery, redeliveries too, takes one).
    pub dseq: u64,
    /// Highest stream sequence delivered for the first time.
    pub sseq: u64,
    /// Next stream sequence to look at for a first delivery.
    pub next_sseq: u64,
    /// Ack floor: every delivery up to these sequences is acked.
    pub ack_floor_cseq: u64,
    /// Stream sequence of the ack floor.
    pub ack_floor_sseq: u64,
    /// Unacked deliveries by stream sequence.
    pub pending: BTreeMap<u64, Pending>,
    /// Deliveries so far of messages delivered more than once (nats-server's `rdc`).
    pub redelivered: HashMap<u64, u64>,
    /// Messages waiting to be sent again (nak'd or past ack_wait), by stream sequence.
    #[serde(skip)]
    pub redeliver: BTreeSet<u64>,
    /// Last-per-subject start: these stream sequences go first, in order.
    pub last_per_subject: Vec<u64>,
}

/// What an ack message asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum AckKind {
    /// `+ACK` or an empty body.
    Ack,
    /// `-NAK`, optionally redelivered only after a delay.
    Nak(Option<Duration>),
    /// `+WPI`: still working, restart the ack_wait clock.
    InProgress,
    /// `+NXT`: ack, then deliver the next batch to the ack's reply subject.
    Next(Vec<u8>),
    /// `+TERM`: never redeliver.
    Term,
}

impl AckKind {
    /// Parses an ack body; `None` for anything nats-server would ignore.
    pub fn parse(body: &[u8]) -> Option<AckKind> {
        let body = body.trim_ascii();
        if body.is_empty() || body.starts_with(b"+ACK") {
            return Some(AckKind::Ack);
        }
        if let Some(rest) = body.strip_prefix(b"-NAK") {
            return Some(AckKind::Nak(parse_delay(rest.trim_ascii())));
        }
        if body.starts_with(b"+WPI") {
            return Some(AckKind::InProgress);
        }
        if let Some(rest) = body.strip_prefix(b"+NXT") {
            return Some(AckKind::Next(rest.trim_ascii().to_vec()));
        }
        if body.starts_with(b"+TERM") {
            return Some(AckKind::Term);
        }
        None
    }
}

/// `-NAK {"delay": ns}` or `-NAK <duration text>`.
fn parse_delay(rest: &[u8]) -> Option<Duration> {
    if rest.is_empty() {
        return None;
    }
    #[derive(Deserialize)]
    struct Delay {
        delay: i64,
    }
    if let Ok(d) = serde_json::from_slice::<Delay>(rest) {
        return (d.delay > 0).then(|| Duration::from_nanos(d.delay as u64));
    }
    std::str::from_utf8(rest)
        .ok()
        .and_then(|s| humantime::parse_duration(s).ok())
}

/// How acks are counted (the consumer's `ack_policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckMode {
    /// Nothing waits for an ack; the floor follows deliveries.
    None,
    /// An ack acknowledges everything delivered before it too.
    All,
    /// Every message is acked on its own.
    Explicit,
}

impl Tracker {
    /// A fresh consumer that starts at stream sequence `start`.
    pub fn starting_at(start: u64, last_per_subject: Vec<u64>) -> Tracker {
        let start = start.max(1);
        let floor = last_per_subject.first().copied().unwrap_or(start);
        Tracker {
            next_sseq: start,
            ack_floor_sseq: floor.saturating_sub(1),
            sseq: floor.saturating_sub(1),
            last_per_subject,
            ..Tracker::default()
        }
    }

    /// Deliveries of `sseq` so far (1 for a message delivered once).
    pub fn deliveries(&self, sseq: u64) -> u64 {
        self.redelivered.get(&sseq).copied().unwrap_or(1)
    }

    /// Records a delivery of `sseq` and returns its consumer sequence and delivery count.
    pub fn delivered(&mut self, sseq: u64, now: i64, mode: AckMode, wait: Duration) -> (u64, u64) {
        self.dseq += 1;
        let queued = self.redeliver.remove(&sseq);
        let redelivery = queued || self.pending.contains_key(&sseq);
        let count = if redelivery {
            let c = self.redelivered.entry(sseq).or_insert(1);
            *c += 1;
            *c
        } else {
            1
        };
        if !redelivery && sseq > self.sseq {
            self.sseq = sseq;
        }
        if mode == AckMode::None {
            self.ack_floor_cseq = self.dseq;
            self.ack_floor_sseq = self.ack_floor_sseq.max(sseq);
        } else {
            let deadline = now.saturating_add(wait.as_nanos() as i64);
            self.pending.insert(
                sseq,
                Pending {
                    cseq: self.dseq,
                    ts: now,
                    deadline,
                },
            );
        }
        (self.dseq, count)
    }

    /// Processes a positive ack (or a term) of `sseq`; returns the stream sequences it
    /// acknowledged (for interest and work-queue retention).
    pub fn ack(&mut self, sseq: u64, mode: AckMode) -> Vec<u64> {
        let acked: Vec<u64> = match mode {
            AckMode::None => return Vec::new(),
            AckMode::Explicit => self
                .pending
                .remove(&sseq)
                .map(|_| sseq)
                .into_iter()
                .collect(),
            AckMode::All => {
                let keep = self.pending.split_off(&(sseq + 1));
                let gone = std::mem::replace(&mut self.pending, keep);
                gone.into_keys().collect()
            }
        };
        for s in &acked {
            self.redelivered.remove(s);
            self.redeliver.remove(s);
        }
        if !acked.is_empty() {
            self.update_floor();
        }
        acked
    }

    /// Gives up on `sseq` after max_deliver: it leaves pending, but it was never acked, so
    /// the ack floor stays below it (as nats-server reports it).
    pub fn give_up(&mut self, sseq: u64) {
        self.pending.remove(&sseq);
        self.redeliver.remove(&sseq);
    }

    /// Schedules a redelivery of `sseq` now or after `delay`.
    pub fn nak(&mut self, sseq: u64, now: i64, delay: Option<Duration>) {
        let Some(p) = self.pending.get_mut(&sseq) else {
            return;
        };
        match delay {
            Some(d) => p.deadline = now.saturating_add(d.as_nanos() as i64),
            None => {
                self.redeliver.insert(sseq);
            }
        }
    }

    /// Restarts the ack_wait clock of `sseq`.
    pub fn in_progress(&mut self, sseq: u64, now: i64, wait: Duration) {
        if let Some(p) = self.pending.get_mut(&sseq) {
            p.deadline = now.saturating_add(wait.as_nanos() as i64);
        }
    }

    /// Moves every pending message past its deadline to the redelivery queue; returns the
    /// earliest deadline still ahead.
    pub fn expire(&mut self, now: i64) -> Option<i64> {
        let mut next: Option<i64> = None;
        for (sseq, p) in &self.pending {
            if self.redeliver.contains(sseq) {
                continue;
            }
            if p.deadline <= now {
                self.redeliver.insert(*sseq);
            } else {
                next = Some(next.map_or(p.deadline, |n| n.min(p.deadline)));
            }
        }
        next
    }

    /// The floor follows nats-server: with nothing pending it is the last delivery; else
    /// just below the oldest pending message. It never moves back.
    fn update_floor(&mut self) {
        let (c, s) = match self.pending.iter().next() {
            None => (self.dseq, self.sseq),
            Some((sseq, p)) => (p.cseq.saturating_sub(1), sseq - 1),
        };
        self.ack_floor_cseq = self.ack_floor_cseq.max(c);
        self.ack_floor_sseq = self.ack_floor_sseq.max(s);
    }

    /// `num_redelivered`: pending messages delivered more than once.
    pub fn num_redelivered(&self) -> usize {
        self.redelivered.len()
    }

    /// After a restart every pending message is due again once its ack_wait runs out.
    pub fn after_restore(&mut self) {
        self.redeliver.clear();
        let valid: BTreeSet<u64> = self.pending.keys().copied().collect();
        self.redelivered.retain(|s, _| valid.contains(s));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_secs(30);

    #[test]
    fn explicit_acks_move_the_floor_only_past_contiguous_acks() {
        let mut t = Tracker::starting_at(1, Vec::new());
        for s in 1..=3 {
            t.delivered(s, 0, AckMode::Explicit, WAIT);
        }
        assert_eq!(t.ack(2, AckMode::Explicit), vec![2]);
        assert_eq!((t.ack_floor_cseq, t.ack_floor_sseq), (0, 0));
        t.ack(1, AckMode::Explicit);
        assert_eq!((t.ack_floor_cseq, t.ack_floor_sseq), (2, 2));
        t.ack(3, AckMode::Explicit);
        assert_eq!((t.ack_floor_cseq, t.ack_floor_sseq), (3, 3));
        assert!(t.pending.is_empty());
    }

    #[test]
    fn ack_all_acknowledges_everything_before() {
        let mut t = Tracker::starting_at(1, Vec::new());
        for s in 1..=4 {
            t.delivered(s, 0, AckMode::All, WAIT);
        }
        assert_eq!(t.ack(3, AckMode::All), vec![1, 2, 3]);
        assert_eq!(t.pending.len(), 1);
        assert_eq!((t.ack_floor_cseq, t.ack_floor_sseq), (3, 3));
    }

    #[test]
    fn redelivery_takes_a_new_consumer_sequence_and_counts() {
        let mut t = Tracker::starting_at(1, Vec::new());
        t.delivered(1, 0, AckMode::Explicit, WAIT);
        t.nak(1, 0, None);
        assert!(t.redeliver.contains(&1));
        assert_eq!(t.delivered(1, 5, AckMode::Explicit, WAIT), (2, 2));
        assert_eq!(t.num_redelivered(), 1);
        assert_eq!(t.sseq, 1);
        t.ack(1, AckMode::Explicit);
        assert_eq!(t.num_redelivered(), 0);
        assert_eq!((t.ack_floor_cseq, t.ack_floor_sseq), (2, 1));
    }

    #[test]
    fn deadlines_expire_into_the_redelivery_queue() {
        let mut t = Tracker::starting_at(1, Vec::new());
        t.delivered(1, 0, AckMode::Explicit, Duration::from_nanos(10));
        t.delivered(2, 5, AckMode::Explicit, Duration::from_nanos(10));
        assert_eq!(t.expire(12), Some(15));
        assert!(t.redeliver.contains(&1) && !t.redeliver.contains(&2));
        t.in_progress(2, 14, Duration::from_nanos(10));
        assert_eq!(t.expire(16), None.or(Some(24)));
        t.nak(2, 16, Some(Duration::from_nanos(2)));
        assert_eq!(t.expire(18), None);
        assert!(t.redeliver.contains(&2));
    }

    #[test]
    fn ack_none_keeps_nothing_pending() {
        let mut t = Tracker::starting_at(5, Vec::new());
        t.delivered(5, 0, AckMode::None, WAIT);
        t.delivered(7, 0, AckMode::None, WAIT);
        assert!(t.pending.is_empty());
        assert_eq!((t.ack_floor_cseq, t.ack_floor_sseq), (2, 7));
    }

    #[test]
    fn parses_ack_bodies() {
        assert_eq!(AckKind::parse(b""), Some(AckKind::Ack));
        assert_eq!(AckKind::parse(b"+ACK"), Some(AckKind::Ack));
        assert_eq!(AckKind::parse(b"-NAK"), Some(AckKind::Nak(None)));
        assert_eq!(
            AckKind::parse(b"-NAK {\"delay\": 2000000000}"),
            Some(AckKind::Nak(Some(Duration::from_secs(2))))
        );
        assert_eq!(AckKind::parse(b"+WPI"), Some(AckKind::InProgress));
        assert_eq!(
            AckKind::parse(b"+NXT 5"),
            Some(AckKind::Next(b"5".to_vec()))
        );
        assert_eq!(AckKind::parse(b"+TERM reason"), Some(AckKind::Term));
        assert_eq!(AckKind::parse(b"bogus"), None);
    }

    #[test]
    fn state_round_trips_through_json() {
        let mut t = Tracker::starting_at(1, vec![3, 9]);
        t.delivered(3, 1, AckMode::Explicit, WAIT);
        let back: Tracker = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
        assert_eq!(back, t);
    }
}
