//! JetStream consumer JSON API types matching nats-server 2.15 (`consumer.go`,
//! `jetstream_api.go`): config with server defaulting, info, create/next/names requests
//! and response bodies. Shared helpers live in `super::types`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::types::{
    ApiResponse, ClusterInfo, META_REQ_LEVEL, StreamConfig, add_dynamic_metadata, canonical_time,
    is_false, is_none_or_empty_map, is_none_or_empty_vec, is_zero_i64, is_zero_u64,
    strip_dynamic_metadata,
};

/// Default ack wait for explicit/all ack consumers, 30 s (`JsAckWaitDefault`).
pub const DEFAULT_ACK_WAIT: i64 = 30_000_000_000;
/// Default inactive threshold stamped on ephemerals, 5 s (`JsDeleteWaitTimeDefault`).
pub const DEFAULT_EPHEMERAL_INACTIVE: i64 = 5_000_000_000;
/// Default max ack pending when acks are required (`JsDefaultMaxAckPending`).
pub const DEFAULT_MAX_ACK_PENDING: i64 = 1000;
/// Default max waiting pull requests (`JSWaitQueueDefaultMax`).
pub const DEFAULT_MAX_WAITING: i64 = 512;
/// Default pinned-client TTL, 2 min (`JsDefaultPinnedTTL`).
pub const DEFAULT_PINNED_TTL: i64 = 120_000_000_000;
/// Heartbeat forced by the `flow_control` ack policy, 1 s (`sourceHealthHB`).
pub const FLOW_CONTROL_HEARTBEAT: i64 = 1_000_000_000;

/// Where a consumer starts (`deliver_policy`); `"undefined"` decodes as `All` like Go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DeliverPolicy {
    /// From the first message (default).
    #[default]
    #[serde(rename = "all", alias = "undefined")]
    All,
    /// From the last message.
    #[serde(rename = "last")]
    Last,
    /// Only new messages.
    #[serde(rename = "new")]
    New,
    /// From `opt_start_seq`.
    #[serde(rename = "by_start_sequence")]
    ByStartSequence,
    /// From `opt_start_time`.
    #[serde(rename = "by_start_time")]
    ByStartTime,
    /// Last message per filtered subject.
    #[serde(rename = "last_per_subject")]
    LastPerSubject,
}

/// Acknowledgement mode (`ack_policy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AckPolicy {
    /// No acks (the Go zero value, so the default when omitted).
    #[default]
    #[serde(rename = "none")]
    None,
    /// Ack implies all earlier.
    #[serde(rename = "all")]
    All,
    /// Each message acked.
    #[serde(rename = "explicit")]
    Explicit,
    /// Flow-control acks for push sourcing consumers (2.14+, API level 4).
    #[serde(rename = "flow_control")]
    FlowControl,
}

/// Replay speed (`replay_policy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReplayPolicy {
    /// As fast as possible (default).
    #[default]
    #[serde(rename = "instant")]
    Instant,
    /// At original timing.
    #[serde(rename = "original")]
    Original,
}

/// Pull priority policy (`priority_policy`, omitted when `None`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PriorityPolicy {
    /// No priority groups (default).
    #[default]
    #[serde(rename = "none")]
    None,
    /// Overflow by min_pending/min_ack_pending.
    #[serde(rename = "overflow")]
    Overflow,
    /// One pinned client at a time.
    #[serde(rename = "pinned_client")]
    PinnedClient,
    /// Lowest `priority` first.
    #[serde(rename = "prioritized")]
    Prioritized,
}

impl PriorityPolicy {
    /// Serde skip helper: Go omits the zero value.
    pub fn is_none(&self) -> bool {
        *self == PriorityPolicy::None
    }
}

/// CONSUMER.CREATE `action`: `""` create-or-update (default), `"create"`, `"update"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ConsumerAction {
    /// Create or update (serialised as `""`).
    #[default]
    #[serde(rename = "")]
    CreateOrUpdate,
    /// Create only: 400/10148 if it exists with a different config (identical is OK).
    #[serde(rename = "create")]
    Create,
    /// Update only: 400/10149 if missing.
    #[serde(rename = "update")]
    Update,
}

/// Consumer configuration (request `config` and info `config`), strict decoding.
/// Field order and omission rules follow nats-server 2.15 `ConsumerConfig`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsumerConfig {
    /// Durable name (set => durable).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub durable_name: String,
    /// Consumer name (durables get name = durable_name; auto-named ephemerals keep it empty).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Description.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Start policy.
    pub deliver_policy: DeliverPolicy,
    /// Start sequence for `by_start_sequence`.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub opt_start_seq: u64,
    /// Start time for `by_start_time`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opt_start_time: Option<String>,
    /// Ack policy.
    pub ack_policy: AckPolicy,
    /// Ack wait in ns.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub ack_wait: i64,
    /// Max deliveries, -1 unlimited.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_deliver: i64,
    /// Redelivery backoff in ns.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub backoff: Vec<i64>,
    /// Single subject filter.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub filter_subject: String,
    /// Multiple subject filters.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filter_subjects: Vec<String>,
    /// Replay policy.
    pub replay_policy: ReplayPolicy,
    /// Push rate limit in bits/s.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub rate_limit_bps: u64,
    /// Ack sampling, e.g. `"50%"`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sample_freq: String,
    /// Max outstanding pull requests.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_waiting: i64,
    /// Max unacked messages, -1 unlimited.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_ack_pending: i64,
    /// Push flow control.
    #[serde(skip_serializing_if = "is_false")]
    pub flow_control: bool,
    /// Deliver headers only.
    #[serde(skip_serializing_if = "is_false")]
    pub headers_only: bool,
    /// Max batch per pull request.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_batch: i64,
    /// Max pull request expiry in ns.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_expires: i64,
    /// Max bytes per pull request.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_bytes: i64,
    /// Push delivery subject (set => push consumer).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub deliver_subject: String,
    /// Push queue group.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub deliver_group: String,
    /// Push idle heartbeat in ns.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub idle_heartbeat: i64,
    /// Delete after this inactivity in ns.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub inactive_threshold: i64,
    /// Replicas; always serialised, the server leaves it 0 (inherit) unless set.
    pub num_replicas: i64,
    /// Force memory storage.
    #[serde(skip_serializing_if = "is_false")]
    pub mem_storage: bool,
    /// Internal direct consumer flag (accepted, rarely used).
    #[serde(skip_serializing_if = "is_false")]
    pub direct: bool,
    /// Internal sourcing consumer flag (accepted, rarely used).
    #[serde(skip_serializing_if = "is_false")]
    pub sourcing: bool,
    /// User metadata plus `_nats.*` keys.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// Paused until this time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause_until: Option<String>,
    /// Priority group names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub priority_groups: Vec<String>,
    /// Priority policy.
    #[serde(skip_serializing_if = "PriorityPolicy::is_none")]
    pub priority_policy: PriorityPolicy,
    /// Pinned TTL in ns (Go `PinnedTTL`, JSON `priority_timeout`).
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub priority_timeout: i64,
}

impl ConsumerConfig {
    /// Push consumer (has a deliver subject) vs pull.
    pub fn is_push(&self) -> bool {
        !self.deliver_subject.is_empty()
    }

    /// Durable (has `durable_name`) vs ephemeral.
    pub fn is_durable(&self) -> bool {
        !self.durable_name.is_empty()
    }

    /// Apply nats-server's non-pedantic `setConsumerConfigDefaults` plus the create-path
    /// stamping (server/account max_ack_pending and max_batch limits assumed unset):
    /// - max_deliver 0 or < -1 -> -1; negative max_waiting/max_batch/max_expires/max_bytes/
    ///   idle_heartbeat/inactive_threshold/priority_timeout -> 0; max_ack_pending < -1 -> -1;
    /// - pull only: max_waiting 0 -> 512;
    /// - ack_wait 0 with explicit/all -> 30 s; non-empty backoff forces ack_wait = backoff[0];
    /// - max_ack_pending 0 -> stream consumer_limits.max_ack_pending, then (if still 0 and
    ///   ack policy != none) 1000; inactive_threshold 0 -> stream consumer_limits value;
    /// - pinned_client with priority_timeout 0 -> 2 min; flow_control ack policy forces
    ///   flow_control=true and idle_heartbeat=1 s;
    /// - ephemeral (no durable) with inactive_threshold still 0 -> 5 s;
    /// - durable with empty name -> name = durable_name; `Z` times re-rendered Go-style.
    pub fn normalized(mut self, stream: &StreamConfig) -> Self {
        if self.max_deliver == 0 || self.max_deliver < -1 {
            self.max_deliver = -1;
        }
        for v in [
            &mut self.max_waiting,
            &mut self.max_batch,
            &mut self.max_expires,
            &mut self.max_bytes,
            &mut self.idle_heartbeat,
            &mut self.inactive_threshold,
            &mut self.priority_timeout,
        ] {
            if *v < 0 {
                *v = 0;
            }
        }
        if self.max_ack_pending < -1 {
            self.max_ack_pending = -1;
        }
        if !self.is_push() && self.max_waiting == 0 {
            self.max_waiting = DEFAULT_MAX_WAITING;
        }
        if self.ack_wait == 0 && matches!(self.ack_policy, AckPolicy::Explicit | AckPolicy::All) {
            self.ack_wait = DEFAULT_ACK_WAIT;
        }
        if let Some(first) = self.backoff.first() {
            self.ack_wait = *first;
        }
        if self.max_ack_pending == 0 {
            self.max_ack_pending = stream.consumer_limits.max_ack_pending;
        }
        if self.inactive_threshold == 0 {
            self.inactive_threshold = stream.consumer_limits.inactive_threshold;
        }
        if self.max_ack_pending == 0 && self.ack_policy != AckPolicy::None {
            self.max_ack_pending = DEFAULT_MAX_ACK_PENDING;
        }
        if self.priority_policy == PriorityPolicy::PinnedClient && self.priority_timeout == 0 {
            self.priority_timeout = DEFAULT_PINNED_TTL;
        }
        if self.ack_policy == AckPolicy::FlowControl {
            self.flow_control = true;
            self.idle_heartbeat = FLOW_CONTROL_HEARTBEAT;
        }
        if !self.is_durable() && self.inactive_threshold <= 0 {
            self.inactive_threshold = DEFAULT_EPHEMERAL_INACTIVE;
        }
        if self.is_durable() && self.name.is_empty() {
            self.name = self.durable_name.clone();
        }
        for t in [&mut self.opt_start_time, &mut self.pause_until]
            .into_iter()
            .flatten()
        {
            *t = canonical_time(t);
        }
        self
    }

    /// API level this config requires (`setStaticConsumerMetadata`): 1 for pause_until or
    /// priority groups/policy/timeout, 4 for the flow_control ack policy.
    pub fn required_api_level(&self) -> u32 {
        let mut lvl = 0;
        let paused = self
            .pause_until
            .as_deref()
            .is_some_and(|t| t != super::types::ZERO_TIME);
        if paused
            || self.priority_policy != PriorityPolicy::None
            || self.priority_timeout != 0
            || !self.priority_groups.is_empty()
        {
            lvl = 1;
        }
        if self.ack_policy == AckPolicy::FlowControl {
            lvl = 4;
        }
        lvl
    }

    /// Store `_nats.req.level` and strip dynamic keys, as the server does on create.
    pub fn set_static_metadata(&mut self) {
        strip_dynamic_metadata(&mut self.metadata);
        let lvl = self.required_api_level();
        self.metadata.insert(META_REQ_LEVEL.into(), lvl.to_string());
    }

    /// Copy with `_nats.ver`/`_nats.level` added: what CONSUMER.CREATE/INFO responses show
    /// (CONSUMER.LIST items do not get them).
    pub fn with_dynamic_metadata(&self, server_version: &str) -> Self {
        let mut c = self.clone();
        add_dynamic_metadata(&mut c.metadata, server_version);
        c
    }
}

/// Consumer/stream sequence pair of `delivered` and `ack_floor`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SequenceInfo {
    /// Consumer sequence.
    pub consumer_seq: u64,
    /// Stream sequence.
    pub stream_seq: u64,
    /// Last activity time, omitted until there was activity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_active: Option<String>,
}

/// Priority group state in ConsumerInfo (`pinned_ts` is always present, zero time if unpinned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorityGroupState {
    /// Group name.
    pub group: String,
    /// Pinned client id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pinned_client_id: String,
    /// Pin time (Go zero time when none).
    pub pinned_ts: String,
}

/// Consumer info: CONSUMER.CREATE/INFO body and CONSUMER.LIST item.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConsumerInfo {
    /// Parent stream.
    pub stream_name: String,
    /// Consumer name (generated 8-char name for auto-named ephemerals).
    pub name: String,
    /// Creation time.
    pub created: String,
    /// Effective config.
    pub config: ConsumerConfig,
    /// Last delivered sequences.
    pub delivered: SequenceInfo,
    /// Ack floor sequences.
    pub ack_floor: SequenceInfo,
    /// Unacked deliveries.
    pub num_ack_pending: u64,
    /// Redelivered messages.
    pub num_redelivered: u64,
    /// Waiting pull requests.
    pub num_waiting: u64,
    /// Messages left to deliver.
    pub num_pending: u64,
    /// Cluster info (a standalone 2.15 server omits it for consumers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterInfo>,
    /// Push consumer has an active subscriber on deliver_subject.
    #[serde(default, skip_serializing_if = "is_false")]
    pub push_bound: bool,
    /// Currently paused.
    #[serde(default, skip_serializing_if = "is_false")]
    pub paused: bool,
    /// Remaining pause in ns.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub pause_remaining: i64,
    /// When the info was gathered.
    pub ts: String,
    /// Priority group states (one per configured group).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub priority_groups: Vec<PriorityGroupState>,
}

/// CONSUMER.CREATE / CONSUMER.DURABLE.CREATE request (strict).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CreateConsumerRequest {
    /// Must equal the stream in the subject (else 400/10056).
    pub stream_name: String,
    /// Requested config.
    pub config: ConsumerConfig,
    /// Create/update semantics.
    pub action: ConsumerAction,
    /// Pedantic mode: fail instead of silently defaulting.
    #[serde(skip_serializing_if = "is_false")]
    pub pedantic: bool,
}

/// Pull request body on `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`. Lenient: the server
/// decodes it without rejecting unknown fields; a bare integer body means `batch`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NextRequest {
    /// Expiry in ns.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub expires: i64,
    /// Messages requested.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub batch: i64,
    /// Byte budget.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_bytes: i64,
    /// Answer 404 immediately when nothing is pending.
    #[serde(skip_serializing_if = "is_false")]
    pub no_wait: bool,
    /// Idle heartbeat in ns.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub idle_heartbeat: i64,
    /// Priority group.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub group: String,
    /// Overflow: only when num_pending >= this.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub min_pending: i64,
    /// Overflow: only when num_ack_pending >= this.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub min_ack_pending: i64,
    /// Pin id for pinned_client.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Priority for prioritized.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub priority: i64,
}

/// CONSUMER.NAMES / CONSUMER.LIST request (strict; 2.15 accepts only `offset`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsumerNamesRequest {
    /// Page offset.
    pub offset: usize,
}

/// CONSUMER.LIST request (same as names).
pub type ConsumerListRequest = ConsumerNamesRequest;

/// CONSUMER.PAUSE request (strict); absent/zero time resumes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsumerPauseRequest {
    /// Pause deadline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause_until: Option<String>,
}

/// CONSUMER.PAUSE success body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConsumerPauseBody {
    /// Now paused.
    pub paused: bool,
    /// Deadline (zero time when resumed).
    pub pause_until: String,
    /// Remaining ns.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub pause_remaining: i64,
}

/// Ack `-NAK {"delay":ns}` options body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NakOptions {
    /// Redelivery delay in ns.
    pub delay: i64,
}

/// CONSUMER.NAMES body; empty is `"consumers":[]` (unlike stream names' `null`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConsumerNamesBody {
    /// Total consumers.
    pub total: usize,
    /// Offset.
    pub offset: usize,
    /// Page size (1024).
    pub limit: usize,
    /// Sorted names.
    pub consumers: Vec<String>,
}

/// CONSUMER.LIST body; empty is `"consumers":[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConsumerListBody {
    /// Total consumers.
    pub total: usize,
    /// Offset.
    pub offset: usize,
    /// Page size (256).
    pub limit: usize,
    /// Infos sorted by name (metadata without dynamic keys).
    pub consumers: Vec<ConsumerInfo>,
    /// Consumers that could not be reported.
    #[serde(default, skip_serializing_if = "is_none_or_empty_vec")]
    pub missing: Option<Vec<String>>,
    /// Offline consumers and reasons.
    #[serde(default, skip_serializing_if = "is_none_or_empty_map")]
    pub offline: Option<BTreeMap<String, String>>,
}

/// Typed CONSUMER.CREATE response.
pub type ConsumerCreateResponse = ApiResponse<ConsumerInfo>;
/// Typed CONSUMER.INFO response.
pub type ConsumerInfoResponse = ApiResponse<ConsumerInfo>;
/// Typed CONSUMER.NAMES response.
pub type ConsumerNamesResponse = ApiResponse<ConsumerNamesBody>;
/// Typed CONSUMER.LIST response.
pub type ConsumerListResponse = ApiResponse<ConsumerListBody>;
/// Typed CONSUMER.PAUSE response.
pub type ConsumerPauseResponse = ApiResponse<ConsumerPauseBody>;
