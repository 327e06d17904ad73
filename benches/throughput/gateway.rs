//! Gateway overhead (upstream mode): the same client (async-nats) against one nats-server,
//! once connected to it directly and once through a sluice gateway started with
//! `--upstream` pointing at that nats-server, rounds interleaved (direct, gateway,
//! gateway + plugin, direct, ...), medians and the ratio gateway / direct.
//!
//! - pub/sub 1:1, 128 B: the core 1:1 scenario ([`run_counted`]) with publisher and subscriber on
//!   the same path: directly on nats-server, on the gateway, and on the gateway with the
//!   `passthrough` plugin bound to the subject (uploaded with `PUT /v1/plugins` before each
//!   plugin run and removed after it; if the gateway refuses the upload, a second gateway
//!   preloads the plugin from its config file instead, and the bench says so).
//! - request/reply, sequential: [`latency`] with responder and requester on the same path,
//!   directly or through the gateway (without the plugin).
//!
//! The nats-server is this group's own, with JetStream on: in upstream mode the gateway keeps
//! uploaded plugins in the cluster's Key-Value and Object Store. Through the gateway a
//! message crosses two extra hops: client -> gateway -> nats-server -> gateway -> client.
//! Warnings, errors and slow consumer reports of both processes are copied to stderr.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{Options, Proc, Scenario, latency, median, progress, run_counted};

const SIZE: usize = 128;
/// Subject of the 1:1 scenario ([`run_counted`] publishes on `bench`); the plugin is bound
/// to it.
const SUBJECT: &str = "bench";
/// Requests per request/reply run, as in the core request/reply rows.
const REQUESTS: usize = 20_000;

fn passthrough() -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("plugins/target/wasm32-wasip2/release/passthrough.wasm");
    path.exists().then_some(path)
}

/// A TOML basic string or a nats-server config string (JSON's escaping is a subset of both).
fn toml_str(s: &str) -> String {
    serde_json::to_string(s).expect("json string")
}

/// Starts nats-server with JetStream on a fresh store (the gateway keeps its plugins there).
fn start_nats(bin: &str) -> Proc {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("store");
    let text = format!(
        "jetstream {{\n  store_dir: {}\n}}\n",
        toml_str(store.to_str().expect("utf-8 temp dir"))
    );
    Proc::spawn(bin, dir, "nats.conf", &text, &[], Some("nats-server"))
}

/// Starts a sluice gateway in front of `upstream` with its own plugin directory, an API port
/// and a monitoring port, optionally preloading `passthrough` bound to [`SUBJECT`], and
/// waits until `/healthz` says the upstream connection is up.
fn start_gateway(
    rt: &tokio::runtime::Runtime,
    sluice: &str,
    upstream: &str,
    preload: Option<&PathBuf>,
) -> Proc {
    let dir = tempfile::tempdir().expect("temp dir");
    let plugins = dir.path().join("plugins");
    let mut text = format!(
        "[plugins]\ndir = {}\n",
        toml_str(plugins.to_str().expect("utf-8 temp dir"))
    );
    if let Some(wasm) = preload {
        text.push_str(&format!(
            "[[plugins.preload]]\nname = \"passthrough\"\nfile = {}\nsubjects = [\"{SUBJECT}\"]\n",
            toml_str(wasm.to_str().expect("utf-8 path"))
        ));
    }
    let gateway = Proc::spawn(
        sluice,
        dir,
        "gateway.toml",
        &text,
        &["--upstream", upstream, "--api_port", "-1", "-m", "-1"],
        Some("gateway"),
    );
    let monitor = gateway
        .monitor_url
        .clone()
        .expect("the gateway prints its monitor address");
    rt.block_on(wait_healthy(&format!("{monitor}/healthz")));
    gateway
}

/// Polls `url` until it answers 200 (the gateway reports not ready until its upstream
/// connection is up).
async fn wait_healthy(url: &str) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match client.get(url).send().await {
            Ok(r) if r.status().is_success() => return,
            other if Instant::now() > deadline => {
                panic!("gateway not healthy after 15 s: {other:?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// Binds `passthrough` to [`SUBJECT`] on a running gateway; the error says why not. In
/// upstream mode the gateway keeps its plugins in the cluster's Key-Value and Object Store,
/// which it opens shortly after connecting, so a 503 is retried for a few seconds.
async fn upload(api: &str, wasm: &PathBuf) -> Result<(), String> {
    let bytes = std::fs::read(wasm).map_err(|e| e.to_string())?;
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let resp = client
            .put(format!("{api}/v1/plugins/passthrough?subjects={SUBJECT}"))
            .header("content-type", "application/wasm")
            .body(bytes.clone())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let why = format!("{status}: {}", resp.text().await.unwrap_or_default());
        if status != reqwest::StatusCode::SERVICE_UNAVAILABLE || Instant::now() > deadline {
            return Err(why);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Unbinds `passthrough` (absent is fine).
async fn remove(api: &str) {
    let _ = reqwest::Client::new()
        .delete(format!("{api}/v1/plugins/passthrough"))
        .send()
        .await;
}

/// Calls the gateway's `passthrough` plugin has served, from `GET /v1/plugins/passthrough`;
/// `None` when the gateway has no such plugin.
async fn plugin_calls(api: &str) -> Option<u64> {
    let resp = reqwest::get(format!("{api}/v1/plugins/passthrough"))
        .await
        .ok()?;
    if !resp.status().is_success() {
        return None;
    }
    let body: serde_json::Value = resp.json().await.ok()?;
    body["metrics"]["calls"].as_u64()
}

/// Runs the gateway rows if `--only` lets them through (they match "gateway overhead").
/// They get a nats-server of their own with JetStream on, where the gateway keeps its
/// plugins (see [`upload`]).
pub(crate) fn run_all(
    o: &Options,
    rt: &tokio::runtime::Runtime,
    rows: &mut Vec<serde_json::Value>,
) {
    if o.only
        .as_ref()
        .is_some_and(|f| !"gateway overhead".contains(f.as_str()))
    {
        return;
    }
    let Some(wasm) = passthrough() else {
        eprintln!("gateway rows left out: build the plugins first with `bash plugins/build.sh`");
        return;
    };
    let nats = start_nats(&o.nats_server);
    let gateway = start_gateway(rt, &o.sluice, &nats.url, None);
    let api = gateway.api_url.clone().expect("sluice has an API port");
    // Normally the plugin is uploaded before each plugin run and removed after it; if the
    // gateway refuses the upload, a second gateway preloads it for good.
    let preloaded = match rt.block_on(upload(&api, &wasm)) {
        Ok(()) => None,
        Err(e) => {
            eprintln!(
                "warning: the gateway refused PUT /v1/plugins/passthrough ({e}); \
                 using a second gateway with [[plugins.preload]] for the plugin row"
            );
            Some(start_gateway(rt, &o.sluice, &nats.url, Some(&wasm)))
        }
    };
    eprintln!(
        "gateway overhead: nats-server on {}, gateway on {}",
        nats.url, gateway.url
    );
    let (plugin_url, plugin_api) = match &preloaded {
        Some(p) => (p.url.clone(), p.api_url.clone().expect("API port")),
        None => (gateway.url.clone(), api.clone()),
    };

    let labels = [
        "direct to nats-server",
        "through gateway",
        "through gateway + passthrough",
    ];
    let payload = Bytes::from(vec![b'x'; SIZE]);
    let one_to_one = |url: &str| {
        let (url, payload) = (url.to_string(), payload.clone());
        async move { run_counted(&url, Scenario::OneToOne, o.msgs, payload).await }
    };
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); labels.len()];
    // Expected deliveries that never arrived, over all rounds, per path.
    let mut lost = vec![0; labels.len()];
    let mut calls = 0;
    let pb = progress("gateway overhead 1:1 128 B", o.rounds * labels.len());
    for _ in 0..o.rounds {
        let (rate, missing) = rt.block_on(one_to_one(&nats.url));
        rates[0].push(rate);
        lost[0] += missing;
        pb.inc(1);
        if preloaded.is_none() {
            rt.block_on(remove(&api));
        }
        let (rate, missing) = rt.block_on(one_to_one(&gateway.url));
        rates[1].push(rate);
        lost[1] += missing;
        if let Some(n) = rt.block_on(plugin_calls(&api)) {
            eprintln!("warning: the plugin was bound during the no-plugin run ({n} calls)");
        }
        pb.inc(1);
        if preloaded.is_none() {
            rt.block_on(upload(&api, &wasm))
                .expect("upload passthrough");
        }
        let before = rt.block_on(plugin_calls(&plugin_api)).unwrap_or(0);
        let (rate, missing) = rt.block_on(one_to_one(&plugin_url));
        rates[2].push(rate);
        lost[2] += missing;
        calls += rt.block_on(plugin_calls(&plugin_api)).unwrap_or(0) - before;
        pb.inc(1);
    }
    pb.finish_and_clear();
    rt.block_on(remove(&api));
    let expected = (o.rounds * o.msgs) as u64;
    if calls < expected {
        eprintln!("warning: passthrough counted {calls} calls, expected at least {expected}");
    }
    let medians: Vec<f64> = rates.into_iter().map(median).collect();
    let base = medians[0];
    println!(
        "\n| gateway overhead, pub/sub 1:1, {SIZE} B | msgs/s | vs direct | added µs/msg | lost, all rounds |\n|---|---|---|---|---|"
    );
    for ((label, rate), lost) in labels.iter().zip(&medians).zip(&lost) {
        let added = (1.0 / rate - 1.0 / base) * 1e6;
        println!(
            "| {label} | {rate:.0} | {:.2} | {added:.2} | {lost} |",
            rate / base
        );
        rows.push(serde_json::json!({
            "scenario": format!("gateway overhead 1:1: {label}"), "size": SIZE,
            "msgs_per_s": rate, "vs_direct": rate / base, "added_us_per_msg": added,
            "lost": lost
        }));
    }
    let how = if preloaded.is_some() {
        "preloaded from [[plugins.preload]] on a second gateway"
    } else {
        "uploaded with PUT /v1/plugins before each run, removed after it"
    };
    println!("\n(passthrough {how}; {calls} plugin calls counted)");

    let paths = [(labels[0], &nats.url), (labels[1], &gateway.url)];
    let (mut p50s, mut p99s) = (vec![Vec::new(); 2], vec![Vec::new(); 2]);
    let pb = progress("gateway overhead request/reply", o.rounds * paths.len());
    for _ in 0..o.rounds {
        for (i, (_, url)) in paths.iter().enumerate() {
            let (p50, p99) = rt.block_on(latency(url, REQUESTS, 1));
            p50s[i].push(p50);
            p99s[i].push(p99);
            pb.inc(1);
        }
    }
    pb.finish_and_clear();
    let p50s: Vec<f64> = p50s.into_iter().map(median).collect();
    let p99s: Vec<f64> = p99s.into_iter().map(median).collect();
    println!(
        "\n| gateway overhead, request/reply sequential | p50 µs | p99 µs | p50 vs direct | p99 vs direct |\n|---|---|---|---|---|"
    );
    for (i, (label, _)) in paths.iter().enumerate() {
        println!(
            "| {label} | {:.1} | {:.1} | {:.2} | {:.2} |",
            p50s[i],
            p99s[i],
            p50s[i] / p50s[0],
            p99s[i] / p99s[0]
        );
        rows.push(serde_json::json!({
            "scenario": format!("gateway overhead request/reply sequential: {label}"),
            "p50_us": p50s[i], "p99_us": p99s[i],
            "p50_vs_direct": p50s[i] / p50s[0], "p99_vs_direct": p99s[i] / p99s[0]
        }));
    }
}
