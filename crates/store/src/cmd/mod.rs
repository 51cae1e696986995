//! Command implementations, one file per family. Each family declares its table rows in a `COMMANDS` slice
//! next to the functions that run them.

use bytes::Bytes;
use resp::Frame;

use crate::errors;
use crate::table::CommandSpec;

pub mod bitmap;
pub mod connection;
pub mod keys;
pub mod server;
pub mod string;

/// Every family's declarations; the table is built from these.
pub const FAMILIES: &[&[CommandSpec]] = &[
    connection::COMMANDS,
    server::COMMANDS,
    keys::COMMANDS,
    string::COMMANDS,
    bitmap::COMMANDS,
];

/// Parses an integer argument, or gives Redis' "not an integer" error.
pub fn arg_i64(b: &[u8]) -> Result<i64, Frame> {
    crate::num::parse_i64(b).ok_or(errors::NOT_INTEGER)
}

/// Parses a float argument, or gives Redis' "not a valid float" error.
pub fn arg_f64(b: &[u8]) -> Result<f64, Frame> {
    crate::num::parse_f64(b).ok_or(errors::NOT_FLOAT)
}

/// Case-insensitive comparison of an argument with an option name.
pub fn is(arg: &Bytes, name: &str) -> bool {
    arg.eq_ignore_ascii_case(name.as_bytes())
}

/// Turns a `Result` whose error is itself a reply into the reply.
pub fn reply(r: Result<Frame, Frame>) -> Frame {
    r.unwrap_or_else(|e| e)
}
