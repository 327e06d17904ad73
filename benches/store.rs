//! File store micro benchmarks: appends per second with interval and `always` durability
//! from 1, 8 and 32 threads (group commit), and write plus reopen of 1,000,000 messages.
//! Run with `cargo bench --bench store`.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice::jetstream::store::{Durability, FileStore, MessageStore, StoreLimits};

fn appends_per_sec(durability: Durability, threads: usize, per_thread: usize) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(FileStore::open(dir.path(), StoreLimits::default(), durability).unwrap());
    let payload = vec![b'x'; 128];
    let started = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (s, payload) = (s.clone(), &payload);
            scope.spawn(move || {
                let subj = format!("bench.{t}");
                for i in 0..per_thread {
                    s.append(subj.as_bytes(), None, payload, i as i64).unwrap();
                }
            });
        }
    });
    (threads * per_thread) as f64 / started.elapsed().as_secs_f64()
}

fn bench_appends() {
    let interval = Durability::Interval(Duration::from_secs(120));
    println!(
        "interval  1 thread : {:>10.0} appends/s",
        appends_per_sec(interval, 1, 200_000)
    );
    println!(
        "interval  8 threads: {:>10.0} appends/s",
        appends_per_sec(interval, 8, 25_000)
    );
    println!(
        "always    1 thread : {:>10.0} appends/s",
        appends_per_sec(Durability::Always, 1, 2_000)
    );
    println!(
        "always    8 threads: {:>10.0} appends/s",
        appends_per_sec(Durability::Always, 8, 1_000)
    );
    println!(
        "always   32 threads: {:>10.0} appends/s",
        appends_per_sec(Durability::Always, 32, 500)
    );
}

fn fill(dir: &Path, n: u64) -> FileStore {
    let s = FileStore::open(
        dir,
        StoreLimits::default(),
        Durability::Interval(Duration::from_secs(120)),
    )
    .unwrap();
    for i in 0..n {
        s.append(
            format!("orders.{}", i % 1000).as_bytes(),
            None,
            b"0123456789abcdef",
            i as i64,
        )
        .unwrap();
    }
    s
}

fn bench_reopen_1m() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let s = fill(dir.path(), 1_000_000);
    println!("write 1M: {:?}", started.elapsed());
    let state = s.state();
    drop(s);
    let started = Instant::now();
    let s = FileStore::open(dir.path(), StoreLimits::default(), Durability::Always).unwrap();
    println!(
        "reopen 1M after clean close: {:?} ({:?})",
        started.elapsed(),
        s.recovery_report()
    );
    assert_eq!(s.state(), state);
    std::mem::forget(s);
    // Crash-style: every checkpoint lost, so every segment is scanned.
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "idx") {
            std::fs::remove_file(p).unwrap();
        }
    }
    let started = Instant::now();
    let s = FileStore::open(dir.path(), StoreLimits::default(), Durability::Always).unwrap();
    println!(
        "reopen 1M with no checkpoint (full scan): {:?}",
        started.elapsed()
    );
    assert_eq!(s.state(), state);
}

fn main() {
    bench_appends();
    bench_reopen_1m();
}
