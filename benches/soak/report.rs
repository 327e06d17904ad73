//! The soak's verdict: the checks (server alive, connections and subscriptions back to
//! baseline, descriptors back to baseline, resident memory within its allowance, no
//! unexpected errors or losses), printed as Markdown tables and as one JSON document.

use serde::Serialize;

use super::probe::Sample;
use super::server::ServerLog;
use super::stats::Snapshot;

const MIB: f64 = 1024.0 * 1024.0;

/// The limits the checks use (from the command line).
pub struct Limits {
    /// Descriptors allowed above the baseline (regular files only; sockets must match).
    pub fd_slack: u64,
    /// Resident memory allowed above the baseline: the larger of this many MiB...
    pub rss_slack_mib: u64,
    /// ...and this percentage of the baseline.
    pub rss_slack_percent: u64,
    pub max_errors: u64,
    pub max_lost: u64,
}

/// One pass/fail line.
#[derive(Serialize)]
pub struct Check {
    pub name: &'static str,
    pub limit: String,
    pub value: String,
    pub ok: bool,
}

/// Everything a soak produced.
#[derive(Serialize)]
pub struct Report {
    pub sluice: String,
    pub duration_secs: f64,
    pub warmup_secs: f64,
    pub phases: u32,
    pub scale: f64,
    /// Counters of the measured phases (the warm-up's are in `warmup`).
    pub stats: Snapshot,
    pub warmup: Snapshot,
    /// Baseline (after the warm-up) first, then one per phase.
    pub samples: Vec<Sample>,
    pub server_warnings: u64,
    pub server_errors: u64,
    pub server_log_samples: Vec<String>,
    /// Why the soak ended early, if it did (the server died, a sample failed).
    pub aborted: Option<String>,
    pub checks: Vec<Check>,
    pub passed: bool,
}

/// Bytes above `base` the memory check allows.
pub fn rss_allowance(base: u64, l: &Limits) -> u64 {
    (l.rss_slack_mib * 1024 * 1024).max(base * l.rss_slack_percent / 100)
}

impl Report {
    /// Fills in `checks` and `passed` from the samples and counters.
    pub fn judge(&mut self, log: &ServerLog, l: &Limits) {
        self.server_warnings = log.warnings;
        self.server_errors = log.errors;
        self.server_log_samples = log.samples.clone();
        let mut checks = Vec::new();
        let panicked = log.samples.iter().any(|s| s.contains("panicked"));
        checks.push(Check {
            name: "server alive, no panic",
            limit: "running at the end".into(),
            value: match &self.aborted {
                Some(why) => why.clone(),
                None if panicked => "a panic was logged".into(),
                None => "running".into(),
            },
            ok: self.aborted.is_none() && !panicked,
        });
        if let (Some(base), Some(end)) = (self.samples.first(), self.samples.last())
            && self.samples.len() > 1
        {
            checks.push(Check {
                name: "client connections (/varz)",
                limit: "0".into(),
                value: end.connections.to_string(),
                ok: end.connections == 0,
            });
            let back = |name, base: u64, end: u64, slack: u64| Check {
                name,
                limit: match slack {
                    0 => format!("<= baseline {base}"),
                    n => format!("<= baseline {base} + {n}"),
                },
                value: end.to_string(),
                ok: end <= base + slack,
            };
            checks.extend([
                back(
                    "subscriptions (/varz)",
                    base.subscriptions,
                    end.subscriptions,
                    0,
                ),
                back("open sockets", base.sockets, end.sockets, 0),
                back("deleted files still open", base.deleted, end.deleted, 0),
                back("open descriptors", base.fds, end.fds, l.fd_slack),
            ]);
            let allowance = rss_allowance(base.rss, l);
            checks.push(Check {
                name: "resident memory",
                limit: format!(
                    "<= baseline {:.1} MiB + {:.1} MiB",
                    base.rss as f64 / MIB,
                    allowance as f64 / MIB
                ),
                value: format!(
                    "{:.1} MiB ({:+.1} MiB)",
                    end.rss as f64 / MIB,
                    (end.rss as f64 - base.rss as f64) / MIB
                ),
                ok: end.rss <= base.rss + allowance,
            });
        }
        checks.push(Check {
            name: "unexpected errors",
            limit: format!("<= {}", l.max_errors),
            value: self.stats.errors.to_string(),
            ok: self.stats.errors <= l.max_errors,
        });
        let lost = self
            .stats
            .flow_expected
            .saturating_sub(self.stats.flow_received);
        checks.push(Check {
            name: "long-lived flow messages lost",
            limit: format!("<= {}", l.max_lost),
            value: format!("{lost} of {}", self.stats.flow_expected),
            ok: lost <= l.max_lost,
        });
        self.passed = checks.iter().all(|c| c.ok);
        self.checks = checks;
    }

    /// The Markdown tables.
    pub fn print_tables(&self) {
        let s = &self.stats;
        let kinds: Vec<String> = s
            .connections_by_kind
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        println!("| soak | |\n|---|---|");
        println!("| sluice | {} |", self.sluice);
        println!(
            "| load | {:.0} s in {} phase(s), after a {:.0} s warm-up; scale {} |",
            self.duration_secs, self.phases, self.warmup_secs, self.scale
        );
        println!(
            "| messages | {} sent, {} received ({:.0}/s sent) |",
            s.sent,
            s.received,
            s.sent as f64 / self.duration_secs.max(1.0)
        );
        println!(
            "| long-lived flows | {} of {} expected deliveries received |",
            s.flow_received, s.flow_expected
        );
        println!(
            "| connections churned | {} ({:.1}/s): {} |",
            s.connections,
            s.connections as f64 / self.duration_secs.max(1.0),
            kinds.join(", ")
        );
        println!(
            "| requests | {} request/reply answered; {} HTTP requests |",
            s.requests, s.http_requests
        );
        println!(
            "| JetStream | {} publishes acked, {} fetched and acked, {} ephemeral consumers |",
            s.js_acked, s.js_fetched, s.js_consumers
        );
        println!("| unexpected errors | {} |", s.errors);
        for (kind, (n, first)) in &s.errors_by_kind {
            println!(
                "| error: {kind} | {n}x, first: {} |",
                first.replace('|', "/")
            );
        }
        println!(
            "| server log | {} warnings, {} errors |",
            self.server_warnings, self.server_errors
        );
        println!(
            "\n| sample | RSS | peak RSS | fds | sockets | files | threads | connections | subscriptions | store | settled in |\n|---|---|---|---|---|---|---|---|---|---|---|"
        );
        for x in &self.samples {
            println!(
                "| {} | {:.1} MiB | {:.1} MiB | {} | {} | {} | {} | {} | {} | {:.1} MiB | {:.1} s |",
                x.label,
                x.rss as f64 / MIB,
                x.hwm as f64 / MIB,
                x.fds,
                x.sockets,
                x.files,
                x.threads,
                x.connections,
                x.subscriptions,
                x.store_bytes as f64 / MIB,
                x.settle_secs
            );
        }
        println!("\n| check | limit | value | result |\n|---|---|---|---|");
        for c in &self.checks {
            println!(
                "| {} | {} | {} | {} |",
                c.name,
                c.limit,
                c.value,
                if c.ok { "ok" } else { "FAIL" }
            );
        }
        println!("\nsoak: {}", if self.passed { "PASSED" } else { "FAILED" });
    }
}
