//! Redis' error replies, spelled once.

use resp::Frame;

/// `WRONGTYPE` for an operation against a key of another type.
pub const WRONGTYPE: Frame =
    Frame::error("WRONGTYPE Operation against a key holding the wrong kind of value");
/// Generic syntax error.
pub const SYNTAX: Frame = Frame::error("ERR syntax error");
/// An argument that must be an integer is not, or is out of range.
pub const NOT_INTEGER: Frame = Frame::error("ERR value is not an integer or out of range");
/// An argument that must be a float is not.
pub const NOT_FLOAT: Frame = Frame::error("ERR value is not a valid float");
/// INCR-family overflow.
pub const OVERFLOW: Frame = Frame::error("ERR increment or decrement would overflow");
/// A key that must exist does not.
pub const NO_SUCH_KEY: Frame = Frame::error("ERR no such key");
/// Negative or zero where a positive count is required... (Redis' wording).
pub const OUT_OF_RANGE: Frame = Frame::error("ERR value is out of range, must be positive");

/// `ERR wrong number of arguments for 'name' command`.
pub fn wrong_arity(name: &str) -> Frame {
    Frame::error_owned(format!(
        "ERR wrong number of arguments for '{name}' command"
    ))
}

/// `ERR unknown command 'x', with args beginning with: ...` as Redis 7 words it.
pub fn unknown_command(name: &[u8], args: &[bytes::Bytes]) -> Frame {
    let mut s = format!(
        "ERR unknown command '{}', with args beginning with: ",
        sanitize(name, 128)
    );
    for a in args.iter().take(10) {
        s.push('\'');
        s.push_str(&sanitize(a, 128 - s.len().min(128)));
        s.push_str("' ");
    }
    Frame::error_owned(s)
}

/// `ERR unknown subcommand 'x'. Try CMD HELP.`
pub fn unknown_subcommand(cmd: &str, sub: &[u8]) -> Frame {
    Frame::error_owned(format!(
        "ERR unknown subcommand '{}'. Try {} HELP.",
        sanitize(sub, 128),
        cmd.to_ascii_uppercase()
    ))
}

/// Makes client bytes safe to echo in an error line (no CR/LF), cut to `max` bytes.
pub fn sanitize(b: &[u8], max: usize) -> String {
    let b = &b[..b.len().min(max)];
    String::from_utf8_lossy(b)
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}
