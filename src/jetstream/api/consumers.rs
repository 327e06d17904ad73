//! Consumer requests: create (with the `action` semantics of 2.10+ clients and the older
//! durable and ephemeral subjects), info, names, list and delete. `MSG.NEXT` goes straight
//! to the consumer (see `api/mod.rs`).

use std::sync::Arc;

use rand::Rng;

use super::consumer_types::{
    AckPolicy, ConsumerAction, ConsumerConfig, ConsumerInfo, ConsumerListBody, ConsumerNamesBody,
    ConsumerNamesRequest, CreateConsumerRequest, DeliverPolicy, SequenceInfo,
};
use super::errors::{ApiError, decode_request};
use super::types::{
    ClusterInfo, RetentionPolicy, check_name, format_time, ok_response, parse_time,
};
use super::{ApiResult, page};
use crate::core::subject::{is_valid_subject, subjects_overlap};
use crate::jetstream::consumer::Consumer;
use crate::jetstream::consumer::state::Tracker;
use crate::jetstream::store::MessageStore;
use crate::jetstream::stream::Stream;
use crate::jetstream::{JetStream, now_nanos};
use crate::server::NATS_COMPAT_VERSION;

/// Names per page of `CONSUMER.NAMES`, as nats-server.
const NAMES_LIMIT: usize = 1024;
/// Consumers per page of `CONSUMER.LIST`, as nats-server.
const LIST_LIMIT: usize = 256;

fn stream_of(js: &JetStream, name: &str) -> Result<Arc<Stream>, ApiError> {
    js.stream(name).ok_or_else(ApiError::stream_not_found)
}

/// `CONSUMER.CREATE.<stream>[.<name>[.<filter>]]`.
pub fn create(
    js: &Arc<JetStream>,
    stream_name: &str,
    name_in_subject: Option<&str>,
    filter_in_subject: Option<&str>,
    body: &[u8],
) -> ApiResult {
    let stream = stream_of(js, stream_name)?;
    let req: CreateConsumerRequest = decode_request(body)?;
    if !req.stream_name.is_empty() && req.stream_name != stream_name {
        return Err(ApiError::stream_mismatch());
    }
    let mut config = req.config;
    match name_in_subject {
        Some(name) => {
            if !config.name.is_empty() && config.name != name {
                return Err(ApiError::consumer_create_durable_and_name_mismatch());
            }
            if !config.durable_name.is_empty() && config.durable_name != name {
                return Err(ApiError::consumer_create_durable_and_name_mismatch());
            }
            config.name = name.to_string();
        }
        None if !config.durable_name.is_empty() => {
            return Err(ApiError::consumer_ephemeral_with_durable_name());
        }
        None => {}
    }
    if let Some(filter) = filter_in_subject {
        let single = config.filter_subject.is_empty() || config.filter_subject == filter;
        if !single || !config.filter_subjects.is_empty() {
            return Err(ApiError::consumer_create_filter_subject_mismatch());
        }
        config.filter_subject = filter.to_string();
    }
    create_with(js, &stream, config, req.action)
}

/// `CONSUMER.DURABLE.CREATE.<stream>.<durable>` (clients before 2.9).
pub fn create_durable(
    js: &Arc<JetStream>,
    stream_name: &str,
    durable: &str,
    body: &[u8],
) -> ApiResult {
    let stream = stream_of(js, stream_name)?;
    let req: CreateConsumerRequest = decode_request(body)?;
    let mut config = req.config;
    if config.durable_name.is_empty() {
        return Err(ApiError::consumer_durable_name_not_set());
    }
    if config.durable_name != durable {
        return Err(ApiError::consumer_durable_name_not_match_subject());
    }
    if config.name.is_empty() {
        config.name = durable.to_string();
    }
    create_with(js, &stream, config, req.action)
}

fn create_with(
    js: &Arc<JetStream>,
    stream: &Arc<Stream>,
    config: ConsumerConfig,
    action: ConsumerAction,
) -> ApiResult {
    let stream_config = stream.config();
    let mut config = config.normalized(&stream_config);
    config.set_static_metadata();
    let name = if !config.durable_name.is_empty() {
        config.durable_name.clone()
    } else if !config.name.is_empty() {
        config.name.clone()
    } else {
        random_name()
    };
    if name.contains(['/', '\\']) {
        return Err(ApiError::consumer_name_contains_path_separators());
    }
    if !check_name(&name) {
        return Err(ApiError::consumer_bad_durable_name());
    }
    validate(stream, &config)?;

    if let Some(existing) = stream.consumer(&name) {
        let current = existing.config();
        if current == config {
            return Ok(ok_response(
                "consumer_create",
                &consumer_info(js, &existing),
            ));
        }
        if action == ConsumerAction::Create {
            return Err(ApiError::consumer_already_exists());
        }
        check_update(&current, &config)?;
        existing.update(config);
        stream.save_consumer_config(&existing);
        return Ok(ok_response(
            "consumer_create",
            &consumer_info(js, &existing),
        ));
    }
    if action == ConsumerAction::Update {
        return Err(ApiError::consumer_does_not_exist());
    }
    if stream_config.max_consumers > 0
        && stream.consumer_count() as i64 >= stream_config.max_consumers
    {
        return Err(ApiError::maximum_consumers_limit());
    }
    if stream_config.retention == RetentionPolicy::WorkQueue {
        check_work_queue(stream, &config)?;
    }
    let tracker = start_tracker(&stream.store, &config);
    let consumer = stream.add_consumer(name, config, tracker)?;
    Ok(ok_response(
        "consumer_create",
        &consumer_info(js, &consumer),
    ))
}

/// The checks of nats-server's `checkConsumerCfg` that apply to what sluice supports.
fn validate(stream: &Stream, c: &ConsumerConfig) -> Result<(), ApiError> {
    if c.is_push() {
        if !is_valid_subject(c.deliver_subject.as_bytes()) {
            return Err(ApiError::consumer_invalid_deliver_subject());
        }
        if c.deliver_subject.split('.').any(|t| t == "*" || t == ">") {
            return Err(ApiError::consumer_deliver_to_wildcards());
        }
        if stream
            .config()
            .subjects
            .iter()
            .any(|s| subjects_overlap(s.as_bytes(), c.deliver_subject.as_bytes()))
        {
            return Err(ApiError::consumer_deliver_cycle());
        }
        if c.flow_control && c.idle_heartbeat == 0 {
            return Err(ApiError::consumer_with_flow_control_needs_heartbeats());
        }
    } else {
        if c.flow_control {
            return Err(ApiError::consumer_fc_requires_push());
        }
        if c.idle_heartbeat > 0 {
            return Err(ApiError::consumer_hb_requires_push());
        }
    }
    if c.max_deliver > 0 && !c.backoff.is_empty() && (c.backoff.len() as i64) > c.max_deliver {
        return Err(ApiError::consumer_max_deliver_backoff());
    }
    let mut filters: Vec<&str> = c.filter_subjects.iter().map(String::as_str).collect();
    if !c.filter_subject.is_empty() {
        if !filters.is_empty() {
            return Err(ApiError::consumer_multiple_filters_not_allowed());
        }
        filters.push(&c.filter_subject);
    }
    for (i, f) in filters.iter().enumerate() {
        if f.is_empty() {
            return Err(ApiError::consumer_empty_filter());
        }
        if !is_valid_subject(f.as_bytes()) {
            return Err(ApiError::consumer_invalid_policy(format!(
                "invalid filter subject {f:?}"
            )));
        }
        if filters[..i].contains(f) {
            return Err(ApiError::consumer_duplicate_filter_subjects());
        }
        if filters[..i]
            .iter()
            .any(|o| subjects_overlap(o.as_bytes(), f.as_bytes()))
        {
            return Err(ApiError::consumer_overlapping_subject_filters());
        }
    }
    match c.deliver_policy {
        DeliverPolicy::LastPerSubject if filters.is_empty() => {
            Err(ApiError::consumer_invalid_policy(
                "consumer delivery policy is deliver last per subject, but optional filter subject is not set",
            ))
        }
        DeliverPolicy::ByStartSequence if c.opt_start_seq == 0 => {
            Err(ApiError::consumer_invalid_policy(
                "consumer delivery policy is deliver by start sequence, but optional start sequence is not set",
            ))
        }
        DeliverPolicy::ByStartTime if c.opt_start_time.is_none() => {
            Err(ApiError::consumer_invalid_policy(
                "consumer delivery policy is deliver by start time, but optional start time is not set",
            ))
        }
        _ if c.opt_start_seq > 0 && c.deliver_policy != DeliverPolicy::ByStartSequence => {
            Err(ApiError::consumer_invalid_policy(
                "consumer delivery policy is not deliver by start sequence, but optional start sequence is set",
            ))
        }
        _ => Ok(()),
    }
}

/// Work queues: explicit acks, deliver all, and no two consumers reading the same subjects.
fn check_work_queue(stream: &Stream, c: &ConsumerConfig) -> Result<(), ApiError> {
    if c.ack_policy != AckPolicy::Explicit {
        return Err(ApiError::consumer_wq_requires_explicit_ack());
    }
    if c.deliver_policy != DeliverPolicy::All {
        return Err(ApiError::consumer_wq_consumer_not_deliver_all());
    }
    let mine = filters_of(c);
    for other in stream.consumers() {
        let theirs = filters_of(&other.config());
        if mine.is_empty() || theirs.is_empty() {
            return Err(ApiError::consumer_wq_multiple_unfiltered());
        }
        let overlap = mine.iter().any(|a| {
            theirs
                .iter()
                .any(|b| subjects_overlap(a.as_bytes(), b.as_bytes()))
        });
        if overlap {
            return Err(ApiError::consumer_wq_consumer_not_unique());
        }
    }
    Ok(())
}

fn filters_of(c: &ConsumerConfig) -> Vec<String> {
    let mut f = c.filter_subjects.clone();
    if !c.filter_subject.is_empty() {
        f.push(c.filter_subject.clone());
    }
    f
}

/// An update may change limits and filters, not how the consumer starts or delivers.
fn check_update(old: &ConsumerConfig, new: &ConsumerConfig) -> Result<(), ApiError> {
    let why = if old.deliver_policy != new.deliver_policy {
        "deliver policy can not be updated"
    } else if old.opt_start_seq != new.opt_start_seq {
        "start sequence can not be updated"
    } else if old.ack_policy != new.ack_policy {
        "ack policy can not be updated"
    } else if old.is_push() != new.is_push() {
        "can not update push consumer to pull based"
    } else if old.deliver_group != new.deliver_group {
        "deliver group can not be updated"
    } else if old.replay_policy != new.replay_policy {
        "replay policy can not be updated"
    } else if old.mem_storage != new.mem_storage {
        "memory storage can not be updated"
    } else {
        return Ok(());
    };
    Err(ApiError::consumer_create(why))
}

/// Where a new consumer starts, by its deliver policy.
pub fn start_tracker(store: &Arc<dyn MessageStore>, c: &ConsumerConfig) -> Tracker {
    let state = store.state();
    let filters = filters_of(c);
    let last_matching = || -> u64 {
        if filters.is_empty() {
            return state.last_seq;
        }
        filters
            .iter()
            .filter_map(|f| store.load_last(f.as_bytes()).ok().flatten())
            .map(|m| m.seq)
            .max()
            .unwrap_or(state.last_seq + 1)
    };
    match c.deliver_policy {
        DeliverPolicy::All => Tracker::starting_at(state.first_seq.max(1), Vec::new()),
        DeliverPolicy::Last => Tracker::starting_at(last_matching().max(1), Vec::new()),
        DeliverPolicy::New => Tracker::starting_at(state.last_seq + 1, Vec::new()),
        DeliverPolicy::ByStartSequence => Tracker::starting_at(c.opt_start_seq, Vec::new()),
        DeliverPolicy::ByStartTime => {
            let t = c
                .opt_start_time
                .as_deref()
                .and_then(parse_time)
                .unwrap_or(0);
            Tracker::starting_at(
                first_at_or_after(store, t, state.first_seq, state.last_seq),
                Vec::new(),
            )
        }
        DeliverPolicy::LastPerSubject => {
            let patterns = if filters.is_empty() {
                vec![">".to_string()]
            } else {
                filters.clone()
            };
            let mut seqs: Vec<u64> = patterns
                .iter()
                .flat_map(|p| store.subjects(p.as_bytes()))
                .filter_map(|(subject, _)| store.load_last(&subject).ok().flatten())
                .map(|m| m.seq)
                .collect();
            seqs.sort_unstable();
            seqs.dedup();
            Tracker::starting_at(state.last_seq + 1, seqs)
        }
    }
}

/// The first sequence stored at or after unix nanos `t` (timestamps grow with sequences).
fn first_at_or_after(store: &Arc<dyn MessageStore>, t: i64, first: u64, last: u64) -> u64 {
    let (mut lo, mut hi) = (first.max(1), last + 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match store.load_next(mid, None) {
            Ok(Some(m)) if m.timestamp < t => lo = m.seq + 1,
            _ => hi = mid,
        }
    }
    lo
}

/// Ephemeral consumer names: eight random alphanumerics, like nats-server's.
fn random_name() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..8)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The `ConsumerInfo` nats-server reports.
pub fn consumer_info(js: &JetStream, c: &Consumer) -> ConsumerInfo {
    let s = c.snapshot();
    ConsumerInfo {
        stream_name: c.stream_name.clone(),
        name: c.name.clone(),
        created: format_time(c.created),
        config: s.config.with_dynamic_metadata(NATS_COMPAT_VERSION),
        delivered: SequenceInfo {
            consumer_seq: s.delivered_consumer_seq,
            stream_seq: s.delivered_stream_seq,
            last_active: None,
        },
        ack_floor: SequenceInfo {
            consumer_seq: s.ack_floor_consumer_seq,
            stream_seq: s.ack_floor_stream_seq,
            last_active: None,
        },
        num_ack_pending: s.num_ack_pending,
        num_redelivered: s.num_redelivered,
        num_waiting: s.num_waiting,
        num_pending: s.num_pending,
        cluster: Some(ClusterInfo::standalone(&js.shared.config().server_name)),
        push_bound: s.push_bound,
        ts: format_time(now_nanos()),
        ..ConsumerInfo::default()
    }
}

/// `CONSUMER.INFO.<stream>.<consumer>`.
pub fn info(js: &Arc<JetStream>, stream: &str, name: &str) -> ApiResult {
    let stream = stream_of(js, stream)?;
    let c = stream
        .consumer(name)
        .ok_or_else(ApiError::consumer_not_found)?;
    Ok(ok_response("consumer_info", &consumer_info(js, &c)))
}

/// `CONSUMER.DELETE.<stream>.<consumer>`.
pub fn delete(js: &Arc<JetStream>, stream: &str, name: &str) -> ApiResult {
    let stream = stream_of(js, stream)?;
    if !stream.remove_consumer(name) {
        return Err(ApiError::consumer_not_found());
    }
    Ok(ok_response(
        "consumer_delete",
        &super::types::SuccessBody { success: true },
    ))
}

/// `CONSUMER.NAMES.<stream>`.
pub fn names(js: &Arc<JetStream>, stream: &str, body: &[u8]) -> ApiResult {
    let stream = stream_of(js, stream)?;
    let req: ConsumerNamesRequest = decode_request(body)?;
    let all: Vec<String> = stream.consumers().iter().map(|c| c.name.clone()).collect();
    let body = ConsumerNamesBody {
        total: all.len(),
        offset: req.offset,
        limit: NAMES_LIMIT,
        consumers: page(&all, req.offset, NAMES_LIMIT),
    };
    Ok(ok_response("consumer_names", &body))
}

/// `CONSUMER.LIST.<stream>`.
pub fn list(js: &Arc<JetStream>, stream: &str, body: &[u8]) -> ApiResult {
    let stream = stream_of(js, stream)?;
    let req: ConsumerNamesRequest = decode_request(body)?;
    let all = stream.consumers();
    let consumers = page(&all, req.offset, LIST_LIMIT)
        .iter()
        .map(|c| consumer_info(js, c))
        .collect();
    let body = ConsumerListBody {
        total: all.len(),
        offset: req.offset,
        limit: LIST_LIMIT,
        consumers,
        ..ConsumerListBody::default()
    };
    Ok(ok_response("consumer_list", &body))
}
