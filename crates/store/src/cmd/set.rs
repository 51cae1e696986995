//! Sets: SADD, SINTER and the rest of Redis' set family (`t_set.c`, 7.0).
//!
//! Random choices (SPOP, SRANDMEMBER) come from `ctx.rng` and the set's own layout, which every replica holds
//! identically (snapshots keep it), so a replicated SPOP removes the same members everywhere.

use std::collections::BTreeSet;

use bytes::Bytes;
use resp::Frame;

use super::hash::{
    distinct_positions, max_repeated_random, random_count, scan_options, scan_reply,
};
use crate::cmd::{is, reply};
use crate::errors;
use crate::exec::ExecCtx;
use crate::keyspace::{Keyspace, NO_EXPIRE};
use crate::notify::class as ev;
use crate::table::{acl, flags, CommandSpec, Handler, Writes};
use crate::types::set::{Member, Set};
use crate::value::Value;

const RO: u32 = flags::READONLY;
const W: u32 = flags::WRITE;
const DENYOOM: u32 = flags::DENYOOM;
const FAST: u32 = flags::FAST;
const S: u32 = acl::SET;

const INTER_COMPLEXITY: &str =
    "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.";
const UNION_COMPLEXITY: &str = "O(N) where N is the total number of elements in all given sets.";

/// Table rows of this family.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("sadd", -3, W | DENYOOM | FAST, S, Handler::Keyspace(sadd))
        .keys(1, 1, 1)
        .doc(
            "set",
            "1.0.0",
            "O(1) for each element added, so O(N) to add N elements when the command is called with \
             multiple arguments.",
            "Add one or more members to a set",
        ),
    CommandSpec::new("srem", -3, W | FAST, S, Handler::Keyspace(srem))
        .keys(1, 1, 1)
        .doc(
            "set",
            "1.0.0",
            "O(N) where N is the number of members to be removed.",
            "Remove one or more members from a set",
        ),
    CommandSpec::new("smembers", 2, RO, S, Handler::Keyspace(smembers))
        .keys(1, 1, 1)
        .doc(
            "set",
            "1.0.0",
            "O(N) where N is the set cardinality.",
            "Get all the members in a set",
        ),
    CommandSpec::new("sismember", 3, RO | FAST, S, Handler::Keyspace(sismember))
        .keys(1, 1, 1)
        .doc(
            "set",
            "1.0.0",
            "O(1)",
            "Determine if a given value is a member of a set",
        ),
    CommandSpec::new("smismember", -3, RO | FAST, S, Handler::Keyspace(smismember))
        .keys(1, 1, 1)
        .doc(
            "set",
            "6.2.0",
            "O(N) where N is the number of elements being checked for membership",
            "Returns the membership associated with the given elements for a set",
        ),
    CommandSpec::new("scard", 2, RO | FAST, S, Handler::Keyspace(scard))
        .keys(1, 1, 1)
        .doc("set", "1.0.0", "O(1)", "Get the number of members in a set"),
    CommandSpec::new("spop", -2, W | FAST, S, Handler::Keyspace(spop))
        .keys(1, 1, 1)
        .doc(
            "set",
            "1.0.0",
            "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.",
            "Remove and return one or multiple random members from a set",
        ),
    CommandSpec::new("srandmember", -2, RO, S, Handler::Keyspace(srandmember))
        .keys(1, 1, 1)
        .doc(
            "set",
            "1.0.0",
            "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed \
             count.",
            "Get one or multiple random members from a set",
        ),
    CommandSpec::new("smove", 4, W | FAST, S, Handler::Keyspace(smove))
        .keys(1, 2, 1)
        .doc(
            "set",
            "1.0.0",
            "O(1)",
            "Move a member from one set to another",
        ),
    CommandSpec::new("sinter", -2, RO, S, Handler::Keyspace(sinter))
        .keys(1, -1, 1)
        .doc("set", "1.0.0", INTER_COMPLEXITY, "Intersect multiple sets"),
    CommandSpec::new("sintercard", -3, RO, S, Handler::Keyspace(sintercard))
        .keys_fn(0, 0, 0, sintercard_keys)
        .doc(
            "set",
            "7.0.0",
            INTER_COMPLEXITY,
            "Intersect multiple sets and return the cardinality of the result",
        ),
    CommandSpec::new("sinterstore", -3, W | DENYOOM, S, Handler::Keyspace(sinterstore))
        .keys(1, -1, 1)
        .writes(Writes::FirstKey)
        .doc(
            "set",
            "1.0.0",
            INTER_COMPLEXITY,
            "Intersect multiple sets and store the resulting set in a key",
        ),
    CommandSpec::new("sunion", -2, RO, S, Handler::Keyspace(sunion))
        .keys(1, -1, 1)
        .doc("set", "1.0.0", UNION_COMPLEXITY, "Add multiple sets"),
    CommandSpec::new("sunionstore", -3, W | DENYOOM, S, Handler::Keyspace(sunionstore))
        .keys(1, -1, 1)
        .writes(Writes::FirstKey)
        .doc(
            "set",
            "1.0.0",
            UNION_COMPLEXITY,
            "Add multiple sets and store the resulting set in a key",
        ),
    CommandSpec::new("sdiff", -2, RO, S, Handler::Keyspace(sdiff))
        .keys(1, -1, 1)
        .doc("set", "1.0.0", UNION_COMPLEXITY, "Subtract multiple sets"),
    CommandSpec::new("sdiffstore", -3, W | DENYOOM, S, Handler::Keyspace(sdiffstore))
        .keys(1, -1, 1)
        .writes(Writes::FirstKey)
        .doc(
            "set",
            "1.0.0",
            UNION_COMPLEXITY,
            "Subtract multiple sets and store the resulting set in a key",
        ),
    CommandSpec::new("sscan", -3, RO, S, Handler::Keyspace(sscan))
        .keys(1, 1, 1)
        .doc(
            "set",
            "2.8.0",
            "O(1) for every call. O(N) for a complete iteration, including enough command calls for the \
             cursor to return back to 0. N is the number of elements inside the collection..",
            "Incrementally iterate Set elements",
        ),
];

/// Key positions of SINTERCARD: `numkeys` keys after the count.
fn sintercard_keys(args: &[Bytes]) -> Result<Vec<usize>, Frame> {
    let n = args
        .get(1)
        .and_then(|a| crate::num::parse_i64(a))
        .filter(|&n| n >= 1 && (n as u64) <= (args.len() as u64).saturating_sub(2))
        .ok_or(Frame::error("ERR Invalid arguments specified for command"))?;
    Ok((2..2 + n as usize).collect())
}

fn as_set(v: &Value) -> Result<&Set, Frame> {
    match v {
        Value::Set(s) => Ok(s),
        _ => Err(errors::WRONGTYPE),
    }
}

fn as_set_mut(v: &mut Value) -> Result<&mut Set, Frame> {
    match v {
        Value::Set(s) => Ok(s),
        _ => Err(errors::WRONGTYPE),
    }
}

fn read_set<'a>(ks: &'a mut Keyspace, ctx: &ExecCtx, key: &[u8]) -> Result<Option<&'a Set>, Frame> {
    match ks.read(ctx, key) {
        None => Ok(None),
        Some(o) => as_set(&o.value).map(Some),
    }
}

fn write_set<'a>(
    ks: &'a mut Keyspace,
    ctx: &ExecCtx,
    key: &[u8],
) -> Result<Option<&'a mut Set>, Frame> {
    match ks.lookup(ctx, key) {
        None => Ok(None),
        Some(o) => as_set_mut(&mut o.value).map(Some),
    }
}

fn member(m: Member) -> Frame {
    match m {
        Member::Int(i) => Frame::Bulk(Bytes::from(crate::num::format_i64(i))),
        Member::Bytes(b) => Frame::Bulk(Bytes::copy_from_slice(b)),
    }
}

fn sadd(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let max = ks.config.set_max_intset_entries;
    let key = &args[1];
    let added = match write_set(ks, ctx, key) {
        Err(e) => return e,
        Ok(Some(s)) => args[2..].iter().filter(|m| s.add(m, max)).count(),
        Ok(None) => {
            let mut s = Set::new_for(&args[2]);
            let n = args[2..].iter().filter(|m| s.add(m, max)).count();
            ks.set(ctx, key, Value::Set(s), NO_EXPIRE);
            n
        }
    };
    if added > 0 {
        ks.notify(ev::SET, "sadd", key);
    }
    ctx.dirty += added as u64;
    Frame::Integer(added as i64)
}

fn srem(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let key = &args[1];
    let (deleted, empty) = match write_set(ks, ctx, key) {
        Err(e) => return e,
        Ok(None) => return Frame::Integer(0),
        Ok(Some(s)) => {
            let mut deleted = 0;
            for m in &args[2..] {
                if s.remove(m) {
                    deleted += 1;
                    if s.is_empty() {
                        break;
                    }
                }
            }
            (deleted, s.is_empty())
        }
    };
    if deleted > 0 {
        ks.notify(ev::SET, "srem", key);
    }
    if empty {
        ks.remove(key);
        ks.notify(ev::GENERIC, "del", key);
    }
    ctx.dirty += deleted;
    Frame::Integer(deleted as i64)
}

/// What a write lookup found under a key.
enum Found {
    Absent,
    Set,
    Other,
}

fn found(ks: &mut Keyspace, ctx: &ExecCtx, key: &[u8]) -> Found {
    match ks
        .lookup(ctx, key)
        .map(|o| matches!(o.value, Value::Set(_)))
    {
        None => Found::Absent,
        Some(true) => Found::Set,
        Some(false) => Found::Other,
    }
}

fn smove(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let (src, dst, m) = (&args[1], &args[2], &args[3]);
    let src_found = found(ks, ctx, src);
    let dst_found = found(ks, ctx, dst);
    match (src_found, &dst_found) {
        (Found::Absent, _) => return Frame::Integer(0),
        (Found::Other, _) | (_, Found::Other) => return errors::WRONGTYPE,
        _ => {}
    }
    if src == dst {
        let is_member = ks
            .peek(ctx.now_ms, src)
            .is_some_and(|o| matches!(&o.value, Value::Set(s) if s.contains(m)));
        return Frame::Integer(i64::from(is_member));
    }
    let (removed, empty) = match write_set(ks, ctx, src) {
        Ok(Some(s)) => (s.remove(m), s.is_empty()),
        _ => (false, false),
    };
    if !removed {
        return Frame::Integer(0);
    }
    ks.notify(ev::SET, "srem", src);
    if empty {
        ks.remove(src);
        ks.notify(ev::GENERIC, "del", src);
    }
    ctx.dirty += 1;
    let max = ks.config.set_max_intset_entries;
    let added = match write_set(ks, ctx, dst) {
        Ok(Some(s)) => s.add(m, max),
        _ => {
            let mut s = Set::new_for(m);
            s.add(m, max);
            ks.set(ctx, dst, Value::Set(s), NO_EXPIRE);
            true
        }
    };
    if added {
        ks.notify(ev::SET, "sadd", dst);
        ctx.dirty += 1;
    }
    Frame::Integer(1)
}

fn sismember(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(
        read_set(ks, ctx, &args[1])
            .map(|s| Frame::Integer(i64::from(s.is_some_and(|s| s.contains(&args[2]))))),
    )
}

fn smismember(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(read_set(ks, ctx, &args[1]).map(|s| {
        Frame::Array(
            args[2..]
                .iter()
                .map(|m| Frame::Integer(i64::from(s.is_some_and(|s| s.contains(m)))))
                .collect(),
        )
    }))
}

fn scard(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(read_set(ks, ctx, &args[1]).map(|s| Frame::Integer(s.map_or(0, Set::len) as i64)))
}

fn spop(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(spop_inner(ks, ctx, args))
}

fn spop_inner(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Result<Frame, Frame> {
    if args.len() > 3 {
        return Err(errors::SYNTAX);
    }
    let key = &args[1];
    if args.len() == 2 {
        let (popped, empty) = {
            let Some(s) = write_set(ks, ctx, key)? else {
                return Ok(Frame::Null);
            };
            let Some(m) = s.random(&mut ctx.rng).map(|m| m.to_bytes().into_owned()) else {
                return Ok(Frame::Null);
            };
            s.remove(&m);
            (m, s.is_empty())
        };
        ks.notify(ev::SET, "spop", key);
        if empty {
            ks.remove(key);
            ks.notify(ev::GENERIC, "del", key);
        }
        ctx.dirty += 1;
        return Ok(Frame::Bulk(Bytes::from(popped)));
    }
    // Redis' getPositiveLongFromObjectOrReply: one message for a non-integer and a negative count.
    let count = crate::num::parse_i64(&args[2])
        .filter(|&c| c >= 0)
        .ok_or(errors::OUT_OF_RANGE)? as u64;
    let max = ks.config.set_max_intset_entries;
    let Some(s) = write_set(ks, ctx, key)? else {
        return Ok(Frame::Set(Vec::new()));
    };
    if count == 0 {
        return Ok(Frame::Set(Vec::new()));
    }
    let size = s.len() as u64;
    let rng = &mut ctx.rng;
    // Case 1: the whole set.
    if count >= size {
        let all: Vec<Frame> = s.iter().map(member).collect();
        ks.remove(key);
        ks.notify(ev::SET, "spop", key);
        ks.notify(ev::GENERIC, "del", key);
        ctx.dirty += size;
        return Ok(Frame::Set(all));
    }
    let remaining = size - count;
    let mut out = Vec::with_capacity(count as usize);
    if remaining * 5 > count {
        // Case 2: few members go: draw and remove them one by one.
        for _ in 0..count {
            let Some(m) = s.random(rng).map(|m| m.to_bytes().into_owned()) else {
                break;
            };
            s.remove(&m);
            out.push(Frame::Bulk(Bytes::from(m)));
        }
    } else {
        // Case 3: most members go: draw the ones that stay into a new set, return what is left of the old.
        let mut kept: Option<Set> = None;
        for _ in 0..remaining {
            let Some(m) = s.random(rng).map(|m| m.to_bytes().into_owned()) else {
                break;
            };
            kept.get_or_insert_with(|| Set::new_for(&m)).add(&m, max);
            s.remove(&m);
        }
        out.extend(s.iter().map(member));
        if let Some(kept) = kept {
            *s = kept;
        }
    }
    ks.notify(ev::SET, "spop", key);
    ctx.dirty += count;
    Ok(Frame::Set(out))
}

fn srandmember(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(srandmember_inner(ks, ctx, args))
}

fn srandmember_inner(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Result<Frame, Frame> {
    if args.len() > 3 {
        return Err(errors::SYNTAX);
    }
    if args.len() == 2 {
        let Some(s) = read_set(ks, ctx, &args[1])? else {
            return Ok(Frame::Null);
        };
        return Ok(s.random(&mut ctx.rng).map_or(Frame::Null, member));
    }
    let l = random_count(&args[2])?;
    let limit = max_repeated_random(ks);
    let Some(s) = read_set(ks, ctx, &args[1])? else {
        return Ok(Frame::Array(Vec::new()));
    };
    let (count, unique) = (l.unsigned_abs(), l >= 0);
    let size = s.len();
    if count == 0 || size == 0 {
        return Ok(Frame::Array(Vec::new()));
    }
    let rng = &mut ctx.rng;
    // Case 1: repetitions allowed (or one member): independent draws.
    if !unique || count == 1 {
        if count > limit {
            return Err(Frame::error("ERR value is out of range"));
        }
        return Ok(Frame::Array(
            (0..count)
                .filter_map(|_| s.random(rng).map(member))
                .collect(),
        ));
    }
    // Case 2: at least the whole set.
    if count >= size as u64 {
        return Ok(Frame::Array(s.iter().map(member).collect()));
    }
    let count = count as usize;
    // Case 3: most of the set: a random subset of all members.
    if count * 3 > size {
        let all: Vec<Member> = s.iter().collect();
        return Ok(Frame::Array(
            distinct_positions(rng, size, count)
                .into_iter()
                .map(|i| member(all[i]))
                .collect(),
        ));
    }
    // Case 4: few of many: draws until enough distinct members.
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        if let Some(m) = s.random(rng) {
            if seen.insert(m.to_bytes().into_owned()) {
                out.push(member(m));
            }
        }
    }
    Ok(Frame::Array(out))
}

/// Looks every key up as a read (counting hits and misses); WRONGTYPE at the first key holding another type.
/// Returns which keys hold a set.
fn lookup_sets(ks: &mut Keyspace, ctx: &ExecCtx, keys: &[Bytes]) -> Result<Vec<bool>, Frame> {
    keys.iter()
        .map(|k| read_set(ks, ctx, k).map(|s| s.is_some()))
        .collect()
}

/// Stores a computed set under `dst` (replacing whatever it held, deadline included) or, if it is empty,
/// deletes `dst`: the STORE variants' ending. Replies with the stored size.
fn store(
    ks: &mut Keyspace,
    ctx: &mut ExecCtx,
    dst: &[u8],
    result: Set,
    event: &'static str,
) -> Frame {
    let n = result.len();
    if n > 0 {
        ks.set(ctx, dst, Value::Set(result), NO_EXPIRE);
        ks.notify(ev::SET, event, dst);
        ctx.dirty += 1;
    } else if ks.lookup(ctx, dst).is_some() {
        ks.remove(dst);
        ks.notify(ev::GENERIC, "del", dst);
        ctx.dirty += 1;
    }
    Frame::Integer(n as i64)
}

/// What an intersection produces.
enum InterOut {
    /// The members (SINTER, SMEMBERS).
    Reply,
    /// The members stored under a key (SINTERSTORE).
    Store(Bytes),
    /// Only the count, stopping at a limit (0 for none) (SINTERCARD).
    Card(u64),
}

fn smembers(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(sinter_generic(ks, ctx, &args[1..], InterOut::Reply))
}

fn sinter(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(sinter_generic(ks, ctx, &args[1..], InterOut::Reply))
}

fn sinterstore(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(sinter_generic(
        ks,
        ctx,
        &args[2..],
        InterOut::Store(args[1].clone()),
    ))
}

fn sintercard(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(sintercard_inner(ks, ctx, args))
}

fn sintercard_inner(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Result<Frame, Frame> {
    let numkeys = crate::num::parse_i64(&args[1])
        .filter(|&n| n >= 1)
        .ok_or(Frame::error("ERR numkeys should be greater than 0"))?;
    if numkeys as u64 > (args.len() - 2) as u64 {
        return Err(Frame::error(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let keys_end = 2 + numkeys as usize;
    let mut limit = 0u64;
    let mut j = keys_end;
    while j < args.len() {
        if is(&args[j], "limit") && j + 1 < args.len() {
            limit = crate::num::parse_i64(&args[j + 1])
                .filter(|&l| l >= 0)
                .ok_or(Frame::error("ERR LIMIT can't be negative"))? as u64;
            j += 2;
        } else {
            return Err(errors::SYNTAX);
        }
    }
    sinter_generic(ks, ctx, &args[2..keys_end], InterOut::Card(limit))
}

/// Redis' `sinterGenericCommand`: walks the smallest set and keeps the members every other set holds.
fn sinter_generic(
    ks: &mut Keyspace,
    ctx: &mut ExecCtx,
    keys: &[Bytes],
    out: InterOut,
) -> Result<Frame, Frame> {
    let present = lookup_sets(ks, ctx, keys)?;
    if present.contains(&false) {
        return Ok(match out {
            InterOut::Store(dst) => store(ks, ctx, &dst, Set::new_intset(), "sinterstore"),
            InterOut::Card(_) => Frame::Integer(0),
            InterOut::Reply => Frame::Set(Vec::new()),
        });
    }
    let max = ks.config.set_max_intset_entries;
    let result = {
        let mut sets: Vec<&Set> = keys
            .iter()
            .filter_map(|k| ks.peek(ctx.now_ms, k).and_then(|o| as_set(&o.value).ok()))
            .collect();
        sets.sort_by_key(|s| s.len());
        let first = sets[0];
        let others: Vec<&Set> = sets[1..]
            .iter()
            .copied()
            .filter(|s| !std::ptr::eq(*s, first))
            .collect();
        let common = first
            .iter()
            .filter(|m| others.iter().all(|s| s.contains_member(*m)));
        match &out {
            InterOut::Card(limit) => {
                let mut n = 0u64;
                for _ in common {
                    n += 1;
                    if *limit != 0 && n >= *limit {
                        break;
                    }
                }
                return Ok(Frame::Integer(n as i64));
            }
            InterOut::Reply => return Ok(Frame::Set(common.map(member).collect())),
            InterOut::Store(_) => {
                let mut r = Set::new_intset();
                for m in common {
                    r.add_member(m, max);
                }
                r
            }
        }
    };
    match out {
        InterOut::Store(dst) => Ok(store(ks, ctx, &dst, result, "sinterstore")),
        _ => Ok(Frame::Integer(0)),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Diff,
}

fn sunion(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(sunion_diff(ks, ctx, &args[1..], None, SetOp::Union))
}

fn sunionstore(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(sunion_diff(
        ks,
        ctx,
        &args[2..],
        Some(&args[1]),
        SetOp::Union,
    ))
}

fn sdiff(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(sunion_diff(ks, ctx, &args[1..], None, SetOp::Diff))
}

fn sdiffstore(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(sunion_diff(
        ks,
        ctx,
        &args[2..],
        Some(&args[1]),
        SetOp::Diff,
    ))
}

/// Redis' `sunionDiffGenericCommand`, with its choice between the two difference algorithms.
fn sunion_diff(
    ks: &mut Keyspace,
    ctx: &mut ExecCtx,
    keys: &[Bytes],
    dst: Option<&Bytes>,
    op: SetOp,
) -> Result<Frame, Frame> {
    lookup_sets(ks, ctx, keys)?;
    let max = ks.config.set_max_intset_entries;
    let result = {
        let sets: Vec<Option<&Set>> = keys
            .iter()
            .map(|k| ks.peek(ctx.now_ms, k).and_then(|o| as_set(&o.value).ok()))
            .collect();
        let first = sets[0];
        let same_as_first =
            |s: Option<&Set>| matches!((first, s), (Some(a), Some(b)) if std::ptr::eq(a, b));
        let sameset = sets[1..].iter().any(|s| same_as_first(*s));
        let mut r = Set::new_intset();
        match (op, first) {
            (SetOp::Union, _) => {
                for s in sets.iter().flatten() {
                    for m in s.iter() {
                        r.add_member(m, max);
                    }
                }
            }
            (SetOp::Diff, None) => {}
            (SetOp::Diff, Some(_)) if sameset => {}
            (SetOp::Diff, Some(first)) => {
                let rest: Vec<&Set> = sets[1..].iter().flatten().copied().collect();
                let one = rest.len() * first.len() / 2;
                let two = first.len() + rest.iter().map(|s| s.len()).sum::<usize>();
                if one <= two {
                    // Algorithm 1: members of the first set no other holds, larger sets asked first.
                    let mut rest = rest;
                    rest.sort_by_key(|s| std::cmp::Reverse(s.len()));
                    for m in first.iter() {
                        if !rest.iter().any(|s| s.contains_member(m)) {
                            r.add_member(m, max);
                        }
                    }
                } else {
                    // Algorithm 2: the first set, minus every member of the others.
                    for m in first.iter() {
                        r.add_member(m, max);
                    }
                    for s in rest {
                        if r.is_empty() {
                            break;
                        }
                        for m in s.iter() {
                            r.remove(&m.to_bytes());
                        }
                    }
                }
            }
        }
        r
    };
    Ok(match dst {
        Some(dst) => {
            let event = match op {
                SetOp::Union => "sunionstore",
                SetOp::Diff => "sdiffstore",
            };
            store(ks, ctx, dst, result, event)
        }
        None => Frame::Set(result.iter().map(member).collect()),
    })
}

fn sscan(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(sscan_inner(ks, ctx, args))
}

fn sscan_inner(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Result<Frame, Frame> {
    let cursor = super::keys::parse_cursor(&args[2]).ok_or(Frame::error("ERR invalid cursor"))?;
    let Some(s) = read_set(ks, ctx, &args[1])? else {
        return Ok(scan_reply(0, Vec::new()));
    };
    let opts = scan_options(args, false)?;
    let mut out = Vec::new();
    let mut emit = |m: &[u8]| {
        if opts
            .pattern
            .is_none_or(|p| crate::glob::matches(p, m, false))
        {
            out.push(Frame::Bulk(Bytes::copy_from_slice(m)));
        }
    };
    let next = match s {
        Set::Ints(ints) => {
            for v in ints.iter() {
                emit(&crate::num::format_i64(v));
            }
            0
        }
        Set::Table(d) => {
            let mut budget = opts.count.saturating_mul(10);
            let mut visited = 0usize;
            let mut cursor = cursor;
            loop {
                cursor = d.scan(cursor, |m, _| {
                    visited += 1;
                    emit(m);
                });
                if cursor == 0 || budget == 0 || visited >= opts.count {
                    break cursor;
                }
                budget -= 1;
            }
        }
    };
    Ok(scan_reply(next, out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::testing::{b, err, int};
    use crate::cmd::testing::{run, run_dirty};
    use crate::table::KeySpec;

    const T0: i64 = 1_700_000_000_000;
    const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

    fn sorted(f: Frame) -> Vec<String> {
        let items = match f {
            Frame::Array(v) | Frame::Set(v) => v,
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

    fn strs(v: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    }

    fn encoding(ks: &mut Keyspace, key: &str) -> Frame {
        run(ks, T0, &["OBJECT", "ENCODING", key])
    }

    #[test]
    fn table_rows_follow_redis_json() {
        use flags::*;
        type Row = (&'static str, i32, u32, (i32, i32, i32));
        let rows: &[Row] = &[
            ("sadd", -3, WRITE | DENYOOM | FAST, (1, 1, 1)),
            ("srem", -3, WRITE | FAST, (1, 1, 1)),
            ("smembers", 2, READONLY, (1, 1, 1)),
            ("sismember", 3, READONLY | FAST, (1, 1, 1)),
            ("smismember", -3, READONLY | FAST, (1, 1, 1)),
            ("scard", 2, READONLY | FAST, (1, 1, 1)),
            ("spop", -2, WRITE | FAST, (1, 1, 1)),
            ("srandmember", -2, READONLY, (1, 1, 1)),
            ("smove", 4, WRITE | FAST, (1, 2, 1)),
            ("sinter", -2, READONLY, (1, -1, 1)),
            ("sintercard", -3, READONLY | MOVABLEKEYS, (0, 0, 0)),
            ("sinterstore", -3, WRITE | DENYOOM, (1, -1, 1)),
            ("sunion", -2, READONLY, (1, -1, 1)),
            ("sunionstore", -3, WRITE | DENYOOM, (1, -1, 1)),
            ("sdiff", -2, READONLY, (1, -1, 1)),
            ("sdiffstore", -3, WRITE | DENYOOM, (1, -1, 1)),
            ("sscan", -3, READONLY, (1, 1, 1)),
        ];
        assert_eq!(COMMANDS.len(), rows.len());
        for &(name, arity, fl, legacy) in rows {
            let spec = crate::table::lookup(name.to_uppercase().as_bytes()).unwrap();
            assert_eq!(spec.arity, arity, "{name}");
            assert_eq!(spec.flags, fl, "{name}");
            assert_eq!(spec.doc.group, "set", "{name}");
            assert!(!spec.doc.summary.is_empty(), "{name}");
            let cats = spec.acl_categories();
            assert_ne!(cats & acl::SET, 0, "{name}");
            assert_eq!(cats & acl::FAST != 0, fl & FAST != 0, "{name}");
            let got = match spec.keys {
                KeySpec::Range { first, last, step }
                | KeySpec::Custom {
                    first, last, step, ..
                } => (first, last, step),
                KeySpec::None => panic!("{name}"),
            };
            assert_eq!(got, legacy, "{name}");
        }
        let args = |v: &[&str]| {
            v.iter()
                .map(|s| Bytes::from(s.to_string()))
                .collect::<Vec<_>>()
        };
        let card = crate::table::lookup(b"sintercard").unwrap();
        assert_eq!(
            card.key_positions(&args(&["sintercard", "2", "a", "b", "LIMIT", "1"]))
                .unwrap(),
            vec![2, 3]
        );
        assert!(card
            .key_positions(&args(&["sintercard", "3", "a", "b"]))
            .is_err());
        assert!(card
            .key_positions(&args(&["sintercard", "0", "a"]))
            .is_err());
        let store = crate::table::lookup(b"sinterstore").unwrap();
        assert_eq!(
            store
                .key_positions(&args(&["sinterstore", "d", "a", "b"]))
                .unwrap(),
            vec![1, 2, 3]
        );
    }

    #[test]
    fn arity_errors() {
        let mut ks = Keyspace::new();
        for (args, name) in [
            (&["SADD", "s"][..], "sadd"),
            (&["SREM", "s"], "srem"),
            (&["SMEMBERS"], "smembers"),
            (&["SISMEMBER", "s"], "sismember"),
            (&["SMISMEMBER", "s"], "smismember"),
            (&["SPOP"], "spop"),
            (&["SMOVE", "a", "b"], "smove"),
            (&["SINTER"], "sinter"),
            (&["SINTERCARD", "1"], "sintercard"),
            (&["SINTERSTORE", "d"], "sinterstore"),
            (&["SUNIONSTORE", "d"], "sunionstore"),
            (&["SDIFF"], "sdiff"),
            (&["SSCAN", "s"], "sscan"),
        ] {
            assert_eq!(run(&mut ks, T0, args), errors::wrong_arity(name));
        }
        assert_eq!(
            run(&mut ks, T0, &["SPOP", "s", "1", "2"]),
            err("ERR syntax error")
        );
        assert_eq!(
            run(&mut ks, T0, &["SRANDMEMBER", "s", "1", "2"]),
            err("ERR syntax error")
        );
    }

    #[test]
    fn add_remove_and_membership() {
        let mut ks = Keyspace::new();
        assert_eq!(
            run_dirty(&mut ks, T0, &["SADD", "s", "1", "2", "2", "3"]),
            (int(3), 3)
        );
        assert_eq!(run_dirty(&mut ks, T0, &["SADD", "s", "3"]), (int(0), 0));
        assert_eq!(encoding(&mut ks, "s"), b("intset"));
        assert_eq!(
            run(&mut ks, T0, &["SMEMBERS", "s"]),
            Frame::Set(vec![b("1"), b("2"), b("3")])
        );
        assert_eq!(run(&mut ks, T0, &["SMEMBERS", "nokey"]), Frame::Set(vec![]));
        assert_eq!(run(&mut ks, T0, &["SCARD", "s"]), int(3));
        assert_eq!(run(&mut ks, T0, &["SCARD", "nokey"]), int(0));
        assert_eq!(run(&mut ks, T0, &["SISMEMBER", "s", "2"]), int(1));
        assert_eq!(run(&mut ks, T0, &["SISMEMBER", "s", "02"]), int(0));
        assert_eq!(run(&mut ks, T0, &["SISMEMBER", "nokey", "2"]), int(0));
        assert_eq!(
            run(&mut ks, T0, &["SMISMEMBER", "s", "1", "x", "3"]),
            Frame::Array(vec![int(1), int(0), int(1)])
        );
        assert_eq!(
            run(&mut ks, T0, &["SMISMEMBER", "nokey", "1"]),
            Frame::Array(vec![int(0)])
        );
        assert_eq!(run(&mut ks, T0, &["SADD", "s", "x"]), int(1));
        assert_eq!(encoding(&mut ks, "s"), b("hashtable"));
        assert_eq!(run(&mut ks, T0, &["SISMEMBER", "s", "2"]), int(1));
        assert_eq!(
            run_dirty(&mut ks, T0, &["SREM", "s", "1", "zz", "x"]),
            (int(2), 2)
        );
        assert_eq!(run(&mut ks, T0, &["SREM", "nokey", "1"]), int(0));
        assert_eq!(run(&mut ks, T0, &["SREM", "s", "2", "3", "2"]), int(2));
        assert_eq!(run(&mut ks, T0, &["EXISTS", "s"]), int(0));
        // A first member that is not an integer starts a hash table; so does one that is too big.
        run(&mut ks, T0, &["SADD", "t", "a"]);
        assert_eq!(encoding(&mut ks, "t"), b("hashtable"));
        ks.config.set_max_intset_entries = 2;
        run(&mut ks, T0, &["SADD", "u", "1", "2"]);
        assert_eq!(encoding(&mut ks, "u"), b("intset"));
        run(&mut ks, T0, &["SADD", "u", "3"]);
        assert_eq!(encoding(&mut ks, "u"), b("hashtable"));
    }

    #[test]
    fn wrong_type_everywhere() {
        let mut ks = Keyspace::new();
        run(&mut ks, T0, &["SET", "str", "x"]);
        run(&mut ks, T0, &["SADD", "s", "a"]);
        for args in [
            &["SADD", "str", "a"][..],
            &["SREM", "str", "a"],
            &["SMEMBERS", "str"],
            &["SISMEMBER", "str", "a"],
            &["SMISMEMBER", "str", "a"],
            &["SCARD", "str"],
            &["SPOP", "str"],
            &["SPOP", "str", "1"],
            &["SRANDMEMBER", "str"],
            &["SRANDMEMBER", "str", "1"],
            &["SMOVE", "str", "s", "a"],
            &["SMOVE", "s", "str", "a"],
            &["SINTER", "s", "str"],
            &["SINTER", "nokey", "str"],
            &["SINTERCARD", "2", "s", "str"],
            &["SINTERSTORE", "d", "s", "str"],
            &["SUNION", "s", "str"],
            &["SUNIONSTORE", "d", "str"],
            &["SDIFF", "s", "str"],
            &["SDIFFSTORE", "d", "nokey", "str"],
            &["SSCAN", "str", "0"],
            &["HGET", "s", "a"],
            &["GET", "s"],
        ] {
            assert_eq!(run(&mut ks, T0, args), err(WRONGTYPE), "{args:?}");
        }
        // SMOVE from a missing key answers 0 before looking at the destination's type.
        assert_eq!(run(&mut ks, T0, &["SMOVE", "nokey", "str", "a"]), int(0));
        // A STORE over another type replaces it.
        assert_eq!(run(&mut ks, T0, &["SUNIONSTORE", "str", "s"]), int(1));
        assert_eq!(run(&mut ks, T0, &["TYPE", "str"]), Frame::simple("set"));
    }

    #[test]
    fn smove_cases() {
        let mut ks = Keyspace::new();
        run(&mut ks, T0, &["SADD", "a", "1", "2"]);
        run(&mut ks, T0, &["SADD", "b", "2", "x"]);
        assert_eq!(
            run_dirty(&mut ks, T0, &["SMOVE", "a", "b", "1"]),
            (int(1), 2)
        );
        assert_eq!(
            run_dirty(&mut ks, T0, &["SMOVE", "a", "b", "2"]),
            (int(1), 1)
        );
        assert_eq!(run(&mut ks, T0, &["EXISTS", "a"]), int(0));
        assert_eq!(
            sorted(run(&mut ks, T0, &["SMEMBERS", "b"])),
            strs(&["1", "2", "x"])
        );
        assert_eq!(run(&mut ks, T0, &["SMOVE", "b", "b", "x"]), int(1));
        assert_eq!(run(&mut ks, T0, &["SMOVE", "b", "b", "zz"]), int(0));
        assert_eq!(run(&mut ks, T0, &["SMOVE", "b", "c", "zz"]), int(0));
        assert_eq!(run(&mut ks, T0, &["SMOVE", "b", "c", "1"]), int(1));
        assert_eq!(encoding(&mut ks, "c"), b("intset"));
        assert_eq!(
            run(&mut ks, T0, &["SMEMBERS", "c"]),
            Frame::Set(vec![b("1")])
        );
    }

    #[test]
    fn spop_and_srandmember() {
        let mut ks = Keyspace::new();
        assert_eq!(run(&mut ks, T0, &["SPOP", "nokey"]), Frame::Null);
        assert_eq!(
            run(&mut ks, T0, &["SPOP", "nokey", "3"]),
            Frame::Set(vec![])
        );
        assert_eq!(run(&mut ks, T0, &["SRANDMEMBER", "nokey"]), Frame::Null);
        assert_eq!(
            run(&mut ks, T0, &["SRANDMEMBER", "nokey", "3"]),
            Frame::Array(vec![])
        );
        for (count, e) in [
            ("-1", "ERR value is out of range, must be positive"),
            ("x", "ERR value is out of range, must be positive"),
        ] {
            assert_eq!(run(&mut ks, T0, &["SPOP", "s", count]), err(e));
        }
        assert_eq!(
            run(&mut ks, T0, &["SRANDMEMBER", "s", "-9223372036854775808"]),
            err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
        );
        assert_eq!(
            run(&mut ks, T0, &["SRANDMEMBER", "s", "x"]),
            err("ERR value is not an integer or out of range")
        );
        for members in [&["1", "2", "3", "4", "5"][..], &["a", "b", "c", "d", "e"]] {
            run(&mut ks, T0, &["DEL", "s"]);
            let mut args = vec!["SADD", "s"];
            args.extend(members);
            run(&mut ks, T0, &args);
            let all = strs(members);
            assert!(
                all.contains(&match run(&mut ks, T0, &["SRANDMEMBER", "s"]) {
                    Frame::Bulk(b) => String::from_utf8(b.to_vec()).unwrap(),
                    other => panic!("{other:?}"),
                })
            );
            assert_eq!(sorted(run(&mut ks, T0, &["SRANDMEMBER", "s", "10"])), all);
            for n in 1..5 {
                let got = sorted(run(&mut ks, T0, &["SRANDMEMBER", "s", &n.to_string()]));
                assert_eq!(got.len(), n);
                assert!(got.windows(2).all(|w| w[0] != w[1]));
                assert!(got.iter().all(|m| all.contains(m)));
            }
            let got = sorted(run(&mut ks, T0, &["SRANDMEMBER", "s", "-12"]));
            assert_eq!(got.len(), 12);
            assert!(got.iter().all(|m| all.contains(m)));
            assert_eq!(
                run(&mut ks, T0, &["SRANDMEMBER", "s", "0"]),
                Frame::Array(vec![])
            );
            assert_eq!(
                run(&mut ks, T0, &["SRANDMEMBER", "s", "-100000000000"]),
                err("ERR value is out of range")
            );
            // SPOP: one, a few (case 2), most (case 3), then the rest.
            let mut popped = Vec::new();
            let Frame::Bulk(one) = run(&mut ks, T0, &["SPOP", "s"]) else {
                panic!()
            };
            popped.push(String::from_utf8(one.to_vec()).unwrap());
            assert_eq!(run(&mut ks, T0, &["SPOP", "s", "0"]), Frame::Set(vec![]));
            let (r, dirty) = run_dirty(&mut ks, T0, &["SPOP", "s", "1"]);
            assert_eq!(dirty, 1);
            popped.extend(sorted(r));
            popped.extend(sorted(run(&mut ks, T0, &["SPOP", "s", "2"])));
            assert_eq!(run(&mut ks, T0, &["SCARD", "s"]), int(1));
            let (r, dirty) = run_dirty(&mut ks, T0, &["SPOP", "s", "7"]);
            assert_eq!(dirty, 1);
            popped.extend(sorted(r));
            popped.sort();
            assert_eq!(popped, all);
            assert_eq!(run(&mut ks, T0, &["EXISTS", "s"]), int(0));
        }
        // Case 3 of SPOP on a big set keeps the rest in a new set.
        let mut args = vec!["SADD".to_string(), "big".to_string()];
        for i in 0..100 {
            args.push(format!("m{i}"));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&mut ks, T0, &args);
        run(&mut ks, T0, &["PEXPIRE", "big", "100000"]);
        let got = sorted(run(&mut ks, T0, &["SPOP", "big", "90"]));
        assert_eq!(got.len(), 90);
        let rest = sorted(run(&mut ks, T0, &["SMEMBERS", "big"]));
        assert_eq!(rest.len(), 10);
        assert!(rest.iter().all(|m| !got.contains(m)));
        assert_eq!(run(&mut ks, T0, &["PTTL", "big"]), int(100_000));
    }

    #[test]
    fn spop_is_the_same_on_every_replica() {
        let build = || {
            let mut ks = Keyspace::new();
            let mut args = vec!["SADD".to_string(), "s".to_string()];
            for i in 0..300 {
                args.push(format!("m{i}"));
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run(&mut ks, T0, &args);
            ks
        };
        let mut a = build();
        // A replica restored from a snapshot holds the same table layout, so it pops the same members.
        let mut b = crate::snapshot::load(&crate::snapshot::dump(&a)).unwrap();
        for count in ["1", "3", "50", "200"] {
            assert_eq!(
                run(&mut a, T0, &["SPOP", "s", count]),
                run(&mut b, T0, &["SPOP", "s", count])
            );
        }
        assert_eq!(
            run(&mut a, T0, &["SMEMBERS", "s"]),
            run(&mut b, T0, &["SMEMBERS", "s"])
        );
    }

    #[test]
    fn inter_union_diff() {
        let mut ks = Keyspace::new();
        run(&mut ks, T0, &["SADD", "a", "1", "2", "3", "4", "5"]);
        run(&mut ks, T0, &["SADD", "b", "3", "4", "5", "6"]);
        run(&mut ks, T0, &["SADD", "c", "5", "6", "x"]);
        assert_eq!(
            run(&mut ks, T0, &["SINTER", "a", "b"]),
            Frame::Set(vec![b("3"), b("4"), b("5")])
        );
        assert_eq!(
            sorted(run(&mut ks, T0, &["SINTER", "a", "b", "c"])),
            strs(&["5"])
        );
        assert_eq!(
            run(&mut ks, T0, &["SINTER", "a", "nokey"]),
            Frame::Set(vec![])
        );
        assert_eq!(
            run(&mut ks, T0, &["SINTER", "a", "a"]),
            run(&mut ks, T0, &["SMEMBERS", "a"])
        );
        assert_eq!(run(&mut ks, T0, &["SINTERCARD", "2", "a", "b"]), int(3));
        assert_eq!(
            run(&mut ks, T0, &["SINTERCARD", "2", "a", "b", "LIMIT", "2"]),
            int(2)
        );
        assert_eq!(
            run(&mut ks, T0, &["SINTERCARD", "2", "a", "b", "LIMIT", "0"]),
            int(3)
        );
        assert_eq!(run(&mut ks, T0, &["SINTERCARD", "1", "nokey"]), int(0));
        for (args, e) in [
            (
                &["SINTERCARD", "0", "a"][..],
                "ERR numkeys should be greater than 0",
            ),
            (
                &["SINTERCARD", "x", "a"],
                "ERR numkeys should be greater than 0",
            ),
            (
                &["SINTERCARD", "3", "a", "b"],
                "ERR Number of keys can't be greater than number of args",
            ),
            (
                &["SINTERCARD", "1", "a", "LIMIT", "-1"],
                "ERR LIMIT can't be negative",
            ),
            (
                &["SINTERCARD", "1", "a", "LIMIT", "x"],
                "ERR LIMIT can't be negative",
            ),
            (&["SINTERCARD", "1", "a", "LIMIT"], "ERR syntax error"),
            (&["SINTERCARD", "1", "a", "foo", "1"], "ERR syntax error"),
        ] {
            assert_eq!(run(&mut ks, T0, args), err(e), "{args:?}");
        }
        assert_eq!(
            run_dirty(&mut ks, T0, &["SINTERSTORE", "d", "a", "b"]),
            (int(3), 1)
        );
        assert_eq!(encoding(&mut ks, "d"), b("intset"));
        run(&mut ks, T0, &["PEXPIRE", "d", "1000"]);
        assert_eq!(run(&mut ks, T0, &["SINTERSTORE", "d", "a", "c"]), int(1));
        assert_eq!(run(&mut ks, T0, &["PTTL", "d"]), int(-1));
        assert_eq!(
            run_dirty(&mut ks, T0, &["SINTERSTORE", "d", "a", "nokey"]),
            (int(0), 1)
        );
        assert_eq!(
            run_dirty(&mut ks, T0, &["SINTERSTORE", "d", "a", "nokey"]),
            (int(0), 0)
        );
        assert_eq!(run(&mut ks, T0, &["EXISTS", "d"]), int(0));
        assert_eq!(
            sorted(run(&mut ks, T0, &["SUNION", "a", "c", "nokey"])),
            strs(&["1", "2", "3", "4", "5", "6", "x"])
        );
        assert_eq!(run(&mut ks, T0, &["SUNION", "nokey"]), Frame::Set(vec![]));
        assert_eq!(run(&mut ks, T0, &["SUNIONSTORE", "u", "a", "b"]), int(6));
        assert_eq!(encoding(&mut ks, "u"), b("intset"));
        assert_eq!(run(&mut ks, T0, &["SUNIONSTORE", "u", "a", "c"]), int(7));
        assert_eq!(encoding(&mut ks, "u"), b("hashtable"));
        assert_eq!(
            run(&mut ks, T0, &["SDIFF", "a", "b"]),
            Frame::Set(vec![b("1"), b("2")])
        );
        assert_eq!(
            sorted(run(&mut ks, T0, &["SDIFF", "a", "b", "c"])),
            strs(&["1", "2"])
        );
        assert_eq!(run(&mut ks, T0, &["SDIFF", "a", "a"]), Frame::Set(vec![]));
        assert_eq!(
            run(&mut ks, T0, &["SDIFF", "nokey", "a"]),
            Frame::Set(vec![])
        );
        assert_eq!(
            run(&mut ks, T0, &["SDIFF", "a", "nokey"]),
            run(&mut ks, T0, &["SMEMBERS", "a"])
        );
        // The second algorithm (a big first set against small ones) gives the same members.
        let mut args = vec!["SADD".to_string(), "big".to_string()];
        for i in 0..50 {
            args.push(i.to_string());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&mut ks, T0, &args);
        let got = sorted(run(
            &mut ks,
            T0,
            &["SDIFF", "big", "a", "b", "c", "u", "nokey"],
        ));
        assert_eq!(got.len(), 44);
        assert_eq!(
            run(&mut ks, T0, &["SDIFFSTORE", "df", "big", "a", "b", "c"]),
            int(44)
        );
        assert_eq!(run(&mut ks, T0, &["SDIFFSTORE", "df", "a", "a"]), int(0));
        assert_eq!(run(&mut ks, T0, &["EXISTS", "df"]), int(0));
    }

    #[test]
    fn sscan_intset_and_table() {
        let mut ks = Keyspace::new();
        assert_eq!(
            run(&mut ks, T0, &["SSCAN", "nokey", "0"]),
            scan_reply(0, vec![])
        );
        run(&mut ks, T0, &["SADD", "i", "3", "1", "22"]);
        assert_eq!(
            run(&mut ks, T0, &["SSCAN", "i", "0"]),
            scan_reply(0, vec![b("1"), b("3"), b("22")])
        );
        assert_eq!(
            run(&mut ks, T0, &["SSCAN", "i", "0", "MATCH", "2*"]),
            scan_reply(0, vec![b("22")])
        );
        assert_eq!(
            run(&mut ks, T0, &["SSCAN", "i", "0", "COUNT", "0"]),
            err("ERR syntax error")
        );
        assert_eq!(
            run(&mut ks, T0, &["SSCAN", "i", "-x"]),
            err("ERR invalid cursor")
        );
        assert_eq!(
            run(&mut ks, T0, &["SSCAN", "i", "0", "NOVALUES"]),
            err("ERR NOVALUES option can only be used in HSCAN")
        );
        let mut args = vec!["SADD".to_string(), "t".to_string()];
        for i in 0..500 {
            args.push(format!("m{i}"));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&mut ks, T0, &args);
        let mut seen = BTreeSet::new();
        let mut cursor = "0".to_string();
        loop {
            let Frame::Array(r) = run(&mut ks, T0, &["SSCAN", "t", &cursor]) else {
                panic!()
            };
            let [Frame::Bulk(c), Frame::Array(items)] = &r[..] else {
                panic!()
            };
            for m in items {
                let Frame::Bulk(m) = m else { panic!() };
                seen.insert(m.to_vec());
            }
            cursor = String::from_utf8(c.to_vec()).unwrap();
            if cursor == "0" {
                break;
            }
        }
        assert_eq!(seen.len(), 500);
    }

    #[test]
    fn keys_commands_on_sets() {
        let mut ks = Keyspace::new();
        run(&mut ks, T0, &["SADD", "s", "a", "b"]);
        assert_eq!(run(&mut ks, T0, &["TYPE", "s"]), Frame::simple("set"));
        assert_eq!(run(&mut ks, T0, &["COPY", "s", "c"]), int(1));
        run(&mut ks, T0, &["SADD", "s", "z"]);
        assert_eq!(
            sorted(run(&mut ks, T0, &["SMEMBERS", "c"])),
            strs(&["a", "b"])
        );
        assert_eq!(run(&mut ks, T0, &["RENAME", "c", "r"]), Frame::ok());
        assert_eq!(run(&mut ks, T0, &["SCARD", "r"]), int(2));
        run(&mut ks, T0, &["HSET", "h", "f", "v"]);
        let Frame::Array(r) = run(&mut ks, T0, &["SCAN", "0", "TYPE", "set"]) else {
            panic!()
        };
        assert_eq!(sorted(r[1].clone()), strs(&["r", "s"]));
        let Frame::Array(r) = run(&mut ks, T0, &["SCAN", "0", "TYPE", "hash"]) else {
            panic!()
        };
        assert_eq!(sorted(r[1].clone()), strs(&["h"]));
        let small = ks.memory_usage(T0, b"r").unwrap();
        let mut args = vec!["SADD".to_string(), "r".to_string()];
        for i in 0..100 {
            args.push(format!("m{i}"));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&mut ks, T0, &args);
        assert!(ks.memory_usage(T0, b"r").unwrap() > small + 100 * 32);
    }
}
