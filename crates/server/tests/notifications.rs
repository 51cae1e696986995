//! Keyspace notifications through the real binary: `notify-keyspace-events` parsing and echo, each event
//! class, keyspace versus keyevent channels, expiry (lazy, active, hash fields), and the events a replica
//! publishes from the entries it applies. Event names and order as Redis 7.0.15 emits them.

mod common;
mod raw;

use std::io::BufRead;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::procs::{start_shard, wait_leader};
use common::{err, ok, vb, Server};
use raw::Raw;

/// A subscriber to every keyspace and keyevent channel.
fn listener(s: &Server) -> Raw {
    let mut r = Raw::new(s);
    r.send(&["PSUBSCRIBE", "__key*__:*"]);
    r.reply();
    r
}

/// The next message as `channel message`.
fn next(r: &mut Raw) -> String {
    let m = r.reply();
    let parts: Vec<&str> = m.split("\r\n").collect();
    // *4 $8 pmessage $n pattern $n channel $n message
    assert_eq!(parts[2], "pmessage", "{m}");
    format!("{} {}", parts[6], parts[8])
}

/// Whether nothing arrives for `ms` milliseconds.
fn silent(r: &mut Raw, ms: u64) -> bool {
    r.r.get_ref()
        .set_read_timeout(Some(Duration::from_millis(ms)))
        .unwrap();
    let quiet = match r.r.fill_buf() {
        Ok(_) => false,
        Err(e) => matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    };
    r.r.get_ref()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    quiet
}

fn set_events(c: &mut redis::Connection, classes: &str) {
    ok(c, &["CONFIG", "SET", "notify-keyspace-events", classes]);
}

#[test]
fn config_parses_and_echoes_like_redis() {
    let s = Server::start();
    let mut c = s.client();
    let get = |c: &mut redis::Connection| match ok(c, &["CONFIG", "GET", "notify-keyspace-events"])
    {
        redis::Value::Array(v) => v[1].clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(get(&mut c), vb(""));
    for (set, echo) in [
        ("KEA", "AKE"),
        ("Ex$lg", "g$lxE"),
        ("Kmn", "nKm"),
        ("AKEnm", "AKEm"),
        ("EKhzsxet", "shzxetKE"),
        ("", ""),
    ] {
        set_events(&mut c, set);
        assert_eq!(get(&mut c), vb(echo), "{set}");
    }
    assert_eq!(
        err(&mut c, &["CONFIG", "SET", "notify-keyspace-events", "KQ"]),
        "ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class \
         character. Use 'Ag$lshzxeKEtmdn'."
    );
}

#[test]
fn keyspace_and_keyevent_channels() {
    let s = Server::start();
    let mut c = s.client();
    let mut l = listener(&s);
    set_events(&mut c, "KEA");
    ok(&mut c, &["SET", "foo", "bar"]);
    assert_eq!(next(&mut l), "__keyspace@0__:foo set");
    assert_eq!(next(&mut l), "__keyevent@0__:set foo");
    set_events(&mut c, "K$");
    ok(&mut c, &["INCR", "n"]);
    assert_eq!(next(&mut l), "__keyspace@0__:n incrby");
    set_events(&mut c, "E$");
    ok(&mut c, &["APPEND", "foo", "x"]);
    assert_eq!(next(&mut l), "__keyevent@0__:append foo");
    // No K and no E: nothing is published, whatever the classes.
    set_events(&mut c, "A");
    ok(&mut c, &["SET", "foo", "baz"]);
    assert!(silent(&mut l, 150));
}

#[test]
fn each_class_filters_its_events() {
    let s = Server::start();
    let mut c = s.client();
    let mut l = listener(&s);
    // One command per class; with only that class on, exactly its events come out.
    let cases: &[(char, &[&str], &str)] = &[
        ('g', &["DEL", "gone"], "gone del"),
        ('$', &["SETRANGE", "fs", "0", "x"], "fs setrange"),
        ('l', &["RPUSH", "fl", "a"], "fl rpush"),
        ('s', &["SADD", "fset", "new-member"], "fset sadd"),
        ('h', &["HSET", "fh", "f2", "v"], "fh hset"),
        ('z', &["ZADD", "fz", "1", "a"], "fz zadd"),
        ('n', &["SET", "fresh", "v"], "fresh new"),
        ('m', &["GET", "missing"], "missing keymiss"),
    ];
    // Commands of every class on keys that exist (so they emit neither `new` nor `keymiss`).
    let fillers: &[(char, &[&str])] = &[
        ('$', &["SET", "fs", "v2"]),
        ('l', &["RPUSH", "fl", "x"]),
        ('h', &["HSET", "fh", "f", "w"]),
        ('z', &["ZADD", "fz", "2", "m"]),
        ('s', &["SADD", "fset", "y"]),
        ('g', &["EXPIRE", "fs", "1000"]),
    ];
    for (class, command, want) in cases {
        set_events(&mut c, "");
        ok(&mut c, &["FLUSHALL"]);
        for k in ["gone", "fs"] {
            ok(&mut c, &["SET", k, "v"]);
        }
        ok(&mut c, &["RPUSH", "fl", "v"]);
        ok(&mut c, &["HSET", "fh", "f", "v"]);
        ok(&mut c, &["ZADD", "fz", "0", "m"]);
        ok(&mut c, &["SADD", "fset", "x"]);
        set_events(&mut c, &format!("K{class}"));
        for (other, f) in fillers {
            if other != class {
                ok(&mut c, f);
            }
        }
        ok(&mut c, command);
        assert_eq!(next(&mut l), format!("__keyspace@0__:{want}"), "{class}");
        assert!(silent(&mut l, 100), "{class}: more than its own events");
    }
}

#[test]
fn family_events_in_redis_order() {
    let s = Server::start();
    let mut c = s.client();
    let mut l = listener(&s);
    set_events(&mut c, "KA");
    let script: &[(&[&str], &[&str])] = &[
        (&["SET", "k", "v", "EX", "100"], &["k set", "k expire"]),
        (&["GETEX", "k", "PERSIST"], &["k persist"]),
        (&["RENAME", "k", "k2"], &["k rename_from", "k2 rename_to"]),
        (&["COPY", "k2", "k3"], &["k3 copy_to"]),
        (&["MSET", "a", "1", "b", "2"], &["a set", "b set"]),
        (&["INCRBYFLOAT", "a", "1.5"], &["a incrbyfloat"]),
        (&["GETDEL", "b"], &["b del"]),
        (&["RPUSH", "l", "a", "b", "c"], &["l rpush"]),
        (&["LINSERT", "l", "BEFORE", "b", "x"], &["l linsert"]),
        (&["LSET", "l", "0", "y"], &["l lset"]),
        (&["LREM", "l", "0", "x"], &["l lrem"]),
        (&["LTRIM", "l", "0", "1"], &["l ltrim"]),
        (
            &["LMOVE", "l", "l2", "RIGHT", "LEFT"],
            &["l2 lpush", "l rpop"],
        ),
        (&["RPOP", "l"], &["l rpop", "l del"]),
        (&["SADD", "s", "a", "b"], &["s sadd"]),
        (&["SMOVE", "s", "s2", "a"], &["s srem", "s2 sadd"]),
        (&["SUNIONSTORE", "s3", "s", "s2"], &["s3 sunionstore"]),
        (&["SINTERSTORE", "s3", "s", "s2"], &["s3 del"]),
        (&["SPOP", "s"], &["s spop", "s del"]),
        (&["HSET", "h", "f", "1", "g", "2"], &["h hset"]),
        (&["HINCRBYFLOAT", "h", "f", "1"], &["h hincrbyfloat"]),
        (&["HDEL", "h", "f", "g"], &["h hdel", "h del"]),
        (&["ZADD", "z", "1", "a", "2", "b"], &["z zadd"]),
        (&["ZADD", "z", "INCR", "5", "a"], &["z zincr"]),
        (
            &["ZREMRANGEBYSCORE", "z", "0", "2"],
            &["z zremrangebyscore"],
        ),
        (&["ZUNIONSTORE", "z2", "1", "z"], &["z2 zunionstore"]),
        (&["ZPOPMAX", "z"], &["z zpopmax", "z del"]),
        (&["ZREM", "z2", "a"], &["z2 zrem", "z2 del"]),
        (&["SETBIT", "bits", "7", "1"], &["bits setbit"]),
        (&["BITOP", "NOT", "bits2", "bits"], &["bits2 set"]),
        (&["EXPIRE", "a", "100"], &["a expire"]),
        (&["PEXPIREAT", "a", "1"], &["a del"]),
        (&["XADD", "st", "1-1", "f", "v"], &["st xadd"]),
        (&["XGROUP", "CREATE", "st", "g", "0"], &["st xgroup-create"]),
        (
            &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "st", ">"],
            &["st xgroup-createconsumer"],
        ),
        (&["XDEL", "st", "1-1"], &["st xdel"]),
        (
            &["XGROUP", "DELCONSUMER", "st", "g", "alice"],
            &["st xgroup-delconsumer"],
        ),
    ];
    for (command, want) in script {
        ok(&mut c, command);
        for w in *want {
            assert_eq!(next(&mut l), format!("__keyspace@0__:{w}"), "{command:?}");
        }
    }
    assert!(silent(&mut l, 150));
}

#[test]
fn expired_events_lazy_active_and_hash_fields() {
    let s = Server::start_with(&["--hz", "100"]);
    let mut c = s.client();
    let mut l = listener(&s);
    set_events(&mut c, "Ex");
    // Lazy: a read meets the expired key; its deletion goes through the log and emits `expired`.
    ok(&mut c, &["SET", "lazy", "v", "PX", "30"]);
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(ok(&mut c, &["GET", "lazy"]), redis::Value::Nil);
    assert_eq!(next(&mut l), "__keyevent@0__:expired lazy");
    // Active: nobody touches the key, the expiry cycle deletes it.
    ok(&mut c, &["SET", "active", "v", "PX", "50"]);
    let start = Instant::now();
    assert_eq!(next(&mut l), "__keyevent@0__:expired active");
    assert!(start.elapsed() < Duration::from_secs(5));
    // Hash fields (class h): `hexpired`, then `del` once the last field went.
    set_events(&mut c, "Eh");
    ok(&mut c, &["HSET", "h", "f", "v"]);
    assert_eq!(next(&mut l), "__keyevent@0__:hset h");
    ok(&mut c, &["HPEXPIRE", "h", "50", "FIELDS", "1", "f"]);
    assert_eq!(next(&mut l), "__keyevent@0__:hexpire h");
    assert_eq!(next(&mut l), "__keyevent@0__:hexpired h");
    set_events(&mut c, "Eg");
    ok(&mut c, &["HSET", "h2", "f", "v", "g", "w"]);
    ok(&mut c, &["HPEXPIRE", "h2", "30", "FIELDS", "2", "f", "g"]);
    assert_eq!(next(&mut l), "__keyevent@0__:del h2");
    assert_eq!(ok(&mut c, &["EXISTS", "h2"]), redis::Value::Int(0));
}

#[test]
fn replicas_publish_the_events_of_applied_entries() {
    let procs = start_shard(3, &["--notify-keyspace-events", "KEA"]);
    let leader = wait_leader(&procs, Duration::from_secs(15));
    let follower = (leader + 1) % procs.len();
    let mut lc = procs[leader].wait_ready(Duration::from_secs(15));
    procs[follower].wait_ready(Duration::from_secs(15));
    let s = TcpStream::connect(("127.0.0.1", procs[follower].port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = Raw {
        r: std::io::BufReader::new(s),
    };
    r.send(&["SUBSCRIBE", "__keyevent@0__:lpush", "__keyspace@0__:q"]);
    r.reply();
    r.reply();
    // A write on the leader reaches the follower's subscriber when the follower applies it.
    ok(&mut lc, &["LPUSH", "q", "job"]);
    let m1 = r.reply();
    let m2 = r.reply();
    assert!(
        m1.contains("__keyspace@0__:q") && m1.ends_with("$5\r\nlpush\r\n"),
        "{m1}"
    );
    assert!(
        m2.contains("__keyevent@0__:lpush") && m2.ends_with("$1\r\nq\r\n"),
        "{m2}"
    );
}
