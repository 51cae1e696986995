//! Strings: SET, GET and the rest of Redis' string family (t_string.c).

use std::borrow::Cow;

use bytes::Bytes;
use resp::Frame;

use crate::cmd::{arg_i64, is, reply};
use crate::errors;
use crate::exec::ExecCtx;
use crate::keyspace::{Keyspace, NO_EXPIRE};
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
fn check_string_length(size: usize, append: usize) -> Result<(), Frame> {
    if (size as u64).saturating_add(append as u64) > PROTO_MAX_BULK_LEN {
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
        ctx.dirty += 1;
        old.map_or(Frame::Null, Frame::Bulk)
    }))
}

fn getdel(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(read_string(ks, ctx, &args[1]).map(|old| match old {
        None => Frame::Null,
        Some(v) => {
            ks.remove(&args[1]);
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
            ctx.dirty += 1;
        }
        Some((_, at)) => {
            ks.set_expire(ctx, key, at);
            ctx.dirty += 1;
        }
        None if opts.persist && ks.persist(ctx, key) => ctx.dirty += 1,
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
            if let Err(e) = check_string_length(cur, tail.len()) {
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
        check_string_length(offset, patch.len())?;
        // Bounded by proto-max-bulk-len just above.
        let mut s = vec![0u8; offset + patch.len()];
        s[offset..].copy_from_slice(patch);
        let len = s.len();
        ks.set(ctx, key, Value::Str(s), NO_EXPIRE);
        ctx.dirty += 1;
        return Ok(Frame::Integer(len as i64));
    };
    let cur = str_len(&o.value)?;
    if patch.is_empty() {
        return Ok(Frame::Integer(cur as i64));
    }
    let offset = usize::try_from(offset).unwrap_or(usize::MAX);
    check_string_length(offset, patch.len())?;
    let s = raw_mut(&mut o.value)?;
    let end = offset + patch.len();
    if s.len() < end {
        s.resize(end, 0);
    }
    s[offset..end].copy_from_slice(patch);
    let len = s.len();
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
    if cells.saturating_mul(4) > PROTO_MAX_BULK_LEN {
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
