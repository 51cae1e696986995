//! Strings: SET, GET and the rest of Redis' string family (t_string.c).

use std::borrow::Cow;

use bytes::Bytes;
use resp::Frame;

use crate::cmd::{arg_i64, is, reply};
use crate::errors;
use crate::exec::ExecCtx;
use crate::keyspace::{Keyspace, NO_EXPIRE};
use crate::notify::class as ev;
use crate::num::{self, LongDouble};
use crate::table::{acl, flags, CommandSpec, Handler};
use crate::value::Value;

/// Redis' default `proto-max-bulk-len`: the largest string a command may build.
pub const PROTO_MAX_BULK_LEN: u64 = 512 * 1024 * 1024;

const RO: u32 = flags::READONLY;
const W: u32 = flags::WRITE;
const DENYOOM: u32 = flags::DENYOOM;
const FAST: u32 = flags::FAST;
const S: u32 = acl::STRING;

const GETRANGE_COMPLEXITY: &str = "O(N) where N is the length of the returned string. The complexity is ultimately \
determined by the returned length, but because creating a substring from an existing string is very cheap, it can \
be considered O(1) for small strings.";

/// Table rows of this family.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", 2, RO | FAST, S, Handler::Keyspace(get))
        .keys(1, 1, 1)
        .doc("string", "1.0.0", "O(1)", "Get the value of a key"),
    CommandSpec::new("set", -3, W | DENYOOM, S, Handler::Keyspace(set))
        .keys(1, 1, 1)
        .doc("string", "1.0.0", "O(1)", "Set the string value of a key"),
    CommandSpec::new("getset", 3, W | DENYOOM | FAST, S, Handler::Keyspace(getset))
        .keys(1, 1, 1)
        .doc(
            "string",
            "1.0.0",
            "O(1)",
            "Set the string value of a key and return its old value",
        ),
    CommandSpec::new("getdel", 2, W | FAST, S, Handler::Keyspace(getdel))
        .keys(1, 1, 1)
        .doc(
            "string",
            "6.2.0",
            "O(1)",
            "Get the value of a key and delete the key",
        ),
    CommandSpec::new("getex", -2, W | FAST, S, Handler::Keyspace(getex))
        .keys(1, 1, 1)
        .doc(
            "string",
            "6.2.0",
            "O(1)",
            "Get the value of a key and optionally set its expiration",
        ),
    CommandSpec::new("setnx", 3, W | DENYOOM | FAST, S, Handler::Keyspace(setnx))
        .keys(1, 1, 1)
        .doc(
            "string",
            "1.0.0",
            "O(1)",
            "Set the value of a key, only if the key does not exist",
        ),
    CommandSpec::new("setex", 4, W | DENYOOM, S, Handler::Keyspace(setex))
        .keys(1, 1, 1)
        .doc(
            "string",
            "2.0.0",
            "O(1)",
            "Set the value and expiration of a key",
        ),
    CommandSpec::new("psetex", 4, W | DENYOOM, S, Handler::Keyspace(psetex))
        .keys(1, 1, 1)
        .doc(
            "string",
            "2.6.0",
            "O(1)",
            "Set the value and expiration in milliseconds of a key",
        ),
    CommandSpec::new("mset", -3, W | DENYOOM, S, Handler::Keyspace(mset))
        .keys(1, -1, 2)
        .doc(
            "string",
            "1.0.1",
            "O(N) where N is the number of keys to set.",
            "Set multiple keys to multiple values",
        ),
    CommandSpec::new("msetnx", -3, W | DENYOOM, S, Handler::Keyspace(msetnx))
        .keys(1, -1, 2)
        .doc(
            "string",
            "1.0.1",
            "O(N) where N is the number of keys to set.",
            "Set multiple keys to multiple values, only if none of the keys exist",
        ),
    CommandSpec::new("mget", -2, RO | FAST, S, Handler::Keyspace(mget))
        .keys(1, -1, 1)
        .doc(
            "string",
            "1.0.0",
            "O(N) where N is the number of keys to retrieve.",
            "Get the values of all the given keys",
        ),
    CommandSpec::new("append", 3, W | DENYOOM | FAST, S, Handler::Keyspace(append))
        .keys(1, 1, 1)
        .doc(
            "string",
            "2.0.0",
            "O(1). The amortized time complexity is O(1) assuming the appended value is small and the \
             already present value is of any size, since the dynamic string library used by Redis will \
             double the free space available on every reallocation.",
            "Append a value to a key",
        ),
    CommandSpec::new("strlen", 2, RO | FAST, S, Handler::Keyspace(strlen))
        .keys(1, 1, 1)
        .doc(
            "string",
            "2.2.0",
            "O(1)",
            "Get the length of the value stored in a key",
        ),
    CommandSpec::new("getrange", 4, RO, S, Handler::Keyspace(getrange))
        .keys(1, 1, 1)
        .doc(
            "string",
            "2.4.0",
            GETRANGE_COMPLEXITY,
            "Get a substring of the string stored at a key",
        ),
    CommandSpec::new("substr", 4, RO, S, Handler::Keyspace(getrange))
        .keys(1, 1, 1)
        .doc(
            "string",
            "1.0.0",
            GETRANGE_COMPLEXITY,
            "Get a substring of the string stored at a key",
        ),
    CommandSpec::new("setrange", 4, W | DENYOOM, S, Handler::Keyspace(setrange))
        .keys(1, 1, 1)
        .doc(
            "string",
            "2.2.0",
            "O(1), not counting the time taken to copy the new string in place. Usually, this string is \
             very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the \
             length of the value argument.",
            "Overwrite part of a string at key starting at the specified offset",
        ),
    CommandSpec::new("incr", 2, W | DENYOOM | FAST, S, Handler::Keyspace(incr))
        .keys(1, 1, 1)
        .doc(
            "string",
            "1.0.0",
            "O(1)",
            "Increment the integer value of a key by one",
        ),
    CommandSpec::new("decr", 2, W | DENYOOM | FAST, S, Handler::Keyspace(decr))
        .keys(1, 1, 1)
        .doc(
            "string",
            "1.0.0",
            "O(1)",
            "Decrement the integer value of a key by one",
        ),
    CommandSpec::new("incrby", 3, W | DENYOOM | FAST, S, Handler::Keyspace(incrby))
        .keys(1, 1, 1)
        .doc(
            "string",
            "1.0.0",
            "O(1)",
            "Increment the integer value of a key by the given amount",
        ),
    CommandSpec::new("decrby", 3, W | DENYOOM | FAST, S, Handler::Keyspace(decrby))
        .keys(1, 1, 1)
        .doc(
            "string",
            "1.0.0",
            "O(1)",
            "Decrement the integer value of a key by the given number",
        ),
    CommandSpec::new(
        "incrbyfloat",
        3,
        W | DENYOOM | FAST,
        S,
        Handler::Keyspace(incrbyfloat),
    )
    .keys(1, 1, 1)
    .doc(
        "string",
        "2.6.0",
        "O(1)",
        "Increment the float value of a key by the given amount",
    ),
    CommandSpec::new("lcs", -3, RO, S, Handler::Keyspace(lcs))
        .keys(1, 2, 1)
        .doc(
            "string",
            "7.0.0",
            "O(N*M) where N and M are the lengths of s1 and s2, respectively",
            "Find longest common substring",
        ),
];

/// The string bytes of a value, or WRONGTYPE.
pub fn string_bytes(v: &Value) -> Result<Bytes, Frame> {
    view(v).map(|b| Bytes::copy_from_slice(&b))
}

/// A string value's bytes (an integer's decimal text), or WRONGTYPE for other types.
fn view(v: &Value) -> Result<Cow<'_, [u8]>, Frame> {
    match v {
        Value::Str(s) => Ok(Cow::Borrowed(s)),
        Value::Int(i) => Ok(Cow::Owned(num::format_i64(*i))),
        #[allow(unreachable_patterns)]
        _ => Err(errors::WRONGTYPE),
    }
}

/// Length of a string value, or WRONGTYPE.
fn str_len(v: &Value) -> Result<usize, Frame> {
    match v {
        Value::Str(s) => Ok(s.len()),
        Value::Int(i) => Ok(itoa::Buffer::new().format(*i).len()),
        #[allow(unreachable_patterns)]
        _ => Err(errors::WRONGTYPE),
    }
}

/// The bytes of a string value for editing in place: an integer becomes its text (Redis' `raw` encoding
/// after APPEND/SETRANGE). WRONGTYPE for other types.
fn raw_mut(v: &mut Value) -> Result<&mut Vec<u8>, Frame> {
    if let Value::Int(i) = *v {
        *v = Value::Str(num::format_i64(i));
    }
    match v {
        Value::Str(s) => Ok(s),
        #[allow(unreachable_patterns)]
        _ => Err(errors::WRONGTYPE),
    }
}

/// Redis' `checkStringLength`: refuses results longer than proto-max-bulk-len.
fn check_string_length(size: usize, append: usize, limit: u64) -> Result<(), Frame> {
    if (size as u64).saturating_add(append as u64) > limit {
        return Err(Frame::error(
            "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
        ));
    }
    Ok(())
}

fn get(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(read_string(ks, ctx, &args[1]).map(|v| v.map_or(Frame::Null, Frame::Bulk)))
}

/// Redis' `getGenericCommand` lookup: the string under `key` (counting a hit or miss), `None` if absent,
/// WRONGTYPE for another type.
fn read_string(ks: &mut Keyspace, ctx: &ExecCtx, key: &[u8]) -> Result<Option<Bytes>, Frame> {
    match ks.read(ctx, key) {
        None => Ok(None),
        Some(o) => string_bytes(&o.value).map(Some),
    }
}

/// How an expiry argument is expressed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ExpireKind {
    /// `EX`: seconds from now.
    Ex,
    /// `PX`: milliseconds from now.
    Px,
    /// `EXAT`: Unix time in seconds.
    ExAt,
    /// `PXAT`: Unix time in milliseconds.
    PxAt,
}

/// Options shared by SET and GETEX, as `parseExtendedStringArgumentsOrReply` accepts them.
#[derive(Default, Debug)]
struct ExtOptions<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    expire: Option<(ExpireKind, &'a [u8])>,
}

/// Parses SET (`for_set`) or GETEX options starting at `args[first]`. Each invalid combination, unknown
/// option or missing value is `ERR syntax error`, exactly where Redis refuses it.
fn parse_ext_options(args: &[Bytes], first: usize, for_set: bool) -> Result<ExtOptions<'_>, Frame> {
    let mut o = ExtOptions::default();
    let mut j = first;
    while j < args.len() {
        let opt = &args[j];
        let next = args.get(j + 1);
        let has_expire =
            |o: &ExtOptions, except: ExpireKind| matches!(o.expire, Some((k, _)) if k != except);
        if for_set && is(opt, "nx") && !o.xx {
            o.nx = true;
        } else if for_set && is(opt, "xx") && !o.nx {
            o.xx = true;
        } else if for_set && is(opt, "get") {
            o.get = true;
        } else if for_set && is(opt, "keepttl") && !o.persist && o.expire.is_none() {
            o.keepttl = true;
        } else if !for_set && is(opt, "persist") && o.expire.is_none() && !o.keepttl {
            o.persist = true;
        } else if let (Some(kind), Some(value)) = (expire_kind(opt), next) {
            // The same unit may repeat (the last value wins); mixing units is an error.
            if o.keepttl || o.persist || has_expire(&o, kind) {
                return Err(errors::SYNTAX);
            }
            o.expire = Some((kind, value));
            j += 1;
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    Ok(o)
}

fn expire_kind(opt: &Bytes) -> Option<ExpireKind> {
    [
        ("ex", ExpireKind::Ex),
        ("px", ExpireKind::Px),
        ("exat", ExpireKind::ExAt),
        ("pxat", ExpireKind::PxAt),
    ]
    .into_iter()
    .find(|(name, _)| is(opt, name))
    .map(|(_, k)| k)
}

/// The absolute deadline in ms for an expiry argument, as `getExpireMillisecondsOrReply` computes it:
/// zero or negative values and overflows are `ERR invalid expire time in '<cmd>' command`.
fn expire_at_ms(ctx: &ExecCtx, kind: ExpireKind, arg: &[u8], cmd: &str) -> Result<i64, Frame> {
    let v = arg_i64(arg)?;
    let invalid = || Frame::error_owned(format!("ERR invalid expire time in '{cmd}' command"));
    let seconds = matches!(kind, ExpireKind::Ex | ExpireKind::ExAt);
    if v <= 0 || (seconds && v > i64::MAX / 1000) {
        return Err(invalid());
    }
    let ms = if seconds { v * 1000 } else { v };
    let ms = match kind {
        ExpireKind::Ex | ExpireKind::Px => ms.checked_add(ctx.now_ms).ok_or_else(invalid)?,
        ExpireKind::ExAt | ExpireKind::PxAt => ms,
    };
    if ms <= 0 {
        return Err(invalid());
    }
    Ok(ms)
}

/// Reply for a SET-like command when it sets or aborts.
struct SetReplies {
    ok: Frame,
    abort: Frame,
}

/// Redis' `setGenericCommand`: the common core of SET, SETNX, SETEX and PSETEX.
fn set_generic(
    ks: &mut Keyspace,
    ctx: &mut ExecCtx,
    key: &Bytes,
    value: &Bytes,
    opts: &ExtOptions,
    cmd: &str,
    replies: SetReplies,
) -> Result<Frame, Frame> {
    let deadline = match opts.expire {
        Some((kind, arg)) => Some(expire_at_ms(ctx, kind, arg, cmd)?),
        None => None,
    };
    let old = if opts.get {
        Some(read_string(ks, ctx, key)?)
    } else {
        None
    };
    let found = ks.lookup(ctx, key).is_some();
    if (opts.nx && found) || (opts.xx && !found) {
        return Ok(match old {
            Some(old) => old.map_or(Frame::Null, Frame::Bulk),
            None => replies.abort,
        });
    }
    let v = Value::from_bytes(value);
    if opts.keepttl {
        ks.set_keep_ttl(ctx, key, v);
    } else {
        ks.set(ctx, key, v, deadline.unwrap_or(NO_EXPIRE));
    }
    ks.notify(ev::STRING, "set", key);
    if deadline.is_some() {
        ks.notify(ev::GENERIC, "expire", key);
    }
    ctx.dirty += 1;
    Ok(match old {
        Some(old) => old.map_or(Frame::Null, Frame::Bulk),
        None => replies.ok,
    })
}

const SET_REPLIES: SetReplies = SetReplies {
    ok: Frame::ok(),
    abort: Frame::Null,
};

fn set(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(
        parse_ext_options(args, 3, true)
            .and_then(|opts| set_generic(ks, ctx, &args[1], &args[2], &opts, "set", SET_REPLIES)),
    )
}

fn setnx(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let opts = ExtOptions {
        nx: true,
        ..Default::default()
    };
    let replies = SetReplies {
        ok: Frame::Integer(1),
        abort: Frame::Integer(0),
    };
    reply(set_generic(
        ks, ctx, &args[1], &args[2], &opts, "setnx", replies,
    ))
}

fn setex(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let opts = ExtOptions {
        expire: Some((ExpireKind::Ex, &args[2])),
        ..Default::default()
    };
    reply(set_generic(
        ks,
        ctx,
        &args[1],
        &args[3],
        &opts,
        "setex",
        SET_REPLIES,
    ))
}

fn psetex(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let opts = ExtOptions {
        expire: Some((ExpireKind::Px, &args[2])),
        ..Default::default()
    };
    reply(set_generic(
        ks,
        ctx,
        &args[1],
        &args[3],
        &opts,
        "psetex",
        SET_REPLIES,
    ))
}

fn getset(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(read_string(ks, ctx, &args[1]).map(|old| {
        ks.set(ctx, &args[1], Value::from_bytes(&args[2]), NO_EXPIRE);
        ks.notify(ev::STRING, "set", &args[1]);
        ctx.dirty += 1;
        old.map_or(Frame::Null, Frame::Bulk)
    }))
}

fn getdel(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(read_string(ks, ctx, &args[1]).map(|old| match old {
        None => Frame::Null,
        Some(v) => {
            ks.remove(&args[1]);
            ks.notify(ev::GENERIC, "del", &args[1]);
            ctx.dirty += 1;
            Frame::Bulk(v)
        }
    }))
}

fn getex(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(getex_inner(ks, ctx, args))
}

fn getex_inner(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Result<Frame, Frame> {
    let opts = parse_ext_options(args, 2, false)?;
    let key = &args[1];
    let Some(value) = read_string(ks, ctx, key)? else {
        return Ok(Frame::Null);
    };
    // The expiry is validated only once the key is known to hold a string, as Redis does.
    let deadline = match opts.expire {
        Some((kind, arg)) => Some((kind, expire_at_ms(ctx, kind, arg, "getex")?)),
        None => None,
    };
    match deadline {
        Some((ExpireKind::ExAt | ExpireKind::PxAt, at)) if at <= ctx.now_ms => {
            ks.remove(key);
            ks.notify(ev::GENERIC, "del", key);
            ctx.dirty += 1;
        }
        Some((_, at)) => {
            ks.set_expire(ctx, key, at);
            ks.notify(ev::GENERIC, "expire", key);
            ctx.dirty += 1;
        }
        None if opts.persist && ks.persist(ctx, key) => {
            ks.notify(ev::GENERIC, "persist", key);
            ctx.dirty += 1;
        }
        None => {}
    }
    Ok(Frame::Bulk(value))
}

fn mset(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    mset_generic(ks, ctx, args, false)
}

fn msetnx(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    mset_generic(ks, ctx, args, true)
}

fn mset_generic(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes], nx: bool) -> Frame {
    if args.len().is_multiple_of(2) {
        return errors::wrong_arity(if nx { "msetnx" } else { "mset" });
    }
    if nx
        && args[1..]
            .chunks(2)
            .any(|kv| ks.lookup(ctx, &kv[0]).is_some())
    {
        return Frame::Integer(0);
    }
    for kv in args[1..].chunks(2) {
        ks.set(ctx, &kv[0], Value::from_bytes(&kv[1]), NO_EXPIRE);
        ks.notify(ev::STRING, "set", &kv[0]);
    }
    ctx.dirty += (args.len() / 2) as u64;
    if nx {
        Frame::Integer(1)
    } else {
        Frame::ok()
    }
}

fn mget(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    Frame::Array(
        args[1..]
            .iter()
            .map(|k| match ks.read(ctx, k).map(|o| string_bytes(&o.value)) {
                Some(Ok(b)) => Frame::Bulk(b),
                _ => Frame::Null,
            })
            .collect(),
    )
}

fn append(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let limit = ks.config.proto_max_bulk_len;
    let (key, tail) = (&args[1], &args[2]);
    let len = match ks.lookup(ctx, key) {
        None => {
            ks.set(ctx, key, Value::from_bytes(tail), NO_EXPIRE);
            tail.len()
        }
        Some(o) => {
            let cur = match str_len(&o.value) {
                Ok(n) => n,
                Err(e) => return e,
            };
            if let Err(e) = check_string_length(cur, tail.len(), limit) {
                return e;
            }
            match raw_mut(&mut o.value) {
                Ok(s) => {
                    s.extend_from_slice(tail);
                    s.len()
                }
                Err(e) => return e,
            }
        }
    };
    ks.notify(ev::STRING, "append", key);
    ctx.dirty += 1;
    Frame::Integer(len as i64)
}

fn strlen(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    match ks.read(ctx, &args[1]) {
        None => Frame::Integer(0),
        Some(o) => reply(str_len(&o.value).map(|n| Frame::Integer(n as i64))),
    }
}

fn getrange(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(getrange_inner(ks, ctx, args))
}

fn getrange_inner(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Result<Frame, Frame> {
    let mut start = arg_i64(&args[2])?;
    let mut end = arg_i64(&args[3])?;
    let empty = Frame::bulk_static("");
    let Some(o) = ks.read(ctx, &args[1]) else {
        return Ok(empty);
    };
    let s = view(&o.value)?;
    let len = s.len() as i64;
    if start < 0 && end < 0 && start > end {
        return Ok(empty);
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        return Ok(empty);
    }
    Ok(Frame::bulk(&s[start as usize..=end as usize]))
}

fn setrange(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(setrange_inner(ks, ctx, args))
}

fn setrange_inner(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Result<Frame, Frame> {
    let limit = ks.config.proto_max_bulk_len;
    let (key, patch) = (&args[1], &args[3]);
    let offset = arg_i64(&args[2])?;
    if offset < 0 {
        return Err(Frame::error("ERR offset is out of range"));
    }
    let Some(o) = ks.lookup(ctx, key) else {
        if patch.is_empty() {
            return Ok(Frame::Integer(0));
        }
        let offset = usize::try_from(offset).unwrap_or(usize::MAX);
        check_string_length(offset, patch.len(), limit)?;
        // Bounded by proto-max-bulk-len just above.
        let mut s = vec![0u8; offset + patch.len()];
        s[offset..].copy_from_slice(patch);
        let len = s.len();
        ks.set(ctx, key, Value::Str(s), NO_EXPIRE);
        ks.notify(ev::STRING, "setrange", key);
        ctx.dirty += 1;
        return Ok(Frame::Integer(len as i64));
    };
    let cur = str_len(&o.value)?;
    if patch.is_empty() {
        return Ok(Frame::Integer(cur as i64));
    }
    let offset = usize::try_from(offset).unwrap_or(usize::MAX);
    check_string_length(offset, patch.len(), limit)?;
    let s = raw_mut(&mut o.value)?;
    let end = offset + patch.len();
    if s.len() < end {
        s.resize(end, 0);
    }
    s[offset..end].copy_from_slice(patch);
    let len = s.len();
    ks.notify(ev::STRING, "setrange", key);
    ctx.dirty += 1;
    Ok(Frame::Integer(len as i64))
}

fn incr(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(incr_decr(ks, ctx, &args[1], 1))
}

fn decr(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(incr_decr(ks, ctx, &args[1], -1))
}

fn incrby(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(arg_i64(&args[2]).and_then(|by| incr_decr(ks, ctx, &args[1], by)))
}

fn decrby(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(arg_i64(&args[2]).and_then(|by| {
        if by == i64::MIN {
            return Err(Frame::error("ERR decrement would overflow"));
        }
        incr_decr(ks, ctx, &args[1], -by)
    }))
}

/// Redis' `incrDecrCommand`: adds `by` to the integer under `key` (absent is 0), keeping its TTL. An
/// integer-encoded value is updated in place.
fn incr_decr(ks: &mut Keyspace, ctx: &mut ExecCtx, key: &[u8], by: i64) -> Result<Frame, Frame> {
    let new = match ks.lookup(ctx, key) {
        Some(o) => {
            let cur = match &o.value {
                Value::Int(i) => *i,
                Value::Str(s) => num::parse_i64(s).ok_or(errors::NOT_INTEGER)?,
                #[allow(unreachable_patterns)]
                _ => return Err(errors::WRONGTYPE),
            };
            let new = cur.checked_add(by).ok_or(errors::OVERFLOW)?;
            o.value = Value::Int(new);
            new
        }
        None => {
            ks.set(ctx, key, Value::Int(by), NO_EXPIRE);
            by
        }
    };
    ks.notify(ev::STRING, "incrby", key);
    ctx.dirty += 1;
    Ok(Frame::Integer(new))
}

fn incrbyfloat(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(incrbyfloat_inner(ks, ctx, args))
}

fn incrbyfloat_inner(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Result<Frame, Frame> {
    let key = &args[1];
    let obj = ks.lookup(ctx, key);
    let cur = match obj.as_ref().map(|o| &o.value) {
        None => None,
        Some(Value::Int(i)) => Some(LongDouble::from_i64(*i)),
        Some(Value::Str(s)) => Some(LongDouble::parse(s).ok_or(errors::NOT_FLOAT)?),
        #[allow(unreachable_patterns)]
        Some(_) => return Err(errors::WRONGTYPE),
    };
    let text = num::incr_by_float(cur, &args[2]).map_err(|e| match e {
        num::IncrFloatError::NotFloat => errors::NOT_FLOAT,
        num::IncrFloatError::NanOrInfinity => {
            Frame::error("ERR increment would produce NaN or Infinity")
        }
    })?;
    let out = Bytes::from(text.clone());
    // Redis stores the formatted sum as a plain string (never int-encoded) and keeps the TTL.
    match obj {
        Some(o) => o.value = Value::Str(text),
        None => ks.set(ctx, key, Value::Str(text), NO_EXPIRE),
    }
    ks.notify(ev::STRING, "incrbyfloat", key);
    ctx.dirty += 1;
    Ok(Frame::Bulk(out))
}

fn lcs(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(lcs_inner(ks, ctx, args))
}

fn lcs_inner(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Result<Frame, Frame> {
    // Both lookups happen (and count) before either type is checked.
    let a = ks.read(ctx, &args[1]).map(|o| string_bytes(&o.value));
    let b = ks.read(ctx, &args[2]).map(|o| string_bytes(&o.value));
    let (a, b) = match (a, b) {
        (Some(Err(_)), _) | (_, Some(Err(_))) => {
            return Err(Frame::error(
                "ERR The specified keys must contain string values",
            ))
        }
        (a, b) => (
            a.and_then(Result::ok).unwrap_or_default(),
            b.and_then(Result::ok).unwrap_or_default(),
        ),
    };
    let (mut getlen, mut getidx, mut withmatchlen) = (false, false, false);
    let mut minmatchlen: i64 = 0;
    let mut j = 3;
    while j < args.len() {
        let opt = &args[j];
        if is(opt, "idx") {
            getidx = true;
        } else if is(opt, "len") {
            getlen = true;
        } else if is(opt, "withmatchlen") {
            withmatchlen = true;
        } else if is(opt, "minmatchlen") && j + 1 < args.len() {
            minmatchlen = arg_i64(&args[j + 1])?.max(0);
            j += 1;
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    if getlen && getidx {
        return Err(Frame::error(
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    let (alen, blen) = (a.len(), b.len());
    // Redis refuses a DP table (u32 cells) larger than proto-max-bulk-len.
    let cells = (alen as u64 + 1).saturating_mul(blen as u64 + 1);
    if cells.saturating_mul(4) > ks.config.proto_max_bulk_len {
        return Err(Frame::error(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }
    let cells = cells as usize;
    let mut table: Vec<u32> = Vec::new();
    if table.try_reserve_exact(cells).is_err() {
        return Err(Frame::error(
            "ERR Insufficient memory, failed allocating transient memory for LCS",
        ));
    }
    table.resize(cells, 0);
    let w = blen + 1;
    for i in 1..=alen {
        let (prev, cur) = table[(i - 1) * w..(i + 1) * w].split_at_mut(w);
        let ca = a[i - 1];
        for jj in 1..=blen {
            cur[jj] = if ca == b[jj - 1] {
                prev[jj - 1] + 1
            } else {
                prev[jj].max(cur[jj - 1])
            };
        }
    }
    let at = |i: usize, j: usize| table[i * w + j];
    let total = at(alen, blen);
    let compute = getidx || !getlen;
    let mut result = vec![0u8; if compute { total as usize } else { 0 }];
    let mut matches = Vec::new();

    // Walk back from the end as Redis does, so ties pick the same path and ranges come out in its order.
    let mut idx = total as usize;
    let (mut i, mut j) = (alen, blen);
    let unset = alen;
    let (mut a_start, mut a_end, mut b_start, mut b_end) = (unset, 0usize, 0usize, 0usize);
    while compute && i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[idx - 1] = a[i - 1];
            if a_start == unset {
                a_start = i - 1;
                a_end = i - 1;
                b_start = j - 1;
                b_end = j - 1;
            } else if a_start == i && b_start == j {
                a_start -= 1;
                b_start -= 1;
            } else {
                emit = true;
            }
            if a_start == 0 || b_start == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if at(i - 1, j) > at(i, j - 1) {
                i -= 1;
            } else {
                j -= 1;
            }
            if a_start != unset {
                emit = true;
            }
        }
        if emit {
            let match_len = a_end.wrapping_sub(a_start).wrapping_add(1) as i64;
            if getidx && (minmatchlen == 0 || match_len >= minmatchlen) {
                let mut m = vec![
                    Frame::Array(vec![
                        Frame::Integer(a_start as i64),
                        Frame::Integer(a_end as i64),
                    ]),
                    Frame::Array(vec![
                        Frame::Integer(b_start as i64),
                        Frame::Integer(b_end as i64),
                    ]),
                ];
                if withmatchlen {
                    m.push(Frame::Integer(match_len));
                }
                matches.push(Frame::Array(m));
            }
            a_start = unset;
        }
    }
    Ok(if getidx {
        Frame::Map(vec![
            (Frame::bulk_static("matches"), Frame::Array(matches)),
            (Frame::bulk_static("len"), Frame::Integer(total as i64)),
        ])
    } else if getlen {
        Frame::Integer(total as i64)
    } else {
        Frame::Bulk(Bytes::from(result))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::testing::{b, err, int};
    use crate::cmd::testing::{run, run_dirty};
    use crate::table::KeySpec;

    /// A fixed "now" for the tests (Unix ms).
    const T0: i64 = 1_700_000_000_000;

    fn deadline(ks: &Keyspace, now: i64, key: &str) -> Option<i64> {
        ks.peek(now, key.as_bytes()).map(|o| o.expire_at)
    }

    fn value(ks: &Keyspace, key: &str) -> Option<Value> {
        ks.peek(T0, key.as_bytes()).map(|o| o.value.clone())
    }

    const SYNTAX: &str = "ERR syntax error";
    const NOT_INT: &str = "ERR value is not an integer or out of range";
    const NOT_FLOAT: &str = "ERR value is not a valid float";

    #[test]
    fn table_rows_follow_redis_json() {
        use flags::*;
        /// Name, arity, flags and legacy (first, last, step) key positions.
        type Row = (&'static str, i32, u32, (i32, i32, i32));
        let rows: &[Row] = &[
            ("get", 2, READONLY | FAST, (1, 1, 1)),
            ("set", -3, WRITE | DENYOOM, (1, 1, 1)),
            ("getset", 3, WRITE | DENYOOM | FAST, (1, 1, 1)),
            ("getdel", 2, WRITE | FAST, (1, 1, 1)),
            ("getex", -2, WRITE | FAST, (1, 1, 1)),
            ("setnx", 3, WRITE | DENYOOM | FAST, (1, 1, 1)),
            ("setex", 4, WRITE | DENYOOM, (1, 1, 1)),
            ("psetex", 4, WRITE | DENYOOM, (1, 1, 1)),
            ("mset", -3, WRITE | DENYOOM, (1, -1, 2)),
            ("msetnx", -3, WRITE | DENYOOM, (1, -1, 2)),
            ("mget", -2, READONLY | FAST, (1, -1, 1)),
            ("append", 3, WRITE | DENYOOM | FAST, (1, 1, 1)),
            ("strlen", 2, READONLY | FAST, (1, 1, 1)),
            ("getrange", 4, READONLY, (1, 1, 1)),
            ("substr", 4, READONLY, (1, 1, 1)),
            ("setrange", 4, WRITE | DENYOOM, (1, 1, 1)),
            ("incr", 2, WRITE | DENYOOM | FAST, (1, 1, 1)),
            ("decr", 2, WRITE | DENYOOM | FAST, (1, 1, 1)),
            ("incrby", 3, WRITE | DENYOOM | FAST, (1, 1, 1)),
            ("decrby", 3, WRITE | DENYOOM | FAST, (1, 1, 1)),
            ("incrbyfloat", 3, WRITE | DENYOOM | FAST, (1, 1, 1)),
            ("lcs", -3, READONLY, (1, 2, 1)),
        ];
        assert_eq!(COMMANDS.len(), rows.len());
        for &(name, arity, fl, (first, last, step)) in rows {
            let spec = crate::table::lookup(name.to_uppercase().as_bytes()).unwrap();
            assert_eq!(spec.name, name);
            assert_eq!(spec.arity, arity, "{name}");
            assert_eq!(spec.flags, fl, "{name}");
            assert_eq!(spec.doc.group, "string", "{name}");
            assert!(!spec.doc.summary.is_empty(), "{name}");
            let cats = spec.acl_categories();
            assert_ne!(cats & acl::STRING, 0, "{name}");
            assert_eq!(cats & acl::FAST != 0, fl & FAST != 0, "{name}");
            assert_eq!(cats & acl::SLOW != 0, fl & FAST == 0, "{name}");
            match spec.keys {
                KeySpec::Range {
                    first: f,
                    last: l,
                    step: s,
                } => assert_eq!((f, l, s), (first, last, step), "{name}"),
                other => panic!("{name}: {other:?}"),
            }
        }
        let args: Vec<Bytes> = ["mset", "a", "1", "b", "2"]
            .iter()
            .map(|s| Bytes::from_static(s.as_bytes()))
            .collect();
        let mset = crate::table::lookup(b"mset").unwrap();
        assert_eq!(mset.key_positions(&args).unwrap(), vec![1, 3]);
        let lcs = crate::table::lookup(b"lcs").unwrap();
        assert_eq!(lcs.key_positions(&args).unwrap(), vec![1, 2]);
    }

    #[test]
    fn arity_errors() {
        let mut ks = Keyspace::new();
        for (args, name) in [
            (&["GET"][..], "get"),
            (&["SET", "k"], "set"),
            (&["GETSET", "k"], "getset"),
            (&["SETEX", "k", "1"], "setex"),
            (&["MGET"], "mget"),
            (&["LCS", "a"], "lcs"),
            (&["INCRBYFLOAT", "k"], "incrbyfloat"),
        ] {
            assert_eq!(run(&mut ks, T0, args), errors::wrong_arity(name));
        }
        // MSET/MSETNX need pairs: Redis checks that in the command, with the same message.
        assert_eq!(
            run(&mut ks, T0, &["MSET", "a", "1", "b"]),
            err("ERR wrong number of arguments for 'mset' command")
        );
        assert_eq!(
            run(&mut ks, T0, &["MSETNX", "a", "1", "b"]),
            err("ERR wrong number of arguments for 'msetnx' command")
        );
        assert!(ks.is_empty());
    }

    #[test]
    fn set_and_get() {
        let mut ks = Keyspace::new();
        assert_eq!(run(&mut ks, T0, &["GET", "k"]), Frame::Null);
        assert_eq!(run(&mut ks, T0, &["SET", "k", "v"]), Frame::ok());
        assert_eq!(run(&mut ks, T0, &["get", "k"]), b("v"));
        assert_eq!(run(&mut ks, T0, &["SET", "k", "12345"]), Frame::ok());
        assert_eq!(value(&ks, "k"), Some(Value::Int(12345)));
        assert_eq!(run(&mut ks, T0, &["GET", "k"]), b("12345"));
        assert_eq!(run(&mut ks, T0, &["SET", "k", "012"]), Frame::ok());
        assert_eq!(value(&ks, "k"), Some(Value::Str(b"012".to_vec())));
        assert_eq!(run(&mut ks, T0, &["SET", "e", ""]), Frame::ok());
        assert_eq!(run(&mut ks, T0, &["GET", "e"]), b(""));
    }

    #[test]
    fn set_nx_xx() {
        let mut ks = Keyspace::new();
        assert_eq!(run(&mut ks, T0, &["SET", "k", "v", "XX"]), Frame::Null);
        assert_eq!(run(&mut ks, T0, &["GET", "k"]), Frame::Null);
        assert_eq!(run(&mut ks, T0, &["SET", "k", "v", "nx"]), Frame::ok());
        assert_eq!(run(&mut ks, T0, &["SET", "k", "w", "NX"]), Frame::Null);
        assert_eq!(run(&mut ks, T0, &["GET", "k"]), b("v"));
        assert_eq!(run(&mut ks, T0, &["SET", "k", "w", "xx"]), Frame::ok());
        assert_eq!(run(&mut ks, T0, &["GET", "k"]), b("w"));
        // Repeating the same flag is accepted.
        assert_eq!(
            run(&mut ks, T0, &["SET", "k", "x", "XX", "XX"]),
            Frame::ok()
        );
        // A key past its deadline counts as absent.
        run(&mut ks, T0, &["SET", "t", "v", "PX", "10"]);
        assert_eq!(
            run(&mut ks, T0 + 11, &["SET", "t", "new", "NX"]),
            Frame::ok()
        );
        assert_eq!(run(&mut ks, T0 + 11, &["GET", "t"]), b("new"));
        assert_eq!(deadline(&ks, T0 + 11, "t"), Some(NO_EXPIRE));
    }

    #[test]
    fn set_option_syntax_errors() {
        let mut ks = Keyspace::new();
        run(&mut ks, T0, &["SET", "k", "orig"]);
        for opts in [
            &["NX", "XX"][..],
            &["XX", "NX"],
            &["EX", "10", "PX", "100"],
            &["PX", "100", "EX", "10"],
            &["EX", "10", "EXAT", "10"],
            &["EXAT", "10", "PXAT", "10"],
            &["PXAT", "10", "PX", "10"],
            &["EX", "10", "KEEPTTL"],
            &["KEEPTTL", "EX", "10"],
            &["KEEPTTL", "PXAT", "10"],
            &["EX"],
            &["PX"],
            &["EXAT"],
            &["PXAT"],
            &["PERSIST"],
            &["FOO"],
            &["NXX"],
            &["GETT"],
            &["EX", "10", "FOO"],
        ] {
            let mut args = vec!["SET", "k", "v"];
            args.extend_from_slice(opts);
            assert_eq!(run(&mut ks, T0, &args), err(SYNTAX), "{opts:?}");
        }
        assert_eq!(run(&mut ks, T0, &["GET", "k"]), b("orig"));
    }

    #[test]
    fn set_expire_options_and_timing() {
        let mut ks = Keyspace::new();
        assert_eq!(
            run(&mut ks, T0, &["SET", "ex", "v", "EX", "10"]),
            Frame::ok()
        );
        assert_eq!(deadline(&ks, T0, "ex"), Some(T0 + 10_000));
        assert_eq!(run(&mut ks, T0 + 9_999, &["GET", "ex"]), b("v"));
        assert_eq!(run(&mut ks, T0 + 10_001, &["GET", "ex"]), Frame::Null);

        run(&mut ks, T0, &["SET", "px", "v", "px", "1500"]);
        assert_eq!(deadline(&ks, T0, "px"), Some(T0 + 1_500));
        let secs = (T0 / 1000 + 5).to_string();
        run(&mut ks, T0, &["SET", "exat", "v", "exat", &secs]);
        assert_eq!(deadline(&ks, T0, "exat"), Some((T0 / 1000 + 5) * 1000));
        let ms = (T0 + 123).to_string();
        run(&mut ks, T0, &["SET", "pxat", "v", "PXAT", &ms]);
        assert_eq!(deadline(&ks, T0, "pxat"), Some(T0 + 123));
        assert_eq!(run(&mut ks, T0 + 122, &["GET", "pxat"]), b("v"));
        assert_eq!(run(&mut ks, T0 + 124, &["GET", "pxat"]), Frame::Null);

        // The same unit given twice: the last value wins.
        run(&mut ks, T0, &["SET", "twice", "v", "EX", "10", "EX", "20"]);
        assert_eq!(deadline(&ks, T0, "twice"), Some(T0 + 20_000));

        // An absolute time in the past is accepted; the key is then already expired.
        assert_eq!(
            run(&mut ks, T0, &["SET", "past", "v", "EXAT", "1"]),
            Frame::ok()
        );
        assert_eq!(run(&mut ks, T0, &["GET", "past"]), Frame::Null);
        assert_eq!(
            run(&mut ks, T0, &["SET", "past", "v", "PXAT", "1000"]),
            Frame::ok()
        );
        assert_eq!(run(&mut ks, T0, &["GET", "past"]), Frame::Null);

        // A plain SET drops the TTL, KEEPTTL keeps it.
        run(&mut ks, T0, &["SET", "k", "v", "EX", "100"]);
        assert_eq!(
            run(&mut ks, T0, &["SET", "k", "v2", "KEEPTTL"]),
            Frame::ok()
        );
        assert_eq!(deadline(&ks, T0, "k"), Some(T0 + 100_000));
        assert_eq!(run(&mut ks, T0, &["GET", "k"]), b("v2"));
        run(&mut ks, T0, &["SET", "k", "v3", "keepttl", "KEEPTTL"]);
        assert_eq!(deadline(&ks, T0, "k"), Some(T0 + 100_000));
        run(&mut ks, T0, &["SET", "k", "v4"]);
        assert_eq!(deadline(&ks, T0, "k"), Some(NO_EXPIRE));
        run(&mut ks, T0, &["SET", "new", "v", "KEEPTTL"]);
        assert_eq!(deadline(&ks, T0, "new"), Some(NO_EXPIRE));
    }

    #[test]
    fn set_invalid_expire_times() {
        let mut ks = Keyspace::new();
        let invalid = err("ERR invalid expire time in 'set' command");
        for (unit, v) in [
            ("EX", "0"),
            ("EX", "-1"),
            ("PX", "0"),
            ("PX", "-100"),
            ("EXAT", "0"),
            ("PXAT", "-5"),
            // Seconds that overflow once turned into milliseconds.
            ("EX", "9223372036854776"),
            ("EXAT", "9223372036854776"),
            // Relative times that overflow once added to now.
            ("EX", "9223372036854775"),
            ("PX", "9223372036854775807"),
        ] {
            assert_eq!(
                run(&mut ks, T0, &["SET", "k", "v", unit, v]),
                invalid,
                "{unit} {v}"
            );
        }
        assert_eq!(
            run(&mut ks, T0, &["SET", "k", "v", "EX", "abc"]),
            err(NOT_INT)
        );
        assert_eq!(
            run(&mut ks, T0, &["SET", "k", "v", "PX", "1.5"]),
            err(NOT_INT)
        );
        assert!(ks.is_empty());
        // The largest absolute times are fine.
        assert_eq!(
            run(
                &mut ks,
                T0,
                &["SET", "k", "v", "PXAT", "9223372036854775807"]
            ),
            Frame::ok()
        );
        assert_eq!(
            run(&mut ks, T0, &["SET", "k", "v", "EXAT", "9223372036854775"]),
            Frame::ok()
        );
        assert_eq!(deadline(&ks, T0, "k"), Some(9_223_372_036_854_775_000));
    }

    #[test]
    fn set_get_option() {
        let mut ks = Keyspace::new();
        assert_eq!(run(&mut ks, T0, &["SET", "k", "a", "GET"]), Frame::Null);
        assert_eq!(run(&mut ks, T0, &["SET", "k", "b", "GET"]), b("a"));
        assert_eq!(run(&mut ks, T0, &["SET", "k", "c", "get", "GET"]), b("b"));
        assert_eq!(run(&mut ks, T0, &["GET", "k"]), b("c"));
        // NX + GET on an existing key: old value, nothing set.
        assert_eq!(run(&mut ks, T0, &["SET", "k", "d", "NX", "GET"]), b("c"));
        assert_eq!(run(&mut ks, T0, &["GET", "k"]), b("c"));
        // XX + GET on a missing key: nil, nothing set.
        assert_eq!(
            run(&mut ks, T0, &["SET", "m", "d", "XX", "GET"]),
            Frame::Null
        );
        assert_eq!(run(&mut ks, T0, &["GET", "m"]), Frame::Null);
        assert_eq!(
            run(&mut ks, T0, &["SET", "m", "d", "NX", "GET"]),
            Frame::Null
        );
        assert_eq!(run(&mut ks, T0, &["GET", "m"]), b("d"));
        // Integers come back as their text.
        run(&mut ks, T0, &["SET", "i", "-42"]);
        assert_eq!(run(&mut ks, T0, &["SET", "i", "x", "GET"]), b("-42"));
        // The expire time is validated before anything else.
        assert_eq!(
            run(&mut ks, T0, &["SET", "k", "v", "GET", "EX", "-1"]),
            err("ERR invalid expire time in 'set' command")
        );
        assert_eq!(
            run(&mut ks, T0, &["SET", "k", "e", "GET", "EX", "5"]),
            b("c")
        );
        assert_eq!(deadline(&ks, T0, "k"), Some(T0 + 5_000));
    }

    #[test]
    fn setnx_setex_psetex() {
        let mut ks = Keyspace::new();
        assert_eq!(run(&mut ks, T0, &["SETNX", "a", "1"]), int(1));
        assert_eq!(run(&mut ks, T0, &["SETNX", "a", "2"]), int(0));
        assert_eq!(run(&mut ks, T0, &["GET", "a"]), b("1"));

        assert_eq!(run(&mut ks, T0, &["SETEX", "b", "10", "v"]), Frame::ok());
        assert_eq!(deadline(&ks, T0, "b"), Some(T0 + 10_000));
        assert_eq!(run(&mut ks, T0 + 10_001, &["GET", "b"]), Frame::Null);
        assert_eq!(
            run(&mut ks, T0, &["SETEX", "b", "0", "v"]),
            err("ERR invalid expire time in 'setex' command")
        );
        assert_eq!(
            run(&mut ks, T0, &["SETEX", "b", "-10", "v"]),
            err("ERR invalid expire time in 'setex' command")
        );
        assert_eq!(run(&mut ks, T0, &["SETEX", "b", "x", "v"]), err(NOT_INT));

        assert_eq!(run(&mut ks, T0, &["PSETEX", "c", "1500", "v"]), Frame::ok());
        assert_eq!(deadline(&ks, T0, "c"), Some(T0 + 1_500));
        assert_eq!(run(&mut ks, T0 + 1_499, &["GET", "c"]), b("v"));
        assert_eq!(run(&mut ks, T0 + 1_501, &["GET", "c"]), Frame::Null);
        assert_eq!(
            run(&mut ks, T0, &["PSETEX", "c", "0", "v"]),
            err("ERR invalid expire time in 'psetex' command")
        );
        // SETEX replaces a TTL-less value and gives it a TTL.
        assert_eq!(run(&mut ks, T0, &["SETEX", "a", "3", "x"]), Frame::ok());
        assert_eq!(deadline(&ks, T0, "a"), Some(T0 + 3_000));
    }

    #[test]
    fn getset_and_getdel() {
        let mut ks = Keyspace::new();
        assert_eq!(run(&mut ks, T0, &["GETSET", "k", "a"]), Frame::Null);
        assert_eq!(run(&mut ks, T0, &["GETSET", "k", "b"]), b("a"));
        assert_eq!(run(&mut ks, T0, &["GET", "k"]), b("b"));
        // GETSET drops the TTL.
        run(&mut ks, T0, &["SET", "t", "v", "EX", "100"]);
        assert_eq!(run(&mut ks, T0, &["GETSET", "t", "7"]), b("v"));
        assert_eq!(deadline(&ks, T0, "t"), Some(NO_EXPIRE));
        assert_eq!(value(&ks, "t"), Some(Value::Int(7)));

        assert_eq!(run(&mut ks, T0, &["GETDEL", "k"]), b("b"));
        assert_eq!(run(&mut ks, T0, &["GETDEL", "k"]), Frame::Null);
        assert_eq!(run(&mut ks, T0, &["GET", "k"]), Frame::Null);
        assert_eq!(run(&mut ks, T0, &["GETDEL", "t"]), b("7"));
        assert!(ks.is_empty());
    }

    #[test]
    fn getex_options() {
        let mut ks = Keyspace::new();
        assert_eq!(run(&mut ks, T0, &["GETEX", "k"]), Frame::Null);
        // On a missing key the expire time is never looked at.
        assert_eq!(run(&mut ks, T0, &["GETEX", "k", "EX", "-1"]), Frame::Null);
        assert_eq!(run(&mut ks, T0, &["GETEX", "k", "EX", "x"]), Frame::Null);
        // ... but the syntax is.
        assert_eq!(run(&mut ks, T0, &["GETEX", "k", "FOO"]), err(SYNTAX));

        run(&mut ks, T0, &["SET", "k", "v"]);
        assert_eq!(run(&mut ks, T0, &["GETEX", "k"]), b("v"));
        assert_eq!(deadline(&ks, T0, "k"), Some(NO_EXPIRE));
        assert_eq!(run(&mut ks, T0, &["GETEX", "k", "EX", "10"]), b("v"));
        assert_eq!(deadline(&ks, T0, "k"), Some(T0 + 10_000));
        assert_eq!(run(&mut ks, T0, &["GETEX", "k", "px", "500"]), b("v"));
        assert_eq!(deadline(&ks, T0, "k"), Some(T0 + 500));
        let secs = (T0 / 1000 + 60).to_string();
        assert_eq!(run(&mut ks, T0, &["GETEX", "k", "EXAT", &secs]), b("v"));
        assert_eq!(deadline(&ks, T0, "k"), Some((T0 / 1000 + 60) * 1000));
        let ms = (T0 + 77).to_string();
        assert_eq!(run(&mut ks, T0, &["GETEX", "k", "PXAT", &ms]), b("v"));
        assert_eq!(deadline(&ks, T0, "k"), Some(T0 + 77));
        assert_eq!(run(&mut ks, T0, &["GETEX", "k", "PERSIST"]), b("v"));
        assert_eq!(deadline(&ks, T0, "k"), Some(NO_EXPIRE));
        assert_eq!(
            run(&mut ks, T0, &["GETEX", "k", "PERSIST", "PERSIST"]),
            b("v")
        );

        for opts in [
            &["PERSIST", "EX", "10"][..],
            &["EX", "10", "PERSIST"],
            &["EX", "10", "PX", "10"],
            &["KEEPTTL"],
            &["NX"],
            &["XX"],
            &["GET"],
            &["EX"],
        ] {
            let mut args = vec!["GETEX", "k"];
            args.extend_from_slice(opts);
            assert_eq!(run(&mut ks, T0, &args), err(SYNTAX), "{opts:?}");
        }
        let invalid = err("ERR invalid expire time in 'getex' command");
        assert_eq!(run(&mut ks, T0, &["GETEX", "k", "EX", "0"]), invalid);
        assert_eq!(run(&mut ks, T0, &["GETEX", "k", "PXAT", "-1"]), invalid);
        assert_eq!(
            run(&mut ks, T0, &["GETEX", "k", "PX", "9223372036854775807"]),
            invalid
        );
        assert_eq!(run(&mut ks, T0, &["GETEX", "k", "EX", "1x"]), err(NOT_INT));
        assert_eq!(deadline(&ks, T0, "k"), Some(NO_EXPIRE));

        // An absolute time already past deletes the key after replying with it.
        assert_eq!(run(&mut ks, T0, &["GETEX", "k", "EXAT", "1"]), b("v"));
        assert!(ks.is_empty());
        run(&mut ks, T0, &["SET", "k", "v"]);
        let now = T0.to_string();
        assert_eq!(run(&mut ks, T0, &["GETEX", "k", "PXAT", &now]), b("v"));
        assert!(ks.is_empty());

        // A key whose TTL elapsed is gone for GETEX too.
        run(&mut ks, T0, &["SET", "k", "v", "PX", "5"]);
        assert_eq!(
            run(&mut ks, T0 + 6, &["GETEX", "k", "PERSIST"]),
            Frame::Null
        );
    }

    #[test]
    fn mset_msetnx_mget() {
        let mut ks = Keyspace::new();
        assert_eq!(run(&mut ks, T0, &["MSET", "a", "1", "b", "2"]), Frame::ok());
        assert_eq!(
            run(&mut ks, T0, &["MGET", "a", "b", "c", "a"]),
            Frame::Array(vec![b("1"), b("2"), Frame::Null, b("1")])
        );
        // The last of repeated keys wins.
        run(&mut ks, T0, &["MSET", "d", "x", "d", "y"]);
        assert_eq!(run(&mut ks, T0, &["GET", "d"]), b("y"));
        // MSET drops TTLs.
        run(&mut ks, T0, &["SET", "t", "v", "EX", "10"]);
        run(&mut ks, T0, &["MSET", "t", "w"]);
        assert_eq!(deadline(&ks, T0, "t"), Some(NO_EXPIRE));

        assert_eq!(run(&mut ks, T0, &["MSETNX", "c", "3", "a", "9"]), int(0));
        assert_eq!(run(&mut ks, T0, &["GET", "c"]), Frame::Null);
        assert_eq!(run(&mut ks, T0, &["GET", "a"]), b("1"));
        assert_eq!(run(&mut ks, T0, &["MSETNX", "c", "3", "e", "5"]), int(1));
        assert_eq!(
            run(&mut ks, T0, &["MGET", "c", "e"]),
            Frame::Array(vec![b("3"), b("5")])
        );
        // Expired keys do not block MSETNX.
        run(&mut ks, T0, &["SET", "x", "v", "PX", "1"]);
        assert_eq!(run(&mut ks, T0 + 2, &["MSETNX", "x", "new"]), int(1));
        assert_eq!(run(&mut ks, T0 + 2, &["GET", "x"]), b("new"));
    }

    #[test]
    fn append_and_strlen() {
        let mut ks = Keyspace::new();
        assert_eq!(run(&mut ks, T0, &["APPEND", "k", "hello"]), int(5));
        assert_eq!(run(&mut ks, T0, &["APPEND", "k", " world"]), int(11));
        assert_eq!(run(&mut ks, T0, &["GET", "k"]), b("hello world"));
        assert_eq!(run(&mut ks, T0, &["STRLEN", "k"]), int(11));
        assert_eq!(run(&mut ks, T0, &["APPEND", "k", ""]), int(11));
        // Appending nothing to a missing key still creates it.
        assert_eq!(run(&mut ks, T0, &["APPEND", "e", ""]), int(0));
        assert_eq!(value(&ks, "e"), Some(Value::Str(Vec::new())));
        assert_eq!(run(&mut ks, T0, &["STRLEN", "e"]), int(0));
        assert_eq!(run(&mut ks, T0, &["STRLEN", "missing"]), int(0));
        // An integer becomes a plain string once appended to.
        assert_eq!(run(&mut ks, T0, &["APPEND", "n", "12"]), int(2));
        assert_eq!(value(&ks, "n"), Some(Value::Int(12)));
        assert_eq!(run(&mut ks, T0, &["APPEND", "n", "3"]), int(3));
        assert_eq!(value(&ks, "n"), Some(Value::Str(b"123".to_vec())));
        run(&mut ks, T0, &["SET", "min", "-9223372036854775808"]);
        assert_eq!(run(&mut ks, T0, &["STRLEN", "min"]), int(20));
        // APPEND keeps the TTL.
        run(&mut ks, T0, &["SET", "t", "a", "EX", "10"]);
        assert_eq!(run(&mut ks, T0, &["APPEND", "t", "b"]), int(2));
        assert_eq!(deadline(&ks, T0, "t"), Some(T0 + 10_000));
        // ... and an expired key starts over without one.
        assert_eq!(run(&mut ks, T0 + 10_001, &["APPEND", "t", "c"]), int(1));
        assert_eq!(deadline(&ks, T0 + 10_001, "t"), Some(NO_EXPIRE));
    }

    #[test]
    fn string_length_limit() {
        assert!(check_string_length(0, 512 * 1024 * 1024, PROTO_MAX_BULK_LEN).is_ok());
        assert_eq!(
            check_string_length(512 * 1024 * 1024, 1, PROTO_MAX_BULK_LEN),
            Err(err(
                "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
            ))
        );
        assert!(check_string_length(usize::MAX, usize::MAX, PROTO_MAX_BULK_LEN).is_err());
    }

    #[test]
    fn getrange_and_substr() {
        let mut ks = Keyspace::new();
        run(&mut ks, T0, &["SET", "s", "Hello World"]);
        let cases: &[(&str, &str, &str)] = &[
            ("0", "4", "Hello"),
            ("-5", "-1", "World"),
            ("-1", "-5", ""),
            ("5", "3", ""),
            ("0", "100", "Hello World"),
            ("-100", "-50", "H"),
            ("-100", "2", "Hel"),
            ("100", "200", ""),
            ("3", "3", "l"),
            ("-9223372036854775808", "9223372036854775807", "Hello World"),
            ("9223372036854775807", "-9223372036854775808", ""),
        ];
        for &(start, end, want) in cases {
            assert_eq!(
                run(&mut ks, T0, &["GETRANGE", "s", start, end]),
                b(want),
                "{start} {end}"
            );
            assert_eq!(run(&mut ks, T0, &["SUBSTR", "s", start, end]), b(want));
        }
        run(&mut ks, T0, &["SET", "i", "-12345"]);
        assert_eq!(run(&mut ks, T0, &["GETRANGE", "i", "-3", "-1"]), b("345"));
        assert_eq!(run(&mut ks, T0, &["GETRANGE", "i", "0", "0"]), b("-"));
        run(&mut ks, T0, &["SET", "e", ""]);
        assert_eq!(run(&mut ks, T0, &["GETRANGE", "e", "0", "-1"]), b(""));
        assert_eq!(run(&mut ks, T0, &["GETRANGE", "e", "-1", "0"]), b(""));
        assert_eq!(run(&mut ks, T0, &["GETRANGE", "nokey", "0", "-1"]), b(""));
        assert_eq!(run(&mut ks, T0, &["GETRANGE", "s", "x", "1"]), err(NOT_INT));
        assert_eq!(run(&mut ks, T0, &["GETRANGE", "s", "1", "x"]), err(NOT_INT));
        // Arguments are checked before the key.
        assert_eq!(
            run(&mut ks, T0, &["GETRANGE", "nokey", "x", "1"]),
            err(NOT_INT)
        );
    }

    #[test]
    fn setrange() {
        let mut ks = Keyspace::new();
        assert_eq!(run(&mut ks, T0, &["SETRANGE", "k", "5", "hi"]), int(7));
        assert_eq!(run(&mut ks, T0, &["GET", "k"]), b("\0\0\0\0\0hi"));
        assert_eq!(run(&mut ks, T0, &["SETRANGE", "k", "0", "HE"]), int(7));
        assert_eq!(run(&mut ks, T0, &["GET", "k"]), b("HE\0\0\0hi"));
        assert_eq!(run(&mut ks, T0, &["SETRANGE", "k", "6", "xyz"]), int(9));
        assert_eq!(run(&mut ks, T0, &["GET", "k"]), b("HE\0\0\0hxyz"));
        // An empty patch changes nothing and reports the current length.
        assert_eq!(run(&mut ks, T0, &["SETRANGE", "k", "100", ""]), int(9));
        assert_eq!(run(&mut ks, T0, &["STRLEN", "k"]), int(9));
        // ... and creates nothing on a missing key.
        assert_eq!(run(&mut ks, T0, &["SETRANGE", "m", "10", ""]), int(0));
        assert_eq!(run(&mut ks, T0, &["GET", "m"]), Frame::Null);
        assert_eq!(
            run(&mut ks, T0, &["SETRANGE", "m", "536870912", ""]),
            int(0)
        );

        let range = err("ERR offset is out of range");
        assert_eq!(run(&mut ks, T0, &["SETRANGE", "k", "-1", "x"]), range);
        assert_eq!(run(&mut ks, T0, &["SETRANGE", "m", "-1", ""]), range);
        assert_eq!(run(&mut ks, T0, &["SETRANGE", "k", "x", "x"]), err(NOT_INT));
        let too_big = err("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        assert_eq!(
            run(&mut ks, T0, &["SETRANGE", "m", "536870912", "x"]),
            too_big
        );
        assert_eq!(
            run(&mut ks, T0, &["SETRANGE", "m", "536870911", "xy"]),
            too_big
        );
        assert_eq!(
            run(&mut ks, T0, &["SETRANGE", "k", "9223372036854775807", "x"]),
            too_big
        );
        assert_eq!(run(&mut ks, T0, &["GET", "m"]), Frame::Null);

        // Integers are edited as text and stay plain strings; the TTL is kept.
        run(&mut ks, T0, &["SET", "n", "1000", "EX", "10"]);
        assert_eq!(run(&mut ks, T0, &["SETRANGE", "n", "1", "5"]), int(4));
        assert_eq!(value(&ks, "n"), Some(Value::Str(b"1500".to_vec())));
        assert_eq!(deadline(&ks, T0, "n"), Some(T0 + 10_000));
    }

    #[test]
    fn incr_decr_family() {
        let mut ks = Keyspace::new();
        assert_eq!(run(&mut ks, T0, &["INCR", "c"]), int(1));
        assert_eq!(run(&mut ks, T0, &["INCR", "c"]), int(2));
        assert_eq!(run(&mut ks, T0, &["DECR", "c"]), int(1));
        assert_eq!(run(&mut ks, T0, &["DECR", "d"]), int(-1));
        assert_eq!(run(&mut ks, T0, &["INCRBY", "c", "10"]), int(11));
        assert_eq!(run(&mut ks, T0, &["INCRBY", "c", "-20"]), int(-9));
        assert_eq!(run(&mut ks, T0, &["DECRBY", "c", "5"]), int(-14));
        assert_eq!(run(&mut ks, T0, &["DECRBY", "c", "-14"]), int(0));
        assert_eq!(value(&ks, "c"), Some(Value::Int(0)));
        assert_eq!(run(&mut ks, T0, &["GET", "c"]), b("0"));
        assert_eq!(run(&mut ks, T0, &["INCRBY", "c", "x"]), err(NOT_INT));
        assert_eq!(run(&mut ks, T0, &["INCRBY", "c", "1.5"]), err(NOT_INT));
        assert_eq!(run(&mut ks, T0, &["DECRBY", "c", ""]), err(NOT_INT));
        assert_eq!(
            run(&mut ks, T0, &["DECRBY", "c", "-9223372036854775808"]),
            err("ERR decrement would overflow")
        );
        assert_eq!(
            run(&mut ks, T0, &["DECRBY", "new", "-9223372036854775808"]),
            err("ERR decrement would overflow")
        );
        assert_eq!(run(&mut ks, T0, &["GET", "new"]), Frame::Null);

        let overflow = err("ERR increment or decrement would overflow");
        run(&mut ks, T0, &["SET", "max", "9223372036854775807"]);
        assert_eq!(run(&mut ks, T0, &["INCR", "max"]), overflow);
        assert_eq!(run(&mut ks, T0, &["INCRBY", "max", "0"]), int(i64::MAX));
        assert_eq!(run(&mut ks, T0, &["DECRBY", "max", "-1"]), overflow);
        run(&mut ks, T0, &["SET", "min", "-9223372036854775808"]);
        assert_eq!(run(&mut ks, T0, &["DECR", "min"]), overflow);
        assert_eq!(run(&mut ks, T0, &["INCRBY", "min", "-1"]), overflow);
        assert_eq!(run(&mut ks, T0, &["INCR", "min"]), int(i64::MIN + 1));
        assert_eq!(
            run(&mut ks, T0, &["INCRBY", "min", "9223372036854775807"]),
            int(0)
        );

        for bad in [
            "abc",
            "007",
            "-0",
            "+1",
            " 1",
            "1 ",
            "1.0",
            "",
            "99999999999999999999",
        ] {
            run(&mut ks, T0, &["SET", "f", bad]);
            assert_eq!(run(&mut ks, T0, &["INCR", "f"]), err(NOT_INT), "{bad:?}");
            assert_eq!(run(&mut ks, T0, &["GET", "f"]), b(bad));
        }

        // A plain string holding an integer works too, and becomes an integer.
        run(&mut ks, T0, &["INCRBYFLOAT", "s", "3.0"]);
        assert_eq!(value(&ks, "s"), Some(Value::Str(b"3".to_vec())));
        assert_eq!(run(&mut ks, T0, &["INCR", "s"]), int(4));
        assert_eq!(value(&ks, "s"), Some(Value::Int(4)));

        // The TTL survives; an expired key restarts from 0 without one.
        run(&mut ks, T0, &["SET", "t", "5", "PX", "100"]);
        assert_eq!(run(&mut ks, T0 + 50, &["INCR", "t"]), int(6));
        assert_eq!(deadline(&ks, T0 + 50, "t"), Some(T0 + 100));
        assert_eq!(run(&mut ks, T0 + 101, &["INCR", "t"]), int(1));
        assert_eq!(deadline(&ks, T0 + 101, "t"), Some(NO_EXPIRE));
    }

    #[test]
    fn incrbyfloat() {
        let mut ks = Keyspace::new();
        assert_eq!(run(&mut ks, T0, &["INCRBYFLOAT", "f", "0.1"]), b("0.1"));
        assert_eq!(run(&mut ks, T0, &["INCRBYFLOAT", "f", "0.2"]), b("0.3"));
        assert_eq!(run(&mut ks, T0, &["INCRBYFLOAT", "f", "-0.3"]), b("0"));
        assert_eq!(run(&mut ks, T0, &["INCRBYFLOAT", "f", "5.0e3"]), b("5000"));
        assert_eq!(run(&mut ks, T0, &["INCRBYFLOAT", "f", "0x10"]), b("5016"));
        assert_eq!(
            run(&mut ks, T0, &["INCRBYFLOAT", "f", "-1234.5678"]),
            b("3781.43219999999999992")
        );
        assert_eq!(run(&mut ks, T0, &["GET", "f"]), b("3781.43219999999999992"));
        // The result is stored as a plain string, never int-encoded.
        assert_eq!(run(&mut ks, T0, &["INCRBYFLOAT", "g", "3"]), b("3"));
        assert_eq!(value(&ks, "g"), Some(Value::Str(b"3".to_vec())));
        // Integers and float texts as the current value.
        run(&mut ks, T0, &["SET", "i", "10"]);
        assert_eq!(run(&mut ks, T0, &["INCRBYFLOAT", "i", "1.5"]), b("11.5"));
        run(&mut ks, T0, &["SET", "i", "12345678901234567.1"]);
        assert_eq!(
            run(&mut ks, T0, &["INCRBYFLOAT", "i", "0"]),
            b("12345678901234567.099609375")
        );
        run(&mut ks, T0, &["SET", "i", "1e400"]);
        let r = run(&mut ks, T0, &["INCRBYFLOAT", "i", "1"]);
        assert!(
            matches!(&r, Frame::Bulk(v) if v.len() == 401 && v.starts_with(b"10000000000000000000281"))
        );

        let nan = err("ERR increment would produce NaN or Infinity");
        for incr in ["inf", "-inf", "Infinity"] {
            assert_eq!(run(&mut ks, T0, &["INCRBYFLOAT", "f", incr]), nan);
        }
        run(&mut ks, T0, &["SET", "big", "1e4932"]);
        assert_eq!(run(&mut ks, T0, &["INCRBYFLOAT", "big", "1e4932"]), nan);
        for incr in ["abc", "nan", "", " 1", "1 ", "1e5000", "1,5", "0x"] {
            assert_eq!(
                run(&mut ks, T0, &["INCRBYFLOAT", "f", incr]),
                err(NOT_FLOAT),
                "{incr:?}"
            );
        }
        run(&mut ks, T0, &["SET", "s", "abc"]);
        assert_eq!(run(&mut ks, T0, &["INCRBYFLOAT", "s", "1"]), err(NOT_FLOAT));
        assert_eq!(run(&mut ks, T0, &["GET", "f"]), b("3781.43219999999999992"));

        // The TTL survives.
        run(&mut ks, T0, &["SET", "t", "1.5", "EX", "10"]);
        assert_eq!(run(&mut ks, T0, &["INCRBYFLOAT", "t", "1"]), b("2.5"));
        assert_eq!(deadline(&ks, T0, "t"), Some(T0 + 10_000));
    }

    #[test]
    fn lcs() {
        let mut ks = Keyspace::new();
        run(&mut ks, T0, &["MSET", "k1", "ohmytext", "k2", "mynewtext"]);
        assert_eq!(run(&mut ks, T0, &["LCS", "k1", "k2"]), b("mytext"));
        assert_eq!(run(&mut ks, T0, &["LCS", "k1", "k2", "LEN"]), int(6));
        let range = |a: i64, b: i64| Frame::Array(vec![int(a), int(b)]);
        let idx = |matches: Vec<Frame>, len: i64| {
            Frame::Map(vec![
                (b("matches"), Frame::Array(matches)),
                (b("len"), int(len)),
            ])
        };
        assert_eq!(
            run(&mut ks, T0, &["LCS", "k1", "k2", "IDX"]),
            idx(
                vec![
                    Frame::Array(vec![range(4, 7), range(5, 8)]),
                    Frame::Array(vec![range(2, 3), range(0, 1)]),
                ],
                6
            )
        );
        assert_eq!(
            run(
                &mut ks,
                T0,
                &["LCS", "k1", "k2", "idx", "minmatchlen", "4", "withmatchlen"]
            ),
            idx(
                vec![Frame::Array(vec![range(4, 7), range(5, 8), int(4)])],
                6
            )
        );
        assert_eq!(
            run(&mut ks, T0, &["LCS", "k1", "k2", "IDX", "WITHMATCHLEN"]),
            idx(
                vec![
                    Frame::Array(vec![range(4, 7), range(5, 8), int(4)]),
                    Frame::Array(vec![range(2, 3), range(0, 1), int(2)]),
                ],
                6
            )
        );
        // A negative minimum means no minimum.
        assert_eq!(
            run(
                &mut ks,
                T0,
                &["LCS", "k1", "k2", "IDX", "MINMATCHLEN", "-5"]
            ),
            run(&mut ks, T0, &["LCS", "k1", "k2", "IDX"])
        );
        // LEN twice is fine; WITHMATCHLEN without IDX changes nothing.
        assert_eq!(run(&mut ks, T0, &["LCS", "k1", "k2", "LEN", "LEN"]), int(6));
        assert_eq!(
            run(&mut ks, T0, &["LCS", "k1", "k2", "WITHMATCHLEN"]),
            b("mytext")
        );
        // Missing keys are empty strings.
        assert_eq!(run(&mut ks, T0, &["LCS", "k1", "nokey"]), b(""));
        assert_eq!(
            run(&mut ks, T0, &["LCS", "nokey", "nokey", "IDX"]),
            idx(vec![], 0)
        );
        // Integers compare as their text.
        run(&mut ks, T0, &["MSET", "i", "12345", "j", "2345"]);
        assert_eq!(run(&mut ks, T0, &["LCS", "i", "j"]), b("2345"));

        assert_eq!(
            run(&mut ks, T0, &["LCS", "k1", "k2", "LEN", "IDX"]),
            err("ERR If you want both the length and indexes, please just use IDX.")
        );
        assert_eq!(run(&mut ks, T0, &["LCS", "k1", "k2", "FOO"]), err(SYNTAX));
        assert_eq!(
            run(&mut ks, T0, &["LCS", "k1", "k2", "MINMATCHLEN"]),
            err(SYNTAX)
        );
        assert_eq!(
            run(&mut ks, T0, &["LCS", "k1", "k2", "MINMATCHLEN", "x"]),
            err(NOT_INT)
        );
    }

    #[test]
    fn lcs_bounds_its_table() {
        let mut ks = Keyspace::new();
        // (11585 + 1)^2 cells of 4 bytes exceed 512 MB; 11584 is the largest square below it.
        let big_a = "a".repeat(11_585);
        let big_b = "b".repeat(11_585);
        run(&mut ks, T0, &["MSET", "a", &big_a, "b", &big_b]);
        assert_eq!(
            run(&mut ks, T0, &["LCS", "a", "b", "LEN"]),
            err("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
        );
        // Only the product matters: a long string against an empty one is cheap.
        assert_eq!(run(&mut ks, T0, &["LCS", "a", "nokey", "LEN"]), int(0));
        run(&mut ks, T0, &["SETRANGE", "b", "100", "aaa"]);
        let (small_a, small_b) = ("a".repeat(300), "ab".repeat(150));
        run(&mut ks, T0, &["MSET", "x", &small_a, "y", &small_b]);
        assert_eq!(run(&mut ks, T0, &["LCS", "x", "y", "LEN"]), int(150));
    }

    #[test]
    fn dirty_counts_changes_only() {
        let mut ks = Keyspace::new();
        let d = |ks: &mut Keyspace, args: &[&str]| run_dirty(ks, T0, args).1;
        assert_eq!(d(&mut ks, &["SET", "k", "v"]), 1);
        assert_eq!(d(&mut ks, &["SET", "k", "v", "NX"]), 0);
        assert_eq!(d(&mut ks, &["SET", "m", "v", "XX"]), 0);
        assert_eq!(d(&mut ks, &["SET", "k", "v", "EX", "0"]), 0);
        assert_eq!(d(&mut ks, &["SETNX", "k", "v"]), 0);
        assert_eq!(d(&mut ks, &["MSET", "a", "1", "b", "2", "c", "3"]), 3);
        assert_eq!(d(&mut ks, &["MSETNX", "a", "1", "z", "2"]), 0);
        assert_eq!(d(&mut ks, &["MSETNX", "y", "1", "z", "2"]), 2);
        assert_eq!(d(&mut ks, &["GETSET", "k", "w"]), 1);
        assert_eq!(d(&mut ks, &["GETDEL", "nokey"]), 0);
        assert_eq!(d(&mut ks, &["GETDEL", "k"]), 1);
        assert_eq!(d(&mut ks, &["GETEX", "a"]), 0);
        assert_eq!(d(&mut ks, &["GETEX", "a", "PERSIST"]), 0);
        assert_eq!(d(&mut ks, &["GETEX", "a", "EX", "10"]), 1);
        assert_eq!(d(&mut ks, &["GETEX", "a", "PERSIST"]), 1);
        assert_eq!(d(&mut ks, &["GETEX", "a", "EXAT", "1"]), 1);
        assert_eq!(d(&mut ks, &["APPEND", "b", ""]), 1);
        assert_eq!(d(&mut ks, &["SETRANGE", "b", "0", ""]), 0);
        assert_eq!(d(&mut ks, &["SETRANGE", "b", "0", "x"]), 1);
        assert_eq!(d(&mut ks, &["INCR", "c"]), 1);
        assert_eq!(d(&mut ks, &["INCR", "b"]), 0);
        assert_eq!(d(&mut ks, &["INCRBYFLOAT", "c", "1.5"]), 1);
        assert_eq!(d(&mut ks, &["INCRBYFLOAT", "c", "x"]), 0);
        assert_eq!(d(&mut ks, &["GET", "c"]), 0);
    }

    #[test]
    fn hits_and_misses() {
        let mut ks = Keyspace::new();
        run(&mut ks, T0, &["SET", "k", "v"]);
        run(&mut ks, T0, &["SET", "k", "v", "NX"]);
        run(&mut ks, T0, &["INCR", "n"]);
        assert_eq!((ks.stats.keyspace_hits, ks.stats.keyspace_misses), (0, 0));
        run(&mut ks, T0, &["GET", "k"]);
        run(&mut ks, T0, &["GET", "nokey"]);
        assert_eq!((ks.stats.keyspace_hits, ks.stats.keyspace_misses), (1, 1));
        run(&mut ks, T0, &["MGET", "k", "n", "x"]);
        assert_eq!((ks.stats.keyspace_hits, ks.stats.keyspace_misses), (3, 2));
        run(&mut ks, T0, &["SET", "k", "w", "GET"]);
        run(&mut ks, T0, &["LCS", "k", "x"]);
        assert_eq!((ks.stats.keyspace_hits, ks.stats.keyspace_misses), (5, 3));
    }
}
