//! JetStream JSON API types shared by streams, accounts and responses, matching the field
//! sets nats-server 2.15 serialises (Go `omitempty` is mirrored with `skip_serializing_if`).
//! Durations are `i64` nanoseconds; times are RFC 3339 strings (see [`format_time`]).
//! Consumer types live in `super::consumer_types`.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

pub use super::consumer_types::*;
pub use super::responses::*;

/// Go's zero `time.Time` as nats-server prints it (e.g. `first_ts` of an empty stream).
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";
/// Prefix of every JSON API response `type` value.
pub const API_TYPE_PREFIX: &str = "io.nats.jetstream.api.v1.";
/// JetStream API level reported by nats-server 2.15 (`api.level`, `_nats.level`).
pub const JS_API_LEVEL: u32 = 5;
/// Maximum stream/consumer name length (`JSMaxNameLen`).
pub const MAX_NAME_LEN: usize = 255;
/// Maximum description length (`JSMaxDescriptionLen`).
pub const MAX_DESCRIPTION_LEN: usize = 4 * 1024;
/// Maximum summed length of metadata keys and values (`JSMaxMetadataLen`).
pub const MAX_METADATA_LEN: usize = 128 * 1024;
/// Page size of STREAM.NAMES / CONSUMER.NAMES (`JSApiNamesLimit`).
pub const NAMES_LIMIT: usize = 1024;
/// Page size of STREAM.LIST / CONSUMER.LIST (`JSApiListLimit`).
pub const LIST_LIMIT: usize = 256;
/// Page size of `subjects` in STREAM.INFO with `subjects_filter` (`JSMaxSubjectDetails`).
pub const MAX_SUBJECT_DETAILS: usize = 100_000;
/// Default duplicate window, 2 minutes (`StreamDefaultDuplicatesWindow`).
pub const DEFAULT_DUPLICATE_WINDOW: i64 = 120_000_000_000;
/// Metadata key holding the API level an asset requires (stored).
pub const META_REQ_LEVEL: &str = "_nats.req.level";
/// Metadata key with the server version (added to create/info/update responses only).
pub const META_SERVER_VERSION: &str = "_nats.ver";
/// Metadata key with the server API level (added to create/info/update responses only).
pub const META_SERVER_LEVEL: &str = "_nats.level";

pub(crate) fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}
pub(crate) fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}
pub(crate) fn is_false(v: &bool) -> bool {
    !*v
}
pub(crate) fn is_none_or_empty_map<K, V>(v: &Option<BTreeMap<K, V>>) -> bool {
    v.as_ref().is_none_or(|m| m.is_empty())
}
pub(crate) fn is_none_or_empty_vec<T>(v: &Option<Vec<T>>) -> bool {
    v.as_ref().is_none_or(|m| m.is_empty())
}

// ---------------------------------------------------------------------------
// Time helpers
// ---------------------------------------------------------------------------

/// Proleptic Gregorian (year, month, day) for a count of days since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Days since 1970-01-01 for a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = i64::from(if m > 2 { m - 3 } else { m + 9 });
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Format Unix nanoseconds like Go's `time.Time` JSON (RFC 3339, UTC, trailing zeros of
/// the fraction trimmed, no fraction when whole seconds); `0` gives [`ZERO_TIME`].
pub fn format_time(unix_nanos: i64) -> String {
    if unix_nanos == 0 {
        return ZERO_TIME.to_string();
    }
    let secs = unix_nanos.div_euclid(1_000_000_000);
    let nanos = unix_nanos.rem_euclid(1_000_000_000);
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, mo, d) = civil_from_days(days);
    let mut s = format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    );
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Parse an RFC 3339 time (`Z` or `±hh:mm` offset, optional fraction up to 9 digits) into
/// Unix nanoseconds; [`ZERO_TIME`] (any Go zero time) maps to `0`, out-of-range gives `None`.
pub fn parse_time(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if !t.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = i - start;
        if digits == 0 || digits > 9 {
            return None;
        }
        nanos = num(start..i)? * 10i64.pow((9 - digits) as u32);
    }
    let offset_secs = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let off = num(i + 1..i + 3)? * 3600 + num(i + 4..i + 6)? * 60;
            if *sign == b'+' { off } else { -off }
        }
        _ => return None,
    };
    if (y, mo, d, h, mi, se, nanos, offset_secs) == (1, 1, 1, 0, 0, 0, 0, 0) {
        return Some(0);
    }
    let days = days_from_civil(y, mo as u32, d as u32);
    let secs = days * 86_400 + h * 3600 + mi * 60 + se - offset_secs;
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// Re-render a `Z`-suffixed time the way Go would echo it (e.g. `.500Z` -> `.5Z`); other
/// strings (explicit offsets, unparsable) are returned unchanged.
pub fn canonical_time(s: &str) -> String {
    match parse_time(s) {
        Some(n) if s.ends_with(['Z', 'z']) => format_time(n),
        _ => s.to_string(),
    }
}

/// nats-server's `isValidAssetName` plus the length cap: non-empty, at most 255 bytes, no
/// whitespace (space, `\t\r\n\f`), `.`, `*`, `>`, `\` or `/`. Used for streams and consumers.
pub fn check_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && !name.contains([' ', '\t', '\r', '\n', '\x0c', '.', '*', '>', '\\', '/'])
}

// ---------------------------------------------------------------------------
// Stream enums
// ---------------------------------------------------------------------------

/// Stream retention policy (`retention`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RetentionPolicy {
    /// Keep messages until limits are hit (default).
    #[default]
    #[serde(rename = "limits")]
    Limits,
    /// Keep messages while any consumer has interest.
    #[serde(rename = "interest")]
    Interest,
    /// Remove messages once acknowledged by their (single) consumer.
    #[serde(rename = "workqueue")]
    WorkQueue,
}

/// What to discard when a stream limit is reached (`discard`); Go decodes it case-insensitively.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
pub enum DiscardPolicy {
    /// Drop the oldest messages (default).
    #[default]
    #[serde(rename = "old")]
    Old,
    /// Reject new messages.
    #[serde(rename = "new")]
    New,
}

impl<'de> Deserialize<'de> for DiscardPolicy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.to_ascii_lowercase().as_str() {
            "old" => Ok(DiscardPolicy::Old),
            "new" => Ok(DiscardPolicy::New),
            _ => Err(serde::de::Error::unknown_variant(&s, &["old", "new"])),
        }
    }
}

/// Stream storage backend (`storage`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StorageType {
    /// On disk (default).
    #[default]
    #[serde(rename = "file")]
    File,
    /// In memory.
    #[serde(rename = "memory")]
    Memory,
}

/// Stream store compression (`compression`, always serialised).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Compression {
    /// No compression (default).
    #[default]
    #[serde(rename = "none")]
    None,
    /// S2 block compression.
    #[serde(rename = "s2")]
    S2,
}

/// Stream persistence mode (`persist_mode`, omitted when `Default`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PersistMode {
    /// Flush before acking (default; `""` also decodes to this).
    #[default]
    #[serde(rename = "default", alias = "")]
    Default,
    /// Ack before the flush completes (file storage, R1 only).
    #[serde(rename = "async")]
    Async,
}

impl PersistMode {
    /// Serde skip helper: Go omits the field when it is the default.
    pub fn is_default(&self) -> bool {
        *self == PersistMode::Default
    }
}

// ---------------------------------------------------------------------------
// Stream config / state / info
// ---------------------------------------------------------------------------

/// Per-stream defaults applied to its consumers (`consumer_limits`, always serialised, `{}` when unset).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamConsumerLimits {
    /// Default/maximum consumer inactive threshold in ns.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub inactive_threshold: i64,
    /// Default/maximum consumer max_ack_pending.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub max_ack_pending: i64,
}

/// Stream configuration: the STREAM.CREATE/UPDATE request body and `config` of StreamInfo.
/// Field order and omission rules follow nats-server 2.15 `StreamConfig`. Decoding is strict.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StreamConfig {
    /// Stream name (always serialised).
    pub name: String,
    /// Free-form description.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Subjects captured by the stream.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<String>,
    /// Retention policy.
    pub retention: RetentionPolicy,
    /// Max consumers, -1 unlimited.
    pub max_consumers: i64,
    /// Max messages, -1 unlimited.
    pub max_msgs: i64,
    /// Max bytes, -1 unlimited.
    pub max_bytes: i64,
    /// Max message age in ns, 0 unlimited.
    pub max_age: i64,
    /// Max messages per subject, -1 unlimited.
    pub max_msgs_per_subject: i64,
    /// Max message size, -1 unlimited (Go `omitempty`, but normalised to -1 so always present).
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_msg_size: i64,
    /// Discard policy.
    pub discard: DiscardPolicy,
    /// Storage backend.
    pub storage: StorageType,
    /// Replica count (1 on a standalone server).
    pub num_replicas: i64,
    /// Do not ack publishes.
    #[serde(skip_serializing_if = "is_false")]
    pub no_ack: bool,
    /// Duplicate-detection window in ns.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub duplicate_window: i64,
    /// Cluster placement, passed through untouched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement: Option<Value>,
    /// Mirror source, passed through untouched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirror: Option<Value>,
    /// Sources, passed through untouched (array).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources: Option<Value>,
    /// Store compression (always serialised).
    pub compression: Compression,
    /// First sequence for a new stream.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub first_seq: u64,
    /// Subject transform applied on ingest, passed through untouched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_transform: Option<Value>,
    /// Republish directive, passed through untouched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub republish: Option<Value>,
    /// Allow `$JS.API.DIRECT.GET`.
    pub allow_direct: bool,
    /// Allow direct get on a mirror.
    pub mirror_direct: bool,
    /// Apply discard-new per subject.
    #[serde(skip_serializing_if = "is_false")]
    pub discard_new_per_subject: bool,
    /// Stream is sealed (read-only).
    pub sealed: bool,
    /// Deny message delete.
    pub deny_delete: bool,
    /// Deny purge.
    pub deny_purge: bool,
    /// Allow `Nats-Rollup` headers.
    pub allow_rollup_hdrs: bool,
    /// Consumer defaults/limits (always serialised, `{}` when empty).
    pub consumer_limits: StreamConsumerLimits,
    /// Honour `Nats-TTL` headers.
    pub allow_msg_ttl: bool,
    /// TTL of subject delete markers in ns.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub subject_delete_marker_ttl: i64,
    /// Counter CRDT stream.
    #[serde(skip_serializing_if = "is_false")]
    pub allow_msg_counter: bool,
    /// Allow atomic batch publish.
    #[serde(skip_serializing_if = "is_false")]
    pub allow_atomic: bool,
    /// Allow message schedules.
    #[serde(skip_serializing_if = "is_false")]
    pub allow_msg_schedules: bool,
    /// Persistence mode (omitted when default).
    #[serde(skip_serializing_if = "PersistMode::is_default")]
    pub persist_mode: PersistMode,
    /// Allow fast batch publish (2.14+).
    #[serde(skip_serializing_if = "is_false")]
    pub allow_batched: bool,
    /// User metadata plus `_nats.*` versioning keys (sorted like Go maps).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// Request-only `pedantic` flag of STREAM.CREATE/UPDATE (`StreamConfigRequest`); never serialised.
    #[serde(skip_serializing)]
    pub pedantic: bool,
}

impl StreamConfig {
    /// Apply the non-failing defaulting of nats-server's `checkStreamCfg` (non-pedantic, no
    /// server `duplicate_window` limit): file storage, R1, -1 for unset/negative max_msgs,
    /// max_msgs_per_subject, max_bytes, max_msg_size, max_consumers; duplicate window 2 min
    /// (or max_age if smaller) unless mirror/sources; subject-delete-markers and schedules
    /// force rollups on (and deny_purge off), markers also force allow_msg_ttl; subjects
    /// default to `[name]` when no mirror/sources; empty republish `src` becomes `>`; an
    /// all-empty placement is dropped. Validation errors are the caller's job.
    pub fn normalized(mut self) -> Self {
        if self.num_replicas == 0 {
            self.num_replicas = 1;
        }
        for v in [
            &mut self.max_msgs,
            &mut self.max_msgs_per_subject,
            &mut self.max_bytes,
            &mut self.max_msg_size,
            &mut self.max_consumers,
        ] {
            if *v == 0 || *v < -1 {
                *v = -1;
            }
        }
        let has_origin = self.mirror.is_some() || self.sources_non_empty();
        if self.duplicate_window == 0 && !has_origin {
            self.duplicate_window = if self.max_age != 0 && self.max_age < DEFAULT_DUPLICATE_WINDOW
            {
                self.max_age
            } else {
                DEFAULT_DUPLICATE_WINDOW
            };
        }
        if self.subject_delete_marker_ttl > 0 {
            self.allow_msg_ttl = true;
            if !self.allow_rollup_hdrs {
                self.allow_rollup_hdrs = true;
                self.deny_purge = false;
            }
        }
        if self.allow_msg_schedules && !self.allow_rollup_hdrs {
            self.allow_rollup_hdrs = true;
            self.deny_purge = false;
        }
        if self.subjects.is_empty() && !has_origin {
            self.subjects.push(self.name.clone());
        }
        if let Some(Value::Object(rp)) = &mut self.republish {
            let empty = rp
                .get("src")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty);
            if empty {
                rp.insert("src".into(), Value::String(">".into()));
            }
        }
        // Go drops a placement that DeepEquals `Placement{}` (an empty-but-present `tags`
        // array keeps it) and re-serialises the survivor with all-omitempty fields.
        if let Some(Value::Object(p)) = &mut self.placement {
            let deep_zero = p.iter().all(|(k, v)| match v {
                Value::Null => true,
                Value::String(s) => s.is_empty(),
                Value::Array(_) => k != "tags",
                _ => false,
            });
            p.retain(|_, v| match v {
                Value::Null => false,
                Value::String(s) => !s.is_empty(),
                Value::Array(a) => !a.is_empty(),
                _ => true,
            });
            if deep_zero {
                self.placement = None;
            }
        } else if matches!(self.placement, Some(Value::Null)) {
            self.placement = None;
        }
        self
    }

    fn sources_non_empty(&self) -> bool {
        match &self.sources {
            Some(Value::Array(a)) => !a.is_empty(),
            Some(Value::Null) | None => false,
            Some(_) => true,
        }
    }

    /// API level this config requires (`setStaticStreamMetadata`): 1 for TTLs/markers, 2 for
    /// counters, atomic publish, schedules or async persist, 4 for fast batch publish.
    pub fn required_api_level(&self) -> u32 {
        let mut lvl = 0;
        if self.allow_msg_ttl || self.subject_delete_marker_ttl > 0 {
            lvl = lvl.max(1);
        }
        if self.allow_msg_counter
            || self.allow_atomic
            || self.allow_msg_schedules
            || self.persist_mode == PersistMode::Async
        {
            lvl = lvl.max(2);
        }
        if self.allow_batched {
            lvl = lvl.max(4);
        }
        lvl
    }

    /// Store `_nats.req.level` and strip dynamic keys, as the server does before storing.
    pub fn set_static_metadata(&mut self) {
        strip_dynamic_metadata(&mut self.metadata);
        let lvl = self.required_api_level();
        self.metadata.insert(META_REQ_LEVEL.into(), lvl.to_string());
    }

    /// Copy with `_nats.ver`/`_nats.level` added: what create/info/update responses show.
    pub fn with_dynamic_metadata(&self, server_version: &str) -> Self {
        let mut c = self.clone();
        add_dynamic_metadata(&mut c.metadata, server_version);
        c
    }
}

/// Remove the response-only `_nats.ver` / `_nats.level` keys (`deleteDynamicMetadata`).
pub fn strip_dynamic_metadata(m: &mut BTreeMap<String, String>) {
    m.remove(META_SERVER_VERSION);
    m.remove(META_SERVER_LEVEL);
}

/// Add the response-only `_nats.ver` / `_nats.level` keys (`setDynamic*Metadata`).
pub fn add_dynamic_metadata(m: &mut BTreeMap<String, String>, server_version: &str) {
    m.insert(META_SERVER_VERSION.into(), server_version.into());
    m.insert(META_SERVER_LEVEL.into(), JS_API_LEVEL.to_string());
}

/// Messages lost due to store corruption (`state.lost`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LostStreamData {
    /// Lost sequences.
    pub msgs: Vec<u64>,
    /// Bytes lost.
    pub bytes: u64,
}

/// The `state` object of StreamInfo (Go `StreamState`), named to avoid the store's type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamStateJson {
    /// Messages stored.
    pub messages: u64,
    /// Bytes stored.
    pub bytes: u64,
    /// First sequence (last_seq + 1 when empty after a purge).
    pub first_seq: u64,
    /// Time of first message, [`ZERO_TIME`] when none.
    pub first_ts: String,
    /// Last sequence ever stored.
    pub last_seq: u64,
    /// Time of last message, [`ZERO_TIME`] when none.
    pub last_ts: String,
    /// Distinct subjects (omitted when 0).
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub num_subjects: u64,
    /// Per-subject counts, only with `subjects_filter`.
    #[serde(default, skip_serializing_if = "is_none_or_empty_map")]
    pub subjects: Option<BTreeMap<String, u64>>,
    /// Interior deletes (omitted when 0).
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub num_deleted: u64,
    /// Deleted sequences, only with `deleted_details`.
    #[serde(default, skip_serializing_if = "is_none_or_empty_vec")]
    pub deleted: Option<Vec<u64>>,
    /// Lost data report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost: Option<LostStreamData>,
    /// Number of consumers.
    pub consumer_count: u64,
}

impl Default for StreamStateJson {
    fn default() -> Self {
        StreamStateJson {
            messages: 0,
            bytes: 0,
            first_seq: 0,
            first_ts: ZERO_TIME.into(),
            last_seq: 0,
            last_ts: ZERO_TIME.into(),
            num_subjects: 0,
            subjects: None,
            num_deleted: 0,
            deleted: None,
            lost: None,
            consumer_count: 0,
        }
    }
}

/// Cluster block of stream info; standalone servers send only `{"leader":"<server name>"}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterInfo {
    /// Cluster name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Raft group name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub raft_group: String,
    /// Leader server name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub leader: String,
    /// Leader since (time string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_since: Option<String>,
    /// Whether in the system account.
    #[serde(default, skip_serializing_if = "is_false")]
    pub system_account: bool,
    /// Account carrying replication traffic.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub traffic_account: String,
    /// Peer infos, passed through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<Value>,
    /// Desired placement, passed through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired: Option<Value>,
}

impl ClusterInfo {
    /// What a non-clustered nats-server puts in STREAM.INFO: only the leader (server name).
    pub fn standalone(server_name: &str) -> Self {
        ClusterInfo {
            leader: server_name.to_string(),
            ..Default::default()
        }
    }
}

/// Stream info: body of STREAM.CREATE/UPDATE/INFO responses and STREAM.LIST items.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamInfo {
    /// Effective configuration.
    pub config: StreamConfig,
    /// Creation time.
    pub created: String,
    /// Current state.
    pub state: StreamStateJson,
    /// JetStream domain.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domain: String,
    /// Cluster info: INFO only (standalone: leader only); absent in CREATE/UPDATE/LIST.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterInfo>,
    /// Mirror status, passed through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<Value>,
    /// Source statuses, passed through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sources: Option<Value>,
    /// Alternates (mirrors), passed through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alternates: Option<Value>,
    /// When the info was gathered.
    pub ts: String,
}
