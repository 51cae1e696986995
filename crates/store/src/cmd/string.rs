//! Strings: SET, GET and the rest of Redis' string family.

use bytes::Bytes;
use resp::Frame;

use crate::cmd::reply;
use crate::errors;
use crate::exec::ExecCtx;
use crate::keyspace::{Keyspace, NO_EXPIRE};
use crate::table::{acl, flags, CommandSpec, Handler};
use crate::value::Value;

/// Table rows of this family.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(
        "get",
        2,
        flags::READONLY | flags::FAST,
        acl::STRING,
        Handler::Keyspace(get),
    )
    .keys(1, 1, 1)
    .doc("string", "1.0.0", "O(1)", "Get the value of a key"),
    CommandSpec::new(
        "set",
        -3,
        flags::WRITE | flags::DENYOOM,
        acl::STRING,
        Handler::Keyspace(set),
    )
    .keys(1, 1, 1)
    .doc("string", "1.0.0", "O(1)", "Set the string value of a key"),
];

/// The string bytes of a value, or WRONGTYPE.
pub fn string_bytes(v: &Value) -> Result<Bytes, Frame> {
    match v {
        Value::Str(s) => Ok(Bytes::copy_from_slice(s)),
        Value::Int(i) => Ok(Bytes::from(crate::num::format_i64(*i))),
        #[allow(unreachable_patterns)]
        _ => Err(errors::WRONGTYPE),
    }
}

fn get(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(match ks.read(ctx, &args[1]) {
        None => Ok(Frame::Null),
        Some(o) => string_bytes(&o.value).map(Frame::Bulk),
    })
}

fn set(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    // Minimal SET; the options (EX, PX, NX, XX, KEEPTTL, GET, ...) come with the full string family.
    if args.len() != 3 {
        return errors::SYNTAX;
    }
    ks.set(ctx, &args[1], Value::from_bytes(&args[2]), NO_EXPIRE);
    ctx.dirty += 1;
    Frame::ok()
}
