//! `maxmemory` through the real binary: `-OOM` under noeviction, each policy keeping memory under the limit,
//! volatile policies sparing keys without a deadline, LRU and LFU preferring idle or rarely used keys,
//! `evicted` notifications, and replicas deleting the victims the leader chose.

mod common;
mod raw;

use std::time::{Duration, Instant};

use common::procs::{start_shard, wait_leader};
use common::{err, info_field, ok, vi, Server};
use raw::Raw;

const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

fn field(c: &mut redis::Connection, section: &str, name: &str) -> u64 {
    info_field(c, section, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("INFO {section} {name}"))
}

/// Memory that counts against `maxmemory`: `used_memory` less what the log keeps (`mem_not_counted_for_evict`).
fn counted(c: &mut redis::Connection) -> u64 {
    let used = field(c, "memory", "used_memory");
    let log = field(c, "memory", "mem_not_counted_for_evict");
    used.saturating_sub(log)
}

/// Sets `maxmemory` to the memory counted now plus `headroom` bytes, with `policy`; returns the limit.
fn limit_to(c: &mut redis::Connection, headroom: u64, policy: &str) -> u64 {
    ok(c, &["CONFIG", "SET", "maxmemory-policy", policy]);
    let limit = counted(c) + headroom;
    ok(c, &["CONFIG", "SET", "maxmemory", &limit.to_string()]);
    limit
}

/// Writes `n` keys `prefix:i` of `size` bytes in pipelines, with a deadline in seconds if `ttl` is set.
/// Returns how many writes were refused with OOM.
fn fill(c: &mut redis::Connection, prefix: &str, n: usize, size: usize, ttl: Option<u64>) -> usize {
    let value = "v".repeat(size);
    let mut refused = 0;
    for chunk in (0..n).collect::<Vec<_>>().chunks(50) {
        let mut p = redis::pipe();
        p.ignore_errors();
        for i in chunk {
            let key = format!("{prefix}:{i}");
            match ttl {
                Some(t) => p
                    .cmd("SET")
                    .arg(&key)
                    .arg(&value)
                    .arg("EX")
                    .arg(t + *i as u64),
                None => p.cmd("SET").arg(&key).arg(&value),
            };
        }
        // Each reply on its own: an OOM is one of them, not the whole pipeline's failure.
        let replies: Vec<redis::Value> = p.query(c).unwrap_or_else(|e| panic!("{e}"));
        refused += replies
            .iter()
            .filter(|r| matches!(r, redis::Value::ServerError(e) if e.code() == "OOM"))
            .count();
    }
    refused
}

fn exists(c: &mut redis::Connection, key: &str) -> bool {
    ok(c, &["EXISTS", key]) == vi(1)
}

fn dbsize(c: &mut redis::Connection) -> u64 {
    match ok(c, &["DBSIZE"]) {
        redis::Value::Int(n) => n as u64,
        other => panic!("{other:?}"),
    }
}

/// The tests compare memory figures of a process: run one at a time, so they do not starve each other (and
/// the three-process shard does not miss heartbeats).
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Allowed overshoot: the estimate of the log's memory and the connection buffers move a little.
const SLACK: u64 = 192 * 1024;

#[test]
fn noeviction_refuses_writes_that_grow_memory() {
    let _serial = serial();
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["SET", "k", "v"]);
    ok(&mut c, &["SET", "n", "1"]);
    ok(&mut c, &["CONFIG", "SET", "maxmemory", "1"]);
    assert_eq!(
        ok(&mut c, &["CONFIG", "GET", "maxmemory-policy"]),
        redis::Value::Array(vec![
            common::vb("maxmemory-policy"),
            common::vb("noeviction")
        ])
    );
    assert_eq!(err(&mut c, &["SET", "x", "y"]), OOM);
    assert_eq!(err(&mut c, &["INCR", "n"]), OOM);
    assert_eq!(err(&mut c, &["RPUSH", "l", "a"]), OOM);
    // Reads and writes that do not grow memory still run.
    assert_eq!(ok(&mut c, &["GET", "k"]), common::vb("v"));
    assert_eq!(ok(&mut c, &["EXPIRE", "k", "100"]), vi(1));
    assert_eq!(ok(&mut c, &["DEL", "k"]), vi(1));
    assert_eq!(field(&mut c, "stats", "evicted_keys"), 0);
    // The limit lifted, writes are accepted again.
    ok(&mut c, &["CONFIG", "SET", "maxmemory", "0"]);
    ok(&mut c, &["SET", "x", "y"]);
}

#[test]
fn allkeys_policies_keep_memory_under_the_limit() {
    let _serial = serial();
    let s = Server::start();
    let mut c = s.client();
    for policy in ["allkeys-random", "allkeys-lru", "allkeys-lfu"] {
        ok(&mut c, &["CONFIG", "SET", "maxmemory", "0"]);
        ok(&mut c, &["FLUSHALL"]);
        let evicted_before = field(&mut c, "stats", "evicted_keys");
        let limit = limit_to(&mut c, 512 * 1024, policy);
        // About 4 MB into 512 KB of room.
        let refused = fill(&mut c, "k", 4000, 1000, None);
        assert_eq!(
            refused, 0,
            "{policy}: writes refused although keys could be evicted"
        );
        let now = counted(&mut c);
        assert!(now <= limit + SLACK, "{policy}: {now} > {limit}");
        let keys = dbsize(&mut c);
        assert!(keys > 50 && keys < 4000, "{policy}: {keys} keys left");
        let evicted = field(&mut c, "stats", "evicted_keys") - evicted_before;
        assert_eq!(evicted + keys, 4000, "{policy}");
    }
}

#[test]
fn volatile_policies_evict_only_keys_with_a_deadline() {
    let _serial = serial();
    let s = Server::start();
    let mut c = s.client();
    for policy in [
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ] {
        ok(&mut c, &["CONFIG", "SET", "maxmemory", "0"]);
        ok(&mut c, &["FLUSHALL"]);
        let limit = limit_to(&mut c, 768 * 1024, policy);
        // 200 KB that must stay, then 3 MB of keys with deadlines.
        assert_eq!(fill(&mut c, "keep", 200, 1000, None), 0);
        assert_eq!(fill(&mut c, "ttl", 3000, 1000, Some(10_000)), 0, "{policy}");
        let now = counted(&mut c);
        assert!(now <= limit + SLACK, "{policy}: {now} > {limit}");
        for i in 0..200 {
            assert!(
                exists(&mut c, &format!("keep:{i}")),
                "{policy}: keep:{i} evicted"
            );
        }
        // Once no key with a deadline is left, writes that grow memory are refused.
        let refused = fill(&mut c, "more", 2000, 1000, None);
        assert!(refused > 0, "{policy}: never refused");
        assert_eq!(err(&mut c, &["SET", "one-more", &"v".repeat(1000)]), OOM);
        for i in 0..200 {
            assert!(
                exists(&mut c, &format!("keep:{i}")),
                "{policy}: keep:{i} evicted"
            );
        }
    }
}

#[test]
fn volatile_ttl_evicts_the_nearest_deadlines_first() {
    let _serial = serial();
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["CONFIG", "SET", "maxmemory-samples", "20"]);
    limit_to(&mut c, 1024 * 1024, "volatile-ttl");
    // Deadlines grow with the index: 10000 + i seconds.
    fill(&mut c, "t", 2000, 1000, Some(10_000));
    let (mut low, mut high) = (0, 0);
    for i in 0..1000 {
        low += exists(&mut c, &format!("t:{i}")) as usize;
        high += exists(&mut c, &format!("t:{}", 1000 + i)) as usize;
    }
    assert!(
        high > 2 * low.max(10),
        "survivors: {low} early, {high} late deadlines"
    );
}

#[test]
fn lru_and_lfu_keep_keys_in_use() {
    let _serial = serial();
    let s = Server::start();
    let mut c = s.client();
    for policy in ["allkeys-lru", "allkeys-lfu"] {
        ok(&mut c, &["CONFIG", "SET", "maxmemory", "0"]);
        ok(&mut c, &["FLUSHALL"]);
        ok(&mut c, &["CONFIG", "SET", "maxmemory-policy", policy]);
        ok(&mut c, &["CONFIG", "SET", "maxmemory-samples", "10"]);
        fill(&mut c, "cold", 300, 1000, None);
        fill(&mut c, "hot", 300, 1000, None);
        // LRU counts idle seconds: the cold keys need to be idle a while.
        std::thread::sleep(Duration::from_millis(2100));
        let touch_hot = |c: &mut redis::Connection| {
            let mut p = redis::pipe();
            for i in 0..300 {
                p.cmd("GET").arg(format!("hot:{i}"));
            }
            let _: Vec<redis::Value> = p.query(c).unwrap();
        };
        for _ in 0..if policy == "allkeys-lfu" { 10 } else { 1 } {
            touch_hot(&mut c);
        }
        // Room for about 450 of the 600 keys, then 300 more keys: about 450 must go.
        let limit = counted(&mut c) - 150 * 1100;
        ok(&mut c, &["CONFIG", "SET", "maxmemory", &limit.to_string()]);
        // The hot keys stay in use while the new ones arrive: on a loaded machine the fill can cross a second of
        // the LRU clock, and hot keys last used a second before the newest keys are rightly older than them.
        for chunk in 0..6 {
            touch_hot(&mut c);
            fill(&mut c, &format!("new{chunk}"), 50, 1000, None);
        }
        let hot = (0..300)
            .filter(|i| exists(&mut c, &format!("hot:{i}")))
            .count();
        let cold = (0..300)
            .filter(|i| exists(&mut c, &format!("cold:{i}")))
            .count();
        // The cold keys go first; once they are gone, hot and new keys compete (how many go in all depends on
        // the memory estimates, so only the preference is checked: a random choice would leave as many cold
        // keys as hot ones).
        assert!(
            cold < 30,
            "{policy}: {cold} of 300 cold keys left ({hot} hot)"
        );
        assert!(
            hot > 100,
            "{policy}: only {hot} of 300 hot keys left ({cold} cold)"
        );
    }
}

#[test]
fn object_freq_and_idletime_follow_the_policy() {
    let _serial = serial();
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["SET", "k", "v"]);
    assert!(err(&mut c, &["OBJECT", "FREQ", "k"])
        .starts_with("ERR An LFU maxmemory policy is not selected"));
    ok(
        &mut c,
        &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"],
    );
    ok(&mut c, &["SET", "f", "v"]);
    assert_eq!(ok(&mut c, &["OBJECT", "FREQ", "f"]), vi(5));
    for _ in 0..50 {
        ok(&mut c, &["GET", "f"]);
    }
    match ok(&mut c, &["OBJECT", "FREQ", "f"]) {
        redis::Value::Int(n) => assert!(n > 5, "{n}"),
        other => panic!("{other:?}"),
    }
    assert!(err(&mut c, &["OBJECT", "IDLETIME", "f"])
        .starts_with("ERR An LFU maxmemory policy is selected"));
}

#[test]
fn evictions_emit_evicted_events() {
    let _serial = serial();
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["CONFIG", "SET", "notify-keyspace-events", "Ee"]);
    let mut l = Raw::new(&s);
    l.send(&["SUBSCRIBE", "__keyevent@0__:evicted"]);
    l.reply();
    fill(&mut c, "k", 100, 1000, None);
    ok(
        &mut c,
        &["CONFIG", "SET", "maxmemory-policy", "allkeys-random"],
    );
    ok(&mut c, &["CONFIG", "SET", "maxmemory", "1"]);
    // With 1 byte of room, the next write evicts everything it can, and is still refused.
    let e = err(&mut c, &["SET", "x", "y"]);
    assert_eq!(e, OOM);
    assert_eq!(dbsize(&mut c), 0);
    let mut seen = std::collections::HashSet::new();
    for _ in 0..100 {
        let m = l.reply();
        let key = m.rsplit("\r\n").nth(1).unwrap().to_string();
        assert!(key.starts_with("k:"), "{m}");
        seen.insert(key);
    }
    assert_eq!(seen.len(), 100);
    assert_eq!(field(&mut c, "stats", "evicted_keys"), 100);
}

#[test]
fn replicas_delete_the_victims_the_leader_chose() {
    let _serial = serial();
    let procs = start_shard(3, &[]);
    let leader = wait_leader(&procs, Duration::from_secs(15));
    let mut lc = procs[leader].wait_ready(Duration::from_secs(15));
    limit_to(&mut lc, 512 * 1024, "allkeys-lru");
    fill(&mut lc, "k", 2000, 1000, None);
    // No more evictions from here (the leader's periodic check would keep going as the log grows).
    ok(&mut lc, &["CONFIG", "SET", "maxmemory", "0"]);
    std::thread::sleep(Duration::from_millis(300));
    let keys = dbsize(&mut lc);
    assert!(keys < 2000);
    let evicted = field(&mut lc, "stats", "evicted_keys");
    assert_eq!(evicted + keys, 2000);
    // Every replica applied the same eviction entries: same keys, same count.
    let deadline = Instant::now() + Duration::from_secs(15);
    for (i, p) in procs.iter().enumerate() {
        if i == leader {
            continue;
        }
        let mut fc = p.wait_ready(Duration::from_secs(15));
        loop {
            if dbsize(&mut fc) == keys && field(&mut fc, "stats", "evicted_keys") == evicted {
                break;
            }
            assert!(Instant::now() < deadline, "replica {i} never converged");
            std::thread::sleep(Duration::from_millis(20));
        }
        // The same keys: one KEYS call each (a replica serves reads from its own state).
        let keys_of = |c: &mut redis::Connection| -> Vec<String> {
            let mut v: Vec<String> = redis::cmd("KEYS").arg("*").query(c).unwrap();
            v.sort();
            v
        };
        assert_eq!(keys_of(&mut fc), keys_of(&mut lc));
    }
}
