//! Limits of one HTTP listener (the API port, the dedicated WebSocket port): open connections
//! per client IP, counted from accept to close, and requests per second per user with a
//! burst, keyed by the authenticated user or, for anonymous access, the client IP.
//!
//! The rate limiter is governor's keyed GCRA: one small state per key, no timer task; keys
//! whose budget has refilled are dropped after as many checks as there are keys (at least
//! [`PRUNE_EVERY`]), so memory follows the number of recently active clients, not of all
//! clients ever seen, and pruning costs each check O(1) on average.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};
use parking_lot::Mutex;
use rustc_hash::FxHashMap;

use crate::auth::Identity;
use crate::config::RateLimit;

/// The fewest rate checks between two prunings of refilled keys.
const PRUNE_EVERY: u64 = 1024;

/// Whose budget a request is charged to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RateKey {
    /// A configured user (Basic credentials, `?user=`, a mapped certificate).
    User(String),
    /// The holder of the shared token: under token auth every client is that one principal.
    Token,
    /// Anonymous access (no auth configured), failed authentication, or a request whose
    /// credentials are only checked later (a NATS WebSocket authenticates in CONNECT).
    Ip(IpAddr),
}

impl RateKey {
    /// The key for a request: its user when it authenticated as one, the token holder under
    /// token auth, else its client IP. `identity` is `None` when authentication failed.
    pub fn of(auth_required: bool, identity: Option<&Identity>, ip: IpAddr) -> RateKey {
        match identity {
            Some(Identity {
                user: Some(user), ..
            }) => RateKey::User(user.clone()),
            Some(_) if auth_required => RateKey::Token,
            _ => RateKey::Ip(ip.to_canonical()),
        }
    }
}

/// A request over its budget: how long until the next one would pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimited {
    /// Time until one request's worth of budget is back.
    pub wait: Duration,
}

impl RateLimited {
    /// The wait in whole seconds, rounded up and at least 1, as `Retry-After` carries it.
    pub fn retry_after_secs(&self) -> u64 {
        let secs = self.wait.as_secs() + u64::from(self.wait.subsec_nanos() > 0);
        secs.max(1)
    }
}

/// The limits of one listener and what they refused.
pub struct ListenerLimits {
    /// `api` or `websocket`: names the listener in metrics.
    pub name: &'static str,
    max_per_ip: usize,
    open: Mutex<FxHashMap<IpAddr, usize>>,
    rate: Option<(RateLimit, DefaultKeyedRateLimiter<RateKey>)>,
    checks: AtomicU64,
    /// The check count at which refilled keys are pruned next.
    next_prune: AtomicU64,
    refused_connections: AtomicU64,
    rate_limited: AtomicU64,
}

impl std::fmt::Debug for ListenerLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListenerLimits")
            .field("name", &self.name)
            .field("max_per_ip", &self.max_per_ip)
            .field("rate", &self.rate.as_ref().map(|(r, _)| r))
            .finish()
    }
}

impl ListenerLimits {
    /// Limits for a listener; `max_per_ip` 0 and `rate` `None` mean unlimited.
    pub fn new(name: &'static str, max_per_ip: usize, rate: Option<RateLimit>) -> Arc<Self> {
        let rate = rate.and_then(|r| Some((r, governor::RateLimiter::keyed(quota(r)?))));
        Arc::new(ListenerLimits {
            name,
            max_per_ip,
            open: Mutex::new(FxHashMap::default()),
            rate,
            checks: AtomicU64::new(0),
            next_prune: AtomicU64::new(PRUNE_EVERY),
            refused_connections: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
        })
    }

    /// Takes a connection slot for `ip`, held until the returned guard drops (when the
    /// connection closes); `None`, counted as a refusal, when `ip` already holds its maximum.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<IpSlot> {
        if self.max_per_ip == 0 {
            return Some(IpSlot { owner: None, ip });
        }
        // One address, however the socket spells it (IPv4-mapped IPv6 on dual-stack).
        let ip = ip.to_canonical();
        let mut open = self.open.lock();
        let count = open.entry(ip).or_insert(0);
        if *count >= self.max_per_ip {
            drop(open);
            self.refused_connections.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        *count += 1;
        Some(IpSlot {
            owner: Some(self.clone()),
            ip,
        })
    }

    fn release(&self, ip: IpAddr) {
        let mut open = self.open.lock();
        if let Some(count) = open.get_mut(&ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&ip);
            }
        }
    }

    /// Charges one request to `key`; `Err` says how long to wait. Always `Ok` without a
    /// rate limit.
    pub fn check(&self, key: &RateKey) -> Result<(), RateLimited> {
        let Some((_, limiter)) = &self.rate else {
            return Ok(());
        };
        let checks = self.checks.fetch_add(1, Ordering::Relaxed) + 1;
        if checks == self.next_prune.load(Ordering::Relaxed) {
            limiter.retain_recent();
            let keys = u64::try_from(limiter.len()).unwrap_or(u64::MAX);
            let next = checks.saturating_add(keys.max(PRUNE_EVERY));
            self.next_prune.store(next, Ordering::Relaxed);
        }
        limiter.check_key(key).map_err(|not_until| {
            self.rate_limited.fetch_add(1, Ordering::Relaxed);
            RateLimited {
                wait: not_until.wait_time_from(limiter.clock().now()),
            }
        })
    }

    /// The configured connections per IP (0 = unlimited).
    pub fn max_connections_per_ip(&self) -> usize {
        self.max_per_ip
    }

    /// The configured rate limit, if any.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        self.rate.as_ref().map(|(r, _)| *r)
    }

    /// Connections refused because their IP held its maximum, since start.
    pub fn refused_connections(&self) -> u64 {
        self.refused_connections.load(Ordering::Relaxed)
    }

    /// Requests (and upgrades) refused with 429 by the rate limit, since start.
    pub fn rate_limited(&self) -> u64 {
        self.rate_limited.load(Ordering::Relaxed)
    }
}

/// The GCRA quota: one request every 1/rate seconds, `burst` at once.
fn quota(r: RateLimit) -> Option<Quota> {
    let period = Duration::from_secs_f64(1.0 / r.requests_per_second);
    let burst = NonZeroU32::new(r.burst)?;
    Some(Quota::with_period(period)?.allow_burst(burst))
}

/// One open connection of a client IP; gives the slot back when dropped.
#[derive(Debug)]
pub struct IpSlot {
    owner: Option<Arc<ListenerLimits>>,
    ip: IpAddr,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        if let Some(owner) = &self.owner {
            owner.release(self.ip);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn connections_per_ip_are_counted_and_released() {
        let limits = ListenerLimits::new("api", 2, None);
        let a1 = limits.admit(ip("10.0.0.1")).expect("first");
        let _a2 = limits
            .admit(ip("::ffff:10.0.0.1"))
            .expect("second, same address");
        assert!(limits.admit(ip("10.0.0.1")).is_none(), "third refused");
        let _b = limits
            .admit(ip("10.0.0.2"))
            .expect("another IP is not affected");
        assert_eq!(limits.refused_connections(), 1);
        drop(a1);
        let _a3 = limits.admit(ip("10.0.0.1")).expect("a slot came back");
        assert!(limits.admit(ip("10.0.0.1")).is_none());
    }

    #[test]
    fn unlimited_keeps_no_state() {
        let limits = ListenerLimits::new("api", 0, None);
        let slots: Vec<_> = (0..100)
            .filter_map(|_| limits.admit(ip("10.0.0.1")))
            .collect();
        assert_eq!(slots.len(), 100);
        assert!(limits.open.lock().is_empty());
        assert!(limits.check(&RateKey::Token).is_ok());
    }

    #[test]
    fn the_burst_passes_then_each_key_waits_alone() {
        let rate = RateLimit {
            requests_per_second: 0.5,
            burst: 3,
        };
        let limits = ListenerLimits::new("api", 0, Some(rate));
        let alice = RateKey::User("alice".into());
        for _ in 0..3 {
            assert_eq!(limits.check(&alice), Ok(()));
        }
        let limited = limits.check(&alice).expect_err("over the burst");
        assert!(limited.wait <= Duration::from_secs(2), "{limited:?}");
        assert_eq!(limited.retry_after_secs(), 2);
        assert_eq!(limits.check(&RateKey::User("bob".into())), Ok(()));
        assert_eq!(limits.rate_limited(), 1);
    }

    #[test]
    fn refilled_keys_are_pruned() {
        let rate = RateLimit {
            requests_per_second: 1_000_000.0,
            burst: 1,
        };
        let limits = ListenerLimits::new("api", 0, Some(rate));
        for i in 0..PRUNE_EVERY - 1 {
            let _ = limits.check(&RateKey::User(i.to_string()));
        }
        let (_, limiter) = limits.rate.as_ref().unwrap();
        assert_eq!(limiter.len() as u64, PRUNE_EVERY - 1);
        // A microsecond per request: every key has long refilled by the next check.
        std::thread::sleep(Duration::from_millis(5));
        let _ = limits.check(&RateKey::Token);
        assert!(limiter.len() <= 1, "{} keys left", limiter.len());
    }

    #[test]
    fn keys_follow_the_identity() {
        let user = Identity {
            user: Some("alice".into()),
            ..Identity::default()
        };
        let anyone = Identity::default();
        let here = ip("::ffff:127.0.0.1");
        assert_eq!(
            RateKey::of(true, Some(&user), here),
            RateKey::User("alice".into())
        );
        assert_eq!(RateKey::of(true, Some(&anyone), here), RateKey::Token);
        assert_eq!(
            RateKey::of(false, Some(&anyone), here),
            RateKey::Ip(ip("127.0.0.1"))
        );
        assert_eq!(RateKey::of(true, None, here), RateKey::Ip(ip("127.0.0.1")));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let secs = |ms| {
            RateLimited {
                wait: Duration::from_millis(ms),
            }
            .retry_after_secs()
        };
        assert_eq!((secs(0), secs(1), secs(1000), secs(1001)), (1, 1, 1, 2));
    }
}
