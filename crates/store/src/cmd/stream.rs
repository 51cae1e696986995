//! Streams: XADD and the rest of Redis' stream family (`t_stream.c`), with consumer groups. The type lives in
//! [`crate::types::stream`]; this file parses arguments and shapes replies as Redis 7.0 does.
//!
//! Determinism: `*` IDs take the entry's time (`ctx.now_ms`), as do delivery times, idle times and consumers'
//! seen times, so every replica holds the same IDs and the same pending entries lists. XREAD BLOCK and
//! XREADGROUP BLOCK wait through [`crate::blocking`]: a first attempt that finds nothing replies
//! [`crate::blocking::WOULD_BLOCK`] (XREAD's `$` rewritten to the stream's last ID at that moment), and the
//! retry proposed when the stream is ready ([`waiter_ready`]) serves it as Redis serves a blocked client.

use bytes::Bytes;
use resp::Frame;

use crate::blocking::{would_block_as, Block, WOULD_BLOCK};
use crate::cmd::{arg_i64, is, reply};
use crate::errors;
use crate::exec::ExecCtx;
use crate::keyspace::{Keyspace, NO_EXPIRE};
use crate::notify::class as ev;
use crate::table::{acl, flags, CommandSpec, Handler};
use crate::types::stream::{
    Group, Nack, Pairs, Stream, StreamId, Trim, ENTRIES_READ_INVALID, NODE_HARD_LIMIT,
};
use crate::value::Value;

const RO: u32 = flags::READONLY;
const W: u32 = flags::WRITE;
const DENYOOM: u32 = flags::DENYOOM;
const FAST: u32 = flags::FAST;
const BLOCKING: u32 = flags::BLOCKING;
const X: u32 = acl::STREAM;

const XGROUP_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("create", -5, W | DENYOOM, X, Handler::Keyspace(xgroup))
        .keys(2, 2, 1)
        .doc("stream", "5.0.0", "O(1)", "Create a consumer group."),
    CommandSpec::new(
        "createconsumer",
        5,
        W | DENYOOM,
        X,
        Handler::Keyspace(xgroup),
    )
    .keys(2, 2, 1)
    .doc(
        "stream",
        "6.2.0",
        "O(1)",
        "Create a consumer in a consumer group.",
    ),
    CommandSpec::new("delconsumer", 5, W, X, Handler::Keyspace(xgroup))
        .keys(2, 2, 1)
        .doc(
            "stream",
            "5.0.0",
            "O(1)",
            "Delete a consumer from a consumer group.",
        ),
    CommandSpec::new("destroy", 4, W, X, Handler::Keyspace(xgroup))
        .keys(2, 2, 1)
        .doc(
            "stream",
            "5.0.0",
            "O(N) where N is the number of entries in the group's pending entries list (PEL).",
            "Destroy a consumer group.",
        ),
    CommandSpec::new("setid", -5, W, X, Handler::Keyspace(xgroup))
        .keys(2, 2, 1)
        .doc(
            "stream",
            "5.0.0",
            "O(1)",
            "Set a consumer group to an arbitrary last delivered ID value.",
        ),
    CommandSpec::new(
        "help",
        2,
        flags::LOADING | flags::STALE,
        X,
        Handler::Keyspace(xgroup),
    )
    .doc(
        "stream",
        "5.0.0",
        "O(1)",
        "Show helpful text about the different subcommands",
    ),
];

const XINFO_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("consumers", 4, RO, X, Handler::Keyspace(xinfo))
        .keys(2, 2, 1)
        .doc(
            "stream",
            "5.0.0",
            "O(1)",
            "List the consumers in a consumer group",
        ),
    CommandSpec::new("groups", 3, RO, X, Handler::Keyspace(xinfo))
        .keys(2, 2, 1)
        .doc(
            "stream",
            "5.0.0",
            "O(1)",
            "List the consumer groups of a stream",
        ),
    CommandSpec::new("stream", -3, RO, X, Handler::Keyspace(xinfo))
        .keys(2, 2, 1)
        .doc("stream", "5.0.0", "O(1)", "Get information about a stream"),
    CommandSpec::new(
        "help",
        2,
        flags::LOADING | flags::STALE,
        X,
        Handler::Keyspace(xinfo),
    )
    .doc(
        "stream",
        "5.0.0",
        "O(1)",
        "Show helpful text about the different subcommands",
    ),
];

/// Table rows of this family.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("xadd", -5, W | DENYOOM | FAST, X, Handler::Keyspace(xadd))
        .keys(1, 1, 1)
        .doc(
            "stream",
            "5.0.0",
            "O(1) when adding a new entry, O(N) when trimming where N being the number of entries evicted.",
            "Appends a new entry to a stream",
        ),
    CommandSpec::new("xrange", -4, RO, X, Handler::Keyspace(xrange))
        .keys(1, 1, 1)
        .doc(
            "stream",
            "5.0.0",
            "O(N) with N being the number of elements being returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).",
            "Return a range of elements in a stream, with IDs matching the specified IDs interval",
        ),
    CommandSpec::new("xrevrange", -4, RO, X, Handler::Keyspace(xrevrange))
        .keys(1, 1, 1)
        .doc(
            "stream",
            "5.0.0",
            "O(N) with N being the number of elements returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).",
            "Return a range of elements in a stream, with IDs matching the specified IDs interval, in reverse order (from greater to smaller IDs) compared to XRANGE",
        ),
    CommandSpec::new("xlen", 2, RO | FAST, X, Handler::Keyspace(xlen))
        .keys(1, 1, 1)
        .doc(
            "stream",
            "5.0.0",
            "O(1)",
            "Return the number of entries in a stream",
        ),
    CommandSpec::new("xdel", -3, W | FAST, X, Handler::Keyspace(xdel))
        .keys(1, 1, 1)
        .doc(
            "stream",
            "5.0.0",
            "O(1) for each single item to delete in the stream, regardless of the stream size.",
            "Removes the specified entries from the stream. Returns the number of items actually deleted, that may be different from the number of IDs passed in case certain IDs do not exist.",
        ),
    CommandSpec::new("xtrim", -4, W, X, Handler::Keyspace(xtrim))
        .keys(1, 1, 1)
        .doc(
            "stream",
            "5.0.0",
            "O(N), with N being the number of evicted entries. Constant times are very small however, since entries are organized in macro nodes containing multiple entries that can be released with a single deallocation.",
            "Trims the stream to (approximately if '~' is passed) a certain size",
        ),
    CommandSpec::new("xread", -4, RO | BLOCKING, X, Handler::Keyspace(xread))
        .keys_fn(0, 0, 0, xread_keys)
        .blocks_on(xread_block)
        .doc(
            "stream",
            "5.0.0",
            "For each stream mentioned: O(N) with N being the number of elements being returned, it means that XREAD-ing with a fixed COUNT is O(1). Note that when the BLOCK option is used, XADD will pay O(M) time in order to serve the M clients blocked on the stream getting new data.",
            "Return never seen elements in multiple streams, with IDs greater than the ones reported by the caller for each stream. Can block.",
        ),
    CommandSpec::new("xreadgroup", -7, W | BLOCKING, X, Handler::Keyspace(xreadgroup))
        .keys_fn(0, 0, 0, xread_keys)
        .blocks_on(xread_block)
        .doc(
            "stream",
            "5.0.0",
            "For each stream mentioned: O(M) with M being the number of elements returned. If M is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1). On the other side when XREADGROUP blocks, XADD will pay the O(N) time in order to serve the N clients blocked on the stream getting new data.",
            "Return new entries from a stream using a consumer group, or access the history of the pending entries for a given consumer. Can block.",
        ),
    CommandSpec::new("xgroup", -2, 0, 0, Handler::Container)
        .subcommands(XGROUP_SUBCOMMANDS)
        .doc(
            "stream",
            "5.0.0",
            "Depends on subcommand.",
            "A container for consumer groups commands",
        ),
    CommandSpec::new("xack", -4, W | FAST, X, Handler::Keyspace(xack))
        .keys(1, 1, 1)
        .doc(
            "stream",
            "5.0.0",
            "O(1) for each message ID processed.",
            "Marks a pending message as correctly processed, effectively removing it from the pending entries list of the consumer group. Return value of the command is the number of messages successfully acknowledged, that is, the IDs we were actually able to resolve in the PEL.",
        ),
    CommandSpec::new("xpending", -3, RO, X, Handler::Keyspace(xpending))
        .keys(1, 1, 1)
        .doc(
            "stream",
            "5.0.0",
            "O(N) with N being the number of elements returned, so asking for a small fixed number of entries per call is O(1). O(M), where M is the total number of entries scanned when used with the IDLE filter. When the command returns just the summary and the list of consumers is small, it runs in O(1) time; otherwise, an additional O(N) time for iterating every consumer.",
            "Return information and entries from a stream consumer group pending entries list, that are messages fetched but never acknowledged.",
        ),
    CommandSpec::new("xclaim", -6, W | FAST, X, Handler::Keyspace(xclaim))
        .keys(1, 1, 1)
        .doc(
            "stream",
            "5.0.0",
            "O(log N) with N being the number of messages in the PEL of the consumer group.",
            "Changes (or acquires) ownership of a message in a consumer group, as if the message was delivered to the specified consumer.",
        ),
    CommandSpec::new("xautoclaim", -6, W | FAST, X, Handler::Keyspace(xautoclaim))
        .keys(1, 1, 1)
        .doc(
            "stream",
            "6.2.0",
            "O(1) if COUNT is small.",
            "Changes (or acquires) ownership of messages in a consumer group, as if the messages were delivered to the specified consumer.",
        ),
    CommandSpec::new("xinfo", -2, 0, 0, Handler::Container)
        .subcommands(XINFO_SUBCOMMANDS)
        .doc(
            "stream",
            "5.0.0",
            "Depends on subcommand.",
            "A container for stream introspection commands",
        ),
    CommandSpec::new("xsetid", -3, W | DENYOOM | FAST, X, Handler::Keyspace(xsetid))
        .keys(1, 1, 1)
        .doc(
            "stream",
            "5.0.0",
            "O(1)",
            "An internal command for replicating stream values",
        ),
];

// ---------------------------------------------------------------------------------------------------------------
// IDs, lookups, replies
// ---------------------------------------------------------------------------------------------------------------

const INVALID_ID: Frame =
    Frame::error("ERR Invalid stream ID specified as stream command argument");
const INVALID_START: Frame = Frame::error("ERR invalid start ID for the interval");
const INVALID_END: Frame = Frame::error("ERR invalid end ID for the interval");

/// One part of an ID as Redis' `string2ull` reads it: a non-negative decimal (`strtoull` syntax: leading
/// spaces and a `+` are accepted).
fn parse_part(b: &[u8]) -> Option<u64> {
    if let Some(v) = crate::num::parse_i64(b) {
        return u64::try_from(v).ok();
    }
    let s = std::str::from_utf8(b).ok()?;
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'+') => (false, &t[1..]),
        Some(b'-') => (true, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let v: u64 = digits.parse().ok()?;
    // strtoull negates: only "-0" forms stay representable without wrapping.
    if neg && v != 0 {
        return None;
    }
    Some(v)
}

/// Redis' `streamGenericParseIDOrReply`: `ms-seq`, `ms` (sequence `missing_seq`), `-` and `+` unless
/// `strict`. With `seq_free`, `ms-*` is accepted and the second value tells whether the sequence was given.
fn parse_id_full(
    arg: &[u8],
    missing_seq: u64,
    strict: bool,
    seq_free: bool,
) -> Result<(StreamId, bool), Frame> {
    if arg.len() > 127 {
        return Err(INVALID_ID);
    }
    match arg {
        b"-" if !strict => return Ok((StreamId::MIN, true)),
        b"+" if !strict => return Ok((StreamId::MAX, true)),
        b"-" | b"+" => return Err(INVALID_ID),
        _ => {}
    }
    let (ms, seq) = match arg.iter().position(|&c| c == b'-') {
        Some(i) => (&arg[..i], Some(&arg[i + 1..])),
        None => (arg, None),
    };
    let ms = parse_part(ms).ok_or(INVALID_ID)?;
    match seq {
        None => Ok((StreamId::new(ms, missing_seq), true)),
        Some(b"*") if seq_free => Ok((StreamId::new(ms, 0), false)),
        Some(s) => Ok((StreamId::new(ms, parse_part(s).ok_or(INVALID_ID)?), true)),
    }
}

/// A strict ID (no `-` or `+`), sequence 0 when missing.
fn parse_strict(arg: &[u8]) -> Result<StreamId, Frame> {
    parse_id_full(arg, 0, true, false).map(|(id, _)| id)
}

/// A range bound: `(` makes it exclusive (and strict). Returns the inclusive bound it stands for.
fn parse_bound(arg: &[u8], start: bool) -> Result<StreamId, Frame> {
    let missing = if start { 0 } else { u64::MAX };
    if arg.len() > 1 && arg[0] == b'(' {
        let (id, _) = parse_id_full(&arg[1..], missing, true, false)?;
        if start {
            id.incr().ok_or(INVALID_START)
        } else {
            id.decr().ok_or(INVALID_END)
        }
    } else {
        parse_id_full(arg, missing, false, false).map(|(id, _)| id)
    }
}

fn id_frame(id: StreamId) -> Frame {
    Frame::Bulk(id.to_bytes())
}

/// `[id, [field, value, ...]]`.
fn entry_frame(id: StreamId, pairs: &Pairs<'_>) -> Frame {
    let mut fv = Vec::with_capacity(pairs.len() * 2);
    for (f, v) in pairs {
        fv.push(Frame::Bulk(Bytes::copy_from_slice(f)));
        fv.push(Frame::Bulk(Bytes::copy_from_slice(v)));
    }
    Frame::Array(vec![id_frame(id), Frame::Array(fv)])
}

/// The stream under `key` for a read command (counting a hit or miss): `None` if absent, WRONGTYPE otherwise.
fn read_stream<'a>(
    ks: &'a mut Keyspace,
    ctx: &ExecCtx,
    key: &[u8],
) -> Result<Option<&'a Stream>, Frame> {
    match ks.read(ctx, key) {
        None => Ok(None),
        Some(o) => match &o.value {
            Value::Stream(s) => Ok(Some(s)),
            _ => Err(errors::WRONGTYPE),
        },
    }
}

/// The stream under `key` for a write command: `None` if absent, WRONGTYPE for another type.
fn write_stream<'a>(
    ks: &'a mut Keyspace,
    ctx: &ExecCtx,
    key: &[u8],
) -> Result<Option<&'a mut Stream>, Frame> {
    match ks.lookup(ctx, key) {
        None => Ok(None),
        Some(o) => match &mut o.value {
            Value::Stream(s) => Ok(Some(s)),
            _ => Err(errors::WRONGTYPE),
        },
    }
}

fn nogroup_key(key: &[u8], group: &[u8]) -> Frame {
    Frame::error_owned(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        errors::sanitize(key, 128),
        errors::sanitize(group, 128)
    ))
}

fn nogroup_for_key(group: &[u8], key: &[u8]) -> Frame {
    Frame::error_owned(format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        errors::sanitize(group, 128),
        errors::sanitize(key, 128)
    ))
}

fn subcommand_syntax(cmd: &str, sub: &[u8]) -> Frame {
    Frame::error_owned(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        errors::sanitize(sub, 128),
        cmd
    ))
}

fn now_u64(ctx: &ExecCtx) -> u64 {
    ctx.now_ms.max(0) as u64
}

// ---------------------------------------------------------------------------------------------------------------
// XADD, XTRIM, XDEL, XLEN, XRANGE, XREVRANGE, XSETID
// ---------------------------------------------------------------------------------------------------------------

/// Parsed trimming options of XADD and XTRIM (Redis' `streamAddTrimArgs`).
struct AddTrim {
    trim: Trim,
    approx: bool,
    /// 0: no limit.
    limit: u64,
    /// XADD's explicit ID and whether its sequence was given (`None`: `*`).
    id: Option<(StreamId, bool)>,
    nomkstream: bool,
    /// Where XADD's ID is.
    idpos: usize,
}

/// Redis' `streamParseAddOrTrimArgsOrReply`.
fn parse_add_trim(args: &[Bytes], xadd: bool, node_max_entries: usize) -> Result<AddTrim, Frame> {
    let mut t = AddTrim {
        trim: Trim::None,
        approx: false,
        limit: 0,
        id: None,
        nomkstream: false,
        idpos: args.len(),
    };
    let mut limit_given = false;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = &args[i];
        if xadd && opt.as_ref() == b"*" {
            break;
        } else if (is(opt, "maxlen") || is(opt, "minid")) && more > 0 {
            if t.trim != Trim::None {
                return Err(Frame::error(
                    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
                ));
            }
            t.approx = false;
            let next = &args[i + 1];
            if more >= 2 && next.as_ref() == b"~" {
                t.approx = true;
                i += 1;
            } else if more >= 2 && next.as_ref() == b"=" {
                i += 1;
            }
            let val = &args[i + 1];
            if is(opt, "maxlen") {
                let n = arg_i64(val)?;
                if n < 0 {
                    return Err(Frame::error("ERR The MAXLEN argument must be >= 0."));
                }
                t.trim = Trim::MaxLen(n as u64);
            } else {
                t.trim = Trim::MinId(parse_strict(val)?);
            }
            i += 1;
        } else if is(opt, "limit") && more > 0 {
            let n = arg_i64(&args[i + 1])?;
            if n < 0 {
                return Err(Frame::error("ERR The LIMIT argument must be >= 0."));
            }
            t.limit = n as u64;
            limit_given = true;
            i += 1;
        } else if xadd && is(opt, "nomkstream") {
            t.nomkstream = true;
        } else if xadd {
            t.id = Some(parse_id_full(opt, 0, true, true)?);
            break;
        } else {
            return Err(errors::SYNTAX);
        }
        i += 1;
    }
    t.idpos = i;
    if t.limit > 0 && t.trim == Trim::None {
        return Err(Frame::error(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && t.trim == Trim::None {
        return Err(Frame::error(
            "ERR syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    if limit_given {
        if !t.approx {
            return Err(Frame::error(
                "ERR syntax error, LIMIT cannot be used without the special ~ option",
            ));
        }
    } else if t.approx {
        // Approximate trimming does a bounded amount of work: at most 100 nodes' worth.
        let l = 100u64.saturating_mul(node_max_entries as u64);
        t.limit = if l == 0 { 10_000 } else { l.min(1_000_000) };
    } else {
        t.limit = 0;
    }
    Ok(t)
}

fn xadd(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(xadd_inner(ks, ctx, args))
}

fn xadd_inner(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Result<Frame, Frame> {
    let limits = ks.config.stream_node_limits;
    let t = parse_add_trim(args, true, limits.max_entries)?;
    let field_pos = t.idpos + 1;
    if args.len() < field_pos + 2 || !(args.len() - field_pos).is_multiple_of(2) {
        return Err(errors::wrong_arity("xadd"));
    }
    if let Some((id, true)) = t.id {
        if id.is_zero() {
            return Err(Frame::error(
                "ERR The ID specified in XADD must be greater than 0-0",
            ));
        }
    }
    let key = &args[1];
    let last = match write_stream(ks, ctx, key)? {
        Some(s) => s.last_id,
        None if t.nomkstream => return Ok(Frame::Null),
        None => StreamId::MIN,
    };
    if last == StreamId::MAX {
        return Err(Frame::error(
            "ERR The stream has exhausted the last possible ID, unable to add more items",
        ));
    }
    let smaller = Frame::error(
        "ERR The ID specified in XADD is equal or smaller than the target stream top item",
    );
    let id = match t.id {
        Some((id, true)) => id,
        Some((id, false)) if id.ms == last.ms => {
            if last.seq == u64::MAX {
                return Err(smaller);
            }
            StreamId::new(id.ms, last.seq + 1)
        }
        Some((id, false)) => id,
        None => {
            let now = now_u64(ctx);
            if now > last.ms {
                StreamId::new(now, 0)
            } else {
                last.incr().unwrap_or(StreamId::MIN)
            }
        }
    };
    if id <= last {
        return Err(smaller);
    }
    let pairs: Vec<(&[u8], &[u8])> = args[field_pos..]
        .chunks_exact(2)
        .map(|p| (p[0].as_ref(), p[1].as_ref()))
        .collect();
    let size: usize = pairs.iter().map(|(f, v)| f.len() + v.len()).sum();
    if size > NODE_HARD_LIMIT {
        return Err(Frame::error("ERR Elements are too large to be stored"));
    }
    if write_stream(ks, ctx, key)?.is_none() {
        ks.set(ctx, key, Value::Stream(Box::default()), NO_EXPIRE);
    }
    let Some(s) = write_stream(ks, ctx, key)? else {
        return Err(Frame::error("ERR stream vanished"));
    };
    s.append(id, &pairs, limits);
    let trimmed = s.trim(t.trim, t.approx, t.limit);
    ctx.dirty += 1;
    ks.signal_ready(key);
    ks.notify(ev::STREAM, "xadd", key);
    if trimmed > 0 {
        ks.notify(ev::STREAM, "xtrim", key);
    }
    Ok(id_frame(id))
}

fn xtrim(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply((|| {
        let t = parse_add_trim(args, false, ks.config.stream_node_limits.max_entries)?;
        let Some(s) = write_stream(ks, ctx, &args[1])? else {
            return Ok(Frame::Integer(0));
        };
        let n = s.trim(t.trim, t.approx, t.limit);
        ctx.dirty += n;
        if n > 0 {
            ks.notify(ev::STREAM, "xtrim", &args[1]);
        }
        Ok(Frame::Integer(n as i64))
    })())
}

fn xdel(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply((|| {
        let Some(s) = write_stream(ks, ctx, &args[1])? else {
            return Ok(Frame::Integer(0));
        };
        let ids = args[2..]
            .iter()
            .map(|a| parse_strict(a))
            .collect::<Result<Vec<_>, _>>()?;
        let mut deleted = 0;
        let mut first = false;
        for id in ids {
            if s.delete(id) {
                first |= id == s.first_id;
                if id > s.max_deleted_id {
                    s.max_deleted_id = id;
                }
                deleted += 1;
            }
        }
        if deleted > 0 {
            if s.is_empty() {
                s.first_id = StreamId::MIN;
            } else if first {
                s.first_id = s.edge(false).unwrap_or(StreamId::MIN);
            }
            ctx.dirty += deleted;
        }
        if deleted > 0 {
            ks.notify(ev::STREAM, "xdel", &args[1]);
        }
        Ok(Frame::Integer(deleted as i64))
    })())
}

fn xlen(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    match read_stream(ks, ctx, &args[1]) {
        Ok(s) => Frame::Integer(s.map_or(0, |s| s.len() as i64)),
        Err(e) => e,
    }
}

fn xrange(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(xrange_generic(ks, ctx, args, false))
}

fn xrevrange(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(xrange_generic(ks, ctx, args, true))
}

fn xrange_generic(
    ks: &mut Keyspace,
    ctx: &ExecCtx,
    args: &[Bytes],
    rev: bool,
) -> Result<Frame, Frame> {
    let (start_arg, end_arg) = if rev {
        (&args[3], &args[2])
    } else {
        (&args[2], &args[3])
    };
    let start = parse_bound(start_arg, true)?;
    let end = parse_bound(end_arg, false)?;
    let mut count: i64 = -1;
    let mut j = 4;
    while j < args.len() {
        if is(&args[j], "count") && j + 1 < args.len() {
            count = arg_i64(&args[j + 1])?.max(0);
            j += 2;
        } else {
            return Err(errors::SYNTAX);
        }
    }
    let Some(s) = read_stream(ks, ctx, &args[1])? else {
        return Ok(Frame::Array(vec![]));
    };
    if count == 0 {
        return Ok(Frame::NullArray);
    }
    let mut out = Vec::new();
    s.range(start, end, rev, |id, p| {
        out.push(entry_frame(id, &p));
        count < 0 || (out.len() as i64) < count
    });
    Ok(Frame::Array(out))
}

fn xsetid(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply((|| {
        let id = parse_strict(&args[2])?;
        let mut entries_added: i64 = -1;
        let mut max_deleted = StreamId::MIN;
        let mut i = 3;
        while i < args.len() {
            let more = args.len() - 1 - i;
            if is(&args[i], "entriesadded") && more > 0 {
                entries_added = arg_i64(&args[i + 1])?;
                if entries_added < 0 {
                    return Err(Frame::error("ERR entries_added must be positive"));
                }
            } else if is(&args[i], "maxdeletedid") && more > 0 {
                max_deleted = parse_strict(&args[i + 1])?;
                if id < max_deleted {
                    return Err(Frame::error("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id"));
                }
            } else {
                return Err(errors::SYNTAX);
            }
            i += 2;
        }
        let Some(s) = write_stream(ks, ctx, &args[1])? else {
            return Err(errors::NO_SUCH_KEY);
        };
        if !s.is_empty() {
            let top = s.edge(true).unwrap_or(StreamId::MIN);
            if id < top {
                return Err(Frame::error(
                    "ERR The ID specified in XSETID is smaller than the target stream top item",
                ));
            }
            if entries_added != -1 && s.len() > entries_added as u64 {
                return Err(Frame::error("ERR The entries_added specified in XSETID is smaller than the target stream length"));
            }
        }
        s.last_id = id;
        if entries_added != -1 {
            s.entries_added = entries_added as u64;
        }
        if !max_deleted.is_zero() {
            s.max_deleted_id = max_deleted;
        }
        ctx.dirty += 1;
        ks.notify(ev::STREAM, "xsetid", &args[1]);
        Ok(Frame::ok())
    })())
}

// ---------------------------------------------------------------------------------------------------------------
// XREAD, XREADGROUP
// ---------------------------------------------------------------------------------------------------------------

/// How many entries a blocked XREAD without COUNT is served at most (Redis' `XREAD_BLOCKED_DEFAULT_COUNT`).
const BLOCKED_DEFAULT_COUNT: u64 = 1000;

/// Parsed XREAD / XREADGROUP options.
struct ReadArgs<'a> {
    count: u64,
    block: Option<i64>,
    group: Option<(&'a Bytes, &'a Bytes)>,
    noack: bool,
    /// Index of the first key.
    streams_at: usize,
    /// Number of streams.
    n: usize,
}

const UNBALANCED: Frame = Frame::error(
    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
);

fn parse_read(args: &[Bytes], xreadgroup: bool) -> Result<ReadArgs<'_>, Frame> {
    let mut r = ReadArgs {
        count: 0,
        block: None,
        group: None,
        noack: false,
        streams_at: 0,
        n: 0,
    };
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let o = &args[i];
        if is(o, "block") && more > 0 {
            i += 1;
            let ms = crate::num::parse_i64(&args[i]).ok_or(Frame::error(
                "ERR timeout is not an integer or out of range",
            ))?;
            if ms < 0 {
                return Err(Frame::error("ERR timeout is negative"));
            }
            r.block = Some(ms);
        } else if is(o, "count") && more > 0 {
            i += 1;
            r.count = arg_i64(&args[i])?.max(0) as u64;
        } else if is(o, "streams") && more > 0 {
            r.streams_at = i + 1;
            let rest = args.len() - r.streams_at;
            if !rest.is_multiple_of(2) {
                return Err(UNBALANCED);
            }
            r.n = rest / 2;
            break;
        } else if is(o, "group") && more >= 2 {
            if !xreadgroup {
                return Err(Frame::error(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            r.group = Some((&args[i + 1], &args[i + 2]));
            i += 2;
        } else if is(o, "noack") {
            if !xreadgroup {
                return Err(Frame::error(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            r.noack = true;
        } else {
            return Err(errors::SYNTAX);
        }
        i += 1;
    }
    if r.streams_at == 0 {
        return Err(errors::SYNTAX);
    }
    if xreadgroup && r.group.is_none() {
        return Err(Frame::error("ERR Missing GROUP option for XREADGROUP"));
    }
    Ok(r)
}

/// Key positions of XREAD and XREADGROUP: the first half of what follows STREAMS.
fn xread_keys(args: &[Bytes]) -> Result<Vec<usize>, Frame> {
    let xreadgroup = args.first().is_some_and(|a| is(a, "xreadgroup"));
    let r = parse_read(args, xreadgroup)?;
    Ok((r.streams_at..r.streams_at + r.n).collect())
}

/// Where a blocked XREAD or XREADGROUP waits: its keys, for its BLOCK time (none without BLOCK).
fn xread_block(args: &[Bytes], _now_ms: i64) -> Option<Block> {
    let xreadgroup = args.first().is_some_and(|a| is(a, "xreadgroup"));
    let r = parse_read(args, xreadgroup).ok()?;
    let ms = r.block?;
    Some(Block::new(&args[r.streams_at..r.streams_at + r.n], ms))
}

/// The ID a reader waits after on `key`, with `>` as [`StreamId::MAX`] and `$` as the stream's last ID.
fn resolve_ids(
    ks: &mut Keyspace,
    ctx: &ExecCtx,
    args: &[Bytes],
    r: &ReadArgs<'_>,
) -> Result<Vec<StreamId>, Frame> {
    let mut ids = Vec::with_capacity(r.n);
    for i in 0..r.n {
        let key = &args[r.streams_at + i];
        let arg = &args[r.streams_at + r.n + i];
        let s = if ctx.write {
            write_stream(ks, ctx, key)?.map(|s| &*s)
        } else {
            read_stream(ks, ctx, key)?
        };
        if let Some((group, _)) = r.group {
            if s.is_none_or(|s| !s.groups.contains_key(&group[..])) {
                return Err(Frame::error_owned(format!(
                    "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                    errors::sanitize(key, 128),
                    errors::sanitize(group, 128)
                )));
            }
        }
        if arg.as_ref() == b"$" {
            if r.group.is_some() {
                return Err(Frame::error("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set."));
            }
            ids.push(s.map_or(StreamId::MIN, |s| s.last_id));
        } else if arg.as_ref() == b">" {
            if r.group.is_none() {
                return Err(Frame::error("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option."));
            }
            ids.push(StreamId::MAX);
        } else {
            ids.push(parse_strict(arg)?);
        }
    }
    Ok(ids)
}

fn xread(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(xread_generic(ks, ctx, args, false))
}

fn xreadgroup(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(xread_generic(ks, ctx, args, true))
}

fn xread_generic(
    ks: &mut Keyspace,
    ctx: &mut ExecCtx,
    args: &[Bytes],
    xreadgroup: bool,
) -> Result<Frame, Frame> {
    let r = parse_read(args, xreadgroup)?;
    if ctx.retry {
        return serve_blocked(ks, ctx, args, &r);
    }
    let ids = resolve_ids(ks, ctx, args, &r)?;
    // Consumers this read creates are reported (`xgroup-createconsumer`) once it ran.
    let keys = &args[r.streams_at..r.streams_at + ids.len()];
    let had: Vec<bool> = match r.group {
        Some((group, consumer)) if ctx.write => keys
            .iter()
            .map(|k| has_consumer(ks, ctx.now_ms, k, group, consumer))
            .collect(),
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    for (i, &gt) in ids.iter().enumerate() {
        let key = &args[r.streams_at + i];
        let s = if ctx.write {
            write_stream(ks, ctx, key)?
        } else {
            // A read needs no mutable access; `lookup` is the same probe without statistics.
            match ks.lookup(ctx, key) {
                Some(o) => match &mut o.value {
                    Value::Stream(s) => Some(&mut **s),
                    _ => None,
                },
                None => None,
            }
        };
        let Some(s) = s else { continue };
        let mut from = gt;
        let mut history = false;
        let serve = if let Some((group, _)) = r.group {
            if gt != StreamId::MAX {
                history = true;
                true
            } else if !s.is_empty() {
                let last = s
                    .groups
                    .get(&group[..])
                    .map_or(StreamId::MAX, |g| g.last_id);
                let top = s.edge(true).unwrap_or(StreamId::MIN);
                from = last;
                top > last
            } else {
                false
            }
        } else {
            !s.is_empty() && s.edge(true).is_some_and(|top| top > gt)
        };
        if !serve {
            continue;
        }
        let start = from.incr().unwrap_or(StreamId::MAX);
        let entries = match r.group {
            Some((group, consumer)) => {
                ctx.dirty += 1;
                group_read(
                    s, group, consumer, start, r.count, r.noack, history, ctx.now_ms,
                )
            }
            None => plain_read(s, start, r.count),
        };
        out.push((Frame::Bulk(key.clone()), Frame::Array(entries)));
    }
    if let Some((group, consumer)) = r.group {
        for (k, had) in keys.iter().zip(had) {
            note_new_consumer(ks, ctx.now_ms, had, k, group, consumer);
        }
    }
    if !out.is_empty() {
        return Ok(Frame::ArrayMap(out));
    }
    if r.block.is_some() && ctx.blocking {
        // Wait; `$` becomes the last ID now, so entries added while this client blocks are what it gets.
        let mut retry = args.to_vec();
        for (i, id) in ids.iter().enumerate() {
            let at = r.streams_at + r.n + i;
            if retry[at].as_ref() == b"$" {
                retry[at] = id.to_bytes();
            }
        }
        return Ok(if retry[..] != args[..] {
            would_block_as(retry)
        } else {
            WOULD_BLOCK
        });
    }
    Ok(Frame::NullArray)
}

/// Up to `count` (0: all) entries from `start`.
fn plain_read(s: &Stream, start: StreamId, count: u64) -> Vec<Frame> {
    let mut out = Vec::new();
    s.range(start, StreamId::MAX, false, |id, p| {
        out.push(entry_frame(id, &p));
        count == 0 || (out.len() as u64) < count
    });
    out
}

/// What XREADGROUP gives `consumer` of `group` from `start`: new entries (advancing the group and adding them to
/// the PEL unless `noack`), or with `history` the consumer's own pending entries (counting a delivery each).
#[allow(clippy::too_many_arguments)]
fn group_read(
    s: &mut Stream,
    group: &[u8],
    consumer: &[u8],
    start: StreamId,
    count: u64,
    noack: bool,
    history: bool,
    now: i64,
) -> Vec<Frame> {
    let Some(g) = s.groups.get_mut(group) else {
        return Vec::new();
    };
    g.consumer(consumer, now, true);
    let Some(cname) = g.consumer_name(consumer) else {
        return Vec::new();
    };
    if history {
        let pending: Vec<StreamId> = g.consumers[&cname]
            .pel
            .range(start..)
            .take(if count == 0 {
                usize::MAX
            } else {
                count as usize
            })
            .copied()
            .collect();
        let mut out = Vec::with_capacity(pending.len());
        let mut found = Vec::new();
        for id in pending {
            match s.get(id) {
                Some(p) => {
                    out.push(entry_frame(id, &p));
                    found.push(id);
                }
                None => out.push(Frame::Array(vec![id_frame(id), Frame::NullArray])),
            }
        }
        if let Some(g) = s.groups.get_mut(group) {
            for id in found {
                if let Some(n) = g.pel.get_mut(&id) {
                    n.delivery_time = now;
                    n.delivery_count += 1;
                }
            }
        }
        return out;
    }
    let mut out = Vec::new();
    let mut ids = Vec::new();
    s.range(start, StreamId::MAX, false, |id, p| {
        out.push(entry_frame(id, &p));
        ids.push(id);
        count == 0 || (out.len() as u64) < count
    });
    for id in ids {
        if s.groups.get(group).is_some_and(|g| id > g.last_id) {
            s.advance_group(group, id);
        }
        if noack {
            continue;
        }
        let Some(g) = s.groups.get_mut(group) else {
            break;
        };
        match g.pel.get_mut(&id) {
            Some(n) => {
                n.delivery_time = now;
                n.delivery_count = 1;
                g.give(id, &cname);
            }
            None => {
                g.pel.insert(
                    id,
                    Nack {
                        delivery_time: now,
                        delivery_count: 1,
                        consumer: cname.clone(),
                    },
                );
                if let Some(c) = g.consumers.get_mut(&cname) {
                    c.pel.insert(id);
                }
            }
        }
    }
    out
}

/// A blocked reader's retry (Redis' `serveClientsBlockedOnStreamKey` and
/// `unblockDeletedStreamReadgroupClients`): the first of its streams with an entry past its position serves
/// it, with COUNT defaulting to 1000; a deleted stream or group ends an XREADGROUP with an error. Only live
/// entries count, so a reader is never woken with an empty reply (entries added and deleted meanwhile).
fn serve_blocked(
    ks: &mut Keyspace,
    ctx: &mut ExecCtx,
    args: &[Bytes],
    r: &ReadArgs<'_>,
) -> Result<Frame, Frame> {
    let count = if r.count == 0 {
        BLOCKED_DEFAULT_COUNT
    } else {
        r.count
    };
    for i in 0..r.n {
        let key = &args[r.streams_at + i];
        let arg = &args[r.streams_at + r.n + i];
        let s = match ks.lookup(ctx, key) {
            Some(o) => match &mut o.value {
                Value::Stream(s) => Some(&mut **s),
                _ => None,
            },
            None => None,
        };
        match r.group {
            Some((group, consumer)) => {
                let Some(s) = s else {
                    return Err(Frame::error("UNBLOCKED the stream key no longer exists"));
                };
                let Some(g) = s.groups.get(&group[..]) else {
                    return Err(Frame::error(
                        "NOGROUP the consumer group this client was blocked on no longer exists",
                    ));
                };
                let gt = g.last_id;
                if s.edge(true).is_some_and(|top| top > gt) {
                    let start = gt.incr().unwrap_or(StreamId::MAX);
                    ctx.dirty += 1;
                    let e =
                        group_read(s, group, consumer, start, count, r.noack, false, ctx.now_ms);
                    return Ok(Frame::ArrayMap(vec![(
                        Frame::Bulk(key.clone()),
                        Frame::Array(e),
                    )]));
                }
            }
            None => {
                let Some(s) = s else { continue };
                let Ok(gt) = parse_strict(arg) else { continue };
                if s.edge(true).is_some_and(|top| top > gt) {
                    let start = gt.incr().unwrap_or(StreamId::MAX);
                    let e = plain_read(s, start, count);
                    return Ok(Frame::ArrayMap(vec![(
                        Frame::Bulk(key.clone()),
                        Frame::Array(e),
                    )]));
                }
            }
        }
    }
    Ok(WOULD_BLOCK)
}

/// Whether proposing the blocked reader `args` again would serve it (or end it with an error), looking at
/// `key` only: see [`crate::blocking::waiter_ready`].
pub(crate) fn waiter_ready(ks: &Keyspace, now_ms: i64, key: &[u8], args: &[Bytes]) -> bool {
    let xreadgroup = args.first().is_some_and(|a| is(a, "xreadgroup"));
    let Ok(r) = parse_read(args, xreadgroup) else {
        return true;
    };
    let Some(i) = args[r.streams_at..r.streams_at + r.n]
        .iter()
        .position(|k| k.as_ref() == key)
    else {
        return false;
    };
    let s = match ks.peek(now_ms, key).map(|o| &o.value) {
        Some(Value::Stream(s)) => Some(s),
        _ => None,
    };
    match r.group {
        Some((group, _)) => match s {
            None => true,
            Some(s) => s
                .groups
                .get(&group[..])
                .is_none_or(|g| s.edge(true).is_some_and(|top| top > g.last_id)),
        },
        None => {
            let Some(s) = s else { return false };
            parse_strict(&args[r.streams_at + r.n + i])
                .is_ok_and(|gt| s.edge(true).is_some_and(|top| top > gt))
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM
// ---------------------------------------------------------------------------------------------------------------

fn xgroup(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(xgroup_inner(ks, ctx, args))
}

fn xgroup_inner(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Result<Frame, Frame> {
    let sub = &args[1];
    if is(sub, "help") {
        return Ok(help(&[
            "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CREATE <key> <groupname> <id|$> [option]",
            "    Create a new consumer group. Options are:",
            "    * MKSTREAM",
            "      Create the empty stream if it does not exist.",
            "    * ENTRIESREAD entries_read",
            "      Set the group's entries_read counter (internal use).",
            "CREATECONSUMER <key> <groupname> <consumer>",
            "    Create a new consumer in the specified group.",
            "DELCONSUMER <key> <groupname> <consumer>",
            "    Remove the specified consumer.",
            "DESTROY <key> <groupname>",
            "    Remove the specified group.",
            "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
            "    Set the current group ID and entries_read counter.",
            "HELP",
            "    Prints this help.",
        ]));
    }
    let create = is(sub, "create");
    let setid = is(sub, "setid");
    let mut mkstream = false;
    let mut entries_read = ENTRIES_READ_INVALID;
    let mut i = 5;
    while i < args.len() {
        if create && is(&args[i], "mkstream") {
            mkstream = true;
            i += 1;
        } else if (create || setid) && is(&args[i], "entriesread") && i + 1 < args.len() {
            entries_read = arg_i64(&args[i + 1])?;
            if entries_read < 0 && entries_read != ENTRIES_READ_INVALID {
                return Err(Frame::error(
                    "ERR value for ENTRIESREAD must be positive or -1",
                ));
            }
            i += 2;
        } else {
            return Err(subcommand_syntax("XGROUP", sub));
        }
    }
    let key = &args[2];
    let gname = &args[3];
    let exists = write_stream(ks, ctx, key)?.is_some();
    if !mkstream && !exists {
        return Err(Frame::error("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically."));
    }
    if exists && (setid || is(sub, "createconsumer") || is(sub, "delconsumer")) {
        let has = write_stream(ks, ctx, key)?.is_some_and(|s| s.groups.contains_key(&gname[..]));
        if !has {
            return Err(nogroup_for_key(gname, key));
        }
    }
    if create && args.len() <= 8 {
        let id = if args[4].as_ref() == b"$" {
            write_stream(ks, ctx, key)?.map_or(StreamId::MIN, |s| s.last_id)
        } else {
            parse_strict(&args[4])?
        };
        if !exists {
            ks.set(ctx, key, Value::Stream(Box::default()), NO_EXPIRE);
        }
        let Some(s) = write_stream(ks, ctx, key)? else {
            return Err(Frame::error("ERR stream vanished"));
        };
        if s.groups.contains_key(&gname[..]) {
            return Err(Frame::error("BUSYGROUP Consumer Group name already exists"));
        }
        s.groups.insert(gname.clone(), Group::new(id, entries_read));
        ctx.dirty += 1;
        ks.notify(ev::STREAM, "xgroup-create", key);
        return Ok(Frame::ok());
    }
    let Some(s) = write_stream(ks, ctx, key)? else {
        return Err(subcommand_syntax("XGROUP", sub));
    };
    if setid && (args.len() == 5 || args.len() == 7) {
        let id = if args[4].as_ref() == b"$" {
            s.last_id
        } else {
            parse_id_full(&args[4], 0, false, false)?.0
        };
        if let Some(g) = s.groups.get_mut(&gname[..]) {
            g.last_id = id;
            g.entries_read = entries_read;
        }
        ctx.dirty += 1;
        ks.notify(ev::STREAM, "xgroup-setid", key);
        Ok(Frame::ok())
    } else if is(sub, "destroy") && args.len() == 4 {
        if s.groups.remove(&gname[..]).is_some() {
            ctx.dirty += 1;
            // Clients blocked in XREADGROUP on this group get -NOGROUP.
            ks.signal_ready(key);
            ks.notify(ev::STREAM, "xgroup-destroy", key);
            Ok(Frame::Integer(1))
        } else {
            Ok(Frame::Integer(0))
        }
    } else if is(sub, "createconsumer") && args.len() == 5 {
        let Some(g) = s.groups.get_mut(&gname[..]) else {
            return Ok(Frame::Integer(0));
        };
        let created =
            !g.consumers.contains_key(&args[4][..]) && g.consumer(&args[4], ctx.now_ms, false);
        if created {
            ctx.dirty += 1;
            ks.notify(ev::STREAM, "xgroup-createconsumer", key);
        }
        Ok(Frame::Integer(i64::from(created)))
    } else if is(sub, "delconsumer") && args.len() == 5 {
        let pending = s
            .groups
            .get_mut(&gname[..])
            .and_then(|g| g.delete_consumer(&args[4]));
        if pending.is_some() {
            ctx.dirty += 1;
            ks.notify(ev::STREAM, "xgroup-delconsumer", key);
        }
        Ok(Frame::Integer(pending.unwrap_or(0) as i64))
    } else {
        Err(subcommand_syntax("XGROUP", sub))
    }
}

fn help(lines: &[&'static str]) -> Frame {
    Frame::Array(lines.iter().map(|l| Frame::simple(l)).collect())
}

fn xack(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply((|| {
        let Some(s) = write_stream(ks, ctx, &args[1])? else {
            return Ok(Frame::Integer(0));
        };
        let Some(g) = s.groups.get_mut(&args[2][..]) else {
            return Ok(Frame::Integer(0));
        };
        let ids = args[3..]
            .iter()
            .map(|a| parse_strict(a))
            .collect::<Result<Vec<_>, _>>()?;
        let mut n = 0;
        for id in ids {
            if g.ack(id) {
                n += 1;
            }
        }
        ctx.dirty += n;
        Ok(Frame::Integer(n as i64))
    })())
}

fn xpending(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(xpending_inner(ks, ctx, args))
}

fn xpending_inner(ks: &mut Keyspace, ctx: &ExecCtx, args: &[Bytes]) -> Result<Frame, Frame> {
    let argc = args.len();
    if argc != 3 && !(6..=9).contains(&argc) {
        return Err(errors::SYNTAX);
    }
    let mut range = None;
    let mut min_idle = 0i64;
    let mut consumer = None;
    if argc >= 6 {
        let mut at = 3;
        if is(&args[3], "idle") {
            min_idle = arg_i64(&args[4])?;
            if argc < 8 {
                return Err(errors::SYNTAX);
            }
            at += 2;
        }
        if at + 2 >= argc {
            return Err(errors::SYNTAX);
        }
        let count = arg_i64(&args[at + 2])?.max(0) as usize;
        let start = parse_bound(&args[at], true)?;
        let end = parse_bound(&args[at + 1], false)?;
        if at + 3 < argc {
            consumer = Some(&args[at + 3]);
        }
        range = Some((start, end, count));
    }
    let key = &args[1];
    let gname = &args[2];
    let s = read_stream(ks, ctx, key)?;
    let Some(g) = s.and_then(|s| s.groups.get(&gname[..])) else {
        return Err(nogroup_key(key, gname));
    };
    let now = ctx.now_ms;
    let Some((start, end, count)) = range else {
        if g.pel.is_empty() {
            return Ok(Frame::Array(vec![
                Frame::Integer(0),
                Frame::Null,
                Frame::Null,
                Frame::NullArray,
            ]));
        }
        let first = *g.pel.keys().next().unwrap_or(&StreamId::MIN);
        let last = *g.pel.keys().next_back().unwrap_or(&StreamId::MIN);
        let owners = g
            .consumers
            .iter()
            .filter(|(_, c)| !c.pel.is_empty())
            .map(|(n, c)| {
                Frame::Array(vec![
                    Frame::Bulk(n.clone()),
                    Frame::Bulk(Bytes::from(c.pel.len().to_string())),
                ])
            })
            .collect();
        return Ok(Frame::Array(vec![
            Frame::Integer(g.pel.len() as i64),
            id_frame(first),
            id_frame(last),
            Frame::Array(owners),
        ]));
    };
    let mut out = Vec::new();
    if start > end || count == 0 {
        return Ok(Frame::Array(out));
    }
    let row = |id: StreamId, n: &Nack| {
        Frame::Array(vec![
            id_frame(id),
            Frame::Bulk(n.consumer.clone()),
            Frame::Integer((now - n.delivery_time).max(0)),
            Frame::Integer(n.delivery_count as i64),
        ])
    };
    match consumer {
        Some(name) => {
            let Some(c) = g.consumers.get(&name[..]) else {
                return Ok(Frame::Array(out));
            };
            for id in c.pel.range(start..=end) {
                let Some(n) = g.pel.get(id) else { continue };
                if min_idle != 0 && now - n.delivery_time < min_idle {
                    continue;
                }
                out.push(row(*id, n));
                if out.len() >= count {
                    break;
                }
            }
        }
        None => {
            for (id, n) in g.pel.range(start..=end) {
                if min_idle != 0 && now - n.delivery_time < min_idle {
                    continue;
                }
                out.push(row(*id, n));
                if out.len() >= count {
                    break;
                }
            }
        }
    }
    Ok(Frame::Array(out))
}

fn xclaim(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let had = has_consumer(ks, ctx.now_ms, &args[1], &args[2], &args[3]);
    let r = xclaim_inner(ks, ctx, args);
    note_new_consumer(ks, ctx.now_ms, had, &args[1], &args[2], &args[3]);
    reply(r)
}

/// Whether the stream under `key` has consumer `name` in group `group` (no statistics, no expiry).
fn has_consumer(ks: &Keyspace, now: i64, key: &[u8], group: &[u8], name: &[u8]) -> bool {
    ks.peek(now, key).is_some_and(|o| {
        matches!(&o.value, Value::Stream(s)
            if s.groups.get(group).is_some_and(|g| g.consumers.contains_key(name)))
    })
}

/// Emits `xgroup-createconsumer` when a command created consumer `name` (it `had` none before).
fn note_new_consumer(
    ks: &mut Keyspace,
    now: i64,
    had: bool,
    key: &[u8],
    group: &[u8],
    name: &[u8],
) {
    if !had && has_consumer(ks, now, key, group, name) {
        ks.notify(ev::STREAM, "xgroup-createconsumer", key);
    }
}

fn xclaim_inner(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Result<Frame, Frame> {
    let key = &args[1];
    let gname = &args[2];
    let has_group = write_stream(ks, ctx, key)?.is_some_and(|s| s.groups.contains_key(&gname[..]));
    if !has_group {
        return Err(nogroup_key(key, gname));
    }
    let min_idle = crate::num::parse_i64(&args[4])
        .ok_or(Frame::error(
            "ERR Invalid min-idle-time argument for XCLAIM",
        ))?
        .max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < args.len() {
        match parse_strict(&args[j]) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let now = ctx.now_ms;
    let mut force = false;
    let mut justid = false;
    let mut delivery: Option<i64> = None;
    let mut retrycount: Option<i64> = None;
    let mut last_id = StreamId::MIN;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let opt = &args[j];
        if is(opt, "force") {
            force = true;
        } else if is(opt, "justid") {
            justid = true;
        } else if is(opt, "idle") && more > 0 {
            j += 1;
            let v = crate::num::parse_i64(&args[j])
                .ok_or(Frame::error("ERR Invalid IDLE option argument for XCLAIM"))?;
            delivery = Some(now.saturating_sub(v));
        } else if is(opt, "time") && more > 0 {
            j += 1;
            delivery = Some(
                crate::num::parse_i64(&args[j])
                    .ok_or(Frame::error("ERR Invalid TIME option argument for XCLAIM"))?,
            );
        } else if is(opt, "retrycount") && more > 0 {
            j += 1;
            retrycount = Some(crate::num::parse_i64(&args[j]).ok_or(Frame::error(
                "ERR Invalid RETRYCOUNT option argument for XCLAIM",
            ))?);
        } else if is(opt, "lastid") && more > 0 {
            j += 1;
            last_id = parse_strict(&args[j])?;
        } else {
            return Err(Frame::error_owned(format!(
                "ERR Unrecognized XCLAIM option '{}'",
                errors::sanitize(opt, 128)
            )));
        }
        j += 1;
    }
    let delivery = match delivery {
        Some(t) if t >= 0 && t <= now => t,
        _ => now,
    };
    let Some(s) = write_stream(ks, ctx, key)? else {
        return Err(nogroup_key(key, gname));
    };
    if let Some(g) = s.groups.get_mut(&gname[..]) {
        if last_id > g.last_id {
            g.last_id = last_id;
            ctx.dirty += 1;
        }
    }
    let mut out = Vec::new();
    let mut cname: Option<Bytes> = None;
    for id in ids {
        let exists = s.contains(id);
        let Some(g) = s.groups.get_mut(&gname[..]) else {
            break;
        };
        if !exists {
            if g.ack(id) {
                ctx.dirty += 1;
            }
            continue;
        }
        let forced = force && !g.pel.contains_key(&id);
        if !forced {
            let Some(n) = g.pel.get(&id) else { continue };
            if min_idle != 0 && now - n.delivery_time < min_idle {
                continue;
            }
        }
        let name = match &cname {
            Some(c) => c.clone(),
            None => {
                g.consumer(&args[3], now, true);
                let c = g.consumer_name(&args[3]).unwrap_or_else(|| args[3].clone());
                cname = Some(c.clone());
                c
            }
        };
        if forced {
            // A new pending entry not yet owned: `give` below attaches it to the claiming consumer.
            g.pel.insert(
                id,
                Nack {
                    delivery_time: now,
                    delivery_count: 1,
                    consumer: name.clone(),
                },
            );
        }
        if let Some(n) = g.pel.get_mut(&id) {
            n.delivery_time = delivery;
            if let Some(rc) = retrycount.filter(|&rc| rc >= 0) {
                n.delivery_count = rc as u64;
            } else if !justid {
                n.delivery_count += 1;
            }
        }
        g.give(id, &name);
        ctx.dirty += 1;
        if justid {
            out.push(id_frame(id));
        } else if let Some(p) = s.get(id) {
            out.push(entry_frame(id, &p));
        }
    }
    Ok(Frame::Array(out))
}

fn xautoclaim(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let had = has_consumer(ks, ctx.now_ms, &args[1], &args[2], &args[3]);
    let r = xautoclaim_inner(ks, ctx, args);
    note_new_consumer(ks, ctx.now_ms, had, &args[1], &args[2], &args[3]);
    reply(r)
}

fn xautoclaim_inner(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Result<Frame, Frame> {
    let min_idle = crate::num::parse_i64(&args[4])
        .ok_or(Frame::error(
            "ERR Invalid min-idle-time argument for XAUTOCLAIM",
        ))?
        .max(0);
    let start = parse_bound(&args[5], true)?;
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if is(&args[j], "count") && more > 0 {
            let max = i64::MAX / 16;
            count = match crate::num::parse_i64(&args[j + 1]) {
                Some(c) if (1..=max).contains(&c) => c,
                _ => return Err(Frame::error("ERR COUNT must be > 0")),
            };
            j += 1;
        } else if is(&args[j], "justid") {
            justid = true;
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    let key = &args[1];
    let gname = &args[2];
    let Some(s) = write_stream(ks, ctx, key)? else {
        return Err(nogroup_key(key, gname));
    };
    if !s.groups.contains_key(&gname[..]) {
        return Err(nogroup_key(key, gname));
    }
    let now = ctx.now_ms;
    let mut attempts = count.saturating_mul(10);
    let mut claimed = Vec::new();
    let mut deleted = Vec::new();
    let mut cname: Option<Bytes> = None;
    let mut cursor = start;
    let mut next: Option<StreamId> = None;
    loop {
        // Redis' loop: attempts first, then the count, then the next pending entry.
        if attempts == 0 {
            next = s
                .groups
                .get(&gname[..])
                .and_then(|g| g.pel.range(cursor..).next().map(|(k, _)| *k));
            break;
        }
        attempts -= 1;
        if count == 0 {
            next = s
                .groups
                .get(&gname[..])
                .and_then(|g| g.pel.range(cursor..).next().map(|(k, _)| *k));
            break;
        }
        let Some((id, idle)) = s.groups.get(&gname[..]).and_then(|g| {
            g.pel
                .range(cursor..)
                .next()
                .map(|(k, n)| (*k, now - n.delivery_time))
        }) else {
            break;
        };
        cursor = match id.incr() {
            Some(c) => c,
            None => StreamId::MAX,
        };
        let exists = s.contains(id);
        let Some(g) = s.groups.get_mut(&gname[..]) else {
            break;
        };
        if !exists {
            g.ack(id);
            ctx.dirty += 1;
            deleted.push(id_frame(id));
            count -= 1;
            if id == StreamId::MAX {
                break;
            }
            continue;
        }
        if min_idle != 0 && idle < min_idle {
            if id == StreamId::MAX {
                break;
            }
            continue;
        }
        let name = match &cname {
            Some(c) => c.clone(),
            None => {
                g.consumer(&args[3], now, true);
                let c = g.consumer_name(&args[3]).unwrap_or_else(|| args[3].clone());
                cname = Some(c.clone());
                c
            }
        };
        if let Some(n) = g.pel.get_mut(&id) {
            n.delivery_time = now;
            if !justid {
                n.delivery_count += 1;
            }
        }
        g.give(id, &name);
        ctx.dirty += 1;
        if justid {
            claimed.push(id_frame(id));
        } else if let Some(p) = s.get(id) {
            claimed.push(entry_frame(id, &p));
        }
        count -= 1;
        if id == StreamId::MAX {
            break;
        }
    }
    Ok(Frame::Array(vec![
        id_frame(next.unwrap_or(StreamId::MIN)),
        Frame::Array(claimed),
        Frame::Array(deleted),
    ]))
}

// ---------------------------------------------------------------------------------------------------------------
// XINFO
// ---------------------------------------------------------------------------------------------------------------

fn xinfo(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(xinfo_inner(ks, ctx, args))
}

fn bulk_str(s: &'static str) -> Frame {
    Frame::bulk_static(s)
}

fn xinfo_inner(ks: &mut Keyspace, ctx: &ExecCtx, args: &[Bytes]) -> Result<Frame, Frame> {
    let sub = &args[1];
    if is(sub, "help") {
        return Ok(help(&[
            "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CONSUMERS <key> <groupname>",
            "    Show consumers of <groupname>.",
            "GROUPS <key>",
            "    Show the stream consumer groups.",
            "STREAM <key> [FULL [COUNT <count>]",
            "    Show information about the stream.",
            "HELP",
            "    Prints this help.",
        ]));
    }
    let key = &args[2];
    let Some(s) = read_stream(ks, ctx, key)? else {
        return Err(errors::NO_SUCH_KEY);
    };
    let now = ctx.now_ms;
    if is(sub, "consumers") {
        let Some(g) = s.groups.get(&args[3][..]) else {
            return Err(nogroup_for_key(&args[3], key));
        };
        let out = g
            .consumers
            .iter()
            .map(|(name, c)| {
                Frame::Map(vec![
                    (bulk_str("name"), Frame::Bulk(name.clone())),
                    (bulk_str("pending"), Frame::Integer(c.pel.len() as i64)),
                    (bulk_str("idle"), Frame::Integer((now - c.seen_time).max(0))),
                ])
            })
            .collect();
        return Ok(Frame::Array(out));
    }
    if is(sub, "groups") {
        let out = s
            .groups
            .iter()
            .map(|(name, g)| {
                Frame::Map(vec![
                    (bulk_str("name"), Frame::Bulk(name.clone())),
                    (
                        bulk_str("consumers"),
                        Frame::Integer(g.consumers.len() as i64),
                    ),
                    (bulk_str("pending"), Frame::Integer(g.pel.len() as i64)),
                    (bulk_str("last-delivered-id"), id_frame(g.last_id)),
                    (bulk_str("entries-read"), entries_read(g)),
                    (bulk_str("lag"), lag(s, g)),
                ])
            })
            .collect();
        return Ok(Frame::Array(out));
    }
    // STREAM [FULL [COUNT n]]
    let opts = &args[3..];
    let mut full = false;
    let mut count: i64 = 10;
    if !opts.is_empty() {
        if (opts.len() != 1 && opts.len() != 3) || !is(&opts[0], "full") {
            return Err(subcommand_syntax("XINFO", sub));
        }
        full = true;
        if opts.len() == 3 {
            if !is(&opts[1], "count") {
                return Err(subcommand_syntax("XINFO", sub));
            }
            count = arg_i64(&opts[2])?;
            if count < 0 {
                count = 10;
            }
        }
    }
    let mut m = vec![
        (bulk_str("length"), Frame::Integer(s.len() as i64)),
        (
            bulk_str("radix-tree-keys"),
            Frame::Integer(s.node_count() as i64),
        ),
        // There is no radix tree: its node count is reported as a one-level tree over the nodes would have it.
        (
            bulk_str("radix-tree-nodes"),
            Frame::Integer(s.node_count() as i64 + 1),
        ),
        (bulk_str("last-generated-id"), id_frame(s.last_id)),
        (bulk_str("max-deleted-entry-id"), id_frame(s.max_deleted_id)),
        (
            bulk_str("entries-added"),
            Frame::Integer(s.entries_added as i64),
        ),
        (bulk_str("recorded-first-entry-id"), id_frame(s.first_id)),
    ];
    let limit = |n: usize| count == 0 || (n as i64) < count;
    if !full {
        m.push((bulk_str("groups"), Frame::Integer(s.groups.len() as i64)));
        for (name, last) in [("first-entry", false), ("last-entry", true)] {
            let mut e = Frame::Null;
            s.range(StreamId::MIN, StreamId::MAX, last, |id, p| {
                e = entry_frame(id, &p);
                false
            });
            m.push((bulk_str(name), e));
        }
        return Ok(Frame::Map(m));
    }
    let mut entries = Vec::new();
    s.range(StreamId::MIN, StreamId::MAX, false, |id, p| {
        entries.push(entry_frame(id, &p));
        limit(entries.len())
    });
    m.push((bulk_str("entries"), Frame::Array(entries)));
    let groups = s
        .groups
        .iter()
        .map(|(name, g)| {
            let mut pel = Vec::new();
            for (id, n) in &g.pel {
                if !limit(pel.len()) {
                    break;
                }
                pel.push(Frame::Array(vec![
                    id_frame(*id),
                    Frame::Bulk(n.consumer.clone()),
                    Frame::Integer(n.delivery_time),
                    Frame::Integer(n.delivery_count as i64),
                ]));
            }
            let consumers = g
                .consumers
                .iter()
                .map(|(cname, c)| {
                    let mut cpel = Vec::new();
                    for id in &c.pel {
                        if !limit(cpel.len()) {
                            break;
                        }
                        let (t, n) = g
                            .pel
                            .get(id)
                            .map_or((0, 0), |n| (n.delivery_time, n.delivery_count));
                        cpel.push(Frame::Array(vec![
                            id_frame(*id),
                            Frame::Integer(t),
                            Frame::Integer(n as i64),
                        ]));
                    }
                    Frame::Map(vec![
                        (bulk_str("name"), Frame::Bulk(cname.clone())),
                        (bulk_str("seen-time"), Frame::Integer(c.seen_time)),
                        (bulk_str("pel-count"), Frame::Integer(c.pel.len() as i64)),
                        (bulk_str("pending"), Frame::Array(cpel)),
                    ])
                })
                .collect();
            Frame::Map(vec![
                (bulk_str("name"), Frame::Bulk(name.clone())),
                (bulk_str("last-delivered-id"), id_frame(g.last_id)),
                (bulk_str("entries-read"), entries_read(g)),
                (bulk_str("lag"), lag(s, g)),
                (bulk_str("pel-count"), Frame::Integer(g.pel.len() as i64)),
                (bulk_str("pending"), Frame::Array(pel)),
                (bulk_str("consumers"), Frame::Array(consumers)),
            ])
        })
        .collect();
    m.push((bulk_str("groups"), Frame::Array(groups)));
    Ok(Frame::Map(m))
}

fn entries_read(g: &Group) -> Frame {
    if g.entries_read == ENTRIES_READ_INVALID {
        Frame::Null
    } else {
        Frame::Integer(g.entries_read)
    }
}

fn lag(s: &Stream, g: &Group) -> Frame {
    s.lag(g).map_or(Frame::Null, Frame::Integer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocking::{is_would_block, retry_args};
    use crate::cmd::testing::b;
    use crate::cmd::testing::run;

    const T: i64 = 1_700_000_000_000;

    fn op(ks: &mut Keyspace, now: i64, op: fn(Vec<Bytes>) -> crate::Op, args: &[&str]) -> Frame {
        let args: Vec<Bytes> = args.iter().map(|s| Bytes::from(s.to_string())).collect();
        let mut ctx = ExecCtx::for_write(now, 1);
        crate::exec::apply_op(ks, &mut ctx, &op(args))
    }

    fn ids_of(reply: &Frame) -> Vec<String> {
        let Frame::Array(items) = reply else {
            panic!("{reply:?}")
        };
        items
            .iter()
            .map(|e| match e {
                Frame::Array(p) => match &p[0] {
                    Frame::Bulk(id) => String::from_utf8_lossy(id).into_owned(),
                    other => panic!("{other:?}"),
                },
                Frame::Bulk(id) => String::from_utf8_lossy(id).into_owned(),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn auto_ids_come_from_the_entry_time_never_a_clock() {
        let mut ks = Keyspace::new();
        assert_eq!(
            run(&mut ks, T, &["XADD", "s", "*", "f", "v"]),
            b(&format!("{T}-0"))
        );
        assert_eq!(
            run(&mut ks, T, &["XADD", "s", "*", "f", "v"]),
            b(&format!("{T}-1"))
        );
        // A clock going back keeps IDs increasing.
        assert_eq!(
            run(&mut ks, T - 5, &["XADD", "s", "*", "f", "v"]),
            b(&format!("{T}-2"))
        );
        assert_eq!(
            run(&mut ks, T, &["XADD", "s", &format!("{T}-*"), "f", "v"]),
            b(&format!("{T}-3"))
        );
        assert_eq!(
            run(
                &mut ks,
                T,
                &["XADD", "s", &format!("{}-*", T + 9), "f", "v"]
            ),
            b(&format!("{}-0", T + 9))
        );
        assert_eq!(
            run(&mut ks, T, &["XADD", "s", "5-5", "f", "v"]),
            Frame::error(
                "ERR The ID specified in XADD is equal or smaller than the target stream top item"
            )
        );
        assert_eq!(run(&mut ks, T, &["XLEN", "s"]), Frame::Integer(5));
        assert_eq!(run(&mut ks, T, &["TYPE", "s"]), Frame::simple("stream"));
        assert_eq!(run(&mut ks, T, &["OBJECT", "ENCODING", "s"]), b("stream"));
        // Two keyspaces applying the same commands agree byte for byte.
        let mut other = Keyspace::new();
        for now in [T, T, T - 5] {
            run(&mut other, now, &["XADD", "s", "*", "f", "v"]);
        }
        run(&mut other, T, &["XADD", "s", &format!("{T}-*"), "f", "v"]);
        run(
            &mut other,
            T,
            &["XADD", "s", &format!("{}-*", T + 9), "f", "v"],
        );
        assert_eq!(
            crate::snapshot::record_bytes(b"s", ks.get_raw(b"s").unwrap()),
            crate::snapshot::record_bytes(b"s", other.get_raw(b"s").unwrap())
        );
    }

    #[test]
    fn trimming_exact_and_approximate() {
        let mut ks = Keyspace::new();
        ks.config.stream_node_limits.max_entries = 10;
        for i in 1..=100 {
            run(&mut ks, T, &["XADD", "s", &format!("{i}-0"), "f", "v"]);
        }
        assert_eq!(
            run(&mut ks, T, &["XTRIM", "s", "MAXLEN", "~", "55"]),
            Frame::Integer(40)
        );
        assert_eq!(
            run(&mut ks, T, &["XTRIM", "s", "MAXLEN", "=", "55"]),
            Frame::Integer(5)
        );
        // Whole nodes whose last entry is below 70: the rest of 41-50 and all of 51-60.
        assert_eq!(
            run(&mut ks, T, &["XTRIM", "s", "MINID", "~", "70"]),
            Frame::Integer(15)
        );
        assert_eq!(
            run(&mut ks, T, &["XTRIM", "s", "MINID", "70"]),
            Frame::Integer(9)
        );
        // The node left with 70 alone, then 71-80; 81-90 would pass the limit.
        assert_eq!(
            run(
                &mut ks,
                T,
                &["XTRIM", "s", "MAXLEN", "~", "0", "LIMIT", "15"]
            ),
            Frame::Integer(11)
        );
        assert_eq!(run(&mut ks, T, &["XLEN", "s"]), Frame::Integer(20));
        assert_eq!(
            run(&mut ks, T, &["XADD", "s", "MAXLEN", "1", "*", "f", "v"]),
            b(&format!("{T}-0"))
        );
        assert_eq!(run(&mut ks, T, &["XLEN", "s"]), Frame::Integer(1));
        assert_eq!(
            run(&mut ks, T, &["XTRIM", "s", "MAXLEN", "1", "LIMIT", "1"]),
            Frame::error("ERR syntax error, LIMIT cannot be used without the special ~ option")
        );
    }

    #[test]
    fn groups_deliver_once_and_record_delivery_times_from_the_entry() {
        let mut ks = Keyspace::new();
        for i in 1..=4 {
            run(
                &mut ks,
                T,
                &["XADD", "s", &format!("{i}-0"), "f", &i.to_string()],
            );
        }
        assert_eq!(
            run(&mut ks, T, &["XGROUP", "CREATE", "s", "g", "0"]),
            Frame::ok()
        );
        let r = run(
            &mut ks,
            T + 10,
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "alice",
                "COUNT",
                "3",
                "STREAMS",
                "s",
                ">",
            ],
        );
        let Frame::ArrayMap(m) = &r else {
            panic!("{r:?}")
        };
        assert_eq!(ids_of(&m[0].1), ["1-0", "2-0", "3-0"]);
        let r = run(
            &mut ks,
            T + 20,
            &["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", ">"],
        );
        let Frame::ArrayMap(m) = &r else {
            panic!("{r:?}")
        };
        assert_eq!(ids_of(&m[0].1), ["4-0"]);
        assert_eq!(
            run(
                &mut ks,
                T + 20,
                &["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", ">"]
            ),
            Frame::NullArray
        );
        // Idle times count from the delivering entry's time.
        let p = run(&mut ks, T + 110, &["XPENDING", "s", "g", "-", "+", "10"]);
        let Frame::Array(rows) = p else { panic!() };
        assert_eq!(
            rows[0],
            Frame::Array(vec![
                b("1-0"),
                b("alice"),
                Frame::Integer(100),
                Frame::Integer(1)
            ])
        );
        assert_eq!(
            rows[3],
            Frame::Array(vec![
                b("4-0"),
                b("bob"),
                Frame::Integer(90),
                Frame::Integer(1)
            ])
        );
        // Reading one's history counts a delivery.
        run(
            &mut ks,
            T + 50,
            &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0"],
        );
        let p = run(
            &mut ks,
            T + 60,
            &["XPENDING", "s", "g", "IDLE", "15", "-", "+", "10"],
        );
        assert_eq!(ids_of(&p), ["4-0"]);
        assert_eq!(
            run(&mut ks, T, &["XACK", "s", "g", "1-0", "1-0", "9-0"]),
            Frame::Integer(1)
        );
        // XCLAIM moves ownership when idle long enough.
        let c = run(
            &mut ks,
            T + 1000,
            &["XCLAIM", "s", "g", "carol", "500", "2-0", "4-0", "JUSTID"],
        );
        assert_eq!(ids_of(&c), ["2-0", "4-0"]);
        let c = run(
            &mut ks,
            T + 1000,
            &["XCLAIM", "s", "g", "dave", "500", "2-0"],
        );
        assert_eq!(c, Frame::Array(vec![]));
        // XAUTOCLAIM reports entries deleted meanwhile and drops them from the PEL.
        run(&mut ks, T, &["XDEL", "s", "3-0"]);
        let a = run(
            &mut ks,
            T + 5000,
            &["XAUTOCLAIM", "s", "g", "erin", "10", "0"],
        );
        let Frame::Array(parts) = &a else { panic!() };
        assert_eq!(parts[0], b("0-0"));
        assert_eq!(ids_of(&parts[1]), ["2-0", "4-0"]);
        assert_eq!(parts[2], Frame::Array(vec![b("3-0")]));
        assert_eq!(
            run(&mut ks, T, &["XPENDING", "s", "g"]),
            Frame::Array(vec![
                Frame::Integer(2),
                b("2-0"),
                b("4-0"),
                Frame::Array(vec![Frame::Array(vec![b("erin"), b("2")])]),
            ])
        );
        assert_eq!(
            run(&mut ks, T, &["XGROUP", "DELCONSUMER", "s", "g", "erin"]),
            Frame::Integer(2)
        );
        assert_eq!(
            run(&mut ks, T, &["XPENDING", "s", "g"]).clone(),
            Frame::Array(vec![
                Frame::Integer(0),
                Frame::Null,
                Frame::Null,
                Frame::NullArray,
            ])
        );
    }

    #[test]
    fn blocking_reads_wait_and_dollar_becomes_the_last_id() {
        let mut ks = Keyspace::new();
        run(&mut ks, T, &["XADD", "s", "5-0", "f", "v"]);
        let r = op(
            &mut ks,
            T,
            crate::Op::Block,
            &["XREAD", "BLOCK", "0", "STREAMS", "s", "none", "$", "$"],
        );
        assert!(is_would_block(&r));
        let retry = retry_args(&r).unwrap();
        assert_eq!(retry[6], Bytes::from("5-0"));
        assert_eq!(retry[7], Bytes::from("0-0"));
        let block = xread_block(&retry, T).unwrap();
        assert_eq!(block.keys, vec![Bytes::from("s"), Bytes::from("none")]);
        let retry: Vec<String> = retry
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let retry: Vec<&str> = retry.iter().map(String::as_str).collect();
        let args: Vec<Bytes> = retry.iter().map(|s| Bytes::from(s.to_string())).collect();
        assert!(!waiter_ready(&ks, T, b"s", &args));
        run(&mut ks, T, &["XADD", "none", "1-0", "g", "w"]);
        assert!(waiter_ready(&ks, T, b"none", &args));
        let r = op(&mut ks, T, crate::Op::Retry, &retry);
        let Frame::ArrayMap(m) = &r else {
            panic!("{r:?}")
        };
        assert_eq!(m[0].0, b("none"));
        // Without BLOCK, or where blocking is not allowed, the reply is a null array.
        assert_eq!(
            run(&mut ks, T, &["XREAD", "STREAMS", "s", "$"]),
            Frame::NullArray
        );
        assert_eq!(
            run(&mut ks, T, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]),
            Frame::NullArray
        );
        assert_eq!(
            xread_block(
                &[
                    Bytes::from("xread"),
                    Bytes::from("streams"),
                    Bytes::from("s"),
                    Bytes::from("0")
                ],
                T
            ),
            None
        );
    }

    #[test]
    fn blocked_group_readers_see_deleted_streams_and_groups() {
        let mut ks = Keyspace::new();
        run(&mut ks, T, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
        let args = [
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ];
        assert!(is_would_block(&op(&mut ks, T, crate::Op::Block, &args)));
        let argv: Vec<Bytes> = args.iter().map(|s| Bytes::from(s.to_string())).collect();
        assert!(!waiter_ready(&ks, T, b"s", &argv));
        run(&mut ks, T, &["XADD", "s", "1-0", "f", "v"]);
        assert!(waiter_ready(&ks, T, b"s", &argv));
        let r = op(&mut ks, T, crate::Op::Retry, &args);
        assert!(matches!(r, Frame::ArrayMap(_)), "{r:?}");
        assert!(is_would_block(&op(&mut ks, T, crate::Op::Retry, &args)));
        run(&mut ks, T, &["XGROUP", "DESTROY", "s", "g"]);
        assert!(waiter_ready(&ks, T, b"s", &argv));
        assert_eq!(
            op(&mut ks, T, crate::Op::Retry, &args),
            Frame::error("NOGROUP the consumer group this client was blocked on no longer exists")
        );
        run(&mut ks, T, &["DEL", "s"]);
        assert_eq!(
            op(&mut ks, T, crate::Op::Retry, &args),
            Frame::error("UNBLOCKED the stream key no longer exists")
        );
        // A first attempt on a missing key is the ordinary error.
        assert_eq!(
            op(&mut ks, T, crate::Op::Block, &args),
            Frame::error(
                "NOGROUP No such key 's' or consumer group 'g' in XREADGROUP with GROUP option"
            )
        );
    }

    #[test]
    fn ids_parse_as_redis_does() {
        assert_eq!(parse_strict(b"5"), Ok(StreamId::new(5, 0)));
        assert_eq!(parse_strict(b"+5-1"), Ok(StreamId::new(5, 1)));
        assert_eq!(parse_strict(b" 7"), Ok(StreamId::new(7, 0)));
        assert_eq!(parse_strict(b"-"), Err(INVALID_ID));
        assert_eq!(parse_strict(b"-1"), Err(INVALID_ID));
        assert_eq!(parse_strict(b"1-"), Err(INVALID_ID));
        assert_eq!(parse_strict(b"18446744073709551616"), Err(INVALID_ID));
        assert_eq!(parse_bound(b"-", true), Ok(StreamId::MIN));
        assert_eq!(parse_bound(b"5", false), Ok(StreamId::new(5, u64::MAX)));
        assert_eq!(parse_bound(b"(5", true), Ok(StreamId::new(5, 1)));
        assert_eq!(parse_bound(b"(5-0", false), Ok(StreamId::new(4, u64::MAX)));
        assert_eq!(parse_bound(b"(0-0", false), Err(INVALID_END));
        assert_eq!(parse_bound(b"(-", true), Err(INVALID_ID));
        assert_eq!(
            parse_id_full(b"5-*", 0, true, true),
            Ok((StreamId::new(5, 0), false))
        );
        assert_eq!(parse_id_full(b"5-*", 0, true, false), Err(INVALID_ID));
    }
}
