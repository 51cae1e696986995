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
use crate::table::{acl, flags, CommandSpec, Handler};
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
    if empty {
        ks.remove(key);
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
    if empty {
        ks.remove(src);
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
        if empty {
            ks.remove(key);
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
fn store(ks: &mut Keyspace, ctx: &mut ExecCtx, dst: &[u8], result: Set) -> Frame {
    let n = result.len();
    if n > 0 {
        ks.set(ctx, dst, Value::Set(result), NO_EXPIRE);
        ctx.dirty += 1;
    } else if ks.lookup(ctx, dst).is_some() {
        ks.remove(dst);
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
            InterOut::Store(dst) => store(ks, ctx, &dst, Set::new_intset()),
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
        InterOut::Store(dst) => Ok(store(ks, ctx, &dst, result)),
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
        Some(dst) => store(ks, ctx, dst, result),
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
