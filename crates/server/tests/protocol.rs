//! The wire protocol under bad and unusual input, through the real binary: malformed frames get Redis'
//! protocol error and a disconnect, limits hold without allocating what a client announces, pipelines and
//! inline commands work, RESP3 shapes are exact, and other clients never notice a hostile one.

mod common;
mod raw;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{info_field, ok, vb, Server};
use raw::Raw;
use redis::Value;

/// Reads until the server closes the connection (or the read timeout passes); returns the bytes and
/// whether the connection was closed.
fn read_until_close(s: &mut TcpStream) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return (out, false)
            }
            Err(_) => return (out, true),
        }
    }
}

/// Sends `bytes` on a fresh connection and returns what came back before the server closed it.
fn send_and_expect_close(server: &Server, bytes: &[u8]) -> String {
    let mut s = server.raw();
    // The server may close while we are still writing (a too-big inline request): that is fine.
    let _ = s.write_all(bytes);
    let (out, closed) = read_until_close(&mut s);
    let text = String::from_utf8_lossy(&out).into_owned();
    assert!(
        closed,
        "connection left open after {:?}, got {text:?}",
        show(bytes)
    );
    text
}

fn show(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(40)];
    format!(
        "{}{}",
        String::from_utf8_lossy(head),
        if bytes.len() > 40 { "..." } else { "" }
    )
}

fn used_memory(c: &mut redis::Connection) -> i64 {
    memory_field(c, "used_memory")
}

fn memory_field(c: &mut redis::Connection, field: &str) -> i64 {
    info_field(c, "memory", field)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("INFO memory has no {field}"))
}

/// A well-behaved client checks the server still answers, and that its data is intact.
fn assert_healthy(server: &mut Server, good: &mut redis::Connection) {
    assert_eq!(ok(good, &["PING"]), Value::SimpleString("PONG".into()));
    assert_eq!(ok(good, &["GET", "canary"]), vb("alive"));
    assert!(server.is_running(), "server process died");
}

#[test]
fn malformed_frames_get_the_protocol_error_and_a_disconnect() {
    let mut server = Server::start();
    let mut good = server.client();
    ok(&mut good, &["SET", "canary", "alive"]);
    let cases: &[(&[u8], &str)] = &[
        (
            b"*abc\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*3000000000\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1x\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*+1\r\n$4\r\nPING\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1\r\n$-5\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$abc\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*2\r\n$3\r\nGET\r\n$-1\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*2\r\n$3\r\nGET\r\n$\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$ 4\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        // Over the default proto-max-bulk-len (512MB).
        (
            b"*1\r\n$536870913\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\nx\r\n",
            "-ERR Protocol error: expected '$', got 'x'\r\n",
        ),
        (
            b"*2\r\n$4\r\nECHO\r\n:5\r\n",
            "-ERR Protocol error: expected '$', got ':'\r\n",
        ),
        (
            b"SET \"a b\r\n",
            "-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
        (
            b"SET 'a b\r\n",
            "-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
        (
            b"SET \"a\"b c\r\n",
            "-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
        // Commands before the bad frame are answered first.
        (
            b"*1\r\n$4\r\nPING\r\n*abc\r\n",
            "+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"PING\r\n*abc\r\n",
            "+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n",
        ),
    ];
    for (bytes, want) in cases {
        assert_eq!(
            send_and_expect_close(&server, bytes),
            *want,
            "{}",
            show(bytes)
        );
        assert_healthy(&mut server, &mut good);
    }
}

#[test]
fn oversized_lines_are_refused() {
    let mut server = Server::start();
    let mut good = server.client();
    ok(&mut good, &["SET", "canary", "alive"]);
    // An inline request that grows past 64KB without a newline.
    let mut inline = vec![b'a'; 70_000];
    assert_eq!(
        send_and_expect_close(&server, &inline),
        "-ERR Protocol error: too big inline request\r\n"
    );
    assert_healthy(&mut server, &mut good);
    // A multibulk count line with no end.
    let mut count = b"*".to_vec();
    count.extend(std::iter::repeat_n(b'1', 70_000));
    assert_eq!(
        send_and_expect_close(&server, &count),
        "-ERR Protocol error: too big mbulk count string\r\n"
    );
    assert_healthy(&mut server, &mut good);
    // A long inline line that does end is fine.
    let mut r = Raw::new(&server);
    inline.splice(0..0, b"ECHO ".iter().copied());
    inline.extend_from_slice(b"\r\n");
    r.r.get_mut().write_all(&inline).unwrap();
    assert_eq!(r.reply(), format!("$70000\r\n{}\r\n", "a".repeat(70_000)));
    assert_eq!(r.call(&["PING"]), "+PONG\r\n");
}

#[test]
fn bulk_over_a_configured_proto_max_bulk_len_is_refused() {
    let mut server = Server::start_with(&["--proto-max-bulk-len", "1mb"]);
    let mut good = server.client();
    ok(&mut good, &["SET", "canary", "alive"]);
    assert_eq!(
        send_and_expect_close(&server, b"*2\r\n$4\r\nECHO\r\n$2097152\r\n"),
        "-ERR Protocol error: invalid bulk length\r\n"
    );
    assert_eq!(
        send_and_expect_close(&server, b"*2\r\n$4\r\nECHO\r\n$1048577\r\n"),
        "-ERR Protocol error: invalid bulk length\r\n"
    );
    assert_healthy(&mut server, &mut good);
    // Exactly the limit is accepted.
    let mut r = Raw::new(&server);
    let mut req = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048576\r\n".to_vec();
    req.extend(std::iter::repeat_n(b'x', 1 << 20));
    req.extend_from_slice(b"\r\n");
    r.r.get_mut().write_all(&req).unwrap();
    assert_eq!(r.reply(), "+OK\r\n");
    assert_eq!(r.call(&["STRLEN", "k"]), ":1048576\r\n");
}

#[test]
fn query_buffer_limit_closes_the_connection() {
    let mut server = Server::start_with(&["--client-query-buffer-limit", "1mb"]);
    let mut good = server.client();
    ok(&mut good, &["SET", "canary", "alive"]);
    let mut s = server.raw();
    s.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2097152\r\n")
        .unwrap();
    let chunk = vec![b'x'; 64 * 1024];
    let mut write_failed = false;
    for i in 0..32 {
        if s.write_all(&chunk).is_err() {
            write_failed = true;
            break;
        }
        if i % 4 == 0 {
            std::thread::sleep(Duration::from_millis(5));
            // Other clients are served while the hostile one is filling its buffer.
            assert_healthy(&mut server, &mut good);
        }
    }
    let (out, closed) = read_until_close(&mut s);
    assert!(write_failed || closed, "connection still open after 2MB");
    assert!(
        out.is_empty() || !out.starts_with(b"+OK"),
        "the SET ran: {out:?}"
    );
    assert_healthy(&mut server, &mut good);
    assert_eq!(ok(&mut good, &["EXISTS", "k"]), Value::Int(0));
    // The server is not left holding the buffer.
    assert!(used_memory(&mut good) < 16 << 20);
}

#[test]
fn announced_but_unsent_bulk_does_not_allocate() {
    let mut server = Server::start();
    let mut good = server.client();
    ok(&mut good, &["SET", "canary", "alive"]);
    let base = used_memory(&mut good);
    let base_rss = memory_field(&mut good, "used_memory_rss");
    // Several clients announce 500MB and send 10 bytes.
    let mut hostile = Vec::new();
    for _ in 0..4 {
        let mut s = server.raw();
        s.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$524288000\r\n0123456789")
            .unwrap();
        hostile.push(s);
    }
    // Also a 1M-element multibulk announcement (the largest allowed) with nothing after it.
    let mut s = server.raw();
    s.write_all(b"*1048576\r\n").unwrap();
    hostile.push(s);
    std::thread::sleep(Duration::from_millis(200));
    let during = used_memory(&mut good);
    assert!(
        during - base < 16 << 20,
        "used_memory grew from {base} to {during}"
    );
    let rss = memory_field(&mut good, "used_memory_rss");
    assert!(
        rss - base_rss < 64 << 20,
        "RSS grew from {base_rss} to {rss}"
    );
    assert_healthy(&mut server, &mut good);
    drop(hostile);
    std::thread::sleep(Duration::from_millis(100));
    let after = used_memory(&mut good);
    assert!(
        after - base < 16 << 20,
        "used_memory grew from {base} to {after}"
    );
    assert_healthy(&mut server, &mut good);
    assert_eq!(ok(&mut good, &["EXISTS", "k"]), Value::Int(0));
}

#[test]
fn pipeline_of_ten_thousand_commands_in_one_write() {
    let server = Server::start();
    let mut s = server.raw();
    let n = 10_000;
    let mut req = Vec::new();
    for i in 0..n {
        // Alternate kinds so order mistakes show: INCR replies count up, ECHO replies carry the index.
        if i % 2 == 0 {
            req.extend_from_slice(b"*2\r\n$4\r\nINCR\r\n$7\r\ncounter\r\n");
        } else {
            let arg = i.to_string();
            req.extend_from_slice(
                format!("*2\r\n$4\r\nECHO\r\n${}\r\n{arg}\r\n", arg.len()).as_bytes(),
            );
        }
    }
    let mut writer = s.try_clone().unwrap();
    // Write from another thread so neither side can block on a full socket buffer.
    let w = std::thread::spawn(move || writer.write_all(&req));
    let mut want = String::new();
    for i in 0..n {
        if i % 2 == 0 {
            want.push_str(&format!(":{}\r\n", i / 2 + 1));
        } else {
            let arg = i.to_string();
            want.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
    }
    let mut got = vec![0u8; want.len()];
    s.read_exact(&mut got).expect("all replies");
    w.join().unwrap().unwrap();
    let got = String::from_utf8(got).unwrap();
    if got != want {
        let at = got
            .bytes()
            .zip(want.bytes())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        panic!(
            "replies differ at byte {at}: got {:?}, want {:?}",
            &got[at.saturating_sub(20)..(at + 40).min(got.len())],
            &want[at.saturating_sub(20)..(at + 40).min(want.len())]
        );
    }
    // Nothing extra arrives.
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut extra = [0u8; 16];
    match s.read(&mut extra) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("expected silence after the replies, got {other:?}"),
    }
}

#[test]
fn inline_commands() {
    let server = Server::start();
    let mut r = Raw::new(&server);
    let mut send = |bytes: &[u8], replies: usize| {
        r.r.get_mut().write_all(bytes).unwrap();
        (0..replies).map(|_| r.reply()).collect::<String>()
    };
    assert_eq!(send(b"SET a b\r\n", 1), "+OK\r\n");
    assert_eq!(send(b"GET a\r\n", 1), "$1\r\nb\r\n");
    // A bare LF ends a line too; blank lines are skipped.
    assert_eq!(send(b"\r\n\n   \r\nPING\n", 1), "+PONG\r\n");
    assert_eq!(send(b"  get   a  \r\n", 1), "$1\r\nb\r\n");
    assert_eq!(
        send(b"SET \"my key\" \"hello world\"\r\nGET \"my key\"\r\n", 2),
        "+OK\r\n$11\r\nhello world\r\n"
    );
    assert_eq!(send(b"ECHO \"a\\x41\\n\"\r\n", 1), "$3\r\naA\n\r\n");
    assert_eq!(send(b"ECHO 'it\\'s'\r\n", 1), "$4\r\nit's\r\n");
    assert_eq!(send(b"ECHO \"\"\r\n", 1), "$0\r\n\r\n");
    assert_eq!(
        send(b"ECHO \"a\" \"b\"\r\n", 1),
        "-ERR wrong number of arguments for 'echo' command\r\n"
    );
    // Inline and multibulk mix on one connection, in order.
    assert_eq!(
        send(b"INCR n\r\n*2\r\n$4\r\nINCR\r\n$1\r\nn\r\nINCR n\r\n", 3),
        ":1\r\n:2\r\n:3\r\n"
    );
    assert_eq!(
        send(b"NOSUCH x\r\n", 1),
        "-ERR unknown command 'NOSUCH', with args beginning with: 'x' \r\n"
    );
    // A frame split across writes is assembled.
    r.r.get_mut().write_all(b"*2\r\n$3\r\nGE").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    r.r.get_mut().write_all(b"T\r\n$1\r").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    r.r.get_mut().write_all(b"\na\r\n").unwrap();
    assert_eq!(r.reply(), "$1\r\nb\r\n");
}

#[test]
fn resp3_reply_shapes_after_hello_3() {
    let server = Server::start();
    let mut r = Raw::new(&server);
    assert!(r.call(&["HELLO", "3"]).starts_with("%7\r\n"));
    // Null.
    assert_eq!(r.call(&["GET", "nokey"]), "_\r\n");
    assert_eq!(r.call(&["SET", "k", "v", "GET"]), "_\r\n");
    assert_eq!(r.call(&["GETDEL", "nokey"]), "_\r\n");
    assert_eq!(r.call(&["OBJECT", "ENCODING", "nokey"]), "_\r\n");
    r.call(&["SET", "a", "1"]);
    assert_eq!(r.call(&["MGET", "a", "nokey"]), "*2\r\n$1\r\n1\r\n_\r\n");
    assert_eq!(
        r.call(&[
            "BITFIELD", "bf", "GET", "u8", "0", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "1000"
        ]),
        "*2\r\n:0\r\n_\r\n"
    );
    // Map.
    assert_eq!(
        r.call(&["CONFIG", "GET", "maxmemory"]),
        "%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"
    );
    r.call(&["MSET", "l1", "ohmytext", "l2", "mynewtext"]);
    assert_eq!(
        r.call(&["LCS", "l1", "l2", "IDX", "WITHMATCHLEN", "MINMATCHLEN", "2"]),
        "%2\r\n$7\r\nmatches\r\n*2\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n\
         *3\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n:2\r\n$3\r\nlen\r\n:6\r\n"
    );
    // Redis 7.0 keeps INCRBYFLOAT a bulk string in RESP3 (no command in these families replies a double).
    assert_eq!(r.call(&["INCRBYFLOAT", "f", "1.5"]), "$3\r\n1.5\r\n");
    // Other shapes are unchanged.
    assert_eq!(r.call(&["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(r.call(&["TYPE", "k"]), "+string\r\n");
    assert_eq!(r.call(&["EXISTS", "k"]), ":1\r\n");
    assert_eq!(
        r.call(&["SCAN", "0", "MATCH", "k"]),
        "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n"
    );
    assert_eq!(
        r.call(&["INCR", "k"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    // Back to RESP2: nulls are RESP2 nulls again.
    assert!(r.call(&["HELLO", "2"]).starts_with("*14\r\n"));
    assert_eq!(r.call(&["GET", "nokey"]), "$-1\r\n");
    assert_eq!(
        r.call(&["CONFIG", "GET", "maxmemory"]),
        "*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"
    );
}

#[test]
fn resp3_through_the_redis_client() {
    let server = Server::start();
    let client = redis::Client::open(format!("{}?protocol=resp3", server.url())).unwrap();
    let mut c = client.get_connection().unwrap();
    assert_eq!(ok(&mut c, &["GET", "nokey"]), Value::Nil);
    match ok(&mut c, &["CONFIG", "GET", "maxmemory"]) {
        Value::Map(m) => assert_eq!(m, vec![(vb("maxmemory"), vb("0"))]),
        other => panic!("not a map: {other:?}"),
    }
}

#[test]
fn hostile_clients_do_not_disturb_others() {
    let mut server = Server::start();
    let mut good = server.client();
    ok(&mut good, &["SET", "canary", "alive"]);
    let start = Instant::now();
    // A garbage-spewing client, a half-frame-and-silent client, and a slow-loris one, all at once.
    let mut garbage = server.raw();
    let mut junk = b"*2\r\n$4\r\nECHO\r\n?".to_vec();
    // Redis finds the end of a header line with strchr, so the junk has no NUL; the CRLF ends the header.
    junk.extend(
        (0..4096u32).map(|i| match (i.wrapping_mul(2654435761) >> 13) as u8 {
            0 => b'.',
            b => b,
        }),
    );
    junk.extend_from_slice(b"\r\n");
    let _ = garbage.write_all(&junk);
    let mut silent = server.raw();
    silent.write_all(b"*2\r\n$3\r\nGET\r\n$6\r\nca").unwrap();
    let mut loris = server.raw();
    for b in b"*3\r\n$3\r\nSET\r\n" {
        loris.write_all(&[*b]).unwrap();
        assert_healthy(&mut server, &mut good);
    }
    let (out, closed) = read_until_close(&mut garbage);
    assert!(closed, "garbage client not cut off");
    assert_eq!(out, b"-ERR Protocol error: expected '$', got '?'\r\n");
    assert_healthy(&mut server, &mut good);
    // The half-frame client finishes its command late and gets its answer.
    silent.write_all(b"nary\r\n").unwrap();
    let mut got = [0u8; 11];
    silent.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"$5\r\nalive\r\n");
    drop(loris);
    assert_healthy(&mut server, &mut good);
    // Many short-lived connections that break the protocol.
    for _ in 0..50 {
        let mut s = server.raw();
        let _ = s.write_all(b"*1\r\n$-5\r\n");
    }
    assert_healthy(&mut server, &mut good);
    assert!(start.elapsed() < Duration::from_secs(20));
}
