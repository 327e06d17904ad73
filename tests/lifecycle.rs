//! The process from the outside: flags and config errors, readiness lines, pid file,
//! graceful shutdown on SIGTERM, stale connections and slow consumers.

mod common;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Raw, Server, binary, eventually, send_signal, sync};
use futures::StreamExt;

fn run_expecting_failure(args: &[&str]) -> String {
    let out = Command::new(binary())
        .args(args)
        .output()
        .expect("run sluice");
    assert_eq!(out.status.code(), Some(1), "args {args:?} must exit 1");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        stderr.trim().lines().count(),
        1,
        "one-line error, got {stderr:?}"
    );
    stderr
}

#[test]
fn bad_flags_and_config_exit_1_naming_the_key() {
    assert!(run_expecting_failure(&["-p", "abc"]).contains("port"));
    assert!(run_expecting_failure(&["--no-such-flag"]).contains("no-such-flag"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[nats]\nprot = 4222\n").unwrap();
    let err = run_expecting_failure(&["-c", path.to_str().unwrap()]);
    assert!(err.contains("prot"), "{err}");
    std::fs::write(&path, "[nats]\nport = 70000\n").unwrap();
    let err = run_expecting_failure(&["-c", path.to_str().unwrap()]);
    assert!(err.contains("port"), "{err}");
    let err = run_expecting_failure(&["-c", "/nonexistent/sluice.toml"]);
    assert!(err.contains("/nonexistent/sluice.toml"), "{err}");
}

#[test]
fn go_style_flags_are_accepted() {
    for args in [
        &["-port=-1", "-DV"][..],
        &["--port", "-1", "-js", "-sd", "/tmp/sluice-test-store"][..],
        &["-p=-1", "-n", "named", "-m=-1"][..],
    ] {
        let server = Server::start(args);
        assert!(!server.addr.is_empty());
    }
}

#[tokio::test]
async fn sigterm_flushes_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("sluice.pid");
    let mut server = Server::start(&["-P", pid_file.to_str().unwrap()]);
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    assert_eq!(pid.trim(), server.pid().to_string());

    let nc = async_nats::connect(server.url()).await.unwrap();
    let mut sub = nc.subscribe("bye").await.unwrap();
    sync(&nc).await;
    let publisher = async_nats::connect(server.url()).await.unwrap();
    for i in 0..1000 {
        publisher
            .publish("bye", i.to_string().into())
            .await
            .unwrap();
    }
    // Once the server answered this, it has routed all 1000 into the subscriber's queue.
    sync(&publisher).await;
    server.signal("TERM");
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0));
    let mut got = 0;
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_secs(2), sub.next()).await {
        got += 1;
        if got == 1000 {
            break;
        }
    }
    assert_eq!(
        got, 1000,
        "everything published before SIGTERM was delivered"
    );
    assert!(!pid_file.exists(), "pid file removed on exit");
}

#[tokio::test]
async fn unanswered_pings_close_a_stale_connection() {
    let server = Server::with_config(
        "[nats]\nping_interval = \"200ms\"\nmax_pings_out = 2\n",
        &[],
    );
    let (mut raw, _) = Raw::connect(&server.addr).await;
    raw.send(b"CONNECT {\"verbose\":false}\r\n").await;
    assert_eq!(raw.line().await.as_deref(), Some("PING"));
    assert_eq!(raw.line().await.as_deref(), Some("PING"));
    assert_eq!(raw.line().await.as_deref(), Some("-ERR 'Stale Connection'"));
    assert!(raw.closed().await);
}

#[tokio::test]
async fn answered_pings_keep_the_connection() {
    let server = Server::with_config("[nats]\nping_interval = \"100ms\"\n", &[]);
    let (mut raw, _) = Raw::connect(&server.addr).await;
    raw.send(b"CONNECT {\"verbose\":false}\r\n").await;
    for _ in 0..5 {
        assert_eq!(raw.line().await.as_deref(), Some("PING"));
        raw.send(b"PONG\r\n").await;
    }
}

/// A subscriber that never reads is cut off; the publisher and a healthy subscriber carry on.
const TOTAL: usize = 30_000;

async fn slow_consumer_scenario(config: &str) {
    let server = Server::with_config(config, &["-m", "-1"]);
    let (mut stuck, _) = Raw::connect(&server.addr).await;
    stuck
        .send(b"CONNECT {\"verbose\":false}\r\nSUB flood 1\r\nPING\r\n")
        .await;
    assert_eq!(stuck.line().await.as_deref(), Some("PONG"));

    let healthy = async_nats::connect(server.url()).await.unwrap();
    let mut sub = healthy.subscribe("flood").await.unwrap();
    sync(&healthy).await;
    let received = Arc::new(AtomicUsize::new(0));
    let counter = tokio::spawn({
        let received = received.clone();
        async move {
            while received.load(Ordering::Relaxed) < TOTAL {
                match tokio::time::timeout(Duration::from_secs(10), sub.next()).await {
                    Ok(Some(_)) => received.fetch_add(1, Ordering::Relaxed),
                    _ => break,
                };
            }
        }
    });

    let publisher = async_nats::connect(server.url()).await.unwrap();
    let payload = bytes::Bytes::from(vec![b'x'; 1024]);
    let started = std::time::Instant::now();
    for i in 0..TOTAL {
        publisher.publish("flood", payload.clone()).await.unwrap();
        // Pace to the healthy reader so only the stuck one falls behind.
        if i % 500 == 499 {
            publisher.flush().await.unwrap();
            let target = i + 1 - 500;
            assert!(
                eventually(Duration::from_secs(10), || async {
                    received.load(Ordering::Relaxed) >= target
                })
                .await,
                "healthy subscriber stalled at {}",
                received.load(Ordering::Relaxed)
            );
        }
    }
    publisher.flush().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "publisher was held up"
    );
    counter.await.unwrap();
    assert_eq!(
        received.load(Ordering::Relaxed),
        TOTAL,
        "healthy subscriber got everything"
    );

    let url = format!("{}/varz", server.monitor_url());
    assert!(
        eventually(Duration::from_secs(10), || async {
            let v: serde_json::Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
            v["slow_consumers"] == 1
        })
        .await,
        "slow consumer counted"
    );
}

#[tokio::test]
async fn slow_consumer_over_max_pending_is_cut_off() {
    slow_consumer_scenario("[nats]\nmax_payload = 4096\nmax_pending = 2097152\n").await;
}

#[tokio::test]
async fn slow_consumer_past_write_deadline_is_cut_off() {
    slow_consumer_scenario("[nats]\nwrite_deadline = \"300ms\"\n").await;
}

#[test]
fn example_config_is_valid() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sluice.toml");
    let server = Server::start(&["-c", path]);
    assert!(
        server.addr.starts_with("127.0.0.1:"),
        "flags override the file"
    );
}

#[tokio::test]
async fn lame_duck_mode_on_sigusr2() {
    let mut server = Server::with_config(
        "[nats]\nlame_duck_duration = \"1500ms\"\nlame_duck_grace_period = \"300ms\"\n",
        &["-m", "-1"],
    );
    let events = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = events.clone();
    let nc = async_nats::ConnectOptions::new()
        .max_reconnects(0)
        .event_callback(move |event| {
            let seen = seen.clone();
            async move { seen.lock().unwrap().push(event.to_string()) }
        })
        .connect(server.url())
        .await
        .unwrap();
    let (mut raw, _) = Raw::connect(&server.addr).await;
    raw.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n").await;
    assert_eq!(raw.line().await.as_deref(), Some("PONG"));

    server.signal("USR2");

    // Connected clients hear about it: INFO with "ldm":true, which async-nats reports.
    let info = raw.line().await.unwrap_or_default();
    assert!(
        info.starts_with("INFO ") && info.contains("\"ldm\":true"),
        "{info}"
    );
    assert!(
        eventually(Duration::from_secs(5), || async {
            events
                .lock()
                .unwrap()
                .iter()
                .any(|e| e.contains("lame duck"))
        })
        .await,
        "events: {:?}",
        events.lock().unwrap()
    );
    // No new clients, and health checks say so.
    assert!(
        eventually(Duration::from_secs(5), || async {
            tokio::net::TcpStream::connect(&server.addr).await.is_err()
        })
        .await,
        "still accepting"
    );
    let health = reqwest::get(format!("{}/healthz", server.monitor_url()))
        .await
        .unwrap();
    assert_eq!(health.status(), 503);
    // Existing clients still work until they are closed.
    nc.publish("still.here", "x".into()).await.unwrap();
    // Then the clients are closed and the server exits cleanly.
    assert!(raw.closed().await);
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0));
}

/// Lame duck as operators use it: a client that knows two servers is moved off the one
/// going down and carries on through the other.
#[tokio::test]
async fn a_client_in_lame_duck_reconnects_to_another_server() {
    let mut leaving = Server::with_config(
        "[nats]\nlame_duck_duration = \"1s\"\nlame_duck_grace_period = \"200ms\"\n",
        &["-m", "-1"],
    );
    let staying = Server::start(&[]);
    let watcher = async_nats::connect(staying.url()).await.unwrap();
    let mut arrived = watcher.subscribe("moved.on").await.unwrap();
    sync(&watcher).await;
    let client = async_nats::ConnectOptions::new()
        .retain_servers_order()
        .ignore_discovered_servers()
        .connect(vec![leaving.url(), staying.url()])
        .await
        .unwrap();
    assert_eq!(leaving.monitor_json("/connz").await["num_connections"], 1);

    leaving.signal("USR2");
    assert_eq!(leaving.wait_exit(Duration::from_secs(10)), Some(0));

    // The client reconnects to the other server by itself and its publishes arrive there.
    let got = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let _ = client.publish("moved.on", "still here".into()).await;
            let _ = client.flush().await;
            if let Ok(Some(m)) =
                tokio::time::timeout(Duration::from_millis(200), arrived.next()).await
            {
                return m;
            }
        }
    })
    .await
    .expect("the client reached the other server");
    assert_eq!(&got.payload[..], b"still here");
    assert_eq!(
        client.connection_state(),
        async_nats::connection::State::Connected
    );
}

#[test]
fn sigterm_still_stops_the_server_after_its_stderr_is_gone() {
    use std::io::{BufRead, BufReader};
    // Like `sluice | head`: the reader of stderr goes away, later log writes fail with EPIPE.
    let mut child = Command::new(common::binary())
        .args(["-a", "127.0.0.1", "-p", "-1", "--api_port", "-1"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    assert!(lines.any(|l| l.is_ok_and(|l| l.contains("Server is ready"))));
    drop(lines);
    send_signal(child.id(), "TERM");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        exit.and_then(|s| s.code()),
        Some(0),
        "sluice must exit 0 on SIGTERM"
    );
}
