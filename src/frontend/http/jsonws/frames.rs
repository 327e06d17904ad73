//! The JSON frames of `GET /v1/ws`: parsing what the client sends (never touching the socket
//! or the router) and the shapes of what the server sends back.
//!
//! A client frame is a JSON object with an `op` and an optional `id` (any JSON string or
//! number, echoed in the answer). Parsing first reads the object and takes `id` out, so that
//! even a frame with an unknown op or a missing field gets an error carrying its `id`.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::super::subscribe::SseMessage;
use crate::core::headers::{is_valid_name, is_valid_value};

/// What a client asks for.
#[derive(Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum ClientOp {
    /// Subscribe to a subject or wildcard pattern, optionally in a queue group.
    Subscribe {
        /// Subject or pattern.
        subject: String,
        /// Queue group.
        queue: Option<String>,
    },
    /// Remove a subscription by the sid the server gave it.
    Unsubscribe {
        /// The sid from `subscribed`.
        sid: String,
    },
    /// Publish one message.
    Publish(Outbound),
    /// Publish with a private reply inbox and answer with the first reply.
    Request {
        /// The message.
        #[serde(flatten)]
        message: Outbound,
        /// How long to wait, 1 to 60000 ms (default 5000).
        timeout_ms: Option<u64>,
    },
    /// Liveness check; answered with `pong`.
    Ping,
}

/// A message as a client sends it.
#[derive(Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Outbound {
    /// Literal subject.
    pub subject: String,
    /// Text, or base64 when `encoding` is `base64`; absent means empty.
    #[serde(default)]
    pub payload: String,
    /// `base64`, or absent for UTF-8 text.
    pub encoding: Option<String>,
    /// NATS headers: name to values.
    #[serde(default)]
    pub headers: BTreeMap<String, Vec<String>>,
    /// Reply subject (publish only; requests make their own inbox).
    pub reply: Option<String>,
}

/// A frame that could not be parsed; answered with a 400 error frame.
#[derive(Debug, PartialEq)]
pub struct BadFrame {
    /// The frame's `id`, when it had one.
    pub id: Option<Value>,
    /// What is wrong.
    pub error: String,
}

/// Parses one text frame into its `id` and op.
pub fn parse(text: &str) -> Result<(Option<Value>, ClientOp), BadFrame> {
    let bad = |id: Option<Value>, error: String| BadFrame { id, error };
    let value: Value = serde_json::from_str(text)
        .map_err(|e| bad(None, format!("the frame is not valid JSON: {e}")))?;
    let Value::Object(mut object) = value else {
        return Err(bad(None, "the frame must be a JSON object".to_string()));
    };
    let id = object.remove("id");
    if let Some(id) = &id
        && !(id.is_string() || id.is_number())
    {
        return Err(bad(None, "`id` must be a string or a number".to_string()));
    }
    if !object.contains_key("op") {
        return Err(bad(id, "missing field `op`".to_string()));
    }
    match serde_json::from_value(Value::Object(object)) {
        Ok(op) => Ok((id, op)),
        Err(e) => Err(bad(id, e.to_string())),
    }
}

impl Outbound {
    /// The payload bytes: the text itself, or decoded base64.
    pub fn payload_bytes(&self) -> Result<Bytes, String> {
        match self.encoding.as_deref() {
            None | Some("text") => Ok(Bytes::copy_from_slice(self.payload.as_bytes())),
            Some("base64") => STANDARD
                .decode(&self.payload)
                .map(Bytes::from)
                .map_err(|e| format!("the payload is not valid base64: {e}")),
            Some(other) => Err(format!(
                "unknown encoding \"{other}\": use \"base64\" or leave it out for text"
            )),
        }
    }

    /// The NATS header block (`NATS/1.0\r\nK: v\r\n\r\n`), `None` without headers.
    pub fn header_block(&self) -> Result<Option<Bytes>, String> {
        if self.headers.values().all(Vec::is_empty) {
            return Ok(None);
        }
        for (name, values) in &self.headers {
            // Tokens only: what every NATS client can parse on the receiving side.
            if !is_valid_name(name.as_bytes()) {
                return Err(format!("\"{name}\" is not a valid header name"));
            }
            if !values.iter().all(|v| is_valid_value(v.as_bytes())) {
                return Err(format!(
                    "the value of header \"{name}\" contains a line break"
                ));
            }
        }
        let lines = self
            .headers
            .iter()
            .flat_map(|(name, values)| values.iter().map(move |v| (name.as_bytes(), v.as_bytes())));
        Ok(Some(crate::frontend::http::headers::header_block(lines)))
    }
}

/// What the server sends.
#[derive(Debug, Serialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum ServerFrame {
    /// A subscription is in place.
    Subscribed {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<Value>,
        sid: String,
    },
    /// A subscription was removed.
    Unsubscribed {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<Value>,
        sid: String,
    },
    /// A publish was routed to `delivered` subscriptions.
    Published {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<Value>,
        delivered: usize,
    },
    /// The answer to a request.
    Reply {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<Value>,
        message: SseMessage,
    },
    /// The answer to a ping.
    Pong {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<Value>,
    },
    /// A message for subscription `sid`.
    Message { sid: String, message: SseMessage },
    /// A frame failed; `code` is the HTTP status the same failure has on the other routes.
    Error {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<Value>,
        code: u16,
        error: String,
    },
}

impl ServerFrame {
    /// The frame as JSON text.
    pub fn to_text(&self) -> String {
        // Serializing these types cannot fail: string keys, no non-finite floats.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ops_parse_with_their_ids() {
        let (id, op) = parse(r#"{"op":"subscribe","id":"1","subject":"a.>"}"#).unwrap();
        assert_eq!(id, Some(json!("1")));
        let want = ClientOp::Subscribe {
            subject: "a.>".into(),
            queue: None,
        };
        assert_eq!(op, want);
        let (id, op) = parse(r#"{"op":"ping","id":7}"#).unwrap();
        assert_eq!((id, op), (Some(json!(7)), ClientOp::Ping));
        let (_, op) = parse(
            r#"{"op":"request","subject":"s","payload":"aGk=","encoding":"base64","timeout_ms":9}"#,
        )
        .unwrap();
        let ClientOp::Request {
            message,
            timeout_ms,
        } = op
        else {
            panic!("not a request: {op:?}");
        };
        assert_eq!(timeout_ms, Some(9));
        assert_eq!(message.payload_bytes().unwrap(), "hi");
    }

    #[test]
    fn bad_frames_keep_their_id_when_they_have_one() {
        for (text, id, needle) in [
            ("nope", None, "not valid JSON"),
            ("[1]", None, "JSON object"),
            (r#"{"id":"2"}"#, Some(json!("2")), "`op`"),
            (r#"{"op":"dance","id":"3"}"#, Some(json!("3")), "dance"),
            (r#"{"op":"publish","id":"4"}"#, Some(json!("4")), "subject"),
            (r#"{"op":"ping","id":{}}"#, None, "`id`"),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.id, id, "{text}");
            assert!(e.error.contains(needle), "{text}: {}", e.error);
        }
    }

    #[test]
    fn headers_become_a_block_and_bad_ones_are_refused() {
        let mut out = Outbound::default();
        assert_eq!(out.header_block().unwrap(), None);
        out.headers.insert("A".into(), vec!["1".into(), "2".into()]);
        out.headers.insert("B-C".into(), vec!["x y".into()]);
        let block = out.header_block().unwrap().unwrap();
        assert_eq!(&block[..], b"NATS/1.0\r\nA: 1\r\nA: 2\r\nB-C: x y\r\n\r\n");
        for (name, value) in [
            ("Bad:Name", "v"),
            ("Sp ace", "v"),
            ("é", "v"),
            ("(x)", "v"),
            ("Ok", "a\r\nInjected: 1"),
        ] {
            let mut out = Outbound::default();
            out.headers.insert(name.into(), vec![value.into()]);
            assert!(out.header_block().is_err(), "{name}: {value}");
        }
    }

    #[test]
    fn payload_encodings() {
        let text = Outbound {
            payload: "héllo".into(),
            ..Outbound::default()
        };
        assert_eq!(text.payload_bytes().unwrap(), "héllo");
        let bad = Outbound {
            encoding: Some("base64".into()),
            payload: "!!".into(),
            ..Outbound::default()
        };
        assert!(bad.payload_bytes().is_err());
        let unknown = Outbound {
            encoding: Some("hex".into()),
            ..Outbound::default()
        };
        assert!(unknown.payload_bytes().is_err());
    }
}
