//! Streams through the real binary: every command and its error replies (checked against Redis 7.0.15),
//! consumer groups with several consumers, claims of idle entries, and blocking reads served by a producer on
//! another connection. The replicated case (failover keeps each consumer's pending entries) is in
//! `replication.rs`.

mod common;
mod raw;

use std::time::{Duration, Instant};

use common::{err, info_field, ok, vb, vi, Server};
use raw::Raw;
use redis::Value;

fn ids(v: &Value) -> Vec<String> {
    let Value::Array(items) = v else {
        panic!("not an array: {v:?}")
    };
    items
        .iter()
        .map(|e| match e {
            Value::Array(p) => raw::bulk(&p[0]),
            other => raw::bulk(other),
        })
        .collect()
}

fn arr(items: Vec<Value>) -> Value {
    Value::Array(items)
}

fn blocked(c: &mut redis::Connection) -> usize {
    info_field(c, "clients", "blocked_clients")
        .and_then(|v| v.parse().ok())
        .expect("blocked_clients")
}

fn wait_blocked(c: &mut redis::Connection, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while blocked(c) != n {
        assert!(Instant::now() < deadline, "never saw {n} blocked clients");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn block(s: &Server, c: &mut redis::Connection, args: &[&str], already: usize) -> Raw {
    let mut r = Raw::new(s);
    r.send(args);
    wait_blocked(c, already + 1);
    r
}

fn bulk(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

/// An XREAD reply (RESP2) for one stream with entries of a single field/value pair.
fn xread_reply(key: &str, entries: &[(&str, &str, &str)]) -> String {
    let mut s = format!("*1\r\n*2\r\n{}*{}\r\n", bulk(key), entries.len());
    for (id, f, v) in entries {
        s.push_str(&format!("*2\r\n{}*2\r\n{}{}", bulk(id), bulk(f), bulk(v)));
    }
    s
}

#[test]
fn xadd_ranges_deletion_trimming_and_their_errors() {
    let s = Server::start();
    let mut c = s.client();
    assert_eq!(
        ok(&mut c, &["XADD", "s", "1-1", "a", "1", "b", "2"]),
        vb("1-1")
    );
    assert_eq!(ok(&mut c, &["XADD", "s", "1-*", "c", "3"]), vb("1-2"));
    assert_eq!(ok(&mut c, &["XADD", "s", "2", "d", "4"]), vb("2-0"));
    // `*` takes the leader's time.
    let before = common::unix_ms();
    let id = raw::bulk(&ok(&mut c, &["XADD", "s", "*", "e", "5"]));
    let ms: i64 = id.split('-').next().unwrap().parse().unwrap();
    assert!(ms >= before && ms < before + 60_000, "{id}");
    assert_eq!(
        err(&mut c, &["XADD", "s", "1-1", "a", "1"]),
        "ERR The ID specified in XADD is equal or smaller than the target stream top item"
    );
    assert_eq!(
        err(&mut c, &["XADD", "s", "0-0", "a", "1"]),
        "ERR The ID specified in XADD must be greater than 0-0"
    );
    assert_eq!(
        err(&mut c, &["XADD", "s", "a"]),
        "ERR wrong number of arguments for 'xadd' command"
    );
    assert_eq!(
        err(&mut c, &["XADD", "s", "*", "a", "1", "b"]),
        "ERR wrong number of arguments for 'xadd' command"
    );
    assert_eq!(
        err(&mut c, &["XADD", "s", "abc", "a", "1"]),
        "ERR Invalid stream ID specified as stream command argument"
    );
    assert_eq!(
        err(&mut c, &["XADD", "s", "MAXLEN", "-1", "*", "a", "1"]),
        "ERR The MAXLEN argument must be >= 0."
    );
    assert_eq!(
        err(
            &mut c,
            &["XADD", "s", "MAXLEN", "2", "MINID", "1", "*", "a", "1"]
        ),
        "ERR syntax error, MAXLEN and MINID options at the same time are not compatible"
    );
    assert_eq!(
        err(&mut c, &["XADD", "s", "LIMIT", "5", "*", "a", "1"]),
        "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy"
    );
    assert_eq!(
        err(
            &mut c,
            &["XADD", "s", "MAXLEN", "10", "LIMIT", "5", "*", "a", "1"]
        ),
        "ERR syntax error, LIMIT cannot be used without the special ~ option"
    );
    assert_eq!(
        ok(&mut c, &["XADD", "nos", "NOMKSTREAM", "*", "a", "1"]),
        Value::Nil
    );
    assert_eq!(ok(&mut c, &["EXISTS", "nos"]), vi(0));
    assert_eq!(ok(&mut c, &["XLEN", "s"]), vi(4));
    assert_eq!(ok(&mut c, &["XLEN", "none"]), vi(0));
    assert_eq!(
        ok(&mut c, &["TYPE", "s"]),
        Value::SimpleString("stream".into())
    );
    assert_eq!(ok(&mut c, &["OBJECT", "ENCODING", "s"]), vb("stream"));

    // Ranges: inclusive, exclusive, COUNT, reverse.
    assert_eq!(
        ok(&mut c, &["XRANGE", "s", "-", "1"]),
        arr(vec![
            arr(vec![
                vb("1-1"),
                arr(vec![vb("a"), vb("1"), vb("b"), vb("2")])
            ]),
            arr(vec![vb("1-2"), arr(vec![vb("c"), vb("3")])]),
        ])
    );
    assert_eq!(ids(&ok(&mut c, &["XRANGE", "s", "(1-1", "(2-0"])), ["1-2"]);
    assert_eq!(
        ids(&ok(&mut c, &["XRANGE", "s", "-", "+", "COUNT", "2"])),
        ["1-1", "1-2"]
    );
    assert_eq!(
        ok(&mut c, &["XRANGE", "s", "-", "+", "COUNT", "0"]),
        Value::Nil
    );
    assert_eq!(
        ids(&ok(&mut c, &["XREVRANGE", "s", "2", "-", "COUNT", "2"])),
        ["2-0", "1-2"]
    );
    assert_eq!(ok(&mut c, &["XRANGE", "none", "-", "+"]), arr(vec![]));
    assert_eq!(
        err(&mut c, &["XRANGE", "s", "-", "+", "FOO", "1"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["XRANGE", "s", "(-", "+"]),
        "ERR Invalid stream ID specified as stream command argument"
    );
    assert_eq!(
        err(
            &mut c,
            &[
                "XRANGE",
                "s",
                "(18446744073709551615-18446744073709551615",
                "+"
            ]
        ),
        "ERR invalid start ID for the interval"
    );
    assert_eq!(
        err(&mut c, &["XRANGE", "s", "-", "(0-0"]),
        "ERR invalid end ID for the interval"
    );

    // XDEL and XTRIM.
    assert_eq!(ok(&mut c, &["XDEL", "s", "1-2", "9-9"]), vi(1));
    assert_eq!(
        err(&mut c, &["XDEL", "s", "abc"]),
        "ERR Invalid stream ID specified as stream command argument"
    );
    assert_eq!(ok(&mut c, &["XDEL", "none", "1-1"]), vi(0));
    assert_eq!(err(&mut c, &["XTRIM", "s", "FOO", "1"]), "ERR syntax error");
    assert_eq!(
        err(&mut c, &["XTRIM", "s", "MAXLEN"]),
        "ERR wrong number of arguments for 'xtrim' command"
    );
    assert_eq!(ok(&mut c, &["XTRIM", "s", "MAXLEN", "1"]), vi(2));
    assert_eq!(ok(&mut c, &["XLEN", "s"]), vi(1));
    assert_eq!(
        ok(&mut c, &["XTRIM", "s", "MINID", "=", "99999999999999"]),
        vi(1)
    );
    assert_eq!(ok(&mut c, &["XTRIM", "none", "MAXLEN", "1"]), vi(0));
    for i in 0..250 {
        ok(&mut c, &["XADD", "t", "*", "f", &i.to_string()]);
    }
    // `~` removes whole nodes of 100 entries only.
    assert_eq!(ok(&mut c, &["XTRIM", "t", "MAXLEN", "~", "120"]), vi(100));
    // 151 entries in nodes of 100 and 51: the first node goes, the second would pass the LIMIT.
    ok(
        &mut c,
        &[
            "XADD", "t", "MAXLEN", "~", "10", "LIMIT", "100", "*", "f", "v",
        ],
    );
    assert_eq!(ok(&mut c, &["XLEN", "t"]), vi(51));

    // Wrong types.
    ok(&mut c, &["SET", "str", "x"]);
    let wrongtype = "WRONGTYPE Operation against a key holding the wrong kind of value";
    for args in [
        &["XADD", "str", "*", "a", "1"][..],
        &["XLEN", "str"],
        &["XRANGE", "str", "-", "+"],
        &["XREVRANGE", "str", "+", "-"],
        &["XDEL", "str", "1-1"],
        &["XTRIM", "str", "MAXLEN", "1"],
        &["XREAD", "STREAMS", "str", "0"],
        &["XGROUP", "CREATE", "str", "g", "$"],
        &["XINFO", "STREAM", "str"],
        &["XSETID", "str", "1-1"],
    ] {
        assert_eq!(err(&mut c, args), wrongtype, "{args:?}");
    }
}

#[test]
fn xsetid_and_xinfo_stream() {
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["XADD", "s", "5-1", "f", "v"]);
    ok(&mut c, &["XADD", "s", "6-1", "f", "w"]);
    assert_eq!(
        err(&mut c, &["XSETID", "s", "1"]),
        "ERR The ID specified in XSETID is smaller than the target stream top item"
    );
    assert_eq!(
        err(&mut c, &["XSETID", "s", "99-0", "ENTRIESADDED", "1"]),
        "ERR The entries_added specified in XSETID is smaller than the target stream length"
    );
    assert_eq!(
        err(&mut c, &["XSETID", "s", "99-0", "ENTRIESADDED", "-1"]),
        "ERR entries_added must be positive"
    );
    assert_eq!(
        err(&mut c, &["XSETID", "s", "99-0", "MAXDELETEDID", "100-0"]),
        "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id"
    );
    assert_eq!(
        err(&mut c, &["XSETID", "s", "99-0", "FOO"]),
        "ERR syntax error"
    );
    assert_eq!(err(&mut c, &["XSETID", "none", "1-1"]), "ERR no such key");
    assert_eq!(
        ok(
            &mut c,
            &[
                "XSETID",
                "s",
                "99-0",
                "ENTRIESADDED",
                "50",
                "MAXDELETEDID",
                "5-0"
            ]
        ),
        Value::Okay
    );
    assert_eq!(
        err(&mut c, &["XADD", "s", "98-0", "f", "v"]),
        "ERR The ID specified in XADD is equal or smaller than the target stream top item"
    );
    let info = ok(&mut c, &["XINFO", "STREAM", "s"]);
    let Value::Array(kv) = info else { panic!() };
    let field = |name: &str| {
        kv.chunks(2)
            .find(|p| raw::bulk(&p[0]) == name)
            .map(|p| p[1].clone())
            .unwrap()
    };
    assert_eq!(field("length"), vi(2));
    assert_eq!(field("last-generated-id"), vb("99-0"));
    assert_eq!(field("max-deleted-entry-id"), vb("5-0"));
    assert_eq!(field("entries-added"), vi(50));
    assert_eq!(field("recorded-first-entry-id"), vb("5-1"));
    assert_eq!(field("groups"), vi(0));
    assert_eq!(
        field("first-entry"),
        arr(vec![vb("5-1"), arr(vec![vb("f"), vb("v")])])
    );
    assert_eq!(
        field("last-entry"),
        arr(vec![vb("6-1"), arr(vec![vb("f"), vb("w")])])
    );
    assert_eq!(err(&mut c, &["XINFO", "STREAM", "none"]), "ERR no such key");
    assert_eq!(
        err(&mut c, &["XINFO", "STREAM", "s", "FOO"]),
        "ERR unknown subcommand or wrong number of arguments for 'STREAM'. Try XINFO HELP."
    );
    assert_eq!(
        err(&mut c, &["XINFO", "FOO", "s"]),
        "ERR unknown subcommand 'FOO'. Try XINFO HELP."
    );
    let Value::Array(help) = ok(&mut c, &["XINFO", "HELP"]) else {
        panic!()
    };
    assert!(help.len() > 4);
    // RESP3: XINFO is a map.
    let mut r = Raw::new(&s);
    r.call(&["HELLO", "3"]);
    assert!(r.call(&["XINFO", "STREAM", "s"]).starts_with("%10\r\n"));
    assert!(r
        .call(&["XINFO", "STREAM", "s", "FULL", "COUNT", "1"])
        .starts_with("%9\r\n"));
}

#[test]
fn consumer_groups_with_several_consumers() {
    let s = Server::start();
    let mut c = s.client();
    for i in 1..=6 {
        ok(
            &mut c,
            &["XADD", "s", &format!("{i}-0"), "n", &i.to_string()],
        );
    }
    assert_eq!(
        ok(&mut c, &["XGROUP", "CREATE", "s", "g", "0"]),
        Value::Okay
    );
    assert_eq!(
        err(&mut c, &["XGROUP", "CREATE", "s", "g", "0"]),
        "BUSYGROUP Consumer Group name already exists"
    );
    assert_eq!(
        err(&mut c, &["XGROUP", "CREATE", "none", "g", "$"]),
        "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically."
    );
    assert_eq!(
        ok(&mut c, &["XGROUP", "CREATE", "made", "g", "$", "MKSTREAM"]),
        Value::Okay
    );
    assert_eq!(ok(&mut c, &["XLEN", "made"]), vi(0));
    assert_eq!(
        err(
            &mut c,
            &["XGROUP", "CREATE", "s", "g2", "0", "ENTRIESREAD", "-5"]
        ),
        "ERR value for ENTRIESREAD must be positive or -1"
    );
    assert_eq!(
        err(&mut c, &["XGROUP", "SETID", "s", "nog", "0"]),
        "NOGROUP No such consumer group 'nog' for key name 's'"
    );
    assert_eq!(
        err(&mut c, &["XGROUP", "FOO", "s", "g"]),
        "ERR unknown subcommand 'FOO'. Try XGROUP HELP."
    );
    assert_eq!(
        err(&mut c, &["XGROUP", "CREATE", "s", "g3", "0", "FOO"]),
        "ERR unknown subcommand or wrong number of arguments for 'CREATE'. Try XGROUP HELP."
    );

    // Three consumers share the stream: each entry goes to exactly one.
    let read = |c: &mut redis::Connection, who: &str, count: &str| {
        let v = ok(
            c,
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                who,
                "COUNT",
                count,
                "STREAMS",
                "s",
                ">",
            ],
        );
        match v {
            Value::Nil => Vec::new(),
            Value::Array(streams) => match &streams[0] {
                Value::Array(kv) => ids(&kv[1]),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(read(&mut c, "alice", "2"), ["1-0", "2-0"]);
    assert_eq!(read(&mut c, "bob", "2"), ["3-0", "4-0"]);
    assert_eq!(read(&mut c, "carol", "5"), ["5-0", "6-0"]);
    assert!(read(&mut c, "alice", "5").is_empty());
    // History: only one's own pending entries.
    let h = ok(
        &mut c,
        &["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", "0"],
    );
    let Value::Array(streams) = h else { panic!() };
    let Value::Array(kv) = &streams[0] else {
        panic!()
    };
    assert_eq!(ids(&kv[1]), ["3-0", "4-0"]);
    assert_eq!(
        ok(&mut c, &["XPENDING", "s", "g"]),
        arr(vec![
            vi(6),
            vb("1-0"),
            vb("6-0"),
            arr(vec![
                arr(vec![vb("alice"), vb("2")]),
                arr(vec![vb("bob"), vb("2")]),
                arr(vec![vb("carol"), vb("2")]),
            ]),
        ])
    );
    let p = ok(&mut c, &["XPENDING", "s", "g", "-", "+", "10", "bob"]);
    assert_eq!(ids(&p), ["3-0", "4-0"]);
    let Value::Array(rows) = p else { panic!() };
    let Value::Array(row) = &rows[0] else {
        panic!()
    };
    assert_eq!(row[1], vb("bob"));
    // Bob read his history once more: two deliveries.
    assert_eq!(row[3], vi(2));
    assert_eq!(
        ids(&ok(&mut c, &["XPENDING", "s", "g", "(1-0", "4", "2"])),
        ["2-0", "3-0"]
    );
    assert_eq!(
        ok(
            &mut c,
            &["XPENDING", "s", "g", "IDLE", "3600000", "-", "+", "10"]
        ),
        arr(vec![])
    );
    assert_eq!(
        err(&mut c, &["XPENDING", "s", "g", "-", "+"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["XPENDING", "s", "nog"]),
        "NOGROUP No such key 's' or consumer group 'nog'"
    );
    assert_eq!(ok(&mut c, &["XACK", "s", "g", "1-0", "3-0", "9-0"]), vi(2));
    assert_eq!(ok(&mut c, &["XACK", "s", "nog", "1-0"]), vi(0));
    assert_eq!(
        err(&mut c, &["XACK", "s", "g", "abc"]),
        "ERR Invalid stream ID specified as stream command argument"
    );
    // Consumers and groups as XINFO shows them.
    let Value::Array(consumers) = ok(&mut c, &["XINFO", "CONSUMERS", "s", "g"]) else {
        panic!()
    };
    assert_eq!(consumers.len(), 3);
    let Value::Array(groups) = ok(&mut c, &["XINFO", "GROUPS", "s"]) else {
        panic!()
    };
    let Value::Array(g) = &groups[0] else {
        panic!()
    };
    assert_eq!(
        g[..],
        [
            vb("name"),
            vb("g"),
            vb("consumers"),
            vi(3),
            vb("pending"),
            vi(4),
            vb("last-delivered-id"),
            vb("6-0"),
            vb("entries-read"),
            vi(6),
            vb("lag"),
            vi(0),
        ]
    );
    assert_eq!(
        ok(&mut c, &["XGROUP", "CREATECONSUMER", "s", "g", "dave"]),
        vi(1)
    );
    assert_eq!(
        ok(&mut c, &["XGROUP", "CREATECONSUMER", "s", "g", "dave"]),
        vi(0)
    );
    assert_eq!(
        ok(&mut c, &["XGROUP", "DELCONSUMER", "s", "g", "carol"]),
        vi(2)
    );
    assert_eq!(
        ok(&mut c, &["XGROUP", "DELCONSUMER", "s", "g", "nobody"]),
        vi(0)
    );
    assert_eq!(ok(&mut c, &["XGROUP", "SETID", "s", "g", "0"]), Value::Okay);
    // Re-delivered from the start: entries pending for others move to the reader.
    assert_eq!(read(&mut c, "dave", "3"), ["1-0", "2-0", "3-0"]);
    assert_eq!(
        ids(&ok(
            &mut c,
            &["XPENDING", "s", "g", "-", "+", "10", "alice"]
        )),
        Vec::<String>::new()
    );
    assert_eq!(ok(&mut c, &["XGROUP", "DESTROY", "s", "g"]), vi(1));
    assert_eq!(ok(&mut c, &["XGROUP", "DESTROY", "s", "g"]), vi(0));
    assert_eq!(
        err(
            &mut c,
            &["XREADGROUP", "GROUP", "g", "a", "STREAMS", "s", ">"]
        ),
        "NOGROUP No such key 's' or consumer group 'g' in XREADGROUP with GROUP option"
    );
    assert_eq!(
        err(
            &mut c,
            &["XREADGROUP", "COUNT", "1", "STREAMS", "s", "t", ">", ">"]
        ),
        "ERR Missing GROUP option for XREADGROUP"
    );
    ok(&mut c, &["XGROUP", "CREATE", "s", "g", "$"]);
    assert_eq!(
        err(&mut c, &["XREADGROUP", "GROUP", "g", "a", "STREAMS", "s", "$"]),
        "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set."
    );
    // NOACK: delivered, nothing pending.
    ok(&mut c, &["XADD", "s", "7-0", "n", "7"]);
    read(&mut c, "erin", "1");
    ok(&mut c, &["XADD", "s", "8-0", "n", "8"]);
    let v = ok(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "erin",
            "NOACK",
            "STREAMS",
            "s",
            ">",
        ],
    );
    assert_ne!(v, Value::Nil);
    assert_eq!(
        ids(&ok(&mut c, &["XPENDING", "s", "g", "-", "+", "10"])),
        ["7-0"]
    );
}

#[test]
fn claims_move_idle_entries_between_consumers() {
    let s = Server::start();
    let mut c = s.client();
    for i in 1..=5 {
        ok(
            &mut c,
            &["XADD", "s", &format!("{i}-0"), "n", &i.to_string()],
        );
    }
    ok(&mut c, &["XGROUP", "CREATE", "s", "g", "0"]);
    ok(
        &mut c,
        &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">"],
    );
    // Not idle for an hour yet: nothing to claim.
    assert_eq!(
        ok(&mut c, &["XCLAIM", "s", "g", "bob", "3600000", "1-0"]),
        arr(vec![])
    );
    // Make 1-0 and 2-0 look idle for 10 s, then claim what was idle for 5 s.
    assert_eq!(
        ids(&ok(
            &mut c,
            &["XCLAIM", "s", "g", "alice", "0", "1-0", "2-0", "IDLE", "10000", "JUSTID"]
        )),
        ["1-0", "2-0"]
    );
    assert_eq!(
        ok(
            &mut c,
            &["XCLAIM", "s", "g", "bob", "5000", "1-0", "2-0", "3-0"]
        ),
        arr(vec![
            arr(vec![vb("1-0"), arr(vec![vb("n"), vb("1")])]),
            arr(vec![vb("2-0"), arr(vec![vb("n"), vb("2")])]),
        ])
    );
    let p = ok(&mut c, &["XPENDING", "s", "g", "1-0", "1-0", "1"]);
    let Value::Array(rows) = p else { panic!() };
    let Value::Array(row) = &rows[0] else {
        panic!()
    };
    assert_eq!(row[1], vb("bob"));
    assert_eq!(row[3], vi(2));
    // RETRYCOUNT, TIME, FORCE and LASTID.
    ok(
        &mut c,
        &[
            "XCLAIM",
            "s",
            "g",
            "bob",
            "0",
            "3-0",
            "RETRYCOUNT",
            "7",
            "TIME",
            "1000",
            "JUSTID",
        ],
    );
    let p = ok(&mut c, &["XPENDING", "s", "g", "3-0", "3-0", "1"]);
    let Value::Array(rows) = p else { panic!() };
    let Value::Array(row) = &rows[0] else {
        panic!()
    };
    assert_eq!(row[3], vi(7));
    let Value::Int(idle) = row[2] else { panic!() };
    assert!(idle > 1_000_000_000, "{idle}");
    ok(&mut c, &["XACK", "s", "g", "4-0"]);
    assert_eq!(
        ids(&ok(
            &mut c,
            &["XCLAIM", "s", "g", "carol", "0", "4-0", "FORCE", "JUSTID"]
        )),
        ["4-0"]
    );
    ok(&mut c, &["XADD", "s", "9-0", "n", "9"]);
    ok(
        &mut c,
        &[
            "XCLAIM", "s", "g", "carol", "0", "4-0", "LASTID", "9-0", "JUSTID",
        ],
    );
    assert_eq!(
        ok(
            &mut c,
            &["XREADGROUP", "GROUP", "g", "x", "STREAMS", "s", ">"]
        ),
        Value::Nil
    );
    assert_eq!(
        err(&mut c, &["XCLAIM", "s", "g", "bob", "abc", "1-0"]),
        "ERR Invalid min-idle-time argument for XCLAIM"
    );
    assert_eq!(
        err(&mut c, &["XCLAIM", "s", "g", "bob", "0", "1-0", "FOO"]),
        "ERR Unrecognized XCLAIM option 'FOO'"
    );
    assert_eq!(
        err(
            &mut c,
            &["XCLAIM", "s", "g", "bob", "0", "1-0", "IDLE", "x"]
        ),
        "ERR Invalid IDLE option argument for XCLAIM"
    );
    assert_eq!(
        err(&mut c, &["XCLAIM", "s", "nog", "bob", "0", "1-0"]),
        "NOGROUP No such key 's' or consumer group 'nog'"
    );

    // XAUTOCLAIM walks the PEL with a cursor and reports entries deleted meanwhile.
    ok(&mut c, &["XDEL", "s", "2-0"]);
    let a = ok(
        &mut c,
        &["XAUTOCLAIM", "s", "g", "dave", "0", "0", "COUNT", "2"],
    );
    let Value::Array(parts) = a else { panic!() };
    assert_eq!(parts[0], vb("3-0"));
    assert_eq!(ids(&parts[1]), ["1-0"]);
    assert_eq!(parts[2], arr(vec![vb("2-0")]));
    let a = ok(
        &mut c,
        &["XAUTOCLAIM", "s", "g", "dave", "0", "3-0", "JUSTID"],
    );
    let Value::Array(parts) = a else { panic!() };
    assert_eq!(parts[0], vb("0-0"));
    assert_eq!(ids(&parts[1]), ["3-0", "4-0", "5-0"]);
    assert_eq!(parts[2], arr(vec![]));
    assert_eq!(
        err(
            &mut c,
            &["XAUTOCLAIM", "s", "g", "dave", "0", "0", "COUNT", "0"]
        ),
        "ERR COUNT must be > 0"
    );
    assert_eq!(
        err(&mut c, &["XAUTOCLAIM", "s", "g", "dave", "x", "0"]),
        "ERR Invalid min-idle-time argument for XAUTOCLAIM"
    );
    assert_eq!(
        err(&mut c, &["XAUTOCLAIM", "s", "nog", "dave", "0", "0"]),
        "NOGROUP No such key 's' or consumer group 'nog'"
    );
    assert_eq!(
        ids(&ok(&mut c, &["XPENDING", "s", "g", "-", "+", "10", "dave"])),
        ["1-0", "3-0", "4-0", "5-0"]
    );
}

#[test]
fn xread_argument_errors_and_resp3_shape() {
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["XADD", "s", "1-0", "f", "v"]);
    assert_eq!(
        err(&mut c, &["XREAD", "STREAMS", "s", "t", "0"]),
        "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified."
    );
    assert_eq!(
        err(&mut c, &["XREAD", "FOO", "STREAMS", "s", "0"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["XREAD", "STREAMS", "s", ">"]),
        "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option."
    );
    assert_eq!(
        err(&mut c, &["XREAD", "GROUP", "g", "c", "STREAMS", "s", "0"]),
        "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead."
    );
    assert_eq!(
        err(&mut c, &["XREAD", "BLOCK", "abc", "STREAMS", "s", "0"]),
        "ERR timeout is not an integer or out of range"
    );
    assert_eq!(
        err(&mut c, &["XREAD", "BLOCK", "-1", "STREAMS", "s", "0"]),
        "ERR timeout is negative"
    );
    assert_eq!(ok(&mut c, &["XREAD", "STREAMS", "s", "$"]), Value::Nil);
    let mut r = Raw::new(&s);
    assert_eq!(
        r.call(&["XREAD", "STREAMS", "s", "0"]),
        xread_reply("s", &[("1-0", "f", "v")])
    );
    assert_eq!(r.call(&["XREAD", "STREAMS", "s", "1"]), "*-1\r\n");
    r.call(&["HELLO", "3"]);
    assert_eq!(
        r.call(&["XREAD", "STREAMS", "s", "0"]),
        format!(
            "%1\r\n{}*1\r\n*2\r\n{}*2\r\n{}{}",
            bulk("s"),
            bulk("1-0"),
            bulk("f"),
            bulk("v")
        )
    );
    assert_eq!(r.call(&["XREAD", "STREAMS", "s", "1"]), "_\r\n");
    // COMMAND GETKEYS knows where the keys are.
    assert_eq!(
        ok(
            &mut c,
            &["COMMAND", "GETKEYS", "XREAD", "COUNT", "1", "STREAMS", "a", "b", "0", "0"]
        ),
        arr(vec![vb("a"), vb("b")])
    );
}

#[test]
fn blocked_readers_are_served_by_a_producer_on_another_connection() {
    let s = Server::start();
    let mut c = s.client();
    ok(&mut c, &["XADD", "s", "1-0", "f", "old"]);
    // Three XREAD waiters on `$`: each gets the next entry (and not the old one).
    let mut w: Vec<Raw> = (0..3)
        .map(|i| block(&s, &mut c, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"], i))
        .collect();
    assert_eq!(ok(&mut c, &["XADD", "s", "2-0", "f", "new"]), vb("2-0"));
    for r in &mut w {
        assert_eq!(r.reply(), xread_reply("s", &[("2-0", "f", "new")]));
    }
    wait_blocked(&mut c, 0);
    // `$` on a stream that does not exist yet, and a second key.
    let mut a = block(
        &s,
        &mut c,
        &["XREAD", "BLOCK", "0", "STREAMS", "s", "fresh", "$", "$"],
        0,
    );
    assert_eq!(ok(&mut c, &["XADD", "fresh", "1-0", "k", "v"]), vb("1-0"));
    assert_eq!(a.reply(), xread_reply("fresh", &[("1-0", "k", "v")]));
    // A timeout gives a null array.
    let mut t = Raw::new(&s);
    let start = Instant::now();
    assert_eq!(
        t.call(&["XREAD", "BLOCK", "100", "STREAMS", "s", "$"]),
        "*-1\r\n"
    );
    assert!(start.elapsed() >= Duration::from_millis(90));

    // Consumer-group waiters: one entry serves one consumer; the other keeps waiting.
    ok(&mut c, &["XGROUP", "CREATE", "s", "g", "$"]);
    let mut x = block(
        &s,
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ],
        0,
    );
    let mut y = block(
        &s,
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "bob",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ],
        1,
    );
    ok(&mut c, &["XADD", "s", "3-0", "f", "a"]);
    assert_eq!(x.reply(), xread_reply("s", &[("3-0", "f", "a")]));
    wait_blocked(&mut c, 1);
    ok(&mut c, &["XADD", "s", "4-0", "f", "b"]);
    assert_eq!(y.reply(), xread_reply("s", &[("4-0", "f", "b")]));
    assert_eq!(
        ok(&mut c, &["XPENDING", "s", "g"]),
        arr(vec![
            vi(2),
            vb("3-0"),
            vb("4-0"),
            arr(vec![
                arr(vec![vb("alice"), vb("1")]),
                arr(vec![vb("bob"), vb("1")]),
            ]),
        ])
    );
    // A destroyed group and a deleted stream end group waiters with Redis' errors; a plain reader waits on.
    let mut d = block(
        &s,
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ],
        0,
    );
    assert_eq!(ok(&mut c, &["XGROUP", "DESTROY", "s", "g"]), vi(1));
    assert_eq!(
        d.reply(),
        "-NOGROUP the consumer group this client was blocked on no longer exists\r\n"
    );
    ok(&mut c, &["XGROUP", "CREATE", "s", "g", "$"]);
    let mut e = block(
        &s,
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ],
        0,
    );
    let mut plain = block(&s, &mut c, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"], 1);
    assert_eq!(ok(&mut c, &["DEL", "s"]), vi(1));
    assert_eq!(e.reply(), "-UNBLOCKED the stream key no longer exists\r\n");
    wait_blocked(&mut c, 1);
    ok(&mut c, &["XADD", "s", "5-0", "f", "z"]);
    assert_eq!(plain.reply(), xread_reply("s", &[("5-0", "f", "z")]));
    wait_blocked(&mut c, 0);
    // CLIENT UNBLOCK ends a wait like a timeout.
    let mut u = Raw::new(&s);
    u.send(&["CLIENT", "ID"]);
    let uid: i64 = u.reply()[1..].trim_end().parse().unwrap();
    u.send(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    wait_blocked(&mut c, 1);
    assert_eq!(ok(&mut c, &["CLIENT", "UNBLOCK", &uid.to_string()]), vi(1));
    assert_eq!(u.reply(), "*-1\r\n");
}

#[test]
fn digest_sees_every_stream_change() {
    let s = Server::start();
    let mut c = s.client();
    let digest = |c: &mut redis::Connection| raw::bulk(&ok(c, &["DEBUG", "DIGEST"]));
    let empty = digest(&mut c);
    ok(&mut c, &["XADD", "s", "1-0", "f", "v"]);
    let one = digest(&mut c);
    assert_ne!(one, empty);
    ok(&mut c, &["XGROUP", "CREATE", "s", "g", "0"]);
    let grouped = digest(&mut c);
    assert_ne!(grouped, one);
    ok(
        &mut c,
        &["XREADGROUP", "GROUP", "g", "a", "STREAMS", "s", ">"],
    );
    assert_ne!(digest(&mut c), grouped);
}
