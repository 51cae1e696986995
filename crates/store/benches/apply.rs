//! Applying log entries of SETs to random existing keys, as a replica applies redis-benchmark's load
//! (`SET key:<random> <64 bytes>`, 100,000 keys): `exec::apply`, which prefetches the keys a few operations
//! ahead, against the same operations applied one by one without it.
//!
//! `cargo bench -p store --bench apply` (optionally `-- KEYS`). Prints ns per operation for entries of 24
//! operations (about what redis-benchmark -P 1 with 50 clients makes) and of 350 (-P 16), best of 5 rounds.

use std::hint::black_box;
use std::time::Instant;

use bytes::Bytes;
use store::exec::{apply, apply_op, ExecCtx, LogEntry, Rng};
use store::{Keyspace, Op};

fn key(i: u64) -> Bytes {
    Bytes::from(format!("key:{i:012}"))
}

fn set(k: Bytes) -> Op {
    Op::Command(vec![
        Bytes::from_static(b"SET"),
        k,
        Bytes::from(vec![b'x'; 64]),
    ])
}

fn entries(keys: u64, per_entry: usize, total: usize, seed: u64) -> Vec<LogEntry> {
    let mut rng = Rng::new(seed);
    (0..total / per_entry)
        .map(|_| LogEntry {
            time_ms: 1,
            seed: 1,
            ops: (0..per_entry)
                .map(|_| set(key(rng.below(keys))))
                .collect::<Vec<_>>()
                .into(),
            wire: Default::default(),
        })
        .collect()
}

/// ns per operation, best of `rounds`.
fn measure(ks: &mut Keyspace, batches: &[LogEntry], prefetch: bool, rounds: usize) -> f64 {
    let ops: usize = batches.iter().map(|e| e.ops.len()).sum();
    (0..rounds)
        .map(|_| {
            let t = Instant::now();
            for e in batches {
                if prefetch {
                    black_box(apply(ks, e));
                } else {
                    let mut ctx = ExecCtx::for_write(e.time_ms, e.seed);
                    for op in e.ops.iter() {
                        black_box(apply_op(ks, &mut ctx, op));
                    }
                }
            }
            t.elapsed().as_nanos() as f64 / ops as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bench = args.iter().any(|a| a == "--bench");
    let keys: u64 = args
        .iter()
        .find_map(|a| a.parse().ok())
        .unwrap_or(if bench { 100_000 } else { 1_000 });
    let total = if bench { 1_000_000 } else { 10_000 };
    let mut ks = Keyspace::new();
    for e in entries(keys, 1000, keys as usize * 3, 7) {
        apply(&mut ks, &e);
    }
    println!("{keys} keys, {total} SETs per round");
    for per_entry in [24, 350] {
        let batches = entries(keys, per_entry, total, per_entry as u64);
        let plain = measure(&mut ks, &batches, false, 5);
        let fetched = measure(&mut ks, &batches, true, 5);
        println!(
            "{per_entry:>4} ops/entry: {plain:7.1} ns/op one by one, {fetched:7.1} ns/op with prefetch ({:+.0}%)",
            (fetched / plain - 1.0) * 100.0
        );
    }
}
