//! Hashes: HSET, HGET and the rest of Redis' hash family (`t_hash.c`), with Redis 7.4's per-field deadlines
//! (HEXPIRE, HTTL, HPERSIST, ...).
//!
//! A field past its deadline is absent to every command. Writes delete such fields of the hash they touch
//! first (and the key when none is left); reads that meet them report the key so the server deletes them
//! through the write path; active expiry samples hashes holding fields with deadlines too.

use std::collections::BTreeSet;

use bytes::Bytes;
use resp::Frame;

use crate::cmd::{arg_i64, is, reply};
use crate::errors;
use crate::exec::{ExecCtx, Rng};
use crate::keyspace::{Keyspace, NO_EXPIRE};
use crate::notify::class as ev;
use crate::num::{self, LongDouble};
use crate::table::{acl, flags, CommandSpec, Handler};
use crate::types::hash::{live, Hash};
use crate::value::Value;

const RO: u32 = flags::READONLY;
const W: u32 = flags::WRITE;
const DENYOOM: u32 = flags::DENYOOM;
const FAST: u32 = flags::FAST;
const H: u32 = acl::HASH;

const SCAN_COMPLEXITY: &str =
    "O(1) for every call. O(N) for a complete iteration, including enough command \
calls for the cursor to return back to 0. N is the number of elements inside the collection..";
const FIELDS_COMPLEXITY: &str = "O(N) where N is the number of specified fields";

/// Table rows of this family.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("hset", -4, W | DENYOOM | FAST, H, Handler::Keyspace(hset))
        .keys(1, 1, 1)
        .doc(
            "hash",
            "2.0.0",
            "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is \
             called with multiple field/value pairs.",
            "Set the string value of a hash field",
        ),
    CommandSpec::new("hsetnx", 4, W | DENYOOM | FAST, H, Handler::Keyspace(hsetnx))
        .keys(1, 1, 1)
        .doc(
            "hash",
            "2.0.0",
            "O(1)",
            "Set the value of a hash field, only if the field does not exist",
        ),
    CommandSpec::new("hget", 3, RO | FAST, H, Handler::Keyspace(hget))
        .keys(1, 1, 1)
        .doc("hash", "2.0.0", "O(1)", "Get the value of a hash field"),
    CommandSpec::new("hmget", -3, RO | FAST, H, Handler::Keyspace(hmget))
        .keys(1, 1, 1)
        .doc(
            "hash",
            "2.0.0",
            "O(N) where N is the number of fields being requested.",
            "Get the values of all the given hash fields",
        ),
    CommandSpec::new("hmset", -4, W | DENYOOM | FAST, H, Handler::Keyspace(hmset))
        .keys(1, 1, 1)
        .doc(
            "hash",
            "2.0.0",
            "O(N) where N is the number of fields being set.",
            "Set multiple hash fields to multiple values",
        ),
    CommandSpec::new("hgetall", 2, RO, H, Handler::Keyspace(hgetall))
        .keys(1, 1, 1)
        .doc(
            "hash",
            "2.0.0",
            "O(N) where N is the size of the hash.",
            "Get all the fields and values in a hash",
        ),
    CommandSpec::new("hdel", -3, W | FAST, H, Handler::Keyspace(hdel))
        .keys(1, 1, 1)
        .doc(
            "hash",
            "2.0.0",
            "O(N) where N is the number of fields to be removed.",
            "Delete one or more hash fields",
        ),
    CommandSpec::new("hexists", 3, RO | FAST, H, Handler::Keyspace(hexists))
        .keys(1, 1, 1)
        .doc("hash", "2.0.0", "O(1)", "Determine if a hash field exists"),
    CommandSpec::new("hlen", 2, RO | FAST, H, Handler::Keyspace(hlen))
        .keys(1, 1, 1)
        .doc("hash", "2.0.0", "O(1)", "Get the number of fields in a hash"),
    CommandSpec::new("hkeys", 2, RO, H, Handler::Keyspace(hkeys))
        .keys(1, 1, 1)
        .doc(
            "hash",
            "2.0.0",
            "O(N) where N is the size of the hash.",
            "Get all the fields in a hash",
        ),
    CommandSpec::new("hvals", 2, RO, H, Handler::Keyspace(hvals))
        .keys(1, 1, 1)
        .doc(
            "hash",
            "2.0.0",
            "O(N) where N is the size of the hash.",
            "Get all the values in a hash",
        ),
    CommandSpec::new("hincrby", 4, W | DENYOOM | FAST, H, Handler::Keyspace(hincrby))
        .keys(1, 1, 1)
        .doc(
            "hash",
            "2.0.0",
            "O(1)",
            "Increment the integer value of a hash field by the given number",
        ),
    CommandSpec::new(
        "hincrbyfloat",
        4,
        W | DENYOOM | FAST,
        H,
        Handler::Keyspace(hincrbyfloat),
    )
    .keys(1, 1, 1)
    .doc(
        "hash",
        "2.6.0",
        "O(1)",
        "Increment the float value of a hash field by the given amount",
    ),
    CommandSpec::new("hstrlen", 3, RO | FAST, H, Handler::Keyspace(hstrlen))
        .keys(1, 1, 1)
        .doc(
            "hash",
            "3.2.0",
            "O(1)",
            "Get the length of the value of a hash field",
        ),
    CommandSpec::new("hrandfield", -2, RO, H, Handler::Keyspace(hrandfield))
        .keys(1, 1, 1)
        .doc(
            "hash",
            "6.2.0",
            "O(N) where N is the number of fields returned",
            "Get one or multiple random fields from a hash",
        ),
    CommandSpec::new("hscan", -3, RO, H, Handler::Keyspace(hscan))
        .keys(1, 1, 1)
        .doc(
            "hash",
            "2.8.0",
            SCAN_COMPLEXITY,
            "Incrementally iterate hash fields and associated values",
        ),
    CommandSpec::new("hexpire", -6, W | DENYOOM | FAST, H, Handler::Keyspace(hexpire))
        .keys(1, 1, 1)
        .doc(
            "hash",
            "7.4.0",
            FIELDS_COMPLEXITY,
            "Set expiry for hash field using relative time to expire (seconds)",
        ),
    CommandSpec::new("hpexpire", -6, W | DENYOOM | FAST, H, Handler::Keyspace(hpexpire))
        .keys(1, 1, 1)
        .doc(
            "hash",
            "7.4.0",
            FIELDS_COMPLEXITY,
            "Set expiry for hash field using relative time to expire (milliseconds)",
        ),
    CommandSpec::new("hexpireat", -6, W | DENYOOM | FAST, H, Handler::Keyspace(hexpireat))
        .keys(1, 1, 1)
        .doc(
            "hash",
            "7.4.0",
            FIELDS_COMPLEXITY,
            "Set expiry for hash field using an absolute Unix timestamp (seconds)",
        ),
    CommandSpec::new(
        "hpexpireat",
        -6,
        W | DENYOOM | FAST,
        H,
        Handler::Keyspace(hpexpireat),
    )
    .keys(1, 1, 1)
    .doc(
        "hash",
        "7.4.0",
        FIELDS_COMPLEXITY,
        "Set expiry for hash field using an absolute Unix timestamp (milliseconds)",
    ),
    CommandSpec::new("httl", -5, RO | FAST, H, Handler::Keyspace(httl))
        .keys(1, 1, 1)
        .doc(
            "hash",
            "7.4.0",
            FIELDS_COMPLEXITY,
            "Returns the TTL in seconds of a hash field.",
        ),
    CommandSpec::new("hpttl", -5, RO | FAST, H, Handler::Keyspace(hpttl))
        .keys(1, 1, 1)
        .doc(
            "hash",
            "7.4.0",
            FIELDS_COMPLEXITY,
            "Returns the TTL in milliseconds of a hash field.",
        ),
    CommandSpec::new("hexpiretime", -5, RO | FAST, H, Handler::Keyspace(hexpiretime))
        .keys(1, 1, 1)
        .doc(
            "hash",
            "7.4.0",
            FIELDS_COMPLEXITY,
            "Returns the expiration time of a hash field as a Unix timestamp, in seconds.",
        ),
    CommandSpec::new("hpexpiretime", -5, RO | FAST, H, Handler::Keyspace(hpexpiretime))
        .keys(1, 1, 1)
        .doc(
            "hash",
            "7.4.0",
            FIELDS_COMPLEXITY,
            "Returns the expiration time of a hash field as a Unix timestamp, in msec.",
        ),
    CommandSpec::new("hpersist", -5, W | FAST, H, Handler::Keyspace(hpersist))
        .keys(1, 1, 1)
        .doc(
            "hash",
            "7.4.0",
            FIELDS_COMPLEXITY,
            "Removes the expiration time for each specified field",
        ),
];

fn as_hash(v: &Value) -> Result<&Hash, Frame> {
    match v {
        Value::Hash(h) => Ok(h),
        _ => Err(errors::WRONGTYPE),
    }
}

fn as_hash_mut(v: &mut Value) -> Result<&mut Hash, Frame> {
    match v {
        Value::Hash(h) => Ok(h),
        _ => Err(errors::WRONGTYPE),
    }
}

/// The hash under `key` for a read command (counting a hit or miss), WRONGTYPE for another type. A hash
/// holding fields past their deadline is reported for deletion through the write path.
fn read_hash<'a>(
    ks: &'a mut Keyspace,
    ctx: &ExecCtx,
    key: &[u8],
) -> Result<Option<&'a Hash>, Frame> {
    if ks.has_field_deadlines(key)
        && ks
            .peek(ctx.now_ms, key)
            .is_some_and(|o| matches!(&o.value, Value::Hash(h) if h.has_due(ctx.now_ms)))
    {
        if ctx.write {
            ks.purge_due_fields(key, ctx.now_ms);
        } else {
            ks.note_due_fields(key);
        }
    }
    match ks.read(ctx, key) {
        None => Ok(None),
        Some(o) => as_hash(&o.value).map(Some),
    }
}

/// The hash under `key` for a write, WRONGTYPE for another type. Its fields past their deadline are deleted
/// first, and the key with them if no field is left.
fn write_hash<'a>(
    ks: &'a mut Keyspace,
    ctx: &mut ExecCtx,
    key: &[u8],
) -> Result<Option<&'a mut Hash>, Frame> {
    if ks.has_field_deadlines(key) && !ks.expire_if_due(key, ctx.now_ms) {
        ctx.dirty += ks.purge_due_fields(key, ctx.now_ms) as u64;
    }
    match ks.lookup(ctx, key) {
        None => Ok(None),
        Some(o) => as_hash_mut(&mut o.value).map(Some),
    }
}

/// Runs `f` on the hash under `key`, creating an empty one if absent (stored only if `f` leaves a field in
/// it): Redis' `hashTypeLookupWriteOrCreate`.
fn upsert<R>(
    ks: &mut Keyspace,
    ctx: &mut ExecCtx,
    key: &[u8],
    f: impl FnOnce(&mut Hash) -> R,
) -> Result<R, Frame> {
    match write_hash(ks, ctx, key)? {
        Some(h) => Ok(f(h)),
        None => {
            let mut h = Hash::new();
            let r = f(&mut h);
            if !h.is_empty() {
                ks.set(ctx, key, Value::Hash(h), NO_EXPIRE);
            }
            Ok(r)
        }
    }
}

/// After a write that may have removed fields or deadlines: deletes an emptied hash, refreshes the tracking
/// of hashes with field deadlines.
/// Returns whether the key was deleted.
fn settle(ks: &mut Keyspace, key: &[u8]) -> bool {
    // The stored object whatever its deadline: the command already looked the key up at its own time.
    let empty = ks
        .peek(i64::MIN, key)
        .is_some_and(|o| matches!(&o.value, Value::Hash(h) if h.is_empty()));
    if empty {
        ks.remove(key);
    } else {
        ks.sync_field_deadlines(key);
    }
    empty
}

fn bulk(b: &[u8]) -> Frame {
    Frame::Bulk(Bytes::copy_from_slice(b))
}

fn hset(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(hset_generic(ks, ctx, args, "hset").map(|n| Frame::Integer(n as i64)))
}

fn hmset(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(hset_generic(ks, ctx, args, "hmset").map(|_| Frame::ok()))
}

/// HSET and HMSET: sets every pair, returning how many fields were new.
fn hset_generic(
    ks: &mut Keyspace,
    ctx: &mut ExecCtx,
    args: &[Bytes],
    name: &str,
) -> Result<usize, Frame> {
    if args.len() % 2 == 1 {
        return Err(errors::wrong_arity(name));
    }
    let limits = ks.config.hash_limits();
    let key = &args[1];
    let created = upsert(ks, ctx, key, |h| {
        h.convert_for_lengths(args[2..].iter().map(|a| a.len()), &limits);
        args[2..]
            .chunks(2)
            .filter(|p| h.set(&p[0], &p[1], false, &limits))
            .count()
    })?;
    ctx.dirty += ((args.len() - 2) / 2) as u64;
    if ks.has_field_deadlines(key) {
        ks.sync_field_deadlines(key);
    }
    ks.notify(ev::HASH, "hset", key);
    Ok(created)
}

fn hsetnx(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let limits = ks.config.hash_limits();
    let (field, value) = (&args[2], &args[3]);
    let set = upsert(ks, ctx, &args[1], |h| {
        if h.get(field).is_some() {
            return false;
        }
        h.convert_for_lengths([field.len(), value.len()], &limits);
        h.set(field, value, false, &limits)
    });
    match set {
        Err(e) => e,
        Ok(set) => {
            if set {
                ks.notify(ev::HASH, "hset", &args[1]);
            }
            ctx.dirty += u64::from(set);
            Frame::Integer(i64::from(set))
        }
    }
}

fn hget(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let now = ctx.now_ms;
    reply(read_hash(ks, ctx, &args[1]).map(|h| {
        h.and_then(|h| h.get_live(&args[2], now))
            .map_or(Frame::Null, bulk)
    }))
}

fn hmget(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let now = ctx.now_ms;
    reply(read_hash(ks, ctx, &args[1]).map(|h| {
        Frame::Array(
            args[2..]
                .iter()
                .map(|f| h.and_then(|h| h.get_live(f, now)).map_or(Frame::Null, bulk))
                .collect(),
        )
    }))
}

fn hdel(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let key = &args[1];
    let (deleted, empty) = match write_hash(ks, ctx, key) {
        Err(e) => return e,
        Ok(None) => return Frame::Integer(0),
        Ok(Some(h)) => {
            let mut deleted = 0;
            for f in &args[2..] {
                if h.remove(f) {
                    deleted += 1;
                    if h.is_empty() {
                        break;
                    }
                }
            }
            (deleted, h.is_empty())
        }
    };
    if deleted > 0 {
        ks.notify(ev::HASH, "hdel", key);
    }
    if empty {
        ks.remove(key);
        ks.notify(ev::GENERIC, "del", key);
    } else if ks.has_field_deadlines(key) {
        ks.sync_field_deadlines(key);
    }
    ctx.dirty += deleted;
    Frame::Integer(deleted as i64)
}

fn hlen(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let now = ctx.now_ms;
    reply(
        read_hash(ks, ctx, &args[1])
            .map(|h| Frame::Integer(h.map_or(0, |h| h.live_len(now)) as i64)),
    )
}

fn hstrlen(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let now = ctx.now_ms;
    reply(read_hash(ks, ctx, &args[1]).map(|h| {
        Frame::Integer(
            h.and_then(|h| h.get_live(&args[2], now))
                .map_or(0, |v| v.len()) as i64,
        )
    }))
}

fn hexists(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let now = ctx.now_ms;
    reply(read_hash(ks, ctx, &args[1]).map(|h| {
        Frame::Integer(i64::from(
            h.and_then(|h| h.get_live(&args[2], now)).is_some(),
        ))
    }))
}

fn hkeys(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let now = ctx.now_ms;
    reply(read_hash(ks, ctx, &args[1]).map(|h| {
        Frame::Array(h.map_or_else(Vec::new, |h| h.live(now).map(|e| bulk(e.0)).collect()))
    }))
}

fn hvals(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let now = ctx.now_ms;
    reply(read_hash(ks, ctx, &args[1]).map(|h| {
        Frame::Array(h.map_or_else(Vec::new, |h| h.live(now).map(|e| bulk(e.1)).collect()))
    }))
}

fn hgetall(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let now = ctx.now_ms;
    reply(read_hash(ks, ctx, &args[1]).map(|h| {
        Frame::Map(h.map_or_else(Vec::new, |h| {
            h.live(now).map(|e| (bulk(e.0), bulk(e.1))).collect()
        }))
    }))
}

fn hincrby(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(hincrby_inner(ks, ctx, args))
}

fn hincrby_inner(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Result<Frame, Frame> {
    let incr = arg_i64(&args[3])?;
    let limits = ks.config.hash_limits();
    let field = &args[2];
    let new = upsert(ks, ctx, &args[1], |h| {
        let cur = match h.get(field) {
            Some((v, _)) => {
                num::parse_i64(v).ok_or(Frame::error("ERR hash value is not an integer"))?
            }
            None => 0,
        };
        let new = cur.checked_add(incr).ok_or(errors::OVERFLOW)?;
        // The field keeps its deadline (Redis' HASH_SET_KEEP_TTL).
        h.set(field, &num::format_i64(new), true, &limits);
        Ok(new)
    })??;
    ks.notify(ev::HASH, "hincrby", &args[1]);
    ctx.dirty += 1;
    Ok(Frame::Integer(new))
}

fn hincrbyfloat(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(hincrbyfloat_inner(ks, ctx, args))
}

fn hincrbyfloat_inner(
    ks: &mut Keyspace,
    ctx: &mut ExecCtx,
    args: &[Bytes],
) -> Result<Frame, Frame> {
    let incr = LongDouble::parse(&args[3]).ok_or(errors::NOT_FLOAT)?;
    if !incr.is_finite() {
        return Err(Frame::error("ERR value is NaN or Infinity"));
    }
    let limits = ks.config.hash_limits();
    let field = &args[2];
    let text = upsert(ks, ctx, &args[1], |h| {
        let cur = match h.get(field) {
            Some((v, _)) => {
                Some(LongDouble::parse(v).ok_or(Frame::error("ERR hash value is not a float"))?)
            }
            None => None,
        };
        let text = num::incr_by_float(cur, &args[3]).map_err(|e| match e {
            num::IncrFloatError::NotFloat => errors::NOT_FLOAT,
            num::IncrFloatError::NanOrInfinity => {
                Frame::error("ERR increment would produce NaN or Infinity")
            }
        })?;
        h.set(field, &text, true, &limits);
        Ok(text)
    })??;
    ks.notify(ev::HASH, "hincrbyfloat", &args[1]);
    ctx.dirty += 1;
    Ok(Frame::Bulk(Bytes::from(text)))
}

/// Largest count a random-with-repetitions reply (a negative count) may ask for: Redis would build any size,
/// this refuses a reply it could not hold. Each element costs at least 64 bytes here, so the reply stays
/// within `proto-max-bulk-len` bytes of memory.
pub(crate) fn max_repeated_random(ks: &Keyspace) -> u64 {
    ks.config.proto_max_bulk_len / 64
}

/// Redis' `getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX)` for the count of HRANDFIELD/SRANDMEMBER.
pub(crate) fn random_count(arg: &[u8]) -> Result<i64, Frame> {
    let l = arg_i64(arg)?;
    if l == i64::MIN {
        return Err(Frame::error(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    Ok(l)
}

/// Picks `count` distinct positions out of `0..size` (`count <= size`) by a partial Fisher-Yates shuffle.
pub(crate) fn distinct_positions(rng: &mut Rng, size: usize, count: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..size).collect();
    for i in 0..count {
        let j = i + rng.below((size - i) as u64) as usize;
        idx.swap(i, j);
    }
    idx.truncate(count);
    idx
}

/// Picks `count` positions out of `0..size` (`count <= size`) keeping their order (Knuth's selection
/// sampling, as Redis' `lpRandomPairsUnique`).
pub(crate) fn ordered_positions(rng: &mut Rng, size: usize, count: usize) -> Vec<usize> {
    let mut out = Vec::with_capacity(count);
    for i in 0..size {
        let (left, need) = ((size - i) as u64, (count - out.len()) as u64);
        if need == 0 {
            break;
        }
        if rng.below(left) < need {
            out.push(i);
        }
    }
    out
}

fn hrandfield(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(hrandfield_inner(ks, ctx, args))
}

fn hrandfield_inner(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Result<Frame, Frame> {
    let now = ctx.now_ms;
    if args.len() == 2 {
        let Some(h) = read_hash(ks, ctx, &args[1])? else {
            return Ok(Frame::Null);
        };
        let pick = if h.has_due(now) {
            let live: Vec<_> = h.live(now).collect();
            (!live.is_empty()).then(|| live[ctx.rng.below(live.len() as u64) as usize].0)
        } else {
            h.random(&mut ctx.rng).map(|(f, _)| f)
        };
        return Ok(pick.map_or(Frame::Null, bulk));
    }
    let l = random_count(&args[2])?;
    if args.len() > 4 || (args.len() == 4 && !is(&args[3], "withvalues")) {
        return Err(errors::SYNTAX);
    }
    let withvalues = args.len() == 4;
    if withvalues && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Err(Frame::error("ERR value is out of range"));
    }
    let limit = max_repeated_random(ks);
    let Some(h) = read_hash(ks, ctx, &args[1])? else {
        return Ok(Frame::Array(Vec::new()));
    };
    let (count, unique) = (l.unsigned_abs(), l >= 0);
    if count == 0 {
        return Ok(Frame::Array(Vec::new()));
    }
    let shape = |picked: Vec<(&[u8], &[u8])>| {
        if withvalues {
            Frame::Pairs(
                picked
                    .into_iter()
                    .map(|(f, v)| (bulk(f), bulk(v)))
                    .collect(),
            )
        } else {
            Frame::Array(picked.into_iter().map(|(f, _)| bulk(f)).collect())
        }
    };
    let rng = &mut ctx.rng;
    // A table without expired fields samples itself; otherwise the live fields are listed once.
    let direct = matches!(h, Hash::Table(_)) && !h.has_due(now);
    let listed: Vec<(&[u8], &[u8])> = if direct {
        Vec::new()
    } else {
        h.live(now).map(|e| (e.0, e.1)).collect()
    };
    let size = if direct { h.len() } else { listed.len() };
    if size == 0 {
        return Ok(Frame::Array(Vec::new()));
    }
    // Case 1: repetitions allowed (or a single field): independent draws.
    if !unique || count == 1 {
        if count > limit {
            return Err(Frame::error("ERR value is out of range"));
        }
        let picked = (0..count)
            .filter_map(|_| {
                if direct {
                    h.random(rng)
                } else {
                    Some(listed[rng.below(size as u64) as usize])
                }
            })
            .collect();
        return Ok(shape(picked));
    }
    let all = || -> Vec<(&[u8], &[u8])> {
        if direct {
            h.iter().map(|e| (e.0, e.1)).collect()
        } else {
            listed.clone()
        }
    };
    // Case 2: at least the whole hash.
    if count >= size as u64 {
        return Ok(shape(all()));
    }
    let count = count as usize;
    // Case 3: most of the hash: a random subset of all fields.
    if count * 3 > size {
        let all = all();
        let picked = distinct_positions(rng, size, count)
            .into_iter()
            .map(|i| all[i])
            .collect();
        return Ok(shape(picked));
    }
    // Case 4: few of many: draws until enough distinct fields (a listpack keeps its order).
    if !direct {
        let picked = ordered_positions(rng, size, count)
            .into_iter()
            .map(|i| listed[i])
            .collect();
        return Ok(shape(picked));
    }
    let mut seen = BTreeSet::new();
    let mut picked = Vec::with_capacity(count);
    while picked.len() < count {
        if let Some((f, v)) = h.random(rng) {
            if seen.insert(f) {
                picked.push((f, v));
            }
        }
    }
    Ok(shape(picked))
}

/// Parsed options of HSCAN/SSCAN: `COUNT`, `MATCH` and (HSCAN only) `NOVALUES`.
pub(crate) struct ScanOptions<'a> {
    /// Entries to visit per call.
    pub count: usize,
    /// Pattern the member or field must match; `None` for all (`*` too).
    pub pattern: Option<&'a [u8]>,
    /// HSCAN NOVALUES: fields only.
    pub novalues: bool,
}

/// Parses the options after the cursor as Redis' `scanGenericCommand` does.
pub(crate) fn scan_options(args: &[Bytes], hash: bool) -> Result<ScanOptions<'_>, Frame> {
    let mut o = ScanOptions {
        count: 10,
        pattern: None,
        novalues: false,
    };
    let mut i = 3;
    while i < args.len() {
        let has_value = i + 1 < args.len();
        if is(&args[i], "count") && has_value {
            let count = arg_i64(&args[i + 1])?;
            if count < 1 {
                return Err(errors::SYNTAX);
            }
            o.count = usize::try_from(count).unwrap_or(usize::MAX);
            i += 2;
        } else if is(&args[i], "match") && has_value {
            let p = &args[i + 1];
            o.pattern = (p.as_ref() != b"*").then_some(p.as_ref());
            i += 2;
        } else if is(&args[i], "novalues") {
            if !hash {
                return Err(Frame::error(
                    "ERR NOVALUES option can only be used in HSCAN",
                ));
            }
            o.novalues = true;
            i += 1;
        } else {
            return Err(errors::SYNTAX);
        }
    }
    Ok(o)
}

/// The reply of a SCAN-family call.
pub(crate) fn scan_reply(cursor: u64, items: Vec<Frame>) -> Frame {
    Frame::Array(vec![
        Frame::Bulk(Bytes::from(cursor.to_string())),
        Frame::Array(items),
    ])
}

fn hscan(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(hscan_inner(ks, ctx, args))
}

fn hscan_inner(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Result<Frame, Frame> {
    let cursor = super::keys::parse_cursor(&args[2]).ok_or(Frame::error("ERR invalid cursor"))?;
    let now = ctx.now_ms;
    let Some(h) = read_hash(ks, ctx, &args[1])? else {
        return Ok(scan_reply(0, Vec::new()));
    };
    let opts = scan_options(args, true)?;
    let mut out = Vec::new();
    let mut emit = |f: &[u8], v: &[u8], expire_at: i64| {
        if !live(expire_at, now)
            || opts
                .pattern
                .is_some_and(|p| !crate::glob::matches(p, f, false))
        {
            return;
        }
        out.push(bulk(f));
        if !opts.novalues {
            out.push(bulk(v));
        }
    };
    let next = match h {
        Hash::Pack(_) => {
            for (f, v, e) in h.iter() {
                emit(f, v, e);
            }
            0
        }
        Hash::Table(t) => {
            // Redis doubles COUNT for hashes (it counts fields and values) and allows ten times as many
            // bucket visits, so a sparse table cannot stall the call.
            let count = opts.count.saturating_mul(2);
            let mut budget = count.saturating_mul(10);
            let mut visited = 0usize;
            let mut cursor = cursor;
            loop {
                cursor = t.dict().scan(cursor, |f, field| {
                    visited += 2;
                    emit(f, &field.value, field.expire_at);
                });
                if cursor == 0 || budget == 0 || visited >= count {
                    break cursor;
                }
                budget -= 1;
            }
        }
    };
    Ok(scan_reply(next, out))
}

/// Unit and base time of an HEXPIRE-family command.
#[derive(Clone, Copy)]
struct ExpireForm {
    name: &'static str,
    seconds: bool,
    relative: bool,
}

fn hexpire(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let form = ExpireForm {
        name: "hexpire",
        seconds: true,
        relative: true,
    };
    reply(hexpire_generic(ks, ctx, args, form))
}

fn hpexpire(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let form = ExpireForm {
        name: "hpexpire",
        seconds: false,
        relative: true,
    };
    reply(hexpire_generic(ks, ctx, args, form))
}

fn hexpireat(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let form = ExpireForm {
        name: "hexpireat",
        seconds: true,
        relative: false,
    };
    reply(hexpire_generic(ks, ctx, args, form))
}

fn hpexpireat(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let form = ExpireForm {
        name: "hpexpireat",
        seconds: false,
        relative: false,
    };
    reply(hexpire_generic(ks, ctx, args, form))
}

/// Largest field deadline Redis accepts (`HFE_MAX_ABS_TIME_MSEC`: 2^48 - 1 ms shifted right by two).
const MAX_FIELD_DEADLINE_MS: i64 = 0x0000_FFFF_FFFF_FFFF >> 2;

/// Checks `FIELDS numfields field...` starting at `args[at]` (the FIELDS keyword); returns the fields.
fn fields_arg<'a>(
    args: &'a [Bytes],
    at: usize,
    count_error: &'static str,
) -> Result<&'a [Bytes], Frame> {
    if !args.get(at).is_some_and(|a| is(a, "fields")) {
        return Err(Frame::error(
            "ERR Mandatory argument FIELDS is missing or not at the right position",
        ));
    }
    let n = args
        .get(at + 1)
        .and_then(|a| num::parse_i64(a))
        .filter(|&n| n >= 1)
        .ok_or(Frame::error(count_error))?;
    let fields = &args[at + 2..];
    if n as u64 != fields.len() as u64 {
        return Err(Frame::error(
            "ERR The `numfields` parameter must match the number of arguments",
        ));
    }
    Ok(fields)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Cond {
    Always,
    Nx,
    Xx,
    Gt,
    Lt,
}

fn hexpire_generic(
    ks: &mut Keyspace,
    ctx: &mut ExecCtx,
    args: &[Bytes],
    form: ExpireForm,
) -> Result<Frame, Frame> {
    let key = &args[1];
    let exists = match ks.lookup(ctx, key) {
        None => false,
        Some(o) => as_hash(&o.value).map(|_| true)?,
    };
    let invalid = || {
        Frame::error_owned(format!(
            "ERR invalid expire time in '{}' command",
            form.name
        ))
    };
    let mut at = arg_i64(&args[2])?;
    if at < 0 {
        return Err(Frame::error("ERR invalid expire time, must be >= 0"));
    }
    if form.seconds {
        if at > MAX_FIELD_DEADLINE_MS / 1000 {
            return Err(invalid());
        }
        at *= 1000;
    }
    let base = if form.relative { ctx.now_ms } else { 0 };
    if at > MAX_FIELD_DEADLINE_MS - base {
        return Err(invalid());
    }
    at += base;
    let cond = [
        ("nx", Cond::Nx),
        ("xx", Cond::Xx),
        ("gt", Cond::Gt),
        ("lt", Cond::Lt),
    ]
    .into_iter()
    .find(|(n, _)| is(&args[3], n))
    .map_or(Cond::Always, |(_, c)| c);
    let fields_at = if cond == Cond::Always { 3 } else { 4 };
    let fields = fields_arg(
        args,
        fields_at,
        "ERR Parameter `numFields` should be greater than 0",
    )?;
    if !exists {
        return Ok(Frame::Array(vec![Frame::Integer(-2); fields.len()]));
    }
    let now = ctx.now_ms;
    let Some(h) = write_hash(ks, ctx, key)? else {
        return Ok(Frame::Array(vec![Frame::Integer(-2); fields.len()]));
    };
    let (mut updated, mut deleted) = (0u64, 0u64);
    let mut codes = Vec::with_capacity(fields.len());
    for f in fields {
        let Some((_, prev)) = h.get(f) else {
            codes.push(Frame::Integer(-2));
            continue;
        };
        let refused = if prev == NO_EXPIRE {
            // A field without a deadline counts as later than any for LT, and fails XX and GT.
            matches!(cond, Cond::Xx | Cond::Gt)
        } else {
            match cond {
                Cond::Nx => true,
                Cond::Gt => prev >= at,
                Cond::Lt => prev <= at,
                Cond::Xx | Cond::Always => false,
            }
        };
        if refused {
            codes.push(Frame::Integer(0));
        } else if at <= now {
            h.remove(f);
            deleted += 1;
            codes.push(Frame::Integer(2));
        } else {
            h.set_deadline(f, at);
            updated += 1;
            codes.push(Frame::Integer(1));
        }
    }
    ks.stats.expired_subkeys += deleted;
    ctx.dirty += updated + deleted;
    if updated + deleted > 0 {
        ks.notify(ev::HASH, if deleted > 0 { "hdel" } else { "hexpire" }, key);
    }
    if settle(ks, key) {
        ks.notify(ev::GENERIC, "del", key);
    }
    Ok(Frame::Array(codes))
}

fn httl(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let now = ctx.now_ms;
    reply(httl_generic(ks, ctx, args, true, now))
}

fn hpttl(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let now = ctx.now_ms;
    reply(httl_generic(ks, ctx, args, false, now))
}

fn hexpiretime(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(httl_generic(ks, ctx, args, true, 0))
}

fn hpexpiretime(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(httl_generic(ks, ctx, args, false, 0))
}

/// HTTL, HPTTL, HEXPIRETIME, HPEXPIRETIME: per field -2 (absent), -1 (no deadline), else the deadline
/// relative to `base` (now, or 0 for the absolute forms), seconds rounded up.
fn httl_generic(
    ks: &mut Keyspace,
    ctx: &mut ExecCtx,
    args: &[Bytes],
    seconds: bool,
    base: i64,
) -> Result<Frame, Frame> {
    let now = ctx.now_ms;
    let h = read_hash(ks, ctx, &args[1])?;
    let fields = fields_arg(args, 2, "ERR Number of fields must be a positive integer")?;
    Ok(Frame::Array(
        fields
            .iter()
            .map(|f| {
                Frame::Integer(match h.and_then(|h| h.get(f)) {
                    None => -2,
                    Some((_, NO_EXPIRE)) => -1,
                    Some((_, at)) if at <= now => -2,
                    Some((_, at)) if seconds => (at + 999 - base) / 1000,
                    Some((_, at)) => at - base,
                })
            })
            .collect(),
    ))
}

fn hpersist(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(hpersist_inner(ks, ctx, args))
}

fn hpersist_inner(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Result<Frame, Frame> {
    let key = &args[1];
    let exists = match ks.lookup(ctx, key) {
        None => false,
        Some(o) => as_hash(&o.value).map(|_| true)?,
    };
    let fields = fields_arg(args, 2, "ERR Number of fields must be a positive integer")?;
    let h = if exists {
        write_hash(ks, ctx, key)?
    } else {
        None
    };
    let Some(h) = h else {
        return Ok(Frame::Array(vec![Frame::Integer(-2); fields.len()]));
    };
    let mut changed = false;
    let codes = fields
        .iter()
        .map(|f| {
            let deadline = h.get(f).map(|(_, at)| at);
            Frame::Integer(match deadline {
                None => -2,
                Some(NO_EXPIRE) => -1,
                Some(_) => {
                    h.set_deadline(f, NO_EXPIRE);
                    changed = true;
                    1
                }
            })
        })
        .collect();
    if changed {
        ctx.dirty += 1;
        ks.sync_field_deadlines(key);
        ks.notify(ev::HASH, "hpersist", key);
    }
    Ok(Frame::Array(codes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::testing::{arr, b, err, int};
    use crate::cmd::testing::{run, run_dirty};
    use crate::exec::{apply, LogEntry, Op};
    use crate::table::KeySpec;

    const T0: i64 = 1_700_000_000_000;

    fn ints(v: &[i64]) -> Frame {
        Frame::Array(v.iter().map(|&i| int(i)).collect())
    }

    /// Bulk strings of a flat reply, sorted.
    fn sorted(f: Frame) -> Vec<String> {
        let items = match f {
            Frame::Array(v) | Frame::Set(v) => v,
            Frame::Map(m) => m.into_iter().flat_map(|(k, v)| [k, v]).collect(),
            Frame::Pairs(m) => m.into_iter().flat_map(|(k, v)| [k, v]).collect(),
            other => panic!("not a list: {other:?}"),
        };
        let mut out: Vec<String> = items
            .into_iter()
            .map(|f| match f {
                Frame::Bulk(b) => String::from_utf8(b.to_vec()).unwrap(),
                other => panic!("not bulk: {other:?}"),
            })
            .collect();
        out.sort();
        out
    }

    fn encoding(ks: &mut Keyspace, key: &str) -> Frame {
        run(ks, T0, &["OBJECT", "ENCODING", key])
    }

    const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

    #[test]
    fn table_rows_follow_redis_json() {
        use flags::*;
        type Row = (&'static str, i32, u32);
        let rows: &[Row] = &[
            ("hset", -4, WRITE | DENYOOM | FAST),
            ("hsetnx", 4, WRITE | DENYOOM | FAST),
            ("hget", 3, READONLY | FAST),
            ("hmget", -3, READONLY | FAST),
            ("hmset", -4, WRITE | DENYOOM | FAST),
            ("hgetall", 2, READONLY),
            ("hdel", -3, WRITE | FAST),
            ("hexists", 3, READONLY | FAST),
            ("hlen", 2, READONLY | FAST),
            ("hkeys", 2, READONLY),
            ("hvals", 2, READONLY),
            ("hincrby", 4, WRITE | DENYOOM | FAST),
            ("hincrbyfloat", 4, WRITE | DENYOOM | FAST),
            ("hstrlen", 3, READONLY | FAST),
            ("hrandfield", -2, READONLY),
            ("hscan", -3, READONLY),
            ("hexpire", -6, WRITE | DENYOOM | FAST),
            ("hpexpire", -6, WRITE | DENYOOM | FAST),
            ("hexpireat", -6, WRITE | DENYOOM | FAST),
            ("hpexpireat", -6, WRITE | DENYOOM | FAST),
            ("httl", -5, READONLY | FAST),
            ("hpttl", -5, READONLY | FAST),
            ("hexpiretime", -5, READONLY | FAST),
            ("hpexpiretime", -5, READONLY | FAST),
            ("hpersist", -5, WRITE | FAST),
        ];
        assert_eq!(COMMANDS.len(), rows.len());
        for &(name, arity, fl) in rows {
            let spec = crate::table::lookup(name.to_uppercase().as_bytes()).unwrap();
            assert_eq!(spec.arity, arity, "{name}");
            assert_eq!(spec.flags, fl, "{name}");
            assert_eq!(spec.doc.group, "hash", "{name}");
            assert!(!spec.doc.summary.is_empty(), "{name}");
            let cats = spec.acl_categories();
            assert_ne!(cats & acl::HASH, 0, "{name}");
            assert_eq!(cats & acl::FAST != 0, fl & FAST != 0, "{name}");
            assert!(
                matches!(
                    spec.keys,
                    KeySpec::Range {
                        first: 1,
                        last: 1,
                        step: 1
                    }
                ),
                "{name}"
            );
        }
    }

    #[test]
    fn arity_errors() {
        let mut ks = Keyspace::new();
        for (args, name) in [
            (&["HSET", "h", "f"][..], "hset"),
            (&["HSET", "h", "f", "v", "g"], "hset"),
            (&["HMSET", "h", "f", "v", "g"], "hmset"),
            (&["HGET", "h"], "hget"),
            (&["HMGET", "h"], "hmget"),
            (&["HDEL", "h"], "hdel"),
            (&["HRANDFIELD"], "hrandfield"),
            (&["HSCAN", "h"], "hscan"),
            (&["HEXPIRE", "h", "1", "FIELDS", "1"], "hexpire"),
            (&["HTTL", "h", "FIELDS", "1"], "httl"),
            (&["HPERSIST", "h", "FIELDS", "1"], "hpersist"),
        ] {
            assert_eq!(run(&mut ks, T0, args), errors::wrong_arity(name));
        }
        assert!(ks.is_empty());
    }

    #[test]
    fn set_get_and_friends() {
        let mut ks = Keyspace::new();
        assert_eq!(
            run_dirty(&mut ks, T0, &["HSET", "h", "a", "1", "b", "2"]),
            (int(2), 2)
        );
        assert_eq!(
            run_dirty(&mut ks, T0, &["HSET", "h", "a", "3", "c", "4"]),
            (int(1), 2)
        );
        assert_eq!(run(&mut ks, T0, &["HMSET", "h", "d", "5"]), Frame::ok());
        assert_eq!(run(&mut ks, T0, &["HGET", "h", "a"]), b("3"));
        assert_eq!(run(&mut ks, T0, &["HGET", "h", "zz"]), Frame::Null);
        assert_eq!(run(&mut ks, T0, &["HGET", "nokey", "a"]), Frame::Null);
        assert_eq!(
            run(&mut ks, T0, &["HMGET", "h", "a", "zz", "d"]),
            Frame::Array(vec![b("3"), Frame::Null, b("5")])
        );
        assert_eq!(
            run(&mut ks, T0, &["HMGET", "nokey", "a", "b"]),
            Frame::Array(vec![Frame::Null, Frame::Null])
        );
        assert_eq!(run(&mut ks, T0, &["HLEN", "h"]), int(4));
        assert_eq!(run(&mut ks, T0, &["HLEN", "nokey"]), int(0));
        assert_eq!(run(&mut ks, T0, &["HEXISTS", "h", "b"]), int(1));
        assert_eq!(run(&mut ks, T0, &["HEXISTS", "h", "zz"]), int(0));
        assert_eq!(run(&mut ks, T0, &["HSTRLEN", "h", "a"]), int(1));
        assert_eq!(run(&mut ks, T0, &["HSTRLEN", "h", "zz"]), int(0));
        // Insertion order for a listpack, as Redis.
        assert_eq!(
            run(&mut ks, T0, &["HKEYS", "h"]),
            arr(&["a", "b", "c", "d"])
        );
        assert_eq!(
            run(&mut ks, T0, &["HVALS", "h"]),
            arr(&["3", "2", "4", "5"])
        );
        assert_eq!(
            run(&mut ks, T0, &["HGETALL", "h"]),
            Frame::Map(vec![
                (b("a"), b("3")),
                (b("b"), b("2")),
                (b("c"), b("4")),
                (b("d"), b("5"))
            ])
        );
        assert_eq!(run(&mut ks, T0, &["HGETALL", "nokey"]), Frame::Map(vec![]));
        assert_eq!(run(&mut ks, T0, &["HKEYS", "nokey"]), Frame::Array(vec![]));
        assert_eq!(run(&mut ks, T0, &["HSETNX", "h", "a", "9"]), int(0));
        assert_eq!(
            run_dirty(&mut ks, T0, &["HSETNX", "h", "e", "9"]),
            (int(1), 1)
        );
        assert_eq!(
            run_dirty(&mut ks, T0, &["HSETNX", "new", "e", "9"]),
            (int(1), 1)
        );
        assert_eq!(run(&mut ks, T0, &["TYPE", "new"]), Frame::simple("hash"));
        assert_eq!(encoding(&mut ks, "h"), b("listpack"));
    }

    #[test]
    fn hdel_deletes_fields_then_the_key() {
        let mut ks = Keyspace::new();
        run(&mut ks, T0, &["HSET", "h", "a", "1", "b", "2", "c", "3"]);
        assert_eq!(
            run_dirty(&mut ks, T0, &["HDEL", "h", "a", "zz", "a"]),
            (int(1), 1)
        );
        assert_eq!(run(&mut ks, T0, &["HDEL", "nokey", "a"]), int(0));
        // The hash empties before the last argument: that one is not counted.
        assert_eq!(run(&mut ks, T0, &["HDEL", "h", "b", "c", "b"]), int(2));
        assert_eq!(run(&mut ks, T0, &["EXISTS", "h"]), int(0));
    }

    #[test]
    fn wrong_type_everywhere() {
        let mut ks = Keyspace::new();
        run(&mut ks, T0, &["SET", "s", "x"]);
        for args in [
            &["HSET", "s", "a", "1"][..],
            &["HSETNX", "s", "a", "1"],
            &["HMSET", "s", "a", "1"],
            &["HGET", "s", "a"],
            &["HMGET", "s", "a"],
            &["HGETALL", "s"],
            &["HDEL", "s", "a"],
            &["HEXISTS", "s", "a"],
            &["HLEN", "s"],
            &["HKEYS", "s"],
            &["HVALS", "s"],
            &["HINCRBY", "s", "a", "1"],
            &["HINCRBYFLOAT", "s", "a", "1"],
            &["HSTRLEN", "s", "a"],
            &["HRANDFIELD", "s"],
            &["HRANDFIELD", "s", "0"],
            &["HSCAN", "s", "0"],
            &["HEXPIRE", "s", "10", "FIELDS", "1", "a"],
            &["HEXPIRE", "s", "-1", "FIELDS", "1", "a"],
            &["HPEXPIREAT", "s", "10", "FIELDS", "1", "a"],
            &["HTTL", "s", "FIELDS", "1", "a"],
            &["HPEXPIRETIME", "s", "FIELDS", "1", "a"],
            &["HPERSIST", "s", "FIELDS", "1", "a"],
        ] {
            assert_eq!(run(&mut ks, T0, args), err(WRONGTYPE), "{args:?}");
        }
        run(&mut ks, T0, &["HSET", "h", "a", "1"]);
        for args in [
            &["GET", "h"][..],
            &["APPEND", "h", "x"],
            &["INCR", "h"],
            &["INCRBYFLOAT", "h", "1"],
            &["STRLEN", "h"],
            &["GETRANGE", "h", "0", "1"],
            &["SETRANGE", "h", "0", "x"],
            &["GETBIT", "h", "0"],
            &["SADD", "h", "x"],
        ] {
            assert_eq!(run(&mut ks, T0, args), err(WRONGTYPE), "{args:?}");
        }
        assert_eq!(
            run(&mut ks, T0, &["MGET", "h"]),
            Frame::Array(vec![Frame::Null])
        );
        assert_eq!(run(&mut ks, T0, &["SET", "h", "v"]), Frame::ok());
    }

    #[test]
    fn hincrby_and_hincrbyfloat() {
        let mut ks = Keyspace::new();
        assert_eq!(run(&mut ks, T0, &["HINCRBY", "h", "n", "5"]), int(5));
        assert_eq!(
            run_dirty(&mut ks, T0, &["HINCRBY", "h", "n", "-7"]),
            (int(-2), 1)
        );
        assert_eq!(
            run(&mut ks, T0, &["HINCRBY", "h", "n", "x"]),
            err("ERR value is not an integer or out of range")
        );
        run(
            &mut ks,
            T0,
            &[
                "HSET",
                "h",
                "s",
                " 1",
                "big",
                "9223372036854775807",
                "f",
                "1.5",
            ],
        );
        assert_eq!(
            run(&mut ks, T0, &["HINCRBY", "h", "s", "1"]),
            err("ERR hash value is not an integer")
        );
        assert_eq!(
            run(&mut ks, T0, &["HINCRBY", "h", "f", "1"]),
            err("ERR hash value is not an integer")
        );
        assert_eq!(
            run(&mut ks, T0, &["HINCRBY", "h", "big", "1"]),
            err("ERR increment or decrement would overflow")
        );
        // The argument is checked before the key.
        run(&mut ks, T0, &["SET", "str", "x"]);
        assert_eq!(
            run(&mut ks, T0, &["HINCRBY", "str", "n", "x"]),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(
            run(&mut ks, T0, &["HINCRBYFLOAT", "h", "f", "0.1"]),
            b("1.6")
        );
        assert_eq!(run(&mut ks, T0, &["HINCRBYFLOAT", "h", "n", "1"]), b("-1"));
        assert_eq!(
            run(&mut ks, T0, &["HINCRBYFLOAT", "h", "new", "3.0e3"]),
            b("3000")
        );
        assert_eq!(
            run(&mut ks, T0, &["HINCRBYFLOAT", "h", "f", "x"]),
            err("ERR value is not a valid float")
        );
        assert_eq!(
            run(&mut ks, T0, &["HINCRBYFLOAT", "h", "f", "inf"]),
            err("ERR value is NaN or Infinity")
        );
        assert_eq!(
            run(&mut ks, T0, &["HINCRBYFLOAT", "h", "s", "1"]),
            err("ERR hash value is not a float")
        );
        run(&mut ks, T0, &["HSET", "h", "max", "1e4932"]);
        assert_eq!(
            run(&mut ks, T0, &["HINCRBYFLOAT", "h", "max", "1e4932"]),
            err("ERR increment would produce NaN or Infinity")
        );
        assert_eq!(run(&mut ks, T0, &["HGET", "h", "f"]), b("1.6"));
    }

    #[test]
    fn encodings_follow_the_configured_limits() {
        let mut ks = Keyspace::new();
        ks.config.hash_max_listpack_entries = 4;
        ks.config.hash_max_listpack_value = 8;
        run(
            &mut ks,
            T0,
            &["HSET", "h", "a", "1", "b", "2", "c", "3", "d", "4"],
        );
        assert_eq!(encoding(&mut ks, "h"), b("listpack"));
        run(&mut ks, T0, &["HSET", "h", "e", "5"]);
        assert_eq!(encoding(&mut ks, "h"), b("hashtable"));
        assert_eq!(
            sorted(run(&mut ks, T0, &["HKEYS", "h"])),
            vec!["a", "b", "c", "d", "e"]
        );
        // A long value converts, even for a field that already exists (hashTypeTryConversion).
        run(&mut ks, T0, &["HSET", "v", "a", "1"]);
        run(&mut ks, T0, &["HSET", "v", "a", "123456789"]);
        assert_eq!(encoding(&mut ks, "v"), b("hashtable"));
        run(&mut ks, T0, &["HSETNX", "w", "123456789", "1"]);
        assert_eq!(encoding(&mut ks, "w"), b("hashtable"));
        // HINCRBYFLOAT's result can outgrow the limit too.
        run(&mut ks, T0, &["HSET", "x", "f", "1"]);
        run(&mut ks, T0, &["HINCRBYFLOAT", "x", "f", "0.0000001"]);
        assert_eq!(encoding(&mut ks, "x"), b("hashtable"));
        ks.config.hash_max_listpack_entries = 0;
        run(&mut ks, T0, &["HSET", "z", "a", "1"]);
        assert_eq!(encoding(&mut ks, "z"), b("hashtable"));
    }

    #[test]
    fn hrandfield_cases() {
        let mut ks = Keyspace::new();
        assert_eq!(run(&mut ks, T0, &["HRANDFIELD", "nokey"]), Frame::Null);
        assert_eq!(
            run(&mut ks, T0, &["HRANDFIELD", "nokey", "5"]),
            Frame::Array(vec![])
        );
        run(&mut ks, T0, &["HSET", "h", "a", "1", "b", "2", "c", "3"]);
        assert_eq!(
            run(&mut ks, T0, &["HRANDFIELD", "h", "0"]),
            Frame::Array(vec![])
        );
        assert_eq!(
            run(&mut ks, T0, &["HRANDFIELD", "h", "1", "x"]),
            err("ERR syntax error")
        );
        assert_eq!(
            run(&mut ks, T0, &["HRANDFIELD", "h", "1", "withvalues", "x"]),
            err("ERR syntax error")
        );
        assert_eq!(
            run(&mut ks, T0, &["HRANDFIELD", "h", "-9223372036854775808"]),
            err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
        );
        assert_eq!(
            run(
                &mut ks,
                T0,
                &["HRANDFIELD", "h", "-9223372036854770000", "withvalues"]
            ),
            err("ERR value is out of range")
        );
        // A repetition count past what a reply may hold is refused instead of allocated.
        assert_eq!(
            run(&mut ks, T0, &["HRANDFIELD", "h", "-100000000000"]),
            err("ERR value is out of range")
        );
        for table in [false, true] {
            if table {
                ks.config.hash_max_listpack_entries = 1;
                run(&mut ks, T0, &["HSET", "h", "d", "4"]);
                run(&mut ks, T0, &["HDEL", "h", "d"]);
                assert_eq!(encoding(&mut ks, "h"), b("hashtable"));
            }
            let one = run(&mut ks, T0, &["HRANDFIELD", "h"]);
            assert!(["a", "b", "c"].iter().any(|f| one == b(f)), "{one:?}");
            // Whole hash for a count at least its size.
            assert_eq!(
                sorted(run(&mut ks, T0, &["HRANDFIELD", "h", "10"])),
                vec!["a", "b", "c"]
            );
            assert_eq!(
                sorted(run(&mut ks, T0, &["HRANDFIELD", "h", "3", "WITHVALUES"])),
                vec!["1", "2", "3", "a", "b", "c"]
            );
            // Distinct fields for positive counts below the size.
            for n in 1..3 {
                let got = sorted(run(&mut ks, T0, &["HRANDFIELD", "h", &n.to_string()]));
                assert_eq!(got.len(), n);
                assert!(got.windows(2).all(|w| w[0] != w[1]));
            }
            // Repetitions for negative counts, values matching fields.
            let Frame::Pairs(p) = run(&mut ks, T0, &["HRANDFIELD", "h", "-20", "withvalues"])
            else {
                panic!()
            };
            assert_eq!(p.len(), 20);
            for (f, v) in p {
                let want = match f {
                    Frame::Bulk(ref x) if &x[..] == b"a" => "1",
                    Frame::Bulk(ref x) if &x[..] == b"b" => "2",
                    _ => "3",
                };
                assert_eq!(v, b(want));
            }
            let Frame::Array(v) = run(&mut ks, T0, &["HRANDFIELD", "h", "-20"]) else {
                panic!()
            };
            assert_eq!(v.len(), 20);
        }
        // Many fields, few wanted: case 4 of both encodings.
        let mut big = vec!["HSET".to_string(), "big".to_string()];
        for i in 0..100 {
            big.push(format!("f{i}"));
            big.push(i.to_string());
        }
        let big: Vec<&str> = big.iter().map(String::as_str).collect();
        for limit in [1000, 10] {
            ks.config.hash_max_listpack_entries = limit;
            run(&mut ks, T0, &["DEL", "big"]);
            run(&mut ks, T0, &big);
            let got = sorted(run(&mut ks, T0, &["HRANDFIELD", "big", "10"]));
            assert_eq!(got.len(), 10);
            assert!(got.windows(2).all(|w| w[0] != w[1]));
            let got = sorted(run(&mut ks, T0, &["HRANDFIELD", "big", "60"]));
            assert_eq!(got.len(), 60);
            assert!(got.windows(2).all(|w| w[0] != w[1]));
        }
    }

    #[test]
    fn hscan_listpack_and_table() {
        let mut ks = Keyspace::new();
        assert_eq!(
            run(&mut ks, T0, &["HSCAN", "nokey", "0", "COUNT", "0"]),
            scan_reply(0, vec![])
        );
        run(&mut ks, T0, &["HSET", "h", "a1", "1", "b1", "2", "a2", "3"]);
        assert_eq!(
            run(&mut ks, T0, &["HSCAN", "h", "0"]),
            scan_reply(0, vec![b("a1"), b("1"), b("b1"), b("2"), b("a2"), b("3")])
        );
        assert_eq!(
            run(&mut ks, T0, &["HSCAN", "h", "0", "MATCH", "a*", "NOVALUES"]),
            scan_reply(0, vec![b("a1"), b("a2")])
        );
        assert_eq!(
            run(&mut ks, T0, &["HSCAN", "h", "x"]),
            err("ERR invalid cursor")
        );
        assert_eq!(
            run(&mut ks, T0, &["HSCAN", "h", "0", "COUNT", "0"]),
            err("ERR syntax error")
        );
        assert_eq!(
            run(&mut ks, T0, &["HSCAN", "h", "0", "COUNT", "x"]),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(
            run(&mut ks, T0, &["HSCAN", "h", "0", "MATCH"]),
            err("ERR syntax error")
        );
        // A table is walked along its cursor; every field comes back.
        let mut args = vec!["HSET".to_string(), "t".to_string()];
        for i in 0..1000 {
            args.push(format!("f{i}"));
            args.push(format!("v{i}"));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&mut ks, T0, &args);
        let mut seen = BTreeSet::new();
        let mut cursor = "0".to_string();
        let mut calls = 0;
        loop {
            let Frame::Array(r) = run(&mut ks, T0, &["HSCAN", "t", &cursor, "COUNT", "20"]) else {
                panic!()
            };
            let [Frame::Bulk(c), Frame::Array(items)] = &r[..] else {
                panic!()
            };
            for pair in items.chunks(2) {
                let (Frame::Bulk(f), Frame::Bulk(v)) = (&pair[0], &pair[1]) else {
                    panic!()
                };
                assert_eq!(&v[1..], &f[1..]);
                seen.insert(f.to_vec());
            }
            calls += 1;
            cursor = String::from_utf8(c.to_vec()).unwrap();
            if cursor == "0" {
                break;
            }
        }
        assert_eq!(seen.len(), 1000);
        assert!(calls > 10, "{calls}");
    }

    fn fields(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("f{i}")).collect()
    }

    #[test]
    fn hexpire_argument_errors() {
        let mut ks = Keyspace::new();
        run(&mut ks, T0, &["HSET", "h", "a", "1"]);
        for (args, e) in [
            (
                &["HEXPIRE", "h", "x", "FIELDS", "1", "a"][..],
                "ERR value is not an integer or out of range",
            ),
            (
                &["HEXPIRE", "h", "-1", "FIELDS", "1", "a"],
                "ERR invalid expire time, must be >= 0",
            ),
            (
                &["HEXPIRE", "h", "70368744177", "FIELDS", "1", "a"],
                "ERR invalid expire time in 'hexpire' command",
            ),
            (
                &["HPEXPIRE", "h", "70368744177663", "FIELDS", "1", "a"],
                "ERR invalid expire time in 'hpexpire' command",
            ),
            (
                &["HPEXPIREAT", "h", "70368744177664", "FIELDS", "1", "a"],
                "ERR invalid expire time in 'hpexpireat' command",
            ),
            (
                &["HEXPIRE", "h", "10", "XX", "FIELD", "1", "a"],
                "ERR Mandatory argument FIELDS is missing or not at the right position",
            ),
            (
                &["HEXPIRE", "h", "10", "1", "FIELDS", "a"],
                "ERR Mandatory argument FIELDS is missing or not at the right position",
            ),
            (
                &["HEXPIRE", "h", "10", "FIELDS", "0", "a"],
                "ERR Parameter `numFields` should be greater than 0",
            ),
            (
                &["HEXPIRE", "h", "10", "FIELDS", "x", "a"],
                "ERR Parameter `numFields` should be greater than 0",
            ),
            (
                &["HEXPIRE", "h", "10", "FIELDS", "2", "a"],
                "ERR The `numfields` parameter must match the number of arguments",
            ),
            (
                &["HEXPIRE", "h", "10", "NX", "FIELDS", "1", "a", "b"],
                "ERR The `numfields` parameter must match the number of arguments",
            ),
            (
                &["HTTL", "h", "FIELD", "1", "a"],
                "ERR Mandatory argument FIELDS is missing or not at the right position",
            ),
            (
                &["HTTL", "h", "FIELDS", "0", "a"],
                "ERR Number of fields must be a positive integer",
            ),
            (
                &["HTTL", "h", "FIELDS", "-1", "a"],
                "ERR Number of fields must be a positive integer",
            ),
            (
                &["HTTL", "h", "FIELDS", "2", "a"],
                "ERR The `numfields` parameter must match the number of arguments",
            ),
            (
                &["HPERSIST", "h", "FIELDS", "0", "a"],
                "ERR Number of fields must be a positive integer",
            ),
            (
                &["HPERSIST", "h", "FIELDS", "3", "a"],
                "ERR The `numfields` parameter must match the number of arguments",
            ),
        ] {
            assert_eq!(run(&mut ks, T0, args), err(e), "{args:?}");
        }
        assert_eq!(
            run(&mut ks, T0, &["HTTL", "h", "FIELDS", "1", "a"]),
            ints(&[-1])
        );
    }

    #[test]
    fn field_deadlines_set_read_and_clear() {
        for table in [false, true] {
            let mut ks = Keyspace::new();
            if table {
                ks.config.hash_max_listpack_entries = 0;
            }
            run(&mut ks, T0, &["HSET", "h", "a", "1", "b", "2", "c", "3"]);
            // Missing key: -2 for every field.
            assert_eq!(
                run(
                    &mut ks,
                    T0,
                    &["HEXPIRE", "nokey", "10", "FIELDS", "2", "a", "b"]
                ),
                ints(&[-2, -2])
            );
            assert_eq!(
                run(&mut ks, T0, &["HTTL", "nokey", "FIELDS", "1", "a"]),
                ints(&[-2])
            );
            assert_eq!(
                run(&mut ks, T0, &["HPERSIST", "nokey", "FIELDS", "1", "a"]),
                ints(&[-2])
            );
            assert_eq!(
                run_dirty(
                    &mut ks,
                    T0,
                    &["HEXPIRE", "h", "100", "FIELDS", "3", "a", "zz", "b"]
                ),
                (ints(&[1, -2, 1]), 2)
            );
            assert_eq!(
                encoding(&mut ks, "h"),
                b(if table { "hashtable" } else { "listpackex" })
            );
            assert_eq!(
                run(
                    &mut ks,
                    T0 + 1,
                    &["HTTL", "h", "FIELDS", "3", "a", "c", "zz"]
                ),
                ints(&[100, -1, -2])
            );
            assert_eq!(
                run(&mut ks, T0 + 1, &["HPTTL", "h", "FIELDS", "1", "a"]),
                ints(&[99_999])
            );
            assert_eq!(
                run(&mut ks, T0, &["HEXPIRETIME", "h", "FIELDS", "1", "a"]),
                ints(&[(T0 + 100_000) / 1000])
            );
            assert_eq!(
                run(&mut ks, T0, &["HPEXPIRETIME", "h", "FIELDS", "2", "a", "c"]),
                ints(&[T0 + 100_000, -1])
            );
            // Conditions: NX only without a deadline, XX only with one, GT/LT compare (no deadline = forever).
            assert_eq!(
                run(
                    &mut ks,
                    T0,
                    &["HEXPIRE", "h", "50", "NX", "FIELDS", "2", "a", "c"]
                ),
                ints(&[0, 1])
            );
            assert_eq!(
                run(&mut ks, T0, &["HPERSIST", "h", "FIELDS", "1", "c"]),
                ints(&[1])
            );
            assert_eq!(
                run(
                    &mut ks,
                    T0,
                    &["HEXPIRE", "h", "50", "XX", "FIELDS", "2", "a", "c"]
                ),
                ints(&[1, 0])
            );
            assert_eq!(
                run(
                    &mut ks,
                    T0,
                    &["HEXPIRE", "h", "40", "GT", "FIELDS", "2", "a", "c"]
                ),
                ints(&[0, 0])
            );
            assert_eq!(
                run(
                    &mut ks,
                    T0,
                    &["HEXPIRE", "h", "60", "GT", "FIELDS", "1", "a"]
                ),
                ints(&[1])
            );
            assert_eq!(
                run(
                    &mut ks,
                    T0,
                    &["HEXPIRE", "h", "70", "LT", "FIELDS", "2", "a", "c"]
                ),
                ints(&[0, 1])
            );
            assert_eq!(
                run(
                    &mut ks,
                    T0,
                    &["HEXPIRE", "h", "65", "lt", "FIELDS", "1", "c"]
                ),
                ints(&[1])
            );
            assert_eq!(
                run(&mut ks, T0, &["HTTL", "h", "FIELDS", "3", "a", "b", "c"]),
                ints(&[60, 100, 65])
            );
            // HPERSIST: 1 cleared, -1 had none, -2 absent.
            assert_eq!(
                run_dirty(
                    &mut ks,
                    T0,
                    &["HPERSIST", "h", "FIELDS", "3", "a", "a", "zz"]
                ),
                (ints(&[1, -1, -2]), 1)
            );
            // HSET drops a field's deadline, HINCRBY keeps it.
            run(&mut ks, T0, &["HSET", "h", "b", "20"]);
            run(&mut ks, T0, &["HINCRBY", "h", "c", "1"]);
            assert_eq!(
                run(&mut ks, T0, &["HTTL", "h", "FIELDS", "2", "b", "c"]),
                ints(&[-1, 65])
            );
            assert_eq!(run(&mut ks, T0, &["HGET", "h", "c"]), b("4"));
            // A deadline now or in the past deletes the field (2), then the key with its last field.
            assert_eq!(
                run_dirty(
                    &mut ks,
                    T0,
                    &["HPEXPIREAT", "h", "0", "FIELDS", "2", "a", "b"]
                ),
                (ints(&[2, 2]), 2)
            );
            assert_eq!(ks.stats.expired_subkeys, 2);
            assert_eq!(
                run(&mut ks, T0, &["HEXPIRE", "h", "0", "FIELDS", "2", "c", "c"]),
                ints(&[2, -2])
            );
            assert_eq!(run(&mut ks, T0, &["EXISTS", "h"]), int(0));
            assert_eq!(ks.field_volatile_len(), 0);
        }
    }

    /// Runs a read the way the server does: the read, then the deletions it reported, through the write path.
    fn read_then_expire(ks: &mut Keyspace, now: i64, args: &[&str]) -> Frame {
        let reply = run(ks, now, args);
        let keys = ks.take_lazy_expired();
        if !keys.is_empty() {
            let op = Op::ExpireIfDue(keys.into_iter().map(Bytes::from).collect());
            apply(
                ks,
                &LogEntry {
                    time_ms: now,
                    seed: 0,
                    ops: vec![op].into(),
                    wire: Default::default(),
                },
            );
        }
        reply
    }

    #[test]
    fn expired_fields_are_invisible_then_deleted() {
        for table in [false, true] {
            let mut ks = Keyspace::new();
            if table {
                ks.config.hash_max_listpack_entries = 0;
            }
            run(&mut ks, T0, &["HSET", "h", "a", "1", "b", "2", "c", "3"]);
            run(
                &mut ks,
                T0,
                &["HPEXPIRE", "h", "10", "FIELDS", "2", "a", "b"],
            );
            assert_eq!(ks.field_volatile_len(), 1);
            let later = T0 + 10;
            // Every read sees only "c"; nothing is deleted by the reads themselves.
            assert_eq!(run(&mut ks, later, &["HGET", "h", "a"]), Frame::Null);
            assert_eq!(
                run(&mut ks, later, &["HMGET", "h", "a", "c"]),
                Frame::Array(vec![Frame::Null, b("3")])
            );
            assert_eq!(run(&mut ks, later, &["HLEN", "h"]), int(1));
            assert_eq!(run(&mut ks, later, &["HEXISTS", "h", "b"]), int(0));
            assert_eq!(run(&mut ks, later, &["HSTRLEN", "h", "b"]), int(0));
            assert_eq!(run(&mut ks, later, &["HKEYS", "h"]), arr(&["c"]));
            assert_eq!(run(&mut ks, later, &["HVALS", "h"]), arr(&["3"]));
            assert_eq!(
                run(&mut ks, later, &["HGETALL", "h"]),
                Frame::Map(vec![(b("c"), b("3"))])
            );
            assert_eq!(run(&mut ks, later, &["HRANDFIELD", "h"]), b("c"));
            assert_eq!(run(&mut ks, later, &["HRANDFIELD", "h", "5"]), arr(&["c"]));
            assert_eq!(
                run(&mut ks, later, &["HRANDFIELD", "h", "-3"]),
                arr(&["c", "c", "c"])
            );
            assert_eq!(
                run(&mut ks, later, &["HSCAN", "h", "0"]),
                scan_reply(0, vec![b("c"), b("3")])
            );
            assert_eq!(
                run(&mut ks, later, &["HTTL", "h", "FIELDS", "2", "a", "c"]),
                ints(&[-2, -1])
            );
            assert_eq!(
                ks.peek(later, b"h")
                    .map(|o| matches!(&o.value, Value::Hash(h) if h.len() == 3)),
                Some(true)
            );
            // The server then deletes what the reads reported.
            assert_eq!(read_then_expire(&mut ks, later, &["HLEN", "h"]), int(1));
            assert_eq!(
                ks.peek(later, b"h")
                    .map(|o| matches!(&o.value, Value::Hash(h) if h.len() == 1)),
                Some(true)
            );
            assert_eq!(ks.stats.expired_subkeys, 2);
            assert_eq!(ks.field_volatile_len(), 0);

            // A write deletes due fields of the hash it touches, the key with the last one.
            run(&mut ks, later, &["HSET", "h", "d", "4"]);
            run(
                &mut ks,
                later,
                &["HPEXPIRE", "h", "5", "FIELDS", "2", "c", "d"],
            );
            assert_eq!(
                run_dirty(&mut ks, later + 5, &["HSETNX", "h", "c", "new"]),
                (int(1), 3)
            );
            assert_eq!(
                run(&mut ks, later + 5, &["HGETALL", "h"]),
                Frame::Map(vec![(b("c"), b("new"))])
            );
            run(
                &mut ks,
                later + 5,
                &["HPEXPIRE", "h", "5", "FIELDS", "1", "c"],
            );
            assert_eq!(run(&mut ks, later + 10, &["HDEL", "h", "c"]), int(0));
            assert_eq!(run(&mut ks, later + 10, &["EXISTS", "h"]), int(0));
        }
    }

    #[test]
    fn active_expiry_reclaims_fields_nobody_touches() {
        let mut ks = Keyspace::new();
        for i in 0..50 {
            let key = format!("h{i}");
            let mut args = vec!["HSET".to_string(), key.clone()];
            for f in fields(3) {
                args.push(f);
                args.push("v".into());
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run(&mut ks, T0, &args);
            let all = i % 2 == 0;
            let n = if all { "3" } else { "1" };
            let mut exp = vec!["HPEXPIRE", &key, "100", "FIELDS", n, "f0"];
            if all {
                exp.extend(["f1", "f2"]);
            }
            run(&mut ks, T0, &exp);
        }
        assert_eq!(ks.field_volatile_len(), 50);
        let mut rng = Rng::new(9);
        assert!(ks.sample_expired(T0 + 99, 20, &mut rng).is_empty());
        // Rounds of sampling and ExpireIfDue, as the server's active expiry runs them.
        let mut rounds = 0;
        while ks.field_volatile_len() > 0 {
            let keys = ks.sample_expired(T0 + 100, 20, &mut rng);
            let op = Op::ExpireIfDue(keys.into_iter().map(Bytes::from).collect());
            apply(
                &mut ks,
                &LogEntry {
                    time_ms: T0 + 100,
                    seed: rounds,
                    ops: vec![op].into(),
                    wire: Default::default(),
                },
            );
            rounds += 1;
            assert!(rounds < 1000);
        }
        assert_eq!(ks.len(), 25);
        assert_eq!(ks.stats.expired_subkeys, 25 * 3 + 25);
        for i in (1..50).step_by(2) {
            assert_eq!(run(&mut ks, T0 + 100, &["HLEN", &format!("h{i}")]), int(2));
        }
        // A key deadline and field deadlines together: the key goes first, fields are not counted.
        run(&mut ks, T0, &["HSET", "k", "a", "1"]);
        run(&mut ks, T0, &["HPEXPIRE", "k", "500", "FIELDS", "1", "a"]);
        run(&mut ks, T0, &["PEXPIRE", "k", "100"]);
        let before = ks.stats.expired_subkeys;
        let op = Op::ExpireIfDue(vec![Bytes::from_static(b"k")]);
        apply(
            &mut ks,
            &LogEntry {
                time_ms: T0 + 1000,
                seed: 0,
                ops: vec![op].into(),
                wire: Default::default(),
            },
        );
        assert_eq!(ks.stats.expired_subkeys, before);
        assert_eq!(ks.field_volatile_len(), 0);
    }

    #[test]
    fn keys_commands_carry_field_deadlines() {
        let mut ks = Keyspace::new();
        run(&mut ks, T0, &["HSET", "h", "a", "1", "b", "2"]);
        run(&mut ks, T0, &["HPEXPIRE", "h", "100", "FIELDS", "1", "a"]);
        assert_eq!(run(&mut ks, T0, &["COPY", "h", "c"]), int(1));
        assert_eq!(run(&mut ks, T0, &["RENAME", "h", "r"]), Frame::ok());
        assert_eq!(ks.field_volatile_len(), 2);
        for k in ["c", "r"] {
            assert_eq!(
                run(&mut ks, T0, &["HPTTL", k, "FIELDS", "2", "a", "b"]),
                ints(&[100, -1])
            );
            assert_eq!(run(&mut ks, T0, &["TYPE", k]), Frame::simple("hash"));
            assert_eq!(encoding(&mut ks, k), b("listpackex"));
        }
        assert!(ks.memory_usage(T0, b"c").is_some());
        run(&mut ks, T0, &["DEL", "c"]);
        run(&mut ks, T0, &["SET", "r", "x"]);
        assert_eq!(ks.field_volatile_len(), 0);
        run(&mut ks, T0, &["HSET", "h", "a", "1"]);
        run(&mut ks, T0, &["HPEXPIRE", "h", "100", "FIELDS", "1", "a"]);
        run(&mut ks, T0, &["FLUSHALL"]);
        assert_eq!(ks.field_volatile_len(), 0);
    }

    #[test]
    fn memory_usage_of_a_small_hash_is_one_buffer() {
        let mut ks = Keyspace::new();
        let mut args = vec!["HSET".to_string(), "user:000001".to_string()];
        for i in 0..10 {
            args.push(format!("field{i}"));
            args.push(format!("value{i}"));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&mut ks, T0, &args);
        let Some(Value::Hash(Hash::Pack(p))) = ks.peek(T0, b"user:000001").map(|o| &o.value) else {
            panic!()
        };
        // 20 strings of 6 bytes with a length byte each, plus a one-byte header.
        assert_eq!(p.alloc_len(), 1 + 20 * 7);
        let usage = ks.memory_usage(T0, b"user:000001").unwrap();
        assert!(usage < 300, "{usage}");
    }
}
