//! `POST /v1/request/{subject}`: request/reply over HTTP.
//!
//! A private reply inbox is subscribed first (its sink keeps only the first message), then
//! the body is published with that inbox as reply subject. The first reply becomes the HTTP
//! answer; nobody subscribed is a 503, no reply in time a 504. The inbox is unsubscribed
//! however the handler ends, including when the client hangs up and the handler is dropped.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use parking_lot::Mutex;
use rand::Rng;
use serde::Deserialize;
use tokio::sync::oneshot;
use utoipa::IntoParams;

use super::SubscriptionGuard;
use super::auth::{check_publish, check_subscribe, identify};
use super::headers;
use super::problem::{ApiError, Problem, ProblemKind};
use super::publish::{RawPayload, check_literal, check_upstream, read_message, route};
use crate::core::headers::parse_nats;
use crate::core::message::Message;
use crate::core::router::{Enqueued, Sink, Subscription};
use crate::plugin::Protocol;
use crate::server::Shared;

/// Used when the query names no timeout.
const DEFAULT_TIMEOUT_MS: u64 = 5_000;
/// The longest a request may wait; longer waits belong on a subscription.
const MAX_TIMEOUT_MS: u64 = 60_000;

/// Query parameters of a request.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RequestParams {
    /// How long to wait for the reply, in milliseconds: 1 to 60000, default 5000.
    #[param(minimum = 1, maximum = 60000, example = 2000)]
    pub timeout_ms: Option<u64>,
}

/// Publishes the body to `subject` with a private reply inbox and answers with the first reply.
#[utoipa::path(
    post,
    path = "/v1/request/{subject}",
    tag = "messages",
    params(
        ("subject" = String, Path, description = "Literal subject (no wildcards)", example = "time.now"),
        RequestParams,
    ),
    request_body(content = inline(RawPayload), content_type = "application/octet-stream", description = "The request payload; headers map to NATS headers as for publish"),
    responses(
        (status = 200, description = "The reply: body = its payload, its NATS headers as `X-Nats-Header-<Name>`, a status line as `X-Nats-Status`", body = inline(RawPayload), content_type = "application/octet-stream"),
        (status = 400, description = "Invalid subject, header or timeout", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Credentials missing or wrong", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Publishing to the subject, or subscribing to the reply inbox, is not permitted", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Headers plus payload exceed max_payload", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No subscriber matched the request (no responders)", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "No reply within timeout_ms", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []), ("basic" = []))
)]
pub async fn request(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    subject: Result<Path<String>, PathRejection>,
    params: Result<Query<RequestParams>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let identity = identify(&shared, &headers, peer).await?;
    let Path(subject) = subject?;
    let Query(params) = params?;
    let timeout = timeout(params.timeout_ms)?;
    check_literal(&shared, &subject)?;
    check_publish(&identity, &subject)?;
    let inbox = new_inbox();
    check_subscribe(&identity, &inbox)?;
    let inbox = Bytes::from(inbox);
    let msg = read_message(&shared, subject, Some(inbox.clone()), &headers, body).await?;

    let (sink, rx) = ReplySink::new();
    let sink = Arc::new(sink);
    let client_id = shared.next_client_id();
    let sub = Subscription::new(client_id, Bytes::from_static(b"1"), inbox, None, sink);
    let _guard = SubscriptionGuard::subscribe(&shared, sub)
        .map_err(|e| ApiError::new(ProblemKind::BadSubject, e.to_string()))?;

    let subject = msg.subject.clone();
    check_upstream(&shared)?;
    if route(&shared, Protocol::Http, &identity, msg)? == 0 {
        return Err(ApiError::new(
            ProblemKind::NoResponders,
            format!(
                "no subscriber matched \"{}\"",
                String::from_utf8_lossy(&subject)
            ),
        ));
    }
    match tokio::time::timeout(timeout, rx).await {
        // Upstream mode: the cluster's no-responders status comes back as the reply.
        Ok(Ok(reply)) if is_no_responders(&reply) => Err(ApiError::new(
            ProblemKind::NoResponders,
            format!(
                "no subscriber matched \"{}\"",
                String::from_utf8_lossy(&subject)
            ),
        )),
        Ok(Ok(reply)) => Ok(reply_response(reply)),
        // The sender only goes away unanswered if the inbox was torn down (shutdown).
        Ok(Err(_)) | Err(_) => Err(ApiError::new(
            ProblemKind::Timeout,
            format!("no reply within {} ms", timeout.as_millis()),
        )),
    }
}

pub(super) fn timeout(ms: Option<u64>) -> Result<Duration, ApiError> {
    match ms.unwrap_or(DEFAULT_TIMEOUT_MS) {
        ms @ 1..=MAX_TIMEOUT_MS => Ok(Duration::from_millis(ms)),
        ms => Err(ApiError::new(
            ProblemKind::BadRequest,
            format!("timeout_ms must be 1 to {MAX_TIMEOUT_MS}, not {ms}"),
        )),
    }
}

/// `_INBOX.` and 22 random base-62 characters, like the NATS clients' inboxes, so
/// permissions written for them (`_INBOX.>`) cover HTTP requests too.
pub(super) fn new_inbox() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rng();
    let mut inbox = String::with_capacity(29);
    inbox.push_str("_INBOX.");
    for _ in 0..22 {
        inbox.push(ALPHABET[rng.random_range(0..ALPHABET.len())] as char);
    }
    inbox
}

/// An empty reply with the status line `NATS/1.0 503`: nats-server's "no responders".
fn is_no_responders(reply: &Message) -> bool {
    reply.payload.is_empty()
        && reply
            .headers
            .as_ref()
            .is_some_and(|h| parse_nats(h).status == Some(503))
}

fn reply_response(reply: Message) -> Response {
    let mut resp = (StatusCode::OK, reply.payload).into_response();
    let out = resp.headers_mut();
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Some(block) = &reply.headers {
        headers::to_http(block, out);
    }
    resp
}

/// Keeps the first message delivered to the inbox; later ones are dropped.
pub(super) struct ReplySink {
    tx: Mutex<Option<oneshot::Sender<Message>>>,
}

impl ReplySink {
    /// A sink and the receiver of the first message it gets.
    pub(super) fn new() -> (Self, oneshot::Receiver<Message>) {
        let (tx, rx) = oneshot::channel();
        let sink = ReplySink {
            tx: Mutex::new(Some(tx)),
        };
        (sink, rx)
    }
}

impl Sink for ReplySink {
    fn enqueue(&self, _sub: &Subscription, msg: &Message) -> Enqueued {
        let Some(tx) = self.tx.lock().take() else {
            return Enqueued::Dropped;
        };
        // Err means the handler is gone (client hung up or timed out): nobody to deliver to.
        if tx.send(msg.clone()).is_ok() {
            Enqueued::Queued {
                kick: false,
                stalled: false,
            }
        } else {
            Enqueued::Dropped
        }
    }

    fn flush(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_bounded() {
        assert_eq!(timeout(None).unwrap(), Duration::from_secs(5));
        assert_eq!(timeout(Some(60_000)).unwrap(), Duration::from_secs(60));
        assert!(timeout(Some(0)).is_err());
        assert!(timeout(Some(60_001)).is_err());
    }

    #[test]
    fn inboxes_are_valid_and_distinct() {
        let (a, b) = (new_inbox(), new_inbox());
        assert_ne!(a, b);
        assert!(crate::core::subject::is_valid_literal_subject(a.as_bytes()));
        assert_eq!(a.len(), 29);
    }
}
