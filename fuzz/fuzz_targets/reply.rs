//! Parses arbitrary bytes as a reply.
//!
//! Checks: no panic; the frame never claims more bytes than given; re-encoding a parsed frame in either
//! protocol gives bytes that parse completely, and encoding is idempotent through a parse (the first encoding
//! may normalise, e.g. CR/LF inside simple strings, but the second must reproduce it exactly).
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use resp::{encode, parse_reply, Protocol};

fuzz_target!(|data: &[u8]| {
    let Ok(Some((frame, used))) = parse_reply(data) else {
        return;
    };
    assert!(used <= data.len());
    for proto in [Protocol::Resp2, Protocol::Resp3] {
        let mut first = BytesMut::new();
        encode(&frame, proto, &mut first);
        let (again, n) = match parse_reply(&first) {
            Ok(Some(parsed)) => parsed,
            other => panic!("{proto:?}: encoding of {frame:?} does not parse: {other:?}"),
        };
        assert_eq!(n, first.len(), "{proto:?}: trailing bytes");
        let mut second = BytesMut::new();
        encode(&again, proto, &mut second);
        assert_eq!(first, second, "{proto:?}: encoding not stable");
    }
});
