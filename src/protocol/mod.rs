//! The NATS client wire protocol, as bytes in and bytes out, with no I/O.
//!
//! [`parser`] turns what a client sends into [`ClientOp`]s with a resumable,
//! zero-copy [`Decoder`] over a `BytesMut`; [`encoder`] writes what the server
//! sends (INFO, MSG, HMSG, PING, PONG, +OK, -ERR). Keeping the codec free of
//! sockets lets the TCP and WebSocket front-ends share it and lets tests feed
//! it bytes split at any point. nats-server 2.15 is the reference for every
//! rule (see the notes in `parser`).

pub mod encoder;
pub mod parser;

pub use parser::{ClientOp, Decoder, ProtocolError};

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{Bytes, BytesMut};
    use proptest::prelude::*;

    const MCL: usize = 4096;
    const MAX_PAYLOAD: usize = 1024 * 1024;

    /// Feeds `input` in chunks of the given sizes (the rest in one go), decoding
    /// after each, and returns the ops plus the error that stopped decoding.
    fn decode_chunked(
        input: &[u8],
        chunks: &[usize],
        mcl: usize,
        max_payload: usize,
    ) -> (Vec<ClientOp>, Option<ProtocolError>) {
        let mut dec = Decoder::new(mcl, max_payload);
        let mut buf = BytesMut::new();
        let mut ops = Vec::new();
        let mut rest = input;
        let mut sizes = chunks.iter().copied();
        while !rest.is_empty() {
            let n = sizes.next().unwrap_or(rest.len()).clamp(1, rest.len());
            buf.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            loop {
                match dec.decode(&mut buf) {
                    Ok(Some(op)) => ops.push(op),
                    Ok(None) => break,
                    Err(e) => return (ops, Some(e)),
                }
            }
        }
        (ops, None)
    }

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn pubop(subject: &str, reply: Option<&str>, payload: &str) -> ClientOp {
        ClientOp::Pub {
            subject: b(subject),
            reply: reply.map(b),
            payload: b(payload),
        }
    }

    fn sub(subject: &str, queue: Option<&str>, sid: &str) -> ClientOp {
        ClientOp::Sub {
            subject: b(subject),
            queue: queue.map(b),
            sid: b(sid),
        }
    }

    fn unsub(sid: &str, max: Option<u64>) -> ClientOp {
        ClientOp::Unsub { sid: b(sid), max }
    }

    fn decode_all(input: &[u8]) -> Result<Vec<ClientOp>, ProtocolError> {
        match decode_chunked(input, &[], MCL, MAX_PAYLOAD) {
            (ops, None) => Ok(ops),
            (_, Some(e)) => Err(e),
        }
    }

    #[test]
    fn accepted_forms() {
        let hpub = ClientOp::HPub {
            subject: b("a"),
            reply: Some(b("r")),
            headers: b("NATS/1.0\r\n\r\n"),
            payload: b("hi"),
        };
        let cases: Vec<(&[u8], Vec<ClientOp>)> = vec![
            // Verbs in any case.
            (
                b"PiNg\r\nPONG\r\nping\r\npong\r\n",
                vec![
                    ClientOp::Ping,
                    ClientOp::Pong,
                    ClientOp::Ping,
                    ClientOp::Pong,
                ],
            ),
            (
                b"+ok\r\n-err 'x'\r\n",
                vec![ClientOp::Ok, ClientOp::Err(b("'x'"))],
            ),
            (b"pUb a 1\r\nx\r\n", vec![pubop("a", None, "x")]),
            (
                b"Connect {}\r\nsub a 1\r\nUnSuB 1\r\n",
                vec![
                    ClientOp::Connect(b("{}")),
                    sub("a", None, "1"),
                    unsub("1", None),
                ],
            ),
            (b"hPuB a r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", vec![hpub]),
            // Tabs and runs of blanks, leading and trailing.
            (
                b"PUB\t a \t\tr  3 \t\r\nabc\r\n",
                vec![pubop("a", Some("r"), "abc")],
            ),
            (
                b"SUB\t\tfoo.>   q\t9\r\n",
                vec![sub("foo.>", Some("q"), "9")],
            ),
            (b"UNSUB  7 \t 10  \r\n", vec![unsub("7", Some(10))]),
            (
                b"CONNECT \t {\"a\":1} \t\r\n",
                vec![ClientOp::Connect(b("{\"a\":1}"))],
            ),
            (b"-ERR\t 'Slow'  \r\n", vec![ClientOp::Err(b("'Slow'"))]),
            // parser.go drops '\r' only when present: '\n' alone ends any line.
            (
                b"PING\nPUB a 2\nhi\r\nSUB a 1\n",
                vec![ClientOp::Ping, pubop("a", None, "hi"), sub("a", None, "1")],
            ),
            // OP_PING/OP_PONG/OP_PLUS_OK ignore every byte up to '\n'.
            (
                b"PING   \r\nPINGxyz\r\nPONG \t\r\n+OK  \r\n",
                vec![ClientOp::Ping, ClientOp::Ping, ClientOp::Pong, ClientOp::Ok],
            ),
            // OP_CONNECT skips blanks without requiring one; an empty argument is
            // left to the JSON decoder to refuse.
            (
                b"CONNECT{\"v\":1}\r\nCONNECT\r\n",
                vec![
                    ClientOp::Connect(b("{\"v\":1}")),
                    ClientOp::Connect(Bytes::new()),
                ],
            ),
            // A client's INFO is parsed and ignored by nats-server.
            (b"INFO {}\r\nPING\r\n", vec![ClientOp::Ping]),
            (b"PUB a 0\r\n\r\n", vec![pubop("a", None, "")]),
            // processUnsub: parseSize gives -1 for a bad max and the sub goes at once.
            (
                b"UNSUB 1 abc\r\nUNSUB 1 1234567890\r\n",
                vec![unsub("1", None), unsub("1", None)],
            ),
            (
                b"UNSUB 1 0\r\nUNSUB 1 999999999\r\n",
                vec![unsub("1", Some(0)), unsub("1", Some(999_999_999))],
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(
                decode_all(input),
                Ok(expected),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn rejected_forms() {
        use ProtocolError::UnknownOperation;
        let bad = |verb, reason| ProtocolError::BadArguments { verb, reason };
        let (pub_few, pub_many) = (
            bad("PUB", "too few arguments"),
            bad("PUB", "too many arguments"),
        );
        let pub_size = bad("PUB", "bad or missing size");
        let cases: Vec<(&[u8], ProtocolError)> = vec![
            // parseErr: -ERR 'Unknown Protocol Operation'.
            (b"FOO\r\n", UnknownOperation),
            (b"\r\n", UnknownOperation),
            (b"PUB\r\n", UnknownOperation),
            (b"SUB\r\n", UnknownOperation),
            (b"UNSUB\r\n", UnknownOperation),
            (b"PUBX a 1\r\n", UnknownOperation),
            (b"PIN\r\n", UnknownOperation),
            (b"-ERR\r\n", UnknownOperation),
            (b"MSG a 1 1\r\nx\r\n", UnknownOperation),
            (b"HMSG a 1 0 0\r\n\r\n", UnknownOperation),
            (b"RS+ a\r\n", UnknownOperation),
            (b"A+ a\r\n", UnknownOperation),
            (b"PUB a 1\r\nxy\r\n", UnknownOperation),
            (b"PUB a 1\r\nx\n", UnknownOperation),
            (b"PING\r\nPUB a 1\r\nx\rX", UnknownOperation),
            // processPub & co.: connection closed without -ERR.
            (b"PUB a\r\n", pub_few.clone()),
            (b"PUB \r\n", pub_few),
            (b"PUB a r 1 x\r\n", pub_many),
            (b"PUB a b\r\n", pub_size.clone()),
            (b"PUB a -1\r\n", pub_size.clone()),
            (b"PUB a +1\r\n", pub_size.clone()),
            (b"PUB a 1x\r\n", pub_size.clone()),
            (b"PUB a 1000000000\r\n", pub_size.clone()),
            (b"PUB a 99999999999999999999999\r\n", pub_size),
            (b"HPUB a 1\r\n", bad("HPUB", "too few arguments")),
            (b"HPUB a r 1 2 3\r\n", bad("HPUB", "too many arguments")),
            (b"HPUB a x 2\r\n", bad("HPUB", "bad or missing header size")),
            (b"HPUB a 1 x\r\n", bad("HPUB", "bad or missing total size")),
            (
                b"HPUB a 1 1234567890\r\n",
                bad("HPUB", "bad or missing total size"),
            ),
            (
                b"HPUB a 5 4\r\nabcd\r\n",
                bad("HPUB", "header size larger than total size"),
            ),
            (b"SUB a\r\n", bad("SUB", "too few arguments")),
            (b"SUB  \r\n", bad("SUB", "too few arguments")),
            (b"SUB a q 1 x\r\n", bad("SUB", "too many arguments")),
            (b"UNSUB 1 2 3\r\n", bad("UNSUB", "too many arguments")),
            (b"UNSUB  \r\n", bad("UNSUB", "missing sid")),
        ];
        for (input, expected) in cases {
            assert_eq!(
                decode_all(input),
                Err(expected),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn megabyte_line_without_newline_fails_at_the_limit() {
        for verb in [&b"SUB "[..], b"CONNECT ", b"-ERR ", b"PUB\t  "] {
            let mut dec = Decoder::new(MCL, MAX_PAYLOAD);
            let mut buf = BytesMut::from(verb);
            let mut argument = 0;
            let result = loop {
                buf.extend_from_slice(b"x");
                argument += 1;
                match dec.decode(&mut buf) {
                    Ok(None) if argument < 1 << 20 => {}
                    other => break other,
                }
            };
            assert_eq!(result, Err(ProtocolError::MaxControlLine));
            assert_eq!(argument, MCL + 1, "{verb:?}");
        }
        // The same with one big read.
        let mut buf = BytesMut::from(&b"PUB "[..]);
        buf.extend(std::iter::repeat_n(b'x', 1 << 20));
        let result = Decoder::new(MCL, MAX_PAYLOAD).decode(&mut buf);
        assert_eq!(result, Err(ProtocolError::MaxControlLine));
    }

    #[test]
    fn skipped_bytes_are_not_buffered() {
        // nats-server drops blanks after a verb and text after PING as they
        // arrive; so does the decoder, once a line passes the limit.
        let mut dec = Decoder::new(64, MAX_PAYLOAD);
        for (start, filler, end, expected) in [
            (
                &b"PUB"[..],
                &b" \t"[..],
                &b"a 1\r\nx\r\n"[..],
                pubop("a", None, "x"),
            ),
            (b"PING", b"junk", b"\r\n", ClientOp::Ping),
            (b"+OK", b"junk", b"\n", ClientOp::Ok),
        ] {
            let mut buf = BytesMut::from(start);
            for _ in 0..10_000 {
                buf.extend_from_slice(filler);
                assert_eq!(dec.decode(&mut buf), Ok(None));
                assert!(buf.len() <= 64 + 8, "{start:?} buffered {}", buf.len());
            }
            buf.extend_from_slice(end);
            assert_eq!(dec.decode(&mut buf), Ok(Some(expected)));
        }
    }

    const SAMPLE: &[u8] = b"CONNECT {\"verbose\":false,\"headers\":true}\r\n\
        PING\r\n\
        pong\r\n\
        +OK\r\n\
        -ERR 'Stale Connection'\r\n\
        SUB foo.* 1\r\n\
        sub\tfoo.> workers  2\r\n\
        PUB foo.bar 5\r\nhello\r\n\
        Pub foo.bar _INBOX.1 0\r\n\r\n\
        HPUB foo r 12 16\r\nNATS/1.0\r\n\r\nbody\r\n\
        INFO {}\r\n\
        UNSUB 1\r\n\
        unsub 2 10\n\
        PUB big 12\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\
        PING\n";

    fn sample_ops() -> Vec<ClientOp> {
        vec![
            ClientOp::Connect(b("{\"verbose\":false,\"headers\":true}")),
            ClientOp::Ping,
            ClientOp::Pong,
            ClientOp::Ok,
            ClientOp::Err(b("'Stale Connection'")),
            ClientOp::Sub {
                subject: b("foo.*"),
                queue: None,
                sid: b("1"),
            },
            ClientOp::Sub {
                subject: b("foo.>"),
                queue: Some(b("workers")),
                sid: b("2"),
            },
            ClientOp::Pub {
                subject: b("foo.bar"),
                reply: None,
                payload: b("hello"),
            },
            ClientOp::Pub {
                subject: b("foo.bar"),
                reply: Some(b("_INBOX.1")),
                payload: Bytes::new(),
            },
            ClientOp::HPub {
                subject: b("foo"),
                reply: Some(b("r")),
                headers: b("NATS/1.0\r\n\r\n"),
                payload: b("body"),
            },
            ClientOp::Unsub {
                sid: b("1"),
                max: None,
            },
            ClientOp::Unsub {
                sid: b("2"),
                max: Some(10),
            },
            ClientOp::Pub {
                subject: b("big"),
                reply: None,
                payload: b("\r\n\r\n\r\n\r\n\r\n\r\n"),
            },
            ClientOp::Ping,
        ]
    }

    #[test]
    fn many_ops_in_one_buffer() {
        assert_eq!(
            decode_chunked(SAMPLE, &[], MCL, MAX_PAYLOAD),
            (sample_ops(), None)
        );
    }

    #[test]
    fn every_split_point() {
        for at in 0..=SAMPLE.len() {
            let got = decode_chunked(SAMPLE, &[at], MCL, MAX_PAYLOAD);
            assert_eq!(got, (sample_ops(), None), "split at {at}");
        }
    }

    #[test]
    fn every_pair_of_split_points() {
        for first in 1..SAMPLE.len() {
            for second in 1..SAMPLE.len() - first {
                let got = decode_chunked(SAMPLE, &[first, second], MCL, MAX_PAYLOAD);
                assert_eq!(got, (sample_ops(), None), "split at {first}+{second}");
            }
        }
    }

    #[test]
    fn one_byte_at_a_time() {
        let ones = vec![1; SAMPLE.len()];
        assert_eq!(
            decode_chunked(SAMPLE, &ones, MCL, MAX_PAYLOAD),
            (sample_ops(), None)
        );
    }

    #[test]
    fn errors_do_not_depend_on_splits() {
        let cases: &[&[u8]] = &[
            b"PING\r\nPUB a 3\r\nabcX\r\n",
            b"SUB a 1\r\nFOO\r\n",
            b"PUB a 2000000\r\n",
            b"PUB a 1\r\nx\r\nHPUB a 3 2\r\n",
        ];
        for input in cases {
            let whole = decode_chunked(input, &[], MCL, MAX_PAYLOAD);
            assert!(whole.1.is_some(), "{input:?}");
            for at in 0..=input.len() {
                assert_eq!(
                    decode_chunked(input, &[at], MCL, MAX_PAYLOAD),
                    whole,
                    "{input:?} at {at}"
                );
            }
        }
    }

    // ---- property tests ----

    /// Bytes that can appear inside an argument: anything but blanks and line ends.
    fn token() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            any::<u8>().prop_filter("separator", |b| !b" \t\r\n".contains(b)),
            1..12,
        )
    }

    fn blanks() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(prop_oneof![Just(b' '), Just(b'\t')], 1..3)
    }

    fn payload() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            4 => prop::collection::vec(any::<u8>(), 0..40),
            1 => prop::collection::vec(any::<u8>(), 0..5000),
        ]
    }

    fn op() -> impl Strategy<Value = ClientOp> {
        let bytes = |v: Vec<u8>| Bytes::from(v);
        prop_oneof![
            Just(ClientOp::Ping),
            Just(ClientOp::Pong),
            Just(ClientOp::Ok),
            "\\{[a-z\":,0-9 ]{0,30}\\}".prop_map(|s| ClientOp::Connect(Bytes::from(s))),
            "'[A-Za-z ]{0,20}'".prop_map(|s| ClientOp::Err(Bytes::from(s))),
            (token(), prop::option::of(token()), payload()).prop_map(move |(s, r, p)| {
                ClientOp::Pub {
                    subject: bytes(s),
                    reply: r.map(bytes),
                    payload: bytes(p),
                }
            }),
            (token(), prop::option::of(token()), payload(), payload()).prop_map(
                move |(s, r, h, p)| {
                    ClientOp::HPub {
                        subject: bytes(s),
                        reply: r.map(bytes),
                        headers: bytes(h),
                        payload: bytes(p),
                    }
                }
            ),
            (token(), prop::option::of(token()), token()).prop_map(move |(s, q, sid)| {
                ClientOp::Sub {
                    subject: bytes(s),
                    queue: q.map(bytes),
                    sid: bytes(sid),
                }
            }),
            (token(), prop::option::of(0u64..1_000_000_000)).prop_map(move |(sid, max)| {
                ClientOp::Unsub {
                    sid: bytes(sid),
                    max,
                }
            }),
        ]
    }

    /// How one op is spelled: verb case, blanks, line end, trailing blanks.
    #[derive(Debug, Clone)]
    struct Style {
        upper: Vec<bool>,
        seps: Vec<Vec<u8>>,
        crlf: bool,
        trailing: Vec<u8>,
    }

    fn style() -> impl Strategy<Value = Style> {
        (
            prop::collection::vec(any::<bool>(), 7),
            prop::collection::vec(blanks(), 5),
            any::<bool>(),
            prop_oneof![Just(Vec::new()), blanks()],
        )
            .prop_map(|(upper, seps, crlf, trailing)| Style {
                upper,
                seps,
                crlf,
                trailing,
            })
    }

    /// A client-side encoder written for the test, independent of the decoder.
    fn encode(op: &ClientOp, st: &Style, out: &mut Vec<u8>) {
        let verb = |out: &mut Vec<u8>, v: &str| {
            for (i, c) in v.bytes().enumerate() {
                out.push(if st.upper[i % st.upper.len()] {
                    c.to_ascii_uppercase()
                } else {
                    c
                });
            }
        };
        let mut args: Vec<Vec<u8>> = Vec::new();
        let name = match op {
            ClientOp::Ping => "ping",
            ClientOp::Pong => "pong",
            ClientOp::Ok => "+ok",
            ClientOp::Connect(j) => {
                args.push(j.to_vec());
                "connect"
            }
            ClientOp::Err(t) => {
                args.push(t.to_vec());
                "-err"
            }
            ClientOp::Pub {
                subject,
                reply,
                payload,
            } => {
                args.push(subject.to_vec());
                args.extend(reply.iter().map(|r| r.to_vec()));
                args.push(payload.len().to_string().into_bytes());
                "pub"
            }
            ClientOp::HPub {
                subject,
                reply,
                headers,
                payload,
            } => {
                args.push(subject.to_vec());
                args.extend(reply.iter().map(|r| r.to_vec()));
                args.push(headers.len().to_string().into_bytes());
                args.push((headers.len() + payload.len()).to_string().into_bytes());
                "hpub"
            }
            ClientOp::Sub {
                subject,
                queue,
                sid,
            } => {
                args.push(subject.to_vec());
                args.extend(queue.iter().map(|q| q.to_vec()));
                args.push(sid.to_vec());
                "sub"
            }
            ClientOp::Unsub { sid, max } => {
                args.push(sid.to_vec());
                args.extend(max.iter().map(|m| m.to_string().into_bytes()));
                "unsub"
            }
        };
        verb(out, name);
        for (i, a) in args.iter().enumerate() {
            out.extend_from_slice(&st.seps[i % st.seps.len()]);
            out.extend_from_slice(a);
        }
        out.extend_from_slice(&st.trailing);
        out.extend_from_slice(if st.crlf { b"\r\n" } else { b"\n" });
        match op {
            ClientOp::Pub { payload, .. } => out.extend_from_slice(payload),
            ClientOp::HPub {
                headers, payload, ..
            } => {
                out.extend_from_slice(headers);
                out.extend_from_slice(payload);
            }
            _ => return,
        }
        out.extend_from_slice(b"\r\n");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn valid_ops_round_trip(
            ops in prop::collection::vec((op(), style()), 1..20),
            chunks in prop::collection::vec(1usize..64, 0..64),
        ) {
            let mut wire = Vec::new();
            for (op, st) in &ops {
                encode(op, st, &mut wire);
            }
            let expected: Vec<ClientOp> = ops.into_iter().map(|(op, _)| op).collect();
            prop_assert_eq!(decode_chunked(&wire, &chunks, MCL, MAX_PAYLOAD), (expected, None));
        }

        #[test]
        fn random_bytes_never_panic(
            input in prop::collection::vec(any::<u8>(), 0..512),
            chunks in prop::collection::vec(1usize..32, 0..32),
            mcl in 0usize..64,
            max_payload in 0usize..64,
        ) {
            let whole = decode_chunked(&input, &[], mcl, max_payload);
            prop_assert_eq!(decode_chunked(&input, &chunks, mcl, max_payload), whole);
        }

        #[test]
        fn protocol_like_bytes_never_panic(
            pieces in prop::collection::vec(prop::sample::select(vec![
                "PUB ", "HPUB ", "SUB ", "UNSUB ", "PING", "PONG", "+OK", "-ERR ", "CONNECT",
                "INFO ", " ", "\t", "\r\n", "\n", "\r", "a", "0", "1", "2", "12", "999999999",
                "1000000000", "NATS/1.0\r\n\r\n", "pu", "b", "x",
            ]), 0..60),
            chunks in prop::collection::vec(1usize..16, 0..64),
            mcl in 0usize..40,
            max_payload in 0usize..40,
        ) {
            let input = pieces.concat().into_bytes();
            let whole = decode_chunked(&input, &[], mcl, max_payload);
            prop_assert_eq!(decode_chunked(&input, &chunks, mcl, max_payload), whole);
        }
    }
}
