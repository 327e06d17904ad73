//! Byte-level protocol behaviour and hostile input, over raw TCP: each bad input gets the
//! -ERR nats-server sends (closing the connection when it is fatal), and the server keeps
//! serving everyone else.

mod common;

use common::{Raw, Server};

const CONNECT: &[u8] =
    b"CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true}\r\n";

async fn connected(server: &Server) -> Raw {
    let (mut raw, _) = Raw::connect(&server.addr).await;
    raw.send(CONNECT).await;
    raw.send(b"PING\r\n").await;
    assert_eq!(raw.line().await.as_deref(), Some("PONG"));
    raw
}

/// The connection got exactly `err` and was closed; other clients did not notice.
async fn refused(server: &Server, raw: &mut Raw, err: &str) {
    let reply = raw.line().await.unwrap_or_default();
    assert!(reply.starts_with(err), "expected {err:?}, got {reply:?}");
    assert!(raw.closed().await);
    others_unaffected(server).await;
}

/// A healthy client still round-trips a message after the abuse.
async fn others_unaffected(server: &Server) {
    let mut c = connected(server).await;
    c.send(b"SUB check 1\r\nPUB check 2\r\nok\r\nPING\r\n")
        .await;
    assert_eq!(c.line().await.as_deref(), Some("MSG check 1 2"));
    assert_eq!(c.line().await.as_deref(), Some("ok"));
    assert_eq!(c.line().await.as_deref(), Some("PONG"));
}

#[tokio::test]
async fn info_carries_the_fields_clients_read() {
    let server = Server::start(&[]);
    let (_raw, info) = Raw::connect(&server.addr).await;
    let v: serde_json::Value = serde_json::from_str(&info["INFO ".len()..]).unwrap();
    for key in [
        "server_id",
        "server_name",
        "version",
        "proto",
        "host",
        "port",
        "headers",
        "max_payload",
        "jetstream",
        "client_id",
        "client_ip",
        "auth_required",
    ] {
        assert!(v.get(key).is_some(), "INFO lacks {key}: {info}");
    }
    assert_eq!(v["client_ip"], "127.0.0.1");
}

#[tokio::test]
async fn verbose_mode_acknowledges_every_op() {
    let server = Server::start(&[]);
    let (mut raw, _) = Raw::connect(&server.addr).await;
    // CONNECT with no fields: verbose and pedantic default to true.
    raw.send(b"CONNECT {}\r\n").await;
    assert_eq!(raw.line().await.as_deref(), Some("+OK"));
    raw.send(b"sub foo 1\r\npub foo 3\r\nbar\r\nunsub 1\r\n")
        .await;
    assert_eq!(raw.line().await.as_deref(), Some("+OK"));
    // The message and the +OK for the PUB can come in either order relative to each other
    // only if the server reorders; it must not.
    assert_eq!(raw.line().await.as_deref(), Some("MSG foo 1 3"));
    assert_eq!(raw.line().await.as_deref(), Some("bar"));
    assert_eq!(raw.line().await.as_deref(), Some("+OK"));
    assert_eq!(raw.line().await.as_deref(), Some("+OK"));
    // Pedantic: publishing to a wildcard is refused, the connection stays.
    raw.send(b"PUB foo.* 0\r\n\r\nPING\r\n").await;
    assert_eq!(
        raw.line().await.as_deref(),
        Some("-ERR 'Invalid Publish Subject'")
    );
    assert_eq!(raw.line().await.as_deref(), Some("PONG"));
}

#[tokio::test]
async fn hpub_and_reply_subjects_are_framed_exactly() {
    let server = Server::start(&[]);
    let mut raw = connected(&server).await;
    raw.send(b"SUB h 9\r\nHPUB h inbox.1 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n")
        .await;
    assert_eq!(raw.line().await.as_deref(), Some("HMSG h 9 inbox.1 18 23"));
    let body = raw.bytes(25).await;
    assert_eq!(&body, b"NATS/1.0\r\nA: b\r\n\r\nhello\r\n");
}

#[tokio::test]
async fn no_responders_status_message() {
    let server = Server::start(&[]);
    let mut raw = connected(&server).await;
    raw.send(b"SUB _INBOX.x.* 1\r\nPUB nobody.home _INBOX.x.1 2\r\nhi\r\n")
        .await;
    // nats-server: header "NATS/1.0 503\r\nNats-Subject: <subject>\r\n\r\n".
    let hdr = "NATS/1.0 503\r\nNats-Subject: nobody.home\r\n\r\n";
    assert_eq!(
        raw.line().await,
        Some(format!("HMSG _INBOX.x.1 1 {} {}", hdr.len(), hdr.len()))
    );
    assert_eq!(
        raw.bytes(hdr.len() + 2).await,
        format!("{hdr}\r\n").as_bytes()
    );
}

#[tokio::test]
async fn unknown_operation_is_fatal() {
    let server = Server::start(&[]);
    let mut raw = connected(&server).await;
    raw.send(b"FOO bar\r\n").await;
    refused(&server, &mut raw, "-ERR 'Unknown Protocol Operation'").await;
}

#[tokio::test]
async fn payload_over_max_is_refused_before_it_arrives() {
    let server = Server::start(&[]);
    let mut raw = connected(&server).await;
    raw.send(b"PUB foo 2000000\r\n").await;
    refused(&server, &mut raw, "-ERR 'Maximum Payload Violation'").await;
}

#[tokio::test]
async fn long_control_line_is_refused() {
    let server = Server::start(&[]);
    let mut raw = connected(&server).await;
    // 1 MB without a newline: the error comes long before the line would end.
    let junk = vec![b'A'; 1024 * 1024];
    let mut line = b"PUB ".to_vec();
    line.extend_from_slice(&junk);
    raw.send(&line[..8192]).await;
    refused(&server, &mut raw, "-ERR 'maximum control line exceeded").await;
}

#[tokio::test]
async fn wrong_byte_count_is_a_protocol_error() {
    let server = Server::start(&[]);
    let mut raw = connected(&server).await;
    // Says 3 bytes, sends 5: the byte after the payload is not CRLF.
    raw.send(b"PUB foo 3\r\nhello\r\n").await;
    refused(&server, &mut raw, "-ERR 'Unknown Protocol Operation'").await;
}

#[tokio::test]
async fn hpub_header_larger_than_total_is_refused() {
    let server = Server::start(&[]);
    let mut raw = connected(&server).await;
    // nats-server closes without an -ERR for malformed arguments; clients reconnect.
    raw.send(b"HPUB foo 30 10\r\n").await;
    assert!(raw.closed().await);
    others_unaffected(&server).await;
}

#[tokio::test]
async fn invalid_subjects_are_refused_but_not_fatal() {
    let server = Server::start(&[]);
    let mut raw = connected(&server).await;
    for bad in ["a..b", "a.>.b", "a.b.", ".x"] {
        raw.send(format!("SUB {bad} 1\r\n").as_bytes()).await;
        assert_eq!(raw.line().await.as_deref(), Some("-ERR 'Invalid Subject'"));
    }
    raw.send(b"PING\r\n").await;
    assert_eq!(raw.line().await.as_deref(), Some("PONG"));
}

#[tokio::test]
async fn broken_connect_json_closes_with_an_error() {
    let server = Server::start(&[]);
    let (mut raw, _) = Raw::connect(&server.addr).await;
    raw.send(b"CONNECT {\"verbose\":\r\n").await;
    refused(&server, &mut raw, "-ERR ").await;
}

#[tokio::test]
async fn random_bytes_never_hurt_the_server() {
    let server = Server::start(&[]);
    let mut seed: u64 = 0x5eed;
    for _ in 0..20 {
        let (mut raw, _) = Raw::connect(&server.addr).await;
        let junk: Vec<u8> = (0..4096)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        raw.send(&junk).await;
        assert!(raw.closed().await, "garbage must end the connection");
    }
    others_unaffected(&server).await;
}

#[tokio::test]
async fn ops_split_across_reads_are_reassembled() {
    let server = Server::start(&[]);
    let mut raw = connected(&server).await;
    let stream = b"SUB split 1\r\nPUB split 11\r\nhello world\r\nPING\r\n";
    for b in stream.iter() {
        raw.send(&[*b]).await;
    }
    assert_eq!(raw.line().await.as_deref(), Some("MSG split 1 11"));
    assert_eq!(raw.line().await.as_deref(), Some("hello world"));
    assert_eq!(raw.line().await.as_deref(), Some("PONG"));
}

#[tokio::test]
async fn hpub_without_headers_in_connect_closes() {
    let server = Server::start(&[]);
    let (mut raw, _) = Raw::connect(&server.addr).await;
    raw.send(b"CONNECT {\"verbose\":false}\r\nHPUB h 12 12\r\nNATS/1.0\r\n\r\n\r\n")
        .await;
    assert!(raw.closed().await);
    others_unaffected(&server).await;
}

#[tokio::test]
async fn err_from_a_client_closes_its_connection() {
    let server = Server::start(&[]);
    let mut raw = connected(&server).await;
    raw.send(b"-ERR 'whatever'\r\n").await;
    assert!(raw.closed().await);
}

#[tokio::test]
async fn the_internal_sys_queue_group_is_refused() {
    let server = Server::start(&[]);
    let mut raw = connected(&server).await;
    raw.send(b"SUB foo _sys_ 1\r\nPING\r\n").await;
    assert_eq!(
        raw.line().await.as_deref(),
        Some("-ERR 'Permissions Violation for Subscription to \"foo\" using queue \"_sys_\"'")
    );
    assert_eq!(raw.line().await.as_deref(), Some("PONG"));
}

#[tokio::test]
async fn connections_over_the_limit_are_refused() {
    let server = Server::with_config("[nats]\nmax_connections = 2\n", &[]);
    let _a = connected(&server).await;
    let _b = connected(&server).await;
    let (mut third, _) = Raw::connect(&server.addr).await;
    assert_eq!(
        third.line().await.as_deref(),
        Some("-ERR 'maximum connections exceeded'")
    );
    assert!(third.closed().await);
}

#[tokio::test]
async fn subscriptions_over_the_limit_are_refused_but_not_fatal() {
    let server = Server::with_config("[nats]\nmax_subscriptions = 2\n", &[]);
    let mut raw = connected(&server).await;
    raw.send(b"SUB a 1\r\nSUB b 2\r\nSUB c 3\r\nUNSUB 1\r\nSUB c 3\r\nPING\r\n")
        .await;
    assert_eq!(
        raw.line().await.as_deref(),
        Some("-ERR 'maximum subscriptions exceeded'")
    );
    // After an UNSUB there is room again, and the connection is still usable.
    assert_eq!(raw.line().await.as_deref(), Some("PONG"));
    raw.send(b"PUB c 1\r\nx\r\n").await;
    assert_eq!(raw.line().await.as_deref(), Some("MSG c 3 1"));
}
