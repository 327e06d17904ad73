//! TLS on the NATS client port through the real binary, with async-nats: server
//! authentication, mutual TLS, certificate subjects as users (`verify_and_map`), and what a
//! plain client gets from a TLS-only port.

mod common;

use std::time::Duration;

use common::tls::{Pki, s};
use common::{Raw, Server};
use futures::StreamExt;

async fn tls_client(
    server: &Server,
    pki: &Pki,
    cert: Option<&(std::path::PathBuf, std::path::PathBuf)>,
) -> Result<async_nats::Client, async_nats::ConnectError> {
    let mut opts = async_nats::ConnectOptions::new()
        .require_tls(true)
        .add_root_certificates(pki.ca())
        .max_reconnects(0)
        .connection_timeout(Duration::from_secs(5));
    if let Some((c, k)) = cert {
        opts = opts.add_client_certificate(c.clone(), k.clone());
    }
    opts.connect(server.url()).await
}

async fn round_trip(nc: &async_nats::Client, subject: &str) {
    let mut sub = nc.subscribe(subject.to_string()).await.unwrap();
    nc.flush().await.unwrap();
    common::sync(nc).await;
    nc.publish(subject.to_string(), "over tls".into())
        .await
        .unwrap();
    let m = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("message over TLS")
        .unwrap();
    assert_eq!(&m.payload[..], b"over tls");
}

#[tokio::test]
async fn server_tls_with_nats_server_flags() {
    let pki = Pki::new("test CA");
    let (cert, key) = pki.server();
    let server = Server::start(&["--tls", "--tlscert", s(&cert), "--tlskey", s(&key)]);

    // INFO is sent in the clear and says TLS is required.
    let (mut raw, info) = Raw::connect(&server.addr).await;
    assert!(info.contains("\"tls_required\":true"), "{info}");
    assert!(!info.contains("tls_verify"), "{info}");
    // A client that goes on in the clear gets nats-server's error and is closed.
    raw.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n").await;
    assert_eq!(
        raw.line().await.as_deref(),
        Some("-ERR 'Secure Connection - TLS Required'")
    );
    assert!(raw.closed().await);

    let nc = tls_client(&server, &pki, None).await.expect("TLS connect");
    round_trip(&nc, "tls.plain").await;

    // A CA that did not sign the server's certificate: the client refuses the server.
    let other = Pki::new("other CA");
    assert!(tls_client(&server, &other, None).await.is_err());
}

#[tokio::test]
async fn mutual_tls_requires_a_certificate_from_the_ca() {
    let pki = Pki::new("test CA");
    let (cert, key) = pki.server();
    let server = Server::start(&[
        "--tlsverify",
        "--tlscert",
        s(&cert),
        "--tlskey",
        s(&key),
        "--tlscacert",
        s(&pki.ca()),
    ]);
    let (_, info) = Raw::connect(&server.addr).await;
    assert!(info.contains("\"tls_verify\":true"), "{info}");

    let alice = pki.client("alice", "Acme");
    let nc = tls_client(&server, &pki, Some(&alice))
        .await
        .expect("client certificate accepted");
    round_trip(&nc, "tls.mutual").await;

    assert!(
        tls_client(&server, &pki, None).await.is_err(),
        "no client certificate"
    );
    let rogue = Pki::new("rogue CA");
    let mallory = rogue.client("mallory", "Evil");
    assert!(
        tls_client(&server, &pki, Some(&mallory)).await.is_err(),
        "a certificate from another CA"
    );
    // The server is unharmed by the refused handshakes.
    round_trip(&nc, "tls.after").await;
}

#[tokio::test]
async fn verify_and_map_makes_the_certificate_subject_the_user() {
    let pki = Pki::new("test CA");
    let (cert, key) = pki.server();
    let config = format!(
        r#"
[nats.tls]
cert_file = "{}"
key_file = "{}"
ca_file = "{}"
verify_and_map = true

[[auth.users]]
user = "CN=alice,O=Acme"
[auth.users.permissions]
publish = ["orders.>", "_INBOX.>", "_sluice_test.>"]
subscribe = ["orders.>", "_INBOX.>", "_sluice_test.>"]
"#,
        s(&cert),
        s(&key),
        s(&pki.ca())
    );
    let server = Server::with_config(&config, &["-m", "-1"]);

    let alice = pki.client("alice", "Acme");
    let nc = tls_client(&server, &pki, Some(&alice))
        .await
        .expect("alice's certificate maps to a user");
    round_trip(&nc, "orders.new").await;
    let connz: serde_json::Value = reqwest::get(format!("{}/connz?auth=1", server.monitor_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        connz["connections"][0]["authorized_user"], "CN=alice,O=Acme",
        "{connz}"
    );

    // A valid certificate whose subject is not a user: authorization violation.
    let bob = pki.client("bob", "Acme");
    assert!(tls_client(&server, &pki, Some(&bob)).await.is_err());
}
