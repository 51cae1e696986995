//! Expiry through the real binary: deadlines hold exactly, active expiry reclaims untouched keys, lazy expiry
//! deletes what a read finds expired. Timing checks are one-sided (never readable after the deadline) or
//! generous, so a slow machine cannot make them fail.

mod common;
mod raw;

use std::time::{Duration, Instant};

use common::{info_field, ok, vb, vi, Server};
use raw::int;
use redis::Value;

fn stat(c: &mut redis::Connection, field: &str) -> i64 {
    info_field(c, "stats", field)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("INFO stats has no {field}"))
}

fn dbsize(c: &mut redis::Connection) -> i64 {
    int(&ok(c, &["DBSIZE"]))
}

/// Polls GET until `limit`: returns when it first saw nil (relative to `t0`) and panics if a value shows up
/// again after that, or if the value is still readable once `deadline_after` has passed since `t0`.
fn watch_until_gone(
    c: &mut redis::Connection,
    key: &str,
    want: &str,
    t0: Instant,
    deadline_after: Duration,
    limit: Duration,
) -> Duration {
    let mut gone_at = None;
    let mut reads = 0;
    while t0.elapsed() < limit {
        let sent = t0.elapsed();
        let v = ok(c, &["GET", key]);
        reads += 1;
        match (&v, gone_at) {
            (Value::Nil, None) => gone_at = Some(sent),
            (Value::Nil, Some(_)) => {}
            (Value::BulkString(b), None) if b == want.as_bytes() => {
                // The server set the deadline before its reply reached us, so a read sent after
                // `deadline_after` must miss.
                assert!(
                    sent <= deadline_after,
                    "{key} readable {sent:?} after SET, deadline was {deadline_after:?}"
                );
            }
            (other, _) => {
                panic!("{key}: {other:?} at {sent:?} (gone at {gone_at:?}, read {reads})")
            }
        }
        std::thread::sleep(Duration::from_millis(3));
    }
    gone_at.unwrap_or_else(|| panic!("{key} never expired within {limit:?}"))
}

#[test]
fn px_key_is_readable_before_and_never_after_its_deadline() {
    let s = Server::start();
    let mut c = s.client();
    let mut seen_value = false;
    // Before the deadline: immediately after SET the value is there (100ms is ample for one round trip).
    let t0 = Instant::now();
    assert_eq!(ok(&mut c, &["SET", "k", "v", "PX", "100"]), Value::Okay);
    let set_done = t0.elapsed();
    if ok(&mut c, &["GET", "k"]) == vb("v") {
        seen_value = true;
    }
    let pttl = int(&ok(&mut c, &["PTTL", "k"]));
    assert!(pttl <= 100, "pttl {pttl}");
    let gone = watch_until_gone(
        &mut c,
        "k",
        "v",
        t0,
        set_done + Duration::from_millis(100),
        Duration::from_millis(600),
    );
    assert!(seen_value || set_done > Duration::from_millis(50));
    assert!(
        gone >= Duration::from_millis(90),
        "expired early, at {gone:?}"
    );
    assert_eq!(ok(&mut c, &["PTTL", "k"]), vi(-2));
    assert_eq!(ok(&mut c, &["TTL", "k"]), vi(-2));
    assert_eq!(ok(&mut c, &["EXISTS", "k"]), vi(0));
    assert_eq!(ok(&mut c, &["STRLEN", "k"]), vi(0));
    assert_eq!(
        ok(&mut c, &["MGET", "k", "k"]),
        Value::Array(vec![Value::Nil, Value::Nil])
    );
    // Writes treat the expired key as absent: INCR starts from zero, with no TTL.
    assert_eq!(ok(&mut c, &["INCR", "k"]), vi(1));
    assert_eq!(ok(&mut c, &["TTL", "k"]), vi(-1));
}

#[test]
fn several_deadlines_each_hold() {
    let s = Server::start();
    let mut c = s.client();
    let mut other = s.client();
    let t0 = Instant::now();
    ok(&mut c, &["SET", "a", "1", "PX", "60"]);
    ok(&mut c, &["PSETEX", "b", "120", "2"]);
    let at = common::unix_ms() + 180;
    ok(&mut c, &["SET", "c", "3", "PXAT", &at.to_string()]);
    let set_done = t0.elapsed();
    // Another connection sees the same deadlines.
    let ga = watch_until_gone(
        &mut other,
        "a",
        "1",
        t0,
        set_done + Duration::from_millis(60),
        Duration::from_millis(400),
    );
    let gb = watch_until_gone(
        &mut other,
        "b",
        "2",
        t0,
        set_done + Duration::from_millis(120),
        Duration::from_millis(500),
    );
    let gc = watch_until_gone(
        &mut other,
        "c",
        "3",
        t0,
        set_done + Duration::from_millis(200),
        Duration::from_millis(600),
    );
    assert!(ga >= Duration::from_millis(50), "a gone at {ga:?}");
    assert!(gb >= Duration::from_millis(110), "b gone at {gb:?}");
    assert!(gc >= Duration::from_millis(150), "c gone at {gc:?}");
}

#[test]
fn active_expiry_removes_keys_nobody_reads() {
    let s = Server::start();
    let mut c = s.client();
    let before = stat(&mut c, "expired_keys");
    let mut p = redis::pipe();
    for i in 0..1000 {
        p.cmd("SET")
            .arg(format!("v:{i}"))
            .arg(i)
            .arg("PX")
            .arg(50)
            .ignore();
    }
    for i in 0..5 {
        p.cmd("SET").arg(format!("keep:{i}")).arg(i).ignore();
    }
    p.query::<()>(&mut c).unwrap();
    assert!(dbsize(&mut c) <= 1005);
    // DBSIZE and INFO read no key, so only the background sweep can shrink the count.
    let t0 = Instant::now();
    let mut size = dbsize(&mut c);
    while size > 5 && t0.elapsed() < Duration::from_secs(6) {
        std::thread::sleep(Duration::from_millis(100));
        size = dbsize(&mut c);
    }
    assert_eq!(size, 5, "active expiry left keys after {:?}", t0.elapsed());
    assert_eq!(stat(&mut c, "expired_keys") - before, 1000);
    assert_eq!(
        info_field(&mut c, "keyspace", "db0").as_deref(),
        Some("keys=5,expires=0,avg_ttl=0")
    );
    for i in 0..5 {
        assert_eq!(
            ok(&mut c, &["GET", &format!("keep:{i}")]),
            vb(&i.to_string())
        );
    }
}

#[test]
fn lazy_expiry_deletes_a_key_when_it_is_read() {
    // With hz 1 the sweep runs once a second; retry in the rare case it takes the key before our read.
    let s = Server::start_with(&["--hz", "1"]);
    let mut c = s.client();
    ok(&mut c, &["SET", "keep", "v"]);
    for attempt in 0..10 {
        let before = stat(&mut c, "expired_keys");
        ok(&mut c, &["SET", "k", "v", "PX", "20"]);
        std::thread::sleep(Duration::from_millis(40));
        // Expired but not yet reclaimed: DBSIZE still counts it.
        if dbsize(&mut c) != 2 {
            continue;
        }
        assert_eq!(ok(&mut c, &["GET", "k"]), Value::Nil);
        let t0 = Instant::now();
        let mut size = dbsize(&mut c);
        while size != 1 && t0.elapsed() < Duration::from_millis(500) {
            std::thread::sleep(Duration::from_millis(5));
            size = dbsize(&mut c);
        }
        assert_eq!(
            size, 1,
            "attempt {attempt}: expired key still counted after a read"
        );
        assert_eq!(stat(&mut c, "expired_keys") - before, 1);
        assert!(stat(&mut c, "keyspace_misses") >= 1);
        return;
    }
    panic!("the active sweep took the key before every read");
}

#[test]
fn keepttl_keeps_the_deadline_and_plain_set_drops_it() {
    let s = Server::start();
    let mut c = s.client();
    let t0 = Instant::now();
    ok(&mut c, &["SET", "k", "v1", "PX", "150"]);
    ok(&mut c, &["SET", "p", "v1", "PX", "150"]);
    let set_done = t0.elapsed();
    assert_eq!(ok(&mut c, &["SET", "k", "v2", "KEEPTTL"]), Value::Okay);
    assert_eq!(ok(&mut c, &["SET", "p", "v2"]), Value::Okay);
    let pttl = int(&ok(&mut c, &["PTTL", "k"]));
    assert!((1..=150).contains(&pttl), "pttl {pttl}");
    assert_eq!(ok(&mut c, &["PTTL", "p"]), vi(-1));
    let gone = watch_until_gone(
        &mut c,
        "k",
        "v2",
        t0,
        set_done + Duration::from_millis(150),
        Duration::from_millis(700),
    );
    assert!(gone >= Duration::from_millis(140), "gone at {gone:?}");
    // The plain SET outlived the old deadline.
    assert_eq!(ok(&mut c, &["GET", "p"]), vb("v2"));
}

#[test]
fn persist_getex_and_rename_change_or_carry_deadlines() {
    let s = Server::start();
    let mut c = s.client();
    let t0 = Instant::now();
    ok(&mut c, &["SET", "a", "1", "PX", "80"]);
    ok(&mut c, &["SET", "b", "2", "PX", "80"]);
    ok(&mut c, &["SET", "r", "3", "PX", "80"]);
    ok(&mut c, &["SET", "x", "4", "PX", "80"]);
    let set_done = t0.elapsed();
    assert_eq!(ok(&mut c, &["PERSIST", "a"]), vi(1));
    assert_eq!(ok(&mut c, &["GETEX", "b", "PERSIST"]), vb("2"));
    assert_eq!(ok(&mut c, &["RENAME", "r", "r2"]), Value::Okay);
    assert_eq!(ok(&mut c, &["PEXPIRE", "x", "10000"]), vi(1));
    watch_until_gone(
        &mut c,
        "r2",
        "3",
        t0,
        set_done + Duration::from_millis(80),
        Duration::from_millis(500),
    );
    assert_eq!(ok(&mut c, &["GET", "a"]), vb("1"));
    assert_eq!(ok(&mut c, &["GET", "b"]), vb("2"));
    assert_eq!(ok(&mut c, &["GET", "x"]), vb("4"));
    assert_eq!(ok(&mut c, &["GET", "r"]), Value::Nil);
}

#[test]
fn expire_in_the_past_deletes_at_once() {
    let s = Server::start();
    let mut c = s.client();
    for (i, args) in [
        &["EXPIRE", "k", "-1"][..],
        &["PEXPIRE", "k", "0"],
        &["EXPIREAT", "k", "1"],
        &["PEXPIREAT", "k", "1"],
    ]
    .iter()
    .enumerate()
    {
        ok(&mut c, &["SET", "k", "v"]);
        ok(&mut c, &["SET", "other", "x"]);
        let before = stat(&mut c, "expired_keys");
        assert_eq!(ok(&mut c, args), vi(1), "{args:?}");
        // Deleted now, not left for the sweep: DBSIZE drops without any read.
        assert_eq!(dbsize(&mut c), 1, "{args:?}");
        // Redis counts this as a deletion, not an expiry.
        assert_eq!(stat(&mut c, "expired_keys"), before, "{args:?}");
        assert_eq!(ok(&mut c, &["GET", "k"]), Value::Nil, "case {i}");
    }
    // On a missing key nothing happens.
    assert_eq!(ok(&mut c, &["EXPIRE", "missing", "-1"]), vi(0));
}

#[test]
fn info_keyspace_counts_volatile_keys() {
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["SET", "a", "1"]);
    ok(&mut c, &["SET", "b", "1", "EX", "1000"]);
    ok(&mut c, &["SET", "c", "1", "EX", "1000"]);
    let db0 = info_field(&mut c, "keyspace", "db0").expect("db0");
    assert!(db0.starts_with("keys=3,expires=2,avg_ttl="), "{db0}");
    ok(&mut c, &["PERSIST", "b"]);
    let db0 = info_field(&mut c, "keyspace", "db0").expect("db0");
    assert!(db0.starts_with("keys=3,expires=1,avg_ttl="), "{db0}");
}
