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
}
