//! JetStream JSON API account info, stream request bodies, response bodies, publish acks
//! and the response envelope helpers, matching nats-server 2.15 field sets exactly.
//! Everything here is re-exported from `super::types`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::errors::ApiError;
use super::types::{
    API_TYPE_PREFIX, JS_API_LEVEL, StreamInfo, format_time, is_false, is_none_or_empty_map,
    is_none_or_empty_vec, is_zero_i64, is_zero_u64,
};

// ---------------------------------------------------------------------------
// Account info
// ---------------------------------------------------------------------------

/// Account limits in `$JS.API.INFO` (-1 means unlimited).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountLimits {
    /// Memory storage limit.
    pub max_memory: i64,
    /// File storage limit.
    pub max_storage: i64,
    /// Stream count limit.
    pub max_streams: i64,
    /// Consumer count limit.
    pub max_consumers: i64,
    /// Max ack pending limit.
    pub max_ack_pending: i64,
    /// Max bytes per memory stream.
    pub memory_max_stream_bytes: i64,
    /// Max bytes per file stream.
    pub storage_max_stream_bytes: i64,
    /// Whether streams must set max_bytes.
    pub max_bytes_required: bool,
}

impl Default for AccountLimits {
    fn default() -> Self {
        AccountLimits {
            max_memory: -1,
            max_storage: -1,
            max_streams: -1,
            max_consumers: -1,
            max_ack_pending: -1,
            memory_max_stream_bytes: -1,
            storage_max_stream_bytes: -1,
            max_bytes_required: false,
        }
    }
}

/// API usage counters in `$JS.API.INFO`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiStats {
    /// API level (5 for 2.15).
    pub level: u32,
    /// Total API requests.
    pub total: u64,
    /// API requests answered with an error.
    pub errors: u64,
    /// Requests in flight (omitted when 0).
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub inflight: u64,
}

impl Default for ApiStats {
    fn default() -> Self {
        ApiStats {
            level: JS_API_LEVEL,
            total: 0,
            errors: 0,
            inflight: 0,
        }
    }
}

/// Per-tier usage (`JetStreamTier`); also the top-level usage of [`AccountInfo`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountTier {
    /// Memory bytes used.
    pub memory: u64,
    /// File bytes used.
    pub storage: u64,
    /// Memory reserved: sum of max_bytes of memory streams with max_bytes > 0.
    pub reserved_memory: u64,
    /// File reserved: sum of max_bytes of file streams with max_bytes > 0.
    pub reserved_storage: u64,
    /// Stream count.
    pub streams: u64,
    /// Consumer count.
    pub consumers: u64,
    /// Limits.
    pub limits: AccountLimits,
}

/// Body of the `$JS.API.INFO` response (`JetStreamAccountStats`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountInfo {
    /// Memory bytes used.
    pub memory: u64,
    /// File bytes used.
    pub storage: u64,
    /// Reserved memory bytes.
    pub reserved_memory: u64,
    /// Reserved file bytes.
    pub reserved_storage: u64,
    /// Stream count.
    pub streams: u64,
    /// Consumer count.
    pub consumers: u64,
    /// Account limits.
    pub limits: AccountLimits,
    /// JetStream domain.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domain: String,
    /// API counters.
    pub api: ApiStats,
    /// Tiered usage (absent on a default standalone account).
    #[serde(default, skip_serializing_if = "is_none_or_empty_map")]
    pub tiers: Option<BTreeMap<String, AccountTier>>,
}

// ---------------------------------------------------------------------------
// Stream requests
// ---------------------------------------------------------------------------

/// STREAM.NAMES request (strict).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StreamNamesRequest {
    /// Page offset.
    pub offset: usize,
    /// Only streams whose subjects collide with this subject.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subject: String,
}

/// STREAM.LIST request (strict; same fields as names).
pub type StreamListRequest = StreamNamesRequest;

/// STREAM.INFO request (strict).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StreamInfoRequest {
    /// Page offset into `state.subjects`.
    pub offset: usize,
    /// Include `state.deleted`.
    #[serde(skip_serializing_if = "is_false")]
    pub deleted_details: bool,
    /// Include `state.subjects` for subjects matching this filter.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subjects_filter: String,
}

/// STREAM.PURGE request (strict); `seq` and `keep` together is 400/10003 bad request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StreamPurgeRequest {
    /// Purge up to but not including this sequence.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub seq: u64,
    /// Subject filter (wildcards allowed).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub filter: String,
    /// Messages to keep.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub keep: u64,
}

/// STREAM.MSG.GET and DIRECT.GET request (strict). MSG.GET answers 400/10003 "bad request"
/// for an empty request or any of the batch fields; DIRECT.GET accepts them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MsgGetRequest {
    /// Exact sequence (or start for `next_by_subj`).
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub seq: u64,
    /// Last message on this subject.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub last_by_subj: String,
    /// Next message at or after `seq` on this subject (wildcards allowed).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub next_by_subj: String,
    /// DIRECT.GET batch size.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub batch: i64,
    /// DIRECT.GET max bytes.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_bytes: i64,
    /// DIRECT.GET start time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// DIRECT.GET last message per subject for these filters.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub multi_last: Vec<String>,
    /// DIRECT.GET upper sequence bound.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub up_to_seq: u64,
    /// DIRECT.GET upper time bound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub up_to_time: Option<String>,
    /// DIRECT.GET payload only, no headers.
    #[serde(skip_serializing_if = "is_false")]
    pub no_hdr: bool,
}

/// STREAM.MSG.DELETE request (strict).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MsgDeleteRequest {
    /// Sequence to delete.
    pub seq: u64,
    /// Skip overwriting the message bytes.
    #[serde(skip_serializing_if = "is_false")]
    pub no_erase: bool,
}

// ---------------------------------------------------------------------------
// Response bodies (see `ok_response` / `error_response`)
// ---------------------------------------------------------------------------

/// STREAM.CREATE success body: the stream info plus `did_create` (omitted when false).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamCreateBody {
    /// The created (or identical existing) stream.
    #[serde(flatten)]
    pub info: StreamInfo,
    /// True when the server created it (2.15 also says true for an identical re-create).
    #[serde(default, skip_serializing_if = "is_false")]
    pub did_create: bool,
}

/// STREAM.INFO success body: paging fields (all 0 unless `subjects_filter`) then the info.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamInfoBody {
    /// Total subjects (with `subjects_filter`), else 0.
    pub total: usize,
    /// Offset used, else 0.
    pub offset: usize,
    /// [`super::types::MAX_SUBJECT_DETAILS`] with `subjects_filter`, else 0.
    pub limit: usize,
    /// The stream info.
    #[serde(flatten)]
    pub info: StreamInfo,
}

/// STREAM.NAMES body; an empty result is `"streams":null` (unlike every other list).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamNamesBody {
    /// Total matching streams.
    pub total: usize,
    /// Offset.
    pub offset: usize,
    /// Page size ([`super::types::NAMES_LIMIT`]).
    pub limit: usize,
    /// Sorted names; `None` serialises as `null` (what the server sends when empty).
    pub streams: Option<Vec<String>>,
}

/// STREAM.LIST body; empty is `"streams":[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamListBody {
    /// Total streams.
    pub total: usize,
    /// Offset.
    pub offset: usize,
    /// Page size ([`super::types::LIST_LIMIT`]).
    pub limit: usize,
    /// Infos (no `cluster`, metadata without dynamic keys), sorted by name.
    pub streams: Vec<StreamInfo>,
    /// Streams that could not be reported.
    #[serde(default, skip_serializing_if = "is_none_or_empty_vec")]
    pub missing: Option<Vec<String>>,
    /// Offline streams and reasons.
    #[serde(default, skip_serializing_if = "is_none_or_empty_map")]
    pub offline: Option<BTreeMap<String, String>>,
}

/// Body of delete-style responses (`stream_delete`, `consumer_delete`, `stream_msg_delete`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SuccessBody {
    /// Always true on success (Go omits it when false).
    #[serde(default, skip_serializing_if = "is_false")]
    pub success: bool,
}

/// STREAM.PURGE body; `purged` is present even in error responses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamPurgeBody {
    /// True on success.
    #[serde(default, skip_serializing_if = "is_false")]
    pub success: bool,
    /// Messages removed.
    pub purged: u64,
}

/// A stored message as returned by STREAM.MSG.GET (`StoredMsg`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredMsg {
    /// Subject.
    pub subject: String,
    /// Sequence.
    pub seq: u64,
    /// Raw header block (`NATS/1.0\r\n...`), base64; omitted when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hdrs: Option<String>,
    /// Payload, base64; omitted when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Store time.
    pub time: String,
}

impl StoredMsg {
    /// Build from raw bytes, base64-encoding headers/payload and omitting empty ones like Go.
    pub fn new(subject: &str, seq: u64, hdrs: &[u8], data: &[u8], unix_nanos: i64) -> Self {
        use base64::Engine as _;
        let enc =
            |b: &[u8]| (!b.is_empty()).then(|| base64::engine::general_purpose::STANDARD.encode(b));
        StoredMsg {
            subject: subject.to_string(),
            seq,
            hdrs: enc(hdrs),
            data: enc(data),
            time: format_time(unix_nanos),
        }
    }
}

/// STREAM.MSG.GET success body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MsgGetBody {
    /// The message.
    pub message: StoredMsg,
}

// ---------------------------------------------------------------------------
// Publish acks
// ---------------------------------------------------------------------------

/// Publish ack; wire order is stream, domain, seq like the server's hand-built ack.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PubAck {
    /// Stream that stored the message.
    pub stream: String,
    /// JetStream domain, if any.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domain: String,
    /// Assigned sequence (0 in error acks).
    pub seq: u64,
    /// Set when `Nats-Msg-Id` was a duplicate (seq is the original's).
    #[serde(default, skip_serializing_if = "is_false")]
    pub duplicate: bool,
    /// Counter value for counter streams.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub val: String,
    /// Batch id for batch commits.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub batch: String,
    /// Batch size for batch commits.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub count: u64,
}

impl PubAck {
    /// Serialised success ack, e.g. `{"stream":"ORDERS","seq":4,"duplicate":true}`.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Failed publish ack: `{"error":{...},"stream":"<name>","seq":0}` (stream always present).
pub fn pub_ack_error(stream: &str, domain: &str, err: &ApiError) -> Vec<u8> {
    #[derive(Serialize)]
    struct PubAckErr<'a> {
        error: &'a ApiError,
        stream: &'a str,
        #[serde(skip_serializing_if = "str::is_empty")]
        domain: &'a str,
        seq: u64,
    }
    let v = PubAckErr {
        error: err,
        stream,
        domain,
        seq: 0,
    };
    serde_json::to_vec(&v).unwrap_or_default()
}

// ---------------------------------------------------------------------------
// Response envelope
// ---------------------------------------------------------------------------

/// Typed response envelope `{"type":..., "error"?:..., ...body}`; mainly for decoding/tests,
/// the runtime can use [`ok_response`] / [`error_response`] for exact server bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiResponse<T> {
    /// `io.nats.jetstream.api.v1.<kind>_response`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Error, when failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    /// Success body fields, flattened.
    #[serde(flatten)]
    pub body: Option<T>,
}

/// Full `type` string for a kind such as `"stream_create"`.
pub fn response_type(kind: &str) -> String {
    format!("{API_TYPE_PREFIX}{kind}_response")
}

/// Success response bytes: `{"type":"io.nats.jetstream.api.v1.<kind>_response",<body fields>}`.
/// `body` must serialise to a JSON object.
pub fn ok_response<T: Serialize>(kind: &str, body: &T) -> Vec<u8> {
    let body = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut out = Vec::with_capacity(body.len() + 64);
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(API_TYPE_PREFIX.as_bytes());
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"_response\"");
    if body.len() > 2 && body[0] == b'{' {
        out.push(b',');
        out.extend_from_slice(&body[1..]);
    } else {
        out.push(b'}');
    }
    out
}

/// Error response bytes with the per-kind zero fields nats-server still emits: paged kinds
/// (`stream_info`, `*_names`, `*_list`) add `total/offset/limit:0`, `stream_names` adds
/// `"streams":null`, `stream_list` `"streams":[]`, consumer lists `"consumers":[]`,
/// `stream_purge` adds `"purged":0`.
pub fn error_response(kind: &str, err: &ApiError) -> Vec<u8> {
    let mut out = format!("{{\"type\":\"{API_TYPE_PREFIX}{kind}_response\",\"error\":");
    out.push_str(&serde_json::to_string(err).unwrap_or_default());
    let paged = ",\"total\":0,\"offset\":0,\"limit\":0";
    let extra = match kind {
        "stream_info" => paged.to_string(),
        "stream_names" => format!("{paged},\"streams\":null"),
        "stream_list" => format!("{paged},\"streams\":[]"),
        "consumer_names" | "consumer_list" => format!("{paged},\"consumers\":[]"),
        "stream_purge" => ",\"purged\":0".to_string(),
        _ => String::new(),
    };
    out.push_str(&extra);
    out.push('}');
    out.into_bytes()
}

/// Typed STREAM.CREATE response.
pub type StreamCreateResponse = ApiResponse<StreamCreateBody>;
/// Typed STREAM.UPDATE response (no `did_create`, no `cluster`).
pub type StreamUpdateResponse = ApiResponse<StreamInfo>;
/// Typed STREAM.INFO response.
pub type StreamInfoResponse = ApiResponse<StreamInfoBody>;
/// Typed STREAM.NAMES response.
pub type StreamNamesResponse = ApiResponse<StreamNamesBody>;
/// Typed STREAM.LIST response.
pub type StreamListResponse = ApiResponse<StreamListBody>;
/// Typed STREAM.DELETE / CONSUMER.DELETE / STREAM.MSG.DELETE response.
pub type SuccessResponse = ApiResponse<SuccessBody>;
/// Typed STREAM.PURGE response.
pub type StreamPurgeResponse = ApiResponse<StreamPurgeBody>;
/// Typed STREAM.MSG.GET response.
pub type MsgGetResponse = ApiResponse<MsgGetBody>;
/// Typed `$JS.API.INFO` response.
pub type AccountInfoResponse = ApiResponse<AccountInfo>;
