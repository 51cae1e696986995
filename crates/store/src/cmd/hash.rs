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
fn settle(ks: &mut Keyspace, key: &[u8]) {
    let empty = ks
        .peek(i64::MIN, key)
        .is_some_and(|o| matches!(&o.value, Value::Hash(h) if h.is_empty()));
    if empty {
        ks.remove(key);
    } else {
        ks.sync_field_deadlines(key);
    }
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
    if empty {
        ks.remove(key);
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
    settle(ks, key);
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
    }
    Ok(Frame::Array(codes))
}
