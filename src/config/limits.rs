//! Limits of the HTTP listeners (`[api]` and `[websocket]`) that nats-server has no name for:
//! connections per client IP and a request rate per user. The NATS limits themselves
//! (`max_connections`, `max_payload`, ...) live in `[nats]` under nats-server's names.

use serde::Deserialize;

use super::Problems;

/// The fastest rate accepted; a nanosecond per request is where the limiter's clock stops.
const MAX_REQUESTS_PER_SECOND: f64 = 1_000_000.0;

/// Requests per second per user (or per client IP for anonymous access), with a burst.
///
/// `PartialEq` compares the float as is; `Eq` holds because validation admits only finite,
/// positive rates (never NaN).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// The sustained rate; fractions are allowed (`0.5` = one request every two seconds).
    pub requests_per_second: f64,
    /// Requests that may arrive at once after a quiet period.
    pub burst: u32,
}

impl Eq for RateLimit {}

/// The file form: `rate_limit = { requests_per_second = 10, burst = 20 }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RateLimitFile {
    requests_per_second: Option<f64>,
    burst: Option<u32>,
}

/// Validates a `rate_limit` table (`key` is where it is, e.g. `api.rate_limit`). The burst
/// defaults to one second's worth of requests (at least 1).
pub(super) fn build_rate(
    p: &mut Problems,
    key: &str,
    f: Option<RateLimitFile>,
) -> Option<RateLimit> {
    let f = f?;
    let rps_key = format!("{key}.requests_per_second");
    let Some(rps) = f.requests_per_second else {
        p.add(&rps_key, "required");
        return None;
    };
    if !(rps > 0.0 && rps <= MAX_REQUESTS_PER_SECOND) {
        p.add(
            &rps_key,
            format!("must be greater than 0 and at most {MAX_REQUESTS_PER_SECOND}"),
        );
        return None;
    }
    // At most 1e6, so the cast cannot truncate.
    let burst = f.burst.unwrap_or(rps.ceil() as u32);
    Some(RateLimit {
        requests_per_second: rps,
        burst: p.nonzero(&format!("{key}.burst"), burst),
    })
}
