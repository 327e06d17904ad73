//! nkey authentication through the real binary: INFO carries a fresh nonce per connection,
//! async-nats signs it (`ConnectOptions::with_nkey`) over TCP and over both WebSocket
//! endpoints, permissions apply to the key, monitoring shows it, and wrong keys, unknown keys
//! and signatures of another connection's nonce are refused. Keys are made at test time.

mod common;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::{Raw, Server, sync};
use futures::StreamExt;

/// A server with one nkey user (limited to `nk.>`, and the subject `sync` uses) beside one
/// password user, the monitor and a WebSocket listener.
fn server(public_key: &str) -> Server {
    let toml = format!(
        r#"
        [websocket]
        port = -1
        [[auth.users]]
        nkey = "{public_key}"
        admin = true
        [auth.users.permissions]
        publish = ["nk.>", "_sluice_test.>"]
        subscribe = ["nk.>", "_INBOX.>"]
        [[auth.users]]
        user = "bob"
        password = "pw"
        "#
    );
    Server::with_config(&toml, &["-m", "-1"])
}

fn is_auth_violation(e: &async_nats::ConnectError) -> bool {
    e.kind() == async_nats::ConnectErrorKind::AuthorizationViolation
}

async fn connect_nkey(
    url: &str,
    seed: &str,
) -> Result<async_nats::Client, async_nats::ConnectError> {
    async_nats::ConnectOptions::with_nkey(seed.to_string())
        .connect(url)
        .await
}

async fn next(sub: &mut async_nats::Subscriber) -> async_nats::Message {
    let next = tokio::time::timeout(Duration::from_secs(5), sub.next()).await;
    next.expect("a message within 5 s")
        .expect("subscription open")
}

/// The `nonce` of an INFO line, if it has one.
fn nonce_of(info: &str) -> Option<String> {
    let json: serde_json::Value =
        serde_json::from_str(info.trim_start_matches("INFO ")).expect("INFO is JSON");
    json["nonce"].as_str().map(str::to_string)
}

/// A CONNECT line as a client library writes it for an nkey.
fn connect_line(public_key: &str, sig: &str) -> Vec<u8> {
    let json = serde_json::json!({
        "verbose": false, "pedantic": false, "protocol": 1, "headers": true,
        "nkey": public_key, "sig": sig,
    });
    format!("CONNECT {json}\r\nPING\r\n").into_bytes()
}

#[tokio::test]
async fn a_signed_nonce_authenticates_and_the_keys_permissions_apply() {
    let key = nkeys::KeyPair::new_user();
    let (public_key, seed) = (key.public_key(), key.seed().unwrap());
    let server = server(&public_key);

    let nk = connect_nkey(&server.url(), &seed)
        .await
        .expect("a configured key connects");
    assert!(nk.server_info().auth_required);
    let bob = async_nats::ConnectOptions::new()
        .user_and_password("bob".into(), "pw".into())
        .connect(server.url())
        .await
        .expect("a password user still works beside nkey users");
    let mut bobs = bob.subscribe("other.>").await.unwrap();
    sync(&bob).await;
    let mut mine = nk.subscribe("nk.>").await.unwrap();
    // Outside its permissions: the subscription is refused, and so is the publish.
    let mut denied = nk.subscribe("other.>").await.unwrap();
    nk.publish("nk.one", "mine".into()).await.unwrap();
    nk.publish("other.one", "not allowed".into()).await.unwrap();
    sync(&nk).await;
    bob.publish("nk.two", "from bob".into()).await.unwrap();
    bob.publish("other.two", "from bob".into()).await.unwrap();
    sync(&bob).await;
    assert_eq!(next(&mut mine).await.subject.as_str(), "nk.one");
    assert_eq!(next(&mut mine).await.subject.as_str(), "nk.two");
    assert_eq!(
        next(&mut bobs).await.subject.as_str(),
        "other.two",
        "the nkey user's other.one was refused"
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(300), denied.next())
            .await
            .is_err(),
        "a refused subscription receives nothing"
    );

    // The key is the user name in monitoring, as nats-server shows it.
    let connz = server.monitor_json("/connz?auth=1").await;
    let users: Vec<_> = connz["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            c["authorized_user"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert!(
        users.contains(&public_key) && users.contains(&"bob".to_string()),
        "{users:?}"
    );
}

#[tokio::test]
async fn nkeys_work_over_both_websocket_endpoints_and_not_over_http() {
    let key = nkeys::KeyPair::new_user();
    let (public_key, seed) = (key.public_key(), key.seed().unwrap());
    let server = server(&public_key);
    let api_ws = format!("{}/nats", server.api_url().replace("http://", "ws://"));
    for url in [server.websocket.clone().unwrap(), api_ws] {
        let nc = connect_nkey(&url, &seed)
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        let mut sub = nc.subscribe("nk.ws").await.unwrap();
        sync(&nc).await;
        nc.publish("nk.ws", "over ws".into()).await.unwrap();
        assert_eq!(next(&mut sub).await.payload, "over ws", "{url}");
        let stranger = nkeys::KeyPair::new_user().seed().unwrap();
        let refused = connect_nkey(&url, &stranger)
            .await
            .expect_err("unknown key");
        assert!(is_auth_violation(&refused), "{url}: {refused}");
    }
    // HTTP cannot sign a nonce: neither the key nor its seed is a password.
    let http = reqwest::Client::new()
        .post(format!("{}/v1/publish/nk.http", server.api_url()))
        .basic_auth(&public_key, Some(&seed))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(http.status(), 401);
}

#[tokio::test]
async fn unknown_keys_and_foreign_signatures_are_refused() {
    let key = nkeys::KeyPair::new_user();
    let public_key = key.public_key();
    let server = server(&public_key);

    // async-nats sends the public key of its seed: a key nobody configured.
    let stranger = nkeys::KeyPair::new_user();
    let e = connect_nkey(&server.url(), &stranger.seed().unwrap())
        .await
        .expect_err("unknown");
    assert!(is_auth_violation(&e), "{e}");

    // The configured key with a signature made by another seed.
    let (mut raw, info) = Raw::connect(&server.addr).await;
    let nonce = nonce_of(&info).expect("a nonce when nkey users exist");
    let forged = URL_SAFE_NO_PAD.encode(stranger.sign(nonce.as_bytes()).unwrap());
    raw.send(&connect_line(&public_key, &forged)).await;
    raw.expect_fatal("Authorization Violation").await;

    // The key without a signature.
    let (mut raw, _) = Raw::connect(&server.addr).await;
    let json = format!("CONNECT {{\"verbose\":false,\"nkey\":\"{public_key}\"}}\r\n");
    raw.send(json.as_bytes()).await;
    raw.expect_fatal("Authorization Violation").await;
}

#[tokio::test]
async fn each_connection_gets_its_own_nonce_and_a_signature_does_not_travel() {
    let key = nkeys::KeyPair::new_user();
    let public_key = key.public_key();
    let server = server(&public_key);

    let (mut first, info1) = Raw::connect(&server.addr).await;
    let (mut second, info2) = Raw::connect(&server.addr).await;
    let (nonce1, nonce2) = (nonce_of(&info1).unwrap(), nonce_of(&info2).unwrap());
    for n in [&nonce1, &nonce2] {
        assert_eq!(n.len(), 15, "nats-server's nonce length: {n}");
        assert!(URL_SAFE_NO_PAD.decode(n).is_ok(), "raw URL base64: {n}");
    }
    assert_ne!(nonce1, nonce2);

    // A signature of the first connection's nonce, replayed on the second, is refused...
    let sig1 = key.sign(nonce1.as_bytes()).unwrap();
    second
        .send(&connect_line(&public_key, &URL_SAFE_NO_PAD.encode(&sig1)))
        .await;
    second.expect_fatal("Authorization Violation").await;
    // ...and accepted where it belongs, also in padded standard base64 (what nats.py sends).
    first
        .send(&connect_line(&public_key, &STANDARD.encode(&sig1)))
        .await;
    assert_eq!(first.line().await.as_deref(), Some("PONG"));

    // Without nkey users there is no nonce, as with nats-server.
    let plain = Server::start(&["--user", "bob", "--pass", "pw"]);
    let (_raw, info) = Raw::connect(&plain.addr).await;
    assert_eq!(nonce_of(&info), None, "{info}");
}
