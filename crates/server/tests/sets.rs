//! Set commands through the real binary, with replies checked against Redis 7.0.15.

mod common;
mod raw;

use common::{err, ok, vb, vi, Server};
use raw::Raw;
use redis::Value;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const SYNTAX: &str = "ERR syntax error";

fn arity(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

fn sorted(v: Value) -> Vec<String> {
    let items = match v {
        Value::Array(items) | Value::Set(items) => items,
        other => panic!("not a list: {other:?}"),
    };
    let mut out: Vec<String> = items
        .into_iter()
        .map(|v| match v {
            Value::BulkString(b) => String::from_utf8(b).unwrap(),
            other => panic!("not a bulk string: {other:?}"),
        })
        .collect();
    out.sort();
    out
}

fn strs(v: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn encoding(c: &mut redis::Connection, key: &str) -> Value {
    ok(c, &["OBJECT", "ENCODING", key])
}

#[test]
fn add_remove_membership() {
    let s = Server::start();
    let mut c = s.client();
    assert_eq!(ok(&mut c, &["SADD", "s", "1", "2", "3", "2"]), vi(3));
    assert_eq!(encoding(&mut c, "s"), vb("intset"));
    assert_eq!(
        ok(&mut c, &["SMEMBERS", "s"]),
        Value::Array(vec![vb("1"), vb("2"), vb("3")])
    );
    assert_eq!(ok(&mut c, &["SMEMBERS", "nokey"]), Value::Array(vec![]));
    assert_eq!(ok(&mut c, &["SCARD", "s"]), vi(3));
    assert_eq!(ok(&mut c, &["SCARD", "nokey"]), vi(0));
    assert_eq!(ok(&mut c, &["SISMEMBER", "s", "2"]), vi(1));
    assert_eq!(ok(&mut c, &["SISMEMBER", "s", "x"]), vi(0));
    assert_eq!(
        ok(&mut c, &["SMISMEMBER", "s", "1", "x", "3"]),
        Value::Array(vec![vi(1), vi(0), vi(1)])
    );
    assert_eq!(
        ok(&mut c, &["SMISMEMBER", "nokey", "1"]),
        Value::Array(vec![vi(0)])
    );
    assert_eq!(ok(&mut c, &["SADD", "s", "a"]), vi(1));
    assert_eq!(encoding(&mut c, "s"), vb("hashtable"));
    assert_eq!(ok(&mut c, &["SREM", "s", "1", "zz", "a"]), vi(2));
    assert_eq!(ok(&mut c, &["SREM", "nokey", "1"]), vi(0));
    assert_eq!(ok(&mut c, &["SREM", "s", "2", "3"]), vi(2));
    assert_eq!(ok(&mut c, &["EXISTS", "s"]), vi(0));
    // set-max-intset-entries decides when an intset becomes a table.
    assert_eq!(
        sorted(ok(&mut c, &["CONFIG", "GET", "set-max-intset-entries"])),
        strs(&["set-max-intset-entries", "512"])
    );
    ok(&mut c, &["CONFIG", "SET", "set-max-intset-entries", "2"]);
    ok(&mut c, &["SADD", "i", "1", "2"]);
    assert_eq!(encoding(&mut c, "i"), vb("intset"));
    ok(&mut c, &["SADD", "i", "3"]);
    assert_eq!(encoding(&mut c, "i"), vb("hashtable"));
    assert_eq!(
        ok(&mut c, &["TYPE", "i"]),
        Value::SimpleString("set".into())
    );
}

#[test]
fn arity_and_wrong_type_errors() {
    let s = Server::start();
    let mut c = s.client();
    for (args, name) in [
        (&["SADD", "s"][..], "sadd"),
        (&["SREM", "s"], "srem"),
        (&["SMEMBERS"], "smembers"),
        (&["SISMEMBER", "s"], "sismember"),
        (&["SMISMEMBER", "s"], "smismember"),
        (&["SCARD"], "scard"),
        (&["SPOP"], "spop"),
        (&["SRANDMEMBER"], "srandmember"),
        (&["SMOVE", "a", "b"], "smove"),
        (&["SINTER"], "sinter"),
        (&["SINTERCARD", "1"], "sintercard"),
        (&["SINTERSTORE", "d"], "sinterstore"),
        (&["SUNION"], "sunion"),
        (&["SUNIONSTORE", "d"], "sunionstore"),
        (&["SDIFF"], "sdiff"),
        (&["SDIFFSTORE", "d"], "sdiffstore"),
        (&["SSCAN", "s"], "sscan"),
    ] {
        assert_eq!(err(&mut c, args), arity(name), "{args:?}");
    }
    ok(&mut c, &["SET", "str", "x"]);
    ok(&mut c, &["SADD", "s", "a"]);
    for args in [
        &["SADD", "str", "a"][..],
        &["SREM", "str", "a"],
        &["SMEMBERS", "str"],
        &["SISMEMBER", "str", "a"],
        &["SMISMEMBER", "str", "a"],
        &["SCARD", "str"],
        &["SPOP", "str"],
        &["SPOP", "str", "2"],
        &["SRANDMEMBER", "str"],
        &["SRANDMEMBER", "str", "-2"],
        &["SMOVE", "str", "s", "a"],
        &["SMOVE", "s", "str", "a"],
        &["SINTER", "s", "str"],
        &["SINTERCARD", "2", "s", "str"],
        &["SINTERSTORE", "d", "s", "str"],
        &["SUNION", "s", "str"],
        &["SUNIONSTORE", "d", "s", "str"],
        &["SDIFF", "s", "str"],
        &["SDIFFSTORE", "d", "s", "str"],
        &["SSCAN", "str", "0"],
        &["GET", "s"],
        &["HSET", "s", "f", "v"],
    ] {
        assert_eq!(err(&mut c, args), WRONGTYPE, "{args:?}");
    }
    assert_eq!(err(&mut c, &["SPOP", "s", "1", "2"]), SYNTAX);
    assert_eq!(err(&mut c, &["SRANDMEMBER", "s", "1", "2"]), SYNTAX);
}

#[test]
fn pop_random_and_move() {
    let s = Server::start();
    let mut c = s.client();
    assert_eq!(ok(&mut c, &["SPOP", "nokey"]), Value::Nil);
    assert_eq!(ok(&mut c, &["SPOP", "nokey", "2"]), Value::Array(vec![]));
    assert_eq!(ok(&mut c, &["SRANDMEMBER", "nokey"]), Value::Nil);
    assert_eq!(
        ok(&mut c, &["SRANDMEMBER", "nokey", "2"]),
        Value::Array(vec![])
    );
    ok(&mut c, &["SADD", "s", "a", "b", "c", "d", "e"]);
    let all = strs(&["a", "b", "c", "d", "e"]);
    assert_eq!(sorted(ok(&mut c, &["SRANDMEMBER", "s", "10"])), all);
    assert_eq!(sorted(ok(&mut c, &["SRANDMEMBER", "s", "3"])).len(), 3);
    assert_eq!(sorted(ok(&mut c, &["SRANDMEMBER", "s", "-8"])).len(), 8);
    assert_eq!(
        err(&mut c, &["SRANDMEMBER", "s", "-9223372036854775808"]),
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    );
    assert_eq!(
        err(&mut c, &["SPOP", "s", "-1"]),
        "ERR value is out of range, must be positive"
    );
    let mut popped = sorted(ok(&mut c, &["SPOP", "s", "2"]));
    let Value::BulkString(one) = ok(&mut c, &["SPOP", "s"]) else {
        panic!()
    };
    popped.push(String::from_utf8(one).unwrap());
    popped.extend(sorted(ok(&mut c, &["SPOP", "s", "10"])));
    popped.sort();
    assert_eq!(popped, all);
    assert_eq!(ok(&mut c, &["EXISTS", "s"]), vi(0));
    ok(&mut c, &["SADD", "a", "1", "2"]);
    assert_eq!(ok(&mut c, &["SMOVE", "a", "b", "1"]), vi(1));
    assert_eq!(ok(&mut c, &["SMOVE", "a", "b", "9"]), vi(0));
    assert_eq!(ok(&mut c, &["SMOVE", "nokey", "b", "1"]), vi(0));
    assert_eq!(ok(&mut c, &["SMOVE", "a", "a", "2"]), vi(1));
    assert_eq!(ok(&mut c, &["SMOVE", "a", "b", "2"]), vi(1));
    assert_eq!(ok(&mut c, &["EXISTS", "a"]), vi(0));
    assert_eq!(sorted(ok(&mut c, &["SMEMBERS", "b"])), strs(&["1", "2"]));
}

#[test]
fn algebra_and_store() {
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["SADD", "a", "1", "2", "3", "4"]);
    ok(&mut c, &["SADD", "b", "3", "4", "5"]);
    ok(&mut c, &["SADD", "c", "4", "x"]);
    assert_eq!(sorted(ok(&mut c, &["SINTER", "a", "b"])), strs(&["3", "4"]));
    assert_eq!(sorted(ok(&mut c, &["SINTER", "a", "b", "c"])), strs(&["4"]));
    assert_eq!(ok(&mut c, &["SINTER", "a", "nokey"]), Value::Array(vec![]));
    assert_eq!(ok(&mut c, &["SINTERCARD", "2", "a", "b"]), vi(2));
    assert_eq!(
        ok(&mut c, &["SINTERCARD", "2", "a", "b", "LIMIT", "1"]),
        vi(1)
    );
    assert_eq!(
        err(&mut c, &["SINTERCARD", "0", "a"]),
        "ERR numkeys should be greater than 0"
    );
    assert_eq!(
        err(&mut c, &["SINTERCARD", "5", "a"]),
        "ERR Number of keys can't be greater than number of args"
    );
    assert_eq!(
        err(&mut c, &["SINTERCARD", "1", "a", "LIMIT", "-3"]),
        "ERR LIMIT can't be negative"
    );
    assert_eq!(err(&mut c, &["SINTERCARD", "1", "a", "BOGUS"]), SYNTAX);
    assert_eq!(
        sorted(ok(&mut c, &["SUNION", "a", "c", "nokey"])),
        strs(&["1", "2", "3", "4", "x"])
    );
    assert_eq!(
        sorted(ok(&mut c, &["SDIFF", "a", "b", "c"])),
        strs(&["1", "2"])
    );
    assert_eq!(ok(&mut c, &["SDIFF", "nokey", "a"]), Value::Array(vec![]));
    assert_eq!(ok(&mut c, &["SINTERSTORE", "d", "a", "b"]), vi(2));
    assert_eq!(encoding(&mut c, "d"), vb("intset"));
    assert_eq!(ok(&mut c, &["SUNIONSTORE", "d", "a", "c"]), vi(5));
    assert_eq!(encoding(&mut c, "d"), vb("hashtable"));
    assert_eq!(ok(&mut c, &["SDIFFSTORE", "d", "a", "b"]), vi(2));
    assert_eq!(sorted(ok(&mut c, &["SMEMBERS", "d"])), strs(&["1", "2"]));
    assert_eq!(ok(&mut c, &["SINTERSTORE", "d", "a", "nokey"]), vi(0));
    assert_eq!(ok(&mut c, &["EXISTS", "d"]), vi(0));
    // A STORE replaces a key of another type and its deadline.
    ok(&mut c, &["SET", "str", "v", "EX", "100"]);
    assert_eq!(ok(&mut c, &["SUNIONSTORE", "str", "a"]), vi(4));
    assert_eq!(ok(&mut c, &["TTL", "str"]), vi(-1));
    assert_eq!(
        ok(&mut c, &["TYPE", "str"]),
        Value::SimpleString("set".into())
    );
    // RESP3 answers sets with the set type.
    let mut r = Raw::new(&s);
    assert!(r.call(&["HELLO", "3"]).starts_with('%'));
    assert_eq!(
        r.call(&["SMEMBERS", "b"]),
        "~3\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n"
    );
    assert_eq!(r.call(&["SINTER", "b", "nokey"]), "~0\r\n");
    assert_eq!(r.call(&["SRANDMEMBER", "nokey", "3"]), "*0\r\n");
}

#[test]
fn sscan_and_keys_commands() {
    let s = Server::start();
    let mut c = s.client();
    assert_eq!(
        ok(&mut c, &["SSCAN", "nokey", "0"]),
        Value::Array(vec![vb("0"), Value::Array(vec![])])
    );
    ok(&mut c, &["SADD", "i", "10", "2", "30"]);
    assert_eq!(
        ok(&mut c, &["SSCAN", "i", "0", "MATCH", "*0"]),
        Value::Array(vec![vb("0"), Value::Array(vec![vb("10"), vb("30")])])
    );
    assert_eq!(err(&mut c, &["SSCAN", "i", "x"]), "ERR invalid cursor");
    assert_eq!(err(&mut c, &["SSCAN", "i", "0", "COUNT", "0"]), SYNTAX);
    let mut args = vec!["SADD".to_string(), "big".to_string()];
    for i in 0..1000 {
        args.push(format!("m{i}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(ok(&mut c, &args), vi(1000));
    let mut seen = std::collections::BTreeSet::new();
    let mut cursor = "0".to_string();
    loop {
        let Value::Array(r) = ok(&mut c, &["SSCAN", "big", &cursor, "COUNT", "30"]) else {
            panic!()
        };
        seen.extend(sorted(r[1].clone()));
        let Value::BulkString(next) = &r[0] else {
            panic!()
        };
        cursor = String::from_utf8(next.clone()).unwrap();
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 1000);
    assert_eq!(ok(&mut c, &["COPY", "big", "copy"]), vi(1));
    assert_eq!(ok(&mut c, &["RENAME", "copy", "moved"]), Value::Okay);
    assert_eq!(ok(&mut c, &["SCARD", "moved"]), vi(1000));
    let Value::Int(usage) = ok(&mut c, &["MEMORY", "USAGE", "moved"]) else {
        panic!()
    };
    assert!(usage > 1000 * 32, "{usage}");
    let Value::Array(scan) = ok(&mut c, &["SCAN", "0", "TYPE", "set", "COUNT", "100"]) else {
        panic!()
    };
    assert_eq!(sorted(scan[1].clone()), strs(&["big", "i", "moved"]));
}
