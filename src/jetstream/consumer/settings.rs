//! The consumer configuration in the form the delivery loop uses: durations, byte strings
//! and plain limits, converted once from the API's `ConsumerConfig`.

use std::time::Duration;

use bytes::Bytes;

use super::state::AckMode;
use crate::jetstream::api::consumer_types::{AckPolicy, ConsumerConfig};

/// What the delivery loop needs to know about a consumer.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How acks count.
    pub ack: AckMode,
    /// How long a delivery waits for its ack before redelivery.
    pub ack_wait: Duration,
    /// Redelivery delays by delivery count, replacing `ack_wait` when set.
    pub backoff: Vec<Duration>,
    /// Most deliveries of one message (<= 0 = unlimited).
    pub max_deliver: i64,
    /// Most unacked messages before delivery pauses (<= 0 = unlimited).
    pub max_ack_pending: i64,
    /// Most waiting pull requests.
    pub max_waiting: i64,
    /// Subjects this consumer reads (empty = all of the stream).
    pub filters: Vec<Bytes>,
    /// Push consumers: where messages go.
    pub deliver_subject: Option<Bytes>,
    /// Push consumers: send flow control requests.
    pub flow_control: bool,
    /// Idle heartbeat interval (push), zero for none.
    pub idle_heartbeat: Duration,
    /// Deliver headers and the payload size only.
    pub headers_only: bool,
    /// Largest batch a pull request may ask for (<= 0 = unlimited).
    pub max_batch: i64,
    /// Longest expiry a pull request may ask for (zero = unlimited).
    pub max_expires: Duration,
    /// Largest max_bytes a pull request may ask for (<= 0 = unlimited).
    pub max_bytes: i64,
    /// Delete the consumer after this long without interest (zero = never).
    pub inactive_threshold: Duration,
}

fn nanos(n: i64) -> Duration {
    Duration::from_nanos(n.max(0) as u64)
}

impl Settings {
    /// Converts a normalized API config.
    pub fn from_config(c: &ConsumerConfig) -> Settings {
        let mut filters: Vec<Bytes> = Vec::new();
        if !c.filter_subject.is_empty() {
            filters.push(Bytes::copy_from_slice(c.filter_subject.as_bytes()));
        }
        for f in &c.filter_subjects {
            if !f.is_empty() {
                filters.push(Bytes::copy_from_slice(f.as_bytes()));
            }
        }
        // `>` reads everything; no need to filter.
        if filters.iter().any(|f| &f[..] == b">") {
            filters.clear();
        }
        Settings {
            ack: match c.ack_policy {
                AckPolicy::None | AckPolicy::FlowControl => AckMode::None,
                AckPolicy::All => AckMode::All,
                AckPolicy::Explicit => AckMode::Explicit,
            },
            ack_wait: nanos(c.ack_wait),
            backoff: c.backoff.iter().map(|n| nanos(*n)).collect(),
            max_deliver: c.max_deliver,
            max_ack_pending: c.max_ack_pending,
            max_waiting: c.max_waiting,
            filters,
            deliver_subject: (!c.deliver_subject.is_empty())
                .then(|| Bytes::copy_from_slice(c.deliver_subject.as_bytes())),
            flow_control: c.flow_control,
            idle_heartbeat: nanos(c.idle_heartbeat),
            headers_only: c.headers_only,
            max_batch: c.max_batch,
            max_expires: nanos(c.max_expires),
            max_bytes: c.max_bytes,
            inactive_threshold: nanos(c.inactive_threshold),
        }
    }

    /// The ack wait before redelivery number `deliveries` (1 = after the first delivery).
    pub fn wait_after(&self, deliveries: u64) -> Duration {
        if self.backoff.is_empty() {
            return self.ack_wait;
        }
        let i = (deliveries.max(1) - 1) as usize;
        self.backoff[i.min(self.backoff.len() - 1)]
    }

    /// True for push consumers.
    pub fn is_push(&self) -> bool {
        self.deliver_subject.is_some()
    }
}
