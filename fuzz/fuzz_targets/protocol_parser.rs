//! Fuzzes the NATS client-protocol decoder.
//!
//! The first four input bytes pick the limits and how the rest is split into
//! reads. The target checks that decoding never panics, that the ops and the
//! final error do not depend on where the input was split, that every op
//! respects the limits and the shape its control line announced, and that a
//! canonical re-encoding of each op decodes back to the same op.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use sluice::protocol::{ClientOp, Decoder, ProtocolError};

/// Ops decoded before decoding stopped, and the error that stopped it.
type Outcome = (Vec<ClientOp>, Option<ProtocolError>);

/// Feeds `input` in reads of the given sizes (the rest in one read), decoding
/// after each read until the decoder asks for more.
fn run(input: &[u8], reads: &[usize], mcl: usize, max_payload: usize) -> Outcome {
    let mut dec = Decoder::new(mcl, max_payload);
    let mut buf = BytesMut::new();
    let mut ops = Vec::new();
    let mut rest = input;
    let mut sizes = reads.iter().copied();
    while !rest.is_empty() {
        let n = sizes.next().unwrap_or(rest.len()).clamp(1, rest.len());
        buf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(op)) => ops.push(op),
                Ok(None) => {
                    if let Some(needed) = dec.bytes_needed() {
                        assert!(
                            needed >= 1 && needed <= max_payload + 2,
                            "bytes_needed {needed}"
                        );
                    }
                    break;
                }
                Err(e) => return (ops, Some(e)),
            }
        }
    }
    (ops, None)
}

fn is_field(b: &Bytes, extra_sep: &[u8]) -> bool {
    !b.is_empty()
        && !b
            .iter()
            .any(|c| b" \t\n".contains(c) || extra_sep.contains(c))
}

/// Checks what the control line implies about an op.
fn check_op(op: &ClientOp, mcl: usize, max_payload: usize) {
    match op {
        ClientOp::Pub {
            subject,
            reply,
            payload,
        } => {
            assert!(is_field(subject, b""));
            assert!(reply.as_ref().is_none_or(|r| is_field(r, b"")));
            assert!(payload.len() <= max_payload);
        }
        ClientOp::HPub {
            subject,
            reply,
            headers,
            payload,
        } => {
            assert!(is_field(subject, b""));
            assert!(reply.as_ref().is_none_or(|r| is_field(r, b"")));
            assert!(headers.len() + payload.len() <= max_payload);
        }
        ClientOp::Sub {
            subject,
            queue,
            sid,
        } => {
            assert!(is_field(subject, b"\r") && is_field(sid, b"\r"));
            assert!(queue.as_ref().is_none_or(|q| is_field(q, b"\r")));
            assert!(subject.len() + sid.len() + queue.as_ref().map_or(0, Bytes::len) <= mcl);
        }
        ClientOp::Unsub { sid, max } => {
            assert!(is_field(sid, b"\r") && sid.len() <= mcl);
            assert!(max.is_none_or(|m| m < 1_000_000_000));
        }
        ClientOp::Connect(text) | ClientOp::Err(text) => {
            assert!(text.len() <= mcl && !text.contains(&b'\n'));
            assert!(!text.starts_with(b" ") && !text.starts_with(b"\t"));
            assert!(!text.ends_with(b" ") && !text.ends_with(b"\t"));
        }
        ClientOp::Ping | ClientOp::Pong | ClientOp::Ok => {}
    }
}

/// Writes `op` the way a well-behaved client would.
fn encode(op: &ClientOp) -> Vec<u8> {
    let mut out = Vec::new();
    let mut line = |parts: &[&[u8]]| {
        out.extend_from_slice(&parts.join(&b' '));
        out.extend_from_slice(b"\r\n");
    };
    match op {
        ClientOp::Ping => line(&[b"PING"]),
        ClientOp::Pong => line(&[b"PONG"]),
        ClientOp::Ok => line(&[b"+OK"]),
        ClientOp::Connect(j) => line(&[b"CONNECT", j]),
        ClientOp::Err(t) => line(&[b"-ERR", t]),
        ClientOp::Sub {
            subject,
            queue: Some(q),
            sid,
        } => line(&[b"SUB", subject, q, sid]),
        ClientOp::Sub {
            subject,
            queue: None,
            sid,
        } => line(&[b"SUB", subject, sid]),
        ClientOp::Unsub { sid, max: Some(m) } => line(&[b"UNSUB", sid, m.to_string().as_bytes()]),
        ClientOp::Unsub { sid, max: None } => line(&[b"UNSUB", sid]),
        ClientOp::Pub {
            subject,
            reply,
            payload,
        } => {
            let size = payload.len().to_string();
            match reply {
                Some(r) => line(&[b"PUB", subject, r, size.as_bytes()]),
                None => line(&[b"PUB", subject, size.as_bytes()]),
            }
            out.extend_from_slice(payload);
            out.extend_from_slice(b"\r\n");
        }
        ClientOp::HPub {
            subject,
            reply,
            headers,
            payload,
        } => {
            let hdr = headers.len().to_string();
            let total = (headers.len() + payload.len()).to_string();
            match reply {
                Some(r) => line(&[b"HPUB", subject, r, hdr.as_bytes(), total.as_bytes()]),
                None => line(&[b"HPUB", subject, hdr.as_bytes(), total.as_bytes()]),
            }
            out.extend_from_slice(headers);
            out.extend_from_slice(payload);
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let [a, b, c, d, input @ ..] = data else {
        return;
    };
    // Small limits so that both are reached often.
    let mcl = usize::from(*a) * 4;
    let max_payload = usize::from(*b) * 16;

    // Read sizes from a xorshift seeded by two bytes: mostly small, some large.
    let mut state = u32::from(*c) << 8 | u32::from(*d) | 1;
    let mut reads = Vec::new();
    let mut total = 0;
    while total < input.len() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let n = if state % 8 == 0 {
            state as usize % 4096
        } else {
            state as usize % 16
        } + 1;
        reads.push(n);
        total += n;
    }

    let whole = run(input, &[], mcl, max_payload);
    let split = run(input, &reads, mcl, max_payload);
    assert_eq!(whole, split, "result depends on how the input was split");

    if let Some(ProtocolError::MaxPayload { size, max }) = &whole.1 {
        assert!(*size > *max && *max == max_payload);
    }
    for op in &whole.0 {
        check_op(op, mcl, max_payload);
        let again = run(&encode(op), &[], mcl, max_payload);
        assert_eq!(
            again,
            (vec![op.clone()], None),
            "re-encoded op decodes differently"
        );
    }
});
