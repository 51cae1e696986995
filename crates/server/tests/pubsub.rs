//! Pub/sub through the real binary: delivery order, patterns, several subscribers, shard channels, RESP2
//! subscribed mode and RESP3 pushes, introspection, and a slow subscriber cut off by its output buffer limit
//! while the publisher and other clients carry on. Replies are checked byte for byte against Redis 7.0.15.

mod common;
mod raw;

use std::io::{BufRead, Read};
use std::time::{Duration, Instant};

use common::{err, info_field, ok, vb, vi, Server};
use raw::Raw;

/// A bulk string as RESP text.
fn bulk(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

/// A RESP2 array (or, with `>`, a RESP3 push) of bulk strings followed by an integer.
fn confirm(head: char, verb: &str, name: &str, n: i64) -> String {
    format!("{head}3\r\n{}{}:{n}\r\n", bulk(verb), bulk(name))
}

fn message(head: char, channel: &str, msg: &str) -> String {
    format!(
        "{head}3\r\n{}{}{}",
        bulk("message"),
        bulk(channel),
        bulk(msg)
    )
}

fn pmessage(head: char, pattern: &str, channel: &str, msg: &str) -> String {
    format!(
        "{head}4\r\n{}{}{}{}",
        bulk("pmessage"),
        bulk(pattern),
        bulk(channel),
        bulk(msg)
    )
}

/// Whether nothing arrives on `r` for `ms` milliseconds.
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

fn numsub(c: &mut redis::Connection, channel: &str) -> i64 {
    match ok(c, &["PUBSUB", "NUMSUB", channel]) {
        redis::Value::Array(v) => match &v[1] {
            redis::Value::Int(n) => *n,
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

/// Waits until `channel` has `n` subscribers (a closed connection leaves its subscriptions a moment later).
fn wait_numsub(c: &mut redis::Connection, channel: &str, n: i64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while numsub(c, channel) != n {
        assert!(
            Instant::now() < deadline,
            "{channel} never had {n} subscribers"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn subscribe_publish_in_order_resp2() {
    let s = Server::start();
    let mut c = s.client();
    let mut sub = Raw::new(&s);
    sub.send(&["SUBSCRIBE", "ch1", "ch2"]);
    assert_eq!(sub.reply(), confirm('*', "subscribe", "ch1", 1));
    assert_eq!(sub.reply(), confirm('*', "subscribe", "ch2", 2));
    for i in 0..200 {
        let ch = if i % 3 == 0 { "ch2" } else { "ch1" };
        assert_eq!(ok(&mut c, &["PUBLISH", ch, &format!("m{i}")]), vi(1));
    }
    assert_eq!(ok(&mut c, &["PUBLISH", "nobody", "x"]), vi(0));
    for i in 0..200 {
        let ch = if i % 3 == 0 { "ch2" } else { "ch1" };
        assert_eq!(sub.reply(), message('*', ch, &format!("m{i}")));
    }
    // Subscribing twice counts once; unsubscribing reports what is left.
    sub.send(&["SUBSCRIBE", "ch1"]);
    assert_eq!(sub.reply(), confirm('*', "subscribe", "ch1", 2));
    sub.send(&["UNSUBSCRIBE", "ch1", "nosuch"]);
    assert_eq!(sub.reply(), confirm('*', "unsubscribe", "ch1", 1));
    assert_eq!(sub.reply(), confirm('*', "unsubscribe", "nosuch", 1));
    assert_eq!(ok(&mut c, &["PUBLISH", "ch1", "gone"]), vi(0));
    sub.send(&["UNSUBSCRIBE"]);
    assert_eq!(sub.reply(), confirm('*', "unsubscribe", "ch2", 0));
    // Out of subscribed mode: ordinary commands again; a bare UNSUBSCRIBE still answers, with a null channel.
    assert_eq!(sub.call(&["PING"]), "+PONG\r\n");
    assert_eq!(
        sub.call(&["UNSUBSCRIBE"]),
        format!("*3\r\n{}$-1\r\n:0\r\n", bulk("unsubscribe"))
    );
    assert_eq!(
        sub.call(&["PUNSUBSCRIBE"]),
        format!("*3\r\n{}$-1\r\n:0\r\n", bulk("punsubscribe"))
    );
}

#[test]
fn patterns_and_several_subscribers() {
    let s = Server::start();
    let mut c = s.client();
    let mut a = Raw::new(&s);
    let mut b = Raw::new(&s);
    let mut p = Raw::new(&s);
    a.send(&["SUBSCRIBE", "news.art"]);
    assert_eq!(a.reply(), confirm('*', "subscribe", "news.art", 1));
    b.send(&["SUBSCRIBE", "news.art"]);
    assert_eq!(b.reply(), confirm('*', "subscribe", "news.art", 1));
    p.send(&["PSUBSCRIBE", "news.*", "n?ws.[ab]*"]);
    assert_eq!(p.reply(), confirm('*', "psubscribe", "news.*", 1));
    assert_eq!(p.reply(), confirm('*', "psubscribe", "n?ws.[ab]*", 2));
    // Two channel subscribers and both patterns.
    assert_eq!(ok(&mut c, &["PUBLISH", "news.art", "hello"]), vi(4));
    assert_eq!(ok(&mut c, &["PUBLISH", "news.sport", "goal"]), vi(1));
    assert_eq!(ok(&mut c, &["PUBLISH", "weather", "rain"]), vi(0));
    assert_eq!(a.reply(), message('*', "news.art", "hello"));
    assert_eq!(b.reply(), message('*', "news.art", "hello"));
    let mut got = vec![p.reply(), p.reply()];
    got.sort();
    let mut want = vec![
        pmessage('*', "news.*", "news.art", "hello"),
        pmessage('*', "n?ws.[ab]*", "news.art", "hello"),
    ];
    want.sort();
    assert_eq!(got, want);
    assert_eq!(p.reply(), pmessage('*', "news.*", "news.sport", "goal"));
    assert!(silent(&mut a, 100));
    // Introspection.
    assert_eq!(
        ok(&mut c, &["PUBSUB", "NUMSUB", "news.art", "x"]),
        redis::Value::Array(vec![vb("news.art"), vi(2), vb("x"), vi(0)])
    );
    assert_eq!(ok(&mut c, &["PUBSUB", "NUMPAT"]), vi(2));
    assert_eq!(
        ok(&mut c, &["PUBSUB", "CHANNELS", "news.*"]),
        redis::Value::Array(vec![vb("news.art")])
    );
    assert_eq!(
        ok(&mut c, &["PUBSUB", "CHANNELS", "zzz*"]),
        redis::Value::Array(vec![])
    );
    assert_eq!(info_field(&mut c, "stats", "pubsub_channels").unwrap(), "1");
    assert_eq!(info_field(&mut c, "stats", "pubsub_patterns").unwrap(), "2");
    // CLIENT LIST shows the counts and the P flag.
    let list = match ok(&mut c, &["CLIENT", "LIST"]) {
        redis::Value::BulkString(b) => String::from_utf8(b).unwrap(),
        redis::Value::VerbatimString { text, .. } => text,
        other => panic!("{other:?}"),
    };
    assert!(
        list.lines()
            .any(|l| l.contains("flags=P ") && l.contains("sub=0 psub=2 ssub=0")),
        "{list}"
    );
    assert!(list
        .lines()
        .any(|l| l.contains("flags=P ") && l.contains("sub=1 psub=0 ssub=0")));
    // A closed subscriber leaves its channels.
    drop(a);
    wait_numsub(&mut c, "news.art", 1);
    p.send(&["PUNSUBSCRIBE", "news.*"]);
    assert_eq!(p.reply(), confirm('*', "punsubscribe", "news.*", 1));
    assert_eq!(ok(&mut c, &["PUBSUB", "NUMPAT"]), vi(1));
    assert_eq!(
        err(&mut c, &["PUBSUB", "CHANNELS", "a", "b"]),
        "ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP."
    );
}

#[test]
fn resp2_subscribed_mode_allows_only_subscription_commands() {
    let s = Server::start();
    let mut r = Raw::new(&s);
    r.send(&["SUBSCRIBE", "c"]);
    assert_eq!(r.reply(), confirm('*', "subscribe", "c", 1));
    assert_eq!(
        r.call(&["GET", "k"]),
        "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
    );
    assert_eq!(
        r.call(&["CLIENT", "LIST"]),
        "-ERR Can't execute 'client|list': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
    );
    assert_eq!(r.call(&["PING"]), "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    assert_eq!(r.call(&["PING", "hi"]), "*2\r\n$4\r\npong\r\n$2\r\nhi\r\n");
    // Unknown commands and arity errors keep their own messages.
    assert!(r
        .call(&["NOSUCH"])
        .starts_with("-ERR unknown command 'NOSUCH'"));
    r.send(&["PSUBSCRIBE", "p*"]);
    assert_eq!(r.reply(), confirm('*', "psubscribe", "p*", 2));
    r.send(&["SSUBSCRIBE", "s"]);
    assert_eq!(r.reply(), confirm('*', "ssubscribe", "s", 1));
    // RESET leaves every subscription and ends subscribed mode.
    assert_eq!(r.call(&["RESET"]), "+RESET\r\n");
    assert_eq!(r.call(&["GET", "k"]), "$-1\r\n");
    let mut c = s.client();
    assert_eq!(ok(&mut c, &["PUBLISH", "c", "x"]), vi(0));
    assert_eq!(ok(&mut c, &["PUBLISH", "px", "x"]), vi(0));
    assert_eq!(ok(&mut c, &["PUBSUB", "NUMPAT"]), vi(0));
    // QUIT is allowed and closes.
    r.send(&["SUBSCRIBE", "c"]);
    assert_eq!(r.reply(), confirm('*', "subscribe", "c", 1));
    assert_eq!(r.call(&["QUIT"]), "+OK\r\n");
    assert!(r.closed());
}

#[test]
fn resp3_pushes_and_any_command_while_subscribed() {
    let s = Server::start();
    let mut r = Raw::new(&s);
    r.call(&["HELLO", "3"]);
    r.send(&["SUBSCRIBE", "c"]);
    assert_eq!(r.reply(), confirm('>', "subscribe", "c", 1));
    // Any command runs; PING is a plain PONG.
    assert_eq!(r.call(&["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(r.call(&["GET", "k"]), "$1\r\nv\r\n");
    assert_eq!(r.call(&["PING"]), "+PONG\r\n");
    // Publishing to itself: the message comes before PUBLISH's reply, as in Redis.
    r.send(&["PUBLISH", "c", "self"]);
    assert_eq!(r.reply(), message('>', "c", "self"));
    assert_eq!(r.reply(), ":1\r\n");
    // Messages from another client arrive as pushes between replies.
    let mut c = s.client();
    assert_eq!(ok(&mut c, &["PUBLISH", "c", "other"]), vi(1));
    assert_eq!(r.reply(), message('>', "c", "other"));
    r.send(&["UNSUBSCRIBE", "c"]);
    assert_eq!(r.reply(), confirm('>', "unsubscribe", "c", 0));
    assert_eq!(
        r.call(&["UNSUBSCRIBE"]),
        format!(">3\r\n{}_\r\n:0\r\n", bulk("unsubscribe"))
    );
    // CLIENT REPLY OFF silences replies, never messages.
    r.send(&["SUBSCRIBE", "c"]);
    assert_eq!(r.reply(), confirm('>', "subscribe", "c", 1));
    r.send(&["CLIENT", "REPLY", "OFF"]);
    r.send(&["SET", "k", "w"]);
    assert_eq!(ok(&mut c, &["PUBLISH", "c", "still"]), vi(1));
    assert_eq!(r.reply(), message('>', "c", "still"));
    assert_eq!(r.call(&["CLIENT", "REPLY", "ON"]), "+OK\r\n");
    r.send(&["CLIENT", "REPLY", "SKIP"]);
    r.send(&["GET", "k"]);
    assert_eq!(r.call(&["ECHO", "after"]), "$5\r\nafter\r\n");
}

#[test]
fn shard_channels_are_separate() {
    let s = Server::start();
    let mut c = s.client();
    let mut r = Raw::new(&s);
    r.send(&["SSUBSCRIBE", "{u}a", "{u}b"]);
    assert_eq!(r.reply(), confirm('*', "ssubscribe", "{u}a", 1));
    assert_eq!(r.reply(), confirm('*', "ssubscribe", "{u}b", 2));
    let mut p = Raw::new(&s);
    p.send(&["PSUBSCRIBE", "*"]);
    assert_eq!(p.reply(), confirm('*', "psubscribe", "*", 1));
    // SPUBLISH reaches shard subscribers only; PUBLISH never reaches them.
    assert_eq!(ok(&mut c, &["SPUBLISH", "{u}a", "x"]), vi(1));
    assert_eq!(
        r.reply(),
        format!("*3\r\n{}{}{}", bulk("smessage"), bulk("{u}a"), bulk("x"))
    );
    assert_eq!(ok(&mut c, &["PUBLISH", "{u}a", "y"]), vi(1));
    assert_eq!(p.reply(), pmessage('*', "*", "{u}a", "y"));
    assert!(silent(&mut r, 100));
    assert_eq!(
        ok(&mut c, &["PUBSUB", "SHARDNUMSUB", "{u}a", "z"]),
        redis::Value::Array(vec![vb("{u}a"), vi(1), vb("z"), vi(0)])
    );
    let mut chans = match ok(&mut c, &["PUBSUB", "SHARDCHANNELS"]) {
        redis::Value::Array(v) => v,
        other => panic!("{other:?}"),
    };
    chans.sort_by_key(|v| format!("{v:?}"));
    assert_eq!(chans, vec![vb("{u}a"), vb("{u}b")]);
    assert_eq!(
        info_field(&mut c, "stats", "pubsubshard_channels").unwrap(),
        "2"
    );
    r.send(&["SUNSUBSCRIBE"]);
    assert_eq!(r.reply(), confirm('*', "sunsubscribe", "{u}a", 1));
    assert_eq!(r.reply(), confirm('*', "sunsubscribe", "{u}b", 0));
    assert_eq!(ok(&mut c, &["SPUBLISH", "{u}a", "x"]), vi(0));
    // COMMAND GETKEYS treats shard channels as keys (a cluster routes them by slot).
    assert_eq!(
        ok(&mut c, &["COMMAND", "GETKEYS", "SSUBSCRIBE", "a", "b"]),
        redis::Value::Array(vec![vb("a"), vb("b")])
    );
}

/// Reads from `r` until it is closed, returning the bytes read (bounded by `limit`).
fn read_until_closed(r: &mut Raw, limit: usize) -> Option<usize> {
    let mut total = 0;
    let mut buf = vec![0u8; 1 << 16];
    r.r.get_ref()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    while total < limit {
        match r.r.read(&mut buf) {
            Ok(0) => return Some(total),
            Ok(n) => total += n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Some(total),
            Err(_) => return None,
        }
    }
    None
}

#[test]
fn slow_subscriber_is_cut_off_while_the_publisher_carries_on() {
    let s = Server::start();
    let mut c = s.client();
    assert_eq!(
        ok(&mut c, &["CONFIG", "GET", "client-output-buffer-limit"]),
        redis::Value::Array(vec![
            vb("client-output-buffer-limit"),
            vb("normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60")
        ])
    );
    ok(
        &mut c,
        &[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 1mb 256kb 60",
        ],
    );
    assert_eq!(
        ok(&mut c, &["CONFIG", "GET", "client-output-buffer-limit"]),
        redis::Value::Array(vec![
            vb("client-output-buffer-limit"),
            vb("normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 262144 60")
        ])
    );
    assert_eq!(
        err(&mut c, &["CONFIG", "SET", "client-output-buffer-limit", "pubsub 1 2"]),
        "ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Wrong number of \
         arguments in buffer limit configuration."
    );
    // A subscriber that never reads, and one that keeps up.
    let mut slow = Raw::new(&s);
    slow.send(&["SUBSCRIBE", "firehose"]);
    assert_eq!(slow.reply(), confirm('*', "subscribe", "firehose", 1));
    let mut fast = Raw::new(&s);
    fast.send(&["SUBSCRIBE", "firehose"]);
    assert_eq!(fast.reply(), confirm('*', "subscribe", "firehose", 1));
    let reader = std::thread::spawn(move || {
        let mut got = 0;
        while got < 3000 {
            let m = fast.reply();
            assert!(m.starts_with("*3\r\n$7\r\nmessage\r\n"), "{m:.40}");
            got += 1;
        }
        fast
    });
    // 3000 messages of 16 KB (48 MB): far past the hard limit and any socket buffer. No PUBLISH waits for the
    // slow subscriber.
    let payload = "x".repeat(16 * 1024);
    let start = Instant::now();
    let mut counts = Vec::new();
    for _ in 0..3000 {
        let t = Instant::now();
        match ok(&mut c, &["PUBLISH", "firehose", &payload]) {
            redis::Value::Int(n) => counts.push(n),
            other => panic!("{other:?}"),
        }
        assert!(t.elapsed() < Duration::from_secs(2), "a PUBLISH waited");
    }
    assert!(start.elapsed() < Duration::from_secs(60));
    // At first both received it; the slow one was dropped once its queue passed the hard limit.
    assert_eq!(counts[0], 2);
    assert_eq!(*counts.last().unwrap(), 1);
    // Its connection is closed (what had been queued before the cut may still arrive).
    assert!(
        read_until_closed(&mut slow, 200 << 20).is_some(),
        "slow subscriber not closed"
    );
    let fast = reader.join().unwrap();
    drop(fast);
    // Other clients were served all along.
    assert_eq!(
        ok(&mut c, &["PING"]),
        redis::Value::SimpleString("PONG".into())
    );
    wait_numsub(&mut c, "firehose", 0);
}

#[test]
fn soft_limit_cuts_off_a_subscriber_that_stays_above_it() {
    let s = Server::start();
    let mut c = s.client();
    // No hard limit; 128 KB for more than 1 second.
    ok(
        &mut c,
        &[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 0 128kb 1",
        ],
    );
    let mut slow = Raw::new(&s);
    slow.send(&["SUBSCRIBE", "c"]);
    assert_eq!(slow.reply(), confirm('*', "subscribe", "c", 1));
    let payload = "y".repeat(64 * 1024);
    let deadline = Instant::now() + Duration::from_secs(30);
    // Keep publishing: the queue stays above the soft limit, and the check runs on each new message.
    loop {
        assert!(Instant::now() < deadline, "never cut off");
        if ok(&mut c, &["PUBLISH", "c", &payload]) == vi(0) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(read_until_closed(&mut slow, 512 << 20).is_some());
}

#[test]
fn client_type_pubsub_while_subscribed() {
    let s = Server::start();
    let mut c = s.client();
    let list = |c: &mut redis::Connection, t: &str| -> usize {
        match ok(c, &["CLIENT", "LIST", "TYPE", t]) {
            redis::Value::BulkString(b) => String::from_utf8(b).unwrap().lines().count(),
            redis::Value::VerbatimString { text, .. } => text.lines().count(),
            other => panic!("{other:?}"),
        }
    };
    let mut a = Raw::new(&s);
    a.send(&["SUBSCRIBE", "x"]);
    a.reply();
    let mut r3 = Raw::new(&s);
    r3.call(&["HELLO", "3"]);
    r3.send(&["SSUBSCRIBE", "y"]);
    r3.reply();
    // A RESP3 subscriber counts as pub/sub too, as in Redis.
    assert_eq!(list(&mut c, "pubsub"), 2);
    assert_eq!(list(&mut c, "normal"), 1);
    a.send(&["UNSUBSCRIBE"]);
    a.reply();
    assert_eq!(list(&mut c, "pubsub"), 1);
    assert_eq!(ok(&mut c, &["CLIENT", "KILL", "TYPE", "pubsub"]), vi(1));
    assert!(r3.closed());
    wait_numsub(&mut c, "x", 0);
    assert_eq!(
        ok(&mut c, &["PUBSUB", "SHARDNUMSUB", "y"]),
        redis::Value::Array(vec![vb("y"), vi(0)])
    );
}

#[test]
fn resp3_subscriber_gets_messages_while_blocked() {
    let s = Server::start();
    let mut c = s.client();
    let mut r = Raw::new(&s);
    r.call(&["HELLO", "3"]);
    r.send(&["SUBSCRIBE", "c"]);
    assert_eq!(r.reply(), confirm('>', "subscribe", "c", 1));
    r.send(&["BLPOP", "q", "0"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while info_field(&mut c, "clients", "blocked_clients").as_deref() != Some("1") {
        assert!(Instant::now() < deadline, "never blocked");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(ok(&mut c, &["PUBLISH", "c", "during"]), vi(1));
    assert_eq!(r.reply(), message('>', "c", "during"));
    ok(&mut c, &["RPUSH", "q", "job"]);
    assert_eq!(r.reply(), format!("*2\r\n{}{}", bulk("q"), bulk("job")));
}
