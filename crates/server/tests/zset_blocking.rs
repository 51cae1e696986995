//! Blocking sorted-set pops (BZPOPMIN, BZPOPMAX, BZMPOP) through the real binary, with replies checked against
//! Redis 7.0.15.

mod common;
mod raw;

use std::time::{Duration, Instant};

use common::{err, info_field, ok, vi, Server};
use raw::Raw;

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

/// A bulk string as RESP text.
fn bulk(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

/// BZPOPMIN/BZPOPMAX's RESP2 reply `[key, member, score]`.
fn kms(key: &str, member: &str, score: &str) -> String {
    format!("*3\r\n{}{}{}", bulk(key), bulk(member), bulk(score))
}

/// BZMPOP's RESP2 reply `[key, [[member, score], ...]]`.
fn mpop(key: &str, items: &[(&str, &str)]) -> String {
    let mut s = format!("*2\r\n{}*{}\r\n", bulk(key), items.len());
    for (m, sc) in items {
        s.push_str(&format!("*2\r\n{}{}", bulk(m), bulk(sc)));
    }
    s
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

#[test]
fn zadd_from_another_connection_serves_waiters_in_arrival_order() {
    let s = Server::start();
    let mut c = s.client();
    let mut w: Vec<Raw> = (0..3)
        .map(|i| block(&s, &mut c, &["BZPOPMIN", "z", "0"], i))
        .collect();
    assert_eq!(ok(&mut c, &["ZADD", "z", "1.5", "a"]), vi(1));
    assert_eq!(w[0].reply(), kms("z", "a", "1.5"));
    wait_blocked(&mut c, 2);
    // One ZADD of several members serves several waiters, oldest first, lowest score first.
    assert_eq!(
        ok(&mut c, &["ZADD", "z", "3", "c", "2", "b", "4", "d"]),
        vi(3)
    );
    assert_eq!(w[1].reply(), kms("z", "b", "2"));
    assert_eq!(w[2].reply(), kms("z", "c", "3"));
    wait_blocked(&mut c, 0);
    assert_eq!(ok(&mut c, &["ZCARD", "z"]), vi(1));
    // BZPOPMAX takes the highest score; a later waiter waits for the next member.
    let mut first = block(&s, &mut c, &["BZPOPMAX", "y", "0"], 0);
    let mut second = block(&s, &mut c, &["BZPOPMAX", "y", "0"], 1);
    assert_eq!(ok(&mut c, &["ZADD", "y", "1", "lo", "9", "hi"]), vi(2));
    assert_eq!(first.reply(), kms("y", "hi", "9"));
    assert_eq!(second.reply(), kms("y", "lo", "1"));
    wait_blocked(&mut c, 0);
    assert_eq!(ok(&mut c, &["EXISTS", "y"]), vi(0));
}

#[test]
fn other_writes_that_add_members_wake_waiters() {
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["ZADD", "src", "1", "a", "2", "b"]);
    let mut w = block(&s, &mut c, &["BZPOPMIN", "u", "0"], 0);
    assert_eq!(ok(&mut c, &["ZUNIONSTORE", "u", "1", "src"]), vi(2));
    assert_eq!(w.reply(), kms("u", "a", "1"));
    let mut w = block(&s, &mut c, &["BZPOPMAX", "i", "0"], 0);
    assert_eq!(
        ok(&mut c, &["ZINCRBY", "i", "5", "m"]),
        redis::Value::BulkString(b"5".to_vec())
    );
    assert_eq!(w.reply(), kms("i", "m", "5"));
    let mut w = block(
        &s,
        &mut c,
        &["BZMPOP", "0", "1", "r", "MIN", "COUNT", "5"],
        0,
    );
    assert_eq!(ok(&mut c, &["ZRANGESTORE", "r", "src", "0", "-1"]), vi(2));
    assert_eq!(w.reply(), mpop("r", &[("a", "1"), ("b", "2")]));
    let mut w = block(&s, &mut c, &["BZPOPMIN", "n", "0"], 0);
    ok(&mut c, &["RENAME", "src", "n"]);
    assert_eq!(w.reply(), kms("n", "a", "1"));
    let mut w = block(&s, &mut c, &["BZPOPMIN", "cp", "0"], 0);
    assert_eq!(ok(&mut c, &["COPY", "n", "cp"]), vi(1));
    assert_eq!(w.reply(), kms("cp", "b", "2"));
    wait_blocked(&mut c, 0);
}

#[test]
fn bzmpop_count_min_max_and_leftovers() {
    let s = Server::start();
    let mut c = s.client();
    let mut big = block(
        &s,
        &mut c,
        &["BZMPOP", "0", "1", "z", "MAX", "COUNT", "2"],
        0,
    );
    let mut small = block(&s, &mut c, &["BZMPOP", "0", "1", "z", "MIN"], 1);
    ok(
        &mut c,
        &["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"],
    );
    assert_eq!(big.reply(), mpop("z", &[("d", "4"), ("c", "3")]));
    assert_eq!(small.reply(), mpop("z", &[("a", "1")]));
    wait_blocked(&mut c, 0);
    // Served at once when there is something; COUNT larger than the set takes all.
    let mut r = Raw::new(&s);
    assert_eq!(
        r.call(&["BZMPOP", "0", "2", "none", "z", "MIN", "COUNT", "10"]),
        mpop("z", &[("b", "2")])
    );
    assert_eq!(ok(&mut c, &["EXISTS", "z"]), vi(0));
}

#[test]
fn a_waiter_on_several_keys() {
    let s = Server::start();
    let mut c = s.client();
    let mut w = block(&s, &mut c, &["BZPOPMIN", "k1", "k2", "k3", "0"], 0);
    let mut m = block(&s, &mut c, &["BZMPOP", "0", "2", "k3", "k2", "MAX"], 1);
    ok(&mut c, &["ZADD", "k2", "7", "x", "8", "y"]);
    assert_eq!(w.reply(), kms("k2", "x", "7"));
    assert_eq!(m.reply(), mpop("k2", &[("y", "8")]));
    wait_blocked(&mut c, 0);
    // Keys are tried in the command's order when several hold members.
    ok(&mut c, &["ZADD", "k3", "1", "p"]);
    ok(&mut c, &["ZADD", "k1", "2", "q"]);
    let mut r = Raw::new(&s);
    assert_eq!(r.call(&["BZPOPMIN", "k3", "k1", "0"]), kms("k3", "p", "1"));
    assert_eq!(r.call(&["BZPOPMAX", "k2", "k1", "0"]), kms("k1", "q", "2"));
}

#[test]
fn timeouts_reply_null_arrays() {
    let s = Server::start();
    let mut c = s.client();
    let mut r = Raw::new(&s);
    for args in [
        &["BZPOPMIN", "a", "b", "0.1"][..],
        &["BZPOPMAX", "a", "0.1"],
        &["BZMPOP", "0.1", "2", "a", "b", "MIN", "COUNT", "3"],
    ] {
        let start = Instant::now();
        assert_eq!(r.call(args), "*-1\r\n", "{args:?}");
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(95) && took < Duration::from_secs(2),
            "{args:?} took {took:?}"
        );
    }
    wait_blocked(&mut c, 0);
    assert_eq!(ok(&mut c, &["DBSIZE"]), vi(0));
    // RESP3: a null on timeout, the score as a double when served.
    assert!(r.call(&["HELLO", "3"]).len() > 10);
    assert_eq!(r.call(&["BZPOPMIN", "a", "0.05"]), "_\r\n");
    assert_eq!(r.call(&["BZMPOP", "0.05", "1", "a", "MAX"]), "_\r\n");
    ok(&mut c, &["ZADD", "a", "1.5", "m", "2", "n", "3", "o"]);
    assert_eq!(
        r.call(&["BZPOPMIN", "a", "0"]),
        "*3\r\n$1\r\na\r\n$1\r\nm\r\n,1.5\r\n"
    );
    assert_eq!(
        r.call(&["BZMPOP", "0", "1", "a", "MAX", "COUNT", "2"]),
        "*2\r\n$1\r\na\r\n*2\r\n*2\r\n$1\r\no\r\n,3\r\n*2\r\n$1\r\nn\r\n,2\r\n"
    );
}

#[test]
fn errors_match_redis() {
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["SET", "str", "x"]);
    ok(&mut c, &["RPUSH", "list", "x"]);
    let mut r = Raw::new(&s);
    // A key of another type is an error at once, even with a timeout, even if a later key holds members.
    ok(&mut c, &["ZADD", "z", "1", "a"]);
    assert_eq!(r.call(&["BZPOPMIN", "str", "0"]), WRONGTYPE);
    assert_eq!(r.call(&["BZPOPMAX", "none", "list", "z", "1"]), WRONGTYPE);
    assert_eq!(r.call(&["BZMPOP", "0", "2", "list", "z", "MIN"]), WRONGTYPE);
    assert_eq!(ok(&mut c, &["ZCARD", "z"]), vi(1));
    for (args, want) in [
        (
            &["BZPOPMIN", "z"][..],
            "ERR wrong number of arguments for 'bzpopmin' command",
        ),
        (
            &["BZPOPMAX", "z"],
            "ERR wrong number of arguments for 'bzpopmax' command",
        ),
        (
            &["BZMPOP", "0", "1", "z"],
            "ERR wrong number of arguments for 'bzmpop' command",
        ),
        (&["BZPOPMIN", "z", "-1"], "ERR timeout is negative"),
        (
            &["BZPOPMAX", "z", "abc"],
            "ERR timeout is not a float or out of range",
        ),
        (&["BZPOPMIN", "z", "inf"], "ERR timeout is negative"),
        (
            &["BZMPOP", "abc", "0", "z", "MIN"],
            "ERR numkeys should be greater than 0",
        ),
        (
            &["BZMPOP", "abc", "x", "z", "MIN"],
            "ERR numkeys should be greater than 0",
        ),
        (&["BZMPOP", "abc", "2", "z", "MIN"], "ERR syntax error"),
        (&["BZMPOP", "abc", "1", "z", "UP"], "ERR syntax error"),
        (
            &["BZMPOP", "abc", "1", "z", "MIN", "COUNT", "0"],
            "ERR count should be greater than 0",
        ),
        (
            &["BZMPOP", "abc", "1", "z", "MIN", "COUNT", "1", "COUNT", "1"],
            "ERR syntax error",
        ),
        (
            &["BZMPOP", "abc", "1", "z", "MIN"],
            "ERR timeout is not a float or out of range",
        ),
        (
            &["BZMPOP", "-1", "1", "z", "MIN"],
            "ERR timeout is negative",
        ),
    ] {
        assert_eq!(err(&mut c, args), want, "{args:?}");
    }
    assert_eq!(blocked(&mut c), 0);
    assert_eq!(ok(&mut c, &["ZCARD", "z"]), vi(1));
}
