//! Soak: mixed load with connection churn against one sluice process for a bounded time,
//! then a check that the server's open descriptors and resident memory come back to their
//! baseline once every client has gone (issue 8).
//!
//! The soak starts sluice itself on 127.0.0.1 (random ports, JetStream in a temp dir, the
//! HTTP API and monitoring on), and runs the load of `soak/load.rs`, `soak/web.rs` and
//! `soak/js.rs`: churning NATS clients (clean, dropped, reset mid-operation, stalled),
//! long-lived pub/sub flows with wildcard and queue subscribers and an echo service,
//! JetStream publishes with pull fetch/ack and ephemeral consumers, HTTP publishes and
//! requests on keep-alive and fresh connections, NATS over WebSocket and the JSON
//! WebSocket, and SSE subscriptions. A warm-up phase comes first; once its clients have
//! gone and the server is quiet, the baseline is sampled (`soak/probe.rs`). The measured
//! time is split into phases with a quiet sample after each, so a report shows the trend;
//! the last sample is judged against the baseline (`soak/report.rs`). Exit status 0 when
//! every check passed, 1 otherwise (2 for bad arguments).
//!
//! `cargo bench --bench soak -- --help` lists the options; `cargo test --bench soak --
//! --duration 45s` runs it from a debug build (what `.ci/run` does).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

// Not `benches/load.rs` and so on: cargo would build every `benches/*.rs` as a bench target.
#[path = "soak/js.rs"]
mod js;
#[path = "soak/load.rs"]
mod load;
#[path = "soak/probe.rs"]
mod probe;
#[path = "soak/report.rs"]
mod report;
#[path = "soak/server.rs"]
mod server;
#[path = "soak/stats.rs"]
mod stats;
#[path = "soak/web.rs"]
mod web;

use load::{Ctx, Flows};
use probe::{Sample, Target};
use report::{Limits, Report};
use server::Server;
use stats::Stats;

/// The longest soak accepted: a soak is a bounded run, not a service.
const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);
/// Churning NATS workers, HTTP workers of each kind, WebSocket and SSE workers.
const NATS_CHURNERS: usize = 4;
const HTTP_WORKERS: usize = 2;
const WS_WORKERS: usize = 2;
const SSE_WORKERS: usize = 1;
/// How long the workers of a phase may take to finish after it ends.
const STOP_GRACE: Duration = Duration::from_secs(30);

/// Mixed load with connection churn against a sluice it starts on loopback; checks that
/// descriptors and memory return to their baseline afterwards.
#[derive(Parser)]
#[command(name = "soak")]
struct Options {
    /// The sluice binary (release or debug build). Default: target/release/sluice if it
    /// exists, else target/debug/sluice.
    #[arg(long)]
    sluice: Option<PathBuf>,
    /// Measured load time, e.g. 45s, 10m, 2h (at most 24h).
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Load before the baseline is taken (lazy allocations, thread pools, the stream's
    /// first segment).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    warmup: Duration,
    /// Phases the measured time is split into, with a quiet sample after each.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    phases: u32,
    /// Multiplies every rate of the load (1 = about 5,000 messages/s published and 80
    /// connections/s opened and closed).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Leave out the Server-Sent Events subscribers.
    #[arg(long)]
    no_sse: bool,
    /// How long the server may take to come back to its baseline once the clients left.
    #[arg(long, default_value = "45s", value_parser = humantime::parse_duration)]
    settle_timeout: Duration,
    /// Descriptors allowed above the baseline (the stream's segment files roll over);
    /// sockets must return exactly.
    #[arg(long, default_value_t = 2)]
    fd_slack: u64,
    /// Resident memory allowed above the baseline: the larger of this many MiB...
    #[arg(long, default_value_t = 16)]
    rss_slack_mib: u64,
    /// ...and this percentage of the baseline.
    #[arg(long, default_value_t = 25)]
    rss_slack_percent: u64,
    /// Unexpected client-side errors tolerated.
    #[arg(long, default_value_t = 0)]
    max_errors: u64,
    /// Long-lived flow deliveries that may go missing.
    #[arg(long, default_value_t = 0)]
    max_lost: u64,
    /// Write the JSON report to this file instead of printing it after the tables.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

impl Options {
    fn check(&self) -> Result<PathBuf, String> {
        if self.duration > MAX_DURATION || self.warmup > MAX_DURATION {
            return Err("--duration and --warmup are at most 24h".into());
        }
        if self.duration < Duration::from_secs(self.phases.into()) {
            return Err("--duration must give each phase at least 1 s".into());
        }
        if !(self.scale > 0.0 && self.scale <= 50.0) {
            return Err("--scale must be in (0, 50]".into());
        }
        let bin = self.sluice.clone().unwrap_or_else(|| {
            let release = PathBuf::from("target/release/sluice");
            if release.is_file() {
                release
            } else {
                PathBuf::from("target/debug/sluice")
            }
        });
        if !bin.is_file() {
            return Err(format!(
                "{} does not exist (build it, or pass --sluice)",
                bin.display()
            ));
        }
        Ok(bin)
    }
}

fn main() -> ExitCode {
    let o = Options::parse();
    let bin = match o.check() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("soak: {e}");
            return ExitCode::from(2);
        }
    };
    let server = match Server::start(&bin) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("soak: {e}");
            return ExitCode::FAILURE;
        }
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("soak: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "soak: {} (pid {}) on {}, {:?} of load after {:?} of warm-up",
        bin.display(),
        server.pid,
        server.nats_url,
        o.duration,
        o.warmup
    );
    let mut report = rt.block_on(soak(&o, &bin, &server));
    let limits = Limits {
        fd_slack: o.fd_slack,
        rss_slack_mib: o.rss_slack_mib,
        rss_slack_percent: o.rss_slack_percent,
        max_errors: o.max_errors,
        max_lost: o.max_lost,
    };
    {
        let log = server.log.lock().unwrap_or_else(|e| e.into_inner());
        report.judge(&log, &limits);
    }
    report.print_tables();
    let json = serde_json::to_string_pretty(&report).unwrap_or_default();
    match &o.json {
        None => println!("\n{json}"),
        Some(path) => {
            if let Err(e) = std::fs::write(path, &json) {
                eprintln!("soak: cannot write {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        }
    }
    drop(server);
    if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Warm-up, baseline, the measured phases with a sample after each.
async fn soak(o: &Options, bin: &std::path::Path, server: &Server) -> Report {
    let nats_addr = server.nats_url.trim_start_matches("nats://").to_string();
    let new_ctx = || {
        Arc::new(Ctx {
            nats_url: server.nats_url.clone(),
            nats_addr: nats_addr.clone(),
            api_url: server.api_url.clone(),
            ws_url: server.ws_url.clone(),
            stats: Arc::new(Stats::default()),
            scale: o.scale,
            sse: !o.no_sse,
        })
    };
    let (warm, main) = (new_ctx(), new_ctx());
    let mut report = Report {
        sluice: bin.display().to_string(),
        duration_secs: o.duration.as_secs_f64(),
        warmup_secs: o.warmup.as_secs_f64(),
        phases: o.phases,
        scale: o.scale,
        stats: Default::default(),
        warmup: Default::default(),
        samples: Vec::new(),
        server_warnings: 0,
        server_errors: 0,
        server_log_samples: Vec::new(),
        aborted: None,
        checks: Vec::new(),
        passed: false,
    };
    let progress = Progress::new(o);
    let result = async {
        js::setup(&warm).await?;
        progress.phase("warm-up", &warm);
        run_phase(&warm, server, o.warmup, &progress).await?;
        let baseline = sample(server, "baseline (after warm-up)", None, o).await?;
        let target = Target {
            max_fds: baseline.fds + o.fd_slack,
            max_subscriptions: baseline.subscriptions,
        };
        report.samples.push(baseline);
        let each = o.duration / o.phases;
        for i in 1..=o.phases {
            progress.phase(&format!("phase {i}/{}", o.phases), &main);
            run_phase(&main, server, each, &progress).await?;
            let label = format!(
                "after phase {i}/{} ({:.0} s)",
                o.phases,
                (each * i).as_secs_f64()
            );
            report
                .samples
                .push(sample(server, &label, Some(&target), o).await?);
        }
        Ok::<(), String>(())
    }
    .await;
    progress.finish();
    report.aborted = result.err();
    report.stats = main.stats.snapshot();
    report.warmup = warm.stats.snapshot();
    report
}

/// Waits for the server to settle and samples it; an error when it is gone.
async fn sample(
    server: &Server,
    label: &str,
    target: Option<&Target>,
    o: &Options,
) -> Result<Sample, String> {
    let s = probe::settle(
        server.pid,
        &server.monitor_url,
        &server.store,
        label,
        target,
        o.settle_timeout,
    )
    .await;
    match (s, server.exited()) {
        (_, Some(status)) => Err(format!("the server exited ({status})")),
        (Some(s), None) => Ok(s),
        (None, None) => Err("the server's /proc entry is gone".into()),
    }
}

/// Runs every worker for `length`, then stops them and closes their clients; an error when
/// the server died meanwhile.
async fn run_phase(
    ctx: &Arc<Ctx>,
    server: &Server,
    length: Duration,
    progress: &Progress,
) -> Result<(), String> {
    let flows = Flows::start(ctx).await?;
    let stop = CancellationToken::new();
    let mut workers = JoinSet::new();
    for id in 0..NATS_CHURNERS {
        workers.spawn(load::churn_nats(ctx.clone(), id, stop.clone()));
    }
    for id in 0..HTTP_WORKERS {
        workers.spawn(web::http(ctx.clone(), id, false, stop.clone()));
        workers.spawn(web::http(
            ctx.clone(),
            id + HTTP_WORKERS,
            true,
            stop.clone(),
        ));
    }
    for id in 0..WS_WORKERS {
        workers.spawn(web::websocket(ctx.clone(), id, stop.clone()));
    }
    if ctx.sse {
        for id in 0..SSE_WORKERS {
            workers.spawn(web::sse(ctx.clone(), id, stop.clone()));
        }
    }
    workers.spawn(js::run(ctx.clone(), stop.clone()));
    let end = Instant::now() + length;
    let mut died = None;
    while Instant::now() < end {
        tokio::time::sleep(
            end.saturating_duration_since(Instant::now())
                .min(Duration::from_secs(1)),
        )
        .await;
        progress.tick(ctx, server.pid);
        if let Some(status) = server.exited() {
            died = Some(format!("the server exited during the load ({status})"));
            break;
        }
    }
    stop.cancel();
    if died.is_some() {
        // Nothing will answer any more: no graceful goodbyes.
        workers.abort_all();
        while workers.join_next().await.is_some() {}
        flows.abandon();
    } else {
        let aborted = load::join_within(&mut workers, STOP_GRACE).await;
        if aborted > 0 {
            let why = format!("{aborted} workers did not stop in {STOP_GRACE:?}");
            ctx.stats.error("shutdown", why);
        }
        flows.stop(ctx).await;
    }
    match died {
        Some(why) => Err(why),
        None => Ok(()),
    }
}

/// A progress bar on stderr over the whole run; where stderr is no terminal (CI), a status
/// line every 15 s instead.
struct Progress {
    bar: indicatif::ProgressBar,
    started: Instant,
    last_line: std::sync::Mutex<Instant>,
    phase: std::sync::Mutex<String>,
}

impl Progress {
    fn new(o: &Options) -> Progress {
        let bar = indicatif::ProgressBar::new((o.duration + o.warmup).as_secs());
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} s  {msg}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        Progress {
            bar,
            started: Instant::now(),
            last_line: std::sync::Mutex::new(Instant::now()),
            phase: std::sync::Mutex::new(String::new()),
        }
    }

    fn phase(&self, name: &str, ctx: &Ctx) {
        *self.phase.lock().unwrap_or_else(|e| e.into_inner()) = name.to_string();
        self.bar.set_message(self.line(ctx, 0));
    }

    fn line(&self, ctx: &Ctx, rss: u64) -> String {
        let phase = self.phase.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let s = &ctx.stats;
        format!(
            "{phase}: {} msgs sent, {} conns churned, {} errors, RSS {:.1} MiB",
            s.sent.load(std::sync::atomic::Ordering::Relaxed),
            s.connections(),
            s.errors(),
            rss as f64 / (1024.0 * 1024.0)
        )
    }

    fn tick(&self, ctx: &Ctx, pid: u32) {
        let line = self.line(ctx, probe::rss(pid));
        self.bar.inc(1);
        if self.bar.is_hidden() {
            let mut last = self.last_line.lock().unwrap_or_else(|e| e.into_inner());
            if last.elapsed() >= Duration::from_secs(15) {
                *last = Instant::now();
                eprintln!(
                    "soak: {:>5.0} s  {line}",
                    self.started.elapsed().as_secs_f64()
                );
            }
        } else {
            self.bar.set_message(line);
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
