//! Hash commands through the real binary: replies checked against Redis 7.0.15, field expiry against the
//! Redis 7.4 documentation.

mod common;
mod raw;

use std::time::Duration;

use common::{cmd, err, info_field, ok, unix_ms, vb, vi, Server};
use raw::{int, Raw};
use redis::Value;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const SYNTAX: &str = "ERR syntax error";
const NOT_INT: &str = "ERR value is not an integer or out of range";

fn arity(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

fn strings(v: Value) -> Vec<String> {
    let items = match v {
        Value::Array(items) | Value::Set(items) => items,
        Value::Map(m) => m.into_iter().flat_map(|(k, v)| [k, v]).collect(),
        other => panic!("not a list: {other:?}"),
    };
    items
        .into_iter()
        .map(|v| match v {
            Value::BulkString(b) => String::from_utf8(b).unwrap(),
            other => panic!("not a bulk string: {other:?}"),
        })
        .collect()
}

fn sorted(v: Value) -> Vec<String> {
    let mut s = strings(v);
    s.sort();
    s
}

fn ints(v: &[i64]) -> Value {
    Value::Array(v.iter().map(|&i| vi(i)).collect())
}

fn encoding(c: &mut redis::Connection, key: &str) -> Value {
    ok(c, &["OBJECT", "ENCODING", key])
}

#[test]
fn set_get_delete_and_lengths() {
    let s = Server::start();
    let mut c = s.client();
    assert_eq!(ok(&mut c, &["HSET", "h", "a", "1", "b", "2"]), vi(2));
    assert_eq!(ok(&mut c, &["HSET", "h", "a", "10", "c", "3"]), vi(1));
    assert_eq!(ok(&mut c, &["HMSET", "h", "d", "4"]), Value::Okay);
    assert_eq!(ok(&mut c, &["HSETNX", "h", "a", "x"]), vi(0));
    assert_eq!(ok(&mut c, &["HSETNX", "h", "e", "5"]), vi(1));
    assert_eq!(ok(&mut c, &["HGET", "h", "a"]), vb("10"));
    assert_eq!(ok(&mut c, &["HGET", "h", "zz"]), Value::Nil);
    assert_eq!(ok(&mut c, &["HGET", "nokey", "a"]), Value::Nil);
    assert_eq!(
        ok(&mut c, &["HMGET", "h", "a", "zz", "e"]),
        Value::Array(vec![vb("10"), Value::Nil, vb("5")])
    );
    assert_eq!(ok(&mut c, &["HLEN", "h"]), vi(5));
    assert_eq!(ok(&mut c, &["HLEN", "nokey"]), vi(0));
    assert_eq!(ok(&mut c, &["HEXISTS", "h", "d"]), vi(1));
    assert_eq!(ok(&mut c, &["HEXISTS", "h", "zz"]), vi(0));
    assert_eq!(ok(&mut c, &["HSTRLEN", "h", "a"]), vi(2));
    assert_eq!(ok(&mut c, &["HSTRLEN", "h", "zz"]), vi(0));
    assert_eq!(
        strings(ok(&mut c, &["HKEYS", "h"])),
        vec!["a", "b", "c", "d", "e"]
    );
    assert_eq!(
        strings(ok(&mut c, &["HVALS", "h"])),
        vec!["10", "2", "3", "4", "5"]
    );
    assert_eq!(
        strings(ok(&mut c, &["HGETALL", "h"])),
        vec!["a", "10", "b", "2", "c", "3", "d", "4", "e", "5"]
    );
    assert_eq!(ok(&mut c, &["HGETALL", "nokey"]), Value::Array(vec![]));
    assert_eq!(ok(&mut c, &["HDEL", "h", "a", "zz", "b"]), vi(2));
    assert_eq!(ok(&mut c, &["HDEL", "nokey", "a"]), vi(0));
    assert_eq!(ok(&mut c, &["HDEL", "h", "c", "d", "e", "c"]), vi(3));
    assert_eq!(ok(&mut c, &["EXISTS", "h"]), vi(0));
    assert_eq!(ok(&mut c, &["HSET", "h", "f", "v"]), vi(1));
    assert_eq!(
        ok(&mut c, &["TYPE", "h"]),
        Value::SimpleString("hash".into())
    );
}

#[test]
fn arity_and_wrong_type_errors() {
    let s = Server::start();
    let mut c = s.client();
    for (args, name) in [
        (&["HSET", "h", "f"][..], "hset"),
        (&["HSET", "h", "f", "v", "g"], "hset"),
        (&["HMSET", "h", "f", "v", "g"], "hmset"),
        (&["HSETNX", "h", "f"], "hsetnx"),
        (&["HGET", "h"], "hget"),
        (&["HMGET", "h"], "hmget"),
        (&["HGETALL"], "hgetall"),
        (&["HDEL", "h"], "hdel"),
        (&["HEXISTS", "h"], "hexists"),
        (&["HLEN"], "hlen"),
        (&["HKEYS"], "hkeys"),
        (&["HVALS"], "hvals"),
        (&["HINCRBY", "h", "f"], "hincrby"),
        (&["HINCRBYFLOAT", "h", "f"], "hincrbyfloat"),
        (&["HSTRLEN", "h"], "hstrlen"),
        (&["HRANDFIELD"], "hrandfield"),
        (&["HSCAN", "h"], "hscan"),
        (&["HEXPIRE", "h", "1", "FIELDS", "1"], "hexpire"),
        (&["HPEXPIRE", "h", "1", "FIELDS", "1"], "hpexpire"),
        (&["HEXPIREAT", "h", "1", "FIELDS", "1"], "hexpireat"),
        (&["HPEXPIREAT", "h", "1", "FIELDS", "1"], "hpexpireat"),
        (&["HTTL", "h", "FIELDS", "1"], "httl"),
        (&["HPTTL", "h", "FIELDS", "1"], "hpttl"),
        (&["HEXPIRETIME", "h", "FIELDS", "1"], "hexpiretime"),
        (&["HPEXPIRETIME", "h", "FIELDS", "1"], "hpexpiretime"),
        (&["HPERSIST", "h", "FIELDS", "1"], "hpersist"),
    ] {
        assert_eq!(err(&mut c, args), arity(name), "{args:?}");
    }
    ok(&mut c, &["SET", "s", "x"]);
    for args in [
        &["HSET", "s", "a", "1"][..],
        &["HSETNX", "s", "a", "1"],
        &["HMSET", "s", "a", "1"],
        &["HGET", "s", "a"],
        &["HMGET", "s", "a"],
        &["HGETALL", "s"],
        &["HDEL", "s", "a"],
        &["HEXISTS", "s", "a"],
        &["HLEN", "s"],
        &["HKEYS", "s"],
        &["HVALS", "s"],
        &["HINCRBY", "s", "a", "1"],
        &["HINCRBYFLOAT", "s", "a", "1"],
        &["HSTRLEN", "s", "a"],
        &["HRANDFIELD", "s"],
        &["HRANDFIELD", "s", "2", "WITHVALUES"],
        &["HSCAN", "s", "0"],
        &["HEXPIRE", "s", "10", "FIELDS", "1", "a"],
        &["HTTL", "s", "FIELDS", "1", "a"],
        &["HPERSIST", "s", "FIELDS", "1", "a"],
    ] {
        assert_eq!(err(&mut c, args), WRONGTYPE, "{args:?}");
    }
    // String commands refuse a hash.
    ok(&mut c, &["HSET", "h", "a", "1"]);
    for args in [
        &["GET", "h"][..],
        &["GETSET", "h", "x"],
        &["APPEND", "h", "x"],
        &["STRLEN", "h"],
        &["INCR", "h"],
        &["INCRBYFLOAT", "h", "1"],
        &["SETRANGE", "h", "0", "x"],
        &["GETRANGE", "h", "0", "1"],
        &["SETBIT", "h", "0", "1"],
        &["BITCOUNT", "h"],
        &["LCS", "h", "h"],
    ] {
        let e = err(&mut c, args);
        assert!(
            e == WRONGTYPE || e == "ERR The specified keys must contain string values",
            "{args:?}: {e}"
        );
    }
    assert_eq!(ok(&mut c, &["MGET", "h"]), Value::Array(vec![Value::Nil]));
}

#[test]
fn increments() {
    let s = Server::start();
    let mut c = s.client();
    assert_eq!(ok(&mut c, &["HINCRBY", "h", "n", "5"]), vi(5));
    assert_eq!(ok(&mut c, &["HINCRBY", "h", "n", "-10"]), vi(-5));
    assert_eq!(err(&mut c, &["HINCRBY", "h", "n", "1.5"]), NOT_INT);
    ok(
        &mut c,
        &["HSET", "h", "s", "abc", "max", "9223372036854775807"],
    );
    assert_eq!(
        err(&mut c, &["HINCRBY", "h", "s", "1"]),
        "ERR hash value is not an integer"
    );
    assert_eq!(
        err(&mut c, &["HINCRBY", "h", "max", "1"]),
        "ERR increment or decrement would overflow"
    );
    assert_eq!(ok(&mut c, &["HINCRBYFLOAT", "h", "f", "10.5"]), vb("10.5"));
    assert_eq!(ok(&mut c, &["HINCRBYFLOAT", "h", "f", "0.1"]), vb("10.6"));
    assert_eq!(ok(&mut c, &["HINCRBYFLOAT", "h", "n", "5.0e3"]), vb("4995"));
    assert_eq!(
        err(&mut c, &["HINCRBYFLOAT", "h", "f", "x"]),
        "ERR value is not a valid float"
    );
    assert_eq!(
        err(&mut c, &["HINCRBYFLOAT", "h", "f", "inf"]),
        "ERR value is NaN or Infinity"
    );
    assert_eq!(
        err(&mut c, &["HINCRBYFLOAT", "h", "s", "1"]),
        "ERR hash value is not a float"
    );
    // The same long double formatting as INCRBYFLOAT.
    ok(&mut c, &["SET", "str", "3001"]);
    ok(&mut c, &["HSET", "h", "g", "3001"]);
    assert_eq!(
        ok(&mut c, &["HINCRBYFLOAT", "h", "g", "0.1"]),
        ok(&mut c, &["INCRBYFLOAT", "str", "0.1"])
    );
}

#[test]
fn encodings_and_configuration() {
    let s = Server::start();
    let mut c = s.client();
    assert_eq!(
        strings(ok(&mut c, &["CONFIG", "GET", "hash-max-listpack-entries"])),
        vec!["hash-max-listpack-entries", "512"]
    );
    assert_eq!(
        strings(ok(&mut c, &["CONFIG", "GET", "hash-max-ziplist-value"])),
        vec!["hash-max-ziplist-value", "64"]
    );
    ok(&mut c, &["HSET", "small", "f", "v"]);
    assert_eq!(encoding(&mut c, "small"), vb("listpack"));
    ok(&mut c, &["HSET", "long", "f", &"x".repeat(65)]);
    assert_eq!(encoding(&mut c, "long"), vb("hashtable"));
    // The old ziplist names are aliases.
    ok(&mut c, &["CONFIG", "SET", "hash-max-ziplist-entries", "2"]);
    assert_eq!(
        strings(ok(&mut c, &["CONFIG", "GET", "hash-max-listpack-entries"])),
        vec!["hash-max-listpack-entries", "2"]
    );
    ok(&mut c, &["HSET", "three", "a", "1", "b", "2"]);
    assert_eq!(encoding(&mut c, "three"), vb("listpack"));
    ok(&mut c, &["HSET", "three", "c", "3"]);
    assert_eq!(encoding(&mut c, "three"), vb("hashtable"));
    ok(&mut c, &["CONFIG", "SET", "hash-max-listpack-value", "1kb"]);
    assert_eq!(
        strings(ok(&mut c, &["CONFIG", "GET", "hash-max-listpack-value"])),
        vec!["hash-max-listpack-value", "1024"]
    );
    assert!(err(
        &mut c,
        &["CONFIG", "SET", "hash-max-listpack-entries", "-1"]
    )
    .starts_with("ERR"));
    // Memory, copies and renames.
    let usage = int(&ok(&mut c, &["MEMORY", "USAGE", "three"]));
    assert!(usage > int(&ok(&mut c, &["MEMORY", "USAGE", "small"])));
    assert_eq!(ok(&mut c, &["COPY", "three", "copy"]), vi(1));
    assert_eq!(ok(&mut c, &["RENAME", "copy", "moved"]), Value::Okay);
    assert_eq!(sorted(ok(&mut c, &["HKEYS", "moved"])), vec!["a", "b", "c"]);
    assert_eq!(encoding(&mut c, "moved"), vb("hashtable"));
    let Value::Array(scan) = ok(&mut c, &["SCAN", "0", "TYPE", "hash", "COUNT", "100"]) else {
        panic!()
    };
    assert_eq!(
        sorted(scan[1].clone()),
        vec!["long", "moved", "small", "three"]
    );
}

#[test]
fn hrandfield_shapes_in_both_protocols() {
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["HSET", "h", "a", "1", "b", "2", "c", "3"]);
    let one = ok(&mut c, &["HRANDFIELD", "h"]);
    assert!(["a", "b", "c"].iter().any(|f| one == vb(f)), "{one:?}");
    assert_eq!(ok(&mut c, &["HRANDFIELD", "nokey"]), Value::Nil);
    assert_eq!(
        ok(&mut c, &["HRANDFIELD", "nokey", "2"]),
        Value::Array(vec![])
    );
    assert_eq!(ok(&mut c, &["HRANDFIELD", "h", "0"]), Value::Array(vec![]));
    assert_eq!(
        sorted(ok(&mut c, &["HRANDFIELD", "h", "5", "WITHVALUES"])),
        vec!["1", "2", "3", "a", "b", "c"]
    );
    assert_eq!(strings(ok(&mut c, &["HRANDFIELD", "h", "-7"])).len(), 7);
    assert_eq!(strings(ok(&mut c, &["HRANDFIELD", "h", "2"])).len(), 2);
    assert_eq!(err(&mut c, &["HRANDFIELD", "h", "1", "WITHVALUE"]), SYNTAX);
    assert_eq!(
        err(&mut c, &["HRANDFIELD", "h", "-9223372036854775808"]),
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    );
    assert_eq!(
        err(
            &mut c,
            &["HRANDFIELD", "h", "-9223372036854770000", "WITHVALUES"]
        ),
        "ERR value is out of range"
    );
    // RESP2 flattens field/value pairs; RESP3 nests them.
    let mut r = Raw::new(&s);
    let flat = r.call(&["HRANDFIELD", "h", "-2", "WITHVALUES"]);
    assert!(flat.starts_with("*4\r\n$1\r\n"), "{flat:?}");
    assert!(r.call(&["HELLO", "3"]).starts_with('%'));
    let nested = r.call(&["HRANDFIELD", "h", "-2", "WITHVALUES"]);
    assert!(nested.starts_with("*2\r\n*2\r\n$1\r\n"), "{nested:?}");
    let map = r.call(&["HGETALL", "h"]);
    assert_eq!(
        map,
        "%3\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n"
    );
    assert_eq!(r.call(&["HGETALL", "nokey"]), "%0\r\n");
    assert_eq!(r.call(&["HGET", "nokey", "f"]), "_\r\n");
}

#[test]
fn hscan_walks_both_encodings() {
    let s = Server::start();
    let mut c = s.client();
    assert_eq!(
        ok(&mut c, &["HSCAN", "nokey", "0"]),
        Value::Array(vec![vb("0"), Value::Array(vec![])])
    );
    ok(&mut c, &["HSET", "h", "k1", "1", "x", "2", "k2", "3"]);
    assert_eq!(
        ok(&mut c, &["HSCAN", "h", "0", "MATCH", "k*"]),
        Value::Array(vec![
            vb("0"),
            Value::Array(vec![vb("k1"), vb("1"), vb("k2"), vb("3")])
        ])
    );
    assert_eq!(
        ok(&mut c, &["HSCAN", "h", "0", "NOVALUES"]),
        Value::Array(vec![
            vb("0"),
            Value::Array(vec![vb("k1"), vb("x"), vb("k2")])
        ])
    );
    assert_eq!(err(&mut c, &["HSCAN", "h", "abc"]), "ERR invalid cursor");
    assert_eq!(err(&mut c, &["HSCAN", "h", "0", "COUNT", "0"]), SYNTAX);
    assert_eq!(err(&mut c, &["HSCAN", "h", "0", "COUNT", "x"]), NOT_INT);
    assert_eq!(err(&mut c, &["HSCAN", "h", "0", "FOO"]), SYNTAX);
    let mut args = vec!["HSET".to_string(), "big".to_string()];
    for i in 0..2000 {
        args.push(format!("f{i}"));
        args.push(i.to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(ok(&mut c, &args), vi(2000));
    let mut seen = std::collections::BTreeSet::new();
    let mut cursor = "0".to_string();
    loop {
        let Value::Array(r) = ok(&mut c, &["HSCAN", "big", &cursor, "COUNT", "50"]) else {
            panic!()
        };
        let fields = strings(r[1].clone());
        for pair in fields.chunks(2) {
            assert_eq!(pair[0][1..], pair[1]);
            seen.insert(pair[0].clone());
        }
        cursor = strings(Value::Array(vec![r[0].clone()])).remove(0);
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 2000);
}

#[test]
fn field_expiry_commands() {
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["HSET", "h", "a", "1", "b", "2", "c", "3"]);
    assert_eq!(
        ok(&mut c, &["HEXPIRE", "nokey", "10", "FIELDS", "2", "a", "b"]),
        ints(&[-2, -2])
    );
    assert_eq!(
        ok(
            &mut c,
            &["HEXPIRE", "h", "100", "FIELDS", "3", "a", "b", "zz"]
        ),
        ints(&[1, 1, -2])
    );
    assert_eq!(encoding(&mut c, "h"), vb("listpackex"));
    assert_eq!(
        ok(&mut c, &["HTTL", "h", "FIELDS", "3", "a", "c", "zz"]),
        ints(&[100, -1, -2])
    );
    let Value::Array(pttl) = ok(&mut c, &["HPTTL", "h", "FIELDS", "1", "a"]) else {
        panic!()
    };
    let pttl = int(&pttl[0]);
    assert!((99_000..=100_000).contains(&pttl), "{pttl}");
    let at = unix_ms() + 1_000_000;
    assert_eq!(
        ok(
            &mut c,
            &["HPEXPIREAT", "h", &at.to_string(), "FIELDS", "1", "c"]
        ),
        ints(&[1])
    );
    assert_eq!(
        ok(&mut c, &["HPEXPIRETIME", "h", "FIELDS", "1", "c"]),
        ints(&[at])
    );
    assert_eq!(
        ok(&mut c, &["HEXPIRETIME", "h", "FIELDS", "1", "c"]),
        ints(&[(at + 999) / 1000])
    );
    // NX / XX / GT / LT.
    assert_eq!(
        ok(&mut c, &["HEXPIRE", "h", "50", "NX", "FIELDS", "1", "a"]),
        ints(&[0])
    );
    assert_eq!(
        ok(&mut c, &["HEXPIRE", "h", "50", "GT", "FIELDS", "1", "a"]),
        ints(&[0])
    );
    assert_eq!(
        ok(&mut c, &["HEXPIRE", "h", "50", "LT", "FIELDS", "1", "a"]),
        ints(&[1])
    );
    assert_eq!(
        ok(&mut c, &["HEXPIRE", "h", "60", "XX", "FIELDS", "1", "a"]),
        ints(&[1])
    );
    assert_eq!(
        ok(&mut c, &["HPERSIST", "h", "FIELDS", "3", "a", "a", "zz"]),
        ints(&[1, -1, -2])
    );
    // A deadline in the past deletes (2).
    assert_eq!(
        ok(&mut c, &["HEXPIREAT", "h", "1", "FIELDS", "1", "b"]),
        ints(&[2])
    );
    assert_eq!(ok(&mut c, &["HEXISTS", "h", "b"]), vi(0));
    for (args, e) in [
        (
            &["HEXPIRE", "h", "-1", "FIELDS", "1", "a"][..],
            "ERR invalid expire time, must be >= 0",
        ),
        (&["HEXPIRE", "h", "x", "FIELDS", "1", "a"], NOT_INT),
        (
            &["HEXPIRE", "h", "9223372036854775", "FIELDS", "1", "a"],
            "ERR invalid expire time in 'hexpire' command",
        ),
        (
            &["HEXPIRE", "h", "10", "FIELDS", "0", "a"],
            "ERR Parameter `numFields` should be greater than 0",
        ),
        (
            &["HEXPIRE", "h", "10", "FIELDS", "2", "a"],
            "ERR The `numfields` parameter must match the number of arguments",
        ),
        (
            &["HEXPIRE", "h", "10", "XX", "NX", "FIELDS", "1", "a"],
            "ERR Mandatory argument FIELDS is missing or not at the right position",
        ),
        (
            &["HTTL", "h", "FIELDS", "0", "a"],
            "ERR Number of fields must be a positive integer",
        ),
        (
            &["HPERSIST", "h", "FIEL", "1", "a"],
            "ERR Mandatory argument FIELDS is missing or not at the right position",
        ),
    ] {
        assert_eq!(err(&mut c, args), e, "{args:?}");
    }
}

#[test]
fn expired_fields_vanish_and_are_reclaimed() {
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["HSET", "h", "a", "1", "b", "2", "c", "3"]);
    assert_eq!(
        ok(&mut c, &["HPEXPIRE", "h", "100", "FIELDS", "2", "a", "b"]),
        ints(&[1, 1])
    );
    // Fields of hashes nobody touches go too, through active expiry.
    for i in 0..20 {
        let key = format!("quiet{i}");
        ok(&mut c, &["HSET", &key, "x", "1", "y", "2"]);
        ok(&mut c, &["HPEXPIRE", &key, "100", "FIELDS", "2", "x", "y"]);
    }
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(ok(&mut c, &["HGET", "h", "a"]), Value::Nil);
    assert_eq!(ok(&mut c, &["HLEN", "h"]), vi(1));
    assert_eq!(strings(ok(&mut c, &["HGETALL", "h"])), vec!["c", "3"]);
    assert_eq!(
        ok(&mut c, &["HTTL", "h", "FIELDS", "2", "a", "c"]),
        ints(&[-2, -1])
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while int(&ok(&mut c, &["DBSIZE"])) > 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "fields never reclaimed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(ok(&mut c, &["EXISTS", "quiet0"]), vi(0));
    let subkeys: i64 = info_field(&mut c, "stats", "expired_subkeys")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(subkeys, 42);
}

#[test]
fn no_reply_is_unbounded() {
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["HSET", "h", "a", "1"]);
    assert_eq!(
        err(&mut c, &["HRANDFIELD", "h", "-1000000000000"]),
        "ERR value is out of range"
    );
    assert_eq!(
        strings(ok(&mut c, &["HRANDFIELD", "h", "1000000000000"])),
        vec!["a"]
    );
    assert!(cmd(&mut c, &["PING"]).is_ok());
}
