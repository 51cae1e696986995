//! Request decoder behaviour, checked against what Redis 7.0.15 does with the same bytes.

use bytes::{Bytes, BytesMut};
use resp::{Decoder, Limits, ProtocolError};

/// What decoding a whole stream gives: every command, then the error that ended it, if any.
#[derive(Debug, PartialEq)]
struct Outcome {
    commands: Vec<Vec<Bytes>>,
    error: Option<ProtocolError>,
    /// Bytes left undecoded at the end.
    rest: usize,
}

fn drain(dec: &mut Decoder, buf: &mut BytesMut, out: &mut Outcome) -> bool {
    loop {
        match dec.decode(buf) {
            Ok(Some(cmd)) => {
                assert!(!cmd.is_empty(), "empty command returned");
                out.commands.push(cmd);
            }
            Ok(None) => return true,
            Err(e) => {
                out.error = Some(e);
                return false;
            }
        }
    }
}

/// Feeds `input` in the chunks `splits` cuts it into (positions), decoding after each.
fn feed_split(input: &[u8], splits: &[usize], limits: Limits) -> Outcome {
    let mut dec = Decoder::new(limits);
    let mut buf = BytesMut::new();
    let mut out = Outcome {
        commands: Vec::new(),
        error: None,
        rest: 0,
    };
    let mut prev = 0;
    for &cut in splits.iter().chain(std::iter::once(&input.len())) {
        let cut = cut.clamp(prev, input.len());
        buf.extend_from_slice(&input[prev..cut]);
        prev = cut;
        if !drain(&mut dec, &mut buf, &mut out) {
            return out;
        }
    }
    out.rest = buf.len();
    out
}

fn whole(input: &[u8]) -> Outcome {
    feed_split(input, &[], Limits::default())
}

fn byte_at_a_time(input: &[u8]) -> Outcome {
    let splits: Vec<usize> = (1..input.len()).collect();
    feed_split(input, &splits, Limits::default())
}

fn cmd(args: &[&[u8]]) -> Vec<Bytes> {
    args.iter().map(|a| Bytes::copy_from_slice(a)).collect()
}

/// A short printable view of an input for failure messages.
fn show(input: &[u8]) -> String {
    String::from_utf8_lossy(&input[..input.len().min(40)]).into_owned()
}

fn error_of(input: &[u8]) -> String {
    match whole(input).error {
        Some(e) => e.message().to_string(),
        None => panic!("no error for {:?}", show(input)),
    }
}

#[test]
fn pipelined_multibulk_and_inline() {
    let input = b"*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\nGET k\r\n*2\r\n$4\r\nECHO\r\n$5\r\na\r\nb\n\r\n";
    let expected = vec![
        cmd(&[b"PING"]),
        cmd(&[b"SET", b"k", b""]),
        cmd(&[b"GET", b"k"]),
        cmd(&[b"ECHO", b"a\r\nb\n"]),
    ];
    let out = whole(input);
    assert_eq!(out.commands, expected);
    assert_eq!(out.error, None);
    assert_eq!(out.rest, 0);
    assert_eq!(byte_at_a_time(input), out);
}

#[test]
fn partial_command_waits() {
    let mut dec = Decoder::default();
    let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n$3\r\nke"[..]);
    assert_eq!(dec.decode(&mut buf), Ok(None));
    assert!(dec.in_progress());
    assert_eq!(dec.pending_bytes(), 3, "GET was already cut off");
    buf.extend_from_slice(b"y\r\n");
    assert_eq!(dec.decode(&mut buf), Ok(Some(cmd(&[b"GET", b"key"]))));
    assert!(!dec.in_progress());
    assert_eq!(dec.pending_bytes(), 0);
    assert!(buf.is_empty());
}

#[test]
fn arguments_are_zero_copy_views_of_the_buffer() {
    let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n$5\r\nhello\r\n"[..]);
    let start = buf.as_ptr() as usize;
    let end = start + buf.len();
    let args = Decoder::default()
        .decode(&mut buf)
        .expect("valid")
        .expect("complete");
    for a in &args {
        let p = a.as_ptr() as usize;
        assert!(p >= start && p + a.len() <= end, "argument was copied");
    }
    let mut buf = BytesMut::from(&b"SET key value\r\n"[..]);
    let start = buf.as_ptr() as usize;
    let end = start + buf.len();
    let args = Decoder::default()
        .decode(&mut buf)
        .expect("valid")
        .expect("complete");
    assert_eq!(args, cmd(&[b"SET", b"key", b"value"]));
    for a in &args {
        let p = a.as_ptr() as usize;
        assert!(
            p >= start && p + a.len() <= end,
            "bare inline word was copied"
        );
    }
}

#[test]
fn inline_quoting_as_sdssplitargs() {
    let cases: &[(&[u8], &[&[u8]])] = &[
        (b"set k v\r\n", &[b"set", b"k", b"v"]),
        (b"  set   k\tv  \n", &[b"set", b"k", b"v"]),
        (b"set \"a b\" 'c d'\r\n", &[b"set", b"a b", b"c d"]),
        (
            b"echo \"\\x41\\x7a\\n\\r\\t\\b\\a\\\\\\\"\\q\"\r\n",
            &[b"echo", b"Az\n\r\t\x08\x07\\\"q"],
        ),
        (b"echo \"\\xZZ\"\r\n", &[b"echo", b"xZZ"]),
        (b"echo 'it\\'s' 'a\\nb'\r\n", &[b"echo", b"it's", b"a\\nb"]),
        (b"echo \"\" ''\r\n", &[b"echo", b"", b""]),
        (b"echo foo\"bar baz\"\r\n", &[b"echo", b"foobar baz"]),
        // \v and \f are skipped between words but do not end one.
        (b"\x0becho d\x0be\r\n", &[b"echo", b"d\x0be"]),
        (b"echo a\rb\r\n", &[b"echo", b"a", b"b"]),
        (b"echo \xff\xfe\r\n", &[b"echo", b"\xff\xfe"]),
    ];
    for (input, want) in cases {
        let out = whole(input);
        assert_eq!(out.error, None, "{:?}", String::from_utf8_lossy(input));
        assert_eq!(
            out.commands,
            vec![cmd(want)],
            "{:?}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(byte_at_a_time(input), out);
    }
}

#[test]
fn blank_lines_and_empty_multibulk_produce_nothing() {
    let out = whole(b"\r\n\n   \r\n*0\r\n*-1\r\n*-5\r\nPING\r\n");
    assert_eq!(out.commands, vec![cmd(&[b"PING"])]);
    assert_eq!(out.error, None);
    assert_eq!(out.rest, 0);
}

#[test]
fn redis_header_quirks() {
    // Redis skips the byte after a header's CR and the two bytes after a payload unchecked.
    let out = whole(b"*1\rX$4\r\nPINGxy*1\r\n$4\r\nPING\r\n");
    assert_eq!(out.commands, vec![cmd(&[b"PING"]), cmd(&[b"PING"])]);
    assert_eq!(out.error, None);
    // A header line waits for the byte after its CR.
    let out = whole(b"*1\r");
    assert_eq!((out.commands.len(), out.error, out.rest), (0, None, 3));
}

#[test]
fn nul_before_line_end_hides_it_as_strchr_does() {
    for input in [
        &b"*1\x00\r\n*1\r\n$4\r\nPING\r\n"[..],
        b"PING\x00\r\nPING\r\n",
        b"*1\r\n$\x004\r\nPING\r\n",
        b"*1\r\n\x00\r\n",
    ] {
        let out = whole(input);
        assert_eq!(out.commands, Vec::<Vec<Bytes>>::new());
        assert_eq!(out.error, None);
        assert_eq!(byte_at_a_time(input), out);
    }
    // Only the size check ends the wait.
    let mut input = b"PING\x00\r\n".to_vec();
    input.resize(64 * 1024 + 1, b'x');
    assert_eq!(
        error_of(&input),
        "ERR Protocol error: too big inline request"
    );
}

#[test]
fn protocol_errors() {
    let long = |prefix: &[u8]| {
        let mut v = prefix.to_vec();
        // Redis measures from the start of the line being read.
        v.resize(prefix.len() + 64 * 1024, b'1');
        v
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            b"*abc\r\n".to_vec(),
            "ERR Protocol error: invalid multibulk length",
        ),
        (
            b"*01\r\n".to_vec(),
            "ERR Protocol error: invalid multibulk length",
        ),
        (
            b"*+1\r\n".to_vec(),
            "ERR Protocol error: invalid multibulk length",
        ),
        (
            b"*\r\n".to_vec(),
            "ERR Protocol error: invalid multibulk length",
        ),
        (
            b"*-\r\n".to_vec(),
            "ERR Protocol error: invalid multibulk length",
        ),
        (
            b"*1 \r\n".to_vec(),
            "ERR Protocol error: invalid multibulk length",
        ),
        (
            b"*2147483648\r\n".to_vec(),
            "ERR Protocol error: invalid multibulk length",
        ),
        (
            b"*99999999999999999999\r\n".to_vec(),
            "ERR Protocol error: invalid multibulk length",
        ),
        (
            b"*1\r\n$abc\r\n".to_vec(),
            "ERR Protocol error: invalid bulk length",
        ),
        (
            b"*1\r\n$-1\r\n".to_vec(),
            "ERR Protocol error: invalid bulk length",
        ),
        (
            b"*1\r\n$-0\r\n".to_vec(),
            "ERR Protocol error: invalid bulk length",
        ),
        (
            b"*1\r\n$+4\r\n".to_vec(),
            "ERR Protocol error: invalid bulk length",
        ),
        (
            b"*1\r\n$\r\n".to_vec(),
            "ERR Protocol error: invalid bulk length",
        ),
        (
            b"*1\r\n$536870913\r\n".to_vec(),
            "ERR Protocol error: invalid bulk length",
        ),
        (
            b"*1\r\nx3\r\n".to_vec(),
            "ERR Protocol error: expected '$', got 'x'",
        ),
        (
            b"*2\r\n$4\r\nECHO\r\n\r\r\n".to_vec(),
            "ERR Protocol error: expected '$', got ' '",
        ),
        (
            b"*1\r\n:1\r\n".to_vec(),
            "ERR Protocol error: expected '$', got ':'",
        ),
        (long(b"*"), "ERR Protocol error: too big mbulk count string"),
        (
            long(b"*1\r\n$"),
            "ERR Protocol error: too big bulk count string",
        ),
        (long(b"GET "), "ERR Protocol error: too big inline request"),
        (
            b"SET \"abc\r\n".to_vec(),
            "ERR Protocol error: unbalanced quotes in request",
        ),
        (
            b"SET 'abc\r\n".to_vec(),
            "ERR Protocol error: unbalanced quotes in request",
        ),
        (
            b"ECHO \"abc\"d\r\n".to_vec(),
            "ERR Protocol error: unbalanced quotes in request",
        ),
        (
            b"ECHO 'abc'd\r\n".to_vec(),
            "ERR Protocol error: unbalanced quotes in request",
        ),
        (
            b"ECHO \"abc\\\"\r\n".to_vec(),
            "ERR Protocol error: unbalanced quotes in request",
        ),
    ];
    for (input, want) in &cases {
        assert_eq!(&error_of(input), want, "{:?}", show(input));
        let split = byte_at_a_time(input);
        assert_eq!(
            split.error.as_ref().map(ProtocolError::message),
            Some(*want),
            "byte at a time: {:?}",
            show(input)
        );
    }
}

#[test]
fn limits_are_configurable() {
    let limits = Limits {
        proto_max_bulk_len: 10,
        max_multibulk_len: 3,
        ..Limits::default()
    };
    let run = |input: &[u8]| feed_split(input, &[], limits.clone());
    assert_eq!(run(b"*3\r\n$10\r\n0123456789\r\n").error, None);
    assert_eq!(
        run(b"*4\r\n").error.map(|e| e.0),
        Some("ERR Protocol error: invalid multibulk length".to_string())
    );
    assert_eq!(
        run(b"*1\r\n$11\r\n").error.map(|e| e.0),
        Some("ERR Protocol error: invalid bulk length".to_string())
    );
    let small_inline = Limits {
        max_inline_len: 8,
        ..Limits::default()
    };
    let out = feed_split(b"GET abcde", &[], small_inline.clone());
    assert_eq!(
        out.error,
        Some(ProtocolError(
            "ERR Protocol error: too big inline request".into()
        ))
    );
    // A complete line is accepted whatever its length, as in Redis.
    let out = feed_split(b"GET abcdefgh\r\n", &[], small_inline);
    assert_eq!(out.commands, vec![cmd(&[b"GET", b"abcdefgh"])]);
}

#[test]
fn unauthenticated_limits() {
    let mut dec = Decoder::default();
    dec.set_auth_required(true);
    let mut buf = BytesMut::from(&b"*11\r\n"[..]);
    assert_eq!(
        dec.decode(&mut buf).map_err(|e| e.0),
        Err("ERR Protocol error: unauthenticated multibulk length".to_string())
    );
    let mut dec = Decoder::default();
    dec.set_auth_required(true);
    let mut buf = BytesMut::from(&b"*2\r\n$4\r\nAUTH\r\n$16385\r\n"[..]);
    assert_eq!(
        dec.decode(&mut buf).map_err(|e| e.0),
        Err("ERR Protocol error: unauthenticated bulk length".to_string())
    );
    let mut dec = Decoder::default();
    dec.set_auth_required(true);
    let mut input = b"*10\r\n".to_vec();
    for _ in 0..9 {
        input.extend_from_slice(b"$1\r\na\r\n");
    }
    input.extend_from_slice(b"$16384\r\n");
    input.resize(input.len() + 16384, b'z');
    input.extend_from_slice(b"\r\n");
    let mut buf = BytesMut::from(&input[..]);
    let args = dec
        .decode(&mut buf)
        .expect("within the limits")
        .expect("complete");
    assert_eq!(args.len(), 10);
    // Negative and zero counts are fine for everyone.
    let mut buf = BytesMut::from(&b"*-100\r\n"[..]);
    assert_eq!(dec.decode(&mut buf), Ok(None));
    dec.set_auth_required(false);
    let mut buf = BytesMut::from(&b"*11\r\n"[..]);
    assert_eq!(dec.decode(&mut buf), Ok(None));
}

#[test]
fn announced_huge_bulk_allocates_nothing() {
    let mut dec = Decoder::default();
    let mut buf = BytesMut::with_capacity(64);
    buf.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$535822336\r\nabc");
    assert_eq!(dec.decode(&mut buf), Ok(None));
    assert!(buf.capacity() < 4096, "capacity grew to {}", buf.capacity());
    // Feeding it slowly keeps memory proportional to what arrived.
    for _ in 0..100 {
        buf.extend_from_slice(&[b'x'; 1000]);
        assert_eq!(dec.decode(&mut buf), Ok(None));
    }
    assert_eq!(buf.len(), 100_003);
    assert!(
        buf.capacity() < 1 << 20,
        "capacity grew to {}",
        buf.capacity()
    );
    assert_eq!(dec.pending_bytes(), 4);
    // A count of two billion reserves nothing either.
    let mut dec = Decoder::default();
    let mut buf = BytesMut::from(&b"*2000000000\r\n$1\r\n"[..]);
    assert_eq!(dec.decode(&mut buf), Ok(None));
    assert!(buf.capacity() < 4096);
}

#[test]
fn big_bulk_in_small_reads() {
    let size = 4 << 20;
    let mut input = format!("*2\r\n$3\r\nSET\r\n${size}\r\n").into_bytes();
    let header = input.len();
    input.resize(header + size, b'v');
    input.extend_from_slice(b"\r\n*1\r\n$4\r\nPING\r\n");
    let splits: Vec<usize> = (1..input.len()).step_by(97).collect();
    let out = feed_split(&input, &splits, Limits::default());
    assert_eq!(out.error, None);
    assert_eq!(out.commands.len(), 2);
    assert_eq!(out.commands[0][1].len(), size);
    assert_eq!(out.commands[1], cmd(&[b"PING"]));
}

#[test]
fn query_buffer_limit_rule() {
    let dec = Decoder::new(Limits {
        client_query_buffer_limit: 10,
        ..Limits::default()
    });
    assert!(!dec.query_buffer_exceeded(&BytesMut::from(&b"0123456789"[..])));
    assert!(dec.query_buffer_exceeded(&BytesMut::from(&b"0123456789a"[..])));
}

/// xorshift64*: fixed seeds keep the fuzz loops reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Random bytes biased towards protocol tokens, so the decoder's deeper states get exercised.
fn garbage(rng: &mut Rng) -> Vec<u8> {
    const TOKENS: &[&[u8]] = &[
        b"*",
        b"$",
        b"\r\n",
        b"\r",
        b"\n",
        b"\"",
        b"'",
        b"\\x4",
        b"\\",
        b" ",
        b"0",
        b"1",
        b"3",
        b"-1",
        b"-",
        b"10",
        b"*2\r\n",
        b"$3\r\nfoo\r\n",
        b"$0\r\n\r\n",
        b"\0",
        b"PING",
        b"\xff",
        b"+",
        b"\t",
        b"\x0b",
    ];
    let len = rng.below(60);
    let mut v = Vec::new();
    for _ in 0..len {
        if rng.below(3) == 0 {
            v.push(rng.next() as u8);
        } else {
            v.extend_from_slice(TOKENS[rng.below(TOKENS.len())]);
        }
    }
    v
}

/// A valid request, multibulk or inline.
fn valid_request(rng: &mut Rng, out: &mut Vec<u8>, expect: &mut Vec<Vec<Bytes>>) {
    let argc = 1 + rng.below(4);
    let args: Vec<Vec<u8>> = (0..argc)
        .map(|_| {
            let n = rng.below(12);
            (0..n)
                .map(|_| b"abcXYZ019 \r\n\"'\\\0\xff"[rng.below(16)])
                .collect()
        })
        .collect();
    let plain = args
        .iter()
        .all(|a| !a.is_empty() && a.iter().all(|b| b.is_ascii_alphanumeric()));
    if plain && rng.below(2) == 0 {
        out.extend_from_slice(&args.join(&b' '));
        out.extend_from_slice(b"\r\n");
    } else {
        out.extend_from_slice(format!("*{argc}\r\n").as_bytes());
        for a in &args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
    }
    expect.push(args.into_iter().map(Bytes::from).collect());
}

fn random_splits(rng: &mut Rng, len: usize) -> Vec<usize> {
    let mut splits: Vec<usize> = (0..rng.below(8)).map(|_| rng.below(len + 1)).collect();
    splits.sort_unstable();
    splits
}

#[test]
fn fuzz_garbage_never_panics_and_splits_do_not_matter() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..3000 {
        let input = garbage(&mut rng);
        let reference = whole(&input);
        let splits = random_splits(&mut rng, input.len());
        // Inputs stay far below the 64 KB size checks, so the outcome cannot depend on how bytes arrive.
        assert_eq!(
            feed_split(&input, &splits, Limits::default()),
            reference,
            "input {:?} splits {splits:?}",
            String::from_utf8_lossy(&input)
        );
    }
}

#[test]
fn fuzz_valid_pipelines_decode_exactly() {
    let mut rng = Rng(42);
    for _ in 0..500 {
        let mut input = Vec::new();
        let mut expect = Vec::new();
        for _ in 0..1 + rng.below(5) {
            valid_request(&mut rng, &mut input, &mut expect);
        }
        let splits = random_splits(&mut rng, input.len());
        let out = feed_split(&input, &splits, Limits::default());
        assert_eq!(out.error, None);
        assert_eq!(out.commands, expect);
        assert_eq!(out.rest, 0);
    }
}

#[test]
fn fuzz_small_limits_never_panic() {
    let mut rng = Rng(7);
    for _ in 0..1000 {
        let limits = Limits {
            proto_max_bulk_len: rng.below(8),
            max_multibulk_len: rng.below(4),
            client_query_buffer_limit: 1 << 20,
            max_inline_len: rng.below(16),
        };
        let input = garbage(&mut rng);
        let splits = random_splits(&mut rng, input.len());
        let mut dec = Decoder::new(limits);
        dec.set_auth_required(rng.below(2) == 0);
        let mut buf = BytesMut::new();
        let mut prev = 0;
        for &cut in splits.iter().chain(std::iter::once(&input.len())) {
            buf.extend_from_slice(&input[prev..cut]);
            prev = cut;
            while let Ok(Some(cmd)) = dec.decode(&mut buf) {
                assert!(!cmd.is_empty());
            }
        }
    }
}
