//! Reply parser for RESP2 and RESP3, for clients, tests and the fuzzer's round trips.
//!
//! It is strict (every line must end in CRLF) and iterative, so hostile nesting cannot overflow the stack,
//! and it never reserves more slots than the remaining input could fill.

use std::borrow::Cow;

use bytes::Bytes;

use crate::Frame;

/// A malformed reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyError(pub String);

impl std::fmt::Display for ReplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ReplyError {}

/// Aggregate shapes; maps and attributes count keys and values separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Agg {
    Array,
    Map,
    Set,
    Push,
    /// RESP3 `|`: metadata about the next value, which the parser drops.
    Attribute,
}

struct Level {
    kind: Agg,
    left: usize,
    items: Vec<Frame>,
}

/// What one type byte and its line (and payload) produced.
enum Token {
    Value(Frame),
    Open(Agg, usize),
}

fn err<T>(msg: &str) -> Result<T, ReplyError> {
    Err(ReplyError(msg.to_string()))
}

/// Finds the line starting at `pos`: its content end and the position after its CRLF.
fn read_line(buf: &[u8], pos: usize) -> Result<Option<(usize, usize)>, ReplyError> {
    let rest = &buf[pos..];
    match rest.iter().position(|&b| b == b'\r') {
        None => Ok(None),
        Some(i) => match rest.get(i + 1) {
            None => Ok(None),
            Some(b'\n') => Ok(Some((pos + i, pos + i + 2))),
            Some(_) => err("Protocol error: CR not followed by LF"),
        },
    }
}

fn parse_int(s: &[u8]) -> Result<i64, ReplyError> {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return err("Protocol error: invalid integer");
    }
    let mut v: i64 = 0;
    for &d in digits {
        let d = i64::from(d - b'0');
        v = v
            .checked_mul(10)
            .and_then(|v| {
                if neg {
                    v.checked_sub(d)
                } else {
                    v.checked_add(d)
                }
            })
            .ok_or_else(|| ReplyError("Protocol error: integer out of range".to_string()))?;
    }
    Ok(v)
}

fn text(s: &[u8]) -> Cow<'static, str> {
    Cow::Owned(String::from_utf8_lossy(s).into_owned())
}

/// Reads a length-prefixed payload (`$`, `=`, `!`) of `len` bytes at `pos`: the payload range and the
/// position after its CRLF.
fn read_blob(
    buf: &[u8],
    pos: usize,
    len: i64,
) -> Result<Option<(usize, usize, usize)>, ReplyError> {
    let len = usize::try_from(len)
        .map_err(|_| ReplyError("Protocol error: invalid bulk length".to_string()))?;
    let end = match pos.checked_add(len) {
        Some(e) => e,
        None => return err("Protocol error: invalid bulk length"),
    };
    if buf.len() < end.saturating_add(2) {
        return Ok(None);
    }
    if &buf[end..end + 2] != b"\r\n" {
        return err("Protocol error: bulk not followed by CRLF");
    }
    Ok(Some((pos, end, end + 2)))
}

/// Parses one token at `pos`, returning it and the position after it, `None` if the input ends first.
fn token(buf: &[u8], pos: usize) -> Result<Option<(Token, usize)>, ReplyError> {
    let Some(&kind) = buf.get(pos) else {
        return Ok(None);
    };
    let Some((line_end, next)) = read_line(buf, pos + 1)? else {
        return Ok(None);
    };
    let line = &buf[pos + 1..line_end];
    let tok = match kind {
        b'+' => Token::Value(Frame::Simple(text(line))),
        b'-' => Token::Value(Frame::Error(text(line))),
        b':' => Token::Value(Frame::Integer(parse_int(line)?)),
        b'_' => {
            if !line.is_empty() {
                return err("Protocol error: invalid null");
            }
            Token::Value(Frame::Null)
        }
        b'#' => match line {
            b"t" => Token::Value(Frame::Boolean(true)),
            b"f" => Token::Value(Frame::Boolean(false)),
            _ => return err("Protocol error: invalid boolean"),
        },
        b',' => {
            let v = std::str::from_utf8(line)
                .ok()
                .and_then(|s| s.parse::<f64>().ok())
                .ok_or_else(|| ReplyError("Protocol error: invalid double".to_string()))?;
            Token::Value(Frame::Double(v))
        }
        b'(' => {
            let digits = line.strip_prefix(b"-").unwrap_or(line);
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return err("Protocol error: invalid big number");
            }
            Token::Value(Frame::BigNumber(String::from_utf8_lossy(line).into_owned()))
        }
        b'$' | b'=' | b'!' => {
            let len = parse_int(line)?;
            if kind == b'$' && len == -1 {
                return Ok(Some((Token::Value(Frame::Null), next)));
            }
            let Some((start, end, after)) = read_blob(buf, next, len)? else {
                return Ok(None);
            };
            let payload = &buf[start..end];
            let frame = match kind {
                b'$' => Frame::Bulk(Bytes::copy_from_slice(payload)),
                b'!' => Frame::Error(text(payload)),
                _ => {
                    if payload.len() < 4 || payload[3] != b':' {
                        return err("Protocol error: invalid verbatim string");
                    }
                    Frame::Verbatim {
                        format: [payload[0], payload[1], payload[2]],
                        text: Bytes::copy_from_slice(&payload[4..]),
                    }
                }
            };
            return Ok(Some((Token::Value(frame), after)));
        }
        b'*' | b'%' | b'~' | b'>' | b'|' => {
            let n = parse_int(line)?;
            if kind == b'*' && n == -1 {
                return Ok(Some((Token::Value(Frame::NullArray), next)));
            }
            let n = usize::try_from(n)
                .map_err(|_| ReplyError("Protocol error: invalid aggregate length".to_string()))?;
            let (agg, slots) = match kind {
                b'*' => (Agg::Array, Some(n)),
                b'~' => (Agg::Set, Some(n)),
                b'>' => (Agg::Push, Some(n)),
                b'%' => (Agg::Map, n.checked_mul(2)),
                _ => (Agg::Attribute, n.checked_mul(2)),
            };
            let Some(slots) = slots else {
                return err("Protocol error: invalid aggregate length");
            };
            Token::Open(agg, slots)
        }
        _ => return err("Protocol error: unknown reply type"),
    };
    Ok(Some((tok, next)))
}

/// Builds the finished aggregate; attributes yield nothing, as they only annotate the next value.
fn finish(level: Level) -> Option<Frame> {
    match level.kind {
        Agg::Array => Some(Frame::Array(level.items)),
        Agg::Set => Some(Frame::Set(level.items)),
        Agg::Push => Some(Frame::Push(level.items)),
        Agg::Map => {
            let mut pairs = Vec::with_capacity(level.items.len() / 2);
            let mut it = level.items.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                pairs.push((k, v));
            }
            Some(Frame::Map(pairs))
        }
        Agg::Attribute => None,
    }
}

/// Parses one reply from the front of `buf`: the frame and the bytes it used, `Ok(None)` if incomplete.
///
/// RESP2 shapes come back as such (`$-1` is [`Frame::Null`], `*-1` is [`Frame::NullArray`]); RESP3 `_` is
/// [`Frame::Null`], a blob error `!` is a [`Frame::Error`], and attributes `|` are skipped.
pub fn parse_reply(buf: &[u8]) -> Result<Option<(Frame, usize)>, ReplyError> {
    let mut stack: Vec<Level> = Vec::new();
    let mut pos = 0;
    loop {
        let Some((tok, next)) = token(buf, pos)? else {
            return Ok(None);
        };
        pos = next;
        let mut done = match tok {
            Token::Value(f) => Some(f),
            Token::Open(kind, 0) => finish(Level {
                kind,
                left: 0,
                items: Vec::new(),
            }),
            Token::Open(kind, n) => {
                // Each element takes at least three bytes (`_\r\n`), which bounds what is worth reserving.
                let cap = n.min((buf.len() - pos) / 3);
                stack.push(Level {
                    kind,
                    left: n,
                    items: Vec::with_capacity(cap),
                });
                None
            }
        };
        while let Some(frame) = done.take() {
            let Some(level) = stack.last_mut() else {
                return Ok(Some((frame, pos)));
            };
            level.items.push(frame);
            level.left -= 1;
            if level.left == 0 {
                if let Some(level) = stack.pop() {
                    done = finish(level);
                }
            }
        }
    }
}
