//! Pull requests (`CONSUMER.MSG.NEXT`): parsing the request body and the queue of requests
//! that wait for messages, with the status replies nats-server sends when one ends early.

use std::collections::VecDeque;

use bytes::Bytes;
use serde::Deserialize;

/// One `MSG.NEXT` request as the consumer keeps it until it is served or ends.
#[derive(Debug, Clone)]
pub struct PullRequest {
    /// Where messages and status replies go.
    pub reply: Bytes,
    /// Messages still wanted.
    pub batch: i64,
    /// Bytes still allowed (0 = no limit).
    pub max_bytes: i64,
    /// Messages delivered for it so far.
    pub delivered: i64,
    /// End as soon as nothing more is available.
    pub no_wait: bool,
    /// Unix nanos after which the request ends with `408` (0 = never).
    pub expires_at: i64,
    /// Idle heartbeat interval in nanos (0 = none).
    pub heartbeat: i64,
    /// When the last message or heartbeat went out, unix nanos.
    pub last_sent: i64,
    /// Someone was subscribed to `reply` when the request reached the front of the queue
    /// (checked once per request, not per message).
    pub interest_seen: bool,
}

/// The JSON form of a request body.
#[derive(Deserialize, Default)]
#[serde(default)]
struct NextRequestBody {
    batch: i64,
    expires: i64,
    max_bytes: i64,
    no_wait: bool,
    idle_heartbeat: i64,
}

impl PullRequest {
    /// Parses a body: empty (one message), a number (a batch), or the JSON request.
    pub fn parse(reply: Bytes, body: &[u8], now: i64) -> Result<PullRequest, String> {
        let body = body.trim_ascii();
        let req = if body.is_empty() {
            NextRequestBody {
                batch: 1,
                ..Default::default()
            }
        } else if body[0] == b'{' {
            serde_json::from_slice::<NextRequestBody>(body).map_err(|e| e.to_string())?
        } else {
            let n = std::str::from_utf8(body)
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
                .ok_or_else(|| "invalid batch size".to_string())?;
            NextRequestBody {
                batch: n,
                ..Default::default()
            }
        };
        if req.expires < 0 || req.max_bytes < 0 || req.idle_heartbeat < 0 {
            return Err("negative values are not allowed".into());
        }
        if req.idle_heartbeat > 0 && req.expires > 0 && req.idle_heartbeat * 2 > req.expires {
            return Err("heartbeat value too large".into());
        }
        Ok(PullRequest {
            reply,
            batch: req.batch.max(1),
            max_bytes: req.max_bytes,
            delivered: 0,
            no_wait: req.no_wait,
            expires_at: if req.expires > 0 {
                now.saturating_add(req.expires)
            } else {
                0
            },
            heartbeat: req.idle_heartbeat,
            last_sent: now,
            interest_seen: false,
        })
    }

    /// Whether the request has run out of time at `now`.
    pub fn expired(&self, now: i64) -> bool {
        self.expires_at > 0 && now >= self.expires_at
    }
}

/// Requests in arrival order (nats-server serves them round robin per message; we serve the
/// oldest first, which is the same for the usual one-fetcher case).
#[derive(Debug, Default)]
pub struct Waiting {
    /// The queue.
    pub queue: VecDeque<PullRequest>,
}

impl Waiting {
    /// Requests waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// True when nobody waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// The earliest time something must happen (an expiry or a heartbeat), unix nanos.
    pub fn next_deadline(&self) -> Option<i64> {
        self.queue
            .iter()
            .flat_map(|r| {
                let hb = (r.heartbeat > 0).then(|| r.last_sent.saturating_add(r.heartbeat));
                let exp = (r.expires_at > 0).then_some(r.expires_at);
                [hb, exp]
            })
            .flatten()
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_body_forms() {
        let r = PullRequest::parse(Bytes::from_static(b"in"), b"", 0).unwrap();
        assert_eq!((r.batch, r.expires_at, r.no_wait), (1, 0, false));
        let r = PullRequest::parse(Bytes::from_static(b"in"), b"10", 0).unwrap();
        assert_eq!(r.batch, 10);
        let r = PullRequest::parse(
            Bytes::from_static(b"in"),
            br#"{"batch":5,"expires":1000,"no_wait":true,"max_bytes":64}"#,
            7,
        )
        .unwrap();
        assert_eq!(
            (r.batch, r.expires_at, r.no_wait, r.max_bytes),
            (5, 1007, true, 64)
        );
    }

    #[test]
    fn rejects_bad_bodies() {
        assert!(PullRequest::parse(Bytes::new(), b"x", 0).is_err());
        assert!(PullRequest::parse(Bytes::new(), b"{\"batch\":", 0).is_err());
        assert!(PullRequest::parse(Bytes::new(), br#"{"expires":-1}"#, 0).is_err());
        assert!(
            PullRequest::parse(Bytes::new(), br#"{"expires":10,"idle_heartbeat":6}"#, 0).is_err()
        );
    }

    #[test]
    fn next_deadline_is_the_earliest_expiry_or_heartbeat() {
        let mut w = Waiting::default();
        assert_eq!(w.next_deadline(), None);
        let mut r =
            PullRequest::parse(Bytes::new(), br#"{"expires":100,"idle_heartbeat":30}"#, 0).unwrap();
        r.last_sent = 10;
        w.queue.push_back(r);
        assert_eq!(w.next_deadline(), Some(40));
    }
}
