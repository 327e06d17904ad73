//! `GET /v1/ws`: a WebSocket with JSON frames, for browser pages that load no NATS library.
//!
//! Every frame is a text frame holding one JSON object with an `op`. A client sends
//! `subscribe` (`subject`, optional `queue`; answered `subscribed` with a server `sid`),
//! `unsubscribe` (`sid`), `publish` (`subject`, `payload`, optional `encoding: "base64"`,
//! `headers: {"Name": ["v"]}` and `reply`; answered `published` with `delivered`), `request`
//! (like publish plus `timeout_ms`; answered `reply` with the message) and `ping` (answered
//! `pong`). An optional `id` (string or number) is echoed in the answer. The server sends
//! `{"op":"message","sid":..,"message":{..}}` for each delivery, the message shaped exactly as
//! the SSE endpoint's ([`SseMessage`]), and `{"op":"error","id":..,"code":..,"error":..}` when a
//! frame fails, with the HTTP status the same failure has elsewhere (400 bad frame or subject,
//! 403 permission, 404 unknown sid, 413 too large, 429 too many requests in flight or over
//! the rate limit, 503 no responders, 504 timeout). A bad frame never closes the socket; only
//! a frame or message over `[websocket] max_frame_size` / `max_message_size` (a protocol
//! violation the WebSocket layer itself refuses) does, with close code 1009.
//!
//! The upgrade is one request of `[api] rate_limit`, and so is each `publish` and `request`
//! frame, charged to the same user (or client IP).
//!
//! Authentication is that of the other routes (`Authorization` on the upgrade request) plus
//! what a browser can send on a WebSocket: `?token=`, `?user=&pass=`, or the `sluice_token`
//! cookie. Origins are checked as for `/nats`. A reload (SIGHUP) re-checks the socket like a
//! NATS connection: revoked credentials close it (1008 `Authorization Violation`), and a
//! subscription no longer allowed is removed with an `error` frame (403, nats-server's
//! `Permissions Violation for Subscription to "x" (sid "n")`) then `unsubscribed`.
//!
//! Deliveries and answers share one bounded queue per socket, drained by a writer task.
//! Subscriptions enqueue without waiting; when the queue is full the socket is a slow
//! consumer: nothing more is sent and it is closed with code 1008. Dropping the connection
//! state removes every subscription and aborts requests in flight, however the socket ends.
//! The server pings every 30 s and closes a socket it heard nothing from for two intervals.

pub mod frames;

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{
    CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade, close_code,
};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tracing::{debug, warn};
use utoipa::IntoParams;

use self::frames::{ClientOp, Outbound, ServerFrame, parse};
use super::SubscriptionGuard;
use super::auth::{UpgradeCredentials, check_publish, check_subscribe, session_upgrade};
use super::problem::{ApiError, Problem, ProblemKind};
use super::publish::{check_length, check_literal, route};
use super::queue_sink::QueueSink;
use super::request::{ReplySink, new_inbox, timeout};
use super::subscribe::{SseMessage, detach};
use crate::auth::{Identity, SavedCredentials};
use crate::core::message::Message;
use crate::core::router::Subscription;
use crate::core::subject::{is_valid_queue, is_valid_subject};
use crate::frontend::limits::RateKey;
use crate::frontend::websocket::check_origin;
use crate::plugin::Protocol;
use crate::reload::Session;
use crate::server::Shared;

/// Frames queued per socket before it is a slow consumer.
pub const QUEUE_LEN: usize = 1024;
/// Requests one socket may have waiting for replies at once.
const MAX_REQUESTS: usize = 256;
/// How often the server pings.
const PING_INTERVAL: Duration = Duration::from_secs(30);
/// Ping intervals without a frame from the client after which the socket is stale.
const MAX_SILENT: u32 = 2;

/// Counts ping intervals in which the client sent nothing (not even a pong).
#[derive(Debug, Default)]
struct Liveness {
    silent: u32,
}

impl Liveness {
    /// Called once per interval with whether any frame arrived since the last call; true
    /// when the socket is stale and must be closed.
    fn tick(&mut self, heard: bool) -> bool {
        self.silent = if heard { 0 } else { self.silent + 1 };
        self.silent >= MAX_SILENT
    }
}

/// Query parameters of the upgrade: credentials for browsers, which cannot set headers.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WsParams {
    /// Token (token auth). Appears in URLs and logs: prefer the `sluice_token` cookie.
    pub token: Option<String>,
    /// User name (users auth), with `pass`.
    pub user: Option<String>,
    /// Password (users auth), with `user`.
    pub pass: Option<String>,
}

/// Upgrades to a JSON-frame WebSocket.
#[utoipa::path(
    get,
    path = "/v1/ws",
    tag = "messages",
    params(
        WsParams,
        ("sluice_token" = Option<String>, Cookie, description = "Token auth for browsers, instead of `?token=`"),
        // The upgrade request of RFC 6455; browsers send these by themselves.
        ("Connection" = String, Header, description = "Lists `Upgrade`", pattern = r"^(?:[^,]*,)*[\x20\t]*[Uu][Pp][Gg][Rr][Aa][Dd][Ee][\x20\t]*(?:,[^,]*)*(?![\s\S])"),
        ("Upgrade" = String, Header, description = "`websocket`", pattern = r"^[Ww][Ee][Bb][Ss][Oo][Cc][Kk][Ee][Tt](?![\s\S])"),
        ("Sec-WebSocket-Version" = String, Header, description = "`13`", pattern = r"^13(?![\s\S])"),
        ("Sec-WebSocket-Key" = String, Header, description = "The client's nonce (base64 of 16 bytes)"),
    ),
    responses(
        (status = 101, description = "Switching to a WebSocket of JSON text frames. Client ops: `subscribe` {subject, queue?} -> `subscribed` {sid}; `unsubscribe` {sid} -> `unsubscribed`; `publish` {subject, payload, encoding?: \"base64\", headers?: {name: [values]}, reply?} -> `published` {delivered}; `request` {same, timeout_ms?} -> `reply` {message}; `ping` -> `pong`. Each may carry an `id`, echoed back. The server sends `message` {sid, message} (the SSE message JSON) and `error` {id?, code, error}. A client 1024 frames behind is closed with code 1008."),
        (status = 400, description = "Not a WebSocket upgrade, or bad query parameters", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Credentials missing or wrong", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Origin not allowed (`[websocket] same_origin`, `allowed_origins`)", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []), ("basic" = []))
)]
pub async fn upgrade(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    params: Result<Query<WsParams>, QueryRejection>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    if let Err(why) = check_origin(&shared.config().websocket, &headers) {
        return Err(ApiError::new(ProblemKind::Forbidden, why));
    }
    let Query(params) = params?;
    let creds = UpgradeCredentials {
        token: params.token,
        user: params.user,
        pass: params.pass,
    };
    let session = session_upgrade(&shared, &headers, creds, peer).await?;
    let ws = ws.map_err(|e| ApiError::new(ProblemKind::BadRequest, e.body_text()))?;
    let rate_key = RateKey::of(
        shared.auth().required(),
        Some(&session.identity()),
        peer.ip(),
    );
    let config = shared.config();
    let sizes = &config.websocket;
    let (max_message, max_frame) = (sizes.max_message_size, sizes.max_frame_size);
    Ok(ws
        .max_message_size(max_message)
        .max_frame_size(max_frame)
        .on_upgrade(move |socket| run(shared, session, rate_key, socket)))
}

/// What the writer task sends; messages are serialized there, off the publisher's path.
enum Outgoing {
    Frame(String),
    Message { sid: Bytes, msg: Message },
}

impl Outgoing {
    /// The text frame that carries it.
    fn into_text(self) -> String {
        match self {
            Outgoing::Frame(text) => text,
            Outgoing::Message { sid, msg } => ServerFrame::Message {
                sid: String::from_utf8_lossy(&sid).into_owned(),
                message: SseMessage::new(&msg, false),
            }
            .to_text(),
        }
    }
}

/// The sink all of one socket's subscriptions share: full means slow consumer, closed 1008.
type WsSink = QueueSink<Outgoing>;

fn wrap_delivery(sub: &Subscription, msg: &Message) -> Outgoing {
    Outgoing::Message {
        sid: sub.sid.clone(),
        msg: detach(msg),
    }
}

/// One socket's state. Dropping it unsubscribes everything and aborts pending requests.
struct Conn {
    shared: Arc<Shared>,
    /// Who the socket is; a reload may change what it may do.
    session: Arc<Session>,
    /// Whose `[api] rate_limit` budget publish and request frames use.
    rate_key: RateKey,
    client_id: u64,
    sink: Arc<WsSink>,
    subs: HashMap<String, SubscriptionGuard>,
    next_sid: u64,
    requests: JoinSet<()>,
}

async fn run(shared: Arc<Shared>, session: Arc<Session>, rate_key: RateKey, socket: WebSocket) {
    let (ws_tx, mut ws_rx) = socket.split();
    let (tx, rx) = mpsc::channel(QUEUE_LEN);
    let sink = Arc::new(WsSink::new(tx, Some(session.clone()), wrap_delivery));
    let close = sink.close.clone();
    let heard = Arc::new(AtomicBool::new(true));
    let violation = Arc::new(OnceLock::new());
    let writer = tokio::spawn(write_loop(
        shared.clone(),
        ws_tx,
        rx,
        sink.clone(),
        heard.clone(),
        session.revoked().clone(),
        violation.clone(),
    ));
    let mut conn = Conn::new(shared, session.clone(), rate_key, sink);
    debug!(client_id = conn.client_id, "JSON WebSocket opened.");
    loop {
        let frame = tokio::select! {
            _ = close.cancelled() => break,
            // The writer says why (1008 Authorization Violation).
            _ = session.revoked().cancelled() => break,
            _ = session.changed() => {
                conn.recheck().await;
                continue;
            }
            Some(_) = conn.requests.join_next(), if !conn.requests.is_empty() => continue,
            frame = ws_rx.next() => frame,
        };
        heard.store(true, Ordering::Relaxed);
        match frame {
            Some(Ok(message)) => {
                if !conn.on_message(message).await {
                    break;
                }
            }
            Some(Err(e)) => {
                if is_too_big(e) {
                    let _ = violation.set((close_code::SIZE, "Message Too Big"));
                }
                break;
            }
            None => break,
        }
    }
    close.cancel();
    debug!(client_id = conn.client_id, "JSON WebSocket closed.");
    drop(conn);
    let _ = writer.await;
}

impl Conn {
    fn new(
        shared: Arc<Shared>,
        session: Arc<Session>,
        rate_key: RateKey,
        sink: Arc<WsSink>,
    ) -> Conn {
        Conn {
            client_id: shared.next_client_id(),
            shared,
            session,
            rate_key,
            sink,
            subs: HashMap::new(),
            next_sid: 1,
            requests: JoinSet::new(),
        }
    }

    /// Handles one WebSocket message from the client; false when it closes the socket.
    async fn on_message(&mut self, message: WsMessage) -> bool {
        match message {
            WsMessage::Text(text) => self.handle(text.as_str()).await,
            WsMessage::Binary(_) => {
                let error = "binary frames are not accepted: send JSON in text frames";
                self.send(error_frame(None, 400, error)).await;
            }
            // Pings are answered by the WebSocket layer itself; pongs only prove liveness.
            WsMessage::Ping(_) | WsMessage::Pong(_) => {}
            WsMessage::Close(_) => return false,
        }
        true
    }

    /// Queues an answer; waits for room (the client's own backlog), not past the socket's end.
    async fn send(&self, frame: ServerFrame) {
        let text = Outgoing::Frame(frame.to_text());
        tokio::select! {
            _ = self.sink.close.cancelled() => {}
            _ = self.sink.tx.send(text) => {}
        }
    }

    async fn handle(&mut self, text: &str) {
        let (id, op) = match parse(text) {
            Ok(parsed) => parsed,
            Err(bad) => return self.send(error_frame(bad.id, 400, bad.error)).await,
        };
        let answer = match op {
            ClientOp::Subscribe { subject, queue } => self.subscribe(id.clone(), subject, queue),
            ClientOp::Unsubscribe { sid } => match self.subs.remove(&sid) {
                Some(guard) => {
                    guard.unsubscribe();
                    Ok(ServerFrame::Unsubscribed {
                        id: id.clone(),
                        sid,
                    })
                }
                None => Err((404, format!("no subscription with sid \"{sid}\""))),
            },
            ClientOp::Publish(out) => self
                .charge()
                .and_then(|()| publish(&self.shared, &self.session.identity(), &out).map_err(api))
                .map(|delivered| ServerFrame::Published {
                    id: id.clone(),
                    delivered,
                }),
            ClientOp::Request {
                message,
                timeout_ms,
            } => match self
                .charge()
                .and_then(|()| self.start_request(id.clone(), message, timeout_ms))
            {
                Ok(()) => return,
                Err(e) => Err(e),
            },
            ClientOp::Ping => Ok(ServerFrame::Pong { id: id.clone() }),
        };
        let frame = answer.unwrap_or_else(|(code, error)| error_frame(id, code, error));
        self.send(frame).await;
    }

    /// Charges one publish or request to the socket's `[api] rate_limit` budget.
    fn charge(&self) -> Result<(), (u16, String)> {
        self.shared
            .api_limits
            .check(&self.rate_key)
            .map_err(|limited| api(ApiError::rate_limited(limited)))
    }

    fn subscribe(
        &mut self,
        id: Option<Value>,
        subject: String,
        queue: Option<String>,
    ) -> Result<ServerFrame, (u16, String)> {
        check_length(&self.shared, &subject).map_err(api)?;
        if !is_valid_subject(subject.as_bytes()) {
            return Err((
                400,
                format!("\"{subject}\" is not a valid subject or pattern"),
            ));
        }
        if let Some(q) = &queue
            && !is_valid_queue(q.as_bytes())
        {
            return Err((400, format!("\"{q}\" is not a valid queue group")));
        }
        check_subscribe(&self.session.identity(), &subject).map_err(api)?;
        let sid = self.next_sid.to_string();
        self.next_sid += 1;
        let sub = Subscription::new(
            self.client_id,
            Bytes::from(sid.clone()),
            Bytes::from(subject),
            queue.map(Bytes::from),
            self.sink.clone(),
        );
        let guard =
            SubscriptionGuard::subscribe(&self.shared, sub).map_err(|e| (400, e.to_string()))?;
        self.subs.insert(sid.clone(), guard);
        Ok(ServerFrame::Subscribed { id, sid })
    }

    /// After a reload changed the socket's permissions: removes each subscription they no
    /// longer allow and tells the client, as nats-server tells a NATS client.
    async fn recheck(&mut self) {
        let identity = Arc::clone(&*self.session.identity());
        let denied: Vec<(String, String)> = self
            .subs
            .iter()
            .map(|(sid, g)| {
                (
                    sid.clone(),
                    String::from_utf8_lossy(&g.subject()).into_owned(),
                )
            })
            .filter(|(_, subject)| check_subscribe(&identity, subject).is_err())
            .collect();
        for (sid, subject) in denied {
            if let Some(guard) = self.subs.remove(&sid) {
                guard.unsubscribe();
            }
            let text =
                format!("Permissions Violation for Subscription to {subject:?} (sid {sid:?})");
            self.send(error_frame(None, 403, text)).await;
            self.send(ServerFrame::Unsubscribed { id: None, sid }).await;
        }
    }

    /// Checks and routes a request now; the wait for its reply runs as a task of this socket.
    fn start_request(
        &mut self,
        id: Option<Value>,
        out: Outbound,
        timeout_ms: Option<u64>,
    ) -> Result<(), (u16, String)> {
        if self.requests.len() >= MAX_REQUESTS {
            return Err((429, format!("more than {MAX_REQUESTS} requests in flight")));
        }
        let wait = timeout(timeout_ms).map_err(api)?;
        let inbox = new_inbox();
        let identity = Arc::clone(&*self.session.identity());
        check_subscribe(&identity, &inbox).map_err(api)?;
        let msg = build(
            &self.shared,
            &identity,
            &out,
            Some(Bytes::from(inbox.clone())),
        )
        .map_err(api)?;
        let (sink, rx) = ReplySink::new();
        let sub = Subscription::new(
            self.client_id,
            Bytes::from_static(b"request"),
            Bytes::from(inbox),
            None,
            Arc::new(sink),
        );
        let guard =
            SubscriptionGuard::subscribe(&self.shared, sub).map_err(|e| (400, e.to_string()))?;
        let subject = String::from_utf8_lossy(&msg.subject).into_owned();
        if route(&self.shared, Protocol::Websocket, &identity, msg).map_err(api)? == 0 {
            return Err((503, format!("no subscriber matched \"{subject}\"")));
        }
        let tx = self.sink.tx.clone();
        self.requests.spawn(async move {
            let frame = match tokio::time::timeout(wait, rx).await {
                Ok(Ok(reply)) => ServerFrame::Reply {
                    id,
                    message: SseMessage::new(&reply, false),
                },
                Ok(Err(_)) | Err(_) => {
                    error_frame(id, 504, format!("no reply within {} ms", wait.as_millis()))
                }
            };
            drop(guard);
            let _ = tx.send(Outgoing::Frame(frame.to_text())).await;
        });
        Ok(())
    }
}

/// Checks and routes a publish; returns how many subscriptions received it.
fn publish(shared: &Shared, identity: &Identity, out: &Outbound) -> Result<usize, ApiError> {
    let reply = match &out.reply {
        Some(r) => {
            check_literal(shared, r)?;
            Some(Bytes::copy_from_slice(r.as_bytes()))
        }
        None => None,
    };
    let msg = build(shared, identity, out, reply)?;
    route(shared, Protocol::Websocket, identity, msg)
}

/// The message a publish or request frame describes, after the subject, permission, header,
/// payload and size checks.
fn build(
    shared: &Shared,
    identity: &Identity,
    out: &Outbound,
    reply: Option<Bytes>,
) -> Result<Message, ApiError> {
    check_literal(shared, &out.subject)?;
    check_publish(identity, &out.subject)?;
    let bad = |e: String| ApiError::new(ProblemKind::BadRequest, e);
    let headers = out.header_block().map_err(bad)?;
    let payload = out.payload_bytes().map_err(bad)?;
    let max = shared.config().nats.max_payload;
    if headers.as_ref().map_or(0, Bytes::len) + payload.len() > max {
        return Err(ApiError::new(
            ProblemKind::TooLarge,
            format!("headers plus payload exceed max_payload ({max} bytes)"),
        ));
    }
    Ok(Message {
        subject: Bytes::copy_from_slice(out.subject.as_bytes()),
        reply,
        headers,
        payload,
    })
}

/// Whether a read failed on a frame or message over the configured size.
fn is_too_big(e: axum::Error) -> bool {
    let inner = e.into_inner();
    matches!(
        inner.downcast_ref::<tungstenite::Error>(),
        Some(tungstenite::Error::Capacity(_))
    )
}

/// An API error as the (code, text) of an error frame.
fn api(e: ApiError) -> (u16, String) {
    let problem = e.problem();
    (problem.status, problem.detail)
}

fn error_frame(id: Option<Value>, code: u16, error: impl Into<String>) -> ServerFrame {
    ServerFrame::Error {
        id,
        code,
        error: error.into(),
    }
}

/// Drains the socket's queue into the socket, pings, and sends the close frame that says why
/// the socket ends (slow consumer, stale, server shutdown, or the protocol `violation` the
/// reader found).
async fn write_loop(
    shared: Arc<Shared>,
    mut ws_tx: SplitSink<WebSocket, WsMessage>,
    mut rx: mpsc::Receiver<Outgoing>,
    sink: Arc<WsSink>,
    heard: Arc<AtomicBool>,
    revoked: tokio_util::sync::CancellationToken,
    violation: Arc<OnceLock<(u16, &'static str)>>,
) {
    let deadline = shared.config().nats.write_deadline;
    let shutdown = shared.shutdown_token().clone();
    let mut ticker = tokio::time::interval(PING_INTERVAL);
    ticker.tick().await;
    let mut liveness = Liveness::default();
    let slow = (close_code::POLICY, "Slow Consumer");
    let why = loop {
        let out = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break Some((close_code::AWAY, "Server Shutdown")),
            _ = revoked.cancelled() => break Some((close_code::POLICY, "Authorization Violation")),
            _ = sink.close.cancelled() => {
                break sink.slow.load(Ordering::Acquire).then_some(slow).or(violation.get().copied());
            }
            _ = ticker.tick() => {
                if liveness.tick(heard.swap(false, Ordering::Relaxed)) {
                    break Some((close_code::POLICY, "Stale Connection"));
                }
                WsMessage::Ping(Bytes::new())
            }
            out = rx.recv() => match out {
                None => break None,
                Some(out) => WsMessage::Text(out.into_text().into()),
            },
        };
        match tokio::time::timeout(deadline, ws_tx.send(out)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => break None,
            // The browser stopped reading: a slow consumer.
            Err(_) => {
                sink.slow.store(true, Ordering::Release);
                break Some(slow);
            }
        }
    };
    sink.close.cancel();
    if let Some((code, reason)) = why {
        if sink.slow.load(Ordering::Acquire) {
            shared.stats.slow_consumers.fetch_add(1, Ordering::Relaxed);
            warn!("Slow consumer on a JSON WebSocket; closing it.");
        }
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = tokio::time::timeout(deadline, ws_tx.send(WsMessage::Close(Some(frame)))).await;
    }
}

/// Fuzzing seam, not an API (used by the `websocket_messages` fuzz target): runs `messages`
/// through one socket's handling as [`run`] does, without a socket, and returns the text
/// frames the socket would send, in order. Stops where a socket would close (a close
/// message, a slow consumer); requests still waiting for a reply are aborted at the end.
#[doc(hidden)]
pub async fn replay(
    shared: Arc<Shared>,
    identity: Identity,
    messages: Vec<WsMessage>,
) -> Vec<String> {
    let (tx, mut rx) = mpsc::channel(QUEUE_LEN);
    let auth = Arc::clone(&*shared.auth());
    let rate_key = RateKey::of(auth.required(), Some(&identity), Ipv4Addr::LOCALHOST.into());
    let session = (shared.sessions).open(&shared, SavedCredentials::default(), identity, &auth);
    let sink = Arc::new(WsSink::new(tx, Some(session.clone()), wrap_delivery));
    let mut conn = Conn::new(shared, session, rate_key, sink.clone());
    let mut sent = Vec::new();
    for message in messages {
        if sink.close.is_cancelled() || !conn.on_message(message).await {
            break;
        }
        // Drained after each message, as the writer task would, so answers never wait.
        while let Ok(out) = rx.try_recv() {
            sent.push(out.into_text());
        }
    }
    drop(conn);
    while let Ok(out) = rx.try_recv() {
        sent.push(out.into_text());
    }
    sent
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_silent_intervals_make_a_socket_stale() {
        let mut l = Liveness::default();
        assert!(!l.tick(false), "one silent interval is tolerated");
        assert!(!l.tick(true), "any frame resets the count");
        assert!(!l.tick(false));
        assert!(l.tick(false));
    }
}
