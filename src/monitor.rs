//! The monitoring port: `/varz`, `/connz`, `/subsz`, `/healthz` with nats-server's field names
//! (so existing dashboards and exporters work), and a Prometheus `/metrics`.
//!
//! The Prometheus text is written by hand: every value is a snapshot of counters the server
//! already keeps, so a metrics registry would only duplicate them.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::frontend::limits::ListenerLimits;
use crate::frontend::nats::client::ClientState;
use crate::server::{NATS_COMPAT_VERSION, Shared};

/// Serves the monitoring endpoints (HTTPS with `tls`) until `shutdown` fires.
pub async fn serve(
    shared: Arc<Shared>,
    listener: TcpListener,
    tls: Option<crate::frontend::tls::HttpTls>,
    shutdown: CancellationToken,
) {
    crate::frontend::accept::serve_http(listener, tls, None, router(shared), shutdown).await;
}

/// The monitoring routes (public so tests can drive them without a socket).
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/varz", get(varz))
        .route("/connz", get(connz))
        .route("/subsz", get(subsz))
        .route("/subscriptionsz", get(subsz))
        .route("/healthz", get(healthz))
        .route("/jsz", get(jsz))
        .route("/metrics", get(metrics))
        .with_state(shared)
}

async fn index() -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "varz": "/varz", "connz": "/connz", "subsz": "/subsz",
        "healthz": "/healthz", "metrics": "/metrics"
    }))
}

/// RFC 3339 with nanoseconds, as Go's time.Time marshals.
fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_nanos(t).to_string()
}

/// A duration the way Go prints it in /varz (`1h2m3s`, `250ms`).
fn go_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        let ms = d.as_millis();
        return if ms > 0 {
            format!("{ms}ms")
        } else {
            "0s".into()
        };
    }
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let mut out = String::new();
    if secs >= 86_400 {
        let _ = write!(out, "{}d", secs / 86_400);
        let _ = write!(out, "{}h{m}m{s}s", h % 24);
        return out;
    }
    if h > 0 {
        let _ = write!(out, "{h}h");
    }
    if h > 0 || m > 0 {
        let _ = write!(out, "{m}m");
    }
    let _ = write!(out, "{s}s");
    out
}

/// Resident set size in bytes, from /proc (0 where unavailable).
fn resident_memory() -> u64 {
    let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// Average CPU use since start, in percent of one core (from /proc; 0 where unavailable).
fn cpu_percent(uptime: Duration) -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let Some(rest) = stat.rsplit(')').next() else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f
        .get(11..13)
        .map(|v| v.iter().filter_map(|x| x.parse::<f64>().ok()).sum())
        .unwrap_or(0.0);
    let secs = uptime.as_secs_f64();
    if secs <= 0.0 {
        return 0.0;
    }
    ((ticks / 100.0) / secs * 1000.0).round() / 10.0
}

async fn varz(State(shared): State<Arc<Shared>>) -> Json<serde_json::Value> {
    let cfg = shared.config();
    let clients = shared.clients.snapshot();
    let (out_msgs, out_bytes) = shared.out_totals(&clients);
    let uptime = shared.started_at.elapsed();
    let addr = shared.nats_addr();
    let maddr = shared.monitor_addr();
    let s = &shared.stats;
    Json(serde_json::json!({
        "server_id": shared.server_id,
        "server_name": cfg.server_name,
        "version": NATS_COMPAT_VERSION,
        "proto": 1,
        "go": concat!("sluice-", env!("CARGO_PKG_VERSION")),
        "host": cfg.nats.host,
        "port": addr.map_or(cfg.nats.port, |a| a.port()),
        "auth_required": shared.auth().required(),
        "max_connections": cfg.nats.max_connections,
        "ping_interval": cfg.nats.ping_interval.as_nanos() as u64,
        "ping_max": cfg.nats.max_pings_out,
        "http_host": cfg.monitor.as_ref().map(|m| m.host.clone()).unwrap_or_default(),
        "http_port": maddr.map_or(0, |a| a.port()),
        "auth_timeout": cfg.nats.auth_timeout.as_secs_f64(),
        "max_control_line": cfg.nats.max_control_line,
        "max_payload": cfg.nats.max_payload,
        "max_pending": cfg.nats.max_pending,
        "max_subscriptions": cfg.nats.max_subscriptions,
        "write_deadline": cfg.nats.write_deadline.as_nanos() as u64,
        "start": rfc3339(shared.started),
        "config_load_time": rfc3339(shared.config_load_time()),
        "now": rfc3339(SystemTime::now()),
        "uptime": go_duration(uptime),
        "mem": resident_memory(),
        "cores": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "cpu": cpu_percent(uptime),
        "connections": clients.len(),
        "total_connections": s.total_connections.load(Ordering::Relaxed),
        "routes": 0,
        "remotes": 0,
        "leafnodes": 0,
        "in_msgs": s.in_msgs.load(Ordering::Relaxed),
        "out_msgs": out_msgs,
        "in_bytes": s.in_bytes.load(Ordering::Relaxed),
        "out_bytes": out_bytes,
        "slow_consumers": s.slow_consumers.load(Ordering::Relaxed),
        "stalled_clients": s.stalls.load(Ordering::Relaxed),
        "subscriptions": shared.router.subscription_count(),
        "jetstream": varz_jetstream(&shared),
        "upstream": varz_upstream(&shared),
        "websocket": varz_websocket(&shared),
        "api": varz_api(&shared),
    }))
}

/// The limits of an HTTP listener, and what they refused since start.
fn varz_limits(limits: &ListenerLimits) -> serde_json::Value {
    serde_json::json!({
        "max_connections_per_ip": limits.max_connections_per_ip(),
        "rate_limit": limits.rate_limit().map(|r| serde_json::json!({
            "requests_per_second": r.requests_per_second,
            "burst": r.burst,
        })),
        "refused_connections": limits.refused_connections(),
        "rate_limited": limits.rate_limited(),
    })
}

/// The `websocket` block of `/varz`: nats-server's fields (host and port are 0 and empty
/// without a dedicated listener), plus the frame and message sizes (which also apply to
/// `/nats` and `/v1/ws`) and the dedicated listener's limits.
fn varz_websocket(shared: &Shared) -> serde_json::Value {
    let config = shared.config();
    let ws = &config.websocket;
    let mut block = varz_limits(&shared.websocket_limits);
    let listener = ws.listener.as_ref();
    let fields = serde_json::json!({
        "host": listener.map(|l| l.host.clone()).unwrap_or_default(),
        "port": shared.websocket_addr().map_or(0, |a| a.port()),
        "no_tls": listener.is_none_or(|l| l.tls.is_none()),
        "same_origin": ws.same_origin,
        "allowed_origins": ws.allowed_origins,
        "compression": ws.compression,
        "max_frame_size": ws.max_frame_size,
        "max_message_size": ws.max_message_size,
    });
    merge(&mut block, fields);
    block
}

/// The `api` block of `/varz` (sluice's own): the gateway API listener and its limits;
/// `null` when the API is off.
fn varz_api(shared: &Shared) -> serde_json::Value {
    let config = shared.config();
    let Some(api) = &config.api else {
        return serde_json::Value::Null;
    };
    let mut block = varz_limits(&shared.api_limits);
    let fields = serde_json::json!({
        "host": api.host,
        "port": shared.api_addr().map_or(api.port, |a| a.port()),
        "tls": api.tls.is_some(),
    });
    merge(&mut block, fields);
    block
}

/// Adds the fields of `more` to the object `into`.
fn merge(into: &mut serde_json::Value, more: serde_json::Value) {
    if let (Some(into), serde_json::Value::Object(more)) = (into.as_object_mut(), more) {
        into.extend(more);
    }
}

/// The `upstream` block of `/varz` (sluice's own): the cluster this gateway fronts, `null`
/// in embedded mode.
fn varz_upstream(shared: &Shared) -> serde_json::Value {
    let (Some(up), Some(cfg)) = (shared.upstream.get(), &shared.config().upstream) else {
        return serde_json::Value::Null;
    };
    serde_json::json!({
        "servers": cfg.servers_redacted(),
        "name": cfg.name,
        "connected": up.is_connected(),
        "connected_url": up.connected_url(),
        "subscriptions": shared.router.upstream_interest(),
        "buffered_bytes": up.buffered(),
        "max_buffer": cfg.max_buffer,
        "refused_publishes": up.refused(),
    })
}

/// The `jetstream` block of `/varz`: config and usage when enabled, `{}` otherwise.
fn varz_jetstream(shared: &Shared) -> serde_json::Value {
    let Some(js) = shared.jetstream.get() else {
        return serde_json::json!({});
    };
    let q = crate::jetstream::monitor::JszQuery::default();
    let store_dir = shared.config().jetstream.store_dir.display().to_string();
    let z = crate::jetstream::monitor::jsz(Some(js), &shared.server_id, &store_dir, &q);
    serde_json::json!({
        "config": z["config"],
        "stats": {
            "memory": z["memory"], "storage": z["storage"], "reserved_memory": 0, "reserved_storage": 0,
            "accounts": 1, "ha_assets": 0, "api": z["api"],
        },
    })
}

/// `/jsz`: JetStream usage with nats-server's fields (`?accounts`, `?streams`, `?consumers`,
/// `?config` add detail).
async fn jsz(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<crate::jetstream::monitor::JszQuery>,
) -> Json<serde_json::Value> {
    let store_dir = shared.config().jetstream.store_dir.display().to_string();
    let js = shared.jetstream.get().map(|j| &**j);
    Json(crate::jetstream::monitor::jsz(
        js,
        &shared.server_id,
        &store_dir,
        &q,
    ))
}

/// Query parameters of `/connz`, as nats-server names them.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ConnzQuery {
    sort: Option<String>,
    subs: Option<String>,
    offset: usize,
    limit: Option<usize>,
    cid: Option<u64>,
    auth: Option<String>,
}

fn truthy(v: &Option<String>) -> bool {
    matches!(v.as_deref(), Some("1" | "true" | "detail"))
}

#[derive(Serialize)]
struct ConnInfo {
    cid: u64,
    kind: &'static str,
    #[serde(rename = "type")]
    conn_type: &'static str,
    ip: String,
    port: u16,
    start: String,
    last_activity: String,
    uptime: String,
    idle: String,
    pending_bytes: usize,
    in_msgs: u64,
    out_msgs: u64,
    in_bytes: u64,
    out_bytes: u64,
    /// Times publishers waited for this client to catch up (omitted at 0, as nats-server).
    #[serde(skip_serializing_if = "is_zero")]
    stalls: u64,
    subscriptions: usize,
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    lang: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    authorized_user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscriptions_list: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscriptions_list_detail: Option<Vec<SubDetail>>,
}

#[derive(Serialize)]
struct SubDetail {
    subject: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    qgroup: Option<String>,
    sid: String,
    msgs: u64,
    #[serde(skip_serializing_if = "is_zero")]
    max: u64,
    cid: u64,
}

impl SubDetail {
    fn of(s: &crate::core::router::Subscription, cid: u64) -> Self {
        SubDetail {
            subject: text(&s.subject),
            qgroup: s.queue.as_deref().map(text),
            sid: text(&s.sid),
            msgs: s.delivered(),
            max: s.max(),
            cid,
        }
    }
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn conn_info(c: &ClientState, q: &ConnzQuery) -> ConnInfo {
    let meta = c.meta.lock().clone();
    let subs: Vec<_> = c
        .subs
        .lock()
        .values()
        .filter(|s| !s.is_closed())
        .cloned()
        .collect();
    let last = meta.last_activity.unwrap_or(c.started);
    let detail = q.subs.as_deref() == Some("detail");
    ConnInfo {
        cid: c.id,
        kind: "Client",
        conn_type: if c.websocket { "websocket" } else { "nats" },
        ip: c.addr.ip().to_string(),
        port: c.addr.port(),
        start: rfc3339(c.started),
        last_activity: rfc3339(last),
        uptime: go_duration(c.started_at.elapsed()),
        idle: go_duration(last.elapsed().unwrap_or_default()),
        pending_bytes: c.pending_bytes(),
        in_msgs: c.msgs_in.load(Ordering::Relaxed),
        out_msgs: c.msgs_out.load(Ordering::Relaxed),
        in_bytes: c.bytes_in.load(Ordering::Relaxed),
        out_bytes: c.bytes_out.load(Ordering::Relaxed),
        stalls: c.stall.waits(),
        subscriptions: subs.len(),
        name: meta.name,
        lang: meta.lang,
        version: meta.version,
        authorized_user: if truthy(&q.auth) { meta.user } else { None },
        subscriptions_list: (truthy(&q.subs) && !detail)
            .then(|| subs.iter().map(|s| text(&s.subject)).collect()),
        subscriptions_list_detail: detail
            .then(|| subs.iter().map(|s| SubDetail::of(s, c.id)).collect()),
    }
}

async fn connz(State(shared): State<Arc<Shared>>, Query(q): Query<ConnzQuery>) -> Response {
    let mut infos: Vec<ConnInfo> = shared
        .clients
        .snapshot()
        .iter()
        .filter(|c| q.cid.is_none_or(|id| id == c.id))
        .map(|c| conn_info(c, &q))
        .collect();
    let sort = q.sort.as_deref().unwrap_or("cid");
    match sort {
        "cid" | "start" => infos.sort_by_key(|c| c.cid),
        "subs" => infos.sort_by_key(|c| std::cmp::Reverse(c.subscriptions)),
        "pending" => infos.sort_by_key(|c| std::cmp::Reverse(c.pending_bytes)),
        "msgs_to" => infos.sort_by_key(|c| std::cmp::Reverse(c.out_msgs)),
        "msgs_from" => infos.sort_by_key(|c| std::cmp::Reverse(c.in_msgs)),
        "bytes_to" => infos.sort_by_key(|c| std::cmp::Reverse(c.out_bytes)),
        "bytes_from" => infos.sort_by_key(|c| std::cmp::Reverse(c.in_bytes)),
        "last" | "idle" => infos.sort_by(|a, b| b.last_activity.cmp(&a.last_activity)),
        "uptime" => infos.sort_by_key(|c| c.cid),
        other => {
            return problem(
                StatusCode::BAD_REQUEST,
                &format!("invalid sorting option {other:?}"),
            );
        }
    }
    let total = infos.len();
    let limit = q.limit.unwrap_or(1024);
    let page: Vec<ConnInfo> = infos.into_iter().skip(q.offset).take(limit).collect();
    Json(serde_json::json!({
        "server_id": shared.server_id,
        "now": rfc3339(SystemTime::now()),
        "num_connections": page.len(),
        "total": total,
        "offset": q.offset,
        "limit": limit,
        "connections": page,
    }))
    .into_response()
}

/// Query parameters of `/subsz`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SubszQuery {
    subs: Option<String>,
    offset: usize,
    limit: Option<usize>,
    test: Option<String>,
}

async fn subsz(State(shared): State<Arc<Shared>>, Query(q): Query<SubszQuery>) -> Response {
    let stats = shared.router.stats();
    let mut body = match serde_json::to_value(&stats) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    body.insert("server_id".into(), shared.server_id.clone().into());
    body.insert("now".into(), rfc3339(SystemTime::now()).into());
    if truthy(&q.subs) || q.test.is_some() {
        let mut list: Vec<SubDetail> = Vec::new();
        for c in shared.clients.snapshot() {
            for s in c.subs.lock().values().filter(|s| !s.is_closed()) {
                if let Some(t) = &q.test
                    && !crate::core::subject::subject_matches(&s.subject, t.as_bytes())
                {
                    continue;
                }
                list.push(SubDetail::of(s, c.id));
            }
        }
        let total = list.len();
        let limit = q.limit.unwrap_or(1024);
        let page: Vec<SubDetail> = list.into_iter().skip(q.offset).take(limit).collect();
        body.insert("total".into(), total.into());
        body.insert("offset".into(), q.offset.into());
        body.insert("limit".into(), limit.into());
        body.insert(
            "subscriptions_list".into(),
            serde_json::to_value(page).unwrap_or_default(),
        );
    }
    Json(serde_json::Value::Object(body)).into_response()
}

async fn healthz(State(shared): State<Arc<Shared>>) -> Response {
    match shared.is_ready() {
        Ok(()) => Json(serde_json::json!({"status": "ok"})).into_response(),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "unavailable", "error": why})),
        )
            .into_response(),
    }
}

fn problem(status: StatusCode, detail: &str) -> Response {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let clients = shared.clients.snapshot();
    let (out_msgs, out_bytes) = shared.out_totals(&clients);
    let s = &shared.stats;
    let uptime = shared.started_at.elapsed();
    let mut out = String::with_capacity(2048);
    let mut metric = |name: &str, kind: &str, help: &str, value: f64| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        let _ = writeln!(out, "{name} {value}");
    };
    metric(
        "sluice_connections",
        "gauge",
        "Client connections currently open.",
        clients.len() as f64,
    );
    metric(
        "sluice_connections_accepted_total",
        "counter",
        "Client connections accepted since start.",
        s.total_connections.load(Ordering::Relaxed) as f64,
    );
    metric(
        "sluice_subscriptions",
        "gauge",
        "Subscriptions currently registered.",
        shared.router.subscription_count() as f64,
    );
    metric(
        "sluice_messages_received_total",
        "counter",
        "Messages received from clients.",
        s.in_msgs.load(Ordering::Relaxed) as f64,
    );
    metric(
        "sluice_messages_sent_total",
        "counter",
        "Messages delivered to clients.",
        out_msgs as f64,
    );
    metric(
        "sluice_received_bytes_total",
        "counter",
        "Message bytes (headers and payload) received from clients.",
        s.in_bytes.load(Ordering::Relaxed) as f64,
    );
    metric(
        "sluice_sent_bytes_total",
        "counter",
        "Message bytes (headers and payload) delivered to clients.",
        out_bytes as f64,
    );
    metric(
        "sluice_slow_consumers_total",
        "counter",
        "Connections closed because they could not keep up.",
        s.slow_consumers.load(Ordering::Relaxed) as f64,
    );
    metric(
        "sluice_producer_stalls_total",
        "counter",
        "Times a publisher waited for a subscriber with a large backlog to catch up.",
        s.stalls.load(Ordering::Relaxed) as f64,
    );
    if let Some(up) = shared.upstream.get() {
        metric(
            "sluice_upstream_connected",
            "gauge",
            "1 while a server of the upstream cluster is connected (upstream mode).",
            f64::from(u8::from(up.is_connected())),
        );
        metric(
            "sluice_upstream_subscriptions",
            "gauge",
            "Subscriptions carried upstream (one per distinct subject and queue group).",
            shared.router.upstream_interest() as f64,
        );
        metric(
            "sluice_upstream_buffered_bytes",
            "gauge",
            "Publishes waiting for the upstream connection, in bytes.",
            up.buffered() as f64,
        );
        metric(
            "sluice_upstream_refused_total",
            "counter",
            "Publishes refused because the upstream buffer was full.",
            up.refused() as f64,
        );
    }
    metric(
        "sluice_uptime_seconds",
        "gauge",
        "Seconds since the server started.",
        uptime.as_secs_f64(),
    );
    metric(
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
        resident_memory() as f64,
    );
    listener_metrics(&mut out, &[&shared.api_limits, &shared.websocket_limits]);
    if let Some(js) = shared.jetstream.get() {
        crate::jetstream::monitor::metrics(js, &mut out);
    }
    let plugins: Vec<_> = shared
        .plugins
        .list()
        .into_iter()
        .map(|p| (p.name, p.metrics))
        .collect();
    if !plugins.is_empty() {
        crate::plugin::metrics::prometheus(&plugins, &mut out);
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

/// A counter family of the listeners: name, help, and how to read it off one listener.
type ListenerCounter = (&'static str, &'static str, fn(&ListenerLimits) -> u64);

/// Refusals of the HTTP listeners' limits, one series per listener.
fn listener_metrics(out: &mut String, listeners: &[&ListenerLimits]) {
    let families: [ListenerCounter; 2] = [
        (
            "sluice_http_connections_refused_total",
            "Connections refused with 429 because their client IP held max_connections_per_ip.",
            ListenerLimits::refused_connections,
        ),
        (
            "sluice_http_rate_limited_total",
            "Requests and WebSocket upgrades refused with 429 by rate_limit.",
            ListenerLimits::rate_limited,
        ),
    ];
    for (name, help, value) in families {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} counter");
        for l in listeners {
            let _ = writeln!(out, "{name}{{listener=\"{}\"}} {}", l.name, value(l));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_durations_print_like_go() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(rfc3339(t), "2023-11-14T22:13:20.000000000Z");
        assert_eq!(go_duration(Duration::from_secs(3723)), "1h2m3s");
        assert_eq!(go_duration(Duration::from_secs(5)), "5s");
        assert_eq!(go_duration(Duration::from_millis(250)), "250ms");
    }
}
