//! MULTI / EXEC / DISCARD / WATCH / UNWATCH through the real binary: replies and errors as Redis 7 gives them,
//! WATCH aborts (other clients, the same client, expiry, FLUSHALL), atomicity under concurrent clients, and
//! transactions on a shard of three replicas ending with identical digests.

mod common;

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::procs::{start_shard, wait_leader, Proc};
use common::{cmd, err, ok, vb, vi, Server};
use redis::Value;

/// The multi-process test and the heaviest single-server test run one at a time: on two cores, several servers
/// busy at once starve the replicas' heartbeats into elections.
static HEAVY: Mutex<()> = Mutex::new(());

fn heavy() -> std::sync::MutexGuard<'static, ()> {
    HEAVY.lock().unwrap_or_else(|e| e.into_inner())
}

fn queued() -> Value {
    Value::SimpleString("QUEUED".into())
}

/// Runs MULTI, the given commands (each must answer QUEUED), then EXEC, and returns EXEC's reply.
fn transaction(con: &mut redis::Connection, cmds: &[&[&str]]) -> Value {
    assert_eq!(ok(con, &["MULTI"]), Value::Okay);
    for c in cmds {
        assert_eq!(ok(con, c), queued(), "{c:?}");
    }
    ok(con, &["EXEC"])
}

fn client_line(con: &mut redis::Connection, id: i64) -> String {
    let list = match ok(con, &["CLIENT", "LIST", "ID", &id.to_string()]) {
        Value::BulkString(b) => String::from_utf8(b).unwrap(),
        Value::VerbatimString { text, .. } => text,
        other => panic!("{other:?}"),
    };
    list.trim().to_string()
}

fn field<'a>(line: &'a str, name: &str) -> &'a str {
    line.split(' ')
        .find_map(|f| f.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {line}"))
}

#[test]
fn exec_runs_the_queue_in_order_with_per_command_errors() {
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["RPUSH", "mylist", "a", "b", "c"]);
    // Through a raw socket: the client library turns an array holding an error into an error.
    drop(c);
    let mut r = s.raw();
    r.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let want = "*6\r\n*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n+PONG\r\n+OK\r\n\
                -ERR value is not an integer or out of range\r\n:4\r\n$4\r\nabcd\r\n";
    let got = raw(
        &mut r,
        "MULTI\r\nLRANGE mylist 0 -1\r\nPING\r\nSET s abc\r\nINCR s\r\nAPPEND s d\r\nGET s\r\nEXEC\r\n",
        5 + 6 * 9 + want.len(),
    );
    assert_eq!(&got[5 + 6 * 9..], want);
    let mut c = s.client();
    // An empty transaction is an empty array.
    assert_eq!(transaction(&mut c, &[]), Value::Array(vec![]));
}

#[test]
fn error_replies_match_redis() {
    let s = Server::start();
    let mut c = s.client();
    assert_eq!(err(&mut c, &["EXEC"]), "ERR EXEC without MULTI");
    assert_eq!(err(&mut c, &["DISCARD"]), "ERR DISCARD without MULTI");
    ok(&mut c, &["MULTI"]);
    assert_eq!(err(&mut c, &["MULTI"]), "ERR MULTI calls can not be nested");
    assert_eq!(
        err(&mut c, &["WATCH", "x"]),
        "ERR WATCH inside MULTI is not allowed"
    );
    // Neither error aborts the transaction, as in Redis.
    assert_eq!(ok(&mut c, &["SET", "k", "v"]), queued());
    assert_eq!(ok(&mut c, &["EXEC"]), Value::Array(vec![Value::Okay]));

    // Queueing errors: unknown command, wrong arity, a command not allowed in MULTI, an unknown subcommand.
    for bad in [
        &["NOSUCHCOMMAND", "a"][..],
        &["SET", "k"][..],
        &["SAVE"][..],
        &["CLIENT", "NOSUCH"][..],
    ] {
        ok(&mut c, &["DEL", "foo1", "foo2"]);
        ok(&mut c, &["MULTI"]);
        assert_eq!(ok(&mut c, &["SET", "foo1", "bar1"]), queued());
        let e = err(&mut c, bad);
        match bad[0] {
            "NOSUCHCOMMAND" => assert!(e.starts_with("ERR unknown command 'NOSUCHCOMMAND'"), "{e}"),
            "SET" => assert_eq!(e, "ERR wrong number of arguments for 'set' command"),
            "SAVE" => assert_eq!(e, "ERR Command not allowed inside a transaction"),
            _ => assert!(e.starts_with("ERR unknown subcommand 'NOSUCH'"), "{e}"),
        }
        assert_eq!(ok(&mut c, &["SET", "foo2", "bar2"]), queued());
        assert_eq!(
            err(&mut c, &["EXEC"]),
            "EXECABORT Transaction discarded because of previous errors."
        );
        assert_eq!(ok(&mut c, &["EXISTS", "foo1", "foo2"]), vi(0));
        // The client is out of MULTI.
        assert_eq!(ok(&mut c, &["PING"]), Value::SimpleString("PONG".into()));
        assert_eq!(err(&mut c, &["EXEC"]), "ERR EXEC without MULTI");
    }
}

#[test]
fn a_transaction_too_large_for_one_log_entry_is_refused_while_queueing() {
    let s = Server::start();
    let mut c = s.client();
    let value = "v".repeat(1 << 20);
    ok(&mut c, &["MULTI"]);
    let mut refused = None;
    for i in 0..40 {
        match cmd(&mut c, &["SET", &format!("k{i}"), &value]) {
            Ok(v) => assert_eq!(v, queued()),
            Err(e) => {
                refused = Some((i, e.to_string()));
                break;
            }
        }
    }
    let (i, e) = refused.expect("never refused");
    assert_eq!(i, 31, "{e}");
    assert!(e.contains("transaction too large"), "{e}");
    // Later commands are still answered QUEUED, and the transaction is discarded.
    assert_eq!(ok(&mut c, &["SET", "after", "1"]), queued());
    assert_eq!(
        err(&mut c, &["EXEC"]),
        "EXECABORT Transaction discarded because of previous errors."
    );
    assert_eq!(ok(&mut c, &["DBSIZE"]), vi(0));
}

#[test]
fn discard_drops_the_queue_and_the_watches() {
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["RPUSH", "mylist", "a", "b", "c"]);
    ok(&mut c, &["MULTI"]);
    assert_eq!(ok(&mut c, &["DEL", "mylist"]), queued());
    assert_eq!(ok(&mut c, &["DISCARD"]), Value::Okay);
    assert_eq!(ok(&mut c, &["LLEN", "mylist"]), vi(3));
    // DISCARD unwatches: the write after WATCH no longer matters.
    ok(&mut c, &["WATCH", "x"]);
    ok(&mut c, &["SET", "x", "10"]);
    ok(&mut c, &["MULTI"]);
    ok(&mut c, &["DISCARD"]);
    assert_eq!(
        transaction(&mut c, &[&["INCR", "x"]]),
        Value::Array(vec![vi(11)])
    );
    // RESET also leaves MULTI.
    ok(&mut c, &["MULTI"]);
    ok(&mut c, &["SET", "x", "1"]);
    assert_eq!(ok(&mut c, &["RESET"]), Value::SimpleString("RESET".into()));
    assert_eq!(err(&mut c, &["EXEC"]), "ERR EXEC without MULTI");
    assert_eq!(ok(&mut c, &["GET", "x"]), vb("11"));
}

#[test]
fn watch_aborts_on_writes_by_anyone() {
    let s = Server::start();
    let mut c = s.client();
    let mut other = s.client();
    // Unchanged: runs.
    ok(&mut c, &["SET", "x", "30"]);
    ok(&mut c, &["WATCH", "x", "y", "z"]);
    ok(&mut c, &["WATCH", "k"]);
    ok(&mut other, &["SET", "unrelated", "1"]);
    assert_eq!(
        transaction(&mut c, &[&["PING"]]),
        Value::Array(vec![Value::SimpleString("PONG".into())])
    );
    // Another client's write, even of the same value.
    ok(&mut c, &["WATCH", "a", "b", "x", "k", "z"]);
    ok(&mut other, &["SET", "x", "30"]);
    assert_eq!(transaction(&mut c, &[&["SET", "x", "mine"]]), Value::Nil);
    assert_eq!(ok(&mut c, &["GET", "x"]), vb("30"));
    // After a failed EXEC nothing is watched any more.
    ok(&mut other, &["SET", "x", "40"]);
    assert_eq!(
        transaction(&mut c, &[&["PING"]]),
        Value::Array(vec![Value::SimpleString("PONG".into())])
    );
    // The same client's own write.
    ok(&mut c, &["WATCH", "x"]);
    ok(&mut c, &["SET", "x", "41"]);
    assert_eq!(transaction(&mut c, &[&["GET", "x"]]), Value::Nil);
    // A key that did not exist and was created; created and deleted again; deleted and recreated.
    ok(&mut c, &["WATCH", "new"]);
    ok(&mut other, &["SET", "new", "1"]);
    assert_eq!(transaction(&mut c, &[&["GET", "new"]]), Value::Nil);
    ok(&mut c, &["WATCH", "flash"]);
    ok(&mut other, &["SET", "flash", "1"]);
    ok(&mut other, &["DEL", "flash"]);
    assert_eq!(transaction(&mut c, &[&["GET", "flash"]]), Value::Nil);
    ok(&mut c, &["WATCH", "new"]);
    ok(&mut other, &["DEL", "new"]);
    ok(&mut other, &["SET", "new", "1"]);
    assert_eq!(transaction(&mut c, &[&["GET", "new"]]), Value::Nil);
    // EXPIRE touches; a failed write (WRONGTYPE) or a no-op (SADD of a member) does not.
    ok(&mut c, &["WATCH", "new"]);
    ok(&mut other, &["EXPIRE", "new", "100"]);
    assert_eq!(transaction(&mut c, &[&["GET", "new"]]), Value::Nil);
    ok(&mut other, &["SADD", "set", "m"]);
    ok(&mut c, &["WATCH", "new", "set"]);
    assert!(cmd(&mut other, &["LPUSH", "new", "x"]).is_err());
    assert_eq!(ok(&mut other, &["SADD", "set", "m"]), vi(0));
    assert_eq!(
        transaction(&mut c, &[&["GET", "new"]]),
        Value::Array(vec![vb("1")])
    );
    // RENAME touches both keys.
    ok(&mut c, &["WATCH", "set"]);
    ok(&mut other, &["RENAME", "new", "set"]);
    assert_eq!(transaction(&mut c, &[&["PING"]]), Value::Nil);
    // Watching a key again keeps the first observation.
    ok(&mut c, &["WATCH", "set"]);
    ok(&mut other, &["SET", "set", "again"]);
    ok(&mut c, &["WATCH", "set", "set"]);
    assert_eq!(transaction(&mut c, &[&["PING"]]), Value::Nil);
    // UNWATCH forgets.
    ok(&mut c, &["WATCH", "set"]);
    ok(&mut other, &["DEL", "set"]);
    assert_eq!(ok(&mut c, &["UNWATCH"]), Value::Okay);
    assert_eq!(
        transaction(&mut c, &[&["PING"]]),
        Value::Array(vec![Value::SimpleString("PONG".into())])
    );
    assert_eq!(ok(&mut c, &["UNWATCH"]), Value::Okay);
}

#[test]
fn watch_and_expiry_follow_redis() {
    let s = Server::start_with(&["--hz", "100"]);
    let mut c = s.client();
    // Live at WATCH, past its deadline at EXEC (deleted or not yet): aborts.
    ok(&mut c, &["SET", "key", "1", "PX", "100"]);
    ok(&mut c, &["WATCH", "key"]);
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(transaction(&mut c, &[&["INCR", "key"]]), Value::Nil);
    // Already stale at WATCH: its deletion (a read meeting it, or FLUSHDB) is no change.
    ok(&mut c, &["SET", "x", "foo", "PX", "1"]);
    std::thread::sleep(Duration::from_millis(5));
    ok(&mut c, &["WATCH", "x"]);
    assert_eq!(ok(&mut c, &["EXISTS", "x"]), vi(0));
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        transaction(&mut c, &[&["PING"]]),
        Value::Array(vec![Value::SimpleString("PONG".into())])
    );
    ok(&mut c, &["SET", "x", "foo", "PX", "1"]);
    std::thread::sleep(Duration::from_millis(5));
    ok(&mut c, &["WATCH", "x"]);
    ok(&mut c, &["FLUSHDB"]);
    assert_eq!(
        transaction(&mut c, &[&["PING"]]),
        Value::Array(vec![Value::SimpleString("PONG".into())])
    );
    // Active expiry deleting a watched key.
    ok(&mut c, &["SET", "x", "foo", "PX", "200"]);
    ok(&mut c, &["WATCH", "x"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while ok(&mut c, &["DBSIZE"]) != vi(0) {
        assert!(Instant::now() < deadline, "never expired");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(transaction(&mut c, &[&["PING"]]), Value::Nil);
}

#[test]
fn flushall_touches_only_existing_watched_keys() {
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["SET", "x", "30"]);
    ok(&mut c, &["WATCH", "x"]);
    ok(&mut c, &["FLUSHALL"]);
    assert_eq!(transaction(&mut c, &[&["PING"]]), Value::Nil);
    ok(&mut c, &["DEL", "x"]);
    ok(&mut c, &["WATCH", "x"]);
    ok(&mut c, &["FLUSHALL"]);
    assert_eq!(
        transaction(&mut c, &[&["PING"]]),
        Value::Array(vec![Value::SimpleString("PONG".into())])
    );
    ok(&mut c, &["SET", "x", "30"]);
    ok(&mut c, &["WATCH", "x"]);
    ok(&mut c, &["FLUSHDB"]);
    assert_eq!(transaction(&mut c, &[&["PING"]]), Value::Nil);
}

#[test]
fn read_only_transactions_see_one_state_and_check_watches() {
    let s = Server::start();
    let mut c = s.client();
    let mut other = s.client();
    ok(&mut c, &["MSET", "a", "1", "b", "2"]);
    assert_eq!(
        transaction(&mut c, &[&["GET", "a"], &["MGET", "a", "b"], &["TIME"]])
            .as_sequence()
            .map(|v| v.len()),
        Some(3)
    );
    ok(&mut c, &["WATCH", "a"]);
    ok(&mut other, &["INCR", "a"]);
    assert_eq!(transaction(&mut c, &[&["GET", "a"]]), Value::Nil);
    ok(&mut c, &["WATCH", "a"]);
    assert_eq!(
        transaction(&mut c, &[&["GET", "a"]]),
        Value::Array(vec![vb("2")])
    );
}

#[test]
fn node_and_blocking_commands_inside_multi() {
    let s = Server::start();
    let mut c = s.client();
    let mut other = s.client();
    let id = match ok(&mut c, &["CLIENT", "ID"]) {
        Value::Int(i) => i,
        v => panic!("{v:?}"),
    };
    ok(&mut c, &["MULTI"]);
    ok(&mut c, &["CONFIG", "SET", "slowlog-max-len", "77"]);
    ok(&mut c, &["CONFIG", "GET", "slowlog-max-len"]);
    ok(&mut c, &["BLPOP", "nolist", "0"]);
    ok(&mut c, &["BZPOPMIN", "nozset", "0"]);
    // Another client sees the transaction in CLIENT LIST.
    let line = client_line(&mut other, id);
    assert_eq!(field(&line, "flags"), "x");
    assert_eq!(field(&line, "multi"), "4");
    assert!(
        field(&line, "multi-mem").parse::<u64>().unwrap() > 50,
        "{line}"
    );
    ok(&mut c, &["CLIENT", "INFO"]);
    let started = Instant::now();
    let r = ok(&mut c, &["EXEC"]);
    // The blocking commands answered their null at once.
    assert!(started.elapsed() < Duration::from_secs(2));
    let Value::Array(items) = r else {
        panic!("{r:?}")
    };
    assert_eq!(items[0], Value::Okay);
    assert_eq!(
        items[1],
        Value::Array(vec![vb("slowlog-max-len"), vb("77")])
    );
    assert_eq!(items[2], Value::Nil);
    assert_eq!(items[3], Value::Nil);
    let info = match &items[4] {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::VerbatimString { text, .. } => text.clone(),
        v => panic!("{v:?}"),
    };
    // Inside EXEC the client is still in its transaction, as in Redis.
    assert_eq!(field(info.trim(), "flags"), "x");
    let line = client_line(&mut other, id);
    assert_eq!(field(&line, "flags"), "N");
    assert_eq!(field(&line, "multi"), "-1");
    // flags=d once a watched key changed.
    ok(&mut c, &["WATCH", "w"]);
    assert_eq!(field(&client_line(&mut other, id), "flags"), "N");
    assert_eq!(
        common::info_field(&mut other, "clients", "watching_clients").as_deref(),
        Some("1")
    );
    ok(&mut other, &["SET", "w", "1"]);
    assert_eq!(field(&client_line(&mut other, id), "flags"), "d");
    ok(&mut c, &["UNWATCH"]);
    assert_eq!(field(&client_line(&mut other, id), "flags"), "N");
    assert_eq!(
        common::info_field(&mut other, "clients", "total_watched_keys").as_deref(),
        Some("0")
    );
    // Commands in EXEC are counted in commandstats.
    let stats = common::info_field(&mut other, "commandstats", "cmdstat_blpop").unwrap();
    assert!(stats.starts_with("calls=1,"), "{stats}");
}

/// Sends raw RESP and reads until `want` bytes arrived.
fn raw(s: &mut std::net::TcpStream, req: &str, want: usize) -> String {
    s.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while out.len() < want {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&out));
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn aborted_exec_is_a_null_array_in_resp2_and_null_in_resp3() {
    let s = Server::start();
    let mut other = s.client();
    let mut r = s.raw();
    r.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(raw(&mut r, "WATCH k\r\n", 5), "+OK\r\n");
    ok(&mut other, &["SET", "k", "1"]);
    assert_eq!(
        raw(&mut r, "MULTI\r\nGET k\r\nEXEC\r\n", 5 + 9 + 5),
        "+OK\r\n+QUEUED\r\n*-1\r\n"
    );
    let hello = raw(&mut r, "HELLO 3\r\n", 1);
    assert!(hello.starts_with('%'), "{hello}");
    // Drain the rest of the HELLO map.
    std::thread::sleep(Duration::from_millis(100));
    let mut buf = [0u8; 4096];
    r.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let _ = r.read(&mut buf);
    r.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(raw(&mut r, "WATCH k\r\n", 5), "+OK\r\n");
    ok(&mut other, &["SET", "k", "2"]);
    assert_eq!(
        raw(&mut r, "MULTI\r\nGET k\r\nEXEC\r\n", 5 + 9 + 3),
        "+OK\r\n+QUEUED\r\n_\r\n"
    );
    // A pipeline mixing a transaction with plain commands keeps its order.
    assert_eq!(
        raw(
            &mut r,
            "SET p 1\r\nMULTI\r\nINCR p\r\nINCR p\r\nEXEC\r\nGET p\r\n",
            5 + 5 + 9 + 9 + 12 + 7
        ),
        "+OK\r\n+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:2\r\n:3\r\n$1\r\n3\r\n"
    );
}

#[test]
fn concurrent_transactions_never_interleave() {
    let _heavy = heavy();
    let s = Server::start();
    let url = s.url();
    let threads = 8;
    let per = 50;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (url, seen) = (url.clone(), seen.clone());
            std::thread::spawn(move || {
                let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
                for _ in 0..per {
                    // Two increments and a read in one transaction: consecutive values, whatever the others do.
                    let (a, b, g): (i64, i64, i64) = redis::pipe()
                        .atomic()
                        .incr("c", 1)
                        .incr("c", 1)
                        .get("c")
                        .query(&mut c)
                        .unwrap();
                    assert_eq!((b, g), (a + 1, a + 1), "interleaved");
                    seen.lock().unwrap().push(a);
                }
            })
        })
        .collect();
    // Optimistic increments with WATCH on another key, retried on abort: none is lost.
    let optimistic: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
                let mut aborts = 0;
                for _ in 0..per {
                    loop {
                        redis::cmd("WATCH").arg("o").exec(&mut c).unwrap();
                        let v: Option<i64> = redis::cmd("GET").arg("o").query(&mut c).unwrap();
                        let r: Option<(String,)> = redis::pipe()
                            .atomic()
                            .set("o", v.unwrap_or(0) + 1)
                            .query(&mut c)
                            .unwrap();
                        if r.is_some() {
                            break;
                        }
                        aborts += 1;
                    }
                }
                aborts
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let aborts: i32 = optimistic.into_iter().map(|h| h.join().unwrap()).sum();
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    let want: Vec<i64> = (0..threads * per).map(|i| 2 * i as i64 + 1).collect();
    assert_eq!(seen, want);
    let mut c = s.client();
    assert_eq!(ok(&mut c, &["GET", "o"]), vb(&(4 * per).to_string()));
    eprintln!("optimistic increments: {aborts} aborted EXECs retried");
}

/// Waits until every process applied the same index and returns their digests.
fn settled_digests(procs: &[Proc]) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let applied: Vec<Option<u64>> = procs
            .iter()
            .map(|p| p.info_u64("raft_last_applied"))
            .collect();
        if applied.iter().all(|a| a.is_some() && *a == applied[0]) {
            let digests: Vec<String> = procs
                .iter()
                .map(|p| {
                    let mut c = p.conn().unwrap();
                    redis::cmd("DEBUG").arg("DIGEST").query(&mut c).unwrap()
                })
                .collect();
            let after: Vec<Option<u64>> = procs
                .iter()
                .map(|p| p.info_u64("raft_last_applied"))
                .collect();
            if after == applied {
                return digests;
            }
        }
        assert!(Instant::now() < deadline, "replicas never settled");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn replicas_apply_transactions_and_watch_decisions_alike() {
    let _heavy = heavy();
    let procs = start_shard(3, &[]);
    for p in &procs {
        p.wait_ready(Duration::from_secs(10));
    }
    let leader = wait_leader(&procs, Duration::from_secs(10));
    let ports: Vec<u16> = procs.iter().map(|p| p.port).collect();
    let threads = 4;
    let rounds = 40;
    let committed = Arc::new(Mutex::new(0u64));
    // Elections may still settle: wait until the leader takes writes.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut c = procs[leader].wait_ready(Duration::from_secs(5));
        if redis::cmd("SET").arg("ready").arg(1).exec(&mut c).is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "leader never took writes");
        std::thread::sleep(Duration::from_millis(50));
    }
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (ports, committed) = (ports.clone(), committed.clone());
            std::thread::spawn(move || {
                let connect = |i: usize| {
                    let c = redis::Client::open(format!("redis://127.0.0.1:{}/", ports[i]))
                        .unwrap()
                        .get_connection_with_timeout(Duration::from_secs(2));
                    if let Ok(c) = &c {
                        let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
                    }
                    c
                };
                let mut target = leader;
                let mut c = connect(target).unwrap();
                let mut aborted = 0;
                let mut failed = 0;
                for i in 0..rounds {
                    // Contended keys: WATCH aborts happen, and must happen on every replica alike.
                    let key = format!("hot{}", i % 3);
                    let round = (|| -> redis::RedisResult<Option<(String, i64, Vec<String>)>> {
                        redis::cmd("WATCH").arg(&key).exec(&mut c)?;
                        let v: Option<i64> = redis::cmd("GET").arg(&key).query(&mut c)?;
                        redis::pipe()
                            .atomic()
                            .set(&key, v.unwrap_or(0) + 1)
                            .rpush(format!("log{t}"), i)
                            .lrange(format!("log{t}"), -1, -1)
                            .query(&mut c)
                    })();
                    match round {
                        Ok(Some((_, _, last))) => {
                            assert_eq!(last, vec![i.to_string()]);
                            *committed.lock().unwrap() += 1;
                        }
                        Ok(None) => aborted += 1,
                        // A transient election: the transaction may or may not have applied.
                        Err(_) => {
                            // Elsewhere, if leadership moved: a fresh connection has no MULTI or WATCH.
                            failed += 1;
                            std::thread::sleep(Duration::from_millis(50));
                            target = (target + 1) % ports.len();
                            match connect(target) {
                                Ok(fresh) => c = fresh,
                                Err(_) => continue,
                            }
                        }
                    }
                    // Sometimes the client itself invalidates its watch, on a key with a TTL.
                    if i % 7 == 0 {
                        let own = (|| -> redis::RedisResult<Option<(i64,)>> {
                            redis::cmd("WATCH").arg("own").exec(&mut c)?;
                            redis::cmd("SET")
                                .arg("own")
                                .arg(i)
                                .arg("PX")
                                .arg(50)
                                .exec(&mut c)?;
                            redis::pipe().atomic().incr("own", 1).query(&mut c)
                        })();
                        if let Ok(r) = own {
                            assert!(r.is_none());
                        }
                    }
                }
                (aborted, failed)
            })
        })
        .collect();
    let (mut aborted, mut failed) = (0u64, 0u64);
    for h in handles {
        let (a, f) = h.join().unwrap();
        aborted += a;
        failed += f;
    }
    let committed = *committed.lock().unwrap();
    assert_eq!(committed + aborted + failed, (threads * rounds) as u64);
    assert!(committed > 0, "{committed} committed, {aborted} aborted");
    // Read the outcome from whichever replica leads now (an election may have happened meanwhile).
    let deadline = Instant::now() + Duration::from_secs(20);
    let (total, logs) = loop {
        let leader = wait_leader(&procs, Duration::from_secs(10));
        let outcome = procs[leader].conn().and_then(|mut c| {
            let mut total = 0i64;
            for i in 0..3 {
                let v: Option<i64> = redis::cmd("GET")
                    .arg(format!("hot{i}"))
                    .query(&mut c)
                    .ok()?;
                total += v.unwrap_or(0);
            }
            let mut logs = 0i64;
            for t in 0..threads {
                logs += redis::cmd("LLEN")
                    .arg(format!("log{t}"))
                    .query::<i64>(&mut c)
                    .ok()?;
            }
            Some((total, logs))
        });
        if let Some(o) = outcome {
            break o;
        }
        assert!(Instant::now() < deadline, "no leader answered");
        std::thread::sleep(Duration::from_millis(100));
    };
    // Each applied transaction did both of its writes, an aborted one neither.
    assert_eq!(total, logs);
    assert!(logs as u64 >= committed && logs as u64 <= committed + failed);
    let digests = settled_digests(&procs);
    assert!(digests.iter().all(|d| d == &digests[0]), "{digests:?}");
    // A replica refuses a transaction with writes, as a Redis replica does.
    let leader = wait_leader(&procs, Duration::from_secs(10));
    let follower = (leader + 1) % procs.len();
    let mut f = procs[follower].conn().unwrap();
    ok(&mut f, &["MULTI"]);
    ok(&mut f, &["SET", "k", "v"]);
    let e = err(&mut f, &["EXEC"]);
    assert!(e.starts_with("READONLY") || e.starts_with("MOVED"), "{e}");
    eprintln!("{committed} committed, {aborted} aborted");
}
