//! TLS on the NATS client port through the real binary, with async-nats: server
//! authentication, mutual TLS, certificate subjects as users (`verify_and_map`), and what a
//! plain client gets from a TLS-only port.

mod common;

use std::sync::Arc;
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
    let connz = server.monitor_json("/connz?auth=1").await;
    assert_eq!(
        connz["connections"][0]["authorized_user"], "CN=alice,O=Acme",
        "{connz}"
    );

    // A valid certificate whose subject is not a user: authorization violation.
    let bob = pki.client("bob", "Acme");
    assert!(tls_client(&server, &pki, Some(&bob)).await.is_err());
}

/// A config with HTTPS/WSS on the API port and HTTPS on the monitor port.
fn https_config(pki: &Pki) -> String {
    let (cert, key) = pki.server();
    let tls = format!("cert_file = \"{}\"\nkey_file = \"{}\"\n", s(&cert), s(&key));
    format!("[api.tls]\n{tls}\n[monitor]\nport = -1\n[monitor.tls]\n{tls}")
}

fn https_client(pki: &Pki) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(pki.ca()).unwrap()).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap()
}

#[tokio::test]
async fn https_api_and_monitor() {
    let pki = Pki::new("test CA");
    let server = Server::with_config(&https_config(&pki), &[]);
    let api = format!("https://{}", server.api.as_ref().unwrap());
    let monitor = format!("https://{}", server.monitor.as_ref().unwrap());
    let http = https_client(&pki);

    let nc = async_nats::connect(server.url()).await.unwrap();
    let mut sub = nc.subscribe("web.secure").await.unwrap();
    common::sync(&nc).await;
    let resp = http
        .post(format!("{api}/v1/publish/web.secure"))
        .body("over https")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let m = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&m.payload[..], b"over https");
    let health = http.get(format!("{monitor}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);

    // Plain HTTP to an HTTPS port is refused; the port keeps serving HTTPS clients.
    let plain = format!("http://{}/healthz", server.monitor.as_ref().unwrap());
    assert!(reqwest::get(plain).await.is_err());
    let health = http.get(format!("{monitor}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn wss_carries_the_nats_protocol() {
    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::Message;

    let pki = Pki::new("test CA");
    let server = Server::with_config(&https_config(&pki), &[]);
    let addr = server.api.clone().unwrap();

    let mut roots = rustls::RootCertStore::empty();
    let ca = std::fs::read(pki.ca()).unwrap();
    for cert in rustls_pemfile_certs(&ca) {
        roots.add(cert).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("TLS handshake with the API port");
    let (mut ws, _) = tokio_tungstenite::client_async(format!("wss://{addr}/nats"), tls)
        .await
        .expect("WebSocket upgrade over TLS");
    let first = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let text = String::from_utf8(first.into_data().to_vec()).unwrap();
    assert!(text.starts_with("INFO "), "{text}");
    ws.send(Message::binary(
        &b"CONNECT {\"verbose\":false}\r\nPING\r\n"[..],
    ))
    .await
    .unwrap();
    let pong = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(&pong.into_data()[..], b"PONG\r\n");
}

fn rustls_pemfile_certs(pem: &[u8]) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .map(|c| c.unwrap())
        .collect()
}
