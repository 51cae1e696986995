//! Encoder output for both protocols, and round trips through `parse_reply`.

use std::borrow::Cow;

use bytes::{Bytes, BytesMut};
use resp::{encode, format_double, parse_reply, Frame, Protocol};

fn wire(frame: &Frame, proto: Protocol) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode(frame, proto, &mut out);
    out.to_vec()
}

fn both(frame: Frame, resp2: &[u8], resp3: &[u8]) {
    assert_eq!(
        String::from_utf8_lossy(&wire(&frame, Protocol::Resp2)),
        String::from_utf8_lossy(resp2),
        "RESP2 {frame:?}"
    );
    assert_eq!(
        String::from_utf8_lossy(&wire(&frame, Protocol::Resp3)),
        String::from_utf8_lossy(resp3),
        "RESP3 {frame:?}"
    );
}

#[test]
fn exact_bytes_of_every_frame_type() {
    both(Frame::ok(), b"+OK\r\n", b"+OK\r\n");
    both(
        Frame::error("ERR unknown command"),
        b"-ERR unknown command\r\n",
        b"-ERR unknown command\r\n",
    );
    both(Frame::Integer(0), b":0\r\n", b":0\r\n");
    both(Frame::Integer(1), b":1\r\n", b":1\r\n");
    both(Frame::Integer(-42), b":-42\r\n", b":-42\r\n");
    both(
        Frame::Integer(i64::MIN),
        b":-9223372036854775808\r\n",
        b":-9223372036854775808\r\n",
    );
    both(Frame::bulk("foo"), b"$3\r\nfoo\r\n", b"$3\r\nfoo\r\n");
    both(Frame::bulk(""), b"$0\r\n\r\n", b"$0\r\n\r\n");
    both(Frame::Null, b"$-1\r\n", b"_\r\n");
    both(Frame::NullArray, b"*-1\r\n", b"_\r\n");
    both(
        Frame::Array(vec![Frame::Integer(1), Frame::bulk("a")]),
        b"*2\r\n:1\r\n$1\r\na\r\n",
        b"*2\r\n:1\r\n$1\r\na\r\n",
    );
    both(Frame::Array(vec![]), b"*0\r\n", b"*0\r\n");
    both(
        Frame::Map(vec![(Frame::bulk("k"), Frame::Integer(2))]),
        b"*2\r\n$1\r\nk\r\n:2\r\n",
        b"%1\r\n$1\r\nk\r\n:2\r\n",
    );
    both(
        Frame::Set(vec![Frame::bulk("m")]),
        b"*1\r\n$1\r\nm\r\n",
        b"~1\r\n$1\r\nm\r\n",
    );
    both(
        Frame::Pairs(vec![
            (Frame::bulk("f"), Frame::bulk("v")),
            (Frame::bulk("g"), Frame::Double(1.5)),
        ]),
        b"*4\r\n$1\r\nf\r\n$1\r\nv\r\n$1\r\ng\r\n$3\r\n1.5\r\n",
        b"*2\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n*2\r\n$1\r\ng\r\n,1.5\r\n",
    );
    both(Frame::Pairs(vec![]), b"*0\r\n", b"*0\r\n");
    both(
        Frame::Push(vec![Frame::bulk("message")]),
        b"*1\r\n$7\r\nmessage\r\n",
        b">1\r\n$7\r\nmessage\r\n",
    );
    both(Frame::Double(1.5), b"$3\r\n1.5\r\n", b",1.5\r\n");
    both(
        Frame::Double(0.1),
        b"$19\r\n0.10000000000000001\r\n",
        b",0.10000000000000001\r\n",
    );
    both(Frame::Double(f64::INFINITY), b"$3\r\ninf\r\n", b",inf\r\n");
    both(
        Frame::Double(f64::NEG_INFINITY),
        b"$4\r\n-inf\r\n",
        b",-inf\r\n",
    );
    both(Frame::Double(-0.0), b"$2\r\n-0\r\n", b",-0\r\n");
    both(Frame::Boolean(true), b":1\r\n", b"#t\r\n");
    both(Frame::Boolean(false), b":0\r\n", b"#f\r\n");
    both(
        Frame::BigNumber("-12345678901234567890".into()),
        b"$21\r\n-12345678901234567890\r\n",
        b"(-12345678901234567890\r\n",
    );
    both(
        Frame::Verbatim {
            format: *b"txt",
            text: Bytes::from_static(b"hi\r\nthere"),
        },
        b"$9\r\nhi\r\nthere\r\n",
        b"=13\r\ntxt:hi\r\nthere\r\n",
    );
}

#[test]
fn line_frames_cannot_break_the_stream() {
    both(
        Frame::error_owned("ERR bad\r\nthing\n".to_string()),
        b"-ERR bad  thing \r\n",
        b"-ERR bad  thing \r\n",
    );
    both(
        Frame::Simple(Cow::Owned("a\rb".into())),
        b"+a b\r\n",
        b"+a b\r\n",
    );
}

#[test]
fn encode_appends() {
    let mut out = BytesMut::from(&b"prefix"[..]);
    encode(&Frame::ok(), Protocol::Resp2, &mut out);
    encode(&Frame::Integer(7), Protocol::Resp2, &mut out);
    assert_eq!(&out[..], b"prefix+OK\r\n:7\r\n");
}

/// The frame a client of `proto` reads back: RESP2 flattens RESP3 shapes, RESP3 merges the two nulls.
fn as_seen(frame: &Frame, proto: Protocol) -> Frame {
    let all = |items: &[Frame]| items.iter().map(|f| as_seen(f, proto)).collect::<Vec<_>>();
    match (frame, proto) {
        (Frame::NullArray, Protocol::Resp3) => Frame::Null,
        (Frame::Array(items), _) => Frame::Array(all(items)),
        (Frame::Map(pairs), Protocol::Resp3) => Frame::Map(
            pairs
                .iter()
                .map(|(k, v)| (as_seen(k, proto), as_seen(v, proto)))
                .collect(),
        ),
        (Frame::Map(pairs), Protocol::Resp2) => Frame::Array(
            pairs
                .iter()
                .flat_map(|(k, v)| [as_seen(k, proto), as_seen(v, proto)])
                .collect(),
        ),
        (Frame::Pairs(pairs), Protocol::Resp3) => Frame::Array(
            pairs
                .iter()
                .map(|(a, b)| Frame::Array(vec![as_seen(a, proto), as_seen(b, proto)]))
                .collect(),
        ),
        (Frame::Pairs(pairs), Protocol::Resp2) => Frame::Array(
            pairs
                .iter()
                .flat_map(|(a, b)| [as_seen(a, proto), as_seen(b, proto)])
                .collect(),
        ),
        (Frame::Set(items), Protocol::Resp3) => Frame::Set(all(items)),
        (Frame::Push(items), Protocol::Resp3) => Frame::Push(all(items)),
        (Frame::Set(items) | Frame::Push(items), Protocol::Resp2) => Frame::Array(all(items)),
        (Frame::Double(v), Protocol::Resp2) => Frame::bulk(format_double(*v)),
        (Frame::Boolean(b), Protocol::Resp2) => Frame::Integer(i64::from(*b)),
        (Frame::BigNumber(n), Protocol::Resp2) => Frame::bulk(n),
        (Frame::Verbatim { text, .. }, Protocol::Resp2) => Frame::Bulk(text.clone()),
        (other, _) => other.clone(),
    }
}

fn roundtrip(frame: &Frame) {
    for proto in [Protocol::Resp2, Protocol::Resp3] {
        let bytes = wire(frame, proto);
        let (parsed, used) = parse_reply(&bytes)
            .unwrap_or_else(|e| panic!("{proto:?} {frame:?}: {e}"))
            .unwrap_or_else(|| panic!("{proto:?} {frame:?}: incomplete"));
        assert_eq!(used, bytes.len(), "{proto:?} {frame:?}");
        assert_eq!(parsed, as_seen(frame, proto), "{proto:?}");
        // Re-encoding what was parsed gives the same bytes.
        assert_eq!(wire(&parsed, proto), bytes, "{proto:?} {frame:?}");
        // Every proper prefix is incomplete, never an error or a shorter frame.
        for cut in 0..bytes.len() {
            assert_eq!(
                parse_reply(&bytes[..cut]),
                Ok(None),
                "{proto:?} {frame:?} cut {cut}"
            );
        }
    }
}

fn every_type() -> Vec<Frame> {
    vec![
        Frame::ok(),
        Frame::simple("QUEUED"),
        Frame::error("WRONGTYPE Operation against a key holding the wrong kind of value"),
        Frame::Integer(0),
        Frame::Integer(i64::MAX),
        Frame::Integer(i64::MIN),
        Frame::bulk(b"bin\0\r\n\xff"),
        Frame::bulk(""),
        Frame::Null,
        Frame::NullArray,
        Frame::Array(vec![]),
        Frame::Map(vec![]),
        Frame::Set(vec![]),
        Frame::Push(vec![]),
        Frame::Double(0.0),
        Frame::Double(-1.25e-300),
        Frame::Double(1.0 / 3.0),
        Frame::Double(f64::INFINITY),
        Frame::Double(f64::NEG_INFINITY),
        Frame::Double(5e-324),
        Frame::Boolean(true),
        Frame::Boolean(false),
        Frame::BigNumber("3492890328409238509324850943850943825024385".into()),
        Frame::Verbatim {
            format: *b"mkd",
            text: Bytes::from_static(b"# title\r\n"),
        },
        Frame::Verbatim {
            format: *b"txt",
            text: Bytes::new(),
        },
    ]
}

#[test]
fn every_frame_type_round_trips_in_both_protocols() {
    let scalars = every_type();
    for f in &scalars {
        roundtrip(f);
    }
    let nested = Frame::Array(vec![
        Frame::Map(
            scalars
                .iter()
                .cloned()
                .zip(scalars.iter().rev().cloned())
                .collect(),
        ),
        Frame::Set(scalars.clone()),
        Frame::Pairs(
            scalars
                .iter()
                .cloned()
                .zip(scalars.iter().rev().cloned())
                .collect(),
        ),
        Frame::Push(vec![
            Frame::bulk("message"),
            Frame::Array(scalars.clone()),
            Frame::NullArray,
        ]),
        Frame::Array(vec![Frame::Array(vec![Frame::Array(vec![Frame::Null])])]),
    ]);
    roundtrip(&nested);
}

#[test]
fn doubles_round_trip_exactly() {
    let mut x: u64 = 0x1234_5678_9abc_def1;
    for _ in 0..2000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let v = f64::from_bits(x);
        if v.is_nan() {
            continue;
        }
        let bytes = wire(&Frame::Double(v), Protocol::Resp3);
        match parse_reply(&bytes) {
            Ok(Some((Frame::Double(p), _))) => assert_eq!(p.to_bits(), v.to_bits(), "{v:e}"),
            other => panic!("{v:e}: {other:?}"),
        }
    }
    // NaN compares unequal to itself, so check it separately.
    match parse_reply(b",nan\r\n") {
        Ok(Some((Frame::Double(p), 6))) => assert!(p.is_nan()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn parser_accepts_redis_replies() {
    let cases: &[(&[u8], Frame)] = &[
        (
            b"!21\r\nSYNTAX invalid syntax\r\n",
            Frame::error("SYNTAX invalid syntax"),
        ),
        (b"|1\r\n+key-popularity\r\n%0\r\n:7\r\n", Frame::Integer(7)),
        (
            b"*2\r\n|1\r\n+ttl\r\n:3\r\n$1\r\na\r\n:2\r\n",
            Frame::Array(vec![Frame::bulk("a"), Frame::Integer(2)]),
        ),
        (b",1e300\r\n", Frame::Double(1e300)),
        (b",-inf\r\n", Frame::Double(f64::NEG_INFINITY)),
    ];
    for (input, want) in cases {
        assert_eq!(
            parse_reply(input),
            Ok(Some((want.clone(), input.len()))),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
    // Trailing bytes belong to the next reply.
    assert_eq!(
        parse_reply(b":1\r\n:2\r\n"),
        Ok(Some((Frame::Integer(1), 4)))
    );
}

#[test]
fn parser_rejects_malformed_replies() {
    for input in [
        &b"?\r\n"[..],
        b":abc\r\n",
        b":\r\n",
        b":99999999999999999999\r\n",
        b"$-2\r\n",
        b"$3\r\nfooXY",
        b"*-2\r\n",
        b"%-1\r\n",
        b"#x\r\n",
        b"_x\r\n",
        b",abc\r\n",
        b"(12a\r\n",
        b"=3\r\ntxt\r\n",
        b"+OK\rX",
        b"*2\r\n:1\r\n?\r\n",
    ] {
        assert!(
            parse_reply(input).is_err(),
            "{:?} was accepted",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn parser_never_reserves_from_announced_counts() {
    // Two billion elements announced, three bytes sent: incomplete, and no huge allocation happens
    // (an allocation of 2^31 frames would abort the test process).
    assert_eq!(parse_reply(b"*2000000000\r\n:1\r\n"), Ok(None));
    assert_eq!(parse_reply(b"*9223372036854775807\r\n"), Ok(None));
    assert_eq!(parse_reply(b"%9223372036854775807\r\n"), Ok(None));
    assert_eq!(parse_reply(b"$9223372036854775807\r\nabc"), Ok(None));
}

#[test]
fn parser_handles_deep_nesting_without_recursion() {
    let depth = 200_000;
    let mut input = b"*1\r\n".repeat(depth);
    input.extend_from_slice(b":1\r\n");
    let (frame, used) = parse_reply(&input).expect("valid").expect("complete");
    assert_eq!(used, input.len());
    // Take the tower apart iteratively: dropping it recursively would overflow the test thread's stack.
    let mut levels = 0;
    let mut cur = frame;
    loop {
        match cur {
            Frame::Array(mut items) if items.len() == 1 => {
                cur = items.pop().expect("one item");
                levels += 1;
            }
            other => {
                assert_eq!(other, Frame::Integer(1));
                break;
            }
        }
    }
    assert_eq!(levels, depth);
}

/// xorshift64* with a fixed seed.
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

fn random_frame(rng: &mut Rng, depth: usize) -> Frame {
    let kind = if depth > 3 {
        rng.below(9)
    } else {
        rng.below(13)
    };
    let word = |rng: &mut Rng| -> String {
        (0..rng.below(6))
            .map(|_| char::from(b"abcXYZ 09-:"[rng.below(11)]))
            .collect()
    };
    match kind {
        0 => Frame::Simple(Cow::Owned(word(rng))),
        1 => Frame::Error(Cow::Owned(format!("ERR {}", word(rng)))),
        2 => Frame::Integer(rng.next() as i64 >> rng.below(64)),
        3 => Frame::Bulk((0..rng.below(10)).map(|_| rng.next() as u8).collect()),
        4 => Frame::Null,
        5 => Frame::NullArray,
        6 => Frame::Double(f64::from_bits(rng.next()) % 1e30),
        7 => Frame::Boolean(rng.below(2) == 1),
        8 => Frame::BigNumber(format!("{}{}", rng.next(), rng.next())),
        9 => Frame::Array(
            (0..rng.below(4))
                .map(|_| random_frame(rng, depth + 1))
                .collect(),
        ),
        10 => Frame::Map(
            (0..rng.below(3))
                .map(|_| (random_frame(rng, depth + 1), random_frame(rng, depth + 1)))
                .collect(),
        ),
        11 => Frame::Set(
            (0..rng.below(4))
                .map(|_| random_frame(rng, depth + 1))
                .collect(),
        ),
        _ => Frame::Push(
            (0..rng.below(4))
                .map(|_| random_frame(rng, depth + 1))
                .collect(),
        ),
    }
}

fn has_nan(f: &Frame) -> bool {
    match f {
        Frame::Double(v) => v.is_nan(),
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => items.iter().any(has_nan),
        Frame::Map(pairs) => pairs.iter().any(|(k, v)| has_nan(k) || has_nan(v)),
        _ => false,
    }
}

#[test]
fn fuzz_random_frames_round_trip() {
    let mut rng = Rng(0xdead_beef);
    for _ in 0..1500 {
        let f = random_frame(&mut rng, 0);
        if has_nan(&f) {
            continue;
        }
        roundtrip(&f);
    }
}

#[test]
fn fuzz_garbage_replies_never_panic() {
    let mut rng = Rng(99);
    const TOKENS: &[&[u8]] = &[
        b"*",
        b"%",
        b"~",
        b">",
        b"|",
        b"$",
        b"=",
        b"!",
        b"+",
        b"-",
        b":",
        b",",
        b"#",
        b"(",
        b"_",
        b"\r\n",
        b"\r",
        b"1",
        b"2",
        b"-1",
        b"0",
        b"txt:",
        b"t",
        b"inf",
        b"9999999999999999999",
    ];
    for _ in 0..5000 {
        let mut input = Vec::new();
        for _ in 0..rng.below(40) {
            if rng.below(4) == 0 {
                input.push(rng.next() as u8);
            } else {
                input.extend_from_slice(TOKENS[rng.below(TOKENS.len())]);
            }
        }
        if let Ok(Some((_, used))) = parse_reply(&input) {
            assert!(used <= input.len());
            // What parsed once parses the same way from just its own bytes.
            let again = parse_reply(&input[..used]).expect("same bytes");
            assert_eq!(again.map(|(_, n)| n), Some(used));
        }
    }
}

/// A packed list of bulk strings encodes exactly as the frames it stands for, with and without scores.
#[test]
fn bulk_list_encodes_as_its_frames() {
    use resp::BulkList;
    let members: [&[u8]; 5] = [b"a", b"", b"member:999", &[0u8, 13, 10, 255], &[b'x'; 300]];
    let scores = [1.0, -0.0, 2.5, f64::INFINITY, -1e300];
    for n in [0, 1, 5] {
        let mut plain = BulkList::with_capacity(n, 0);
        let mut scored = BulkList::with_scores(n, 0);
        for i in 0..n {
            plain.push(members[i], scores[i]);
            scored.push(members[i], scores[i]);
        }
        assert_eq!(plain.len(), n);
        let want_plain = Frame::Array(members[..n].iter().map(Frame::bulk).collect());
        let want_scored = Frame::Pairs(
            (0..n)
                .map(|i| (Frame::bulk(members[i]), Frame::Double(scores[i])))
                .collect(),
        );
        assert_eq!(plain.to_frame(), want_plain);
        assert_eq!(scored.to_frame(), want_scored);
        for proto in [Protocol::Resp2, Protocol::Resp3] {
            assert_eq!(
                wire(&Frame::BulkList(plain.clone()), proto),
                wire(&want_plain, proto)
            );
            assert_eq!(
                wire(&Frame::BulkList(scored.clone()), proto),
                wire(&want_scored, proto)
            );
        }
        // Nested, and expanded back into ordinary frames.
        let nested = Frame::Array(vec![Frame::bulk("k"), Frame::BulkList(scored.clone())]);
        assert_eq!(
            nested.clone().expand_lists(),
            Frame::Array(vec![Frame::bulk("k"), want_scored.clone()])
        );
        assert_eq!(
            wire(&nested, Protocol::Resp3),
            wire(&nested.expand_lists(), Protocol::Resp3)
        );
    }
}

#[test]
fn array_maps_nest_pairs_in_resp2_and_are_maps_in_resp3() {
    both(
        Frame::ArrayMap(vec![(
            Frame::bulk("s"),
            Frame::Array(vec![Frame::bulk("1-0")]),
        )]),
        b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n$3\r\n1-0\r\n",
        b"%1\r\n$1\r\ns\r\n*1\r\n$3\r\n1-0\r\n",
    );
    both(Frame::ArrayMap(vec![]), b"*0\r\n", b"%0\r\n");
}
