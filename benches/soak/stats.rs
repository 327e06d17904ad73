//! Counters the load workers share: messages, connections churned by kind, request/reply
//! round trips, and unexpected errors with an example message per kind. Atomics, so workers
//! never wait on each other to count.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Kinds of connection the soak opens and closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Conn {
    /// async-nats client: subscribe, publish, request, then drain and close.
    NatsClean,
    /// Raw NATS protocol over TCP, dropped with a reset mid-operation.
    NatsAbrupt,
    /// Raw NATS subscriber to the busy subjects that stops reading, then resets.
    NatsStalled,
    /// NATS over WebSocket (`/nats`), closed with a close frame.
    WsClean,
    /// NATS over WebSocket, the TCP connection reset without a close frame.
    WsAbrupt,
    /// JSON WebSocket (`/v1/ws`): subscribe, publish, close.
    JsonWs,
    /// HTTP request on a fresh TCP connection, closed after the answer.
    HttpNew,
    /// Server-Sent Events subscription, dropped after its first event.
    Sse,
    /// JetStream client of one phase (publisher, fetcher).
    LongLived,
}

impl Conn {
    /// Every kind, in declaration order (so `kind as usize` indexes it).
    const ALL: [Conn; 9] = [
        Conn::NatsClean,
        Conn::NatsAbrupt,
        Conn::NatsStalled,
        Conn::WsClean,
        Conn::WsAbrupt,
        Conn::JsonWs,
        Conn::HttpNew,
        Conn::Sse,
        Conn::LongLived,
    ];

    fn name(self) -> &'static str {
        match self {
            Conn::NatsClean => "nats_clean",
            Conn::NatsAbrupt => "nats_abrupt",
            Conn::NatsStalled => "nats_stalled",
            Conn::WsClean => "ws_clean",
            Conn::WsAbrupt => "ws_abrupt",
            Conn::JsonWs => "json_ws",
            Conn::HttpNew => "http_new_connection",
            Conn::Sse => "sse",
            Conn::LongLived => "long_lived",
        }
    }
}

/// Counters of one soak (all phases together).
#[derive(Default)]
pub struct Stats {
    /// Messages published, any front-end (NATS, WebSocket, HTTP, JetStream).
    pub sent: AtomicU64,
    /// Messages delivered to the soak's subscribers (and fetched from JetStream).
    pub received: AtomicU64,
    /// Deliveries the long-lived flows expected (their loss is reported).
    pub flow_expected: AtomicU64,
    /// Deliveries the long-lived flows got.
    pub flow_received: AtomicU64,
    /// Request/reply round trips answered (NATS and HTTP).
    pub requests: AtomicU64,
    /// HTTP requests answered with a success status.
    pub http_requests: AtomicU64,
    /// JetStream publishes acknowledged by the stream.
    pub js_acked: AtomicU64,
    /// JetStream messages fetched and acked.
    pub js_fetched: AtomicU64,
    /// Ephemeral consumers created and deleted again.
    pub js_consumers: AtomicU64,
    conns: [AtomicU64; Conn::ALL.len()],
    errors: Mutex<BTreeMap<&'static str, (u64, String)>>,
}

/// [`Stats`] as numbers, for the report.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Snapshot {
    pub sent: u64,
    pub received: u64,
    pub flow_expected: u64,
    pub flow_received: u64,
    pub requests: u64,
    pub http_requests: u64,
    pub js_acked: u64,
    pub js_fetched: u64,
    pub js_consumers: u64,
    /// Connections opened and closed, all kinds.
    pub connections: u64,
    /// The same by kind.
    pub connections_by_kind: BTreeMap<&'static str, u64>,
    /// Unexpected errors, all kinds.
    pub errors: u64,
    /// By kind: count and the first message.
    pub errors_by_kind: BTreeMap<&'static str, (u64, String)>,
}

impl Stats {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// One connection of `kind` opened and closed again.
    pub fn churned(&self, kind: Conn) {
        self.conns[kind as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// An unexpected failure of `kind` (a short stable name) with its message.
    pub fn error(&self, kind: &'static str, message: impl std::fmt::Display) {
        let mut errors = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        let entry = errors
            .entry(kind)
            .or_insert_with(|| (0, message.to_string()));
        entry.0 += 1;
    }

    /// Connections churned so far, all kinds.
    pub fn connections(&self) -> u64 {
        self.conns.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// Errors so far, all kinds.
    pub fn errors(&self) -> u64 {
        let errors = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        errors.values().map(|(n, _)| n).sum()
    }

    /// The counters now.
    pub fn snapshot(&self) -> Snapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let errors_by_kind = self
            .errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        Snapshot {
            sent: get(&self.sent),
            received: get(&self.received),
            flow_expected: get(&self.flow_expected),
            flow_received: get(&self.flow_received),
            requests: get(&self.requests),
            http_requests: get(&self.http_requests),
            js_acked: get(&self.js_acked),
            js_fetched: get(&self.js_fetched),
            js_consumers: get(&self.js_consumers),
            connections: self.connections(),
            connections_by_kind: Conn::ALL
                .iter()
                .zip(&self.conns)
                .map(|(k, c)| (k.name(), get(c)))
                .collect(),
            errors: errors_by_kind.values().map(|(n, _)| n).sum(),
            errors_by_kind,
        }
    }
}
