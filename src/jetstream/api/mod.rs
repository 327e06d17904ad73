//! The `$JS.API`: requests arrive on an internal subscription to `$JS.API.>`, are handled
//! in one task in arrival order, and are answered on the request's reply subject with
//! nats-server's JSON (`types.rs`, `consumer_types.rs`) and error codes (`errors.rs`).
//!
//! Handlers live by resource: `streams.rs` (create, update, info, names, list, delete,
//! purge, message get/delete, direct get) and `consumers.rs`.

pub mod consumer_types;
pub mod consumers;
pub mod errors;
pub mod responses;
pub mod streams;
pub mod types;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::JetStream;
use super::internal::Outbox;
use crate::core::message::Message;
use errors::ApiError;
use types::{AccountInfo, ApiStats, error_response, ok_response};

/// A handler's result: the success body already serialised, or the error to report.
pub type ApiResult = Result<Vec<u8>, ApiError>;

/// The API task.
pub(crate) async fn run(js: Arc<JetStream>, mut rx: mpsc::UnboundedReceiver<((), Message)>) {
    let mut out = Outbox::new(js.shared.clone());
    while let Some((_, msg)) = rx.recv().await {
        handle(&js, &msg, &mut out);
        while let Ok((_, msg)) = rx.try_recv() {
            handle(&js, &msg, &mut out);
        }
        out.flush();
    }
}

/// Answers one request.
fn handle(js: &Arc<JetStream>, msg: &Message, out: &mut Outbox) {
    // nats-server drops requests that cannot be answered.
    let Some(reply) = msg.reply.clone() else {
        return;
    };
    let Some(rest) = std::str::from_utf8(&msg.subject)
        .ok()
        .and_then(|s| s.strip_prefix("$JS.API."))
    else {
        return;
    };
    let tokens: Vec<&str> = rest.split('.').collect();
    let body = &msg.payload[..];
    let (kind, result): (&str, ApiResult) = match tokens.as_slice() {
        ["INFO"] => ("account_info", Ok(account_info(js))),
        ["STREAM", "CREATE", name] => ("stream_create", streams::create(js, name, body)),
        ["STREAM", "UPDATE", name] => ("stream_update", streams::update(js, name, body)),
        ["STREAM", "INFO", name] => ("stream_info", streams::info(js, name, body)),
        ["STREAM", "DELETE", name] => ("stream_delete", streams::delete(js, name)),
        ["STREAM", "PURGE", name] => ("stream_purge", streams::purge(js, name, body)),
        ["STREAM", "NAMES"] => ("stream_names", streams::names(js, body)),
        ["STREAM", "LIST"] => ("stream_list", streams::list(js, body)),
        ["STREAM", "MSG", "GET", name] => ("stream_msg_get", streams::msg_get(js, name, body)),
        ["STREAM", "MSG", "DELETE", name] => {
            ("stream_msg_delete", streams::msg_delete(js, name, body))
        }
        ["DIRECT", "GET", name] => {
            return streams::direct_get(js, name, None, body, &reply, out);
        }
        ["DIRECT", "GET", name, subject @ ..] => {
            let subject = subject.join(".");
            return streams::direct_get(js, name, Some(&subject), body, &reply, out);
        }
        ["CONSUMER", "CREATE", stream] => (
            "consumer_create",
            consumers::create(js, stream, None, None, body),
        ),
        ["CONSUMER", "CREATE", stream, consumer] => (
            "consumer_create",
            consumers::create(js, stream, Some(consumer), None, body),
        ),
        ["CONSUMER", "CREATE", stream, consumer, filter @ ..] => {
            let filter = filter.join(".");
            let r = consumers::create(js, stream, Some(consumer), Some(&filter), body);
            ("consumer_create", r)
        }
        ["CONSUMER", "DURABLE", "CREATE", stream, consumer] => (
            "consumer_create",
            consumers::create_durable(js, stream, consumer, body),
        ),
        ["CONSUMER", "INFO", stream, consumer] => {
            ("consumer_info", consumers::info(js, stream, consumer))
        }
        ["CONSUMER", "DELETE", stream, consumer] => {
            ("consumer_delete", consumers::delete(js, stream, consumer))
        }
        ["CONSUMER", "NAMES", stream] => ("consumer_names", consumers::names(js, stream, body)),
        ["CONSUMER", "LIST", stream] => ("consumer_list", consumers::list(js, stream, body)),
        ["CONSUMER", "MSG", "NEXT", stream, consumer] => {
            match js.stream(stream).and_then(|s| s.consumer(consumer)) {
                Some(c) => c.next_request(reply, msg.payload.clone()),
                // nats-server has no subscription then: the requester sees no responders.
                None => no_responders(&reply, out),
            }
            return;
        }
        _ => {
            no_responders(&reply, out);
            return;
        }
    };
    js.count_api(result.is_err());
    let response = match result {
        Ok(b) => b,
        Err(e) => error_response(kind, &e),
    };
    out.send(reply, None, None, Bytes::from(response));
}

/// What a requester sees when nothing serves its subject.
fn no_responders(reply: &Bytes, out: &mut Outbox) {
    let hdr = Bytes::from_static(b"NATS/1.0 503\r\n\r\n");
    out.send(reply.clone(), None, Some(hdr), Bytes::new());
}

/// `$JS.API.INFO`: usage of the (single) account.
fn account_info(js: &JetStream) -> Vec<u8> {
    let mut info = AccountInfo::default();
    for s in js.streams() {
        let state = s.store.state();
        match s.config().storage {
            types::StorageType::Memory => info.memory += state.bytes,
            types::StorageType::File => info.storage += state.bytes,
        }
        info.streams += 1;
        info.consumers += s.consumer_count() as u64;
    }
    info.api = ApiStats {
        total: js.api_total.load(std::sync::atomic::Ordering::Relaxed),
        errors: js.api_errors.load(std::sync::atomic::Ordering::Relaxed),
        ..ApiStats::default()
    };
    ok_response("account_info", &info)
}

/// Pages a list the way nats-server does: `offset` into the sorted names, `limit` per page.
pub(crate) fn page<T: Clone>(items: &[T], offset: usize, limit: usize) -> Vec<T> {
    items.iter().skip(offset).take(limit).cloned().collect()
}
