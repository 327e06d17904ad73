//! Live reload on SIGHUP, against the real binary: the config file is rewritten, the server
//! is sent SIGHUP, and open connections must keep what they may still do and lose only what
//! they may not (as nats-server does on reload).

mod common;

use std::time::Duration;

use common::plugins::wasm;
use common::ws::{Ws, next_frame};
use common::{Raw, Server, sync};
use futures::StreamExt;

const QUIET: Duration = Duration::from_millis(300);

/// Users alice (restricted by `alice`, a permissions table) and bob, plus `more`.
fn users(alice: &str, more: &str) -> String {
    format!(
        "[[auth.users]]\nuser = \"alice\"\npassword = \"pa\"\npermissions = {alice}\n\
         [[auth.users]]\nuser = \"bob\"\npassword = \"pb\"\n{more}"
    )
}

fn rewrite(server: &Server, toml: &str) {
    std::fs::write(server.config_path(), toml).expect("rewrite the config file");
}

/// Reloads and asserts it was applied; returns the log lines.
fn reload_ok(server: &Server) -> Vec<String> {
    let lines = server.reload();
    let last = lines.last().cloned().unwrap_or_default();
    assert!(last.contains("Reloaded server configuration"), "{lines:#?}");
    lines
}

/// Reloads and asserts it was refused; returns the failure line.
fn reload_refused(server: &Server) -> String {
    let lines = server.reload();
    let last = lines.last().cloned().unwrap_or_default();
    assert!(
        last.contains("Failed to reload server configuration"),
        "{lines:#?}"
    );
    last
}

async fn login(server: &Server, user: &str, pass: &str) -> Raw {
    let (mut raw, _) = Raw::connect(&server.addr).await;
    let connect = format!(
        "CONNECT {{\"user\":\"{user}\",\"pass\":\"{pass}\",\"verbose\":false,\"pedantic\":false}}\r\nPING\r\n"
    );
    raw.send(connect.as_bytes()).await;
    raw
}

async fn expect(raw: &mut Raw, want: &str) {
    assert_eq!(raw.line().await.as_deref(), Some(want));
}

/// The next permission error async-nats reported (other events skipped).
async fn violation(events: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> String {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(5), events.recv())
            .await
            .expect("a permission error")
            .expect("events open");
        if event.contains("Violation") {
            return event;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permissions_shrink_while_the_connection_stays_up() {
    let wide = r#"{ publish = [">"], subscribe = ["a.>", "b.>", "_INBOX.>"] }"#;
    let narrow = r#"{ publish = ["a.>", "_sluice_test.>"], subscribe = ["a.>", "_INBOX.>"] }"#;
    let server = Server::with_config(&users(wide, ""), &[]);
    let (tx, mut errors) = tokio::sync::mpsc::unbounded_channel();
    let alice = async_nats::ConnectOptions::with_user_and_password("alice".into(), "pa".into())
        .event_callback(move |event| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(event.to_string());
            }
        })
        .connect(server.url())
        .await
        .expect("alice connects");
    let bob = async_nats::ConnectOptions::with_user_and_password("bob".into(), "pb".into())
        .connect(server.url())
        .await
        .expect("bob connects");
    let mut kept = alice.subscribe("a.x").await.unwrap();
    let mut lost = alice.subscribe("b.x").await.unwrap();
    sync(&alice).await;
    bob.publish("b.x", "before".into()).await.unwrap();
    let m = tokio::time::timeout(Duration::from_secs(5), lost.next()).await;
    assert_eq!(
        m.unwrap().unwrap().payload,
        "before",
        "b.x is allowed at first"
    );

    rewrite(&server, &users(narrow, ""));
    let lines = reload_ok(&server);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("Reloaded: authorization users")),
        "{lines:#?}"
    );
    let error = violation(&mut errors).await;
    assert!(
        error.contains(r#"Permissions Violation for Subscription to "b.x""#),
        "alice was told: {error}"
    );

    bob.publish("b.x", "after".into()).await.unwrap();
    bob.publish("a.x", "still".into()).await.unwrap();
    sync(&bob).await;
    let m = tokio::time::timeout(Duration::from_secs(5), kept.next()).await;
    assert_eq!(m.unwrap().unwrap().payload, "still", "a.x keeps delivering");
    assert!(
        tokio::time::timeout(QUIET, lost.next()).await.is_err(),
        "b.x delivers nothing any more"
    );

    alice.publish("b.y", "denied".into()).await.unwrap();
    let error = violation(&mut errors).await;
    assert!(
        error.contains(r#"Permissions Violation for Publish to "b.y""#),
        "alice was told: {error}"
    );
    sync(&alice).await;
    assert_eq!(
        alice.connection_state(),
        async_nats::connection::State::Connected
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_and_changed_users_are_disconnected_and_new_ones_can_log_in() {
    let wide = r#"{ subscribe = ["a.>", "b.>"] }"#;
    let narrow = r#"{ subscribe = ["a.>"] }"#;
    let dave = |pw: &str| format!("[[auth.users]]\nuser = \"dave\"\npassword = \"{pw}\"\n");
    let server = Server::with_config(&users(wide, &dave("pd")), &[]);
    let mut alice = login(&server, "alice", "pa").await;
    expect(&mut alice, "PONG").await;
    alice
        .send(b"SUB a.x 6\r\nSUB b.x 7\r\nSUB b.* q 8\r\nPING\r\n")
        .await;
    expect(&mut alice, "PONG").await;
    let mut bob = login(&server, "bob", "pb").await;
    expect(&mut bob, "PONG").await;
    let mut dave_conn = login(&server, "dave", "pd").await;
    expect(&mut dave_conn, "PONG").await;
    let mut carol = login(&server, "carol", "pc").await;
    expect(&mut carol, "-ERR 'Authorization Violation'").await;

    // bob leaves the file, dave's password changes, carol arrives, alice shrinks.
    let carol_user = "[[auth.users]]\nuser = \"carol\"\npassword = \"pc\"\n";
    let file = format!(
        "[[auth.users]]\nuser = \"alice\"\npassword = \"pa\"\npermissions = {narrow}\n{}{carol_user}",
        dave("pd2")
    );
    rewrite(&server, &file);
    reload_ok(&server);

    let mut removed = vec![
        alice.line().await.unwrap_or_default(),
        alice.line().await.unwrap_or_default(),
    ];
    removed.sort();
    assert_eq!(
        removed,
        [
            r#"-ERR 'Permissions Violation for Subscription to "b.*" using queue "q" (sid "8")'"#,
            r#"-ERR 'Permissions Violation for Subscription to "b.x" (sid "7")'"#,
        ]
    );
    alice.send(b"PUB a.x 2\r\nhi\r\nPING\r\n").await;
    expect(&mut alice, "MSG a.x 6 2").await;
    expect(&mut alice, "hi").await;
    expect(&mut alice, "PONG").await;

    expect(&mut bob, "-ERR 'Authorization Violation'").await;
    assert!(bob.closed().await, "bob is gone from the file");
    expect(&mut dave_conn, "-ERR 'Authorization Violation'").await;
    assert!(dave_conn.closed().await, "dave's password changed");

    let mut carol = login(&server, "carol", "pc").await;
    expect(&mut carol, "PONG").await;
    let mut bob = login(&server, "bob", "pb").await;
    expect(&mut bob, "-ERR 'Authorization Violation'").await;
    let mut dave_conn = login(&server, "dave", "pd2").await;
    expect(&mut dave_conn, "PONG").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_file_changes_nothing() {
    let start = "[monitor]\nport = -1\n[nats]\nmax_payload = 1024\n";
    let server = Server::with_config(&format!("{start}{}", users("{}", "")), &[]);
    let mut alice = login(&server, "alice", "pa").await;
    expect(&mut alice, "PONG").await;

    rewrite(&server, "[nats]\nmax_payload = \"lots\"\n");
    let failed = reload_refused(&server);
    assert!(failed.contains("nats.max_payload"), "{failed}");
    rewrite(&server, "[nats\nmax_payload = 2048\n");
    let failed = reload_refused(&server);
    assert!(failed.contains("line 1"), "{failed}");

    alice.send(b"PING\r\n").await;
    expect(&mut alice, "PONG").await;
    let (_, info) = Raw::connect(&server.addr).await;
    assert!(info.contains("\"max_payload\":1024"), "{info}");
    let mut bob = login(&server, "bob", "pb").await;
    expect(&mut bob, "PONG").await;

    // And a good file afterwards still applies.
    rewrite(
        &server,
        &format!("{start}{}", users("{}", "")).replace("1024", "4096"),
    );
    reload_ok(&server);
    let (_, info) = Raw::connect(&server.addr).await;
    assert!(info.contains("\"max_payload\":4096"), "{info}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_a_listener_refuses_the_whole_reload() {
    let start = "server_name = \"one\"\n[monitor]\nport = -1\n[nats]\nmax_payload = 1024\n";
    let server = Server::with_config(start, &[]);
    let changed = "server_name = \"two\"\n[monitor]\nport = 65000\n[nats]\nmax_payload = 2048\n";
    rewrite(&server, changed);
    let failed = reload_refused(&server);
    assert!(
        failed.contains("config reload not supported for")
            && failed.contains(r#"server_name: old="one", new="two""#)
            && failed.contains("monitor"),
        "{failed}"
    );
    let varz = varz(&server).await;
    assert_eq!(varz["max_payload"], 1024, "nothing of the file applied");
    assert_eq!(varz["server_name"], "one");
}

async fn varz(server: &Server) -> serde_json::Value {
    reqwest::get(format!("{}/varz", server.monitor_url()))
        .await
        .expect("GET /varz")
        .json()
        .await
        .expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_apply_to_new_and_open_connections() {
    let file = |payload: u32, conns: u32| {
        format!(
            "[monitor]\nport = -1\n[nats]\nmax_payload = {payload}\nmax_connections = {conns}\n"
        )
    };
    let server = Server::with_config(&file(1024, 100), &[]);
    let before = varz(&server).await;
    assert_eq!(before["max_payload"], 1024);
    let (mut old, info) = Raw::connect(&server.addr).await;
    assert!(info.contains("\"max_payload\":1024"), "{info}");
    old.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n").await;
    expect(&mut old, "PONG").await;

    rewrite(&server, &file(2048, 100));
    let lines = reload_ok(&server);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("Reloaded: nats.max_payload = 2048")),
        "{lines:#?}"
    );
    let after = varz(&server).await;
    assert_eq!(after["max_payload"], 2048);
    let (t0, t1) = (
        before["config_load_time"].as_str(),
        after["config_load_time"].as_str(),
    );
    assert!(
        t0.is_some() && t1 > t0,
        "config_load_time moves: {t0:?} -> {t1:?}"
    );
    let (_, info) = Raw::connect(&server.addr).await;
    assert!(info.contains("\"max_payload\":2048"), "{info}");
    let big = vec![b'x'; 1500];
    old.send(format!("PUB big {}\r\n", big.len()).as_bytes())
        .await;
    old.send(&big).await;
    old.send(b"\r\nPING\r\n").await;
    expect(&mut old, "PONG").await;

    // Lower: the open connection is held to it too.
    rewrite(&server, &file(512, 100));
    reload_ok(&server);
    old.send(b"PUB big 1000\r\n").await;
    expect(&mut old, "-ERR 'Maximum Payload Violation'").await;
    assert!(old.closed().await);

    // Fewer connections allowed than are open: the newest go.
    let (mut first, _) = Raw::connect(&server.addr).await;
    first.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n").await;
    expect(&mut first, "PONG").await;
    let (mut second, _) = Raw::connect(&server.addr).await;
    second
        .send(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
        .await;
    expect(&mut second, "PONG").await;
    rewrite(&server, &file(512, 1));
    reload_ok(&server);
    expect(&mut second, "-ERR 'maximum connections exceeded'").await;
    assert!(second.closed().await);
    first.send(b"PING\r\n").await;
    expect(&mut first, "PONG").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preloaded_plugin_bindings_follow_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("enrich.wasm");
    std::fs::write(&file, wasm("enrich")).unwrap();
    let config = |preload: &str| {
        format!(
            "[plugins]\ndir = \"{}\"\n{preload}",
            dir.path().join("plugins").display()
        )
    };
    let enrich = |subject: &str, env: &str| {
        format!(
            "[[plugins.preload]]\nname = \"enrich\"\nfile = \"{}\"\nsubjects = [\"{subject}\"]\nconfig = {{ headers = \"X-Env:{env}\" }}\n",
            file.display()
        )
    };
    let server = Server::with_config(&config(&enrich("e.>", "test")), &[]);
    let nc = async_nats::connect(server.url()).await.unwrap();
    let mut sub = nc.subscribe("*.1").await.unwrap();
    sync(&nc).await;
    let env_of = |m: async_nats::Message| {
        m.headers
            .as_ref()
            .and_then(|h| h.get("X-Env"))
            .map(|v| v.to_string())
    };
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(5), sub.next())
            .await
            .expect("a message")
            .expect("open")
    };
    nc.publish("e.1", r#"{"a":1}"#.into()).await.unwrap();
    assert_eq!(env_of(next().await).as_deref(), Some("test"));

    rewrite(&server, &config(&enrich("f.>", "prod")));
    let lines = reload_ok(&server);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("Reloaded: plugins.preload")),
        "{lines:#?}"
    );
    nc.publish("e.1", r#"{"a":1}"#.into()).await.unwrap();
    assert_eq!(env_of(next().await), None, "e.> is no longer bound");
    nc.publish("f.1", r#"{"a":1}"#.into()).await.unwrap();
    assert_eq!(env_of(next().await).as_deref(), Some("prod"));

    rewrite(&server, &config(""));
    reload_ok(&server);
    nc.publish("f.1", r#"{"a":1}"#.into()).await.unwrap();
    assert_eq!(env_of(next().await), None, "the plugin is gone");
    let list = common::plugins::get(&server, "/v1/plugins").await;
    assert_eq!(list["plugins"].as_array().map(Vec::len), Some(0), "{list}");

    // A preload that cannot start refuses the reload; the running chain stays.
    rewrite(&server, &config(&enrich("g.>", r"bad\nvalue")));
    let failed = reload_refused(&server);
    assert!(failed.contains("plugins.preload enrich"), "{failed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_level_changes_and_signal_reload_sends_sighup() {
    let server = Server::with_config("[logging]\ndebug = false\n", &[]);
    let (mut quiet, _) = Raw::connect(&server.addr).await;
    quiet.send(b"PING\r\n").await;
    expect(&mut quiet, "PONG").await;
    rewrite(&server, "[logging]\ndebug = true\n");
    // `sluice --signal reload=<pid>`, as `nats-server --signal reload=<pid>`.
    let status = std::process::Command::new(common::binary())
        .args(["--signal", &format!("reload={}", server.pid())])
        .status()
        .expect("run sluice --signal");
    assert!(status.success());
    let lines = server.wait_log(|l| l.contains("Reloaded server configuration"));
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("Client connection created")),
        "no debug lines before the reload: {lines:#?}"
    );
    let (mut loud, _) = Raw::connect(&server.addr).await;
    loud.send(b"PING\r\n").await;
    expect(&mut loud, "PONG").await;
    server.wait_log(|l| l.contains("Client connection created"));
}

async fn ws_json(ws: &mut Ws) -> serde_json::Value {
    let frame = next_frame(ws).await;
    serde_json::from_str(frame.to_text().expect("a text frame")).expect("JSON")
}

async fn ws_call(ws: &mut Ws, frame: serde_json::Value) -> serde_json::Value {
    use futures::SinkExt;
    ws.send(frame.to_string().into()).await.unwrap();
    ws_json(ws).await
}

/// Reads a Server-Sent Events body until its `error` event; returns that event's data.
async fn sse_error(resp: reqwest::Response) -> serde_json::Value {
    assert_eq!(resp.status(), 200);
    let mut body = resp.bytes_stream();
    let mut text = String::new();
    loop {
        if let Some(at) = text.find("event: error\ndata: ") {
            let rest = &text[at + "event: error\ndata: ".len()..];
            if let Some(end) = rest.find('\n') {
                return serde_json::from_str(&rest[..end]).expect("a problem document");
            }
        }
        let chunk = tokio::time::timeout(Duration::from_secs(5), body.next())
            .await
            .expect("an event within 5 s")
            .expect("the stream goes on until its error event")
            .expect("no body error");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_sessions_are_rechecked_like_connections() {
    let wide = r#"{ subscribe = ["a.>", "b.>"] }"#;
    let narrow = r#"{ subscribe = ["a.>"] }"#;
    let server = Server::with_config(&users(wide, ""), &[]);
    let api = server.api.clone().expect("API");
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{api}/v1/ws?user=alice&pass=pa"))
            .await
            .expect("upgrade");
    let a = ws_call(
        &mut ws,
        serde_json::json!({"op": "subscribe", "subject": "a.x"}),
    )
    .await;
    let b = ws_call(
        &mut ws,
        serde_json::json!({"op": "subscribe", "subject": "b.x"}),
    )
    .await;
    assert_eq!(
        (a["op"].as_str(), b["op"].as_str()),
        (Some("subscribed"), Some("subscribed"))
    );
    let http = reqwest::Client::new();
    let sse = |subject: &str, user: &str, pass: &str| {
        http.get(format!("http://{api}/v1/subscribe/{subject}"))
            .basic_auth(user, Some(pass))
            .send()
    };
    let (lost, kept, bob) = (
        sse("b.y", "alice", "pa"),
        sse("a.y", "alice", "pa"),
        sse("a.z", "bob", "pb"),
    );
    let (lost, kept, bob) = (lost.await.unwrap(), kept.await.unwrap(), bob.await.unwrap());

    rewrite(&server, &users(narrow, ""));
    reload_ok(&server);
    let error = ws_json(&mut ws).await;
    assert_eq!(error["op"], "error", "{error}");
    assert_eq!(error["code"], 403);
    let want = format!(
        "Permissions Violation for Subscription to \"b.x\" (sid {:?})",
        b["sid"].as_str().unwrap()
    );
    assert_eq!(error["error"], want.as_str());
    let gone = ws_json(&mut ws).await;
    assert_eq!(
        (gone["op"].as_str(), &gone["sid"]),
        (Some("unsubscribed"), &b["sid"])
    );
    let nc = async_nats::ConnectOptions::with_user_and_password("bob".into(), "pb".into())
        .connect(server.url())
        .await
        .unwrap();
    nc.publish("b.x", "no".into()).await.unwrap();
    nc.publish("a.x", "yes".into()).await.unwrap();
    sync(&nc).await;
    let m = ws_json(&mut ws).await;
    assert_eq!(
        (m["op"].as_str(), &m["sid"]),
        (Some("message"), &a["sid"]),
        "{m}"
    );
    assert_eq!(m["message"]["payload"], "yes");
    let problem = sse_error(lost).await;
    assert_eq!(problem["status"], 403, "{problem}");

    // alice leaves the file: her socket and stream close; bob's stream lives on.
    rewrite(
        &server,
        "[[auth.users]]\nuser = \"bob\"\npassword = \"pb\"\n",
    );
    reload_ok(&server);
    match next_frame(&mut ws).await {
        tokio_tungstenite::tungstenite::Message::Close(Some(close)) => {
            assert_eq!(u16::from(close.code), 1008);
            assert_eq!(close.reason.as_str(), "Authorization Violation");
        }
        other => panic!("expected a close frame, got {other:?}"),
    }
    let problem = sse_error(kept).await;
    assert_eq!(problem["status"], 401, "{problem}");
    nc.publish("a.z", "still".into()).await.unwrap();
    let mut body = bob.bytes_stream();
    let mut text = String::new();
    while !text.contains("still") {
        let chunk = tokio::time::timeout(Duration::from_secs(5), body.next())
            .await
            .expect("bob's stream delivers")
            .expect("open")
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(!text.contains("event: error"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_certificates_apply_to_new_connections() {
    use common::tls::Pki;
    let (old_ca, new_ca) = (Pki::new("old CA"), Pki::new("new CA"));
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (
        dir.path().join("server.pem"),
        dir.path().join("server-key.pem"),
    );
    let install = |pki: &Pki| {
        let (c, k) = pki.server();
        std::fs::copy(c, &cert).unwrap();
        std::fs::copy(k, &key).unwrap();
    };
    install(&old_ca);
    let toml = format!(
        "[nats.tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
        cert.display(),
        key.display()
    );
    let server = Server::with_config(&toml, &[]);
    let trusting = |pki: &Pki| {
        async_nats::ConnectOptions::new()
            .require_tls(true)
            .add_root_certificates(pki.ca())
            .max_reconnects(0)
            .connection_timeout(Duration::from_secs(5))
            .connect(server.url())
    };
    let before = trusting(&old_ca)
        .await
        .expect("the old certificate is served");
    assert!(trusting(&new_ca).await.is_err(), "not the new one yet");

    install(&new_ca);
    // Same file names, new contents: the files are read again on every reload.
    reload_ok(&server);
    let after = trusting(&new_ca)
        .await
        .expect("the new certificate is served");
    sync(&after).await;
    sync(&before).await;
    assert!(trusting(&old_ca).await.is_err(), "the old one is gone");
}

/// A CONNECT signed with `key` for the nonce in `info`.
fn nkey_connect(key: &nkeys::KeyPair, info: &str) -> Vec<u8> {
    use base64::Engine as _;
    let info: serde_json::Value =
        serde_json::from_str(info.trim_start_matches("INFO ")).expect("INFO is JSON");
    let nonce = info["nonce"]
        .as_str()
        .expect("a nonce when nkey users exist");
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(key.sign(nonce.as_bytes()).expect("sign"));
    let json = serde_json::json!({
        "verbose": false, "pedantic": false, "nkey": key.public_key(), "sig": sig,
    });
    format!("CONNECT {json}\r\nPING\r\n").into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nkey_users_are_rechecked_with_their_signed_nonce() {
    let (kept, dropped) = (nkeys::KeyPair::new_user(), nkeys::KeyPair::new_user());
    let entry = |key: &nkeys::KeyPair, subscribe: &str| {
        format!(
            "[[auth.users]]\nnkey = \"{}\"\npermissions = {{ subscribe = {subscribe} }}\n",
            key.public_key()
        )
    };
    let both = entry(&kept, r#"["a.>", "b.>"]"#) + &entry(&dropped, r#"[">"]"#);
    let server = Server::with_config(&both, &[]);
    let (mut conn, info) = Raw::connect(&server.addr).await;
    conn.send(&nkey_connect(&kept, &info)).await;
    expect(&mut conn, "PONG").await;
    conn.send(b"SUB a.x 1\r\nSUB b.x 2\r\nPING\r\n").await;
    expect(&mut conn, "PONG").await;
    let (mut other, info) = Raw::connect(&server.addr).await;
    other.send(&nkey_connect(&dropped, &info)).await;
    expect(&mut other, "PONG").await;

    // The first key loses b.>, the second key leaves the file.
    rewrite(&server, &entry(&kept, r#"["a.>"]"#));
    reload_ok(&server);
    expect(
        &mut conn,
        r#"-ERR 'Permissions Violation for Subscription to "b.x" (sid "2")'"#,
    )
    .await;
    conn.send(b"PUB a.x 2\r\nhi\r\nPING\r\n").await;
    expect(&mut conn, "MSG a.x 1 2").await;
    expect(&mut conn, "hi").await;
    expect(&mut conn, "PONG").await;
    other.expect_fatal("Authorization Violation").await;
}
