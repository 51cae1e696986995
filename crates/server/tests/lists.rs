//! List commands through the real binary, with replies checked against Redis 7.0.15 (encodings and LPOS RANK
//! bounds as Redis 7.2).

mod common;
mod raw;

use common::{cmd, err, ok, vb, vi, Server};
use raw::{int, Raw};
use redis::Value;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const SYNTAX: &str = "ERR syntax error";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const POSITIVE: &str = "ERR value is out of range, must be positive";

fn arity(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

fn arr(items: &[&str]) -> Value {
    Value::Array(items.iter().map(|s| vb(s)).collect())
}

fn range(c: &mut redis::Connection, key: &str) -> Value {
    ok(c, &["LRANGE", key, "0", "-1"])
}

fn encoding(c: &mut redis::Connection, key: &str) -> String {
    raw::bulk(&ok(c, &["OBJECT", "ENCODING", key]))
}

#[test]
fn push_and_pop_at_both_ends() {
    let s = Server::start();
    let mut c = s.client();
    assert_eq!(ok(&mut c, &["RPUSH", "l", "a", "b", "c"]), vi(3));
    assert_eq!(ok(&mut c, &["LPUSH", "l", "1", "2"]), vi(5));
    assert_eq!(range(&mut c, "l"), arr(&["2", "1", "a", "b", "c"]));
    assert_eq!(ok(&mut c, &["LPUSHX", "l", "x"]), vi(6));
    assert_eq!(ok(&mut c, &["RPUSHX", "l", "y", "z"]), vi(8));
    assert_eq!(ok(&mut c, &["LPUSHX", "none", "x"]), vi(0));
    assert_eq!(ok(&mut c, &["RPUSHX", "none", "x"]), vi(0));
    assert_eq!(ok(&mut c, &["EXISTS", "none"]), vi(0));
    assert_eq!(ok(&mut c, &["LLEN", "l"]), vi(8));
    assert_eq!(ok(&mut c, &["LLEN", "none"]), vi(0));
    assert_eq!(ok(&mut c, &["LPOP", "l"]), vb("x"));
    assert_eq!(ok(&mut c, &["RPOP", "l"]), vb("z"));
    assert_eq!(ok(&mut c, &["LPOP", "l", "2"]), arr(&["2", "1"]));
    assert_eq!(ok(&mut c, &["RPOP", "l", "2"]), arr(&["y", "c"]));
    assert_eq!(ok(&mut c, &["LPOP", "l", "0"]), arr(&[]));
    // A count far beyond the list takes what there is (and allocates nothing for the rest).
    assert_eq!(ok(&mut c, &["RPOP", "l", "1000000000"]), arr(&["b", "a"]));
    assert_eq!(ok(&mut c, &["EXISTS", "l"]), vi(0));
    assert_eq!(ok(&mut c, &["LPOP", "l"]), Value::Nil);
    assert_eq!(ok(&mut c, &["LPOP", "l", "3"]), Value::Nil);
    assert_eq!(err(&mut c, &["LPOP", "l", "-1"]), POSITIVE);
    assert_eq!(err(&mut c, &["RPOP", "l", "abc"]), POSITIVE);
    assert_eq!(err(&mut c, &["LPOP", "l", "1", "2"]), arity("lpop"));
    assert_eq!(err(&mut c, &["RPOP", "l", "1", "2"]), arity("rpop"));
    assert_eq!(err(&mut c, &["LPUSH", "l"]), arity("lpush"));
    assert_eq!(err(&mut c, &["RPUSHX", "l"]), arity("rpushx"));
    assert_eq!(err(&mut c, &["LPOP"]), arity("lpop"));
    // Binary-safe elements, integers kept as written.
    let bin: &[u8] = b"\x00\xff\r\n";
    assert_eq!(
        common::cmd_bytes(
            &mut c,
            &[b"RPUSH", b"b", bin, b"-0", b"007", b"9223372036854775808"]
        )
        .unwrap(),
        vi(4)
    );
    assert_eq!(
        range(&mut c, "b"),
        Value::Array(vec![
            Value::BulkString(bin.to_vec()),
            vb("-0"),
            vb("007"),
            vb("9223372036854775808")
        ])
    );
}

#[test]
fn null_and_empty_replies_in_resp2_and_resp3() {
    let s = Server::start();
    let mut r = Raw::new(&s);
    for (proto, null_bulk, null_array) in [("2", "$-1\r\n", "*-1\r\n"), ("3", "_\r\n", "_\r\n")] {
        assert!(r.call(&["HELLO", proto]).len() > 10);
        r.call(&["DEL", "l"]);
        assert_eq!(r.call(&["LPOP", "l"]), null_bulk);
        assert_eq!(r.call(&["RPOP", "l", "2"]), null_array);
        assert_eq!(r.call(&["LPOP", "l", "0"]), null_array);
        assert_eq!(r.call(&["LMPOP", "1", "l", "LEFT"]), null_array);
        assert_eq!(r.call(&["LMOVE", "l", "m", "LEFT", "LEFT"]), null_bulk);
        assert_eq!(r.call(&["RPOPLPUSH", "l", "m"]), null_bulk);
        assert_eq!(r.call(&["LPOS", "l", "a"]), null_bulk);
        assert_eq!(r.call(&["LPOS", "l", "a", "COUNT", "0"]), "*0\r\n");
        assert_eq!(r.call(&["LRANGE", "l", "0", "-1"]), "*0\r\n");
        assert_eq!(r.call(&["LINDEX", "l", "0"]), null_bulk);
        assert_eq!(r.call(&["RPUSH", "l", "a"]), ":1\r\n");
        assert_eq!(r.call(&["LPOP", "l", "0"]), "*0\r\n");
        assert_eq!(r.call(&["LINDEX", "l", "1"]), null_bulk);
        assert_eq!(r.call(&["LPOS", "l", "z"]), null_bulk);
        assert_eq!(r.call(&["LPOP", "l", "5"]), "*1\r\n$1\r\na\r\n");
    }
}

#[test]
fn lindex_lset_lrange_ltrim() {
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["RPUSH", "l", "a", "b", "c", "d", "e"]);
    assert_eq!(ok(&mut c, &["LINDEX", "l", "0"]), vb("a"));
    assert_eq!(ok(&mut c, &["LINDEX", "l", "-1"]), vb("e"));
    assert_eq!(ok(&mut c, &["LINDEX", "l", "5"]), Value::Nil);
    assert_eq!(ok(&mut c, &["LINDEX", "l", "-6"]), Value::Nil);
    assert_eq!(err(&mut c, &["LINDEX", "l", "x"]), NOT_INT);
    assert_eq!(ok(&mut c, &["LINDEX", "none", "x"]), Value::Nil);
    assert_eq!(ok(&mut c, &["LSET", "l", "1", "B"]), Value::Okay);
    assert_eq!(ok(&mut c, &["LSET", "l", "-1", "E"]), Value::Okay);
    assert_eq!(
        err(&mut c, &["LSET", "l", "5", "x"]),
        "ERR index out of range"
    );
    assert_eq!(
        err(&mut c, &["LSET", "l", "-6", "x"]),
        "ERR index out of range"
    );
    assert_eq!(err(&mut c, &["LSET", "none", "0", "x"]), "ERR no such key");
    assert_eq!(err(&mut c, &["LSET", "l", "x", "x"]), NOT_INT);
    assert_eq!(range(&mut c, "l"), arr(&["a", "B", "c", "d", "E"]));
    assert_eq!(
        ok(&mut c, &["LRANGE", "l", "1", "-2"]),
        arr(&["B", "c", "d"])
    );
    assert_eq!(ok(&mut c, &["LRANGE", "l", "-100", "1"]), arr(&["a", "B"]));
    assert_eq!(ok(&mut c, &["LRANGE", "l", "3", "1"]), arr(&[]));
    assert_eq!(ok(&mut c, &["LRANGE", "l", "10", "20"]), arr(&[]));
    assert_eq!(ok(&mut c, &["LRANGE", "none", "0", "-1"]), arr(&[]));
    assert_eq!(err(&mut c, &["LRANGE", "l", "0", "x"]), NOT_INT);
    assert_eq!(err(&mut c, &["LRANGE", "none", "x", "1"]), NOT_INT);
    assert_eq!(ok(&mut c, &["LTRIM", "l", "1", "-2"]), Value::Okay);
    assert_eq!(range(&mut c, "l"), arr(&["B", "c", "d"]));
    assert_eq!(ok(&mut c, &["LTRIM", "none", "0", "1"]), Value::Okay);
    assert_eq!(err(&mut c, &["LTRIM", "l", "a", "1"]), NOT_INT);
    assert_eq!(ok(&mut c, &["LTRIM", "l", "5", "10"]), Value::Okay);
    assert_eq!(ok(&mut c, &["EXISTS", "l"]), vi(0));
    for (name, args) in [
        ("lindex", &["LINDEX", "l"][..]),
        ("lset", &["LSET", "l", "0"]),
        ("lrange", &["LRANGE", "l", "0"]),
        ("ltrim", &["LTRIM", "l", "0", "1", "2"]),
        ("llen", &["LLEN", "l", "x"]),
    ] {
        assert_eq!(err(&mut c, args), arity(name), "{args:?}");
    }
}

#[test]
fn linsert_and_lrem() {
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["RPUSH", "l", "a", "b", "a", "c", "a"]);
    assert_eq!(ok(&mut c, &["LINSERT", "l", "BEFORE", "b", "x"]), vi(6));
    assert_eq!(ok(&mut c, &["LINSERT", "l", "after", "c", "y"]), vi(7));
    assert_eq!(ok(&mut c, &["LINSERT", "l", "after", "zz", "y"]), vi(-1));
    assert_eq!(ok(&mut c, &["LINSERT", "none", "after", "a", "y"]), vi(0));
    assert_eq!(err(&mut c, &["LINSERT", "l", "middle", "a", "y"]), SYNTAX);
    assert_eq!(
        err(&mut c, &["LINSERT", "l", "after", "a"]),
        arity("linsert")
    );
    assert_eq!(
        range(&mut c, "l"),
        arr(&["a", "x", "b", "a", "c", "y", "a"])
    );
    assert_eq!(ok(&mut c, &["LREM", "l", "-2", "a"]), vi(2));
    assert_eq!(range(&mut c, "l"), arr(&["a", "x", "b", "c", "y"]));
    assert_eq!(ok(&mut c, &["LREM", "l", "1", "x"]), vi(1));
    assert_eq!(ok(&mut c, &["LREM", "l", "0", "nothing"]), vi(0));
    assert_eq!(ok(&mut c, &["LREM", "none", "0", "a"]), vi(0));
    assert_eq!(err(&mut c, &["LREM", "l", "x", "a"]), NOT_INT);
    assert_eq!(err(&mut c, &["LREM", "l", "0"]), arity("lrem"));
    // Integers compare by their text.
    ok(&mut c, &["RPUSH", "n", "1", "01", "1", "-0", "0"]);
    assert_eq!(ok(&mut c, &["LREM", "n", "0", "1"]), vi(2));
    assert_eq!(range(&mut c, "n"), arr(&["01", "-0", "0"]));
    assert_eq!(ok(&mut c, &["LREM", "n", "0", "0"]), vi(1));
    ok(&mut c, &["DEL", "n"]);
    ok(&mut c, &["RPUSH", "n", "7", "7"]);
    assert_eq!(ok(&mut c, &["LREM", "n", "0", "7"]), vi(2));
    assert_eq!(ok(&mut c, &["EXISTS", "n"]), vi(0));
}

#[test]
fn lpos_options_and_errors() {
    let s = Server::start();
    let mut c = s.client();
    ok(
        &mut c,
        &["RPUSH", "l", "a", "b", "c", "1", "2", "3", "c", "c"],
    );
    let ints = |v: &[i64]| Value::Array(v.iter().map(|i| vi(*i)).collect());
    assert_eq!(ok(&mut c, &["LPOS", "l", "c"]), vi(2));
    assert_eq!(ok(&mut c, &["LPOS", "l", "2"]), vi(4));
    assert_eq!(ok(&mut c, &["LPOS", "l", "c", "RANK", "2"]), vi(6));
    assert_eq!(ok(&mut c, &["LPOS", "l", "c", "RANK", "-1"]), vi(7));
    assert_eq!(ok(&mut c, &["LPOS", "l", "c", "RANK", "4"]), Value::Nil);
    assert_eq!(
        ok(&mut c, &["LPOS", "l", "c", "COUNT", "0"]),
        ints(&[2, 6, 7])
    );
    assert_eq!(
        ok(&mut c, &["LPOS", "l", "c", "COUNT", "2", "RANK", "-1"]),
        ints(&[7, 6])
    );
    assert_eq!(
        ok(&mut c, &["LPOS", "l", "c", "COUNT", "0", "MAXLEN", "7"]),
        ints(&[2, 6])
    );
    assert_eq!(
        ok(&mut c, &["LPOS", "l", "c", "RANK", "-1", "MAXLEN", "1"]),
        vi(7)
    );
    assert_eq!(ok(&mut c, &["LPOS", "l", "c", "MAXLEN", "2"]), Value::Nil);
    assert_eq!(ok(&mut c, &["LPOS", "none", "c", "COUNT", "1"]), ints(&[]));
    assert_eq!(
        err(&mut c, &["LPOS", "l", "c", "RANK", "0"]),
        "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use \
         negative to start from the end of the list"
    );
    assert_eq!(err(&mut c, &["LPOS", "l", "c", "RANK", "x"]), NOT_INT);
    assert_eq!(
        err(&mut c, &["LPOS", "l", "c", "RANK", "-9223372036854775808"]),
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    );
    assert_eq!(
        err(&mut c, &["LPOS", "l", "c", "COUNT", "-1"]),
        "ERR COUNT can't be negative"
    );
    assert_eq!(
        err(&mut c, &["LPOS", "l", "c", "COUNT", "x"]),
        "ERR COUNT can't be negative"
    );
    assert_eq!(
        err(&mut c, &["LPOS", "l", "c", "MAXLEN", "-5"]),
        "ERR MAXLEN can't be negative"
    );
    assert_eq!(err(&mut c, &["LPOS", "l", "c", "RANK"]), SYNTAX);
    assert_eq!(err(&mut c, &["LPOS", "l", "c", "BOGUS", "1"]), SYNTAX);
    assert_eq!(err(&mut c, &["LPOS", "l"]), arity("lpos"));
}

#[test]
fn lmove_rpoplpush_and_lmpop() {
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["RPUSH", "src", "a", "b", "c", "d"]);
    assert_eq!(
        ok(&mut c, &["LMOVE", "src", "dst", "LEFT", "RIGHT"]),
        vb("a")
    );
    assert_eq!(
        ok(&mut c, &["LMOVE", "src", "dst", "right", "left"]),
        vb("d")
    );
    assert_eq!(ok(&mut c, &["RPOPLPUSH", "src", "dst"]), vb("c"));
    assert_eq!(range(&mut c, "dst"), arr(&["c", "d", "a"]));
    // Same list: a rotation.
    assert_eq!(
        ok(&mut c, &["LMOVE", "dst", "dst", "LEFT", "RIGHT"]),
        vb("c")
    );
    assert_eq!(range(&mut c, "dst"), arr(&["d", "a", "c"]));
    assert_eq!(ok(&mut c, &["RPOPLPUSH", "src", "dst"]), vb("b"));
    assert_eq!(ok(&mut c, &["EXISTS", "src"]), vi(0));
    assert_eq!(ok(&mut c, &["RPOPLPUSH", "src", "dst"]), Value::Nil);
    assert_eq!(
        ok(&mut c, &["LMOVE", "src", "dst", "LEFT", "LEFT"]),
        Value::Nil
    );
    assert_eq!(err(&mut c, &["LMOVE", "dst", "x", "UP", "LEFT"]), SYNTAX);
    assert_eq!(err(&mut c, &["LMOVE", "dst", "x", "LEFT", "DOWN"]), SYNTAX);
    assert_eq!(err(&mut c, &["LMOVE", "dst", "x", "LEFT"]), arity("lmove"));
    assert_eq!(err(&mut c, &["RPOPLPUSH", "dst"]), arity("rpoplpush"));
    ok(&mut c, &["SET", "str", "v"]);
    assert_eq!(
        err(&mut c, &["LMOVE", "dst", "str", "LEFT", "LEFT"]),
        WRONGTYPE
    );
    assert_eq!(err(&mut c, &["RPOPLPUSH", "str", "dst"]), WRONGTYPE);
    assert_eq!(ok(&mut c, &["LLEN", "dst"]), vi(4));

    ok(&mut c, &["RPUSH", "b", "1", "2", "3"]);
    assert_eq!(
        ok(&mut c, &["LMPOP", "3", "none", "dst", "b", "LEFT"]),
        Value::Array(vec![vb("dst"), arr(&["b"])])
    );
    assert_eq!(
        ok(&mut c, &["LMPOP", "2", "none", "b", "RIGHT", "COUNT", "2"]),
        Value::Array(vec![vb("b"), arr(&["3", "2"])])
    );
    assert_eq!(ok(&mut c, &["LMPOP", "1", "none", "LEFT"]), Value::Nil);
    assert_eq!(
        err(&mut c, &["LMPOP", "2", "none", "str", "LEFT"]),
        WRONGTYPE
    );
    let numkeys = "ERR numkeys should be greater than 0";
    assert_eq!(err(&mut c, &["LMPOP", "0", "b", "LEFT"]), numkeys);
    assert_eq!(err(&mut c, &["LMPOP", "x", "b", "LEFT"]), numkeys);
    assert_eq!(err(&mut c, &["LMPOP", "5", "b", "LEFT"]), SYNTAX);
    assert_eq!(err(&mut c, &["LMPOP", "1", "b", "MIDDLE"]), SYNTAX);
    let count = "ERR count should be greater than 0";
    assert_eq!(
        err(&mut c, &["LMPOP", "1", "b", "LEFT", "COUNT", "0"]),
        count
    );
    assert_eq!(
        err(&mut c, &["LMPOP", "1", "b", "LEFT", "COUNT", "-3"]),
        count
    );
    assert_eq!(
        err(
            &mut c,
            &["LMPOP", "1", "b", "LEFT", "COUNT", "1", "COUNT", "1"]
        ),
        SYNTAX
    );
    assert_eq!(err(&mut c, &["LMPOP", "1", "b"]), arity("lmpop"));
    assert_eq!(
        ok(
            &mut c,
            &["COMMAND", "GETKEYS", "LMPOP", "2", "a", "b", "LEFT"]
        ),
        arr(&["a", "b"])
    );
    assert_eq!(
        err(&mut c, &["COMMAND", "GETKEYS", "LMPOP", "3", "a", "LEFT"]),
        "ERR Invalid arguments specified for command"
    );
}

#[test]
fn wrongtype_on_every_command() {
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["SET", "s", "x"]);
    ok(&mut c, &["RPUSH", "l", "a"]);
    for args in [
        &["LPUSH", "s", "a"][..],
        &["RPUSH", "s", "a"],
        &["LPUSHX", "s", "a"],
        &["RPUSHX", "s", "a"],
        &["LPOP", "s"],
        &["RPOP", "s", "0"],
        &["LRANGE", "s", "0", "-1"],
        &["LLEN", "s"],
        &["LINDEX", "s", "0"],
        &["LSET", "s", "0", "a"],
        &["LINSERT", "s", "BEFORE", "a", "b"],
        &["LREM", "s", "0", "a"],
        &["LTRIM", "s", "0", "1"],
        &["LPOS", "s", "a"],
        &["LMOVE", "s", "l", "LEFT", "LEFT"],
        &["RPOPLPUSH", "l", "s"],
        &["LMPOP", "1", "s", "LEFT"],
    ] {
        assert_eq!(err(&mut c, args), WRONGTYPE, "{args:?}");
    }
    for args in [
        &["GET", "l"][..],
        &["APPEND", "l", "x"],
        &["INCR", "l"],
        &["STRLEN", "l"],
        &["SETRANGE", "l", "0", "x"],
        &["GETBIT", "l", "0"],
    ] {
        assert_eq!(err(&mut c, args), WRONGTYPE, "{args:?}");
    }
    assert_eq!(range(&mut c, "l"), arr(&["a"]));
}

#[test]
fn keys_commands_know_lists() {
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["RPUSH", "l", "a", "b"]);
    ok(&mut c, &["SET", "s", "x"]);
    assert_eq!(
        ok(&mut c, &["TYPE", "l"]),
        Value::SimpleString("list".into())
    );
    assert_eq!(encoding(&mut c, "l"), "listpack");
    assert_eq!(ok(&mut c, &["COPY", "l", "c"]), vi(1));
    ok(&mut c, &["RPUSH", "c", "z"]);
    assert_eq!(range(&mut c, "l"), arr(&["a", "b"]));
    assert_eq!(range(&mut c, "c"), arr(&["a", "b", "z"]));
    assert_eq!(ok(&mut c, &["RENAME", "c", "r"]), Value::Okay);
    assert_eq!(range(&mut c, "r"), arr(&["a", "b", "z"]));
    let Value::Array(scan) = ok(&mut c, &["SCAN", "0", "TYPE", "list", "COUNT", "100"]) else {
        panic!("scan reply");
    };
    let mut keys: Vec<String> = match &scan[1] {
        Value::Array(k) => k.iter().map(raw::bulk).collect(),
        other => panic!("{other:?}"),
    };
    keys.sort();
    assert_eq!(keys, ["l", "r"]);
    let usage = int(&ok(&mut c, &["MEMORY", "USAGE", "l"]));
    assert!(usage > 0 && usage < 300, "{usage}");
    ok(&mut c, &["EXPIRE", "l", "100"]);
    ok(&mut c, &["RPUSH", "l", "c"]);
    assert!(int(&ok(&mut c, &["TTL", "l"])) > 0, "a push keeps the TTL");
    ok(&mut c, &["LPOP", "l", "3"]);
    assert_eq!(ok(&mut c, &["EXISTS", "l"]), vi(0));
}

#[test]
fn encoding_follows_list_max_listpack_size() {
    let s = Server::start_with(&["--list-max-ziplist-size", "4"]);
    let mut c = s.client();
    assert_eq!(
        ok(&mut c, &["CONFIG", "GET", "list-max-listpack-size"]),
        Value::Array(vec![vb("list-max-listpack-size"), vb("4")])
    );
    ok(&mut c, &["RPUSH", "l", "1", "2", "3", "4"]);
    assert_eq!(encoding(&mut c, "l"), "listpack");
    ok(&mut c, &["RPUSH", "l", "5"]);
    assert_eq!(encoding(&mut c, "l"), "quicklist");
    // Back to listpack only once within half the limit, in a single node.
    ok(&mut c, &["RPOP", "l"]);
    assert_eq!(encoding(&mut c, "l"), "quicklist");
    ok(&mut c, &["LTRIM", "l", "0", "1"]);
    assert_eq!(encoding(&mut c, "l"), "listpack");

    // The default: 8 KB per node.
    assert_eq!(
        ok(&mut c, &["CONFIG", "SET", "list-max-ziplist-size", "-2"]),
        Value::Okay
    );
    assert_eq!(
        ok(&mut c, &["CONFIG", "GET", "list-max-ziplist-size"]),
        Value::Array(vec![vb("list-max-ziplist-size"), vb("-2")])
    );
    let big = "x".repeat(5000);
    ok(&mut c, &["RPUSH", "m", &big]);
    assert_eq!(encoding(&mut c, "m"), "listpack");
    ok(&mut c, &["RPUSH", "m", &big]);
    assert_eq!(encoding(&mut c, "m"), "quicklist");
    // One node of 5 KB left: above half the limit, so still a quicklist until the element shrinks.
    ok(&mut c, &["RPOP", "m"]);
    assert_eq!(encoding(&mut c, "m"), "quicklist");
    ok(&mut c, &["LSET", "m", "0", "small"]);
    assert_eq!(encoding(&mut c, "m"), "listpack");
    ok(&mut c, &["CONFIG", "SET", "list-compress-depth", "2"]);
    assert_eq!(
        ok(&mut c, &["CONFIG", "GET", "list-compress-depth"]),
        Value::Array(vec![vb("list-compress-depth"), vb("2")])
    );
    assert!(err(&mut c, &["CONFIG", "SET", "list-compress-depth", "-1"])
        .starts_with("ERR CONFIG SET failed"));
}

#[test]
fn long_lists_across_many_nodes() {
    let s = Server::start();
    let mut c = s.client();
    let n = 20_000;
    let mut want: Vec<String> = Vec::with_capacity(n);
    for chunk in 0..(n / 1000) {
        let items: Vec<String> = (0..1000)
            .map(|i| {
                let k = chunk * 1000 + i;
                if k % 3 == 0 {
                    k.to_string()
                } else {
                    format!("item-{k}")
                }
            })
            .collect();
        let mut args = vec!["RPUSH", "big"];
        args.extend(items.iter().map(String::as_str));
        ok(&mut c, &args);
        want.extend(items);
    }
    assert_eq!(encoding(&mut c, "big"), "quicklist");
    for i in [0usize, 1, 999, 1000, 7777, 10_000, 19_998, 19_999] {
        assert_eq!(ok(&mut c, &["LINDEX", "big", &i.to_string()]), vb(&want[i]));
        let neg = format!("-{}", n - i);
        assert_eq!(ok(&mut c, &["LINDEX", "big", &neg]), vb(&want[i]));
    }
    let Value::Array(mid) = ok(&mut c, &["LRANGE", "big", "9990", "10010"]) else {
        panic!("range");
    };
    assert_eq!(
        mid,
        want[9990..=10010].iter().map(|s| vb(s)).collect::<Vec<_>>()
    );
    assert_eq!(
        ok(&mut c, &["LSET", "big", "12345", "changed"]),
        Value::Okay
    );
    want[12345] = "changed".into();
    assert_eq!(
        ok(&mut c, &["LINSERT", "big", "AFTER", "changed", "new"]),
        vi(20_001)
    );
    want.insert(12346, "new".into());
    assert_eq!(ok(&mut c, &["LPOS", "big", "new"]), vi(12346));
    assert_eq!(ok(&mut c, &["LREM", "big", "0", "changed"]), vi(1));
    want.remove(12345);
    assert_eq!(ok(&mut c, &["LTRIM", "big", "100", "-101"]), Value::Okay);
    let want: Vec<String> = want[100..want.len() - 100].to_vec();
    let Value::Array(all) = range(&mut c, "big") else {
        panic!("range");
    };
    assert_eq!(all.len(), want.len());
    assert!(all.iter().zip(&want).all(|(a, b)| *a == vb(b)));
    let usage = int(&ok(&mut c, &["MEMORY", "USAGE", "big"]));
    // Packed: well under 20 bytes an element of 9-10 bytes.
    assert!(usage < 20 * 20_000, "{usage}");
    let Value::Array(popped) = ok(&mut c, &["RPOP", "big", "5"]) else {
        panic!("pop");
    };
    assert_eq!(
        popped,
        want.iter().rev().take(5).map(|s| vb(s)).collect::<Vec<_>>()
    );
    let _ = cmd(&mut c, &["DEL", "big"]);
}
