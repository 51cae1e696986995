//! RESP2/RESP3 wire protocol for Shoal.
//!
//! # Layout
//! - [`Frame`]: one reply value, always built in its RESP3 shape; the encoder downgrades it for RESP2 clients.
//! - `decode`: the request decoder (multibulk and inline commands) with Redis' limits; it never allocates from a
//!   length the client merely announced.
//! - `encode`: writes a [`Frame`] for a [`Protocol`] version.
//! - `reply`: a reply parser, for clients, tests and the fuzzer's round trips.
//! - `double`: Redis' `%.17g` formatting of doubles.
//!
//! This crate knows nothing of commands or storage.

use std::borrow::Cow;

use bytes::Bytes;

mod decode;
mod double;
mod encode;
mod reply;

pub use decode::{split_args, Decoder, Limits, ProtocolError};
pub use double::format_double;
pub use encode::encode;
pub use reply::{parse_reply, ReplyError};

/// Protocol version a connection speaks, chosen by `HELLO`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Protocol {
    /// RESP2, the default of every new connection.
    #[default]
    Resp2,
    /// RESP3, after `HELLO 3`.
    Resp3,
}

/// One reply value. Commands build RESP3 shapes; RESP2 clients get them flattened by the encoder.
#[derive(Clone, Debug, PartialEq)]
pub enum Frame {
    /// `+OK`
    Simple(Cow<'static, str>),
    /// `-ERR ...`: the text includes the error code prefix (`ERR`, `WRONGTYPE`, ...).
    Error(Cow<'static, str>),
    /// `:1`
    Integer(i64),
    /// `$3\r\nfoo`
    Bulk(Bytes),
    /// Absent value: `$-1` in RESP2, `_` in RESP3.
    Null,
    /// Absent array: `*-1` in RESP2, `_` in RESP3.
    NullArray,
    /// `*N`
    Array(Vec<Frame>),
    /// `%N` in RESP3, a flat array of 2N in RESP2.
    Map(Vec<(Frame, Frame)>),
    /// `~N` in RESP3, an array in RESP2.
    Set(Vec<Frame>),
    /// Pairs as RESP3 nests them, `*N` of two-element arrays, and RESP2 flattens them into one array of 2N
    /// (HRANDFIELD ... WITHVALUES, ZRANGE ... WITHSCORES).
    Pairs(Vec<(Frame, Frame)>),
    /// `,1.5` in RESP3, a bulk string (`%.17g`) in RESP2.
    Double(f64),
    /// `#t` in RESP3, `:1`/`:0` in RESP2.
    Boolean(bool),
    /// `(123` in RESP3, a bulk string in RESP2.
    BigNumber(String),
    /// `=N\r\ntxt:...` in RESP3, a bulk string in RESP2.
    Verbatim {
        /// Three-letter format, such as `txt`.
        format: [u8; 3],
        /// The text itself.
        text: Bytes,
    },
    /// `>N` in RESP3 (out-of-band messages), an array in RESP2.
    Push(Vec<Frame>),
    /// `%N` in RESP3, `*N` of two-element `[key, value]` arrays in RESP2 (XREAD and XREADGROUP replies).
    ArrayMap(Vec<(Frame, Frame)>),
    /// An array of bulk strings (or of (bulk string, double) pairs, as [`Frame::Pairs`] encodes them) held in
    /// their wire form in one buffer: a long range reply without a frame and an allocation per element.
    BulkList(BulkList),
}

/// Bulk strings already encoded (`$len\r\n...\r\n`, the same in RESP2 and RESP3), optionally each with a
/// score; see [`Frame::BulkList`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BulkList {
    encoded: Vec<u8>,
    count: usize,
    /// With scores: each element's score and where its encoding ends in `encoded`.
    scored: Option<Box<Scores>>,
}

#[derive(Clone, Debug, Default, PartialEq)]
struct Scores {
    scores: Vec<f64>,
    ends: Vec<usize>,
}

impl BulkList {
    /// An empty list of bulk strings, with room for `count` of `bytes` bytes in all.
    pub fn with_capacity(count: usize, bytes: usize) -> BulkList {
        BulkList {
            encoded: Vec::with_capacity(bytes + count * 8),
            count: 0,
            scored: None,
        }
    }

    /// An empty list of (bulk string, score) pairs, with room for `count` of `bytes` bytes in all.
    pub fn with_scores(count: usize, bytes: usize) -> BulkList {
        BulkList {
            scored: Some(Box::new(Scores {
                scores: Vec::with_capacity(count),
                ends: Vec::with_capacity(count),
            })),
            ..BulkList::with_capacity(count, bytes)
        }
    }

    /// Appends a bulk string; with scores, `score` goes with it (otherwise it is ignored).
    #[inline]
    pub fn push(&mut self, data: &[u8], score: f64) {
        encode::bulk_into(data, &mut self.encoded);
        self.count += 1;
        if let Some(s) = self.scored.as_deref_mut() {
            s.scores.push(score);
            s.ends.push(self.encoded.len());
        }
    }

    /// Number of elements (pairs, with scores).
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The elements with their scores (`None` without scores), decoded back.
    pub fn items(&self) -> Vec<(Bytes, Option<f64>)> {
        let mut out = Vec::with_capacity(self.count);
        let mut pos = 0;
        for i in 0..self.count {
            // `$<len>\r\n<data>\r\n`, as `push` wrote it.
            let nl = pos
                + self.encoded[pos..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .unwrap_or(0);
            let len: usize = std::str::from_utf8(&self.encoded[pos + 1..nl - 1])
                .ok()
                .and_then(|d| d.parse().ok())
                .unwrap_or(0);
            let data = Bytes::copy_from_slice(&self.encoded[nl + 1..nl + 1 + len]);
            pos = nl + 1 + len + 2;
            out.push((data, self.scored.as_ref().map(|s| s.scores[i])));
        }
        out
    }

    /// The same reply as ordinary frames: an [`Frame::Array`] of bulk strings, or [`Frame::Pairs`] of bulk
    /// strings and doubles.
    pub fn to_frame(&self) -> Frame {
        let items = self.items();
        if self.scored.is_some() {
            Frame::Pairs(
                items
                    .into_iter()
                    .map(|(b, s)| (Frame::Bulk(b), Frame::Double(s.unwrap_or(0.0))))
                    .collect(),
            )
        } else {
            Frame::Array(items.into_iter().map(|(b, _)| Frame::Bulk(b)).collect())
        }
    }
}

impl Frame {
    /// The `+OK` reply.
    pub const fn ok() -> Frame {
        Frame::Simple(Cow::Borrowed("OK"))
    }

    /// A simple string reply from a static text.
    pub const fn simple(s: &'static str) -> Frame {
        Frame::Simple(Cow::Borrowed(s))
    }

    /// An error reply from a static text that already carries its code (`ERR ...`).
    pub const fn error(s: &'static str) -> Frame {
        Frame::Error(Cow::Borrowed(s))
    }

    /// An error reply from an owned text that already carries its code.
    pub fn error_owned(s: String) -> Frame {
        Frame::Error(Cow::Owned(s))
    }

    /// A bulk string reply copied from bytes.
    pub fn bulk(b: impl AsRef<[u8]>) -> Frame {
        Frame::Bulk(Bytes::copy_from_slice(b.as_ref()))
    }

    /// A bulk string reply from a static text.
    pub const fn bulk_static(s: &'static str) -> Frame {
        Frame::Bulk(Bytes::from_static(s.as_bytes()))
    }

    /// Whether this frame is an error reply.
    pub fn is_error(&self) -> bool {
        matches!(self, Frame::Error(_))
    }

    /// The frame with every [`Frame::BulkList`] in it turned into ordinary frames ([`BulkList::to_frame`]):
    /// what code that inspects replies element by element wants.
    pub fn expand_lists(self) -> Frame {
        let list = |v: Vec<Frame>| v.into_iter().map(Frame::expand_lists).collect();
        let pairs = |v: Vec<(Frame, Frame)>| {
            v.into_iter()
                .map(|(a, b)| (a.expand_lists(), b.expand_lists()))
                .collect()
        };
        match self {
            Frame::BulkList(l) => l.to_frame(),
            Frame::Array(v) => Frame::Array(list(v)),
            Frame::Set(v) => Frame::Set(list(v)),
            Frame::Push(v) => Frame::Push(list(v)),
            Frame::Map(v) => Frame::Map(pairs(v)),
            Frame::ArrayMap(v) => Frame::ArrayMap(pairs(v)),
            Frame::Pairs(v) => Frame::Pairs(pairs(v)),
            other => other,
        }
    }
}
