//! Stream requests: create, update, info, names, list, delete, purge, message get and
//! delete, and direct get. Configs are validated the way nats-server's `checkStreamCfg`
//! does for what sluice supports; features it does not have are refused, never ignored.

use std::sync::Arc;

use bytes::Bytes;

use super::errors::{ApiError, decode_request};
use super::types::{
    ClusterInfo, MsgDeleteRequest, MsgGetBody, MsgGetRequest, StorageType, StoredMsg, StreamConfig,
    StreamCreateBody, StreamInfo, StreamInfoBody, StreamInfoRequest, StreamListBody,
    StreamNamesBody, StreamNamesRequest, StreamPurgeBody, StreamPurgeRequest, StreamStateJson,
    SuccessBody, check_name, format_time, ok_response,
};
use super::{ApiResult, page};
use crate::core::subject::{is_valid_subject, subjects_overlap};
use crate::jetstream::internal::Outbox;
use crate::jetstream::store::{PurgeRequest, StoredMessage};
use crate::jetstream::stream::{Stream, StreamMeta};
use crate::jetstream::{JetStream, headers, now_nanos};
use crate::server::NATS_COMPAT_VERSION;

/// Names per page of `STREAM.NAMES`, as nats-server.
const NAMES_LIMIT: usize = 1024;
/// Streams per page of `STREAM.LIST`, as nats-server.
const LIST_LIMIT: usize = 256;
/// Subjects per page of `STREAM.INFO` with a `subjects_filter`, as nats-server.
const SUBJECTS_LIMIT: usize = 100_000;

fn stream_of(js: &JetStream, name: &str) -> Result<Arc<Stream>, ApiError> {
    js.stream(name).ok_or_else(ApiError::stream_not_found)
}

/// Reads a config from a create or update request and checks it.
fn parse_config(js: &JetStream, name: &str, body: &[u8]) -> Result<StreamConfig, ApiError> {
    if body.trim_ascii().is_empty() {
        return Err(ApiError::bad_request());
    }
    let mut config: StreamConfig = decode_request(body)?;
    if config.name.is_empty() {
        config.name = name.to_string();
    }
    if config.name != name {
        return Err(ApiError::stream_mismatch());
    }
    if name.contains(['/', '\\']) {
        return Err(ApiError::stream_name_contains_path_separators());
    }
    if !check_name(name) {
        return Err(ApiError::stream_invalid_config("invalid name"));
    }
    let mut config = config.normalized();
    config.set_static_metadata();
    validate(js, &config)?;
    Ok(config)
}

/// What sluice can run: no replication, no mirrors or sources, no per-message features it
/// does not implement, valid subjects that no other stream captures.
fn validate(js: &JetStream, c: &StreamConfig) -> Result<(), ApiError> {
    if c.num_replicas > 1 {
        return Err(ApiError::stream_replicas_not_supported());
    }
    if c.num_replicas < 0 {
        return Err(ApiError::replicas_count_cannot_be_negative());
    }
    let unsupported = [
        (c.mirror.is_some(), "mirrors"),
        (
            matches!(&c.sources, Some(serde_json::Value::Array(a)) if !a.is_empty()),
            "sources",
        ),
        (c.subject_transform.is_some(), "subject transforms"),
        (c.republish.is_some(), "republish"),
        (c.subject_delete_marker_ttl > 0, "subject delete markers"),
        (c.allow_msg_counter, "counters"),
        (c.allow_atomic || c.allow_batched, "batch publish"),
        (c.allow_msg_schedules, "message schedules"),
        (c.first_seq > 1, "first_seq"),
    ];
    if let Some((_, what)) = unsupported.iter().find(|(on, _)| *on) {
        return Err(ApiError::stream_invalid_config(format!(
            "{what} are not supported by sluice"
        )));
    }
    for (i, s) in c.subjects.iter().enumerate() {
        if !is_valid_subject(s.as_bytes()) {
            return Err(ApiError::stream_invalid_config(format!(
                "invalid subject {s:?}"
            )));
        }
        if s.starts_with("$JS.API") || s.starts_with("$JS.ACK") || s.starts_with("$SYS.") {
            return Err(ApiError::stream_invalid_config(
                "subjects that overlap with jetstream api require no-ack to be true",
            ));
        }
        if c.subjects[..i]
            .iter()
            .any(|o| subjects_overlap(o.as_bytes(), s.as_bytes()))
        {
            return Err(ApiError::stream_invalid_config(
                "duplicate subjects detected",
            ));
        }
    }
    for other in js.streams() {
        if other.name == c.name {
            continue;
        }
        let theirs = other.config();
        let clash = theirs.subjects.iter().any(|t| {
            c.subjects
                .iter()
                .any(|s| subjects_overlap(t.as_bytes(), s.as_bytes()))
        });
        if clash {
            return Err(ApiError::stream_subject_overlap());
        }
    }
    Ok(())
}

/// `STREAM.CREATE.<name>`: idempotent for an identical config.
pub fn create(js: &Arc<JetStream>, name: &str, body: &[u8]) -> ApiResult {
    let config = parse_config(js, name, body)?;
    if let Some(existing) = js.stream(name) {
        if *existing.config() == config {
            let info = stream_info(js, &existing, None, false);
            return Ok(ok_response(
                "stream_create",
                &StreamCreateBody {
                    info,
                    did_create: false,
                },
            ));
        }
        return Err(ApiError::stream_name_exist());
    }
    let meta = StreamMeta {
        config,
        created: now_nanos(),
    };
    let stream = Stream::open(js.shared.clone(), js.root(), meta)?;
    js.insert(stream.clone());
    let info = stream_info(js, &stream, None, false);
    Ok(ok_response(
        "stream_create",
        &StreamCreateBody {
            info,
            did_create: true,
        },
    ))
}

/// `STREAM.UPDATE.<name>`: limits, subjects and flags; not storage or retention.
pub fn update(js: &Arc<JetStream>, name: &str, body: &[u8]) -> ApiResult {
    let stream = stream_of(js, name)?;
    let config = parse_config(js, name, body)?;
    let old = stream.config();
    let immutable = [
        (old.storage != config.storage, "can not change storage type"),
        (
            old.retention != config.retention,
            "can not change retention policy",
        ),
        (
            old.sealed && !config.sealed,
            "can not unseal a sealed stream",
        ),
        (
            old.deny_delete && !config.deny_delete,
            "can not change deny delete",
        ),
        (
            old.deny_purge && !config.deny_purge,
            "can not change deny purge",
        ),
    ];
    if let Some((_, why)) = immutable.iter().find(|(changed, _)| *changed) {
        return Err(ApiError::stream_invalid_config(format!(
            "stream configuration update {why}"
        )));
    }
    stream.update(config)?;
    Ok(ok_response(
        "stream_update",
        &stream_info(js, &stream, None, false),
    ))
}

/// `STREAM.INFO.<name>`, with optional per-subject counts and deleted sequences.
pub fn info(js: &Arc<JetStream>, name: &str, body: &[u8]) -> ApiResult {
    let stream = stream_of(js, name)?;
    let req: StreamInfoRequest = decode_request(body)?;
    let filter = (!req.subjects_filter.is_empty()).then_some(req.subjects_filter.as_str());
    let mut info = stream_info(js, &stream, filter, req.deleted_details);
    let (mut total, mut limit) = (0, 0);
    if let Some(subjects) = info.state.subjects.take() {
        total = subjects.len();
        limit = SUBJECTS_LIMIT;
        let paged = subjects
            .into_iter()
            .skip(req.offset)
            .take(SUBJECTS_LIMIT)
            .collect();
        info.state.subjects = Some(paged);
    }
    let body = StreamInfoBody {
        total,
        offset: req.offset,
        limit,
        info,
    };
    Ok(ok_response("stream_info", &body))
}

/// The `StreamInfo` of a stream as nats-server reports it.
pub fn stream_info(
    js: &JetStream,
    stream: &Stream,
    subjects_filter: Option<&str>,
    deleted_details: bool,
) -> StreamInfo {
    let s = stream.store.state();
    let mut state = StreamStateJson {
        messages: s.msgs,
        bytes: s.bytes,
        first_seq: s.first_seq,
        first_ts: format_time(s.first_ts),
        last_seq: s.last_seq,
        last_ts: format_time(s.last_ts),
        num_subjects: s.num_subjects,
        num_deleted: s.num_deleted,
        consumer_count: stream.consumer_count() as u64,
        ..StreamStateJson::default()
    };
    if let Some(filter) = subjects_filter {
        let map = stream
            .store
            .subjects(filter.as_bytes())
            .into_iter()
            .map(|(subj, n)| (String::from_utf8_lossy(&subj).into_owned(), n))
            .collect();
        state.subjects = Some(map);
    }
    if deleted_details && s.num_deleted > 0 {
        state.deleted = Some(deleted_sequences(stream, s.first_seq, s.last_seq));
    }
    StreamInfo {
        config: stream.config().with_dynamic_metadata(NATS_COMPAT_VERSION),
        created: format_time(stream.created()),
        state,
        cluster: Some(ClusterInfo::standalone(&js.shared.config().server_name)),
        ts: format_time(now_nanos()),
        ..StreamInfo::default()
    }
}

/// Interior gaps between the first and last sequence.
fn deleted_sequences(stream: &Stream, first: u64, last: u64) -> Vec<u64> {
    let mut deleted = Vec::new();
    let mut expect = first;
    while let Ok(Some(m)) = stream.store.load_next(expect, None) {
        deleted.extend(expect..m.seq);
        expect = m.seq + 1;
    }
    deleted.extend(expect..=last);
    deleted
}

/// Streams whose subjects collide with `filter` (all when empty), sorted by name.
fn matching_streams(js: &JetStream, filter: &str) -> Vec<Arc<Stream>> {
    js.streams()
        .into_iter()
        .filter(|s| {
            filter.is_empty()
                || s.config()
                    .subjects
                    .iter()
                    .any(|subj| subjects_overlap(subj.as_bytes(), filter.as_bytes()))
        })
        .collect()
}

/// `STREAM.NAMES`, optionally only streams that capture `subject` (how clients find the
/// stream for a subject).
pub fn names(js: &Arc<JetStream>, body: &[u8]) -> ApiResult {
    let req: StreamNamesRequest = decode_request(body)?;
    let all: Vec<String> = matching_streams(js, &req.subject)
        .iter()
        .map(|s| s.name.clone())
        .collect();
    let names = page(&all, req.offset, NAMES_LIMIT);
    let body = StreamNamesBody {
        total: all.len(),
        offset: req.offset,
        limit: NAMES_LIMIT,
        streams: (!names.is_empty()).then_some(names),
    };
    Ok(ok_response("stream_names", &body))
}

/// `STREAM.LIST`.
pub fn list(js: &Arc<JetStream>, body: &[u8]) -> ApiResult {
    let req: StreamNamesRequest = decode_request(body)?;
    let all = matching_streams(js, &req.subject);
    let streams = page(&all, req.offset, LIST_LIMIT)
        .iter()
        .map(|s| StreamInfo {
            cluster: None,
            ..stream_info(js, s, None, false)
        })
        .collect();
    let body = StreamListBody {
        total: all.len(),
        offset: req.offset,
        limit: LIST_LIMIT,
        streams,
        ..StreamListBody::default()
    };
    Ok(ok_response("stream_list", &body))
}

/// `STREAM.DELETE.<name>`: the stream, its consumers and its files.
pub fn delete(js: &Arc<JetStream>, name: &str) -> ApiResult {
    let stream = js.remove(name).ok_or_else(ApiError::stream_not_found)?;
    stream.stop(true);
    Ok(ok_response("stream_delete", &SuccessBody { success: true }))
}

/// `STREAM.PURGE.<name>`: all, by subject, keeping the newest `keep`, or below `seq`.
pub fn purge(js: &Arc<JetStream>, name: &str, body: &[u8]) -> ApiResult {
    let stream = stream_of(js, name)?;
    let config = stream.config();
    if config.sealed {
        return Err(ApiError::stream_sealed());
    }
    if config.deny_purge {
        return Err(ApiError::stream_purge_failed("stream purge not permitted"));
    }
    let req: StreamPurgeRequest = decode_request(body)?;
    if req.seq > 0 && req.keep > 0 {
        return Err(ApiError::bad_request());
    }
    let purge = PurgeRequest {
        subject: (!req.filter.is_empty()).then(|| Bytes::from(req.filter.clone())),
        keep: (req.keep > 0).then_some(req.keep),
        up_to_seq: (req.seq > 0).then_some(req.seq),
    };
    let purged = stream
        .store
        .purge(&purge)
        .map_err(|e| ApiError::stream_purge_failed(e.to_string()))?;
    stream.wake_consumers();
    Ok(ok_response(
        "stream_purge",
        &StreamPurgeBody {
            success: true,
            purged,
        },
    ))
}

/// Loads what a `MSG.GET` or `DIRECT.GET` request asks for.
fn load(stream: &Stream, req: &MsgGetRequest) -> Result<Option<StoredMessage>, ApiError> {
    let store = &stream.store;
    let result = if !req.last_by_subj.is_empty() {
        store.load_last(req.last_by_subj.as_bytes())
    } else if !req.next_by_subj.is_empty() {
        store.load_next(req.seq.max(1), Some(req.next_by_subj.as_bytes()))
    } else {
        store.load(req.seq)
    };
    result.map_err(|e| ApiError::stream_general(e.to_string()))
}

/// `STREAM.MSG.GET.<name>`: one message, base64 in JSON.
pub fn msg_get(js: &Arc<JetStream>, name: &str, body: &[u8]) -> ApiResult {
    let stream = stream_of(js, name)?;
    let req: MsgGetRequest = decode_request(body)?;
    let set = [
        req.seq > 0 && req.next_by_subj.is_empty(),
        !req.last_by_subj.is_empty(),
        !req.next_by_subj.is_empty(),
    ];
    if set.iter().filter(|b| **b).count() != 1 {
        return Err(ApiError::bad_request());
    }
    let msg = load(&stream, &req)?.ok_or_else(ApiError::no_message_found)?;
    let stored = StoredMsg::new(
        &String::from_utf8_lossy(&msg.subject),
        msg.seq,
        msg.headers.as_deref().unwrap_or_default(),
        &msg.payload,
        msg.timestamp,
    );
    Ok(ok_response(
        "stream_msg_get",
        &MsgGetBody { message: stored },
    ))
}

/// `STREAM.MSG.DELETE.<name>`.
pub fn msg_delete(js: &Arc<JetStream>, name: &str, body: &[u8]) -> ApiResult {
    let stream = stream_of(js, name)?;
    let config = stream.config();
    if config.sealed {
        return Err(ApiError::stream_sealed());
    }
    if config.deny_delete {
        return Err(ApiError::stream_msg_delete_failed(
            "message delete not permitted",
        ));
    }
    let req: MsgDeleteRequest = decode_request(body)?;
    let removed = stream
        .store
        .remove(req.seq)
        .map_err(|e| ApiError::stream_msg_delete_failed(e.to_string()))?;
    if !removed {
        return Err(ApiError::sequence_not_found(req.seq));
    }
    stream.wake_consumers();
    Ok(ok_response(
        "stream_msg_delete",
        &SuccessBody { success: true },
    ))
}

/// `DIRECT.GET.<name>[.<subject>]`: the message itself with `Nats-Stream`, `Nats-Subject`,
/// `Nats-Sequence` and `Nats-Time-Stamp` headers, or a status (404, 408).
pub fn direct_get(
    js: &Arc<JetStream>,
    name: &str,
    last_by_subject: Option<&str>,
    body: &[u8],
    reply: &Bytes,
    out: &mut Outbox,
) {
    let status = |out: &mut Outbox, code: u16, text: &str| {
        out.send(
            reply.clone(),
            None,
            Some(headers::status(code, text, &[])),
            Bytes::new(),
        );
    };
    let Some(stream) = js.stream(name).filter(|s| s.config().allow_direct) else {
        // Without allow_direct nats-server does not subscribe: no responders.
        out.send(
            reply.clone(),
            None,
            Some(Bytes::from_static(b"NATS/1.0 503\r\n\r\n")),
            Bytes::new(),
        );
        return;
    };
    js.count_api(false);
    let req = match last_by_subject {
        Some(subject) => MsgGetRequest {
            last_by_subj: subject.to_string(),
            ..MsgGetRequest::default()
        },
        None if body.trim_ascii().is_empty() => return status(out, 408, "Empty Request"),
        None => match serde_json::from_slice::<MsgGetRequest>(body) {
            Ok(r) => r,
            Err(_) => return status(out, 408, "Malformed Request"),
        },
    };
    if req.seq == 0 && req.last_by_subj.is_empty() && req.next_by_subj.is_empty() {
        return status(out, 408, "Empty Request");
    }
    if (req.seq > 0 && !req.last_by_subj.is_empty())
        || (!req.last_by_subj.is_empty() && !req.next_by_subj.is_empty())
        || (!req.last_by_subj.is_empty() && req.batch > 0)
    {
        return status(out, 408, "Bad Request");
    }
    // A batch walks forward from `seq` (through `next_by_subj` when given); else one lookup.
    let filter = if req.batch > 0 && req.next_by_subj.is_empty() {
        ">".to_string()
    } else {
        req.next_by_subj.clone()
    };
    let mut cursor = MsgGetRequest {
        next_by_subj: filter,
        ..req.clone()
    };
    for i in 0..req.batch.max(1) {
        let Ok(Some(msg)) = load(&stream, &cursor) else {
            if i == 0 {
                return status(out, 404, "Message Not Found");
            }
            break;
        };
        cursor.seq = msg.seq + 1;
        let subject = String::from_utf8_lossy(&msg.subject).into_owned();
        let seq_text = msg.seq.to_string();
        let ts = format_time(msg.timestamp);
        let hdrs = headers::with_extra(
            if req.no_hdr {
                None
            } else {
                msg.headers.as_deref()
            },
            &[
                ("Nats-Stream", name),
                ("Nats-Subject", &subject),
                ("Nats-Sequence", &seq_text),
                ("Nats-Time-Stamp", &ts),
            ],
        );
        // Sent on the reply subject itself (nats-server's direct get carries no original
        // subject): request muxers key responses on it.
        out.send(reply.clone(), None, Some(hdrs), msg.payload);
    }
    if req.batch > 0 {
        let last = stream.store.state().last_seq;
        let hdr = headers::status(
            204,
            "EOB",
            &[("Nats-Num-Pending", 0), ("Nats-Last-Sequence", last)],
        );
        out.send(reply.clone(), None, Some(hdr), Bytes::new());
    }
}

/// Whether a stream is kept in memory (for account usage).
pub fn is_memory(config: &StreamConfig) -> bool {
    config.storage == StorageType::Memory
}
