//! Counters per plugin, shown in `GET /v1/plugins` and `/metrics`: calls, verdicts, errors by
//! kind, and a latency histogram. Plain atomics: the chain updates them on every call.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;

/// Upper bounds of the latency buckets, in microseconds (the last bucket is everything else).
pub const LATENCY_BUCKETS_US: [u64; 9] = [1, 5, 10, 50, 100, 500, 1_000, 5_000, 10_000];

/// The live counters of one plugin.
#[derive(Default)]
pub struct PluginMetrics {
    calls: AtomicU64,
    pass: AtomicU64,
    drop: AtomicU64,
    modify: AtomicU64,
    emit: AtomicU64,
    reject: AtomicU64,
    errors: AtomicU64,
    traps: AtomicU64,
    deadline: AtomicU64,
    memory: AtomicU64,
    latency: [AtomicU64; LATENCY_BUCKETS_US.len() + 1],
    latency_sum_ns: AtomicU64,
}

/// What a call ended with, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Verdict `pass`.
    Pass,
    /// Verdict `drop`.
    Drop,
    /// Verdict `modify`.
    Modify,
    /// Verdict `emit`.
    Emit,
    /// Verdict `reject`.
    Reject,
    /// The plugin trapped (panic, unreachable, bad memory access).
    Trap,
    /// It ran past its CPU deadline.
    Deadline,
    /// It hit its memory cap.
    Memory,
    /// Anything else: too many emitted messages, an invalid subject, init failure.
    Error,
}

impl PluginMetrics {
    /// Counts one call.
    pub fn record(&self, outcome: Outcome, took: Duration) {
        self.record_many(outcome, 1, took);
    }

    /// Counts `n` calls with the same outcome that took `each` on average: a batch's
    /// verdicts are counted with one atomic add per counter instead of per message.
    pub fn record_many(&self, outcome: Outcome, n: u64, each: Duration) {
        if n == 0 {
            return;
        }
        self.calls.fetch_add(n, Ordering::Relaxed);
        let counter = match outcome {
            Outcome::Pass => &self.pass,
            Outcome::Drop => &self.drop,
            Outcome::Modify => &self.modify,
            Outcome::Emit => &self.emit,
            Outcome::Reject => &self.reject,
            Outcome::Trap => &self.traps,
            Outcome::Deadline => &self.deadline,
            Outcome::Memory => &self.memory,
            Outcome::Error => &self.errors,
        };
        counter.fetch_add(n, Ordering::Relaxed);
        if matches!(outcome, Outcome::Trap | Outcome::Deadline | Outcome::Memory) {
            self.errors.fetch_add(n, Ordering::Relaxed);
        }
        let us = each.as_micros() as u64;
        let bucket = LATENCY_BUCKETS_US
            .iter()
            .position(|b| us <= *b)
            .unwrap_or(LATENCY_BUCKETS_US.len());
        self.latency[bucket].fetch_add(n, Ordering::Relaxed);
        self.latency_sum_ns.fetch_add(
            (each.as_nanos() as u64).saturating_mul(n),
            Ordering::Relaxed,
        );
    }

    /// A consistent-enough copy for reporting.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        MetricsSnapshot {
            calls: get(&self.calls),
            pass: get(&self.pass),
            drop: get(&self.drop),
            modify: get(&self.modify),
            emit: get(&self.emit),
            reject: get(&self.reject),
            errors: get(&self.errors),
            traps: get(&self.traps),
            deadline_exceeded: get(&self.deadline),
            memory_exceeded: get(&self.memory),
            latency_buckets_us: LATENCY_BUCKETS_US.to_vec(),
            latency_counts: self.latency.iter().map(get).collect(),
            latency_sum_seconds: get(&self.latency_sum_ns) as f64 / 1e9,
        }
    }
}

/// Counters as reported.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MetricsSnapshot {
    /// Calls made.
    pub calls: u64,
    /// `pass` verdicts.
    pub pass: u64,
    /// `drop` verdicts.
    pub drop: u64,
    /// `modify` verdicts.
    pub modify: u64,
    /// `emit` verdicts.
    pub emit: u64,
    /// `reject` verdicts.
    pub reject: u64,
    /// Calls that failed (traps, deadline, memory and invalid results together).
    pub errors: u64,
    /// Traps.
    pub traps: u64,
    /// Calls stopped at the CPU deadline.
    pub deadline_exceeded: u64,
    /// Calls stopped at the memory cap.
    pub memory_exceeded: u64,
    /// Upper bounds of the latency buckets in microseconds; `latency_counts` has one more
    /// entry, for slower calls.
    pub latency_buckets_us: Vec<u64>,
    /// Calls per latency bucket (not cumulative).
    pub latency_counts: Vec<u64>,
    /// Total time in calls.
    pub latency_sum_seconds: f64,
}

/// Appends the per-plugin Prometheus series (labelled by plugin name, never by subject).
pub fn prometheus(plugins: &[(String, MetricsSnapshot)], out: &mut String) {
    use std::fmt::Write as _;
    let head = |out: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
    };
    head(out, "sluice_plugin_calls_total", "counter", "Plugin calls.");
    for (name, m) in plugins {
        let _ = writeln!(
            out,
            "sluice_plugin_calls_total{{plugin=\"{name}\"}} {}",
            m.calls
        );
    }
    head(
        out,
        "sluice_plugin_verdicts_total",
        "counter",
        "Plugin verdicts by kind.",
    );
    for (name, m) in plugins {
        for (verdict, n) in [
            ("pass", m.pass),
            ("drop", m.drop),
            ("modify", m.modify),
            ("emit", m.emit),
            ("reject", m.reject),
        ] {
            let _ = writeln!(
                out,
                "sluice_plugin_verdicts_total{{plugin=\"{name}\",verdict=\"{verdict}\"}} {n}"
            );
        }
    }
    head(
        out,
        "sluice_plugin_errors_total",
        "counter",
        "Failed plugin calls by kind.",
    );
    for (name, m) in plugins {
        let other = m.errors - m.traps - m.deadline_exceeded - m.memory_exceeded;
        for (kind, n) in [
            ("trap", m.traps),
            ("deadline", m.deadline_exceeded),
            ("memory", m.memory_exceeded),
            ("other", other),
        ] {
            let _ = writeln!(
                out,
                "sluice_plugin_errors_total{{plugin=\"{name}\",kind=\"{kind}\"}} {n}"
            );
        }
    }
    head(
        out,
        "sluice_plugin_call_duration_seconds",
        "histogram",
        "Time per plugin call.",
    );
    for (name, m) in plugins {
        let mut cumulative = 0;
        for (i, n) in m.latency_counts.iter().enumerate() {
            cumulative += n;
            let le = match m.latency_buckets_us.get(i) {
                Some(us) => format!("{}", *us as f64 / 1e6),
                None => "+Inf".to_string(),
            };
            let _ = writeln!(
                out,
                "sluice_plugin_call_duration_seconds_bucket{{plugin=\"{name}\",le=\"{le}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "sluice_plugin_call_duration_seconds_sum{{plugin=\"{name}\"}} {}",
            m.latency_sum_seconds
        );
        let _ = writeln!(
            out,
            "sluice_plugin_call_duration_seconds_count{{plugin=\"{name}\"}} {}",
            m.calls
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_outcomes_and_buckets_latency() {
        let m = PluginMetrics::default();
        m.record(Outcome::Pass, Duration::from_nanos(400));
        m.record(Outcome::Trap, Duration::from_micros(7));
        m.record(Outcome::Deadline, Duration::from_millis(20));
        let s = m.snapshot();
        assert_eq!(
            (s.calls, s.pass, s.traps, s.deadline_exceeded, s.errors),
            (3, 1, 1, 1, 2)
        );
        assert_eq!(s.latency_counts, vec![1, 0, 1, 0, 0, 0, 0, 0, 0, 1]);
    }
}
