//! Fast-producer stall, as nats-server does it: when a subscriber's outbound backlog passes
//! three quarters of `max_pending`, the connections publishing to it wait a little (up to
//! [`STALL_BUDGET`] per read) for its writer to catch up, instead of filling the backlog
//! until the subscriber is cut off as a slow consumer. A subscriber that does not catch up
//! in time still hits `max_pending` and is disconnected: the stall only smooths bursts.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

/// Longest a publishing connection waits for stalled subscribers per read (nats-server
/// allows 10 ms per read loop iteration).
pub const STALL_BUDGET: Duration = Duration::from_millis(10);

/// The backlog above which a subscriber's gate closes (nats-server: 75% of max pending).
pub fn stall_mark(max_pending: usize) -> usize {
    max_pending / 4 * 3
}

/// Closed while a subscriber's backlog is above its mark; producers wait on it.
#[derive(Default)]
pub struct StallGate {
    closed: AtomicBool,
    opened: Notify,
    /// Times a producer waited here (`/connz` `stalls`).
    waits: AtomicU64,
}

impl StallGate {
    /// Closes the gate (the backlog went above the mark).
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// Opens the gate and releases every producer waiting on it (the backlog went back
    /// under the mark, or the subscriber is gone).
    pub fn open(&self) {
        if self.closed.swap(false, Ordering::AcqRel) {
            self.opened.notify_waiters();
        }
    }

    /// Whether producers should wait.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// How many times producers waited on this gate.
    pub fn waits(&self) -> u64 {
        self.waits.load(Ordering::Relaxed)
    }

    /// Waits until the gate opens or `limit` passes; true when it opened.
    pub async fn wait(&self, limit: Duration) -> bool {
        let opened = self.opened.notified();
        tokio::pin!(opened);
        // Registered before the check, so an `open` between the two is not missed.
        opened.as_mut().enable();
        if !self.is_closed() {
            return true;
        }
        self.waits.fetch_add(1, Ordering::Relaxed);
        tokio::time::timeout(limit, opened).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn an_open_gate_does_not_wait() {
        let gate = StallGate::default();
        assert!(gate.wait(Duration::from_secs(60)).await);
        gate.close();
        gate.open();
        assert!(gate.wait(Duration::from_secs(60)).await);
    }

    #[tokio::test]
    async fn a_closed_gate_waits_until_opened() {
        let gate = Arc::new(StallGate::default());
        gate.close();
        let opener = {
            let gate = gate.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                gate.open();
            })
        };
        assert!(gate.wait(Duration::from_secs(60)).await);
        opener.await.unwrap();
    }

    #[tokio::test]
    async fn a_closed_gate_gives_up_after_the_limit() {
        let gate = StallGate::default();
        gate.close();
        let started = std::time::Instant::now();
        assert!(!gate.wait(Duration::from_millis(5)).await);
        assert!(started.elapsed() >= Duration::from_millis(5));
        assert!(gate.is_closed());
        assert_eq!(gate.waits(), 1);
    }

    #[test]
    fn the_mark_is_three_quarters_of_max_pending() {
        assert_eq!(stall_mark(64 << 20), 48 << 20);
        assert_eq!(stall_mark(0), 0);
    }
}
