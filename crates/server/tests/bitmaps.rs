//! Bitmap commands through the real binary, with replies checked against Redis 7.0.15.

mod common;

use common::{cmd_bytes, err, ok, vb, vi, Server};
use redis::Value;

const SYNTAX: &str = "ERR syntax error";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const BAD_OFFSET: &str = "ERR bit offset is not an integer or out of range";
const BAD_TYPE: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

fn arity(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

fn set_bytes(c: &mut redis::Connection, key: &str, val: &[u8]) {
    assert_eq!(
        cmd_bytes(c, &[b"SET", key.as_bytes(), val]).unwrap(),
        Value::Okay
    );
}

fn get_bytes(c: &mut redis::Connection, key: &str) -> Vec<u8> {
    match ok(c, &["GET", key]) {
        Value::BulkString(b) => b,
        other => panic!("GET {key}: {other:?}"),
    }
}

fn ints(v: &[Option<i64>]) -> Value {
    Value::Array(v.iter().map(|x| x.map_or(Value::Nil, Value::Int)).collect())
}

#[test]
fn setbit_getbit() {
    let s = Server::start();
    let mut c = s.client();
    assert_eq!(ok(&mut c, &["SETBIT", "b", "7", "1"]), vi(0));
    assert_eq!(get_bytes(&mut c, "b"), b"\x01");
    assert_eq!(ok(&mut c, &["SETBIT", "b", "0", "1"]), vi(0));
    assert_eq!(get_bytes(&mut c, "b"), b"\x81");
    assert_eq!(ok(&mut c, &["SETBIT", "b", "17", "1"]), vi(0));
    assert_eq!(get_bytes(&mut c, "b"), b"\x81\x00\x40");
    assert_eq!(ok(&mut c, &["GETBIT", "b", "17"]), vi(1));
    assert_eq!(ok(&mut c, &["GETBIT", "b", "16"]), vi(0));
    assert_eq!(ok(&mut c, &["SETBIT", "b", "7", "0"]), vi(1));
    assert_eq!(get_bytes(&mut c, "b"), b"\x80\x00\x40");
    assert_eq!(ok(&mut c, &["GETBIT", "b", "1000000"]), vi(0));
    assert_eq!(ok(&mut c, &["GETBIT", "nokey", "0"]), vi(0));
    // Clearing a bit still creates (and pads) the string.
    assert_eq!(ok(&mut c, &["SETBIT", "z", "100", "0"]), vi(0));
    assert_eq!(ok(&mut c, &["STRLEN", "z"]), vi(13));
    // SETBIT keeps the TTL.
    ok(&mut c, &["SET", "t", "v", "EX", "100"]);
    ok(&mut c, &["SETBIT", "t", "0", "1"]);
    assert!((99..=100).contains(&raw_int(ok(&mut c, &["TTL", "t"]))));
    // Integer-encoded values are bits of their text.
    ok(&mut c, &["SET", "n", "1"]);
    assert_eq!(ok(&mut c, &["GETBIT", "n", "2"]), vi(1));
    assert_eq!(ok(&mut c, &["GETBIT", "n", "7"]), vi(1));
    assert_eq!(ok(&mut c, &["SETBIT", "n", "6", "1"]), vi(0));
    assert_eq!(ok(&mut c, &["GET", "n"]), vb("3"));
    let bad_bit = "ERR bit is not an integer or out of range";
    assert_eq!(err(&mut c, &["SETBIT", "b", "1", "2"]), bad_bit);
    assert_eq!(err(&mut c, &["SETBIT", "b", "1", "-1"]), bad_bit);
    assert_eq!(err(&mut c, &["SETBIT", "b", "1", "abc"]), bad_bit);
    for off in ["-1", "abc", "4294967296", "1.5"] {
        assert_eq!(err(&mut c, &["SETBIT", "b", off, "1"]), BAD_OFFSET, "{off}");
        assert_eq!(err(&mut c, &["GETBIT", "b", off]), BAD_OFFSET, "{off}");
    }
    assert_eq!(err(&mut c, &["SETBIT", "b", "1"]), arity("setbit"));
    assert_eq!(err(&mut c, &["GETBIT", "b"]), arity("getbit"));
    assert_eq!(get_bytes(&mut c, "b"), b"\x80\x00\x40");
}

fn raw_int(v: Value) -> i64 {
    match v {
        Value::Int(i) => i,
        other => panic!("not an integer: {other:?}"),
    }
}

#[test]
fn bitcount_ranges() {
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["SET", "s", "foobar"]);
    let cases: &[(&[&str], i64)] = &[
        (&[], 26),
        (&["0", "0"], 4),
        (&["1", "1"], 6),
        (&["1", "-2"], 18),
        (&["-100", "100"], 26),
        (&["0", "-1", "BIT"], 26),
        (&["5", "30", "bit"], 17),
        (&["0", "-1", "byte"], 26),
        (&["2", "1"], 0),
        (&["-1", "-2"], 0),
        (&["0", "9223372036854775807"], 26),
        (&["-9223372036854775808", "-1", "BIT"], 26),
    ];
    for (range, want) in cases {
        let mut args = vec!["BITCOUNT", "s"];
        args.extend_from_slice(range);
        assert_eq!(ok(&mut c, &args), vi(*want), "{range:?}");
    }
    assert_eq!(ok(&mut c, &["BITCOUNT", "nokey"]), vi(0));
    assert_eq!(ok(&mut c, &["BITCOUNT", "nokey", "0", "1"]), vi(0));
    let ones: Vec<u8> = vec![0xff; 1000];
    set_bytes(&mut c, "ones", &ones);
    assert_eq!(ok(&mut c, &["BITCOUNT", "ones"]), vi(8000));
    assert_eq!(
        ok(&mut c, &["BITCOUNT", "ones", "3", "7996", "BIT"]),
        vi(7994)
    );
    assert_eq!(err(&mut c, &["BITCOUNT", "s", "0", "-1", "foo"]), SYNTAX);
    assert_eq!(err(&mut c, &["BITCOUNT", "s", "0"]), SYNTAX);
    assert_eq!(err(&mut c, &["BITCOUNT", "s", "0", "1", "2"]), SYNTAX);
    assert_eq!(err(&mut c, &["BITCOUNT", "s", "a", "b"]), NOT_INT);
    assert_eq!(err(&mut c, &["BITCOUNT"]), arity("bitcount"));
}

#[test]
fn bitpos_forms() {
    let s = Server::start();
    let mut c = s.client();
    set_bytes(&mut c, "p", b"\xff\xf0\x00");
    set_bytes(&mut c, "p2", b"\x00\xff\xf0");
    set_bytes(&mut c, "ff", b"\xff\xff\xff");
    set_bytes(&mut c, "z", b"\x00\x00");
    let cases: &[(&[&str], i64)] = &[
        (&["p", "0"], 12),
        (&["p", "1"], 0),
        (&["p", "1", "1"], 8),
        (&["p", "0", "0", "0"], -1),
        (&["p", "0", "0", "-1", "BIT"], 12),
        (&["p", "1", "12", "-1", "bit"], -1),
        (&["p2", "1", "0"], 8),
        (&["p2", "1", "2"], 16),
        (&["p2", "1", "2", "-1", "BYTE"], 16),
        (&["p2", "1", "7", "15", "BIT"], 8),
        (&["p2", "1", "7", "-3", "BIT"], 8),
        (&["p2", "0", "1", "1"], -1),
        (&["p2", "1", "3"], -1),
        // Looking for 0 in all-ones with no end: the first bit past the string.
        (&["ff", "0"], 24),
        (&["ff", "0", "0"], 24),
        // With an explicit end the search stops there.
        (&["ff", "0", "0", "-1"], -1),
        (&["ff", "0", "0", "-1", "BIT"], -1),
        (&["ff", "0", "100"], -1),
        (&["ff", "1", "100"], -1),
        (&["ff", "0", "2", "1"], -1),
        (&["z", "1"], -1),
        (&["z", "0"], 0),
        (&["nokey", "0"], 0),
        (&["nokey", "1"], -1),
    ];
    for (args, want) in cases {
        let mut full = vec!["BITPOS"];
        full.extend_from_slice(args);
        assert_eq!(ok(&mut c, &full), vi(*want), "{args:?}");
    }
    assert_eq!(
        err(&mut c, &["BITPOS", "p", "2"]),
        "ERR The bit argument must be 1 or 0."
    );
    assert_eq!(err(&mut c, &["BITPOS", "p", "a"]), NOT_INT);
    assert_eq!(err(&mut c, &["BITPOS", "p", "1", "a"]), NOT_INT);
    assert_eq!(err(&mut c, &["BITPOS", "p", "1", "0", "a"]), NOT_INT);
    assert_eq!(err(&mut c, &["BITPOS", "p", "1", "0", "-1", "foo"]), SYNTAX);
    assert_eq!(
        err(&mut c, &["BITPOS", "p", "1", "0", "-1", "bit", "extra"]),
        SYNTAX
    );
    assert_eq!(err(&mut c, &["BITPOS"]), arity("bitpos"));
    assert_eq!(err(&mut c, &["BITPOS", "p"]), arity("bitpos"));
}

#[test]
fn bitop_operations() {
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["MSET", "k1", "foobar", "k2", "abcdef"]);
    set_bytes(&mut c, "short", b"\xf0");
    let cases: &[(&[&str], &[u8])] = &[
        (&["AND", "dest", "k1", "k2"], b"`bc`ab"),
        (&["or", "dest", "k1", "k2"], b"goofev"),
        (&["XOR", "dest", "k1", "k2"], b"\x07\x0d\x0c\x06\x04\x14"),
        (&["NOT", "dest", "k1"], b"\x99\x90\x90\x9d\x9e\x8d"),
        (&["AND", "dest", "k1"], b"foobar"),
        // Shorter inputs are padded with zero bytes.
        (&["AND", "dest", "k1", "short"], b"`\0\0\0\0\0"),
        (&["OR", "dest", "k1", "short"], b"\xf6oobar"),
        (&["XOR", "dest", "short", "nokey"], b"\xf0"),
    ];
    for (args, want) in cases {
        let mut full = vec!["BITOP"];
        full.extend_from_slice(args);
        assert_eq!(ok(&mut c, &full), vi(want.len() as i64), "{args:?}");
        assert_eq!(get_bytes(&mut c, "dest"), *want, "{args:?}");
    }
    // An empty result deletes the destination, TTL and all.
    ok(&mut c, &["SET", "dest", "x", "EX", "100"]);
    assert_eq!(
        ok(&mut c, &["BITOP", "OR", "dest", "nokey", "nokey2"]),
        vi(0)
    );
    assert_eq!(ok(&mut c, &["EXISTS", "dest"]), vi(0));
    assert_eq!(ok(&mut c, &["BITOP", "NOT", "dest", "nokey"]), vi(0));
    assert_eq!(ok(&mut c, &["EXISTS", "dest"]), vi(0));
    // The destination is overwritten: its TTL goes.
    ok(&mut c, &["SET", "dest", "x", "EX", "100"]);
    ok(&mut c, &["BITOP", "NOT", "dest", "k1"]);
    assert_eq!(ok(&mut c, &["TTL", "dest"]), vi(-1));
    // The destination may be one of the sources.
    ok(&mut c, &["BITOP", "XOR", "k1", "k1", "k2"]);
    assert_eq!(get_bytes(&mut c, "k1"), b"\x07\x0d\x0c\x06\x04\x14");
    assert_eq!(
        err(&mut c, &["BITOP", "NOT", "dest", "k1", "k2"]),
        "ERR BITOP NOT must be called with a single source key."
    );
    assert_eq!(err(&mut c, &["BITOP", "foo", "dest", "k1"]), SYNTAX);
    assert_eq!(err(&mut c, &["BITOP", "AND", "dest"]), arity("bitop"));
    assert_eq!(err(&mut c, &["BITOP", "AND"]), arity("bitop"));
    assert_eq!(err(&mut c, &["BITOP"]), arity("bitop"));
}

#[test]
fn bitfield_get_set_incrby_overflow() {
    let s = Server::start();
    let mut c = s.client();
    let bf = |c: &mut redis::Connection, args: &[&str]| {
        let mut full = vec!["BITFIELD", "bf"];
        full.extend_from_slice(args);
        ok(c, &full)
    };
    let steps: &[(&[&str], &[Option<i64>])] = &[
        (&["SET", "i8", "0", "100"], &[Some(0)]),
        (&["GET", "i8", "0"], &[Some(100)]),
        (&["INCRBY", "i8", "0", "100"], &[Some(-56)]),
        (
            &["OVERFLOW", "WRAP", "INCRBY", "i8", "0", "100"],
            &[Some(44)],
        ),
        (
            &["OVERFLOW", "SAT", "INCRBY", "i8", "0", "100"],
            &[Some(127)],
        ),
        (&["OVERFLOW", "FAIL", "INCRBY", "i8", "0", "100"], &[None]),
        (
            &["overflow", "sat", "incrby", "i8", "0", "-1000"],
            &[Some(-128)],
        ),
        (
            &["GET", "u8", "0", "GET", "i4", "0", "GET", "u4", "4"],
            &[Some(128), Some(-8), Some(0)],
        ),
        (
            &["SET", "u8", "#1", "255", "GET", "u8", "#1"],
            &[Some(0), Some(255)],
        ),
        (&["GET", "u63", "0"], &[Some(4647574077957996544)]),
        (&["GET", "i64", "0"], &[Some(-9151595917793558528)]),
        (
            &[
                "SET", "i8", "0", "1", "SET", "i8", "0", "2", "GET", "i8", "0",
            ],
            &[Some(-128), Some(1), Some(2)],
        ),
        // SET truncates the value to the field width.
        (&["SET", "u8", "0", "256"], &[Some(2)]),
        (&["SET", "u8", "0", "-1"], &[Some(0)]),
        (&["SET", "i8", "0", "200"], &[Some(-1)]),
        (
            &["SET", "i64", "0", "9223372036854775807"],
            &[Some(-3963449147062747136)],
        ),
        (&["INCRBY", "i64", "0", "1"], &[Some(i64::MIN)]),
        (
            &["OVERFLOW", "SAT", "INCRBY", "i64", "0", "1"],
            &[Some(-9223372036854775807)],
        ),
        (
            &["OVERFLOW", "FAIL", "INCRBY", "i64", "0", "1"],
            &[Some(-9223372036854775806)],
        ),
        (
            &["SET", "u63", "0", "9223372036854775807"],
            &[Some(4611686018427387905)],
        ),
        (&["OVERFLOW", "WRAP", "INCRBY", "u63", "0", "1"], &[Some(0)]),
        (&["OVERFLOW", "SAT", "INCRBY", "u63", "0", "1"], &[Some(1)]),
        (&["OVERFLOW", "FAIL", "INCRBY", "u63", "0", "1"], &[Some(2)]),
        // Offsets far out read zero without growing the string.
        (&["GET", "i8", "4294967288"], &[Some(0)]),
        (&[], &[]),
    ];
    for (args, want) in steps {
        assert_eq!(bf(&mut c, args), ints(want), "{args:?}");
    }
    assert_eq!(ok(&mut c, &["STRLEN", "bf"]), vi(8));
    let steps2: &[(&[&str], &[Option<i64>])] = &[
        (
            &[
                "SET", "i5", "#2", "-3", "GET", "i5", "#2", "GET", "u15", "0",
            ],
            &[Some(0), Some(-3), Some(29)],
        ),
        (&["INCRBY", "i5", "#2", "100"], &[Some(1)]),
        (
            &[
                "OVERFLOW", "SAT", "INCRBY", "i5", "#2", "100", "OVERFLOW", "SAT", "INCRBY", "i5",
                "#2", "-100",
            ],
            &[Some(15), Some(-16)],
        ),
        // OVERFLOW applies to the INCRBYs after it; a failed one changes nothing.
        (
            &[
                "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "5", "GET", "u2", "0",
            ],
            &[None, Some(0)],
        ),
        (&["OVERFLOW", "FAIL", "INCRBY", "i5", "#2", "100"], &[None]),
    ];
    for (args, want) in steps2 {
        let mut full = vec!["BITFIELD", "bf2"];
        full.extend_from_slice(args);
        assert_eq!(ok(&mut c, &full), ints(want), "{args:?}");
    }
    assert_eq!(get_bytes(&mut c, "bf2"), b"\x00\x20");
    // A write subcommand creates the key even when it fails; reads alone never do.
    assert_eq!(
        ok(
            &mut c,
            &["BITFIELD", "nk", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "1000"]
        ),
        ints(&[None])
    );
    assert_eq!(get_bytes(&mut c, "nk"), b"\x00");
    assert_eq!(
        ok(&mut c, &["BITFIELD", "nokey", "GET", "u8", "0"]),
        ints(&[Some(0)])
    );
    assert_eq!(ok(&mut c, &["EXISTS", "nokey"]), vi(0));
    // Integer-encoded values are bits of their text ("1" is 0x31).
    ok(&mut c, &["SET", "n", "1"]);
    assert_eq!(
        ok(&mut c, &["BITFIELD", "n", "GET", "u8", "0"]),
        ints(&[Some(0x31)])
    );
}

#[test]
fn bitfield_errors() {
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["SET", "bf", "abc"]);
    for t in ["u64", "i65", "x8", "i0", "u0", "8", "i"] {
        assert_eq!(
            err(&mut c, &["BITFIELD", "bf", "GET", t, "0"]),
            BAD_TYPE,
            "{t}"
        );
    }
    for off in [
        "-1",
        "abc",
        "#abc",
        "#-1",
        "#536870912",
        "4294967296",
        "1.5",
    ] {
        assert_eq!(
            err(&mut c, &["BITFIELD", "bf", "GET", "i8", off]),
            BAD_OFFSET,
            "{off}"
        );
        assert_eq!(
            err(&mut c, &["BITFIELD", "bf", "SET", "u8", off, "1"]),
            BAD_OFFSET,
            "{off}"
        );
    }
    assert_eq!(
        err(&mut c, &["BITFIELD", "bf", "SET", "i8", "0", "abc"]),
        NOT_INT
    );
    assert_eq!(
        err(&mut c, &["BITFIELD", "bf", "INCRBY", "i8", "0", "abc"]),
        NOT_INT
    );
    assert_eq!(
        err(
            &mut c,
            &["BITFIELD", "bf", "OVERFLOW", "foo", "GET", "i8", "0"]
        ),
        "ERR Invalid OVERFLOW type specified"
    );
    for args in [
        &["BITFIELD", "bf", "SET", "i8", "0"][..],
        &["BITFIELD", "bf", "OVERFLOW"],
        &["BITFIELD", "bf", "foo"],
        &["BITFIELD", "bf", "GET"],
        &["BITFIELD", "bf", "GET", "i8"],
    ] {
        assert_eq!(err(&mut c, args), SYNTAX, "{args:?}");
    }
    // An error anywhere means nothing ran, not even the valid SET before it.
    assert_eq!(
        err(
            &mut c,
            &["BITFIELD", "bf", "SET", "u8", "0", "0", "GET", "u64", "0"]
        ),
        BAD_TYPE
    );
    assert_eq!(ok(&mut c, &["GET", "bf"]), vb("abc"));
    assert_eq!(err(&mut c, &["BITFIELD"]), arity("bitfield"));
}

#[test]
fn bitfield_ro() {
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["SET", "bf", "abc"]);
    assert_eq!(
        ok(
            &mut c,
            &["BITFIELD_RO", "bf", "GET", "u8", "0", "GET", "i8", "8"]
        ),
        ints(&[Some(0x61), Some(0x62)])
    );
    assert_eq!(
        ok(&mut c, &["BITFIELD_RO", "bf", "GET", "u4", "#1"]),
        ints(&[Some(1)])
    );
    assert_eq!(ok(&mut c, &["BITFIELD_RO", "bf"]), ints(&[]));
    assert_eq!(
        ok(&mut c, &["BITFIELD_RO", "nokey", "GET", "u8", "0"]),
        ints(&[Some(0)])
    );
    assert_eq!(ok(&mut c, &["EXISTS", "nokey"]), vi(0));
    let only_get = "ERR BITFIELD_RO only supports the GET subcommand";
    assert_eq!(
        err(&mut c, &["BITFIELD_RO", "bf", "SET", "u8", "0", "1"]),
        only_get
    );
    assert_eq!(
        err(&mut c, &["BITFIELD_RO", "bf", "INCRBY", "u8", "0", "1"]),
        only_get
    );
    assert_eq!(err(&mut c, &["BITFIELD_RO", "bf", "foo"]), SYNTAX);
    assert_eq!(
        err(&mut c, &["BITFIELD_RO", "bf", "GET", "i8", "99999999999"]),
        BAD_OFFSET
    );
    assert_eq!(err(&mut c, &["BITFIELD_RO"]), arity("bitfield_ro"));
    assert_eq!(ok(&mut c, &["GET", "bf"]), vb("abc"));
}
