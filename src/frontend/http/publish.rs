//! `POST /v1/publish/{subject}`: the raw request body becomes the payload of one message.
//!
//! Also the ingress steps that request/reply shares: validating the subject, turning request
//! headers into a NATS header block, reading the body within `max_payload`, and handing the
//! message to the router.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use bytes::Bytes;
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::SubscriptionGuard;
use super::auth::{check_publish, identify};
use super::headers;
use super::problem::{ApiError, Problem, ProblemKind};
use super::queue_sink::QueueSink;
use super::request::new_inbox;
use crate::auth::Identity;
use crate::core::message::Message;
use crate::core::router::{Publisher, Subscription};
use crate::core::subject::is_valid_literal_subject;
use crate::plugin::{self, Chained, Protocol, Rejection};
use crate::server::Shared;

/// The answer to a publish no stream captured.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublishAck {
    /// How many subscriptions received the message (one per queue group at most); left
    /// out in upstream mode, where the cluster does the routing.
    #[schema(example = 1)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered: Option<usize>,
}

/// The answer to a publish a JetStream stream captured: the stream's ack.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StreamAck {
    /// The stream that stored the message.
    #[schema(example = "ORDERS")]
    pub stream: String,
    /// Its sequence in the stream.
    #[schema(example = 42)]
    pub seq: u64,
    /// True when `Nats-Msg-Id` (or `Idempotency-Key`) matched an earlier message within the
    /// stream's duplicate window: nothing new was stored.
    #[serde(default)]
    pub duplicate: bool,
}

/// How long an HTTP publish waits for a stream to store the message.
const STREAM_ACK_TIMEOUT: Duration = Duration::from_secs(5);

/// Raw message bytes, sent and returned as-is (no encoding, no framing).
#[derive(ToSchema)]
#[schema(content_media_type = "application/octet-stream")]
pub struct RawPayload(#[allow(dead_code, reason = "only its schema is used")] String);

/// Publishes the body to `subject`.
#[utoipa::path(
    post,
    path = "/v1/publish/{subject}",
    tag = "messages",
    params(
        ("subject" = String, Path, description = "Literal subject (no wildcards)", example = "orders.new"),
        ("Nats-Msg-Id" = Option<String>, Header, description = "Any `Nats-*` header is passed through to NATS"),
        ("Idempotency-Key" = Option<String>, Header, description = "Becomes `Nats-Msg-Id` unless that is also given"),
        ("X-Nats-Header-Foo" = Option<String>, Header, description = "`X-Nats-Header-<Name>: v` becomes the NATS header `<Name>: v`"),
    ),
    request_body(content = inline(RawPayload), content_type = "application/octet-stream", description = "The payload, any bytes; may be empty"),
    responses(
        (status = 200, description = "Stored by a JetStream stream", body = StreamAck),
        (status = 202, description = "Accepted and routed (no stream captures the subject)", body = PublishAck),
        (status = 409, description = "A `Nats-Expected-*` header did not hold", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "Invalid subject or header", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Credentials missing or wrong", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Publishing to this subject is not permitted", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Headers plus payload exceed max_payload", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The stream cannot store the message", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []), ("basic" = []))
)]
pub async fn publish(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    subject: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let identity = identify(&shared, &headers, peer).await?;
    let Path(subject) = subject?;
    check_literal(&shared, &subject)?;
    check_publish(&identity, &subject)?;
    check_upstream(&shared)?;
    if let Some(upstream) = shared.upstream.get() {
        upstream.wait_for_room().await;
    }
    let msg = read_message(&shared, subject, None, &headers, body).await?;
    shared.stats.record_in(1, msg.size() as u64);
    let ctx = || plugin::context(Protocol::Http, None, identity.user.as_deref());
    let one = match shared.plugins.process(ctx, msg) {
        Chained::Untouched(untouched) => untouched,
        Chained::Processed(mut processed) => {
            for m in &processed.dead_letters {
                route_raw(&shared, m);
            }
            if let Some(r) = &processed.rejected {
                return Err(rejected(r));
            }
            if processed.deliver.len() != 1 {
                // Dropped or fanned out: report deliveries, no single stream ack applies.
                let delivered = processed
                    .deliver
                    .iter()
                    .map(|m| route_raw(&shared, m))
                    .sum();
                let ack = PublishAck {
                    delivered: (!shared.router.is_upstream()).then_some(delivered),
                };
                return Ok((StatusCode::ACCEPTED, Json(ack)).into_response());
            }
            processed.deliver.pop().expect("one message")
        }
    };
    let captured = match shared.upstream.get() {
        Some(up) => {
            let subject = String::from_utf8_lossy(&one.subject);
            up.streams.capturing(&subject).await.is_some()
        }
        None => shared
            .jetstream
            .get()
            .is_some_and(|js| js.stream_for_subject(&one.subject).is_some()),
    };
    if captured {
        let inbox = Bytes::from(new_inbox());
        let msg = Message {
            reply: Some(inbox.clone()),
            ..one
        };
        let ack = publish_to_stream(&shared, inbox, &msg).await?;
        return Ok((StatusCode::OK, Json(ack)).into_response());
    }
    let delivered = route_raw(&shared, &one);
    if shared.router.is_upstream() {
        if delivered == 0 {
            return Err(upstream_unavailable());
        }
        // The cluster routes it; how many subscribers it reached is not known here.
        let ack = PublishAck { delivered: None };
        return Ok((StatusCode::ACCEPTED, Json(ack)).into_response());
    }
    let ack = PublishAck {
        delivered: Some(delivered),
    };
    Ok((StatusCode::ACCEPTED, Json(ack)).into_response())
}

/// 503 in upstream mode while no server of the cluster is reachable (or the buffer that
/// holds publishes for the reconnect is full): the publisher learns it must retry.
pub(super) fn upstream_unavailable() -> ApiError {
    ApiError::new(
        ProblemKind::UpstreamUnavailable,
        "no server of the upstream NATS cluster is reachable; retry later",
    )
}

/// Refuses early, before reading the body, when upstream mode cannot deliver right now.
pub(super) fn check_upstream(shared: &Shared) -> Result<(), ApiError> {
    match shared.upstream.get() {
        Some(up) if !up.is_connected() => Err(upstream_unavailable()),
        _ => Ok(()),
    }
}

/// The problem a plugin's rejection becomes.
pub(super) fn rejected(r: &Rejection) -> ApiError {
    ApiError::new(
        ProblemKind::Rejected,
        format!("rejected by plugin {}: {}", r.plugin, r.reason),
    )
}

/// Replies kept while waiting for a stream's ack (see [`publish_to_stream`]).
const ACK_QUEUE: usize = 16;

/// Publishes `msg` (whose reply is `inbox`) and waits for the stream's ack, as a JetStream
/// client's `publish` does; a refusal becomes the matching problem.
///
/// Core subscribers of the subject get the message with the inbox as its reply too, and one
/// that answers it (a service replying to whatever it receives) must not pass for the
/// stream: replies that are not a JetStream ack or error are skipped.
async fn publish_to_stream(
    shared: &Arc<Shared>,
    inbox: Bytes,
    msg: &Message,
) -> Result<StreamAck, ApiError> {
    let (tx, mut rx) = tokio::sync::mpsc::channel(ACK_QUEUE);
    let sink = QueueSink::new(tx, None, |_, m: &Message| m.clone());
    let sub = Subscription::new(
        shared.next_client_id(),
        Bytes::from_static(b"1"),
        inbox,
        None,
        Arc::new(sink),
    );
    let _guard = SubscriptionGuard::subscribe(shared, sub)
        .map_err(|e| ApiError::new(ProblemKind::BadSubject, e.to_string()))?;
    route_raw(shared, msg);
    let deadline = tokio::time::Instant::now() + STREAM_ACK_TIMEOUT;
    loop {
        let Ok(Some(reply)) = tokio::time::timeout_at(deadline, rx.recv()).await else {
            return Err(ApiError::new(
                ProblemKind::StoreUnavailable,
                "the stream did not acknowledge the message in time",
            ));
        };
        if let Some(result) = stream_ack(&reply.payload) {
            return result;
        }
    }
}

/// A JetStream publish ack (`{"stream","seq"[,"duplicate"]}`) or error (`{"error":{..}}`) as
/// the HTTP answer; `None` when `payload` is neither (a reply from someone else).
fn stream_ack(payload: &[u8]) -> Option<Result<StreamAck, ApiError>> {
    #[derive(Deserialize)]
    struct JsError {
        err_code: u16,
        description: String,
    }
    #[derive(Deserialize)]
    struct AckOrError {
        error: Option<JsError>,
        #[serde(flatten)]
        ack: Option<StreamAck>,
    }
    let parsed: AckOrError = serde_json::from_slice(payload).ok()?;
    match (parsed.error, parsed.ack) {
        (Some(e), _) => {
            let kind = match e.err_code {
                // message too large
                10054 => ProblemKind::TooLarge,
                // expected stream, last sequence, last msg id, last subject sequence
                10060 | 10070 | 10071 => ProblemKind::Conflict,
                _ => ProblemKind::StoreUnavailable,
            };
            Some(Err(ApiError::new(
                kind,
                format!("{} (JetStream error {})", e.description, e.err_code),
            )))
        }
        (None, Some(ack)) => Some(Ok(ack)),
        (None, None) => None,
    }
}

/// 400 unless `subject` is a valid literal subject.
pub(super) fn check_literal(shared: &Shared, subject: &str) -> Result<(), ApiError> {
    check_length(shared, subject)?;
    if is_valid_literal_subject(subject.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::new(
            ProblemKind::BadSubject,
            format!(
                "\"{subject}\" is not a valid subject to publish to (no wildcards, no empty tokens)"
            ),
        ))
    }
}

/// 400 when `subject` is longer than a NATS client could send or receive it: a MSG line
/// carrying it would break `max_control_line`.
pub(super) fn check_length(shared: &Shared, subject: &str) -> Result<(), ApiError> {
    let max = shared.config().nats.max_control_line;
    if subject.len() > max {
        return Err(ApiError::new(
            ProblemKind::BadSubject,
            format!("the subject is longer than max_control_line ({max} bytes)"),
        ));
    }
    Ok(())
}

/// Builds the message: NATS headers from the request headers, the body as payload, read only
/// up to `max_payload` so an oversized body is refused without being buffered.
pub(super) async fn read_message(
    shared: &Shared,
    subject: String,
    reply: Option<Bytes>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Message, ApiError> {
    let max = shared.config().nats.max_payload;
    let nats_headers = headers::to_nats(headers)?;
    let header_len = nats_headers.as_ref().map_or(0, Bytes::len);
    let too_large = || {
        ApiError::new(
            ProblemKind::TooLarge,
            format!("headers plus payload exceed max_payload ({max} bytes)"),
        )
    };
    let room = max.checked_sub(header_len).ok_or_else(too_large)?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > room as u64) {
        return Err(too_large());
    }
    let payload = axum::body::to_bytes(body, room).await.map_err(|e| {
        if is_length_limit(&e) {
            too_large()
        } else {
            ApiError::new(
                ProblemKind::BadRequest,
                format!("cannot read the body: {e}"),
            )
        }
    })?;
    Ok(Message {
        subject: Bytes::from(subject),
        reply,
        headers: nats_headers,
        payload,
    })
}

fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// Runs the plugin chain on `msg` and routes the outcome; returns how many subscriptions got
/// something, or a 422 problem when a plugin rejected the message.
pub(super) fn route(
    shared: &Shared,
    protocol: Protocol,
    identity: &Identity,
    msg: Message,
) -> Result<usize, ApiError> {
    shared.stats.record_in(1, msg.size() as u64);
    let mut publisher = Publisher::new(shared.next_client_id(), true);
    let ctx = || plugin::context(protocol, None, identity.user.as_deref());
    let routed = plugin::route(shared, &mut publisher, ctx, msg);
    publisher.flush();
    match &routed.rejected {
        Some(r) => Err(rejected(r)),
        None => Ok(routed.delivered),
    }
}

/// Hands `msg` to the router without the plugin chain (it already went through it).
fn route_raw(shared: &Shared, msg: &Message) -> usize {
    let mut publisher = Publisher::new(shared.next_client_id(), true);
    let delivered = shared.router.publish(&mut publisher, msg);
    publisher.flush();
    delivered
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by schemathesis: a subscriber of a captured subject that answered the message
    /// (the inbox is its reply subject) was read as the stream's ack, and the publish failed
    /// with 503 although the stream had stored it. Only acks and JetStream errors count.
    #[test]
    fn only_jetstream_acks_and_errors_answer_a_stream_publish() {
        for other in [&b"hello"[..], b"", b"{}", b"[1]", br#"{"seq":1}"#] {
            assert!(stream_ack(other).is_none(), "{other:?}");
        }
        let ack = stream_ack(br#"{"stream":"ORDERS","seq":7}"#)
            .unwrap()
            .unwrap();
        assert_eq!(
            (ack.stream.as_str(), ack.seq, ack.duplicate),
            ("ORDERS", 7, false)
        );
        let err =
            br#"{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 1"}}"#;
        let problem = stream_ack(err).unwrap().unwrap_err().problem();
        assert_eq!(problem.status, 409);
    }
}
