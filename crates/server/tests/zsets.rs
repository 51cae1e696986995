//! Sorted set commands through the real binary, with replies checked against Redis 7.0.15 (ZRANK/ZREVRANK
//! WITHSCORE as Redis 7.2).

mod common;
mod raw;

use common::{cmd, cmd_bytes, err, ok, vi, Server};
use raw::{int, Raw};
use redis::Value;

const SYNTAX: &str = "ERR syntax error";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const NOT_FLOAT: &str = "ERR value is not a valid float";
const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const RANGE_FLOAT: &str = "ERR min or max is not a float";
const RANGE_LEX: &str = "ERR min or max not valid string range item";

fn arity(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

/// A reply as compact text: arrays in brackets, strings bare, nil as `nil`, doubles and integers as numbers.
fn show(v: &Value) -> String {
    match v {
        Value::Nil => "nil".into(),
        Value::Int(i) => i.to_string(),
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Okay => "OK".into(),
        Value::Double(d) => d.to_string(),
        Value::Array(items) | Value::Set(items) => {
            format!("[{}]", items.iter().map(show).collect::<Vec<_>>().join(" "))
        }
        other => format!("{other:?}"),
    }
}

fn q(c: &mut redis::Connection, args: &[&str]) -> String {
    show(&ok(c, args))
}

fn encoding(c: &mut redis::Connection, key: &str) -> String {
    q(c, &["OBJECT", "ENCODING", key])
}

#[test]
fn zadd_options_and_errors() {
    let s = Server::start();
    let mut c = s.client();
    assert_eq!(q(&mut c, &["ZADD", "z", "1", "a", "2", "b", "3", "c"]), "3");
    assert_eq!(q(&mut c, &["ZADD", "z", "1", "a", "5", "b", "0", "d"]), "1");
    assert_eq!(
        q(&mut c, &["ZADD", "z", "CH", "1", "a", "6", "b", "9", "e"]),
        "2"
    );
    assert_eq!(q(&mut c, &["ZADD", "z", "XX", "7", "b", "1", "new"]), "0");
    assert_eq!(q(&mut c, &["ZSCORE", "z", "b"]), "7");
    assert_eq!(q(&mut c, &["ZSCORE", "z", "new"]), "nil");
    assert_eq!(q(&mut c, &["ZADD", "z", "NX", "100", "b", "4", "f"]), "1");
    assert_eq!(q(&mut c, &["ZSCORE", "z", "b"]), "7");
    assert_eq!(
        q(&mut c, &["ZADD", "z", "GT", "CH", "1", "b", "8", "c"]),
        "1"
    );
    assert_eq!(
        q(&mut c, &["ZADD", "z", "LT", "CH", "9", "b", "-1", "c"]),
        "1"
    );
    assert_eq!(
        q(
            &mut c,
            &["ZADD", "z", "XX", "GT", "CH", "10", "b", "1", "zz"]
        ),
        "1"
    );
    assert_eq!(q(&mut c, &["ZADD", "z", "INCR", "2.5", "a"]), "3.5");
    assert_eq!(q(&mut c, &["ZADD", "z", "INCR", "NX", "1", "a"]), "nil");
    assert_eq!(q(&mut c, &["ZADD", "z", "INCR", "LT", "1", "a"]), "nil");
    assert_eq!(q(&mut c, &["ZADD", "nokey", "XX", "1", "a"]), "0");
    assert_eq!(q(&mut c, &["ZADD", "nokey", "XX", "INCR", "1", "a"]), "nil");
    assert_eq!(q(&mut c, &["EXISTS", "nokey"]), "0");
    assert_eq!(q(&mut c, &["ZINCRBY", "z", "-1.5", "a"]), "2");
    assert_eq!(q(&mut c, &["ZINCRBY", "fresh", "5", "m"]), "5");
    assert_eq!(
        q(&mut c, &["ZADD", "z", "inf", "i", "-inf", "j", "0x10", "h"]),
        "3"
    );
    assert_eq!(q(&mut c, &["ZSCORE", "z", "i"]), "inf");
    assert_eq!(q(&mut c, &["ZSCORE", "z", "h"]), "16");
    assert_eq!(
        err(&mut c, &["ZINCRBY", "z", "-inf", "i"]),
        "ERR resulting score is not a number (NaN)"
    );
    assert_eq!(
        err(&mut c, &["ZADD", "z", "INCR", "+inf", "j"]),
        "ERR resulting score is not a number (NaN)"
    );
    for bad in ["nan", "abc", "1e400", " 1", "1 ", ""] {
        assert_eq!(err(&mut c, &["ZADD", "z", bad, "x"]), NOT_FLOAT, "{bad:?}");
    }
    assert_eq!(err(&mut c, &["ZINCRBY", "z", "nan", "x"]), NOT_FLOAT);
    // A bad score anywhere leaves the set untouched.
    assert_eq!(
        err(&mut c, &["ZADD", "z", "1", "x1", "bad", "x2"]),
        NOT_FLOAT
    );
    assert_eq!(q(&mut c, &["ZSCORE", "z", "x1"]), "nil");
    assert_eq!(err(&mut c, &["ZADD", "z", "1", "a", "2"]), SYNTAX);
    assert_eq!(err(&mut c, &["ZADD", "z", "NX", "XX"]), SYNTAX);
    assert_eq!(err(&mut c, &["ZINCRBY", "z", "NX", "1"]), SYNTAX);
    assert_eq!(
        err(&mut c, &["ZADD", "z", "NX", "XX", "1", "a"]),
        "ERR XX and NX options at the same time are not compatible"
    );
    for opts in [["GT", "LT"], ["GT", "NX"], ["NX", "LT"]] {
        assert_eq!(
            err(&mut c, &["ZADD", "z", opts[0], opts[1], "1", "a"]),
            "ERR GT, LT, and/or NX options at the same time are not compatible"
        );
    }
    assert_eq!(
        err(&mut c, &["ZADD", "z", "INCR", "1", "a", "2", "b"]),
        "ERR INCR option supports a single increment-element pair"
    );
    assert_eq!(err(&mut c, &["ZADD", "z", "1"]), arity("zadd"));
    assert_eq!(err(&mut c, &["ZINCRBY", "z", "1"]), arity("zincrby"));
    ok(&mut c, &["SET", "str", "x"]);
    assert_eq!(err(&mut c, &["ZADD", "str", "1", "a"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["ZINCRBY", "str", "1", "a"]), WRONGTYPE);
    // Binary-safe members.
    let member: &[u8] = b"\x00\xff\r\n";
    assert_eq!(
        cmd_bytes(&mut c, &[b"ZADD", b"bin", b"1", member]).unwrap(),
        vi(1)
    );
    assert_eq!(
        cmd_bytes(&mut c, &[b"ZRANGE", b"bin", b"0", b"-1"]).unwrap(),
        Value::Array(vec![Value::BulkString(member.to_vec())])
    );
}

#[test]
fn read_commands_and_errors() {
    let s = Server::start();
    let mut c = s.client();
    ok(
        &mut c,
        &["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"],
    );
    ok(&mut c, &["SET", "str", "x"]);
    assert_eq!(q(&mut c, &["ZCARD", "z"]), "4");
    assert_eq!(q(&mut c, &["ZCARD", "nokey"]), "0");
    assert_eq!(q(&mut c, &["ZCOUNT", "z", "(1", "3"]), "2");
    assert_eq!(q(&mut c, &["ZCOUNT", "z", "-inf", "+inf"]), "4");
    assert_eq!(q(&mut c, &["ZCOUNT", "z", "", ""]), "0");
    assert_eq!(q(&mut c, &["ZCOUNT", "nokey", "0", "1"]), "0");
    assert_eq!(err(&mut c, &["ZCOUNT", "z", "x", "1"]), RANGE_FLOAT);
    assert_eq!(err(&mut c, &["ZCOUNT", "z", "nan", "1"]), RANGE_FLOAT);
    assert_eq!(q(&mut c, &["ZLEXCOUNT", "z", "[b", "+"]), "3");
    assert_eq!(q(&mut c, &["ZLEXCOUNT", "z", "-", "(b"]), "1");
    assert_eq!(err(&mut c, &["ZLEXCOUNT", "z", "b", "+"]), RANGE_LEX);
    assert_eq!(err(&mut c, &["ZLEXCOUNT", "z", "-", "++"]), RANGE_LEX);
    assert_eq!(q(&mut c, &["ZSCORE", "z", "c"]), "3");
    assert_eq!(q(&mut c, &["ZSCORE", "nokey", "c"]), "nil");
    assert_eq!(q(&mut c, &["ZMSCORE", "z", "a", "x", "d"]), "[1 nil 4]");
    assert_eq!(q(&mut c, &["ZMSCORE", "nokey", "a"]), "[nil]");
    assert_eq!(q(&mut c, &["ZRANK", "z", "c"]), "2");
    assert_eq!(q(&mut c, &["ZREVRANK", "z", "c"]), "1");
    assert_eq!(q(&mut c, &["ZRANK", "z", "c", "WITHSCORE"]), "[2 3]");
    assert_eq!(q(&mut c, &["ZREVRANK", "z", "a", "withscore"]), "[3 1]");
    assert_eq!(q(&mut c, &["ZRANK", "z", "x"]), "nil");
    assert_eq!(q(&mut c, &["ZRANK", "z", "x", "WITHSCORE"]), "nil");
    assert_eq!(err(&mut c, &["ZRANK", "z", "a", "WITHSCORES"]), SYNTAX);
    assert_eq!(
        err(&mut c, &["ZRANK", "z", "a", "WITHSCORE", "x"]),
        arity("zrank")
    );
    for (name, args) in [
        ("zcard", &["ZCARD"][..]),
        ("zcount", &["ZCOUNT", "z", "1"]),
        ("zlexcount", &["ZLEXCOUNT", "z", "-"]),
        ("zscore", &["ZSCORE", "z"]),
        ("zmscore", &["ZMSCORE", "z"]),
        ("zrank", &["ZRANK", "z"]),
        ("zrevrank", &["ZREVRANK", "z"]),
    ] {
        assert_eq!(err(&mut c, args), arity(name));
    }
    for args in [
        &["ZCARD", "str"][..],
        &["ZCOUNT", "str", "0", "1"],
        &["ZLEXCOUNT", "str", "-", "+"],
        &["ZSCORE", "str", "a"],
        &["ZMSCORE", "str", "a"],
        &["ZRANK", "str", "a"],
        &["ZREVRANK", "str", "a", "WITHSCORE"],
    ] {
        assert_eq!(err(&mut c, args), WRONGTYPE, "{args:?}");
    }
}

#[test]
fn ranges_in_both_encodings() {
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["SET", "str", "x"]);
    for (key, big) in [("small", false), ("big", true)] {
        let mut args = vec!["ZADD".to_string(), key.to_string()];
        for (i, m) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            args.push((i + 1).to_string());
            args.push(m.to_string());
        }
        if big {
            for i in 0..200 {
                args.push("100".into());
                args.push(format!("pad{i:03}"));
            }
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(&mut c, &refs);
        assert_eq!(
            encoding(&mut c, key),
            if big { "skiplist" } else { "listpack" }
        );
        assert_eq!(q(&mut c, &["ZRANGE", key, "0", "2"]), "[a b c]");
        assert_eq!(
            q(&mut c, &["ZRANGE", key, "-205", "1", "WITHSCORES"]),
            "[a 1 b 2]"
        );
        assert_eq!(
            q(&mut c, &["ZRANGE", key, "0", "1", "REV"]),
            if big { "[pad199 pad198]" } else { "[e d]" }
        );
        assert_eq!(
            q(&mut c, &["ZREVRANGE", key, "0", "0"]).starts_with("[pad"),
            big
        );
        assert_eq!(q(&mut c, &["ZRANGE", key, "3", "1"]), "[]");
        assert_eq!(q(&mut c, &["ZRANGE", key, "(1", "3", "BYSCORE"]), "[b c]");
        assert_eq!(
            q(
                &mut c,
                &["ZRANGE", key, "(5", "-inf", "BYSCORE", "REV", "WITHSCORES"]
            ),
            "[d 4 c 3 b 2 a 1]"
        );
        assert_eq!(
            q(
                &mut c,
                &["ZRANGE", key, "-inf", "+inf", "BYSCORE", "LIMIT", "1", "2"]
            ),
            "[b c]"
        );
        assert_eq!(
            q(
                &mut c,
                &[
                    "ZRANGEBYSCORE",
                    key,
                    "2",
                    "4",
                    "WITHSCORES",
                    "LIMIT",
                    "1",
                    "-1"
                ]
            ),
            "[c 3 d 4]"
        );
        assert_eq!(
            q(
                &mut c,
                &["ZRANGEBYSCORE", key, "-inf", "inf", "LIMIT", "-1", "5"]
            ),
            "[]"
        );
        assert_eq!(
            q(&mut c, &["ZREVRANGEBYSCORE", key, "4", "(2", "WITHSCORES"]),
            "[d 4 c 3]"
        );
        assert_eq!(
            q(
                &mut c,
                &["ZREVRANGEBYSCORE", key, "4", "(2", "LIMIT", "1", "1"]
            ),
            "[c]"
        );
        assert_eq!(q(&mut c, &["ZRANGEBYSCORE", key, "5", "1"]), "[]");
        assert_eq!(q(&mut c, &["ZRANGEBYSCORE", key, "(1", "(1"]), "[]");
    }
    // Lex ranges need equal scores.
    ok(
        &mut c,
        &["ZADD", "lex", "0", "a", "0", "b", "0", "c", "0", "d"],
    );
    assert_eq!(q(&mut c, &["ZRANGEBYLEX", "lex", "[b", "(d"]), "[b c]");
    assert_eq!(
        q(&mut c, &["ZRANGEBYLEX", "lex", "-", "+", "LIMIT", "1", "2"]),
        "[b c]"
    );
    assert_eq!(q(&mut c, &["ZREVRANGEBYLEX", "lex", "+", "(b"]), "[d c]");
    assert_eq!(
        q(&mut c, &["ZRANGE", "lex", "[c", "-", "BYLEX", "REV"]),
        "[c b a]"
    );
    assert_eq!(
        q(
            &mut c,
            &["ZRANGE", "lex", "-", "+", "BYLEX", "LIMIT", "0", "1"]
        ),
        "[a]"
    );
    assert_eq!(q(&mut c, &["ZRANGE", "nokey", "0", "-1"]), "[]");
    assert_eq!(q(&mut c, &["ZRANGEBYLEX", "nokey", "-", "+"]), "[]");
    // Errors, in Redis' order: options, conflicts, then the range, then the key.
    assert_eq!(
        err(&mut c, &["ZRANGE", "lex", "0", "-1", "LIMIT", "0", "1"]),
        "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
    );
    assert_eq!(
        err(&mut c, &["ZRANGE", "lex", "-", "+", "BYLEX", "WITHSCORES"]),
        "ERR syntax error, WITHSCORES not supported in combination with BYLEX"
    );
    assert_eq!(
        err(&mut c, &["ZRANGEBYLEX", "lex", "-", "+", "WITHSCORES"]),
        "ERR syntax error, WITHSCORES not supported in combination with BYLEX"
    );
    assert_eq!(
        err(&mut c, &["ZRANGE", "lex", "0", "1", "BYSCORE", "BYLEX"]),
        SYNTAX
    );
    assert_eq!(
        err(&mut c, &["ZRANGE", "lex", "0", "1", "LIMIT", "0"]),
        SYNTAX
    );
    assert_eq!(
        err(&mut c, &["ZRANGE", "lex", "0", "1", "LIMIT", "x", "1"]),
        NOT_INT
    );
    assert_eq!(err(&mut c, &["ZREVRANGE", "lex", "0", "1", "REV"]), SYNTAX);
    assert_eq!(
        err(&mut c, &["ZRANGEBYSCORE", "lex", "0", "1", "BYSCORE"]),
        SYNTAX
    );
    assert_eq!(err(&mut c, &["ZRANGE", "lex", "a", "1"]), NOT_INT);
    assert_eq!(
        err(&mut c, &["ZRANGE", "lex", "a", "1", "BYSCORE"]),
        RANGE_FLOAT
    );
    assert_eq!(
        err(&mut c, &["ZRANGEBYSCORE", "lex", "1", "(x"]),
        RANGE_FLOAT
    );
    assert_eq!(err(&mut c, &["ZRANGEBYLEX", "lex", "a", "+"]), RANGE_LEX);
    assert_eq!(err(&mut c, &["ZRANGE", "str", "0", "1"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["ZRANGEBYSCORE", "str", "0", "1"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["ZREVRANGEBYLEX", "str", "+", "-"]), WRONGTYPE);
    for name in [
        "zrange",
        "zrevrange",
        "zrangebyscore",
        "zrevrangebyscore",
        "zrangebylex",
        "zrevrangebylex",
    ] {
        assert_eq!(err(&mut c, &[name, "z", "0"]), arity(name));
    }
    assert_eq!(
        err(&mut c, &["ZRANGESTORE", "d", "z", "0"]),
        arity("zrangestore")
    );
}

#[test]
fn zrangestore_and_removals() {
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["SET", "str", "x"]);
    ok(
        &mut c,
        &[
            "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e",
        ],
    );
    assert_eq!(q(&mut c, &["ZRANGESTORE", "dst", "z", "1", "-2"]), "3");
    assert_eq!(
        q(&mut c, &["ZRANGE", "dst", "0", "-1", "WITHSCORES"]),
        "[b 2 c 3 d 4]"
    );
    assert_eq!(
        q(
            &mut c,
            &[
                "ZRANGESTORE",
                "dst",
                "z",
                "+inf",
                "(3",
                "BYSCORE",
                "REV",
                "LIMIT",
                "0",
                "1"
            ]
        ),
        "1"
    );
    assert_eq!(
        q(&mut c, &["ZRANGE", "dst", "0", "-1", "WITHSCORES"]),
        "[e 5]"
    );
    assert_eq!(
        q(&mut c, &["ZRANGESTORE", "dst", "z", "[b", "[c", "BYLEX"]),
        "2"
    );
    assert_eq!(q(&mut c, &["ZRANGE", "dst", "0", "-1"]), "[b c]");
    // An empty result deletes the destination, whatever it held.
    ok(&mut c, &["SET", "dst2", "v"]);
    assert_eq!(q(&mut c, &["ZRANGESTORE", "dst2", "z", "10", "20"]), "0");
    assert_eq!(q(&mut c, &["EXISTS", "dst2"]), "0");
    assert_eq!(q(&mut c, &["ZRANGESTORE", "dst", "nokey", "0", "-1"]), "0");
    assert_eq!(q(&mut c, &["EXISTS", "dst"]), "0");
    assert_eq!(
        err(
            &mut c,
            &["ZRANGESTORE", "dst", "z", "0", "-1", "WITHSCORES"]
        ),
        SYNTAX
    );
    assert_eq!(
        err(&mut c, &["ZRANGESTORE", "dst", "str", "0", "-1"]),
        WRONGTYPE
    );
    // A destination with a deadline loses it.
    ok(&mut c, &["ZADD", "ttl", "1", "x"]);
    ok(&mut c, &["EXPIRE", "ttl", "100"]);
    assert_eq!(q(&mut c, &["ZRANGESTORE", "ttl", "z", "0", "0"]), "1");
    assert_eq!(q(&mut c, &["TTL", "ttl"]), "-1");

    assert_eq!(q(&mut c, &["ZREM", "z", "a", "nope", "b"]), "2");
    assert_eq!(q(&mut c, &["ZREM", "nokey", "a"]), "0");
    assert_eq!(err(&mut c, &["ZREM", "str", "a"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["ZREM", "z"]), arity("zrem"));
    assert_eq!(q(&mut c, &["ZREMRANGEBYSCORE", "z", "(3", "4"]), "1");
    assert_eq!(q(&mut c, &["ZRANGE", "z", "0", "-1"]), "[c e]");
    assert_eq!(q(&mut c, &["ZREMRANGEBYRANK", "z", "-1", "-1"]), "1");
    assert_eq!(q(&mut c, &["ZREMRANGEBYRANK", "z", "5", "10"]), "0");
    assert_eq!(q(&mut c, &["ZREMRANGEBYRANK", "z", "0", "0"]), "1");
    assert_eq!(q(&mut c, &["EXISTS", "z"]), "0");
    ok(&mut c, &["ZADD", "lex", "0", "a", "0", "b", "0", "c"]);
    assert_eq!(q(&mut c, &["ZREMRANGEBYLEX", "lex", "(a", "+"]), "2");
    assert_eq!(q(&mut c, &["ZREMRANGEBYLEX", "lex", "-", "+"]), "1");
    assert_eq!(q(&mut c, &["EXISTS", "lex"]), "0");
    assert_eq!(q(&mut c, &["ZREMRANGEBYSCORE", "nokey", "0", "1"]), "0");
    assert_eq!(
        err(&mut c, &["ZREMRANGEBYSCORE", "str", "0", "1"]),
        WRONGTYPE
    );
    assert_eq!(
        err(&mut c, &["ZREMRANGEBYSCORE", "str", "x", "1"]),
        RANGE_FLOAT
    );
    assert_eq!(err(&mut c, &["ZREMRANGEBYLEX", "str", "x", "+"]), RANGE_LEX);
    assert_eq!(err(&mut c, &["ZREMRANGEBYRANK", "str", "x", "1"]), NOT_INT);
    assert_eq!(
        err(&mut c, &["ZREMRANGEBYRANK", "str", "0", "1"]),
        WRONGTYPE
    );
    for name in ["zremrangebyrank", "zremrangebyscore", "zremrangebylex"] {
        assert_eq!(err(&mut c, &[name, "z", "0"]), arity(name));
    }
}

#[test]
fn set_algebra() {
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["SET", "str", "x"]);
    ok(&mut c, &["ZADD", "a", "1", "x", "2", "y", "3", "z"]);
    ok(&mut c, &["ZADD", "b", "10", "y", "20", "z", "30", "w"]);
    assert_eq!(q(&mut c, &["ZUNION", "2", "a", "b"]), "[x y z w]");
    assert_eq!(
        q(
            &mut c,
            &["ZUNION", "2", "a", "b", "WEIGHTS", "2", "0.5", "WITHSCORES"]
        ),
        "[x 2 y 9 w 15 z 16]"
    );
    assert_eq!(
        q(
            &mut c,
            &[
                "ZUNION",
                "3",
                "a",
                "b",
                "nokey",
                "AGGREGATE",
                "MAX",
                "WITHSCORES"
            ]
        ),
        "[x 1 y 10 z 20 w 30]"
    );
    assert_eq!(
        q(
            &mut c,
            &["ZINTER", "2", "a", "b", "AGGREGATE", "MIN", "WITHSCORES"]
        ),
        "[y 2 z 3]"
    );
    assert_eq!(q(&mut c, &["ZINTER", "2", "a", "nokey"]), "[]");
    assert_eq!(q(&mut c, &["ZDIFF", "2", "b", "a", "WITHSCORES"]), "[w 30]");
    assert_eq!(q(&mut c, &["ZDIFF", "2", "a", "a"]), "[]");
    assert_eq!(q(&mut c, &["ZINTERCARD", "2", "a", "b"]), "2");
    assert_eq!(q(&mut c, &["ZINTERCARD", "2", "a", "b", "LIMIT", "1"]), "1");
    assert_eq!(q(&mut c, &["ZINTERCARD", "2", "a", "b", "LIMIT", "0"]), "2");
    assert_eq!(q(&mut c, &["ZUNIONSTORE", "d", "2", "a", "b"]), "4");
    assert_eq!(
        q(&mut c, &["ZRANGE", "d", "0", "-1", "WITHSCORES"]),
        "[x 1 y 12 z 23 w 30]"
    );
    assert_eq!(
        q(
            &mut c,
            &["ZINTERSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "-1"]
        ),
        "2"
    );
    assert_eq!(
        q(&mut c, &["ZRANGE", "d", "0", "-1", "WITHSCORES"]),
        "[z -17 y -8]"
    );
    assert_eq!(q(&mut c, &["ZDIFFSTORE", "d", "2", "a", "b"]), "1");
    assert_eq!(
        q(&mut c, &["ZRANGE", "d", "0", "-1", "WITHSCORES"]),
        "[x 1]"
    );
    assert_eq!(q(&mut c, &["ZINTERSTORE", "d", "2", "a", "nokey"]), "0");
    assert_eq!(q(&mut c, &["EXISTS", "d"]), "0");
    // The destination may be an input.
    assert_eq!(
        q(
            &mut c,
            &["ZUNIONSTORE", "a", "2", "a", "b", "AGGREGATE", "MAX"]
        ),
        "4"
    );
    assert_eq!(
        q(&mut c, &["ZRANGE", "a", "0", "-1", "WITHSCORES"]),
        "[x 1 y 10 z 20 w 30]"
    );
    // inf + -inf is 0, as is a zero weight on an infinite score.
    ok(&mut c, &["ZADD", "pinf", "inf", "m"]);
    ok(&mut c, &["ZADD", "ninf", "-inf", "m"]);
    assert_eq!(
        q(&mut c, &["ZUNION", "2", "pinf", "ninf", "WITHSCORES"]),
        "[m 0]"
    );
    assert_eq!(
        q(
            &mut c,
            &["ZINTER", "1", "pinf", "WEIGHTS", "0", "WITHSCORES"]
        ),
        "[m 0]"
    );
    // Errors.
    assert_eq!(
        err(&mut c, &["ZUNION", "0", "a"]),
        "ERR at least 1 input key is needed for 'zunion' command"
    );
    assert_eq!(
        err(&mut c, &["ZINTERSTORE", "d", "0", "a"]),
        "ERR at least 1 input key is needed for 'zinterstore' command"
    );
    assert_eq!(
        err(&mut c, &["ZINTERCARD", "-1", "a"]),
        "ERR at least 1 input key is needed for 'zintercard' command"
    );
    assert_eq!(err(&mut c, &["ZUNION", "x", "a"]), NOT_INT);
    assert_eq!(err(&mut c, &["ZUNION", "3", "a", "b"]), SYNTAX);
    assert_eq!(
        err(&mut c, &["ZUNION", "2", "a", "b", "WEIGHTS", "1"]),
        SYNTAX
    );
    assert_eq!(
        err(&mut c, &["ZUNION", "1", "a", "WEIGHTS", "x"]),
        "ERR weight value is not a float"
    );
    assert_eq!(
        err(&mut c, &["ZUNION", "1", "a", "AGGREGATE", "AVG"]),
        SYNTAX
    );
    assert_eq!(err(&mut c, &["ZDIFF", "1", "a", "WEIGHTS", "1"]), SYNTAX);
    assert_eq!(
        err(&mut c, &["ZUNIONSTORE", "d", "1", "a", "WITHSCORES"]),
        SYNTAX
    );
    assert_eq!(err(&mut c, &["ZINTERCARD", "1", "a", "WITHSCORES"]), SYNTAX);
    assert_eq!(
        err(&mut c, &["ZINTERCARD", "1", "a", "LIMIT", "-1"]),
        "ERR LIMIT can't be negative"
    );
    assert_eq!(
        err(&mut c, &["ZINTERCARD", "1", "a", "LIMIT", "x"]),
        "ERR LIMIT can't be negative"
    );
    // The type is checked before the options.
    assert_eq!(err(&mut c, &["ZUNION", "2", "a", "str", "BAD"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["ZDIFFSTORE", "d", "1", "str"]), WRONGTYPE);
    for name in ["zunion", "zinter", "zdiff", "zintercard"] {
        assert_eq!(err(&mut c, &[name, "1"]), arity(name));
    }
    for name in ["zunionstore", "zinterstore", "zdiffstore"] {
        assert_eq!(err(&mut c, &[name, "d", "1"]), arity(name));
    }
    // COMMAND GETKEYS follows numkeys.
    assert_eq!(
        q(
            &mut c,
            &[
                "COMMAND",
                "GETKEYS",
                "ZUNIONSTORE",
                "d",
                "2",
                "a",
                "b",
                "WEIGHTS",
                "1",
                "2"
            ]
        ),
        "[d a b]"
    );
    assert_eq!(
        q(
            &mut c,
            &["COMMAND", "GETKEYS", "ZMPOP", "2", "a", "b", "MIN"]
        ),
        "[a b]"
    );
}

/// Plain sets are inputs too, every member scoring 1 before its weight (replies checked against Redis 7.0.15).
#[test]
fn set_algebra_with_plain_sets() {
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["SADD", "si", "1", "2", "3", "5"]);
    ok(&mut c, &["SADD", "si2", "3", "5", "7", "-1"]);
    ok(&mut c, &["SADD", "sh", "a", "b", "c", "3"]);
    ok(&mut c, &["SADD", "sh2", "b", "c", "d", "01"]);
    ok(
        &mut c,
        &["ZADD", "z", "1", "a", "2", "b", "3", "3", "4", "x"],
    );
    ok(&mut c, &["ZADD", "z2", "0.5", "5", "1.5", "c", "2.5", "01"]);
    assert_eq!(encoding(&mut c, "si"), "intset");
    assert_eq!(encoding(&mut c, "sh"), "hashtable");
    let cases: &[(&[&str], &str)] = &[
        (
            &["ZUNION", "2", "si", "si2", "WITHSCORES"],
            "[-1 1 1 1 2 1 7 1 3 2 5 2]",
        ),
        (
            &[
                "ZUNION",
                "3",
                "si",
                "sh",
                "z",
                "WEIGHTS",
                "2",
                "3",
                "0.5",
                "WITHSCORES",
            ],
            "[1 2 2 2 5 2 x 2 c 3 a 3.5 b 4 3 6.5]",
        ),
        (
            &[
                "ZUNION",
                "3",
                "si",
                "sh",
                "z",
                "WEIGHTS",
                "2",
                "3",
                "0.5",
                "AGGREGATE",
                "MIN",
                "WITHSCORES",
            ],
            "[a 0.5 b 1 3 1.5 1 2 2 2 5 2 x 2 c 3]",
        ),
        (
            &[
                "ZUNION",
                "3",
                "si",
                "sh",
                "z",
                "WEIGHTS",
                "2",
                "3",
                "0.5",
                "AGGREGATE",
                "MAX",
                "WITHSCORES",
            ],
            "[1 2 2 2 5 2 x 2 3 3 a 3 b 3 c 3]",
        ),
        (
            &[
                "ZUNION",
                "2",
                "sh",
                "sh2",
                "WEIGHTS",
                "inf",
                "-inf",
                "WITHSCORES",
            ],
            "[01 -inf d -inf b 0 c 0 3 inf a inf]",
        ),
        (&["ZUNION", "2", "si", "nokey"], "[1 2 3 5]"),
        (&["ZINTER", "2", "si", "si2", "WITHSCORES"], "[3 2 5 2]"),
        (&["ZINTER", "2", "si", "sh", "WITHSCORES"], "[3 2]"),
        (&["ZINTER", "3", "sh", "sh2", "z", "WITHSCORES"], "[b 4]"),
        (
            &[
                "ZINTER",
                "2",
                "sh",
                "sh2",
                "WEIGHTS",
                "2",
                "5",
                "AGGREGATE",
                "MAX",
                "WITHSCORES",
            ],
            "[b 5 c 5]",
        ),
        // "01" is no integer: it is not a member of an intset.
        (&["ZINTER", "2", "z2", "si", "WITHSCORES"], "[5 1.5]"),
        (
            &["ZINTER", "2", "z2", "sh2", "WITHSCORES"],
            "[c 2.5 01 3.5]",
        ),
        (&["ZINTER", "2", "si", "nokey"], "[]"),
        (&["ZINTERCARD", "2", "si", "si2"], "2"),
        (&["ZINTERCARD", "3", "sh", "sh2", "z"], "1"),
        (&["ZINTERCARD", "2", "sh", "z", "LIMIT", "1"], "1"),
        (&["ZDIFF", "2", "si", "si2", "WITHSCORES"], "[1 1 2 1]"),
        (&["ZDIFF", "2", "z", "sh", "WITHSCORES"], "[x 4]"),
        (&["ZDIFF", "2", "sh", "z", "WITHSCORES"], "[c 1]"),
        (&["ZDIFF", "2", "sh2", "z2", "WITHSCORES"], "[b 1 d 1]"),
        (&["ZDIFF", "2", "si", "si"], "[]"),
    ];
    for (args, want) in cases {
        assert_eq!(q(&mut c, args), *want, "{args:?}");
    }
    assert_eq!(
        q(
            &mut c,
            &[
                "ZUNIONSTORE",
                "d",
                "3",
                "si",
                "sh",
                "z",
                "WEIGHTS",
                "2",
                "3",
                "0.5",
                "AGGREGATE",
                "MAX",
            ]
        ),
        "8"
    );
    assert_eq!(
        q(&mut c, &["ZRANGE", "d", "0", "-1", "WITHSCORES"]),
        "[1 2 2 2 5 2 x 2 3 3 a 3 b 3 c 3]"
    );
    assert_eq!(encoding(&mut c, "d"), "listpack");
    assert_eq!(q(&mut c, &["ZINTERSTORE", "d", "2", "sh", "sh2"]), "2");
    assert_eq!(
        q(&mut c, &["ZRANGE", "d", "0", "-1", "WITHSCORES"]),
        "[b 2 c 2]"
    );
    assert_eq!(q(&mut c, &["ZDIFFSTORE", "d", "2", "si", "si2"]), "2");
    assert_eq!(
        q(&mut c, &["ZRANGE", "d", "0", "-1", "WITHSCORES"]),
        "[1 1 2 1]"
    );
    assert_eq!(q(&mut c, &["ZINTERSTORE", "d", "2", "si", "nokey"]), "0");
    assert_eq!(q(&mut c, &["EXISTS", "d"]), "0");
    // A result is a listpack only within zset-max-listpack-entries/value, whatever encoded its inputs.
    let ints: Vec<String> = (1..=200).map(|i| i.to_string()).collect();
    let mut sadd = vec!["SADD", "bigi"];
    sadd.extend(ints.iter().map(String::as_str));
    ok(&mut c, &sadd);
    assert_eq!(encoding(&mut c, "bigi"), "intset");
    assert_eq!(q(&mut c, &["ZUNIONSTORE", "d", "1", "bigi"]), "200");
    assert_eq!(encoding(&mut c, "d"), "skiplist");
    assert_eq!(
        q(&mut c, &["ZRANGE", "d", "0", "2"]),
        "[1 10 100]",
        "equal scores order by member bytes"
    );
    assert_eq!(
        q(
            &mut c,
            &["ZINTERSTORE", "d", "2", "bigi", "si", "WEIGHTS", "1", "2"]
        ),
        "4"
    );
    assert_eq!(encoding(&mut c, "d"), "listpack");
    assert_eq!(
        q(&mut c, &["ZRANGE", "d", "0", "-1", "WITHSCORES"]),
        "[1 3 2 3 3 3 5 3]"
    );
    let long = "m".repeat(65);
    ok(&mut c, &["SADD", "long", &long, "b"]);
    assert_eq!(q(&mut c, &["ZUNIONSTORE", "d", "1", "long"]), "2");
    assert_eq!(encoding(&mut c, "d"), "skiplist");
    // Any other type is WRONGTYPE, checked before the options.
    ok(&mut c, &["SET", "str", "v"]);
    ok(&mut c, &["RPUSH", "lst", "a"]);
    ok(&mut c, &["HSET", "h", "f", "v"]);
    for other in ["str", "lst", "h"] {
        assert_eq!(err(&mut c, &["ZUNION", "2", "si", other, "BAD"]), WRONGTYPE);
        assert_eq!(err(&mut c, &["ZINTER", "2", other, "si"]), WRONGTYPE);
        assert_eq!(err(&mut c, &["ZDIFF", "2", "si", other]), WRONGTYPE);
        assert_eq!(err(&mut c, &["ZINTERCARD", "2", "si", other]), WRONGTYPE);
        assert_eq!(
            err(&mut c, &["ZUNIONSTORE", "d", "2", other, "si"]),
            WRONGTYPE
        );
        assert_eq!(
            err(&mut c, &["ZINTERSTORE", "d", "2", "si", other]),
            WRONGTYPE
        );
        assert_eq!(
            err(&mut c, &["ZDIFFSTORE", "d", "2", other, "si"]),
            WRONGTYPE
        );
    }
    // Sets stay sets: the read commands of sorted sets still refuse them.
    assert_eq!(err(&mut c, &["ZCARD", "si"]), WRONGTYPE);
}

#[test]
fn pops_random_members_and_scan() {
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["SET", "str", "x"]);
    ok(
        &mut c,
        &["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"],
    );
    assert_eq!(q(&mut c, &["ZPOPMIN", "z"]), "[a 1]");
    assert_eq!(q(&mut c, &["ZPOPMAX", "z", "2"]), "[d 4 c 3]");
    assert_eq!(q(&mut c, &["ZPOPMAX", "z", "0"]), "[]");
    assert_eq!(q(&mut c, &["ZPOPMIN", "z", "10"]), "[b 2]");
    assert_eq!(q(&mut c, &["EXISTS", "z"]), "0");
    assert_eq!(q(&mut c, &["ZPOPMIN", "z"]), "[]");
    assert_eq!(
        err(&mut c, &["ZPOPMIN", "z", "-1"]),
        "ERR value is out of range, must be positive"
    );
    assert_eq!(
        err(&mut c, &["ZPOPMIN", "z", "x"]),
        "ERR value is out of range, must be positive"
    );
    assert_eq!(err(&mut c, &["ZPOPMAX", "z", "1", "2"]), SYNTAX);
    assert_eq!(err(&mut c, &["ZPOPMIN", "str"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["ZPOPMIN"]), arity("zpopmin"));

    ok(&mut c, &["ZADD", "z2", "1", "a", "2", "b", "3", "c"]);
    assert_eq!(
        q(&mut c, &["ZMPOP", "2", "nokey", "z2", "MIN"]),
        "[z2 [[a 1]]]"
    );
    assert_eq!(
        q(&mut c, &["ZMPOP", "1", "z2", "MAX", "COUNT", "10"]),
        "[z2 [[c 3] [b 2]]]"
    );
    assert_eq!(q(&mut c, &["ZMPOP", "1", "z2", "MAX"]), "nil");
    assert_eq!(err(&mut c, &["ZMPOP", "1", "str", "MAX"]), WRONGTYPE);
    assert_eq!(
        err(&mut c, &["ZMPOP", "0", "z2", "MIN"]),
        "ERR numkeys should be greater than 0"
    );
    assert_eq!(err(&mut c, &["ZMPOP", "2", "z2", "MIN"]), SYNTAX);
    assert_eq!(err(&mut c, &["ZMPOP", "1", "z2", "MID"]), SYNTAX);
    assert_eq!(
        err(&mut c, &["ZMPOP", "1", "z2", "MIN", "COUNT", "0"]),
        "ERR count should be greater than 0"
    );
    assert_eq!(err(&mut c, &["ZMPOP", "1", "z2", "MIN", "COUNT"]), SYNTAX);
    assert_eq!(err(&mut c, &["ZMPOP", "1", "z2"]), arity("zmpop"));

    ok(&mut c, &["ZADD", "r", "1", "a", "2", "b", "3", "c"]);
    let one = q(&mut c, &["ZRANDMEMBER", "r"]);
    assert!(["a", "b", "c"].contains(&one.as_str()), "{one}");
    assert_eq!(q(&mut c, &["ZRANDMEMBER", "nokey"]), "nil");
    assert_eq!(q(&mut c, &["ZRANDMEMBER", "nokey", "5"]), "[]");
    assert_eq!(q(&mut c, &["ZRANDMEMBER", "r", "0"]), "[]");
    assert_eq!(
        q(&mut c, &["ZRANDMEMBER", "r", "5", "WITHSCORES"]),
        "[a 1 b 2 c 3]"
    );
    match ok(&mut c, &["ZRANDMEMBER", "r", "-7", "WITHSCORES"]) {
        Value::Array(v) => {
            assert_eq!(v.len(), 14);
            for p in v.chunks(2) {
                let m = show(&p[0]);
                assert_eq!(show(&p[1]), (m.as_bytes()[0] - b'a' + 1).to_string());
            }
        }
        other => panic!("{other:?}"),
    }
    match ok(&mut c, &["ZRANDMEMBER", "r", "2"]) {
        Value::Array(v) => {
            assert_eq!(v.len(), 2);
            assert_ne!(v[0], v[1]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err(&mut c, &["ZRANDMEMBER", "r", "x"]), NOT_INT);
    assert_eq!(err(&mut c, &["ZRANDMEMBER", "r", "1", "WITHSCORE"]), SYNTAX);
    assert_eq!(
        err(&mut c, &["ZRANDMEMBER", "r", "-9223372036854775808"]),
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    );
    assert_eq!(
        err(
            &mut c,
            &["ZRANDMEMBER", "r", "-9223372036854770000", "WITHSCORES"]
        ),
        "ERR value is out of range"
    );
    assert_eq!(err(&mut c, &["ZRANDMEMBER", "str"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["ZRANDMEMBER", "str", "1"]), WRONGTYPE);

    // ZSCAN: a listpack in one call, a skiplist along its cursor.
    assert_eq!(
        q(&mut c, &["ZSCAN", "r", "0", "MATCH", "*[ab]"]),
        "[0 [a 1 b 2]]"
    );
    assert_eq!(q(&mut c, &["ZSCAN", "nokey", "0"]), "[0 []]");
    assert_eq!(err(&mut c, &["ZSCAN", "r", "x"]), "ERR invalid cursor");
    assert_eq!(err(&mut c, &["ZSCAN", "r", "0", "COUNT", "0"]), SYNTAX);
    assert_eq!(err(&mut c, &["ZSCAN", "r", "0", "TYPE", "zset"]), SYNTAX);
    assert_eq!(err(&mut c, &["ZSCAN", "str", "0"]), WRONGTYPE);
    let mut args = vec!["ZADD".to_string(), "big".to_string()];
    for i in 0..500 {
        args.push(format!("{i}.25"));
        args.push(format!("m{i}"));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(&mut c, &refs);
    let mut cursor = "0".to_string();
    let mut seen = std::collections::HashSet::new();
    let mut calls = 0;
    loop {
        let Value::Array(v) = ok(&mut c, &["ZSCAN", "big", &cursor, "COUNT", "20"]) else {
            panic!()
        };
        calls += 1;
        cursor = show(&v[0]);
        let Value::Array(items) = &v[1] else { panic!() };
        for p in items.chunks(2) {
            let m = show(&p[0]);
            let i: usize = m[1..].parse().unwrap();
            assert_eq!(show(&p[1]), format!("{i}.25"));
            seen.insert(i);
        }
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 500);
    assert!(calls > 5, "{calls} calls");
}

/// RESP3 shapes, byte for byte as Redis 7 sends them.
#[test]
fn resp3_reply_shapes() {
    let s = Server::start();
    let mut r = Raw::new(&s);
    assert!(r.call(&["HELLO", "3"]).starts_with('%'));
    assert_eq!(
        r.call(&["ZADD", "z", "1", "a", "2.5", "b", "3", "c"]),
        ":3\r\n"
    );
    assert_eq!(r.call(&["ZSCORE", "z", "b"]), ",2.5\r\n");
    assert_eq!(r.call(&["ZSCORE", "z", "x"]), "_\r\n");
    assert_eq!(r.call(&["ZMSCORE", "z", "a", "x"]), "*2\r\n,1\r\n_\r\n");
    assert_eq!(r.call(&["ZINCRBY", "z", "1", "a"]), ",2\r\n");
    assert_eq!(r.call(&["ZADD", "z", "NX", "INCR", "1", "a"]), "_\r\n");
    assert_eq!(
        r.call(&["ZRANGE", "z", "0", "1", "WITHSCORES"]),
        "*2\r\n*2\r\n$1\r\na\r\n,2\r\n*2\r\n$1\r\nb\r\n,2.5\r\n"
    );
    assert_eq!(r.call(&["ZRANGE", "z", "0", "0"]), "*1\r\n$1\r\na\r\n");
    assert_eq!(
        r.call(&["ZRANK", "z", "b", "WITHSCORE"]),
        "*2\r\n:1\r\n,2.5\r\n"
    );
    assert_eq!(r.call(&["ZRANK", "z", "x", "WITHSCORE"]), "_\r\n");
    assert_eq!(
        r.call(&["ZUNION", "1", "z", "WITHSCORES"]),
        "*3\r\n*2\r\n$1\r\na\r\n,2\r\n*2\r\n$1\r\nb\r\n,2.5\r\n*2\r\n$1\r\nc\r\n,3\r\n"
    );
    assert_eq!(
        r.call(&["ZSCAN", "z", "0"]),
        "*2\r\n$1\r\n0\r\n*6\r\n$1\r\na\r\n$1\r\n2\r\n$1\r\nb\r\n$3\r\n2.5\r\n$1\r\nc\r\n$1\r\n3\r\n"
    );
    assert_eq!(r.call(&["ZPOPMIN", "z"]), "*2\r\n$1\r\na\r\n,2\r\n");
    assert_eq!(
        r.call(&["ZPOPMIN", "z", "1"]),
        "*1\r\n*2\r\n$1\r\nb\r\n,2.5\r\n"
    );
    assert_eq!(
        r.call(&["ZMPOP", "1", "z", "MAX"]),
        "*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\nc\r\n,3\r\n"
    );
    assert_eq!(r.call(&["ZMPOP", "1", "z", "MAX"]), "_\r\n");
    assert_eq!(r.call(&["ZADD", "one", "5", "m"]), ":1\r\n");
    assert_eq!(
        r.call(&["ZRANDMEMBER", "one", "-2", "WITHSCORES"]),
        "*2\r\n*2\r\n$1\r\nm\r\n,5\r\n*2\r\n$1\r\nm\r\n,5\r\n"
    );
    assert_eq!(r.call(&["ZRANDMEMBER", "nokey"]), "_\r\n");
    // The same replies flattened for RESP2.
    let mut r2 = Raw::new(&s);
    assert_eq!(
        r2.call(&["ZRANGE", "one", "0", "-1", "WITHSCORES"]),
        "*2\r\n$1\r\nm\r\n$1\r\n5\r\n"
    );
    assert_eq!(r2.call(&["ZRANK", "one", "x", "WITHSCORE"]), "*-1\r\n");
    assert_eq!(r2.call(&["ZRANK", "one", "x"]), "$-1\r\n");
    assert_eq!(r2.call(&["ZMPOP", "1", "nokey", "MAX"]), "*-1\r\n");
    assert_eq!(
        r2.call(&["ZPOPMAX", "one", "1"]),
        "*2\r\n$1\r\nm\r\n$1\r\n5\r\n"
    );
}

#[test]
fn encodings_config_and_keys_commands() {
    let s = Server::start();
    let mut c = s.client();
    assert_eq!(
        q(&mut c, &["CONFIG", "GET", "zset-max-listpack-entries"]),
        "[zset-max-listpack-entries 128]"
    );
    assert_eq!(
        q(&mut c, &["CONFIG", "GET", "zset-max-ziplist-value"]),
        "[zset-max-ziplist-value 64]"
    );
    ok(&mut c, &["CONFIG", "SET", "zset-max-ziplist-entries", "3"]);
    ok(&mut c, &["CONFIG", "SET", "zset-max-listpack-value", "4"]);
    assert_eq!(
        q(&mut c, &["CONFIG", "GET", "zset-max-listpack-entries"]),
        "[zset-max-listpack-entries 3]"
    );
    ok(&mut c, &["ZADD", "z", "1", "a", "2", "b", "3", "c"]);
    assert_eq!(encoding(&mut c, "z"), "listpack");
    ok(&mut c, &["ZADD", "z", "4", "d"]);
    assert_eq!(encoding(&mut c, "z"), "skiplist");
    ok(&mut c, &["ZADD", "long", "1", "abcde"]);
    assert_eq!(encoding(&mut c, "long"), "skiplist");
    ok(&mut c, &["ZREM", "z", "a", "b"]);
    assert_eq!(encoding(&mut c, "z"), "skiplist");
    // A stored result that fits the limits is a listpack.
    assert_eq!(q(&mut c, &["ZUNIONSTORE", "u", "1", "z"]), "2");
    assert_eq!(encoding(&mut c, "u"), "listpack");
    // -0 keeps its sign in a skiplist only (a listpack holds it as the integer 0).
    ok(&mut c, &["ZADD", "z", "-0", "n"]);
    assert_eq!(q(&mut c, &["ZSCORE", "z", "n"]), "-0");
    ok(&mut c, &["ZADD", "small", "-0", "n"]);
    assert_eq!(q(&mut c, &["ZSCORE", "small", "n"]), "0");
    assert_eq!(
        err(&mut c, &["CONFIG", "SET", "zset-max-listpack-entries", "-1"]),
        "ERR CONFIG SET failed (possibly related to argument 'zset-max-listpack-entries') - argument must be between 0 and 9223372036854775807 inclusive"
    );
    ok(
        &mut c,
        &["CONFIG", "SET", "zset-max-listpack-entries", "128"],
    );
    ok(&mut c, &["CONFIG", "SET", "zset-max-listpack-value", "64"]);

    // TYPE, SCAN TYPE, COPY, RENAME, MEMORY USAGE, EXPIRE.
    assert_eq!(q(&mut c, &["TYPE", "z"]), "zset");
    ok(&mut c, &["SET", "str", "x"]);
    match ok(&mut c, &["SCAN", "0", "TYPE", "zset", "COUNT", "100"]) {
        Value::Array(v) => {
            let Value::Array(keys) = &v[1] else { panic!() };
            let mut names: Vec<String> = keys.iter().map(show).collect();
            names.sort();
            assert_eq!(names, ["long", "small", "u", "z"]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(q(&mut c, &["COPY", "z", "z2"]), "1");
    assert_eq!(encoding(&mut c, "z2"), "skiplist");
    assert_eq!(
        q(&mut c, &["ZRANGE", "z2", "0", "-1", "WITHSCORES"]),
        q(&mut c, &["ZRANGE", "z", "0", "-1", "WITHSCORES"])
    );
    ok(&mut c, &["ZADD", "z2", "100", "only-in-copy"]);
    assert_eq!(q(&mut c, &["ZSCORE", "z", "only-in-copy"]), "nil");
    ok(&mut c, &["RENAME", "z2", "z3"]);
    assert_eq!(q(&mut c, &["ZCARD", "z3"]), "4");
    assert_eq!(q(&mut c, &["EXISTS", "z2"]), "0");
    let small = int(&ok(&mut c, &["MEMORY", "USAGE", "small"]));
    let mut args = vec!["ZADD".to_string(), "huge".to_string()];
    for i in 0..5000 {
        args.push(i.to_string());
        args.push(format!("member:{i}"));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(q(&mut c, &refs), "5000");
    let huge = int(&ok(&mut c, &["MEMORY", "USAGE", "huge"]));
    assert!(
        small > 0 && huge > 5000 * 40 && huge < 5000 * 200,
        "{small} {huge}"
    );
    ok(&mut c, &["PEXPIRE", "huge", "1"]);
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_eq!(q(&mut c, &["ZCARD", "huge"]), "0");
    assert_eq!(
        cmd(&mut c, &["ZSCORE", "huge", "member:1"]).unwrap(),
        Value::Nil
    );
    // WRONGTYPE from string commands on a sorted set.
    assert_eq!(err(&mut c, &["GET", "z"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["APPEND", "z", "x"]), WRONGTYPE);
}

/// Many members, many random operations: ranks, ranges and counts stay consistent through the order-statistic
/// tree (checked against the sorted reply of the whole set).
#[test]
fn large_set_consistency() {
    let s = Server::start();
    let mut c = s.client();
    let mut args = vec!["ZADD".to_string(), "z".to_string()];
    for i in 0..3000 {
        args.push(((i * 7919) % 1000).to_string());
        args.push(format!("m{i:04}"));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(q(&mut c, &refs), "3000");
    assert_eq!(q(&mut c, &["ZREMRANGEBYSCORE", "z", "100", "(200"]), "300");
    assert_eq!(q(&mut c, &["ZREMRANGEBYRANK", "z", "1000", "1099"]), "100");
    let Value::Array(all) = ok(&mut c, &["ZRANGE", "z", "0", "-1", "WITHSCORES"]) else {
        panic!()
    };
    assert_eq!(all.len(), 2600 * 2);
    let entries: Vec<(String, f64)> = all
        .chunks(2)
        .map(|p| (show(&p[0]), show(&p[1]).parse().unwrap()))
        .collect();
    for w in entries.windows(2) {
        assert!(w[0].1 < w[1].1 || (w[0].1 == w[1].1 && w[0].0 < w[1].0));
    }
    for i in (0..entries.len()).step_by(97) {
        let (m, sc) = &entries[i];
        assert_eq!(q(&mut c, &["ZRANK", "z", m]), i.to_string());
        assert_eq!(
            q(&mut c, &["ZREVRANK", "z", m]),
            (entries.len() - 1 - i).to_string()
        );
        assert_eq!(q(&mut c, &["ZSCORE", "z", m]), sc.to_string());
        let below = entries.iter().filter(|(_, s)| s < sc).count();
        assert_eq!(
            q(&mut c, &["ZCOUNT", "z", "-inf", &format!("({sc}")]),
            below.to_string()
        );
        let Value::Array(one) = ok(&mut c, &["ZRANGE", "z", &i.to_string(), &i.to_string()]) else {
            panic!()
        };
        assert_eq!(show(&one[0]), *m);
    }
}
