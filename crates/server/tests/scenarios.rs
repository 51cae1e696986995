//! End-to-end scenarios as an application would run them, through the `redis` crate against the real binary:
//! a cache-aside layer with TTLs, a session store shared by several clients, and a fixed-window rate limiter
//! built on MULTI/EXEC under many concurrent clients.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Server;
use redis::Commands;

/// The "database" behind the cache: counts how often it is asked.
struct SlowStore {
    loads: AtomicU64,
}

impl SlowStore {
    fn load_user(&self, id: u32) -> String {
        self.loads.fetch_add(1, Ordering::SeqCst);
        format!("{{\"id\":{id},\"name\":\"user{id}\"}}")
    }
}

/// Cache-aside read: the cache first; on a miss, the store, then `SET key value EX ttl`.
fn get_user(con: &mut redis::Connection, db: &SlowStore, id: u32, ttl: u64) -> String {
    let key = format!("cache:user:{id}");
    if let Some(v) = con.get::<_, Option<String>>(&key).unwrap() {
        return v;
    }
    let v = db.load_user(id);
    let _: () = con.set_ex(&key, &v, ttl).unwrap();
    v
}

#[test]
fn cache_aside_with_ttl() {
    let s = Server::start();
    let mut con = s.client();
    let db = SlowStore {
        loads: AtomicU64::new(0),
    };
    // Miss: loaded and cached with its TTL.
    let first = get_user(&mut con, &db, 7, 1);
    assert_eq!(db.loads.load(Ordering::SeqCst), 1);
    let ttl: i64 = con.ttl("cache:user:7").unwrap();
    assert!((0..=1).contains(&ttl), "{ttl}");
    // Hits: served from the cache, the store is not asked again.
    for _ in 0..20 {
        assert_eq!(get_user(&mut con, &db, 7, 1), first);
    }
    assert_eq!(db.loads.load(Ordering::SeqCst), 1);
    // Another key is its own miss.
    get_user(&mut con, &db, 8, 10);
    assert_eq!(db.loads.load(Ordering::SeqCst), 2);
    // After the TTL: a miss again, loaded once more, then hits again.
    std::thread::sleep(Duration::from_millis(1100));
    let exists: bool = con.exists("cache:user:7").unwrap();
    assert!(!exists);
    assert_eq!(get_user(&mut con, &db, 7, 1), first);
    assert_eq!(db.loads.load(Ordering::SeqCst), 3);
    assert_eq!(get_user(&mut con, &db, 7, 1), first);
    assert_eq!(db.loads.load(Ordering::SeqCst), 3);
    // The long-lived entry is still a hit.
    get_user(&mut con, &db, 8, 10);
    assert_eq!(db.loads.load(Ordering::SeqCst), 3);
}

/// One request of a web app with a shared session: read the session, count the hit, refresh the idle TTL.
/// Returns the session's fields, empty when it no longer exists.
fn touch_session(con: &mut redis::Connection, sid: &str, idle_ms: u64) -> HashMap<String, String> {
    let key = format!("session:{sid}");
    let (fields, _hits, _refreshed): (HashMap<String, String>, i64, bool) = redis::pipe()
        .atomic()
        .hgetall(&key)
        .hincr(&key, "hits", 1)
        .pexpire(&key, idle_ms as i64)
        .query(con)
        .unwrap();
    fields
}

#[test]
fn shared_session_store_expires_after_idle() {
    let s = Server::start();
    let mut login = s.client();
    let idle_ms = 800;
    let _: () = redis::pipe()
        .atomic()
        .hset_multiple("session:abc", &[("user", "alice"), ("hits", "0")])
        .pexpire("session:abc", idle_ms as i64)
        .query(&mut login)
        .unwrap();
    // Several app servers (clients) serve the same user for longer than the idle timeout: every access
    // refreshes the TTL, so the session survives.
    let started = Instant::now();
    let accesses = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..4)
        .map(|i| {
            let (url, accesses) = (s.url(), accesses.clone());
            std::thread::spawn(move || {
                let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
                std::thread::sleep(Duration::from_millis(50 * i));
                while started.elapsed() < Duration::from_millis(2000) {
                    let fields = touch_session(&mut con, "abc", idle_ms);
                    assert_eq!(fields.get("user").map(String::as_str), Some("alice"));
                    accesses.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(200));
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let n = accesses.load(Ordering::SeqCst);
    let hits: i64 = login.hget("session:abc", "hits").unwrap();
    assert_eq!(hits as u64, n, "every access counted once");
    let pttl: i64 = login.pttl("session:abc").unwrap();
    assert!(pttl > 0 && pttl <= idle_ms as i64, "{pttl}");
    // Idle: the session disappears, for every client.
    std::thread::sleep(Duration::from_millis(idle_ms + 300));
    let mut other = s.client();
    let gone: HashMap<String, String> = other.hgetall("session:abc").unwrap();
    assert!(gone.is_empty());
    let exists: bool = login.exists("session:abc").unwrap();
    assert!(!exists);
}

/// Fixed-window rate limiter: INCR the window's counter and set its expiry in one transaction; the request is
/// allowed when the count is within the limit.
fn allow(con: &mut redis::Connection, client: &str, window: u64, limit: i64) -> bool {
    let key = format!("rate:{client}:{window}");
    let (count, _): (i64, bool) = redis::pipe()
        .atomic()
        .incr(&key, 1)
        .expire(&key, 2)
        .query(con)
        .unwrap();
    count <= limit
}

#[test]
fn rate_limiter_never_lets_more_than_the_limit_through() {
    let s = Server::start();
    let limit = 25;
    let window_ms = 500u64;
    // Per window: (requests, allowed).
    let windows: Arc<Mutex<BTreeMap<u64, (u64, u64)>>> = Arc::default();
    let started = Instant::now();
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let (url, windows) = (s.url(), windows.clone());
            std::thread::spawn(move || {
                let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
                while started.elapsed() < Duration::from_millis(1600) {
                    let window = common::unix_ms() as u64 / window_ms;
                    let ok = allow(&mut con, "api-key-1", window, limit);
                    let mut w = windows.lock().unwrap();
                    let e = w.entry(window).or_default();
                    e.0 += 1;
                    e.1 += ok as u64;
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let windows = windows.lock().unwrap();
    assert!(windows.len() >= 3, "{windows:?}");
    let mut saturated = 0;
    for (w, &(requests, allowed)) in windows.iter() {
        assert!(allowed <= limit as u64, "window {w}: {allowed} allowed");
        // Exactly the first `limit` requests of a window pass.
        assert_eq!(allowed, requests.min(limit as u64), "window {w}");
        saturated += (requests > limit as u64) as u32;
    }
    assert!(saturated >= 2, "not enough contention: {windows:?}");
    // The counters expire with their windows.
    let mut con = s.client();
    let counters: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert!(counters >= 1);
    let ttl: i64 = con
        .ttl(format!(
            "rate:api-key-1:{}",
            windows.keys().next_back().unwrap()
        ))
        .unwrap();
    assert!((0..=2).contains(&ttl), "{ttl}");
}
