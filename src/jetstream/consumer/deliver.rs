//! The consumer task: handles acks and pull requests, runs the timers (redelivery, request
//! expiry, heartbeats, inactivity) and delivers messages, to pull requests in arrival order
//! or to a push consumer's deliver subject while someone subscribes to it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::pull::PullRequest;
use super::state::{AckKind, AckMode};
use super::{Consumer, Event, Inner, filter_matches};
use crate::core::message::Message;
use crate::jetstream::headers;
use crate::jetstream::internal::Outbox;
use crate::jetstream::now_nanos;
use crate::jetstream::store::StoredMessage;

/// How often a push consumer without subscribers looks again for one.
const INTEREST_POLL: i64 = 100_000_000;
/// Push flow control: a request after this many messages.
const FLOW_CONTROL_EVERY: u64 = 2048;
/// Most deliveries per loop pass, so acks and requests are not starved by a large backlog.
const DELIVERIES_PER_PASS: usize = 4096;

impl Consumer {
    /// The task body; ends when the consumer is stopped or removed for inactivity.
    pub(super) async fn run(
        self: Arc<Self>,
        mut rx: mpsc::UnboundedReceiver<(Event, Message)>,
        mut out: Outbox,
    ) {
        let mut next_wake = now_nanos();
        loop {
            let wait = Duration::from_nanos(next_wake.saturating_sub(now_nanos()).max(0) as u64);
            let mut acked = Vec::new();
            tokio::select! {
                _ = self.cancel.cancelled() => break,
                ev = rx.recv() => {
                    let Some((event, msg)) = ev else { break };
                    self.handle(event, msg, &mut out, &mut acked);
                    // Take what else is queued in the same pass.
                    for _ in 0..4096 {
                        match rx.try_recv() {
                            Ok((event, msg)) => self.handle(event, msg, &mut out, &mut acked),
                            Err(_) => break,
                        }
                    }
                }
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
            let (wake, inactive) = self.tick(&mut out);
            next_wake = wake;
            out.flush();
            if !acked.is_empty()
                && let Some(stream) = self.stream.upgrade()
            {
                stream.on_acked(&self.name, &acked);
            }
            if inactive {
                if let Some(stream) = self.stream.upgrade() {
                    stream.remove_consumer_inactive(&self.name);
                }
                break;
            }
        }
    }

    /// One ack, pull request or flow control reply.
    fn handle(&self, event: Event, msg: Message, out: &mut Outbox, acked: &mut Vec<u64>) {
        let now = now_nanos();
        let mut inner = self.inner.lock();
        match event {
            Event::FlowControl => inner.push.since_flow_control = 0,
            Event::Next => {
                let Some(reply) = msg.reply else { return };
                inner.last_active = now;
                self.add_request(&mut inner, reply, &msg.payload, now, out);
            }
            Event::Ack => {
                let Some(kind) = AckKind::parse(&msg.payload) else {
                    return;
                };
                // `+NXT` answers with messages, not with an empty ack reply.
                let confirm = !matches!(kind, AckKind::Next(_));
                let Some(sseq) = ack_stream_seq(&msg.subject, &self.stream_name, &self.name) else {
                    return;
                };
                let mode = inner.settings.ack;
                // An ack for a message this consumer has not delivered yet (a delivery of a
                // previous run whose state was not written before a crash) is ignored and,
                // as nats-server does, not confirmed: the message will be delivered again.
                let ahead = sseq >= inner.tracker.next_sseq
                    && !inner.tracker.pending.contains_key(&sseq)
                    && !inner.tracker.last_per_subject.contains(&sseq);
                if ahead && matches!(kind, AckKind::Ack | AckKind::Term | AckKind::Next(_)) {
                    return;
                }
                match kind {
                    AckKind::Ack | AckKind::Term => acked.extend(inner.tracker.ack(sseq, mode)),
                    AckKind::Nak(delay) => {
                        inner.tracker.nak(sseq, now, delay);
                        if let Some(d) = delay {
                            let at = now.saturating_add(d.as_nanos() as i64);
                            inner.redelivery_check = inner.redelivery_check.min(at);
                        }
                    }
                    AckKind::InProgress => {
                        let deliveries = inner.tracker.deliveries(sseq);
                        let wait = inner.settings.wait_after(deliveries);
                        inner.tracker.in_progress(sseq, now, wait);
                    }
                    AckKind::Next(body) => {
                        acked.extend(inner.tracker.ack(sseq, mode));
                        if let Some(reply) = msg.reply.clone() {
                            self.add_request(&mut inner, reply, &body, now, out);
                        }
                    }
                }
                inner.dirty = true;
                // `AckSync` / double acks wait for an empty reply.
                if let Some(reply) = msg.reply
                    && confirm
                {
                    out.send(reply, None, None, Bytes::new());
                }
            }
        }
    }

    /// Validates a pull request against the consumer's limits and queues it.
    fn add_request(
        &self,
        inner: &mut Inner,
        reply: Bytes,
        body: &[u8],
        now: i64,
        out: &mut Outbox,
    ) {
        let refuse = |out: &mut Outbox, code: u16, text: &str| {
            out.send(
                reply.clone(),
                None,
                Some(headers::status(code, text, &[])),
                Bytes::new(),
            );
        };
        if inner.settings.is_push() {
            return refuse(out, 409, "Consumer is push based");
        }
        let req = match PullRequest::parse(reply.clone(), body, now) {
            Ok(r) => r,
            Err(e) => return refuse(out, 400, &format!("Bad Request - {e}")),
        };
        let s = &inner.settings;
        if s.max_batch > 0 && req.batch > s.max_batch {
            return refuse(
                out,
                409,
                &format!("Exceeded MaxRequestBatch of {}", s.max_batch),
            );
        }
        if !s.max_expires.is_zero()
            && req.expires_at > 0
            && req.expires_at - now > s.max_expires.as_nanos() as i64
        {
            let text = format!("Exceeded MaxRequestExpires of {:?}", s.max_expires);
            return refuse(out, 409, &text);
        }
        if s.max_bytes > 0 && req.max_bytes > s.max_bytes {
            return refuse(
                out,
                409,
                &format!("Exceeded MaxRequestMaxBytes of {}", s.max_bytes),
            );
        }
        if req.no_wait {
            let available = self.num_pending(inner) + inner.tracker.redeliver.len() as u64;
            if available == 0 && req.expires_at == 0 {
                return refuse(out, 404, "No Messages");
            }
        }
        if s.max_waiting > 0 && inner.waiting.len() as i64 >= s.max_waiting {
            return refuse(out, 409, "Exceeded MaxWaiting");
        }
        inner.waiting.queue.push_back(req);
    }

    /// Timers and deliveries; returns when to run again and whether the consumer has been
    /// inactive for its `inactive_threshold`.
    fn tick(&self, out: &mut Outbox) -> (i64, bool) {
        let now = now_nanos();
        let mut inner = self.inner.lock();
        self.expire_requests(&mut inner, now, out);
        if now >= inner.redelivery_check {
            inner.redelivery_check = inner.tracker.expire(now).unwrap_or(i64::MAX);
        }
        self.deliver(&mut inner, now, out);
        self.push_heartbeat(&mut inner, now, out);
        let persist_due = self.persist(&mut inner, now);

        let mut next = inner.redelivery_check;
        if let Some(due) = persist_due {
            next = next.min(due);
        }
        if !inner.tracker.redeliver.is_empty() {
            // Redeliveries blocked by max_ack_pending or missing interest: look again soon.
            next = next.min(now + INTEREST_POLL);
        }
        if let Some(d) = inner.waiting.next_deadline() {
            next = next.min(d);
        }
        let push = inner.settings.is_push();
        if push {
            next = next.min(now + INTEREST_POLL);
            let hb = inner.settings.idle_heartbeat.as_nanos() as i64;
            if hb > 0 {
                next = next.min(inner.push.last_sent + hb);
            }
            if inner.push.interest {
                inner.last_active = now;
            }
        } else if !inner.waiting.is_empty() {
            inner.last_active = now;
        }
        let threshold = inner.settings.inactive_threshold.as_nanos() as i64;
        let mut inactive = false;
        if threshold > 0 {
            let due = inner.last_active.saturating_add(threshold);
            inactive = now >= due;
            next = next.min(due);
        }
        (next.max(now + 1_000_000), inactive)
    }

    /// Ends pull requests that expired (`408`) and sends their heartbeats (`100`).
    fn expire_requests(&self, inner: &mut Inner, now: i64, out: &mut Outbox) {
        let (dseq, sseq) = (inner.tracker.dseq, inner.tracker.sseq);
        inner.waiting.queue.retain_mut(|r| {
            if r.expired(now) {
                let hdr = headers::status(
                    408,
                    "Request Timeout",
                    &[
                        ("Nats-Pending-Messages", r.batch as u64),
                        ("Nats-Pending-Bytes", r.max_bytes as u64),
                    ],
                );
                out.send(r.reply.clone(), None, Some(hdr), Bytes::new());
                return false;
            }
            if r.heartbeat > 0 && now >= r.last_sent + r.heartbeat {
                out.send(
                    r.reply.clone(),
                    None,
                    Some(heartbeat(dseq, sseq)),
                    Bytes::new(),
                );
                r.last_sent = now;
            }
            true
        });
    }

    /// Sends an idle heartbeat to a push consumer's subscribers when nothing else went out.
    fn push_heartbeat(&self, inner: &mut Inner, now: i64, out: &mut Outbox) {
        let hb = inner.settings.idle_heartbeat.as_nanos() as i64;
        let Some(subject) = inner.settings.deliver_subject.clone() else {
            return;
        };
        if hb == 0 || now < inner.push.last_sent + hb || !inner.push.interest {
            return;
        }
        let hdr = heartbeat(inner.tracker.dseq, inner.tracker.sseq);
        out.send(subject, None, Some(hdr), Bytes::new());
        inner.push.last_sent = now;
    }

    /// Delivers while there is a target and a message.
    fn deliver(&self, inner: &mut Inner, now: i64, out: &mut Outbox) {
        let push_subject = inner.settings.deliver_subject.clone();
        if let Some(subject) = &push_subject {
            inner.push.interest = out.has_interest(subject);
            if !inner.push.interest {
                return;
            }
        }
        let mut pending_count: Option<u64> = None;
        for _ in 0..DELIVERIES_PER_PASS {
            // The target: the push subject, or the oldest pull request someone still awaits.
            let route = match &push_subject {
                Some(s) => s.clone(),
                None => {
                    // Requests whose requester went away are dropped, as nats-server does.
                    while let Some(front) = inner.waiting.queue.front_mut() {
                        if front.interest_seen || out.has_interest(&front.reply) {
                            front.interest_seen = true;
                            break;
                        }
                        inner.waiting.queue.pop_front();
                    }
                    match inner.waiting.queue.front() {
                        Some(r) => r.reply.clone(),
                        None => return,
                    }
                }
            };
            let Some((msg, redelivery)) = self.next_message(inner) else {
                self.end_of_stream(inner, out);
                return;
            };
            let size = (msg.subject.len()
                + msg.headers.as_ref().map_or(0, Bytes::len)
                + msg.payload.len()) as i64;
            if push_subject.is_none()
                && let Some(req) = inner.waiting.queue.front()
                && req.max_bytes > 0
                && size > req.max_bytes
            {
                // It does not fit: put it back and end this request.
                if redelivery {
                    inner.tracker.redeliver.insert(msg.seq);
                } else if inner.tracker.last_per_subject.first() != Some(&msg.seq) {
                    inner.tracker.next_sseq = msg.seq;
                }
                let req = inner
                    .waiting
                    .queue
                    .pop_front()
                    .expect("front checked above");
                let text = if req.delivered == 0 {
                    "Message Size Exceeds MaxBytes"
                } else {
                    "Batch Completed"
                };
                let extra = [
                    ("Nats-Pending-Messages", req.batch as u64),
                    ("Nats-Pending-Bytes", req.max_bytes as u64),
                ];
                out.send(
                    req.reply,
                    None,
                    Some(headers::status(409, text, &extra)),
                    Bytes::new(),
                );
                continue;
            }
            // What is left after this message (the cursor has already moved past it).
            let pending_after = match pending_count {
                None => self.num_pending(inner),
                Some(n) if redelivery => n,
                Some(n) => n.saturating_sub(1),
            };
            pending_count = Some(pending_after);
            let wait = inner
                .settings
                .wait_after(inner.tracker.deliveries(msg.seq) + u64::from(redelivery));
            let mode = inner.settings.ack;
            let (cseq, count) = inner.tracker.delivered(msg.seq, now, mode, wait);
            if mode != AckMode::None {
                let deadline = now.saturating_add(wait.as_nanos() as i64);
                inner.redelivery_check = inner.redelivery_check.min(deadline);
            }
            inner.dirty = true;
            let ack = format!(
                "$JS.ACK.{}.{}.{}.{}.{}.{}.{}",
                self.stream_name, self.name, count, msg.seq, cseq, msg.timestamp, pending_after
            );
            let (hdrs, payload) = if inner.settings.headers_only {
                let size = msg.payload.len().to_string();
                let h = headers::with_extra(msg.headers.as_deref(), &[("Nats-Msg-Size", &size)]);
                (Some(h), Bytes::new())
            } else {
                (msg.headers, msg.payload)
            };
            let delivery = Message {
                subject: msg.subject,
                reply: Some(Bytes::from(ack)),
                headers: hdrs,
                payload,
            };
            out.deliver(&route, &delivery);
            if push_subject.is_some() {
                inner.push.last_sent = now;
                if inner.settings.flow_control {
                    inner.push.since_flow_control += 1;
                    if inner.push.since_flow_control >= FLOW_CONTROL_EVERY {
                        self.request_flow_control(inner, &route, out);
                    }
                }
            } else if let Some(req) = inner.waiting.queue.front_mut() {
                req.delivered += 1;
                req.batch -= 1;
                req.last_sent = now;
                if req.max_bytes > 0 {
                    req.max_bytes -= size;
                }
                if req.batch <= 0 {
                    let req = inner.waiting.queue.pop_front().expect("front exists");
                    if req.max_bytes > 0 {
                        let extra = [
                            ("Nats-Pending-Messages", 0),
                            ("Nats-Pending-Bytes", req.max_bytes as u64),
                        ];
                        let hdr = headers::status(409, "Batch Completed", &extra);
                        out.send(req.reply, None, Some(hdr), Bytes::new());
                    }
                }
            }
        }
        // More to do: come back right away.
        self.wake.notify_one();
    }

    /// Sends a flow control request; the client answers on its reply subject.
    fn request_flow_control(&self, inner: &mut Inner, route: &Bytes, out: &mut Outbox) {
        inner.push.flow_control_seq += 1;
        inner.push.since_flow_control = 0;
        let reply = format!(
            "$JS.FC.{}.{}.{}",
            self.stream_name, self.name, inner.push.flow_control_seq
        );
        let hdr = Bytes::from_static(b"NATS/1.0 100 FlowControl Request\r\n\r\n");
        out.send(
            route.clone(),
            Some(Bytes::from(reply)),
            Some(hdr),
            Bytes::new(),
        );
    }

    /// Nothing left to deliver: `no_wait` requests end as nats-server ends them.
    fn end_of_stream(&self, inner: &mut Inner, out: &mut Outbox) {
        inner.waiting.queue.retain(|r| {
            if r.no_wait && (r.expires_at == 0 || r.delivered > 0) {
                let hdr = headers::status(404, "No Messages", &[]);
                out.send(r.reply.clone(), None, Some(hdr), Bytes::new());
                return false;
            }
            true
        });
    }

    /// The next message to send: a due redelivery, then the last-per-subject start set, then
    /// the next stored message that passes the filters. `max_ack_pending` pauses new
    /// deliveries but not redeliveries.
    fn next_message(&self, inner: &mut Inner) -> Option<(StoredMessage, bool)> {
        while let Some(&sseq) = inner.tracker.redeliver.first() {
            let deliveries = inner.tracker.deliveries(sseq);
            let max = inner.settings.max_deliver;
            match self.store.load(sseq).ok().flatten() {
                Some(msg) if max <= 0 || (deliveries as i64) < max => return Some((msg, true)),
                _ => {
                    // Gone from the stream, or out of deliveries.
                    inner.tracker.give_up(sseq);
                    inner.dirty = true;
                }
            }
        }
        let max_pending = inner.settings.max_ack_pending;
        if inner.settings.ack != AckMode::None
            && max_pending > 0
            && inner.tracker.pending.len() as i64 >= max_pending
        {
            return None;
        }
        while !inner.tracker.last_per_subject.is_empty() {
            let sseq = inner.tracker.last_per_subject.remove(0);
            if let Ok(Some(msg)) = self.store.load(sseq) {
                return Some((msg, false));
            }
        }
        let from = inner.tracker.next_sseq;
        let msg = if inner.settings.filters.len() <= 1 {
            let filter = inner.settings.filters.first().map(|f| &f[..]);
            self.store.load_next(from, filter).ok().flatten()
        } else {
            inner
                .settings
                .filters
                .iter()
                .filter_map(|f| self.store.load_next(from, Some(f)).ok().flatten())
                .min_by_key(|m| m.seq)
        }?;
        debug_assert!(filter_matches(&inner.settings, &msg.subject));
        inner.tracker.next_sseq = msg.seq + 1;
        Some((msg, false))
    }
}

/// `100 Idle Heartbeat` with the last delivered sequences (ordered consumers check them).
fn heartbeat(dseq: u64, sseq: u64) -> Bytes {
    headers::status(
        100,
        "Idle Heartbeat",
        &[("Nats-Last-Consumer", dseq), ("Nats-Last-Stream", sseq)],
    )
}

/// The stream sequence in `$JS.ACK.<stream>.<consumer>.<count>.<sseq>.<cseq>.<ts>.<pending>`.
fn ack_stream_seq(subject: &[u8], stream: &str, consumer: &str) -> Option<u64> {
    let prefix_len = "$JS.ACK.".len() + stream.len() + 1 + consumer.len() + 1;
    let rest = subject.get(prefix_len..)?;
    let mut tokens = rest.split(|b| *b == b'.');
    tokens.next()?; // delivery count
    let sseq = tokens.next()?;
    std::str::from_utf8(sseq).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_stream_sequence_from_an_ack_subject() {
        assert_eq!(
            ack_stream_seq(b"$JS.ACK.S.C.1.42.7.123.0", "S", "C"),
            Some(42)
        );
        assert_eq!(ack_stream_seq(b"$JS.ACK.S.C.1", "S", "C"), None);
        assert_eq!(ack_stream_seq(b"$JS.ACK.S.C.1.x.7.123.0", "S", "C"), None);
    }
}
