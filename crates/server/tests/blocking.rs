//! Blocking list commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP) and CLIENT UNBLOCK through the real binary,
//! with replies checked against Redis 7.0.15; and on a shard of three processes, where only the leader serves
//! blocked clients.

mod common;
mod raw;

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::procs::{start_shard, wait_leader};
use common::{err, info_field, ok, vb, vi, Server};
use raw::Raw;
use redis::Value;

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

/// The reply `[key, element]` of BLPOP/BRPOP as RESP2 text.
fn kv(key: &str, elem: &str) -> String {
    format!(
        "*2\r\n${}\r\n{key}\r\n${}\r\n{elem}\r\n",
        key.len(),
        elem.len()
    )
}

/// A bulk string as RESP text.
fn bulk(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

/// A raw connection to a port.
fn raw_at(port: u16) -> Raw {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    Raw {
        r: BufReader::new(s),
    }
}

/// Whether nothing arrives on `r` for `ms` milliseconds (nothing is consumed either way).
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

fn blocked(c: &mut redis::Connection) -> usize {
    info_field(c, "clients", "blocked_clients")
        .and_then(|v| v.parse().ok())
        .expect("blocked_clients")
}

/// Waits until exactly `n` clients are blocked.
fn wait_blocked(c: &mut redis::Connection, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while blocked(c) != n {
        assert!(Instant::now() < deadline, "never saw {n} blocked clients");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Sends `args` on a new connection and waits until it is blocked (`already` clients were blocked before).
fn block(s: &Server, c: &mut redis::Connection, args: &[&str], already: usize) -> Raw {
    let mut r = Raw::new(s);
    r.send(args);
    wait_blocked(c, already + 1);
    r
}

fn client_id(r: &mut Raw) -> i64 {
    let reply = r.call(&["CLIENT", "ID"]);
    reply[1..].trim_end().parse().unwrap()
}

#[test]
fn waiters_are_served_first_come_first_served() {
    let s = Server::start();
    let mut c = s.client();
    let mut w: Vec<Raw> = (0..3)
        .map(|i| block(&s, &mut c, &["BLPOP", "q", "0"], i))
        .collect();
    assert_eq!(ok(&mut c, &["RPUSH", "q", "a"]), vi(1));
    assert_eq!(w[0].reply(), kv("q", "a"));
    wait_blocked(&mut c, 2);
    assert!(silent(&mut w[1], 100) && silent(&mut w[2], 1));
    // One push of several elements serves several waiters, oldest first, each its own element.
    assert_eq!(ok(&mut c, &["RPUSH", "q", "b", "c", "d"]), vi(3));
    assert_eq!(w[1].reply(), kv("q", "b"));
    assert_eq!(w[2].reply(), kv("q", "c"));
    wait_blocked(&mut c, 0);
    assert_eq!(
        ok(&mut c, &["LRANGE", "q", "0", "-1"]),
        Value::Array(vec![vb("d")])
    );
    // The first waiter blocks again, behind one that came meanwhile: order is arrival order.
    let mut first = block(&s, &mut c, &["BRPOP", "r", "0"], 0);
    w[0].send(&["BRPOP", "r", "0"]);
    wait_blocked(&mut c, 2);
    assert_eq!(ok(&mut c, &["LPUSH", "r", "x"]), vi(1));
    assert_eq!(first.reply(), kv("r", "x"));
    assert!(silent(&mut w[0], 100));
    assert_eq!(ok(&mut c, &["LPUSH", "r", "y"]), vi(1));
    assert_eq!(w[0].reply(), kv("r", "y"));
    wait_blocked(&mut c, 0);
}

#[test]
fn more_waiters_than_elements() {
    let s = Server::start();
    let mut c = s.client();
    let mut w: Vec<Raw> = (0..5)
        .map(|i| block(&s, &mut c, &["BLMPOP", "0", "1", "q", "LEFT"], i))
        .collect();
    assert_eq!(ok(&mut c, &["RPUSH", "q", "1", "2", "3"]), vi(3));
    let one = |e: &str| format!("*2\r\n$1\r\nq\r\n*1\r\n{}", bulk(e));
    for (i, e) in ["1", "2", "3"].iter().enumerate() {
        assert_eq!(w[i].reply(), one(e));
    }
    wait_blocked(&mut c, 2);
    assert_eq!(ok(&mut c, &["EXISTS", "q"]), vi(0));
    // BLMPOP COUNT takes up to its count; what is left goes to the next waiter.
    let mut big = block(
        &s,
        &mut c,
        &["BLMPOP", "0", "1", "p", "RIGHT", "COUNT", "10"],
        2,
    );
    assert_eq!(ok(&mut c, &["RPUSH", "q", "4", "5"]), vi(2));
    assert_eq!(w[3].reply(), one("4"));
    assert_eq!(w[4].reply(), one("5"));
    assert_eq!(ok(&mut c, &["RPUSH", "p", "a", "b", "c"]), vi(3));
    assert_eq!(
        big.reply(),
        format!(
            "*2\r\n$1\r\np\r\n*3\r\n{}{}{}",
            bulk("c"),
            bulk("b"),
            bulk("a")
        )
    );
    wait_blocked(&mut c, 0);
}

#[test]
fn timeouts_reply_null_and_honour_fractions() {
    let s = Server::start();
    let mut c = s.client();
    let mut r = Raw::new(&s);
    for (args, want) in [
        (&["BLPOP", "a", "b", "0.1"][..], "*-1\r\n"),
        (&["BRPOP", "a", "0.05"], "*-1\r\n"),
        (&["BLMPOP", "0.1", "2", "a", "b", "LEFT"], "*-1\r\n"),
        // Redis answers a timed-out BLMOVE/BRPOPLPUSH with a null array too.
        (&["BLMOVE", "a", "b", "LEFT", "RIGHT", "0.1"], "*-1\r\n"),
        (&["BRPOPLPUSH", "a", "b", "0.1"], "*-1\r\n"),
        (&["BLPOP", "a", "0.001"], "*-1\r\n"),
    ] {
        let start = Instant::now();
        assert_eq!(r.call(args), want, "{args:?}");
        let took = start.elapsed();
        assert!(took < Duration::from_secs(2), "{args:?} took {took:?}");
        if args.last() == Some(&"0.1") {
            assert!(took >= Duration::from_millis(95), "{args:?} took {took:?}");
        }
    }
    wait_blocked(&mut c, 0);
    assert_eq!(ok(&mut c, &["DBSIZE"]), vi(0));
    // RESP3: null.
    assert!(r.call(&["HELLO", "3"]).len() > 10);
    assert_eq!(r.call(&["BLPOP", "a", "0.05"]), "_\r\n");
    assert_eq!(
        r.call(&["BLMOVE", "a", "b", "LEFT", "LEFT", "0.05"]),
        "_\r\n"
    );
    // A long timeout is a deadline, not a wait for the first push: served before it.
    let mut w = block(&s, &mut c, &["BLPOP", "a", "100"], 0);
    assert_eq!(
        info_field(&mut c, "clients", "clients_in_timeout_table").as_deref(),
        Some("1")
    );
    ok(&mut c, &["RPUSH", "a", "x"]);
    assert_eq!(w.reply(), kv("a", "x"));
}

#[test]
fn zero_timeout_waits_until_served() {
    let s = Server::start();
    let mut c = s.client();
    let mut w = block(&s, &mut c, &["BRPOP", "k", "0"], 0);
    assert!(silent(&mut w, 1200));
    assert_eq!(blocked(&mut c), 1);
    ok(&mut c, &["RPUSH", "k", "x", "y"]);
    assert_eq!(w.reply(), kv("k", "y"));
}

#[test]
fn errors_match_redis() {
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["SET", "s", "x"]);
    let neg = "ERR timeout is negative";
    let nf = "ERR timeout is not a float or out of range";
    assert_eq!(err(&mut c, &["BLPOP", "k", "-1"]), neg);
    assert_eq!(err(&mut c, &["BLPOP", "k", "inf"]), neg);
    assert_eq!(err(&mut c, &["BLPOP", "k", "1e20"]), neg);
    assert_eq!(err(&mut c, &["BRPOP", "k", "abc"]), nf);
    assert_eq!(err(&mut c, &["BRPOP", "k", "nan"]), nf);
    assert_eq!(err(&mut c, &["BRPOP", "k", " 1"]), nf);
    assert_eq!(err(&mut c, &["BRPOPLPUSH", "k", "d", "-0.5"]), neg);
    assert_eq!(
        err(&mut c, &["BLMOVE", "k", "d", "UP", "LEFT", "x"]),
        "ERR syntax error"
    );
    assert_eq!(err(&mut c, &["BLMOVE", "k", "d", "LEFT", "LEFT", "x"]), nf);
    assert_eq!(
        err(&mut c, &["BLMPOP", "x", "0", "k", "LEFT"]),
        "ERR numkeys should be greater than 0"
    );
    assert_eq!(
        err(&mut c, &["BLMPOP", "x", "1", "k", "UP"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["BLMPOP", "0", "1", "k", "LEFT", "COUNT", "0"]),
        "ERR count should be greater than 0"
    );
    assert_eq!(err(&mut c, &["BLMPOP", "x", "1", "k", "LEFT"]), nf);
    for (name, args) in [
        ("blpop", &["BLPOP", "k"][..]),
        ("brpop", &["BRPOP"]),
        ("blmove", &["BLMOVE", "a", "b", "LEFT", "LEFT"]),
        ("brpoplpush", &["BRPOPLPUSH", "a", "b"]),
        ("blmpop", &["BLMPOP", "0", "1", "k"]),
    ] {
        assert_eq!(
            err(&mut c, args),
            format!("ERR wrong number of arguments for '{name}' command")
        );
    }
    // Types are checked key by key: an absent key first, then a string.
    let mut r = Raw::new(&s);
    assert_eq!(r.call(&["BLPOP", "none", "s", "0"]), WRONGTYPE);
    assert_eq!(
        r.call(&["BLMPOP", "0", "2", "none", "s", "LEFT"]),
        WRONGTYPE
    );
    assert_eq!(r.call(&["BRPOPLPUSH", "s", "d", "0"]), WRONGTYPE);
    // An error reply never blocks.
    assert_eq!(blocked(&mut c), 0);
    // A string created on a key waited on does not wake the waiter (Redis signals lists only).
    let mut w = block(&s, &mut c, &["BLPOP", "t", "0"], 0);
    ok(&mut c, &["SET", "t", "x"]);
    assert!(silent(&mut w, 100));
    ok(&mut c, &["DEL", "t"]);
    ok(&mut c, &["LPUSH", "t", "y"]);
    assert_eq!(w.reply(), kv("t", "y"));
}

#[test]
fn first_non_empty_key_in_command_order_wins() {
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["RPUSH", "b", "1", "2"]);
    ok(&mut c, &["RPUSH", "c", "3"]);
    let mut r = Raw::new(&s);
    assert_eq!(r.call(&["BLPOP", "a", "c", "b", "0"]), kv("c", "3"));
    assert_eq!(r.call(&["BRPOP", "a", "b", "c", "0"]), kv("b", "2"));
    assert_eq!(
        r.call(&["BLMPOP", "0", "3", "x", "a", "b", "RIGHT", "COUNT", "5"]),
        format!("*2\r\n$1\r\nb\r\n*1\r\n{}", bulk("1"))
    );
    // Waiting on several keys: whichever gets an element serves it; the same key twice is one wait.
    let mut w = block(&s, &mut c, &["BLPOP", "k1", "k2", "k2", "k1", "0"], 0);
    assert_eq!(
        info_field(&mut c, "clients", "total_blocking_keys").as_deref(),
        Some("2")
    );
    ok(&mut c, &["RPUSH", "k2", "x"]);
    assert_eq!(w.reply(), kv("k2", "x"));
    wait_blocked(&mut c, 0);
    assert_eq!(
        info_field(&mut c, "clients", "total_blocking_keys").as_deref(),
        Some("0")
    );
    // A list renamed into place serves waiters too.
    let mut w = block(&s, &mut c, &["BRPOP", "dest", "0"], 0);
    ok(&mut c, &["RPUSH", "src", "a", "b"]);
    ok(&mut c, &["RENAME", "src", "dest"]);
    assert_eq!(w.reply(), kv("dest", "b"));
}

#[test]
fn blmove_delivers_to_its_destination_and_wakes_its_waiters() {
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["RPUSH", "dst", "old"]);
    let mut m = block(
        &s,
        &mut c,
        &["BLMOVE", "src", "dst", "RIGHT", "LEFT", "0"],
        0,
    );
    ok(&mut c, &["RPUSH", "src", "a", "b"]);
    assert_eq!(m.reply(), bulk("b"));
    assert_eq!(
        ok(&mut c, &["LRANGE", "dst", "0", "-1"]),
        Value::Array(vec![vb("b"), vb("old")])
    );
    assert_eq!(
        ok(&mut c, &["LRANGE", "src", "0", "-1"]),
        Value::Array(vec![vb("a")])
    );
    // Chained: a BLPOP on the destination of a blocked BRPOPLPUSH gets the moved element.
    ok(&mut c, &["DEL", "src", "dst"]);
    let mut pop = block(&s, &mut c, &["BLPOP", "dst", "0"], 0);
    let mut mv = block(&s, &mut c, &["BRPOPLPUSH", "src", "dst", "0"], 1);
    ok(&mut c, &["LPUSH", "src", "x"]);
    assert_eq!(mv.reply(), bulk("x"));
    assert_eq!(pop.reply(), kv("dst", "x"));
    wait_blocked(&mut c, 0);
    assert_eq!(ok(&mut c, &["EXISTS", "src", "dst"]), vi(0));
    // A destination of the wrong type answers WRONGTYPE once there is something to move, and moves nothing.
    ok(&mut c, &["SET", "str", "x"]);
    let mut bad = block(&s, &mut c, &["BRPOPLPUSH", "src", "str", "0"], 0);
    let mut good = block(
        &s,
        &mut c,
        &["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"],
        1,
    );
    ok(&mut c, &["RPUSH", "src", "e"]);
    assert_eq!(bad.reply(), WRONGTYPE);
    assert_eq!(good.reply(), bulk("e"));
    assert_eq!(
        ok(&mut c, &["LRANGE", "dst", "0", "-1"]),
        Value::Array(vec![vb("e")])
    );
    // Self-referential: the element goes round and stays.
    let mut selfref = block(&s, &mut c, &["BRPOPLPUSH", "ring", "ring", "0"], 0);
    ok(&mut c, &["RPUSH", "ring", "r"]);
    assert_eq!(selfref.reply(), bulk("r"));
    assert_eq!(
        ok(&mut c, &["LRANGE", "ring", "0", "-1"]),
        Value::Array(vec![vb("r")])
    );
}

#[test]
fn a_disconnected_waiter_takes_nothing() {
    let s = Server::start();
    let mut c = s.client();
    let w = block(&s, &mut c, &["BLPOP", "k", "0"], 0);
    let mut later = block(&s, &mut c, &["BLPOP", "k", "0"], 1);
    drop(w);
    wait_blocked(&mut c, 1);
    ok(&mut c, &["RPUSH", "k", "v"]);
    assert_eq!(later.reply(), kv("k", "v"));
    let gone = block(&s, &mut c, &["BLPOP", "k", "0"], 0);
    drop(gone);
    wait_blocked(&mut c, 0);
    ok(&mut c, &["RPUSH", "k", "kept"]);
    assert_eq!(
        ok(&mut c, &["LRANGE", "k", "0", "-1"]),
        Value::Array(vec![vb("kept")])
    );
    // CLIENT KILL ends a blocked client as well.
    let mut w = Raw::new(&s);
    let id = client_id(&mut w);
    ok(&mut c, &["DEL", "k"]);
    w.send(&["BLPOP", "k", "0"]);
    wait_blocked(&mut c, 1);
    assert_eq!(
        ok(&mut c, &["CLIENT", "KILL", "ID", &id.to_string()]),
        vi(1)
    );
    assert!(w.closed());
    wait_blocked(&mut c, 0);
}

#[test]
fn client_unblock_and_introspection() {
    let s = Server::start();
    let mut c = s.client();
    let mut w = Raw::new(&s);
    let id = client_id(&mut w).to_string();
    w.send(&["BLPOP", "l", "0"]);
    wait_blocked(&mut c, 1);
    let Value::BulkString(list) = ok(&mut c, &["CLIENT", "LIST", "ID", &id]) else {
        panic!("CLIENT LIST")
    };
    let line = String::from_utf8(list).unwrap();
    assert!(line.contains(" flags=b "), "{line}");
    assert!(line.contains(" cmd=blpop "), "{line}");
    assert!(line.contains(" qbuf=0 "), "{line}");
    assert_eq!(ok(&mut c, &["CLIENT", "UNBLOCK", &id]), vi(1));
    assert_eq!(w.reply(), "*-1\r\n");
    w.send(&["BLMPOP", "0", "1", "l", "RIGHT", "COUNT", "1"]);
    wait_blocked(&mut c, 1);
    assert_eq!(ok(&mut c, &["CLIENT", "UNBLOCK", &id, "timeout"]), vi(1));
    assert_eq!(w.reply(), "*-1\r\n");
    w.send(&["BLMOVE", "l", "m", "LEFT", "LEFT", "0"]);
    wait_blocked(&mut c, 1);
    assert_eq!(ok(&mut c, &["CLIENT", "UNBLOCK", &id, "ERROR"]), vi(1));
    assert_eq!(
        w.reply(),
        "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    );
    assert_eq!(
        info_field(&mut c, "errorstats", "errorstat_UNBLOCKED").as_deref(),
        Some("count=1")
    );
    // Not blocked (any more), unknown, or not a number.
    assert_eq!(ok(&mut c, &["CLIENT", "UNBLOCK", &id]), vi(0));
    assert_eq!(ok(&mut c, &["CLIENT", "UNBLOCK", "999999"]), vi(0));
    assert_eq!(ok(&mut c, &["CLIENT", "UNBLOCK", "-1"]), vi(0));
    assert_eq!(
        err(&mut c, &["CLIENT", "UNBLOCK", "abc"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(&mut c, &["CLIENT", "UNBLOCK", "abc", "soon"]),
        "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"
    );
    assert_eq!(
        err(&mut c, &["CLIENT", "UNBLOCK", &id, "timeout", "x"]),
        "ERR unknown subcommand or wrong number of arguments for 'UNBLOCK'. Try CLIENT HELP."
    );
    assert_eq!(
        err(&mut c, &["CLIENT", "UNBLOCK"]),
        "ERR wrong number of arguments for 'client|unblock' command"
    );
    // The client still works, and its line is back to normal.
    w.send(&["BLPOP", "l", "0"]);
    wait_blocked(&mut c, 1);
    ok(&mut c, &["LPUSH", "l", "foo"]);
    assert_eq!(w.reply(), kv("l", "foo"));
    let Value::BulkString(list) = ok(&mut c, &["CLIENT", "LIST", "ID", &id]) else {
        panic!("CLIENT LIST")
    };
    assert!(String::from_utf8(list).unwrap().contains(" flags=N "));
    // Counted once per command, when answered.
    let stat = info_field(&mut c, "commandstats", "cmdstat_blpop").unwrap();
    assert!(stat.starts_with("calls=2,"), "{stat}");
}

#[test]
fn info_counts_blocked_clients_and_keys() {
    let s = Server::start();
    let mut c = s.client();
    let field = |c: &mut redis::Connection, f: &str| info_field(c, "clients", f).unwrap();
    assert_eq!(field(&mut c, "blocked_clients"), "0");
    assert_eq!(field(&mut c, "total_blocking_keys"), "0");
    let _a = block(&s, &mut c, &["BLPOP", "x", "y", "0"], 0);
    let _b = block(&s, &mut c, &["BRPOP", "y", "z", "5"], 1);
    let _d = block(
        &s,
        &mut c,
        &["BLMOVE", "z", "other", "LEFT", "LEFT", "0"],
        2,
    );
    assert_eq!(field(&mut c, "blocked_clients"), "3");
    assert_eq!(field(&mut c, "total_blocking_keys"), "3");
    assert_eq!(field(&mut c, "clients_in_timeout_table"), "1");
    assert_eq!(field(&mut c, "total_blocking_keys_on_nokey"), "0");
}

#[test]
fn commands_behind_a_blocked_one_wait_for_it() {
    let s = Server::start();
    let mut c = s.client();
    let mut r = Raw::new(&s);
    // Replies before the blocked command go out at once; those after it wait, in order.
    r.send(&["PING"]);
    r.send(&["BLPOP", "k", "0"]);
    r.send(&["SET", "after", "1"]);
    r.send(&["GET", "after"]);
    assert_eq!(r.reply(), "+PONG\r\n");
    wait_blocked(&mut c, 1);
    assert!(silent(&mut r, 100));
    assert_eq!(ok(&mut c, &["EXISTS", "after"]), vi(0));
    ok(&mut c, &["RPUSH", "k", "v"]);
    assert_eq!(r.reply(), kv("k", "v"));
    assert_eq!(r.reply(), "+OK\r\n");
    assert_eq!(r.reply(), "$1\r\n1\r\n");
    // A pipeline whose push comes before the pop in the same batch never blocks.
    r.send(&["RPUSH", "p", "x"]);
    r.send(&["BLPOP", "p", "0"]);
    assert_eq!(r.reply(), ":1\r\n");
    assert_eq!(r.reply(), kv("p", "x"));
    // Commands sent while blocked are queued and run after the wait.
    r.send(&["BLPOP", "k", "0"]);
    wait_blocked(&mut c, 1);
    r.send(&["INCR", "n"]);
    assert!(silent(&mut r, 100));
    assert_eq!(ok(&mut c, &["EXISTS", "n"]), vi(0));
    ok(&mut c, &["RPUSH", "k", "w"]);
    assert_eq!(r.reply(), kv("k", "w"));
    assert_eq!(r.reply(), ":1\r\n");
}

#[test]
fn three_replicas_only_the_leader_serves_blocked_clients() {
    let procs = start_shard(3, &[]);
    let leader = wait_leader(&procs, Duration::from_secs(20));
    let follower = (leader + 1) % 3;
    let mut lc = procs[leader].wait_ready(Duration::from_secs(10));
    let mut fc = procs[follower].wait_ready(Duration::from_secs(10));
    // A follower refuses like any write, at once, and nothing waits there (until it has heard from the leader
    // it answers TRYAGAIN, as a write would).
    let mut fw = raw_at(procs[follower].port);
    let deadline = Instant::now() + Duration::from_secs(10);
    let reply = loop {
        let reply = fw.call(&["BLPOP", "q", "0"]);
        if !reply.starts_with("-TRYAGAIN") || Instant::now() > deadline {
            break reply;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        reply,
        "-READONLY You can't write against a read only replica.\r\n"
    );
    assert_eq!(blocked(&mut fc), 0);
    // The leader parks its client and serves it from a later push.
    let mut lw = raw_at(procs[leader].port);
    lw.send(&["BLPOP", "q", "0"]);
    wait_blocked(&mut lc, 1);
    let mut mv = raw_at(procs[leader].port);
    mv.send(&["BLMOVE", "src", "q", "LEFT", "RIGHT", "0"]);
    wait_blocked(&mut lc, 2);
    assert_eq!(ok(&mut lc, &["RPUSH", "src", "e"]), vi(1));
    assert_eq!(mv.reply(), bulk("e"));
    assert_eq!(lw.reply(), kv("q", "e"));
    wait_blocked(&mut lc, 0);
    // Every replica applies the same pops.
    for p in &procs {
        let mut c = p.wait_ready(Duration::from_secs(5));
        let deadline = Instant::now() + Duration::from_secs(5);
        while ok(&mut c, &["EXISTS", "src", "q"]) != vi(0) {
            assert!(Instant::now() < deadline, "replica {} kept the list", p.id);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    // A waiter of a leader that loses its leadership gets the reply a write gets there, not a lost element.
    let mut lw = raw_at(procs[leader].port);
    lw.send(&["BLPOP", "gone", "0"]);
    wait_blocked(&mut lc, 1);
    let pid = procs[leader].pid().expect("leader pid");
    signal(pid, "STOP");
    let others: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    let new_leader = loop {
        if let Some(&i) = others
            .iter()
            .find(|&&i| procs[i].role().as_deref() == Some("master"))
        {
            break i;
        }
        assert!(Instant::now() < deadline, "no new leader");
        std::thread::sleep(Duration::from_millis(20));
    };
    signal(pid, "CONT");
    let reply = lw.reply();
    assert!(
        reply.starts_with("-READONLY") || reply.starts_with("-TRYAGAIN"),
        "{reply}"
    );
    wait_blocked(&mut lc, 0);
    let mut nc = procs[new_leader].wait_ready(Duration::from_secs(5));
    ok(&mut nc, &["RPUSH", "gone", "kept"]);
    assert_eq!(ok(&mut nc, &["LLEN", "gone"]), vi(1));
}

fn signal(pid: u32, sig: &str) {
    let ok = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "kill -{sig} {pid}");
}

#[test]
fn blocking_works_after_a_restart_from_a_snapshot() {
    // The restored keyspace replaces the empty one: it must still tell the node when keys become ready.
    let port = common::procs::free_port_pair();
    let mut p = common::procs::Proc::spawn(0, port, &[]);
    let mut c = p.wait_ready(Duration::from_secs(10));
    ok(&mut c, &["RPUSH", "before", "x"]);
    ok(&mut c, &["SAVE"]);
    p.kill9();
    p.start();
    let mut c = p.wait_ready(Duration::from_secs(10));
    assert_eq!(ok(&mut c, &["LLEN", "before"]), vi(1));
    let mut w = raw_at(port);
    w.send(&["BLPOP", "after", "0"]);
    wait_blocked(&mut c, 1);
    ok(&mut c, &["RPUSH", "after", "y"]);
    assert_eq!(w.reply(), kv("after", "y"));
}

#[test]
fn concurrent_waiters_and_pushers_lose_and_duplicate_nothing() {
    // Waiters pop from `q` or move from `q` to `m` (whose own waiters pop it); pushers add unique elements. Every
    // element must reach exactly one client.
    let s = Server::start();
    let url = s.url();
    const PUSHERS: usize = 3;
    const PER_PUSHER: usize = 300;
    const TOTAL: usize = PUSHERS * PER_PUSHER;
    let popped = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut waiters = Vec::new();
    for w in 0..8 {
        let (url, popped) = (url.clone(), popped.clone());
        waiters.push(std::thread::spawn(move || {
            let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
            loop {
                if popped.lock().unwrap().len() >= TOTAL {
                    return;
                }
                let got: Option<String> = match w % 4 {
                    0 => {
                        // A moved element is still on its way: to a waiter on `m`.
                        let _: Option<String> = redis::cmd("BLMOVE")
                            .arg("q")
                            .arg("m")
                            .arg("LEFT")
                            .arg("RIGHT")
                            .arg("0.2")
                            .query(&mut c)
                            .unwrap();
                        None
                    }
                    1 => redis::cmd("BLPOP")
                        .arg("m")
                        .arg("0.2")
                        .query::<Option<(String, String)>>(&mut c)
                        .unwrap()
                        .map(|(_, v)| v),
                    2 => redis::cmd("BLMPOP")
                        .arg("0.2")
                        .arg(2)
                        .arg("m")
                        .arg("q")
                        .arg("RIGHT")
                        .arg("COUNT")
                        .arg(1)
                        .query::<Option<(String, Vec<String>)>>(&mut c)
                        .unwrap()
                        .map(|(_, mut v)| v.remove(0)),
                    _ => redis::cmd("BRPOP")
                        .arg("q")
                        .arg("m")
                        .arg("0.2")
                        .query::<Option<(String, String)>>(&mut c)
                        .unwrap()
                        .map(|(_, v)| v),
                };
                if let Some(v) = got {
                    popped.lock().unwrap().push(v);
                }
            }
        }));
    }
    let pushers: Vec<_> = (0..PUSHERS)
        .map(|p| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
                for i in 0..PER_PUSHER {
                    let key = if i % 3 == 0 { "m" } else { "q" };
                    let _: i64 = redis::cmd("RPUSH")
                        .arg(key)
                        .arg(format!("{p}:{i}"))
                        .query(&mut c)
                        .unwrap();
                }
            })
        })
        .collect();
    for p in pushers {
        p.join().unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while popped.lock().unwrap().len() < TOTAL {
        assert!(
            Instant::now() < deadline,
            "only {} of {TOTAL} popped",
            popped.lock().unwrap().len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    for w in waiters {
        w.join().unwrap();
    }
    let mut got = popped.lock().unwrap().clone();
    got.sort();
    let mut want: Vec<String> = (0..PUSHERS)
        .flat_map(|p| (0..PER_PUSHER).map(move |i| format!("{p}:{i}")))
        .collect();
    want.sort();
    assert_eq!(got, want);
    let mut c = s.client();
    assert_eq!(ok(&mut c, &["EXISTS", "q", "m"]), vi(0));
}
