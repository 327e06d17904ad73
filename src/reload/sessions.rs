//! Long-lived HTTP sessions (a JSON WebSocket, a Server-Sent Events stream) hold an identity
//! for as long as they last, like a NATS connection; a reload re-checks them the same way.
//!
//! A [`Session`] keeps the credentials it was opened with and its current identity. A reload
//! replaces the identity and wakes the owner ([`Session::changed`]), which then re-checks
//! its subscriptions; when the credentials are no longer valid it cancels
//! [`Session::revoked`] and the owner closes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use arc_swap::{ArcSwap, Guard};
use parking_lot::Mutex;
use rustc_hash::FxHashMap;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::auth::{Authenticator, Identity, SavedCredentials};
use crate::server::Shared;

/// One HTTP session's identity, kept current by reloads.
pub struct Session {
    credentials: SavedCredentials,
    identity: ArcSwap<Identity>,
    changed: Notify,
    revoked: CancellationToken,
}

impl Session {
    /// The identity in force; hold the guard briefly.
    pub fn identity(&self) -> Guard<Arc<Identity>> {
        self.identity.load()
    }

    /// Resolves after a reload replaced the identity (a wake-up is kept until awaited, so
    /// none is missed between two awaits).
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    /// Cancelled when a reload found the session's credentials no longer valid.
    pub fn revoked(&self) -> &CancellationToken {
        &self.revoked
    }

    /// Re-checks the credentials: `previous` accepted them, `current` is now in force.
    fn recheck(&self, previous: &Authenticator, current: &Authenticator) {
        match current.reauthenticate(previous, self.credentials.as_credentials()) {
            Some(identity) => {
                self.identity.store(Arc::new(identity));
                self.changed.notify_one();
            }
            None => self.revoked.cancel(),
        }
    }
}

/// The open sessions, for reloads to walk.
#[derive(Default)]
pub struct Sessions {
    next_id: AtomicU64,
    live: Mutex<Registry>,
}

#[derive(Default)]
struct Registry {
    sessions: FxHashMap<u64, Weak<Session>>,
    /// Entries after the last sweep of ended sessions; the next sweep runs at twice that.
    swept_at: usize,
}

impl Sessions {
    /// Registers a session whose `credentials` were checked by `checked_with` and gave
    /// `identity`. If a reload replaced the authenticator meanwhile, the session is
    /// re-checked at once (it may come back revoked).
    pub fn open(
        &self,
        shared: &Shared,
        credentials: SavedCredentials,
        identity: Identity,
        checked_with: &Arc<Authenticator>,
    ) -> Arc<Session> {
        let session = Arc::new(Session {
            credentials,
            identity: ArcSwap::from_pointee(identity),
            changed: Notify::new(),
            revoked: CancellationToken::new(),
        });
        {
            let mut live = self.live.lock();
            if live.sessions.len() >= live.swept_at.max(64) * 2 {
                live.sessions.retain(|_, s| s.strong_count() > 0);
                live.swept_at = live.sessions.len();
            }
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            live.sessions.insert(id, Arc::downgrade(&session));
        }
        // Pairs with the fence in `reload::apply`: either the reload sees this session, or
        // this sees the reload's authenticator.
        std::sync::atomic::fence(Ordering::SeqCst);
        let now = Arc::clone(&*shared.auth());
        if !Arc::ptr_eq(checked_with, &now) {
            session.recheck(checked_with, &now);
        }
        session
    }

    /// Re-checks every open session after a reload; returns how many were revoked.
    pub(super) fn recheck_all(&self, previous: &Authenticator, current: &Authenticator) -> usize {
        let sessions: Vec<Arc<Session>> = {
            let mut live = self.live.lock();
            live.sessions.retain(|_, s| s.strong_count() > 0);
            live.swept_at = live.sessions.len();
            live.sessions.values().filter_map(Weak::upgrade).collect()
        };
        let mut revoked = 0;
        for session in sessions {
            session.recheck(previous, current);
            revoked += usize::from(session.revoked.is_cancelled());
        }
        revoked
    }
}
