//! One NATS client connection: the read loop that decodes ops and applies them, the ping
//! timer, the auth deadline, and the writer task that drains the outbound queue.
//!
//! Parsing lives in `crate::protocol`; this file only applies decoded ops to the connection
//! state and the router.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tracing::{debug, trace};

use super::client::{ClientState, CloseReason, ConnectOptions};
use super::outbound::{WriteError, write_batch};
use crate::auth::{Authenticator, SavedCredentials, SavedNkey};
use crate::core::message::Message;
use crate::core::router::{Publisher, Subscription};
use crate::core::stall::STALL_BUDGET;
use crate::core::subject::{is_valid_literal_subject, is_valid_queue, is_valid_subject};
use crate::plugin::{self, Protocol};
use crate::protocol::{ClientOp, Decoder, encoder};
use crate::server::Shared;

/// First read size: an idle connection costs little memory (nats-server starts at 512 B).
const MIN_READ: usize = 1024;
/// Reads double up to this while they keep filling the buffer (busy publishers).
const MAX_READ: usize = 64 * 1024;

/// What the read loop does after an op.
enum Flow {
    Continue,
    Close,
}

/// Runs a connection until it closes. `info` is the INFO line already rendered for it.
pub async fn run<R, W>(shared: Arc<Shared>, client: Arc<ClientState>, reader: R, writer: W)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let writer_task = tokio::spawn(write_loop(client.clone(), writer, shared.clone()));
    let mut conn = Connection::new(shared.clone(), client.clone());
    conn.read_loop(reader).await;
    conn.cleanup();
    let _ = writer_task.await;
    debug!(cid = client.id, reason = ?client.close_reason(), "Client connection closed.");
}

struct Connection {
    shared: Arc<Shared>,
    client: Arc<ClientState>,
    publisher: Publisher,
    opts: ConnectOptions,
    connected: bool,
    pings_out: u32,
    last_in: Instant,
    in_msgs: u64,
    in_bytes: u64,
    /// Publishes of the current read waiting for the plugin chain (only while plugins run).
    batch: Vec<Message>,
}

/// The plugin context of a message from `client`.
fn plugin_context(client: &ClientState) -> impl FnOnce() -> plugin::Context + '_ {
    let protocol = if client.websocket {
        Protocol::Websocket
    } else {
        Protocol::Nats
    };
    move || plugin::context(protocol, Some(client.id), client.user())
}

impl Connection {
    fn new(shared: Arc<Shared>, client: Arc<ClientState>) -> Self {
        let publisher = Publisher::new(client.id, true);
        Connection {
            shared,
            client,
            publisher,
            opts: ConnectOptions::default(),
            connected: false,
            pings_out: 0,
            last_in: Instant::now(),
            in_msgs: 0,
            in_bytes: 0,
            batch: Vec::new(),
        }
    }

    async fn read_loop<R: AsyncRead + Unpin>(&mut self, mut reader: R) {
        let (mut decoder, mut ping_interval, auth_timeout) = {
            let cfg = &self.shared.config().nats;
            let decoder = Decoder::new(cfg.max_control_line, cfg.max_payload);
            (decoder, cfg.ping_interval, cfg.auth_timeout)
        };
        let mut buf = BytesMut::with_capacity(MIN_READ);
        let mut read_size = MIN_READ;
        let mut ping = ping_timer(ping_interval);
        let auth_required = self.shared.auth().required();
        let auth_deadline = tokio::time::sleep(auth_timeout);
        tokio::pin!(auth_deadline);
        let closing = self.client.closing.clone();
        let mut reloads = self.shared.reloads();
        loop {
            // Big payloads reserve what they need; otherwise read `read_size` at a time.
            let want = decoder.bytes_needed().unwrap_or(0).max(read_size);
            if buf.capacity() - buf.len() < want {
                buf.reserve(want);
            }
            let mut limited = (&mut buf).limit(want);
            tokio::select! {
                biased;
                _ = closing.cancelled() => return,
                // Before the read: ops that arrive after a reload get its limits.
                Ok(()) = reloads.changed() => {
                    // Limits a reload changed apply to open connections too, as in
                    // nats-server.
                    let cfg = &self.shared.config().nats;
                    decoder.set_max_payload(cfg.max_payload);
                    decoder.set_max_control_line(cfg.max_control_line);
                    if cfg.ping_interval != ping_interval {
                        ping_interval = cfg.ping_interval;
                        ping = ping_timer(ping_interval);
                    }
                }
                // At most `want` per read, whatever capacity the buffer grew to: a read's
                // deliveries are queued before any stall can hold the publisher back, so
                // the read size bounds how far past its mark a subscriber's backlog goes.
                read = reader.read_buf(&mut limited) => match read {
                    Ok(0) => {
                        self.client.close(CloseReason::ClientClosed, false);
                        return;
                    }
                    Ok(n) => {
                        if n >= read_size && read_size < MAX_READ {
                            read_size *= 2;
                        }
                        self.last_in = Instant::now();
                        self.client.meta.lock().last_activity = Some(std::time::SystemTime::now());
                        if let Flow::Close = self.process(&mut decoder, &mut buf).await {
                            return;
                        }
                        if self.publisher.has_stalled() {
                            self.wait_for_stalled_subscribers().await;
                        }
                        if let Some(upstream) = self.shared.upstream.get() {
                            upstream.wait_for_room().await;
                        }
                    }
                    Err(_) => {
                        self.client.close(CloseReason::ReadError, false);
                        return;
                    }
                },
                _ = ping.tick() => {
                    if let Flow::Close = self.ping_timer(ping_interval) {
                        return;
                    }
                }
                _ = &mut auth_deadline, if auth_required && !self.connected => {
                    self.client.send_err("Authentication Timeout");
                    self.client.close(CloseReason::AuthenticationTimeout, true);
                    return;
                }
            }
        }
    }

    /// Gives subscribers whose backlog passed the stall mark during this read a chance to
    /// catch up before reading more (nats-server's fast-producer stall): at most
    /// [`STALL_BUDGET`] per read in all, then reading goes on and a subscriber still behind
    /// meets `max_pending`.
    async fn wait_for_stalled_subscribers(&mut self) {
        let stalled = self.publisher.take_stalled();
        if self.shared.config().nats.no_fast_producer_stall {
            return;
        }
        let started = Instant::now();
        for sink in &stalled {
            let Some(gate) = sink.stall_gate() else {
                continue;
            };
            let left = STALL_BUDGET.saturating_sub(started.elapsed());
            if left.is_zero() || !gate.is_closed() {
                continue;
            }
            self.shared.stats.stalls.fetch_add(1, Ordering::Relaxed);
            if !gate.wait(left).await {
                debug!(cid = self.client.id, "Timed out of fast producer stall.");
            }
        }
    }

    /// Decodes and applies every complete op in `buf`, then wakes the writers it fed.
    async fn process(&mut self, decoder: &mut Decoder, buf: &mut BytesMut) -> Flow {
        let mut flow = Flow::Continue;
        loop {
            match decoder.decode(buf) {
                // The hot path, taken apart where it is decoded: moving the whole op on to
                // `apply` showed up as copies in profiles.
                Ok(Some(ClientOp::Pub {
                    subject,
                    reply,
                    payload,
                })) if self.connected => {
                    if let Flow::Close = self.publish(subject, reply, None, payload) {
                        flow = Flow::Close;
                        break;
                    }
                }
                Ok(Some(op)) => {
                    if !matches!(op, ClientOp::Pub { .. } | ClientOp::HPub { .. }) {
                        self.route_batch();
                    }
                    // Only CONNECT may wait (bcrypt runs off the I/O threads); every other
                    // op is applied without building a future, which for publishes showed
                    // up as a tenth of the read loop's time in copies of that future.
                    let applied = match op {
                        ClientOp::Connect(json) => self.connect(&json).await,
                        op => self.apply(op),
                    };
                    if let Flow::Close = applied {
                        flow = Flow::Close;
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    debug!(cid = self.client.id, error = %e, "Protocol error.");
                    // Like nats-server, malformed arguments close the connection silently
                    // (clients then reconnect); the reason is in the debug log.
                    if e.sends_err() {
                        self.client.send_err(e.client_text());
                    }
                    if e.is_fatal() {
                        let reason = match e {
                            crate::protocol::ProtocolError::MaxPayload { .. } => {
                                CloseReason::MaxPayloadExceeded
                            }
                            crate::protocol::ProtocolError::MaxControlLine => {
                                CloseReason::MaxControlLineExceeded
                            }
                            _ => CloseReason::ProtocolViolation,
                        };
                        self.client.close(reason, true);
                        flow = Flow::Close;
                        break;
                    }
                }
            }
        }
        self.route_batch();
        self.publisher.flush();
        if self.in_msgs > 0 {
            self.shared.stats.record_in(self.in_msgs, self.in_bytes);
            self.client
                .msgs_in
                .fetch_add(self.in_msgs, Ordering::Relaxed);
            self.client
                .bytes_in
                .fetch_add(self.in_bytes, Ordering::Relaxed);
            self.in_msgs = 0;
            self.in_bytes = 0;
        }
        flow
    }

    /// Applies any op but CONNECT (see [`Connection::connect`]).
    fn apply(&mut self, op: ClientOp) -> Flow {
        if !self.connected && self.shared.auth().required() {
            return self.auth_violation();
        }
        match op {
            ClientOp::Connect(_) => unreachable!("CONNECT is applied by Connection::connect"),
            ClientOp::Pub {
                subject,
                reply,
                payload,
            } => self.publish(subject, reply, None, payload),
            ClientOp::HPub { .. } if !self.opts.headers => {
                // nats-server closes without an -ERR when headers were not negotiated.
                debug!(cid = self.client.id, "HPUB without headers in CONNECT.");
                self.client.close(CloseReason::ProtocolViolation, true);
                Flow::Close
            }
            ClientOp::HPub {
                subject,
                reply,
                headers,
                payload,
            } => self.publish(subject, reply, Some(headers), payload),
            ClientOp::Sub {
                subject,
                queue,
                sid,
            } => self.subscribe(subject, queue, sid),
            ClientOp::Unsub { sid, max } => self.unsubscribe(&sid, max),
            ClientOp::Ping => {
                self.client.send_proto(encoder::PONG);
                Flow::Continue
            }
            ClientOp::Pong => {
                self.pings_out = 0;
                Flow::Continue
            }
            ClientOp::Ok => Flow::Continue,
            ClientOp::Err(text) => {
                // nats-server treats an -ERR from a client as fatal.
                debug!(cid = self.client.id, text = %String::from_utf8_lossy(&text), "Client sent -ERR.");
                self.client.close(CloseReason::ProtocolViolation, true);
                Flow::Close
            }
        }
    }

    fn ok(&self) {
        if self.opts.verbose {
            self.client.send_proto(encoder::OK);
        }
    }

    fn auth_violation(&self) -> Flow {
        self.client.send_err("Authorization Violation");
        self.client
            .close(CloseReason::AuthenticationViolation, true);
        Flow::Close
    }

    async fn connect(&mut self, json: &[u8]) -> Flow {
        let opts: ConnectOptions = match ConnectOptions::parse(json) {
            Ok(o) => o,
            Err(e) => {
                debug!(cid = self.client.id, error = %e, "Malformed CONNECT.");
                self.client.send_err("Invalid CONNECT: malformed JSON");
                self.client.close(CloseReason::ProtocolViolation, true);
                return Flow::Close;
            }
        };
        if !(0..=1).contains(&opts.protocol) {
            self.client.send_err("Unsupported client protocol");
            self.client.close(CloseReason::ProtocolViolation, true);
            return Flow::Close;
        }
        if opts.no_responders && !opts.headers {
            self.client
                .send_err("no responders requires headers support");
            self.client.close(CloseReason::ProtocolViolation, true);
            return Flow::Close;
        }
        if !self.connected {
            let credentials = SavedCredentials {
                user: opts.user.clone(),
                pass: opts.pass.clone(),
                token: opts.auth_token.clone(),
                certificate: self.client.certificate_names.get().cloned(),
                nkey: opts.nkey.clone().map(|public_key| SavedNkey {
                    public_key,
                    signature: opts.sig.clone().unwrap_or_default(),
                    nonce: self.client.nonce.clone().unwrap_or_default(),
                }),
            };
            let auth = Arc::clone(&*self.shared.auth());
            let identity = match authenticate(&auth, &credentials).await {
                Some(id) => id,
                None => {
                    debug!(cid = self.client.id, user = %presented_as(&opts), "Authentication failed.");
                    return self.auth_violation();
                }
            };
            if let Some(user) = &identity.user {
                debug!(cid = self.client.id, %user, "Client authenticated.");
            }
            self.client.set_identity(identity, credentials);
            self.connected = true;
            // A reload that replaced the authenticator meanwhile may have missed this
            // client: check it against the new one (see `reload::recheck_client`).
            std::sync::atomic::fence(Ordering::SeqCst);
            let now = Arc::clone(&*self.shared.auth());
            if !Arc::ptr_eq(&auth, &now) {
                crate::reload::recheck_client(&self.shared, &self.client, &auth, &now);
                if self.client.close_reason().is_some() {
                    return Flow::Close;
                }
            }
        }
        self.client.set_headers(opts.headers);
        self.publisher.set_echo(opts.echo);
        {
            let mut meta = self.client.meta.lock();
            meta.name = opts.name.clone();
            meta.lang = opts.lang.clone();
            meta.version = opts.version.clone();
        }
        self.opts = opts;
        self.ok();
        Flow::Continue
    }

    fn publish(
        &mut self,
        subject: Bytes,
        reply: Option<Bytes>,
        headers: Option<Bytes>,
        payload: Bytes,
    ) -> Flow {
        if self.opts.pedantic && !is_valid_literal_subject(&subject) {
            self.client.send_err("Invalid Publish Subject");
            return Flow::Continue;
        }
        if self.client.is_restricted() {
            let perms = self.client.permissions();
            if let Some(perms) = &*perms
                && !perms.publish_unrestricted()
                && !self.client.may_publish(perms, &subject)
            {
                let text = format!("Permissions Violation for Publish to {}", quote(&subject));
                self.client.send_err(&text);
                return Flow::Continue;
            }
        }
        let msg = Message {
            subject,
            reply,
            headers,
            payload,
        };
        self.in_msgs += 1;
        self.in_bytes += msg.size() as u64;
        if !self.batch.is_empty() || self.shared.plugins.is_active() {
            // Plugins run once per batch of publishes (see `route_batch`).
            self.batch.push(msg);
            if self.batch.len() >= plugin::chain::MAX_BATCH {
                self.route_batch();
            }
            self.ok();
            return Flow::Continue;
        }
        // Only requests need the subject and reply afterwards (no-responders, rejections).
        let request = msg.reply.clone().map(|r| (msg.subject.clone(), r));
        let ctx = plugin_context(&self.client);
        let routed = plugin::route(&self.shared, &mut self.publisher, ctx, msg);
        if let Some((subject, reply)) = request {
            self.answer_request(&subject, reply, &routed);
        }
        self.ok();
        Flow::Continue
    }

    /// Runs the plugin chain on the publishes collected from this read (one `on-batch` call
    /// per plugin) and routes them in order. Called before any op that is not a publish and
    /// at the end of each read, so everything a client sent before a PING or SUB has been
    /// routed when that op is applied.
    fn route_batch(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let msgs = std::mem::take(&mut self.batch);
        let requests: Vec<_> = msgs
            .iter()
            .map(|m| m.reply.clone().map(|r| (m.subject.clone(), r)))
            .collect();
        let ctx = plugin_context(&self.client);
        let routed = plugin::route_batch(&self.shared, &mut self.publisher, ctx, msgs);
        for (routed, request) in routed.iter().zip(requests) {
            if let Some((subject, reply)) = request {
                self.answer_request(&subject, reply, routed);
            }
        }
    }

    /// What a requester hears from the server itself: a plugin's rejection, or no responders.
    fn answer_request(&mut self, subject: &Bytes, reply: Bytes, routed: &plugin::Routed) {
        if let Some(rejection) = &routed.rejected {
            let answer = plugin::rejection_reply(&self.shared, subject, reply, rejection);
            self.shared.router.publish(&mut self.publisher, &answer);
        } else if routed.delivered == 0 && self.opts.no_responders {
            self.no_responders(subject, &reply);
        }
    }

    /// Tells a requester nobody is listening, with the 503 status message nats-server sends.
    fn no_responders(&mut self, subject: &[u8], reply: &[u8]) {
        let sid = {
            let subs = self.client.subs.lock();
            subs.values()
                .find(|s| {
                    s.queue.is_none()
                        && !s.is_closed()
                        && crate::core::subject::subject_matches(&s.subject, reply)
                })
                .map(|s| s.sid.clone())
        };
        let Some(sid) = sid else { return };
        let mut hdr = Vec::with_capacity(32 + subject.len());
        hdr.extend_from_slice(b"NATS/1.0 503\r\nNats-Subject: ");
        hdr.extend_from_slice(subject);
        hdr.extend_from_slice(b"\r\n\r\n");
        let mut line = BytesMut::with_capacity(hdr.len() * 2 + 64);
        encoder::write_hmsg_header(&mut line, reply, &sid, None, hdr.len(), hdr.len());
        line.extend_from_slice(&hdr);
        line.extend_from_slice(b"\r\n");
        self.client.send_proto(&line);
    }

    fn subscribe(&mut self, subject: Bytes, queue: Option<Bytes>, sid: Bytes) -> Flow {
        if !is_valid_subject(&subject) || queue.as_deref().is_some_and(|q| !is_valid_queue(q)) {
            self.client.send_err("Invalid Subject");
            return Flow::Continue;
        }
        let max_subs = self.shared.config().nats.max_subscriptions;
        {
            let mut subs = self.client.subs.lock();
            // Checked under the lock a reload holds while it replaces permissions (see
            // `ClientState::replace_permissions`). Like nats-server, no client may join the
            // internal `_sys_` queue group.
            let denied = match &*self.client.permissions() {
                Some(perms) => !perms.subscribe.allows_pattern(&subject),
                None => false,
            };
            if denied || queue.as_deref() == Some(b"_sys_") {
                drop(subs);
                let text = match &queue {
                    Some(q) => format!(
                        "Permissions Violation for Subscription to {} using queue {}",
                        quote(&subject),
                        quote(q)
                    ),
                    None => format!(
                        "Permissions Violation for Subscription to {}",
                        quote(&subject)
                    ),
                };
                self.client.send_err(&text);
                return Flow::Continue;
            }
            if subs.get(&sid).is_some_and(|s| !s.is_closed()) {
                // nats-server keeps the existing subscription for a repeated sid.
                drop(subs);
                self.ok();
                return Flow::Continue;
            }
            if max_subs > 0 && subs.values().filter(|s| !s.is_closed()).count() >= max_subs {
                drop(subs);
                self.client.send_err("maximum subscriptions exceeded");
                return Flow::Continue;
            }
            let sub = Arc::new(Subscription::new(
                self.client.id,
                sid.clone(),
                subject,
                queue,
                self.client.clone(),
            ));
            if self.shared.router.subscribe(sub.clone()).is_err() {
                drop(subs);
                self.client.send_err("Invalid Subject");
                return Flow::Continue;
            }
            subs.insert(sid, sub);
        }
        self.ok();
        Flow::Continue
    }

    fn unsubscribe(&mut self, sid: &Bytes, max: Option<u64>) -> Flow {
        let mut subs = self.client.subs.lock();
        match max {
            Some(max) if max > 0 => {
                if let Some(sub) = subs.get(sid) {
                    self.shared.router.set_max(sub, max);
                    if sub.is_closed() {
                        subs.remove(sid);
                    }
                }
            }
            _ => {
                if let Some(sub) = subs.remove(sid) {
                    self.shared.router.unsubscribe(&sub);
                }
            }
        }
        drop(subs);
        self.ok();
        Flow::Continue
    }

    /// nats-server's ping timer: skip the PING when the client spoke recently, close the
    /// connection when too many PINGs went unanswered.
    fn ping_timer(&mut self, interval: Duration) -> Flow {
        if self.last_in.elapsed() < interval && self.pings_out == 0 {
            return Flow::Continue;
        }
        if self.pings_out + 1 > self.shared.config().nats.max_pings_out {
            debug!(cid = self.client.id, "Stale client connection, closing.");
            self.client.send_err("Stale Connection");
            self.client.close(CloseReason::StaleConnection, true);
            return Flow::Close;
        }
        self.pings_out += 1;
        self.client.send_proto(encoder::PING);
        Flow::Continue
    }

    /// Removes the connection's subscriptions and forgets it.
    fn cleanup(&mut self) {
        let subs: Vec<_> = self.client.subs.lock().drain().map(|(_, s)| s).collect();
        for sub in &subs {
            self.shared.router.unsubscribe(sub);
        }
        if matches!(
            self.client.close_reason(),
            Some(CloseReason::SlowConsumerPendingBytes | CloseReason::SlowConsumerWriteDeadline)
        ) {
            self.shared
                .stats
                .slow_consumers
                .fetch_add(1, Ordering::Relaxed);
        }
        let stats = &self.shared.stats;
        stats.closed_out_msgs.fetch_add(
            self.client.msgs_out.load(Ordering::Relaxed),
            Ordering::Relaxed,
        );
        stats.closed_out_bytes.fetch_add(
            self.client.bytes_out.load(Ordering::Relaxed),
            Ordering::Relaxed,
        );
        self.shared.clients.remove(&self.client);
    }
}

/// Who a refused CONNECT claimed to be, for the log, as nats-server names it: the nkey,
/// else the user; a token is never shown.
fn presented_as(opts: &ConnectOptions) -> String {
    match (&opts.nkey, &opts.user, &opts.auth_token) {
        (Some(nkey), _, _) => format!("nkey {nkey:?}"),
        (None, Some(user), _) => format!("user {user:?}"),
        (None, None, Some(_)) => "token [REDACTED]".to_string(),
        (None, None, None) => "N/A".to_string(),
    }
}

/// Checks `credentials`; bcrypt runs off the I/O threads.
async fn authenticate(
    auth: &Arc<Authenticator>,
    credentials: &SavedCredentials,
) -> Option<crate::auth::Identity> {
    if !auth.is_expensive() {
        return auth.authenticate(credentials.as_credentials());
    }
    // bcrypt takes tens of milliseconds: keep it off the I/O threads.
    let (auth, credentials) = (auth.clone(), credentials.clone());
    tokio::task::spawn_blocking(move || auth.authenticate(credentials.as_credentials()))
        .await
        .ok()
        .flatten()
}

/// The ping timer: first tick one interval from now.
fn ping_timer(interval: Duration) -> tokio::time::Interval {
    tokio::time::interval_at(tokio::time::Instant::now() + interval, interval)
}

/// `"subject"` as Go's %q prints it for the plain ASCII subjects NATS allows.
pub(crate) fn quote(b: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(b))
}

/// Drains the outbound queue to the socket until the connection closes.
async fn write_loop<W: AsyncWrite + Unpin>(
    client: Arc<ClientState>,
    mut w: W,
    shared: Arc<Shared>,
) {
    let mut chunks = Vec::new();
    // Starts empty: the first swap takes over the outbound buffer's allocation.
    let mut buf = BytesMut::new();
    let closing = client.closing.clone();
    loop {
        let closed = tokio::select! {
            biased;
            _ = client.wake.notified() => false,
            _ = closing.cancelled() => true,
        };
        if closed && !client.flush_on_close() {
            break;
        }
        // Drain until nothing is left; each round takes what publishers added meanwhile.
        loop {
            client.out.lock().take_into(&mut chunks, &mut buf);
            if chunks.is_empty() && buf.is_empty() {
                break;
            }
            // Read per batch: a reload may change it.
            let deadline = shared.config().nats.write_deadline;
            let written = |n: usize| {
                let mut out = client.out.lock();
                out.pending = out.pending.saturating_sub(n);
                client.release_stall(&out);
            };
            match write_batch(&mut w, &mut chunks, &mut buf, deadline, written).await {
                Ok(()) => {}
                Err(WriteError::Deadline) => {
                    trace!(cid = client.id, "Write deadline exceeded.");
                    client.close(CloseReason::SlowConsumerWriteDeadline, false);
                    return;
                }
                Err(WriteError::Io) => {
                    client.close(CloseReason::ReadError, false);
                    return;
                }
            }
        }
        if closed {
            break;
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), w.shutdown()).await;
}
