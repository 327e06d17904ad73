//! fsync coordination. Every write bumps a generation number; [`GroupCommit::sync_to`]
//! returns once some fsync started after that generation was written has finished. The
//! first waiter becomes the leader and fsyncs everything dirty for all of them; the others
//! sleep on a condvar and usually find their generation covered when they wake, so N
//! concurrent appenders share one fsync instead of queueing N.

use std::fs::File;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

/// What a leader must fsync: the dirty files and the generation they cover.
pub(crate) struct SyncBatch {
    pub(crate) files: Vec<Arc<File>>,
    pub(crate) generation: u64,
}

#[derive(Default)]
struct State {
    synced: u64,
    leader: bool,
    /// Threads inside `sync_to`, leader included.
    waiting: usize,
}

/// Leader/follower group commit; see the module docs.
#[derive(Default)]
pub(crate) struct GroupCommit {
    state: Mutex<State>,
    cv: Condvar,
}

impl GroupCommit {
    /// Blocks until generation `generation` is durable. `take` collects the batch under the
    /// store lock; it runs only in the leader.
    pub(crate) fn sync_to(&self, generation: u64, take: impl Fn() -> SyncBatch) -> io::Result<()> {
        let mut st = self.state.lock();
        if st.synced >= generation {
            return Ok(());
        }
        st.waiting += 1;
        let res = self.lead_or_follow(st, generation, take);
        self.state.lock().waiting -= 1;
        res
    }

    fn lead_or_follow<'a>(
        &'a self,
        mut st: parking_lot::MutexGuard<'a, State>,
        generation: u64,
        take: impl Fn() -> SyncBatch,
    ) -> io::Result<()> {
        loop {
            if st.synced >= generation {
                return Ok(());
            }
            if st.leader {
                self.cv.wait(&mut st);
                continue;
            }
            st.leader = true;
            let others = st.waiting > 1;
            drop(st);
            if others {
                // Writers just woken by the previous fsync are about to append: give them
                // the CPU first so this fsync covers their writes too.
                std::thread::yield_now();
            }
            let batch = take();
            let res = batch.files.iter().try_for_each(|f| f.sync_data());
            st = self.state.lock();
            st.leader = false;
            if res.is_ok() {
                st.synced = st.synced.max(batch.generation);
            }
            self.cv.notify_all();
            res?;
        }
    }
}

/// Stop signal for the background syncer of [`super::Durability::Interval`].
#[derive(Default)]
pub(crate) struct Stop {
    stopped: Mutex<bool>,
    cv: Condvar,
}

impl Stop {
    /// Waits up to `d`; returns `true` once stop was requested.
    pub(crate) fn wait(&self, d: Duration) -> bool {
        let mut s = self.stopped.lock();
        if !*s {
            let _ = self.cv.wait_for(&mut s, d);
        }
        *s
    }

    /// Asks the background thread to finish.
    pub(crate) fn stop(&self) {
        *self.stopped.lock() = true;
        self.cv.notify_all();
    }
}
