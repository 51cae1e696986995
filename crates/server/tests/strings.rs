//! String commands through the real binary, with replies checked against Redis 7.0.15.

mod common;
mod raw;

use common::{cmd, cmd_bytes, err, ok, unix_ms, vb, vi, Server};
use raw::{int, Raw};
use redis::Value;

const SYNTAX: &str = "ERR syntax error";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const NOT_FLOAT: &str = "ERR value is not a valid float";
const TOO_BIG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

fn arity(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

fn ttl(c: &mut redis::Connection, key: &str) -> i64 {
    int(&ok(c, &["TTL", key]))
}

fn pttl(c: &mut redis::Connection, key: &str) -> i64 {
    int(&ok(c, &["PTTL", key]))
}

#[test]
fn set_nx_xx_get() {
    let s = Server::start();
    let mut c = s.client();
    assert_eq!(ok(&mut c, &["SET", "k", "v"]), Value::Okay);
    assert_eq!(ok(&mut c, &["GET", "k"]), vb("v"));
    assert_eq!(ok(&mut c, &["SET", "k", "v2", "NX"]), Value::Nil);
    assert_eq!(ok(&mut c, &["GET", "k"]), vb("v"));
    assert_eq!(ok(&mut c, &["SET", "new", "v", "XX"]), Value::Nil);
    assert_eq!(ok(&mut c, &["EXISTS", "new"]), vi(0));
    assert_eq!(ok(&mut c, &["SET", "k", "v2", "xx"]), Value::Okay);
    assert_eq!(ok(&mut c, &["SET", "new", "n", "nx"]), Value::Okay);
    assert_eq!(ok(&mut c, &["GET", "new"]), vb("n"));
    // GET returns the old value (nil when absent), and combines with NX/XX since 7.0.
    assert_eq!(ok(&mut c, &["SET", "k", "v3", "GET"]), vb("v2"));
    assert_eq!(ok(&mut c, &["SET", "absent", "a", "GET"]), Value::Nil);
    assert_eq!(ok(&mut c, &["GET", "absent"]), vb("a"));
    assert_eq!(ok(&mut c, &["SET", "k", "v4", "NX", "GET"]), vb("v3"));
    assert_eq!(ok(&mut c, &["GET", "k"]), vb("v3"));
    assert_eq!(ok(&mut c, &["SET", "k2", "v", "XX", "GET"]), Value::Nil);
    assert_eq!(ok(&mut c, &["EXISTS", "k2"]), vi(0));
    // Repeating an option is accepted.
    assert_eq!(ok(&mut c, &["SET", "k", "v", "get", "get"]), vb("v3"));
    assert_eq!(ok(&mut c, &["SET", "k", "v", "nx", "nx"]), Value::Nil);
    assert_eq!(
        ok(&mut c, &["SET", "k", "v", "EX", "10", "EX", "10"]),
        Value::Okay
    );
    // Binary-safe keys and values.
    let key: &[u8] = b"bin\0key\r\n";
    let val: &[u8] = b"\x00\xff\r\n$3\r\n";
    assert_eq!(cmd_bytes(&mut c, &[b"SET", key, val]).unwrap(), Value::Okay);
    assert_eq!(
        cmd_bytes(&mut c, &[b"GET", key]).unwrap(),
        Value::BulkString(val.to_vec())
    );
    assert_eq!(ok(&mut c, &["SET", "e", ""]), Value::Okay);
    assert_eq!(ok(&mut c, &["GET", "e"]), vb(""));
    assert_eq!(ok(&mut c, &["EXISTS", "e"]), vi(1));
}

#[test]
fn set_option_errors() {
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["SET", "k", "orig"]);
    let invalid = "ERR invalid expire time in 'set' command";
    for args in [
        &["SET", "k", "v", "EX", "0"][..],
        &["SET", "k", "v", "EX", "-1"],
        &["SET", "k", "v", "PX", "0"],
        &["SET", "k", "v", "EXAT", "0"],
        &["SET", "k", "v", "PXAT", "-5"],
        &["SET", "k", "v", "EX", "9223372036854775807"],
        &["SET", "k", "v", "PX", "9223372036854775807"],
        // Seconds that overflow once turned into milliseconds.
        &["SET", "k", "v", "EX", "92233720368547758"],
        &["SET", "k", "v", "EX", "9223372036854775"],
        &["SET", "k", "v", "EXAT", "9223372036854775807"],
    ] {
        assert_eq!(err(&mut c, args), invalid, "{args:?}");
    }
    assert_eq!(err(&mut c, &["SET", "k", "v", "EX", "abc"]), NOT_INT);
    assert_eq!(err(&mut c, &["SET", "k", "v", "PX", "1.5"]), NOT_INT);
    for args in [
        &["SET", "k", "v", "EX", "10", "PX", "10"][..],
        &["SET", "k", "v", "NX", "XX"],
        &["SET", "k", "v", "KEEPTTL", "EX", "10"],
        &["SET", "k", "v", "EX", "10", "KEEPTTL"],
        &["SET", "k", "v", "PX", "100", "KEEPTTL"],
        &["SET", "k", "v", "EXAT", "10", "PXAT", "10"],
        &["SET", "k", "v", "EX"],
        &["SET", "k", "v", "foo"],
        &["SET", "k", "v", "GET", "foo"],
    ] {
        assert_eq!(err(&mut c, args), SYNTAX, "{args:?}");
    }
    assert_eq!(err(&mut c, &["SET", "k"]), arity("set"));
    assert_eq!(err(&mut c, &["SET"]), arity("set"));
    // Nothing above changed the key.
    assert_eq!(ok(&mut c, &["GET", "k"]), vb("orig"));
    assert_eq!(ttl(&mut c, "k"), -1);
}

#[test]
fn set_expiry_options_and_keepttl() {
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["SET", "k", "v", "EX", "100"]);
    assert!((99..=100).contains(&ttl(&mut c, "k")));
    ok(&mut c, &["SET", "k", "v", "PX", "100000"]);
    assert!((99_000..=100_000).contains(&pttl(&mut c, "k")));
    let at = unix_ms() / 1000 + 200;
    ok(&mut c, &["SET", "k", "v", "EXAT", &at.to_string()]);
    assert!((198..=200).contains(&ttl(&mut c, "k")));
    assert_eq!(int(&ok(&mut c, &["EXPIRETIME", "k"])), at);
    let pat = unix_ms() + 300_000;
    ok(&mut c, &["SET", "k", "v", "PXAT", &pat.to_string()]);
    assert_eq!(int(&ok(&mut c, &["PEXPIRETIME", "k"])), pat);
    // A plain SET drops the TTL; KEEPTTL keeps it.
    ok(&mut c, &["SET", "k", "v"]);
    assert_eq!(ttl(&mut c, "k"), -1);
    ok(&mut c, &["SET", "k", "v", "EX", "100"]);
    assert_eq!(ok(&mut c, &["SET", "k", "v2", "KEEPTTL"]), Value::Okay);
    assert!((99..=100).contains(&ttl(&mut c, "k")));
    assert_eq!(ok(&mut c, &["SET", "k", "v3", "KEEPTTL", "GET"]), vb("v2"));
    assert!((99..=100).contains(&ttl(&mut c, "k")));
    assert_eq!(ok(&mut c, &["GET", "k"]), vb("v3"));
    // KEEPTTL on a key without TTL leaves it persistent.
    ok(&mut c, &["SET", "p", "v"]);
    ok(&mut c, &["SET", "p", "w", "KEEPTTL"]);
    assert_eq!(ttl(&mut c, "p"), -1);
    // A deadline already past (but valid) stores nothing and deletes the old value, still replying OK/GET.
    assert_eq!(ok(&mut c, &["SET", "k", "v", "EXAT", "1"]), Value::Okay);
    assert_eq!(ok(&mut c, &["EXISTS", "k"]), vi(0));
    ok(&mut c, &["SET", "k", "v"]);
    assert_eq!(ok(&mut c, &["SET", "k", "v2", "PXAT", "1", "GET"]), vb("v"));
    assert_eq!(ok(&mut c, &["EXISTS", "k"]), vi(0));
    // Far-future absolute deadlines that fit are accepted.
    assert_eq!(
        ok(&mut c, &["SET", "k", "v", "EXAT", "9223372036854775"]),
        Value::Okay
    );
    assert_eq!(
        ok(&mut c, &["SET", "k", "v", "PXAT", "9223372036854775"]),
        Value::Okay
    );
    assert_eq!(
        ok(&mut c, &["PSETEX", "k", "9223372036854775", "v"]),
        Value::Okay
    );
}

#[test]
fn get_getset_getdel() {
    let s = Server::start();
    let mut c = s.client();
    assert_eq!(ok(&mut c, &["GET", "nokey"]), Value::Nil);
    assert_eq!(err(&mut c, &["GET"]), arity("get"));
    assert_eq!(err(&mut c, &["GET", "a", "b"]), arity("get"));
    ok(&mut c, &["SET", "k", "v", "EX", "100"]);
    assert_eq!(ok(&mut c, &["GETSET", "k", "new"]), vb("v"));
    // GETSET is a SET: the TTL is gone.
    assert_eq!(ttl(&mut c, "k"), -1);
    assert_eq!(ok(&mut c, &["GETSET", "missing", "x"]), Value::Nil);
    assert_eq!(ok(&mut c, &["GET", "missing"]), vb("x"));
    assert_eq!(err(&mut c, &["GETSET", "k"]), arity("getset"));
    assert_eq!(ok(&mut c, &["GETDEL", "k"]), vb("new"));
    assert_eq!(ok(&mut c, &["GETDEL", "k"]), Value::Nil);
    assert_eq!(ok(&mut c, &["EXISTS", "k"]), vi(0));
    assert_eq!(err(&mut c, &["GETDEL"]), arity("getdel"));
    assert_eq!(err(&mut c, &["GETDEL", "a", "b"]), arity("getdel"));
}

#[test]
fn getex_options_and_errors() {
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["SET", "k", "v"]);
    assert_eq!(ok(&mut c, &["GETEX", "k"]), vb("v"));
    assert_eq!(ttl(&mut c, "k"), -1);
    assert_eq!(ok(&mut c, &["GETEX", "k", "EX", "100"]), vb("v"));
    assert!((99..=100).contains(&ttl(&mut c, "k")));
    // Without options the TTL is left alone.
    assert_eq!(ok(&mut c, &["GETEX", "k"]), vb("v"));
    assert!((99..=100).contains(&ttl(&mut c, "k")));
    assert_eq!(ok(&mut c, &["GETEX", "k", "PERSIST"]), vb("v"));
    assert_eq!(ttl(&mut c, "k"), -1);
    assert_eq!(ok(&mut c, &["GETEX", "k", "PX", "50000"]), vb("v"));
    assert!((49_000..=50_000).contains(&pttl(&mut c, "k")));
    let at = unix_ms() / 1000 + 500;
    assert_eq!(
        ok(&mut c, &["GETEX", "k", "EXAT", &at.to_string()]),
        vb("v")
    );
    assert_eq!(int(&ok(&mut c, &["EXPIRETIME", "k"])), at);
    let pat = unix_ms() + 600_000;
    assert_eq!(
        ok(&mut c, &["GETEX", "k", "PXAT", &pat.to_string()]),
        vb("v")
    );
    assert_eq!(int(&ok(&mut c, &["PEXPIRETIME", "k"])), pat);
    assert_eq!(ok(&mut c, &["GETEX", "nokey", "EX", "10"]), Value::Nil);
    assert_eq!(ok(&mut c, &["EXISTS", "nokey"]), vi(0));
    let invalid = "ERR invalid expire time in 'getex' command";
    for args in [
        &["GETEX", "k", "PX", "0"][..],
        &["GETEX", "k", "EX", "0"],
        &["GETEX", "k", "EX", "-1"],
        &["GETEX", "k", "EXAT", "0"],
        &["GETEX", "k", "EX", "9223372036854775807"],
        &["GETEX", "k", "PX", "9223372036854775807"],
    ] {
        assert_eq!(err(&mut c, args), invalid, "{args:?}");
    }
    assert_eq!(err(&mut c, &["GETEX", "k", "EX", "abc"]), NOT_INT);
    for args in [
        &["GETEX", "k", "EX", "10", "PX", "10"][..],
        &["GETEX", "k", "PERSIST", "EX", "10"],
        &["GETEX", "k", "EX", "10", "PERSIST"],
        &["GETEX", "k", "foo"],
        &["GETEX", "k", "EX"],
        &["GETEX", "k", "KEEPTTL"],
    ] {
        assert_eq!(err(&mut c, args), SYNTAX, "{args:?}");
    }
    assert_eq!(err(&mut c, &["GETEX"]), arity("getex"));
    // Errors left the deadline as it was.
    assert_eq!(int(&ok(&mut c, &["PEXPIRETIME", "k"])), pat);
    // A deadline in the past deletes the key after returning it.
    assert_eq!(ok(&mut c, &["GETEX", "k", "EXAT", "1"]), vb("v"));
    assert_eq!(ok(&mut c, &["EXISTS", "k"]), vi(0));
    ok(&mut c, &["SET", "k", "v"]);
    assert_eq!(ok(&mut c, &["GETEX", "k", "PXAT", "100"]), vb("v"));
    assert_eq!(ok(&mut c, &["EXISTS", "k"]), vi(0));
}

#[test]
fn setnx_setex_psetex() {
    let s = Server::start();
    let mut c = s.client();
    assert_eq!(ok(&mut c, &["SETNX", "k", "v"]), vi(1));
    assert_eq!(ok(&mut c, &["SETNX", "k", "w"]), vi(0));
    assert_eq!(ok(&mut c, &["GET", "k"]), vb("v"));
    assert_eq!(err(&mut c, &["SETNX", "k"]), arity("setnx"));
    assert_eq!(ok(&mut c, &["SETEX", "k", "100", "x"]), Value::Okay);
    assert_eq!(ok(&mut c, &["GET", "k"]), vb("x"));
    assert!((99..=100).contains(&ttl(&mut c, "k")));
    assert_eq!(ok(&mut c, &["PSETEX", "k", "100000", "y"]), Value::Okay);
    assert_eq!(ok(&mut c, &["GET", "k"]), vb("y"));
    assert!((99_000..=100_000).contains(&pttl(&mut c, "k")));
    for (name, t) in [
        ("setex", "0"),
        ("setex", "-1"),
        ("setex", "9223372036854775807"),
        ("setex", "9223372036854775"),
        ("psetex", "0"),
        ("psetex", "-1"),
        ("psetex", "9223372036854775807"),
    ] {
        assert_eq!(
            err(&mut c, &[name, "k", t, "z"]),
            format!("ERR invalid expire time in '{name}' command"),
            "{name} {t}"
        );
    }
    assert_eq!(err(&mut c, &["SETEX", "k", "abc", "z"]), NOT_INT);
    assert_eq!(err(&mut c, &["PSETEX", "k", "1.5", "z"]), NOT_INT);
    assert_eq!(err(&mut c, &["SETEX", "k", "10"]), arity("setex"));
    assert_eq!(err(&mut c, &["PSETEX", "k", "10"]), arity("psetex"));
    assert_eq!(ok(&mut c, &["GET", "k"]), vb("y"));
}

#[test]
fn mset_msetnx_mget() {
    let s = Server::start();
    let mut c = s.client();
    assert_eq!(ok(&mut c, &["MSET", "a", "1", "b", "2"]), Value::Okay);
    assert_eq!(
        ok(&mut c, &["MGET", "a", "b", "nokey", "a"]),
        Value::Array(vec![vb("1"), vb("2"), Value::Nil, vb("1")])
    );
    // The last of repeated keys wins.
    ok(&mut c, &["MSET", "a", "1", "a", "2"]);
    assert_eq!(ok(&mut c, &["GET", "a"]), vb("2"));
    // MSET drops TTLs like SET.
    ok(&mut c, &["SET", "t", "v", "EX", "100"]);
    ok(&mut c, &["MSET", "t", "w"]);
    assert_eq!(ttl(&mut c, "t"), -1);
    assert_eq!(err(&mut c, &["MSET", "a", "1", "b"]), arity("mset"));
    assert_eq!(err(&mut c, &["MSET", "a"]), arity("mset"));
    assert_eq!(err(&mut c, &["MSET"]), arity("mset"));
    // MSETNX sets all or nothing.
    assert_eq!(ok(&mut c, &["MSETNX", "a", "x", "c", "3"]), vi(0));
    assert_eq!(ok(&mut c, &["EXISTS", "c"]), vi(0));
    assert_eq!(ok(&mut c, &["GET", "a"]), vb("2"));
    assert_eq!(ok(&mut c, &["MSETNX", "x", "1", "y", "2"]), vi(1));
    assert_eq!(
        ok(&mut c, &["MGET", "x", "y"]),
        Value::Array(vec![vb("1"), vb("2")])
    );
    assert_eq!(ok(&mut c, &["MSETNX", "q", "1", "q", "2"]), vi(1));
    assert_eq!(ok(&mut c, &["GET", "q"]), vb("2"));
    assert_eq!(err(&mut c, &["MSETNX", "x", "1", "y"]), arity("msetnx"));
    assert_eq!(err(&mut c, &["MSETNX"]), arity("msetnx"));
    assert_eq!(err(&mut c, &["MGET"]), arity("mget"));
}

#[test]
fn append_and_strlen() {
    let s = Server::start();
    let mut c = s.client();
    assert_eq!(ok(&mut c, &["APPEND", "k", "hello"]), vi(5));
    assert_eq!(ok(&mut c, &["APPEND", "k", " world"]), vi(11));
    assert_eq!(ok(&mut c, &["GET", "k"]), vb("hello world"));
    assert_eq!(ok(&mut c, &["APPEND", "k", ""]), vi(11));
    assert_eq!(ok(&mut c, &["STRLEN", "k"]), vi(11));
    assert_eq!(ok(&mut c, &["STRLEN", "nokey"]), vi(0));
    // An empty APPEND creates the key, empty.
    assert_eq!(ok(&mut c, &["APPEND", "e", ""]), vi(0));
    assert_eq!(ok(&mut c, &["EXISTS", "e"]), vi(1));
    // Integer-encoded values have their decimal length, and append as text.
    ok(&mut c, &["SET", "n", "12"]);
    assert_eq!(ok(&mut c, &["STRLEN", "n"]), vi(2));
    assert_eq!(ok(&mut c, &["APPEND", "n", "3"]), vi(3));
    assert_eq!(ok(&mut c, &["GET", "n"]), vb("123"));
    assert_eq!(ok(&mut c, &["INCR", "n"]), vi(124));
    ok(&mut c, &["SET", "neg", "-9223372036854775808"]);
    assert_eq!(ok(&mut c, &["STRLEN", "neg"]), vi(20));
    // APPEND keeps the TTL.
    ok(&mut c, &["SET", "t", "a", "EX", "100"]);
    ok(&mut c, &["APPEND", "t", "b"]);
    assert!((99..=100).contains(&ttl(&mut c, "t")));
    assert_eq!(err(&mut c, &["APPEND", "k"]), arity("append"));
    assert_eq!(err(&mut c, &["STRLEN"]), arity("strlen"));
    assert_eq!(err(&mut c, &["STRLEN", "a", "b"]), arity("strlen"));
}

#[test]
fn getrange_ranges() {
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["SET", "k", "hello world"]);
    for (a, b, want) in [
        ("0", "4", "hello"),
        ("-5", "-1", "world"),
        ("5", "2", ""),
        ("0", "-100", "h"),
        ("-100", "-1", "hello world"),
        ("100", "200", ""),
        ("-1", "-5", ""),
        ("0", "9223372036854775807", "hello world"),
        ("-9223372036854775808", "9223372036854775807", "hello world"),
        ("3", "3", "l"),
    ] {
        assert_eq!(ok(&mut c, &["GETRANGE", "k", a, b]), vb(want), "{a} {b}");
    }
    assert_eq!(ok(&mut c, &["GETRANGE", "nokey", "0", "-1"]), vb(""));
    ok(&mut c, &["SET", "e", ""]);
    assert_eq!(ok(&mut c, &["GETRANGE", "e", "0", "-1"]), vb(""));
    assert_eq!(ok(&mut c, &["GETRANGE", "e", "0", "0"]), vb(""));
    ok(&mut c, &["SET", "n", "12345"]);
    assert_eq!(ok(&mut c, &["GETRANGE", "n", "1", "-2"]), vb("234"));
    assert_eq!(err(&mut c, &["GETRANGE", "k", "a", "1"]), NOT_INT);
    assert_eq!(err(&mut c, &["GETRANGE", "k", "0", "1.0"]), NOT_INT);
    assert_eq!(err(&mut c, &["GETRANGE", "k", "0"]), arity("getrange"));
    assert_eq!(
        err(&mut c, &["GETRANGE", "k", "0", "1", "2"]),
        arity("getrange")
    );
}

#[test]
fn setrange_pads_and_limits() {
    let s = Server::start();
    let mut c = s.client();
    assert_eq!(ok(&mut c, &["SETRANGE", "k", "5", "hi"]), vi(7));
    assert_eq!(
        ok(&mut c, &["GET", "k"]),
        Value::BulkString(b"\0\0\0\0\0hi".to_vec())
    );
    assert_eq!(ok(&mut c, &["SETRANGE", "k", "0", "ab"]), vi(7));
    assert_eq!(ok(&mut c, &["SETRANGE", "k", "6", "XYZ"]), vi(9));
    assert_eq!(
        ok(&mut c, &["GET", "k"]),
        Value::BulkString(b"ab\0\0\0hXYZ".to_vec())
    );
    assert_eq!(ok(&mut c, &["SETRANGE", "k", "0", ""]), vi(9));
    // An empty value on a missing key creates nothing, whatever the offset.
    assert_eq!(ok(&mut c, &["SETRANGE", "new", "0", ""]), vi(0));
    assert_eq!(ok(&mut c, &["SETRANGE", "new", "10", ""]), vi(0));
    assert_eq!(ok(&mut c, &["EXISTS", "new"]), vi(0));
    // Integer-encoded values are edited as text.
    ok(&mut c, &["SET", "n", "1234"]);
    assert_eq!(ok(&mut c, &["SETRANGE", "n", "1", "9"]), vi(4));
    assert_eq!(ok(&mut c, &["INCR", "n"]), vi(1935));
    assert_eq!(
        err(&mut c, &["SETRANGE", "k", "-1", "x"]),
        "ERR offset is out of range"
    );
    // 512MB is the limit: checked before any allocation.
    assert_eq!(err(&mut c, &["SETRANGE", "k", "536870912", "x"]), TOO_BIG);
    assert_eq!(err(&mut c, &["SETRANGE", "k", "536870911", "xy"]), TOO_BIG);
    assert_eq!(
        err(&mut c, &["SETRANGE", "k", "9223372036854775807", "x"]),
        TOO_BIG
    );
    // With an empty value the length is only reported, even at a huge offset.
    assert_eq!(ok(&mut c, &["SETRANGE", "k", "536870911", ""]), vi(9));
    assert_eq!(err(&mut c, &["SETRANGE", "k", "abc", "x"]), NOT_INT);
    assert_eq!(err(&mut c, &["SETRANGE", "k", "0"]), arity("setrange"));
    let used: i64 = common::info_field(&mut c, "memory", "used_memory")
        .and_then(|v| v.parse().ok())
        .expect("used_memory");
    assert!(used < 64 << 20, "used_memory {used}");
}

#[test]
fn size_limits_follow_configured_proto_max_bulk_len() {
    let s = Server::start_with(&["--proto-max-bulk-len", "1mb"]);
    let mut c = s.client();
    assert_eq!(ok(&mut c, &["SETRANGE", "k", "1048575", "x"]), vi(1 << 20));
    assert_eq!(err(&mut c, &["SETRANGE", "k", "1048576", "x"]), TOO_BIG);
    assert_eq!(err(&mut c, &["APPEND", "k", "y"]), TOO_BIG);
    assert_eq!(ok(&mut c, &["STRLEN", "k"]), vi(1 << 20));
    assert_eq!(ok(&mut c, &["SETBIT", "b", "8388607", "1"]), vi(0));
    assert_eq!(
        err(&mut c, &["SETBIT", "b", "8388608", "1"]),
        "ERR bit offset is not an integer or out of range"
    );
}

#[test]
fn incr_decr_family() {
    let s = Server::start();
    let mut c = s.client();
    assert_eq!(ok(&mut c, &["INCR", "n"]), vi(1));
    assert_eq!(ok(&mut c, &["INCR", "n"]), vi(2));
    assert_eq!(ok(&mut c, &["INCRBY", "n", "10"]), vi(12));
    assert_eq!(ok(&mut c, &["DECR", "n"]), vi(11));
    assert_eq!(ok(&mut c, &["DECRBY", "n", "5"]), vi(6));
    assert_eq!(ok(&mut c, &["INCRBY", "n", "-10"]), vi(-4));
    assert_eq!(ok(&mut c, &["DECRBY", "n", "-4"]), vi(0));
    assert_eq!(ok(&mut c, &["GET", "n"]), vb("0"));
    assert_eq!(ok(&mut c, &["DECR", "m"]), vi(-1));
    assert_eq!(ok(&mut c, &["DECRBY", "o", "3"]), vi(-3));
    assert_eq!(ok(&mut c, &["INCRBY", "p", "7"]), vi(7));
    // INCR keeps the TTL.
    ok(&mut c, &["SET", "t", "1", "EX", "100"]);
    assert_eq!(ok(&mut c, &["INCR", "t"]), vi(2));
    assert!((99..=100).contains(&ttl(&mut c, "t")));
    assert_eq!(err(&mut c, &["INCRBY", "n", "abc"]), NOT_INT);
    assert_eq!(err(&mut c, &["INCRBY", "n", "1.5"]), NOT_INT);
    assert_eq!(
        err(&mut c, &["INCRBY", "n", "9223372036854775808"]),
        NOT_INT
    );
    assert_eq!(
        err(&mut c, &["DECRBY", "n", "-9223372036854775808"]),
        "ERR decrement would overflow"
    );
    let overflow = "ERR increment or decrement would overflow";
    ok(&mut c, &["SET", "n", "9223372036854775807"]);
    assert_eq!(err(&mut c, &["INCR", "n"]), overflow);
    assert_eq!(err(&mut c, &["INCRBY", "n", "1"]), overflow);
    assert_eq!(ok(&mut c, &["INCRBY", "n", "0"]), vi(i64::MAX));
    ok(&mut c, &["SET", "n", "-9223372036854775808"]);
    assert_eq!(err(&mut c, &["DECR", "n"]), overflow);
    assert_eq!(err(&mut c, &["DECRBY", "n", "1"]), overflow);
    assert_eq!(ok(&mut c, &["GET", "n"]), vb("-9223372036854775808"));
    for bad in [
        "  10",
        "10 ",
        "10abc",
        "",
        "00012",
        "-0",
        "+1",
        "99999999999999999999",
        "1.5e3",
        "abc",
    ] {
        ok(&mut c, &["SET", "s", bad]);
        assert_eq!(err(&mut c, &["INCR", "s"]), NOT_INT, "{bad:?}");
        assert_eq!(ok(&mut c, &["GET", "s"]), vb(bad));
    }
    assert_eq!(err(&mut c, &["INCR"]), arity("incr"));
    assert_eq!(err(&mut c, &["INCR", "a", "b"]), arity("incr"));
    assert_eq!(err(&mut c, &["DECR"]), arity("decr"));
    assert_eq!(err(&mut c, &["INCRBY", "n"]), arity("incrby"));
    assert_eq!(err(&mut c, &["DECRBY", "n"]), arity("decrby"));
}

#[test]
fn incrbyfloat_values_and_errors() {
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["SET", "f", "10.5"]);
    assert_eq!(ok(&mut c, &["INCRBYFLOAT", "f", "0.1"]), vb("10.6"));
    assert_eq!(ok(&mut c, &["INCRBYFLOAT", "f", "-5"]), vb("5.6"));
    // Redis computes in long double: the 17-digit rendering shows it.
    assert_eq!(
        ok(&mut c, &["INCRBYFLOAT", "f", "5.0e3"]),
        vb("5005.60000000000000009")
    );
    ok(&mut c, &["SET", "f", "3"]);
    assert_eq!(ok(&mut c, &["INCRBYFLOAT", "f", "1.0"]), vb("4"));
    assert_eq!(ok(&mut c, &["INCRBYFLOAT", "f", "0x10"]), vb("20"));
    assert_eq!(ok(&mut c, &["INCRBYFLOAT", "new", "3.0e0"]), vb("3"));
    assert_eq!(ok(&mut c, &["INCRBYFLOAT", "new2", "1e-5"]), vb("0.00001"));
    assert_eq!(
        ok(&mut c, &["INCRBYFLOAT", "new3", "10000000000000000000000"]),
        vb("10000000000000000000000")
    );
    ok(&mut c, &["SET", "z", "3.0"]);
    assert_eq!(ok(&mut c, &["INCRBYFLOAT", "z", "0"]), vb("3"));
    for bad in ["abc", "nan", "1 ", " 1", ""] {
        assert_eq!(
            err(&mut c, &["INCRBYFLOAT", "f", bad]),
            NOT_FLOAT,
            "{bad:?}"
        );
    }
    let nan_inf = "ERR increment would produce NaN or Infinity";
    assert_eq!(err(&mut c, &["INCRBYFLOAT", "f", "inf"]), nan_inf);
    assert_eq!(err(&mut c, &["INCRBYFLOAT", "f", "+inf"]), nan_inf);
    assert_eq!(err(&mut c, &["INCRBYFLOAT", "f", "-inf"]), nan_inf);
    assert_eq!(ok(&mut c, &["GET", "f"]), vb("20"));
    ok(&mut c, &["SET", "s", "abc"]);
    assert_eq!(err(&mut c, &["INCRBYFLOAT", "s", "1"]), NOT_FLOAT);
    // INCRBYFLOAT keeps the TTL.
    ok(&mut c, &["SET", "t", "1", "EX", "100"]);
    assert_eq!(ok(&mut c, &["INCRBYFLOAT", "t", "1.5"]), vb("2.5"));
    assert!((99..=100).contains(&ttl(&mut c, "t")));
    assert_eq!(err(&mut c, &["INCRBYFLOAT", "f"]), arity("incrbyfloat"));
    // After INCRBYFLOAT the value is text: INCR refuses it.
    assert_eq!(err(&mut c, &["INCR", "t"]), NOT_INT);
}

#[test]
fn lcs_forms_and_errors() {
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["MSET", "a", "ohmytext", "b", "mynewtext"]);
    assert_eq!(ok(&mut c, &["LCS", "a", "b"]), vb("mytext"));
    assert_eq!(ok(&mut c, &["LCS", "a", "b", "LEN"]), vi(6));
    let span = |x: i64, y: i64| Value::Array(vec![vi(x), vi(y)]);
    let idx = ok(&mut c, &["LCS", "a", "b", "IDX"]);
    assert_eq!(
        idx,
        Value::Array(vec![
            vb("matches"),
            Value::Array(vec![
                Value::Array(vec![span(4, 7), span(5, 8)]),
                Value::Array(vec![span(2, 3), span(0, 1)]),
            ]),
            vb("len"),
            vi(6),
        ])
    );
    assert_eq!(
        ok(
            &mut c,
            &["LCS", "a", "b", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"]
        ),
        Value::Array(vec![
            vb("matches"),
            Value::Array(vec![Value::Array(vec![span(4, 7), span(5, 8), vi(4)])]),
            vb("len"),
            vi(6),
        ])
    );
    assert_eq!(
        ok(&mut c, &["LCS", "a", "b", "IDX", "MINMATCHLEN", "-1"]),
        idx
    );
    assert_eq!(ok(&mut c, &["LCS", "a", "nokey"]), vb(""));
    assert_eq!(
        ok(&mut c, &["LCS", "x", "y", "IDX"]),
        Value::Array(vec![vb("matches"), Value::Array(vec![]), vb("len"), vi(0)])
    );
    assert_eq!(
        err(&mut c, &["LCS", "a", "b", "LEN", "IDX"]),
        "ERR If you want both the length and indexes, please just use IDX."
    );
    assert_eq!(err(&mut c, &["LCS", "a", "b", "foo"]), SYNTAX);
    assert_eq!(err(&mut c, &["LCS", "a", "b", "MINMATCHLEN"]), SYNTAX);
    assert_eq!(
        err(&mut c, &["LCS", "a", "b", "MINMATCHLEN", "abc"]),
        NOT_INT
    );
    assert_eq!(err(&mut c, &["LCS", "a"]), arity("lcs"));
    // RESP3 answers IDX with a map.
    let mut r = Raw::new(&s);
    r.call(&["HELLO", "3"]);
    assert_eq!(
        r.call(&["LCS", "a", "b", "IDX", "MINMATCHLEN", "4"]),
        "%2\r\n$7\r\nmatches\r\n*1\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n$3\r\nlen\r\n:6\r\n"
    );
}

#[test]
fn large_values_round_trip() {
    let s = Server::start();
    let mut c = s.client();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(
        cmd_bytes(&mut c, &[b"SET", b"big", &big]).unwrap(),
        Value::Okay
    );
    assert_eq!(ok(&mut c, &["STRLEN", "big"]), vi(big.len() as i64));
    assert_eq!(
        cmd_bytes(&mut c, &[b"GET", b"big"]).unwrap(),
        Value::BulkString(big.clone())
    );
    assert_eq!(
        ok(&mut c, &["GETRANGE", "big", "1000", "1003"]),
        Value::BulkString(big[1000..=1003].to_vec())
    );
    assert_eq!(
        int(&cmd(&mut c, &["APPEND", "big", "tail"]).unwrap()),
        3_000_004
    );
}
