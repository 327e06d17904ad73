//! The state of one client connection that other tasks touch: its outbound queue (it is the
//! [`Sink`] publishers write into), its subscriptions, counters and what monitoring shows.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime};

use arc_swap::{ArcSwapOption, Guard};
use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use rustc_hash::FxHashMap;
use serde::Deserialize;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::outbound::Outbound;
use crate::auth::{Identity, Permissions, SavedCredentials};
use crate::core::message::Message;
use crate::core::router::{Enqueued, Sink, Subscription};
use crate::core::stall::{StallGate, stall_mark};
use crate::protocol::encoder;

/// The CONNECT options nats-server understands from clients. Unknown fields are ignored, as
/// nats-server does, because clients add fields over time.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ConnectOptions {
    /// Acknowledge every op with +OK.
    pub verbose: bool,
    /// Validate publish subjects.
    pub pedantic: bool,
    /// Deliver the client's own publishes to its own subscriptions.
    pub echo: bool,
    /// The client understands HMSG.
    pub headers: bool,
    /// The client wants a 503 status when a request has no responders.
    pub no_responders: bool,
    /// Client-chosen connection name.
    pub name: String,
    /// Client library language.
    pub lang: String,
    /// Client library version.
    pub version: String,
    /// Protocol level (0 or 1).
    pub protocol: i64,
    /// User name.
    pub user: Option<String>,
    /// Password.
    pub pass: Option<String>,
    /// Token.
    pub auth_token: Option<String>,
    /// The user's public nkey.
    pub nkey: Option<String>,
    /// The nkey's signature of the INFO nonce, base64.
    pub sig: Option<String>,
    /// The client requires TLS (not supported yet; recorded for monitoring).
    pub tls_required: bool,
}

impl ConnectOptions {
    /// Parses CONNECT's JSON the way Go's encoding/json does for nats-server: a `null`
    /// field keeps its default (async-nats sends `"name":null`).
    pub fn parse(json: &[u8]) -> Result<Self, serde_json::Error> {
        let mut value: serde_json::Value = serde_json::from_slice(json)?;
        if let Some(map) = value.as_object_mut() {
            map.retain(|_, v| !v.is_null());
        }
        serde_json::from_value(value)
    }
}

impl Default for ConnectOptions {
    /// nats-server's defaults for fields a client leaves out.
    fn default() -> Self {
        ConnectOptions {
            verbose: true,
            pedantic: true,
            echo: true,
            headers: false,
            no_responders: false,
            name: String::new(),
            lang: String::new(),
            version: String::new(),
            protocol: 0,
            user: None,
            pass: None,
            auth_token: None,
            nkey: None,
            sig: None,
            tls_required: false,
        }
    }
}

/// Why a connection ended, as `/connz?state=closed` would say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The client closed the socket.
    ClientClosed,
    /// The server is shutting down.
    ServerShutdown,
    /// The client sent something the parser rejected.
    ProtocolViolation,
    /// Wrong or missing credentials.
    AuthenticationViolation,
    /// No CONNECT within auth_timeout.
    AuthenticationTimeout,
    /// Too many unanswered PINGs.
    StaleConnection,
    /// Outbound data over max_pending.
    SlowConsumerPendingBytes,
    /// A write did not finish within write_deadline.
    SlowConsumerWriteDeadline,
    /// A payload over max_payload.
    MaxPayloadExceeded,
    /// The control line was too long.
    MaxControlLineExceeded,
    /// Over max_connections.
    MaxConnectionsExceeded,
    /// A socket read or write failed.
    ReadError,
}

/// Per-connection metadata shown by `/connz`.
#[derive(Debug, Clone, Default)]
pub struct ClientMeta {
    /// CONNECT `name`.
    pub name: String,
    /// CONNECT `lang`.
    pub lang: String,
    /// CONNECT `version`.
    pub version: String,
    /// The authenticated user.
    pub user: Option<String>,
    /// Last time the client sent anything.
    pub last_activity: Option<SystemTime>,
}

/// Shared state of one client connection.
pub struct ClientState {
    /// Server-unique id (`cid`).
    pub id: u64,
    /// Remote address.
    pub addr: SocketAddr,
    /// Connected over WebSocket rather than plain TCP (monitoring shows `type: websocket`).
    pub websocket: bool,
    /// The nonce its INFO carried, for an nkey user to sign; `None` without nkey users.
    pub nonce: Option<String>,
    /// When it connected.
    pub started: SystemTime,
    /// Outbound queue shared with publishers.
    pub out: Mutex<Outbound>,
    /// Wakes the writer task.
    pub wake: Notify,
    /// Closed while the outbound backlog is above its stall mark; publishers wait on it.
    pub stall: StallGate,
    /// Cancelled when the connection must end; the writer then flushes (or not) and exits.
    pub closing: CancellationToken,
    flush_on_close: AtomicBool,
    close_reason: Mutex<Option<CloseReason>>,
    max_pending: AtomicUsize,
    headers: AtomicBool,
    login: OnceLock<Login>,
    /// Replaced by a reload; read on every publish and (when set) every delivery.
    permissions: ArcSwapOption<Permissions>,
    /// Whether `permissions` is set: deliveries to unrestricted clients skip loading it.
    restricted: AtomicBool,
    replies: Mutex<FxHashMap<Bytes, ReplyGrant>>,
    /// Subscriptions by sid.
    pub subs: Mutex<FxHashMap<Bytes, Arc<Subscription>>>,
    /// Messages received from the client.
    pub msgs_in: AtomicU64,
    /// Payload bytes received from the client.
    pub bytes_in: AtomicU64,
    /// Messages delivered to the client.
    pub msgs_out: AtomicU64,
    /// Payload bytes delivered to the client.
    pub bytes_out: AtomicU64,
    /// Monitoring metadata.
    pub meta: Mutex<ClientMeta>,
    /// Monotonic start, for uptime and RTT.
    pub started_at: Instant,
    /// Over TLS with `verify_and_map`: the names its certificate stands for (see
    /// `frontend::tls::certificate_names`); CONNECT's user and password are not used then.
    pub certificate_names: OnceLock<Vec<String>>,
    slow_consumer: AtomicBool,
}

/// Who the client authenticated as, with the credentials it presented (a reload checks
/// them again).
#[derive(Debug)]
struct Login {
    user: Option<String>,
    credentials: SavedCredentials,
}

/// A granted right to answer one request.
#[derive(Debug, Clone, Copy)]
struct ReplyGrant {
    granted: Instant,
    used: usize,
}

impl ClientState {
    /// A new connection's state.
    pub fn new(
        id: u64,
        addr: SocketAddr,
        max_pending: usize,
        websocket: bool,
        nonce: Option<String>,
    ) -> Self {
        ClientState {
            id,
            addr,
            websocket,
            nonce,
            started: SystemTime::now(),
            out: Mutex::new(Outbound::default()),
            wake: Notify::new(),
            stall: StallGate::default(),
            closing: CancellationToken::new(),
            flush_on_close: AtomicBool::new(true),
            close_reason: Mutex::new(None),
            max_pending: AtomicUsize::new(max_pending),
            headers: AtomicBool::new(false),
            login: OnceLock::new(),
            permissions: ArcSwapOption::empty(),
            restricted: AtomicBool::new(false),
            replies: Mutex::new(FxHashMap::default()),
            subs: Mutex::new(FxHashMap::default()),
            msgs_in: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            msgs_out: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            meta: Mutex::new(ClientMeta::default()),
            certificate_names: OnceLock::new(),
            started_at: Instant::now(),
            slow_consumer: AtomicBool::new(false),
        }
    }

    /// Records what CONNECT negotiated.
    pub fn set_headers(&self, headers: bool) {
        self.headers.store(headers, Ordering::Relaxed);
    }

    /// Records who the client authenticated as and with what (only the first CONNECT
    /// counts).
    pub fn set_identity(&self, identity: Identity, credentials: SavedCredentials) {
        let login = Login {
            user: identity.user.clone(),
            credentials,
        };
        if self.login.set(login).is_ok() {
            self.meta.lock().user = identity.user;
            self.store_permissions(identity.permissions);
        }
    }

    /// The authenticated user name, if users are configured (plugins see it).
    pub fn user(&self) -> Option<&str> {
        self.login.get().and_then(|l| l.user.as_deref())
    }

    /// The credentials the client authenticated with; `None` before its CONNECT.
    pub fn credentials(&self) -> Option<&SavedCredentials> {
        self.login.get().map(|l| &l.credentials)
    }

    /// The client's permissions (`None` inside: unrestricted). Hold the guard briefly.
    pub fn permissions(&self) -> Guard<Option<Arc<Permissions>>> {
        self.permissions.load()
    }

    /// Opens the stall gate once the backlog is back under the mark; called by the writer
    /// with the outbound lock held, as `enqueue` closes it under that lock.
    pub fn release_stall(&self, out: &Outbound) {
        if self.stall.is_closed()
            && out.pending <= stall_mark(self.max_pending.load(Ordering::Relaxed))
        {
            self.stall.open();
        }
    }

    /// Whether the client has permissions at all: the publish path skips loading them for
    /// the (common) unrestricted client.
    pub fn is_restricted(&self) -> bool {
        self.restricted.load(Ordering::Acquire)
    }

    fn store_permissions(&self, permissions: Option<Arc<Permissions>>) {
        // Set before the flag goes up and cleared after it goes down, so a reader that sees
        // the flag finds permissions at least as strict as the flag promised.
        if permissions.is_some() {
            self.permissions.store(permissions);
            self.restricted.store(true, Ordering::Release);
        } else {
            self.restricted.store(false, Ordering::Release);
            self.permissions.store(None);
        }
    }

    /// After a reload: installs the client's new permissions and takes out the
    /// subscriptions they no longer allow, which the caller unsubscribes and reports. Done
    /// under the subscription lock, which SUB holds while it checks permissions, so a SUB
    /// racing the reload is either checked against the new rules or removed here.
    pub fn replace_permissions(
        &self,
        permissions: Option<Arc<Permissions>>,
    ) -> Vec<Arc<Subscription>> {
        let mut subs = self.subs.lock();
        self.store_permissions(permissions.clone());
        let Some(perms) = permissions else {
            return Vec::new();
        };
        let denied: Vec<Bytes> = subs
            .iter()
            .filter(|(_, s)| !perms.subscribe.allows_pattern(&s.subject))
            .map(|(sid, _)| sid.clone())
            .collect();
        denied.iter().filter_map(|sid| subs.remove(sid)).collect()
    }

    /// Applies a reloaded `max_pending` to this connection.
    pub fn set_max_pending(&self, max_pending: usize) {
        self.max_pending.store(max_pending, Ordering::Relaxed);
    }

    /// Whether it was cut off as a slow consumer.
    pub fn is_slow_consumer(&self) -> bool {
        self.slow_consumer.load(Ordering::Relaxed)
    }

    /// Bytes waiting to be written.
    pub fn pending_bytes(&self) -> usize {
        self.out.lock().pending
    }

    /// Why it was closed, once it was.
    pub fn close_reason(&self) -> Option<CloseReason> {
        *self.close_reason.lock()
    }

    /// Queues protocol bytes (INFO, PONG, -ERR ...) and wakes the writer.
    pub fn send_proto(&self, data: &[u8]) {
        let kick = {
            let mut out = self.out.lock();
            if out.closed {
                return;
            }
            out.push_slice(data);
            !std::mem::replace(&mut out.signaled, true)
        };
        if kick {
            self.wake.notify_one();
        }
    }

    /// Queues `-ERR '<text>'`.
    pub fn send_err(&self, text: &str) {
        let mut b = BytesMut::with_capacity(text.len() + 10);
        encoder::write_err(&mut b, text);
        self.send_proto(&b);
    }

    /// Ends the connection. With `flush`, what is queued (such as a final -ERR) is written
    /// first; without it (slow consumers), the socket is dropped at once.
    pub fn close(&self, reason: CloseReason, flush: bool) {
        {
            let mut r = self.close_reason.lock();
            if r.is_some() {
                return;
            }
            *r = Some(reason);
        }
        self.flush_on_close.store(flush, Ordering::Relaxed);
        self.out.lock().closed = true;
        // Nobody needs to wait for a connection that is going away.
        self.stall.open();
        self.closing.cancel();
    }

    /// Whether the writer should flush what is queued when closing.
    pub fn flush_on_close(&self) -> bool {
        self.flush_on_close.load(Ordering::Relaxed)
    }

    /// May this client publish to `subject`, counting granted replies?
    pub fn may_publish(&self, perms: &Permissions, subject: &[u8]) -> bool {
        if perms.publish.allows_literal(subject) {
            return true;
        }
        let Some(rule) = perms.responses else {
            return false;
        };
        let mut replies = self.replies.lock();
        let Some(grant) = replies.get_mut(subject) else {
            return false;
        };
        grant.used += 1;
        let expired = !rule.expires.is_zero() && grant.granted.elapsed() > rule.expires;
        let exhausted = rule.max > 0 && grant.used > rule.max;
        if expired || exhausted {
            replies.remove(subject);
            return false;
        }
        if rule.max > 0 && grant.used == rule.max {
            replies.remove(subject);
        }
        true
    }

    /// Checks and filters a delivery against the client's subscribe deny list, and records
    /// reply rights. Returns false when the message must not be delivered.
    fn admit(&self, sub: &Subscription, msg: &Message) -> bool {
        if !self.is_restricted() {
            return true;
        }
        let perms = self.permissions();
        let Some(perms) = &*perms else {
            return true;
        };
        if perms.denies_delivery(sub, &msg.subject) {
            return false;
        }
        if let (Some(_), Some(reply)) = (perms.responses, &msg.reply)
            && !perms.publish.allows_literal(reply)
        {
            let mut replies = self.replies.lock();
            if replies.len() > 10_000 {
                self.prune_replies(&mut replies, perms);
            }
            replies.insert(
                reply.clone(),
                ReplyGrant {
                    granted: Instant::now(),
                    used: 0,
                },
            );
        }
        true
    }

    fn prune_replies(&self, replies: &mut FxHashMap<Bytes, ReplyGrant>, perms: &Permissions) {
        let Some(rule) = perms.responses else {
            replies.clear();
            return;
        };
        if rule.expires.is_zero() {
            // Without an expiry, keep the newest half.
            let mut ages: Vec<_> = replies.values().map(|g| g.granted).collect();
            ages.sort_unstable();
            let cutoff = ages[ages.len() / 2];
            replies.retain(|_, g| g.granted >= cutoff);
        } else {
            replies.retain(|_, g| g.granted.elapsed() <= rule.expires);
        }
    }

    fn slow_consumer(&self, out: &mut Outbound) {
        out.closed = true;
        self.slow_consumer.store(true, Ordering::Relaxed);
    }
}

impl Sink for ClientState {
    fn enqueue(&self, sub: &Subscription, msg: &Message) -> Enqueued {
        if !self.admit(sub, msg) {
            return Enqueued::Dropped;
        }
        let headers = msg
            .headers
            .as_ref()
            .filter(|_| self.headers.load(Ordering::Relaxed));
        let total = headers.map_or(0, Bytes::len) + msg.payload.len();
        let (kick, stalled);
        {
            let mut out = self.out.lock();
            if out.closed {
                return Enqueued::Dropped;
            }
            // Room for the control line, the body and its CRLF.
            let needed = total + msg.subject.len() + sub.sid.len() + 64;
            let max_pending = self.max_pending.load(Ordering::Relaxed);
            if out.pending > 0 && out.pending + needed > max_pending {
                self.slow_consumer(&mut out);
                drop(out);
                self.close(CloseReason::SlowConsumerPendingBytes, false);
                return Enqueued::Dropped;
            }
            let reply = msg.reply.as_deref();
            let before = out.tail().len();
            match headers {
                Some(h) => {
                    encoder::write_hmsg_header(
                        out.tail(),
                        &msg.subject,
                        &sub.sid,
                        reply,
                        h.len(),
                        total,
                    );
                    let n = out.tail().len() - before;
                    out.account(n);
                    out.push_bytes(h);
                }
                None => {
                    encoder::write_msg_header(out.tail(), &msg.subject, &sub.sid, reply, total);
                    let n = out.tail().len() - before;
                    out.account(n);
                }
            }
            out.push_bytes(&msg.payload);
            out.push_slice(b"\r\n");
            kick = !std::mem::replace(&mut out.signaled, true);
            // Closed under the lock the writer opens it under (see `write_loop`).
            stalled = out.pending > stall_mark(max_pending);
            if stalled {
                self.stall.close();
            }
        }
        self.msgs_out.fetch_add(1, Ordering::Relaxed);
        self.bytes_out.fetch_add(total as u64, Ordering::Relaxed);
        Enqueued::Queued { kick, stalled }
    }

    fn flush(&self) {
        self.wake.notify_one();
    }

    fn stall_gate(&self) -> Option<&StallGate> {
        Some(&self.stall)
    }
}
