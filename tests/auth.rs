//! Authentication and authorization through the real binary: tokens, users with plain and
//! bcrypt passwords, publish/subscribe permissions, allow_responses, and the auth timeout.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Raw, Server, eventually};
use futures::StreamExt;

const PERMS: &str = r#"
[[auth.users]]
user = "alice"
password = "pw"
[auth.users.permissions]
publish = { allow = ["orders.>", "_INBOX.>"], deny = ["orders.secret"] }
subscribe = { allow = ["orders.>", "_INBOX.>"], deny = ["orders.hidden"] }

[[auth.users]]
user = "svc"
password = "pw"
[auth.users.permissions]
publish = { allow = ["nothing.here"] }
subscribe = { allow = ["rpc.>"] }
allow_responses = true

[[auth.users]]
user = "bob"
password = "pw"
"#;

async fn connect_user(
    server: &Server,
    user: &str,
    pass: &str,
) -> Result<async_nats::Client, async_nats::ConnectError> {
    async_nats::ConnectOptions::new()
        .user_and_password(user.into(), pass.into())
        .connect(server.url())
        .await
}

#[tokio::test]
async fn token_authentication() {
    let server = Server::start(&["--auth", "s3cret"]);
    let ok = async_nats::ConnectOptions::new()
        .token("s3cret".into())
        .connect(server.url())
        .await;
    assert!(ok.is_ok());
    assert!(ok.unwrap().server_info().auth_required);
    let bad = async_nats::ConnectOptions::new()
        .token("wrong".into())
        .connect(server.url())
        .await
        .unwrap_err();
    assert_eq!(
        bad.kind(),
        async_nats::ConnectErrorKind::AuthorizationViolation
    );
}

#[tokio::test]
async fn user_and_password_from_flags() {
    let server = Server::start(&["--user", "bob", "--pass", "hunter2"]);
    assert!(connect_user(&server, "bob", "hunter2").await.is_ok());
    let err = connect_user(&server, "bob", "nope").await.unwrap_err();
    assert_eq!(
        err.kind(),
        async_nats::ConnectErrorKind::AuthorizationViolation
    );
    let (mut raw, _) = Raw::connect(&server.addr).await;
    raw.send(b"CONNECT {\"verbose\":false}\r\n").await;
    raw.expect_fatal("Authorization Violation").await;
}

#[tokio::test]
async fn bcrypt_passwords() {
    let hash = bcrypt::hash("letmein", 4).unwrap();
    let toml = format!("[[auth.users]]\nuser = \"carol\"\npassword = \"{hash}\"\n");
    let server = Server::with_config(&toml, &[]);
    assert!(connect_user(&server, "carol", "letmein").await.is_ok());
    assert!(connect_user(&server, "carol", "letmeout").await.is_err());
}

#[tokio::test]
async fn ops_before_connect_are_an_authorization_violation() {
    let server = Server::start(&["--auth", "t"]);
    let (mut raw, _) = Raw::connect(&server.addr).await;
    raw.send(b"PUB foo 0\r\n\r\n").await;
    raw.expect_fatal("Authorization Violation").await;
}

#[tokio::test]
async fn authentication_timeout() {
    let server = Server::with_config(
        "[nats]\nauth_timeout = \"300ms\"\n[auth]\ntoken = \"t\"\n",
        &[],
    );
    let (mut raw, _) = Raw::connect(&server.addr).await;
    raw.expect_fatal("Authentication Timeout").await;
}

fn error_collector() -> (async_nats::ConnectOptions, Arc<Mutex<Vec<String>>>) {
    let errors = Arc::new(Mutex::new(Vec::new()));
    let sink = errors.clone();
    let opts = async_nats::ConnectOptions::new().event_callback(move |event| {
        let sink = sink.clone();
        async move {
            if let async_nats::Event::ServerError(e) = event {
                sink.lock().unwrap().push(e.to_string());
            }
        }
    });
    (opts, errors)
}

#[tokio::test]
async fn publish_and_subscribe_permissions() {
    let server = Server::with_config(PERMS, &[]);
    let (opts, errors) = error_collector();
    let nc = opts
        .user_and_password("alice".into(), "pw".into())
        .connect(server.url())
        .await
        .unwrap();
    let mut all = nc.subscribe("orders.>").await.unwrap();
    nc.flush().await.unwrap();

    nc.publish("orders.secret", "x".into()).await.unwrap();
    nc.publish("orders.hidden", "y".into()).await.unwrap();
    nc.publish("orders.new", "z".into()).await.unwrap();
    nc.flush().await.unwrap();
    // The denied publish is dropped; the wildcard subscription does not see the subject it
    // may not subscribe to; the allowed one arrives. The connection stays up.
    let first = tokio::time::timeout(Duration::from_secs(5), all.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.subject.as_str(), "orders.new");

    let _denied = nc.subscribe("billing.>").await.unwrap();
    nc.flush().await.unwrap();
    assert!(
        eventually(Duration::from_secs(5), || async {
            let e = errors.lock().unwrap().clone();
            e.iter()
                .any(|m| m.contains("Permissions Violation for Publish to \"orders.secret\""))
                && e.iter()
                    .any(|m| m.contains("Permissions Violation for Subscription to \"billing.>\""))
        })
        .await,
        "errors seen: {:?}",
        errors.lock().unwrap()
    );
    assert_eq!(
        nc.connection_state(),
        async_nats::connection::State::Connected
    );
}

#[tokio::test]
async fn allow_responses_lets_a_service_answer_once() {
    let server = Server::with_config(PERMS, &["-m", "-1"]);
    // Users are configured, so an anonymous client is refused.
    assert!(async_nats::connect(server.url()).await.is_err());

    let (opts, errors) = error_collector();
    let svc = opts
        .user_and_password("svc".into(), "pw".into())
        .connect(server.url())
        .await
        .unwrap();
    let mut requests = svc.subscribe("rpc.time").await.unwrap();
    server.wait_for_subs("rpc.time", 1).await;
    let bob = connect_user(&server, "bob", "pw").await.unwrap();
    let mut replies = bob.subscribe("answers").await.unwrap();
    bob.flush().await.unwrap();
    bob.publish_with_reply("rpc.time", "answers", "now?".into())
        .await
        .unwrap();
    bob.flush().await.unwrap();

    let req = tokio::time::timeout(Duration::from_secs(5), requests.next())
        .await
        .unwrap()
        .unwrap();
    let reply = req.reply.clone().unwrap();
    // The first answer is allowed, a second one to the same subject is not (max 1),
    // and publishing anywhere else never was.
    svc.publish(reply.clone(), "noon".into()).await.unwrap();
    svc.publish(reply.clone(), "again".into()).await.unwrap();
    svc.publish("random.subject", "x".into()).await.unwrap();
    svc.flush().await.unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(5), replies.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer.payload, "noon");
    assert!(
        tokio::time::timeout(Duration::from_millis(300), replies.next())
            .await
            .is_err(),
        "second answer must be refused"
    );
    assert!(
        eventually(Duration::from_secs(5), || async {
            let e = errors.lock().unwrap().clone();
            e.iter()
                .any(|m| m.contains("Permissions Violation for Publish to \"answers\""))
                && e.iter()
                    .any(|m| m.contains("Permissions Violation for Publish to \"random.subject\""))
        })
        .await,
        "errors seen: {:?}",
        errors.lock().unwrap()
    );
}
