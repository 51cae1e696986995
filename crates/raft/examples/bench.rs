//! Measures a single-voter shard group: write throughput per fsync policy (batched and sequential), and the
//! cost of a snapshot of 1,000,000 keys (longest lock hold, copy, total, size, restart; worst waits of a
//! concurrent reader and writer).
//!
//! `cargo run --release -p raft --example bench [clients] [writes]`; `BENCH_ENGINE=redb|sled` for another
//! engine than the default (the AOF), `BENCH_ONLY=writes|snapshot|growth` for one part, `BENCH_FSYNC=always|
//! everysec|no` for one policy.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use raft::{
    Engine, FsyncPolicy, GroupConfig, LocalRouter, NodeStorage, ShardGroup, StorageOptions,
};
use store::{Keyspace, Op};

fn engine() -> Engine {
    match std::env::var("BENCH_ENGINE").as_deref() {
        Ok("sled") => Engine::Sled,
        Ok("redb") => Engine::Redb,
        _ => Engine::default(),
    }
}

fn set(k: &str, v: &str) -> Op {
    Op::Command(vec![
        Bytes::from_static(b"SET"),
        Bytes::copy_from_slice(k.as_bytes()),
        Bytes::copy_from_slice(v.as_bytes()),
    ])
}

async fn start(
    dir: &std::path::Path,
    fsync: FsyncPolicy,
) -> (NodeStorage, ShardGroup, Arc<Mutex<Keyspace>>) {
    let storage = NodeStorage::open(
        dir,
        &StorageOptions {
            fsync,
            engine: engine(),
            ..Default::default()
        },
    )
    .unwrap();
    let ks = Arc::new(Mutex::new(Keyspace::new()));
    let mut config = GroupConfig::new(1, 1, "127.0.0.1:16379");
    config.raft.snapshot_policy = openraft::SnapshotPolicy::Never;
    config.raft.max_in_snapshot_log_to_keep = 0;
    config.raft.election_timeout_min = 150;
    config.raft.election_timeout_max = 300;
    let router = LocalRouter::new();
    let group = ShardGroup::start(&storage, ks.clone(), router.network(1, 1), config)
        .await
        .unwrap();
    group.initialize_single().await.unwrap();
    while !group.is_leader() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (storage, group, ks)
}

async fn throughput(fsync: FsyncPolicy, clients: usize, writes: usize) {
    let dir = tempfile::tempdir().unwrap();
    let (storage, group, _ks) = start(dir.path(), fsync).await;
    let per = writes / clients;
    let t = Instant::now();
    let mut hs = Vec::new();
    for c in 0..clients {
        let g = group.clone();
        hs.push(tokio::spawn(async move {
            let mut worst = Duration::ZERO;
            for i in 0..per {
                let s = Instant::now();
                g.write(vec![set(&format!("k:{c}:{i}"), "value")])
                    .await
                    .unwrap();
                worst = worst.max(s.elapsed());
            }
            worst
        }));
    }
    let mut worst = Duration::ZERO;
    for h in hs {
        worst = worst.max(h.await.unwrap());
    }
    let el = t.elapsed();
    let p = group.proposer_stats();
    let f = storage.flusher().stats();
    println!(
        "{:<9} clients={clients:<3} writes={:<7} {:>9.0} writes/s  entries={:<6} ops/entry={:<6.1} flushes={:<6} avg flush={:.2} ms  worst write={:.1} ms",
        fsync.as_str(),
        per * clients,
        (per * clients) as f64 / el.as_secs_f64(),
        p.entries,
        p.ops as f64 / p.entries.max(1) as f64,
        f.flushes,
        f.flush_micros as f64 / f.flushes.max(1) as f64 / 1000.0,
        worst.as_secs_f64() * 1000.0,
    );
    group.shutdown().await.unwrap();
    storage.close().await.unwrap();
}

async fn snapshot_1m() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, group, ks) = start(dir.path(), FsyncPolicy::Everysec).await;
    let t = Instant::now();
    let mut hs = Vec::new();
    for c in 0..4 {
        let g = group.clone();
        hs.push(tokio::spawn(async move {
            for b in 0..250 {
                let ops = (0..1000)
                    .map(|i| {
                        let n = c * 250_000 + b * 1000 + i;
                        if n % 2 == 0 {
                            set(&format!("key:{n:08}"), &n.to_string())
                        } else {
                            set(&format!("key:{n:08}"), &format!("value-{n}-xxxxxxxx"))
                        }
                    })
                    .collect();
                g.write(ops).await.unwrap();
            }
        }));
    }
    for h in hs {
        h.await.unwrap();
    }
    println!(
        "loaded {} keys through the log in {:.2} s",
        ks.lock().len(),
        t.elapsed().as_secs_f64()
    );

    // A writer keeps going during the snapshot: its worst latency is what clients feel.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let g = group.clone();
    let st = stop.clone();
    let writer = tokio::spawn(async move {
        let mut worst = Duration::ZERO;
        let mut n = 0u64;
        while !st.load(std::sync::atomic::Ordering::Relaxed) {
            let s = Instant::now();
            g.write(vec![set(&format!("during:{n}"), "v")])
                .await
                .unwrap();
            worst = worst.max(s.elapsed());
            n += 1;
        }
        (n, worst)
    });
    // A reader (as the server's read path would) keeps taking the keyspace lock: its worst wait is what reads
    // feel while a snapshot is copied.
    // Its worst wait outside snapshots (the same load, no snapshot) is the baseline: scheduling on a busy box.
    let st = stop.clone();
    let rks = ks.clone();
    let snapshotting = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sn = snapshotting.clone();
    let reader = std::thread::spawn(move || {
        let ctx = store::ExecCtx::for_read(0, 0);
        let (mut worst, mut base, mut n) = (Duration::ZERO, Duration::ZERO, 0u64);
        while !st.load(std::sync::atomic::Ordering::Relaxed) {
            let during = sn.load(std::sync::atomic::Ordering::Relaxed);
            let s = Instant::now();
            let mut g = rks.lock();
            let w = s.elapsed();
            if during {
                worst = worst.max(w);
            } else {
                base = base.max(w);
            }
            let _ = g.read(&ctx, format!("key:{:08}", n % 1_000_000).as_bytes());
            drop(g);
            n += 1;
            std::thread::sleep(Duration::from_micros(50));
        }
        (n, worst, base)
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    snapshotting.store(true, std::sync::atomic::Ordering::Relaxed);
    for round in 0..3 {
        let r = group.snapshot(Duration::from_secs(60)).await.unwrap();
        println!(
            "snapshot {round}: {} keys, {:.1} MB, longest lock hold {:.2} ms ({} holds, {:.1} ms in all), \
             walk (applies go on) {:.1} ms, {} keys copied by writes ({:.1} MB at most), total {:.1} ms",
            r.keys,
            r.bytes as f64 / 1e6,
            r.longest_hold.as_secs_f64() * 1000.0,
            r.lock_holds,
            r.lock_held.as_secs_f64() * 1000.0,
            r.copy.as_secs_f64() * 1000.0,
            r.saved_keys,
            r.saved_peak_bytes as f64 / 1e6,
            r.total.as_secs_f64() * 1000.0
        );
    }
    snapshotting.store(false, std::sync::atomic::Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (reads, worst_wait, base_wait) = reader.join().unwrap();
    println!(
        "concurrent reader: {reads} reads, worst wait for the lock {:.2} ms during snapshots, {:.2} ms outside",
        worst_wait.as_secs_f64() * 1000.0,
        base_wait.as_secs_f64() * 1000.0
    );
    let (n, worst) = writer.await.unwrap();
    println!(
        "concurrent writer: {n} writes, worst latency {:.1} ms",
        worst.as_secs_f64() * 1000.0
    );
    let applied = group.metrics().last_applied.unwrap().index;
    group.shutdown().await.unwrap();
    storage.close().await.unwrap();
    drop(storage);

    let t = Instant::now();
    let (storage, group, ks) = start(dir.path(), FsyncPolicy::Everysec).await;
    while group.metrics().last_applied.map_or(0, |l| l.index) < applied {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    println!(
        "restart with snapshot: {} keys back in {:.2} s; store on disk {:.1} MB",
        ks.lock().len(),
        t.elapsed().as_secs_f64(),
        storage.size_on_disk().unwrap() as f64 / 1e6
    );
    group.shutdown().await.unwrap();
    storage.close().await.unwrap();
}

/// Appends and purges for a while with a small keyspace (many overwrites), printing the log's size on disk
/// (sled is known to grow under append-then-purge).
async fn disk_growth() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, group, ks) = start(dir.path(), FsyncPolicy::Everysec).await;
    let value = "x".repeat(100);
    for round in 0..10 {
        let mut hs = Vec::new();
        for c in 0..8 {
            let g = group.clone();
            let value = value.clone();
            hs.push(tokio::spawn(async move {
                for i in 0..2500 {
                    g.write(vec![set(&format!("k:{}", (c * 2500 + i) % 10_000), &value)])
                        .await
                        .unwrap();
                }
            }));
        }
        for h in hs {
            h.await.unwrap();
        }
        eprintln!("round {round}: writes done, snapshot");
        group.snapshot(Duration::from_secs(30)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let m = group.metrics();
        println!(
            "growth round {round}: {} keys, log index {}, purged to {}, log on disk {:.1} MB",
            ks.lock().len(),
            m.last_log_index.unwrap_or(0),
            m.purged.map_or(0, |p| p.index),
            storage.size_on_disk().unwrap() as f64 / 1e6
        );
    }
    group.shutdown().await.unwrap();
    storage.close().await.unwrap();
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().collect();
    let clients: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(64);
    let writes: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    if only.is_empty() || only == "writes" {
        let policies = match std::env::var("BENCH_FSYNC")
            .ok()
            .and_then(|p| p.parse().ok())
        {
            Some(p) => vec![p],
            None => vec![FsyncPolicy::Always, FsyncPolicy::Everysec, FsyncPolicy::No],
        };
        for fsync in policies {
            throughput(fsync, 1, 2_000).await;
            throughput(fsync, clients, writes).await;
        }
    }
    if only.is_empty() || only == "snapshot" {
        snapshot_1m().await;
    }
    if only.is_empty() || only == "growth" {
        disk_growth().await;
    }
}
