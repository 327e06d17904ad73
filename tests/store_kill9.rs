//! kill -9 in the middle of a stream of appends: every sequence the child printed as acked
//! must be in the store after reopening. The child is this test binary itself, re-run with
//! an environment variable, so no extra binary target is needed.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sluice::jetstream::store::{
    Durability, FileStore, FileStoreOptions, MessageStore, StoreLimits,
};

const DIR_VAR: &str = "SLUICE_KILL9_DIR";
const MODE_VAR: &str = "SLUICE_KILL9_MODE";

fn open(dir: &Path, durability: Durability) -> FileStore {
    FileStore::open_with_options(
        dir,
        StoreLimits::default(),
        durability,
        FileStoreOptions {
            segment_size: 256 * 1024,
        },
    )
    .unwrap()
}

/// The child: appends forever, printing each acked sequence. A no-op in a normal run.
#[test]
fn kill9_child() {
    let Ok(dir) = std::env::var(DIR_VAR) else {
        return;
    };
    let durability = match std::env::var(MODE_VAR).as_deref() {
        Ok("always") => Durability::Always,
        _ => Durability::Interval(Duration::from_secs(3600)),
    };
    let s = open(Path::new(&dir), durability);
    let payload = vec![b'p'; 200];
    for i in 0.. {
        let seq = s
            .append(format!("k.{}", i % 10).as_bytes(), None, &payload, i)
            .unwrap();
        if i % 97 == 0 {
            s.remove(seq).unwrap();
            println!("removed {seq}");
        } else {
            println!("acked {seq}");
        }
    }
}

fn run(mode: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "kill9_child", "--nocapture", "--test-threads=1"])
        .env(DIR_VAR, dir.path())
        .env(MODE_VAR, mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut acked, mut removed) = (Vec::new(), Vec::new());
    let started = Instant::now();
    while acked.len() < 3000 && started.elapsed() < Duration::from_secs(30) {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(seq) = line.strip_prefix("acked ") {
            acked.push(seq.parse::<u64>().unwrap());
        } else if let Some(seq) = line.strip_prefix("removed ") {
            removed.push(seq.parse::<u64>().unwrap());
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(acked.len() > 100, "child acked only {}", acked.len());
    let s = open(dir.path(), Durability::Always);
    for seq in &acked {
        let m = s.load(*seq).unwrap();
        assert!(m.is_some(), "acked seq {seq} lost ({mode})");
    }
    for seq in &removed {
        assert!(
            s.load(*seq).unwrap().is_none(),
            "removed seq {seq} is back ({mode})"
        );
    }
    let st = s.state();
    assert!(st.last_seq >= *acked.iter().max().unwrap());
    // The store keeps working after the crash.
    assert_eq!(s.append(b"after", None, b"", 0).unwrap(), st.last_seq + 1);
}

#[test]
fn kill9_loses_no_acked_append_interval() {
    run("interval");
}

#[test]
fn kill9_loses_no_acked_append_always() {
    run("always");
}
