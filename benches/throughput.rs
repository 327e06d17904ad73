//! Core throughput, sluice beside nats-server, with the same client (async-nats) in the
//! same run: publish-only, 1:1, fan-out 1:4 and a queue group of 4, rounds interleaved
//! (A B A B ...) so machine noise hits both servers alike. Prints medians and the ratio
//! sluice / nats-server, and optionally writes JSON. JetStream scenarios (publish with and
//! without fsync per message, publish latency, pull fetch + ack) live in `throughput/js.rs`,
//! against a fresh pair of servers with an empty store for every run. The plugin cost rows
//! are in `throughput/plugins.rs`; the gateway overhead rows (nats-server reached directly
//! or through a sluice gateway in upstream mode) in `throughput/gateway.rs`; resident memory
//! (idle, per idle connection, after a 1:1 run) and start-up / recovery with a large file
//! stream in `throughput/memory.rs`.
//!
//! `cargo bench --bench throughput -- --help` lists the options; `benches/compare.sh` builds
//! and installs what it needs and runs it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;

// Not `benches/js.rs`: cargo would also build every `benches/*.rs` as a bench target.
#[path = "throughput/gateway.rs"]
mod gateway;
#[path = "throughput/js.rs"]
mod js;
#[path = "throughput/memory.rs"]
mod memory;
#[path = "throughput/plugins.rs"]
mod plugins;

struct Options {
    sluice: String,
    nats_server: String,
    msgs: usize,
    /// Messages per JetStream publish / fetch run (`sync always` and latency runs use a fifth).
    js_msgs: usize,
    sizes: Vec<usize>,
    rounds: usize,
    json: Option<String>,
    only: Option<String>,
    /// Idle connections of the memory rows.
    conns: usize,
    /// Messages of the 1:1 run the memory rows measure after.
    mem_msgs: usize,
    /// Messages in the stream of the start-up and recovery rows.
    startup_msgs: usize,
    /// Rounds of the start-up and recovery rows (2 unless `--rounds` says otherwise).
    startup_rounds: usize,
    quick: bool,
}

fn parse_options() -> Options {
    let mut o = Options {
        sluice: "target/release/sluice".into(),
        nats_server: ".venv/bin/nats-server".into(),
        msgs: 500_000,
        js_msgs: 100_000,
        sizes: vec![16, 128],
        rounds: 3,
        json: None,
        only: None,
        conns: 10_000,
        mem_msgs: 1_000_000,
        startup_msgs: 1_000_000,
        startup_rounds: 2,
        quick: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--sluice" => o.sluice = val(),
            "--nats-server" => o.nats_server = val(),
            "--msgs" => o.msgs = val().parse().expect("--msgs N"),
            "--js-msgs" => o.js_msgs = val().parse().expect("--js-msgs N"),
            "--rounds" => {
                o.rounds = val().parse().expect("--rounds N");
                o.startup_rounds = o.rounds;
            }
            "--conns" => o.conns = val().parse().expect("--conns N"),
            "--mem-msgs" => o.mem_msgs = val().parse().expect("--mem-msgs N"),
            "--startup-msgs" => o.startup_msgs = val().parse().expect("--startup-msgs N"),
            "--sizes" => {
                o.sizes = val()
                    .split(',')
                    .map(|s| s.parse().expect("--sizes 16,128"))
                    .collect()
            }
            "--json" => o.json = Some(val()),
            "--only" => o.only = Some(val()),
            "--quick" => {
                o.msgs = 300_000;
                o.js_msgs = 50_000;
                o.rounds = 3;
                o.conns = 2_000;
                o.mem_msgs = 300_000;
                o.startup_msgs = 200_000;
                o.quick = true;
            }
            "--bench" => {}
            "--help" | "-h" => {
                println!(
                    "throughput [--sluice PATH] [--nats-server PATH] [--msgs N] [--js-msgs N] [--sizes 16,128] [--rounds N] [--conns N] [--mem-msgs N] [--startup-msgs N] [--quick] [--json FILE] [--only SCENARIO-SUBSTRING]"
                );
                std::process::exit(0);
            }
            other => panic!("unknown option {other}"),
        }
    }
    o
}

/// A server process on a random loopback port; killed on drop.
struct Proc {
    child: Child,
    url: String,
    /// `ws://host:port` of the WebSocket listener.
    ws_url: Option<String>,
    /// `http://host:port` of sluice's HTTP API.
    api_url: Option<String>,
    /// `http://127.0.0.1:port` of the monitoring port, when started with `-m`.
    monitor_url: Option<String>,
    _dir: tempfile::TempDir,
}

/// Whether and how a server runs JetStream; the store is always a fresh directory.
#[derive(Clone, Copy)]
enum Js {
    Off,
    /// `-js -sd DIR`: each server's default sync interval (fsync in the background).
    On,
    /// `sync_interval = always` in the config file: fsync before every PubAck.
    SyncAlways,
}

impl Proc {
    /// Starts `bin` with a WebSocket listener; `sluice` says which config format to write.
    fn start(bin: &str, sluice: bool, js: Js) -> Proc {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = dir.path().join("store");
        let store = store.to_str().expect("utf-8 temp dir");
        let (name, mut text, mut extra) = if sluice {
            (
                "ws.toml",
                "[websocket]\nport = -1\n".to_string(),
                vec!["--api_port", "-1"],
            )
        } else {
            (
                "ws.conf",
                "websocket {\n  port: -1\n  no_tls: true\n}\n".to_string(),
                vec![],
            )
        };
        match (js, sluice) {
            (Js::Off, _) => {}
            (Js::On, _) => extra.extend(["-js", "-sd", store]),
            (Js::SyncAlways, true) => text.push_str(&format!(
                "[jetstream]\nenabled = true\nstore_dir = \"{store}\"\nsync_interval = \"always\"\n"
            )),
            (Js::SyncAlways, false) => text.push_str(&format!(
                "jetstream {{\n  store_dir: \"{store}\"\n  sync_interval: always\n}}\n"
            )),
        }
        Proc::spawn(bin, dir, name, &text, &extra, None)
    }

    /// Starts `bin` on a free loopback client port with `text` as its config file `name`
    /// (written into `dir`, which lives as long as the process) and `extra` arguments, and
    /// waits until it says it is ready. With `echo`, its later warnings, errors and slow
    /// consumer reports are copied to stderr behind that label.
    fn spawn(
        bin: &str,
        dir: tempfile::TempDir,
        name: &str,
        text: &str,
        extra: &[&str],
        echo: Option<&str>,
    ) -> Proc {
        let config = dir.path().join(name);
        std::fs::write(&config, text).expect("write config");
        let mut child = Command::new(bin)
            .args(["-a", "127.0.0.1", "-p", "-1", "-c"])
            .arg(&config)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
        let stderr = child.stderr.take().expect("piped");
        let mut lines = BufReader::new(stderr).lines();
        let (mut url, mut ws_url, mut api_url, mut monitor_url) = (None, None, None, None);
        for line in lines.by_ref().map_while(Result::ok) {
            if let Some(i) = line.find("Listening for client connections on ") {
                url = Some(format!("nats://{}", line[i + 36..].trim()));
            }
            if let Some(i) = line.find("Listening for websocket clients on ") {
                ws_url = Some(line[i + 35..].trim().to_string());
            }
            if let Some(i) = line.find("Listening for API requests on ") {
                api_url = Some(format!("http://{}", line[i + 30..].trim()));
            }
            if let Some(i) = line.find("Starting http monitor on ") {
                // Bound to the `-a` host; only the port is needed.
                let port = line[i + 25..].trim().rsplit(':').next().unwrap_or("");
                monitor_url = Some(format!("http://127.0.0.1:{port}"));
            }
            if line.contains("Server is ready") {
                break;
            }
        }
        // Keep draining stderr so the server never blocks on a full pipe.
        let echo = echo.map(str::to_string);
        std::thread::spawn(move || {
            // Times each kind of line (digits ignored) was seen: a kind is echoed the 1st,
            // 10th, 100th... time only, so a warning per message cannot flood the output.
            let mut seen = std::collections::HashMap::<String, u64>::new();
            for line in lines.map_while(Result::ok) {
                let Some(label) = &echo else { continue };
                let lower = line.to_ascii_lowercase();
                if !["warn", "error", "[wrn]", "[err]", "slow consumer"]
                    .iter()
                    .any(|w| lower.contains(w))
                {
                    continue;
                }
                let n = seen
                    .entry(lower.replace(|c: char| c.is_ascii_digit(), ""))
                    .or_default();
                *n += 1;
                let digits = n.to_string();
                if digits.starts_with('1') && digits[1..].bytes().all(|b| b == b'0') {
                    let times = if *n > 1 {
                        format!(" (x{n})")
                    } else {
                        String::new()
                    };
                    eprintln!("[{label}] {line}{times}");
                }
            }
        });
        Proc {
            child,
            url: url.unwrap_or_else(|| panic!("{bin} printed no listen line")),
            ws_url,
            api_url,
            monitor_url,
            _dir: dir,
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Clone, Copy, Debug)]
enum Scenario {
    PubOnly,
    OneToOne,
    FanOut4,
    Queue4,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::PubOnly => "publish only",
            Scenario::OneToOne => "pub/sub 1:1",
            Scenario::FanOut4 => "fan-out 1:4",
            Scenario::Queue4 => "queue group of 4",
        }
    }
}

/// Runs one scenario and returns messages per second (published messages for publish-only,
/// delivered messages otherwise).
async fn run(url: &str, scenario: Scenario, msgs: usize, size: usize) -> f64 {
    run_with(url, scenario, msgs, Bytes::from(vec![b'x'; size])).await
}

/// [`run`] with a given payload (the plugin scenarios publish JSON).
async fn run_with(url: &str, scenario: Scenario, msgs: usize, payload: Bytes) -> f64 {
    run_counted(url, scenario, msgs, payload).await.0
}

/// [`run_with`], also returning how many expected deliveries never arrived. A run that lost
/// messages is timed until its last delivery.
async fn run_counted(url: &str, scenario: Scenario, msgs: usize, payload: Bytes) -> (f64, usize) {
    let subscribers = match scenario {
        Scenario::PubOnly => 0,
        Scenario::OneToOne => 1,
        Scenario::FanOut4 | Scenario::Queue4 => 4,
    };
    let expected = match scenario {
        Scenario::PubOnly => 0,
        Scenario::OneToOne | Scenario::Queue4 => msgs,
        Scenario::FanOut4 => msgs * 4,
    };
    let received = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    let mut clients = Vec::new();
    for _ in 0..subscribers {
        let nc = async_nats::ConnectOptions::new()
            .subscription_capacity(1 << 20)
            .connect(url)
            .await
            .expect("connect subscriber");
        let mut sub = match scenario {
            Scenario::Queue4 => nc.queue_subscribe("bench", "q".into()).await,
            _ => nc.subscribe("bench").await,
        }
        .expect("subscribe");
        sync_with_server(&nc).await;
        let received = received.clone();
        tasks.push(tokio::spawn(async move {
            while sub.next().await.is_some() {
                if received.fetch_add(1, Ordering::Relaxed) + 1 >= expected {
                    break;
                }
            }
        }));
        clients.push(nc);
    }
    let publisher = async_nats::connect(url).await.expect("connect publisher");
    // With no subscriber the run ends when the server has read every publish: the server
    // handles a connection's messages in order, so the publisher's own message on `done`
    // comes back after all of them. (`flush` only empties the client's buffer: without this
    // the timing would end while megabytes still sat unread in the socket.)
    let mut done = publisher
        .subscribe("bench.done")
        .await
        .expect("subscribe done");
    sync_with_server(&publisher).await;
    let start = Instant::now();
    let mut last_progress = start;
    for _ in 0..msgs {
        publisher
            .publish("bench", payload.clone())
            .await
            .expect("publish");
    }
    publisher
        .publish("bench.done", Bytes::new())
        .await
        .expect("publish done");
    publisher.flush().await.expect("flush");
    if expected == 0 {
        tokio::time::timeout(Duration::from_secs(120), done.next())
            .await
            .expect("the server never echoed the end of the run")
            .expect("done subscription");
    }
    if expected > 0 {
        // Gives up after 120 s, or after 10 s without a delivery (messages were lost, e.g.
        // dropped as a slow consumer somewhere on the way).
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut seen = 0;
        while seen < expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
            let now = received.load(Ordering::Relaxed);
            if now > seen {
                (seen, last_progress) = (now, Instant::now());
            } else if last_progress.elapsed() > Duration::from_secs(10) {
                break;
            }
        }
    }
    let got = received.load(Ordering::Relaxed);
    let end = if got < expected {
        last_progress
    } else {
        Instant::now()
    };
    let elapsed = (end - start).as_secs_f64();
    for t in tasks {
        t.abort();
    }
    if got < expected {
        eprintln!(
            "warning: {} on {url} received {got} of {expected}",
            scenario.name()
        );
    }
    let counted = if expected == 0 { msgs } else { got };
    (counted as f64 / elapsed, expected.saturating_sub(got))
}

/// Returns once the server has applied everything `client` sent so far (a request to a
/// subject nobody serves comes back as "no responders" after a server round trip).
async fn sync_with_server(client: &async_nats::Client) {
    let _ = client.request("bench.sync", Bytes::new()).await;
}

/// Request/reply latency in microseconds (p50, p99) with `concurrency` requesters sharing
/// `requests` requests, against one echo responder.
async fn latency(url: &str, requests: usize, concurrency: usize) -> (f64, f64) {
    let responder = async_nats::connect(url).await.expect("connect responder");
    let mut sub = responder.subscribe("rr").await.expect("subscribe");
    let rc = responder.clone();
    let serve = tokio::spawn(async move {
        while let Some(msg) = sub.next().await {
            if let Some(reply) = msg.reply {
                let _ = rc.publish(reply, msg.payload).await;
            }
        }
    });
    // The SUB is in place before timing starts.
    sync_with_server(&responder).await;
    let requester = async_nats::connect(url).await.expect("connect requester");
    let _ = requester.request("rr", Bytes::from_static(b"warm")).await;
    let per = requests / concurrency;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let nc = requester.clone();
        tasks.push(tokio::spawn(async move {
            let mut v = Vec::with_capacity(per);
            for _ in 0..per {
                let t = Instant::now();
                nc.request("rr", Bytes::from_static(b"0123456789abcdef"))
                    .await
                    .expect("request");
                v.push(t.elapsed().as_secs_f64() * 1e6);
            }
            v
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("requester"));
    }
    serve.abort();
    all.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| all[((all.len() as f64 - 1.0) * p) as usize];
    (pct(0.50), pct(0.99))
}

/// Messages per second delivered to one subscriber connected over WebSocket (`ws_url`),
/// published by a TCP client (`url`).
async fn websocket_delivery(url: &str, ws_url: &str, msgs: usize, size: usize) -> f64 {
    let sub_client = async_nats::ConnectOptions::new()
        .subscription_capacity(1 << 20)
        .connect(ws_url)
        .await
        .expect("connect over websocket");
    let mut sub = sub_client.subscribe("wsbench").await.expect("subscribe");
    sync_with_server(&sub_client).await;
    let publisher = async_nats::connect(url).await.expect("connect publisher");
    let payload = Bytes::from(vec![b'x'; size]);
    let start = Instant::now();
    let reader = tokio::spawn(async move {
        let mut n = 0;
        while n < msgs {
            match tokio::time::timeout(Duration::from_secs(30), sub.next()).await {
                Ok(Some(_)) => n += 1,
                _ => break,
            }
        }
        n
    });
    for _ in 0..msgs {
        publisher
            .publish("wsbench", payload.clone())
            .await
            .expect("publish");
    }
    publisher.flush().await.expect("flush");
    let got = reader.await.expect("reader");
    if got < msgs {
        eprintln!("warning: websocket subscriber received {got} of {msgs}");
    }
    got as f64 / start.elapsed().as_secs_f64()
}

/// HTTP publishes per second: `concurrency` keep-alive clients POSTing `size`-byte bodies.
async fn http_publish(api_url: &str, requests: usize, concurrency: usize, size: usize) -> f64 {
    let client = reqwest::Client::new();
    let url = format!("{api_url}/v1/publish/httpbench");
    let body = Bytes::from(vec![b'x'; size]);
    let _ = client.post(&url).body(body.clone()).send().await;
    let per = requests / concurrency;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, body) = (client.clone(), url.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..per {
                let resp = client.post(&url).body(body.clone()).send().await;
                assert!(resp.is_ok_and(|r| r.status() == 202), "publish failed");
            }
        }));
    }
    for t in tasks {
        t.await.expect("http publisher");
    }
    (per * concurrency) as f64 / start.elapsed().as_secs_f64()
}

/// A progress bar on stderr for one scenario's runs (hidden when stderr is not a terminal,
/// so the table on stdout stays clean in logs).
fn progress(label: &str, runs: usize) -> indicatif::ProgressBar {
    let pb = indicatif::ProgressBar::new(runs as u64);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{spinner} {msg:32} [{bar:30}] {pos}/{len} runs")
    {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(label.to_string());
    pb
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let o = parse_options();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let sluice = Proc::start(&o.sluice, true, Js::Off);
    let nats = Proc::start(&o.nats_server, false, Js::Off);
    let scenarios = [
        Scenario::PubOnly,
        Scenario::OneToOne,
        Scenario::FanOut4,
        Scenario::Queue4,
    ];
    let mut rows = Vec::new();
    let wanted = |sc: &Scenario| {
        o.only
            .as_ref()
            .is_none_or(|f| sc.name().contains(f.as_str()))
    };
    if scenarios.iter().any(wanted) {
        println!(
            "| scenario | size | sluice msgs/s | nats-server msgs/s | ratio |\n|---|---|---|---|---|"
        );
    }
    for &size in &o.sizes {
        for &sc in scenarios.iter().filter(|sc| wanted(sc)) {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let pb = progress(&format!("{} {size} B", sc.name()), o.rounds * 2);
            // With nothing to deliver a round of `--msgs` lasts about a tenth of a second,
            // too short to measure well on a shared machine: publish-only sends four times
            // as many.
            let msgs = match sc {
                Scenario::PubOnly => o.msgs * 4,
                _ => o.msgs,
            };
            for _ in 0..o.rounds {
                a.push(rt.block_on(run(&sluice.url, sc, msgs, size)));
                pb.inc(1);
                b.push(rt.block_on(run(&nats.url, sc, msgs, size)));
                pb.inc(1);
            }
            pb.finish_and_clear();
            let (ma, mb) = (median(a), median(b));
            println!(
                "| {} | {size} B | {:.0} | {:.0} | {:.2} |",
                sc.name(),
                ma,
                mb,
                ma / mb
            );
            rows.push(serde_json::json!({
                "scenario": sc.name(), "size": size, "sluice": ma, "nats_server": mb, "ratio": ma / mb
            }));
        }
    }
    if o.only
        .as_ref()
        .is_none_or(|f| "request/reply".contains(f.as_str()))
    {
        println!(
            "\n| request/reply | sluice p50 µs | nats-server p50 µs | ratio p50 | sluice p99 µs | nats-server p99 µs | ratio p99 |\n|---|---|---|---|---|---|---|"
        );
        for conc in [1usize, 16] {
            let (mut a50, mut a99, mut b50, mut b99) = (vec![], vec![], vec![], vec![]);
            let pb = progress(&format!("request/reply x{conc}"), o.rounds * 2);
            for _ in 0..o.rounds {
                let (p50, p99) = rt.block_on(latency(&sluice.url, 20_000, conc));
                a50.push(p50);
                a99.push(p99);
                pb.inc(1);
                let (p50, p99) = rt.block_on(latency(&nats.url, 20_000, conc));
                b50.push(p50);
                b99.push(p99);
                pb.inc(1);
            }
            pb.finish_and_clear();
            let (a50, a99, b50, b99) = (median(a50), median(a99), median(b50), median(b99));
            let label = if conc == 1 {
                "sequential".to_string()
            } else {
                format!("{conc} concurrent")
            };
            println!(
                "| {label} | {a50:.1} | {b50:.1} | {:.2} | {a99:.1} | {b99:.1} | {:.2} |",
                a50 / b50,
                a99 / b99
            );
            rows.push(serde_json::json!({
                "scenario": format!("request/reply {label}"),
                "sluice_p50_us": a50, "nats_server_p50_us": b50,
                "sluice_p99_us": a99, "nats_server_p99_us": b99
            }));
        }
    }
    if o.only
        .as_ref()
        .is_none_or(|f| "websocket".contains(f.as_str()))
    {
        let (Some(a_ws), Some(b_ws)) = (&sluice.ws_url, &nats.ws_url) else {
            panic!("both servers must print their websocket listener");
        };
        let msgs = (o.msgs / 4).max(10_000);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let pb = progress("websocket delivery 128 B", o.rounds * 2);
        for _ in 0..o.rounds {
            a.push(rt.block_on(websocket_delivery(&sluice.url, a_ws, msgs, 128)));
            pb.inc(1);
            b.push(rt.block_on(websocket_delivery(&nats.url, b_ws, msgs, 128)));
            pb.inc(1);
        }
        pb.finish_and_clear();
        let (ma, mb) = (median(a), median(b));
        println!(
            "\n| websocket delivery | size | sluice msgs/s | nats-server msgs/s | ratio |\n|---|---|---|---|---|\n| TCP publisher to 1 WebSocket subscriber | 128 B | {ma:.0} | {mb:.0} | {:.2} |",
            ma / mb
        );
        rows.push(serde_json::json!({
            "scenario": "websocket delivery", "size": 128, "sluice": ma, "nats_server": mb, "ratio": ma / mb
        }));
    }
    if o.only
        .as_ref()
        .is_none_or(|f| "http publish".contains(f.as_str()))
    {
        let api = sluice
            .api_url
            .as_ref()
            .expect("sluice prints its API address");
        let requests = (o.msgs / 10).max(10_000);
        let pb = progress("http publish 128 B", o.rounds);
        let rates: Vec<f64> = (0..o.rounds)
            .map(|_| {
                let rate = rt.block_on(http_publish(api, requests, 16, 128));
                pb.inc(1);
                rate
            })
            .collect();
        pb.finish_and_clear();
        let rate = median(rates);
        println!(
            "\n| HTTP publish (no peer) | size | sluice requests/s |\n|---|---|---|\n| 16 keep-alive clients, POST /v1/publish | 128 B | {rate:.0} |"
        );
        rows.push(serde_json::json!({"scenario": "http publish", "size": 128, "sluice": rate}));
    }
    js::run_all(&o, &rt, &mut rows);
    plugins::run_all(&o, &rt, &sluice, &mut rows);
    gateway::run_all(&o, &rt, &mut rows);
    memory::run_all(&o, &rt, &mut rows);
    if let Some(path) = o.json {
        let doc = serde_json::json!({
            "msgs": o.msgs, "js_msgs": o.js_msgs, "rounds": o.rounds, "rows": rows
        });
        std::fs::write(&path, serde_json::to_string_pretty(&doc).expect("json"))
            .expect("write json");
    }
}
