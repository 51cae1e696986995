//! Dict against std's HashMap: throughput, per-operation latency (resize stalls) and heap bytes per key.
//!
//! Throughput is wall-clock time; per-operation latency is the thread's CPU time, so that preemption on a busy
//! machine does not show up as a stall.
//!
//! `cargo bench -p store --bench dict` (optionally `-- N` for the key count, default 1,000,000). Values are
//! the keyspace's real `Object`s holding integers, keys look like redis-benchmark's (`key:000000123456`).
//! Heap bytes are counted by a wrapping allocator: requested bytes, and the chunk bytes glibc's malloc (the
//! server's allocator) really takes for them (8-byte header, 16-byte granularity, 32-byte minimum).

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

use store::dict::Dict;
use store::exec::Rng;
use store::{Object, Value};

static REQUESTED: AtomicIsize = AtomicIsize::new(0);
static CHUNKS: AtomicIsize = AtomicIsize::new(0);

fn chunk(size: usize) -> isize {
    ((size + 8 + 15) & !15).max(32) as isize
}

struct Counting;

// SAFETY: every method forwards to `System` unchanged; the counters are bookkeeping only.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        REQUESTED.fetch_add(layout.size() as isize, Ordering::Relaxed);
        CHUNKS.fetch_add(chunk(layout.size()), Ordering::Relaxed);
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        REQUESTED.fetch_add(layout.size() as isize, Ordering::Relaxed);
        CHUNKS.fetch_add(chunk(layout.size()), Ordering::Relaxed);
        // SAFETY: forwarded contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        REQUESTED.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        CHUNKS.fetch_sub(chunk(layout.size()), Ordering::Relaxed);
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn heap() -> (isize, isize) {
    (
        REQUESTED.load(Ordering::Relaxed),
        CHUNKS.load(Ordering::Relaxed),
    )
}

/// CPU time consumed by this thread, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Runs `op` for `0..n` and prints its throughput (no per-operation timing, so no clock overhead).
fn throughput(name: &str, n: usize, mut op: impl FnMut(usize)) {
    let start = Instant::now();
    for i in 0..n {
        op(i);
    }
    println!(
        "{name:<22} {:7.1} ns/op",
        start.elapsed().as_nanos() as f64 / n as f64
    );
}

/// Runs `op` for `0..n` timing each call in thread CPU time, and prints the distribution.
fn latency(name: &str, n: usize, mut op: impl FnMut(usize)) {
    let mut lat = Vec::with_capacity(n);
    for i in 0..n {
        let t = thread_cpu_ns();
        op(i);
        lat.push(thread_cpu_ns() - t);
    }
    let over_1ms = lat.iter().filter(|&&l| l > 1_000_000).count();
    lat.sort_unstable();
    let us = |f: f64| lat[((n as f64 * f) as usize).min(n - 1)] as f64 / 1000.0;
    println!(
        "{name:<22} cpu p50 {:5.2} us  p99.9 {:6.2} us  max {:9.2} us  ops over 1 ms: {over_1ms}",
        us(0.5),
        us(0.999),
        us(1.0)
    );
}

fn object(i: usize) -> Object {
    Object::new(Value::Int(i as i64))
}

fn main() {
    // `cargo bench` passes `--bench`; without it (`cargo test --all-targets`) run a quick smoke pass.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let default_n = if args.iter().any(|a| a == "--bench") {
        1_000_000
    } else {
        10_000
    };
    let n: usize = args
        .iter()
        .find_map(|a| a.parse().ok())
        .unwrap_or(default_n);
    let keys: Vec<Vec<u8>> = (0..n)
        .map(|i| format!("key:{:012}", (i * 7919) % n).into_bytes())
        .collect();
    let misses: Vec<Vec<u8>> = (0..n)
        .map(|i| format!("miss:{i:011}").into_bytes())
        .collect();
    println!(
        "{n} keys of {} bytes, values: Object ({} bytes)",
        keys[0].len(),
        std::mem::size_of::<Object>()
    );

    let base = heap();
    let mut d: Dict<Object> = Dict::new();
    throughput("Dict insert", n, |i| {
        d.insert(&keys[i], object(i));
    });
    let after = heap();
    println!(
        "Dict heap: {:.1} B/key requested, {:.1} B/key in malloc chunks ({} buckets, estimate {:.1} B/key)",
        (after.0 - base.0) as f64 / n as f64,
        (after.1 - base.1) as f64 / n as f64,
        d.capacity(),
        d.allocated_bytes() as f64 / n as f64
    );
    throughput("Dict get hit", n, |i| {
        black_box(d.get(&keys[i]));
    });
    throughput("Dict get miss", n, |i| {
        black_box(d.get(&misses[i]));
    });
    let mut rng = Rng::new(1);
    throughput("Dict random (fair)", n, |_| {
        black_box(d.random(&mut rng));
    });
    let mut cursor = 0;
    let mut calls = 0;
    let start = Instant::now();
    loop {
        cursor = d.scan(cursor, |k, v| {
            black_box((k, v));
        });
        calls += 1;
        if cursor == 0 {
            break;
        }
    }
    println!(
        "{:<22} {:7.1} ns/entry ({calls} calls)",
        "Dict full scan",
        start.elapsed().as_nanos() as f64 / n as f64
    );
    throughput("Dict remove", n, |i| {
        d.remove(&keys[i]);
    });
    drop(d);
    let mut d: Dict<Object> = Dict::new();
    latency("Dict insert", n, |i| {
        d.insert(&keys[i], object(i));
    });
    latency("Dict remove", n, |i| {
        d.remove(&keys[i]);
    });
    drop(d);

    let base = heap();
    let hasher = foldhash::fast::FixedState::with_seed(1);
    let mut m: HashMap<Box<[u8]>, Object, _> = HashMap::with_hasher(hasher.clone());
    throughput("HashMap insert", n, |i| {
        m.insert(keys[i].as_slice().into(), object(i));
    });
    let after = heap();
    println!(
        "HashMap heap: {:.1} B/key requested, {:.1} B/key in malloc chunks",
        (after.0 - base.0) as f64 / n as f64,
        (after.1 - base.1) as f64 / n as f64
    );
    throughput("HashMap get hit", n, |i| {
        black_box(m.get(keys[i].as_slice()));
    });
    throughput("HashMap get miss", n, |i| {
        black_box(m.get(misses[i].as_slice()));
    });
    throughput("HashMap remove", n, |i| {
        m.remove(keys[i].as_slice());
    });
    drop(m);
    let mut m: HashMap<Box<[u8]>, Object, _> = HashMap::with_hasher(hasher);
    latency("HashMap insert", n, |i| {
        m.insert(keys[i].as_slice().into(), object(i));
    });
    latency("HashMap remove", n, |i| {
        m.remove(keys[i].as_slice());
    });
}
