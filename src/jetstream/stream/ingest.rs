//! The stream's write path: one task per stream takes captured messages in arrival order,
//! checks them against the stream's rules (size, `Nats-Expected-*`, dedupe, rollup), stores
//! them and acks the publishers.
//!
//! Messages are taken in batches: with `sync_interval = "always"` the whole batch shares one
//! fsync before any of its acks goes out (group commit), so concurrent publishers pay for
//! one disk flush rather than one each.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;
use tracing::warn;

use super::Stream;
use crate::core::message::Message;
use crate::jetstream::api::errors::ApiError;
use crate::jetstream::api::types::{PubAck, RetentionPolicy, pub_ack_error};
use crate::jetstream::headers;
use crate::jetstream::internal::Outbox;
use crate::jetstream::now_nanos;
use crate::jetstream::store::{PurgeRequest, StoreError};

/// Most messages taken per batch.
const BATCH: usize = 1024;

/// What a publisher is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PubOutcome {
    /// Stored (or recognised as a duplicate) at this sequence.
    Stored {
        /// Stream sequence.
        seq: u64,
        /// It was a duplicate of an earlier message within the window.
        duplicate: bool,
    },
    /// Refused.
    Refused(ApiError),
}

/// The JSON a publisher receives for `outcome`.
pub fn ack_body(stream: &str, outcome: &PubOutcome) -> Bytes {
    let body = match outcome {
        PubOutcome::Stored { seq, duplicate } => PubAck {
            stream: stream.to_string(),
            seq: *seq,
            duplicate: *duplicate,
            ..PubAck::default()
        }
        .to_bytes(),
        PubOutcome::Refused(error) => pub_ack_error(stream, "", error),
    };
    Bytes::from(body)
}

/// The ingest task.
pub(super) async fn run(
    stream: Arc<Stream>,
    mut rx: mpsc::UnboundedReceiver<((), Message)>,
    mut out: Outbox,
) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        tokio::select! {
            _ = stream.cancel.cancelled() => return,
            n = rx.recv_many(&mut batch, BATCH) => if n == 0 { return },
        }
        let mut acks = Vec::with_capacity(batch.len());
        let mut stored = false;
        for (_, msg) in batch.drain(..) {
            let outcome = stream.store_message(&msg);
            stored |= matches!(
                outcome,
                PubOutcome::Stored {
                    duplicate: false,
                    ..
                }
            );
            if let Some(reply) = msg.reply {
                acks.push((reply, outcome));
            }
        }
        if stored && stream.sync_always {
            let store = stream.store.clone();
            if let Err(e) = tokio::task::block_in_place(|| store.sync()) {
                warn!(stream = %stream.name, "fsync failed: {e}");
                let err = ApiError::stream_store_failed(e.to_string());
                for (_, outcome) in &mut acks {
                    if matches!(
                        outcome,
                        PubOutcome::Stored {
                            duplicate: false,
                            ..
                        }
                    ) {
                        *outcome = PubOutcome::Refused(err.clone());
                    }
                }
            }
        }
        for (reply, outcome) in acks {
            out.send(reply, None, None, ack_body(&stream.name, &outcome));
        }
        out.flush();
        if stored {
            stream.wake_consumers();
            stream.appended.send_replace(stream.store.state().last_seq);
        }
    }
}

/// A `Nats-TTL` value in nanos: a Go duration (`"30s"`, `"1h"`), whole seconds, or
/// `"never"` (-1, kept even past `max_age`). Below one second is invalid, as in nats-server.
pub fn parse_ttl(value: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(value).ok()?.trim();
    if text.eq_ignore_ascii_case("never") {
        return Some(-1);
    }
    let nanos = match text.parse::<i64>() {
        Ok(secs) => secs.checked_mul(1_000_000_000)?,
        Err(_) => i64::try_from(humantime::parse_duration(text).ok()?.as_nanos()).ok()?,
    };
    (nanos >= 1_000_000_000).then_some(nanos)
}

impl Stream {
    /// Checks and stores one message (also used by HTTP publish, which wants the outcome).
    pub fn store_message(&self, msg: &Message) -> PubOutcome {
        match self.try_store(msg) {
            Ok(outcome) => outcome,
            Err(e) => PubOutcome::Refused(e),
        }
    }

    fn try_store(&self, msg: &Message) -> Result<PubOutcome, ApiError> {
        let config = self.config();
        if config.sealed {
            return Err(ApiError::stream_sealed());
        }
        if config.max_msg_size > 0 && msg.size() > config.max_msg_size as usize {
            return Err(ApiError::stream_message_exceeds_maximum());
        }
        let now = now_nanos();
        let hdrs = msg.headers.as_deref();
        let get = |name| hdrs.and_then(|h| headers::get(h, name));
        let mut rollup = None;
        let mut msg_id = None;
        let mut ttl = 0;
        if hdrs.is_some() {
            if let Some(expected) = get(headers::EXPECTED_STREAM)
                && expected != self.name.as_bytes()
            {
                return Err(ApiError::stream_not_match());
            }
            if let Some(id) = get(headers::MSG_ID).filter(|id| !id.is_empty()) {
                if let Some(seq) = self.dedupe.lock().lookup(id, now) {
                    return Ok(PubOutcome::Stored {
                        seq,
                        duplicate: true,
                    });
                }
                msg_id = Some(Bytes::copy_from_slice(id));
            }
            let h = hdrs.unwrap_or_default();
            if let Some(expected) = headers::get_u64(h, headers::EXPECTED_LAST_SEQ) {
                let last = self.store.state().last_seq;
                if expected != Ok(last) {
                    return Err(ApiError::stream_wrong_last_sequence(last));
                }
            }
            if let Some(expected) = headers::get_u64(h, headers::EXPECTED_LAST_SUBJECT_SEQ) {
                let last = self
                    .store
                    .load_last(&msg.subject)
                    .ok()
                    .flatten()
                    .map_or(0, |m| m.seq);
                if expected != Ok(last) {
                    return Err(ApiError::stream_wrong_last_sequence(last));
                }
            }
            if let Some(expected) = get(headers::EXPECTED_LAST_MSG_ID) {
                let dedupe = self.dedupe.lock();
                let last = dedupe.last_msg_id.as_deref().unwrap_or_default();
                if expected != last {
                    return Err(ApiError::stream_wrong_last_msg_id(String::from_utf8_lossy(
                        last,
                    )));
                }
            }
            if let Some(value) = get(headers::ROLLUP) {
                if !config.allow_rollup_hdrs {
                    return Err(ApiError::stream_rollup_failed("rollup not permitted"));
                }
                match value {
                    b"sub" | b"all" => rollup = Some(value == b"all"),
                    _ => {
                        let v = String::from_utf8_lossy(value);
                        return Err(ApiError::stream_rollup_failed(format!(
                            "unrecognized rollup header value {v:?}"
                        )));
                    }
                }
            }
            if let Some(value) = get(headers::TTL) {
                if !config.allow_msg_ttl {
                    return Err(ApiError::message_ttl_disabled());
                }
                ttl = parse_ttl(value).ok_or_else(ApiError::message_ttl_invalid)?;
            }
        }
        let seq = self
            .store
            .append(&msg.subject, hdrs, &msg.payload, now)
            .map_err(|e| match e {
                StoreError::MaxMessageSize => ApiError::stream_message_exceeds_maximum(),
                other => ApiError::stream_store_failed(other.to_string()),
            })?;
        match msg_id {
            Some(id) => self.dedupe.lock().record(id, seq, now),
            // nats-server: a message without an id clears the last one.
            None => self.dedupe.lock().last_msg_id = None,
        }
        if ttl > 0 {
            self.ttls.lock().insert((now.saturating_add(ttl), seq));
        }
        if let Some(all) = rollup {
            let req = PurgeRequest {
                subject: (!all).then(|| msg.subject.clone()),
                keep: None,
                up_to_seq: Some(seq),
            };
            if let Err(e) = self.store.purge(&req) {
                warn!(stream = %self.name, "rollup purge failed: {e}");
            }
        }
        if config.retention == RetentionPolicy::Interest
            && !self.consumers().iter().any(|c| c.wants(&msg.subject))
        {
            // Nobody is interested: acked, but not kept.
            let _ = self.store.remove(seq);
        }
        Ok(PubOutcome::Stored {
            seq,
            duplicate: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_message_ttls_as_nats_server_does() {
        assert_eq!(parse_ttl(b"10"), Some(10_000_000_000));
        assert_eq!(parse_ttl(b"1m"), Some(60_000_000_000));
        assert_eq!(parse_ttl(b"never"), Some(-1));
        assert_eq!(parse_ttl(b"500ms"), None);
        assert_eq!(parse_ttl(b"0"), None);
        assert_eq!(parse_ttl(b"soon"), None);
    }

    #[test]
    fn ack_bodies_match_nats_server() {
        let ok = PubOutcome::Stored {
            seq: 4,
            duplicate: true,
        };
        assert_eq!(
            &ack_body("X", &ok)[..],
            br#"{"stream":"X","seq":4,"duplicate":true}"#
        );
        let ok = PubOutcome::Stored {
            seq: 4,
            duplicate: false,
        };
        assert_eq!(&ack_body("X", &ok)[..], br#"{"stream":"X","seq":4}"#);
        let err = PubOutcome::Refused(ApiError::stream_not_match());
        let body = String::from_utf8(ack_body("X", &err).to_vec()).unwrap();
        assert!(
            body.starts_with(r#"{"error":{"code":400,"err_code":10060"#),
            "{body}"
        );
        assert!(body.ends_with(r#""stream":"X","seq":0}"#), "{body}");
    }
}
