//! Reply encoder: RESP3 frames written as RESP3, or downgraded the way Redis 7.0 replies to RESP2 clients.
//!
//! Every frame reserves exactly the bytes of its own header and payload before writing them, so a reply
//! costs no allocation beyond growing `out`.

use bytes::{BufMut, BytesMut};

use crate::double::{write_double, MAX_DOUBLE_LEN};
use crate::{Frame, Protocol};

/// Appends `frame` to `out` as `proto` spells it.
pub fn encode(frame: &Frame, proto: Protocol, out: &mut BytesMut) {
    match frame {
        Frame::Simple(s) => line(b'+', s.as_bytes(), out),
        Frame::Error(s) => line(b'-', s.as_bytes(), out),
        Frame::Integer(i) => integer(*i, out),
        Frame::Bulk(b) => bulk(b, out),
        Frame::Null => out.extend_from_slice(match proto {
            Protocol::Resp2 => b"$-1\r\n",
            Protocol::Resp3 => b"_\r\n",
        }),
        Frame::NullArray => out.extend_from_slice(match proto {
            Protocol::Resp2 => b"*-1\r\n",
            Protocol::Resp3 => b"_\r\n",
        }),
        Frame::Array(items) => {
            header(b'*', items.len() as u64, out);
            for item in items {
                encode(item, proto, out);
            }
        }
        Frame::Map(pairs) => {
            match proto {
                Protocol::Resp2 => header(b'*', pairs.len() as u64 * 2, out),
                Protocol::Resp3 => header(b'%', pairs.len() as u64, out),
            }
            for (k, v) in pairs {
                encode(k, proto, out);
                encode(v, proto, out);
            }
        }
        Frame::ArrayMap(pairs) => {
            match proto {
                Protocol::Resp2 => header(b'*', pairs.len() as u64, out),
                Protocol::Resp3 => header(b'%', pairs.len() as u64, out),
            }
            for (k, v) in pairs {
                if proto == Protocol::Resp2 {
                    out.extend_from_slice(b"*2\r\n");
                }
                encode(k, proto, out);
                encode(v, proto, out);
            }
        }
        Frame::Pairs(pairs) => match proto {
            Protocol::Resp2 => {
                header(b'*', pairs.len() as u64 * 2, out);
                for (a, b) in pairs {
                    encode(a, proto, out);
                    encode(b, proto, out);
                }
            }
            Protocol::Resp3 => {
                header(b'*', pairs.len() as u64, out);
                for (a, b) in pairs {
                    out.extend_from_slice(b"*2\r\n");
                    encode(a, proto, out);
                    encode(b, proto, out);
                }
            }
        },
        Frame::Set(items) => {
            let kind = match proto {
                Protocol::Resp2 => b'*',
                Protocol::Resp3 => b'~',
            };
            header(kind, items.len() as u64, out);
            for item in items {
                encode(item, proto, out);
            }
        }
        Frame::BulkList(l) => bulk_list(l, proto, out),
        Frame::Push(items) => {
            let kind = match proto {
                Protocol::Resp2 => b'*',
                Protocol::Resp3 => b'>',
            };
            header(kind, items.len() as u64, out);
            for item in items {
                encode(item, proto, out);
            }
        }
        Frame::Double(v) => {
            let mut buf = [0u8; MAX_DOUBLE_LEN];
            let n = write_double(*v, &mut buf);
            match proto {
                Protocol::Resp2 => bulk(&buf[..n], out),
                Protocol::Resp3 => line(b',', &buf[..n], out),
            }
        }
        Frame::Boolean(b) => out.extend_from_slice(match (proto, b) {
            (Protocol::Resp2, true) => b":1\r\n",
            (Protocol::Resp2, false) => b":0\r\n",
            (Protocol::Resp3, true) => b"#t\r\n",
            (Protocol::Resp3, false) => b"#f\r\n",
        }),
        Frame::BigNumber(n) => match proto {
            Protocol::Resp2 => bulk(n.as_bytes(), out),
            Protocol::Resp3 => line(b'(', n.as_bytes(), out),
        },
        Frame::Verbatim { format, text } => match proto {
            // Redis' addReplyVerbatim sends only the text to RESP2 clients.
            Protocol::Resp2 => bulk(text, out),
            Protocol::Resp3 => {
                let len = text.len() + 4;
                let mut digits = itoa::Buffer::new();
                let d = digits.format(len).as_bytes();
                out.reserve(1 + d.len() + 2 + len + 2);
                out.put_u8(b'=');
                out.extend_from_slice(d);
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(format);
                out.put_u8(b':');
                out.extend_from_slice(text);
                out.extend_from_slice(b"\r\n");
            }
        },
    }
}

/// A one-line frame (`+`, `-`, `,`, `(`). CR and LF would end the line early and desynchronise the client,
/// so they become spaces, as Redis' addReplyErrorFormat does for errors.
fn line(kind: u8, text: &[u8], out: &mut BytesMut) {
    out.reserve(1 + text.len() + 2);
    out.put_u8(kind);
    if text.iter().any(|&b| b == b'\r' || b == b'\n') {
        out.extend(
            text.iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
    } else {
        out.extend_from_slice(text);
    }
    out.extend_from_slice(b"\r\n");
}

fn integer(i: i64, out: &mut BytesMut) {
    match i {
        0 => out.extend_from_slice(b":0\r\n"),
        1 => out.extend_from_slice(b":1\r\n"),
        _ => {
            let mut digits = itoa::Buffer::new();
            let d = digits.format(i).as_bytes();
            out.reserve(1 + d.len() + 2);
            out.put_u8(b':');
            out.extend_from_slice(d);
            out.extend_from_slice(b"\r\n");
        }
    }
}

fn header(kind: u8, len: u64, out: &mut BytesMut) {
    let mut digits = itoa::Buffer::new();
    let d = digits.format(len).as_bytes();
    out.reserve(1 + d.len() + 2);
    out.put_u8(kind);
    out.extend_from_slice(d);
    out.extend_from_slice(b"\r\n");
}

/// A [`crate::BulkList`]: one copy of its encoded strings, with each score after its string when it has them.
fn bulk_list(l: &crate::BulkList, proto: Protocol, out: &mut BytesMut) {
    let Some(scored) = l.scored.as_deref() else {
        header(b'*', l.count as u64, out);
        out.extend_from_slice(&l.encoded);
        return;
    };
    match proto {
        Protocol::Resp2 => header(b'*', l.count as u64 * 2, out),
        Protocol::Resp3 => header(b'*', l.count as u64, out),
    }
    out.reserve(l.encoded.len() + l.count * 12);
    let mut start = 0;
    for (&score, &end) in scored.scores.iter().zip(&scored.ends) {
        if proto == Protocol::Resp3 {
            out.extend_from_slice(b"*2\r\n");
        }
        out.extend_from_slice(&l.encoded[start..end]);
        start = end;
        let mut buf = [0u8; MAX_DOUBLE_LEN];
        let n = write_double(score, &mut buf);
        match proto {
            Protocol::Resp2 => bulk(&buf[..n], out),
            Protocol::Resp3 => line(b',', &buf[..n], out),
        }
    }
}

/// Appends `data` as a bulk string to a plain buffer (what [`crate::BulkList`] holds).
pub(crate) fn bulk_into(data: &[u8], out: &mut Vec<u8>) {
    // The header is built on the stack and copied with the data: three copies, one capacity check.
    let mut head = [0u8; 24];
    head[0] = b'$';
    let mut digits = itoa::Buffer::new();
    let d = digits.format(data.len()).as_bytes();
    head[1..1 + d.len()].copy_from_slice(d);
    head[1 + d.len()..3 + d.len()].copy_from_slice(b"\r\n");
    let head = &head[..3 + d.len()];
    out.reserve(head.len() + data.len() + 2);
    out.extend_from_slice(head);
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

fn bulk(data: &[u8], out: &mut BytesMut) {
    let mut digits = itoa::Buffer::new();
    let d = digits.format(data.len()).as_bytes();
    out.reserve(1 + d.len() + 2 + data.len() + 2);
    out.put_u8(b'$');
    out.extend_from_slice(d);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}
