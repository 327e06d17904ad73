//! Memory and start-up scenarios (issue 6), sluice beside nats-server, rounds interleaved,
//! medians. Every measurement gets a freshly started server.
//!
//! - `memory`: resident set size (`VmRSS` in `/proc/PID/status`) right after start, with
//!   `--conns` idle client connections (raw TCP: read INFO, send CONNECT and PING, read
//!   PONG), bytes per connection ((with - idle) / conns), and RSS after a 1:1 pub/sub run of
//!   `--mem-msgs` 128-byte messages on another fresh server (with its peak, `VmHWM`).
//! - `startup and recovery`: a server with JetStream on a fresh store dir, one file stream
//!   filled with `--startup-msgs` 128-byte messages (async publish, 256 PubAcks in flight),
//!   stopped with SIGTERM, started again on the same store: seconds from spawn until the
//!   client port answers PING, and until `stream info` reports every message; store size on
//!   disk and RSS once recovered.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use bytes::Bytes;
use futures::StreamExt;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

use super::{Js, Options, Proc, Scenario, median, progress, run_counted};

const SIZE: usize = 128;
/// Connections opened at once while filling a server with idle connections.
const OPENING: usize = 64;

/// `field` (e.g. `VmRSS`) of `/proc/PID/status`, in bytes.
fn status_bytes(pid: u32, field: &str) -> f64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    let line = text
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"));
    let kb: f64 = line[field.len() + 1..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .expect("kB value");
    kb * 1024.0
}

fn rss(pid: u32) -> f64 {
    status_bytes(pid, "VmRSS")
}

/// Raises the soft open-file limit to the hard one; false when even that is below `need`.
fn raise_nofile(need: u64) -> bool {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write `lim`.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return false;
        }
        if lim.rlim_max < need {
            return false;
        }
        if lim.rlim_cur < need {
            lim.rlim_cur = need;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return false;
            }
        }
    }
    true
}

/// `host:port` of a `nats://` URL.
fn addr(url: &str) -> &str {
    url.trim_start_matches("nats://")
}

/// One raw client connection: INFO read, CONNECT and PING sent, PONG read.
async fn handshake(addr: &str) -> std::io::Result<tokio::net::TcpStream> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let mut reader = tokio::io::BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).await?;
    if !line.starts_with("INFO") {
        return Err(std::io::Error::other(format!(
            "expected INFO, got {line:?}"
        )));
    }
    reader
        .get_mut()
        .write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPING\r\n")
        .await?;
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Err(std::io::Error::other("closed before PONG"));
        }
        if line.starts_with("PONG") {
            return Ok(reader.into_inner());
        }
    }
}

/// (idle RSS, RSS with `conns` idle connections) of a fresh server, in bytes.
fn idle_and_connected(
    rt: &tokio::runtime::Runtime,
    bin: &str,
    sluice: bool,
    conns: usize,
) -> (f64, f64) {
    let server = Proc::start(bin, sluice, Js::Off);
    let pid = server.child.id();
    std::thread::sleep(Duration::from_millis(500));
    let idle = rss(pid);
    let addr = addr(&server.url).to_string();
    let streams: Vec<_> = rt.block_on(
        futures::stream::iter(0..conns)
            .map(|_| handshake(&addr))
            .buffer_unordered(OPENING)
            .collect(),
    );
    let open: Vec<_> = streams.into_iter().filter_map(Result::ok).collect();
    if open.len() < conns {
        eprintln!(
            "warning: {bin}: only {} of {conns} connections completed the handshake",
            open.len()
        );
    }
    std::thread::sleep(Duration::from_secs(1));
    let with = rss(pid);
    drop(open);
    (idle, with)
}

/// (idle RSS, RSS after a 1:1 run of `msgs` messages, peak RSS) of a fresh server, in bytes.
fn after_one_to_one(
    rt: &tokio::runtime::Runtime,
    bin: &str,
    sluice: bool,
    msgs: usize,
) -> (f64, f64, f64) {
    let server = Proc::start(bin, sluice, Js::Off);
    let pid = server.child.id();
    std::thread::sleep(Duration::from_millis(500));
    let idle = rss(pid);
    let (_, lost) = rt.block_on(run_counted(
        &server.url,
        Scenario::OneToOne,
        msgs,
        Bytes::from(vec![b'x'; SIZE]),
    ));
    if lost > 0 {
        eprintln!("warning: {bin}: {lost} messages lost in the 1:1 run");
    }
    // The run's clients are gone once `run_counted` returns; give the server a moment to
    // tear them down.
    std::thread::sleep(Duration::from_secs(1));
    (idle, rss(pid), status_bytes(pid, "VmHWM"))
}

const MB: f64 = 1024.0 * 1024.0;

fn memory(o: &Options, rt: &tokio::runtime::Runtime, rows: &mut Vec<serde_json::Value>) {
    let conns = o.conns;
    if !raise_nofile(conns as u64 + 1024) {
        eprintln!(
            "memory rows left out: the open-file limit cannot reach {} (raise `ulimit -Hn`, or lower --conns)",
            conns + 1024
        );
        return;
    }
    if o.quick {
        println!(
            "\n(quick mode: {conns} connections and {} messages instead of 10,000 and 1,000,000)",
            o.mem_msgs
        );
    }
    let servers = [(o.sluice.as_str(), true), (o.nats_server.as_str(), false)];
    // [server] -> per-round samples
    let mut idle = [vec![], vec![]];
    let mut with = [vec![], vec![]];
    let mut per_conn = [vec![], vec![]];
    let pb = progress(&format!("memory, {conns} connections"), o.rounds * 2);
    for _ in 0..o.rounds {
        for (i, &(bin, sluice)) in servers.iter().enumerate() {
            let (a, b) = idle_and_connected(rt, bin, sluice, conns);
            idle[i].push(a);
            with[i].push(b);
            per_conn[i].push((b - a) / conns as f64);
            pb.inc(1);
        }
    }
    pb.finish_and_clear();
    let (mut idle2, mut after, mut peak) = ([vec![], vec![]], [vec![], vec![]], [vec![], vec![]]);
    let pb = progress("memory after 1:1", o.rounds * 2);
    for _ in 0..o.rounds {
        for (i, &(bin, sluice)) in servers.iter().enumerate() {
            let (a, b, c) = after_one_to_one(rt, bin, sluice, o.mem_msgs);
            idle2[i].push(a);
            after[i].push(b);
            peak[i].push(c);
            pb.inc(1);
        }
    }
    pb.finish_and_clear();
    let m = |v: &[Vec<f64>; 2]| (median(v[0].clone()), median(v[1].clone()));
    println!("\n| memory (RSS) | sluice | nats-server | ratio |\n|---|---|---|---|");
    let mut row = |label: String, key: &str, (a, b): (f64, f64), unit: f64, unit_name: &str| {
        let digits = if unit == 1.0 { 0 } else { 1 };
        println!(
            "| {label} | {:.digits$} {unit_name} | {:.digits$} {unit_name} | {:.2} |",
            a / unit,
            b / unit,
            a / b
        );
        rows.push(serde_json::json!({
            "scenario": format!("memory {key}"), "sluice_bytes": a, "nats_server_bytes": b, "ratio": a / b
        }));
    };
    row(
        "idle, right after start".into(),
        "idle",
        m(&idle),
        MB,
        "MiB",
    );
    row(
        format!("with {conns} idle connections"),
        "with connections",
        m(&with),
        MB,
        "MiB",
    );
    row(
        "per connection ((with - idle) / connections)".into(),
        "per connection",
        m(&per_conn),
        1.0,
        "B",
    );
    let n = o.mem_msgs;
    row(
        "idle, before the 1:1 run".to_string(),
        "idle before 1:1",
        m(&idle2),
        MB,
        "MiB",
    );
    row(
        format!("after 1:1 pub/sub, {n} x {SIZE} B"),
        "after 1:1",
        m(&after),
        MB,
        "MiB",
    );
    row(
        "peak (VmHWM) during that run".to_string(),
        "peak during 1:1",
        m(&peak),
        MB,
        "MiB",
    );
}

/// A JetStream server on `port` with its store in `store`, its log in `log`; not waited for.
fn launch(bin: &str, sluice: bool, port: u16, store: &Path, log: &Path) -> Child {
    let log = std::fs::File::create(log).expect("log file");
    let mut cmd = Command::new(bin);
    cmd.args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
        .arg(store);
    if sluice {
        cmd.args(["--api_port", "0"]);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"))
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("local addr").port()
}

/// Polls until the client port answers PING (every millisecond, for at most `limit`).
async fn wait_ping(addr: &str, limit: Duration) -> Option<Instant> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if handshake(addr).await.is_ok() {
            return Some(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    None
}

/// Polls `stream info BENCH` until it reports `n` messages.
async fn wait_stream(url: &str, n: u64, limit: Duration) -> Option<Instant> {
    let deadline = Instant::now() + limit;
    let Ok(nc) = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(url)
        .await
    else {
        return None;
    };
    let js = jetstream::new(nc);
    while Instant::now() < deadline {
        if let Ok(mut s) = js.get_stream("BENCH").await
            && s.info().await.is_ok_and(|i| i.state.messages >= n)
        {
            return Some(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    None
}

/// Bytes the files under `dir` take on disk (like `du`).
fn disk_usage(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        total += if meta.is_dir() {
            disk_usage(&entry.path())
        } else {
            meta.blocks() * 512
        };
    }
    total
}

/// Sends SIGTERM and waits for the exit (SIGKILL after 60 s); seconds it took.
fn stop(child: &mut Child) -> f64 {
    let t = Instant::now();
    // SAFETY: signals a child process this bench started and has not reaped yet.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    while t.elapsed() < Duration::from_secs(60) {
        if child.try_wait().ok().flatten().is_some() {
            return t.elapsed().as_secs_f64();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    eprintln!("warning: no exit 60 s after SIGTERM, killing");
    let _ = child.kill();
    let _ = child.wait();
    t.elapsed().as_secs_f64()
}

/// label, JSON key, field, unit, unit name, decimals.
type Line = (
    &'static str,
    &'static str,
    fn(&Recovery) -> f64,
    f64,
    &'static str,
    usize,
);

struct Recovery {
    stop_s: f64,
    ping_s: f64,
    stream_s: f64,
    disk: f64,
    rss: f64,
}

/// Fills a fresh store with `n` messages, restarts the server on it and times the recovery.
fn recovery(rt: &tokio::runtime::Runtime, bin: &str, sluice: bool, n: usize) -> Recovery {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("store");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let url = format!("nats://{addr}");
    let mut child = launch(bin, sluice, port, &store, &dir.path().join("first.log"));
    rt.block_on(async {
        wait_ping(&addr, Duration::from_secs(30))
            .await
            .unwrap_or_else(|| panic!("{bin} did not start"));
        let js = super::js::context(&url).await;
        super::js::create_stream(&js).await;
        super::js::publish_windowed(&js, "bench.js.recover".into(), n).await;
        let mut s = js.get_stream("BENCH").await.expect("stream");
        let stored = s.info().await.expect("stream info").state.messages;
        assert_eq!(
            stored, n as u64,
            "{bin}: messages stored before the restart"
        );
    });
    let stop_s = stop(&mut child);
    let disk = disk_usage(&store) as f64;
    let start = Instant::now();
    let mut child = launch(bin, sluice, port, &store, &dir.path().join("second.log"));
    let (ping, ready) = rt.block_on(async {
        let ping = wait_ping(&addr, Duration::from_secs(300)).await;
        let ready = wait_stream(&url, n as u64, Duration::from_secs(300)).await;
        (ping, ready)
    });
    let secs = |t: Option<Instant>| t.map_or(f64::NAN, |t| (t - start).as_secs_f64());
    let (ping_s, stream_s) = (secs(ping), secs(ready));
    if ready.is_none() {
        eprintln!("warning: {bin}: stream not recovered with {n} messages within 300 s");
    }
    std::thread::sleep(Duration::from_millis(500));
    let rss = rss(child.id());
    let _ = child.kill();
    let _ = child.wait();
    Recovery {
        stop_s,
        ping_s,
        stream_s,
        disk,
        rss,
    }
}

fn startup(o: &Options, rt: &tokio::runtime::Runtime, rows: &mut Vec<serde_json::Value>) {
    let n = o.startup_msgs;
    let rounds = o.startup_rounds;
    if o.quick {
        println!("\n(quick mode: a {n}-message stream instead of 1,000,000)");
    }
    let servers = [(o.sluice.as_str(), true), (o.nats_server.as_str(), false)];
    let mut runs: [Vec<Recovery>; 2] = [vec![], vec![]];
    let pb = progress(&format!("startup and recovery, {n} msgs"), rounds * 2);
    for _ in 0..rounds {
        for (i, &(bin, sluice)) in servers.iter().enumerate() {
            runs[i].push(recovery(rt, bin, sluice, n));
            pb.inc(1);
        }
    }
    pb.finish_and_clear();
    let med = |i: usize, f: fn(&Recovery) -> f64| median(runs[i].iter().map(f).collect());
    println!(
        "\n| start-up and recovery, {n} x {SIZE} B file stream | sluice | nats-server | ratio |\n|---|---|---|---|"
    );
    let lines: [Line; 5] = [
        ("stop (SIGTERM to exit)", "stop", |r| r.stop_s, 1.0, "s", 3),
        ("restart: spawn to PONG", "ping", |r| r.ping_s, 1.0, "s", 3),
        (
            "restart: spawn to stream info with every message",
            "stream",
            |r| r.stream_s,
            1.0,
            "s",
            3,
        ),
        ("store on disk (du)", "disk", |r| r.disk, MB, "MiB", 1),
        ("RSS once recovered", "rss", |r| r.rss, MB, "MiB", 1),
    ];
    for (label, key, f, unit, unit_name, digits) in lines {
        let (a, b) = (med(0, f), med(1, f));
        println!(
            "| {label} | {:.digits$} {unit_name} | {:.digits$} {unit_name} | {:.2} |",
            a / unit,
            b / unit,
            a / b
        );
        rows.push(serde_json::json!({
            "scenario": format!("startup and recovery {key}"), "msgs": n,
            "sluice": a, "nats_server": b, "ratio": a / b
        }));
    }
}

/// Runs the memory rows (they match "memory") and the start-up rows (they match "startup
/// and recovery") that `--only` lets through.
pub(crate) fn run_all(
    o: &Options,
    rt: &tokio::runtime::Runtime,
    rows: &mut Vec<serde_json::Value>,
) {
    let wanted = |name: &str| o.only.as_ref().is_none_or(|f| name.contains(f.as_str()));
    if wanted("memory") {
        memory(o, rt, rows);
    }
    if wanted("startup and recovery") {
        startup(o, rt, rows);
    }
}
