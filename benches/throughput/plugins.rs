//! Plugin cost: pub/sub 1:1 through sluice without a plugin, with `passthrough`, with a chain
//! of three `passthrough`s and with `redact-json`, same client, same server, same JSON
//! payload, rounds interleaved. Reported as throughput, the ratio to no plugin, and the added
//! cost per message (1/rate with the plugins minus 1/rate without).
//!
//! The components come from `plugins/build.sh` (`benches/compare.sh` runs it).

use std::path::PathBuf;

use bytes::Bytes;

use super::{Options, Proc, Scenario, median, progress, run_with};

/// A 128-byte JSON message with a field `redact-json` masks.
fn payload() -> Bytes {
    let mut text = String::from(r#"{"id":42,"email":"someone@example.com","note":""#);
    while text.len() < 126 {
        text.push('x');
    }
    text.push_str("\"}");
    Bytes::from(text)
}

fn wasm(name: &str) -> Option<Vec<u8>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("plugins/target/wasm32-wasip2/release")
        .join(format!("{name}.wasm"));
    std::fs::read(path).ok()
}

/// The plugin set of one measurement: (name, component, query) uploads.
struct Setup {
    label: &'static str,
    plugins: &'static [(&'static str, &'static str, &'static str)],
}

const SETUPS: &[Setup] = &[
    Setup {
        label: "no plugin",
        plugins: &[],
    },
    Setup {
        label: "passthrough",
        plugins: &[("p1", "passthrough", "subjects=bench")],
    },
    Setup {
        label: "chain of 3 passthrough",
        plugins: &[
            ("p1", "passthrough", "subjects=bench&order=1"),
            ("p2", "passthrough", "subjects=bench&order=2"),
            ("p3", "passthrough", "subjects=bench&order=3"),
        ],
    },
    Setup {
        label: "redact-json",
        plugins: &[("r", "redact_json", "subjects=bench&config.fields=email")],
    },
];

/// Replaces the server's plugins with `setup`'s.
async fn install(api: &str, setup: &Setup) {
    let client = reqwest::Client::new();
    for name in ["p1", "p2", "p3", "r"] {
        let _ = client
            .delete(format!("{api}/v1/plugins/{name}"))
            .send()
            .await;
    }
    for (name, component, query) in setup.plugins {
        let bytes = wasm(component).expect("checked before");
        let resp = client
            .put(format!("{api}/v1/plugins/{name}?{query}"))
            .header("content-type", "application/wasm")
            .body(bytes)
            .send()
            .await
            .expect("upload");
        assert!(
            resp.status().is_success(),
            "upload {name}: {}",
            resp.status()
        );
    }
}

/// Runs the plugin rows `--only` lets through (all match "plugin").
pub(crate) fn run_all(
    o: &Options,
    rt: &tokio::runtime::Runtime,
    sluice: &Proc,
    rows: &mut Vec<serde_json::Value>,
) {
    if o.only
        .as_ref()
        .is_some_and(|f| !"plugin cost".contains(f.as_str()))
    {
        return;
    }
    if wasm("passthrough").is_none() || wasm("redact_json").is_none() {
        eprintln!("plugin rows left out: build the plugins first with `bash plugins/build.sh`");
        return;
    }
    let api = sluice.api_url.clone().expect("sluice has an API port");
    let body = payload();
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); SETUPS.len()];
    let pb = progress("plugin cost", o.rounds * SETUPS.len());
    for _ in 0..o.rounds {
        for (i, setup) in SETUPS.iter().enumerate() {
            rt.block_on(install(&api, setup));
            rates[i].push(rt.block_on(run_with(
                &sluice.url,
                Scenario::OneToOne,
                o.msgs,
                body.clone(),
            )));
            pb.inc(1);
        }
    }
    pb.finish_and_clear();
    rt.block_on(install(&api, &SETUPS[0]));
    let medians: Vec<f64> = rates.into_iter().map(median).collect();
    let base = medians[0];
    println!(
        "\n| plugin cost, pub/sub 1:1, 128 B JSON | sluice msgs/s | vs no plugin | added µs/msg |\n|---|---|---|---|"
    );
    for (setup, rate) in SETUPS.iter().zip(&medians) {
        let added = (1.0 / rate - 1.0 / base) * 1e6;
        println!(
            "| {} | {rate:.0} | {:.2} | {added:.2} |",
            setup.label,
            rate / base
        );
        rows.push(serde_json::json!({
            "scenario": format!("plugin cost: {}", setup.label), "size": body.len(),
            "sluice": rate, "vs_no_plugin": rate / base, "added_us_per_msg": added
        }));
    }
}
