//! `GET /v1/subscribe/{subject}`: a subscription delivered as Server-Sent Events.
//!
//! Each message is an `event: message` whose `data:` is one JSON object (see [`SseMessage`]).
//! The sink behind the subscription is a bounded channel: the router never waits for an HTTP
//! client, and a client that falls [`QUEUE_LEN`] messages behind is cut off as a slow consumer
//! (a final `event: error` with a problem document, then the stream ends). The subscription
//! is removed when the stream is dropped: client gone, slow consumer or server shutdown.
//!
//! When a JetStream stream captures everything the pattern can match (and no queue group is
//! asked for), the events are read from the stream instead (`subscribe_stream.rs`): they carry
//! ids, and `Last-Event-ID` resumes after the last one seen.
//!
//! A reload (SIGHUP) that revokes the credentials (401) or the right to this subscription
//! (403) ends the stream with a last `event: error`; one that changes deny rules applies them
//! to the next message.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, KeepAliveStream, Sse};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::warn;
use utoipa::{IntoParams, ToSchema};

use super::SubscriptionGuard;
use super::auth::{check_subscribe, session_read};
use super::headers::parse_nats;
use super::problem::{ApiError, Problem, ProblemKind};
use super::publish::check_length;
use super::queue_sink::QueueSink;
use super::subscribe_stream;
use crate::core::message::Message;
use crate::core::router::Subscription;
use crate::core::subject::{is_valid_queue, is_valid_subject};
use crate::reload::Session;
use crate::server::Shared;

/// Messages buffered per SSE client before it is a slow consumer.
pub const QUEUE_LEN: usize = 1024;
/// Interval of the keep-alive comments that stop proxies from closing an idle stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Payloads below this size are copied out of the publisher's read buffer, so a queued
/// message does not keep a whole connection buffer alive.
const COPY_BELOW: usize = 2048;

/// Query parameters of a subscription.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SubscribeParams {
    /// Queue group: each message goes to one member of the group.
    #[param(example = "workers")]
    pub queue: Option<String>,
    /// `base64` sends every payload base64-encoded; by default only non-UTF-8 payloads are.
    pub encoding: Option<PayloadEncoding>,
}

/// How payloads are written into events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PayloadEncoding {
    /// Always base64.
    Base64,
}

/// The `data:` of each `event: message`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SseMessage {
    /// The subject the message was published to.
    #[schema(example = "orders.new")]
    pub subject: String,
    /// The reply subject, for requests.
    pub reply: Option<String>,
    /// NATS headers: each name with its values, in order.
    pub headers: BTreeMap<String, Vec<String>>,
    /// The payload: UTF-8 text, or base64 when `encoding` says so.
    #[schema(example = "hello")]
    pub payload: String,
    /// `base64` when the payload is base64-encoded (binary payload, or `?encoding=base64`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = json!(null))]
    pub encoding: Option<String>,
}

impl SseMessage {
    pub(crate) fn new(msg: &Message, force_base64: bool) -> Self {
        let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        if let Some(block) = &msg.headers {
            for (name, value) in parse_nats(block).entries {
                let value = String::from_utf8_lossy(&value).into_owned();
                headers.entry(name).or_default().push(value);
            }
        }
        let text = (!force_base64)
            .then(|| std::str::from_utf8(&msg.payload).ok())
            .flatten();
        let (payload, encoding) = match text {
            Some(t) => (t.to_string(), None),
            None => (STANDARD.encode(&msg.payload), Some("base64".to_string())),
        };
        SseMessage {
            subject: String::from_utf8_lossy(&msg.subject).into_owned(),
            reply: msg
                .reply
                .as_ref()
                .map(|r| String::from_utf8_lossy(r).into_owned()),
            headers,
            payload,
            encoding,
        }
    }
}

/// Streams the messages of `subject` (wildcards allowed) as Server-Sent Events.
#[utoipa::path(
    get,
    path = "/v1/subscribe/{subject}",
    tag = "messages",
    params(
        ("subject" = String, Path, description = "Subject or wildcard pattern (`*` one token, `>` the rest; write `>` as `%3E` in the URL)", example = "orders.>"),
        SubscribeParams,
    ),
    responses(
        (status = 200, description = "An endless `text/event-stream`: `event: message` with this JSON as `data:` per message, keep-alive comments every 15 s, and a last `event: error` (a problem document) if the client falls 1024 messages behind. When a JetStream stream captures the subject, events carry `id: <stream sequence>` and a `Last-Event-ID` request header resumes right after that sequence.", body = SseMessage, content_type = "text/event-stream"),
        (status = 400, description = "Invalid subject, queue group or encoding", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Credentials missing or wrong", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Subscribing to this subject is not permitted", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []), ("basic" = []))
)]
pub async fn subscribe(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    subject: Result<Path<String>, PathRejection>,
    params: Result<Query<SubscribeParams>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Sse<KeepAliveStream<BoxStream<'static, Result<Event, Infallible>>>>, ApiError> {
    let session = session_read(&shared, &headers, peer).await?;
    let Path(subject) = subject?;
    let Query(params) = params?;
    check_length(&shared, &subject)?;
    if !is_valid_subject(subject.as_bytes()) {
        return Err(ApiError::new(
            ProblemKind::BadSubject,
            format!("\"{subject}\" is not a valid subject or pattern"),
        ));
    }
    if let Some(q) = &params.queue
        && !is_valid_queue(q.as_bytes())
    {
        return Err(ApiError::new(
            ProblemKind::BadSubject,
            format!("\"{q}\" is not a valid queue group"),
        ));
    }
    check_subscribe(&session.identity(), &subject)?;
    let force_base64 = params.encoding == Some(PayloadEncoding::Base64);
    if params.queue.is_none()
        && let Some(stream) = subscribe_stream::covering_stream(&shared, &subject)
    {
        let last = headers.get("last-event-id").and_then(|v| v.to_str().ok());
        let start = subscribe_stream::start_seq(&stream, last);
        let pattern = subject.clone();
        let events = subscribe_stream::events(
            &shared,
            stream,
            subject,
            start,
            session.clone(),
            force_base64,
        );
        let events = watched(session, pattern, events.boxed());
        return Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)));
    }

    let (tx, rx) = mpsc::channel(QUEUE_LEN);
    let sink = Arc::new(QueueSink::new(tx, Some(session.clone()), |_, msg| {
        detach(msg)
    }));
    let sub = Subscription::new(
        shared.next_client_id(),
        Bytes::from_static(b"1"),
        Bytes::from(subject.clone()),
        params.queue.map(Bytes::from),
        sink.clone(),
    );
    let guard = SubscriptionGuard::subscribe(&shared, sub)
        .map_err(|e| ApiError::new(ProblemKind::BadSubject, e.to_string()))?;
    let state = StreamState {
        rx,
        sink,
        shutdown: shared.shutdown_token().clone(),
        guard,
        force_base64,
        done: false,
    };
    let stream = futures_util::stream::unfold(state, next_event);
    let stream = watched(session, subject, stream.boxed());
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

type Events = BoxStream<'static, Result<Event, Infallible>>;

/// `events` until a reload revokes `session` (a last `error` event, 401) or its right to
/// subscribe to `pattern` (403); dropping the inner stream then unsubscribes.
fn watched(session: Arc<Session>, pattern: String, events: Events) -> Events {
    let state = Some((session, pattern, events));
    futures_util::stream::unfold(state, |state| async move {
        let (session, pattern, mut events) = state?;
        let ended = loop {
            tokio::select! {
                event = events.next() => return Some((event?, Some((session, pattern, events)))),
                _ = session.revoked().cancelled() => {
                    break ApiError::unauthorized("the credentials of this stream are no longer valid", "");
                }
                _ = session.changed() => {
                    if let Err(e) = check_subscribe(&session.identity(), &pattern) {
                        break e;
                    }
                }
            }
        };
        let data = serde_json::to_string(&ended.problem()).unwrap_or_default();
        Some((Ok(Event::default().event("error").data(data)), None))
    })
    .boxed()
}

/// What the event stream owns; dropping it unsubscribes.
struct StreamState {
    rx: mpsc::Receiver<Message>,
    sink: Arc<QueueSink<Message>>,
    shutdown: CancellationToken,
    guard: SubscriptionGuard,
    force_base64: bool,
    done: bool,
}

async fn next_event(mut st: StreamState) -> Option<(Result<Event, Infallible>, StreamState)> {
    if st.done {
        return None;
    }
    let msg = tokio::select! {
        biased;
        _ = st.shutdown.cancelled() => return None,
        msg = st.rx.recv() => msg?,
    };
    if st.sink.slow.load(Ordering::Acquire) {
        // Cut off now rather than drain a backlog the client could not keep up with.
        st.done = true;
        st.guard.unsubscribe();
        st.guard
            .shared()
            .stats
            .slow_consumers
            .fetch_add(1, Ordering::Relaxed);
        warn!(subject = %String::from_utf8_lossy(&st.guard.subject()), "Slow consumer on an SSE subscription; closing it.");
        let problem = ApiError::new(
            ProblemKind::SlowConsumer,
            format!("more than {QUEUE_LEN} messages pending; the subscription was closed"),
        )
        .problem();
        let data = serde_json::to_string(&problem).unwrap_or_default();
        return Some((Ok(Event::default().event("error").data(data)), st));
    }
    let data = serde_json::to_string(&SseMessage::new(&msg, st.force_base64)).unwrap_or_default();
    Some((Ok(Event::default().event("message").data(data)), st))
}

/// A copy of `msg` that does not pin the publisher's read buffer, except for large payloads
/// (copying those would cost more than the memory they keep alive).
pub(super) fn detach(msg: &Message) -> Message {
    let copy = |b: &Bytes| Bytes::copy_from_slice(b);
    Message {
        subject: copy(&msg.subject),
        reply: msg.reply.as_ref().map(copy),
        headers: msg.headers.as_ref().map(copy),
        payload: if msg.payload.len() < COPY_BELOW {
            copy(&msg.payload)
        } else {
            msg.payload.clone()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_payloads_stay_text_and_binary_become_base64() {
        let mut msg = Message::new("a.b", "héllo");
        msg.headers = Some(Bytes::from_static(b"NATS/1.0\r\nK: 1\r\nK: 2\r\n\r\n"));
        let v = serde_json::to_value(SseMessage::new(&msg, false)).unwrap();
        let want = serde_json::json!({
            "subject": "a.b", "reply": null, "headers": {"K": ["1", "2"]}, "payload": "héllo",
        });
        assert_eq!(v, want);
        let v = serde_json::to_value(SseMessage::new(&msg, true)).unwrap();
        assert_eq!(v["payload"], STANDARD.encode("héllo"));
        assert_eq!(v["encoding"], "base64");
        let binary = Message::new("a.b", vec![0xff, 0x00]);
        let v = serde_json::to_value(SseMessage::new(&binary, false)).unwrap();
        assert_eq!(
            (v["payload"].as_str(), v["encoding"].as_str()),
            (Some("/wA="), Some("base64"))
        );
    }
}
