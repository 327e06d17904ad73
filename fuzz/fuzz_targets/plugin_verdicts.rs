//! Fuzzes what the broker makes of a plugin's verdict: arbitrary verdicts (pass, drop,
//! modify, emit, reject) on an arbitrary message, under an arbitrary binding `on_error` and
//! `max_emit`, through the same checks and conversions a WebAssembly plugin's answer goes
//! through (`check_emit`, `chain::apply_verdict`, `rejection_reply`).
//!
//! The target has its own oracle for what a plugin may produce: literal subjects, header
//! names that are tokens (RFC 9110, what every NATS client parses) and values without line
//! breaks. A verdict that keeps to them is applied exactly (subject, headers, payload); any
//! other is a failure that the binding's `on_error` handles (drop, pass the original, or a
//! dead letter with the reason in its headers). Every message that leaves the chain must
//! be writable on the wire: a well-formed header block whose lines are exactly the headers.
#![no_main]

use std::sync::LazyLock;

use bytes::Bytes;
use libfuzzer_sys::arbitrary::{self, Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use sluice::config::Config;
use sluice::core::message::Message;
use sluice::core::subject::is_valid_literal_subject;
use sluice::plugin::binding::{Binding, BindingLimits, OnError};
use sluice::plugin::chain::{
    ERROR_HEADER, ORIGINAL_SUBJECT_HEADER, Processed, Rejection, apply_verdict,
};
use sluice::plugin::host::{Edit, PluginMessage, Verdict};
use sluice::plugin::types::check_emit;
use sluice::server::Shared;

static SHARED: LazyLock<Shared> = LazyLock::new(|| Shared::new(Config::default()));

/// Picks from interesting values most of the time, any string otherwise.
fn pick(u: &mut Unstructured<'_>, picks: &[&str]) -> arbitrary::Result<String> {
    if u.ratio(3, 4)? {
        Ok((*u.choose(picks)?).to_string())
    } else {
        String::arbitrary(u)
    }
}

macro_rules! picked {
    ($name:ident, $picks:expr) => {
        #[derive(Debug, Clone)]
        struct $name(String);
        impl<'a> Arbitrary<'a> for $name {
            fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
                pick(u, $picks).map($name)
            }
        }
    };
}

picked!(
    Subject,
    &[
        "orders.new",
        "a",
        "a.b.c",
        "a.*",
        "a.>",
        ">",
        "*",
        "a..b",
        ".a",
        "a.",
        "a b",
        "a\tb",
        "a\r\nb",
        "",
        "$JS.API.INFO",
        "_INBOX.x.y",
        "dlq.errors",
        "é.ü",
        "a\0b",
    ]
);
picked!(
    Name,
    &[
        "Nats-Msg-Id",
        "X-Trace",
        "a",
        "",
        "A B",
        "X:Y",
        "X\r\nY",
        "X\n",
        "é",
        " lead",
        "trail ",
        "a\tb",
        "(x)",
        "Sluice-Plugin-Error",
        "nats-msg-id",
        "x-trace",
    ]
);
picked!(
    Value,
    &[
        "1",
        "",
        "a b",
        "v\r\nInjected: 1",
        "\r\n\r\nPUB x 1\r\n",
        " pad ",
        "é",
        "\0",
        "a:b",
    ]
);
picked!(
    OnErrorText,
    &[
        "drop",
        "pass",
        "dead-letter:dlq.errors",
        "dead-letter:",
        "dead-letter:a.*",
        "dead-letter:a b",
        "Drop",
        "",
    ]
);

#[derive(Debug, Arbitrary)]
struct Msg {
    subject: Subject,
    reply_to: Option<Subject>,
    headers: Vec<(Name, Value)>,
    payload: Vec<u8>,
}

#[derive(Debug, Arbitrary)]
enum V {
    Pass,
    Drop(String),
    Modify {
        subject: Option<Subject>,
        set_headers: Vec<(Name, Value)>,
        remove_headers: Vec<Name>,
        payload: Option<Vec<u8>>,
    },
    Emit(Vec<Msg>),
    Reject {
        reason: Value,
        retryable: bool,
    },
}

#[derive(Debug, Arbitrary)]
struct Input {
    /// The message as a well-behaved client published it (made valid below).
    original: Msg,
    verdict: V,
    on_error: OnErrorText,
    max_emit: u8,
}

/// Header pairs as the host takes them.
type Pairs = Vec<(String, String)>;

fn pairs(h: &[(Name, Value)]) -> Pairs {
    h.iter().map(|(n, v)| (n.0.clone(), v.0.clone())).collect()
}

fn plugin_message(m: &Msg) -> PluginMessage {
    PluginMessage {
        subject: m.subject.0.clone(),
        reply_to: m.reply_to.as_ref().map(|r| r.0.clone()),
        headers: pairs(&m.headers),
        payload: m.payload.clone(),
    }
}

/// RFC 9110 `token`: what a header name must be for NATS clients to parse it.
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn valid_header(name: &str, value: &str) -> bool {
    is_token(name) && !value.contains(['\r', '\n'])
}

fn block_of(pairs: &[(String, String)]) -> Option<Bytes> {
    if pairs.is_empty() {
        return None;
    }
    let mut b = b"NATS/1.0\r\n".to_vec();
    for (n, v) in pairs {
        b.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
    }
    b.extend_from_slice(b"\r\n");
    Some(Bytes::from(b))
}

/// Reads a header block strictly: `NATS/1.0[ status]`, then `token: value` lines, each
/// ended by CRLF with no other CR or LF, then the blank line. Values come back trimmed, as
/// clients read them.
fn read_block(block: &[u8]) -> Result<(Option<String>, Pairs), String> {
    let text = std::str::from_utf8(block).map_err(|e| e.to_string())?;
    let body = text
        .strip_suffix("\r\n\r\n")
        .ok_or("no blank line at the end")?;
    let mut lines = body.split("\r\n");
    let first = lines.next().unwrap_or_default();
    let status = first.strip_prefix("NATS/1.0").ok_or("no NATS/1.0")?;
    let status = (!status.is_empty()).then(|| status.trim().to_string());
    let mut out = Vec::new();
    for line in lines {
        if line.contains(['\r', '\n']) {
            return Err(format!("stray line break in {line:?}"));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or(format!("no colon in {line:?}"))?;
        if !is_token(name) {
            return Err(format!("header name {name:?} is not a token"));
        }
        out.push((name.to_string(), trim(value)));
    }
    Ok((status, out))
}

/// What leaves the chain must be routable and writable on the wire.
fn check_routable(m: &Message) -> Vec<(String, String)> {
    assert!(
        is_valid_literal_subject(&m.subject),
        "routed {:?}",
        m.subject
    );
    if let Some(r) = &m.reply {
        assert!(is_valid_literal_subject(r), "reply {r:?}");
    }
    match &m.headers {
        None => Vec::new(),
        Some(h) => match read_block(h) {
            Ok((_, pairs)) => pairs,
            Err(e) => panic!("bad header block {h:?}: {e}"),
        },
    }
}

/// A value as clients read it (and as the host re-reads a header block it rebuilds): without
/// surrounding ASCII whitespace.
fn trim(value: &str) -> String {
    value
        .trim_matches(|c: char| c.is_ascii_whitespace())
        .to_string()
}

fn trimmed(pairs: &[(String, String)]) -> Vec<(String, String)> {
    pairs.iter().map(|(n, v)| (n.clone(), trim(v))).collect()
}

fuzz_target!(|input: Input| {
    // The published message: valid subject and headers, as the front-ends guarantee.
    let Input {
        original,
        verdict,
        on_error,
        max_emit,
    } = input;
    let subject = if is_valid_literal_subject(original.subject.0.as_bytes()) {
        original.subject.0.clone()
    } else {
        "orders.new".to_string()
    };
    let reply = original
        .reply_to
        .as_ref()
        .filter(|r| is_valid_literal_subject(r.0.as_bytes()))
        .map(|r| Bytes::from(r.0.clone()));
    let original_pairs: Vec<(String, String)> = pairs(&original.headers)
        .into_iter()
        .filter(|(n, v)| valid_header(n, v))
        .collect();
    let msg = Message {
        subject: Bytes::from(subject.clone()),
        reply,
        headers: block_of(&original_pairs),
        payload: Bytes::from(original.payload.clone()),
    };

    // The binding, validated as an upload's is.
    let binding = Binding {
        subjects: vec![">".into()],
        order: 0,
        config: Default::default(),
        on_error: on_error.0,
        limits: BindingLimits {
            max_emit: Some(usize::from(max_emit)),
            ..BindingLimits::default()
        },
    };
    if binding.validate().is_err() {
        return;
    }
    let policy = binding.on_error();
    if let OnError::DeadLetter(s) = &policy {
        assert!(is_valid_literal_subject(s.as_bytes()), "dead letter {s:?}");
    }
    let max_emit = binding.limits(&SHARED.config().plugins).max_emit;

    // The verdict as the host converts it (the emit limit first), then applied.
    let converted = match &verdict {
        V::Pass => Ok(Verdict::Pass),
        V::Drop(why) => Ok(Verdict::Drop(why.clone())),
        V::Modify {
            subject,
            set_headers,
            remove_headers,
            payload,
        } => Ok(Verdict::Modify(Edit {
            subject: subject.as_ref().map(|s| s.0.clone()),
            set_headers: pairs(set_headers),
            remove_headers: remove_headers.iter().map(|n| n.0.clone()).collect(),
            payload: payload.clone(),
        })),
        V::Emit(list) => check_emit(list.len(), max_emit)
            .map(|()| Verdict::Emit(list.iter().map(plugin_message).collect())),
        V::Reject { reason, retryable } => Ok(Verdict::Reject {
            reason: reason.0.clone(),
            retryable: *retryable,
        }),
    };
    let mut next = Vec::new();
    let mut out = Processed::default();
    apply_verdict("fuzz", &policy, converted, msg.clone(), &mut next, &mut out);

    for m in next.iter().chain(&out.dead_letters) {
        check_routable(m);
    }

    // What the oracle expects: the applied verdict, or a failure.
    let expected: Result<Option<Vec<Message>>, ()> = match &verdict {
        V::Pass => Ok(Some(vec![msg.clone()])),
        V::Drop(_) => Ok(None),
        V::Modify {
            subject: new_subject,
            set_headers,
            remove_headers,
            payload,
        } => {
            let subject_ok = new_subject
                .as_ref()
                .is_none_or(|s| is_valid_literal_subject(s.0.as_bytes()));
            let set = pairs(set_headers);
            if !subject_ok || !set.iter().all(|(n, v)| valid_header(n, v)) {
                Err(())
            } else {
                let mut m = msg.clone();
                if let Some(s) = new_subject {
                    m.subject = Bytes::from(s.0.clone());
                }
                if !set.is_empty() || !remove_headers.is_empty() {
                    // The original headers are re-read to be rebuilt.
                    let mut kept = trimmed(&original_pairs);
                    kept.retain(|(k, _)| {
                        !remove_headers
                            .iter()
                            .map(|n| n.0.as_str())
                            .chain(set.iter().map(|(n, _)| n.as_str()))
                            .any(|d| d.eq_ignore_ascii_case(k))
                    });
                    kept.extend(set);
                    m.headers = block_of(&kept);
                }
                if let Some(p) = payload {
                    m.payload = Bytes::from(p.clone());
                }
                Ok(Some(vec![m]))
            }
        }
        V::Emit(list) => {
            let ok = list.len() <= max_emit
                && list.iter().all(|m| {
                    is_valid_literal_subject(m.subject.0.as_bytes())
                        && m.reply_to
                            .as_ref()
                            .is_none_or(|r| is_valid_literal_subject(r.0.as_bytes()))
                        && pairs(&m.headers).iter().all(|(n, v)| valid_header(n, v))
                });
            if ok {
                Ok(Some(
                    list.iter()
                        .map(|m| Message {
                            subject: Bytes::from(m.subject.0.clone()),
                            reply: m.reply_to.as_ref().map(|r| Bytes::from(r.0.clone())),
                            headers: block_of(&pairs(&m.headers)),
                            payload: Bytes::from(m.payload.clone()),
                        })
                        .collect(),
                ))
            } else {
                Err(())
            }
        }
        V::Reject { .. } => Err(()),
    };

    match expected {
        Ok(Some(msgs)) => {
            assert_eq!(next, msgs, "applied verdict {verdict:?}");
            assert!(out.dead_letters.is_empty() && out.rejected.is_none());
        }
        Ok(None) => {
            assert!(next.is_empty() && out.dead_letters.is_empty() && out.rejected.is_none());
        }
        Err(()) => {
            match &policy {
                OnError::Drop => assert!(next.is_empty() && out.dead_letters.is_empty()),
                OnError::Pass => {
                    assert_eq!(next, vec![msg.clone()]);
                    assert!(out.dead_letters.is_empty());
                }
                OnError::DeadLetter(dlq) => {
                    assert!(
                        next.is_empty(),
                        "failed verdict {verdict:?} delivered {next:?}"
                    );
                    assert_eq!(out.dead_letters.len(), 1);
                    let dead = &out.dead_letters[0];
                    assert_eq!(&dead.subject[..], dlq.as_bytes());
                    assert_eq!(dead.payload, msg.payload);
                    let pairs = check_routable(dead);
                    let mut expected = trimmed(&original_pairs);
                    expected.retain(|(n, _)| n != ERROR_HEADER && n != ORIGINAL_SUBJECT_HEADER);
                    let tail: Vec<_> = pairs
                        .iter()
                        .filter(|(n, _)| n == ERROR_HEADER || n == ORIGINAL_SUBJECT_HEADER)
                        .cloned()
                        .collect();
                    assert!(
                        tail.iter()
                            .any(|(n, v)| n == ORIGINAL_SUBJECT_HEADER && *v == subject),
                        "{pairs:?}"
                    );
                    assert!(
                        tail.iter()
                            .any(|(n, v)| n == ERROR_HEADER && v.starts_with("fuzz: ")),
                        "{pairs:?}"
                    );
                }
            }
            if let V::Reject { reason, .. } = &verdict {
                let want = Rejection {
                    plugin: "fuzz".into(),
                    reason: reason.0.clone(),
                };
                assert_eq!(out.rejected.as_ref(), Some(&want));
                // What a NATS requester gets back.
                let inbox = Bytes::from_static(b"_INBOX.req.1");
                let answer =
                    sluice::plugin::rejection_reply(&SHARED, subject.as_bytes(), inbox, &want);
                let Some(h) = &answer.headers else {
                    panic!("rejection reply without status");
                };
                match read_block(h) {
                    Ok((status, _)) => {
                        assert_eq!(status.as_deref(), Some("400 Rejected By Plugin"))
                    }
                    Err(e) => panic!("rejection reply headers {h:?}: {e}"),
                }
            } else {
                assert!(out.rejected.is_none());
            }
        }
    }
});
