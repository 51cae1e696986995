//! Feeds arbitrary bytes to the request decoder in arbitrary chunks.
//!
//! Checks: no panic; no empty command; with the default limits (inputs stay far below the 64 KB size
//! checks) the outcome does not depend on how the bytes were split; every decoded command decodes to itself
//! again once re-encoded as a multibulk request; and arbitrary small limits never panic either.
#![no_main]

use arbitrary::Arbitrary;
use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use resp::{Decoder, Limits, ProtocolError};

#[derive(Arbitrary, Debug)]
struct Input {
    data: Vec<u8>,
    /// Chunk lengths to feed, cycled; 0 means "decode again without new bytes".
    chunks: Vec<u8>,
    auth_required: bool,
    small_limits: (u8, u8, u8),
}

#[derive(Debug, PartialEq)]
struct Outcome {
    commands: Vec<Vec<Bytes>>,
    error: Option<ProtocolError>,
}

fn run(data: &[u8], chunks: &[u8], limits: Limits, auth_required: bool) -> Outcome {
    let mut dec = Decoder::new(limits);
    dec.set_auth_required(auth_required);
    let mut buf = BytesMut::new();
    let mut out = Outcome {
        commands: Vec::new(),
        error: None,
    };
    // A cycle of chunk lengths that adds up to nothing would never finish: then feed everything at once.
    let cycle: usize = chunks.iter().map(|&c| usize::from(c)).sum();
    let mut pos = 0;
    let mut i = 0;
    loop {
        let step = if cycle == 0 {
            data.len() - pos
        } else {
            usize::from(chunks[i % chunks.len()])
        };
        i += 1;
        let end = (pos + step).min(data.len());
        buf.extend_from_slice(&data[pos..end]);
        pos = end;
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(cmd)) => {
                    assert!(!cmd.is_empty(), "empty command");
                    out.commands.push(cmd);
                }
                Ok(None) => break,
                Err(e) => {
                    out.error = Some(e);
                    return out;
                }
            }
        }
        if pos == data.len() {
            return out;
        }
    }
}

fuzz_target!(|input: Input| {
    let whole = run(&input.data, &[], Limits::default(), input.auth_required);
    let split = run(
        &input.data,
        &input.chunks,
        Limits::default(),
        input.auth_required,
    );
    if input.data.len() <= 64 * 1024 {
        assert_eq!(whole, split, "outcome depends on chunking");
    }

    for cmd in &whole.commands {
        let mut wire = BytesMut::new();
        wire.extend_from_slice(format!("*{}\r\n", cmd.len()).as_bytes());
        for arg in cmd {
            wire.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            wire.extend_from_slice(arg);
            wire.extend_from_slice(b"\r\n");
        }
        let mut dec = Decoder::default();
        assert_eq!(
            dec.decode(&mut wire),
            Ok(Some(cmd.clone())),
            "re-encoded command differs"
        );
        assert!(wire.is_empty());
    }

    let (bulk, count, inline) = input.small_limits;
    let limits = Limits {
        proto_max_bulk_len: usize::from(bulk),
        max_multibulk_len: usize::from(count),
        client_query_buffer_limit: 1 << 30,
        max_inline_len: usize::from(inline),
    };
    let _ = run(&input.data, &input.chunks, limits, input.auth_required);
});
