//! JetStream's figures for the monitoring port: `/jsz` with nats-server's field names (so
//! existing dashboards and `nats server report jetstream` read it) and the Prometheus series
//! appended to `/metrics` (per stream and consumer, never per subject).

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use serde::Deserialize;
use serde_json::{Value, json};

use super::JetStream;
use super::api::consumers::consumer_info;
use super::api::streams::stream_info;
use super::api::types::{StorageType, format_time};

/// `/jsz` query options, as nats-server names them.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct JszQuery {
    accounts: Option<String>,
    streams: Option<String>,
    consumers: Option<String>,
    config: Option<String>,
}

fn on(v: &Option<String>) -> bool {
    matches!(v.as_deref(), Some("" | "1" | "true"))
}

/// The `/jsz` document. `server_id` and `disabled` come from the caller (JetStream may be off).
pub fn jsz(js: Option<&JetStream>, server_id: &str, store_dir: &str, q: &JszQuery) -> Value {
    let now = format_time(super::now_nanos());
    let Some(js) = js else {
        return json!({
            "server_id": server_id, "now": now, "disabled": true, "config": {"max_memory": 0, "max_storage": 0},
            "memory": 0, "storage": 0, "reserved_memory": 0, "reserved_storage": 0, "accounts": 0,
            "ha_assets": 0, "api": {"level": 5, "total": 0, "errors": 0}, "streams": 0, "consumers": 0,
            "messages": 0, "bytes": 0, "total": 0,
        });
    };
    let streams = js.streams();
    let (mut memory, mut storage, mut messages, mut bytes, mut consumers) =
        (0u64, 0u64, 0u64, 0u64, 0usize);
    for s in &streams {
        let state = s.store.state();
        match s.config().storage {
            StorageType::Memory => memory += state.bytes,
            StorageType::File => storage += state.bytes,
        }
        messages += state.msgs;
        bytes += state.bytes;
        consumers += s.consumer_count();
    }
    let api = json!({
        "level": super::api::types::JS_API_LEVEL,
        "total": js.api_total.load(Ordering::Relaxed),
        "errors": js.api_errors.load(Ordering::Relaxed),
    });
    let sync = &js.shared.config().jetstream.sync_interval;
    let mut config = json!({"max_memory": -1, "max_storage": -1, "store_dir": store_dir});
    match sync {
        Some(d) => config["sync_interval"] = json!(d.as_nanos() as u64),
        None => config["sync_always"] = json!(true),
    }
    let mut out = json!({
        "server_id": server_id,
        "now": now,
        "config": config,
        "memory": memory,
        "storage": storage,
        "reserved_memory": 0,
        "reserved_storage": 0,
        "accounts": 1,
        "ha_assets": 0,
        "api": api,
        "streams": streams.len(),
        "consumers": consumers,
        "messages": messages,
        "bytes": bytes,
        "total": 1,
    });
    let want_streams = on(&q.streams) || on(&q.consumers);
    if on(&q.accounts) || want_streams {
        let mut detail = json!({
            "name": "$G", "id": "$G", "memory": memory, "storage": storage,
            "reserved_memory": 0, "reserved_storage": 0, "accounts": 0, "ha_assets": 0, "api": out["api"].clone(),
        });
        if want_streams {
            let list: Vec<Value> = streams
                .iter()
                .map(|s| {
                    let info = stream_info(js, s, None, false);
                    let mut d = json!({
                        "name": s.name, "created": info.created, "cluster": info.cluster, "state": info.state,
                    });
                    if on(&q.config) {
                        d["config"] = json!(info.config);
                    }
                    if on(&q.consumers) {
                        let cs: Vec<Value> = s.consumers().iter().map(|c| json!(consumer_info(js, c))).collect();
                        d["consumer_detail"] = json!(cs);
                    }
                    d
                })
                .collect();
            detail["stream_detail"] = json!(list);
        }
        out["account_details"] = json!([detail]);
    }
    out
}

/// Appends JetStream series to a Prometheus text exposition.
pub fn metrics(js: &JetStream, out: &mut String) {
    let streams = js.streams();
    let mut family = |name: &str, kind: &str, help: &str, samples: Vec<(String, f64)>| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    let total = |n: u64| vec![(String::new(), n as f64)];
    family(
        "sluice_jetstream_streams",
        "gauge",
        "Streams defined.",
        total(streams.len() as u64),
    );
    family(
        "sluice_jetstream_api_requests_total",
        "counter",
        "JetStream API requests served.",
        total(js.api_total.load(Ordering::Relaxed)),
    );
    family(
        "sluice_jetstream_api_errors_total",
        "counter",
        "JetStream API requests answered with an error.",
        total(js.api_errors.load(Ordering::Relaxed)),
    );
    let per_stream = |f: &dyn Fn(&super::store::StreamState) -> u64| {
        streams
            .iter()
            .map(|s| {
                (
                    format!("{{stream=\"{}\"}}", s.name),
                    f(&s.store.state()) as f64,
                )
            })
            .collect::<Vec<_>>()
    };
    family(
        "sluice_jetstream_stream_messages",
        "gauge",
        "Messages stored per stream.",
        per_stream(&|s| s.msgs),
    );
    family(
        "sluice_jetstream_stream_bytes",
        "gauge",
        "Bytes stored per stream.",
        per_stream(&|s| s.bytes),
    );
    family(
        "sluice_jetstream_stream_last_sequence",
        "gauge",
        "Last sequence per stream.",
        per_stream(&|s| s.last_seq),
    );
    let mut pending = Vec::new();
    let mut ack_pending = Vec::new();
    let mut redelivered = Vec::new();
    for s in &streams {
        for c in s.consumers() {
            let snap = c.snapshot();
            let labels = format!("{{stream=\"{}\",consumer=\"{}\"}}", s.name, c.name);
            pending.push((labels.clone(), snap.num_pending as f64));
            ack_pending.push((labels.clone(), snap.num_ack_pending as f64));
            redelivered.push((labels, snap.num_redelivered as f64));
        }
    }
    family(
        "sluice_jetstream_consumer_num_pending",
        "gauge",
        "Messages a consumer has not delivered yet.",
        pending,
    );
    family(
        "sluice_jetstream_consumer_num_ack_pending",
        "gauge",
        "Deliveries waiting for an ack.",
        ack_pending,
    );
    family(
        "sluice_jetstream_consumer_num_redelivered",
        "gauge",
        "Pending messages delivered more than once.",
        redelivered,
    );
}
