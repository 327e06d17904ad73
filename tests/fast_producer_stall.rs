//! The fast-producer stall, from the outside: a subscriber that reads slower than its
//! publisher is given time to catch up instead of being cut off as a slow consumer, as
//! nats-server does (the same scenario runs against nats-server 2.15 as the reference).
//!
//! The tests run one at a time: each needs a reader that keeps a steady pace, which a
//! machine busy with other tests' servers cannot promise.

mod common;

use std::io::{Read, Write};
use std::process::Command;
use std::time::Duration;

use common::{Server, eventually, sync};

/// Taken by each test for its whole run.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A subscriber that reads, but slower than the publisher writes: the fast-producer stall
/// holds the publisher back whenever the subscriber's backlog passes three quarters of
/// `max_pending`, so it receives everything. Runs against the server at `addr` whose
/// monitor is `monitor`; returns the percentage of the messages the slow reader received,
/// `/varz` and `/connz`.
async fn slow_reader_scenario(
    addr: &str,
    monitor: &str,
) -> (usize, serde_json::Value, serde_json::Value) {
    const MSGS: usize = 30_000;
    // "MSG slow 1 1024\r\n", the payload, "\r\n".
    const WANT: usize = MSGS * (17 + 1024 + 2);
    // A thread of its own, so its pace does not depend on the test's runtime.
    let mut reader = std::net::TcpStream::connect(addr).unwrap();
    reader
        .write_all(b"CONNECT {\"verbose\":false}\r\nSUB slow 1\r\nPING\r\n")
        .unwrap();
    // INFO, then the PONG that shows the subscription is in place.
    let mut hello = Vec::new();
    while !hello.ends_with(b"PONG\r\n") {
        let mut byte = [0u8; 1];
        assert_eq!(reader.read(&mut byte).unwrap(), 1, "connection closed");
        hello.push(byte[0]);
    }
    reader
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let slow = std::thread::spawn(move || {
        // At most 64 KiB a millisecond: slower than a publisher on loopback, and fast
        // enough, even woken late, to keep up with one held back by the stall (64 KiB of
        // publishes per 10 ms at the least).
        let mut buf = vec![0u8; 64 * 1024];
        let mut got = 0;
        while got < WANT {
            match reader.read(&mut buf) {
                Ok(n) if n > 0 => got += n,
                _ => break,
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        // Still connected, for `/connz`.
        (got, reader)
    });
    let publisher = async_nats::connect(addr).await.unwrap();
    sync(&publisher).await;
    let payload = bytes::Bytes::from(vec![b'x'; 1024]);
    for _ in 0..MSGS {
        publisher.publish("slow", payload.clone()).await.unwrap();
    }
    sync(&publisher).await;
    let (got, reader) = tokio::task::spawn_blocking(move || slow.join().unwrap())
        .await
        .unwrap();
    let get = |path: &str| {
        let url = format!("{monitor}{path}");
        async move { reqwest::get(&url).await.unwrap().json().await.unwrap() }
    };
    let (varz, connz) = (get("/varz").await, get("/connz").await);
    drop(reader);
    (got.min(WANT) * 100 / WANT, varz, connz)
}

/// A nats-server 2.15 process for one test, killed when dropped.
struct NatsServer(std::process::Child);

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn nats_server_also_holds_the_publisher_back_for_a_slow_reader() {
    let _serial = ONE_AT_A_TIME.lock().await;
    // The reference for the test below: same reader, same limits.
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("nats.conf");
    std::fs::write(&conf, "max_payload: 4096\nmax_pending: 2097152\n").unwrap();
    let (port, monitor_port) = (free_port(), free_port());
    let _server = NatsServer(
        Command::new(common::cluster::nats_server_binary())
            .args(["-c", conf.to_str().unwrap(), "-a", "127.0.0.1"])
            .args(["-p", &port.to_string(), "-m", &monitor_port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let addr = format!("127.0.0.1:{port}");
    let monitor = format!("http://127.0.0.1:{monitor_port}");
    assert!(
        eventually(Duration::from_secs(10), || async {
            reqwest::get(format!("{monitor}/healthz")).await.is_ok()
        })
        .await,
        "nats-server started"
    );
    let (percent, varz, _) = slow_reader_scenario(&addr, &monitor).await;
    assert_eq!(percent, 100, "the slow reader got everything: {varz}");
    assert_eq!(varz["slow_consumers"], 0);
    assert!(varz["stalled_clients"].as_u64().unwrap() > 0, "{varz}");
}

#[tokio::test]
async fn a_slow_reader_holds_the_publisher_back_instead_of_being_cut_off() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let server = Server::with_config(
        "[nats]\nmax_payload = 4096\nmax_pending = \"2MiB\"\n",
        &["-m", "-1"],
    );
    let (percent, varz, connz) = slow_reader_scenario(&server.addr, &server.monitor_url()).await;
    assert_eq!(percent, 100, "the slow reader got everything: {varz}");
    assert_eq!(varz["slow_consumers"], 0);
    assert!(varz["stalled_clients"].as_u64().unwrap() > 0, "{varz}");
    let stalls: Vec<_> = connz["connections"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["stalls"].as_u64())
        .collect();
    assert_eq!(
        stalls.len(),
        1,
        "only the slow reader stalled publishers: {connz}"
    );
    assert!(stalls[0] > 0);
}

#[tokio::test]
async fn without_the_stall_the_same_reader_is_a_slow_consumer() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let server = Server::with_config(
        "[nats]\nmax_payload = 4096\nmax_pending = \"2MiB\"\nno_fast_producer_stall = true\n",
        &["-m", "-1"],
    );
    let (percent, varz, _) = slow_reader_scenario(&server.addr, &server.monitor_url()).await;
    assert!(percent < 100, "the reader was cut off");
    assert_eq!(varz["slow_consumers"], 1);
    assert_eq!(varz["stalled_clients"], 0);
}
