//! Request decoder: multibulk (`*N\r\n$len\r\n...`) and inline (telnet) commands, with the checks, limits and
//! error texts of Redis 7.0.15's `processMultibulkBuffer` and `processInlineBuffer`.
//!
//! # Contract with the caller
//! The caller owns one `BytesMut` per connection, appends what it reads, and calls [`Decoder::decode`] until
//! it returns `Ok(None)`. The decoder takes consumed bytes off the front of that buffer, so the buffer always
//! starts at the first byte not yet consumed; it keeps its own place (the argument count, the arguments
//! already cut off, how far the current line has been scanned) between calls, so a bulk arriving in small
//! reads costs O(n) overall, and it never reserves memory from a length or count that the client merely
//! announced. Completed arguments are zero-copy `split_to(..).freeze()` views of that buffer: they keep the
//! read buffer's allocation alive, so storage should copy them rather than hold on to them.
//!
//! # Query buffer limit
//! Redis closes (without a reply) a client whose unparsed query buffer exceeds `client-query-buffer-limit`
//! right after each read. The equivalent here is [`Decoder::query_buffer_exceeded`], that is
//! `buf.len() > limits.client_query_buffer_limit`, checked after appending each read and before decoding.
//! Arguments of the command in progress that were already cut off the buffer are not part of that sum, as in
//! Redis, where they already live in `c->argv`; [`Decoder::pending_bytes`] reports them for memory accounting.
//!
//! # Redis quirks kept on purpose
//! - Lines are found as Redis finds them with `strchr` on a NUL-terminated buffer: a NUL byte before the line
//!   end hides it, so the line never completes and only the size checks can end the wait.
//! - The byte after a header's `\r` and the two bytes after a bulk's payload are skipped without being
//!   checked to be `\n` and `\r\n`.
//! - `*0`, `*-1` and any other count <= 0 produce no command; blank inline lines are skipped.
//!
//! After an error the client must be disconnected (Redis replies with the error and closes); the decoder
//! forgets the command in progress and the buffer contents are unspecified.

use bytes::{Buf, Bytes, BytesMut};

/// Redis' PROTO_INLINE_MAX_SIZE, also the longest header line of a multibulk request.
const PROTO_INLINE_MAX_SIZE: usize = 64 * 1024;
/// Largest multibulk count an unauthenticated client may send (Redis 7.0.15's `authRequired` check).
const UNAUTH_MAX_MULTIBULK_LEN: i64 = 10;
/// Largest bulk an unauthenticated client may send.
const UNAUTH_MAX_BULK_LEN: i64 = 16384;
/// Redis' LONG_STR_SIZE: string2ll rejects strings this long or longer.
const LONG_STR_SIZE: usize = 21;

/// Redis' request limits.
#[derive(Clone, Debug)]
pub struct Limits {
    /// `proto-max-bulk-len`: largest bulk argument (512 MB).
    pub proto_max_bulk_len: usize,
    /// Largest number of arguments in one multibulk request.
    pub max_multibulk_len: usize,
    /// `client-query-buffer-limit`: most unprocessed bytes a client may have buffered (1 GB).
    pub client_query_buffer_limit: usize,
    /// Longest inline command line (64 KB, Redis' PROTO_INLINE_MAX_SIZE).
    pub max_inline_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            proto_max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: i32::MAX as usize,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            max_inline_len: PROTO_INLINE_MAX_SIZE,
        }
    }
}

/// A request that breaks the protocol: the client gets the message and is disconnected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl ProtocolError {
    /// The full error line, such as `ERR Protocol error: invalid bulk length`.
    pub fn message(&self) -> &str {
        &self.0
    }

    fn new(msg: &str) -> ProtocolError {
        ProtocolError(format!("ERR Protocol error: {msg}"))
    }
}

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProtocolError {}

/// How far a line search has got: bytes before `scanned` hold neither the terminator nor a NUL.
#[derive(Debug, Default, Clone, Copy)]
struct Scan {
    scanned: usize,
    /// A NUL came first: like `strchr`, the line end can never be found.
    blocked: bool,
}

enum Found {
    /// Index of the terminator in the buffer.
    At(usize),
    NotYet,
}

impl Scan {
    fn find(&mut self, buf: &[u8], target: u8) -> Found {
        if self.blocked {
            return Found::NotYet;
        }
        let from = self.scanned.min(buf.len());
        match buf[from..].iter().position(|&b| b == target || b == 0) {
            Some(i) if buf[from + i] == target => {
                // Stay on the terminator: the bytes after it may still be missing.
                self.scanned = from + i;
                Found::At(from + i)
            }
            Some(_) => {
                self.blocked = true;
                Found::NotYet
            }
            None => {
                self.scanned = buf.len();
                Found::NotYet
            }
        }
    }
}

#[derive(Debug, Default)]
enum State {
    /// Between commands.
    #[default]
    Idle,
    /// Inside an inline command line.
    Inline(Scan),
    /// Inside the `*N` line of a multibulk request.
    Count(Scan),
    /// Reading the arguments of a multibulk request.
    Args {
        /// Arguments still to read.
        left: usize,
        args: Vec<Bytes>,
        /// Length of the bulk whose header was read, `None` while its `$len` line is awaited.
        bulk: Option<usize>,
        scan: Scan,
        /// Payload bytes in `args`.
        held: usize,
    },
}

/// Incremental request decoder; keeps its position across partial reads.
///
/// Use one per connection with one `BytesMut`: append each read to the buffer, check
/// [`Decoder::query_buffer_exceeded`] (close the connection without a reply if true, as Redis does for
/// `client-query-buffer-limit`), then call [`Decoder::decode`] until it returns `Ok(None)`. The decoder
/// removes what it consumed from the front of the buffer and remembers how far it got, so never hand it a
/// different buffer mid-stream. On `Err`, reply with [`ProtocolError::message`] as an error and close.
/// Arguments are zero-copy views of the read buffer: copy them into storage instead of keeping them.
#[derive(Debug, Default)]
pub struct Decoder {
    limits: Limits,
    state: State,
    /// Whether the connection still has to authenticate, which tightens the limits as Redis' authRequired.
    auth_required: bool,
}

/// Redis' string2ll: optional `-`, no `+`, no leading zeros, no spaces, fits in an i64.
fn string2ll(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() >= LONG_STR_SIZE {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        if v > i64::MIN.unsigned_abs() {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Redis' sdssplitargs over one line (inline commands, config files). Unquoted words are zero-copy slices of
/// `line`; `None` means unbalanced quotes.
pub fn split_args(line: &Bytes) -> Option<Vec<Bytes>> {
    let s: &[u8] = line;
    // The C code reads a NUL terminator past the end.
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut args = Vec::new();
    let mut p = 0;
    loop {
        while p < s.len() && is_c_space(s[p]) {
            p += 1;
        }
        if p >= s.len() {
            return Some(args);
        }
        let start = p;
        // Set once the word had quotes, so it can no longer be a plain slice.
        let mut owned: Option<Vec<u8>> = None;
        let mut in_dq = false;
        let mut in_sq = false;
        // Where a bare word stops; only used when `owned` stays `None`.
        let mut bare_end = s.len();
        loop {
            let c = at(p);
            if in_dq {
                if c == b'\\' && at(p + 1) == b'x' {
                    if let (Some(hi), Some(lo)) = (hex_value(at(p + 2)), hex_value(at(p + 3))) {
                        owned.get_or_insert_with(Vec::new).push(hi * 16 + lo);
                        p += 4;
                        continue;
                    }
                }
                if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    let e = match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => b'\x08',
                        b'a' => b'\x07',
                        other => other,
                    };
                    owned.get_or_insert_with(Vec::new).push(e);
                } else if c == b'"' {
                    // A closing quote must be followed by a space or the end.
                    if at(p + 1) != 0 && !is_c_space(at(p + 1)) {
                        return None;
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return None;
                } else {
                    owned.get_or_insert_with(Vec::new).push(c);
                }
            } else if in_sq {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    owned.get_or_insert_with(Vec::new).push(b'\'');
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !is_c_space(at(p + 1)) {
                        return None;
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return None;
                } else {
                    owned.get_or_insert_with(Vec::new).push(c);
                }
            } else {
                match c {
                    // Only these end a bare word; \v and \f belong to it although they are skipped
                    // between words.
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        bare_end = p.min(s.len());
                        if c != 0 {
                            p += 1;
                        }
                        break;
                    }
                    b'"' | b'\'' => {
                        // Switch to an owned copy holding the bare prefix read so far.
                        if owned.is_none() {
                            owned = Some(s[start..p].to_vec());
                        }
                        if c == b'"' {
                            in_dq = true;
                        } else {
                            in_sq = true;
                        }
                    }
                    _ => {
                        if let Some(o) = owned.as_mut() {
                            o.push(c);
                        }
                    }
                }
            }
            p += 1;
        }
        match owned {
            Some(o) => args.push(Bytes::from(o)),
            None => args.push(line.slice(start..bare_end)),
        }
    }
}

impl Decoder {
    /// A decoder enforcing `limits`.
    pub fn new(limits: Limits) -> Decoder {
        Decoder {
            limits,
            state: State::Idle,
            auth_required: false,
        }
    }

    /// Replaces the limits (after `CONFIG SET`).
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Whether the client still has to authenticate. While true, as Redis 7.0.15 does for such clients,
    /// a multibulk count above 10 fails with `ERR Protocol error: unauthenticated multibulk length` and a
    /// bulk above 16384 bytes with `ERR Protocol error: unauthenticated bulk length`. Off by default.
    pub fn set_auth_required(&mut self, required: bool) {
        self.auth_required = required;
    }

    /// Payload bytes of the command in progress that were already cut off the buffer (its completed
    /// arguments). Redis does not count these against `client-query-buffer-limit` (they already sit in its
    /// argv), so neither does [`Decoder::query_buffer_exceeded`]; use this for memory accounting.
    pub fn pending_bytes(&self) -> usize {
        match &self.state {
            State::Args { held, .. } => *held,
            _ => 0,
        }
    }

    /// Whether a command is partly decoded (the buffer does not start at a command boundary).
    pub fn in_progress(&self) -> bool {
        !matches!(self.state, State::Idle)
    }

    /// Redis' `client-query-buffer-limit` rule: true when the unparsed bytes in `buf` exceed the limit, in
    /// which case the server closes the connection without a reply. Check it after appending each read.
    pub fn query_buffer_exceeded(&self, buf: &BytesMut) -> bool {
        buf.len() > self.limits.client_query_buffer_limit
    }

    /// Takes one complete command (its arguments) off the front of `buf`, `Ok(None)` if more bytes are needed.
    /// An empty argument list is never returned (blank inline lines are skipped).
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let result = self.decode_inner(buf);
        if result.is_err() {
            self.state = State::Idle;
        }
        result
    }

    fn decode_inner(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        loop {
            match &mut self.state {
                State::Idle => {
                    let Some(&first) = buf.first() else {
                        return Ok(None);
                    };
                    self.state = if first == b'*' {
                        State::Count(Scan::default())
                    } else {
                        State::Inline(Scan::default())
                    };
                }
                State::Inline(scan) => {
                    let Found::At(nl) = scan.find(buf, b'\n') else {
                        if buf.len() > self.limits.max_inline_len {
                            return Err(ProtocolError::new("too big inline request"));
                        }
                        return Ok(None);
                    };
                    let end = if nl > 0 && buf[nl - 1] == b'\r' {
                        nl - 1
                    } else {
                        nl
                    };
                    let line = buf.split_to(nl + 1).freeze().slice(..end);
                    let args = split_args(&line)
                        .ok_or_else(|| ProtocolError::new("unbalanced quotes in request"))?;
                    self.state = State::Idle;
                    if !args.is_empty() {
                        return Ok(Some(args));
                    }
                }
                State::Count(scan) => {
                    let Found::At(cr) = scan.find(buf, b'\r') else {
                        if buf.len() > self.limits.max_inline_len {
                            return Err(ProtocolError::new("too big mbulk count string"));
                        }
                        return Ok(None);
                    };
                    if cr + 2 > buf.len() {
                        return Ok(None);
                    }
                    let count = match string2ll(&buf[1..cr]) {
                        Some(n) if n <= 0 || (n as u64) <= self.limits.max_multibulk_len as u64 => {
                            n
                        }
                        _ => return Err(ProtocolError::new("invalid multibulk length")),
                    };
                    if count > UNAUTH_MAX_MULTIBULK_LEN && self.auth_required {
                        return Err(ProtocolError::new("unauthenticated multibulk length"));
                    }
                    buf.advance(cr + 2);
                    if count <= 0 {
                        self.state = State::Idle;
                        continue;
                    }
                    let left = count as usize;
                    // Every argument takes at least six bytes (`$0\r\n\r\n`): reserve only for what arrived.
                    let cap = left.min(buf.len() / 6 + 1);
                    self.state = State::Args {
                        left,
                        args: Vec::with_capacity(cap),
                        bulk: None,
                        scan: Scan::default(),
                        held: 0,
                    };
                }
                State::Args {
                    left,
                    args,
                    bulk,
                    scan,
                    held,
                } => {
                    while *left > 0 {
                        let len = match *bulk {
                            Some(len) => len,
                            None => {
                                let Found::At(cr) = scan.find(buf, b'\r') else {
                                    if buf.len() > self.limits.max_inline_len {
                                        return Err(ProtocolError::new(
                                            "too big bulk count string",
                                        ));
                                    }
                                    return Ok(None);
                                };
                                if cr + 2 > buf.len() {
                                    return Ok(None);
                                }
                                if buf[0] != b'$' {
                                    return Err(ProtocolError::new(&format!(
                                        "expected '$', got '{}'",
                                        printable(buf[0])
                                    )));
                                }
                                let len = match string2ll(&buf[1..cr]) {
                                    Some(n)
                                        if n >= 0
                                            && (n as u64)
                                                <= self.limits.proto_max_bulk_len as u64 =>
                                    {
                                        n
                                    }
                                    _ => return Err(ProtocolError::new("invalid bulk length")),
                                };
                                if len > UNAUTH_MAX_BULK_LEN && self.auth_required {
                                    return Err(ProtocolError::new("unauthenticated bulk length"));
                                }
                                buf.advance(cr + 2);
                                *scan = Scan::default();
                                *bulk = Some(len as usize);
                                len as usize
                            }
                        };
                        if buf.len() < len.saturating_add(2) {
                            return Ok(None);
                        }
                        args.push(buf.split_to(len).freeze());
                        buf.advance(2);
                        *held += len;
                        *bulk = None;
                        *left -= 1;
                    }
                    let args = std::mem::take(args);
                    self.state = State::Idle;
                    return Ok(Some(args));
                }
            }
        }
    }
}

/// The byte as Redis' addReplyErrorFormat leaves it: CR and LF become spaces. Bytes above 0x7f, which Redis
/// sends raw, become the Unicode scalar of the same value, since the message is a `String`.
fn printable(b: u8) -> char {
    match b {
        b'\r' | b'\n' => ' ',
        _ => char::from(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announced_count_reserves_only_for_received_bytes() {
        let mut dec = Decoder::default();
        let mut buf = BytesMut::from(&b"*2000000000\r\n$1\r\n"[..]);
        assert_eq!(dec.decode(&mut buf), Ok(None));
        match &dec.state {
            State::Args { args, left, .. } => {
                assert_eq!(*left, 2_000_000_000);
                assert!(args.capacity() <= 8, "reserved {}", args.capacity());
            }
            other => panic!("unexpected state {other:?}"),
        }
    }

    #[test]
    fn line_scan_resumes_where_it_stopped() {
        let mut dec = Decoder::default();
        let mut buf = BytesMut::new();
        for (i, &b) in b"GET ".iter().chain([b'a'; 1000].iter()).enumerate() {
            buf.extend_from_slice(&[b]);
            assert_eq!(dec.decode(&mut buf), Ok(None));
            match &dec.state {
                State::Inline(scan) => assert_eq!(scan.scanned, i + 1),
                other => panic!("unexpected state {other:?}"),
            }
        }
        buf.extend_from_slice(b"\r\n");
        let args = dec.decode(&mut buf).expect("valid").expect("complete");
        assert_eq!(args.len(), 2);
        assert_eq!(args[1].len(), 1000);
    }

    #[test]
    fn string2ll_matches_redis() {
        assert_eq!(string2ll(b"0"), Some(0));
        assert_eq!(string2ll(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(string2ll(b"9223372036854775807"), Some(i64::MAX));
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"00",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"000000000000000000001",
        ] {
            assert_eq!(string2ll(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
